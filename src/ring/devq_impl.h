/* SPDX-License-Identifier: BSD-3-Clause */
/* Internal state of a device-side virtqueue, shared by the layouts. */
#ifndef VIO_RING_DEVQ_IMPL_H
#define VIO_RING_DEVQ_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include "vio/devq.h"
#include "vio/virtio_ring.h"

/* Per-id bookkeeping: which chains are in flight, and their shape. */
struct devq_slot {
	uint32_t in_bytes; /* writable bytes, to clamp the used length */
	uint16_t ndesc;    /* descriptors the chain took */
	uint8_t inflight;
	uint8_t pad;
};

struct vio_devq {
	uint32_t num;
	bool event_idx;
	bool indirect;
	bool broken;
	const char *err;
	const struct vio_mem *mem;

	/* split layout */
	struct virtq_desc *desc;
	struct virtq_avail *avail;
	struct virtq_used *used;
	uint16_t last_avail_idx; /* next available entry to pop */
	uint16_t used_idx;       /* next used entry to write (pending included) */
	uint16_t signalled_used; /* used index at the last flush */
	uint32_t inflight;

	struct devq_slot slots[]; /* [num] */
};

/* Marks @q broken with @why; returns -EIO for the caller to pass on. */
int devq_fail(struct vio_devq *q, const char *why);

/* Accumulates one buffer of a chain being popped (chain.c). */
struct chain_walk {
	struct vio_chain *c;
	bool overflow; /* more iovecs than c->iov_cap: keep validating, fill no more */
	bool seen_writable;
};
void chain_begin(struct chain_walk *w, struct vio_chain *c);
/* Adds buffer [addr, addr+len); 0, or -EIO after marking @q broken. */
int chain_add(struct vio_devq *q, struct chain_walk *w, uint64_t addr, uint32_t len, bool writable);

int split_init(struct vio_devq *q, const struct vio_devq_config *cfg);
int split_pop(struct vio_devq *q, struct vio_chain *c);
/* Writes the used element of in-flight chain @id (bookkeeping done by the caller). */
int split_push(struct vio_devq *q, uint16_t id, uint32_t len);
int split_flush(struct vio_devq *q);
void split_kick_disable(struct vio_devq *q);
int split_kick_enable(struct vio_devq *q);

#endif /* VIO_RING_DEVQ_IMPL_H */
