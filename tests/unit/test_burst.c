/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The burst calls of both sides (vio_devq_pop_burst / push_burst,
 * vio_drvq_add_burst / get_used_burst), our driver against our device over
 * one ring, for each layout with and without VIRTIO_F_IN_ORDER: how many a
 * burst takes, where it stops, what the first element's failure returns, and
 * that a violation behind good elements is reported by the next call. The
 * packed layout has a fast path for buffers of one descriptor; the bursts
 * here mix those with lists, indirect tables and violations.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vio/devq.h"
#include "vio/drvq.h"
#include "vio/mem.h"
#include "vio/virtio.h"
#include "vio/virtio_ring.h"

#define NUM      16u
#define DATA_GPA 0x100000000ull
#define DATA_LEN (64u * 1024)
#define IND_MAX  4u
#define IOVS     4u
#define IND_LEN  (16u * IND_MAX * NUM) /* the indirect tables, at the end of the data */

struct fx {
	uint64_t features;
	_Alignas(64) uint8_t desc[16 * NUM];
	_Alignas(64) uint8_t driver[6 + 2 * NUM + 64];
	_Alignas(64) uint8_t device[6 + 8 * NUM + 64];
	uint8_t *data;
	struct vio_mem mem;
	struct vio_drvq *dq;
	struct vio_devq *vq;
	struct iovec iov[NUM][IOVS];
	struct vio_chain c[NUM];
};

static int setup(void **state, uint64_t features)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct vio_mem_region reg = { .gpa = DATA_GPA, .size = DATA_LEN, .uva = DATA_GPA, .fd = -1 };
	struct vio_drvq_config dc;
	struct vio_devq_config vc;

	assert_non_null(f);
	f->features = features | VIO_BIT(VIRTIO_F_VERSION_1) | VIO_BIT(VIRTIO_F_INDIRECT_DESC);
	f->data = calloc(1, DATA_LEN);
	f->dq = aligned_alloc(64, (vio_drvq_size(NUM) + 63) & ~(size_t)63);
	f->vq = aligned_alloc(64, (vio_devq_size(NUM) + 63) & ~(size_t)63);
	assert_true(f->data && f->dq && f->vq);
	reg.hva = f->data;
	vio_mem_init(&f->mem);
	assert_int_equal(vio_mem_add(&f->mem, &reg), 0);
	/* The indirect tables lie in guest memory too: the end of the data region. */
	dc = (struct vio_drvq_config){
		.num = NUM, .features = f->features, .desc = f->desc, .driver = f->driver,
		.device = f->device, .indirect = f->data + DATA_LEN - IND_LEN,
		.indirect_addr = DATA_GPA + DATA_LEN - IND_LEN, .indirect_max = IND_MAX,
	};
	vc = (struct vio_devq_config){
		.num = NUM, .features = f->features, .desc = f->desc, .driver = f->driver,
		.device = f->device, .mem = &f->mem,
		.base = vio_has_feature(features, VIRTIO_F_RING_PACKED) ? 0x80008000u : 0,
	};
	assert_int_equal(vio_drvq_init(f->dq, &dc), 0);
	assert_int_equal(vio_devq_init(f->vq, &vc), 0);
	for (uint32_t i = 0; i < NUM; i++)
		f->c[i] = (struct vio_chain){ .iov = f->iov[i], .iov_cap = IOVS };
	*state = f;
	return 0;
}

static int setup_split(void **state) { return setup(state, 0); }
static int setup_split_io(void **state) { return setup(state, VIO_BIT(VIRTIO_F_IN_ORDER)); }
static int setup_packed(void **state) { return setup(state, VIO_BIT(VIRTIO_F_RING_PACKED)); }
static int setup_packed_io(void **state)
{
	return setup(state, VIO_BIT(VIRTIO_F_RING_PACKED) | VIO_BIT(VIRTIO_F_IN_ORDER));
}

static int teardown(void **state)
{
	struct fx *f = *state;

	free(f->data);
	free(f->dq);
	free(f->vq);
	free(f);
	return 0;
}

static bool packed(const struct fx *f)
{
	return vio_has_feature(f->features, VIRTIO_F_RING_PACKED);
}

static void *tok(uintptr_t i)
{
	return (void *)(i + 1);
}

/* Buffer i: @nseg segments of 64 bytes at DATA_GPA + 4096 * i, the last @nin writable. */
struct bufs {
	struct vio_sg sg[NUM][IND_MAX + 1];
	struct vio_drvq_buf b[NUM];
};

static void buf(struct bufs *s, uint32_t i, uint32_t nseg, uint32_t nin)
{
	for (uint32_t k = 0; k < nseg; k++)
		s->sg[i][k] = (struct vio_sg){ DATA_GPA + 4096ull * i + 64ull * k, 64 };
	s->b[i] = (struct vio_drvq_buf){ s->sg[i], nseg - nin, nin, tok(i) };
}

/* Adds @n buffers of one writable segment each, publishes them. */
static void add_simple(struct fx *f, uint32_t n)
{
	struct bufs s;

	for (uint32_t i = 0; i < n; i++)
		buf(&s, i, 1, 1);
	assert_int_equal(vio_drvq_add_burst(f->dq, s.b, n), (int)n);
	vio_drvq_kick_prepare(f->dq);
}

/* Pops @n chains (one burst), completes each with its writable size, flushes. */
static void serve(struct fx *f, uint32_t n)
{
	struct vio_used u[NUM];

	assert_int_equal(vio_devq_pop_burst(f->vq, f->c, NUM), (int)n);
	for (uint32_t i = 0; i < n; i++)
		u[i] = (struct vio_used){ f->c[i].id, (uint32_t)f->c[i].in_bytes };
	assert_int_equal(vio_devq_push_burst(f->vq, u, n), (int)n);
	vio_devq_flush(f->vq);
}

/* The id the device sees for the buffer made available @k-th from the start of the ring. */
static uint16_t *ring_id(struct fx *f, uint32_t k)
{
	if (packed(f))
		return &((struct pvirtq_desc *)(void *)f->desc)[k].id.v;
	return &((struct virtq_avail *)(void *)f->driver)->ring[k].v;
}

/* The id of the @k-th used element. */
static void *used_id(struct fx *f, uint32_t k)
{
	if (packed(f))
		return &((struct pvirtq_desc *)(void *)f->desc)[k].id.v;
	return &((struct virtq_used *)(void *)f->device)->ring[k].id.v;
}

static void pop_burst_takes_what_is_there(void **state)
{
	struct fx *f = *state;

	assert_int_equal(vio_devq_pop_burst(f->vq, f->c, NUM), 0);
	add_simple(f, 3);
	assert_int_equal(vio_devq_pop_burst(f->vq, f->c, NUM), 3);
	for (uint32_t i = 0; i < 3; i++) {
		assert_int_equal(f->c[i].nout, 0);
		assert_int_equal(f->c[i].nin, 1);
		assert_int_equal(f->c[i].in_bytes, 64);
		assert_int_equal(f->c[i].out_bytes, 0);
		assert_int_equal(f->c[i].ndesc, 1);
		assert_int_equal(f->c[i].truncated, 0);
		assert_ptr_equal(f->c[i].iov[0].iov_base, f->data + 4096 * i);
		assert_int_equal(f->c[i].iov[0].iov_len, 64);
	}
	assert_int_equal(vio_devq_inflight(f->vq), 3);
	assert_int_equal(vio_devq_pop_burst(f->vq, f->c, NUM), 0);
}

static void pop_burst_stops_at_n(void **state)
{
	struct fx *f = *state;

	add_simple(f, 5);
	assert_int_equal(vio_devq_pop_burst(f->vq, f->c, 2), 2);
	assert_int_equal(vio_devq_pop_burst(f->vq, f->c + 2, 2), 2);
	assert_int_equal(vio_devq_pop_burst(f->vq, f->c + 4, 2), 1);
	assert_int_equal(vio_devq_pop_burst(f->vq, f->c, 0), 0);
	assert_null(vio_devq_error(f->vq));
}

/* One-segment buffers, a list or indirect table, readable and writable, in one burst. */
static void bursts_of_mixed_shapes_keep_ring_order(void **state)
{
	struct fx *f = *state;
	static const uint32_t nseg[6] = { 1, 3, 1, 1, 2, 1 }, nin[6] = { 1, 1, 0, 1, 2, 1 };
	void *toks[NUM];
	uint32_t lens[NUM];
	struct bufs s;

	for (uint32_t i = 0; i < 6; i++)
		buf(&s, i, nseg[i], nin[i]);
	assert_int_equal(vio_drvq_add_burst(f->dq, s.b, 6), 6);
	vio_drvq_kick_prepare(f->dq);
	assert_int_equal(vio_devq_pop_burst(f->vq, f->c, NUM), 6);
	for (uint32_t i = 0; i < 6; i++) {
		assert_int_equal(f->c[i].out_bytes, 64 * (nseg[i] - nin[i]));
		assert_int_equal(f->c[i].in_bytes, 64 * nin[i]);
		assert_ptr_equal(f->c[i].iov[0].iov_base, f->data + 4096 * i);
	}
	{
		struct vio_used u[6];

		for (uint32_t i = 0; i < 6; i++)
			u[i] = (struct vio_used){ f->c[i].id, (uint32_t)f->c[i].in_bytes };
		assert_int_equal(vio_devq_push_burst(f->vq, u, 6), 6);
	}
	vio_devq_flush(f->vq);
	assert_int_equal(vio_drvq_get_used_burst(f->dq, toks, lens, NUM), 6);
	for (uint32_t i = 0; i < 6; i++) {
		assert_ptr_equal(toks[i], tok(i));
		assert_int_equal(lens[i], 64 * nin[i]);
	}
	assert_int_equal(vio_drvq_get_used_burst(f->dq, toks, lens, NUM), 0);
	assert_int_equal(vio_drvq_num_free(f->dq), NUM);
}

/* A chain needing more iovecs than its chain has: popped, truncated, completed like others. */
static void pop_burst_marks_a_chain_too_long_for_its_iovecs_truncated(void **state)
{
	struct fx *f = *state;
	struct bufs s;
	struct vio_used u[3];
	void *toks[3];
	uint32_t lens[3];

	buf(&s, 0, 1, 1);
	buf(&s, 1, IND_MAX + 1, 2); /* a list of 5 descriptors: 5 iovecs > IOVS */
	buf(&s, 2, 1, 1);
	assert_int_equal(vio_drvq_add_burst(f->dq, s.b, 3), 3);
	vio_drvq_kick_prepare(f->dq);
	assert_int_equal(vio_devq_pop_burst(f->vq, f->c, NUM), 3);
	assert_int_equal(f->c[0].truncated, 0);
	assert_int_equal(f->c[1].truncated, 1);
	assert_int_equal(f->c[2].truncated, 0);
	for (uint32_t i = 0; i < 3; i++)
		u[i] = (struct vio_used){ f->c[i].id, i == 1 ? 0 : 64 };
	assert_int_equal(vio_devq_push_burst(f->vq, u, 3), 3);
	vio_devq_flush(f->vq);
	assert_int_equal(vio_drvq_get_used_burst(f->dq, toks, lens, 3), 3);
	assert_int_equal(lens[0], 64);
	assert_int_equal(lens[1], 0);
	assert_int_equal(lens[2], 64);
	assert_null(vio_devq_error(f->vq));
}

/* A violation behind good buffers: the burst returns those, the next call -EIO. */
static void pop_burst_returns_good_ones_before_a_violation(void **state)
{
	struct fx *f = *state;

	add_simple(f, 4);
	/* The third buffer names an id out of range (split: its head). */
	*ring_id(f, 2) = (uint16_t)(NUM + 3);
	assert_int_equal(vio_devq_pop_burst(f->vq, f->c, NUM), 2);
	assert_int_equal(f->c[0].id != f->c[1].id, 1);
	/* Broken already; the good ones are the caller's to complete. */
	assert_non_null(vio_devq_error(f->vq));
	assert_int_equal(vio_devq_pop_burst(f->vq, f->c, NUM), -EIO);
	assert_int_equal(vio_devq_inflight(f->vq), 2);
}

static void pop_burst_on_a_violation_first_returns_eio(void **state)
{
	struct fx *f = *state;

	add_simple(f, 2);
	*ring_id(f, 0) = 0xffff;
	assert_int_equal(vio_devq_pop_burst(f->vq, f->c, NUM), -EIO);
	assert_int_equal(vio_devq_inflight(f->vq), 0);
}

/* An id already in flight, one descriptor: the fast path leaves it, the general path refuses it. */
static void pop_burst_refuses_an_id_in_flight_after_good_ones(void **state)
{
	struct fx *f = *state;

	add_simple(f, 3);
	*ring_id(f, 2) = *ring_id(f, 0);
	assert_int_equal(vio_devq_pop_burst(f->vq, f->c, NUM), 2);
	assert_int_equal(vio_devq_pop_burst(f->vq, f->c, NUM), -EIO);
}

static void push_burst_stops_at_an_id_not_in_flight(void **state)
{
	struct fx *f = *state;
	struct vio_used u[3];

	add_simple(f, 2);
	assert_int_equal(vio_devq_pop_burst(f->vq, f->c, NUM), 2);
	u[0] = (struct vio_used){ f->c[0].id, 64 };
	u[1] = (struct vio_used){ f->c[0].id, 64 }; /* twice */
	u[2] = (struct vio_used){ f->c[1].id, 64 };
	assert_int_equal(vio_devq_push_burst(f->vq, u, 3), 1);
	assert_int_equal(vio_devq_inflight(f->vq), 1);
	u[0] = (struct vio_used){ (uint16_t)NUM, 0 };
	assert_int_equal(vio_devq_push_burst(f->vq, u, 1), 0);
	assert_int_equal(vio_devq_push(f->vq, (uint16_t)NUM, 0), -EINVAL);
	assert_int_equal(vio_devq_push_burst(f->vq, u + 2, 1), 1);
	assert_int_equal(vio_devq_inflight(f->vq), 0);
	assert_null(vio_devq_error(f->vq));
}

static void push_burst_on_a_broken_queue_returns_eio(void **state)
{
	struct fx *f = *state;
	struct vio_used u[2];

	add_simple(f, 3);
	*ring_id(f, 2) = 0xffff;
	assert_int_equal(vio_devq_pop_burst(f->vq, f->c, NUM), 2);
	assert_int_equal(vio_devq_pop_burst(f->vq, f->c + 2, NUM), -EIO);
	u[0] = (struct vio_used){ f->c[0].id, 64 };
	u[1] = (struct vio_used){ f->c[1].id, 64 };
	assert_int_equal(vio_devq_push_burst(f->vq, u, 2), -EIO);
	assert_int_equal(vio_devq_inflight(f->vq), 0);
}

static void add_burst_stops_when_the_ring_is_full(void **state)
{
	struct fx *f = *state;
	struct bufs s;

	for (uint32_t i = 0; i < NUM; i++)
		buf(&s, i, 1, 1);
	assert_int_equal(vio_drvq_add_burst(f->dq, s.b, NUM - 2), (int)NUM - 2);
	assert_int_equal(vio_drvq_add_burst(f->dq, s.b, 5), 2);
	assert_int_equal(vio_drvq_add_burst(f->dq, s.b, 1), -ENOSPC);
	assert_int_equal(vio_drvq_num_free(f->dq), 0);
	assert_int_equal(vio_drvq_inflight(f->dq), NUM);
	vio_drvq_kick_prepare(f->dq);
	serve(f, NUM);
}

static void add_burst_stops_at_an_invalid_buffer(void **state)
{
	struct fx *f = *state;
	struct bufs s;

	for (uint32_t i = 0; i < 4; i++)
		buf(&s, i, 1, 1);
	s.sg[2][0].len = 0; /* zero-length segment */
	assert_int_equal(vio_drvq_add_burst(f->dq, s.b, 4), 2);
	assert_int_equal(vio_drvq_inflight(f->dq), 2);
	assert_int_equal(vio_drvq_add_burst(f->dq, s.b + 2, 2), -EINVAL);
	s.b[3].sg = NULL;
	assert_int_equal(vio_drvq_add_burst(f->dq, s.b + 3, 1), -EINVAL);
	s.b[3].sg = s.sg[3];
	s.b[3].nout = 0xffffffffu; /* nout + nin wraps to 0 in 32 bits */
	assert_int_equal(vio_drvq_add_burst(f->dq, s.b + 3, 1), -EINVAL);
	s.sg[3][0].addr = UINT64_MAX - 10; /* end past 2^64 */
	s.b[3].nout = 0;
	assert_int_equal(vio_drvq_add_burst(f->dq, s.b + 3, 1), -EINVAL);
	assert_int_equal(vio_drvq_add_burst(f->dq, s.b, 0), 0);
	assert_int_equal(vio_drvq_inflight(f->dq), 2);
	vio_drvq_kick_prepare(f->dq);
	serve(f, 2);
}

static void get_used_burst_stops_at_n_and_at_the_end(void **state)
{
	struct fx *f = *state;
	void *toks[NUM];
	uint32_t lens[NUM];

	add_simple(f, 5);
	serve(f, 5);
	assert_int_equal(vio_drvq_get_used_burst(f->dq, toks, lens, 2), 2);
	assert_ptr_equal(toks[0], tok(0));
	assert_ptr_equal(toks[1], tok(1));
	assert_int_equal(vio_drvq_get_used_burst(f->dq, toks, lens, NUM), 3);
	assert_ptr_equal(toks[2], tok(4));
	assert_int_equal(lens[2], 64);
	assert_int_equal(vio_drvq_get_used_burst(f->dq, toks, lens, NUM), 0);
	assert_int_equal(vio_drvq_num_free(f->dq), NUM);
}

/* A used element naming an id out of range behind good ones (not with IN_ORDER, whose
 * one element stands for the batch). */
static void get_used_burst_returns_good_ones_before_a_lie(void **state)
{
	struct fx *f = *state;
	void *toks[NUM];
	uint32_t lens[NUM];

	add_simple(f, 4);
	serve(f, 4);
	*(uint16_t *)used_id(f, 2) = (uint16_t)(NUM + 1);
	assert_int_equal(vio_drvq_get_used_burst(f->dq, toks, lens, NUM), 2);
	assert_ptr_equal(toks[0], tok(0));
	assert_ptr_equal(toks[1], tok(1));
	assert_non_null(vio_drvq_error(f->dq)); /* broken already */
	assert_int_equal(vio_drvq_get_used_burst(f->dq, toks, lens, NUM), -EIO);
}

/* Bursts going round the ring many times: the wrap counters (packed) and indices (split). */
static void bursts_go_round_the_ring(void **state)
{
	struct fx *f = *state;
	void *toks[NUM];
	uint32_t lens[NUM], n = 0;

	for (uint32_t lap = 0; lap < 40; lap++) {
		uint32_t k = 1 + lap % 7;

		add_simple(f, k);
		serve(f, k);
		assert_int_equal(vio_drvq_get_used_burst(f->dq, toks, lens, NUM), (int)k);
		for (uint32_t i = 0; i < k; i++)
			assert_ptr_equal(toks[i], tok(i));
		n += k;
	}
	assert_true(n > 4 * NUM);
	assert_null(vio_devq_error(f->vq));
	assert_null(vio_drvq_error(f->dq));
}

#define ALL(t)                                                                    \
	cmocka_unit_test_setup_teardown(t, setup_split, teardown),                \
	cmocka_unit_test_setup_teardown(t, setup_split_io, teardown),             \
	cmocka_unit_test_setup_teardown(t, setup_packed, teardown),               \
	cmocka_unit_test_setup_teardown(t, setup_packed_io, teardown)
#define NOT_IN_ORDER(t)                                                           \
	cmocka_unit_test_setup_teardown(t, setup_split, teardown),                \
	cmocka_unit_test_setup_teardown(t, setup_packed, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		ALL(pop_burst_takes_what_is_there),
		ALL(pop_burst_stops_at_n),
		ALL(bursts_of_mixed_shapes_keep_ring_order),
		ALL(pop_burst_marks_a_chain_too_long_for_its_iovecs_truncated),
		ALL(pop_burst_returns_good_ones_before_a_violation),
		ALL(pop_burst_on_a_violation_first_returns_eio),
		ALL(pop_burst_refuses_an_id_in_flight_after_good_ones),
		ALL(push_burst_stops_at_an_id_not_in_flight),
		ALL(push_burst_on_a_broken_queue_returns_eio),
		ALL(add_burst_stops_when_the_ring_is_full),
		ALL(add_burst_stops_at_an_invalid_buffer),
		ALL(get_used_burst_stops_at_n_and_at_the_end),
		NOT_IN_ORDER(get_used_burst_returns_good_ones_before_a_lie),
		ALL(bursts_go_round_the_ring),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
