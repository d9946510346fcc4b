/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One thread per virtqueue: the vhost-user back-end's queue_start /
 * queue_stop hooks, generic over the device type (daemon code, not libvio).
 *
 * The thread waits on the queue's kick eventfd, its device's completion fd
 * and a stop eventfd. On a kick it pops and processes everything available
 * with kick notifications suppressed, re-enables them and re-checks
 * (VIRTIO 1.4 §2.7.10); on completions it pushes, flushes once per batch and
 * notifies the guest when the ring asks for it. On stop it pops nothing
 * more, waits for the requests in flight, flushes, notifies and exits:
 * qthread_stop() returns only then.
 */
#ifndef VIO_DAEMON_QTHREAD_H
#define VIO_DAEMON_QTHREAD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "vio/vhost_user_be.h"

/* What a device type provides to serve one queue. */
struct qthread_ops {
	/* Per-queue device state for Queue Size @num; NULL on failure. */
	void *(*create)(void *dev, uint32_t num);
	void (*destroy)(void *qstate);
	/* fd readable when I/O completed, or -1. */
	int (*event_fd)(void *qstate);
	/* Pop and start everything available: count, or -EIO when the ring is broken. */
	int (*process)(void *qstate, struct vio_devq *ring);
	/* Push whatever completed: count. */
	int (*complete)(void *qstate, struct vio_devq *ring);
	uint32_t (*inflight)(void *qstate);
};

struct qthread {
	const struct qthread_ops *ops;
	void *dev;
	struct vio_vu_queue *q;
	void *qstate;          /* kept across starts while the Queue Size is unchanged */
	uint32_t qstate_num;
	pthread_t tid;
	int stop_fd;           /* eventfd: stop request */
	bool alive;
	_Atomic uint64_t notifies; /* used buffer notifications sent */
	_Atomic uint64_t kicks;    /* kicks received */
};

/* Prepares @t (no thread yet). 0 or -errno. */
int qthread_init(struct qthread *t, const struct qthread_ops *ops, void *dev);
/* Stops the thread if running and frees the device state. */
void qthread_destroy(struct qthread *t);

/* The vio_vu_be hooks; @opaque is ignored, the qthread is q->opaque. */
int qthread_queue_start(void *opaque, struct vio_vu_queue *q);
void qthread_queue_stop(void *opaque, struct vio_vu_queue *q);

#endif /* VIO_DAEMON_QTHREAD_H */
