/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the packed ring's driver-side tests share (test_packed_drv*.c): the
 * reasons of a broken queue, the guarded memory, the fixture and its helpers
 * (reading what the driver wrote, playing the device), and the tests of the
 * other files for the table in test_packed_drv.c.
 */
#ifndef VIO_TESTS_UNIT_TEST_PACKED_DRV_H
#define VIO_TESTS_UNIT_TEST_PACKED_DRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guarded.h"
#include "vio/drvq.h"
#include "vio/virtio.h"
#include "vio/virtio_ring.h"

/* The reasons vio_drvq_error() gives (src/ring/). */
#define E_ID_OOR    "used id out of range"
#define E_ID_NOT_IN "used id not in flight"
#define E_LEN       "used length larger than the device-writable part"
#define E_WRAP      "used descriptor flags with the wrong wrap counter"
#define E_NONE      "used descriptor where none was made available"
#define E_DETACHED  "buffers detached"

#define F_PACKED   VIO_BIT(VIRTIO_F_RING_PACKED)
#define F_INDIRECT VIO_BIT(VIRTIO_F_INDIRECT_DESC)
#define F_EVENT    VIO_BIT(VIRTIO_F_EVENT_IDX)
#define F_IN_ORDER VIO_BIT(VIRTIO_F_IN_ORDER)
#define NEXT       VIRTQ_DESC_F_NEXT
#define WRITE      VIRTQ_DESC_F_WRITE
#define INDIRECT   VIRTQ_DESC_F_INDIRECT
#define AVAIL      VIRTQ_DESC_F_AVAIL
#define USED       VIRTQ_DESC_F_USED

#define IND_ADDR 0x7000000000ull
#define BUF      0xdead00000000ull


/* The fixture: a queue, its ring and event suppression areas, its tables, the fake device. */
struct params {
	uint32_t num;
	uint64_t features; /* F_PACKED is added */
	uint32_t ind_max;
};

struct fx {
	struct params p;
	struct guarded gq, gdesc, gdrv, gdev, gind;
	struct vio_drvq *q;
	struct pvirtq_desc *desc;
	struct pvirtq_event_suppress *drv; /* driver event suppression (the driver's) */
	struct pvirtq_event_suppress *dev; /* device event suppression (ours, the device's) */
	struct pvirtq_desc *ind;
	struct vio_drvq_config cfg;
	/* the fake device */
	uint16_t dev_avail, dev_used;
	bool dev_avail_wrap, dev_used_wrap;
	/* the device's record of the lists it took, in ring order */
	uint16_t took_id[64], took_n[64];
	uint32_t took;
};

/* test_packed_drv.c: the fixture's helpers */
bool in_order(const struct fx *f);
uint16_t dflags(struct fx *f, uint32_t i);
uint16_t drv_ev_flags(struct fx *f);
uint16_t drv_ev_desc(struct fx *f);
uint16_t av(bool w);
uint16_t us(bool w);
void assert_pdesc(const struct pvirtq_desc *d, uint64_t addr, uint32_t len, uint16_t id,
		  uint16_t flags);
void set_dev_event(struct fx *f, uint16_t desc, uint16_t flags);
uint16_t dev_take(struct fx *f);
void dev_nothing(struct fx *f);
void dev_raw(struct fx *f, uint16_t id, uint32_t len, uint16_t flags, uint32_t skip);
void dev_use_n(struct fx *f, uint16_t id, uint32_t len, uint32_t n);
void dev_use_took(struct fx *f, uint32_t k, uint32_t len);
void *tok(uintptr_t i);
int add_n(struct fx *f, uint32_t nout, uint32_t nin, void *token);
uint32_t add_take(struct fx *f, uint32_t nout, uint32_t nin, void *token);
void assert_used(struct fx *f, void *token, uint32_t len);
void assert_no_used(struct fx *f);
void assert_broken(struct fx *f, const char *why, void **toks, uint32_t n);

/* test_packed_drv_add.c */
void add_writes_list_in_ring_order_first_flags_last(void **state);
void add_is_published_only_by_kick_prepare(void **state);
void add_indirect_uses_the_table_of_the_id(void **state);
void add_single_segment_is_direct_even_with_indirect(void **state);
void add_more_segments_than_indirect_max_goes_direct(void **state);
void add_enospc_when_the_ring_is_full(void **state);
void add_enospc_for_list_longer_than_free(void **state);
void add_list_wraps_round_the_ring(void **state);
void add_ids_are_reused_from_the_free_list(void **state);
void add_on_queue_of_size_1(void **state);
void get_used_skips_by_list_length_out_of_order(void **state);
void get_used_sees_nothing_before_the_flags_change(void **state);
void get_used_len_without_write_flag_is_0(void **state);
void get_used_accepts_len_equal_to_writable_part(void **state);
void get_used_accepts_writable_part_of_4gib_minus_1(void **state);
void get_used_a_full_ring_used_at_once(void **state);

/* test_packed_drv_hostile.c */
void two_in_flight(struct fx *f);
void hostile_used_id_out_of_range_breaks_queue(void **state);
void hostile_used_id_0xffff_breaks_queue(void **state);
void hostile_used_id_never_made_available_breaks_queue(void **state);
void hostile_used_id_added_but_not_published_breaks_queue(void **state);
void hostile_used_id_used_twice_breaks_queue(void **state);
void hostile_used_id_used_twice_after_reuse_is_not_confused(void **state);
void hostile_used_len_above_writable_breaks_queue(void **state);
void hostile_used_len_on_readable_only_buffer_breaks_queue(void **state);
void hostile_used_len_0xffffffff_breaks_queue(void **state);
void hostile_used_flags_with_old_wrap_counter_breaks_queue(void **state);
void hostile_used_flags_avail_not_equal_used_breaks_queue(void **state);
void hostile_wrap_counter_not_flipped_at_the_end_breaks_queue(void **state);
void hostile_used_descriptor_with_nothing_published_breaks_queue(void **state);
void hostile_used_descriptor_on_an_empty_queue_breaks_queue(void **state);
void hostile_device_scribbling_everywhere_is_contained(void **state);
void hostile_stale_slots_of_a_previous_lap_are_not_used(void **state);
void in_order_batch_returns_skipped_buffers_in_full(void **state);
void in_order_batch_last_len_is_the_devices(void **state);
void in_order_batch_of_the_whole_ring_across_the_wrap(void **state);
void in_order_batch_naming_an_unpublished_id_breaks_queue(void **state);
void in_order_batch_naming_a_free_id_breaks_queue(void **state);
void in_order_batch_last_len_above_writable_breaks_queue(void **state);
void in_order_used_descriptor_for_a_later_buffer_only(void **state);

/* test_packed_drv_notify.c */
void kick_without_event_idx_follows_device_flags(void **state);
void kick_with_event_idx_follows_the_descriptor_event(void **state);
void kick_with_event_idx_first_publish(void **state);
void cb_without_event_idx_enables_and_disables(void **state);
void cb_with_event_idx_names_the_next_used_descriptor(void **state);
void get_used_does_not_rearm(void **state);
void detach_returns_every_token_once(void **state);
void detach_in_the_middle_of_a_batch(void **state);
void detach_after_init_again_gives_a_working_queue(void **state);
void many_laps(void **state);

#endif /* VIO_TESTS_UNIT_TEST_PACKED_DRV_H */
