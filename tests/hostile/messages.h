/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the message cases share (messages.c, messages_mem.c, messages_inflight.c):
 * helpers, and the cases of the other two files for the table in messages.c.
 */
#ifndef VIO_TESTS_HOSTILE_MESSAGES_H
#define VIO_TESTS_HOSTILE_MESSAGES_H

#include "hostile.h"

#define V VHOST_USER_VERSION
#define NEED_REPLY VHOST_USER_NEED_REPLY_MASK

/* A new connection after the handshake (F_STD, P_STD); with_mem(): and the memory table. */
struct conn *handshaken(void);
struct conn *with_mem(void);
/* Sends one message; the daemon must drop the connection for it. */
void drop_after(struct conn *c, uint32_t req, uint32_t flags, const void *p, uint32_t size,
		const int *fds, unsigned nfds, const char *what);
void drop_u64(struct conn *c, uint32_t req, uint64_t v, const int *fds, unsigned nfds,
	      const char *what);
/* A new eventfd (non-blocking). */
int efd(void);

/* messages_mem.c */
void mem_table_with_overlapping_guest_addresses(void);
void mem_table_with_overlapping_user_addresses(void);
void mem_table_with_overflowing_regions(void);
void mem_table_with_a_region_of_size_0(void);
void mem_table_with_a_region_beyond_its_file(void);
void mem_table_with_a_region_not_backed_by_a_file(void);
void mem_table_with_nine_regions(void);
void mem_table_without_the_rings(void);
void rem_mem_reg_of_the_ring_region(void);
void rem_mem_reg_of_a_region_never_added(void);
void add_mem_reg_overlapping(void);
void add_mem_reg_one_more_than_the_slots(void);
void ring_descriptors_in_the_hole(void);
void ring_used_area_straddling_the_end_of_memory(void);
void ring_available_area_at_user_address_0(void);
void ring_across_two_regions(void);
void ring_descriptor_table_misaligned(void);
void vring_num_invalid(void);
void vring_base_invalid(void);
void vring_addr_with_dirty_logging_and_enable_2(void);

/* messages_inflight.c */
void set_inflight_fd_too_small(void);
void set_inflight_fd_file_shorter_than_it_says(void);
void set_inflight_fd_offset_unaligned_or_overflowing(void);
void set_inflight_fd_of_a_bad_shape(void);
void set_inflight_fd_not_a_file(void);
void set_inflight_fd_without_or_with_two_fds(void);
void get_inflight_fd_of_a_bad_shape_is_answered(void);
void inflight_region_all_0xff(void);
void inflight_region_random(void);
void inflight_region_random_entries(void);
void inflight_region_header_lies(void);
void inflight_region_of_a_split_ring_for_a_packed_one(void);
void inflight_region_random_for_a_packed_ring(void);
void inflight_region_for_another_queue_size(void);

#endif /* VIO_TESTS_HOSTILE_MESSAGES_H */
