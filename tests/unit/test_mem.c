/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the guest memory table (src/mem/mem.c): regions, and translation of guest ranges. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vio/mem.h"

#define PG 4096ull
#define TOP UINT64_MAX

/* Fake host addresses: compared, never dereferenced (except in the read tests). */
#define HVA(x) ((void *)(uintptr_t)(x))

static struct vio_mem *new_mem(void)
{
	struct vio_mem *m = malloc(sizeof(*m));

	assert_non_null(m);
	memset(m, 0x5a, sizeof(*m)); /* init must not depend on zeroed storage */
	vio_mem_init(m);
	return m;
}

static int add(struct vio_mem *m, uint64_t gpa, uint64_t size, uint64_t uva, uintptr_t hva)
{
	struct vio_mem_region r = { .gpa = gpa, .size = size, .uva = uva, .hva = HVA(hva), .fd = -1 };

	return vio_mem_add(m, &r);
}

/*
 * The standard table of these tests:
 *   A [0x10000, 0x12000)  hva 0x100000
 *   B [0x12000, 0x13000)  hva 0x300000   (adjacent to A in gpa, not in hva)
 *   hole [0x13000, 0x20000)
 *   C [0x20000, 0x24000)  hva 0x500000
 * uva = gpa + 0x7000000000.
 */
#define UVA_OFF 0x7000000000ull
static struct vio_mem *std_mem(void)
{
	struct vio_mem *m = new_mem();

	assert_int_equal(add(m, 0x20000, 0x4000, 0x20000 + UVA_OFF, 0x500000), 0);
	assert_int_equal(add(m, 0x10000, 0x2000, 0x10000 + UVA_OFF, 0x100000), 0);
	assert_int_equal(add(m, 0x12000, 0x1000, 0x12000 + UVA_OFF, 0x300000), 0);
	return m;
}

static int setup_std(void **state)
{
	*state = std_mem();
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

/* ---------------- add / remove ---------------- */

static void init_empties_table(void **state)
{
	struct vio_mem *m = *state;

	vio_mem_init(m);
	assert_int_equal(m->nregions, 0);
	assert_null(vio_mem_gpa_ptr(m, 0x10000, 1));
}

static void add_keeps_regions_sorted_by_gpa(void **state)
{
	struct vio_mem *m = *state;

	assert_int_equal(m->nregions, 3);
	assert_true(m->regions[0].gpa == 0x10000);
	assert_true(m->regions[1].gpa == 0x12000);
	assert_true(m->regions[2].gpa == 0x20000);
	assert_ptr_equal(m->regions[1].hva, HVA(0x300000));
}

static void add_copies_owner_fields(void **state)
{
	struct vio_mem *m = new_mem();
	struct vio_mem_region r = { .gpa = 0, .size = PG, .uva = 0, .hva = HVA(0x1000),
				    .mmap_addr = HVA(0xabc000), .mmap_size = 3 * PG, .fd = 42 };

	(void)state;
	assert_int_equal(vio_mem_add(m, &r), 0);
	assert_ptr_equal(m->regions[0].mmap_addr, HVA(0xabc000));
	assert_true(m->regions[0].mmap_size == 3 * PG);
	assert_int_equal(m->regions[0].fd, 42);
	free(m);
}

static void add_rejects_zero_size(void **state)
{
	struct vio_mem *m = *state;

	assert_int_equal(add(m, 0x40000, 0, 0x40000, 0x900000), -EINVAL);
	assert_int_equal(m->nregions, 3);
}

static void add_rejects_gpa_end_overflow(void **state)
{
	struct vio_mem *m = *state;

	assert_int_equal(add(m, TOP - PG + 2, PG, 0x1000000, 0x900000), -EINVAL);
	assert_int_equal(m->nregions, 3);
}

static void add_rejects_region_ending_exactly_at_2_64(void **state)
{
	/* gpa + size == 2^64 does not fit in 64 bits: refused as documented. */
	struct vio_mem *m = *state;

	assert_int_equal(add(m, TOP - PG + 1, PG, 0x1000000, 0x900000), -EINVAL);
}

static void add_accepts_region_ending_one_below_2_64(void **state)
{
	struct vio_mem *m = *state;

	assert_int_equal(add(m, TOP - PG, PG, 0x1000000, 0x900000), 0);
	assert_ptr_equal(vio_mem_gpa_ptr(m, TOP - 1, 1), HVA(0x900000 + PG - 1));
}

static void add_rejects_uva_end_overflow(void **state)
{
	struct vio_mem *m = *state;

	assert_int_equal(add(m, 0x40000, PG, TOP - 16, 0x900000), -EINVAL);
}

static void add_rejects_hva_end_overflow(void **state)
{
	struct vio_mem *m = *state;

	assert_int_equal(add(m, 0x40000, PG, 0x40000, UINTPTR_MAX - 16), -EINVAL);
}

static void add_rejects_gpa_overlap_at_start(void **state)
{
	struct vio_mem *m = *state;

	/* [0xf000, 0x11000) overlaps A's first page. */
	assert_int_equal(add(m, 0xf000, 0x2000, 0x1000000, 0x900000), -EEXIST);
	assert_int_equal(m->nregions, 3);
}

static void add_rejects_gpa_overlap_at_end(void **state)
{
	struct vio_mem *m = *state;

	/* [0x23fff, +2) overlaps C's last byte. */
	assert_int_equal(add(m, 0x23fff, 2, 0x1000000, 0x900000), -EEXIST);
}

static void add_rejects_last_byte_on_first_byte_of_existing(void **state)
{
	struct vio_mem *m = *state;

	/* [0xf000, 0x10001): its last byte is A's first. */
	assert_int_equal(add(m, 0xf000, 0x1001, 0x1000000, 0x900000), -EEXIST);
}

static void add_rejects_uva_last_byte_on_first_byte_of_existing(void **state)
{
	struct vio_mem *m = *state;

	assert_int_equal(add(m, 0x40000, 0x1001, 0x10000 + UVA_OFF - 0x1000, 0x900000), -EEXIST);
}

static void add_rejects_gpa_inside_existing(void **state)
{
	struct vio_mem *m = *state;

	assert_int_equal(add(m, 0x21000, 0x10, 0x1000000, 0x900000), -EEXIST);
}

static void add_rejects_gpa_covering_existing(void **state)
{
	struct vio_mem *m = *state;

	assert_int_equal(add(m, 0x1f000, 0x10000, 0x1000000, 0x900000), -EEXIST);
}

static void add_rejects_identical_region(void **state)
{
	struct vio_mem *m = *state;

	assert_int_equal(add(m, 0x20000, 0x4000, 0x20000 + UVA_OFF, 0x500000), -EEXIST);
}

static void add_accepts_region_touching_neighbours(void **state)
{
	struct vio_mem *m = *state;

	/* Fills the hole exactly: touches B's end and C's start, in gpa and uva. */
	assert_int_equal(add(m, 0x13000, 0xd000, 0x13000 + UVA_OFF, 0x900000), 0);
	assert_int_equal(m->nregions, 4);
	assert_true(m->regions[2].gpa == 0x13000);
}

static void add_rejects_uva_overlap_with_distinct_gpa(void **state)
{
	struct vio_mem *m = *state;

	/* gpa free, but uva inside B's. */
	assert_int_equal(add(m, 0x40000, PG, 0x12800 + UVA_OFF, 0x900000), -EEXIST);
	assert_int_equal(m->nregions, 3);
}

static void add_rejects_when_table_full(void **state)
{
	struct vio_mem *m = new_mem();
	uint32_t i;

	(void)state;
	for (i = 0; i < VIO_MEM_MAX_REGIONS; i++)
		assert_int_equal(add(m, (uint64_t)i * 2 * PG, PG, (uint64_t)i * 2 * PG, 0x1000000 + i * PG), 0);
	assert_int_equal(m->nregions, VIO_MEM_MAX_REGIONS);
	assert_int_equal(add(m, 0x100000000ull, PG, 0x100000000ull, 0x90000000), -ENOSPC);
	assert_int_equal(m->nregions, VIO_MEM_MAX_REGIONS);
	/* Every one of the full table is found (binary search over 509). */
	for (i = 0; i < VIO_MEM_MAX_REGIONS; i++) {
		assert_ptr_equal(vio_mem_gpa_ptr(m, (uint64_t)i * 2 * PG + 5, 1), HVA(0x1000000 + i * PG + 5));
		assert_null(vio_mem_gpa_ptr(m, (uint64_t)i * 2 * PG + PG, 1));
	}
	free(m);
}

static void add_sorts_regions_added_in_reverse(void **state)
{
	struct vio_mem *m = new_mem();
	int i;

	(void)state;
	for (i = 99; i >= 0; i--)
		assert_int_equal(add(m, (uint64_t)i * 3 * PG, PG, (uint64_t)i * PG, 0x1000000 + (uintptr_t)i * PG), 0);
	for (i = 0; i < 100; i++) {
		assert_true(m->regions[i].gpa == (uint64_t)i * 3 * PG);
		assert_ptr_equal(vio_mem_gpa_ptr(m, (uint64_t)i * 3 * PG + PG - 1, 1),
				 HVA(0x1000000 + (uintptr_t)i * PG + PG - 1));
	}
	free(m);
}

static void remove_exact_match_returns_region(void **state)
{
	struct vio_mem *m = *state;
	struct vio_mem_region out;

	memset(&out, 0, sizeof(out));
	assert_int_equal(vio_mem_remove(m, 0x12000, 0x12000 + UVA_OFF, 0x1000, &out), 0);
	assert_true(out.gpa == 0x12000);
	assert_true(out.size == 0x1000);
	assert_ptr_equal(out.hva, HVA(0x300000));
	assert_int_equal(m->nregions, 2);
	assert_true(m->regions[0].gpa == 0x10000);
	assert_true(m->regions[1].gpa == 0x20000);
	assert_null(vio_mem_gpa_ptr(m, 0x12000, 1));
	assert_non_null(vio_mem_gpa_ptr(m, 0x20000, 1));
}

static void remove_accepts_null_out(void **state)
{
	struct vio_mem *m = *state;

	assert_int_equal(vio_mem_remove(m, 0x10000, 0x10000 + UVA_OFF, 0x2000, NULL), 0);
	assert_int_equal(m->nregions, 2);
	assert_true(m->regions[0].gpa == 0x12000);
}

static void remove_requires_matching_size(void **state)
{
	struct vio_mem *m = *state;

	assert_int_equal(vio_mem_remove(m, 0x10000, 0x10000 + UVA_OFF, 0x1000, NULL), -ENOENT);
	assert_int_equal(m->nregions, 3);
}

static void remove_requires_matching_uva(void **state)
{
	struct vio_mem *m = *state;

	assert_int_equal(vio_mem_remove(m, 0x10000, 0x10000, 0x2000, NULL), -ENOENT);
	assert_int_equal(m->nregions, 3);
}

static void remove_requires_matching_gpa(void **state)
{
	struct vio_mem *m = *state;

	assert_int_equal(vio_mem_remove(m, 0x10001, 0x10000 + UVA_OFF, 0x2000, NULL), -ENOENT);
}

static void remove_then_add_reuses_the_range(void **state)
{
	struct vio_mem *m = *state;

	assert_int_equal(vio_mem_remove(m, 0x20000, 0x20000 + UVA_OFF, 0x4000, NULL), 0);
	assert_int_equal(add(m, 0x20000, 0x4000, 0x20000 + UVA_OFF, 0xa00000), 0);
	assert_ptr_equal(vio_mem_gpa_ptr(m, 0x20000, 4), HVA(0xa00000));
}

/* ---------------- vio_mem_gpa_iov ---------------- */

static void gpa_iov_inside_one_region_gives_one_iovec(void **state)
{
	struct vio_mem *m = *state;
	struct iovec iov[4];

	assert_int_equal(vio_mem_gpa_iov(m, 0x10010, 0x100, iov, 4), 1);
	assert_ptr_equal(iov[0].iov_base, HVA(0x100010));
	assert_int_equal(iov[0].iov_len, 0x100);
}

static void gpa_iov_whole_region_gives_one_iovec(void **state)
{
	struct vio_mem *m = *state;
	struct iovec iov[1];

	assert_int_equal(vio_mem_gpa_iov(m, 0x20000, 0x4000, iov, 1), 1);
	assert_ptr_equal(iov[0].iov_base, HVA(0x500000));
	assert_int_equal(iov[0].iov_len, 0x4000);
}

static void gpa_iov_across_adjacent_regions_gives_two_iovecs(void **state)
{
	struct vio_mem *m = *state;
	struct iovec iov[4];

	assert_int_equal(vio_mem_gpa_iov(m, 0x11ff0, 0x20, iov, 4), 2);
	assert_ptr_equal(iov[0].iov_base, HVA(0x100000 + 0x1ff0));
	assert_int_equal(iov[0].iov_len, 0x10);
	assert_ptr_equal(iov[1].iov_base, HVA(0x300000));
	assert_int_equal(iov[1].iov_len, 0x10);
}

static void gpa_iov_across_three_regions_gives_three_iovecs(void **state)
{
	struct vio_mem *m = new_mem();
	struct iovec iov[3];

	(void)state;
	assert_int_equal(add(m, 0x1000, 0x1000, 0x1000, 0xa000), 0);
	assert_int_equal(add(m, 0x2000, 0x1000, 0x2000, 0xc000), 0);
	assert_int_equal(add(m, 0x3000, 0x1000, 0x3000, 0xe000), 0);
	assert_int_equal(vio_mem_gpa_iov(m, 0x1fff, 0x1002, iov, 3), 3);
	assert_ptr_equal(iov[0].iov_base, HVA(0xafff));
	assert_int_equal(iov[0].iov_len, 1);
	assert_ptr_equal(iov[1].iov_base, HVA(0xc000));
	assert_int_equal(iov[1].iov_len, 0x1000);
	assert_ptr_equal(iov[2].iov_base, HVA(0xe000));
	assert_int_equal(iov[2].iov_len, 1);
	free(m);
}

static void gpa_iov_ending_at_last_byte_of_region_succeeds(void **state)
{
	struct vio_mem *m = *state;
	struct iovec iov[2];

	assert_int_equal(vio_mem_gpa_iov(m, 0x12000, 0x1000, iov, 2), 1);
	assert_ptr_equal(iov[0].iov_base, HVA(0x300000));
	assert_int_equal(iov[0].iov_len, 0x1000);
}

static void gpa_iov_one_byte_into_hole_is_efault(void **state)
{
	struct vio_mem *m = *state;
	struct iovec iov[4];

	assert_int_equal(vio_mem_gpa_iov(m, 0x12000, 0x1001, iov, 4), -EFAULT);
}

static void gpa_iov_straddling_a_hole_is_efault(void **state)
{
	struct vio_mem *m = *state;
	struct iovec iov[4];

	/* Starts in B, crosses the hole, ends in C. */
	assert_int_equal(vio_mem_gpa_iov(m, 0x12f00, 0xd200, iov, 4), -EFAULT);
}

static void gpa_iov_starting_in_hole_is_efault(void **state)
{
	struct vio_mem *m = *state;
	struct iovec iov[4];

	assert_int_equal(vio_mem_gpa_iov(m, 0x1ffff, 2, iov, 4), -EFAULT);
}

static void gpa_iov_below_first_region_is_efault(void **state)
{
	struct vio_mem *m = *state;
	struct iovec iov[4];

	assert_int_equal(vio_mem_gpa_iov(m, 0, 1, iov, 4), -EFAULT);
	assert_int_equal(vio_mem_gpa_iov(m, 0xffff, 2, iov, 4), -EFAULT);
}

static void gpa_iov_above_last_region_is_efault(void **state)
{
	struct vio_mem *m = *state;
	struct iovec iov[4];

	assert_int_equal(vio_mem_gpa_iov(m, 0x24000, 1, iov, 4), -EFAULT);
	assert_int_equal(vio_mem_gpa_iov(m, TOP, 1, iov, 4), -EFAULT);
}

static void gpa_iov_on_empty_table_is_efault(void **state)
{
	struct vio_mem *m = new_mem();
	struct iovec iov[1];

	(void)state;
	assert_int_equal(vio_mem_gpa_iov(m, 0, 1, iov, 1), -EFAULT);
	free(m);
}

static void gpa_iov_needing_more_than_cap_is_enobufs(void **state)
{
	struct vio_mem *m = *state;
	struct iovec iov[2];

	assert_int_equal(vio_mem_gpa_iov(m, 0x11ff0, 0x20, iov, 1), -ENOBUFS);
}

static void gpa_iov_with_cap_zero_is_enobufs(void **state)
{
	struct vio_mem *m = *state;

	assert_int_equal(vio_mem_gpa_iov(m, 0x10000, 1, NULL, 0), -ENOBUFS);
}

static void gpa_iov_with_exact_cap_succeeds(void **state)
{
	struct vio_mem *m = *state;
	struct iovec iov[2];

	assert_int_equal(vio_mem_gpa_iov(m, 0x11ff0, 0x20, iov, 2), 2);
}

static void gpa_iov_zero_length_gives_zero_iovecs(void **state)
{
	struct vio_mem *m = *state;
	struct iovec iov[1] = { { HVA(0x1234), 99 } };

	assert_int_equal(vio_mem_gpa_iov(m, 0x10000, 0, iov, 1), 0);
	assert_int_equal(vio_mem_gpa_iov(m, 0x10000, 0, NULL, 0), 0);
	/* Untouched. */
	assert_ptr_equal(iov[0].iov_base, HVA(0x1234));
}

static void gpa_iov_end_overflow_is_efault(void **state)
{
	struct vio_mem *m = *state;
	struct iovec iov[4];

	assert_int_equal(vio_mem_gpa_iov(m, 0x10000, TOP, iov, 4), -EFAULT);
	assert_int_equal(vio_mem_gpa_iov(m, TOP, 2, iov, 4), -EFAULT);
}

/*
 * A region at the top of the address space and one at 0: a range from the
 * top one whose end wraps past 2^64 must not continue into the low one.
 */
static struct vio_mem *wrap_mem(void)
{
	struct vio_mem *m = new_mem();

	assert_int_equal(add(m, 0, 2 * PG, 0x100000, 0x100000), 0);
	assert_int_equal(add(m, TOP - 2 * PG, 2 * PG, 0x200000, 0x200000), 0); /* last byte 2^64 - 2 */
	return m;
}

static void gpa_iov_wrapping_past_2_64_into_low_region_is_efault(void **state)
{
	struct vio_mem *m = wrap_mem();
	struct iovec iov[4];
	uint64_t top = TOP - 2 * PG;

	(void)state;
	/* The top region's bytes are fine... */
	assert_int_equal(vio_mem_gpa_iov(m, top, 2 * PG, iov, 4), 1);
	/* ...but a range whose end wraps to 0x10 is not, though [0, 0x10) is mapped. */
	assert_int_equal(vio_mem_gpa_iov(m, top, 2 * PG + 0x11, iov, 4), -EFAULT);
	assert_int_equal(vio_mem_gpa_iov(m, top, UINT64_MAX, iov, 4), -EFAULT);
	free(m);
}

static void gpa_check_wrapping_past_2_64_is_efault(void **state)
{
	struct vio_mem *m = wrap_mem();

	(void)state;
	assert_int_equal(vio_mem_gpa_check(m, TOP - 2 * PG, 2 * PG), 0);
	assert_int_equal(vio_mem_gpa_check(m, TOP - 2 * PG, 2 * PG + 0x11), -EFAULT);
	free(m);
}

static void gpa_ptr_wrapping_past_2_64_is_null(void **state)
{
	struct vio_mem *m = wrap_mem();

	(void)state;
	assert_ptr_equal(vio_mem_gpa_ptr(m, TOP - 2 * PG, 2 * PG), HVA(0x200000));
	assert_null(vio_mem_gpa_ptr(m, TOP - 2 * PG, UINT64_MAX));
	assert_null(vio_mem_gpa_ptr(m, TOP - 1, 2));
	free(m);
}

static void mem_read_wrapping_past_2_64_is_efault(void **state)
{
	struct vio_mem *m = new_mem();
	static uint8_t lo[PG], hi[PG];
	uint8_t buf[32];

	(void)state;
	assert_int_equal(add(m, 0, PG, 0x100000, (uintptr_t)lo), 0);
	assert_int_equal(add(m, TOP - PG, PG, 0x200000, (uintptr_t)hi), 0);
	memset(buf, 0x77, sizeof(buf));
	assert_int_equal(vio_mem_read(m, TOP - 15, buf, 32), -EFAULT);
	free(m);
}

static void uva_ptr_wrapping_past_2_64_is_null(void **state)
{
	struct vio_mem *m = new_mem();

	(void)state;
	assert_int_equal(add(m, 0x10000, PG, TOP - PG, 0x100000), 0);
	assert_int_equal(add(m, 0x20000, PG, 0, 0x200000), 0);
	assert_ptr_equal(vio_mem_uva_ptr(m, TOP - PG, PG), HVA(0x100000));
	assert_null(vio_mem_uva_ptr(m, TOP - 7, 16));
	assert_null(vio_mem_uva_ptr(m, TOP - PG, UINT64_MAX));
	free(m);
}

/* ---------------- vio_mem_gpa_check ---------------- */

static void gpa_check_accepts_range_across_adjacent_regions(void **state)
{
	struct vio_mem *m = *state;

	assert_int_equal(vio_mem_gpa_check(m, 0x10000, 0x3000), 0);
}

static void gpa_check_rejects_range_into_hole(void **state)
{
	struct vio_mem *m = *state;

	assert_int_equal(vio_mem_gpa_check(m, 0x10000, 0x3001), -EFAULT);
	assert_int_equal(vio_mem_gpa_check(m, 0x13000, 1), -EFAULT);
	assert_int_equal(vio_mem_gpa_check(m, 0x1ffff, 2), -EFAULT);
}

static void gpa_check_zero_length_succeeds(void **state)
{
	struct vio_mem *m = *state;

	assert_int_equal(vio_mem_gpa_check(m, 0x10000, 0), 0);
}

/* ---------------- vio_mem_gpa_ptr / vio_mem_uva_ptr ---------------- */

static void gpa_ptr_inside_region_returns_hva(void **state)
{
	struct vio_mem *m = *state;

	assert_ptr_equal(vio_mem_gpa_ptr(m, 0x21000, 0x3000), HVA(0x501000));
	assert_ptr_equal(vio_mem_gpa_ptr(m, 0x12fff, 1), HVA(0x300fff));
}

static void gpa_ptr_straddling_adjacent_regions_is_null(void **state)
{
	struct vio_mem *m = *state;

	/* Mapped, but not contiguous in our address space. */
	assert_null(vio_mem_gpa_ptr(m, 0x11fff, 2));
}

static void gpa_ptr_in_hole_is_null(void **state)
{
	struct vio_mem *m = *state;

	assert_null(vio_mem_gpa_ptr(m, 0x13000, 1));
	assert_null(vio_mem_gpa_ptr(m, 0x12fff, 2));
}

static void gpa_ptr_zero_length_is_null(void **state)
{
	struct vio_mem *m = *state;

	assert_null(vio_mem_gpa_ptr(m, 0x10000, 0));
}

static void uva_ptr_inside_region_returns_hva(void **state)
{
	struct vio_mem *m = *state;

	assert_ptr_equal(vio_mem_uva_ptr(m, 0x12000 + UVA_OFF, 0x1000), HVA(0x300000));
	assert_ptr_equal(vio_mem_uva_ptr(m, 0x23ff0 + UVA_OFF, 0x10), HVA(0x503ff0));
}

static void uva_ptr_past_region_end_is_null(void **state)
{
	struct vio_mem *m = *state;

	assert_null(vio_mem_uva_ptr(m, 0x23ff0 + UVA_OFF, 0x11));
	assert_null(vio_mem_uva_ptr(m, 0x11fff + UVA_OFF, 2)); /* straddles A/B */
	assert_null(vio_mem_uva_ptr(m, 0x13000 + UVA_OFF, 1));
	assert_null(vio_mem_uva_ptr(m, 0x10000, 1)); /* a gpa, not a uva */
}

static void uva_ptr_zero_length_is_null(void **state)
{
	struct vio_mem *m = *state;

	assert_null(vio_mem_uva_ptr(m, 0x10000 + UVA_OFF, 0));
}

/* ---------------- vio_mem_read ---------------- */

struct read_fixture {
	struct vio_mem *m;
	uint8_t a[0x2000], b[0x1000];
};

static int setup_read(void **state)
{
	struct read_fixture *f = malloc(sizeof(*f));
	size_t i;

	assert_non_null(f);
	f->m = new_mem();
	for (i = 0; i < sizeof(f->a); i++)
		f->a[i] = (uint8_t)i;
	for (i = 0; i < sizeof(f->b); i++)
		f->b[i] = (uint8_t)(0x80 + i);
	assert_int_equal(add(f->m, 0x10000, 0x2000, 0x10000, (uintptr_t)f->a), 0);
	assert_int_equal(add(f->m, 0x12000, 0x1000, 0x12000, (uintptr_t)f->b), 0);
	*state = f;
	return 0;
}

static int teardown_read(void **state)
{
	struct read_fixture *f = *state;

	free(f->m);
	free(f);
	return 0;
}

static void mem_read_inside_one_region_copies(void **state)
{
	struct read_fixture *f = *state;
	uint8_t buf[8];

	assert_int_equal(vio_mem_read(f->m, 0x10100, buf, sizeof(buf)), 0);
	assert_memory_equal(buf, f->a + 0x100, sizeof(buf));
}

static void mem_read_across_regions_copies_both_parts(void **state)
{
	struct read_fixture *f = *state;
	uint8_t buf[16];

	assert_int_equal(vio_mem_read(f->m, 0x11ff8, buf, sizeof(buf)), 0);
	assert_memory_equal(buf, f->a + 0x1ff8, 8);
	assert_memory_equal(buf + 8, f->b, 8);
}

static void mem_read_into_hole_is_efault(void **state)
{
	struct read_fixture *f = *state;
	uint8_t buf[16];

	assert_int_equal(vio_mem_read(f->m, 0x12ff8, buf, sizeof(buf)), -EFAULT);
	assert_int_equal(vio_mem_read(f->m, 0xfff8, buf, sizeof(buf)), -EFAULT);
}

static void mem_read_zero_length_succeeds(void **state)
{
	struct read_fixture *f = *state;

	assert_int_equal(vio_mem_read(f->m, 0x12000, NULL, 0), 0);
}

#define STD(t) cmocka_unit_test_setup_teardown(t, setup_std, teardown)
#define RD(t) cmocka_unit_test_setup_teardown(t, setup_read, teardown_read)

int main(void)
{
	const struct CMUnitTest tests[] = {
		STD(init_empties_table),
		STD(add_keeps_regions_sorted_by_gpa),
		cmocka_unit_test(add_copies_owner_fields),
		STD(add_rejects_zero_size),
		STD(add_rejects_gpa_end_overflow),
		STD(add_rejects_region_ending_exactly_at_2_64),
		STD(add_accepts_region_ending_one_below_2_64),
		STD(add_rejects_uva_end_overflow),
		STD(add_rejects_hva_end_overflow),
		STD(add_rejects_gpa_overlap_at_start),
		STD(add_rejects_gpa_overlap_at_end),
		STD(add_rejects_last_byte_on_first_byte_of_existing),
		STD(add_rejects_uva_last_byte_on_first_byte_of_existing),
		STD(add_rejects_gpa_inside_existing),
		STD(add_rejects_gpa_covering_existing),
		STD(add_rejects_identical_region),
		STD(add_accepts_region_touching_neighbours),
		STD(add_rejects_uva_overlap_with_distinct_gpa),
		cmocka_unit_test(add_rejects_when_table_full),
		cmocka_unit_test(add_sorts_regions_added_in_reverse),
		STD(remove_exact_match_returns_region),
		STD(remove_accepts_null_out),
		STD(remove_requires_matching_size),
		STD(remove_requires_matching_uva),
		STD(remove_requires_matching_gpa),
		STD(remove_then_add_reuses_the_range),
		STD(gpa_iov_inside_one_region_gives_one_iovec),
		STD(gpa_iov_whole_region_gives_one_iovec),
		STD(gpa_iov_across_adjacent_regions_gives_two_iovecs),
		cmocka_unit_test(gpa_iov_across_three_regions_gives_three_iovecs),
		STD(gpa_iov_ending_at_last_byte_of_region_succeeds),
		STD(gpa_iov_one_byte_into_hole_is_efault),
		STD(gpa_iov_straddling_a_hole_is_efault),
		STD(gpa_iov_starting_in_hole_is_efault),
		STD(gpa_iov_below_first_region_is_efault),
		STD(gpa_iov_above_last_region_is_efault),
		cmocka_unit_test(gpa_iov_on_empty_table_is_efault),
		STD(gpa_iov_needing_more_than_cap_is_enobufs),
		STD(gpa_iov_with_cap_zero_is_enobufs),
		STD(gpa_iov_with_exact_cap_succeeds),
		STD(gpa_iov_zero_length_gives_zero_iovecs),
		STD(gpa_iov_end_overflow_is_efault),
		cmocka_unit_test(gpa_iov_wrapping_past_2_64_into_low_region_is_efault),
		cmocka_unit_test(gpa_check_wrapping_past_2_64_is_efault),
		cmocka_unit_test(gpa_ptr_wrapping_past_2_64_is_null),
		cmocka_unit_test(mem_read_wrapping_past_2_64_is_efault),
		cmocka_unit_test(uva_ptr_wrapping_past_2_64_is_null),
		STD(gpa_check_accepts_range_across_adjacent_regions),
		STD(gpa_check_rejects_range_into_hole),
		STD(gpa_check_zero_length_succeeds),
		STD(gpa_ptr_inside_region_returns_hva),
		STD(gpa_ptr_straddling_adjacent_regions_is_null),
		STD(gpa_ptr_in_hole_is_null),
		STD(gpa_ptr_zero_length_is_null),
		STD(uva_ptr_inside_region_returns_hva),
		STD(uva_ptr_past_region_end_is_null),
		STD(uva_ptr_zero_length_is_null),
		RD(mem_read_inside_one_region_copies),
		RD(mem_read_across_regions_copies_both_parts),
		RD(mem_read_into_hole_is_efault),
		RD(mem_read_zero_length_succeeds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
