/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Hostile guest, request level: well-formed rings carrying malformed
 * virtio-blk requests. Rule (DESIGN.md §4 "Explicit error policy",
 * include/vio/blk.h, VIRTIO 1.4 §5.2.6): a malformed single request is
 * completed with VIRTIO_BLK_S_IOERR or VIRTIO_BLK_S_UNSUPP (used length 1),
 * or with used length 0 when it has no status byte; no data is read from or
 * written to the image for it, nothing but its status byte is written to
 * guest memory, and the queue goes on (the case ends with a good request on
 * the same queue).
 */
#include <stdlib.h>
#include <string.h>

#include "hostile.h"

#define IOERR VIRTIO_BLK_S_IOERR
#define UNSUPP VIRTIO_BLK_S_UNSUPP

/*
 * Header, data (@dlen bytes, readable or writable, its contents random and
 * NOT declared writable: a failing request must not write it), status.
 */
static struct rres bad_req(struct hq *q, uint32_t type, uint64_t sector, uint32_t dlen, bool data_w)
{
	struct buf b[3];
	unsigned n = 0;
	uint64_t st;

	b[n++] = (struct buf){ mk_hdr(type, sector), 16, false };
	if (dlen) {
		uint64_t d = galloc(dlen, 512);

		b[n++] = (struct buf){ d, dlen, data_w };
	}
	st = mk_status();
	b[n++] = (struct buf){ st, 1, true };
	return submit(q, b, n, DIRECT, st);
}

static struct conn *conn1(void)
{
	return std_conn(false, QSIZE);
}

/* The queue goes on: a good request on the same queue, and the other queue. */
static void goes_on(struct conn *c)
{
	expect_not_broken(&c->q[0], 0);
	health(c, 0);
	health(c, 1);
}

/* ---- headers (VIRTIO 1.4 §5.2.6: 16-byte header first, status last) ---- */

static void header_of_8_bytes(void)
{
	struct conn *c = conn1();
	uint64_t h = mk_hdr(VIRTIO_BLK_T_IN, 0), st = mk_status();
	struct buf b[2] = { { h, 8, false }, { st, 1, true } };

	expect_status(submit(&c->q[0], b, 2, DIRECT, st), IOERR, 1);
	goes_on(c);
}

static void header_of_15_bytes_then_writable_data(void)
{
	struct conn *c = conn1();
	uint64_t h = mk_hdr(VIRTIO_BLK_T_IN, 0), d = galloc(512, 512), st = mk_status();
	struct buf b[3] = { { h, 15, false }, { d, 512, true }, { st, 1, true } };

	expect_status(submit(&c->q[0], b, 3, DIRECT, st), IOERR, 1);
	goes_on(c);
}

static void no_header_only_a_status(void)
{
	struct conn *c = conn1();
	uint64_t st = mk_status();
	struct buf b[1] = { { st, 1, true } };

	expect_status(submit(&c->q[0], b, 1, DIRECT, st), IOERR, 1);
	goes_on(c);
}

static void header_in_a_device_writable_buffer(void)
{
	struct conn *c = conn1();
	uint64_t h = mk_hdr(VIRTIO_BLK_T_OUT, 0), st = mk_status();
	struct buf b[2] = { { h, 16, true }, { st, 1, true } };
	struct rres r;

	gallow(h, 16); /* device-writable: the device may write into it */
	r = submit(&c->q[0], b, 2, DIRECT, st);
	expect_status(r, IOERR, 1);
	goes_on(c);
}

/* Boundary (VIRTIO 1.4 §2.7.4: no framing assumption): a header in 16 one-byte pieces. */
static void header_in_sixteen_pieces_is_served(void)
{
	struct conn *c = conn1();
	uint64_t h = mk_hdr(VIRTIO_BLK_T_IN, 4), d = galloc(1024, 512), st = mk_status();
	struct buf b[18];
	uint8_t got[1024];

	for (int i = 0; i < 16; i++)
		b[i] = (struct buf){ h + (uint64_t)i, 1, false };
	b[16] = (struct buf){ d, 1024, true };
	b[17] = (struct buf){ st, 1, true };
	gallow(d, 1024);
	expect_status(submit(&c->q[0], b, 18, 0, st), VIRTIO_BLK_S_OK, 1025);
	gread(d, got, sizeof(got));
	CHECK(!memcmp(got, model() + 4 * 512, sizeof(got)), "the data read differs from the image");
	goes_on(c);
}

/* blk.h: no device-writable byte, no status: used length 0, and nothing done. */
static void write_without_status_byte(void)
{
	struct conn *c = conn1();
	uint64_t h = mk_hdr(VIRTIO_BLK_T_OUT, 32), d = galloc(512, 512);
	struct buf b[2] = { { h, 16, false }, { d, 512, false } };
	struct rres r = submit(&c->q[0], b, 2, DIRECT, 0);

	CHECK(r.len == 0, "used length %u, expected 0", r.len);
	goes_on(c); /* the image check after the case shows the write did not happen */
}

static void read_without_status_byte(void)
{
	struct conn *c = conn1();
	uint64_t h = mk_hdr(VIRTIO_BLK_T_IN, 32);
	struct buf b[1] = { { h, 16, false } };
	struct rres r = submit(&c->q[0], b, 1, DIRECT, 0);

	CHECK(r.len == 0, "used length %u, expected 0", r.len);
	goes_on(c);
}

static void status_in_a_zero_length_buffer(void)
{
	struct conn *c = conn1();
	uint64_t h = mk_hdr(VIRTIO_BLK_T_OUT, 32), d = galloc(512, 512), st = galloc(1, 1);
	struct buf b[3] = { { h, 16, false }, { d, 512, false }, { st, 0, true } };
	struct rres r = submit(&c->q[0], b, 3, DIRECT, 0);

	CHECK(r.len == 0, "used length %u, expected 0", r.len);
	goes_on(c);
}

/* ---- sector ranges (VIRTIO 1.4 §5.2.6.1/§5.2.6.2; blk.h "inside the disk") ---- */

static void read_starting_at_capacity(void)
{
	struct conn *c = conn1();

	expect_status(bad_req(&c->q[0], VIRTIO_BLK_T_IN, IMG_SECTORS, 512, true), IOERR, 1);
	goes_on(c);
}

static void read_ending_past_capacity(void)
{
	struct conn *c = conn1();

	expect_status(bad_req(&c->q[0], VIRTIO_BLK_T_IN, IMG_SECTORS - 1, 1024, true), IOERR, 1);
	goes_on(c);
}

static void write_ending_past_capacity(void)
{
	struct conn *c = conn1();

	expect_status(bad_req(&c->q[0], VIRTIO_BLK_T_OUT, IMG_SECTORS - 1, 1024, false), IOERR, 1);
	goes_on(c);
}

static void write_at_sector_2_55(void)
{
	struct conn *c = conn1(); /* 2^55 * 512 = 2^64: the byte offset overflows */

	expect_status(bad_req(&c->q[0], VIRTIO_BLK_T_OUT, 1ull << 55, 512, false), IOERR, 1);
	goes_on(c);
}

static void read_at_sector_uint64_max(void)
{
	struct conn *c = conn1();

	expect_status(bad_req(&c->q[0], VIRTIO_BLK_T_IN, UINT64_MAX, 512, true), IOERR, 1);
	goes_on(c);
}

static void write_whose_end_overflows(void)
{
	struct conn *c = conn1(); /* offset 2^64 - 512: offset + 1024 wraps to 512 */

	expect_status(bad_req(&c->q[0], VIRTIO_BLK_T_OUT, UINT64_MAX >> 9, 1024, false), IOERR, 1);
	goes_on(c);
}

static void write_of_100_bytes(void)
{
	struct conn *c = conn1();

	expect_status(bad_req(&c->q[0], VIRTIO_BLK_T_OUT, 0, 100, false), IOERR, 1);
	goes_on(c);
}

static void read_of_513_bytes(void)
{
	struct conn *c = conn1();

	expect_status(bad_req(&c->q[0], VIRTIO_BLK_T_IN, 0, 513, true), IOERR, 1);
	goes_on(c);
}

/* Boundary: the last sector is inside the disk; zero bytes anywhere is fine. */
static void last_sector_and_zero_length_are_served(void)
{
	struct conn *c = conn1();
	uint8_t d[512];

	memset(d, 0x77, sizeof(d));
	expect_status(blk_req(&c->q[0], VIRTIO_BLK_T_OUT, IMG_SECTORS - 1, d, 512), VIRTIO_BLK_S_OK, 1);
	expect_status(blk_req(&c->q[0], VIRTIO_BLK_T_OUT, 5, NULL, 0), VIRTIO_BLK_S_OK, 1);
	expect_status(blk_req(&c->q[0], VIRTIO_BLK_T_IN, IMG_SECTORS, NULL, 0), VIRTIO_BLK_S_OK, 1);
	goes_on(c);
}

/* ---- types (VIRTIO 1.4 §5.2.6.2: unknown or not offered: UNSUPP) ---- */

static void unknown_request_types(void)
{
	struct conn *c = conn1();
	static const uint32_t types[] = { 2, 3, 5, VIRTIO_BLK_T_GET_LIFETIME,
					  VIRTIO_BLK_T_SECURE_ERASE, 0x42, 0x80000000u, UINT32_MAX };

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		expect_status(bad_req(&c->q[0], types[i], 0, 512, false), UNSUPP, 1);
	goes_on(c);
}

/* ---- discard and write zeroes (VIRTIO 1.4 §5.2.6.1, §5.2.6.2) ---- */

struct seg {
	uint64_t sector;
	uint32_t num;
	uint32_t flags;
};

/* A DISCARD / WRITE_ZEROES of @n segments (@extra bytes more); returns the completion. */
static struct rres seg_req(struct hq *q, uint32_t type, const struct seg *s, unsigned n,
			   unsigned extra)
{
	uint32_t len = 16 * n + extra;
	uint8_t *p = calloc(1, len + 1);
	struct virtio_blk_discard_write_zeroes w;
	struct rres r;

	CHECK(p, "out of memory");
	for (unsigned i = 0; i < n; i++) {
		w.sector = cpu_to_le64(s[i].sector);
		w.num_sectors = cpu_to_le32(s[i].num);
		w.flags = cpu_to_le32(s[i].flags);
		memcpy(p + 16 * i, &w, 16);
	}
	r = blk_req(q, type, 0, p, len);
	free(p);
	return r;
}

static void discard_without_segments(void)
{
	struct conn *c = conn1();

	expect_status(seg_req(&c->q[0], VIRTIO_BLK_T_DISCARD, NULL, 0, 0), IOERR, 1);
	goes_on(c);
}

static void discard_with_a_partial_segment(void)
{
	struct conn *c = conn1();
	struct seg s = { 0, 8, 0 };

	expect_status(seg_req(&c->q[0], VIRTIO_BLK_T_DISCARD, &s, 1, 4), IOERR, 1);
	expect_status(seg_req(&c->q[0], VIRTIO_BLK_T_WRITE_ZEROES, &s, 1, 15), IOERR, 1);
	goes_on(c);
}

static void discard_with_33_segments(void)
{
	struct conn *c = conn1();
	struct seg s[33];

	for (int i = 0; i < 33; i++)
		s[i] = (struct seg){ (uint64_t)i * 8, 8, 0 };
	expect_status(seg_req(&c->q[0], VIRTIO_BLK_T_DISCARD, s, 33, 0), IOERR, 1);
	expect_status(seg_req(&c->q[0], VIRTIO_BLK_T_WRITE_ZEROES, s, 33, 0), IOERR, 1);
	goes_on(c);
}

static void discard_segment_above_max_discard_sectors(void)
{
	struct conn *c = conn1();
	struct seg s = { 0, (1u << 21) + 1, 0 };

	expect_status(seg_req(&c->q[0], VIRTIO_BLK_T_DISCARD, &s, 1, 0), IOERR, 1);
	goes_on(c);
}

/* One segment past the end makes the whole request fail, and nothing is discarded. */
static void discard_second_segment_past_the_end(void)
{
	struct conn *c = conn1();
	struct seg s[2] = { { 0, 8, 0 }, { IMG_SECTORS - 4, 8, 0 } };

	expect_status(seg_req(&c->q[0], VIRTIO_BLK_T_DISCARD, s, 2, 0), IOERR, 1);
	expect_status(seg_req(&c->q[0], VIRTIO_BLK_T_WRITE_ZEROES, s, 2, 0), IOERR, 1);
	goes_on(c);
}

static void write_zeroes_with_overflowing_sector(void)
{
	struct conn *c = conn1();
	struct seg s[3] = { { UINT64_MAX, 1, 0 }, { UINT64_MAX - 3, 8, 0 }, { 1ull << 55, 1, 0 } };

	for (int i = 0; i < 3; i++)
		expect_status(seg_req(&c->q[0], VIRTIO_BLK_T_WRITE_ZEROES, &s[i], 1, 0), IOERR, 1);
	goes_on(c);
}

/* §5.2.6.2: unmap on discard, and unknown flags, are UNSUPP (checked before ranges). */
static void discard_and_write_zeroes_with_bad_flags(void)
{
	struct conn *c = conn1();
	struct seg unmap = { 0, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP };
	struct seg unknown = { 0, 8, 2 };
	struct seg unknown_past_end[2] = { { 0, 8, 0 }, { UINT64_MAX, 8, 0x80000000u } };

	expect_status(seg_req(&c->q[0], VIRTIO_BLK_T_DISCARD, &unmap, 1, 0), UNSUPP, 1);
	expect_status(seg_req(&c->q[0], VIRTIO_BLK_T_DISCARD, &unknown, 1, 0), UNSUPP, 1);
	expect_status(seg_req(&c->q[0], VIRTIO_BLK_T_WRITE_ZEROES, &unknown, 1, 0), UNSUPP, 1);
	expect_status(seg_req(&c->q[0], VIRTIO_BLK_T_WRITE_ZEROES, unknown_past_end, 2, 0), UNSUPP, 1);
	goes_on(c);
}

/* Boundary: valid segments are carried out (the model is updated by blk_req). */
static void discard_and_write_zeroes_are_served(void)
{
	struct conn *c = conn1();
	struct seg d[2] = { { 16, 8, 0 }, { 40, 16, 0 } };
	struct seg z[3] = { { 64, 8, 0 }, { 80, 1, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP }, { 96, 0, 0 } };
	uint8_t got[8 * 512];

	expect_status(seg_req(&c->q[0], VIRTIO_BLK_T_DISCARD, d, 2, 0), VIRTIO_BLK_S_OK, 1);
	expect_status(seg_req(&c->q[0], VIRTIO_BLK_T_WRITE_ZEROES, z, 3, 0), VIRTIO_BLK_S_OK, 1);
	expect_status(blk_req(&c->q[0], VIRTIO_BLK_T_IN, 64, got, sizeof(got)), VIRTIO_BLK_S_OK,
		      sizeof(got) + 1);
	for (size_t i = 0; i < sizeof(got); i++)
		CHECK(!got[i], "write zeroes left byte %zu non-zero", i);
	goes_on(c);
}

/* ---- GET_ID and iovec limits ---- */

static void get_id_into_small_and_empty_buffers(void)
{
	struct conn *c = conn1();
	uint8_t id[64];

	expect_status(blk_req(&c->q[0], VIRTIO_BLK_T_GET_ID, 0, id, 5), VIRTIO_BLK_S_OK, 6);
	expect_status(blk_req(&c->q[0], VIRTIO_BLK_T_GET_ID, 0, NULL, 0), VIRTIO_BLK_S_OK, 1);
	/* More room than 20 bytes: only 20 are written (the rest stays canary). */
	{
		uint64_t d = galloc(64, 4), st = mk_status();
		struct buf b[3] = { { mk_hdr(VIRTIO_BLK_T_GET_ID, 0), 16, false }, { d, 64, true },
				    { st, 1, true } };

		gallow(d, VIRTIO_BLK_ID_BYTES);
		expect_status(submit(&c->q[0], b, 3, DIRECT, st), VIRTIO_BLK_S_OK, 21);
	}
	goes_on(c);
}

/* A valid chain of more iovecs than a request slot holds (blk.h): used length 0, no I/O. */
static void write_of_150_segments(void)
{
	struct conn *c = std_conn(false, 256);
	unsigned n = 152;
	struct buf *b = calloc(n, sizeof(*b));
	uint64_t st = mk_status();
	struct rres r;

	CHECK(b, "out of memory");
	b[0] = (struct buf){ mk_hdr(VIRTIO_BLK_T_OUT, 0), 16, false };
	for (unsigned i = 1; i < n - 1; i++)
		b[i] = (struct buf){ galloc(512, 512), 512, false };
	b[n - 1] = (struct buf){ st, 1, true };
	r = submit(&c->q[0], b, n, 0, st);
	free(b);
	CHECK(r.len == 0, "used length %u, expected 0", r.len);
	CHECK(r.status == 0xee, "status byte written (%u) for a request completed with length 0",
	      r.status);
	goes_on(c);
}

/* Boundary: seg_max (126) data segments are served. */
static void write_of_126_segments_is_served(void)
{
	struct conn *c = std_conn(false, 256);
	unsigned n = 128;
	struct buf *b = calloc(n, sizeof(*b));
	uint8_t *data = malloc(126 * 512);
	uint64_t st = mk_status();

	CHECK(b && data, "out of memory");
	for (unsigned i = 0; i < 126 * 512; i++)
		data[i] = (uint8_t)(i / 512 + 1);
	b[0] = (struct buf){ mk_hdr(VIRTIO_BLK_T_OUT, 500), 16, false };
	for (unsigned i = 1; i < n - 1; i++) {
		b[i] = (struct buf){ galloc(512, 512), 512, false };
		gwrite(b[i].gpa, data + (i - 1) * 512, 512);
	}
	b[n - 1] = (struct buf){ st, 1, true };
	expect_status(submit(&c->q[0], b, n, 0, st), VIRTIO_BLK_S_OK, 1);
	model_write(500 * 512, data, 126 * 512);
	free(b);
	free(data);
	goes_on(c);
}

/*
 * Good and bad requests in flight together (one kick): each completes with
 * its own status, in any order, and the queue goes on.
 */
static void good_and_bad_requests_in_one_batch(void)
{
	struct conn *c = std_conn(false, 64);
	struct hq *q = &c->q[0];
	enum { N = 8 };
	uint64_t st[N];
	int head[N];
	uint8_t want[N], wdata[512];
	bool seen[N] = { false };

	memset(wdata, 0x42, sizeof(wdata));
	for (int i = 0; i < N; i++) {
		uint64_t d = galloc(512, 512);
		struct buf b[3];
		uint32_t type;
		uint64_t sector;

		switch (i % 4) {
		case 0: type = VIRTIO_BLK_T_OUT; sector = 100 + (uint64_t)i; want[i] = 0; break;
		case 1: type = VIRTIO_BLK_T_IN; sector = IMG_SECTORS; want[i] = IOERR; break;
		case 2: type = 77; sector = 0; want[i] = UNSUPP; break;
		default: type = VIRTIO_BLK_T_OUT; sector = UINT64_MAX; want[i] = IOERR; break;
		}
		if (type == VIRTIO_BLK_T_OUT)
			gwrite(d, wdata, 512);
		st[i] = mk_status();
		b[0] = (struct buf){ mk_hdr(type, sector), 16, false };
		b[1] = (struct buf){ d, 512, type == VIRTIO_BLK_T_IN };
		b[2] = (struct buf){ st[i], 1, true };
		head[i] = write_chain(q, b, 3, DIRECT);
		avail_entry(q, (uint16_t)i, (uint16_t)head[i]);
		if (want[i] == 0)
			model_write((100 + (uint64_t)i) * 512, wdata, 512);
	}
	avail_publish(q, N);
	kick(q);
	for (int k = 0; k < N; k++) {
		uint32_t id, len;
		int i;

		CHECK(wait_used(q, &id, &len, wait_ms()), "%d of %d requests completed", k, N);
		for (i = 0; i < N && head[i] != (int)id; i++)
			;
		CHECK(i < N && !seen[i], "completion of head %u", id);
		seen[i] = true;
		CHECK(len == 1 && status_at(st[i]) == want[i], "request %d: status %u length %u, expected %u",
		      i, status_at(st[i]), len, want[i]);
	}
	goes_on(c);
}

/* Boundary: write data across R0/R1 and the header split from it (two iovecs). */
static void write_data_across_adjacent_regions_is_served(void)
{
	struct conn *c = conn1();
	uint64_t d = R1_GPA - 512, st = mk_status();
	uint8_t data[1024];
	struct buf b[3];

	CHECK(galloc_in(1, 512, 16) == R1_GPA, "harness: R1 not free");
	memset(data, 0x19, sizeof(data));
	gwrite(d, data, sizeof(data));
	b[0] = (struct buf){ mk_hdr(VIRTIO_BLK_T_OUT, 700), 16, false };
	b[1] = (struct buf){ d, sizeof(data), false };
	b[2] = (struct buf){ st, 1, true };
	expect_status(submit(&c->q[0], b, 3, DIRECT, st), VIRTIO_BLK_S_OK, 1);
	model_write(700 * 512, data, sizeof(data));
	goes_on(c);
}

/* The same requests on a packed queue: the request path does not depend on the layout. */
static void packed_bad_requests(void)
{
	struct conn *c = std_conn(true, QSIZE);

	expect_status(bad_req(&c->q[0], VIRTIO_BLK_T_IN, IMG_SECTORS, 512, true), IOERR, 1);
	expect_status(bad_req(&c->q[0], VIRTIO_BLK_T_OUT, UINT64_MAX >> 9, 1024, false), IOERR, 1);
	expect_status(bad_req(&c->q[0], 0x42, 0, 512, false), UNSUPP, 1);
	{
		uint64_t h = mk_hdr(VIRTIO_BLK_T_OUT, 32), d = galloc(512, 512);
		struct buf b[2] = { { h, 16, false }, { d, 512, false } };

		CHECK(submit(&c->q[0], b, 2, DIRECT, 0).len == 0, "no-status request: length not 0");
	}
	goes_on(c);
}


/* A FLUSH carrying data buffers: only the status byte is written. */
static void flush_with_data_buffers(void)
{
	struct conn *c = conn1();
	uint64_t r = galloc(512, 512), w = galloc(512, 512), st = mk_status();
	struct buf b[4] = { { mk_hdr(VIRTIO_BLK_T_FLUSH, 7), 16, false }, { r, 512, false },
			    { w, 512, true }, { st, 1, true } };
	struct rres x = submit(&c->q[0], b, 4, DIRECT, st);

	CHECK(x.len == 1 && (x.status == VIRTIO_BLK_S_OK || x.status == IOERR),
	      "status %u, used length %u", x.status, x.len);
	goes_on(c);
}


/*
 * VIRTIO_F_IN_ORDER: good and bad requests in one batch. The device may use
 * them as one used element (VIRTIO 1.4 §2.7.9): the used index moves by
 * the batch; each request's status byte tells its fate.
 */
static void in_order_batch_with_bad_requests(void)
{
	struct conn *c = std_conn_f(F_STD | VIO_BIT(VIRTIO_F_IN_ORDER), false, 64);
	struct hq *q = &c->q[0];
	enum { N = 6 };
	static const uint8_t want[N] = { 0, IOERR, 0, UNSUPP, 0, 0xee };
	uint64_t st[N];
	uint8_t wdata[512];
	int64_t waited = 0;

	memset(wdata, 0x5e, sizeof(wdata));
	for (int i = 0; i < N; i++) {
		uint64_t d = galloc(512, 512);
		struct buf b[3];
		unsigned n = 3;

		st[i] = mk_status();
		gwrite(d, wdata, 512);
		b[0] = (struct buf){ mk_hdr(i == 3 ? 99 : VIRTIO_BLK_T_OUT,
					    i == 1 ? IMG_SECTORS : 400 + (uint64_t)i), 16, false };
		b[1] = (struct buf){ d, 512, false };
		b[2] = (struct buf){ st[i], 1, true };
		if (i == N - 1)
			n = 2; /* no status byte: used length 0, nothing written */
		avail_entry(q, (uint16_t)i, (uint16_t)write_chain(q, b, n, DIRECT));
		if (want[i] == 0)
			model_write((400 + (uint64_t)i) * 512, wdata, 512);
	}
	avail_publish(q, N);
	kick(q);
	while (used_idx(q) != N) {
		CHECK(waited < wait_ms(), "used index %u of %u", used_idx(q), N);
		sleep_ms(1);
		waited++;
	}
	for (int i = 0; i < N; i++)
		CHECK(status_at(st[i]) == want[i], "request %d: status %u, expected %u", i,
		      status_at(st[i]), want[i]);
	q->last_used = N;
	goes_on(c);
}

const struct hcase req_cases[] = {
#define C(x) { #x, x }
	C(header_of_8_bytes),
	C(header_of_15_bytes_then_writable_data),
	C(no_header_only_a_status),
	C(header_in_a_device_writable_buffer),
	C(header_in_sixteen_pieces_is_served),
	C(write_without_status_byte),
	C(read_without_status_byte),
	C(status_in_a_zero_length_buffer),
	C(read_starting_at_capacity),
	C(read_ending_past_capacity),
	C(write_ending_past_capacity),
	C(write_at_sector_2_55),
	C(read_at_sector_uint64_max),
	C(write_whose_end_overflows),
	C(write_of_100_bytes),
	C(read_of_513_bytes),
	C(last_sector_and_zero_length_are_served),
	C(unknown_request_types),
	C(discard_without_segments),
	C(discard_with_a_partial_segment),
	C(discard_with_33_segments),
	C(discard_segment_above_max_discard_sectors),
	C(discard_second_segment_past_the_end),
	C(write_zeroes_with_overflowing_sector),
	C(discard_and_write_zeroes_with_bad_flags),
	C(discard_and_write_zeroes_are_served),
	C(get_id_into_small_and_empty_buffers),
	C(write_of_150_segments),
	C(write_of_126_segments_is_served),
	C(good_and_bad_requests_in_one_batch),
	C(write_data_across_adjacent_regions_is_served),
	C(packed_bad_requests),
	C(flush_with_data_buffers),
	C(in_order_batch_with_bad_requests),
#undef C
};
const unsigned req_cases_n = sizeof(req_cases) / sizeof(req_cases[0]);
