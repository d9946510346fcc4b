/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Hostile guest, ring level: what the device reads rewritten while in use,
 * rings on top of each other or of the data, Queue Sizes at the bounds, the
 * layout switched under running queues (the table is in rings.c).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "rings.h"

/* ---- the guest rewrites what the device reads (DESIGN §4 "Snapshot, validate, use") ---- */

struct flipper {
	volatile uint32_t *len;   /* a descriptor's len: 512 or far outside memory */
	volatile uint64_t *sector; /* a header's sector: inside the disk, or just past it */
	uint64_t good_sector;
	bool stop;                /* set by the main thread: atomic accesses only */
	unsigned long flips;      /* read after the join */
};

static void *flip(void *arg)
{
	struct flipper *f = arg;

	while (!__atomic_load_n(&f->stop, __ATOMIC_RELAXED)) {
		__atomic_store_n(f->len, cpu_to_le32(0x7ffff000u).v, __ATOMIC_RELAXED);
		__atomic_store_n(f->sector, cpu_to_le64(IMG_SECTORS).v, __ATOMIC_RELAXED);
		__atomic_store_n(f->len, cpu_to_le32(512).v, __ATOMIC_RELAXED);
		__atomic_store_n(f->sector, cpu_to_le64(f->good_sector).v, __ATOMIC_RELAXED);
		f->flips++;
	}
	return NULL;
}

/*
 * A thread of the guest keeps flipping a write's data length (512 bytes,
 * or 2 GiB: outside memory) and its sector (inside the disk, or just past
 * it) while the device reads them. Whatever the device saw, it must have
 * seen one version: 512 bytes written at the good sector (OK), nothing
 * written (IOERR), or the ring broken. A device that validated one
 * version and used another would write past the end of the image (it grows)
 * or write 2 GiB from guest memory.
 */
void split_descriptor_and_header_rewritten_while_in_use(void)
{
	struct conn *c = std_conn(false, QSIZE);
	struct hq *q = &c->q[0];
	uint64_t hdr = mk_hdr(VIRTIO_BLK_T_OUT, 128), d = galloc(512, 512), st = mk_status();
	struct flipper f = { 0 };
	uint8_t data[512];
	unsigned ok = 0, ioerr = 0;
	bool broken = false;
	pthread_t t;

	memset(data, 0xa7, sizeof(data));
	gwrite(d, data, sizeof(data));
	sdesc(q, 0, hdr, 16, NEXT, 1);
	sdesc(q, 1, d, 512, NEXT, 2);
	sdesc(q, 2, st, 1, WR, 0);
	f.len = (volatile uint32_t *)gptr(q->desc + 16 + 8, 4);
	f.sector = (volatile uint64_t *)gptr(hdr + 8, 8);
	f.good_sector = 128;
	CHECK(!pthread_create(&t, NULL, flip, &f), "pthread_create");
	for (int i = 0; i < 300 && !broken; i++) {
		uint32_t id, len;

		gfill(st, 0xee, 1);
		avail_put(q, 0);
		kick(q);
		if (!wait_used(q, &id, &len, wait_ms())) {
			broken = err_signalled(q, wait_ms());
			CHECK(broken, "request %d neither completed nor broke the ring", i);
			break;
		}
		CHECK(id == 0 && len == 1, "used (%u, %u)", id, len);
		if (status_at(st) == VIRTIO_BLK_S_OK) {
			ok++;
			model_write(128 * 512, data, 512);
		} else {
			CHECK(status_at(st) == VIRTIO_BLK_S_IOERR, "status %u", status_at(st));
			ioerr++;
		}
	}
	__atomic_store_n(&f.stop, true, __ATOMIC_RELAXED);
	pthread_join(t, NULL);
	/* The flipper wrote behind the shadow's back: make them agree again. */
	sdesc(q, 1, d, 512, NEXT, 2);
	gwrite(hdr, &(struct virtio_blk_outhdr){ cpu_to_le32(VIRTIO_BLK_T_OUT), cpu_to_le32(0),
						 cpu_to_le64(128) }, 16);
	note("%u written, %u IOERR, ring %s (%lu flips)", ok, ioerr, broken ? "broken" : "intact",
	     f.flips);
	if (broken) {
		expect_log("outside guest memory");
		after_break(c, 0);
	} else {
		q->next_desc = 3;
		health(c, 0);
	}
}

/* ---- rings placed on top of each other or of the data ---- */

/*
 * The used ring is the descriptor table (the front-end gave one address
 * for both): every used element the device writes corrupts descriptors it
 * reads later. Served or broken, nothing else.
 */
void split_used_ring_on_the_descriptor_table(void)
{
	struct conn *c = conn_open();
	struct hq *q = &c->q[0];
	unsigned served = 0;

	conn_handshake(c, F_STD, P_STD);
	conn_mem_table(c);
	q_setup(c, 1, false, QSIZE);
	q_alloc(c, 0, false, QSIZE);
	q->used = q->desc;
	gallow(q->desc, 16 * QSIZE);
	q_start(c, 0, 0);
	for (int i = 0; i < 4; i++) {
		uint64_t dg = galloc(20, 4), st = mk_status();
		struct buf b[3] = { { mk_hdr(VIRTIO_BLK_T_GET_ID, 0), 16, false }, { dg, 20, true },
				    { st, 1, true } };
		uint32_t i_, l_;

		gallow(dg, 20);
		post(q, b, 3, 0);
		if (!wait_used(q, &i_, &l_, 300))
			break;
		served++;
	}
	if (err_signalled(q, 200))
		note("%u served, then the ring broke", served);
	else
		note("%u served", served);
	health(c, 1);
	q->used = galloc(6 + 8 * QSIZE, 4);
	q_reset_restart(c, 0);
}

/* Both queues on the same rings: two queue threads on one ring. */
void two_queues_on_the_same_rings(void)
{
	struct conn *c = conn_open();
	unsigned done = 0;

	conn_handshake(c, F_STD, P_STD);
	conn_mem_table(c);
	q_alloc(c, 0, false, QSIZE);
	q_alloc(c, 1, false, QSIZE);
	c->q[1].desc = c->q[0].desc;
	c->q[1].avail = c->q[0].avail;
	c->q[1].used = c->q[0].used;
	q_start(c, 0, 0);
	q_start(c, 1, 0);
	for (int i = 0; i < 5; i++) {
		uint64_t dg = galloc(4096, 512), st = mk_status();
		struct buf b[3] = { { mk_hdr(VIRTIO_BLK_T_IN, (uint64_t)i * 8), 16, false },
				    { dg, 4096, true }, { st, 1, true } };

		gallow(dg, 4096);
		avail_entry(&c->q[0], (uint16_t)i, (uint16_t)write_chain(&c->q[0], b, 3, DIRECT));
	}
	avail_publish(&c->q[0], 5);
	kick(&c->q[0]);
	kick(&c->q[1]);
	sleep_ms(200);
	for (uint32_t id, len; wait_used(&c->q[0], &id, &len, 0);)
		done++;
	note("%u used elements; queue 0 %s, queue 1 %s", done,
	     err_signalled(&c->q[0], 0) ? "broken" : "intact",
	     err_signalled(&c->q[1], 0) ? "broken" : "intact");
	/* Both back on rings of their own. */
	q_reset_restart(c, 0);
	q_reset_restart(c, 1);
}

/*
 * A read whose data buffer is the queue's own available and used rings:
 * the device overwrites the ring it serves with disk data. The next pops
 * find a garbage index: served or broken, nothing else.
 */
void split_read_into_the_rings(void)
{
	struct conn *c = conn_open();
	struct hq *q = &c->q[0];
	uint64_t len, st;
	struct buf b[3];

	conn_handshake(c, F_STD, P_STD);
	conn_mem_table(c);
	q_setup(c, 1, false, QSIZE);
	q_setup(c, 0, false, QSIZE);
	(void)galloc(1024, 16); /* the read rounds up to 512 bytes: room after queue 0's rings */
	len = ((q->used + 6 + 8 * QSIZE) - q->avail + 511) & ~511ull;
	st = mk_status();
	b[0] = (struct buf){ mk_hdr(VIRTIO_BLK_T_IN, 0), 16, false };
	b[1] = (struct buf){ q->avail, (uint32_t)len, true };
	b[2] = (struct buf){ st, 1, true };
	gallow(q->avail, len);
	post(q, b, 3, DIRECT);
	sleep_ms(200);
	note("ring %s", err_signalled(q, 0) ? "broken" : "not broken");
	health(c, 1);
	q_reset_restart(c, 0);
}

/* Boundaries: Queue Size 1 (split, with an indirect table) and 5 (packed: any size). */
void split_queue_of_size_1(void)
{
	struct conn *c = conn_open();
	struct hq *q = &c->q[0];

	conn_handshake(c, F_STD, P_STD);
	conn_mem_table(c);
	q_setup(c, 0, false, 1);
	q_setup(c, 1, false, QSIZE);

	for (int i = 0; i < 3; i++) {
		uint64_t dg = galloc(1024, 512), st = mk_status();
		uint8_t got[1024];
		struct buf b[3] = { { mk_hdr(VIRTIO_BLK_T_IN, 10), 16, false }, { dg, 1024, true },
				    { st, 1, true } };

		gallow(dg, 1024);
		expect_status(submit(q, b, 3, 0, st), VIRTIO_BLK_S_OK, 1025);
		gread(dg, got, sizeof(got));
		CHECK(!memcmp(got, model() + 10 * 512, sizeof(got)), "read differs");
	}
	health(c, 1);
}

void packed_queue_of_size_5(void)
{
	struct conn *c = std_conn(true, 5);

	for (int i = 0; i < 6; i++)
		health(c, i % NQ);
}

/*
 * SET_FEATURES switches running split queues to the packed layout: the
 * device now reads the split rings as packed ones. Nothing in them is
 * available in the packed sense; the device must not write outside them,
 * nor touch the disk. Switching back cannot resume (the packed base is no
 * split base): the rings are reset.
 */
void features_switch_the_layout_of_running_rings(void)
{
	struct conn *c = std_conn(false, QSIZE);

	health(c, 0);
	send_u64_ok(c, VHOST_USER_SET_FEATURES, F_STD | VIO_BIT(VIRTIO_F_RING_PACKED));
	kick(&c->q[0]);
	kick(&c->q[1]);
	sleep_ms(100);
	send_u64_ok(c, VHOST_USER_SET_FEATURES, F_STD);
	q_reset_restart(c, 0);
	q_reset_restart(c, 1);
}
