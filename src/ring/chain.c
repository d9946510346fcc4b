/* SPDX-License-Identifier: BSD-3-Clause */
/* Accumulating the buffers of a descriptor chain into iovecs, with the checks common to both layouts. */
#include <errno.h>

#include "devq_impl.h"

/* Largest indirect table we walk: one full queue (VIRTIO 1.4 §2.7.5.3.1, §2.8.19). */
#define INDIRECT_MAX_BYTES (16ull * VIRTQ_MAX_SIZE)

int chain_indirect_check(struct vio_devq *q, uint64_t table, uint32_t len)
{
	uint64_t end;

	if (!q->indirect)
		return devq_fail(q, "VIRTQ_DESC_F_INDIRECT without VIRTIO_F_INDIRECT_DESC");
	if (len == 0 || len % 16 || len > INDIRECT_MAX_BYTES)
		return devq_fail(q, "indirect table length not a multiple of 16 in 16..16*32768");
	if (__builtin_add_overflow(table, (uint64_t)len, &end))
		return devq_fail(q, "indirect table address overflows");
	/* The driver hands over the whole table [addr, addr + len): all of it
	 * must be guest memory, even entries the chain never reaches. */
	if (vio_mem_gpa_check(q->mem, table, len))
		return devq_fail(q, "indirect table outside guest memory");
	return 0;
}

int chain_add_slow(struct vio_devq *q, struct chain_walk *w, uint64_t addr, uint32_t len,
		   bool writable)
{
	struct vio_chain *c = w->c;
	uint32_t used = c->nout + c->nin;
	int n = 0;

	/* VIRTIO 1.4 §2.7.4.2 / §2.8.17: device-readable parts come first. */
	if (!writable && w->seen_writable)
		return devq_fail(q, "device-readable descriptor after a device-writable one");
	if (c->out_bytes + c->in_bytes + len > CHAIN_MAX_BYTES)
		return devq_fail(q, "descriptor chain longer than 2^32 bytes");
	if (writable)
		w->seen_writable = true;
	if (!w->overflow) {
		void *p;

		/* No &c->iov[used] when there is no room: iov may be NULL with a cap of 0. */
		if (used < c->iov_cap && (p = mem_gpa_ptr_lookup(q->mem, addr, len, &q->mem_hint))) {
			/* All of it inside one region, not the last one used
			 * (chain_add() tried that): remember this one. NULL for
			 * a zero length, a range across regions or outside them,
			 * which vio_mem_gpa_iov() below sorts out. */
			c->iov[used].iov_base = p;
			c->iov[used].iov_len = len;
			n = 1;
		} else if (used < c->iov_cap) {
			n = vio_mem_gpa_iov(q->mem, addr, len, &c->iov[used], c->iov_cap - used);
		} else {
			n = len ? -ENOBUFS : 0;
		}
		if (n == -ENOBUFS)
			w->overflow = true;
		else if (n < 0)
			return devq_fail(q, "buffer outside guest memory");
	}
	if (w->overflow) {
		/* Keep validating the chain; its iovecs no longer fit. */
		if (vio_mem_gpa_check(q->mem, addr, len))
			return devq_fail(q, "buffer outside guest memory");
		n = 0;
	}
	if (writable) {
		c->nin += (uint32_t)n;
		c->in_bytes += len;
	} else {
		c->nout += (uint32_t)n;
		c->out_bytes += len;
	}
	return 0;
}
