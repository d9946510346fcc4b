/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of VIRTIO_F_IN_ORDER on the device side (src/ring/devq.c), for
 * both layouts (VIRTIO 1.4 §2.7.9 split, §2.8.8 packed): used elements are
 * written in the order the buffers were popped, whatever order the device
 * completes them in; consecutive buffers used in full are merged into one
 * element carrying the last id (the driver assumes the skipped ones were
 * used completely); a partly written buffer ends its batch and keeps its
 * own length. Each test runs over {split, packed} x {indirect} x {event_idx}.
 * The seeded random model of both layouts with IN_ORDER is in
 * test_packed_dev.c.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mock_driver.h"

#define F_INDIRECT VIO_BIT(VIRTIO_F_INDIRECT_DESC)
#define F_EVENT    VIO_BIT(VIRTIO_F_EVENT_IDX)
#define F_IN_ORDER VIO_BIT(VIRTIO_F_IN_ORDER)
#define WRITE      VIRTQ_DESC_F_WRITE
#define AVAIL      VIRTQ_DESC_F_AVAIL
#define USED       VIRTQ_DESC_F_USED

#define IOV_CAP 16

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
	uint64_t buf;
	struct params p;
	bool packed;
	/* per id: ring descriptors and writable bytes of what was added */
	uint32_t ndesc[64], in_bytes[64];
};

/* Split: Queue Size 8. Packed: 7. Both with IN_ORDER. */
static const struct params S_PLAIN = { MOCK_SPLIT, 8, F_IN_ORDER };
static const struct params S_IND = { MOCK_SPLIT, 8, F_IN_ORDER | F_INDIRECT };
static const struct params S_EVENT = { MOCK_SPLIT, 8, F_IN_ORDER | F_EVENT };
static const struct params S_IND_EVENT = { MOCK_SPLIT, 8, F_IN_ORDER | F_INDIRECT | F_EVENT };
static const struct params P_PLAIN = { MOCK_PACKED, 7, F_IN_ORDER };
static const struct params P_IND = { MOCK_PACKED, 7, F_IN_ORDER | F_INDIRECT };
static const struct params P_EVENT = { MOCK_PACKED, 7, F_IN_ORDER | F_EVENT };
static const struct params P_IND_EVENT = { MOCK_PACKED, 7, F_IN_ORDER | F_INDIRECT | F_EVENT };

static int setup(void **state)
{
	const struct params *p = *state;
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->p = *p;
	f->packed = p->layout == MOCK_PACKED;
	mock_mem_init_default(&f->m);
	assert_int_equal(mock_vq_init(&f->vq, &f->m, p->layout, p->num, p->features), 0);
	assert_int_equal(mock_vq_devq_init(&f->vq, NULL), 0);
	f->q = f->vq.devq;
	f->buf = mock_alloc(&f->m, 0, 0x10000, 64);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	mock_vq_fini(&f->vq);
	mock_mem_fini(&f->m);
	free(f);
	return 0;
}

/*
 * Adds a buffer of @nread readable descriptors of 16 bytes and one
 * writable one of @wbytes (none if 0), indirect when the feature is on and
 * @ind is set; returns its id.
 */
static uint16_t add(struct fx *f, unsigned nread, uint32_t wbytes, bool ind)
{
	struct mock_buf b[8];
	unsigned n = 0, i;
	int id;

	for (i = 0; i < nread; i++)
		b[n++] = (struct mock_buf){ f->buf + 16 * i, 16, false };
	if (wbytes)
		b[n++] = (struct mock_buf){ f->buf + 0x1000, wbytes, true };
	ind = ind && (f->p.features & F_INDIRECT);
	id = mock_vq_add(&f->vq, b, n, ind ? 0 : MOCK_DIRECT);
	assert_true(id >= 0);
	f->ndesc[id] = f->packed ? (ind ? 1 : n) : 0;
	f->in_bytes[id] = wbytes;
	return (uint16_t)id;
}

static void pop_id(struct fx *f, uint16_t id)
{
	memset(&f->c, 0, sizeof(f->c));
	f->c.iov = f->iov;
	f->c.iov_cap = IOV_CAP;
	assert_int_equal(vio_devq_pop(f->q, &f->c), 1);
	assert_int_equal(f->c.id, id);
}

/* Reaps the next used element and checks id, length and batch size. */
static void reap(struct fx *f, uint16_t id, uint32_t len, uint32_t nbufs)
{
	struct mock_used u;

	assert_int_equal(mock_vq_used(&f->vq, &u), 1);
	assert_int_equal(u.id, id);
	assert_int_equal(u.len, len);
	assert_int_equal(u.nbufs, nbufs);
	if (f->packed)
		assert_int_equal(u.flags & (AVAIL | USED | WRITE),
				 (f->vq.used_wrap == (u.pos < f->vq.next_used) ? AVAIL | USED : 0) |
					 (len ? WRITE : 0));
}

static void assert_nothing_used(struct fx *f)
{
	struct mock_used u;

	assert_int_equal(mock_vq_used(&f->vq, &u), 0);
}

/* Everything the device may write to the ring area(s). */
struct snap {
	uint16_t used_idx;
	uint32_t elem[64][2];
	struct mock_pdesc d[64];
};

static void take_snap(struct fx *f, struct snap *s)
{
	uint32_t i;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < f->p.num; i++) {
		if (f->packed)
			mock_packed_read(&f->vq, i, &s->d[i]);
		else
			mock_split_used_elem(&f->vq, i, &s->elem[i][0], &s->elem[i][1]);
	}
	if (!f->packed)
		s->used_idx = mock_split_used_idx(&f->vq);
}

static void assert_snap_equal(struct fx *f, const struct snap *a)
{
	struct snap b;

	take_snap(f, &b);
	assert_memory_equal(a, &b, sizeof(b));
}

/* Asks for a notification at the next used element (split EVENT_IDX:
 * used_event = the used index; packed: flags stay ENABLE). */
static int flush(struct fx *f)
{
	if (!f->packed)
		mock_split_set_used_event(&f->vq, mock_split_used_idx(&f->vq));
	return vio_devq_flush(f->q);
}

/* Where the next used element goes: split used index / packed position. */
static uint32_t used_cursor(struct fx *f)
{
	return f->packed ? f->vq.next_used : f->vq.last_used;
}

/* Makes the next pop a ring violation; returns the reason. */
static const char *make_violation(struct fx *f)
{
	if (f->packed) {
		mock_packed_put(&f->vq, f->buf, 1, (uint16_t)f->p.num, 0);
		mock_packed_publish(&f->vq);
		return "buffer id out of range";
	}
	mock_split_make_avail(&f->vq, (uint16_t)f->p.num);
	return "head out of range";
}

/* Makes buffer @id available again while the device still holds it. */
static const char *repost(struct fx *f, uint16_t id)
{
	if (f->packed) {
		mock_packed_put(&f->vq, f->buf, 1, id, 0);
		mock_packed_publish(&f->vq);
		return "buffer id already in flight";
	}
	mock_split_make_avail(&f->vq, id);
	return "head already in flight";
}

/* ================================================================== */

static void completions_pushed_out_of_order_come_out_in_pop_order(void **state)
{
	struct fx *f = *state;
	uint16_t a = add(f, 1, 100, false), b = add(f, 2, 200, true), c = add(f, 0, 300, false);

	pop_id(f, a);
	pop_id(f, b);
	pop_id(f, c);
	/* Partial lengths: no merging, one element each. */
	assert_int_equal(vio_devq_push(f->q, c, 33), 0);
	assert_int_equal(vio_devq_push(f->q, a, 11), 0);
	assert_int_equal(vio_devq_push(f->q, b, 22), 0);
	assert_int_equal(flush(f), 1);
	reap(f, a, 11, 1);
	reap(f, b, 22, 1);
	reap(f, c, 33, 1);
	assert_nothing_used(f);
	assert_int_equal(vio_devq_inflight(f->q), 0);
}

/* Later completions wait for the first popped one: nothing is written. */
static void nothing_is_written_until_the_oldest_completes(void **state)
{
	struct fx *f = *state;
	uint16_t a = add(f, 1, 100, false), b = add(f, 1, 100, false), c = add(f, 1, 100, false);
	struct snap s;

	pop_id(f, a);
	pop_id(f, b);
	pop_id(f, c);
	take_snap(f, &s);
	assert_int_equal(vio_devq_push(f->q, b, 5), 0);
	assert_int_equal(vio_devq_push(f->q, c, 6), 0);
	assert_int_equal(vio_devq_flush(f->q), 0);
	assert_snap_equal(f, &s);
	assert_nothing_used(f);
	assert_int_equal(vio_devq_inflight(f->q), 1);
	assert_int_equal(vio_devq_push(f->q, a, 4), 0);
	assert_int_equal(flush(f), 1);
	reap(f, a, 4, 1);
	reap(f, b, 5, 1);
	reap(f, c, 6, 1);
}

/*
 * Buffers used in full become one element with the id and length of the
 * last; the used index (split) moves by the batch, the ring position
 * (packed) by all their descriptors, and nothing is written for the others.
 */
static void full_buffers_merge_into_one_element_with_the_last_id(void **state)
{
	struct fx *f = *state;
	uint16_t a = add(f, 1, 100, false), b = add(f, 0, 50, false), c = add(f, 2, 70, false);
	uint32_t first = used_cursor(f);
	struct snap s;

	pop_id(f, a);
	pop_id(f, b);
	pop_id(f, c);
	take_snap(f, &s);
	assert_int_equal(vio_devq_push(f->q, c, 70), 0);
	assert_int_equal(vio_devq_push(f->q, a, 100), 0);
	assert_int_equal(vio_devq_push(f->q, b, 50), 0);
	assert_int_equal(flush(f), 1);
	if (f->packed) {
		uint32_t end = first + f->ndesc[a] + f->ndesc[b] + f->ndesc[c], i;
		struct mock_pdesc d;

		/* One used descriptor, at the batch's first position... */
		mock_packed_read(&f->vq, first, &d);
		assert_int_equal(d.id, c);
		assert_int_equal(d.len, 70);
		assert_int_equal(d.flags, AVAIL | USED | WRITE);
		/* ... the rest of the batch's positions untouched. */
		for (i = first + 1; i < end; i++) {
			mock_packed_read(&f->vq, i, &d);
			assert_memory_equal(&d, &s.d[i], sizeof(d));
		}
		assert_int_equal(vio_devq_base(f->q) >> 16, end | 0x8000u);
	} else {
		uint32_t id, len;

		assert_int_equal(mock_split_used_idx(&f->vq), 3);
		mock_split_used_elem(&f->vq, 0, &id, &len);
		assert_int_equal(id, c);
		assert_int_equal(len, 70);
		/* Slots 1 and 2 untouched. */
		mock_split_used_elem(&f->vq, 1, &id, &len);
		assert_int_equal(id, s.elem[1][0]);
		assert_int_equal(len, s.elem[1][1]);
		mock_split_used_elem(&f->vq, 2, &id, &len);
		assert_int_equal(id, s.elem[2][0]);
		assert_int_equal(len, s.elem[2][1]);
	}
	reap(f, c, 70, 3);
	assert_nothing_used(f);
	/* The next buffer's element lands right after the batch. */
	a = add(f, 1, 10, false);
	pop_id(f, a);
	assert_int_equal(vio_devq_push(f->q, a, 3), 0);
	assert_int_equal(flush(f), 1);
	assert_int_equal(used_cursor(f), f->packed ? first + f->ndesc[a] + f->ndesc[b] + f->ndesc[c] : 3);
	reap(f, a, 3, 1);
}

/* A partly written buffer ends its batch and reports its own length. */
static void partial_buffer_ends_a_batch_with_its_own_length(void **state)
{
	struct fx *f = *state;
	uint16_t a = add(f, 1, 100, false), b = add(f, 1, 100, true), c = add(f, 0, 30, false),
		 d = add(f, 1, 40, false);

	pop_id(f, a);
	pop_id(f, b);
	pop_id(f, c);
	pop_id(f, d);
	assert_int_equal(vio_devq_push(f->q, d, 40), 0);
	assert_int_equal(vio_devq_push(f->q, c, 30), 0);
	assert_int_equal(vio_devq_push(f->q, b, 99), 0);
	assert_int_equal(vio_devq_push(f->q, a, 100), 0);
	assert_int_equal(flush(f), 1);
	reap(f, b, 99, 2);
	reap(f, d, 40, 2);
	assert_nothing_used(f);
	if (!f->packed)
		assert_int_equal(mock_split_used_idx(&f->vq), 4);
}

static void partial_first_then_full_gives_two_elements(void **state)
{
	struct fx *f = *state;
	uint16_t a = add(f, 1, 100, false), b = add(f, 1, 100, false);

	pop_id(f, a);
	pop_id(f, b);
	assert_int_equal(vio_devq_push(f->q, a, 0), 0);
	assert_int_equal(vio_devq_push(f->q, b, 100), 0);
	assert_int_equal(flush(f), 1);
	reap(f, a, 0, 1);
	reap(f, b, 100, 1);
	assert_nothing_used(f);
}

/* Nothing to write into: length 0 is the whole of a read-only buffer. */
static void readonly_buffers_are_used_in_full_and_merge(void **state)
{
	struct fx *f = *state;
	uint16_t a = add(f, 2, 0, false), b = add(f, 1, 0, true), c = add(f, 1, 0, false);

	pop_id(f, a);
	pop_id(f, b);
	pop_id(f, c);
	assert_int_equal(vio_devq_push(f->q, b, 0), 0);
	assert_int_equal(vio_devq_push(f->q, c, 7), 0); /* clamped to 0 */
	assert_int_equal(vio_devq_push(f->q, a, 0), 0);
	assert_int_equal(flush(f), 1);
	reap(f, c, 0, 3);
	assert_nothing_used(f);
}

/* A length above the writable size is clamped: the buffer is used in full. */
static void length_above_writable_size_counts_as_full(void **state)
{
	struct fx *f = *state;
	uint16_t a = add(f, 1, 100, false), b = add(f, 1, 20, false);

	pop_id(f, a);
	pop_id(f, b);
	assert_int_equal(vio_devq_push(f->q, a, UINT32_MAX), 0);
	assert_int_equal(vio_devq_push(f->q, b, 21), 0);
	assert_int_equal(flush(f), 1);
	reap(f, b, 20, 2);
}

/* A chain that did not fit the iovecs, completed with 0: its own element. */
static void enobufs_buffer_completed_with_0_gets_its_own_element(void **state)
{
	struct fx *f = *state;
	uint16_t a = add(f, 0, 100, false), b = add(f, 3, 100, false), c = add(f, 0, 10, false);

	pop_id(f, a);
	memset(&f->c, 0, sizeof(f->c));
	f->c.iov = f->iov;
	f->c.iov_cap = 2;
	assert_int_equal(vio_devq_pop(f->q, &f->c), -ENOBUFS);
	assert_int_equal(f->c.id, b);
	pop_id(f, c);
	assert_int_equal(vio_devq_push(f->q, c, 10), 0);
	assert_int_equal(vio_devq_push(f->q, b, 0), 0);
	assert_int_equal(vio_devq_push(f->q, a, 100), 0);
	assert_int_equal(flush(f), 1);
	reap(f, b, 0, 2);  /* a (full) merged into b's element */
	reap(f, c, 10, 1);
}

/* A flush writes what is ready; the rest forms the next batch. */
static void each_flush_writes_the_completed_prefix(void **state)
{
	struct fx *f = *state;
	uint16_t a = add(f, 1, 8, false), b = add(f, 1, 8, false), c = add(f, 1, 8, false);

	pop_id(f, a);
	pop_id(f, b);
	pop_id(f, c);
	assert_int_equal(vio_devq_push(f->q, a, 8), 0);
	assert_int_equal(vio_devq_push(f->q, c, 8), 0);
	assert_int_equal(flush(f), 1);
	reap(f, a, 8, 1);
	assert_nothing_used(f);
	assert_int_equal(vio_devq_flush(f->q), 0);
	assert_int_equal(vio_devq_push(f->q, b, 8), 0);
	assert_int_equal(flush(f), 1);
	reap(f, c, 8, 2);
	assert_nothing_used(f);
}

/* The whole queue in flight, completed backwards: one element for all. */
static void full_queue_completed_backwards_is_one_element(void **state)
{
	struct fx *f = *state;
	uint16_t ids[8];
	uint32_t i, n = f->p.num;

	for (i = 0; i < n; i++)
		ids[i] = add(f, 0, 4, false);
	for (i = 0; i < n; i++)
		pop_id(f, ids[i]);
	for (i = n; i-- > 0;)
		assert_int_equal(vio_devq_push(f->q, ids[i], 4), 0);
	assert_int_equal(flush(f), 1);
	reap(f, ids[n - 1], 4, n);
	assert_nothing_used(f);
	if (f->packed) {
		/* A whole lap: same position, the other wrap counter. */
		assert_int_equal(vio_devq_base(f->q), 0x00000000u);
		assert_int_equal(f->vq.next_used, 0);
		assert_false(f->vq.used_wrap);
	} else {
		assert_int_equal(mock_split_used_idx(&f->vq), n);
	}
	/* And the ring goes on. */
	ids[0] = add(f, 0, 4, false);
	pop_id(f, ids[0]);
	assert_int_equal(vio_devq_push(f->q, ids[0], 1), 0);
	assert_int_equal(flush(f), 1);
	reap(f, ids[0], 1, 1);
}

/* Batches over the end of the ring (packed: wrap counter; split: index). */
static void batches_across_the_end_of_the_ring(void **state)
{
	struct fx *f = *state;
	unsigned round;

	for (round = 0; round < 40; round++) {
		uint16_t ids[3];
		unsigned i, k = 1 + round % 3;

		for (i = 0; i < k; i++)
			ids[i] = add(f, (round + i) % 2, 8, (round + i) % 3 == 0);
		for (i = 0; i < k; i++)
			pop_id(f, ids[i]);
		for (i = k; i-- > 0;)
			assert_int_equal(vio_devq_push(f->q, ids[i], i + 1 == k ? 5 : 8), 0);
		assert_int_equal(flush(f), 1);
		reap(f, ids[k - 1], 5, k);
		assert_nothing_used(f);
		assert_int_equal(vio_devq_base(f->q), f->packed ? mock_packed_base(&f->vq) : f->vq.avail_idx);
	}
	assert_null(vio_devq_error(f->q));
}

/* Notifications count the batch: split used_event inside it notifies. */
static void merged_batch_notifies_for_an_event_inside_it(void **state)
{
	struct fx *f = *state;
	uint16_t a = add(f, 1, 8, false), b = add(f, 1, 8, false), c = add(f, 1, 8, false);

	if (f->packed)
		mock_packed_set_driver_event(&f->vq, RING_EVENT_FLAGS_DESC,
					     mock_packed_event((uint16_t)f->ndesc[a], true)); /* b's first */
	else
		mock_split_set_used_event(&f->vq, 1); /* entry of b */
	pop_id(f, a);
	pop_id(f, b);
	pop_id(f, c);
	assert_int_equal(vio_devq_push(f->q, c, 8), 0);
	assert_int_equal(vio_devq_push(f->q, b, 8), 0);
	assert_int_equal(vio_devq_push(f->q, a, 8), 0);
	assert_int_equal(vio_devq_flush(f->q), 1);
	reap(f, c, 8, 3);
}

/* ... and an event after the batch does not (with EVENT_IDX). */
static void merged_batch_does_not_notify_for_an_event_after_it(void **state)
{
	struct fx *f = *state;
	uint16_t a = add(f, 1, 8, false), b = add(f, 1, 8, false);
	uint32_t end;

	end = f->packed ? f->ndesc[a] + f->ndesc[b] : 2;
	if (f->packed)
		mock_packed_set_driver_event(&f->vq, RING_EVENT_FLAGS_DESC, mock_packed_event((uint16_t)end, true));
	else
		mock_split_set_used_event(&f->vq, (uint16_t)end);
	pop_id(f, a);
	pop_id(f, b);
	assert_int_equal(vio_devq_push(f->q, b, 8), 0);
	assert_int_equal(vio_devq_push(f->q, a, 8), 0);
	assert_int_equal(vio_devq_flush(f->q), 0);
	reap(f, b, 8, 2);
}

/* Pushed but waiting for an older one: still the device's, not the driver's. */
static void waiting_completion_is_still_in_flight_for_the_driver(void **state)
{
	struct fx *f = *state;
	uint16_t a = add(f, 1, 8, false), b = add(f, 0, 8, false);
	const char *why;

	pop_id(f, a);
	pop_id(f, b);
	assert_int_equal(vio_devq_push(f->q, b, 8), 0);
	assert_int_equal(vio_devq_inflight(f->q), 1);
	why = repost(f, b);
	memset(&f->c, 0, sizeof(f->c));
	f->c.iov = f->iov;
	f->c.iov_cap = IOV_CAP;
	assert_int_equal(vio_devq_pop(f->q, &f->c), -EIO);
	assert_string_equal(vio_devq_error(f->q), why);
}

/*
 * The queue breaks with completions waiting for an older one: the missing
 * one can still be pushed (bookkeeping, -EIO), nothing is ever written to
 * the ring, and every id is accounted for.
 */
static void queue_breaking_with_completions_pending_writes_nothing(void **state)
{
	struct fx *f = *state;
	uint16_t a = add(f, 1, 8, false), b = add(f, 1, 8, false), c = add(f, 1, 8, false);
	const char *why;
	struct snap s;

	pop_id(f, a);
	pop_id(f, b);
	pop_id(f, c);
	assert_int_equal(vio_devq_push(f->q, c, 8), 0);
	assert_int_equal(vio_devq_push(f->q, b, 3), 0);
	why = make_violation(f);
	assert_int_equal(vio_devq_pop(f->q, &f->c), -EIO);
	take_snap(f, &s);
	assert_int_equal(vio_devq_push(f->q, a, 8), -EIO);
	assert_int_equal(vio_devq_inflight(f->q), 0);
	assert_int_equal(vio_devq_flush(f->q), 0);
	assert_snap_equal(f, &s);
	assert_nothing_used(f);
	assert_int_equal(vio_devq_push(f->q, a, 8), -EINVAL);
	assert_int_equal(vio_devq_push(f->q, b, 8), -EINVAL);
	assert_int_equal(vio_devq_push(f->q, c, 8), -EINVAL);
	assert_int_equal(vio_devq_flush(f->q), 0);
	assert_snap_equal(f, &s);
	assert_string_equal(vio_devq_error(f->q), why);
}

/* Pushed (and accepted) before the break, flushed after: not written. */
static void completions_pushed_before_the_break_are_not_written(void **state)
{
	struct fx *f = *state;
	uint16_t a = add(f, 1, 8, false), b = add(f, 1, 8, false);
	struct snap s;

	pop_id(f, a);
	pop_id(f, b);
	make_violation(f); /* written by the driver, not yet seen */
	take_snap(f, &s);
	assert_int_equal(vio_devq_push(f->q, a, 8), 0);
	assert_int_equal(vio_devq_push(f->q, b, 2), 0);
	assert_int_equal(vio_devq_pop(f->q, &f->c), -EIO);
	assert_int_equal(vio_devq_flush(f->q), 0);
	assert_snap_equal(f, &s);
	assert_nothing_used(f);
	assert_int_equal(vio_devq_inflight(f->q), 0);
}

/* A push after the break for a buffer that was next in line: -EIO, no write. */
static void push_on_broken_queue_is_eio_and_not_written(void **state)
{
	struct fx *f = *state;
	uint16_t a = add(f, 1, 8, false);
	struct snap s;

	pop_id(f, a);
	make_violation(f);
	assert_int_equal(vio_devq_pop(f->q, &f->c), -EIO);
	take_snap(f, &s);
	assert_int_equal(vio_devq_push(f->q, a, 8), -EIO);
	assert_int_equal(vio_devq_flush(f->q), 0);
	assert_snap_equal(f, &s);
	assert_int_equal(vio_devq_push(f->q, a, 8), -EINVAL);
}

#define MATRIX(f)                                                           \
	{ #f "/split", f, setup, teardown, (void *)&S_PLAIN },              \
	{ #f "/split+indirect", f, setup, teardown, (void *)&S_IND },       \
	{ #f "/split+event_idx", f, setup, teardown, (void *)&S_EVENT },    \
	{ #f "/split+indirect+event_idx", f, setup, teardown, (void *)&S_IND_EVENT }, \
	{ #f "/packed", f, setup, teardown, (void *)&P_PLAIN },             \
	{ #f "/packed+indirect", f, setup, teardown, (void *)&P_IND },      \
	{ #f "/packed+event_idx", f, setup, teardown, (void *)&P_EVENT },   \
	{ #f "/packed+indirect+event_idx", f, setup, teardown, (void *)&P_IND_EVENT }
#define MATRIX_EVENT(f)                                                     \
	{ #f "/split+event_idx", f, setup, teardown, (void *)&S_EVENT },    \
	{ #f "/split+indirect+event_idx", f, setup, teardown, (void *)&S_IND_EVENT }, \
	{ #f "/packed+event_idx", f, setup, teardown, (void *)&P_EVENT },   \
	{ #f "/packed+indirect+event_idx", f, setup, teardown, (void *)&P_IND_EVENT }

int main(void)
{
	const struct CMUnitTest tests[] = {
		MATRIX(completions_pushed_out_of_order_come_out_in_pop_order),
		MATRIX(nothing_is_written_until_the_oldest_completes),
		MATRIX(full_buffers_merge_into_one_element_with_the_last_id),
		MATRIX(partial_buffer_ends_a_batch_with_its_own_length),
		MATRIX(partial_first_then_full_gives_two_elements),
		MATRIX(readonly_buffers_are_used_in_full_and_merge),
		MATRIX(length_above_writable_size_counts_as_full),
		MATRIX(enobufs_buffer_completed_with_0_gets_its_own_element),
		MATRIX(each_flush_writes_the_completed_prefix),
		MATRIX(full_queue_completed_backwards_is_one_element),
		MATRIX(batches_across_the_end_of_the_ring),
		MATRIX(merged_batch_notifies_for_an_event_inside_it),
		MATRIX_EVENT(merged_batch_does_not_notify_for_an_event_after_it),
		MATRIX(waiting_completion_is_still_in_flight_for_the_driver),
		MATRIX(queue_breaking_with_completions_pending_writes_nothing),
		MATRIX(completions_pushed_before_the_break_are_not_written),
		MATRIX(push_on_broken_queue_is_eio_and_not_written),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
