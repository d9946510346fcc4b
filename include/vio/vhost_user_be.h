/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The vhost-user back-end: serves one front-end connection at a time for
 * one device (QEMU docs/interop/vhost-user.rst).
 *
 * The library owns no thread and no event loop. The daemon polls
 * vio_vu_be_fd() and calls vio_vu_be_handle() when it is readable; each call
 * reads one message, validates it against the message table (payload size,
 * fd count, vring index, allowed state) and only then dispatches it.
 *
 * Queues are served by the daemon's threads. The back-end tells the daemon
 * when a queue must run and when it must stop through the queue_start /
 * queue_stop hooks, always from the thread calling vio_vu_be_handle():
 *
 *   - queue_start(q): q->ring is ready; the daemon begins serving it: wait on
 *     q->kick_fd, pop, process, push, vio_vu_queue_notify(q).
 *   - queue_stop(q): returns only once the daemon no longer touches q: no
 *     chain in flight (every popped chain pushed and flushed) and its thread
 *     parked.
 *
 * A queue runs while it is started (kick fd received), enabled
 * (SET_VRING_ENABLE 1, or no VHOST_USER_F_PROTOCOL_FEATURES) and not broken.
 * Every message that changes what a running queue uses (memory table, vring
 * fds, enable, GET_VRING_BASE, reset, disconnect) first stops it, applies
 * the change with no thread touching the queue, then starts it again if it
 * should run. A queue's device-side ring is re-initialised on each start
 * from its last available index, so the daemon must not keep ring pointers
 * across a stop.
 *
 * Ring states (vhost-user "Ring states"): stopped until SET_VRING_KICK;
 * stopped again by GET_VRING_BASE, which replies only after queue_stop()
 * drained the ring; disabled initially when protocol features are
 * negotiated, enabled otherwise. Started-and-disabled rings are not
 * processed (a block device has no side-effect-free way to process them).
 *
 * Errors: a message that breaks the protocol (unknown request, wrong size,
 * wrong fd count, vring index out of range, message in a state that does
 * not allow it) makes vio_vu_be_handle() return -EPROTO: the daemon then
 * calls vio_vu_be_disconnect(). A well-formed request that cannot be
 * carried out (a ring outside guest memory, a region that cannot be
 * mapped) is refused with a non-zero REPLY_ACK when the front-end asked for
 * one, and logged. A ring the guest corrupts marks that queue broken and
 * signals its error eventfd; other queues go on.
 */
#ifndef VIO_VHOST_USER_BE_H
#define VIO_VHOST_USER_BE_H

#include <stdbool.h>
#include <stdint.h>

#include "vio/device.h"
#include "vio/devq.h"
#include "vio/mem.h"
#include "vio/vhost_user.h"

struct vio_vu_be;

/* One virtqueue of the back-end, as the daemon sees it. */
struct vio_vu_queue {
	uint16_t index;       /* vring index */
	uint32_t num;         /* Queue Size (SET_VRING_NUM) */
	/* The three fds are set O_NONBLOCK when received: writing call_fd or
	 * err_fd never blocks, whatever the front-end passed. */
	int kick_fd;          /* eventfd the front-end kicks, -1 none (poll) */
	int call_fd;          /* eventfd to notify the guest, -1 none */
	int err_fd;           /* eventfd to report a broken ring, -1 none */
	bool started;         /* SET_VRING_KICK received, not stopped since */
	bool enabled;         /* SET_VRING_ENABLE */
	bool broken;          /* the ring was found corrupt; needs a reset */
	bool running;         /* queue_start() called and not stopped since */
	struct vio_devq *ring; /* valid while running */
	void *opaque;         /* for the daemon; the back-end never touches it */
};

struct vio_vu_be_hooks {
	/* Begin serving @q (see the top of this file). 0, or -errno to refuse. */
	int (*queue_start)(void *opaque, struct vio_vu_queue *q);
	/* Stop serving @q; return once nothing is in flight and q is untouched. */
	void (*queue_stop)(void *opaque, struct vio_vu_queue *q);
};

struct vio_vu_be_config {
	struct vio_device *device;      /* the device served; outlives the back-end */
	uint16_t num_queues;            /* queues offered (GET_QUEUE_NUM), <= device max */
	uint64_t protocol_features;     /* offered; 0 selects the default set */
	struct vio_vu_be_hooks hooks;
	void *opaque;                   /* passed to the hooks */
};

/*
 * Creates a back-end with no connection. @cfg is copied.
 * Returns 0 and sets *out; -EINVAL for a bad config; -ENOMEM.
 * The caller frees it with vio_vu_be_free().
 */
int vio_vu_be_new(struct vio_vu_be **out, const struct vio_vu_be_config *cfg);

/* Disconnects (if connected) and frees @be. */
void vio_vu_be_free(struct vio_vu_be *be);

/*
 * Takes ownership of @fd, a connected AF_UNIX stream socket to the
 * front-end. Returns 0, or -EBUSY if a connection is already attached.
 */
int vio_vu_be_attach(struct vio_vu_be *be, int fd);

/* The connection's fd to poll for input, or -1 when not connected. */
int vio_vu_be_fd(const struct vio_vu_be *be);

/*
 * Reads and handles exactly one message. Blocks until a whole message has
 * arrived (the daemon calls it when the fd is readable).
 * Returns 0; -ECONNRESET when the front-end closed the connection; -EPROTO
 * on a protocol violation; -EIO on a socket error. After any error the
 * caller disconnects.
 */
int vio_vu_be_handle(struct vio_vu_be *be);

/*
 * Drops the connection: stops every queue (queue_stop), unmaps guest memory,
 * closes every fd received and resets the device, ready for the next
 * connection. Safe to call when not connected.
 */
void vio_vu_be_disconnect(struct vio_vu_be *be);

/* Queue @index (< num_queues), or NULL. */
struct vio_vu_queue *vio_vu_be_queue(struct vio_vu_be *be, uint16_t index);

/* Number of queues offered. */
uint16_t vio_vu_be_num_queues(const struct vio_vu_be *be);

/*
 * Signals the guest that @q has used buffers (writes its call eventfd).
 * Returns 0 or -errno of write(2); 0 when there is no call fd.
 */
int vio_vu_queue_notify(struct vio_vu_queue *q);

/*
 * Reports that @q's ring is broken: marks it broken (so it is not started
 * again before a reset) and writes its error eventfd. Called by the daemon's
 * queue thread when the ring returns -EIO; the daemon then stops serving q
 * by itself. Returns 0 or -errno of write(2).
 */
int vio_vu_queue_fail(struct vio_vu_queue *q);

/*
 * Installs, once per process, a SIGBUS handler that survives a front-end
 * shrinking shared guest memory (or the inflight region) after we mapped
 * it: a fault inside such a mapping is absorbed by mapping a zero page over
 * the faulting page, and the returned eventfd becomes readable; the daemon
 * should then disconnect the front-end (vio_vu_be_disconnect()). A SIGBUS
 * anywhere else keeps its default action. Without the guard such a fault
 * kills the process.
 * Returns the eventfd (owned by the library, read it to clear it), or -errno.
 */
int vio_vu_sigbus_guard(void);

#endif /* VIO_VHOST_USER_BE_H */
