/* SPDX-License-Identifier: BSD-3-Clause */
/* Hostile guest, ring level: malformed packed virtqueues (the table is in rings.c). */
#include <stdlib.h>
#include <string.h>

#include "rings.h"

/* ---- packed (VIRTIO 1.4 §2.8) ---- */

void packed_buffer_id_out_of_range(void)
{
	struct conn *c = std_conn(true, QSIZE);
	struct hq *q = &c->q[0];
	struct pd d[2] = { { hdr_in(), 16, QSIZE, NEXT }, { st_untouchable(), 1, QSIZE, WR } };

	plist(q, d, 2);
	kick(q);
	expect_broken(q, "buffer id out of range");
	after_break(c, 0);
}

void packed_buffer_id_0xffff(void)
{
	struct conn *c = std_conn(true, QSIZE);
	struct hq *q = &c->q[0];
	struct pd d[1] = { { galloc(1, 1), 1, 0xffff, WR } };

	plist(q, d, 1);
	kick(q);
	expect_broken(q, "buffer id out of range");
	after_break(c, 0);
}

/* DESIGN §4: a buffer id already in flight is a violation. Both lists seen at one kick; FLUSHes (see split_head_already_in_flight). */
void packed_buffer_id_reused_while_in_flight(void)
{
	struct conn *c = std_conn(true, QSIZE);
	struct hq *q = &c->q[0];
	struct pd a[2] = { { mk_hdr(VIRTIO_BLK_T_FLUSH, 0), 16, 5, NEXT }, { mk_status(), 1, 5, WR } };
	struct pd b[2] = { { mk_hdr(VIRTIO_BLK_T_FLUSH, 0), 16, 5, NEXT }, { st_untouchable(), 1, 5, WR } };

	/* The queue thread sleeps until the kick: it sees both lists at once. */
	plist(q, a, 2);
	plist(q, b, 2);
	kick(q);
	expect_broken(q, "already in flight");
	after_break(c, 0);
}

/* §2.8.6: a list ends with a descriptor without NEXT; here every descriptor has NEXT. */
void packed_list_without_end(void)
{
	struct conn *c = std_conn(true, QSIZE);
	struct hq *q = &c->q[0];
	struct pd d[QSIZE];
	uint64_t g = galloc(512, 512);

	d[0] = (struct pd){ mk_hdr(VIRTIO_BLK_T_OUT, 0), 16, 0, NEXT };
	for (unsigned i = 1; i < QSIZE; i++)
		d[i] = (struct pd){ g, 512, 0, NEXT };
	plist(q, d, QSIZE);
	kick(q);
	expect_broken(q, "not available");
	after_break(c, 0);
}

/* §2.8.1: the second descriptor of a list carries the wrong wrap counter (looks used). */
void packed_wrap_counter_lie_inside_a_list(void)
{
	struct conn *c = std_conn(true, QSIZE);
	struct hq *q = &c->q[0];

	pdesc(q, 1, st_untouchable(), 1, 0, (uint16_t)(WR | VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED));
	pdesc(q, 0, hdr_in(), 16, 0, (uint16_t)(NEXT | pwrap(true)));
	kick(q);
	expect_broken(q, "not available");
	after_break(c, 0);
}

/*
 * §2.8.1: a descriptor is available only when AVAIL matches the driver's
 * wrap counter and USED does not. Descriptors flagged for the wrong lap
 * (AVAIL=0 USED=1, then AVAIL=1 USED=1) are not consumed: no used
 * element, no error; once flagged right, the request is served.
 */
void packed_wrong_wrap_counter_is_not_consumed(void)
{
	struct conn *c = std_conn(true, QSIZE);
	struct hq *q = &c->q[0];
	uint64_t d = galloc(20, 4), st = mk_status();
	struct pd l[3] = { { mk_hdr(VIRTIO_BLK_T_GET_ID, 0), 16, 0, NEXT }, { d, 20, 0, WR | NEXT },
			   { st, 1, 0, WR } };
	uint16_t lies[2] = { VIRTQ_DESC_F_USED, VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED };

	gallow(d, 20);
	for (int k = 0; k < 2; k++) {
		struct pvirtq_desc before, after;

		pdesc(q, 2, st, 1, 0, (uint16_t)(WR | lies[k]));
		pdesc(q, 1, d, 20, 0, (uint16_t)(WR | NEXT | lies[k]));
		pdesc(q, 0, l[0].addr, 16, 0, (uint16_t)(NEXT | lies[k]));
		gread(q->desc, &before, sizeof(before));
		kick(q);
		/* (AVAIL=USED=1 reads as "used" to the driver too: compare, do not reap.) */
		expect_not_broken(q, 100);
		gread(q->desc, &after, sizeof(after));
		CHECK(!memcmp(&before, &after, sizeof(before)), "the device wrote descriptor 0");
		CHECK(status_at(st) == 0xee, "the status byte was written");
	}
	plist(q, l, 3);
	kick(q);
	expect_used(q, 0, 21);
	CHECK(status_at(st) == VIRTIO_BLK_S_OK, "status %u", status_at(st));
	health(c, 0);
}

/* §2.8.19: an indirect descriptor is a list of its own (not after NEXT). */
void packed_indirect_inside_a_list(void)
{
	struct conn *c = std_conn(true, QSIZE);
	struct hq *q = &c->q[0];
	uint64_t t = galloc(16, 16);
	struct pd d[2] = { { hdr_in(), 16, 0, NEXT }, { t, 16, 0, IND } };

	ptdesc(t, 0, st_untouchable(), 1, 0, WR);
	plist(q, d, 2);
	kick(q);
	expect_broken(q, "indirect descriptor inside a descriptor list");
	after_break(c, 0);
}

void packed_nested_indirect(void)
{
	struct conn *c = std_conn(true, QSIZE);
	struct hq *q = &c->q[0];
	uint64_t t = galloc(32, 16), t2 = galloc(32, 16);
	struct pd d[1] = { { t, 32, 0, IND } };

	ptdesc(t2, 0, hdr_in(), 16, 0, 0);
	ptdesc(t2, 1, st_untouchable(), 1, 0, WR);
	ptdesc(t, 0, t2, 32, 0, IND);
	ptdesc(t, 1, st_untouchable(), 1, 0, WR);
	plist(q, d, 1);
	kick(q);
	expect_broken(q, "nested indirect");
	after_break(c, 0);
}

static void packed_indirect_of_bad_length(uint32_t len)
{
	struct conn *c = std_conn(true, QSIZE);
	struct hq *q = &c->q[0];
	uint64_t t = galloc(64, 16);
	struct pd d[1] = { { t, len, 0, IND } };

	ptdesc(t, 0, hdr_in(), 16, 0, 0);
	ptdesc(t, 1, st_untouchable(), 1, 0, WR);
	plist(q, d, 1);
	kick(q);
	expect_broken(q, "indirect table length");
	after_break(c, 0);
}

void packed_indirect_length_0(void) { packed_indirect_of_bad_length(0); }
void packed_indirect_length_40(void) { packed_indirect_of_bad_length(40); }

void packed_indirect_table_in_the_hole(void)
{
	struct conn *c = std_conn(true, QSIZE);
	struct hq *q = &c->q[0];
	struct pd d[1] = { { HOLE_GPA, 32, 0, IND } };

	plist(q, d, 1);
	kick(q);
	expect_broken(q, "outside guest memory");
	after_break(c, 0);
}

void packed_buffer_straddling_the_end_of_memory(void)
{
	struct conn *c = std_conn(true, QSIZE);
	struct hq *q = &c->q[0];
	struct pd d[3] = { { hdr_in(), 16, 0, NEXT }, { R2_GPA + R2_SIZE - 8, 16, 0, WR | NEXT },
			   { st_untouchable(), 1, 0, WR } };

	plist(q, d, 3);
	kick(q);
	expect_broken(q, "outside guest memory");
	after_break(c, 0);
}

void packed_readable_after_writable(void)
{
	struct conn *c = std_conn(true, QSIZE);
	struct hq *q = &c->q[0];
	struct pd d[3] = { { hdr_in(), 16, 0, NEXT }, { st_untouchable(), 1, 0, WR | NEXT },
			   { mk_hdr(VIRTIO_BLK_T_IN, 0), 16, 0, 0 } };

	plist(q, d, 3);
	kick(q);
	expect_broken(q, "device-readable descriptor after a device-writable");
	after_break(c, 0);
}

/* Boundary: a packed ring used past its end (wrap counters flip) keeps working. */
void packed_ring_wraps_many_times(void)
{
	struct conn *c = std_conn(true, 4);
	struct hq *q = &c->q[0];

	for (int i = 0; i < 10; i++) {
		uint8_t id[20];

		expect_status(blk_req(q, VIRTIO_BLK_T_GET_ID, 0, id, 20), VIRTIO_BLK_S_OK, 21);
	}
	health(c, 0);
}
