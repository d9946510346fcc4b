/* SPDX-License-Identifier: BSD-3-Clause */
/* The engine-independent part of block I/O: submit/reap accounting, short transfers, fallbacks, faults. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/falloc.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/uio.h>

#include "blk_aio.h"

/* The fallback for write zeroes writes from this (never written) buffer. */
#define ZERO_BUF_BYTES ((size_t)256 * 1024)
static uint8_t zero_buf[ZERO_BUF_BYTES];

/* Consecutive -EAGAIN / -EINTR tolerated before giving up with the error. */
#define MAX_RETRIES 64

/*
 * Larger requests go to the engine: the queue thread stalls for one
 * request's copy at most (about 0.3 ms for 1 MiB from tmpfs). Up to this
 * size inline was measured faster than io-wq's workers even when they
 * overlap the copies (1 MiB sequential: equal bandwidth for 12% less CPU;
 * 256 KiB random on 2 queues: 1.6x the bandwidth for 25% less CPU).
 */
#define INLINE_MAX_BYTES (1u << 20)
/* After this many RWF_NOWAIT misses in a row, ... */
#define INLINE_MISS_STREAK 4u
/* ... this many requests skip the attempt (cold data: no wasted syscall each). */
#define INLINE_SKIP 64u

/* The inline mode an image's file system allows (see blk_aio.h). */
static enum blk_aio_inline inline_mode(int fd)
{
	struct statfs sfs;
	struct stat st;

	if (fstat(fd, &st) || fstatfs(fd, &sfs))
		return BLK_AIO_INLINE_OFF;
	/* Memory-backed: page cache is the storage (tmpfs has no FMODE_NOWAIT). */
	if (S_ISREG(st.st_mode) && (sfs.f_type == TMPFS_MAGIC || sfs.f_type == RAMFS_MAGIC))
		return BLK_AIO_INLINE_ALWAYS;
	return BLK_AIO_INLINE_NOWAIT;
}

int blk_aio_create(enum vio_blk_aio kind, int fd, uint32_t depth, struct blk_aio **out)
{
	const struct blk_aio_ops *ops;

	if (fd < 0 || depth == 0)
		return -EINVAL;
	switch (kind) {
	case VIO_BLK_AIO_IO_URING:
		ops = &blk_aio_uring_ops;
		break;
	case VIO_BLK_AIO_THREADS:
		ops = &blk_aio_threads_ops;
		break;
	default:
		return -EINVAL;
	}
	int err = ops->create(fd, depth, out);

	if (!err) {
		(*out)->inl[0] = (*out)->inl[1] = (uint8_t)inline_mode(fd);
		(*out)->inl_misses[0] = (*out)->inl_misses[1] = 0;
		(*out)->inl_skip[0] = (*out)->inl_skip[1] = 0;
	}
	return err;
}

void blk_aio_set_inline(struct blk_aio *a, bool on)
{
	a->inl[0] = a->inl[1] = (uint8_t)(on ? inline_mode(a->fd) : BLK_AIO_INLINE_OFF);
}

void blk_aio_destroy(struct blk_aio *a)
{
	if (a)
		a->ops->destroy(a);
}

int blk_aio_submit(struct blk_aio *a, struct blk_aio_req *r)
{
	int err;

	if ((unsigned)r->op >= BLK_AIO_ZERO_WRITE)
		return -EINVAL;
	if (a->inflight >= a->depth)
		return -EBUSY;
	r->cur = r->op;
	r->done = 0;
	r->retries = 0;
	r->res = 0;
	r->next = NULL;
	err = a->ops->submit(a, r);
	if (!err)
		a->inflight++;
	return err;
}

int blk_aio_kick(struct blk_aio *a)
{
	return a->ops->kick(a);
}

/* Applies an injected fault to a finished request. */
static void apply_fault(struct blk_aio *a, struct blk_aio_req *r)
{
	struct blk_aio_fault *f = &a->fault;

	if (f->count && (f->op_mask & (1u << r->op))) {
		f->count--;
		r->res = f->err;
	}
}

uint32_t blk_aio_reap(struct blk_aio *a, struct blk_aio_req **done, uint32_t cap)
{
	uint32_t n = a->ops->reap(a, done, cap);

	for (uint32_t i = 0; i < n; i++)
		apply_fault(a, done[i]);
	a->inflight -= n;
	return n;
}

/* One preadv2 / pwritev2 of the next piece of @r: bytes, or -errno. */
static int64_t rw_inline(int fd, struct blk_aio_req *r, int flags)
{
	ssize_t n;

	if (r->cur == BLK_AIO_READV)
		n = preadv2(fd, r->iov, (int)blk_aio_iovcnt(r), (off_t)blk_aio_pos(r), flags);
	else
		n = pwritev2(fd, r->iov, (int)blk_aio_iovcnt(r), (off_t)blk_aio_pos(r),
			     flags | (r->dsync ? RWF_DSYNC : 0));
	return n < 0 ? -errno : n;
}

/* A NOWAIT miss: the rest of @r goes to the engine; after a streak, skip a while. */
static bool inline_miss(struct blk_aio *a, struct blk_aio_req *r, bool w)
{
	if (++a->inl_misses[w] >= INLINE_MISS_STREAK) {
		a->inl_misses[w] = 0;
		a->inl_skip[w] = INLINE_SKIP;
	}
	/* blk_aio_submit() starts from done = 0: describe only what is left. */
	r->offset += r->done;
	r->len -= r->done;
	r->done = 0;
	return false;
}

bool blk_aio_try_inline(struct blk_aio *a, struct blk_aio_req *r)
{
	bool w = r->op == BLK_AIO_WRITEV;
	enum blk_aio_inline mode;

	if ((r->op != BLK_AIO_READV && !w) || r->len > INLINE_MAX_BYTES)
		return false;
	mode = (enum blk_aio_inline)a->inl[w];
	if (mode == BLK_AIO_INLINE_OFF)
		return false;
	if (a->inl_skip[w]) {
		a->inl_skip[w]--;
		return false;
	}
	r->cur = r->op;
	r->done = 0;
	r->retries = 0;
	r->res = 0;
	for (;;) {
		int64_t res = rw_inline(a->fd, r, mode == BLK_AIO_INLINE_NOWAIT ? RWF_NOWAIT : 0);

		if (mode == BLK_AIO_INLINE_NOWAIT) {
			if (res == -EAGAIN)
				return inline_miss(a, r, w);
			/* No RWF_NOWAIT for this file (or for its buffered writes): stop trying. */
			if (res == -EOPNOTSUPP || res == -EINVAL) {
				a->inl[w] = BLK_AIO_INLINE_OFF;
				return inline_miss(a, r, w);
			}
			a->inl_misses[w] = 0;
		}
		if (blk_aio_progress(r, res)) {
			apply_fault(a, r);
			return true;
		}
		/* A short transfer (or EINTR): the rest, at once. */
	}
}

void blk_aio_inject_fault(struct blk_aio *a, uint32_t op_mask, int err, uint32_t count)
{
	a->fault.op_mask = op_mask;
	a->fault.err = err;
	a->fault.count = count;
}

int blk_aio_falloc_mode(enum blk_aio_op op)
{
	switch (op) {
	case BLK_AIO_DISCARD:
	case BLK_AIO_ZERO_UNMAP:
		return FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	case BLK_AIO_ZERO:
		return FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
	default:
		return 0;
	}
}

uint32_t blk_aio_iovcnt(const struct blk_aio_req *r)
{
	return r->iovcnt > IOV_MAX ? IOV_MAX : r->iovcnt;
}

static bool finish(struct blk_aio_req *r, int64_t res)
{
	r->res = res < 0 ? (int)res : 0;
	return true;
}

/* Points the zero-write iovec at the next piece of the range. */
static void zero_iov_next(struct blk_aio_req *r)
{
	uint64_t left = r->len - r->done;

	r->zero_iov.iov_base = zero_buf;
	r->zero_iov.iov_len = left < ZERO_BUF_BYTES ? (size_t)left : ZERO_BUF_BYTES;
	r->iov = &r->zero_iov;
	r->iovcnt = 1;
}

/* Skips @n transferred bytes of the request's iovecs. */
static void advance(struct blk_aio_req *r, uint64_t n)
{
	r->done += n;
	if (r->cur == BLK_AIO_ZERO_WRITE) {
		zero_iov_next(r);
		return;
	}
	while (n && r->iovcnt) {
		if (n >= r->iov->iov_len) {
			n -= r->iov->iov_len;
			r->iov++;
			r->iovcnt--;
		} else {
			r->iov->iov_base = (uint8_t *)r->iov->iov_base + n;
			r->iov->iov_len -= (size_t)n;
			n = 0;
		}
	}
}

/* readv / writev / zero writes: partial transfers go on where they stopped. */
static bool rw_progress(struct blk_aio_req *r, int64_t res)
{
	if (res < 0)
		return finish(r, res);
	if ((uint64_t)res > r->len - r->done)
		return finish(r, -EIO);
	if (res == 0 && r->done < r->len)
		return finish(r, -EIO); /* end of file (image shrank) or no progress */
	advance(r, (uint64_t)res);
	return r->done == r->len ? finish(r, 0) : false;
}

bool blk_aio_progress(struct blk_aio_req *r, int64_t res)
{
	if (res == -EAGAIN || res == -EINTR) {
		if (++r->retries <= MAX_RETRIES)
			return false;
		return finish(r, res);
	}
	r->retries = 0;
	switch (r->cur) {
	case BLK_AIO_READV:
	case BLK_AIO_WRITEV:
	case BLK_AIO_ZERO_WRITE:
		return rw_progress(r, res);
	case BLK_AIO_DISCARD:
		/* Discard is advisory (VIRTIO 1.4 §5.2.6.2 "MAY deallocate"). */
		return finish(r, res == -EOPNOTSUPP ? 0 : res);
	case BLK_AIO_ZERO_UNMAP:
		if (res != -EOPNOTSUPP)
			return finish(r, res);
		r->cur = BLK_AIO_ZERO; /* cannot deallocate here: zero in place */
		return false;
	case BLK_AIO_ZERO:
		if (res != -EOPNOTSUPP)
			return finish(r, res);
		r->cur = BLK_AIO_ZERO_WRITE; /* no ZERO_RANGE: write the zeroes */
		r->done = 0;
		zero_iov_next(r);
		return r->len == 0 ? finish(r, 0) : false;
	case BLK_AIO_FDATASYNC:
	default:
		return finish(r, res);
	}
}
