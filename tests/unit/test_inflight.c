/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the inflight log of the device-side virtqueue
 * (src/ring/inflight.c, vhost-user "Inflight I/O tracking"): a back-end
 * killed at any point and restarted over the same rings and the same log
 * completes every chain the driver made available exactly once.
 *
 * A crash is simulated by abandoning a struct vio_devq (its storage is
 * ours: it is poisoned and freed) and initialising a new one over the same
 * ring memory and log region, with a wrong vring base, as QEMU sends one
 * after a crash: the log must win. Where a crash happens:
 *   - between two calls (pop, push, flush);
 *   - between the steps of a flush, through the internal calls of
 *     "ring/devq_impl.h" (inflight_publish_begin(), the layout's flush,
 *     inflight_publish_end());
 *   - at any single store into shared memory (the log and the rings): on
 *     x86-64 Linux the tracer below write-protects them, single-steps each
 *     store the device makes (trap flag) and "kills" the device after the
 *     N-th one, or just before / after the store to a given address, by
 *     jumping out of the signal handler. The directed crash-point tests
 *     and the random model use it; elsewhere they skip.
 * Whether a chain was completed is judged from the driver's side (the mock
 * driver: mock_vq_used() rejects ids it did not post) against a model of
 * every request: each is popped in avail order (chains in flight at a crash
 * first, in their first pop order, with the same iovecs), and reaped by the
 * driver exactly once, with the length the device pushed.
 *
 * The region is untrusted (DESIGN.md §4): the hostile tests write into it
 * what a front-end could, and the queue must come up broken (pop -EIO,
 * vio_devq_error() naming it) or consistent, never fault or resubmit
 * anything outside guest memory. The log layout is mirrored from the
 * header comment of src/ring/inflight.c.
 *
 * Matrix: {split (Queue Size 16), packed (21)} x {indirect} x {in_order};
 * the random model also runs smaller queues, event_idx, and rings starting
 * just before the index / wrap-counter wrap (VIO_TEST_SEED picks the seeds).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <cmocka.h>

#include "mock_driver.h"
#include "ring/devq_impl.h"

#define F_INDIRECT VIO_BIT(VIRTIO_F_INDIRECT_DESC)
#define F_EVENT    VIO_BIT(VIRTIO_F_EVENT_IDX)
#define F_IN_ORDER VIO_BIT(VIRTIO_F_IN_ORDER)
#define WRITE      VIRTQ_DESC_F_WRITE
#define NEXT       VIRTQ_DESC_F_NEXT
#define AVAIL      VIRTQ_DESC_F_AVAIL
#define USED       VIRTQ_DESC_F_USED

/* The tracer needs the trap flag and a signal context it can edit. */
#if defined(__x86_64__) && defined(__linux__)
#define HAVE_TRACER 1
#else
#define HAVE_TRACER 0
#endif

/* ASan must let the tracer handle the faults it provokes. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "allow_user_segv_handler=1";
}

/* ------------------------------------------------------------------ */
/* The log layout (src/ring/inflight.c), as a front-end could write it  */
/* ------------------------------------------------------------------ */

#define LOG_MAGIC 0x314c464e494f4976ull
#define NONE      0xffffu

struct t_hdr {
	uint64_t magic;
	uint16_t desc_num;
	uint8_t packed;
	uint8_t pad0;
	uint16_t used;
	uint16_t batch_used;
	uint16_t batch_count;
	uint16_t batch_head;
	uint16_t avail;
	uint16_t pad1;
	uint64_t avail_counter;
	uint8_t pad2[32];
};

struct t_entry {
	uint64_t counter;
	uint8_t inflight;
	uint8_t pad;
	uint16_t next;
	uint16_t ndesc;
	uint16_t first;
	uint16_t avail_end;
	uint8_t pad2[6];
};

struct t_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

_Static_assert(sizeof(struct t_hdr) == 64, "mirror of struct log_hdr");
_Static_assert(sizeof(struct t_entry) == 24, "mirror of struct log_entry");
_Static_assert(sizeof(struct t_desc) == 16, "mirror of struct log_desc");

/* The reasons vio_devq_error() gives. */
#define E_FLAG       "inflight log: bad in-flight flag"
#define E_BATCH_OOR  "inflight log: batch list out of range"
#define E_BATCH_BIG  "inflight log: batch larger than the queue"
#define E_BATCH_IDX  "inflight log: batch does not match the used index"
#define E_NDESC      "inflight log: bad descriptor count"
#define E_SAVED      "inflight log: saved descriptors out of range or shared"
#define E_COUNTER0   "inflight log: entry without a pop counter"
#define E_DUP        "inflight log: two entries with the same counter"
#define E_OTHER      "inflight log written for another queue size or layout"
#define E_USED_RING  "inflight log does not match the used ring"
#define E_AHEAD      "inflight log is ahead of the available ring"
#define E_POSITIONS  "inflight log positions do not match the descriptors in flight"
#define E_SMALL      "inflight log smaller than the queue needs"
#define E_OUTSIDE    "buffer outside guest memory"

/* ------------------------------------------------------------------ */
/* The tracer: a crash at any store into shared memory                  */
/* ------------------------------------------------------------------ */

struct tracer {
	struct {
		char *a;
		size_t n;
	} range[4];
	unsigned nrange;
	volatile long stores;  /* stores the traced call has made */
	long crash_after;      /* crash once this many are made; -1: never */
	const void *crash_at;  /* crash at the store to this address, */
	bool crash_at_after;   /* just after it (else just before) */
	const void *volatile last; /* the address of the store in progress */
	volatile sig_atomic_t active;
	sigjmp_buf env;
	struct sigaction old_segv, old_trap;
};

static struct tracer tr;

static bool tr_owns(const void *p)
{
	for (unsigned i = 0; i < tr.nrange; i++)
		if ((const char *)p >= tr.range[i].a && (const char *)p < tr.range[i].a + tr.range[i].n)
			return true;
	return false;
}

static void tr_protect(bool ro)
{
	for (unsigned i = 0; i < tr.nrange; i++)
		mprotect(tr.range[i].a, tr.range[i].n, ro ? PROT_READ : PROT_READ | PROT_WRITE);
}

#if HAVE_TRACER
#define TRAP_FLAG 0x100

/* A store into a protected range: let this one instruction through, trap after it. */
static void tr_segv(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;

	(void)sig;
	if (!tr.active || !tr_owns(si->si_addr)) {
		/* A real fault: put the previous handler back and fault again. */
		sigaction(SIGSEGV, &tr.old_segv, NULL);
		return;
	}
	if (tr.crash_at == si->si_addr && !tr.crash_at_after) {
		tr.active = 0;
		tr_protect(false);
		siglongjmp(tr.env, 1); /* killed just before this store */
	}
	tr.last = si->si_addr;
	tr_protect(false);
	uc->uc_mcontext.gregs[REG_EFL] |= TRAP_FLAG;
}

/* The store is done. */
static void tr_trap(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;

	(void)sig;
	(void)si;
	uc->uc_mcontext.gregs[REG_EFL] &= ~TRAP_FLAG;
	tr.stores++;
	if (tr.stores == tr.crash_after || (tr.crash_at_after && tr.crash_at == tr.last)) {
		tr.active = 0;
		siglongjmp(tr.env, 1); /* killed just after it */
	}
	tr_protect(true);
}
#endif

/* ------------------------------------------------------------------ */
/* The rig: a mock driver, a device queue over its rings, a log, a model */
/* ------------------------------------------------------------------ */

struct params {
	enum mock_layout layout;
	uint32_t num;
	uint64_t features;
};

/* The directed tests: split Queue Size 16, packed 21 (not a power of two). */
static const struct params S_PLAIN = { MOCK_SPLIT, 16, 0 };
static const struct params S_IND = { MOCK_SPLIT, 16, F_INDIRECT };
static const struct params S_ORD = { MOCK_SPLIT, 16, F_IN_ORDER };
static const struct params S_IND_ORD = { MOCK_SPLIT, 16, F_INDIRECT | F_IN_ORDER };
static const struct params P_PLAIN = { MOCK_PACKED, 21, 0 };
static const struct params P_IND = { MOCK_PACKED, 21, F_INDIRECT };
static const struct params P_ORD = { MOCK_PACKED, 21, F_IN_ORDER };
static const struct params P_IND_ORD = { MOCK_PACKED, 21, F_INDIRECT | F_IN_ORDER };

#define MAX_REQ  16384 /* requests per rig: 64 bytes of R2 each */
#define MAX_BUF  4
#define IOV_CAP  16
#define NO_REQ   UINT32_MAX

/* What the model knows of a request. */
enum req_state {
	R_AVAIL = 1, /* made available, not popped (or popped by a device that died) */
	R_HELD,      /* popped by the running device */
	R_PUSHED,    /* pushed by it, not yet published */
	R_PUBLISHED, /* visible to the driver */
	R_REAPED,    /* taken back by the driver */
};

struct req {
	struct mock_buf b[MAX_BUF];
	unsigned nbuf, nread;
	int indirect_at;
	uint32_t in_bytes;
	uint32_t len; /* the length pushed */
	uint16_t id;  /* head / buffer id */
	uint8_t state;
};

struct rig {
	struct params p;
	bool packed, in_order, indirect;
	struct mock_mem m;
	struct mock_vq vq;
	uint8_t *log;
	size_t log_size, log_map;
	struct vio_devq *q;
	size_t qsize;
	struct vio_devq_config cfg;
	struct iovec iov[IOV_CAP];
	struct vio_chain c;
	uint64_t arena; /* gpa of the request buffers */
	uint8_t *arena_hva;
	uint64_t rnd;
	unsigned crashes;
	bool fixed_shape; /* directed tests: every request 1 readable + 1 writable buffer */
	bool hostile;     /* the log was edited: the model no longer predicts recovery */

	/* the model */
	struct req *req;
	uint32_t nreq;     /* requests made available so far: serials 0 .. nreq-1 */
	uint32_t next_pop; /* the oldest request never popped by a live device */
	uint32_t resub[1024], resub_n, resub_i; /* to be popped first, in order */
	uint32_t held[1024], held_n;            /* popped by the running device, in order */
	uint32_t byid[1024];                    /* request outstanding under an id */
	uint32_t next_reap;                     /* IN_ORDER: the oldest not reaped */
	uint32_t reaped;
};

static uint32_t rnd(struct rig *r)
{
	/* xorshift64*: reproducible from the seed the test prints */
	r->rnd ^= r->rnd >> 12;
	r->rnd ^= r->rnd << 25;
	r->rnd ^= r->rnd >> 27;
	return (uint32_t)((r->rnd * 0x2545f4914f6cdd1dull) >> 32);
}

static uint32_t rnd_below(struct rig *r, uint32_t n)
{
	return n ? rnd(r) % n : 0;
}

/* What a failed check prints, to reproduce it. */
static char ctx_msg[160];

#define CHECK(c)                                                                \
	do {                                                                    \
		bool ok_ = (c); /* once: c may have side effects */             \
		if (!ok_)                                                       \
			print_error("%s\n", ctx_msg);                           \
		_assert_true(ok_, #c, __FILE__, __LINE__);                      \
	} while (0)

static struct t_hdr *H(struct rig *r)
{
	return (struct t_hdr *)(void *)r->log;
}

static struct t_entry *E(struct rig *r)
{
	return (struct t_entry *)(void *)(r->log + sizeof(struct t_hdr));
}

static struct t_desc *S(struct rig *r)
{
	return (struct t_desc *)(void *)(r->log + sizeof(struct t_hdr) +
					 r->p.num * sizeof(struct t_entry));
}

static size_t page_size(void)
{
	long p = sysconf(_SC_PAGESIZE);

	return p > 0 ? (size_t)p : 4096;
}

/* The pages holding the areas the device writes: the log, and the rings. */
static void rig_trace_ranges(struct rig *r)
{
	size_t pg = page_size();
	uintptr_t lo, hi;

	tr.nrange = 0;
	tr.range[tr.nrange].a = (char *)r->log;
	tr.range[tr.nrange++].n = r->log_map;
	if (r->packed) {
		lo = (uintptr_t)r->vq.pdesc;
		hi = (uintptr_t)(r->vq.pdesc + r->p.num);
		if ((uintptr_t)r->vq.device_event + 4 > hi)
			hi = (uintptr_t)r->vq.device_event + 4;
		if ((uintptr_t)r->vq.driver_event + 4 > hi)
			hi = (uintptr_t)r->vq.driver_event + 4;
	} else {
		lo = (uintptr_t)r->vq.desc;
		hi = (uintptr_t)r->vq.used + 6 + 8 * r->p.num;
		if ((uintptr_t)r->vq.avail < lo)
			lo = (uintptr_t)r->vq.avail;
	}
	lo &= ~(uintptr_t)(pg - 1);
	hi = (hi + pg - 1) & ~(uintptr_t)(pg - 1);
	tr.range[tr.nrange].a = (char *)lo;
	tr.range[tr.nrange++].n = hi - lo;
}

typedef void op_fn(struct rig *r, void *arg);

/*
 * Runs @op with every store into the log and the rings traced. The device
 * dies after @crash_after stores (-1: never; 0: before the first), or
 * at the store to @crash_at (just before it, or just after if @at_after).
 * Returns true if it died (the queue is then to be abandoned).
 */
static bool traced(struct rig *r, op_fn *op, void *arg, long crash_after, const void *crash_at,
		   bool at_after)
{
	if (crash_after == 0)
		return true;
#if HAVE_TRACER
	if (crash_after > 0 || crash_at) {
		struct sigaction sa;
		volatile bool died = false;

		memset(&sa, 0, sizeof(sa));
		sigemptyset(&sa.sa_mask);
		sa.sa_flags = SA_SIGINFO;
		rig_trace_ranges(r);
		tr.stores = 0;
		tr.crash_after = crash_after;
		tr.crash_at = crash_at;
		tr.crash_at_after = at_after;
		tr.last = NULL;
		sa.sa_sigaction = tr_segv;
		sigaction(SIGSEGV, &sa, &tr.old_segv);
		sa.sa_sigaction = tr_trap;
		sigaction(SIGTRAP, &sa, &tr.old_trap);
		if (sigsetjmp(tr.env, 1) == 0) {
			tr.active = 1;
			tr_protect(true);
			op(r, arg);
			tr.active = 0;
			tr_protect(false);
		} else {
			died = true;
		}
		sigaction(SIGSEGV, &tr.old_segv, NULL);
		sigaction(SIGTRAP, &tr.old_trap, NULL);
		return died;
	}
#else
	(void)crash_at;
	(void)at_after;
#endif
	op(r, arg);
	return false;
}

static void skip_without_tracer(void)
{
	if (!HAVE_TRACER)
		skip();
}

struct op_arg {
	int res;
	uint16_t id;
	uint32_t len;
};

static void op_pop(struct rig *r, void *a)
{
	((struct op_arg *)a)->res = vio_devq_pop(r->q, &r->c);
}

static void op_push(struct rig *r, void *a)
{
	struct op_arg *o = a;

	o->res = vio_devq_push(r->q, o->id, o->len);
}

static void op_flush(struct rig *r, void *a)
{
	((struct op_arg *)a)->res = vio_devq_flush(r->q);
}

static void op_init(struct rig *r, void *a)
{
	((struct op_arg *)a)->res = vio_devq_init(r->q, &r->cfg);
}

/*
 * A rig over Queue Size p->num; the rings start at split index @start
 * (used and avail), or packed position @start & 0x7fff with wrap counter
 * bit 15. The log region is zero-filled, as QEMU's memfd is.
 */
static struct rig *rig_new(const struct params *p, uint16_t start, uint64_t seed)
{
	struct rig *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	r->p = *p;
	r->packed = p->layout == MOCK_PACKED;
	r->in_order = p->features & F_IN_ORDER;
	r->indirect = p->features & F_INDIRECT;
	r->rnd = seed * 0x9e3779b97f4a7c15ull + 1;
	mock_mem_init_default(&r->m);
	assert_int_equal(mock_vq_init(&r->vq, &r->m, p->layout, p->num, p->features), 0);
	if (r->packed) {
		mock_packed_set_cursors(&r->vq, start & 0x7fff, start & 0x8000);
	} else {
		mock_split_set_used_idx(&r->vq, start);
		mock_split_set_avail_idx(&r->vq, start);
	}
	r->arena = MOCK_R2_GPA;
	r->arena_hva = mock_hva(&r->m, r->arena);
	r->log_size = vio_devq_inflight_size(p->num);
	r->log_map = (r->log_size + page_size() - 1) / page_size() * page_size();
	r->log = mmap(NULL, r->log_map, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(r->log != MAP_FAILED);
	r->qsize = vio_devq_size(p->num);
	r->req = calloc(MAX_REQ, sizeof(*r->req));
	assert_non_null(r->req);
	for (unsigned i = 0; i < 1024; i++)
		r->byid[i] = NO_REQ;
	mock_vq_config(&r->vq, &r->cfg);
	if (!r->packed)
		r->cfg.base = start;
	r->cfg.inflight = r->log;
	r->cfg.inflight_size = r->log_size;
	return r;
}

static void rig_free(struct rig *r)
{
	if (r->q) {
		memset(r->q, 0x5a, r->qsize);
		free(r->q);
	}
	munmap(r->log, r->log_map);
	free(r->req);
	mock_vq_fini(&r->vq);
	mock_mem_fini(&r->m);
	free(r);
}

/* A vring base as QEMU might send after a crash: anything valid for the layout. */
static uint32_t wrong_base(struct rig *r)
{
	if (!r->packed)
		return rnd(r) & 0xffff;
	return rnd_below(r, r->p.num) | (rnd(r) & 0x8000) |
	       (rnd_below(r, r->p.num) | (rnd(r) & 0x8000)) << 16;
}

/*
 * What the new device will pop again is what the model expects: the
 * chains unfinished, in pop order; and, if the previous device died in a
 * pop after committing it to the log, that chain too (the oldest one not
 * popped): popped again either way, in the same place of the order.
 */
static void check_resub(struct rig *r)
{
	uint32_t n = r->resub_n - r->resub_i;

	CHECK(r->q->log_resub_n == n || r->q->log_resub_n == n + 1);
	for (uint32_t i = 0; i < n; i++)
		CHECK(r->q->log_resub[i] == r->req[r->resub[r->resub_i + i]].id);
	if (r->q->log_resub_n == n + 1) {
		CHECK(r->next_pop < r->nreq);
		CHECK(r->q->log_resub[n] == r->req[r->next_pop].id);
		r->resub[r->resub_n++] = r->next_pop++;
	}
}

/*
 * Starts a device over the rings and the log (the first time with the true
 * base, later with a wrong one); the device may die after @crash_after
 * stores (-1: never), then it is started again. Returns what init returned.
 */
static int dev_start_crashing(struct rig *r, long crash_after)
{
	struct op_arg o = { 0 };

	for (;;) {
		if (r->q) {
			memset(r->q, 0x5a, r->qsize); /* a new process: nothing survives */
			free(r->q);
		}
		r->q = aligned_alloc(8, (r->qsize + 7) / 8 * 8);
		assert_non_null(r->q);
		memset(r->q, 0xa5, r->qsize);
		if (r->crashes)
			r->cfg.base = wrong_base(r);
		if (!traced(r, op_init, &o, crash_after, NULL, false)) {
			if (o.res == 0 && !vio_devq_error(r->q) && !r->hostile)
				check_resub(r);
			return o.res;
		}
		crash_after = -1;
	}
}

static void dev_start(struct rig *r)
{
	assert_int_equal(dev_start_crashing(r, -1), 0);
}

/*
 * The device died: what it held (popped, pushed or not, not published) is
 * to be popped again first, in its pop order, before what the previous
 * device was still to resubmit.
 */
static void model_crash(struct rig *r)
{
	uint32_t n = 0, tmp[1024];

	for (uint32_t i = 0; i < r->held_n; i++) {
		tmp[n++] = r->held[i];
		r->req[r->held[i]].state = R_AVAIL;
	}
	for (uint32_t i = r->resub_i; i < r->resub_n; i++)
		tmp[n++] = r->resub[i];
	memcpy(r->resub, tmp, n * sizeof(tmp[0]));
	r->resub_n = n;
	r->resub_i = 0;
	r->held_n = 0;
	r->crashes++;
	memset(r->q, 0x5a, r->qsize);
}

/* The device dies (between two calls). */
static void dev_crash(struct rig *r)
{
	model_crash(r);
}

/* ---- the driver's side ---- */

/* Adds a random request; false if the ring has no room for it. */
static bool drv_add(struct rig *r)
{
	struct req *q = &r->req[r->nreq];
	uint64_t block = r->arena + 64ull * r->nreq;
	unsigned nwrite;
	int id;

	assert_true(r->nreq < MAX_REQ);
	if (r->fixed_shape) {
		q->nbuf = 2;
		q->nread = 1;
	} else {
		q->nbuf = 1 + rnd_below(r, MAX_BUF);
		q->nread = rnd_below(r, q->nbuf + 1);
	}
	nwrite = q->nbuf - q->nread;
	for (unsigned i = 0; i < q->nbuf; i++) {
		bool w = i >= q->nread;

		q->b[i] = (struct mock_buf){ block + (w ? 32 + 8 * (i - q->nread) : 8 * i), 8, w };
	}
	q->in_bytes = 8 * nwrite;
	q->indirect_at = MOCK_DIRECT;
	if (r->fixed_shape && r->indirect && r->nreq % 2)
		q->indirect_at = 0; /* every other one indirect */
	else if (!r->fixed_shape && r->indirect && rnd_below(r, 2))
		q->indirect_at = r->packed ? 0 : (int)rnd_below(r, q->nbuf);
	id = mock_vq_add(&r->vq, q->b, q->nbuf, q->indirect_at);
	if (id == -ENOSPC)
		return false;
	CHECK(id >= 0 && (uint32_t)id < r->p.num);
	q->id = (uint16_t)id;
	q->state = R_AVAIL;
	if (!r->in_order) {
		CHECK(r->byid[id] == NO_REQ);
		r->byid[id] = r->nreq;
	}
	r->nreq++;
	return true;
}

/* Reaps one used element and checks it against the model; false if none. */
static bool drv_reap(struct rig *r)
{
	struct mock_used u;
	int res = mock_vq_used(&r->vq, &u);

	CHECK(res >= 0); /* -EPROTO: an id the driver has not outstanding */
	if (res == 0)
		return false;
	if (r->in_order) {
		CHECK(u.nbufs >= 1 && r->next_reap + u.nbufs <= r->nreq);
		for (uint32_t k = 0; k < u.nbufs; k++) {
			struct req *q = &r->req[r->next_reap + k];

			CHECK(q->state == R_PUBLISHED);
			if (k + 1 < u.nbufs)
				CHECK(q->len == q->in_bytes); /* merged: used in full */
			else
				CHECK(q->id == u.id && q->len == u.len);
			q->state = R_REAPED;
			r->reaped++;
		}
		r->next_reap += u.nbufs;
	} else {
		uint32_t s;

		CHECK(u.id < r->p.num && u.nbufs == 1);
		s = r->byid[u.id];
		CHECK(s != NO_REQ);
		CHECK(r->req[s].state == R_PUBLISHED);
		CHECK(r->req[s].len == u.len);
		r->req[s].state = R_REAPED;
		r->byid[u.id] = NO_REQ;
		r->reaped++;
	}
	return true;
}

/* Reaps everything used; nothing published may be left unseen. */
static void drv_reap_all(struct rig *r)
{
	while (drv_reap(r))
		;
	for (uint32_t s = 0; s < r->nreq; s++)
		CHECK(r->req[s].state != R_PUBLISHED);
}

/* ---- the device's side, checked against the model ---- */

/* The request chain @c belongs to, from its first iovec. */
static uint32_t chain_req(struct rig *r, const struct vio_chain *c)
{
	uint8_t *p;

	CHECK(c->nout + c->nin >= 1);
	p = c->iov[0].iov_base;
	CHECK(p >= r->arena_hva && p < r->arena_hva + 64ull * r->nreq);
	return (uint32_t)((p - r->arena_hva) / 64);
}

/* Chain @c is exactly what request @s made available. */
static void check_chain(struct rig *r, const struct vio_chain *c, uint32_t s)
{
	const struct req *q = &r->req[s];

	CHECK(c->id == q->id);
	CHECK(c->nout == q->nread && c->nin == q->nbuf - q->nread);
	CHECK(c->in_bytes == q->in_bytes && c->out_bytes == 8ull * q->nread);
	for (unsigned i = 0; i < q->nbuf; i++) {
		CHECK(c->iov[i].iov_base == mock_hva(&r->m, q->b[i].gpa));
		CHECK(c->iov[i].iov_len == q->b[i].len);
	}
}

/* The request the next pop must return, or NO_REQ. */
static uint32_t expected_pop(struct rig *r)
{
	if (r->resub_i < r->resub_n)
		return r->resub[r->resub_i];
	return r->next_pop < r->nreq ? r->next_pop : NO_REQ;
}

/*
 * Pops once (the device may die after @crash_after stores) and checks the
 * chain is the one expected. Returns the request popped, NO_REQ if none,
 * or NO_REQ - 1 if the device died.
 */
static uint32_t dev_pop_crashing_at(struct rig *r, long crash_after, const void *at, bool after)
{
	struct op_arg o = { 0 };
	uint32_t want = expected_pop(r), s;

	memset(&r->c, 0, sizeof(r->c));
	r->c.iov = r->iov;
	r->c.iov_cap = IOV_CAP;
	if (traced(r, op_pop, &o, crash_after, at, after)) {
		model_crash(r);
		return NO_REQ - 1;
	}
	if (want == NO_REQ) {
		CHECK(o.res == 0);
		return NO_REQ;
	}
	CHECK(o.res == 1);
	s = chain_req(r, &r->c);
	CHECK(s == want);
	check_chain(r, &r->c, s);
	if (r->resub_i < r->resub_n)
		r->resub_i++;
	else
		r->next_pop++;
	r->req[s].state = R_HELD;
	r->held[r->held_n++] = s;
	return s;
}

static uint32_t dev_pop_crashing(struct rig *r, long crash_after)
{
	return dev_pop_crashing_at(r, crash_after, NULL, false);
}

static uint32_t dev_pop(struct rig *r)
{
	return dev_pop_crashing(r, -1);
}

/* Pops everything available. */
static void dev_pop_all(struct rig *r)
{
	while (dev_pop(r) != NO_REQ)
		;
}

/* Pushes request @s with @len; the device may die after @crash_after stores. */
static bool dev_push_crashing(struct rig *r, uint32_t s, uint32_t len, long crash_after)
{
	struct op_arg o = { .id = r->req[s].id, .len = len };

	CHECK(r->req[s].state == R_HELD);
	if (traced(r, op_push, &o, crash_after, NULL, false)) {
		model_crash(r);
		return false;
	}
	CHECK(o.res == 0);
	r->req[s].state = R_PUSHED;
	r->req[s].len = len;
	return true;
}

static void dev_push(struct rig *r, uint32_t s, uint32_t len)
{
	dev_push_crashing(r, s, len, -1);
}

/* The requests a flush publishes now (IN_ORDER: the pushed ones before the first not pushed). */
static uint32_t flush_batch(struct rig *r, uint32_t *out)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < r->held_n; i++) {
		if (r->req[r->held[i]].state == R_PUSHED)
			out[n++] = r->held[i];
		else if (r->in_order)
			break;
	}
	return n;
}

static void model_publish(struct rig *r, const uint32_t *b, uint32_t n)
{
	uint32_t k = 0;

	for (uint32_t i = 0; i < n; i++)
		r->req[b[i]].state = R_PUBLISHED;
	for (uint32_t i = 0; i < r->held_n; i++)
		if (r->req[r->held[i]].state != R_PUBLISHED)
			r->held[k++] = r->held[i];
	r->held_n = k;
}

/* Where the store that publishes the next flush goes (split used->idx, packed first flags). */
static const void *publish_store(struct rig *r)
{
	if (!r->packed)
		return &r->vq.used->idx;
	return &r->vq.pdesc[r->q->batch_pending ? r->q->batch_first : r->q->next_used].flags;
}

/*
 * Flushes; the device may die after @crash_after stores, or at the store
 * that publishes (@at: just before it if !@after, just after if @after).
 * The batch is published if the driver can see it.
 */
static bool dev_flush_crashing(struct rig *r, long crash_after, bool at, bool after)
{
	struct op_arg o = { 0 };
	uint32_t b[1024], n = flush_batch(r, b);
	const void *probe = publish_store(r);
	uint16_t before = *(const volatile uint16_t *)probe;

	if (traced(r, op_flush, &o, crash_after, at ? probe : NULL, after)) {
		if (*(const volatile uint16_t *)probe != before)
			model_publish(r, b, n);
		model_crash(r);
		return false;
	}
	if (n)
		CHECK(*(const volatile uint16_t *)probe != before);
	model_publish(r, b, n);
	return true;
}

static void dev_flush(struct rig *r)
{
	dev_flush_crashing(r, -1, false, false);
}

/* A length to push for request @s: in full half the time. */
static uint32_t some_len(struct rig *r, uint32_t s)
{
	uint32_t w = r->req[s].in_bytes;

	return rnd_below(r, 2) ? w : rnd_below(r, w + 1);
}

/* Pushes every request held, flushes, reaps; until all are reaped. */
static void drain(struct rig *r)
{
	for (unsigned round = 0; r->reaped < r->nreq; round++) {
		CHECK(round < 4 * MAX_REQ);
		dev_pop_all(r);
		for (uint32_t i = 0; i < r->held_n; i++)
			if (r->req[r->held[i]].state == R_HELD)
				dev_push(r, r->held[i], some_len(r, r->held[i]));
		dev_flush(r);
		drv_reap_all(r);
	}
	CHECK(vio_devq_error(r->q) == NULL);
	for (uint32_t s = 0; s < r->nreq; s++)
		CHECK(r->req[s].state == R_REAPED);
	CHECK(vio_devq_inflight(r->q) == 0);
}

/* Adds up to @n requests; returns how many. */
static uint32_t drv_add_n(struct rig *r, uint32_t n)
{
	uint32_t k = 0;

	while (k < n && drv_add(r))
		k++;
	return k;
}

/* ------------------------------------------------------------------ */
/* What the log must say between two calls                             */
/* ------------------------------------------------------------------ */

static uint16_t pack_pos(uint16_t pos, bool wrap)
{
	return (uint16_t)(pos | (wrap ? 0x8000 : 0));
}

/* Ring descriptors request @s took (packed: its list, or one INDIRECT). */
static uint16_t req_ndesc(const struct rig *r, uint32_t s)
{
	const struct req *q = &r->req[s];

	if (q->indirect_at < 0)
		return (uint16_t)q->nbuf;
	return (uint16_t)(q->indirect_at + 1);
}

/*
 * The log names exactly the chains the device holds or still has to pop
 * again, in pop order, the committed used position, and (packed) their
 * descriptors as the driver wrote them and where the next pop starts.
 */
static void check_log(struct rig *r)
{
	const struct vio_devq *q = r->q;
	uint8_t want[1024] = { 0 };
	uint64_t last = 0;
	uint32_t n = 0, order[2048];

	CHECK(H(r)->magic == LOG_MAGIC);
	CHECK(H(r)->desc_num == r->p.num && H(r)->packed == r->packed);
	CHECK(H(r)->batch_count == 0);
	if (r->packed)
		CHECK(H(r)->used == pack_pos(q->signalled_pos, q->signalled_wrap));
	else
		CHECK(H(r)->used == q->signalled_used);
	for (uint32_t i = 0; i < r->held_n; i++)
		order[n++] = r->held[i];
	for (uint32_t i = r->resub_i; i < r->resub_n; i++)
		order[n++] = r->resub[i];
	for (uint32_t i = 0; i < n; i++) {
		const struct req *rq = &r->req[order[i]];
		const struct t_entry *e = &E(r)[rq->id];

		want[rq->id] = 1;
		CHECK(e->inflight == 1);
		CHECK(e->counter > last); /* pop order */
		last = e->counter;
		if (r->packed) {
			uint16_t slot = e->first, nd = req_ndesc(r, order[i]);

			CHECK(e->ndesc == nd);
			for (uint16_t k = 0; k < nd; k++) {
				const struct t_desc *d;

				CHECK(slot < r->p.num);
				d = &S(r)[slot];
				if (rq->indirect_at == 0) {
					CHECK(d->flags & VIRTQ_DESC_F_INDIRECT);
					CHECK(d->len == 16u * rq->nbuf);
				} else {
					CHECK(d->addr == rq->b[k].gpa && d->len == rq->b[k].len);
					CHECK(!!(d->flags & WRITE) == rq->b[k].writable);
					CHECK(!!(d->flags & NEXT) == (k + 1 < nd));
				}
				slot = d->next;
			}
		}
	}
	for (uint32_t id = 0; id < r->p.num; id++)
		CHECK(E(r)[id].inflight == want[id]);
	if (r->packed && r->resub_i == r->resub_n)
		CHECK(H(r)->avail == pack_pos(q->next_avail, q->avail_wrap));
}

static void assert_broken(struct rig *r, const char *why)
{
	memset(&r->c, 0, sizeof(r->c));
	r->c.iov = r->iov;
	r->c.iov_cap = IOV_CAP;
	assert_int_equal(vio_devq_pop(r->q, &r->c), -EIO);
	assert_non_null(vio_devq_error(r->q));
	assert_string_equal(vio_devq_error(r->q), why);
}

/* ------------------------------------------------------------------ */
/* Directed tests                                                      */
/* ------------------------------------------------------------------ */

#define START(p) ((p)->layout == MOCK_PACKED ? 0x8000 : 0)

static struct rig *directed_rig(const struct params *p)
{
	struct rig *r = rig_new(p, START(p), 1);

	r->fixed_shape = true;
	snprintf(ctx_msg, sizeof(ctx_msg), "%s num %u features %#llx",
		 p->layout == MOCK_PACKED ? "packed" : "split", p->num,
		 (unsigned long long)p->features);
	return r;
}

static int setup(void **state)
{
	struct rig *r = directed_rig(*state);

	dev_start(r);
	*state = r;
	return 0;
}

static int teardown(void **state)
{
	rig_free(*state);
	return 0;
}

/* Pops @n and checks they are the requests @want (NO_REQ-terminated when shorter). */
static void expect_pops(struct rig *r, const uint32_t *want, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(dev_pop(r), want[i]);
}

/* ---- a fresh region ---- */

static void fresh_zeroed_region_is_initialised(void **state)
{
	struct rig *r = *state;

	assert_null(vio_devq_error(r->q));
	assert_true(H(r)->magic == LOG_MAGIC);
	assert_int_equal(H(r)->desc_num, r->p.num);
	assert_int_equal(H(r)->packed, r->packed);
	assert_int_equal(H(r)->used, r->packed ? 0x8000 : 0);
	check_log(r);
	assert_int_equal(dev_pop(r), NO_REQ);
	drv_add_n(r, 3);
	drain(r);
	check_log(r);
}

static void fresh_region_of_garbage_without_magic_is_initialised(void **state)
{
	struct rig *r = directed_rig(*state);

	memset(r->log, 0xa5, r->log_size); /* not the magic: never written by us */
	dev_start(r);
	assert_null(vio_devq_error(r->q));
	check_log(r);
	drv_add_n(r, 3);
	dev_pop_all(r);
	check_log(r);
	drain(r);
	rig_free(r);
}

/* The first start takes the vring base when the region is fresh. */
static void fresh_region_starts_at_the_vring_base(void **state)
{
	const struct params *p = *state;
	struct rig *r = rig_new(p, p->layout == MOCK_PACKED ? 5 : 0xfffd, 1);

	r->fixed_shape = true;
	dev_start(r);
	check_log(r);
	drv_add_n(r, 4);
	dev_pop_all(r);
	check_log(r);
	drain(r);
	check_log(r);
	rig_free(r);
}

/* ---- logging while running ---- */

static void pops_are_logged_in_pop_order(void **state)
{
	struct rig *r = *state;

	drv_add_n(r, 4);
	for (uint32_t s = 0; s < 3; s++) {
		assert_int_equal(dev_pop(r), s);
		assert_int_equal(E(r)[r->req[s].id].inflight, 1);
		assert_true(E(r)[r->req[s].id].counter == s + 1);
	}
	assert_int_equal(E(r)[r->req[3].id].inflight, 0);
	check_log(r); /* packed: the saved descriptors, and where the next pop starts */
	drain(r);
}

static void push_without_flush_changes_nothing_in_the_log(void **state)
{
	struct rig *r = *state;
	uint8_t before[4096];

	drv_add_n(r, 3);
	dev_pop_all(r);
	memcpy(before, r->log, r->log_size);
	dev_push(r, 1, 8);
	dev_push(r, 0, 3);
	assert_memory_equal(before, r->log, r->log_size);
	drain(r);
}

static void flush_clears_the_published_entries(void **state)
{
	struct rig *r = *state;

	drv_add_n(r, 3);
	dev_pop_all(r);
	dev_push(r, 1, 8);
	dev_flush(r);
	/* IN_ORDER: 1 waits for 0, so nothing is published yet. */
	assert_int_equal(E(r)[r->req[1].id].inflight, r->in_order ? 1 : 0);
	check_log(r);
	dev_push(r, 0, 8);
	dev_flush(r);
	assert_int_equal(E(r)[r->req[0].id].inflight, 0);
	assert_int_equal(E(r)[r->req[1].id].inflight, 0);
	assert_int_equal(E(r)[r->req[2].id].inflight, 1);
	check_log(r);
	drv_reap_all(r);
	drain(r);
	check_log(r);
}

/* ---- restarts ---- */

static void clean_stop_then_restart_resubmits_nothing(void **state)
{
	struct rig *r = *state;
	static const uint32_t want[] = { 5, 6, 7, NO_REQ };

	drv_add_n(r, 5);
	drain(r);
	dev_crash(r);
	drv_add_n(r, 3); /* the guest goes on while we are down */
	dev_start(r);
	assert_null(vio_devq_error(r->q));
	assert_int_equal(r->q->log_resub_n, 0);
	expect_pops(r, want, 4);
	drain(r);
}

static void clean_stop_with_nothing_new_pops_nothing(void **state)
{
	struct rig *r = *state;

	drv_add_n(r, 4);
	drain(r);
	dev_crash(r);
	dev_start(r);
	check_log(r);
	assert_int_equal(dev_pop(r), NO_REQ);
	drv_add_n(r, 2);
	drain(r);
}

static void crash_resubmits_unfinished_chains_in_pop_order(void **state)
{
	struct rig *r = *state;
	static const uint32_t want[] = { 0, 1, 2, 4, 5, 6, 7, NO_REQ };
	static const uint32_t want_in_order[] = { 0, 1, 2, 3, 4, 5, 6, 7, NO_REQ };

	drv_add_n(r, 6);
	for (uint32_t s = 0; s < 5; s++)
		assert_int_equal(dev_pop(r), s);
	dev_push(r, 3, 8);
	dev_flush(r); /* 3 is used (IN_ORDER: still waits for 0, 1, 2) */
	dev_push(r, 1, 4);
	dev_push(r, 4, 8); /* pushed, never flushed */
	drv_reap_all(r);
	assert_int_equal(r->reaped, r->in_order ? 0 : 1);
	dev_crash(r);
	drv_reap_all(r);
	drv_add_n(r, 2);
	dev_start(r);
	assert_null(vio_devq_error(r->q));
	assert_int_equal(r->q->log_resub_n, r->in_order ? 5 : 4);
	check_log(r);
	if (r->in_order)
		expect_pops(r, want_in_order, 9);
	else
		expect_pops(r, want, 8);
	check_log(r);
	drain(r);
}

static void crash_again_before_all_are_resubmitted(void **state)
{
	struct rig *r = *state;

	drv_add_n(r, 6);
	dev_pop_all(r);
	dev_push(r, 2, 8);
	dev_flush(r);
	dev_crash(r);
	dev_start(r);
	dev_crash(r); /* again, before popping anything */
	dev_start(r);
	check_log(r);
	assert_int_equal(dev_pop(r), 0);
	assert_int_equal(dev_pop(r), 1);
	dev_push(r, 1, 8);
	dev_flush(r);
	check_log(r);
	dev_crash(r); /* again, with some resubmitted and one of those used */
	drv_reap_all(r);
	drv_add_n(r, 3);
	dev_start(r);
	check_log(r);
	assert_int_equal(dev_pop(r), 0);
	assert_int_equal(dev_pop(r), r->in_order ? 1 : 3);
	check_log(r);
	drain(r);
}

static void wrong_vring_base_is_ignored_when_the_log_has_the_queue(void **state)
{
	struct rig *r = *state;

	drv_add_n(r, 4);
	dev_pop(r);
	dev_pop(r);
	for (unsigned i = 0; i < 8; i++) {
		dev_crash(r);
		dev_start(r); /* a new wrong base each time */
		check_log(r);
	}
	assert_int_equal(dev_pop(r), 0);
	assert_int_equal(dev_pop(r), 1);
	assert_int_equal(dev_pop(r), 2);
	drain(r);
}

/* ---- a crash between the steps of a flush ---- */

/* The flush's steps by hand (without IN_ORDER): publish_begin, then the ring store if @ring. */
static void flush_steps_then_crash(struct rig *r, bool ring)
{
	uint32_t b[1024], n = flush_batch(r, b);

	inflight_publish_begin(r->q);
	assert_int_equal(H(r)->batch_count, n);
	if (ring) {
		if (r->packed)
			packed_flush(r->q);
		else
			split_flush(r->q);
		model_publish(r, b, n);
	}
	dev_crash(r);
}

static void crash_after_publish_begin_resubmits_the_batch(void **state)
{
	struct rig *r = *state;
	static const uint32_t want[] = { 0, 1, 2, 3, 4, NO_REQ };

	drv_add_n(r, 5);
	dev_pop_all(r);
	dev_push(r, 2, 8);
	dev_push(r, 0, 5);
	flush_steps_then_crash(r, false);
	drv_reap_all(r);
	assert_int_equal(r->reaped, 0); /* the driver saw nothing */
	dev_start(r);
	assert_int_equal(r->q->log_resub_n, 5);
	expect_pops(r, want, 6);
	drain(r);
}

static void crash_after_the_ring_store_does_not_resubmit_the_batch(void **state)
{
	struct rig *r = *state;
	static const uint32_t want[] = { 1, 3, 4, 5, NO_REQ };

	drv_add_n(r, 5);
	dev_pop_all(r);
	dev_push(r, 2, 8);
	dev_push(r, 0, 5);
	flush_steps_then_crash(r, true);
	drv_reap_all(r);
	assert_int_equal(r->reaped, 2);
	drv_add_n(r, 1);
	dev_start(r);
	assert_int_equal(r->q->log_resub_n, 3);
	expect_pops(r, want, 5);
	drain(r);
}

/* The same with the tracer, IN_ORDER included: killed at the store that publishes. */
static void crash_at_the_publishing_store(void **state, bool after)
{
	struct rig *r = *state;
	uint32_t expect_used = after ? (r->in_order ? 1 : 2) : 0;

	skip_without_tracer();
	drv_add_n(r, 5);
	dev_pop_all(r);
	dev_push(r, 2, 8);
	dev_push(r, 0, 5);
	assert_false(dev_flush_crashing(r, -1, true, after));
	drv_reap_all(r);
	assert_int_equal(r->reaped, expect_used);
	drv_add_n(r, 2);
	dev_start(r);
	assert_int_equal(r->q->log_resub_n, 5 - expect_used);
	check_log(r);
	drain(r);
}

static void crash_just_before_the_publishing_store_resubmits_the_batch(void **state)
{
	crash_at_the_publishing_store(state, false);
}

static void crash_just_after_the_publishing_store_does_not_resubmit_it(void **state)
{
	crash_at_the_publishing_store(state, true);
}

/*
 * Packed: the batch was published, then the device died before forgetting
 * it; the guest reaped it and made so many buffers available that the ring
 * wrapped onto the batch's first position. That descriptor is now available
 * in the next lap, not used: the batch must still count as published.
 */
static void packed_batch_reaped_and_its_position_reused_is_not_resubmitted(void **state)
{
	struct rig *r = *state;
	uint16_t first = r->q->next_used;
	bool wrap = r->q->used_wrap;
	uint16_t flags;

	drv_add_n(r, 3);
	dev_pop_all(r);
	dev_push(r, 0, 8);
	if (r->in_order || HAVE_TRACER)
		assert_false(dev_flush_crashing(r, -1, true, true));
	else
		flush_steps_then_crash(r, true);
	drv_reap_all(r);
	assert_int_equal(r->reaped, 1);
	while (drv_add(r))
		;
	flags = mock_packed_flags(&r->vq, first);
	assert_true(!!(flags & AVAIL) != wrap); /* made available in the next lap */
	dev_start(r);
	assert_null(vio_devq_error(r->q));
	assert_int_equal(r->q->log_resub_n, 2);
	assert_int_equal(dev_pop(r), 1);
	assert_int_equal(dev_pop(r), 2);
	check_log(r);
	drain(r);
}

/*
 * Packed: a pop stores where the next one starts (hdr.avail) and the pop
 * counter that position goes with (hdr.avail_counter). Killed between the
 * two, recovery must not pair the new counter with the old position.
 */
static void packed_crash_between_avail_position_and_its_counter(void **state)
{
	struct rig *r = *state;

	skip_without_tracer();
	drv_add_n(r, 4);
	dev_pop(r);
	dev_pop(r);
	assert_int_equal(dev_pop_crashing_at(r, -1, &H(r)->avail_counter, true), NO_REQ - 1);
	dev_start(r);
	assert_null(vio_devq_error(r->q));
	assert_int_equal(r->q->log_resub_n, 3);
	check_log(r);
	drain(r);
}

/*
 * Packed: killed after a pop committed its entry and before hdr.avail, the
 * position comes from the entry. Recovery must write it back: once that
 * newest chain is used and the device dies again, the header is all that
 * says where popping stopped.
 */
static void packed_recovered_avail_position_is_written_back(void **state)
{
	struct rig *r = *state;

	skip_without_tracer();
	drv_add_n(r, 4);
	dev_pop(r);
	assert_int_equal(dev_pop_crashing_at(r, -1, &H(r)->avail, false), NO_REQ - 1);
	dev_start(r);
	assert_int_equal(r->q->log_resub_n, 2);
	assert_int_equal(dev_pop(r), 0);
	assert_int_equal(dev_pop(r), 1);
	check_log(r);
	dev_push(r, 1, 8); /* the newest: its entry is forgotten at the flush */
	if (r->in_order)
		dev_push(r, 0, 8); /* (IN_ORDER: only after 0) */
	dev_flush(r);
	dev_crash(r);
	drv_reap_all(r);
	dev_start(r);
	assert_null(vio_devq_error(r->q));
	assert_int_equal(r->q->log_resub_n, r->in_order ? 0 : 1);
	check_log(r);
	if (!r->in_order)
		assert_int_equal(dev_pop(r), 0);
	assert_int_equal(dev_pop(r), 2);
	drain(r);
}

/*
 * Packed: a flush publishes a batch by storing its first descriptor's flags
 * last; the others are written used before (at push, or by the IN_ORDER
 * drain in the flush). Killed in between, those used descriptors stay in
 * the ring past the committed position. After the restart the driver must
 * not see them: the new device completes the same chains in another order,
 * and the driver would reach a stale used descriptor (a chain the new
 * device has not completed) right after the new device's first batch.
 */
static void packed_used_descriptors_of_an_unpublished_batch_are_not_seen(void **state)
{
	struct rig *r = *state;
	struct mock_used u;

	drv_add_n(r, 4);
	dev_pop_all(r);
	dev_push(r, 0, 3); /* partial lengths: no IN_ORDER merging */
	dev_push(r, 1, 5);
	dev_push(r, 2, 7);
	if (r->in_order) {
		skip_without_tracer();
		assert_false(dev_flush_crashing(r, -1, true, false));
	} else {
		dev_crash(r);
	}
	drv_reap_all(r);
	assert_int_equal(r->reaped, 0);
	dev_start(r);
	assert_int_equal(r->q->log_resub_n, 4);
	dev_pop_all(r);
	dev_push(r, 0, 1);
	dev_flush(r);
	assert_int_equal(mock_vq_used(&r->vq, &u), 1);
	assert_int_equal(u.id, r->req[0].id);
	r->req[0].state = R_REAPED;
	r->reaped++;
	r->next_reap++;
	r->byid[u.id] = NO_REQ;
	/* 1 and 2 are not complete: nothing more is used */
	assert_int_equal(mock_vq_used(&r->vq, &u), 0);
	drain(r);
}

/* Packed: every lap of the ring, with a crash in each. */
static void packed_crash_in_every_lap(void **state)
{
	struct rig *r = *state;

	for (unsigned lap = 0; lap < 2 * r->p.num + 3; lap++) {
		drv_add_n(r, 3);
		dev_pop(r);
		dev_pop(r);
		dev_push(r, r->held[0], 8);
		dev_flush(r);
		drv_reap_all(r);
		dev_crash(r);
		dev_start(r);
		check_log(r);
		dev_pop_all(r);
		check_log(r);
		drain(r);
	}
}

/* Split: the 16-bit indices wrap while chains are in flight. */
static void split_crash_across_the_index_wrap(void **state)
{
	const struct params *p = *state;
	struct rig *r = rig_new(p, 0xfffe, 3);

	r->fixed_shape = true;
	dev_start(r);
	drv_add_n(r, 6);
	dev_pop_all(r);
	dev_push(r, 1, 8);
	dev_push(r, 0, 8);
	dev_push(r, 3, 8);
	dev_flush(r); /* used index 0xfffe + 2 (or 3) wraps */
	dev_crash(r);
	drv_reap_all(r);
	dev_start(r);
	check_log(r);
	dev_pop_all(r);
	drain(r);
	rig_free(r);
}

/* ---- every store is a crash point ---- */

enum crash_op { AT_POP, AT_PUSH, AT_FLUSH, AT_INIT, AT_RECOVERY_WITH_BATCH };

/*
 * The same scenario again and again, the device killed after 1, 2, 3, ...
 * stores of one operation, until the operation completes: each time the
 * restarted device pops exactly what was unfinished, and the driver gets
 * every request back once.
 */
static void every_store_is_a_safe_crash_point(const struct params *p, enum crash_op op)
{
	long k;

	skip_without_tracer();
	for (k = 1;; k++) {
		struct rig *r = directed_rig(p);
		bool died = false;

		snprintf(ctx_msg, sizeof(ctx_msg), "%s num %u features %#llx, op %d, crash after %ld",
			 r->packed ? "packed" : "split", p->num, (unsigned long long)p->features,
			 op, k);
		dev_start(r);
		drv_add_n(r, 6);
		for (int i = 0; i < 4; i++)
			dev_pop(r);
		dev_push(r, 2, 8);
		dev_push(r, 0, 8);
		dev_flush(r);
		dev_push(r, 3, 6);
		dev_push(r, 1, 8);
		switch (op) {
		case AT_POP:
			died = dev_pop_crashing(r, k) == NO_REQ - 1;
			break;
		case AT_PUSH:
			dev_pop(r);
			died = !dev_push_crashing(r, 4, 8, k);
			break;
		case AT_FLUSH:
			died = !dev_flush_crashing(r, k, false, false);
			break;
		case AT_INIT:
			dev_crash(r);
			drv_add_n(r, 1);
			r->cfg.base = wrong_base(r);
			died = traced(r, op_init, &(struct op_arg){ 0 }, k, NULL, false);
			break;
		case AT_RECOVERY_WITH_BATCH:
			assert_false(dev_flush_crashing(r, -1, true, true));
			drv_reap_all(r);
			r->cfg.base = wrong_base(r);
			died = traced(r, op_init, &(struct op_arg){ 0 }, k, NULL, false);
			break;
		}
		if (!died && (op == AT_INIT || op == AT_RECOVERY_WITH_BATCH))
			assert_null(vio_devq_error(r->q));
		if (died) {
			drv_reap_all(r);
			drv_add_n(r, 2);
			dev_start(r);
			check_log(r);
		}
		drain(r);
		rig_free(r);
		if (!died)
			break;
	}
	/* the operation did store something (an IN_ORDER push stores nothing: flush does) */
	if (op != AT_PUSH || !(p->features & F_IN_ORDER))
		assert_true(k > 2);
}

static void every_store_of_a_pop_is_a_safe_crash_point(void **state)
{
	every_store_is_a_safe_crash_point(*state, AT_POP);
}

static void every_store_of_a_push_is_a_safe_crash_point(void **state)
{
	every_store_is_a_safe_crash_point(*state, AT_PUSH);
}

static void every_store_of_a_flush_is_a_safe_crash_point(void **state)
{
	every_store_is_a_safe_crash_point(*state, AT_FLUSH);
}

static void every_store_of_recovery_is_a_safe_crash_point(void **state)
{
	every_store_is_a_safe_crash_point(*state, AT_INIT);
}

static void every_store_of_recovery_finishing_a_batch_is_a_safe_crash_point(void **state)
{
	every_store_is_a_safe_crash_point(*state, AT_RECOVERY_WITH_BATCH);
}

/* ------------------------------------------------------------------ */
/* A hostile region                                                    */
/* ------------------------------------------------------------------ */

/*
 * The device dies with requests 0, 2, 3 in flight (3 pushed, not flushed)
 * and 1 used; with IN_ORDER 1 waits for 0, so 0..3 are in flight.
 */
static void crash_with_some_in_flight(struct rig *r)
{
	uint32_t b = r->nreq;

	drv_add_n(r, 5);
	for (int i = 0; i < 4; i++)
		dev_pop(r);
	dev_push(r, b + 1, 8);
	dev_flush(r);
	dev_push(r, b + 3, 8);
	dev_crash(r);
}

/* The device dies after publishing 0 and 1 and before forgetting them: a batch to finish. */
static void crash_with_a_batch_to_finish(struct rig *r)
{
	uint32_t b = r->nreq;

	drv_add_n(r, 5);
	for (int i = 0; i < 4; i++)
		dev_pop(r);
	dev_push(r, b + 1, 8);
	dev_push(r, b, 8);
	if (HAVE_TRACER)
		assert_false(dev_flush_crashing(r, -1, true, true));
	else if (!r->in_order)
		flush_steps_then_crash(r, true);
	else
		skip();
	assert_int_equal(H(r)->batch_count, 2);
}

/* Starts over the (edited) log: init itself succeeds, whatever the region says. */
static void restart(struct rig *r)
{
	r->hostile = true;
	assert_int_equal(dev_start_crashing(r, -1), 0);
}

static uint16_t id_of(struct rig *r, uint32_t s)
{
	return r->req[s].id;
}

/* An id no request made available so far uses. */
static uint16_t unused_id(struct rig *r, unsigned nth)
{
	for (uint16_t id = 0; id < r->p.num; id++) {
		bool used = false;

		for (uint32_t s = 0; s < r->nreq; s++)
			used |= r->req[s].id == id;
		if (!used && nth-- == 0)
			return id;
	}
	fail();
	return 0;
}

static void hostile_inflight_flag_above_1(void **state)
{
	struct rig *r = *state;

	crash_with_some_in_flight(r);
	E(r)[id_of(r, 0)].inflight = 2;
	restart(r);
	assert_broken(r, E_FLAG);
}

static void hostile_inflight_flag_0xff_on_an_idle_entry(void **state)
{
	struct rig *r = *state;

	crash_with_some_in_flight(r);
	E(r)[unused_id(r, 0)].inflight = 0xff;
	restart(r);
	assert_broken(r, E_FLAG);
}

static void hostile_counter_0(void **state)
{
	struct rig *r = *state;

	crash_with_some_in_flight(r);
	E(r)[id_of(r, 2)].counter = 0;
	restart(r);
	assert_broken(r, E_COUNTER0);
}

static void hostile_duplicate_counters(void **state)
{
	struct rig *r = *state;

	crash_with_some_in_flight(r);
	E(r)[id_of(r, 2)].counter = E(r)[id_of(r, 0)].counter;
	restart(r);
	assert_broken(r, E_DUP);
}

static void hostile_log_for_another_queue_size(void **state)
{
	struct rig *r = *state;

	crash_with_some_in_flight(r);
	H(r)->desc_num = (uint16_t)(r->p.num / 2);
	restart(r);
	assert_broken(r, E_OTHER);
}

static void hostile_log_for_the_other_layout(void **state)
{
	struct rig *r = *state;

	crash_with_some_in_flight(r);
	H(r)->packed = !r->packed;
	restart(r);
	assert_broken(r, E_OTHER);
	H(r)->packed = 2;
	restart(r);
	assert_broken(r, E_OTHER);
}

static void hostile_batch_larger_than_the_queue(void **state)
{
	struct rig *r = *state;

	crash_with_some_in_flight(r);
	H(r)->batch_count = (uint16_t)(r->p.num + 1);
	restart(r);
	assert_broken(r, E_BATCH_BIG);
}

static void hostile_batch_head_out_of_range(void **state)
{
	struct rig *r = *state;

	crash_with_a_batch_to_finish(r);
	H(r)->batch_head = (uint16_t)r->p.num;
	restart(r);
	assert_broken(r, E_BATCH_OOR);
	H(r)->batch_head = NONE;
	restart(r);
	assert_broken(r, E_BATCH_OOR);
}

static void hostile_batch_list_shorter_than_its_count(void **state)
{
	struct rig *r = *state;

	crash_with_a_batch_to_finish(r);
	H(r)->batch_count = 3; /* the list ends after 2 */
	restart(r);
	/* split: 3 buffers cannot move the used index by 2 */
	assert_broken(r, r->packed ? E_BATCH_OOR : E_BATCH_IDX);
	H(r)->batch_count = 2;
	E(r)[H(r)->batch_head].next = (uint16_t)(r->p.num + 7);
	restart(r);
	assert_broken(r, E_BATCH_OOR);
}

/* Unedited, the same log recovers: the edits above are what broke it. */
static void hostile_controls_recover(void **state)
{
	struct rig *r = *state;

	crash_with_a_batch_to_finish(r);
	dev_start(r);
	assert_null(vio_devq_error(r->q));
	drv_reap_all(r);
	drain(r);
	crash_with_some_in_flight(r);
	dev_start(r);
	assert_null(vio_devq_error(r->q));
	drain(r);
}

static void hostile_region_too_small_or_misaligned_is_not_touched(void **state)
{
	struct rig *r = *state;
	uint8_t before[4096];

	crash_with_some_in_flight(r);
	memcpy(before, r->log, r->log_size);
	r->cfg.inflight_size = r->log_size - 1;
	restart(r);
	assert_broken(r, E_SMALL);
	assert_memory_equal(before, r->log, r->log_size);
	r->cfg.inflight_size = r->log_size;
	r->cfg.inflight = r->log + 4;
	restart(r);
	assert_broken(r, E_SMALL);
	assert_memory_equal(before, r->log, r->log_size);
	r->cfg.inflight = r->log;
	restart(r);
	assert_null(vio_devq_error(r->q));
	drain(r);
}

/* ---- split ---- */

static void hostile_split_used_index_not_the_rings(void **state)
{
	struct rig *r = *state;

	crash_with_some_in_flight(r);
	H(r)->used++;
	restart(r);
	assert_broken(r, E_USED_RING);
}

static void hostile_split_ring_used_index_moved_under_the_log(void **state)
{
	struct rig *r = *state;

	crash_with_some_in_flight(r);
	/* the front-end (or the guest) moved the used index while we were down */
	*(volatile uint16_t *)&r->vq.used->idx = (uint16_t)(mock_split_used_idx(&r->vq) + 3);
	restart(r);
	assert_broken(r, E_USED_RING);
}

static void hostile_split_more_in_flight_than_made_available(void **state)
{
	struct rig *r = *state;

	crash_with_some_in_flight(r);
	for (unsigned i = 0; i < 2; i++) {
		struct t_entry *e = &E(r)[unused_id(r, i)];

		e->inflight = 1;
		e->counter = 1000 + i;
	}
	restart(r);
	assert_broken(r, E_AHEAD);
}

/* A head in flight whose chain now leaves guest memory: validated like any pop. */
static void hostile_split_resubmitted_chain_outside_guest_memory(void **state)
{
	struct rig *r = *state;

	crash_with_some_in_flight(r);
	mock_split_desc(&r->vq, id_of(r, 0), MOCK_HOLE_GPA, 8, 0, 0);
	restart(r);
	assert_null(vio_devq_error(r->q));
	assert_broken(r, E_OUTSIDE);
}

/* An idle head marked in flight is popped as any chain is: checked, inside guest memory. */
static void hostile_split_idle_head_marked_in_flight_is_walked_safely(void **state)
{
	struct rig *r = *state;
	uint16_t id;
	int res;

	crash_with_some_in_flight(r);
	id = unused_id(r, 0);
	mock_split_desc(&r->vq, id, MOCK_R1_GPA - 4, 8, 0, 0); /* straddles R0/R1: 2 iovecs */
	E(r)[id].inflight = 1;
	E(r)[id].counter = 1000;
	restart(r);
	if (vio_devq_error(r->q))
		return; /* broken is a fine answer */
	memset(&r->c, 0, sizeof(r->c));
	r->c.iov = r->iov;
	r->c.iov_cap = IOV_CAP;
	do {
		res = vio_devq_pop(r->q, &r->c);
		if (res == 1 && r->c.id == id) {
			assert_int_equal(r->c.nout, 2);
			assert_ptr_equal(r->c.iov[0].iov_base, mock_hva(&r->m, MOCK_R1_GPA - 4));
			assert_ptr_equal(r->c.iov[1].iov_base, mock_hva(&r->m, MOCK_R1_GPA));
		}
	} while (res == 1);
}

/* ---- packed ---- */

static void hostile_packed_saved_list_out_of_range(void **state)
{
	struct rig *r = *state;

	crash_with_some_in_flight(r);
	E(r)[id_of(r, 2)].first = (uint16_t)r->p.num;
	restart(r);
	assert_broken(r, E_SAVED);
	E(r)[id_of(r, 2)].first = NONE;
	restart(r);
	assert_broken(r, E_SAVED);
}

static void hostile_packed_saved_list_shared_by_two_buffers(void **state)
{
	struct rig *r = *state;

	crash_with_some_in_flight(r);
	E(r)[id_of(r, 2)].first = E(r)[id_of(r, 0)].first;
	restart(r);
	assert_broken(r, E_SAVED);
}

static void hostile_packed_saved_list_link_out_of_range(void **state)
{
	struct rig *r = *state;
	struct t_entry *e;

	crash_with_some_in_flight(r);
	e = &E(r)[id_of(r, 0)];
	if (e->ndesc < 2)
		e = &E(r)[id_of(r, 2)];
	assert_true(e->ndesc >= 2);
	S(r)[e->first].next = (uint16_t)(r->p.num + 1);
	restart(r);
	assert_broken(r, E_SAVED);
}

static void hostile_packed_saved_list_wrong_length(void **state)
{
	struct rig *r = *state;
	struct t_entry *e;
	uint16_t n;

	crash_with_some_in_flight(r);
	e = &E(r)[id_of(r, 0)];
	n = e->ndesc;
	e->ndesc = 0;
	restart(r);
	assert_broken(r, E_NDESC);
	e->ndesc = (uint16_t)(r->p.num + 1);
	restart(r);
	assert_broken(r, E_NDESC);
	e->ndesc = (uint16_t)(n + 1); /* runs off the list, or into a free slot */
	restart(r);
	assert_non_null(vio_devq_error(r->q));
	assert_true(!strcmp(vio_devq_error(r->q), E_SAVED) ||
		    !strcmp(vio_devq_error(r->q), E_POSITIONS));
	if (n > 1) {
		e->ndesc = (uint16_t)(n - 1);
		restart(r);
		assert_broken(r, E_POSITIONS);
	}
}

static void hostile_packed_positions_do_not_match(void **state)
{
	struct rig *r = *state;
	uint16_t avail, used;

	crash_with_some_in_flight(r);
	avail = H(r)->avail;
	used = H(r)->used;
	H(r)->avail = (uint16_t)((avail & 0x8000) | (((avail & 0x7fff) + 1) % r->p.num));
	restart(r);
	assert_broken(r, E_POSITIONS);
	H(r)->avail = avail ^ 0x8000;
	restart(r);
	assert_broken(r, E_POSITIONS);
	H(r)->avail = avail;
	H(r)->used = (uint16_t)((used & 0x8000) | (((used & 0x7fff) + 1) % r->p.num));
	restart(r);
	assert_broken(r, E_POSITIONS);
	H(r)->used = used;
	restart(r);
	assert_null(vio_devq_error(r->q));
}

/* The newest entry's avail_end is believed only when newer than the header's position. */
static void hostile_packed_newest_avail_end_wrong(void **state)
{
	struct rig *r = *state;
	struct t_entry *e;

	crash_with_some_in_flight(r);
	e = &E(r)[id_of(r, 3)];
	H(r)->avail_counter = 0;
	e->avail_end = (uint16_t)((e->avail_end & 0x8000) | (((e->avail_end & 0x7fff) + 2) % r->p.num));
	restart(r);
	assert_broken(r, E_POSITIONS);
}

static void hostile_packed_positions_out_of_range(void **state)
{
	struct rig *r = *state;
	uint16_t avail, used;

	crash_with_some_in_flight(r);
	avail = H(r)->avail;
	used = H(r)->used;
	H(r)->avail = 0x7fff;
	restart(r);
	assert_non_null(vio_devq_error(r->q));
	H(r)->avail = avail;
	H(r)->used = (uint16_t)(0x8000 | r->p.num);
	restart(r);
	assert_non_null(vio_devq_error(r->q));
	H(r)->used = used;
	restart(r);
	assert_null(vio_devq_error(r->q));
}

static void hostile_packed_batch_used_out_of_range(void **state)
{
	struct rig *r = *state;
	uint16_t batch_used;

	crash_with_a_batch_to_finish(r);
	batch_used = H(r)->batch_used;
	H(r)->batch_used = 0x7fff;
	restart(r);
	assert_non_null(vio_devq_error(r->q));
	H(r)->batch_used = (uint16_t)(0x8000 | r->p.num);
	restart(r);
	assert_non_null(vio_devq_error(r->q));
	H(r)->batch_used = batch_used;
	restart(r);
	assert_null(vio_devq_error(r->q));
}

/*
 * A batch the ring does not show published, or one already committed
 * (used == batch_used), is not finished: its list is never walked,
 * whatever it says.
 */
static void hostile_unpublished_or_committed_batch_is_ignored(void **state)
{
	struct rig *r = *state;

	crash_with_some_in_flight(r);
	H(r)->batch_used = r->packed ? 0x7fff : (uint16_t)(H(r)->used + 1);
	H(r)->batch_count = 1;
	H(r)->batch_head = NONE;
	restart(r);
	assert_null(vio_devq_error(r->q));
	dev_crash(r);
	H(r)->batch_used = H(r)->used;
	H(r)->batch_count = 3;
	H(r)->batch_head = id_of(r, 0); /* would drop a chain in flight */
	restart(r);
	assert_null(vio_devq_error(r->q));
	drv_reap_all(r);
	drain(r);
}

/* Split: a published batch moves the used index by its size exactly. */
static void hostile_split_batch_not_matching_the_used_index(void **state)
{
	struct rig *r = *state;

	crash_with_a_batch_to_finish(r);
	H(r)->batch_count = 1; /* would leave one of the two in flight: used twice */
	restart(r);
	assert_broken(r, E_BATCH_IDX);
}

/*
 * A batch to finish at a used position outside the ring: the ring must not
 * be read there. Queue Size = one page of descriptors, the page after the
 * ring made inaccessible while the device starts.
 */
static void hostile_packed_batch_at_used_position_outside_the_ring_is_not_read(void **state)
{
	struct params p = *(const struct params *)*state;
	struct rig *r;
	char *after;

	p.num = (uint32_t)(page_size() / 16);
	r = directed_rig(&p);
	dev_start(r);
	crash_with_some_in_flight(r);
	H(r)->batch_count = 1;
	H(r)->batch_head = id_of(r, 0);
	H(r)->batch_used = 0x8001;
	for (uint16_t pos = (uint16_t)p.num; pos < 0x8000; pos = (uint16_t)(pos * 2)) {
		H(r)->used = (uint16_t)(0x8000 | pos);
		after = (char *)(r->vq.pdesc + p.num);
		assert_int_equal(mprotect(after, page_size(), PROT_NONE), 0);
		restart(r);
		assert_int_equal(mprotect(after, page_size(), PROT_READ | PROT_WRITE), 0);
		assert_non_null(vio_devq_error(r->q));
	}
	rig_free(r);
}

static void hostile_packed_saved_descriptor_outside_guest_memory(void **state)
{
	struct rig *r = *state;

	crash_with_some_in_flight(r);
	S(r)[E(r)[id_of(r, 0)].first].addr = MOCK_HOLE_GPA;
	restart(r);
	assert_null(vio_devq_error(r->q));
	assert_broken(r, E_OUTSIDE);
}

static void hostile_packed_saved_indirect_inside_a_list(void **state)
{
	struct rig *r = *state;
	struct t_entry *e;

	crash_with_some_in_flight(r);
	e = &E(r)[id_of(r, 0)];
	assert_true(e->ndesc == 2); /* request 0 is direct */
	S(r)[e->first].flags |= VIRTQ_DESC_F_INDIRECT;
	restart(r);
	assert_broken(r, "indirect descriptor inside a descriptor list");
}

static void hostile_packed_saved_indirect_without_the_feature(void **state)
{
	struct rig *r = *state;
	struct t_entry *e;
	uint64_t table = mock_alloc(&r->m, 0, 64, 16);

	crash_with_some_in_flight(r);
	e = &E(r)[id_of(r, 0)];
	mock_pdesc_write(&r->m, table, 0, r->req[0].b[0].gpa, 8, 0, 0);
	e->ndesc = 1;
	S(r)[e->first] = (struct t_desc){ table, 16, VIRTQ_DESC_F_INDIRECT, NONE };
	/* one descriptor fewer in flight: move the avail position back by one */
	if ((H(r)->avail & 0x7fff) == 0)
		H(r)->avail = (uint16_t)(((H(r)->avail ^ 0x8000) & 0x8000) | (r->p.num - 1));
	else
		H(r)->avail--;
	H(r)->avail_counter = UINT32_MAX;
	restart(r);
	assert_null(vio_devq_error(r->q)); /* a consistent log: the pop finds it out */
	assert_broken(r, "VIRTQ_DESC_F_INDIRECT without VIRTIO_F_INDIRECT_DESC");
}

/* ---- anything at all behind a valid magic ---- */

static bool in_guest_memory(struct rig *r, const struct iovec *v)
{
	for (unsigned i = 0; i < r->m.nregions; i++) {
		const struct mock_region *g = &r->m.region[i];
		const uint8_t *b = v->iov_base;

		if (b >= g->hva && v->iov_len <= g->size && b + v->iov_len <= g->hva + g->size)
			return true;
	}
	return false;
}

/*
 * Fills the region with random bytes behind a valid magic; three times in
 * four it then makes it plausible, so that recovery gets past its first
 * checks and resubmits garbage: in-flight flags 0 or 1, distinct counters
 * (rarely not), the queue's size and layout, split: the ring's used index
 * and no more in flight than made available; packed: saved lists of random
 * slots and descriptors (addresses in guest memory or not) and an avail
 * position that (usually) matches what they count.
 */
static void scribble(struct rig *r)
{
	uint32_t *w = (uint32_t *)(void *)r->log;
	uint32_t num = r->p.num, n = 0, descs = 0;
	uint16_t room;

	for (size_t i = 0; i < r->log_size / 4; i++)
		w[i] = rnd(r);
	H(r)->magic = LOG_MAGIC;
	if (!rnd_below(r, 4))
		return;
	H(r)->desc_num = (uint16_t)num;
	H(r)->packed = r->packed;
	H(r)->batch_count = rnd_below(r, 4) ? 0 : (uint16_t)rnd_below(r, 3);
	H(r)->batch_head = (uint16_t)rnd_below(r, num + 1);
	if (r->packed) {
		H(r)->used = (uint16_t)((rnd(r) & 0x8000) | rnd_below(r, num));
		H(r)->avail_counter = rnd_below(r, 2 * num);
		room = (uint16_t)num;
	} else {
		H(r)->used = mock_split_used_idx(&r->vq);
		room = (uint16_t)(mock_split_avail_idx(&r->vq) - H(r)->used);
	}
	H(r)->batch_used = (uint16_t)(H(r)->used + rnd_below(r, 3));
	for (uint32_t id = 0; id < num; id++) {
		struct t_entry *e = &E(r)[id];
		struct t_desc *d = &S(r)[id];

		e->inflight = n < room && !rnd_below(r, 3);
		e->counter = rnd_below(r, 16) ? 1 + id * 3 + rnd_below(r, 3) : rnd_below(r, 4);
		e->next = (uint16_t)rnd_below(r, num + 1);
		e->ndesc = (uint16_t)(1 + rnd_below(r, 2));
		e->first = (uint16_t)rnd_below(r, num + (rnd_below(r, 8) ? 0 : 2));
		e->avail_end = (uint16_t)((rnd(r) & 0x8000) | rnd_below(r, num));
		n += e->inflight;
		descs += e->inflight ? e->ndesc : 0;
		d->next = (uint16_t)rnd_below(r, num + (rnd_below(r, 8) ? 0 : 2));
		d->len = rnd_below(r, 64);
		d->flags &= (uint16_t)(rnd_below(r, 4) ? ~VIRTQ_DESC_F_INDIRECT : 0xffff);
		if (rnd_below(r, 4))
			d->addr = MOCK_R0_GPA + rnd_below(r, 0x10000);
	}
	if (r->packed && rnd_below(r, 4)) {
		/* the avail position the lists in flight count from used */
		uint32_t a = (H(r)->used & 0x7fff) + descs % (2 * num);
		bool wrap = H(r)->used & 0x8000;

		while (a >= num) {
			a -= num;
			wrap = !wrap;
		}
		H(r)->avail = (uint16_t)(a | (wrap ? 0x8000 : 0));
		H(r)->avail_counter = UINT64_MAX >> 1;
	}
}

/*
 * Whatever the region holds, a restarted device comes up broken or pops
 * chains inside guest memory, and never faults (ASan/UBSan builds check
 * every access).
 */
static void hostile_random_region_behind_a_valid_magic(void **state)
{
	const struct params *p = *state;

	for (uint64_t seed = 1; seed <= 300; seed++) {
		struct rig *r = rig_new(p, START(p), seed);

		snprintf(ctx_msg, sizeof(ctx_msg), "scribble %s features %#llx seed %llu",
			 r->packed ? "packed" : "split", (unsigned long long)p->features,
			 (unsigned long long)seed);
		dev_start(r);
		drv_add_n(r, 1 + rnd_below(r, 6));
		for (unsigned i = rnd_below(r, 4); i > 0; i--)
			dev_pop(r);
		dev_crash(r);
		scribble(r);
		restart(r);
		CHECK(r->q->log_resub_n <= r->p.num);
		for (unsigned i = 0; i < 3 * r->p.num; i++) {
			int res;

			memset(&r->c, 0, sizeof(r->c));
			r->c.iov = r->iov;
			r->c.iov_cap = (uint32_t)(1 + rnd_below(r, IOV_CAP));
			res = vio_devq_pop(r->q, &r->c);
			CHECK(res == 1 || res == 0 || res == -ENOBUFS || res == -EIO);
			if (res == -EIO)
				CHECK(vio_devq_error(r->q) != NULL);
			if (res == 1)
				for (uint32_t k = 0; k < r->c.nout + r->c.nin; k++)
					CHECK(in_guest_memory(r, &r->iov[k]));
			if (res == 1 || res == -ENOBUFS) {
				CHECK(r->c.id < r->p.num);
				CHECK(vio_devq_push(r->q, r->c.id, rnd_below(r, 2) ? 0 : 8) == 0);
			}
			if (res <= 0 || rnd_below(r, 3) == 0)
				vio_devq_flush(r->q);
			if (res == 0 || res == -EIO)
				break;
		}
		rig_free(r);
	}
}

/* ------------------------------------------------------------------ */
/* A hostile driver: more pushes between two flushes than the queue has */
/* ------------------------------------------------------------------ */

/*
 * Split, no IN_ORDER: a head pushed is no longer in flight, so a driver
 * that makes the same head available again (it has not seen it used: it
 * is lying) lets the device pop and push it again before any flush. The
 * log's list of buffers to publish has room for Queue Size of them.
 */
static void split_more_pushes_between_flushes_than_the_queue_size_breaks_it(void **state)
{
	struct rig *r = *state;
	uint64_t buf = r->arena;
	int res = 0;
	unsigned i;

	mock_split_desc(&r->vq, 0, buf, 8, WRITE, 0);
	for (i = 0; i < 5 * r->p.num; i++) {
		mock_split_make_avail(&r->vq, 0);
		memset(&r->c, 0, sizeof(r->c));
		r->c.iov = r->iov;
		r->c.iov_cap = IOV_CAP;
		res = vio_devq_pop(r->q, &r->c);
		if (res < 0)
			break;
		assert_int_equal(res, 1);
		assert_int_equal(r->c.id, 0);
		res = vio_devq_push(r->q, 0, 8);
		if (res < 0)
			break;
	}
	assert_int_equal(res, -EIO);
	assert_true(i <= r->p.num);
	assert_non_null(vio_devq_error(r->q));
}

/* ------------------------------------------------------------------ */
/* The seeded random model                                              */
/* ------------------------------------------------------------------ */

/* The guest while the back-end is down: reaps, makes more available, sometimes fills the ring. */
static void downtime(struct rig *r)
{
	switch (rnd_below(r, 4)) {
	case 0:
		break;
	case 1:
		for (unsigned k = rnd_below(r, 4); k > 0 && drv_reap(r); k--)
			;
		drv_add_n(r, rnd_below(r, 4));
		break;
	default:
		drv_reap_all(r);
		while (r->nreq < MAX_REQ - 64 && drv_add(r))
			;
		break;
	}
}

/* A crash somewhere: between calls, at any store of a pop, push or flush. */
static void random_crash(struct rig *r)
{
	long k = 1 + (long)rnd_below(r, 30);
	bool died = false;

	switch (HAVE_TRACER ? rnd_below(r, 6) : rnd_below(r, 2) * 5u) {
	case 0:
		break;
	case 1:
		died = dev_pop_crashing(r, k) == NO_REQ - 1;
		break;
	case 2:
		for (uint32_t i = 0; i < r->held_n; i++)
			if (r->req[r->held[i]].state == R_HELD) {
				died = !dev_push_crashing(r, r->held[i], some_len(r, r->held[i]), k);
				break;
			}
		break;
	case 3:
		died = !dev_flush_crashing(r, k, false, false);
		break;
	case 4:
		died = !dev_flush_crashing(r, -1, true, rnd_below(r, 2));
		break;
	case 5:
		if (!r->in_order) {
			flush_steps_then_crash(r, rnd_below(r, 2));
			died = true;
		}
		break;
	}
	if (!died)
		dev_crash(r);
	downtime(r);
	/* sometimes it dies again while recovering */
	assert_int_equal(dev_start_crashing(r, HAVE_TRACER && !rnd_below(r, 4) ? k : -1), 0);
	CHECK(vio_devq_error(r->q) == NULL);
}

static void random_run(const struct params *p, uint16_t start, uint64_t seed, unsigned steps)
{
	struct rig *r = rig_new(p, start, seed);

	snprintf(ctx_msg, sizeof(ctx_msg), "random %s num %u features %#llx start %#x seed %llu",
		 r->packed ? "packed" : "split", p->num, (unsigned long long)p->features, start,
		 (unsigned long long)seed);
	dev_start(r);
	for (unsigned step = 0; step < steps && r->nreq < MAX_REQ - 256; step++) {
		uint32_t x = rnd_below(r, 100);

		if (x < 22) {
			drv_add_n(r, 1 + rnd_below(r, 3));
		} else if (x < 42) {
			dev_pop(r);
		} else if (x < 62) {
			if (r->held_n) {
				uint32_t s = r->held[rnd_below(r, r->held_n)];

				if (r->req[s].state == R_HELD)
					dev_push(r, s, some_len(r, s));
			}
		} else if (x < 72) {
			dev_flush(r);
		} else if (x < 85) {
			for (unsigned k = rnd_below(r, 4); k > 0 && drv_reap(r); k--)
				;
		} else if (x < 90) {
			random_crash(r);
		} else {
			continue;
		}
		check_log(r);
	}
	drain(r);
	check_log(r);
	rig_free(r);
}

struct rparams {
	struct params p;
	uint16_t start;
	unsigned seeds, steps;
};

static void random_crashes(void **state)
{
	const struct rparams *rp = *state;
	const char *env = getenv("VIO_TEST_SEED");
	uint64_t base = env ? strtoull(env, NULL, 0) : 1;

	print_message("seeds %llu..%llu (VIO_TEST_SEED)\n", (unsigned long long)base,
		      (unsigned long long)(base + rp->seeds - 1));
	for (uint64_t s = base; s < base + rp->seeds; s++)
		random_run(&rp->p, rp->start, s, rp->steps);
}

/* Small queues, so the rings wrap often; some start just before an index wrap. */
static const struct rparams R_S = { { MOCK_SPLIT, 4, 0 }, 0, 40, 1500 };
static const struct rparams R_S_IND = { { MOCK_SPLIT, 8, F_INDIRECT }, 0xfff0, 40, 1500 };
static const struct rparams R_S_ORD = { { MOCK_SPLIT, 8, F_IN_ORDER | F_EVENT }, 0xffe0, 40, 1500 };
static const struct rparams R_S_IND_ORD = { { MOCK_SPLIT, 4, F_INDIRECT | F_IN_ORDER }, 0, 40, 1500 };
static const struct rparams R_P = { { MOCK_PACKED, 5, 0 }, 0x8000, 40, 1500 };
static const struct rparams R_P_IND = { { MOCK_PACKED, 7, F_INDIRECT | F_EVENT }, 3, 40, 1500 };
static const struct rparams R_P_ORD = { { MOCK_PACKED, 6, F_IN_ORDER }, 0x8004, 40, 1500 };
static const struct rparams R_P_IND_ORD = { { MOCK_PACKED, 4, F_INDIRECT | F_IN_ORDER }, 2, 40, 1500 };

/* ------------------------------------------------------------------ */

#define T(fn, p) cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, (void *)&(p))
#define MATRIX(fn)                                                                     \
	T(fn, S_PLAIN), T(fn, S_IND), T(fn, S_ORD), T(fn, S_IND_ORD), T(fn, P_PLAIN),     \
		T(fn, P_IND), T(fn, P_ORD), T(fn, P_IND_ORD)
#define SPLIT(fn) T(fn, S_PLAIN), T(fn, S_IND), T(fn, S_ORD), T(fn, S_IND_ORD)
#define PACKED(fn) T(fn, P_PLAIN), T(fn, P_IND), T(fn, P_ORD), T(fn, P_IND_ORD)
#define BARE(fn, p) cmocka_unit_test_prestate(fn, (void *)&(p))
#define BARE_MATRIX(fn)                                                                 \
	BARE(fn, S_PLAIN), BARE(fn, S_IND), BARE(fn, S_ORD), BARE(fn, S_IND_ORD),          \
		BARE(fn, P_PLAIN), BARE(fn, P_IND), BARE(fn, P_ORD), BARE(fn, P_IND_ORD)
#define R(rp) cmocka_unit_test_prestate(random_crashes, (void *)&(rp))

int main(void)
{
	const struct CMUnitTest tests[] = {
		MATRIX(fresh_zeroed_region_is_initialised),
		BARE_MATRIX(fresh_region_of_garbage_without_magic_is_initialised),
		BARE_MATRIX(fresh_region_starts_at_the_vring_base),
		MATRIX(pops_are_logged_in_pop_order),
		MATRIX(push_without_flush_changes_nothing_in_the_log),
		MATRIX(flush_clears_the_published_entries),

		MATRIX(clean_stop_then_restart_resubmits_nothing),
		MATRIX(clean_stop_with_nothing_new_pops_nothing),
		MATRIX(crash_resubmits_unfinished_chains_in_pop_order),
		MATRIX(crash_again_before_all_are_resubmitted),
		MATRIX(wrong_vring_base_is_ignored_when_the_log_has_the_queue),
		PACKED(packed_crash_in_every_lap),
		PACKED(packed_used_descriptors_of_an_unpublished_batch_are_not_seen),
		PACKED(packed_crash_between_avail_position_and_its_counter),
		PACKED(packed_recovered_avail_position_is_written_back),
		BARE(split_crash_across_the_index_wrap, S_PLAIN),
		BARE(split_crash_across_the_index_wrap, S_IND_ORD),

		T(crash_after_publish_begin_resubmits_the_batch, S_PLAIN),
		T(crash_after_publish_begin_resubmits_the_batch, S_IND),
		T(crash_after_publish_begin_resubmits_the_batch, P_PLAIN),
		T(crash_after_publish_begin_resubmits_the_batch, P_IND),
		T(crash_after_the_ring_store_does_not_resubmit_the_batch, S_PLAIN),
		T(crash_after_the_ring_store_does_not_resubmit_the_batch, S_IND),
		T(crash_after_the_ring_store_does_not_resubmit_the_batch, P_PLAIN),
		T(crash_after_the_ring_store_does_not_resubmit_the_batch, P_IND),
		MATRIX(crash_just_before_the_publishing_store_resubmits_the_batch),
		MATRIX(crash_just_after_the_publishing_store_does_not_resubmit_it),
		PACKED(packed_batch_reaped_and_its_position_reused_is_not_resubmitted),

		BARE_MATRIX(every_store_of_a_pop_is_a_safe_crash_point),
		BARE_MATRIX(every_store_of_a_push_is_a_safe_crash_point),
		BARE_MATRIX(every_store_of_a_flush_is_a_safe_crash_point),
		BARE_MATRIX(every_store_of_recovery_is_a_safe_crash_point),
		BARE_MATRIX(every_store_of_recovery_finishing_a_batch_is_a_safe_crash_point),

		MATRIX(hostile_inflight_flag_above_1),
		MATRIX(hostile_inflight_flag_0xff_on_an_idle_entry),
		MATRIX(hostile_counter_0),
		MATRIX(hostile_duplicate_counters),
		MATRIX(hostile_log_for_another_queue_size),
		MATRIX(hostile_log_for_the_other_layout),
		MATRIX(hostile_batch_larger_than_the_queue),
		MATRIX(hostile_batch_head_out_of_range),
		MATRIX(hostile_batch_list_shorter_than_its_count),
		MATRIX(hostile_unpublished_or_committed_batch_is_ignored),
		SPLIT(hostile_split_batch_not_matching_the_used_index),
		MATRIX(hostile_controls_recover),
		MATRIX(hostile_region_too_small_or_misaligned_is_not_touched),
		SPLIT(hostile_split_used_index_not_the_rings),
		SPLIT(hostile_split_ring_used_index_moved_under_the_log),
		SPLIT(hostile_split_more_in_flight_than_made_available),
		SPLIT(hostile_split_resubmitted_chain_outside_guest_memory),
		SPLIT(hostile_split_idle_head_marked_in_flight_is_walked_safely),
		PACKED(hostile_packed_saved_list_out_of_range),
		PACKED(hostile_packed_saved_list_shared_by_two_buffers),
		PACKED(hostile_packed_saved_list_link_out_of_range),
		PACKED(hostile_packed_saved_list_wrong_length),
		PACKED(hostile_packed_positions_do_not_match),
		PACKED(hostile_packed_newest_avail_end_wrong),
		PACKED(hostile_packed_positions_out_of_range),
		PACKED(hostile_packed_batch_used_out_of_range),
		BARE(hostile_packed_batch_at_used_position_outside_the_ring_is_not_read, P_PLAIN),
		BARE(hostile_packed_batch_at_used_position_outside_the_ring_is_not_read, P_ORD),
		PACKED(hostile_packed_saved_descriptor_outside_guest_memory),
		T(hostile_packed_saved_indirect_inside_a_list, P_PLAIN),
		T(hostile_packed_saved_indirect_inside_a_list, P_ORD),
		T(hostile_packed_saved_indirect_without_the_feature, P_PLAIN),
		BARE_MATRIX(hostile_random_region_behind_a_valid_magic),
		T(split_more_pushes_between_flushes_than_the_queue_size_breaks_it, S_PLAIN),
		T(split_more_pushes_between_flushes_than_the_queue_size_breaks_it, S_IND),

		R(R_S), R(R_S_IND), R(R_S_ORD), R(R_S_IND_ORD),
		R(R_P), R(R_P_IND), R(R_P_ORD), R(R_P_IND_ORD),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
