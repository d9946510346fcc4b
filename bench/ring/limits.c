/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The machine's limits, measured with the same two threads as the rings:
 * (a) the round trip of one cache line between the two cores, (b) a minimal
 * single-producer single-consumer ring of 8-byte entries with head/tail
 * indices, (c) a minimal ring of 16-byte descriptors with a per-slot flag
 * (a packed virtqueue stripped to the bone: no validation, no bookkeeping).
 * Both rings move buffers exactly as the virtqueue tasks do: the producer
 * adds @batch entries at a time and takes back up to @batch per poll; the
 * consumer takes up to @batch per poll and hands them back.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench_ring.h"

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t thread_preemptions(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_THREAD, &ru))
		return 0;
	return (uint64_t)ru.ru_nivcsw;
}

void window_begin(struct window *w, const struct task *t)
{
	memset(w, 0, sizeof(*w));
	w->start = now_ns();
	w->warm_end = w->start + t->warm_ns;
	w->run = t->run_ns;
	w->last_progress = w->start;
}

bool window_tick(struct window *w, uint64_t count, struct result *r)
{
	uint64_t t = now_ns();

	if (count != w->last_count) {
		w->last_count = count;
		w->last_progress = t;
	} else if (t - w->last_progress > 5000000000ull) {
		r->err = "no buffer completed for 5 s";
		return true;
	}
	if (!w->counting) {
		if (t < w->warm_end)
			return false;
		w->counting = true;
		w->count0 = count;
		w->warm_end = t; /* the counted window starts here, and lasts run_ns */
		w->end = t + w->run;
		return false;
	}
	if (t < w->end)
		return false;
	r->buffers = count - w->count0;
	r->seconds = (double)(t - w->warm_end) / 1e9;
	return true;
}

static void stop_b(void)
{
	store_rel32(&g_ctl->stop, 1);
}

static bool stopped(void)
{
	return load_acq32(&g_ctl->stop) != 0;
}

/* ------------------------------------------------------------------ */
/* (a) ping-pong of one cache line                                     */
/* ------------------------------------------------------------------ */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

#define PROBE_BLOCKS 7

/*
 * A stores an odd value into the line, B answers with the next even one:
 * each round trip moves the line to B and back. The median of a few blocks
 * of round trips, so one interruption does not count.
 */
int probe_a(const struct task *t, struct result *r)
{
	uint64_t *line = &g_ctl->ping;
	uint64_t v = __atomic_load_n(line, __ATOMIC_ACQUIRE);
	double block[PROBE_BLOCKS];
	/* Only a thread that stopped answering gets here; a loaded machine
	 * can starve one for a second. */
	uint64_t deadline = now_ns() + 10000000000ull;

	v += v & 1; /* B answers odd values: a completed exchange leaves it even */
	for (int b = -1; b < PROBE_BLOCKS; b++) { /* block -1 warms up */
		uint64_t t0 = now_ns();

		for (uint32_t i = 0; i < t->probes; i++) {
			uint32_t spins = 0;

			__atomic_store_n(line, v + 1, __ATOMIC_RELEASE);
			while (__atomic_load_n(line, __ATOMIC_ACQUIRE) != v + 2) {
				if (g_yield)
					sched_yield();
				if (!(++spins & 0xfffff) && now_ns() > deadline) {
					r->err = "probe: no answer for 10 s";
					stop_b();
					return 1;
				}
			}
			v += 2;
		}
		if (b >= 0)
			block[b] = (double)(now_ns() - t0) / t->probes;
	}
	stop_b();
	qsort(block, PROBE_BLOCKS, sizeof(block[0]), cmp_double);
	r->rtt_ns = block[PROBE_BLOCKS / 2];
	return 0;
}

void probe_b(const struct task *t)
{
	uint64_t *line = &g_ctl->ping;

	(void)t;
	for (;;) {
		uint64_t x = __atomic_load_n(line, __ATOMIC_ACQUIRE);

		if (x & 1)
			__atomic_store_n(line, x + 1, __ATOMIC_RELEASE);
		else if (stopped())
			break;
		else if (g_yield)
			sched_yield();
	}
}

/* ------------------------------------------------------------------ */
/* (b) SPSC ring of 8-byte entries, head and tail indices              */
/* ------------------------------------------------------------------ */

static struct {
	_Alignas(64) uint32_t head; /* written by the producer (A) */
	_Alignas(64) uint32_t tail; /* written by the consumer (B) */
	_Alignas(64) uint64_t e[RING_NUM];
} idx;

static uint64_t sink;

void idx_prepare(void)
{
	memset(&idx, 0, sizeof(idx));
}

/*
 * The producer keeps the consumer's tail cached and reloads it only when
 * the cached value says there is no room for a batch (and the consumer the
 * head likewise): each index line moves only when it has to.
 */
int idx_a(const struct task *t, struct result *r)
{
	uint32_t head = 0, tail = 0, iter = 0, B = t->batch;
	struct window w;

	window_begin(&w, t);
	for (;;) {
		if (RING_NUM - (head - tail) < B)
			tail = load_acq32(&idx.tail); /* pairs with B's release of tail */
		if (RING_NUM - (head - tail) >= B) {
			for (uint32_t i = 0; i < B; i++, head++)
				idx.e[head % RING_NUM] = head;
			store_rel32(&idx.head, head); /* pairs with B's acquire of head */
		} else {
			relax();
		}
		if (!(++iter & 63) && window_tick(&w, tail, r))
			break;
	}
	r->total = tail;
	stop_b();
	return r->err != NULL;
}

void idx_b(const struct task *t)
{
	uint32_t head = 0, tail = 0, B = t->batch;
	uint64_t s = 0;

	for (;;) {
		uint32_t n;

		if (head == tail) {
			head = load_acq32(&idx.head); /* pairs with A's release of head */
			if (head == tail) {
				if (stopped())
					break;
				relax();
				continue;
			}
		}
		n = head - tail < B ? head - tail : B;
		for (uint32_t i = 0; i < n; i++, tail++)
			s += idx.e[tail % RING_NUM];
		store_rel32(&idx.tail, tail); /* pairs with A's acquire of tail */
	}
	sink += s;
	g_ctl->b.b_moved = tail;
}

/* ------------------------------------------------------------------ */
/* (c) ring of 16-byte descriptors, a flag per slot                    */
/* ------------------------------------------------------------------ */

struct bdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t id;
	uint16_t flags;
};

#define F_AVAIL (1u << 7)
#define F_USED  (1u << 15)

static struct {
	_Alignas(64) struct bdesc d[RING_NUM];
} dr;

/* As in a packed ring: available when AVAIL == wrap and USED != wrap; used when both == wrap. */
static inline uint16_t avail_flags(bool wrap) { return wrap ? F_AVAIL : F_USED; }
static inline uint16_t used_flags(bool wrap) { return wrap ? F_AVAIL | F_USED : 0; }

static inline uint16_t load_flags(const struct bdesc *d)
{
	return __atomic_load_n(&d->flags, __ATOMIC_ACQUIRE);
}

static inline void store_flags(struct bdesc *d, uint16_t f)
{
	__atomic_store_n(&d->flags, f, __ATOMIC_RELEASE);
}

void desc_prepare(void)
{
	memset(&dr, 0, sizeof(dr));
}

/*
 * A (the driver) writes descriptors at its avail position, flags last; B
 * (the device) takes them in ring order and writes each slot back used
 * (len, then flags); A reaps used slots at its used position.
 */
int desc_a(const struct task *t, struct result *r)
{
	uint32_t avail = 0, used = 0, nfree = RING_NUM, iter = 0, B = t->batch;
	bool avail_wrap = true, used_wrap = true;
	uint64_t done = 0, s = 0;
	struct window w;

	window_begin(&w, t);
	for (;;) {
		uint32_t got = 0;

		while (got < B && nfree < RING_NUM) {
			struct bdesc *d = &dr.d[used];

			if (load_flags(d) != used_flags(used_wrap)) /* pairs with B's store_flags */
				break;
			s += d->id;
			if (++used == RING_NUM) {
				used = 0;
				used_wrap = !used_wrap;
			}
			nfree++;
			got++;
		}
		done += got;
		if (nfree >= B) {
			for (uint32_t i = 0; i < B; i++) {
				struct bdesc *d = &dr.d[avail];

				d->addr = 0x100000000ull + avail * 64u;
				d->len = 64;
				d->id = (uint16_t)avail;
				store_flags(d, avail_flags(avail_wrap)); /* pairs with B's load_flags */
				if (++avail == RING_NUM) {
					avail = 0;
					avail_wrap = !avail_wrap;
				}
			}
			nfree -= B;
		} else if (!got) {
			relax();
		}
		if (!(++iter & 63) && window_tick(&w, done, r))
			break;
	}
	sink += s;
	r->total = done;
	stop_b();
	return r->err != NULL;
}

void desc_b(const struct task *t)
{
	uint32_t pos = 0, B = t->batch;
	bool wrap = true;
	uint64_t moved = 0, s = 0;

	for (;;) {
		uint32_t n = 0;

		while (n < B) {
			struct bdesc *d = &dr.d[pos];

			if (load_flags(d) != avail_flags(wrap)) /* pairs with A's store_flags */
				break;
			s += d->addr + d->len;
			d->len = 64;
			store_flags(d, used_flags(wrap)); /* pairs with A's load_flags */
			if (++pos == RING_NUM) {
				pos = 0;
				wrap = !wrap;
			}
			n++;
		}
		moved += n;
		if (!n) {
			if (stopped())
				break;
			relax();
		}
	}
	sink += s;
	g_ctl->b.b_moved = moved;
}
