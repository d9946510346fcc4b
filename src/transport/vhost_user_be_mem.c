/* SPDX-License-Identifier: BSD-3-Clause */
/* vhost-user back-end: the guest memory table (SET_MEM_TABLE, ADD_MEM_REG, REM_MEM_REG). */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vhost_user_be_impl.h"
#include "vhost_user_guard.h"
#include "vio/log.h"

static void unmap_region(const struct vio_mem_region *r)
{
	if (r->mmap_addr) {
		vu_guard_remove(r->mmap_addr);
		munmap(r->mmap_addr, r->mmap_size);
	}
}

void vu_be_unmap_all(struct vio_mem *m)
{
	for (uint32_t i = 0; i < m->nregions; i++)
		unmap_region(&m->regions[i]);
	vio_mem_init(m);
}

/*
 * Maps the region @d of file @fd. Everything is checked before mmap: sizes
 * and ends against overflow, and the file must be a regular file (memfd,
 * hugetlbfs, /dev/shm) at least mmap_offset + size long, so that no access
 * inside the region can fault past the end of the file (SIGBUS).
 * Returns 0 with @out filled (fd field -1: the fd is not kept), or -errno.
 */
static int map_region(int fd, const struct vhost_user_memory_region *d, struct vio_mem_region *out)
{
	long page = sysconf(_SC_PAGESIZE);
	uint64_t end, map_off, delta, len;
	struct stat st;
	void *p;

	if (d->memory_size == 0 ||
	    __builtin_add_overflow(d->guest_phys_addr, d->memory_size, &end) ||
	    __builtin_add_overflow(d->userspace_addr, d->memory_size, &end) ||
	    __builtin_add_overflow(d->mmap_offset, d->memory_size, &end)) {
		vio_err("vhost-user: memory region with zero or overflowing size");
		return -EINVAL;
	}
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size < end) {
		vio_err("vhost-user: memory region [0x%llx, +0x%llx) is not backed by a file that long"
			" (share guest memory with -object memory-backend-memfd,...,share=on)",
			(unsigned long long)d->guest_phys_addr, (unsigned long long)d->memory_size);
		return -EINVAL;
	}
	map_off = d->mmap_offset & ~(uint64_t)(page - 1);
	delta = d->mmap_offset - map_off;
	if (__builtin_add_overflow(d->memory_size, delta, &len) || len > SIZE_MAX)
		return -EINVAL;
	p = mmap(NULL, (size_t)len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd,
		 (off_t)map_off);
	if (p == MAP_FAILED) {
		int e = errno;

		vio_err("vhost-user: cannot map guest memory region: %s", strerror(e));
		return -e;
	}
	vu_guard_add(p, (size_t)len);
	*out = (struct vio_mem_region){
		.gpa = d->guest_phys_addr, .size = d->memory_size, .uva = d->userspace_addr,
		.hva = (char *)p + delta, .mmap_addr = p, .mmap_size = (uint64_t)len, .fd = -1,
	};
	return 0;
}

/* Maps @d from @fd and adds it to @m; on failure nothing stays mapped. */
static int add_region(struct vio_mem *m, int fd, const struct vhost_user_memory_region *d)
{
	struct vio_mem_region r = { 0 }; /* nothing to unmap unless map_region() filled it */
	int ret = map_region(fd, d, &r);

	if (ret)
		return ret;
	ret = vio_mem_add(m, &r);
	if (ret) {
		vio_err("vhost-user: memory region [0x%llx, +0x%llx) %s",
			(unsigned long long)d->guest_phys_addr, (unsigned long long)d->memory_size,
			ret == -EEXIST ? "overlaps another region" :
			ret == -ENOSPC ? "is one region too many" : "is invalid");
		unmap_region(&r);
	}
	return ret;
}

static void warn_if_empty(const struct vio_vu_be *be)
{
	if (be->mem.nregions == 0)
		vio_warn("vhost-user: the front-end shared no guest memory; start QEMU with "
			 "-object memory-backend-memfd,id=mem,size=<RAM>,share=on -numa node,memdev=mem");
}

int vu_be_set_mem_table(struct vio_vu_be *be, struct vu_msg *m)
{
	const struct vhost_user_memory *t = &m->payload.memory;
	int ret = 0;

	/* The payload is the 8-byte header and exactly nregions regions. */
	if (m->hdr.size < 8 || t->nregions > VHOST_MEMORY_BASELINE_NREGIONS ||
	    m->hdr.size != 8 + t->nregions * sizeof(t->regions[0]) || m->nfds != t->nregions) {
		vio_err("vhost-user: SET_MEM_TABLE with %u regions, %u bytes and %u fds",
			t->nregions, m->hdr.size, m->nfds);
		return -EPROTO;
	}
	vio_mem_init(&be->scratch);
	for (uint32_t i = 0; i < t->nregions && !ret; i++)
		ret = add_region(&be->scratch, m->fds[i], &t->regions[i]);
	if (ret) {
		vu_be_unmap_all(&be->scratch);
		return ret;
	}
	/* Nothing may use the old mapping while it is replaced. */
	vu_be_stop_all(be);
	vu_be_unmap_all(&be->mem);
	memcpy(&be->mem, &be->scratch, sizeof(be->mem));
	vio_mem_init(&be->scratch);
	be->mem_set = true;
	warn_if_empty(be);
	vu_be_start_all(be);
	return 0;
}

int vu_be_add_mem_reg(struct vio_vu_be *be, struct vu_msg *m)
{
	int ret;

	vu_be_stop_all(be);
	ret = add_region(&be->mem, m->fds[0], &m->payload.mem_reg.region);
	if (!ret)
		be->mem_set = true;
	vu_be_start_all(be);
	return ret;
}

int vu_be_rem_mem_reg(struct vio_vu_be *be, struct vu_msg *m)
{
	const struct vhost_user_memory_region *d = &m->payload.mem_reg.region;
	struct vio_mem_region r;
	int ret;

	vu_be_stop_all(be);
	/* Identified by guest address, user address and size; mmap_offset ignored. */
	ret = vio_mem_remove(&be->mem, d->guest_phys_addr, d->userspace_addr, d->memory_size, &r);
	if (!ret)
		unmap_region(&r);
	else
		vio_err("vhost-user: REM_MEM_REG of a region that is not mapped");
	vu_be_start_all(be);
	return ret;
}
