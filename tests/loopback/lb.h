/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Loopback harness: our driver (vio_drvq) against our device (vio_devq)
 * over one piece of shared memory (a memfd), in two threads or in two
 * processes.
 *
 * The memfd holds, at fixed offsets:
 *
 *   region 0 (one mapping on each side)      data regions (one mapping each on the device side)
 *   | ctrl | desc | avail | used | indirect tables | records |  slot 0 | slot 1 | ... | slot num-1 |
 *
 * Guest-physical address of offset o: LB_GPA_BASE + o. The driver sees the
 * memfd as one mapping; the device sees it through a struct vio_mem of
 * regions: region 0, then the data area cut into up to LB_DATA_REGIONS
 * regions, so buffers often straddle region boundaries (one iovec per
 * region crossed). In the two-process test each region is its own mapping
 * in the child, at addresses unrelated to the parent's.
 *
 * Each buffer in flight owns one record (which is its token on the driver
 * side) and one data slot. The record is a side channel the test trusts:
 * it tells the device which segments to expect, which bytes the driver
 * wrote and how many bytes to write back. The device checks its chain
 * against it (iovecs, byte counts, every readable byte), writes the
 * writable bytes and marks the record; the driver checks on completion the
 * used length, every byte of the slot (written part, unwritten part,
 * readable part, the gaps between segments) and that the device saw it.
 *
 * Randomness: one seed per run (printed on failure); the driver and the
 * device draw from their own generators derived from it.
 */
#ifndef VIO_TESTS_LB_H
#define VIO_TESTS_LB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vio/devq.h"
#include "vio/drvq.h"
#include "vio/mem.h"

#define LB_GPA_BASE     0x40000000000ull
#define LB_DATA_REGIONS 48
#define LB_MAX_REGIONS  (1 + LB_DATA_REGIONS)
#define LB_IND_MAX      8  /* indirect table entries: longer chains go direct */
#define LB_MAX_SEG      64 /* segments per buffer (at most num) */
#define LB_BURST        8  /* most chains or used buffers taken per call */

struct lb_params {
	uint32_t num;
	uint64_t features;   /* VIO_BIT(VIRTIO_F_*) */
	uint64_t seed;       /* this run's seed */
	uint64_t env_seed;   /* the VIO_LB_SEED it was derived from (printed on failure) */
	uint64_t buffers;    /* buffers to run through */
	bool verify;         /* false: fixed one-segment buffers, no data checks (throughput) */
	int timeout_ms;      /* longest wait for a notification */
};

/* Where everything is, as offsets into the memfd; the same in both processes. */
struct lb_layout {
	uint32_t num;
	size_t page;
	size_t desc, avail, used;    /* ring areas */
	size_t ind;                  /* indirect tables: num * LB_IND_MAX * 16 bytes */
	size_t recs, rec_stride;     /* records */
	uint32_t maxseg;
	size_t reg0;                 /* region 0 is [0, reg0), page-aligned */
	size_t data, slot;           /* data slots: [data, data + num * slot) */
	size_t reg_size;             /* data regions of reg_size (the last may be shorter) */
	uint32_t nregions;           /* 1 + data regions */
	size_t total;                /* memfd size, page-aligned */
};

/* Control block at offset 0: counters and the device's verdict. */
struct lb_ctrl {
	uint32_t stop;        /* driver -> device: finish */
	uint32_t dev_failed;  /* device -> driver: dev_err holds why */
	uint32_t dev_started; /* device -> driver: it wrote its event suppression once */
	uint64_t calls;       /* used buffer notifications sent */
	uint64_t kicks_seen;  /* wake-ups by a kick */
	uint64_t enables;     /* vio_devq_kick_enable() calls */
	uint64_t chains;      /* chains popped */
	uint64_t timeouts;    /* device sleeps that ended without a kick */
	char dev_err[512];
};

/* One process's view of the memory. */
struct lb_view {
	const struct lb_layout *l;
	uint8_t *hva[LB_MAX_REGIONS]; /* our address of each region */
};

void lb_layout_init(struct lb_layout *l, uint32_t num);
/* Offset and size of region @i. */
size_t lb_region_off(const struct lb_layout *l, uint32_t i);
size_t lb_region_size(const struct lb_layout *l, uint32_t i);
/* The view of one contiguous mapping of the whole memfd at @base. */
void lb_view_contiguous(struct lb_view *v, const struct lb_layout *l, uint8_t *base);
/* Fills @m with the regions of @v (gpa = LB_GPA_BASE + offset). */
void lb_view_mem(const struct lb_view *v, struct vio_mem *m);

/*
 * The driver: sets up the queue over @base (the whole memfd, mapped once)
 * and zeroes the shared areas. Call before the device starts.
 */
struct lb_driver;
struct lb_driver *lb_driver_new(const struct lb_params *p, const struct lb_layout *l,
				uint8_t *base, int kick_fd, int call_fd);
/* Runs p->buffers buffers through; NULL, or why it failed (seed included). */
const char *lb_driver_run(struct lb_driver *d);
/* After the device stopped: checks the notification counts; NULL or why. */
const char *lb_driver_check_counts(struct lb_driver *d);
/* Asks the device to stop (and kicks it). */
void lb_driver_stop(struct lb_driver *d);
uint64_t lb_driver_kicks(const struct lb_driver *d);
uint64_t lb_driver_cb_enables(const struct lb_driver *d);
uint64_t lb_driver_waits(const struct lb_driver *d);
void lb_driver_free(struct lb_driver *d);

/*
 * The device: serves the queue through the regions of @v until the driver
 * says stop. Returns NULL, or why it failed (also left in ctrl->dev_err).
 */
const char *lb_device_run(const struct lb_params *p, const struct lb_view *v, int kick_fd,
			  int call_fd);

/* Creates a memfd of l->total bytes; aborts on failure. */
int lb_memfd(const struct lb_layout *l);

/* VIO_LB_SEED / VIO_LB_BUFFERS / VIO_LB_SCALE / VIO_LB_TIMEOUT_MS from the environment, or
 * the defaults (a seed from the clock; @def buffers times VIO_LB_SCALE (for long runs), a
 * tenth of that under ThreadSanitizer, VIO_LB_BUFFERS replacing it all; 20 s). */
uint64_t lb_env_seed(void);
/* The seed of the run for @num and @features, derived from @env_seed. */
uint64_t lb_run_seed(uint64_t env_seed, uint32_t num, uint64_t features);
/* Fills @p for a verified run. */
void lb_params_init(struct lb_params *p, uint64_t env_seed, uint32_t num, uint64_t features,
		    uint64_t buffers);
/* The layout and ring features of @features: "split/plain" .. "packed/indirect+event_idx+in_order". */
const char *lb_feat_name(uint64_t features);
uint64_t lb_env_buffers(uint64_t def);
int lb_env_timeout_ms(void);

#endif /* VIO_TESTS_LB_H */
