/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vio-bench-ring: the virtqueue against the speed of the hardware.
 *
 * Runs every variant of our driver against our device (split / packed,
 * batch 1 / 8 / 32, with and without VIRTIO_F_EVENT_IDX and
 * VIRTIO_F_IN_ORDER, where our driver supports them) and the machine's
 * limits (bench_ring.h) in many short repetitions, in a new random order
 * every round. Each repetition is tagged with a cache-line round-trip probe
 * taken just before and just after it: the vCPUs move between host
 * placements, and a repetition counts only for the placement both probes
 * agree on. Prints buffers per second per variant and placement, and the
 * ratio to the limits measured in the same placement; writes the raw
 * repetitions, the summary and a chart to --outdir (see README.md in this
 * directory).
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_ring.h"
#include "vio/virtio.h"

struct ctl *g_ctl;
bool g_yield;

static struct {
	bool smoke, no_limits, keep_preempted, probe_only;
	double seconds;
	uint32_t rounds;
	uint64_t rep_ns, warm_ns;
	uint32_t probes;
	const char *outdir, *only, *solo;
	int cpu[2];
	double split_ns, max_rtt_ns, max_off;
	uint64_t seed;
} opt = {
	.seconds = 180, .rep_ns = 100000000, .warm_ns = 10000000, .probes = 200,
	.outdir = ".", .cpu = { -1, -1 }, .split_ns = 200, .max_rtt_ns = 2000, .max_off = 0.02,
};

/* ------------------------------------------------------------------ */
/* Tasks and repetitions                                               */
/* ------------------------------------------------------------------ */

enum { NEAR, FAR, NPLACE };
static const char *const place_name[] = { "near", "far" };
enum { D_MIXED = NPLACE, D_PREEMPTED, D_WILD }; /* discarded repetitions */
#define ALL (-1) /* every repetition, kept or not */

struct variant {
	char name[48];
	struct task t;
	bool supported;
	const char *why_not;
};

struct rep {
	uint32_t round, v;
	double rtt0, rtt1;
	struct result r;
	int cls; /* NEAR, FAR or D_* */
};

static struct variant var[64];
static uint32_t nvar;
static struct rep *reps;
static size_t nreps, cap_reps;
static FILE *txt; /* the table, also printed */
static bool chart_all; /* the chart shows unclassified repetitions */

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (txt) {
		va_start(ap, fmt);
		vfprintf(txt, fmt, ap);
		va_end(ap);
	}
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "vio-bench-ring: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void add_variant(const char *name, enum task_kind k, uint32_t batch, uint64_t features)
{
	struct variant *v = &var[nvar++];

	snprintf(v->name, sizeof(v->name), "%s", name);
	v->t.kind = k;
	v->t.batch = batch;
	v->t.features = features;
	v->supported = true;
}

static const uint32_t batches[] = { 1, 8, 32 };
#define NBATCH (sizeof(batches) / sizeof(batches[0]))

static void build_variants(void)
{
	char name[48];

	for (size_t b = 0; b < NBATCH && !opt.no_limits; b++) {
		snprintf(name, sizeof(name), "idx-ring b%u", batches[b]);
		add_variant(name, T_IDX, batches[b], 0);
		snprintf(name, sizeof(name), "desc-ring b%u", batches[b]);
		add_variant(name, T_DESC, batches[b], 0);
	}
	for (int packed = 0; packed < 2; packed++)
		for (size_t b = 0; b < NBATCH; b++)
			for (int f = 0; f < 4; f++) {
				bool ev = f & 1, io = f & 2;
				uint64_t feat = (packed ? VIO_BIT(VIRTIO_F_RING_PACKED) : 0) |
						(ev ? VIO_BIT(VIRTIO_F_EVENT_IDX) : 0) |
						(io ? VIO_BIT(VIRTIO_F_IN_ORDER) : 0);

				snprintf(name, sizeof(name), "%s b%u%s%s", packed ? "packed" : "split",
					 batches[b], ev ? " evidx" : "", io ? " in-order" : "");
				if (opt.only && !strstr(name, opt.only))
					continue;
				add_variant(name, T_VIRTQ, batches[b], feat);
				if (!virtq_supported(feat)) {
					var[nvar - 1].supported = false;
					var[nvar - 1].why_not = packed && io ? "no packed, in-order driver"
							       : packed ? "no packed driver"
							       : "no in-order driver";
				}
			}
}

/* ------------------------------------------------------------------ */
/* The two threads                                                     */
/* ------------------------------------------------------------------ */

static uint32_t gen;

static int pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return 0;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* Time this thread spent off its CPU since wall time @w0 and thread CPU time @c0. */
static uint64_t off_cpu(uint64_t w0, uint64_t c0)
{
	uint64_t wall = now_ns() - w0, cpu = thread_cpu_ns() - c0;

	return wall > cpu ? wall - cpu : 0;
}

static void *b_main(void *arg)
{
	uint32_t seen = 0;

	(void)arg;
	if (pin(opt.cpu[1]))
		die("cannot pin thread B to CPU %d", opt.cpu[1]);
	for (;;) {
		struct task t;
		uint64_t p0, w0, c0;
		uint32_t g;

		while ((g = load_acq32(&g_ctl->task_gen)) == seen)
			relax();
		seen = g;
		t = g_ctl->task;
		if (t.kind == T_QUIT)
			break;
		memset(&g_ctl->b, 0, sizeof(g_ctl->b));
		p0 = thread_preemptions();
		w0 = now_ns();
		c0 = thread_cpu_ns();
		switch (t.kind) {
		case T_PROBE: probe_b(&t); break;
		case T_IDX: idx_b(&t); break;
		case T_DESC: desc_b(&t); break;
		case T_VIRTQ: virtq_b(&t); break;
		case T_QUIT: break;
		}
		g_ctl->b.preempt_b = thread_preemptions() - p0;
		g_ctl->b.off_b_ns = off_cpu(w0, c0);
		store_rel32(&g_ctl->done_gen, g); /* pairs with run_task()'s acquire */
	}
	return NULL;
}

/* Runs @t on both threads (A is this one); fills @r. */
static void run_task(const struct task *t, struct result *r)
{
	uint64_t p0, w0, c0, deadline;
	int rc = 0;

	memset(r, 0, sizeof(*r));
	switch (t->kind) {
	case T_IDX: idx_prepare(); break;
	case T_DESC: desc_prepare(); break;
	case T_VIRTQ: rc = virtq_prepare(t); break;
	default: break;
	}
	if (rc)
		die("queue set-up failed: %s", strerror(-rc));
	g_ctl->task = *t;
	g_ctl->stop = 0;
	store_rel32(&g_ctl->task_gen, ++gen); /* pairs with b_main()'s acquire */
	if (t->kind == T_QUIT)
		return;
	p0 = thread_preemptions();
	w0 = now_ns();
	c0 = thread_cpu_ns();
	switch (t->kind) {
	case T_PROBE: rc = probe_a(t, r); break;
	case T_IDX: rc = idx_a(t, r); break;
	case T_DESC: rc = desc_a(t, r); break;
	case T_VIRTQ: rc = virtq_a(t, r); break;
	case T_QUIT: break;
	}
	r->preempt_a = thread_preemptions() - p0;
	r->off_a_ns = off_cpu(w0, c0);
	r->wall_ns = now_ns() - w0;
	deadline = now_ns() + 10000000000ull;
	while (load_acq32(&g_ctl->done_gen) != gen) {
		relax();
		if (now_ns() > deadline)
			die("thread B did not finish a task in 10 s");
	}
	r->b_moved = g_ctl->b.b_moved;
	r->calls = g_ctl->b.calls;
	r->preempt_b = g_ctl->b.preempt_b;
	r->off_b_ns = g_ctl->b.off_b_ns;
	if (g_ctl->b.err && !r->err)
		r->err = g_ctl->b.err;
	(void)rc;
}

static double probe(void)
{
	struct task t = { .kind = T_PROBE, .probes = opt.probes };
	struct result r;

	run_task(&t, &r);
	if (r.err)
		die("%s", r.err);
	return r.rtt_ns;
}

/* ------------------------------------------------------------------ */
/* Statistics                                                          */
/* ------------------------------------------------------------------ */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The @q quantile (0..1) of sorted @x[n], interpolated; NAN if n is 0. */
static double quantile(const double *x, size_t n, double q)
{
	double pos, frac;
	size_t i;

	if (!n)
		return NAN;
	pos = q * (double)(n - 1);
	i = (size_t)pos;
	frac = pos - (double)i;
	return i + 1 < n ? x[i] * (1 - frac) + x[i + 1] * frac : x[i];
}

static int classify_rtt(double rtt)
{
	if (!(rtt > 0) || rtt > opt.max_rtt_ns)
		return D_WILD;
	return rtt < opt.split_ns ? NEAR : FAR;
}

static int classify(const struct rep *p)
{
	int a = classify_rtt(p->rtt0), b = classify_rtt(p->rtt1);

	if (a == D_WILD || b == D_WILD)
		return D_WILD;
	if (a != b)
		return D_MIXED;
	/* Preempted: a thread lost more than --max-off of the task to others
	 * (a tick's kernel work is not; a context switch alone says nothing). */
	if (!opt.keep_preempted && (p->r.off_a_ns > opt.max_off * (double)p->r.wall_ns ||
				    p->r.off_b_ns > opt.max_off * (double)p->r.wall_ns))
		return D_PREEMPTED;
	return a;
}

static double rate(const struct rep *p)
{
	return p->r.seconds > 0 ? (double)p->r.buffers / p->r.seconds : 0;
}

struct stat {
	size_t n;
	double med, p25, p75;   /* buffers per second */
	double kicks, calls;    /* per buffer, over the whole tasks */
};

static struct stat stat_of(uint32_t v, int cls)
{
	struct stat s = { 0 };
	double *x = malloc((nreps + 1) * sizeof(*x));
	double tot = 0, kicks = 0, calls = 0, moved = 0;

	if (!x)
		die("out of memory");
	for (size_t i = 0; i < nreps; i++) {
		if (reps[i].v != v || (cls != ALL && reps[i].cls != cls))
			continue;
		x[s.n++] = rate(&reps[i]);
		tot += (double)reps[i].r.total;
		moved += (double)reps[i].r.b_moved;
		kicks += (double)reps[i].r.kicks;
		calls += (double)reps[i].r.calls;
	}
	qsort(x, s.n, sizeof(*x), cmp_double);
	s.med = quantile(x, s.n, 0.5);
	s.p25 = quantile(x, s.n, 0.25);
	s.p75 = quantile(x, s.n, 0.75);
	s.kicks = tot > 0 ? kicks / tot : NAN;
	s.calls = moved > 0 ? calls / moved : NAN;
	free(x);
	return s;
}

/* Median probe of the repetitions kept in placement @cls (both probes of each). */
static double rtt_median(int cls, size_t *n)
{
	double *x = malloc((2 * nreps + 1) * sizeof(*x)), m;

	if (!x)
		die("out of memory");
	*n = 0;
	for (size_t i = 0; i < nreps; i++)
		if (cls == ALL || reps[i].cls == cls) {
			x[(*n)++] = reps[i].rtt0;
			x[(*n)++] = reps[i].rtt1;
		}
	qsort(x, *n, sizeof(*x), cmp_double);
	m = quantile(x, *n, 0.5);
	free(x);
	return m;
}

/* The variant of kind @k and batch @b (a limit), or -1. */
static int find_limit(enum task_kind k, uint32_t b)
{
	for (uint32_t i = 0; i < nvar; i++)
		if (var[i].t.kind == k && var[i].t.batch == b)
			return (int)i;
	return -1;
}

/* ------------------------------------------------------------------ */
/* Output                                                              */
/* ------------------------------------------------------------------ */

static FILE *open_out(const char *name)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", opt.outdir, name);
	f = fopen(path, "w");
	if (!f)
		die("cannot write %s: %s", path, strerror(errno));
	return f;
}

static void write_reps(void)
{
	FILE *f = open_out("ring-reps.tsv");
	static const char *const cls_name[] = { "near", "far", "mixed", "preempted", "wild" };

	fprintf(f, "round\ttask\tplacement\trtt_before_ns\trtt_after_ns\tbuffers\tseconds\t"
		   "buf_per_s\ttotal\tdevice_moved\tkicks\tcalls\tpreempt_a\tpreempt_b\t"
		   "off_cpu_a_ns\toff_cpu_b_ns\n");
	for (size_t i = 0; i < nreps; i++) {
		const struct rep *p = &reps[i];

		fprintf(f, "%u\t%s\t%s\t%.1f\t%.1f\t%llu\t%.6f\t%.0f\t%llu\t%llu\t%llu\t%llu\t%llu\t%llu"
			   "\t%llu\t%llu\n",
			p->round, var[p->v].name, cls_name[p->cls], p->rtt0, p->rtt1,
			(unsigned long long)p->r.buffers, p->r.seconds, rate(p),
			(unsigned long long)p->r.total, (unsigned long long)p->r.b_moved,
			(unsigned long long)p->r.kicks, (unsigned long long)p->r.calls,
			(unsigned long long)p->r.preempt_a, (unsigned long long)p->r.preempt_b,
			(unsigned long long)p->r.off_a_ns, (unsigned long long)p->r.off_b_ns);
	}
	fclose(f);
}

static double ratio(double a, double b)
{
	return b > 0 ? a / b : NAN;
}

static void fmt_ratio(char *buf, size_t n, double r)
{
	if (isnan(r))
		snprintf(buf, n, "%s", "-");
	else
		snprintf(buf, n, "%.2f", r);
}

static void fmt_ratio3(char *buf, size_t n, double r)
{
	if (isnan(r))
		snprintf(buf, n, "%s", "-");
	else
		snprintf(buf, n, "%.3f", r);
}

static void report(double elapsed, const char *load0, const char *load1)
{
	size_t counts[D_WILD + 1] = { 0 };
	FILE *sum = open_out("ring-summary.tsv");
	FILE *chart = open_out("ring-chart.dat");
	double rtt[NPLACE];
	size_t nrtt[NPLACE];

	for (size_t i = 0; i < nreps; i++)
		counts[reps[i].cls]++;
	out("\nvio ring benchmark: queue size %d, threads on CPUs %d and %d, %.0f ms repetitions "
	    "(+%.0f ms warm-up), %u rounds in %.0f s\n",
	    RING_NUM, opt.cpu[0], opt.cpu[1], (double)opt.rep_ns / 1e6, (double)opt.warm_ns / 1e6,
	    nreps ? reps[nreps - 1].round + 1 : 0, elapsed);
	out("load average before: %s; after: %s\n", load0, load1);
	out("repetitions: %zu; near %zu, far %zu; discarded: probes disagree %zu, preempted %zu, "
	    "probe above %.0f ns %zu (near/far boundary %.0f ns)\n",
	    nreps, counts[NEAR], counts[FAR], counts[D_MIXED], counts[D_PREEMPTED], opt.max_rtt_ns,
	    counts[D_WILD], opt.split_ns);

	fprintf(sum, "placement\ttask\tkind\tbatch\tn\tbuf_per_s_median\tbuf_per_s_p25\t"
		     "buf_per_s_p75\tvs_idx_ring\tvs_desc_ring\tvs_best_desc_ring\tkicks_per_buf\t"
		     "calls_per_buf\trtt_ns\n");
	fprintf(chart, "task");
	for (int c = 0; c < NPLACE; c++) {
		rtt[c] = rtt_median(c, &nrtt[c]);
		fprintf(chart, "\t%s", place_name[c]);
	}
	fprintf(chart, "\n");
	/* Nothing kept (a loaded machine, a smoke run): show every repetition, unclassified. */
	chart_all = !counts[NEAR] && !counts[FAR];

	for (int sec = 0; sec < NPLACE + (chart_all || opt.smoke); sec++) {
		int c = sec < NPLACE ? sec : ALL;
		double best_desc = 0, best[2] = { 0, 0 };
		int best_v[2] = { -1, -1 };
		size_t nc;

		if (c == ALL) {
			size_t np;
			double r = rtt_median(ALL, &np);

			nc = nreps;
			out("\n== all repetitions, placements mixed and none discarded: cache-line round "
			    "trip %.0f ns (median of %zu probes), %zu repetitions ==\n", r, np, nc);
		} else {
			nc = counts[c];
			out("\n== %s placement: cache-line round trip %.0f ns (median of %zu probes), "
			    "%zu repetitions ==\n", place_name[c], rtt[c], nrtt[c], nc);
		}
		if (!nc) {
			out("   (none: the vCPUs never sat in this placement during the run)\n");
			continue;
		}
		for (size_t b = 0; b < NBATCH; b++) {
			int d = find_limit(T_DESC, batches[b]);
			double m = d >= 0 ? stat_of((uint32_t)d, c).med : NAN;

			if (m > best_desc)
				best_desc = m;
		}
		out("%-26s %9s %19s %5s %8s %8s %9s %9s\n", "", "Mbuf/s", "[p25 .. p75]", "n",
		    "/idx", "/desc", "kicks/buf", "calls/buf");
		for (uint32_t i = 0; i < nvar; i++) {
			const struct variant *v = &var[i];
			struct stat s;
			int li = find_limit(T_IDX, v->t.batch), ld = find_limit(T_DESC, v->t.batch);
			double lidx = li >= 0 ? stat_of((uint32_t)li, c).med : NAN;
			double ldesc = ld >= 0 ? stat_of((uint32_t)ld, c).med : NAN;
			char r1[16], r2[16], r3[16], k[16], ca[16];

			if (!v->supported) {
				out("%-26s %9s   (%s)\n", v->name, "n/a", v->why_not);
				continue;
			}
			s = stat_of(i, c);
			if (!s.n) {
				out("%-26s %9s\n", v->name, "-");
				continue;
			}
			fmt_ratio(r1, sizeof(r1), ratio(s.med, lidx));
			fmt_ratio(r2, sizeof(r2), ratio(s.med, ldesc));
			fmt_ratio(r3, sizeof(r3), ratio(s.med, best_desc));
			fmt_ratio3(k, sizeof(k), v->t.kind == T_VIRTQ ? s.kicks : NAN);
			fmt_ratio3(ca, sizeof(ca), v->t.kind == T_VIRTQ ? s.calls : NAN);
			out("%-26s %9.2f [%7.2f .. %7.2f] %5zu %8s %8s %9s %9s\n", v->name, s.med / 1e6,
			    s.p25 / 1e6, s.p75 / 1e6, s.n, r1, r2, k, ca);
			fprintf(sum, "%s\t%s\t%s\t%u\t%zu\t%.0f\t%.0f\t%.0f\t%s\t%s\t%s\t%s\t%s\t%.1f\n",
				c == ALL ? "all" : place_name[c], v->name,
				v->t.kind == T_IDX ? "idx-ring" : v->t.kind == T_DESC ? "desc-ring"
				: (v->t.features & VIO_BIT(VIRTIO_F_RING_PACKED)) ? "packed" : "split",
				v->t.batch, s.n, s.med, s.p25, s.p75, r1, r2, r3, k, ca,
				c == ALL ? rtt_median(ALL, &nc) : rtt[c]);
			if (v->t.kind == T_VIRTQ && s.n) {
				int p = !!(v->t.features & VIO_BIT(VIRTIO_F_RING_PACKED));

				if (s.med > best[p]) {
					best[p] = s.med;
					best_v[p] = (int)i;
				}
			}
		}
		for (int p = 0; p < 2; p++) {
			if (best_v[p] < 0) {
				out("best %-6s: n/a\n", p ? "packed" : "split");
				continue;
			}
			out("best %-6s: %s, %.2f Mbuf/s = %.2f of the best desc-ring (%.2f Mbuf/s)%s\n",
			    p ? "packed" : "split", var[best_v[p]].name, best[p] / 1e6,
			    ratio(best[p], best_desc), best_desc / 1e6,
			    p ? (ratio(best[p], best_desc) >= 0.5 ? "  [target >= 0.50: met]"
								  : "  [target >= 0.50: NOT met]")
			      : "");
		}
	}
	out("cache-line round trip (limit a): near %.0f ns, far %.0f ns\n", rtt[NEAR], rtt[FAR]);

	for (uint32_t i = 0; i < nvar; i++) {
		if (!var[i].supported)
			continue;
		fprintf(chart, "\"%s\"", var[i].name);
		for (int c = 0; c < NPLACE; c++) {
			struct stat s = stat_of(i, chart_all ? ALL : c);

			if (s.n && (!chart_all || c == NEAR))
				fprintf(chart, "\t%.3f", s.med / 1e6);
			else
				fprintf(chart, "\t-");
		}
		fprintf(chart, "\n");
	}
	fclose(chart);
	fclose(sum);
}

static void plot(void)
{
	FILE *gp = open_out("ring.gp");
	char cmd[8192];
	size_t n[NPLACE];
	double near = rtt_median(NEAR, &n[NEAR]), far = rtt_median(FAR, &n[FAR]);

	if (chart_all) {
		fprintf(gp,
			"# vio ring benchmark chart: gnuplot ring.gp (in this directory)\n"
			"set terminal pngcairo size 1600,800 font \",10\"\n"
			"set output 'ring.png'\n"
			"set title 'vio virtqueue: NO repetition kept (loaded machine or smoke run): "
			"median of all repetitions, placements mixed'\n"
			"set datafile missing '-'\n"
			"set style data histograms\n"
			"set style fill solid 0.85 border -1\n"
			"set logscale y\n"
			"set ylabel 'million buffers per second (log)'\n"
			"set xtics rotate by -50 scale 0\n"
			"plot 'ring-chart.dat' using 2:xtic(1) title 'all repetitions' lc rgb '#808080'\n");
		goto run;
	}
	fprintf(gp,
		"# vio ring benchmark chart: gnuplot ring.gp (in this directory)\n"
		"set terminal pngcairo size 1600,800 font \",10\"\n"
		"set output 'ring.png'\n"
		"set title 'vio virtqueue, driver and device on two cores, polling: median buffers per "
		"second per host placement (idx-ring, desc-ring: the limits)'\n"
		"set datafile missing '-'\n"
		"set style data histograms\n"
		"set style histogram clustered gap 1\n"
		"set style fill solid 0.85 border -1\n"
		"set boxwidth 0.9\n"
		"set logscale y\n"
		"set grid ytics mytics\n"
		"set ylabel 'million buffers per second (log)'\n"
		"set xtics rotate by -50 scale 0\n"
		"set key top right\n"
		"plot 'ring-chart.dat' using 2:xtic(1) title 'near (round trip %.0f ns)' lc rgb '#2060c0', "
		"'' using 3 title 'far (round trip %.0f ns)' lc rgb '#d07020'\n",
		isnan(near) ? 0 : near, isnan(far) ? 0 : far);
run:
	fclose(gp);
	if (system("command -v gnuplot >/dev/null 2>&1") != 0) {
		out("chart: gnuplot not found, skipped (%s/ring.gp is ready)\n", opt.outdir);
		return;
	}
	snprintf(cmd, sizeof(cmd), "cd '%s' && gnuplot ring.gp", opt.outdir);
	if (system(cmd) != 0)
		die("gnuplot failed on %s/ring.gp", opt.outdir);
	out("chart: %s/ring.png\n", opt.outdir);
}

/* ------------------------------------------------------------------ */
/* Main                                                                */
/* ------------------------------------------------------------------ */

/* Jiffies of all CPUs from /proc/stat: total and steal (the host ran something else). */
static void cpu_jiffies(uint64_t *total, uint64_t *steal)
{
	unsigned long long v[8] = { 0 };
	FILE *f = fopen("/proc/stat", "r");

	*total = *steal = 0;
	if (!f)
		return;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
		   &v[4], &v[5], &v[6], &v[7]) == 8) {
		for (int i = 0; i < 8; i++)
			*total += v[i];
		*steal = v[7];
	}
	fclose(f);
}

static void loadavg(char *buf, size_t n)
{
	FILE *f = fopen("/proc/loadavg", "r");

	snprintf(buf, n, "?");
	if (f) {
		if (fgets(buf, (int)n, f)) {
			char *p = buf;

			for (int sp = 0; *p && sp < 3; p++)
				sp += *p == ' ';
			if (p > buf)
				p[-1] = 0;
		}
		fclose(f);
	}
}

static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void pick_cpus(void)
{
	cpu_set_t set;
	int n = 0;

	if (opt.cpu[0] >= 0 && opt.cpu[1] >= 0)
		return;
	if (sched_getaffinity(0, sizeof(set), &set))
		die("sched_getaffinity: %s", strerror(errno));
	for (int c = 0; c < CPU_SETSIZE && n < 2; c++)
		if (CPU_ISSET(c, &set))
			opt.cpu[n++] = c;
	if (n < 2) {
		/* One CPU: the threads take turns (smoke runs only make sense). */
		fprintf(stderr, "vio-bench-ring: only one CPU available: both threads on CPU %d, "
				"spinning yields; numbers are meaningless\n", opt.cpu[0]);
		opt.cpu[1] = opt.cpu[0];
		g_yield = true;
	}
}

static int solo(void)
{
	for (uint32_t i = 0; i < nvar; i++) {
		struct result r = { 0 };
		struct task t = var[i].t;

		if (strcmp(var[i].name, opt.solo))
			continue;
		if (t.kind != T_VIRTQ || !var[i].supported)
			die("--solo: %s is not a virtqueue variant our driver supports", opt.solo);
		t.run_ns = (uint64_t)(opt.seconds * 1e9);
		if (virtq_prepare(&t) || virtq_solo(&t, &r))
			die("--solo %s: %s", opt.solo, r.err ? r.err : "set-up failed");
		printf("%s, one thread: %.2f Mbuf/s, %.1f ns per buffer (%llu buffers in %.2f s)\n",
		       var[i].name, (double)r.buffers / r.seconds / 1e6, r.seconds * 1e9 / (double)r.buffers,
		       (unsigned long long)r.buffers, r.seconds);
		return 0;
	}
	die("--solo: no variant named '%s'", opt.solo);
}

static void usage(void)
{
	printf("usage: vio-bench-ring [options]\n"
	       "  --seconds=S     run rounds until S seconds have passed (default 180)\n"
	       "  --rounds=N      at most N rounds\n"
	       "  --rep-ms=MS     counted length of one repetition (default 100)\n"
	       "  --warm-ms=MS    uncounted start of each repetition (default 10)\n"
	       "  --probes=N      round trips per probe block (default 200; 7 blocks)\n"
	       "  --split-ns=NS   probe round trip below which the placement is near (default 200)\n"
	       "  --max-rtt-ns=NS a probe above this is disturbed: its repetition is dropped (2000)\n"
	       "  --max-off=F     a repetition in which a thread was off its CPU for more than\n"
	       "                  this fraction of it was preempted: dropped (0.02)\n"
	       "  --keep-preempted  keep repetitions in which a thread was preempted\n"
	       "  --cpus=A,B      the two CPUs (default: the first two allowed)\n"
	       "  --only=STR      only the virtqueue variants whose name contains STR\n"
	       "  --no-limits     skip the idx-ring and desc-ring limits\n"
	       "  --outdir=DIR    where ring.txt, ring-reps.tsv, ring-summary.tsv, ring.png go\n"
	       "  --seed=N        seed of the order of variants in each round\n"
	       "  --smoke         a second or two: every variant runs twice, briefly\n"
	       "  --probe         print one cache-line round trip (ns) and the placement it means, exit\n"
	       "  --solo=NAME     no threads: both sides of variant NAME in turn on one CPU for\n"
	       "                  --seconds (what the code costs without transfers; to profile)\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "seconds", required_argument, NULL, 's' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "rep-ms", required_argument, NULL, 'm' },
		{ "warm-ms", required_argument, NULL, 'w' },
		{ "probes", required_argument, NULL, 'p' },
		{ "split-ns", required_argument, NULL, 'S' },
		{ "max-rtt-ns", required_argument, NULL, 'M' },
		{ "keep-preempted", no_argument, NULL, 'k' },
		{ "max-off", required_argument, NULL, 'F' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "only", required_argument, NULL, 'o' },
		{ "no-limits", no_argument, NULL, 'n' },
		{ "outdir", required_argument, NULL, 'O' },
		{ "seed", required_argument, NULL, 'e' },
		{ "smoke", no_argument, NULL, 'q' },
		{ "solo", required_argument, NULL, 'x' },
		{ "probe", no_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	char load0[128], load1[192];
	uint64_t jt0, js0, jt1, js1;
	uint64_t t0, seed;
	uint32_t *order, round;
	pthread_t th;
	int c;

	opt.seed = now_ns();
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 's': opt.seconds = atof(optarg); break;
		case 'r': opt.rounds = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'm': opt.rep_ns = (uint64_t)(atof(optarg) * 1e6); break;
		case 'w': opt.warm_ns = (uint64_t)(atof(optarg) * 1e6); break;
		case 'p': opt.probes = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'S': opt.split_ns = atof(optarg); break;
		case 'M': opt.max_rtt_ns = atof(optarg); break;
		case 'k': opt.keep_preempted = true; break;
		case 'F': opt.max_off = atof(optarg); break;
		case 'c':
			if (sscanf(optarg, "%d,%d", &opt.cpu[0], &opt.cpu[1]) != 2)
				die("--cpus=A,B");
			break;
		case 'o': opt.only = optarg; break;
		case 'n': opt.no_limits = true; break;
		case 'O': opt.outdir = optarg; break;
		case 'e': opt.seed = strtoull(optarg, NULL, 0); break;
		case 'q':
			opt.smoke = true;
			opt.seconds = 0;
			opt.rounds = 2;
			opt.rep_ns = 10000000;
			opt.warm_ns = 2000000;
			opt.probes = 50;
			break;
		case 'x': opt.solo = optarg; break;
		case 'P': opt.probe_only = true; break;
		case 'h': usage(); return 0;
		default: usage(); return 2;
		}
	}
	if (!opt.probes || !opt.rep_ns)
		die("--probes and --rep-ms must be positive");

	g_ctl = aligned_alloc(64, sizeof(*g_ctl));
	if (!g_ctl)
		die("out of memory");
	memset(g_ctl, 0, sizeof(*g_ctl));
	if ((c = virtq_setup()))
		die("set-up: %s", strerror(-c));
	build_variants();
	if (opt.solo)
		return solo();
	pick_cpus();
	if (!opt.probe_only) {
		char path[4096];

		snprintf(path, sizeof(path), "%s/ring.txt", opt.outdir);
		txt = fopen(path, "w");
		if (!txt)
			die("cannot write %s: %s", path, strerror(errno));
	}
	if (pin(opt.cpu[0]))
		die("cannot pin thread A to CPU %d", opt.cpu[0]);
	if ((c = pthread_create(&th, NULL, b_main, NULL)))
		die("pthread_create: %s", strerror(c));

	if (opt.probe_only) {
		double rtt = probe();
		int cls = classify_rtt(rtt);
		struct task q = { .kind = T_QUIT };
		struct result r;

		printf("%.1f %s\n", rtt, cls == NEAR ? "near" : cls == FAR ? "far" : "disturbed");
		run_task(&q, &r);
		pthread_join(th, NULL);
		return 0;
	}
	loadavg(load0, sizeof(load0));
	cpu_jiffies(&jt0, &js0);
	order = calloc(nvar, sizeof(*order));
	if (!order)
		die("out of memory");
	seed = opt.seed;
	fprintf(stderr, "vio-bench-ring: %u variants, seed %llu, load average %s\n", nvar,
		(unsigned long long)opt.seed, load0);
	t0 = now_ns();
	for (round = 0;; round++) {
		uint32_t n = 0, cls[D_WILD + 1] = { 0 };

		if (opt.rounds && round >= opt.rounds)
			break;
		if (round && opt.seconds > 0 && (double)(now_ns() - t0) / 1e9 >= opt.seconds)
			break;
		for (uint32_t i = 0; i < nvar; i++)
			if (var[i].supported)
				order[n++] = i;
		for (uint32_t i = n; i > 1; i--) { /* Fisher-Yates */
			uint32_t j = (uint32_t)(rnd(&seed) % i), tmp = order[i - 1];

			order[i - 1] = order[j];
			order[j] = tmp;
		}
		for (uint32_t i = 0; i < n; i++) {
			struct rep *p;

			if (nreps == cap_reps) {
				cap_reps = cap_reps ? 2 * cap_reps : 256;
				reps = realloc(reps, cap_reps * sizeof(*reps));
				if (!reps)
					die("out of memory");
			}
			p = &reps[nreps];
			memset(p, 0, sizeof(*p));
			p->round = round;
			p->v = order[i];
			var[p->v].t.warm_ns = opt.warm_ns;
			var[p->v].t.run_ns = opt.rep_ns;
			p->rtt0 = probe();
			run_task(&var[p->v].t, &p->r);
			p->rtt1 = probe();
			if (p->r.err)
				die("%s: %s", var[p->v].name, p->r.err);
			p->cls = classify(p);
			cls[p->cls]++;
			nreps++;
		}
		fprintf(stderr, "round %u (%.0f s): near %u far %u mixed %u preempted %u wild %u\n",
			round, (double)(now_ns() - t0) / 1e9, cls[NEAR], cls[FAR], cls[D_MIXED],
			cls[D_PREEMPTED], cls[D_WILD]);
	}
	{
		struct task q = { .kind = T_QUIT };
		struct result r;

		run_task(&q, &r);
		pthread_join(th, NULL);
	}
	loadavg(load1, sizeof(load1));
	cpu_jiffies(&jt1, &js1);
	snprintf(load1 + strlen(load1), sizeof(load1) - strlen(load1),
		 "; host steal %.1f%% of CPU time during the run",
		 jt1 > jt0 ? 100.0 * (double)(js1 - js0) / (double)(jt1 - jt0) : 0.0);
	write_reps();
	report((double)(now_ns() - t0) / 1e9, load0, load1);
	plot();
	out("vio-bench-ring: done, %zu repetitions of %u variants\n", nreps, nvar);
	fclose(txt);
	return 0;
}
