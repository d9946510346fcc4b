/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The layout-independent part of the device-side virtqueue: dispatch to the
 * layout, per-id bookkeeping, and VIRTIO_F_IN_ORDER completion ordering.
 */
#include <errno.h>
#include <string.h>

#include "devq_impl.h"
#include "vio/virtio.h"

size_t vio_devq_size(uint32_t num)
{
	if (num == 0 || num > VIRTQ_MAX_SIZE)
		return 0;
	return sizeof(struct vio_devq) + (size_t)num * sizeof(struct devq_slot) +
	       (size_t)num * sizeof(uint16_t);
}

int devq_fail(struct vio_devq *q, const char *why)
{
	if (!q->broken) {
		q->broken = true;
		q->err = why;
	}
	return -EIO;
}

int vio_devq_init(struct vio_devq *q, const struct vio_devq_config *cfg)
{
	if (!vio_devq_size(cfg->num) || !cfg->desc || !cfg->driver || !cfg->device || !cfg->mem)
		return -EINVAL;
	memset(q, 0, vio_devq_size(cfg->num));
	q->num = cfg->num;
	q->packed = vio_has_feature(cfg->features, VIRTIO_F_RING_PACKED);
	q->event_idx = vio_has_feature(cfg->features, VIRTIO_F_EVENT_IDX);
	q->indirect = vio_has_feature(cfg->features, VIRTIO_F_INDIRECT_DESC);
	q->in_order = vio_has_feature(cfg->features, VIRTIO_F_IN_ORDER);
	q->mem = cfg->mem;
	q->order = (uint16_t *)(void *)&q->slots[cfg->num];
	return q->packed ? packed_init(q, cfg) : split_init(q, cfg);
}

void vio_devq_set_mem(struct vio_devq *q, const struct vio_mem *mem)
{
	q->mem = mem;
}

int devq_take(struct vio_devq *q, struct vio_chain *c, uint16_t id, uint16_t ndesc)
{
	struct devq_slot *s;

	if (id >= q->num)
		return devq_fail(q, "buffer id out of range");
	s = &q->slots[id];
	if (s->inflight)
		return devq_fail(q, "buffer id already in flight");
	s->inflight = 1;
	s->done = 0;
	s->ndesc = ndesc;
	s->in_bytes = c->in_bytes > UINT32_MAX ? UINT32_MAX : (uint32_t)c->in_bytes;
	q->inflight++;
	if (q->in_order)
		q->order[(q->order_head + q->order_count++) % q->num] = id;
	c->id = id;
	c->ndesc = ndesc;
	return 0;
}

int vio_devq_pop(struct vio_devq *q, struct vio_chain *c)
{
	if (q->broken)
		return -EIO;
	return q->packed ? packed_pop(q, c) : split_pop(q, c);
}

static void write_used(struct vio_devq *q, uint16_t id, uint32_t len, uint16_t nbufs,
		       uint32_t ndesc)
{
	if (q->packed)
		packed_push(q, id, len, nbufs, ndesc);
	else
		split_push(q, id, len, nbufs, ndesc);
}

/*
 * IN_ORDER (VIRTIO 1.4 §2.7.9, §2.8.8): buffers are used in the order they
 * were made available. Writes used elements for the completed buffers at the
 * front of the pop order; consecutive buffers used in full are merged into
 * one element carrying the id of the last of them, as the driver then
 * assumes the skipped ones were used completely.
 */
static void in_order_drain(struct vio_devq *q)
{
	while (q->order_count) {
		uint16_t nbufs = 0, id = 0;
		uint32_t ndesc = 0, len = 0;

		while (nbufs < q->order_count) {
			struct devq_slot *s = &q->slots[q->order[(q->order_head + nbufs) % q->num]];

			if (!s->done)
				break;
			id = q->order[(q->order_head + nbufs) % q->num];
			len = s->len;
			ndesc += s->ndesc;
			s->inflight = 0;
			s->done = 0;
			nbufs++;
			/* A partial one must report its own length; so must one whose
			 * writable size did not fit the 32-bit length (2^32 bytes). */
			if (len != s->in_bytes || s->in_bytes == UINT32_MAX)
				break;
		}
		if (!nbufs)
			return;
		q->order_head = (q->order_head + nbufs) % q->num;
		q->order_count -= nbufs;
		if (!q->broken)
			write_used(q, id, len, nbufs, ndesc);
	}
}

int vio_devq_push(struct vio_devq *q, uint16_t id, uint32_t len)
{
	struct devq_slot *s;

	if (id >= q->num || !q->slots[id].inflight || q->slots[id].done)
		return -EINVAL;
	s = &q->slots[id];
	if (len > s->in_bytes)
		len = s->in_bytes;
	q->inflight--;
	if (q->in_order) {
		s->done = 1;
		s->len = len; /* written in pop order, at the next flush */
		return q->broken ? -EIO : 0;
	}
	s->inflight = 0;
	if (q->broken)
		return -EIO; /* bookkeeping only: a broken ring is not written */
	write_used(q, id, len, 1, s->ndesc);
	return 0;
}

int vio_devq_flush(struct vio_devq *q)
{
	if (q->in_order)
		in_order_drain(q);
	if (q->broken)
		return 0;
	return q->packed ? packed_flush(q) : split_flush(q);
}

void vio_devq_kick_disable(struct vio_devq *q)
{
	if (q->broken)
		return;
	if (q->packed)
		packed_kick_disable(q);
	else
		split_kick_disable(q);
}

int vio_devq_kick_enable(struct vio_devq *q)
{
	if (q->broken)
		return 0;
	return q->packed ? packed_kick_enable(q) : split_kick_enable(q);
}

uint32_t vio_devq_base(const struct vio_devq *q)
{
	return q->packed ? packed_base(q) : split_base(q);
}

uint32_t vio_devq_inflight(const struct vio_devq *q)
{
	return q->inflight;
}

const char *vio_devq_error(const struct vio_devq *q)
{
	return q->broken ? q->err : NULL;
}
