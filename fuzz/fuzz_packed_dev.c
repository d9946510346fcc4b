/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness: the device side of the packed virtqueue (vio/devq.h,
 * src/ring/packed_dev.c, chain.c, devq.c) against a hostile driver.
 *
 * As fuzz_split_dev.c, for the layout of VIRTIO 1.4 §2.8: one descriptor
 * ring both sides write, wrap counters, buffer ids chosen by the driver,
 * descriptor lists, indirect tables and the event suppression structures.
 * The reference model (fuzz_packed_dev_model.c, written from §2.8 and
 * vio/devq.h) predicts each pop, the used descriptors each push and flush
 * write (and where: only over descriptors the device has consumed), the
 * notification decision, and the Device Event Suppression writes. Race pops
 * (common/guest.h) are held to the safety invariants.
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
#include "fuzz_packed_dev.h"
#include "vio/devq.h"
#include "vio/virtio.h"
#include "vio/virtio_ring.h"

#define MAX_OPS 256u

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
	OP_CRASH,      /* the device dies and restarts from its inflight log */
	OP_LOG_WRITE,  /* the front-end writes into the inflight log */
	OP_CRASH_IN,   /* the device dies inside a pop, push or flush, then restarts */
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
	"crash",
	"log_write",
	"crash_in",
};


struct vio_devq *Q;
struct pvirtq_desc *ring;
struct pvirtq_event_suppress *drv_ev, *dev_ev;
static uint64_t drv_ev_gpa, dev_ev_gpa;
static struct iovec iov[RM_IOV_MAX_CAP];

/* The driver's cursor for OP_CHAIN: where it writes next, and its wrap counter. */
static uint16_t drv_pos;
static bool drv_wrap;

/* The inflight log (vhost-user inflight I/O tracking), when the input asks for one. */
void *logmem;
static size_t logsize;
static bool log_dirty; /* written by the front-end: recovery is unpredictable */

static void restart(void);
static sigjmp_buf crash_env;

/* Runs the next device call under a race window that dies at access @at (0: no window). */
#define CRASHABLE(at, call, on_crash)                                             \
	do {                                                                      \
		if (at) {                                                         \
			if (sigsetjmp(crash_env, 1)) {                            \
				race_end();                                       \
				TRACE("the device died at access %u", at);        \
				on_crash;                                         \
				restart();                                        \
				return;                                           \
			}                                                         \
			race_crash_at(at, &crash_env);                            \
			race_begin(&RM.G, NULL, 0);                               \
		}                                                                 \
		call;                                                             \
		if (at)                                                           \
			race_end();                                               \
	} while (0)

/* A pop the model cannot predict (race window, wild recovery, unknown list): the invariants. */
static void check_unpredicted_pop(int r, const struct vio_chain *c, uint32_t cap, bool was_broken)
{
	CHECK(r == 1 || r == 0 || r == -ENOBUFS || r == -EIO, "pop %d", r);
	if (was_broken)
		CHECK(r == -EIO, "pop %d on a broken queue", r);
	if (r == -EIO) {
		CHECK(vio_devq_error(Q), "pop -EIO without a reason");
		M.broken = true;
	} else if (r == 1 || r == -ENOBUFS) {
		if (r == 1)
			rm_check_popped(c, cap);
		CHECK(c->id < RM.num && !M.s[c->id].inflight, "popped id %u already in flight", c->id);
		if (!M.wild)
			CHECK(M.desc_inflight + c->ndesc <= RM.num, "%u + %u descriptors in flight",
			      M.desc_inflight, c->ndesc);
	}
}

static void wild_take(const struct vio_chain *c)
{
	M.s[c->id].inflight = true;
	M.s[c->id].in_bytes = c->in_bytes > UINT32_MAX ? UINT32_MAX : (uint32_t)c->in_bytes;
	M.ninflight++;
}

static void do_pop(uint32_t cap, uint32_t crash_at)
{
	struct vio_chain c = { .iov = cap ? iov : NULL, .iov_cap = cap };
	static struct iovec miov[RM_IOV_MAX_CAP];
	bool was_broken = M.broken;
	struct mchain mc;
	enum mres want = M.wild ? M_UNKNOWN : m_pop(&mc);
	uint32_t mn = 0, mnout = 0;
	bool fits = (want == M_CHAIN || want == M_EITHER) && rm_iov(&mc, miov, cap, &mn, &mnout);
	int r;

	snapshot();
	/* Dying inside a pop: the chain was not taken (the log commits it last). */
	CRASHABLE(crash_at, r = vio_devq_pop(Q, &c), (void)0);
	switch ((int)want) {
	case M_EMPTY:
		CHECK(r == 0, "pop %d, model: empty", r);
		break;
	case M_BROKEN:
		CHECK(r == -EIO, "pop %d, model: ring broken", r);
		M.broken = true;
		break;
	case M_EITHER:
		if (r == -EIO) {
			M.broken = true;
			break;
		}
		/* fall through */
	case M_CHAIN:
		CHECK(r == (fits ? 1 : -ENOBUFS), "pop %d (%s), model: %s (%u buffers, id %u)", r,
		      vio_devq_error(Q) ? vio_devq_error(Q) : "-", fits ? "a chain" : "-ENOBUFS",
		      mc.nbufs, mc.id);
		CHECK(c.id == mc.id && c.ndesc == mc.ndesc, "id %u ndesc %u, model %u %u", c.id,
		      c.ndesc, mc.id, mc.ndesc);
		if (fits)
			rm_check_equal(&c, &mc, cap);
		m_take(mc.id, mc.ndesc, mc.in_bytes, walked);
		break;
	default: /* M_UNKNOWN */
		check_unpredicted_pop(r, &c, cap, was_broken);
		if (r != 1 && r != -ENOBUFS)
			break;
		if (M.wild) {
			wild_take(&c);
			break;
		}
		CHECK(c.id == mc.id && c.ndesc == mc.ndesc, "id %u ndesc %u, the log had %u %u",
		      c.id, c.ndesc, mc.id, mc.ndesc);
		m_take(c.id, c.ndesc, c.in_bytes, NULL);
		break;
	}
	check_areas("pop");
	if (crash_at)
		restart(); /* it died right after */
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
	check_unpredicted_pop(r, &c, cap, was_broken);
	for (uint32_t k = 0; k < log->nlog; k++)
		CHECK(!log->log[k].write, "pop wrote guest memory at %p", (void *)log->log[k].addr);
	if (r == 1 || r == -ENOBUFS) {
		df = race_double_fetch(log);
		CHECK(df < 0, "double fetch: guest address %p read again by the instruction at %p",
		      (void *)log->log[df].addr, (void *)log->log[df].ip);
		if (M.wild) {
			wild_take(&c);
		} else {
			if (M.iresub < M.nresub)
				CHECK(c.id == M.resub[M.iresub] && c.ndesc == M.s[c.id].ndesc,
				      "popped %u (%u descriptors), the log had %u in flight next", c.id,
				      c.ndesc, M.resub[M.iresub]);
			m_take(c.id, c.ndesc, c.in_bytes, NULL);
		}
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

static void do_push(uint16_t id, uint32_t len, uint32_t crash_at)
{
	bool known = id < RM.num && M.s[id].inflight && !M.s[id].done;
	int r;

	TRACE("push id %u len %u (%s)", id, len, known ? "in flight" : "unknown");
	snapshot();
	/* Dying inside a push: its used descriptor is not published; still in flight. */
	CRASHABLE(crash_at, r = vio_devq_push(Q, id, len), (void)0);
	if (M.wild) {
		CHECK(r == (known ? (M.broken ? -EIO : 0) : -EINVAL), "push of id %u: %d", id, r);
		if (known) {
			M.s[id].inflight = false;
			M.ninflight--;
		}
		check_areas("push");
		if (crash_at)
			restart();
		return;
	}
	if (!known) {
		CHECK(r == -EINVAL, "push of id %u, not in flight: %d", id, r);
		check_areas("push of an unknown id");
		if (crash_at)
			restart();
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
		M.s[id].unflushed = true; /* until a flush publishes it (never, once broken) */
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
	if (crash_at)
		restart();
}

/*
 * After dying inside a flush: the batch is published if its first used
 * descriptor shows used (what the driver, and recovery, look at). If it
 * already looked used before the flush (the driver wrote that position,
 * which the device had consumed), nobody can tell: only the invariants.
 */
static void flush_died(bool looked_used)
{
	if (M.broken || !M.batch)
		return;
	if (looked_used) {
		M.wild = true;
		return;
	}
	if (!shows_used())
		return;
	for (uint32_t i = 0; i < RM.num; i++)
		M.s[i].unflushed = false;
	M.sig_pos = M.next_used;
	M.sig_wrap = M.used_wrap;
}

static void do_flush(uint32_t crash_at)
{
	uint16_t evflags = le16_to_cpu(drv_ev->flags) & 3, evdesc = le16_to_cpu(drv_ev->desc);
	uint16_t first = M.next_used;
	bool first_wrap = M.used_wrap, looked_used;
	uint32_t drained = 0, dndesc = 0, last = 0;
	static bool was_drained[MAX_NUM];
	int r, want = 0;

	if (RM.in_order && !M.wild) {
		memset(was_drained, 0, RM.num);
		while (M.ocount && M.s[M.order[M.ohead]].done) {
			last = M.order[M.ohead];
			M.s[last].inflight = M.s[last].done = false;
			M.s[last].unflushed = true; /* until the flush publishes it */
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
	looked_used = shows_used();
	CRASHABLE(crash_at, r = vio_devq_flush(Q), flush_died(looked_used));
	if (M.broken || M.wild) {
		CHECK(r == 0 || (r == 1 && !M.broken), "flush returned %d (broken %d)", r, M.broken);
		check_areas("flush");
		if (crash_at)
			restart();
		return;
	}
	if (M.batch)
		for (uint32_t i = 0; i < RM.num; i++)
			M.s[i].unflushed = false; /* published now */
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
	if (crash_at)
		restart();
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
	} else if (M.wild) {
		CHECK(r == 0 || r == 1, "kick_enable %d", r);
	} else {
		/* Lists waiting to be popped again from the log are buffers too,
		 * but whether kick_enable counts them is left open (see README). */
		if (M.iresub == M.nresub)
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

/* (Re)initialises the device-side queue; the model is the caller's. */
static void device_init(uint32_t base)
{
	struct vio_devq_config cfg = { .num = RM.num, .features = features(), .desc = ring,
				       .driver = drv_ev, .device = dev_ev, .mem = &RM.G.mem,
				       .base = base, .inflight = logmem, .inflight_size = logsize };

	CHECK(vio_devq_init(Q, &cfg) == 0, "init refused a valid ring (base 0x%x)", base);
}

static void queue_init(uint32_t base)
{
	device_init(base);
	memset(&M, 0, sizeof(M));
	M.next_avail = base & 0x7fff;
	M.avail_wrap = base & BASE_WRAP;
	M.next_used = M.sig_pos = (base >> 16) & 0x7fff;
	M.used_wrap = M.sig_wrap = (base >> 16) & BASE_WRAP;
	snapshot();
	check_areas("init");
}

/*
 * The device restarts with its inflight log, whatever was in flight (vhost-user
 * "Inflight I/O tracking"): the lists popped and not seen used by the driver
 * (not pushed, or pushed and not published) are popped again first, from the
 * descriptors saved when they were popped, in pop order; the used position is
 * the last one published, the available one follows the last list popped.
 * After a log the front-end wrote into, only the invariants are checked.
 */
static void restart(void)
{
	uint16_t ids[MAX_NUM], next_avail = M.next_avail, sig_pos = M.sig_pos;
	bool avail_wrap = M.avail_wrap, sig_wrap = M.sig_wrap;
	bool wild = M.wild || log_dirty || M.reused;
	uint32_t n = 0, descs = 0, gap;
	struct mslot keep[MAX_NUM];

	for (uint32_t i = 0; i < RM.num && !wild; i++) {
		if (!M.s[i].inflight && !M.s[i].unflushed)
			continue;
		uint32_t k = n++;

		while (k && M.s[ids[k - 1]].counter > M.s[i].counter) {
			ids[k] = ids[k - 1];
			k--;
		}
		ids[k] = (uint16_t)i;
	}
	/* Those not popped again yet are still in flight, after the ones that were. */
	for (uint32_t k = M.iresub; k < M.nresub && !wild; k++)
		ids[n++] = M.resub[k];
	for (uint32_t k = 0; k < n; k++)
		descs += M.s[ids[k]].ndesc;
	memcpy(keep, M.s, RM.num * sizeof(keep[0]));
	TRACE("restart: %u lists (%u descriptors) to pop again%s; positions avail %u/%d used %u/%d",
	      n, descs, wild ? " (log written by the front-end)" : "", next_avail, avail_wrap,
	      sig_pos, sig_wrap);
	if (logmem && fuzz_trace_on()) {
		const uint8_t *h = logmem;

		TRACE("log header: used 0x%04x batch_used 0x%04x batch_count %u avail 0x%04x "
		      "avail_counter %llu", h[12] | h[13] << 8, h[14] | h[15] << 8, h[16] | h[17] << 8,
		      h[20] | h[21] << 8, (unsigned long long)h[24]);
	}
	/* vhost-user: the front-end resumes from where the device stood. */
	device_init((uint32_t)next_avail | (avail_wrap ? BASE_WRAP : 0) |
		    (uint32_t)sig_pos << 16 | (sig_wrap ? BASE_WRAP << 16 : 0));
	memset(&M, 0, sizeof(M));
	M.wild = wild;
	log_dirty = false;
	snapshot();
	if (wild) {
		M.broken = vio_devq_error(Q) != NULL;
		return;
	}
	for (uint32_t k = 0; k < n; k++) {
		M.s[ids[k]].ndesc = keep[ids[k]].ndesc;
		M.s[ids[k]].unknown = keep[ids[k]].unknown;
	}
	memcpy(M.resub, ids, n * sizeof(ids[0]));
	M.nresub = n;
	M.next_avail = next_avail;
	M.avail_wrap = avail_wrap;
	M.next_used = M.sig_pos = sig_pos;
	M.used_wrap = M.sig_wrap = sig_wrap;
	/* The model's own bookkeeping: what lies between the positions is in flight. */
	gap = (next_avail + (avail_wrap ? 0 : RM.num) + 2 * RM.num - sig_pos -
	       (sig_wrap ? 0 : RM.num)) % (2 * RM.num);
	CHECK(gap == descs, "model: %u descriptors between the positions, %u in flight", gap, descs);
	check_areas("restart");
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
		/* room for the sizes bad_inits() tries too (the caller supplies vio_devq_size(num)) */
		Q = aligned_alloc(64, (vio_devq_size(MAX_NUM + 1) + 63) & ~(size_t)63);
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
	free(logmem);
	logmem = NULL;
	logsize = 0;
	log_dirty = false;
	if (feat & 32) {
		/* An inflight log: fresh, or (feat & 64) whatever the front-end kept. */
		logsize = vio_devq_inflight_size(RM.num);
		logmem = calloc(1, logsize);
		CHECK(logmem, "calloc");
		if (feat & 64) {
			fin_bytes(f, logmem, fin_u16(f) % (logsize + 1));
			log_dirty = true;
		}
		/* A ring the log tracks is consistent: nothing in flight. */
		base = a | a << 16;
	}
	if (log_dirty) {
		device_init(base);
		memset(&M, 0, sizeof(M));
		M.wild = true;
		M.broken = vio_devq_error(Q) != NULL;
		log_dirty = false;
		snapshot();
	} else {
		queue_init(base);
	}
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
			do_pop(fin_u8(&in) % (RM_IOV_MAX_CAP + 1), 0);
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
				do_push((uint16_t)id, len, 0);
			break;
		}
		case OP_PUSH_BOGUS: {
			uint16_t id = fin_u16(&in);

			do_push(id, rm_get_len(&in), 0);
			break;
		}
		case OP_FLUSH:
			do_flush(0);
			break;
		case OP_KICK_OFF:
			do_kick(false);
			break;
		case OP_KICK_ON:
			do_kick(true);
			break;
		case OP_REINIT:
			/* vhost-user restarts a queue once it is drained and flushed. */
			if (M.ninflight || M.ocount || M.batch || M.wild)
				break;
			if (logmem)
				restart();
			else
				queue_init(vio_devq_base(Q));
			break;
		case OP_CRASH:
			if (logmem) {
				restart();
			} else if (!M.wild) {
				/* no log: resume from the last published position; the lists
				 * in flight are popped again from the ring */
				uint32_t p = (uint32_t)M.sig_pos | (M.sig_wrap ? BASE_WRAP : 0);

				queue_init(p | p << 16);
			}
			break;
		case OP_CRASH_IN: {
			uint8_t which = fin_u8(&in), at = fin_u8(&in) % 24 + 1;
			int id = pick_inflight(fin_u8(&in));

			if (!logmem)
				break; /* without a log there is nothing to recover */
			if (which % 3 == 0)
				do_pop(which >> 2 & 15, at);
			else if (which % 3 == 1 && id >= 0)
				do_push((uint16_t)id, which >> 2, at);
			else if (which % 3 == 2)
				do_flush(at);
			break;
		}
		case OP_LOG_WRITE: {
			uint8_t buf[16];
			uint16_t off = fin_u16(&in);
			uint8_t n = fin_u8(&in) % 16 + 1;

			fin_bytes(&in, buf, n);
			if (!logmem)
				break;
			off %= logsize;
			memcpy((uint8_t *)logmem + off, buf, n < logsize - off ? n : logsize - off);
			log_dirty = true;
			/* Lists still to pop again are read from the log when popped:
			 * their ids and lengths were kept, their descriptors were not. */
			for (uint32_t k = M.iresub; k < M.nresub; k++)
				M.s[M.resub[k]].unknown = true;
			break;
		}
		}
	}
	return 0;
}
