/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The packed ring, device side: push and flush, wrap-around, used and available
 * buffer notifications (Driver and Device Event Suppression).
 */
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
/* push / flush                                                        */
/* ================================================================== */

void push_is_invisible_until_flush(void **state)
{
	struct fx *f = *state;

	add_one(f, f->buf, 16, 4, WRITE);
	assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_push(f->q, 4, 16), 0);
	assert_int_equal(mock_packed_flags(&f->vq, 0), AVAIL | WRITE);
	assert_nothing_used(f);
	assert_int_equal(vio_devq_flush(f->q), 1);
	assert_int_equal(mock_packed_flags(&f->vq, 0), AVAIL | USED | WRITE);
	reap(f, 4, 16, 1);
}

/* A batch of used descriptors: the first one's flags are what hides the rest. */
void flush_exposes_a_batch_by_its_first_descriptor(void **state)
{
	struct fx *f = *state;
	uint16_t i;

	for (i = 0; i < 4; i++)
		add_one(f, f->buf + 100u * i, 100, i, WRITE);
	for (i = 0; i < 4; i++)
		assert_int_equal(pop(f), 1);
	for (i = 0; i < 4; i++)
		assert_int_equal(vio_devq_push(f->q, i, 10u + i), 0);
	assert_int_equal(mock_packed_flags(&f->vq, 0), AVAIL | WRITE);
	assert_nothing_used(f);
	assert_int_equal(vio_devq_flush(f->q), 1);
	for (i = 0; i < 4; i++)
		assert_int_equal(mock_packed_flags(&f->vq, i), AVAIL | USED | WRITE);
	for (i = 0; i < 4; i++)
		assert_int_equal(reap(f, i, 10u + i, 1), i);
	assert_nothing_used(f);
}

/* Out of order (no IN_ORDER): used descriptors in completion order, each
 * skipping its own list (§2.8.6, §2.8.12). */
void flush_writes_used_in_completion_order_skipping_lists(void **state)
{
	struct fx *f = *state;
	int a, b, c;

	a = mock_vq_add(&f->vq, (struct mock_buf[]){ { f->buf, 8, false }, { f->buf, 8, false },
						    { f->buf + 8, 100, true } }, 3, MOCK_DIRECT);
	b = mock_vq_add(&f->vq, (struct mock_buf[]){ { f->buf + 200, 300, true } }, 1, MOCK_DIRECT);
	c = mock_vq_add(&f->vq, (struct mock_buf[]){ { f->buf, 8, false }, { f->buf + 600, 50, true } },
			2, MOCK_DIRECT);
	assert_int_equal(pop(f), 1);
	assert_int_equal(pop(f), 1);
	assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_push(f->q, (uint16_t)c, 33), 0);
	assert_int_equal(vio_devq_push(f->q, (uint16_t)a, 11), 0);
	assert_int_equal(vio_devq_push(f->q, (uint16_t)b, 22), 0);
	assert_int_equal(vio_devq_flush(f->q), 1);
	assert_int_equal(reap(f, (uint16_t)c, 33, 1), 0);
	assert_int_equal(reap(f, (uint16_t)a, 11, 1), 2);
	assert_int_equal(reap(f, (uint16_t)b, 22, 1), 5);
	assert_nothing_used(f);
	assert_int_equal(vio_devq_base(f->q), base_of(6, true, 6, true));
}

/* §2.8.1, §2.8.3: AVAIL = USED = the device's wrap counter; WRITE iff len > 0;
 * nothing else of the driver's flags (NEXT, INDIRECT) survives. Lists of
 * two (or one indirect descriptor) over several laps. */
void used_descriptor_flags_follow_wrap_and_length(void **state)
{
	struct fx *f = *state;
	uint32_t abs = 0;
	struct mock_used u;
	unsigned i;

	for (i = 0; i < 14; i++) {
		bool ind = f->indirect && (i % 3) == 0;
		uint32_t len = i & 1;
		int id = mock_vq_add(&f->vq, (struct mock_buf[]){ { f->buf, 4, false }, { f->buf + 4, 4, true } },
				     2, ind ? 0 : MOCK_DIRECT);

		assert_true(id >= 0);
		assert_int_equal(pop(f), 1);
		assert_int_equal(f->c.id, id);
		assert_int_equal(vio_devq_push(f->q, (uint16_t)id, len), 0);
		assert_int_equal(vio_devq_flush(f->q), 1);
		assert_int_equal(mock_vq_used(&f->vq, &u), 1);
		assert_int_equal(u.pos, abs % 7);
		assert_int_equal(u.flags, ((abs / 7) % 2 == 0 ? AVAIL | USED : 0) | (len ? WRITE : 0));
		abs += ind ? 1 : 2;
	}
	assert_true(abs > 14);
	assert_null(vio_devq_error(f->q));
}

/* The same, exactly: single-descriptor buffers, 3 laps of a ring of 7. */
void used_descriptor_flags_in_each_lap(void **state)
{
	struct fx *f = *state;
	unsigned i;

	for (i = 0; i < 21; i++) {
		bool wrap = (i / 7) % 2 == 0;
		uint32_t len = (i % 3) ? 5 : 0;

		add_one(f, f->buf, 8, 1, WRITE);
		assert_int_equal(pop(f), 1);
		assert_int_equal(vio_devq_push(f->q, 1, len), 0);
		assert_int_equal(vio_devq_flush(f->q), 1);
		assert_int_equal(mock_packed_flags(&f->vq, i % 7),
				 (wrap ? AVAIL | USED : 0) | (len ? WRITE : 0));
		assert_int_equal(reap(f, 1, len, 1), i % 7);
	}
}

void flush_with_nothing_pushed_returns_0(void **state)
{
	struct fx *f = *state;

	assert_int_equal(vio_devq_flush(f->q), 0);
	add_one(f, f->buf, 16, 0, WRITE);
	assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_flush(f->q), 0);
	assert_int_equal(vio_devq_push(f->q, 0, 1), 0);
	assert_int_equal(vio_devq_flush(f->q), 1);
	assert_int_equal(vio_devq_flush(f->q), 0);
}

void push_len_clamped_to_writable_size(void **state)
{
	struct fx *f = *state;

	mock_vq_add(&f->vq, (struct mock_buf[]){ { f->buf, 512, false }, { f->buf + 512, 10, true },
						{ MOCK_R1_GPA - 3, 6, true } }, 3, MOCK_DIRECT);
	assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_push(f->q, f->c.id, 1000), 0);
	vio_devq_flush(f->q);
	reap(f, f->c.id, 16, 1);
}

void push_len_on_readonly_buffer_is_0_without_write_flag(void **state)
{
	struct fx *f = *state;
	struct mock_used u;

	mock_vq_add(&f->vq, (struct mock_buf[]){ { f->buf, 512, false } }, 1, MOCK_DIRECT);
	assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_push(f->q, f->c.id, 5), 0);
	vio_devq_flush(f->q);
	assert_int_equal(mock_vq_used(&f->vq, &u), 1);
	assert_int_equal(u.len, 0);
	assert_int_equal(u.flags, AVAIL | USED);
}

void push_len_below_writable_size_is_kept(void **state)
{
	struct fx *f = *state;

	mock_vq_add(&f->vq, (struct mock_buf[]){ { f->buf, 512, true } }, 1, MOCK_DIRECT);
	assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_push(f->q, f->c.id, 511), 0);
	vio_devq_flush(f->q);
	reap(f, f->c.id, 511, 1);
}

void push_id_never_popped_is_einval(void **state)
{
	struct fx *f = *state;

	assert_int_equal(vio_devq_push(f->q, 0, 0), -EINVAL);
	add_one(f, f->buf, 1, 3, 0);
	assert_int_equal(vio_devq_push(f->q, 3, 0), -EINVAL); /* available, not popped */
	assert_int_equal(vio_devq_flush(f->q), 0);
	assert_nothing_used(f);
	assert_int_equal(vio_devq_inflight(f->q), 0);
	assert_null(vio_devq_error(f->q));
}

void push_id_out_of_range_is_einval(void **state)
{
	struct fx *f = *state;

	assert_int_equal(vio_devq_push(f->q, 7, 0), -EINVAL);
	assert_int_equal(vio_devq_push(f->q, 0xffff, 0), -EINVAL);
	assert_null(vio_devq_error(f->q));
}

void push_same_id_twice_is_einval(void **state)
{
	struct fx *f = *state;

	add_one(f, f->buf, 1, 2, WRITE);
	assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_push(f->q, 2, 1), 0);
	assert_int_equal(vio_devq_push(f->q, 2, 1), -EINVAL);
	assert_int_equal(vio_devq_flush(f->q), 1);
	reap(f, 2, 1, 1);
	assert_nothing_used(f);
}

void used_id_can_be_made_available_again(void **state)
{
	struct fx *f = *state;

	add_one(f, f->buf, 1, 2, WRITE);
	assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_push(f->q, 2, 1), 0);
	vio_devq_flush(f->q);
	add_one(f, f->buf, 1, 2, WRITE);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.id, 2);
	assert_null(vio_devq_error(f->q));
}

void inflight_counts_popped_not_pushed(void **state)
{
	struct fx *f = *state;

	add_one(f, f->buf, 1, 0, 0);
	add_one(f, f->buf, 1, 1, 0);
	add_one(f, f->buf, 1, 2, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_inflight(f->q), 2);
	assert_int_equal(vio_devq_push(f->q, 1, 0), 0);
	assert_int_equal(vio_devq_inflight(f->q), 1);
	assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_inflight(f->q), 2);
}

/* ================================================================== */
/* Wrap-around                                                         */
/* ================================================================== */

/*
 * Rounds of lists (1..3 descriptors, or indirect) through queues of size
 * 1, 3, 7, 100 and 32768, for several laps each: every used descriptor is
 * at the position and with the flags the absolute count of descriptors
 * says, and the base matches the driver's cursors after every round.
 * Completions go in pop order on even rounds, reversed on odd ones; single
 * read-only descriptors are used in full (len 0 of 0), the rest partly,
 * so with IN_ORDER runs of the former merge into the next element.
 */
void wrap_around_many_times(void **state)
{
	static const uint32_t sizes[] = { 1, 3, 7, 100, 32768 };
	struct fx *f = *state;
	uint64_t features = f->p.features;
	unsigned s;

	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		const uint32_t num = sizes[s];
		const uint64_t target = num < 100 ? 40ull * num + 11 : 3ull * num + 11;
		uint64_t abs_used = 0, abs_avail = 0, done = 0, round = 0, merged = 0;
		struct mock_vq vq;

		assert_int_equal(mock_vq_init(&vq, &f->m, MOCK_PACKED, num, features), 0);
		assert_int_equal(mock_vq_devq_init(&vq, NULL), 0);
		while (done < target) {
			uint16_t ids[8];
			uint32_t lens[8], ndesc[8];
			bool full[8];
			struct elem_x { uint16_t id; uint32_t len, nbufs, ndesc; } exp[8];
			unsigned k = 0, ne = 0, j;

			/* Add up to 8 buffers, as many as fit. */
			for (j = 0; j < 8; j++) {
				uint32_t n = 1 + (uint32_t)((round + j) % 3);
				int ind = f->indirect && ((round + j) % 4 == 1) ? 0 : MOCK_DIRECT;
				struct mock_buf b[3] = { { f->buf, 8, false }, { f->buf + 8, 8, true },
							 { f->buf + 16, 8, true } };
				int id;

				if (n > num)
					n = num;
				id = mock_vq_add(&vq, b, n, ind);
				if (id == -ENOSPC)
					break;
				assert_true(id >= 0);
				ids[k] = (uint16_t)id;
				ndesc[k] = ind == 0 ? 1 : n;
				/* in_bytes 8 * (n - 1): n == 1 is used in full with 0. */
				full[k] = n == 1;
				lens[k] = n == 1 ? 0 : 8 * (n - 1) - 1 - (uint32_t)(round % 2);
				k++;
			}
			assert_true(k > 0);
			for (j = 0; j < k; j++) {
				struct iovec iov[4];
				struct vio_chain c = { .iov = iov, .iov_cap = 4 };

				assert_int_equal(vio_devq_pop(vq.devq, &c), 1);
				assert_int_equal(c.id, ids[j]);
				assert_int_equal(c.ndesc, ndesc[j]);
				abs_avail += ndesc[j];
			}
			{
				struct iovec iov[1];
				struct vio_chain c = { .iov = iov, .iov_cap = 1 };

				assert_int_equal(vio_devq_pop(vq.devq, &c), 0);
			}
			for (j = 0; j < k; j++) {
				unsigned x = round % 2 ? k - 1 - j : j;

				assert_int_equal(vio_devq_push(vq.devq, ids[x], lens[x]), 0);
				if (!f->in_order)
					exp[ne++] = (struct elem_x){ ids[x], lens[x], 1, ndesc[x] };
			}
			if (f->in_order) {
				/* Pop order; full ones merge up to and including the
				 * next partial one (or the last one). */
				j = 0;
				while (j < k) {
					struct elem_x e = { 0, 0, 0, 0 };

					for (;;) {
						e.id = ids[j];
						e.len = lens[j];
						e.nbufs++;
						e.ndesc += ndesc[j];
						if (!full[j++] || j == k)
							break;
					}
					merged += e.nbufs > 1;
					exp[ne++] = e;
				}
			}
			assert_int_equal(vio_devq_flush(vq.devq), 1);
			for (j = 0; j < ne; j++) {
				struct mock_used u;
				bool wrap = (abs_used / num) % 2 == 0;

				assert_int_equal(mock_vq_used(&vq, &u), 1);
				assert_int_equal(u.pos, abs_used % num);
				assert_int_equal(u.id, exp[j].id);
				assert_int_equal(u.nbufs, exp[j].nbufs);
				assert_int_equal(u.ndesc, exp[j].ndesc);
				assert_int_equal(u.len, exp[j].len);
				assert_int_equal(u.flags, mock_packed_used_bits(wrap) | (exp[j].len ? WRITE : 0));
				abs_used += exp[j].ndesc;
				done += exp[j].nbufs;
			}
			{
				struct mock_used u;

				assert_int_equal(mock_vq_used(&vq, &u), 0);
			}
			assert_int_equal(abs_used, abs_avail);
			assert_int_equal(vio_devq_base(vq.devq), mock_packed_base(&vq));
			assert_int_equal(vio_devq_base(vq.devq),
					 base_of((uint32_t)(abs_avail % num), (abs_avail / num) % 2 == 0,
						 (uint32_t)(abs_used % num), (abs_used / num) % 2 == 0));
			round++;
		}
		assert_true(abs_used >= 2ull * num); /* at least two laps */
		if (f->in_order && num > 1)
			assert_true(merged > 0);
		assert_null(vio_devq_error(vq.devq));
		mock_vq_fini(&vq);
	}
}

/* ================================================================== */
/* Used buffer notifications: Driver Event Suppression (§2.8.10)       */
/* ================================================================== */

/* Pops and pushes @n single-descriptor buffers, then flushes. */
static int complete_n(struct fx *f, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		int id = mock_vq_add(&f->vq, (struct mock_buf[]){ { f->buf, 1, true } }, 1, MOCK_DIRECT);

		assert_true(id >= 0);
		assert_int_equal(pop(f), 1);
		/* A partial length: no IN_ORDER merging, one element each. */
		assert_int_equal(vio_devq_push(f->q, (uint16_t)id, 0), 0);
	}
	i = (unsigned)vio_devq_flush(f->q);
	while (mock_vq_used(&f->vq, &(struct mock_used){ 0 }) == 1)
		;
	return (int)i;
}

void flush_notifies_with_flags_enable(void **state)
{
	struct fx *f = *state;

	mock_packed_set_driver_event(&f->vq, RING_EVENT_FLAGS_ENABLE, mock_packed_event(5, false));
	assert_int_equal(complete_n(f, 1), 1);
	assert_int_equal(complete_n(f, 3), 1);
}

void flush_suppressed_with_flags_disable(void **state)
{
	struct fx *f = *state;

	mock_packed_set_driver_event(&f->vq, RING_EVENT_FLAGS_DISABLE, mock_packed_event(0, true));
	assert_int_equal(complete_n(f, 1), 0); /* 0 */
	assert_int_equal(complete_n(f, 5), 0); /* 1..5 */
	assert_int_equal(complete_n(f, 3), 0); /* 6, then 0, 1 across the wrap */
	assert_int_equal(f->vq.next_used, 2);  /* published all the same */
	assert_false(f->vq.used_wrap);
	mock_packed_set_driver_event(&f->vq, RING_EVENT_FLAGS_ENABLE, 0);
	assert_int_equal(complete_n(f, 1), 1);
}

/* §2.8.10: RING_EVENT_FLAGS_DESC is only valid with VIRTIO_F_EVENT_IDX;
 * without it the device may not rely on it and notifies. */
void flush_desc_flag_without_event_idx_notifies(void **state)
{
	struct fx *f = *state;

	mock_packed_set_driver_event(&f->vq, RING_EVENT_FLAGS_DESC, mock_packed_event(5, true));
	assert_int_equal(complete_n(f, 1), 1);
	assert_int_equal(complete_n(f, 1), 1);
}

/* The reserved value 3: notify rather than leave the driver waiting. */
void flush_reserved_flags_value_notifies(void **state)
{
	struct fx *f = *state;

	mock_packed_set_driver_event(&f->vq, 3, mock_packed_event(5, true));
	assert_int_equal(complete_n(f, 1), 1);
}

void flush_ignores_reserved_flag_bits(void **state)
{
	struct fx *f = *state;

	mock_packed_set_driver_event(&f->vq, 0xfffc | RING_EVENT_FLAGS_DISABLE, 0);
	assert_int_equal(complete_n(f, 1), 0);
	mock_packed_set_driver_event(&f->vq, 0xfffc | RING_EVENT_FLAGS_ENABLE, 0);
	assert_int_equal(complete_n(f, 1), 1);
}

/* The driver asks for an event when position 2 of the first lap is used. */
void flush_desc_event_fires_at_that_descriptor(void **state)
{
	struct fx *f = *state;

	mock_packed_set_driver_event(&f->vq, RING_EVENT_FLAGS_DESC, mock_packed_event(2, true));
	assert_int_equal(complete_n(f, 1), 0); /* 0 */
	assert_int_equal(complete_n(f, 1), 0); /* 1 */
	assert_int_equal(complete_n(f, 1), 1); /* 2 */
	assert_int_equal(complete_n(f, 1), 0); /* 3: passed */
}

void flush_desc_event_batch_crossing_it_notifies_once(void **state)
{
	struct fx *f = *state;

	mock_packed_set_driver_event(&f->vq, RING_EVENT_FLAGS_DESC, mock_packed_event(4, true));
	assert_int_equal(complete_n(f, 3), 0); /* 0..2 */
	assert_int_equal(complete_n(f, 3), 1); /* 3..5 */
	assert_int_equal(complete_n(f, 3), 0); /* 6, 0, 1 */
}

/* Position 2 with wrap counter 0 is in the second lap, not the first. */
void flush_desc_event_waits_for_its_wrap_counter(void **state)
{
	struct fx *f = *state;

	mock_packed_set_driver_event(&f->vq, RING_EVENT_FLAGS_DESC, mock_packed_event(2, false));
	assert_int_equal(complete_n(f, 3), 0); /* 0..2, wrap 1 */
	assert_int_equal(complete_n(f, 4), 0); /* 3..6 */
	assert_int_equal(complete_n(f, 2), 0); /* 0, 1 in wrap 0 */
	assert_int_equal(complete_n(f, 1), 1); /* 2 in wrap 0 */
}

/* Resumed at position 5 of wrap 1; the event at 0 of wrap 0, just past the end. */
void flush_desc_event_around_the_wrap_point(void **state)
{
	struct fx *f = *state;

	mock_packed_set_cursors(&f->vq, 5, true);
	assert_int_equal(mock_vq_devq_init(&f->vq, NULL), 0);
	f->q = f->vq.devq;
	mock_packed_set_driver_event(&f->vq, RING_EVENT_FLAGS_DESC, mock_packed_event(0, false));
	assert_int_equal(complete_n(f, 2), 0); /* 5, 6 */
	assert_int_equal(complete_n(f, 1), 1); /* 0, wrap 0 */
	/* A batch over the end: 6 (wrap 0) and 0, 1 (wrap 1); event at 0 of wrap 1. */
	mock_packed_set_driver_event(&f->vq, RING_EVENT_FLAGS_DESC, mock_packed_event(0, true));
	assert_int_equal(complete_n(f, 5), 0); /* 1..5 of wrap 0 */
	assert_int_equal(complete_n(f, 3), 1); /* 6, then 0, 1 of wrap 1 */
	assert_int_equal(complete_n(f, 7), 0); /* a whole lap later, 0 of wrap 1 is in the past */
}

/* An event the driver left behind is not hit again until the ring comes round. */
void flush_desc_event_behind_does_not_notify(void **state)
{
	struct fx *f = *state;

	assert_int_equal(complete_n(f, 4), 1); /* flags ENABLE */
	mock_packed_set_driver_event(&f->vq, RING_EVENT_FLAGS_DESC, mock_packed_event(1, true));
	assert_int_equal(complete_n(f, 2), 0); /* 4, 5 */
	assert_int_equal(complete_n(f, 1), 0); /* 6 */
	assert_int_equal(complete_n(f, 2), 0); /* 0, 1 of wrap 0 */
	assert_int_equal(complete_n(f, 6), 0); /* 2..6, 0 */
	assert_int_equal(complete_n(f, 1), 1); /* 1 of wrap 1 again */
}

/* A list's used descriptor stands for all its positions: an event on its
 * second position fires when the list is used. */
void flush_desc_event_on_a_skipped_position_of_a_list(void **state)
{
	struct fx *f = *state;

	mock_packed_set_driver_event(&f->vq, RING_EVENT_FLAGS_DESC, mock_packed_event(1, true));
	put(f, f->buf, 1, 0, NEXT);
	put(f, f->buf, 1, 0, NEXT | WRITE);
	put(f, f->buf, 1, 0, WRITE);
	mock_packed_publish(&f->vq);
	assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_push(f->q, 0, 1), 0);
	assert_int_equal(vio_devq_flush(f->q), 1);
}

/* An offset outside the ring can never be reached: notify, don't hang. */
void flush_desc_event_offset_out_of_range_notifies(void **state)
{
	struct fx *f = *state;

	mock_packed_set_driver_event(&f->vq, RING_EVENT_FLAGS_DESC, mock_packed_event(7, true));
	assert_int_equal(complete_n(f, 1), 1);
	mock_packed_set_driver_event(&f->vq, RING_EVENT_FLAGS_DESC, mock_packed_event(0x7fff, false));
	assert_int_equal(complete_n(f, 1), 1);
}

/* ================================================================== */
/* Available buffer notifications: Device Event Suppression            */
/* ================================================================== */

static void assert_device_event(struct fx *f, uint16_t flags, uint16_t desc)
{
	uint16_t fl, d;

	mock_packed_device_event(&f->vq, &fl, &d);
	assert_int_equal(fl, flags);
	assert_int_equal(d, desc);
}

void kick_disable_writes_flags_disable(void **state)
{
	struct fx *f = *state;

	vio_devq_kick_disable(f->q);
	assert_device_event(f, RING_EVENT_FLAGS_DISABLE, 0);
}

void kick_enable_writes_flags_enable_without_event_idx(void **state)
{
	struct fx *f = *state;

	vio_devq_kick_disable(f->q);
	assert_int_equal(vio_devq_kick_enable(f->q), 0);
	assert_device_event(f, RING_EVENT_FLAGS_ENABLE, 0);
}

/* With EVENT_IDX: a kick when the next descriptor to pop is made available. */
void kick_enable_names_next_descriptor_with_event_idx(void **state)
{
	struct fx *f = *state;
	unsigned i;

	vio_devq_kick_disable(f->q);
	assert_int_equal(vio_devq_kick_enable(f->q), 0);
	assert_device_event(f, RING_EVENT_FLAGS_DESC, mock_packed_event(0, true));
	for (i = 0; i < 3; i++) {
		put(f, f->buf, 1, (uint16_t)i, NEXT);
		put(f, f->buf, 1, (uint16_t)i, 0);
		mock_packed_publish(&f->vq);
		assert_int_equal(pop(f), 1);
		assert_int_equal(vio_devq_push(f->q, (uint16_t)i, 0), 0);
		vio_devq_flush(f->q);
		reap(f, (uint16_t)i, 0, 1);
	}
	vio_devq_kick_disable(f->q);
	assert_device_event(f, RING_EVENT_FLAGS_DISABLE, mock_packed_event(0, true));
	assert_int_equal(vio_devq_kick_enable(f->q), 0);
	assert_device_event(f, RING_EVENT_FLAGS_DESC, mock_packed_event(6, true));
	add_one(f, f->buf, 1, 0, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_kick_enable(f->q), 0);
	assert_device_event(f, RING_EVENT_FLAGS_DESC, mock_packed_event(0, false));
}

void kick_enable_returns_1_when_more_available(void **state)
{
	struct fx *f = *state;

	add_one(f, f->buf, 1, 0, 0);
	add_one(f, f->buf, 1, 1, 0);
	vio_devq_kick_disable(f->q);
	assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_kick_enable(f->q), 1);
	assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_kick_enable(f->q), 0);
}

void kick_enable_returns_1_after_the_wrap_point(void **state)
{
	struct fx *f = *state;

	mock_packed_set_cursors(&f->vq, 6, true);
	assert_int_equal(mock_vq_devq_init(&f->vq, NULL), 0);
	f->q = f->vq.devq;
	add_one(f, f->buf, 1, 0, 0); /* 6, wrap 1 */
	assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_kick_enable(f->q), 0); /* 0 still has wrap-1 used bits */
	add_one(f, f->buf, 1, 1, 0); /* 0, wrap 0 */
	assert_int_equal(vio_devq_kick_enable(f->q), 1);
}

void kick_enable_does_not_consume(void **state)
{
	struct fx *f = *state;

	add_one(f, f->buf, 1, 0, 0);
	assert_int_equal(vio_devq_kick_enable(f->q), 1);
	assert_int_equal(vio_devq_kick_enable(f->q), 1);
	assert_int_equal(vio_devq_base(f->q), FRESH_BASE);
	assert_int_equal(pop(f), 1);
}
