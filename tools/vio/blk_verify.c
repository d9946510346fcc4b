/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vio blk verify: writes a self-describing pattern from every queue, flushes,
 * reads it back from other queues and checks every block; then write-zeroes
 * (read back as zeroes) and discard when the device offers them.
 *
 * Each logical block of the pattern (all little-endian):
 *   0  "vioVRFY" NUL  magic (8 bytes)
 *   8  u64            the block's byte offset on the device
 *   16 u64            the seed of the run
 *   24 u32            CRC-32 (ISO-HDLC, as zlib.crc32) of the block with
 *                     these four bytes zero
 *   28 u32            0
 *   32 ...            xorshift64* bytes seeded by (seed, offset)
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vio.h"

#define CHUNK_MAX (256u << 10)
#define PIPE_DEPTH 16u
/* Mismatch lines printed before only counting. */
#define REPORT_MAX 1000u
/* Bytes of each write-zeroes / discard range per slice, at most. */
#define DZ_RANGE_MAX (1u << 20)

static const char magic[8] = "vioVRFY";

enum { OPT_OFFSET = OPT_CMD, OPT_LENGTH, OPT_SEED };

static const struct option long_options[] = {
	BLK_COMMON_LONG_OPTIONS,
	{ "offset", required_argument, NULL, OPT_OFFSET },
	{ "length", required_argument, NULL, OPT_LENGTH },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ NULL, 0, NULL, 0 },
};

struct slice {
	uint64_t off, len;
	uint64_t dz;          /* bytes of each write-zeroes / discard range (0: none) */
};

struct verify {
	struct blk_conn_opts conn;
	uint64_t offset, length, seed;
	bool has_length, has_seed;
	struct blk_dev d;
	unsigned nq;
	uint32_t bs;
	size_t chunk;
	struct slice *slices;
	atomic_uint_fast64_t mismatches;
	atomic_uint_fast64_t errors;
	pthread_mutex_t out;
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: vio blk verify SOCKET [--offset=BYTES] [--length=BYTES] [--seed=N] "
		   "[options]\n"
		   "Writes a checksummed pattern over the region from every queue (each its\n"
		   "slice), flushes, reads it back from other queues and reports every mismatch\n"
		   "by offset; then write-zeroes and discard, when offered. DESTROYS the data in\n"
		   "the region. Exit status 1 on any mismatch or error.\n\n"
		   "  --offset=BYTES          start of the region (default 0)\n"
		   "  --length=BYTES          its length (default: to the end of the device)\n"
		   "  --seed=N                pattern seed (default: from the time)\n"
		   "  --num-queues=N          queues to use (default: all the device has)\n%s",
		blk_common_help);
}

/* ---- the pattern ---------------------------------------------------------------- */

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
}

static uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t n)
{
	crc = ~crc;
	while (n--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* The CRC of a block with its CRC field (bytes 24..27) taken as zero. */
static uint32_t block_crc(const uint8_t *b, uint32_t bs)
{
	static const uint8_t zero[4];
	uint32_t c = crc32_update(0, b, 24);

	c = crc32_update(c, zero, 4);
	return crc32_update(c, b + 28, bs - 28);
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = n; i-- > 0;)
		v = v << 8 | p[i];
	return v;
}

static void make_block(uint8_t *b, uint32_t bs, uint64_t off, uint64_t seed)
{
	uint64_t x = seed ^ (off * 0x9e3779b97f4a7c15ull) ^ 0x5555555555555555ull;

	memcpy(b, magic, 8);
	put_le(b + 8, off, 8);
	put_le(b + 16, seed, 8);
	put_le(b + 24, 0, 8);
	for (uint32_t i = 32; i < bs; i += 8) {
		uint64_t r;

		x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
		r = x * 0x2545f4914f6cdd1dull;
		put_le(b + i, r, 8);
	}
	put_le(b + 24, block_crc(b, bs), 4);
}

/* ---- reporting ------------------------------------------------------------------ */

static void report(struct verify *v, uint64_t off, const char *what)
{
	uint64_t n = atomic_fetch_add(&v->mismatches, 1);

	if (n >= REPORT_MAX)
		return;
	pthread_mutex_lock(&v->out);
	printf("mismatch at offset %" PRIu64 ": %s\n", off, what);
	if (n + 1 == REPORT_MAX)
		printf("(further mismatches are counted, not listed)\n");
	pthread_mutex_unlock(&v->out);
}

static void say(struct verify *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct verify *v, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&v->out);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
	pthread_mutex_unlock(&v->out);
}

/* Says what is wrong with block @b read at @off (which differs from the pattern). */
static void explain(struct verify *v, const uint8_t *b, uint64_t off)
{
	char what[160];
	uint64_t at = get_le(b + 8, 8), seed = get_le(b + 16, 8);

	if (memcmp(b, magic, 8) != 0) {
		bool zero = true;

		for (uint32_t i = 0; i < v->bs && zero; i++)
			zero = !b[i];
		snprintf(what, sizeof(what), zero ? "all zeroes (never written?)"
						  : "not a pattern block");
	} else if (at != off) {
		snprintf(what, sizeof(what), "holds the block of offset %" PRIu64, at);
	} else if (seed != v->seed) {
		snprintf(what, sizeof(what), "stale block of an earlier run (seed %" PRIu64 ")",
			 seed);
	} else if (get_le(b + 24, 4) != block_crc(b, v->bs)) {
		snprintf(what, sizeof(what), "checksum mismatch (corrupted)");
	} else {
		snprintf(what, sizeof(what), "data differs from the pattern");
	}
	report(v, off, what);
}

/* ---- phases (one thread per queue) ------------------------------------------------ */

struct worker {
	struct verify *v;
	unsigned q;
	int (*phase)(struct worker *w);
	uint8_t *expect; /* one block */
	pthread_t th;
	bool running;
	int result;
};

static int check_read(void *ctx, const struct pipe_slot *s)
{
	struct worker *w = ctx;
	struct verify *v = w->v;

	for (size_t i = 0; i < s->len; i += v->bs) {
		make_block(w->expect, v->bs, s->off + i, v->seed);
		if (memcmp(s->buf + i, w->expect, v->bs) != 0)
			explain(v, s->buf + i, s->off + i);
	}
	return 0;
}

static int check_zero(void *ctx, const struct pipe_slot *s)
{
	struct worker *w = ctx;

	for (size_t i = 0; i < s->len; i += w->v->bs) {
		for (uint32_t k = 0; k < w->v->bs; k++) {
			if (s->buf[i + k]) {
				report(w->v, s->off + i, "not zero after write-zeroes");
				break;
			}
		}
	}
	return 0;
}

/* Streams [off, off + len) through queue w->q: writes the pattern, or reads and checks. */
static int stream(struct worker *w, uint64_t off, uint64_t len, bool write, pipe_done_fn done)
{
	struct verify *v = w->v;
	struct pipe p;
	int r;

	if (!len)
		return 0;
	if (pipe_init(&p, &v->d, vio_blk_drv_queue(v->d.drv, (uint16_t)w->q), PIPE_DEPTH, v->chunk,
		      done, w))
		return -1;
	for (uint64_t at = 0; at < len;) {
		size_t n = len - at < v->chunk ? (size_t)(len - at) : v->chunk;
		uint8_t *buf = pipe_next(&p);

		if (!buf)
			break;
		if (write)
			for (size_t i = 0; i < n; i += v->bs)
				make_block(buf + i, v->bs, off + at + i, v->seed);
		if (pipe_submit(&p, write, off + at, n))
			break;
		at += n;
	}
	r = pipe_drain(&p);
	pipe_fini(&p);
	return r;
}

static unsigned other_queue(const struct verify *v, unsigned q)
{
	return (q + 1) % v->nq;
}

static int phase_write(struct worker *w)
{
	const struct slice *s = &w->v->slices[w->q];

	return stream(w, s->off, s->len, true, NULL);
}

/* Reads back the slice another queue wrote. */
static int phase_read(struct worker *w)
{
	const struct slice *s = &w->v->slices[other_queue(w->v, w->q)];

	return stream(w, s->off, s->len, false, check_read);
}

/* One write-zeroes / discard request, synchronously. */
static int dz_one(struct worker *w, bool discard, uint64_t off, uint64_t len, uint32_t flags)
{
	struct verify *v = w->v;
	struct vio_blk_drv_queue *q = vio_blk_drv_queue(v->d.drv, (uint16_t)w->q);
	struct vio_blk_req req = { 0 };
	int r = discard ? vio_blk_drv_discard(q, &req, off, len)
			: vio_blk_drv_write_zeroes(q, &req, off, len, flags);

	if (!r)
		r = blk_wait(&v->d, q, &req, discard ? "discard" : "write-zeroes");
	if (discard)
		say(v, "discard offset=%" PRIu64 " length=%" PRIu64 " queue=%u: %s\n", off, len,
		    w->q, r ? strerror(-r) : "ok");
	else
		say(v, "write-zeroes offset=%" PRIu64 " length=%" PRIu64 " unmap=%u queue=%u: %s\n",
		    off, len, flags ? 1 : 0, w->q, r ? strerror(-r) : "ok");
	return r ? -1 : 0;
}

/* Ranges of a slice: [off, +dz) write-zeroes, [+dz, +dz) write-zeroes unmap, [+2dz, +dz) discard. */
static int phase_zero(struct worker *w)
{
	const struct slice *s = &w->v->slices[w->q];

	if (!s->dz)
		return 0;
	if (dz_one(w, false, s->off, s->dz, 0))
		return -1;
	return dz_one(w, false, s->off + s->dz, s->dz, VIO_BLK_DRV_UNMAP);
}

static int phase_read_zero(struct worker *w)
{
	const struct slice *s = &w->v->slices[other_queue(w->v, w->q)];

	return stream(w, s->off, 2 * s->dz, false, check_zero);
}

static int phase_discard(struct worker *w)
{
	const struct slice *s = &w->v->slices[w->q];

	return s->dz ? dz_one(w, true, s->off + 2 * s->dz, s->dz, 0) : 0;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	w->result = w->phase(w);
	if (w->result)
		atomic_fetch_add(&w->v->errors, 1);
	return NULL;
}

/* Runs @phase on every queue in parallel. Returns 0, or -1 if any failed. */
static int run_phase(struct verify *v, struct worker *ws, int (*phase)(struct worker *))
{
	int r = 0;

	for (unsigned i = 0; i < v->nq; i++) {
		ws[i].phase = phase;
		ws[i].result = 0;
		ws[i].running = !pthread_create(&ws[i].th, NULL, worker_main, &ws[i]);
		if (!ws[i].running) {
			errmsg("cannot create a thread");
			ws[i].result = -1;
			atomic_fetch_add(&v->errors, 1);
		}
	}
	for (unsigned i = 0; i < v->nq; i++) {
		if (ws[i].running)
			pthread_join(ws[i].th, NULL);
		ws[i].running = false;
		r |= ws[i].result;
	}
	return r ? -1 : 0;
}

static int flush(struct verify *v)
{
	struct vio_blk_drv_queue *q = vio_blk_drv_queue(v->d.drv, 0);
	struct vio_blk_req req = { 0 };
	int r = vio_blk_drv_flush(q, &req);

	if (!r)
		r = blk_wait(&v->d, q, &req, "flush");
	say(v, "flush: %s\n", r ? strerror(-r) : "ok");
	if (r)
		atomic_fetch_add(&v->errors, 1);
	return r ? -1 : 0;
}

/* ---- set-up ------------------------------------------------------------------------ */

static int parse(int argc, char **argv, struct verify *v)
{
	int c, r;

	while ((c = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
		switch (c) {
		case OPT_OFFSET:
			if (parse_size(optarg, &v->offset))
				goto bad;
			continue;
		case OPT_LENGTH:
			if (parse_size(optarg, &v->length))
				goto bad;
			v->has_length = true;
			continue;
		case OPT_SEED:
			if (parse_uint(optarg, 0, UINT64_MAX, &v->seed))
				goto bad;
			v->has_seed = true;
			continue;
		}
		r = blk_common_option(c, optarg, &v->conn);
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
	return blk_take_socket(argc, argv, &v->conn) ? EXIT_USAGE : 0;
bad:
	errmsg("invalid value '%s'", optarg);
	return EXIT_USAGE;
}

/* The region against the device; slices per queue. */
static int plan(struct verify *v)
{
	const struct vio_blk_drv_info *in = v->d.info;
	uint64_t cap = in->capacity * VIRTIO_BLK_SECTOR_SIZE, per;

	v->bs = in->blk_size;
	v->nq = in->num_queues;
	if (vio_has_feature(in->features, VIRTIO_BLK_F_RO)) {
		errmsg("the device is read-only (VIRTIO_BLK_F_RO): verify needs to write");
		return -1;
	}
	if (!v->has_length)
		v->length = v->offset <= cap ? cap - v->offset : 0;
	if (v->offset % v->bs || v->length % v->bs || !v->length) {
		errmsg("offset and length must be multiples of the block size (%u), length > 0",
		       v->bs);
		return -1;
	}
	if (v->offset > cap || v->length > cap - v->offset) {
		errmsg("region past the end of the device (%" PRIu64 " bytes)", cap);
		return -1;
	}
	v->chunk = in->max_transfer < CHUNK_MAX ? (size_t)in->max_transfer : CHUNK_MAX;
	v->chunk -= v->chunk % v->bs;
	v->slices = calloc(v->nq, sizeof(v->slices[0]));
	if (!v->slices)
		return -1;
	per = v->length / v->nq / v->bs * v->bs;
	for (unsigned i = 0; i < v->nq; i++) {
		struct slice *s = &v->slices[i];
		uint64_t dz;

		s->off = v->offset + i * per;
		s->len = i + 1 < v->nq ? per : v->length - i * per;
		dz = s->len / 4;
		dz = (dz > DZ_RANGE_MAX ? DZ_RANGE_MAX : dz) / v->bs * v->bs;
		s->dz = dz;
	}
	return 0;
}

static int run_all(struct verify *v, struct worker *ws)
{
	const struct vio_blk_drv_info *in = v->d.info;
	uint64_t f = in->features;
	int r;

	say(v, "verify: region offset=%" PRIu64 " length=%" PRIu64 " queues=%u block=%u seed=%"
	    PRIu64 " ring=%s\n", v->offset, v->length, v->nq, v->bs, v->seed, blk_ring_name(f));
	r = run_phase(v, ws, phase_write);
	say(v, "write: %s\n", r ? "FAILED" : "ok");
	if (r || flush(v))
		return -1;
	r = run_phase(v, ws, phase_read);
	say(v, "read back from other queues: %s, %" PRIu64 " mismatches\n", r ? "FAILED" : "ok",
	    (uint64_t)atomic_load(&v->mismatches));
	if (r)
		return -1;
	if (vio_has_feature(f, VIRTIO_BLK_F_WRITE_ZEROES)) {
		uint64_t before = atomic_load(&v->mismatches);

		if (run_phase(v, ws, phase_zero) || run_phase(v, ws, phase_read_zero))
			return -1;
		say(v, "read back zeroes: %s\n", atomic_load(&v->mismatches) == before ? "ok"
										: "MISMATCH");
	} else {
		say(v, "write-zeroes: not negotiated\n");
	}
	if (vio_has_feature(f, VIRTIO_BLK_F_DISCARD)) {
		if (run_phase(v, ws, phase_discard))
			return -1;
	} else {
		say(v, "discard: not negotiated\n");
	}
	return flush(v);
}

int cmd_blk_verify(int argc, char **argv)
{
	struct verify v = { .conn = { .timeout_ms = 30000 } };
	struct worker *ws = NULL;
	int r = parse(argc, argv, &v);

	if (r)
		return r == 1 ? 0 : r;
	pthread_once(&crc_once, crc_init);
	pthread_mutex_init(&v.out, NULL);
	if (!v.has_seed)
		v.seed = (uint64_t)time(NULL) * 1000003u ^ (uint64_t)getpid();
	if (blk_open(&v.d, &v.conn, 0, PIPE_DEPTH * (size_t)CHUNK_MAX))
		return 1;
	r = plan(&v);
	if (!r) {
		ws = calloc(v.nq, sizeof(ws[0]));
		r = ws ? 0 : -1;
		for (unsigned i = 0; ws && i < v.nq; i++) {
			ws[i] = (struct worker){ .v = &v, .q = i, .expect = malloc(v.bs) };
			r |= ws[i].expect ? 0 : -1;
		}
	}
	if (!r)
		r = run_all(&v, ws);
	else
		atomic_fetch_add(&v.errors, 1);
	blk_close(&v.d);
	for (unsigned i = 0; ws && i < v.nq; i++)
		free(ws[i].expect);
	free(ws);
	free(v.slices);
	printf("verify: %s (%" PRIu64 " mismatches, %" PRIu64 " errors)\n",
	       atomic_load(&v.mismatches) || atomic_load(&v.errors) || r ? "FAIL" : "PASS",
	       (uint64_t)atomic_load(&v.mismatches), (uint64_t)atomic_load(&v.errors));
	return atomic_load(&v.mismatches) || atomic_load(&v.errors) || r ? 1 : 0;
}
