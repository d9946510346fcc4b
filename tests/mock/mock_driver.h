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
 *     Raw packed access (mock_packed_*): write any descriptor at any ring
 *     position (addr/len/id/flags, AVAIL/USED bits in any wrap state),
 *     packed indirect tables (mock_pdesc_write), descriptors at the
 *     driver's cursor with its wrap counter (mock_packed_put, the first
 *     one's flags held back until mock_packed_publish), the Driver Event
 *     Suppression structure; read back descriptors and the Device Event
 *     Suppression structure.
 *
 * Mixing layers 2 and 3 on one queue: the helpers take descriptors from
 * their free list (initially 0, 1, 2, ... in order); a test writing raw
 * descriptors should either use raw calls only, or write to descriptors it
 * knows are free. Raw avail entries (mock_split_avail_put) are tracked as
 * posted, so mock_vq_used() accepts their heads back.
 *
 * The layout is a parameter (enum mock_layout): the mock_vq_* calls work
 * for both. The packed layout (VIRTIO 1.4 §2.8), as the mock driver keeps
 * it:
 *
 *   Descriptor Ring   struct pvirtq_desc pdesc[num]   (desc_gpa, align 16)
 *   Driver Event Suppression (driver_gpa, align 4)  written by the driver
 *   Device Event Suppression (device_gpa, align 4)  read by the driver
 *
 *   The driver's cursor (next_avail, avail_wrap) is where it writes the
 *   next descriptor; its reap cursor (next_used, used_wrap) is where it
 *   polls for the next used descriptor. Both wrap counters start at 1
 *   (§2.8.1). A buffer is a list of ring descriptors linked by NEXT, the
 *   buffer id in the last one (§2.8.6), or one INDIRECT descriptor whose
 *   table holds struct pvirtq_desc entries (§2.8.7). Buffer ids are taken
 *   round-robin from the ids not in use (0, 1, 2, ... for a driver that
 *   gets them back in order). Every list is written with its first
 *   descriptor's flags stored last (§2.8.21.1); more than one list may be
 *   written before the first of them is published, so a batch becomes
 *   visible at once. Reaping skips the whole list of the used buffer id
 *   (§2.8.6) and, with VIRTIO_F_IN_ORDER, the whole batch up to it (§2.8.8).
 *
 * VIRTIO_F_IN_ORDER (both layouts): the mock remembers buffers in the
 * order they were made available; a used element with id X stands for
 * every outstanding buffer up to and including X (§2.7.9, §2.8.8), which
 * mock_vq_used() reports as one element with nbufs > 1.
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

/*
 * Writes entry @i of a packed indirect table (struct pvirtq_desc, VIRTIO
 * 1.4 §2.8.7) at guest address @table: any values. 0 or -EFAULT.
 */
int mock_pdesc_write(const struct mock_mem *m, uint64_t table, uint32_t i,
		     uint64_t addr, uint32_t len, uint16_t id, uint16_t flags);

/* ------------------------------------------------------------------ */
/* A queue, layout-independent                                         */
/* ------------------------------------------------------------------ */

enum mock_layout {
	MOCK_SPLIT,
	MOCK_PACKED,
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

/* What the driver remembers per head (split) or buffer id (packed). */
struct mock_head {
	uint32_t posted;    /* times made available and not yet used */
	uint16_t ndesc;     /* split: descriptors taken from the table (0: raw) */
	uint16_t last;      /* split: last descriptor of the chain in the table */
	uint64_t indir_gpa; /* this head's indirect table (reused), or 0 */
	uint32_t indir_cap; /* its capacity in descriptors */
	uint16_t plen;      /* packed: ring descriptors of its (last) list */
	uint8_t taken;      /* packed: id in use (not handed out by add) */
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

	/* packed: the areas (the ring at desc_gpa) */
	uint64_t driver_gpa, device_gpa;
	struct pvirtq_desc *pdesc;
	struct pvirtq_event_suppress *driver_event; /* we write it */
	struct pvirtq_event_suppress *device_event; /* the device writes it */
	/* packed driver-private state */
	uint16_t next_avail; /* where the next descriptor is written */
	bool avail_wrap;     /* Driver Ring Wrap Counter (starts at 1) */
	uint16_t next_used;  /* where the next used descriptor is polled */
	bool used_wrap;      /* the device's wrap counter we expect there */
	uint16_t list_len;   /* descriptors put so far in the current list */
	bool held;           /* the first descriptor of a batch awaits publish */
	uint16_t held_pos, held_flags;
	uint32_t outstanding; /* ring descriptors made available, not reaped */
	uint16_t next_id;     /* round-robin buffer id allocation */

	/* VIRTIO_F_IN_ORDER: heads / ids in the order made available */
	uint16_t *order;      /* [65536] */
	uint32_t order_head, order_count;

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
 * Split: num must be a power of two, 1..32768. Packed: num is 1..32768,
 * both wrap counters 1, positions 0; the descriptor ring starts on a page
 * of its own and fills whole pages (a test may mprotect() them).
 * Returns 0; -EINVAL for a bad num.
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
 * layout bit added for packed), our addresses of the areas, &m->mem, and
 * base: split 0; packed the driver's reap cursor as both halves of the
 * vhost-user encoding (next_used | used_wrap << 15, twice: 0x80008000 for
 * a fresh ring), i.e. a device resuming with nothing in flight.
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
 * Packed: the list goes at the driver's cursor with a free buffer id (in
 * its last descriptor); indirect_at > 0 writes an INDIRECT descriptor at
 * the end of a list, which the packed layout forbids (§2.8.19) - as
 * given. Its descriptors are written with their AVAIL/USED bits, but the
 * first descriptor of the batch (this list, or an earlier one not yet
 * published) keeps its old flags until mock_packed_publish(), so the
 * device cannot see any of it yet.
 * Returns the head / buffer id (>= 0); -ENOSPC if too few free
 * descriptors (or, packed, no free id); -EINVAL if n is 0, or
 * indirect_at >= n.
 */
int mock_vq_write_chain(struct mock_vq *vq, const struct mock_buf *b, unsigned n,
			int indirect_at);

/* mock_vq_write_chain(), then makes the chain available (split: ring
 * entry, then release store of idx; packed: release store of the held
 * first descriptor's flags). Returns the head / buffer id. */
int mock_vq_add(struct mock_vq *vq, const struct mock_buf *b, unsigned n, int indirect_at);

/* A used element reaped by mock_vq_used(). */
struct mock_used {
	uint32_t id;    /* head (split) / buffer id (packed) in the element */
	uint32_t len;   /* the used length it carries */
	uint32_t nbufs; /* buffers it stands for: 1, or the IN_ORDER batch size */
	uint32_t ndesc; /* packed: ring descriptors skipped (the batch's lists) */
	uint16_t flags; /* packed: the used descriptor's flags */
	uint16_t pos;   /* packed: ring position it was read at */
};

/*
 * Reaps the next used element, if the device published one: fills @u,
 * and returns the head's descriptors (split) / ring positions and id
 * (packed) to the driver. With VIRTIO_F_IN_ORDER the element covers the
 * outstanding buffers up to its id, in the order made available: split
 * moves the reap index by that many, packed skips all their lists.
 * Returns 1; 0 if nothing is used; -EPROTO if the device returned an id
 * out of range or not made available (with IN_ORDER: not outstanding) -
 * a device bug; the element is consumed (packed: one position), nothing
 * freed.
 */
int mock_vq_used(struct mock_vq *vq, struct mock_used *u);

/* Free descriptors in the table / ring (capacity for add). */
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

/* ------------------------------------------------------------------ */
/* Raw packed-ring access                                              */
/* ------------------------------------------------------------------ */

/* AVAIL/USED bits of a descriptor made available under Driver Ring Wrap
 * Counter @wrap (§2.8.1: AVAIL = wrap, USED = !wrap). */
static inline uint16_t mock_packed_avail_bits(bool wrap)
{
	return wrap ? VIRTQ_DESC_F_AVAIL : VIRTQ_DESC_F_USED;
}

/* AVAIL/USED bits of a descriptor used under Device Ring Wrap Counter
 * @wrap (§2.8.1: both = wrap). */
static inline uint16_t mock_packed_used_bits(bool wrap)
{
	return wrap ? VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED : 0;
}

/* An event suppression desc field: offset and wrap counter (§2.8.14). */
static inline uint16_t mock_packed_event(uint16_t off, bool wrap)
{
	return (uint16_t)((off & 0x7fff) | (wrap ? 0x8000 : 0));
}

/* A packed descriptor in host byte order. */
struct mock_pdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t id;
	uint16_t flags;
};

/*
 * Writes ring position @pos (< num): addr, len, id, then flags with a
 * release store - any values, AVAIL/USED bits included. Touches none of
 * the driver's cursors or bookkeeping.
 */
void mock_packed_desc(struct mock_vq *vq, uint32_t pos, uint64_t addr, uint32_t len,
		      uint16_t id, uint16_t flags);

/* Only the flags of position @pos (release store). */
void mock_packed_set_flags(struct mock_vq *vq, uint32_t pos, uint16_t flags);

/*
 * Writes one descriptor at the driver's cursor: @flags (NEXT, WRITE,
 * INDIRECT, ...; AVAIL/USED must be clear) plus the AVAIL/USED bits of the
 * current Driver Ring Wrap Counter, then moves the cursor (flipping the
 * counter past num - 1). The first descriptor put since the last publish
 * has its flags held back (the rest of the descriptor is written).
 * A descriptor without NEXT ends a list: buffer @id is recorded as made
 * available with that list's length, so mock_vq_used() accepts it back.
 * No validation. Returns the position written.
 */
uint32_t mock_packed_put(struct mock_vq *vq, uint64_t addr, uint32_t len, uint16_t id,
			 uint16_t flags);

/* Stores the held first descriptor's flags (release): the batch becomes
 * visible. Nothing if nothing is held. */
void mock_packed_publish(struct mock_vq *vq);

/*
 * Moves the driver's cursors (a queue resumed elsewhere, or set up around
 * the wrap point) and fills the ring so that every position looks used by
 * the device in the lap that put it there: positions before next_used
 * with used_wrap, the rest with !used_wrap. Call with nothing outstanding;
 * next_avail/avail_wrap = next_used/used_wrap.
 */
void mock_packed_set_cursors(struct mock_vq *vq, uint16_t next_used, bool used_wrap);

/* The vhost-user base of the driver's cursors: avail half from the
 * driver's next_avail / avail_wrap, used half from next_used / used_wrap. */
uint32_t mock_packed_base(const struct mock_vq *vq);

/* Reads ring position @pos (< num); the flags with an acquire load first. */
void mock_packed_read(const struct mock_vq *vq, uint32_t pos, struct mock_pdesc *d);
uint16_t mock_packed_flags(const struct mock_vq *vq, uint32_t pos); /* acquire */

/* Driver Event Suppression (we write; the device reads): flags
 * (RING_EVENT_FLAGS_*, any value) and desc (mock_packed_event()). */
void mock_packed_set_driver_event(struct mock_vq *vq, uint16_t flags, uint16_t desc);

/* Device Event Suppression as the device wrote it. */
void mock_packed_device_event(const struct mock_vq *vq, uint16_t *flags, uint16_t *desc);

#endif /* VIO_TESTS_MOCK_DRIVER_H */
