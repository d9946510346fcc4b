/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness: the virtio-blk request parser (src/dev/blk_req.c) over
 * descriptor chains built from the input.
 *
 * Each iovec of the chain is placed in guest memory (common/guest.h): up to
 * four regions, each against a PROT_NONE guard page, the bytes between
 * iovecs ASan-poisoned. The parse always runs in a race window, so every
 * access it makes to guest memory is logged: it must read only inside the
 * chain's device-readable iovecs and write nothing (blk_req.h: "writes only
 * to its output"). Optionally the input rewrites the bytes between the
 * parser's reads; the header must still be read once (no double fetch).
 *
 * Checked against blk_req.h and an independent reading of VIRTIO 1.4 §5.2.6:
 *   - the status pointer is the last byte of the last non-empty writable
 *     iovec, or NULL (and kind NO_STATUS) when there is none or the iovec
 *     counts or totals are inconsistent;
 *   - the data iovecs are exactly the data part: inside the chain's iovecs
 *     of the right direction, header and status byte excluded, no empty
 *     entries, at most data_cap of them, summing to r->len;
 *   - without mutations, the kind, status, offset, length and segments are
 *     what the request says (model below).
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "common/check.h"
#include "common/fuzz_input.h"
#include "common/guest.h"
#include "dev/blk_req.h"
#include "vio/virtio_blk.h"

#define MAX_IOV 24u
#define BACK_MAX 1024u /* bytes backing an iovec longer than it can be backed */
#define REGION_MAX (GUEST_SLOT_BYTES / 2)

static struct guest G;
static struct iovec iov[MAX_IOV], data[MAX_IOV + 2];
static size_t backed[MAX_IOV]; /* bytes really there at iov_base */

/* Bytes [skip, skip + len) of the iovec list, as the parser must describe them. */
static uint32_t slice(const struct iovec *v, uint32_t n, uint64_t skip, uint64_t len,
		      struct iovec *out, uint32_t cap, bool *fits)
{
	uint32_t k = 0;

	*fits = true;
	for (uint32_t i = 0; i < n && len; i++) {
		uint64_t l = v[i].iov_len, take;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		take = l - skip < len ? l - skip : len;
		if (k == cap) {
			*fits = false;
			return k;
		}
		out[k].iov_base = (uint8_t *)v[i].iov_base + skip;
		out[k].iov_len = (size_t)take;
		k++;
		len -= take;
		skip = 0;
	}
	return k;
}

/* Copies bytes [skip, skip + len) of the readable iovecs (all within what is backed). */
static void gather(const struct iovec *v, uint32_t n, uint64_t skip, void *buf, size_t len)
{
	uint8_t *b = buf;

	for (uint32_t i = 0; i < n && len; i++) {
		uint64_t l = v[i].iov_len;
		size_t take;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		take = l - skip < len ? (size_t)(l - skip) : len;
		CHECK(skip + take <= backed[i], "harness: gather past the backing");
		memcpy(b, (uint8_t *)v[i].iov_base + skip, take);
		b += take;
		len -= take;
		skip = 0;
	}
}

static bool sum(const struct iovec *v, uint32_t n, uint64_t *t)
{
	*t = 0;
	for (uint32_t i = 0; i < n; i++)
		if (__builtin_add_overflow(*t, (uint64_t)v[i].iov_len, t))
			return false;
	return true;
}

/* The lbs-aligned range [sector * 512, + len) inside the disk. */
static bool range_ok(const struct blk_req_limits *lim, uint64_t sector, uint64_t len, uint64_t *off)
{
	unsigned __int128 end = ((unsigned __int128)sector << 9) + len;

	*off = sector << 9;
	return sector <= (UINT64_MAX >> 9) && lim->capacity <= (UINT64_MAX >> 9) &&
	       end <= ((unsigned __int128)lim->capacity << 9) && *off % lim->lbs == 0 &&
	       len % lim->lbs == 0;
}

/* The data iovecs are exactly bytes [skip, skip + len) of @v: trimmed iovecs, none empty. */
static void check_data(const struct blk_req *r, const struct iovec *v, uint32_t n, uint64_t skip,
		       uint64_t len, uint32_t cap)
{
	static struct iovec want[MAX_IOV + 2];
	uint64_t t = 0;
	bool fits;
	uint32_t k = slice(v, n, skip, len, want, cap, &fits);

	CHECK(fits, "harness: slice does not fit");
	CHECK(r->ndata == k, "%u data iovecs, model %u", r->ndata, k);
	for (uint32_t i = 0; i < k; i++) {
		CHECK(data[i].iov_base == want[i].iov_base && data[i].iov_len == want[i].iov_len,
		      "data iovec %u [%p, +%zu), model [%p, +%zu)", i, data[i].iov_base,
		      data[i].iov_len, want[i].iov_base, want[i].iov_len);
		t += data[i].iov_len;
	}
	CHECK(t == r->len && t == len, "data %llu bytes, r->len %llu, model %llu",
	      (unsigned long long)t, (unsigned long long)r->len, (unsigned long long)len);
}

/* Would the data slice fit in @cap iovecs? */
static bool slice_fits(const struct iovec *v, uint32_t n, uint64_t skip, uint64_t len, uint32_t cap)
{
	static struct iovec tmp[MAX_IOV + 2];
	bool fits;

	slice(v, n, skip, len, tmp, cap, &fits);
	return fits;
}

/* What blk_req_parse() must say about a chain no one changes under it. */
static void check_model(const struct vio_chain *c, const struct blk_req_limits *lim,
			const struct blk_req *r, uint32_t cap, uint64_t out_total, uint64_t in_total)
{
	const struct iovec *out = c->iov, *in = c->iov + c->nout;
	struct virtio_blk_outhdr h;
	uint64_t sector, off, len;
	uint32_t type;

	if (out_total < sizeof(h)) {
		CHECK(r->kind == BLK_REQ_STATUS && r->status == VIRTIO_BLK_S_IOERR,
		      "short header: kind %d status %u", r->kind, r->status);
		return;
	}
	gather(out, c->nout, 0, &h, sizeof(h));
	type = le32_to_cpu(h.type);
	sector = le64_to_cpu(h.sector);
	CHECK(r->type == type, "type %u, header says %u", r->type, type);
	switch (type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT: {
		bool is_in = type == VIRTIO_BLK_T_IN;

		len = is_in ? in_total - 1 : out_total - sizeof(h);
		if ((!is_in && lim->read_only) || !range_ok(lim, sector, len, &off) ||
		    !(is_in ? slice_fits(in, c->nin, 0, len, cap)
			    : slice_fits(out, c->nout, sizeof(h), len, cap))) {
			CHECK(r->kind == BLK_REQ_STATUS && r->status == VIRTIO_BLK_S_IOERR,
			      "bad %s: kind %d status %u", is_in ? "read" : "write", r->kind, r->status);
			return;
		}
		CHECK(r->kind == (is_in ? BLK_REQ_READ : BLK_REQ_WRITE) && r->offset == off,
		      "%s at %llu: kind %d offset %llu", is_in ? "read" : "write",
		      (unsigned long long)off, r->kind, (unsigned long long)r->offset);
		if (is_in)
			check_data(r, in, c->nin, 0, len, cap);
		else
			check_data(r, out, c->nout, sizeof(h), len, cap);
		return;
	}
	case VIRTIO_BLK_T_FLUSH:
		CHECK(r->kind == BLK_REQ_FLUSH, "flush: kind %d", r->kind);
		return;
	case VIRTIO_BLK_T_GET_ID:
		len = in_total - 1 < VIRTIO_BLK_ID_BYTES ? in_total - 1 : VIRTIO_BLK_ID_BYTES;
		if (!slice_fits(in, c->nin, 0, len, cap)) {
			CHECK(r->kind == BLK_REQ_STATUS && r->status == VIRTIO_BLK_S_IOERR,
			      "get-id: kind %d", r->kind);
			return;
		}
		CHECK(r->kind == BLK_REQ_GET_ID, "get-id: kind %d", r->kind);
		check_data(r, in, c->nin, 0, len, cap);
		return;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES: {
		static struct virtio_blk_discard_write_zeroes seg[VIO_BLK_MAX_DISCARD_SEG];
		bool discard = type == VIRTIO_BLK_T_DISCARD, flag_err = false, range_err = false;
		uint64_t dlen = out_total - sizeof(h);
		uint32_t n;

		if (discard ? !lim->discard : !lim->write_zeroes) {
			CHECK(r->kind == BLK_REQ_STATUS && r->status == VIRTIO_BLK_S_UNSUPP,
			      "segments without the feature: kind %d status %u", r->kind, r->status);
			return;
		}
		if (lim->read_only || dlen == 0 || dlen % 16 || dlen / 16 > VIO_BLK_MAX_DISCARD_SEG) {
			CHECK(r->kind == BLK_REQ_STATUS && r->status == VIRTIO_BLK_S_IOERR,
			      "bad segments: kind %d status %u", r->kind, r->status);
			return;
		}
		n = (uint32_t)(dlen / 16);
		gather(out, c->nout, sizeof(h), seg, (size_t)dlen);
		for (uint32_t i = 0; i < n; i++) {
			uint32_t fl = le32_to_cpu(seg[i].flags), num = le32_to_cpu(seg[i].num_sectors);

			/* §5.2.6.2: reserved flags, or unmap on a discard: UNSUPP. */
			if ((fl & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) ||
			    (discard && (fl & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP)))
				flag_err = true;
			if (num > VIO_BLK_MAX_DISCARD_SECTORS ||
			    !range_ok(lim, le64_to_cpu(seg[i].sector), (uint64_t)num << 9, &off))
				range_err = true;
		}
		if (flag_err || range_err) {
			/* Which one wins when both occur is the device's choice. */
			CHECK(r->kind == BLK_REQ_STATUS &&
			      ((flag_err && r->status == VIRTIO_BLK_S_UNSUPP) ||
			       (range_err && r->status == VIRTIO_BLK_S_IOERR)),
			      "bad segment: kind %d status %u (flags %d range %d)", r->kind, r->status,
			      flag_err, range_err);
			return;
		}
		CHECK(r->kind == (discard ? BLK_REQ_DISCARD : BLK_REQ_WRITE_ZEROES) && r->nseg == n,
		      "segments: kind %d nseg %u, model %u", r->kind, r->nseg, n);
		for (uint32_t i = 0; i < n; i++) {
			range_ok(lim, le64_to_cpu(seg[i].sector),
				 (uint64_t)le32_to_cpu(seg[i].num_sectors) << 9, &off);
			CHECK(r->seg[i].offset == off &&
			      r->seg[i].len == (uint64_t)le32_to_cpu(seg[i].num_sectors) << 9 &&
			      r->seg[i].unmap == !!(le32_to_cpu(seg[i].flags) & 1),
			      "segment %u differs from the model", i);
		}
		return;
	}
	default:
		CHECK(r->kind == BLK_REQ_STATUS && r->status == VIRTIO_BLK_S_UNSUPP,
		      "type %u: kind %d status %u", type, r->kind, r->status);
	}
}

/* The promises that hold whatever the driver did to the chain meanwhile. */
static void check_always(const struct vio_chain *c, const struct blk_req *r, uint32_t cap,
			 bool consistent, bool totals_ok, uint64_t out_total, uint64_t in_total)
{
	const struct iovec *in = c->iov + c->nout;
	uint8_t *last = NULL;

	CHECK(r->kind >= BLK_REQ_NO_STATUS && r->kind <= BLK_REQ_WRITE_ZEROES, "kind %d", r->kind);
	if (!consistent || !totals_ok || in_total == 0) {
		CHECK(r->kind == BLK_REQ_NO_STATUS && !r->status_ptr,
		      "no status byte possible, yet kind %d status_ptr %p", r->kind,
		      (void *)r->status_ptr);
		return;
	}
	for (uint32_t i = c->nin; i-- > 0;)
		if (in[i].iov_len) {
			last = (uint8_t *)in[i].iov_base + in[i].iov_len - 1;
			break;
		}
	CHECK(r->kind != BLK_REQ_NO_STATUS && r->status_ptr == last,
	      "status_ptr %p, the last writable byte is %p (kind %d)", (void *)r->status_ptr,
	      (void *)last, r->kind);
	if (r->kind == BLK_REQ_STATUS)
		CHECK(r->status == VIRTIO_BLK_S_IOERR || r->status == VIRTIO_BLK_S_UNSUPP,
		      "status %u", r->status);
	if (r->kind != BLK_REQ_READ && r->kind != BLK_REQ_WRITE && r->kind != BLK_REQ_GET_ID)
		return;
	CHECK(r->ndata <= cap, "%u data iovecs, cap %u", r->ndata, cap);
	/* The data part, by position in the chain (iovecs may alias each other, as
	 * a driver's descriptors may): reads and get-id fill the writable bytes
	 * before the status byte, writes take the readable bytes after the header. */
	if (r->kind == BLK_REQ_WRITE) {
		CHECK(r->len <= out_total - sizeof(struct virtio_blk_outhdr),
		      "write of %llu bytes, %llu after the header", (unsigned long long)r->len,
		      (unsigned long long)(out_total - 16));
		check_data(r, c->iov, c->nout, sizeof(struct virtio_blk_outhdr), r->len, cap);
	} else {
		CHECK(r->len <= in_total - 1, "%llu data bytes, %llu before the status byte",
		      (unsigned long long)r->len, (unsigned long long)(in_total - 1));
		check_data(r, in, c->nin, 0, r->len, cap);
	}
}

static uint64_t get_iov_len(struct fin *f)
{
	uint8_t sel = fin_u8(f);

	switch (sel & 7) {
	case 0: return 0;
	case 1:
	case 2: return 1 + (sel >> 3);            /* 1..32 */
	case 3: return 16;                         /* exactly a header */
	case 4: return fin_u16(f) % 9000;          /* up to a few blocks */
	case 5: return (uint64_t)fin_u16(f) << 9;  /* whole sectors */
	case 6: return fin_u64(f);                 /* anything (clamped below) */
	default: return (1ull << 63) + fin_u8(f);  /* two of them overflow a sum */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t size)
{
	struct guest_region_spec spec[GUEST_MAX_REGIONS];
	uint8_t where[MAX_IOV], gap[MAX_IOV];
	uint64_t off_in_region[MAX_IOV], prev_end[MAX_IOV], used[GUEST_MAX_REGIONS] = { 0 };
	struct race_mut muts[8];
	unsigned nmuts = 0;
	struct blk_req_limits lim;
	struct blk_req r;
	struct vio_chain c = { .iov = iov };
	const struct race_log *log;
	uint64_t out_total = 0, in_total = 0;
	bool consistent, totals_ok;
	struct fin in;
	uint8_t b0, csel;
	uint32_t n, cap;

	fin_init(&in, d, size);
	b0 = fin_u8(&in);
	lim.lbs = 512u << (b0 & 3);
	lim.read_only = b0 & 4;
	lim.discard = b0 & 8;
	lim.write_zeroes = b0 & 16;
	csel = fin_u8(&in);
	switch (csel & 3) {
	case 0: lim.capacity = (uint64_t)(csel >> 2) * (lim.lbs / 512); break;
	case 1: lim.capacity = (uint64_t)fin_u32(&in) * (lim.lbs / 512); break;
	case 2: lim.capacity = fin_u64(&in); break;
	default: lim.capacity = (UINT64_MAX >> 9) - (csel >> 2) + 1; break;
	}
	c.nout = fin_u8(&in) % (MAX_IOV / 2 + 1);
	c.nin = fin_u8(&in) % (MAX_IOV / 2 + 1);
	n = c.nout + c.nin;
	c.iov_cap = n;
	if (b0 & 32) /* counts the chain cannot have: the parser must refuse them */
		c.iov_cap = n ? n - 1 - fin_u8(&in) % n : 0;
	cap = fin_u8(&in) % (n + 2);

	/* Lay out the iovecs: region, gap before, length, backing. */
	for (uint32_t i = 0; i < n; i++) {
		uint8_t s = fin_u8(&in);
		uint64_t len = get_iov_len(&in);

		where[i] = s & 3;
		gap[i] = s & 4 ? 8 : 0;
		backed[i] = len > 8192 ? BACK_MAX : (size_t)len;
		if (used[where[i]] + gap[i] + backed[i] > REGION_MAX) {
			len = backed[i] = 0;
			gap[i] = 0;
		}
		prev_end[i] = used[where[i]];
		if (gap[i])
			used[where[i]] = (used[where[i]] + gap[i] + 7) & ~7ull;
		off_in_region[i] = used[where[i]];
		used[where[i]] += backed[i];
		iov[i].iov_len = (size_t)len;
	}
	for (unsigned k = 0; k < GUEST_MAX_REGIONS; k++) {
		spec[k].gpa = 0x100000ull * (k + 1);
		spec[k].size = (uint32_t)(used[k] ? used[k] : 1);
		/* End-aligned: the last iovec's last byte touches the guard page. */
		spec[k].at_end = !((b0 >> 6) & 1) || k > 1;
	}
	CHECK(guest_setup(&G, spec, GUEST_MAX_REGIONS) == GUEST_MAX_REGIONS, "harness: regions");
	for (uint32_t i = 0; i < n; i++) {
		uint8_t *base = G.r[where[i]].hva + off_in_region[i];
		size_t fill = backed[i] < 16 + 16 * VIO_BLK_MAX_DISCARD_SEG + 16 ? backed[i]
			      : 16 + 16 * VIO_BLK_MAX_DISCARD_SEG + 16;

		iov[i].iov_base = base;
		/* An iovec is memory: it does not wrap around the address space
		 * (the ring layer's never do: vio_mem_add() refuses such regions). */
		if (iov[i].iov_len > UINTPTR_MAX - (uintptr_t)base)
			iov[i].iov_len = UINTPTR_MAX - (uintptr_t)base;
		if (i < c.nout)
			fin_bytes(&in, base, fill);
		if (gap[i]) /* a read between two iovecs is an ASan report */
			guest_poison(G.r[where[i]].hva + prev_end[i], off_in_region[i] - prev_end[i]);
	}
	if (b0 & 128)
		nmuts = fin_u8(&in) % 9;
	for (unsigned k = 0; k < nmuts; k++) {
		uint32_t i = n ? fin_u8(&in) % n : 0;

		muts[k].at = fin_u8(&in) % 8 + 1;
		muts[k].gpa = G.r[n ? where[i] : 0].gpa + (n ? off_in_region[i] : 0) + fin_u8(&in) % 32;
		muts[k].len = fin_u8(&in) % 16 + 1;
		fin_bytes(&in, muts[k].bytes, muts[k].len);
	}

	consistent = c.nout <= c.iov_cap && c.nin <= c.iov_cap - c.nout;
	totals_ok = sum(iov, c.nout, &out_total) && sum(iov + c.nout, c.nin, &in_total);
	c.out_bytes = out_total;
	c.in_bytes = in_total;

	race_begin(&G, muts, nmuts);
	blk_req_parse(&c, &lim, &r, data, cap);
	log = race_end();

	/* Reads only inside the device-readable iovecs (their backed part); no writes. */
	for (uint32_t k = 0; k < log->nlog; k++) {
		const struct race_access *a = &log->log[k];
		bool inside = false;

		CHECK(!a->write, "the parser wrote guest memory at %p", (void *)a->addr);
		for (uint32_t i = 0; i < c.nout && !inside; i++)
			inside = a->addr >= (uintptr_t)iov[i].iov_base &&
				 a->addr - (uintptr_t)iov[i].iov_base < backed[i];
		CHECK(inside, "the parser read %p, outside the readable iovecs", (void *)a->addr);
	}
	{
		int df = race_double_fetch(log);

		CHECK(df < 0, "double fetch: %p read again by the instruction at %p",
		      (void *)log->log[df].addr, (void *)log->log[df].ip);
	}
	check_always(&c, &r, cap, consistent, totals_ok, out_total, in_total);
	if (!nmuts && consistent && totals_ok && in_total)
		check_model(&c, &lim, &r, cap, out_total, in_total);
	return 0;
}
