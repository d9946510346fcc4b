/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The inflight log of a device-side queue (vhost-user "Inflight I/O
 * tracking"): which chains are in flight, kept in memory the front-end
 * preserves across our restarts, so that a new process completes what a
 * killed one had popped, none twice and none lost.
 *
 * The front-end treats the region as opaque; its layout is ours:
 *
 *   struct log_hdr                64 bytes
 *   struct log_entry entry[num]   24 bytes each, indexed by buffer id (head)
 *   struct log_desc  save[num]    16 bytes each (packed: descriptors of the
 *                                 lists in flight, linked per buffer)
 *
 * While running we only ever write the region, never read it back: the
 * free list of save slots and the ids of the batch being published are
 * private. At init an existing log is read once, each field into a private
 * copy, validated (the front-end could have written anything into it), and
 * only then drives a resubmission.
 *
 * Crash consistency (the process can die between any two stores; stores
 * reach the shared mapping in program order, which the release stores
 * below enforce against compiler reordering):
 *   pop:      fill entry (and save slots), then entry.inflight = 1 (commit),
 *             then hdr.avail, then hdr.avail_counter.
 *   publish:  hdr.batch_* names the buffers about to be published and the
 *             used index they publish; then the ring's used index/flags are
 *             stored (the driver sees them); then their entries are cleared
 *             and hdr.used = batch_used (commit).
 *   recovery: if the ring shows the batch published (split: used->idx ==
 *             batch_used; packed: the descriptor at hdr.used was stored
 *             used in this lap), finish it. The entries still in flight are
 *             the chains popped and not seen used by the driver; packed:
 *             their ring positions lose any used flags a dead process
 *             wrote there without publishing them.
 */
#include <errno.h>
#include <string.h>

#include "atomic.h"
#include "devq_impl.h"

#define LOG_MAGIC 0x314c464e494f4976ull /* "vIOINFL1" */
#define LOG_NONE  0xffffu

struct log_hdr {
	uint64_t magic;        /* LOG_MAGIC once initialised */
	uint16_t desc_num;     /* Queue Size */
	uint8_t packed;        /* layout */
	uint8_t pad0;
	uint16_t used;         /* committed: split used idx; packed pos | wrap << 15 */
	uint16_t batch_used;   /* the value the batch being published makes it */
	uint16_t batch_count;  /* buffers in that batch (0: none) */
	uint16_t batch_head;   /* first of them; entry.next links the rest */
	uint16_t avail;        /* packed: next avail pos | wrap << 15 after pop avail_counter */
	uint16_t pad1;
	uint64_t avail_counter;
	uint8_t pad2[32];
};

struct log_entry {
	uint64_t counter;   /* pop order, from 1 */
	uint8_t inflight;   /* 1: popped, not yet seen used by the driver */
	uint8_t pad;
	uint16_t next;      /* batch list */
	uint16_t ndesc;     /* descriptors of the list (packed) */
	uint16_t first;     /* first save slot (packed) */
	uint16_t avail_end; /* packed: next avail pos | wrap << 15 after this pop */
	uint8_t pad2[6];
};

struct log_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next; /* next save slot of the same list */
};

_Static_assert(sizeof(struct log_hdr) == 64, "log header is 64 bytes");
_Static_assert(sizeof(struct log_entry) == 24, "log entry is 24 bytes");
_Static_assert(sizeof(struct log_desc) == 16, "log descriptor is 16 bytes");

size_t vio_devq_inflight_size(uint32_t num)
{
	if (num == 0 || num > VIRTQ_MAX_SIZE)
		return 0;
	return (sizeof(struct log_hdr) + (size_t)num * (sizeof(struct log_entry) +
	       sizeof(struct log_desc)) + 63) & ~(size_t)63;
}

static struct log_entry *entries(const struct vio_devq *q)
{
	return (struct log_entry *)(void *)((char *)q->log + sizeof(struct log_hdr));
}

static struct log_desc *saves(const struct vio_devq *q)
{
	return (struct log_desc *)(void *)(entries(q) + q->num);
}

/* Ordered stores into the log: each is seen after every earlier one. */
#define LOG_STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELEASE)

static uint16_t pack_pos(uint16_t pos, bool wrap)
{
	return (uint16_t)(pos | (wrap ? 0x8000 : 0));
}

/* ---- runtime: write only ------------------------------------------------ */

void inflight_save_reset(struct vio_devq *q)
{
	q->log_list_first = LOG_NONE;
	q->log_list_last = LOG_NONE;
	q->log_list_n = 0;
}

int inflight_save_desc(struct vio_devq *q, uint64_t addr, uint32_t len, uint16_t flags)
{
	uint16_t slot = q->log_free;
	struct log_desc *s;

	if (slot == LOG_NONE)
		return devq_fail(q, "more descriptors in flight than the queue size");
	q->log_free = q->log_links[slot];
	q->log_links[slot] = LOG_NONE;
	s = &saves(q)[slot];
	s->addr = addr;
	s->len = len;
	s->flags = flags;
	s->next = LOG_NONE;
	if (q->log_list_n) {
		saves(q)[q->log_list_last].next = slot;
		q->log_links[q->log_list_last] = slot; /* our own copy of the link */
	} else {
		q->log_list_first = slot;
	}
	q->log_list_last = slot;
	q->log_list_n++;
	return 0;
}

void inflight_pop(struct vio_devq *q, uint16_t id)
{
	struct log_entry *e = &entries(q)[id];
	uint16_t avail = pack_pos(q->next_avail, q->avail_wrap);

	e->counter = ++q->log_counter;
	e->next = LOG_NONE;
	if (q->packed) {
		e->ndesc = q->log_list_n;
		e->first = q->log_list_first;
		e->avail_end = avail;
		q->log_first[id] = q->log_list_first;
		q->log_ndesc[id] = q->log_list_n;
		inflight_save_reset(q);
	}
	LOG_STORE(e->inflight, 1); /* commit */
	if (q->packed) {
		/* avail first: until avail_counter follows, recovery takes the
		 * position from this entry (its counter is the newer), which
		 * equals it; the other order would pair the new counter with
		 * the previous pop's position. */
		LOG_STORE(q->log->avail, avail);
		LOG_STORE(q->log->avail_counter, q->log_counter);
	}
}

/* Returns the save slots of buffer @id to the free list. */
static void free_slots(struct vio_devq *q, uint16_t id)
{
	uint16_t slot = q->log_first[id], n = q->log_ndesc[id];

	while (n-- && slot != LOG_NONE) {
		uint16_t next = q->log_links[slot];

		q->log_links[slot] = q->log_free;
		q->log_free = slot;
		slot = next;
	}
	q->log_first[id] = LOG_NONE;
}

static uint16_t used_now(const struct vio_devq *q)
{
	return q->packed ? pack_pos(q->next_used, q->used_wrap) : q->used_idx;
}

void inflight_publish_begin(struct vio_devq *q)
{
	struct log_entry *e = entries(q);

	if (!q->log_batch_n)
		return;
	for (uint32_t i = 0; i + 1 < q->log_batch_n; i++)
		e[q->log_batch[i]].next = q->log_batch[i + 1];
	e[q->log_batch[q->log_batch_n - 1]].next = LOG_NONE;
	LOG_STORE(q->log->batch_head, q->log_batch[0]);
	LOG_STORE(q->log->batch_used, used_now(q));
	LOG_STORE(q->log->batch_count, (uint16_t)q->log_batch_n);
}

void inflight_publish_end(struct vio_devq *q)
{
	struct log_entry *e = entries(q);

	if (!q->log_batch_n)
		return;
	for (uint32_t i = 0; i < q->log_batch_n; i++) {
		LOG_STORE(e[q->log_batch[i]].inflight, 0);
		q->slots[q->log_batch[i]].unpublished = 0;
		if (q->packed)
			free_slots(q, q->log_batch[i]);
	}
	LOG_STORE(q->log->used, used_now(q));
	LOG_STORE(q->log->batch_count, 0);
	q->log_batch_n = 0;
}

/* ---- init and recovery: read once, validate ------------------------------ */

static void build_free_list(struct vio_devq *q, const uint8_t *taken)
{
	q->log_free = LOG_NONE;
	for (uint32_t i = q->num; i-- > 0;) {
		if (taken[i])
			continue;
		q->log_links[i] = q->log_free;
		q->log_free = (uint16_t)i;
	}
}

static void log_fresh(struct vio_devq *q)
{
	memset(q->log, 0, vio_devq_inflight_size(q->num));
	q->log->desc_num = (uint16_t)q->num;
	q->log->packed = q->packed;
	q->log->used = used_now(q);
	q->log->avail = pack_pos(q->next_avail, q->avail_wrap);
	LOG_STORE(q->log->magic, LOG_MAGIC);
}

/* Position @p (pos | wrap << 15) on a circle of 2 * num; -1 if out of range. */
static int64_t circle(const struct vio_devq *q, uint16_t p)
{
	if ((p & 0x7fff) >= q->num)
		return -1;
	return (p & 0x7fff) + ((p & 0x8000) ? 0 : q->num);
}

/*
 * Is the batch recorded in the header visible to the driver? Packed: the
 * first used descriptor of the batch sits at the committed position @used
 * (checked in range), made available in the lap of its wrap counter W
 * (AVAIL = W, USED = !W) and stored last by the flush (AVAIL = USED = W).
 * Once the driver has seen it, it may reap it and, the ring wrapping while
 * we are down, make that position available again in the next lap
 * (AVAIL = !W, USED = W). USED == W tells both published states from the
 * one where the store never happened.
 */
static bool batch_published(struct vio_devq *q, uint16_t used, uint16_t batch_used)
{
	if (!q->packed)
		return vio_le16_read(&q->used->idx) == batch_used;
	uint16_t flags = vio_le16_read(&q->pdesc[used & 0x7fff].flags);

	return !!(flags & VIRTQ_DESC_F_USED) == !!(used & 0x8000);
}

/* Walks the batch list from the header and clears its entries (in @inflight). */
static int finish_batch(struct vio_devq *q, uint8_t *inflight, uint16_t head, uint16_t count)
{
	const struct log_entry *e = entries(q);
	uint16_t id = head;

	for (uint16_t i = 0; i < count; i++) {
		if (id >= q->num)
			return devq_fail(q, "inflight log: batch list out of range");
		inflight[id] = 0;
		id = __atomic_load_n(&e[id].next, __ATOMIC_RELAXED);
	}
	return 0;
}

/* Packed: checks the saved list of buffer @id and marks its slots taken. */
static int check_saved_list(struct vio_devq *q, uint16_t id, uint16_t first, uint16_t ndesc,
			    uint8_t *taken)
{
	const struct log_desc *s = saves(q);
	uint16_t slot = first;

	if (ndesc == 0 || ndesc > q->num)
		return devq_fail(q, "inflight log: bad descriptor count");
	q->log_first[id] = first;
	for (uint16_t i = 0; i < ndesc; i++) {
		uint16_t next;

		if (slot >= q->num || taken[slot])
			return devq_fail(q, "inflight log: saved descriptors out of range or shared");
		taken[slot] = 1;
		next = __atomic_load_n(&s[slot].next, __ATOMIC_RELAXED);
		q->log_links[slot] = i + 1 < ndesc ? next : LOG_NONE;
		slot = next;
	}
	return 0;
}

/* Sorts the resubmission order (ids in q->order) by counter: heap sort, no allocation. */
static void sift(const uint64_t *key, uint16_t *a, uint32_t start, uint32_t end)
{
	uint32_t root = start;

	while (2 * root + 1 < end) {
		uint32_t child = 2 * root + 1;

		if (child + 1 < end && key[a[child + 1]] > key[a[child]])
			child++;
		if (key[a[root]] >= key[a[child]])
			return;
		uint16_t t = a[root];
		a[root] = a[child];
		a[child] = t;
		root = child;
	}
}

static void sort_by_counter(const uint64_t *key, uint16_t *a, uint32_t n)
{
	for (uint32_t i = n / 2; i-- > 0;)
		sift(key, a, i, n);
	for (uint32_t end = n; end-- > 1;) {
		uint16_t t = a[0];

		a[0] = a[end];
		a[end] = t;
		sift(key, a, 0, end);
	}
}

/* Reads the in-flight entries once into private arrays; -EIO if malformed. */
static int read_entries(struct vio_devq *q, uint8_t *inflight)
{
	const struct log_entry *e = entries(q);

	for (uint32_t id = 0; id < q->num; id++) {
		inflight[id] = __atomic_load_n(&e[id].inflight, __ATOMIC_RELAXED);
		if (inflight[id] > 1)
			return devq_fail(q, "inflight log: bad in-flight flag");
		q->log_key[id] = __atomic_load_n(&e[id].counter, __ATOMIC_RELAXED);
		q->log_ndesc[id] = __atomic_load_n(&e[id].ndesc, __ATOMIC_RELAXED);
		q->log_first[id] = __atomic_load_n(&e[id].first, __ATOMIC_RELAXED);
		q->log_avail_end[id] = __atomic_load_n(&e[id].avail_end, __ATOMIC_RELAXED);
	}
	return 0;
}

/* Collects the ids in flight, sorted by pop order, into q->log_resub. */
static int collect(struct vio_devq *q, const uint8_t *inflight, uint8_t *taken)
{
	uint32_t n = 0, descs = 0;

	memset(taken, 0, q->num);
	for (uint32_t id = 0; id < q->num; id++) {
		if (!inflight[id])
			continue;
		if (q->log_key[id] == 0)
			return devq_fail(q, "inflight log: entry without a pop counter");
		if (q->packed) {
			if (check_saved_list(q, (uint16_t)id, q->log_first[id], q->log_ndesc[id], taken))
				return -EIO;
			descs += q->log_ndesc[id];
		}
		q->log_resub[n++] = (uint16_t)id;
	}
	sort_by_counter(q->log_key, q->log_resub, n);
	for (uint32_t i = 1; i < n; i++)
		if (q->log_key[q->log_resub[i]] == q->log_key[q->log_resub[i - 1]])
			return devq_fail(q, "inflight log: two entries with the same counter");
	q->log_resub_n = n;
	q->log_counter = n ? q->log_key[q->log_resub[n - 1]] : 0;
	if (q->packed)
		build_free_list(q, taken);
	q->log_desc_total = descs;
	return 0;
}

/* Split: where to pop next; the used index was checked against the ring. */
static int resume_split(struct vio_devq *q, uint16_t used)
{
	uint16_t avail_idx = vio_le16_read(&q->avail->idx);

	if (q->used_idx != used)
		return devq_fail(q, "inflight log does not match the used ring");
	/* Every chain popped was either used (counted by the used index) or
	 * is in flight: the next to pop follows them. */
	q->last_avail_idx = (uint16_t)(used + q->log_resub_n);
	if ((uint16_t)(avail_idx - q->last_avail_idx) > q->num)
		return devq_fail(q, "inflight log is ahead of the available ring");
	return 0;
}

/* Packed: positions from the log; the descriptors in flight fill the gap. */
static int resume_packed(struct vio_devq *q, uint16_t used, uint16_t avail, uint64_t avail_counter)
{
	int64_t u, a;

	if (q->log_resub_n && q->log_key[q->log_resub[q->log_resub_n - 1]] > avail_counter)
		avail = q->log_avail_end[q->log_resub[q->log_resub_n - 1]];
	u = circle(q, used);
	a = circle(q, avail);
	if (u < 0 || a < 0 || (a - u + 2 * (int64_t)q->num) % (2 * (int64_t)q->num) != q->log_desc_total)
		return devq_fail(q, "inflight log positions do not match the descriptors in flight");
	q->next_used = used & 0x7fff;
	q->used_wrap = used & 0x8000;
	q->signalled_pos = q->next_used;
	q->signalled_wrap = q->used_wrap;
	q->next_avail = avail & 0x7fff;
	q->avail_wrap = avail & 0x8000;
	return 0;
}

/*
 * Packed: the descriptors in flight sit at [@used, @used + @n) of the ring,
 * device-owned. A process that died after writing used descriptors there
 * (push, or the IN_ORDER drain inside a flush) and before publishing them
 * (a batch's first flags are stored last) left them looking used in this
 * lap: once our next flush lets the driver reach them, it would take them
 * for completions we never made. Each gets back the flags of a descriptor
 * made available in its lap (AVAIL = W, USED = !W), which the driver does
 * not consume; its other fields are ours to overwrite when we use it.
 */
static void unpublish_in_flight(struct vio_devq *q, uint16_t used, uint32_t n)
{
	uint16_t pos = used & 0x7fff;
	bool wrap = used & 0x8000;

	for (uint32_t i = 0; i < n; i++) {
		vio_le16_write(&q->pdesc[pos].flags, wrap ? VIRTQ_DESC_F_AVAIL : VIRTQ_DESC_F_USED);
		if (++pos == q->num) {
			pos = 0;
			wrap = !wrap;
		}
	}
}

/*
 * Writes back what recovery decided: the finished batch, the committed used
 * value and (packed) where popping resumes. The position may have come from
 * the newest entry (the process died before storing hdr.avail); once that
 * entry is used and forgotten, the header is all that is left to say it.
 * avail before avail_counter, as in inflight_pop(): a crash in between
 * leaves either the header or the newest entry naming the same position.
 */
static void commit_recovery(struct vio_devq *q, const uint8_t *inflight, uint16_t used)
{
	struct log_entry *e = entries(q);

	for (uint32_t id = 0; id < q->num; id++)
		if (!inflight[id])
			LOG_STORE(e[id].inflight, 0);
	LOG_STORE(q->log->used, used);
	LOG_STORE(q->log->batch_count, 0);
	if (q->packed) {
		LOG_STORE(q->log->avail, pack_pos(q->next_avail, q->avail_wrap));
		LOG_STORE(q->log->avail_counter, q->log_counter);
	}
}

static int recover(struct vio_devq *q)
{
	struct log_hdr h;
	uint8_t *inflight = q->log_taken + q->num; /* scratch: num bytes */
	uint16_t used;

	memcpy(&h, q->log, sizeof(h)); /* one snapshot of the header */
	if (h.desc_num != q->num || h.packed != q->packed)
		return devq_fail(q, "inflight log written for another queue size or layout");
	if (read_entries(q, inflight))
		return -EIO;
	used = h.used;
	/* Packed: batch_published() reads the ring at this position. */
	if (q->packed && circle(q, used) < 0)
		return devq_fail(q, "inflight log: ring position out of range");
	if (h.batch_count) {
		if (h.batch_count > q->num)
			return devq_fail(q, "inflight log: batch larger than the queue");
		/* used == batch_used: the process died after committing the
		 * batch (its entries were cleared first); nothing to finish. */
		if (h.used != h.batch_used && batch_published(q, h.used, h.batch_used)) {
			/* Split: one used index per buffer, IN_ORDER merges too. */
			if (!q->packed && (uint16_t)(h.batch_used - h.used) != h.batch_count)
				return devq_fail(q, "inflight log: batch does not match the used index");
			if (finish_batch(q, inflight, h.batch_head, h.batch_count))
				return -EIO;
			used = h.batch_used;
		}
	}
	if (collect(q, inflight, q->log_taken))
		return -EIO;
	if (q->packed ? resume_packed(q, used, h.avail, h.avail_counter) : resume_split(q, used))
		return -EIO;
	if (q->packed)
		unpublish_in_flight(q, used, q->log_desc_total);
	commit_recovery(q, inflight, used);
	return 0;
}

void inflight_init(struct vio_devq *q, void *region, size_t size)
{
	uint64_t magic;

	for (uint32_t i = 0; i < q->num; i++) {
		q->log_first[i] = LOG_NONE;
		q->log_links[i] = LOG_NONE;
	}
	q->log_free = LOG_NONE;
	q->log_counter = 0;
	q->log_batch_n = 0;
	q->log_resub_n = q->log_resub_i = 0;
	inflight_save_reset(q);
	if (!region)
		return;
	q->log = region;
	if (size < vio_devq_inflight_size(q->num) || ((uintptr_t)region & 7)) {
		q->log = NULL;
		devq_fail(q, "inflight log smaller than the queue needs");
		return;
	}
	magic = __atomic_load_n(&q->log->magic, __ATOMIC_ACQUIRE);
	if (magic != LOG_MAGIC) {
		memset(q->log_taken, 0, q->num);
		build_free_list(q, q->log_taken);
		log_fresh(q);
		return;
	}
	if (recover(q))
		q->log_resub_n = 0;
}

int inflight_saved_desc(struct vio_devq *q, uint16_t id, uint16_t i, uint16_t *slot,
			uint64_t *addr, uint32_t *len, uint16_t *flags)
{
	const struct log_desc *s;

	*slot = i == 0 ? q->log_first[id] : q->log_links[*slot];
	if (*slot >= q->num)
		return devq_fail(q, "inflight log: saved descriptor out of range");
	s = &saves(q)[*slot];
	/* Each field once; the chain walker validates what they describe. */
	*addr = __atomic_load_n(&s->addr, __ATOMIC_RELAXED);
	*len = __atomic_load_n(&s->len, __ATOMIC_RELAXED);
	*flags = __atomic_load_n(&s->flags, __ATOMIC_RELAXED);
	return 0;
}
