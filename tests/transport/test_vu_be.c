/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The vhost-user back-end's message validation, driven over a socketpair by
 * a test front-end that sends good and malformed messages with real fds
 * (memfd guest memory, eventfds).
 */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "transport/vhost_user_msg.h"
#include "vio/log.h"
#include "vio/vhost_user_be.h"
#include "vio/virtio.h"
#include "vio/virtio_ring.h"

#define GUEST_SIZE (1u << 20)
#define GUEST_GPA 0x100000ull
#define GUEST_UVA 0x7f0000100000ull
#define QSIZE 8u
#define NQUEUES 2u

/* ---- a device with a 16-byte config and the ring features ---- */

static uint64_t fake_features(void *dev)
{
	(void)dev;
	return VIO_BIT(VIRTIO_F_VERSION_1) | VIO_BIT(VIRTIO_F_EVENT_IDX) |
	       VIO_BIT(VIRTIO_F_INDIRECT_DESC);
}

static void fake_config_read(void *dev, uint32_t off, void *buf, uint32_t len)
{
	(void)dev;
	for (uint32_t i = 0; i < len; i++)
		((uint8_t *)buf)[i] = (uint8_t)(0xa0 + off + i);
}

static const struct vio_device_ops fake_ops = {
	.device_id = VIRTIO_ID_BLOCK,
	.config_size = 16,
	.features = fake_features,
	.config_read = fake_config_read,
};

struct fixture {
	struct vio_device dev;
	struct vio_vu_be *be;
	int fe;          /* the test's end: the front-end */
	int memfd;
	uint8_t *guest;  /* our view of guest memory */
	int starts, stops;
	struct vio_vu_queue *last_started;
};

static int hook_start(void *opaque, struct vio_vu_queue *q)
{
	struct fixture *f = opaque;

	f->starts++;
	f->last_started = q;
	assert_non_null(q->ring);
	return 0;
}

static void hook_stop(void *opaque, struct vio_vu_queue *q)
{
	struct fixture *f = opaque;

	(void)q;
	f->stops++;
}

static int count_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	int sv[2];

	/* The refusals below are expected: keep them quiet unless asked. */
	vio_log_set_level(getenv("VIO_TEST_VERBOSE") ? VIO_LOG_TRACE : (enum vio_log_level)-1);
	f->dev = (struct vio_device){ .ops = &fake_ops, .max_queues = NQUEUES, .max_queue_size = 256 };
	assert_int_equal(vio_vu_be_new(&f->be, &(struct vio_vu_be_config){
		.device = &f->dev, .num_queues = NQUEUES,
		.hooks = { hook_start, hook_stop }, .opaque = f }), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(vio_vu_be_attach(f->be, sv[0]), 0);
	f->fe = sv[1];
	/* A reply that never comes fails the test instead of hanging it. */
	assert_int_equal(setsockopt(f->fe, SOL_SOCKET, SO_RCVTIMEO,
				    &(struct timeval){ .tv_sec = 5 }, sizeof(struct timeval)), 0);
	f->memfd = memfd_create("guest", MFD_CLOEXEC);
	assert_true(f->memfd >= 0);
	assert_int_equal(ftruncate(f->memfd, GUEST_SIZE), 0);
	f->guest = mmap(NULL, GUEST_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, f->memfd, 0);
	assert_true(f->guest != MAP_FAILED);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	vio_vu_be_free(f->be);
	close(f->fe);
	close(f->memfd);
	munmap(f->guest, GUEST_SIZE);
	free(f);
	return 0;
}

/* ---- the test front-end ---- */

static void send_raw(struct fixture *f, uint32_t req, uint32_t flags, const void *payload,
		     uint32_t size, const int *fds, unsigned nfds)
{
	struct vhost_user_header h = { req, VHOST_USER_VERSION | flags, size };

	assert_int_equal(vu_msg_send(f->fe, &h, payload, fds, nfds), 0);
}

/* Sends one message and lets the back-end handle it; returns what handle() returned. */
static int xfer(struct fixture *f, uint32_t req, const void *payload, uint32_t size,
		const int *fds, unsigned nfds)
{
	send_raw(f, req, 0, payload, size, fds, nfds);
	return vio_vu_be_handle(f->be);
}

static int xfer_u64(struct fixture *f, uint32_t req, uint64_t v, const int *fds, unsigned nfds)
{
	return xfer(f, req, &v, sizeof(v), fds, nfds);
}

static int xfer_state(struct fixture *f, uint32_t req, uint32_t index, uint32_t num)
{
	struct vhost_vring_state s = { index, num };

	return xfer(f, req, &s, sizeof(s), NULL, 0);
}

/* Reads one reply from the back-end. */
static void recv_reply(struct fixture *f, struct vu_msg *m)
{
	assert_int_equal(vu_msg_recv(f->fe, m), 0);
	assert_true(m->hdr.flags & VHOST_USER_REPLY_MASK);
}

/* Sends with NEED_REPLY and returns the REPLY_ACK value. */
static uint64_t xfer_ack(struct fixture *f, uint32_t req, const void *payload, uint32_t size,
			 const int *fds, unsigned nfds)
{
	struct vu_msg m;

	send_raw(f, req, VHOST_USER_NEED_REPLY_MASK, payload, size, fds, nfds);
	assert_int_equal(vio_vu_be_handle(f->be), 0);
	recv_reply(f, &m);
	assert_int_equal(m.hdr.request, req);
	assert_int_equal(m.hdr.size, 8);
	return m.payload.u64;
}

static void negotiate(struct fixture *f)
{
	uint64_t p = VIO_BIT(VHOST_USER_PROTOCOL_F_REPLY_ACK) | VIO_BIT(VHOST_USER_PROTOCOL_F_MQ) |
		     VIO_BIT(VHOST_USER_PROTOCOL_F_CONFIG) |
		     VIO_BIT(VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS);
	uint64_t feat = VIO_BIT(VIRTIO_F_VERSION_1) | VIO_BIT(VHOST_USER_F_PROTOCOL_FEATURES);

	assert_int_equal(xfer_u64(f, VHOST_USER_SET_PROTOCOL_FEATURES, p, NULL, 0), 0);
	assert_int_equal(xfer_ack(f, VHOST_USER_SET_FEATURES, &feat, 8, NULL, 0), 0);
}

static struct vhost_user_memory one_region(uint64_t gpa, uint64_t size, uint64_t uva, uint64_t off)
{
	struct vhost_user_memory t = { .nregions = 1 };

	t.regions[0] = (struct vhost_user_memory_region){ gpa, size, uva, off };
	return t;
}

static uint64_t set_mem(struct fixture *f, const struct vhost_user_memory *t, const int *fds)
{
	return xfer_ack(f, VHOST_USER_SET_MEM_TABLE, t, 8 + t->nregions * 32, fds, t->nregions);
}

/* Lays out a split ring for queue @q at guest offset @off and starts it. */
static void start_queue(struct fixture *f, uint32_t q, uint64_t off)
{
	struct vhost_vring_addr a = {
		.index = q, .desc_user_addr = GUEST_UVA + off,
		.avail_user_addr = GUEST_UVA + off + 16 * QSIZE,
		.used_user_addr = GUEST_UVA + off + 0x1000,
	};
	int kick = eventfd(0, EFD_CLOEXEC), call = eventfd(0, EFD_CLOEXEC);

	assert_int_equal(xfer_state(f, VHOST_USER_SET_VRING_NUM, q, QSIZE), 0);
	assert_int_equal(xfer_state(f, VHOST_USER_SET_VRING_BASE, q, 0), 0);
	assert_int_equal(xfer(f, VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
	assert_int_equal(xfer_u64(f, VHOST_USER_SET_VRING_CALL, q, &call, 1), 0);
	assert_int_equal(xfer_u64(f, VHOST_USER_SET_VRING_KICK, q, &kick, 1), 0);
	assert_int_equal(xfer_state(f, VHOST_USER_SET_VRING_ENABLE, q, 1), 0);
	close(kick);
	close(call);
}

static void map_guest(struct fixture *f)
{
	struct vhost_user_memory t = one_region(GUEST_GPA, GUEST_SIZE, GUEST_UVA, 0);

	assert_int_equal(set_mem(f, &t, &f->memfd), 0);
}

/* ---- tests ---- */

static void test_get_features_offers_device_and_protocol_bits(void **state)
{
	struct fixture *f = *state;
	struct vu_msg m;

	assert_int_equal(xfer(f, VHOST_USER_GET_FEATURES, NULL, 0, NULL, 0), 0);
	recv_reply(f, &m);
	assert_int_equal(m.payload.u64,
			 fake_features(NULL) | VIO_BIT(VHOST_USER_F_PROTOCOL_FEATURES));
}

static void test_wrong_payload_size_is_a_protocol_error(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[64] = { 0 };

	assert_int_equal(xfer(f, VHOST_USER_SET_FEATURES, buf, 4, NULL, 0), -EPROTO);
	assert_int_equal(xfer(f, VHOST_USER_GET_FEATURES, buf, 8, NULL, 0), -EPROTO);
	assert_int_equal(xfer(f, VHOST_USER_SET_VRING_NUM, buf, 12, NULL, 0), -EPROTO);
	assert_int_equal(xfer(f, VHOST_USER_SET_VRING_ADDR, buf, 32, NULL, 0), -EPROTO);
}

static void test_payload_larger_than_any_message_is_refused_before_reading(void **state)
{
	struct fixture *f = *state;
	struct vhost_user_header h = { VHOST_USER_SET_FEATURES, VHOST_USER_VERSION, 1u << 20 };

	assert_int_equal(write(f->fe, &h, sizeof(h)), (ssize_t)sizeof(h));
	assert_int_equal(vio_vu_be_handle(f->be), -EPROTO);
}

static void test_wrong_version_is_a_protocol_error(void **state)
{
	struct fixture *f = *state;
	struct vhost_user_header h = { VHOST_USER_GET_FEATURES, 0x2, 0 };

	assert_int_equal(write(f->fe, &h, sizeof(h)), (ssize_t)sizeof(h));
	assert_int_equal(vio_vu_be_handle(f->be), -EPROTO);
}

static void test_unknown_request_is_a_protocol_error(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(xfer(f, 9999, NULL, 0, NULL, 0), -EPROTO);
	assert_int_equal(xfer_u64(f, VHOST_USER_SET_LOG_BASE, 0, NULL, 0), -EPROTO);
}

static void test_extra_fds_are_refused_and_closed(void **state)
{
	struct fixture *f = *state;
	int before, fds[3];

	negotiate(f);
	for (int i = 0; i < 3; i++)
		fds[i] = eventfd(0, EFD_CLOEXEC);
	before = count_open_fds();
	/* GET_FEATURES takes no fd; SET_VRING_KICK takes one. */
	assert_int_equal(xfer(f, VHOST_USER_GET_FEATURES, NULL, 0, fds, 3), -EPROTO);
	assert_int_equal(xfer_u64(f, VHOST_USER_SET_VRING_CALL, 0, fds, 2), -EPROTO);
	assert_int_equal(count_open_fds(), before);
	for (int i = 0; i < 3; i++)
		close(fds[i]);
}

static void test_vring_fd_without_fd_and_without_nofd_bit_is_refused(void **state)
{
	struct fixture *f = *state;
	int fd = eventfd(0, EFD_CLOEXEC);

	assert_int_equal(xfer_u64(f, VHOST_USER_SET_VRING_CALL, 0, NULL, 0), -EPROTO);
	/* no-fd bit set but an fd sent anyway */
	assert_int_equal(xfer_u64(f, VHOST_USER_SET_VRING_CALL, VHOST_USER_VRING_NOFD_MASK, &fd, 1),
			 -EPROTO);
	/* reserved bits */
	assert_int_equal(xfer_u64(f, VHOST_USER_SET_VRING_ERR, 1u << 20, &fd, 1), -EPROTO);
	/* properly without fd */
	assert_int_equal(xfer_u64(f, VHOST_USER_SET_VRING_CALL, VHOST_USER_VRING_NOFD_MASK, NULL, 0), 0);
	close(fd);
}

static void test_vring_index_out_of_range_is_a_protocol_error(void **state)
{
	struct fixture *f = *state;
	int fd = eventfd(0, EFD_CLOEXEC);
	struct vhost_vring_addr a = { .index = NQUEUES };

	negotiate(f);
	map_guest(f);
	assert_int_equal(xfer_state(f, VHOST_USER_SET_VRING_NUM, NQUEUES, QSIZE), -EPROTO);
	assert_int_equal(xfer_state(f, VHOST_USER_GET_VRING_BASE, 0xffffffffu, 0), -EPROTO);
	assert_int_equal(xfer(f, VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), -EPROTO);
	assert_int_equal(xfer_u64(f, VHOST_USER_SET_VRING_KICK, NQUEUES, &fd, 1), -EPROTO);
	close(fd);
}

static void test_kick_before_features_is_a_protocol_error(void **state)
{
	struct fixture *f = *state;
	int fd = eventfd(0, EFD_CLOEXEC);

	assert_int_equal(xfer_u64(f, VHOST_USER_SET_PROTOCOL_FEATURES,
				  VIO_BIT(VHOST_USER_PROTOCOL_F_REPLY_ACK), NULL, 0), 0);
	map_guest(f);
	assert_int_equal(xfer_u64(f, VHOST_USER_SET_VRING_KICK, 0, &fd, 1), -EPROTO);
	close(fd);
}

static void test_ring_addresses_before_memory_table_are_a_protocol_error(void **state)
{
	struct fixture *f = *state;
	struct vhost_vring_addr a = { .index = 0 };

	negotiate(f);
	assert_int_equal(xfer(f, VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), -EPROTO);
}

static void test_features_never_offered_are_refused(void **state)
{
	struct fixture *f = *state;
	uint64_t feat = VIO_BIT(VIRTIO_F_VERSION_1) | VIO_BIT(VIRTIO_F_RING_PACKED);

	assert_int_equal(xfer_u64(f, VHOST_USER_SET_PROTOCOL_FEATURES,
				  VIO_BIT(VHOST_USER_PROTOCOL_F_REPLY_ACK), NULL, 0), 0);
	assert_int_equal(xfer_ack(f, VHOST_USER_SET_FEATURES, &feat, 8, NULL, 0), 1);
	feat = VIO_BIT(VIRTIO_F_EVENT_IDX); /* VERSION_1 missing */
	assert_int_equal(xfer_ack(f, VHOST_USER_SET_FEATURES, &feat, 8, NULL, 0), 1);
}

static void test_memory_table_with_overlapping_regions_is_refused(void **state)
{
	struct fixture *f = *state;
	struct vhost_user_memory t = { .nregions = 2 };
	int fds[2] = { f->memfd, f->memfd };

	negotiate(f);
	t.regions[0] = (struct vhost_user_memory_region){ GUEST_GPA, GUEST_SIZE / 2, GUEST_UVA, 0 };
	/* gpa overlaps region 0 */
	t.regions[1] = (struct vhost_user_memory_region){ GUEST_GPA + 4096, 4096, GUEST_UVA + GUEST_SIZE, 4096 };
	assert_int_equal(set_mem(f, &t, fds), 1);
	/* uva overlaps region 0 */
	t.regions[1] = (struct vhost_user_memory_region){ GUEST_GPA + GUEST_SIZE, 4096, GUEST_UVA + 4096, 4096 };
	assert_int_equal(set_mem(f, &t, fds), 1);
	/* disjoint: accepted */
	t.regions[1] = (struct vhost_user_memory_region){ GUEST_GPA + GUEST_SIZE, 4096,
							  GUEST_UVA + GUEST_SIZE, GUEST_SIZE / 2 };
	assert_int_equal(set_mem(f, &t, fds), 0);
}

static void test_memory_table_with_overflowing_region_is_refused(void **state)
{
	struct fixture *f = *state;
	struct vhost_user_memory t;

	negotiate(f);
	t = one_region(UINT64_MAX - 4095, 8192, GUEST_UVA, 0);
	assert_int_equal(set_mem(f, &t, &f->memfd), 1);
	t = one_region(GUEST_GPA, 8192, UINT64_MAX - 4095, 0);
	assert_int_equal(set_mem(f, &t, &f->memfd), 1);
	t = one_region(GUEST_GPA, 8192, GUEST_UVA, UINT64_MAX - 4095);
	assert_int_equal(set_mem(f, &t, &f->memfd), 1);
	t = one_region(GUEST_GPA, 0, GUEST_UVA, 0);
	assert_int_equal(set_mem(f, &t, &f->memfd), 1);
}

static void test_region_beyond_end_of_its_file_is_refused(void **state)
{
	struct fixture *f = *state;
	struct vhost_user_memory t;

	negotiate(f);
	/* Mapping past EOF would SIGBUS on access: never map it. */
	t = one_region(GUEST_GPA, GUEST_SIZE + 4096, GUEST_UVA, 0);
	assert_int_equal(set_mem(f, &t, &f->memfd), 1);
	t = one_region(GUEST_GPA, GUEST_SIZE, GUEST_UVA, 4096);
	assert_int_equal(set_mem(f, &t, &f->memfd), 1);
}

static void test_memory_table_fd_count_must_match_regions(void **state)
{
	struct fixture *f = *state;
	struct vhost_user_memory t = one_region(GUEST_GPA, GUEST_SIZE, GUEST_UVA, 0);
	int fds[2] = { f->memfd, f->memfd };

	negotiate(f);
	assert_int_equal(xfer(f, VHOST_USER_SET_MEM_TABLE, &t, 8 + 32, fds, 2), -EPROTO);
	assert_int_equal(xfer(f, VHOST_USER_SET_MEM_TABLE, &t, 8 + 32, NULL, 0), -EPROTO);
	t.nregions = 9;
	assert_int_equal(xfer(f, VHOST_USER_SET_MEM_TABLE, &t, 8, NULL, 0), -EPROTO);
	t.nregions = 1; /* size says two regions */
	assert_int_equal(xfer(f, VHOST_USER_SET_MEM_TABLE, &t, 8 + 64, fds, 1), -EPROTO);
}

static void test_queue_starts_with_kick_and_get_vring_base_stops_it(void **state)
{
	struct fixture *f = *state;
	struct vu_msg m;

	negotiate(f);
	map_guest(f);
	start_queue(f, 1, 0);
	assert_int_equal(f->starts, 1);
	assert_int_equal(f->last_started->index, 1);
	assert_true(f->last_started->running);
	assert_int_equal(xfer_state(f, VHOST_USER_GET_VRING_BASE, 1, 0), 0);
	recv_reply(f, &m);
	assert_int_equal(m.payload.state.index, 1);
	assert_int_equal(m.payload.state.num, 0);
	assert_true(f->stops >= 1);
	assert_false(vio_vu_be_queue(f->be, 1)->running);
	assert_false(vio_vu_be_queue(f->be, 1)->started);
}

static void test_disabled_ring_does_not_run(void **state)
{
	struct fixture *f = *state;

	negotiate(f);
	map_guest(f);
	start_queue(f, 0, 0);
	assert_int_equal(xfer_state(f, VHOST_USER_SET_VRING_ENABLE, 0, 0), 0);
	assert_false(vio_vu_be_queue(f->be, 0)->running);
	assert_int_equal(xfer_state(f, VHOST_USER_SET_VRING_ENABLE, 0, 7), 0); /* refused, no ack asked */
	assert_false(vio_vu_be_queue(f->be, 0)->running);
}

static void test_ring_outside_guest_memory_breaks_the_queue(void **state)
{
	struct fixture *f = *state;
	int err = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	eventfd_t v = 0;

	negotiate(f);
	map_guest(f);
	assert_int_equal(xfer_u64(f, VHOST_USER_SET_VRING_ERR, 0, &err, 1), 0);
	/* the used ring would end past the region */
	start_queue(f, 0, GUEST_SIZE - 0x1000);
	assert_int_equal(f->starts, 0);
	assert_true(vio_vu_be_queue(f->be, 0)->broken);
	assert_int_equal(eventfd_read(err, &v), 0);
	assert_true(v >= 1);
	close(err);
}

/* Found by fuzz_vhost_user: a refused GET_INFLIGHT_FD got no reply, and the front-end waits for one. */
static void test_get_inflight_fd_refused_is_answered_with_no_region(void **state)
{
	struct fixture *f = *state;
	struct vhost_user_inflight in = { .num_queues = 0, .queue_size = QSIZE };
	struct vu_msg m;

	negotiate(f);
	assert_int_equal(xfer_u64(f, VHOST_USER_SET_PROTOCOL_FEATURES,
				  VIO_BIT(VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD), NULL, 0), 0);
	assert_int_equal(xfer(f, VHOST_USER_GET_INFLIGHT_FD, &in, sizeof(in), NULL, 0), 0);
	recv_reply(f, &m); /* times out (fails) without a reply */
	assert_int_equal(m.hdr.size, sizeof(in));
	assert_int_equal(m.payload.inflight.mmap_size, 0);
	assert_int_equal(m.nfds, 0);
	in.num_queues = NQUEUES + 1; /* more queues than offered */
	assert_int_equal(xfer(f, VHOST_USER_GET_INFLIGHT_FD, &in, sizeof(in), NULL, 0), 0);
	recv_reply(f, &m);
	assert_int_equal(m.payload.inflight.mmap_size, 0);
	assert_int_equal(m.nfds, 0);
}

/* Found by fuzz_vhost_user: a queue whose ring refused the inflight log was started broken. */
static void test_inflight_log_refused_breaks_the_queue_before_it_starts(void **state)
{
	struct fixture *f = *state;
	struct vhost_user_inflight in = { .num_queues = NQUEUES, .queue_size = QSIZE };
	int err = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	eventfd_t v = 0;
	uint8_t *log;
	struct vu_msg m;
	size_t size;

	negotiate(f);
	assert_int_equal(xfer_u64(f, VHOST_USER_SET_PROTOCOL_FEATURES,
				  VIO_BIT(VHOST_USER_PROTOCOL_F_REPLY_ACK) |
				  VIO_BIT(VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD), NULL, 0), 0);
	map_guest(f);
	assert_int_equal(xfer(f, VHOST_USER_GET_INFLIGHT_FD, &in, sizeof(in), NULL, 0), 0);
	recv_reply(f, &m);
	assert_int_equal(m.nfds, 1);
	size = m.payload.inflight.mmap_size;
	log = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, m.fds[0], 0);
	assert_true(log != MAP_FAILED);
	vu_msg_close_fds(&m);
	start_queue(f, 0, 0); /* a fresh log: runs */
	assert_int_equal(f->starts, 1);
	assert_int_equal(xfer_state(f, VHOST_USER_GET_VRING_BASE, 0, 0), 0);
	recv_reply(f, &m);
	/* The front-end scribbles: queue 0's entry 0 gets an in-flight flag of 2
	 * (inflight.c: a 64-byte header, then 24-byte entries, the flag at 8). */
	log[64 + 8] = 2;
	assert_int_equal(xfer_u64(f, VHOST_USER_SET_VRING_ERR, 0, &err, 1), 0);
	start_queue(f, 0, 0);
	assert_int_equal(f->starts, 1); /* not started again */
	assert_true(vio_vu_be_queue(f->be, 0)->broken);
	assert_int_equal(eventfd_read(err, &v), 0);
	assert_true(v >= 1);
	munmap(log, size);
	close(err);
}

static void test_ring_reconfigured_while_started_is_a_protocol_error(void **state)
{
	struct fixture *f = *state;

	negotiate(f);
	map_guest(f);
	start_queue(f, 0, 0);
	assert_int_equal(xfer_state(f, VHOST_USER_SET_VRING_NUM, 0, QSIZE), -EPROTO);
}

static void test_memory_table_change_stops_and_restarts_running_queues(void **state)
{
	struct fixture *f = *state;

	negotiate(f);
	map_guest(f);
	start_queue(f, 0, 0);
	assert_int_equal(f->starts, 1);
	map_guest(f); /* repeated: the old mapping is released, queue restarted */
	assert_int_equal(f->stops, 1);
	assert_int_equal(f->starts, 2);
	assert_true(vio_vu_be_queue(f->be, 0)->running);
}

static void test_get_config_inside_and_outside_the_config_space(void **state)
{
	struct fixture *f = *state;
	struct vhost_user_config c = { .offset = 4, .size = 8 };
	struct vu_msg m;

	negotiate(f);
	assert_int_equal(xfer(f, VHOST_USER_GET_CONFIG, &c, 12 + 8, NULL, 0), 0);
	recv_reply(f, &m);
	assert_int_equal(m.hdr.size, 12 + 8);
	assert_int_equal(m.payload.config.region[0], 0xa4);
	assert_int_equal(m.payload.config.region[7], 0xab);
	c.offset = 12; /* [12, 20) leaves the 16-byte space: empty reply */
	assert_int_equal(xfer(f, VHOST_USER_GET_CONFIG, &c, 12 + 8, NULL, 0), 0);
	recv_reply(f, &m);
	assert_int_equal(m.hdr.size, 0);
	c.size = 300; /* larger than any config payload */
	assert_int_equal(xfer(f, VHOST_USER_GET_CONFIG, &c, 12 + 8, NULL, 0), -EPROTO);
}

static void test_config_without_its_protocol_feature_is_a_protocol_error(void **state)
{
	struct fixture *f = *state;
	struct vhost_user_config c = { .offset = 0, .size = 4 };

	assert_int_equal(xfer(f, VHOST_USER_GET_CONFIG, &c, 12 + 4, NULL, 0), -EPROTO);
}

static void test_add_and_remove_memory_regions(void **state)
{
	struct fixture *f = *state;
	struct vhost_user_mem_reg r = { 0, { GUEST_GPA, GUEST_SIZE, GUEST_UVA, 0 } };
	int before;

	negotiate(f);
	assert_int_equal(xfer_ack(f, VHOST_USER_ADD_MEM_REG, &r, sizeof(r), &f->memfd, 1), 0);
	/* the same region again overlaps */
	assert_int_equal(xfer_ack(f, VHOST_USER_ADD_MEM_REG, &r, sizeof(r), &f->memfd, 1), 1);
	before = count_open_fds();
	/* REM_MEM_REG with a stray fd: accepted, the fd closed */
	assert_int_equal(xfer_ack(f, VHOST_USER_REM_MEM_REG, &r, sizeof(r), &f->memfd, 1), 0);
	assert_int_equal(count_open_fds(), before);
	/* removing it twice fails */
	assert_int_equal(xfer_ack(f, VHOST_USER_REM_MEM_REG, &r, sizeof(r), NULL, 0), 1);
	/* ADD_MEM_REG takes exactly one fd */
	assert_int_equal(xfer(f, VHOST_USER_ADD_MEM_REG, &r, sizeof(r), NULL, 0), -EPROTO);
}

static void test_peer_closing_mid_message_is_a_disconnect(void **state)
{
	struct fixture *f = *state;
	struct vhost_user_header h = { VHOST_USER_SET_FEATURES, VHOST_USER_VERSION, 8 };

	assert_int_equal(write(f->fe, &h, sizeof(h)), (ssize_t)sizeof(h));
	assert_int_equal(write(f->fe, "abc", 3), 3);
	shutdown(f->fe, SHUT_WR);
	assert_int_equal(vio_vu_be_handle(f->be), -ECONNRESET);
}

static void test_disconnect_releases_every_fd(void **state)
{
	struct fixture *f = *state;
	int before = count_open_fds();

	negotiate(f);
	map_guest(f);
	start_queue(f, 0, 0);
	start_queue(f, 1, 0x2000);
	vio_vu_be_disconnect(f->be);
	/* the socket end we attached is closed too */
	assert_int_equal(count_open_fds(), before - 1);
	assert_int_equal(vio_vu_be_fd(f->be), -1);
	assert_int_equal(f->stops, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_get_features_offers_device_and_protocol_bits),
		T(test_wrong_payload_size_is_a_protocol_error),
		T(test_payload_larger_than_any_message_is_refused_before_reading),
		T(test_wrong_version_is_a_protocol_error),
		T(test_unknown_request_is_a_protocol_error),
		T(test_extra_fds_are_refused_and_closed),
		T(test_vring_fd_without_fd_and_without_nofd_bit_is_refused),
		T(test_vring_index_out_of_range_is_a_protocol_error),
		T(test_kick_before_features_is_a_protocol_error),
		T(test_ring_addresses_before_memory_table_are_a_protocol_error),
		T(test_features_never_offered_are_refused),
		T(test_memory_table_with_overlapping_regions_is_refused),
		T(test_memory_table_with_overflowing_region_is_refused),
		T(test_region_beyond_end_of_its_file_is_refused),
		T(test_memory_table_fd_count_must_match_regions),
		T(test_queue_starts_with_kick_and_get_vring_base_stops_it),
		T(test_disabled_ring_does_not_run),
		T(test_ring_outside_guest_memory_breaks_the_queue),
		T(test_get_inflight_fd_refused_is_answered_with_no_region),
		T(test_inflight_log_refused_breaks_the_queue_before_it_starts),
		T(test_ring_reconfigured_while_started_is_a_protocol_error),
		T(test_memory_table_change_stops_and_restarts_running_queues),
		T(test_get_config_inside_and_outside_the_config_space),
		T(test_config_without_its_protocol_feature_is_a_protocol_error),
		T(test_add_and_remove_memory_regions),
		T(test_peer_closing_mid_message_is_a_disconnect),
		T(test_disconnect_releases_every_fd),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
