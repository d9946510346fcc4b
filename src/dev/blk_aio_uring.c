/* SPDX-License-Identifier: BSD-3-Clause */
/* The io_uring block I/O engine: one ring per queue, completions signalled on a registered eventfd. */
#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "blk_aio.h"

struct aio_uring {
	struct blk_aio base; /* first: the engine is handed out as &base */
	struct io_uring ring;
	uint32_t unsubmitted; /* SQEs prepared since the last io_uring_submit() */
};

static struct aio_uring *to_uring(struct blk_aio *a)
{
	return (struct aio_uring *)a;
}

/* io_uring refused by the kernel or a policy, as opposed to a resource error. */
static int setup_error(int err)
{
	return err == -ENOSYS || err == -EPERM ? -ENOTSUP : err;
}

int blk_aio_uring_probe(void)
{
	struct io_uring ring;
	int r = io_uring_queue_init(2, &ring, 0);

	if (r < 0)
		return setup_error(r);
	io_uring_queue_exit(&ring);
	return 0;
}

/* Fills @sqe for the next issue of @r. */
static void prep(struct aio_uring *u, struct io_uring_sqe *sqe, struct blk_aio_req *r)
{
	int fd = u->base.fd;

	switch (r->cur) {
	case BLK_AIO_READV:
		io_uring_prep_readv(sqe, fd, r->iov, blk_aio_iovcnt(r), blk_aio_pos(r));
		break;
	case BLK_AIO_WRITEV:
	case BLK_AIO_ZERO_WRITE:
		io_uring_prep_writev2(sqe, fd, r->iov, blk_aio_iovcnt(r), blk_aio_pos(r),
				      r->dsync ? RWF_DSYNC : 0);
		break;
	case BLK_AIO_FDATASYNC:
		io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
		break;
	default:
		io_uring_prep_fallocate(sqe, fd, blk_aio_falloc_mode(r->cur), (off_t)r->offset,
					(off_t)r->len);
		break;
	}
	io_uring_sqe_set_data(sqe, r);
}

/* Queues the next issue of @r. 0, or -EBUSY if the ring cannot take it. */
static int issue(struct aio_uring *u, struct blk_aio_req *r)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);

	if (!sqe) {
		/* The submission ring is full: hand it to the kernel, then retry. */
		io_uring_submit(&u->ring);
		u->unsubmitted = 0;
		sqe = io_uring_get_sqe(&u->ring);
		if (!sqe)
			return -EBUSY;
	}
	prep(u, sqe, r);
	u->unsubmitted++;
	return 0;
}

static int uring_kick(struct blk_aio *a)
{
	struct aio_uring *u = to_uring(a);
	int r;

	if (!u->unsubmitted)
		return 0;
	do
		r = io_uring_submit(&u->ring);
	while (r == -EINTR);
	if (r < 0)
		return r; /* the SQEs stay queued for the next kick */
	u->unsubmitted = 0;
	return 0;
}

static int uring_submit(struct blk_aio *a, struct blk_aio_req *r)
{
	return issue(to_uring(a), r);
}

/* Empties the eventfd counter; completions after this signal it again. */
static void drain_eventfd(int efd)
{
	uint64_t v;

	while (read(efd, &v, sizeof(v)) < 0 && errno == EINTR)
		;
}

/*
 * Handles one CQE: true with @r finished, false if it was reissued (or, if
 * the reissue failed, finished with the error).
 */
static bool handle_cqe(struct aio_uring *u, struct blk_aio_req *r, int res)
{
	int err;

	if (blk_aio_progress(r, res))
		return true;
	err = issue(u, r);
	if (err) {
		r->res = err;
		return true;
	}
	return false;
}

static uint32_t uring_reap(struct blk_aio *a, struct blk_aio_req **done, uint32_t cap)
{
	struct aio_uring *u = to_uring(a);
	struct io_uring_cqe *cqe;
	uint32_t n = 0;

	drain_eventfd(a->efd);
	while (n < cap && io_uring_peek_cqe(&u->ring, &cqe) == 0) {
		struct blk_aio_req *r = io_uring_cqe_get_data(cqe);
		int res = cqe->res;

		io_uring_cqe_seen(&u->ring, cqe);
		if (handle_cqe(u, r, res))
			done[n++] = r;
	}
	uring_kick(a); /* the rest of short transfers, retries, fallbacks */
	return n;
}

/* Waits for every operation in flight (their results are dropped). */
static void uring_drain(struct aio_uring *u)
{
	uint32_t left = u->base.inflight;

	uring_kick(&u->base);
	while (left) {
		struct io_uring_cqe *cqe;
		struct blk_aio_req *r;
		int res;

		if (io_uring_wait_cqe(&u->ring, &cqe) < 0)
			break;
		r = io_uring_cqe_get_data(cqe);
		res = cqe->res;
		io_uring_cqe_seen(&u->ring, cqe);
		if (handle_cqe(u, r, res))
			left--;
		uring_kick(&u->base);
	}
}

static void uring_destroy(struct blk_aio *a)
{
	struct aio_uring *u = to_uring(a);

	uring_drain(u);
	io_uring_queue_exit(&u->ring);
	close(a->efd);
	free(u);
}

static int uring_create(int fd, uint32_t depth, struct blk_aio **out)
{
	struct aio_uring *u = calloc(1, sizeof(*u));
	int r;

	if (!u)
		return -ENOMEM;
	u->base.ops = &blk_aio_uring_ops;
	u->base.fd = fd;
	u->base.depth = depth;
	u->base.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (u->base.efd < 0) {
		r = -errno;
		free(u);
		return r;
	}
	/* One SQE per request: at most depth in flight; the CQ ring is twice that. */
	r = io_uring_queue_init(depth, &u->ring, 0);
	if (r < 0)
		goto fail;
	r = io_uring_register_eventfd(&u->ring, u->base.efd);
	if (r < 0) {
		io_uring_queue_exit(&u->ring);
		goto fail;
	}
	*out = &u->base;
	return 0;
fail:
	close(u->base.efd);
	free(u);
	return setup_error(r);
}

const struct blk_aio_ops blk_aio_uring_ops = {
	.name = "io_uring",
	.create = uring_create,
	.destroy = uring_destroy,
	.submit = uring_submit,
	.kick = uring_kick,
	.reap = uring_reap,
};
