/* SPDX-License-Identifier: BSD-3-Clause */
/* The split ring, driver side: add (test_split_drv.c has the table). */
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
/* add                                                                 */
/* ================================================================== */

void add_direct_chain_readable_then_writable(void **state)
{
	struct fx *f = *state;
	struct vio_sg sg[4] = {
		{ BUF, 10 }, { BUF + 100, 20 }, { BUF + 200, 30 }, { BUF + 300, 40 },
	};

	assert_int_equal(vio_drvq_add(f->q, sg, 2, 2, tok(1)), 0);
	assert_desc(&f->desc[0], BUF, 10, NEXT, 1);
	assert_desc(&f->desc[1], BUF + 100, 20, NEXT, 2);
	assert_desc(&f->desc[2], BUF + 200, 30, NEXT | WRITE, 3);
	assert_desc(&f->desc[3], BUF + 300, 40, WRITE, 0);
	assert_int_equal(avail_ring(f, 0), 0);
	assert_int_equal(vio_drvq_num_free(f->q), f->p.num - 4);
	assert_int_equal(vio_drvq_inflight(f->q), 1);
}

void add_is_published_only_by_kick_prepare(void **state)
{
	struct fx *f = *state;

	assert_int_equal(add_n(f, 1, 0, tok(1)), 0);
	assert_int_equal(add_n(f, 0, 1, tok(2)), 0);
	assert_int_equal(avail_idx(f), 0);
	assert_int_equal(avail_ring(f, 0), 0);
	assert_int_equal(avail_ring(f, 1), 1);
	assert_int_equal(vio_drvq_kick_prepare(f->q), 1);
	assert_int_equal(avail_idx(f), 2);
	/* Nothing new: no store, no notification. */
	assert_int_equal(vio_drvq_kick_prepare(f->q), 0);
	assert_int_equal(avail_idx(f), 2);
}

void add_single_segment_is_direct_even_with_indirect(void **state)
{
	struct fx *f = *state;
	struct vio_sg sg = { BUF, 512 };

	assert_int_equal(vio_drvq_add(f->q, &sg, 0, 1, tok(1)), 0);
	assert_desc(&f->desc[0], BUF, 512, WRITE, 0);
	assert_int_equal(vio_drvq_num_free(f->q), f->p.num - 1);
}

void add_uses_the_indirect_table_of_the_head(void **state)
{
	struct fx *f = *state;
	struct vio_sg sg[3] = { { BUF, 16 }, { BUF + 0x100, 1 }, { BUF + 0x200, 4096 } };
	struct virtq_desc *t;
	uint32_t max = f->p.ind_max;

	/* Take descriptor 0 with a direct buffer, so the next head is 1. */
	assert_int_equal(add_n(f, 1, 0, tok(0)), 0);
	assert_int_equal(vio_drvq_add(f->q, sg, 1, 2, tok(1)), 0);
	assert_desc(&f->desc[1], IND_ADDR + 16ull * max * 1, 48, INDIRECT, 0);
	t = f->ind + max * 1;
	assert_desc(&t[0], BUF, 16, NEXT, 1);
	assert_desc(&t[1], BUF + 0x100, 1, NEXT | WRITE, 2);
	assert_desc(&t[2], BUF + 0x200, 4096, WRITE, 0);
	assert_int_equal(avail_ring(f, 1), 1);
	assert_int_equal(vio_drvq_num_free(f->q), f->p.num - 2);
	/* Table 0 (descriptor 0 is direct) untouched. */
	assert_desc(&f->ind[0], 0, 0, 0, 0);
}

void add_indirect_table_filled_to_indirect_max(void **state)
{
	struct fx *f = *state;
	uint32_t k, max = f->p.ind_max < f->p.num ? f->p.ind_max : f->p.num;

	assert_int_equal(add_n(f, max / 2, max - max / 2, tok(1)), 0);
	assert_desc(&f->desc[0], IND_ADDR, 16 * max, INDIRECT, 0);
	for (k = 0; k < max; k++)
		assert_desc(&f->ind[k], BUF + 0x1000ull * k, 16 + k,
			    (k >= max / 2 ? WRITE : 0) | (k + 1 < max ? NEXT : 0),
			    k + 1 < max ? k + 1 : 0);
	assert_int_equal(vio_drvq_num_free(f->q), f->p.num - 1);
}

void add_more_segments_than_indirect_max_goes_direct(void **state)
{
	struct fx *f = *state;
	uint32_t n = f->p.ind_max + 1;

	assert_int_equal(add_n(f, n, 0, tok(1)), 0);
	assert_int_equal(le16_to_cpu(f->desc[0].flags), NEXT);
	assert_int_equal(vio_drvq_num_free(f->q), f->p.num - n);
	assert_desc(&f->ind[0], 0, 0, 0, 0);
}

void add_without_indirect_feature_goes_direct(void **state)
{
	struct fx *f = *state; /* P_PLAIN: tables configured, feature off */

	assert_int_equal(add_n(f, 1, 1, tok(1)), 0);
	assert_desc(&f->desc[0], BUF, 16, NEXT, 1);
	assert_desc(&f->desc[1], BUF + 0x1000, 17, WRITE, 0);
	assert_desc(&f->ind[0], 0, 0, 0, 0);
}

void add_without_indirect_tables_goes_direct(void **state)
{
	struct fx *f = *state;

	f->cfg.indirect = NULL;
	assert_int_equal(vio_drvq_init(f->q, &f->cfg), 0);
	assert_int_equal(add_n(f, 1, 1, tok(1)), 0);
	assert_desc(&f->desc[0], BUF, 16, NEXT, 1);
	f->cfg.indirect = f->ind;
	f->cfg.indirect_max = 0;
	assert_int_equal(vio_drvq_init(f->q, &f->cfg), 0);
	assert_int_equal(add_n(f, 1, 1, tok(1)), 0);
	assert_desc(&f->desc[0], BUF, 16, NEXT, 1);
	assert_desc(&f->ind[0], 0, 0, 0, 0);
}

void add_chain_of_queue_size_segments(void **state)
{
	struct fx *f = *state;
	uint32_t k, num = f->p.num;

	assert_int_equal(add_n(f, 1, num - 1, tok(1)), 0);
	if (num <= f->p.ind_max && num > 1 && (f->p.features & F_INDIRECT)) {
		assert_int_equal(vio_drvq_num_free(f->q), num - 1);
		return;
	}
	for (k = 0; k < num; k++)
		assert_desc(&f->desc[k], BUF + 0x1000ull * k, 16 + k,
			    (k ? WRITE : 0) | (k + 1 < num ? NEXT : 0), k + 1 < num ? k + 1 : 0);
	assert_int_equal(vio_drvq_num_free(f->q), 0);
}

/* Nothing of the queue or the rings changed. */
struct snap {
	uint8_t desc[16 * 16], avail[6 + 2 * 16], used[6 + 8 * 16];
	uint32_t num_free, inflight;
};

static void snap_take(struct fx *f, struct snap *s)
{
	assert_true(f->p.num <= 16);
	memcpy(s->desc, f->desc, f->gdesc.size);
	memcpy(s->avail, f->avail, f->gavail.size);
	memcpy(s->used, f->used, f->gused.size);
	s->num_free = vio_drvq_num_free(f->q);
	s->inflight = vio_drvq_inflight(f->q);
}

static void snap_same(struct fx *f, const struct snap *s)
{
	assert_memory_equal(s->desc, f->desc, f->gdesc.size);
	assert_memory_equal(s->avail, f->avail, f->gavail.size);
	assert_memory_equal(s->used, f->used, f->gused.size);
	assert_int_equal(s->num_free, vio_drvq_num_free(f->q));
	assert_int_equal(s->inflight, vio_drvq_inflight(f->q));
}

void add_rejects_bad_segments_with_einval(void **state)
{
	struct fx *f = *state;
	struct vio_sg sg[20];
	struct snap s;
	uint32_t k;

	for (k = 0; k < 20; k++) {
		sg[k].addr = BUF + 0x100 * k;
		sg[k].len = 1;
	}
	assert_int_equal(add_n(f, 1, 0, tok(9)), 0); /* something in flight already */
	snap_take(f, &s);
	assert_int_equal(vio_drvq_add(f->q, sg, 0, 0, tok(1)), -EINVAL);
	assert_int_equal(vio_drvq_add(f->q, NULL, 1, 0, tok(1)), -EINVAL);
	sg[2].len = 0;
	assert_int_equal(vio_drvq_add(f->q, sg, 1, 2, tok(1)), -EINVAL); /* last one */
	assert_int_equal(vio_drvq_add(f->q, sg, 3, 0, tok(1)), -EINVAL);
	sg[2].len = 1;
	/* More than the Queue Size: direct and (P_IND_16) through a table. */
	assert_int_equal(vio_drvq_add(f->q, sg, f->p.num, 1, tok(1)), -EINVAL);
	assert_int_equal(vio_drvq_add(f->q, sg, 0, f->p.num + 1, tok(1)), -EINVAL);
	/* nout + nin wraps 32 bits. */
	assert_int_equal(vio_drvq_add(f->q, sg, UINT32_MAX, 2, tok(1)), -EINVAL);
	/* Ends past 2^64. */
	sg[1].addr = UINT64_MAX;
	sg[1].len = 2;
	assert_int_equal(vio_drvq_add(f->q, sg, 1, 1, tok(1)), -EINVAL);
	sg[1].addr = UINT64_MAX; /* the last byte of the address space is fine */
	sg[1].len = 1;
	snap_same(f, &s);
	assert_int_equal(vio_drvq_add(f->q, sg, 1, 1, tok(1)), 0);
}

void add_rejects_chain_above_2_32_bytes(void **state)
{
	struct fx *f = *state;
	struct vio_sg sg[3] = { { BUF, 0x80000000u }, { BUF + 0x100000000ull, 0x80000000u },
				{ BUF + 0x200000000ull, 1 } };
	struct snap s;

	snap_take(f, &s);
	assert_int_equal(vio_drvq_add(f->q, sg, 1, 2, tok(1)), -EINVAL);
	sg[1].len = 0x80000001u;
	assert_int_equal(vio_drvq_add(f->q, sg, 0, 2, tok(1)), -EINVAL);
	snap_same(f, &s);
	/* Exactly 2^32 bytes is allowed (VIRTIO 1.4 §2.7.5.2). */
	sg[1].len = 0x80000000u;
	assert_int_equal(vio_drvq_add(f->q, sg, 0, 2, tok(1)), 0);
}

void add_enospc_when_descriptors_run_out(void **state)
{
	struct fx *f = *state;
	uint32_t i, num = f->p.num;
	uint16_t head;
	struct snap s;

	for (i = 0; i < num; i++)
		assert_int_equal(add_n(f, 1, 0, tok(i)), 0);
	assert_int_equal(vio_drvq_num_free(f->q), 0);
	snap_take(f, &s);
	assert_int_equal(add_n(f, 1, 0, tok(99)), -ENOSPC);
	assert_int_equal(add_n(f, 1, 1, tok(99)), -ENOSPC); /* also indirect: no head */
	snap_same(f, &s);
	vio_drvq_kick_prepare(f->q);
	head = dev_next_head(f);
	dev_use(f, head, 0);
	assert_used(f, tok(0), 0);
	assert_int_equal(vio_drvq_num_free(f->q), 1);
	assert_int_equal(add_n(f, 1, 0, tok(100)), 0);
	assert_int_equal(avail_ring(f, num), head);
}

void add_enospc_for_direct_chain_longer_than_free(void **state)
{
	struct fx *f = *state;
	struct snap s;

	assert_int_equal(add_n(f, 6, 0, tok(1)), 0); /* 8 - 6 = 2 left */
	snap_take(f, &s);
	assert_int_equal(add_n(f, 3, 0, tok(2)), -ENOSPC); /* P_PLAIN: no indirect */
	snap_same(f, &s);
	assert_int_equal(add_n(f, 2, 0, tok(2)), 0);
	assert_int_equal(vio_drvq_num_free(f->q), 0);
}

void add_indirect_fits_where_direct_would_not(void **state)
{
	struct fx *f = *state; /* P_IND: 8 descriptors, tables of 4 */

	assert_int_equal(add_n(f, 7, 0, tok(1)), 0); /* 7 > 4: direct; 1 left */
	assert_int_equal(add_n(f, 2, 2, tok(2)), 0); /* one descriptor, table */
	assert_int_equal(vio_drvq_num_free(f->q), 0);
	assert_int_equal(le16_to_cpu(f->desc[7].flags), INDIRECT);
}

void add_after_free_reuses_descriptors_without_reading_the_table(void **state)
{
	struct fx *f = *state; /* P_PLAIN */
	uint16_t a, b;

	a = add_publish(f, 3, 0, tok(1)); /* 0, 1, 2 */
	b = add_publish(f, 2, 0, tok(2)); /* 3, 4 */
	assert_int_equal(a, 0);
	assert_int_equal(b, 3);
	dev_use(f, a, 0);
	assert_used(f, tok(1), 0);
	/* A hostile device scribbles over the whole table: the driver's
	 * free list does not live there. */
	memset(f->desc, 0xff, f->gdesc.size);
	assert_int_equal(add_n(f, 1, 2, tok(3)), 0);
	assert_desc(&f->desc[0], BUF, 16, NEXT, 1);
	assert_desc(&f->desc[1], BUF + 0x1000, 17, NEXT | WRITE, 2);
	assert_desc(&f->desc[2], BUF + 0x2000, 18, WRITE, 0);
	/* Then 5, 6, 7 (never used yet). */
	assert_int_equal(add_n(f, 3, 0, tok(4)), 0);
	assert_desc(&f->desc[5], BUF, 16, NEXT, 6);
	assert_desc(&f->desc[7], BUF + 0x2000, 18, 0, 0);
	assert_int_equal(vio_drvq_num_free(f->q), 0);
	assert_int_equal(add_n(f, 1, 0, tok(5)), -ENOSPC);
}

void add_chain_follows_free_list_after_out_of_order_use(void **state)
{
	struct fx *f = *state; /* P_PLAIN, 8 descriptors */
	uint16_t h[4];
	int i;

	for (i = 0; i < 4; i++)
		h[i] = add_publish(f, 2, 0, tok(i)); /* 0-1, 2-3, 4-5, 6-7 */
	dev_use(f, h[2], 0);
	dev_use(f, h[0], 0);
	assert_used(f, tok(2), 0);
	assert_used(f, tok(0), 0);
	/* Free list: 0,1 then 4,5. A 4-descriptor chain takes them in that order. */
	assert_int_equal(add_n(f, 4, 0, tok(9)), 0);
	assert_desc(&f->desc[0], BUF, 16, NEXT, 1);
	assert_desc(&f->desc[1], BUF + 0x1000, 17, NEXT, 4);
	assert_desc(&f->desc[4], BUF + 0x2000, 18, NEXT, 5);
	assert_desc(&f->desc[5], BUF + 0x3000, 19, 0, 0);
	assert_int_equal(avail_ring(f, 4), 0);
	assert_int_equal(vio_drvq_num_free(f->q), 0);
}

void add_on_queue_of_size_1(void **state)
{
	struct fx *f = *state; /* P_NUM1 */
	struct vio_sg sg[2] = { { BUF, 1 }, { BUF + 1, 1 } };

	assert_int_equal(vio_drvq_add(f->q, sg, 1, 1, tok(1)), -EINVAL); /* 2 > num */
	assert_int_equal(vio_drvq_add(f->q, sg, 0, 1, tok(1)), 0);
	assert_int_equal(vio_drvq_add(f->q, sg, 0, 1, tok(2)), -ENOSPC);
	assert_int_equal(vio_drvq_kick_prepare(f->q), 1);
	dev_use(f, dev_next_head(f), 1);
	assert_used(f, tok(1), 1);
	assert_int_equal(vio_drvq_add(f->q, sg, 1, 0, tok(2)), 0);
	assert_int_equal(avail_ring(f, 1), 0);
}
