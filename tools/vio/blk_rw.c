/* SPDX-License-Identifier: BSD-3-Clause */
/* vio blk read / write: a byte range of the device to or from a file, stdout or stdin. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vio.h"

/* Bytes per request and requests in flight. */
#define CHUNK_MAX (1u << 20)
#define PIPE_DEPTH 8u

enum { OPT_OFFSET = OPT_CMD, OPT_LENGTH, OPT_FILE, OPT_NO_FLUSH };

static const struct option long_options[] = {
	BLK_COMMON_LONG_OPTIONS,
	{ "offset", required_argument, NULL, OPT_OFFSET },
	{ "length", required_argument, NULL, OPT_LENGTH },
	{ "file", required_argument, NULL, OPT_FILE },
	{ "no-flush", no_argument, NULL, OPT_NO_FLUSH },
	{ NULL, 0, NULL, 0 },
};

struct rw_opts {
	struct blk_conn_opts conn;
	uint64_t offset, length;
	bool has_length, no_flush;
	const char *file;
};

static void usage(FILE *f, bool write)
{
	if (write)
		fprintf(f, "Usage: vio blk write SOCKET [--offset=BYTES] [--length=BYTES] "
			   "[--file=PATH] [options]\n"
			   "Writes PATH (default: stdin) to the device at BYTES, then flushes.\n"
			   "Without --length, writes until the input ends.\n\n");
	else
		fprintf(f, "Usage: vio blk read SOCKET [--offset=BYTES] [--length=BYTES] "
			   "[--file=PATH] [options]\n"
			   "Reads the device from BYTES (default 0) for --length bytes (default:\n"
			   "to the end) into PATH (default: stdout).\n\n");
	fprintf(f, "  --offset=BYTES          start (a multiple of the block size; K/M/G suffixes)\n"
		   "  --length=BYTES          how many bytes (a multiple of the block size)\n"
		   "  --file=PATH             %s\n%s%s",
		write ? "input instead of stdin" : "output instead of stdout (created, truncated)",
		write ? "  --no-flush              do not flush at the end\n" : "",
		blk_common_help);
}

/* Returns 0 to go on, 1 for --help (printed), EXIT_USAGE on an error. */
static int parse(int argc, char **argv, struct rw_opts *o, bool write)
{
	int c, r;

	while ((c = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
		switch (c) {
		case OPT_OFFSET:
			if (parse_size(optarg, &o->offset))
				goto bad;
			continue;
		case OPT_LENGTH:
			if (parse_size(optarg, &o->length))
				goto bad;
			o->has_length = true;
			continue;
		case OPT_FILE:
			o->file = optarg;
			continue;
		case OPT_NO_FLUSH:
			if (!write)
				break;
			o->no_flush = true;
			continue;
		}
		r = blk_common_option(c, optarg, &o->conn);
		if (r == 1) {
			usage(stdout, write);
			return 1;
		}
		if (r) {
			if (r == -2)
				usage(stderr, write);
			return EXIT_USAGE;
		}
	}
	return blk_take_socket(argc, argv, &o->conn) ? EXIT_USAGE : 0;
bad:
	errmsg("invalid size '%s'", optarg);
	return EXIT_USAGE;
}

/* Offset and length against the device: aligned, inside. */
static int check_range(const struct blk_dev *d, const struct rw_opts *o, uint64_t len)
{
	uint64_t cap = d->info->capacity * VIRTIO_BLK_SECTOR_SIZE, bs = d->info->blk_size;

	if (o->offset % bs || len % bs) {
		errmsg("offset %" PRIu64 " and length %" PRIu64 " must be multiples of the "
		       "block size (%" PRIu64 ")", o->offset, len, bs);
		return -1;
	}
	if (o->offset > cap || len > cap - o->offset) {
		errmsg("range [%" PRIu64 ", +%" PRIu64 ") is past the end of the device "
		       "(%" PRIu64 " bytes)", o->offset, len, cap);
		return -1;
	}
	return 0;
}

static size_t chunk_size(const struct blk_dev *d)
{
	uint64_t c = d->info->max_transfer < CHUNK_MAX ? d->info->max_transfer : CHUNK_MAX;

	return (size_t)(c - c % d->info->blk_size);
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads up to @n bytes; fewer only at the end of the input. Returns the count or -errno. */
static ssize_t read_full(int fd, uint8_t *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, p + got, n - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

static int out_done(void *ctx, const struct pipe_slot *s)
{
	int r = write_all(*(int *)ctx, s->buf, s->len);

	if (r)
		errmsg("writing the output: %s", strerror(-r));
	return r ? -1 : 0;
}

static int do_read(struct blk_dev *d, const struct rw_opts *o, int fd)
{
	uint64_t cap = d->info->capacity * VIRTIO_BLK_SECTOR_SIZE;
	uint64_t len = o->has_length ? o->length : o->offset <= cap ? cap - o->offset : 0;
	size_t chunk = chunk_size(d);
	struct pipe p;
	int r = check_range(d, o, len);

	if (r || pipe_init(&p, d, vio_blk_drv_queue(d->drv, 0), PIPE_DEPTH, chunk, out_done, &fd))
		return -1;
	for (uint64_t done = 0; done < len;) {
		size_t n = len - done < chunk ? (size_t)(len - done) : chunk;

		if (!pipe_next(&p) || pipe_submit(&p, false, o->offset + done, n))
			break;
		done += n;
	}
	r = pipe_drain(&p);
	pipe_fini(&p);
	return r;
}

static int flush(struct blk_dev *d)
{
	struct vio_blk_drv_queue *q = vio_blk_drv_queue(d->drv, 0);
	struct vio_blk_req req = { 0 };
	int r = vio_blk_drv_flush(q, &req);

	if (!r)
		r = blk_wait(d, q, &req, "flush");
	if (r && r != -ETIMEDOUT)
		errmsg("flush failed: %s", strerror(-r));
	return r ? -1 : 0;
}

/* The input's size when it is a regular file (to check before writing anything). */
static int input_length(int fd, const struct rw_opts *o, uint64_t *len)
{
	struct stat st;

	if (o->has_length) {
		*len = o->length;
		return 0;
	}
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		*len = (uint64_t)st.st_size;
		return 0;
	}
	*len = UINT64_MAX; /* a pipe: until it ends */
	return 1;
}

static int do_write(struct blk_dev *d, const struct rw_opts *o, int fd)
{
	uint64_t len, bs = d->info->blk_size, done = 0;
	uint64_t cap = d->info->capacity * VIRTIO_BLK_SECTOR_SIZE;
	size_t chunk = chunk_size(d);
	bool stream = input_length(fd, o, &len);
	struct pipe p;
	int r = stream ? check_range(d, o, 0) : check_range(d, o, len);

	if (!r && vio_has_feature(d->info->features, VIRTIO_BLK_F_RO)) {
		errmsg("the device is read-only (VIRTIO_BLK_F_RO)");
		return -1;
	}
	if (r || pipe_init(&p, d, vio_blk_drv_queue(d->drv, 0), PIPE_DEPTH, chunk, NULL, NULL))
		return -1;
	while (done < len) {
		uint8_t *buf = pipe_next(&p);
		size_t want = len - done < chunk ? (size_t)(len - done) : chunk;
		ssize_t n;

		if (!buf)
			break;
		n = read_full(fd, buf, want);
		if (n < 0) {
			errmsg("reading the input: %s", strerror((int)-n));
			p.error = -1;
			break;
		}
		if (n == 0 && stream)
			break;
		if ((size_t)n < want && !stream) {
			errmsg("the input ended after %" PRIu64 " of %" PRIu64 " bytes",
			       done + (uint64_t)n, len);
			p.error = -1;
			break;
		}
		if (n % bs) {
			errmsg("the input's length (%" PRIu64 " bytes) is not a multiple of the "
			       "block size (%" PRIu64 ")", done + (uint64_t)n, bs);
			p.error = -1;
			break;
		}
		if (stream && (uint64_t)n > cap - o->offset - done) {
			errmsg("the input is longer than the %" PRIu64 " bytes from offset %" PRIu64
			       " to the end of the device", cap - o->offset, o->offset);
			p.error = -1;
			break;
		}
		if (pipe_submit(&p, true, o->offset + done, (size_t)n))
			break;
		done += (uint64_t)n;
	}
	r = pipe_drain(&p);
	pipe_fini(&p);
	if (!r && !o->no_flush)
		r = flush(d);
	return r;
}

static int run(int argc, char **argv, bool write)
{
	struct rw_opts o = { .conn = { .timeout_ms = 30000 } };
	struct blk_dev d;
	int fd, r = parse(argc, argv, &o, write);

	if (r)
		return r == 1 ? 0 : r;
	if (o.file) {
		fd = write ? open(o.file, O_RDONLY | O_CLOEXEC)
			   : open(o.file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0) {
			errmsg("%s: %s", o.file, strerror(errno));
			return 1;
		}
	} else {
		fd = write ? STDIN_FILENO : STDOUT_FILENO;
	}
	if (blk_open(&d, &o.conn, 1, PIPE_DEPTH * (size_t)CHUNK_MAX)) {
		r = 1;
	} else {
		r = (write ? do_write(&d, &o, fd) : do_read(&d, &o, fd)) ? 1 : 0;
		blk_close(&d);
	}
	if (o.file && close(fd) && !r) {
		errmsg("%s: %s", o.file, strerror(errno));
		r = 1;
	}
	return r;
}

int cmd_blk_read(int argc, char **argv)
{
	return run(argc, argv, false);
}

int cmd_blk_write(int argc, char **argv)
{
	return run(argc, argv, true);
}
