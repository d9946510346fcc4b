/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the driver side of the packed virtqueue (src/ring/): what it
 * writes into the descriptor ring and the event suppression structures,
 * when it says to notify, and how it stands up to a hostile device that the
 * tests play by writing used descriptors into the ring directly: ids out of
 * range, not in flight or used twice, wrap counters that lie, lengths, and
 * (VIRTIO_F_IN_ORDER) batches naming what they should not.
 *
 * Every area the queue may touch (its state, the descriptor ring, the two
 * event suppression structures, the indirect tables) sits at the end of its
 * own mapping, against a PROT_NONE page, so a stray access past it faults;
 * the slack before that page is filled with a canary checked at teardown.
 * Buffer addresses are never mapped: the driver must not dereference them.
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
#define E_ID_OOR    "used id out of range"
#define E_ID_NOT_IN "used id not in flight"
#define E_LEN       "used length larger than the device-writable part"
#define E_WRAP      "used descriptor flags with the wrong wrap counter"
#define E_NONE      "used descriptor where none was made available"
#define E_DETACHED  "buffers detached"

#define F_PACKED   VIO_BIT(VIRTIO_F_RING_PACKED)
#define F_INDIRECT VIO_BIT(VIRTIO_F_INDIRECT_DESC)
#define F_EVENT    VIO_BIT(VIRTIO_F_EVENT_IDX)
#define F_IN_ORDER VIO_BIT(VIRTIO_F_IN_ORDER)
#define NEXT       VIRTQ_DESC_F_NEXT
#define WRITE      VIRTQ_DESC_F_WRITE
#define INDIRECT   VIRTQ_DESC_F_INDIRECT
#define AVAIL      VIRTQ_DESC_F_AVAIL
#define USED       VIRTQ_DESC_F_USED

#define IND_ADDR 0x7000000000ull
#define BUF      0xdead00000000ull
#define CANARY   0xcd

/* ------------------------------------------------------------------ */
/* Guarded memory                                                      */
/* ------------------------------------------------------------------ */

struct guarded {
	void *map;
	size_t map_size;
	uint8_t *p;
	size_t size;
	size_t slack;
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
	uint64_t features; /* F_PACKED is added */
	uint32_t ind_max;
};

struct fx {
	struct params p;
	struct guarded gq, gdesc, gdrv, gdev, gind;
	struct vio_drvq *q;
	struct pvirtq_desc *desc;
	struct pvirtq_event_suppress *drv; /* driver event suppression (the driver's) */
	struct pvirtq_event_suppress *dev; /* device event suppression (ours, the device's) */
	struct pvirtq_desc *ind;
	struct vio_drvq_config cfg;
	/* the fake device */
	uint16_t dev_avail, dev_used;
	bool dev_avail_wrap, dev_used_wrap;
	/* the device's record of the lists it took, in ring order */
	uint16_t took_id[64], took_n[64];
	uint32_t took;
};

static const struct params P_PLAIN = { 8, 0, 4 };
static const struct params P_IND = { 8, F_INDIRECT, 4 };
static const struct params P_EVENT = { 8, F_EVENT, 4 };
static const struct params P_IND_EVENT = { 8, F_INDIRECT | F_EVENT, 4 };
static const struct params P_IO = { 8, F_IN_ORDER, 4 };
static const struct params P_IO_IND = { 8, F_IN_ORDER | F_INDIRECT, 4 };
static const struct params P_IO_EVENT = { 8, F_IN_ORDER | F_EVENT, 4 };
static const struct params P_IO_IND_EVENT = { 8, F_IN_ORDER | F_INDIRECT | F_EVENT, 4 };
static const struct params P_NUM1 = { 1, F_INDIRECT, 4 };
static const struct params P_NUM3 = { 3, 0, 0 };
static const struct params P_NUM3_EVENT = { 3, F_EVENT, 0 };
static const struct params P_NUM5_IO = { 5, F_IN_ORDER, 2 };
static const struct params P_NUM7_IO_EVENT = { 7, F_IN_ORDER | F_EVENT | F_INDIRECT, 3 };

static bool in_order(const struct fx *f) { return f->p.features & F_IN_ORDER; }

static void fx_config(struct fx *f)
{
	struct vio_drvq_config *c = &f->cfg;

	memset(c, 0, sizeof(*c));
	c->num = f->p.num;
	c->features = f->p.features | F_PACKED | VIO_BIT(VIRTIO_F_VERSION_1);
	c->desc = f->desc;
	c->driver = f->drv;
	c->device = f->dev;
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
	f->desc = galloc(&f->gdesc, 16u * p->num, 16);
	f->drv = galloc(&f->gdrv, 4, 4);
	f->dev = galloc(&f->gdev, 4, 4);
	if (p->ind_max)
		f->ind = galloc(&f->gind, (size_t)p->num * p->ind_max * 16, 16);
	f->dev_avail_wrap = f->dev_used_wrap = true;
	fx_config(f);
	return f;
}

static void fx_free(struct fx *f)
{
	gfree(&f->gq);
	gfree(&f->gdesc);
	gfree(&f->gdrv);
	gfree(&f->gdev);
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

static uint16_t dflags(struct fx *f, uint32_t i) { return le16_to_cpu(f->desc[i].flags); }
static uint16_t drv_ev_flags(struct fx *f) { return le16_to_cpu(f->drv->flags); }
static uint16_t drv_ev_desc(struct fx *f) { return le16_to_cpu(f->drv->desc); }

/* The flags of an available descriptor written with wrap counter @w (§2.8.1). */
static uint16_t av(bool w) { return w ? AVAIL : USED; }
/* ... and of a used one. */
static uint16_t us(bool w) { return w ? AVAIL | USED : 0; }

static void assert_pdesc(const struct pvirtq_desc *d, uint64_t addr, uint32_t len, uint16_t id,
			 uint16_t flags)
{
	assert_int_equal(le64_to_cpu(d->addr), addr);
	assert_int_equal(le32_to_cpu(d->len), len);
	assert_int_equal(le16_to_cpu(d->id), id);
	assert_int_equal(le16_to_cpu(d->flags), flags);
}

static void set_dev_event(struct fx *f, uint16_t desc, uint16_t flags)
{
	f->dev->desc = cpu_to_le16(desc);
	f->dev->flags = cpu_to_le16(flags);
}

static void dev_adv(struct fx *f, uint16_t *pos, bool *wrap, uint32_t n)
{
	while (n--) {
		if (++*pos == f->p.num) {
			*pos = 0;
			*wrap = !*wrap;
		}
	}
}

/*
 * The device takes the next available list: checks that it is available
 * and well formed, records its id and length. Returns its id.
 */
static uint16_t dev_take(struct fx *f)
{
	uint16_t id = 0, n = 0, fl;

	do {
		fl = dflags(f, f->dev_avail);
		assert_int_equal(fl & (AVAIL | USED), av(f->dev_avail_wrap));
		id = le16_to_cpu(f->desc[f->dev_avail].id);
		n++;
		assert_true(n <= f->p.num);
		dev_adv(f, &f->dev_avail, &f->dev_avail_wrap, 1);
	} while (fl & NEXT);
	assert_true(f->took < 64);
	f->took_id[f->took] = id;
	f->took_n[f->took++] = n;
	return id;
}

/* Nothing available at the device's position. */
static void dev_nothing(struct fx *f)
{
	assert_int_not_equal(dflags(f, f->dev_avail) & (AVAIL | USED), av(f->dev_avail_wrap));
}

/* Writes a used descriptor {id, len, flags} at the device's used position and skips @skip. */
static void dev_raw(struct fx *f, uint16_t id, uint32_t len, uint16_t flags, uint32_t skip)
{
	struct pvirtq_desc *d = &f->desc[f->dev_used];

	d->id = cpu_to_le16(id);
	d->len = cpu_to_le32(len);
	__atomic_store_n(&d->flags.v, cpu_to_le16(flags).v, __ATOMIC_RELEASE);
	dev_adv(f, &f->dev_used, &f->dev_used_wrap, skip);
}

/* Marks the list of @id (which took @n descriptors) used with @len (WRITE iff len). */
static void dev_use_n(struct fx *f, uint16_t id, uint32_t len, uint32_t n)
{
	dev_raw(f, id, len, (uint16_t)(us(f->dev_used_wrap) | (len ? WRITE : 0)), n);
}

/* Marks taken list number @k used with @len. */
static void dev_use_took(struct fx *f, uint32_t k, uint32_t len)
{
	dev_use_n(f, f->took_id[k], len, f->took_n[k]);
}

static void *tok(uintptr_t i) { return (void *)(0x1000 + 16 * i); }

/* Adds @nout + @nin segments of 16 + k bytes at BUF + 0x1000 * k. */
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

/* Adds and publishes a buffer; the device takes it. Returns the index in took[]. */
static uint32_t add_take(struct fx *f, uint32_t nout, uint32_t nin, void *token)
{
	assert_int_equal(add_n(f, nout, nin, token), 0);
	vio_drvq_kick_prepare(f->q);
	dev_take(f);
	return f->took - 1;
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

/*
 * The queue is broken with @why: get_used says -EIO (and so does add),
 * kick_prepare and cb_enable 0, and detach gives back exactly @toks.
 */
static void assert_broken(struct fx *f, const char *why, void **toks, uint32_t n)
{
	bool seen[16] = { false };
	void *t = (void *)0x1;
	uint32_t l = 0xfeedu, i, j, inflight = vio_drvq_inflight(f->q);
	uint8_t ring[16 * 8], ev[4];

	assert_true(n <= 16 && f->p.num <= 8);
	assert_int_equal(vio_drvq_get_used(f->q, &t, &l), -EIO);
	assert_ptr_equal(t, (void *)0x1);
	assert_int_equal(l, 0xfeedu);
	assert_non_null(vio_drvq_error(f->q));
	assert_string_equal(vio_drvq_error(f->q), why);
	assert_int_equal(vio_drvq_get_used(f->q, &t, &l), -EIO);
	/* A broken queue writes nothing more to shared memory. */
	memcpy(ring, f->desc, 16 * f->p.num);
	memcpy(ev, f->drv, 4);
	assert_int_equal(add_n(f, 1, 0, tok(99)), -EIO);
	assert_int_equal(vio_drvq_kick_prepare(f->q), 0);
	assert_int_equal(vio_drvq_cb_enable(f->q), 0);
	vio_drvq_cb_disable(f->q);
	assert_memory_equal(ring, f->desc, 16 * f->p.num);
	assert_memory_equal(ev, f->drv, 4);
	assert_int_equal(vio_drvq_inflight(f->q), inflight);
	assert_int_equal(inflight, n);
	for (i = 0; i < n; i++) {
		assert_int_equal(vio_drvq_detach(f->q, &t), 1);
		for (j = 0; j < n; j++)
			if (toks[j] == t && !seen[j])
				break;
		assert_true(j < n);
		seen[j] = true;
	}
	assert_int_equal(vio_drvq_detach(f->q, &t), 0);
	assert_int_equal(vio_drvq_num_free(f->q), f->p.num);
	assert_string_equal(vio_drvq_error(f->q), why); /* the first reason sticks */
}

/* ================================================================== */
/* init                                                                */
/* ================================================================== */

static void init_accepts_any_queue_size_up_to_32768(void **state)
{
	static const uint32_t sizes[] = { 1, 2, 3, 7, 100, 255, 256, 1000, 32767, 32768 };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct params p = { sizes[i], F_INDIRECT | F_EVENT | F_IN_ORDER, 2 };
		struct fx *f = fx_new(&p);

		memset(f->desc, 0xff, f->gdesc.size);
		memset(f->drv, 0xff, 4);
		memset(f->dev, 0xff, 4);
		assert_int_equal(vio_drvq_init(f->q, &f->cfg), 0);
		assert_int_equal(vio_drvq_num_free(f->q), sizes[i]);
		/* VIRTIO 1.4 §2.8.13: zero-initialized; event flags 0 = ENABLE. */
		assert_int_equal(dflags(f, 0), 0);
		assert_int_equal(dflags(f, sizes[i] - 1), 0);
		assert_int_equal(le64_to_cpu(f->desc[sizes[i] - 1].addr), 0);
		assert_int_equal(drv_ev_flags(f), 0);
		assert_int_equal(drv_ev_desc(f), 0);
		assert_int_equal(le16_to_cpu(f->dev->flags), 0);
		assert_no_used(f);
		fx_free(f);
	}
}

static void init_rejects_misaligned_or_bad_areas(void **state)
{
	struct fx *f = *state;
	struct vio_drvq_config c;

	c = f->cfg;
	c.num = 0;
	assert_int_equal(vio_drvq_init(f->q, &c), -EINVAL);
	c = f->cfg;
	c.num = 32769;
	assert_int_equal(vio_drvq_init(f->q, &c), -EINVAL);
	c = f->cfg;
	c.desc = (char *)c.desc - 8; /* 16 (VIRTIO 1.4 §2.8.10.1) */
	assert_int_equal(vio_drvq_init(f->q, &c), -EINVAL);
	c = f->cfg;
	c.driver = (char *)c.driver - 2; /* 4: the split avail ring needs only 2 */
	assert_int_equal(vio_drvq_init(f->q, &c), -EINVAL);
	c = f->cfg;
	c.device = (char *)c.device - 2;
	assert_int_equal(vio_drvq_init(f->q, &c), -EINVAL);
	c = f->cfg;
	c.driver = NULL;
	assert_int_equal(vio_drvq_init(f->q, &c), -EINVAL);
}

/* ================================================================== */
/* add and publish                                                     */
/* ================================================================== */

static void add_writes_list_in_ring_order_first_flags_last(void **state)
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

static void add_is_published_only_by_kick_prepare(void **state)
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

static void add_indirect_uses_the_table_of_the_id(void **state)
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

static void add_single_segment_is_direct_even_with_indirect(void **state)
{
	struct fx *f = *state;
	struct vio_sg sg = { BUF, 512 };

	assert_int_equal(vio_drvq_add(f->q, &sg, 0, 1, tok(1)), 0);
	vio_drvq_kick_prepare(f->q);
	assert_pdesc(&f->desc[0], BUF, 512, le16_to_cpu(f->desc[0].id), WRITE | AVAIL);
}

static void add_more_segments_than_indirect_max_goes_direct(void **state)
{
	struct fx *f = *state;

	assert_int_equal(add_n(f, f->p.ind_max + 1, 0, tok(1)), 0);
	assert_int_equal(vio_drvq_num_free(f->q), f->p.num - f->p.ind_max - 1);
	assert_int_equal(dflags(f, 1), NEXT | AVAIL);
}

static void add_enospc_when_the_ring_is_full(void **state)
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

static void add_enospc_for_list_longer_than_free(void **state)
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

static void add_list_wraps_round_the_ring(void **state)
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

static void add_ids_are_reused_from_the_free_list(void **state)
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

static void add_on_queue_of_size_1(void **state)
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

static void get_used_skips_by_list_length_out_of_order(void **state)
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

static void get_used_sees_nothing_before_the_flags_change(void **state)
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

static void get_used_len_without_write_flag_is_0(void **state)
{
	struct fx *f = *state;
	uint32_t a = add_take(f, 1, 1, tok(1));

	/* §2.8.4: len is reserved without WRITE, and ignored. */
	dev_raw(f, f->took_id[a], 0xffffffffu, us(true), f->took_n[a]);
	assert_used(f, tok(1), 0);
	assert_null(vio_drvq_error(f->q));
}

static void get_used_accepts_len_equal_to_writable_part(void **state)
{
	struct fx *f = *state;

	dev_use_took(f, add_take(f, 2, 2, tok(1)), 18 + 19);
	assert_used(f, tok(1), 37);
}

static void get_used_accepts_writable_part_of_4gib_minus_1(void **state)
{
	struct fx *f = *state;
	struct vio_sg sg[2] = { { BUF, 0x80000000u }, { BUF + 0x100000000ull, 0x7fffffffu } };

	assert_int_equal(vio_drvq_add(f->q, sg, 0, 2, tok(1)), 0);
	vio_drvq_kick_prepare(f->q);
	dev_take(f);
	dev_use_took(f, 0, UINT32_MAX);
	assert_used(f, tok(1), UINT32_MAX);
}

static void get_used_a_full_ring_used_at_once(void **state)
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

/* ================================================================== */
/* A hostile device                                                    */
/* ================================================================== */

/* Two buffers in flight, published and taken by the device: ids in took[0], took[1]. */
static void two_in_flight(struct fx *f)
{
	add_take(f, 1, 1, tok(1)); /* writable 17 */
	add_take(f, 0, 1, tok(2)); /* writable 16 */
}

static void hostile_used_id_out_of_range_breaks_queue(void **state)
{
	struct fx *f = *state;
	void *toks[2] = { tok(1), tok(2) };

	two_in_flight(f);
	dev_use_n(f, (uint16_t)f->p.num, 0, 1);
	assert_broken(f, E_ID_OOR, toks, 2);
}

static void hostile_used_id_0xffff_breaks_queue(void **state)
{
	struct fx *f = *state;
	void *toks[2] = { tok(1), tok(2) };

	two_in_flight(f);
	dev_use_n(f, 0xffff, 0, 1);
	assert_broken(f, E_ID_OOR, toks, 2);
}

static void hostile_used_id_never_made_available_breaks_queue(void **state)
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

static void hostile_used_id_added_but_not_published_breaks_queue(void **state)
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

static void hostile_used_id_used_twice_breaks_queue(void **state)
{
	struct fx *f = *state;
	void *toks[1] = { tok(2) };

	two_in_flight(f);
	dev_use_took(f, 0, 0);
	assert_used(f, tok(1), 0);
	dev_use_took(f, 0, 0); /* again */
	assert_broken(f, E_ID_NOT_IN, toks, 1);
}

static void hostile_used_id_used_twice_after_reuse_is_not_confused(void **state)
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

static void hostile_used_len_above_writable_breaks_queue(void **state)
{
	struct fx *f = *state;
	void *toks[2] = { tok(1), tok(2) };

	two_in_flight(f);
	dev_use_took(f, 0, 18); /* writable 17 */
	assert_broken(f, E_LEN, toks, 2);
}

static void hostile_used_len_on_readable_only_buffer_breaks_queue(void **state)
{
	struct fx *f = *state;
	void *toks[1] = { tok(1) };

	dev_use_took(f, add_take(f, 2, 0, tok(1)), 1);
	assert_broken(f, E_LEN, toks, 1);
}

static void hostile_used_len_0xffffffff_breaks_queue(void **state)
{
	struct fx *f = *state;
	void *toks[2] = { tok(1), tok(2) };

	two_in_flight(f);
	dev_use_took(f, 0, 0xffffffffu);
	assert_broken(f, E_LEN, toks, 2);
}

static void hostile_used_flags_with_old_wrap_counter_breaks_queue(void **state)
{
	struct fx *f = *state;
	void *toks[2] = { tok(1), tok(2) };

	two_in_flight(f);
	/* AVAIL = USED = 0 while the wrap counter is 1: "used" a lap ago. */
	dev_raw(f, f->took_id[0], 0, us(false), 1);
	assert_int_equal(vio_drvq_cb_enable(f->q), 1); /* something to look at */
	assert_broken(f, E_WRAP, toks, 2);
}

static void hostile_used_flags_avail_not_equal_used_breaks_queue(void **state)
{
	struct fx *f = *state;
	void *toks[2] = { tok(1), tok(2) };

	two_in_flight(f);
	/* AVAIL 0, USED 1: available in the next lap; no device writes that. */
	dev_raw(f, f->took_id[0], 0, USED, 1);
	assert_broken(f, E_WRAP, toks, 2);
}

static void hostile_wrap_counter_not_flipped_at_the_end_breaks_queue(void **state)
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

static void hostile_used_descriptor_with_nothing_published_breaks_queue(void **state)
{
	struct fx *f = *state;
	void *toks[1] = { tok(1) };

	assert_int_equal(add_n(f, 1, 0, tok(1)), 0); /* added, not published */
	dev_use_n(f, 0, 0, 1);
	assert_int_equal(vio_drvq_cb_enable(f->q), 1);
	assert_broken(f, E_NONE, toks, 1);
}

static void hostile_used_descriptor_on_an_empty_queue_breaks_queue(void **state)
{
	struct fx *f = *state;

	dev_use_n(f, 0, 0, 1);
	assert_broken(f, E_NONE, NULL, 0);
}

static void hostile_device_scribbling_everywhere_is_contained(void **state)
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

static void hostile_stale_slots_of_a_previous_lap_are_not_used(void **state)
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

static void in_order_batch_returns_skipped_buffers_in_full(void **state)
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

static void in_order_batch_last_len_is_the_devices(void **state)
{
	struct fx *f = *state;

	add_take(f, 0, 1, tok(0));
	add_take(f, 0, 2, tok(1));
	dev_use_n(f, f->took_id[1], 20, f->took_n[0] + f->took_n[1]);
	assert_used(f, tok(0), 16);
	assert_used(f, tok(1), 20);
}

static void in_order_batch_of_the_whole_ring_across_the_wrap(void **state)
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

static void in_order_batch_naming_an_unpublished_id_breaks_queue(void **state)
{
	struct fx *f = *state;
	void *toks[3] = { tok(1), tok(2), tok(3) };

	two_in_flight(f);
	assert_int_equal(add_n(f, 1, 0, tok(3)), 0); /* not published */
	/* A batch ending at the unpublished buffer: past what was made available. */
	dev_use_n(f, le16_to_cpu(f->desc[f->dev_avail].id), 0, 3);
	assert_broken(f, E_ID_NOT_IN, toks, 3);
}

static void in_order_batch_naming_a_free_id_breaks_queue(void **state)
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

static void in_order_batch_last_len_above_writable_breaks_queue(void **state)
{
	struct fx *f = *state;
	void *toks[2] = { tok(1), tok(2) };

	two_in_flight(f);
	/* 17 fits the first buffer, not the last (16). */
	dev_use_n(f, f->took_id[1], 17, 2);
	assert_broken(f, E_LEN, toks, 2);
}

static void in_order_used_descriptor_for_a_later_buffer_only(void **state)
{
	struct fx *f = *state;

	/* The device uses buffer 1 "alone": with IN_ORDER that is a batch of
	 * 0 and 1, so buffer 0 comes back in full. */
	two_in_flight(f);
	dev_use_n(f, f->took_id[1], 4, f->took_n[0] + f->took_n[1]);
	assert_used(f, tok(1), 17); /* in full */
	assert_used(f, tok(2), 4);
}

/* ================================================================== */
/* Notifications                                                       */
/* ================================================================== */

static void kick_without_event_idx_follows_device_flags(void **state)
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

static void kick_with_event_idx_follows_the_descriptor_event(void **state)
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

static void kick_with_event_idx_first_publish(void **state)
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

static void cb_without_event_idx_enables_and_disables(void **state)
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

static void cb_with_event_idx_names_the_next_used_descriptor(void **state)
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

static void get_used_does_not_rearm(void **state)
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

static void detach_returns_every_token_once(void **state)
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

static void detach_in_the_middle_of_a_batch(void **state)
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

static void detach_after_init_again_gives_a_working_queue(void **state)
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
static void many_laps(void **state)
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

#define T(fn, p) { #fn "/" #p, fn, setup, teardown, (void *)&(p) }
#define MATRIX(fn)                                                             \
	T(fn, P_PLAIN), T(fn, P_IND), T(fn, P_EVENT), T(fn, P_IND_EVENT),     \
	T(fn, P_IO), T(fn, P_IO_IND), T(fn, P_IO_EVENT), T(fn, P_IO_IND_EVENT)
#define NOT_IO(fn) T(fn, P_PLAIN), T(fn, P_IND), T(fn, P_EVENT), T(fn, P_IND_EVENT)
#define IO(fn) T(fn, P_IO), T(fn, P_IO_IND), T(fn, P_IO_EVENT), T(fn, P_IO_IND_EVENT)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(init_accepts_any_queue_size_up_to_32768),
		T(init_rejects_misaligned_or_bad_areas, P_IND),

		T(add_writes_list_in_ring_order_first_flags_last, P_PLAIN),
		T(add_writes_list_in_ring_order_first_flags_last, P_IO),
		MATRIX(add_is_published_only_by_kick_prepare),
		T(add_indirect_uses_the_table_of_the_id, P_IND),
		T(add_indirect_uses_the_table_of_the_id, P_IO_IND_EVENT),
		T(add_single_segment_is_direct_even_with_indirect, P_IND),
		T(add_more_segments_than_indirect_max_goes_direct, P_IND),
		MATRIX(add_enospc_when_the_ring_is_full),
		T(add_enospc_for_list_longer_than_free, P_PLAIN),
		T(add_enospc_for_list_longer_than_free, P_IO),
		T(add_list_wraps_round_the_ring, P_PLAIN),
		T(add_list_wraps_round_the_ring, P_IO_EVENT),
		T(add_ids_are_reused_from_the_free_list, P_PLAIN),
		T(add_on_queue_of_size_1, P_NUM1),

		NOT_IO(get_used_skips_by_list_length_out_of_order),
		MATRIX(get_used_sees_nothing_before_the_flags_change),
		MATRIX(get_used_len_without_write_flag_is_0),
		MATRIX(get_used_accepts_len_equal_to_writable_part),
		MATRIX(get_used_accepts_writable_part_of_4gib_minus_1),
		MATRIX(get_used_a_full_ring_used_at_once),

		MATRIX(hostile_used_id_out_of_range_breaks_queue),
		MATRIX(hostile_used_id_0xffff_breaks_queue),
		MATRIX(hostile_used_id_never_made_available_breaks_queue),
		MATRIX(hostile_used_id_added_but_not_published_breaks_queue),
		NOT_IO(hostile_used_id_used_twice_breaks_queue),
		NOT_IO(hostile_used_id_used_twice_after_reuse_is_not_confused),
		MATRIX(hostile_used_len_above_writable_breaks_queue),
		MATRIX(hostile_used_len_on_readable_only_buffer_breaks_queue),
		MATRIX(hostile_used_len_0xffffffff_breaks_queue),
		MATRIX(hostile_used_flags_with_old_wrap_counter_breaks_queue),
		MATRIX(hostile_used_flags_avail_not_equal_used_breaks_queue),
		T(hostile_wrap_counter_not_flipped_at_the_end_breaks_queue, P_PLAIN),
		MATRIX(hostile_used_descriptor_with_nothing_published_breaks_queue),
		MATRIX(hostile_used_descriptor_on_an_empty_queue_breaks_queue),
		MATRIX(hostile_device_scribbling_everywhere_is_contained),
		T(hostile_stale_slots_of_a_previous_lap_are_not_used, P_PLAIN),
		T(hostile_stale_slots_of_a_previous_lap_are_not_used, P_IO),

		IO(in_order_batch_returns_skipped_buffers_in_full),
		IO(in_order_batch_last_len_is_the_devices),
		T(in_order_batch_of_the_whole_ring_across_the_wrap, P_IO),
		T(in_order_batch_of_the_whole_ring_across_the_wrap, P_IO_IND_EVENT),
		IO(in_order_batch_naming_an_unpublished_id_breaks_queue),
		IO(in_order_batch_naming_a_free_id_breaks_queue),
		IO(in_order_batch_last_len_above_writable_breaks_queue),
		IO(in_order_used_descriptor_for_a_later_buffer_only),

		T(kick_without_event_idx_follows_device_flags, P_PLAIN),
		T(kick_without_event_idx_follows_device_flags, P_IO_IND),
		T(kick_with_event_idx_follows_the_descriptor_event, P_EVENT),
		T(kick_with_event_idx_follows_the_descriptor_event, P_NUM3_EVENT),
		T(kick_with_event_idx_follows_the_descriptor_event, P_NUM7_IO_EVENT),
		T(kick_with_event_idx_first_publish, P_EVENT),
		T(kick_with_event_idx_first_publish, P_IO_EVENT),
		T(cb_without_event_idx_enables_and_disables, P_PLAIN),
		T(cb_without_event_idx_enables_and_disables, P_IO_IND),
		T(cb_with_event_idx_names_the_next_used_descriptor, P_EVENT),
		T(cb_with_event_idx_names_the_next_used_descriptor, P_IO_IND_EVENT),
		MATRIX(get_used_does_not_rearm),

		MATRIX(detach_returns_every_token_once),
		IO(detach_in_the_middle_of_a_batch),
		MATRIX(detach_after_init_again_gives_a_working_queue),

		MATRIX(many_laps),
		T(many_laps, P_NUM1),
		T(many_laps, P_NUM3),
		T(many_laps, P_NUM5_IO),
		T(many_laps, P_NUM7_IO_EVENT),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
