/* SPDX-License-Identifier: BSD-3-Clause */
/* The packed ring, driver side: a hostile device, VIRTIO_F_IN_ORDER batches (test_packed_drv.c has the table). */
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
/* A hostile device                                                    */
/* ================================================================== */

/* Two buffers in flight, published and taken by the device: ids in took[0], took[1]. */
void two_in_flight(struct fx *f)
{
	add_take(f, 1, 1, tok(1)); /* writable 17 */
	add_take(f, 0, 1, tok(2)); /* writable 16 */
}

void hostile_used_id_out_of_range_breaks_queue(void **state)
{
	struct fx *f = *state;
	void *toks[2] = { tok(1), tok(2) };

	two_in_flight(f);
	dev_use_n(f, (uint16_t)f->p.num, 0, 1);
	assert_broken(f, E_ID_OOR, toks, 2);
}

void hostile_used_id_0xffff_breaks_queue(void **state)
{
	struct fx *f = *state;
	void *toks[2] = { tok(1), tok(2) };

	two_in_flight(f);
	dev_use_n(f, 0xffff, 0, 1);
	assert_broken(f, E_ID_OOR, toks, 2);
}

void hostile_used_id_never_made_available_breaks_queue(void **state)
{
	struct fx *f = *state;
	void *toks[2] = { tok(1), tok(2) };
	uint16_t id;

	two_in_flight(f);
	for (id = 0; id == f->took_id[0] || id == f->took_id[1]; id++)
		;
	dev_use_n(f, id, 0, 1);
	assert_broken(f, E_ID_NOT_IN, toks, 2);
}

void hostile_used_id_added_but_not_published_breaks_queue(void **state)
{
	struct fx *f = *state;
	void *toks[3] = { tok(1), tok(2), tok(3) };

	two_in_flight(f);
	assert_int_equal(add_n(f, 1, 0, tok(3)), 0); /* not published */
	/* Its id is in the ring already (behind the unpublished first
	 * descriptor): a device peeking ahead must not get it accepted. */
	dev_use_n(f, le16_to_cpu(f->desc[f->dev_avail].id), 0, 1);
	assert_broken(f, E_ID_NOT_IN, toks, 3);
}

void hostile_used_id_used_twice_breaks_queue(void **state)
{
	struct fx *f = *state;
	void *toks[1] = { tok(2) };

	two_in_flight(f);
	dev_use_took(f, 0, 0);
	assert_used(f, tok(1), 0);
	dev_use_took(f, 0, 0); /* again */
	assert_broken(f, E_ID_NOT_IN, toks, 1);
}

void hostile_used_id_used_twice_after_reuse_is_not_confused(void **state)
{
	struct fx *f = *state; /* not IN_ORDER */
	void *toks[2] = { tok(2), tok(3) };

	two_in_flight(f);
	dev_use_took(f, 0, 0);
	assert_used(f, tok(1), 0);
	/* The id is free again and reused by a buffer not yet published:
	 * a second use of it is still a lie. */
	assert_int_equal(add_n(f, 1, 0, tok(3)), 0);
	assert_int_equal(le16_to_cpu(f->desc[f->dev_avail].id), f->took_id[0]);
	dev_use_took(f, 0, 0);
	assert_broken(f, E_ID_NOT_IN, toks, 2);
}

void hostile_used_len_above_writable_breaks_queue(void **state)
{
	struct fx *f = *state;
	void *toks[2] = { tok(1), tok(2) };

	two_in_flight(f);
	dev_use_took(f, 0, 18); /* writable 17 */
	assert_broken(f, E_LEN, toks, 2);
}

void hostile_used_len_on_readable_only_buffer_breaks_queue(void **state)
{
	struct fx *f = *state;
	void *toks[1] = { tok(1) };

	dev_use_took(f, add_take(f, 2, 0, tok(1)), 1);
	assert_broken(f, E_LEN, toks, 1);
}

void hostile_used_len_0xffffffff_breaks_queue(void **state)
{
	struct fx *f = *state;
	void *toks[2] = { tok(1), tok(2) };

	two_in_flight(f);
	dev_use_took(f, 0, 0xffffffffu);
	assert_broken(f, E_LEN, toks, 2);
}

void hostile_used_flags_with_old_wrap_counter_breaks_queue(void **state)
{
	struct fx *f = *state;
	void *toks[2] = { tok(1), tok(2) };

	two_in_flight(f);
	/* AVAIL = USED = 0 while the wrap counter is 1: "used" a lap ago. */
	dev_raw(f, f->took_id[0], 0, us(false), 1);
	assert_int_equal(vio_drvq_cb_enable(f->q), 1); /* something to look at */
	assert_broken(f, E_WRAP, toks, 2);
}

void hostile_used_flags_avail_not_equal_used_breaks_queue(void **state)
{
	struct fx *f = *state;
	void *toks[2] = { tok(1), tok(2) };

	two_in_flight(f);
	/* AVAIL 0, USED 1: available in the next lap; no device writes that. */
	dev_raw(f, f->took_id[0], 0, USED, 1);
	assert_broken(f, E_WRAP, toks, 2);
}

void hostile_wrap_counter_not_flipped_at_the_end_breaks_queue(void **state)
{
	struct fx *f = *state; /* P_PLAIN, 8: out of order allowed */
	void *toks[1] = { tok(9) };
	/* Round to position 7, then two one-descriptor buffers at 7 and 0. */
	add_take(f, 7, 0, tok(0));
	dev_use_took(f, 0, 0);
	assert_used(f, tok(0), 0);
	add_take(f, 1, 0, tok(8)); /* at 7 */
	add_take(f, 1, 0, tok(9)); /* at 0, wrap 0 */
	dev_use_took(f, 1, 0);     /* at 7 */
	assert_used(f, tok(8), 0);
	/* The device writes slot 0 with its wrap counter not flipped (1, 1). */
	dev_raw(f, f->took_id[2], 0, us(true), 1);
	assert_broken(f, E_WRAP, toks, 1);
}

void hostile_used_descriptor_with_nothing_published_breaks_queue(void **state)
{
	struct fx *f = *state;
	void *toks[1] = { tok(1) };

	assert_int_equal(add_n(f, 1, 0, tok(1)), 0); /* added, not published */
	dev_use_n(f, 0, 0, 1);
	assert_int_equal(vio_drvq_cb_enable(f->q), 1);
	assert_broken(f, E_NONE, toks, 1);
}

void hostile_used_descriptor_on_an_empty_queue_breaks_queue(void **state)
{
	struct fx *f = *state;

	dev_use_n(f, 0, 0, 1);
	assert_broken(f, E_NONE, NULL, 0);
}

void hostile_device_scribbling_everywhere_is_contained(void **state)
{
	struct fx *f = *state;
	void *toks[2] = { tok(1), tok(2) };

	/* Everything the device can reach, 0xff: flags 0xffff are AVAIL =
	 * USED = 1 with an id out of range. The guard pages and canaries
	 * check at teardown that nothing else was touched. */
	two_in_flight(f);
	memset(f->desc, 0xff, f->gdesc.size);
	memset(f->drv, 0xff, 4);
	memset(f->dev, 0xff, 4);
	if (f->ind)
		memset(f->ind, 0xff, f->gind.size);
	assert_broken(f, E_ID_OOR, toks, 2);
}

void hostile_stale_slots_of_a_previous_lap_are_not_used(void **state)
{
	struct fx *f = *state; /* P_PLAIN, 8 */
	uint32_t lap;

	/* Lists of 8, 3 and 5 round the ring several times; after each, the
	 * slots left by earlier laps (ours and the device's) must not look
	 * used to the driver. */
	for (lap = 0; lap < 6; lap++) {
		uint32_t a = add_take(f, 3, 0, tok(1));

		assert_no_used(f);
		dev_use_took(f, a, 0);
		assert_used(f, tok(1), 0);
		assert_no_used(f);
		a = add_take(f, 5, 0, tok(2));
		assert_no_used(f);
		dev_use_took(f, a, 0);
		assert_used(f, tok(2), 0);
		assert_no_used(f);
		f->took = 0;
	}
	assert_null(vio_drvq_error(f->q));
}

/* ================================================================== */
/* VIRTIO_F_IN_ORDER: batches                                          */
/* ================================================================== */

void in_order_batch_returns_skipped_buffers_in_full(void **state)
{
	struct fx *f = *state; /* IN_ORDER */
	uint32_t k, n = 0;

	add_take(f, 1, 1, tok(0)); /* writable 17 */
	add_take(f, 0, 2, tok(1)); /* writable 16 + 17 */
	add_take(f, 1, 0, tok(2)); /* writable 0 */
	add_take(f, 0, 1, tok(3)); /* writable 16 */
	for (k = 0; k < 3; k++)
		n += f->took_n[k];
	/* §2.8.8: one used descriptor for buffers 0-2, with the id of the
	 * last, over the first slot; the device skips all their slots. */
	dev_use_n(f, f->took_id[2], 0, n);
	assert_used(f, tok(0), 17);
	assert_int_equal(vio_drvq_cb_enable(f->q), 1); /* more of the batch */
	assert_used(f, tok(1), 33);
	assert_used(f, tok(2), 0);
	assert_no_used(f);
	assert_int_equal(vio_drvq_cb_enable(f->q), 0);
	/* The next used descriptor is where the batch ended. */
	dev_use_took(f, 3, 5);
	assert_used(f, tok(3), 5);
	assert_int_equal(vio_drvq_num_free(f->q), f->p.num);
	assert_null(vio_drvq_error(f->q));
}

void in_order_batch_last_len_is_the_devices(void **state)
{
	struct fx *f = *state;

	add_take(f, 0, 1, tok(0));
	add_take(f, 0, 2, tok(1));
	dev_use_n(f, f->took_id[1], 20, f->took_n[0] + f->took_n[1]);
	assert_used(f, tok(0), 16);
	assert_used(f, tok(1), 20);
}

void in_order_batch_of_the_whole_ring_across_the_wrap(void **state)
{
	struct fx *f = *state; /* IN_ORDER, 8 */
	uint32_t i, lap;

	for (lap = 0; lap < 5; lap++) {
		/* Shift the start by 3 each lap, then a batch of 8 buffers. */
		add_take(f, 0, 1, tok(100));
		add_take(f, 0, 1, tok(101));
		add_take(f, 0, 1, tok(102));
		dev_use_n(f, f->took_id[2], 16, 3);
		assert_used(f, tok(100), 16);
		assert_used(f, tok(101), 16);
		assert_used(f, tok(102), 16);
		f->took = 0;
		for (i = 0; i < f->p.num; i++)
			add_take(f, 0, 1, tok(i));
		dev_use_n(f, f->took_id[f->p.num - 1], 7, f->p.num);
		for (i = 0; i + 1 < f->p.num; i++)
			assert_used(f, tok(i), 16);
		assert_used(f, tok(f->p.num - 1), 7);
		assert_no_used(f);
		f->took = 0;
	}
	assert_null(vio_drvq_error(f->q));
}

void in_order_batch_naming_an_unpublished_id_breaks_queue(void **state)
{
	struct fx *f = *state;
	void *toks[3] = { tok(1), tok(2), tok(3) };

	two_in_flight(f);
	assert_int_equal(add_n(f, 1, 0, tok(3)), 0); /* not published */
	/* A batch ending at the unpublished buffer: past what was made available. */
	dev_use_n(f, le16_to_cpu(f->desc[f->dev_avail].id), 0, 3);
	assert_broken(f, E_ID_NOT_IN, toks, 3);
}

void in_order_batch_naming_a_free_id_breaks_queue(void **state)
{
	struct fx *f = *state;
	void *toks[2] = { tok(1), tok(2) };
	uint16_t id;

	two_in_flight(f);
	for (id = 0; id == f->took_id[0] || id == f->took_id[1]; id++)
		;
	dev_use_n(f, id, 0, 2);
	assert_broken(f, E_ID_NOT_IN, toks, 2);
}

void in_order_batch_last_len_above_writable_breaks_queue(void **state)
{
	struct fx *f = *state;
	void *toks[2] = { tok(1), tok(2) };

	two_in_flight(f);
	/* 17 fits the first buffer, not the last (16). */
	dev_use_n(f, f->took_id[1], 17, 2);
	assert_broken(f, E_LEN, toks, 2);
}

void in_order_used_descriptor_for_a_later_buffer_only(void **state)
{
	struct fx *f = *state;

	/* The device uses buffer 1 "alone": with IN_ORDER that is a batch of
	 * 0 and 1, so buffer 0 comes back in full. */
	two_in_flight(f);
	dev_use_n(f, f->took_id[1], 4, f->took_n[0] + f->took_n[1]);
	assert_used(f, tok(1), 17); /* in full */
	assert_used(f, tok(2), 4);
}
