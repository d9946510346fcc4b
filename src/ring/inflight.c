/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The inflight log of a device-side queue (vhost-user "Inflight I/O
 * tracking"): which chains are in flight, kept in memory the front-end
 * preserves across our restarts.
 */
#include "devq_impl.h"

/*
 * A queue's slice: the packed layout's record (a 32-byte header, 32 bytes
 * per descriptor) is the larger, so every slice can hold either layout.
 */
size_t vio_devq_inflight_size(uint32_t num)
{
	if (num == 0 || num > VIRTQ_MAX_SIZE)
		return 0;
	return ((32 + 32 * (size_t)num) + 63) & ~(size_t)63;
}
