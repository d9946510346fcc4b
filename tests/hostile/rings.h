/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the ring cases share (rings.c, rings_packed.c, rings_layout.c): descriptor
 * flags, helpers, and the cases of the other two files for the table in rings.c.
 */
#ifndef VIO_TESTS_HOSTILE_RINGS_H
#define VIO_TESTS_HOSTILE_RINGS_H

#include "hostile.h"

#define NEXT VIRTQ_DESC_F_NEXT
#define WR VIRTQ_DESC_F_WRITE
#define IND VIRTQ_DESC_F_INDIRECT

/* After a break of queue @qi: the other queue still works, then @qi is reset and works. */
void after_break(struct conn *c, int qi);
/* A request header (read of sector 0) and a status byte the device must not touch. */
uint64_t hdr_in(void);
uint64_t st_untouchable(void);

/* rings_packed.c: packed virtqueues (VIRTIO 1.4 §2.8) */
void packed_buffer_id_out_of_range(void);
void packed_buffer_id_0xffff(void);
void packed_buffer_id_reused_while_in_flight(void);
void packed_list_without_end(void);
void packed_wrap_counter_lie_inside_a_list(void);
void packed_wrong_wrap_counter_is_not_consumed(void);
void packed_indirect_inside_a_list(void);
void packed_nested_indirect(void);
void packed_indirect_length_0(void);
void packed_indirect_length_40(void);
void packed_indirect_table_in_the_hole(void);
void packed_buffer_straddling_the_end_of_memory(void);
void packed_readable_after_writable(void);
void packed_ring_wraps_many_times(void);

/* rings_layout.c: rings rewritten while in use, rings on rings or on the data, sizes at the
 * bounds, a layout switched under running queues */
void split_descriptor_and_header_rewritten_while_in_use(void);
void split_used_ring_on_the_descriptor_table(void);
void two_queues_on_the_same_rings(void);
void split_read_into_the_rings(void);
void split_queue_of_size_1(void);
void packed_queue_of_size_5(void);
void features_switch_the_layout_of_running_rings(void);

#endif /* VIO_TESTS_HOSTILE_RINGS_H */
