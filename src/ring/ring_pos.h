/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Ring position arithmetic shared by the driver and the device side, without
 * division: a packed Queue Size need not be a power of 2.
 */
#ifndef VIO_RING_RING_POS_H
#define VIO_RING_RING_POS_H

#include <stdbool.h>
#include <stdint.h>

/* (@pos + @k) mod @num, for @pos < @num and @k <= @num. */
static inline uint32_t ring_pos_add(uint32_t pos, uint32_t k, uint32_t num)
{
	uint32_t i = pos + k; /* below 2 * num: no overflow */

	return i >= num ? i - num : i;
}

/* Packed: position @pos with wrap counter @wrap on the circle of 2 * @num. */
static inline uint32_t ring_pos2(uint32_t num, uint32_t pos, bool wrap)
{
	return pos + (wrap ? 0 : num);
}

/* How far @to lies past @from on the circle of 2 * @num (both on it). */
static inline uint32_t ring_circle_dist(uint32_t num, uint32_t from, uint32_t to)
{
	return to >= from ? to - from : to + 2 * num - from;
}

/*
 * VIRTIO 1.4 §2.8.10, RING_EVENT_FLAGS_DESC: whether the descriptor @event
 * (offset in bits 0-14, wrap counter in bit 15) the other side named lies
 * in [@old, @cur), the positions (ring_pos2()) published since the last
 * check. An offset past the ring is nonsense: true, a notification too many
 * rather than a side left asleep.
 */
static inline bool packed_event_passed(uint32_t num, uint32_t old, uint32_t cur, uint16_t event)
{
	uint32_t off = event & 0x7fffu;

	if (off >= num)
		return true;
	return ring_circle_dist(num, old, ring_pos2(num, off, event & 0x8000u)) <
	       ring_circle_dist(num, old, cur);
}

#endif /* VIO_RING_RING_POS_H */
