/* SPDX-License-Identifier: BSD-3-Clause */
/* Tests of the virtio-blk device over a real image, driven by the mock driver, for each I/O engine. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cmocka.h>

#include "blk_env.h"
#include "dev/blk_aio.h"
#include "dev/blk_impl.h"
#include "vio/device.h"
#include "vio/virtio_blk.h"

#define S_OK     VIRTIO_BLK_S_OK
#define S_IOERR  VIRTIO_BLK_S_IOERR
#define S_UNSUPP VIRTIO_BLK_S_UNSUPP

#define F_FLUSH VIO_BIT(VIRTIO_BLK_F_FLUSH)
#define CAP_SECTORS (BLK_ENV_IMAGE / 512)

static uint8_t buf_a[BLK_ENV_DATA], buf_b[BLK_ENV_DATA];

static void assert_result(struct blk_result r, uint8_t status, uint32_t used_len)
{
	assert_int_equal(r.status, status);
	assert_int_equal(r.used_len, used_len);
}

static void file_read(struct blk_env *e, uint64_t off, void *buf, size_t len)
{
	assert_int_equal(pread(e->fd, buf, len, (off_t)off), (ssize_t)len);
}

static bool all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

static struct blk_result segs_io(struct blk_env *e, unsigned qi, uint32_t type, uint64_t sector,
				 uint32_t num, uint32_t flags)
{
	struct virtio_blk_discard_write_zeroes s = {
		.sector = cpu_to_le64(sector), .num_sectors = cpu_to_le32(num),
		.flags = cpu_to_le32(flags),
	};

	return blk_env_io(e, qi, type, 0, &s, sizeof(s));
}

static uint64_t blocks_of(struct blk_env *e)
{
	struct stat st;

	assert_int_equal(fstat(e->fd, &st), 0);
	return (uint64_t)st.st_blocks;
}

/* ---- configuration ---- */

static void config_space_and_features(void **state)
{
	struct blk_env *e = *state;
	struct virtio_blk_config c;
	struct vio_device *d;
	uint64_t f;

	assert_int_equal(ftruncate(e->fd, BLK_ENV_IMAGE + 5000), 0); /* not whole 4 KiB blocks */
	e->opts.logical_block_size = 4096;
	e->opts.discard = true;
	blk_env_start(e, F_FLUSH, 0);
	d = vio_blk_device(e->blk);
	f = d->ops->features(d->dev);
	assert_true(f & VIO_BIT(VIRTIO_F_VERSION_1));
	assert_true(f & VIO_BIT(VIRTIO_F_INDIRECT_DESC));
	assert_true(f & VIO_BIT(VIRTIO_F_EVENT_IDX));
	assert_true(f & VIO_BIT(VIRTIO_BLK_F_FLUSH));
	assert_true(f & VIO_BIT(VIRTIO_BLK_F_MQ));
	assert_true(f & VIO_BIT(VIRTIO_BLK_F_DISCARD));
	assert_false(f & VIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES));
	assert_false(f & VIO_BIT(VIRTIO_BLK_F_RO));
	assert_false(f & VIO_BIT(VIRTIO_BLK_F_CONFIG_WCE));
	assert_true(f & VIO_BIT(VIRTIO_F_RING_PACKED));
	assert_true(f & VIO_BIT(VIRTIO_F_IN_ORDER));
	assert_int_equal(d->ops->device_id, VIRTIO_ID_BLOCK);
	assert_int_equal(vio_device_config_read(d, 0, &c, sizeof(c)), 0);
	/* 16 MiB + 5000 bytes: 4096 whole 4 KiB blocks + 1 = 16 MiB + 4096. */
	assert_true(vio_blk_capacity(e->blk) == CAP_SECTORS + 8);
	assert_true(le64_to_cpu(c.capacity) == CAP_SECTORS + 8);
	assert_int_equal(le32_to_cpu(c.blk_size), 4096);
	assert_int_equal(le32_to_cpu(c.seg_max), VIO_BLK_SEG_MAX);
	assert_int_equal(le32_to_cpu(c.size_max), VIO_BLK_SIZE_MAX);
	assert_int_equal(le16_to_cpu(c.num_queues), BLK_ENV_QUEUES);
	assert_int_equal(le32_to_cpu(c.max_discard_seg), VIO_BLK_MAX_DISCARD_SEG);
	assert_int_equal(le32_to_cpu(c.max_discard_sectors), VIO_BLK_MAX_DISCARD_SECTORS);
	assert_int_equal(le32_to_cpu(c.discard_sector_alignment), 8);
	assert_int_equal(le32_to_cpu(c.max_write_zeroes_seg), 0);
	assert_int_equal(c.unused0, 0);
	assert_true(all_zero(c.unused1, sizeof(c.unused1)));
	/* Read-only: every field. */
	assert_int_equal(vio_device_config_write(d, 0, &c, 8), -EPERM);
}

static void open_refuses_bad_options_and_missing_images(void **state)
{
	struct blk_env *e = *state;
	struct vio_blk_options o = e->opts;
	struct vio_blk *blk;

	o.logical_block_size = 3000;
	assert_int_equal(vio_blk_open(&blk, &o), -EINVAL);
	o = e->opts;
	o.serial = "123456789012345678901"; /* 21 bytes */
	assert_int_equal(vio_blk_open(&blk, &o), -EINVAL);
	o = e->opts;
	o.num_queues = 0;
	assert_int_equal(vio_blk_open(&blk, &o), -EINVAL);
	o = e->opts;
	o.path = "/nonexistent/vio/disk.img";
	assert_int_equal(vio_blk_open(&blk, &o), -ENOENT);
	o.path = e->dir;
	o.read_only = true;
	assert_int_equal(vio_blk_open(&blk, &o), -EISDIR);
	/* Permission refusals need a non-root user. */
	if (geteuid() != 0) {
		assert_int_equal(chmod(e->path, 0400), 0);
		o = e->opts;
		assert_int_equal(vio_blk_open(&blk, &o), -EACCES);
		o.read_only = true;
		assert_int_equal(vio_blk_open(&blk, &o), 0);
		vio_blk_close(blk);
	}
	/* Queue sizes. */
	blk_env_start(e, F_FLUSH, 0);
	assert_int_equal(vio_blk_queue_new(e->blk, 0, &(struct vio_blk_queue *){ NULL }), -EINVAL);
	assert_int_equal(vio_blk_queue_new(e->blk, 2048, &(struct vio_blk_queue *){ NULL }), -EINVAL);
}

/* ---- data path ---- */

static void write_then_read_back(void **state)
{
	struct blk_env *e = *state;
	const struct vio_blk_stats *st;

	blk_env_start(e, F_FLUSH, 1);
	blk_env_pattern(buf_a, 65536, 1);
	assert_result(blk_env_io(e, 0, VIRTIO_BLK_T_OUT, 100, buf_a, 65536), S_OK, 1);
	file_read(e, 100 * 512, buf_b, 65536);
	assert_memory_equal(buf_a, buf_b, 65536);
	memset(buf_b, 0, 65536);
	assert_result(blk_env_io(e, 0, VIRTIO_BLK_T_IN, 100, buf_b, 65536), S_OK, 65537);
	assert_memory_equal(buf_a, buf_b, 65536);
	st = vio_blk_queue_stats(e->q[0].bq);
	assert_true(st->requests == 2 && st->reads == 1 && st->writes == 1 && st->errors == 0);
	assert_true(st->bytes_read == 65536 && st->bytes_written == 65536);
}

static void read_sees_data_written_to_the_file(void **state)
{
	struct blk_env *e = *state;

	blk_env_pattern(buf_a, 4096, 2);
	assert_int_equal(pwrite(e->fd, buf_a, 4096, CAP_SECTORS * 512ull - 4096), 4096);
	blk_env_start(e, F_FLUSH, 1);
	/* The last 8 sectors of the disk. */
	assert_result(blk_env_io(e, 0, VIRTIO_BLK_T_IN, CAP_SECTORS - 8, buf_b, 4096), S_OK, 4097);
	assert_memory_equal(buf_a, buf_b, 4096);
}

static void largest_request_over_split_buffers(void **state)
{
	struct blk_env *e = *state;
	struct mock_buf b[VIO_BLK_SEG_MAX + 2];
	struct virtio_blk_outhdr h = { .type = cpu_to_le32(VIRTIO_BLK_T_OUT),
				       .sector = cpu_to_le64(64) };
	uint64_t data = mock_alloc(&e->mem, 0, VIO_BLK_SEG_MAX * 4096ull + 1, 4096);
	uint64_t hs = MOCK_R1_GPA - 8; /* header straddles R0 / R1: two iovecs */
	uint64_t st = MOCK_R1_GPA + 64;
	uint32_t len = VIO_BLK_SEG_MAX * 4096;

	blk_env_start(e, F_FLUSH, 1);
	blk_env_pattern(buf_a, len, 3);
	assert_int_equal(mock_write(&e->mem, hs, &h, sizeof(h)), 0);
	assert_int_equal(mock_write(&e->mem, data, buf_a, len), 0);
	b[0] = (struct mock_buf){ hs, 16, false };
	for (unsigned i = 0; i < VIO_BLK_SEG_MAX; i++)
		b[1 + i] = (struct mock_buf){ data + 4096ull * i, 4096, false };
	b[VIO_BLK_SEG_MAX + 1] = (struct mock_buf){ st, 1, true };
	assert_result(blk_env_chain(e, 0, b, VIO_BLK_SEG_MAX + 2, 0), S_OK, 1);
	file_read(e, 64 * 512, buf_b, len);
	assert_memory_equal(buf_a, buf_b, len);
	/* And back, as one indirect chain with the status sharing the last data buffer. */
	h.type = cpu_to_le32(VIRTIO_BLK_T_IN);
	assert_int_equal(mock_write(&e->mem, hs, &h, sizeof(h)), 0);
	assert_int_equal(mock_fill(&e->mem, data, 0, len + 1), 0);
	for (unsigned i = 0; i < VIO_BLK_SEG_MAX; i++)
		b[1 + i].writable = true;
	b[VIO_BLK_SEG_MAX].len = 4097;
	assert_result(blk_env_chain(e, 0, b, VIO_BLK_SEG_MAX + 1, 0), S_OK, len + 1);
	assert_int_equal(mock_read(&e->mem, data, buf_b, len), 0);
	assert_memory_equal(buf_a, buf_b, len);
}

static void requests_past_the_end_fail(void **state)
{
	struct blk_env *e = *state;
	const struct vio_blk_stats *st;

	blk_env_start(e, F_FLUSH, 1);
	assert_result(blk_env_io(e, 0, VIRTIO_BLK_T_IN, CAP_SECTORS - 1, buf_a, 1024), S_IOERR, 1);
	assert_result(blk_env_io(e, 0, VIRTIO_BLK_T_OUT, CAP_SECTORS, buf_a, 512), S_IOERR, 1);
	assert_result(blk_env_io(e, 0, VIRTIO_BLK_T_IN, UINT64_MAX, buf_a, 512), S_IOERR, 1);
	assert_result(blk_env_io(e, 0, VIRTIO_BLK_T_IN, CAP_SECTORS - 1, buf_a, 512), S_OK, 513);
	st = vio_blk_queue_stats(e->q[0].bq);
	assert_true(st->errors == 3 && st->requests == 4);
}

static void image_shrunk_under_us_read_fails(void **state)
{
	struct blk_env *e = *state;

	blk_env_start(e, F_FLUSH, 1);
	assert_int_equal(ftruncate(e->fd, 4096 + 1000), 0);
	/* Short read (1000 bytes), then end of file: IOERR, not a hang. */
	assert_result(blk_env_io(e, 0, VIRTIO_BLK_T_IN, 8, buf_a, 4096), S_IOERR, 1);
	assert_result(blk_env_io(e, 0, VIRTIO_BLK_T_IN, 0, buf_a, 4096), S_OK, 4097);
}

static void get_id_returns_the_serial_nul_padded(void **state)
{
	struct blk_env *e = *state;
	uint8_t id[64];

	e->opts.serial = "vio-serial-0123";
	blk_env_start(e, F_FLUSH, 1);
	memset(id, 0xff, sizeof(id));
	assert_result(blk_env_io(e, 0, VIRTIO_BLK_T_GET_ID, 0, id, 20), S_OK, 21);
	assert_memory_equal(id, "vio-serial-0123\0\0\0\0\0", 20);
	/* More room than 20 bytes: 20 written. */
	assert_result(blk_env_io(e, 0, VIRTIO_BLK_T_GET_ID, 0, id, 64), S_OK, 21);
	assert_int_equal(vio_blk_queue_stats(e->q[0].bq)->get_ids, 2);
}

static void flush_succeeds_and_is_counted(void **state)
{
	struct blk_env *e = *state;

	blk_env_start(e, F_FLUSH, 1);
	blk_env_pattern(buf_a, 4096, 4);
	assert_result(blk_env_io(e, 0, VIRTIO_BLK_T_OUT, 0, buf_a, 4096), S_OK, 1);
	assert_result(blk_env_io(e, 0, VIRTIO_BLK_T_FLUSH, 0, NULL, 0), S_OK, 1);
	assert_int_equal(vio_blk_queue_stats(e->q[0].bq)->flushes, 1);
}

static void unsupported_types_and_malformed_chains(void **state)
{
	struct blk_env *e = *state;
	struct blk_env_q *q;
	struct mock_buf b[2];
	const struct vio_blk_stats *st;

	blk_env_start(e, F_FLUSH, 1);
	q = &e->q[0];
	assert_result(blk_env_io(e, 0, VIRTIO_BLK_T_GET_LIFETIME, 0, buf_a, 8), S_UNSUPP, 1);
	/* Discard and write zeroes are not offered here. */
	assert_result(segs_io(e, 0, VIRTIO_BLK_T_DISCARD, 0, 8, 0), S_UNSUPP, 1);
	assert_result(segs_io(e, 0, VIRTIO_BLK_T_WRITE_ZEROES, 0, 8, 0), S_UNSUPP, 1);
	/* Nothing writable: used length 0, no status. */
	b[0] = (struct mock_buf){ q->hdr, 16, false };
	b[1] = (struct mock_buf){ q->data, 512, false };
	assert_int_equal(blk_env_chain(e, 0, b, 2, MOCK_DIRECT).used_len, 0);
	/* A short header. */
	b[0] = (struct mock_buf){ q->hdr, 15, false };
	b[1] = (struct mock_buf){ q->status, 1, true };
	assert_result(blk_env_chain(e, 0, b, 2, MOCK_DIRECT), S_IOERR, 1);
	st = vio_blk_queue_stats(e->q[0].bq);
	assert_true(st->requests == 5 && st->errors == 5);
	/* The queue goes on. */
	assert_result(blk_env_io(e, 0, VIRTIO_BLK_T_IN, 0, buf_a, 512), S_OK, 513);
}

static void chain_with_too_many_iovecs_gets_length_0(void **state)
{
	struct blk_env *e = *state;
	enum { N = 200 };
	static struct mock_buf b[N];
	struct blk_env_q *q;

	blk_env_start(e, F_FLUSH, 1);
	q = &e->q[0];
	b[0] = (struct mock_buf){ q->hdr, 16, false };
	for (unsigned i = 1; i < N; i++)
		b[i] = (struct mock_buf){ q->data + 512ull * i, 512, true };
	assert_int_equal(blk_env_chain(e, 0, b, N, 0).used_len, 0);
	assert_int_equal(vio_blk_queue_stats(q->bq)->errors, 1);
	assert_result(blk_env_io(e, 0, VIRTIO_BLK_T_IN, 0, buf_a, 512), S_OK, 513);
}

/* ---- read-only ---- */

static void read_only_refuses_every_write(void **state)
{
	struct blk_env *e = *state;
	struct vio_device *d;

	blk_env_pattern(buf_a, 4096, 5);
	assert_int_equal(pwrite(e->fd, buf_a, 4096, 0), 4096);
	e->opts.read_only = true;
	e->opts.discard = e->opts.write_zeroes = true;
	blk_env_start(e, F_FLUSH | VIO_BIT(VIRTIO_BLK_F_RO), 1);
	d = vio_blk_device(e->blk);
	assert_true(d->ops->features(d->dev) & VIO_BIT(VIRTIO_BLK_F_RO));
	memset(buf_b, 0x55, 4096);
	/* VIRTIO 1.4 §5.2.6.2: IOERR, and no data written. */
	assert_result(blk_env_io(e, 0, VIRTIO_BLK_T_OUT, 0, buf_b, 4096), S_IOERR, 1);
	assert_result(segs_io(e, 0, VIRTIO_BLK_T_DISCARD, 0, 8, 0), S_IOERR, 1);
	assert_result(segs_io(e, 0, VIRTIO_BLK_T_WRITE_ZEROES, 0, 8, 0), S_IOERR, 1);
	file_read(e, 0, buf_b, 4096);
	assert_memory_equal(buf_a, buf_b, 4096);
	assert_result(blk_env_io(e, 0, VIRTIO_BLK_T_IN, 0, buf_b, 4096), S_OK, 4097);
	assert_memory_equal(buf_a, buf_b, 4096);
	assert_result(blk_env_io(e, 0, VIRTIO_BLK_T_FLUSH, 0, NULL, 0), S_OK, 1);
}

/* ---- discard and write zeroes ---- */

/* Writes 1 MiB of pattern at 1 MiB and makes sure it is allocated. */
static void fill_mib(struct blk_env *e, uint32_t seed)
{
	blk_env_pattern(buf_a, 1u << 20, seed);
	assert_result(blk_env_io(e, 0, VIRTIO_BLK_T_OUT, 2048, buf_a, 1u << 20), S_OK, 1);
	assert_result(blk_env_io(e, 0, VIRTIO_BLK_T_FLUSH, 0, NULL, 0), S_OK, 1);
}

static void discard_deallocates(void **state)
{
	struct blk_env *e = *state;
	uint64_t before;

	e->opts.discard = true;
	blk_env_start(e, F_FLUSH | VIO_BIT(VIRTIO_BLK_F_DISCARD), 1);
	fill_mib(e, 6);
	before = blocks_of(e);
	assert_true(before >= 2048);
	assert_result(segs_io(e, 0, VIRTIO_BLK_T_DISCARD, 2048, 2048, 0), S_OK, 1);
	assert_true(blocks_of(e) <= before - 2048);
	assert_true(lseek(e->fd, 1 << 20, SEEK_HOLE) == 1 << 20);
	/* Unmap on discard: UNSUPP (VIRTIO 1.4 §5.2.6.2). */
	assert_result(segs_io(e, 0, VIRTIO_BLK_T_DISCARD, 0, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP),
		      S_UNSUPP, 1);
	assert_int_equal(vio_blk_queue_stats(e->q[0].bq)->discards, 2);
}

static void write_zeroes_reads_back_zeroes(void **state)
{
	struct blk_env *e = *state;

	e->opts.write_zeroes = true;
	blk_env_start(e, F_FLUSH | VIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES), 1);
	fill_mib(e, 7);
	/* Zero the middle 512 KiB. */
	assert_result(segs_io(e, 0, VIRTIO_BLK_T_WRITE_ZEROES, 2048 + 512, 1024, 0), S_OK, 1);
	assert_result(blk_env_io(e, 0, VIRTIO_BLK_T_IN, 2048, buf_b, 1u << 20), S_OK,
		      (1u << 20) + 1);
	assert_memory_equal(buf_a, buf_b, 256 << 10);
	assert_true(all_zero(buf_b + (256 << 10), 512 << 10));
	assert_memory_equal(buf_a + (768 << 10), buf_b + (768 << 10), 256 << 10);
	file_read(e, (1 << 20) + (256 << 10), buf_b, 512 << 10);
	assert_true(all_zero(buf_b, 512 << 10));
}

static void write_zeroes_with_unmap_deallocates(void **state)
{
	struct blk_env *e = *state;
	struct virtio_blk_config c;
	uint64_t before;

	e->opts.write_zeroes = true;
	blk_env_start(e, F_FLUSH | VIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES), 1);
	assert_int_equal(vio_device_config_read(vio_blk_device(e->blk), 0, &c, sizeof(c)), 0);
	assert_int_equal(c.write_zeroes_may_unmap, 1);
	fill_mib(e, 8);
	before = blocks_of(e);
	assert_result(segs_io(e, 0, VIRTIO_BLK_T_WRITE_ZEROES, 2048, 2048,
			      VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP), S_OK, 1);
	assert_true(blocks_of(e) <= before - 2048);
	assert_result(blk_env_io(e, 0, VIRTIO_BLK_T_IN, 2048, buf_b, 1u << 20), S_OK,
		      (1u << 20) + 1);
	assert_true(all_zero(buf_b, 1u << 20));
}

static void write_zeroes_falls_back_where_zero_range_is_refused(void **state)
{
	struct blk_env *e = *state;
	struct statfs sfs;

	assert_int_equal(fstatfs(e->fd, &sfs), 0);
	if (sfs.f_type != 0x01021994) { /* TMPFS_MAGIC: no FALLOC_FL_ZERO_RANGE there */
		fprintf(stderr, "no tmpfs at /dev/shm: skipped\n");
		skip();
	}
	e->opts.write_zeroes = true;
	blk_env_start(e, F_FLUSH | VIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES), 1);
	fill_mib(e, 9);
	assert_result(segs_io(e, 0, VIRTIO_BLK_T_WRITE_ZEROES, 2048, 2048, 0), S_OK, 1);
	file_read(e, 1 << 20, buf_b, 1 << 20);
	assert_true(all_zero(buf_b, 1 << 20));
	fill_mib(e, 10);
	assert_result(segs_io(e, 0, VIRTIO_BLK_T_WRITE_ZEROES, 2048, 2048,
			      VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP), S_OK, 1);
	file_read(e, 1 << 20, buf_b, 1 << 20);
	assert_true(all_zero(buf_b, 1 << 20));
}

static void multi_segment_write_zeroes(void **state)
{
	struct blk_env *e = *state;
	struct virtio_blk_discard_write_zeroes s[VIO_BLK_MAX_DISCARD_SEG];

	e->opts.write_zeroes = true;
	blk_env_start(e, F_FLUSH | VIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES), 1);
	fill_mib(e, 11);
	/* Every other 4 KiB block of the MiB; one empty segment; unmap on odd ones. */
	for (uint32_t i = 0; i < VIO_BLK_MAX_DISCARD_SEG; i++) {
		s[i].sector = cpu_to_le64(2048 + 16ull * i);
		s[i].num_sectors = cpu_to_le32(i == 5 ? 0 : 8);
		s[i].flags = cpu_to_le32(i & 1 ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0);
	}
	assert_result(blk_env_io(e, 0, VIRTIO_BLK_T_WRITE_ZEROES, 0, s, sizeof(s)), S_OK, 1);
	file_read(e, 1 << 20, buf_b, 1 << 20);
	for (uint32_t i = 0; i < VIO_BLK_MAX_DISCARD_SEG; i++) {
		const uint8_t *z = buf_b + 8192ull * i;

		if (i == 5)
			assert_memory_equal(z, buf_a + 8192ull * i, 4096);
		else
			assert_true(all_zero(z, 4096));
		assert_memory_equal(z + 4096, buf_a + 8192ull * i + 4096, 4096);
	}
}

/* ---- durability ---- */

static void failed_sync_makes_every_later_flush_fail(void **state)
{
	struct blk_env *e = *state;

	blk_env_start(e, F_FLUSH, 2);
	blk_aio_inject_fault(blk_queue_aio(e->q[0].bq), 1u << BLK_AIO_FDATASYNC, -EIO, 1);
	assert_result(blk_env_io(e, 0, VIRTIO_BLK_T_FLUSH, 0, NULL, 0), S_IOERR, 1);
	/* No fault any more, but the failure is sticky: on this queue and on the other. */
	assert_result(blk_env_io(e, 0, VIRTIO_BLK_T_FLUSH, 0, NULL, 0), S_IOERR, 1);
	assert_result(blk_env_io(e, 1, VIRTIO_BLK_T_FLUSH, 0, NULL, 0), S_IOERR, 1);
	/* Reads and writes still work. */
	assert_result(blk_env_io(e, 1, VIRTIO_BLK_T_OUT, 0, buf_a, 512), S_OK, 1);
	assert_result(blk_env_io(e, 1, VIRTIO_BLK_T_IN, 0, buf_a, 512), S_OK, 513);
	/* A device reset does not make the lost data come back. */
	vio_device_reset(vio_blk_device(e->blk));
	assert_result(blk_env_io(e, 1, VIRTIO_BLK_T_FLUSH, 0, NULL, 0), S_IOERR, 1);
}

static void failed_write_makes_every_later_flush_fail(void **state)
{
	struct blk_env *e = *state;

	blk_env_start(e, F_FLUSH, 2);
	assert_result(blk_env_io(e, 1, VIRTIO_BLK_T_FLUSH, 0, NULL, 0), S_OK, 1);
	blk_aio_inject_fault(blk_queue_aio(e->q[0].bq), 1u << BLK_AIO_WRITEV, -ENOSPC, 1);
	assert_result(blk_env_io(e, 0, VIRTIO_BLK_T_OUT, 0, buf_a, 4096), S_IOERR, 1);
	assert_result(blk_env_io(e, 1, VIRTIO_BLK_T_FLUSH, 0, NULL, 0), S_IOERR, 1);
	assert_result(blk_env_io(e, 0, VIRTIO_BLK_T_FLUSH, 0, NULL, 0), S_IOERR, 1);
}

static void failed_write_zeroes_makes_flush_fail_discard_does_not(void **state)
{
	struct blk_env *e = *state;
	struct blk_aio *aio;

	e->opts.discard = e->opts.write_zeroes = true;
	blk_env_start(e, F_FLUSH | VIO_BIT(VIRTIO_BLK_F_DISCARD) |
		      VIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES), 1);
	aio = blk_queue_aio(e->q[0].bq);
	blk_aio_inject_fault(aio, 1u << BLK_AIO_DISCARD, -EIO, 1);
	assert_result(segs_io(e, 0, VIRTIO_BLK_T_DISCARD, 0, 8, 0), S_IOERR, 1);
	assert_result(blk_env_io(e, 0, VIRTIO_BLK_T_FLUSH, 0, NULL, 0), S_OK, 1);
	blk_aio_inject_fault(aio, 1u << BLK_AIO_ZERO, -EIO, 1);
	assert_result(segs_io(e, 0, VIRTIO_BLK_T_WRITE_ZEROES, 0, 8, 0), S_IOERR, 1);
	assert_result(blk_env_io(e, 0, VIRTIO_BLK_T_FLUSH, 0, NULL, 0), S_IOERR, 1);
}

static void without_flush_negotiated_writes_are_synced(void **state)
{
	struct blk_env *e = *state;
	struct blk_aio *aio;

	/* FLUSH offered, not negotiated: writes are stable at completion (VIRTIO 1.4 §5.2.6.2). */
	e->opts.write_zeroes = true;
	blk_env_start(e, VIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES), 1);
	aio = blk_queue_aio(e->q[0].bq);
	blk_env_pattern(buf_a, 4096, 12);
	assert_result(blk_env_io(e, 0, VIRTIO_BLK_T_OUT, 0, buf_a, 4096), S_OK, 1);
	/* Write zeroes is followed by a sync: make it fail. */
	blk_aio_inject_fault(aio, 1u << BLK_AIO_FDATASYNC, -EIO, 1);
	assert_result(segs_io(e, 0, VIRTIO_BLK_T_WRITE_ZEROES, 0, 8, 0), S_IOERR, 1);
	assert_int_equal(aio->fault.count, 0);
}

/* ---- queues ---- */

static void ring_larger_than_the_request_pool(void **state)
{
	struct blk_env *e = *state;
	struct vio_blk_queue *small;
	struct blk_env_q *q;
	struct mock_used u;
	uint64_t hdr, st;
	int n = 0;

	blk_env_start(e, F_FLUSH, 1);
	q = &e->q[0];
	/* Serve the 128-entry ring with a pool of 4 requests, all through the engine. */
	assert_int_equal(vio_blk_queue_new(e->blk, 4, &small), 0);
	blk_aio_set_inline(blk_queue_aio(small), false);
	hdr = mock_alloc(&e->mem, 0, 16 * 10, 16);
	st = mock_alloc(&e->mem, 0, 10, 1);
	for (int i = 0; i < 10; i++) {
		struct virtio_blk_outhdr h = { .type = cpu_to_le32(VIRTIO_BLK_T_IN),
					       .sector = cpu_to_le64((uint64_t)i) };
		struct mock_buf b[3] = {
			{ hdr + 16ull * i, 16, false },
			{ q->data + 512ull * i, 512, true },
			{ st + (uint64_t)i, 1, true },
		};

		assert_int_equal(mock_write(&e->mem, hdr + 16ull * i, &h, sizeof(h)), 0);
		assert_true(mock_vq_add(&q->vq, b, 3, MOCK_DIRECT) >= 0);
	}
	assert_int_equal(vio_blk_queue_process(small, q->vq.devq), 4);
	/* complete() takes more as slots free up, until the ring is empty. */
	while (vio_blk_queue_inflight(small)) {
		struct pollfd p = { .fd = vio_blk_queue_event_fd(small), .events = POLLIN };

		assert_int_equal(poll(&p, 1, 10000), 1);
		assert_true(vio_blk_queue_complete(small, q->vq.devq) >= 0);
	}
	vio_devq_flush(q->vq.devq);
	while (mock_vq_used(&q->vq, &u) == 1) {
		assert_int_equal(u.len, 513);
		n++;
	}
	assert_int_equal(n, 10);
	vio_blk_queue_free(small);
}

struct worker {
	struct blk_env *e;
	unsigned qi;
	int failures;
};

#define ROUNDS 64

/* Writes and reads back 64 KiB blocks in the queue's own area of the disk. */
static void *queue_worker(void *arg)
{
	struct worker *w = arg;
	struct blk_env *e = w->e;
	struct blk_env_q *q = &e->q[w->qi];
	static uint8_t bufs[BLK_ENV_QUEUES][2][65536];
	uint8_t *out = bufs[w->qi][0], *in = bufs[w->qi][1];

	(void)q;
	for (uint32_t i = 0; i < ROUNDS; i++) {
		uint64_t sector = (uint64_t)w->qi * 8192 + (i % 32) * 128;
		struct blk_result r;

		blk_env_pattern(out, 65536, w->qi * 1000 + i);
		r = blk_env_io(e, w->qi, VIRTIO_BLK_T_OUT, sector, out, 65536);
		w->failures += r.status != S_OK;
		r = blk_env_io(e, w->qi, VIRTIO_BLK_T_IN, sector, in, 65536);
		w->failures += r.status != S_OK || memcmp(in, out, 65536) != 0;
		if (i % 16 == 15) {
			r = blk_env_io(e, w->qi, VIRTIO_BLK_T_FLUSH, 0, NULL, 0);
			w->failures += r.status != S_OK;
		}
	}
	return NULL;
}

static void queues_in_parallel_threads(void **state)
{
	struct blk_env *e = *state;
	struct worker w[BLK_ENV_QUEUES];
	pthread_t t[BLK_ENV_QUEUES];

	blk_env_start(e, F_FLUSH | VIO_BIT(VIRTIO_BLK_F_MQ), BLK_ENV_QUEUES);
	for (unsigned i = 0; i < BLK_ENV_QUEUES; i++) {
		w[i] = (struct worker){ .e = e, .qi = i };
		assert_int_equal(pthread_create(&t[i], NULL, queue_worker, &w[i]), 0);
	}
	for (unsigned i = 0; i < BLK_ENV_QUEUES; i++) {
		const struct vio_blk_stats *st = vio_blk_queue_stats(e->q[i].bq);

		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(w[i].failures, 0);
		assert_true(st->requests == ROUNDS * 2 + ROUNDS / 16);
		assert_true(st->bytes_written == ROUNDS * 65536ull);
	}
}

#define T(f) cmocka_unit_test_setup_teardown(f, blk_env_setup, blk_env_teardown)

static int run_group(enum vio_blk_aio aio, bool inline_io, const char *name)
{
	const struct CMUnitTest tests[] = {
		T(config_space_and_features),
		T(open_refuses_bad_options_and_missing_images),
		T(write_then_read_back),
		T(read_sees_data_written_to_the_file),
		T(largest_request_over_split_buffers),
		T(requests_past_the_end_fail),
		T(image_shrunk_under_us_read_fails),
		T(get_id_returns_the_serial_nul_padded),
		T(flush_succeeds_and_is_counted),
		T(unsupported_types_and_malformed_chains),
		T(chain_with_too_many_iovecs_gets_length_0),
		T(read_only_refuses_every_write),
		T(discard_deallocates),
		T(write_zeroes_reads_back_zeroes),
		T(write_zeroes_with_unmap_deallocates),
		cmocka_unit_test_setup_teardown(write_zeroes_falls_back_where_zero_range_is_refused,
						blk_env_setup_shm, blk_env_teardown),
		T(multi_segment_write_zeroes),
		T(failed_sync_makes_every_later_flush_fail),
		T(failed_write_makes_every_later_flush_fail),
		T(failed_write_zeroes_makes_flush_fail_discard_does_not),
		T(without_flush_negotiated_writes_are_synced),
		T(ring_larger_than_the_request_pool),
		T(queues_in_parallel_threads),
	};

	blk_env_aio = aio;
	blk_env_inline = inline_io;
	return _cmocka_run_group_tests(name, tests, sizeof(tests) / sizeof(tests[0]), NULL, NULL);
}

int main(void)
{
	int failed = 0;

	/* Each engine with page-cache reads and writes done inline (as served), and without. */
	if (blk_aio_uring_probe() == 0) {
		failed += run_group(VIO_BLK_AIO_IO_URING, true, "blk/io_uring");
		failed += run_group(VIO_BLK_AIO_IO_URING, false, "blk/io_uring-no-inline");
	} else {
		fprintf(stderr, "io_uring is not available here: the io_uring groups are SKIPPED\n");
	}
	failed += run_group(VIO_BLK_AIO_THREADS, true, "blk/threads");
	failed += run_group(VIO_BLK_AIO_THREADS, false, "blk/threads-no-inline");
	return failed;
}
