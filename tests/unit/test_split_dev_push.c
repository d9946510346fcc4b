/* SPDX-License-Identifier: BSD-3-Clause */
/* The split ring, device side: push and flush, notification suppression, 16-bit wrap-around. */
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
/* push / flush                                                        */
/* ================================================================== */

void push_is_invisible_until_flush(void **state)
{
	struct fx *f = *state;
	struct mock_used u;

	add_one(f, 0, f->buf, 16, WRITE);
	assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_push(f->q, 0, 16), 0);
	assert_int_equal(mock_split_used_idx(&f->vq), 0);
	assert_int_equal(mock_vq_used(&f->vq, &u), 0);
	assert_int_equal(vio_devq_flush(f->q), 1);
	assert_int_equal(mock_split_used_idx(&f->vq), 1);
}

void flush_publishes_batch_in_push_order_with_lengths(void **state)
{
	struct fx *f = *state;
	uint32_t id, len;

	add_one(f, 4, f->buf, 100, WRITE);
	add_one(f, 1, f->buf + 100, 200, WRITE);
	add_one(f, 6, f->buf + 300, 300, WRITE);
	assert_int_equal(pop(f), 1);
	assert_int_equal(pop(f), 1);
	assert_int_equal(pop(f), 1);
	/* Out of order: 6, 4, 1. */
	assert_int_equal(vio_devq_push(f->q, 6, 33), 0);
	assert_int_equal(vio_devq_push(f->q, 4, 11), 0);
	assert_int_equal(vio_devq_push(f->q, 1, 22), 0);
	assert_int_equal(mock_split_used_idx(&f->vq), 0);
	assert_int_equal(vio_devq_inflight(f->q), 0);
	assert_int_equal(vio_devq_flush(f->q), 1);
	assert_int_equal(mock_split_used_idx(&f->vq), 3);
	mock_split_used_elem(&f->vq, 0, &id, &len);
	assert_int_equal(id, 6);
	assert_int_equal(len, 33);
	mock_split_used_elem(&f->vq, 1, &id, &len);
	assert_int_equal(id, 4);
	assert_int_equal(len, 11);
	mock_split_used_elem(&f->vq, 2, &id, &len);
	assert_int_equal(id, 1);
	assert_int_equal(len, 22);
}

void flush_with_nothing_pushed_returns_0(void **state)
{
	struct fx *f = *state;

	assert_int_equal(vio_devq_flush(f->q), 0);
	add_one(f, 0, f->buf, 16, WRITE);
	assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_push(f->q, 0, 1), 0);
	assert_int_equal(vio_devq_flush(f->q), 1);
	assert_int_equal(vio_devq_flush(f->q), 0);
	assert_int_equal(mock_split_used_idx(&f->vq), 1);
}

void push_len_clamped_to_writable_size(void **state)
{
	struct fx *f = *state;
	struct mock_used u;

	mock_vq_add(&f->vq, (struct mock_buf[]){ { f->buf, 512, false }, { f->buf + 512, 10, true },
						{ MOCK_R1_GPA - 3, 6, true } }, 3, MOCK_DIRECT);
	assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_push(f->q, f->c.id, 1000), 0);
	vio_devq_flush(f->q);
	assert_int_equal(mock_vq_used(&f->vq, &u), 1);
	assert_int_equal(u.len, 16);
}

void push_len_on_readonly_chain_is_0(void **state)
{
	struct fx *f = *state;
	struct mock_used u;

	mock_vq_add(&f->vq, (struct mock_buf[]){ { f->buf, 512, false } }, 1, MOCK_DIRECT);
	assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_push(f->q, f->c.id, 5), 0);
	vio_devq_flush(f->q);
	assert_int_equal(mock_vq_used(&f->vq, &u), 1);
	assert_int_equal(u.len, 0);
}

void push_len_below_writable_size_is_kept(void **state)
{
	struct fx *f = *state;
	struct mock_used u;

	mock_vq_add(&f->vq, (struct mock_buf[]){ { f->buf, 512, true } }, 1, MOCK_DIRECT);
	assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_push(f->q, f->c.id, 511), 0);
	vio_devq_flush(f->q);
	assert_int_equal(mock_vq_used(&f->vq, &u), 1);
	assert_int_equal(u.len, 511);
}

void push_id_never_popped_is_einval(void **state)
{
	struct fx *f = *state;

	assert_int_equal(vio_devq_push(f->q, 0, 0), -EINVAL);
	add_one(f, 3, f->buf, 1, 0);
	assert_int_equal(vio_devq_push(f->q, 3, 0), -EINVAL); /* available, not popped */
	assert_int_equal(vio_devq_flush(f->q), 0);
	assert_int_equal(mock_split_used_idx(&f->vq), 0);
	assert_int_equal(vio_devq_inflight(f->q), 0);
	assert_null(vio_devq_error(f->q));
}

void push_id_out_of_range_is_einval(void **state)
{
	struct fx *f = *state;

	assert_int_equal(vio_devq_push(f->q, 8, 0), -EINVAL);
	assert_int_equal(vio_devq_push(f->q, 0xffff, 0), -EINVAL);
	assert_null(vio_devq_error(f->q));
}

void push_same_id_twice_is_einval(void **state)
{
	struct fx *f = *state;

	add_one(f, 2, f->buf, 1, WRITE);
	assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_push(f->q, 2, 1), 0);
	assert_int_equal(vio_devq_push(f->q, 2, 1), -EINVAL);
	assert_int_equal(vio_devq_flush(f->q), 1);
	assert_int_equal(mock_split_used_idx(&f->vq), 1);
}

void pushed_head_can_be_made_available_again(void **state)
{
	struct fx *f = *state;

	add_one(f, 2, f->buf, 1, WRITE);
	assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_push(f->q, 2, 1), 0);
	vio_devq_flush(f->q);
	mock_split_make_avail(&f->vq, 2);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->c.id, 2);
	assert_null(vio_devq_error(f->q));
}

void inflight_counts_popped_not_pushed(void **state)
{
	struct fx *f = *state;

	add_one(f, 0, f->buf, 1, 0);
	add_one(f, 1, f->buf, 1, 0);
	add_one(f, 2, f->buf, 1, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_inflight(f->q), 2);
	assert_int_equal(vio_devq_push(f->q, 1, 0), 0);
	assert_int_equal(vio_devq_inflight(f->q), 1);
	assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_inflight(f->q), 2);
}

/* ================================================================== */
/* Notification suppression                                            */
/* ================================================================== */

/* Pops and pushes @n one-descriptor chains (heads 0..n-1), then flushes. */
static int complete_n(struct fx *f, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		uint16_t h = (uint16_t)(f->vq.avail_idx % f->p.num);

		add_one(f, h, f->buf, 1, WRITE);
		assert_int_equal(pop(f), 1);
		assert_int_equal(vio_devq_push(f->q, h, 1), 0);
	}
	return vio_devq_flush(f->q);
}

/* VIRTIO 1.4 §2.7.7.2 */
void flush_notifies_when_avail_flags_0(void **state)
{
	struct fx *f = *state;

	assert_int_equal(complete_n(f, 1), 1);
	assert_int_equal(complete_n(f, 3), 1);
}

void flush_suppressed_by_no_interrupt_flag(void **state)
{
	struct fx *f = *state;

	mock_split_set_avail_flags(&f->vq, VIRTQ_AVAIL_F_NO_INTERRUPT);
	assert_int_equal(complete_n(f, 1), 0);
	assert_int_equal(mock_split_used_idx(&f->vq), 1); /* published all the same */
	mock_split_set_avail_flags(&f->vq, 0);
	assert_int_equal(complete_n(f, 1), 1);
}

void flush_ignores_used_event_without_event_idx(void **state)
{
	struct fx *f = *state;

	mock_split_set_used_event(&f->vq, 100);
	assert_int_equal(complete_n(f, 1), 1);
	mock_split_set_avail_flags(&f->vq, VIRTQ_AVAIL_F_NO_INTERRUPT);
	mock_split_set_used_event(&f->vq, 1);
	assert_int_equal(complete_n(f, 1), 0);
}

void flush_notifies_when_used_event_reached(void **state)
{
	struct fx *f = *state;

	mock_split_set_used_event(&f->vq, 0);
	assert_int_equal(complete_n(f, 1), 1); /* used idx 0 -> 1 wrote entry 0 */
}

void flush_suppressed_before_used_event(void **state)
{
	struct fx *f = *state;

	mock_split_set_used_event(&f->vq, 2);
	assert_int_equal(complete_n(f, 1), 0); /* entry 0 */
	assert_int_equal(complete_n(f, 1), 0); /* entry 1 */
	assert_int_equal(complete_n(f, 1), 1); /* entry 2 == used_event */
	assert_int_equal(complete_n(f, 1), 0); /* entry 3: passed */
}

void flush_batch_crossing_used_event_notifies_once(void **state)
{
	struct fx *f = *state;

	mock_split_set_used_event(&f->vq, 4);
	assert_int_equal(complete_n(f, 3), 0); /* entries 0..2 */
	assert_int_equal(complete_n(f, 3), 1); /* entries 3..5 include 4 */
	assert_int_equal(complete_n(f, 3), 0); /* 6..8 */
}

void flush_used_event_behind_does_not_notify(void **state)
{
	struct fx *f = *state;

	assert_int_equal(complete_n(f, 4), 1); /* used_event 0 */
	mock_split_set_used_event(&f->vq, 1);  /* the driver lags behind */
	assert_int_equal(complete_n(f, 2), 0);
}

/* VIRTIO 1.4 §2.7.7.2: with EVENT_IDX the device MUST ignore the lower bit of flags. */
void flush_ignores_no_interrupt_flag_with_event_idx(void **state)
{
	struct fx *f = *state;

	mock_split_set_avail_flags(&f->vq, VIRTQ_AVAIL_F_NO_INTERRUPT);
	mock_split_set_used_event(&f->vq, 0);
	assert_int_equal(complete_n(f, 1), 1);
}

void flush_used_event_across_16_bit_wrap(void **state)
{
	struct fx *f = *state;
	struct vio_devq_config cfg;

	/* Resume with used idx 0xfffe, avail idx 0xfffe. */
	mock_split_set_used_idx(&f->vq, 0xfffe);
	mock_split_set_avail_idx(&f->vq, 0xfffe);
	mock_vq_config(&f->vq, &cfg);
	cfg.base = 0xfffe;
	assert_int_equal(mock_vq_devq_init(&f->vq, &cfg), 0);
	f->q = f->vq.devq;
	mock_split_set_used_event(&f->vq, 0x0000);
	assert_int_equal(complete_n(f, 1), 0);  /* entry 0xfffe */
	assert_int_equal(complete_n(f, 2), 1);  /* entries 0xffff, 0x0000 */
	assert_int_equal(mock_split_used_idx(&f->vq), 1);
	mock_split_set_used_event(&f->vq, 0xffff); /* far behind now */
	assert_int_equal(complete_n(f, 1), 0);
}

/* VIRTIO 1.4 §2.7.10.2 */
void kick_disable_sets_no_notify_without_event_idx(void **state)
{
	struct fx *f = *state;

	vio_devq_kick_disable(f->q);
	assert_int_equal(mock_split_used_flags(&f->vq), VIRTQ_USED_F_NO_NOTIFY);
	assert_int_equal(mock_split_avail_event(&f->vq), 0);
}

void kick_enable_clears_no_notify_and_returns_0_when_empty(void **state)
{
	struct fx *f = *state;

	vio_devq_kick_disable(f->q);
	assert_int_equal(vio_devq_kick_enable(f->q), 0);
	assert_int_equal(mock_split_used_flags(&f->vq), 0);
}

void kick_enable_returns_1_when_more_available(void **state)
{
	struct fx *f = *state;

	add_one(f, 0, f->buf, 1, 0);
	add_one(f, 1, f->buf, 1, 0);
	vio_devq_kick_disable(f->q);
	assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_kick_enable(f->q), 1);
	assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_kick_enable(f->q), 0);
}

void kick_enable_does_not_consume(void **state)
{
	struct fx *f = *state;

	add_one(f, 0, f->buf, 1, 0);
	assert_int_equal(vio_devq_kick_enable(f->q), 1);
	assert_int_equal(vio_devq_kick_enable(f->q), 1);
	assert_int_equal(vio_devq_base(f->q), 0);
	assert_int_equal(pop(f), 1);
}

void kick_disable_writes_nothing_with_event_idx(void **state)
{
	struct fx *f = *state;

	vio_devq_kick_disable(f->q);
	assert_int_equal(mock_split_used_flags(&f->vq), 0);
	assert_int_equal(mock_split_avail_event(&f->vq), 0);
}

void kick_enable_publishes_avail_event_with_event_idx(void **state)
{
	struct fx *f = *state;
	unsigned i;

	for (i = 0; i < 5; i++) {
		add_one(f, (uint16_t)i, f->buf, 1, 0);
		assert_int_equal(pop(f), 1);
	}
	vio_devq_kick_disable(f->q);
	assert_int_equal(vio_devq_kick_enable(f->q), 0);
	assert_int_equal(mock_split_avail_event(&f->vq), 5);
	assert_int_equal(mock_split_used_flags(&f->vq), 0); /* MUST be 0 with EVENT_IDX */
}

void kick_enable_returns_1_when_more_available_with_event_idx(void **state)
{
	struct fx *f = *state;

	add_one(f, 0, f->buf, 1, 0);
	add_one(f, 1, f->buf, 1, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(vio_devq_kick_enable(f->q), 1);
	assert_int_equal(mock_split_avail_event(&f->vq), 1);
}

/* ================================================================== */
/* Index wrap-around                                                   */
/* ================================================================== */

void indices_wrap_at_16_bits(void **state)
{
	struct fx *f = *state;
	struct vio_devq_config cfg;
	struct mock_used u;
	unsigned i;

	mock_split_set_used_idx(&f->vq, 0xfffa);
	mock_split_set_avail_idx(&f->vq, 0xfffa);
	mock_vq_config(&f->vq, &cfg);
	cfg.base = 0xfffa;
	assert_int_equal(mock_vq_devq_init(&f->vq, &cfg), 0);
	f->q = f->vq.devq;
	for (i = 0; i < 20; i++) {
		int head = mock_vq_add(&f->vq, (struct mock_buf[]){ { f->buf, 4, false }, { f->buf + 8, 4, true } },
				       2, MOCK_DIRECT);

		assert_true(head >= 0);
		assert_int_equal(pop(f), 1);
		assert_int_equal(f->c.id, head);
		assert_int_equal(vio_devq_push(f->q, f->c.id, i), 0);
		vio_devq_flush(f->q);
		assert_int_equal(mock_vq_used(&f->vq, &u), 1);
		assert_int_equal(u.id, head);
		assert_int_equal(u.len, i < 4 ? i : 4);
	}
	assert_int_equal(vio_devq_base(f->q), (0xfffa + 20) & 0xffff);
	assert_int_equal(mock_split_used_idx(&f->vq), (0xfffa + 20) & 0xffff);
	assert_null(vio_devq_error(f->q));
}
