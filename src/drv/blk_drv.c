/* SPDX-License-Identifier: BSD-3-Clause */
/* The virtio-blk driver: initialization, the configuration space and the limits it implies. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "blk_drv_impl.h"
#include "vio/log.h"

/* A single data segment without VIRTIO_BLK_F_SIZE_MAX: 4 MiB. */
#define SEG_SIZE_DEFAULT (4u << 20)
/* Segment bytes when a device offers VIRTIO_BLK_F_SIZE_MAX but says 0. */
#define SIZE_MAX_ZERO 4096u
/* Data bytes of one virtio read / write request at most: 1 GiB. */
#define MAX_TRANSFER_CAP (1ull << 30)

static uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

/* How many configuration bytes hold the fields of the features in @f (VIRTIO 1.4 §5.2.4). */
static uint32_t config_len(uint64_t f)
{
	static const struct { unsigned bit; uint32_t end; } fields[] = {
		{ VIRTIO_BLK_F_SIZE_MAX, offsetof(struct virtio_blk_config, seg_max) },
		{ VIRTIO_BLK_F_SEG_MAX, offsetof(struct virtio_blk_config, geometry) },
		{ VIRTIO_BLK_F_GEOMETRY, offsetof(struct virtio_blk_config, blk_size) },
		{ VIRTIO_BLK_F_BLK_SIZE, offsetof(struct virtio_blk_config, topology) },
		{ VIRTIO_BLK_F_TOPOLOGY, offsetof(struct virtio_blk_config, writeback) },
		{ VIRTIO_BLK_F_MQ, offsetof(struct virtio_blk_config, max_discard_sectors) },
		{ VIRTIO_BLK_F_DISCARD, offsetof(struct virtio_blk_config, max_write_zeroes_sectors) },
		{ VIRTIO_BLK_F_WRITE_ZEROES, offsetof(struct virtio_blk_config, unused1) },
	};
	uint32_t len = offsetof(struct virtio_blk_config, size_max);

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (vio_has_feature(f, fields[i].bit) && fields[i].end > len)
			len = fields[i].end;
	return len;
}

/* The fields of the negotiated features (§2.5.1: only those offered are read). */
static void decode_config(struct vio_blk_drv_info *in, const struct virtio_blk_config *c)
{
	uint64_t f = in->features;

	in->capacity = le64_to_cpu(c->capacity);
	if (vio_has_feature(f, VIRTIO_BLK_F_SIZE_MAX))
		in->size_max = le32_to_cpu(c->size_max);
	if (vio_has_feature(f, VIRTIO_BLK_F_SEG_MAX))
		in->seg_max = le32_to_cpu(c->seg_max);
	if (vio_has_feature(f, VIRTIO_BLK_F_GEOMETRY)) {
		in->cylinders = le16_to_cpu(c->geometry.cylinders);
		in->heads = c->geometry.heads;
		in->sectors = c->geometry.sectors;
	}
	in->blk_size = vio_has_feature(f, VIRTIO_BLK_F_BLK_SIZE) ? le32_to_cpu(c->blk_size) : 512;
	if (vio_has_feature(f, VIRTIO_BLK_F_TOPOLOGY)) {
		in->physical_block_exp = c->topology.physical_block_exp;
		in->alignment_offset = c->topology.alignment_offset;
		in->min_io_size = le16_to_cpu(c->topology.min_io_size);
		in->opt_io_size = le32_to_cpu(c->topology.opt_io_size);
	}
	in->device_queues = vio_has_feature(f, VIRTIO_BLK_F_MQ) ? le16_to_cpu(c->num_queues) : 1;
	if (vio_has_feature(f, VIRTIO_BLK_F_DISCARD)) {
		in->max_discard_sectors = le32_to_cpu(c->max_discard_sectors);
		in->max_discard_seg = le32_to_cpu(c->max_discard_seg);
		in->discard_sector_alignment = le32_to_cpu(c->discard_sector_alignment);
	}
	if (vio_has_feature(f, VIRTIO_BLK_F_WRITE_ZEROES)) {
		in->max_write_zeroes_sectors = le32_to_cpu(c->max_write_zeroes_sectors);
		in->max_write_zeroes_seg = le32_to_cpu(c->max_write_zeroes_seg);
		in->write_zeroes_may_unmap = c->write_zeroes_may_unmap;
	}
}

/* Values that only affect performance are repaired; values that make I/O impossible fail. */
static int check_config(struct vio_blk_drv_info *in)
{
	if (in->capacity > UINT64_MAX >> VIRTIO_BLK_SECTOR_SHIFT) {
		vio_err("blk driver: capacity %llu sectors overflows 64-bit byte offsets",
			(unsigned long long)in->capacity);
		return -EPROTO;
	}
	if (in->blk_size < 512 || in->blk_size > (1u << 16) || (in->blk_size & (in->blk_size - 1))) {
		vio_warn("blk driver: ignoring blk_size %u (not a power of two in 512..65536)",
			 in->blk_size);
		in->blk_size = 512;
	}
	if (in->device_queues == 0) {
		vio_warn("blk driver: num_queues is 0; using one queue");
		in->device_queues = 1;
	}
	return 0;
}

static int read_config(struct vio_blk_drv *drv)
{
	struct virtio_blk_config c;
	int r;

	memset(&c, 0, sizeof(c));
	r = vio_driver_config_read(&drv->d, 0, &c, config_len(drv->d.features));
	if (r)
		return r;
	drv->info.device_features = drv->d.device_features;
	drv->info.features = drv->d.features;
	decode_config(&drv->info, &c);
	return check_config(&drv->info);
}

/* Bytes per discard / write-zeroes segment: the sector limit, aligned down. */
static uint64_t dz_chunk(uint32_t max_sectors, uint32_t align_sectors, uint32_t blk_size)
{
	uint64_t s = max_sectors ? max_sectors : UINT32_MAX;
	uint64_t blk = blk_size >> VIRTIO_BLK_SECTOR_SHIFT;

	if (align_sectors > 1 && s >= align_sectors)
		s -= s % align_sectors;
	if (s >= blk)
		s -= s % blk;
	return s << VIRTIO_BLK_SECTOR_SHIFT;
}

/* The per-request limits this driver keeps to (see vio/blk_drv.h). */
static int plan_limits(struct vio_blk_drv *drv)
{
	struct vio_blk_drv_info *in = &drv->info;
	uint32_t seg = VIO_BLK_DRV_SEG_CAP, dz = 1;
	uint64_t max;

	if (vio_has_feature(in->features, VIRTIO_BLK_F_SEG_MAX))
		seg = min_u32(in->seg_max ? in->seg_max : 1, seg); /* 0 read as 1, as Linux does */
	/*
	 * Header, data and status: no chain longer than the Queue Size, also
	 * through an indirect table (VIRTIO 1.4 §2.7.5.3.1).
	 */
	seg = min_u32(seg, in->queue_size - 2);
	drv->seg_limit = seg;
	drv->seg_size = SEG_SIZE_DEFAULT;
	if (vio_has_feature(in->features, VIRTIO_BLK_F_SIZE_MAX)) {
		/* qemu-storage-daemon 7.2 offers SIZE_MAX and leaves it 0; Linux then uses a page. */
		drv->seg_size = in->size_max ? in->size_max : SIZE_MAX_ZERO;
		if (!in->size_max)
			vio_info("blk driver: size_max is 0; using %u-byte segments", SIZE_MAX_ZERO);
	}
	max = (uint64_t)seg * drv->seg_size;
	if (max > MAX_TRANSFER_CAP)
		max = MAX_TRANSFER_CAP;
	in->max_transfer = max - max % in->blk_size;
	if (!in->max_transfer) {
		vio_err("blk driver: %u segments of %u bytes cannot carry one %u-byte block", seg,
			drv->seg_size, in->blk_size);
		return -EPROTO;
	}
	if (vio_has_feature(in->features, VIRTIO_BLK_F_DISCARD))
		dz = min_u32(in->max_discard_seg ? in->max_discard_seg : 1, VIO_BLK_DRV_DZ_SEG_CAP);
	if (vio_has_feature(in->features, VIRTIO_BLK_F_WRITE_ZEROES)) {
		uint32_t w = min_u32(in->max_write_zeroes_seg ? in->max_write_zeroes_seg : 1,
				     VIO_BLK_DRV_DZ_SEG_CAP);

		dz = w > dz ? w : dz;
	}
	drv->dz_segs = dz;
	drv->discard_chunk = dz_chunk(in->max_discard_sectors, in->discard_sector_alignment,
				      in->blk_size);
	drv->wz_chunk = dz_chunk(in->max_write_zeroes_sectors, 0, in->blk_size);
	drv->id_off = 16 + 16 * dz;
	drv->slot_size = (drv->id_off + VIRTIO_BLK_ID_BYTES + 1 + 63) & ~63u;
	return 0;
}

/* How many queues, of what size and depth. */
static int plan_queues(struct vio_blk_drv *drv, const struct vio_blk_drv_options *o)
{
	struct vio_blk_drv_info *in = &drv->info;
	uint16_t tq;
	int r = vio_driver_max_queues(&drv->d, &tq);

	if (r)
		return r;
	if (tq && tq < in->device_queues)
		in->device_queues = tq;
	in->num_queues = o->num_queues ? o->num_queues : in->device_queues;
	if (in->num_queues > in->device_queues) {
		vio_err("blk driver: %u queues asked, the device has %u", in->num_queues,
			in->device_queues);
		return -EINVAL;
	}
	in->queue_size = o->queue_size ? o->queue_size : VIO_BLK_DRV_QUEUE_SIZE;
	in->depth = o->depth ? o->depth : in->queue_size;
	if (in->queue_size < 4 || in->queue_size > 32768 || in->depth > in->queue_size) {
		vio_err("blk driver: queue size %u / depth %u not valid", in->queue_size, in->depth);
		return -EINVAL;
	}
	/* VIRTIO 1.4 §2.7: a split Queue Size is a power of 2; §2.8: a packed one need not be. */
	if ((in->queue_size & (in->queue_size - 1)) &&
	    !vio_has_feature(in->features, VIRTIO_F_RING_PACKED)) {
		vio_err("blk driver: queue size %u is not a power of two, which the split ring "
			"needs (VIRTIO_F_RING_PACKED was not negotiated)", in->queue_size);
		return -EINVAL;
	}
	return 0;
}

static int setup_queues(struct vio_blk_drv *drv)
{
	uint16_t n = drv->info.num_queues;

	drv->queues = calloc(n, sizeof(drv->queues[0]));
	if (!drv->queues)
		return -ENOMEM;
	for (uint16_t i = 0; i < n; i++) {
		int r = blk_queue_init(drv, &drv->queues[i], i);

		if (r)
			return r;
	}
	return 0;
}

/* True once a queue saw the device go away: there is nobody left to reset. */
static bool device_gone(const struct vio_blk_drv *drv)
{
	for (uint16_t i = 0; drv->queues && i < drv->info.num_queues; i++)
		if (drv->queues[i].error == -ECONNRESET)
			return true;
	return false;
}

/*
 * Resets the device (ignoring a dead transport) and frees every queue. A
 * device given up before any queue existed is left FAILED (VIRTIO 1.4
 * §3.1.1): nothing of ours is in its hands.
 */
static void teardown(struct vio_blk_drv *drv)
{
	int r = drv->queues && !device_gone(drv) ? vio_driver_reset(&drv->d) : 0;

	if (r)
		vio_debug("blk driver: reset at close: %s", strerror(-r));
	if (drv->queues)
		for (uint16_t i = 0; i < drv->info.num_queues; i++)
			blk_queue_fini(&drv->queues[i]);
	free(drv->queues);
	drv->queues = NULL;
}

int vio_blk_drv_open(struct vio_blk_drv **out, const struct vio_transport_ops *ops, void *t,
		     const struct vio_blk_drv_options *o)
{
	uint64_t wanted = o->features ? o->features & VIO_BLK_DRV_FEATURES : VIO_BLK_DRV_FEATURES;
	struct vio_blk_drv *drv = calloc(1, sizeof(*drv));
	int r;

	if (!drv)
		return -ENOMEM;
	vio_driver_init(&drv->d, ops, t);
	r = vio_driver_start(&drv->d, wanted);
	if (!r)
		r = read_config(drv);
	if (!r)
		r = plan_queues(drv, o);
	if (!r)
		r = plan_limits(drv);
	if (!r)
		r = setup_queues(drv);
	if (!r)
		r = vio_driver_ok(&drv->d);
	if (r) {
		vio_driver_fail(&drv->d);
		teardown(drv);
		free(drv);
		return r;
	}
	*out = drv;
	return 0;
}

void vio_blk_drv_close(struct vio_blk_drv *drv)
{
	if (!drv)
		return;
	teardown(drv);
	free(drv);
}

const struct vio_blk_drv_info *vio_blk_drv_info(const struct vio_blk_drv *drv)
{
	return &drv->info;
}

size_t vio_blk_drv_dma_size(uint32_t queue_size, uint32_t depth)
{
	/* Each allocation may lose up to 4096 bytes to alignment and rounding. */
	size_t rings = 26u * queue_size + 3 * 4096;
	size_t indirect = (size_t)queue_size * (VIO_BLK_DRV_SEG_CAP + 2) * 16 + 4096;
	size_t slots = (size_t)depth * ((16 + 16 * VIO_BLK_DRV_DZ_SEG_CAP + VIRTIO_BLK_ID_BYTES +
					  1 + 63) & ~(size_t)63) + 4096;

	return rings + indirect + slots;
}

struct vio_blk_drv_queue *vio_blk_drv_queue(struct vio_blk_drv *drv, uint16_t i)
{
	return i < drv->info.num_queues ? &drv->queues[i] : NULL;
}

void *vio_blk_drv_buf_alloc(struct vio_blk_drv *drv, size_t len)
{
	return vio_driver_dma_alloc(&drv->d, len, 4096, NULL);
}

void vio_blk_drv_buf_free(struct vio_blk_drv *drv, void *buf)
{
	vio_driver_dma_free(&drv->d, buf);
}
