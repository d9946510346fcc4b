/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Our driver (vio_drvq, thread A) against our device (vio_devq, thread B)
 * over rings in one process, polling: no eventfds. Both sides follow the
 * typical loops of vio/drvq.h and vio/devq.h, notification suppression
 * included: each side disables notifications while it finds work, enables
 * them (and re-checks) when it runs dry, and where it would then sleep it
 * spins on the ring instead. Every kick and call is decided (counted) but
 * none is delivered.
 *
 * A buffer is one device-writable segment of 64 bytes that the device
 * reports fully written; no byte of it is touched (tests/loopback checks
 * the bytes, this measures the ring).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bench_ring.h"
#include "vio/devq.h"
#include "vio/drvq.h"
#include "vio/mem.h"
#include "vio/virtio.h"

#define DATA_GPA 0x100000000ull
#define BUF_LEN  64u
#define PAGE     4096u

static struct vio_drvq *dq;
static struct vio_devq *vq;
static struct vio_mem mem;
static uint8_t *area; /* desc | driver | device | data, each on its own pages */
static size_t area_off[3], data_off;

static size_t page_up(size_t x)
{
	return (x + PAGE - 1) / PAGE * PAGE;
}

int virtq_setup(void)
{
	uint64_t any = VIO_BIT(VIRTIO_F_VERSION_1);
	size_t off = 0, total;
	struct vio_mem_region reg;

	/* The largest area of either layout: split's. */
	for (int a = VIO_DRVQ_DESC; a <= VIO_DRVQ_DEVICE; a++) {
		size_t split = vio_drvq_area_size(RING_NUM, any, (enum vio_drvq_area)a);
		size_t packed = vio_drvq_area_size(RING_NUM, any | VIO_BIT(VIRTIO_F_RING_PACKED),
						   (enum vio_drvq_area)a);

		area_off[a] = off;
		off += page_up(split > packed ? split : packed);
	}
	data_off = off;
	total = off + page_up(RING_NUM * BUF_LEN);
	area = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED)
		return -errno;
	memset(area, 0, total);
	dq = aligned_alloc(64, (vio_drvq_size(RING_NUM) + 63) & ~(size_t)63);
	vq = aligned_alloc(64, (vio_devq_size(RING_NUM) + 63) & ~(size_t)63);
	if (!dq || !vq)
		return -ENOMEM;
	vio_mem_init(&mem);
	memset(&reg, 0, sizeof(reg));
	reg.gpa = DATA_GPA;
	reg.size = RING_NUM * BUF_LEN;
	reg.uva = DATA_GPA;
	reg.hva = area + data_off;
	reg.fd = -1;
	return vio_mem_add(&mem, &reg);
}

static int init_queues(uint64_t features)
{
	struct vio_drvq_config dc = {
		.num = RING_NUM,
		.features = features | VIO_BIT(VIRTIO_F_VERSION_1),
		.desc = area + area_off[VIO_DRVQ_DESC],
		.driver = area + area_off[VIO_DRVQ_DRIVER],
		.device = area + area_off[VIO_DRVQ_DEVICE],
	};
	struct vio_devq_config vc = {
		.num = RING_NUM,
		.features = features | VIO_BIT(VIRTIO_F_VERSION_1),
		.desc = dc.desc,
		.driver = dc.driver,
		.device = dc.device,
		.mem = &mem,
		.base = vio_has_feature(features, VIRTIO_F_RING_PACKED) ? 0x80008000u : 0,
	};
	int r = vio_drvq_init(dq, &dc);

	if (r)
		return r;
	return vio_devq_init(vq, &vc);
}

bool virtq_supported(uint64_t features)
{
	return init_queues(features) == 0;
}

int virtq_prepare(const struct task *t)
{
	return init_queues(t->features);
}

/* Chains for a burst of up to 64 pops, an iovec each beside a spare. */
struct chains {
	struct iovec iov[64][2];
	struct vio_chain c[64];
	struct vio_used u[64];
};

static void chains_init(struct chains *ch)
{
	for (uint32_t i = 0; i < 64; i++) {
		ch->c[i].iov = ch->iov[i];
		ch->c[i].iov_cap = 2;
	}
}

/* The driver's buffers: one device-writable segment each; batch_fill() sets their addresses. */
static void bufs_init(struct vio_drvq_buf *b, struct vio_sg *sg)
{
	for (uint32_t i = 0; i < 64; i++) {
		sg[i].len = BUF_LEN;
		b[i].sg = &sg[i];
		b[i].nout = 0;
		b[i].nin = 1;
	}
}

/* @B buffers of the driver's next batch, from @seq on (RING_NUM is a power of 2). */
static uint32_t batch_fill(struct vio_drvq_buf *b, struct vio_sg *sg, uint32_t B, uint64_t seq)
{
	for (uint32_t i = 0; i < B; i++, seq++) {
		sg[i].addr = DATA_GPA + (seq & (RING_NUM - 1)) * BUF_LEN;
		b[i].token = (void *)(uintptr_t)(seq + 1);
	}
	return B;
}

int virtq_a(const struct task *t, struct result *r)
{
	struct vio_drvq *q = dq;
	uint32_t B = t->batch, iter = 0, lens[64];
	uint64_t done = 0, kicks = 0, seq = 0;
	struct vio_drvq_buf bufs[64];
	struct vio_sg sg[64];
	void *toks[64];
	bool armed = false;
	struct window w;

	bufs_init(bufs, sg);
	vio_drvq_cb_disable(q);
	window_begin(&w, t);
	for (;;) {
		bool added = false;
		int got;

		/* Take up to a batch of used buffers... */
		got = vio_drvq_get_used_burst(q, toks, lens, B);
		if (got < 0) {
			r->err = vio_drvq_error(q);
			break;
		}
		done += (uint32_t)got;
		/* ...then add a batch when there is room for one, and kick once. */
		if (vio_drvq_num_free(q) >= B) {
			int rr = vio_drvq_add_burst(q, bufs, batch_fill(bufs, sg, B, seq));

			if (rr != (int)B) {
				r->err = rr == -ENOSPC || rr >= 0 ? "add: no room" : vio_drvq_error(q);
				break;
			}
			seq += B;
			kicks += vio_drvq_kick_prepare(q) > 0;
			added = true;
		}
		if (got || added) {
			if (armed) {
				vio_drvq_cb_disable(q);
				armed = false;
			}
		} else if (!armed) {
			/* Would wait for a call: ask for one (the re-check is the next get_used). */
			vio_drvq_cb_enable(q);
			armed = true;
		} else {
			relax();
		}
		if (!(++iter & 63) && window_tick(&w, done, r))
			break;
	}
	store_rel32(&g_ctl->stop, 1);
	r->total = done;
	r->kicks = kicks;
	return r->err != NULL;
}

void virtq_b(const struct task *t)
{
	static struct chains ch;
	struct vio_devq *q = vq;
	uint32_t B = t->batch;
	uint64_t moved = 0, calls = 0;
	bool armed = false;

	chains_init(&ch);
	vio_devq_kick_disable(q);
	for (;;) {
		/* Take up to a batch of chains... */
		int n = vio_devq_pop_burst(q, ch.c, B);

		if (n < 0) {
			g_ctl->b.err = vio_devq_error(q) ? vio_devq_error(q) : "pop failed";
			break;
		}
		if (n) {
			if (armed) {
				vio_devq_kick_disable(q);
				armed = false;
			}
			/* ...hand them back used, and publish them at once. */
			for (int i = 0; i < n; i++) {
				ch.u[i].id = ch.c[i].id;
				ch.u[i].len = BUF_LEN;
			}
			if (vio_devq_push_burst(q, ch.u, (uint32_t)n) != n) {
				g_ctl->b.err = "push failed";
				break;
			}
			calls += vio_devq_flush(q) > 0;
			moved += (uint32_t)n;
			continue;
		}
		if (__atomic_load_n(&g_ctl->stop, __ATOMIC_ACQUIRE))
			break;
		if (!armed) {
			/* Would sleep until a kick: ask for one (the re-check is the next pop). */
			vio_devq_kick_enable(q);
			armed = true;
		} else {
			relax();
		}
	}
	g_ctl->b.b_moved = moved;
	g_ctl->b.calls = calls;
}

/*
 * Both sides in turn on this thread, for @t->run_ns: the instructions of
 * the ring with every cache line local (a profile under perf or callgrind
 * shows what the code costs, apart from what the transfers cost).
 */
int virtq_solo(const struct task *t, struct result *r)
{
	static struct chains ch;
	struct vio_drvq *dq_ = dq;
	struct vio_devq *vq_ = vq;
	uint32_t B = t->batch, lens[64];
	struct vio_drvq_buf bufs[64];
	struct vio_sg sg[64];
	void *toks[64];
	uint64_t done = 0, seq = 0, t0 = now_ns(), t1;

	chains_init(&ch);
	bufs_init(bufs, sg);
	vio_drvq_cb_disable(dq_);
	vio_devq_kick_disable(vq_);
	do {
		for (uint32_t k = 0; k < 1024; k++, seq += B) {
			int n;

			if (vio_drvq_add_burst(dq_, bufs, batch_fill(bufs, sg, B, seq)) != (int)B)
				goto fail;
			r->kicks += vio_drvq_kick_prepare(dq_) > 0;
			n = vio_devq_pop_burst(vq_, ch.c, B);
			if (n != (int)B)
				goto fail;
			for (int i = 0; i < n; i++) {
				ch.u[i].id = ch.c[i].id;
				ch.u[i].len = BUF_LEN;
			}
			if (vio_devq_push_burst(vq_, ch.u, B) != (int)B)
				goto fail;
			r->calls += vio_devq_flush(vq_) > 0;
			if (vio_drvq_get_used_burst(dq_, toks, lens, B) != (int)B)
				goto fail;
			done += B;
		}
		t1 = now_ns();
	} while (t1 - t0 < t->run_ns);
	r->buffers = r->total = r->b_moved = done;
	r->seconds = (double)(t1 - t0) / 1e9;
	return 0;
fail:
	r->err = vio_drvq_error(dq_) ? vio_drvq_error(dq_)
	       : vio_devq_error(vq_) ? vio_devq_error(vq_) : "solo: a batch did not go round";
	return 1;
}
