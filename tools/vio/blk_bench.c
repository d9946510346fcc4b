/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vio blk bench: a fio-style load on a vhost-user-blk back-end, measured from
 * the driver's side: IOPS, bandwidth, latency percentiles and the client's
 * CPU time.
 *
 * One thread per queue (--numjobs), each keeping --iodepth requests in
 * flight. Completions are taken in batches with used-buffer notifications
 * off (vio_blk_drv_wait() re-arms them only before sleeping), the requests
 * they free are sent again in one go, and the kick eventfd is written only
 * when the device asked for one (VIRTIO_F_EVENT_IDX). With --poll=USEC a
 * thread spins that long for a completion before it sleeps.
 *
 * Latency is measured from just before the submit call to the completion
 * callback, into a fixed log-linear histogram per thread and direction
 * (64 sub-buckets per power of two: under 1.6% error); nothing is allocated
 * per I/O. The client's CPU time is getrusage(RUSAGE_SELF) over the measured
 * interval (after --ramp_time).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "blk_bench.h"

/* ---- the jobs ------------------------------------------------------------------- */

enum phase { PHASE_RAMP, PHASE_MEASURE, PHASE_STOP };

struct job;

struct io_slot {
	struct vio_blk_req req;
	struct job *job;
	uint8_t *buf;
	uint64_t off;
	uint64_t t0;      /* ns, at submit */
	bool write;
};

struct job {
	struct bench *b;
	unsigned index;
	struct vio_blk_drv_queue *q;
	pthread_t tid;
	bool started;
	struct io_slot *slots;
	struct io_slot **ready; /* completed, to be sent again */
	unsigned nready;
	uint8_t *bufs;
	uint64_t rng;
	uint64_t seq;           /* sequential modes: the next offset, region-relative */
	bool measuring;         /* stats were reset at the start of the measurement */
	struct lat_stats st[2]; /* [0] reads, [1] writes */
	/* For the progress display (relaxed; written by this job only). */
	_Atomic uint64_t ios[2], bytes[2];
	int error;              /* the first failure (reported) */
	uint64_t more_errors;   /* failed I/Os after it (counted) */
};

/* xorshift64*: fast, and good enough to pick offsets. */
static inline uint64_t rnd(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dull;
}

/* A uniform number below @n (Lemire's multiply-shift; the bias is below 2^-32 for our n). */
static inline uint64_t rnd_below(uint64_t *s, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)rnd(s) * n) >> 64);
}

static void job_fail(struct job *j, int err)
{
	if (!j->error)
		j->error = err;
	atomic_store(&j->b->failed, true);
}

static void io_done(struct vio_blk_req *req)
{
	struct io_slot *s = (struct io_slot *)req; /* req is the first member */
	struct job *j = s->job;
	int phase;

	if (req->result) {
		/* The first failure of the queue is reported; the rest (same cause) counted. */
		if (!j->error)
			errmsg("queue %u: %s of %" PRIu64 " bytes at offset %" PRIu64 " failed: %s",
			       j->index, s->write ? "write" : "read", j->b->o.bs, s->off,
			       strerror(-req->result));
		else
			j->more_errors++;
		job_fail(j, req->result);
		return;
	}
	phase = atomic_load_explicit(&j->b->phase, memory_order_relaxed);
	if (phase == PHASE_MEASURE && !j->measuring) {
		lat_reset(&j->st[0]);
		lat_reset(&j->st[1]);
		j->measuring = true;
	}
	if (phase == PHASE_MEASURE)
		lat_add(&j->st[s->write], now_ns() - s->t0, j->b->o.bs);
	atomic_store_explicit(&j->ios[s->write], j->ios[s->write] + 1, memory_order_relaxed);
	atomic_store_explicit(&j->bytes[s->write], j->bytes[s->write] + j->b->o.bs,
			      memory_order_relaxed);
	j->ready[j->nready++] = s;
}

static bool is_write(struct job *j)
{
	const struct bench_opts *o = &j->b->o;

	switch (o->rw) {
	case RW_WRITE:
	case RW_RANDWRITE:
		return true;
	case RW_RW:
	case RW_RANDRW:
		return rnd_below(&j->rng, 100) >= o->rwmixread;
	default:
		return false;
	}
}

static uint64_t next_offset(struct job *j)
{
	struct bench *b = j->b;
	uint64_t off;

	if (b->o.rw == RW_RANDREAD || b->o.rw == RW_RANDWRITE || b->o.rw == RW_RANDRW)
		return b->region_off + rnd_below(&j->rng, b->nblocks) * b->o.bs;
	off = j->seq;
	j->seq += b->o.bs;
	if (j->seq + b->o.bs > b->nblocks * b->o.bs)
		j->seq = 0;
	return b->region_off + off;
}

/* Sends slot @s with a new offset and direction. */
static int send(struct job *j, struct io_slot *s)
{
	int r;

	s->write = is_write(j);
	s->off = next_offset(j);
	s->req.done = io_done;
	s->t0 = now_ns();
	r = s->write ? vio_blk_drv_write(j->q, &s->req, s->off, s->buf, j->b->o.bs)
		     : vio_blk_drv_read(j->q, &s->req, s->off, s->buf, j->b->o.bs);
	if (r) {
		errmsg("queue %u: cannot submit a %s at offset %" PRIu64 ": %s", j->index,
		       s->write ? "write" : "read", s->off, strerror(-r));
		job_fail(j, r);
	}
	return r;
}

static bool stopping(struct job *j)
{
	return atomic_load_explicit(&j->b->phase, memory_order_relaxed) == PHASE_STOP ||
	       atomic_load_explicit(&j->b->failed, memory_order_relaxed);
}

/* Takes completions: spins up to poll_ns, then sleeps. Returns how many, or -errno. */
static int take(struct job *j, uint64_t *last_progress)
{
	uint64_t poll_ns = j->b->o.poll_ns;
	int n = vio_blk_drv_poll(j->q);

	if (n == 0 && poll_ns) {
		uint64_t until = now_ns() + poll_ns;

		do
			n = vio_blk_drv_poll(j->q);
		while (n == 0 && now_ns() < until);
	}
	if (n == 0)
		n = vio_blk_drv_wait(j->q, 100);
	if (n > 0) {
		*last_progress = now_ns();
	} else if (n == 0 && vio_blk_drv_inflight(j->q) &&
		   now_ns() - *last_progress > (uint64_t)j->b->o.conn.timeout_ms * 1000000ull) {
		errmsg("queue %u: no completion within %d s (the back-end is stuck)", j->index,
		       j->b->o.conn.timeout_ms / 1000);
		return -ETIMEDOUT;
	}
	return n;
}

static void *job_main(void *arg)
{
	struct job *j = arg;
	uint64_t last = now_ns();
	int n;

	for (unsigned i = 0; i < j->b->o.iodepth; i++)
		if (send(j, &j->slots[i]))
			break;
	while (!stopping(j)) {
		n = take(j, &last);
		if (n < 0) {
			job_fail(j, n);
			break;
		}
		/* Send again what completed, as one batch. */
		while (j->nready && !stopping(j))
			if (send(j, j->ready[--j->nready]))
				break;
	}
	/* Let what is out complete (not counted), up to the timeout (unless it passed). */
	while (j->error != -ETIMEDOUT && vio_blk_drv_inflight(j->q) &&
	       vio_blk_drv_queue_error(j->q) == 0) {
		n = take(j, &last);
		if (n < 0)
			break;
	}
	if (vio_blk_drv_inflight(j->q)) {
		for (unsigned i = 0; i < j->b->o.iodepth; i++)
			vio_blk_drv_abandon(j->q, &j->slots[i].req);
		job_fail(j, -ETIMEDOUT);
	}
	return NULL;
}

/* ---- set-up ----------------------------------------------------------------------- */

static int plan_region(struct bench *b)
{
	const struct vio_blk_drv_info *in = b->d.info;
	uint64_t cap = in->capacity * VIRTIO_BLK_SECTOR_SIZE, len;

	if (b->o.bs % in->blk_size || b->o.offset % in->blk_size) {
		errmsg("--bs=%" PRIu64 " and --offset=%" PRIu64 " must be multiples of the block "
		       "size (%u)", b->o.bs, b->o.offset, in->blk_size);
		return -1;
	}
	if (b->o.offset >= cap) {
		errmsg("--offset=%" PRIu64 " is past the end of the device (%" PRIu64 " bytes)",
		       b->o.offset, cap);
		return -1;
	}
	len = b->o.size ? b->o.size : cap - b->o.offset;
	if (len > cap - b->o.offset) {
		errmsg("the region [%" PRIu64 ", +%" PRIu64 ") is past the end of the device "
		       "(%" PRIu64 " bytes)", b->o.offset, len, cap);
		return -1;
	}
	if (len < b->o.bs) {
		errmsg("the region (%" PRIu64 " bytes) is smaller than --bs=%" PRIu64, len, b->o.bs);
		return -1;
	}
	b->region_off = b->o.offset;
	b->nblocks = len / b->o.bs;
	b->region_len = b->nblocks * b->o.bs;
	if ((b->o.rw != RW_READ && b->o.rw != RW_RANDREAD) &&
	    vio_has_feature(in->features, VIRTIO_BLK_F_RO)) {
		errmsg("the device is read-only (VIRTIO_BLK_F_RO)");
		return -1;
	}
	return 0;
}

static int setup_job(struct bench *b, struct job *j, unsigned index)
{
	unsigned depth = b->o.iodepth;
	uint64_t fill = b->o.seed ^ 0x9e3779b97f4a7c15ull ^ index;

	j->b = b;
	j->index = index;
	j->q = vio_blk_drv_queue(b->d.drv, (uint16_t)index);
	j->slots = calloc(depth, sizeof(j->slots[0]));
	j->ready = calloc(depth, sizeof(struct io_slot *));
	j->bufs = vio_blk_drv_buf_alloc(b->d.drv, (size_t)depth * b->o.bs);
	if (!j->slots || !j->ready || !j->bufs) {
		errmsg("out of memory for %u buffers of %" PRIu64 " bytes", depth, b->o.bs);
		return -1;
	}
	/* Written data: incompressible, not zeroes. */
	fill = fill ? fill : 1;
	for (size_t i = 0; i + 8 <= (size_t)depth * b->o.bs; i += 8) {
		uint64_t v = rnd(&fill);

		memcpy(j->bufs + i, &v, 8);
	}
	for (unsigned i = 0; i < depth; i++) {
		j->slots[i].job = j;
		j->slots[i].buf = j->bufs + (size_t)i * b->o.bs;
	}
	j->rng = (b->o.seed + 1) * 0x9e3779b97f4a7c15ull + index * 0xbf58476d1ce4e5b9ull;
	j->rng = j->rng ? j->rng : 1;
	/* Sequential jobs start spread over the region (and wrap around). */
	j->seq = b->nblocks / b->o.numjobs * index * b->o.bs;
	lat_reset(&j->st[0]);
	lat_reset(&j->st[1]);
	return 0;
}

static void free_jobs(struct bench *b)
{
	if (!b->jobs)
		return;
	for (unsigned i = 0; i < b->o.numjobs; i++) {
		struct job *j = &b->jobs[i];

		/* Buffers of abandoned requests stay the device's until the close. */
		if (j->bufs && !j->error)
			vio_blk_drv_buf_free(b->d.drv, j->bufs);
		free(j->slots);
		free(j->ready);
	}
	free(b->jobs);
	b->jobs = NULL;
}

/* ---- running ---------------------------------------------------------------------- */

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static int backend_pid;

/* utime and stime of process @pid from /proc/PID/stat (all its threads, clock ticks). */
static bool proc_cpu(int pid, uint64_t *user, uint64_t *sys)
{
	char path[64], buf[1024], *p, *end;
	unsigned long long ut, st;
	long hz = sysconf(_SC_CLK_TCK);
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	p = strrchr(buf, ')'); /* the command name may hold anything */
	if (!p || hz <= 0)
		return false;
	/* Fields 3..15 after the name: state ppid pgrp session tty tpgid flags minflt cminflt
	 * majflt cmajflt utime stime. To the space before utime, the 12th. */
	for (int i = 0; i < 12 && p; i++)
		p = strchr(p + 1, ' ');
	if (!p)
		return false;
	errno = 0;
	ut = strtoull(p, &end, 10);
	if (errno || end == p)
		return false;
	st = strtoull(end, &p, 10);
	if (errno || p == end)
		return false;
	*user = ut * (1000000000ull / (uint64_t)hz);
	*sys = st * (1000000000ull / (uint64_t)hz);
	return true;
}

static void sample(struct cpu_sample *c)
{
	struct rusage ru;

	c->be_ok = backend_pid && proc_cpu(backend_pid, &c->be_user, &c->be_sys);

	getrusage(RUSAGE_SELF, &ru);
	c->t = now_ns();
	c->user = (uint64_t)ru.ru_utime.tv_sec * 1000000000ull + (uint64_t)ru.ru_utime.tv_usec * 1000;
	c->sys = (uint64_t)ru.ru_stime.tv_sec * 1000000000ull + (uint64_t)ru.ru_stime.tv_usec * 1000;
	c->ctx = (uint64_t)ru.ru_nvcsw + (uint64_t)ru.ru_nivcsw;
}

/* Sleeps until @until (ns) unless interrupted; false when interrupted or failed. */
static bool sleep_until(struct bench *b, uint64_t until)
{
	while (!interrupted && !atomic_load(&b->failed)) {
		uint64_t t = now_ns();
		struct timespec ts;

		if (t >= until)
			return true;
		t = until - t;
		if (t > 100000000ull)
			t = 100000000ull; /* look at the flags every 100 ms */
		ts.tv_sec = 0;
		ts.tv_nsec = (long)t;
		nanosleep(&ts, NULL);
	}
	return false;
}

static void sum_progress(struct bench *b, uint64_t ios[2], uint64_t bytes[2])
{
	ios[0] = ios[1] = bytes[0] = bytes[1] = 0;
	for (unsigned i = 0; i < b->o.numjobs; i++)
		for (int d = 0; d < 2; d++) {
			ios[d] += atomic_load_explicit(&b->jobs[i].ios[d], memory_order_relaxed);
			bytes[d] += atomic_load_explicit(&b->jobs[i].bytes[d], memory_order_relaxed);
		}
}

/* One line, rewritten in place: rates of the last interval and the time left. */
static void progress(struct bench *b, uint64_t prev_ios[2], uint64_t prev_bytes[2],
		     uint64_t dt_ns, uint64_t left_ns, bool ramp)
{
	uint64_t ios[2], bytes[2];
	char r[16], w[16], br[24], bw[24];
	double s = (double)dt_ns / 1e9;

	sum_progress(b, ios, bytes);
	bench_fmt_count(r, sizeof(r), (double)(ios[0] - prev_ios[0]) / s);
	bench_fmt_count(w, sizeof(w), (double)(ios[1] - prev_ios[1]) / s);
	bench_fmt_bw(br, sizeof(br), (double)(bytes[0] - prev_bytes[0]) / s);
	bench_fmt_bw(bw, sizeof(bw), (double)(bytes[1] - prev_bytes[1]) / s);
	printf("\r%s[r=%s,w=%s][r=%s,w=%s IOPS][eta %02" PRIu64 "m:%02" PRIu64 "s]\033[K",
	       ramp ? "(ramp) " : "", br, bw, r, w, (uint64_t)(left_ns / 60000000000ull),
	       (uint64_t)(left_ns / 1000000000ull % 60));
	fflush(stdout);
	memcpy(prev_ios, ios, sizeof(ios));
	memcpy(prev_bytes, bytes, sizeof(bytes));
}

/* Runs the ramp and the measurement; fills *t0 / *t1 (the measured interval). */
static void run_clock(struct bench *b, bool show, struct cpu_sample *c0, struct cpu_sample *c1)
{
	uint64_t start = now_ns();
	uint64_t measure_at = start + (uint64_t)(b->o.ramp * 1e9);
	uint64_t end = measure_at + (uint64_t)(b->o.runtime * 1e9);
	uint64_t prev_ios[2] = { 0 }, prev_bytes[2] = { 0 }, last = start;
	bool measuring = measure_at == start;

	if (measuring) {
		atomic_store(&b->phase, PHASE_MEASURE);
		sample(c0);
	}
	for (;;) {
		uint64_t target = measuring ? end : measure_at;
		uint64_t next = show ? last + 1000000000ull : target;
		uint64_t t;

		if (!sleep_until(b, next < target ? next : target))
			break;
		t = now_ns();
		if (!measuring && t >= measure_at) {
			atomic_store(&b->phase, PHASE_MEASURE);
			sample(c0);
			measuring = true;
		} else if (measuring && t >= end) {
			break;
		}
		if (show && t >= next) {
			progress(b, prev_ios, prev_bytes, t - last, end > t ? end - t : 0, !measuring);
			last = t;
		}
	}
	sample(c1);
	atomic_store(&b->phase, PHASE_STOP);
	if (!measuring)
		*c0 = *c1; /* interrupted in the ramp: nothing measured */
	if (show) {
		printf("\r\033[K");
		fflush(stdout);
	}
}

/* ---- the command ------------------------------------------------------------------ */

static uint32_t pow2_at_least(uint32_t v)
{
	uint32_t p = 4;

	while (p < v)
		p <<= 1;
	return p;
}

static int start_jobs(struct bench *b)
{
	sigset_t all, old;
	int err = 0;

	/* Signals are the main thread's. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (unsigned i = 0; i < b->o.numjobs && !err; i++) {
		err = pthread_create(&b->jobs[i].tid, NULL, job_main, &b->jobs[i]);
		if (!err)
			b->jobs[i].started = true;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		errmsg("cannot start a thread: %s", strerror(err));
		atomic_store(&b->failed, true);
	}
	return err ? -1 : 0;
}

static void collect(struct bench *b, struct result *res)
{
	lat_reset(&res->st[0]);
	lat_reset(&res->st[1]);
	for (unsigned i = 0; i < b->o.numjobs; i++) {
		struct job *j = &b->jobs[i];

		if (j->started)
			pthread_join(j->tid, NULL);
		if (j->more_errors)
			errmsg("queue %u: %" PRIu64 " more I/Os failed", j->index, j->more_errors);
		if (j->measuring) {
			lat_merge(&res->st[0], &j->st[0]);
			lat_merge(&res->st[1], &j->st[1]);
		}
	}
	res->secs = (double)(res->c1.t - res->c0.t) / 1e9;
}

int cmd_blk_bench(int argc, char **argv)
{
	struct bench *b = calloc(1, sizeof(*b));
	struct sigaction sa = { .sa_handler = on_signal };
	struct result *res = calloc(1, sizeof(*res));
	int r = b && res ? 0 : -1;

	if (r) {
		errmsg("out of memory");
		free(b);
		free(res);
		return 1;
	}
	b->o = (struct bench_opts){ .conn = { .timeout_ms = 30000 }, .rw = RW_RANDREAD,
				    .rw_name = "randread", .rwmixread = 50, .bs = 4096,
				    .iodepth = 1, .numjobs = 1, .runtime = 10 };
	r = bench_parse(argc, argv, &b->o);
	if (r) {
		free(b);
		free(res);
		return r == 1 ? 0 : r;
	}
	if (!b->o.conn.queue_size && b->o.iodepth > VIO_BLK_DRV_QUEUE_SIZE)
		b->o.conn.queue_size = pow2_at_least(b->o.iodepth);
	b->o.conn.num_queues = (uint16_t)b->o.numjobs;
	if (blk_open(&b->d, &b->o.conn, (uint16_t)b->o.numjobs,
		     (size_t)b->o.iodepth * b->o.bs + (64u << 10))) {
		free(b);
		free(res);
		return 1;
	}
	r = plan_region(b);
	b->jobs = r ? NULL : calloc(b->o.numjobs, sizeof(b->jobs[0]));
	if (!r && !b->jobs) {
		errmsg("out of memory");
		r = -1;
	}
	for (unsigned i = 0; !r && i < b->o.numjobs; i++)
		r = setup_job(b, &b->jobs[i], i);
	backend_pid = b->o.backend_pid;
	if (!r) {
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		atomic_store(&b->phase, PHASE_RAMP);
		if (!start_jobs(b))
			run_clock(b, !b->o.json && isatty(STDOUT_FILENO), &res->c0, &res->c1);
		else
			atomic_store(&b->phase, PHASE_STOP);
		collect(b, res);
		if (interrupted)
			errmsg("interrupted: results of the %.1f s measured", res->secs);
		if (b->o.json)
			bench_print_json(b, res);
		else
			bench_print_normal(b, res);
		r = atomic_load(&b->failed) ? -1 : 0;
	}
	free_jobs(b);
	blk_close(&b->d);
	free(b);
	free(res);
	return r ? 1 : 0;
}
