/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Device initialization from the driver's side (vio/driver.h) against a
 * scripted fake transport: the order of the status bits, the feature subset,
 * a device that clears FEATURES_OK or asks for a reset, the configuration
 * generation check, and transport errors.
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

#include "vio/driver.h"
#include "vio/log.h"
#include "vio/virtio.h"

#define MAX_WRITES 32

struct fake {
	uint64_t offered;
	uint64_t accepted;
	int set_features_calls;
	uint8_t status;               /* what get_status reports */
	uint8_t writes[MAX_WRITES];   /* every status written, in order */
	int nwrites;
	bool clear_features_ok;       /* the device refuses the subset */
	bool needs_reset;             /* DEVICE_NEEDS_RESET after FEATURES_OK */
	int stuck_reset;              /* get_status keeps reporting this after a reset */
	int get_features_err;
	uint32_t gen;                 /* configuration generation */
	int gen_moves;                /* config reads during which the generation moves */
	int config_reads;
	uint8_t config[16];
};

static int f_reset(void *t)
{
	struct fake *f = t;

	f->status = (uint8_t)f->stuck_reset;
	f->writes[f->nwrites++] = 0;
	return 0;
}

static int f_get_status(void *t, uint8_t *st)
{
	*st = ((struct fake *)t)->status;
	return 0;
}

static int f_set_status(void *t, uint8_t st)
{
	struct fake *f = t;

	assert_true(f->nwrites < MAX_WRITES);
	f->writes[f->nwrites++] = st;
	f->status = st;
	if ((st & VIRTIO_CONFIG_S_FEATURES_OK) && f->clear_features_ok)
		f->status &= (uint8_t)~VIRTIO_CONFIG_S_FEATURES_OK;
	if ((st & VIRTIO_CONFIG_S_FEATURES_OK) && f->needs_reset)
		f->status |= VIRTIO_CONFIG_S_DEVICE_NEEDS_RESET;
	return 0;
}

static int f_get_features(void *t, uint64_t *features)
{
	struct fake *f = t;

	*features = f->offered;
	return f->get_features_err;
}

static int f_set_features(void *t, uint64_t features)
{
	struct fake *f = t;

	f->accepted = features;
	f->set_features_calls++;
	return 0;
}

static int f_config_read(void *t, uint32_t off, void *buf, uint32_t len)
{
	struct fake *f = t;

	assert_true(off + len <= sizeof(f->config));
	memcpy(buf, f->config + off, len);
	f->config_reads++;
	if (f->gen_moves) {
		f->gen_moves--;
		f->gen++;
		f->config[0]++;
	}
	return 0;
}

static int f_generation(void *t, uint32_t *gen)
{
	*gen = ((struct fake *)t)->gen;
	return 0;
}

static const struct vio_transport_ops fake_ops = {
	.reset = f_reset,
	.get_status = f_get_status,
	.set_status = f_set_status,
	.get_features = f_get_features,
	.set_features = f_set_features,
	.config_read = f_config_read,
	.config_generation = f_generation,
};

#define F_V1 VIO_BIT(VIRTIO_F_VERSION_1)
#define F_EVT VIO_BIT(VIRTIO_F_EVENT_IDX)
#define F_IND VIO_BIT(VIRTIO_F_INDIRECT_DESC)

static int setup(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));

	vio_log_set_level(getenv("VIO_TEST_VERBOSE") ? VIO_LOG_TRACE : (enum vio_log_level)-1);
	f->offered = F_V1 | F_EVT | VIO_BIT(3);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

static void start(struct fake *f, struct vio_driver *d, uint64_t wanted, int expect)
{
	vio_driver_init(d, &fake_ops, f);
	assert_int_equal(vio_driver_start(d, wanted), expect);
}

/* VIRTIO 1.4 §3.1.1: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK, in that order. */
static void test_start_sequence(void **state)
{
	struct fake *f = *state;
	struct vio_driver d;
	const uint8_t want[] = { 0, 1, 3, 11 };

	start(f, &d, F_V1 | F_IND | VIO_BIT(3), 0);
	assert_int_equal(f->nwrites, 4);
	assert_memory_equal(f->writes, want, sizeof(want));
	/* wanted ∩ offered: INDIRECT was not offered, EVENT_IDX not wanted. */
	assert_true(f->accepted == (F_V1 | VIO_BIT(3)));
	assert_true(d.features == f->accepted);
	assert_true(d.device_features == f->offered);
	assert_true(vio_driver_has(&d, 3));
	assert_false(vio_driver_has(&d, VIRTIO_F_EVENT_IDX));
	assert_int_equal(vio_driver_ok(&d), 0);
	assert_int_equal(f->writes[f->nwrites - 1], 15);
}

/* §3.1.1 step 6: a device that clears FEATURES_OK is unusable; the driver sets FAILED. */
static void test_features_ok_cleared_fails(void **state)
{
	struct fake *f = *state;
	struct vio_driver d;

	f->clear_features_ok = true;
	start(f, &d, F_V1, -ENOTSUP);
	assert_true(f->writes[f->nwrites - 1] & VIRTIO_CONFIG_S_FAILED);
	/* No bit was cleared on the way (§2.1.1). */
	assert_true(f->writes[f->nwrites - 1] & VIRTIO_CONFIG_S_DRIVER);
	assert_true(d.features == 0);
}

static void test_no_version_1_fails(void **state)
{
	struct fake *f = *state;
	struct vio_driver d;

	f->offered = F_EVT;
	start(f, &d, F_V1 | F_EVT, -ENOTSUP);
	assert_int_equal(f->set_features_calls, 0);
	assert_true(f->writes[f->nwrites - 1] & VIRTIO_CONFIG_S_FAILED);
}

static void test_version_1_not_wanted_fails(void **state)
{
	struct fake *f = *state;
	struct vio_driver d;

	start(f, &d, F_EVT, -ENOTSUP);
	assert_int_equal(f->set_features_calls, 0);
}

static void test_needs_reset_fails(void **state)
{
	struct fake *f = *state;
	struct vio_driver d;

	f->needs_reset = true;
	start(f, &d, F_V1, -EIO);
	assert_true(f->writes[f->nwrites - 1] & VIRTIO_CONFIG_S_FAILED);
}

/* §2.4.2: a reset is complete only when the status reads 0. */
static void test_reset_never_completes(void **state)
{
	struct fake *f = *state;
	struct vio_driver d;

	f->stuck_reset = VIRTIO_CONFIG_S_DRIVER_OK;
	start(f, &d, F_V1, -EIO);
	assert_int_equal(f->set_features_calls, 0);
}

static void test_transport_error_propagates(void **state)
{
	struct fake *f = *state;
	struct vio_driver d;

	f->get_features_err = -ECONNRESET;
	start(f, &d, F_V1, -ECONNRESET);
	assert_int_equal(f->set_features_calls, 0);
}

/* §2.5.1: re-read until the generation is the same before and after. */
static void test_config_generation_retried(void **state)
{
	struct fake *f = *state;
	struct vio_driver d;
	uint8_t buf[4];

	start(f, &d, F_V1, 0);
	f->config[0] = 10;
	f->gen_moves = 2;
	assert_int_equal(vio_driver_config_read(&d, 0, buf, sizeof(buf)), 0);
	assert_int_equal(f->config_reads, 3);
	assert_int_equal(buf[0], 12); /* the copy of the settled generation */
}

static void test_config_generation_never_settles(void **state)
{
	struct fake *f = *state;
	struct vio_driver d;
	uint8_t buf[4];

	start(f, &d, F_V1, 0);
	f->gen_moves = 1000;
	assert_int_equal(vio_driver_config_read(&d, 0, buf, sizeof(buf)), -EIO);
	assert_int_equal(f->config_reads, 64);
}

static void test_config_without_generation(void **state)
{
	struct fake *f = *state;
	struct vio_transport_ops ops = fake_ops;
	struct vio_driver d;
	uint8_t buf[2];

	ops.config_generation = NULL;
	f->config[3] = 0x5a;
	vio_driver_init(&d, &ops, f);
	assert_int_equal(vio_driver_start(&d, F_V1), 0);
	assert_int_equal(vio_driver_config_read(&d, 2, buf, 2), 0);
	assert_int_equal(buf[1], 0x5a);
	assert_int_equal(f->config_reads, 1);
	assert_int_equal(vio_driver_config_read(&d, 0, buf, 0), -EINVAL);
}

/* A second start begins with a reset and forgets the old features. */
static void test_restart_resets(void **state)
{
	struct fake *f = *state;
	struct vio_driver d;

	start(f, &d, F_V1 | F_EVT, 0);
	assert_int_equal(vio_driver_ok(&d), 0);
	f->nwrites = 0;
	assert_int_equal(vio_driver_start(&d, F_V1), 0);
	assert_int_equal(f->writes[0], 0);
	assert_true(d.features == F_V1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_start_sequence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_features_ok_cleared_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_version_1_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_version_1_not_wanted_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_needs_reset_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_never_completes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transport_error_propagates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_generation_retried, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_generation_never_settles, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_config_without_generation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_resets, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
