/* SPDX-License-Identifier: BSD-3-Clause */
/* Tests of the mock driver itself: the harness the device-side tests stand on. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mock_driver.h"

static void mock_mem_default_layout_registers_three_regions(void **state)
{
	struct mock_mem m;
	uint8_t b[16], r[16];

	(void)state;
	mock_mem_init_default(&m);
	assert_int_equal(m.mem.nregions, 3);
	assert_true(m.mem.regions[0].gpa == MOCK_R0_GPA);
	assert_true(m.mem.regions[1].gpa == MOCK_R1_GPA);
	assert_true(m.mem.regions[2].gpa == MOCK_R2_GPA);
	assert_true(m.mem.regions[1].uva == MOCK_R1_GPA + MOCK_UVA_OFFSET);
	assert_null(mock_hva(&m, MOCK_HOLE_GPA));
	assert_ptr_equal(mock_hva(&m, MOCK_R1_GPA), m.region[1].hva);
	/* A copy across R0/R1 lands in both mappings. */
	memset(b, 0xab, sizeof(b));
	assert_int_equal(mock_write(&m, MOCK_R1_GPA - 8, b, sizeof(b)), 0);
	assert_int_equal(*(uint8_t *)mock_hva(&m, MOCK_R1_GPA - 1), 0xab);
	assert_int_equal(*(uint8_t *)mock_hva(&m, MOCK_R1_GPA + 7), 0xab);
	assert_int_equal(mock_read(&m, MOCK_R1_GPA - 8, r, sizeof(r)), 0);
	assert_memory_equal(b, r, sizeof(b));
	/* Into the hole: refused, nothing written. */
	assert_int_equal(mock_write(&m, MOCK_HOLE_GPA - 4, b, 8), -EFAULT);
	assert_int_equal(*(uint8_t *)mock_hva(&m, MOCK_HOLE_GPA - 4), 0);
	mock_mem_fini(&m);
}

static void mock_alloc_aligns_and_stays_in_region(void **state)
{
	struct mock_mem m;
	uint64_t a, b;

	(void)state;
	mock_mem_init_default(&m);
	a = mock_alloc(&m, 2, 3, 1);
	b = mock_alloc(&m, 2, 16, 64);
	assert_true(a == MOCK_R2_GPA);
	assert_true(b == MOCK_R2_GPA + 64);
	mock_mem_fini(&m);
}

static void mock_vq_add_direct_chain_pops_and_reaps(void **state)
{
	struct mock_mem m;
	struct mock_vq vq;
	struct mock_used u;
	struct iovec iov[4];
	struct vio_chain c = { .iov = iov, .iov_cap = 4 };
	uint64_t buf;
	int head;

	(void)state;
	mock_mem_init_default(&m);
	assert_int_equal(mock_vq_init(&vq, &m, MOCK_SPLIT, 8, 0), 0);
	assert_int_equal(mock_vq_devq_init(&vq, NULL), 0);
	buf = mock_alloc(&m, 0, 64, 8);
	head = mock_vq_add(&vq, (struct mock_buf[]){ { buf, 16, false }, { buf + 16, 48, true } }, 2,
			   MOCK_DIRECT);
	assert_int_equal(head, 0);
	assert_int_equal(mock_vq_nfree(&vq), 6);
	assert_int_equal(mock_split_avail_idx(&vq), 1);
	assert_int_equal(vio_devq_pop(vq.devq, &c), 1);
	assert_int_equal(c.id, 0);
	assert_int_equal(c.ndesc, 2);
	assert_int_equal(c.nout, 1);
	assert_int_equal(c.nin, 1);
	assert_ptr_equal(iov[0].iov_base, mock_hva(&m, buf));
	assert_int_equal(iov[1].iov_len, 48);
	assert_int_equal(mock_vq_used(&vq, &u), 0);
	assert_int_equal(vio_devq_push(vq.devq, 0, 7), 0);
	vio_devq_flush(vq.devq);
	assert_int_equal(mock_vq_used(&vq, &u), 1);
	assert_int_equal(u.id, 0);
	assert_int_equal(u.len, 7);
	assert_int_equal(mock_vq_nfree(&vq), 8);
	mock_vq_fini(&vq);
	mock_mem_fini(&m);
}

static void mock_vq_add_direct_then_indirect_writes_table(void **state)
{
	struct mock_mem m;
	struct mock_vq vq;
	struct iovec iov[4];
	struct vio_chain c = { .iov = iov, .iov_cap = 4 };
	struct virtq_desc d;
	int head;

	(void)state;
	mock_mem_init_default(&m);
	assert_int_equal(mock_vq_init(&vq, &m, MOCK_SPLIT, 4, VIO_BIT(VIRTIO_F_INDIRECT_DESC)), 0);
	assert_int_equal(mock_vq_devq_init(&vq, NULL), 0);
	head = mock_vq_add(&vq, (struct mock_buf[]){ { MOCK_R0_GPA + 0x800000, 1, false },
						    { MOCK_R2_GPA, 2, false },
						    { MOCK_R2_GPA + 8, 3, true } }, 3, 1);
	assert_int_equal(head, 0);
	assert_int_equal(mock_vq_nfree(&vq), 2);
	memcpy(&d, &vq.desc[1], sizeof(d));
	assert_int_equal(le16_to_cpu(d.flags), VIRTQ_DESC_F_INDIRECT);
	assert_int_equal(le32_to_cpu(d.len), 32);
	assert_int_equal(vio_devq_pop(vq.devq, &c), 1);
	assert_int_equal(c.ndesc, 2);
	assert_int_equal(c.nout, 2);
	assert_int_equal(c.nin, 1);
	assert_true(c.in_bytes == 3);
	mock_vq_fini(&vq);
	mock_mem_fini(&m);
}

static void mock_vq_used_rejects_id_never_posted(void **state)
{
	struct mock_mem m;
	struct mock_vq vq;
	struct mock_used u;

	(void)state;
	mock_mem_init_default(&m);
	assert_int_equal(mock_vq_init(&vq, &m, MOCK_SPLIT, 4, 0), 0);
	/* Play a buggy device: publish used element id 3 never made available. */
	vq.used->ring[0].id = cpu_to_le32(3);
	vq.used->idx = cpu_to_le16(1);
	assert_int_equal(mock_vq_used(&vq, &u), -EPROTO);
	assert_int_equal(u.id, 3);
	mock_vq_fini(&vq);
	mock_mem_fini(&m);
}

/* ---- the packed layout, checked against a device played by hand ---- */

#define AVAIL VIRTQ_DESC_F_AVAIL
#define USED  VIRTQ_DESC_F_USED

static void mock_packed_init_lays_out_fresh_ring(void **state)
{
	struct mock_mem m;
	struct mock_vq vq;
	struct vio_devq_config cfg;
	uint32_t p;

	(void)state;
	mock_mem_init_default(&m);
	assert_int_equal(mock_vq_init(&vq, &m, MOCK_PACKED, 0, 0), -EINVAL);
	mock_vq_fini(&vq);
	assert_int_equal(mock_vq_init(&vq, &m, MOCK_PACKED, 32769, 0), -EINVAL);
	mock_vq_fini(&vq);
	assert_int_equal(mock_vq_init(&vq, &m, MOCK_PACKED, 7, VIO_BIT(VIRTIO_F_RING_PACKED)), 0);
	assert_true(vq.desc_gpa % 4096 == 0);
	assert_true(vq.driver_gpa % 4 == 0 && vq.device_gpa % 4 == 0);
	assert_ptr_equal(vq.pdesc, mock_hva(&m, vq.desc_gpa));
	assert_true(vq.avail_wrap && vq.used_wrap);
	assert_int_equal(mock_vq_nfree(&vq), 7);
	for (p = 0; p < 7; p++)
		assert_int_equal(mock_packed_flags(&vq, p), 0);
	mock_vq_config(&vq, &cfg);
	assert_int_equal(cfg.num, 7);
	assert_true(cfg.features == VIO_BIT(VIRTIO_F_RING_PACKED));
	assert_ptr_equal(cfg.desc, vq.pdesc);
	assert_ptr_equal(cfg.driver, vq.driver_event);
	assert_ptr_equal(cfg.device, vq.device_event);
	assert_int_equal(cfg.base, 0x80008000u);
	assert_int_equal(mock_packed_base(&vq), 0x80008000u);
	mock_vq_fini(&vq);
	mock_mem_fini(&m);
}

static void mock_packed_add_exposes_first_descriptor_last(void **state)
{
	struct mock_mem m;
	struct mock_vq vq;
	struct mock_pdesc d;
	int id;

	(void)state;
	mock_mem_init_default(&m);
	assert_int_equal(mock_vq_init(&vq, &m, MOCK_PACKED, 4, 0), 0);
	id = mock_vq_write_chain(&vq, (struct mock_buf[]){ { MOCK_R2_GPA, 5, false },
							  { MOCK_R2_GPA + 8, 6, true } }, 2, MOCK_DIRECT);
	assert_int_equal(id, 0);
	/* Written, but the first descriptor still has its old flags. */
	mock_packed_read(&vq, 0, &d);
	assert_int_equal(d.flags, 0);
	assert_true(d.addr == MOCK_R2_GPA);
	assert_int_equal(d.len, 5);
	assert_int_not_equal(d.id, 0); /* the id only in the last one */
	mock_packed_read(&vq, 1, &d);
	assert_int_equal(d.flags, AVAIL | VIRTQ_DESC_F_WRITE);
	assert_int_equal(d.id, 0);
	assert_int_equal(d.len, 6);
	/* A second list joins the batch: its first descriptor is not held. */
	assert_int_equal(mock_vq_write_chain(&vq, (struct mock_buf[]){ { MOCK_R2_GPA, 1, false } }, 1,
					     MOCK_DIRECT), 1);
	assert_int_equal(mock_packed_flags(&vq, 2), AVAIL);
	assert_int_equal(mock_packed_flags(&vq, 0), 0);
	mock_packed_publish(&vq);
	assert_int_equal(mock_packed_flags(&vq, 0), AVAIL | VIRTQ_DESC_F_NEXT);
	assert_int_equal(mock_vq_nfree(&vq), 1);
	assert_int_equal(mock_packed_base(&vq), 3u | 0x8000u | 0x80000000u);
	mock_vq_fini(&vq);
	mock_mem_fini(&m);
}

static void mock_packed_put_flips_wrap_counter_past_the_end(void **state)
{
	struct mock_mem m;
	struct mock_vq vq;
	struct mock_used u;

	(void)state;
	mock_mem_init_default(&m);
	assert_int_equal(mock_vq_init(&vq, &m, MOCK_PACKED, 3, 0), 0);
	assert_int_equal(mock_packed_put(&vq, MOCK_R2_GPA, 1, 0, 0), 0);
	assert_int_equal(mock_packed_put(&vq, MOCK_R2_GPA, 1, 1, 0), 1);
	mock_packed_publish(&vq);
	/* Play the device: both used (wrap 1), reaped. */
	mock_packed_desc(&vq, 0, 0, 0, 0, AVAIL | USED);
	mock_packed_desc(&vq, 1, 0, 0, 1, AVAIL | USED);
	assert_int_equal(mock_vq_used(&vq, &u), 1);
	assert_int_equal(mock_vq_used(&vq, &u), 1);
	assert_int_equal(mock_vq_nfree(&vq), 3);
	/* A list of two from position 2 wraps to 0: the counter flips between. */
	assert_int_equal(mock_packed_put(&vq, MOCK_R2_GPA, 1, 9, VIRTQ_DESC_F_NEXT), 2);
	assert_false(vq.avail_wrap);
	assert_int_equal(mock_packed_put(&vq, MOCK_R2_GPA, 1, 2, VIRTQ_DESC_F_WRITE), 0);
	assert_int_equal(mock_packed_flags(&vq, 2), 0); /* held */
	assert_int_equal(mock_packed_flags(&vq, 0), USED | VIRTQ_DESC_F_WRITE);
	mock_packed_publish(&vq);
	assert_int_equal(mock_packed_flags(&vq, 2), AVAIL | VIRTQ_DESC_F_NEXT);
	assert_int_equal(vq.heads[2].plen, 2);
	/* Used at position 2 in wrap 1; the reap cursor skips to 1 in wrap 0. */
	mock_packed_desc(&vq, 2, 0, 0, 2, AVAIL | USED);
	assert_int_equal(mock_vq_used(&vq, &u), 1);
	assert_int_equal(u.ndesc, 2);
	assert_int_equal(vq.next_used, 1);
	assert_false(vq.used_wrap);
	mock_packed_desc(&vq, 1, 0, 0, 2, AVAIL | USED); /* the old lap's bits: not used */
	assert_int_equal(mock_vq_used(&vq, &u), 0);
	mock_vq_fini(&vq);
	mock_mem_fini(&m);
}

static void mock_packed_used_skips_the_list_of_the_id(void **state)
{
	struct mock_mem m;
	struct mock_vq vq;
	struct mock_used u;
	int a, b;

	(void)state;
	mock_mem_init_default(&m);
	assert_int_equal(mock_vq_init(&vq, &m, MOCK_PACKED, 5, 0), 0);
	a = mock_vq_add(&vq, (struct mock_buf[]){ { MOCK_R2_GPA, 1, false }, { MOCK_R2_GPA, 1, false },
						 { MOCK_R2_GPA, 1, true } }, 3, MOCK_DIRECT);
	b = mock_vq_add(&vq, (struct mock_buf[]){ { MOCK_R2_GPA, 1, true } }, 1, MOCK_DIRECT);
	assert_int_equal(a, 0);
	assert_int_equal(b, 1);
	assert_int_equal(mock_vq_used(&vq, &u), 0);
	/* Play the device: b completes first, its used descriptor at position 0. */
	mock_packed_desc(&vq, 0, 0, 9, (uint16_t)b, AVAIL | USED | VIRTQ_DESC_F_WRITE);
	assert_int_equal(mock_vq_used(&vq, &u), 1);
	assert_int_equal(u.id, b);
	assert_int_equal(u.len, 9);
	assert_int_equal(u.nbufs, 1);
	assert_int_equal(u.ndesc, 1);
	assert_int_equal(u.pos, 0);
	assert_int_equal(u.flags, AVAIL | USED | VIRTQ_DESC_F_WRITE);
	assert_int_equal(vq.next_used, 1);
	assert_int_equal(mock_vq_nfree(&vq), 2);
	/* Position 1 still holds a's second (available) descriptor. */
	assert_int_equal(mock_vq_used(&vq, &u), 0);
	mock_packed_desc(&vq, 1, 0, 0, (uint16_t)a, AVAIL | USED);
	assert_int_equal(mock_vq_used(&vq, &u), 1);
	assert_int_equal(u.id, a);
	assert_int_equal(u.ndesc, 3);
	assert_int_equal(vq.next_used, 4);
	assert_int_equal(mock_vq_nfree(&vq), 5);
	mock_vq_fini(&vq);
	mock_mem_fini(&m);
}

static void mock_packed_used_rejects_id_never_posted(void **state)
{
	struct mock_mem m;
	struct mock_vq vq;
	struct mock_used u;

	(void)state;
	mock_mem_init_default(&m);
	assert_int_equal(mock_vq_init(&vq, &m, MOCK_PACKED, 4, 0), 0);
	mock_packed_desc(&vq, 0, 0, 0, 2, AVAIL | USED);
	assert_int_equal(mock_vq_used(&vq, &u), -EPROTO);
	assert_int_equal(u.id, 2);
	mock_packed_desc(&vq, 1, 0, 0, 4, AVAIL | USED);
	assert_int_equal(mock_vq_used(&vq, &u), -EPROTO);
	/* Used bits of the wrong lap are not a used descriptor. */
	mock_packed_desc(&vq, 2, 0, 0, 0, 0);
	assert_int_equal(mock_vq_used(&vq, &u), 0);
	mock_vq_fini(&vq);
	mock_mem_fini(&m);
}

static void mock_packed_in_order_element_covers_batch(void **state)
{
	struct mock_mem m;
	struct mock_vq vq;
	struct mock_used u;
	unsigned i;

	(void)state;
	mock_mem_init_default(&m);
	assert_int_equal(mock_vq_init(&vq, &m, MOCK_PACKED, 6, VIO_BIT(VIRTIO_F_IN_ORDER)), 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(mock_vq_add(&vq, (struct mock_buf[]){ { MOCK_R2_GPA, 1, true },
								      { MOCK_R2_GPA, 1, true } }, 1 + (i & 1),
					     MOCK_DIRECT), i);
	/* One used descriptor with the last id stands for all three (4 descriptors). */
	mock_packed_desc(&vq, 0, 0, 1, 2, AVAIL | USED | VIRTQ_DESC_F_WRITE);
	assert_int_equal(mock_vq_used(&vq, &u), 1);
	assert_int_equal(u.id, 2);
	assert_int_equal(u.nbufs, 3);
	assert_int_equal(u.ndesc, 4);
	assert_int_equal(vq.next_used, 4);
	assert_int_equal(mock_vq_nfree(&vq), 6);
	/* An id not outstanding is a device bug. */
	mock_packed_desc(&vq, 4, 0, 0, 1, AVAIL | USED);
	assert_int_equal(mock_vq_used(&vq, &u), -EPROTO);
	mock_vq_fini(&vq);
	mock_mem_fini(&m);
}

static void mock_split_in_order_element_covers_batch(void **state)
{
	struct mock_mem m;
	struct mock_vq vq;
	struct mock_used u;
	unsigned i;

	(void)state;
	mock_mem_init_default(&m);
	assert_int_equal(mock_vq_init(&vq, &m, MOCK_SPLIT, 8, VIO_BIT(VIRTIO_F_IN_ORDER)), 0);
	for (i = 0; i < 4; i++)
		assert_int_equal(mock_vq_add(&vq, (struct mock_buf[]){ { MOCK_R2_GPA, 1, true } }, 1,
					     MOCK_DIRECT), i);
	/* Play the device: one element (id 2) for buffers 0..2, one for 3. */
	vq.used->ring[0].id = cpu_to_le32(2);
	vq.used->ring[0].len = cpu_to_le32(1);
	vq.used->ring[3].id = cpu_to_le32(3);
	vq.used->idx = cpu_to_le16(4);
	assert_int_equal(mock_vq_used(&vq, &u), 1);
	assert_int_equal(u.id, 2);
	assert_int_equal(u.nbufs, 3);
	assert_int_equal(vq.last_used, 3);
	assert_int_equal(mock_vq_nfree(&vq), 7);
	assert_int_equal(mock_vq_used(&vq, &u), 1);
	assert_int_equal(u.id, 3);
	assert_int_equal(u.nbufs, 1);
	assert_int_equal(mock_vq_used(&vq, &u), 0);
	assert_int_equal(mock_vq_nfree(&vq), 8);
	mock_vq_fini(&vq);
	mock_mem_fini(&m);
}

static void mock_packed_set_cursors_marks_every_position_used(void **state)
{
	struct mock_mem m;
	struct mock_vq vq;

	(void)state;
	mock_mem_init_default(&m);
	assert_int_equal(mock_vq_init(&vq, &m, MOCK_PACKED, 5, 0), 0);
	mock_packed_set_cursors(&vq, 3, false);
	assert_int_equal(mock_packed_flags(&vq, 0), 0);          /* this lap, wrap 0 */
	assert_int_equal(mock_packed_flags(&vq, 2), 0);
	assert_int_equal(mock_packed_flags(&vq, 3), AVAIL | USED); /* last lap, wrap 1 */
	assert_int_equal(mock_packed_base(&vq), 0x00030003u);
	assert_int_equal(mock_packed_put(&vq, MOCK_R2_GPA, 1, 0, 0), 3);
	mock_packed_publish(&vq);
	assert_int_equal(mock_packed_flags(&vq, 3), USED);
	mock_vq_fini(&vq);
	mock_mem_fini(&m);
}

static void mock_packed_event_suppression_round_trip(void **state)
{
	struct mock_mem m;
	struct mock_vq vq;
	uint16_t flags, desc;

	(void)state;
	mock_mem_init_default(&m);
	assert_int_equal(mock_vq_init(&vq, &m, MOCK_PACKED, 5, 0), 0);
	mock_packed_set_driver_event(&vq, RING_EVENT_FLAGS_DESC, mock_packed_event(4, false));
	assert_int_equal(le16_to_cpu(vq.driver_event->flags), RING_EVENT_FLAGS_DESC);
	assert_int_equal(le16_to_cpu(vq.driver_event->desc), 4);
	vq.device_event->flags = cpu_to_le16(RING_EVENT_FLAGS_DISABLE);
	vq.device_event->desc = cpu_to_le16(0x8001);
	mock_packed_device_event(&vq, &flags, &desc);
	assert_int_equal(flags, RING_EVENT_FLAGS_DISABLE);
	assert_int_equal(desc, 0x8001);
	mock_vq_fini(&vq);
	mock_mem_fini(&m);
}

static void mock_vq_write_chain_without_free_descriptors_is_enospc(void **state)
{
	struct mock_mem m;
	struct mock_vq vq;
	struct mock_buf b[3] = { { MOCK_R2_GPA, 1, false }, { MOCK_R2_GPA, 1, false }, { MOCK_R2_GPA, 1, true } };

	(void)state;
	mock_mem_init_default(&m);
	assert_int_equal(mock_vq_init(&vq, &m, MOCK_SPLIT, 4, VIO_BIT(VIRTIO_F_INDIRECT_DESC)), 0);
	assert_int_equal(mock_vq_write_chain(&vq, b, 3, MOCK_DIRECT), 0);
	assert_int_equal(mock_vq_write_chain(&vq, b, 3, MOCK_DIRECT), -ENOSPC);
	/* One descriptor holds any chain as an indirect table. */
	assert_int_equal(mock_vq_write_chain(&vq, b, 3, 0), 3);
	assert_int_equal(mock_vq_nfree(&vq), 0);
	mock_vq_fini(&vq);
	mock_mem_fini(&m);
}

static void mock_vq_write_chain_rejects_bad_shape(void **state)
{
	struct mock_mem m;
	struct mock_vq vq;
	struct mock_buf b[2] = { { MOCK_R2_GPA, 1, false }, { MOCK_R2_GPA, 1, true } };

	(void)state;
	mock_mem_init_default(&m);
	assert_int_equal(mock_vq_init(&vq, &m, MOCK_SPLIT, 4, 0), 0);
	assert_int_equal(mock_vq_write_chain(&vq, b, 0, MOCK_DIRECT), -EINVAL);
	assert_int_equal(mock_vq_write_chain(&vq, b, 2, 2), -EINVAL);
	assert_int_equal(mock_vq_nfree(&vq), 4);
	mock_vq_fini(&vq);
	mock_mem_fini(&m);
}

static void mock_vq_reuses_descriptors_after_reaping(void **state)
{
	struct mock_mem m;
	struct mock_vq vq;
	struct iovec iov[2];
	struct vio_chain c = { .iov = iov, .iov_cap = 2 };
	struct mock_used u;
	unsigned i;

	(void)state;
	mock_mem_init_default(&m);
	assert_int_equal(mock_vq_init(&vq, &m, MOCK_SPLIT, 2, 0), 0);
	assert_int_equal(mock_vq_devq_init(&vq, NULL), 0);
	for (i = 0; i < 100; i++) {
		int h = mock_vq_add(&vq, (struct mock_buf[]){ { MOCK_R2_GPA, 1, false },
							      { MOCK_R2_GPA + 1, 1, true } }, 2, MOCK_DIRECT);

		assert_true(h >= 0);
		assert_int_equal(mock_vq_nfree(&vq), 0);
		assert_int_equal(vio_devq_pop(vq.devq, &c), 1);
		assert_int_equal(vio_devq_push(vq.devq, c.id, 1), 0);
		vio_devq_flush(vq.devq);
		assert_int_equal(mock_vq_used(&vq, &u), 1);
		assert_int_equal(u.id, h);
		assert_int_equal(mock_vq_nfree(&vq), 2);
	}
	mock_vq_fini(&vq);
	mock_mem_fini(&m);
}

static void mock_mem_init_refuses_overlapping_regions(void **state)
{
	static const struct mock_region_spec spec[] = { { 0x10000, 0x2000 }, { 0x11000, 0x1000 } };
	struct mock_mem m;

	(void)state;
	assert_int_equal(mock_mem_init(&m, spec, 2), -EEXIST);
	assert_int_equal(m.nregions, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(mock_mem_default_layout_registers_three_regions),
		cmocka_unit_test(mock_alloc_aligns_and_stays_in_region),
		cmocka_unit_test(mock_vq_add_direct_chain_pops_and_reaps),
		cmocka_unit_test(mock_vq_add_direct_then_indirect_writes_table),
		cmocka_unit_test(mock_vq_used_rejects_id_never_posted),
		cmocka_unit_test(mock_packed_init_lays_out_fresh_ring),
		cmocka_unit_test(mock_packed_add_exposes_first_descriptor_last),
		cmocka_unit_test(mock_packed_put_flips_wrap_counter_past_the_end),
		cmocka_unit_test(mock_packed_used_skips_the_list_of_the_id),
		cmocka_unit_test(mock_packed_used_rejects_id_never_posted),
		cmocka_unit_test(mock_packed_in_order_element_covers_batch),
		cmocka_unit_test(mock_split_in_order_element_covers_batch),
		cmocka_unit_test(mock_packed_set_cursors_marks_every_position_used),
		cmocka_unit_test(mock_packed_event_suppression_round_trip),
		cmocka_unit_test(mock_vq_write_chain_without_free_descriptors_is_enospc),
		cmocka_unit_test(mock_vq_write_chain_rejects_bad_shape),
		cmocka_unit_test(mock_vq_reuses_descriptors_after_reaping),
		cmocka_unit_test(mock_mem_init_refuses_overlapping_regions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
