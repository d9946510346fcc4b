/* SPDX-License-Identifier: BSD-3-Clause */
/* The layout-independent entry points of the driver-side virtqueue. */
#include <errno.h>
#include <string.h>

#include "drvq_impl.h"
#include "vio/virtio.h"

/* VIRTIO 1.4 §2.7.5.2: a descriptor chain is at most 2^32 bytes in total. */
#define CHAIN_MAX_BYTES (1ull << 32)

size_t vio_drvq_size(uint32_t num)
{
	if (num == 0 || num > VIRTQ_MAX_SIZE)
		return 0;
	/* The slots, then the split layout's private copy of the avail ring
	 * or the packed layout's ring of ids in the order they were added. */
	return sizeof(struct vio_drvq) + (size_t)num * sizeof(struct drvq_slot) +
	       (size_t)num * sizeof(uint16_t);
}

static bool packed(uint64_t features)
{
	return vio_has_feature(features, VIRTIO_F_RING_PACKED);
}

/* The split Queue Size is a power of 2 (VIRTIO 1.4 §2.7); packed any value (§2.8). */
static bool num_valid(uint32_t num, uint64_t features)
{
	if (num == 0 || num > VIRTQ_MAX_SIZE)
		return false;
	return packed(features) || !(num & (num - 1));
}

size_t vio_drvq_area_size(uint32_t num, uint64_t features, enum vio_drvq_area a)
{
	if (!num_valid(num, features))
		return 0;
	switch (a) {
	case VIO_DRVQ_DESC:
		return virtq_desc_size(num); /* 16 * num, both layouts */
	case VIO_DRVQ_DRIVER:
		return packed(features) ? sizeof(struct pvirtq_event_suppress)
					: virtq_avail_size(num);
	case VIO_DRVQ_DEVICE:
		return packed(features) ? sizeof(struct pvirtq_event_suppress)
					: virtq_used_size(num);
	}
	return 0;
}

/* The alignment tables of VIRTIO 1.4 §2.7 (split) and §2.8.10.1 (packed). */
size_t vio_drvq_area_align(uint64_t features, enum vio_drvq_area a)
{
	switch (a) {
	case VIO_DRVQ_DESC:
		return 16;
	case VIO_DRVQ_DRIVER:
		return packed(features) ? 4 : 2;
	case VIO_DRVQ_DEVICE:
		return 4;
	}
	return 0;
}

int drvq_fail(struct vio_drvq *q, const char *why)
{
	if (!q->broken) {
		q->broken = true;
		q->err = why;
	}
	return -EIO;
}

int vio_drvq_init(struct vio_drvq *q, const struct vio_drvq_config *cfg)
{
	if (!num_valid(cfg->num, cfg->features) || !cfg->desc || !cfg->driver || !cfg->device)
		return -EINVAL;
	if (((uintptr_t)cfg->desc % vio_drvq_area_align(cfg->features, VIO_DRVQ_DESC)) ||
	    ((uintptr_t)cfg->driver % vio_drvq_area_align(cfg->features, VIO_DRVQ_DRIVER)) ||
	    ((uintptr_t)cfg->device % vio_drvq_area_align(cfg->features, VIO_DRVQ_DEVICE)))
		return -EINVAL; /* VIRTIO 1.4 §2.7.1 */
	if (cfg->indirect && cfg->indirect_max) {
		uint64_t bytes = (uint64_t)cfg->num * cfg->indirect_max * 16u, end;

		if (((uintptr_t)cfg->indirect & 15) || (cfg->indirect_addr & 15) ||
		    __builtin_add_overflow(cfg->indirect_addr, bytes, &end) ||
		    bytes > UINTPTR_MAX - (uintptr_t)cfg->indirect)
			return -EINVAL;
	}

	memset(q, 0, vio_drvq_size(cfg->num));
	q->num = cfg->num;
	q->features = cfg->features;
	q->is_packed = packed(cfg->features);
	q->event_idx = vio_has_feature(cfg->features, VIRTIO_F_EVENT_IDX);
	q->in_order = vio_has_feature(cfg->features, VIRTIO_F_IN_ORDER);
	/* VIRTIO 1.4 §2.7.5.3.1: INDIRECT only when VIRTIO_F_INDIRECT_DESC was negotiated. */
	if (vio_has_feature(cfg->features, VIRTIO_F_INDIRECT_DESC) && cfg->indirect) {
		q->ind = cfg->indirect;
		q->ind_addr = cfg->indirect_addr;
		q->ind_max = cfg->indirect_max;
	}
	return q->is_packed ? packed_drv_init(q, cfg) : split_drv_init(q, cfg);
}

/* One buffer the general way: as vio_drvq_add(), on a queue not broken. */
static int add_one(struct vio_drvq *q, const struct vio_sg *sg, uint32_t nout, uint32_t nin,
		   void *token)
{
	uint64_t n = (uint64_t)nout + nin, total = 0, in = 0;
	uint64_t i;

	/* VIRTIO 1.4 §2.7.5.3.1: no chain longer than the Queue Size, indirect or not. */
	if (n == 0 || n > q->num || !sg)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (sg[i].len == 0 || sg[i].addr > UINT64_MAX - (sg[i].len - 1))
			return -EINVAL;
		total += sg[i].len; /* n <= 32768 segments of < 2^32: no overflow */
		if (i >= nout)
			in += sg[i].len;
	}
	if (total > CHAIN_MAX_BYTES)
		return -EINVAL; /* VIRTIO 1.4 §2.7.5.2 */
	if (in > UINT32_MAX)
		in = UINT32_MAX;
	if (q->is_packed)
		return packed_drv_add(q, sg, nout, (uint32_t)n, (uint32_t)in, token);
	return split_drv_add(q, sg, nout, (uint32_t)n, (uint32_t)in, token);
}

int vio_drvq_add_burst(struct vio_drvq *q, const struct vio_drvq_buf *b, uint32_t n)
{
	uint32_t i = 0;

	if (q->broken)
		return -EIO;
	while (i < n) {
		int r;

		/* A run of one-segment buffers in one tight loop; whatever it
		 * leaves (another shape, no room, invalid) the general way. */
		if (q->is_packed)
			i += packed_drv_add_fast(q, b + i, n - i);
		if (i == n)
			break;
		r = add_one(q, b[i].sg, b[i].nout, b[i].nin, b[i].token);
		if (r)
			return i ? (int)i : r;
		i++;
	}
	return (int)n;
}

int vio_drvq_add(struct vio_drvq *q, const struct vio_sg *sg, uint32_t nout, uint32_t nin,
		 void *token)
{
	struct vio_drvq_buf b = { sg, nout, nin, token };
	int r = vio_drvq_add_burst(q, &b, 1);

	return r == 1 ? 0 : r;
}

int vio_drvq_kick_prepare(struct vio_drvq *q)
{
	if (q->broken)
		return 0;
	return q->is_packed ? packed_drv_kick_prepare(q) : split_drv_kick_prepare(q);
}

int vio_drvq_get_used_burst(struct vio_drvq *q, void **token, uint32_t *len, uint32_t n)
{
	uint32_t i = 0;

	if (q->broken)
		return -EIO;
	while (i < n) {
		struct pvirtq_desc stop;
		bool stopped = false;
		int r;

		/* Runs of plain used descriptors (or of an IN_ORDER batch) in
		 * a tight loop; whatever it stops at, the general way, from
		 * the copy the fast path made of it. */
		if (q->is_packed) {
			uint32_t k = packed_drv_get_used_fast(q, token + i, len + i, n - i, &stop,
							      &stopped);

			i += k;
			if (i == n)
				break;
			if (k && !stopped)
				continue; /* it stopped at its own limit */
		}
		r = q->is_packed ? packed_drv_get_used(q, &token[i], &len[i], stopped ? &stop : NULL)
				 : split_drv_get_used(q, &token[i], &len[i]);
		if (r != 1)
			return i ? (int)i : r;
		i++;
	}
	return (int)n;
}

int vio_drvq_get_used(struct vio_drvq *q, void **token, uint32_t *len)
{
	return vio_drvq_get_used_burst(q, token, len, 1);
}

void vio_drvq_cb_disable(struct vio_drvq *q)
{
	if (q->broken)
		return;
	if (q->is_packed)
		packed_drv_cb_disable(q);
	else
		split_drv_cb_disable(q);
}

int vio_drvq_cb_enable(struct vio_drvq *q)
{
	if (q->broken)
		return 0; /* nothing more will come out of get_used */
	return q->is_packed ? packed_drv_cb_enable(q) : split_drv_cb_enable(q);
}

uint32_t vio_drvq_num_free(const struct vio_drvq *q)
{
	return q->num_free;
}

uint32_t vio_drvq_inflight(const struct vio_drvq *q)
{
	return q->inflight;
}

void drvq_release(struct vio_drvq *q, uint16_t id)
{
	if (q->is_packed)
		packed_drv_release(q, id);
	else
		split_drv_release(q, id);
}

int vio_drvq_detach(struct vio_drvq *q, void **token)
{
	uint32_t n;

	if (!q->inflight)
		return 0;
	/* A cursor that goes round once over a full detach: O(num) in all. */
	for (n = 0; n < q->num; n++) {
		uint32_t id = q->detach_cursor;

		q->detach_cursor = id + 1 == q->num ? 0 : id + 1;
		if (q->slot[id].state != DRVQ_FREE) {
			*token = q->slot[id].token;
			/* The rings still name this buffer: the queue cannot go
			 * on until it is initialised again. */
			drvq_fail(q, "buffers detached");
			drvq_release(q, (uint16_t)id);
			return 1;
		}
	}
	return 0; /* not reached: inflight counts slots not FREE */
}

const char *vio_drvq_error(const struct vio_drvq *q)
{
	return q->broken ? q->err : NULL;
}
