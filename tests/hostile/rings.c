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
#include <stdlib.h>
#include <string.h>

#include "rings.h"

/* After a break of queue @qi: the other queue still works, then @qi is reset and works. */
void after_break(struct conn *c, int qi)
{
	health(c, 1 - qi);
	q_reset_restart(c, qi);
}

/* A request header (read of sector 0) and a status byte the device must not touch. */
uint64_t hdr_in(void)
{
	return mk_hdr(VIRTIO_BLK_T_IN, 0);
}

uint64_t st_untouchable(void)
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
