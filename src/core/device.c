/* SPDX-License-Identifier: BSD-3-Clause */
/* Feature negotiation and configuration space access, checked for every device type. */
#include <errno.h>

#include "vio/device.h"
#include "vio/virtio.h"

int vio_device_set_features(struct vio_device *d, uint64_t driver_features, uint64_t ignore)
{
	uint64_t offered = d->ops->features(d->dev);
	uint64_t f = driver_features & ~ignore;

	/* VIRTIO 1.4 §2.2.1: the driver MUST NOT accept a feature not offered. */
	if (f & ~offered)
		return -EINVAL;
	/* VIRTIO 1.4 §6.1: VERSION_1; vio implements no legacy interface. */
	if (!vio_has_feature(f, VIRTIO_F_VERSION_1))
		return -EINVAL;
	if (d->ops->set_features) {
		int r = d->ops->set_features(d->dev, f);

		if (r)
			return r;
	}
	d->features = f;
	return 0;
}

static int config_range_ok(const struct vio_device *d, uint32_t off, uint32_t len)
{
	return len && off < d->ops->config_size && len <= d->ops->config_size - off;
}

int vio_device_config_read(struct vio_device *d, uint32_t off, void *buf, uint32_t len)
{
	if (!config_range_ok(d, off, len))
		return -EINVAL;
	d->ops->config_read(d->dev, off, buf, len);
	return 0;
}

int vio_device_config_write(struct vio_device *d, uint32_t off, const void *buf, uint32_t len)
{
	if (!config_range_ok(d, off, len))
		return -EINVAL;
	if (!d->ops->config_write)
		return -EPERM;
	return d->ops->config_write(d->dev, off, buf, len);
}

void vio_device_reset(struct vio_device *d)
{
	if (d->ops->reset)
		d->ops->reset(d->dev);
	d->features = 0;
}
