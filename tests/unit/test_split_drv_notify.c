/* SPDX-License-Identifier: BSD-3-Clause */
/* The split ring, driver side: notifications and 16-bit wrap-around (test_split_drv.c has the table). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_split_drv.h"

/* ================================================================== */
/* Notifications                                                       */
/* ================================================================== */

void kick_without_event_idx_follows_used_flags(void **state)
{
	struct fx *f = *state; /* no EVENT_IDX */

	set_avail_event(f, 0x1234); /* ignored (VIRTIO 1.4 §2.7.10.1) */
	assert_int_equal(add_n(f, 1, 0, tok(1)), 0);
	assert_int_equal(vio_drvq_kick_prepare(f->q), 1);
	set_used_flags(f, VIRTQ_USED_F_NO_NOTIFY);
	assert_int_equal(add_n(f, 1, 0, tok(2)), 0);
	assert_int_equal(vio_drvq_kick_prepare(f->q), 0);
	assert_int_equal(avail_idx(f), 2); /* published all the same */
	set_used_flags(f, 0);
	assert_int_equal(vio_drvq_kick_prepare(f->q), 0); /* nothing new */
	assert_int_equal(add_n(f, 1, 0, tok(3)), 0);
	assert_int_equal(vio_drvq_kick_prepare(f->q), 1);
	/* Other bits of flags are not NO_NOTIFY. */
	set_used_flags(f, 0xfffe);
	assert_int_equal(add_n(f, 1, 0, tok(4)), 0);
	assert_int_equal(vio_drvq_kick_prepare(f->q), 1);
}

/* Independent statement of VIRTIO 1.4 §2.7.10.1: notify when one of the
 * entries old .. new-1 just published is entry avail_event. */
static int entry_in(uint16_t ev, uint16_t old, uint16_t new_idx)
{
	uint16_t i;

	for (i = old; i != new_idx; i++)
		if (i == ev)
			return 1;
	return 0;
}

void kick_with_event_idx_follows_avail_event(void **state)
{
	struct fx *f = *state; /* EVENT_IDX */
	uint16_t published = 0, ev;
	int batch, i, d;

	set_used_flags(f, VIRTQ_USED_F_NO_NOTIFY); /* ignored with EVENT_IDX */
	for (batch = 1; batch <= 3; batch++) {
		/* avail_event from 2 before the batch to 2 after it */
		for (d = -2; d < batch + 2; d++) {
			ev = (uint16_t)(published + d);
			set_avail_event(f, ev);
			for (i = 0; i < batch; i++)
				assert_int_equal(add_n(f, 1, 0, tok(i)), 0);
			assert_int_equal(vio_drvq_kick_prepare(f->q),
					 entry_in(ev, published, (uint16_t)(published + batch)));
			for (i = 0; i < batch; i++) {
				dev_use(f, dev_next_head(f), 0);
				assert_used(f, tok(i), 0);
			}
			published = (uint16_t)(published + batch);
		}
	}
}

void kick_with_event_idx_first_publish_notifies(void **state)
{
	struct fx *f = *state;

	/* avail_event is 0 after init: entry 0 notifies. */
	assert_int_equal(add_n(f, 1, 0, tok(1)), 0);
	assert_int_equal(vio_drvq_kick_prepare(f->q), 1);
	assert_int_equal(add_n(f, 1, 0, tok(2)), 0);
	assert_int_equal(vio_drvq_kick_prepare(f->q), 0);
}

void cb_without_event_idx_uses_avail_flags(void **state)
{
	struct fx *f = *state;

	assert_int_equal(avail_flags(f), 0);
	vio_drvq_cb_disable(f->q);
	assert_int_equal(avail_flags(f), VIRTQ_AVAIL_F_NO_INTERRUPT);
	assert_int_equal(used_event(f), 0);
	assert_int_equal(vio_drvq_cb_enable(f->q), 0);
	assert_int_equal(avail_flags(f), 0);
	assert_int_equal(used_event(f), 0);
	dev_use(f, add_publish(f, 1, 0, tok(1)), 0);
	vio_drvq_cb_disable(f->q);
	assert_int_equal(vio_drvq_cb_enable(f->q), 1); /* one waiting */
	assert_int_equal(avail_flags(f), 0);
	assert_used(f, tok(1), 0);
	assert_int_equal(vio_drvq_cb_enable(f->q), 0);
}

void cb_with_event_idx_uses_used_event(void **state)
{
	struct fx *f = *state;
	int i;

	for (i = 0; i < 3; i++) {
		dev_use(f, add_publish(f, 1, 0, tok(i)), 0);
		assert_used(f, tok(i), 0);
	}
	/* last_used is 3 */
	vio_drvq_cb_disable(f->q);
	assert_int_equal(avail_flags(f), 0); /* VIRTIO 1.4 §2.7.7.1: flags 0 */
	assert_int_equal(used_event(f), 2); /* as far away as possible */
	assert_int_equal(vio_drvq_cb_enable(f->q), 0);
	assert_int_equal(avail_flags(f), 0);
	assert_int_equal(used_event(f), 3); /* interrupt at entry 3 */
	dev_use(f, add_publish(f, 1, 0, tok(9)), 0);
	assert_int_equal(vio_drvq_cb_enable(f->q), 1);
	assert_used(f, tok(9), 0);
	assert_int_equal(vio_drvq_cb_enable(f->q), 0);
	assert_int_equal(used_event(f), 4);
}

void get_used_does_not_rearm(void **state)
{
	struct fx *f = *state;
	uint8_t avail[6 + 2 * 16];

	vio_drvq_cb_disable(f->q);
	dev_use(f, add_publish(f, 1, 0, tok(1)), 0);
	memcpy(avail, f->avail, f->gavail.size);
	assert_used(f, tok(1), 0);
	assert_memory_equal(avail, f->avail, f->gavail.size);
}

/* ================================================================== */
/* 16-bit wrap-around                                                  */
/* ================================================================== */

/*
 * Runs 70000 buffers (more than 65536) through a queue of 4 in batches of
 * 1 to 4, out of order, with EVENT_IDX: the published avail idx, the
 * notification decisions (against a moving avail_event), used_event and
 * the tokens are checked at every step, across the 16-bit wrap.
 */
void indices_wrap_at_16_bits(void **state)
{
	struct fx *f = *state; /* P_NUM4_EVENT */
	uint32_t total = 0, seed = 1;
	uint16_t published = 0;

	while (total < 70000) {
		uint32_t batch = 1 + (seed >> 16) % 4, i;
		uint16_t ev, heads[4];

		seed = seed * 1103515245u + 12345u;
		ev = (uint16_t)(published + (seed >> 16) % 7 - 2);
		set_avail_event(f, ev);
		for (i = 0; i < batch; i++)
			assert_int_equal(add_n(f, 0, 1, tok(total + i)), 0);
		assert_int_equal(vio_drvq_kick_prepare(f->q),
				 entry_in(ev, published, (uint16_t)(published + batch)));
		published = (uint16_t)(published + batch);
		assert_int_equal(avail_idx(f), published);
		for (i = 0; i < batch; i++)
			heads[i] = dev_next_head(f);
		/* Complete in reverse order, one used_event check per batch. */
		for (i = batch; i-- > 0;)
			dev_put(f, heads[i], i);
		dev_publish(f);
		for (i = batch; i-- > 0;)
			assert_used(f, tok(total + i), i);
		assert_int_equal(vio_drvq_cb_enable(f->q), 0);
		assert_int_equal(used_event(f), published);
		total += batch;
	}
	assert_true(total > 65536);
	assert_int_equal(avail_idx(f), (uint16_t)total);
	assert_int_equal(le16_to_cpu(f->used->idx), (uint16_t)total);
	assert_null(vio_drvq_error(f->q));
	assert_int_equal(vio_drvq_num_free(f->q), 4);
}

void event_idx_kick_decision_across_the_wrap(void **state)
{
	struct fx *f = *state; /* P_NUM4_EVENT */
	uint32_t i;

	/* Move to avail idx 65534 quietly. */
	set_avail_event(f, 0x8000);
	for (i = 0; i < 65534; i++) {
		assert_int_equal(add_n(f, 1, 0, tok(1)), 0);
		vio_drvq_kick_prepare(f->q);
		dev_use(f, dev_next_head(f), 0);
		assert_used(f, tok(1), 0);
	}
	assert_int_equal(avail_idx(f), 65534);
	/* Publishing entries 65534, 65535, 0: avail_event 0 notifies. */
	set_avail_event(f, 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(add_n(f, 1, 0, tok(2)), 0);
	assert_int_equal(vio_drvq_kick_prepare(f->q), 1);
	assert_int_equal(avail_idx(f), 1);
	/* Entry 1 only: avail_event 0xffff (just passed) does not. */
	set_avail_event(f, 0xffff);
	assert_int_equal(add_n(f, 1, 0, tok(3)), 0);
	assert_int_equal(vio_drvq_kick_prepare(f->q), 0);
}
