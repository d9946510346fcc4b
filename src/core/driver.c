/* SPDX-License-Identifier: BSD-3-Clause */
/* Device initialization from the driver's side (VIRTIO 1.4 §3.1), over a transport ops table. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vio/driver.h"
#include "vio/drvq.h"
#include "vio/log.h"
#include "vio/virtio.h"

/* How long a reset may take before the device counts as stuck: 1000 x 1 ms. */
#define RESET_POLLS 1000
/* Generation re-reads before the configuration counts as never settling. */
#define CONFIG_TRIES 64

void vio_driver_init(struct vio_driver *d, const struct vio_transport_ops *ops, void *t)
{
	*d = (struct vio_driver){ .ops = ops, .t = t };
}

int vio_driver_has(const struct vio_driver *d, unsigned nr)
{
	return vio_has_feature(d->features, nr);
}

static int set_status(struct vio_driver *d, uint8_t status)
{
	int r = d->ops->set_status(d->t, status);

	if (!r)
		d->status = status;
	return r;
}

/* Adds @bits to the status (VIRTIO 1.4 §2.1.1: the driver never clears a bit). */
static int add_status(struct vio_driver *d, uint8_t bits)
{
	return set_status(d, (uint8_t)(d->status | bits));
}

static void sleep_1ms(void)
{
	struct timespec ts = { .tv_nsec = 1000000 };

	nanosleep(&ts, NULL);
}

int vio_driver_reset(struct vio_driver *d)
{
	uint8_t st = 0xff;
	int r;

	d->features = 0;
	r = d->ops->reset(d->t);
	if (r)
		return r;
	d->status = 0;
	/* VIRTIO 1.4 §2.4.2: the reset is complete when the status reads 0. */
	for (int i = 0; i < RESET_POLLS; i++) {
		r = d->ops->get_status(d->t, &st);
		if (r)
			return r;
		if (st == 0)
			return 0;
		sleep_1ms();
	}
	vio_err("driver: the device status is still 0x%x after a reset", st);
	return -EIO;
}

int vio_driver_fail(struct vio_driver *d)
{
	return add_status(d, VIRTIO_CONFIG_S_FAILED);
}

/* The status as the device reports it; -EIO if it asks for a reset. */
static int read_status(struct vio_driver *d, uint8_t *st)
{
	int r = d->ops->get_status(d->t, st);

	if (r)
		return r;
	if (*st & VIRTIO_CONFIG_S_DEVICE_NEEDS_RESET) {
		vio_err("driver: the device needs a reset (status 0x%x)", *st);
		return -EIO;
	}
	return 0;
}

/* Steps 4-6 of VIRTIO 1.4 §3.1.1: features, FEATURES_OK, re-read. */
static int negotiate(struct vio_driver *d, uint64_t wanted)
{
	uint64_t offered, accept;
	uint8_t st;
	int r;

	r = d->ops->get_features(d->t, &offered);
	if (r)
		return r;
	d->device_features = offered;
	/* VIRTIO 1.4 §2.2.1: accept no bit the device did not offer. */
	accept = wanted & offered;
	if (!vio_has_feature(accept, VIRTIO_F_VERSION_1)) {
		vio_err("driver: the device does not offer VIRTIO_F_VERSION_1 (features 0x%llx); "
			"vio drives VIRTIO 1.x devices only", (unsigned long long)offered);
		return -ENOTSUP;
	}
	r = d->ops->set_features(d->t, accept);
	if (r)
		return r;
	r = add_status(d, VIRTIO_CONFIG_S_FEATURES_OK);
	if (r)
		return r;
	/* VIRTIO 1.4 §3.1.1 step 6: the device may refuse the subset by clearing it. */
	r = read_status(d, &st);
	if (r)
		return r;
	if (!(st & VIRTIO_CONFIG_S_FEATURES_OK)) {
		vio_err("driver: the device refused features 0x%llx (FEATURES_OK cleared)",
			(unsigned long long)accept);
		return -ENOTSUP;
	}
	d->features = accept;
	return 0;
}

int vio_driver_start(struct vio_driver *d, uint64_t wanted)
{
	int r;

	d->device_features = 0;
	r = vio_driver_reset(d);
	/* VIRTIO 1.4 §3.1.1 steps 2-3. */
	if (!r)
		r = add_status(d, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	if (!r)
		r = add_status(d, VIRTIO_CONFIG_S_DRIVER);
	if (!r)
		r = negotiate(d, wanted);
	if (r) {
		d->features = 0;
		vio_driver_fail(d); /* best effort: the transport may be gone */
	}
	return r;
}

int vio_driver_ok(struct vio_driver *d)
{
	return add_status(d, VIRTIO_CONFIG_S_DRIVER_OK);
}

static int generation(struct vio_driver *d, uint32_t *gen)
{
	if (!d->ops->config_generation) {
		*gen = 0;
		return 0;
	}
	return d->ops->config_generation(d->t, gen);
}

int vio_driver_config_read(struct vio_driver *d, uint32_t off, void *buf, uint32_t len)
{
	uint32_t before, after;

	if (!len)
		return -EINVAL;
	/* VIRTIO 1.4 §2.5.1: re-read until the generation did not move. */
	for (int i = 0; i < CONFIG_TRIES; i++) {
		int r = generation(d, &before);

		if (!r)
			r = d->ops->config_read(d->t, off, buf, len);
		if (!r)
			r = generation(d, &after);
		if (r)
			return r;
		if (before == after)
			return 0;
	}
	vio_err("driver: the configuration generation changed on each of %d reads", CONFIG_TRIES);
	return -EIO;
}

int vio_driver_max_queues(struct vio_driver *d, uint16_t *n)
{
	*n = 0;
	return d->ops->max_queues ? d->ops->max_queues(d->t, n) : 0;
}

/* ---- virtqueues ----------------------------------------------------------- */

struct vio_driver_queue {
	struct vio_driver *d;
	uint16_t index;
	void *areas[3];   /* DMA memory: descriptor, driver and device areas */
	void *indirect;   /* DMA memory, or NULL */
	struct vio_drvq *vq; /* malloc'd, vio_drvq_size(num) bytes */
};

void *vio_driver_dma_alloc(struct vio_driver *d, size_t size, size_t align, uint64_t *addr)
{
	return d->ops->dma_alloc(d->t, size, align, addr);
}

void vio_driver_dma_free(struct vio_driver *d, void *p)
{
	d->ops->dma_free(d->t, p);
}

int vio_driver_dma_addr(struct vio_driver *d, const void *p, size_t len, uint64_t *addr)
{
	return d->ops->dma_addr(d->t, p, len, addr);
}

void vio_driver_queue_free(struct vio_driver_queue *q)
{
	if (!q)
		return;
	for (int i = 0; i < 3; i++)
		vio_driver_dma_free(q->d, q->areas[i]);
	vio_driver_dma_free(q->d, q->indirect);
	free(q->vq);
	free(q);
}

/* Allocates the three ring areas; fills the layout's addresses. */
static int alloc_areas(struct vio_driver_queue *q, uint32_t num, struct vio_queue_layout *l)
{
	static const enum vio_drvq_area which[3] = { VIO_DRVQ_DESC, VIO_DRVQ_DRIVER,
						     VIO_DRVQ_DEVICE };
	uint64_t *addr[3] = { &l->desc_addr, &l->driver_addr, &l->device_addr };

	for (int i = 0; i < 3; i++) {
		size_t size = vio_drvq_area_size(num, q->d->features, which[i]);
		size_t align = vio_drvq_area_align(q->d->features, which[i]);

		if (!size || !align)
			return -EINVAL;
		q->areas[i] = vio_driver_dma_alloc(q->d, size, align, addr[i]);
		if (!q->areas[i])
			return -ENOMEM;
	}
	l->num = num;
	l->desc = q->areas[0];
	l->driver = q->areas[1];
	l->device = q->areas[2];
	return 0;
}

/* Fills @c for the ring of @q, with indirect tables when negotiated and asked for. */
static int ring_config(struct vio_driver_queue *q, uint32_t num, uint32_t indirect_max,
		       const struct vio_queue_layout *l, struct vio_drvq_config *c)
{
	*c = (struct vio_drvq_config){ .num = num, .features = q->d->features,
				       .desc = l->desc, .driver = l->driver, .device = l->device };
	if (indirect_max < 2 || !vio_driver_has(q->d, VIRTIO_F_INDIRECT_DESC))
		return 0;
	if ((uint64_t)num * indirect_max * 16u > SIZE_MAX / 2)
		return -EINVAL;
	q->indirect = vio_driver_dma_alloc(q->d, (size_t)num * indirect_max * 16u, 16,
					   &c->indirect_addr);
	if (!q->indirect)
		return -ENOMEM;
	c->indirect = q->indirect;
	c->indirect_max = indirect_max;
	return 0;
}

int vio_driver_queue_new(struct vio_driver *d, uint16_t index, uint32_t num,
			 uint32_t indirect_max, struct vio_driver_queue **out)
{
	struct vio_driver_queue *q;
	struct vio_queue_layout l = { 0 };
	struct vio_drvq_config c;
	size_t state = vio_drvq_size(num);
	int r;

	if (!state)
		return -EINVAL;
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->d = d;
	q->index = index;
	q->vq = aligned_alloc(8, (state + 7) & ~(size_t)7);
	r = q->vq ? 0 : -ENOMEM;
	if (!r)
		r = alloc_areas(q, num, &l);
	if (!r)
		r = ring_config(q, num, indirect_max, &l, &c);
	if (!r)
		r = vio_drvq_init(q->vq, &c);
	if (!r)
		r = d->ops->queue_setup(d->t, index, &l);
	if (r) {
		vio_driver_queue_free(q);
		return r;
	}
	*out = q;
	return 0;
}

struct vio_drvq *vio_driver_queue_vq(struct vio_driver_queue *q)
{
	return q->vq;
}

uint16_t vio_driver_queue_index(const struct vio_driver_queue *q)
{
	return q->index;
}

int vio_driver_queue_kick(struct vio_driver_queue *q)
{
	if (vio_drvq_kick_prepare(q->vq) <= 0)
		return 0;
	return q->d->ops->queue_notify(q->d->t, q->index);
}

int vio_driver_queue_fds(struct vio_driver_queue *q, struct vio_queue_fds *fds)
{
	return q->d->ops->queue_fds(q->d->t, q->index, fds);
}
