/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the device side of the packed virtqueue (src/ring/, VIRTIO
 * 1.4 §2.8), driven by the mock driver: every ring rule of
 * include/vio/devq.h is shown to be enforced for the packed layout, and the
 * good paths return exactly what the driver wrote, over the feature matrix
 * {indirect} x {event_idx} x {in_order}. The seeded random model check at
 * the end runs the packed layout over the whole matrix and the split layout
 * with VIRTIO_F_IN_ORDER (the directed IN_ORDER tests of both layouts are in
 * test_in_order_dev.c).
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "mock_driver.h"

/* The reasons vio_devq_error() gives (src/ring/). */
#define E_RO_AFTER_WO   "device-readable descriptor after a device-writable one"
#define E_CHAIN_2_32    "descriptor chain longer than 2^32 bytes"
#define E_BUF_OUTSIDE   "buffer outside guest memory"
#define E_TBL_OUTSIDE   "indirect table outside guest memory"
#define E_IND_NOFEAT    "VIRTQ_DESC_F_INDIRECT without VIRTIO_F_INDIRECT_DESC"
#define E_IND_LEN       "indirect table length not a multiple of 16 in 16..16*32768"
#define E_IND_OVERFLOW  "indirect table address overflows"
#define E_IND_NESTED    "nested indirect descriptor"
#define E_IND_IN_LIST   "indirect descriptor inside a descriptor list"
#define E_NOT_AVAIL     "descriptor list continues into a descriptor not available"
#define E_LIST_LONG     "descriptor list longer than the queue"
#define E_TOO_MANY      "more descriptors in flight than the queue size"
#define E_ID_OOR        "buffer id out of range"
#define E_ID_INFLIGHT   "buffer id already in flight"

#define F_INDIRECT VIO_BIT(VIRTIO_F_INDIRECT_DESC)
#define F_EVENT    VIO_BIT(VIRTIO_F_EVENT_IDX)
#define F_IN_ORDER VIO_BIT(VIRTIO_F_IN_ORDER)
#define NEXT       VIRTQ_DESC_F_NEXT
#define WRITE      VIRTQ_DESC_F_WRITE
#define INDIRECT   VIRTQ_DESC_F_INDIRECT
#define AVAIL      VIRTQ_DESC_F_AVAIL
#define USED       VIRTQ_DESC_F_USED
#define FRESH_BASE 0x80008000u

#define IOV_CAP 64

struct params {
	enum mock_layout layout;
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
	bool in_order, event, indirect;
};

/* The matrix, Queue Size 7 (not a power of two). */
static const struct params P_PLAIN = { MOCK_PACKED, 7, 0 };
static const struct params P_IND = { MOCK_PACKED, 7, F_INDIRECT };
static const struct params P_EVENT = { MOCK_PACKED, 7, F_EVENT };
static const struct params P_IND_EVENT = { MOCK_PACKED, 7, F_INDIRECT | F_EVENT };
static const struct params P_ORD = { MOCK_PACKED, 7, F_IN_ORDER };
static const struct params P_IND_ORD = { MOCK_PACKED, 7, F_INDIRECT | F_IN_ORDER };
static const struct params P_EVENT_ORD = { MOCK_PACKED, 7, F_EVENT | F_IN_ORDER };
static const struct params P_ALL = { MOCK_PACKED, 7, F_INDIRECT | F_EVENT | F_IN_ORDER };

static int setup(void **state)
{
	const struct params *p = *state ? *state : &P_IND;
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->p = *p;
	f->in_order = p->features & F_IN_ORDER;
	f->event = p->features & F_EVENT;
	f->indirect = p->features & F_INDIRECT;
	mock_mem_init_default(&f->m);
	assert_int_equal(mock_vq_init(&f->vq, &f->m, p->layout, p->num, p->features), 0);
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

/* A descriptor at the driver's cursor (the first of a batch held back). */
static uint32_t put(struct fx *f, uint64_t addr, uint32_t len, uint16_t id, uint16_t flags)
{
	return mock_packed_put(&f->vq, addr, len, id, flags);
}

/* One single-descriptor buffer, made available at once. */
static void add_one(struct fx *f, uint64_t addr, uint32_t len, uint16_t id, uint16_t flags)
{
	put(f, addr, len, id, flags);
	mock_packed_publish(&f->vq);
}

/* The vhost-user base half for ring position @pos with wrap counter @wrap. */
static uint32_t half(uint32_t pos, bool wrap)
{
	return pos | (wrap ? 0x8000u : 0);
}

static uint32_t base_of(uint32_t avail, bool aw, uint32_t used, bool uw)
{
	return half(avail, aw) | half(used, uw) << 16;
}

/* Everything the device may write: the ring and the Device Event Suppression. */
struct snap {
	struct mock_pdesc d[64];
	uint16_t ev_flags, ev_desc;
};

static void take_snap(struct fx *f, struct snap *s)
{
	uint32_t p;

	assert_true(f->p.num <= 64);
	memset(s, 0, sizeof(*s));
	for (p = 0; p < f->p.num; p++)
		mock_packed_read(&f->vq, p, &s->d[p]);
	mock_packed_device_event(&f->vq, &s->ev_flags, &s->ev_desc);
}

static void assert_snap_equal(struct fx *f, const struct snap *a)
{
	struct snap b;

	take_snap(f, &b);
	assert_memory_equal(a, &b, sizeof(b));
}

/*
 * The queue is broken for @why: pop returns -EIO, the reason is named,
 * nothing was consumed, and it stays so on every later call; flush and
 * kick_enable report nothing, and neither the ring nor the Device Event
 * Suppression structure is written.
 */
static void assert_broken(struct fx *f, const char *why, uint32_t base, uint32_t inflight)
{
	struct snap s;
	int i;

	take_snap(f, &s);
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
	assert_snap_equal(f, &s);
	assert_int_equal(vio_devq_base(f->q), base);
}

/* Reaps one used element and checks it; returns its position. */
static uint16_t reap(struct fx *f, uint16_t id, uint32_t len, uint32_t nbufs)
{
	struct mock_used u;

	assert_int_equal(mock_vq_used(&f->vq, &u), 1);
	assert_int_equal(u.id, id);
	assert_int_equal(u.len, len);
	assert_int_equal(u.nbufs, nbufs);
	return u.pos;
}

static void assert_nothing_used(struct fx *f)
{
	struct mock_used u;

	assert_int_equal(mock_vq_used(&f->vq, &u), 0);
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
static void num_32769(struct vio_devq_config *c) { c->num = 32769; }
static void desc_8(struct vio_devq_config *c) { c->desc = (char *)c->desc + 8; }
static void driver_2(struct vio_devq_config *c) { c->driver = (char *)c->driver + 2; }
static void device_2(struct vio_devq_config *c) { c->device = (char *)c->device + 2; }
static void desc_null(struct vio_devq_config *c) { c->desc = NULL; }
static void driver_null(struct vio_devq_config *c) { c->driver = NULL; }
static void device_null(struct vio_devq_config *c) { c->device = NULL; }
static void mem_null(struct vio_devq_config *c) { c->mem = NULL; }
/* Queue Size 7: positions 0..6. */
static void avail_pos_7(struct vio_devq_config *c) { c->base = 0x80000000u | 0x8000u | 7; }
static void avail_pos_7_wrap_0(struct vio_devq_config *c) { c->base = 7; }
static void avail_pos_7fff(struct vio_devq_config *c) { c->base = 0x80000000u | 0xffffu; }
static void used_pos_7(struct vio_devq_config *c) { c->base = 0x80078000u; }
static void used_pos_7_wrap_0(struct vio_devq_config *c) { c->base = 0x00070000u; }
static void used_pos_7fff(struct vio_devq_config *c) { c->base = 0xffff8000u; }
static void pos_6_both(struct vio_devq_config *c) { c->base = 0x00068006u; }

static void init_rejects_num_0(void **state) { assert_int_equal(init_with(*state, num_0), -EINVAL); }
static void init_rejects_num_above_32768(void **state) { assert_int_equal(init_with(*state, num_32769), -EINVAL); }
static void init_rejects_desc_not_16_aligned(void **state) { assert_int_equal(init_with(*state, desc_8), -EINVAL); }
static void init_rejects_driver_area_not_4_aligned(void **state) { assert_int_equal(init_with(*state, driver_2), -EINVAL); }
static void init_rejects_device_area_not_4_aligned(void **state) { assert_int_equal(init_with(*state, device_2), -EINVAL); }
static void init_rejects_null_desc(void **state) { assert_int_equal(init_with(*state, desc_null), -EINVAL); }
static void init_rejects_null_driver_area(void **state) { assert_int_equal(init_with(*state, driver_null), -EINVAL); }
static void init_rejects_null_device_area(void **state) { assert_int_equal(init_with(*state, device_null), -EINVAL); }
static void init_rejects_null_mem(void **state) { assert_int_equal(init_with(*state, mem_null), -EINVAL); }
static void init_rejects_avail_position_equal_to_num(void **state) { assert_int_equal(init_with(*state, avail_pos_7), -EINVAL); }
static void init_rejects_avail_position_num_with_wrap_0(void **state) { assert_int_equal(init_with(*state, avail_pos_7_wrap_0), -EINVAL); }
static void init_rejects_avail_position_0x7fff(void **state) { assert_int_equal(init_with(*state, avail_pos_7fff), -EINVAL); }
static void init_rejects_used_position_equal_to_num(void **state) { assert_int_equal(init_with(*state, used_pos_7), -EINVAL); }
static void init_rejects_used_position_num_with_wrap_0(void **state) { assert_int_equal(init_with(*state, used_pos_7_wrap_0), -EINVAL); }
static void init_rejects_used_position_0x7fff(void **state) { assert_int_equal(init_with(*state, used_pos_7fff), -EINVAL); }

static void init_accepts_last_position_and_reports_it(void **state)
{
	struct fx *f = *state;

	assert_int_equal(init_with(f, pos_6_both), 0);
	assert_int_equal(vio_devq_base(f->vq.devq), 0x00068006u);
}

/* §2.8: any Queue Size up to 2^15, not only powers of two. */
static void init_accepts_queue_sizes_not_powers_of_2(void **state)
{
	static const uint32_t sizes[] = { 1, 2, 3, 5, 7, 100, 255, 257, 32767, 32768 };
	struct mock_mem m;
	struct mock_vq vq;
	unsigned i;

	(void)state;
	mock_mem_init_default(&m);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		assert_int_equal(mock_vq_init(&vq, &m, MOCK_PACKED, sizes[i], 0), 0);
		assert_int_equal(mock_vq_devq_init(&vq, NULL), 0);
		assert_int_equal(vio_devq_base(vq.devq), FRESH_BASE);
		mock_vq_fini(&vq);
	}
	mock_mem_fini(&m);
}

static void init_fresh_ring_base_is_0x80008000(void **state)
{
	struct fx *f = *state;

	assert_int_equal(vio_devq_base(f->q), FRESH_BASE);
	assert_int_equal(vio_devq_inflight(f->q), 0);
	assert_null(vio_devq_error(f->q));
}

/* A device resumed at position 5 in the driver's second lap (wrap 0). */
static void init_starts_at_config_base(void **state)
{
	struct fx *f = *state;
	uint16_t pos;

	mock_packed_set_cursors(&f->vq, 5, false);
	assert_int_equal(mock_vq_devq_init(&f->vq, NULL), 0); /* base 0x00050005 */
	f->q = f->vq.devq;
	assert_int_equal(vio_devq_base(f->q), 0x00050005u);
	assert_int_equal(pop(f), 0);
	add_one(f, f->buf, 16, 3, WRITE);
	add_one(f, f->buf + 16, 16, 4, 0);
	add_one(f, f->buf + 32, 16, 5, 0); /* position 0, wrap 1 again */
	assert_int_equal(mock_packed_flags(&f->vq, 0), AVAIL);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.id, 3);
	assert_iov(&f->iov[0], hva(f, f->buf), 16);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.id, 4);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.id, 5);
	assert_int_equal(pop(f), 0);
	assert_int_equal(vio_devq_base(f->q), base_of(1, true, 5, false));
	assert_int_equal(vio_devq_push(f->q, 3, 16), 0);
	vio_devq_flush(f->q);
	pos = reap(f, 3, 16, 1);
	assert_int_equal(pos, 5);
	assert_int_equal(mock_packed_flags(&f->vq, 5), WRITE); /* used in wrap 0 */
}

/* The base read back restarts a second queue exactly where the first stopped. */
static void base_round_trips_through_a_new_queue(void **state)
{
	struct fx *f = *state;
	struct vio_devq_config cfg;
	unsigned i;

	for (i = 0; i < 9; i++) {
		add_one(f, f->buf, 8, (uint16_t)(i % 7), WRITE);
		assert_int_equal(pop(f), 1);
		assert_int_equal(vio_devq_push(f->q, f->c.id, 8), 0);
		vio_devq_flush(f->q);
		reap(f, (uint16_t)(i % 7), 8, 1);
	}
	assert_int_equal(vio_devq_base(f->q), base_of(2, false, 2, false));
	mock_vq_config(&f->vq, &cfg);
	cfg.base = vio_devq_base(f->q);
	assert_int_equal(mock_vq_devq_init(&f->vq, &cfg), 0);
	f->q = f->vq.devq;
	add_one(f, f->buf, 8, 6, WRITE);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.id, 6);
	assert_int_equal(vio_devq_push(f->q, 6, 3), 0);
	vio_devq_flush(f->q);
	assert_int_equal(reap(f, 6, 3, 1), 2);
	assert_int_equal(mock_packed_flags(&f->vq, 2), WRITE);
}

/* ================================================================== */
/* pop: good paths                                                    */
/* ================================================================== */

static void pop_on_empty_ring_returns_0(void **state)
{
	struct fx *f = *state;

	assert_int_equal(pop(f), 0);
	assert_int_equal(vio_devq_base(f->q), FRESH_BASE);
	assert_null(vio_devq_error(f->q));
}

/* §2.8.21.1: nothing of a batch is seen before its first descriptor's flags. */
static void pop_sees_nothing_before_first_descriptor_is_published(void **state)
{
	struct fx *f = *state;

	assert_int_equal(mock_vq_write_chain(&f->vq, (struct mock_buf[]){ { f->buf, 16, false },
									 { f->buf + 16, 16, true } },
					     2, MOCK_DIRECT), 0);
	assert_int_equal(mock_vq_write_chain(&f->vq, (struct mock_buf[]){ { f->buf, 16, false } }, 1,
					     MOCK_DIRECT), 1);
	assert_int_equal(pop(f), 0);
	assert_int_equal(vio_devq_kick_enable(f->q), 0);
	mock_packed_publish(&f->vq);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.id, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.id, 1);
	assert_int_equal(pop(f), 0);
}

static void pop_single_readable_buffer(void **state)
{
	struct fx *f = *state;

	add_one(f, f->buf + 100, 50, 3, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.id, 3);
	assert_int_equal(f->c.ndesc, 1);
	assert_int_equal(f->c.nout, 1);
	assert_int_equal(f->c.nin, 0);
	assert_true(f->c.out_bytes == 50);
	assert_true(f->c.in_bytes == 0);
	assert_iov(&f->iov[0], hva(f, f->buf + 100), 50);
	assert_int_equal(vio_devq_inflight(f->q), 1);
	assert_int_equal(vio_devq_base(f->q), base_of(1, true, 0, true));
}

static void pop_single_writable_buffer(void **state)
{
	struct fx *f = *state;

	add_one(f, f->buf, 4096, 6, WRITE);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.id, 6);
	assert_int_equal(f->c.nout, 0);
	assert_int_equal(f->c.nin, 1);
	assert_true(f->c.in_bytes == 4096);
	assert_iov(&f->iov[0], hva(f, f->buf), 4096);
}

static void pop_list_readable_then_writable(void **state)
{
	struct fx *f = *state;
	uint64_t b = f->buf;
	int id;

	id = mock_vq_add(&f->vq, (struct mock_buf[]){ { b, 16, false }, { b + 0x100, 512, false },
						     { b + 0x400, 1024, true }, { b + 0x1000, 1, true } },
			 4, MOCK_DIRECT);
	assert_int_equal(id, 0);
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
	assert_int_equal(vio_devq_base(f->q), base_of(4, true, 0, true));
}

/* §2.8.6: the buffer id is the one in the last descriptor of the list. */
static void pop_takes_buffer_id_from_last_descriptor(void **state)
{
	struct fx *f = *state;

	put(f, f->buf, 1, 5, NEXT);
	put(f, f->buf, 1, 4, NEXT);
	put(f, f->buf, 1, 2, 0);
	mock_packed_publish(&f->vq);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.id, 2);
	assert_int_equal(f->c.ndesc, 3);
	assert_int_equal(vio_devq_inflight(f->q), 1);
	/* 5 and 4 are not in flight: the driver may use them. */
	add_one(f, f->buf, 1, 5, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.id, 5);
}

static void pop_list_of_queue_size_descriptors_is_accepted(void **state)
{
	struct fx *f = *state;
	uint16_t i;

	for (i = 0; i < 7; i++)
		put(f, f->buf + 64u * i, 64, 0, i < 6 ? NEXT : 0);
	mock_packed_publish(&f->vq);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.ndesc, 7);
	assert_int_equal(f->c.nout, 7);
	assert_true(f->c.out_bytes == 7 * 64);
	assert_iov(&f->iov[6], hva(f, f->buf + 6 * 64), 64);
	assert_int_equal(vio_devq_base(f->q), base_of(0, false, 0, true));
	assert_int_equal(pop(f), 0);
}

/* A list from position 5 to 1: the driver's wrap counter flips inside it. */
static void pop_list_across_the_end_of_the_ring(void **state)
{
	struct fx *f = *state;

	mock_packed_set_cursors(&f->vq, 5, true);
	assert_int_equal(mock_vq_devq_init(&f->vq, NULL), 0);
	f->q = f->vq.devq;
	put(f, f->buf, 1, 0, NEXT);           /* 5, wrap 1 */
	put(f, f->buf + 1, 2, 0, NEXT);       /* 6, wrap 1 */
	put(f, f->buf + 3, 3, 0, NEXT | WRITE); /* 0, wrap 0 */
	put(f, f->buf + 6, 4, 1, WRITE);      /* 1, wrap 0 */
	mock_packed_publish(&f->vq);
	assert_int_equal(mock_packed_flags(&f->vq, 0), USED | NEXT | WRITE);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.id, 1);
	assert_int_equal(f->c.ndesc, 4);
	assert_int_equal(f->c.nout, 2);
	assert_int_equal(f->c.nin, 2);
	assert_iov(&f->iov[3], hva(f, f->buf + 6), 4);
	assert_int_equal(vio_devq_base(f->q), base_of(2, false, 5, true));
	assert_int_equal(vio_devq_push(f->q, 1, 7), 0);
	vio_devq_flush(f->q);
	assert_int_equal(reap(f, 1, 7, 1), 5);
	assert_int_equal(mock_packed_flags(&f->vq, 5), AVAIL | USED | WRITE);
	assert_int_equal(f->vq.next_used, 2);
	assert_false(f->vq.used_wrap);
	assert_int_equal(vio_devq_base(f->q), base_of(2, false, 2, false));
}

static void pop_zero_length_buffer_gives_no_iovec(void **state)
{
	struct fx *f = *state;

	put(f, f->buf, 0, 0, NEXT);
	put(f, f->buf + 8, 8, 0, WRITE);
	mock_packed_publish(&f->vq);
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

	add_one(f, MOCK_R1_GPA - 24, 64, 1, WRITE);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.nin, 2);
	assert_true(f->c.in_bytes == 64);
	assert_iov(&f->iov[0], hva(f, MOCK_R1_GPA - 24), 24);
	assert_iov(&f->iov[1], f->m.region[1].hva, 40);
}

static void pop_buffer_filling_last_byte_of_region_is_accepted(void **state)
{
	struct fx *f = *state;

	add_one(f, MOCK_HOLE_GPA - 32, 32, 0, 0);
	assert_int_equal(pop(f), 1);
	assert_iov(&f->iov[0], hva(f, MOCK_HOLE_GPA - 32), 32);
}

/* §2.8.7: the table is walked in order; NEXT and ids in it are ignored. */
static void pop_indirect_table(void **state)
{
	struct fx *f = *state;
	uint64_t t = mock_alloc(&f->m, 0, 3 * 16, 16);

	mock_pdesc_write(&f->m, t, 0, f->buf, 16, 0xffff, NEXT);
	mock_pdesc_write(&f->m, t, 1, f->buf + 32, 32, 77, WRITE);
	mock_pdesc_write(&f->m, t, 2, MOCK_R2_GPA, 100, 0, WRITE | NEXT);
	add_one(f, t, 48, 4, INDIRECT);
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
	assert_int_equal(vio_devq_base(f->q), base_of(1, true, 0, true));
}

static void pop_indirect_via_mock_vq_add(void **state)
{
	struct fx *f = *state;
	int id;

	id = mock_vq_add(&f->vq, (struct mock_buf[]){ { f->buf, 16, false }, { f->buf + 16, 8, false },
						     { MOCK_R1_GPA - 4, 8, true } }, 3, 0);
	assert_int_equal(id, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.ndesc, 1);
	assert_int_equal(f->c.nout, 2);
	assert_int_equal(f->c.nin, 2);
	assert_true(f->c.in_bytes == 8);
}

/* §2.8.7: WRITE on the descriptor referring to a table is reserved, ignored. */
static void pop_ignores_write_flag_on_indirect_descriptor(void **state)
{
	struct fx *f = *state;
	uint64_t t = mock_alloc(&f->m, 0, 16, 16);

	mock_pdesc_write(&f->m, t, 0, f->buf, 10, 0, 0);
	add_one(f, t, 16, 0, INDIRECT | WRITE);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.nout, 1);
	assert_int_equal(f->c.nin, 0);
}

static void pop_indirect_table_straddling_two_regions(void **state)
{
	struct fx *f = *state;
	uint64_t t = MOCK_R1_GPA - 24; /* entry 1 is split 8 | 8 across R0/R1 */

	mock_pdesc_write(&f->m, t, 0, f->buf, 10, 0, 0);
	mock_pdesc_write(&f->m, t, 1, f->buf + 10, 20, 0, WRITE);
	add_one(f, t, 32, 0, INDIRECT);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.nout, 1);
	assert_int_equal(f->c.nin, 1);
	assert_iov(&f->iov[1], hva(f, f->buf + 10), 20);
}

static void pop_indirect_table_of_32768_entries_is_accepted(void **state)
{
	struct fx *f = *state;
	uint64_t t = mock_alloc(&f->m, 0, 16ull * 32768, 16);
	uint32_t i;

	for (i = 0; i < 32768; i++)
		mock_pdesc_write(&f->m, t, i, f->buf, 0, 0, i < 16384 ? 0 : WRITE);
	mock_pdesc_write(&f->m, t, 0, f->buf, 4, 0, 0);
	mock_pdesc_write(&f->m, t, 32767, f->buf + 4, 4, 0, WRITE);
	add_one(f, t, 16u * 32768, 0, INDIRECT);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.nout, 1);
	assert_int_equal(f->c.nin, 1);
	assert_true(f->c.in_bytes == 4);
}

static void pop_returns_buffers_in_ring_order(void **state)
{
	struct fx *f = *state;

	add_one(f, f->buf, 1, 5, 0);
	add_one(f, f->buf, 1, 1, 0);
	add_one(f, f->buf, 1, 3, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.id, 5);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.id, 1);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.id, 3);
	assert_int_equal(pop(f), 0);
}

/* Queue Size buffers in flight at once: the ring is full, not broken. */
static void pop_queue_size_buffers_in_flight_is_accepted(void **state)
{
	struct fx *f = *state;
	uint16_t i;

	for (i = 0; i < 7; i++)
		put(f, f->buf + i, 1, (uint16_t)(6 - i), 0);
	mock_packed_publish(&f->vq);
	for (i = 0; i < 7; i++) {
		assert_int_equal(pop(f), 1);
		assert_int_equal(f->c.id, 6 - i);
	}
	assert_int_equal(pop(f), 0);
	assert_int_equal(vio_devq_inflight(f->q), 7);
	assert_int_equal(vio_devq_base(f->q), base_of(0, false, 0, true));
	assert_null(vio_devq_error(f->q));
}

/* A 4 GiB region, so chains of 2^32 bytes can lie in guest memory. */
struct big {
	struct mock_mem m;
	struct fx f;
};

static struct big *big_setup(uint64_t features)
{
	static const struct mock_region_spec spec[] = { { 1ull << 32, 1ull << 32 } };
	struct big *b = calloc(1, sizeof(*b));

	assert_non_null(b);
	assert_int_equal(mock_mem_init(&b->f.m, spec, 1), 0);
	assert_int_equal(mock_vq_init(&b->f.vq, &b->f.m, MOCK_PACKED, 4, features), 0);
	assert_int_equal(mock_vq_devq_init(&b->f.vq, NULL), 0);
	b->f.q = b->f.vq.devq;
	b->f.p.num = 4;
	b->f.p.layout = MOCK_PACKED;
	return b;
}

static void big_free(struct big *b)
{
	mock_vq_fini(&b->f.vq);
	mock_mem_fini(&b->f.m);
	free(b);
}

/* VIRTIO 1.4 §2.7.5.2 applies to both layouts: exactly 2^32 bytes is fine. */
static void pop_chain_of_exactly_2_32_bytes_is_accepted(void **state)
{
	struct big *b = big_setup(0);
	uint64_t g = 1ull << 32;

	(void)state;
	put(&b->f, g, 0x80000000u, 0, NEXT);
	put(&b->f, g, 0x80000000u, 0, WRITE);
	mock_packed_publish(&b->f.vq);
	assert_int_equal(pop(&b->f), 1);
	assert_true(b->f.c.out_bytes == 0x80000000u);
	assert_true(b->f.c.in_bytes == 0x80000000u);
	assert_int_equal(vio_devq_push(b->f.q, 0, UINT32_MAX), 0);
	assert_int_equal(vio_devq_flush(b->f.q), 1);
	reap(&b->f, 0, 0x80000000u, 1);
	big_free(b);
}

/* ================================================================== */
/* pop: -ENOBUFS (a request error, not a ring error)                  */
/* ================================================================== */

static void pop_enobufs_when_iov_cap_too_small_keeps_buffer_in_flight(void **state)
{
	struct fx *f = *state;
	int id;

	id = mock_vq_add(&f->vq, (struct mock_buf[]){ { f->buf, 16, false }, { f->buf + 16, 16, false },
						     { f->buf + 32, 16, true } }, 3, MOCK_DIRECT);
	assert_int_equal(pop_cap(f, 2), -ENOBUFS);
	assert_int_equal(f->c.id, id);
	assert_int_equal(f->c.ndesc, 3);
	assert_int_equal(vio_devq_inflight(f->q), 1);
	assert_int_equal(vio_devq_base(f->q), base_of(3, true, 0, true));
	assert_null(vio_devq_error(f->q));
	assert_int_equal(pop(f), 0); /* consumed: not popped again */
}

static void pop_enobufs_buffer_can_be_pushed_with_len_0(void **state)
{
	struct fx *f = *state;
	struct mock_used u;
	int id;

	id = mock_vq_add(&f->vq, (struct mock_buf[]){ { f->buf, 16, false }, { f->buf + 32, 16, true } },
			 2, MOCK_DIRECT);
	assert_int_equal(pop_cap(f, 1), -ENOBUFS);
	assert_int_equal(vio_devq_push(f->q, f->c.id, 0), 0);
	assert_int_equal(vio_devq_flush(f->q), 1);
	assert_int_equal(mock_vq_used(&f->vq, &u), 1);
	assert_int_equal(u.id, id);
	assert_int_equal(u.len, 0);
	assert_int_equal(u.flags, AVAIL | USED); /* no WRITE: nothing written */
	assert_int_equal(vio_devq_inflight(f->q), 0);
	mock_vq_add(&f->vq, (struct mock_buf[]){ { f->buf, 16, false } }, 1, MOCK_DIRECT);
	assert_int_equal(pop(f), 1);
}

static void pop_enobufs_for_straddling_buffer_needing_second_iovec(void **state)
{
	struct fx *f = *state;

	add_one(f, MOCK_R1_GPA - 8, 16, 2, 0);
	assert_int_equal(pop_cap(f, 1), -ENOBUFS);
	assert_int_equal(f->c.id, 2);
	assert_null(vio_devq_error(f->q));
}

static void pop_enobufs_with_zero_iov_cap(void **state)
{
	struct fx *f = *state;

	add_one(f, f->buf, 16, 2, 0);
	memset(&f->c, 0, sizeof(f->c));
	f->c.iov = NULL;
	f->c.iov_cap = 0;
	assert_int_equal(vio_devq_pop(f->q, &f->c), -ENOBUFS);
	assert_int_equal(f->c.id, 2);
	assert_int_equal(vio_devq_inflight(f->q), 1);
}

static void pop_enobufs_still_validates_rest_of_list(void **state)
{
	struct fx *f = *state;

	put(f, f->buf, 16, 0, NEXT);
	put(f, f->buf + 16, 16, 0, NEXT);
	put(f, MOCK_HOLE_GPA, 16, 0, WRITE);
	mock_packed_publish(&f->vq);
	assert_int_equal(pop_cap(f, 1), -EIO);
	assert_broken(f, E_BUF_OUTSIDE, FRESH_BASE, 0);
}

static void pop_enobufs_still_checks_descriptor_order(void **state)
{
	struct fx *f = *state;

	put(f, f->buf, 16, 0, NEXT);
	put(f, f->buf + 16, 16, 0, NEXT | WRITE);
	put(f, f->buf + 32, 16, 0, 0);
	mock_packed_publish(&f->vq);
	assert_int_equal(pop_cap(f, 1), -EIO);
	assert_broken(f, E_RO_AFTER_WO, FRESH_BASE, 0);
}

/* ================================================================== */
/* pop: ring violations mark the queue broken                          */
/* ================================================================== */

static void id_out_of_range_breaks_queue(void **state)
{
	struct fx *f = *state;

	add_one(f, f->buf, 16, 7, 0);
	assert_broken(f, E_ID_OOR, FRESH_BASE, 0);
}

static void id_0xffff_breaks_queue(void **state)
{
	struct fx *f = *state;

	add_one(f, f->buf, 16, 0xffff, 0);
	assert_broken(f, E_ID_OOR, FRESH_BASE, 0);
}

static void id_out_of_range_in_last_descriptor_of_list_breaks_queue(void **state)
{
	struct fx *f = *state;

	put(f, f->buf, 16, 1, NEXT);
	put(f, f->buf, 16, 100, 0);
	mock_packed_publish(&f->vq);
	assert_broken(f, E_ID_OOR, FRESH_BASE, 0);
}

static void id_already_in_flight_breaks_queue(void **state)
{
	struct fx *f = *state;

	put(f, f->buf, 16, 2, 0);
	put(f, f->buf, 16, 2, 0);
	mock_packed_publish(&f->vq);
	assert_int_equal(pop(f), 1);
	assert_broken(f, E_ID_INFLIGHT, base_of(1, true, 0, true), 1);
}

static void id_in_flight_after_enobufs_breaks_queue(void **state)
{
	struct fx *f = *state;

	put(f, f->buf, 16, 2, 0);
	put(f, f->buf, 16, 2, 0);
	mock_packed_publish(&f->vq);
	assert_int_equal(pop_cap(f, 0), -ENOBUFS);
	assert_broken(f, E_ID_INFLIGHT, base_of(1, true, 0, true), 1);
}

/* The driver's first descriptor says NEXT; the second was never made available. */
static void list_continuing_into_unwritten_descriptor_breaks_queue(void **state)
{
	struct fx *f = *state;

	mock_packed_desc(&f->vq, 0, f->buf, 16, 0, AVAIL | NEXT);
	assert_broken(f, E_NOT_AVAIL, FRESH_BASE, 0);
}

/* Later descriptors whose AVAIL/USED bits lie about the wrap counter. */
static void list_later_descriptor_with_other_wrap_breaks_queue(void **state)
{
	struct fx *f = *state;

	mock_packed_desc(&f->vq, 1, f->buf, 16, 0, USED);          /* avail in wrap 0 */
	mock_packed_desc(&f->vq, 0, f->buf, 16, 0, AVAIL | NEXT);  /* wrap 1 */
	assert_broken(f, E_NOT_AVAIL, FRESH_BASE, 0);
}

static void list_later_descriptor_marked_used_breaks_queue(void **state)
{
	struct fx *f = *state;

	mock_packed_desc(&f->vq, 2, f->buf, 16, 0, AVAIL | USED);
	mock_packed_desc(&f->vq, 1, f->buf, 16, 0, AVAIL | NEXT);
	mock_packed_desc(&f->vq, 0, f->buf, 16, 0, AVAIL | NEXT);
	assert_broken(f, E_NOT_AVAIL, FRESH_BASE, 0);
}

/* Across the end of the ring, position 0 keeps the bits of the lap before. */
static void list_across_ring_end_with_stale_wrap_breaks_queue(void **state)
{
	struct fx *f = *state;
	uint32_t base;

	mock_packed_set_cursors(&f->vq, 6, true);
	assert_int_equal(mock_vq_devq_init(&f->vq, NULL), 0);
	f->q = f->vq.devq;
	base = vio_devq_base(f->q);
	mock_packed_desc(&f->vq, 0, f->buf, 16, 0, AVAIL);        /* wrap 1: stale */
	mock_packed_desc(&f->vq, 6, f->buf, 16, 0, AVAIL | NEXT);
	assert_broken(f, E_NOT_AVAIL, base, 0);
}

/*
 * A list longer than the queue: only a driver changing a descriptor while
 * the device walks the list can make one (position 0 must be available in
 * both laps). A ring of one page of descriptors plus 44 spans two pages;
 * the walk is trapped when it leaves the first page, position 0 is flipped
 * to the next lap's bits behind its back, and the walk reaches it again as
 * descriptor num + 1.
 */
static volatile sig_atomic_t trap_stage;
static uint8_t *trap_a, *trap_b;
static size_t trap_pg;
static struct pvirtq_desc *trap_pos0;

static void trap_segv(int sig, siginfo_t *si, void *ctx)
{
	uint8_t *a = si->si_addr;

	(void)ctx;
	if (trap_stage == 0 && a >= trap_b && a < trap_b + trap_pg) {
		/* The walk left page A: relabel position 0 for wrap 0, hide A. */
		__atomic_store_n(&trap_pos0->flags.v, cpu_to_le16(USED | NEXT).v, __ATOMIC_RELEASE);
		mprotect(trap_a, trap_pg, PROT_NONE);
		mprotect(trap_b, trap_pg, PROT_READ | PROT_WRITE);
		trap_stage = 1;
		return;
	}
	if (trap_stage == 1 && a >= trap_a && a < trap_a + trap_pg) {
		mprotect(trap_a, trap_pg, PROT_READ | PROT_WRITE);
		trap_stage = 2;
		return;
	}
	signal(sig, SIG_DFL); /* anything else is a real fault */
}

static void list_longer_than_queue_breaks_queue(void **state)
{
	struct sigaction sa, old;
	struct fx *f = calloc(1, sizeof(*f));
	uint32_t i, num;

	(void)state;
	assert_non_null(f);
	trap_pg = (size_t)sysconf(_SC_PAGESIZE);
	num = (uint32_t)(trap_pg / 16 + 44);
	assert_true(num <= VIRTQ_MAX_SIZE);
	mock_mem_init_default(&f->m);
	assert_int_equal(mock_vq_init(&f->vq, &f->m, MOCK_PACKED, num, 0), 0);
	assert_int_equal(mock_vq_devq_init(&f->vq, NULL), 0);
	f->q = f->vq.devq;
	f->p.num = num;
	f->buf = mock_alloc(&f->m, 0, num, 64);
	for (i = 0; i < num; i++)
		put(f, f->buf + i, 1, 0, NEXT);
	mock_packed_publish(&f->vq);
	trap_a = (uint8_t *)f->vq.pdesc;
	trap_b = trap_a + trap_pg;
	trap_pos0 = &f->vq.pdesc[0];
	trap_stage = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = trap_segv;
	sa.sa_flags = SA_SIGINFO;
	assert_int_equal(sigaction(SIGSEGV, &sa, &old), 0);
	assert_int_equal(mprotect(trap_b, trap_pg, PROT_NONE), 0);
	assert_int_equal(pop(f), -EIO);
	mprotect(trap_a, trap_pg, PROT_READ | PROT_WRITE);
	mprotect(trap_b, trap_pg, PROT_READ | PROT_WRITE);
	sigaction(SIGSEGV, &old, NULL);
	assert_int_equal(trap_stage, 2); /* the walk went all the way round */
	assert_string_equal(vio_devq_error(f->q), E_LIST_LONG);
	assert_int_equal(vio_devq_base(f->q), FRESH_BASE);
	assert_int_equal(vio_devq_inflight(f->q), 0);
	assert_int_equal(pop(f), -EIO);
	mock_vq_fini(&f->vq);
	mock_mem_fini(&f->m);
	free(f);
}

/*
 * Three single buffers in flight in a ring of... 7: the driver writes a
 * list of 5 from position 3 over positions 0 and 1, still in flight.
 */
static void more_descriptors_in_flight_than_queue_size_breaks_queue(void **state)
{
	struct fx *f = *state;
	uint16_t i;

	for (i = 0; i < 3; i++)
		put(f, f->buf, 1, i, 0);
	mock_packed_publish(&f->vq);
	for (i = 0; i < 3; i++)
		assert_int_equal(pop(f), 1);
	for (i = 0; i < 4; i++)
		put(f, f->buf, 1, 3, NEXT); /* positions 3..6 */
	put(f, f->buf, 1, 3, 0);            /* position 0, wrap 0 */
	mock_packed_publish(&f->vq);
	assert_broken(f, E_TOO_MANY, base_of(3, true, 0, true), 3);
}

/* The ring full of in-flight buffers, and one more single descriptor. */
static void one_descriptor_more_than_queue_size_breaks_queue(void **state)
{
	struct fx *f = *state;
	uint16_t i;

	for (i = 0; i < 7; i++)
		put(f, f->buf, 1, i, 0);
	mock_packed_publish(&f->vq);
	for (i = 0; i < 7; i++)
		assert_int_equal(pop(f), 1);
	add_one(f, f->buf, 1, 0, 0); /* position 0, wrap 0, over buffer 0 */
	assert_broken(f, E_TOO_MANY, base_of(0, false, 0, true), 7);
}

/* The same after completions: used but not reaped positions are free again. */
static void descriptors_freed_by_push_may_be_reused(void **state)
{
	struct fx *f = *state;
	uint16_t i;

	for (i = 0; i < 7; i++)
		put(f, f->buf, 1, i, 0);
	mock_packed_publish(&f->vq);
	for (i = 0; i < 7; i++)
		assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_push(f->q, 0, 0), 0);
	assert_int_equal(vio_devq_flush(f->q), 1);
	add_one(f, f->buf, 1, 0, 0);
	assert_int_equal(pop(f), 1);
	assert_null(vio_devq_error(f->q));
}

static void indirect_at_end_of_list_breaks_queue(void **state)
{
	struct fx *f = *state;
	uint64_t t = mock_alloc(&f->m, 0, 16, 16);

	mock_pdesc_write(&f->m, t, 0, f->buf, 1, 0, 0);
	put(f, f->buf, 1, 0, NEXT);
	put(f, t, 16, 0, INDIRECT);
	mock_packed_publish(&f->vq);
	assert_broken(f, E_IND_IN_LIST, FRESH_BASE, 0);
}

static void indirect_via_mock_direct_then_indirect_breaks_queue(void **state)
{
	struct fx *f = *state;

	assert_int_equal(mock_vq_add(&f->vq, (struct mock_buf[]){ { f->buf, 1, false },
								 { f->buf, 1, true } }, 2, 1), 0);
	assert_broken(f, E_IND_IN_LIST, FRESH_BASE, 0);
}

static void indirect_together_with_next_breaks_queue(void **state)
{
	struct fx *f = *state;
	uint64_t t = mock_alloc(&f->m, 0, 16, 16);

	mock_pdesc_write(&f->m, t, 0, f->buf, 1, 0, 0);
	put(f, t, 16, 0, INDIRECT | NEXT);
	put(f, f->buf, 1, 0, WRITE);
	mock_packed_publish(&f->vq);
	assert_broken(f, E_IND_IN_LIST, FRESH_BASE, 0);
}

static void nested_indirect_breaks_queue(void **state)
{
	struct fx *f = *state;
	uint64_t t = mock_alloc(&f->m, 0, 32, 16), t2 = mock_alloc(&f->m, 0, 16, 16);

	mock_pdesc_write(&f->m, t2, 0, f->buf, 1, 0, 0);
	mock_pdesc_write(&f->m, t, 0, f->buf, 1, 0, 0);
	mock_pdesc_write(&f->m, t, 1, t2, 16, 0, INDIRECT);
	add_one(f, t, 32, 0, INDIRECT);
	assert_broken(f, E_IND_NESTED, FRESH_BASE, 0);
}

static void indirect_without_feature_breaks_queue(void **state)
{
	struct fx *f = *state;
	uint64_t t = mock_alloc(&f->m, 0, 16, 16);

	mock_pdesc_write(&f->m, t, 0, f->buf, 1, 0, 0);
	add_one(f, t, 16, 0, INDIRECT);
	assert_broken(f, E_IND_NOFEAT, FRESH_BASE, 0);
}

static void indirect_length_0_breaks_queue(void **state)
{
	struct fx *f = *state;

	add_one(f, f->buf, 0, 0, INDIRECT);
	assert_broken(f, E_IND_LEN, FRESH_BASE, 0);
}

static void indirect_length_not_multiple_of_16_breaks_queue(void **state)
{
	struct fx *f = *state;
	uint64_t t = mock_alloc(&f->m, 0, 32, 16);

	mock_pdesc_write(&f->m, t, 0, f->buf, 1, 0, 0);
	add_one(f, t, 24, 0, INDIRECT);
	assert_broken(f, E_IND_LEN, FRESH_BASE, 0);
}

static void indirect_length_below_16_breaks_queue(void **state)
{
	struct fx *f = *state;
	uint64_t t = mock_alloc(&f->m, 0, 16, 16);

	mock_pdesc_write(&f->m, t, 0, f->buf, 1, 0, 0);
	add_one(f, t, 15, 0, INDIRECT);
	assert_broken(f, E_IND_LEN, FRESH_BASE, 0);
}

static void indirect_length_above_16x32768_breaks_queue(void **state)
{
	struct fx *f = *state;
	uint64_t t = mock_alloc(&f->m, 0, 16ull * 32769, 16);

	mock_pdesc_write(&f->m, t, 0, f->buf, 1, 0, 0);
	add_one(f, t, 16u * 32769, 0, INDIRECT);
	assert_broken(f, E_IND_LEN, FRESH_BASE, 0);
}

static void indirect_table_address_overflow_breaks_queue(void **state)
{
	struct fx *f = *state;

	add_one(f, UINT64_MAX - 15, 32, 0, INDIRECT);
	assert_broken(f, E_IND_OVERFLOW, FRESH_BASE, 0);
}

static void indirect_table_in_hole_breaks_queue(void **state)
{
	struct fx *f = *state;

	add_one(f, MOCK_HOLE_GPA + 0x100, 32, 0, INDIRECT);
	assert_broken(f, E_TBL_OUTSIDE, FRESH_BASE, 0);
}

static void indirect_table_straddling_into_hole_breaks_queue(void **state)
{
	struct fx *f = *state;
	uint64_t t = MOCK_HOLE_GPA - 16;

	mock_pdesc_write(&f->m, t, 0, f->buf, 8, 0, 0);
	add_one(f, t, 32, 0, INDIRECT);
	assert_broken(f, E_TBL_OUTSIDE, FRESH_BASE, 0);
}

/* The table's second entry would sit in R2's guard page: must not be read. */
static void indirect_table_past_region_end_is_not_read(void **state)
{
	struct fx *f = *state;
	uint64_t t = MOCK_R2_GPA + MOCK_R2_SIZE - 16;

	mock_pdesc_write(&f->m, t, 0, f->buf, 8, 0, 0);
	add_one(f, t, 32, 0, INDIRECT);
	assert_broken(f, E_TBL_OUTSIDE, FRESH_BASE, 0);
}

/* §2.8.17: device-readable before device-writable. */
static void readable_after_writable_breaks_queue(void **state)
{
	struct fx *f = *state;

	put(f, f->buf, 16, 0, NEXT | WRITE);
	put(f, f->buf + 16, 16, 0, 0);
	mock_packed_publish(&f->vq);
	assert_broken(f, E_RO_AFTER_WO, FRESH_BASE, 0);
}

static void readable_after_writable_in_indirect_table_breaks_queue(void **state)
{
	struct fx *f = *state;
	uint64_t t = mock_alloc(&f->m, 0, 48, 16);

	mock_pdesc_write(&f->m, t, 0, f->buf, 1, 0, 0);
	mock_pdesc_write(&f->m, t, 1, f->buf, 1, 0, WRITE);
	mock_pdesc_write(&f->m, t, 2, f->buf, 1, 0, 0);
	add_one(f, t, 48, 0, INDIRECT);
	assert_broken(f, E_RO_AFTER_WO, FRESH_BASE, 0);
}

static void buffer_in_hole_breaks_queue(void **state)
{
	struct fx *f = *state;

	add_one(f, MOCK_HOLE_GPA + 0x10, 16, 0, 0);
	assert_broken(f, E_BUF_OUTSIDE, FRESH_BASE, 0);
}

static void buffer_straddling_into_hole_breaks_queue(void **state)
{
	struct fx *f = *state;

	add_one(f, MOCK_HOLE_GPA - 8, 16, 0, WRITE);
	assert_broken(f, E_BUF_OUTSIDE, FRESH_BASE, 0);
}

static void buffer_starting_in_hole_ending_in_region_breaks_queue(void **state)
{
	struct fx *f = *state;

	add_one(f, MOCK_R2_GPA - 8, 16, 0, 0);
	assert_broken(f, E_BUF_OUTSIDE, FRESH_BASE, 0);
}

static void buffer_beyond_all_regions_breaks_queue(void **state)
{
	struct fx *f = *state;

	add_one(f, MOCK_R2_GPA + MOCK_R2_SIZE, 1, 0, 0);
	assert_broken(f, E_BUF_OUTSIDE, FRESH_BASE, 0);
}

static void buffer_below_all_regions_breaks_queue(void **state)
{
	struct fx *f = *state;

	add_one(f, 0, 16, 0, 0);
	assert_broken(f, E_BUF_OUTSIDE, FRESH_BASE, 0);
}

static void buffer_address_plus_len_overflow_breaks_queue(void **state)
{
	struct fx *f = *state;

	add_one(f, UINT64_MAX - 7, 16, 0, 0);
	assert_broken(f, E_BUF_OUTSIDE, FRESH_BASE, 0);
}

static void buffer_outside_memory_in_later_descriptor_breaks_queue(void **state)
{
	struct fx *f = *state;

	put(f, f->buf, 16, 0, NEXT);
	put(f, MOCK_HOLE_GPA - 1, 2, 0, WRITE);
	mock_packed_publish(&f->vq);
	assert_broken(f, E_BUF_OUTSIDE, FRESH_BASE, 0);
}

static void buffer_outside_memory_in_indirect_table_breaks_queue(void **state)
{
	struct fx *f = *state;
	uint64_t t = mock_alloc(&f->m, 0, 32, 16);

	mock_pdesc_write(&f->m, t, 0, f->buf, 1, 0, 0);
	mock_pdesc_write(&f->m, t, 1, MOCK_HOLE_GPA - 1, 2, 0, WRITE);
	add_one(f, t, 32, 0, INDIRECT);
	assert_broken(f, E_BUF_OUTSIDE, FRESH_BASE, 0);
}

static void chain_longer_than_2_32_bytes_breaks_queue(void **state)
{
	struct big *b = big_setup(0);
	uint64_t g = 1ull << 32;

	(void)state;
	put(&b->f, g, 0x80000000u, 0, NEXT);
	put(&b->f, g, 0x80000000u, 0, NEXT | WRITE);
	put(&b->f, g, 1, 0, WRITE);
	mock_packed_publish(&b->f.vq);
	assert_broken(&b->f, E_CHAIN_2_32, FRESH_BASE, 0);
	big_free(b);
}

static void chain_longer_than_2_32_bytes_through_indirect_breaks_queue(void **state)
{
	struct big *b = big_setup(F_INDIRECT);
	uint64_t g = 1ull << 32, t = mock_alloc(&b->f.m, 0, 32, 16);

	(void)state;
	mock_pdesc_write(&b->f.m, t, 0, g, 0xffffffffu, 0, 0);
	mock_pdesc_write(&b->f.m, t, 1, g, 0xffffffffu, 0, WRITE);
	add_one(&b->f, t, 32, 0, INDIRECT);
	assert_broken(&b->f, E_CHAIN_2_32, FRESH_BASE, 0);
	big_free(b);
}

/* ================================================================== */
/* A broken queue                                                      */
/* ================================================================== */

static void broken_queue_stays_broken_after_driver_fixes_ring(void **state)
{
	struct fx *f = *state;

	add_one(f, f->buf, 16, 9, 0);
	assert_int_equal(pop(f), -EIO);
	mock_packed_desc(&f->vq, 0, f->buf, 16, 1, AVAIL); /* "fixed" */
	assert_broken(f, E_ID_OOR, FRESH_BASE, 0);
}

static void first_violation_is_the_reason_kept(void **state)
{
	struct fx *f = *state;

	add_one(f, f->buf, 16, 9, 0);
	assert_int_equal(pop(f), -EIO);
	mock_packed_desc(&f->vq, 0, MOCK_HOLE_GPA, 16, 1, AVAIL);
	assert_broken(f, E_ID_OOR, FRESH_BASE, 0);
}

static void push_on_broken_queue_writes_nothing(void **state)
{
	struct fx *f = *state;
	struct snap s;

	add_one(f, f->buf, 16, 0, WRITE);
	add_one(f, f->buf, 16, 9, WRITE);
	assert_int_equal(pop(f), 1);
	assert_int_equal(pop(f), -EIO);
	take_snap(f, &s);
	assert_int_equal(vio_devq_push(f->q, 0, 16), -EIO);
	assert_int_equal(vio_devq_inflight(f->q), 0);
	assert_int_equal(vio_devq_flush(f->q), 0);
	assert_snap_equal(f, &s);
	assert_nothing_used(f);
	assert_int_equal(vio_devq_push(f->q, 0, 16), -EINVAL);
}

/* Pushed before the break, flushed after: the driver sees none of it. */
static void flush_on_broken_queue_publishes_nothing(void **state)
{
	struct fx *f = *state;

	add_one(f, f->buf, 16, 0, WRITE);
	add_one(f, f->buf, 16, 1, WRITE);
	add_one(f, f->buf, 16, 7, WRITE);
	assert_int_equal(pop(f), 1);
	assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_push(f->q, 0, 4), 0);
	assert_int_equal(vio_devq_push(f->q, 1, 4), 0);
	assert_int_equal(pop(f), -EIO);
	assert_int_equal(vio_devq_flush(f->q), 0);
	assert_nothing_used(f);
	/* The first of the batch keeps the driver's flags: nothing is exposed. */
	assert_int_equal(mock_packed_flags(&f->vq, 0), AVAIL | WRITE);
}

static void kick_calls_on_broken_queue_write_nothing(void **state)
{
	struct fx *f = *state;
	uint16_t flags, desc;

	add_one(f, f->buf, 16, 9, 0);
	assert_int_equal(pop(f), -EIO);
	vio_devq_kick_disable(f->q);
	mock_packed_device_event(&f->vq, &flags, &desc);
	assert_int_equal(flags, 0);
	assert_int_equal(desc, 0);
	assert_int_equal(vio_devq_kick_enable(f->q), 0);
	mock_packed_device_event(&f->vq, &flags, &desc);
	assert_int_equal(flags, 0);
	assert_int_equal(desc, 0);
}

/*
 * After the queue broke, the ring's pages are made inaccessible: no call
 * may touch the ring again (a stray access faults).
 */
static void broken_queue_never_touches_the_ring_again(void **state)
{
	struct fx *f = *state;
	struct vio_chain c = { .iov = f->iov, .iov_cap = IOV_CAP };
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	void *ring = f->vq.pdesc;

	add_one(f, f->buf, 16, 0, WRITE);
	add_one(f, f->buf, 16, 9, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(pop(f), -EIO);
	assert_int_equal(mprotect(ring, pg, PROT_NONE), 0);
	assert_int_equal(vio_devq_pop(f->q, &c), -EIO);
	assert_int_equal(vio_devq_push(f->q, 0, 16), -EIO);
	assert_int_equal(vio_devq_flush(f->q), 0);
	vio_devq_kick_disable(f->q);
	assert_int_equal(vio_devq_kick_enable(f->q), 0);
	assert_int_equal(vio_devq_base(f->q), base_of(1, true, 0, true));
	assert_int_equal(mprotect(ring, pg, PROT_READ | PROT_WRITE), 0);
	assert_string_equal(vio_devq_error(f->q), E_ID_OOR);
}

/* ================================================================== */
/* push / flush                                                        */
/* ================================================================== */

static void push_is_invisible_until_flush(void **state)
{
	struct fx *f = *state;

	add_one(f, f->buf, 16, 4, WRITE);
	assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_push(f->q, 4, 16), 0);
	assert_int_equal(mock_packed_flags(&f->vq, 0), AVAIL | WRITE);
	assert_nothing_used(f);
	assert_int_equal(vio_devq_flush(f->q), 1);
	assert_int_equal(mock_packed_flags(&f->vq, 0), AVAIL | USED | WRITE);
	reap(f, 4, 16, 1);
}

/* A batch of used descriptors: the first one's flags are what hides the rest. */
static void flush_exposes_a_batch_by_its_first_descriptor(void **state)
{
	struct fx *f = *state;
	uint16_t i;

	for (i = 0; i < 4; i++)
		add_one(f, f->buf + 100u * i, 100, i, WRITE);
	for (i = 0; i < 4; i++)
		assert_int_equal(pop(f), 1);
	for (i = 0; i < 4; i++)
		assert_int_equal(vio_devq_push(f->q, i, 10u + i), 0);
	assert_int_equal(mock_packed_flags(&f->vq, 0), AVAIL | WRITE);
	assert_nothing_used(f);
	assert_int_equal(vio_devq_flush(f->q), 1);
	for (i = 0; i < 4; i++)
		assert_int_equal(mock_packed_flags(&f->vq, i), AVAIL | USED | WRITE);
	for (i = 0; i < 4; i++)
		assert_int_equal(reap(f, i, 10u + i, 1), i);
	assert_nothing_used(f);
}

/* Out of order (no IN_ORDER): used descriptors in completion order, each
 * skipping its own list (§2.8.6, §2.8.12). */
static void flush_writes_used_in_completion_order_skipping_lists(void **state)
{
	struct fx *f = *state;
	int a, b, c;

	a = mock_vq_add(&f->vq, (struct mock_buf[]){ { f->buf, 8, false }, { f->buf, 8, false },
						    { f->buf + 8, 100, true } }, 3, MOCK_DIRECT);
	b = mock_vq_add(&f->vq, (struct mock_buf[]){ { f->buf + 200, 300, true } }, 1, MOCK_DIRECT);
	c = mock_vq_add(&f->vq, (struct mock_buf[]){ { f->buf, 8, false }, { f->buf + 600, 50, true } },
			2, MOCK_DIRECT);
	assert_int_equal(pop(f), 1);
	assert_int_equal(pop(f), 1);
	assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_push(f->q, (uint16_t)c, 33), 0);
	assert_int_equal(vio_devq_push(f->q, (uint16_t)a, 11), 0);
	assert_int_equal(vio_devq_push(f->q, (uint16_t)b, 22), 0);
	assert_int_equal(vio_devq_flush(f->q), 1);
	assert_int_equal(reap(f, (uint16_t)c, 33, 1), 0);
	assert_int_equal(reap(f, (uint16_t)a, 11, 1), 2);
	assert_int_equal(reap(f, (uint16_t)b, 22, 1), 5);
	assert_nothing_used(f);
	assert_int_equal(vio_devq_base(f->q), base_of(6, true, 6, true));
}

/* §2.8.1, §2.8.3: AVAIL = USED = the device's wrap counter; WRITE iff len > 0;
 * nothing else of the driver's flags (NEXT, INDIRECT) survives. Lists of
 * two (or one indirect descriptor) over several laps. */
static void used_descriptor_flags_follow_wrap_and_length(void **state)
{
	struct fx *f = *state;
	uint32_t abs = 0;
	struct mock_used u;
	unsigned i;

	for (i = 0; i < 14; i++) {
		bool ind = f->indirect && (i % 3) == 0;
		uint32_t len = i & 1;
		int id = mock_vq_add(&f->vq, (struct mock_buf[]){ { f->buf, 4, false }, { f->buf + 4, 4, true } },
				     2, ind ? 0 : MOCK_DIRECT);

		assert_true(id >= 0);
		assert_int_equal(pop(f), 1);
		assert_int_equal(f->c.id, id);
		assert_int_equal(vio_devq_push(f->q, (uint16_t)id, len), 0);
		assert_int_equal(vio_devq_flush(f->q), 1);
		assert_int_equal(mock_vq_used(&f->vq, &u), 1);
		assert_int_equal(u.pos, abs % 7);
		assert_int_equal(u.flags, ((abs / 7) % 2 == 0 ? AVAIL | USED : 0) | (len ? WRITE : 0));
		abs += ind ? 1 : 2;
	}
	assert_true(abs > 14);
	assert_null(vio_devq_error(f->q));
}

/* The same, exactly: single-descriptor buffers, 3 laps of a ring of 7. */
static void used_descriptor_flags_in_each_lap(void **state)
{
	struct fx *f = *state;
	unsigned i;

	for (i = 0; i < 21; i++) {
		bool wrap = (i / 7) % 2 == 0;
		uint32_t len = (i % 3) ? 5 : 0;

		add_one(f, f->buf, 8, 1, WRITE);
		assert_int_equal(pop(f), 1);
		assert_int_equal(vio_devq_push(f->q, 1, len), 0);
		assert_int_equal(vio_devq_flush(f->q), 1);
		assert_int_equal(mock_packed_flags(&f->vq, i % 7),
				 (wrap ? AVAIL | USED : 0) | (len ? WRITE : 0));
		assert_int_equal(reap(f, 1, len, 1), i % 7);
	}
}

static void flush_with_nothing_pushed_returns_0(void **state)
{
	struct fx *f = *state;

	assert_int_equal(vio_devq_flush(f->q), 0);
	add_one(f, f->buf, 16, 0, WRITE);
	assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_flush(f->q), 0);
	assert_int_equal(vio_devq_push(f->q, 0, 1), 0);
	assert_int_equal(vio_devq_flush(f->q), 1);
	assert_int_equal(vio_devq_flush(f->q), 0);
}

static void push_len_clamped_to_writable_size(void **state)
{
	struct fx *f = *state;

	mock_vq_add(&f->vq, (struct mock_buf[]){ { f->buf, 512, false }, { f->buf + 512, 10, true },
						{ MOCK_R1_GPA - 3, 6, true } }, 3, MOCK_DIRECT);
	assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_push(f->q, f->c.id, 1000), 0);
	vio_devq_flush(f->q);
	reap(f, f->c.id, 16, 1);
}

static void push_len_on_readonly_buffer_is_0_without_write_flag(void **state)
{
	struct fx *f = *state;
	struct mock_used u;

	mock_vq_add(&f->vq, (struct mock_buf[]){ { f->buf, 512, false } }, 1, MOCK_DIRECT);
	assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_push(f->q, f->c.id, 5), 0);
	vio_devq_flush(f->q);
	assert_int_equal(mock_vq_used(&f->vq, &u), 1);
	assert_int_equal(u.len, 0);
	assert_int_equal(u.flags, AVAIL | USED);
}

static void push_len_below_writable_size_is_kept(void **state)
{
	struct fx *f = *state;

	mock_vq_add(&f->vq, (struct mock_buf[]){ { f->buf, 512, true } }, 1, MOCK_DIRECT);
	assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_push(f->q, f->c.id, 511), 0);
	vio_devq_flush(f->q);
	reap(f, f->c.id, 511, 1);
}

static void push_id_never_popped_is_einval(void **state)
{
	struct fx *f = *state;

	assert_int_equal(vio_devq_push(f->q, 0, 0), -EINVAL);
	add_one(f, f->buf, 1, 3, 0);
	assert_int_equal(vio_devq_push(f->q, 3, 0), -EINVAL); /* available, not popped */
	assert_int_equal(vio_devq_flush(f->q), 0);
	assert_nothing_used(f);
	assert_int_equal(vio_devq_inflight(f->q), 0);
	assert_null(vio_devq_error(f->q));
}

static void push_id_out_of_range_is_einval(void **state)
{
	struct fx *f = *state;

	assert_int_equal(vio_devq_push(f->q, 7, 0), -EINVAL);
	assert_int_equal(vio_devq_push(f->q, 0xffff, 0), -EINVAL);
	assert_null(vio_devq_error(f->q));
}

static void push_same_id_twice_is_einval(void **state)
{
	struct fx *f = *state;

	add_one(f, f->buf, 1, 2, WRITE);
	assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_push(f->q, 2, 1), 0);
	assert_int_equal(vio_devq_push(f->q, 2, 1), -EINVAL);
	assert_int_equal(vio_devq_flush(f->q), 1);
	reap(f, 2, 1, 1);
	assert_nothing_used(f);
}

static void used_id_can_be_made_available_again(void **state)
{
	struct fx *f = *state;

	add_one(f, f->buf, 1, 2, WRITE);
	assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_push(f->q, 2, 1), 0);
	vio_devq_flush(f->q);
	add_one(f, f->buf, 1, 2, WRITE);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.id, 2);
	assert_null(vio_devq_error(f->q));
}

static void inflight_counts_popped_not_pushed(void **state)
{
	struct fx *f = *state;

	add_one(f, f->buf, 1, 0, 0);
	add_one(f, f->buf, 1, 1, 0);
	add_one(f, f->buf, 1, 2, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_inflight(f->q), 2);
	assert_int_equal(vio_devq_push(f->q, 1, 0), 0);
	assert_int_equal(vio_devq_inflight(f->q), 1);
	assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_inflight(f->q), 2);
}

/* ================================================================== */
/* Wrap-around                                                         */
/* ================================================================== */

/*
 * Rounds of lists (1..3 descriptors, or indirect) through queues of size
 * 1, 3, 7, 100 and 32768, for several laps each: every used descriptor is
 * at the position and with the flags the absolute count of descriptors
 * says, and the base matches the driver's cursors after every round.
 * Completions go in pop order on even rounds, reversed on odd ones; single
 * read-only descriptors are used in full (len 0 of 0), the rest partly,
 * so with IN_ORDER runs of the former merge into the next element.
 */
static void wrap_around_many_times(void **state)
{
	static const uint32_t sizes[] = { 1, 3, 7, 100, 32768 };
	struct fx *f = *state;
	uint64_t features = f->p.features;
	unsigned s;

	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		const uint32_t num = sizes[s];
		const uint64_t target = num < 100 ? 40ull * num + 11 : 3ull * num + 11;
		uint64_t abs_used = 0, abs_avail = 0, done = 0, round = 0, merged = 0;
		struct mock_vq vq;

		assert_int_equal(mock_vq_init(&vq, &f->m, MOCK_PACKED, num, features), 0);
		assert_int_equal(mock_vq_devq_init(&vq, NULL), 0);
		while (done < target) {
			uint16_t ids[8];
			uint32_t lens[8], ndesc[8];
			bool full[8];
			struct elem_x { uint16_t id; uint32_t len, nbufs, ndesc; } exp[8];
			unsigned k = 0, ne = 0, j;

			/* Add up to 8 buffers, as many as fit. */
			for (j = 0; j < 8; j++) {
				uint32_t n = 1 + (uint32_t)((round + j) % 3);
				int ind = f->indirect && ((round + j) % 4 == 1) ? 0 : MOCK_DIRECT;
				struct mock_buf b[3] = { { f->buf, 8, false }, { f->buf + 8, 8, true },
							 { f->buf + 16, 8, true } };
				int id;

				if (n > num)
					n = num;
				id = mock_vq_add(&vq, b, n, ind);
				if (id == -ENOSPC)
					break;
				assert_true(id >= 0);
				ids[k] = (uint16_t)id;
				ndesc[k] = ind == 0 ? 1 : n;
				/* in_bytes 8 * (n - 1): n == 1 is used in full with 0. */
				full[k] = n == 1;
				lens[k] = n == 1 ? 0 : 8 * (n - 1) - 1 - (uint32_t)(round % 2);
				k++;
			}
			assert_true(k > 0);
			for (j = 0; j < k; j++) {
				struct iovec iov[4];
				struct vio_chain c = { .iov = iov, .iov_cap = 4 };

				assert_int_equal(vio_devq_pop(vq.devq, &c), 1);
				assert_int_equal(c.id, ids[j]);
				assert_int_equal(c.ndesc, ndesc[j]);
				abs_avail += ndesc[j];
			}
			{
				struct iovec iov[1];
				struct vio_chain c = { .iov = iov, .iov_cap = 1 };

				assert_int_equal(vio_devq_pop(vq.devq, &c), 0);
			}
			for (j = 0; j < k; j++) {
				unsigned x = round % 2 ? k - 1 - j : j;

				assert_int_equal(vio_devq_push(vq.devq, ids[x], lens[x]), 0);
				if (!f->in_order)
					exp[ne++] = (struct elem_x){ ids[x], lens[x], 1, ndesc[x] };
			}
			if (f->in_order) {
				/* Pop order; full ones merge up to and including the
				 * next partial one (or the last one). */
				j = 0;
				while (j < k) {
					struct elem_x e = { 0, 0, 0, 0 };

					for (;;) {
						e.id = ids[j];
						e.len = lens[j];
						e.nbufs++;
						e.ndesc += ndesc[j];
						if (!full[j++] || j == k)
							break;
					}
					merged += e.nbufs > 1;
					exp[ne++] = e;
				}
			}
			assert_int_equal(vio_devq_flush(vq.devq), 1);
			for (j = 0; j < ne; j++) {
				struct mock_used u;
				bool wrap = (abs_used / num) % 2 == 0;

				assert_int_equal(mock_vq_used(&vq, &u), 1);
				assert_int_equal(u.pos, abs_used % num);
				assert_int_equal(u.id, exp[j].id);
				assert_int_equal(u.nbufs, exp[j].nbufs);
				assert_int_equal(u.ndesc, exp[j].ndesc);
				assert_int_equal(u.len, exp[j].len);
				assert_int_equal(u.flags, mock_packed_used_bits(wrap) | (exp[j].len ? WRITE : 0));
				abs_used += exp[j].ndesc;
				done += exp[j].nbufs;
			}
			{
				struct mock_used u;

				assert_int_equal(mock_vq_used(&vq, &u), 0);
			}
			assert_int_equal(abs_used, abs_avail);
			assert_int_equal(vio_devq_base(vq.devq), mock_packed_base(&vq));
			assert_int_equal(vio_devq_base(vq.devq),
					 base_of((uint32_t)(abs_avail % num), (abs_avail / num) % 2 == 0,
						 (uint32_t)(abs_used % num), (abs_used / num) % 2 == 0));
			round++;
		}
		assert_true(abs_used >= 2ull * num); /* at least two laps */
		if (f->in_order && num > 1)
			assert_true(merged > 0);
		assert_null(vio_devq_error(vq.devq));
		mock_vq_fini(&vq);
	}
}

/* ================================================================== */
/* Used buffer notifications: Driver Event Suppression (§2.8.10)       */
/* ================================================================== */

/* Pops and pushes @n single-descriptor buffers, then flushes. */
static int complete_n(struct fx *f, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		int id = mock_vq_add(&f->vq, (struct mock_buf[]){ { f->buf, 1, true } }, 1, MOCK_DIRECT);

		assert_true(id >= 0);
		assert_int_equal(pop(f), 1);
		/* A partial length: no IN_ORDER merging, one element each. */
		assert_int_equal(vio_devq_push(f->q, (uint16_t)id, 0), 0);
	}
	i = (unsigned)vio_devq_flush(f->q);
	while (mock_vq_used(&f->vq, &(struct mock_used){ 0 }) == 1)
		;
	return (int)i;
}

static void flush_notifies_with_flags_enable(void **state)
{
	struct fx *f = *state;

	mock_packed_set_driver_event(&f->vq, RING_EVENT_FLAGS_ENABLE, mock_packed_event(5, false));
	assert_int_equal(complete_n(f, 1), 1);
	assert_int_equal(complete_n(f, 3), 1);
}

static void flush_suppressed_with_flags_disable(void **state)
{
	struct fx *f = *state;

	mock_packed_set_driver_event(&f->vq, RING_EVENT_FLAGS_DISABLE, mock_packed_event(0, true));
	assert_int_equal(complete_n(f, 1), 0); /* 0 */
	assert_int_equal(complete_n(f, 5), 0); /* 1..5 */
	assert_int_equal(complete_n(f, 3), 0); /* 6, then 0, 1 across the wrap */
	assert_int_equal(f->vq.next_used, 2);  /* published all the same */
	assert_false(f->vq.used_wrap);
	mock_packed_set_driver_event(&f->vq, RING_EVENT_FLAGS_ENABLE, 0);
	assert_int_equal(complete_n(f, 1), 1);
}

/* §2.8.10: RING_EVENT_FLAGS_DESC is only valid with VIRTIO_F_EVENT_IDX;
 * without it the device may not rely on it and notifies. */
static void flush_desc_flag_without_event_idx_notifies(void **state)
{
	struct fx *f = *state;

	mock_packed_set_driver_event(&f->vq, RING_EVENT_FLAGS_DESC, mock_packed_event(5, true));
	assert_int_equal(complete_n(f, 1), 1);
	assert_int_equal(complete_n(f, 1), 1);
}

/* The reserved value 3: notify rather than leave the driver waiting. */
static void flush_reserved_flags_value_notifies(void **state)
{
	struct fx *f = *state;

	mock_packed_set_driver_event(&f->vq, 3, mock_packed_event(5, true));
	assert_int_equal(complete_n(f, 1), 1);
}

static void flush_ignores_reserved_flag_bits(void **state)
{
	struct fx *f = *state;

	mock_packed_set_driver_event(&f->vq, 0xfffc | RING_EVENT_FLAGS_DISABLE, 0);
	assert_int_equal(complete_n(f, 1), 0);
	mock_packed_set_driver_event(&f->vq, 0xfffc | RING_EVENT_FLAGS_ENABLE, 0);
	assert_int_equal(complete_n(f, 1), 1);
}

/* The driver asks for an event when position 2 of the first lap is used. */
static void flush_desc_event_fires_at_that_descriptor(void **state)
{
	struct fx *f = *state;

	mock_packed_set_driver_event(&f->vq, RING_EVENT_FLAGS_DESC, mock_packed_event(2, true));
	assert_int_equal(complete_n(f, 1), 0); /* 0 */
	assert_int_equal(complete_n(f, 1), 0); /* 1 */
	assert_int_equal(complete_n(f, 1), 1); /* 2 */
	assert_int_equal(complete_n(f, 1), 0); /* 3: passed */
}

static void flush_desc_event_batch_crossing_it_notifies_once(void **state)
{
	struct fx *f = *state;

	mock_packed_set_driver_event(&f->vq, RING_EVENT_FLAGS_DESC, mock_packed_event(4, true));
	assert_int_equal(complete_n(f, 3), 0); /* 0..2 */
	assert_int_equal(complete_n(f, 3), 1); /* 3..5 */
	assert_int_equal(complete_n(f, 3), 0); /* 6, 0, 1 */
}

/* Position 2 with wrap counter 0 is in the second lap, not the first. */
static void flush_desc_event_waits_for_its_wrap_counter(void **state)
{
	struct fx *f = *state;

	mock_packed_set_driver_event(&f->vq, RING_EVENT_FLAGS_DESC, mock_packed_event(2, false));
	assert_int_equal(complete_n(f, 3), 0); /* 0..2, wrap 1 */
	assert_int_equal(complete_n(f, 4), 0); /* 3..6 */
	assert_int_equal(complete_n(f, 2), 0); /* 0, 1 in wrap 0 */
	assert_int_equal(complete_n(f, 1), 1); /* 2 in wrap 0 */
}

/* Resumed at position 5 of wrap 1; the event at 0 of wrap 0, just past the end. */
static void flush_desc_event_around_the_wrap_point(void **state)
{
	struct fx *f = *state;

	mock_packed_set_cursors(&f->vq, 5, true);
	assert_int_equal(mock_vq_devq_init(&f->vq, NULL), 0);
	f->q = f->vq.devq;
	mock_packed_set_driver_event(&f->vq, RING_EVENT_FLAGS_DESC, mock_packed_event(0, false));
	assert_int_equal(complete_n(f, 2), 0); /* 5, 6 */
	assert_int_equal(complete_n(f, 1), 1); /* 0, wrap 0 */
	/* A batch over the end: 6 (wrap 0) and 0, 1 (wrap 1); event at 0 of wrap 1. */
	mock_packed_set_driver_event(&f->vq, RING_EVENT_FLAGS_DESC, mock_packed_event(0, true));
	assert_int_equal(complete_n(f, 5), 0); /* 1..5 of wrap 0 */
	assert_int_equal(complete_n(f, 3), 1); /* 6, then 0, 1 of wrap 1 */
	assert_int_equal(complete_n(f, 7), 0); /* a whole lap later, 0 of wrap 1 is in the past */
}

/* An event the driver left behind is not hit again until the ring comes round. */
static void flush_desc_event_behind_does_not_notify(void **state)
{
	struct fx *f = *state;

	assert_int_equal(complete_n(f, 4), 1); /* flags ENABLE */
	mock_packed_set_driver_event(&f->vq, RING_EVENT_FLAGS_DESC, mock_packed_event(1, true));
	assert_int_equal(complete_n(f, 2), 0); /* 4, 5 */
	assert_int_equal(complete_n(f, 1), 0); /* 6 */
	assert_int_equal(complete_n(f, 2), 0); /* 0, 1 of wrap 0 */
	assert_int_equal(complete_n(f, 6), 0); /* 2..6, 0 */
	assert_int_equal(complete_n(f, 1), 1); /* 1 of wrap 1 again */
}

/* A list's used descriptor stands for all its positions: an event on its
 * second position fires when the list is used. */
static void flush_desc_event_on_a_skipped_position_of_a_list(void **state)
{
	struct fx *f = *state;

	mock_packed_set_driver_event(&f->vq, RING_EVENT_FLAGS_DESC, mock_packed_event(1, true));
	put(f, f->buf, 1, 0, NEXT);
	put(f, f->buf, 1, 0, NEXT | WRITE);
	put(f, f->buf, 1, 0, WRITE);
	mock_packed_publish(&f->vq);
	assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_push(f->q, 0, 1), 0);
	assert_int_equal(vio_devq_flush(f->q), 1);
}

/* An offset outside the ring can never be reached: notify, don't hang. */
static void flush_desc_event_offset_out_of_range_notifies(void **state)
{
	struct fx *f = *state;

	mock_packed_set_driver_event(&f->vq, RING_EVENT_FLAGS_DESC, mock_packed_event(7, true));
	assert_int_equal(complete_n(f, 1), 1);
	mock_packed_set_driver_event(&f->vq, RING_EVENT_FLAGS_DESC, mock_packed_event(0x7fff, false));
	assert_int_equal(complete_n(f, 1), 1);
}

/* ================================================================== */
/* Available buffer notifications: Device Event Suppression            */
/* ================================================================== */

static void assert_device_event(struct fx *f, uint16_t flags, uint16_t desc)
{
	uint16_t fl, d;

	mock_packed_device_event(&f->vq, &fl, &d);
	assert_int_equal(fl, flags);
	assert_int_equal(d, desc);
}

static void kick_disable_writes_flags_disable(void **state)
{
	struct fx *f = *state;

	vio_devq_kick_disable(f->q);
	assert_device_event(f, RING_EVENT_FLAGS_DISABLE, 0);
}

static void kick_enable_writes_flags_enable_without_event_idx(void **state)
{
	struct fx *f = *state;

	vio_devq_kick_disable(f->q);
	assert_int_equal(vio_devq_kick_enable(f->q), 0);
	assert_device_event(f, RING_EVENT_FLAGS_ENABLE, 0);
}

/* With EVENT_IDX: a kick when the next descriptor to pop is made available. */
static void kick_enable_names_next_descriptor_with_event_idx(void **state)
{
	struct fx *f = *state;
	unsigned i;

	vio_devq_kick_disable(f->q);
	assert_int_equal(vio_devq_kick_enable(f->q), 0);
	assert_device_event(f, RING_EVENT_FLAGS_DESC, mock_packed_event(0, true));
	for (i = 0; i < 3; i++) {
		put(f, f->buf, 1, (uint16_t)i, NEXT);
		put(f, f->buf, 1, (uint16_t)i, 0);
		mock_packed_publish(&f->vq);
		assert_int_equal(pop(f), 1);
		assert_int_equal(vio_devq_push(f->q, (uint16_t)i, 0), 0);
		vio_devq_flush(f->q);
		reap(f, (uint16_t)i, 0, 1);
	}
	vio_devq_kick_disable(f->q);
	assert_device_event(f, RING_EVENT_FLAGS_DISABLE, mock_packed_event(0, true));
	assert_int_equal(vio_devq_kick_enable(f->q), 0);
	assert_device_event(f, RING_EVENT_FLAGS_DESC, mock_packed_event(6, true));
	add_one(f, f->buf, 1, 0, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_kick_enable(f->q), 0);
	assert_device_event(f, RING_EVENT_FLAGS_DESC, mock_packed_event(0, false));
}

static void kick_enable_returns_1_when_more_available(void **state)
{
	struct fx *f = *state;

	add_one(f, f->buf, 1, 0, 0);
	add_one(f, f->buf, 1, 1, 0);
	vio_devq_kick_disable(f->q);
	assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_kick_enable(f->q), 1);
	assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_kick_enable(f->q), 0);
}

static void kick_enable_returns_1_after_the_wrap_point(void **state)
{
	struct fx *f = *state;

	mock_packed_set_cursors(&f->vq, 6, true);
	assert_int_equal(mock_vq_devq_init(&f->vq, NULL), 0);
	f->q = f->vq.devq;
	add_one(f, f->buf, 1, 0, 0); /* 6, wrap 1 */
	assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_kick_enable(f->q), 0); /* 0 still has wrap-1 used bits */
	add_one(f, f->buf, 1, 1, 0); /* 0, wrap 0 */
	assert_int_equal(vio_devq_kick_enable(f->q), 1);
}

static void kick_enable_does_not_consume(void **state)
{
	struct fx *f = *state;

	add_one(f, f->buf, 1, 0, 0);
	assert_int_equal(vio_devq_kick_enable(f->q), 1);
	assert_int_equal(vio_devq_kick_enable(f->q), 1);
	assert_int_equal(vio_devq_base(f->q), FRESH_BASE);
	assert_int_equal(pop(f), 1);
}

/* ================================================================== */
/* The seeded random model check                                       */
/* ================================================================== */

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
	uint32_t ndesc;    /* ring descriptors (packed) */
	uint64_t in_bytes;
	bool enobufs;
	bool done;         /* IN_ORDER: pushed, waiting */
	uint32_t len;      /* the used length expected */
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

/* An element the driver must see next. */
struct elem {
	uint16_t id;
	uint32_t len, nbufs, ndesc;
};

/* A FIFO of ids (avail order / pop order), at most 65536 deep. */
struct fifo {
	uint16_t *v;
	uint64_t head, tail;
};

static void fifo_push(struct fifo *q, uint16_t id)
{
	assert_true(q->tail - q->head < 65536);
	q->v[q->tail++ & 0xffff] = id;
}

static uint16_t fifo_at(const struct fifo *q, uint64_t k)
{
	return q->v[(q->head + k) & 0xffff];
}

/*
 * Does the range of ring positions [from, to) (absolute descriptor counts
 * from a fresh ring) contain the descriptor at @off in the lap with wrap
 * counter @wrap? Lap L (from 0) has wrap counter 1 when L is even.
 */
static bool event_in_range(uint32_t num, uint64_t from, uint64_t to, uint16_t off, bool wrap)
{
	uint64_t a = from + ((off + num - from % num) % num); /* first a >= from at off */

	return a < to && (((a / num) % 2) == 0) == wrap;
}

/*
 * Drives a random mix of driver and device actions over many wraps and
 * checks, at each step, that the device returns exactly what the model
 * says: the chains (ids, shapes, iovecs), the used elements (order, ids,
 * lengths, IN_ORDER batches, positions and flags), the notification
 * decisions both ways, and the base.
 */
static void random_model_over_many_wraps(void **state)
{
	struct fx *f = *state;
	const uint32_t num = f->p.num;
	const bool packed = f->p.layout == MOCK_PACKED;
	struct rng r = { 0x9e3779b97f4a7c15ull ^ f->p.features ^ ((uint64_t)num << 40) ^ packed };
	struct req *reqs = calloc(num, sizeof(*reqs));             /* by id */
	struct fifo avail = { calloc(65536, 2), 0, 0 };             /* ids in avail order */
	struct fifo order = { calloc(65536, 2), 0, 0 };             /* IN_ORDER: pop order */
	struct elem *pending = calloc(65536, sizeof(*pending));    /* elements written, not flushed */
	uint16_t *dev_inflight = calloc(num, sizeof(*dev_inflight));
	uint32_t n_dev_inflight = 0, npending = 0;
	uint64_t published = 0;   /* avail entries visible to the device */
	uint64_t abs_avail = 0;   /* packed: descriptors popped; split: buffers popped */
	uint64_t abs_used = 0;    /* packed: descriptors used (reaped); split: used idx */
	uint64_t flushed_at = 0;  /* abs_used at the last flush (notification range) */
	uint64_t reaped = 0, notifies = 0, enobufs = 0, indirects = 0, straddles = 0;
	uint64_t batches = 0, held = 0, flushes = 0;
	const uint64_t target = 200000;

	assert_non_null(reqs);
	assert_non_null(avail.v);
	assert_non_null(order.v);
	assert_non_null(pending);
	assert_non_null(dev_inflight);

	while (reaped < target) {
		uint32_t action = below(&r, 100);

		if (action < 35) {
			/* Driver: a buffer with a random shape; packed: sometimes
			 * left unpublished, so the next one publishes a batch. */
			struct req q;
			unsigned i, nread;
			bool hold = packed && below(&r, 4) == 0;
			int id;

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
			/* Packed: an indirect table is the whole list (§2.8.19). */
			if (f->indirect && below(&r, 2))
				q.indirect_at = packed ? 0 : (int)below(&r, q.n);
			else
				q.indirect_at = MOCK_DIRECT;
			q.ndesc = q.indirect_at < 0 ? q.n : (unsigned)q.indirect_at + 1;
			if (hold)
				id = mock_vq_write_chain(&f->vq, q.b, q.n, q.indirect_at);
			else
				id = mock_vq_add(&f->vq, q.b, q.n, q.indirect_at);
			if (id == -ENOSPC)
				continue;
			assert_true(id >= 0 && (uint32_t)id < num);
			if (q.indirect_at >= 0)
				indirects++;
			reqs[id] = q;
			fifo_push(&avail, (uint16_t)id);
			if (hold) {
				held++;
			} else {
				published = avail.tail;
			}
		} else if (action < 40 && packed) {
			/* Driver: publishes a held batch. */
			mock_packed_publish(&f->vq);
			published = avail.tail;
		} else if (action < 65) {
			/* Device: pop, and check the chain is exactly what was written. */
			struct iovec exp[2 * MAXB];
			unsigned ne = 0, nout = 0, i;
			struct req *q;
			uint32_t cap = IOV_CAP;
			uint16_t id;
			int ret;

			if (avail.head == published) {
				assert_int_equal(pop(f), 0);
				continue;
			}
			id = fifo_at(&avail, 0);
			q = &reqs[id];
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
			assert_int_equal(f->c.id, id);
			assert_int_equal(f->c.ndesc, q->ndesc);
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
			avail.head++;
			q->done = false;
			if (f->in_order)
				fifo_push(&order, id);
			abs_avail += packed ? q->ndesc : 1;
			dev_inflight[n_dev_inflight++] = id;
			assert_int_equal(vio_devq_inflight(f->q), n_dev_inflight);
			if (packed)
				assert_int_equal(vio_devq_base(f->q) & 0xffff,
						 half((uint32_t)(abs_avail % num), (abs_avail / num) % 2 == 0));
			else
				assert_int_equal(vio_devq_base(f->q), (uint16_t)abs_avail);
		} else if (action < 85) {
			/* Device: completes a random in-flight buffer. */
			uint32_t k, len;
			uint16_t id;
			struct req *q;

			if (!n_dev_inflight)
				continue;
			k = below(&r, n_dev_inflight);
			id = dev_inflight[k];
			dev_inflight[k] = dev_inflight[--n_dev_inflight];
			q = &reqs[id];
			/* Half of them used in full (IN_ORDER merges those). */
			if (q->enobufs)
				len = 0;
			else if (below(&r, 2))
				len = below(&r, 2) ? (uint32_t)q->in_bytes : UINT32_MAX;
			else
				len = below(&r, (uint32_t)q->in_bytes + 64);
			assert_int_equal(vio_devq_push(f->q, id, len), 0);
			q->len = len < q->in_bytes ? len : (uint32_t)q->in_bytes;
			if (f->in_order) {
				q->done = true;
			} else {
				pending[npending++] = (struct elem){ id, q->len, 1, q->ndesc };
			}
		} else if (action < 95) {
			/* Driver sets suppression; device flushes; driver reaps. */
			uint16_t ev_flags = 0, ev_desc = 0, ue = 0;
			bool want, split_no_intr = false;
			uint64_t from = abs_used, to = abs_used;
			uint32_t i;
			int got;

			if (f->in_order) {
				/* The drain the device must do: the done prefix of
				 * the pop order, full ones merged up to a partial one. */
				while (order.head < order.tail && reqs[fifo_at(&order, 0)].done) {
					struct elem e = { 0, 0, 0, 0 };

					while (order.head < order.tail) {
						uint16_t id = fifo_at(&order, 0);
						struct req *q = &reqs[id];

						if (!q->done)
							break;
						q->done = false;
						order.head++;
						e.id = id;
						e.len = q->len;
						e.nbufs++;
						e.ndesc += q->ndesc;
						if (q->len != q->in_bytes)
							break;
					}
					if (e.nbufs > 1)
						batches++;
					pending[npending++] = e;
				}
			}
			for (i = 0; i < npending; i++)
				to += packed ? pending[i].ndesc : pending[i].nbufs;
			if (packed) {
				static const uint16_t fl[] = { RING_EVENT_FLAGS_ENABLE, RING_EVENT_FLAGS_DISABLE,
							       RING_EVENT_FLAGS_DESC, RING_EVENT_FLAGS_DESC,
							       RING_EVENT_FLAGS_DESC, 3 };
				uint64_t at = abs_used + below(&r, num + 4);
				uint16_t off = (uint16_t)(at % num);
				bool wrap = (at / num) % 2 == 0;

				if (below(&r, 8) == 0)
					wrap = !wrap;
				if (below(&r, 50) == 0)
					off = (uint16_t)(num + below(&r, 0x8000 - num));
				ev_flags = fl[below(&r, 6)];
				ev_desc = mock_packed_event(off, wrap);
				mock_packed_set_driver_event(&f->vq, ev_flags, ev_desc);
				if (to == from)
					want = false;
				else if (ev_flags == RING_EVENT_FLAGS_DISABLE)
					want = false;
				else if (ev_flags == RING_EVENT_FLAGS_DESC && f->event)
					want = off >= num || event_in_range(num, from, to, off, wrap);
				else
					want = true;
			} else {
				ue = (uint16_t)(from + below(&r, 8) - 2);
				split_no_intr = below(&r, 2);
				mock_split_set_used_event(&f->vq, ue);
				mock_split_set_avail_flags(&f->vq, split_no_intr);
				if (to == from)
					want = false;
				else if (f->event)
					want = (uint16_t)(ue - from) < (uint16_t)(to - from);
				else
					want = !split_no_intr;
			}
			got = vio_devq_flush(f->q);
			flushes++;
			assert_int_equal(got, want);
			notifies += (uint64_t)got;
			for (i = 0; i < npending; i++) {
				struct mock_used u;
				const struct elem *e = &pending[i];

				assert_int_equal(mock_vq_used(&f->vq, &u), 1);
				assert_int_equal(u.id, e->id);
				assert_int_equal(u.len, e->len);
				assert_int_equal(u.nbufs, e->nbufs);
				if (packed) {
					bool wrap = (abs_used / num) % 2 == 0;

					assert_int_equal(u.pos, abs_used % num);
					assert_int_equal(u.ndesc, e->ndesc);
					assert_int_equal(u.flags,
							 mock_packed_used_bits(wrap) | (e->len ? WRITE : 0));
					abs_used += e->ndesc;
				} else {
					abs_used += e->nbufs;
				}
				reaped += e->nbufs;
			}
			assert_int_equal(mock_vq_used(&f->vq, &(struct mock_used){ 0 }), 0);
			npending = 0;
			flushed_at = abs_used;
			if (packed)
				assert_int_equal(vio_devq_base(f->q) >> 16,
						 half((uint32_t)(abs_used % num), (abs_used / num) % 2 == 0));
			else
				assert_int_equal(mock_split_used_idx(&f->vq), (uint16_t)abs_used);
		} else {
			/* Device: toggles available buffer notifications. */
			bool more = avail.head != published;
			uint16_t fl, d;

			vio_devq_kick_disable(f->q);
			if (packed) {
				mock_packed_device_event(&f->vq, &fl, &d);
				assert_int_equal(fl, RING_EVENT_FLAGS_DISABLE);
			} else if (!f->event) {
				assert_int_equal(mock_split_used_flags(&f->vq), VIRTQ_USED_F_NO_NOTIFY);
			}
			assert_int_equal(vio_devq_kick_enable(f->q), more);
			if (packed) {
				mock_packed_device_event(&f->vq, &fl, &d);
				if (f->event) {
					assert_int_equal(fl, RING_EVENT_FLAGS_DESC);
					assert_int_equal(d, mock_packed_event((uint16_t)(abs_avail % num),
									      (abs_avail / num) % 2 == 0));
				} else {
					assert_int_equal(fl, RING_EVENT_FLAGS_ENABLE);
				}
			} else {
				assert_int_equal(mock_split_used_flags(&f->vq), 0);
				if (f->event)
					assert_int_equal(mock_split_avail_event(&f->vq), (uint16_t)abs_avail);
			}
		}
	}
	(void)flushed_at;
	assert_null(vio_devq_error(f->q));
	/* The run did what it claims: wrapped many times, and hit each shape. */
	if (packed)
		assert_true(abs_used > 100ull * num);
	else
		assert_true(abs_used > 3 * 65536);
	assert_true(straddles > 1000);
	assert_true(enobufs > 100);
	assert_true(notifies > 1000);
	assert_true(flushes > notifies);
	if (f->indirect)
		assert_true(indirects > 1000);
	if (f->in_order)
		assert_true(batches > 1000);
	if (packed)
		assert_true(held > 1000);
	free(reqs);
	free(avail.v);
	free(order.v);
	free(pending);
	free(dev_inflight);
}

/* ================================================================== */

#define T(f, p) { #f "/" #p, f, setup, teardown, (void *)&(p) }
/* One entry per feature combination, named after it. */
#define MATRIX4(f)                                                          \
	{ #f "/plain", f, setup, teardown, (void *)&P_PLAIN },              \
	{ #f "/indirect", f, setup, teardown, (void *)&P_IND },             \
	{ #f "/event_idx", f, setup, teardown, (void *)&P_EVENT },          \
	{ #f "/indirect+event_idx", f, setup, teardown, (void *)&P_IND_EVENT }
#define MATRIX(f)                                                           \
	MATRIX4(f),                                                         \
	{ #f "/in_order", f, setup, teardown, (void *)&P_ORD },             \
	{ #f "/indirect+in_order", f, setup, teardown, (void *)&P_IND_ORD }, \
	{ #f "/event_idx+in_order", f, setup, teardown, (void *)&P_EVENT_ORD }, \
	{ #f "/indirect+event_idx+in_order", f, setup, teardown, (void *)&P_ALL }
/* The entries with VIRTIO_F_INDIRECT_DESC / with VIRTIO_F_EVENT_IDX / without. */
#define MATRIX_IND(f)                                                       \
	T(f, P_IND), T(f, P_IND_EVENT), T(f, P_IND_ORD), T(f, P_ALL)
#define MATRIX_NOIND(f)                                                     \
	T(f, P_PLAIN), T(f, P_EVENT), T(f, P_ORD), T(f, P_EVENT_ORD)
#define MATRIX_EVENT(f)                                                     \
	T(f, P_EVENT), T(f, P_IND_EVENT), T(f, P_EVENT_ORD), T(f, P_ALL)
#define MATRIX_NOEVENT(f)                                                   \
	T(f, P_PLAIN), T(f, P_IND), T(f, P_ORD), T(f, P_IND_ORD)

/* The random model: packed with Queue Sizes 13 and 100, split IN_ORDER. */
static const struct params R_PLAIN = { MOCK_PACKED, 13, 0 };
static const struct params R_IND = { MOCK_PACKED, 100, F_INDIRECT };
static const struct params R_EVENT = { MOCK_PACKED, 100, F_EVENT };
static const struct params R_IND_EVENT = { MOCK_PACKED, 13, F_INDIRECT | F_EVENT };
static const struct params R_ORD = { MOCK_PACKED, 100, F_IN_ORDER };
static const struct params R_IND_ORD = { MOCK_PACKED, 13, F_INDIRECT | F_IN_ORDER };
static const struct params R_EVENT_ORD = { MOCK_PACKED, 13, F_EVENT | F_IN_ORDER };
static const struct params R_ALL = { MOCK_PACKED, 100, F_INDIRECT | F_EVENT | F_IN_ORDER };
static const struct params R_SPLIT_ORD = { MOCK_SPLIT, 32, F_IN_ORDER };
static const struct params R_SPLIT_IND_ORD = { MOCK_SPLIT, 16, F_INDIRECT | F_IN_ORDER };
static const struct params R_SPLIT_EVENT_ORD = { MOCK_SPLIT, 32, F_EVENT | F_IN_ORDER };
static const struct params R_SPLIT_ALL = { MOCK_SPLIT, 16, F_INDIRECT | F_EVENT | F_IN_ORDER };
#define R(p) { "random_model_over_many_wraps/" #p, random_model_over_many_wraps, setup, teardown, \
	       (void *)&(p) }

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(init_rejects_num_0, P_IND),
		T(init_rejects_num_above_32768, P_IND),
		T(init_rejects_desc_not_16_aligned, P_IND),
		T(init_rejects_driver_area_not_4_aligned, P_IND),
		T(init_rejects_device_area_not_4_aligned, P_IND),
		T(init_rejects_null_desc, P_IND),
		T(init_rejects_null_driver_area, P_IND),
		T(init_rejects_null_device_area, P_IND),
		T(init_rejects_null_mem, P_IND),
		T(init_rejects_avail_position_equal_to_num, P_IND),
		T(init_rejects_avail_position_num_with_wrap_0, P_IND),
		T(init_rejects_avail_position_0x7fff, P_IND),
		T(init_rejects_used_position_equal_to_num, P_IND),
		T(init_rejects_used_position_num_with_wrap_0, P_IND),
		T(init_rejects_used_position_0x7fff, P_IND),
		T(init_accepts_last_position_and_reports_it, P_IND),
		cmocka_unit_test(init_accepts_queue_sizes_not_powers_of_2),
		MATRIX(init_fresh_ring_base_is_0x80008000),
		MATRIX(init_starts_at_config_base),
		MATRIX(base_round_trips_through_a_new_queue),

		MATRIX(pop_on_empty_ring_returns_0),
		MATRIX(pop_sees_nothing_before_first_descriptor_is_published),
		MATRIX(pop_single_readable_buffer),
		MATRIX(pop_single_writable_buffer),
		MATRIX(pop_list_readable_then_writable),
		MATRIX(pop_takes_buffer_id_from_last_descriptor),
		MATRIX(pop_list_of_queue_size_descriptors_is_accepted),
		MATRIX(pop_list_across_the_end_of_the_ring),
		MATRIX(pop_zero_length_buffer_gives_no_iovec),
		MATRIX(pop_buffer_straddling_two_regions_gives_two_iovecs),
		MATRIX(pop_buffer_filling_last_byte_of_region_is_accepted),
		MATRIX_IND(pop_indirect_table),
		MATRIX_IND(pop_indirect_via_mock_vq_add),
		T(pop_ignores_write_flag_on_indirect_descriptor, P_IND),
		T(pop_indirect_table_straddling_two_regions, P_IND),
		T(pop_indirect_table_of_32768_entries_is_accepted, P_IND),
		MATRIX(pop_returns_buffers_in_ring_order),
		MATRIX(pop_queue_size_buffers_in_flight_is_accepted),
		cmocka_unit_test(pop_chain_of_exactly_2_32_bytes_is_accepted),

		MATRIX(pop_enobufs_when_iov_cap_too_small_keeps_buffer_in_flight),
		MATRIX(pop_enobufs_buffer_can_be_pushed_with_len_0),
		T(pop_enobufs_for_straddling_buffer_needing_second_iovec, P_IND),
		T(pop_enobufs_with_zero_iov_cap, P_IND),
		T(pop_enobufs_still_validates_rest_of_list, P_IND),
		T(pop_enobufs_still_checks_descriptor_order, P_IND),

		MATRIX(id_out_of_range_breaks_queue),
		T(id_0xffff_breaks_queue, P_IND),
		T(id_out_of_range_in_last_descriptor_of_list_breaks_queue, P_IND),
		MATRIX(id_already_in_flight_breaks_queue),
		T(id_in_flight_after_enobufs_breaks_queue, P_IND),
		MATRIX(list_continuing_into_unwritten_descriptor_breaks_queue),
		T(list_later_descriptor_with_other_wrap_breaks_queue, P_IND),
		T(list_later_descriptor_marked_used_breaks_queue, P_IND),
		MATRIX(list_across_ring_end_with_stale_wrap_breaks_queue),
		cmocka_unit_test(list_longer_than_queue_breaks_queue),
		MATRIX(more_descriptors_in_flight_than_queue_size_breaks_queue),
		MATRIX(one_descriptor_more_than_queue_size_breaks_queue),
		MATRIX(descriptors_freed_by_push_may_be_reused),
		MATRIX_IND(indirect_at_end_of_list_breaks_queue),
		T(indirect_via_mock_direct_then_indirect_breaks_queue, P_IND),
		MATRIX_IND(indirect_together_with_next_breaks_queue),
		MATRIX_IND(nested_indirect_breaks_queue),
		MATRIX_NOIND(indirect_without_feature_breaks_queue),
		T(indirect_length_0_breaks_queue, P_IND),
		T(indirect_length_not_multiple_of_16_breaks_queue, P_IND),
		T(indirect_length_below_16_breaks_queue, P_IND),
		T(indirect_length_above_16x32768_breaks_queue, P_IND),
		T(indirect_table_address_overflow_breaks_queue, P_IND),
		T(indirect_table_in_hole_breaks_queue, P_IND),
		T(indirect_table_straddling_into_hole_breaks_queue, P_IND),
		T(indirect_table_past_region_end_is_not_read, P_IND),
		MATRIX(readable_after_writable_breaks_queue),
		T(readable_after_writable_in_indirect_table_breaks_queue, P_IND),
		T(buffer_in_hole_breaks_queue, P_IND),
		T(buffer_straddling_into_hole_breaks_queue, P_IND),
		T(buffer_starting_in_hole_ending_in_region_breaks_queue, P_IND),
		T(buffer_beyond_all_regions_breaks_queue, P_IND),
		T(buffer_below_all_regions_breaks_queue, P_IND),
		T(buffer_address_plus_len_overflow_breaks_queue, P_IND),
		T(buffer_outside_memory_in_later_descriptor_breaks_queue, P_IND),
		T(buffer_outside_memory_in_indirect_table_breaks_queue, P_IND),
		cmocka_unit_test(chain_longer_than_2_32_bytes_breaks_queue),
		cmocka_unit_test(chain_longer_than_2_32_bytes_through_indirect_breaks_queue),

		T(broken_queue_stays_broken_after_driver_fixes_ring, P_IND),
		T(first_violation_is_the_reason_kept, P_IND),
		MATRIX(push_on_broken_queue_writes_nothing),
		MATRIX(flush_on_broken_queue_publishes_nothing),
		T(kick_calls_on_broken_queue_write_nothing, P_PLAIN),
		T(kick_calls_on_broken_queue_write_nothing, P_EVENT),
		MATRIX(broken_queue_never_touches_the_ring_again),

		MATRIX(push_is_invisible_until_flush),
		MATRIX(flush_exposes_a_batch_by_its_first_descriptor),
		MATRIX4(flush_writes_used_in_completion_order_skipping_lists),
		MATRIX(used_descriptor_flags_follow_wrap_and_length),
		MATRIX(used_descriptor_flags_in_each_lap),
		MATRIX(flush_with_nothing_pushed_returns_0),
		MATRIX(push_len_clamped_to_writable_size),
		MATRIX(push_len_on_readonly_buffer_is_0_without_write_flag),
		MATRIX(push_len_below_writable_size_is_kept),
		T(push_id_never_popped_is_einval, P_IND),
		T(push_id_never_popped_is_einval, P_ORD),
		T(push_id_out_of_range_is_einval, P_IND),
		T(push_same_id_twice_is_einval, P_IND),
		T(push_same_id_twice_is_einval, P_ORD),
		MATRIX(used_id_can_be_made_available_again),
		MATRIX(inflight_counts_popped_not_pushed),

		MATRIX(wrap_around_many_times),

		MATRIX(flush_notifies_with_flags_enable),
		MATRIX(flush_suppressed_with_flags_disable),
		MATRIX_NOEVENT(flush_desc_flag_without_event_idx_notifies),
		MATRIX(flush_reserved_flags_value_notifies),
		MATRIX(flush_ignores_reserved_flag_bits),
		MATRIX_EVENT(flush_desc_event_fires_at_that_descriptor),
		MATRIX_EVENT(flush_desc_event_batch_crossing_it_notifies_once),
		MATRIX_EVENT(flush_desc_event_waits_for_its_wrap_counter),
		MATRIX_EVENT(flush_desc_event_around_the_wrap_point),
		MATRIX_EVENT(flush_desc_event_behind_does_not_notify),
		MATRIX_EVENT(flush_desc_event_on_a_skipped_position_of_a_list),
		MATRIX_EVENT(flush_desc_event_offset_out_of_range_notifies),

		MATRIX(kick_disable_writes_flags_disable),
		MATRIX_NOEVENT(kick_enable_writes_flags_enable_without_event_idx),
		MATRIX_EVENT(kick_enable_names_next_descriptor_with_event_idx),
		MATRIX(kick_enable_returns_1_when_more_available),
		MATRIX(kick_enable_returns_1_after_the_wrap_point),
		MATRIX(kick_enable_does_not_consume),

		R(R_PLAIN), R(R_IND), R(R_EVENT), R(R_IND_EVENT),
		R(R_ORD), R(R_IND_ORD), R(R_EVENT_ORD), R(R_ALL),
		R(R_SPLIT_ORD), R(R_SPLIT_IND_ORD), R(R_SPLIT_EVENT_ORD), R(R_SPLIT_ALL),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
