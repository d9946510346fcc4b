/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The layout-independent part of the device-side virtqueue: dispatch to the
 * layout, per-id bookkeeping, and VIRTIO_F_IN_ORDER completion ordering.
 */
#include <errno.h>
#include <string.h>

#include "devq_impl.h"
#include "vio/virtio.h"

/* Where the per-id arrays sit after the slots; returns the total size. */
static size_t layout(struct vio_devq *q, uint32_t num)
{
	size_t off = sizeof(struct vio_devq) + (size_t)num * sizeof(struct devq_slot);
	char *base = (char *)q;

	off = (off + 7) & ~(size_t)7;
#define ARRAY(field, type, count)                                      \
	do {                                                            \
		if (q)                                                  \
			q->field = (type *)(void *)(base + off);        \
		off += (size_t)(count) * sizeof(type);                  \
	} while (0)
	ARRAY(log_key, uint64_t, num);
	ARRAY(order, uint16_t, num);
	ARRAY(log_links, uint16_t, num);
	ARRAY(log_first, uint16_t, num);
	ARRAY(log_ndesc, uint16_t, num);
	ARRAY(log_avail_end, uint16_t, num);
	ARRAY(log_batch, uint16_t, num);
	ARRAY(log_resub, uint16_t, num);
	ARRAY(log_taken, uint8_t, 2 * num);
#undef ARRAY
	return (off + 7) & ~(size_t)7;
}

size_t vio_devq_size(uint32_t num)
{
	if (num == 0 || num > VIRTQ_MAX_SIZE)
		return 0;
	return layout(NULL, num);
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
	int r;

	if (!vio_devq_size(cfg->num) || !cfg->desc || !cfg->driver || !cfg->device || !cfg->mem)
		return -EINVAL;
	memset(q, 0, vio_devq_size(cfg->num));
	q->num = cfg->num;
	q->packed = vio_has_feature(cfg->features, VIRTIO_F_RING_PACKED);
	q->event_idx = vio_has_feature(cfg->features, VIRTIO_F_EVENT_IDX);
	q->indirect = vio_has_feature(cfg->features, VIRTIO_F_INDIRECT_DESC);
	q->in_order = vio_has_feature(cfg->features, VIRTIO_F_IN_ORDER);
	q->mem = cfg->mem;
	layout(q, cfg->num);
	r = q->packed ? packed_init(q, cfg) : split_init(q, cfg);
	if (r)
		return r;
	inflight_init(q, cfg->inflight, cfg->inflight_size);
	return 0;
}

void vio_devq_set_mem(struct vio_devq *q, const struct vio_mem *mem)
{
	q->mem = mem;
}

/* One chain the general way (every shape, the inflight log): as vio_devq_pop(). */
static int pop_one(struct vio_devq *q, struct vio_chain *c, const struct pvirtq_desc *first)
{
	uint16_t id;

	/* Chains a previous process popped and never completed come first. */
	if (q->log && inflight_next_resubmit(q, &id))
		return q->packed ? packed_resubmit(q, c, id) : split_resubmit(q, c, id);
	return q->packed ? packed_pop(q, c, first) : split_pop(q, c);
}

int vio_devq_pop_burst(struct vio_devq *q, struct vio_chain *c, uint32_t n)
{
	uint32_t i = 0;

	if (q->broken)
		return -EIO;
	while (i < n) {
		struct pvirtq_desc stop;
		bool stopped = false;
		int r;

		/* Runs of one-descriptor buffers in a tight loop; whatever it
		 * stops at (another shape, an error) the general way, from
		 * the copy the fast path made of it. */
		if (q->packed && !q->log) {
			uint32_t k = packed_pop_fast(q, c + i, n - i, &stop, &stopped);

			i += k;
			if (i == n)
				break;
			if (k && !stopped)
				continue; /* it stopped at its own limit */
		}
		c[i].truncated = 0;
		r = pop_one(q, &c[i], stopped ? &stop : NULL);
		if (r == -ENOBUFS) {
			c[i].truncated = 1;
			r = 1;
		}
		if (r != 1)
			return i ? (int)i : r;
		i++;
	}
	return (int)n;
}

int vio_devq_pop(struct vio_devq *q, struct vio_chain *c)
{
	int r = vio_devq_pop_burst(q, c, 1);

	return r == 1 && c->truncated ? -ENOBUFS : r;
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
	/* Locals and restrict: the slot stores (chars) could otherwise alias
	 * the fields of *q, loaded again after each. */
	struct devq_slot *restrict slots = q->slots;
	const uint16_t *restrict order = q->order;
	uint32_t num = q->num, head = q->order_head, count = q->order_count;
	bool log = q->log != NULL;

	while (count) {
		uint32_t nbufs = 0, ndesc = 0, len = 0, at = head;
		uint16_t id = 0;

		while (nbufs < count) {
			uint16_t next = order[at];
			struct devq_slot *s = &slots[next];

			if (!s->done)
				break;
			id = next;
			if (log)
				(void)inflight_used(q, id); /* bounded: ids in order are in flight */
			len = s->len;
			ndesc += s->ndesc;
			s->inflight = 0;
			s->done = 0;
			nbufs++;
			if (++at == num)
				at = 0;
			/* A partial one must report its own length; so must one whose
			 * writable size did not fit the 32-bit length (2^32 bytes). */
			if (len != s->in_bytes || s->in_bytes == UINT32_MAX)
				break;
		}
		if (!nbufs)
			break;
		head = at;
		count -= nbufs;
		q->order_head = head;
		q->order_count = count;
		if (!q->broken)
			write_used(q, id, len, (uint16_t)nbufs, ndesc);
	}
}

/*
 * vio_devq_push_burst() with IN_ORDER, without log or broken ring: the
 * checks and bookkeeping of push_one(), per element; the used elements are
 * written at the next flush (in_order_drain()).
 */
static uint32_t in_order_push_fast(struct vio_devq *q, const struct vio_used *restrict u,
				   uint32_t n)
{
	struct devq_slot *restrict slots = q->slots;
	uint32_t i, num = q->num;

	for (i = 0; i < n; i++) {
		uint16_t id = u[i].id;
		uint32_t len = u[i].len;
		struct devq_slot *s;

		if (id >= num)
			break; /* push_one() refuses it */
		s = &slots[id];
		if (!s->inflight || s->done)
			break;
		s->done = 1;
		s->len = len < s->in_bytes ? len : s->in_bytes;
	}
	q->inflight -= i;
	return i;
}

/* Marks one chain used: 0, -EINVAL (not in flight) or -EIO (broken, bookkeeping done). */
static int push_one(struct vio_devq *q, uint16_t id, uint32_t len)
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
	if (q->log && inflight_used(q, id))
		return -EIO;
	write_used(q, id, len, 1, s->ndesc);
	return 0;
}

int vio_devq_push_burst(struct vio_devq *q, const struct vio_used *u, uint32_t n)
{
	uint32_t i = 0;
	int err = 0;

	if (!q->log && !q->broken)
		i = q->in_order ? in_order_push_fast(q, u, n)
		    : q->packed ? packed_push_fast(q, u, n) : 0;
	for (; i < n; i++) {
		int r = push_one(q, u[i].id, u[i].len);

		if (r == -EINVAL)
			break;
		if (r)
			err = r;
	}
	return err ? err : (int)i;
}

int vio_devq_push(struct vio_devq *q, uint16_t id, uint32_t len)
{
	struct vio_used u = { id, len };
	int r = vio_devq_push_burst(q, &u, 1);

	return r == 1 ? 0 : r == 0 ? -EINVAL : r;
}

int vio_devq_flush(struct vio_devq *q)
{
	int r;

	if (q->in_order)
		in_order_drain(q);
	if (q->broken)
		return 0;
	if (!q->log)
		return q->packed ? packed_flush(q) : split_flush(q);
	/* The log names the batch before the driver can see it, and forgets
	 * it only after (see inflight.c). */
	inflight_publish_begin(q);
	r = q->packed ? packed_flush(q) : split_flush(q);
	inflight_publish_end(q);
	return r;
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

uint32_t vio_devq_recovered(const struct vio_devq *q)
{
	return q->log_resub_n;
}

const char *vio_devq_error(const struct vio_devq *q)
{
	return q->broken ? q->err : NULL;
}
