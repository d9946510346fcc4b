/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the driver side of the split virtqueue (src/ring/): what it
 * writes into the rings, when it says to notify, and how it stands up to a
 * hostile device that the tests play by writing the used ring directly.
 *
 * Every area the queue may touch (its state, the three ring areas, the
 * indirect tables) sits at the end of its own mapping, against a PROT_NONE
 * page, so a stray access past it faults; the slack before that page is
 * filled with a canary checked at teardown. Buffer addresses are never
 * mapped at all: the driver must not dereference them.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "vio/drvq.h"
#include "vio/virtio.h"
#include "vio/virtio_ring.h"

/* The reasons vio_drvq_error() gives (src/ring/). */
#define E_USED_IDX   "used index moved past the buffers made available"
#define E_ID_OOR     "used id out of range"
#define E_ID_NOT_IN  "used id not in flight"
#define E_LEN        "used length larger than the device-writable part"
#define E_DETACHED   "buffers detached"
#define E_BATCH      "used batch longer than the used index moved"

#define F_INDIRECT VIO_BIT(VIRTIO_F_INDIRECT_DESC)
#define F_EVENT    VIO_BIT(VIRTIO_F_EVENT_IDX)
#define F_IN_ORDER VIO_BIT(VIRTIO_F_IN_ORDER)
#define NEXT       VIRTQ_DESC_F_NEXT
#define WRITE      VIRTQ_DESC_F_WRITE
#define INDIRECT   VIRTQ_DESC_F_INDIRECT

/* The device's address of indirect table 0, and of buffers (never mapped). */
#define IND_ADDR 0x7000000000ull
#define BUF      0xdead00000000ull
#define CANARY   0xcd

/* ------------------------------------------------------------------ */
/* Guarded memory                                                      */
/* ------------------------------------------------------------------ */

struct guarded {
	void *map;
	size_t map_size;
	uint8_t *p;   /* the object: [p, p + size) */
	size_t size;
	size_t slack; /* canary bytes after the object, before the guard page */
};

static size_t page_size(void)
{
	long p = sysconf(_SC_PAGESIZE);

	return p > 0 ? (size_t)p : 4096;
}

/* @size bytes aligned to @align, ending (up to alignment slack) at a PROT_NONE page. */
static void *galloc(struct guarded *g, size_t size, size_t align)
{
	size_t pg = page_size(), body, rounded = (size + align - 1) / align * align;
	uint8_t *base;

	body = (rounded + pg - 1) / pg * pg;
	g->map_size = body + pg;
	g->map = mmap(NULL, g->map_size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	assert_true(g->map != MAP_FAILED);
	base = g->map;
	assert_int_equal(mprotect(base + body, pg, PROT_NONE), 0);
	g->p = base + body - rounded;
	g->size = size;
	g->slack = rounded - size;
	memset(g->p + size, CANARY, g->slack);
	return g->p;
}

static void gfree(struct guarded *g)
{
	size_t i;

	if (!g->map)
		return;
	for (i = 0; i < g->slack; i++)
		assert_int_equal(g->p[g->size + i], CANARY);
	munmap(g->map, g->map_size);
	memset(g, 0, sizeof(*g));
}

/* ------------------------------------------------------------------ */
/* Fixture                                                             */
/* ------------------------------------------------------------------ */

struct params {
	uint32_t num;
	uint64_t features;
	uint32_t ind_max; /* indirect tables configured when > 0 */
};

struct fx {
	struct params p;
	struct guarded gq, gdesc, gavail, gused, gind;
	struct vio_drvq *q;
	struct virtq_desc *desc;
	struct virtq_avail *avail;
	struct virtq_used *used;
	struct virtq_desc *ind;
	struct vio_drvq_config cfg;
	/* the fake device */
	uint16_t dev_used;  /* next used entry it writes */
	uint16_t dev_avail; /* next avail entry it reads */
};

static const struct params P_PLAIN = { 8, 0, 4 };
static const struct params P_IND = { 8, F_INDIRECT, 4 };
static const struct params P_EVENT = { 8, F_EVENT, 4 };
static const struct params P_IND_EVENT = { 8, F_INDIRECT | F_EVENT, 4 };
static const struct params P_IND_16 = { 16, F_INDIRECT, 32 }; /* tables longer than num */
static const struct params P_NUM1 = { 1, F_INDIRECT, 4 };
static const struct params P_NUM4_EVENT = { 4, F_EVENT, 0 };
static const struct params P_IO = { 8, F_IN_ORDER, 4 };
static const struct params P_IO_IND = { 8, F_IN_ORDER | F_INDIRECT, 4 };
static const struct params P_IO_EVENT = { 8, F_IN_ORDER | F_EVENT, 4 };
static const struct params P_IO_IND_EVENT = { 8, F_IN_ORDER | F_INDIRECT | F_EVENT, 4 };
static const struct params P_NUM4_IO_EVENT = { 4, F_IN_ORDER | F_EVENT | F_INDIRECT, 2 };

static void fx_config(struct fx *f)
{
	struct vio_drvq_config *c = &f->cfg;

	memset(c, 0, sizeof(*c));
	c->num = f->p.num;
	c->features = f->p.features | VIO_BIT(VIRTIO_F_VERSION_1);
	c->desc = f->desc;
	c->driver = f->avail;
	c->device = f->used;
	if (f->p.ind_max) {
		c->indirect = f->ind;
		c->indirect_addr = IND_ADDR;
		c->indirect_max = f->p.ind_max;
	}
}

static struct fx *fx_new(const struct params *p)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->p = *p;
	f->q = galloc(&f->gq, vio_drvq_size(p->num), 8);
	f->desc = galloc(&f->gdesc, virtq_desc_size(p->num), 16);
	f->avail = galloc(&f->gavail, virtq_avail_size(p->num), 2);
	f->used = galloc(&f->gused, virtq_used_size(p->num), 4);
	if (p->ind_max)
		f->ind = galloc(&f->gind, (size_t)p->num * p->ind_max * 16, 16);
	fx_config(f);
	return f;
}

static void fx_free(struct fx *f)
{
	gfree(&f->gq);
	gfree(&f->gdesc);
	gfree(&f->gavail);
	gfree(&f->gused);
	gfree(&f->gind);
	free(f);
}

static int setup(void **state)
{
	const struct params *p = *state ? *state : &P_IND;
	struct fx *f = fx_new(p);

	assert_int_equal(vio_drvq_init(f->q, &f->cfg), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx_free(*state);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Reading what the driver wrote; playing the device                   */
/* ------------------------------------------------------------------ */

static uint16_t avail_idx(struct fx *f) { return le16_to_cpu(f->avail->idx); }
static uint16_t avail_flags(struct fx *f) { return le16_to_cpu(f->avail->flags); }
static uint16_t avail_ring(struct fx *f, uint32_t i) { return le16_to_cpu(f->avail->ring[i % f->p.num]); }
static uint16_t used_event(struct fx *f) { return le16_to_cpu(*virtq_used_event(f->avail, f->p.num)); }

static void assert_desc(const struct virtq_desc *d, uint64_t addr, uint32_t len, uint16_t flags,
			uint16_t next)
{
	assert_int_equal(le64_to_cpu(d->addr), addr);
	assert_int_equal(le32_to_cpu(d->len), len);
	assert_int_equal(le16_to_cpu(d->flags), flags);
	assert_int_equal(le16_to_cpu(d->next), next);
}

static void set_used_flags(struct fx *f, uint16_t v) { f->used->flags = cpu_to_le16(v); }
static void set_avail_event(struct fx *f, uint16_t v) { *virtq_avail_event(f->used, f->p.num) = cpu_to_le16(v); }

/* Writes used element {id, len} at the device's next used entry, without publishing. */
static void dev_put(struct fx *f, uint32_t id, uint32_t len)
{
	struct virtq_used_elem *e = &f->used->ring[f->dev_used % f->p.num];

	e->id = cpu_to_le32(id);
	e->len = cpu_to_le32(len);
	f->dev_used++;
}

static void dev_publish(struct fx *f)
{
	__atomic_store_n(&f->used->idx.v, cpu_to_le16(f->dev_used).v, __ATOMIC_RELEASE);
}

/* Marks @id used with @len and publishes the used index. */
static void dev_use(struct fx *f, uint32_t id, uint32_t len)
{
	dev_put(f, id, len);
	dev_publish(f);
}

/* The next head the driver published, as the device would take it. */
static uint16_t dev_next_head(struct fx *f)
{
	assert_int_not_equal(avail_idx(f), f->dev_avail);
	return avail_ring(f, f->dev_avail++);
}

static void *tok(uintptr_t i) { return (void *)(0x1000 + 16 * i); }

/* Adds @n segments of 16 bytes each at BUF + 0x1000 * k, @nout readable. */
static int add_n(struct fx *f, uint32_t nout, uint32_t nin, void *token)
{
	struct vio_sg sg[64];
	uint32_t k;

	assert_true(nout + nin <= 64);
	for (k = 0; k < nout + nin; k++) {
		sg[k].addr = BUF + 0x1000ull * k;
		sg[k].len = 16 + k;
	}
	return vio_drvq_add(f->q, sg, nout, nin, token);
}

/* Adds a buffer (add_n), publishes it, and returns its head as the device sees it. */
static uint16_t add_publish(struct fx *f, uint32_t nout, uint32_t nin, void *token)
{
	assert_int_equal(add_n(f, nout, nin, token), 0);
	vio_drvq_kick_prepare(f->q);
	return dev_next_head(f);
}

static void assert_used(struct fx *f, void *token, uint32_t len)
{
	void *t = (void *)0x1;
	uint32_t l = 0xfeedu;

	assert_int_equal(vio_drvq_get_used(f->q, &t, &l), 1);
	assert_ptr_equal(t, token);
	assert_int_equal(l, len);
}

static void assert_no_used(struct fx *f)
{
	void *t = (void *)0x1;
	uint32_t l = 0xfeedu;

	assert_int_equal(vio_drvq_get_used(f->q, &t, &l), 0);
	assert_ptr_equal(t, (void *)0x1);
	assert_int_equal(l, 0xfeedu);
}

/* ================================================================== */
/* size, areas, init                                                   */
/* ================================================================== */

static void size_is_0_for_num_0_or_above_32768(void **state)
{
	(void)state;
	assert_int_equal(vio_drvq_size(0), 0);
	assert_int_equal(vio_drvq_size(32769), 0);
	assert_true(vio_drvq_size(1) > 0);
	assert_true(vio_drvq_size(32768) > vio_drvq_size(1));
}

static void area_sizes_and_alignment_follow_the_split_layout(void **state)
{
	(void)state;
	assert_int_equal(vio_drvq_area_size(256, 0, VIO_DRVQ_DESC), 4096);
	assert_int_equal(vio_drvq_area_size(256, 0, VIO_DRVQ_DRIVER), 6 + 512);
	assert_int_equal(vio_drvq_area_size(256, 0, VIO_DRVQ_DEVICE), 6 + 2048);
	assert_int_equal(vio_drvq_area_size(1, F_EVENT, VIO_DRVQ_DEVICE), 14);
	assert_int_equal(vio_drvq_area_size(32768, 0, VIO_DRVQ_DESC), 16 * 32768);
	assert_int_equal(vio_drvq_area_align(0, VIO_DRVQ_DESC), 16);
	assert_int_equal(vio_drvq_area_align(0, VIO_DRVQ_DRIVER), 2);
	assert_int_equal(vio_drvq_area_align(0, VIO_DRVQ_DEVICE), 4);
	/* Invalid split Queue Sizes. */
	assert_int_equal(vio_drvq_area_size(0, 0, VIO_DRVQ_DESC), 0);
	assert_int_equal(vio_drvq_area_size(6, 0, VIO_DRVQ_DRIVER), 0);
	assert_int_equal(vio_drvq_area_size(65536, 0, VIO_DRVQ_DEVICE), 0);
}

static void area_sizes_and_alignment_follow_the_packed_layout(void **state)
{
	const uint64_t P = VIO_BIT(VIRTIO_F_RING_PACKED);

	(void)state;
	assert_int_equal(vio_drvq_area_size(6, P, VIO_DRVQ_DESC), 96); /* any size */
	assert_int_equal(vio_drvq_area_size(6, P, VIO_DRVQ_DRIVER), 4);
	assert_int_equal(vio_drvq_area_size(6, P, VIO_DRVQ_DEVICE), 4);
	assert_int_equal(vio_drvq_area_size(32769, P, VIO_DRVQ_DESC), 0);
	assert_int_equal(vio_drvq_area_align(P, VIO_DRVQ_DESC), 16);
	assert_int_equal(vio_drvq_area_align(P, VIO_DRVQ_DRIVER), 4);
	assert_int_equal(vio_drvq_area_align(P, VIO_DRVQ_DEVICE), 4);
}

static int init_with(struct fx *f, void (*edit)(struct vio_drvq_config *))
{
	struct vio_drvq_config c = f->cfg;

	edit(&c);
	return vio_drvq_init(f->q, &c);
}

static void num_0(struct vio_drvq_config *c) { c->num = 0; }
static void num_6(struct vio_drvq_config *c) { c->num = 6; }
static void num_65536(struct vio_drvq_config *c) { c->num = 65536; }
static void desc_8(struct vio_drvq_config *c) { c->desc = (char *)c->desc - 8; }
static void avail_1(struct vio_drvq_config *c) { c->driver = (char *)c->driver - 1; }
static void used_2(struct vio_drvq_config *c) { c->device = (char *)c->device - 2; }
static void desc_null(struct vio_drvq_config *c) { c->desc = NULL; }
static void avail_null(struct vio_drvq_config *c) { c->driver = NULL; }
static void used_null(struct vio_drvq_config *c) { c->device = NULL; }
static void ind_8(struct vio_drvq_config *c) { c->indirect = (char *)c->indirect - 8; }
static void ind_addr_8(struct vio_drvq_config *c) { c->indirect_addr += 8; }
static void ind_addr_end(struct vio_drvq_config *c) { c->indirect_addr = UINT64_MAX - 15; }

static void init_rejects_num_0(void **s) { assert_int_equal(init_with(*s, num_0), -EINVAL); }
static void init_rejects_num_not_power_of_2(void **s) { assert_int_equal(init_with(*s, num_6), -EINVAL); }
static void init_rejects_num_above_32768(void **s) { assert_int_equal(init_with(*s, num_65536), -EINVAL); }
static void init_rejects_desc_not_16_aligned(void **s) { assert_int_equal(init_with(*s, desc_8), -EINVAL); }
static void init_rejects_avail_not_2_aligned(void **s) { assert_int_equal(init_with(*s, avail_1), -EINVAL); }
static void init_rejects_used_not_4_aligned(void **s) { assert_int_equal(init_with(*s, used_2), -EINVAL); }
static void init_rejects_null_desc(void **s) { assert_int_equal(init_with(*s, desc_null), -EINVAL); }
static void init_rejects_null_avail(void **s) { assert_int_equal(init_with(*s, avail_null), -EINVAL); }
static void init_rejects_null_used(void **s) { assert_int_equal(init_with(*s, used_null), -EINVAL); }
static void init_rejects_indirect_not_16_aligned(void **s) { assert_int_equal(init_with(*s, ind_8), -EINVAL); }
static void init_rejects_indirect_addr_not_16_aligned(void **s) { assert_int_equal(init_with(*s, ind_addr_8), -EINVAL); }
static void init_rejects_indirect_addr_end_overflow(void **s) { assert_int_equal(init_with(*s, ind_addr_end), -EINVAL); }

static void init_zeroes_ring_areas_and_starts_empty(void **state)
{
	struct fx *f = *state;
	size_t i;

	memset(f->desc, 0xff, f->gdesc.size);
	memset(f->avail, 0xff, f->gavail.size);
	memset(f->used, 0xff, f->gused.size);
	memset(f->q, 0xff, f->gq.size);
	assert_int_equal(vio_drvq_init(f->q, &f->cfg), 0);
	for (i = 0; i < f->gdesc.size; i++)
		assert_int_equal(((uint8_t *)f->desc)[i], 0);
	for (i = 0; i < f->gavail.size; i++)
		assert_int_equal(((uint8_t *)f->avail)[i], 0);
	for (i = 0; i < f->gused.size; i++)
		assert_int_equal(((uint8_t *)f->used)[i], 0);
	assert_int_equal(vio_drvq_num_free(f->q), f->p.num);
	assert_int_equal(vio_drvq_inflight(f->q), 0);
	assert_null(vio_drvq_error(f->q));
	assert_no_used(f);
}

static void init_accepts_queue_sizes_1_to_32768(void **state)
{
	uint32_t num;

	(void)state;
	for (num = 1; num <= 32768; num *= 2) {
		struct params p = { num, F_INDIRECT | F_EVENT, 2 };
		struct fx *f = fx_new(&p);

		assert_int_equal(vio_drvq_init(f->q, &f->cfg), 0);
		assert_int_equal(vio_drvq_num_free(f->q), num);
		fx_free(f);
	}
}

/* ================================================================== */
/* add                                                                 */
/* ================================================================== */

static void add_direct_chain_readable_then_writable(void **state)
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

static void add_is_published_only_by_kick_prepare(void **state)
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

static void add_single_segment_is_direct_even_with_indirect(void **state)
{
	struct fx *f = *state;
	struct vio_sg sg = { BUF, 512 };

	assert_int_equal(vio_drvq_add(f->q, &sg, 0, 1, tok(1)), 0);
	assert_desc(&f->desc[0], BUF, 512, WRITE, 0);
	assert_int_equal(vio_drvq_num_free(f->q), f->p.num - 1);
}

static void add_uses_the_indirect_table_of_the_head(void **state)
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

static void add_indirect_table_filled_to_indirect_max(void **state)
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

static void add_more_segments_than_indirect_max_goes_direct(void **state)
{
	struct fx *f = *state;
	uint32_t n = f->p.ind_max + 1;

	assert_int_equal(add_n(f, n, 0, tok(1)), 0);
	assert_int_equal(le16_to_cpu(f->desc[0].flags), NEXT);
	assert_int_equal(vio_drvq_num_free(f->q), f->p.num - n);
	assert_desc(&f->ind[0], 0, 0, 0, 0);
}

static void add_without_indirect_feature_goes_direct(void **state)
{
	struct fx *f = *state; /* P_PLAIN: tables configured, feature off */

	assert_int_equal(add_n(f, 1, 1, tok(1)), 0);
	assert_desc(&f->desc[0], BUF, 16, NEXT, 1);
	assert_desc(&f->desc[1], BUF + 0x1000, 17, WRITE, 0);
	assert_desc(&f->ind[0], 0, 0, 0, 0);
}

static void add_without_indirect_tables_goes_direct(void **state)
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

static void add_chain_of_queue_size_segments(void **state)
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

static void add_rejects_bad_segments_with_einval(void **state)
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

static void add_rejects_chain_above_2_32_bytes(void **state)
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

static void add_enospc_when_descriptors_run_out(void **state)
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

static void add_enospc_for_direct_chain_longer_than_free(void **state)
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

static void add_indirect_fits_where_direct_would_not(void **state)
{
	struct fx *f = *state; /* P_IND: 8 descriptors, tables of 4 */

	assert_int_equal(add_n(f, 7, 0, tok(1)), 0); /* 7 > 4: direct; 1 left */
	assert_int_equal(add_n(f, 2, 2, tok(2)), 0); /* one descriptor, table */
	assert_int_equal(vio_drvq_num_free(f->q), 0);
	assert_int_equal(le16_to_cpu(f->desc[7].flags), INDIRECT);
}

static void add_after_free_reuses_descriptors_without_reading_the_table(void **state)
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

static void add_chain_follows_free_list_after_out_of_order_use(void **state)
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

static void add_on_queue_of_size_1(void **state)
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

/* ================================================================== */
/* get_used                                                            */
/* ================================================================== */

static void get_used_returns_token_and_length(void **state)
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

static void get_used_sees_nothing_before_used_idx_moves(void **state)
{
	struct fx *f = *state;
	uint16_t a = add_publish(f, 1, 0, tok(1));

	dev_put(f, a, 0);
	assert_no_used(f);
	dev_publish(f);
	assert_used(f, tok(1), 0);
}

static void get_used_accepts_len_0_on_readable_buffer(void **state)
{
	struct fx *f = *state;

	dev_use(f, add_publish(f, 3, 0, tok(1)), 0);
	assert_used(f, tok(1), 0);
}

static void get_used_accepts_len_equal_to_writable_part(void **state)
{
	struct fx *f = *state;

	dev_use(f, add_publish(f, 2, 2, tok(1)), 18 + 19);
	assert_used(f, tok(1), 37);
}

static void get_used_accepts_writable_part_of_4gib_minus_1(void **state)
{
	struct fx *f = *state;
	struct vio_sg sg[2] = { { BUF, 0x80000000u }, { BUF + 0x100000000ull, 0x7fffffffu } };

	assert_int_equal(vio_drvq_add(f->q, sg, 0, 2, tok(1)), 0);
	vio_drvq_kick_prepare(f->q);
	dev_use(f, dev_next_head(f), UINT32_MAX);
	assert_used(f, tok(1), UINT32_MAX);
}

static void get_used_accepts_used_idx_exactly_num_ahead(void **state)
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
static void assert_broken(struct fx *f, const char *why, void *const *toks, uint32_t n)
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

static void hostile_used_id_out_of_range_breaks_queue(void **state)
{
	struct fx *f = *state;
	void *toks[2] = { tok(1), tok(2) };
	uint16_t a, b;

	two_in_flight(f, &a, &b);
	dev_use(f, f->p.num, 0);
	assert_broken(f, E_ID_OOR, toks, 2);
}

static void hostile_used_id_0xffffffff_breaks_queue(void **state)
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

static void hostile_used_id_never_made_available_breaks_queue(void **state)
{
	struct fx *f = *state;
	void *toks[2] = { tok(1), tok(2) };
	uint16_t a, b;

	two_in_flight(f, &a, &b);
	dev_use(f, f->p.num - 1, 0); /* a free descriptor */
	assert_broken(f, E_ID_NOT_IN, toks, 2);
}

static void hostile_used_id_of_a_chain_body_breaks_queue(void **state)
{
	struct fx *f = *state; /* P_PLAIN: direct, descriptors 0, 1, 2 */
	void *toks[1] = { tok(1) };
	uint16_t a = add_publish(f, 1, 2, tok(1));

	assert_int_equal(a, 0);
	dev_use(f, 1, 0);
	assert_broken(f, E_ID_NOT_IN, toks, 1);
}

static void hostile_used_id_added_but_not_published_breaks_queue(void **state)
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

static void hostile_used_id_completed_twice_breaks_queue(void **state)
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

static void hostile_used_id_completed_twice_after_reuse_is_not_confused(void **state)
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

static void hostile_used_len_above_writable_breaks_queue(void **state)
{
	struct fx *f = *state;
	void *toks[2] = { tok(1), tok(2) };
	uint16_t a, b;

	two_in_flight(f, &a, &b);
	dev_use(f, a, 17 + 18 + 1);
	assert_broken(f, E_LEN, toks, 2);
}

static void hostile_used_len_on_readable_only_buffer_breaks_queue(void **state)
{
	struct fx *f = *state;
	void *toks[1] = { tok(1) };

	dev_use(f, add_publish(f, 2, 0, tok(1)), 1);
	assert_broken(f, E_LEN, toks, 1);
}

static void hostile_used_len_0xffffffff_breaks_queue(void **state)
{
	struct fx *f = *state;
	void *toks[2] = { tok(1), tok(2) };
	uint16_t a, b;

	two_in_flight(f, &a, &b);
	dev_use(f, b, 0xffffffffu);
	assert_broken(f, E_LEN, toks, 2);
}

static void hostile_used_idx_more_than_num_ahead_breaks_queue(void **state)
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

static void hostile_used_idx_ahead_of_buffers_made_available_breaks_queue(void **state)
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

static void hostile_used_idx_going_back_breaks_queue(void **state)
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

static void hostile_used_idx_with_nothing_in_flight_breaks_queue(void **state)
{
	struct fx *f = *state;

	dev_use(f, 0, 0);
	assert_broken(f, E_USED_IDX, NULL, 0);
}

static void hostile_device_writes_are_confined_to_the_rings(void **state)
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

static void detach_returns_every_token_once(void **state)
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

static void detach_with_nothing_in_flight_leaves_queue_usable(void **state)
{
	struct fx *f = *state;
	void *t = (void *)0x1;

	assert_int_equal(vio_drvq_detach(f->q, &t), 0);
	assert_ptr_equal(t, (void *)0x1);
	assert_null(vio_drvq_error(f->q));
	dev_use(f, add_publish(f, 1, 0, tok(1)), 0);
	assert_used(f, tok(1), 0);
}

static void detach_after_init_again_gives_a_working_queue(void **state)
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

/* ================================================================== */
/* Notifications                                                       */
/* ================================================================== */

static void kick_without_event_idx_follows_used_flags(void **state)
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

static void kick_with_event_idx_follows_avail_event(void **state)
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

static void kick_with_event_idx_first_publish_notifies(void **state)
{
	struct fx *f = *state;

	/* avail_event is 0 after init: entry 0 notifies. */
	assert_int_equal(add_n(f, 1, 0, tok(1)), 0);
	assert_int_equal(vio_drvq_kick_prepare(f->q), 1);
	assert_int_equal(add_n(f, 1, 0, tok(2)), 0);
	assert_int_equal(vio_drvq_kick_prepare(f->q), 0);
}

static void cb_without_event_idx_uses_avail_flags(void **state)
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

static void cb_with_event_idx_uses_used_event(void **state)
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

static void get_used_does_not_rearm(void **state)
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
static void indices_wrap_at_16_bits(void **state)
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

static void event_idx_kick_decision_across_the_wrap(void **state)
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

static void in_order_descriptors_in_ring_order(void **state)
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

static void in_order_indirect_takes_the_next_descriptor(void **state)
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

static void in_order_batch_returns_skipped_buffers_in_full(void **state)
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

static void in_order_two_batches_published_at_once(void **state)
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

static void in_order_batch_longer_than_used_idx_moved_breaks_queue(void **state)
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

static void in_order_batch_naming_an_unpublished_head_breaks_queue(void **state)
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

static void in_order_batch_naming_a_free_head_breaks_queue(void **state)
{
	struct fx *f = *state;
	void *toks[2] = { tok(0), tok(1) };

	add_publish(f, 0, 1, toks[0]);
	add_publish(f, 0, 1, toks[1]);
	dev_put_batch(f, 5, 0, 2); /* never a head */
	dev_publish(f);
	assert_broken(f, E_ID_NOT_IN, toks, 2);
}

static void in_order_batch_naming_a_chain_body_breaks_queue(void **state)
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

static void in_order_batch_last_len_above_writable_breaks_queue(void **state)
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

static void in_order_used_idx_past_available_breaks_queue(void **state)
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

static void in_order_detach_in_the_middle_of_a_batch(void **state)
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
static void in_order_batches_across_the_16_bit_wrap(void **state)
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

#define T(f, p) { #f "/" #p, f, setup, teardown, (void *)&(p) }
#define MATRIX(f)                                                           \
	{ #f "/plain", f, setup, teardown, (void *)&P_PLAIN },              \
	{ #f "/indirect", f, setup, teardown, (void *)&P_IND },             \
	{ #f "/event_idx", f, setup, teardown, (void *)&P_EVENT },          \
	{ #f "/indirect+event_idx", f, setup, teardown, (void *)&P_IND_EVENT }
#define IO(f) T(f, P_IO), T(f, P_IO_IND), T(f, P_IO_EVENT), T(f, P_IO_IND_EVENT)
#define MATRIX_IO(f)                                                        \
	{ #f "/in_order", f, setup, teardown, (void *)&P_IO },              \
	{ #f "/in_order+indirect", f, setup, teardown, (void *)&P_IO_IND },  \
	{ #f "/in_order+event_idx", f, setup, teardown, (void *)&P_IO_EVENT }, \
	{ #f "/in_order+indirect+event_idx", f, setup, teardown, (void *)&P_IO_IND_EVENT }

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(size_is_0_for_num_0_or_above_32768),
		cmocka_unit_test(area_sizes_and_alignment_follow_the_split_layout),
		cmocka_unit_test(area_sizes_and_alignment_follow_the_packed_layout),
		T(init_rejects_num_0, P_IND),
		T(init_rejects_num_not_power_of_2, P_IND),
		T(init_rejects_num_above_32768, P_IND),
		T(init_rejects_desc_not_16_aligned, P_IND),
		T(init_rejects_avail_not_2_aligned, P_IND),
		T(init_rejects_used_not_4_aligned, P_IND),
		T(init_rejects_null_desc, P_IND),
		T(init_rejects_null_avail, P_IND),
		T(init_rejects_null_used, P_IND),
		T(init_rejects_indirect_not_16_aligned, P_IND),
		T(init_rejects_indirect_addr_not_16_aligned, P_IND),
		T(init_rejects_indirect_addr_end_overflow, P_IND),
		MATRIX(init_zeroes_ring_areas_and_starts_empty),
		cmocka_unit_test(init_accepts_queue_sizes_1_to_32768),

		T(add_direct_chain_readable_then_writable, P_PLAIN),
		MATRIX(add_is_published_only_by_kick_prepare),
		T(add_single_segment_is_direct_even_with_indirect, P_IND),
		T(add_uses_the_indirect_table_of_the_head, P_IND),
		T(add_uses_the_indirect_table_of_the_head, P_IND_EVENT),
		T(add_indirect_table_filled_to_indirect_max, P_IND),
		T(add_indirect_table_filled_to_indirect_max, P_IND_16),
		T(add_more_segments_than_indirect_max_goes_direct, P_IND),
		T(add_without_indirect_feature_goes_direct, P_PLAIN),
		T(add_without_indirect_tables_goes_direct, P_IND),
		MATRIX(add_chain_of_queue_size_segments),
		T(add_chain_of_queue_size_segments, P_IND_16),
		MATRIX(add_rejects_bad_segments_with_einval),
		T(add_rejects_bad_segments_with_einval, P_IND_16),
		MATRIX(add_rejects_chain_above_2_32_bytes),
		MATRIX(add_enospc_when_descriptors_run_out),
		T(add_enospc_for_direct_chain_longer_than_free, P_PLAIN),
		T(add_indirect_fits_where_direct_would_not, P_IND),
		T(add_after_free_reuses_descriptors_without_reading_the_table, P_PLAIN),
		T(add_chain_follows_free_list_after_out_of_order_use, P_PLAIN),
		T(add_on_queue_of_size_1, P_NUM1),

		MATRIX(get_used_returns_token_and_length),
		MATRIX(get_used_sees_nothing_before_used_idx_moves),
		MATRIX(get_used_accepts_len_0_on_readable_buffer),
		MATRIX(get_used_accepts_len_equal_to_writable_part),
		MATRIX(get_used_accepts_writable_part_of_4gib_minus_1),
		MATRIX(get_used_accepts_used_idx_exactly_num_ahead),

		MATRIX(hostile_used_id_out_of_range_breaks_queue),
		MATRIX(hostile_used_id_0xffffffff_breaks_queue),
		MATRIX(hostile_used_id_never_made_available_breaks_queue),
		T(hostile_used_id_of_a_chain_body_breaks_queue, P_PLAIN),
		MATRIX(hostile_used_id_added_but_not_published_breaks_queue),
		MATRIX(hostile_used_id_completed_twice_breaks_queue),
		MATRIX(hostile_used_id_completed_twice_after_reuse_is_not_confused),
		MATRIX(hostile_used_len_above_writable_breaks_queue),
		MATRIX(hostile_used_len_on_readable_only_buffer_breaks_queue),
		MATRIX(hostile_used_len_0xffffffff_breaks_queue),
		MATRIX(hostile_used_idx_more_than_num_ahead_breaks_queue),
		MATRIX(hostile_used_idx_ahead_of_buffers_made_available_breaks_queue),
		MATRIX(hostile_used_idx_going_back_breaks_queue),
		MATRIX(hostile_used_idx_with_nothing_in_flight_breaks_queue),
		MATRIX(hostile_device_writes_are_confined_to_the_rings),

		MATRIX(detach_returns_every_token_once),
		MATRIX(detach_with_nothing_in_flight_leaves_queue_usable),
		MATRIX(detach_after_init_again_gives_a_working_queue),

		T(kick_without_event_idx_follows_used_flags, P_PLAIN),
		T(kick_without_event_idx_follows_used_flags, P_IND),
		T(kick_with_event_idx_follows_avail_event, P_EVENT),
		T(kick_with_event_idx_follows_avail_event, P_IND_EVENT),
		T(kick_with_event_idx_first_publish_notifies, P_EVENT),
		T(cb_without_event_idx_uses_avail_flags, P_PLAIN),
		T(cb_without_event_idx_uses_avail_flags, P_IND),
		T(cb_with_event_idx_uses_used_event, P_EVENT),
		T(cb_with_event_idx_uses_used_event, P_IND_EVENT),
		MATRIX(get_used_does_not_rearm),

		T(indices_wrap_at_16_bits, P_NUM4_EVENT),

		T(in_order_descriptors_in_ring_order, P_IO),
		T(in_order_descriptors_in_ring_order, P_IO_EVENT),
		T(in_order_indirect_takes_the_next_descriptor, P_IO_IND),
		IO(in_order_batch_returns_skipped_buffers_in_full),
		IO(in_order_two_batches_published_at_once),
		IO(in_order_batch_longer_than_used_idx_moved_breaks_queue),
		IO(in_order_batch_naming_an_unpublished_head_breaks_queue),
		IO(in_order_batch_naming_a_free_head_breaks_queue),
		T(in_order_batch_naming_a_chain_body_breaks_queue, P_IO),
		IO(in_order_batch_last_len_above_writable_breaks_queue),
		IO(in_order_used_idx_past_available_breaks_queue),
		IO(in_order_detach_in_the_middle_of_a_batch),
		T(in_order_batches_across_the_16_bit_wrap, P_NUM4_IO_EVENT),
		MATRIX_IO(hostile_used_id_out_of_range_breaks_queue),
		MATRIX_IO(hostile_used_id_never_made_available_breaks_queue),
		MATRIX_IO(hostile_used_len_above_writable_breaks_queue),
		MATRIX_IO(hostile_used_idx_more_than_num_ahead_breaks_queue),
		MATRIX_IO(hostile_device_writes_are_confined_to_the_rings),
		MATRIX_IO(detach_returns_every_token_once),
		T(event_idx_kick_decision_across_the_wrap, P_NUM4_EVENT),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
