/* SPDX-License-Identifier: BSD-3-Clause */
/* The split virtqueue, device side (VIRTIO 1.4 §2.7). */
#include <errno.h>
#include <string.h>

#include "atomic.h"
#include "devq_impl.h"
#include "vio/virtio.h"

int split_init(struct vio_devq *q, const struct vio_devq_config *cfg)
{
	if (cfg->num & (cfg->num - 1))
		return -EINVAL; /* VIRTIO 1.4 §2.7: Queue Size is a power of 2 */
	if (((uintptr_t)cfg->desc & 15) || ((uintptr_t)cfg->driver & 1) ||
	    ((uintptr_t)cfg->device & 3))
		return -EINVAL; /* alignment table of VIRTIO 1.4 §2.7 */
	if (cfg->base > 0xffff)
		return -EINVAL;
	q->desc = cfg->desc;
	q->avail = cfg->driver;
	q->used = cfg->device;
	q->last_avail_idx = (uint16_t)cfg->base;
	/* vhost-user: the next used index is the one in the used ring. */
	q->used_idx = vio_le16_read(&q->used->idx);
	q->signalled_used = q->used_idx;
	return 0;
}

/*
 * Copies descriptor @i of an indirect table at guest address @table: one
 * snapshot, never read again. 0, or -EIO after marking the queue broken.
 */
static int read_indirect(struct vio_devq *q, uint64_t table, uint32_t i, struct virtq_desc *d)
{
	if (vio_mem_read(q->mem, table + 16ull * i, d, sizeof(*d)))
		return devq_fail(q, "indirect table outside guest memory");
	return 0;
}

/* Walks the indirect table described by @d; 0 or -EIO. */
static int walk_indirect(struct vio_devq *q, struct chain_walk *w, const struct virtq_desc *d)
{
	uint64_t table = le64_to_cpu(d->addr);
	uint32_t len = le32_to_cpu(d->len);
	uint32_t entries = len / 16, i = 0, links = 0;

	/* VIRTIO 1.4 §2.7.5.3.1 */
	if (le16_to_cpu(d->flags) & VIRTQ_DESC_F_NEXT)
		return devq_fail(q, "VIRTQ_DESC_F_INDIRECT together with VIRTQ_DESC_F_NEXT");
	if (chain_indirect_check(q, table, len))
		return -EIO;
	for (;;) {
		struct virtq_desc id;
		uint16_t flags;

		if (++links > entries)
			return devq_fail(q, "indirect chain longer than its table (loop)");
		if (read_indirect(q, table, i, &id))
			return -EIO;
		flags = le16_to_cpu(id.flags);
		if (flags & VIRTQ_DESC_F_INDIRECT)
			return devq_fail(q, "nested indirect descriptor");
		if (chain_add(q, w, le64_to_cpu(id.addr), le32_to_cpu(id.len),
			      flags & VIRTQ_DESC_F_WRITE))
			return -EIO;
		if (!(flags & VIRTQ_DESC_F_NEXT))
			return 0;
		i = le16_to_cpu(id.next);
		if (i >= entries)
			return devq_fail(q, "indirect next out of range");
	}
}

/*
 * Copies descriptor @src of the shared table into @d, the one read of it:
 * two 8-byte loads the compiler may neither repeat nor split (the table is
 * 16-aligned, so each is single-copy atomic), hence no field can be fetched
 * twice (DESIGN.md §4). A memcpy() here was a call into libc for every
 * descriptor: the ring builds freestanding, so it is not inlined.
 */
static inline void read_desc(const struct virtq_desc *src, struct virtq_desc *d)
{
	const uint64_t *w = (const uint64_t *)(const void *)src;
	uint64_t v[2] = { VIO_READ_ONCE(w[0]), VIO_READ_ONCE(w[1]) };

	__builtin_memcpy(d, v, sizeof(*d)); /* registers to a local: no call */
}

/* Walks the chain starting at @head; fills @w; 0 or -EIO. */
static inline int walk_chain(struct vio_devq *q, struct chain_walk *w, uint16_t head,
			     uint16_t *ndesc)
{
	uint32_t i = head, links = 0;

	for (;;) {
		struct virtq_desc d;
		uint16_t flags;

		/* Bounded by construction: at most Queue Size links. */
		if (++links > q->num)
			return devq_fail(q, "descriptor chain longer than the queue (loop)");
		read_desc(&q->desc[i], &d); /* the one read of this descriptor */
		flags = le16_to_cpu(d.flags);
		*ndesc = (uint16_t)links;
		if (flags & VIRTQ_DESC_F_INDIRECT)
			return walk_indirect(q, w, &d);
		if (chain_add(q, w, le64_to_cpu(d.addr), le32_to_cpu(d.len),
			      flags & VIRTQ_DESC_F_WRITE))
			return -EIO;
		if (!(flags & VIRTQ_DESC_F_NEXT))
			return 0;
		i = le16_to_cpu(d.next);
		if (i >= q->num)
			return devq_fail(q, "next out of range");
	}
}

int split_pop(struct vio_devq *q, struct vio_chain *c)
{
	struct chain_walk w;
	uint16_t avail_idx, head, ndesc = 0;

	/* Pairs with the driver's write of avail->idx after the ring entry
	 * and the descriptors (VIRTIO 1.4 §2.7.13.3.1). */
	avail_idx = vio_le16_load_acquire(&q->avail->idx);
	if (avail_idx == q->last_avail_idx)
		return 0;
	if ((uint16_t)(avail_idx - q->last_avail_idx) > q->num)
		return devq_fail(q, "available index moved more than the queue size");
	head = vio_le16_read(&q->avail->ring[q->last_avail_idx & (q->num - 1)]);
	if (head >= q->num)
		return devq_fail(q, "head out of range");
	if (q->slots[head].inflight)
		return devq_fail(q, "head already in flight");
	chain_begin(&w, c);
	if (walk_chain(q, &w, head, &ndesc) || devq_take(q, c, head, ndesc))
		return -EIO;
	q->last_avail_idx++;
	return w.overflow ? -ENOBUFS : 1;
}

/* Pops again chain @head, in flight in a previous process (inflight log). */
int split_resubmit(struct vio_devq *q, struct vio_chain *c, uint16_t head)
{
	struct chain_walk w;
	uint16_t ndesc = 0;
	int r;

	if (head >= q->num || q->slots[head].inflight)
		return devq_fail(q, "inflight log: head out of range or in flight");
	chain_begin(&w, c);
	if (walk_chain(q, &w, head, &ndesc))
		return -EIO;
	q->resubmitting = true;
	r = devq_take(q, c, head, ndesc);
	q->resubmitting = false;
	if (r)
		return -EIO;
	return w.overflow ? -ENOBUFS : 1;
}

void split_push(struct vio_devq *q, uint16_t id, uint32_t len, uint16_t nbufs, uint32_t ndesc)
{
	struct virtq_used_elem *e = &q->used->ring[q->used_idx & (q->num - 1)];

	(void)ndesc;
	/* VIRTIO 1.4 §2.7.8.2: len is set before the used idx moves (flush).
	 * §2.7.9: with IN_ORDER one element stands for a batch; the used index
	 * moves by the batch size. */
	VIO_WRITE_ONCE(e->id.v, cpu_to_le32(id).v);
	VIO_WRITE_ONCE(e->len.v, cpu_to_le32(len).v);
	q->used_idx = (uint16_t)(q->used_idx + nbufs);
}

int split_flush(struct vio_devq *q)
{
	uint16_t old = q->signalled_used, new_idx = q->used_idx;

	if (old == new_idx)
		return 0;
	/* Pairs with the driver's acquire load of used->idx: the elements and
	 * the buffers written before are visible first (VIRTIO 1.4 §2.7.8.2). */
	vio_le16_store_release(&q->used->idx, new_idx);
	q->signalled_used = new_idx;
	/* Store-load: our used->idx store before reading the driver's
	 * suppression fields, pairing with the driver's full barrier between
	 * writing them and re-reading used->idx. */
	vio_mb();
	/* VIRTIO 1.4 §2.7.7.2 */
	if (q->event_idx)
		return vring_need_event(vio_le16_read(virtq_used_event(q->avail, q->num)),
					new_idx, old);
	return !(vio_le16_read(&q->avail->flags) & VIRTQ_AVAIL_F_NO_INTERRUPT);
}

void split_kick_disable(struct vio_devq *q)
{
	/* VIRTIO 1.4 §2.7.10.2: with EVENT_IDX flags stay 0. */
	if (!q->event_idx)
		vio_le16_write(&q->used->flags, VIRTQ_USED_F_NO_NOTIFY);
}

int split_kick_enable(struct vio_devq *q)
{
	if (q->event_idx)
		vio_le16_write(virtq_avail_event(q->used, q->num), q->last_avail_idx);
	else
		vio_le16_write(&q->used->flags, 0);
	/* Store-load: publish the request for a kick before re-reading
	 * avail->idx; pairs with the driver's barrier between writing
	 * avail->idx and reading avail_event / used flags. */
	vio_mb();
	return vio_le16_load_acquire(&q->avail->idx) != q->last_avail_idx;
}

uint32_t split_base(const struct vio_devq *q)
{
	return q->last_avail_idx;
}
