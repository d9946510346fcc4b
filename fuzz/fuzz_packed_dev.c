/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness: the device side of the packed virtqueue (vio/devq.h,
 * src/ring/packed_dev.c, chain.c, devq.c) against a hostile driver.
 *
 * As fuzz_split_dev.c, for the layout of VIRTIO 1.4 §2.8: one descriptor
 * ring both sides write, wrap counters, buffer ids chosen by the driver,
 * descriptor lists, indirect tables and the event suppression structures.
 * The reference model (written from §2.8 and vio/devq.h) predicts each pop,
 * the used descriptors each push and flush write (and where: only over
 * descriptors the device has consumed), the notification decision, and the
 * Device Event Suppression writes. Race pops (common/guest.h) are held to
 * the safety invariants.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/check.h"
#include "common/fuzz_input.h"
#include "common/guest.h"
#include "common/ring_model.h"
#include "vio/devq.h"
#include "vio/virtio.h"
#include "vio/virtio_ring.h"

#define MAX_NUM RM_MAX_NUM
#define MAX_OPS 256u
#define BASE_WRAP 0x8000u

enum op {
	OP_DESC,       /* raw descriptor at ring position i */
	OP_TABLE,      /* raw entry of an indirect table anywhere in guest memory */
	OP_CHAIN,      /* a well-formed list (or indirect descriptor) at the driver's cursor */
	OP_CURSOR,     /* move the driver's cursor */
	OP_DRV_EVENT,  /* Driver Event Suppression */
	OP_GUEST,      /* raw bytes anywhere but the Device Event Suppression */
	OP_POP,
	OP_POP_RACE,
	OP_PUSH,
	OP_PUSH_BOGUS,
	OP_FLUSH,
	OP_KICK_OFF,
	OP_KICK_ON,
	OP_REINIT,
	OP_COUNT
};

static const char *const op_names[OP_COUNT] = {
	"desc",
	"table",
	"chain",
	"cursor",
	"drv_event",
	"guest",
	"pop",
	"pop_race",
	"push",
	"push_bogus",
	"flush",
	"kick_off",
	"kick_on",
	"reinit",
};


static struct vio_devq *Q;
static struct pvirtq_desc *ring;
static struct pvirtq_event_suppress *drv_ev, *dev_ev;
static uint64_t drv_ev_gpa, dev_ev_gpa;
static struct iovec iov[RM_IOV_MAX_CAP];

/* The driver's cursor for OP_CHAIN: where it writes next, and its wrap counter. */
static uint16_t drv_pos;
static bool drv_wrap;

struct mslot {
	bool inflight, done;
	uint16_t ndesc;
	uint32_t in_bytes, len;
};

static struct {
	bool broken;
	uint16_t next_avail, next_used, sig_pos;
	bool avail_wrap, used_wrap, sig_wrap;
	uint32_t desc_inflight, ninflight;
	bool batch;           /* used descriptors written since the last flush */
	uint16_t batch_first; /* the first of them: its flags are published by flush */
	uint16_t batch_flags;
	struct mslot s[MAX_NUM];
	uint16_t order[MAX_NUM]; /* IN_ORDER: ids in pop order */
	uint32_t ohead, ocount;
} M;

/* What the ring and the Device Event Suppression must hold after a device call. */
static struct pvirtq_desc rshadow[MAX_NUM];
static struct pvirtq_event_suppress dev_shadow, drv_copy;

/* §2.8.1: available when AVAIL is the driver's wrap counter and USED is not. */
static bool avail_bits(uint16_t flags, bool wrap)
{
	return !!(flags & VIRTQ_DESC_F_AVAIL) == wrap && !!(flags & VIRTQ_DESC_F_USED) != wrap;
}

static void step(uint16_t *pos, bool *wrap, uint32_t n)
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

/* What the next pop must do (§2.8.5-§2.8.7, §2.8.17, §2.8.19, vio/devq.h). */
static enum mres m_pop(struct mchain *c)
{
	uint16_t pos = M.next_avail, id = 0;
	bool wrap = M.avail_wrap;
	uint32_t n = 0;

	memset(c, 0, sizeof(*c));
	if (M.broken)
		return M_BROKEN;
	for (;;) {
		struct pvirtq_desc d = ring[pos];
		uint16_t fl = le16_to_cpu(d.flags);

		if (!avail_bits(fl, wrap))
			return n == 0 ? M_EMPTY : M_BROKEN; /* a list ends in a used descriptor */
		if (++n > RM.num)
			return M_BROKEN;
		id = le16_to_cpu(d.id); /* the last one's counts (§2.8.6) */
		step(&pos, &wrap, 1);
		if (fl & VIRTQ_DESC_F_INDIRECT) {
			uint64_t table = le64_to_cpu(d.addr);
			uint32_t len = le32_to_cpu(d.len);

			/* §2.8.19: an indirect descriptor is a whole list of its own. */
			if (n > 1 || (fl & VIRTQ_DESC_F_NEXT) || !rm_indirect_ok(table, len))
				return M_BROKEN;
			for (uint32_t i = 0; i < len / 16; i++) {
				struct pvirtq_desc e;
				uint16_t efl;

				if (!rm_read(table + 16ull * i, &e, sizeof(e)))
					return M_BROKEN;
				efl = le16_to_cpu(e.flags);
				if (efl & VIRTQ_DESC_F_INDIRECT)
					return M_BROKEN;
				if (!rm_add(c, le64_to_cpu(e.addr), le32_to_cpu(e.len),
					    efl & VIRTQ_DESC_F_WRITE))
					return M_BROKEN;
			}
		} else if (!rm_add(c, le64_to_cpu(d.addr), le32_to_cpu(d.len), fl & VIRTQ_DESC_F_WRITE)) {
			return M_BROKEN;
		}
		if (!(fl & VIRTQ_DESC_F_NEXT))
			break;
	}
	if (M.desc_inflight + n > RM.num || id >= RM.num || M.s[id].inflight)
		return M_BROKEN;
	c->id = id;
	c->ndesc = (uint16_t)n;
	return M_CHAIN;
}

static void m_take(uint16_t id, uint16_t ndesc, uint64_t in_bytes)
{
	M.s[id] = (struct mslot){ .inflight = true, .ndesc = ndesc,
				  .in_bytes = in_bytes > UINT32_MAX ? UINT32_MAX : (uint32_t)in_bytes };
	M.ninflight++;
	M.desc_inflight += ndesc;
	if (RM.in_order)
		M.order[(M.ohead + M.ocount++) % RM.num] = id;
	step(&M.next_avail, &M.avail_wrap, ndesc);
}

static void snapshot(void)
{
	memcpy(rshadow, ring, 16ull * RM.num);
	memcpy(&dev_shadow, dev_ev, sizeof(dev_shadow));
	memcpy(&drv_copy, drv_ev, sizeof(drv_copy));
}

static void check_areas(const char *after)
{
	for (uint32_t p = 0; p < RM.num; p++)
		CHECK(!memcmp(&rshadow[p], &ring[p], sizeof(ring[p])),
		      "descriptor %u differs from the model after %s (flags 0x%x, model 0x%x)", p,
		      after, le16_to_cpu(ring[p].flags), le16_to_cpu(rshadow[p].flags));
	CHECK(!memcmp(&dev_shadow, dev_ev, sizeof(dev_shadow)),
	      "Device Event Suppression differs from the model after %s", after);
	CHECK(!memcmp(&drv_copy, drv_ev, sizeof(drv_copy)),
	      "%s wrote the Driver Event Suppression", after);
	CHECK(vio_devq_base(Q) == m_base(), "base 0x%x, model 0x%x after %s", vio_devq_base(Q),
	      m_base(), after);
	if (M.broken)
		CHECK(vio_devq_error(Q), "broken queue without a reason after %s", after);
	else
		CHECK(!vio_devq_error(Q), "queue broken after %s, model not: %s", after,
		      vio_devq_error(Q));
}

static void do_pop(uint32_t cap)
{
	struct vio_chain c = { .iov = cap ? iov : NULL, .iov_cap = cap };
	static struct iovec miov[RM_IOV_MAX_CAP];
	struct mchain mc;
	enum mres want = m_pop(&mc);
	uint32_t mn = 0, mnout = 0;
	bool fits = want == M_CHAIN && rm_iov(&mc, miov, cap, &mn, &mnout);
	int r;

	snapshot();
	r = vio_devq_pop(Q, &c);
	switch (want) {
	case M_EMPTY:
		CHECK(r == 0, "pop %d, model: empty", r);
		break;
	case M_BROKEN:
		CHECK(r == -EIO, "pop %d, model: ring broken", r);
		M.broken = true;
		break;
	case M_CHAIN:
		CHECK(r == (fits ? 1 : -ENOBUFS), "pop %d, model: %s (%u buffers, id %u)", r,
		      fits ? "a chain" : "-ENOBUFS", mc.nbufs, mc.id);
		CHECK(c.id == mc.id && c.ndesc == mc.ndesc, "id %u ndesc %u, model %u %u", c.id,
		      c.ndesc, mc.id, mc.ndesc);
		if (fits)
			rm_check_equal(&c, &mc, cap);
		m_take(mc.id, mc.ndesc, mc.in_bytes);
		break;
	}
	check_areas("pop");
}

static void do_pop_race(uint32_t cap, const struct race_mut *muts, unsigned nmuts)
{
	struct vio_chain c = { .iov = cap ? iov : NULL, .iov_cap = cap };
	bool was_broken = M.broken;
	const struct race_log *log;
	int r, df;

	race_begin(&RM.G, muts, nmuts);
	r = vio_devq_pop(Q, &c);
	log = race_end();
	snapshot(); /* the driver changed the ring; the log shows what the device did */
	CHECK(r == 1 || r == 0 || r == -ENOBUFS || r == -EIO, "pop %d", r);
	if (was_broken)
		CHECK(r == -EIO, "pop %d on a broken queue", r);
	for (uint32_t k = 0; k < log->nlog; k++)
		CHECK(!log->log[k].write, "pop wrote guest memory at %p", (void *)log->log[k].addr);
	if (r == -EIO) {
		M.broken = true;
	} else if (r == 1 || r == -ENOBUFS) {
		if (r == 1)
			rm_check_popped(&c, cap);
		CHECK(c.id < RM.num && !M.s[c.id].inflight, "popped id %u already in flight", c.id);
		CHECK(M.desc_inflight + c.ndesc <= RM.num, "%u + %u descriptors in flight",
		      M.desc_inflight, c.ndesc);
		df = race_double_fetch(log);
		CHECK(df < 0, "double fetch: guest address %p read again by the instruction at %p",
		      (void *)log->log[df].addr, (void *)log->log[df].ip);
		m_take(c.id, c.ndesc, c.in_bytes);
	}
	check_areas("race pop");
}

static int pick_inflight(uint32_t k)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < RM.num; i++)
		if (M.s[i].inflight && !M.s[i].done)
			n++;
	if (!n)
		return -1;
	k %= n;
	for (uint32_t i = 0; i < RM.num; i++)
		if (M.s[i].inflight && !M.s[i].done && k-- == 0)
			return (int)i;
	return -1;
}

/* §2.8.1: a used descriptor has AVAIL and USED equal to the device's wrap counter. */
static uint16_t used_flags(bool wrap, uint32_t len)
{
	return (uint16_t)((wrap ? VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED : 0) |
			  (len ? VIRTQ_DESC_F_WRITE : 0));
}

static void do_push(uint16_t id, uint32_t len)
{
	bool known = id < RM.num && M.s[id].inflight && !M.s[id].done;
	int r;

	TRACE("push id %u len %u (%s)", id, len, known ? "in flight" : "unknown");
	snapshot();
	r = vio_devq_push(Q, id, len);
	if (!known) {
		CHECK(r == -EINVAL, "push of id %u, not in flight: %d", id, r);
		check_areas("push of an unknown id");
		return;
	}
	CHECK(r == (M.broken ? -EIO : 0), "push %d (broken %d)", r, M.broken);
	if (len > M.s[id].in_bytes)
		len = M.s[id].in_bytes;
	M.ninflight--;
	if (RM.in_order) {
		M.s[id].done = true;
		M.s[id].len = len;
	} else {
		struct pvirtq_desc *d = &rshadow[M.next_used];
		uint16_t fl = used_flags(M.used_wrap, len);

		M.s[id].inflight = false;
		if (!M.broken) {
			/* §2.8.6: one used descriptor per buffer, at the device's
			 * position; the list's other descriptors are skipped. */
			d->id = cpu_to_le16(id);
			d->len = cpu_to_le32(len);
			if (M.batch) {
				d->flags = cpu_to_le16(fl);
			} else {
				M.batch = true;
				M.batch_first = M.next_used;
				M.batch_flags = fl;
			}
			M.desc_inflight -= M.s[id].ndesc;
			step(&M.next_used, &M.used_wrap, M.s[id].ndesc);
		}
	}
	CHECK(vio_devq_inflight(Q) == M.ninflight, "inflight %u, model %u", vio_devq_inflight(Q),
	      M.ninflight);
	check_areas("push");
}

/* Positions [from, from + n) on the ring; is @pos (any wrap) among them? */
static bool in_window(uint16_t from, uint32_t n, uint16_t pos)
{
	return (pos + RM.num - from) % RM.num < n || n >= RM.num;
}

/* §2.8.10, RING_EVENT_FLAGS_DESC: the named descriptor was used since the last flush. */
static bool passed(uint16_t event)
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

static void do_flush(void)
{
	uint16_t evflags = le16_to_cpu(drv_ev->flags) & 3, evdesc = le16_to_cpu(drv_ev->desc);
	uint16_t first = M.next_used;
	bool first_wrap = M.used_wrap;
	uint32_t drained = 0, dndesc = 0, last = 0;
	static bool was_drained[MAX_NUM];
	int r, want = 0;

	if (RM.in_order) {
		memset(was_drained, 0, RM.num);
		while (M.ocount && M.s[M.order[M.ohead]].done) {
			last = M.order[M.ohead];
			M.s[last].inflight = M.s[last].done = false;
			was_drained[last] = true;
			dndesc += M.s[last].ndesc;
			M.ohead = (M.ohead + 1) % RM.num;
			M.ocount--;
			drained++;
		}
		if (!M.broken && drained) {
			M.desc_inflight -= dndesc;
			step(&M.next_used, &M.used_wrap, dndesc);
			M.batch = true;
		}
	}
	snapshot();
	r = vio_devq_flush(Q);
	if (M.broken) {
		CHECK(r == 0, "flush of a broken queue returned %d", r);
		check_areas("flush of a broken queue");
		return;
	}
	if (RM.in_order && drained) {
		/* The used descriptors stand for the drained buffers, all inside the
		 * positions they took; one is the last drained, with its length. */
		bool seen_last = false;

		for (uint32_t p = 0; p < RM.num; p++) {
			struct pvirtq_desc d = ring[p];
			uint16_t pid = le16_to_cpu(d.id);
			bool wrap = first_wrap ^ (p < first);

			if (in_window(first, dndesc, (uint16_t)p) && pid == last &&
			    le32_to_cpu(d.len) == M.s[last].len &&
			    (le16_to_cpu(d.flags) & (VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED)) ==
				    used_flags(wrap, 0))
				seen_last = true;
			if (!memcmp(&d, &rshadow[p], sizeof(d)))
				continue;
			CHECK(in_window(first, dndesc, (uint16_t)p),
			      "IN_ORDER flush wrote descriptor %u outside [%u, +%u)", p, first, dndesc);
			CHECK(pid < RM.num && was_drained[pid], "IN_ORDER flush: used id %u not drained",
			      pid);
			CHECK((le16_to_cpu(d.flags) & (VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED)) ==
				      used_flags(wrap, 0),
			      "IN_ORDER flush: descriptor %u flags 0x%x", p, le16_to_cpu(d.flags));
			rshadow[p] = d;
		}
		CHECK(seen_last, "IN_ORDER flush: no used descriptor for the last id %u (len %u) in "
		      "[%u, +%u); at %u: id %u len %u flags 0x%x", last, M.s[last].len, first, dndesc,
		      first, le16_to_cpu(ring[first].id), le32_to_cpu(ring[first].len),
		      le16_to_cpu(ring[first].flags));
		M.batch = false;
		want = evflags == RING_EVENT_FLAGS_DISABLE ? 0
		       : evflags == RING_EVENT_FLAGS_DESC && RM.event_idx ? passed(evdesc)
		       : 1;
		M.sig_pos = M.next_used;
		M.sig_wrap = M.used_wrap;
	} else if (M.batch) {
		/* The batch becomes visible at once: the first flags are stored last. */
		rshadow[M.batch_first].flags = cpu_to_le16(M.batch_flags);
		M.batch = false;
		want = evflags == RING_EVENT_FLAGS_DISABLE ? 0
		       : evflags == RING_EVENT_FLAGS_DESC && RM.event_idx ? passed(evdesc)
		       : 1;
		M.sig_pos = M.next_used;
		M.sig_wrap = M.used_wrap;
	}
	CHECK(r == want, "flush %d, model %d (event flags %u desc 0x%x)", r, want, evflags, evdesc);
	check_areas("flush");
}

static void do_kick(bool on)
{
	int r;

	snapshot();
	if (!on) {
		vio_devq_kick_disable(Q);
		if (!M.broken)
			dev_shadow.flags = cpu_to_le16(RING_EVENT_FLAGS_DISABLE);
		check_areas("kick_disable");
		return;
	}
	r = vio_devq_kick_enable(Q);
	if (M.broken) {
		CHECK(r == 0, "kick_enable on a broken queue: %d", r);
	} else {
		CHECK(r == avail_bits(le16_to_cpu(ring[M.next_avail].flags), M.avail_wrap),
		      "kick_enable %d", r);
		if (RM.event_idx) {
			/* §2.8.10: a kick when the next descriptor becomes available. */
			dev_shadow.desc = cpu_to_le16((uint16_t)(M.next_avail |
								 (M.avail_wrap ? 0x8000 : 0)));
			dev_shadow.flags = cpu_to_le16(RING_EVENT_FLAGS_DESC);
		} else {
			dev_shadow.flags = cpu_to_le16(RING_EVENT_FLAGS_ENABLE);
		}
	}
	check_areas("kick_enable");
}

static uint64_t features(void)
{
	return VIO_BIT(VIRTIO_F_VERSION_1) | VIO_BIT(VIRTIO_F_RING_PACKED) |
	       (RM.indirect ? VIO_BIT(VIRTIO_F_INDIRECT_DESC) : 0) |
	       (RM.event_idx ? VIO_BIT(VIRTIO_F_EVENT_IDX) : 0) |
	       (RM.in_order ? VIO_BIT(VIRTIO_F_IN_ORDER) : 0);
}

static void queue_init(uint32_t base)
{
	struct vio_devq_config cfg = { .num = RM.num, .features = features(), .desc = ring,
				       .driver = drv_ev, .device = dev_ev, .mem = &RM.G.mem,
				       .base = base };

	CHECK(vio_devq_init(Q, &cfg) == 0, "init refused a valid ring (base 0x%x)", base);
	memset(&M, 0, sizeof(M));
	M.next_avail = base & 0x7fff;
	M.avail_wrap = base & BASE_WRAP;
	M.next_used = M.sig_pos = (base >> 16) & 0x7fff;
	M.used_wrap = M.sig_wrap = (base >> 16) & BASE_WRAP;
	snapshot();
	check_areas("init");
}

static void bad_inits(uint32_t base)
{
	struct vio_devq_config bad = { .num = RM.num, .features = features(), .desc = ring,
				       .driver = (uint8_t *)drv_ev + 2, .device = dev_ev,
				       .mem = &RM.G.mem, .base = base };

	CHECK(vio_devq_init(Q, &bad) == -EINVAL, "misaligned driver area accepted");
	bad.driver = drv_ev;
	bad.base = (base & ~0x7fffu) | RM.num;
	CHECK(vio_devq_init(Q, &bad) == -EINVAL, "avail position %u of %u accepted", RM.num, RM.num);
	bad.base = (base & 0xffffu) | (uint32_t)RM.num << 16;
	CHECK(vio_devq_init(Q, &bad) == -EINVAL, "used position %u of %u accepted", RM.num, RM.num);
	bad.base = base;
	bad.num = 0;
	CHECK(vio_devq_init(Q, &bad) == -EINVAL, "queue size 0 accepted");
}

/* ---- driver actions ---- */

static void write_pdesc_at(uint64_t gpa, uint64_t addr, uint32_t len, uint16_t id, uint16_t flags)
{
	struct pvirtq_desc d = { cpu_to_le64(addr), cpu_to_le32(len), cpu_to_le16(id),
				 cpu_to_le16(flags) };

	rm_drv_write(gpa, &d, sizeof(d));
}

/*
 * A list of 1..8 buffers at the driver's cursor, buffer id in the last one,
 * or one indirect descriptor and its table (§2.8.6, §2.8.7); the first
 * descriptor's flags are written last (§2.8.21.1).
 */
static void op_chain(struct fin *f)
{
	uint8_t sel = fin_u8(f);
	unsigned n = (sel & 7) + 1;
	uint16_t id = fin_u16(f) % (RM.num + 2), first = drv_pos, first_flags = 0;
	uint64_t table = sel & 8 ? rm_get_addr(f) : 0;

	if (!(sel & 8) && n > RM.num)
		n = RM.num;
	for (unsigned k = 0; k < n; k++) {
		uint64_t addr = rm_get_addr(f);
		uint32_t len = rm_get_len(f);
		uint16_t fl = (fin_u8(f) & 1) ? VIRTQ_DESC_F_WRITE : 0;

		if (sel & 8) {
			write_pdesc_at(table + 16ull * k, addr, len, 0, fl);
			continue;
		}
		fl |= (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0) |
		      (drv_wrap ? VIRTQ_DESC_F_AVAIL : VIRTQ_DESC_F_USED);
		if (k == 0) {
			first_flags = fl;
			write_pdesc_at(RM.ring_gpa + 16ull * drv_pos, addr, len, id,
				       le16_to_cpu(ring[drv_pos].flags));
		} else {
			write_pdesc_at(RM.ring_gpa + 16ull * drv_pos, addr, len, id, fl);
		}
		step(&drv_pos, &drv_wrap, 1);
	}
	if (sel & 8) {
		first_flags = VIRTQ_DESC_F_INDIRECT | (drv_wrap ? VIRTQ_DESC_F_AVAIL : VIRTQ_DESC_F_USED);
		write_pdesc_at(RM.ring_gpa + 16ull * drv_pos, table, 16 * n, id,
			       le16_to_cpu(ring[drv_pos].flags));
		step(&drv_pos, &drv_wrap, 1);
	}
	ring[first].flags = cpu_to_le16(first_flags);
}

static void setup(struct fin *f)
{
	uint16_t nsel = fin_u16(f);
	uint8_t feat = fin_u8(f);
	uint64_t dev_off;
	uint32_t a, u, base;

	RM.num = nsel % MAX_NUM + 1;
	RM.indirect = feat & 1;
	RM.event_idx = feat & 2;
	RM.in_order = feat & 4;
	/* ring | driver event | device event (64-aligned), in region 0. */
	dev_off = (16ull * RM.num + 4 + 63) & ~63ull;
	rm_setup_memory(f, dev_off + 4);
	drv_ev_gpa = RM.ring_gpa + 16ull * RM.num;
	dev_ev_gpa = RM.ring_gpa + dev_off;
	RM.excl_gpa = dev_ev_gpa;
	RM.excl_len = 4;
	ring = guest_ptr(&RM.G, RM.ring_gpa, 16ull * RM.num);
	drv_ev = guest_ptr(&RM.G, drv_ev_gpa, 4);
	dev_ev = guest_ptr(&RM.G, dev_ev_gpa, 4);
	CHECK(ring && drv_ev && dev_ev, "rings outside region 0");
	if (!Q)
		Q = aligned_alloc(64, (vio_devq_size(MAX_NUM) + 63) & ~(size_t)63);
	/* Where the device resumes: positions and wrap counters; a fresh ring
	 * is 0x80008000. The used position trails the available one by what
	 * was in flight; with nothing in flight they are equal. */
	a = fin_u16(f);
	a = ((a & 0x7fff) % RM.num) | (a & BASE_WRAP);
	u = feat & 8 ? fin_u16(f) : a;
	u = ((u & 0x7fff) % RM.num) | (u & BASE_WRAP);
	base = a | u << 16;
	if (feat & 16)
		bad_inits(base);
	drv_pos = a & 0x7fff;
	drv_wrap = a & BASE_WRAP;
	queue_init(base);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fin in;
	unsigned ops = 0;

	fin_init(&in, data, size);
	setup(&in);
	TRACE("num %u indirect %d event_idx %d in_order %d base 0x%x", RM.num, RM.indirect,
	      RM.event_idx, RM.in_order, vio_devq_base(Q));
	while (!fin_done(&in) && ops++ < MAX_OPS) {
		uint8_t op = fin_u8(&in) % OP_COUNT;

		TRACE("op %s (base 0x%x, inflight %u, error %s)", op_names[op], vio_devq_base(Q),
		      vio_devq_inflight(Q), vio_devq_error(Q) ? vio_devq_error(Q) : "-");
		switch (op) {
		case OP_DESC: {
			uint16_t i = fin_u16(&in) % RM.num;
			uint64_t addr = rm_get_addr(&in);
			uint32_t len = rm_get_len(&in);
			uint16_t id = fin_u16(&in), flags = fin_u16(&in);

			write_pdesc_at(RM.ring_gpa + 16ull * i, addr, len, id, flags);
			break;
		}
		case OP_TABLE: {
			uint64_t table = rm_get_addr(&in);
			uint16_t i = fin_u16(&in);
			uint64_t addr = rm_get_addr(&in);
			uint32_t len = rm_get_len(&in);
			uint16_t id = fin_u16(&in), flags = fin_u16(&in);

			write_pdesc_at(table + 16ull * i, addr, len, id, flags);
			break;
		}
		case OP_CHAIN:
			op_chain(&in);
			break;
		case OP_CURSOR: {
			uint16_t v = fin_u16(&in);

			if (v & 1) { /* back to where the device will look next */
				drv_pos = M.next_avail;
				drv_wrap = M.avail_wrap;
			} else {
				drv_pos = (v >> 1 & 0x3fff) % RM.num;
				drv_wrap = v & 0x8000;
			}
			break;
		}
		case OP_DRV_EVENT: {
			uint16_t d = fin_u16(&in), fl = fin_u16(&in);

			drv_ev->desc = cpu_to_le16(d);
			drv_ev->flags = cpu_to_le16(fl);
			break;
		}
		case OP_GUEST: {
			uint8_t buf[64];
			uint64_t gpa = rm_get_addr(&in);
			uint8_t n = fin_u8(&in) % sizeof(buf);

			fin_bytes(&in, buf, n);
			rm_drv_write(gpa, buf, n);
			break;
		}
		case OP_POP:
			do_pop(fin_u8(&in) % (RM_IOV_MAX_CAP + 1));
			break;
		case OP_POP_RACE: {
			struct race_mut m[8];
			uint32_t cap = fin_u8(&in) % (RM_IOV_MAX_CAP + 1);
			unsigned n = rm_get_muts(&in, m);

			do_pop_race(cap, m, n);
			break;
		}
		case OP_PUSH: {
			int id = pick_inflight(fin_u8(&in));
			uint32_t len = rm_get_len(&in);

			if (id >= 0)
				do_push((uint16_t)id, len);
			break;
		}
		case OP_PUSH_BOGUS: {
			uint16_t id = fin_u16(&in);

			do_push(id, rm_get_len(&in));
			break;
		}
		case OP_FLUSH:
			do_flush();
			break;
		case OP_KICK_OFF:
			do_kick(false);
			break;
		case OP_KICK_ON:
			do_kick(true);
			break;
		case OP_REINIT:
			/* vhost-user restarts a queue once it is drained and flushed. */
			if (M.ninflight || M.ocount || M.batch)
				break;
			queue_init(vio_devq_base(Q));
			break;
		}
	}
	return 0;
}
