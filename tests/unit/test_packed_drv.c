/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the driver side of the packed virtqueue (src/ring/): what it
 * writes into the descriptor ring and the event suppression structures,
 * when it says to notify, and how it stands up to a hostile device that the
 * tests play by writing used descriptors into the ring directly: ids out of
 * range, not in flight or used twice, wrap counters that lie, lengths, and
 * (VIRTIO_F_IN_ORDER) batches naming what they should not.
 *
 * Every area the queue may touch (its state, the descriptor ring, the two
 * event suppression structures, the indirect tables) sits at the end of its
 * own mapping, against a PROT_NONE page, so a stray access past it faults;
 * the slack before that page is filled with a canary checked at teardown.
 * Buffer addresses are never mapped: the driver must not dereference them.
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

#include "test_packed_drv.h"

/* ------------------------------------------------------------------ */
/* Fixture                                                             */
/* ------------------------------------------------------------------ */

static const struct params P_PLAIN = { 8, 0, 4 };
static const struct params P_IND = { 8, F_INDIRECT, 4 };
static const struct params P_EVENT = { 8, F_EVENT, 4 };
static const struct params P_IND_EVENT = { 8, F_INDIRECT | F_EVENT, 4 };
static const struct params P_IO = { 8, F_IN_ORDER, 4 };
static const struct params P_IO_IND = { 8, F_IN_ORDER | F_INDIRECT, 4 };
static const struct params P_IO_EVENT = { 8, F_IN_ORDER | F_EVENT, 4 };
static const struct params P_IO_IND_EVENT = { 8, F_IN_ORDER | F_INDIRECT | F_EVENT, 4 };
static const struct params P_NUM1 = { 1, F_INDIRECT, 4 };
static const struct params P_NUM3 = { 3, 0, 0 };
static const struct params P_NUM3_EVENT = { 3, F_EVENT, 0 };
static const struct params P_NUM5_IO = { 5, F_IN_ORDER, 2 };
static const struct params P_NUM7_IO_EVENT = { 7, F_IN_ORDER | F_EVENT | F_INDIRECT, 3 };

bool in_order(const struct fx *f) { return f->p.features & F_IN_ORDER; }

static void fx_config(struct fx *f)
{
	struct vio_drvq_config *c = &f->cfg;

	memset(c, 0, sizeof(*c));
	c->num = f->p.num;
	c->features = f->p.features | F_PACKED | VIO_BIT(VIRTIO_F_VERSION_1);
	c->desc = f->desc;
	c->driver = f->drv;
	c->device = f->dev;
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
	f->desc = galloc(&f->gdesc, 16u * p->num, 16);
	f->drv = galloc(&f->gdrv, 4, 4);
	f->dev = galloc(&f->gdev, 4, 4);
	if (p->ind_max)
		f->ind = galloc(&f->gind, (size_t)p->num * p->ind_max * 16, 16);
	f->dev_avail_wrap = f->dev_used_wrap = true;
	fx_config(f);
	return f;
}

static void fx_free(struct fx *f)
{
	gfree(&f->gq);
	gfree(&f->gdesc);
	gfree(&f->gdrv);
	gfree(&f->gdev);
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

uint16_t dflags(struct fx *f, uint32_t i) { return le16_to_cpu(f->desc[i].flags); }
uint16_t drv_ev_flags(struct fx *f) { return le16_to_cpu(f->drv->flags); }
uint16_t drv_ev_desc(struct fx *f) { return le16_to_cpu(f->drv->desc); }

/* The flags of an available descriptor written with wrap counter @w (§2.8.1). */
uint16_t av(bool w) { return w ? AVAIL : USED; }
/* ... and of a used one. */
uint16_t us(bool w) { return w ? AVAIL | USED : 0; }

void assert_pdesc(const struct pvirtq_desc *d, uint64_t addr, uint32_t len, uint16_t id,
		  uint16_t flags)
{
	assert_int_equal(le64_to_cpu(d->addr), addr);
	assert_int_equal(le32_to_cpu(d->len), len);
	assert_int_equal(le16_to_cpu(d->id), id);
	assert_int_equal(le16_to_cpu(d->flags), flags);
}

void set_dev_event(struct fx *f, uint16_t desc, uint16_t flags)
{
	f->dev->desc = cpu_to_le16(desc);
	f->dev->flags = cpu_to_le16(flags);
}

static void dev_adv(struct fx *f, uint16_t *pos, bool *wrap, uint32_t n)
{
	while (n--) {
		if (++*pos == f->p.num) {
			*pos = 0;
			*wrap = !*wrap;
		}
	}
}

/*
 * The device takes the next available list: checks that it is available
 * and well formed, records its id and length. Returns its id.
 */
uint16_t dev_take(struct fx *f)
{
	uint16_t id = 0, n = 0, fl;

	do {
		fl = dflags(f, f->dev_avail);
		assert_int_equal(fl & (AVAIL | USED), av(f->dev_avail_wrap));
		id = le16_to_cpu(f->desc[f->dev_avail].id);
		n++;
		assert_true(n <= f->p.num);
		dev_adv(f, &f->dev_avail, &f->dev_avail_wrap, 1);
	} while (fl & NEXT);
	assert_true(f->took < 64);
	f->took_id[f->took] = id;
	f->took_n[f->took++] = n;
	return id;
}

/* Nothing available at the device's position. */
void dev_nothing(struct fx *f)
{
	assert_int_not_equal(dflags(f, f->dev_avail) & (AVAIL | USED), av(f->dev_avail_wrap));
}

/* Writes a used descriptor {id, len, flags} at the device's used position and skips @skip. */
void dev_raw(struct fx *f, uint16_t id, uint32_t len, uint16_t flags, uint32_t skip)
{
	struct pvirtq_desc *d = &f->desc[f->dev_used];

	d->id = cpu_to_le16(id);
	d->len = cpu_to_le32(len);
	__atomic_store_n(&d->flags.v, cpu_to_le16(flags).v, __ATOMIC_RELEASE);
	dev_adv(f, &f->dev_used, &f->dev_used_wrap, skip);
}

/* Marks the list of @id (which took @n descriptors) used with @len (WRITE iff len). */
void dev_use_n(struct fx *f, uint16_t id, uint32_t len, uint32_t n)
{
	dev_raw(f, id, len, (uint16_t)(us(f->dev_used_wrap) | (len ? WRITE : 0)), n);
}

/* Marks taken list number @k used with @len. */
void dev_use_took(struct fx *f, uint32_t k, uint32_t len)
{
	dev_use_n(f, f->took_id[k], len, f->took_n[k]);
}

void *tok(uintptr_t i) { return (void *)(0x1000 + 16 * i); }

/* Adds @nout + @nin segments of 16 + k bytes at BUF + 0x1000 * k. */
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

/* Adds and publishes a buffer; the device takes it. Returns the index in took[]. */
uint32_t add_take(struct fx *f, uint32_t nout, uint32_t nin, void *token)
{
	assert_int_equal(add_n(f, nout, nin, token), 0);
	vio_drvq_kick_prepare(f->q);
	dev_take(f);
	return f->took - 1;
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

/*
 * The queue is broken with @why: get_used says -EIO (and so does add),
 * kick_prepare and cb_enable 0, and detach gives back exactly @toks.
 */
void assert_broken(struct fx *f, const char *why, void **toks, uint32_t n)
{
	bool seen[16] = { false };
	void *t = (void *)0x1;
	uint32_t l = 0xfeedu, i, j, inflight = vio_drvq_inflight(f->q);
	uint8_t ring[16 * 8], ev[4];

	assert_true(n <= 16 && f->p.num <= 8);
	assert_int_equal(vio_drvq_get_used(f->q, &t, &l), -EIO);
	assert_ptr_equal(t, (void *)0x1);
	assert_int_equal(l, 0xfeedu);
	assert_non_null(vio_drvq_error(f->q));
	assert_string_equal(vio_drvq_error(f->q), why);
	assert_int_equal(vio_drvq_get_used(f->q, &t, &l), -EIO);
	/* A broken queue writes nothing more to shared memory. */
	memcpy(ring, f->desc, 16 * f->p.num);
	memcpy(ev, f->drv, 4);
	assert_int_equal(add_n(f, 1, 0, tok(99)), -EIO);
	assert_int_equal(vio_drvq_kick_prepare(f->q), 0);
	assert_int_equal(vio_drvq_cb_enable(f->q), 0);
	vio_drvq_cb_disable(f->q);
	assert_memory_equal(ring, f->desc, 16 * f->p.num);
	assert_memory_equal(ev, f->drv, 4);
	assert_int_equal(vio_drvq_inflight(f->q), inflight);
	assert_int_equal(inflight, n);
	for (i = 0; i < n; i++) {
		assert_int_equal(vio_drvq_detach(f->q, &t), 1);
		for (j = 0; j < n; j++)
			if (toks[j] == t && !seen[j])
				break;
		assert_true(j < n);
		seen[j] = true;
	}
	assert_int_equal(vio_drvq_detach(f->q, &t), 0);
	assert_int_equal(vio_drvq_num_free(f->q), f->p.num);
	assert_string_equal(vio_drvq_error(f->q), why); /* the first reason sticks */
}

/* ================================================================== */
/* init                                                                */
/* ================================================================== */

static void init_accepts_any_queue_size_up_to_32768(void **state)
{
	static const uint32_t sizes[] = { 1, 2, 3, 7, 100, 255, 256, 1000, 32767, 32768 };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct params p = { sizes[i], F_INDIRECT | F_EVENT | F_IN_ORDER, 2 };
		struct fx *f = fx_new(&p);

		memset(f->desc, 0xff, f->gdesc.size);
		memset(f->drv, 0xff, 4);
		memset(f->dev, 0xff, 4);
		assert_int_equal(vio_drvq_init(f->q, &f->cfg), 0);
		assert_int_equal(vio_drvq_num_free(f->q), sizes[i]);
		/* VIRTIO 1.4 §2.8.13: zero-initialized; event flags 0 = ENABLE. */
		assert_int_equal(dflags(f, 0), 0);
		assert_int_equal(dflags(f, sizes[i] - 1), 0);
		assert_int_equal(le64_to_cpu(f->desc[sizes[i] - 1].addr), 0);
		assert_int_equal(drv_ev_flags(f), 0);
		assert_int_equal(drv_ev_desc(f), 0);
		assert_int_equal(le16_to_cpu(f->dev->flags), 0);
		assert_no_used(f);
		fx_free(f);
	}
}

static void init_rejects_misaligned_or_bad_areas(void **state)
{
	struct fx *f = *state;
	struct vio_drvq_config c;

	c = f->cfg;
	c.num = 0;
	assert_int_equal(vio_drvq_init(f->q, &c), -EINVAL);
	c = f->cfg;
	c.num = 32769;
	assert_int_equal(vio_drvq_init(f->q, &c), -EINVAL);
	c = f->cfg;
	c.desc = (char *)c.desc - 8; /* 16 (VIRTIO 1.4 §2.8.10.1) */
	assert_int_equal(vio_drvq_init(f->q, &c), -EINVAL);
	c = f->cfg;
	c.driver = (char *)c.driver - 2; /* 4: the split avail ring needs only 2 */
	assert_int_equal(vio_drvq_init(f->q, &c), -EINVAL);
	c = f->cfg;
	c.device = (char *)c.device - 2;
	assert_int_equal(vio_drvq_init(f->q, &c), -EINVAL);
	c = f->cfg;
	c.driver = NULL;
	assert_int_equal(vio_drvq_init(f->q, &c), -EINVAL);
}

#define T(fn, p) { #fn "/" #p, fn, setup, teardown, (void *)&(p) }
#define MATRIX(fn)                                                             \
	T(fn, P_PLAIN), T(fn, P_IND), T(fn, P_EVENT), T(fn, P_IND_EVENT),     \
	T(fn, P_IO), T(fn, P_IO_IND), T(fn, P_IO_EVENT), T(fn, P_IO_IND_EVENT)
#define NOT_IO(fn) T(fn, P_PLAIN), T(fn, P_IND), T(fn, P_EVENT), T(fn, P_IND_EVENT)
#define IO(fn) T(fn, P_IO), T(fn, P_IO_IND), T(fn, P_IO_EVENT), T(fn, P_IO_IND_EVENT)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(init_accepts_any_queue_size_up_to_32768),
		T(init_rejects_misaligned_or_bad_areas, P_IND),

		T(add_writes_list_in_ring_order_first_flags_last, P_PLAIN),
		T(add_writes_list_in_ring_order_first_flags_last, P_IO),
		MATRIX(add_is_published_only_by_kick_prepare),
		T(add_indirect_uses_the_table_of_the_id, P_IND),
		T(add_indirect_uses_the_table_of_the_id, P_IO_IND_EVENT),
		T(add_single_segment_is_direct_even_with_indirect, P_IND),
		T(add_more_segments_than_indirect_max_goes_direct, P_IND),
		MATRIX(add_enospc_when_the_ring_is_full),
		T(add_enospc_for_list_longer_than_free, P_PLAIN),
		T(add_enospc_for_list_longer_than_free, P_IO),
		T(add_list_wraps_round_the_ring, P_PLAIN),
		T(add_list_wraps_round_the_ring, P_IO_EVENT),
		T(add_ids_are_reused_from_the_free_list, P_PLAIN),
		T(add_on_queue_of_size_1, P_NUM1),

		NOT_IO(get_used_skips_by_list_length_out_of_order),
		MATRIX(get_used_sees_nothing_before_the_flags_change),
		MATRIX(get_used_len_without_write_flag_is_0),
		MATRIX(get_used_accepts_len_equal_to_writable_part),
		MATRIX(get_used_accepts_writable_part_of_4gib_minus_1),
		MATRIX(get_used_a_full_ring_used_at_once),

		MATRIX(hostile_used_id_out_of_range_breaks_queue),
		MATRIX(hostile_used_id_0xffff_breaks_queue),
		MATRIX(hostile_used_id_never_made_available_breaks_queue),
		MATRIX(hostile_used_id_added_but_not_published_breaks_queue),
		NOT_IO(hostile_used_id_used_twice_breaks_queue),
		NOT_IO(hostile_used_id_used_twice_after_reuse_is_not_confused),
		MATRIX(hostile_used_len_above_writable_breaks_queue),
		MATRIX(hostile_used_len_on_readable_only_buffer_breaks_queue),
		MATRIX(hostile_used_len_0xffffffff_breaks_queue),
		MATRIX(hostile_used_flags_with_old_wrap_counter_breaks_queue),
		MATRIX(hostile_used_flags_avail_not_equal_used_breaks_queue),
		T(hostile_wrap_counter_not_flipped_at_the_end_breaks_queue, P_PLAIN),
		MATRIX(hostile_used_descriptor_with_nothing_published_breaks_queue),
		MATRIX(hostile_used_descriptor_on_an_empty_queue_breaks_queue),
		MATRIX(hostile_device_scribbling_everywhere_is_contained),
		T(hostile_stale_slots_of_a_previous_lap_are_not_used, P_PLAIN),
		T(hostile_stale_slots_of_a_previous_lap_are_not_used, P_IO),

		IO(in_order_batch_returns_skipped_buffers_in_full),
		IO(in_order_batch_last_len_is_the_devices),
		T(in_order_batch_of_the_whole_ring_across_the_wrap, P_IO),
		T(in_order_batch_of_the_whole_ring_across_the_wrap, P_IO_IND_EVENT),
		IO(in_order_batch_naming_an_unpublished_id_breaks_queue),
		IO(in_order_batch_naming_a_free_id_breaks_queue),
		IO(in_order_batch_last_len_above_writable_breaks_queue),
		IO(in_order_used_descriptor_for_a_later_buffer_only),

		T(kick_without_event_idx_follows_device_flags, P_PLAIN),
		T(kick_without_event_idx_follows_device_flags, P_IO_IND),
		T(kick_with_event_idx_follows_the_descriptor_event, P_EVENT),
		T(kick_with_event_idx_follows_the_descriptor_event, P_NUM3_EVENT),
		T(kick_with_event_idx_follows_the_descriptor_event, P_NUM7_IO_EVENT),
		T(kick_with_event_idx_first_publish, P_EVENT),
		T(kick_with_event_idx_first_publish, P_IO_EVENT),
		T(cb_without_event_idx_enables_and_disables, P_PLAIN),
		T(cb_without_event_idx_enables_and_disables, P_IO_IND),
		T(cb_with_event_idx_names_the_next_used_descriptor, P_EVENT),
		T(cb_with_event_idx_names_the_next_used_descriptor, P_IO_IND_EVENT),
		MATRIX(get_used_does_not_rearm),

		MATRIX(detach_returns_every_token_once),
		IO(detach_in_the_middle_of_a_batch),
		MATRIX(detach_after_init_again_gives_a_working_queue),

		MATRIX(many_laps),
		T(many_laps, P_NUM1),
		T(many_laps, P_NUM3),
		T(many_laps, P_NUM5_IO),
		T(many_laps, P_NUM7_IO_EVENT),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
