/* SPDX-License-Identifier: BSD-3-Clause */
/* The split ring, device side: the seeded random run over many wraps. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_split_dev.h"

/* ---- the randomised run ---- */

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
	int head;
	uint64_t in_bytes;
	bool enobufs;
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

void random_chains_over_many_wraps(void **state)
{
	struct fx *f = *state;
	const uint32_t num = f->p.num;
	const bool indirect = f->p.features & F_INDIRECT;
	const bool event = f->p.features & F_EVENT;
	struct rng r = { 0x9e3779b97f4a7c15ull ^ f->p.features ^ num };
	struct req *reqs = calloc(num, sizeof(*reqs));           /* by head */
	uint16_t *fifo = calloc(65536, sizeof(*fifo));             /* heads in avail order */
	uint16_t *pushed_id = calloc(65536, sizeof(*pushed_id));   /* pushes in order */
	uint32_t *pushed_len = calloc(65536, sizeof(*pushed_len));
	uint16_t *dev_inflight = calloc(num, sizeof(*dev_inflight));
	uint32_t n_dev_inflight = 0;
	uint64_t added = 0, popped = 0, pushed = 0, flushed = 0, reaped = 0;
	uint64_t notifies = 0, enobufs = 0, indirects = 0, straddles = 0;
	const uint64_t target = 200000;

	assert_non_null(reqs);
	assert_non_null(fifo);
	assert_non_null(pushed_id);
	assert_non_null(pushed_len);
	assert_non_null(dev_inflight);

	while (reaped < target) {
		uint32_t action = below(&r, 100);

		if (action < 35) {
			/* Driver: add a chain with a random shape. */
			struct req q;
			unsigned i, nread;
			int head;

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
			q.indirect_at = indirect && below(&r, 2) ? (int)below(&r, q.n) : MOCK_DIRECT;
			head = mock_vq_add(&f->vq, q.b, q.n, q.indirect_at);
			if (head == -ENOSPC)
				continue;
			assert_true(head >= 0 && (uint32_t)head < num);
			if (q.indirect_at >= 0)
				indirects++;
			q.head = head;
			reqs[head] = q;
			fifo[added++ & 0xffff] = (uint16_t)head;
		} else if (action < 65) {
			/* Device: pop, and check the chain is exactly what was written. */
			struct iovec exp[2 * MAXB];
			unsigned ne = 0, nout = 0, i;
			struct req *q;
			uint32_t cap = IOV_CAP;
			int ret;

			if (popped == added) {
				assert_int_equal(pop(f), 0);
				continue;
			}
			q = &reqs[fifo[popped & 0xffff]];
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
			assert_int_equal(f->c.id, q->head);
			assert_int_equal(f->c.ndesc, q->indirect_at < 0 ? q->n : (unsigned)q->indirect_at + 1);
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
			popped++;
			dev_inflight[n_dev_inflight++] = (uint16_t)q->head;
			assert_int_equal(vio_devq_inflight(f->q), n_dev_inflight);
		} else if (action < 85) {
			/* Device: complete a random in-flight chain. */
			uint32_t k, len, want;
			uint16_t id;

			if (!n_dev_inflight)
				continue;
			k = below(&r, n_dev_inflight);
			id = dev_inflight[k];
			dev_inflight[k] = dev_inflight[--n_dev_inflight];
			len = below(&r, (uint32_t)reqs[id].in_bytes + 64);
			want = reqs[id].enobufs ? 0 : (len < reqs[id].in_bytes ? len : (uint32_t)reqs[id].in_bytes);
			assert_int_equal(vio_devq_push(f->q, id, reqs[id].enobufs ? 0 : len), 0);
			pushed_id[pushed & 0xffff] = id;
			pushed_len[pushed & 0xffff] = want;
			pushed++;
		} else if (action < 95) {
			/* Driver sets suppression; device flushes; driver reaps. */
			uint16_t old = (uint16_t)flushed, new_idx = (uint16_t)pushed;
			uint16_t ue = (uint16_t)(old + below(&r, 8) - 2);
			uint16_t flags = (uint16_t)below(&r, 2);
			int want, got;
			struct mock_used u;

			mock_split_set_used_event(&f->vq, ue);
			mock_split_set_avail_flags(&f->vq, flags);
			if (pushed == flushed)
				want = 0;
			else if (event)
				want = (uint16_t)(ue - old) < (uint16_t)(new_idx - old);
			else
				want = flags == 0;
			got = vio_devq_flush(f->q);
			assert_int_equal(got, want);
			notifies += (uint64_t)got;
			flushed = pushed;
			assert_int_equal(mock_split_used_idx(&f->vq), (uint16_t)flushed);
			while (reaped < flushed) {
				assert_int_equal(mock_vq_used(&f->vq, &u), 1);
				assert_int_equal(u.id, pushed_id[reaped & 0xffff]);
				assert_int_equal(u.len, pushed_len[reaped & 0xffff]);
				reaped++;
			}
			assert_int_equal(mock_vq_used(&f->vq, &u), 0);
		} else {
			/* Device: toggles available buffer notifications. */
			int more;

			vio_devq_kick_disable(f->q);
			if (!event)
				assert_int_equal(mock_split_used_flags(&f->vq), VIRTQ_USED_F_NO_NOTIFY);
			more = vio_devq_kick_enable(f->q);
			assert_int_equal(more, added != popped);
			assert_int_equal(mock_split_used_flags(&f->vq), 0);
			if (event)
				assert_int_equal(mock_split_avail_event(&f->vq), (uint16_t)popped);
		}
	}
	assert_null(vio_devq_error(f->q));
	assert_int_equal(vio_devq_base(f->q), (uint16_t)popped);
	/* The run did what it claims: wrapped the 16-bit indices, and hit each shape. */
	assert_true(popped > 3 * 65536);
	assert_true(straddles > 1000);
	assert_true(enobufs > 100);
	assert_true(notifies > 1000);
	if (indirect)
		assert_true(indirects > 1000);
	free(reqs);
	free(fifo);
	free(pushed_id);
	free(pushed_len);
	free(dev_inflight);
}
