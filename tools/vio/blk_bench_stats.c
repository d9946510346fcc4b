/* SPDX-License-Identifier: BSD-3-Clause */
/* vio blk bench: latency statistics and the report (normal, or fio's JSON). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "blk_bench.h"

/* ---- latency histogram -------------------------------------------------------- */

/* The middle of bucket @i. */
static uint64_t hist_value(unsigned i)
{
	unsigned shift;
	uint64_t low;

	if (i < HIST_SUB)
		return i;
	shift = i / HIST_SUB - 1;
	low = (uint64_t)(HIST_SUB + i % HIST_SUB) << shift;
	return low + (((uint64_t)1 << shift) - 1) / 2;
}

void lat_reset(struct lat_stats *s)
{
	memset(s, 0, sizeof(*s));
	s->min = UINT64_MAX;
}

void lat_merge(struct lat_stats *to, const struct lat_stats *from)
{
	to->n += from->n;
	to->bytes += from->bytes;
	to->min = from->min < to->min ? from->min : to->min;
	to->max = from->max > to->max ? from->max : to->max;
	to->sum += from->sum;
	to->sumsq += from->sumsq;
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		to->hist[i] += from->hist[i];
}

/* The value at percentile @p (0..100], as fio: the first bucket reaching ceil(p% of n). */
static uint64_t lat_percentile(const struct lat_stats *s, double p)
{
	uint64_t rank = (uint64_t)ceil(p / 100.0 * (double)s->n), seen = 0;

	if (!s->n)
		return 0;
	rank = rank ? rank : 1;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += s->hist[i];
		if (seen >= rank) {
			uint64_t v = hist_value(i);

			/* The histogram's resolution, but never outside what was seen. */
			return v < s->min ? s->min : v > s->max ? s->max : v;
		}
	}
	return s->max;
}

static double lat_mean(const struct lat_stats *s)
{
	return s->n ? s->sum / (double)s->n : 0;
}

static double lat_stddev(const struct lat_stats *s)
{
	double m, var;

	if (s->n < 2)
		return 0;
	m = lat_mean(s);
	var = (s->sumsq - (double)s->n * m * m) / (double)(s->n - 1);
	return var > 0 ? sqrt(var) : 0;
}

/* ---- reporting -------------------------------------------------------------------- */

/* "123.4k" style, as fio prints IOPS. */
void bench_fmt_count(char *out, size_t n, double v)
{
	if (v >= 1e9)
		snprintf(out, n, "%.1fG", v / 1e9);
	else if (v >= 1e6)
		snprintf(out, n, "%.1fM", v / 1e6);
	else if (v >= 1e4)
		snprintf(out, n, "%.1fk", v / 1e3);
	else
		snprintf(out, n, "%.0f", v);
}

void bench_fmt_bw(char *out, size_t n, double bytes_per_s)
{
	double mib = bytes_per_s / (1024.0 * 1024.0);

	if (mib >= 1024)
		snprintf(out, n, "%.2fGiB/s", mib / 1024);
	else if (mib >= 1)
		snprintf(out, n, "%.1fMiB/s", mib);
	else
		snprintf(out, n, "%.1fKiB/s", bytes_per_s / 1024);
}

static const double pcts[] = { 1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95,
			       99, 99.5, 99.9, 99.95, 99.99 };

static void print_dir_normal(const char *name, const struct lat_stats *s, double secs)
{
	char iops[16], bw[24];
	double bps = secs > 0 ? (double)s->bytes / secs : 0;

	if (!s->n)
		return;
	bench_fmt_count(iops, sizeof(iops), (double)s->n / secs);
	bench_fmt_bw(bw, sizeof(bw), bps);
	printf("  %5s: IOPS=%s, BW=%s (%.1fMB/s)(%.1fMiB/%.0fmsec)\n", name, iops, bw, bps / 1e6,
	       (double)s->bytes / (1024.0 * 1024.0), secs * 1000);
	printf("    lat (nsec): min=%" PRIu64 ", max=%" PRIu64 ", avg=%.0f, stdev=%.0f\n", s->min,
	       s->max, lat_mean(s), lat_stddev(s));
	printf("    lat percentiles (nsec): p50=%" PRIu64 ", p99=%" PRIu64 ", p99.9=%" PRIu64 "\n",
	       lat_percentile(s, 50), lat_percentile(s, 99), lat_percentile(s, 99.9));
}

/* The back-end's CPU time over the interval, percent of one CPU; false without it. */
static bool backend_cpu(const struct result *res, double *usr, double *sys)
{
	if (!res->c0.be_ok || !res->c1.be_ok || res->secs <= 0)
		return false;
	*usr = (double)(res->c1.be_user - res->c0.be_user) / 1e7 / res->secs;
	*sys = (double)(res->c1.be_sys - res->c0.be_sys) / 1e7 / res->secs;
	return true;
}

void bench_print_normal(const struct bench *b, const struct result *res)
{
	const struct bench_opts *o = &b->o;
	double cpu_s = (double)(res->c1.user - res->c0.user + res->c1.sys - res->c0.sys) / 1e9;
	uint64_t ios = res->st[0].n + res->st[1].n;
	double usr, sys;

	printf("vio blk bench: rw=%s, bs=%" PRIu64 ", iodepth=%u, numjobs=%u, region=[%" PRIu64
	       ", +%" PRIu64 ")\n", o->rw_name, o->bs, o->iodepth, o->numjobs, b->region_off,
	       b->region_len);
	print_dir_normal("read", &res->st[0], res->secs);
	print_dir_normal("write", &res->st[1], res->secs);
	printf("  cpu: usr=%.2f%%, sys=%.2f%%, ctx=%" PRIu64 ", %.0f ns per I/O\n",
	       res->secs > 0 ? (double)(res->c1.user - res->c0.user) / 1e7 / res->secs : 0,
	       res->secs > 0 ? (double)(res->c1.sys - res->c0.sys) / 1e7 / res->secs : 0,
	       res->c1.ctx - res->c0.ctx, ios ? cpu_s * 1e9 / (double)ios : 0);
	if (backend_cpu(res, &usr, &sys))
		printf("  back-end (pid %d): usr=%.2f%%, sys=%.2f%%, %.0f ns per I/O\n", o->backend_pid,
		       usr, sys, ios ? (usr + sys) / 100 * res->secs * 1e9 / (double)ios : 0);
}

static void json_lat(const char *key, const struct lat_stats *s, bool percentiles)
{
	printf("        \"%s\" : {\n          \"min\" : %" PRIu64 ",\n          \"max\" : %" PRIu64
	       ",\n          \"mean\" : %f,\n          \"stddev\" : %f,\n          \"N\" : %" PRIu64,
	       key, s->n ? s->min : 0, s->max, lat_mean(s), lat_stddev(s), s->n);
	if (percentiles) {
		printf(",\n          \"percentile\" : {\n");
		for (size_t i = 0; i < sizeof(pcts) / sizeof(pcts[0]); i++)
			printf("            \"%f\" : %" PRIu64 "%s\n", pcts[i],
			       lat_percentile(s, pcts[i]),
			       i + 1 < sizeof(pcts) / sizeof(pcts[0]) ? "," : "");
		printf("          }");
	}
	printf("\n        },\n");
}

static void json_dir(const char *name, const struct lat_stats *s, double secs, bool last)
{
	double bps = secs > 0 ? (double)s->bytes / secs : 0;

	printf("      \"%s\" : {\n", name);
	printf("        \"io_bytes\" : %" PRIu64 ",\n        \"io_kbytes\" : %" PRIu64 ",\n"
	       "        \"bw_bytes\" : %.0f,\n        \"bw\" : %.0f,\n        \"iops\" : %f,\n"
	       "        \"runtime\" : %.0f,\n        \"total_ios\" : %" PRIu64 ",\n"
	       "        \"short_ios\" : 0,\n        \"drop_ios\" : 0,\n",
	       s->bytes, s->bytes / 1024, bps, bps / 1024, secs > 0 ? (double)s->n / secs : 0,
	       secs * 1000, s->n);
	/* Submission is not timed apart: completion latency is the whole latency. */
	json_lat("clat_ns", s, true);
	json_lat("lat_ns", s, false);
	printf("        \"bw_mean\" : %.0f\n      }%s\n", bps / 1024, last ? "" : ",");
}

void bench_print_json(const struct bench *b, const struct result *res)
{
	const struct bench_opts *o = &b->o;
	double usr = res->secs > 0 ? (double)(res->c1.user - res->c0.user) / 1e7 / res->secs : 0;
	double sys = res->secs > 0 ? (double)(res->c1.sys - res->c0.sys) / 1e7 / res->secs : 0;
	uint64_t ios = res->st[0].n + res->st[1].n;
	struct lat_stats none;

	lat_reset(&none);
	printf("{\n  \"fio version\" : \"vio-%s\",\n  \"timestamp\" : %lld,\n", VIO_VERSION,
	       (long long)time(NULL));
	printf("  \"global options\" : {\n    \"rw\" : \"%s\",\n    \"bs\" : \"%" PRIu64 "\",\n"
	       "    \"iodepth\" : \"%u\",\n    \"numjobs\" : \"%u\",\n    \"runtime\" : \"%g\",\n"
	       "    \"ramp_time\" : \"%g\",\n    \"size\" : \"%" PRIu64 "\",\n"
	       "    \"offset\" : \"%" PRIu64 "\",\n    \"rwmixread\" : \"%u\",\n"
	       "    \"ioengine\" : \"vio\",\n    \"filename\" : \"%s\"\n  },\n",
	       o->rw_name, o->bs, o->iodepth, o->numjobs, o->runtime, o->ramp, b->region_len,
	       b->region_off, o->rwmixread, o->conn.socket);
	printf("  \"jobs\" : [\n    {\n      \"jobname\" : \"vio\",\n      \"groupid\" : 0,\n"
	       "      \"error\" : %d,\n      \"elapsed\" : %.0f,\n      \"job_runtime\" : %.0f,\n",
	       atomic_load(&b->failed) ? 1 : 0, o->ramp + res->secs, res->secs * 1000);
	json_dir("read", &res->st[0], res->secs, false);
	json_dir("write", &res->st[1], res->secs, false);
	json_dir("trim", &none, res->secs, true);
	printf("      ,\n      \"usr_cpu\" : %f,\n      \"sys_cpu\" : %f,\n"
	       "      \"ctx\" : %" PRIu64 ",\n      \"majf\" : 0,\n      \"minf\" : 0\n    }\n  ]",
	       usr, sys, res->c1.ctx - res->c0.ctx);
	/* Not fio's: the back-end's CPU time (--backend-pid), percent of one CPU. */
	if (backend_cpu(res, &usr, &sys))
		printf(",\n  \"backend\" : {\n    \"pid\" : %d,\n    \"usr_cpu\" : %f,\n"
		       "    \"sys_cpu\" : %f,\n    \"cpu_ns_per_io\" : %f\n  }", o->backend_pid, usr,
		       sys, ios ? (usr + sys) / 100 * res->secs * 1e9 / (double)ios : 0);
	printf("\n}\n");
}

