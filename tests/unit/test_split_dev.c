/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the device side of the split virtqueue (src/ring/), driven
 * by the mock driver: every ring rule of include/vio/devq.h is shown to be
 * enforced, and the good paths return exactly what the driver wrote.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mock_driver.h"

/* The reasons vio_devq_error() gives (src/ring/). */
#define E_RO_AFTER_WO   "device-readable descriptor after a device-writable one"
#define E_CHAIN_2_32    "descriptor chain longer than 2^32 bytes"
#define E_BUF_OUTSIDE   "buffer outside guest memory"
#define E_TBL_OUTSIDE   "indirect table outside guest memory"
#define E_IND_NOFEAT    "VIRTQ_DESC_F_INDIRECT without VIRTIO_F_INDIRECT_DESC"
#define E_IND_NEXT      "VIRTQ_DESC_F_INDIRECT together with VIRTQ_DESC_F_NEXT"
#define E_IND_LEN       "indirect table length not a multiple of 16 in 16..16*32768"
#define E_IND_OVERFLOW  "indirect table address overflows"
#define E_IND_LOOP      "indirect chain longer than its table (loop)"
#define E_IND_NESTED    "nested indirect descriptor"
#define E_IND_NEXT_OOR  "indirect next out of range"
#define E_LOOP          "descriptor chain longer than the queue (loop)"
#define E_NEXT_OOR      "next out of range"
#define E_AVAIL_JUMP    "available index moved more than the queue size"
#define E_HEAD_OOR      "head out of range"
#define E_HEAD_INFLIGHT "head already in flight"

#define F_INDIRECT VIO_BIT(VIRTIO_F_INDIRECT_DESC)
#define F_EVENT    VIO_BIT(VIRTIO_F_EVENT_IDX)
#define NEXT       VIRTQ_DESC_F_NEXT
#define WRITE      VIRTQ_DESC_F_WRITE
#define INDIRECT   VIRTQ_DESC_F_INDIRECT

#define IOV_CAP 64

struct params {
	uint32_t num;
	uint64_t features;
};

struct fx {
	struct mock_mem m;
	struct mock_vq vq;
	struct vio_devq *q;
	struct iovec iov[IOV_CAP];
	struct vio_chain c;
	uint64_t buf; /* 64 KiB of R0 for buffers */
	struct params p;
};

static const struct params P_PLAIN = { 8, 0 };
static const struct params P_IND = { 8, F_INDIRECT };
static const struct params P_EVENT = { 8, F_EVENT };
static const struct params P_IND_EVENT = { 8, F_INDIRECT | F_EVENT };

static int setup(void **state)
{
	const struct params *p = *state ? *state : &P_IND;
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->p = *p;
	mock_mem_init_default(&f->m);
	assert_int_equal(mock_vq_init(&f->vq, &f->m, MOCK_SPLIT, p->num, p->features), 0);
	assert_int_equal(mock_vq_devq_init(&f->vq, NULL), 0);
	f->q = f->vq.devq;
	f->buf = mock_alloc(&f->m, 0, 0x10000, 64);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	mock_vq_fini(&f->vq);
	mock_mem_fini(&f->m);
	free(f);
	return 0;
}

/* Pops into f->c with iov_cap @cap, the output fields poisoned first. */
static int pop_cap(struct fx *f, uint32_t cap)
{
	memset(f->iov, 0xa5, sizeof(f->iov));
	memset(&f->c, 0xa5, sizeof(f->c));
	f->c.iov = f->iov;
	f->c.iov_cap = cap;
	return vio_devq_pop(f->q, &f->c);
}

static int pop(struct fx *f)
{
	return pop_cap(f, IOV_CAP);
}

static void assert_iov(const struct iovec *iov, const void *base, size_t len)
{
	assert_ptr_equal(iov->iov_base, base);
	assert_int_equal(iov->iov_len, len);
}

static void *hva(struct fx *f, uint64_t gpa)
{
	return mock_hva(&f->m, gpa);
}

/*
 * The queue is broken for @why: pop returns -EIO, the reason is named,
 * nothing was consumed, and it stays so on every later call; flush and
 * kick_enable report nothing, the used ring is not touched.
 */
static void assert_broken(struct fx *f, const char *why, uint32_t base, uint32_t inflight)
{
	uint16_t used_idx = mock_split_used_idx(&f->vq);
	uint16_t used_flags = mock_split_used_flags(&f->vq);
	int i;

	assert_int_equal(pop(f), -EIO);
	assert_non_null(vio_devq_error(f->q));
	assert_string_equal(vio_devq_error(f->q), why);
	assert_int_equal(vio_devq_base(f->q), base);
	assert_int_equal(vio_devq_inflight(f->q), inflight);
	for (i = 0; i < 3; i++) {
		assert_int_equal(pop(f), -EIO);
		assert_string_equal(vio_devq_error(f->q), why);
	}
	assert_int_equal(vio_devq_flush(f->q), 0);
	assert_int_equal(vio_devq_kick_enable(f->q), 0);
	vio_devq_kick_disable(f->q);
	assert_int_equal(mock_split_used_idx(&f->vq), used_idx);
	assert_int_equal(mock_split_used_flags(&f->vq), used_flags);
	assert_int_equal(vio_devq_base(f->q), base);
}

/* Writes a one-descriptor chain at @d and makes it available. */
static void add_one(struct fx *f, uint16_t d, uint64_t addr, uint32_t len, uint16_t flags)
{
	mock_split_desc(&f->vq, d, addr, len, flags, 0);
	mock_split_make_avail(&f->vq, d);
}

/* ================================================================== */
/* vio_devq_init                                                      */
/* ================================================================== */

static int init_with(struct fx *f, void (*edit)(struct vio_devq_config *))
{
	struct vio_devq_config cfg;

	mock_vq_config(&f->vq, &cfg);
	edit(&cfg);
	return mock_vq_devq_init(&f->vq, &cfg);
}

static void num_0(struct vio_devq_config *c) { c->num = 0; }
static void num_6(struct vio_devq_config *c) { c->num = 6; }
static void num_65536(struct vio_devq_config *c) { c->num = 65536; }
static void desc_8(struct vio_devq_config *c) { c->desc = (char *)c->desc + 8; }
static void avail_1(struct vio_devq_config *c) { c->driver = (char *)c->driver + 1; }
static void used_2(struct vio_devq_config *c) { c->device = (char *)c->device + 2; }
static void desc_null(struct vio_devq_config *c) { c->desc = NULL; }
static void avail_null(struct vio_devq_config *c) { c->driver = NULL; }
static void used_null(struct vio_devq_config *c) { c->device = NULL; }
static void mem_null(struct vio_devq_config *c) { c->mem = NULL; }
static void base_17bit(struct vio_devq_config *c) { c->base = 0x10000; }

static void devq_size_is_0_for_num_0_or_above_32768(void **state)
{
	(void)state;
	assert_int_equal(vio_devq_size(0), 0);
	assert_int_equal(vio_devq_size(32769), 0);
	assert_true(vio_devq_size(1) > 0);
	assert_true(vio_devq_size(32768) > vio_devq_size(1));
}

static void init_rejects_num_0(void **state) { assert_int_equal(init_with(*state, num_0), -EINVAL); }
static void init_rejects_num_not_power_of_2(void **state) { assert_int_equal(init_with(*state, num_6), -EINVAL); }
static void init_rejects_num_above_32768(void **state) { assert_int_equal(init_with(*state, num_65536), -EINVAL); }
static void init_rejects_desc_not_16_aligned(void **state) { assert_int_equal(init_with(*state, desc_8), -EINVAL); }
static void init_rejects_avail_not_2_aligned(void **state) { assert_int_equal(init_with(*state, avail_1), -EINVAL); }
static void init_rejects_used_not_4_aligned(void **state) { assert_int_equal(init_with(*state, used_2), -EINVAL); }
static void init_rejects_null_desc(void **state) { assert_int_equal(init_with(*state, desc_null), -EINVAL); }
static void init_rejects_null_avail(void **state) { assert_int_equal(init_with(*state, avail_null), -EINVAL); }
static void init_rejects_null_used(void **state) { assert_int_equal(init_with(*state, used_null), -EINVAL); }
static void init_rejects_null_mem(void **state) { assert_int_equal(init_with(*state, mem_null), -EINVAL); }
static void init_rejects_base_above_16_bits(void **state) { assert_int_equal(init_with(*state, base_17bit), -EINVAL); }
static void init_accepts_queue_sizes_1_and_32768(void **state)
{
	struct mock_mem m;
	struct mock_vq vq;

	(void)state;
	mock_mem_init_default(&m);
	assert_int_equal(mock_vq_init(&vq, &m, MOCK_SPLIT, 1, 0), 0);
	assert_int_equal(mock_vq_devq_init(&vq, NULL), 0);
	mock_vq_fini(&vq);
	assert_int_equal(mock_vq_init(&vq, &m, MOCK_SPLIT, 32768, 0), 0);
	assert_int_equal(mock_vq_devq_init(&vq, NULL), 0);
	mock_vq_fini(&vq);
	mock_mem_fini(&m);
}

static void init_starts_popping_at_config_base(void **state)
{
	struct fx *f = *state;
	struct vio_devq_config cfg;

	/* The driver had made 13 available; the device resumes at 11. */
	mock_split_set_avail_idx(&f->vq, 11);
	add_one(f, 5, f->buf, 16, 0);       /* avail entry 11, slot 3 */
	add_one(f, 6, f->buf + 16, 16, 0);  /* avail entry 12, slot 4 */
	mock_vq_config(&f->vq, &cfg);
	cfg.base = 11;
	assert_int_equal(mock_vq_devq_init(&f->vq, &cfg), 0);
	f->q = f->vq.devq;
	assert_int_equal(vio_devq_base(f->q), 11);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.id, 5);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.id, 6);
	assert_int_equal(pop(f), 0);
	assert_int_equal(vio_devq_base(f->q), 13);
}

static void init_takes_used_idx_from_used_ring(void **state)
{
	struct fx *f = *state;
	uint32_t id, len;

	mock_split_set_used_idx(&f->vq, 0x1234);
	mock_split_set_used_event(&f->vq, 0x1234); /* entry 0x1234 notifies with EVENT_IDX */
	assert_int_equal(mock_vq_devq_init(&f->vq, NULL), 0);
	f->q = f->vq.devq;
	add_one(f, 2, f->buf, 8, WRITE);
	assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_push(f->q, 2, 8), 0);
	assert_int_equal(vio_devq_flush(f->q), 1);
	assert_int_equal(mock_split_used_idx(&f->vq), 0x1235);
	mock_split_used_elem(&f->vq, 0x1234 % 8, &id, &len);
	assert_int_equal(id, 2);
	assert_int_equal(len, 8);
}

static void init_starts_with_nothing_in_flight_and_not_broken(void **state)
{
	struct fx *f = *state;

	assert_int_equal(vio_devq_inflight(f->q), 0);
	assert_null(vio_devq_error(f->q));
	assert_int_equal(vio_devq_base(f->q), 0);
}

/* ================================================================== */
/* pop: good paths                                                    */
/* ================================================================== */

static void pop_on_empty_ring_returns_0(void **state)
{
	struct fx *f = *state;

	assert_int_equal(pop(f), 0);
	assert_int_equal(vio_devq_base(f->q), 0);
	assert_null(vio_devq_error(f->q));
}

static void pop_ignores_entries_not_yet_published(void **state)
{
	struct fx *f = *state;

	mock_split_desc(&f->vq, 0, f->buf, 16, 0, 0);
	mock_split_avail_put(&f->vq, 0);
	assert_int_equal(pop(f), 0);
	mock_split_publish(&f->vq);
	assert_int_equal(pop(f), 1);
	assert_int_equal(pop(f), 0);
}

static void pop_single_readable_buffer(void **state)
{
	struct fx *f = *state;

	add_one(f, 3, f->buf + 100, 50, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.id, 3);
	assert_int_equal(f->c.ndesc, 1);
	assert_int_equal(f->c.nout, 1);
	assert_int_equal(f->c.nin, 0);
	assert_true(f->c.out_bytes == 50);
	assert_true(f->c.in_bytes == 0);
	assert_iov(&f->iov[0], hva(f, f->buf + 100), 50);
	assert_int_equal(vio_devq_inflight(f->q), 1);
	assert_int_equal(vio_devq_base(f->q), 1);
}

static void pop_direct_chain_readable_then_writable(void **state)
{
	struct fx *f = *state;
	uint64_t b = f->buf;
	int head;

	head = mock_vq_add(&f->vq, (struct mock_buf[]){ { b, 16, false }, { b + 0x100, 512, false },
						       { b + 0x400, 1024, true }, { b + 0x1000, 1, true } },
			   4, MOCK_DIRECT);
	assert_int_equal(head, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.id, 0);
	assert_int_equal(f->c.ndesc, 4);
	assert_int_equal(f->c.nout, 2);
	assert_int_equal(f->c.nin, 2);
	assert_true(f->c.out_bytes == 528);
	assert_true(f->c.in_bytes == 1025);
	assert_iov(&f->iov[0], hva(f, b), 16);
	assert_iov(&f->iov[1], hva(f, b + 0x100), 512);
	assert_iov(&f->iov[2], hva(f, b + 0x400), 1024);
	assert_iov(&f->iov[3], hva(f, b + 0x1000), 1);
}

static void pop_writable_only_chain(void **state)
{
	struct fx *f = *state;

	add_one(f, 0, f->buf, 4096, WRITE);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.nout, 0);
	assert_int_equal(f->c.nin, 1);
	assert_true(f->c.in_bytes == 4096);
	assert_iov(&f->iov[0], hva(f, f->buf), 4096);
}

static void pop_follows_next_in_any_table_order(void **state)
{
	struct fx *f = *state;

	mock_split_desc(&f->vq, 6, f->buf, 1, NEXT, 2);
	mock_split_desc(&f->vq, 2, f->buf + 10, 2, NEXT, 7);
	mock_split_desc(&f->vq, 7, f->buf + 20, 3, WRITE | NEXT, 0);
	mock_split_desc(&f->vq, 0, f->buf + 30, 4, WRITE, 5 /* ignored without NEXT */);
	mock_split_make_avail(&f->vq, 6);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.id, 6);
	assert_int_equal(f->c.ndesc, 4);
	assert_int_equal(f->c.nout, 2);
	assert_int_equal(f->c.nin, 2);
	assert_iov(&f->iov[0], hva(f, f->buf), 1);
	assert_iov(&f->iov[1], hva(f, f->buf + 10), 2);
	assert_iov(&f->iov[2], hva(f, f->buf + 20), 3);
	assert_iov(&f->iov[3], hva(f, f->buf + 30), 4);
}

static void pop_chain_of_queue_size_descriptors_is_accepted(void **state)
{
	struct fx *f = *state;
	uint16_t i;

	/* 8 descriptors, 7 -> 6 -> ... -> 0: the longest chain there can be. */
	for (i = 0; i < 8; i++)
		mock_split_desc(&f->vq, i, f->buf + 64u * i, 64, i ? NEXT : 0, (uint16_t)(i - 1));
	mock_split_make_avail(&f->vq, 7);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.ndesc, 8);
	assert_int_equal(f->c.nout, 8);
	assert_true(f->c.out_bytes == 512);
	assert_iov(&f->iov[7], hva(f, f->buf), 64);
}

static void pop_zero_length_buffer_gives_no_iovec(void **state)
{
	struct fx *f = *state;

	mock_split_desc(&f->vq, 0, f->buf, 0, NEXT, 1);
	mock_split_desc(&f->vq, 1, f->buf + 8, 8, WRITE, 0);
	mock_split_make_avail(&f->vq, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.ndesc, 2);
	assert_int_equal(f->c.nout, 0);
	assert_int_equal(f->c.nin, 1);
	assert_true(f->c.out_bytes == 0);
	assert_iov(&f->iov[0], hva(f, f->buf + 8), 8);
}

static void pop_buffer_straddling_two_regions_gives_two_iovecs(void **state)
{
	struct fx *f = *state;

	add_one(f, 1, MOCK_R1_GPA - 24, 64, WRITE);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.nin, 2);
	assert_true(f->c.in_bytes == 64);
	assert_iov(&f->iov[0], hva(f, MOCK_R1_GPA - 24), 24);
	assert_iov(&f->iov[1], f->m.region[1].hva, 40);
	/* Separate mappings: the device may not treat them as one. */
	assert_ptr_not_equal((char *)f->iov[0].iov_base + 24, f->iov[1].iov_base);
}

static void pop_buffer_filling_last_byte_of_region_is_accepted(void **state)
{
	struct fx *f = *state;

	add_one(f, 0, MOCK_HOLE_GPA - 32, 32, 0);
	assert_int_equal(pop(f), 1);
	assert_iov(&f->iov[0], hva(f, MOCK_HOLE_GPA - 32), 32);
}

static void pop_indirect_chain(void **state)
{
	struct fx *f = *state;
	uint64_t t = mock_alloc(&f->m, 0, 3 * 16, 16);

	mock_desc_write(&f->m, t, 0, f->buf, 16, NEXT, 2);
	mock_desc_write(&f->m, t, 2, f->buf + 32, 32, NEXT | WRITE, 1);
	mock_desc_write(&f->m, t, 1, MOCK_R2_GPA, 100, WRITE, 0);
	add_one(f, 4, t, 48, INDIRECT);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.id, 4);
	assert_int_equal(f->c.ndesc, 1);
	assert_int_equal(f->c.nout, 1);
	assert_int_equal(f->c.nin, 2);
	assert_true(f->c.out_bytes == 16);
	assert_true(f->c.in_bytes == 132);
	assert_iov(&f->iov[0], hva(f, f->buf), 16);
	assert_iov(&f->iov[1], hva(f, f->buf + 32), 32);
	assert_iov(&f->iov[2], f->m.region[2].hva, 100);
}

static void pop_indirect_table_straddling_two_regions(void **state)
{
	struct fx *f = *state;
	uint64_t t = MOCK_R1_GPA - 24; /* entry 1 is split 8 | 8 across R0/R1 */

	mock_desc_write(&f->m, t, 0, f->buf, 10, NEXT, 1);
	mock_desc_write(&f->m, t, 1, f->buf + 10, 20, WRITE, 0);
	add_one(f, 0, t, 32, INDIRECT);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.nout, 1);
	assert_int_equal(f->c.nin, 1);
	assert_iov(&f->iov[0], hva(f, f->buf), 10);
	assert_iov(&f->iov[1], hva(f, f->buf + 10), 20);
}

static void pop_direct_then_indirect_chain(void **state)
{
	struct fx *f = *state;
	int head;

	head = mock_vq_add(&f->vq, (struct mock_buf[]){ { f->buf, 16, false }, { f->buf + 16, 8, false },
						       { f->buf + 64, 64, false }, { f->buf + 128, 1, true } },
			   4, 2);
	assert_int_equal(head, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.ndesc, 3); /* two direct + the indirect descriptor */
	assert_int_equal(f->c.nout, 3);
	assert_int_equal(f->c.nin, 1);
	assert_true(f->c.out_bytes == 88);
	assert_iov(&f->iov[0], hva(f, f->buf), 16);
	assert_iov(&f->iov[1], hva(f, f->buf + 16), 8);
	assert_iov(&f->iov[2], hva(f, f->buf + 64), 64);
	assert_iov(&f->iov[3], hva(f, f->buf + 128), 1);
}

/* VIRTIO 1.4 §2.7.5.3.2: the device MUST ignore WRITE on the descriptor referring to a table. */
static void pop_ignores_write_flag_on_indirect_descriptor(void **state)
{
	struct fx *f = *state;
	uint64_t t = mock_alloc(&f->m, 0, 16, 16);

	mock_desc_write(&f->m, t, 0, f->buf, 10, 0, 0);
	add_one(f, 0, t, 16, INDIRECT | WRITE);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.nout, 1);
	assert_int_equal(f->c.nin, 0);
	assert_true(f->c.in_bytes == 0);
}

static void pop_indirect_table_of_32768_entries_is_accepted(void **state)
{
	struct fx *f = *state;
	uint64_t t = mock_alloc(&f->m, 0, 16ull * 32768, 16);

	mock_desc_write(&f->m, t, 0, f->buf, 4, NEXT, 32767);
	mock_desc_write(&f->m, t, 32767, f->buf + 4, 4, WRITE, 0);
	add_one(f, 0, t, 16u * 32768, INDIRECT);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.nout, 1);
	assert_int_equal(f->c.nin, 1);
}

static void pop_indirect_chain_using_every_table_entry_is_accepted(void **state)
{
	struct fx *f = *state;
	uint64_t t = mock_alloc(&f->m, 0, 16 * 16, 16);
	uint32_t i;

	for (i = 0; i < 16; i++)
		mock_desc_write(&f->m, t, i, f->buf + i, 1, i < 15 ? NEXT : 0, (uint16_t)(i + 1));
	add_one(f, 0, t, 256, INDIRECT);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.nout, 16);
}

static void pop_avail_idx_exactly_queue_size_ahead_is_accepted(void **state)
{
	struct fx *f = *state;
	uint16_t i;

	for (i = 0; i < 8; i++)
		mock_split_desc(&f->vq, i, f->buf + i, 1, 0, 0);
	for (i = 0; i < 8; i++)
		mock_split_avail_put(&f->vq, (uint16_t)(7 - i));
	mock_split_publish(&f->vq);
	for (i = 0; i < 8; i++) {
		assert_int_equal(pop(f), 1);
		assert_int_equal(f->c.id, 7 - i);
	}
	assert_int_equal(pop(f), 0);
	assert_int_equal(vio_devq_inflight(f->q), 8);
}

static void pop_returns_chains_in_avail_order(void **state)
{
	struct fx *f = *state;

	add_one(f, 5, f->buf, 1, 0);
	add_one(f, 1, f->buf, 1, 0);
	add_one(f, 3, f->buf, 1, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.id, 5);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.id, 1);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.id, 3);
	assert_int_equal(pop(f), 0);
}

/* A 4 GiB region, so chains of 2^32 bytes can lie in guest memory. */
struct big {
	struct mock_mem m;
	struct mock_vq vq;
	struct iovec iov[8];
	struct vio_chain c;
};

static struct big *big_setup(uint64_t features)
{
	static const struct mock_region_spec spec[] = { { 1ull << 32, 1ull << 32 } };
	struct big *b = calloc(1, sizeof(*b));

	assert_non_null(b);
	assert_int_equal(mock_mem_init(&b->m, spec, 1), 0);
	assert_int_equal(mock_vq_init(&b->vq, &b->m, MOCK_SPLIT, 4, features), 0);
	assert_int_equal(mock_vq_devq_init(&b->vq, NULL), 0);
	b->c.iov = b->iov;
	b->c.iov_cap = 8;
	return b;
}

static void big_free(struct big *b)
{
	mock_vq_fini(&b->vq);
	mock_mem_fini(&b->m);
	free(b);
}

/* VIRTIO 1.4 §2.7.5.2: at most 2^32 bytes in total; exactly 2^32 is fine. */
static void pop_chain_of_exactly_2_32_bytes_is_accepted(void **state)
{
	struct big *b = big_setup(0);
	uint64_t g = 1ull << 32;

	(void)state;
	mock_split_desc(&b->vq, 0, g, 0x80000000u, NEXT, 1);
	mock_split_desc(&b->vq, 1, g, 0x80000000u, WRITE, 0);
	mock_split_make_avail(&b->vq, 0);
	assert_int_equal(vio_devq_pop(b->vq.devq, &b->c), 1);
	assert_true(b->c.out_bytes == 0x80000000u);
	assert_true(b->c.in_bytes == 0x80000000u);
	/* The used length is clamped to the writable size, 2^31. */
	assert_int_equal(vio_devq_push(b->vq.devq, 0, UINT32_MAX), 0);
	assert_int_equal(vio_devq_flush(b->vq.devq), 1);
	{
		uint32_t id, len;

		mock_split_used_elem(&b->vq, 0, &id, &len);
		assert_int_equal(len, 0x80000000u);
	}
	big_free(b);
}

/* ================================================================== */
/* pop: -ENOBUFS (a request error, not a ring error)                  */
/* ================================================================== */

static void pop_enobufs_when_iov_cap_too_small_keeps_chain_in_flight(void **state)
{
	struct fx *f = *state;
	int head;

	head = mock_vq_add(&f->vq, (struct mock_buf[]){ { f->buf, 16, false }, { f->buf + 16, 16, false },
						       { f->buf + 32, 16, true } }, 3, MOCK_DIRECT);
	assert_int_equal(pop_cap(f, 2), -ENOBUFS);
	assert_int_equal(f->c.id, head);
	assert_int_equal(f->c.ndesc, 3);
	assert_int_equal(vio_devq_inflight(f->q), 1);
	assert_int_equal(vio_devq_base(f->q), 1);
	assert_null(vio_devq_error(f->q));
	assert_int_equal(pop(f), 0); /* consumed: not popped again */
}

static void pop_enobufs_chain_can_be_pushed_with_len_0(void **state)
{
	struct fx *f = *state;
	struct mock_used u;
	int head;

	head = mock_vq_add(&f->vq, (struct mock_buf[]){ { f->buf, 16, false }, { f->buf + 32, 16, true } },
			   2, MOCK_DIRECT);
	assert_int_equal(pop_cap(f, 1), -ENOBUFS);
	assert_int_equal(vio_devq_push(f->q, f->c.id, 0), 0);
	assert_int_equal(vio_devq_flush(f->q), 1);
	assert_int_equal(mock_vq_used(&f->vq, &u), 1);
	assert_int_equal(u.id, head);
	assert_int_equal(u.len, 0);
	assert_int_equal(vio_devq_inflight(f->q), 0);
	/* The queue works on. */
	mock_vq_add(&f->vq, (struct mock_buf[]){ { f->buf, 16, false } }, 1, MOCK_DIRECT);
	assert_int_equal(pop(f), 1);
}

static void pop_enobufs_for_straddling_buffer_needing_second_iovec(void **state)
{
	struct fx *f = *state;

	add_one(f, 0, MOCK_R1_GPA - 8, 16, 0);
	assert_int_equal(pop_cap(f, 1), -ENOBUFS);
	assert_int_equal(f->c.id, 0);
	assert_null(vio_devq_error(f->q));
}

static void pop_enobufs_with_zero_iov_cap(void **state)
{
	struct fx *f = *state;

	add_one(f, 2, f->buf, 16, 0);
	memset(&f->c, 0, sizeof(f->c));
	f->c.iov = NULL;
	f->c.iov_cap = 0;
	assert_int_equal(vio_devq_pop(f->q, &f->c), -ENOBUFS);
	assert_int_equal(f->c.id, 2);
	assert_int_equal(vio_devq_inflight(f->q), 1);
}

static void pop_enobufs_still_validates_rest_of_chain(void **state)
{
	struct fx *f = *state;

	/* Three buffers, room for one iovec; the third is in the hole. */
	mock_split_desc(&f->vq, 0, f->buf, 16, NEXT, 1);
	mock_split_desc(&f->vq, 1, f->buf + 16, 16, NEXT, 2);
	mock_split_desc(&f->vq, 2, MOCK_HOLE_GPA, 16, WRITE, 0);
	mock_split_make_avail(&f->vq, 0);
	f->c.iov_cap = 1;
	memset(&f->c, 0, sizeof(f->c));
	f->c.iov = f->iov;
	f->c.iov_cap = 1;
	assert_int_equal(vio_devq_pop(f->q, &f->c), -EIO);
	assert_broken(f, E_BUF_OUTSIDE, 0, 0);
}

static void pop_enobufs_still_checks_descriptor_order(void **state)
{
	struct fx *f = *state;

	mock_split_desc(&f->vq, 0, f->buf, 16, NEXT, 1);
	mock_split_desc(&f->vq, 1, f->buf + 16, 16, NEXT | WRITE, 2);
	mock_split_desc(&f->vq, 2, f->buf + 32, 16, 0, 0);
	mock_split_make_avail(&f->vq, 0);
	assert_int_equal(pop_cap(f, 1), -EIO);
	assert_broken(f, E_RO_AFTER_WO, 0, 0);
}

/* ================================================================== */
/* pop: ring violations mark the queue broken                          */
/* ================================================================== */

static void loop_to_itself_breaks_queue(void **state)
{
	struct fx *f = *state;

	mock_split_desc(&f->vq, 3, f->buf, 16, NEXT, 3);
	mock_split_make_avail(&f->vq, 3);
	assert_broken(f, E_LOOP, 0, 0);
}

static void loop_between_two_descriptors_breaks_queue(void **state)
{
	struct fx *f = *state;

	mock_split_desc(&f->vq, 0, f->buf, 16, NEXT, 1);
	mock_split_desc(&f->vq, 1, f->buf, 16, NEXT, 0);
	mock_split_make_avail(&f->vq, 0);
	assert_broken(f, E_LOOP, 0, 0);
}

static void loop_back_after_every_descriptor_breaks_queue(void **state)
{
	struct fx *f = *state;
	uint16_t i;

	/* 0 -> 1 -> ... -> 7 -> 0: one link more than the queue has. */
	for (i = 0; i < 8; i++)
		mock_split_desc(&f->vq, i, f->buf, 1, NEXT, (uint16_t)((i + 1) % 8));
	mock_split_make_avail(&f->vq, 0);
	assert_broken(f, E_LOOP, 0, 0);
}

/*
 * The walk stops at exactly Queue Size links: descriptor 0 is readable and
 * 1..7 writable, 7 -> 0. Link 9 would revisit 0 (readable after writable);
 * the loop must be reported before that descriptor is looked at.
 */
static void loop_detected_at_queue_size_plus_one_links(void **state)
{
	struct fx *f = *state;
	uint16_t i;

	mock_split_desc(&f->vq, 0, f->buf, 1, NEXT, 1);
	for (i = 1; i < 8; i++)
		mock_split_desc(&f->vq, i, f->buf, 1, NEXT | WRITE, (uint16_t)((i + 1) % 8));
	mock_split_make_avail(&f->vq, 0);
	assert_broken(f, E_LOOP, 0, 0);
}

/* As above inside a table of 4: at most len/16 links. */
static void indirect_loop_detected_at_table_size_plus_one_links(void **state)
{
	struct fx *f = *state;
	uint64_t t = mock_alloc(&f->m, 0, 64, 16);

	mock_desc_write(&f->m, t, 0, f->buf, 1, NEXT, 1);
	mock_desc_write(&f->m, t, 1, f->buf, 1, NEXT | WRITE, 2);
	mock_desc_write(&f->m, t, 2, f->buf, 1, NEXT | WRITE, 3);
	mock_desc_write(&f->m, t, 3, f->buf, 1, NEXT | WRITE, 0);
	add_one(f, 0, t, 64, INDIRECT);
	assert_broken(f, E_IND_LOOP, 0, 0);
}

static void loop_inside_indirect_table_breaks_queue(void **state)
{
	struct fx *f = *state;
	uint64_t t = mock_alloc(&f->m, 0, 64, 16);

	mock_desc_write(&f->m, t, 0, f->buf, 1, NEXT, 1);
	mock_desc_write(&f->m, t, 1, f->buf, 1, NEXT, 2);
	mock_desc_write(&f->m, t, 2, f->buf, 1, NEXT, 3);
	mock_desc_write(&f->m, t, 3, f->buf, 1, NEXT, 1);
	add_one(f, 0, t, 64, INDIRECT);
	assert_broken(f, E_IND_LOOP, 0, 0);
}

static void loop_to_itself_inside_indirect_table_breaks_queue(void **state)
{
	struct fx *f = *state;
	uint64_t t = mock_alloc(&f->m, 0, 16, 16);

	mock_desc_write(&f->m, t, 0, f->buf, 1, NEXT, 0);
	add_one(f, 0, t, 16, INDIRECT);
	assert_broken(f, E_IND_LOOP, 0, 0);
}

static void next_out_of_range_breaks_queue(void **state)
{
	struct fx *f = *state;

	mock_split_desc(&f->vq, 0, f->buf, 16, NEXT, 8);
	mock_split_make_avail(&f->vq, 0);
	assert_broken(f, E_NEXT_OOR, 0, 0);
}

static void next_0xffff_breaks_queue(void **state)
{
	struct fx *f = *state;

	mock_split_desc(&f->vq, 0, f->buf, 16, NEXT, 0xffff);
	mock_split_make_avail(&f->vq, 0);
	assert_broken(f, E_NEXT_OOR, 0, 0);
}

static void indirect_next_out_of_range_breaks_queue(void **state)
{
	struct fx *f = *state;
	uint64_t t = mock_alloc(&f->m, 0, 64, 16);

	/* A table of 2 (len 32) inside an allocation of 4: next = 2 is past len. */
	mock_desc_write(&f->m, t, 0, f->buf, 1, NEXT, 2);
	mock_desc_write(&f->m, t, 2, f->buf, 1, 0, 0);
	add_one(f, 0, t, 32, INDIRECT);
	assert_broken(f, E_IND_NEXT_OOR, 0, 0);
}

static void nested_indirect_breaks_queue(void **state)
{
	struct fx *f = *state;
	uint64_t t = mock_alloc(&f->m, 0, 32, 16), t2 = mock_alloc(&f->m, 0, 16, 16);

	mock_desc_write(&f->m, t2, 0, f->buf, 1, 0, 0);
	mock_desc_write(&f->m, t, 0, f->buf, 1, NEXT, 1);
	mock_desc_write(&f->m, t, 1, t2, 16, INDIRECT, 0);
	add_one(f, 0, t, 32, INDIRECT);
	assert_broken(f, E_IND_NESTED, 0, 0);
}

static void indirect_without_feature_breaks_queue(void **state)
{
	struct fx *f = *state;
	uint64_t t = mock_alloc(&f->m, 0, 16, 16);

	mock_desc_write(&f->m, t, 0, f->buf, 1, 0, 0);
	add_one(f, 0, t, 16, INDIRECT);
	assert_broken(f, E_IND_NOFEAT, 0, 0);
}

static void indirect_together_with_next_breaks_queue(void **state)
{
	struct fx *f = *state;
	uint64_t t = mock_alloc(&f->m, 0, 16, 16);

	mock_desc_write(&f->m, t, 0, f->buf, 1, 0, 0);
	mock_split_desc(&f->vq, 0, t, 16, INDIRECT | NEXT, 1);
	mock_split_desc(&f->vq, 1, f->buf, 1, WRITE, 0);
	mock_split_make_avail(&f->vq, 0);
	assert_broken(f, E_IND_NEXT, 0, 0);
}

static void indirect_length_0_breaks_queue(void **state)
{
	struct fx *f = *state;

	add_one(f, 0, f->buf, 0, INDIRECT);
	assert_broken(f, E_IND_LEN, 0, 0);
}

static void indirect_length_not_multiple_of_16_breaks_queue(void **state)
{
	struct fx *f = *state;
	uint64_t t = mock_alloc(&f->m, 0, 32, 16);

	mock_desc_write(&f->m, t, 0, f->buf, 1, 0, 0);
	add_one(f, 0, t, 24, INDIRECT);
	assert_broken(f, E_IND_LEN, 0, 0);
}

static void indirect_length_below_16_breaks_queue(void **state)
{
	struct fx *f = *state;
	uint64_t t = mock_alloc(&f->m, 0, 16, 16);

	mock_desc_write(&f->m, t, 0, f->buf, 1, 0, 0);
	add_one(f, 0, t, 15, INDIRECT);
	assert_broken(f, E_IND_LEN, 0, 0);
}

static void indirect_length_above_16x32768_breaks_queue(void **state)
{
	struct fx *f = *state;
	uint64_t t = mock_alloc(&f->m, 0, 16ull * 32769, 16);

	mock_desc_write(&f->m, t, 0, f->buf, 1, 0, 0);
	add_one(f, 0, t, 16u * 32769, INDIRECT);
	assert_broken(f, E_IND_LEN, 0, 0);
}

static void indirect_table_address_overflow_breaks_queue(void **state)
{
	struct fx *f = *state;

	add_one(f, 0, UINT64_MAX - 15, 32, INDIRECT);
	assert_broken(f, E_IND_OVERFLOW, 0, 0);
}

static void indirect_table_in_hole_breaks_queue(void **state)
{
	struct fx *f = *state;

	add_one(f, 0, MOCK_HOLE_GPA + 0x100, 32, INDIRECT);
	assert_broken(f, E_TBL_OUTSIDE, 0, 0);
}

/*
 * The table runs from the end of R1 into the hole. Entry 0 is mapped and
 * ends the chain, so a device that only checks entries it walks accepts
 * it; devq.h promises that a table outside guest memory breaks the queue.
 */
static void indirect_table_straddling_into_hole_breaks_queue(void **state)
{
	struct fx *f = *state;
	uint64_t t = MOCK_HOLE_GPA - 16;

	mock_desc_write(&f->m, t, 0, f->buf, 8, 0, 0);
	add_one(f, 0, t, 32, INDIRECT);
	assert_broken(f, E_TBL_OUTSIDE, 0, 0);
}

/* The table's next entry would sit in R2's guard page: must not be read. */
static void indirect_table_past_region_end_is_not_read(void **state)
{
	struct fx *f = *state;
	uint64_t t = MOCK_R2_GPA + MOCK_R2_SIZE - 16;

	mock_desc_write(&f->m, t, 0, f->buf, 8, NEXT, 1);
	add_one(f, 0, t, 32, INDIRECT);
	assert_broken(f, E_TBL_OUTSIDE, 0, 0);
}

/* VIRTIO 1.4 §2.7.4.2: device-readable before device-writable. */
static void readable_after_writable_breaks_queue(void **state)
{
	struct fx *f = *state;

	mock_split_desc(&f->vq, 0, f->buf, 16, NEXT | WRITE, 1);
	mock_split_desc(&f->vq, 1, f->buf + 16, 16, 0, 0);
	mock_split_make_avail(&f->vq, 0);
	assert_broken(f, E_RO_AFTER_WO, 0, 0);
}

static void readable_after_writable_in_indirect_table_breaks_queue(void **state)
{
	struct fx *f = *state;
	uint64_t t = mock_alloc(&f->m, 0, 48, 16);

	mock_desc_write(&f->m, t, 0, f->buf, 1, NEXT, 1);
	mock_desc_write(&f->m, t, 1, f->buf, 1, NEXT | WRITE, 2);
	mock_desc_write(&f->m, t, 2, f->buf, 1, 0, 0);
	add_one(f, 0, t, 48, INDIRECT);
	assert_broken(f, E_RO_AFTER_WO, 0, 0);
}

static void readable_indirect_after_writable_direct_breaks_queue(void **state)
{
	struct fx *f = *state;
	uint64_t t = mock_alloc(&f->m, 0, 16, 16);

	mock_desc_write(&f->m, t, 0, f->buf, 1, 0, 0);
	mock_split_desc(&f->vq, 0, f->buf, 16, NEXT | WRITE, 1);
	mock_split_desc(&f->vq, 1, t, 16, INDIRECT, 0);
	mock_split_make_avail(&f->vq, 0);
	assert_broken(f, E_RO_AFTER_WO, 0, 0);
}

static void avail_idx_more_than_queue_size_ahead_breaks_queue(void **state)
{
	struct fx *f = *state;

	mock_split_set_avail_idx(&f->vq, 9);
	assert_broken(f, E_AVAIL_JUMP, 0, 0);
}

static void avail_idx_jump_after_progress_breaks_queue(void **state)
{
	struct fx *f = *state;

	add_one(f, 0, f->buf, 1, 0);
	add_one(f, 1, f->buf, 1, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(pop(f), 1);
	mock_split_set_avail_idx(&f->vq, 2 + 9);
	assert_broken(f, E_AVAIL_JUMP, 2, 2);
}

static void avail_idx_moving_backwards_breaks_queue(void **state)
{
	struct fx *f = *state;

	add_one(f, 0, f->buf, 1, 0);
	add_one(f, 1, f->buf, 1, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(pop(f), 1);
	mock_split_set_avail_idx(&f->vq, 1); /* "unexposes" one: VIRTIO 1.4 §2.7.6.1 */
	assert_broken(f, E_AVAIL_JUMP, 2, 2);
}

static void head_out_of_range_breaks_queue(void **state)
{
	struct fx *f = *state;

	mock_split_make_avail(&f->vq, 8);
	assert_broken(f, E_HEAD_OOR, 0, 0);
}

static void head_0xffff_breaks_queue(void **state)
{
	struct fx *f = *state;

	mock_split_make_avail(&f->vq, 0xffff);
	assert_broken(f, E_HEAD_OOR, 0, 0);
}

static void head_already_in_flight_breaks_queue(void **state)
{
	struct fx *f = *state;

	mock_split_desc(&f->vq, 2, f->buf, 16, 0, 0);
	mock_split_make_avail(&f->vq, 2);
	mock_split_make_avail(&f->vq, 2);
	assert_int_equal(pop(f), 1);
	assert_broken(f, E_HEAD_INFLIGHT, 1, 1);
}

static void head_in_flight_after_enobufs_breaks_queue(void **state)
{
	struct fx *f = *state;

	mock_split_desc(&f->vq, 2, f->buf, 16, 0, 0);
	mock_split_make_avail(&f->vq, 2);
	mock_split_make_avail(&f->vq, 2);
	assert_int_equal(pop_cap(f, 0), -ENOBUFS);
	assert_broken(f, E_HEAD_INFLIGHT, 1, 1);
}

static void buffer_in_hole_breaks_queue(void **state)
{
	struct fx *f = *state;

	add_one(f, 0, MOCK_HOLE_GPA + 0x10, 16, 0);
	assert_broken(f, E_BUF_OUTSIDE, 0, 0);
}

static void buffer_straddling_into_hole_breaks_queue(void **state)
{
	struct fx *f = *state;

	add_one(f, 0, MOCK_HOLE_GPA - 8, 16, WRITE);
	assert_broken(f, E_BUF_OUTSIDE, 0, 0);
}

static void buffer_starting_in_hole_ending_in_region_breaks_queue(void **state)
{
	struct fx *f = *state;

	add_one(f, 0, MOCK_R2_GPA - 8, 16, 0);
	assert_broken(f, E_BUF_OUTSIDE, 0, 0);
}

static void buffer_beyond_all_regions_breaks_queue(void **state)
{
	struct fx *f = *state;

	add_one(f, 0, MOCK_R2_GPA + MOCK_R2_SIZE, 1, 0);
	assert_broken(f, E_BUF_OUTSIDE, 0, 0);
}

static void buffer_below_all_regions_breaks_queue(void **state)
{
	struct fx *f = *state;

	add_one(f, 0, 0, 16, 0);
	assert_broken(f, E_BUF_OUTSIDE, 0, 0);
}

static void buffer_address_plus_len_overflow_breaks_queue(void **state)
{
	struct fx *f = *state;

	add_one(f, 0, UINT64_MAX - 7, 16, 0);
	assert_broken(f, E_BUF_OUTSIDE, 0, 0);
}

static void buffer_outside_memory_in_indirect_table_breaks_queue(void **state)
{
	struct fx *f = *state;
	uint64_t t = mock_alloc(&f->m, 0, 32, 16);

	mock_desc_write(&f->m, t, 0, f->buf, 1, NEXT, 1);
	mock_desc_write(&f->m, t, 1, MOCK_HOLE_GPA - 1, 2, WRITE, 0);
	add_one(f, 0, t, 32, INDIRECT);
	assert_broken(f, E_BUF_OUTSIDE, 0, 0);
}

static void chain_longer_than_2_32_bytes_breaks_queue(void **state)
{
	struct big *b = big_setup(0);
	struct fx f;
	uint64_t g = 1ull << 32;

	(void)state;
	mock_split_desc(&b->vq, 0, g, 0x80000000u, NEXT, 1);
	mock_split_desc(&b->vq, 1, g, 0x80000000u, NEXT | WRITE, 2);
	mock_split_desc(&b->vq, 2, g, 1, WRITE, 0);
	mock_split_make_avail(&b->vq, 0);
	/* Reuse assert_broken() on a fixture view of this queue. */
	memset(&f, 0, sizeof(f));
	f.vq = b->vq;
	f.q = b->vq.devq;
	assert_broken(&f, E_CHAIN_2_32, 0, 0);
	big_free(b);
}

static void chain_longer_than_2_32_bytes_through_indirect_breaks_queue(void **state)
{
	struct big *b = big_setup(F_INDIRECT);
	struct fx f;
	uint64_t g = 1ull << 32, t = mock_alloc(&b->m, 0, 32, 16);

	(void)state;
	mock_desc_write(&b->m, t, 0, g, 0xffffffffu, NEXT, 1);
	mock_desc_write(&b->m, t, 1, g, 0xffffffffu, WRITE, 0);
	mock_split_desc(&b->vq, 0, t, 32, INDIRECT, 0);
	mock_split_make_avail(&b->vq, 0);
	memset(&f, 0, sizeof(f));
	f.vq = b->vq;
	f.q = b->vq.devq;
	assert_broken(&f, E_CHAIN_2_32, 0, 0);
	big_free(b);
}

/* ================================================================== */
/* A broken queue                                                      */
/* ================================================================== */

static void broken_queue_stays_broken_after_driver_fixes_ring(void **state)
{
	struct fx *f = *state;

	mock_split_desc(&f->vq, 0, f->buf, 16, NEXT, 0);
	mock_split_make_avail(&f->vq, 0);
	assert_int_equal(pop(f), -EIO);
	mock_split_desc(&f->vq, 0, f->buf, 16, 0, 0); /* "fixed" */
	add_one(f, 1, f->buf, 16, 0);
	assert_broken(f, E_LOOP, 0, 0);
}

static void first_violation_is_the_reason_kept(void **state)
{
	struct fx *f = *state;

	mock_split_make_avail(&f->vq, 100);
	assert_int_equal(pop(f), -EIO);
	mock_split_set_avail_idx(&f->vq, 500);
	assert_broken(f, E_HEAD_OOR, 0, 0);
}

static void push_on_broken_queue_writes_nothing(void **state)
{
	struct fx *f = *state;
	uint32_t id, len;

	add_one(f, 0, f->buf, 16, WRITE);
	mock_split_make_avail(&f->vq, 9);
	assert_int_equal(pop(f), 1);
	assert_int_equal(pop(f), -EIO);
	assert_int_equal(vio_devq_push(f->q, 0, 16), -EIO);
	assert_int_equal(vio_devq_inflight(f->q), 0);
	assert_int_equal(vio_devq_flush(f->q), 0);
	assert_int_equal(mock_split_used_idx(&f->vq), 0);
	mock_split_used_elem(&f->vq, 0, &id, &len);
	assert_int_equal(id, 0);
	assert_int_equal(len, 0);
	/* Pushed once: not in flight any more. */
	assert_int_equal(vio_devq_push(f->q, 0, 16), -EINVAL);
}

static void flush_on_broken_queue_publishes_nothing(void **state)
{
	struct fx *f = *state;

	add_one(f, 0, f->buf, 16, WRITE);
	assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_push(f->q, 0, 4), 0);
	mock_split_make_avail(&f->vq, 8);
	assert_int_equal(pop(f), -EIO);
	assert_int_equal(vio_devq_flush(f->q), 0);
	assert_int_equal(mock_split_used_idx(&f->vq), 0);
}

static void kick_calls_on_broken_queue_write_nothing(void **state)
{
	struct fx *f = *state;

	mock_split_make_avail(&f->vq, 8);
	assert_int_equal(pop(f), -EIO);
	vio_devq_kick_disable(f->q);
	assert_int_equal(mock_split_used_flags(&f->vq), 0);
	assert_int_equal(vio_devq_kick_enable(f->q), 0);
	assert_int_equal(mock_split_used_flags(&f->vq), 0);
	assert_int_equal(mock_split_avail_event(&f->vq), 0);
}

/*
 * After the queue broke, the driver points every ring field at garbage
 * outside guest memory; pop must not follow any of it (the mock's guard
 * pages and ASan would catch a stray read).
 */
static void broken_queue_never_reads_the_ring_again(void **state)
{
	struct fx *f = *state;
	uint32_t i;

	mock_split_make_avail(&f->vq, 8);
	assert_int_equal(pop(f), -EIO);
	for (i = 0; i < 8; i++) {
		mock_split_desc(&f->vq, (uint16_t)i, MOCK_HOLE_GPA, 0xffffffffu, NEXT | INDIRECT, 0xffff);
		mock_split_set_avail_ring(&f->vq, i, 0xffff);
	}
	mock_split_set_avail_idx(&f->vq, 0x8000);
	assert_broken(f, E_HEAD_OOR, 0, 0);
}

/* ================================================================== */
/* push / flush                                                        */
/* ================================================================== */

static void push_is_invisible_until_flush(void **state)
{
	struct fx *f = *state;
	struct mock_used u;

	add_one(f, 0, f->buf, 16, WRITE);
	assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_push(f->q, 0, 16), 0);
	assert_int_equal(mock_split_used_idx(&f->vq), 0);
	assert_int_equal(mock_vq_used(&f->vq, &u), 0);
	assert_int_equal(vio_devq_flush(f->q), 1);
	assert_int_equal(mock_split_used_idx(&f->vq), 1);
}

static void flush_publishes_batch_in_push_order_with_lengths(void **state)
{
	struct fx *f = *state;
	uint32_t id, len;

	add_one(f, 4, f->buf, 100, WRITE);
	add_one(f, 1, f->buf + 100, 200, WRITE);
	add_one(f, 6, f->buf + 300, 300, WRITE);
	assert_int_equal(pop(f), 1);
	assert_int_equal(pop(f), 1);
	assert_int_equal(pop(f), 1);
	/* Out of order: 6, 4, 1. */
	assert_int_equal(vio_devq_push(f->q, 6, 33), 0);
	assert_int_equal(vio_devq_push(f->q, 4, 11), 0);
	assert_int_equal(vio_devq_push(f->q, 1, 22), 0);
	assert_int_equal(mock_split_used_idx(&f->vq), 0);
	assert_int_equal(vio_devq_inflight(f->q), 0);
	assert_int_equal(vio_devq_flush(f->q), 1);
	assert_int_equal(mock_split_used_idx(&f->vq), 3);
	mock_split_used_elem(&f->vq, 0, &id, &len);
	assert_int_equal(id, 6);
	assert_int_equal(len, 33);
	mock_split_used_elem(&f->vq, 1, &id, &len);
	assert_int_equal(id, 4);
	assert_int_equal(len, 11);
	mock_split_used_elem(&f->vq, 2, &id, &len);
	assert_int_equal(id, 1);
	assert_int_equal(len, 22);
}

static void flush_with_nothing_pushed_returns_0(void **state)
{
	struct fx *f = *state;

	assert_int_equal(vio_devq_flush(f->q), 0);
	add_one(f, 0, f->buf, 16, WRITE);
	assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_push(f->q, 0, 1), 0);
	assert_int_equal(vio_devq_flush(f->q), 1);
	assert_int_equal(vio_devq_flush(f->q), 0);
	assert_int_equal(mock_split_used_idx(&f->vq), 1);
}

static void push_len_clamped_to_writable_size(void **state)
{
	struct fx *f = *state;
	struct mock_used u;

	mock_vq_add(&f->vq, (struct mock_buf[]){ { f->buf, 512, false }, { f->buf + 512, 10, true },
						{ MOCK_R1_GPA - 3, 6, true } }, 3, MOCK_DIRECT);
	assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_push(f->q, f->c.id, 1000), 0);
	vio_devq_flush(f->q);
	assert_int_equal(mock_vq_used(&f->vq, &u), 1);
	assert_int_equal(u.len, 16);
}

static void push_len_on_readonly_chain_is_0(void **state)
{
	struct fx *f = *state;
	struct mock_used u;

	mock_vq_add(&f->vq, (struct mock_buf[]){ { f->buf, 512, false } }, 1, MOCK_DIRECT);
	assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_push(f->q, f->c.id, 5), 0);
	vio_devq_flush(f->q);
	assert_int_equal(mock_vq_used(&f->vq, &u), 1);
	assert_int_equal(u.len, 0);
}

static void push_len_below_writable_size_is_kept(void **state)
{
	struct fx *f = *state;
	struct mock_used u;

	mock_vq_add(&f->vq, (struct mock_buf[]){ { f->buf, 512, true } }, 1, MOCK_DIRECT);
	assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_push(f->q, f->c.id, 511), 0);
	vio_devq_flush(f->q);
	assert_int_equal(mock_vq_used(&f->vq, &u), 1);
	assert_int_equal(u.len, 511);
}

static void push_id_never_popped_is_einval(void **state)
{
	struct fx *f = *state;

	assert_int_equal(vio_devq_push(f->q, 0, 0), -EINVAL);
	add_one(f, 3, f->buf, 1, 0);
	assert_int_equal(vio_devq_push(f->q, 3, 0), -EINVAL); /* available, not popped */
	assert_int_equal(vio_devq_flush(f->q), 0);
	assert_int_equal(mock_split_used_idx(&f->vq), 0);
	assert_int_equal(vio_devq_inflight(f->q), 0);
	assert_null(vio_devq_error(f->q));
}

static void push_id_out_of_range_is_einval(void **state)
{
	struct fx *f = *state;

	assert_int_equal(vio_devq_push(f->q, 8, 0), -EINVAL);
	assert_int_equal(vio_devq_push(f->q, 0xffff, 0), -EINVAL);
	assert_null(vio_devq_error(f->q));
}

static void push_same_id_twice_is_einval(void **state)
{
	struct fx *f = *state;

	add_one(f, 2, f->buf, 1, WRITE);
	assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_push(f->q, 2, 1), 0);
	assert_int_equal(vio_devq_push(f->q, 2, 1), -EINVAL);
	assert_int_equal(vio_devq_flush(f->q), 1);
	assert_int_equal(mock_split_used_idx(&f->vq), 1);
}

static void pushed_head_can_be_made_available_again(void **state)
{
	struct fx *f = *state;

	add_one(f, 2, f->buf, 1, WRITE);
	assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_push(f->q, 2, 1), 0);
	vio_devq_flush(f->q);
	mock_split_make_avail(&f->vq, 2);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.id, 2);
	assert_null(vio_devq_error(f->q));
}

static void inflight_counts_popped_not_pushed(void **state)
{
	struct fx *f = *state;

	add_one(f, 0, f->buf, 1, 0);
	add_one(f, 1, f->buf, 1, 0);
	add_one(f, 2, f->buf, 1, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_inflight(f->q), 2);
	assert_int_equal(vio_devq_push(f->q, 1, 0), 0);
	assert_int_equal(vio_devq_inflight(f->q), 1);
	assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_inflight(f->q), 2);
}

/* ================================================================== */
/* Notification suppression                                            */
/* ================================================================== */

/* Pops and pushes @n one-descriptor chains (heads 0..n-1), then flushes. */
static int complete_n(struct fx *f, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		uint16_t h = (uint16_t)(f->vq.avail_idx % f->p.num);

		add_one(f, h, f->buf, 1, WRITE);
		assert_int_equal(pop(f), 1);
		assert_int_equal(vio_devq_push(f->q, h, 1), 0);
	}
	return vio_devq_flush(f->q);
}

/* VIRTIO 1.4 §2.7.7.2 */
static void flush_notifies_when_avail_flags_0(void **state)
{
	struct fx *f = *state;

	assert_int_equal(complete_n(f, 1), 1);
	assert_int_equal(complete_n(f, 3), 1);
}

static void flush_suppressed_by_no_interrupt_flag(void **state)
{
	struct fx *f = *state;

	mock_split_set_avail_flags(&f->vq, VIRTQ_AVAIL_F_NO_INTERRUPT);
	assert_int_equal(complete_n(f, 1), 0);
	assert_int_equal(mock_split_used_idx(&f->vq), 1); /* published all the same */
	mock_split_set_avail_flags(&f->vq, 0);
	assert_int_equal(complete_n(f, 1), 1);
}

static void flush_ignores_used_event_without_event_idx(void **state)
{
	struct fx *f = *state;

	mock_split_set_used_event(&f->vq, 100);
	assert_int_equal(complete_n(f, 1), 1);
	mock_split_set_avail_flags(&f->vq, VIRTQ_AVAIL_F_NO_INTERRUPT);
	mock_split_set_used_event(&f->vq, 1);
	assert_int_equal(complete_n(f, 1), 0);
}

static void flush_notifies_when_used_event_reached(void **state)
{
	struct fx *f = *state;

	mock_split_set_used_event(&f->vq, 0);
	assert_int_equal(complete_n(f, 1), 1); /* used idx 0 -> 1 wrote entry 0 */
}

static void flush_suppressed_before_used_event(void **state)
{
	struct fx *f = *state;

	mock_split_set_used_event(&f->vq, 2);
	assert_int_equal(complete_n(f, 1), 0); /* entry 0 */
	assert_int_equal(complete_n(f, 1), 0); /* entry 1 */
	assert_int_equal(complete_n(f, 1), 1); /* entry 2 == used_event */
	assert_int_equal(complete_n(f, 1), 0); /* entry 3: passed */
}

static void flush_batch_crossing_used_event_notifies_once(void **state)
{
	struct fx *f = *state;

	mock_split_set_used_event(&f->vq, 4);
	assert_int_equal(complete_n(f, 3), 0); /* entries 0..2 */
	assert_int_equal(complete_n(f, 3), 1); /* entries 3..5 include 4 */
	assert_int_equal(complete_n(f, 3), 0); /* 6..8 */
}

static void flush_used_event_behind_does_not_notify(void **state)
{
	struct fx *f = *state;

	assert_int_equal(complete_n(f, 4), 1); /* used_event 0 */
	mock_split_set_used_event(&f->vq, 1);  /* the driver lags behind */
	assert_int_equal(complete_n(f, 2), 0);
}

/* VIRTIO 1.4 §2.7.7.2: with EVENT_IDX the device MUST ignore the lower bit of flags. */
static void flush_ignores_no_interrupt_flag_with_event_idx(void **state)
{
	struct fx *f = *state;

	mock_split_set_avail_flags(&f->vq, VIRTQ_AVAIL_F_NO_INTERRUPT);
	mock_split_set_used_event(&f->vq, 0);
	assert_int_equal(complete_n(f, 1), 1);
}

static void flush_used_event_across_16_bit_wrap(void **state)
{
	struct fx *f = *state;
	struct vio_devq_config cfg;

	/* Resume with used idx 0xfffe, avail idx 0xfffe. */
	mock_split_set_used_idx(&f->vq, 0xfffe);
	mock_split_set_avail_idx(&f->vq, 0xfffe);
	mock_vq_config(&f->vq, &cfg);
	cfg.base = 0xfffe;
	assert_int_equal(mock_vq_devq_init(&f->vq, &cfg), 0);
	f->q = f->vq.devq;
	mock_split_set_used_event(&f->vq, 0x0000);
	assert_int_equal(complete_n(f, 1), 0);  /* entry 0xfffe */
	assert_int_equal(complete_n(f, 2), 1);  /* entries 0xffff, 0x0000 */
	assert_int_equal(mock_split_used_idx(&f->vq), 1);
	mock_split_set_used_event(&f->vq, 0xffff); /* far behind now */
	assert_int_equal(complete_n(f, 1), 0);
}

/* VIRTIO 1.4 §2.7.10.2 */
static void kick_disable_sets_no_notify_without_event_idx(void **state)
{
	struct fx *f = *state;

	vio_devq_kick_disable(f->q);
	assert_int_equal(mock_split_used_flags(&f->vq), VIRTQ_USED_F_NO_NOTIFY);
	assert_int_equal(mock_split_avail_event(&f->vq), 0);
}

static void kick_enable_clears_no_notify_and_returns_0_when_empty(void **state)
{
	struct fx *f = *state;

	vio_devq_kick_disable(f->q);
	assert_int_equal(vio_devq_kick_enable(f->q), 0);
	assert_int_equal(mock_split_used_flags(&f->vq), 0);
}

static void kick_enable_returns_1_when_more_available(void **state)
{
	struct fx *f = *state;

	add_one(f, 0, f->buf, 1, 0);
	add_one(f, 1, f->buf, 1, 0);
	vio_devq_kick_disable(f->q);
	assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_kick_enable(f->q), 1);
	assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_kick_enable(f->q), 0);
}

static void kick_enable_does_not_consume(void **state)
{
	struct fx *f = *state;

	add_one(f, 0, f->buf, 1, 0);
	assert_int_equal(vio_devq_kick_enable(f->q), 1);
	assert_int_equal(vio_devq_kick_enable(f->q), 1);
	assert_int_equal(vio_devq_base(f->q), 0);
	assert_int_equal(pop(f), 1);
}

static void kick_disable_writes_nothing_with_event_idx(void **state)
{
	struct fx *f = *state;

	vio_devq_kick_disable(f->q);
	assert_int_equal(mock_split_used_flags(&f->vq), 0);
	assert_int_equal(mock_split_avail_event(&f->vq), 0);
}

static void kick_enable_publishes_avail_event_with_event_idx(void **state)
{
	struct fx *f = *state;
	unsigned i;

	for (i = 0; i < 5; i++) {
		add_one(f, (uint16_t)i, f->buf, 1, 0);
		assert_int_equal(pop(f), 1);
	}
	vio_devq_kick_disable(f->q);
	assert_int_equal(vio_devq_kick_enable(f->q), 0);
	assert_int_equal(mock_split_avail_event(&f->vq), 5);
	assert_int_equal(mock_split_used_flags(&f->vq), 0); /* MUST be 0 with EVENT_IDX */
}

static void kick_enable_returns_1_when_more_available_with_event_idx(void **state)
{
	struct fx *f = *state;

	add_one(f, 0, f->buf, 1, 0);
	add_one(f, 1, f->buf, 1, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_kick_enable(f->q), 1);
	assert_int_equal(mock_split_avail_event(&f->vq), 1);
}

/* ================================================================== */
/* Index wrap-around                                                   */
/* ================================================================== */

static void indices_wrap_at_16_bits(void **state)
{
	struct fx *f = *state;
	struct vio_devq_config cfg;
	struct mock_used u;
	unsigned i;

	mock_split_set_used_idx(&f->vq, 0xfffa);
	mock_split_set_avail_idx(&f->vq, 0xfffa);
	mock_vq_config(&f->vq, &cfg);
	cfg.base = 0xfffa;
	assert_int_equal(mock_vq_devq_init(&f->vq, &cfg), 0);
	f->q = f->vq.devq;
	for (i = 0; i < 20; i++) {
		int head = mock_vq_add(&f->vq, (struct mock_buf[]){ { f->buf, 4, false }, { f->buf + 8, 4, true } },
				       2, MOCK_DIRECT);

		assert_true(head >= 0);
		assert_int_equal(pop(f), 1);
		assert_int_equal(f->c.id, head);
		assert_int_equal(vio_devq_push(f->q, f->c.id, i), 0);
		vio_devq_flush(f->q);
		assert_int_equal(mock_vq_used(&f->vq, &u), 1);
		assert_int_equal(u.id, head);
		assert_int_equal(u.len, i < 4 ? i : 4);
	}
	assert_int_equal(vio_devq_base(f->q), (0xfffa + 20) & 0xffff);
	assert_int_equal(mock_split_used_idx(&f->vq), (0xfffa + 20) & 0xffff);
	assert_null(vio_devq_error(f->q));
}

/* ---- the randomised run ---- */

struct rng { uint64_t s; };

static uint64_t rnd(struct rng *r)
{
	/* xorshift64* */
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545f4914f6cdd1dull;
}

static uint32_t below(struct rng *r, uint32_t n)
{
	return (uint32_t)(rnd(r) % n);
}

#define MAXB 6

struct req {
	struct mock_buf b[MAXB];
	unsigned n;
	int indirect_at;
	int head;
	uint64_t in_bytes;
	bool enobufs;
};

/* Expected iovecs of buffer @b, computed from the layout: one per region. */
static unsigned expect_iov(struct fx *f, const struct mock_buf *b, struct iovec *out)
{
	if (b->len == 0)
		return 0;
	if (b->gpa < MOCK_R1_GPA && b->gpa + b->len > MOCK_R1_GPA) {
		out[0].iov_base = hva(f, b->gpa);
		out[0].iov_len = MOCK_R1_GPA - b->gpa;
		out[1].iov_base = hva(f, MOCK_R1_GPA);
		out[1].iov_len = b->gpa + b->len - MOCK_R1_GPA;
		return 2;
	}
	out[0].iov_base = hva(f, b->gpa);
	out[0].iov_len = b->len;
	return 1;
}

static void random_buf(struct fx *f, struct rng *r, struct mock_buf *b)
{
	uint32_t k;

	switch (below(r, 5)) {
	case 0: /* straddles R0 / R1 */
		k = 1 + below(r, 512);
		b->gpa = MOCK_R1_GPA - k;
		b->len = k + 1 + below(r, 512);
		break;
	case 1:
		b->gpa = MOCK_R1_GPA + below(r, 0x8000);
		b->len = below(r, 4096);
		break;
	case 2:
		b->gpa = MOCK_R2_GPA + below(r, 0x8000);
		b->len = 1 + below(r, 4096);
		break;
	case 3: /* ends exactly at R2's last byte */
		b->len = 1 + below(r, 64);
		b->gpa = MOCK_R2_GPA + MOCK_R2_SIZE - b->len;
		break;
	default:
		b->gpa = f->buf + below(r, 0x8000);
		b->len = below(r, 0x8000);
		break;
	}
}

static void random_chains_over_many_wraps(void **state)
{
	struct fx *f = *state;
	const uint32_t num = f->p.num;
	const bool indirect = f->p.features & F_INDIRECT;
	const bool event = f->p.features & F_EVENT;
	struct rng r = { 0x9e3779b97f4a7c15ull ^ f->p.features ^ num };
	struct req *reqs = calloc(num, sizeof(*reqs));           /* by head */
	uint16_t *fifo = calloc(65536, sizeof(*fifo));             /* heads in avail order */
	uint16_t *pushed_id = calloc(65536, sizeof(*pushed_id));   /* pushes in order */
	uint32_t *pushed_len = calloc(65536, sizeof(*pushed_len));
	uint16_t *dev_inflight = calloc(num, sizeof(*dev_inflight));
	uint32_t n_dev_inflight = 0;
	uint64_t added = 0, popped = 0, pushed = 0, flushed = 0, reaped = 0;
	uint64_t notifies = 0, enobufs = 0, indirects = 0, straddles = 0;
	const uint64_t target = 200000;

	assert_non_null(reqs);
	assert_non_null(fifo);
	assert_non_null(pushed_id);
	assert_non_null(pushed_len);
	assert_non_null(dev_inflight);

	while (reaped < target) {
		uint32_t action = below(&r, 100);

		if (action < 35) {
			/* Driver: add a chain with a random shape. */
			struct req q;
			unsigned i, nread;
			int head;

			memset(&q, 0, sizeof(q));
			q.n = 1 + below(&r, MAXB);
			nread = below(&r, q.n + 1);
			for (i = 0; i < q.n; i++) {
				random_buf(f, &r, &q.b[i]);
				q.b[i].writable = i >= nread;
				if (q.b[i].writable)
					q.in_bytes += q.b[i].len;
				if (q.b[i].gpa < MOCK_R1_GPA && q.b[i].gpa + q.b[i].len > MOCK_R1_GPA)
					straddles++;
			}
			q.indirect_at = indirect && below(&r, 2) ? (int)below(&r, q.n) : MOCK_DIRECT;
			head = mock_vq_add(&f->vq, q.b, q.n, q.indirect_at);
			if (head == -ENOSPC)
				continue;
			assert_true(head >= 0 && (uint32_t)head < num);
			if (q.indirect_at >= 0)
				indirects++;
			q.head = head;
			reqs[head] = q;
			fifo[added++ & 0xffff] = (uint16_t)head;
		} else if (action < 65) {
			/* Device: pop, and check the chain is exactly what was written. */
			struct iovec exp[2 * MAXB];
			unsigned ne = 0, nout = 0, i;
			struct req *q;
			uint32_t cap = IOV_CAP;
			int ret;

			if (popped == added) {
				assert_int_equal(pop(f), 0);
				continue;
			}
			q = &reqs[fifo[popped & 0xffff]];
			for (i = 0; i < q->n; i++) {
				unsigned k = expect_iov(f, &q->b[i], &exp[ne]);

				ne += k;
				if (!q->b[i].writable)
					nout += k;
			}
			q->enobufs = ne > 0 && below(&r, 20) == 0;
			if (q->enobufs)
				cap = below(&r, ne);
			ret = pop_cap(f, cap);
			assert_int_equal(f->c.id, q->head);
			assert_int_equal(f->c.ndesc, q->indirect_at < 0 ? q->n : (unsigned)q->indirect_at + 1);
			if (q->enobufs) {
				assert_int_equal(ret, -ENOBUFS);
				enobufs++;
			} else {
				assert_int_equal(ret, 1);
				assert_int_equal(f->c.nout, nout);
				assert_int_equal(f->c.nin, ne - nout);
				assert_true(f->c.in_bytes == q->in_bytes);
				for (i = 0; i < ne; i++)
					assert_iov(&f->iov[i], exp[i].iov_base, exp[i].iov_len);
			}
			popped++;
			dev_inflight[n_dev_inflight++] = (uint16_t)q->head;
			assert_int_equal(vio_devq_inflight(f->q), n_dev_inflight);
		} else if (action < 85) {
			/* Device: complete a random in-flight chain. */
			uint32_t k, len, want;
			uint16_t id;

			if (!n_dev_inflight)
				continue;
			k = below(&r, n_dev_inflight);
			id = dev_inflight[k];
			dev_inflight[k] = dev_inflight[--n_dev_inflight];
			len = below(&r, (uint32_t)reqs[id].in_bytes + 64);
			want = reqs[id].enobufs ? 0 : (len < reqs[id].in_bytes ? len : (uint32_t)reqs[id].in_bytes);
			assert_int_equal(vio_devq_push(f->q, id, reqs[id].enobufs ? 0 : len), 0);
			pushed_id[pushed & 0xffff] = id;
			pushed_len[pushed & 0xffff] = want;
			pushed++;
		} else if (action < 95) {
			/* Driver sets suppression; device flushes; driver reaps. */
			uint16_t old = (uint16_t)flushed, new_idx = (uint16_t)pushed;
			uint16_t ue = (uint16_t)(old + below(&r, 8) - 2);
			uint16_t flags = (uint16_t)below(&r, 2);
			int want, got;
			struct mock_used u;

			mock_split_set_used_event(&f->vq, ue);
			mock_split_set_avail_flags(&f->vq, flags);
			if (pushed == flushed)
				want = 0;
			else if (event)
				want = (uint16_t)(ue - old) < (uint16_t)(new_idx - old);
			else
				want = flags == 0;
			got = vio_devq_flush(f->q);
			assert_int_equal(got, want);
			notifies += (uint64_t)got;
			flushed = pushed;
			assert_int_equal(mock_split_used_idx(&f->vq), (uint16_t)flushed);
			while (reaped < flushed) {
				assert_int_equal(mock_vq_used(&f->vq, &u), 1);
				assert_int_equal(u.id, pushed_id[reaped & 0xffff]);
				assert_int_equal(u.len, pushed_len[reaped & 0xffff]);
				reaped++;
			}
			assert_int_equal(mock_vq_used(&f->vq, &u), 0);
		} else {
			/* Device: toggles available buffer notifications. */
			int more;

			vio_devq_kick_disable(f->q);
			if (!event)
				assert_int_equal(mock_split_used_flags(&f->vq), VIRTQ_USED_F_NO_NOTIFY);
			more = vio_devq_kick_enable(f->q);
			assert_int_equal(more, added != popped);
			assert_int_equal(mock_split_used_flags(&f->vq), 0);
			if (event)
				assert_int_equal(mock_split_avail_event(&f->vq), (uint16_t)popped);
		}
	}
	assert_null(vio_devq_error(f->q));
	assert_int_equal(vio_devq_base(f->q), (uint16_t)popped);
	/* The run did what it claims: wrapped the 16-bit indices, and hit each shape. */
	assert_true(popped > 3 * 65536);
	assert_true(straddles > 1000);
	assert_true(enobufs > 100);
	assert_true(notifies > 1000);
	if (indirect)
		assert_true(indirects > 1000);
	free(reqs);
	free(fifo);
	free(pushed_id);
	free(pushed_len);
	free(dev_inflight);
}

/* ================================================================== */

#define T(f, p) { #f "/" #p, f, setup, teardown, (void *)&(p) }
/* One entry per feature combination, named after it. */
#define MATRIX(f)                                                           \
	{ #f "/plain", f, setup, teardown, (void *)&P_PLAIN },              \
	{ #f "/indirect", f, setup, teardown, (void *)&P_IND },             \
	{ #f "/event_idx", f, setup, teardown, (void *)&P_EVENT },          \
	{ #f "/indirect+event_idx", f, setup, teardown, (void *)&P_IND_EVENT }

static const struct params P_STRESS_PLAIN = { 32, 0 };
static const struct params P_STRESS_IND = { 32, F_INDIRECT };
static const struct params P_STRESS_EVENT = { 32, F_EVENT };
static const struct params P_STRESS_IND_EVENT = { 16, F_INDIRECT | F_EVENT };

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(devq_size_is_0_for_num_0_or_above_32768),
		T(init_rejects_num_0, P_IND),
		T(init_rejects_num_not_power_of_2, P_IND),
		T(init_rejects_num_above_32768, P_IND),
		T(init_rejects_desc_not_16_aligned, P_IND),
		T(init_rejects_avail_not_2_aligned, P_IND),
		T(init_rejects_used_not_4_aligned, P_IND),
		T(init_rejects_null_desc, P_IND),
		T(init_rejects_null_avail, P_IND),
		T(init_rejects_null_used, P_IND),
		T(init_rejects_null_mem, P_IND),
		T(init_rejects_base_above_16_bits, P_IND),
		cmocka_unit_test(init_accepts_queue_sizes_1_and_32768),
		MATRIX(init_starts_popping_at_config_base),
		MATRIX(init_takes_used_idx_from_used_ring),
		T(init_starts_with_nothing_in_flight_and_not_broken, P_IND),

		MATRIX(pop_on_empty_ring_returns_0),
		MATRIX(pop_ignores_entries_not_yet_published),
		MATRIX(pop_single_readable_buffer),
		MATRIX(pop_direct_chain_readable_then_writable),
		MATRIX(pop_writable_only_chain),
		MATRIX(pop_follows_next_in_any_table_order),
		MATRIX(pop_chain_of_queue_size_descriptors_is_accepted),
		MATRIX(pop_zero_length_buffer_gives_no_iovec),
		MATRIX(pop_buffer_straddling_two_regions_gives_two_iovecs),
		MATRIX(pop_buffer_filling_last_byte_of_region_is_accepted),
		T(pop_indirect_chain, P_IND),
		T(pop_indirect_chain, P_IND_EVENT),
		T(pop_indirect_table_straddling_two_regions, P_IND),
		T(pop_direct_then_indirect_chain, P_IND),
		T(pop_direct_then_indirect_chain, P_IND_EVENT),
		T(pop_ignores_write_flag_on_indirect_descriptor, P_IND),
		T(pop_indirect_table_of_32768_entries_is_accepted, P_IND),
		T(pop_indirect_chain_using_every_table_entry_is_accepted, P_IND),
		MATRIX(pop_avail_idx_exactly_queue_size_ahead_is_accepted),
		MATRIX(pop_returns_chains_in_avail_order),
		cmocka_unit_test(pop_chain_of_exactly_2_32_bytes_is_accepted),

		MATRIX(pop_enobufs_when_iov_cap_too_small_keeps_chain_in_flight),
		MATRIX(pop_enobufs_chain_can_be_pushed_with_len_0),
		T(pop_enobufs_for_straddling_buffer_needing_second_iovec, P_IND),
		T(pop_enobufs_with_zero_iov_cap, P_IND),
		T(pop_enobufs_still_validates_rest_of_chain, P_IND),
		T(pop_enobufs_still_checks_descriptor_order, P_IND),

		T(loop_to_itself_breaks_queue, P_IND),
		T(loop_between_two_descriptors_breaks_queue, P_PLAIN),
		T(loop_back_after_every_descriptor_breaks_queue, P_IND),
		T(loop_detected_at_queue_size_plus_one_links, P_IND),
		T(indirect_loop_detected_at_table_size_plus_one_links, P_IND),
		T(loop_inside_indirect_table_breaks_queue, P_IND),
		T(loop_to_itself_inside_indirect_table_breaks_queue, P_IND),
		T(next_out_of_range_breaks_queue, P_IND),
		T(next_0xffff_breaks_queue, P_PLAIN),
		T(indirect_next_out_of_range_breaks_queue, P_IND),
		T(nested_indirect_breaks_queue, P_IND),
		T(indirect_without_feature_breaks_queue, P_PLAIN),
		T(indirect_without_feature_breaks_queue, P_EVENT),
		T(indirect_together_with_next_breaks_queue, P_IND),
		T(indirect_length_0_breaks_queue, P_IND),
		T(indirect_length_not_multiple_of_16_breaks_queue, P_IND),
		T(indirect_length_below_16_breaks_queue, P_IND),
		T(indirect_length_above_16x32768_breaks_queue, P_IND),
		T(indirect_table_address_overflow_breaks_queue, P_IND),
		T(indirect_table_in_hole_breaks_queue, P_IND),
		T(indirect_table_straddling_into_hole_breaks_queue, P_IND),
		T(indirect_table_past_region_end_is_not_read, P_IND),
		T(readable_after_writable_breaks_queue, P_PLAIN),
		T(readable_after_writable_in_indirect_table_breaks_queue, P_IND),
		T(readable_indirect_after_writable_direct_breaks_queue, P_IND),
		MATRIX(avail_idx_more_than_queue_size_ahead_breaks_queue),
		T(avail_idx_jump_after_progress_breaks_queue, P_IND),
		T(avail_idx_moving_backwards_breaks_queue, P_IND),
		MATRIX(head_out_of_range_breaks_queue),
		T(head_0xffff_breaks_queue, P_IND),
		MATRIX(head_already_in_flight_breaks_queue),
		T(head_in_flight_after_enobufs_breaks_queue, P_IND),
		T(buffer_in_hole_breaks_queue, P_IND),
		T(buffer_straddling_into_hole_breaks_queue, P_IND),
		T(buffer_starting_in_hole_ending_in_region_breaks_queue, P_IND),
		T(buffer_beyond_all_regions_breaks_queue, P_IND),
		T(buffer_below_all_regions_breaks_queue, P_IND),
		T(buffer_address_plus_len_overflow_breaks_queue, P_IND),
		T(buffer_outside_memory_in_indirect_table_breaks_queue, P_IND),
		cmocka_unit_test(chain_longer_than_2_32_bytes_breaks_queue),
		cmocka_unit_test(chain_longer_than_2_32_bytes_through_indirect_breaks_queue),

		T(broken_queue_stays_broken_after_driver_fixes_ring, P_IND),
		T(first_violation_is_the_reason_kept, P_IND),
		T(push_on_broken_queue_writes_nothing, P_IND),
		T(flush_on_broken_queue_publishes_nothing, P_IND),
		T(kick_calls_on_broken_queue_write_nothing, P_PLAIN),
		T(kick_calls_on_broken_queue_write_nothing, P_EVENT),
		T(broken_queue_never_reads_the_ring_again, P_IND),

		MATRIX(push_is_invisible_until_flush),
		MATRIX(flush_publishes_batch_in_push_order_with_lengths),
		MATRIX(flush_with_nothing_pushed_returns_0),
		MATRIX(push_len_clamped_to_writable_size),
		MATRIX(push_len_on_readonly_chain_is_0),
		MATRIX(push_len_below_writable_size_is_kept),
		T(push_id_never_popped_is_einval, P_IND),
		T(push_id_out_of_range_is_einval, P_IND),
		T(push_same_id_twice_is_einval, P_IND),
		MATRIX(pushed_head_can_be_made_available_again),
		T(inflight_counts_popped_not_pushed, P_IND),

		T(flush_notifies_when_avail_flags_0, P_PLAIN),
		T(flush_suppressed_by_no_interrupt_flag, P_PLAIN),
		T(flush_ignores_used_event_without_event_idx, P_PLAIN),
		T(flush_notifies_when_used_event_reached, P_EVENT),
		T(flush_suppressed_before_used_event, P_EVENT),
		T(flush_batch_crossing_used_event_notifies_once, P_EVENT),
		T(flush_used_event_behind_does_not_notify, P_EVENT),
		T(flush_ignores_no_interrupt_flag_with_event_idx, P_EVENT),
		T(flush_used_event_across_16_bit_wrap, P_IND_EVENT),
		T(kick_disable_sets_no_notify_without_event_idx, P_PLAIN),
		T(kick_enable_clears_no_notify_and_returns_0_when_empty, P_PLAIN),
		T(kick_enable_returns_1_when_more_available, P_PLAIN),
		MATRIX(kick_enable_does_not_consume),
		T(kick_disable_writes_nothing_with_event_idx, P_EVENT),
		T(kick_enable_publishes_avail_event_with_event_idx, P_EVENT),
		T(kick_enable_returns_1_when_more_available_with_event_idx, P_IND_EVENT),

		MATRIX(indices_wrap_at_16_bits),
		{ "random_chains_over_many_wraps/plain", random_chains_over_many_wraps, setup, teardown,
		  (void *)&P_STRESS_PLAIN },
		{ "random_chains_over_many_wraps/indirect", random_chains_over_many_wraps, setup, teardown,
		  (void *)&P_STRESS_IND },
		{ "random_chains_over_many_wraps/event_idx", random_chains_over_many_wraps, setup, teardown,
		  (void *)&P_STRESS_EVENT },
		{ "random_chains_over_many_wraps/indirect+event_idx", random_chains_over_many_wraps, setup,
		  teardown, (void *)&P_STRESS_IND_EVENT },
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
