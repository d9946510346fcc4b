/* SPDX-License-Identifier: BSD-3-Clause */
/* Guest memory table: region bookkeeping and range translation. */
#include <errno.h>
#include <string.h>

#include "mem_impl.h"
#include "vio/mem.h"

void vio_mem_init(struct vio_mem *m)
{
	m->nregions = 0;
}

/* [a, a + alen) and [b, b + blen) overlap; both ends are known not to overflow. */
static int ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

int vio_mem_add(struct vio_mem *m, const struct vio_mem_region *r)
{
	uint64_t end;
	uint32_t i, pos;

	if (r->size == 0 || __builtin_add_overflow(r->gpa, r->size, &end) ||
	    __builtin_add_overflow(r->uva, r->size, &end) ||
	    __builtin_add_overflow((uint64_t)(uintptr_t)r->hva, r->size, &end))
		return -EINVAL;
	if (m->nregions >= VIO_MEM_MAX_REGIONS)
		return -ENOSPC;
	for (i = 0; i < m->nregions; i++) {
		const struct vio_mem_region *o = &m->regions[i];

		if (ranges_overlap(r->gpa, r->size, o->gpa, o->size) ||
		    ranges_overlap(r->uva, r->size, o->uva, o->size))
			return -EEXIST;
	}
	for (pos = 0; pos < m->nregions && m->regions[pos].gpa < r->gpa; pos++)
		;
	memmove(&m->regions[pos + 1], &m->regions[pos],
		(m->nregions - pos) * sizeof(m->regions[0]));
	m->regions[pos] = *r;
	m->nregions++;
	return 0;
}

int vio_mem_remove(struct vio_mem *m, uint64_t gpa, uint64_t uva, uint64_t size,
		   struct vio_mem_region *out)
{
	uint32_t i;

	for (i = 0; i < m->nregions; i++) {
		struct vio_mem_region *r = &m->regions[i];

		if (r->gpa != gpa || r->uva != uva || r->size != size)
			continue;
		if (out)
			*out = *r;
		memmove(r, r + 1, (m->nregions - i - 1) * sizeof(*r));
		m->nregions--;
		return 0;
	}
	return -ENOENT;
}

/* The region holding guest address @gpa, by binary search, or NULL. */
static const struct vio_mem_region *find_gpa(const struct vio_mem *m, uint64_t gpa)
{
	uint32_t lo = 0, hi = m->nregions;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const struct vio_mem_region *r = &m->regions[mid];

		if (gpa < r->gpa)
			hi = mid;
		else if (gpa - r->gpa >= r->size)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

int vio_mem_gpa_iov(const struct vio_mem *m, uint64_t gpa, uint64_t len,
		    struct iovec *iov, unsigned cap)
{
	uint64_t end;
	unsigned n = 0;

	if (__builtin_add_overflow(gpa, len, &end))
		return -EFAULT;
	while (len) {
		const struct vio_mem_region *r = find_gpa(m, gpa);
		uint64_t off, chunk;

		if (!r)
			return -EFAULT;
		if (n == cap)
			return -ENOBUFS;
		off = gpa - r->gpa;
		chunk = r->size - off;
		if (chunk > len)
			chunk = len;
		iov[n].iov_base = (char *)r->hva + off;
		iov[n].iov_len = chunk;
		n++;
		gpa += chunk;
		len -= chunk;
	}
	return (int)n;
}

int vio_mem_gpa_check(const struct vio_mem *m, uint64_t gpa, uint64_t len)
{
	uint64_t end;

	if (__builtin_add_overflow(gpa, len, &end))
		return -EFAULT;
	while (len) {
		const struct vio_mem_region *r = find_gpa(m, gpa);
		uint64_t chunk;

		if (!r)
			return -EFAULT;
		chunk = r->size - (gpa - r->gpa);
		if (chunk >= len)
			return 0;
		gpa += chunk;
		len -= chunk;
	}
	return 0;
}

void *mem_gpa_ptr_lookup(const struct vio_mem *m, uint64_t gpa, uint64_t len, uint32_t *hint)
{
	const struct vio_mem_region *r;
	uint64_t end;

	if (len == 0 || __builtin_add_overflow(gpa, len, &end))
		return NULL;
	r = find_gpa(m, gpa);
	if (!r || len > r->size - (gpa - r->gpa))
		return NULL;
	*hint = (uint32_t)(r - m->regions);
	return (char *)r->hva + (gpa - r->gpa);
}

void *vio_mem_gpa_ptr(const struct vio_mem *m, uint64_t gpa, uint64_t len)
{
	uint32_t unused;

	return mem_gpa_ptr_lookup(m, gpa, len, &unused);
}

void *vio_mem_uva_ptr(const struct vio_mem *m, uint64_t uva, uint64_t len)
{
	uint64_t end;
	uint32_t i;

	if (len == 0 || __builtin_add_overflow(uva, len, &end))
		return NULL;
	for (i = 0; i < m->nregions; i++) {
		const struct vio_mem_region *r = &m->regions[i];

		if (uva >= r->uva && uva - r->uva < r->size &&
		    len <= r->size - (uva - r->uva))
			return (char *)r->hva + (uva - r->uva);
	}
	return NULL;
}

int vio_mem_read(const struct vio_mem *m, uint64_t gpa, void *buf, size_t len)
{
	char *dst = buf;
	uint64_t end;

	if (__builtin_add_overflow(gpa, (uint64_t)len, &end))
		return -EFAULT;
	while (len) {
		const struct vio_mem_region *r = find_gpa(m, gpa);
		uint64_t off, chunk;

		if (!r)
			return -EFAULT;
		off = gpa - r->gpa;
		chunk = r->size - off;
		if (chunk > len)
			chunk = len;
		memcpy(dst, (const char *)r->hva + off, chunk);
		dst += chunk;
		gpa += chunk;
		len -= chunk;
	}
	return 0;
}
