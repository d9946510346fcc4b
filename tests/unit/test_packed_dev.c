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

#include "test_packed_dev.h"

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
int pop_cap(struct fx *f, uint32_t cap)
{
	memset(f->iov, 0xa5, sizeof(f->iov));
	memset(&f->c, 0xa5, sizeof(f->c));
	f->c.iov = f->iov;
	f->c.iov_cap = cap;
	return vio_devq_pop(f->q, &f->c);
}

int pop(struct fx *f)
{
	return pop_cap(f, IOV_CAP);
}

void assert_iov(const struct iovec *iov, const void *base, size_t len)
{
	assert_ptr_equal(iov->iov_base, base);
	assert_int_equal(iov->iov_len, len);
}

void *hva(struct fx *f, uint64_t gpa)
{
	return mock_hva(&f->m, gpa);
}

/* A descriptor at the driver's cursor (the first of a batch held back). */
uint32_t put(struct fx *f, uint64_t addr, uint32_t len, uint16_t id, uint16_t flags)
{
	return mock_packed_put(&f->vq, addr, len, id, flags);
}

/* One single-descriptor buffer, made available at once. */
void add_one(struct fx *f, uint64_t addr, uint32_t len, uint16_t id, uint16_t flags)
{
	put(f, addr, len, id, flags);
	mock_packed_publish(&f->vq);
}

/* The vhost-user base half for ring position @pos with wrap counter @wrap. */
uint32_t half(uint32_t pos, bool wrap)
{
	return pos | (wrap ? 0x8000u : 0);
}

uint32_t base_of(uint32_t avail, bool aw, uint32_t used, bool uw)
{
	return half(avail, aw) | half(used, uw) << 16;
}

void take_snap(struct fx *f, struct snap *s)
{
	uint32_t p;

	assert_true(f->p.num <= 64);
	memset(s, 0, sizeof(*s));
	for (p = 0; p < f->p.num; p++)
		mock_packed_read(&f->vq, p, &s->d[p]);
	mock_packed_device_event(&f->vq, &s->ev_flags, &s->ev_desc);
}

void assert_snap_equal(struct fx *f, const struct snap *a)
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
void assert_broken(struct fx *f, const char *why, uint32_t base, uint32_t inflight)
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
uint16_t reap(struct fx *f, uint16_t id, uint32_t len, uint32_t nbufs)
{
	struct mock_used u;

	assert_int_equal(mock_vq_used(&f->vq, &u), 1);
	assert_int_equal(u.id, id);
	assert_int_equal(u.len, len);
	assert_int_equal(u.nbufs, nbufs);
	return u.pos;
}

void assert_nothing_used(struct fx *f)
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
