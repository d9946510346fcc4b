/* SPDX-License-Identifier: BSD-3-Clause */
/* Internal state of a device-side virtqueue, shared by the layouts. */
#ifndef VIO_RING_DEVQ_IMPL_H
#define VIO_RING_DEVQ_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include "../mem/mem_impl.h"
#include "ring_pos.h"
#include "vio/devq.h"
#include "vio/virtio_ring.h"

/* VIRTIO 1.4 §2.7.5.2: a chain is at most 2^32 bytes in total. */
#define CHAIN_MAX_BYTES (1ull << 32)

/* Per-id bookkeeping: which chains are in flight, and their shape. */
struct devq_slot {
	uint32_t in_bytes; /* writable bytes, to clamp the used length */
	uint32_t len;      /* IN_ORDER: used length, once pushed */
	uint16_t ndesc;    /* descriptors the chain took */
	uint8_t inflight;  /* popped, and its used element not yet written */
	uint8_t done;      /* IN_ORDER: pushed, waiting for the ones before it */
	uint8_t unpublished; /* inflight log: used, and not yet published by a flush */
};

struct vio_devq {
	uint32_t num;
	bool packed;
	bool event_idx;
	bool indirect;
	bool in_order;
	bool broken;
	const char *err;
	const struct vio_mem *mem;
	uint32_t mem_hint; /* the region of the last buffer (mem_gpa_ptr_hint()) */
	uint32_t inflight; /* popped and not yet pushed */

	/* split layout */
	struct virtq_desc *desc;
	struct virtq_avail *avail;
	struct virtq_used *used;
	uint16_t last_avail_idx; /* next available entry to pop */
	uint16_t used_idx;       /* next used entry to write (pending included) */
	uint16_t signalled_used; /* used index at the last flush */

	/* packed layout: ring positions 0..num-1 and their wrap counters */
	struct pvirtq_desc *pdesc;
	struct pvirtq_event_suppress *driver_event; /* written by the driver */
	struct pvirtq_event_suppress *device_event; /* written by us */
	uint16_t next_avail, next_used, signalled_pos;
	uint32_t desc_inflight;     /* descriptors popped and not yet used */
	bool avail_wrap, used_wrap, signalled_wrap;
	bool batch_pending;         /* used descriptors written since the last flush */
	uint16_t batch_first;       /* the first of them: its flags are stored last */
	uint16_t batch_first_flags;

	/* IN_ORDER: ids in the order they were popped (a ring of num) */
	uint16_t *order;
	uint32_t order_head, order_count;

	/* inflight log (inflight.c): the shared region, written only; the rest private */
	struct log_hdr *log;
	uint64_t log_counter;        /* pops logged so far */
	bool resubmitting;           /* popping a chain the log already holds */
	uint16_t log_free;           /* packed: free save slots (list in log_links) */
	uint16_t log_list_first, log_list_last, log_list_n; /* list being saved */
	uint32_t log_batch_n;        /* ids completed since the last publish */
	uint32_t log_resub_n, log_resub_i, log_desc_total;
	uint64_t *log_key;           /* [num] pop counters read back at recovery */
	uint16_t *log_links;         /* [num] save slot links: free list, or per list */
	uint16_t *log_first;         /* [num] per id: first save slot */
	uint16_t *log_ndesc;         /* [num] per id: saved descriptors */
	uint16_t *log_avail_end;     /* [num] per id, read back at recovery */
	uint16_t *log_batch;         /* [num] ids of the batch being published */
	uint16_t *log_resub;         /* [num] ids to pop again, in pop order */
	uint8_t *log_taken;          /* [2 * num] recovery scratch */

	struct devq_slot slots[]; /* [num], then the arrays above (devq.c lays them out) */
};

/* Inflight log (inflight.c). Only called when q->log is set. */
struct log_hdr;
void inflight_init(struct vio_devq *q, void *region, size_t size);
void inflight_save_reset(struct vio_devq *q);
int inflight_save_desc(struct vio_devq *q, uint64_t addr, uint32_t len, uint16_t flags);
void inflight_pop(struct vio_devq *q, uint16_t id);
void inflight_publish_begin(struct vio_devq *q);
void inflight_publish_end(struct vio_devq *q);
int inflight_saved_desc(struct vio_devq *q, uint16_t id, uint16_t i, uint16_t *slot,
			uint64_t *addr, uint32_t *len, uint16_t *flags);

/* The next id to pop again, in pop order: 1 with *id set, or 0 when none is left. */
static inline int inflight_next_resubmit(struct vio_devq *q, uint16_t *id)
{
	if (q->log_resub_i >= q->log_resub_n)
		return 0;
	*id = q->log_resub[q->log_resub_i++];
	return 1;
}

/* Marks @q broken with @why; returns -EIO for the caller to pass on. */
int devq_fail(struct vio_devq *q, const char *why);

/* Notes in the log's batch that buffer @id was used; 0, or -EIO (broken). */
static inline int inflight_used(struct vio_devq *q, uint16_t id)
{
	/* An honest driver cannot have more than Queue Size buffers used
	 * between two flushes: it makes a head (id) available again only
	 * after seeing it used. One that does (split: nothing else stops a
	 * head popped, pushed, and made available again) would overrun the
	 * batch list. */
	if (q->log_batch_n >= q->num)
		return devq_fail(q, "more buffers used between two flushes than the queue size");
	q->log_batch[q->log_batch_n++] = id;
	q->slots[id].unpublished = 1;
	return 0;
}

/*
 * Index in q->order of the chain @k places after the oldest in flight
 * (IN_ORDER); k <= num. No division: the queue size of a packed ring need
 * not be a power of 2, and a '%' here was three divisions per buffer.
 */
static inline uint32_t order_pos(const struct vio_devq *q, uint32_t k)
{
	return ring_pos_add(q->order_head, k, q->num);
}

/*
 * Records chain @c, buffer @id of @ndesc descriptors, as in flight (both
 * layouts, after a chain was walked). 0, or -EIO (broken) when the id is out
 * of range or already in flight (DESIGN.md §4). Inline: once per pop.
 */
static inline int devq_take(struct vio_devq *q, struct vio_chain *c, uint16_t id, uint16_t ndesc)
{
	struct devq_slot *s;

	if (id >= q->num)
		return devq_fail(q, "buffer id out of range");
	s = &q->slots[id];
	if (s->inflight)
		return devq_fail(q, "buffer id already in flight");
	/* The driver makes a buffer available again only after it saw it used
	 * (VIRTIO 1.4 §2.7.14, §2.8.22), which a flush publishes. Taken again
	 * before that, two uses would share one inflight log entry, and a
	 * restart could not tell them apart: refuse it here, where it happens. */
	if (q->log && s->unpublished)
		return devq_fail(q, "buffer id made available again before its use was published");
	s->inflight = 1;
	s->done = 0;
	s->ndesc = ndesc;
	s->in_bytes = c->in_bytes > UINT32_MAX ? UINT32_MAX : (uint32_t)c->in_bytes;
	q->inflight++;
	if (q->log && !q->resubmitting)
		inflight_pop(q, id);
	if (q->in_order)
		q->order[order_pos(q, q->order_count++)] = id;
	c->id = id;
	c->ndesc = ndesc;
	return 0;
}

/* Accumulates one buffer of a chain being popped (chain.c). */
struct chain_walk {
	struct vio_chain *c;
	bool overflow; /* more iovecs than c->iov_cap: keep validating, fill no more */
	bool seen_writable;
};
static inline void chain_begin(struct chain_walk *w, struct vio_chain *c)
{
	w->c = c;
	w->overflow = false;
	w->seen_writable = false;
	c->nout = c->nin = 0;
	c->out_bytes = c->in_bytes = 0;
}

/* Adds buffer [addr, addr+len); 0, or -EIO after marking @q broken. */
int chain_add_slow(struct vio_devq *q, struct chain_walk *w, uint64_t addr, uint32_t len,
		   bool writable);

/*
 * As chain_add_slow(), inline for the common case: the buffer in order,
 * within the chain's byte limit, room for its iovec, and all of it inside
 * the region of the previous one. Anything else, every error included,
 * goes the slow way, which checks it all again.
 */
static inline int chain_add(struct vio_devq *q, struct chain_walk *w, uint64_t addr, uint32_t len,
			    bool writable)
{
	struct vio_chain *c = w->c;
	uint32_t used = c->nout + c->nin;
	void *p;

	/* The checks of chain_add_slow(): VIRTIO 1.4 §2.7.4.2 / §2.8.17
	 * device-readable parts first; §2.7.5.2 at most 2^32 bytes; the
	 * range inside guest memory (DESIGN.md §4). */
	if ((writable || !w->seen_writable) && !w->overflow && used < c->iov_cap &&
	    c->out_bytes + c->in_bytes + len <= CHAIN_MAX_BYTES &&
	    (p = mem_gpa_ptr_hint(q->mem, q->mem_hint, addr, len))) {
		c->iov[used].iov_base = p;
		c->iov[used].iov_len = len;
		if (writable) {
			w->seen_writable = true;
			c->nin++;
			c->in_bytes += len;
		} else {
			c->nout++;
			c->out_bytes += len;
		}
		return 0;
	}
	return chain_add_slow(q, w, addr, len, writable);
}
/*
 * Checks an indirect table of @len bytes at guest address @table before it
 * is walked (both layouts): the feature negotiated, 16 <= len <= 16 * 32768,
 * a multiple of 16, all of it inside guest memory. 0, or -EIO (broken).
 */
int chain_indirect_check(struct vio_devq *q, uint64_t table, uint32_t len);

int split_init(struct vio_devq *q, const struct vio_devq_config *cfg);
int split_pop(struct vio_devq *q, struct vio_chain *c);
/*
 * Writes one used element for @nbufs buffers ending with chain @id (nbufs > 1
 * only with IN_ORDER: the others are used in full), which took @ndesc
 * descriptors in all. Bookkeeping is the caller's.
 */
void split_push(struct vio_devq *q, uint16_t id, uint32_t len, uint16_t nbufs, uint32_t ndesc);
int split_flush(struct vio_devq *q);
void split_kick_disable(struct vio_devq *q);
int split_kick_enable(struct vio_devq *q);
uint32_t split_base(const struct vio_devq *q);
int split_resubmit(struct vio_devq *q, struct vio_chain *c, uint16_t head);

int packed_init(struct vio_devq *q, const struct vio_devq_config *cfg);
/* @first: a copy of the descriptor at next_avail (packed_pop_fast()), or NULL to read it. */
int packed_pop(struct vio_devq *q, struct vio_chain *c, const struct pvirtq_desc *first);
/*
 * The fast paths of the bursts (no inflight log): pop into c[0..n-1], or
 * push u[0..n-1] (nor IN_ORDER, nor broken), as many as are of the common
 * shape, in one loop; returns how many. What they stop at, they leave
 * untouched for packed_pop() / push_one() to take or refuse.
 */
uint32_t packed_pop_fast(struct vio_devq *q, struct vio_chain *restrict c, uint32_t n,
			 struct pvirtq_desc *stop, bool *stopped);
uint32_t packed_push_fast(struct vio_devq *q, const struct vio_used *restrict u, uint32_t n);
void packed_push(struct vio_devq *q, uint16_t id, uint32_t len, uint16_t nbufs, uint32_t ndesc);
int packed_flush(struct vio_devq *q);
void packed_kick_disable(struct vio_devq *q);
int packed_kick_enable(struct vio_devq *q);
uint32_t packed_base(const struct vio_devq *q);
int packed_resubmit(struct vio_devq *q, struct vio_chain *c, uint16_t id);

#endif /* VIO_RING_DEVQ_IMPL_H */
