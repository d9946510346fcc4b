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

int virtq_a(const struct task *t, struct result *r)
{
	struct vio_drvq *q = dq;
	uint32_t B = t->batch, iter = 0;
	uint64_t done = 0, kicks = 0, seq = 0;
	bool armed = false;
	struct window w;

	vio_drvq_cb_disable(q);
	window_begin(&w, t);
	for (;;) {
		uint32_t got = 0, len;
		bool added = false;
		void *tok;
		int rr = 0;

		/* Take up to a batch of used buffers... */
		while (got < B && (rr = vio_drvq_get_used(q, &tok, &len)) == 1)
			got++;
		if (rr < 0) {
			r->err = vio_drvq_error(q);
			break;
		}
		done += got;
		/* ...then add a batch when there is room for one, and kick once. */
		if (vio_drvq_num_free(q) >= B) {
			for (uint32_t i = 0; i < B; i++, seq++) {
				struct vio_sg sg = { DATA_GPA + (seq % RING_NUM) * BUF_LEN, BUF_LEN };

				rr = vio_drvq_add(q, &sg, 0, 1, (void *)(uintptr_t)(seq + 1));
				if (rr) {
					r->err = rr == -ENOSPC ? "add: no room" : vio_drvq_error(q);
					goto out;
				}
			}
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
out:
	store_rel32(&g_ctl->stop, 1);
	r->total = done;
	r->kicks = kicks;
	return r->err != NULL;
}

void virtq_b(const struct task *t)
{
	struct vio_devq *q = vq;
	uint32_t B = t->batch;
	uint16_t ids[64];
	struct iovec iov[4];
	struct vio_chain c = { .iov = iov, .iov_cap = 4 };
	uint64_t moved = 0, calls = 0;
	bool armed = false;

	vio_devq_kick_disable(q);
	for (;;) {
		uint32_t n = 0;
		int rr = 0;

		/* Take up to a batch of chains... */
		while (n < B && (rr = vio_devq_pop(q, &c)) == 1)
			ids[n++] = c.id;
		if (rr < 0) {
			g_ctl->b.err = vio_devq_error(q) ? vio_devq_error(q) : "pop: chain too long";
			break;
		}
		if (n) {
			if (armed) {
				vio_devq_kick_disable(q);
				armed = false;
			}
			/* ...hand them back used, and publish them at once. */
			for (uint32_t i = 0; i < n; i++)
				vio_devq_push(q, ids[i], BUF_LEN);
			calls += vio_devq_flush(q) > 0;
			moved += n;
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
	struct vio_drvq *dq_ = dq;
	struct vio_devq *vq_ = vq;
	uint32_t B = t->batch;
	uint16_t ids[64];
	struct iovec iov[4];
	struct vio_chain c = { .iov = iov, .iov_cap = 4 };
	uint64_t done = 0, seq = 0, t0 = now_ns(), t1;

	vio_drvq_cb_disable(dq_);
	vio_devq_kick_disable(vq_);
	do {
		for (uint32_t k = 0; k < 1024; k++) {
			uint32_t n = 0, len;
			void *tok;
			int rr;

			for (uint32_t i = 0; i < B; i++, seq++) {
				struct vio_sg sg = { DATA_GPA + (seq % RING_NUM) * BUF_LEN, BUF_LEN };

				if (vio_drvq_add(dq_, &sg, 0, 1, (void *)(uintptr_t)(seq + 1)))
					goto fail;
			}
			r->kicks += vio_drvq_kick_prepare(dq_) > 0;
			while (n < B && (rr = vio_devq_pop(vq_, &c)) == 1)
				ids[n++] = c.id;
			if (n != B)
				goto fail;
			for (uint32_t i = 0; i < n; i++)
				vio_devq_push(vq_, ids[i], BUF_LEN);
			r->calls += vio_devq_flush(vq_) > 0;
			for (n = 0; n < B && vio_drvq_get_used(dq_, &tok, &len) == 1; n++)
				;
			if (n != B)
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
