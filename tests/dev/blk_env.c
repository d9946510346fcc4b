/* SPDX-License-Identifier: BSD-3-Clause */
/* The virtio-blk device test harness: image file, device, queues and mock rings. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "blk_env.h"
#include "dev/blk_aio.h"
#include "dev/blk_impl.h"
#include "vio/device.h"
#include "vio/virtio_blk.h"

enum vio_blk_aio blk_env_aio = VIO_BLK_AIO_IO_URING;
bool blk_env_inline = true;

void blk_env_pattern(void *buf, size_t len, uint32_t seed)
{
	uint8_t *p = buf;
	uint32_t x = seed * 2654435761u + 1;

	for (size_t i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		p[i] = (uint8_t)(x >> 16);
	}
}

static int setup_in(void **state, const char *base)
{
	struct blk_env *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	(void)state;
	e->aio = blk_env_aio;
	snprintf(e->dir, sizeof(e->dir), "%s/vio-blk-test-XXXXXX", base);
	assert_non_null(mkdtemp(e->dir));
	snprintf(e->path, sizeof(e->path), "%s/disk.img", e->dir);
	e->fd = open(e->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(e->fd >= 0);
	assert_int_equal(ftruncate(e->fd, BLK_ENV_IMAGE), 0);
	e->opts.path = e->path;
	e->opts.aio = e->aio;
	e->opts.num_queues = BLK_ENV_QUEUES;
	mock_mem_init_default(&e->mem);
	*state = e;
	return 0;
}

int blk_env_setup(void **state)
{
	const char *tmp = getenv("TMPDIR");

	return setup_in(state, tmp && *tmp ? tmp : "/tmp");
}

int blk_env_setup_shm(void **state)
{
	struct stat st;

	/* Without /dev/shm the test finds no tmpfs and skips itself. */
	if (stat("/dev/shm", &st) || !S_ISDIR(st.st_mode))
		return blk_env_setup(state);
	return setup_in(state, "/dev/shm");
}

int blk_env_teardown(void **state)
{
	struct blk_env *e = *state;

	for (unsigned i = 0; i < e->nq; i++) {
		assert_int_equal(vio_blk_queue_inflight(e->q[i].bq), 0);
		vio_blk_queue_free(e->q[i].bq);
		mock_vq_fini(&e->q[i].vq);
	}
	vio_blk_close(e->blk);
	mock_mem_fini(&e->mem);
	close(e->fd);
	unlink(e->path);
	rmdir(e->dir);
	free(e);
	return 0;
}

void blk_env_start(struct blk_env *e, uint64_t features, unsigned nq)
{
	struct vio_device *d;

	assert_true(nq <= BLK_ENV_QUEUES);
	assert_int_equal(vio_blk_open(&e->blk, &e->opts), 0);
	d = vio_blk_device(e->blk);
	assert_int_equal(vio_device_set_features(d, features | BLK_ENV_RING_FEATURES, 0), 0);
	for (unsigned i = 0; i < nq; i++) {
		struct blk_env_q *q = &e->q[i];

		assert_int_equal(mock_vq_init(&q->vq, &e->mem, MOCK_SPLIT, BLK_ENV_QSIZE,
					      BLK_ENV_RING_FEATURES), 0);
		assert_int_equal(mock_vq_devq_init(&q->vq, NULL), 0);
		assert_int_equal(vio_blk_queue_new(e->blk, BLK_ENV_QSIZE, &q->bq), 0);
		blk_aio_set_inline(blk_queue_aio(q->bq), blk_env_inline);
		q->hdr = mock_alloc(&e->mem, 0, 16, 16);
		q->status = mock_alloc(&e->mem, 0, 1, 1);
		q->data = mock_alloc(&e->mem, 0, BLK_ENV_DATA, 4096);
		e->nq = i + 1;
	}
}

void blk_env_wait(struct blk_env *e, unsigned qi)
{
	struct blk_env_q *q = &e->q[qi];

	while (vio_blk_queue_inflight(q->bq)) {
		struct pollfd p = { .fd = vio_blk_queue_event_fd(q->bq), .events = POLLIN };

		assert_int_equal(poll(&p, 1, 10000), 1);
		assert_true(vio_blk_queue_complete(q->bq, q->vq.devq) >= 0);
	}
}

struct blk_result blk_env_chain(struct blk_env *e, unsigned qi, const struct mock_buf *b,
				unsigned n, int indirect_at)
{
	struct blk_env_q *q = &e->q[qi];
	struct blk_result res = { 0 };
	struct mock_used u;
	uint64_t status_gpa = 0;

	for (unsigned i = 0; i < n; i++)
		if (b[i].writable && b[i].len)
			status_gpa = b[i].gpa + b[i].len - 1;
	assert_true(mock_vq_add(&q->vq, b, n, indirect_at) >= 0);
	assert_true(vio_blk_queue_process(q->bq, q->vq.devq) >= 1);
	blk_env_wait(e, qi);
	vio_devq_flush(q->vq.devq);
	assert_int_equal(mock_vq_used(&q->vq, &u), 1);
	res.used_len = u.len;
	if (status_gpa)
		assert_int_equal(mock_read(&e->mem, status_gpa, &res.status, 1), 0);
	return res;
}

static bool data_is_readable(uint32_t type)
{
	return type == VIRTIO_BLK_T_OUT || type == VIRTIO_BLK_T_DISCARD ||
	       type == VIRTIO_BLK_T_WRITE_ZEROES;
}

struct blk_result blk_env_io(struct blk_env *e, unsigned qi, uint32_t type, uint64_t sector,
			     void *buf, uint32_t len)
{
	struct blk_env_q *q = &e->q[qi];
	struct virtio_blk_outhdr h = {
		.type = cpu_to_le32(type), .sector = cpu_to_le64(sector),
	};
	bool out = data_is_readable(type);
	struct mock_buf b[3];
	struct blk_result res;
	uint8_t poison = 0xee;
	unsigned n = 0;

	assert_true(len <= BLK_ENV_DATA);
	assert_int_equal(mock_write(&e->mem, q->hdr, &h, sizeof(h)), 0);
	assert_int_equal(mock_write(&e->mem, q->status, &poison, 1), 0);
	if (out && len)
		assert_int_equal(mock_write(&e->mem, q->data, buf, len), 0);
	b[n++] = (struct mock_buf){ q->hdr, 16, false };
	if (len)
		b[n++] = (struct mock_buf){ q->data, len, !out };
	b[n++] = (struct mock_buf){ q->status, 1, true };
	res = blk_env_chain(e, qi, b, n, MOCK_DIRECT);
	if (!out && len && buf)
		assert_int_equal(mock_read(&e->mem, q->data, buf, len), 0);
	return res;
}
