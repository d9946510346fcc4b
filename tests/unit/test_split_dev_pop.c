/* SPDX-License-Identifier: BSD-3-Clause */
/* The split ring, device side: pop on good rings, and -ENOBUFS (test_split_dev.c has the table). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_split_dev.h"

/* ================================================================== */
/* pop: good paths                                                    */
/* ================================================================== */

void pop_on_empty_ring_returns_0(void **state)
{
	struct fx *f = *state;

	assert_int_equal(pop(f), 0);
	assert_int_equal(vio_devq_base(f->q), 0);
	assert_null(vio_devq_error(f->q));
}

void pop_ignores_entries_not_yet_published(void **state)
{
	struct fx *f = *state;

	mock_split_desc(&f->vq, 0, f->buf, 16, 0, 0);
	mock_split_avail_put(&f->vq, 0);
	assert_int_equal(pop(f), 0);
	mock_split_publish(&f->vq);
	assert_int_equal(pop(f), 1);
	assert_int_equal(pop(f), 0);
}

void pop_single_readable_buffer(void **state)
{
	struct fx *f = *state;

	add_one(f, 3, f->buf + 100, 50, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.id, 3);
	assert_int_equal(f->c.ndesc, 1);
	assert_int_equal(f->c.nout, 1);
	assert_int_equal(f->c.nin, 0);
	assert_true(f->c.out_bytes == 50);
	assert_true(f->c.in_bytes == 0);
	assert_iov(&f->iov[0], hva(f, f->buf + 100), 50);
	assert_int_equal(vio_devq_inflight(f->q), 1);
	assert_int_equal(vio_devq_base(f->q), 1);
}

void pop_direct_chain_readable_then_writable(void **state)
{
	struct fx *f = *state;
	uint64_t b = f->buf;
	int head;

	head = mock_vq_add(&f->vq, (struct mock_buf[]){ { b, 16, false }, { b + 0x100, 512, false },
						       { b + 0x400, 1024, true }, { b + 0x1000, 1, true } },
			   4, MOCK_DIRECT);
	assert_int_equal(head, 0);
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
}

void pop_writable_only_chain(void **state)
{
	struct fx *f = *state;

	add_one(f, 0, f->buf, 4096, WRITE);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.nout, 0);
	assert_int_equal(f->c.nin, 1);
	assert_true(f->c.in_bytes == 4096);
	assert_iov(&f->iov[0], hva(f, f->buf), 4096);
}

void pop_follows_next_in_any_table_order(void **state)
{
	struct fx *f = *state;

	mock_split_desc(&f->vq, 6, f->buf, 1, NEXT, 2);
	mock_split_desc(&f->vq, 2, f->buf + 10, 2, NEXT, 7);
	mock_split_desc(&f->vq, 7, f->buf + 20, 3, WRITE | NEXT, 0);
	mock_split_desc(&f->vq, 0, f->buf + 30, 4, WRITE, 5 /* ignored without NEXT */);
	mock_split_make_avail(&f->vq, 6);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.id, 6);
	assert_int_equal(f->c.ndesc, 4);
	assert_int_equal(f->c.nout, 2);
	assert_int_equal(f->c.nin, 2);
	assert_iov(&f->iov[0], hva(f, f->buf), 1);
	assert_iov(&f->iov[1], hva(f, f->buf + 10), 2);
	assert_iov(&f->iov[2], hva(f, f->buf + 20), 3);
	assert_iov(&f->iov[3], hva(f, f->buf + 30), 4);
}

void pop_chain_of_queue_size_descriptors_is_accepted(void **state)
{
	struct fx *f = *state;
	uint16_t i;

	/* 8 descriptors, 7 -> 6 -> ... -> 0: the longest chain there can be. */
	for (i = 0; i < 8; i++)
		mock_split_desc(&f->vq, i, f->buf + 64u * i, 64, i ? NEXT : 0, (uint16_t)(i - 1));
	mock_split_make_avail(&f->vq, 7);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.ndesc, 8);
	assert_int_equal(f->c.nout, 8);
	assert_true(f->c.out_bytes == 512);
	assert_iov(&f->iov[7], hva(f, f->buf), 64);
}

void pop_zero_length_buffer_gives_no_iovec(void **state)
{
	struct fx *f = *state;

	mock_split_desc(&f->vq, 0, f->buf, 0, NEXT, 1);
	mock_split_desc(&f->vq, 1, f->buf + 8, 8, WRITE, 0);
	mock_split_make_avail(&f->vq, 0);
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

	add_one(f, 1, MOCK_R1_GPA - 24, 64, WRITE);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.nin, 2);
	assert_true(f->c.in_bytes == 64);
	assert_iov(&f->iov[0], hva(f, MOCK_R1_GPA - 24), 24);
	assert_iov(&f->iov[1], f->m.region[1].hva, 40);
	/* Separate mappings: the device may not treat them as one. */
	assert_ptr_not_equal((char *)f->iov[0].iov_base + 24, f->iov[1].iov_base);
}

void pop_buffer_filling_last_byte_of_region_is_accepted(void **state)
{
	struct fx *f = *state;

	add_one(f, 0, MOCK_HOLE_GPA - 32, 32, 0);
	assert_int_equal(pop(f), 1);
	assert_iov(&f->iov[0], hva(f, MOCK_HOLE_GPA - 32), 32);
}

void pop_indirect_chain(void **state)
{
	struct fx *f = *state;
	uint64_t t = mock_alloc(&f->m, 0, 3 * 16, 16);

	mock_desc_write(&f->m, t, 0, f->buf, 16, NEXT, 2);
	mock_desc_write(&f->m, t, 2, f->buf + 32, 32, NEXT | WRITE, 1);
	mock_desc_write(&f->m, t, 1, MOCK_R2_GPA, 100, WRITE, 0);
	add_one(f, 4, t, 48, INDIRECT);
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
}

void pop_indirect_table_straddling_two_regions(void **state)
{
	struct fx *f = *state;
	uint64_t t = MOCK_R1_GPA - 24; /* entry 1 is split 8 | 8 across R0/R1 */

	mock_desc_write(&f->m, t, 0, f->buf, 10, NEXT, 1);
	mock_desc_write(&f->m, t, 1, f->buf + 10, 20, WRITE, 0);
	add_one(f, 0, t, 32, INDIRECT);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.nout, 1);
	assert_int_equal(f->c.nin, 1);
	assert_iov(&f->iov[0], hva(f, f->buf), 10);
	assert_iov(&f->iov[1], hva(f, f->buf + 10), 20);
}

void pop_direct_then_indirect_chain(void **state)
{
	struct fx *f = *state;
	int head;

	head = mock_vq_add(&f->vq, (struct mock_buf[]){ { f->buf, 16, false }, { f->buf + 16, 8, false },
						       { f->buf + 64, 64, false }, { f->buf + 128, 1, true } },
			   4, 2);
	assert_int_equal(head, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.ndesc, 3); /* two direct + the indirect descriptor */
	assert_int_equal(f->c.nout, 3);
	assert_int_equal(f->c.nin, 1);
	assert_true(f->c.out_bytes == 88);
	assert_iov(&f->iov[0], hva(f, f->buf), 16);
	assert_iov(&f->iov[1], hva(f, f->buf + 16), 8);
	assert_iov(&f->iov[2], hva(f, f->buf + 64), 64);
	assert_iov(&f->iov[3], hva(f, f->buf + 128), 1);
}

/* VIRTIO 1.4 §2.7.5.3.2: the device MUST ignore WRITE on the descriptor referring to a table. */
void pop_ignores_write_flag_on_indirect_descriptor(void **state)
{
	struct fx *f = *state;
	uint64_t t = mock_alloc(&f->m, 0, 16, 16);

	mock_desc_write(&f->m, t, 0, f->buf, 10, 0, 0);
	add_one(f, 0, t, 16, INDIRECT | WRITE);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.nout, 1);
	assert_int_equal(f->c.nin, 0);
	assert_true(f->c.in_bytes == 0);
}

void pop_indirect_table_of_32768_entries_is_accepted(void **state)
{
	struct fx *f = *state;
	uint64_t t = mock_alloc(&f->m, 0, 16ull * 32768, 16);

	mock_desc_write(&f->m, t, 0, f->buf, 4, NEXT, 32767);
	mock_desc_write(&f->m, t, 32767, f->buf + 4, 4, WRITE, 0);
	add_one(f, 0, t, 16u * 32768, INDIRECT);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.nout, 1);
	assert_int_equal(f->c.nin, 1);
}

void pop_indirect_chain_using_every_table_entry_is_accepted(void **state)
{
	struct fx *f = *state;
	uint64_t t = mock_alloc(&f->m, 0, 16 * 16, 16);
	uint32_t i;

	for (i = 0; i < 16; i++)
		mock_desc_write(&f->m, t, i, f->buf + i, 1, i < 15 ? NEXT : 0, (uint16_t)(i + 1));
	add_one(f, 0, t, 256, INDIRECT);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.nout, 16);
}

void pop_avail_idx_exactly_queue_size_ahead_is_accepted(void **state)
{
	struct fx *f = *state;
	uint16_t i;

	for (i = 0; i < 8; i++)
		mock_split_desc(&f->vq, i, f->buf + i, 1, 0, 0);
	for (i = 0; i < 8; i++)
		mock_split_avail_put(&f->vq, (uint16_t)(7 - i));
	mock_split_publish(&f->vq);
	for (i = 0; i < 8; i++) {
		assert_int_equal(pop(f), 1);
		assert_int_equal(f->c.id, 7 - i);
	}
	assert_int_equal(pop(f), 0);
	assert_int_equal(vio_devq_inflight(f->q), 8);
}

void pop_returns_chains_in_avail_order(void **state)
{
	struct fx *f = *state;

	add_one(f, 5, f->buf, 1, 0);
	add_one(f, 1, f->buf, 1, 0);
	add_one(f, 3, f->buf, 1, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.id, 5);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.id, 1);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.id, 3);
	assert_int_equal(pop(f), 0);
}

struct big *big_setup(uint64_t features)
{
	static const struct mock_region_spec spec[] = { { 1ull << 32, 1ull << 32 } };
	struct big *b = calloc(1, sizeof(*b));

	assert_non_null(b);
	assert_int_equal(mock_mem_init(&b->m, spec, 1), 0);
	assert_int_equal(mock_vq_init(&b->vq, &b->m, MOCK_SPLIT, 4, features), 0);
	assert_int_equal(mock_vq_devq_init(&b->vq, NULL), 0);
	b->c.iov = b->iov;
	b->c.iov_cap = 8;
	return b;
}

void big_free(struct big *b)
{
	mock_vq_fini(&b->vq);
	mock_mem_fini(&b->m);
	free(b);
}

/* VIRTIO 1.4 §2.7.5.2: at most 2^32 bytes in total; exactly 2^32 is fine. */
void pop_chain_of_exactly_2_32_bytes_is_accepted(void **state)
{
	struct big *b = big_setup(0);
	uint64_t g = 1ull << 32;

	(void)state;
	mock_split_desc(&b->vq, 0, g, 0x80000000u, NEXT, 1);
	mock_split_desc(&b->vq, 1, g, 0x80000000u, WRITE, 0);
	mock_split_make_avail(&b->vq, 0);
	assert_int_equal(vio_devq_pop(b->vq.devq, &b->c), 1);
	assert_true(b->c.out_bytes == 0x80000000u);
	assert_true(b->c.in_bytes == 0x80000000u);
	/* The used length is clamped to the writable size, 2^31. */
	assert_int_equal(vio_devq_push(b->vq.devq, 0, UINT32_MAX), 0);
	assert_int_equal(vio_devq_flush(b->vq.devq), 1);
	{
		uint32_t id, len;

		mock_split_used_elem(&b->vq, 0, &id, &len);
		assert_int_equal(len, 0x80000000u);
	}
	big_free(b);
}

/* ================================================================== */
/* pop: -ENOBUFS (a request error, not a ring error)                  */
/* ================================================================== */

void pop_enobufs_when_iov_cap_too_small_keeps_chain_in_flight(void **state)
{
	struct fx *f = *state;
	int head;

	head = mock_vq_add(&f->vq, (struct mock_buf[]){ { f->buf, 16, false }, { f->buf + 16, 16, false },
						       { f->buf + 32, 16, true } }, 3, MOCK_DIRECT);
	assert_int_equal(pop_cap(f, 2), -ENOBUFS);
	assert_int_equal(f->c.id, head);
	assert_int_equal(f->c.ndesc, 3);
	assert_int_equal(vio_devq_inflight(f->q), 1);
	assert_int_equal(vio_devq_base(f->q), 1);
	assert_null(vio_devq_error(f->q));
	assert_int_equal(pop(f), 0); /* consumed: not popped again */
}

void pop_enobufs_chain_can_be_pushed_with_len_0(void **state)
{
	struct fx *f = *state;
	struct mock_used u;
	int head;

	head = mock_vq_add(&f->vq, (struct mock_buf[]){ { f->buf, 16, false }, { f->buf + 32, 16, true } },
			   2, MOCK_DIRECT);
	assert_int_equal(pop_cap(f, 1), -ENOBUFS);
	assert_int_equal(vio_devq_push(f->q, f->c.id, 0), 0);
	assert_int_equal(vio_devq_flush(f->q), 1);
	assert_int_equal(mock_vq_used(&f->vq, &u), 1);
	assert_int_equal(u.id, head);
	assert_int_equal(u.len, 0);
	assert_int_equal(vio_devq_inflight(f->q), 0);
	/* The queue works on. */
	mock_vq_add(&f->vq, (struct mock_buf[]){ { f->buf, 16, false } }, 1, MOCK_DIRECT);
	assert_int_equal(pop(f), 1);
}

void pop_enobufs_for_straddling_buffer_needing_second_iovec(void **state)
{
	struct fx *f = *state;

	add_one(f, 0, MOCK_R1_GPA - 8, 16, 0);
	assert_int_equal(pop_cap(f, 1), -ENOBUFS);
	assert_int_equal(f->c.id, 0);
	assert_null(vio_devq_error(f->q));
}

void pop_enobufs_with_zero_iov_cap(void **state)
{
	struct fx *f = *state;

	add_one(f, 2, f->buf, 16, 0);
	memset(&f->c, 0, sizeof(f->c));
	f->c.iov = NULL;
	f->c.iov_cap = 0;
	assert_int_equal(vio_devq_pop(f->q, &f->c), -ENOBUFS);
	assert_int_equal(f->c.id, 2);
	assert_int_equal(vio_devq_inflight(f->q), 1);
}

void pop_enobufs_still_validates_rest_of_chain(void **state)
{
	struct fx *f = *state;

	/* Three buffers, room for one iovec; the third is in the hole. */
	mock_split_desc(&f->vq, 0, f->buf, 16, NEXT, 1);
	mock_split_desc(&f->vq, 1, f->buf + 16, 16, NEXT, 2);
	mock_split_desc(&f->vq, 2, MOCK_HOLE_GPA, 16, WRITE, 0);
	mock_split_make_avail(&f->vq, 0);
	f->c.iov_cap = 1;
	memset(&f->c, 0, sizeof(f->c));
	f->c.iov = f->iov;
	f->c.iov_cap = 1;
	assert_int_equal(vio_devq_pop(f->q, &f->c), -EIO);
	assert_broken(f, E_BUF_OUTSIDE, 0, 0);
}

void pop_enobufs_still_checks_descriptor_order(void **state)
{
	struct fx *f = *state;

	mock_split_desc(&f->vq, 0, f->buf, 16, NEXT, 1);
	mock_split_desc(&f->vq, 1, f->buf + 16, 16, NEXT | WRITE, 2);
	mock_split_desc(&f->vq, 2, f->buf + 32, 16, 0, 0);
	mock_split_make_avail(&f->vq, 0);
	assert_int_equal(pop_cap(f, 1), -EIO);
	assert_broken(f, E_RO_AFTER_WO, 0, 0);
}

/*
 * The region of the last buffer is tried first (src/mem/mem_impl.h): a
 * buffer that starts there and crosses into the next region is still cut
 * into one iovec per region, and one in another region is found.
 */
void pop_buffers_leaving_the_region_of_the_one_before(void **state)
{
	struct fx *f = *state;

	mock_split_desc(&f->vq, 0, MOCK_R1_GPA - 64, 16, NEXT, 1);     /* R0: sets the cache */
	mock_split_desc(&f->vq, 1, MOCK_R1_GPA - 8, 16, NEXT, 2);      /* R0 then R1 */
	mock_split_desc(&f->vq, 2, MOCK_R2_GPA + 32, 8, WRITE, 0);     /* R2 */
	mock_split_make_avail(&f->vq, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.nout, 3);
	assert_int_equal(f->c.nin, 1);
	assert_iov(&f->iov[0], hva(f, MOCK_R1_GPA - 64), 16);
	assert_iov(&f->iov[1], hva(f, MOCK_R1_GPA - 8), 8);
	assert_iov(&f->iov[2], f->m.region[1].hva, 8);
	assert_iov(&f->iov[3], f->m.region[2].hva + 32, 8);
}
