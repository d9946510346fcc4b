/* SPDX-License-Identifier: BSD-3-Clause */
/* The packed ring, driver side: add and publish, get_used (test_packed_drv.c has the table). */
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
/* add and publish                                                     */
/* ================================================================== */

void add_writes_list_in_ring_order_first_flags_last(void **state)
{
	struct fx *f = *state; /* P_PLAIN */
	struct vio_sg sg[4] = {
		{ BUF, 10 }, { BUF + 100, 20 }, { BUF + 200, 30 }, { BUF + 300, 40 },
	};

	assert_int_equal(vio_drvq_add(f->q, sg, 2, 2, tok(1)), 0);
	/* §2.8.6: the id in the list (the last one at least); §2.8.17: the
	 * first descriptor is not available yet, the rest are. */
	assert_pdesc(&f->desc[0], BUF, 10, 0, 0);
	assert_pdesc(&f->desc[1], BUF + 100, 20, 0, NEXT | AVAIL);
	assert_pdesc(&f->desc[2], BUF + 200, 30, 0, NEXT | WRITE | AVAIL);
	assert_pdesc(&f->desc[3], BUF + 300, 40, 0, WRITE | AVAIL);
	assert_int_equal(vio_drvq_num_free(f->q), 4);
	assert_int_equal(vio_drvq_inflight(f->q), 1);
	dev_nothing(f);
	assert_int_equal(vio_drvq_kick_prepare(f->q), 1);
	assert_int_equal(dflags(f, 0), NEXT | AVAIL);
	assert_int_equal(dev_take(f), 0);
	assert_int_equal(f->took_n[0], 4);
}

void add_is_published_only_by_kick_prepare(void **state)
{
	struct fx *f = *state;
	uint32_t i;

	for (i = 0; i < 3; i++)
		assert_int_equal(add_n(f, 1, 0, tok(i)), 0);
	dev_nothing(f);
	assert_int_equal(dflags(f, 0), 0);
	/* The later buffers are written, behind the first one. */
	assert_int_equal(dflags(f, 1), AVAIL);
	assert_int_equal(dflags(f, 2), AVAIL);
	vio_drvq_kick_prepare(f->q);
	for (i = 0; i < 3; i++)
		dev_take(f);
	dev_nothing(f);
	/* Nothing new: no store, no notification. */
	assert_int_equal(vio_drvq_kick_prepare(f->q), 0);
	dev_nothing(f);
}

void add_indirect_uses_the_table_of_the_id(void **state)
{
	struct fx *f = *state; /* P_IND */
	struct vio_sg sg[3] = { { BUF, 16 }, { BUF + 0x100, 1 }, { BUF + 0x200, 4096 } };
	uint32_t max = f->p.ind_max;
	struct pvirtq_desc *t;
	uint16_t id;

	assert_int_equal(add_n(f, 1, 0, tok(0)), 0); /* id 0, direct */
	assert_int_equal(vio_drvq_add(f->q, sg, 1, 2, tok(1)), 0);
	id = le16_to_cpu(f->desc[1].id);
	assert_true(id != 0 && id < f->p.num);
	/* §2.8.7: INDIRECT alone (no NEXT, WRITE reserved), len 16 * n. */
	assert_pdesc(&f->desc[1], IND_ADDR + 16ull * max * id, 48, id, INDIRECT | AVAIL);
	t = f->ind + max * id;
	assert_pdesc(&t[0], BUF, 16, 0, 0);
	assert_pdesc(&t[1], BUF + 0x100, 1, 0, WRITE);
	assert_pdesc(&t[2], BUF + 0x200, 4096, 0, WRITE);
	assert_int_equal(vio_drvq_num_free(f->q), f->p.num - 2);
	/* Published, a used descriptor for it skips one slot. */
	vio_drvq_kick_prepare(f->q);
	dev_take(f);
	assert_int_equal(dev_take(f), id);
	assert_int_equal(f->took_n[1], 1);
}

void add_single_segment_is_direct_even_with_indirect(void **state)
{
	struct fx *f = *state;
	struct vio_sg sg = { BUF, 512 };

	assert_int_equal(vio_drvq_add(f->q, &sg, 0, 1, tok(1)), 0);
	vio_drvq_kick_prepare(f->q);
	assert_pdesc(&f->desc[0], BUF, 512, le16_to_cpu(f->desc[0].id), WRITE | AVAIL);
}

void add_more_segments_than_indirect_max_goes_direct(void **state)
{
	struct fx *f = *state;

	assert_int_equal(add_n(f, f->p.ind_max + 1, 0, tok(1)), 0);
	assert_int_equal(vio_drvq_num_free(f->q), f->p.num - f->p.ind_max - 1);
	assert_int_equal(dflags(f, 1), NEXT | AVAIL);
}

void add_enospc_when_the_ring_is_full(void **state)
{
	struct fx *f = *state;
	uint32_t i, num = f->p.num;
	uint8_t ring[16 * 8];

	for (i = 0; i < num; i++)
		assert_int_equal(add_n(f, 1, 0, tok(i)), 0);
	assert_int_equal(vio_drvq_num_free(f->q), 0);
	memcpy(ring, f->desc, 16 * num);
	assert_int_equal(add_n(f, 1, 0, tok(99)), -ENOSPC);
	assert_int_equal(add_n(f, 1, 1, tok(99)), -ENOSPC); /* also indirect */
	assert_memory_equal(ring, f->desc, 16 * num);
	vio_drvq_kick_prepare(f->q);
	for (i = 0; i < num; i++)
		dev_take(f);
	dev_use_took(f, 0, 0);
	assert_used(f, tok(0), 0);
	assert_int_equal(vio_drvq_num_free(f->q), 1);
	/* The next descriptor goes to slot 0, with the flipped wrap counter. */
	assert_int_equal(add_n(f, 1, 0, tok(100)), 0);
	vio_drvq_kick_prepare(f->q);
	assert_int_equal(dflags(f, 0), av(false));
}

void add_enospc_for_list_longer_than_free(void **state)
{
	struct fx *f = *state; /* P_PLAIN */
	uint8_t ring[16 * 8];

	assert_int_equal(add_n(f, 6, 0, tok(1)), 0);
	memcpy(ring, f->desc, sizeof(ring));
	assert_int_equal(add_n(f, 3, 0, tok(2)), -ENOSPC);
	assert_memory_equal(ring, f->desc, sizeof(ring));
	assert_int_equal(add_n(f, 2, 0, tok(2)), 0);
	assert_int_equal(vio_drvq_num_free(f->q), 0);
}

void add_list_wraps_round_the_ring(void **state)
{
	struct fx *f = *state; /* P_PLAIN, 8 */
	uint32_t k;

	/* Move to position 6: a list of 6, used. */
	add_take(f, 6, 0, tok(1));
	dev_use_took(f, 0, 0);
	assert_used(f, tok(1), 0);
	/* A list of 4 takes 6, 7, then 0, 1 with the flipped wrap counter. */
	assert_int_equal(add_n(f, 2, 2, tok(2)), 0);
	vio_drvq_kick_prepare(f->q);
	assert_int_equal(dflags(f, 6), NEXT | av(true));
	assert_int_equal(dflags(f, 7), NEXT | av(true));
	assert_int_equal(dflags(f, 0), NEXT | WRITE | av(false));
	assert_int_equal(dflags(f, 1), WRITE | av(false));
	for (k = 0; k < 4; k++)
		assert_int_equal(le64_to_cpu(f->desc[(6 + k) % 8].addr), BUF + 0x1000ull * k);
	dev_take(f);
	dev_use_took(f, 1, 17 + 18);
	assert_used(f, tok(2), 35);
	assert_int_equal(vio_drvq_num_free(f->q), 8);
}

void add_ids_are_reused_from_the_free_list(void **state)
{
	struct fx *f = *state; /* P_PLAIN: out of order */
	uint32_t k;
	uint16_t ids[4];
	bool seen[8] = { false };

	for (k = 0; k < 4; k++)
		ids[k] = f->took_id[add_take(f, 1, 0, tok(k))];
	for (k = 0; k < 4; k++) {
		assert_true(ids[k] < f->p.num);
		assert_false(seen[ids[k]]); /* unique among those in flight */
		seen[ids[k]] = true;
	}
	dev_use_took(f, 2, 0);
	assert_used(f, tok(2), 0);
	/* The freed id comes back for the next buffer; never one in flight. */
	assert_int_equal(f->took_id[add_take(f, 1, 0, tok(9))], ids[2]);
}

void add_on_queue_of_size_1(void **state)
{
	struct fx *f = *state; /* P_NUM1 */
	struct vio_sg sg[2] = { { BUF, 1 }, { BUF + 1, 1 } };
	int i;

	assert_int_equal(vio_drvq_add(f->q, sg, 1, 1, tok(1)), -EINVAL); /* 2 > num */
	for (i = 0; i < 5; i++) {
		bool w = !(i & 1);

		assert_int_equal(vio_drvq_add(f->q, sg, 0, 1, tok(i)), 0);
		assert_int_equal(vio_drvq_add(f->q, sg, 0, 1, tok(9)), -ENOSPC);
		vio_drvq_kick_prepare(f->q);
		assert_int_equal(dflags(f, 0), WRITE | av(w));
		assert_int_equal(dev_take(f), 0);
		dev_use_n(f, 0, 1, 1);
		assert_int_equal(dflags(f, 0), WRITE | us(w));
		assert_used(f, tok(i), 1);
	}
}

/* ================================================================== */
/* get_used                                                            */
/* ================================================================== */

void get_used_skips_by_list_length_out_of_order(void **state)
{
	struct fx *f = *state; /* not IN_ORDER */
	uint32_t a, b, c;

	assert_no_used(f);
	a = add_take(f, 3, 0, tok(1));    /* 3 descriptors (or one table) */
	b = add_take(f, 0, 1, NULL);      /* 1 */
	c = add_take(f, 1, 1, tok(3));    /* 2 (or one table) */
	/* Used in the order c, a, b: each used descriptor goes where the
	 * device's used position is, which moves by the list's size. */
	dev_use_took(f, c, 17);
	dev_use_took(f, a, 0);
	dev_use_took(f, b, 16);
	assert_used(f, tok(3), 17);
	assert_used(f, tok(1), 0);
	assert_used(f, NULL, 16);
	assert_no_used(f);
	assert_int_equal(vio_drvq_inflight(f->q), 0);
	assert_int_equal(vio_drvq_num_free(f->q), f->p.num);
	assert_null(vio_drvq_error(f->q));
}

void get_used_sees_nothing_before_the_flags_change(void **state)
{
	struct fx *f = *state;
	struct pvirtq_desc *d;
	uint32_t a = add_take(f, 1, 1, tok(1));

	/* id and len written, flags not yet. */
	d = &f->desc[0];
	d->id = cpu_to_le16(f->took_id[a]);
	d->len = cpu_to_le32(3);
	assert_no_used(f);
	assert_int_equal(vio_drvq_cb_enable(f->q), 0);
	dev_use_took(f, a, 3);
	assert_int_equal(vio_drvq_cb_enable(f->q), 1);
	assert_used(f, tok(1), 3);
}

void get_used_len_without_write_flag_is_0(void **state)
{
	struct fx *f = *state;
	uint32_t a = add_take(f, 1, 1, tok(1));

	/* §2.8.4: len is reserved without WRITE, and ignored. */
	dev_raw(f, f->took_id[a], 0xffffffffu, us(true), f->took_n[a]);
	assert_used(f, tok(1), 0);
	assert_null(vio_drvq_error(f->q));
}

void get_used_accepts_len_equal_to_writable_part(void **state)
{
	struct fx *f = *state;

	dev_use_took(f, add_take(f, 2, 2, tok(1)), 18 + 19);
	assert_used(f, tok(1), 37);
}

void get_used_accepts_writable_part_of_4gib_minus_1(void **state)
{
	struct fx *f = *state;
	struct vio_sg sg[2] = { { BUF, 0x80000000u }, { BUF + 0x100000000ull, 0x7fffffffu } };

	assert_int_equal(vio_drvq_add(f->q, sg, 0, 2, tok(1)), 0);
	vio_drvq_kick_prepare(f->q);
	dev_take(f);
	dev_use_took(f, 0, UINT32_MAX);
	assert_used(f, tok(1), UINT32_MAX);
}

void get_used_a_full_ring_used_at_once(void **state)
{
	struct fx *f = *state;
	uint32_t i, num = f->p.num;

	for (i = 0; i < num; i++)
		add_take(f, 1, 0, tok(i));
	for (i = 0; i < num; i++)
		dev_use_took(f, in_order(f) ? i : num - 1 - i, 0);
	for (i = 0; i < num; i++)
		assert_used(f, tok(in_order(f) ? i : num - 1 - i), 0);
	assert_no_used(f);
	assert_int_equal(vio_drvq_num_free(f->q), num);
}
