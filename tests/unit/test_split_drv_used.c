/* SPDX-License-Identifier: BSD-3-Clause */
/* The split ring, driver side: get_used, a hostile device, detach (test_split_drv.c has the table). */
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
/* get_used                                                            */
/* ================================================================== */

void get_used_returns_token_and_length(void **state)
{
	struct fx *f = *state;
	uint16_t a, b;

	assert_no_used(f);
	a = add_publish(f, 1, 2, tok(1)); /* writable 17 + 18 */
	b = add_publish(f, 0, 1, NULL);   /* writable 16; NULL token */
	assert_int_equal(vio_drvq_inflight(f->q), 2);
	dev_use(f, b, 16);
	dev_use(f, a, 35);
	assert_used(f, NULL, 16);
	assert_used(f, tok(1), 35);
	assert_no_used(f);
	assert_int_equal(vio_drvq_inflight(f->q), 0);
	assert_int_equal(vio_drvq_num_free(f->q), f->p.num);
	assert_null(vio_drvq_error(f->q));
}

void get_used_sees_nothing_before_used_idx_moves(void **state)
{
	struct fx *f = *state;
	uint16_t a = add_publish(f, 1, 0, tok(1));

	dev_put(f, a, 0);
	assert_no_used(f);
	dev_publish(f);
	assert_used(f, tok(1), 0);
}

void get_used_accepts_len_0_on_readable_buffer(void **state)
{
	struct fx *f = *state;

	dev_use(f, add_publish(f, 3, 0, tok(1)), 0);
	assert_used(f, tok(1), 0);
}

void get_used_accepts_len_equal_to_writable_part(void **state)
{
	struct fx *f = *state;

	dev_use(f, add_publish(f, 2, 2, tok(1)), 18 + 19);
	assert_used(f, tok(1), 37);
}

void get_used_accepts_writable_part_of_4gib_minus_1(void **state)
{
	struct fx *f = *state;
	struct vio_sg sg[2] = { { BUF, 0x80000000u }, { BUF + 0x100000000ull, 0x7fffffffu } };

	assert_int_equal(vio_drvq_add(f->q, sg, 0, 2, tok(1)), 0);
	vio_drvq_kick_prepare(f->q);
	dev_use(f, dev_next_head(f), UINT32_MAX);
	assert_used(f, tok(1), UINT32_MAX);
}

void get_used_accepts_used_idx_exactly_num_ahead(void **state)
{
	struct fx *f = *state;
	uint16_t h[8];
	uint32_t i;

	for (i = 0; i < f->p.num; i++)
		h[i] = add_publish(f, 1, 0, tok(i));
	for (i = 0; i < f->p.num; i++)
		dev_put(f, h[f->p.num - 1 - i], 0);
	dev_publish(f);
	for (i = 0; i < f->p.num; i++)
		assert_used(f, tok(f->p.num - 1 - i), 0);
	assert_no_used(f);
}

/* ================================================================== */
/* A hostile device                                                    */
/* ================================================================== */

/*
 * The queue is broken for @why: get_used keeps returning -EIO without
 * touching its outputs, add refuses, nothing more is published or
 * requested, and detach hands back each of the @n tokens @toks exactly once.
 */
void assert_broken(struct fx *f, const char *why, void *const *toks, uint32_t n)
{
	uint8_t avail[6 + 2 * 16];
	uint32_t i, j, inflight = vio_drvq_inflight(f->q);
	bool seen[16] = { false };
	void *t = (void *)0x1;
	uint32_t l = 0xfeedu;

	assert_true(f->p.num <= 16 && n <= 16);
	assert_int_equal(vio_drvq_get_used(f->q, &t, &l), -EIO);
	assert_ptr_equal(t, (void *)0x1);
	assert_int_equal(l, 0xfeedu);
	assert_non_null(vio_drvq_error(f->q));
	assert_string_equal(vio_drvq_error(f->q), why);
	for (i = 0; i < 3; i++)
		assert_int_equal(vio_drvq_get_used(f->q, &t, &l), -EIO);
	memcpy(avail, f->avail, f->gavail.size);
	assert_int_equal(add_n(f, 1, 0, tok(77)), -EIO);
	assert_int_equal(vio_drvq_kick_prepare(f->q), 0);
	assert_int_equal(vio_drvq_cb_enable(f->q), 0);
	vio_drvq_cb_disable(f->q);
	assert_memory_equal(avail, f->avail, f->gavail.size);
	assert_int_equal(vio_drvq_inflight(f->q), inflight);
	assert_int_equal(inflight, n);

	for (i = 0; i < n; i++) {
		assert_int_equal(vio_drvq_detach(f->q, &t), 1);
		for (j = 0; j < n; j++)
			if (toks[j] == t && !seen[j])
				break;
		assert_true(j < n); /* a token we gave, not seen before */
		seen[j] = true;
	}
	assert_int_equal(vio_drvq_detach(f->q, &t), 0);
	assert_int_equal(vio_drvq_inflight(f->q), 0);
	assert_int_equal(vio_drvq_num_free(f->q), f->p.num);
	/* Still the first reason. */
	assert_string_equal(vio_drvq_error(f->q), why);
	assert_int_equal(vio_drvq_get_used(f->q, &t, &l), -EIO);
}

/* Two buffers in flight: A (direct or indirect, 1 out + 2 in) and B (0 out + 1 in). */
static void two_in_flight(struct fx *f, uint16_t *a, uint16_t *b)
{
	*a = add_publish(f, 1, 2, tok(1));
	*b = add_publish(f, 0, 1, tok(2));
}

void hostile_used_id_out_of_range_breaks_queue(void **state)
{
	struct fx *f = *state;
	void *toks[2] = { tok(1), tok(2) };
	uint16_t a, b;

	two_in_flight(f, &a, &b);
	dev_use(f, f->p.num, 0);
	assert_broken(f, E_ID_OOR, toks, 2);
}

void hostile_used_id_0xffffffff_breaks_queue(void **state)
{
	struct fx *f = *state;
	void *toks[2] = { tok(1), tok(2) };
	uint16_t a, b;

	two_in_flight(f, &a, &b);
	dev_use(f, a, 1); /* a good one first */
	assert_used(f, tok(1), 1);
	dev_use(f, 0xffffffffu, 0);
	assert_broken(f, E_ID_OOR, toks + 1, 1);
}

void hostile_used_id_never_made_available_breaks_queue(void **state)
{
	struct fx *f = *state;
	void *toks[2] = { tok(1), tok(2) };
	uint16_t a, b;

	two_in_flight(f, &a, &b);
	dev_use(f, f->p.num - 1, 0); /* a free descriptor */
	assert_broken(f, E_ID_NOT_IN, toks, 2);
}

void hostile_used_id_of_a_chain_body_breaks_queue(void **state)
{
	struct fx *f = *state; /* P_PLAIN: direct, descriptors 0, 1, 2 */
	void *toks[1] = { tok(1) };
	uint16_t a = add_publish(f, 1, 2, tok(1));

	assert_int_equal(a, 0);
	dev_use(f, 1, 0);
	assert_broken(f, E_ID_NOT_IN, toks, 1);
}

void hostile_used_id_added_but_not_published_breaks_queue(void **state)
{
	struct fx *f = *state;
	void *toks[3] = { tok(1), tok(2), tok(3) };
	uint16_t a, b, c;

	two_in_flight(f, &a, &b);
	assert_int_equal(add_n(f, 1, 0, tok(3)), 0); /* not published */
	c = avail_ring(f, 2);
	/* Two used for two made available, but the second is the one the
	 * device cannot have seen (it guessed the head). */
	dev_put(f, a, 0);
	dev_put(f, c, 0);
	dev_publish(f);
	assert_used(f, tok(1), 0);
	assert_broken(f, E_ID_NOT_IN, toks + 1, 2);
}

void hostile_used_id_completed_twice_breaks_queue(void **state)
{
	struct fx *f = *state;
	void *toks[2] = { tok(1), tok(2) };
	uint16_t a, b;

	two_in_flight(f, &a, &b);
	dev_use(f, a, 0);
	dev_use(f, a, 0);
	assert_used(f, tok(1), 0);
	assert_broken(f, E_ID_NOT_IN, toks + 1, 1);
}

void hostile_used_id_completed_twice_after_reuse_is_not_confused(void **state)
{
	struct fx *f = *state;
	uint16_t a, a2;

	/* A head completed, then reused for another buffer: a second
	 * completion of the same head is legitimate for the new buffer
	 * and returns the new token. */
	a = add_publish(f, 1, 0, tok(1));
	dev_use(f, a, 0);
	assert_used(f, tok(1), 0);
	a2 = add_publish(f, 1, 0, tok(2));
	assert_int_equal(a2, a);
	dev_use(f, a2, 0);
	assert_used(f, tok(2), 0);
	assert_null(vio_drvq_error(f->q));
}

void hostile_used_len_above_writable_breaks_queue(void **state)
{
	struct fx *f = *state;
	void *toks[2] = { tok(1), tok(2) };
	uint16_t a, b;

	two_in_flight(f, &a, &b);
	dev_use(f, a, 17 + 18 + 1);
	assert_broken(f, E_LEN, toks, 2);
}

void hostile_used_len_on_readable_only_buffer_breaks_queue(void **state)
{
	struct fx *f = *state;
	void *toks[1] = { tok(1) };

	dev_use(f, add_publish(f, 2, 0, tok(1)), 1);
	assert_broken(f, E_LEN, toks, 1);
}

void hostile_used_len_0xffffffff_breaks_queue(void **state)
{
	struct fx *f = *state;
	void *toks[2] = { tok(1), tok(2) };
	uint16_t a, b;

	two_in_flight(f, &a, &b);
	dev_use(f, b, 0xffffffffu);
	assert_broken(f, E_LEN, toks, 2);
}

void hostile_used_idx_more_than_num_ahead_breaks_queue(void **state)
{
	struct fx *f = *state;
	void *toks[2] = { tok(1), tok(2) };
	uint16_t a, b;

	two_in_flight(f, &a, &b);
	dev_put(f, a, 0);
	f->dev_used = (uint16_t)(f->p.num + 1);
	dev_publish(f);
	assert_broken(f, E_USED_IDX, toks, 2);
}

void hostile_used_idx_ahead_of_buffers_made_available_breaks_queue(void **state)
{
	struct fx *f = *state;
	void *toks[3] = { tok(1), tok(2), tok(3) };
	uint16_t a, b;

	two_in_flight(f, &a, &b);
	assert_int_equal(add_n(f, 1, 0, tok(3)), 0); /* in flight, not published */
	dev_put(f, a, 0);
	dev_put(f, b, 0);
	dev_put(f, a, 0); /* 3 <= num, but only 2 were made available */
	dev_publish(f);
	assert_broken(f, E_USED_IDX, toks, 3);
}

void hostile_used_idx_going_back_breaks_queue(void **state)
{
	struct fx *f = *state;
	void *toks[2] = { tok(1), tok(2) };
	uint16_t a, b;

	two_in_flight(f, &a, &b);
	dev_use(f, a, 0);
	assert_used(f, tok(1), 0);
	f->dev_used = 0; /* 65535 ahead */
	dev_publish(f);
	assert_broken(f, E_USED_IDX, toks + 1, 1);
}

void hostile_used_idx_with_nothing_in_flight_breaks_queue(void **state)
{
	struct fx *f = *state;

	dev_use(f, 0, 0);
	assert_broken(f, E_USED_IDX, NULL, 0);
}

void hostile_device_writes_are_confined_to_the_rings(void **state)
{
	struct fx *f = *state;
	uint16_t a, b;

	/* A device scribbling over everything it can reach (the three ring
	 * areas and the tables) cannot make the driver touch anything
	 * else: the guard pages and canaries would say so at teardown. */
	two_in_flight(f, &a, &b);
	memset(f->desc, 0xff, f->gdesc.size);
	memset(f->used, 0xff, f->gused.size);
	memset((uint8_t *)f->avail, 0xff, f->gavail.size);
	if (f->ind)
		memset(f->ind, 0xff, f->gind.size);
	{
		void *toks[2] = { tok(1), tok(2) };

		/* used idx 0xffff: 65535 ahead */
		assert_broken(f, E_USED_IDX, toks, 2);
	}
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

	add_publish(f, 1, 2, toks[0]);
	add_publish(f, 0, 1, toks[1]);
	add_publish(f, 1, 0, toks[2]);
	dev_use(f, 0, 0); /* used but not taken: still in flight for the driver */
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
		assert_int_equal(vio_drvq_inflight(f->q), 4 - i);
	}
	t = (void *)0x1;
	assert_int_equal(vio_drvq_detach(f->q, &t), 0);
	assert_ptr_equal(t, (void *)0x1);
	assert_int_equal(vio_drvq_num_free(f->q), f->p.num);
	assert_non_null(vio_drvq_error(f->q));
	assert_string_equal(vio_drvq_error(f->q), E_DETACHED);
	assert_int_equal(add_n(f, 1, 0, tok(9)), -EIO);
	assert_int_equal(vio_drvq_get_used(f->q, &t, &(uint32_t){ 0 }), -EIO);
}

void detach_with_nothing_in_flight_leaves_queue_usable(void **state)
{
	struct fx *f = *state;
	void *t = (void *)0x1;

	assert_int_equal(vio_drvq_detach(f->q, &t), 0);
	assert_ptr_equal(t, (void *)0x1);
	assert_null(vio_drvq_error(f->q));
	dev_use(f, add_publish(f, 1, 0, tok(1)), 0);
	assert_used(f, tok(1), 0);
}

void detach_after_init_again_gives_a_working_queue(void **state)
{
	struct fx *f = *state;
	void *t;

	add_publish(f, 1, 0, tok(1));
	assert_int_equal(vio_drvq_detach(f->q, &t), 1);
	assert_int_equal(vio_drvq_init(f->q, &f->cfg), 0);
	f->dev_used = f->dev_avail = 0;
	assert_null(vio_drvq_error(f->q));
	dev_use(f, add_publish(f, 1, 0, tok(2)), 0);
	assert_used(f, tok(2), 0);
}
