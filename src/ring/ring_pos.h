/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Ring position arithmetic shared by the driver and the device side, without
 * division: a packed Queue Size need not be a power of 2; and the packed
 * ring's look-ahead over descriptor flags.
 */
#ifndef VIO_RING_RING_POS_H
#define VIO_RING_RING_POS_H

#include <stdbool.h>
#include <stdint.h>

#include "atomic.h"
#include "vio/virtio_ring.h"

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

/*
 * A bound on how many descriptors from @pos on, at most @n, have flags &
 * @mask equal to @want (the wrap counter flipping at the end of the ring):
 * one look per cache line of 4 descriptors, up to the first line whose
 * look fails. Only loads, in a loop short enough that the processor has
 * the cache misses of a whole batch in flight at once, rather than one
 * line at a time behind the checks of each buffer. The caller checks every
 * descriptor again; with @sf it gets the flags read (acquire), sf[j] for
 * descriptor pos + 4j, also for the one the look failed at (the result,
 * when below @n), so that it need not read them twice.
 */
static inline uint32_t packed_scan(const struct pvirtq_desc *ring, uint32_t num, uint32_t pos,
				   uint16_t want, uint16_t mask, uint32_t n, uint16_t *sf)
{
	uint32_t k;

	for (k = 0; k < n; k += 4) {
		uint32_t p = pos + k; /* k < n <= num: below 2 * num */
		uint16_t w = want, f;

		if (p >= num) {
			p -= num;
			w ^= VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED;
		}
		f = vio_le16_load_acquire(&ring[p].flags);
		if (sf)
			sf[k >> 2] = f;
		if ((f & mask) != w)
			break;
	}
	return k < n ? k : n;
}

/*
 * Asks for the cache lines of the @n descriptors from @pos on (the ring
 * wrapping at @num) to be written soon, all at once (vio_prefetch_w()):
 * their round trips overlap, instead of each waiting behind the stores
 * before it. A hint: nothing is read or written.
 */
static inline void packed_prefetch_w(const struct pvirtq_desc *ring, uint32_t num, uint32_t pos,
				     uint32_t n)
{
	if (n > num)
		n = num; /* one lap: pos stays below num, whatever the caller's n */
	for (uint32_t i = 0; i < n; i += 4) {
		vio_prefetch_w(&ring[pos]);
		pos += 4;
		if (pos >= num)
			pos -= num;
	}
}

#endif /* VIO_RING_RING_POS_H */
