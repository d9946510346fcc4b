/* SPDX-License-Identifier: BSD-3-Clause */
/* The inflight log's tests: a hostile region and a hostile driver (table: test_inflight.c). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <cmocka.h>

#include "mock_driver.h"
#include "ring/devq_impl.h"
#include "test_inflight.h"

/* ------------------------------------------------------------------ */
/* A hostile region                                                    */
/* ------------------------------------------------------------------ */

/*
 * The device dies with requests 0, 2, 3 in flight (3 pushed, not flushed)
 * and 1 used; with IN_ORDER 1 waits for 0, so 0..3 are in flight.
 */
static void crash_with_some_in_flight(struct rig *r)
{
	uint32_t b = r->nreq;

	drv_add_n(r, 5);
	for (int i = 0; i < 4; i++)
		dev_pop(r);
	dev_push(r, b + 1, 8);
	dev_flush(r);
	dev_push(r, b + 3, 8);
	dev_crash(r);
}

/* The device dies after publishing 0 and 1 and before forgetting them: a batch to finish. */
static void crash_with_a_batch_to_finish(struct rig *r)
{
	uint32_t b = r->nreq;

	drv_add_n(r, 5);
	for (int i = 0; i < 4; i++)
		dev_pop(r);
	dev_push(r, b + 1, 8);
	dev_push(r, b, 8);
	if (HAVE_TRACER)
		assert_false(dev_flush_crashing(r, -1, true, true));
	else if (!r->in_order)
		flush_steps_then_crash(r, true);
	else
		skip();
	assert_int_equal(H(r)->batch_count, 2);
}

/* Starts over the (edited) log: init itself succeeds, whatever the region says. */
static void restart(struct rig *r)
{
	r->hostile = true;
	assert_int_equal(dev_start_crashing(r, -1), 0);
}

static uint16_t id_of(struct rig *r, uint32_t s)
{
	return r->req[s].id;
}

/* An id no request made available so far uses. */
static uint16_t unused_id(struct rig *r, unsigned nth)
{
	for (uint16_t id = 0; id < r->p.num; id++) {
		bool used = false;

		for (uint32_t s = 0; s < r->nreq; s++)
			used |= r->req[s].id == id;
		if (!used && nth-- == 0)
			return id;
	}
	fail();
	return 0;
}

void hostile_inflight_flag_above_1(void **state)
{
	struct rig *r = *state;

	crash_with_some_in_flight(r);
	E(r)[id_of(r, 0)].inflight = 2;
	restart(r);
	assert_broken(r, E_FLAG);
}

void hostile_inflight_flag_0xff_on_an_idle_entry(void **state)
{
	struct rig *r = *state;

	crash_with_some_in_flight(r);
	E(r)[unused_id(r, 0)].inflight = 0xff;
	restart(r);
	assert_broken(r, E_FLAG);
}

void hostile_counter_0(void **state)
{
	struct rig *r = *state;

	crash_with_some_in_flight(r);
	E(r)[id_of(r, 2)].counter = 0;
	restart(r);
	assert_broken(r, E_COUNTER0);
}

void hostile_duplicate_counters(void **state)
{
	struct rig *r = *state;

	crash_with_some_in_flight(r);
	E(r)[id_of(r, 2)].counter = E(r)[id_of(r, 0)].counter;
	restart(r);
	assert_broken(r, E_DUP);
}

void hostile_log_for_another_queue_size(void **state)
{
	struct rig *r = *state;

	crash_with_some_in_flight(r);
	H(r)->desc_num = (uint16_t)(r->p.num / 2);
	restart(r);
	assert_broken(r, E_OTHER);
}

void hostile_log_for_the_other_layout(void **state)
{
	struct rig *r = *state;

	crash_with_some_in_flight(r);
	H(r)->packed = !r->packed;
	restart(r);
	assert_broken(r, E_OTHER);
	H(r)->packed = 2;
	restart(r);
	assert_broken(r, E_OTHER);
}

void hostile_batch_larger_than_the_queue(void **state)
{
	struct rig *r = *state;

	crash_with_some_in_flight(r);
	H(r)->batch_count = (uint16_t)(r->p.num + 1);
	restart(r);
	assert_broken(r, E_BATCH_BIG);
}

void hostile_batch_head_out_of_range(void **state)
{
	struct rig *r = *state;

	crash_with_a_batch_to_finish(r);
	H(r)->batch_head = (uint16_t)r->p.num;
	restart(r);
	assert_broken(r, E_BATCH_OOR);
	H(r)->batch_head = NONE;
	restart(r);
	assert_broken(r, E_BATCH_OOR);
}

void hostile_batch_list_shorter_than_its_count(void **state)
{
	struct rig *r = *state;

	crash_with_a_batch_to_finish(r);
	H(r)->batch_count = 3; /* the list ends after 2 */
	restart(r);
	/* split: 3 buffers cannot move the used index by 2 */
	assert_broken(r, r->packed ? E_BATCH_OOR : E_BATCH_IDX);
	H(r)->batch_count = 2;
	E(r)[H(r)->batch_head].next = (uint16_t)(r->p.num + 7);
	restart(r);
	assert_broken(r, E_BATCH_OOR);
}

/* Unedited, the same log recovers: the edits above are what broke it. */
void hostile_controls_recover(void **state)
{
	struct rig *r = *state;

	crash_with_a_batch_to_finish(r);
	dev_start(r);
	assert_null(vio_devq_error(r->q));
	drv_reap_all(r);
	drain(r);
	crash_with_some_in_flight(r);
	dev_start(r);
	assert_null(vio_devq_error(r->q));
	drain(r);
}

void hostile_region_too_small_or_misaligned_is_not_touched(void **state)
{
	struct rig *r = *state;
	uint8_t before[4096];

	crash_with_some_in_flight(r);
	memcpy(before, r->log, r->log_size);
	r->cfg.inflight_size = r->log_size - 1;
	restart(r);
	assert_broken(r, E_SMALL);
	assert_memory_equal(before, r->log, r->log_size);
	r->cfg.inflight_size = r->log_size;
	r->cfg.inflight = r->log + 4;
	restart(r);
	assert_broken(r, E_SMALL);
	assert_memory_equal(before, r->log, r->log_size);
	r->cfg.inflight = r->log;
	restart(r);
	assert_null(vio_devq_error(r->q));
	drain(r);
}

/* ---- split ---- */

void hostile_split_used_index_not_the_rings(void **state)
{
	struct rig *r = *state;

	crash_with_some_in_flight(r);
	H(r)->used++;
	restart(r);
	assert_broken(r, E_USED_RING);
}

void hostile_split_ring_used_index_moved_under_the_log(void **state)
{
	struct rig *r = *state;

	crash_with_some_in_flight(r);
	/* the front-end (or the guest) moved the used index while we were down */
	*(volatile uint16_t *)&r->vq.used->idx = (uint16_t)(mock_split_used_idx(&r->vq) + 3);
	restart(r);
	assert_broken(r, E_USED_RING);
}

void hostile_split_more_in_flight_than_made_available(void **state)
{
	struct rig *r = *state;

	crash_with_some_in_flight(r);
	for (unsigned i = 0; i < 2; i++) {
		struct t_entry *e = &E(r)[unused_id(r, i)];

		e->inflight = 1;
		e->counter = 1000 + i;
	}
	restart(r);
	assert_broken(r, E_AHEAD);
}

/* A head in flight whose chain now leaves guest memory: validated like any pop. */
void hostile_split_resubmitted_chain_outside_guest_memory(void **state)
{
	struct rig *r = *state;

	crash_with_some_in_flight(r);
	mock_split_desc(&r->vq, id_of(r, 0), MOCK_HOLE_GPA, 8, 0, 0);
	restart(r);
	assert_null(vio_devq_error(r->q));
	assert_broken(r, E_OUTSIDE);
}

/* An idle head marked in flight is popped as any chain is: checked, inside guest memory. */
void hostile_split_idle_head_marked_in_flight_is_walked_safely(void **state)
{
	struct rig *r = *state;
	uint16_t id;
	int res;

	crash_with_some_in_flight(r);
	id = unused_id(r, 0);
	mock_split_desc(&r->vq, id, MOCK_R1_GPA - 4, 8, 0, 0); /* straddles R0/R1: 2 iovecs */
	E(r)[id].inflight = 1;
	E(r)[id].counter = 1000;
	restart(r);
	if (vio_devq_error(r->q))
		return; /* broken is a fine answer */
	memset(&r->c, 0, sizeof(r->c));
	r->c.iov = r->iov;
	r->c.iov_cap = IOV_CAP;
	do {
		res = vio_devq_pop(r->q, &r->c);
		if (res == 1 && r->c.id == id) {
			assert_int_equal(r->c.nout, 2);
			assert_ptr_equal(r->c.iov[0].iov_base, mock_hva(&r->m, MOCK_R1_GPA - 4));
			assert_ptr_equal(r->c.iov[1].iov_base, mock_hva(&r->m, MOCK_R1_GPA));
		}
	} while (res == 1);
}

/* ---- packed ---- */

void hostile_packed_saved_list_out_of_range(void **state)
{
	struct rig *r = *state;

	crash_with_some_in_flight(r);
	E(r)[id_of(r, 2)].first = (uint16_t)r->p.num;
	restart(r);
	assert_broken(r, E_SAVED);
	E(r)[id_of(r, 2)].first = NONE;
	restart(r);
	assert_broken(r, E_SAVED);
}

void hostile_packed_saved_list_shared_by_two_buffers(void **state)
{
	struct rig *r = *state;

	crash_with_some_in_flight(r);
	E(r)[id_of(r, 2)].first = E(r)[id_of(r, 0)].first;
	restart(r);
	assert_broken(r, E_SAVED);
}

void hostile_packed_saved_list_link_out_of_range(void **state)
{
	struct rig *r = *state;
	struct t_entry *e;

	crash_with_some_in_flight(r);
	e = &E(r)[id_of(r, 0)];
	if (e->ndesc < 2)
		e = &E(r)[id_of(r, 2)];
	assert_true(e->ndesc >= 2);
	S(r)[e->first].next = (uint16_t)(r->p.num + 1);
	restart(r);
	assert_broken(r, E_SAVED);
}

void hostile_packed_saved_list_wrong_length(void **state)
{
	struct rig *r = *state;
	struct t_entry *e;
	uint16_t n;

	crash_with_some_in_flight(r);
	e = &E(r)[id_of(r, 0)];
	n = e->ndesc;
	e->ndesc = 0;
	restart(r);
	assert_broken(r, E_NDESC);
	e->ndesc = (uint16_t)(r->p.num + 1);
	restart(r);
	assert_broken(r, E_NDESC);
	e->ndesc = (uint16_t)(n + 1); /* runs off the list, or into a free slot */
	restart(r);
	assert_non_null(vio_devq_error(r->q));
	assert_true(!strcmp(vio_devq_error(r->q), E_SAVED) ||
		    !strcmp(vio_devq_error(r->q), E_POSITIONS));
	if (n > 1) {
		e->ndesc = (uint16_t)(n - 1);
		restart(r);
		assert_broken(r, E_POSITIONS);
	}
}

void hostile_packed_positions_do_not_match(void **state)
{
	struct rig *r = *state;
	uint16_t avail, used;

	crash_with_some_in_flight(r);
	avail = H(r)->avail;
	used = H(r)->used;
	H(r)->avail = (uint16_t)((avail & 0x8000) | (((avail & 0x7fff) + 1) % r->p.num));
	restart(r);
	assert_broken(r, E_POSITIONS);
	H(r)->avail = avail ^ 0x8000;
	restart(r);
	assert_broken(r, E_POSITIONS);
	H(r)->avail = avail;
	H(r)->used = (uint16_t)((used & 0x8000) | (((used & 0x7fff) + 1) % r->p.num));
	restart(r);
	assert_broken(r, E_POSITIONS);
	H(r)->used = used;
	restart(r);
	assert_null(vio_devq_error(r->q));
}

/* The newest entry's avail_end is believed only when newer than the header's position. */
void hostile_packed_newest_avail_end_wrong(void **state)
{
	struct rig *r = *state;
	struct t_entry *e;

	crash_with_some_in_flight(r);
	e = &E(r)[id_of(r, 3)];
	H(r)->avail_counter = 0;
	e->avail_end = (uint16_t)((e->avail_end & 0x8000) | (((e->avail_end & 0x7fff) + 2) % r->p.num));
	restart(r);
	assert_broken(r, E_POSITIONS);
}

void hostile_packed_positions_out_of_range(void **state)
{
	struct rig *r = *state;
	uint16_t avail, used;

	crash_with_some_in_flight(r);
	avail = H(r)->avail;
	used = H(r)->used;
	H(r)->avail = 0x7fff;
	restart(r);
	assert_non_null(vio_devq_error(r->q));
	H(r)->avail = avail;
	H(r)->used = (uint16_t)(0x8000 | r->p.num);
	restart(r);
	assert_non_null(vio_devq_error(r->q));
	H(r)->used = used;
	restart(r);
	assert_null(vio_devq_error(r->q));
}

void hostile_packed_batch_used_out_of_range(void **state)
{
	struct rig *r = *state;
	uint16_t batch_used;

	crash_with_a_batch_to_finish(r);
	batch_used = H(r)->batch_used;
	H(r)->batch_used = 0x7fff;
	restart(r);
	assert_non_null(vio_devq_error(r->q));
	H(r)->batch_used = (uint16_t)(0x8000 | r->p.num);
	restart(r);
	assert_non_null(vio_devq_error(r->q));
	H(r)->batch_used = batch_used;
	restart(r);
	assert_null(vio_devq_error(r->q));
}

/*
 * A batch the ring does not show published, or one already committed
 * (used == batch_used), is not finished: its list is never walked,
 * whatever it says.
 */
void hostile_unpublished_or_committed_batch_is_ignored(void **state)
{
	struct rig *r = *state;

	crash_with_some_in_flight(r);
	H(r)->batch_used = r->packed ? 0x7fff : (uint16_t)(H(r)->used + 1);
	H(r)->batch_count = 1;
	H(r)->batch_head = NONE;
	restart(r);
	assert_null(vio_devq_error(r->q));
	dev_crash(r);
	H(r)->batch_used = H(r)->used;
	H(r)->batch_count = 3;
	H(r)->batch_head = id_of(r, 0); /* would drop a chain in flight */
	restart(r);
	assert_null(vio_devq_error(r->q));
	drv_reap_all(r);
	drain(r);
}

/* Split: a published batch moves the used index by its size exactly. */
void hostile_split_batch_not_matching_the_used_index(void **state)
{
	struct rig *r = *state;

	crash_with_a_batch_to_finish(r);
	H(r)->batch_count = 1; /* would leave one of the two in flight: used twice */
	restart(r);
	assert_broken(r, E_BATCH_IDX);
}

/*
 * A batch to finish at a used position outside the ring: the ring must not
 * be read there. Queue Size = one page of descriptors, the page after the
 * ring made inaccessible while the device starts.
 */
void hostile_packed_batch_at_used_position_outside_the_ring_is_not_read(void **state)
{
	struct params p = *(const struct params *)*state;
	struct rig *r;
	char *after;

	p.num = (uint32_t)(page_size() / 16);
	r = directed_rig(&p);
	dev_start(r);
	crash_with_some_in_flight(r);
	H(r)->batch_count = 1;
	H(r)->batch_head = id_of(r, 0);
	H(r)->batch_used = 0x8001;
	for (uint16_t pos = (uint16_t)p.num; pos < 0x8000; pos = (uint16_t)(pos * 2)) {
		H(r)->used = (uint16_t)(0x8000 | pos);
		after = (char *)(r->vq.pdesc + p.num);
		assert_int_equal(mprotect(after, page_size(), PROT_NONE), 0);
		restart(r);
		assert_int_equal(mprotect(after, page_size(), PROT_READ | PROT_WRITE), 0);
		assert_non_null(vio_devq_error(r->q));
	}
	rig_free(r);
}

void hostile_packed_saved_descriptor_outside_guest_memory(void **state)
{
	struct rig *r = *state;

	crash_with_some_in_flight(r);
	S(r)[E(r)[id_of(r, 0)].first].addr = MOCK_HOLE_GPA;
	restart(r);
	assert_null(vio_devq_error(r->q));
	assert_broken(r, E_OUTSIDE);
}

void hostile_packed_saved_indirect_inside_a_list(void **state)
{
	struct rig *r = *state;
	struct t_entry *e;

	crash_with_some_in_flight(r);
	e = &E(r)[id_of(r, 0)];
	assert_true(e->ndesc == 2); /* request 0 is direct */
	S(r)[e->first].flags |= VIRTQ_DESC_F_INDIRECT;
	restart(r);
	assert_broken(r, "indirect descriptor inside a descriptor list");
}

void hostile_packed_saved_indirect_without_the_feature(void **state)
{
	struct rig *r = *state;
	struct t_entry *e;
	uint64_t table = mock_alloc(&r->m, 0, 64, 16);

	crash_with_some_in_flight(r);
	e = &E(r)[id_of(r, 0)];
	mock_pdesc_write(&r->m, table, 0, r->req[0].b[0].gpa, 8, 0, 0);
	e->ndesc = 1;
	S(r)[e->first] = (struct t_desc){ table, 16, VIRTQ_DESC_F_INDIRECT, NONE };
	/* one descriptor fewer in flight: move the avail position back by one */
	if ((H(r)->avail & 0x7fff) == 0)
		H(r)->avail = (uint16_t)(((H(r)->avail ^ 0x8000) & 0x8000) | (r->p.num - 1));
	else
		H(r)->avail--;
	H(r)->avail_counter = UINT32_MAX;
	restart(r);
	assert_null(vio_devq_error(r->q)); /* a consistent log: the pop finds it out */
	assert_broken(r, "VIRTQ_DESC_F_INDIRECT without VIRTIO_F_INDIRECT_DESC");
}

/* ---- anything at all behind a valid magic ---- */

static bool in_guest_memory(struct rig *r, const struct iovec *v)
{
	for (unsigned i = 0; i < r->m.nregions; i++) {
		const struct mock_region *g = &r->m.region[i];
		const uint8_t *b = v->iov_base;

		if (b >= g->hva && v->iov_len <= g->size && b + v->iov_len <= g->hva + g->size)
			return true;
	}
	return false;
}

/*
 * Fills the region with random bytes behind a valid magic; three times in
 * four it then makes it plausible, so that recovery gets past its first
 * checks and resubmits garbage: in-flight flags 0 or 1, distinct counters
 * (rarely not), the queue's size and layout, split: the ring's used index
 * and no more in flight than made available; packed: saved lists of random
 * slots and descriptors (addresses in guest memory or not) and an avail
 * position that (usually) matches what they count.
 */
static void scribble(struct rig *r)
{
	uint32_t *w = (uint32_t *)(void *)r->log;
	uint32_t num = r->p.num, n = 0, descs = 0;
	uint16_t room;

	for (size_t i = 0; i < r->log_size / 4; i++)
		w[i] = rnd(r);
	H(r)->magic = LOG_MAGIC;
	if (!rnd_below(r, 4))
		return;
	H(r)->desc_num = (uint16_t)num;
	H(r)->packed = r->packed;
	H(r)->batch_count = rnd_below(r, 4) ? 0 : (uint16_t)rnd_below(r, 3);
	H(r)->batch_head = (uint16_t)rnd_below(r, num + 1);
	if (r->packed) {
		H(r)->used = (uint16_t)((rnd(r) & 0x8000) | rnd_below(r, num));
		H(r)->avail_counter = rnd_below(r, 2 * num);
		room = (uint16_t)num;
	} else {
		H(r)->used = mock_split_used_idx(&r->vq);
		room = (uint16_t)(mock_split_avail_idx(&r->vq) - H(r)->used);
	}
	H(r)->batch_used = (uint16_t)(H(r)->used + rnd_below(r, 3));
	for (uint32_t id = 0; id < num; id++) {
		struct t_entry *e = &E(r)[id];
		struct t_desc *d = &S(r)[id];

		e->inflight = n < room && !rnd_below(r, 3);
		e->counter = rnd_below(r, 16) ? 1 + id * 3 + rnd_below(r, 3) : rnd_below(r, 4);
		e->next = (uint16_t)rnd_below(r, num + 1);
		e->ndesc = (uint16_t)(1 + rnd_below(r, 2));
		e->first = (uint16_t)rnd_below(r, num + (rnd_below(r, 8) ? 0 : 2));
		e->avail_end = (uint16_t)((rnd(r) & 0x8000) | rnd_below(r, num));
		n += e->inflight;
		descs += e->inflight ? e->ndesc : 0;
		d->next = (uint16_t)rnd_below(r, num + (rnd_below(r, 8) ? 0 : 2));
		d->len = rnd_below(r, 64);
		d->flags &= (uint16_t)(rnd_below(r, 4) ? ~VIRTQ_DESC_F_INDIRECT : 0xffff);
		if (rnd_below(r, 4))
			d->addr = MOCK_R0_GPA + rnd_below(r, 0x10000);
	}
	if (r->packed && rnd_below(r, 4)) {
		/* the avail position the lists in flight count from used */
		uint32_t a = (H(r)->used & 0x7fff) + descs % (2 * num);
		bool wrap = H(r)->used & 0x8000;

		while (a >= num) {
			a -= num;
			wrap = !wrap;
		}
		H(r)->avail = (uint16_t)(a | (wrap ? 0x8000 : 0));
		H(r)->avail_counter = UINT64_MAX >> 1;
	}
}

/*
 * Whatever the region holds, a restarted device comes up broken or pops
 * chains inside guest memory, and never faults (ASan/UBSan builds check
 * every access).
 */
void hostile_random_region_behind_a_valid_magic(void **state)
{
	const struct params *p = *state;

	for (uint64_t seed = 1; seed <= 300; seed++) {
		struct rig *r = rig_new(p, START(p), seed);

		snprintf(ctx_msg, sizeof(ctx_msg), "scribble %s features %#llx seed %llu",
			 r->packed ? "packed" : "split", (unsigned long long)p->features,
			 (unsigned long long)seed);
		dev_start(r);
		drv_add_n(r, 1 + rnd_below(r, 6));
		for (unsigned i = rnd_below(r, 4); i > 0; i--)
			dev_pop(r);
		dev_crash(r);
		scribble(r);
		restart(r);
		CHECK(r->q->log_resub_n <= r->p.num);
		for (unsigned i = 0; i < 3 * r->p.num; i++) {
			int res;

			memset(&r->c, 0, sizeof(r->c));
			r->c.iov = r->iov;
			r->c.iov_cap = (uint32_t)(1 + rnd_below(r, IOV_CAP));
			res = vio_devq_pop(r->q, &r->c);
			CHECK(res == 1 || res == 0 || res == -ENOBUFS || res == -EIO);
			if (res == -EIO)
				CHECK(vio_devq_error(r->q) != NULL);
			if (res == 1)
				for (uint32_t k = 0; k < r->c.nout + r->c.nin; k++)
					CHECK(in_guest_memory(r, &r->iov[k]));
			if (res == 1 || res == -ENOBUFS) {
				CHECK(r->c.id < r->p.num);
				CHECK(vio_devq_push(r->q, r->c.id, rnd_below(r, 2) ? 0 : 8) == 0);
			}
			if (res <= 0 || rnd_below(r, 3) == 0)
				vio_devq_flush(r->q);
			if (res == 0 || res == -EIO)
				break;
		}
		rig_free(r);
	}
}

/* ------------------------------------------------------------------ */
/* A hostile driver: more pushes between two flushes than the queue has */
/* ------------------------------------------------------------------ */

/*
 * Split, no IN_ORDER: a head pushed is no longer in flight, so a driver
 * that makes the same head available again (it has not seen it used: it
 * is lying) lets the device pop and push it again before any flush. The
 * log's list of buffers to publish has room for Queue Size of them.
 */
void split_more_pushes_between_flushes_than_the_queue_size_breaks_it(void **state)
{
	struct rig *r = *state;
	uint64_t buf = r->arena;
	int res = 0;
	unsigned i;

	mock_split_desc(&r->vq, 0, buf, 8, WRITE, 0);
	for (i = 0; i < 5 * r->p.num; i++) {
		mock_split_make_avail(&r->vq, 0);
		memset(&r->c, 0, sizeof(r->c));
		r->c.iov = r->iov;
		r->c.iov_cap = IOV_CAP;
		res = vio_devq_pop(r->q, &r->c);
		if (res < 0)
			break;
		assert_int_equal(res, 1);
		assert_int_equal(r->c.id, 0);
		res = vio_devq_push(r->q, 0, 8);
		if (res < 0)
			break;
	}
	assert_int_equal(res, -EIO);
	assert_true(i <= r->p.num);
	assert_non_null(vio_devq_error(r->q));
}

/*
 * A driver bug: it makes a buffer available again after the device pushed
 * it but before a flush published it, so it cannot have seen it used
 * (VIRTIO 1.4 §2.7.14, §2.8.22). Two uses would share one log entry, and a
 * restart could not tell them apart: the ring breaks at the reuse.
 * (With IN_ORDER the pushed buffer is still in flight until the flush.)
 */
void hostile_id_made_available_again_before_published(void **state)
{
	struct rig *r = *state;
	uint32_t s;
	uint16_t id;

	drv_add_n(r, 1);
	s = dev_pop(r);
	id = r->req[s].id;
	dev_push(r, s, 0);
	if (r->packed) {
		mock_packed_put(&r->vq, r->req[s].b[0].gpa, r->req[s].b[0].len, id, 0);
		mock_packed_publish(&r->vq);
	} else {
		mock_split_make_avail(&r->vq, id);
	}
	assert_broken(r, r->in_order ? (r->packed ? "buffer id already in flight"
						  : "head already in flight")
				     : "buffer id made available again before its use was published");
}
