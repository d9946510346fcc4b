/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the split ring's device-side tests share (test_split_dev*.c): the
 * reasons of a broken queue, the fixture and its helpers, and the tests of
 * the other files for the table in test_split_dev.c.
 */
#ifndef VIO_TESTS_UNIT_TEST_SPLIT_DEV_H
#define VIO_TESTS_UNIT_TEST_SPLIT_DEV_H

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

/* A 4 GiB region, so chains of 2^32 bytes can lie in guest memory. */
struct big {
	struct mock_mem m;
	struct mock_vq vq;
	struct iovec iov[8];
	struct vio_chain c;
};

/* test_split_dev.c: the fixture's helpers */
int pop_cap(struct fx *f, uint32_t cap);
int pop(struct fx *f);
void assert_iov(const struct iovec *iov, const void *base, size_t len);
void *hva(struct fx *f, uint64_t gpa);
void assert_broken(struct fx *f, const char *why, uint32_t base, uint32_t inflight);
void add_one(struct fx *f, uint16_t d, uint64_t addr, uint32_t len, uint16_t flags);

/* test_split_dev_pop.c */
struct big *big_setup(uint64_t features);
void big_free(struct big *b);
void pop_on_empty_ring_returns_0(void **state);
void pop_ignores_entries_not_yet_published(void **state);
void pop_single_readable_buffer(void **state);
void pop_direct_chain_readable_then_writable(void **state);
void pop_writable_only_chain(void **state);
void pop_follows_next_in_any_table_order(void **state);
void pop_chain_of_queue_size_descriptors_is_accepted(void **state);
void pop_zero_length_buffer_gives_no_iovec(void **state);
void pop_buffer_straddling_two_regions_gives_two_iovecs(void **state);
void pop_buffers_leaving_the_region_of_the_one_before(void **state);
void pop_buffer_filling_last_byte_of_region_is_accepted(void **state);
void pop_indirect_chain(void **state);
void pop_indirect_table_straddling_two_regions(void **state);
void pop_direct_then_indirect_chain(void **state);
void pop_ignores_write_flag_on_indirect_descriptor(void **state);
void pop_indirect_table_of_32768_entries_is_accepted(void **state);
void pop_indirect_chain_using_every_table_entry_is_accepted(void **state);
void pop_avail_idx_exactly_queue_size_ahead_is_accepted(void **state);
void pop_returns_chains_in_avail_order(void **state);
void pop_chain_of_exactly_2_32_bytes_is_accepted(void **state);
void pop_enobufs_when_iov_cap_too_small_keeps_chain_in_flight(void **state);
void pop_enobufs_chain_can_be_pushed_with_len_0(void **state);
void pop_enobufs_for_straddling_buffer_needing_second_iovec(void **state);
void pop_enobufs_with_zero_iov_cap(void **state);
void pop_enobufs_still_validates_rest_of_chain(void **state);
void pop_enobufs_still_checks_descriptor_order(void **state);

/* test_split_dev_broken.c */
void loop_to_itself_breaks_queue(void **state);
void loop_between_two_descriptors_breaks_queue(void **state);
void loop_back_after_every_descriptor_breaks_queue(void **state);
void loop_detected_at_queue_size_plus_one_links(void **state);
void indirect_loop_detected_at_table_size_plus_one_links(void **state);
void loop_inside_indirect_table_breaks_queue(void **state);
void loop_to_itself_inside_indirect_table_breaks_queue(void **state);
void next_out_of_range_breaks_queue(void **state);
void next_0xffff_breaks_queue(void **state);
void indirect_next_out_of_range_breaks_queue(void **state);
void nested_indirect_breaks_queue(void **state);
void indirect_without_feature_breaks_queue(void **state);
void indirect_together_with_next_breaks_queue(void **state);
void indirect_length_0_breaks_queue(void **state);
void indirect_length_not_multiple_of_16_breaks_queue(void **state);
void indirect_length_below_16_breaks_queue(void **state);
void indirect_length_above_16x32768_breaks_queue(void **state);
void indirect_table_address_overflow_breaks_queue(void **state);
void indirect_table_in_hole_breaks_queue(void **state);
void indirect_table_straddling_into_hole_breaks_queue(void **state);
void indirect_table_past_region_end_is_not_read(void **state);
void readable_after_writable_breaks_queue(void **state);
void readable_after_writable_in_indirect_table_breaks_queue(void **state);
void readable_indirect_after_writable_direct_breaks_queue(void **state);
void avail_idx_more_than_queue_size_ahead_breaks_queue(void **state);
void avail_idx_jump_after_progress_breaks_queue(void **state);
void avail_idx_moving_backwards_breaks_queue(void **state);
void head_out_of_range_breaks_queue(void **state);
void head_0xffff_breaks_queue(void **state);
void head_already_in_flight_breaks_queue(void **state);
void head_in_flight_after_enobufs_breaks_queue(void **state);
void buffer_in_hole_breaks_queue(void **state);
void buffer_straddling_into_hole_breaks_queue(void **state);
void buffer_leaving_the_region_of_the_one_before_breaks_queue(void **state);
void buffer_starting_in_hole_ending_in_region_breaks_queue(void **state);
void buffer_beyond_all_regions_breaks_queue(void **state);
void buffer_below_all_regions_breaks_queue(void **state);
void buffer_address_plus_len_overflow_breaks_queue(void **state);
void buffer_outside_memory_in_indirect_table_breaks_queue(void **state);
void chain_longer_than_2_32_bytes_breaks_queue(void **state);
void chain_longer_than_2_32_bytes_through_indirect_breaks_queue(void **state);
void broken_queue_stays_broken_after_driver_fixes_ring(void **state);
void first_violation_is_the_reason_kept(void **state);
void push_on_broken_queue_writes_nothing(void **state);
void flush_on_broken_queue_publishes_nothing(void **state);
void kick_calls_on_broken_queue_write_nothing(void **state);
void broken_queue_never_reads_the_ring_again(void **state);

/* test_split_dev_push.c */
void push_is_invisible_until_flush(void **state);
void flush_publishes_batch_in_push_order_with_lengths(void **state);
void flush_with_nothing_pushed_returns_0(void **state);
void push_len_clamped_to_writable_size(void **state);
void push_len_on_readonly_chain_is_0(void **state);
void push_len_below_writable_size_is_kept(void **state);
void push_id_never_popped_is_einval(void **state);
void push_id_out_of_range_is_einval(void **state);
void push_same_id_twice_is_einval(void **state);
void pushed_head_can_be_made_available_again(void **state);
void inflight_counts_popped_not_pushed(void **state);
void flush_notifies_when_avail_flags_0(void **state);
void flush_suppressed_by_no_interrupt_flag(void **state);
void flush_ignores_used_event_without_event_idx(void **state);
void flush_notifies_when_used_event_reached(void **state);
void flush_suppressed_before_used_event(void **state);
void flush_batch_crossing_used_event_notifies_once(void **state);
void flush_used_event_behind_does_not_notify(void **state);
void flush_ignores_no_interrupt_flag_with_event_idx(void **state);
void flush_used_event_across_16_bit_wrap(void **state);
void kick_disable_sets_no_notify_without_event_idx(void **state);
void kick_enable_clears_no_notify_and_returns_0_when_empty(void **state);
void kick_enable_returns_1_when_more_available(void **state);
void kick_enable_does_not_consume(void **state);
void kick_disable_writes_nothing_with_event_idx(void **state);
void kick_enable_publishes_avail_event_with_event_idx(void **state);
void kick_enable_returns_1_when_more_available_with_event_idx(void **state);
void indices_wrap_at_16_bits(void **state);

/* test_split_dev_random.c */
void random_chains_over_many_wraps(void **state);

#endif /* VIO_TESTS_UNIT_TEST_SPLIT_DEV_H */
