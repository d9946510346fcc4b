/* SPDX-License-Identifier: BSD-3-Clause */
/* vio blk bench: its options (fio's names). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blk_bench.h"

static const struct {
	const char *name;
	enum rw_mode mode;
} rw_names[] = {
	{ "read", RW_READ }, { "write", RW_WRITE }, { "randread", RW_RANDREAD },
	{ "randwrite", RW_RANDWRITE }, { "rw", RW_RW }, { "readwrite", RW_RW },
	{ "randrw", RW_RANDRW },
};

enum {
	OPT_RW = OPT_CMD, OPT_RWMIX, OPT_BS, OPT_IODEPTH, OPT_NUMJOBS, OPT_RUNTIME, OPT_SIZE,
	OPT_OFFSET, OPT_RAMP, OPT_OUTPUT, OPT_POLL, OPT_SEED, OPT_BACKEND_PID,
};

static const struct option long_options[] = {
	BLK_COMMON_LONG_OPTIONS,
	{ "rw", required_argument, NULL, OPT_RW },
	{ "readwrite", required_argument, NULL, OPT_RW },
	{ "rwmixread", required_argument, NULL, OPT_RWMIX },
	{ "bs", required_argument, NULL, OPT_BS },
	{ "blocksize", required_argument, NULL, OPT_BS },
	{ "iodepth", required_argument, NULL, OPT_IODEPTH },
	{ "numjobs", required_argument, NULL, OPT_NUMJOBS },
	{ "runtime", required_argument, NULL, OPT_RUNTIME },
	{ "size", required_argument, NULL, OPT_SIZE },
	{ "offset", required_argument, NULL, OPT_OFFSET },
	{ "ramp_time", required_argument, NULL, OPT_RAMP },
	{ "output-format", required_argument, NULL, OPT_OUTPUT },
	{ "poll", required_argument, NULL, OPT_POLL },
	{ "randseed", required_argument, NULL, OPT_SEED },
	{ "backend-pid", required_argument, NULL, OPT_BACKEND_PID },
	{ NULL, 0, NULL, 0 },
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: vio blk bench SOCKET [--rw=MODE] [--bs=BYTES] [--iodepth=N] [--numjobs=N]\n"
		"                            [--runtime=SEC] [options]\n"
		"Drives the device with a fio-style load for a time and prints IOPS,\n"
		"bandwidth, latency percentiles and the client's CPU use. Writes DESTROY the\n"
		"data in the region.\n\n"
		"  --rw=MODE               read, write, randread (default), randwrite,\n"
		"                          rw (readwrite), randrw\n"
		"  --rwmixread=PERCENT     reads among rw / randrw I/Os (default 50)\n"
		"  --bs=BYTES              bytes per I/O (default 4k; K/M/G suffixes)\n"
		"  --iodepth=N             I/Os in flight per queue (default 1)\n"
		"  --numjobs=N             queues, one thread each (default 1)\n"
		"  --runtime=SECONDS       measured time (default 10; fractions allowed)\n"
		"  --ramp_time=SECONDS     run this long before measuring (default 0)\n"
		"  --size=BYTES            the region's length (default: to the end)\n"
		"  --offset=BYTES          the region's start (default 0)\n"
		"  --randseed=N            seed of the random offsets (default 0)\n"
		"  --poll=USEC             spin up to USEC for a completion before sleeping\n"
		"                          (default 0: sleep on the call eventfd at once)\n"
		"  --output-format=FMT     normal (default) or json (fio's key names)\n"
		"  --backend-pid=PID       also report the CPU time of process PID (the\n"
		"                          back-end) over the measured interval\n"
		"%s",
		blk_common_help);
}

static int parse_seconds(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || (*end && strcmp(end, "s") != 0) || !(v >= 0) || v > 86400)
		return -1;
	*out = v;
	return 0;
}

int bench_parse(int argc, char **argv, struct bench_opts *o)
{
	uint64_t v;
	size_t i;
	int c, r;

	while ((c = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
		switch (c) {
		case OPT_RW:
			for (i = 0; i < sizeof(rw_names) / sizeof(rw_names[0]); i++)
				if (!strcmp(optarg, rw_names[i].name))
					break;
			if (i == sizeof(rw_names) / sizeof(rw_names[0]))
				goto bad;
			o->rw = rw_names[i].mode;
			o->rw_name = rw_names[i].name;
			continue;
		case OPT_RWMIX:
			if (parse_uint(optarg, 0, 100, &v))
				goto bad;
			o->rwmixread = (unsigned)v;
			continue;
		case OPT_BS:
			if (parse_size(optarg, &v) || v == 0 || v % 512 || v > (1u << 30))
				goto bad;
			o->bs = v;
			continue;
		case OPT_IODEPTH:
			if (parse_uint(optarg, 1, 32768, &v))
				goto bad;
			o->iodepth = (unsigned)v;
			continue;
		case OPT_NUMJOBS:
			if (parse_uint(optarg, 1, 256, &v))
				goto bad;
			o->numjobs = (unsigned)v;
			continue;
		case OPT_RUNTIME:
			if (parse_seconds(optarg, &o->runtime) || o->runtime <= 0)
				goto bad;
			continue;
		case OPT_RAMP:
			if (parse_seconds(optarg, &o->ramp))
				goto bad;
			continue;
		case OPT_SIZE:
			if (parse_size(optarg, &o->size) || o->size == 0)
				goto bad;
			continue;
		case OPT_OFFSET:
			if (parse_size(optarg, &o->offset))
				goto bad;
			continue;
		case OPT_SEED:
			if (parse_uint(optarg, 0, UINT64_MAX, &o->seed))
				goto bad;
			continue;
		case OPT_POLL:
			if (parse_uint(optarg, 0, 1000000, &v))
				goto bad;
			o->poll_ns = v * 1000;
			continue;
		case OPT_BACKEND_PID:
			if (parse_uint(optarg, 1, INT32_MAX, &v))
				goto bad;
			o->backend_pid = (int)v;
			continue;
		case OPT_OUTPUT:
			if (!strcmp(optarg, "json"))
				o->json = true;
			else if (!strcmp(optarg, "normal"))
				o->json = false;
			else
				goto bad;
			continue;
		case OPT_NUM_QUEUES: /* the shared spelling of --numjobs */
			if (parse_uint(optarg, 1, 256, &v))
				goto bad;
			o->numjobs = (unsigned)v;
			continue;
		}
		r = blk_common_option(c, optarg, &o->conn);
		if (r == 1) {
			usage(stdout);
			return 1;
		}
		if (r) {
			if (r == -2)
				usage(stderr);
			return EXIT_USAGE;
		}
	}
	return blk_take_socket(argc, argv, &o->conn) ? EXIT_USAGE : 0;
bad:
	errmsg("invalid value '%s' for --%s", optarg,
	       c == OPT_RW ? "rw (read, write, randread, randwrite, rw, randrw)" :
	       c == OPT_RWMIX ? "rwmixread (0..100)" :
	       c == OPT_BS ? "bs (a multiple of 512, up to 1G)" :
	       c == OPT_IODEPTH ? "iodepth (1..32768)" :
	       c == OPT_NUMJOBS || c == OPT_NUM_QUEUES ? "numjobs (1..256)" :
	       c == OPT_RUNTIME ? "runtime (seconds, > 0)" :
	       c == OPT_RAMP ? "ramp_time (seconds)" :
	       c == OPT_POLL ? "poll (microseconds, up to 1000000)" :
	       c == OPT_OUTPUT ? "output-format (normal, json)" :
	       c == OPT_SEED ? "randseed" : c == OPT_BACKEND_PID ? "backend-pid" : c == OPT_SIZE ? "size (> 0)" : "offset");
	return EXIT_USAGE;
}

