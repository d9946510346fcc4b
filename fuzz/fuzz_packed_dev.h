/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the two files of fuzz_packed_dev share: the queue and the areas it
 * runs on (fuzz_packed_dev.c, with the device calls and the driver), and the
 * reference model (fuzz_packed_dev_model.c).
 */
#ifndef VIO_FUZZ_FUZZ_PACKED_DEV_H
#define VIO_FUZZ_FUZZ_PACKED_DEV_H

#include <stdbool.h>
#include <stdint.h>

#include "common/ring_model.h"
#include "vio/devq.h"
#include "vio/virtio_ring.h"

#define MAX_NUM RM_MAX_NUM
#define BASE_WRAP 0x8000u

/* fuzz_packed_dev.c: the device-side queue, its ring and event areas, its inflight log */
extern struct vio_devq *Q;
extern struct pvirtq_desc *ring;
extern struct pvirtq_event_suppress *drv_ev, *dev_ev;
extern void *logmem;

/* What the model knows of one buffer id. */
struct mslot {
	bool inflight, done;
	bool unflushed;   /* pushed, its used descriptor not yet published */
	bool unknown;     /* popped in a race window: what the log saved is unknown */
	uint16_t ndesc;
	uint32_t in_bytes, len;
	uint64_t counter; /* pop order */
};

/* A ring descriptor of a list, as popped (the log saves these for a restart). */
struct sdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
};

/* The model's state: the device's positions and what each buffer id is doing. */
struct mstate {
	bool broken;
	bool wild;               /* after recovery from a log the front-end wrote */
	bool reused;             /* an id popped again before its last use was published */
	uint64_t counter;
	uint16_t resub[MAX_NUM]; /* recovery: ids popped again first, in pop order */
	uint32_t nresub, iresub;
	uint16_t next_avail, next_used, sig_pos;
	bool avail_wrap, used_wrap, sig_wrap;
	uint32_t desc_inflight, ninflight;
	bool batch;           /* used descriptors written since the last flush */
	uint16_t batch_first; /* the first of them: its flags are published by flush */
	uint16_t batch_flags;
	struct mslot s[MAX_NUM];
	uint16_t order[MAX_NUM]; /* IN_ORDER: ids in pop order */
	uint32_t ohead, ocount;
};

/* A chain the model cannot predict: popped again from a list the model never saw. */
#define M_UNKNOWN ((enum mres)(M_BROKEN + 1))
/*
 * A chain, or the ring broken: the driver made available more descriptors
 * than it has seen used (it reused positions of lists pushed but not yet
 * published). Without the log the device counts those lists as used at
 * push; with it, at publish (their descriptors stay saved until then).
 */
#define M_EITHER ((enum mres)(M_BROKEN + 2))

/* fuzz_packed_dev_model.c */
extern struct sdesc walked[MAX_NUM];
extern struct mstate M;
extern struct pvirtq_desc rshadow[MAX_NUM];
extern struct pvirtq_event_suppress dev_shadow;
bool avail_bits(uint16_t flags, bool wrap);
void step(uint16_t *pos, bool *wrap, uint32_t n);
enum mres m_pop(struct mchain *c);
void m_take(uint16_t id, uint16_t ndesc, uint64_t in_bytes, const struct sdesc *list);
void snapshot(void);
void check_areas(const char *after);
uint16_t used_flags(bool wrap, uint32_t len);
bool in_window(uint16_t from, uint32_t n, uint16_t pos);
bool passed(uint16_t event);
bool shows_used(void);

#endif /* VIO_FUZZ_FUZZ_PACKED_DEV_H */
