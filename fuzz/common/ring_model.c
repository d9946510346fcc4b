/* SPDX-License-Identifier: BSD-3-Clause */
/* The parts of the ring harnesses' reference model shared by both layouts (see ring_model.h). */
#include <string.h>

#include "check.h"
#include "ring_model.h"

struct rm RM;
struct mbuf rm_bufs[RM_MAX_BUFS];

bool rm_mapped(uint64_t gpa, uint64_t len)
{
	while (len) {
		const struct guest_region *r = NULL;
		uint64_t chunk;

		for (unsigned k = 0; k < RM.G.n && !r; k++)
			if (gpa >= RM.G.r[k].gpa && gpa - RM.G.r[k].gpa < RM.G.r[k].size)
				r = &RM.G.r[k];
		if (!r)
			return false;
		chunk = r->size - (gpa - r->gpa);
		if (chunk >= len)
			return true;
		gpa += chunk;
		len -= chunk;
	}
	return true;
}

bool rm_read(uint64_t gpa, void *buf, size_t len)
{
	uint8_t *b = buf;

	for (size_t i = 0; i < len; i++) {
		uint8_t *p = guest_ptr(&RM.G, gpa + i, 1);

		if (!p)
			return false;
		b[i] = *p;
	}
	return true;
}

bool rm_add(struct mchain *c, uint64_t gpa, uint32_t len, bool w)
{
	if (!w && c->seen_w)
		return false; /* VIRTIO 1.4 §2.7.4.2, §2.8.17: readable ones first */
	if (c->out_bytes + c->in_bytes + len > (1ull << 32))
		return false; /* §2.7.5.2: at most 2^32 bytes in all */
	if (len && !rm_mapped(gpa, len))
		return false; /* DESIGN.md §4: a buffer outside guest memory breaks the ring */
	CHECK(c->nbufs < RM_MAX_BUFS, "model: too many buffers");
	c->seen_w |= w;
	if (w)
		c->in_bytes += len;
	else
		c->out_bytes += len;
	rm_bufs[c->nbufs++] = (struct mbuf){ gpa, len, w };
	return true;
}

bool rm_indirect_ok(uint64_t table, uint32_t len)
{
	uint64_t end;

	/* vio/devq.h: feature negotiated, 16..16*32768 bytes, a multiple of 16,
	 * all of the table in guest memory. */
	if (!RM.indirect || len == 0 || len % 16 || len > 16 * VIRTQ_MAX_SIZE)
		return false;
	return !__builtin_add_overflow(table, (uint64_t)len, &end) && rm_mapped(table, len);
}

bool rm_iov(const struct mchain *c, struct iovec *iov, uint32_t cap, uint32_t *n_out, uint32_t *nout)
{
	uint32_t n = 0;

	*nout = 0;
	for (uint32_t b = 0; b < c->nbufs; b++) {
		uint64_t gpa = rm_bufs[b].gpa, len = rm_bufs[b].len;

		while (len) {
			const struct guest_region *r = NULL;
			uint64_t chunk;

			for (unsigned k = 0; k < RM.G.n && !r; k++)
				if (gpa >= RM.G.r[k].gpa && gpa - RM.G.r[k].gpa < RM.G.r[k].size)
					r = &RM.G.r[k];
			CHECK(r, "model: buffer 0x%llx not mapped", (unsigned long long)gpa);
			if (n == cap)
				return false;
			chunk = r->size - (gpa - r->gpa);
			if (chunk > len)
				chunk = len;
			iov[n].iov_base = r->hva + (gpa - r->gpa);
			iov[n].iov_len = chunk;
			n++;
			if (!rm_bufs[b].w)
				*nout = n;
			gpa += chunk;
			len -= chunk;
		}
	}
	*n_out = n;
	return true;
}

void rm_check_popped(const struct vio_chain *c, uint32_t cap)
{
	uint64_t out = 0, in = 0;

	CHECK(c->nout + c->nin <= cap, "%u + %u iovecs, cap %u", c->nout, c->nin, cap);
	for (uint32_t k = 0; k < c->nout + c->nin; k++) {
		CHECK(c->iov[k].iov_len > 0, "iovec %u is empty", k);
		CHECK(guest_host_inside(&RM.G, c->iov[k].iov_base, c->iov[k].iov_len),
		      "iovec %u [%p, +%zu) outside guest memory", k, c->iov[k].iov_base,
		      c->iov[k].iov_len);
		if (k < c->nout)
			out += c->iov[k].iov_len;
		else
			in += c->iov[k].iov_len;
	}
	CHECK(out == c->out_bytes && in == c->in_bytes, "totals %llu/%llu, iovecs %llu/%llu",
	      (unsigned long long)c->out_bytes, (unsigned long long)c->in_bytes,
	      (unsigned long long)out, (unsigned long long)in);
	CHECK(c->out_bytes + c->in_bytes <= (1ull << 32), "chain of %llu bytes",
	      (unsigned long long)(c->out_bytes + c->in_bytes));
	CHECK(c->id < RM.num, "id %u", c->id);
	CHECK(c->ndesc >= 1 && c->ndesc <= RM.num, "ndesc %u", c->ndesc);
}

void rm_check_equal(const struct vio_chain *c, const struct mchain *mc, uint32_t cap)
{
	static struct iovec miov[RM_IOV_MAX_CAP];
	uint32_t mn, mnout;

	CHECK(rm_iov(mc, miov, cap, &mn, &mnout), "model: chain does not fit");
	rm_check_popped(c, cap);
	CHECK(c->nout == mnout && c->nout + c->nin == mn, "%u+%u iovecs, model %u+%u", c->nout,
	      c->nin, mnout, mn - mnout);
	CHECK(c->out_bytes == mc->out_bytes && c->in_bytes == mc->in_bytes,
	      "bytes %llu/%llu, model %llu/%llu", (unsigned long long)c->out_bytes,
	      (unsigned long long)c->in_bytes, (unsigned long long)mc->out_bytes,
	      (unsigned long long)mc->in_bytes);
	for (uint32_t k = 0; k < mn; k++)
		CHECK(c->iov[k].iov_base == miov[k].iov_base && c->iov[k].iov_len == miov[k].iov_len,
		      "iovec %u [%p, +%zu) differs from the model's [%p, +%zu)", k,
		      c->iov[k].iov_base, c->iov[k].iov_len, miov[k].iov_base, miov[k].iov_len);
}

uint64_t rm_get_addr(struct fin *f)
{
	uint8_t sel = fin_u8(f);
	const struct guest_region *r = &RM.G.r[(sel & 3) % RM.G.n];

	switch ((sel >> 2) & 7) {
	case 0:
	case 1: return r->gpa + fin_u16(f);
	case 2: return r->gpa + r->size - fin_u8(f);
	case 3: return fin_u64(f);
	case 4: return RM.ring_gpa + fin_u16(f) % (16 * RM.num);
	case 5: return r->gpa + r->size + fin_u8(f);
	case 6: return r->gpa - fin_u8(f);
	default: return r->gpa + fin_u32(f) % r->size;
	}
}

uint32_t rm_get_len(struct fin *f)
{
	uint8_t sel = fin_u8(f);

	switch (sel & 3) {
	case 0: return sel >> 2;
	case 1: return fin_u16(f);
	case 2: return fin_u32(f);
	default: return UINT32_MAX - fin_u8(f);
	}
}

static bool in_excl(uint64_t gpa)
{
	return gpa - RM.excl_gpa < RM.excl_len;
}

void rm_drv_write(uint64_t gpa, const void *buf, size_t len)
{
	const uint8_t *b = buf;

	for (size_t i = 0; i < len; i++)
		if (!in_excl(gpa + i))
			guest_write(&RM.G, gpa + i, b + i, 1);
}

unsigned rm_get_muts(struct fin *f, struct race_mut *m)
{
	unsigned n = fin_u8(f) % 9;

	for (unsigned k = 0; k < n; k++) {
		m[k].at = fin_u8(f) % 32 + 1;
		m[k].gpa = rm_get_addr(f);
		m[k].len = fin_u8(f) % 16 + 1;
		fin_bytes(f, m[k].bytes, m[k].len);
		for (unsigned b = 0; b < m[k].len; b++)
			if (in_excl(m[k].gpa + b)) {
				m[k].len = (uint8_t)b;
				break;
			}
	}
	return n;
}

void rm_setup_memory(struct fin *f, uint64_t ring_bytes)
{
	struct guest_region_spec spec[GUEST_MAX_REGIONS];
	uint8_t sel = fin_u8(f);
	unsigned n = (sel & 3) + 1;
	uint64_t gpa;

	spec[0].size = (uint32_t)(ring_bytes + fin_u16(f));
	spec[0].at_end = false;
	/* Low in the address space, or within a few MiB of its top (overflow checks). */
	gpa = fin_u8(f) & 1 ? UINT64_MAX - spec[0].size - fin_u16(f) * 0x1000ull - 0x100000
			    : (uint64_t)fin_u16(f) << 12;
	spec[0].gpa = gpa;
	gpa += spec[0].size;
	for (unsigned k = 1; k < n; k++) {
		uint8_t g = fin_u8(f);

		spec[k].size = (uint32_t)fin_u16(f) + 1;
		spec[k].at_end = (sel >> (1 + k)) & 1;
		/* Adjacent (a buffer spans two regions), a small hole, or far away. */
		gpa += g == 0 ? 0 : g < 128 ? g : (uint64_t)g << 20;
		spec[k].gpa = gpa;
		gpa += spec[k].size;
	}
	guest_setup(&RM.G, spec, n);
	CHECK(RM.G.n >= 1 && RM.G.r[0].gpa == spec[0].gpa, "region 0 refused");
	RM.ring_gpa = RM.G.r[0].gpa;
}
