/* SPDX-License-Identifier: BSD-3-Clause */
/* The virtio-blk request parser: one descriptor chain in, a validated request out (VIRTIO 1.4 §5.2.6). */
#include <string.h>

#include "blk_req.h"
#include "vio/virtio_blk.h"

/* Sum of the lengths of @n iovecs; false if it overflows 64 bits. */
static bool iov_total(const struct iovec *iov, uint32_t n, uint64_t *out)
{
	uint64_t t = 0;

	for (uint32_t i = 0; i < n; i++)
		if (__builtin_add_overflow(t, (uint64_t)iov[i].iov_len, &t))
			return false;
	*out = t;
	return true;
}

/*
 * Copies @len bytes starting @skip bytes into the iovec list to @buf.
 * The caller has checked that skip + len bytes exist; false if they did not
 * (@buf then only partly written).
 */
static bool iov_copy_out(const struct iovec *iov, uint32_t n, uint64_t skip, void *buf, size_t len)
{
	uint8_t *dst = buf;

	for (uint32_t i = 0; i < n && len; i++) {
		uint64_t l = iov[i].iov_len;
		size_t take;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		take = l - skip < len ? (size_t)(l - skip) : len;
		memcpy(dst, (const uint8_t *)iov[i].iov_base + skip, take);
		dst += take;
		len -= take;
		skip = 0;
	}
	return len == 0;
}

/*
 * Describes bytes [skip, skip + len) of the iovec list as iovecs in @dst
 * (no zero-length entries). The caller has checked that the bytes exist.
 * Returns the number of iovecs, or -1 if more than @cap are needed.
 */
static int iov_slice(const struct iovec *iov, uint32_t n, uint64_t skip, uint64_t len,
		     struct iovec *dst, uint32_t cap)
{
	uint32_t k = 0;

	for (uint32_t i = 0; i < n && len; i++) {
		uint64_t l = iov[i].iov_len, take;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		take = l - skip < len ? l - skip : len;
		if (k == cap)
			return -1;
		dst[k].iov_base = (uint8_t *)iov[i].iov_base + skip;
		dst[k].iov_len = (size_t)take;
		k++;
		len -= take;
		skip = 0;
	}
	return (int)k;
}

/* Our address of the last byte of the last non-empty iovec, or NULL. */
static uint8_t *last_byte(const struct iovec *iov, uint32_t n)
{
	for (uint32_t i = n; i-- > 0;)
		if (iov[i].iov_len)
			return (uint8_t *)iov[i].iov_base + iov[i].iov_len - 1;
	return NULL;
}

/*
 * Checks that @len bytes at 512-byte @sector lie inside the disk and are
 * aligned to the logical block size; sets *off to the byte offset.
 */
static bool range_ok(const struct blk_req_limits *lim, uint64_t sector, uint64_t len, uint64_t *off)
{
	uint64_t end, cap_bytes;

	if (lim->lbs == 0 || sector > (UINT64_MAX >> VIRTIO_BLK_SECTOR_SHIFT) ||
	    lim->capacity > (UINT64_MAX >> VIRTIO_BLK_SECTOR_SHIFT))
		return false;
	*off = sector << VIRTIO_BLK_SECTOR_SHIFT;
	cap_bytes = lim->capacity << VIRTIO_BLK_SECTOR_SHIFT;
	if (__builtin_add_overflow(*off, len, &end) || end > cap_bytes)
		return false;
	return (*off % lim->lbs) == 0 && (len % lim->lbs) == 0;
}

static enum blk_req_kind finish(struct blk_req *r, uint8_t status)
{
	r->kind = BLK_REQ_STATUS;
	r->status = status;
	return r->kind;
}

/* The parts of the chain every request type looks at. */
struct chain_view {
	const struct iovec *out, *in;
	uint32_t nout, nin;
	uint64_t out_total; /* readable bytes, header included */
	uint64_t in_data;   /* writable bytes before the status byte */
};

/* READ, WRITE and GET_ID: slice the data part into @data. */
static enum blk_req_kind set_data(struct blk_req *r, enum blk_req_kind kind, const struct iovec *iov,
				  uint32_t n, uint64_t skip, uint64_t len, struct iovec *data,
				  uint32_t cap)
{
	int k = iov_slice(iov, n, skip, len, data, cap);

	if (k < 0)
		return finish(r, VIRTIO_BLK_S_IOERR);
	r->ndata = (uint32_t)k;
	r->len = len;
	r->kind = kind;
	return kind;
}

/* VIRTIO_BLK_T_IN / T_OUT (VIRTIO 1.4 §5.2.6). */
static enum blk_req_kind parse_rw(const struct chain_view *v, const struct blk_req_limits *lim,
				  uint64_t sector, struct blk_req *r, struct iovec *data,
				  uint32_t cap)
{
	bool in = r->type == VIRTIO_BLK_T_IN;
	uint64_t len = in ? v->in_data : v->out_total - sizeof(struct virtio_blk_outhdr);

	/* VIRTIO 1.4 §5.2.6.2: a write to a read-only device fails, no data written. */
	if (!in && lim->read_only)
		return finish(r, VIRTIO_BLK_S_IOERR);
	/* Multiples of 512 (VIRTIO 1.4 §5.2.6.1), here of the logical block size; inside the disk. */
	if (!range_ok(lim, sector, len, &r->offset))
		return finish(r, VIRTIO_BLK_S_IOERR);
	if (in)
		return set_data(r, BLK_REQ_READ, v->in, v->nin, 0, len, data, cap);
	return set_data(r, BLK_REQ_WRITE, v->out, v->nout, sizeof(struct virtio_blk_outhdr), len,
			data, cap);
}

/* Checks one copied segment's flags; a status to complete with, or 0. */
static uint8_t seg_flags_status(const struct virtio_blk_discard_write_zeroes *s, bool discard)
{
	uint32_t flags = le32_to_cpu(s->flags);

	/* VIRTIO 1.4 §5.2.6.2: unknown flags, and unmap on discard, are UNSUPP. */
	if (flags & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP)
		return VIRTIO_BLK_S_UNSUPP;
	if (discard && (flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP))
		return VIRTIO_BLK_S_UNSUPP;
	return VIRTIO_BLK_S_OK;
}

/* VIRTIO_BLK_T_DISCARD / T_WRITE_ZEROES (VIRTIO 1.4 §5.2.6). */
static enum blk_req_kind parse_segments(const struct chain_view *v, const struct blk_req_limits *lim,
					struct blk_req *r)
{
	struct virtio_blk_discard_write_zeroes raw[VIO_BLK_MAX_DISCARD_SEG];
	bool discard = r->type == VIRTIO_BLK_T_DISCARD;
	uint64_t dlen = v->out_total - sizeof(struct virtio_blk_outhdr);
	uint32_t n;

	if (discard ? !lim->discard : !lim->write_zeroes)
		return finish(r, VIRTIO_BLK_S_UNSUPP); /* feature not offered */
	if (lim->read_only)
		return finish(r, VIRTIO_BLK_S_IOERR);
	/* VIRTIO 1.4 §5.2.6.1: one or more 16-byte segments, at most max_*_seg. */
	if (dlen == 0 || dlen % sizeof(raw[0]) || dlen / sizeof(raw[0]) > VIO_BLK_MAX_DISCARD_SEG)
		return finish(r, VIRTIO_BLK_S_IOERR);
	n = (uint32_t)(dlen / sizeof(raw[0]));
	/* The one read of the segments out of guest memory. */
	if (!iov_copy_out(v->out, v->nout, sizeof(struct virtio_blk_outhdr), raw, (size_t)dlen))
		return finish(r, VIRTIO_BLK_S_IOERR);
	for (uint32_t i = 0; i < n; i++) {
		uint8_t st = seg_flags_status(&raw[i], discard);

		if (st != VIRTIO_BLK_S_OK)
			return finish(r, st);
	}
	for (uint32_t i = 0; i < n; i++) {
		uint32_t num = le32_to_cpu(raw[i].num_sectors);
		struct blk_seg *s = &r->seg[i];

		if (num > VIO_BLK_MAX_DISCARD_SECTORS)
			return finish(r, VIRTIO_BLK_S_IOERR);
		s->len = (uint64_t)num << VIRTIO_BLK_SECTOR_SHIFT;
		if (!range_ok(lim, le64_to_cpu(raw[i].sector), s->len, &s->offset))
			return finish(r, VIRTIO_BLK_S_IOERR);
		s->unmap = le32_to_cpu(raw[i].flags) & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;
	}
	r->nseg = n;
	r->kind = discard ? BLK_REQ_DISCARD : BLK_REQ_WRITE_ZEROES;
	return r->kind;
}

/* Fills @v from @c; false if the chain's iovec counts are inconsistent. */
static bool chain_view_init(struct chain_view *v, const struct vio_chain *c, uint64_t *in_total)
{
	if (!c->iov || c->nout > c->iov_cap || c->nin > c->iov_cap - c->nout)
		return false;
	v->out = c->iov;
	v->nout = c->nout;
	v->in = c->iov + c->nout;
	v->nin = c->nin;
	if (!iov_total(v->out, v->nout, &v->out_total) || !iov_total(v->in, v->nin, in_total))
		return false;
	return true;
}

static void req_reset(struct blk_req *r)
{
	r->kind = BLK_REQ_NO_STATUS;
	r->status = VIRTIO_BLK_S_OK;
	r->type = UINT32_MAX;
	r->status_ptr = NULL;
	r->offset = r->len = 0;
	r->ndata = r->nseg = 0;
}

enum blk_req_kind blk_req_parse(const struct vio_chain *c, const struct blk_req_limits *lim,
				struct blk_req *r, struct iovec *data, uint32_t data_cap)
{
	struct virtio_blk_outhdr hdr;
	struct chain_view v;
	uint64_t in_total = 0, sector;

	req_reset(r);
	if (!chain_view_init(&v, c, &in_total) || in_total == 0)
		return BLK_REQ_NO_STATUS; /* nowhere to put a status: used length 0 */
	/* The status is the last device-writable byte (VIRTIO 1.4 §5.2.6). */
	r->status_ptr = last_byte(v.in, v.nin);
	v.in_data = in_total - 1;
	if (v.out_total < sizeof(hdr))
		return finish(r, VIRTIO_BLK_S_IOERR);
	/* Snapshot the header once; only the copy is used from here on. */
	if (!iov_copy_out(v.out, v.nout, 0, &hdr, sizeof(hdr)))
		return finish(r, VIRTIO_BLK_S_IOERR);
	r->type = le32_to_cpu(hdr.type);
	sector = le64_to_cpu(hdr.sector);

	switch (r->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		return parse_rw(&v, lim, sector, r, data, data_cap);
	case VIRTIO_BLK_T_FLUSH:
		r->kind = BLK_REQ_FLUSH;
		return r->kind;
	case VIRTIO_BLK_T_GET_ID:
		return set_data(r, BLK_REQ_GET_ID, v.in, v.nin, 0,
				v.in_data < VIRTIO_BLK_ID_BYTES ? v.in_data : VIRTIO_BLK_ID_BYTES,
				data, data_cap);
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		return parse_segments(&v, lim, r);
	default:
		/* GET_LIFETIME, SECURE_ERASE, zoned and legacy types: not offered. */
		return finish(r, VIRTIO_BLK_S_UNSUPP);
	}
}

const char *blk_req_type_name(uint32_t type)
{
	switch (type) {
	case VIRTIO_BLK_T_IN: return "in";
	case VIRTIO_BLK_T_OUT: return "out";
	case VIRTIO_BLK_T_FLUSH: return "flush";
	case VIRTIO_BLK_T_GET_ID: return "get-id";
	case VIRTIO_BLK_T_DISCARD: return "discard";
	case VIRTIO_BLK_T_WRITE_ZEROES: return "write-zeroes";
	default: return "unknown";
	}
}
