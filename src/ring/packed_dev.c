/* SPDX-License-Identifier: BSD-3-Clause */
/* The packed virtqueue, device side (VIRTIO 1.4 §2.8). */
#include <errno.h>

#include "atomic.h"
#include "devq_impl.h"
#include "ring_pos.h"

#define BASE_WRAP (1u << 15)
#define FAST_MAX  64u /* most buffers one pass of the fast path takes */

int packed_init(struct vio_devq *q, const struct vio_devq_config *cfg)
{
	uint32_t avail = cfg->base & 0xffff, used = cfg->base >> 16;

	if (((uintptr_t)cfg->desc & 15) || ((uintptr_t)cfg->driver & 3) ||
	    ((uintptr_t)cfg->device & 3))
		return -EINVAL; /* VIRTIO 1.4 §2.8.10.1 */
	/* vhost-user "vring descriptor indices for packed virtqueues". */
	if ((avail & ~BASE_WRAP) >= cfg->num || (used & ~BASE_WRAP) >= cfg->num)
		return -EINVAL;
	q->pdesc = cfg->desc;
	q->driver_event = cfg->driver;
	q->device_event = cfg->device;
	q->next_avail = (uint16_t)(avail & ~BASE_WRAP);
	q->avail_wrap = avail & BASE_WRAP;
	q->next_used = (uint16_t)(used & ~BASE_WRAP);
	q->used_wrap = used & BASE_WRAP;
	q->signalled_pos = q->next_used;
	q->signalled_wrap = q->used_wrap;
	return 0;
}

uint32_t packed_base(const struct vio_devq *q)
{
	return (uint32_t)q->next_avail | (q->avail_wrap ? BASE_WRAP : 0) |
	       ((uint32_t)q->next_used << 16) | (q->used_wrap ? BASE_WRAP << 16 : 0);
}

/* VIRTIO 1.4 §2.8.1: available when AVAIL matches the driver's wrap counter and USED does not. */
static bool is_avail(uint16_t flags, bool wrap)
{
	return !!(flags & VIRTQ_DESC_F_AVAIL) == wrap && !!(flags & VIRTQ_DESC_F_USED) != wrap;
}

/* Moves ring position @pos by @n (<= num), flipping @wrap when it passes the end. */
static void advance(const struct vio_devq *q, uint16_t *pos, bool *wrap, uint32_t n)
{
	uint32_t p = *pos + n;

	if (p >= q->num) {
		p -= q->num;
		*wrap = !*wrap;
	}
	*pos = (uint16_t)p;
}

/* Walks the indirect table of descriptor @d (VIRTIO 1.4 §2.8.7); 0 or -EIO. */
static int walk_indirect(struct vio_devq *q, struct chain_walk *w, uint64_t table, uint32_t len)
{
	if (chain_indirect_check(q, table, len))
		return -EIO;
	for (uint32_t i = 0; i < len / 16; i++) {
		struct pvirtq_desc d;
		uint16_t flags;

		/* One snapshot of each entry. */
		if (vio_mem_read(q->mem, table + 16ull * i, &d, sizeof(d)))
			return devq_fail(q, "indirect table outside guest memory");
		flags = le16_to_cpu(d.flags);
		/* §2.8.19: only WRITE is valid; no table inside a table (DESIGN.md §4). */
		if (flags & VIRTQ_DESC_F_INDIRECT)
			return devq_fail(q, "nested indirect descriptor");
		if (chain_add(q, w, le64_to_cpu(d.addr), le32_to_cpu(d.len),
			      flags & VIRTQ_DESC_F_WRITE))
			return -EIO;
	}
	return 0;
}

/*
 * Pops the buffer whose first descriptor is at next_avail (VIRTIO 1.4 §2.8.5,
 * §2.8.6): descriptors in ring order while NEXT is set; the buffer id is in
 * the last one. Every descriptor of the list must already be available: the
 * driver makes the first available only after the rest (§2.8.17).
 */
int packed_pop(struct vio_devq *q, struct vio_chain *c, const struct pvirtq_desc *first)
{
	uint16_t pos = q->next_avail, id, start;
	bool wrap = q->avail_wrap, start_wrap;
	struct chain_walk w;
	uint32_t n = 0;

	chain_begin(&w, c);
	if (q->log)
		inflight_save_reset(q);
	for (;;) {
		/* The first descriptor from the copy the fast path made, if it
		 * made one: each field of the ring is read once a call. */
		const struct pvirtq_desc *d = n == 0 && first ? first : &q->pdesc[pos];
		uint64_t addr;
		uint32_t len;
		/* Pairs with the driver's store of flags after the descriptor
		 * (§2.8.21.1.1); the rest of the list was written before it. */
		uint16_t flags = vio_le16_load_acquire(&d->flags);
		if (!is_avail(flags, wrap)) {
			if (n == 0)
				return 0;
			return devq_fail(q, "descriptor list continues into a descriptor not available");
		}
		if (++n > q->num)
			return devq_fail(q, "descriptor list longer than the queue");
		addr = le64_to_cpu((le64){ VIO_READ_ONCE(d->addr.v) });
		len = le32_to_cpu((le32){ VIO_READ_ONCE(d->len.v) });
		id = vio_le16_read(&d->id);
		advance(q, &pos, &wrap, 1);
		/* The ring slot may be overwritten by a used descriptor while the
		 * buffer is still in flight: the log keeps a copy. */
		if (q->log && inflight_save_desc(q, addr, len, flags))
			return -EIO;
		if (flags & VIRTQ_DESC_F_INDIRECT) {
			/* §2.8.19: an indirect descriptor is a list of its own. */
			if (n > 1 || (flags & VIRTQ_DESC_F_NEXT))
				return devq_fail(q, "indirect descriptor inside a descriptor list");
			if (walk_indirect(q, &w, addr, len))
				return -EIO;
		} else if (chain_add(q, &w, addr, len, flags & VIRTQ_DESC_F_WRITE)) {
			return -EIO;
		}
		if (!(flags & VIRTQ_DESC_F_NEXT))
			break;
	}
	/* DESIGN.md §4: never more in flight than the ring holds. */
	if (q->desc_inflight + n > q->num)
		return devq_fail(q, "more descriptors in flight than the queue size");
	/* Past this list before devq_take(): the inflight log records there
	 * where the next pop starts. A take that breaks the queue leaves the
	 * position (the vring base) where it was. */
	start = q->next_avail;
	start_wrap = q->avail_wrap;
	q->next_avail = pos;
	q->avail_wrap = wrap;
	if (devq_take(q, c, id, (uint16_t)n)) {
		q->next_avail = start;
		q->avail_wrap = start_wrap;
		return -EIO;
	}
	q->desc_inflight += n;
	return w.overflow ? -ENOBUFS : 1;
}

/*
 * The fast path of vio_devq_pop_burst(): buffers of one direct descriptor
 * (no NEXT, no INDIRECT: §2.8.5, §2.8.6), writable or not, each wholly in
 * the guest memory region of the last buffer, with room for its iovec; no
 * inflight log (the caller's test). Pops such buffers into c[0..n-1] until
 * one is not; returns how many. Every check of packed_pop() and
 * devq_take() for such a buffer is made here; a buffer that fails one, or
 * has another shape, is left where it is (not popped, nothing written) for
 * packed_pop() to take or refuse: if it read any of that descriptor, *stop
 * is a copy of all of it, *stopped true, and packed_pop() starts from the
 * copy, so that no field of the ring is read twice in one pop.
 */
uint32_t packed_pop_fast(struct vio_devq *q, struct vio_chain *restrict c, uint32_t n,
			 struct pvirtq_desc *stop, bool *stopped)
{
	const uint16_t mask = VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED | VIRTQ_DESC_F_NEXT |
			      VIRTQ_DESC_F_INDIRECT;
	/* Locals, stored back at the end, and restrict: the stores to the
	 * chains and slots (chars among them) could otherwise alias any
	 * field of *q, loaded again after each. */
	struct pvirtq_desc *restrict ring = q->pdesc, *rend = ring + q->num, *d;
	struct devq_slot *restrict slots = q->slots;
	uint16_t sf[FAST_MAX / 4]; /* the flags the look ahead read, one per line */
	struct vio_chain *ch, *cend;
	const struct vio_mem_region *r;
	uint32_t i, num = q->num, pos = q->next_avail, got, k;
	uint64_t gpa, size;
	uint16_t want;
	char *hva;

	*stopped = false;
	if (q->mem_hint >= q->mem->nregions)
		return 0;
	r = &q->mem->regions[q->mem_hint];
	gpa = r->gpa;
	size = r->size;
	hva = r->hva;
	/* DESIGN.md §4: never more descriptors in flight than the ring holds. */
	if (n > num - q->desc_inflight)
		n = num - q->desc_inflight;
	if (n > FAST_MAX)
		n = FAST_MAX;
	/* §2.8.1: available: AVAIL equal to the wrap counter, USED not. */
	want = q->avail_wrap ? VIRTQ_DESC_F_AVAIL : VIRTQ_DESC_F_USED;
	got = packed_scan(ring, num, pos, want, mask, n, sf);
	/* Pointers rather than indices: fewer registers live in the loop. */
	d = &ring[pos];
	for (ch = c, cend = c + got, k = 0; ch != cend; ch++, k++) {
		uint32_t len, w, in;
		struct devq_slot *s;
		uint64_t addr, off;
		uint16_t flags, id;

		/* One copy of each field (DESIGN.md §4), the flags of the
		 * first of a line from the look ahead. Pairs with the driver's
		 * release store of flags (§2.8.21.1.1). */
		flags = (k & 3) ? vio_le16_load_acquire(&d->flags) : sf[k >> 2];
		addr = le64_to_cpu((le64){ VIO_READ_ONCE(d->addr.v) });
		len = le32_to_cpu((le32){ VIO_READ_ONCE(d->len.v) });
		id = vio_le16_read(&d->id);
		/* mem_gpa_ptr_hint(): inside the region, len >= 1, no end
		 * computed. An addr below gpa wraps off past size: a region
		 * never reaches 2^64 (vio_mem_add()). */
		off = addr - gpa;
		if ((flags & mask) != want || off >= size || (uint64_t)len - 1 >= size - off ||
		    id >= num || !ch->iov_cap || slots[id].inflight) {
			/* Not ours (devq_take() refuses an id in flight): the
			 * copy for packed_pop(). */
			*stop = (struct pvirtq_desc){ cpu_to_le64(addr), cpu_to_le32(len),
						      cpu_to_le16(id), cpu_to_le16(flags) };
			goto handoff;
		}
		s = &slots[id];
		w = (flags & VIRTQ_DESC_F_WRITE) ? 1 : 0; /* one iovec, readable or writable */
		in = len & (0u - w);
		ch->iov->iov_base = hva + off;
		ch->iov->iov_len = len;
		ch->id = id;
		ch->ndesc = 1;
		ch->nout = w ^ 1;
		ch->nin = w;
		ch->out_bytes = len - in;
		ch->in_bytes = in;
		ch->truncated = 0;
		s->in_bytes = in;
		s->ndesc = 1;
		s->inflight = 1;
		s->done = 0;
		if (++d == rend) {
			d = ring;
			want ^= VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED;
		}
	}
	if (got < n) {
		/* The look ahead stopped at this descriptor, its flags read:
		 * the rest of the copy for packed_pop(). */
		stop->flags = cpu_to_le16(sf[got >> 2]);
		stop->addr.v = VIO_READ_ONCE(d->addr.v);
		stop->len.v = VIO_READ_ONCE(d->len.v);
		stop->id.v = VIO_READ_ONCE(d->id.v);
handoff:
		*stopped = true;
	}
	i = (uint32_t)(ch - c);
	pos = (uint32_t)(d - ring);
	q->next_avail = (uint16_t)pos;
	q->avail_wrap = want == VIRTQ_DESC_F_AVAIL;
	q->inflight += i;
	q->desc_inflight += i;
	if (q->in_order) {
		/* The pop order, for push to complete in (devq_take()). */
		uint32_t at = order_pos(q, q->order_count);

		for (uint32_t j = 0; j < i; j++) {
			q->order[at] = c[j].id;
			if (++at == num)
				at = 0;
		}
		q->order_count += i;
	}
	return i;
}

/* Pops again buffer @id, in flight in a previous process, from its saved list. */
int packed_resubmit(struct vio_devq *q, struct vio_chain *c, uint16_t id)
{
	uint16_t n = q->log_ndesc[id], slot = 0, flags;
	struct chain_walk w;
	uint64_t addr;
	uint32_t len;
	int r;

	if (q->slots[id].inflight)
		return devq_fail(q, "inflight log: buffer id already in flight");
	chain_begin(&w, c);
	for (uint16_t i = 0; i < n; i++) {
		if (inflight_saved_desc(q, id, i, &slot, &addr, &len, &flags))
			return -EIO;
		if (flags & VIRTQ_DESC_F_INDIRECT) {
			if (n > 1)
				return devq_fail(q, "indirect descriptor inside a descriptor list");
			if (walk_indirect(q, &w, addr, len))
				return -EIO;
		} else if (chain_add(q, &w, addr, len, flags & VIRTQ_DESC_F_WRITE)) {
			return -EIO;
		}
	}
	q->resubmitting = true;
	r = devq_take(q, c, id, n);
	q->resubmitting = false;
	if (r)
		return -EIO;
	q->desc_inflight += n;
	return w.overflow ? -ENOBUFS : 1;
}

/* Writes the used descriptor of buffer @id, @len, which took @ndesc descriptors. */
static inline void push_desc(struct vio_devq *q, uint16_t id, uint32_t len, uint32_t ndesc)
{
	struct pvirtq_desc *d = &q->pdesc[q->next_used];
	/* §2.8.1: a used descriptor has AVAIL and USED equal to our wrap
	 * counter; §2.8.3: WRITE says the device wrote data. */
	uint16_t flags = (q->used_wrap ? VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED : 0) |
			 (len ? VIRTQ_DESC_F_WRITE : 0);

	VIO_WRITE_ONCE(d->id.v, cpu_to_le16(id).v);
	VIO_WRITE_ONCE(d->len.v, cpu_to_le32(len).v);
	if (!q->batch_pending) {
		/* The first of a batch is published last, by flush. */
		q->batch_pending = true;
		q->batch_first = q->next_used;
		q->batch_first_flags = flags;
	} else {
		vio_le16_write(&d->flags, flags);
	}
	/* §2.8.6, §2.8.8: skip the rest of the list (or batch). */
	q->desc_inflight -= ndesc;
	while (ndesc >= q->num) {
		advance(q, &q->next_used, &q->used_wrap, q->num);
		ndesc -= q->num;
	}
	advance(q, &q->next_used, &q->used_wrap, ndesc);
}

void packed_push(struct vio_devq *q, uint16_t id, uint32_t len, uint16_t nbufs, uint32_t ndesc)
{
	(void)nbufs;
	push_desc(q, id, len, ndesc);
}

/*
 * vio_devq_push_burst() without IN_ORDER, log or broken ring: the checks
 * and bookkeeping of push_one() and the used descriptor, per element.
 */
uint32_t packed_push_fast(struct vio_devq *q, const struct vio_used *restrict u, uint32_t n)
{
	const uint16_t both = VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED;
	/* Locals, restrict and pointers, as in packed_pop_fast(). */
	struct pvirtq_desc *restrict ring = q->pdesc, *rend = ring + q->num, *d;
	struct devq_slot *restrict slots = q->slots;
	const struct vio_used *e, *uend = u + n;
	uint32_t i, num = q->num, ndesc = 0;
	/* §2.8.1: a used descriptor has AVAIL and USED equal to our wrap counter. */
	uint16_t used = q->used_wrap ? both : 0;
	bool pending = q->batch_pending;

	/* The driver may hold these lines: it wrote them, or polls them. */
	packed_prefetch_w(ring, num, q->next_used, n);
	d = &ring[q->next_used];
	for (e = u; e != uend; e++) {
		uint16_t id = e->id, flags;
		uint32_t len = e->len, nd;
		struct devq_slot *s;

		if (id >= num)
			break; /* push_one() refuses it */
		s = &slots[id];
		if (!s->inflight)
			break;
		if (len > s->in_bytes)
			len = s->in_bytes;
		nd = s->ndesc;
		s->inflight = 0;
		/* As push_desc(): §2.8.3 WRITE when data was written; the
		 * first of a batch is published last, by flush. */
		VIO_WRITE_ONCE(d->id.v, cpu_to_le16(id).v);
		VIO_WRITE_ONCE(d->len.v, cpu_to_le32(len).v);
		flags = (uint16_t)(used | (len ? VIRTQ_DESC_F_WRITE : 0));
		if (!pending) {
			pending = true;
			q->batch_first = (uint16_t)(d - ring);
			q->batch_first_flags = flags;
		} else {
			vio_le16_write(&d->flags, flags);
		}
		/* §2.8.6: skip the rest of the list (nd <= num: one lap at most). */
		ndesc += nd;
		if (nd < (uint32_t)(rend - d)) {
			d += nd;
		} else {
			d -= num - nd;
			used ^= both;
		}
	}
	i = (uint32_t)(e - u);
	q->next_used = (uint16_t)(d - ring);
	q->used_wrap = used != 0;
	q->batch_pending = pending;
	q->desc_inflight -= ndesc;
	q->inflight -= i;
	return i;
}

/*
 * §2.8.10 with RING_EVENT_FLAGS_DESC: notify when the descriptor the driver
 * named was among those used since the last notification check.
 */
static bool passed_event(const struct vio_devq *q, uint16_t event)
{
	return packed_event_passed(q->num, ring_pos2(q->num, q->signalled_pos, q->signalled_wrap),
				   ring_pos2(q->num, q->next_used, q->used_wrap), event);
}

int packed_flush(struct vio_devq *q)
{
	struct pvirtq_event_suppress es;
	uint16_t flags;
	uint32_t ev;
	bool notify;

	if (!q->batch_pending)
		return 0;
	/* Pairs with the driver's acquire load of the flags it polls: every
	 * used descriptor of the batch, and the buffers, are visible first. */
	vio_le16_store_release(&q->pdesc[q->batch_first].flags, q->batch_first_flags);
	q->batch_pending = false;
	/* Store-load: our flags store before reading the driver's event
	 * suppression, pairing with the driver's barrier between writing it
	 * and re-checking the ring. */
	vio_mb();
	/* One snapshot of the whole structure: desc and flags together. */
	ev = VIO_READ_ONCE(*(uint32_t *)(void *)q->driver_event);
	__builtin_memcpy(&es, &ev, sizeof(es)); /* freestanding: memcpy() is a call */
	flags = le16_to_cpu(es.flags) & 0x3;
	if (flags == RING_EVENT_FLAGS_DISABLE)
		notify = false;
	else if (flags == RING_EVENT_FLAGS_DESC && q->event_idx)
		notify = passed_event(q, le16_to_cpu(es.desc));
	else
		notify = true;
	q->signalled_pos = q->next_used;
	q->signalled_wrap = q->used_wrap;
	return notify;
}

void packed_kick_disable(struct vio_devq *q)
{
	vio_le16_write(&q->device_event->flags, RING_EVENT_FLAGS_DISABLE);
}

int packed_kick_enable(struct vio_devq *q)
{
	if (q->event_idx) {
		/* §2.8.10: a kick when the descriptor at next_avail becomes available. */
		vio_le16_write(&q->device_event->desc,
			       (uint16_t)(q->next_avail | (q->avail_wrap ? 0x8000 : 0)));
		vio_le16_store_release(&q->device_event->flags, RING_EVENT_FLAGS_DESC);
	} else {
		vio_le16_write(&q->device_event->flags, RING_EVENT_FLAGS_ENABLE);
	}
	/* Store-load: ask for the kick before looking at the ring again. */
	vio_mb();
	return is_avail(vio_le16_load_acquire(&q->pdesc[q->next_avail].flags), q->avail_wrap);
}
