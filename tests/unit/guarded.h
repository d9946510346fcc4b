/* SPDX-License-Identifier: BSD-3-Clause */
/* Test memory against a guard page (guarded.c), for the driver-side ring tests. */
#ifndef VIO_TESTS_UNIT_GUARDED_H
#define VIO_TESTS_UNIT_GUARDED_H

#include <stddef.h>
#include <stdint.h>

#define CANARY 0xcd

/* An object at the end of its own mapping, against a PROT_NONE page. */
struct guarded {
	void *map;
	size_t map_size;
	uint8_t *p;   /* the object: [p, p + size) */
	size_t size;
	size_t slack; /* canary bytes after the object, before the guard page */
};

/*
 * @size bytes aligned to @align, ending (up to alignment slack, filled with
 * CANARY) at a PROT_NONE page. Fails the test if it cannot map.
 */
void *galloc(struct guarded *g, size_t size, size_t align);

/* Checks the canary (fails the test if it was overwritten), unmaps; no-op if unused. */
void gfree(struct guarded *g);

#endif /* VIO_TESTS_UNIT_GUARDED_H */
