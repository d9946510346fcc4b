/* SPDX-License-Identifier: BSD-3-Clause */
/* The layout-independent entry points of the device-side virtqueue. */
#include <errno.h>
#include <string.h>

#include "devq_impl.h"
#include "vio/virtio.h"

size_t vio_devq_size(uint32_t num)
{
	if (num == 0 || num > VIRTQ_MAX_SIZE)
		return 0;
	return sizeof(struct vio_devq) + (size_t)num * sizeof(struct devq_slot);
}

int devq_fail(struct vio_devq *q, const char *why)
{
	if (!q->broken) {
		q->broken = true;
		q->err = why;
	}
	return -EIO;
}

int vio_devq_init(struct vio_devq *q, const struct vio_devq_config *cfg)
{
	if (!vio_devq_size(cfg->num) || !cfg->desc || !cfg->driver || !cfg->device || !cfg->mem)
		return -EINVAL;
	if (vio_has_feature(cfg->features, VIRTIO_F_RING_PACKED))
		return -ENOTSUP;
	memset(q, 0, vio_devq_size(cfg->num));
	q->num = cfg->num;
	q->event_idx = vio_has_feature(cfg->features, VIRTIO_F_EVENT_IDX);
	q->indirect = vio_has_feature(cfg->features, VIRTIO_F_INDIRECT_DESC);
	q->mem = cfg->mem;
	return split_init(q, cfg);
}

void vio_devq_set_mem(struct vio_devq *q, const struct vio_mem *mem)
{
	q->mem = mem;
}

int vio_devq_pop(struct vio_devq *q, struct vio_chain *c)
{
	if (q->broken)
		return -EIO;
	return split_pop(q, c);
}

int vio_devq_push(struct vio_devq *q, uint16_t id, uint32_t len)
{
	struct devq_slot *s;

	if (id >= q->num || !q->slots[id].inflight)
		return -EINVAL;
	s = &q->slots[id];
	s->inflight = 0;
	q->inflight--;
	if (q->broken)
		return -EIO; /* bookkeeping only: a broken ring is not written */
	return split_push(q, id, len < s->in_bytes ? len : s->in_bytes);
}

int vio_devq_flush(struct vio_devq *q)
{
	if (q->broken)
		return 0;
	return split_flush(q);
}

void vio_devq_kick_disable(struct vio_devq *q)
{
	if (!q->broken)
		split_kick_disable(q);
}

int vio_devq_kick_enable(struct vio_devq *q)
{
	if (q->broken)
		return 0;
	return split_kick_enable(q);
}

uint32_t vio_devq_base(const struct vio_devq *q)
{
	return q->last_avail_idx;
}

uint32_t vio_devq_inflight(const struct vio_devq *q)
{
	return q->inflight;
}

const char *vio_devq_error(const struct vio_devq *q)
{
	return q->broken ? q->err : NULL;
}
