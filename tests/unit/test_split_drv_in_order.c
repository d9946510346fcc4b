/* SPDX-License-Identifier: BSD-3-Clause */
/* The split ring, driver side: VIRTIO_F_IN_ORDER (test_split_drv.c has the table). */
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
/* VIRTIO_F_IN_ORDER                                                   */
/* ================================================================== */

/* Writes one used element for a batch of @n buffers ending with head @id (§2.7.9). */
static void dev_put_batch(struct fx *f, uint32_t id, uint32_t len, uint16_t n)
{
	struct virtq_used_elem *e = &f->used->ring[f->dev_used % f->p.num];

	e->id = cpu_to_le32(id);
	e->len = cpu_to_le32(len);
	f->dev_used = (uint16_t)(f->dev_used + n);
}

void in_order_descriptors_in_ring_order(void **state)
{
	struct fx *f = *state; /* P_IO: 8, no indirect */
	uint16_t a, b;

	a = add_publish(f, 3, 0, tok(1)); /* 0, 1, 2 */
	b = add_publish(f, 1, 1, tok(2)); /* 3, 4 */
	assert_int_equal(a, 0);
	assert_int_equal(b, 3);
	assert_desc(&f->desc[2], BUF + 0x2000, 18, 0, 0);
	dev_use(f, a, 0);
	assert_used(f, tok(1), 0);
	/* VIRTIO 1.4 §2.7.5: in ring order, wrapping; §2.7.5.2: next is
	 * x + 1, and 0 for x = queue_size - 1. Not the free list order
	 * (which would give 0, 1, 2 first). */
	assert_int_equal(add_n(f, 1, 4, tok(3)), 0);
	assert_desc(&f->desc[5], BUF, 16, NEXT, 6);
	assert_desc(&f->desc[6], BUF + 0x1000, 17, NEXT | WRITE, 7);
	assert_desc(&f->desc[7], BUF + 0x2000, 18, NEXT | WRITE, 0);
	assert_desc(&f->desc[0], BUF + 0x3000, 19, NEXT | WRITE, 1);
	assert_desc(&f->desc[1], BUF + 0x4000, 20, WRITE, 0);
	assert_int_equal(avail_ring(f, 2), 5);
	assert_int_equal(vio_drvq_num_free(f->q), 1);
	assert_int_equal(add_n(f, 2, 0, tok(4)), -ENOSPC);
	assert_int_equal(add_n(f, 1, 0, tok(4)), 0);
	assert_int_equal(avail_ring(f, 3), 2);
}

void in_order_indirect_takes_the_next_descriptor(void **state)
{
	struct fx *f = *state; /* P_IO_IND */
	uint32_t max = f->p.ind_max;

	assert_int_equal(add_n(f, 2, 0, tok(1)), 0); /* table of head 0 */
	assert_int_equal(add_n(f, 5, 0, tok(2)), 0); /* 5 > 4: direct, 1..5 */
	assert_int_equal(add_n(f, 1, 1, tok(3)), 0); /* table of head 6 */
	assert_desc(&f->desc[0], IND_ADDR, 32, INDIRECT, 0);
	assert_desc(&f->desc[5], BUF + 0x4000, 20, 0, 0);
	assert_desc(&f->desc[6], IND_ADDR + 16ull * max * 6, 32, INDIRECT, 0);
	/* §2.7.5.3.1: the table's entries sequential, next = 1, 2, ... */
	assert_desc(&f->ind[max * 6], BUF, 16, NEXT, 1);
	assert_desc(&f->ind[max * 6 + 1], BUF + 0x1000, 17, WRITE, 0);
	assert_int_equal(avail_ring(f, 2), 6);
}

void in_order_batch_returns_skipped_buffers_in_full(void **state)
{
	struct fx *f = *state; /* IN_ORDER */
	uint16_t h[4];

	h[0] = add_publish(f, 1, 2, tok(0)); /* writable 17 + 18 */
	h[1] = add_publish(f, 0, 1, tok(1)); /* 16 */
	h[2] = add_publish(f, 2, 0, tok(2)); /* 0 */
	h[3] = add_publish(f, 0, 2, tok(3)); /* 33 */
	/* §2.7.9: one element, the head of the last buffer of the batch,
	 * and the used index moved by the batch size. */
	dev_put_batch(f, h[2], 0, 3);
	dev_publish(f);
	assert_used(f, tok(0), 35);
	assert_int_equal(vio_drvq_cb_enable(f->q), 1); /* the rest of the batch */
	vio_drvq_cb_disable(f->q);
	assert_used(f, tok(1), 16);
	assert_used(f, tok(2), 0);
	assert_no_used(f);
	assert_int_equal(vio_drvq_cb_enable(f->q), 0);
	/* The next element is where the batch ended. */
	dev_put_batch(f, h[3], 7, 1);
	dev_publish(f);
	assert_used(f, tok(3), 7);
	assert_int_equal(vio_drvq_num_free(f->q), f->p.num);
	assert_null(vio_drvq_error(f->q));
}

void in_order_two_batches_published_at_once(void **state)
{
	struct fx *f = *state;
	uint16_t h[5];
	int i;

	for (i = 0; i < 5; i++)
		h[i] = add_publish(f, 0, 1, tok(i)); /* 16 each */
	dev_put_batch(f, h[1], 3, 2);
	dev_put_batch(f, h[4], 4, 3);
	dev_publish(f);
	assert_used(f, tok(0), 16);
	assert_used(f, tok(1), 3);
	assert_used(f, tok(2), 16);
	assert_used(f, tok(3), 16);
	assert_used(f, tok(4), 4);
	assert_no_used(f);
}

void in_order_batch_longer_than_used_idx_moved_breaks_queue(void **state)
{
	struct fx *f = *state;
	void *toks[3] = { tok(0), tok(1), tok(2) };
	uint16_t h[3];
	int i;

	for (i = 0; i < 3; i++)
		h[i] = add_publish(f, 0, 1, toks[i]);
	/* Names the third buffer, moves the index by 2. */
	dev_put_batch(f, h[2], 0, 2);
	dev_publish(f);
	assert_broken(f, E_BATCH, toks, 3);
}

void in_order_batch_naming_an_unpublished_head_breaks_queue(void **state)
{
	struct fx *f = *state;
	void *toks[3] = { tok(0), tok(1), tok(2) };

	add_publish(f, 0, 1, toks[0]);
	add_publish(f, 0, 1, toks[1]);
	assert_int_equal(add_n(f, 0, 1, toks[2]), 0); /* not published: head 2 */
	dev_put_batch(f, 2, 0, 2);
	dev_publish(f);
	assert_broken(f, E_ID_NOT_IN, toks, 3);
}

void in_order_batch_naming_a_free_head_breaks_queue(void **state)
{
	struct fx *f = *state;
	void *toks[2] = { tok(0), tok(1) };

	add_publish(f, 0, 1, toks[0]);
	add_publish(f, 0, 1, toks[1]);
	dev_put_batch(f, 5, 0, 2); /* never a head */
	dev_publish(f);
	assert_broken(f, E_ID_NOT_IN, toks, 2);
}

void in_order_batch_naming_a_chain_body_breaks_queue(void **state)
{
	struct fx *f = *state; /* P_IO: direct chains */
	void *toks[2] = { tok(0), tok(1) };
	uint16_t a;

	a = add_publish(f, 3, 0, toks[0]);
	add_publish(f, 0, 1, toks[1]);
	dev_put_batch(f, a + 1u, 0, 1); /* inside the first chain */
	dev_publish(f);
	assert_broken(f, E_ID_NOT_IN, toks, 2);
}

void in_order_batch_last_len_above_writable_breaks_queue(void **state)
{
	struct fx *f = *state;
	void *toks[2] = { tok(0), tok(1) };
	uint16_t h;

	add_publish(f, 0, 2, toks[0]);     /* 33: the length would fit here */
	h = add_publish(f, 0, 1, toks[1]); /* 16 */
	dev_put_batch(f, h, 17, 2);
	dev_publish(f);
	assert_broken(f, E_LEN, toks, 2);
}

void in_order_used_idx_past_available_breaks_queue(void **state)
{
	struct fx *f = *state;
	void *toks[2] = { tok(0), tok(1) };
	uint16_t h;

	add_publish(f, 0, 1, toks[0]);
	h = add_publish(f, 0, 1, toks[1]);
	dev_put_batch(f, h, 0, 3); /* a batch of 2 moving the index by 3 */
	dev_publish(f);
	assert_broken(f, E_USED_IDX, toks, 2);
}

void in_order_detach_in_the_middle_of_a_batch(void **state)
{
	struct fx *f = *state;
	uint16_t h;
	void *t;

	add_publish(f, 0, 1, tok(0));
	h = add_publish(f, 0, 1, tok(1));
	dev_put_batch(f, h, 0, 2);
	dev_publish(f);
	assert_used(f, tok(0), 16);
	assert_int_equal(vio_drvq_detach(f->q, &t), 1);
	assert_ptr_equal(t, tok(1));
	assert_int_equal(vio_drvq_detach(f->q, &t), 0);
	assert_int_equal(vio_drvq_get_used(f->q, &t, &(uint32_t){ 0 }), -EIO);
	assert_int_equal(vio_drvq_init(f->q, &f->cfg), 0);
	f->dev_used = f->dev_avail = 0;
	dev_use(f, add_publish(f, 0, 1, tok(2)), 1);
	assert_used(f, tok(2), 1);
}

/*
 * 70000 buffers through a queue of 4 with IN_ORDER and EVENT_IDX: random
 * chain shapes (direct and indirect), completed in batches of random size
 * with random lengths, across the 16-bit wrap of the indices; tokens,
 * lengths, descriptor positions and used_event checked throughout.
 */
void in_order_batches_across_the_16_bit_wrap(void **state)
{
	struct fx *f = *state; /* P_NUM4_IO_EVENT */
	uint32_t total = 0, seed = 5;
	uint16_t next_desc = 0;

	while (total < 70000) {
		uint32_t batch, i, n, wr[4], len[4];
		uint16_t heads[4];

		seed = seed * 1103515245u + 12345u;
		batch = 1 + (seed >> 16) % 4;
		for (i = 0; i < batch; i++) {
			uint32_t segs = 1 + (seed >> (4 + 3 * i)) % 2, nout = (seed >> (20 + i)) & 1, k;
			uint32_t before = vio_drvq_num_free(f->q);
			int r;

			if (nout >= segs)
				nout = segs - 1;
			r = add_n(f, nout, segs - nout, tok(total + i));
			if (r == -ENOSPC)
				break;
			assert_int_equal(r, 0);
			for (k = nout, wr[i] = 0; k < segs; k++)
				wr[i] += 16 + k;
			len[i] = (seed >> (8 + i)) % (wr[i] + 1);
			/* Ring order: this buffer's head is where the last one ended. */
			assert_int_equal(avail_ring(f, f->dev_avail + i), next_desc);
			next_desc = (uint16_t)((next_desc + before - vio_drvq_num_free(f->q)) & 3);
		}
		batch = i;
		vio_drvq_kick_prepare(f->q);
		for (i = 0; i < batch; i++)
			heads[i] = dev_next_head(f);
		for (i = 0; i < batch; i += n) {
			uint32_t k;

			n = 1 + (seed >> (24 + i)) % (batch - i);
			for (k = 0; k + 1 < n; k++)
				len[i + k] = wr[i + k];
			dev_put_batch(f, heads[i + n - 1], len[i + n - 1], (uint16_t)n);
		}
		dev_publish(f);
		for (i = 0; i < batch; i++)
			assert_used(f, tok(total + i), len[i]);
		assert_no_used(f);
		assert_int_equal(vio_drvq_cb_enable(f->q), 0);
		assert_int_equal(used_event(f), f->dev_used);
		total += batch;
	}
	assert_true(f->dev_used < 70000 % 65536 + 8);
	assert_null(vio_drvq_error(f->q));
	assert_int_equal(vio_drvq_num_free(f->q), 4);
}
