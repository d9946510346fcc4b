/* SPDX-License-Identifier: BSD-3-Clause */
/* The vhost-user front-end's shared memory: one sealed memfd and a first-fit allocator over it. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vhost_user_fe_impl.h"

/* Every allocation starts on a cache line, so two never share one. */
#define MIN_ALIGN 64u

void vu_fe_mem_init(struct vu_fe_mem *m)
{
	memset(m, 0, sizeof(*m));
	m->fd = -1;
	pthread_mutex_init(&m->lock, NULL);
}

int vu_fe_mem_create(struct vu_fe_mem *m, size_t size)
{
	long page = sysconf(_SC_PAGESIZE);
	int fd, r;

	if (m->fd >= 0)
		return -EEXIST;
	if (!size || size > SIZE_MAX / 2)
		return -EINVAL;
	size = (size + (size_t)page - 1) & ~((size_t)page - 1);
	fd = memfd_create("vio-vhost-user-fe", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	/*
	 * Sealed: the back-end shares this file and could otherwise shrink it
	 * under our mapping, making our own accesses fault (SIGBUS).
	 */
	if (ftruncate(fd, (off_t)size) ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)) {
		r = -errno;
		close(fd);
		return r;
	}
	m->base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m->base == MAP_FAILED) {
		r = -errno;
		m->base = NULL;
		close(fd);
		return r;
	}
	m->fd = fd;
	m->size = size;
	return 0;
}

void vu_fe_mem_destroy(struct vu_fe_mem *m)
{
	if (m->base)
		munmap(m->base, m->size);
	if (m->fd >= 0)
		close(m->fd);
	free(m->used);
	pthread_mutex_destroy(&m->lock);
	m->base = NULL;
	m->fd = -1;
	m->used = NULL;
	m->nused = m->cap = 0;
}

/* Index of the first allocation at or after offset @off. */
static size_t find_from(const struct vu_fe_mem *m, size_t off)
{
	size_t lo = 0, hi = m->nused;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->used[mid].off < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Where an allocation of @size aligned to @align fits first; SIZE_MAX if nowhere. */
static size_t first_fit(const struct vu_fe_mem *m, size_t size, size_t align)
{
	size_t start = 0;

	for (size_t i = 0; i <= m->nused; i++) {
		size_t end = i < m->nused ? m->used[i].off : m->size;
		size_t at = (start + align - 1) & ~(align - 1);

		if (at >= start && at <= end && end - at >= size)
			return at;
		if (i < m->nused)
			start = m->used[i].off + m->used[i].len;
	}
	return SIZE_MAX;
}

static int insert_extent(struct vu_fe_mem *m, size_t off, size_t len)
{
	size_t i;

	if (m->nused == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 64;
		struct vu_fe_extent *p = realloc(m->used, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		m->used = p;
		m->cap = cap;
	}
	i = find_from(m, off);
	memmove(&m->used[i + 1], &m->used[i], (m->nused - i) * sizeof(m->used[0]));
	m->used[i] = (struct vu_fe_extent){ off, len };
	m->nused++;
	return 0;
}

void *vu_fe_mem_alloc(struct vu_fe_mem *m, size_t size, size_t align, uint64_t *gpa)
{
	size_t at;
	void *p = NULL;

	if (align < MIN_ALIGN)
		align = MIN_ALIGN;
	if (align & (align - 1)) {
		errno = EINVAL;
		return NULL;
	}
	if (!size || size > SIZE_MAX - MIN_ALIGN) {
		errno = ENOMEM;
		return NULL;
	}
	size = (size + MIN_ALIGN - 1) & ~(size_t)(MIN_ALIGN - 1);
	pthread_mutex_lock(&m->lock);
	at = m->base ? first_fit(m, size, align) : SIZE_MAX;
	if (at != SIZE_MAX && !insert_extent(m, at, size))
		p = m->base + at;
	pthread_mutex_unlock(&m->lock);
	if (!p) {
		errno = ENOMEM;
		return NULL;
	}
	memset(p, 0, size);
	if (gpa)
		*gpa = VIO_VU_FE_GPA_BASE + at;
	return p;
}

/* The allocation that contains offset @off, or NULL. Called locked. */
static struct vu_fe_extent *extent_of(struct vu_fe_mem *m, size_t off, size_t *index)
{
	size_t i = find_from(m, off + 1); /* first allocation starting after off */

	if (i == 0)
		return NULL;
	i--;
	if (off - m->used[i].off >= m->used[i].len)
		return NULL;
	if (index)
		*index = i;
	return &m->used[i];
}

static bool in_region(const struct vu_fe_mem *m, const void *p)
{
	return m->base && (const uint8_t *)p >= m->base && (const uint8_t *)p < m->base + m->size;
}

void vu_fe_mem_free(struct vu_fe_mem *m, void *p)
{
	size_t off, i;

	if (!p || !in_region(m, p))
		return;
	off = (size_t)((uint8_t *)p - m->base);
	pthread_mutex_lock(&m->lock);
	if (extent_of(m, off, &i) && m->used[i].off == off) {
		memmove(&m->used[i], &m->used[i + 1], (m->nused - i - 1) * sizeof(m->used[0]));
		m->nused--;
	}
	pthread_mutex_unlock(&m->lock);
}

int vu_fe_mem_gpa(struct vu_fe_mem *m, const void *p, size_t len, uint64_t *gpa)
{
	const struct vu_fe_extent *e;
	size_t off;
	int r = -EFAULT;

	if (!len || !in_region(m, p))
		return -EFAULT;
	off = (size_t)((const uint8_t *)p - m->base);
	pthread_mutex_lock(&m->lock);
	e = extent_of(m, off, NULL);
	/* The whole range inside that one allocation (no overflow: off < size). */
	if (e && len <= e->len - (off - e->off)) {
		*gpa = VIO_VU_FE_GPA_BASE + off;
		r = 0;
	}
	pthread_mutex_unlock(&m->lock);
	return r;
}

void *vu_fe_mem_ptr(struct vu_fe_mem *m, uint64_t gpa, size_t len)
{
	uint64_t off = gpa - VIO_VU_FE_GPA_BASE;
	uint64_t g;

	/* Below the base the subtraction wraps far beyond the region. */
	if (gpa < VIO_VU_FE_GPA_BASE || off >= m->size)
		return NULL;
	if (vu_fe_mem_gpa(m, m->base + off, len, &g))
		return NULL;
	return m->base + off;
}
