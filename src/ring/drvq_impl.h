/* SPDX-License-Identifier: BSD-3-Clause */
/* Internal state of a driver-side virtqueue, shared by the layouts. */
#ifndef VIO_RING_DRVQ_IMPL_H
#define VIO_RING_DRVQ_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include "vio/drvq.h"
#include "vio/virtio_ring.h"

/* What the driver remembers of a buffer id (split: a head descriptor). */
enum drvq_state {
	DRVQ_FREE = 0, /* not in flight (or, split, not the head of a chain) */
	DRVQ_ADDED,    /* written, not yet published to the device (packed: in
			  flight, published or not: see packed.pub_seq) */
	DRVQ_AVAIL,    /* split: published: the device may use it */
};

/*
 * One record per buffer id, indexed by id. The driver's own memory: the
 * device cannot reach it, so everything here can be trusted. The shared
 * descriptor table is written, never read back.
 *
 * split: the id is the index of the chain's head descriptor, and the
 * records double as the per-descriptor links:
 *   - a free descriptor's @link is the next free descriptor;
 *   - descriptors are taken from the free list in link order, so a direct
 *     chain is head, link[head], ... up to @last, and freeing it splices
 *     [head .. last] back in front of the free list in O(1).
 *   With VIRTIO_F_IN_ORDER descriptors are taken in ring order instead
 *   (VIRTIO 1.4 §2.7.5) and need no links: a head's @link is then the
 *   available ring index it was written at.
 * packed: @link chains the free buffer ids; descriptors are taken in ring
 * order and need no links. While an id is in flight with IN_ORDER, @link
 * is its place in the order ring (packed.ord).
 */
struct drvq_slot {
	void *token;       /* the caller's token (may be NULL) */
	uint64_t seq;      /* packed: the number of buffers added before this one */
	uint32_t in_bytes; /* device-writable bytes, clamped to UINT32_MAX (used len bound) */
	uint16_t ndesc;    /* descriptors the buffer takes in the table / ring */
	uint8_t state;     /* enum drvq_state */
	uint8_t indirect;  /* the buffer went through the id's indirect table */
	uint16_t link;     /* see above */
	uint16_t last;     /* split: last descriptor of the chain (== id if indirect) */
};

struct vio_drvq {
	uint32_t num;
	uint64_t features;
	bool is_packed; /* VIRTIO_F_RING_PACKED: the packed member below, else split */
	bool event_idx;
	bool in_order;
	bool broken;
	const char *err;

	uint32_t num_free;      /* free descriptors */
	uint32_t inflight;      /* ids ADDED or AVAIL */
	uint32_t detach_cursor; /* where vio_drvq_detach() looks next */

	/* Indirect tables: one per buffer id, ind_max descriptors each.
	 * ind_max is 0 when indirect descriptors are not to be used. */
	uint8_t *ind;      /* our address of table 0 */
	uint64_t ind_addr; /* the device's address of table 0 */
	uint32_t ind_max;

	/*
	 * VIRTIO_F_IN_ORDER (both layouts): one used element may stand for a
	 * batch of buffers (VIRTIO 1.4 §2.7.9, §2.8.8). get_used hands the
	 * batch out one buffer per call: batch_left buffers are still to be
	 * returned, the last with batch_len, the others with their
	 * device-writable size (they were used in full).
	 */
	uint32_t batch_left;
	uint32_t batch_len;

	struct {
		struct virtq_desc *desc;
		struct virtq_avail *avail;
		struct virtq_used *used;
		uint16_t free_head;   /* first free descriptor (if num_free); IN_ORDER:
					 the next descriptor in ring order */
		uint16_t avail_idx;   /* next available ring entry to write */
		uint16_t published;   /* avail->idx as last stored */
		uint16_t last_used;   /* next used ring entry to take */
		uint16_t avail_flags; /* what we last wrote to avail->flags */
		/* [num] our copy of the heads written to avail->ring, so that
		 * publishing (and, with VIRTIO_F_IN_ORDER, batched used
		 * entries) never reads the shared ring back. */
		uint16_t *avail_shadow;
	} split;

	struct {
		struct pvirtq_desc *desc;
		struct pvirtq_event_suppress *driver; /* ours: used buffer notifications */
		struct pvirtq_event_suppress *device; /* the device's: kicks */
		uint16_t next_avail;  /* where the next descriptor goes */
		uint16_t pub_pos;     /* the first descriptor not yet made available */
		uint16_t next_used;   /* where the next used descriptor is polled */
		uint16_t free_id;     /* first free buffer id (if num_free) */
		uint16_t pub_flags;   /* flags for pub_pos, stored by kick_prepare */
		bool avail_wrap, pub_wrap, used_wrap; /* the ring wrap counters (§2.8.1) */
		uint32_t pub_descs;   /* published, not yet used: [next_used, pub_pos) */
		uint32_t add_descs;   /* added, not yet published: [pub_pos, next_avail) */
		uint32_t ev;          /* what we last stored in *driver (one 32-bit word) */
		/* IN_ORDER: [num] ids in the order they were added, a ring:
		 * ord_pub published ones (oldest at ord_head), then ord_add
		 * not yet published. */
		uint16_t *ord;
		uint32_t ord_head, ord_pub, ord_add;
		/* Buffers added, and published, since init: an id in flight
		 * was published when its slot's seq is below pub_seq (64 bits:
		 * never wraps). Spares kick_prepare a store per buffer. */
		uint64_t add_seq, pub_seq;
	} packed;

	struct drvq_slot slot[]; /* [num], then the split avail shadow / packed order ring [num] */
};

/* Marks @q broken with @why (the first reason sticks); returns -EIO. */
int drvq_fail(struct vio_drvq *q, const char *why);

/* Our address and the device's address of the indirect table of id @id. */
static inline void *drvq_ind_table(const struct vio_drvq *q, uint32_t id)
{
	return q->ind + (uint64_t)id * q->ind_max * 16u;
}
static inline uint64_t drvq_ind_addr(const struct vio_drvq *q, uint32_t id)
{
	return q->ind_addr + (uint64_t)id * q->ind_max * 16u;
}

/* Returns in-flight id @id to the free state (either layout); forgets it. */
void drvq_release(struct vio_drvq *q, uint16_t id);

/*
 * The layouts (split_drv.c, packed_drv.c). add() gets validated arguments:
 * n = nout + nin segments, 1 <= n <= num, each of non-zero length, at most
 * 2^32 bytes in total, @in_bytes the writable total clamped to UINT32_MAX.
 */
int split_drv_init(struct vio_drvq *q, const struct vio_drvq_config *cfg);
int split_drv_add(struct vio_drvq *q, const struct vio_sg *sg, uint32_t nout, uint32_t n,
		  uint32_t in_bytes, void *token);
int split_drv_kick_prepare(struct vio_drvq *q);
int split_drv_get_used(struct vio_drvq *q, void **token, uint32_t *len);
void split_drv_cb_disable(struct vio_drvq *q);
int split_drv_cb_enable(struct vio_drvq *q);
/* Returns the descriptors of in-flight id @id to the free list; forgets it. */
void split_drv_release(struct vio_drvq *q, uint16_t id);

int packed_drv_init(struct vio_drvq *q, const struct vio_drvq_config *cfg);
int packed_drv_add(struct vio_drvq *q, const struct vio_sg *sg, uint32_t nout, uint32_t n,
		   uint32_t in_bytes, void *token);
/*
 * The fast paths of the bursts: add b[0..n-1] of one segment each, or take
 * used buffers into token[]/len[], as many as are of the common shape, in
 * one loop; returns how many. What they stop at, they leave untouched for
 * the general path to take or refuse; get_used hands it a copy of the used
 * descriptor it stopped at when it read any of it (*stopped true).
 */
uint32_t packed_drv_add_fast(struct vio_drvq *q, const struct vio_drvq_buf *restrict b, uint32_t n);
uint32_t packed_drv_get_used_fast(struct vio_drvq *q, void **restrict token,
				  uint32_t *restrict len, uint32_t n, struct pvirtq_desc *stop,
				  bool *stopped);
int packed_drv_kick_prepare(struct vio_drvq *q);
/* @first: a copy of the descriptor at next_used (the fast path's), or NULL to read it. */
int packed_drv_get_used(struct vio_drvq *q, void **token, uint32_t *len,
			const struct pvirtq_desc *first);
void packed_drv_cb_disable(struct vio_drvq *q);
int packed_drv_cb_enable(struct vio_drvq *q);
void packed_drv_release(struct vio_drvq *q, uint16_t id);

#endif /* VIO_RING_DRVQ_IMPL_H */
