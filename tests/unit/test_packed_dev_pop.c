/* SPDX-License-Identifier: BSD-3-Clause */
/* The packed ring, device side: pop on good rings, and -ENOBUFS (test_packed_dev.c has the table). */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_packed_dev.h"

/* ================================================================== */
/* pop: good paths                                                    */
/* ================================================================== */

void pop_on_empty_ring_returns_0(void **state)
{
	struct fx *f = *state;

	assert_int_equal(pop(f), 0);
	assert_int_equal(vio_devq_base(f->q), FRESH_BASE);
	assert_null(vio_devq_error(f->q));
}

/* §2.8.21.1: nothing of a batch is seen before its first descriptor's flags. */
void pop_sees_nothing_before_first_descriptor_is_published(void **state)
{
	struct fx *f = *state;

	assert_int_equal(mock_vq_write_chain(&f->vq, (struct mock_buf[]){ { f->buf, 16, false },
									 { f->buf + 16, 16, true } },
					     2, MOCK_DIRECT), 0);
	assert_int_equal(mock_vq_write_chain(&f->vq, (struct mock_buf[]){ { f->buf, 16, false } }, 1,
					     MOCK_DIRECT), 1);
	assert_int_equal(pop(f), 0);
	assert_int_equal(vio_devq_kick_enable(f->q), 0);
	mock_packed_publish(&f->vq);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.id, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.id, 1);
	assert_int_equal(pop(f), 0);
}

void pop_single_readable_buffer(void **state)
{
	struct fx *f = *state;

	add_one(f, f->buf + 100, 50, 3, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.id, 3);
	assert_int_equal(f->c.ndesc, 1);
	assert_int_equal(f->c.nout, 1);
	assert_int_equal(f->c.nin, 0);
	assert_true(f->c.out_bytes == 50);
	assert_true(f->c.in_bytes == 0);
	assert_iov(&f->iov[0], hva(f, f->buf + 100), 50);
	assert_int_equal(vio_devq_inflight(f->q), 1);
	assert_int_equal(vio_devq_base(f->q), base_of(1, true, 0, true));
}

void pop_single_writable_buffer(void **state)
{
	struct fx *f = *state;

	add_one(f, f->buf, 4096, 6, WRITE);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.id, 6);
	assert_int_equal(f->c.nout, 0);
	assert_int_equal(f->c.nin, 1);
	assert_true(f->c.in_bytes == 4096);
	assert_iov(&f->iov[0], hva(f, f->buf), 4096);
}

void pop_list_readable_then_writable(void **state)
{
	struct fx *f = *state;
	uint64_t b = f->buf;
	int id;

	id = mock_vq_add(&f->vq, (struct mock_buf[]){ { b, 16, false }, { b + 0x100, 512, false },
						     { b + 0x400, 1024, true }, { b + 0x1000, 1, true } },
			 4, MOCK_DIRECT);
	assert_int_equal(id, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.id, 0);
	assert_int_equal(f->c.ndesc, 4);
	assert_int_equal(f->c.nout, 2);
	assert_int_equal(f->c.nin, 2);
	assert_true(f->c.out_bytes == 528);
	assert_true(f->c.in_bytes == 1025);
	assert_iov(&f->iov[0], hva(f, b), 16);
	assert_iov(&f->iov[1], hva(f, b + 0x100), 512);
	assert_iov(&f->iov[2], hva(f, b + 0x400), 1024);
	assert_iov(&f->iov[3], hva(f, b + 0x1000), 1);
	assert_int_equal(vio_devq_base(f->q), base_of(4, true, 0, true));
}

/* §2.8.6: the buffer id is the one in the last descriptor of the list. */
void pop_takes_buffer_id_from_last_descriptor(void **state)
{
	struct fx *f = *state;

	put(f, f->buf, 1, 5, NEXT);
	put(f, f->buf, 1, 4, NEXT);
	put(f, f->buf, 1, 2, 0);
	mock_packed_publish(&f->vq);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.id, 2);
	assert_int_equal(f->c.ndesc, 3);
	assert_int_equal(vio_devq_inflight(f->q), 1);
	/* 5 and 4 are not in flight: the driver may use them. */
	add_one(f, f->buf, 1, 5, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.id, 5);
}

void pop_list_of_queue_size_descriptors_is_accepted(void **state)
{
	struct fx *f = *state;
	uint16_t i;

	for (i = 0; i < 7; i++)
		put(f, f->buf + 64u * i, 64, 0, i < 6 ? NEXT : 0);
	mock_packed_publish(&f->vq);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.ndesc, 7);
	assert_int_equal(f->c.nout, 7);
	assert_true(f->c.out_bytes == 7 * 64);
	assert_iov(&f->iov[6], hva(f, f->buf + 6 * 64), 64);
	assert_int_equal(vio_devq_base(f->q), base_of(0, false, 0, true));
	assert_int_equal(pop(f), 0);
}

/* A list from position 5 to 1: the driver's wrap counter flips inside it. */
void pop_list_across_the_end_of_the_ring(void **state)
{
	struct fx *f = *state;

	mock_packed_set_cursors(&f->vq, 5, true);
	assert_int_equal(mock_vq_devq_init(&f->vq, NULL), 0);
	f->q = f->vq.devq;
	put(f, f->buf, 1, 0, NEXT);           /* 5, wrap 1 */
	put(f, f->buf + 1, 2, 0, NEXT);       /* 6, wrap 1 */
	put(f, f->buf + 3, 3, 0, NEXT | WRITE); /* 0, wrap 0 */
	put(f, f->buf + 6, 4, 1, WRITE);      /* 1, wrap 0 */
	mock_packed_publish(&f->vq);
	assert_int_equal(mock_packed_flags(&f->vq, 0), USED | NEXT | WRITE);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.id, 1);
	assert_int_equal(f->c.ndesc, 4);
	assert_int_equal(f->c.nout, 2);
	assert_int_equal(f->c.nin, 2);
	assert_iov(&f->iov[3], hva(f, f->buf + 6), 4);
	assert_int_equal(vio_devq_base(f->q), base_of(2, false, 5, true));
	assert_int_equal(vio_devq_push(f->q, 1, 7), 0);
	vio_devq_flush(f->q);
	assert_int_equal(reap(f, 1, 7, 1), 5);
	assert_int_equal(mock_packed_flags(&f->vq, 5), AVAIL | USED | WRITE);
	assert_int_equal(f->vq.next_used, 2);
	assert_false(f->vq.used_wrap);
	assert_int_equal(vio_devq_base(f->q), base_of(2, false, 2, false));
}

void pop_zero_length_buffer_gives_no_iovec(void **state)
{
	struct fx *f = *state;

	put(f, f->buf, 0, 0, NEXT);
	put(f, f->buf + 8, 8, 0, WRITE);
	mock_packed_publish(&f->vq);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.ndesc, 2);
	assert_int_equal(f->c.nout, 0);
	assert_int_equal(f->c.nin, 1);
	assert_true(f->c.out_bytes == 0);
	assert_iov(&f->iov[0], hva(f, f->buf + 8), 8);
}

void pop_buffer_straddling_two_regions_gives_two_iovecs(void **state)
{
	struct fx *f = *state;

	add_one(f, MOCK_R1_GPA - 24, 64, 1, WRITE);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.nin, 2);
	assert_true(f->c.in_bytes == 64);
	assert_iov(&f->iov[0], hva(f, MOCK_R1_GPA - 24), 24);
	assert_iov(&f->iov[1], f->m.region[1].hva, 40);
}

void pop_buffer_filling_last_byte_of_region_is_accepted(void **state)
{
	struct fx *f = *state;

	add_one(f, MOCK_HOLE_GPA - 32, 32, 0, 0);
	assert_int_equal(pop(f), 1);
	assert_iov(&f->iov[0], hva(f, MOCK_HOLE_GPA - 32), 32);
}

/* §2.8.7: the table is walked in order; NEXT and ids in it are ignored. */
void pop_indirect_table(void **state)
{
	struct fx *f = *state;
	uint64_t t = mock_alloc(&f->m, 0, 3 * 16, 16);

	mock_pdesc_write(&f->m, t, 0, f->buf, 16, 0xffff, NEXT);
	mock_pdesc_write(&f->m, t, 1, f->buf + 32, 32, 77, WRITE);
	mock_pdesc_write(&f->m, t, 2, MOCK_R2_GPA, 100, 0, WRITE | NEXT);
	add_one(f, t, 48, 4, INDIRECT);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.id, 4);
	assert_int_equal(f->c.ndesc, 1);
	assert_int_equal(f->c.nout, 1);
	assert_int_equal(f->c.nin, 2);
	assert_true(f->c.out_bytes == 16);
	assert_true(f->c.in_bytes == 132);
	assert_iov(&f->iov[0], hva(f, f->buf), 16);
	assert_iov(&f->iov[1], hva(f, f->buf + 32), 32);
	assert_iov(&f->iov[2], f->m.region[2].hva, 100);
	assert_int_equal(vio_devq_base(f->q), base_of(1, true, 0, true));
}

void pop_indirect_via_mock_vq_add(void **state)
{
	struct fx *f = *state;
	int id;

	id = mock_vq_add(&f->vq, (struct mock_buf[]){ { f->buf, 16, false }, { f->buf + 16, 8, false },
						     { MOCK_R1_GPA - 4, 8, true } }, 3, 0);
	assert_int_equal(id, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.ndesc, 1);
	assert_int_equal(f->c.nout, 2);
	assert_int_equal(f->c.nin, 2);
	assert_true(f->c.in_bytes == 8);
}

/* §2.8.7: WRITE on the descriptor referring to a table is reserved, ignored. */
void pop_ignores_write_flag_on_indirect_descriptor(void **state)
{
	struct fx *f = *state;
	uint64_t t = mock_alloc(&f->m, 0, 16, 16);

	mock_pdesc_write(&f->m, t, 0, f->buf, 10, 0, 0);
	add_one(f, t, 16, 0, INDIRECT | WRITE);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.nout, 1);
	assert_int_equal(f->c.nin, 0);
}

void pop_indirect_table_straddling_two_regions(void **state)
{
	struct fx *f = *state;
	uint64_t t = MOCK_R1_GPA - 24; /* entry 1 is split 8 | 8 across R0/R1 */

	mock_pdesc_write(&f->m, t, 0, f->buf, 10, 0, 0);
	mock_pdesc_write(&f->m, t, 1, f->buf + 10, 20, 0, WRITE);
	add_one(f, t, 32, 0, INDIRECT);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.nout, 1);
	assert_int_equal(f->c.nin, 1);
	assert_iov(&f->iov[1], hva(f, f->buf + 10), 20);
}

void pop_indirect_table_of_32768_entries_is_accepted(void **state)
{
	struct fx *f = *state;
	uint64_t t = mock_alloc(&f->m, 0, 16ull * 32768, 16);
	uint32_t i;

	for (i = 0; i < 32768; i++)
		mock_pdesc_write(&f->m, t, i, f->buf, 0, 0, i < 16384 ? 0 : WRITE);
	mock_pdesc_write(&f->m, t, 0, f->buf, 4, 0, 0);
	mock_pdesc_write(&f->m, t, 32767, f->buf + 4, 4, 0, WRITE);
	add_one(f, t, 16u * 32768, 0, INDIRECT);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.nout, 1);
	assert_int_equal(f->c.nin, 1);
	assert_true(f->c.in_bytes == 4);
}

void pop_returns_buffers_in_ring_order(void **state)
{
	struct fx *f = *state;

	add_one(f, f->buf, 1, 5, 0);
	add_one(f, f->buf, 1, 1, 0);
	add_one(f, f->buf, 1, 3, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.id, 5);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.id, 1);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.id, 3);
	assert_int_equal(pop(f), 0);
}

/* Queue Size buffers in flight at once: the ring is full, not broken. */
void pop_queue_size_buffers_in_flight_is_accepted(void **state)
{
	struct fx *f = *state;
	uint16_t i;

	for (i = 0; i < 7; i++)
		put(f, f->buf + i, 1, (uint16_t)(6 - i), 0);
	mock_packed_publish(&f->vq);
	for (i = 0; i < 7; i++) {
		assert_int_equal(pop(f), 1);
		assert_int_equal(f->c.id, 6 - i);
	}
	assert_int_equal(pop(f), 0);
	assert_int_equal(vio_devq_inflight(f->q), 7);
	assert_int_equal(vio_devq_base(f->q), base_of(0, false, 0, true));
	assert_null(vio_devq_error(f->q));
}

struct big *big_setup(uint64_t features)
{
	static const struct mock_region_spec spec[] = { { 1ull << 32, 1ull << 32 } };
	struct big *b = calloc(1, sizeof(*b));

	assert_non_null(b);
	assert_int_equal(mock_mem_init(&b->f.m, spec, 1), 0);
	assert_int_equal(mock_vq_init(&b->f.vq, &b->f.m, MOCK_PACKED, 4, features), 0);
	assert_int_equal(mock_vq_devq_init(&b->f.vq, NULL), 0);
	b->f.q = b->f.vq.devq;
	b->f.p.num = 4;
	b->f.p.layout = MOCK_PACKED;
	return b;
}

void big_free(struct big *b)
{
	mock_vq_fini(&b->f.vq);
	mock_mem_fini(&b->f.m);
	free(b);
}

/* VIRTIO 1.4 §2.7.5.2 applies to both layouts: exactly 2^32 bytes is fine. */
void pop_chain_of_exactly_2_32_bytes_is_accepted(void **state)
{
	struct big *b = big_setup(0);
	uint64_t g = 1ull << 32;

	(void)state;
	put(&b->f, g, 0x80000000u, 0, NEXT);
	put(&b->f, g, 0x80000000u, 0, WRITE);
	mock_packed_publish(&b->f.vq);
	assert_int_equal(pop(&b->f), 1);
	assert_true(b->f.c.out_bytes == 0x80000000u);
	assert_true(b->f.c.in_bytes == 0x80000000u);
	assert_int_equal(vio_devq_push(b->f.q, 0, UINT32_MAX), 0);
	assert_int_equal(vio_devq_flush(b->f.q), 1);
	reap(&b->f, 0, 0x80000000u, 1);
	big_free(b);
}

/* ================================================================== */
/* pop: -ENOBUFS (a request error, not a ring error)                  */
/* ================================================================== */

void pop_enobufs_when_iov_cap_too_small_keeps_buffer_in_flight(void **state)
{
	struct fx *f = *state;
	int id;

	id = mock_vq_add(&f->vq, (struct mock_buf[]){ { f->buf, 16, false }, { f->buf + 16, 16, false },
						     { f->buf + 32, 16, true } }, 3, MOCK_DIRECT);
	assert_int_equal(pop_cap(f, 2), -ENOBUFS);
	assert_int_equal(f->c.id, id);
	assert_int_equal(f->c.ndesc, 3);
	assert_int_equal(vio_devq_inflight(f->q), 1);
	assert_int_equal(vio_devq_base(f->q), base_of(3, true, 0, true));
	assert_null(vio_devq_error(f->q));
	assert_int_equal(pop(f), 0); /* consumed: not popped again */
}

void pop_enobufs_buffer_can_be_pushed_with_len_0(void **state)
{
	struct fx *f = *state;
	struct mock_used u;
	int id;

	id = mock_vq_add(&f->vq, (struct mock_buf[]){ { f->buf, 16, false }, { f->buf + 32, 16, true } },
			 2, MOCK_DIRECT);
	assert_int_equal(pop_cap(f, 1), -ENOBUFS);
	assert_int_equal(vio_devq_push(f->q, f->c.id, 0), 0);
	assert_int_equal(vio_devq_flush(f->q), 1);
	assert_int_equal(mock_vq_used(&f->vq, &u), 1);
	assert_int_equal(u.id, id);
	assert_int_equal(u.len, 0);
	assert_int_equal(u.flags, AVAIL | USED); /* no WRITE: nothing written */
	assert_int_equal(vio_devq_inflight(f->q), 0);
	mock_vq_add(&f->vq, (struct mock_buf[]){ { f->buf, 16, false } }, 1, MOCK_DIRECT);
	assert_int_equal(pop(f), 1);
}

void pop_enobufs_for_straddling_buffer_needing_second_iovec(void **state)
{
	struct fx *f = *state;

	add_one(f, MOCK_R1_GPA - 8, 16, 2, 0);
	assert_int_equal(pop_cap(f, 1), -ENOBUFS);
	assert_int_equal(f->c.id, 2);
	assert_null(vio_devq_error(f->q));
}

void pop_enobufs_with_zero_iov_cap(void **state)
{
	struct fx *f = *state;

	add_one(f, f->buf, 16, 2, 0);
	memset(&f->c, 0, sizeof(f->c));
	f->c.iov = NULL;
	f->c.iov_cap = 0;
	assert_int_equal(vio_devq_pop(f->q, &f->c), -ENOBUFS);
	assert_int_equal(f->c.id, 2);
	assert_int_equal(vio_devq_inflight(f->q), 1);
}

void pop_enobufs_still_validates_rest_of_list(void **state)
{
	struct fx *f = *state;

	put(f, f->buf, 16, 0, NEXT);
	put(f, f->buf + 16, 16, 0, NEXT);
	put(f, MOCK_HOLE_GPA, 16, 0, WRITE);
	mock_packed_publish(&f->vq);
	assert_int_equal(pop_cap(f, 1), -EIO);
	assert_broken(f, E_BUF_OUTSIDE, FRESH_BASE, 0);
}

void pop_enobufs_still_checks_descriptor_order(void **state)
{
	struct fx *f = *state;

	put(f, f->buf, 16, 0, NEXT);
	put(f, f->buf + 16, 16, 0, NEXT | WRITE);
	put(f, f->buf + 32, 16, 0, 0);
	mock_packed_publish(&f->vq);
	assert_int_equal(pop_cap(f, 1), -EIO);
	assert_broken(f, E_RO_AFTER_WO, FRESH_BASE, 0);
}
