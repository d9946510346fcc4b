/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Hostile guest, ring level: malformed split and packed virtqueues. Each case
 * names the rule it checks: VIRTIO 1.4 clauses, and DESIGN.md §4 ("Bound
 * every walk by construction", "Translate ranges, not addresses", "In-flight
 * identity is unique", "Explicit error policy"). A ring violation must
 * break that queue only: its error eventfd fires, nothing is written for
 * the offending chain, the other queue goes on, and the front-end can reset
 * the ring (GET_VRING_BASE, new rings, kick) and use it again.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "hostile.h"

#define NEXT VIRTQ_DESC_F_NEXT
#define WR VIRTQ_DESC_F_WRITE
#define IND VIRTQ_DESC_F_INDIRECT

/* After a break of queue @qi: the other queue still works, then @qi is reset and works. */
static void after_break(struct conn *c, int qi)
{
	health(c, 1 - qi);
	q_reset_restart(c, qi);
}

/* A request header (read of sector 0) and a status byte the device must not touch. */
static uint64_t hdr_in(void)
{
	return mk_hdr(VIRTIO_BLK_T_IN, 0);
}

static uint64_t st_untouchable(void)
{
	uint64_t g = galloc(1, 1);

	gfill(g, 0xee, 1);
	return g;
}

/* ---- split: loops and chain length (VIRTIO 1.4 §2.7.5.2: no loops; DESIGN §4: at most Queue Size links) ---- */

static void split_loop_to_itself(void)
{
	struct conn *c = std_conn(false, QSIZE);
	struct hq *q = &c->q[0];

	sdesc(q, 0, hdr_in(), 16, NEXT, 0);
	avail_put(q, 0);
	kick(q);
	expect_broken(q, "loop");
	after_break(c, 0);
}

static void split_loop_between_two(void)
{
	struct conn *c = std_conn(false, QSIZE);
	struct hq *q = &c->q[0];

	sdesc(q, 0, mk_hdr(VIRTIO_BLK_T_OUT, 0), 16, NEXT, 1);
	sdesc(q, 1, galloc(512, 512), 512, NEXT, 0);
	avail_put(q, 0);
	kick(q);
	expect_broken(q, "loop");
	after_break(c, 0);
}

static void split_loop_back_into_the_middle(void)
{
	struct conn *c = std_conn(false, QSIZE);
	struct hq *q = &c->q[0];
	uint64_t d = galloc(512, 512);

	sdesc(q, 3, hdr_in(), 16, NEXT, 4);
	sdesc(q, 4, d, 512, WR | NEXT, 5);
	sdesc(q, 5, d, 512, WR | NEXT, 6);
	sdesc(q, 6, d, 512, WR | NEXT, 4);
	avail_put(q, 3);
	kick(q);
	expect_broken(q, "loop");
	after_break(c, 0);
}

/* Every descriptor of the table in one chain, and then once more: Queue Size + 1 links. */
static void split_chain_of_queue_size_plus_one(void)
{
	struct conn *c = std_conn(false, QSIZE);
	struct hq *q = &c->q[0];
	uint64_t d = galloc(512, 512);

	sdesc(q, 0, mk_hdr(VIRTIO_BLK_T_OUT, 0), 16, NEXT, 1);
	for (uint32_t i = 1; i < QSIZE; i++)
		sdesc(q, i, d, 512, NEXT, (uint16_t)((i + 1) % QSIZE));
	avail_put(q, 0);
	kick(q);
	expect_broken(q, "loop");
	after_break(c, 0);
}

/* Boundary: a chain of exactly Queue Size descriptors is valid (VIRTIO 1.4 §2.7.5.3.1). */
static void split_chain_of_queue_size_is_served(void)
{
	struct conn *c = std_conn(false, QSIZE);
	struct hq *q = &c->q[0];
	struct buf b[QSIZE];
	uint8_t data[(QSIZE - 2) * 512];
	uint64_t st = mk_status();
	struct rres r;

	memset(data, 0x5c, sizeof(data));
	b[0] = (struct buf){ mk_hdr(VIRTIO_BLK_T_OUT, 64), 16, false };
	for (unsigned i = 1; i < QSIZE - 1; i++) {
		uint64_t g = galloc(512, 512);

		gwrite(g, data + (i - 1) * 512, 512);
		b[i] = (struct buf){ g, 512, false };
	}
	b[QSIZE - 1] = (struct buf){ st, 1, true };
	r = submit(q, b, QSIZE, DIRECT, st);
	expect_status(r, VIRTIO_BLK_S_OK, 1);
	model_write(64 * 512, data, sizeof(data));
	health(c, 0);
}

/* ---- split: indirect tables (VIRTIO 1.4 §2.7.5.3) ---- */

static void split_loop_inside_indirect_table(void)
{
	struct conn *c = std_conn(false, QSIZE);
	struct hq *q = &c->q[0];
	uint64_t t = galloc(64, 16), d = galloc(512, 512);

	tdesc(t, 0, hdr_in(), 16, NEXT, 1);
	tdesc(t, 1, d, 512, WR | NEXT, 2);
	tdesc(t, 2, d, 512, WR | NEXT, 1);
	tdesc(t, 3, 0, 0, 0, 0);
	sdesc(q, 0, t, 64, IND, 0);
	avail_put(q, 0);
	kick(q);
	expect_broken(q, "loop");
	after_break(c, 0);
}

static void split_indirect_next_outside_its_table(void)
{
	struct conn *c = std_conn(false, QSIZE);
	struct hq *q = &c->q[0];
	uint64_t t = galloc(64, 16);

	tdesc(t, 0, hdr_in(), 16, NEXT, 4); /* the table has 4 entries */
	sdesc(q, 0, t, 64, IND, 0);
	avail_put(q, 0);
	kick(q);
	expect_broken(q, "out of range");
	after_break(c, 0);
}

/* VIRTIO 1.4 §2.7.5.3.1: the driver MUST NOT set INDIRECT in an indirect table. */
static void split_nested_indirect(void)
{
	struct conn *c = std_conn(false, QSIZE);
	struct hq *q = &c->q[0];
	uint64_t t = galloc(32, 16), t2 = galloc(32, 16);

	tdesc(t2, 0, hdr_in(), 16, NEXT, 1);
	tdesc(t2, 1, st_untouchable(), 1, WR, 0);
	tdesc(t, 0, t2, 32, IND, 0);
	tdesc(t, 1, 0, 0, 0, 0);
	sdesc(q, 0, t, 32, IND, 0);
	avail_put(q, 0);
	kick(q);
	expect_broken(q, "nested indirect");
	after_break(c, 0);
}

static void split_indirect_table_of_bad_length(uint32_t len)
{
	struct conn *c = std_conn(false, QSIZE);
	struct hq *q = &c->q[0];
	uint64_t t = galloc(64, 16);

	tdesc(t, 0, hdr_in(), 16, NEXT, 1);
	tdesc(t, 1, st_untouchable(), 1, WR, 0);
	sdesc(q, 0, t, len, IND, 0);
	avail_put(q, 0);
	kick(q);
	expect_broken(q, "indirect table length");
	after_break(c, 0);
}

/* VIRTIO 1.4 §2.7.5.3: a table is len/16 descriptors: 0 and non-multiples of 16 are invalid. */
static void split_indirect_length_0(void) { split_indirect_table_of_bad_length(0); }
static void split_indirect_length_24(void) { split_indirect_table_of_bad_length(24); }
static void split_indirect_length_above_32768_entries(void)
{
	split_indirect_table_of_bad_length(16u * 32768u + 16u);
}

static void split_indirect_table_at(uint64_t table_gpa, const char *reason)
{
	struct conn *c = std_conn(false, QSIZE);
	struct hq *q = &c->q[0];

	sdesc(q, 0, table_gpa, 32, IND, 0);
	avail_put(q, 0);
	kick(q);
	expect_broken(q, reason);
	after_break(c, 0);
}

/* DESIGN §4 "Translate ranges": the whole table must be guest memory. */
static void split_indirect_table_in_the_hole(void)
{
	split_indirect_table_at(HOLE_GPA + 4096, "outside guest memory");
}

static void split_indirect_table_straddling_the_end_of_a_region(void)
{
	split_indirect_table_at(R2_GPA + R2_SIZE - 16, "outside guest memory");
}

static void split_indirect_table_address_overflowing(void)
{
	split_indirect_table_at(0xfffffffffffffff0ull, "indirect table");
}

/* Boundary: a table across two regions adjacent in guest-physical space is valid. */
static void split_indirect_table_across_adjacent_regions_is_served(void)
{
	struct conn *c = std_conn(false, QSIZE);
	struct hq *q = &c->q[0];
	uint64_t t = R1_GPA - 16, d = galloc(512, 512), st = mk_status();
	uint8_t want[512], got[512];

	CHECK(galloc_in(1, 32, 16) == R1_GPA, "harness: R1 not free");
	memcpy(want, model() + 8 * 512, 512);
	gallow(d, 512);
	tdesc(t, 0, mk_hdr(VIRTIO_BLK_T_IN, 8), 16, NEXT, 1);
	tdesc(t, 1, d, 512, WR | NEXT, 2);
	tdesc(t, 2, st, 1, WR, 0);
	sdesc(q, 0, t, 48, IND, 0);
	avail_put(q, 0);
	kick(q);
	expect_used(q, 0, 513);
	CHECK(status_at(st) == VIRTIO_BLK_S_OK, "status %u", status_at(st));
	gread(d, got, 512);
	CHECK(!memcmp(want, got, 512), "the data read differs from the image");
	health(c, 0);
}

/* VIRTIO 1.4 §2.7.5.3.1: INDIRECT and NEXT together are forbidden. */
static void split_indirect_together_with_next(void)
{
	struct conn *c = std_conn(false, QSIZE);
	struct hq *q = &c->q[0];
	uint64_t t = galloc(32, 16);

	tdesc(t, 0, hdr_in(), 16, NEXT, 1);
	tdesc(t, 1, st_untouchable(), 1, WR, 0);
	sdesc(q, 0, t, 32, IND | NEXT, 1);
	sdesc(q, 1, st_untouchable(), 1, WR, 0);
	avail_put(q, 0);
	kick(q);
	expect_broken(q, "INDIRECT together with");
	after_break(c, 0);
}

/* VIRTIO 1.4 §2.7.5.3.1: INDIRECT only with VIRTIO_F_INDIRECT_DESC negotiated. */
static void split_indirect_without_the_feature(void)
{
	struct conn *c = std_conn_f(F_STD & ~VIO_BIT(VIRTIO_F_INDIRECT_DESC), false, QSIZE);
	struct hq *q = &c->q[0];
	uint64_t t = galloc(32, 16);

	tdesc(t, 0, hdr_in(), 16, NEXT, 1);
	tdesc(t, 1, st_untouchable(), 1, WR, 0);
	sdesc(q, 0, t, 32, IND, 0);
	avail_put(q, 0);
	kick(q);
	expect_broken(q, "VIRTIO_F_INDIRECT_DESC");
	after_break(c, 0);
}

/*
 * VIRTIO 1.4 §2.7.5.3.1: "A driver MUST NOT create a descriptor chain longer
 * than the Queue Size of the device" - here through an indirect table of
 * 2 * Queue Size entries. The device is not required to check (QEMU does
 * not either); what it must not do is misbehave: either the request is
 * served correctly, or the queue is broken.
 */
static void split_indirect_chain_longer_than_the_queue(void)
{
	struct conn *c = std_conn(false, QSIZE);
	struct hq *q = &c->q[0];
	unsigned n = 2 * QSIZE;
	struct buf *b = calloc(n, sizeof(*b));
	uint8_t *data = malloc((n - 2) * 512);
	uint64_t st = mk_status();
	uint32_t id, len;

	CHECK(b && data, "out of memory");
	memset(data, 0x3d, (n - 2) * 512);
	b[0] = (struct buf){ mk_hdr(VIRTIO_BLK_T_OUT, 200), 16, false };
	for (unsigned i = 1; i < n - 1; i++) {
		uint64_t g = galloc(512, 512);

		gwrite(g, data, 512);
		b[i] = (struct buf){ g, 512, false };
	}
	b[n - 1] = (struct buf){ st, 1, true };
	post(q, b, n, 0);
	if (wait_used(q, &id, &len, wait_ms())) {
		CHECK(len == 1 && status_at(st) == VIRTIO_BLK_S_OK, "served with length %u, status %u",
		      len, status_at(st));
		model_write(200 * 512, data, (n - 2) * 512);
		note("served (the device does not bound indirect chains by the Queue Size)");
		health(c, 0);
	} else {
		expect_broken(q, NULL);
		note("refused: the queue is broken");
		after_break(c, 0);
	}
	free(b);
	free(data);
}

/* ---- split: buffers (DESIGN §4 "Translate ranges, not addresses") ---- */

static void split_buffer_at(uint64_t gpa, uint32_t len, const char *reason)
{
	struct conn *c = std_conn(false, QSIZE);
	struct hq *q = &c->q[0];

	sdesc(q, 0, hdr_in(), 16, NEXT, 1);
	sdesc(q, 1, gpa, len, WR | NEXT, 2);
	sdesc(q, 2, st_untouchable(), 1, WR, 0);
	avail_put(q, 0);
	kick(q);
	expect_broken(q, reason);
	after_break(c, 0);
}

static void split_buffer_in_the_hole(void)
{
	split_buffer_at(HOLE_GPA + 512, 512, "outside guest memory");
}

static void split_buffer_straddling_into_the_hole(void)
{
	split_buffer_at(R1_GPA + R1_SIZE - 512, 1024, "outside guest memory");
}

static void split_buffer_straddling_the_end_of_memory(void)
{
	split_buffer_at(R2_GPA + R2_SIZE - 512, 1024, "outside guest memory");
}

static void split_buffer_below_guest_memory(void)
{
	split_buffer_at(0, 512, "outside guest memory");
}

static void split_buffer_address_overflowing(void)
{
	split_buffer_at(0xfffffffffffffe00ull, 1024, "outside guest memory");
}

/* VIRTIO 1.4 §2.7.5.2: 16 + (2^32 - 1) bytes is more than a chain may hold. */
static void split_header_then_buffer_of_4gib_minus_1(void)
{
	split_buffer_at(R0_GPA, 0xffffffffu, "2^32");
}

/* 2^32 - 1 bytes alone are allowed in a chain, but not inside guest memory. */
static void split_buffer_of_4gib_minus_1_alone(void)
{
	struct conn *c = std_conn(false, QSIZE);
	struct hq *q = &c->q[0];

	sdesc(q, 0, R0_GPA, 0xffffffffu, WR, 0);
	avail_put(q, 0);
	kick(q);
	expect_broken(q, "outside guest memory");
	after_break(c, 0);
}

/* Boundary: a buffer across R0/R1 (adjacent) is two iovecs and is served. */
static void split_buffer_across_adjacent_regions_is_served(void)
{
	struct conn *c = std_conn(false, QSIZE);
	struct hq *q = &c->q[0];
	uint64_t d = R1_GPA - 1000, st = mk_status();
	uint8_t data[2048];
	struct buf b[3];
	struct rres r;

	CHECK(galloc_in(1, 2048, 16) == R1_GPA, "harness: R1 not free");

	for (unsigned i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 1);
	gwrite(d, data, sizeof(data));
	b[0] = (struct buf){ mk_hdr(VIRTIO_BLK_T_OUT, 300), 16, false };
	b[1] = (struct buf){ d, sizeof(data), false };
	b[2] = (struct buf){ st, 1, true };
	r = submit(q, b, 3, DIRECT, st);
	expect_status(r, VIRTIO_BLK_S_OK, 1);
	model_write(300 * 512, data, sizeof(data));
	/* And read it back into the same straddling buffer. */
	gfill(d, 0, sizeof(data));
	gallow(d, sizeof(data));
	st = mk_status();
	b[0] = (struct buf){ mk_hdr(VIRTIO_BLK_T_IN, 300), 16, false };
	b[1] = (struct buf){ d, sizeof(data), true };
	b[2] = (struct buf){ st, 1, true };
	r = submit(q, b, 3, DIRECT, st);
	expect_status(r, VIRTIO_BLK_S_OK, sizeof(data) + 1);
	{
		uint8_t got[2048];

		gread(d, got, sizeof(got));
		CHECK(!memcmp(got, data, sizeof(data)), "the data read back differs");
	}
	health(c, 0);
}

/*
 * VIRTIO 1.4 §2.7.5.2: a chain is at most 2^32 bytes. 1025 readable
 * descriptors of 4 MiB each, all inside guest memory (the same region
 * again and again), through an indirect table.
 */
static void split_chain_longer_than_4gib(void)
{
	struct conn *c = std_conn(false, QSIZE);
	struct hq *q = &c->q[0];
	unsigned n = 1026;
	uint64_t t = galloc(16ull * n, 16);

	tdesc(t, 0, mk_hdr(VIRTIO_BLK_T_OUT, 0), 16, NEXT, 1);
	for (unsigned i = 1; i < n; i++)
		tdesc(t, i, R0_GPA, (uint32_t)R0_SIZE, i + 1 < n ? NEXT : 0, (uint16_t)(i + 1));
	sdesc(q, 0, t, 16 * n, IND, 0);
	avail_put(q, 0);
	kick(q);
	expect_broken(q, "2^32");
	after_break(c, 0);
}

/* VIRTIO 1.4 §2.7.4.2: device-readable descriptors come before device-writable ones. */
static void split_readable_after_writable(void)
{
	struct conn *c = std_conn(false, QSIZE);
	struct hq *q = &c->q[0];

	sdesc(q, 0, hdr_in(), 16, NEXT, 1);
	sdesc(q, 1, st_untouchable(), 1, WR | NEXT, 2);
	sdesc(q, 2, mk_hdr(VIRTIO_BLK_T_IN, 0), 16, 0, 0);
	avail_put(q, 0);
	kick(q);
	expect_broken(q, "device-readable descriptor after a device-writable");
	after_break(c, 0);
}

static void split_readable_after_writable_inside_indirect(void)
{
	struct conn *c = std_conn(false, QSIZE);
	struct hq *q = &c->q[0];
	uint64_t t = galloc(48, 16);

	tdesc(t, 0, hdr_in(), 16, NEXT, 1);
	tdesc(t, 1, st_untouchable(), 1, WR | NEXT, 2);
	tdesc(t, 2, mk_hdr(VIRTIO_BLK_T_IN, 0), 16, 0, 0);
	sdesc(q, 0, t, 48, IND, 0);
	avail_put(q, 0);
	kick(q);
	expect_broken(q, "device-readable descriptor after a device-writable");
	after_break(c, 0);
}

/* ---- split: indices and heads (DESIGN §4, VIRTIO 1.4 §2.7.6) ---- */

static void split_next_out_of_range(void)
{
	struct conn *c = std_conn(false, QSIZE);
	struct hq *q = &c->q[0];

	sdesc(q, 0, hdr_in(), 16, NEXT, QSIZE);
	avail_put(q, 0);
	kick(q);
	expect_broken(q, "next out of range");
	after_break(c, 0);
}

static void split_avail_index_jumps_past_queue_size(void)
{
	struct conn *c = std_conn(false, QSIZE);
	struct hq *q = &c->q[0];

	avail_publish(q, QSIZE + 1);
	kick(q);
	expect_broken(q, "available index moved more than");
	after_break(c, 0);
}

static void split_avail_index_jumps_by_32768(void)
{
	struct conn *c = std_conn(false, QSIZE);
	struct hq *q = &c->q[0];

	avail_publish(q, 0x8000);
	kick(q);
	expect_broken(q, "available index moved more than");
	after_break(c, 0);
}

/* The index moves backwards: three requests served, then idx goes from 3 to 2. */
static void split_avail_index_goes_backwards(void)
{
	struct conn *c = std_conn(false, QSIZE);
	struct hq *q = &c->q[0];

	for (int i = 0; i < 3; i++) {
		uint8_t id[20];

		expect_status(blk_req(q, VIRTIO_BLK_T_GET_ID, 0, id, 20), VIRTIO_BLK_S_OK, 21);
	}
	avail_publish(q, 2);
	kick(q);
	expect_broken(q, "available index moved more than");
	after_break(c, 0);
}

/* Boundary: the index exactly Queue Size ahead, every entry a valid request. */
static void split_avail_index_exactly_queue_size_ahead_is_served(void)
{
	struct conn *c = std_conn(false, QSIZE);
	struct hq *q = &c->q[0];
	uint64_t st[QSIZE];
	bool seen[QSIZE] = { false };

	for (uint16_t i = 0; i < QSIZE; i++) {
		uint64_t d = galloc(20, 4);

		gallow(d, 20);
		st[i] = mk_status();
		/* One ring descriptor per request: an indirect table of three. */
		{
			uint64_t t = galloc(48, 16);

			tdesc(t, 0, mk_hdr(VIRTIO_BLK_T_GET_ID, 0), 16, NEXT, 1);
			tdesc(t, 1, d, 20, WR | NEXT, 2);
			tdesc(t, 2, st[i], 1, WR, 0);
			sdesc(q, i, t, 48, IND, 0);
		}
		avail_entry(q, i, i);
	}
	avail_publish(q, QSIZE);
	kick(q);
	for (unsigned k = 0; k < QSIZE; k++) {
		uint32_t id, len;

		CHECK(wait_used(q, &id, &len, wait_ms()), "only %u of %u requests completed", k, QSIZE);
		CHECK(id < QSIZE && !seen[id] && len == 21 && status_at(st[id]) == VIRTIO_BLK_S_OK,
		      "completion id %u len %u", id, len);
		seen[id] = true;
	}
	expect_not_broken(q, 0);
	q->next_desc = 0;
	health(c, 0);
}

static void split_head_out_of_range(void)
{
	struct conn *c = std_conn(false, QSIZE);
	struct hq *q = &c->q[0];

	avail_put(q, QSIZE);
	kick(q);
	expect_broken(q, "head out of range");
	after_break(c, 0);
}

static void split_head_0xffff(void)
{
	struct conn *c = std_conn(false, QSIZE);
	struct hq *q = &c->q[0];

	avail_put(q, 0xffff);
	kick(q);
	expect_broken(q, "head out of range");
	after_break(c, 0);
}

/*
 * DESIGN §4 "In-flight identity is unique": the same head twice in the
 * available ring while the first is still in flight. Both entries are
 * published at once, so the second is popped before the first's I/O
 * completes: a FLUSH, which always goes through the I/O engine (reads may
 * complete inline, from the page cache, before the next pop). The first
 * may be carried out; its used element is not written on the broken ring.
 */
static void split_head_already_in_flight(void)
{
	struct conn *c = std_conn(false, QSIZE);
	struct hq *q = &c->q[0];
	struct buf b[2] = { { mk_hdr(VIRTIO_BLK_T_FLUSH, 0), 16, false }, { mk_status(), 1, true } };
	int head;

	head = write_chain(q, b, 2, DIRECT);
	avail_entry(q, 0, (uint16_t)head);
	avail_entry(q, 1, (uint16_t)head);
	avail_publish(q, 2);
	kick(q);
	expect_broken(q, "already in flight");
	after_break(c, 0);
}

/* ---- packed (VIRTIO 1.4 §2.8) ---- */

static void packed_buffer_id_out_of_range(void)
{
	struct conn *c = std_conn(true, QSIZE);
	struct hq *q = &c->q[0];
	struct pd d[2] = { { hdr_in(), 16, QSIZE, NEXT }, { st_untouchable(), 1, QSIZE, WR } };

	plist(q, d, 2);
	kick(q);
	expect_broken(q, "buffer id out of range");
	after_break(c, 0);
}

static void packed_buffer_id_0xffff(void)
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
static void packed_buffer_id_reused_while_in_flight(void)
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
static void packed_list_without_end(void)
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
static void packed_wrap_counter_lie_inside_a_list(void)
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
static void packed_wrong_wrap_counter_is_not_consumed(void)
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
static void packed_indirect_inside_a_list(void)
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

static void packed_nested_indirect(void)
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

static void packed_indirect_length_0(void) { packed_indirect_of_bad_length(0); }
static void packed_indirect_length_40(void) { packed_indirect_of_bad_length(40); }

static void packed_indirect_table_in_the_hole(void)
{
	struct conn *c = std_conn(true, QSIZE);
	struct hq *q = &c->q[0];
	struct pd d[1] = { { HOLE_GPA, 32, 0, IND } };

	plist(q, d, 1);
	kick(q);
	expect_broken(q, "outside guest memory");
	after_break(c, 0);
}

static void packed_buffer_straddling_the_end_of_memory(void)
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

static void packed_readable_after_writable(void)
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
static void packed_ring_wraps_many_times(void)
{
	struct conn *c = std_conn(true, 4);
	struct hq *q = &c->q[0];

	for (int i = 0; i < 10; i++) {
		uint8_t id[20];

		expect_status(blk_req(q, VIRTIO_BLK_T_GET_ID, 0, id, 20), VIRTIO_BLK_S_OK, 21);
	}
	health(c, 0);
}


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
static void split_descriptor_and_header_rewritten_while_in_use(void)
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
static void split_used_ring_on_the_descriptor_table(void)
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
static void two_queues_on_the_same_rings(void)
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
static void split_read_into_the_rings(void)
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
static void split_queue_of_size_1(void)
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

static void packed_queue_of_size_5(void)
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
static void features_switch_the_layout_of_running_rings(void)
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

const struct hcase ring_cases[] = {
#define C(x) { #x, x }
	C(split_loop_to_itself),
	C(split_loop_between_two),
	C(split_loop_back_into_the_middle),
	C(split_chain_of_queue_size_plus_one),
	C(split_chain_of_queue_size_is_served),
	C(split_loop_inside_indirect_table),
	C(split_indirect_next_outside_its_table),
	C(split_nested_indirect),
	C(split_indirect_length_0),
	C(split_indirect_length_24),
	C(split_indirect_length_above_32768_entries),
	C(split_indirect_table_in_the_hole),
	C(split_indirect_table_straddling_the_end_of_a_region),
	C(split_indirect_table_address_overflowing),
	C(split_indirect_table_across_adjacent_regions_is_served),
	C(split_indirect_together_with_next),
	C(split_indirect_without_the_feature),
	C(split_indirect_chain_longer_than_the_queue),
	C(split_buffer_in_the_hole),
	C(split_buffer_straddling_into_the_hole),
	C(split_buffer_straddling_the_end_of_memory),
	C(split_buffer_below_guest_memory),
	C(split_buffer_address_overflowing),
	C(split_header_then_buffer_of_4gib_minus_1),
	C(split_buffer_of_4gib_minus_1_alone),
	C(split_buffer_across_adjacent_regions_is_served),
	C(split_chain_longer_than_4gib),
	C(split_readable_after_writable),
	C(split_readable_after_writable_inside_indirect),
	C(split_next_out_of_range),
	C(split_avail_index_jumps_past_queue_size),
	C(split_avail_index_jumps_by_32768),
	C(split_avail_index_goes_backwards),
	C(split_avail_index_exactly_queue_size_ahead_is_served),
	C(split_head_out_of_range),
	C(split_head_0xffff),
	C(split_head_already_in_flight),
	C(packed_buffer_id_out_of_range),
	C(packed_buffer_id_0xffff),
	C(packed_buffer_id_reused_while_in_flight),
	C(packed_list_without_end),
	C(packed_wrap_counter_lie_inside_a_list),
	C(packed_wrong_wrap_counter_is_not_consumed),
	C(packed_indirect_inside_a_list),
	C(packed_nested_indirect),
	C(packed_indirect_length_0),
	C(packed_indirect_length_40),
	C(packed_indirect_table_in_the_hole),
	C(packed_buffer_straddling_the_end_of_memory),
	C(packed_readable_after_writable),
	C(packed_ring_wraps_many_times),
	C(split_descriptor_and_header_rewritten_while_in_use),
	C(split_used_ring_on_the_descriptor_table),
	C(two_queues_on_the_same_rings),
	C(split_read_into_the_rings),
	C(split_queue_of_size_1),
	C(packed_queue_of_size_5),
	C(features_switch_the_layout_of_running_rings),
#undef C
};
const unsigned ring_cases_n = sizeof(ring_cases) / sizeof(ring_cases[0]);
