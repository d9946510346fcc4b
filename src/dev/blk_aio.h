/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The block I/O engine interface (internal): asynchronous readv / writev /
 * fdatasync / fallocate on one image fd, for one queue, completed through
 * an eventfd.
 *
 * Two engines implement it (struct blk_aio_ops, designated initialisers):
 *   io_uring (blk_aio_uring.c): one ring per queue, sized for the queue;
 *   threads  (blk_aio_threads.c): a small fixed pool of workers per queue,
 *            for where io_uring is not allowed (seccomp, io_uring_disabled).
 *
 * Life of an operation:
 *
 *   caller                         engine
 *   fill a struct blk_aio_req  ->  blk_aio_submit() queues it
 *   blk_aio_kick()             ->  hands queued work to the kernel / workers
 *                                  (short transfers, -EAGAIN and -EINTR are
 *                                  resubmitted inside the engine; fallocate
 *                                  modes the file system refuses fall back)
 *   event fd readable          <-  one or more operations finished
 *   blk_aio_reap()             ->  returns finished requests, res set
 *
 * Before submitting a read or write, the caller may offer it to
 * blk_aio_try_inline(): the queue thread then does it itself with one
 * preadv2 / pwritev2 when that cannot wait for a device: always on a
 * memory-backed image (tmpfs, ramfs), and elsewhere with RWF_NOWAIT
 * (page-cache hits; a miss returns -EAGAIN and the request goes to the
 * engine). io_uring punts buffered I/O on files without FMODE_NOWAIT
 * (tmpfs) to its io-wq workers, and a worker thread costs a hand-off per
 * request, so on such files inline is several times cheaper.
 *
 * A request belongs to the engine from submit until reap returns it; the
 * caller owns its storage (no allocation per request) and the iovec array
 * it points to, which the engine may advance in place. An engine is used by
 * one thread (the queue's); its workers, if any, are internal.
 */
#ifndef VIO_DEV_BLK_AIO_H
#define VIO_DEV_BLK_AIO_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vio/blk.h"

enum blk_aio_op {
	BLK_AIO_READV = 0,  /* preadv: len bytes at offset into iov */
	BLK_AIO_WRITEV,     /* pwritev: len bytes of iov at offset (RWF_DSYNC if dsync) */
	BLK_AIO_FDATASYNC,  /* fdatasync(fd) */
	BLK_AIO_DISCARD,    /* PUNCH_HOLE|KEEP_SIZE; EOPNOTSUPP counts as done (advisory) */
	BLK_AIO_ZERO_UNMAP, /* PUNCH_HOLE|KEEP_SIZE; on EOPNOTSUPP as BLK_AIO_ZERO */
	BLK_AIO_ZERO,       /* ZERO_RANGE|KEEP_SIZE; on EOPNOTSUPP writes zeroes */
	BLK_AIO_ZERO_WRITE, /* internal: the fallback writing zeroes; not for submit */
	BLK_AIO_NR_OPS,
};

/* One operation; storage owned by the caller. */
struct blk_aio_req {
	/* Set by the caller before blk_aio_submit(): */
	enum blk_aio_op op;
	bool dsync;          /* WRITEV and zero writes: write through (RWF_DSYNC) */
	struct iovec *iov;   /* READV / WRITEV: the data; advanced in place */
	uint32_t iovcnt;
	uint64_t offset;     /* bytes (not FDATASYNC) */
	uint64_t len;        /* bytes: sum of iov, or the fallocate range (not FDATASYNC) */
	void *token;         /* the caller's */
	/* Set by the engine when blk_aio_reap() returns the request: */
	int res;             /* 0: all len bytes done; or -errno */
	/* Engine private: */
	enum blk_aio_op cur;     /* the op being issued (fallbacks change it) */
	uint64_t done;           /* bytes transferred so far */
	uint32_t retries;        /* consecutive -EAGAIN / -EINTR */
	struct iovec zero_iov;   /* BLK_AIO_ZERO_WRITE */
	struct blk_aio_req *next;
};

struct blk_aio;

struct blk_aio_ops {
	const char *name;
	/* Creates an engine for @depth operations in flight on @fd. 0 or -errno. */
	int (*create)(int fd, uint32_t depth, struct blk_aio **out);
	/* Waits for operations in flight, then frees everything. */
	void (*destroy)(struct blk_aio *a);
	/* Queues @r (cur, done, retries already reset). 0 or -errno. */
	int (*submit)(struct blk_aio *a, struct blk_aio_req *r);
	/* Starts what submit queued. 0 or -errno. */
	int (*kick)(struct blk_aio *a);
	/* Up to @cap finished requests into @done. Count, never blocks. */
	uint32_t (*reap)(struct blk_aio *a, struct blk_aio_req **done, uint32_t cap);
};

/* A fault for tests: the next @count completions of ops in @op_mask fail with @err. */
struct blk_aio_fault {
	uint32_t op_mask; /* bit (1u << enum blk_aio_op) */
	int err;          /* negative errno */
	uint32_t count;
};

/* How blk_aio_try_inline() treats a direction (reads, writes). */
enum blk_aio_inline {
	BLK_AIO_INLINE_OFF = 0, /* always the engine (NOWAIT not supported, or turned off) */
	BLK_AIO_INLINE_NOWAIT,  /* RWF_NOWAIT: what would wait goes to the engine */
	BLK_AIO_INLINE_ALWAYS,  /* a memory-backed image: nothing waits for a device */
};

/* The common part every engine embeds first. */
struct blk_aio {
	const struct blk_aio_ops *ops;
	int fd;            /* the image; not owned */
	int efd;           /* the completion eventfd; owned by the engine */
	uint32_t depth;
	uint32_t inflight; /* submitted, not yet reaped */
	struct blk_aio_fault fault;
	/* Inline I/O, [0] reads and [1] writes (see blk_aio_try_inline()). */
	uint8_t inl[2];        /* enum blk_aio_inline */
	uint8_t inl_misses[2]; /* consecutive RWF_NOWAIT misses */
	uint32_t inl_skip[2];  /* requests left to send straight to the engine */
};

extern const struct blk_aio_ops blk_aio_uring_ops;
extern const struct blk_aio_ops blk_aio_threads_ops;

/*
 * Creates an engine of kind @kind for @depth (>= 1) operations on @fd.
 * Returns 0; -EINVAL; -ENOMEM; -ENOTSUP when io_uring is not available
 * (ENOSYS / EPERM from io_uring_setup: not built in, disabled, seccomp);
 * other setup errors.
 */
int blk_aio_create(enum vio_blk_aio kind, int fd, uint32_t depth, struct blk_aio **out);

/*
 * Does @r (READV or WRITEV, as for blk_aio_submit()) right here when that
 * cannot wait for a device. Returns true when @r is finished (res set,
 * injected faults applied: as if reaped; it never counts as in flight);
 * false when the caller must blk_aio_submit() it: inline is off for this
 * direction, the request is large, or the data is not in the page cache.
 * In that case part of it may be done already: offset, len and the iovecs
 * then describe the rest.
 */
bool blk_aio_try_inline(struct blk_aio *a, struct blk_aio_req *r);

/*
 * Test hook: inline I/O for @a on (as chosen at creation from the image's
 * file system) or off (every request to the engine).
 */
void blk_aio_set_inline(struct blk_aio *a, bool on);

/* Waits for operations in flight and frees @a (NULL is a no-op). */
void blk_aio_destroy(struct blk_aio *a);

/* 0 if an io_uring can be set up here, -ENOTSUP if not. */
int blk_aio_uring_probe(void);

/*
 * Queues @r. The caller keeps @r and its iovecs alive and untouched until
 * blk_aio_reap() returns it. At most @depth requests may be in flight.
 * Returns 0; -EINVAL for a bad op; -EBUSY when @depth are already in flight.
 */
int blk_aio_submit(struct blk_aio *a, struct blk_aio_req *r);

/* Starts the queued requests (call after a batch of submits). 0 or -errno. */
int blk_aio_kick(struct blk_aio *a);

/*
 * Clears the event fd and returns up to @cap finished requests in @done
 * (each with res set). When it returns @cap, call again: more may be ready.
 */
uint32_t blk_aio_reap(struct blk_aio *a, struct blk_aio_req **done, uint32_t cap);

/* The fd that becomes readable when a request finishes. */
static inline int blk_aio_event_fd(const struct blk_aio *a)
{
	return a->efd;
}

/* Test hook: makes the next @count completions of ops in @op_mask fail with @err. */
void blk_aio_inject_fault(struct blk_aio *a, uint32_t op_mask, int err, uint32_t count);

/*
 * For engines: accounts the result @res (bytes, or -errno) of one issue of
 * @r. Returns true when @r is finished (r->res set), false when the engine
 * must issue r->cur again at blk_aio_pos(r) (rest of a short transfer, a
 * retry, or a fallback).
 */
bool blk_aio_progress(struct blk_aio_req *r, int64_t res);

/* For engines: the file offset of the next issue of @r. */
static inline uint64_t blk_aio_pos(const struct blk_aio_req *r)
{
	return r->offset + r->done;
}

/* For engines: the fallocate(2) mode of a fallocate op. */
int blk_aio_falloc_mode(enum blk_aio_op op);

/* For engines: iovecs for one readv / writev call (capped at IOV_MAX). */
uint32_t blk_aio_iovcnt(const struct blk_aio_req *r);

#endif /* VIO_DEV_BLK_AIO_H */
