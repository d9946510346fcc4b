/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The device lifecycle shared by every transport: what a device type offers
 * (its ID, feature bits, configuration space, queues) and the checks of
 * feature negotiation and configuration access (VIRTIO 1.4 §2.1, §2.2,
 * §2.4, §2.5, §3.1).
 *
 * A device type fills a struct vio_device_ops (designated initialisers) and
 * a transport (vhost-user back-end, ...) drives it through the functions
 * below, which validate everything the other side sends before the device
 * sees it.
 */
#ifndef VIO_DEVICE_H
#define VIO_DEVICE_H

#include <stdint.h>

struct vio_device_ops {
	uint32_t device_id;   /* VIRTIO_ID_* */
	uint32_t config_size; /* bytes of device configuration space */
	/* Feature bits the device offers (device-type and ring bits). */
	uint64_t (*features)(void *dev);
	/*
	 * The driver accepted @features (a subset of features(), already
	 * checked). Returns 0, or a negative errno to refuse (FEATURES_OK is
	 * then not set, VIRTIO 1.4 §2.2.2).
	 */
	int (*set_features)(void *dev, uint64_t features);
	/* Copies config bytes [off, off + len) (range already checked) to @buf. */
	void (*config_read)(void *dev, uint32_t off, void *buf, uint32_t len);
	/*
	 * The driver writes config bytes [off, off + len) (range checked).
	 * Returns 0, or -EPERM for a read-only field. NULL: all read-only.
	 */
	int (*config_write)(void *dev, uint32_t off, const void *buf, uint32_t len);
	/* Back to the initial state (VIRTIO 1.4 §2.4); queues already stopped. */
	void (*reset)(void *dev);
};

struct vio_device {
	const struct vio_device_ops *ops;
	void *dev;               /* the device type's own state, passed to ops */
	uint16_t max_queues;     /* virtqueues the device can serve */
	uint16_t max_queue_size; /* largest Queue Size it accepts */
	uint64_t features;       /* negotiated, valid after vio_device_set_features() */
};

/*
 * Negotiates @driver_features against what @d offers (VIRTIO 1.4 §2.2.1,
 * §2.2.2): every accepted bit must have been offered, VIRTIO_F_VERSION_1
 * must be accepted (vio is VIRTIO 1.x only). Bits in @ignore (transport
 * bits such as VHOST_USER_F_PROTOCOL_FEATURES) are left out of the check
 * and not passed to the device.
 * Returns 0 and records d->features; -EINVAL if a bit was not offered or
 * VERSION_1 is missing; or the device's set_features() error.
 */
int vio_device_set_features(struct vio_device *d, uint64_t driver_features, uint64_t ignore);

/*
 * Reads config bytes [off, off + len) into @buf (VIRTIO 1.4 §2.5).
 * Returns 0, or -EINVAL if the range is empty or beyond config_size.
 */
int vio_device_config_read(struct vio_device *d, uint32_t off, void *buf, uint32_t len);

/*
 * Writes config bytes [off, off + len) from @buf.
 * Returns 0; -EINVAL for a range outside config_size; -EPERM if the device
 * does not accept the write.
 */
int vio_device_config_write(struct vio_device *d, uint32_t off, const void *buf, uint32_t len);

/* Resets the device and forgets the negotiated features (VIRTIO 1.4 §2.4). */
void vio_device_reset(struct vio_device *d);

#endif /* VIO_DEVICE_H */
