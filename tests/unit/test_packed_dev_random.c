/* SPDX-License-Identifier: BSD-3-Clause */
/* The packed ring (and the split one with IN_ORDER), device side: the seeded random model check. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_packed_dev.h"

/* ================================================================== */
/* The seeded random model check                                       */
/* ================================================================== */

struct rng { uint64_t s; };

static uint64_t rnd(struct rng *r)
{
	/* xorshift64* */
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545f4914f6cdd1dull;
}

static uint32_t below(struct rng *r, uint32_t n)
{
	return (uint32_t)(rnd(r) % n);
}

#define MAXB 6

struct req {
	struct mock_buf b[MAXB];
	unsigned n;
	int indirect_at;
	uint32_t ndesc;    /* ring descriptors (packed) */
	uint64_t in_bytes;
	bool enobufs;
	bool done;         /* IN_ORDER: pushed, waiting */
	uint32_t len;      /* the used length expected */
};

/* Expected iovecs of buffer @b, computed from the layout: one per region. */
static unsigned expect_iov(struct fx *f, const struct mock_buf *b, struct iovec *out)
{
	if (b->len == 0)
		return 0;
	if (b->gpa < MOCK_R1_GPA && b->gpa + b->len > MOCK_R1_GPA) {
		out[0].iov_base = hva(f, b->gpa);
		out[0].iov_len = MOCK_R1_GPA - b->gpa;
		out[1].iov_base = hva(f, MOCK_R1_GPA);
		out[1].iov_len = b->gpa + b->len - MOCK_R1_GPA;
		return 2;
	}
	out[0].iov_base = hva(f, b->gpa);
	out[0].iov_len = b->len;
	return 1;
}

static void random_buf(struct fx *f, struct rng *r, struct mock_buf *b)
{
	uint32_t k;

	switch (below(r, 5)) {
	case 0: /* straddles R0 / R1 */
		k = 1 + below(r, 512);
		b->gpa = MOCK_R1_GPA - k;
		b->len = k + 1 + below(r, 512);
		break;
	case 1:
		b->gpa = MOCK_R1_GPA + below(r, 0x8000);
		b->len = below(r, 4096);
		break;
	case 2:
		b->gpa = MOCK_R2_GPA + below(r, 0x8000);
		b->len = 1 + below(r, 4096);
		break;
	case 3: /* ends exactly at R2's last byte */
		b->len = 1 + below(r, 64);
		b->gpa = MOCK_R2_GPA + MOCK_R2_SIZE - b->len;
		break;
	default:
		b->gpa = f->buf + below(r, 0x8000);
		b->len = below(r, 0x8000);
		break;
	}
}

/* An element the driver must see next. */
struct elem {
	uint16_t id;
	uint32_t len, nbufs, ndesc;
};

/* A FIFO of ids (avail order / pop order), at most 65536 deep. */
struct fifo {
	uint16_t *v;
	uint64_t head, tail;
};

static void fifo_push(struct fifo *q, uint16_t id)
{
	assert_true(q->tail - q->head < 65536);
	q->v[q->tail++ & 0xffff] = id;
}

static uint16_t fifo_at(const struct fifo *q, uint64_t k)
{
	return q->v[(q->head + k) & 0xffff];
}

/*
 * Does the range of ring positions [from, to) (absolute descriptor counts
 * from a fresh ring) contain the descriptor at @off in the lap with wrap
 * counter @wrap? Lap L (from 0) has wrap counter 1 when L is even.
 */
static bool event_in_range(uint32_t num, uint64_t from, uint64_t to, uint16_t off, bool wrap)
{
	uint64_t a = from + ((off + num - from % num) % num); /* first a >= from at off */

	return a < to && (((a / num) % 2) == 0) == wrap;
}

/*
 * Drives a random mix of driver and device actions over many wraps and
 * checks, at each step, that the device returns exactly what the model
 * says: the chains (ids, shapes, iovecs), the used elements (order, ids,
 * lengths, IN_ORDER batches, positions and flags), the notification
 * decisions both ways, and the base.
 */
void random_model_over_many_wraps(void **state)
{
	struct fx *f = *state;
	const uint32_t num = f->p.num;
	const bool packed = f->p.layout == MOCK_PACKED;
	struct rng r = { 0x9e3779b97f4a7c15ull ^ f->p.features ^ ((uint64_t)num << 40) ^ packed };
	struct req *reqs = calloc(num, sizeof(*reqs));             /* by id */
	struct fifo avail = { calloc(65536, 2), 0, 0 };             /* ids in avail order */
	struct fifo order = { calloc(65536, 2), 0, 0 };             /* IN_ORDER: pop order */
	struct elem *pending = calloc(65536, sizeof(*pending));    /* elements written, not flushed */
	uint16_t *dev_inflight = calloc(num, sizeof(*dev_inflight));
	uint32_t n_dev_inflight = 0, npending = 0;
	uint64_t published = 0;   /* avail entries visible to the device */
	uint64_t abs_avail = 0;   /* packed: descriptors popped; split: buffers popped */
	uint64_t abs_used = 0;    /* packed: descriptors used (reaped); split: used idx */
	uint64_t flushed_at = 0;  /* abs_used at the last flush (notification range) */
	uint64_t reaped = 0, notifies = 0, enobufs = 0, indirects = 0, straddles = 0;
	uint64_t batches = 0, held = 0, flushes = 0;
	const uint64_t target = 200000;

	assert_non_null(reqs);
	assert_non_null(avail.v);
	assert_non_null(order.v);
	assert_non_null(pending);
	assert_non_null(dev_inflight);

	while (reaped < target) {
		uint32_t action = below(&r, 100);

		if (action < 35) {
			/* Driver: a buffer with a random shape; packed: sometimes
			 * left unpublished, so the next one publishes a batch. */
			struct req q;
			unsigned i, nread;
			bool hold = packed && below(&r, 4) == 0;
			int id;

			memset(&q, 0, sizeof(q));
			q.n = 1 + below(&r, MAXB);
			nread = below(&r, q.n + 1);
			for (i = 0; i < q.n; i++) {
				random_buf(f, &r, &q.b[i]);
				q.b[i].writable = i >= nread;
				if (q.b[i].writable)
					q.in_bytes += q.b[i].len;
				if (q.b[i].gpa < MOCK_R1_GPA && q.b[i].gpa + q.b[i].len > MOCK_R1_GPA)
					straddles++;
			}
			/* Packed: an indirect table is the whole list (§2.8.19). */
			if (f->indirect && below(&r, 2))
				q.indirect_at = packed ? 0 : (int)below(&r, q.n);
			else
				q.indirect_at = MOCK_DIRECT;
			q.ndesc = q.indirect_at < 0 ? q.n : (unsigned)q.indirect_at + 1;
			if (hold)
				id = mock_vq_write_chain(&f->vq, q.b, q.n, q.indirect_at);
			else
				id = mock_vq_add(&f->vq, q.b, q.n, q.indirect_at);
			if (id == -ENOSPC)
				continue;
			assert_true(id >= 0 && (uint32_t)id < num);
			if (q.indirect_at >= 0)
				indirects++;
			reqs[id] = q;
			fifo_push(&avail, (uint16_t)id);
			if (hold) {
				held++;
			} else {
				published = avail.tail;
			}
		} else if (action < 40 && packed) {
			/* Driver: publishes a held batch. */
			mock_packed_publish(&f->vq);
			published = avail.tail;
		} else if (action < 65) {
			/* Device: pop, and check the chain is exactly what was written. */
			struct iovec exp[2 * MAXB];
			unsigned ne = 0, nout = 0, i;
			struct req *q;
			uint32_t cap = IOV_CAP;
			uint16_t id;
			int ret;

			if (avail.head == published) {
				assert_int_equal(pop(f), 0);
				continue;
			}
			id = fifo_at(&avail, 0);
			q = &reqs[id];
			for (i = 0; i < q->n; i++) {
				unsigned k = expect_iov(f, &q->b[i], &exp[ne]);

				ne += k;
				if (!q->b[i].writable)
					nout += k;
			}
			q->enobufs = ne > 0 && below(&r, 20) == 0;
			if (q->enobufs)
				cap = below(&r, ne);
			ret = pop_cap(f, cap);
			assert_int_equal(f->c.id, id);
			assert_int_equal(f->c.ndesc, q->ndesc);
			if (q->enobufs) {
				assert_int_equal(ret, -ENOBUFS);
				enobufs++;
			} else {
				assert_int_equal(ret, 1);
				assert_int_equal(f->c.nout, nout);
				assert_int_equal(f->c.nin, ne - nout);
				assert_true(f->c.in_bytes == q->in_bytes);
				for (i = 0; i < ne; i++)
					assert_iov(&f->iov[i], exp[i].iov_base, exp[i].iov_len);
			}
			avail.head++;
			q->done = false;
			if (f->in_order)
				fifo_push(&order, id);
			abs_avail += packed ? q->ndesc : 1;
			dev_inflight[n_dev_inflight++] = id;
			assert_int_equal(vio_devq_inflight(f->q), n_dev_inflight);
			if (packed)
				assert_int_equal(vio_devq_base(f->q) & 0xffff,
						 half((uint32_t)(abs_avail % num), (abs_avail / num) % 2 == 0));
			else
				assert_int_equal(vio_devq_base(f->q), (uint16_t)abs_avail);
		} else if (action < 85) {
			/* Device: completes a random in-flight buffer. */
			uint32_t k, len;
			uint16_t id;
			struct req *q;

			if (!n_dev_inflight)
				continue;
			k = below(&r, n_dev_inflight);
			id = dev_inflight[k];
			dev_inflight[k] = dev_inflight[--n_dev_inflight];
			q = &reqs[id];
			/* Half of them used in full (IN_ORDER merges those). */
			if (q->enobufs)
				len = 0;
			else if (below(&r, 2))
				len = below(&r, 2) ? (uint32_t)q->in_bytes : UINT32_MAX;
			else
				len = below(&r, (uint32_t)q->in_bytes + 64);
			assert_int_equal(vio_devq_push(f->q, id, len), 0);
			q->len = len < q->in_bytes ? len : (uint32_t)q->in_bytes;
			if (f->in_order) {
				q->done = true;
			} else {
				pending[npending++] = (struct elem){ id, q->len, 1, q->ndesc };
			}
		} else if (action < 95) {
			/* Driver sets suppression; device flushes; driver reaps. */
			uint16_t ev_flags = 0, ev_desc = 0, ue = 0;
			bool want, split_no_intr = false;
			uint64_t from = abs_used, to = abs_used;
			uint32_t i;
			int got;

			if (f->in_order) {
				/* The drain the device must do: the done prefix of
				 * the pop order, full ones merged up to a partial one. */
				while (order.head < order.tail && reqs[fifo_at(&order, 0)].done) {
					struct elem e = { 0, 0, 0, 0 };

					while (order.head < order.tail) {
						uint16_t id = fifo_at(&order, 0);
						struct req *q = &reqs[id];

						if (!q->done)
							break;
						q->done = false;
						order.head++;
						e.id = id;
						e.len = q->len;
						e.nbufs++;
						e.ndesc += q->ndesc;
						if (q->len != q->in_bytes)
							break;
					}
					if (e.nbufs > 1)
						batches++;
					pending[npending++] = e;
				}
			}
			for (i = 0; i < npending; i++)
				to += packed ? pending[i].ndesc : pending[i].nbufs;
			if (packed) {
				static const uint16_t fl[] = { RING_EVENT_FLAGS_ENABLE, RING_EVENT_FLAGS_DISABLE,
							       RING_EVENT_FLAGS_DESC, RING_EVENT_FLAGS_DESC,
							       RING_EVENT_FLAGS_DESC, 3 };
				uint64_t at = abs_used + below(&r, num + 4);
				uint16_t off = (uint16_t)(at % num);
				bool wrap = (at / num) % 2 == 0;

				if (below(&r, 8) == 0)
					wrap = !wrap;
				if (below(&r, 50) == 0)
					off = (uint16_t)(num + below(&r, 0x8000 - num));
				ev_flags = fl[below(&r, 6)];
				ev_desc = mock_packed_event(off, wrap);
				mock_packed_set_driver_event(&f->vq, ev_flags, ev_desc);
				if (to == from)
					want = false;
				else if (ev_flags == RING_EVENT_FLAGS_DISABLE)
					want = false;
				else if (ev_flags == RING_EVENT_FLAGS_DESC && f->event)
					want = off >= num || event_in_range(num, from, to, off, wrap);
				else
					want = true;
			} else {
				ue = (uint16_t)(from + below(&r, 8) - 2);
				split_no_intr = below(&r, 2);
				mock_split_set_used_event(&f->vq, ue);
				mock_split_set_avail_flags(&f->vq, split_no_intr);
				if (to == from)
					want = false;
				else if (f->event)
					want = (uint16_t)(ue - from) < (uint16_t)(to - from);
				else
					want = !split_no_intr;
			}
			got = vio_devq_flush(f->q);
			flushes++;
			assert_int_equal(got, want);
			notifies += (uint64_t)got;
			for (i = 0; i < npending; i++) {
				struct mock_used u;
				const struct elem *e = &pending[i];

				assert_int_equal(mock_vq_used(&f->vq, &u), 1);
				assert_int_equal(u.id, e->id);
				assert_int_equal(u.len, e->len);
				assert_int_equal(u.nbufs, e->nbufs);
				if (packed) {
					bool wrap = (abs_used / num) % 2 == 0;

					assert_int_equal(u.pos, abs_used % num);
					assert_int_equal(u.ndesc, e->ndesc);
					assert_int_equal(u.flags,
							 mock_packed_used_bits(wrap) | (e->len ? WRITE : 0));
					abs_used += e->ndesc;
				} else {
					abs_used += e->nbufs;
				}
				reaped += e->nbufs;
			}
			assert_int_equal(mock_vq_used(&f->vq, &(struct mock_used){ 0 }), 0);
			npending = 0;
			flushed_at = abs_used;
			if (packed)
				assert_int_equal(vio_devq_base(f->q) >> 16,
						 half((uint32_t)(abs_used % num), (abs_used / num) % 2 == 0));
			else
				assert_int_equal(mock_split_used_idx(&f->vq), (uint16_t)abs_used);
		} else {
			/* Device: toggles available buffer notifications. */
			bool more = avail.head != published;
			uint16_t fl, d;

			vio_devq_kick_disable(f->q);
			if (packed) {
				mock_packed_device_event(&f->vq, &fl, &d);
				assert_int_equal(fl, RING_EVENT_FLAGS_DISABLE);
			} else if (!f->event) {
				assert_int_equal(mock_split_used_flags(&f->vq), VIRTQ_USED_F_NO_NOTIFY);
			}
			assert_int_equal(vio_devq_kick_enable(f->q), more);
			if (packed) {
				mock_packed_device_event(&f->vq, &fl, &d);
				if (f->event) {
					assert_int_equal(fl, RING_EVENT_FLAGS_DESC);
					assert_int_equal(d, mock_packed_event((uint16_t)(abs_avail % num),
									      (abs_avail / num) % 2 == 0));
				} else {
					assert_int_equal(fl, RING_EVENT_FLAGS_ENABLE);
				}
			} else {
				assert_int_equal(mock_split_used_flags(&f->vq), 0);
				if (f->event)
					assert_int_equal(mock_split_avail_event(&f->vq), (uint16_t)abs_avail);
			}
		}
	}
	(void)flushed_at;
	assert_null(vio_devq_error(f->q));
	/* The run did what it claims: wrapped many times, and hit each shape. */
	if (packed)
		assert_true(abs_used > 100ull * num);
	else
		assert_true(abs_used > 3 * 65536);
	assert_true(straddles > 1000);
	assert_true(enobufs > 100);
	assert_true(notifies > 1000);
	assert_true(flushes > notifies);
	if (f->indirect)
		assert_true(indirects > 1000);
	if (f->in_order)
		assert_true(batches > 1000);
	if (packed)
		assert_true(held > 1000);
	free(reqs);
	free(avail.v);
	free(order.v);
	free(pending);
	free(dev_inflight);
}
