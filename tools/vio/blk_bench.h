/* SPDX-License-Identifier: BSD-3-Clause */
/* vio blk bench's internals: its options, latency statistics, the run and its results. */
#ifndef VIO_TOOL_BLK_BENCH_H
#define VIO_TOOL_BLK_BENCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "vio.h"

/* ---- options (blk_bench_opts.c) --------------------------------------------------- */

enum rw_mode { RW_READ, RW_WRITE, RW_RANDREAD, RW_RANDWRITE, RW_RW, RW_RANDRW };

struct bench_opts {
	struct blk_conn_opts conn;
	enum rw_mode rw;
	const char *rw_name;
	unsigned rwmixread;      /* percent of reads (rw / randrw) */
	uint64_t bs;
	unsigned iodepth;
	unsigned numjobs;
	double runtime, ramp;    /* seconds */
	uint64_t size, offset;   /* the region; size 0: to the end */
	bool json;
	uint64_t poll_ns;        /* spin this long for a completion before sleeping */
	uint64_t seed;
	int backend_pid;         /* 0: none; else its CPU time is reported too */
};

/* Returns 0 to go on, 1 for --help (printed), EXIT_USAGE on an error. */
int bench_parse(int argc, char **argv, struct bench_opts *o);

/* ---- latency histogram (blk_bench_stats.c) ---------------------------------------- */

/*
 * Log-linear: values below 2^HIST_SUB_BITS have a bucket each; above, each
 * power of two is cut into 2^HIST_SUB_BITS equal buckets.
 */
#define HIST_SUB_BITS 6u
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_BUCKETS ((64u - HIST_SUB_BITS + 1u) * HIST_SUB)

struct lat_stats {
	uint64_t n, min, max;
	double sum, sumsq;
	uint64_t bytes;
	uint64_t hist[HIST_BUCKETS];
};

static inline unsigned hist_index(uint64_t v)
{
	unsigned msb, shift;

	if (v < HIST_SUB)
		return (unsigned)v;
	msb = 63u - (unsigned)__builtin_clzll(v);
	shift = msb - HIST_SUB_BITS;
	return (shift + 1) * HIST_SUB + (unsigned)((v >> shift) - HIST_SUB);
}

void lat_reset(struct lat_stats *s);

static inline void lat_add(struct lat_stats *s, uint64_t ns, uint64_t bytes)
{
	double d = (double)ns;

	s->n++;
	s->bytes += bytes;
	s->min = ns < s->min ? ns : s->min;
	s->max = ns > s->max ? ns : s->max;
	s->sum += d;
	s->sumsq += d * d;
	s->hist[hist_index(ns)]++;
}

void lat_merge(struct lat_stats *to, const struct lat_stats *from);

/* ---- the run (blk_bench.c) ---------------------------------------------------------- */

struct job;

struct bench {
	struct bench_opts o;
	struct blk_dev d;
	struct job *jobs;
	uint64_t region_off, region_len, nblocks;
	_Atomic int phase;
	atomic_bool failed;
};

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct cpu_sample {
	uint64_t t;            /* ns, monotonic */
	uint64_t user, sys;    /* ns */
	uint64_t ctx;          /* context switches */
	uint64_t be_user, be_sys; /* ns, the back-end's (--backend-pid) */
	bool be_ok;
};

struct result {
	struct lat_stats st[2];
	double secs;
	struct cpu_sample c0, c1;
};

/* ---- results (blk_bench_stats.c) --------------------------------------------------- */

/* "123.4k" style, as fio prints IOPS. */
void bench_fmt_count(char *out, size_t n, double v);
void bench_fmt_bw(char *out, size_t n, double bytes_per_s);
void bench_print_normal(const struct bench *b, const struct result *res);
void bench_print_json(const struct bench *b, const struct result *res);

#endif
