/* SPDX-License-Identifier: BSD-3-Clause */
/* The inflight log's tests: the rig (tracer, driver, device, model, log checks). */
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
#include "test_inflight.h"

/* What a failed check prints, to reproduce it. */
char ctx_msg[160];

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

uint32_t rnd(struct rig *r)
{
	/* xorshift64*: reproducible from the seed the test prints */
	r->rnd ^= r->rnd >> 12;
	r->rnd ^= r->rnd << 25;
	r->rnd ^= r->rnd >> 27;
	return (uint32_t)((r->rnd * 0x2545f4914f6cdd1dull) >> 32);
}

uint32_t rnd_below(struct rig *r, uint32_t n)
{
	return n ? rnd(r) % n : 0;
}

struct t_hdr *H(struct rig *r)
{
	return (struct t_hdr *)(void *)r->log;
}

struct t_entry *E(struct rig *r)
{
	return (struct t_entry *)(void *)(r->log + sizeof(struct t_hdr));
}

struct t_desc *S(struct rig *r)
{
	return (struct t_desc *)(void *)(r->log + sizeof(struct t_hdr) +
					 r->p.num * sizeof(struct t_entry));
}

size_t page_size(void)
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

/*
 * Runs @op with every store into the log and the rings traced. The device
 * dies after @crash_after stores (-1: never; 0: before the first), or
 * at the store to @crash_at (just before it, or just after if @at_after).
 * Returns true if it died (the queue is then to be abandoned).
 */
bool traced(struct rig *r, op_fn *op, void *arg, long crash_after, const void *crash_at,
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

void skip_without_tracer(void)
{
	if (!HAVE_TRACER)
		skip();
}

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

void op_init(struct rig *r, void *a)
{
	((struct op_arg *)a)->res = vio_devq_init(r->q, &r->cfg);
}

/*
 * A rig over Queue Size p->num; the rings start at split index @start
 * (used and avail), or packed position @start & 0x7fff with wrap counter
 * bit 15. The log region is zero-filled, as QEMU's memfd is.
 */
struct rig *rig_new(const struct params *p, uint16_t start, uint64_t seed)
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

void rig_free(struct rig *r)
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
uint32_t wrong_base(struct rig *r)
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
int dev_start_crashing(struct rig *r, long crash_after)
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

void dev_start(struct rig *r)
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
void dev_crash(struct rig *r)
{
	model_crash(r);
}

/* ---- the driver's side ---- */

/* Adds a random request; false if the ring has no room for it. */
bool drv_add(struct rig *r)
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
bool drv_reap(struct rig *r)
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
void drv_reap_all(struct rig *r)
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
uint32_t dev_pop_crashing_at(struct rig *r, long crash_after, const void *at, bool after)
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

uint32_t dev_pop_crashing(struct rig *r, long crash_after)
{
	return dev_pop_crashing_at(r, crash_after, NULL, false);
}

uint32_t dev_pop(struct rig *r)
{
	return dev_pop_crashing(r, -1);
}

/* Pops everything available. */
void dev_pop_all(struct rig *r)
{
	while (dev_pop(r) != NO_REQ)
		;
}

/* Pushes request @s with @len; the device may die after @crash_after stores. */
bool dev_push_crashing(struct rig *r, uint32_t s, uint32_t len, long crash_after)
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

void dev_push(struct rig *r, uint32_t s, uint32_t len)
{
	dev_push_crashing(r, s, len, -1);
}

/* The requests a flush publishes now (IN_ORDER: the pushed ones before the first not pushed). */
uint32_t flush_batch(struct rig *r, uint32_t *out)
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

void model_publish(struct rig *r, const uint32_t *b, uint32_t n)
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
bool dev_flush_crashing(struct rig *r, long crash_after, bool at, bool after)
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

void dev_flush(struct rig *r)
{
	dev_flush_crashing(r, -1, false, false);
}

/* A length to push for request @s: in full half the time. */
uint32_t some_len(struct rig *r, uint32_t s)
{
	uint32_t w = r->req[s].in_bytes;

	return rnd_below(r, 2) ? w : rnd_below(r, w + 1);
}

/* Pushes every request held, flushes, reaps; until all are reaped. */
void drain(struct rig *r)
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
uint32_t drv_add_n(struct rig *r, uint32_t n)
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
void check_log(struct rig *r)
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

void assert_broken(struct rig *r, const char *why)
{
	memset(&r->c, 0, sizeof(r->c));
	r->c.iov = r->iov;
	r->c.iov_cap = IOV_CAP;
	assert_int_equal(vio_devq_pop(r->q, &r->c), -EIO);
	assert_non_null(vio_devq_error(r->q));
	assert_string_equal(vio_devq_error(r->q), why);
}
