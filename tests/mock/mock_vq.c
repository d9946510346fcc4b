/* SPDX-License-Identifier: BSD-3-Clause */
/* The mock driver's queue: layout-independent calls, and the split layout (VIRTIO 1.4 §2.7) as a driver writes it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mock_driver.h"

#define MOCK_DIE(...) do { fprintf(stderr, "mock driver: " __VA_ARGS__); fputc('\n', stderr); abort(); } while (0)

/* Shared index stores/loads: the device may run in another thread. */
static void store_release16(le16 *p, uint16_t v)
{
	__atomic_store_n(&p->v, cpu_to_le16(v).v, __ATOMIC_RELEASE);
}

static uint16_t load_acquire16(const le16 *p)
{
	return le16_to_cpu((le16){ __atomic_load_n(&p->v, __ATOMIC_ACQUIRE) });
}

static void write16(le16 *p, uint16_t v)
{
	__atomic_store_n(&p->v, cpu_to_le16(v).v, __ATOMIC_RELAXED);
}

static uint16_t read16(const le16 *p)
{
	return le16_to_cpu((le16){ __atomic_load_n(&p->v, __ATOMIC_RELAXED) });
}

/* ---- split layout ---- */

static int split_init(struct mock_vq *vq)
{
	struct mock_mem *m = vq->mem;
	uint32_t i;

	if (vq->num == 0 || vq->num > VIRTQ_MAX_SIZE || (vq->num & (vq->num - 1)))
		return -EINVAL;
	/* Alignments of VIRTIO 1.4 §2.7: 16, 2, 4. The avail ring and used ring
	 * carry used_event / avail_event after ring[num]. */
	vq->desc_gpa = mock_alloc(m, vq->region, virtq_desc_size(vq->num), 16);
	vq->avail_gpa = mock_alloc(m, vq->region, virtq_avail_size(vq->num), 2);
	vq->used_gpa = mock_alloc(m, vq->region, virtq_used_size(vq->num), 4);
	mock_fill(m, vq->desc_gpa, 0, virtq_desc_size(vq->num));
	mock_fill(m, vq->avail_gpa, 0, virtq_avail_size(vq->num));
	mock_fill(m, vq->used_gpa, 0, virtq_used_size(vq->num));
	vq->desc = mock_hva(m, vq->desc_gpa);
	vq->avail = mock_hva(m, vq->avail_gpa);
	vq->used = mock_hva(m, vq->used_gpa);

	vq->free_next = calloc(vq->num, sizeof(*vq->free_next));
	vq->heads = calloc(vq->num, sizeof(*vq->heads));
	if (!vq->free_next || !vq->heads)
		MOCK_DIE("out of memory");
	for (i = 0; i < vq->num; i++)
		vq->free_next[i] = (uint16_t)(i + 1);
	vq->free_head = 0;
	vq->nfree = vq->num;
	return 0;
}

static uint16_t take_desc(struct mock_vq *vq)
{
	uint16_t d = vq->free_head;

	vq->free_head = vq->free_next[d];
	vq->nfree--;
	return d;
}

/* Chains descriptor @prev (already written) to @d, in the table and in
 * the driver's private links. */
static void link(struct mock_vq *vq, uint16_t prev, uint16_t d)
{
	struct virtq_desc *p = &vq->desc[prev];

	p->flags = cpu_to_le16((uint16_t)(le16_to_cpu(p->flags) | VIRTQ_DESC_F_NEXT));
	p->next = cpu_to_le16(d);
	vq->free_next[prev] = d;
}

/* Makes sure head @h has an indirect table of at least @n descriptors. */
static uint64_t indirect_table(struct mock_vq *vq, uint16_t h, uint32_t n)
{
	struct mock_head *hd = &vq->heads[h];

	if (hd->indir_cap < n) {
		uint32_t cap = 8;

		while (cap < n)
			cap *= 2;
		hd->indir_gpa = mock_alloc(vq->mem, vq->region, 16ull * cap, 16);
		hd->indir_cap = cap;
	}
	return hd->indir_gpa;
}

static int split_write_chain(struct mock_vq *vq, const struct mock_buf *b, unsigned n,
			     int indirect_at)
{
	unsigned ndirect = indirect_at < 0 ? n : (unsigned)indirect_at;
	unsigned need = indirect_at < 0 ? n : ndirect + 1;
	uint16_t head = 0, prev = 0, d = 0;
	unsigned i;

	if (need > vq->nfree)
		return -ENOSPC;
	for (i = 0; i < ndirect; i++) {
		d = take_desc(vq);
		if (i == 0)
			head = d;
		else
			link(vq, prev, d);
		mock_split_desc(vq, d, b[i].gpa, b[i].len,
				b[i].writable ? VIRTQ_DESC_F_WRITE : 0, 0);
		prev = d;
	}
	if (indirect_at >= 0) {
		unsigned nt = n - ndirect;
		uint64_t table;

		d = take_desc(vq);
		if (ndirect == 0)
			head = d;
		else
			link(vq, prev, d);
		table = indirect_table(vq, head, nt);
		for (i = 0; i < nt; i++) {
			const struct mock_buf *x = &b[ndirect + i];
			uint16_t fl = (uint16_t)((x->writable ? VIRTQ_DESC_F_WRITE : 0) |
						 (i + 1 < nt ? VIRTQ_DESC_F_NEXT : 0));

			if (mock_desc_write(vq->mem, table, i, x->gpa, x->len, fl, (uint16_t)(i + 1)))
				MOCK_DIE("indirect table outside guest memory");
		}
		mock_split_desc(vq, d, table, 16u * nt, VIRTQ_DESC_F_INDIRECT, 0);
	}
	vq->heads[head].ndesc = (uint16_t)need;
	vq->heads[head].last = d;
	return head;
}

/* Returns head @h's descriptors (a chain the mock wrote) to the free list.
 * The chain's links are the driver's private copy in free_next[], never
 * the table, which a test may have overwritten. */
static void split_free_chain(struct mock_vq *vq, uint16_t h)
{
	struct mock_head *hd = &vq->heads[h];

	if (!hd->ndesc)
		return; /* raw chain: the test manages its descriptors */
	vq->free_next[hd->last] = vq->free_head;
	vq->free_head = h;
	vq->nfree += hd->ndesc;
	hd->ndesc = 0;
}

static int split_used(struct mock_vq *vq, struct mock_used *u)
{
	uint32_t id, len;

	/* Pairs with the device's release store of used->idx (VIRTIO 1.4 §2.7.8.2). */
	if (load_acquire16(&vq->used->idx) == vq->last_used)
		return 0;
	mock_split_used_elem(vq, vq->last_used % vq->num, &id, &len);
	vq->last_used++;
	u->id = id;
	u->len = len;
	if (id >= vq->num || !vq->heads[id].posted)
		return -EPROTO;
	vq->heads[id].posted--;
	if (!vq->heads[id].posted)
		split_free_chain(vq, (uint16_t)id);
	return 1;
}

/* ---- layout-independent ---- */

int mock_vq_init(struct mock_vq *vq, struct mock_mem *m, enum mock_layout layout,
		 uint32_t num, uint64_t features)
{
	return mock_vq_init_in(vq, m, layout, num, features, 0);
}

int mock_vq_init_in(struct mock_vq *vq, struct mock_mem *m, enum mock_layout layout,
		    uint32_t num, uint64_t features, unsigned region)
{
	memset(vq, 0, sizeof(*vq));
	vq->mem = m;
	vq->layout = layout;
	vq->num = num;
	vq->features = features & ~VIO_BIT(VIRTIO_F_RING_PACKED);
	vq->region = region;
	if (region >= m->nregions)
		MOCK_DIE("no region %u", region);
	switch (layout) {
	case MOCK_SPLIT:
		return split_init(vq);
	case MOCK_PACKED:
	default:
		return -ENOTSUP;
	}
}

void mock_vq_fini(struct mock_vq *vq)
{
	free(vq->free_next);
	free(vq->heads);
	free(vq->devq);
	vq->free_next = NULL;
	vq->heads = NULL;
	vq->devq = NULL;
}

void mock_vq_config(const struct mock_vq *vq, struct vio_devq_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->num = vq->num;
	cfg->features = vq->features;
	if (vq->layout == MOCK_PACKED)
		cfg->features |= VIO_BIT(VIRTIO_F_RING_PACKED);
	cfg->desc = vq->desc;
	cfg->driver = vq->avail;
	cfg->device = vq->used;
	cfg->mem = &vq->mem->mem;
	cfg->base = 0;
}

int mock_vq_devq_init(struct mock_vq *vq, const struct vio_devq_config *cfg)
{
	struct vio_devq_config def;
	size_t sz;

	if (!cfg) {
		mock_vq_config(vq, &def);
		cfg = &def;
	}
	free(vq->devq);
	sz = vio_devq_size(cfg->num);
	/* Room for a bad num too, so init itself can be tested to refuse it. */
	vq->devq = aligned_alloc(8, sz ? (sz + 7) / 8 * 8 : 4096);
	if (!vq->devq)
		MOCK_DIE("out of memory");
	return vio_devq_init(vq->devq, cfg);
}

int mock_vq_write_chain(struct mock_vq *vq, const struct mock_buf *b, unsigned n,
			int indirect_at)
{
	if (n == 0 || (indirect_at >= 0 && (unsigned)indirect_at >= n) || n > 0xffff)
		return -EINVAL;
	switch (vq->layout) {
	case MOCK_SPLIT:
		return split_write_chain(vq, b, n, indirect_at);
	default:
		return -ENOTSUP;
	}
}

int mock_vq_add(struct mock_vq *vq, const struct mock_buf *b, unsigned n, int indirect_at)
{
	int head = mock_vq_write_chain(vq, b, n, indirect_at);

	if (head < 0)
		return head;
	switch (vq->layout) {
	case MOCK_SPLIT:
		mock_split_make_avail(vq, (uint16_t)head);
		return head;
	default:
		return -ENOTSUP;
	}
}

int mock_vq_used(struct mock_vq *vq, struct mock_used *u)
{
	switch (vq->layout) {
	case MOCK_SPLIT:
		return split_used(vq, u);
	default:
		return -ENOTSUP;
	}
}

uint32_t mock_vq_nfree(const struct mock_vq *vq)
{
	return vq->nfree;
}

/* ---- raw split access ---- */

void mock_split_desc(struct mock_vq *vq, uint16_t i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	struct virtq_desc d = {
		.addr = cpu_to_le64(addr),
		.len = cpu_to_le32(len),
		.flags = cpu_to_le16(flags),
		.next = cpu_to_le16(next),
	};

	if (i >= vq->num)
		MOCK_DIE("descriptor %u outside a table of %u", i, vq->num);
	memcpy(&vq->desc[i], &d, sizeof(d));
}

void mock_split_avail_put(struct mock_vq *vq, uint16_t head)
{
	write16(&vq->avail->ring[vq->avail_idx % vq->num], head);
	if (head < vq->num)
		vq->heads[head].posted++;
	vq->avail_idx++;
}

void mock_split_publish(struct mock_vq *vq)
{
	/* VIRTIO 1.4 §2.7.13.3.1: the ring entries and descriptors before idx;
	 * pairs with the device's acquire load of avail->idx. */
	store_release16(&vq->avail->idx, vq->avail_idx);
}

void mock_split_make_avail(struct mock_vq *vq, uint16_t head)
{
	mock_split_avail_put(vq, head);
	mock_split_publish(vq);
}

void mock_split_set_avail_ring(struct mock_vq *vq, uint32_t slot, uint16_t head)
{
	if (slot >= vq->num)
		MOCK_DIE("avail slot %u outside a ring of %u", slot, vq->num);
	write16(&vq->avail->ring[slot], head);
}

void mock_split_set_avail_idx(struct mock_vq *vq, uint16_t idx)
{
	vq->avail_idx = idx;
	store_release16(&vq->avail->idx, idx);
}

void mock_split_set_avail_flags(struct mock_vq *vq, uint16_t flags)
{
	write16(&vq->avail->flags, flags);
}

void mock_split_set_used_event(struct mock_vq *vq, uint16_t used_event)
{
	write16(virtq_used_event(vq->avail, vq->num), used_event);
}

void mock_split_set_used_idx(struct mock_vq *vq, uint16_t idx)
{
	write16(&vq->used->idx, idx);
	vq->last_used = idx;
}

uint16_t mock_split_used_idx(const struct mock_vq *vq)
{
	return load_acquire16(&vq->used->idx);
}

uint16_t mock_split_used_flags(const struct mock_vq *vq)
{
	return read16(&vq->used->flags);
}

uint16_t mock_split_avail_event(const struct mock_vq *vq)
{
	return read16(virtq_avail_event(vq->used, vq->num));
}

void mock_split_used_elem(const struct mock_vq *vq, uint32_t slot, uint32_t *id, uint32_t *len)
{
	struct virtq_used_elem e;

	if (slot >= vq->num)
		MOCK_DIE("used slot %u outside a ring of %u", slot, vq->num);
	memcpy(&e, &vq->used->ring[slot], sizeof(e));
	*id = le32_to_cpu(e.id);
	*len = le32_to_cpu(e.len);
}

uint16_t mock_split_avail_idx(const struct mock_vq *vq)
{
	return read16(&vq->avail->idx);
}
