/* SPDX-License-Identifier: BSD-3-Clause */
/* The split virtqueue, driver side (VIRTIO 1.4 §2.7). */
#include <errno.h>
#include <string.h>

#include "atomic.h"
#include "drvq_impl.h"
#include "vio/virtio.h"

int split_drv_init(struct vio_drvq *q, const struct vio_drvq_config *cfg)
{
	uint32_t i;

	q->split.desc = cfg->desc;
	q->split.avail = cfg->driver;
	q->split.used = cfg->device;
	q->split.avail_shadow = (uint16_t *)(void *)&q->slot[q->num];
	/* VIRTIO 1.4 §2.7.10.1: used flags start at 0; all indices 0. */
	memset(cfg->desc, 0, virtq_desc_size(q->num));
	memset(cfg->driver, 0, virtq_avail_size(q->num));
	memset(cfg->device, 0, virtq_used_size(q->num));
	/* Free list 0, 1, ..., num-1 (the last link is never followed:
	 * num_free says when the list ends). */
	for (i = 0; i < q->num; i++)
		q->slot[i].link = (uint16_t)(i + 1);
	q->split.free_head = 0;
	q->num_free = q->num;
	return 0;
}

static void put_desc(struct virtq_desc *d, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	struct virtq_desc v = {
		.addr = cpu_to_le64(addr),
		.len = cpu_to_le32(len),
		.flags = cpu_to_le16(flags),
		.next = cpu_to_le16(next),
	};

	/* Plain stores: the device reads them only after our release store
	 * of avail->idx (kick_prepare), and we rewrite them only after
	 * taking the buffer back through an acquire of used->idx. */
	*d = v;
}

/* VIRTIO 1.4 §2.7.13.1: readable segments first, then WRITE ones (§2.7.4.2). */
static uint16_t seg_flags(uint32_t k, uint32_t nout, uint32_t n)
{
	return (uint16_t)((k >= nout ? VIRTQ_DESC_F_WRITE : 0) | (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
}

int split_drv_add(struct vio_drvq *q, const struct vio_sg *sg, uint32_t nout, uint32_t n,
		  uint32_t in_bytes, void *token)
{
	bool indirect = n > 1 && n <= q->ind_max;
	uint32_t need = indirect ? 1 : n, k, mask = q->num - 1;
	uint16_t head = q->split.free_head, i = head, last = head;
	struct drvq_slot *s;

	if (need > q->num_free)
		return -ENOSPC;
	if (indirect) {
		struct virtq_desc *t = drvq_ind_table(q, head);

		/* VIRTIO 1.4 §2.7.5.3: entries 0, 1, 2, ... chained by next
		 * (also the sequential order §2.7.5.3.1 asks for with IN_ORDER). */
		for (k = 0; k < n; k++)
			put_desc(&t[k], sg[k].addr, sg[k].len, seg_flags(k, nout, n),
				 (uint16_t)(k + 1 < n ? k + 1 : 0));
		/* §2.7.5.3.1: INDIRECT without NEXT (WRITE: 0; the device
		 * ignores it there, §2.7.5.3.2). */
		put_desc(&q->split.desc[head], drvq_ind_addr(q, head), 16u * n,
			 VIRTQ_DESC_F_INDIRECT, 0);
		q->split.free_head = q->in_order ? (uint16_t)((head + 1) & mask) : q->slot[head].link;
	} else if (q->in_order) {
		/* VIRTIO 1.4 §2.7.5: with IN_ORDER descriptors are used in ring
		 * order, wrapping at the end of the table; §2.7.5.2: next is
		 * x + 1, and 0 after the last descriptor of the table. The
		 * buffers before were used in that order too, so the free
		 * descriptors are the num_free from free_head on. */
		for (k = 0; k < n; k++) {
			uint16_t nx = (uint16_t)((i + 1) & mask);

			put_desc(&q->split.desc[i], sg[k].addr, sg[k].len, seg_flags(k, nout, n),
				 k + 1 < n ? nx : 0);
			last = i;
			i = nx;
		}
		q->split.free_head = i;
	} else {
		/* Free descriptors in link order; next is our link, never
		 * read back from the shared table. */
		for (k = 0; k < n; k++) {
			uint16_t nx = q->slot[i].link;

			put_desc(&q->split.desc[i], sg[k].addr, sg[k].len, seg_flags(k, nout, n),
				 k + 1 < n ? nx : 0);
			last = i;
			i = nx;
		}
		q->split.free_head = i;
	}
	q->num_free -= need;
	q->inflight++;

	s = &q->slot[head];
	s->token = token;
	s->in_bytes = in_bytes;
	s->ndesc = (uint16_t)need;
	s->last = last;
	s->indirect = indirect;
	s->state = DRVQ_ADDED;
	if (q->in_order)
		s->link = q->split.avail_idx; /* where a batch ending here starts: see get_used */

	/* VIRTIO 1.4 §2.7.13.2: the head into the next ring entry; the
	 * device reads it only after the release store of idx. */
	vio_le16_write(&q->split.avail->ring[q->split.avail_idx & mask], head);
	q->split.avail_shadow[q->split.avail_idx & mask] = head;
	q->split.avail_idx++;
	return 0;
}

int split_drv_kick_prepare(struct vio_drvq *q)
{
	uint16_t old = q->split.published, new_idx = q->split.avail_idx, i;

	if (old == new_idx)
		return 0;
	for (i = old; i != new_idx; i++)
		q->slot[q->split.avail_shadow[i & (q->num - 1)]].state = DRVQ_AVAIL;
	/* VIRTIO 1.4 §2.7.13.3.1: descriptors, indirect tables and ring
	 * entries before idx. Pairs with the device's acquire load of
	 * avail->idx before it reads the ring (split_pop). */
	vio_le16_store_release(&q->split.avail->idx, new_idx);
	q->split.published = new_idx;
	/* VIRTIO 1.4 §2.7.13.4.1: store-load, our idx store before reading
	 * avail_event / flags. Pairs with the device's full barrier between
	 * writing avail_event / flags and re-reading avail->idx
	 * (split_kick_enable): one of us sees the other's store, so a kick
	 * is never lost. */
	vio_mb();
	/* VIRTIO 1.4 §2.7.10.1 */
	if (q->event_idx)
		return vring_need_event(vio_le16_read(virtq_avail_event(q->split.used, q->num)),
					new_idx, old);
	return !(vio_le16_read(&q->split.used->flags) & VIRTQ_USED_F_NO_NOTIFY);
}

/* split_drv_release(), inline for get_used. */
static inline void release(struct vio_drvq *q, uint16_t id)
{
	struct drvq_slot *s = &q->slot[id];

	/* IN_ORDER: buffers come back in ring order, so the descriptors
	 * freed are the ones right after the free ones: nothing to link.
	 * (A detach frees out of order, but leaves the queue broken.) */
	if (!q->in_order) {
		q->slot[s->last].link = q->split.free_head;
		q->split.free_head = id;
	}
	q->num_free += s->ndesc;
	q->inflight--;
	s->state = DRVQ_FREE;
	s->token = NULL;
}

void split_drv_release(struct vio_drvq *q, uint16_t id)
{
	release(q, id);
}

/* Hands out the next buffer of an IN_ORDER batch (q->batch_left > 0). */
static int batch_next(struct vio_drvq *q, void **token, uint32_t *len)
{
	uint16_t id = q->split.avail_shadow[q->split.last_used & (q->num - 1)];

	/* VIRTIO 1.4 §2.7.9: the skipped buffers were used in full. */
	*len = --q->batch_left ? q->slot[id].in_bytes : q->batch_len;
	*token = q->slot[id].token;
	release(q, id);
	q->split.last_used++;
	return 1;
}

int split_drv_get_used(struct vio_drvq *q, void **token, uint32_t *len)
{
	struct virtq_used_elem *e;
	uint16_t used_idx, pending, unpublished;
	uint32_t id, l;

	if (q->batch_left)
		return batch_next(q, token, len);
	/* Pairs with the device's release store of used->idx after the used
	 * element and the buffer contents (VIRTIO 1.4 §2.7.8.2, split_flush). */
	used_idx = vio_le16_load_acquire(&q->split.used->idx);
	pending = (uint16_t)(used_idx - q->split.last_used);
	if (!pending)
		return 0;
	/* The device cannot have used more than we made available. */
	unpublished = (uint16_t)(q->split.avail_idx - q->split.published);
	if (pending > q->inflight - unpublished)
		return drvq_fail(q, "used index moved past the buffers made available");
	e = &q->split.used->ring[q->split.last_used & (q->num - 1)];
	/* One read of each field; the acquire above orders them. */
	id = le32_to_cpu((le32){ VIO_READ_ONCE(e->id.v) });
	l = le32_to_cpu((le32){ VIO_READ_ONCE(e->len.v) });
	if (id >= q->num)
		return drvq_fail(q, "used id out of range");
	if (q->slot[id].state != DRVQ_AVAIL)
		return drvq_fail(q, "used id not in flight");
	/* VIRTIO 1.4 §2.7.8.2: len is what the device wrote into the
	 * device-writable part; more than that part is a lie. */
	if (l > q->slot[id].in_bytes)
		return drvq_fail(q, "used length larger than the device-writable part");
	if (q->in_order) {
		/* VIRTIO 1.4 §2.7.9: the element at last_used names the head of
		 * the last buffer of a batch that starts at last_used, and the
		 * used index moved by the batch size. The buffers in flight
		 * are exactly the entries [last_used, published) of our
		 * shadow, and each head's link says which entry it is. */
		uint16_t k = (uint16_t)(q->slot[id].link - q->split.last_used);

		if (k >= pending)
			return drvq_fail(q, "used batch longer than the used index moved");
		q->batch_left = k + 1u;
		q->batch_len = l;
		return batch_next(q, token, len);
	}
	*token = q->slot[id].token;
	*len = l;
	release(q, (uint16_t)id);
	q->split.last_used++;
	return 1;
}

void split_drv_cb_disable(struct vio_drvq *q)
{
	if (q->event_idx) {
		/* VIRTIO 1.4 §2.7.7.1: flags stay 0; ask for the notification
		 * as far away as it goes. The device's used idx is never more
		 * than num ahead of last_used, so it does not reach it before
		 * cb_enable() moves it back. */
		vio_le16_write(virtq_used_event(q->split.avail, q->num),
			       (uint16_t)(q->split.last_used - 1));
	} else if (!q->split.avail_flags) {
		q->split.avail_flags = VIRTQ_AVAIL_F_NO_INTERRUPT;
		vio_le16_write(&q->split.avail->flags, VIRTQ_AVAIL_F_NO_INTERRUPT);
	}
}

int split_drv_cb_enable(struct vio_drvq *q)
{
	/* VIRTIO 1.4 §2.7.7.1: interrupt at the next used entry. */
	if (q->event_idx) {
		vio_le16_write(virtq_used_event(q->split.avail, q->num), q->split.last_used);
	} else if (q->split.avail_flags) {
		q->split.avail_flags = 0;
		vio_le16_write(&q->split.avail->flags, 0);
	}
	/* Store-load, our request for a notification before re-reading
	 * used->idx (the re-check of VIRTIO 1.4 §2.7.14). Pairs with the
	 * device's full barrier between storing used->idx and reading
	 * used_event / flags (split_flush): one of us sees the other. */
	vio_mb();
	return vio_le16_read(&q->split.used->idx) != q->split.last_used;
}
