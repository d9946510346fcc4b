/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Loopback in one process: our driver (this thread) against our device
 * (another thread) over the same memory, over the whole ring feature matrix
 * {split, packed} x {indirect on/off} x {event_idx on/off} x {in_order
 * on/off}, for every split Queue Size from 1 to 32768 and packed ones of
 * every shape (1, 3, 7, 100, 255, 4096, 32768), with random chain shapes and
 * sizes; every byte and used length checked (lb.h). Then throughput runs.
 *
 * Environment: VIO_LB_SEED (the seed, printed on failure), VIO_LB_BUFFERS
 * (buffers per run), VIO_LB_SCALE (a multiple of the default buffers, for
 * long runs), VIO_LB_TIMEOUT_MS (longest wait for a notification).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "lb.h"
#include "vio/virtio.h"

#define F_INDIRECT VIO_BIT(VIRTIO_F_INDIRECT_DESC)
#define F_EVENT    VIO_BIT(VIRTIO_F_EVENT_IDX)
#define F_IN_ORDER VIO_BIT(VIRTIO_F_IN_ORDER)
#define F_PACKED   VIO_BIT(VIRTIO_F_RING_PACKED)

static uint64_t g_seed;

struct run {
	struct lb_params p;
	struct lb_layout l;
	struct lb_view v;
	uint8_t *base;
	int memfd, kick, call;
	const char *dev_err;
	double seconds;
	uint64_t kicks, calls, cb_enables, dev_enables, timeouts;
};

static void *device_thread(void *arg)
{
	struct run *r = arg;

	r->dev_err = lb_device_run(&r->p, &r->v, r->kick, r->call);
	return NULL;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs @r->p; returns NULL or why it failed (in static storage). */
static const char *run_threads(struct run *r)
{
	static char err[1200];
	struct lb_driver *d;
	pthread_t t;
	const char *e;
	struct lb_ctrl *ctrl;
	double t0;

	lb_layout_init(&r->l, r->p.num);
	r->memfd = lb_memfd(&r->l);
	r->base = mmap(NULL, r->l.total, PROT_READ | PROT_WRITE, MAP_SHARED, r->memfd, 0);
	assert_true(r->base != MAP_FAILED);
	r->kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	r->call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_true(r->kick >= 0 && r->call >= 0);
	d = lb_driver_new(&r->p, &r->l, r->base, r->kick, r->call);
	lb_view_contiguous(&r->v, &r->l, r->base);
	assert_int_equal(pthread_create(&t, NULL, device_thread, r), 0);
	t0 = now();
	e = lb_driver_run(d);
	r->seconds = now() - t0;
	lb_driver_stop(d);
	assert_int_equal(pthread_join(t, NULL), 0);
	if (!e)
		e = lb_driver_check_counts(d);
	if (!e && r->dev_err)
		e = r->dev_err;
	ctrl = (struct lb_ctrl *)(void *)r->base;
	r->kicks = lb_driver_kicks(d);
	r->cb_enables = lb_driver_cb_enables(d);
	r->calls = ctrl->calls;
	r->dev_enables = ctrl->enables;
	r->timeouts = ctrl->timeouts;
	if (e)
		snprintf(err, sizeof(err), "%s", e);
	lb_driver_free(d);
	munmap(r->base, r->l.total);
	close(r->memfd);
	close(r->kick);
	close(r->call);
	return e ? err : NULL;
}

struct cfg {
	uint32_t num;
	uint64_t features;
};

static void loopback(void **state)
{
	const struct cfg *c = *state;
	struct run *r = calloc(1, sizeof(*r));
	/* Small rings go round thousands of times in a few thousand buffers
	 * (and are the slow ones: a sleep per few buffers); mid-size ones take
	 * more than 65536 buffers, so the split 16-bit indices wrap too;
	 * large ones three times the ring. */
	uint64_t def = c->num >= 16384 ? 3ull * c->num : c->num >= 1024 ? 70000 : 8000;
	const char *e;

	assert_non_null(r);
	lb_params_init(&r->p, g_seed, c->num, c->features, lb_env_buffers(def));
	if (r->p.buffers <= c->num && !getenv("VIO_LB_BUFFERS"))
		r->p.buffers = c->num + 1ull; /* fill the ring at least once */
	e = run_threads(r);
	if (e)
		fail_msg("%s", e);
	print_message("num=%u %s: %llu buffers in %.2f s, %llu kicks, %llu calls "
		      "(device kick_enable %llu, driver cb_enable %llu)\n",
		      c->num, lb_feat_name(c->features), (unsigned long long)r->p.buffers, r->seconds,
		      (unsigned long long)r->kicks, (unsigned long long)r->calls,
		      (unsigned long long)r->dev_enables, (unsigned long long)r->cb_enables);
	free(r);
}

/* One-segment buffers, no data checks: how many buffers per second go round. */
static void throughput(void **state)
{
	const struct cfg *c = *state;
	struct run *r = calloc(1, sizeof(*r));
	const char *e;

	assert_non_null(r);
	lb_params_init(&r->p, g_seed, c->num, c->features, lb_env_buffers(2000000));
	r->p.verify = false;
	e = run_threads(r);
	if (e)
		fail_msg("%s", e);
	print_message("throughput num=%u %s: %.0f buffers/s (%llu buffers in %.3f s, %llu kicks, "
		      "%llu calls, %llu device timeouts)\n",
		      c->num, lb_feat_name(c->features), (double)r->p.buffers / r->seconds,
		      (unsigned long long)r->p.buffers, r->seconds, (unsigned long long)r->kicks,
		      (unsigned long long)r->calls, (unsigned long long)r->timeouts);
	free(r);
}

#define NSPLIT 16 /* 1 .. 32768 */
static const uint32_t packed_sizes[] = { 1, 3, 7, 100, 255, 4096, 32768 };
#define NPACKED (sizeof(packed_sizes) / sizeof(packed_sizes[0]))
#define NCFG    ((NSPLIT + NPACKED) * 8)

int main(void)
{
	static struct cfg cfgs[NCFG];
	static char names[NCFG][80];
	static struct cfg perf[4] = {
		{ 256, F_INDIRECT | F_EVENT }, { 256, 0 },
		{ 256, F_PACKED | F_INDIRECT | F_EVENT }, { 256, F_PACKED | F_IN_ORDER },
	};
	static char perf_names[4][80];
	struct CMUnitTest tests[NCFG + 4];
	unsigned i, n = 0;

	g_seed = lb_env_seed();
	print_message("loopback (threads): VIO_LB_SEED=%#llx\n", (unsigned long long)g_seed);
	for (i = 0; i < NCFG; i++) {
		unsigned s = i / 8, f = i % 8;

		/* feature bit k of f: indirect, event_idx, in_order */
		cfgs[i].features = (f & 1 ? F_INDIRECT : 0) | (f & 2 ? F_EVENT : 0) |
				   (f & 4 ? F_IN_ORDER : 0);
		if (s < NSPLIT) {
			cfgs[i].num = 1u << s;
		} else {
			cfgs[i].num = packed_sizes[s - NSPLIT];
			cfgs[i].features |= F_PACKED;
		}
		snprintf(names[i], sizeof(names[i]), "loopback/%s/num=%u",
			 lb_feat_name(cfgs[i].features), cfgs[i].num);
		tests[n++] = (struct CMUnitTest){ names[i], loopback, NULL, NULL, &cfgs[i] };
	}
	for (i = 0; i < 4; i++) {
		snprintf(perf_names[i], sizeof(perf_names[i]), "throughput/%s/num=%u",
			 lb_feat_name(perf[i].features), perf[i].num);
		tests[n++] = (struct CMUnitTest){ perf_names[i], throughput, NULL, NULL, &perf[i] };
	}
	return _cmocka_run_group_tests("loopback_threads", tests, n, NULL, NULL);
}
