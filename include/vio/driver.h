/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The driver side of the device lifecycle, over any transport: device
 * initialization (VIRTIO 1.4 §3.1), feature negotiation (§2.2), the
 * configuration space with its generation count (§2.5), virtqueue set-up and
 * reset (§2.4, §3.3).
 *
 * A transport (vhost-user front-end, later mmio or pci) fills a struct
 * vio_transport_ops (designated initialisers) and a device-type driver
 * (vio/blk_drv.h) drives it through the functions below:
 *
 *     vio_driver_init(&d, ops, t);
 *     vio_driver_start(&d, wanted);            // steps 1-6: reset .. FEATURES_OK
 *     vio_driver_config_read(&d, ...);         // step 7: device-specific set-up
 *     vio_driver_queue_new(&d, i, num, ..);    //         and the virtqueues
 *     vio_driver_ok(&d);                       // step 8: DRIVER_OK, the device is live
 *     ...
 *     vio_driver_reset(&d);                    // §3.3 cleanup; then free the queues
 *
 * If a step fails the driver sets FAILED (vio_driver_fail(); start() does it
 * for its own steps) and goes no further; a reset starts over (§2.1.1).
 *
 * The device is not trusted: a device that clears FEATURES_OK, reports a
 * status with DEVICE_NEEDS_RESET, never settles its configuration
 * generation, or whose transport fails, makes these functions fail; nothing
 * here trusts a value read from the device beyond what it checks.
 *
 * Threads: the lifecycle functions are called from one thread. Each queue is
 * then used by one thread (vio/drvq.h); vio_driver_queue_kick() and
 * vio_driver_queue_fds() may be called from that thread while the lifecycle
 * thread is idle.
 */
#ifndef VIO_DRIVER_H
#define VIO_DRIVER_H

#include <stddef.h>
#include <stdint.h>

struct vio_drvq;

/* Where a virtqueue's three areas are, for the transport (VIRTIO 1.4 §2.6). */
struct vio_queue_layout {
	uint32_t num;          /* Queue Size */
	void *desc;            /* our addresses of the areas */
	void *driver;
	void *device;
	uint64_t desc_addr;    /* the device's addresses of the same areas */
	uint64_t driver_addr;
	uint64_t device_addr;
};

/* The fds a queue's owner waits on. -1 where the transport has none. */
struct vio_queue_fds {
	int call; /* readable (eventfd) on a used buffer notification; read it to clear */
	int err;  /* readable (eventfd) when the device reports the ring broken */
	int conn; /* POLLHUP / POLLERR / POLLRDHUP when the device is gone; never read it */
};

/*
 * A transport, as the driver sees it. Every function returns 0 or a negative
 * errno; an error of the transport itself (connection lost: -ECONNRESET;
 * the device broke the transport protocol: -EPROTO; no answer: -ETIMEDOUT)
 * makes the lifecycle function that called it fail with that errno.
 */
struct vio_transport_ops {
	/* Asks the device to reset (VIRTIO 1.4 §2.4); stops the queues it has set up. */
	int (*reset)(void *t);
	/* Reads / writes the device status byte (VIRTIO 1.4 §2.1). */
	int (*get_status)(void *t, uint8_t *status);
	int (*set_status)(void *t, uint8_t status);
	/* The feature bits the device offers (§2.2); transport-private bits removed. */
	int (*get_features)(void *t, uint64_t *features);
	/* The bits the driver accepts; written before FEATURES_OK. */
	int (*set_features)(void *t, uint64_t features);
	/* Copies configuration bytes [off, off + len) to @buf (no generation check). */
	int (*config_read)(void *t, uint32_t off, void *buf, uint32_t len);
	/* The configuration generation (§2.5); NULL: the transport has none (constant). */
	int (*config_generation)(void *t, uint32_t *gen);
	/* The most virtqueues the transport can set up; NULL: not known. */
	int (*max_queues)(void *t, uint16_t *n);
	/* Tells the device where virtqueue @index is (after FEATURES_OK, before DRIVER_OK). */
	int (*queue_setup)(void *t, uint16_t index, const struct vio_queue_layout *l);
	/* Available buffer notification for queue @index (VIRTIO 1.4 §2.9). */
	int (*queue_notify)(void *t, uint16_t index);
	/* The fds of queue @index (valid while the queue is set up). */
	int (*queue_fds)(void *t, uint16_t index, struct vio_queue_fds *fds);
	/*
	 * Memory the device can reach ("DMA memory"): @size bytes aligned to
	 * @align (a power of two), zeroed; *addr gets the device's address of
	 * the first byte. Returns our address, or NULL (errno set: ENOMEM).
	 */
	void *(*dma_alloc)(void *t, size_t size, size_t align, uint64_t *addr);
	/* Frees what dma_alloc returned (NULL is a no-op). */
	void (*dma_free)(void *t, void *p);
	/*
	 * The device's address of our range [p, p + len) inside one dma_alloc
	 * area. Returns 0; -EFAULT if the range is not wholly in DMA memory.
	 */
	int (*dma_addr)(void *t, const void *p, size_t len, uint64_t *addr);
};

/*
 * One device, driven. Embedded by the caller; the fields are read-only
 * outside driver.c.
 */
struct vio_driver {
	const struct vio_transport_ops *ops;
	void *t;                  /* the transport's handle, passed to ops */
	uint64_t device_features; /* offered, read by vio_driver_start() */
	uint64_t features;        /* accepted: valid once FEATURES_OK is set */
	uint8_t status;           /* the last status written */
};

/* Binds @d to transport @ops / @t. Nothing is sent. */
void vio_driver_init(struct vio_driver *d, const struct vio_transport_ops *ops, void *t);

/*
 * VIRTIO 1.4 §3.1.1 steps 1-6: resets the device and waits until its status
 * reads 0 (§2.4.2), sets ACKNOWLEDGE, then DRIVER, reads the offered
 * features, accepts @wanted ∩ offered, sets FEATURES_OK and re-reads the
 * status to check the device kept it. VIRTIO_F_VERSION_1 is required in
 * both (vio is VIRTIO 1.x only).
 * Returns 0 with d->device_features and d->features set; -ENOTSUP if
 * VERSION_1 is not offered (or not wanted) or the device cleared
 * FEATURES_OK (it does not support that subset); -EIO if the device does
 * not finish its reset (status never 0) or reports DEVICE_NEEDS_RESET;
 * a transport error. On failure FAILED is set (best effort) and the caller
 * must not go on (only a new start).
 */
int vio_driver_start(struct vio_driver *d, uint64_t wanted);

/*
 * Reads configuration bytes [off, off + len) into @buf with the generation
 * check of VIRTIO 1.4 §2.5.1: re-read until the generation is the same
 * before and after. The caller checks that the fields it reads exist (their
 * feature was offered, §2.5.1).
 * Returns 0; -EIO if the generation never settles (64 tries); -EINVAL for
 * len 0; a transport error.
 */
int vio_driver_config_read(struct vio_driver *d, uint32_t off, void *buf, uint32_t len);

/*
 * The most virtqueues the transport can set up, or 0 when it does not say
 * (the device type's configuration may). Returns 0 or a transport error.
 */
int vio_driver_max_queues(struct vio_driver *d, uint16_t *n);

/* VIRTIO 1.4 §3.1.1 step 8: sets DRIVER_OK. Returns 0 or a transport error. */
int vio_driver_ok(struct vio_driver *d);

/*
 * Sets FAILED (VIRTIO 1.4 §3.1.1: the driver gave up on the device) and
 * keeps the bits already set. Best effort: returns the transport's answer,
 * which the caller may ignore.
 */
int vio_driver_fail(struct vio_driver *d);

/*
 * Resets the device (VIRTIO 1.4 §3.3.1: before its queues are freed) and
 * waits until its status reads 0. Returns 0; -EIO if the status never reads
 * 0; a transport error (the device is gone: the queues may be freed anyway).
 */
int vio_driver_reset(struct vio_driver *d);

/* True if @d negotiated feature bit @nr. */
int vio_driver_has(const struct vio_driver *d, unsigned nr);

/* ---- virtqueues ----------------------------------------------------------- */

struct vio_driver_queue; /* opaque */

/*
 * Creates virtqueue @index of @num descriptors (VIRTIO 1.4 §3.1.1 step 7:
 * after vio_driver_start(), before vio_driver_ok()): allocates the queue
 * state (malloc) and, in DMA memory, the ring areas and, when
 * VIRTIO_F_INDIRECT_DESC was negotiated and @indirect_max > 1, @num indirect
 * tables of @indirect_max descriptors; initialises the driver-side ring
 * (vio/drvq.h) and tells the transport where it is.
 * Returns 0 and sets *out; -EINVAL if @num is not a valid Queue Size or
 * @index is beyond what the transport can set up; -ENOMEM; -ENOTSUP for a
 * ring layout not implemented; a transport error.
 */
int vio_driver_queue_new(struct vio_driver *d, uint16_t index, uint32_t num,
			 uint32_t indirect_max, struct vio_driver_queue **out);

/*
 * Frees the queue and its DMA memory (NULL is a no-op). Only after
 * vio_driver_reset() (or once the device is gone): the device must no
 * longer use the rings.
 */
void vio_driver_queue_free(struct vio_driver_queue *q);

/* The driver-side ring, for vio_drvq_*(); owned by @q. */
struct vio_drvq *vio_driver_queue_vq(struct vio_driver_queue *q);

/* The queue's index. */
uint16_t vio_driver_queue_index(const struct vio_driver_queue *q);

/*
 * Publishes what was added (vio_drvq_kick_prepare()) and notifies the device
 * if the ring says it must. Returns 0 or the transport's error.
 */
int vio_driver_queue_kick(struct vio_driver_queue *q);

/* The queue's fds (see struct vio_queue_fds). Returns 0 or a transport error. */
int vio_driver_queue_fds(struct vio_driver_queue *q, struct vio_queue_fds *fds);

/* DMA memory of the device behind @d: see struct vio_transport_ops. */
void *vio_driver_dma_alloc(struct vio_driver *d, size_t size, size_t align, uint64_t *addr);
void vio_driver_dma_free(struct vio_driver *d, void *p);
int vio_driver_dma_addr(struct vio_driver *d, const void *p, size_t len, uint64_t *addr);

#endif /* VIO_DRIVER_H */
