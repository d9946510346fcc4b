/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Guest memory for the ring harnesses, and the race window: a deterministic
 * way for the "driver" to rewrite guest memory between any two reads the
 * device makes (fuzz/README.md, "Changing the ring under the device").
 *
 * Regions: up to GUEST_MAX_REGIONS, each in its own fixed mapping (a slot
 * of GUEST_SLOT_BYTES between two PROT_NONE guard pages), placed either at
 * the start of the slot or so that its last byte touches the trailing guard
 * page. The slack of the slot around the region is ASan-poisoned, so a read
 * one byte outside a region is reported whichever way it is placed.
 *
 * Race window: between race_begin() and race_end() every page of every
 * region is PROT_NONE. Each access the code under test makes to guest
 * memory faults; the SIGSEGV handler counts it, applies the mutations
 * scheduled for that access number (before the access executes), logs the
 * access (address, instruction, read or write), opens the pages and sets
 * the x86 trap flag; the SIGTRAP after that one instruction closes them
 * again. So the device sees the memory exactly as the schedule says at each
 * of its accesses, and the same input always replays the same interleaving.
 */
#ifndef VIO_FUZZ_GUEST_H
#define VIO_FUZZ_GUEST_H

#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vio/mem.h"

#define GUEST_MAX_REGIONS 4
#define GUEST_SLOT_BYTES (256u * 1024u)

struct guest_region_spec {
	uint64_t gpa;
	uint32_t size;  /* 1..GUEST_SLOT_BYTES */
	bool at_end;    /* last byte against the trailing guard page */
};

struct guest_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *hva;
};

struct guest {
	struct vio_mem mem; /* the table handed to the code under test */
	unsigned n;
	struct guest_region r[GUEST_MAX_REGIONS];
};

/*
 * Lays out @n regions (zero-filled) and registers them in g->mem. Regions
 * vio_mem_add() refuses (overlap, overflow) are dropped. Returns the number
 * of regions kept.
 */
unsigned guest_setup(struct guest *g, const struct guest_region_spec *spec, unsigned n);

/* Our address of [gpa, gpa + len) if one region holds it all, else NULL. */
void *guest_ptr(const struct guest *g, uint64_t gpa, uint64_t len);

/* Writes what of [gpa, gpa + len) is guest memory; bytes outside are skipped. */
void guest_write(const struct guest *g, uint64_t gpa, const void *buf, size_t len);

/* True if [p, p + len) lies inside one region (len 0: p inside or at an end). */
bool guest_host_inside(const struct guest *g, const void *p, size_t len);

/* The guest address of our address @p, if it is in a region. */
bool guest_host_to_gpa(const struct guest *g, const void *p, uint64_t *gpa);

/* ASan-poisons / unpoisons bytes of guest memory (no-ops without ASan). */
void guest_poison(const void *p, size_t len);
void guest_unpoison(const void *p, size_t len);

/* ---- the race window ---- */

/* A write the driver makes just before the device's access number @at. */
struct race_mut {
	uint32_t at;      /* 1-based count of faulting accesses in the window */
	uint64_t gpa;
	uint8_t len;      /* 1..16 */
	uint8_t bytes[16];
};

struct race_access {
	uintptr_t addr;
	uintptr_t ip;
	bool write;
	bool ours;        /* the instruction is in this program, not in libc */
};

#define RACE_MAX_MUTS 32
#define RACE_MAX_LOG 1024

struct race_log {
	uint32_t faults;  /* accesses trapped */
	uint32_t nlog;    /* entries in log (the first RACE_MAX_LOG) */
	struct race_access log[RACE_MAX_LOG];
};

/* Opens a race window over every region of @g with mutations @m (copied). */
void race_begin(const struct guest *g, const struct race_mut *m, unsigned n);

/*
 * The process "dies" at access number @at (> 0) of the next window, before
 * that access executes: the handler opens the pages and siglongjmp()s to
 * @env (saved with sigsetjmp(env, 1)), abandoning the call under test. The
 * window is then closed; race_end() still returns its log. 0: no crash.
 * Applies to the next race_begin() only.
 */
void race_crash_at(uint32_t at, sigjmp_buf *env);
/* Closes it; the log of the window. */
const struct race_log *race_end(void);

/*
 * A double fetch in @log: an instruction of ours reading guest bytes
 * already read earlier in the same visit of a 16-byte slot (a run of
 * accesses to that slot), by ours or by a libc copy (taken to cover 16
 * bytes). Returns the index of the offending access, or -1.
 */
int race_double_fetch(const struct race_log *log);

#endif /* VIO_FUZZ_GUEST_H */
