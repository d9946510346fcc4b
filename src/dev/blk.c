/* SPDX-License-Identifier: BSD-3-Clause */
/* The virtio-blk device: the image, its feature bits and configuration space (VIRTIO 1.4 §5.2). */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blk_aio.h"
#include "blk_impl.h"
#include "vio/log.h"
#include "vio/virtio.h"

static uint64_t blk_features(void *dev)
{
	return ((struct vio_blk *)dev)->offered;
}

static int blk_set_features(void *dev, uint64_t features)
{
	struct vio_blk *blk = dev;

	/* Queue threads read it per request (write-through without FLUSH). */
	atomic_store(&blk->features, features);
	return 0;
}

static void blk_config_read(void *dev, uint32_t off, void *buf, uint32_t len)
{
	struct vio_blk *blk = dev;

	memcpy(buf, (const uint8_t *)&blk->config + off, len);
}

static void blk_reset(void *dev)
{
	struct vio_blk *blk = dev;

	/* The sticky write error stays: a reset does not bring lost data back. */
	atomic_store(&blk->features, 0);
}

static const struct vio_device_ops blk_device_ops = {
	.device_id = VIRTIO_ID_BLOCK,
	.config_size = sizeof(struct virtio_blk_config),
	.features = blk_features,
	.set_features = blk_set_features,
	.config_read = blk_config_read,
	.config_write = NULL, /* no VIRTIO_BLK_F_CONFIG_WCE: every field is read-only */
	.reset = blk_reset,
};

static bool lbs_ok(uint32_t lbs)
{
	return lbs == 512 || lbs == 1024 || lbs == 2048 || lbs == 4096;
}

static int check_options(const struct vio_blk_options *o)
{
	if (!o || !o->path || !o->num_queues)
		return -EINVAL;
	if (o->logical_block_size && !lbs_ok(o->logical_block_size))
		return -EINVAL;
	if (o->serial && strlen(o->serial) > VIRTIO_BLK_ID_BYTES)
		return -EINVAL;
	if (o->aio != VIO_BLK_AIO_IO_URING && o->aio != VIO_BLK_AIO_THREADS)
		return -EINVAL;
	return 0;
}

/* Size in bytes of the regular file or block device open at @fd. */
static int image_size(int fd, uint64_t *bytes)
{
	struct stat st;

	if (fstat(fd, &st))
		return -errno;
	if (S_ISREG(st.st_mode)) {
		*bytes = (uint64_t)st.st_size;
		return 0;
	}
	if (S_ISBLK(st.st_mode))
		return ioctl(fd, BLKGETSIZE64, bytes) ? -errno : 0;
	return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
}

static uint64_t offered_features(const struct vio_blk_options *o)
{
	uint64_t f = VIO_BIT(VIRTIO_F_VERSION_1) | VIO_BIT(VIRTIO_F_INDIRECT_DESC) |
		     VIO_BIT(VIRTIO_F_EVENT_IDX) | VIO_BIT(VIRTIO_BLK_F_SIZE_MAX) |
		     VIO_BIT(VIRTIO_BLK_F_SEG_MAX) | VIO_BIT(VIRTIO_BLK_F_BLK_SIZE) |
		     VIO_BIT(VIRTIO_BLK_F_FLUSH) | VIO_BIT(VIRTIO_BLK_F_TOPOLOGY) |
		     VIO_BIT(VIRTIO_BLK_F_MQ) | VIO_BIT(VIRTIO_F_RING_PACKED) |
		     VIO_BIT(VIRTIO_F_IN_ORDER);

	/* VIRTIO 1.4 §5.2.5.2: devices SHOULD always offer FLUSH. */
	if (o->read_only)
		f |= VIO_BIT(VIRTIO_BLK_F_RO);
	if (o->discard)
		f |= VIO_BIT(VIRTIO_BLK_F_DISCARD);
	if (o->write_zeroes)
		f |= VIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES);
	return f;
}

/* The configuration space (VIRTIO 1.4 §5.2.4), all little-endian, padding zero. */
static void build_config(struct vio_blk *blk, const struct vio_blk_options *o)
{
	struct virtio_blk_config *c = &blk->config;
	uint32_t lbs = blk->lim.lbs;

	memset(c, 0, sizeof(*c)); /* VIRTIO 1.4 §5.2.5.2: unused0 / unused1 are 0 */
	c->capacity = cpu_to_le64(blk->lim.capacity);
	c->size_max = cpu_to_le32(VIO_BLK_SIZE_MAX);
	c->seg_max = cpu_to_le32(VIO_BLK_SEG_MAX);
	c->blk_size = cpu_to_le32(lbs);
	c->topology.physical_block_exp = 0;
	c->topology.alignment_offset = 0;
	c->topology.min_io_size = cpu_to_le16(1);
	c->topology.opt_io_size = cpu_to_le32(0);
	c->num_queues = cpu_to_le16(o->num_queues);
	if (o->discard) {
		c->max_discard_sectors = cpu_to_le32(VIO_BLK_MAX_DISCARD_SECTORS);
		c->max_discard_seg = cpu_to_le32(VIO_BLK_MAX_DISCARD_SEG);
		c->discard_sector_alignment = cpu_to_le32(lbs / VIRTIO_BLK_SECTOR_SIZE);
	}
	if (o->write_zeroes) {
		c->max_write_zeroes_sectors = cpu_to_le32(VIO_BLK_MAX_DISCARD_SECTORS);
		c->max_write_zeroes_seg = cpu_to_le32(VIO_BLK_MAX_DISCARD_SEG);
		/* Write zeroes with unmap punches a hole (VIRTIO 1.4 §5.2.6.2). */
		c->write_zeroes_may_unmap = 1;
	}
}

/* Opens the image; fills blk->fd and blk->lim.capacity. */
static int open_image(struct vio_blk *blk, const struct vio_blk_options *o)
{
	int flags = (o->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	uint64_t bytes = 0;
	int err;

	/*
	 * No access-time updates: a read would otherwise check (and now and
	 * then write) the inode's atime, a few percent of a page-cache read.
	 * Only the file's owner (or CAP_FOWNER) may ask; others open without.
	 */
	blk->fd = open(o->path, flags | O_NOATIME);
	if (blk->fd < 0 && errno == EPERM)
		blk->fd = open(o->path, flags);
	if (blk->fd < 0)
		return -errno;
	err = image_size(blk->fd, &bytes);
	if (err)
		return err;
	/* Capacity in 512-byte sectors, rounded down to whole logical blocks. */
	blk->lim.capacity = bytes / blk->lim.lbs * (blk->lim.lbs / VIRTIO_BLK_SECTOR_SIZE);
	return 0;
}

static void init_device(struct vio_blk *blk, const struct vio_blk_options *o)
{
	blk->aio = o->aio;
	if (o->serial)
		memcpy(blk->serial, o->serial, strlen(o->serial)); /* NUL-padded by calloc */
	blk->offered = offered_features(o);
	build_config(blk, o);
	atomic_init(&blk->features, 0);
	atomic_init(&blk->failed, false);
	atomic_init(&blk->nqueues, 0);
	blk->vdev.ops = &blk_device_ops;
	blk->vdev.dev = blk;
	blk->vdev.max_queues = o->num_queues;
	blk->vdev.max_queue_size = BLK_MAX_QUEUE_SIZE;
	blk->vdev.features = 0;
}

int vio_blk_open(struct vio_blk **out, const struct vio_blk_options *opts)
{
	struct vio_blk *blk;
	int err = check_options(opts);

	if (err)
		return err;
	if (opts->aio == VIO_BLK_AIO_IO_URING && (err = blk_aio_uring_probe()))
		return err;
	blk = calloc(1, sizeof(*blk));
	if (!blk)
		return -ENOMEM;
	blk->lim.lbs = opts->logical_block_size ? opts->logical_block_size : 512;
	blk->lim.read_only = opts->read_only;
	blk->lim.discard = opts->discard;
	blk->lim.write_zeroes = opts->write_zeroes;
	err = open_image(blk, opts);
	if (err) {
		if (blk->fd >= 0)
			close(blk->fd);
		free(blk);
		return err;
	}
	init_device(blk, opts);
	*out = blk;
	return 0;
}

void vio_blk_close(struct vio_blk *blk)
{
	if (!blk)
		return;
	if (atomic_load(&blk->nqueues)) {
		/* A caller bug: leak rather than free what the queues still use. */
		vio_err("vio_blk_close: %u queues still alive", atomic_load(&blk->nqueues));
		return;
	}
	close(blk->fd);
	free(blk);
}

struct vio_device *vio_blk_device(struct vio_blk *blk)
{
	return &blk->vdev;
}

uint64_t vio_blk_capacity(const struct vio_blk *blk)
{
	return blk->lim.capacity;
}
