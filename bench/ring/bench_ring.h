/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The ring benchmark: our driver (vio_drvq) against our device (vio_devq)
 * on two threads pinned to two cores, and the machine's limits measured in
 * the same run (bench/ring/README.md says what is measured and how).
 *
 * Two threads take part in every task: A, the main thread (the driver, the
 * producer, the prober), and B (the device, the consumer, the responder).
 * A posts a task in the control block, both run their side until A stores
 * stop, and B reports back.
 */
#ifndef VIO_BENCH_RING_H
#define VIO_BENCH_RING_H

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>

#define RING_NUM 256 /* Queue Size of every ring measured */

enum task_kind {
	T_QUIT,
	T_PROBE,  /* (a) one cache line bounced between the cores */
	T_IDX,    /* (b) minimal SPSC ring of 8-byte entries, head/tail indices */
	T_DESC,   /* (c) minimal ring of 16-byte descriptors with a per-slot flag */
	T_VIRTQ,  /* our driver against our device */
};

struct task {
	enum task_kind kind;
	uint32_t batch;     /* buffers added before one kick / taken per poll */
	uint64_t features;  /* T_VIRTQ: VIO_BIT(VIRTIO_F_*) */
	uint64_t warm_ns;   /* run this long before counting */
	uint64_t run_ns;    /* then count for this long */
	uint32_t probes;    /* T_PROBE: round trips per block */
};

/* What one task measured. */
struct result {
	uint64_t buffers;    /* completed by A in the counted window */
	uint64_t total;      /* completed by A over the whole task */
	uint64_t b_moved;    /* buffers B handled over the whole task */
	double seconds;      /* the counted window */
	double rtt_ns;       /* T_PROBE: median block, per round trip */
	uint64_t kicks;      /* T_VIRTQ: kick_prepare() said notify (whole task) */
	uint64_t calls;      /* T_VIRTQ: flush() said notify (whole task) */
	uint64_t preempt_a;  /* involuntary context switches of A during the task */
	uint64_t preempt_b;  /* ... and of B */
	uint64_t off_a_ns;   /* time A was off its CPU during the task (wall - thread CPU time) */
	uint64_t off_b_ns;   /* ... and B */
	uint64_t wall_ns;    /* the whole task, as A saw it */
	const char *err;     /* NULL, or why the task failed */
};

/* The control block and the cache lines the two threads share. */
struct ctl {
	_Alignas(64) uint32_t task_gen; /* A -> B: a new task is in @task */
	_Alignas(64) uint32_t done_gen; /* B -> A: B finished task @task_gen */
	_Alignas(64) uint32_t stop;     /* A -> B: end the current task */
	_Alignas(64) struct task task;
	_Alignas(64) struct result b;   /* B's part of the result */
	_Alignas(64) uint64_t ping;     /* the probe's cache line */
};

extern struct ctl *g_ctl;
extern bool g_yield; /* both threads on one CPU: spin loops yield */

static inline void relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#endif
	if (g_yield)
		sched_yield();
}

static inline uint32_t load_acq32(const uint32_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline void store_rel32(uint32_t *p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }

uint64_t now_ns(void);
uint64_t thread_preemptions(void);
uint64_t thread_cpu_ns(void); /* CLOCK_THREAD_CPUTIME_ID */

/*
 * Each task has an A side and a B side. A side: runs until the task's time
 * is up, then stores ctl->stop; fills @r (buffers, seconds, ...). B side:
 * runs until it sees stop; fills g_ctl->b. Both return nonzero on failure
 * with r->err / g_ctl->b.err set.
 */
/* Before a task is posted (A, while B waits): fresh rings. */
void idx_prepare(void);
void desc_prepare(void);
int virtq_prepare(const struct task *t);

int probe_a(const struct task *t, struct result *r);
void probe_b(const struct task *t);
int idx_a(const struct task *t, struct result *r);
void idx_b(const struct task *t);
int desc_a(const struct task *t, struct result *r);
void desc_b(const struct task *t);

/* virtq.c: one-time set-up; then the two sides of a T_VIRTQ task. */
int virtq_setup(void);
/* Whether our driver accepts @features (packed, in-order may not be there yet). */
bool virtq_supported(uint64_t features);
int virtq_a(const struct task *t, struct result *r);
void virtq_b(const struct task *t);
/* Both sides in turn on the calling thread (--solo). */
int virtq_solo(const struct task *t, struct result *r);

/*
 * The A-side clock of a counted run: call tick() every few iterations with
 * the running count; it returns true when the task is over (time up, or no
 * progress for five seconds: then r->err is set).
 */
struct window {
	uint64_t start, warm_end, end, run, last_progress, last_count;
	uint64_t count0;
	bool counting;
};
void window_begin(struct window *w, const struct task *t);
bool window_tick(struct window *w, uint64_t count, struct result *r);

#endif /* VIO_BENCH_RING_H */
