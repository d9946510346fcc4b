/* SPDX-License-Identifier: BSD-3-Clause */
/* A virtio-blk request queue: pop, parse, submit, complete, push (VIRTIO 1.4 §5.2.6). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../ring/atomic.h"
#include "blk_aio.h"
#include "blk_impl.h"
#include "vio/log.h"
#include "vio/virtio.h"

/*
 * iovecs per request: VIO_BLK_SEG_MAX data segments, the header and the
 * status, plus slack for buffers split where guest memory regions meet.
 */
#define SLOT_IOV (VIO_BLK_SEG_MAX + 2u + 8u)

/* Completions taken from the engine per call. */
#define REAP_BATCH 32u

/* Where a request's I/O stands. */
enum slot_phase {
	PHASE_IO = 0, /* the request's own operation (or the current segment) */
	PHASE_SYNC,   /* write-through: the fdatasync after discard / write zeroes */
};

/* One request in flight; queue_size of them, allocated at creation. */
struct blk_slot {
	struct vio_chain chain;
	struct blk_req req;
	struct blk_aio_req aio;
	uint32_t seg;             /* DISCARD / WRITE_ZEROES: next segment to submit */
	enum slot_phase phase;
	bool write_through;       /* VIRTIO_BLK_F_FLUSH not negotiated when popped */
	struct iovec chain_iov[SLOT_IOV];
	struct iovec data_iov[SLOT_IOV];
};

struct vio_blk_queue {
	struct vio_blk *blk;
	struct blk_aio *aio;
	uint32_t size;      /* slots */
	uint32_t inflight;  /* popped, not yet pushed */
	uint32_t nfree;     /* entries in free[] */
	bool starved;       /* process() stopped for want of a slot */
	uint64_t pushed;    /* requests pushed, ever */
	struct vio_blk_stats stats;
	uint32_t *free;     /* stack of free slot indexes */
	struct blk_slot *slots;
};

/* The queue thread is the only writer; reports read the counters racily. */
#define STAT_ADD(bq, field, n) \
	__atomic_store_n(&(bq)->stats.field, (bq)->stats.field + (n), __ATOMIC_RELAXED)

struct blk_aio *blk_queue_aio(struct vio_blk_queue *bq)
{
	return bq->aio;
}

/* ------------------------------------------------------------------ */
/* Completion                                                          */

static void count_type(struct vio_blk_queue *bq, uint32_t type)
{
	switch (type) {
	case VIRTIO_BLK_T_IN: STAT_ADD(bq, reads, 1); break;
	case VIRTIO_BLK_T_OUT: STAT_ADD(bq, writes, 1); break;
	case VIRTIO_BLK_T_FLUSH: STAT_ADD(bq, flushes, 1); break;
	case VIRTIO_BLK_T_DISCARD: STAT_ADD(bq, discards, 1); break;
	case VIRTIO_BLK_T_WRITE_ZEROES: STAT_ADD(bq, write_zeroes, 1); break;
	case VIRTIO_BLK_T_GET_ID: STAT_ADD(bq, get_ids, 1); break;
	default: break;
	}
}

static void count(struct vio_blk_queue *bq, const struct blk_req *r, bool ok)
{
	STAT_ADD(bq, requests, 1);
	count_type(bq, r->type);
	if (!ok) {
		STAT_ADD(bq, errors, 1);
		vio_debug("blk: %s request completed with %s", blk_req_type_name(r->type),
			  r->kind == BLK_REQ_NO_STATUS ? "no status" : "an error");
		return;
	}
	if (r->kind == BLK_REQ_READ)
		STAT_ADD(bq, bytes_read, r->len);
	else if (r->kind == BLK_REQ_WRITE)
		STAT_ADD(bq, bytes_written, r->len);
}

/*
 * Used length: the data bytes written into the device-writable part, plus
 * the status byte; 0 when there was nowhere to put a status.
 */
static uint32_t used_len(const struct blk_req *r, uint8_t status)
{
	uint64_t len = 1;

	if (r->kind == BLK_REQ_NO_STATUS)
		return 0;
	if (status == VIRTIO_BLK_S_OK && (r->kind == BLK_REQ_READ || r->kind == BLK_REQ_GET_ID))
		len += r->len;
	return len > UINT32_MAX ? UINT32_MAX : (uint32_t)len;
}

/* Writes the status, pushes the chain and frees the slot. */
static void slot_finish(struct vio_blk_queue *bq, struct vio_devq *ring, struct blk_slot *s,
			uint8_t status)
{
	struct blk_req *r = &s->req;

	/*
	 * Guest memory: a single store, atomic because the guest (or another
	 * queue's thread, when a hostile front-end puts two chains on one status
	 * byte) may write it at the same time. Published by the release store of
	 * the used index (flags, packed) in vio_devq_flush().
	 */
	if (r->status_ptr)
		VIO_WRITE_ONCE(*r->status_ptr, status);
	count(bq, r, r->kind != BLK_REQ_NO_STATUS && status == VIRTIO_BLK_S_OK);
	/* A broken ring only does the bookkeeping: nothing to handle here. */
	(void)vio_devq_push(ring, s->chain.id, used_len(r, status));
	bq->pushed++;
	bq->inflight--;
	bq->free[bq->nfree++] = (uint32_t)(s - bq->slots);
}

/* The sticky error: every later flush, on every queue, fails. */
static void mark_failed(struct vio_blk_queue *bq)
{
	if (!atomic_exchange(&bq->blk->failed, true))
		vio_err("blk: a write or a sync of the image failed; flushes fail from now on");
}

/* ------------------------------------------------------------------ */
/* Submission                                                          */

static void io_done(struct vio_blk_queue *bq, struct vio_devq *ring, struct blk_slot *s);

/* Submits s->aio; on failure completes the request with IOERR. */
static void submit(struct vio_blk_queue *bq, struct vio_devq *ring, struct blk_slot *s)
{
	s->aio.token = s;
	if (blk_aio_submit(bq->aio, &s->aio))
		slot_finish(bq, ring, s, VIRTIO_BLK_S_IOERR);
}

static void submit_sync(struct vio_blk_queue *bq, struct vio_devq *ring, struct blk_slot *s)
{
	s->aio.op = BLK_AIO_FDATASYNC;
	s->phase = PHASE_SYNC;
	submit(bq, ring, s);
}

static void submit_rw(struct vio_blk_queue *bq, struct vio_devq *ring, struct blk_slot *s,
		      enum blk_aio_op op)
{
	if (s->req.len == 0) {
		slot_finish(bq, ring, s, VIRTIO_BLK_S_OK); /* nothing to transfer */
		return;
	}
	s->aio.op = op;
	s->aio.dsync = s->write_through;
	s->aio.iov = s->data_iov;
	s->aio.iovcnt = s->req.ndata;
	s->aio.offset = s->req.offset;
	s->aio.len = s->req.len;
	s->aio.token = s;
	/* Page-cache data is copied here at once: no engine round trip (blk_aio.h). */
	if (blk_aio_try_inline(bq->aio, &s->aio)) {
		io_done(bq, ring, s);
		return;
	}
	submit(bq, ring, s);
}

/* Submits the next non-empty segment, or ends the request. */
static void next_segment(struct vio_blk_queue *bq, struct vio_devq *ring, struct blk_slot *s)
{
	const struct blk_seg *seg;

	while (s->seg < s->req.nseg && s->req.seg[s->seg].len == 0)
		s->seg++;
	if (s->seg == s->req.nseg) {
		if (s->write_through)
			submit_sync(bq, ring, s);
		else
			slot_finish(bq, ring, s, VIRTIO_BLK_S_OK);
		return;
	}
	seg = &s->req.seg[s->seg++];
	if (s->req.kind == BLK_REQ_DISCARD)
		s->aio.op = BLK_AIO_DISCARD;
	else
		s->aio.op = seg->unmap ? BLK_AIO_ZERO_UNMAP : BLK_AIO_ZERO;
	s->aio.dsync = s->write_through;
	s->aio.offset = seg->offset;
	s->aio.len = seg->len;
	submit(bq, ring, s);
}

/* Copies the serial, NUL-padded, into the GET_ID data (VIRTIO 1.4 §5.2.6). */
static void get_id(const struct vio_blk *blk, struct blk_slot *s)
{
	const char *src = blk->serial;
	uint64_t left = s->req.len; /* <= VIRTIO_BLK_ID_BYTES */

	for (uint32_t i = 0; i < s->req.ndata && left; i++) {
		size_t n = s->data_iov[i].iov_len < left ? s->data_iov[i].iov_len : (size_t)left;

		memcpy(s->data_iov[i].iov_base, src, n);
		src += n;
		left -= n;
	}
}

/* Parses a popped chain and starts it. */
static void start(struct vio_blk_queue *bq, struct vio_devq *ring, struct blk_slot *s)
{
	struct vio_blk *blk = bq->blk;
	uint64_t features = atomic_load(&blk->features);

	/* VIRTIO 1.4 §5.2.6.2: with FLUSH offered but not negotiated, writes are stable when completed. */
	s->write_through = !vio_has_feature(features, VIRTIO_BLK_F_FLUSH);
	s->phase = PHASE_IO;
	s->seg = 0;
	switch (blk_req_parse(&s->chain, &blk->lim, &s->req, s->data_iov, SLOT_IOV)) {
	case BLK_REQ_NO_STATUS:
		slot_finish(bq, ring, s, VIRTIO_BLK_S_IOERR);
		break;
	case BLK_REQ_STATUS:
		slot_finish(bq, ring, s, s->req.status);
		break;
	case BLK_REQ_READ:
		submit_rw(bq, ring, s, BLK_AIO_READV);
		break;
	case BLK_REQ_WRITE:
		submit_rw(bq, ring, s, BLK_AIO_WRITEV);
		break;
	case BLK_REQ_FLUSH:
		/* Durability contract (DESIGN.md §4): after a failure, no flush succeeds. */
		if (atomic_load(&blk->failed))
			slot_finish(bq, ring, s, VIRTIO_BLK_S_IOERR);
		else
			submit_sync(bq, ring, s);
		break;
	case BLK_REQ_GET_ID:
		get_id(blk, s);
		slot_finish(bq, ring, s, VIRTIO_BLK_S_OK);
		break;
	case BLK_REQ_DISCARD:
	case BLK_REQ_WRITE_ZEROES:
		next_segment(bq, ring, s);
		break;
	}
}

/* ------------------------------------------------------------------ */
/* I/O completion                                                      */

/* A sync finished (FLUSH, or write-through after segments). */
static void sync_done(struct vio_blk_queue *bq, struct vio_devq *ring, struct blk_slot *s)
{
	if (s->aio.res)
		mark_failed(bq);
	/* VIRTIO 1.4 §5.2.6.2: OK only if this sync, issued after the pop, succeeded. */
	slot_finish(bq, ring, s, atomic_load(&bq->blk->failed) ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK);
}

static void io_done(struct vio_blk_queue *bq, struct vio_devq *ring, struct blk_slot *s)
{
	int res = s->aio.res;

	if (s->phase == PHASE_SYNC) {
		sync_done(bq, ring, s);
		return;
	}
	switch (s->req.kind) {
	case BLK_REQ_READ:
		slot_finish(bq, ring, s, res ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK);
		break;
	case BLK_REQ_WRITE:
		if (res)
			mark_failed(bq);
		slot_finish(bq, ring, s, res ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK);
		break;
	case BLK_REQ_DISCARD:
	case BLK_REQ_WRITE_ZEROES:
		if (!res) {
			next_segment(bq, ring, s);
			break;
		}
		/* Zeroes not written are lost writes; a failed discard loses nothing. */
		if (s->req.kind == BLK_REQ_WRITE_ZEROES)
			mark_failed(bq);
		slot_finish(bq, ring, s, VIRTIO_BLK_S_IOERR);
		break;
	default:
		slot_finish(bq, ring, s, VIRTIO_BLK_S_IOERR); /* not reached */
		break;
	}
}

/* ------------------------------------------------------------------ */
/* Public API                                                          */

int vio_blk_queue_process(struct vio_blk_queue *bq, struct vio_devq *ring)
{
	int taken = 0;

	bq->starved = false;
	for (;;) {
		struct blk_slot *s;
		int r;

		if (!bq->nfree) {
			bq->starved = true; /* complete() calls again once slots free up */
			break;
		}
		s = &bq->slots[bq->free[bq->nfree - 1]];
		s->chain.iov = s->chain_iov;
		s->chain.iov_cap = SLOT_IOV;
		r = vio_devq_pop(ring, &s->chain);
		if (r == 0)
			break;
		if (r == -EIO) {
			blk_aio_kick(bq->aio); /* what was taken still completes */
			return -EIO;
		}
		bq->nfree--;
		bq->inflight++;
		taken++;
		if (r == -ENOBUFS) {
			/* More iovecs than a slot holds: complete with used length 0. */
			s->req.kind = BLK_REQ_NO_STATUS;
			s->req.type = UINT32_MAX;
			s->req.status_ptr = NULL;
			slot_finish(bq, ring, s, VIRTIO_BLK_S_IOERR);
			continue;
		}
		start(bq, ring, s);
	}
	blk_aio_kick(bq->aio);
	return taken;
}

int vio_blk_queue_complete(struct vio_blk_queue *bq, struct vio_devq *ring)
{
	struct blk_aio_req *done[REAP_BATCH];
	uint64_t before = bq->pushed;
	uint32_t n;

	do {
		n = blk_aio_reap(bq->aio, done, REAP_BATCH);
		for (uint32_t i = 0; i < n; i++)
			io_done(bq, ring, done[i]->token);
	} while (n == REAP_BATCH);
	blk_aio_kick(bq->aio); /* next segments, write-through syncs */
	if (bq->starved && bq->nfree)
		(void)vio_blk_queue_process(bq, ring); /* a broken ring shows at the next process() */
	return (int)(bq->pushed - before);
}

int vio_blk_queue_new(struct vio_blk *blk, uint32_t queue_size, struct vio_blk_queue **out)
{
	struct vio_blk_queue *bq;
	int err;

	if (queue_size == 0 || queue_size > BLK_MAX_QUEUE_SIZE)
		return -EINVAL;
	bq = calloc(1, sizeof(*bq));
	if (!bq)
		return -ENOMEM;
	bq->slots = calloc(queue_size, sizeof(*bq->slots));
	bq->free = calloc(queue_size, sizeof(*bq->free));
	if (!bq->slots || !bq->free) {
		err = -ENOMEM;
		goto fail;
	}
	err = blk_aio_create(blk->aio, blk->fd, queue_size, &bq->aio);
	if (err)
		goto fail;
	bq->blk = blk;
	bq->size = queue_size;
	for (uint32_t i = 0; i < queue_size; i++)
		bq->free[i] = queue_size - 1 - i;
	bq->nfree = queue_size;
	atomic_fetch_add(&blk->nqueues, 1);
	*out = bq;
	return 0;
fail:
	free(bq->free);
	free(bq->slots);
	free(bq);
	return err;
}

void vio_blk_queue_free(struct vio_blk_queue *bq)
{
	if (!bq)
		return;
	blk_aio_destroy(bq->aio); /* waits for I/O still in flight */
	atomic_fetch_sub(&bq->blk->nqueues, 1);
	free(bq->free);
	free(bq->slots);
	free(bq);
}

int vio_blk_queue_event_fd(const struct vio_blk_queue *bq)
{
	return blk_aio_event_fd(bq->aio);
}

uint32_t vio_blk_queue_inflight(const struct vio_blk_queue *bq)
{
	return bq->inflight;
}

const struct vio_blk_stats *vio_blk_queue_stats(const struct vio_blk_queue *bq)
{
	return &bq->stats;
}
