/* SPDX-License-Identifier: BSD-3-Clause */
/* The mock driver's guest memory: regions in guarded mappings, a bump allocator, copies across regions. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mock_driver.h"

#define MOCK_DIE(...) do { fprintf(stderr, "mock driver: " __VA_ARGS__); fputc('\n', stderr); abort(); } while (0)

static size_t page_size(void)
{
	long p = sysconf(_SC_PAGESIZE);

	return p > 0 ? (size_t)p : 4096;
}

/* Maps @size bytes between two PROT_NONE guard pages, the end touching the upper one. */
static void map_region(struct mock_region *r)
{
	size_t pg = page_size();
	size_t body = (r->size + pg - 1) / pg * pg;
	uint8_t *p;

	if (r->size > SIZE_MAX - 2 * pg)
		MOCK_DIE("region of %llu bytes too large", (unsigned long long)r->size);
	r->map_size = body + 2 * pg;
	r->map = mmap(NULL, r->map_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (r->map == MAP_FAILED)
		MOCK_DIE("mmap of %zu bytes failed", r->map_size);
	p = (uint8_t *)r->map + pg;
	if (mprotect(p, body, PROT_READ | PROT_WRITE))
		MOCK_DIE("mprotect failed");
	r->hva = p + (body - r->size);
	r->brk = 0;
}

int mock_mem_init(struct mock_mem *m, const struct mock_region_spec *spec, unsigned n)
{
	unsigned i;

	if (n > MOCK_MAX_REGIONS)
		MOCK_DIE("%u regions, at most %d", n, MOCK_MAX_REGIONS);
	memset(m, 0, sizeof(*m));
	vio_mem_init(&m->mem);
	for (i = 0; i < n; i++) {
		struct mock_region *r = &m->region[i];
		struct vio_mem_region vr;
		int err;

		r->gpa = spec[i].gpa;
		r->size = spec[i].size;
		r->uva = spec[i].gpa + MOCK_UVA_OFFSET;
		if (r->size == 0)
			MOCK_DIE("region %u has size 0", i);
		map_region(r);
		m->nregions = i + 1;
		memset(&vr, 0, sizeof(vr));
		vr.gpa = r->gpa;
		vr.size = r->size;
		vr.uva = r->uva;
		vr.hva = r->hva;
		vr.mmap_addr = r->map;
		vr.mmap_size = r->map_size;
		vr.fd = -1;
		err = vio_mem_add(&m->mem, &vr);
		if (err) {
			mock_mem_fini(m);
			return err;
		}
	}
	return 0;
}

void mock_mem_init_default(struct mock_mem *m)
{
	static const struct mock_region_spec spec[] = {
		{ MOCK_R0_GPA, MOCK_R0_SIZE },
		{ MOCK_R1_GPA, MOCK_R1_SIZE },
		{ MOCK_R2_GPA, MOCK_R2_SIZE },
	};

	if (mock_mem_init(m, spec, 3))
		MOCK_DIE("default layout refused by vio_mem_add");
}

void mock_mem_fini(struct mock_mem *m)
{
	unsigned i;

	for (i = 0; i < m->nregions; i++)
		munmap(m->region[i].map, m->region[i].map_size);
	m->nregions = 0;
	vio_mem_init(&m->mem);
}

/* The region holding @gpa, or NULL. */
static const struct mock_region *region_of(const struct mock_mem *m, uint64_t gpa)
{
	unsigned i;

	for (i = 0; i < m->nregions; i++) {
		const struct mock_region *r = &m->region[i];

		if (gpa >= r->gpa && gpa - r->gpa < r->size)
			return r;
	}
	return NULL;
}

void *mock_hva(const struct mock_mem *m, uint64_t gpa)
{
	const struct mock_region *r = region_of(m, gpa);

	return r ? r->hva + (gpa - r->gpa) : NULL;
}

uint64_t mock_alloc(struct mock_mem *m, unsigned region, uint64_t size, uint64_t align)
{
	struct mock_region *r;
	uint64_t off;

	if (region >= m->nregions)
		MOCK_DIE("mock_alloc: no region %u", region);
	if (align == 0 || (align & (align - 1)))
		MOCK_DIE("mock_alloc: alignment %llu not a power of two", (unsigned long long)align);
	r = &m->region[region];
	/* Align the guest address, not the offset. */
	off = ((r->gpa + r->brk + align - 1) & ~(align - 1)) - r->gpa;
	if (off > r->size || size > r->size - off)
		MOCK_DIE("mock_alloc: region %u exhausted (%llu bytes asked)", region,
			 (unsigned long long)size);
	r->brk = off + size;
	return r->gpa + off;
}

/* Calls @fn on each piece of [gpa, gpa + len) inside one region. */
static int for_each_piece(const struct mock_mem *m, uint64_t gpa, size_t len,
			  void (*fn)(uint8_t *hva, size_t off, size_t n, void *arg), void *arg)
{
	size_t done = 0;

	if (gpa + len < gpa && len)
		return -EFAULT;
	/* Check first, so a failed call writes nothing. */
	while (done < len) {
		const struct mock_region *r = region_of(m, gpa + done);
		uint64_t room;

		if (!r)
			return -EFAULT;
		room = r->size - (gpa + done - r->gpa);
		done += room < len - done ? (size_t)room : len - done;
	}
	for (done = 0; done < len;) {
		const struct mock_region *r = region_of(m, gpa + done);
		uint64_t room = r->size - (gpa + done - r->gpa);
		size_t n = room < len - done ? (size_t)room : len - done;

		fn(r->hva + (gpa + done - r->gpa), done, n, arg);
		done += n;
	}
	return 0;
}

static void piece_write(uint8_t *hva, size_t off, size_t n, void *arg)
{
	memcpy(hva, (const uint8_t *)arg + off, n);
}

static void piece_read(uint8_t *hva, size_t off, size_t n, void *arg)
{
	memcpy((uint8_t *)arg + off, hva, n);
}

static void piece_fill(uint8_t *hva, size_t off, size_t n, void *arg)
{
	(void)off;
	memset(hva, *(const int *)arg, n);
}

int mock_write(const struct mock_mem *m, uint64_t gpa, const void *buf, size_t len)
{
	return for_each_piece(m, gpa, len, piece_write, (void *)(uintptr_t)buf);
}

int mock_read(const struct mock_mem *m, uint64_t gpa, void *buf, size_t len)
{
	return for_each_piece(m, gpa, len, piece_read, buf);
}

int mock_fill(const struct mock_mem *m, uint64_t gpa, int byte, size_t len)
{
	return for_each_piece(m, gpa, len, piece_fill, &byte);
}

int mock_desc_write(const struct mock_mem *m, uint64_t table, uint32_t i,
		    uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	struct virtq_desc d = {
		.addr = cpu_to_le64(addr),
		.len = cpu_to_le32(len),
		.flags = cpu_to_le16(flags),
		.next = cpu_to_le16(next),
	};

	return mock_write(m, table + 16ull * i, &d, sizeof(d));
}

int mock_pdesc_write(const struct mock_mem *m, uint64_t table, uint32_t i,
		     uint64_t addr, uint32_t len, uint16_t id, uint16_t flags)
{
	struct pvirtq_desc d = {
		.addr = cpu_to_le64(addr),
		.len = cpu_to_le32(len),
		.id = cpu_to_le16(id),
		.flags = cpu_to_le16(flags),
	};

	return mock_write(m, table + 16ull * i, &d, sizeof(d));
}
