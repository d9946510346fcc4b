/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Loopback across two processes: the parent is the driver, a forked child
 * the device. They share a memfd and two eventfds (kick, call). The parent
 * maps the memfd once; the child maps each region of it (lb.h) on its own,
 * in reverse order with holes between, at addresses unrelated to the
 * parent's, then unmaps the parent's mapping it inherited: the device can
 * only reach the memory through its struct vio_mem, whose gpa are the
 * driver's addresses. The matrix of test_lb_threads.c: {split, packed} x
 * {indirect} x {event_idx} x {in_order}, split Queue Sizes 1..32768 and
 * packed ones 1, 3, 7, 100, 255, 4096, 32768.
 *
 * Environment: as test_lb_threads.c.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
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

/* The child: map the regions anew, forget the parent's mapping, serve. */
static void __attribute__((noreturn))
child(const struct lb_params *p, const struct lb_layout *l, int memfd, uint8_t *parent_base,
      int kick, int call)
{
	struct lb_view v = { .l = l };
	size_t span = l->total + (size_t)(l->nregions + 1) * l->page;
	uint8_t *res, *at;
	uint32_t i;
	const char *e;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	alarm(600);
	/* Reserve a span while the parent's mapping is still there, so
	 * nothing we map can land on the parent's addresses. */
	res = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (res == MAP_FAILED)
		_exit(3);
	at = res + l->page;
	for (i = l->nregions; i-- > 0;) {
		void *m = mmap(at, lb_region_size(l, i), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
			       memfd, (off_t)lb_region_off(l, i));

		if (m == MAP_FAILED)
			_exit(3);
		v.hva[i] = m;
		at += lb_region_size(l, i) + l->page; /* a PROT_NONE hole after each */
	}
	if (munmap(parent_base, l->total))
		_exit(3);
	e = lb_device_run(p, &v, kick, call);
	_exit(e ? 1 : 0);
}

/* Waits up to @ms for @pid; kills it if it does not exit. Returns the wait status. */
static int reap(pid_t pid, int ms)
{
	int status = 0, i;

	for (i = 0; i < ms; i += 10) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return status;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return status;
}

struct cfg {
	uint32_t num;
	uint64_t features;
};

static void loopback_fork(void **state)
{
	const struct cfg *c = *state;
	static char err[1200];
	struct lb_params p;
	struct lb_layout l;
	struct lb_driver *d;
	struct lb_ctrl *ctrl;
	uint8_t *base;
	int memfd, kick, call, status;
	/* Fewer than in one process: this is about the mappings. */
	uint64_t def = c->num >= 4096 ? 3ull * c->num : 3000;
	const char *e;
	pid_t pid;

	lb_params_init(&p, g_seed, c->num, c->features, lb_env_buffers(def));
	lb_layout_init(&l, c->num);
	memfd = lb_memfd(&l);
	base = mmap(NULL, l.total, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	assert_true(base != MAP_FAILED);
	kick = eventfd(0, EFD_NONBLOCK);
	call = eventfd(0, EFD_NONBLOCK);
	assert_true(kick >= 0 && call >= 0);
	d = lb_driver_new(&p, &l, base, kick, call);
	ctrl = (struct lb_ctrl *)(void *)base;
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		child(&p, &l, memfd, base, kick, call);

	e = lb_driver_run(d);
	lb_driver_stop(d);
	status = reap(pid, 10000);
	if (!e && __atomic_load_n(&ctrl->dev_failed, __ATOMIC_ACQUIRE))
		e = ctrl->dev_err;
	if (!e && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
		snprintf(err, sizeof(err), "VIO_LB_SEED=%#llx num=%u %s: device process: status %#x",
			 (unsigned long long)g_seed, c->num, lb_feat_name(c->features), status);
		e = err;
	}
	if (!e)
		e = lb_driver_check_counts(d);
	if (e) {
		snprintf(err, sizeof(err), "%s", e);
		e = err;
	} else {
		print_message("num=%u %s: %llu buffers, %llu kicks, %llu calls\n", c->num,
			      lb_feat_name(c->features), (unsigned long long)p.buffers,
			      (unsigned long long)lb_driver_kicks(d), (unsigned long long)ctrl->calls);
	}
	lb_driver_free(d);
	munmap(base, l.total);
	close(memfd);
	close(kick);
	close(call);
	if (e)
		fail_msg("%s", e);
}

#define NSPLIT 16 /* 1 .. 32768 */
static const uint32_t packed_sizes[] = { 1, 3, 7, 100, 255, 4096, 32768 };
#define NPACKED (sizeof(packed_sizes) / sizeof(packed_sizes[0]))
#define NCFG    ((NSPLIT + NPACKED) * 8)

int main(void)
{
	static struct cfg cfgs[NCFG];
	static char names[NCFG][80];
	struct CMUnitTest tests[NCFG];
	unsigned i;

	g_seed = lb_env_seed();
	print_message("loopback (processes): VIO_LB_SEED=%#llx\n", (unsigned long long)g_seed);
	for (i = 0; i < NCFG; i++) {
		unsigned s = i / 8, f = i % 8;

		cfgs[i].features = (f & 1 ? F_INDIRECT : 0) | (f & 2 ? F_EVENT : 0) |
				   (f & 4 ? F_IN_ORDER : 0);
		if (s < NSPLIT) {
			cfgs[i].num = 1u << s;
		} else {
			cfgs[i].num = packed_sizes[s - NSPLIT];
			cfgs[i].features |= F_PACKED;
		}
		snprintf(names[i], sizeof(names[i]), "loopback_fork/%s/num=%u",
			 lb_feat_name(cfgs[i].features), cfgs[i].num);
		tests[i] = (struct CMUnitTest){ names[i], loopback_fork, NULL, NULL, &cfgs[i] };
	}
	return _cmocka_run_group_tests("loopback_fork", tests, NCFG, NULL, NULL);
}
