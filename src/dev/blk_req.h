/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The virtio-blk request parser (internal): turns one popped descriptor chain
 * into a validated description of the work to do, or a status to complete
 * with at once (VIRTIO 1.4 §5.2.6).
 *
 * The chain's iovecs address guest memory the driver may rewrite at any
 * moment (DESIGN.md §4). The parser therefore:
 *   - copies the 16-byte header (struct virtio_blk_outhdr) out of the
 *     readable iovecs once, whatever iovecs it spans, and never reads it
 *     again; discard / write-zeroes segments likewise;
 *   - trusts nothing about framing (VIRTIO 1.4 §2.7.4): the header, the data
 *     and the status byte may share or split descriptors in any way; the
 *     status is the last device-writable byte;
 *   - reads only inside the iovecs it is given, recomputes every total from
 *     them with overflow checks, and does not rely on the chain's
 *     out_bytes / in_bytes;
 *   - writes only to its output (never to guest memory).
 * It is a pure function of (iovecs, guest bytes, limits): a fuzz target.
 *
 * Chain layout it expects (vio/virtio_blk.h):
 *
 *   readable:  | outhdr (16) | T_OUT data / DISCARD, WRITE_ZEROES segments |
 *   writable:  | T_IN, GET_ID data                                | status |
 */
#ifndef VIO_DEV_BLK_REQ_H
#define VIO_DEV_BLK_REQ_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vio/blk.h"
#include "vio/devq.h"

/* What the device does with a parsed request. */
enum blk_req_kind {
	BLK_REQ_NO_STATUS = 0, /* no device-writable byte: push with used length 0 */
	BLK_REQ_STATUS,        /* no I/O: write r->status and complete */
	BLK_REQ_READ,          /* preadv r->len bytes at r->offset into r->data */
	BLK_REQ_WRITE,         /* pwritev r->len bytes of r->data at r->offset */
	BLK_REQ_FLUSH,         /* fdatasync */
	BLK_REQ_GET_ID,        /* copy the serial into r->data (r->len bytes of room) */
	BLK_REQ_DISCARD,       /* r->nseg segments */
	BLK_REQ_WRITE_ZEROES,  /* r->nseg segments */
};

/* The device's side of the checks: what is offered and how big the disk is. */
struct blk_req_limits {
	uint64_t capacity;  /* 512-byte sectors (a multiple of lbs / 512) */
	uint32_t lbs;       /* logical block size in bytes: 512..4096, a power of 2 */
	bool read_only;     /* VIRTIO_BLK_F_RO offered */
	bool discard;       /* VIRTIO_BLK_F_DISCARD offered */
	bool write_zeroes;  /* VIRTIO_BLK_F_WRITE_ZEROES offered */
};

/* One discard / write-zeroes segment, validated, in bytes, host order. */
struct blk_seg {
	uint64_t offset; /* bytes from the start of the disk */
	uint64_t len;    /* bytes; 0 for an empty segment (nothing to do) */
	bool unmap;      /* write zeroes may deallocate */
};

/* Room for the data iovecs: as many as the chain has. */
struct blk_req {
	enum blk_req_kind kind;
	uint8_t status;       /* BLK_REQ_STATUS: VIRTIO_BLK_S_IOERR or _UNSUPP */
	uint32_t type;        /* the header's type, when there was a header */
	uint8_t *status_ptr;  /* our address of the status byte; NULL for NO_STATUS */
	uint64_t offset;      /* READ / WRITE: bytes from the start of the disk */
	uint64_t len;         /* READ / WRITE / GET_ID: data bytes (sum of data[]) */
	uint32_t ndata;       /* iovecs in data[] */
	uint32_t nseg;        /* DISCARD / WRITE_ZEROES: segments in seg[] */
	struct blk_seg seg[VIO_BLK_MAX_DISCARD_SEG];
};

/*
 * Parses chain @c (its iov[0 .. nout + nin - 1]) against @lim.
 * Fills @r. The data part (READ / WRITE / GET_ID) is described in
 * @data (caller-owned, room for @data_cap iovecs; c->nout + c->nin are
 * always enough): trimmed copies of the chain's iovecs, no zero-length
 * entries; the caller's I/O engine may advance them in place.
 * Returns r->kind. Never fails otherwise: a malformed request yields
 * BLK_REQ_NO_STATUS or BLK_REQ_STATUS with the status to write.
 */
enum blk_req_kind blk_req_parse(const struct vio_chain *c, const struct blk_req_limits *lim,
				struct blk_req *r, struct iovec *data, uint32_t data_cap);

/* A readable name of @type, for logs ("in", "out", ..., "unknown"). */
const char *blk_req_type_name(uint32_t type);

#endif /* VIO_DEV_BLK_REQ_H */
