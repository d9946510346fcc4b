/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the inflight log of the device-side virtqueue
 * (src/ring/inflight.c, vhost-user "Inflight I/O tracking"): a back-end
 * killed at any point and restarted over the same rings and the same log
 * completes every chain the driver made available exactly once.
 *
 * A crash is simulated by abandoning a struct vio_devq (its storage is
 * ours: it is poisoned and freed) and initialising a new one over the same
 * ring memory and log region, with a wrong vring base, as QEMU sends one
 * after a crash: the log must win. Where a crash happens:
 *   - between two calls (pop, push, flush);
 *   - between the steps of a flush, through the internal calls of
 *     "ring/devq_impl.h" (inflight_publish_begin(), the layout's flush,
 *     inflight_publish_end());
 *   - at any single store into shared memory (the log and the rings): on
 *     x86-64 Linux the tracer below write-protects them, single-steps each
 *     store the device makes (trap flag) and "kills" the device after the
 *     N-th one, or just before / after the store to a given address, by
 *     jumping out of the signal handler. The directed crash-point tests
 *     and the random model use it; elsewhere they skip.
 * Whether a chain was completed is judged from the driver's side (the mock
 * driver: mock_vq_used() rejects ids it did not post) against a model of
 * every request: each is popped in avail order (chains in flight at a crash
 * first, in their first pop order, with the same iovecs), and reaped by the
 * driver exactly once, with the length the device pushed.
 *
 * The region is untrusted (DESIGN.md §4): the hostile tests write into it
 * what a front-end could, and the queue must come up broken (pop -EIO,
 * vio_devq_error() naming it) or consistent, never fault or resubmit
 * anything outside guest memory. The log layout is mirrored from the
 * header comment of src/ring/inflight.c.
 *
 * Matrix: {split (Queue Size 16), packed (21)} x {indirect} x {in_order};
 * the random model also runs smaller queues, event_idx, and rings starting
 * just before the index / wrap-counter wrap (VIO_TEST_SEED picks the seeds).
 */
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

/* ASan must let the tracer handle the faults it provokes. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "allow_user_segv_handler=1";
}

/* The directed tests: split Queue Size 16, packed 21 (not a power of two). */
static const struct params S_PLAIN = { MOCK_SPLIT, 16, 0 };
static const struct params S_IND = { MOCK_SPLIT, 16, F_INDIRECT };
static const struct params S_ORD = { MOCK_SPLIT, 16, F_IN_ORDER };
static const struct params S_IND_ORD = { MOCK_SPLIT, 16, F_INDIRECT | F_IN_ORDER };
static const struct params P_PLAIN = { MOCK_PACKED, 21, 0 };
static const struct params P_IND = { MOCK_PACKED, 21, F_INDIRECT };
static const struct params P_ORD = { MOCK_PACKED, 21, F_IN_ORDER };
static const struct params P_IND_ORD = { MOCK_PACKED, 21, F_INDIRECT | F_IN_ORDER };

/* ------------------------------------------------------------------ */
/* Directed tests                                                      */
/* ------------------------------------------------------------------ */

struct rig *directed_rig(const struct params *p)
{
	struct rig *r = rig_new(p, START(p), 1);

	r->fixed_shape = true;
	snprintf(ctx_msg, sizeof(ctx_msg), "%s num %u features %#llx",
		 p->layout == MOCK_PACKED ? "packed" : "split", p->num,
		 (unsigned long long)p->features);
	return r;
}

static int setup(void **state)
{
	struct rig *r = directed_rig(*state);

	dev_start(r);
	*state = r;
	return 0;
}

static int teardown(void **state)
{
	rig_free(*state);
	return 0;
}

/* Pops @n and checks they are the requests @want (NO_REQ-terminated when shorter). */
static void expect_pops(struct rig *r, const uint32_t *want, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(dev_pop(r), want[i]);
}

/* ---- a fresh region ---- */

static void fresh_zeroed_region_is_initialised(void **state)
{
	struct rig *r = *state;

	assert_null(vio_devq_error(r->q));
	assert_true(H(r)->magic == LOG_MAGIC);
	assert_int_equal(H(r)->desc_num, r->p.num);
	assert_int_equal(H(r)->packed, r->packed);
	assert_int_equal(H(r)->used, r->packed ? 0x8000 : 0);
	check_log(r);
	assert_int_equal(dev_pop(r), NO_REQ);
	drv_add_n(r, 3);
	drain(r);
	check_log(r);
}

static void fresh_region_of_garbage_without_magic_is_initialised(void **state)
{
	struct rig *r = directed_rig(*state);

	memset(r->log, 0xa5, r->log_size); /* not the magic: never written by us */
	dev_start(r);
	assert_null(vio_devq_error(r->q));
	check_log(r);
	drv_add_n(r, 3);
	dev_pop_all(r);
	check_log(r);
	drain(r);
	rig_free(r);
}

/* The first start takes the vring base when the region is fresh. */
static void fresh_region_starts_at_the_vring_base(void **state)
{
	const struct params *p = *state;
	struct rig *r = rig_new(p, p->layout == MOCK_PACKED ? 5 : 0xfffd, 1);

	r->fixed_shape = true;
	dev_start(r);
	check_log(r);
	drv_add_n(r, 4);
	dev_pop_all(r);
	check_log(r);
	drain(r);
	check_log(r);
	rig_free(r);
}

/* ---- logging while running ---- */

static void pops_are_logged_in_pop_order(void **state)
{
	struct rig *r = *state;

	drv_add_n(r, 4);
	for (uint32_t s = 0; s < 3; s++) {
		assert_int_equal(dev_pop(r), s);
		assert_int_equal(E(r)[r->req[s].id].inflight, 1);
		assert_true(E(r)[r->req[s].id].counter == s + 1);
	}
	assert_int_equal(E(r)[r->req[3].id].inflight, 0);
	check_log(r); /* packed: the saved descriptors, and where the next pop starts */
	drain(r);
}

static void push_without_flush_changes_nothing_in_the_log(void **state)
{
	struct rig *r = *state;
	uint8_t before[4096];

	drv_add_n(r, 3);
	dev_pop_all(r);
	memcpy(before, r->log, r->log_size);
	dev_push(r, 1, 8);
	dev_push(r, 0, 3);
	assert_memory_equal(before, r->log, r->log_size);
	drain(r);
}

static void flush_clears_the_published_entries(void **state)
{
	struct rig *r = *state;

	drv_add_n(r, 3);
	dev_pop_all(r);
	dev_push(r, 1, 8);
	dev_flush(r);
	/* IN_ORDER: 1 waits for 0, so nothing is published yet. */
	assert_int_equal(E(r)[r->req[1].id].inflight, r->in_order ? 1 : 0);
	check_log(r);
	dev_push(r, 0, 8);
	dev_flush(r);
	assert_int_equal(E(r)[r->req[0].id].inflight, 0);
	assert_int_equal(E(r)[r->req[1].id].inflight, 0);
	assert_int_equal(E(r)[r->req[2].id].inflight, 1);
	check_log(r);
	drv_reap_all(r);
	drain(r);
	check_log(r);
}

/* ---- restarts ---- */

static void clean_stop_then_restart_resubmits_nothing(void **state)
{
	struct rig *r = *state;
	static const uint32_t want[] = { 5, 6, 7, NO_REQ };

	drv_add_n(r, 5);
	drain(r);
	dev_crash(r);
	drv_add_n(r, 3); /* the guest goes on while we are down */
	dev_start(r);
	assert_null(vio_devq_error(r->q));
	assert_int_equal(r->q->log_resub_n, 0);
	expect_pops(r, want, 4);
	drain(r);
}

static void clean_stop_with_nothing_new_pops_nothing(void **state)
{
	struct rig *r = *state;

	drv_add_n(r, 4);
	drain(r);
	dev_crash(r);
	dev_start(r);
	check_log(r);
	assert_int_equal(dev_pop(r), NO_REQ);
	drv_add_n(r, 2);
	drain(r);
}

static void crash_resubmits_unfinished_chains_in_pop_order(void **state)
{
	struct rig *r = *state;
	static const uint32_t want[] = { 0, 1, 2, 4, 5, 6, 7, NO_REQ };
	static const uint32_t want_in_order[] = { 0, 1, 2, 3, 4, 5, 6, 7, NO_REQ };

	drv_add_n(r, 6);
	for (uint32_t s = 0; s < 5; s++)
		assert_int_equal(dev_pop(r), s);
	dev_push(r, 3, 8);
	dev_flush(r); /* 3 is used (IN_ORDER: still waits for 0, 1, 2) */
	dev_push(r, 1, 4);
	dev_push(r, 4, 8); /* pushed, never flushed */
	drv_reap_all(r);
	assert_int_equal(r->reaped, r->in_order ? 0 : 1);
	dev_crash(r);
	drv_reap_all(r);
	drv_add_n(r, 2);
	dev_start(r);
	assert_null(vio_devq_error(r->q));
	assert_int_equal(r->q->log_resub_n, r->in_order ? 5 : 4);
	check_log(r);
	if (r->in_order)
		expect_pops(r, want_in_order, 9);
	else
		expect_pops(r, want, 8);
	check_log(r);
	drain(r);
}

static void crash_again_before_all_are_resubmitted(void **state)
{
	struct rig *r = *state;

	drv_add_n(r, 6);
	dev_pop_all(r);
	dev_push(r, 2, 8);
	dev_flush(r);
	dev_crash(r);
	dev_start(r);
	dev_crash(r); /* again, before popping anything */
	dev_start(r);
	check_log(r);
	assert_int_equal(dev_pop(r), 0);
	assert_int_equal(dev_pop(r), 1);
	dev_push(r, 1, 8);
	dev_flush(r);
	check_log(r);
	dev_crash(r); /* again, with some resubmitted and one of those used */
	drv_reap_all(r);
	drv_add_n(r, 3);
	dev_start(r);
	check_log(r);
	assert_int_equal(dev_pop(r), 0);
	assert_int_equal(dev_pop(r), r->in_order ? 1 : 3);
	check_log(r);
	drain(r);
}

static void wrong_vring_base_is_ignored_when_the_log_has_the_queue(void **state)
{
	struct rig *r = *state;

	drv_add_n(r, 4);
	dev_pop(r);
	dev_pop(r);
	for (unsigned i = 0; i < 8; i++) {
		dev_crash(r);
		dev_start(r); /* a new wrong base each time */
		check_log(r);
	}
	assert_int_equal(dev_pop(r), 0);
	assert_int_equal(dev_pop(r), 1);
	assert_int_equal(dev_pop(r), 2);
	drain(r);
}

/* ---- a crash between the steps of a flush ---- */

/* The flush's steps by hand (without IN_ORDER): publish_begin, then the ring store if @ring. */
void flush_steps_then_crash(struct rig *r, bool ring)
{
	uint32_t b[1024], n = flush_batch(r, b);

	inflight_publish_begin(r->q);
	assert_int_equal(H(r)->batch_count, n);
	if (ring) {
		if (r->packed)
			packed_flush(r->q);
		else
			split_flush(r->q);
		model_publish(r, b, n);
	}
	dev_crash(r);
}

static void crash_after_publish_begin_resubmits_the_batch(void **state)
{
	struct rig *r = *state;
	static const uint32_t want[] = { 0, 1, 2, 3, 4, NO_REQ };

	drv_add_n(r, 5);
	dev_pop_all(r);
	dev_push(r, 2, 8);
	dev_push(r, 0, 5);
	flush_steps_then_crash(r, false);
	drv_reap_all(r);
	assert_int_equal(r->reaped, 0); /* the driver saw nothing */
	dev_start(r);
	assert_int_equal(r->q->log_resub_n, 5);
	expect_pops(r, want, 6);
	drain(r);
}

static void crash_after_the_ring_store_does_not_resubmit_the_batch(void **state)
{
	struct rig *r = *state;
	static const uint32_t want[] = { 1, 3, 4, 5, NO_REQ };

	drv_add_n(r, 5);
	dev_pop_all(r);
	dev_push(r, 2, 8);
	dev_push(r, 0, 5);
	flush_steps_then_crash(r, true);
	drv_reap_all(r);
	assert_int_equal(r->reaped, 2);
	drv_add_n(r, 1);
	dev_start(r);
	assert_int_equal(r->q->log_resub_n, 3);
	expect_pops(r, want, 5);
	drain(r);
}

/* The same with the tracer, IN_ORDER included: killed at the store that publishes. */
static void crash_at_the_publishing_store(void **state, bool after)
{
	struct rig *r = *state;
	uint32_t expect_used = after ? (r->in_order ? 1 : 2) : 0;

	skip_without_tracer();
	drv_add_n(r, 5);
	dev_pop_all(r);
	dev_push(r, 2, 8);
	dev_push(r, 0, 5);
	assert_false(dev_flush_crashing(r, -1, true, after));
	drv_reap_all(r);
	assert_int_equal(r->reaped, expect_used);
	drv_add_n(r, 2);
	dev_start(r);
	assert_int_equal(r->q->log_resub_n, 5 - expect_used);
	check_log(r);
	drain(r);
}

static void crash_just_before_the_publishing_store_resubmits_the_batch(void **state)
{
	crash_at_the_publishing_store(state, false);
}

static void crash_just_after_the_publishing_store_does_not_resubmit_it(void **state)
{
	crash_at_the_publishing_store(state, true);
}

/*
 * Packed: the batch was published, then the device died before forgetting
 * it; the guest reaped it and made so many buffers available that the ring
 * wrapped onto the batch's first position. That descriptor is now available
 * in the next lap, not used: the batch must still count as published.
 */
static void packed_batch_reaped_and_its_position_reused_is_not_resubmitted(void **state)
{
	struct rig *r = *state;
	uint16_t first = r->q->next_used;
	bool wrap = r->q->used_wrap;
	uint16_t flags;

	drv_add_n(r, 3);
	dev_pop_all(r);
	dev_push(r, 0, 8);
	if (r->in_order || HAVE_TRACER)
		assert_false(dev_flush_crashing(r, -1, true, true));
	else
		flush_steps_then_crash(r, true);
	drv_reap_all(r);
	assert_int_equal(r->reaped, 1);
	while (drv_add(r))
		;
	flags = mock_packed_flags(&r->vq, first);
	assert_true(!!(flags & AVAIL) != wrap); /* made available in the next lap */
	dev_start(r);
	assert_null(vio_devq_error(r->q));
	assert_int_equal(r->q->log_resub_n, 2);
	assert_int_equal(dev_pop(r), 1);
	assert_int_equal(dev_pop(r), 2);
	check_log(r);
	drain(r);
}

/*
 * Packed: a pop stores where the next one starts (hdr.avail) and the pop
 * counter that position goes with (hdr.avail_counter). Killed between the
 * two, recovery must not pair the new counter with the old position.
 */
static void packed_crash_between_avail_position_and_its_counter(void **state)
{
	struct rig *r = *state;

	skip_without_tracer();
	drv_add_n(r, 4);
	dev_pop(r);
	dev_pop(r);
	assert_int_equal(dev_pop_crashing_at(r, -1, &H(r)->avail_counter, true), NO_REQ - 1);
	dev_start(r);
	assert_null(vio_devq_error(r->q));
	assert_int_equal(r->q->log_resub_n, 3);
	check_log(r);
	drain(r);
}

/*
 * Packed: killed after a pop committed its entry and before hdr.avail, the
 * position comes from the entry. Recovery must write it back: once that
 * newest chain is used and the device dies again, the header is all that
 * says where popping stopped.
 */
static void packed_recovered_avail_position_is_written_back(void **state)
{
	struct rig *r = *state;

	skip_without_tracer();
	drv_add_n(r, 4);
	dev_pop(r);
	assert_int_equal(dev_pop_crashing_at(r, -1, &H(r)->avail, false), NO_REQ - 1);
	dev_start(r);
	assert_int_equal(r->q->log_resub_n, 2);
	assert_int_equal(dev_pop(r), 0);
	assert_int_equal(dev_pop(r), 1);
	check_log(r);
	dev_push(r, 1, 8); /* the newest: its entry is forgotten at the flush */
	if (r->in_order)
		dev_push(r, 0, 8); /* (IN_ORDER: only after 0) */
	dev_flush(r);
	dev_crash(r);
	drv_reap_all(r);
	dev_start(r);
	assert_null(vio_devq_error(r->q));
	assert_int_equal(r->q->log_resub_n, r->in_order ? 0 : 1);
	check_log(r);
	if (!r->in_order)
		assert_int_equal(dev_pop(r), 0);
	assert_int_equal(dev_pop(r), 2);
	drain(r);
}

/*
 * Packed: a flush publishes a batch by storing its first descriptor's flags
 * last; the others are written used before (at push, or by the IN_ORDER
 * drain in the flush). Killed in between, those used descriptors stay in
 * the ring past the committed position. After the restart the driver must
 * not see them: the new device completes the same chains in another order,
 * and the driver would reach a stale used descriptor (a chain the new
 * device has not completed) right after the new device's first batch.
 */
static void packed_used_descriptors_of_an_unpublished_batch_are_not_seen(void **state)
{
	struct rig *r = *state;
	struct mock_used u;

	drv_add_n(r, 4);
	dev_pop_all(r);
	dev_push(r, 0, 3); /* partial lengths: no IN_ORDER merging */
	dev_push(r, 1, 5);
	dev_push(r, 2, 7);
	if (r->in_order) {
		skip_without_tracer();
		assert_false(dev_flush_crashing(r, -1, true, false));
	} else {
		dev_crash(r);
	}
	drv_reap_all(r);
	assert_int_equal(r->reaped, 0);
	dev_start(r);
	assert_int_equal(r->q->log_resub_n, 4);
	dev_pop_all(r);
	dev_push(r, 0, 1);
	dev_flush(r);
	assert_int_equal(mock_vq_used(&r->vq, &u), 1);
	assert_int_equal(u.id, r->req[0].id);
	r->req[0].state = R_REAPED;
	r->reaped++;
	r->next_reap++;
	r->byid[u.id] = NO_REQ;
	/* 1 and 2 are not complete: nothing more is used */
	assert_int_equal(mock_vq_used(&r->vq, &u), 0);
	drain(r);
}

/* Packed: every lap of the ring, with a crash in each. */
static void packed_crash_in_every_lap(void **state)
{
	struct rig *r = *state;

	for (unsigned lap = 0; lap < 2 * r->p.num + 3; lap++) {
		drv_add_n(r, 3);
		dev_pop(r);
		dev_pop(r);
		dev_push(r, r->held[0], 8);
		dev_flush(r);
		drv_reap_all(r);
		dev_crash(r);
		dev_start(r);
		check_log(r);
		dev_pop_all(r);
		check_log(r);
		drain(r);
	}
}

/* Split: the 16-bit indices wrap while chains are in flight. */
static void split_crash_across_the_index_wrap(void **state)
{
	const struct params *p = *state;
	struct rig *r = rig_new(p, 0xfffe, 3);

	r->fixed_shape = true;
	dev_start(r);
	drv_add_n(r, 6);
	dev_pop_all(r);
	dev_push(r, 1, 8);
	dev_push(r, 0, 8);
	dev_push(r, 3, 8);
	dev_flush(r); /* used index 0xfffe + 2 (or 3) wraps */
	dev_crash(r);
	drv_reap_all(r);
	dev_start(r);
	check_log(r);
	dev_pop_all(r);
	drain(r);
	rig_free(r);
}

/* ---- every store is a crash point ---- */

enum crash_op { AT_POP, AT_PUSH, AT_FLUSH, AT_INIT, AT_RECOVERY_WITH_BATCH };

/*
 * The same scenario again and again, the device killed after 1, 2, 3, ...
 * stores of one operation, until the operation completes: each time the
 * restarted device pops exactly what was unfinished, and the driver gets
 * every request back once.
 */
static void every_store_is_a_safe_crash_point(const struct params *p, enum crash_op op)
{
	long k;

	skip_without_tracer();
	for (k = 1;; k++) {
		struct rig *r = directed_rig(p);
		bool died = false;

		snprintf(ctx_msg, sizeof(ctx_msg), "%s num %u features %#llx, op %d, crash after %ld",
			 r->packed ? "packed" : "split", p->num, (unsigned long long)p->features,
			 op, k);
		dev_start(r);
		drv_add_n(r, 6);
		for (int i = 0; i < 4; i++)
			dev_pop(r);
		dev_push(r, 2, 8);
		dev_push(r, 0, 8);
		dev_flush(r);
		dev_push(r, 3, 6);
		dev_push(r, 1, 8);
		switch (op) {
		case AT_POP:
			died = dev_pop_crashing(r, k) == NO_REQ - 1;
			break;
		case AT_PUSH:
			dev_pop(r);
			died = !dev_push_crashing(r, 4, 8, k);
			break;
		case AT_FLUSH:
			died = !dev_flush_crashing(r, k, false, false);
			break;
		case AT_INIT:
			dev_crash(r);
			drv_add_n(r, 1);
			r->cfg.base = wrong_base(r);
			died = traced(r, op_init, &(struct op_arg){ 0 }, k, NULL, false);
			break;
		case AT_RECOVERY_WITH_BATCH:
			assert_false(dev_flush_crashing(r, -1, true, true));
			drv_reap_all(r);
			r->cfg.base = wrong_base(r);
			died = traced(r, op_init, &(struct op_arg){ 0 }, k, NULL, false);
			break;
		}
		if (!died && (op == AT_INIT || op == AT_RECOVERY_WITH_BATCH))
			assert_null(vio_devq_error(r->q));
		if (died) {
			drv_reap_all(r);
			drv_add_n(r, 2);
			dev_start(r);
			check_log(r);
		}
		drain(r);
		rig_free(r);
		if (!died)
			break;
	}
	/* the operation did store something (an IN_ORDER push stores nothing: flush does) */
	if (op != AT_PUSH || !(p->features & F_IN_ORDER))
		assert_true(k > 2);
}

static void every_store_of_a_pop_is_a_safe_crash_point(void **state)
{
	every_store_is_a_safe_crash_point(*state, AT_POP);
}

static void every_store_of_a_push_is_a_safe_crash_point(void **state)
{
	every_store_is_a_safe_crash_point(*state, AT_PUSH);
}

static void every_store_of_a_flush_is_a_safe_crash_point(void **state)
{
	every_store_is_a_safe_crash_point(*state, AT_FLUSH);
}

static void every_store_of_recovery_is_a_safe_crash_point(void **state)
{
	every_store_is_a_safe_crash_point(*state, AT_INIT);
}

static void every_store_of_recovery_finishing_a_batch_is_a_safe_crash_point(void **state)
{
	every_store_is_a_safe_crash_point(*state, AT_RECOVERY_WITH_BATCH);
}

/* ------------------------------------------------------------------ */
/* The seeded random model                                              */
/* ------------------------------------------------------------------ */

/* The guest while the back-end is down: reaps, makes more available, sometimes fills the ring. */
static void downtime(struct rig *r)
{
	switch (rnd_below(r, 4)) {
	case 0:
		break;
	case 1:
		for (unsigned k = rnd_below(r, 4); k > 0 && drv_reap(r); k--)
			;
		drv_add_n(r, rnd_below(r, 4));
		break;
	default:
		drv_reap_all(r);
		while (r->nreq < MAX_REQ - 64 && drv_add(r))
			;
		break;
	}
}

/* A crash somewhere: between calls, at any store of a pop, push or flush. */
static void random_crash(struct rig *r)
{
	long k = 1 + (long)rnd_below(r, 30);
	bool died = false;

	switch (HAVE_TRACER ? rnd_below(r, 6) : rnd_below(r, 2) * 5u) {
	case 0:
		break;
	case 1:
		died = dev_pop_crashing(r, k) == NO_REQ - 1;
		break;
	case 2:
		for (uint32_t i = 0; i < r->held_n; i++)
			if (r->req[r->held[i]].state == R_HELD) {
				died = !dev_push_crashing(r, r->held[i], some_len(r, r->held[i]), k);
				break;
			}
		break;
	case 3:
		died = !dev_flush_crashing(r, k, false, false);
		break;
	case 4:
		died = !dev_flush_crashing(r, -1, true, rnd_below(r, 2));
		break;
	case 5:
		if (!r->in_order) {
			flush_steps_then_crash(r, rnd_below(r, 2));
			died = true;
		}
		break;
	}
	if (!died)
		dev_crash(r);
	downtime(r);
	/* sometimes it dies again while recovering */
	assert_int_equal(dev_start_crashing(r, HAVE_TRACER && !rnd_below(r, 4) ? k : -1), 0);
	CHECK(vio_devq_error(r->q) == NULL);
}

static void random_run(const struct params *p, uint16_t start, uint64_t seed, unsigned steps)
{
	struct rig *r = rig_new(p, start, seed);

	snprintf(ctx_msg, sizeof(ctx_msg), "random %s num %u features %#llx start %#x seed %llu",
		 r->packed ? "packed" : "split", p->num, (unsigned long long)p->features, start,
		 (unsigned long long)seed);
	dev_start(r);
	for (unsigned step = 0; step < steps && r->nreq < MAX_REQ - 256; step++) {
		uint32_t x = rnd_below(r, 100);

		if (x < 22) {
			drv_add_n(r, 1 + rnd_below(r, 3));
		} else if (x < 42) {
			dev_pop(r);
		} else if (x < 62) {
			if (r->held_n) {
				uint32_t s = r->held[rnd_below(r, r->held_n)];

				if (r->req[s].state == R_HELD)
					dev_push(r, s, some_len(r, s));
			}
		} else if (x < 72) {
			dev_flush(r);
		} else if (x < 85) {
			for (unsigned k = rnd_below(r, 4); k > 0 && drv_reap(r); k--)
				;
		} else if (x < 90) {
			random_crash(r);
		} else {
			continue;
		}
		check_log(r);
	}
	drain(r);
	check_log(r);
	rig_free(r);
}

struct rparams {
	struct params p;
	uint16_t start;
	unsigned seeds, steps;
};

static void random_crashes(void **state)
{
	const struct rparams *rp = *state;
	const char *env = getenv("VIO_TEST_SEED");
	uint64_t base = env ? strtoull(env, NULL, 0) : 1;

	print_message("seeds %llu..%llu (VIO_TEST_SEED)\n", (unsigned long long)base,
		      (unsigned long long)(base + rp->seeds - 1));
	for (uint64_t s = base; s < base + rp->seeds; s++)
		random_run(&rp->p, rp->start, s, rp->steps);
}

/* Small queues, so the rings wrap often; some start just before an index wrap. */
static const struct rparams R_S = { { MOCK_SPLIT, 4, 0 }, 0, 40, 1500 };
static const struct rparams R_S_IND = { { MOCK_SPLIT, 8, F_INDIRECT }, 0xfff0, 40, 1500 };
static const struct rparams R_S_ORD = { { MOCK_SPLIT, 8, F_IN_ORDER | F_EVENT }, 0xffe0, 40, 1500 };
static const struct rparams R_S_IND_ORD = { { MOCK_SPLIT, 4, F_INDIRECT | F_IN_ORDER }, 0, 40, 1500 };
static const struct rparams R_P = { { MOCK_PACKED, 5, 0 }, 0x8000, 40, 1500 };
static const struct rparams R_P_IND = { { MOCK_PACKED, 7, F_INDIRECT | F_EVENT }, 3, 40, 1500 };
static const struct rparams R_P_ORD = { { MOCK_PACKED, 6, F_IN_ORDER }, 0x8004, 40, 1500 };
static const struct rparams R_P_IND_ORD = { { MOCK_PACKED, 4, F_INDIRECT | F_IN_ORDER }, 2, 40, 1500 };

/* ------------------------------------------------------------------ */

#define T(fn, p) cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, (void *)&(p))
#define MATRIX(fn)                                                                     \
	T(fn, S_PLAIN), T(fn, S_IND), T(fn, S_ORD), T(fn, S_IND_ORD), T(fn, P_PLAIN),     \
		T(fn, P_IND), T(fn, P_ORD), T(fn, P_IND_ORD)
#define SPLIT(fn) T(fn, S_PLAIN), T(fn, S_IND), T(fn, S_ORD), T(fn, S_IND_ORD)
#define PACKED(fn) T(fn, P_PLAIN), T(fn, P_IND), T(fn, P_ORD), T(fn, P_IND_ORD)
#define BARE(fn, p) cmocka_unit_test_prestate(fn, (void *)&(p))
#define BARE_MATRIX(fn)                                                                 \
	BARE(fn, S_PLAIN), BARE(fn, S_IND), BARE(fn, S_ORD), BARE(fn, S_IND_ORD),          \
		BARE(fn, P_PLAIN), BARE(fn, P_IND), BARE(fn, P_ORD), BARE(fn, P_IND_ORD)
#define R(rp) cmocka_unit_test_prestate(random_crashes, (void *)&(rp))

int main(void)
{
	const struct CMUnitTest tests[] = {
		MATRIX(fresh_zeroed_region_is_initialised),
		BARE_MATRIX(fresh_region_of_garbage_without_magic_is_initialised),
		BARE_MATRIX(fresh_region_starts_at_the_vring_base),
		MATRIX(pops_are_logged_in_pop_order),
		MATRIX(push_without_flush_changes_nothing_in_the_log),
		MATRIX(flush_clears_the_published_entries),

		MATRIX(clean_stop_then_restart_resubmits_nothing),
		MATRIX(clean_stop_with_nothing_new_pops_nothing),
		MATRIX(crash_resubmits_unfinished_chains_in_pop_order),
		MATRIX(crash_again_before_all_are_resubmitted),
		MATRIX(wrong_vring_base_is_ignored_when_the_log_has_the_queue),
		PACKED(packed_crash_in_every_lap),
		PACKED(packed_used_descriptors_of_an_unpublished_batch_are_not_seen),
		PACKED(packed_crash_between_avail_position_and_its_counter),
		PACKED(packed_recovered_avail_position_is_written_back),
		BARE(split_crash_across_the_index_wrap, S_PLAIN),
		BARE(split_crash_across_the_index_wrap, S_IND_ORD),

		T(crash_after_publish_begin_resubmits_the_batch, S_PLAIN),
		T(crash_after_publish_begin_resubmits_the_batch, S_IND),
		T(crash_after_publish_begin_resubmits_the_batch, P_PLAIN),
		T(crash_after_publish_begin_resubmits_the_batch, P_IND),
		T(crash_after_the_ring_store_does_not_resubmit_the_batch, S_PLAIN),
		T(crash_after_the_ring_store_does_not_resubmit_the_batch, S_IND),
		T(crash_after_the_ring_store_does_not_resubmit_the_batch, P_PLAIN),
		T(crash_after_the_ring_store_does_not_resubmit_the_batch, P_IND),
		MATRIX(crash_just_before_the_publishing_store_resubmits_the_batch),
		MATRIX(crash_just_after_the_publishing_store_does_not_resubmit_it),
		PACKED(packed_batch_reaped_and_its_position_reused_is_not_resubmitted),

		BARE_MATRIX(every_store_of_a_pop_is_a_safe_crash_point),
		BARE_MATRIX(every_store_of_a_push_is_a_safe_crash_point),
		BARE_MATRIX(every_store_of_a_flush_is_a_safe_crash_point),
		BARE_MATRIX(every_store_of_recovery_is_a_safe_crash_point),
		BARE_MATRIX(every_store_of_recovery_finishing_a_batch_is_a_safe_crash_point),

		MATRIX(hostile_id_made_available_again_before_published),
		MATRIX(hostile_inflight_flag_above_1),
		MATRIX(hostile_inflight_flag_0xff_on_an_idle_entry),
		MATRIX(hostile_counter_0),
		MATRIX(hostile_duplicate_counters),
		MATRIX(hostile_log_for_another_queue_size),
		MATRIX(hostile_log_for_the_other_layout),
		MATRIX(hostile_batch_larger_than_the_queue),
		MATRIX(hostile_batch_head_out_of_range),
		MATRIX(hostile_batch_list_shorter_than_its_count),
		MATRIX(hostile_unpublished_or_committed_batch_is_ignored),
		SPLIT(hostile_split_batch_not_matching_the_used_index),
		MATRIX(hostile_controls_recover),
		MATRIX(hostile_region_too_small_or_misaligned_is_not_touched),
		SPLIT(hostile_split_used_index_not_the_rings),
		SPLIT(hostile_split_ring_used_index_moved_under_the_log),
		SPLIT(hostile_split_more_in_flight_than_made_available),
		SPLIT(hostile_split_resubmitted_chain_outside_guest_memory),
		SPLIT(hostile_split_idle_head_marked_in_flight_is_walked_safely),
		PACKED(hostile_packed_saved_list_out_of_range),
		PACKED(hostile_packed_saved_list_shared_by_two_buffers),
		PACKED(hostile_packed_saved_list_link_out_of_range),
		PACKED(hostile_packed_saved_list_wrong_length),
		PACKED(hostile_packed_positions_do_not_match),
		PACKED(hostile_packed_newest_avail_end_wrong),
		PACKED(hostile_packed_positions_out_of_range),
		PACKED(hostile_packed_batch_used_out_of_range),
		BARE(hostile_packed_batch_at_used_position_outside_the_ring_is_not_read, P_PLAIN),
		BARE(hostile_packed_batch_at_used_position_outside_the_ring_is_not_read, P_ORD),
		PACKED(hostile_packed_saved_descriptor_outside_guest_memory),
		T(hostile_packed_saved_indirect_inside_a_list, P_PLAIN),
		T(hostile_packed_saved_indirect_inside_a_list, P_ORD),
		T(hostile_packed_saved_indirect_without_the_feature, P_PLAIN),
		BARE_MATRIX(hostile_random_region_behind_a_valid_magic),
		T(split_more_pushes_between_flushes_than_the_queue_size_breaks_it, S_PLAIN),
		T(split_more_pushes_between_flushes_than_the_queue_size_breaks_it, S_IND),

		R(R_S), R(R_S_IND), R(R_S_ORD), R(R_S_IND_ORD),
		R(R_P), R(R_P_IND), R(R_P_ORD), R(R_P_IND_ORD),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
