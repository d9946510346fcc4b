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

#include "test_split_dev.h"

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

/*
 * The queue is broken for @why: pop returns -EIO, the reason is named,
 * nothing was consumed, and it stays so on every later call; flush and
 * kick_enable report nothing, the used ring is not touched.
 */
void assert_broken(struct fx *f, const char *why, uint32_t base, uint32_t inflight)
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
void add_one(struct fx *f, uint16_t d, uint64_t addr, uint32_t len, uint16_t flags)
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
		MATRIX(pop_buffers_leaving_the_region_of_the_one_before),
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
		MATRIX(buffer_leaving_the_region_of_the_one_before_breaks_queue),
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
