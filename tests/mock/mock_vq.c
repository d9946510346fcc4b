/* SPDX-License-Identifier: BSD-3-Clause */
/* The mock driver's queue: layout-independent calls, and the split (VIRTIO 1.4 §2.7) and packed (§2.8) layouts as a driver writes them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* ---- VIRTIO_F_IN_ORDER: buffers in the order made available ---- */

#define ORDER_CAP 65536u

static bool in_order(const struct mock_vq *vq)
{
	return vq->features & VIO_BIT(VIRTIO_F_IN_ORDER);
}

static void order_push(struct mock_vq *vq, uint16_t id)
{
	if (!in_order(vq))
		return;
	if (vq->order_count == ORDER_CAP)
		MOCK_DIE("more than %u buffers outstanding", ORDER_CAP);
	vq->order[(vq->order_head + vq->order_count++) % ORDER_CAP] = id;
}

/* How far from the front of the order @id is (the first occurrence), or -1. */
static int order_find(const struct mock_vq *vq, uint32_t id)
{
	uint32_t k;

	for (k = 0; k < vq->order_count; k++)
		if (vq->order[(vq->order_head + k) % ORDER_CAP] == id)
			return (int)k;
	return -1;
}

static uint16_t order_pop(struct mock_vq *vq)
{
	uint16_t id = vq->order[vq->order_head];

	vq->order_head = (vq->order_head + 1) % ORDER_CAP;
	vq->order_count--;
	return id;
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
static void link_desc(struct mock_vq *vq, uint16_t prev, uint16_t d)
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
			link_desc(vq, prev, d);
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
			link_desc(vq, prev, d);
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
	memset(u, 0, sizeof(*u));
	u->id = id;
	u->len = len;
	u->nbufs = 1;
	if (in_order(vq)) {
		/* VIRTIO 1.4 §2.7.9: the element stands for every buffer up to
		 * id; the used index moved by the batch size. */
		int k = order_find(vq, id);

		if (k < 0) {
			vq->last_used++;
			return -EPROTO;
		}
		u->nbufs = (uint32_t)k + 1;
		vq->last_used = (uint16_t)(vq->last_used + u->nbufs);
		while (k-- >= 0) {
			uint16_t h = order_pop(vq);

			if (!--vq->heads[h].posted)
				split_free_chain(vq, h);
		}
		return 1;
	}
	vq->last_used++;
	if (id >= vq->num || !vq->heads[id].posted)
		return -EPROTO;
	vq->heads[id].posted--;
	if (!vq->heads[id].posted)
		split_free_chain(vq, (uint16_t)id);
	return 1;
}

/* ---- packed layout ---- */

static void write32(le32 *p, uint32_t v)
{
	__atomic_store_n(&p->v, cpu_to_le32(v).v, __ATOMIC_RELAXED);
}

static void write64(le64 *p, uint64_t v)
{
	__atomic_store_n(&p->v, cpu_to_le64(v).v, __ATOMIC_RELAXED);
}

/* Moves ring position @pos by @n, flipping @wrap each time it passes num - 1. */
static void packed_advance(const struct mock_vq *vq, uint16_t *pos, bool *wrap, uint32_t n)
{
	uint32_t p = *pos + n % vq->num;

	if ((n / vq->num) & 1)
		*wrap = !*wrap;
	if (p >= vq->num) {
		p -= vq->num;
		*wrap = !*wrap;
	}
	*pos = (uint16_t)p;
}

static int packed_init(struct mock_vq *vq)
{
	struct mock_mem *m = vq->mem;
	uint64_t ring = 16ull * vq->num;
	long psz = sysconf(_SC_PAGESIZE);
	uint64_t pg = psz > 0 ? (uint64_t)psz : 4096;

	if (vq->num == 0 || vq->num > VIRTQ_MAX_SIZE)
		return -EINVAL;
	/* VIRTIO 1.4 §2.8.10.1: alignments 16, 4, 4. The ring gets whole pages
	 * of its own, so a test may protect them without touching anything else. */
	vq->desc_gpa = mock_alloc(m, vq->region, (ring + pg - 1) / pg * pg, pg);
	vq->driver_gpa = mock_alloc(m, vq->region, 4, 4);
	vq->device_gpa = mock_alloc(m, vq->region, 4, 4);
	/* §2.8.13: the descriptor ring is zero-initialized. */
	mock_fill(m, vq->desc_gpa, 0, ring);
	mock_fill(m, vq->driver_gpa, 0, 4);
	mock_fill(m, vq->device_gpa, 0, 4);
	vq->pdesc = mock_hva(m, vq->desc_gpa);
	vq->driver_event = mock_hva(m, vq->driver_gpa);
	vq->device_event = mock_hva(m, vq->device_gpa);
	vq->heads = calloc(vq->num, sizeof(*vq->heads));
	if (!vq->heads)
		MOCK_DIE("out of memory");
	/* §2.8.1: both wrap counters start at 1. */
	vq->avail_wrap = vq->used_wrap = true;
	return 0;
}

/* A free buffer id, round-robin from next_id; -1 if all are in use. */
static int packed_alloc_id(struct mock_vq *vq)
{
	uint32_t k;

	for (k = 0; k < vq->num; k++) {
		uint16_t id = (uint16_t)((vq->next_id + k) % vq->num);

		if (!vq->heads[id].taken) {
			vq->heads[id].taken = 1;
			vq->next_id = (uint16_t)((id + 1) % vq->num);
			return id;
		}
	}
	return -1;
}

static void packed_release_id(struct mock_vq *vq, uint16_t id)
{
	if (!--vq->heads[id].posted)
		vq->heads[id].taken = 0;
}

static int packed_write_chain(struct mock_vq *vq, const struct mock_buf *b, unsigned n,
			      int indirect_at)
{
	unsigned ndirect = indirect_at < 0 ? n : (unsigned)indirect_at;
	unsigned need = indirect_at < 0 ? n : ndirect + 1;
	unsigned i;
	int id;

	if (need > mock_vq_nfree(vq))
		return -ENOSPC;
	id = packed_alloc_id(vq);
	if (id < 0)
		return -ENOSPC;
	/* §2.8.6: the buffer id goes in the last descriptor of the list; the
	 * others carry a poison id, which a device must not take. */
	for (i = 0; i < ndirect; i++) {
		bool last = i + 1 == need;

		mock_packed_put(vq, b[i].gpa, b[i].len, last ? (uint16_t)id : (uint16_t)~id,
				(uint16_t)((b[i].writable ? VIRTQ_DESC_F_WRITE : 0) |
					   (last ? 0 : VIRTQ_DESC_F_NEXT)));
	}
	if (indirect_at >= 0) {
		unsigned nt = n - ndirect;
		uint64_t table = indirect_table(vq, (uint16_t)id, nt);

		/* §2.8.7: only WRITE is valid in the table; ids are ignored. */
		for (i = 0; i < nt; i++) {
			const struct mock_buf *x = &b[ndirect + i];

			if (mock_pdesc_write(vq->mem, table, i, x->gpa, x->len, (uint16_t)~id,
					     x->writable ? VIRTQ_DESC_F_WRITE : 0))
				MOCK_DIE("indirect table outside guest memory");
		}
		mock_packed_put(vq, table, 16u * nt, (uint16_t)id, VIRTQ_DESC_F_INDIRECT);
	}
	return id;
}

static int packed_used(struct mock_vq *vq, struct mock_used *u)
{
	struct mock_pdesc d;
	uint32_t total = 0;

	/* §2.8.1: used when AVAIL and USED both equal the device's wrap counter. */
	d.flags = mock_packed_flags(vq, vq->next_used);
	if (!!(d.flags & VIRTQ_DESC_F_AVAIL) != vq->used_wrap ||
	    !!(d.flags & VIRTQ_DESC_F_USED) != vq->used_wrap)
		return 0;
	/* Pairs with the device's release store of these flags. */
	mock_packed_read(vq, vq->next_used, &d);
	memset(u, 0, sizeof(*u));
	u->id = d.id;
	u->len = d.len;
	u->flags = d.flags;
	u->pos = vq->next_used;
	u->nbufs = 1;
	if (in_order(vq)) {
		/* §2.8.8: the used descriptor stands for the batch up to id. */
		int k = order_find(vq, d.id);

		if (k < 0) {
			packed_advance(vq, &vq->next_used, &vq->used_wrap, 1);
			return -EPROTO;
		}
		u->nbufs = (uint32_t)k + 1;
		while (k-- >= 0) {
			uint16_t id = order_pop(vq);

			total += vq->heads[id].plen;
			packed_release_id(vq, id);
		}
	} else {
		if (d.id >= vq->num || !vq->heads[d.id].posted) {
			packed_advance(vq, &vq->next_used, &vq->used_wrap, 1);
			return -EPROTO;
		}
		total = vq->heads[d.id].plen;
		packed_release_id(vq, d.id);
	}
	/* §2.8.6: skip the rest of the list(s). */
	u->ndesc = total;
	vq->outstanding -= total < vq->outstanding ? total : vq->outstanding;
	packed_advance(vq, &vq->next_used, &vq->used_wrap, total);
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
	if (in_order(vq)) {
		vq->order = calloc(ORDER_CAP, sizeof(*vq->order));
		if (!vq->order)
			MOCK_DIE("out of memory");
	}
	switch (layout) {
	case MOCK_SPLIT:
		return split_init(vq);
	case MOCK_PACKED:
		return packed_init(vq);
	default:
		return -ENOTSUP;
	}
}

void mock_vq_fini(struct mock_vq *vq)
{
	free(vq->free_next);
	free(vq->heads);
	free(vq->devq);
	free(vq->order);
	vq->free_next = NULL;
	vq->heads = NULL;
	vq->devq = NULL;
	vq->order = NULL;
}

void mock_vq_config(const struct mock_vq *vq, struct vio_devq_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->num = vq->num;
	cfg->features = vq->features;
	if (vq->layout == MOCK_PACKED)
		cfg->features |= VIO_BIT(VIRTIO_F_RING_PACKED);
	cfg->mem = &vq->mem->mem;
	if (vq->layout == MOCK_PACKED) {
		uint32_t half = vq->next_used | (vq->used_wrap ? 0x8000u : 0);

		cfg->desc = vq->pdesc;
		cfg->driver = vq->driver_event;
		cfg->device = vq->device_event;
		cfg->base = half | half << 16;
	} else {
		cfg->desc = vq->desc;
		cfg->driver = vq->avail;
		cfg->device = vq->used;
		cfg->base = 0;
	}
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
	case MOCK_PACKED:
		return packed_write_chain(vq, b, n, indirect_at);
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
	case MOCK_PACKED:
		mock_packed_publish(vq);
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
	case MOCK_PACKED:
		return packed_used(vq, u);
	default:
		return -ENOTSUP;
	}
}

uint32_t mock_vq_nfree(const struct mock_vq *vq)
{
	if (vq->layout == MOCK_PACKED)
		return vq->outstanding < vq->num ? vq->num - vq->outstanding : 0;
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
	if (head < vq->num) {
		vq->heads[head].posted++;
		order_push(vq, head);
	}
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

/* ---- raw packed access ---- */

static void check_pos(const struct mock_vq *vq, uint32_t pos)
{
	if (vq->layout != MOCK_PACKED)
		MOCK_DIE("packed access to a split queue");
	if (pos >= vq->num)
		MOCK_DIE("ring position %u outside a ring of %u", pos, vq->num);
}

void mock_packed_desc(struct mock_vq *vq, uint32_t pos, uint64_t addr, uint32_t len,
		      uint16_t id, uint16_t flags)
{
	struct pvirtq_desc *d;

	check_pos(vq, pos);
	d = &vq->pdesc[pos];
	write64(&d->addr, addr);
	write32(&d->len, len);
	write16(&d->id, id);
	/* §2.8.21.1: the descriptor before its flags; pairs with the device's
	 * acquire load of flags. */
	store_release16(&d->flags, flags);
}

void mock_packed_set_flags(struct mock_vq *vq, uint32_t pos, uint16_t flags)
{
	check_pos(vq, pos);
	store_release16(&vq->pdesc[pos].flags, flags);
}

uint32_t mock_packed_put(struct mock_vq *vq, uint64_t addr, uint32_t len, uint16_t id,
			 uint16_t flags)
{
	uint16_t pos = vq->next_avail;
	uint16_t full = (uint16_t)(flags | mock_packed_avail_bits(vq->avail_wrap));
	struct pvirtq_desc *d;

	check_pos(vq, pos);
	d = &vq->pdesc[pos];
	write64(&d->addr, addr);
	write32(&d->len, len);
	write16(&d->id, id);
	if (!vq->held) {
		/* §2.8.21.1: the first descriptor of the batch is exposed last. */
		vq->held = true;
		vq->held_pos = pos;
		vq->held_flags = full;
	} else {
		store_release16(&d->flags, full);
	}
	vq->list_len++;
	vq->outstanding++;
	if (!(flags & VIRTQ_DESC_F_NEXT)) {
		if (id < vq->num) {
			vq->heads[id].posted++;
			vq->heads[id].taken = 1;
			vq->heads[id].plen = vq->list_len;
			order_push(vq, id);
		}
		vq->list_len = 0;
	}
	packed_advance(vq, &vq->next_avail, &vq->avail_wrap, 1);
	return pos;
}

void mock_packed_publish(struct mock_vq *vq)
{
	if (!vq->held)
		return;
	/* Pairs with the device's acquire load of these flags: every other
	 * descriptor of the batch was written before. */
	store_release16(&vq->pdesc[vq->held_pos].flags, vq->held_flags);
	vq->held = false;
}

void mock_packed_set_cursors(struct mock_vq *vq, uint16_t next_used, bool used_wrap)
{
	uint32_t p;

	check_pos(vq, next_used);
	for (p = 0; p < vq->num; p++)
		mock_packed_desc(vq, p, 0, 0, 0,
				 mock_packed_used_bits(p < next_used ? used_wrap : !used_wrap));
	vq->next_avail = vq->next_used = next_used;
	vq->avail_wrap = vq->used_wrap = used_wrap;
	vq->held = false;
	vq->list_len = 0;
	vq->outstanding = 0;
	vq->next_id = 0;
}

uint32_t mock_packed_base(const struct mock_vq *vq)
{
	return (uint32_t)vq->next_avail | (vq->avail_wrap ? 0x8000u : 0) |
	       (uint32_t)vq->next_used << 16 | (vq->used_wrap ? 0x80000000u : 0);
}

void mock_packed_read(const struct mock_vq *vq, uint32_t pos, struct mock_pdesc *d)
{
	const struct pvirtq_desc *p;

	check_pos(vq, pos);
	p = &vq->pdesc[pos];
	d->flags = mock_packed_flags(vq, pos);
	d->addr = le64_to_cpu((le64){ __atomic_load_n(&p->addr.v, __ATOMIC_RELAXED) });
	d->len = le32_to_cpu((le32){ __atomic_load_n(&p->len.v, __ATOMIC_RELAXED) });
	d->id = read16(&p->id);
}

uint16_t mock_packed_flags(const struct mock_vq *vq, uint32_t pos)
{
	check_pos(vq, pos);
	return load_acquire16(&vq->pdesc[pos].flags);
}

void mock_packed_set_driver_event(struct mock_vq *vq, uint16_t flags, uint16_t desc)
{
	if (vq->layout != MOCK_PACKED)
		MOCK_DIE("packed access to a split queue");
	write16(&vq->driver_event->desc, desc);
	store_release16(&vq->driver_event->flags, flags);
}

void mock_packed_device_event(const struct mock_vq *vq, uint16_t *flags, uint16_t *desc)
{
	if (vq->layout != MOCK_PACKED)
		MOCK_DIE("packed access to a split queue");
	*flags = load_acquire16(&vq->device_event->flags);
	*desc = read16(&vq->device_event->desc);
}
