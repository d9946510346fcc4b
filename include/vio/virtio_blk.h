/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-blk wire formats: feature bits, configuration space, request
 * header, segments and status codes (VIRTIO 1.4 §5.2 "Block Device").
 *
 * A request is one descriptor chain:
 *
 *   device-readable:  struct virtio_blk_outhdr (16 bytes)
 *                     data (T_OUT; or discard/write-zeroes segments)
 *   device-writable:  data (T_IN, T_GET_ID)
 *                     u8 status (the last writable byte)
 *
 * Framing is free (VIRTIO 1.4 §2.7.4): the header and the status byte may
 * share descriptors with data.
 */
#ifndef VIO_VIRTIO_BLK_H
#define VIO_VIRTIO_BLK_H

#include <stdint.h>
#include "vio/le.h"

/* VIRTIO 1.4 §5.2.3 "Feature bits" (bit numbers). */
#define VIRTIO_BLK_F_SIZE_MAX     1
#define VIRTIO_BLK_F_SEG_MAX      2
#define VIRTIO_BLK_F_GEOMETRY     4
#define VIRTIO_BLK_F_RO           5
#define VIRTIO_BLK_F_BLK_SIZE     6
#define VIRTIO_BLK_F_FLUSH        9
#define VIRTIO_BLK_F_TOPOLOGY     10
#define VIRTIO_BLK_F_CONFIG_WCE   11
#define VIRTIO_BLK_F_MQ           12
#define VIRTIO_BLK_F_DISCARD      13
#define VIRTIO_BLK_F_WRITE_ZEROES 14
#define VIRTIO_BLK_F_LIFETIME     15
#define VIRTIO_BLK_F_SECURE_ERASE 16
#define VIRTIO_BLK_F_ZONED        17

/* Sector unit of the request header and capacity: 512 bytes. */
#define VIRTIO_BLK_SECTOR_SHIFT 9
#define VIRTIO_BLK_SECTOR_SIZE  512u

/* VIRTIO 1.4 §5.2.4 "Device configuration layout" (fields up to zoned). */
struct virtio_blk_config {
	le64 capacity; /* in 512-byte sectors */
	le32 size_max; /* bytes per segment */
	le32 seg_max;  /* segments per request */
	struct virtio_blk_geometry {
		le16 cylinders;
		uint8_t heads;
		uint8_t sectors;
	} geometry;
	le32 blk_size; /* logical block size, bytes */
	struct virtio_blk_topology {
		uint8_t physical_block_exp; /* log2(physical / logical) */
		uint8_t alignment_offset;   /* in logical blocks */
		le16 min_io_size;           /* in logical blocks */
		le32 opt_io_size;           /* in logical blocks */
	} topology;
	uint8_t writeback;
	uint8_t unused0;
	le16 num_queues;
	le32 max_discard_sectors;
	le32 max_discard_seg;
	le32 discard_sector_alignment;
	le32 max_write_zeroes_sectors;
	le32 max_write_zeroes_seg;
	uint8_t write_zeroes_may_unmap;
	uint8_t unused1[3];
	le32 max_secure_erase_sectors;
	le32 max_secure_erase_seg;
	le32 secure_erase_sector_alignment;
	struct virtio_blk_zoned_characteristics {
		le32 zone_sectors;
		le32 max_open_zones;
		le32 max_active_zones;
		le32 max_append_sectors;
		le32 write_granularity;
		uint8_t model;
		uint8_t unused2[3];
	} zoned;
};

/* VIRTIO 1.4 §5.2.6 "Device Operation": request types. */
#define VIRTIO_BLK_T_IN           0
#define VIRTIO_BLK_T_OUT          1
#define VIRTIO_BLK_T_FLUSH        4
#define VIRTIO_BLK_T_GET_ID       8
#define VIRTIO_BLK_T_GET_LIFETIME 10
#define VIRTIO_BLK_T_DISCARD      11
#define VIRTIO_BLK_T_WRITE_ZEROES 13
#define VIRTIO_BLK_T_SECURE_ERASE 14

/* The request header: the first 16 device-readable bytes. */
struct virtio_blk_outhdr {
	le32 type;
	le32 reserved;
	le64 sector; /* in 512-byte sectors */
};

/* One discard / write-zeroes segment (16 bytes). */
#define VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP 1u
struct virtio_blk_discard_write_zeroes {
	le64 sector;
	le32 num_sectors;
	le32 flags; /* bit 0 unmap, bits 1-31 reserved */
};

/* VIRTIO_BLK_T_GET_ID returns a NUL-padded string of up to 20 bytes. */
#define VIRTIO_BLK_ID_BYTES 20

/* The status byte, the last device-writable byte of each request. */
#define VIRTIO_BLK_S_OK     0
#define VIRTIO_BLK_S_IOERR  1
#define VIRTIO_BLK_S_UNSUPP 2

_Static_assert(sizeof(struct virtio_blk_outhdr) == 16, "outhdr is 16 bytes");
_Static_assert(sizeof(struct virtio_blk_discard_write_zeroes) == 16, "segment is 16 bytes");
_Static_assert(sizeof(struct virtio_blk_config) == 96, "config layout through zoned");

#endif /* VIO_VIRTIO_BLK_H */
