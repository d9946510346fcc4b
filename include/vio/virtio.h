/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Device-independent VIRTIO constants: device status bits, reserved feature
 * bits and device IDs (VIRTIO 1.4 §2.1, §2.2, §6, §5).
 */
#ifndef VIO_VIRTIO_H
#define VIO_VIRTIO_H

#include <stdint.h>

/* VIRTIO 1.4 §2.1 "Device Status Field". */
#define VIRTIO_CONFIG_S_ACKNOWLEDGE        1u
#define VIRTIO_CONFIG_S_DRIVER             2u
#define VIRTIO_CONFIG_S_DRIVER_OK          4u
#define VIRTIO_CONFIG_S_FEATURES_OK        8u
#define VIRTIO_CONFIG_S_DEVICE_NEEDS_RESET 64u
#define VIRTIO_CONFIG_S_FAILED             128u

/* VIRTIO 1.4 §6 "Reserved Feature Bits" (bit numbers). */
#define VIRTIO_F_INDIRECT_DESC     28
#define VIRTIO_F_EVENT_IDX         29
#define VIRTIO_F_VERSION_1         32
#define VIRTIO_F_ACCESS_PLATFORM   33
#define VIRTIO_F_RING_PACKED       34
#define VIRTIO_F_IN_ORDER          35
#define VIRTIO_F_ORDER_PLATFORM    36
#define VIRTIO_F_SR_IOV            37
#define VIRTIO_F_NOTIFICATION_DATA 38
#define VIRTIO_F_NOTIF_CONFIG_DATA 39
#define VIRTIO_F_RING_RESET        40

/* Device IDs, VIRTIO 1.4 §5 "Device Types". */
#define VIRTIO_ID_NET     1
#define VIRTIO_ID_BLOCK   2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG     4
#define VIRTIO_ID_VSOCK   19

/* Feature bit number -> mask. */
#define VIO_BIT(nr) (1ull << (nr))

/* True when feature bit @nr is set in @features. */
static inline int vio_has_feature(uint64_t features, unsigned nr)
{
	return ((features >> nr) & 1u) != 0;
}

#endif /* VIO_VIRTIO_H */
