/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The driver side of a virtqueue: make buffers available to a device, decide
 * when to notify it, and take back used buffers.
 *
 * One API for both layouts, split (VIRTIO 1.4 §2.7) and packed (§2.8); the
 * layout is the negotiated feature VIRTIO_F_RING_PACKED in the config. The
 * ring features VIRTIO_F_INDIRECT_DESC, VIRTIO_F_EVENT_IDX and
 * VIRTIO_F_IN_ORDER are honoured in both.
 *
 * Packed ring, as the driver keeps it:
 *
 *     next_used          (published)         next_avail
 *     v                                      v
 *   [ used.. | avail avail avail | added added | free free ... ]  (a circle)
 *
 * Buffer ids are < num, from the driver's own free-id list; each buffer
 * takes the next descriptors in ring order (one with an indirect table),
 * the id in each, the flags of its first descriptor written last
 * (§2.8.21.1). The first descriptor of the first buffer added since the
 * last kick_prepare() is made available by kick_prepare() itself, so the
 * device sees a batch at once. The device writes one used descriptor per
 * buffer (§2.8.6), in the order it completes them; the driver reads them
 * in ring order at next_used and skips by the length of the buffer's list.
 *
 * VIRTIO_F_IN_ORDER: the split driver takes descriptors in ring order
 * (§2.7.5, next = x + 1 wrapping to 0); in both layouts one used element
 * may stand for a batch of buffers, in the order they were made available,
 * ending with the one it names (§2.7.9, §2.8.8). get_used then hands out the
 * batch one buffer per call, the skipped ones with their device-writable
 * size as length (they were used in full).
 *
 * Typical use (one thread per queue; a queue is not thread-safe):
 *
 *     vio_drvq_add(q, sg, nout, nin, token);      // as many as fit
 *     if (vio_drvq_kick_prepare(q) > 0) notify the device (kick fd)
 *     ... wait for the call fd ...
 *     vio_drvq_cb_disable(q);
 *     do {
 *         while ((r = vio_drvq_get_used(q, &token, &len)) == 1) complete(token, len);
 *         if (r == -EIO) -> the device broke the ring: fail everything
 *     } while (vio_drvq_cb_enable(q));   // re-arm, re-check
 *
 * The device is not trusted either. The driver keeps its own record of every
 * descriptor it made available (the chain or list of each id, its token, how
 * many bytes of it are device-writable, the order they were made available)
 * and never reads back what it wrote to the shared descriptor table or ring.
 * What marks the queue broken (get_used returns -EIO from then on, and the
 * tokens still in flight can be taken back with vio_drvq_detach() to fail
 * them):
 *   - a used element / descriptor naming an id out of range or not in
 *     flight (unknown, not yet published, or completed twice);
 *   - a used length larger than the buffer's device-writable part (packed:
 *     the length of a used descriptor without VIRTQ_DESC_F_WRITE is 0);
 *   - split: a used index more than the buffers made available ahead; with
 *     IN_ORDER, a batch longer than the used index moved;
 *   - packed: a descriptor at the next used position whose AVAIL / USED
 *     flags match neither ours (available) nor a used one of the expected
 *     wrap counter, or a used one where nothing was made available.
 * Nothing outside the ring areas, the indirect tables and the queue state
 * is ever read or written.
 *
 * Memory: the caller allocates vio_drvq_size(num) bytes (aligned to 8) for the
 * queue state, and the ring areas (vio_drvq_area_size()) and optional
 * indirect tables in memory the device can reach. The queue gets our address
 * of each ring area (the device's addresses of those are the transport's
 * business) and both addresses of the indirect tables, which it writes into
 * descriptors. Nothing here allocates, blocks or makes a syscall.
 */
#ifndef VIO_DRVQ_H
#define VIO_DRVQ_H

#include <stddef.h>
#include <stdint.h>

struct vio_drvq; /* opaque; storage supplied by the caller */

/* One buffer segment as the device addresses it. */
struct vio_sg {
	uint64_t addr; /* device address (guest-physical) */
	uint32_t len;  /* bytes, > 0 */
};

/* One buffer for vio_drvq_add_burst(): the arguments of vio_drvq_add(). */
struct vio_drvq_buf {
	const struct vio_sg *sg; /* nout + nin segments, readable ones first */
	uint32_t nout;
	uint32_t nin;
	void *token;
};

enum vio_drvq_area {
	VIO_DRVQ_DESC,   /* descriptor table / descriptor ring */
	VIO_DRVQ_DRIVER, /* available ring / driver event suppression */
	VIO_DRVQ_DEVICE, /* used ring / device event suppression */
};

struct vio_drvq_config {
	/* Queue Size in descriptors: split: a power of two in 1..32768;
	 * packed: any value in 1..32768. */
	uint32_t num;
	/* The negotiated feature bits (VIRTIO_F_* of vio/virtio.h). */
	uint64_t features;
	/* Our addresses of the three areas (vio_drvq_area_size() bytes each,
	 * aligned as vio_drvq_area_align() says); init zeroes them. */
	void *desc;
	void *driver;
	void *device;
	/*
	 * Optional indirect tables, used when VIRTIO_F_INDIRECT_DESC was
	 * negotiated and a buffer has more than one segment: num tables of
	 * indirect_max descriptors (16 bytes each), contiguous, 16-aligned, at
	 * our address @indirect and the device's address @indirect_addr.
	 * indirect NULL or indirect_max 0: never indirect.
	 */
	void *indirect;
	uint64_t indirect_addr;
	uint32_t indirect_max;
};

/* Bytes of caller storage for a queue of @num descriptors (0 if num is 0 or > 32768). */
size_t vio_drvq_size(uint32_t num);

/* Bytes and alignment of ring area @a for Queue Size @num and @features (0 if invalid). */
size_t vio_drvq_area_size(uint32_t num, uint64_t features, enum vio_drvq_area a);
size_t vio_drvq_area_align(uint64_t features, enum vio_drvq_area a);

/*
 * Initialises the queue in @q (vio_drvq_size(cfg->num) bytes) and zeroes the
 * ring areas (VIRTIO 1.4 §2.7.10.1: used flags start at 0; §2.8.13: the
 * descriptor ring is zero-initialized, and both event suppression
 * structures read RING_EVENT_FLAGS_ENABLE). Both packed wrap counters start
 * at 1 (§2.8.1): a vhost-user back-end gets the vring base 0x80008000.
 * Returns 0; -EINVAL if num is not a valid Queue Size for the layout, an area
 * is NULL or misaligned, or the indirect tables (when given) are not
 * 16-aligned at both addresses or their end overflows.
 */
int vio_drvq_init(struct vio_drvq *q, const struct vio_drvq_config *cfg);

/*
 * Makes one buffer available: segments sg[0 .. nout-1] device-readable, then
 * sg[nout .. nout+nin-1] device-writable (VIRTIO 1.4 §2.7.13.1, §2.8.21.1).
 * Uses an indirect table when there is more than one segment, one is
 * configured and nout + nin <= indirect_max; otherwise a chain (split) or
 * list (packed) of nout + nin descriptors.
 * The device sees it after the next vio_drvq_kick_prepare().
 * Returns 0; -ENOSPC if there are not enough free descriptors (try again
 * after taking used buffers); -EINVAL for no segments, a zero-length
 * segment, a segment whose end overflows 64 bits, more segments than the
 * queue size (also through an indirect table: VIRTIO 1.4 §2.7.5.3.1), or
 * more than 2^32 bytes in total (VIRTIO 1.4 §2.7.5.2); -EIO if the queue is
 * broken. Nothing is written on failure. @token may be NULL; the queue
 * never dereferences it.
 */
int vio_drvq_add(struct vio_drvq *q, const struct vio_sg *sg, uint32_t nout, uint32_t nin,
		 void *token);

/*
 * Adds b[0], b[1], ... in that order, as that many vio_drvq_add() calls
 * would, and stops at the first that vio_drvq_add() would refuse (no room,
 * invalid: nothing of it is written).
 * Returns the number added, 1..n; when b[0] itself is refused, what
 * vio_drvq_add() returns for it (-ENOSPC, -EINVAL, -EIO). @n of 0 returns 0.
 * With VIRTIO_F_RING_PACKED, buffers of one segment are written in one
 * tight loop: the fast path of a burst (bench/ring).
 */
int vio_drvq_add_burst(struct vio_drvq *q, const struct vio_drvq_buf *b, uint32_t n);

/*
 * Publishes the buffers added since the last call (split: one store of the
 * available index, VIRTIO 1.4 §2.7.13.3; packed: one store of the flags of
 * the first descriptor they took, §2.8.21.1) and applies available buffer
 * notification suppression (split §2.7.10.1: used flags without
 * VIRTIO_F_EVENT_IDX, avail_event with it; packed §2.8.10: the device event
 * suppression structure, RING_EVENT_FLAGS_DESC with EVENT_IDX only).
 * Returns 1 if the device must be notified, 0 if not (also when nothing was
 * added, or the queue is broken: nothing is published).
 */
int vio_drvq_kick_prepare(struct vio_drvq *q);

/*
 * Takes the next used buffer: its token and the bytes the device reports it
 * wrote (VIRTIO 1.4 §2.7.14, §2.8.22). Its descriptors are free again.
 * Returns 1; 0 if none is used; -EIO if the queue is or has just become
 * broken (see vio_drvq_error()).
 * get_used writes nothing to shared memory: it does not re-arm used buffer
 * notifications. Before waiting for one, call vio_drvq_cb_enable() and wait
 * only if it returned 0.
 */
int vio_drvq_get_used(struct vio_drvq *q, void **token, uint32_t *len);

/*
 * Takes up to @n used buffers, as that many vio_drvq_get_used() calls
 * would: token[i] and len[i] for each, oldest first.
 * Returns the number taken, 1..n, and stops early when no more is used or
 * the next used element breaks the queue (the queue is then broken: the
 * buffers taken are the caller's, the next call returns -EIO); 0 if none is
 * used (or @n is 0); -EIO if the queue is or has just become broken with
 * nothing taken. @token and @len have room for @n entries each.
 */
int vio_drvq_get_used_burst(struct vio_drvq *q, void **token, uint32_t *len, uint32_t n);

/*
 * Used buffer notification suppression (VIRTIO 1.4 §2.7.7.1; packed §2.8.10,
 * the driver event suppression structure: RING_EVENT_FLAGS_DISABLE, ENABLE,
 * or with EVENT_IDX DESC naming the next used position). cb_disable() asks
 * the device not to interrupt. cb_enable() asks for an interrupt at the
 * next used buffer and then re-checks: it returns 1 if used buffers are
 * already there (take them first, also the rest of an IN_ORDER batch, or a
 * device lie get_used will report), 0 if the caller may wait (also when the
 * queue is broken, so the loop above ends).
 * Notifications are hints (VIRTIO 1.4 §2.7.7): one may still arrive while
 * disabled, or with nothing new to take.
 */
void vio_drvq_cb_disable(struct vio_drvq *q);
int vio_drvq_cb_enable(struct vio_drvq *q);

/* Free descriptors. */
uint32_t vio_drvq_num_free(const struct vio_drvq *q);

/* Buffers made available and not yet taken back. */
uint32_t vio_drvq_inflight(const struct vio_drvq *q);

/*
 * Takes back one buffer still in flight, whatever the device did with it,
 * to fail it (after the device was stopped or broke the ring); its
 * descriptors are free again. Returns 1 with *token set, 0 when nothing is
 * left in flight. Each token comes back exactly once.
 * The rings still name a detached buffer, so detaching one marks the queue
 * broken ("buffers detached") if it was not already: initialise it again
 * (vio_drvq_init(), after the device's ring was reset) to go on.
 */
int vio_drvq_detach(struct vio_drvq *q, void **token);

/* The reason the queue is broken, or NULL while it is not. */
const char *vio_drvq_error(const struct vio_drvq *q);

#endif /* VIO_DRVQ_H */
