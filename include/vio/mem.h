/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Guest memory: the table of regions shared by the other side, and the
 * translation of guest ranges into host iovecs.
 *
 * A region maps [gpa, gpa + size) of guest-physical memory, seen by the
 * vhost-user front-end at user address [uva, uva + size), to our own address
 * [hva, hva + size). Regions never overlap in gpa or in uva. The table is
 * kept sorted by gpa.
 *
 * The table is plain data: mapping and unmapping (mmap/munmap of the fds the
 * front-end sends) is the transport's job; the owner fields below are kept
 * for it and never read here. The table is not synchronised: its owner
 * changes it only while no queue is using it (see vhost_user.h).
 *
 * Every function takes ranges, never bare addresses: a guest address is only
 * ever used with a length, and every end is computed with overflow checks
 * (DESIGN.md §4 "Translate ranges, not addresses").
 */
#ifndef VIO_MEM_H
#define VIO_MEM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* The most regions a table holds (reported as VHOST_USER_GET_MAX_MEM_SLOTS). */
#define VIO_MEM_MAX_REGIONS 509

struct vio_mem_region {
	uint64_t gpa;  /* guest-physical address of the first byte */
	uint64_t size; /* bytes, > 0 */
	uint64_t uva;  /* the front-end's user address of the first byte */
	void *hva;     /* our address of the first byte */
	/* Owner bookkeeping (the transport's mapping); not used for translation. */
	void *mmap_addr;
	uint64_t mmap_size;
	int fd;
};

struct vio_mem {
	uint32_t nregions;
	struct vio_mem_region regions[VIO_MEM_MAX_REGIONS]; /* sorted by gpa */
};

/* Empties @m. */
void vio_mem_init(struct vio_mem *m);

/*
 * Adds a copy of @r to @m.
 * Returns 0; -EINVAL if r->size is 0 or any of gpa+size, uva+size, hva+size
 * overflows; -EEXIST if the region overlaps an existing one in gpa or uva;
 * -ENOSPC if the table already holds VIO_MEM_MAX_REGIONS regions.
 */
int vio_mem_add(struct vio_mem *m, const struct vio_mem_region *r);

/*
 * Removes the region that matches @gpa, @uva and @size exactly and copies it
 * to @out (may be NULL) so the caller can unmap it.
 * Returns 0, or -ENOENT when no region matches.
 */
int vio_mem_remove(struct vio_mem *m, uint64_t gpa, uint64_t uva, uint64_t size,
		   struct vio_mem_region *out);

/*
 * Translates the guest range [gpa, gpa + len) into at most @cap iovecs in
 * @iov, one per region crossed. A zero @len gives zero iovecs.
 * Returns the number of iovecs written; -EFAULT if gpa + len overflows or
 * any byte of the range is outside every region; -ENOBUFS if more than @cap
 * iovecs would be needed.
 */
int vio_mem_gpa_iov(const struct vio_mem *m, uint64_t gpa, uint64_t len,
		    struct iovec *iov, unsigned cap);

/* Returns 0 if every byte of [gpa, gpa + len) is in some region, else -EFAULT. */
int vio_mem_gpa_check(const struct vio_mem *m, uint64_t gpa, uint64_t len);

/*
 * Returns our address of guest range [gpa, gpa + len) if it lies inside a
 * single region, else NULL (also when len is 0 or the end overflows).
 */
void *vio_mem_gpa_ptr(const struct vio_mem *m, uint64_t gpa, uint64_t len);

/* As vio_mem_gpa_ptr(), for a range of the front-end's user addresses. */
void *vio_mem_uva_ptr(const struct vio_mem *m, uint64_t uva, uint64_t len);

/*
 * Copies the guest range [gpa, gpa + len) to @buf, across regions.
 * Returns 0, or -EFAULT if any byte is outside every region.
 */
int vio_mem_read(const struct vio_mem *m, uint64_t gpa, void *buf, size_t len);

#endif /* VIO_MEM_H */
