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

static void mock_vq_init_refuses_packed_for_now(void **state)
{
	struct mock_mem m;
	struct mock_vq vq;

	(void)state;
	mock_mem_init_default(&m);
	assert_int_equal(mock_vq_init(&vq, &m, MOCK_PACKED, 8, 0), -ENOTSUP);
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
		cmocka_unit_test(mock_vq_init_refuses_packed_for_now),
		cmocka_unit_test(mock_vq_write_chain_without_free_descriptors_is_enospc),
		cmocka_unit_test(mock_vq_write_chain_rejects_bad_shape),
		cmocka_unit_test(mock_vq_reuses_descriptors_after_reaping),
		cmocka_unit_test(mock_mem_init_refuses_overlapping_regions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
