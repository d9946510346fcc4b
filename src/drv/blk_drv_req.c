/* SPDX-License-Identifier: BSD-3-Clause */
/* The virtio-blk driver's request queues: split, submit, complete, wait (VIRTIO 1.4 §5.2.6). */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>

#include "blk_drv_impl.h"
#include "vio/log.h"

/* The status byte before the device writes it: not a valid status. */
#define STATUS_UNSET 0xffu

static uint8_t *slot_status(const struct vio_blk_drv *drv, const struct blk_slot *s)
{
	return s->dma + drv->id_off + VIRTIO_BLK_ID_BYTES;
}

/* ---- set-up --------------------------------------------------------------- */

static int init_slots(struct vio_blk_drv *drv, struct vio_blk_drv_queue *q)
{
	uint32_t depth = drv->info.depth;
	uint64_t gpa;

	q->slots = calloc(depth, sizeof(q->slots[0]));
	q->sg = calloc(drv->seg_limit + 2, sizeof(q->sg[0]));
	if (!q->slots || !q->sg)
		return -ENOMEM;
	q->dma = vio_driver_dma_alloc(&drv->d, (size_t)depth * drv->slot_size, 64, &gpa);
	if (!q->dma)
		return -ENOMEM;
	for (uint32_t i = depth; i-- > 0;) {
		struct blk_slot *s = &q->slots[i];

		s->dma = q->dma + (size_t)i * drv->slot_size;
		s->gpa = gpa + (uint64_t)i * drv->slot_size;
		s->next_free = q->free;
		q->free = s;
	}
	return 0;
}

int blk_queue_init(struct vio_blk_drv *drv, struct vio_blk_drv_queue *q, uint16_t index)
{
	bool indirect = vio_driver_has(&drv->d, VIRTIO_F_INDIRECT_DESC);
	int r;

	q->drv = drv;
	q->index = index;
	r = vio_driver_queue_new(&drv->d, index, drv->info.queue_size,
				 indirect ? drv->seg_limit + 2 : 0, &q->dq);
	if (r)
		return r;
	q->vq = vio_driver_queue_vq(q->dq);
	r = vio_driver_queue_fds(q->dq, &q->fds);
	if (!r)
		r = init_slots(drv, q);
	return r;
}

/* ---- completion ----------------------------------------------------------- */

static void list_push(struct vio_blk_req **head, struct vio_blk_req **tail, struct vio_blk_req *r)
{
	r->priv.next = NULL;
	if (*tail)
		(*tail)->priv.next = r;
	else
		*head = r;
	*tail = r;
}

static struct vio_blk_req *list_pop(struct vio_blk_req **head, struct vio_blk_req **tail)
{
	struct vio_blk_req *r = *head;

	if (r) {
		*head = r->priv.next;
		if (!*head)
			*tail = NULL;
		r->priv.next = NULL;
	}
	return r;
}

/* Takes @r out of a list if it is there. */
static void list_remove(struct vio_blk_req **head, struct vio_blk_req **tail, struct vio_blk_req *r)
{
	struct vio_blk_req *prev = NULL;

	for (struct vio_blk_req *it = *head; it; prev = it, it = it->priv.next) {
		if (it != r)
			continue;
		if (prev)
			prev->priv.next = r->priv.next;
		else
			*head = r->priv.next;
		if (*tail == r)
			*tail = prev;
		r->priv.next = NULL;
		return;
	}
}

/* The request is finished: publish its result and call back. Returns 1. */
static int finish(struct vio_blk_drv_queue *q, struct vio_blk_req *req)
{
	req->result = req->priv.error;
	req->priv.busy = false;
	req->complete = true;
	q->inflight--;
	if (req->done)
		req->done(req);
	return 1;
}

/* One piece of @req ended with @err; returns 1 if that finished the request. */
static int piece_done(struct vio_blk_drv_queue *q, struct vio_blk_req *req, int err)
{
	if (err && !req->priv.error)
		req->priv.error = err;
	/* Pieces not yet issued are not worth sending after a failure. */
	if (err && !req->priv.issued && q->wait_head == req) {
		list_pop(&q->wait_head, &q->wait_tail);
		req->priv.issued = true;
	}
	req->priv.inflight--;
	if (req->priv.issued && req->priv.inflight == 0)
		return finish(q, req);
	return 0;
}

static void slot_release(struct vio_blk_drv_queue *q, struct blk_slot *s)
{
	s->req = NULL;
	s->next_free = q->free;
	q->free = s;
}

/* What the device says of one piece, checked (see vio/blk_drv.h). */
static int slot_result(struct vio_blk_drv_queue *q, const struct blk_slot *s, uint32_t len)
{
	/* Read once: the device can still write it. */
	uint8_t st = *(volatile uint8_t *)slot_status(q->drv, s);
	uint8_t type = s->req->priv.type;

	if (len == 0)
		return -EIO; /* nothing written, not even the status */
	if (len > s->writable) {
		vio_err("blk driver: queue %u: used length %u beyond the %u writable bytes",
			q->index, len, s->writable);
		return -EPROTO;
	}
	switch (st) {
	case VIRTIO_BLK_S_OK:
		break;
	case VIRTIO_BLK_S_IOERR:
		return -EIO;
	case VIRTIO_BLK_S_UNSUPP:
		return -ENOTSUP;
	default:
		vio_err("blk driver: queue %u: status byte %u is not OK, IOERR or UNSUPP", q->index,
			st);
		return -EPROTO;
	}
	/* A read that succeeded must have written its data and status. */
	if (type == VIRTIO_BLK_T_IN && len != s->writable) {
		vio_err("blk driver: queue %u: read of %u bytes completed OK with used length %u",
			q->index, s->data_len, len);
		return -EPROTO;
	}
	return 0;
}

/* Copies the ID string the device wrote (len - 1 bytes of it), NUL-terminated. */
static void copy_id(struct vio_blk_drv_queue *q, const struct blk_slot *s, uint32_t len)
{
	char *id = s->req->priv.id;
	uint32_t n = len - 1;

	memcpy(id, s->dma + q->drv->id_off, n);
	memset(id + n, 0, VIRTIO_BLK_ID_BYTES + 1 - n);
}

/* The device used slot @s with @len bytes written; returns 1 if a request finished. */
static int complete_slot(struct vio_blk_drv_queue *q, struct blk_slot *s, uint32_t len)
{
	struct vio_blk_req *req = s->req;
	int err;

	if (!req) { /* its request was abandoned: only the slot comes back */
		slot_release(q, s);
		return 0;
	}
	err = slot_result(q, s, len);

	if (!err && req->priv.type == VIRTIO_BLK_T_GET_ID)
		copy_id(q, s, len);
	slot_release(q, s);
	return piece_done(q, req, err);
}

/* Every request of @q fails with @err, now and later. Returns how many finished. */
static int fail_queue(struct vio_blk_drv_queue *q, int err)
{
	struct vio_blk_req *req;
	void *token;
	int n = 0;

	if (!q->error)
		q->error = err;
	while (vio_drvq_detach(q->vq, &token) == 1) {
		struct blk_slot *s = token;

		req = s->req;
		slot_release(q, s);
		if (req)
			n += piece_done(q, req, q->error);
	}
	while ((req = list_pop(&q->wait_head, &q->wait_tail))) {
		req->priv.issued = true;
		if (!req->priv.error)
			req->priv.error = q->error;
		if (req->priv.inflight == 0)
			n += finish(q, req);
	}
	return n;
}

void blk_queue_fini(struct vio_blk_drv_queue *q)
{
	struct vio_blk_req *req;

	if (q->vq)
		fail_queue(q, -ECANCELED);
	while ((req = list_pop(&q->done_head, &q->done_tail)))
		finish(q, req);
	if (q->dma)
		vio_driver_dma_free(&q->drv->d, q->dma);
	vio_driver_queue_free(q->dq);
	free(q->slots);
	free(q->sg);
	memset(q, 0, sizeof(*q));
}

/* ---- issuing pieces --------------------------------------------------------- */

static void set_header(struct blk_slot *s, uint32_t type, uint64_t sector)
{
	struct virtio_blk_outhdr h = { cpu_to_le32(type), cpu_to_le32(0), cpu_to_le64(sector) };

	memcpy(s->dma, &h, sizeof(h));
}

/* A read or write piece: header, data segments of at most seg_size, status. */
static uint32_t build_rw(struct vio_blk_drv_queue *q, struct blk_slot *s, uint32_t *nout,
			 uint32_t *nin, uint64_t *taken)
{
	const struct vio_blk_drv *drv = q->drv;
	struct vio_blk_req *req = s->req;
	uint64_t piece = req->priv.left < drv->info.max_transfer ? req->priv.left
								 : drv->info.max_transfer;
	bool in = req->priv.type == VIRTIO_BLK_T_IN;
	uint32_t n = 1, nseg;

	set_header(s, req->priv.type, req->priv.offset >> VIRTIO_BLK_SECTOR_SHIFT);
	q->sg[0] = (struct vio_sg){ s->gpa, sizeof(struct virtio_blk_outhdr) };
	for (uint64_t done = 0; done < piece; n++) {
		uint64_t l = piece - done < drv->seg_size ? piece - done : drv->seg_size;

		q->sg[n] = (struct vio_sg){ req->priv.gpa + done, (uint32_t)l };
		done += l;
	}
	nseg = n - 1;
	q->sg[n++] = (struct vio_sg){ s->gpa + drv->id_off + VIRTIO_BLK_ID_BYTES, 1 };
	*nout = in ? 1 : 1 + nseg;
	*nin = in ? nseg + 1 : 1;
	s->data_len = (uint32_t)piece;
	s->writable = in ? (uint32_t)piece + 1 : 1;
	*taken = piece;
	return n;
}

/* A discard / write-zeroes piece: header and segments (one descriptor), status. */
static uint32_t build_dz(struct vio_blk_drv_queue *q, struct blk_slot *s, uint64_t *taken)
{
	const struct vio_blk_drv *drv = q->drv;
	struct vio_blk_req *req = s->req;
	bool discard = req->priv.type == VIRTIO_BLK_T_DISCARD;
	uint64_t chunk = discard ? drv->discard_chunk : drv->wz_chunk;
	uint32_t max = discard ? drv->info.max_discard_seg : drv->info.max_write_zeroes_seg;
	uint64_t off = req->priv.offset, left = req->priv.left;
	uint32_t i;

	max = max ? (max < drv->dz_segs ? max : drv->dz_segs) : 1;
	set_header(s, req->priv.type, 0);
	for (i = 0; i < max && left; i++) {
		uint64_t l = left < chunk ? left : chunk;
		struct virtio_blk_discard_write_zeroes seg = {
			cpu_to_le64(off >> VIRTIO_BLK_SECTOR_SHIFT),
			cpu_to_le32((uint32_t)(l >> VIRTIO_BLK_SECTOR_SHIFT)),
			cpu_to_le32(req->priv.flags),
		};

		memcpy(s->dma + 16 + 16 * (size_t)i, &seg, sizeof(seg));
		off += l;
		left -= l;
	}
	q->sg[0] = (struct vio_sg){ s->gpa, 16 + 16 * i };
	q->sg[1] = (struct vio_sg){ s->gpa + drv->id_off + VIRTIO_BLK_ID_BYTES, 1 };
	s->data_len = 0;
	s->writable = 1;
	*taken = req->priv.left - left;
	return 2;
}

/* Flush or GET_ID: header, then (GET_ID) the 20-byte string and the status in one descriptor. */
static uint32_t build_simple(struct vio_blk_drv_queue *q, struct blk_slot *s, uint64_t *taken)
{
	const struct vio_blk_drv *drv = q->drv;
	bool id = s->req->priv.type == VIRTIO_BLK_T_GET_ID;

	/* VIRTIO 1.4 §5.2.6.1: sector 0 for a flush, no data. */
	set_header(s, s->req->priv.type, 0);
	q->sg[0] = (struct vio_sg){ s->gpa, sizeof(struct virtio_blk_outhdr) };
	q->sg[1] = id ? (struct vio_sg){ s->gpa + drv->id_off, VIRTIO_BLK_ID_BYTES + 1 }
		      : (struct vio_sg){ s->gpa + drv->id_off + VIRTIO_BLK_ID_BYTES, 1 };
	s->data_len = id ? VIRTIO_BLK_ID_BYTES : 0;
	s->writable = id ? VIRTIO_BLK_ID_BYTES + 1 : 1;
	*taken = 0;
	return 2;
}

/* Builds the next piece of the waiting head into @s and adds it to the ring. */
static int add_piece(struct vio_blk_drv_queue *q, struct blk_slot *s, struct vio_blk_req *req)
{
	uint32_t n, nout = 1, nin = 1;
	uint64_t taken;
	int r;

	s->req = req;
	switch (req->priv.type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		n = build_rw(q, s, &nout, &nin, &taken);
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		n = build_dz(q, s, &taken);
		break;
	default:
		n = build_simple(q, s, &taken);
		break;
	}
	(void)n;
	*slot_status(q->drv, s) = STATUS_UNSET;
	r = vio_drvq_add(q->vq, q->sg, nout, nin, s);
	if (r) {
		s->req = NULL;
		return r;
	}
	req->priv.inflight++;
	req->priv.offset += taken;
	req->priv.gpa += taken;
	req->priv.left -= taken;
	if (!req->priv.left) {
		req->priv.issued = true;
		list_pop(&q->wait_head, &q->wait_tail);
	}
	return 0;
}

/* Sends waiting pieces while slots and descriptors last, then notifies. */
static int issue(struct vio_blk_drv_queue *q)
{
	bool added = false;
	int r, n = 0;

	while (!q->error && q->wait_head && q->free) {
		struct blk_slot *s = q->free;

		r = add_piece(q, s, q->wait_head);
		if (r == -ENOSPC)
			break; /* descriptors come back with completions */
		if (r) {
			vio_err("blk driver: queue %u: cannot add a request (%s)", q->index,
				strerror(-r));
			return fail_queue(q, r == -EIO ? -EPROTO : r);
		}
		q->free = s->next_free;
		added = true;
	}
	if (added) {
		r = vio_driver_queue_kick(q->dq);
		if (r) {
			vio_err("blk driver: queue %u: notify failed (%s)", q->index, strerror(-r));
			n = fail_queue(q, -EIO);
		}
	}
	return n;
}

/* ---- submitting ------------------------------------------------------------- */

static int check_range(const struct vio_blk_drv *drv, uint64_t offset, uint64_t len)
{
	uint64_t cap = drv->info.capacity << VIRTIO_BLK_SECTOR_SHIFT;

	if (!len || (offset | len) % VIRTIO_BLK_SECTOR_SIZE)
		return -EINVAL;
	/* VIRTIO 1.4 §5.2.6.1: no request beyond capacity. */
	if (offset > cap || len > cap - offset)
		return -EINVAL;
	return 0;
}

static int check_write(const struct vio_blk_drv *drv)
{
	return vio_has_feature(drv->info.features, VIRTIO_BLK_F_RO) ? -EROFS : 0;
}

/* Takes @req (fields set by the caller of this) and sends what can go now. */
static int submit(struct vio_blk_drv_queue *q, struct vio_blk_req *req, uint8_t type)
{
	req->priv.type = type;
	req->priv.inflight = 0;
	req->priv.issued = false;
	req->priv.error = 0;
	req->priv.busy = true;
	req->complete = false;
	req->result = 0;
	q->inflight++;
	list_push(&q->wait_head, &q->wait_tail, req);
	issue(q);
	return 0;
}

static int start(struct vio_blk_drv_queue *q, struct vio_blk_req *req)
{
	if (q->error)
		return q->error;
	if (req->priv.busy)
		return -EBUSY;
	memset(&req->priv, 0, sizeof(req->priv));
	return 0;
}

static int submit_rw(struct vio_blk_drv_queue *q, struct vio_blk_req *req, uint8_t type,
		     uint64_t offset, const void *buf, size_t len)
{
	int r = start(q, req);

	if (!r)
		r = check_range(q->drv, offset, len);
	if (!r && type == VIRTIO_BLK_T_OUT)
		r = check_write(q->drv);
	if (!r)
		r = vio_driver_dma_addr(&q->drv->d, buf, len, &req->priv.gpa);
	if (r)
		return r;
	req->priv.buf = (uint8_t *)buf;
	req->priv.offset = offset;
	req->priv.left = len;
	return submit(q, req, type);
}

int vio_blk_drv_read(struct vio_blk_drv_queue *q, struct vio_blk_req *req, uint64_t offset,
		     void *buf, size_t len)
{
	return submit_rw(q, req, VIRTIO_BLK_T_IN, offset, buf, len);
}

int vio_blk_drv_write(struct vio_blk_drv_queue *q, struct vio_blk_req *req, uint64_t offset,
		      const void *buf, size_t len)
{
	return submit_rw(q, req, VIRTIO_BLK_T_OUT, offset, buf, len);
}

static int submit_dz(struct vio_blk_drv_queue *q, struct vio_blk_req *req, uint8_t type,
		     unsigned feature, uint64_t offset, uint64_t len, uint32_t flags)
{
	int r = start(q, req);

	if (!r && !vio_has_feature(q->drv->info.features, feature))
		r = -ENOTSUP;
	if (!r)
		r = check_range(q->drv, offset, len);
	if (!r)
		r = check_write(q->drv);
	if (r)
		return r;
	req->priv.offset = offset;
	req->priv.left = len;
	req->priv.flags = flags;
	return submit(q, req, type);
}

int vio_blk_drv_discard(struct vio_blk_drv_queue *q, struct vio_blk_req *req, uint64_t offset,
			uint64_t len)
{
	/* VIRTIO 1.4 §5.2.6.1: unmap is zero for discard. */
	return submit_dz(q, req, VIRTIO_BLK_T_DISCARD, VIRTIO_BLK_F_DISCARD, offset, len, 0);
}

int vio_blk_drv_write_zeroes(struct vio_blk_drv_queue *q, struct vio_blk_req *req,
			     uint64_t offset, uint64_t len, uint32_t flags)
{
	if (flags & ~VIO_BLK_DRV_UNMAP)
		return -EINVAL;
	return submit_dz(q, req, VIRTIO_BLK_T_WRITE_ZEROES, VIRTIO_BLK_F_WRITE_ZEROES, offset,
			 len, flags ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0);
}

int vio_blk_drv_flush(struct vio_blk_drv_queue *q, struct vio_blk_req *req)
{
	int r = start(q, req);

	if (r)
		return r;
	if (vio_has_feature(q->drv->info.features, VIRTIO_BLK_F_FLUSH))
		return submit(q, req, VIRTIO_BLK_T_FLUSH);
	/* Write-through (VIRTIO 1.4 §5.2.5.1): nothing to do; completes at the next poll. */
	req->priv.type = VIRTIO_BLK_T_FLUSH;
	req->priv.busy = true;
	req->priv.issued = true;
	req->complete = false;
	q->inflight++;
	list_push(&q->done_head, &q->done_tail, req);
	return 0;
}

int vio_blk_drv_get_id(struct vio_blk_drv_queue *q, struct vio_blk_req *req,
		       char id[VIRTIO_BLK_ID_BYTES + 1])
{
	int r = start(q, req);

	if (r)
		return r;
	req->priv.id = id;
	return submit(q, req, VIRTIO_BLK_T_GET_ID);
}

/* ---- completing ------------------------------------------------------------- */

int vio_blk_drv_poll(struct vio_blk_drv_queue *q)
{
	struct vio_blk_req *req;
	uint32_t len;
	void *token;
	int r, n = 0;

	while ((req = list_pop(&q->done_head, &q->done_tail)))
		n += finish(q, req);
	if (q->error)
		return n;
	while ((r = vio_drvq_get_used(q->vq, &token, &len)) == 1)
		n += complete_slot(q, token, len);
	if (r == -EIO) {
		vio_err("blk driver: queue %u: the device broke the ring: %s", q->index,
			vio_drvq_error(q->vq));
		return n + fail_queue(q, -EPROTO);
	}
	return n + issue(q);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Sleeps on the queue's fds; reacts to what woke it. Returns requests finished or -errno. */
static int sleep_on_fds(struct vio_blk_drv_queue *q, int timeout_ms)
{
	struct pollfd p[3] = {
		{ .fd = q->fds.call, .events = POLLIN },
		{ .fd = q->fds.err, .events = POLLIN },
		{ .fd = q->fds.conn, .events = POLLRDHUP }, /* never read: only hang-ups */
	};
	eventfd_t v;
	int r = poll(p, 3, timeout_ms);

	if (r < 0)
		return errno == EINTR ? 0 : -errno;
	if (p[0].revents & POLLIN)
		eventfd_read(q->fds.call, &v);
	if (p[1].revents & POLLIN) {
		eventfd_read(q->fds.err, &v);
		vio_err("blk driver: queue %u: the device reports the ring broken", q->index);
		r = vio_blk_drv_poll(q);
		return r + fail_queue(q, -EIO);
	}
	if (p[2].revents & (POLLHUP | POLLERR | POLLRDHUP | POLLNVAL)) {
		vio_err("blk driver: queue %u: the device is gone", q->index);
		r = vio_blk_drv_poll(q); /* what it completed before going */
		return r + fail_queue(q, -ECONNRESET);
	}
	return 0;
}

int vio_blk_drv_wait(struct vio_blk_drv_queue *q, int timeout_ms)
{
	long long deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;

	for (;;) {
		int left, n;

		/* No interrupts while taking what is there (VIRTIO 1.4 §2.7.7.1). */
		vio_drvq_cb_disable(q->vq);
		n = vio_blk_drv_poll(q);
		if (n > 0 || q->inflight == 0 || q->error)
			return n;
		/* Re-arm, then re-check, before sleeping (VIRTIO 1.4 §2.7.7.1). */
		if (vio_drvq_cb_enable(q->vq))
			continue;
		left = deadline < 0 ? -1 : (int)(deadline - now_ms() > 0 ? deadline - now_ms() : 0);
		n = sleep_on_fds(q, left);
		if (n)
			return n;
		if (deadline >= 0 && now_ms() >= deadline)
			return vio_blk_drv_poll(q);
	}
}

int vio_blk_drv_wait_req(struct vio_blk_drv_queue *q, struct vio_blk_req *req, int timeout_ms)
{
	long long deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;

	while (!req->complete) {
		long long left = deadline < 0 ? -1 : deadline - now_ms();
		int r;

		if (deadline >= 0 && left <= 0)
			return -ETIMEDOUT;
		if (!req->priv.busy)
			return -EINVAL; /* never submitted */
		r = vio_blk_drv_wait(q, (int)left);
		if (r < 0)
			return r;
	}
	return req->result;
}

void vio_blk_drv_abandon(struct vio_blk_drv_queue *q, struct vio_blk_req *req)
{
	if (!req->priv.busy)
		return;
	list_remove(&q->wait_head, &q->wait_tail, req);
	list_remove(&q->done_head, &q->done_tail, req);
	/* Its slots stay in flight, orphaned: completing one only frees the slot. */
	for (uint32_t i = 0; i < q->drv->info.depth; i++)
		if (q->slots[i].req == req)
			q->slots[i].req = NULL;
	req->priv.busy = false;
	q->inflight--;
}

uint32_t vio_blk_drv_inflight(const struct vio_blk_drv_queue *q)
{
	return q->inflight;
}

int vio_blk_drv_queue_error(const struct vio_blk_drv_queue *q)
{
	return q->error;
}
