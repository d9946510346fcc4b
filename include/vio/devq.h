/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The device side of a virtqueue: take descriptor chains the driver made
 * available, hand back used buffers, and decide when to notify.
 *
 * One API for both layouts, split (VIRTIO 1.4 §2.7) and packed (§2.8); the
 * layout is the negotiated feature VIRTIO_F_RING_PACKED in the config. With
 * VIRTIO_F_IN_ORDER the queue writes used elements in the order the chains
 * were popped, whatever the order of vio_devq_push() calls, merging buffers
 * used in full into one element (§2.7.9, §2.8.8).
 *
 * Typical loop of a device (one thread per queue; a queue is not
 * thread-safe):
 *
 *     for (;;) {
 *         vio_devq_kick_disable(q);
 *         while ((r = vio_devq_pop(q, &chain)) != 0) {
 *             if (r == -EIO) -> queue broken: stop, report
 *             if (r == -ENOBUFS) -> vio_devq_push(q, chain.id, 0)
 *             else process(chain), later vio_devq_push(q, chain.id, len)
 *         }
 *         if (vio_devq_flush(q) > 0) -> notify the driver (call fd)
 *         if (!vio_devq_kick_enable(q)) -> sleep until the next kick
 *     }
 *
 * The driver is hostile. Every descriptor is copied out of shared memory
 * once and the copy validated (DESIGN.md §4); a violation of the ring rules
 * marks the queue broken: pop returns -EIO from then on and the owner is
 * expected to signal the vring error eventfd / DEVICE_NEEDS_RESET
 * (VIRTIO 1.4 §2.1.2). Broken-ring violations are:
 *   - available index more than Queue Size ahead of the last one popped;
 *   - a head (split) or buffer id (packed) out of range or already in
 *     flight; with an inflight log, also one made available again after
 *     it was pushed but before a flush published it (the driver cannot
 *     have seen it used, VIRTIO 1.4 §2.7.14, §2.8.22);
 *   - a chain longer than Queue Size links (which includes every loop), or
 *     an indirect table walked for more than len/16 links;
 *   - next out of range; INDIRECT without VIRTIO_F_INDIRECT_DESC; INDIRECT
 *     together with NEXT (packed: INDIRECT anywhere in a list of more than
 *     one descriptor); an indirect descriptor inside an indirect table;
 *     an indirect table whose length is 0, not a multiple of 16 or above
 *     16 * 32768;
 *   - a device-readable descriptor after a device-writable one
 *     (VIRTIO 1.4 §2.7.4.2);
 *   - a buffer or table outside guest memory, or a chain whose total
 *     length exceeds 2^32 bytes (VIRTIO 1.4 §2.7.5.2).
 * A chain that is valid but needs more iovecs than the caller supplied is a
 * request error, not a ring error: pop returns -ENOBUFS with chain->id set,
 * and the caller completes it (usually with length 0) so it is not leaked.
 *
 * Memory: the caller allocates vio_devq_size(num) bytes (aligned to 8) for
 * the queue state and owns the ring memory, the iovec arrays and the
 * guest memory table. Nothing here allocates, blocks or makes a syscall.
 */
#ifndef VIO_DEVQ_H
#define VIO_DEVQ_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vio/mem.h"

struct vio_devq; /* opaque; storage supplied by the caller */

struct vio_devq_config {
	/* Queue Size in descriptors: split: a power of two in 1..32768;
	 * packed: any value in 1..32768. */
	uint32_t num;
	/* The negotiated feature bits (VIRTIO_F_* of vio/virtio.h). */
	uint64_t features;
	/*
	 * Our addresses of the three areas, each wholly mapped:
	 *   split: desc = descriptor table (16-aligned, 16 * num bytes),
	 *          driver = available ring (2-aligned, 6 + 2 * num bytes),
	 *          device = used ring (4-aligned, 6 + 8 * num bytes);
	 *   packed: desc = descriptor ring (16-aligned, 16 * num bytes),
	 *          driver = driver event suppression (4-aligned, 4 bytes),
	 *          device = device event suppression (4-aligned, 4 bytes).
	 */
	void *desc;
	void *driver;
	void *device;
	/* Guest memory the descriptors address; must outlive the queue. */
	const struct vio_mem *mem;
	/*
	 * Where to start, as vhost-user VHOST_USER_SET_VRING_BASE carries it:
	 * split: bits 0-15 = next available index to pop; the used index is
	 * read from the used ring. Packed: bits 0-14 the next available ring
	 * position, bit 15 its wrap counter, bits 16-30 the next used ring
	 * position, bit 31 its wrap counter (a fresh ring: 0x80008000).
	 */
	uint32_t base;
	/*
	 * Optional inflight log (vhost-user "Inflight I/O tracking"): this
	 * queue's part of the region shared through
	 * VHOST_USER_GET/SET_INFLIGHT_FD, vio_devq_inflight_size(num) bytes,
	 * 8-aligned; NULL for none. A region written by an earlier run is
	 * validated at init, then its chains still in flight are popped again
	 * before any new one, in the order they were first popped.
	 */
	void *inflight;
	size_t inflight_size;
};

/* A descriptor chain popped from the queue. */
struct vio_chain {
	/* Supplied by the caller before pop: */
	struct iovec *iov; /* room for iov_cap iovecs */
	uint32_t iov_cap;
	/* Filled by pop: */
	uint16_t id;        /* head index (split) / buffer id (packed): give it back to push */
	uint16_t ndesc;     /* descriptors the chain took in the ring */
	uint32_t nout;      /* device-readable iovecs: iov[0 .. nout-1] */
	uint32_t nin;       /* device-writable iovecs: iov[nout .. nout+nin-1] */
	uint64_t out_bytes; /* total device-readable bytes */
	uint64_t in_bytes;  /* total device-writable bytes */
	/* 1 when the chain is valid but needs more than iov_cap iovecs
	 * (vio_devq_pop() returns -ENOBUFS for it): iov contents are
	 * unspecified, the chain is in flight all the same. */
	uint8_t truncated;
};

/* A used element to hand back (VIRTIO 1.4 §2.7.8 struct virtq_used_elem). */
struct vio_used {
	uint16_t id;  /* vio_chain.id of a chain in flight */
	uint32_t len; /* bytes written into its device-writable part */
};

/* Bytes of caller storage for a queue of @num descriptors (0 if num is 0 or > 32768). */
size_t vio_devq_size(uint32_t num);

/* Bytes of inflight log for a queue of @num descriptors, either layout, a multiple of 64. */
size_t vio_devq_inflight_size(uint32_t num);

/*
 * Initialises the queue in @q (vio_devq_size(cfg->num) bytes) from @cfg.
 * Reads the used index from the used ring (split).
 * Returns 0; -EINVAL if num is not a valid Queue Size for the layout, an area
 * is NULL or misaligned, or base is out of range.
 */
int vio_devq_init(struct vio_devq *q, const struct vio_devq_config *cfg);

/*
 * Points the queue at another guest memory table (after the owner changed
 * the memory map while the queue was idle).
 */
void vio_devq_set_mem(struct vio_devq *q, const struct vio_mem *mem);

/*
 * Pops the next available chain into @c (VIRTIO 1.4 §2.7.13 from the device's
 * side: avail ring, then the chain, direct and indirect).
 * Returns 1 with @c filled; 0 if nothing is available; -ENOBUFS if the chain
 * is valid but needs more than c->iov_cap iovecs (c->id and c->ndesc are set,
 * the chain is in flight, iov contents are unspecified); -EIO if the queue is
 * or has just become broken (see vio_devq_error()).
 */
int vio_devq_pop(struct vio_devq *q, struct vio_chain *c);

/*
 * Pops up to @n chains into c[0], c[1], ... (each with its own iov and
 * iov_cap), as that many vio_devq_pop() calls would, in ring order: the
 * same validation, the same chains. A chain that needs more iovecs than its
 * iov_cap is popped with c[i].truncated set (vio_devq_pop() would return
 * -ENOBUFS): complete it like any other.
 * Returns the number popped, 1..n, and stops early when nothing more is
 * available or the next chain breaks the queue (the queue is then broken:
 * complete the chains popped, the next call returns -EIO); 0 if nothing is
 * available (or @n is 0); -EIO if the queue is or has just become broken
 * with nothing popped. The chains are the caller's, as for vio_devq_pop().
 * With VIRTIO_F_RING_PACKED, buffers of one direct descriptor are taken in
 * one tight loop: the fast path of a burst (bench/ring).
 */
int vio_devq_pop_burst(struct vio_devq *q, struct vio_chain *c, uint32_t n);

/*
 * Marks chain @id used, having written @len bytes into its device-writable
 * part (clamped to the chain's writable size). The used element becomes
 * visible to the driver at the next vio_devq_flush().
 * Returns 0; -EINVAL if @id is not in flight (a caller bug); -EIO if the
 * queue is broken (nothing is written to the ring).
 */
int vio_devq_push(struct vio_devq *q, uint16_t id, uint32_t len);

/*
 * Marks the chains u[0 .. n-1] used, in that order, as that many
 * vio_devq_push() calls would (visible at the next vio_devq_flush()).
 * Returns n; k < n when u[k] is not in flight (a caller bug: u[k] and the
 * ones after it are not pushed); -EIO if the queue is broken (the chains
 * before the first not in flight are no longer in flight; nothing is
 * written to the ring).
 */
int vio_devq_push_burst(struct vio_devq *q, const struct vio_used *u, uint32_t n);

/*
 * Publishes every element pushed since the last flush (one store of the used
 * index) and applies used buffer notification suppression
 * (VIRTIO 1.4 §2.7.7.2: flags without VIRTIO_F_EVENT_IDX, used_event with it).
 * Returns 1 if the driver must be notified, 0 if not (or nothing was pushed).
 */
int vio_devq_flush(struct vio_devq *q);

/*
 * Available buffer notification suppression (VIRTIO 1.4 §2.7.10.2).
 * kick_disable() asks the driver not to notify (VIRTQ_USED_F_NO_NOTIFY
 * without EVENT_IDX; with EVENT_IDX nothing is written, avail_event simply
 * stays behind). kick_enable() asks for a notification at the next buffer
 * and then re-checks the ring: it returns 1 if buffers are already
 * available (keep polling), 0 if the caller may sleep until the next kick.
 */
void vio_devq_kick_disable(struct vio_devq *q);
int vio_devq_kick_enable(struct vio_devq *q);

/*
 * The vhost-user vring base to report for VHOST_USER_GET_VRING_BASE (the
 * encoding of vio_devq_config.base). Meaningful once nothing is in flight
 * and the last push was flushed.
 */
uint32_t vio_devq_base(const struct vio_devq *q);

/* Chains popped and not yet pushed. */
uint32_t vio_devq_inflight(const struct vio_devq *q);

/* Chains the inflight log handed back at init, to be popped again (0 without a log). */
uint32_t vio_devq_recovered(const struct vio_devq *q);

/* The reason the queue is broken, or NULL while it is not. */
const char *vio_devq_error(const struct vio_devq *q);

#endif /* VIO_DEVQ_H */
