/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness: the device side of the split virtqueue (vio/devq.h,
 * src/ring/split_dev.c, chain.c, devq.c) against a hostile driver.
 *
 * The input is a guest memory layout, a queue configuration and a script of
 * driver actions and device calls (format in fuzz/README.md). Every device
 * call is checked against a reference model written from VIRTIO 1.4 §2.7 and
 * the rules listed in vio/devq.h: what pop must return (nothing, a chain with
 * exactly these iovecs, -ENOBUFS, or -EIO), what push, flush and the kick
 * calls may write (the used ring only), what flush says about notifying.
 * "Race" pops run in a race window (common/guest.h): the script rewrites
 * guest memory between the device's accesses; the model cannot predict those
 * pops, so they are held to the safety invariants only (iovecs inside guest
 * memory, at most iov_cap of them, totals that match, a head not already in
 * flight, no write to guest memory, no double fetch).
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

enum op {
	OP_DESC,       /* write descriptor i */
	OP_TABLE,      /* write an entry of an indirect table anywhere in guest memory */
	OP_CHAIN,      /* write a well-formed chain (direct or indirect) and make it available */
	OP_AVAIL_ADD,  /* ring[idx % num] = head; idx++ */
	OP_AVAIL_RING, /* raw ring entry */
	OP_AVAIL_IDX,  /* raw idx */
	OP_AVAIL_FLAGS,
	OP_USED_EVENT,
	OP_GUEST,      /* raw bytes anywhere in guest memory but the used ring */
	OP_POP,
	OP_POP_RACE,
	OP_PUSH,       /* push a chain in flight */
	OP_PUSH_BOGUS, /* push any id */
	OP_FLUSH,
	OP_KICK_OFF,
	OP_KICK_ON,
	OP_REINIT,     /* restart the queue from its base (nothing in flight) */
	OP_CRASH,      /* the device dies and restarts from its inflight log */
	OP_LOG_WRITE,  /* the front-end writes into the inflight log */
	OP_CRASH_IN,   /* the device dies inside a pop, push or flush, then restarts */
	OP_COUNT
};

static const char *const op_names[OP_COUNT] = {
	"desc",
	"table",
	"chain",
	"avail_add",
	"avail_ring",
	"avail_idx",
	"avail_flags",
	"used_event",
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


/* ---- the queue under test and its rings ---- */

static struct vio_devq *Q;
static uint64_t avail_gpa, used_gpa, used_bytes, drv_bytes;
static struct virtq_desc *desc;
static struct virtq_avail *avail;
static struct virtq_used *used;
static struct iovec iov[RM_IOV_MAX_CAP];

/* The inflight log (vhost-user inflight I/O tracking), when the input asks for one. */
static void *logmem;
static size_t logsize;
static bool log_dirty; /* written by the front-end: recovery is unpredictable */

/* ---- the model ---- */

struct mslot {
	bool inflight, done;
	bool unflushed;    /* pushed, its used element not yet published */
	uint32_t in_bytes, len;
	uint64_t counter;  /* pop order */
};

static struct {
	bool broken;
	bool wild;            /* after recovery from a log the front-end wrote: safety checks only */
	bool reused;          /* a head popped again before its last use was published */
	uint64_t counter;     /* pops so far */
	uint16_t resub[MAX_NUM]; /* recovery: heads popped again first, in pop order */
	uint32_t nresub, iresub;
	uint16_t last_avail; /* next entry the device pops */
	uint16_t used_idx;   /* next used entry the device writes */
	uint16_t signalled;  /* used->idx as last published */
	uint32_t ninflight;
	struct mslot s[MAX_NUM];
	uint16_t order[MAX_NUM]; /* IN_ORDER: heads in pop order */
	uint32_t ohead, ocount;
} M;

/* What the device area (used ring, avail_event) must hold after each device call. */
static uint8_t ushadow[4 + 8 * MAX_NUM + 2];
/* The driver's areas (descriptor table and avail ring, contiguous) before each device call. */
static uint8_t drv_copy[16 * MAX_NUM + 6 + 2 * MAX_NUM];

static enum mres m_walk_indirect(struct mchain *c, const struct virtq_desc *d)
{
	uint64_t table = le64_to_cpu(d->addr);
	uint32_t len = le32_to_cpu(d->len), entries = len / 16, j = 0;

	/* VIRTIO 1.4 §2.7.5.3.1: INDIRECT and NEXT are exclusive. */
	if ((le16_to_cpu(d->flags) & VIRTQ_DESC_F_NEXT) || !rm_indirect_ok(table, len))
		return M_BROKEN;
	for (uint32_t links = 1;; links++) {
		struct virtq_desc e;
		uint16_t fl;

		if (links > entries)
			return M_BROKEN; /* a loop inside the table */
		if (!rm_read(table + 16ull * j, &e, sizeof(e)))
			return M_BROKEN;
		fl = le16_to_cpu(e.flags);
		if (fl & VIRTQ_DESC_F_INDIRECT)
			return M_BROKEN; /* §2.7.5.3.1: no table in a table */
		if (!rm_add(c, le64_to_cpu(e.addr), le32_to_cpu(e.len), fl & VIRTQ_DESC_F_WRITE))
			return M_BROKEN;
		if (!(fl & VIRTQ_DESC_F_NEXT))
			return M_CHAIN;
		j = le16_to_cpu(e.next);
		if (j >= entries)
			return M_BROKEN;
	}
}

/* What the next pop must do, from the ring as the driver left it. */
static enum mres m_pop(struct mchain *c)
{
	uint16_t idx = le16_to_cpu(avail->idx), head;
	uint32_t i;

	memset(c, 0, sizeof(*c));
	if (M.broken)
		return M_BROKEN;
	if (M.iresub < M.nresub) {
		/* After a restart, the chains in flight come first (devq.h). */
		head = M.resub[M.iresub];
	} else {
		if (idx == M.last_avail)
			return M_EMPTY;
		if ((uint16_t)(idx - M.last_avail) > RM.num)
			return M_BROKEN;
		head = le16_to_cpu(avail->ring[M.last_avail & (RM.num - 1)]);
		if (head >= RM.num || M.s[head].inflight)
			return M_BROKEN;
		/* With the log, a head made available again before its use was
		 * published breaks the ring (devq.h). */
		if (logmem && M.s[head].unflushed)
			return M_BROKEN;
	}
	c->id = head;
	i = head;
	for (uint32_t links = 1;; links++) {
		struct virtq_desc d;
		uint16_t fl;

		if (links > RM.num)
			return M_BROKEN; /* longer than the queue: a loop */
		d = desc[i];
		fl = le16_to_cpu(d.flags);
		c->ndesc = (uint16_t)links;
		if (fl & VIRTQ_DESC_F_INDIRECT)
			return m_walk_indirect(c, &d);
		if (!rm_add(c, le64_to_cpu(d.addr), le32_to_cpu(d.len), fl & VIRTQ_DESC_F_WRITE))
			return M_BROKEN;
		if (!(fl & VIRTQ_DESC_F_NEXT))
			return M_CHAIN;
		i = le16_to_cpu(d.next);
		if (i >= RM.num)
			return M_BROKEN;
	}
}

static void m_take(uint16_t head, uint64_t in_bytes)
{
	/* The driver made the head available again before it saw it used (a
	 * driver bug): the log's entry for it is then shared by two uses, and
	 * a restart may refuse the log (see fuzz/README.md, findings). */
	if (M.s[head].unflushed || (M.s[head].inflight && M.s[head].done))
		M.reused = true;
	M.s[head].inflight = true;
	M.s[head].done = false;
	M.s[head].in_bytes = in_bytes > UINT32_MAX ? UINT32_MAX : (uint32_t)in_bytes;
	M.s[head].unflushed = false;
	M.s[head].counter = ++M.counter;
	M.ninflight++;
	if (RM.in_order)
		M.order[(M.ohead + M.ocount++) % RM.num] = head;
	if (M.iresub < M.nresub)
		M.iresub++; /* popped again from the log: no new avail entry */
	else
		M.last_avail++;
}

/* Before a device call: what the driver's areas hold. */
static void drv_snapshot(void)
{
	memcpy(drv_copy, desc, drv_bytes);
}

/* The used ring holds what the model says; the driver's areas are untouched. */
static void check_areas(const char *after)
{
	CHECK(!memcmp(drv_copy, desc, drv_bytes), "%s wrote the driver's areas", after);
	if (M.wild) {
		/* Recovered from a log the front-end wrote: the model cannot say
		 * what is in flight, only that broken stays broken. */
		CHECK(!M.broken || vio_devq_error(Q), "broken queue lost its reason after %s", after);
		M.broken = vio_devq_error(Q) != NULL;
		CHECK(vio_devq_inflight(Q) == M.ninflight, "inflight %u, %u popped and not pushed",
		      vio_devq_inflight(Q), M.ninflight);
		return;
	}
	CHECK(!memcmp(ushadow, used, used_bytes), "used ring differs from the model after %s", after);
	if (M.broken)
		CHECK(vio_devq_error(Q), "broken queue without a reason after %s", after);
	else
		CHECK(!vio_devq_error(Q), "queue broken after %s, model not: %s", after,
		      vio_devq_error(Q));
}

/* ---- device calls ---- */

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

/* A pop the model cannot predict (race window, or after a wild recovery): the invariants. */
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
		CHECK(c->id < RM.num && !M.s[c->id].inflight, "popped head %u already in flight", c->id);
	}
}

static void do_pop_wild(uint32_t cap)
{
	struct vio_chain c = { .iov = cap ? iov : NULL, .iov_cap = cap };
	bool was_broken = M.broken;
	int r;

	drv_snapshot();
	r = vio_devq_pop(Q, &c);
	check_unpredicted_pop(r, &c, cap, was_broken);
	if (r == 1 || r == -ENOBUFS) {
		M.s[c.id].inflight = true;
		M.s[c.id].in_bytes = c.in_bytes > UINT32_MAX ? UINT32_MAX : (uint32_t)c.in_bytes;
		M.ninflight++;
	}
	check_areas("pop");
}

static void do_pop(uint32_t cap, uint32_t crash_at)
{
	struct vio_chain c = { .iov = cap ? iov : NULL, .iov_cap = cap };
	static struct iovec miov[RM_IOV_MAX_CAP];
	struct mchain mc;
	enum mres want;
	uint32_t mn = 0, mnout = 0;
	bool fits;
	int r;

	if (M.wild) {
		do_pop_wild(cap);
		if (crash_at)
			restart();
		return;
	}
	want = m_pop(&mc);
	fits = want == M_CHAIN && rm_iov(&mc, miov, cap, &mn, &mnout);
	drv_snapshot();
	/* Dying inside a pop: the chain was not taken (the log commits it last). */
	CRASHABLE(crash_at, r = vio_devq_pop(Q, &c), (void)0);
	switch (want) {
	case M_EMPTY:
		CHECK(r == 0, "pop %d, model: empty", r);
		break;
	case M_BROKEN:
		CHECK(r == -EIO, "pop %d, model: ring broken", r);
		M.broken = true;
		break;
	case M_CHAIN:
		CHECK(r == (fits ? 1 : -ENOBUFS), "pop %d, model: %s (%u buffers, head %u)", r,
		      fits ? "a chain" : "-ENOBUFS", mc.nbufs, mc.id);
		CHECK(c.id == mc.id && c.ndesc == mc.ndesc, "id %u ndesc %u, model %u %u", c.id,
		      c.ndesc, mc.id, mc.ndesc);
		if (fits)
			rm_check_equal(&c, &mc, cap);
		m_take(mc.id, mc.in_bytes);
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
	drv_snapshot(); /* the driver changed them; the log shows what the device did */
	check_unpredicted_pop(r, &c, cap, was_broken);
	for (uint32_t k = 0; k < log->nlog; k++)
		CHECK(!log->log[k].write, "pop wrote guest memory at %p", (void *)log->log[k].addr);
	if (M.wild) {
		if (r == 1 || r == -ENOBUFS) {
			M.s[c.id].inflight = true;
			M.s[c.id].in_bytes = c.in_bytes > UINT32_MAX ? UINT32_MAX : (uint32_t)c.in_bytes;
			M.ninflight++;
		}
	} else if (r == 1 || r == -ENOBUFS) {
		if (M.iresub < M.nresub)
			CHECK(c.id == M.resub[M.iresub], "popped %u, the log had %u in flight next", c.id,
			      M.resub[M.iresub]);
		df = race_double_fetch(log);
		CHECK(df < 0, "double fetch: guest address %p read again by the instruction at %p",
		      (void *)log->log[df].addr, (void *)log->log[df].ip);
		m_take(c.id, c.in_bytes);
	}
	if (!M.wild)
		CHECK(vio_devq_base(Q) == M.last_avail, "base %u, model %u", vio_devq_base(Q),
		      M.last_avail);
	check_areas("race pop");
}

/* The k-th chain in flight and not yet pushed, or -1. */
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

static void put_elem(uint16_t pos, uint32_t id, uint32_t len)
{
	struct virtq_used_elem e = { cpu_to_le32(id), cpu_to_le32(len) };

	memcpy(ushadow + 4 + 8 * (size_t)(pos & (RM.num - 1)), &e, sizeof(e));
}

static void do_push(uint16_t id, uint32_t len, uint32_t crash_at)
{
	bool known = id < RM.num && M.s[id].inflight && !M.s[id].done;
	int r;

	drv_snapshot();
	/* Dying inside a push: its element is not published; still in flight. */
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
		len = M.s[id].in_bytes; /* clamped to the writable size */
	M.ninflight--;
	if (RM.in_order) {
		M.s[id].done = true;
		M.s[id].len = len;
	} else {
		M.s[id].inflight = false;
		M.s[id].unflushed = true; /* until a flush publishes it (never, once broken) */
		if (!M.broken) { /* a broken ring is not written */
			put_elem(M.used_idx, id, len);
			M.used_idx++;
		}
	}
	CHECK(vio_devq_inflight(Q) == M.ninflight, "inflight %u, model %u", vio_devq_inflight(Q),
	      M.ninflight);
	check_areas("push");
	if (crash_at)
		restart();
}

/* After dying inside a flush: the batch is published if the used index made it to the ring. */
static void flush_died(void)
{
	if (M.broken || M.used_idx == M.signalled || le16_to_cpu(used->idx) != M.used_idx)
		return;
	for (uint32_t i = 0; i < RM.num; i++)
		M.s[i].unflushed = false;
	M.signalled = M.used_idx;
}

static void do_flush(uint32_t crash_at)
{
	uint16_t old = M.signalled, uev = le16_to_cpu(*virtq_used_event(avail, RM.num));
	uint16_t aflags = le16_to_cpu(avail->flags), first = M.used_idx;
	uint32_t drained = 0, last = 0;
	int r, want;

	if (RM.in_order && !M.wild) {
		/* §2.7.9: the done ones at the front of the pop order are used, in order. */
		while (M.ocount && M.s[M.order[M.ohead]].done) {
			last = M.order[M.ohead];
			M.s[last].inflight = M.s[last].done = false;
			M.s[last].unflushed = true; /* until the flush publishes it */
			M.ohead = (M.ohead + 1) % RM.num;
			M.ocount--;
			drained++;
		}
		if (!M.broken)
			M.used_idx = (uint16_t)(M.used_idx + drained);
	}
	drv_snapshot();
	CRASHABLE(crash_at, r = vio_devq_flush(Q), flush_died());
	if (M.wild || M.broken) {
		CHECK(r == 0 || (r == 1 && !M.broken), "flush returned %d (broken %d)", r, M.broken);
		check_areas("flush");
		if (crash_at)
			restart();
		return;
	}
	for (uint32_t i = 0; i < RM.num; i++)
		M.s[i].unflushed = false; /* published now */
	if (M.used_idx == old) {
		want = 0;
	} else {
		/* §2.7.7.2 */
		want = RM.event_idx ? vring_need_event(uev, M.used_idx, old)
				    : !(aflags & VIRTQ_AVAIL_F_NO_INTERRUPT);
		M.signalled = M.used_idx;
		memcpy(ushadow + 2, &(le16){ cpu_to_le16(M.used_idx).v }, 2);
	}
	CHECK(r == want, "flush %d, model %d", r, want);
	if (RM.in_order && drained) {
		/* The elements written in [first, first + drained) stand for the
		 * drained buffers; one is the last of them, with its length (§2.7.9).
		 * How they are batched is the device's choice. */
		bool seen_last = false;

		for (uint32_t k = 0; k < drained && k < RM.num; k++) {
			uint32_t pos = (uint16_t)(first + k) & (RM.num - 1);
			struct virtq_used_elem e;

			memcpy(&e, &used->ring[pos], sizeof(e));
			if (le32_to_cpu(e.id) == last && le32_to_cpu(e.len) == M.s[last].len)
				seen_last = true;
			memcpy(ushadow + 4 + 8 * (size_t)pos, &e, sizeof(e));
		}
		CHECK(seen_last, "IN_ORDER flush: no used element for the last buffer %u", last);
	}
	check_areas("flush");
	if (crash_at)
		restart();
}

static void do_kick(bool on)
{
	int r;

	drv_snapshot();
	if (!on) {
		vio_devq_kick_disable(Q);
		/* §2.7.10.2: flags only without EVENT_IDX. */
		if (!M.broken && !RM.event_idx)
			memcpy(ushadow, &(le16){ cpu_to_le16(VIRTQ_USED_F_NO_NOTIFY).v }, 2);
		check_areas("kick_disable");
		return;
	}
	r = vio_devq_kick_enable(Q);
	if (M.broken) {
		CHECK(r == 0, "kick_enable on a broken queue: %d", r);
	} else if (M.wild) {
		CHECK(r == 0 || r == 1, "kick_enable %d", r);
	} else {
		/* Chains waiting to be popped again from the log are buffers too,
		 * but whether kick_enable counts them is left open (see README). */
		if (M.iresub == M.nresub)
			CHECK(r == (le16_to_cpu(avail->idx) != M.last_avail), "kick_enable %d", r);
		if (RM.event_idx)
			memcpy(ushadow + 4 + 8 * (size_t)RM.num,
			       &(le16){ cpu_to_le16(M.last_avail).v }, 2);
		else
			memset(ushadow, 0, 2);
	}
	check_areas("kick_enable");
}

/* (Re)initialises the device-side queue; the model is the caller's. */
static void device_init(uint16_t base, uint16_t used_idx)
{
	struct vio_devq_config cfg = {
		.num = RM.num,
		.features = VIO_BIT(VIRTIO_F_VERSION_1) |
			    (RM.indirect ? VIO_BIT(VIRTIO_F_INDIRECT_DESC) : 0) |
			    (RM.event_idx ? VIO_BIT(VIRTIO_F_EVENT_IDX) : 0) |
			    (RM.in_order ? VIO_BIT(VIRTIO_F_IN_ORDER) : 0),
		.desc = desc, .driver = avail, .device = used, .mem = &RM.G.mem, .base = base,
		.inflight = logmem, .inflight_size = logsize,
	};

	used->idx = cpu_to_le16(used_idx); /* vhost-user: the device resumes from here */
	CHECK(vio_devq_init(Q, &cfg) == 0, "init refused a valid ring");
	memcpy(ushadow, used, used_bytes);
}

static void queue_init(uint16_t base, uint16_t used_idx)
{
	device_init(base, used_idx);
	memset(&M, 0, sizeof(M));
	M.last_avail = base;
	M.used_idx = M.signalled = used_idx;
	CHECK(vio_devq_base(Q) == base, "base %u after init with %u", vio_devq_base(Q), base);
}

/*
 * The device restarts with its inflight log, whatever was in flight (a
 * crash between two calls, or a clean restart). vhost-user "Inflight I/O
 * tracking": the chains popped and not seen used by the driver (not
 * pushed, or pushed but not published by a flush) are popped again first,
 * in the order they were first popped; the next new chain follows them.
 * After a log the front-end wrote into, only the invariants are checked.
 */
static void restart(void)
{
	uint16_t published = M.signalled, ids[MAX_NUM];
	uint32_t n = 0;
	bool wild = M.wild || log_dirty || M.reused;

	for (uint32_t i = 0; i < RM.num && !wild; i++) {
		if (!M.s[i].inflight && !M.s[i].unflushed)
			continue;
		uint32_t k = n++;

		/* insertion by pop order */
		while (k && M.s[ids[k - 1]].counter > M.s[i].counter) {
			ids[k] = ids[k - 1];
			k--;
		}
		ids[k] = (uint16_t)i;
	}
	/* Those not popped again yet are still in flight, and after the ones
	 * that were (the log keeps the first pop's order; nothing new was
	 * popped while some wait). */
	for (uint32_t k = M.iresub; k < M.nresub && !wild; k++)
		ids[n++] = M.resub[k];
	TRACE("restart: %u chains to pop again%s", n, wild ? " (log written by the front-end)" : "");
	/* After a crash the front-end resumes the ring from its used index. */
	device_init(published, published);
	memset(&M, 0, sizeof(M));
	M.used_idx = M.signalled = published;
	M.wild = wild;
	log_dirty = false;
	if (wild) {
		M.broken = vio_devq_error(Q) != NULL;
		return;
	}
	memcpy(M.resub, ids, n * sizeof(ids[0]));
	M.nresub = n;
	M.last_avail = (uint16_t)(published + n);
	/* The driver's index can only be behind the log if it went backwards. */
	M.broken = (uint16_t)(le16_to_cpu(avail->idx) - M.last_avail) > RM.num;
	if (!M.broken)
		CHECK(vio_devq_base(Q) == M.last_avail, "base %u after recovery, model %u",
		      vio_devq_base(Q), M.last_avail);
}

/* Configurations init must refuse (vio/devq.h). */
static void bad_inits(void)
{
	struct vio_devq_config bad = { .num = RM.num, .desc = (uint8_t *)desc + 8,
				       .driver = avail, .device = used, .mem = &RM.G.mem };

	CHECK(vio_devq_init(Q, &bad) == -EINVAL, "misaligned descriptor table accepted");
	bad.desc = desc;
	bad.device = (uint8_t *)used + 2;
	CHECK(vio_devq_init(Q, &bad) == -EINVAL, "misaligned used ring accepted");
	bad.device = used;
	bad.num = RM.num + 1 + (RM.num == 1);
	CHECK(vio_devq_init(Q, &bad) == -EINVAL, "queue size %u accepted", bad.num);
	bad.num = RM.num;
	bad.base = 0x10000;
	CHECK(vio_devq_init(Q, &bad) == -EINVAL, "base 0x10000 accepted");
}

/* ---- driver actions ---- */

static void write_desc_at(uint64_t gpa, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	struct virtq_desc d = { cpu_to_le64(addr), cpu_to_le32(len), cpu_to_le16(flags),
				cpu_to_le16(next) };

	rm_drv_write(gpa, &d, sizeof(d));
}

static void avail_add(uint16_t head)
{
	uint16_t idx = le16_to_cpu(avail->idx);

	avail->ring[idx & (RM.num - 1)] = cpu_to_le16(head);
	avail->idx = cpu_to_le16((uint16_t)(idx + 1));
}

/* A chain of 1..8 buffers from descriptor @start on, or one indirect descriptor and its table. */
static void op_chain(struct fin *f)
{
	uint8_t sel = fin_u8(f);
	unsigned n = (sel & 7) + 1;
	bool indirect = sel & 8;
	uint16_t start = fin_u16(f) % RM.num;
	uint64_t table = indirect ? rm_get_addr(f) : 0;

	for (unsigned k = 0; k < n; k++) {
		uint64_t addr = rm_get_addr(f);
		uint32_t len = rm_get_len(f);
		uint16_t flags = (fin_u8(f) & 1) ? VIRTQ_DESC_F_WRITE : 0;

		if (k + 1 < n)
			flags |= VIRTQ_DESC_F_NEXT;
		if (indirect)
			write_desc_at(table + 16ull * k, addr, len, flags, (uint16_t)(k + 1));
		else
			write_desc_at(RM.ring_gpa + 16ull * ((start + k) % RM.num), addr, len, flags,
				      (uint16_t)((start + k + 1) % RM.num));
	}
	if (indirect)
		write_desc_at(RM.ring_gpa + 16ull * start, table, 16 * n, VIRTQ_DESC_F_INDIRECT, 0);
	avail_add(start);
}

static void setup(struct fin *f)
{
	uint8_t cfg = fin_u8(f), feat = fin_u8(f);
	uint64_t used_off;
	uint16_t base, uidx;

	RM.num = 1u << ((cfg & 15) > 10 ? 10 : (cfg & 15));
	RM.indirect = feat & 1;
	RM.event_idx = feat & 2;
	RM.in_order = feat & 4;
	/* desc | avail | used, back to back in region 0 (the used ring 64-aligned). */
	used_off = (16ull * RM.num + 6 + 2ull * RM.num + 63) & ~63ull;
	used_bytes = 6 + 8ull * RM.num;
	drv_bytes = 16ull * RM.num + 6 + 2ull * RM.num;
	rm_setup_memory(f, used_off + used_bytes);
	avail_gpa = RM.ring_gpa + 16ull * RM.num;
	used_gpa = RM.ring_gpa + used_off;
	RM.excl_gpa = used_gpa;
	RM.excl_len = used_bytes;
	desc = guest_ptr(&RM.G, RM.ring_gpa, 16ull * RM.num);
	avail = guest_ptr(&RM.G, avail_gpa, 6 + 2ull * RM.num);
	used = guest_ptr(&RM.G, used_gpa, used_bytes);
	CHECK(desc && avail && used, "rings outside region 0");
	if (!Q)
		/* room for the sizes bad_inits() tries too (the caller supplies vio_devq_size(num)) */
		Q = aligned_alloc(64, (vio_devq_size(MAX_NUM + 1) + 63) & ~(size_t)63);
	if (cfg & 0x10)
		bad_inits();
	base = fin_u16(f);
	uidx = fin_u16(f);
	avail->idx = cpu_to_le16(base);
	free(logmem);
	logmem = NULL;
	logsize = 0;
	log_dirty = false;
	if (feat & 8) {
		/* An inflight log: fresh, or (feat & 16) whatever the front-end kept. */
		logsize = vio_devq_inflight_size(RM.num);
		logmem = calloc(1, logsize);
		CHECK(logmem, "calloc");
		if (feat & 16) {
			fin_bytes(f, logmem, fin_u16(f) % (logsize + 1));
			log_dirty = true;
		}
		/* A ring the log tracks is consistent: nothing in flight. */
		uidx = base;
	}
	if (log_dirty) {
		device_init(base, uidx);
		memset(&M, 0, sizeof(M));
		M.wild = true;
		M.broken = vio_devq_error(Q) != NULL;
		log_dirty = false;
	} else {
		queue_init(base, uidx);
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
			uint16_t flags = fin_u16(&in), next = fin_u16(&in);

			write_desc_at(RM.ring_gpa + 16ull * i, addr, len, flags, next);
			break;
		}
		case OP_TABLE: {
			uint64_t table = rm_get_addr(&in);
			uint16_t i = fin_u16(&in);
			uint64_t addr = rm_get_addr(&in);
			uint32_t len = rm_get_len(&in);
			uint16_t flags = fin_u16(&in), next = fin_u16(&in);

			write_desc_at(table + 16ull * i, addr, len, flags, next);
			break;
		}
		case OP_CHAIN:
			op_chain(&in);
			break;
		case OP_AVAIL_ADD:
			avail_add(fin_u16(&in));
			break;
		case OP_AVAIL_RING: {
			uint16_t slot = fin_u16(&in) % RM.num, v = fin_u16(&in);

			avail->ring[slot] = cpu_to_le16(v);
			break;
		}
		case OP_AVAIL_IDX:
			avail->idx = cpu_to_le16(fin_u16(&in));
			break;
		case OP_AVAIL_FLAGS:
			avail->flags = cpu_to_le16(fin_u16(&in));
			break;
		case OP_USED_EVENT:
			*virtq_used_event(avail, RM.num) = cpu_to_le16(fin_u16(&in));
			break;
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
		case OP_REINIT: {
			uint16_t uidx = fin_u16(&in);

			/* vhost-user restarts a queue only once it is drained and flushed. */
			if (M.ninflight || M.ocount || M.used_idx != M.signalled || M.wild)
				break;
			if (logmem)
				restart();
			else
				queue_init((uint16_t)vio_devq_base(Q), uidx & 1 ? uidx : M.used_idx);
			break;
		}
		case OP_CRASH:
			if (logmem)
				restart();
			else if (!M.wild) /* no log: the chains in flight are simply popped again */
				queue_init(M.signalled, M.signalled);
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
			break;
		}
		}
	}
	return 0;
}
