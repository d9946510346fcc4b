/* SPDX-License-Identifier: BSD-3-Clause */
/* Internal state of the virtio-blk device, shared by the device (blk.c) and its queues (blk_queue.c). */
#ifndef VIO_DEV_BLK_IMPL_H
#define VIO_DEV_BLK_IMPL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "blk_req.h"
#include "vio/blk.h"

/* The largest Queue Size a queue accepts (its request pool is this big at most). */
#define BLK_MAX_QUEUE_SIZE VIO_BLK_MAX_QUEUE_SIZE

struct vio_blk {
	struct vio_device vdev;
	struct blk_req_limits lim;       /* immutable after open */
	int fd;                          /* the image */
	enum vio_blk_aio aio;
	char serial[VIRTIO_BLK_ID_BYTES]; /* NUL-padded */
	uint64_t offered;                /* feature bits offered */
	struct virtio_blk_config config; /* built at open, little-endian, immutable */
	/*
	 * Shared by every queue thread; each access is a sequentially
	 * consistent atomic (no other ordering is relied upon).
	 */
	_Atomic uint64_t features;       /* negotiated; 0 before negotiation and after reset */
	atomic_bool failed;              /* sticky: a write or a sync failed */
	atomic_uint nqueues;             /* queues alive (vio_blk_close() checks) */
};

struct blk_aio;

/* Test hook: the I/O engine of @bq (to inject faults). */
struct blk_aio *blk_queue_aio(struct vio_blk_queue *bq);

#endif /* VIO_DEV_BLK_IMPL_H */
