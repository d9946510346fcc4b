/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the driver side of the split virtqueue (src/ring/): what it
 * writes into the rings, when it says to notify, and how it stands up to a
 * hostile device that the tests play by writing the used ring directly.
 *
 * Every area the queue may touch (its state, the three ring areas, the
 * indirect tables) sits at the end of its own mapping, against a PROT_NONE
 * page, so a stray access past it faults; the slack before that page is
 * filled with a canary checked at teardown. Buffer addresses are never
 * mapped at all: the driver must not dereference them.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_split_drv.h"

/* ------------------------------------------------------------------ */
/* Fixture                                                             */
/* ------------------------------------------------------------------ */

static const struct params P_PLAIN = { 8, 0, 4 };
static const struct params P_IND = { 8, F_INDIRECT, 4 };
static const struct params P_EVENT = { 8, F_EVENT, 4 };
static const struct params P_IND_EVENT = { 8, F_INDIRECT | F_EVENT, 4 };
static const struct params P_IND_16 = { 16, F_INDIRECT, 32 }; /* tables longer than num */
static const struct params P_NUM1 = { 1, F_INDIRECT, 4 };
static const struct params P_NUM4_EVENT = { 4, F_EVENT, 0 };
static const struct params P_IO = { 8, F_IN_ORDER, 4 };
static const struct params P_IO_IND = { 8, F_IN_ORDER | F_INDIRECT, 4 };
static const struct params P_IO_EVENT = { 8, F_IN_ORDER | F_EVENT, 4 };
static const struct params P_IO_IND_EVENT = { 8, F_IN_ORDER | F_INDIRECT | F_EVENT, 4 };
static const struct params P_NUM4_IO_EVENT = { 4, F_IN_ORDER | F_EVENT | F_INDIRECT, 2 };

static void fx_config(struct fx *f)
{
	struct vio_drvq_config *c = &f->cfg;

	memset(c, 0, sizeof(*c));
	c->num = f->p.num;
	c->features = f->p.features | VIO_BIT(VIRTIO_F_VERSION_1);
	c->desc = f->desc;
	c->driver = f->avail;
	c->device = f->used;
	if (f->p.ind_max) {
		c->indirect = f->ind;
		c->indirect_addr = IND_ADDR;
		c->indirect_max = f->p.ind_max;
	}
}

static struct fx *fx_new(const struct params *p)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->p = *p;
	f->q = galloc(&f->gq, vio_drvq_size(p->num), 8);
	f->desc = galloc(&f->gdesc, virtq_desc_size(p->num), 16);
	f->avail = galloc(&f->gavail, virtq_avail_size(p->num), 2);
	f->used = galloc(&f->gused, virtq_used_size(p->num), 4);
	if (p->ind_max)
		f->ind = galloc(&f->gind, (size_t)p->num * p->ind_max * 16, 16);
	fx_config(f);
	return f;
}

static void fx_free(struct fx *f)
{
	gfree(&f->gq);
	gfree(&f->gdesc);
	gfree(&f->gavail);
	gfree(&f->gused);
	gfree(&f->gind);
	free(f);
}

static int setup(void **state)
{
	const struct params *p = *state ? *state : &P_IND;
	struct fx *f = fx_new(p);

	assert_int_equal(vio_drvq_init(f->q, &f->cfg), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx_free(*state);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Reading what the driver wrote; playing the device                   */
/* ------------------------------------------------------------------ */

uint16_t avail_idx(struct fx *f) { return le16_to_cpu(f->avail->idx); }
uint16_t avail_flags(struct fx *f) { return le16_to_cpu(f->avail->flags); }
uint16_t avail_ring(struct fx *f, uint32_t i) { return le16_to_cpu(f->avail->ring[i % f->p.num]); }
uint16_t used_event(struct fx *f) { return le16_to_cpu(*virtq_used_event(f->avail, f->p.num)); }

void assert_desc(const struct virtq_desc *d, uint64_t addr, uint32_t len, uint16_t flags,
		 uint16_t next)
{
	assert_int_equal(le64_to_cpu(d->addr), addr);
	assert_int_equal(le32_to_cpu(d->len), len);
	assert_int_equal(le16_to_cpu(d->flags), flags);
	assert_int_equal(le16_to_cpu(d->next), next);
}

void set_used_flags(struct fx *f, uint16_t v) { f->used->flags = cpu_to_le16(v); }
void set_avail_event(struct fx *f, uint16_t v) { *virtq_avail_event(f->used, f->p.num) = cpu_to_le16(v); }

/* Writes used element {id, len} at the device's next used entry, without publishing. */
void dev_put(struct fx *f, uint32_t id, uint32_t len)
{
	struct virtq_used_elem *e = &f->used->ring[f->dev_used % f->p.num];

	e->id = cpu_to_le32(id);
	e->len = cpu_to_le32(len);
	f->dev_used++;
}

void dev_publish(struct fx *f)
{
	__atomic_store_n(&f->used->idx.v, cpu_to_le16(f->dev_used).v, __ATOMIC_RELEASE);
}

/* Marks @id used with @len and publishes the used index. */
void dev_use(struct fx *f, uint32_t id, uint32_t len)
{
	dev_put(f, id, len);
	dev_publish(f);
}

/* The next head the driver published, as the device would take it. */
uint16_t dev_next_head(struct fx *f)
{
	assert_int_not_equal(avail_idx(f), f->dev_avail);
	return avail_ring(f, f->dev_avail++);
}

void *tok(uintptr_t i) { return (void *)(0x1000 + 16 * i); }

/* Adds @n segments of 16 bytes each at BUF + 0x1000 * k, @nout readable. */
int add_n(struct fx *f, uint32_t nout, uint32_t nin, void *token)
{
	struct vio_sg sg[64];
	uint32_t k;

	assert_true(nout + nin <= 64);
	for (k = 0; k < nout + nin; k++) {
		sg[k].addr = BUF + 0x1000ull * k;
		sg[k].len = 16 + k;
	}
	return vio_drvq_add(f->q, sg, nout, nin, token);
}

/* Adds a buffer (add_n), publishes it, and returns its head as the device sees it. */
uint16_t add_publish(struct fx *f, uint32_t nout, uint32_t nin, void *token)
{
	assert_int_equal(add_n(f, nout, nin, token), 0);
	vio_drvq_kick_prepare(f->q);
	return dev_next_head(f);
}

void assert_used(struct fx *f, void *token, uint32_t len)
{
	void *t = (void *)0x1;
	uint32_t l = 0xfeedu;

	assert_int_equal(vio_drvq_get_used(f->q, &t, &l), 1);
	assert_ptr_equal(t, token);
	assert_int_equal(l, len);
}

void assert_no_used(struct fx *f)
{
	void *t = (void *)0x1;
	uint32_t l = 0xfeedu;

	assert_int_equal(vio_drvq_get_used(f->q, &t, &l), 0);
	assert_ptr_equal(t, (void *)0x1);
	assert_int_equal(l, 0xfeedu);
}

/* ================================================================== */
/* size, areas, init                                                   */
/* ================================================================== */

static void size_is_0_for_num_0_or_above_32768(void **state)
{
	(void)state;
	assert_int_equal(vio_drvq_size(0), 0);
	assert_int_equal(vio_drvq_size(32769), 0);
	assert_true(vio_drvq_size(1) > 0);
	assert_true(vio_drvq_size(32768) > vio_drvq_size(1));
}

static void area_sizes_and_alignment_follow_the_split_layout(void **state)
{
	(void)state;
	assert_int_equal(vio_drvq_area_size(256, 0, VIO_DRVQ_DESC), 4096);
	assert_int_equal(vio_drvq_area_size(256, 0, VIO_DRVQ_DRIVER), 6 + 512);
	assert_int_equal(vio_drvq_area_size(256, 0, VIO_DRVQ_DEVICE), 6 + 2048);
	assert_int_equal(vio_drvq_area_size(1, F_EVENT, VIO_DRVQ_DEVICE), 14);
	assert_int_equal(vio_drvq_area_size(32768, 0, VIO_DRVQ_DESC), 16 * 32768);
	assert_int_equal(vio_drvq_area_align(0, VIO_DRVQ_DESC), 16);
	assert_int_equal(vio_drvq_area_align(0, VIO_DRVQ_DRIVER), 2);
	assert_int_equal(vio_drvq_area_align(0, VIO_DRVQ_DEVICE), 4);
	/* Invalid split Queue Sizes. */
	assert_int_equal(vio_drvq_area_size(0, 0, VIO_DRVQ_DESC), 0);
	assert_int_equal(vio_drvq_area_size(6, 0, VIO_DRVQ_DRIVER), 0);
	assert_int_equal(vio_drvq_area_size(65536, 0, VIO_DRVQ_DEVICE), 0);
}

static void area_sizes_and_alignment_follow_the_packed_layout(void **state)
{
	const uint64_t P = VIO_BIT(VIRTIO_F_RING_PACKED);

	(void)state;
	assert_int_equal(vio_drvq_area_size(6, P, VIO_DRVQ_DESC), 96); /* any size */
	assert_int_equal(vio_drvq_area_size(6, P, VIO_DRVQ_DRIVER), 4);
	assert_int_equal(vio_drvq_area_size(6, P, VIO_DRVQ_DEVICE), 4);
	assert_int_equal(vio_drvq_area_size(32769, P, VIO_DRVQ_DESC), 0);
	assert_int_equal(vio_drvq_area_align(P, VIO_DRVQ_DESC), 16);
	assert_int_equal(vio_drvq_area_align(P, VIO_DRVQ_DRIVER), 4);
	assert_int_equal(vio_drvq_area_align(P, VIO_DRVQ_DEVICE), 4);
}

static int init_with(struct fx *f, void (*edit)(struct vio_drvq_config *))
{
	struct vio_drvq_config c = f->cfg;

	edit(&c);
	return vio_drvq_init(f->q, &c);
}

static void num_0(struct vio_drvq_config *c) { c->num = 0; }
static void num_6(struct vio_drvq_config *c) { c->num = 6; }
static void num_65536(struct vio_drvq_config *c) { c->num = 65536; }
static void desc_8(struct vio_drvq_config *c) { c->desc = (char *)c->desc - 8; }
static void avail_1(struct vio_drvq_config *c) { c->driver = (char *)c->driver - 1; }
static void used_2(struct vio_drvq_config *c) { c->device = (char *)c->device - 2; }
static void desc_null(struct vio_drvq_config *c) { c->desc = NULL; }
static void avail_null(struct vio_drvq_config *c) { c->driver = NULL; }
static void used_null(struct vio_drvq_config *c) { c->device = NULL; }
static void ind_8(struct vio_drvq_config *c) { c->indirect = (char *)c->indirect - 8; }
static void ind_addr_8(struct vio_drvq_config *c) { c->indirect_addr += 8; }
static void ind_addr_end(struct vio_drvq_config *c) { c->indirect_addr = UINT64_MAX - 15; }

static void init_rejects_num_0(void **s) { assert_int_equal(init_with(*s, num_0), -EINVAL); }
static void init_rejects_num_not_power_of_2(void **s) { assert_int_equal(init_with(*s, num_6), -EINVAL); }
static void init_rejects_num_above_32768(void **s) { assert_int_equal(init_with(*s, num_65536), -EINVAL); }
static void init_rejects_desc_not_16_aligned(void **s) { assert_int_equal(init_with(*s, desc_8), -EINVAL); }
static void init_rejects_avail_not_2_aligned(void **s) { assert_int_equal(init_with(*s, avail_1), -EINVAL); }
static void init_rejects_used_not_4_aligned(void **s) { assert_int_equal(init_with(*s, used_2), -EINVAL); }
static void init_rejects_null_desc(void **s) { assert_int_equal(init_with(*s, desc_null), -EINVAL); }
static void init_rejects_null_avail(void **s) { assert_int_equal(init_with(*s, avail_null), -EINVAL); }
static void init_rejects_null_used(void **s) { assert_int_equal(init_with(*s, used_null), -EINVAL); }
static void init_rejects_indirect_not_16_aligned(void **s) { assert_int_equal(init_with(*s, ind_8), -EINVAL); }
static void init_rejects_indirect_addr_not_16_aligned(void **s) { assert_int_equal(init_with(*s, ind_addr_8), -EINVAL); }
static void init_rejects_indirect_addr_end_overflow(void **s) { assert_int_equal(init_with(*s, ind_addr_end), -EINVAL); }

static void init_zeroes_ring_areas_and_starts_empty(void **state)
{
	struct fx *f = *state;
	size_t i;

	memset(f->desc, 0xff, f->gdesc.size);
	memset(f->avail, 0xff, f->gavail.size);
	memset(f->used, 0xff, f->gused.size);
	memset(f->q, 0xff, f->gq.size);
	assert_int_equal(vio_drvq_init(f->q, &f->cfg), 0);
	for (i = 0; i < f->gdesc.size; i++)
		assert_int_equal(((uint8_t *)f->desc)[i], 0);
	for (i = 0; i < f->gavail.size; i++)
		assert_int_equal(((uint8_t *)f->avail)[i], 0);
	for (i = 0; i < f->gused.size; i++)
		assert_int_equal(((uint8_t *)f->used)[i], 0);
	assert_int_equal(vio_drvq_num_free(f->q), f->p.num);
	assert_int_equal(vio_drvq_inflight(f->q), 0);
	assert_null(vio_drvq_error(f->q));
	assert_no_used(f);
}

static void init_accepts_queue_sizes_1_to_32768(void **state)
{
	uint32_t num;

	(void)state;
	for (num = 1; num <= 32768; num *= 2) {
		struct params p = { num, F_INDIRECT | F_EVENT, 2 };
		struct fx *f = fx_new(&p);

		assert_int_equal(vio_drvq_init(f->q, &f->cfg), 0);
		assert_int_equal(vio_drvq_num_free(f->q), num);
		fx_free(f);
	}
}

#define T(f, p) { #f "/" #p, f, setup, teardown, (void *)&(p) }
#define MATRIX(f)                                                           \
	{ #f "/plain", f, setup, teardown, (void *)&P_PLAIN },              \
	{ #f "/indirect", f, setup, teardown, (void *)&P_IND },             \
	{ #f "/event_idx", f, setup, teardown, (void *)&P_EVENT },          \
	{ #f "/indirect+event_idx", f, setup, teardown, (void *)&P_IND_EVENT }
#define IO(f) T(f, P_IO), T(f, P_IO_IND), T(f, P_IO_EVENT), T(f, P_IO_IND_EVENT)
#define MATRIX_IO(f)                                                        \
	{ #f "/in_order", f, setup, teardown, (void *)&P_IO },              \
	{ #f "/in_order+indirect", f, setup, teardown, (void *)&P_IO_IND },  \
	{ #f "/in_order+event_idx", f, setup, teardown, (void *)&P_IO_EVENT }, \
	{ #f "/in_order+indirect+event_idx", f, setup, teardown, (void *)&P_IO_IND_EVENT }

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(size_is_0_for_num_0_or_above_32768),
		cmocka_unit_test(area_sizes_and_alignment_follow_the_split_layout),
		cmocka_unit_test(area_sizes_and_alignment_follow_the_packed_layout),
		T(init_rejects_num_0, P_IND),
		T(init_rejects_num_not_power_of_2, P_IND),
		T(init_rejects_num_above_32768, P_IND),
		T(init_rejects_desc_not_16_aligned, P_IND),
		T(init_rejects_avail_not_2_aligned, P_IND),
		T(init_rejects_used_not_4_aligned, P_IND),
		T(init_rejects_null_desc, P_IND),
		T(init_rejects_null_avail, P_IND),
		T(init_rejects_null_used, P_IND),
		T(init_rejects_indirect_not_16_aligned, P_IND),
		T(init_rejects_indirect_addr_not_16_aligned, P_IND),
		T(init_rejects_indirect_addr_end_overflow, P_IND),
		MATRIX(init_zeroes_ring_areas_and_starts_empty),
		cmocka_unit_test(init_accepts_queue_sizes_1_to_32768),

		T(add_direct_chain_readable_then_writable, P_PLAIN),
		MATRIX(add_is_published_only_by_kick_prepare),
		T(add_single_segment_is_direct_even_with_indirect, P_IND),
		T(add_uses_the_indirect_table_of_the_head, P_IND),
		T(add_uses_the_indirect_table_of_the_head, P_IND_EVENT),
		T(add_indirect_table_filled_to_indirect_max, P_IND),
		T(add_indirect_table_filled_to_indirect_max, P_IND_16),
		T(add_more_segments_than_indirect_max_goes_direct, P_IND),
		T(add_without_indirect_feature_goes_direct, P_PLAIN),
		T(add_without_indirect_tables_goes_direct, P_IND),
		MATRIX(add_chain_of_queue_size_segments),
		T(add_chain_of_queue_size_segments, P_IND_16),
		MATRIX(add_rejects_bad_segments_with_einval),
		T(add_rejects_bad_segments_with_einval, P_IND_16),
		MATRIX(add_rejects_chain_above_2_32_bytes),
		MATRIX(add_enospc_when_descriptors_run_out),
		T(add_enospc_for_direct_chain_longer_than_free, P_PLAIN),
		T(add_indirect_fits_where_direct_would_not, P_IND),
		T(add_after_free_reuses_descriptors_without_reading_the_table, P_PLAIN),
		T(add_chain_follows_free_list_after_out_of_order_use, P_PLAIN),
		T(add_on_queue_of_size_1, P_NUM1),

		MATRIX(get_used_returns_token_and_length),
		MATRIX(get_used_sees_nothing_before_used_idx_moves),
		MATRIX(get_used_accepts_len_0_on_readable_buffer),
		MATRIX(get_used_accepts_len_equal_to_writable_part),
		MATRIX(get_used_accepts_writable_part_of_4gib_minus_1),
		MATRIX(get_used_accepts_used_idx_exactly_num_ahead),

		MATRIX(hostile_used_id_out_of_range_breaks_queue),
		MATRIX(hostile_used_id_0xffffffff_breaks_queue),
		MATRIX(hostile_used_id_never_made_available_breaks_queue),
		T(hostile_used_id_of_a_chain_body_breaks_queue, P_PLAIN),
		MATRIX(hostile_used_id_added_but_not_published_breaks_queue),
		MATRIX(hostile_used_id_completed_twice_breaks_queue),
		MATRIX(hostile_used_id_completed_twice_after_reuse_is_not_confused),
		MATRIX(hostile_used_len_above_writable_breaks_queue),
		MATRIX(hostile_used_len_on_readable_only_buffer_breaks_queue),
		MATRIX(hostile_used_len_0xffffffff_breaks_queue),
		MATRIX(hostile_used_idx_more_than_num_ahead_breaks_queue),
		MATRIX(hostile_used_idx_ahead_of_buffers_made_available_breaks_queue),
		MATRIX(hostile_used_idx_going_back_breaks_queue),
		MATRIX(hostile_used_idx_with_nothing_in_flight_breaks_queue),
		MATRIX(hostile_device_writes_are_confined_to_the_rings),

		MATRIX(detach_returns_every_token_once),
		MATRIX(detach_with_nothing_in_flight_leaves_queue_usable),
		MATRIX(detach_after_init_again_gives_a_working_queue),

		T(kick_without_event_idx_follows_used_flags, P_PLAIN),
		T(kick_without_event_idx_follows_used_flags, P_IND),
		T(kick_with_event_idx_follows_avail_event, P_EVENT),
		T(kick_with_event_idx_follows_avail_event, P_IND_EVENT),
		T(kick_with_event_idx_first_publish_notifies, P_EVENT),
		T(cb_without_event_idx_uses_avail_flags, P_PLAIN),
		T(cb_without_event_idx_uses_avail_flags, P_IND),
		T(cb_with_event_idx_uses_used_event, P_EVENT),
		T(cb_with_event_idx_uses_used_event, P_IND_EVENT),
		MATRIX(get_used_does_not_rearm),

		T(indices_wrap_at_16_bits, P_NUM4_EVENT),

		T(in_order_descriptors_in_ring_order, P_IO),
		T(in_order_descriptors_in_ring_order, P_IO_EVENT),
		T(in_order_indirect_takes_the_next_descriptor, P_IO_IND),
		IO(in_order_batch_returns_skipped_buffers_in_full),
		IO(in_order_two_batches_published_at_once),
		IO(in_order_batch_longer_than_used_idx_moved_breaks_queue),
		IO(in_order_batch_naming_an_unpublished_head_breaks_queue),
		IO(in_order_batch_naming_a_free_head_breaks_queue),
		T(in_order_batch_naming_a_chain_body_breaks_queue, P_IO),
		IO(in_order_batch_last_len_above_writable_breaks_queue),
		IO(in_order_used_idx_past_available_breaks_queue),
		IO(in_order_detach_in_the_middle_of_a_batch),
		T(in_order_batches_across_the_16_bit_wrap, P_NUM4_IO_EVENT),
		MATRIX_IO(hostile_used_id_out_of_range_breaks_queue),
		MATRIX_IO(hostile_used_id_never_made_available_breaks_queue),
		MATRIX_IO(hostile_used_len_above_writable_breaks_queue),
		MATRIX_IO(hostile_used_idx_more_than_num_ahead_breaks_queue),
		MATRIX_IO(hostile_device_writes_are_confined_to_the_rings),
		MATRIX_IO(detach_returns_every_token_once),
		T(event_idx_kick_decision_across_the_wrap, P_NUM4_EVENT),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
