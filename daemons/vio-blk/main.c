/* SPDX-License-Identifier: BSD-3-Clause */
/* vio-blk: a vhost-user-blk back-end serving a disk image to QEMU, Cloud Hypervisor or crosvm. */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/qthread.h"
#include "../common/server.h"
#include "vio/blk.h"
#include "vio/log.h"

struct options {
	const char *socket_path;
	int fd;
	bool print_capabilities;
	struct vio_blk_options blk;
	long num_queues;
	bool exit_on_disconnect;
	mode_t socket_mode;
	gid_t socket_group;
};

enum {
	OPT_SOCKET_PATH = 256, OPT_FD, OPT_PRINT_CAPS, OPT_BLK_FILE, OPT_READ_ONLY,
	OPT_NUM_QUEUES, OPT_SERIAL, OPT_LBS, OPT_DISCARD, OPT_WRITE_ZEROES, OPT_AIO,
	OPT_LOG_LEVEL, OPT_EXIT_ON_DISCONNECT, OPT_SOCKET_MODE, OPT_SOCKET_GROUP,
	OPT_HELP, OPT_VERSION,
};

static const struct option long_options[] = {
	{ "socket-path", required_argument, NULL, OPT_SOCKET_PATH },
	{ "fd", required_argument, NULL, OPT_FD },
	{ "print-capabilities", no_argument, NULL, OPT_PRINT_CAPS },
	{ "blk-file", required_argument, NULL, OPT_BLK_FILE },
	{ "read-only", no_argument, NULL, OPT_READ_ONLY },
	{ "num-queues", required_argument, NULL, OPT_NUM_QUEUES },
	{ "serial", required_argument, NULL, OPT_SERIAL },
	{ "logical-block-size", required_argument, NULL, OPT_LBS },
	{ "discard", no_argument, NULL, OPT_DISCARD },
	{ "write-zeroes", no_argument, NULL, OPT_WRITE_ZEROES },
	{ "aio", required_argument, NULL, OPT_AIO },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "exit-on-disconnect", no_argument, NULL, OPT_EXIT_ON_DISCONNECT },
	{ "socket-mode", required_argument, NULL, OPT_SOCKET_MODE },
	{ "socket-group", required_argument, NULL, OPT_SOCKET_GROUP },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: vio-blk (--socket-path=PATH | --fd=N) --blk-file=IMAGE [options]\n"
		"A vhost-user-blk back-end: serves IMAGE to a VM through QEMU's\n"
		"-device vhost-user-blk-pci (guest memory must be shared: share=on).\n\n"
		"  --socket-path=PATH        listen on a new Unix socket at PATH\n"
		"  --fd=N                    use socket fd N (listening or connected)\n"
		"  --blk-file=IMAGE          disk image: a regular file or a block device\n"
		"  --read-only               serve the image read-only (VIRTIO_BLK_F_RO)\n"
		"  --num-queues=N            most request queues the front-end may use\n"
		"                            (default: online CPUs)\n"
		"  --serial=STRING           device ID, up to 20 bytes (VIRTIO_BLK_T_GET_ID)\n"
		"  --logical-block-size=N    512 (default), 1024, 2048 or 4096 bytes\n"
		"  --discard                 offer VIRTIO_BLK_F_DISCARD (punches holes)\n"
		"  --write-zeroes            offer VIRTIO_BLK_F_WRITE_ZEROES\n"
		"  --aio=io_uring|threads    I/O engine (default io_uring)\n"
		"  --log-level=LEVEL         error, warn, info (default), debug, trace\n"
		"                            (trace names every vhost-user message)\n"
		"  --exit-on-disconnect      exit when the front-end disconnects\n"
		"  --socket-mode=OCTAL       socket permissions (default 0600)\n"
		"  --socket-group=GROUP      socket group (name or number)\n"
		"  --print-capabilities      print the back-end capabilities (JSON) and exit\n"
		"  --help, --version\n\n"
		"SIGUSR1 prints per-queue counters to stderr; SIGTERM exits cleanly.\n");
}

/* Parses a whole decimal number in [lo, hi]; -1 on error. */
static long parse_num(const char *s, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 0);
	if (errno || end == s || *end || v < lo || v > hi)
		return -1;
	return v;
}

static int parse_group(const char *s, gid_t *out)
{
	/* cppcheck-suppress getgrnamCalled ; once, from main(), before any thread starts */
	struct group *g = getgrnam(s);
	long v;

	if (g) {
		*out = g->gr_gid;
		return 0;
	}
	v = parse_num(s, 0, INT_MAX);
	if (v < 0)
		return -1;
	*out = (gid_t)v;
	return 0;
}

/* Returns 0 to go on, 1 to exit successfully, -1 on a usage error. */
static int parse_options(int argc, char **argv, struct options *o)
{
	enum vio_log_level level;
	long v;
	int c;

	while ((c = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
		switch (c) {
		case OPT_SOCKET_PATH: o->socket_path = optarg; break;
		case OPT_FD:
			if ((o->fd = (int)parse_num(optarg, 0, INT_MAX)) < 0)
				goto bad;
			break;
		case OPT_PRINT_CAPS: o->print_capabilities = true; break;
		case OPT_BLK_FILE: o->blk.path = optarg; break;
		case OPT_READ_ONLY: o->blk.read_only = true; break;
		case OPT_NUM_QUEUES:
			if ((o->num_queues = parse_num(optarg, 1, 256)) < 0)
				goto bad;
			break;
		case OPT_SERIAL: o->blk.serial = optarg; break;
		case OPT_LBS:
			v = parse_num(optarg, 512, 4096);
			if (v < 0 || (v & (v - 1)))
				goto bad;
			o->blk.logical_block_size = (uint32_t)v;
			break;
		case OPT_DISCARD: o->blk.discard = true; break;
		case OPT_WRITE_ZEROES: o->blk.write_zeroes = true; break;
		case OPT_AIO:
			if (!strcmp(optarg, "io_uring"))
				o->blk.aio = VIO_BLK_AIO_IO_URING;
			else if (!strcmp(optarg, "threads"))
				o->blk.aio = VIO_BLK_AIO_THREADS;
			else
				goto bad;
			break;
		case OPT_LOG_LEVEL:
			if (vio_log_parse_level(optarg, &level))
				goto bad;
			vio_log_set_level(level);
			break;
		case OPT_EXIT_ON_DISCONNECT: o->exit_on_disconnect = true; break;
		case OPT_SOCKET_MODE:
			if ((v = parse_num(optarg, 0, 0777)) < 0)
				goto bad;
			o->socket_mode = (mode_t)v;
			break;
		case OPT_SOCKET_GROUP:
			if (parse_group(optarg, &o->socket_group))
				goto bad;
			break;
		case OPT_HELP: usage(stdout); return 1;
		case OPT_VERSION: printf("vio-blk %s\n", VIO_VERSION); return 1;
		default: usage(stderr); return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vio-blk: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	return 0;
bad:
	fprintf(stderr, "vio-blk: invalid value '%s' for --%s\n", optarg,
		long_options[c - OPT_SOCKET_PATH].name);
	return -1;
}

/* --print-capabilities, per QEMU's vhost-user.json VHostUserBackendCapabilities. */
static void print_capabilities(void)
{
	printf("{\n  \"type\": \"block\",\n  \"features\": [\n    \"read-only\",\n    \"blk-file\"\n  ]\n}\n");
}

/* ---- wiring the blk device to the queue threads ---- */

static void *blk_q_create(void *dev, uint32_t num)
{
	struct vio_blk_queue *bq;

	return vio_blk_queue_new(dev, num, &bq) ? NULL : bq;
}
static void blk_q_destroy(void *bq) { vio_blk_queue_free(bq); }
static int blk_q_event_fd(void *bq) { return vio_blk_queue_event_fd(bq); }
static int blk_q_process(void *bq, struct vio_devq *r) { return vio_blk_queue_process(bq, r); }
static int blk_q_complete(void *bq, struct vio_devq *r) { return vio_blk_queue_complete(bq, r); }
static uint32_t blk_q_inflight(void *bq) { return vio_blk_queue_inflight(bq); }

static const struct qthread_ops blk_qthread_ops = {
	.create = blk_q_create,
	.destroy = blk_q_destroy,
	.event_fd = blk_q_event_fd,
	.process = blk_q_process,
	.complete = blk_q_complete,
	.inflight = blk_q_inflight,
};

struct daemon {
	struct qthread *threads;
	uint16_t nthreads;
};

#define RD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

/* SIGUSR1 and exit: one line of counters per queue (zeros for a queue never started). */
static void report(void *opaque)
{
	struct daemon *d = opaque;

	for (uint16_t i = 0; i < d->nthreads; i++) {
		static const struct vio_blk_stats idle;
		struct qthread *t = &d->threads[i];
		const struct vio_blk_stats *s = t->qstate ? vio_blk_queue_stats(t->qstate) : &idle;

		vio_info("queue %u: requests=%" PRIu64 " reads=%" PRIu64 " writes=%" PRIu64
			 " flushes=%" PRIu64 " discards=%" PRIu64 " write_zeroes=%" PRIu64
			 " get_ids=%" PRIu64 " bytes_read=%" PRIu64 " bytes_written=%" PRIu64
			 " errors=%" PRIu64 " kicks=%" PRIu64 " notifies=%" PRIu64,
			 i, RD(s->requests), RD(s->reads), RD(s->writes), RD(s->flushes),
			 RD(s->discards), RD(s->write_zeroes), RD(s->get_ids), RD(s->bytes_read),
			 RD(s->bytes_written), RD(s->errors), atomic_load(&t->kicks),
			 atomic_load(&t->notifies));
	}
}

static int open_image(struct vio_blk **blk, const struct vio_blk_options *o)
{
	int r = vio_blk_open(blk, o);

	if (!r)
		return 0;
	if (r == -ENOENT)
		fprintf(stderr, "vio-blk: image %s does not exist\n", o->path);
	else if ((r == -EACCES || r == -EROFS || r == -EPERM) && !o->read_only)
		fprintf(stderr, "vio-blk: image %s is not writable (%s); use --read-only to serve it read-only\n",
			o->path, strerror(-r));
	else if (r == -ENOTSUP && o->aio == VIO_BLK_AIO_IO_URING)
		fprintf(stderr, "vio-blk: io_uring is not available here; use --aio=threads\n");
	else
		fprintf(stderr, "vio-blk: cannot open image %s: %s\n", o->path, strerror(-r));
	return r;
}

static int setup_server(struct server *s, const struct options *o)
{
	if (o->fd >= 0)
		return server_use_fd(s, o->fd);
	return server_listen_path(s, o->socket_path, o->socket_mode, o->socket_group);
}

int main(int argc, char **argv)
{
	struct options o = { .fd = -1, .socket_mode = 0600, .socket_group = (gid_t)-1 };
	struct server srv = { .listen_fd = -1, .conn_fd = -1, .guard_fd = -1 };
	struct daemon d = { 0 };
	struct vio_blk *blk = NULL;
	struct vio_vu_be *be = NULL;
	int r = parse_options(argc, argv, &o), status = 1;

	if (r)
		return r > 0 ? 0 : 2;
	if (o.print_capabilities) {
		print_capabilities();
		return 0;
	}
	if (!o.socket_path == (o.fd < 0) || !o.blk.path) {
		fprintf(stderr, "vio-blk: give one of --socket-path or --fd, and --blk-file (see --help)\n");
		return 2;
	}
	if (!o.num_queues) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);

		o.num_queues = cpus < 1 ? 1 : cpus > 256 ? 256 : cpus;
	}
	o.blk.num_queues = (uint16_t)o.num_queues;
	server_block_signals();
	if (open_image(&blk, &o.blk))
		return 1;
	d.nthreads = (uint16_t)o.num_queues;
	d.threads = calloc(d.nthreads, sizeof(*d.threads));
	if (!d.threads)
		goto out;
	for (uint16_t i = 0; i < d.nthreads; i++)
		if (qthread_init(&d.threads[i], &blk_qthread_ops, blk))
			goto out;
	r = vio_vu_be_new(&be, &(struct vio_vu_be_config){
		.device = vio_blk_device(blk), .num_queues = d.nthreads,
		.hooks = { qthread_queue_start, qthread_queue_stop } });
	if (r) {
		fprintf(stderr, "vio-blk: cannot create the back-end: %s\n", strerror(-r));
		goto out;
	}
	for (uint16_t i = 0; i < d.nthreads; i++)
		vio_vu_be_queue(be, i)->opaque = &d.threads[i];
	srv.be = be;
	/* A front-end shrinking guest memory under us must not kill us. */
	srv.guard_fd = vio_vu_sigbus_guard();
	srv.exit_on_disconnect = o.exit_on_disconnect;
	srv.report = report;
	srv.opaque = &d;
	if (setup_server(&srv, &o))
		goto out;
	vio_info("serving %s (%" PRIu64 " sectors%s) with %u queues on %s", o.blk.path,
		 vio_blk_capacity(blk), o.blk.read_only ? ", read-only" : "", d.nthreads,
		 o.socket_path ? o.socket_path : "the given fd");
	status = server_run(&srv) ? 1 : 0;
out:
	server_close(&srv);
	if (be)
		vio_vu_be_free(be);
	for (uint16_t i = 0; d.threads && i < d.nthreads; i++)
		qthread_destroy(&d.threads[i]);
	free(d.threads);
	if (blk)
		vio_blk_close(blk);
	return status;
}
