/* SPDX-License-Identifier: BSD-3-Clause */
/* Test memory against a guard page: a stray access past an object faults. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "guarded.h"

static size_t page_size(void)
{
	long p = sysconf(_SC_PAGESIZE);

	return p > 0 ? (size_t)p : 4096;
}

/* @size bytes aligned to @align, ending (up to alignment slack) at a PROT_NONE page. */
void *galloc(struct guarded *g, size_t size, size_t align)
{
	size_t pg = page_size(), body, rounded = (size + align - 1) / align * align;
	uint8_t *base;

	body = (rounded + pg - 1) / pg * pg;
	g->map_size = body + pg;
	g->map = mmap(NULL, g->map_size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	assert_true(g->map != MAP_FAILED);
	base = g->map;
	assert_int_equal(mprotect(base + body, pg, PROT_NONE), 0);
	g->p = base + body - rounded;
	g->size = size;
	g->slack = rounded - size;
	memset(g->p + size, CANARY, g->slack);
	return g->p;
}

void gfree(struct guarded *g)
{
	size_t i;

	if (!g->map)
		return;
	for (i = 0; i < g->slack; i++)
		assert_int_equal(g->p[g->size + i], CANARY);
	munmap(g->map, g->map_size);
	memset(g, 0, sizeof(*g));
}
