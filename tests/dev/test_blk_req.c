/* SPDX-License-Identifier: BSD-3-Clause */
/* Tests of the virtio-blk request parser over hand-built descriptor chains. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dev/blk_req.h"
#include "mock_driver.h"
#include "vio/virtio_blk.h"

#define CAP_SECTORS 2048u /* 1 MiB disk */

/* A chain under construction: readable iovecs first, then writable ones. */
struct tchain {
	struct vio_chain c;
	struct iovec iov[64];
	struct blk_req r;
	struct iovec data[64];
};

static const struct blk_req_limits lim_rw = {
	.capacity = CAP_SECTORS, .lbs = 512, .discard = true, .write_zeroes = true,
};

static void tc_init(struct tchain *t)
{
	memset(t, 0, sizeof(*t));
	t->c.iov = t->iov;
	t->c.iov_cap = 64;
}

static void tc_add(struct tchain *t, void *p, size_t len, bool writable)
{
	uint32_t i = t->c.nout + t->c.nin;

	assert_true(i < 64);
	if (!writable)
		assert_int_equal(t->c.nin, 0); /* the harness keeps the ring's order */
	t->iov[i].iov_base = p;
	t->iov[i].iov_len = len;
	if (writable) {
		t->c.nin++;
		t->c.in_bytes += len;
	} else {
		t->c.nout++;
		t->c.out_bytes += len;
	}
}

static enum blk_req_kind tc_parse(struct tchain *t, const struct blk_req_limits *lim)
{
	return blk_req_parse(&t->c, lim, &t->r, t->data, 64);
}

static void hdr_set(void *p, uint32_t type, uint64_t sector)
{
	struct virtio_blk_outhdr h = {
		.type = cpu_to_le32(type), .reserved = cpu_to_le32(0), .sector = cpu_to_le64(sector),
	};

	memcpy(p, &h, sizeof(h));
}

static void seg_set(void *p, uint64_t sector, uint32_t num, uint32_t flags)
{
	struct virtio_blk_discard_write_zeroes s = {
		.sector = cpu_to_le64(sector), .num_sectors = cpu_to_le32(num),
		.flags = cpu_to_le32(flags),
	};

	memcpy(p, &s, sizeof(s));
}

/* A plain request: header, data in one iovec of @len bytes, separate status. */
static enum blk_req_kind simple(struct tchain *t, uint32_t type, uint64_t sector, uint8_t *hdr,
				uint8_t *data, size_t len, uint8_t *status,
				const struct blk_req_limits *lim)
{
	tc_init(t);
	hdr_set(hdr, type, sector);
	tc_add(t, hdr, 16, false);
	if (len)
		tc_add(t, data, len, type != VIRTIO_BLK_T_OUT);
	tc_add(t, status, 1, true);
	return tc_parse(t, lim);
}

static void assert_status(struct tchain *t, uint8_t st, const uint8_t *status_ptr)
{
	assert_int_equal(t->r.kind, BLK_REQ_STATUS);
	assert_int_equal(t->r.status, st);
	assert_ptr_equal(t->r.status_ptr, status_ptr);
}

/* ---- reads and writes ---- */

static void read_simple_describes_data_and_status(void **state)
{
	static uint8_t hdr[16], data[4096], st;
	struct tchain t;

	(void)state;
	assert_int_equal(simple(&t, VIRTIO_BLK_T_IN, 8, hdr, data, sizeof(data), &st, &lim_rw),
			 BLK_REQ_READ);
	assert_true(t.r.offset == 8 * 512);
	assert_true(t.r.len == 4096);
	assert_int_equal(t.r.ndata, 1);
	assert_ptr_equal(t.data[0].iov_base, data);
	assert_int_equal(t.data[0].iov_len, 4096);
	assert_ptr_equal(t.r.status_ptr, &st);
	assert_int_equal(t.r.type, VIRTIO_BLK_T_IN);
}

static void read_status_sharing_data_descriptor(void **state)
{
	static uint8_t hdr[16], buf[1024 + 1];
	struct tchain t;

	(void)state;
	tc_init(&t);
	hdr_set(hdr, VIRTIO_BLK_T_IN, 0);
	tc_add(&t, hdr, 16, false);
	tc_add(&t, buf, sizeof(buf), true);
	assert_int_equal(tc_parse(&t, &lim_rw), BLK_REQ_READ);
	assert_true(t.r.len == 1024);
	assert_int_equal(t.r.ndata, 1);
	assert_ptr_equal(t.data[0].iov_base, buf);
	assert_int_equal(t.data[0].iov_len, 1024);
	assert_ptr_equal(t.r.status_ptr, &buf[1024]);
}

static void read_status_alone_after_split_data(void **state)
{
	static uint8_t hdr[16], a[100], b[412 + 1], c[0 + 1];
	struct tchain t;

	(void)state;
	tc_init(&t);
	hdr_set(hdr, VIRTIO_BLK_T_IN, 1);
	tc_add(&t, hdr, 16, false);
	tc_add(&t, a, 100, true);
	tc_add(&t, b, 413, true); /* 412 data + 1: the status is not here */
	tc_add(&t, c, 0, true);   /* empty iovecs are skipped */
	/* 100 + 413 = 513 writable: 512 data and the status in b's last byte. */
	assert_int_equal(tc_parse(&t, &lim_rw), BLK_REQ_READ);
	assert_true(t.r.len == 512);
	assert_int_equal(t.r.ndata, 2);
	assert_int_equal(t.data[0].iov_len, 100);
	assert_int_equal(t.data[1].iov_len, 412);
	assert_ptr_equal(t.r.status_ptr, &b[412]);
}

static void header_split_across_iovecs_write_data_in_header_iovec(void **state)
{
	static uint8_t h[16 + 512], st;
	struct tchain t;

	(void)state;
	tc_init(&t);
	hdr_set(h, VIRTIO_BLK_T_OUT, 3);
	/* Header bytes 0-4, 5-11, then 12-15 together with the first data bytes. */
	tc_add(&t, h, 5, false);
	tc_add(&t, h + 5, 7, false);
	tc_add(&t, h + 12, 4 + 200, false);
	tc_add(&t, h + 216, 312, false);
	tc_add(&t, &st, 1, true);
	assert_int_equal(tc_parse(&t, &lim_rw), BLK_REQ_WRITE);
	assert_true(t.r.offset == 3 * 512);
	assert_true(t.r.len == 512);
	assert_int_equal(t.r.ndata, 2);
	assert_ptr_equal(t.data[0].iov_base, h + 16);
	assert_int_equal(t.data[0].iov_len, 200);
	assert_ptr_equal(t.data[1].iov_base, h + 216);
	assert_int_equal(t.data[1].iov_len, 312);
}

static void header_byte_by_byte(void **state)
{
	static uint8_t h[16], st;
	struct tchain t;

	(void)state;
	tc_init(&t);
	hdr_set(h, VIRTIO_BLK_T_FLUSH, 0);
	for (int i = 0; i < 16; i++)
		tc_add(&t, h + i, 1, false);
	tc_add(&t, &st, 1, true);
	assert_int_equal(tc_parse(&t, &lim_rw), BLK_REQ_FLUSH);
}

static void zero_length_read_is_a_read_of_nothing(void **state)
{
	static uint8_t hdr[16], st;
	struct tchain t;

	(void)state;
	assert_int_equal(simple(&t, VIRTIO_BLK_T_IN, 0, hdr, NULL, 0, &st, &lim_rw), BLK_REQ_READ);
	assert_true(t.r.len == 0);
	assert_int_equal(t.r.ndata, 0);
}

static void no_writable_byte_has_no_status(void **state)
{
	static uint8_t hdr[16], data[512], empty[1];
	struct tchain t;

	(void)state;
	tc_init(&t);
	hdr_set(hdr, VIRTIO_BLK_T_OUT, 0);
	tc_add(&t, hdr, 16, false);
	tc_add(&t, data, 512, false);
	assert_int_equal(tc_parse(&t, &lim_rw), BLK_REQ_NO_STATUS);
	assert_null(t.r.status_ptr);
	/* Only empty writable iovecs: still no status byte. */
	tc_add(&t, empty, 0, true);
	assert_int_equal(tc_parse(&t, &lim_rw), BLK_REQ_NO_STATUS);
	/* An empty chain. */
	tc_init(&t);
	assert_int_equal(tc_parse(&t, &lim_rw), BLK_REQ_NO_STATUS);
}

static void inconsistent_iovec_counts_have_no_status(void **state)
{
	static uint8_t hdr[16], st;
	struct tchain t;

	(void)state;
	simple(&t, VIRTIO_BLK_T_FLUSH, 0, hdr, NULL, 0, &st, &lim_rw);
	t.c.nin = 64; /* nout + nin > iov_cap */
	assert_int_equal(tc_parse(&t, &lim_rw), BLK_REQ_NO_STATUS);
	t.c.nin = 1;
	t.c.nout = UINT32_MAX; /* would wrap */
	assert_int_equal(tc_parse(&t, &lim_rw), BLK_REQ_NO_STATUS);
	t.c.nout = 1;
	t.c.iov = NULL;
	assert_int_equal(tc_parse(&t, &lim_rw), BLK_REQ_NO_STATUS);
}

static void overflowing_iovec_total_has_no_status(void **state)
{
	static uint8_t hdr[16], st;
	struct tchain t;

	(void)state;
	tc_init(&t);
	hdr_set(hdr, VIRTIO_BLK_T_OUT, 0);
	tc_add(&t, hdr, 16, false);
	tc_add(&t, hdr, SIZE_MAX, false); /* never dereferenced: the sum overflows */
	tc_add(&t, &st, 1, true);
	assert_int_equal(tc_parse(&t, &lim_rw), BLK_REQ_NO_STATUS);
}

static void short_header_is_ioerr(void **state)
{
	static uint8_t hdr[16], st;
	struct tchain t;

	(void)state;
	tc_init(&t);
	hdr_set(hdr, VIRTIO_BLK_T_IN, 0);
	tc_add(&t, hdr, 8, false);
	tc_add(&t, hdr + 8, 7, false);
	tc_add(&t, &st, 1, true);
	tc_parse(&t, &lim_rw);
	assert_status(&t, VIRTIO_BLK_S_IOERR, &st);
	/* No readable part at all. */
	tc_init(&t);
	tc_add(&t, &st, 1, true);
	tc_parse(&t, &lim_rw);
	assert_status(&t, VIRTIO_BLK_S_IOERR, &st);
}

static void data_not_multiple_of_block_size_is_ioerr(void **state)
{
	static uint8_t hdr[16], data[8192], st;
	struct blk_req_limits l4k = lim_rw;
	struct tchain t;

	(void)state;
	simple(&t, VIRTIO_BLK_T_IN, 0, hdr, data, 513, &st, &lim_rw);
	assert_status(&t, VIRTIO_BLK_S_IOERR, &st);
	simple(&t, VIRTIO_BLK_T_OUT, 0, hdr, data, 100, &st, &lim_rw);
	assert_status(&t, VIRTIO_BLK_S_IOERR, &st);
	l4k.lbs = 4096;
	simple(&t, VIRTIO_BLK_T_IN, 0, hdr, data, 512, &st, &l4k);
	assert_status(&t, VIRTIO_BLK_S_IOERR, &st);
	simple(&t, VIRTIO_BLK_T_IN, 0, hdr, data, 8192, &st, &l4k);
	assert_int_equal(t.r.kind, BLK_REQ_READ);
}

static void misaligned_sector_for_block_size_is_ioerr(void **state)
{
	static uint8_t hdr[16], data[4096], st;
	struct blk_req_limits l4k = lim_rw;
	struct tchain t;

	(void)state;
	l4k.lbs = 4096;
	simple(&t, VIRTIO_BLK_T_OUT, 1, hdr, data, 4096, &st, &l4k);
	assert_status(&t, VIRTIO_BLK_S_IOERR, &st);
	simple(&t, VIRTIO_BLK_T_OUT, 8, hdr, data, 4096, &st, &l4k);
	assert_int_equal(t.r.kind, BLK_REQ_WRITE);
	assert_true(t.r.offset == 4096);
}

static void range_up_to_capacity_ok_past_it_ioerr(void **state)
{
	static uint8_t hdr[16], data[1024], st;
	struct tchain t;

	(void)state;
	simple(&t, VIRTIO_BLK_T_IN, CAP_SECTORS - 2, hdr, data, 1024, &st, &lim_rw);
	assert_int_equal(t.r.kind, BLK_REQ_READ);
	simple(&t, VIRTIO_BLK_T_IN, CAP_SECTORS - 1, hdr, data, 1024, &st, &lim_rw);
	assert_status(&t, VIRTIO_BLK_S_IOERR, &st);
	simple(&t, VIRTIO_BLK_T_OUT, CAP_SECTORS, hdr, data, 512, &st, &lim_rw);
	assert_status(&t, VIRTIO_BLK_S_IOERR, &st);
	/* Zero bytes at the very end is inside; one sector further is not. */
	simple(&t, VIRTIO_BLK_T_IN, CAP_SECTORS, hdr, NULL, 0, &st, &lim_rw);
	assert_int_equal(t.r.kind, BLK_REQ_READ);
	simple(&t, VIRTIO_BLK_T_IN, CAP_SECTORS + 1, hdr, NULL, 0, &st, &lim_rw);
	assert_status(&t, VIRTIO_BLK_S_IOERR, &st);
}

static void overflowing_sector_is_ioerr(void **state)
{
	static uint8_t hdr[16], data[512], st;
	struct blk_req_limits huge = lim_rw;
	struct tchain t;

	(void)state;
	/* sector * 512 overflows. */
	simple(&t, VIRTIO_BLK_T_IN, UINT64_MAX, hdr, data, 512, &st, &lim_rw);
	assert_status(&t, VIRTIO_BLK_S_IOERR, &st);
	simple(&t, VIRTIO_BLK_T_IN, (UINT64_MAX >> 9) + 1, hdr, data, 512, &st, &lim_rw);
	assert_status(&t, VIRTIO_BLK_S_IOERR, &st);
	/* sector * 512 fits, + len overflows; even on a disk of 2^64 - 512 bytes. */
	huge.capacity = UINT64_MAX >> 9;
	simple(&t, VIRTIO_BLK_T_IN, UINT64_MAX >> 9, hdr, data, 512, &st, &huge);
	assert_status(&t, VIRTIO_BLK_S_IOERR, &st);
	simple(&t, VIRTIO_BLK_T_IN, (UINT64_MAX >> 9) - 1, hdr, data, 512, &st, &huge);
	assert_int_equal(t.r.kind, BLK_REQ_READ);
	/* A capacity whose byte size overflows is refused rather than wrapped. */
	huge.capacity = UINT64_MAX;
	simple(&t, VIRTIO_BLK_T_IN, 0, hdr, data, 512, &st, &huge);
	assert_status(&t, VIRTIO_BLK_S_IOERR, &st);
}

static void write_to_read_only_is_ioerr_read_is_fine(void **state)
{
	static uint8_t hdr[16], data[512], st;
	struct blk_req_limits ro = lim_rw;
	struct tchain t;

	(void)state;
	ro.read_only = true;
	simple(&t, VIRTIO_BLK_T_OUT, 0, hdr, data, 512, &st, &ro);
	assert_status(&t, VIRTIO_BLK_S_IOERR, &st);
	assert_int_equal(simple(&t, VIRTIO_BLK_T_IN, 0, hdr, data, 512, &st, &ro), BLK_REQ_READ);
	assert_int_equal(simple(&t, VIRTIO_BLK_T_FLUSH, 0, hdr, NULL, 0, &st, &ro), BLK_REQ_FLUSH);
}

static void unknown_types_are_unsupp(void **state)
{
	static const uint32_t types[] = {
		2, 3, 5, VIRTIO_BLK_T_GET_LIFETIME, VIRTIO_BLK_T_SECURE_ERASE, 15, 16, 26,
		0x80000000u, UINT32_MAX,
	};
	static uint8_t hdr[16], data[512], st;
	struct tchain t;

	(void)state;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		simple(&t, types[i], 0, hdr, data, 512, &st, &lim_rw);
		assert_status(&t, VIRTIO_BLK_S_UNSUPP, &st);
		assert_int_equal(t.r.type, types[i]);
	}
}

static void flush_ignores_sector_and_data(void **state)
{
	static uint8_t hdr[16], data[512], st;
	struct tchain t;

	(void)state;
	assert_int_equal(simple(&t, VIRTIO_BLK_T_FLUSH, 12345, hdr, data, 512, &st, &lim_rw),
			 BLK_REQ_FLUSH);
	assert_ptr_equal(t.r.status_ptr, &st);
}

static void get_id_room_is_at_most_20_bytes(void **state)
{
	static uint8_t hdr[16], data[512], st;
	struct tchain t;

	(void)state;
	assert_int_equal(simple(&t, VIRTIO_BLK_T_GET_ID, 0, hdr, data, 20, &st, &lim_rw),
			 BLK_REQ_GET_ID);
	assert_true(t.r.len == 20);
	simple(&t, VIRTIO_BLK_T_GET_ID, 0, hdr, data, 512, &st, &lim_rw);
	assert_true(t.r.len == 20);
	assert_int_equal(t.r.ndata, 1);
	assert_int_equal(t.data[0].iov_len, 20);
	simple(&t, VIRTIO_BLK_T_GET_ID, 0, hdr, data, 8, &st, &lim_rw);
	assert_true(t.r.len == 8);
}

static void data_iovecs_beyond_cap_is_ioerr(void **state)
{
	static uint8_t hdr[16], data[4][512], st;
	struct tchain t;

	(void)state;
	tc_init(&t);
	hdr_set(hdr, VIRTIO_BLK_T_IN, 0);
	tc_add(&t, hdr, 16, false);
	for (int i = 0; i < 4; i++)
		tc_add(&t, data[i], 512, true);
	tc_add(&t, &st, 1, true);
	assert_int_equal(blk_req_parse(&t.c, &lim_rw, &t.r, t.data, 3), BLK_REQ_STATUS);
	assert_int_equal(t.r.status, VIRTIO_BLK_S_IOERR);
	assert_int_equal(blk_req_parse(&t.c, &lim_rw, &t.r, t.data, 4), BLK_REQ_READ);
}

/* ---- discard and write zeroes ---- */

/* Header, then @n segments written into @segs, in one iovec; status apart. */
static enum blk_req_kind segs_req(struct tchain *t, uint32_t type, uint8_t *buf, uint32_t n,
				  uint8_t *st, const struct blk_req_limits *lim)
{
	tc_init(t);
	hdr_set(buf, type, 0);
	tc_add(t, buf, 16 + 16 * (size_t)n, false);
	tc_add(t, st, 1, true);
	return tc_parse(t, lim);
}

static void discard_segments_split_across_iovecs(void **state)
{
	static uint8_t buf[16 + 32], st;
	struct tchain t;

	(void)state;
	tc_init(&t);
	hdr_set(buf, VIRTIO_BLK_T_DISCARD, 99);
	seg_set(buf + 16, 8, 16, 0);
	seg_set(buf + 32, 1000, 24, 0);
	tc_add(&t, buf, 20, false);     /* header + 4 bytes of segment 0 */
	tc_add(&t, buf + 20, 17, false); /* rest of segment 0 + 1 byte of segment 1 */
	tc_add(&t, buf + 37, 11, false);
	tc_add(&t, &st, 1, true);
	assert_int_equal(tc_parse(&t, &lim_rw), BLK_REQ_DISCARD);
	assert_int_equal(t.r.nseg, 2);
	assert_true(t.r.seg[0].offset == 8 * 512 && t.r.seg[0].len == 16 * 512);
	assert_true(t.r.seg[1].offset == 1000 * 512 && t.r.seg[1].len == 24 * 512);
	assert_false(t.r.seg[0].unmap);
	/* The segments were copied: changing guest memory changes nothing. */
	seg_set(buf + 16, 0, 0, 0);
	assert_true(t.r.seg[0].offset == 8 * 512);
}

static void discard_or_write_zeroes_not_offered_is_unsupp(void **state)
{
	static uint8_t buf[32], st;
	struct blk_req_limits off = lim_rw;
	struct tchain t;

	(void)state;
	off.discard = off.write_zeroes = false;
	seg_set(buf + 16, 0, 8, 0);
	segs_req(&t, VIRTIO_BLK_T_DISCARD, buf, 1, &st, &off);
	assert_status(&t, VIRTIO_BLK_S_UNSUPP, &st);
	seg_set(buf + 16, 0, 8, 0);
	segs_req(&t, VIRTIO_BLK_T_WRITE_ZEROES, buf, 1, &st, &off);
	assert_status(&t, VIRTIO_BLK_S_UNSUPP, &st);
}

static void discard_with_unmap_is_unsupp_write_zeroes_takes_it(void **state)
{
	static uint8_t buf[16 + 32], st;
	struct tchain t;

	(void)state;
	seg_set(buf + 16, 0, 8, 0);
	seg_set(buf + 32, 16, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	segs_req(&t, VIRTIO_BLK_T_DISCARD, buf, 2, &st, &lim_rw);
	assert_status(&t, VIRTIO_BLK_S_UNSUPP, &st);
	seg_set(buf + 16, 0, 8, 0);
	seg_set(buf + 32, 16, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	assert_int_equal(segs_req(&t, VIRTIO_BLK_T_WRITE_ZEROES, buf, 2, &st, &lim_rw),
			 BLK_REQ_WRITE_ZEROES);
	assert_false(t.r.seg[0].unmap);
	assert_true(t.r.seg[1].unmap);
}

static void unknown_segment_flags_are_unsupp_before_range_errors(void **state)
{
	static uint8_t buf[16 + 32], st;
	struct tchain t;

	(void)state;
	for (uint32_t type = VIRTIO_BLK_T_DISCARD; type <= VIRTIO_BLK_T_WRITE_ZEROES; type += 2) {
		/* Segment 0 is out of range (IOERR); segment 1 has a reserved flag (UNSUPP). */
		seg_set(buf + 16, CAP_SECTORS, 8, 0);
		seg_set(buf + 32, 0, 8, 1u << 1);
		segs_req(&t, type, buf, 2, &st, &lim_rw);
		assert_status(&t, VIRTIO_BLK_S_UNSUPP, &st);
		seg_set(buf + 16, 0, 8, 0x80000000u);
		seg_set(buf + 32, 0, 8, 0);
		segs_req(&t, type, buf, 2, &st, &lim_rw);
		assert_status(&t, VIRTIO_BLK_S_UNSUPP, &st);
	}
}

static void segment_data_framing_errors_are_ioerr(void **state)
{
	static uint8_t buf[16 + 16 * 40], st;
	struct tchain t;

	(void)state;
	/* No segment. */
	segs_req(&t, VIRTIO_BLK_T_DISCARD, buf, 0, &st, &lim_rw);
	assert_status(&t, VIRTIO_BLK_S_IOERR, &st);
	/* Not a multiple of 16 bytes. */
	tc_init(&t);
	hdr_set(buf, VIRTIO_BLK_T_WRITE_ZEROES, 0);
	seg_set(buf + 16, 0, 8, 0);
	tc_add(&t, buf, 16 + 17, false);
	tc_add(&t, &st, 1, true);
	tc_parse(&t, &lim_rw);
	assert_status(&t, VIRTIO_BLK_S_IOERR, &st);
	/* VIO_BLK_MAX_DISCARD_SEG segments are fine, one more is not. */
	for (uint32_t i = 0; i < 40; i++)
		seg_set(buf + 16 + 16 * i, 8 * i, 8, 0);
	assert_int_equal(segs_req(&t, VIRTIO_BLK_T_DISCARD, buf, VIO_BLK_MAX_DISCARD_SEG, &st,
				  &lim_rw), BLK_REQ_DISCARD);
	assert_int_equal(t.r.nseg, VIO_BLK_MAX_DISCARD_SEG);
	segs_req(&t, VIRTIO_BLK_T_DISCARD, buf, VIO_BLK_MAX_DISCARD_SEG + 1, &st, &lim_rw);
	assert_status(&t, VIRTIO_BLK_S_IOERR, &st);
}

static void segment_limits_and_ranges_are_ioerr(void **state)
{
	static uint8_t buf[32], st;
	struct blk_req_limits big = lim_rw, l4k = lim_rw;
	struct tchain t;

	(void)state;
	big.capacity = 1ull << 40;
	seg_set(buf + 16, 0, VIO_BLK_MAX_DISCARD_SECTORS, 0);
	assert_int_equal(segs_req(&t, VIRTIO_BLK_T_DISCARD, buf, 1, &st, &big), BLK_REQ_DISCARD);
	seg_set(buf + 16, 0, VIO_BLK_MAX_DISCARD_SECTORS + 1, 0);
	segs_req(&t, VIRTIO_BLK_T_DISCARD, buf, 1, &st, &big);
	assert_status(&t, VIRTIO_BLK_S_IOERR, &st);
	seg_set(buf + 16, CAP_SECTORS - 8, 9, 0);
	segs_req(&t, VIRTIO_BLK_T_WRITE_ZEROES, buf, 1, &st, &lim_rw);
	assert_status(&t, VIRTIO_BLK_S_IOERR, &st);
	seg_set(buf + 16, UINT64_MAX, 1, 0);
	segs_req(&t, VIRTIO_BLK_T_WRITE_ZEROES, buf, 1, &st, &lim_rw);
	assert_status(&t, VIRTIO_BLK_S_IOERR, &st);
	seg_set(buf + 16, (UINT64_MAX >> 9), 1, 0);
	segs_req(&t, VIRTIO_BLK_T_DISCARD, buf, 1, &st, &big);
	assert_status(&t, VIRTIO_BLK_S_IOERR, &st);
	/* Aligned to the logical block size. */
	l4k.lbs = 4096;
	seg_set(buf + 16, 4, 8, 0);
	segs_req(&t, VIRTIO_BLK_T_DISCARD, buf, 1, &st, &l4k);
	assert_status(&t, VIRTIO_BLK_S_IOERR, &st);
	seg_set(buf + 16, 8, 4, 0);
	segs_req(&t, VIRTIO_BLK_T_DISCARD, buf, 1, &st, &l4k);
	assert_status(&t, VIRTIO_BLK_S_IOERR, &st);
	/* An empty segment is valid (nothing to do). */
	seg_set(buf + 16, 8, 0, 0);
	assert_int_equal(segs_req(&t, VIRTIO_BLK_T_DISCARD, buf, 1, &st, &l4k), BLK_REQ_DISCARD);
	assert_true(t.r.seg[0].len == 0);
}

static void discard_on_read_only_is_ioerr(void **state)
{
	static uint8_t buf[32], st;
	struct blk_req_limits ro = lim_rw;
	struct tchain t;

	(void)state;
	ro.read_only = true;
	seg_set(buf + 16, 0, 8, 0);
	segs_req(&t, VIRTIO_BLK_T_DISCARD, buf, 1, &st, &ro);
	assert_status(&t, VIRTIO_BLK_S_IOERR, &st);
	seg_set(buf + 16, 0, 8, 0);
	segs_req(&t, VIRTIO_BLK_T_WRITE_ZEROES, buf, 1, &st, &ro);
	assert_status(&t, VIRTIO_BLK_S_IOERR, &st);
}

/* ---- against guard pages: nothing is read outside the iovecs ---- */

static void header_and_status_touching_guard_pages(void **state)
{
	struct mock_mem m;
	uint8_t *end1, *end2;
	struct tchain t;

	(void)state;
	mock_mem_init_default(&m);
	/* The last 16 bytes of R1 and the last byte of R2: a guard page follows each. */
	end1 = mock_hva(&m, MOCK_HOLE_GPA - 16);
	end2 = mock_hva(&m, MOCK_R2_GPA + MOCK_R2_SIZE - 1);
	tc_init(&t);
	hdr_set(end1, VIRTIO_BLK_T_IN, 0);
	tc_add(&t, end1, 16, false);
	tc_add(&t, mock_hva(&m, MOCK_R2_GPA), 512, true);
	tc_add(&t, end2, 1, true);
	assert_int_equal(tc_parse(&t, &lim_rw), BLK_REQ_READ);
	assert_ptr_equal(t.r.status_ptr, end2);
	/* Write zeroes whose segments end at the guard page. */
	tc_init(&t);
	hdr_set(end1 - 32, VIRTIO_BLK_T_WRITE_ZEROES, 0);
	seg_set(end1 - 16, 0, 8, 0);
	seg_set(end1, 8, 8, 0);
	tc_add(&t, end1 - 32, 48, false);
	tc_add(&t, end2, 1, true);
	assert_int_equal(tc_parse(&t, &lim_rw), BLK_REQ_WRITE_ZEROES);
	assert_int_equal(t.r.nseg, 2);
	mock_mem_fini(&m);
}

/* ---- randomised chains: the invariants a fuzzer would check ---- */

static uint32_t rnd(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

/* True if [p, p + len) lies inside one of @n iovecs. */
static bool inside(const struct iovec *iov, uint32_t n, const void *p, size_t len)
{
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *b = iov[i].iov_base;

		if ((const uint8_t *)p >= b && (const uint8_t *)p + len <= b + iov[i].iov_len)
			return true;
	}
	return false;
}

static void check_invariants(const struct tchain *t, const struct blk_req_limits *lim)
{
	const struct iovec *out = t->c.iov, *in = t->c.iov + t->c.nout;
	uint64_t sum = 0;

	if (t->r.kind == BLK_REQ_NO_STATUS) {
		assert_null(t->r.status_ptr);
		return;
	}
	assert_true(inside(in, t->c.nin, t->r.status_ptr, 1));
	for (uint32_t i = 0; i < t->r.ndata; i++) {
		assert_true(t->data[i].iov_len > 0);
		sum += t->data[i].iov_len;
		if (t->r.kind == BLK_REQ_WRITE) {
			assert_true(inside(out, t->c.nout, t->data[i].iov_base, t->data[i].iov_len));
		} else {
			assert_true(inside(in, t->c.nin, t->data[i].iov_base, t->data[i].iov_len));
			/* The data never covers the status byte. */
			assert_false(t->r.status_ptr >= (uint8_t *)t->data[i].iov_base &&
				     t->r.status_ptr < (uint8_t *)t->data[i].iov_base + t->data[i].iov_len);
		}
	}
	if (t->r.kind == BLK_REQ_READ || t->r.kind == BLK_REQ_WRITE || t->r.kind == BLK_REQ_GET_ID)
		assert_true(sum == t->r.len);
	if (t->r.kind == BLK_REQ_READ || t->r.kind == BLK_REQ_WRITE) {
		assert_true(t->r.len % lim->lbs == 0 && t->r.offset % lim->lbs == 0);
		assert_true(t->r.offset + t->r.len <= lim->capacity * 512);
	}
	for (uint32_t i = 0; i < t->r.nseg; i++)
		assert_true(t->r.seg[i].offset + t->r.seg[i].len <= lim->capacity * 512);
}

/* Cuts @len bytes at @p into 1..3 iovecs at random points. */
static void tc_add_cut(struct tchain *t, uint8_t *p, uint32_t len, bool w, uint32_t *x)
{
	uint32_t a = len ? rnd(x) % (len + 1) : 0, b = a + (len - a ? rnd(x) % (len - a + 1) : 0);

	tc_add(t, p, a, w);
	tc_add(t, p + a, b - a, w);
	tc_add(t, p + b, len - b, w);
}

/*
 * A request framed the way drivers do, cut at random points: header,
 * k * 512 bytes of data (readable or writable), status sometimes sharing
 * the last data iovec. The header and segments are whatever is in memory.
 */
static void tc_random_well_framed(struct tchain *t, uint8_t *base, uint32_t *x)
{
	uint32_t len = (rnd(x) % 5) * 512, type = rnd(x) % 2 ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT;
	uint8_t *data = base + 16384;

	if (rnd(x) % 4 == 0)
		type = rnd(x) % 2 ? VIRTIO_BLK_T_DISCARD : VIRTIO_BLK_T_WRITE_ZEROES;
	if (type == VIRTIO_BLK_T_DISCARD || type == VIRTIO_BLK_T_WRITE_ZEROES) {
		hdr_set(base, type, 0);
		tc_add_cut(t, base, 16 + 16 * (rnd(x) % 5), false, x);
		tc_add(t, data, 1, true);
		return;
	}
	hdr_set(base, type, rnd(x) % (CAP_SECTORS + 4));
	if (type == VIRTIO_BLK_T_OUT) {
		tc_add_cut(t, base, 16, false, x);
		tc_add_cut(t, data, len, false, x);
		tc_add(t, data + len, 1, true);
	} else {
		tc_add_cut(t, base, 16, false, x);
		tc_add_cut(t, data, len + 1, true, x); /* the status is the last byte */
	}
}

static void random_chains_keep_the_invariants(void **state)
{
	static const uint32_t types[] = { 0, 1, 4, 8, 11, 13, 2, 0xffffffffu };
	struct mock_mem m;
	uint32_t x = 12345;
	uint8_t *base;
	struct tchain t;

	(void)state;
	mock_mem_init_default(&m);
	/* R1 (1 MiB) ends at a guard page: iovecs are placed anywhere in it. */
	base = mock_hva(&m, MOCK_R1_GPA);
	for (int iter = 0; iter < 20000; iter++) {
		uint32_t nout = rnd(&x) % 6, nin = rnd(&x) % 5;

		/* Random bytes where headers and segments will be read. */
		for (uint32_t k = 0; k < 64; k++)
			base[rnd(&x) % 4096] = (uint8_t)rnd(&x);
		hdr_set(base, types[rnd(&x) % 8], rnd(&x) % 3 ? rnd(&x) % (CAP_SECTORS + 8) : rnd(&x));
		for (uint32_t k = 0; k < 4; k++)
			seg_set(base + 16 + 16 * k, rnd(&x) % (CAP_SECTORS + 8), rnd(&x) % 64,
				rnd(&x) % 5 ? 0 : rnd(&x) % 4);
		tc_init(&t);
		if (rnd(&x) % 2) {
			tc_random_well_framed(&t, base, &x);
			tc_parse(&t, &lim_rw);
			check_invariants(&t, &lim_rw);
			continue;
		}
		{
			uint64_t pos = 0;

			for (uint32_t k = 0; k < nout; k++) {
				uint32_t len = rnd(&x) % 3 ? rnd(&x) % 40 : rnd(&x) % 2048;

				tc_add(&t, base + pos, len, false);
				pos += len;
			}
		}
		{
			uint64_t pos = 8192;
			bool at_end = rnd(&x) % 2;

			/* Writable iovecs do not overlap; the last may end at the guard page. */
			for (uint32_t k = 0; k < nin; k++) {
				uint32_t len = rnd(&x) % 3 ? rnd(&x) % 1100 : rnd(&x) % 3;
				uint64_t at = at_end && k == nin - 1 ? MOCK_R1_SIZE - len : pos;

				tc_add(&t, base + at, len, true);
				pos += len + rnd(&x) % 64;
			}
		}
		tc_parse(&t, &lim_rw);
		check_invariants(&t, &lim_rw);
	}
	mock_mem_fini(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(read_simple_describes_data_and_status),
		cmocka_unit_test(read_status_sharing_data_descriptor),
		cmocka_unit_test(read_status_alone_after_split_data),
		cmocka_unit_test(header_split_across_iovecs_write_data_in_header_iovec),
		cmocka_unit_test(header_byte_by_byte),
		cmocka_unit_test(zero_length_read_is_a_read_of_nothing),
		cmocka_unit_test(no_writable_byte_has_no_status),
		cmocka_unit_test(inconsistent_iovec_counts_have_no_status),
		cmocka_unit_test(overflowing_iovec_total_has_no_status),
		cmocka_unit_test(short_header_is_ioerr),
		cmocka_unit_test(data_not_multiple_of_block_size_is_ioerr),
		cmocka_unit_test(misaligned_sector_for_block_size_is_ioerr),
		cmocka_unit_test(range_up_to_capacity_ok_past_it_ioerr),
		cmocka_unit_test(overflowing_sector_is_ioerr),
		cmocka_unit_test(write_to_read_only_is_ioerr_read_is_fine),
		cmocka_unit_test(unknown_types_are_unsupp),
		cmocka_unit_test(flush_ignores_sector_and_data),
		cmocka_unit_test(get_id_room_is_at_most_20_bytes),
		cmocka_unit_test(data_iovecs_beyond_cap_is_ioerr),
		cmocka_unit_test(discard_segments_split_across_iovecs),
		cmocka_unit_test(discard_or_write_zeroes_not_offered_is_unsupp),
		cmocka_unit_test(discard_with_unmap_is_unsupp_write_zeroes_takes_it),
		cmocka_unit_test(unknown_segment_flags_are_unsupp_before_range_errors),
		cmocka_unit_test(segment_data_framing_errors_are_ioerr),
		cmocka_unit_test(segment_limits_and_ranges_are_ioerr),
		cmocka_unit_test(discard_on_read_only_is_ioerr),
		cmocka_unit_test(header_and_status_touching_guard_pages),
		cmocka_unit_test(random_chains_keep_the_invariants),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
