/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The notification races, one buffer at a time: our driver and our device
 * ping-pong a single buffer between two busy threads, each side going to
 * "sleep" (spinning on the other's notification counter) whenever it finds
 * nothing to do. Each side also publishes what it decided after each
 * publish (index, notified or not), so the sleeper can tell at once when
 * the other side published past its request without notifying: the
 * Dekker pattern of VIRTIO 1.4 §2.7.13.4.1 / §2.7.10 (kicks) and §2.7.7
 * with the re-check of §2.7.14 (calls), whose full barriers are what this
 * test is about. A lost notification is reported immediately, not after a
 * timeout. With and without VIRTIO_F_EVENT_IDX, in both layouts (for the
 * packed ring: §2.8.21.2 and §2.8.10, the re-check of §2.8.22).
 *
 * Environment: VIO_LB_BUFFERS (round trips per run), VIO_LB_SCALE,
 * VIO_LB_TIMEOUT_MS.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "lb.h"
#include "vio/virtio.h"
#include "vio/virtio_ring.h"

#define F_EVENT VIO_BIT(VIRTIO_F_EVENT_IDX)
#define F_PACKED VIO_BIT(VIRTIO_F_RING_PACKED)
#define NUM     4
#define GPA     0x100000ull

struct race {
	uint64_t features;
	uint64_t rounds;
	int timeout_ms;
	struct vio_drvq *dq;
	struct vio_devq *vq;
	struct vio_mem *mem;
	void *desc, *avail, *used;
	uint8_t buf[64];

	/* The notifications: counters each side bumps instead of an eventfd. */
	uint64_t kicks, calls;
	/* Decision records: (index << 1) | notified, after each publish. */
	uint64_t drv_pub, dev_pub;
	uint32_t stop, failed;
	char err[256];
	/* Statistics */
	uint64_t drv_sleeps, dev_sleeps;
};

/* A short random pause, to vary how the two sides' steps interleave. */
static void jitter(uint64_t *rng)
{
	uint64_t z = (*rng += 0x9e3779b97f4a7c15ull), n;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z ^= z >> 31;
	for (n = z % 64; n; n--)
		__asm__ __volatile__("" ::: "memory");
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void race_fail(struct race *r, const char *fmt, ...)
{
	va_list ap;

	if (__atomic_exchange_n(&r->failed, 1, __ATOMIC_ACQ_REL))
		return;
	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
}

static bool failed(struct race *r)
{
	return __atomic_load_n(&r->failed, __ATOMIC_ACQUIRE);
}

/* The device: serve, then "sleep" until a kick, catching a kick the driver owed us. */
static void *device(void *arg)
{
	struct race *r = arg;
	struct iovec iov[4];
	struct vio_chain c = { .iov = iov, .iov_cap = 4 };
	uint64_t kicks = 0, rng = 2;
	uint16_t popped = 0; /* chains popped, mod 2^16: the driver's count of buffers published */

	while (!failed(r)) {
		int n;

		vio_devq_kick_disable(r->vq);
		while ((n = vio_devq_pop(r->vq, &c)) == 1) {
			int call;

			popped++;
			if (vio_devq_push(r->vq, c.id, 0)) {
				race_fail(r, "push failed");
				return NULL;
			}
			jitter(&rng);
			call = vio_devq_flush(r->vq);
			/* Our decision for the buffers used so far (one at a
			 * time: as many as were popped), then the call. */
			__atomic_store_n(&r->dev_pub, ((uint64_t)popped << 1) | (uint64_t)(call > 0),
					 __ATOMIC_RELEASE);
			if (call > 0)
				__atomic_fetch_add(&r->calls, 1, __ATOMIC_RELEASE);
		}
		if (n < 0) {
			race_fail(r, "pop: %d %s", n, vio_devq_error(r->vq));
			return NULL;
		}
		jitter(&rng);
		if (vio_devq_kick_enable(r->vq))
			continue;
		/* Asleep with kicks enabled after A buffers. */
		r->dev_sleeps++;
		{
			uint64_t a = popped;
			double t0 = now();
			unsigned spin = 0;

			for (;;) {
				uint64_t k = __atomic_load_n(&r->kicks, __ATOMIC_ACQUIRE);
				uint64_t pub;

				if (k != kicks) {
					kicks = k;
					break;
				}
				if (__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE) || failed(r))
					return NULL;
				/* The driver decided on publishing buffer A
				 * (the (A+1)th) and did not kick: lost. Kicks
				 * are bumped after the record, so re-read
				 * them first. */
				pub = __atomic_load_n(&r->drv_pub, __ATOMIC_ACQUIRE);
				if ((pub >> 1) == ((a + 1) & 0xffff) && !(pub & 1) &&
				    __atomic_load_n(&r->kicks, __ATOMIC_ACQUIRE) == kicks) {
					race_fail(r, "lost kick: the driver published buffer %llu "
						  "past our request at %llu and did not notify",
						  (unsigned long long)(pub >> 1), (unsigned long long)a);
					return NULL;
				}
				if (++spin % 1024 == 0) {
					sched_yield();
					if (now() - t0 > r->timeout_ms / 1000.0) {
						race_fail(r, "device asleep for %d ms", r->timeout_ms);
						return NULL;
					}
				}
			}
		}
	}
	return NULL;
}

/* The driver: one buffer at a time; sleep for its completion like a real driver. */
static void driver(struct race *r)
{
	struct vio_sg sg = { GPA, 64 };
	uint64_t calls = 0, i, rng = 1;
	uint16_t used = 0; /* used entries taken */

	vio_drvq_cb_disable(r->dq);
	for (i = 0; i < r->rounds && !failed(r); i++) {
		void *token;
		uint32_t len;
		int k, got;

		if (vio_drvq_add(r->dq, &sg, 1, 0, (void *)(uintptr_t)(i + 1))) {
			race_fail(r, "add failed");
			return;
		}
		jitter(&rng);
		k = vio_drvq_kick_prepare(r->dq);
		__atomic_store_n(&r->drv_pub, ((uint64_t)(uint16_t)(i + 1) << 1) | (uint64_t)k,
				 __ATOMIC_RELEASE);
		if (k)
			__atomic_fetch_add(&r->kicks, 1, __ATOMIC_RELEASE);
		for (;;) {
			got = vio_drvq_get_used(r->dq, &token, &len);
			if (got != 0)
				break;
			jitter(&rng);
			if (vio_drvq_cb_enable(r->dq))
				continue;
			/* Asleep with calls enabled at used index U. */
			r->drv_sleeps++;
			{
				double t0 = now();
				unsigned spin = 0;

				for (;;) {
					uint64_t c = __atomic_load_n(&r->calls, __ATOMIC_ACQUIRE), pub;

					if (c != calls) {
						calls = c;
						break;
					}
					if (failed(r))
						return;
					pub = __atomic_load_n(&r->dev_pub, __ATOMIC_ACQUIRE);
					if ((pub >> 1) == (uint16_t)(used + 1) && !(pub & 1) &&
					    __atomic_load_n(&r->calls, __ATOMIC_ACQUIRE) == calls) {
						race_fail(r, "lost call: the device used buffer %u "
							  "past our request at %u and did not notify",
							  (unsigned)(pub >> 1), (unsigned)used);
						return;
					}
					if (++spin % 1024 == 0) {
						sched_yield();
						if (now() - t0 > r->timeout_ms / 1000.0) {
							race_fail(r, "driver asleep for %d ms", r->timeout_ms);
							return;
						}
					}
				}
			}
			vio_drvq_cb_disable(r->dq);
		}
		if (got < 0 || token != (void *)(uintptr_t)(i + 1)) {
			race_fail(r, "get_used: %d %s", got, got < 0 ? vio_drvq_error(r->dq) : "token");
			return;
		}
		used++;
	}
}

static void notify_race(void **state)
{
	struct race *r = calloc(1, sizeof(*r));
	struct vio_drvq_config dc;
	struct vio_devq_config vc;
	struct vio_mem_region reg;
	pthread_t t;
	double t0;

	assert_non_null(r);
	r->features = *(const uint64_t *)*state | VIO_BIT(VIRTIO_F_VERSION_1);
	r->rounds = lb_env_buffers(500000);
	r->timeout_ms = lb_env_timeout_ms();
	r->dq = aligned_alloc(64, 4096);
	r->vq = aligned_alloc(64, 4096);
	r->desc = aligned_alloc(64, 4096);
	r->avail = aligned_alloc(64, 4096);
	r->used = aligned_alloc(64, 4096);
	r->mem = calloc(1, sizeof(*r->mem));
	assert_true(r->dq && r->vq && r->desc && r->avail && r->used && r->mem);
	assert_true(vio_drvq_size(NUM) <= 4096 && vio_devq_size(NUM) <= 4096);
	vio_mem_init(r->mem);
	reg = (struct vio_mem_region){ .gpa = GPA, .size = sizeof(r->buf), .uva = GPA,
				       .hva = r->buf, .fd = -1 };
	assert_int_equal(vio_mem_add(r->mem, &reg), 0);
	dc = (struct vio_drvq_config){ .num = NUM, .features = r->features, .desc = r->desc,
				       .driver = r->avail, .device = r->used };
	assert_int_equal(vio_drvq_init(r->dq, &dc), 0);
	vc = (struct vio_devq_config){ .num = NUM, .features = r->features, .desc = r->desc,
				       .driver = r->avail, .device = r->used, .mem = r->mem,
				       .base = (r->features & F_PACKED) ? 0x80008000u : 0 };
	assert_int_equal(vio_devq_init(r->vq, &vc), 0);

	assert_int_equal(pthread_create(&t, NULL, device, r), 0);
	t0 = now();
	driver(r);
	__atomic_store_n(&r->stop, 1, __ATOMIC_RELEASE);
	assert_int_equal(pthread_join(t, NULL), 0);
	if (failed(r))
		fail_msg("%s: %s", lb_feat_name(r->features), r->err);
	print_message("%s: %llu round trips in %.2f s; %llu kicks, %llu calls; the device slept "
		      "%llu times, the driver %llu\n",
		      lb_feat_name(r->features), (unsigned long long)r->rounds,
		      now() - t0, (unsigned long long)r->kicks, (unsigned long long)r->calls,
		      (unsigned long long)r->dev_sleeps, (unsigned long long)r->drv_sleeps);
	free(r->dq);
	free(r->vq);
	free(r->desc);
	free(r->avail);
	free(r->used);
	free(r->mem);
	free(r);
}

int main(void)
{
	static const uint64_t plain = 0, event = F_EVENT, pplain = F_PACKED,
			      pevent = F_PACKED | F_EVENT;
	const struct CMUnitTest tests[] = {
		{ "notify_race/split/flags", notify_race, NULL, NULL, (void *)&plain },
		{ "notify_race/split/event_idx", notify_race, NULL, NULL, (void *)&event },
		{ "notify_race/packed/flags", notify_race, NULL, NULL, (void *)&pplain },
		{ "notify_race/packed/event_idx", notify_race, NULL, NULL, (void *)&pevent },
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
