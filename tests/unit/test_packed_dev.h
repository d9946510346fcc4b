/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the packed ring's device-side tests share (test_packed_dev*.c): the
 * reasons of a broken queue, the fixture and its helpers, and the tests of
 * the other files for the table in test_packed_dev.c.
 */
#ifndef VIO_TESTS_UNIT_TEST_PACKED_DEV_H
#define VIO_TESTS_UNIT_TEST_PACKED_DEV_H

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

/* Everything the device may write: the ring and the Device Event Suppression. */
struct snap {
	struct mock_pdesc d[64];
	uint16_t ev_flags, ev_desc;
};

/* A 4 GiB region, so chains of 2^32 bytes can lie in guest memory. */
struct big {
	struct mock_mem m;
	struct fx f;
};

/* test_packed_dev.c: the fixture's helpers */
int pop_cap(struct fx *f, uint32_t cap);
int pop(struct fx *f);
void assert_iov(const struct iovec *iov, const void *base, size_t len);
void *hva(struct fx *f, uint64_t gpa);
uint32_t put(struct fx *f, uint64_t addr, uint32_t len, uint16_t id, uint16_t flags);
void add_one(struct fx *f, uint64_t addr, uint32_t len, uint16_t id, uint16_t flags);
uint32_t half(uint32_t pos, bool wrap);
uint32_t base_of(uint32_t avail, bool aw, uint32_t used, bool uw);
void take_snap(struct fx *f, struct snap *s);
void assert_snap_equal(struct fx *f, const struct snap *a);
void assert_broken(struct fx *f, const char *why, uint32_t base, uint32_t inflight);
uint16_t reap(struct fx *f, uint16_t id, uint32_t len, uint32_t nbufs);
void assert_nothing_used(struct fx *f);

/* test_packed_dev_pop.c */
struct big *big_setup(uint64_t features);
void big_free(struct big *b);
void pop_on_empty_ring_returns_0(void **state);
void pop_sees_nothing_before_first_descriptor_is_published(void **state);
void pop_single_readable_buffer(void **state);
void pop_single_writable_buffer(void **state);
void pop_list_readable_then_writable(void **state);
void pop_takes_buffer_id_from_last_descriptor(void **state);
void pop_list_of_queue_size_descriptors_is_accepted(void **state);
void pop_list_across_the_end_of_the_ring(void **state);
void pop_zero_length_buffer_gives_no_iovec(void **state);
void pop_buffer_straddling_two_regions_gives_two_iovecs(void **state);
void pop_buffer_filling_last_byte_of_region_is_accepted(void **state);
void pop_indirect_table(void **state);
void pop_indirect_via_mock_vq_add(void **state);
void pop_ignores_write_flag_on_indirect_descriptor(void **state);
void pop_indirect_table_straddling_two_regions(void **state);
void pop_indirect_table_of_32768_entries_is_accepted(void **state);
void pop_returns_buffers_in_ring_order(void **state);
void pop_queue_size_buffers_in_flight_is_accepted(void **state);
void pop_chain_of_exactly_2_32_bytes_is_accepted(void **state);
void pop_enobufs_when_iov_cap_too_small_keeps_buffer_in_flight(void **state);
void pop_enobufs_buffer_can_be_pushed_with_len_0(void **state);
void pop_enobufs_for_straddling_buffer_needing_second_iovec(void **state);
void pop_enobufs_with_zero_iov_cap(void **state);
void pop_enobufs_still_validates_rest_of_list(void **state);
void pop_enobufs_still_checks_descriptor_order(void **state);

/* test_packed_dev_broken.c */
void id_out_of_range_breaks_queue(void **state);
void id_0xffff_breaks_queue(void **state);
void id_out_of_range_in_last_descriptor_of_list_breaks_queue(void **state);
void id_already_in_flight_breaks_queue(void **state);
void id_in_flight_after_enobufs_breaks_queue(void **state);
void list_continuing_into_unwritten_descriptor_breaks_queue(void **state);
void list_later_descriptor_with_other_wrap_breaks_queue(void **state);
void list_later_descriptor_marked_used_breaks_queue(void **state);
void list_across_ring_end_with_stale_wrap_breaks_queue(void **state);
void list_longer_than_queue_breaks_queue(void **state);
void more_descriptors_in_flight_than_queue_size_breaks_queue(void **state);
void one_descriptor_more_than_queue_size_breaks_queue(void **state);
void descriptors_freed_by_push_may_be_reused(void **state);
void indirect_at_end_of_list_breaks_queue(void **state);
void indirect_via_mock_direct_then_indirect_breaks_queue(void **state);
void indirect_together_with_next_breaks_queue(void **state);
void nested_indirect_breaks_queue(void **state);
void indirect_without_feature_breaks_queue(void **state);
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
void buffer_in_hole_breaks_queue(void **state);
void buffer_straddling_into_hole_breaks_queue(void **state);
void buffer_starting_in_hole_ending_in_region_breaks_queue(void **state);
void buffer_beyond_all_regions_breaks_queue(void **state);
void buffer_below_all_regions_breaks_queue(void **state);
void buffer_address_plus_len_overflow_breaks_queue(void **state);
void buffer_outside_memory_in_later_descriptor_breaks_queue(void **state);
void buffer_outside_memory_in_indirect_table_breaks_queue(void **state);
void chain_longer_than_2_32_bytes_breaks_queue(void **state);
void chain_longer_than_2_32_bytes_through_indirect_breaks_queue(void **state);
void broken_queue_stays_broken_after_driver_fixes_ring(void **state);
void first_violation_is_the_reason_kept(void **state);
void push_on_broken_queue_writes_nothing(void **state);
void flush_on_broken_queue_publishes_nothing(void **state);
void kick_calls_on_broken_queue_write_nothing(void **state);
void broken_queue_never_touches_the_ring_again(void **state);

/* test_packed_dev_push.c */
void push_is_invisible_until_flush(void **state);
void flush_exposes_a_batch_by_its_first_descriptor(void **state);
void flush_writes_used_in_completion_order_skipping_lists(void **state);
void used_descriptor_flags_follow_wrap_and_length(void **state);
void used_descriptor_flags_in_each_lap(void **state);
void flush_with_nothing_pushed_returns_0(void **state);
void push_len_clamped_to_writable_size(void **state);
void push_len_on_readonly_buffer_is_0_without_write_flag(void **state);
void push_len_below_writable_size_is_kept(void **state);
void push_id_never_popped_is_einval(void **state);
void push_id_out_of_range_is_einval(void **state);
void push_same_id_twice_is_einval(void **state);
void used_id_can_be_made_available_again(void **state);
void inflight_counts_popped_not_pushed(void **state);
void wrap_around_many_times(void **state);
void flush_notifies_with_flags_enable(void **state);
void flush_suppressed_with_flags_disable(void **state);
void flush_desc_flag_without_event_idx_notifies(void **state);
void flush_reserved_flags_value_notifies(void **state);
void flush_ignores_reserved_flag_bits(void **state);
void flush_desc_event_fires_at_that_descriptor(void **state);
void flush_desc_event_batch_crossing_it_notifies_once(void **state);
void flush_desc_event_waits_for_its_wrap_counter(void **state);
void flush_desc_event_around_the_wrap_point(void **state);
void flush_desc_event_behind_does_not_notify(void **state);
void flush_desc_event_on_a_skipped_position_of_a_list(void **state);
void flush_desc_event_offset_out_of_range_notifies(void **state);
void kick_disable_writes_flags_disable(void **state);
void kick_enable_writes_flags_enable_without_event_idx(void **state);
void kick_enable_names_next_descriptor_with_event_idx(void **state);
void kick_enable_returns_1_when_more_available(void **state);
void kick_enable_returns_1_after_the_wrap_point(void **state);
void kick_enable_does_not_consume(void **state);

/* test_packed_dev_random.c */
void random_model_over_many_wraps(void **state);

#endif /* VIO_TESTS_UNIT_TEST_PACKED_DEV_H */
