/* SPDX-License-Identifier: BSD-3-Clause */
/* The packed virtqueue, driver side (VIRTIO 1.4 §2.8). */
#include <errno.h>
#include <string.h>

#include "atomic.h"
#include "drvq_impl.h"
#include "ring_pos.h"
#include "vio/virtio.h"

#define EV_WRAP (1u << 15) /* desc_event_wrap, above the 15 bits of desc_event_off */
#define FAST_MAX 64u /* most used buffers one pass of the fast path takes */

/*
 * Where the ring stands, as the driver sees it (the device's view is
 * symmetrical):
 *
 *   next_used          pub_pos             next_avail
 *   |   published      |   added           |   free ...
 *   [ pub_descs       )[ add_descs        )[ num_free            )
 *
 * Positions go round 0..num-1, each with the wrap counter it had when it
 * was written (§2.8.1); the three marks move forward only. Descriptors from
 * next_used to next_avail (pub_descs + add_descs of them, with wrap) were
 * written by us in this lap and not yet consumed by a used descriptor;
 * everything else is free. The first descriptor at pub_pos is not yet
 * available: add() writes its flags last, at kick_prepare(), so the device
 * sees nothing added until then (the others are behind it in ring order).
 */

int packed_drv_init(struct vio_drvq *q, const struct vio_drvq_config *cfg)
{
	uint32_t i;

	q->packed.desc = cfg->desc;
	q->packed.driver = cfg->driver;
	q->packed.device = cfg->device;
	q->packed.ord = (uint16_t *)(void *)&q->slot[q->num];
	/* VIRTIO 1.4 §2.8.13: the descriptor ring is zero-initialized; the
	 * event suppression structures too (flags 0: RING_EVENT_FLAGS_ENABLE). */
	memset(cfg->desc, 0, virtq_desc_size(q->num));
	memset(cfg->driver, 0, sizeof(struct pvirtq_event_suppress));
	memset(cfg->device, 0, sizeof(struct pvirtq_event_suppress));
	/* §2.8.1: both wrap counters start at 1. */
	q->packed.avail_wrap = q->packed.pub_wrap = q->packed.used_wrap = true;
	/* Free ids 0, 1, ..., num-1 (the last link is never followed: an id
	 * is free whenever a descriptor is, see add). */
	for (i = 0; i < q->num; i++)
		q->slot[i].link = (uint16_t)(i + 1);
	q->num_free = q->num;
	return 0;
}

/* Moves ring position @pos by @n (<= num), flipping @wrap when it passes the end. */
static void advance(const struct vio_drvq *q, uint16_t *pos, bool *wrap, uint32_t n)
{
	uint32_t p = *pos + n;

	if (p >= q->num) {
		p -= q->num;
		*wrap = !*wrap;
	}
	*pos = (uint16_t)p;
}

/* §2.8.1: available means AVAIL equal to the wrap counter, USED its inverse. */
static uint16_t avail_flags(bool wrap)
{
	return wrap ? VIRTQ_DESC_F_AVAIL : VIRTQ_DESC_F_USED;
}

/*
 * Index in packed.ord of the id @k places after the one at ord_head;
 * k <= num. No division: a packed Queue Size need not be a power of 2.
 */
static inline uint32_t ord_pos(const struct vio_drvq *q, uint32_t k)
{
	return ring_pos_add(q->packed.ord_head, k, q->num);
}

static void put_desc(struct pvirtq_desc *d, uint64_t addr, uint32_t len, uint16_t id)
{
	/* The device reads a descriptor only after an acquire of flags
	 * that our release store of those (or of the first flags of the
	 * batch, kick_prepare) follows; single stores all the same, as
	 * the device may poll the same slot for a used descriptor. */
	VIO_WRITE_ONCE(d->addr.v, cpu_to_le64(addr).v);
	VIO_WRITE_ONCE(d->len.v, cpu_to_le32(len).v);
	VIO_WRITE_ONCE(d->id.v, cpu_to_le16(id).v);
}

/* The flags of segment @k of @n (@nout readable) in a list written with wrap counter @wrap. */
static uint16_t seg_flags(uint32_t k, uint32_t nout, uint32_t n, bool wrap)
{
	return (uint16_t)((k >= nout ? VIRTQ_DESC_F_WRITE : 0) | (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0) |
			  avail_flags(wrap));
}

int packed_drv_add(struct vio_drvq *q, const struct vio_sg *sg, uint32_t nout, uint32_t n,
		   uint32_t in_bytes, void *token)
{
	bool indirect = n > 1 && n <= q->ind_max;
	uint32_t need = indirect ? 1 : n, k;
	uint16_t pos = q->packed.next_avail, first = pos, first_flags, id;
	bool wrap = q->packed.avail_wrap;
	struct drvq_slot *s;

	/* §2.8.17: room for the whole list before any of it is available.
	 * A free descriptor means a free id: every id in flight holds one. */
	if (need > q->num_free)
		return -ENOSPC;
	id = q->packed.free_id;
	q->packed.free_id = q->slot[id].link;
	if (indirect) {
		struct pvirtq_desc *t = drvq_ind_table(q, id);

		/* §2.8.7: entries in order; WRITE is their only flag, their
		 * id reserved (0). */
		for (k = 0; k < n; k++) {
			struct pvirtq_desc e = {
				.addr = cpu_to_le64(sg[k].addr),
				.len = cpu_to_le32(sg[k].len),
				.id = cpu_to_le16(0),
				.flags = cpu_to_le16(k >= nout ? VIRTQ_DESC_F_WRITE : 0),
			};

			t[k] = e; /* read by the device after the release of flags */
		}
		/* §2.8.7: WRITE is reserved next to INDIRECT; §2.8.19: no NEXT. */
		put_desc(&q->packed.desc[pos], drvq_ind_addr(q, id), 16u * n, id);
		first_flags = VIRTQ_DESC_F_INDIRECT | avail_flags(wrap);
		advance(q, &pos, &wrap, 1);
	} else {
		/* §2.8.21.1: each element in the next descriptor, the buffer
		 * id in each (§2.8.6 needs it in the last), readable ones
		 * first (§2.8.17). The first one's flags are stored last, below
		 * or in kick_prepare. */
		put_desc(&q->packed.desc[pos], sg[0].addr, sg[0].len, id);
		first_flags = seg_flags(0, nout, n, wrap);
		advance(q, &pos, &wrap, 1);
		for (k = 1; k < n; k++) {
			put_desc(&q->packed.desc[pos], sg[k].addr, sg[k].len, id);
			/* Before the release store of the first flags: the
			 * device acquires that one first. */
			vio_le16_write(&q->packed.desc[pos].flags, seg_flags(k, nout, n, wrap));
			advance(q, &pos, &wrap, 1);
		}
	}
	q->packed.next_avail = pos;
	q->packed.avail_wrap = wrap;
	if (q->packed.add_descs == 0) {
		/* The first buffer since the last publish: its first flags
		 * are stored by kick_prepare, which makes the whole batch
		 * available at once. */
		q->packed.pub_flags = first_flags;
	} else {
		/* §2.8.21.1.1, §2.8.17: the first descriptor of a list is made
		 * available last, after a barrier (the release). It stays out
		 * of the device's reach until pub_pos is made available. */
		vio_le16_store_release(&q->packed.desc[first].flags, first_flags);
	}
	q->packed.add_descs += need;
	q->num_free -= need;
	q->inflight++;

	s = &q->slot[id];
	s->token = token;
	s->in_bytes = in_bytes;
	s->ndesc = (uint16_t)need;
	s->indirect = indirect;
	s->state = DRVQ_ADDED;
	s->seq = q->packed.add_seq++;
	if (q->in_order) {
		/* ord_pub + ord_add < num: this id was free. */
		k = ord_pos(q, q->packed.ord_pub + q->packed.ord_add++);
		q->packed.ord[k] = id;
		s->link = (uint16_t)k; /* where a batch ending here ends: see get_used */
	}
	return 0;
}

/*
 * The fast path of vio_drvq_add_burst(): buffers of one segment, written
 * as in packed_drv_add() (direct: one segment never goes indirect) after
 * the checks of add_one() for one segment, while descriptors are free.
 * Returns how many; the one it stops at is untouched.
 */
uint32_t packed_drv_add_fast(struct vio_drvq *q, const struct vio_drvq_buf *restrict b, uint32_t n)
{
	/* Locals, stored back at the end, and restrict: the arrays do not
	 * overlap, and without it every store (chars among them) would make
	 * the compiler load the fields of *q and b[] again. */
	struct pvirtq_desc *restrict ring = q->packed.desc, *rend = ring + q->num, *d;
	struct drvq_slot *restrict slot = q->slot;
	uint16_t *restrict ord = q->in_order ? q->packed.ord : NULL;
	const struct vio_drvq_buf *e, *bend;
	uint32_t num = q->num, nfree = q->num_free, i, k = 0;
	uint16_t pos = q->packed.next_avail, free_id = q->packed.free_id;
	uint16_t avail = avail_flags(q->packed.avail_wrap);
	uint64_t seq = q->packed.add_seq;
	/* As in packed_drv_add(): the first flags since the last publish
	 * are stored by kick_prepare, the others at once. */
	uint16_t *first = q->packed.add_descs == 0 ? &q->packed.pub_flags : NULL;

	if (n > nfree)
		n = nfree;
	if (ord)
		k = ord_pos(q, q->packed.ord_pub + q->packed.ord_add);
	/* The device last wrote these lines (used), and one line at a time,
	 * behind the stores before it, each would cost a round trip. */
	packed_prefetch_w(ring, num, pos, n);
	/* Pointers rather than indices: fewer registers live in the loop. */
	d = &ring[pos];
	for (e = b, bend = b + n; e != bend; e++) {
		const struct vio_sg *sg = e->sg;
		uint32_t nout = e->nout, nin = e->nin, len;
		struct drvq_slot *s = &slot[free_id];
		uint16_t id = free_id, flags;
		uint64_t addr;

		if ((uint64_t)nout + nin != 1 || !sg)
			break;
		addr = sg->addr;
		len = sg->len;
		if (len == 0 || addr > UINT64_MAX - (len - 1))
			break;
		free_id = s->link;
		s->token = e->token;
		s->seq = seq++;
		s->in_bytes = nin ? len : 0;
		s->ndesc = 1;
		s->state = DRVQ_ADDED;
		s->indirect = 0;
		if (ord) {
			ord[k] = id;
			s->link = (uint16_t)k;
			if (++k == num)
				k = 0;
		}
		put_desc(d, addr, len, id);
		flags = (uint16_t)((nin ? VIRTQ_DESC_F_WRITE : 0) | avail);
		if (first) {
			*first = flags;
			first = NULL;
		} else {
			vio_le16_store_release(&d->flags, flags);
		}
		if (++d == rend) {
			d = ring;
			avail ^= VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED; /* the wrap counter flips */
		}
	}
	i = (uint32_t)(e - b);
	pos = (uint16_t)(d - ring);
	q->packed.next_avail = pos;
	q->packed.avail_wrap = avail == avail_flags(true);
	q->packed.free_id = free_id;
	if (ord)
		q->packed.ord_add += i;
	q->packed.add_seq = seq;
	q->packed.add_descs += i;
	q->num_free = nfree - i;
	q->inflight += i;
	return i;
}

/* One snapshot of the device's event suppression structure: desc and flags together. */
static void read_device_event(const struct vio_drvq *q, uint16_t *desc, uint16_t *flags)
{
	struct pvirtq_event_suppress es;
	uint32_t v = VIO_READ_ONCE(*(const uint32_t *)(const void *)q->packed.device);

	__builtin_memcpy(&es, &v, sizeof(es)); /* freestanding: memcpy() is a call */
	*desc = le16_to_cpu(es.desc);
	*flags = le16_to_cpu(es.flags) & 0x3;
}

int packed_drv_kick_prepare(struct vio_drvq *q)
{
	uint32_t old, cur;
	uint16_t desc, flags;

	if (!q->packed.add_descs)
		return 0;
	/* Every id added so far is now published (see published()). */
	q->packed.pub_seq = q->packed.add_seq;
	/* VIRTIO 1.4 §2.8.21.1.1: every descriptor and indirect table
	 * written before the flags that make the batch available. Pairs with
	 * the device's acquire load of the flags at its next_avail
	 * (packed_pop), after which it reads the rest of the batch. */
	vio_le16_store_release(&q->packed.desc[q->packed.pub_pos].flags, q->packed.pub_flags);
	old = ring_pos2(q->num, q->packed.pub_pos, q->packed.pub_wrap);
	cur = ring_pos2(q->num, q->packed.next_avail, q->packed.avail_wrap);
	q->packed.pub_pos = q->packed.next_avail;
	q->packed.pub_wrap = q->packed.avail_wrap;
	q->packed.pub_descs += q->packed.add_descs;
	q->packed.add_descs = 0;
	/* IN_ORDER: the ids added are published (the ring of ids is theirs). */
	q->packed.ord_pub += q->packed.ord_add;
	q->packed.ord_add = 0;
	/* VIRTIO 1.4 §2.8.21.2: store-load, the flags before reading the
	 * device's event suppression. Pairs with the device's full barrier
	 * between writing it and re-checking the ring (packed_kick_enable):
	 * one of us sees the other's store, so a kick is never lost. */
	vio_mb();
	read_device_event(q, &desc, &flags);
	if (flags == RING_EVENT_FLAGS_DISABLE)
		return 0;
	/* §2.8.10: RING_EVENT_FLAGS_DESC only with VIRTIO_F_EVENT_IDX;
	 * without it, or with the reserved value 3, notify: a kick too many
	 * costs less than a device left asleep. */
	if (flags != RING_EVENT_FLAGS_DESC || !q->event_idx)
		return 1;
	/* Notify when the descriptor the device named is one we just made
	 * available (or is nonsense). */
	return packed_event_passed(q->num, old, cur, desc);
}

/*
 * Whether the buffer of slot @s is one the device may use: in flight, and
 * made available by a kick_prepare since it was added. A used id that is
 * not is a lie.
 */
static inline bool published(const struct vio_drvq *q, const struct drvq_slot *s)
{
	return s->state != DRVQ_FREE && s->seq < q->packed.pub_seq;
}

/* packed_drv_release(), inline for get_used. */
static inline void release(struct vio_drvq *q, uint16_t id)
{
	struct drvq_slot *s = &q->slot[id];

	s->link = q->packed.free_id;
	q->packed.free_id = id;
	q->num_free += s->ndesc;
	q->inflight--;
	s->state = DRVQ_FREE;
	s->token = NULL;
}

void packed_drv_release(struct vio_drvq *q, uint16_t id)
{
	release(q, id);
}

/*
 * What the flags of the descriptor at next_used say: 1 used (by the wrap counter we
 * expect there), 0 not (yet), -1 a lie. Published descriptors are ours of
 * this lap there, available (AVAIL = wrap, USED = !wrap) until the device
 * overwrites them with a used one (both = wrap, §2.8.1); anything else is
 * a device writing the wrong wrap counter. With nothing published the slot
 * holds what an earlier lap left (never both = wrap; zeroes at first), so
 * a used descriptor there is one nobody made available.
 */
static inline int peek_flags(const struct vio_drvq *q, uint16_t flags)
{
	bool w = q->packed.used_wrap;
	bool a = flags & VIRTQ_DESC_F_AVAIL, u = flags & VIRTQ_DESC_F_USED;

	if (a == w && u == w)
		return q->packed.pub_descs ? 1 : -1;
	if (!q->packed.pub_descs || (a == w && u != w))
		return 0;
	return -1;
}

/* peek_flags() of the flags read now. */
static inline int peek(struct vio_drvq *q, uint16_t *flags)
{
	/* Pairs with the device's release store of the flags of a used
	 * descriptor (or of the first of a batch, packed_flush) after its id,
	 * its len and the buffer contents. */
	*flags = vio_le16_load_acquire(&q->packed.desc[q->packed.next_used].flags);
	return peek_flags(q, *flags);
}

/* Hands out the next buffer of an IN_ORDER batch (q->batch_left > 0), oldest first. */
static int batch_next(struct vio_drvq *q, void **token, uint32_t *len)
{
	uint16_t id = q->packed.ord[q->packed.ord_head];

	/* VIRTIO 1.4 §2.8.8: the skipped buffers were used in full. */
	*len = --q->batch_left ? q->slot[id].in_bytes : q->batch_len;
	*token = q->slot[id].token;
	q->packed.ord_head = ord_pos(q, 1);
	q->packed.ord_pub--;
	release(q, id);
	return 1;
}

int packed_drv_get_used(struct vio_drvq *q, void **token, uint32_t *len,
			const struct pvirtq_desc *first)
{
	const struct pvirtq_desc *d;
	uint32_t id, l, skip;
	uint16_t flags;
	int r;

	if (q->batch_left)
		return batch_next(q, token, len);
	/* From the copy the fast path made, if it made one: each field of the
	 * ring read once a call (DESIGN.md §4). */
	if (first) {
		flags = le16_to_cpu(first->flags);
		r = peek_flags(q, flags);
	} else {
		r = peek(q, &flags);
	}
	if (r == 0)
		return 0;
	if (r < 0)
		return drvq_fail(q, q->packed.pub_descs
					    ? "used descriptor flags with the wrong wrap counter"
					    : "used descriptor where none was made available");
	d = first ? first : &q->packed.desc[q->packed.next_used];
	/* One read of each field; the acquire in peek() orders them. */
	id = vio_le16_read(&d->id);
	l = le32_to_cpu((le32){ VIO_READ_ONCE(d->len.v) });
	if (id >= q->num)
		return drvq_fail(q, "used id out of range");
	if (!published(q, &q->slot[id]))
		return drvq_fail(q, "used id not in flight");
	/* §2.8.3, §2.8.4: without WRITE nothing was written and len is
	 * reserved; with it, more than the device-writable part is a lie. */
	if (!(flags & VIRTQ_DESC_F_WRITE))
		l = 0;
	else if (l > q->slot[id].in_bytes)
		return drvq_fail(q, "used length larger than the device-writable part");
	if (q->in_order) {
		/* §2.8.8: the used descriptor names the last buffer of a batch
		 * that starts with the oldest one in flight; the device
		 * skipped the descriptors of the whole batch. */
		uint32_t link = q->slot[id].link, head = q->packed.ord_head, i;
		/* How far the batch's last id lies past the oldest in flight. */
		uint32_t k = ring_pos_add(link, q->num - head, q->num);

		if (k >= q->packed.ord_pub)
			return drvq_fail(q, "used id not in flight"); /* not reached: AVAIL */
		for (i = 0, skip = 0; i <= k; i++)
			skip += q->slot[q->packed.ord[ord_pos(q, i)]].ndesc;
		advance(q, &q->packed.next_used, &q->packed.used_wrap, skip);
		q->packed.pub_descs -= skip;
		q->batch_left = k + 1;
		q->batch_len = l;
		return batch_next(q, token, len);
	}
	/* §2.8.6: one used descriptor for the whole list; skip the rest. */
	skip = q->slot[id].ndesc;
	advance(q, &q->packed.next_used, &q->packed.used_wrap, skip);
	q->packed.pub_descs -= skip;
	*token = q->slot[id].token;
	*len = l;
	release(q, (uint16_t)id);
	return 1;
}

/*
 * The fast path of vio_drvq_get_used_burst(): the rest of an IN_ORDER
 * batch; without IN_ORDER, used descriptors that pass every check of
 * packed_drv_get_used(). Returns how many were taken; the used descriptor
 * it stops at (none, another wrap counter, a lie) is left for
 * packed_drv_get_used() to take or refuse.
 */
uint32_t packed_drv_get_used_fast(struct vio_drvq *q, void **restrict token,
				  uint32_t *restrict len, uint32_t n, struct pvirtq_desc *stop,
				  bool *stopped)
{
	const uint16_t both = VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED;
	struct pvirtq_desc *restrict ring = q->packed.desc, *rend = ring + q->num, *d;
	uint32_t got;
	struct drvq_slot *restrict slot = q->slot;
	uint16_t sf[FAST_MAX / 4]; /* the flags the look ahead read, one per line */
	void **tp, **tend;
	uint32_t i = 0, num = q->num, pub = q->packed.pub_descs, k;
	uint16_t pos = q->packed.next_used, want, free_id = q->packed.free_id;
	uint64_t pub_seq = q->packed.pub_seq;

	*stopped = false;
	if (q->in_order) {
		/* batch_next() over the rest of the batch, its counters below. */
		const uint16_t *restrict ord = q->packed.ord;
		uint32_t left = q->batch_left, head = q->packed.ord_head, descs = 0;

		if (n > left)
			n = left;
		for (; i < n; i++) {
			uint16_t id = ord[head];
			struct drvq_slot *s = &slot[id];

			/* VIRTIO 1.4 §2.8.8: the skipped buffers were used in full. */
			len[i] = i + 1 == left ? q->batch_len : s->in_bytes;
			token[i] = s->token;
			if (++head == num)
				head = 0;
			s->link = free_id;
			free_id = id;
			descs += s->ndesc;
			s->state = DRVQ_FREE;
			s->token = NULL;
		}
		q->batch_left = left - i;
		q->packed.ord_head = head;
		q->packed.ord_pub -= i;
		q->packed.free_id = free_id;
		q->num_free += descs;
		q->inflight -= i;
		return i;
	}
	/* §2.8.1: used: AVAIL and USED both equal to the wrap counter. */
	want = q->packed.used_wrap ? both : 0;
	if (n > pub)
		n = pub;
	if (n > FAST_MAX)
		n = FAST_MAX;
	/* Only loads first, so that the cache misses of a batch overlap. One
	 * descriptor per buffer is all this path takes. */
	got = packed_scan(ring, num, pos, want, both, n, sf);
	/* Pointers rather than indices: fewer registers live in the loop. */
	d = &ring[pos];
	for (tp = token, tend = token + got, k = 0; tp != tend; tp++, k++) {
		struct drvq_slot *s;
		uint32_t id, l;
		uint16_t flags;

		/* One copy of each field (DESIGN.md §4), the flags of the
		 * first of a line from the look ahead. Pairs with the device's
		 * release store of the flags. */
		flags = (k & 3) ? vio_le16_load_acquire(&d->flags) : sf[k >> 2];
		id = vio_le16_read(&d->id);
		l = le32_to_cpu((le32){ VIO_READ_ONCE(d->len.v) });
		s = id < num ? &slot[id] : NULL;
		/* Used (the wrap counter), the id in range, published(), one
		 * descriptor (§2.8.6: a list skips more), and §2.8.3, §2.8.4
		 * as packed_drv_get_used(): else the copy for it. */
		if ((flags & both) != want || !s || s->state == DRVQ_FREE || s->seq >= pub_seq ||
		    s->ndesc != 1 || ((flags & VIRTQ_DESC_F_WRITE) && l > s->in_bytes)) {
			*stop = (struct pvirtq_desc){ cpu_to_le64(0), cpu_to_le32(l), cpu_to_le16((uint16_t)id),
						      cpu_to_le16(flags) };
			goto handoff;
		}
		if (!(flags & VIRTQ_DESC_F_WRITE))
			l = 0;
		if (++d == rend) {
			d = ring;
			want ^= both;
		}
		*tp = s->token;
		len[tp - token] = l;
		/* release(), its counters below. */
		s->link = free_id;
		free_id = (uint16_t)id;
		s->state = DRVQ_FREE;
		s->token = NULL;
	}
	if (got < n) {
		/* The look ahead stopped at this descriptor, its flags read:
		 * the rest of the copy for packed_drv_get_used(). */
		stop->flags = cpu_to_le16(sf[got >> 2]);
		stop->id.v = VIO_READ_ONCE(d->id.v);
		stop->len.v = VIO_READ_ONCE(d->len.v);
handoff:
		*stopped = true;
	}
	i = (uint32_t)(tp - token);
	pos = (uint16_t)(d - ring);
	q->packed.next_used = pos;
	q->packed.used_wrap = want == both;
	q->packed.free_id = free_id;
	q->packed.pub_descs = pub - i;
	q->num_free += i;
	q->inflight -= i;
	return i;
}

/* Stores @desc and @flags into our event suppression structure as one word. */
static void write_driver_event(struct vio_drvq *q, uint16_t desc, uint16_t flags)
{
	struct pvirtq_event_suppress es = { cpu_to_le16(desc), cpu_to_le16(flags) };
	uint32_t v;

	__builtin_memcpy(&v, &es, sizeof(v)); /* freestanding: memcpy() is a call */
	if (v == q->packed.ev)
		return;
	q->packed.ev = v;
	/* One store: the device reads the structure as one snapshot (packed_flush). */
	VIO_WRITE_ONCE(*(uint32_t *)(void *)q->packed.driver, v);
}

void packed_drv_cb_disable(struct vio_drvq *q)
{
	/* VIRTIO 1.4 §2.8.10: valid with or without VIRTIO_F_EVENT_IDX. */
	write_driver_event(q, 0, RING_EVENT_FLAGS_DISABLE);
}

int packed_drv_cb_enable(struct vio_drvq *q)
{
	uint16_t flags;

	/* VIRTIO 1.4 §2.8.10: with EVENT_IDX, a notification when the
	 * descriptor at next_used (with its wrap counter) is used: where the
	 * device writes its next used descriptor. */
	if (q->event_idx)
		write_driver_event(q, (uint16_t)(q->packed.next_used |
						 (q->packed.used_wrap ? EV_WRAP : 0)),
				   RING_EVENT_FLAGS_DESC);
	else
		write_driver_event(q, 0, RING_EVENT_FLAGS_ENABLE);
	/* Store-load, our request before re-reading the ring (the re-check of
	 * §2.8.22). Pairs with the device's full barrier between storing the
	 * flags of a used descriptor and reading our structure
	 * (packed_flush): one of us sees the other. */
	vio_mb();
	if (q->batch_left)
		return 1;
	/* A lie counts as something to take: get_used reports it. */
	return peek(q, &flags) != 0;
}
