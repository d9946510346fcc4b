/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The harness of the virtio-blk device tests: a real image file in a
 * temporary directory, the device under test, and up to BLK_ENV_QUEUES
 * queues, each driven by the mock driver through a real device-side ring.
 */
#ifndef VIO_TESTS_DEV_BLK_ENV_H
#define VIO_TESTS_DEV_BLK_ENV_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "mock_driver.h"
#include "vio/blk.h"

#define BLK_ENV_QUEUES   4
#define BLK_ENV_QSIZE    128
#define BLK_ENV_IMAGE    (16u << 20) /* bytes */
#define BLK_ENV_DATA     (1u << 20)  /* bytes of data buffer per queue */

/* Ring features of every queue (the device offers them all). */
#define BLK_ENV_RING_FEATURES \
	(VIO_BIT(VIRTIO_F_VERSION_1) | VIO_BIT(VIRTIO_F_INDIRECT_DESC) | VIO_BIT(VIRTIO_F_EVENT_IDX))

struct blk_env_q {
	struct mock_vq vq;
	struct vio_blk_queue *bq;
	uint64_t hdr, data, status; /* gpa of this queue's scratch buffers */
};

struct blk_env {
	enum vio_blk_aio aio;
	char dir[PATH_MAX - 64];
	char path[PATH_MAX];
	int fd; /* the image, for the test's own checks */
	struct vio_blk_options opts;
	struct vio_blk *blk;
	struct mock_mem mem;
	unsigned nq;
	struct blk_env_q q[BLK_ENV_QUEUES];
};

/* A request's outcome as the driver sees it. */
struct blk_result {
	uint8_t status;
	uint32_t used_len;
};

/* The engine the next setup uses (a test group per engine). */
extern enum vio_blk_aio blk_env_aio;
/* Whether its queues may do page-cache I/O inline (blk_aio_try_inline()); else all goes to the engine. */
extern bool blk_env_inline;

/* cmocka setup / teardown: an image of BLK_ENV_IMAGE bytes (sparse) and guest memory. */
int blk_env_setup(void **state);
int blk_env_setup_shm(void **state); /* the image on /dev/shm if there is one */
int blk_env_teardown(void **state);

/*
 * Opens the device with e->opts (path and aio filled in), negotiates
 * @features (VERSION_1 and the ring bits are added) and creates @nq queues
 * of BLK_ENV_QSIZE requests with their rings.
 */
void blk_env_start(struct blk_env *e, uint64_t features, unsigned nq);

/* Posts @n buffers on queue @qi, serves them, waits; returns the used element's outcome. */
struct blk_result blk_env_chain(struct blk_env *e, unsigned qi, const struct mock_buf *b,
				unsigned n, int indirect_at);

/*
 * One request on queue @qi with a separate header, data and status buffer:
 * @len bytes of data (readable for T_OUT / DISCARD / WRITE_ZEROES, writable
 * otherwise), copied from / to @buf. Returns the outcome; the status byte
 * is read from guest memory.
 */
struct blk_result blk_env_io(struct blk_env *e, unsigned qi, uint32_t type, uint64_t sector,
			     void *buf, uint32_t len);

/* Completes everything in flight on queue @qi (waiting on its event fd). */
void blk_env_wait(struct blk_env *e, unsigned qi);

/* Fills @buf with a pattern derived from @seed. */
void blk_env_pattern(void *buf, size_t len, uint32_t seed);

#endif /* VIO_TESTS_DEV_BLK_ENV_H */
