/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The virtio-blk device (VIRTIO 1.4 §5.2): a disk image served to a driver
 * through device-side virtqueues.
 *
 * A struct vio_blk is the device: the image, its configuration space and
 * feature bits, plus the state shared by every queue (the sticky flush
 * error). It plugs into a transport as a struct vio_device
 * (vio_blk_device()).
 *
 * A struct vio_blk_queue serves one virtqueue from one thread: it pops
 * requests, parses them, submits the I/O to its own asynchronous engine
 * (io_uring, or a thread pool where io_uring is not allowed) and completes
 * them. Its memory is allocated once, at creation, for Queue Size requests,
 * and never grows.
 *
 * Requests (struct virtio_blk_outhdr, vio/virtio_blk.h) are checked before
 * any I/O: a request with no device-writable byte for the status is
 * completed with used length 0; a short header, a data length that is not
 * a multiple of the logical block size, a sector range past the end of the
 * disk (or overflowing), too many or malformed discard / write-zeroes
 * segments, or a write to a read-only disk complete with VIRTIO_BLK_S_IOERR;
 * unknown types, features not offered, and unknown or (for discard) unmap
 * segment flags with VIRTIO_BLK_S_UNSUPP (VIRTIO 1.4 §5.2.6.2). The queue
 * goes on in every case. Details:
 *   - "inside the disk" means sector * 512 + length <= capacity * 512, and
 *     T_IN / T_OUT offsets and lengths, and discard / write-zeroes
 *     segments, aligned to the logical block size;
 *   - a read or write of zero bytes completes OK without I/O;
 *   - GET_ID writes min(room, 20) bytes of the NUL-padded serial;
 *   - a chain with more iovecs than a request slot holds (VIO_BLK_SEG_MAX
 *     + 2 plus slack for buffers split across memory regions) is completed
 *     with used length 0;
 *   - used length: T_IN and GET_ID: data bytes + 1 on success; every other
 *     completion with a status: 1; without a status byte: 0.
 *
 * Durability (VIRTIO 1.4 §5.2.6.2, "stable writes"): VIRTIO_BLK_T_FLUSH
 * completes with OK only after fdatasync() of the image succeeded, issued
 * after the flush was popped, so every write completed before it is
 * covered. Once a sync or a write (or write zeroes) has failed, no later
 * flush on any queue reports OK, device resets included (only reopening the
 * image clears it). When VIRTIO_BLK_F_FLUSH is offered but not negotiated,
 * the device is write-through: writes use RWF_DSYNC, and discard / write
 * zeroes are followed by fdatasync() before they complete (VIRTIO 1.4
 * §5.2.6.2, stable writes, case 1).
 *
 * Threads: vio_blk_open/close and the device ops are called from the
 * transport's thread; each vio_blk_queue is used by one thread at a time;
 * queues of one device run in parallel threads.
 */
#ifndef VIO_BLK_H
#define VIO_BLK_H

#include <stdbool.h>
#include <stdint.h>

#include "vio/device.h"
#include "vio/devq.h"
#include "vio/virtio_blk.h"

enum vio_blk_aio {
	VIO_BLK_AIO_IO_URING = 0,
	VIO_BLK_AIO_THREADS = 1,
};

struct vio_blk_options {
	const char *path;            /* image: regular file or block device */
	bool read_only;              /* open O_RDONLY, offer VIRTIO_BLK_F_RO */
	uint32_t logical_block_size; /* bytes: 512, 1024, 2048 or 4096; 0 = 512 */
	const char *serial;          /* VIRTIO_BLK_T_GET_ID string, <= 20 bytes; NULL = "" */
	bool discard;                /* offer VIRTIO_BLK_F_DISCARD */
	bool write_zeroes;           /* offer VIRTIO_BLK_F_WRITE_ZEROES */
	enum vio_blk_aio aio;
	uint16_t num_queues;         /* >= 1; config num_queues with VIRTIO_BLK_F_MQ */
};

/* Limits advertised in the configuration space. */
#define VIO_BLK_SEG_MAX        126u        /* data segments per request */
#define VIO_BLK_SIZE_MAX       (1u << 20)  /* bytes per segment */
#define VIO_BLK_MAX_DISCARD_SEG 32u        /* segments per discard / write zeroes */
#define VIO_BLK_MAX_DISCARD_SECTORS (1u << 21) /* 1 GiB per segment, in 512-byte sectors */
/* The largest Queue Size a queue serves (struct vio_device max_queue_size). */
#define VIO_BLK_MAX_QUEUE_SIZE 1024u

struct vio_blk;
struct vio_blk_queue;

/*
 * Per-queue counters; owned by the queue thread, which stores each with a
 * relaxed atomic store: read them with __atomic_load_n(..., __ATOMIC_RELAXED).
 * Requests are counted by header type when they complete, errors included.
 */
struct vio_blk_stats {
	uint64_t requests;   /* completed, all types */
	uint64_t reads, writes, flushes, discards, write_zeroes, get_ids;
	uint64_t bytes_read, bytes_written;
	uint64_t errors;     /* completed with IOERR or UNSUPP, or without status */
};

/*
 * Opens the image and builds the device.
 * @opts and the strings it points to are copied; the caller keeps them.
 * The capacity is the image size in 512-byte sectors, rounded down to whole
 * logical blocks; the image is opened O_RDONLY with read_only, else O_RDWR,
 * and used through the page cache.
 * Returns 0 and sets *out; -EINVAL for bad options (NULL path, block size,
 * serial longer than 20 bytes, num_queues 0, unknown aio) or an image that
 * is neither a regular file nor a block device; -EISDIR for a directory;
 * -ENOENT if the image does not exist; -EACCES / -EROFS / -EPERM if it
 * cannot be opened for writing without read_only; -ENOTSUP if io_uring was
 * asked for and is not available (not built in, io_uring_disabled,
 * seccomp: suggest --aio=threads); other open(2), fstat(2) and
 * ioctl(BLKGETSIZE64) errors. The caller frees it with vio_blk_close().
 */
int vio_blk_open(struct vio_blk **out, const struct vio_blk_options *opts);

/*
 * Closes the image and frees the device (NULL is a no-op). Every queue must
 * be freed first: if one is alive, this logs an error and frees nothing.
 */
void vio_blk_close(struct vio_blk *blk);

/* The device, to hand to a transport. Valid until vio_blk_close(). */
struct vio_device *vio_blk_device(struct vio_blk *blk);

/* Disk size in 512-byte sectors. */
uint64_t vio_blk_capacity(const struct vio_blk *blk);

/*
 * Creates the state to serve one queue of @queue_size requests
 * (1..VIO_BLK_MAX_QUEUE_SIZE; give the ring's Queue Size), with its own I/O
 * engine: all memory (about 5 KiB per request) is allocated here. The
 * queue uses @blk, which must outlive it.
 * Returns 0 and sets *out; -EINVAL for a bad size; -ENOMEM; the engine's
 * setup error (-ENOTSUP when io_uring is not available; thread creation
 * errors).
 */
int vio_blk_queue_new(struct vio_blk *blk, uint32_t queue_size, struct vio_blk_queue **out);

/*
 * Frees a queue (NULL is a no-op). Meant for a queue with nothing in
 * flight; if I/O is still in flight it waits for it and drops the results
 * (nothing is pushed).
 */
void vio_blk_queue_free(struct vio_blk_queue *bq);

/*
 * The fd that becomes readable when I/O completes (for epoll; owned by the
 * queue); the queue thread then calls vio_blk_queue_complete(), which
 * clears it.
 */
int vio_blk_queue_event_fd(const struct vio_blk_queue *bq);

/*
 * Pops every available request of @ring and submits its I/O (requests that
 * need none, or fail validation, are completed at once). Stops early when
 * every request slot is in use (a ring larger than @queue_size); then
 * vio_blk_queue_complete() takes the rest as slots free up.
 * Pushed completions become visible to the driver only at the caller's
 * vio_devq_flush() (which also says whether to notify): call it after
 * process() and after complete().
 * Returns the number of requests taken (>= 0), or -EIO when the ring is
 * broken (the caller reports it and stops serving the queue; requests
 * already taken still complete through vio_blk_queue_complete()).
 */
int vio_blk_queue_process(struct vio_blk_queue *bq, struct vio_devq *ring);

/*
 * Reaps finished I/O and pushes the completed requests to @ring (then call
 * vio_devq_flush()). Never blocks. If process() stopped for want of slots,
 * pops more (as process() does).
 * Returns the number of requests pushed by this call (>= 0).
 */
int vio_blk_queue_complete(struct vio_blk_queue *bq, struct vio_devq *ring);

/* Requests taken from the ring and not yet pushed back. */
uint32_t vio_blk_queue_inflight(const struct vio_blk_queue *bq);

/* The queue's counters (a pointer into the queue; read without locking). */
const struct vio_blk_stats *vio_blk_queue_stats(const struct vio_blk_queue *bq);

#endif /* VIO_BLK_H */
