/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Hostile front-end, message level: memory tables, and the rings' placement
 * and shape (the table of cases is in messages.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "messages.h"

/* ---- memory tables ("Memory region description") ---- */

/* Sends @t (@n regions, our memfd for each); the daemon must refuse it and keep the old table. */
static void mem_table_refused_keeps_the_old_one(struct vhost_user_memory *t, unsigned n)
{
	struct conn *c = std_conn(false, QSIZE);
	int fds[VHOST_MEMORY_BASELINE_NREGIONS];

	for (unsigned i = 0; i < n; i++)
		fds[i] = mem_fd();
	t->nregions = n;
	ack_refused(c, VHOST_USER_SET_MEM_TABLE, t, 8 + n * 32, fds, n);
	expect_not_broken(&c->q[0], 0);
	health(c, 0);
	health(c, 1);
	conn_close(c);
}

void mem_table_with_overlapping_guest_addresses(void)
{
	struct vhost_user_memory t;
	int fds[NREG];

	mem_table(&t, fds);
	t.regions[2].guest_phys_addr = R0_GPA + R0_SIZE - 4096;
	mem_table_refused_keeps_the_old_one(&t, NREG);
}

void mem_table_with_overlapping_user_addresses(void)
{
	struct vhost_user_memory t;
	int fds[NREG];

	mem_table(&t, fds);
	t.regions[1].userspace_addr = t.regions[0].userspace_addr + 4096;
	mem_table_refused_keeps_the_old_one(&t, NREG);
}

void mem_table_with_overflowing_regions(void)
{
	struct vhost_user_memory t;
	int fds[NREG];

	mem_table(&t, fds);
	t.regions[2].guest_phys_addr = UINT64_MAX - 4095;
	mem_table_refused_keeps_the_old_one(&t, NREG);
	mem_table(&t, fds);
	t.regions[2].userspace_addr = UINT64_MAX - 4095;
	mem_table_refused_keeps_the_old_one(&t, NREG);
	mem_table(&t, fds);
	t.regions[2].mmap_offset = UINT64_MAX & ~4095ull;
	mem_table_refused_keeps_the_old_one(&t, NREG);
	mem_table(&t, fds);
	t.regions[2].memory_size = UINT64_MAX & ~4095ull;
	mem_table_refused_keeps_the_old_one(&t, NREG);
}

void mem_table_with_a_region_of_size_0(void)
{
	struct vhost_user_memory t;
	int fds[NREG];

	mem_table(&t, fds);
	t.regions[1].memory_size = 0;
	mem_table_refused_keeps_the_old_one(&t, NREG);
}

void mem_table_with_a_region_beyond_its_file(void)
{
	struct vhost_user_memory t;
	int fds[NREG];

	mem_table(&t, fds);
	t.regions[2].memory_size = MEM_FILE_SIZE - R2_OFF + 4096; /* 4 KiB past the end */
	mem_table_refused_keeps_the_old_one(&t, NREG);
	mem_table(&t, fds);
	t.regions[2].mmap_offset = MEM_FILE_SIZE;
	t.regions[2].memory_size = 4096;
	mem_table_refused_keeps_the_old_one(&t, NREG);
}

/* A region backed by something that is not a regular file (an eventfd, a socket). */
void mem_table_with_a_region_not_backed_by_a_file(void)
{
	struct conn *c = std_conn(false, QSIZE);
	struct vhost_user_memory t;
	int fds[NREG], e = efd(), sv[2];

	mem_table(&t, fds);
	fds[2] = e;
	ack_refused(c, VHOST_USER_SET_MEM_TABLE, &t, 8 + NREG * 32, fds, NREG);
	CHECK(!socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), "socketpair");
	fds[2] = sv[0];
	ack_refused(c, VHOST_USER_SET_MEM_TABLE, &t, 8 + NREG * 32, fds, NREG);
	close(e);
	close(sv[0]);
	close(sv[1]);
	health(c, 0);
}

void mem_table_with_nine_regions(void)
{
	struct vhost_user_memory t;
	int fds[NREG];
	uint8_t buf[8 + 9 * 32] = { 0 };

	mem_table(&t, fds);
	t.nregions = 9;
	drop_after(handshaken(), VHOST_USER_SET_MEM_TABLE, V, &t, sizeof(t), fds, NREG,
		   "nregions 9 in a full-size payload");
	memcpy(buf, &t, sizeof(t));
	drop_after(handshaken(), VHOST_USER_SET_MEM_TABLE, V, buf, sizeof(buf), fds, NREG,
		   "nine regions");
	t.nregions = UINT32_MAX;
	drop_after(handshaken(), VHOST_USER_SET_MEM_TABLE, V, &t, sizeof(t), fds, NREG,
		   "nregions 2^32-1");
}

/* A valid table that no longer holds the rings: both running queues break. */
void mem_table_without_the_rings(void)
{
	struct conn *c = std_conn(false, QSIZE);
	struct vhost_user_memory t;
	int fds[NREG];

	mem_table(&t, fds);
	t.regions[0] = t.regions[2]; /* R2 and R1: R0, with the rings, is gone */
	t.nregions = 2;
	send_ok(c, VHOST_USER_SET_MEM_TABLE, &t, 8 + 2 * 32, fds, 2);
	for (int i = 0; i < NQ; i++)
		expect_broken(&c->q[i], "ring not inside guest memory");
	conn_mem_table(c);
	for (int i = 0; i < NQ; i++)
		q_reset_restart(c, i);
}

void rem_mem_reg_of_the_ring_region(void)
{
	struct conn *c = std_conn(false, QSIZE);
	struct vhost_user_memory t;
	int fds[NREG];
	struct vhost_user_mem_reg r = { 0, { 0 } };

	mem_table(&t, fds);
	r.region = t.regions[0];
	send_ok(c, VHOST_USER_REM_MEM_REG, &r, sizeof(r), NULL, 0);
	for (int i = 0; i < NQ; i++)
		expect_broken(&c->q[i], "ring not inside guest memory");
	send_ok(c, VHOST_USER_ADD_MEM_REG, &r, sizeof(r), fds, 1);
	for (int i = 0; i < NQ; i++)
		q_reset_restart(c, i);
}

void rem_mem_reg_of_a_region_never_added(void)
{
	struct conn *c = std_conn(false, QSIZE);
	struct vhost_user_memory t;
	int fds[NREG];
	struct vhost_user_mem_reg r = { 0, { 0 } };

	mem_table(&t, fds);
	r.region = t.regions[1];
	r.region.memory_size = 4096;
	ack_refused(c, VHOST_USER_REM_MEM_REG, &r, sizeof(r), NULL, 0);
	r.region = (struct vhost_user_memory_region){ HOLE_GPA, 4096, 0x1000, 0 };
	ack_refused(c, VHOST_USER_REM_MEM_REG, &r, sizeof(r), NULL, 0);
	health(c, 0);
	health(c, 1);
}

void add_mem_reg_overlapping(void)
{
	struct conn *c = std_conn(false, QSIZE);
	struct vhost_user_memory t;
	int fds[NREG];
	struct vhost_user_mem_reg r = { 0, { 0 } };

	mem_table(&t, fds);
	r.region = (struct vhost_user_memory_region){ HOLE_GPA - 4096, 8192,
						      guva(R2_GPA) + R2_SIZE + (1ull << 30), R1_OFF };
	ack_refused(c, VHOST_USER_ADD_MEM_REG, &r, sizeof(r), fds, 1);
	r.region = (struct vhost_user_memory_region){ HOLE_GPA, 4096, t.regions[0].userspace_addr,
						      R1_OFF };
	ack_refused(c, VHOST_USER_ADD_MEM_REG, &r, sizeof(r), fds, 1);
	health(c, 0);
	health(c, 1);
}

/* GET_MAX_MEM_SLOTS regions fit; one more is refused; nothing stays mapped afterwards. */
void add_mem_reg_one_more_than_the_slots(void)
{
	struct conn *c = handshaken();
	uint64_t slots = get_u64(c, VHOST_USER_GET_MAX_MEM_SLOTS);
	int fd = memfd_create("hostile-slots", MFD_CLOEXEC);
	struct vhost_user_mem_reg r = { 0, { 0 } };

	CHECK(slots >= 1 && slots <= 4096, "GET_MAX_MEM_SLOTS %llu", (unsigned long long)slots);
	CHECK(fd >= 0 && !ftruncate(fd, (off_t)(4096 * (slots + 1))), "memfd");
	for (uint64_t i = 0; i <= slots; i++) {
		r.region = (struct vhost_user_memory_region){ 0x100000000ull + i * 8192, 4096,
							      0x200000000ull + i * 8192, i * 4096 };
		if (i < slots)
			send_ok(c, VHOST_USER_ADD_MEM_REG, &r, sizeof(r), &fd, 1);
		else
			ack_refused(c, VHOST_USER_ADD_MEM_REG, &r, sizeof(r), &fd, 1);
	}
	close(fd);
	expect_alive(c);
}

/* ---- ring placement (DESIGN §4; "whole area inside one region", docs/design.md) ---- */

/* Queue 0 gets the ring addresses @desc/@avail/@used (gpa); it must break at the kick. */
static void ring_placed_at(uint64_t desc, uint64_t avail, uint64_t used, const char *reason)
{
	struct conn *c = with_mem();
	struct hq *q = &c->q[0];
	struct vhost_vring_addr a;

	q_setup(c, 1, false, QSIZE);
	q_alloc(c, 0, false, QSIZE);
	a = (struct vhost_vring_addr){ 0, 0, desc ? desc : guva(q->desc), used ? used : guva(q->used),
				       avail ? avail : guva(q->avail), 0 };
	send_state_ok(c, VHOST_USER_SET_VRING_NUM, 0, QSIZE);
	send_state_ok(c, VHOST_USER_SET_VRING_BASE, 0, 0);
	send_ok(c, VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0);
	send_vring_fd(c, VHOST_USER_SET_VRING_CALL, 0, q->call);
	send_vring_fd(c, VHOST_USER_SET_VRING_ERR, 0, q->err);
	send_vring_fd(c, VHOST_USER_SET_VRING_KICK, 0, q->kick);
	send_state_ok(c, VHOST_USER_SET_VRING_ENABLE, 0, 1);
	expect_broken(q, reason);
	health(c, 1);
	q_reset_restart(c, 0);
}

void ring_descriptors_in_the_hole(void)
{
	/* A user address no region has: the gpa hole's would-be address. */
	ring_placed_at(guva(R1_GPA) + R1_SIZE + 4096, 0, 0, "ring not inside guest memory");
}

void ring_used_area_straddling_the_end_of_memory(void)
{
	ring_placed_at(0, 0, guva(R2_GPA) + R2_SIZE - 64, "ring not inside guest memory");
}

void ring_available_area_at_user_address_0(void)
{
	ring_placed_at(0, 16, 0, "ring not inside guest memory");
}

void ring_across_two_regions(void)
{
	/* R0 and R1 are adjacent in gpa but not in user addresses: one area in two regions. */
	ring_placed_at(guva(R1_GPA - 128), 0, 0, "ring not inside guest memory");
}

void ring_descriptor_table_misaligned(void)
{
	ring_placed_at(guva(galloc(16 * QSIZE + 16, 16)) + 8, 0, 0, "invalid ring");
}

void vring_num_invalid(void)
{
	struct conn *c = with_mem();
	struct vhost_vring_state s;
	int64_t r;

	s = (struct vhost_vring_state){ 0, 0 };
	ack_refused(c, VHOST_USER_SET_VRING_NUM, &s, sizeof(s), NULL, 0);
	s.num = 1025; /* vio-blk serves at most 1024 */
	ack_refused(c, VHOST_USER_SET_VRING_NUM, &s, sizeof(s), NULL, 0);
	s.num = 32768;
	ack_refused(c, VHOST_USER_SET_VRING_NUM, &s, sizeof(s), NULL, 0);
	s.num = UINT32_MAX;
	ack_refused(c, VHOST_USER_SET_VRING_NUM, &s, sizeof(s), NULL, 0);
	/* 100: not a power of 2, invalid for a split ring (VIRTIO 1.4 §2.7): refused, or broken at start. */
	q_alloc(c, 0, false, 128);
	s.num = 100;
	r = msg_ack(c, VHOST_USER_SET_VRING_NUM, &s, sizeof(s), NULL, 0);
	CHECK(r >= 0, "SET_VRING_NUM 100 dropped the connection");
	{
		struct vhost_vring_addr a = { 0, 0, guva(c->q[0].desc), guva(c->q[0].used),
					      guva(c->q[0].avail), 0 };

		send_state_ok(c, VHOST_USER_SET_VRING_BASE, 0, 0);
		send_ok(c, VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0);
		send_vring_fd(c, VHOST_USER_SET_VRING_ERR, 0, c->q[0].err);
		send_vring_fd(c, VHOST_USER_SET_VRING_KICK, 0, c->q[0].kick);
		send_state_ok(c, VHOST_USER_SET_VRING_ENABLE, 0, 1);
	}
	expect_broken(&c->q[0], NULL);
	note("SET_VRING_NUM 100 on a split ring: %s", r ? "refused" : "accepted, broken at start");
	c->q[0].num = QSIZE;
	q_reset_restart(c, 0);
}

void vring_base_invalid(void)
{
	struct conn *c = with_mem();
	struct vhost_vring_state s = { 0, 0x10000 };

	/* Split: bits 16-31 are reserved. */
	ack_refused(c, VHOST_USER_SET_VRING_BASE, &s, sizeof(s), NULL, 0);
	/* Packed: positions past the ring ("Vring descriptor indices for packed virtqueues"). */
	conn_close(c);
	c = conn_open();
	conn_handshake(c, F_STD | VIO_BIT(VIRTIO_F_RING_PACKED), P_STD);
	conn_mem_table(c);
	q_setup(c, 1, true, QSIZE);
	q_alloc(c, 0, true, QSIZE);
	q_start(c, 0, 0x80000000u | 0x8000u | QSIZE); /* avail position 16 of 16 */
	expect_broken(&c->q[0], "invalid ring");
	q_reset_restart(c, 0);
	(void)q_stop(c, 0);
	q_alloc(c, 0, true, QSIZE);
	q_start(c, 0, 0x80008000u | (0x7fffu << 16)); /* used position 32767 */
	expect_broken(&c->q[0], "invalid ring");
	q_reset_restart(c, 0);
	health(c, 1);
}

void vring_addr_with_dirty_logging_and_enable_2(void)
{
	struct conn *c = with_mem();
	struct vhost_vring_addr a = { 0, 1u << VHOST_VRING_F_LOG, guva(R0_GPA), guva(R0_GPA + 4096),
				      guva(R0_GPA + 8192), R0_GPA };
	struct vhost_vring_state s = { 1, 2 };

	ack_refused(c, VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0);
	ack_refused(c, VHOST_USER_SET_VRING_ENABLE, &s, sizeof(s), NULL, 0);
	for (int i = 0; i < NQ; i++)
		q_setup(c, i, false, QSIZE);
	health(c, 0);
	health(c, 1);
}
