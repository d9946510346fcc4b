/* SPDX-License-Identifier: BSD-3-Clause */
/* One thread per virtqueue: kick, process, complete, notify, drain on stop. */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "qthread.h"
#include "vio/log.h"

int qthread_init(struct qthread *t, const struct qthread_ops *ops, void *dev)
{
	memset(t, 0, sizeof(*t));
	t->ops = ops;
	t->dev = dev;
	t->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	return t->stop_fd < 0 ? -errno : 0;
}

void qthread_destroy(struct qthread *t)
{
	if (t->alive)
		qthread_queue_stop(NULL, t->q);
	if (t->qstate)
		t->ops->destroy(t->qstate);
	t->qstate = NULL;
	if (t->stop_fd >= 0)
		close(t->stop_fd);
	t->stop_fd = -1;
}

struct run {
	struct qthread *t;
	struct vio_devq *ring;
	bool popping;  /* false once stopping or broken */
	bool stopping;
};

static void flush_notify(struct run *r)
{
	if (vio_devq_flush(r->ring) > 0) {
		vio_vu_queue_notify(r->t->q);
		atomic_fetch_add_explicit(&r->t->notifies, 1, memory_order_relaxed);
	}
}

/*
 * Pops until the ring is empty with kicks re-enabled (no lost wake-up).
 * process() takes a bounded batch: what completed is published (and the
 * driver notified, if it asked) after each, so the driver refills the ring
 * while the rest is served. Kicks stay off (with EVENT_IDX: avail_event is
 * not moved) until the ring is found empty.
 */
static void serve(struct run *r)
{
	struct qthread *t = r->t;
	bool rechecked = false;

	while (r->popping) {
		int n;

		vio_devq_kick_disable(r->ring);
		n = t->ops->process(t->qstate, r->ring);
		if (n < 0) {
			vio_err("queue %u: %s; the front-end must reset the device", t->q->index,
				vio_devq_error(r->ring));
			vio_vu_queue_fail(t->q);
			r->popping = false;
			break;
		}
		flush_notify(r);
		if (n > 0) {
			rechecked = false;
			continue;
		}
		/* Available but not taken (no free request slot): complete() resumes. */
		if (rechecked)
			break;
		if (!vio_devq_kick_enable(r->ring))
			break;
		rechecked = true;
	}
	flush_notify(r);
}

static void drain_eventfd(int fd)
{
	eventfd_t v;

	if (fd >= 0)
		(void)eventfd_read(fd, &v);
}

static int add_fd(int ep, int fd, uint32_t tag, uint32_t flags)
{
	struct epoll_event ev = { .events = EPOLLIN | flags, .data.u32 = tag };

	return fd < 0 ? 0 : epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

enum { EV_STOP, EV_KICK, EV_IO };

static void *qthread_main(void *arg)
{
	struct run r = { .t = arg, .popping = true };
	struct qthread *t = r.t;
	int ep = epoll_create1(EPOLL_CLOEXEC), io_fd = t->ops->event_fd(t->qstate);

	r.ring = t->q->ring;
	/*
	 * The kick eventfd is edge-triggered and never read: every write to an
	 * eventfd wakes its waiters, so each kick is a new edge, and a read per
	 * kick would be a system call for nothing (the count cannot overflow:
	 * 2^64 - 2 kicks).
	 */
	if (ep < 0 || add_fd(ep, t->stop_fd, EV_STOP, 0) ||
	    add_fd(ep, t->q->kick_fd, EV_KICK, EPOLLET) || add_fd(ep, io_fd, EV_IO, 0)) {
		vio_err("queue %u: epoll: %s", t->q->index, strerror(errno));
		r.popping = false;
	}
	/* Buffers may already wait (a restart, a reconnection): serve them now. */
	serve(&r);
	while (!(r.stopping && t->ops->inflight(t->qstate) == 0)) {
		struct epoll_event evs[4];
		/* Without a kick fd the ring is polled (vhost-user "invalid FD flag"). */
		int timeout = (t->q->kick_fd < 0 && r.popping) ? 1 : -1;
		int n = ep < 0 ? 0 : epoll_wait(ep, evs, 4, timeout);

		if (ep < 0)
			nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
		for (int i = 0; i < n; i++) {
			switch (evs[i].data.u32) {
			case EV_STOP:
				drain_eventfd(t->stop_fd);
				r.stopping = true;
				r.popping = false;
				break;
			case EV_KICK:
				atomic_fetch_add_explicit(&t->kicks, 1, memory_order_relaxed);
				serve(&r);
				break;
			case EV_IO:
				t->ops->complete(t->qstate, r.ring);
				flush_notify(&r);
				break;
			}
		}
		if (n == 0 && t->q->kick_fd < 0)
			serve(&r);
	}
	flush_notify(&r);
	if (ep >= 0)
		close(ep);
	return NULL;
}

int qthread_queue_start(void *opaque, struct vio_vu_queue *q)
{
	struct qthread *t = q->opaque;
	int r;

	(void)opaque;
	if (t->qstate && t->qstate_num != q->num) {
		t->ops->destroy(t->qstate);
		t->qstate = NULL;
	}
	if (!t->qstate) {
		t->qstate = t->ops->create(t->dev, q->num);
		if (!t->qstate) {
			vio_err("queue %u: cannot set up the device state for %u requests", q->index,
				q->num);
			return -ENOMEM;
		}
		t->qstate_num = q->num;
	}
	t->q = q;
	drain_eventfd(t->stop_fd);
	r = pthread_create(&t->tid, NULL, qthread_main, t);
	if (r) {
		vio_err("queue %u: cannot start its thread: %s", q->index, strerror(r));
		return -r;
	}
	t->alive = true;
	return 0;
}

void qthread_queue_stop(void *opaque, struct vio_vu_queue *q)
{
	struct qthread *t = q->opaque;

	(void)opaque;
	if (!t->alive)
		return;
	(void)eventfd_write(t->stop_fd, 1);
	pthread_join(t->tid, NULL);
	t->alive = false;
}
