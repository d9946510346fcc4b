/* SPDX-License-Identifier: BSD-3-Clause */
/* Loopback harness: the driver and device loops, the memory layout, and the checks of every byte. */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "lb.h"
#include "vio/virtio.h"
#include "vio/virtio_ring.h"

/* ------------------------------------------------------------------ */
/* Records, patterns, randomness                                       */
/* ------------------------------------------------------------------ */

enum { LB_FREE = 0, LB_POSTED = 1 };

struct lb_seg {
	uint64_t gpa;
	uint32_t len;
	uint32_t writable;
};

/* The side channel of one buffer (lives in region 0; see lb.h). */
struct lb_rec {
	uint64_t seq;      /* driver: this buffer's number (seeds its bytes) */
	uint64_t dev_seq;  /* device: the seq of the last buffer it checked here */
	uint32_t state;    /* driver: LB_FREE / LB_POSTED */
	uint32_t nout, nin;
	uint32_t used_len; /* what the device writes and reports */
	uint64_t out_bytes, in_bytes;
	struct lb_seg seg[];
};

enum { SALT_OUT = 1, SALT_IN = 2, SALT_POISON = 3, SALT_GAP = 4 };

/* Byte @k of the stream @salt of buffer @seq. */
static inline uint8_t pat(uint64_t seq, uint64_t k, uint64_t salt)
{
	uint64_t x = (seq * 4 + salt) * 0x9e3779b97f4a7c15ull + k * 0xd6e8feb86659fd93ull;

	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ull;
	return (uint8_t)(x >> 56);
}

/* splitmix64 */
static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t rnd_below(uint64_t *s, uint32_t n)
{
	return n ? (uint32_t)(rnd(s) % n) : 0;
}

static size_t align_up(size_t x, size_t a)
{
	return (x + a - 1) / a * a;
}

static const char *feat_name(uint64_t f)
{
	static const char *const names[16] = {
		"split/plain", "split/indirect", "split/event_idx", "split/indirect+event_idx",
		"split/in_order", "split/indirect+in_order", "split/event_idx+in_order",
		"split/indirect+event_idx+in_order",
		"packed/plain", "packed/indirect", "packed/event_idx", "packed/indirect+event_idx",
		"packed/in_order", "packed/indirect+in_order", "packed/event_idx+in_order",
		"packed/indirect+event_idx+in_order",
	};
	unsigned i = (f & VIO_BIT(VIRTIO_F_INDIRECT_DESC) ? 1 : 0) |
		     (f & VIO_BIT(VIRTIO_F_EVENT_IDX) ? 2 : 0) |
		     (f & VIO_BIT(VIRTIO_F_IN_ORDER) ? 4 : 0) |
		     (f & VIO_BIT(VIRTIO_F_RING_PACKED) ? 8 : 0);

	return names[i];
}

/* 0 on timeout, 1 when @fd became readable (its count is consumed), -errno. */
static int wait_fd(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	eventfd_t v;
	int r;

	do
		r = poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (r == 0)
		return 0;
	if (eventfd_read(fd, &v) < 0 && errno != EAGAIN)
		return -errno;
	return 1;
}

/* ------------------------------------------------------------------ */
/* Layout and views                                                    */
/* ------------------------------------------------------------------ */

void lb_layout_init(struct lb_layout *l, uint32_t num)
{
	long pg = sysconf(_SC_PAGESIZE);
	size_t off, data_bytes, ndata, slot;

	memset(l, 0, sizeof(*l));
	l->num = num;
	l->page = pg > 0 ? (size_t)pg : 4096;
	off = align_up(sizeof(struct lb_ctrl), 64);
	l->desc = align_up(off, 64);
	off = l->desc + virtq_desc_size(num);
	l->avail = align_up(off, 64);
	off = l->avail + virtq_avail_size(num);
	l->used = align_up(off, 64);
	off = l->used + virtq_used_size(num);
	l->ind = align_up(off, 64);
	off = l->ind + (size_t)num * LB_IND_MAX * 16;
	l->maxseg = num < LB_MAX_SEG ? num : LB_MAX_SEG;
	l->rec_stride = align_up(sizeof(struct lb_rec) + l->maxseg * sizeof(struct lb_seg), 64);
	l->recs = align_up(off, 64);
	off = l->recs + (size_t)num * l->rec_stride;
	l->reg0 = align_up(off, l->page);

	/* 4 MiB of data slots in all, 256 B to 8 KiB each. */
	slot = (4u << 20) / num;
	l->slot = slot < 256 ? 256 : slot > 8192 ? 8192 : slot;
	l->data = l->reg0;
	data_bytes = (size_t)num * l->slot;
	l->reg_size = align_up((data_bytes + LB_DATA_REGIONS - 1) / LB_DATA_REGIONS, l->page);
	ndata = (data_bytes + l->reg_size - 1) / l->reg_size;
	l->nregions = 1 + (uint32_t)ndata;
	l->total = l->reg0 + ndata * l->reg_size;
}

size_t lb_region_off(const struct lb_layout *l, uint32_t i)
{
	return i == 0 ? 0 : l->reg0 + (size_t)(i - 1) * l->reg_size;
}

size_t lb_region_size(const struct lb_layout *l, uint32_t i)
{
	return i == 0 ? l->reg0 : l->reg_size;
}

void lb_view_contiguous(struct lb_view *v, const struct lb_layout *l, uint8_t *base)
{
	uint32_t i;

	memset(v, 0, sizeof(*v));
	v->l = l;
	for (i = 0; i < l->nregions; i++)
		v->hva[i] = base + lb_region_off(l, i);
}

void lb_view_mem(const struct lb_view *v, struct vio_mem *m)
{
	uint32_t i;

	vio_mem_init(m);
	for (i = 0; i < v->l->nregions; i++) {
		struct vio_mem_region r = {
			.gpa = LB_GPA_BASE + lb_region_off(v->l, i),
			.size = lb_region_size(v->l, i),
			.uva = 0x7f0000000000ull + lb_region_off(v->l, i),
			.hva = v->hva[i],
			.fd = -1,
		};

		if (vio_mem_add(m, &r)) {
			fprintf(stderr, "loopback: vio_mem_add of region %u failed\n", i);
			abort();
		}
	}
}

int lb_memfd(const struct lb_layout *l)
{
	int fd = memfd_create("vio-loopback", MFD_CLOEXEC);

	if (fd < 0 || ftruncate(fd, (off_t)l->total)) {
		perror("loopback: memfd");
		abort();
	}
	return fd;
}

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *s = getenv(name);

	return s && *s ? strtoull(s, NULL, 0) : def;
}

uint64_t lb_env_seed(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return env_u64("VIO_LB_SEED", (uint64_t)ts.tv_sec * 1000000007ull ^ (uint64_t)ts.tv_nsec ^
					  ((uint64_t)getpid() << 32));
}

uint64_t lb_run_seed(uint64_t env_seed, uint32_t num, uint64_t features)
{
	uint64_t s = env_seed ^ ((uint64_t)num << 40) ^ features;

	return rnd(&s);
}

void lb_params_init(struct lb_params *p, uint64_t env_seed, uint32_t num, uint64_t features,
		    uint64_t buffers)
{
	memset(p, 0, sizeof(*p));
	p->num = num;
	p->features = features;
	p->env_seed = env_seed;
	p->seed = lb_run_seed(env_seed, num, features);
	p->buffers = buffers;
	p->verify = true;
	p->timeout_ms = lb_env_timeout_ms();
}

const char *lb_feat_name(uint64_t features)
{
	return feat_name(features);
}

/* ThreadSanitizer runs these loops some 30 times slower: do a tenth of the work. */
#if defined(__SANITIZE_THREAD__)
#define LB_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define LB_TSAN 1
#endif
#endif

uint64_t lb_env_buffers(uint64_t def)
{
	def *= env_u64("VIO_LB_SCALE", 1);
#ifdef LB_TSAN
	def = def / 10 ? def / 10 : 1;
#endif
	return env_u64("VIO_LB_BUFFERS", def);
}

int lb_env_timeout_ms(void)
{
	return (int)env_u64("VIO_LB_TIMEOUT_MS", 20000);
}

/* ------------------------------------------------------------------ */
/* The driver                                                          */
/* ------------------------------------------------------------------ */

struct lb_driver {
	struct lb_params p;
	const struct lb_layout *l;
	uint8_t *base;
	int kick_fd, call_fd;
	struct lb_ctrl *ctrl;
	struct vio_drvq *q;
	uint64_t rng;
	uint32_t *free_recs, nfree_recs;
	struct vio_sg *sg;
	uint64_t seq, issued, completed;
	uint64_t kicks, cb_enables, waits;
	uint64_t early_kicks; /* made before the device first wrote its event suppression */
	char err[1024];
};

static const char *drv_fail(struct lb_driver *d, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(d->err, sizeof(d->err),
		     "VIO_LB_SEED=%#llx (this run's seed %#llx) num=%u %s, after %llu of %llu buffers: ",
		     (unsigned long long)d->p.env_seed, (unsigned long long)d->p.seed, d->p.num,
		     feat_name(d->p.features),
		     (unsigned long long)d->completed, (unsigned long long)d->p.buffers);
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(d->err))
		vsnprintf(d->err + n, sizeof(d->err) - (size_t)n, fmt, ap);
	va_end(ap);
	return d->err;
}

static struct lb_rec *rec_at(const struct lb_layout *l, uint8_t *region0, uint32_t r)
{
	return (struct lb_rec *)(void *)(region0 + l->recs + (size_t)r * l->rec_stride);
}

struct lb_driver *lb_driver_new(const struct lb_params *p, const struct lb_layout *l,
				uint8_t *base, int kick_fd, int call_fd)
{
	struct lb_driver *d = calloc(1, sizeof(*d));
	struct vio_drvq_config cfg = {
		.num = p->num,
		.features = p->features | VIO_BIT(VIRTIO_F_VERSION_1),
		.desc = base + l->desc,
		.driver = base + l->avail,
		.device = base + l->used,
		.indirect = base + l->ind,
		.indirect_addr = LB_GPA_BASE + l->ind,
		.indirect_max = LB_IND_MAX,
	};
	uint32_t i;
	int r;

	if (!d)
		abort();
	d->p = *p;
	d->l = l;
	d->base = base;
	d->kick_fd = kick_fd;
	d->call_fd = call_fd;
	d->ctrl = (struct lb_ctrl *)(void *)base;
	d->rng = p->seed ^ 0xd1b54a32d192ed03ull;
	memset(base, 0, l->reg0); /* ctrl, rings, tables, records */
	d->q = aligned_alloc(8, align_up(vio_drvq_size(p->num), 8));
	d->free_recs = calloc(p->num, sizeof(*d->free_recs));
	d->sg = calloc(l->maxseg, sizeof(*d->sg));
	if (!d->q || !d->free_recs || !d->sg)
		abort();
	r = vio_drvq_init(d->q, &cfg);
	if (r) {
		fprintf(stderr, "loopback: vio_drvq_init: %d\n", r);
		abort();
	}
	/* Start with used buffer notifications off: the loop enables them
	 * only to sleep. */
	vio_drvq_cb_disable(d->q);
	for (i = 0; i < p->num; i++)
		d->free_recs[d->nfree_recs++] = p->num - 1 - i;
	return d;
}

void lb_driver_free(struct lb_driver *d)
{
	if (!d)
		return;
	free(d->q);
	free(d->free_recs);
	free(d->sg);
	free(d);
}

uint64_t lb_driver_kicks(const struct lb_driver *d) { return d->kicks; }
uint64_t lb_driver_cb_enables(const struct lb_driver *d) { return d->cb_enables; }
uint64_t lb_driver_waits(const struct lb_driver *d) { return d->waits; }

void lb_driver_stop(struct lb_driver *d)
{
	__atomic_store_n(&d->ctrl->stop, 1, __ATOMIC_RELEASE);
	eventfd_write(d->kick_fd, 1);
}

/* Lays out a random buffer in slot @r, fills its bytes, and its record; fills d->sg. */
static struct lb_rec *build(struct lb_driver *d, uint32_t r, uint32_t *nout, uint32_t *nin)
{
	const struct lb_layout *l = d->l;
	struct lb_rec *rec = rec_at(l, d->base, r);
	size_t slot_off = l->data + (size_t)r * l->slot;
	uint8_t *slot = d->base + slot_off;
	uint64_t seq = ++d->seq, kout = 0, kin = 0;
	uint32_t n, i, piece, u;

	rec->seq = seq;
	rec->dev_seq = 0;
	if (!d->p.verify) {
		rec->seg[0] = (struct lb_seg){ LB_GPA_BASE + slot_off, 64, 0 };
		rec->nout = 1;
		rec->nin = 0;
		rec->out_bytes = 64;
		rec->in_bytes = rec->used_len = 0;
		d->sg[0] = (struct vio_sg){ LB_GPA_BASE + slot_off, 64 };
		*nout = 1;
		*nin = 0;
		rec->state = LB_POSTED;
		return rec;
	}
	/* Mostly short chains, some long ones, a few as long as allowed. */
	u = rnd_below(&d->rng, 10);
	n = l->maxseg;
	if (u < 6 && n > 4)
		n = 4;
	else if (u < 9 && n > 16)
		n = 16;
	n = 1 + rnd_below(&d->rng, n);
	*nout = rnd_below(&d->rng, n + 1);
	*nin = n - *nout;
	memset(slot, pat(seq, 0, SALT_GAP), l->slot);
	/* Segment i lies in [i * piece, (i + 1) * piece - 1): a gap follows each. */
	piece = (uint32_t)(l->slot / n);
	rec->out_bytes = rec->in_bytes = 0;
	for (i = 0; i < n; i++) {
		uint32_t len, off;
		uint8_t *p;
		uint64_t b;

		if (rnd_below(&d->rng, 4) == 0) {
			len = piece - 1;
			off = 0;
		} else {
			len = 1 + rnd_below(&d->rng, piece - 1);
			off = rnd_below(&d->rng, piece - len);
		}
		rec->seg[i].gpa = LB_GPA_BASE + slot_off + (size_t)i * piece + off;
		rec->seg[i].len = len;
		rec->seg[i].writable = i >= *nout;
		d->sg[i] = (struct vio_sg){ rec->seg[i].gpa, len };
		p = slot + (size_t)i * piece + off;
		for (b = 0; b < len; b++)
			p[b] = i < *nout ? pat(seq, kout++, SALT_OUT) : pat(seq, kin++, SALT_POISON);
		if (i < *nout)
			rec->out_bytes += len;
		else
			rec->in_bytes += len;
	}
	rec->nout = *nout;
	rec->nin = *nin;
	u = rnd_below(&d->rng, 4);
	rec->used_len = u == 0 ? 0 : u == 1 ? (uint32_t)rec->in_bytes
					    : rnd_below(&d->rng, (uint32_t)rec->in_bytes + 1);
	rec->state = LB_POSTED;
	return rec;
}

/* Checks a completed buffer: its record, length, and every byte of its slot. */
static const char *check_done(struct lb_driver *d, void *token, uint32_t len)
{
	const struct lb_layout *l = d->l;
	uint8_t *recs = d->base + l->recs;
	size_t at = (size_t)((uint8_t *)token - recs);
	struct lb_rec *rec = token;
	uint32_t r, i;
	size_t slot_off, pos = 0;
	uint8_t *slot, gap;
	uint64_t kout = 0, kin = 0;

	if ((uint8_t *)token < recs || at % l->rec_stride || at / l->rec_stride >= l->num)
		return drv_fail(d, "get_used returned a token %p that is not ours", token);
	r = (uint32_t)(at / l->rec_stride);
	if (rec->state != LB_POSTED)
		return drv_fail(d, "token of slot %u returned while not in flight", r);
	if (rec->dev_seq != rec->seq)
		return drv_fail(d, "slot %u: buffer %llu completed, the device saw %llu", r,
				(unsigned long long)rec->seq, (unsigned long long)rec->dev_seq);
	if (len != rec->used_len)
		return drv_fail(d, "slot %u: used len %u, the device wrote %u", r, len, rec->used_len);
	if (d->p.verify) {
		slot_off = l->data + (size_t)r * l->slot;
		slot = d->base + slot_off;
		gap = pat(rec->seq, 0, SALT_GAP);
		for (i = 0; i < rec->nout + rec->nin; i++) {
			size_t s = (size_t)(rec->seg[i].gpa - LB_GPA_BASE - slot_off), e = s + rec->seg[i].len;

			for (; pos < s; pos++)
				if (slot[pos] != gap)
					return drv_fail(d, "slot %u: gap byte %zu changed", r, pos);
			for (; pos < e; pos++) {
				uint8_t want;

				if (!rec->seg[i].writable)
					want = pat(rec->seq, kout++, SALT_OUT);
				else if (kin < len)
					want = pat(rec->seq, kin++, SALT_IN);
				else
					want = pat(rec->seq, kin++, SALT_POISON);
				if (slot[pos] != want)
					return drv_fail(d, "slot %u: segment %u (%s) byte %zu is %#x, not %#x",
							r, i, rec->seg[i].writable ? "writable" : "readable",
							pos - s, slot[pos], want);
			}
		}
		for (; pos < l->slot; pos++)
			if (slot[pos] != gap)
				return drv_fail(d, "slot %u: gap byte %zu changed", r, pos);
	}
	rec->state = LB_FREE;
	d->free_recs[d->nfree_recs++] = r;
	return NULL;
}

/* Takes a burst of a random size of used buffers: as vio_drvq_get_used_burst(). */
static int drv_get_used(struct lb_driver *d, void **toks, uint32_t *lens)
{
	uint32_t n = 1 + rnd_below(&d->rng, LB_BURST);

	if (n == 1 && rnd_below(&d->rng, 2))
		return vio_drvq_get_used(d->q, &toks[0], &lens[0]);
	return vio_drvq_get_used_burst(d->q, toks, lens, n);
}

static const char *dev_failed(struct lb_driver *d)
{
	if (__atomic_load_n(&d->ctrl->dev_failed, __ATOMIC_ACQUIRE))
		return drv_fail(d, "device: %.512s", d->ctrl->dev_err);
	return NULL;
}

const char *lb_driver_run(struct lb_driver *d)
{
	const struct lb_params *p = &d->p;
	uint32_t spins = 0;
	const char *e;

	while (d->completed < p->buffers) {
		uint32_t want, added = 0, got = 0, lens[LB_BURST];
		void *toks[LB_BURST];
		int r;

		if ((e = dev_failed(d)))
			return e;
		/* Make a random number of buffers available, up to twice
		 * what the ring holds (so it fills up). */
		want = 1 + rnd_below(&d->rng, 2 * p->num);
		while (added < want && d->issued < p->buffers && d->nfree_recs) {
			uint32_t rix = d->free_recs[--d->nfree_recs], nout, nin;
			struct lb_rec *rec = build(d, rix, &nout, &nin);

			r = vio_drvq_add(d->q, d->sg, nout, nin, rec);
			if (r == -ENOSPC) {
				rec->state = LB_FREE;
				d->free_recs[d->nfree_recs++] = rix;
				break;
			}
			if (r)
				return drv_fail(d, "vio_drvq_add: %d (%s)", r,
						vio_drvq_error(d->q) ? vio_drvq_error(d->q) : "");
			added++;
			d->issued++;
		}
		if (added && vio_drvq_kick_prepare(d->q)) {
			d->kicks++;
			/* Until the device first writes its structure it reads
			 * zero, RING_EVENT_FLAGS_ENABLE (§2.8.10, §2.8.13): every
			 * publish notifies, rightly. A device process that starts
			 * late sees several such kicks. */
			if (!__atomic_load_n(&d->ctrl->dev_started, __ATOMIC_ACQUIRE))
				d->early_kicks++;
			eventfd_write(d->kick_fd, 1);
		}
		/* Take used buffers in bursts of random sizes (1: either call). */
		while ((r = drv_get_used(d, toks, lens)) > 0) {
			for (int k = 0; k < r; k++) {
				if ((e = check_done(d, toks[k], lens[k])))
					return e;
				d->completed++;
				got++;
			}
		}
		if (r < 0)
			return drv_fail(d, "vio_drvq_get_used: %d: %s", r, vio_drvq_error(d->q));
		if (got || !vio_drvq_inflight(d->q))
			continue;
		/* Nothing came back: poll a little, then sleep. */
		if (spins < 64 && rnd_below(&d->rng, 8)) {
			spins++;
			sched_yield();
			continue;
		}
		spins = 0;
		d->cb_enables++;
		if (vio_drvq_cb_enable(d->q)) {
			vio_drvq_cb_disable(d->q);
			continue;
		}
		d->waits++;
		r = wait_fd(d->call_fd, p->timeout_ms);
		if (r < 0)
			return drv_fail(d, "poll of the call fd: %d", r);
		if (r == 0) {
			if ((e = dev_failed(d)))
				return e;
			return drv_fail(d, "no used buffer notification in %d ms with %u buffers in "
					"flight: lost notification", p->timeout_ms,
					vio_drvq_inflight(d->q));
		}
		vio_drvq_cb_disable(d->q);
	}
	if ((e = dev_failed(d)))
		return e;
	if (vio_drvq_inflight(d->q) || vio_drvq_num_free(d->q) != p->num || d->nfree_recs != p->num)
		return drv_fail(d, "at the end: %u in flight, %u free descriptors, %u free slots",
				vio_drvq_inflight(d->q), vio_drvq_num_free(d->q), d->nfree_recs);
	return NULL;
}

const char *lb_driver_check_counts(struct lb_driver *d)
{
	uint64_t calls = __atomic_load_n(&d->ctrl->calls, __ATOMIC_ACQUIRE);
	uint64_t enables = __atomic_load_n(&d->ctrl->enables, __ATOMIC_ACQUIRE);
	uint64_t chains = __atomic_load_n(&d->ctrl->chains, __ATOMIC_ACQUIRE);
	/* Split: a stale event index can be passed again after the 16-bit
	 * index went all the way round. Packed: both sides switch the other's
	 * notifications off (RING_EVENT_FLAGS_DISABLE) while they work, so
	 * each request allows one notification; the device structure reads
	 * ENABLE (zero) until the device first writes it. */
	uint64_t wraps = d->p.features & VIO_BIT(VIRTIO_F_RING_PACKED) ? 2
								       : d->p.buffers / 65536 + 1;
	const char *e;

	if ((e = dev_failed(d)))
		return e;
	if (chains != d->p.buffers)
		return drv_fail(d, "the device popped %llu chains for %llu buffers",
				(unsigned long long)chains, (unsigned long long)d->p.buffers);
	if (!(d->p.features & VIO_BIT(VIRTIO_F_EVENT_IDX)))
		return NULL;
	/*
	 * VIRTIO 1.4 §2.7.10 / §2.7.7 (split) and §2.8.10 (packed) with
	 * EVENT_IDX: a kick needs an avail_event / descriptor event the
	 * device wrote (at each kick_enable) and that the published range
	 * passed; a call needs a used_event / descriptor event the driver
	 * wrote (cb_enable; cb_disable puts it out of reach or disables).
	 */
	if (d->kicks - d->early_kicks > enables + wraps)
		return drv_fail(d, "%llu kicks (%llu before the device started) for %llu "
				"kick_enable calls of the device: excessive",
				(unsigned long long)d->kicks, (unsigned long long)d->early_kicks,
				(unsigned long long)enables);
	if (calls > d->cb_enables + wraps)
		return drv_fail(d, "%llu calls for %llu cb_enable calls of the driver: excessive",
				(unsigned long long)calls, (unsigned long long)d->cb_enables);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* The device                                                          */
/* ------------------------------------------------------------------ */

struct lb_held {
	uint16_t id;
	uint32_t len;
};

struct lb_device {
	const struct lb_params *p;
	const struct lb_view *v;
	const struct lb_layout *l;
	struct lb_ctrl *ctrl;
	int kick_fd, call_fd;
	uint64_t rng;
	struct vio_devq *q;
	struct vio_mem *mem;
	struct iovec *iov;       /* LB_BURST arrays of iov_cap, one per chain */
	uint32_t iov_cap;
	struct vio_chain chain[LB_BURST];
	struct lb_held *held;
	uint32_t nheld;
};

static const char *dev_fail(struct lb_device *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->ctrl->dev_err, sizeof(d->ctrl->dev_err), fmt, ap);
	va_end(ap);
	__atomic_store_n(&d->ctrl->dev_failed, 1, __ATOMIC_RELEASE);
	eventfd_write(d->call_fd, 1); /* wake the driver to see it */
	return d->ctrl->dev_err;
}

static void count(uint64_t *c)
{
	__atomic_fetch_add(c, 1, __ATOMIC_RELEASE);
}

/* Our view's region holding guest address @gpa, or -1. */
static int dev_region_of_gpa(const struct lb_device *d, uint64_t gpa)
{
	uint32_t i;

	for (i = 0; i < d->l->nregions; i++) {
		uint64_t s = LB_GPA_BASE + lb_region_off(d->l, i);

		if (gpa >= s && gpa - s < lb_region_size(d->l, i))
			return (int)i;
	}
	return -1;
}

/* Guest address of our address @p, or 0. */
static uint64_t dev_gpa_of(const struct lb_device *d, const void *p)
{
	uint32_t i;

	for (i = 0; i < d->l->nregions; i++) {
		const uint8_t *s = d->v->hva[i];

		if ((const uint8_t *)p >= s && (size_t)((const uint8_t *)p - s) < lb_region_size(d->l, i))
			return LB_GPA_BASE + lb_region_off(d->l, i) + (size_t)((const uint8_t *)p - s);
	}
	return 0;
}

/*
 * Checks chain @c against its record: the iovecs are exactly the segments
 * cut at our region boundaries, readable ones first; every readable byte is
 * what the driver wrote. Then writes the record's used_len bytes.
 */
static const char *dev_process(struct lb_device *d, const struct vio_chain *c, uint32_t *used)
{
	const struct lb_layout *l = d->l;
	uint64_t gpa0, seq, k;
	uint32_t r, i, n, iv = 0, nout_iov = 0;
	struct lb_rec *rec;

	if (c->nout + c->nin == 0)
		return dev_fail(d, "chain %u without iovecs", c->id);
	gpa0 = dev_gpa_of(d, c->iov[0].iov_base);
	if (gpa0 < LB_GPA_BASE + l->data || gpa0 >= LB_GPA_BASE + l->data + (uint64_t)l->num * l->slot)
		return dev_fail(d, "chain %u: first iovec %p is not in a data slot", c->id,
				c->iov[0].iov_base);
	r = (uint32_t)((gpa0 - LB_GPA_BASE - l->data) / l->slot);
	rec = rec_at(l, d->v->hva[0], r);
	if (!d->p->verify) {
		rec->dev_seq = rec->seq;
		*used = 0;
		return NULL;
	}
	seq = rec->seq;
	if (rec->state != LB_POSTED || rec->dev_seq == seq)
		return dev_fail(d, "chain %u: slot %u (buffer %llu) not posted, or seen twice", c->id, r,
				(unsigned long long)seq);
	n = rec->nout + rec->nin;
	if (c->out_bytes != rec->out_bytes || c->in_bytes != rec->in_bytes)
		return dev_fail(d, "chain %u: %llu+%llu bytes, the driver posted %llu+%llu", c->id,
				(unsigned long long)c->out_bytes, (unsigned long long)c->in_bytes,
				(unsigned long long)rec->out_bytes, (unsigned long long)rec->in_bytes);
	for (i = 0; i < n; i++) {
		uint64_t gpa = rec->seg[i].gpa, left = rec->seg[i].len;

		while (left) {
			int reg = dev_region_of_gpa(d, gpa);
			uint64_t rs, piece;

			if (reg < 0)
				return dev_fail(d, "test bug: segment outside the regions");
			rs = LB_GPA_BASE + lb_region_off(l, (uint32_t)reg);
			piece = rs + lb_region_size(l, (uint32_t)reg) - gpa;
			if (piece > left)
				piece = left;
			if (iv >= c->nout + c->nin ||
			    c->iov[iv].iov_base != d->v->hva[reg] + (gpa - rs) || c->iov[iv].iov_len != piece)
				return dev_fail(d, "chain %u: iovec %u is %p+%zu, expected %p+%llu", c->id, iv,
						iv < c->nout + c->nin ? c->iov[iv].iov_base : NULL,
						iv < c->nout + c->nin ? c->iov[iv].iov_len : 0,
						(void *)(d->v->hva[reg] + (gpa - rs)), (unsigned long long)piece);
			if (i < rec->nout)
				nout_iov++;
			iv++;
			gpa += piece;
			left -= piece;
		}
	}
	if (iv != c->nout + c->nin || nout_iov != c->nout)
		return dev_fail(d, "chain %u: %u+%u iovecs, expected %u+%u", c->id, c->nout, c->nin,
				nout_iov, iv - nout_iov);
	for (i = 0, k = 0; i < c->nout; i++) {
		const uint8_t *b = c->iov[i].iov_base;
		size_t j;

		for (j = 0; j < c->iov[i].iov_len; j++, k++)
			if (b[j] != pat(seq, k, SALT_OUT))
				return dev_fail(d, "chain %u: readable byte %llu is %#x, not %#x", c->id,
						(unsigned long long)k, b[j], pat(seq, k, SALT_OUT));
	}
	for (i = c->nout, k = 0; i < c->nout + c->nin && k < rec->used_len; i++) {
		uint8_t *b = c->iov[i].iov_base;
		size_t j;

		for (j = 0; j < c->iov[i].iov_len && k < rec->used_len; j++, k++)
			b[j] = pat(seq, k, SALT_IN);
	}
	rec->dev_seq = seq;
	*used = rec->used_len;
	return NULL;
}

/* Pushes @how_many held chains picked at random, in bursts of random sizes. */
static const char *dev_push_some(struct lb_device *d, uint32_t how_many)
{
	struct vio_used u[LB_BURST];

	while (how_many && d->nheld) {
		uint32_t n = 0, want = 1 + rnd_below(&d->rng, LB_BURST);
		int r;

		while (n < want && how_many && d->nheld) {
			uint32_t i = rnd_below(&d->rng, d->nheld);

			u[n++] = (struct vio_used){ d->held[i].id, d->held[i].len };
			d->held[i] = d->held[--d->nheld];
			how_many--;
		}
		r = n == 1 && rnd_below(&d->rng, 2) ? (vio_devq_push(d->q, u[0].id, u[0].len) ?: 1)
						   : vio_devq_push_burst(d->q, u, n);
		if (r != (int)n)
			return dev_fail(d, "vio_devq_push_burst of %u (first %u, %u): %d", n, u[0].id,
					u[0].len, r);
	}
	return NULL;
}

static void dev_flush(struct lb_device *d)
{
	if (vio_devq_flush(d->q) > 0) {
		count(&d->ctrl->calls);
		eventfd_write(d->call_fd, 1);
	}
}

/*
 * Whether the driver made a buffer available that the device has not
 * popped, read behind the queue's back: split, the published available
 * index against the next one to pop; packed, the flags of the descriptor
 * at the next position to pop (§2.8.1).
 */
static bool buffers_waiting(const struct lb_device *d)
{
	uint32_t base = vio_devq_base(d->q);

	if (d->p->features & VIO_BIT(VIRTIO_F_RING_PACKED)) {
		const struct pvirtq_desc *r = (const void *)(d->v->hva[0] + d->l->desc);
		uint16_t f = le16_to_cpu(
			(le16){ __atomic_load_n(&r[base & 0x7fff].flags.v, __ATOMIC_ACQUIRE) });
		bool wrap = base & 0x8000;

		return !!(f & VIRTQ_DESC_F_AVAIL) == wrap && !!(f & VIRTQ_DESC_F_USED) != wrap;
	} else {
		const struct virtq_avail *a = (const void *)(d->v->hva[0] + d->l->avail);

		return le16_to_cpu((le16){ __atomic_load_n(&a->idx.v, __ATOMIC_ACQUIRE) }) !=
		       (uint16_t)base;
	}
}

/* Pops a burst of a random size into d->chain: as vio_devq_pop_burst(). */
static int dev_pop(struct lb_device *d)
{
	uint32_t n = 1 + rnd_below(&d->rng, LB_BURST);

	if (n == 1 && rnd_below(&d->rng, 2)) {
		int r = vio_devq_pop(d->q, &d->chain[0]);

		return r == -ENOBUFS ? 1 : r; /* truncated is set */
	}
	return vio_devq_pop_burst(d->q, d->chain, n);
}

static const char *dev_loop(struct lb_device *d)
{
	bool started = false;
	const char *e;
	int r;

	for (uint32_t k = 0; k < LB_BURST; k++)
		d->chain[k] = (struct vio_chain){ .iov = d->iov + k * d->iov_cap,
						  .iov_cap = d->iov_cap };

	for (;;) {
		uint32_t spins = 0;

		vio_devq_kick_disable(d->q);
		if (!started) {
			__atomic_store_n(&d->ctrl->dev_started, 1, __ATOMIC_RELEASE);
			started = true;
		}
		for (;;) {
			uint32_t used = 0;

			/* Pop in bursts of random sizes (1: vio_devq_pop() or a burst of 1). */
			while ((r = dev_pop(d)) > 0) {
				for (int k = 0; k < r; k++) {
					const struct vio_chain *c = &d->chain[k];

					count(&d->ctrl->chains);
					if (c->truncated)
						return dev_fail(d, "chain %u truncated", c->id);
					if ((e = dev_process(d, c, &used)))
						return e;
					d->held[d->nheld++] = (struct lb_held){ c->id, used };
				}
				/* Complete out of order, and sometimes flush early. */
				if (rnd_below(&d->rng, 4) == 0 &&
				    (e = dev_push_some(d, 1 + rnd_below(&d->rng, d->nheld))))
					return e;
				if (rnd_below(&d->rng, 8) == 0)
					dev_flush(d);
			}
			if (r < 0)
				return dev_fail(d, "vio_devq_pop: %d: %s", r,
						vio_devq_error(d->q) ? vio_devq_error(d->q) : "");
			if ((e = dev_push_some(d, d->nheld)))
				return e;
			dev_flush(d);
			/* Poll a while before asking for kicks again. */
			if (spins < 32 && rnd_below(&d->rng, 4)) {
				spins++;
				sched_yield();
				continue;
			}
			break;
		}
		count(&d->ctrl->enables);
		if (vio_devq_kick_enable(d->q))
			continue;
		if (__atomic_load_n(&d->ctrl->stop, __ATOMIC_ACQUIRE))
			return NULL;
		r = wait_fd(d->kick_fd, d->p->timeout_ms / 2);
		if (r == 0 && !__atomic_load_n(&d->ctrl->stop, __ATOMIC_ACQUIRE)) {
			count(&d->ctrl->timeouts);
			/* Asleep with kicks enabled: were buffers made
			 * available without a kick? Give a late kick a
			 * second before calling it lost. */
			if (buffers_waiting(d)) {
				r = wait_fd(d->kick_fd, 1000);
				if (r == 0)
					return dev_fail(d, "lost kick: buffers available, no kick %d ms "
							"after kick_enable", d->p->timeout_ms / 2 + 1000);
			}
		}
		if (r < 0)
			return dev_fail(d, "poll of the kick fd: %d", r);
		if (r > 0)
			count(&d->ctrl->kicks_seen);
	}
}

const char *lb_device_run(const struct lb_params *p, const struct lb_view *v, int kick_fd,
			  int call_fd)
{
	const struct lb_layout *l = v->l;
	struct lb_device d = {
		.p = p, .v = v, .l = l, .ctrl = (struct lb_ctrl *)(void *)v->hva[0],
		.kick_fd = kick_fd, .call_fd = call_fd, .rng = p->seed ^ 0x2545f4914f6cdd1dull,
	};
	struct vio_devq_config cfg;
	const char *e;
	int r;

	/* A segment is at most a slot (<= 8 KiB), so it crosses at most 3 regions of >= 4 KiB. */
	d.iov_cap = 3 * l->maxseg + 4;
	d.iov = calloc((size_t)LB_BURST * d.iov_cap, sizeof(*d.iov));
	d.held = calloc(p->num, sizeof(*d.held));
	d.mem = calloc(1, sizeof(*d.mem));
	d.q = aligned_alloc(8, align_up(vio_devq_size(p->num), 8));
	if (!d.iov || !d.held || !d.mem || !d.q)
		abort();
	lb_view_mem(v, d.mem);
	cfg = (struct vio_devq_config){
		.num = p->num,
		.features = p->features | VIO_BIT(VIRTIO_F_VERSION_1),
		.desc = v->hva[0] + l->desc,
		.driver = v->hva[0] + l->avail,
		.device = v->hva[0] + l->used,
		.mem = d.mem,
		/* A fresh ring: packed wrap counters 1 (vhost-user base 0x80008000). */
		.base = p->features & VIO_BIT(VIRTIO_F_RING_PACKED) ? 0x80008000u : 0,
	};
	r = vio_devq_init(d.q, &cfg);
	e = r ? dev_fail(&d, "vio_devq_init: %d", r) : dev_loop(&d);
	if (!e && vio_devq_inflight(d.q))
		e = dev_fail(&d, "%u chains still in flight at the end", vio_devq_inflight(d.q));
	free(d.iov);
	free(d.held);
	free(d.mem);
	free(d.q);
	return e;
}
