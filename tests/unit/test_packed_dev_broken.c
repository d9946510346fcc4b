/* SPDX-License-Identifier: BSD-3-Clause */
/* The packed ring, device side: ring violations break the queue, and a broken queue stays so. */
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

/* ================================================================== */
/* pop: ring violations mark the queue broken                          */
/* ================================================================== */

void id_out_of_range_breaks_queue(void **state)
{
	struct fx *f = *state;

	add_one(f, f->buf, 16, 7, 0);
	assert_broken(f, E_ID_OOR, FRESH_BASE, 0);
}

void id_0xffff_breaks_queue(void **state)
{
	struct fx *f = *state;

	add_one(f, f->buf, 16, 0xffff, 0);
	assert_broken(f, E_ID_OOR, FRESH_BASE, 0);
}

void id_out_of_range_in_last_descriptor_of_list_breaks_queue(void **state)
{
	struct fx *f = *state;

	put(f, f->buf, 16, 1, NEXT);
	put(f, f->buf, 16, 100, 0);
	mock_packed_publish(&f->vq);
	assert_broken(f, E_ID_OOR, FRESH_BASE, 0);
}

void id_already_in_flight_breaks_queue(void **state)
{
	struct fx *f = *state;

	put(f, f->buf, 16, 2, 0);
	put(f, f->buf, 16, 2, 0);
	mock_packed_publish(&f->vq);
	assert_int_equal(pop(f), 1);
	assert_broken(f, E_ID_INFLIGHT, base_of(1, true, 0, true), 1);
}

void id_in_flight_after_enobufs_breaks_queue(void **state)
{
	struct fx *f = *state;

	put(f, f->buf, 16, 2, 0);
	put(f, f->buf, 16, 2, 0);
	mock_packed_publish(&f->vq);
	assert_int_equal(pop_cap(f, 0), -ENOBUFS);
	assert_broken(f, E_ID_INFLIGHT, base_of(1, true, 0, true), 1);
}

/* The driver's first descriptor says NEXT; the second was never made available. */
void list_continuing_into_unwritten_descriptor_breaks_queue(void **state)
{
	struct fx *f = *state;

	mock_packed_desc(&f->vq, 0, f->buf, 16, 0, AVAIL | NEXT);
	assert_broken(f, E_NOT_AVAIL, FRESH_BASE, 0);
}

/* Later descriptors whose AVAIL/USED bits lie about the wrap counter. */
void list_later_descriptor_with_other_wrap_breaks_queue(void **state)
{
	struct fx *f = *state;

	mock_packed_desc(&f->vq, 1, f->buf, 16, 0, USED);          /* avail in wrap 0 */
	mock_packed_desc(&f->vq, 0, f->buf, 16, 0, AVAIL | NEXT);  /* wrap 1 */
	assert_broken(f, E_NOT_AVAIL, FRESH_BASE, 0);
}

void list_later_descriptor_marked_used_breaks_queue(void **state)
{
	struct fx *f = *state;

	mock_packed_desc(&f->vq, 2, f->buf, 16, 0, AVAIL | USED);
	mock_packed_desc(&f->vq, 1, f->buf, 16, 0, AVAIL | NEXT);
	mock_packed_desc(&f->vq, 0, f->buf, 16, 0, AVAIL | NEXT);
	assert_broken(f, E_NOT_AVAIL, FRESH_BASE, 0);
}

/* Across the end of the ring, position 0 keeps the bits of the lap before. */
void list_across_ring_end_with_stale_wrap_breaks_queue(void **state)
{
	struct fx *f = *state;
	uint32_t base;

	mock_packed_set_cursors(&f->vq, 6, true);
	assert_int_equal(mock_vq_devq_init(&f->vq, NULL), 0);
	f->q = f->vq.devq;
	base = vio_devq_base(f->q);
	mock_packed_desc(&f->vq, 0, f->buf, 16, 0, AVAIL);        /* wrap 1: stale */
	mock_packed_desc(&f->vq, 6, f->buf, 16, 0, AVAIL | NEXT);
	assert_broken(f, E_NOT_AVAIL, base, 0);
}

/*
 * A list longer than the queue: only a driver changing a descriptor while
 * the device walks the list can make one (position 0 must be available in
 * both laps). A ring of one page of descriptors plus 44 spans two pages;
 * the walk is trapped when it leaves the first page, position 0 is flipped
 * to the next lap's bits behind its back, and the walk reaches it again as
 * descriptor num + 1.
 */
static volatile sig_atomic_t trap_stage;
static uint8_t *trap_a, *trap_b;
static size_t trap_pg;
static struct pvirtq_desc *trap_pos0;

static void trap_segv(int sig, siginfo_t *si, void *ctx)
{
	uint8_t *a = si->si_addr;

	(void)ctx;
	if (trap_stage == 0 && a >= trap_b && a < trap_b + trap_pg) {
		/* The walk left page A: relabel position 0 for wrap 0, hide A. */
		__atomic_store_n(&trap_pos0->flags.v, cpu_to_le16(USED | NEXT).v, __ATOMIC_RELEASE);
		mprotect(trap_a, trap_pg, PROT_NONE);
		mprotect(trap_b, trap_pg, PROT_READ | PROT_WRITE);
		trap_stage = 1;
		return;
	}
	if (trap_stage == 1 && a >= trap_a && a < trap_a + trap_pg) {
		mprotect(trap_a, trap_pg, PROT_READ | PROT_WRITE);
		trap_stage = 2;
		return;
	}
	signal(sig, SIG_DFL); /* anything else is a real fault */
}

void list_longer_than_queue_breaks_queue(void **state)
{
	struct sigaction sa, old;
	struct fx *f = calloc(1, sizeof(*f));
	uint32_t i, num;

	(void)state;
	assert_non_null(f);
	trap_pg = (size_t)sysconf(_SC_PAGESIZE);
	num = (uint32_t)(trap_pg / 16 + 44);
	assert_true(num <= VIRTQ_MAX_SIZE);
	mock_mem_init_default(&f->m);
	assert_int_equal(mock_vq_init(&f->vq, &f->m, MOCK_PACKED, num, 0), 0);
	assert_int_equal(mock_vq_devq_init(&f->vq, NULL), 0);
	f->q = f->vq.devq;
	f->p.num = num;
	f->buf = mock_alloc(&f->m, 0, num, 64);
	for (i = 0; i < num; i++)
		put(f, f->buf + i, 1, 0, NEXT);
	mock_packed_publish(&f->vq);
	trap_a = (uint8_t *)f->vq.pdesc;
	trap_b = trap_a + trap_pg;
	trap_pos0 = &f->vq.pdesc[0];
	trap_stage = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = trap_segv;
	sa.sa_flags = SA_SIGINFO;
	assert_int_equal(sigaction(SIGSEGV, &sa, &old), 0);
	assert_int_equal(mprotect(trap_b, trap_pg, PROT_NONE), 0);
	assert_int_equal(pop(f), -EIO);
	mprotect(trap_a, trap_pg, PROT_READ | PROT_WRITE);
	mprotect(trap_b, trap_pg, PROT_READ | PROT_WRITE);
	sigaction(SIGSEGV, &old, NULL);
	assert_int_equal(trap_stage, 2); /* the walk went all the way round */
	assert_string_equal(vio_devq_error(f->q), E_LIST_LONG);
	assert_int_equal(vio_devq_base(f->q), FRESH_BASE);
	assert_int_equal(vio_devq_inflight(f->q), 0);
	assert_int_equal(pop(f), -EIO);
	mock_vq_fini(&f->vq);
	mock_mem_fini(&f->m);
	free(f);
}

/*
 * Three single buffers in flight in a ring of... 7: the driver writes a
 * list of 5 from position 3 over positions 0 and 1, still in flight.
 */
void more_descriptors_in_flight_than_queue_size_breaks_queue(void **state)
{
	struct fx *f = *state;
	uint16_t i;

	for (i = 0; i < 3; i++)
		put(f, f->buf, 1, i, 0);
	mock_packed_publish(&f->vq);
	for (i = 0; i < 3; i++)
		assert_int_equal(pop(f), 1);
	for (i = 0; i < 4; i++)
		put(f, f->buf, 1, 3, NEXT); /* positions 3..6 */
	put(f, f->buf, 1, 3, 0);            /* position 0, wrap 0 */
	mock_packed_publish(&f->vq);
	assert_broken(f, E_TOO_MANY, base_of(3, true, 0, true), 3);
}

/* The ring full of in-flight buffers, and one more single descriptor. */
void one_descriptor_more_than_queue_size_breaks_queue(void **state)
{
	struct fx *f = *state;
	uint16_t i;

	for (i = 0; i < 7; i++)
		put(f, f->buf, 1, i, 0);
	mock_packed_publish(&f->vq);
	for (i = 0; i < 7; i++)
		assert_int_equal(pop(f), 1);
	add_one(f, f->buf, 1, 0, 0); /* position 0, wrap 0, over buffer 0 */
	assert_broken(f, E_TOO_MANY, base_of(0, false, 0, true), 7);
}

/* The same after completions: used but not reaped positions are free again. */
void descriptors_freed_by_push_may_be_reused(void **state)
{
	struct fx *f = *state;
	uint16_t i;

	for (i = 0; i < 7; i++)
		put(f, f->buf, 1, i, 0);
	mock_packed_publish(&f->vq);
	for (i = 0; i < 7; i++)
		assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_push(f->q, 0, 0), 0);
	assert_int_equal(vio_devq_flush(f->q), 1);
	add_one(f, f->buf, 1, 0, 0);
	assert_int_equal(pop(f), 1);
	assert_null(vio_devq_error(f->q));
}

void indirect_at_end_of_list_breaks_queue(void **state)
{
	struct fx *f = *state;
	uint64_t t = mock_alloc(&f->m, 0, 16, 16);

	mock_pdesc_write(&f->m, t, 0, f->buf, 1, 0, 0);
	put(f, f->buf, 1, 0, NEXT);
	put(f, t, 16, 0, INDIRECT);
	mock_packed_publish(&f->vq);
	assert_broken(f, E_IND_IN_LIST, FRESH_BASE, 0);
}

void indirect_via_mock_direct_then_indirect_breaks_queue(void **state)
{
	struct fx *f = *state;

	assert_int_equal(mock_vq_add(&f->vq, (struct mock_buf[]){ { f->buf, 1, false },
								 { f->buf, 1, true } }, 2, 1), 0);
	assert_broken(f, E_IND_IN_LIST, FRESH_BASE, 0);
}

void indirect_together_with_next_breaks_queue(void **state)
{
	struct fx *f = *state;
	uint64_t t = mock_alloc(&f->m, 0, 16, 16);

	mock_pdesc_write(&f->m, t, 0, f->buf, 1, 0, 0);
	put(f, t, 16, 0, INDIRECT | NEXT);
	put(f, f->buf, 1, 0, WRITE);
	mock_packed_publish(&f->vq);
	assert_broken(f, E_IND_IN_LIST, FRESH_BASE, 0);
}

void nested_indirect_breaks_queue(void **state)
{
	struct fx *f = *state;
	uint64_t t = mock_alloc(&f->m, 0, 32, 16), t2 = mock_alloc(&f->m, 0, 16, 16);

	mock_pdesc_write(&f->m, t2, 0, f->buf, 1, 0, 0);
	mock_pdesc_write(&f->m, t, 0, f->buf, 1, 0, 0);
	mock_pdesc_write(&f->m, t, 1, t2, 16, 0, INDIRECT);
	add_one(f, t, 32, 0, INDIRECT);
	assert_broken(f, E_IND_NESTED, FRESH_BASE, 0);
}

void indirect_without_feature_breaks_queue(void **state)
{
	struct fx *f = *state;
	uint64_t t = mock_alloc(&f->m, 0, 16, 16);

	mock_pdesc_write(&f->m, t, 0, f->buf, 1, 0, 0);
	add_one(f, t, 16, 0, INDIRECT);
	assert_broken(f, E_IND_NOFEAT, FRESH_BASE, 0);
}

void indirect_length_0_breaks_queue(void **state)
{
	struct fx *f = *state;

	add_one(f, f->buf, 0, 0, INDIRECT);
	assert_broken(f, E_IND_LEN, FRESH_BASE, 0);
}

void indirect_length_not_multiple_of_16_breaks_queue(void **state)
{
	struct fx *f = *state;
	uint64_t t = mock_alloc(&f->m, 0, 32, 16);

	mock_pdesc_write(&f->m, t, 0, f->buf, 1, 0, 0);
	add_one(f, t, 24, 0, INDIRECT);
	assert_broken(f, E_IND_LEN, FRESH_BASE, 0);
}

void indirect_length_below_16_breaks_queue(void **state)
{
	struct fx *f = *state;
	uint64_t t = mock_alloc(&f->m, 0, 16, 16);

	mock_pdesc_write(&f->m, t, 0, f->buf, 1, 0, 0);
	add_one(f, t, 15, 0, INDIRECT);
	assert_broken(f, E_IND_LEN, FRESH_BASE, 0);
}

void indirect_length_above_16x32768_breaks_queue(void **state)
{
	struct fx *f = *state;
	uint64_t t = mock_alloc(&f->m, 0, 16ull * 32769, 16);

	mock_pdesc_write(&f->m, t, 0, f->buf, 1, 0, 0);
	add_one(f, t, 16u * 32769, 0, INDIRECT);
	assert_broken(f, E_IND_LEN, FRESH_BASE, 0);
}

void indirect_table_address_overflow_breaks_queue(void **state)
{
	struct fx *f = *state;

	add_one(f, UINT64_MAX - 15, 32, 0, INDIRECT);
	assert_broken(f, E_IND_OVERFLOW, FRESH_BASE, 0);
}

void indirect_table_in_hole_breaks_queue(void **state)
{
	struct fx *f = *state;

	add_one(f, MOCK_HOLE_GPA + 0x100, 32, 0, INDIRECT);
	assert_broken(f, E_TBL_OUTSIDE, FRESH_BASE, 0);
}

void indirect_table_straddling_into_hole_breaks_queue(void **state)
{
	struct fx *f = *state;
	uint64_t t = MOCK_HOLE_GPA - 16;

	mock_pdesc_write(&f->m, t, 0, f->buf, 8, 0, 0);
	add_one(f, t, 32, 0, INDIRECT);
	assert_broken(f, E_TBL_OUTSIDE, FRESH_BASE, 0);
}

/* The table's second entry would sit in R2's guard page: must not be read. */
void indirect_table_past_region_end_is_not_read(void **state)
{
	struct fx *f = *state;
	uint64_t t = MOCK_R2_GPA + MOCK_R2_SIZE - 16;

	mock_pdesc_write(&f->m, t, 0, f->buf, 8, 0, 0);
	add_one(f, t, 32, 0, INDIRECT);
	assert_broken(f, E_TBL_OUTSIDE, FRESH_BASE, 0);
}

/* §2.8.17: device-readable before device-writable. */
void readable_after_writable_breaks_queue(void **state)
{
	struct fx *f = *state;

	put(f, f->buf, 16, 0, NEXT | WRITE);
	put(f, f->buf + 16, 16, 0, 0);
	mock_packed_publish(&f->vq);
	assert_broken(f, E_RO_AFTER_WO, FRESH_BASE, 0);
}

void readable_after_writable_in_indirect_table_breaks_queue(void **state)
{
	struct fx *f = *state;
	uint64_t t = mock_alloc(&f->m, 0, 48, 16);

	mock_pdesc_write(&f->m, t, 0, f->buf, 1, 0, 0);
	mock_pdesc_write(&f->m, t, 1, f->buf, 1, 0, WRITE);
	mock_pdesc_write(&f->m, t, 2, f->buf, 1, 0, 0);
	add_one(f, t, 48, 0, INDIRECT);
	assert_broken(f, E_RO_AFTER_WO, FRESH_BASE, 0);
}

void buffer_in_hole_breaks_queue(void **state)
{
	struct fx *f = *state;

	add_one(f, MOCK_HOLE_GPA + 0x10, 16, 0, 0);
	assert_broken(f, E_BUF_OUTSIDE, FRESH_BASE, 0);
}

void buffer_straddling_into_hole_breaks_queue(void **state)
{
	struct fx *f = *state;

	add_one(f, MOCK_HOLE_GPA - 8, 16, 0, WRITE);
	assert_broken(f, E_BUF_OUTSIDE, FRESH_BASE, 0);
}

void buffer_starting_in_hole_ending_in_region_breaks_queue(void **state)
{
	struct fx *f = *state;

	add_one(f, MOCK_R2_GPA - 8, 16, 0, 0);
	assert_broken(f, E_BUF_OUTSIDE, FRESH_BASE, 0);
}

void buffer_beyond_all_regions_breaks_queue(void **state)
{
	struct fx *f = *state;

	add_one(f, MOCK_R2_GPA + MOCK_R2_SIZE, 1, 0, 0);
	assert_broken(f, E_BUF_OUTSIDE, FRESH_BASE, 0);
}

void buffer_below_all_regions_breaks_queue(void **state)
{
	struct fx *f = *state;

	add_one(f, 0, 16, 0, 0);
	assert_broken(f, E_BUF_OUTSIDE, FRESH_BASE, 0);
}

void buffer_address_plus_len_overflow_breaks_queue(void **state)
{
	struct fx *f = *state;

	add_one(f, UINT64_MAX - 7, 16, 0, 0);
	assert_broken(f, E_BUF_OUTSIDE, FRESH_BASE, 0);
}

void buffer_outside_memory_in_later_descriptor_breaks_queue(void **state)
{
	struct fx *f = *state;

	put(f, f->buf, 16, 0, NEXT);
	put(f, MOCK_HOLE_GPA - 1, 2, 0, WRITE);
	mock_packed_publish(&f->vq);
	assert_broken(f, E_BUF_OUTSIDE, FRESH_BASE, 0);
}

void buffer_outside_memory_in_indirect_table_breaks_queue(void **state)
{
	struct fx *f = *state;
	uint64_t t = mock_alloc(&f->m, 0, 32, 16);

	mock_pdesc_write(&f->m, t, 0, f->buf, 1, 0, 0);
	mock_pdesc_write(&f->m, t, 1, MOCK_HOLE_GPA - 1, 2, 0, WRITE);
	add_one(f, t, 32, 0, INDIRECT);
	assert_broken(f, E_BUF_OUTSIDE, FRESH_BASE, 0);
}

void chain_longer_than_2_32_bytes_breaks_queue(void **state)
{
	struct big *b = big_setup(0);
	uint64_t g = 1ull << 32;

	(void)state;
	put(&b->f, g, 0x80000000u, 0, NEXT);
	put(&b->f, g, 0x80000000u, 0, NEXT | WRITE);
	put(&b->f, g, 1, 0, WRITE);
	mock_packed_publish(&b->f.vq);
	assert_broken(&b->f, E_CHAIN_2_32, FRESH_BASE, 0);
	big_free(b);
}

void chain_longer_than_2_32_bytes_through_indirect_breaks_queue(void **state)
{
	struct big *b = big_setup(F_INDIRECT);
	uint64_t g = 1ull << 32, t = mock_alloc(&b->f.m, 0, 32, 16);

	(void)state;
	mock_pdesc_write(&b->f.m, t, 0, g, 0xffffffffu, 0, 0);
	mock_pdesc_write(&b->f.m, t, 1, g, 0xffffffffu, 0, WRITE);
	add_one(&b->f, t, 32, 0, INDIRECT);
	assert_broken(&b->f, E_CHAIN_2_32, FRESH_BASE, 0);
	big_free(b);
}

/* ================================================================== */
/* A broken queue                                                      */
/* ================================================================== */

void broken_queue_stays_broken_after_driver_fixes_ring(void **state)
{
	struct fx *f = *state;

	add_one(f, f->buf, 16, 9, 0);
	assert_int_equal(pop(f), -EIO);
	mock_packed_desc(&f->vq, 0, f->buf, 16, 1, AVAIL); /* "fixed" */
	assert_broken(f, E_ID_OOR, FRESH_BASE, 0);
}

void first_violation_is_the_reason_kept(void **state)
{
	struct fx *f = *state;

	add_one(f, f->buf, 16, 9, 0);
	assert_int_equal(pop(f), -EIO);
	mock_packed_desc(&f->vq, 0, MOCK_HOLE_GPA, 16, 1, AVAIL);
	assert_broken(f, E_ID_OOR, FRESH_BASE, 0);
}

void push_on_broken_queue_writes_nothing(void **state)
{
	struct fx *f = *state;
	struct snap s;

	add_one(f, f->buf, 16, 0, WRITE);
	add_one(f, f->buf, 16, 9, WRITE);
	assert_int_equal(pop(f), 1);
	assert_int_equal(pop(f), -EIO);
	take_snap(f, &s);
	assert_int_equal(vio_devq_push(f->q, 0, 16), -EIO);
	assert_int_equal(vio_devq_inflight(f->q), 0);
	assert_int_equal(vio_devq_flush(f->q), 0);
	assert_snap_equal(f, &s);
	assert_nothing_used(f);
	assert_int_equal(vio_devq_push(f->q, 0, 16), -EINVAL);
}

/* Pushed before the break, flushed after: the driver sees none of it. */
void flush_on_broken_queue_publishes_nothing(void **state)
{
	struct fx *f = *state;

	add_one(f, f->buf, 16, 0, WRITE);
	add_one(f, f->buf, 16, 1, WRITE);
	add_one(f, f->buf, 16, 7, WRITE);
	assert_int_equal(pop(f), 1);
	assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_push(f->q, 0, 4), 0);
	assert_int_equal(vio_devq_push(f->q, 1, 4), 0);
	assert_int_equal(pop(f), -EIO);
	assert_int_equal(vio_devq_flush(f->q), 0);
	assert_nothing_used(f);
	/* The first of the batch keeps the driver's flags: nothing is exposed. */
	assert_int_equal(mock_packed_flags(&f->vq, 0), AVAIL | WRITE);
}

void kick_calls_on_broken_queue_write_nothing(void **state)
{
	struct fx *f = *state;
	uint16_t flags, desc;

	add_one(f, f->buf, 16, 9, 0);
	assert_int_equal(pop(f), -EIO);
	vio_devq_kick_disable(f->q);
	mock_packed_device_event(&f->vq, &flags, &desc);
	assert_int_equal(flags, 0);
	assert_int_equal(desc, 0);
	assert_int_equal(vio_devq_kick_enable(f->q), 0);
	mock_packed_device_event(&f->vq, &flags, &desc);
	assert_int_equal(flags, 0);
	assert_int_equal(desc, 0);
}

/*
 * After the queue broke, the ring's pages are made inaccessible: no call
 * may touch the ring again (a stray access faults).
 */
void broken_queue_never_touches_the_ring_again(void **state)
{
	struct fx *f = *state;
	struct vio_chain c = { .iov = f->iov, .iov_cap = IOV_CAP };
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	void *ring = f->vq.pdesc;

	add_one(f, f->buf, 16, 0, WRITE);
	add_one(f, f->buf, 16, 9, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(pop(f), -EIO);
	assert_int_equal(mprotect(ring, pg, PROT_NONE), 0);
	assert_int_equal(vio_devq_pop(f->q, &c), -EIO);
	assert_int_equal(vio_devq_push(f->q, 0, 16), -EIO);
	assert_int_equal(vio_devq_flush(f->q), 0);
	vio_devq_kick_disable(f->q);
	assert_int_equal(vio_devq_kick_enable(f->q), 0);
	assert_int_equal(vio_devq_base(f->q), base_of(1, true, 0, true));
	assert_int_equal(mprotect(ring, pg, PROT_READ | PROT_WRITE), 0);
	assert_string_equal(vio_devq_error(f->q), E_ID_OOR);
}
