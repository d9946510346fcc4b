/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the split ring's driver-side tests share (test_split_drv*.c): the
 * reasons of a broken queue, the guarded memory, the fixture and its helpers
 * (reading what the driver wrote, playing the device), and the tests of the
 * other files for the table in test_split_drv.c.
 */
#ifndef VIO_TESTS_UNIT_TEST_SPLIT_DRV_H
#define VIO_TESTS_UNIT_TEST_SPLIT_DRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guarded.h"
#include "vio/drvq.h"
#include "vio/virtio.h"
#include "vio/virtio_ring.h"

/* The reasons vio_drvq_error() gives (src/ring/). */
#define E_USED_IDX   "used index moved past the buffers made available"
#define E_ID_OOR     "used id out of range"
#define E_ID_NOT_IN  "used id not in flight"
#define E_LEN        "used length larger than the device-writable part"
#define E_DETACHED   "buffers detached"
#define E_BATCH      "used batch longer than the used index moved"

#define F_INDIRECT VIO_BIT(VIRTIO_F_INDIRECT_DESC)
#define F_EVENT    VIO_BIT(VIRTIO_F_EVENT_IDX)
#define F_IN_ORDER VIO_BIT(VIRTIO_F_IN_ORDER)
#define NEXT       VIRTQ_DESC_F_NEXT
#define WRITE      VIRTQ_DESC_F_WRITE
#define INDIRECT   VIRTQ_DESC_F_INDIRECT

/* The device's address of indirect table 0, and of buffers (never mapped). */
#define IND_ADDR 0x7000000000ull
#define BUF      0xdead00000000ull


/* The fixture: a queue, its three ring areas, its indirect tables, and the fake device. */
struct params {
	uint32_t num;
	uint64_t features;
	uint32_t ind_max; /* indirect tables configured when > 0 */
};

struct fx {
	struct params p;
	struct guarded gq, gdesc, gavail, gused, gind;
	struct vio_drvq *q;
	struct virtq_desc *desc;
	struct virtq_avail *avail;
	struct virtq_used *used;
	struct virtq_desc *ind;
	struct vio_drvq_config cfg;
	/* the fake device */
	uint16_t dev_used;  /* next used entry it writes */
	uint16_t dev_avail; /* next avail entry it reads */
};

/* test_split_drv.c: the fixture's helpers */
uint16_t avail_idx(struct fx *f);
uint16_t avail_flags(struct fx *f);
uint16_t avail_ring(struct fx *f, uint32_t i);
uint16_t used_event(struct fx *f);
void assert_desc(const struct virtq_desc *d, uint64_t addr, uint32_t len, uint16_t flags,
		 uint16_t next);
void set_used_flags(struct fx *f, uint16_t v);
void set_avail_event(struct fx *f, uint16_t v);
void dev_put(struct fx *f, uint32_t id, uint32_t len);
void dev_publish(struct fx *f);
void dev_use(struct fx *f, uint32_t id, uint32_t len);
uint16_t dev_next_head(struct fx *f);
void *tok(uintptr_t i);
int add_n(struct fx *f, uint32_t nout, uint32_t nin, void *token);
uint16_t add_publish(struct fx *f, uint32_t nout, uint32_t nin, void *token);
void assert_used(struct fx *f, void *token, uint32_t len);
void assert_no_used(struct fx *f);

/* test_split_drv_add.c */
void add_direct_chain_readable_then_writable(void **state);
void add_is_published_only_by_kick_prepare(void **state);
void add_single_segment_is_direct_even_with_indirect(void **state);
void add_uses_the_indirect_table_of_the_head(void **state);
void add_indirect_table_filled_to_indirect_max(void **state);
void add_more_segments_than_indirect_max_goes_direct(void **state);
void add_without_indirect_feature_goes_direct(void **state);
void add_without_indirect_tables_goes_direct(void **state);
void add_chain_of_queue_size_segments(void **state);
void add_rejects_bad_segments_with_einval(void **state);
void add_rejects_chain_above_2_32_bytes(void **state);
void add_enospc_when_descriptors_run_out(void **state);
void add_enospc_for_direct_chain_longer_than_free(void **state);
void add_indirect_fits_where_direct_would_not(void **state);
void add_after_free_reuses_descriptors_without_reading_the_table(void **state);
void add_chain_follows_free_list_after_out_of_order_use(void **state);
void add_on_queue_of_size_1(void **state);

/* test_split_drv_used.c */
void get_used_returns_token_and_length(void **state);
void get_used_sees_nothing_before_used_idx_moves(void **state);
void get_used_accepts_len_0_on_readable_buffer(void **state);
void get_used_accepts_len_equal_to_writable_part(void **state);
void get_used_accepts_writable_part_of_4gib_minus_1(void **state);
void get_used_accepts_used_idx_exactly_num_ahead(void **state);
void assert_broken(struct fx *f, const char *why, void *const *toks, uint32_t n);
void hostile_used_id_out_of_range_breaks_queue(void **state);
void hostile_used_id_0xffffffff_breaks_queue(void **state);
void hostile_used_id_never_made_available_breaks_queue(void **state);
void hostile_used_id_of_a_chain_body_breaks_queue(void **state);
void hostile_used_id_added_but_not_published_breaks_queue(void **state);
void hostile_used_id_completed_twice_breaks_queue(void **state);
void hostile_used_id_completed_twice_after_reuse_is_not_confused(void **state);
void hostile_used_len_above_writable_breaks_queue(void **state);
void hostile_used_len_on_readable_only_buffer_breaks_queue(void **state);
void hostile_used_len_0xffffffff_breaks_queue(void **state);
void hostile_used_idx_more_than_num_ahead_breaks_queue(void **state);
void hostile_used_idx_ahead_of_buffers_made_available_breaks_queue(void **state);
void hostile_used_idx_going_back_breaks_queue(void **state);
void hostile_used_idx_with_nothing_in_flight_breaks_queue(void **state);
void hostile_device_writes_are_confined_to_the_rings(void **state);
void detach_returns_every_token_once(void **state);
void detach_with_nothing_in_flight_leaves_queue_usable(void **state);
void detach_after_init_again_gives_a_working_queue(void **state);

/* test_split_drv_notify.c */
void kick_without_event_idx_follows_used_flags(void **state);
void kick_with_event_idx_follows_avail_event(void **state);
void kick_with_event_idx_first_publish_notifies(void **state);
void cb_without_event_idx_uses_avail_flags(void **state);
void cb_with_event_idx_uses_used_event(void **state);
void get_used_does_not_rearm(void **state);
void indices_wrap_at_16_bits(void **state);
void event_idx_kick_decision_across_the_wrap(void **state);

/* test_split_drv_in_order.c */
void in_order_descriptors_in_ring_order(void **state);
void in_order_indirect_takes_the_next_descriptor(void **state);
void in_order_batch_returns_skipped_buffers_in_full(void **state);
void in_order_two_batches_published_at_once(void **state);
void in_order_batch_longer_than_used_idx_moved_breaks_queue(void **state);
void in_order_batch_naming_an_unpublished_head_breaks_queue(void **state);
void in_order_batch_naming_a_free_head_breaks_queue(void **state);
void in_order_batch_naming_a_chain_body_breaks_queue(void **state);
void in_order_batch_last_len_above_writable_breaks_queue(void **state);
void in_order_used_idx_past_available_breaks_queue(void **state);
void in_order_detach_in_the_middle_of_a_batch(void **state);
void in_order_batches_across_the_16_bit_wrap(void **state);

#endif /* VIO_TESTS_UNIT_TEST_SPLIT_DRV_H */
