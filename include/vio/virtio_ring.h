/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Virtqueue wire formats: the split layout (VIRTIO 1.4 §2.7) and the packed
 * layout (VIRTIO 1.4 §2.8), exactly as the specification names them.
 *
 * Split virtqueue of Queue Size N (a power of two, at most 32768):
 *
 *   Descriptor Area (driver writes)        align 16, 16 * N bytes
 *     struct virtq_desc desc[N]            { addr, len, flags, next }
 *   Driver Area = available ring           align 2, 6 + 2 * N bytes
 *     le16 flags | le16 idx | le16 ring[N] | le16 used_event
 *   Device Area = used ring                align 4, 6 + 8 * N bytes
 *     le16 flags | le16 idx | virtq_used_elem ring[N] | le16 avail_event
 *
 *   The driver owns avail.idx and used_event; the device owns used.idx and
 *   avail_event. Both indices are free-running 16-bit counters: entry i of a
 *   ring lives in slot (i % N); "idx - last" (mod 2^16) entries are pending
 *   and never more than N.
 *
 * Packed virtqueue of Queue Size N (any value up to 32768):
 *
 *   Descriptor Ring (both write)           align 16, 16 * N bytes
 *     struct pvirtq_desc desc[N]           { addr, len, id, flags }
 *   Driver Event Suppression (driver)      align 4, 4 bytes
 *   Device Event Suppression (device)      align 4, 4 bytes
 *
 *   A descriptor is available when its AVAIL flag equals the driver's wrap
 *   counter and its USED flag does not; used when both equal the device's
 *   wrap counter. Each side flips its wrap counter when it wraps past N-1.
 */
#ifndef VIO_VIRTIO_RING_H
#define VIO_VIRTIO_RING_H

#include <stdint.h>
#include "vio/le.h"

/* The largest Queue Size of either layout (VIRTIO 1.4 §2.7, §2.8). */
#define VIRTQ_MAX_SIZE 32768u

/* VIRTIO 1.4 §2.7.5 "The Virtqueue Descriptor Table". */
#define VIRTQ_DESC_F_NEXT     1
#define VIRTQ_DESC_F_WRITE    2
#define VIRTQ_DESC_F_INDIRECT 4

struct virtq_desc {
	le64 addr;  /* guest-physical address of the buffer */
	le32 len;   /* length in bytes */
	le16 flags; /* VIRTQ_DESC_F_* */
	le16 next;  /* next descriptor if flags & VIRTQ_DESC_F_NEXT */
};

/* VIRTIO 1.4 §2.7.6 "The Virtqueue Available Ring". */
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1

struct virtq_avail {
	le16 flags;
	le16 idx;
	le16 ring[]; /* [Queue Size], then le16 used_event (VIRTIO_F_EVENT_IDX) */
};

/* VIRTIO 1.4 §2.7.8 "The Virtqueue Used Ring". */
#define VIRTQ_USED_F_NO_NOTIFY 1

struct virtq_used_elem {
	le32 id;  /* head of the used descriptor chain */
	le32 len; /* bytes written into the device-writable part */
};

struct virtq_used {
	le16 flags;
	le16 idx;
	struct virtq_used_elem ring[]; /* [Queue Size], then le16 avail_event */
};

/* Sizes in bytes of the three split areas for Queue Size @n (VIRTIO 1.4 §2.7),
 * used_event and avail_event included. */
static inline uint64_t virtq_desc_size(uint32_t n)  { return 16ull * n; }
static inline uint64_t virtq_avail_size(uint32_t n) { return 6ull + 2ull * n; }
static inline uint64_t virtq_used_size(uint32_t n)  { return 6ull + 8ull * n; }

/* used_event sits after avail->ring[n], avail_event after used->ring[n]. */
static inline le16 *virtq_used_event(struct virtq_avail *avail, uint32_t n)
{
	return &avail->ring[n];
}
static inline le16 *virtq_avail_event(struct virtq_used *used, uint32_t n)
{
	return (le16 *)(void *)&used->ring[n];
}

/*
 * VIRTIO 1.4 §2.7.10 / §2.7.7: with VIRTIO_F_EVENT_IDX, notify when the
 * index moved from @old to @new_idx passed @event_idx (all mod 2^16).
 */
static inline int vring_need_event(uint16_t event_idx, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event_idx - 1) < (uint16_t)(new_idx - old);
}

/* VIRTIO 1.4 §2.8.1, §2.8.13 "The Virtqueue Descriptor Format" (packed). */
#define VIRTQ_DESC_F_AVAIL (1 << 7)
#define VIRTQ_DESC_F_USED  (1 << 15)

struct pvirtq_desc {
	le64 addr;  /* buffer address */
	le32 len;   /* buffer length in bytes; used length when used */
	le16 id;    /* buffer id */
	le16 flags; /* VIRTQ_DESC_F_* incl. AVAIL/USED */
};

/* VIRTIO 1.4 §2.8.10, §2.8.14 "Event Suppression Structure Format". */
#define RING_EVENT_FLAGS_ENABLE  0x0
#define RING_EVENT_FLAGS_DISABLE 0x1
#define RING_EVENT_FLAGS_DESC    0x2

struct pvirtq_event_suppress {
	le16 desc;  /* bits 0-14 desc_event_off, bit 15 desc_event_wrap */
	le16 flags; /* bits 0-1 desc_event_flags */
};

_Static_assert(sizeof(struct virtq_desc) == 16, "virtq_desc is 16 bytes");
_Static_assert(sizeof(struct virtq_used_elem) == 8, "virtq_used_elem is 8 bytes");
_Static_assert(sizeof(struct pvirtq_desc) == 16, "pvirtq_desc is 16 bytes");
_Static_assert(sizeof(struct pvirtq_event_suppress) == 4, "event suppression is 4 bytes");

#endif /* VIO_VIRTIO_RING_H */
