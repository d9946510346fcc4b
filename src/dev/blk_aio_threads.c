/* SPDX-License-Identifier: BSD-3-Clause */
/* The thread-pool block I/O engine: a few workers per queue run blocking syscalls; completions come back through an eventfd. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include "blk_aio.h"

/* Workers per queue: enough to overlap a few blocking syscalls. */
#define AIO_THREADS 4u
/* A worker only makes syscalls: a small stack (many queues, many workers). */
#define AIO_STACK_BYTES ((size_t)256 * 1024)

/* A FIFO of requests linked through blk_aio_req.next (no allocation). */
struct req_list {
	struct blk_aio_req *head, *tail;
};

struct aio_threads {
	struct blk_aio base; /* first: the engine is handed out as &base */
	pthread_mutex_t lock;
	pthread_cond_t work;      /* signalled when todo gets a request or stop is set */
	struct req_list todo;     /* submitted, not yet taken by a worker */
	struct req_list finished; /* done by a worker, not yet reaped */
	struct req_list staged;   /* submitted since the last kick (queue thread only) */
	bool stop;
	uint32_t nthreads;
	pthread_t threads[AIO_THREADS];
};

static struct aio_threads *to_threads(struct blk_aio *a)
{
	return (struct aio_threads *)a;
}

static void list_push(struct req_list *l, struct blk_aio_req *r)
{
	r->next = NULL;
	if (l->tail)
		l->tail->next = r;
	else
		l->head = r;
	l->tail = r;
}

static struct blk_aio_req *list_pop(struct req_list *l)
{
	struct blk_aio_req *r = l->head;

	if (r) {
		l->head = r->next;
		if (!l->head)
			l->tail = NULL;
	}
	return r;
}

/* Appends all of @from to @to and empties @from. */
static void list_splice(struct req_list *to, struct req_list *from)
{
	if (!from->head)
		return;
	if (to->tail)
		to->tail->next = from->head;
	else
		to->head = from->head;
	to->tail = from->tail;
	from->head = from->tail = NULL;
}

/* One blocking syscall for the next issue of @r: bytes or 0, or -errno. */
static int64_t issue_sync(int fd, struct blk_aio_req *r)
{
	ssize_t n;

	switch (r->cur) {
	case BLK_AIO_READV:
		n = preadv2(fd, r->iov, (int)blk_aio_iovcnt(r), (off_t)blk_aio_pos(r), 0);
		break;
	case BLK_AIO_WRITEV:
	case BLK_AIO_ZERO_WRITE:
		n = pwritev2(fd, r->iov, (int)blk_aio_iovcnt(r), (off_t)blk_aio_pos(r),
			     r->dsync ? RWF_DSYNC : 0);
		break;
	case BLK_AIO_FDATASYNC:
		n = fdatasync(fd);
		break;
	default:
		n = fallocate(fd, blk_aio_falloc_mode(r->cur), (off_t)r->offset, (off_t)r->len);
		break;
	}
	return n < 0 ? -errno : n;
}

static void run(int fd, struct blk_aio_req *r)
{
	while (!blk_aio_progress(r, issue_sync(fd, r)))
		;
}

static void signal_eventfd(int efd)
{
	uint64_t one = 1;

	while (write(efd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

static void *worker(void *arg)
{
	struct aio_threads *t = arg;

	pthread_mutex_lock(&t->lock);
	for (;;) {
		struct blk_aio_req *r;

		while (!t->stop && !t->todo.head)
			pthread_cond_wait(&t->work, &t->lock);
		r = list_pop(&t->todo);
		if (!r)
			break; /* stopping, and nothing left to do */
		pthread_mutex_unlock(&t->lock);
		run(t->base.fd, r);
		pthread_mutex_lock(&t->lock);
		list_push(&t->finished, r);
		signal_eventfd(t->base.efd);
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

static int threads_submit(struct blk_aio *a, struct blk_aio_req *r)
{
	list_push(&to_threads(a)->staged, r);
	return 0;
}

static int threads_kick(struct blk_aio *a)
{
	struct aio_threads *t = to_threads(a);

	if (!t->staged.head)
		return 0;
	pthread_mutex_lock(&t->lock);
	list_splice(&t->todo, &t->staged);
	pthread_cond_broadcast(&t->work);
	pthread_mutex_unlock(&t->lock);
	return 0;
}

static uint32_t threads_reap(struct blk_aio *a, struct blk_aio_req **done, uint32_t cap)
{
	struct aio_threads *t = to_threads(a);
	uint64_t v;
	uint32_t n = 0;

	/* Read the counter before taking the list: a later signal is kept. */
	while (read(a->efd, &v, sizeof(v)) < 0 && errno == EINTR)
		;
	pthread_mutex_lock(&t->lock);
	while (n < cap) {
		struct blk_aio_req *r = list_pop(&t->finished);

		if (!r)
			break;
		done[n++] = r;
	}
	pthread_mutex_unlock(&t->lock);
	return n;
}

/* Stops the workers after they have run everything submitted. */
static void stop_workers(struct aio_threads *t)
{
	threads_kick(&t->base);
	pthread_mutex_lock(&t->lock);
	t->stop = true;
	pthread_cond_broadcast(&t->work);
	pthread_mutex_unlock(&t->lock);
	for (uint32_t i = 0; i < t->nthreads; i++)
		pthread_join(t->threads[i], NULL);
	t->nthreads = 0;
}

static void threads_free(struct aio_threads *t)
{
	pthread_cond_destroy(&t->work);
	pthread_mutex_destroy(&t->lock);
	close(t->base.efd);
	free(t);
}

static void threads_destroy(struct blk_aio *a)
{
	struct aio_threads *t = to_threads(a);

	stop_workers(t);
	threads_free(t);
}

/* Starts the workers with every signal blocked: signals are the daemon's main thread's. */
static int start_workers(struct aio_threads *t, uint32_t n)
{
	sigset_t all, old;
	pthread_attr_t attr;
	int err = pthread_attr_init(&attr);

	if (err)
		return -err;
	pthread_attr_setstacksize(&attr, AIO_STACK_BYTES);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (t->nthreads = 0; t->nthreads < n; t->nthreads++) {
		err = pthread_create(&t->threads[t->nthreads], &attr, worker, t);
		if (err)
			break;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	return -err;
}

static int threads_create(int fd, uint32_t depth, struct blk_aio **out)
{
	struct aio_threads *t = calloc(1, sizeof(*t));
	int err;

	if (!t)
		return -ENOMEM;
	t->base.ops = &blk_aio_threads_ops;
	t->base.fd = fd;
	t->base.depth = depth;
	t->base.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (t->base.efd < 0) {
		err = -errno;
		free(t);
		return err;
	}
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->work, NULL);
	err = start_workers(t, depth < AIO_THREADS ? depth : AIO_THREADS);
	if (err) {
		stop_workers(t);
		threads_free(t);
		return err;
	}
	*out = &t->base;
	return 0;
}

const struct blk_aio_ops blk_aio_threads_ops = {
	.name = "threads",
	.create = threads_create,
	.destroy = threads_destroy,
	.submit = threads_submit,
	.kick = threads_kick,
	.reap = threads_reap,
};
