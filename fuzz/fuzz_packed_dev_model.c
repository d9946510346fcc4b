/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz_packed_dev's reference model: its state, what each pop, push and flush must do. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/check.h"
#include "common/ring_model.h"
#include "fuzz_packed_dev.h"
#include "vio/devq.h"
#include "vio/virtio_ring.h"

struct sdesc walked[MAX_NUM]; /* the list the model's last pop walked */
static struct sdesc *saved[MAX_NUM]; /* per id, the list of the chain in flight */

struct mstate M;

/* What the ring and the Device Event Suppression must hold after a device call. */
struct pvirtq_desc rshadow[MAX_NUM];
struct pvirtq_event_suppress dev_shadow;
static struct pvirtq_event_suppress drv_copy;

/* §2.8.1: available when AVAIL is the driver's wrap counter and USED is not. */
bool avail_bits(uint16_t flags, bool wrap)
{
	return !!(flags & VIRTQ_DESC_F_AVAIL) == wrap && !!(flags & VIRTQ_DESC_F_USED) != wrap;
}

void step(uint16_t *pos, bool *wrap, uint32_t n)
{
	uint32_t p = *pos + n;

	while (p >= RM.num) {
		p -= RM.num;
		*wrap = !*wrap;
	}
	*pos = (uint16_t)p;
}

static uint32_t m_base(void)
{
	return (uint32_t)M.next_avail | (M.avail_wrap ? BASE_WRAP : 0) |
	       ((uint32_t)M.next_used << 16) | (M.used_wrap ? BASE_WRAP << 16 : 0);
}

/* Adds the k-th ring descriptor of a list to @c; false: the ring is broken. */
static bool m_list_desc(struct mchain *c, uint32_t k, const struct sdesc *d, bool from_log)
{
	if (!(d->flags & VIRTQ_DESC_F_INDIRECT))
		return rm_add(c, d->addr, d->len, d->flags & VIRTQ_DESC_F_WRITE);
	/* §2.8.19: an indirect descriptor is a whole list of its own. */
	if (k > 0 || (!from_log && (d->flags & VIRTQ_DESC_F_NEXT)) || !rm_indirect_ok(d->addr, d->len))
		return false;
	for (uint32_t i = 0; i < d->len / 16; i++) {
		struct pvirtq_desc e;
		uint16_t efl;

		if (!rm_read(d->addr + 16ull * i, &e, sizeof(e)))
			return false;
		efl = le16_to_cpu(e.flags);
		if (efl & VIRTQ_DESC_F_INDIRECT)
			return false;
		if (!rm_add(c, le64_to_cpu(e.addr), le32_to_cpu(e.len), efl & VIRTQ_DESC_F_WRITE))
			return false;
	}
	return true;
}

/* Descriptors of lists pushed and not yet published. */
static uint32_t unflushed_descs(void)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < RM.num; i++)
		if (M.s[i].unflushed || (M.s[i].inflight && M.s[i].done))
			n += M.s[i].ndesc;
	return n;
}

/* What the next pop must do (§2.8.5-§2.8.7, §2.8.17, §2.8.19, vio/devq.h). */
enum mres m_pop(struct mchain *c)
{
	uint16_t pos = M.next_avail, id = 0;
	bool wrap = M.avail_wrap;
	uint32_t n = 0;

	memset(c, 0, sizeof(*c));
	if (M.broken)
		return M_BROKEN;
	if (M.iresub < M.nresub) {
		/* After a restart, the lists in flight come first, from the log. */
		id = M.resub[M.iresub];
		c->id = id;
		c->ndesc = M.s[id].ndesc;
		if (M.s[id].unknown)
			return M_UNKNOWN;
		for (uint32_t k = 0; k < M.s[id].ndesc; k++)
			if (!m_list_desc(c, k, &saved[id][k], true))
				return M_BROKEN;
		return M_CHAIN;
	}
	for (;;) {
		struct pvirtq_desc d = ring[pos];
		uint16_t fl = le16_to_cpu(d.flags);

		if (!avail_bits(fl, wrap))
			return n == 0 ? M_EMPTY : M_BROKEN; /* a list ends in a used descriptor */
		if (++n > RM.num)
			return M_BROKEN;
		id = le16_to_cpu(d.id); /* the last one's counts (§2.8.6) */
		step(&pos, &wrap, 1);
		walked[n - 1] = (struct sdesc){ le64_to_cpu(d.addr), le32_to_cpu(d.len), fl };
		if (!m_list_desc(c, n - 1, &walked[n - 1], false))
			return M_BROKEN;
		if (!(fl & VIRTQ_DESC_F_NEXT))
			break;
	}
	if (M.desc_inflight + n > RM.num || id >= RM.num || M.s[id].inflight)
		return M_BROKEN;
	/* With the log, an id made available again before its use was
	 * published breaks the ring (devq.h). */
	if (logmem && M.s[id].unflushed)
		return M_BROKEN;
	c->id = id;
	c->ndesc = (uint16_t)n;
	/* After an id was reused before it was published, the log's save slots
	 * are no longer accounted for (see fuzz/README.md, findings). */
	if (logmem && (M.reused || M.desc_inflight + unflushed_descs() + n > RM.num))
		return M_EITHER;
	return M_CHAIN;
}

/* Chain @id popped; @list: its ring descriptors as the model walked them (NULL: unknown). */
void m_take(uint16_t id, uint16_t ndesc, uint64_t in_bytes, const struct sdesc *list)
{
	bool again = M.iresub < M.nresub;
	bool unknown = again ? M.s[id].unknown : !list;

	/* The driver reused the id before it saw it used (a driver bug): the
	 * log's entry for it is then shared by two lists, and a restart may
	 * refuse the log (see fuzz/README.md, findings). */
	if (M.s[id].unflushed)
		M.reused = true;
	M.s[id] = (struct mslot){ .inflight = true, .ndesc = ndesc, .unknown = unknown,
				  .counter = ++M.counter,
				  .in_bytes = in_bytes > UINT32_MAX ? UINT32_MAX : (uint32_t)in_bytes };
	M.ninflight++;
	M.desc_inflight += ndesc;
	if (RM.in_order)
		M.order[(M.ohead + M.ocount++) % RM.num] = id;
	if (again) {
		M.iresub++; /* from the log: the ring positions were taken before */
		return;
	}
	if (list) {
		saved[id] = realloc(saved[id], ndesc * sizeof(*list));
		CHECK(saved[id], "realloc");
		memcpy(saved[id], list, ndesc * sizeof(*list));
	}
	step(&M.next_avail, &M.avail_wrap, ndesc);
}

void snapshot(void)
{
	memcpy(rshadow, ring, 16ull * RM.num);
	memcpy(&dev_shadow, dev_ev, sizeof(dev_shadow));
	memcpy(&drv_copy, drv_ev, sizeof(drv_copy));
}

void check_areas(const char *after)
{
	CHECK(!memcmp(&drv_copy, drv_ev, sizeof(drv_copy)),
	      "%s wrote the Driver Event Suppression", after);
	if (M.wild) {
		/* Recovered from a log the front-end wrote: only the invariants. */
		CHECK(!M.broken || vio_devq_error(Q), "broken queue lost its reason after %s", after);
		M.broken = vio_devq_error(Q) != NULL;
		CHECK(vio_devq_inflight(Q) == M.ninflight, "inflight %u, %u popped and not pushed",
		      vio_devq_inflight(Q), M.ninflight);
		return;
	}
	for (uint32_t p = 0; p < RM.num; p++)
		CHECK(!memcmp(&rshadow[p], &ring[p], sizeof(ring[p])),
		      "descriptor %u differs from the model after %s (flags 0x%x, model 0x%x)", p,
		      after, le16_to_cpu(ring[p].flags), le16_to_cpu(rshadow[p].flags));
	CHECK(!memcmp(&dev_shadow, dev_ev, sizeof(dev_shadow)),
	      "Device Event Suppression differs from the model after %s", after);
	/* (Once broken the ring needs a reset: its base means nothing.) */
	CHECK(M.broken || vio_devq_base(Q) == m_base(), "base 0x%x, model 0x%x after %s",
	      vio_devq_base(Q), m_base(), after);
	if (M.broken)
		CHECK(vio_devq_error(Q), "broken queue without a reason after %s", after);
	else
		CHECK(!vio_devq_error(Q), "queue broken after %s, model not: %s", after,
		      vio_devq_error(Q));
}

/* §2.8.1: a used descriptor has AVAIL and USED equal to the device's wrap counter. */
uint16_t used_flags(bool wrap, uint32_t len)
{
	return (uint16_t)((wrap ? VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED : 0) |
			  (len ? VIRTQ_DESC_F_WRITE : 0));
}

/* Positions [from, from + n) on the ring; is @pos (any wrap) among them? */
bool in_window(uint16_t from, uint32_t n, uint16_t pos)
{
	return (pos + RM.num - from) % RM.num < n || n >= RM.num;
}

/* §2.8.10, RING_EVENT_FLAGS_DESC: the named descriptor was used since the last flush. */
bool passed(uint16_t event)
{
	uint32_t n2 = 2 * RM.num, off = event & 0x7fff;
	uint32_t old = M.sig_pos + (M.sig_wrap ? 0 : RM.num);
	uint32_t cur = M.next_used + (M.used_wrap ? 0 : RM.num);
	uint32_t ev;

	if (off >= RM.num)
		return true; /* nonsense from the driver: the device notifies (packed_dev.c) */
	ev = off + ((event & 0x8000) ? 0 : RM.num);
	return (ev + n2 - old) % n2 < (cur + n2 - old) % n2;
}

/*
 * The first descriptor of the batch, at the published position P of lap W,
 * shows it was published: made available in lap W (AVAIL = W, USED = !W),
 * the flush stores AVAIL = USED = W, and a driver that reaped it may already
 * have made P available in the next lap (AVAIL = !W, USED = W). USED == W
 * tells both published states from the unpublished one (as recovery does).
 */
bool shows_used(void)
{
	uint16_t fl = le16_to_cpu(ring[M.sig_pos].flags);

	return !!(fl & VIRTQ_DESC_F_USED) == M.sig_wrap;
}
