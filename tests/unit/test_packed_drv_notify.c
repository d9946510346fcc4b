/* SPDX-License-Identifier: BSD-3-Clause */
/* The packed ring, driver side: notifications, detach, many laps (test_packed_drv.c has the table). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_packed_drv.h"

/* ================================================================== */
/* Notifications                                                       */
/* ================================================================== */

void kick_without_event_idx_follows_device_flags(void **state)
{
	struct fx *f = *state; /* no EVENT_IDX */

	assert_int_equal(add_n(f, 1, 0, tok(1)), 0);
	assert_int_equal(vio_drvq_kick_prepare(f->q), 1); /* ENABLE (0) */
	set_dev_event(f, 0, RING_EVENT_FLAGS_DISABLE);
	assert_int_equal(add_n(f, 1, 0, tok(2)), 0);
	assert_int_equal(vio_drvq_kick_prepare(f->q), 0);
	assert_int_equal(dflags(f, 1), av(true)); /* published all the same */
	/* DESC is for EVENT_IDX only (§2.8.10): without it, notify. */
	set_dev_event(f, 5, RING_EVENT_FLAGS_DESC);
	assert_int_equal(add_n(f, 1, 0, tok(3)), 0);
	assert_int_equal(vio_drvq_kick_prepare(f->q), 1);
	/* 3 is reserved: notify. Reserved bits above the two: ignored. */
	set_dev_event(f, 0, 3);
	assert_int_equal(add_n(f, 1, 0, tok(4)), 0);
	assert_int_equal(vio_drvq_kick_prepare(f->q), 1);
	set_dev_event(f, 0, 0xfffc | RING_EVENT_FLAGS_DISABLE);
	assert_int_equal(add_n(f, 1, 0, tok(5)), 0);
	assert_int_equal(vio_drvq_kick_prepare(f->q), 0);
	set_dev_event(f, 0, RING_EVENT_FLAGS_ENABLE);
	assert_int_equal(vio_drvq_kick_prepare(f->q), 0); /* nothing new */
}

/*
 * Independent statement of VIRTIO 1.4 §2.8.10 for kicks: notify when the
 * descriptor the device named (offset, wrap counter) is among those just
 * made available, which go from (@pos, @wrap) for @n descriptors.
 */
static int named_in(uint32_t num, uint16_t ev, uint16_t pos, bool wrap, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		if ((ev & 0x7fff) == pos && !!(ev & 0x8000) == wrap)
			return 1;
		if (++pos == num) {
			pos = 0;
			wrap = !wrap;
		}
	}
	return 0;
}

void kick_with_event_idx_follows_the_descriptor_event(void **state)
{
	struct fx *f = *state; /* EVENT_IDX; P_NUM3_EVENT or 8 */
	uint32_t num = f->p.num, round, i;
	uint16_t pos = 0;
	bool wrap = true;
	uint64_t seed = 7;

	for (round = 0; round < 200; round++) {
		uint32_t batch, descs = 0, off;
		bool w;
		uint16_t ev;

		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		batch = 1 + (uint32_t)(seed >> 33) % num;
		off = (uint32_t)(seed >> 20) % num;
		w = (seed >> 45) & 1;
		ev = (uint16_t)(off | (w ? 0x8000 : 0));
		set_dev_event(f, ev, RING_EVENT_FLAGS_DESC);
		for (i = 0; i < batch; i++) {
			uint32_t n = 1 + (uint32_t)(seed >> (10 + 3 * i)) % 2;

			uint32_t before = vio_drvq_num_free(f->q);

			if (n > before)
				n = 1;
			if (n > before)
				break;
			assert_int_equal(add_n(f, n, 0, tok(i)), 0);
			descs += before - vio_drvq_num_free(f->q);
		}
		batch = i;
		assert_int_equal(vio_drvq_kick_prepare(f->q), named_in(num, ev, pos, wrap, descs));
		for (i = 0; i < batch; i++)
			dev_take(f);
		for (i = 0; i < batch; i++)
			dev_use_took(f, i, 0);
		for (i = 0; i < batch; i++)
			assert_used(f, tok(i), 0);
		f->took = 0;
		for (i = 0; i < descs; i++)
			if (++pos == num) {
				pos = 0;
				wrap = !wrap;
			}
	}
	/* An offset past the ring: nonsense, notify. */
	set_dev_event(f, (uint16_t)num, RING_EVENT_FLAGS_DESC);
	assert_int_equal(add_n(f, 1, 0, tok(1)), 0);
	assert_int_equal(vio_drvq_kick_prepare(f->q), 1);
}

void kick_with_event_idx_first_publish(void **state)
{
	struct fx *f = *state;

	/* After init the device structure is zero: ENABLE. */
	assert_int_equal(add_n(f, 1, 0, tok(1)), 0);
	assert_int_equal(vio_drvq_kick_prepare(f->q), 1);
	/* Descriptor 0 of wrap 1 is behind us now; 1 of wrap 1 is next. */
	set_dev_event(f, 0x8000 | 0, RING_EVENT_FLAGS_DESC);
	assert_int_equal(add_n(f, 1, 0, tok(2)), 0);
	assert_int_equal(vio_drvq_kick_prepare(f->q), 0);
	set_dev_event(f, 0x8000 | 2, RING_EVENT_FLAGS_DESC);
	assert_int_equal(add_n(f, 1, 0, tok(3)), 0);
	assert_int_equal(vio_drvq_kick_prepare(f->q), 1);
	/* The same offset with the other wrap counter is a lap away. */
	set_dev_event(f, 3, RING_EVENT_FLAGS_DESC);
	assert_int_equal(add_n(f, 1, 0, tok(4)), 0);
	assert_int_equal(vio_drvq_kick_prepare(f->q), 0);
}

void cb_without_event_idx_enables_and_disables(void **state)
{
	struct fx *f = *state;

	assert_int_equal(drv_ev_flags(f), RING_EVENT_FLAGS_ENABLE);
	vio_drvq_cb_disable(f->q);
	assert_int_equal(drv_ev_flags(f), RING_EVENT_FLAGS_DISABLE);
	assert_int_equal(vio_drvq_cb_enable(f->q), 0);
	assert_int_equal(drv_ev_flags(f), RING_EVENT_FLAGS_ENABLE);
	dev_use_took(f, add_take(f, 1, 0, tok(1)), 0);
	vio_drvq_cb_disable(f->q);
	assert_int_equal(vio_drvq_cb_enable(f->q), 1); /* one waiting */
	assert_used(f, tok(1), 0);
	assert_int_equal(vio_drvq_cb_enable(f->q), 0);
}

void cb_with_event_idx_names_the_next_used_descriptor(void **state)
{
	struct fx *f = *state; /* EVENT_IDX, 8 */
	uint32_t i, n0;

	vio_drvq_cb_disable(f->q);
	assert_int_equal(drv_ev_flags(f), RING_EVENT_FLAGS_DISABLE);
	assert_int_equal(vio_drvq_cb_enable(f->q), 0);
	assert_int_equal(drv_ev_flags(f), RING_EVENT_FLAGS_DESC);
	assert_int_equal(drv_ev_desc(f), 0x8000 | 0);
	/* A list of 3, used: the next used descriptor is at 3. */
	dev_use_took(f, add_take(f, 3, 0, tok(1)), 0);
	assert_int_equal(vio_drvq_cb_enable(f->q), 1);
	assert_used(f, tok(1), 0);
	assert_int_equal(vio_drvq_cb_enable(f->q), 0);
	n0 = f->took_n[0];
	assert_int_equal(drv_ev_desc(f), 0x8000 | (n0 % f->p.num));
	/* Round the ring: the wrap bit follows the used wrap counter. */
	f->took = 0;
	for (i = 0; i < f->p.num; i++) {
		dev_use_took(f, add_take(f, 1, 0, tok(2)), 0);
		assert_used(f, tok(2), 0);
		f->took = 0;
	}
	assert_int_equal(vio_drvq_cb_enable(f->q), 0);
	assert_int_equal(drv_ev_desc(f), n0 % f->p.num); /* wrap 0 */
	vio_drvq_cb_disable(f->q);
	assert_int_equal(drv_ev_flags(f), RING_EVENT_FLAGS_DISABLE);
}

void get_used_does_not_rearm(void **state)
{
	struct fx *f = *state;
	uint32_t ev;

	vio_drvq_cb_disable(f->q);
	dev_use_took(f, add_take(f, 1, 0, tok(1)), 0);
	memcpy(&ev, f->drv, 4);
	assert_used(f, tok(1), 0);
	assert_memory_equal(&ev, f->drv, 4);
}

/* ================================================================== */
/* detach                                                              */
/* ================================================================== */

void detach_returns_every_token_once(void **state)
{
	struct fx *f = *state;
	void *toks[5] = { tok(1), NULL, tok(3), tok(4), tok(5) };
	bool seen[5] = { false };
	void *t;
	int i, j;

	add_take(f, 1, 2, toks[0]);
	add_take(f, 0, 1, toks[1]);
	add_take(f, 1, 0, toks[2]);
	dev_use_took(f, 0, 0); /* used but not taken: still in flight for the driver */
	assert_int_equal(add_n(f, 1, 1, toks[3]), 0); /* not published */
	assert_int_equal(add_n(f, 1, 0, toks[4]), 0);
	assert_int_equal(vio_drvq_inflight(f->q), 5);
	for (i = 0; i < 5; i++) {
		t = (void *)0x1;
		assert_int_equal(vio_drvq_detach(f->q, &t), 1);
		for (j = 0; j < 5; j++)
			if (toks[j] == t && !seen[j])
				break;
		assert_true(j < 5);
		seen[j] = true;
	}
	assert_int_equal(vio_drvq_detach(f->q, &t), 0);
	assert_int_equal(vio_drvq_num_free(f->q), f->p.num);
	assert_string_equal(vio_drvq_error(f->q), E_DETACHED);
	assert_int_equal(add_n(f, 1, 0, tok(9)), -EIO);
}

void detach_in_the_middle_of_a_batch(void **state)
{
	struct fx *f = *state; /* IN_ORDER */
	void *t;
	int n = 0;

	two_in_flight(f);
	dev_use_n(f, f->took_id[1], 0, f->took_n[0] + f->took_n[1]);
	assert_used(f, tok(1), 17);
	/* tok(2) is used (in the batch) but not taken: detach gives it back. */
	while (vio_drvq_detach(f->q, &t) == 1) {
		assert_ptr_equal(t, tok(2));
		n++;
	}
	assert_int_equal(n, 1);
	assert_int_equal(vio_drvq_get_used(f->q, &t, &(uint32_t){ 0 }), -EIO);
}

void detach_after_init_again_gives_a_working_queue(void **state)
{
	struct fx *f = *state;
	void *t;

	add_take(f, 1, 0, tok(1));
	assert_int_equal(vio_drvq_detach(f->q, &t), 1);
	assert_int_equal(vio_drvq_init(f->q, &f->cfg), 0);
	f->dev_avail = f->dev_used = 0;
	f->dev_avail_wrap = f->dev_used_wrap = true;
	f->took = 0;
	assert_null(vio_drvq_error(f->q));
	dev_use_took(f, add_take(f, 1, 0, tok(2)), 0);
	assert_used(f, tok(2), 0);
}

/* ================================================================== */
/* Many laps                                                           */
/* ================================================================== */

/*
 * 20000 buffers of 1 to 3 segments through a small ring: published in
 * random batches, used out of order (or, IN_ORDER, in random batches), the
 * wrap counters going round thousands of times; every token, every length,
 * and the flags of each descriptor the device takes are checked.
 */
void many_laps(void **state)
{
	struct fx *f = *state;
	uint64_t seed = 0x1234567;
	uint32_t total = 0, num = f->p.num;

	while (total < 20000) {
		uint32_t batch, i, order[64], wr[64], len[64], n;

		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		batch = 1 + (uint32_t)(seed >> 40) % num;
		if (batch > 64)
			batch = 64;
		f->took = 0;
		for (i = 0; i < batch; i++) {
			uint32_t segs = 1 + (uint32_t)(seed >> (8 + (2 * i) % 30)) % 3, nout, k;
			int r;

			if (segs > num)
				segs = num;
			nout = segs / 2;
			r = add_n(f, nout, segs - nout, tok(total + i));
			if (r == -ENOSPC)
				break;
			assert_int_equal(r, 0);
			for (k = nout, wr[i] = 0; k < segs; k++)
				wr[i] += 16 + k;
			len[i] = wr[i] ? (uint32_t)(seed >> (i % 40)) % (wr[i] + 1) : 0;
		}
		batch = i;
		if (!batch)
			continue;
		vio_drvq_kick_prepare(f->q);
		for (i = 0; i < batch; i++)
			dev_take(f);
		dev_nothing(f);
		if (in_order(f)) {
			/* Batches of random sizes: the skipped buffers come back
			 * with their writable size, the last with its length. */
			for (i = 0; i < batch; i += n) {
				uint32_t k, skip = 0;

				n = 1 + (uint32_t)(seed >> (5 + i % 50)) % (batch - i);
				for (k = 0; k < n; k++) {
					skip += f->took_n[i + k];
					if (k + 1 < n)
						len[i + k] = wr[i + k];
				}
				dev_use_n(f, f->took_id[i + n - 1], len[i + n - 1], skip);
			}
			for (i = 0; i < batch; i++)
				assert_used(f, tok(total + i), len[i]);
		} else {
			for (i = 0; i < batch; i++)
				order[i] = i;
			for (i = batch; i > 1; i--) {
				uint32_t j = (uint32_t)((seed >> 3) * (i + 7)) % i, x = order[i - 1];

				order[i - 1] = order[j];
				order[j] = x;
			}
			for (i = 0; i < batch; i++)
				dev_use_took(f, order[i], len[order[i]]);
			for (i = 0; i < batch; i++)
				assert_used(f, tok(total + order[i]), len[order[i]]);
		}
		assert_no_used(f);
		assert_int_equal(vio_drvq_cb_enable(f->q), 0);
		vio_drvq_cb_disable(f->q);
		assert_int_equal(vio_drvq_num_free(f->q), num);
		total += batch;
	}
	assert_null(vio_drvq_error(f->q));
}
