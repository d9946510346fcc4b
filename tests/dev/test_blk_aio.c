/* SPDX-License-Identifier: BSD-3-Clause */
/* Tests of the block I/O engines: the common progress rules, and each engine on a real file. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/filter.h>
#include <linux/magic.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "dev/blk_aio.h"

/* ---- blk_aio_progress(): no engine needed ---- */

static void req_init(struct blk_aio_req *r, enum blk_aio_op op, struct iovec *iov,
		     uint32_t n, uint64_t off, uint64_t len)
{
	memset(r, 0, sizeof(*r));
	r->op = r->cur = op;
	r->iov = iov;
	r->iovcnt = n;
	r->offset = off;
	r->len = len;
}

static void short_transfers_advance_the_iovecs(void **state)
{
	static uint8_t a[100], b[300];
	struct iovec iov[2] = { { a, 100 }, { b, 300 } };
	struct blk_aio_req r;

	(void)state;
	req_init(&r, BLK_AIO_READV, iov, 2, 4096, 400);
	assert_false(blk_aio_progress(&r, 60));
	assert_true(blk_aio_pos(&r) == 4096 + 60);
	assert_ptr_equal(r.iov[0].iov_base, a + 60);
	assert_int_equal(r.iov[0].iov_len, 40);
	assert_false(blk_aio_progress(&r, 140)); /* the rest of a, 100 of b */
	assert_int_equal(r.iovcnt, 1);
	assert_ptr_equal(r.iov[0].iov_base, b + 100);
	assert_int_equal(r.iov[0].iov_len, 200);
	assert_true(blk_aio_progress(&r, 200));
	assert_int_equal(r.res, 0);
}

static void end_of_file_and_overlong_results_are_eio(void **state)
{
	static uint8_t a[512];
	struct iovec iov = { a, 512 };
	struct blk_aio_req r;

	(void)state;
	req_init(&r, BLK_AIO_READV, &iov, 1, 0, 512);
	assert_false(blk_aio_progress(&r, 100));
	assert_true(blk_aio_progress(&r, 0));
	assert_int_equal(r.res, -EIO);
	iov = (struct iovec){ a, 512 };
	req_init(&r, BLK_AIO_WRITEV, &iov, 1, 0, 512);
	assert_true(blk_aio_progress(&r, 513));
	assert_int_equal(r.res, -EIO);
	iov = (struct iovec){ a, 512 };
	req_init(&r, BLK_AIO_WRITEV, &iov, 1, 0, 512);
	assert_true(blk_aio_progress(&r, -ENOSPC));
	assert_int_equal(r.res, -ENOSPC);
}

static void eagain_and_eintr_are_retried_a_bounded_number_of_times(void **state)
{
	struct blk_aio_req r;
	int tries = 0;

	(void)state;
	req_init(&r, BLK_AIO_FDATASYNC, NULL, 0, 0, 0);
	while (!blk_aio_progress(&r, tries & 1 ? -EAGAIN : -EINTR))
		assert_true(++tries < 1000);
	assert_true(tries > 8);
	assert_true(r.res == -EAGAIN || r.res == -EINTR);
	/* Progress resets the count. */
	req_init(&r, BLK_AIO_FDATASYNC, NULL, 0, 0, 0);
	assert_false(blk_aio_progress(&r, -EAGAIN));
	assert_true(blk_aio_progress(&r, 0));
	assert_int_equal(r.res, 0);
}

static void fallocate_fallbacks(void **state)
{
	struct blk_aio_req r;

	(void)state;
	/* Discard: advisory. */
	req_init(&r, BLK_AIO_DISCARD, NULL, 0, 0, 4096);
	assert_true(blk_aio_progress(&r, -EOPNOTSUPP));
	assert_int_equal(r.res, 0);
	req_init(&r, BLK_AIO_DISCARD, NULL, 0, 0, 4096);
	assert_true(blk_aio_progress(&r, -EIO));
	assert_int_equal(r.res, -EIO);
	/* Zero with unmap -> zero range -> writes of zeroes. */
	req_init(&r, BLK_AIO_ZERO_UNMAP, NULL, 0, 8192, 1u << 20);
	assert_false(blk_aio_progress(&r, -EOPNOTSUPP));
	assert_int_equal(r.cur, BLK_AIO_ZERO);
	assert_false(blk_aio_progress(&r, -EOPNOTSUPP));
	assert_int_equal(r.cur, BLK_AIO_ZERO_WRITE);
	assert_int_equal(r.iovcnt, 1);
	assert_true(r.iov[0].iov_len > 0 && r.iov[0].iov_len <= (1u << 20));
	while (!blk_aio_progress(&r, (int64_t)r.iov[0].iov_len))
		assert_true(blk_aio_pos(&r) <= 8192 + (1u << 20));
	assert_int_equal(r.res, 0);
	assert_int_equal(r.op, BLK_AIO_ZERO_UNMAP); /* the caller's op is kept */
	/* Other errors end the request. */
	req_init(&r, BLK_AIO_ZERO, NULL, 0, 0, 4096);
	assert_true(blk_aio_progress(&r, -EIO));
	assert_int_equal(r.res, -EIO);
}

/* ---- each engine on a real file ---- */

struct eng {
	enum vio_blk_aio kind;
	char path[64];
	int fd;
	struct blk_aio *a;
};

static int eng_setup(void **state, enum vio_blk_aio kind)
{
	struct eng *g = calloc(1, sizeof(*g));

	assert_non_null(g);
	if (kind == VIO_BLK_AIO_IO_URING && blk_aio_uring_probe()) {
		fprintf(stderr, "io_uring is not available here: SKIPPED\n");
		free(g);
		*state = NULL;
		return 0;
	}
	g->kind = kind;
	snprintf(g->path, sizeof(g->path), "/tmp/vio-aio-test-XXXXXX");
	g->fd = mkstemp(g->path);
	assert_true(g->fd >= 0);
	assert_int_equal(blk_aio_create(kind, g->fd, 8, &g->a), 0);
	*state = g;
	return 0;
}

static int uring_setup(void **state) { return eng_setup(state, VIO_BLK_AIO_IO_URING); }
static int threads_setup(void **state) { return eng_setup(state, VIO_BLK_AIO_THREADS); }

static int eng_teardown(void **state)
{
	struct eng *g = *state;

	if (!g)
		return 0;
	blk_aio_destroy(g->a);
	close(g->fd);
	unlink(g->path);
	free(g);
	return 0;
}

/* Waits for @n requests; returns them in @done. */
static void reap_n(struct eng *g, struct blk_aio_req **done, uint32_t n)
{
	uint32_t got = 0;

	while (got < n) {
		struct pollfd p = { .fd = blk_aio_event_fd(g->a), .events = POLLIN };

		assert_int_equal(poll(&p, 1, 10000), 1);
		got += blk_aio_reap(g->a, done + got, n - got);
	}
}

static void engine_write_read_sync_and_depth(void **state)
{
	struct eng *g = *state;
	static uint8_t out[8][4096], in[8][4096];
	struct iovec oiov[8], iiov[8];
	struct blk_aio_req r[9], *done[8];

	if (!g)
		skip();
	for (int i = 0; i < 8; i++) {
		memset(out[i], 'a' + i, 4096);
		oiov[i] = (struct iovec){ out[i], 4096 };
		req_init(&r[i], BLK_AIO_WRITEV, &oiov[i], 1, 4096ull * i, 4096);
		r[i].token = &r[i];
		assert_int_equal(blk_aio_submit(g->a, &r[i]), 0);
	}
	/* Depth 8: a ninth is refused. */
	req_init(&r[8], BLK_AIO_FDATASYNC, NULL, 0, 0, 0);
	assert_int_equal(blk_aio_submit(g->a, &r[8]), -EBUSY);
	assert_int_equal(blk_aio_kick(g->a), 0);
	reap_n(g, done, 8);
	for (int i = 0; i < 8; i++)
		assert_int_equal(done[i]->res, 0);
	assert_int_equal(blk_aio_submit(g->a, &r[8]), 0);
	assert_int_equal(blk_aio_kick(g->a), 0);
	reap_n(g, done, 1);
	assert_ptr_equal(done[0], &r[8]);
	assert_int_equal(done[0]->res, 0);
	for (int i = 0; i < 8; i++) {
		iiov[i] = (struct iovec){ in[i], 4096 };
		req_init(&r[i], BLK_AIO_READV, &iiov[i], 1, 4096ull * i, 4096);
		assert_int_equal(blk_aio_submit(g->a, &r[i]), 0);
	}
	assert_int_equal(blk_aio_kick(g->a), 0);
	reap_n(g, done, 8);
	for (int i = 0; i < 8; i++) {
		assert_int_equal(done[i]->res, 0);
		assert_memory_equal(in[i], out[i], 4096);
	}
	/* Reaping with nothing finished returns nothing and does not block. */
	assert_int_equal(blk_aio_reap(g->a, done, 8), 0);
}

static void engine_short_read_at_end_of_file(void **state)
{
	struct eng *g = *state;
	static uint8_t in[2][4096];
	struct iovec iov[2] = { { in[0], 4096 }, { in[1], 4096 } };
	struct blk_aio_req r, *done;

	if (!g)
		skip();
	assert_int_equal(ftruncate(g->fd, 6000), 0);
	req_init(&r, BLK_AIO_READV, iov, 2, 0, 8192);
	assert_int_equal(blk_aio_submit(g->a, &r), 0);
	assert_int_equal(blk_aio_kick(g->a), 0);
	reap_n(g, &done, 1);
	assert_int_equal(done->res, -EIO);
	/* The first 6000 bytes arrived before end of file was seen. */
	assert_true(blk_aio_pos(&r) == 6000);
}

static void engine_injected_fault(void **state)
{
	struct eng *g = *state;
	struct blk_aio_req r, *done;

	if (!g)
		skip();
	blk_aio_inject_fault(g->a, 1u << BLK_AIO_FDATASYNC, -EIO, 1);
	for (int i = 0; i < 2; i++) {
		req_init(&r, BLK_AIO_FDATASYNC, NULL, 0, 0, 0);
		assert_int_equal(blk_aio_submit(g->a, &r), 0);
		assert_int_equal(blk_aio_kick(g->a), 0);
		reap_n(g, &done, 1);
		assert_int_equal(done->res, i == 0 ? -EIO : 0);
	}
}

static void engine_destroy_waits_for_work_in_flight(void **state)
{
	struct eng *g = *state;
	static uint8_t out[64][4096];
	static struct iovec iov[64];
	static struct blk_aio_req r[64];

	if (!g)
		skip();
	blk_aio_destroy(g->a);
	assert_int_equal(blk_aio_create(g->kind, g->fd, 64, &g->a), 0);
	for (int i = 0; i < 64; i++) {
		memset(out[i], i, 4096);
		iov[i] = (struct iovec){ out[i], 4096 };
		req_init(&r[i], BLK_AIO_WRITEV, &iov[i], 1, 4096ull * i, 4096);
		assert_int_equal(blk_aio_submit(g->a, &r[i]), 0);
	}
	assert_int_equal(blk_aio_kick(g->a), 0);
	blk_aio_destroy(g->a); /* returns only when the writes are done */
	g->a = NULL;
	for (int i = 0; i < 64; i++) {
		uint8_t b[4096];

		assert_int_equal(pread(g->fd, b, 4096, 4096 * i), 4096);
		assert_memory_equal(b, out[i], 4096);
	}
}

/* ---- inline I/O: blk_aio_try_inline() ---- */

/* The threads engine on a file in /dev/shm (tmpfs: inline always); NULL state: skipped. */
static int shm_setup(void **state)
{
	struct eng *g = calloc(1, sizeof(*g));
	struct statfs sfs;

	assert_non_null(g);
	if (statfs("/dev/shm", &sfs) || sfs.f_type != TMPFS_MAGIC) {
		fprintf(stderr, "no tmpfs at /dev/shm: SKIPPED\n");
		free(g);
		*state = NULL;
		return 0;
	}
	g->kind = VIO_BLK_AIO_THREADS;
	snprintf(g->path, sizeof(g->path), "/dev/shm/vio-aio-test-XXXXXX");
	g->fd = mkstemp(g->path);
	assert_true(g->fd >= 0);
	assert_int_equal(blk_aio_create(g->kind, g->fd, 8, &g->a), 0);
	*state = g;
	return 0;
}

static void inline_on_tmpfs_completes_at_once(void **state)
{
	struct eng *g = *state;
	static uint8_t out[4096], in[4096], big[(1 << 20) + 4096];
	struct iovec iov;
	struct blk_aio_req r, *done;

	if (!g)
		skip();
	assert_int_equal(ftruncate(g->fd, 2 << 20), 0);
	memset(out, 'w', sizeof(out));
	iov = (struct iovec){ out, sizeof(out) };
	req_init(&r, BLK_AIO_WRITEV, &iov, 1, 8192, 4096);
	assert_true(blk_aio_try_inline(g->a, &r));
	assert_int_equal(r.res, 0);
	assert_int_equal(g->a->inflight, 0); /* never the engine's */
	assert_int_equal(pread(g->fd, in, 4096, 8192), 4096);
	assert_memory_equal(in, out, 4096);
	memset(in, 0, sizeof(in));
	iov = (struct iovec){ in, sizeof(in) };
	req_init(&r, BLK_AIO_READV, &iov, 1, 8192, 4096);
	assert_true(blk_aio_try_inline(g->a, &r));
	assert_int_equal(r.res, 0);
	assert_memory_equal(in, out, 4096);
	/* Large requests are the engine's; so is everything once inline is off. */
	iov = (struct iovec){ big, sizeof(big) };
	req_init(&r, BLK_AIO_READV, &iov, 1, 0, sizeof(big));
	assert_false(blk_aio_try_inline(g->a, &r));
	assert_true(r.offset == 0 && r.len == sizeof(big) && iov.iov_len == sizeof(big));
	assert_int_equal(blk_aio_submit(g->a, &r), 0);
	assert_int_equal(blk_aio_kick(g->a), 0);
	reap_n(g, &done, 1);
	assert_int_equal(done->res, 0);
	blk_aio_set_inline(g->a, false);
	iov = (struct iovec){ in, sizeof(in) };
	req_init(&r, BLK_AIO_READV, &iov, 1, 8192, 4096);
	assert_false(blk_aio_try_inline(g->a, &r));
	/* Only reads and writes. */
	blk_aio_set_inline(g->a, true);
	req_init(&r, BLK_AIO_FDATASYNC, NULL, 0, 0, 0);
	assert_false(blk_aio_try_inline(g->a, &r));
}

static void inline_short_read_at_end_of_file(void **state)
{
	struct eng *g = *state;
	static uint8_t in[2][4096];
	struct iovec iov[2] = { { in[0], 4096 }, { in[1], 4096 } };
	struct blk_aio_req r;

	if (!g)
		skip();
	assert_int_equal(ftruncate(g->fd, 6000), 0);
	req_init(&r, BLK_AIO_READV, iov, 2, 0, 8192);
	assert_true(blk_aio_try_inline(g->a, &r));
	assert_int_equal(r.res, -EIO);
	assert_true(blk_aio_pos(&r) == 6000);
}

static void inline_completions_take_injected_faults(void **state)
{
	struct eng *g = *state;
	static uint8_t out[4096];
	struct iovec iov;
	struct blk_aio_req r;

	if (!g)
		skip();
	blk_aio_inject_fault(g->a, 1u << BLK_AIO_WRITEV, -ENOSPC, 1);
	for (int i = 0; i < 2; i++) {
		iov = (struct iovec){ out, sizeof(out) };
		req_init(&r, BLK_AIO_WRITEV, &iov, 1, 0, 4096);
		assert_true(blk_aio_try_inline(g->a, &r));
		assert_int_equal(r.res, i == 0 ? -ENOSPC : 0);
	}
}

/*
 * On a disk file: RWF_NOWAIT. Either the request is done (page cache) or
 * it is left whole for the engine; both give the right data.
 */
static void inline_nowait_or_the_engine(void **state)
{
	struct eng *g = *state;
	static uint8_t out[4096], in[4096];
	struct iovec iov;
	struct blk_aio_req r, *done;

	if (!g)
		skip();
	memset(out, 'n', sizeof(out));
	for (int write = 1; write >= 0; write--) {
		iov = (struct iovec){ write ? out : in, 4096 };
		req_init(&r, write ? BLK_AIO_WRITEV : BLK_AIO_READV, &iov, 1, 4096, 4096);
		if (blk_aio_try_inline(g->a, &r)) {
			assert_int_equal(r.res, 0);
			continue;
		}
		assert_true(r.offset == 4096 && r.len == 4096);
		assert_int_equal(blk_aio_submit(g->a, &r), 0);
		assert_int_equal(blk_aio_kick(g->a), 0);
		reap_n(g, &done, 1);
		assert_int_equal(done->res, 0);
	}
	assert_memory_equal(in, out, 4096);
}

/* ---- io_uring refused (seccomp, io_uring_disabled): -ENOTSUP ---- */

/* In a child: makes io_uring_setup fail with @err, then checks what vio reports. */
static int child_without_io_uring(int err, const char *image)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((unsigned)err & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };
	struct vio_blk_options o = { .path = image, .num_queues = 1 };
	struct vio_blk *blk;
	struct vio_blk_queue *bq;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
		return 10;
	if (blk_aio_uring_probe() != -ENOTSUP)
		return 11;
	o.aio = VIO_BLK_AIO_IO_URING;
	if (vio_blk_open(&blk, &o) != -ENOTSUP)
		return 12;
	o.aio = VIO_BLK_AIO_THREADS;
	if (vio_blk_open(&blk, &o))
		return 13;
	if (vio_blk_queue_new(blk, 16, &bq))
		return 14;
	vio_blk_queue_free(bq);
	vio_blk_close(blk);
	return 0;
}

static void io_uring_refused_is_enotsup(void **state)
{
	static const int errs[] = { ENOSYS, EPERM };
	char image[] = "/tmp/vio-aio-test-XXXXXX";
	int fd = mkstemp(image);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 1 << 20), 0);
	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		pid_t pid = fork();
		int status;

		assert_true(pid >= 0);
		if (pid == 0)
			_exit(child_without_io_uring(errs[i], image));
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	close(fd);
	unlink(image);
}

#define E(f) cmocka_unit_test_setup_teardown(f, uring_setup, eng_teardown), \
	     cmocka_unit_test_setup_teardown(f, threads_setup, eng_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(short_transfers_advance_the_iovecs),
		cmocka_unit_test(end_of_file_and_overlong_results_are_eio),
		cmocka_unit_test(eagain_and_eintr_are_retried_a_bounded_number_of_times),
		cmocka_unit_test(fallocate_fallbacks),
		E(engine_write_read_sync_and_depth),
		E(engine_short_read_at_end_of_file),
		E(engine_injected_fault),
		E(engine_destroy_waits_for_work_in_flight),
		cmocka_unit_test_setup_teardown(inline_on_tmpfs_completes_at_once, shm_setup,
						eng_teardown),
		cmocka_unit_test_setup_teardown(inline_short_read_at_end_of_file, shm_setup,
						eng_teardown),
		cmocka_unit_test_setup_teardown(inline_completions_take_injected_faults, shm_setup,
						eng_teardown),
		E(inline_nowait_or_the_engine),
		cmocka_unit_test(io_uring_refused_is_enotsup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
