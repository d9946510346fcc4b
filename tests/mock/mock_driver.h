/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A mock VIRTIO driver for device-side tests: it plays the guest, owns a
 * chunk of "guest memory" and writes any ring contents, good or malformed.
 *
 * Three layers, use whichever a test needs:
 *
 *  1. Guest memory (struct mock_mem). One or more regions, each its own
 *     mmap() with PROT_NONE guard pages around it, so a device that reads
 *     past a region faults at once even without ASan. The regions are
 *     registered in a struct vio_mem (m->mem) for the code under test.
 *     mock_mem_init_default() gives the standard layout:
 *
 *       gpa  MOCK_R0_GPA                 MOCK_R1_GPA      MOCK_HOLE_GPA  MOCK_R2_GPA
 *            |-------- R0 (16 MiB) --------|--- R1 (1 MiB) ---| hole 1 MiB |-- R2 (1 MiB) --|
 *            rings, indirect tables, heap   adjacent to R0 in    unmapped     after the hole
 *                                           gpa, but a separate
 *                                           host mapping
 *
 *     so a buffer [MOCK_R1_GPA - 8, MOCK_R1_GPA + 8) straddles two regions
 *     (two iovecs), and one touching MOCK_HOLE_GPA leaves guest memory.
 *     Each region's uva is its gpa + MOCK_UVA_OFFSET.
 *
 *  2. A queue (struct mock_vq) laid out in that memory, with a driver's
 *     private state (free descriptor list, shadow indices, which heads it
 *     made available). The mock_vq_* calls are layout-independent:
 *     mock_vq_add() writes a well-formed chain (direct, indirect, or
 *     direct-then-indirect) and makes it available; mock_vq_used() reaps a
 *     used element, checks the device returned a head the driver posted,
 *     and frees its descriptors. mock_vq_devq_init() sets up the
 *     struct vio_devq under test over the same rings.
 *
 *  3. Raw access (mock_split_*): write any descriptor (addr/len/flags/next,
 *     any values), indirect tables anywhere in guest memory
 *     (mock_desc_write), avail ring entries, avail idx (any jump), avail
 *     flags and used_event; read back used elements, used idx, used flags
 *     and avail_event.
 *
 * Mixing layers 2 and 3 on one queue: the helpers take descriptors from
 * their free list (initially 0, 1, 2, ... in order); a test writing raw
 * descriptors should either use raw calls only, or write to descriptors it
 * knows are free. Raw avail entries (mock_split_avail_put) are tracked as
 * posted, so mock_vq_used() accepts their heads back.
 *
 * The layout is a parameter (enum mock_layout) so the packed layout can be
 * added behind the same mock_vq_* calls; only split is implemented now
 * (mock_vq_init() returns -ENOTSUP for packed).
 *
 * Errors: harness misuse (an index out of range, memory exhausted, mmap
 * failure) prints a message and aborts the test program; conditions a test
 * may want to observe are returned as negative errno values.
 * Nothing here is thread-safe; the index stores use release/acquire so a
 * device may run in another thread.
 */
#ifndef VIO_TESTS_MOCK_DRIVER_H
#define VIO_TESTS_MOCK_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vio/devq.h"
#include "vio/mem.h"
#include "vio/virtio.h"
#include "vio/virtio_ring.h"

/* ------------------------------------------------------------------ */
/* Guest memory                                                        */
/* ------------------------------------------------------------------ */

#define MOCK_MAX_REGIONS 8

/* The default layout (mock_mem_init_default()). */
#define MOCK_R0_GPA    0x00100000ull
#define MOCK_R0_SIZE   0x01000000ull /* 16 MiB: rings, tables, heap */
#define MOCK_R1_GPA    (MOCK_R0_GPA + MOCK_R0_SIZE)
#define MOCK_R1_SIZE   0x00100000ull
#define MOCK_HOLE_GPA  (MOCK_R1_GPA + MOCK_R1_SIZE)
#define MOCK_HOLE_SIZE 0x00100000ull
#define MOCK_R2_GPA    (MOCK_HOLE_GPA + MOCK_HOLE_SIZE)
#define MOCK_R2_SIZE   0x00100000ull
/* The front-end's user address of a region is its gpa plus this. */
#define MOCK_UVA_OFFSET 0x7f0000000000ull

/* A region to create: guest-physical start and size in bytes (> 0). */
struct mock_region_spec {
	uint64_t gpa;
	uint64_t size;
};

struct mock_region {
	uint64_t gpa, size, uva;
	uint8_t *hva;     /* our address of guest byte gpa */
	void *map;        /* the whole mapping, guard pages included */
	size_t map_size;
	uint64_t brk;     /* bump allocator: next free offset in the region */
};

struct mock_mem {
	struct vio_mem mem; /* the table to hand to the code under test */
	unsigned nregions;
	struct mock_region region[MOCK_MAX_REGIONS]; /* in creation order */
};

/*
 * Creates @n regions (n <= MOCK_MAX_REGIONS), zero-filled, each in its own
 * mapping whose end touches a PROT_NONE guard page (so does its start when
 * the size is a multiple of the page size). Returns 0, or what
 * vio_mem_add() returned for a region it refused (-EEXIST, -EINVAL).
 */
int mock_mem_init(struct mock_mem *m, const struct mock_region_spec *r, unsigned n);

/* The default layout above: R0, R1 (adjacent), hole, R2. Region indices 0, 1, 2. */
void mock_mem_init_default(struct mock_mem *m);

/* Unmaps every region. */
void mock_mem_fini(struct mock_mem *m);

/* Our address of guest byte @gpa, or NULL if no region holds it. */
void *mock_hva(const struct mock_mem *m, uint64_t gpa);

/*
 * Allocates @size bytes (zeroed at creation, not on reuse) aligned to
 * @align (a power of two) from region @region; returns the gpa. Aborts
 * when the region is exhausted. Never freed before mock_mem_fini().
 */
uint64_t mock_alloc(struct mock_mem *m, unsigned region, uint64_t size, uint64_t align);

/* Copies to / from / fills guest memory, across regions. 0 or -EFAULT. */
int mock_write(const struct mock_mem *m, uint64_t gpa, const void *buf, size_t len);
int mock_read(const struct mock_mem *m, uint64_t gpa, void *buf, size_t len);
int mock_fill(const struct mock_mem *m, uint64_t gpa, int byte, size_t len);

/*
 * Writes descriptor @i of a descriptor table at guest address @table
 * (an indirect table; may cross regions): any values. 0 or -EFAULT.
 */
int mock_desc_write(const struct mock_mem *m, uint64_t table, uint32_t i,
		    uint64_t addr, uint32_t len, uint16_t flags, uint16_t next);

/* ------------------------------------------------------------------ */
/* A queue, layout-independent                                         */
/* ------------------------------------------------------------------ */

enum mock_layout {
	MOCK_SPLIT,
	MOCK_PACKED, /* not implemented yet */
};

/* One buffer of a chain: guest range and direction. */
struct mock_buf {
	uint64_t gpa;
	uint32_t len;
	bool writable; /* VIRTQ_DESC_F_WRITE: device-writable */
};

/* Where mock_vq_add() puts the chain. */
#define MOCK_DIRECT (-1) /* every buffer in the descriptor table */
/* Any n >= 0: buffers [0, n) direct, the rest in one indirect table
 * (0 = a single indirect descriptor holding the whole chain). */

/* What the driver remembers per head. */
struct mock_head {
	uint32_t posted;    /* times made available and not yet used */
	uint16_t ndesc;     /* descriptors taken from the table (0: raw) */
	uint16_t last;      /* last descriptor of the chain in the table */
	uint64_t indir_gpa; /* this head's indirect table (reused), or 0 */
	uint32_t indir_cap; /* its capacity in descriptors */
};

struct mock_vq {
	struct mock_mem *mem;
	enum mock_layout layout;
	uint32_t num;
	uint64_t features; /* feature bit mask: VIO_BIT(VIRTIO_F_...) */
	unsigned region;   /* where the rings and indirect tables live */

	/* split: the areas, as guest addresses and as our addresses */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	struct virtq_desc *desc;
	struct virtq_avail *avail;
	struct virtq_used *used;

	/* driver-private state */
	uint16_t avail_idx; /* next avail entry to write (published or not) */
	uint16_t last_used; /* next used entry to reap */
	uint32_t nfree;     /* free descriptors */
	uint16_t free_head;
	uint16_t *free_next;     /* [num] free list links */
	struct mock_head *heads; /* [num] */

	/* the device-side queue under test (mock_vq_devq_init) */
	struct vio_devq *devq;
};

/*
 * Lays out a queue of @num descriptors with @features (a mask of
 * VIO_BIT(VIRTIO_F_*); VIO_BIT(VIRTIO_F_RING_PACKED) selects nothing, the
 * layout does) in region 0 of @m. Every area is zeroed; all indices 0.
 * Split: num must be a power of two, 1..32768.
 * Returns 0; -EINVAL for a bad num; -ENOTSUP for MOCK_PACKED.
 */
int mock_vq_init(struct mock_vq *vq, struct mock_mem *m, enum mock_layout layout,
		 uint32_t num, uint64_t features);

/* As mock_vq_init(), with the rings in region @region of @m. */
int mock_vq_init_in(struct mock_vq *vq, struct mock_mem *m, enum mock_layout layout,
		    uint32_t num, uint64_t features, unsigned region);

/* Frees the driver state and vq->devq (guest memory stays with @m). */
void mock_vq_fini(struct mock_vq *vq);

/*
 * Fills @cfg for vio_devq_init() over this queue: num, features (the
 * layout bit added for packed), our addresses of the areas, &m->mem, base 0.
 */
void mock_vq_config(const struct mock_vq *vq, struct vio_devq_config *cfg);

/*
 * Allocates vq->devq (freed by mock_vq_fini()) and runs vio_devq_init()
 * on it with @cfg, or mock_vq_config()'s when @cfg is NULL.
 * Returns what vio_devq_init() returned (vq->devq stays allocated).
 */
int mock_vq_devq_init(struct mock_vq *vq, const struct vio_devq_config *cfg);

/*
 * Writes a chain of @n buffers (n >= 1) with descriptors from the free
 * list, exactly as given (no validation: a writable buffer before a
 * readable one is written as such). @indirect_at: MOCK_DIRECT, or the
 * number of buffers placed directly before one VIRTQ_DESC_F_INDIRECT
 * descriptor that refers to a table holding the rest (in table order
 * 0, 1, 2, ...). The chain is not made available.
 * Returns the head (>= 0); -ENOSPC if too few free descriptors; -EINVAL
 * if n is 0, or indirect_at >= n.
 */
int mock_vq_write_chain(struct mock_vq *vq, const struct mock_buf *b, unsigned n,
			int indirect_at);

/* mock_vq_write_chain(), then makes the chain available and publishes the
 * avail index (split: ring entry, then release store of idx). Returns the head. */
int mock_vq_add(struct mock_vq *vq, const struct mock_buf *b, unsigned n, int indirect_at);

/* A used element reaped by mock_vq_used(). */
struct mock_used {
	uint32_t id;
	uint32_t len;
};

/*
 * Reaps the next used element, if the device published one: fills @u,
 * and returns the head's descriptors to the free list (heads written by
 * mock_vq_write_chain). Returns 1; 0 if nothing is used; -EPROTO if the
 * device returned an id out of range or not made available (a device bug;
 * the element is consumed, nothing freed).
 */
int mock_vq_used(struct mock_vq *vq, struct mock_used *u);

/* Free descriptors in the table (descriptor-table capacity for add). */
uint32_t mock_vq_nfree(const struct mock_vq *vq);

/* ------------------------------------------------------------------ */
/* Raw split-ring access                                               */
/* ------------------------------------------------------------------ */

/* Writes descriptor @i (< num) of the descriptor table: any values. */
void mock_split_desc(struct mock_vq *vq, uint16_t i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next);

/* Writes @head into avail->ring[avail_idx % num] and advances the shadow
 * avail index; not visible until mock_split_publish(). */
void mock_split_avail_put(struct mock_vq *vq, uint16_t head);

/* Publishes the shadow avail index: release store of avail->idx. */
void mock_split_publish(struct mock_vq *vq);

/* avail_put + publish. */
void mock_split_make_avail(struct mock_vq *vq, uint16_t head);

/* Raw writes: avail->ring[@slot] (slot < num), avail->idx (also becomes
 * the shadow index: any jump, any value), avail->flags, used_event. */
void mock_split_set_avail_ring(struct mock_vq *vq, uint32_t slot, uint16_t head);
void mock_split_set_avail_idx(struct mock_vq *vq, uint16_t idx);
void mock_split_set_avail_flags(struct mock_vq *vq, uint16_t flags);
void mock_split_set_used_event(struct mock_vq *vq, uint16_t used_event);

/* Raw write of used->idx (to set up a queue the device resumes; also
 * moves the driver's reap position there). */
void mock_split_set_used_idx(struct mock_vq *vq, uint16_t idx);

/* Reads back what the device wrote. */
uint16_t mock_split_used_idx(const struct mock_vq *vq);    /* acquire load */
uint16_t mock_split_used_flags(const struct mock_vq *vq);
uint16_t mock_split_avail_event(const struct mock_vq *vq);
/* used->ring[@slot] (slot < num). */
void mock_split_used_elem(const struct mock_vq *vq, uint32_t slot, uint32_t *id, uint32_t *len);
uint16_t mock_split_avail_idx(const struct mock_vq *vq);   /* as published */

#endif /* VIO_TESTS_MOCK_DRIVER_H */
