/* SPDX-License-Identifier: BSD-3-Clause */
/* The virtio-blk driver's internals, shared by its files. */
#ifndef VIO_DRV_BLK_DRV_IMPL_H
#define VIO_DRV_BLK_DRV_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include "vio/blk_drv.h"
#include "vio/driver.h"
#include "vio/drvq.h"

/*
 * One virtio request's block in DMA memory, laid out so that the
 * device-readable part (header, then discard / write-zeroes segments) and
 * the device-writable part (ID string, then status) are each contiguous:
 *
 *   0        header (16)
 *   16       segments (16 * dz_segs)
 *   ...      id (20) | status (1)     <- id_off
 */
struct blk_slot {
	struct vio_blk_req *req; /* the request this piece belongs to; NULL when free */
	uint8_t *dma;            /* our address of the block */
	uint64_t gpa;            /* the device's */
	uint32_t data_len;       /* data bytes of this piece (read / write) */
	uint32_t writable;       /* device-writable bytes: data (IN, GET_ID) + status */
	struct blk_slot *next_free;
};

struct vio_blk_drv_queue {
	struct vio_blk_drv *drv;
	struct vio_driver_queue *dq;
	struct vio_drvq *vq;
	struct vio_queue_fds fds;
	struct blk_slot *slots;
	struct blk_slot *free;           /* free slots */
	uint8_t *dma;                    /* every slot's block, one allocation */
	struct vio_sg *sg;               /* scratch: seg_limit + 2 entries */
	struct vio_blk_req *wait_head, *wait_tail; /* pieces left to issue, in order */
	struct vio_blk_req *done_head, *done_tail; /* completed without I/O, for the next poll */
	uint32_t inflight;               /* requests taken and not completed */
	int error;                       /* 0, or what every request now fails with */
	uint16_t index;
};

struct vio_blk_drv {
	struct vio_driver d;
	struct vio_blk_drv_info info;
	uint32_t seg_limit;      /* data segments per virtio request */
	uint32_t seg_size;       /* bytes per data segment */
	uint32_t dz_segs;        /* discard / write-zeroes segments per virtio request */
	uint32_t slot_size;      /* bytes of a slot's DMA block */
	uint32_t id_off;         /* offset of id[20] and then status in the block */
	uint64_t discard_chunk;  /* bytes per discard segment */
	uint64_t wz_chunk;       /* bytes per write-zeroes segment */
	struct vio_blk_drv_queue *queues;
};

/* Sets up queue @q's ring and slots (blk_drv_req.c). */
int blk_queue_init(struct vio_blk_drv *drv, struct vio_blk_drv_queue *q, uint16_t index);
/* Fails what is left with -ECANCELED and frees the queue's memory. */
void blk_queue_fini(struct vio_blk_drv_queue *q);

#endif /* VIO_DRV_BLK_DRV_IMPL_H */
