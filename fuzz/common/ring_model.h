/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the split and packed ring harnesses share: the guest memory they
 * run in, decoding addresses and lengths from the input, the reference
 * model's chain accumulator (written from VIRTIO 1.4 §2.7.4, §2.7.5 and the
 * rules of vio/devq.h, independently of src/ring/chain.c), and the checks
 * every popped chain must pass.
 */
#ifndef VIO_FUZZ_RING_MODEL_H
#define VIO_FUZZ_RING_MODEL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "fuzz_input.h"
#include "guest.h"
#include "vio/devq.h"
#include "vio/virtio_ring.h"

#define RM_MAX_NUM 1024u
#define RM_IOV_MAX_CAP 64u
#define RM_MAX_BUFS (RM_MAX_NUM + VIRTQ_MAX_SIZE)

struct rm {
	struct guest G;
	uint32_t num;
	bool indirect, event_idx, in_order;
	uint64_t ring_gpa;           /* descriptor table / ring */
	uint64_t excl_gpa, excl_len; /* the device's area: the driver never writes it */
};
extern struct rm RM;

/* A buffer of a chain as the model walked it. */
struct mbuf {
	uint64_t gpa;
	uint32_t len;
	bool w;
};
extern struct mbuf rm_bufs[RM_MAX_BUFS];

struct mchain {
	uint16_t id, ndesc;
	uint32_t nbufs;
	uint64_t out_bytes, in_bytes;
	bool seen_w;
};

enum mres { M_EMPTY, M_CHAIN, M_BROKEN };

/* Every byte of [gpa, gpa + len) in some region (our own walk of the regions). */
bool rm_mapped(uint64_t gpa, uint64_t len);
/* Copies guest bytes; false if any is unmapped. */
bool rm_read(uint64_t gpa, void *buf, size_t len);
/* Adds a buffer to @c: false if the ring rules say the queue breaks. */
bool rm_add(struct mchain *c, uint64_t gpa, uint32_t len, bool w);
/* The checks of an indirect table before it is walked; false: broken. */
bool rm_indirect_ok(uint64_t table, uint32_t len);
/*
 * The model chain as iovecs (one per region crossed). False if more than
 * @cap are needed (the device must say -ENOBUFS). *n: iovecs, *nout: readable ones.
 */
bool rm_iov(const struct mchain *c, struct iovec *iov, uint32_t cap, uint32_t *n, uint32_t *nout);

/* The promises of a popped chain (vio/devq.h): iovecs inside guest memory, ... */
void rm_check_popped(const struct vio_chain *c, uint32_t cap);
/* A popped chain equals the model's. */
void rm_check_equal(const struct vio_chain *c, const struct mchain *mc, uint32_t cap);

/* Decoding: a guest address near something interesting, a length. */
uint64_t rm_get_addr(struct fin *f);
uint32_t rm_get_len(struct fin *f);
/* A schedule of up to 8 driver writes for a race window. */
unsigned rm_get_muts(struct fin *f, struct race_mut *m);
/* A driver write: what falls in the device's area is skipped. */
void rm_drv_write(uint64_t gpa, const void *buf, size_t len);

/*
 * Decodes and lays out guest memory: region 0 is @ring_bytes plus some,
 * starting page-aligned (the rings go at its start); 0..3 more regions,
 * adjacent, near or far. Sets RM.G and RM.ring_gpa.
 */
void rm_setup_memory(struct fin *f, uint64_t ring_bytes);

#endif /* VIO_FUZZ_RING_MODEL_H */
