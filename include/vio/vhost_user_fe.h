/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The vhost-user front-end: vio as the driver of a device that a vhost-user
 * back-end (vio-blk, qemu-storage-daemon, ...) serves over a Unix socket
 * (QEMU docs/interop/vhost-user.rst). It is a transport for vio/driver.h.
 *
 * What goes over the socket, and when:
 *
 *   connect      GET_FEATURES, GET_PROTOCOL_FEATURES, SET_PROTOCOL_FEATURES
 *                (MQ, REPLY_ACK, CONFIG, STATUS, RESET_DEVICE: what both
 *                sides have), GET_QUEUE_NUM (with MQ), SET_OWNER
 *   set_features SET_FEATURES (the driver's bits + PROTOCOL_FEATURES)
 *   config_read  GET_CONFIG
 *   DRIVER_OK    SET_MEM_TABLE (one region: the shared memory), then per
 *                queue SET_VRING_NUM / BASE (0) / ADDR / CALL / ERR / KICK
 *                and SET_VRING_ENABLE
 *   reset        GET_VRING_BASE per started queue, RESET_DEVICE (if both
 *                have it)
 *   status       SET_STATUS / GET_STATUS with VHOST_USER_PROTOCOL_F_STATUS;
 *                otherwise kept here: FEATURES_OK reads back cleared when
 *                the back-end refused SET_FEATURES (REPLY_ACK non-zero).
 * With REPLY_ACK every message without its own reply asks for one, so a
 * refusal is seen at the message that caused it.
 *
 * Shared memory: one memfd of the caller's size, mapped here, sealed against
 * shrinking (a back-end cannot make our accesses fault) and sent with
 * SET_MEM_TABLE as one region at guest-physical address
 * VIO_VU_FE_GPA_BASE. Descriptors carry guest-physical addresses
 * (VIO_VU_FE_GPA_BASE + offset); SET_VRING_ADDR carries our user addresses
 * of the rings, as the protocol says. A small allocator hands out ring
 * areas, indirect tables, request headers and data buffers from it
 * (dma_alloc of struct vio_transport_ops); its bookkeeping lives in private
 * memory, never in the shared region.
 *
 * The back-end is hostile. Every reply is checked: the request echoed, the
 * flags exactly VERSION | REPLY, the payload size exactly as expected, no
 * fds (any that come are closed), values in range (a GET_CONFIG reply for
 * the same offset and size). A back-end that disconnects (-ECONNRESET),
 * sends anything else (-EPROTO) or does not answer within the timeout
 * (-ETIMEDOUT) breaks the connection: that call and every later one returns
 * the same error (vio_vu_fe_error()). Nothing waits without a timeout.
 *
 * Threads: the connection is driven from one thread. The queue functions
 * (queue_notify, queue_fds) and the allocator may be called from queue
 * threads at the same time.
 */
#ifndef VIO_VHOST_USER_FE_H
#define VIO_VHOST_USER_FE_H

#include <stddef.h>
#include <stdint.h>

#include "vio/driver.h"

/* The guest-physical address of the first byte of the shared memory. */
#define VIO_VU_FE_GPA_BASE 0x40000000ull
/* The default timeout of connect and of each reply, in milliseconds. */
#define VIO_VU_FE_TIMEOUT_MS 5000

struct vio_vu_fe; /* opaque */

struct vio_vu_fe_options {
	/* Connect to the back-end's listening socket at this path, ... */
	const char *socket_path;
	/* ... or, when socket_path is NULL, use this connected socket (ownership passes). */
	int fd;
	/* Milliseconds for connect and for each reply; 0: VIO_VU_FE_TIMEOUT_MS. */
	int timeout_ms;
	/* Bytes of shared memory (rounded up to pages); 0: vio_vu_fe_mem_create() later. */
	size_t mem_size;
	/* Protocol features (VHOST_USER_PROTOCOL_F_* bits) to negotiate at most;
	 * 0: all this front-end implements (MQ, REPLY_ACK, CONFIG, STATUS, RESET_DEVICE). */
	uint64_t protocol_features;
};

/*
 * Connects (or takes o->fd) and runs the connection handshake above.
 * Returns 0 and sets *out (free with vio_vu_fe_close()); -EINVAL for bad
 * options (no path and no fd); -ENAMETOOLONG; connect(2) errors (-ENOENT,
 * -ECONNREFUSED, -EACCES, ...); -ETIMEDOUT; -ECONNRESET / -EPROTO if the
 * back-end hangs up or breaks the protocol during the handshake; -ENOMEM
 * (memfd, mmap). o->fd is closed on failure too.
 */
int vio_vu_fe_connect(struct vio_vu_fe **out, const struct vio_vu_fe_options *o);

/*
 * Closes the connection, the eventfds, and unmaps the shared memory (NULL is
 * a no-op). Reset the device first (vio_driver_reset()) if it is live; all
 * DMA memory handed out becomes invalid.
 */
void vio_vu_fe_close(struct vio_vu_fe *fe);

/*
 * Creates the shared memory (@size bytes, rounded up to pages), if the
 * options did not. Must happen before the first dma_alloc.
 * Returns 0; -EEXIST if it exists already; -EINVAL for size 0; -ENOMEM or
 * another memfd_create / ftruncate / mmap error.
 */
int vio_vu_fe_mem_create(struct vio_vu_fe *fe, size_t size);

/* The transport ops; pass @fe as their handle (vio_driver_init(d, ops, fe)). */
const struct vio_transport_ops *vio_vu_fe_transport(void);

/* GET_FEATURES as the back-end answered it, transport bits included. */
uint64_t vio_vu_fe_backend_features(const struct vio_vu_fe *fe);

/* The protocol features offered by the back-end, and those negotiated. */
uint64_t vio_vu_fe_protocol_offered(const struct vio_vu_fe *fe);
uint64_t vio_vu_fe_protocol_features(const struct vio_vu_fe *fe);

/* GET_QUEUE_NUM's answer (at most 256), or 0 when MQ was not negotiated. */
uint16_t vio_vu_fe_queue_num(const struct vio_vu_fe *fe);

/* 0 while the connection is good, else the negative errno that broke it. */
int vio_vu_fe_error(const struct vio_vu_fe *fe);

/* Allocator of the shared memory: see dma_alloc / dma_free / dma_addr in vio/driver.h. */
void *vio_vu_fe_alloc(struct vio_vu_fe *fe, size_t size, size_t align, uint64_t *gpa);
void vio_vu_fe_free(struct vio_vu_fe *fe, void *p);
int vio_vu_fe_gpa(struct vio_vu_fe *fe, const void *p, size_t len, uint64_t *gpa);

/*
 * The other way: our address of the device's range [gpa, gpa + len), or NULL
 * if any of it is outside one allocation (also for len 0 or an overflowing
 * end). The pointer is into shared memory: the back-end may change what it
 * points to at any time (copy, then check).
 */
void *vio_vu_fe_ptr(struct vio_vu_fe *fe, uint64_t gpa, size_t len);

#endif /* VIO_VHOST_USER_FE_H */
