/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The virtio-blk driver (VIRTIO 1.4 §5.2): reads, writes, flushes, discards,
 * write-zeroes and the device ID, over any transport of vio/driver.h.
 *
 * A struct vio_blk_drv is one device, initialised (VIRTIO 1.4 §3.1.1) and
 * live; it has one or more request queues (struct vio_blk_drv_queue), each
 * used by one thread. Requests are asynchronous: a caller-owned record
 * (struct vio_blk_req) is submitted, and completes later, inside
 * vio_blk_drv_poll() / vio_blk_drv_wait() on that queue's thread, with its
 * result and an optional callback:
 *
 *     struct vio_blk_req r = { .done = NULL };
 *     void *buf = vio_blk_drv_buf_alloc(drv, 65536);     // DMA memory
 *     vio_blk_drv_read(q, &r, 0, buf, 65536);
 *     vio_blk_drv_wait_req(q, &r, 5000);                 // or poll/wait
 *     if (r.result) ...
 *
 * Data buffers must be in the device's DMA memory (vio_blk_drv_buf_alloc()):
 * the device reads and writes them in place. Offsets and lengths are in
 * bytes and must be multiples of 512 (VIRTIO 1.4 §5.2.6.1); a request never
 * reaches past capacity. One request is split into as many virtio requests
 * as the device's limits need: SEG_MAX segments of at most SIZE_MAX bytes
 * each (split at multiples of the logical block size), and for discard and
 * write-zeroes max_*_sectors per segment and max_*_seg segments per request.
 * At most @depth virtio requests of a queue are in flight; the rest wait in
 * the queue, in order, and go out as earlier ones complete.
 *
 * The device is hostile. Each completion is checked: a status byte other
 * than OK / IOERR / UNSUPP, a used length larger than what the device may
 * write (the ring layer breaks the queue) or, for a read or GET_ID that
 * reports OK, a used length that does not cover the data and status, fail
 * the request with -EPROTO (a used length of 0: nothing written, -EIO). A
 * broken ring fails every request of that queue with -EPROTO; a vring error
 * notification with -EIO; a device that goes away (the transport's
 * connection closes) with -ECONNRESET. After that the queue refuses new
 * requests with the same error. A device that stops answering is seen by
 * the caller's timeout (vio_blk_drv_wait_req()).
 *
 * Memory: vio_blk_drv_open() allocates everything a queue needs (rings,
 * indirect tables, a header / status block per in-flight request); nothing
 * is allocated per request.
 */
#ifndef VIO_BLK_DRV_H
#define VIO_BLK_DRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vio/driver.h"
#include "vio/virtio.h"
#include "vio/virtio_blk.h"

/* Every feature bit this driver can use (VIRTIO 1.4 §5.2.3, §6). */
#define VIO_BLK_DRV_FEATURES                                                             \
	(VIO_BIT(VIRTIO_F_VERSION_1) | VIO_BIT(VIRTIO_F_INDIRECT_DESC) |                     \
	 VIO_BIT(VIRTIO_F_EVENT_IDX) | VIO_BIT(VIRTIO_F_RING_PACKED) |                       \
	 VIO_BIT(VIRTIO_F_IN_ORDER) | VIO_BIT(VIRTIO_BLK_F_SIZE_MAX) |                       \
	 VIO_BIT(VIRTIO_BLK_F_SEG_MAX) | VIO_BIT(VIRTIO_BLK_F_GEOMETRY) |                    \
	 VIO_BIT(VIRTIO_BLK_F_RO) | VIO_BIT(VIRTIO_BLK_F_BLK_SIZE) |                         \
	 VIO_BIT(VIRTIO_BLK_F_FLUSH) | VIO_BIT(VIRTIO_BLK_F_TOPOLOGY) |                      \
	 VIO_BIT(VIRTIO_BLK_F_MQ) | VIO_BIT(VIRTIO_BLK_F_DISCARD) |                          \
	 VIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES))

/* Defaults of struct vio_blk_drv_options. */
#define VIO_BLK_DRV_QUEUE_SIZE 128u
/* The most data segments one virtio request carries (besides SEG_MAX). */
#define VIO_BLK_DRV_SEG_CAP 128u
/* The most discard / write-zeroes segments one virtio request carries. */
#define VIO_BLK_DRV_DZ_SEG_CAP 32u

/* vio_blk_drv_write_zeroes() flag: the device may unmap (VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP). */
#define VIO_BLK_DRV_UNMAP 1u

struct vio_blk_drv;       /* opaque: the device */
struct vio_blk_drv_queue; /* opaque: one request queue */

struct vio_blk_drv_options {
	/* Request queues to use; 0: as many as the device has. */
	uint16_t num_queues;
	/* Queue Size (descriptors), 4..32768; a power of two unless VIRTIO_F_RING_PACKED
	 * is negotiated (VIRTIO 1.4 §2.7, §2.8); 0: VIO_BLK_DRV_QUEUE_SIZE. */
	uint32_t queue_size;
	/* Virtio requests in flight per queue, 1..queue_size; 0: queue_size. */
	uint32_t depth;
	/* Feature bits the caller accepts (masked by VIO_BLK_DRV_FEATURES); 0: all of them. */
	uint64_t features;
};

/* What the device is, as read at open (VIRTIO 1.4 §5.2.4), in CPU byte order. */
struct vio_blk_drv_info {
	uint64_t device_features; /* offered */
	uint64_t features;        /* negotiated */
	uint64_t capacity;        /* 512-byte sectors */
	uint32_t blk_size;        /* logical block size, bytes (512 without BLK_SIZE) */
	uint32_t size_max;        /* bytes per segment; 0: no SIZE_MAX (or the device
	                             said 0: the driver then uses 4096-byte segments) */
	uint32_t seg_max;         /* segments per request; 0: no SEG_MAX */
	uint16_t cylinders;       /* geometry (GEOMETRY), else 0 */
	uint8_t heads, sectors;
	uint8_t physical_block_exp; /* topology (TOPOLOGY), else 0: log2(physical / logical) */
	uint8_t alignment_offset;   /* logical blocks */
	uint16_t min_io_size;       /* logical blocks */
	uint32_t opt_io_size;       /* logical blocks */
	uint16_t device_queues;     /* num_queues (MQ), else 1 */
	uint32_t max_discard_sectors, max_discard_seg, discard_sector_alignment; /* DISCARD */
	uint32_t max_write_zeroes_sectors, max_write_zeroes_seg;                  /* WRITE_ZEROES */
	uint8_t write_zeroes_may_unmap;
	/* What this driver uses: */
	uint16_t num_queues;    /* request queues set up */
	uint32_t queue_size;    /* descriptors per queue */
	uint32_t depth;         /* virtio requests in flight per queue */
	uint64_t max_transfer;  /* data bytes per virtio read / write request */
};

/*
 * One request, owned by the caller; it must stay valid (with its buffer)
 * until it completed: result set, complete true, done() called. Zero it
 * before the first use (or set only done / opaque).
 */
struct vio_blk_req {
	/* Set by the caller, both optional: */
	void (*done)(struct vio_blk_req *req); /* called on completion, on the queue's thread */
	void *opaque;
	/* Set at completion: */
	int result;    /* 0; -EIO (IOERR, or no status written); -ENOTSUP (UNSUPP);
	                  -EPROTO (the device broke the protocol); -ECONNRESET (gone);
	                  -ECANCELED (the driver was closed first) */
	bool complete;
	/* The driver's; do not touch. */
	struct {
		struct vio_blk_req *next;
		uint8_t type;       /* VIRTIO_BLK_T_* */
		uint32_t flags;     /* segment flags (write-zeroes unmap) */
		uint64_t offset;    /* bytes: the next piece to issue */
		uint64_t left;      /* bytes still to issue */
		uint8_t *buf;       /* the next piece's data, our address */
		uint64_t gpa;       /* and the device's */
		char *id;           /* GET_ID: where the string goes */
		uint32_t inflight;  /* virtio requests out */
		bool busy;          /* submitted, not yet completed */
		bool issued;        /* nothing left to issue */
		int error;          /* the first error of a piece */
	} priv;
};

/*
 * Initialises the device behind @ops / @t (VIRTIO 1.4 §3.1.1, §5.2.5):
 * negotiates features (wanted ∩ offered, VERSION_1 required), reads the
 * configuration, sets up the queues and sets DRIVER_OK. The transport must
 * be able to hand out DMA memory for the rings (about 2.5 KiB per queue
 * entry with indirect tables) before this is called.
 * Returns 0 and sets *out; -EINVAL for bad options or more queues asked
 * than the device has (logged); -ENOTSUP if the device is not usable
 * (no VERSION_1, FEATURES_OK refused); -EPROTO if its configuration makes
 * no sense (capacity overflowing 64-bit bytes, a segment limit below one
 * logical block); -ENOMEM; a transport error. On failure the device is
 * left FAILED (best effort) and everything is freed.
 * The transport (and its DMA memory) must outlive the driver.
 */
int vio_blk_drv_open(struct vio_blk_drv **out, const struct vio_transport_ops *ops, void *t,
		     const struct vio_blk_drv_options *o);

/*
 * Resets the device (VIRTIO 1.4 §3.3.1), completes every request still
 * in flight or waiting with -ECANCELED (their done() is called here) and
 * frees the driver (NULL is a no-op). No queue may be in use by another
 * thread. Buffers from vio_blk_drv_buf_alloc() are not freed.
 */
void vio_blk_drv_close(struct vio_blk_drv *drv);

/* The device's description and the driver's limits (valid until close). */
const struct vio_blk_drv_info *vio_blk_drv_info(const struct vio_blk_drv *drv);

/*
 * An upper bound of the DMA memory bytes vio_blk_drv_open() takes for one
 * queue of @queue_size descriptors and @depth requests in flight (rings,
 * indirect tables, request headers), to size the transport's memory.
 */
size_t vio_blk_drv_dma_size(uint32_t queue_size, uint32_t depth);

/* Request queue @i (0..num_queues-1), or NULL. */
struct vio_blk_drv_queue *vio_blk_drv_queue(struct vio_blk_drv *drv, uint16_t i);

/*
 * @len bytes of DMA memory for data buffers, aligned to 4096, zeroed; NULL
 * if there is not enough (errno ENOMEM). Any thread. Free with
 * vio_blk_drv_buf_free() (or leave it to the transport).
 */
void *vio_blk_drv_buf_alloc(struct vio_blk_drv *drv, size_t len);
void vio_blk_drv_buf_free(struct vio_blk_drv *drv, void *buf);

/*
 * Submitting. Each returns 0 when the request was taken (it completes
 * later), or a negative errno when it was not (no completion follows):
 * -EINVAL: offset or length not a multiple of 512, length 0, a range past
 * capacity, unknown flags; -EFAULT: the buffer is not wholly in DMA memory;
 * -EROFS: a write, discard or write-zeroes while VIRTIO_BLK_F_RO was
 * negotiated; -ENOTSUP: discard or write-zeroes not negotiated; -EBUSY: @req
 * is still in flight; the queue's error once it is broken or the device is
 * gone (-EPROTO, -EIO, -ECONNRESET). Offsets and lengths in bytes.
 */

/* VIRTIO_BLK_T_IN: reads [offset, offset + len) into @buf. */
int vio_blk_drv_read(struct vio_blk_drv_queue *q, struct vio_blk_req *req, uint64_t offset,
		     void *buf, size_t len);

/* VIRTIO_BLK_T_OUT: writes @buf to [offset, offset + len). */
int vio_blk_drv_write(struct vio_blk_drv_queue *q, struct vio_blk_req *req, uint64_t offset,
		      const void *buf, size_t len);

/*
 * VIRTIO_BLK_T_FLUSH: completes once every write completed before it is
 * stable (VIRTIO 1.4 §5.2.6.2). Without VIRTIO_BLK_F_FLUSH the device is
 * write-through (§5.2.5.1) and the flush completes with 0 without I/O (at
 * the next poll).
 */
int vio_blk_drv_flush(struct vio_blk_drv_queue *q, struct vio_blk_req *req);

/* VIRTIO_BLK_T_DISCARD of [offset, offset + len); read-back data is then unspecified. */
int vio_blk_drv_discard(struct vio_blk_drv_queue *q, struct vio_blk_req *req, uint64_t offset,
			uint64_t len);

/*
 * VIRTIO_BLK_T_WRITE_ZEROES of [offset, offset + len); @flags 0 or
 * VIO_BLK_DRV_UNMAP (the device may deallocate; reads still return zeroes).
 */
int vio_blk_drv_write_zeroes(struct vio_blk_drv_queue *q, struct vio_blk_req *req,
			     uint64_t offset, uint64_t len, uint32_t flags);

/*
 * VIRTIO_BLK_T_GET_ID: the device ID string into @id (21 bytes: up to 20
 * characters, always NUL-terminated), at completion.
 */
int vio_blk_drv_get_id(struct vio_blk_drv_queue *q, struct vio_blk_req *req,
		       char id[VIRTIO_BLK_ID_BYTES + 1]);

/*
 * Takes the device's completions without blocking, completes the requests
 * they finish and sends waiting pieces. Returns the number of requests
 * completed (>= 0).
 */
int vio_blk_drv_poll(struct vio_blk_drv_queue *q);

/*
 * As poll(), and if nothing completed while requests are in flight, sleeps
 * on the queue's notification fds for up to @timeout_ms (-1: no limit).
 * This is where a device that went away or broke its ring is noticed: the
 * queue's requests then complete with the error.
 * Returns the number of requests completed (0: timeout, or nothing in
 * flight); -errno if poll(2) fails.
 */
int vio_blk_drv_wait(struct vio_blk_drv_queue *q, int timeout_ms);

/*
 * Waits until @req completes, up to @timeout_ms (-1: no limit), completing
 * others of the queue on the way. Returns req->result; -ETIMEDOUT if it did
 * not complete in time (it is still in flight: keep it and its buffer, or
 * give it up with vio_blk_drv_abandon()).
 */
int vio_blk_drv_wait_req(struct vio_blk_drv_queue *q, struct vio_blk_req *req, int timeout_ms);

/*
 * Gives up on @req, submitted on @q and not completed (after a timeout: the
 * device does not answer). The driver forgets the record at once: it will
 * not complete, its done() is not called, and the caller may reuse or free
 * it (and the GET_ID string buffer). Its pieces still in the device's hands
 * keep their request slots, and the data buffer stays the device's: do not
 * free or reuse the buffer before vio_blk_drv_close(). Waiting pieces are
 * not sent. A request that is not in flight is left alone.
 */
void vio_blk_drv_abandon(struct vio_blk_drv_queue *q, struct vio_blk_req *req);

/* Requests submitted on @q and not yet completed. */
uint32_t vio_blk_drv_inflight(const struct vio_blk_drv_queue *q);

/* 0 while the queue works; the error its requests fail with once it does not. */
int vio_blk_drv_queue_error(const struct vio_blk_drv_queue *q);

#endif /* VIO_BLK_DRV_H */
