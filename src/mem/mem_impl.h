/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Guest memory translation with a one-entry cache, for the rings: buffers
 * of a queue nearly always lie in the region the previous one was in.
 */
#ifndef VIO_MEM_IMPL_H
#define VIO_MEM_IMPL_H

#include <stdint.h>

#include "vio/mem.h"

/*
 * As vio_mem_gpa_ptr(), and on success sets *hint to the index of the
 * region found, for mem_gpa_ptr_hint() next time.
 */
void *mem_gpa_ptr_lookup(const struct vio_mem *m, uint64_t gpa, uint64_t len, uint32_t *hint);

/*
 * Our address of guest range [gpa, gpa + len) if it lies inside region
 * @hint, the one a previous lookup found; else NULL (also for a zero len),
 * and the caller looks it up (mem_gpa_ptr_lookup(), vio_mem_gpa_iov()).
 * Regions never overlap, so the region there, when it holds the range, is
 * the one a search would find. @hint is only trusted as an index below
 * nregions (the table may have changed since), and the range is checked in
 * full: with off = gpa - r->gpa (gpa >= r->gpa, so no wrap), off < size and
 * 1 <= len <= size - off. No end address is computed, so nothing can
 * overflow (DESIGN.md §4 "Translate ranges, not addresses"). No call: the
 * miss is the caller's, off the fast path.
 */
static inline void *mem_gpa_ptr_hint(const struct vio_mem *m, uint32_t hint, uint64_t gpa,
				     uint64_t len)
{
	const struct vio_mem_region *r;
	uint64_t off;

	if (hint >= m->nregions)
		return NULL;
	r = &m->regions[hint];
	off = gpa - r->gpa;
	/* len - 1 wraps for len 0: no zero-length hit. */
	if (gpa >= r->gpa && off < r->size && len - 1 < r->size - off)
		return (char *)r->hva + off;
	return NULL;
}

#endif /* VIO_MEM_IMPL_H */
