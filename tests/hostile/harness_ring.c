/* SPDX-License-Identifier: BSD-3-Clause */
/* The hostile harness: a raw driver of split and packed rings, virtio-blk requests. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

/* ------------------------------------------------------------------ */
/* Rings                                                               */

void sdesc(struct hq *q, uint32_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	tdesc(q->desc, i, addr, len, flags, next);
}

void tdesc(uint64_t table, uint32_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	struct virtq_desc d = { cpu_to_le64(addr), cpu_to_le32(len), cpu_to_le16(flags),
				cpu_to_le16(next) };

	gwrite(table + 16ull * i, &d, sizeof(d));
}

void avail_entry(struct hq *q, uint16_t pos, uint16_t head)
{
	le16 v = cpu_to_le16(head);

	gwrite(q->avail + 4 + 2ull * (pos % q->num), &v, 2);
}

void avail_publish(struct hq *q, uint16_t idx)
{
	le16 v = cpu_to_le16(idx);
	int64_t off = gpa_off(q->avail + 2, NULL);

	memcpy(G.shadow + off, &v, 2);
	__atomic_store_n((uint16_t *)(void *)(G.mem + off), v.v, __ATOMIC_RELEASE);
	q->avail_idx = idx;
}

void avail_put(struct hq *q, uint16_t head)
{
	avail_entry(q, q->avail_idx, head);
	avail_publish(q, (uint16_t)(q->avail_idx + 1));
}

uint16_t used_idx(struct hq *q)
{
	le16 v = { __atomic_load_n((uint16_t *)gptr(q->used + 2, 2), __ATOMIC_ACQUIRE) };

	return le16_to_cpu(v);
}

uint16_t pwrap(bool wrap)
{
	return wrap ? VIRTQ_DESC_F_AVAIL : VIRTQ_DESC_F_USED;
}

void ptdesc(uint64_t table, uint32_t i, uint64_t addr, uint32_t len, uint16_t id, uint16_t flags)
{
	struct pvirtq_desc d = { cpu_to_le64(addr), cpu_to_le32(len), cpu_to_le16(id),
				 cpu_to_le16(flags) };

	gwrite(table + 16ull * i, &d, sizeof(d));
}

void pdesc(struct hq *q, uint32_t pos, uint64_t addr, uint32_t len, uint16_t id, uint16_t flags)
{
	uint64_t at = q->desc + 16ull * pos;
	int64_t off = gpa_off(at + 14, NULL);
	le16 f = cpu_to_le16(flags);

	ptdesc(q->desc, pos, addr, len, id, 0);
	memcpy(G.shadow + off, &f, 2);
	/* The flags last, with a release store (VIRTIO 1.4 §2.8.21.1). */
	__atomic_store_n((uint16_t *)(void *)(G.mem + off), f.v, __ATOMIC_RELEASE);
}

void plist(struct hq *q, const struct pd *d, unsigned n)
{
	uint16_t first = q->pa, first_flags = 0;

	for (unsigned i = 0; i < n; i++) {
		uint16_t f = (uint16_t)(d[i].flags | pwrap(q->pa_wrap));

		if (i == 0) {
			first_flags = f;
			ptdesc(q->desc, q->pa, d[i].addr, d[i].len, d[i].id, 0);
		} else {
			pdesc(q, q->pa, d[i].addr, d[i].len, d[i].id, f);
		}
		if (++q->pa == q->num) {
			q->pa = 0;
			q->pa_wrap = !q->pa_wrap;
		}
	}
	if (n) {
		if (d[n - 1].id < 1024)
			q->plen[d[n - 1].id] = (uint16_t)n;
		pdesc(q, first, d[0].addr, d[0].len, d[0].id, first_flags);
	}
}

void kick(struct hq *q)
{
	CHECK(!eventfd_write(q->kick, 1), "kick: %s", strerror(errno));
}

static uint16_t wflag(bool w)
{
	return w ? VIRTQ_DESC_F_WRITE : 0;
}

int write_chain(struct hq *q, const struct buf *b, unsigned n, int indirect_at)
{
	unsigned direct = indirect_at < 0 ? n : (unsigned)indirect_at;
	unsigned ring_n = direct + (indirect_at < 0 ? 0 : 1);
	uint64_t table = 0;

	CHECK(n >= 1 && ring_n <= q->num, "harness: chain of %u descriptors in a queue of %u",
	      ring_n, q->num);
	if (indirect_at >= 0) {
		table = galloc(16ull * (n - direct), 16);
		for (unsigned i = direct; i < n; i++)
			if (q->packed)
				ptdesc(table, i - direct, b[i].gpa, b[i].len, 0, wflag(b[i].w));
			else
				tdesc(table, i - direct, b[i].gpa, b[i].len,
				      (uint16_t)(wflag(b[i].w) | (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0)),
				      (uint16_t)(i + 1 - direct));
	}
	if (q->packed) {
		struct pd d[1024];
		uint16_t id = q->next_id;

		CHECK(indirect_at <= 0, "harness: packed lists cannot mix direct and indirect");
		q->next_id = (uint16_t)((q->next_id + 1) % q->num);
		if (indirect_at == 0) {
			d[0] = (struct pd){ table, 16 * n, id, VIRTQ_DESC_F_INDIRECT };
		} else {
			for (unsigned i = 0; i < n; i++)
				d[i] = (struct pd){ b[i].gpa, b[i].len, id,
						    (uint16_t)(wflag(b[i].w) |
							       (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0)) };
		}
		plist(q, d, ring_n);
		return id;
	}
	{
		uint16_t head = q->next_desc, i = head;

		for (unsigned k = 0; k < ring_n; k++) {
			uint16_t next = (uint16_t)((i + 1) % q->num);

			if (k < direct)
				sdesc(q, i, b[k].gpa, b[k].len,
				      (uint16_t)(wflag(b[k].w) | (k + 1 < ring_n ? VIRTQ_DESC_F_NEXT : 0)),
				      k + 1 < ring_n ? next : 0);
			else
				sdesc(q, i, table, 16 * (n - direct), VIRTQ_DESC_F_INDIRECT, 0);
			i = next;
		}
		q->next_desc = i;
		return head;
	}
}

int post(struct hq *q, const struct buf *b, unsigned n, int indirect_at)
{
	int id = write_chain(q, b, n, indirect_at);

	if (!q->packed)
		avail_put(q, (uint16_t)id);
	kick(q);
	return id;
}

bool wait_used(struct hq *q, uint32_t *id, uint32_t *len, int ms)
{
	int64_t end = now_ms() + ms;

	for (;;) {
		if (!q->packed) {
			if (used_idx(q) != q->last_used) {
				struct virtq_used_elem e;

				gread(q->used + 4 + 8ull * (q->last_used % q->num), &e, sizeof(e));
				*id = le32_to_cpu(e.id);
				*len = le32_to_cpu(e.len);
				q->last_used++;
				return true;
			}
		} else {
			uint64_t at = q->desc + 16ull * q->pu;
			le16 f = { __atomic_load_n((uint16_t *)gptr(at + 14, 2), __ATOMIC_ACQUIRE) };
			uint16_t flags = le16_to_cpu(f);

			if (!!(flags & VIRTQ_DESC_F_AVAIL) == q->pu_wrap &&
			    !!(flags & VIRTQ_DESC_F_USED) == q->pu_wrap) {
				struct pvirtq_desc d;
				uint32_t skip;

				gread(at, &d, sizeof(d));
				*id = le16_to_cpu(d.id);
				*len = le32_to_cpu(d.len);
				CHECK(*id < q->num && q->plen[*id],
				      "packed: the device used buffer id %u, which was never made available",
				      *id);
				skip = q->plen[*id];
				q->plen[*id] = 0;
				q->pu = (uint16_t)(q->pu + skip);
				if (q->pu >= q->num) {
					q->pu = (uint16_t)(q->pu - q->num);
					q->pu_wrap = !q->pu_wrap;
				}
				return true;
			}
		}
		if (now_ms() >= end)
			return false;
		sleep_ms(1);
	}
}

void expect_used(struct hq *q, uint32_t id, uint32_t len)
{
	uint32_t i, l;

	CHECK(wait_used(q, &i, &l, G.timeout_ms), "queue %u: no used element for %u", q->index, id);
	CHECK(i == id && l == len, "queue %u: used element (id %u, len %u), expected (%u, %u)",
	      q->index, i, l, id, len);
}

void expect_no_used(struct hq *q, int ms)
{
	uint32_t i, l;

	CHECK(!wait_used(q, &i, &l, ms), "queue %u: unexpected used element (id %u, len %u)",
	      q->index, i, l);
}

bool err_signalled(struct hq *q, int ms)
{
	struct pollfd p = { q->err, POLLIN, 0 };
	eventfd_t v;

	if (poll(&p, 1, ms) <= 0)
		return false;
	return eventfd_read(q->err, &v) == 0;
}

void expect_broken(struct hq *q, const char *reason)
{
	CHECK(err_signalled(q, G.timeout_ms),
	      "queue %u: the error eventfd was not signalled (the ring should be broken: %s)",
	      q->index, reason);
	expect_no_used(q, 20);
	if (reason)
		expect_log(reason);
}

void expect_not_broken(struct hq *q, int ms)
{
	CHECK(!err_signalled(q, ms), "queue %u: the error eventfd was signalled", q->index);
}

/* ------------------------------------------------------------------ */
/* virtio-blk                                                          */

uint64_t mk_hdr(uint32_t type, uint64_t sector)
{
	struct virtio_blk_outhdr h = { cpu_to_le32(type), cpu_to_le32(0), cpu_to_le64(sector) };
	uint64_t g = galloc(16, 16);

	gwrite(g, &h, sizeof(h));
	return g;
}

uint64_t mk_status(void)
{
	uint64_t g = galloc(1, 1);

	gfill(g, 0xee, 1);
	gallow(g, 1);
	return g;
}

uint8_t status_at(uint64_t gpa)
{
	uint8_t s;

	gread(gpa, &s, 1);
	return s;
}

struct rres submit(struct hq *q, const struct buf *b, unsigned n, int indirect_at,
		   uint64_t status_gpa)
{
	struct rres r = { 0xff, 0, 0 };
	int id = post(q, b, n, indirect_at);

	CHECK(wait_used(q, &r.id, &r.len, G.timeout_ms), "queue %u: request %d not completed",
	      q->index, id);
	CHECK(r.id == (uint32_t)id, "queue %u: used id %u, expected %d", q->index, r.id, id);
	if (status_gpa)
		r.status = status_at(status_gpa);
	return r;
}

void expect_status(struct rres r, uint8_t status, uint32_t len)
{
	CHECK(r.status == status && r.len == len,
	      "completion with status %u and used length %u; expected status %u, length %u",
	      r.status, r.len, status, len);
}

struct rres blk_req(struct hq *q, uint32_t type, uint64_t sector, void *data, uint32_t dlen)
{
	bool in = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;
	struct buf b[3];
	unsigned n = 0;
	uint64_t dg = 0, st;
	struct rres r;

	b[n++] = (struct buf){ mk_hdr(type, sector), 16, false };
	if (dlen) {
		dg = galloc(dlen, 512);
		if (in)
			gallow(dg, dlen);
		else
			gwrite(dg, data, dlen);
		b[n++] = (struct buf){ dg, dlen, in };
	}
	st = mk_status();
	b[n++] = (struct buf){ st, 1, true };
	r = submit(q, b, n, DIRECT, st);
	if (r.status != VIRTIO_BLK_S_OK)
		return r;
	if (in && dlen)
		gread(dg, data, dlen);
	if (type == VIRTIO_BLK_T_OUT)
		model_write(sector * 512, data, dlen);
	if (type == VIRTIO_BLK_T_DISCARD || type == VIRTIO_BLK_T_WRITE_ZEROES)
		for (uint32_t i = 0; i + 16 <= dlen; i += 16) {
			struct virtio_blk_discard_write_zeroes s;

			memcpy(&s, (uint8_t *)data + i, 16);
			model_zero(le64_to_cpu(s.sector) * 512,
				   (uint64_t)le32_to_cpu(s.num_sectors) * 512);
		}
	return r;
}

void rw_check(struct hq *q, uint64_t sector, uint32_t len)
{
	uint8_t *w = malloc(len), *r = malloc(len);
	struct rres x;

	CHECK(w && r, "harness: out of memory");
	fill_random(w, len, G.case_no * 1000 + sector + q->index);
	x = blk_req(q, VIRTIO_BLK_T_OUT, sector, w, len);
	if (x.status || x.len != 1) {
		free(w);
		free(r);
		FAIL("queue %u: write at sector %llu: status %u, used length %u", q->index,
		     (unsigned long long)sector, x.status, x.len);
	}
	x = blk_req(q, VIRTIO_BLK_T_FLUSH, 0, NULL, 0);
	if (x.status || x.len != 1) {
		free(w);
		free(r);
		FAIL("queue %u: flush: status %u, used length %u", q->index, x.status, x.len);
	}
	memset(r, 0, len);
	x = blk_req(q, VIRTIO_BLK_T_IN, sector, r, len);
	if (x.status || x.len != len + 1 || memcmp(w, r, len)) {
		free(w);
		free(r);
		FAIL("queue %u: read back at sector %llu: status %u, used length %u, data %s",
		     q->index, (unsigned long long)sector, x.status, x.len, "differs or missing");
	}
	free(w);
	free(r);
}

void health(struct conn *c, int qi)
{
	uint64_t sector = SCRATCH_SECTOR + ((G.case_no * NQ + (unsigned)qi) * 8) % (IMG_SECTORS - SCRATCH_SECTOR);

	rw_check(&c->q[qi], sector, 4096);
}
