/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The vhost-user front-end against a fake back-end over a socketpair: the
 * handshake and the DRIVER_OK / reset sequences it sends, and its checks of
 * every reply when the back-end answers with the wrong request, flags, size,
 * fds or values, hangs up or says nothing. Also the shared memory: sealed
 * memfd, allocator and address translation.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "transport/vhost_user_msg.h"
#include "vio/driver.h"
#include "vio/log.h"
#include "vio/vhost_user_fe.h"
#include "vio/virtio.h"

#define MEM_SIZE (1u << 20)
#define LOG_MAX 64

enum bad {
	BAD_NONE, BAD_REQUEST, BAD_FLAGS, BAD_SIZE, BAD_FD, BAD_CLOSE, BAD_SILENT, BAD_HUGE,
	BAD_EMPTY, BAD_ECHO, BAD_NACK, BAD_VALUE,
};

struct fake_be {
	int sock;
	pthread_t th;
	uint64_t features, protocol, queue_num, status;
	bool clear_features_ok;     /* with PROTOCOL_F_STATUS: GET_STATUS drops FEATURES_OK */
	uint32_t bad_req;           /* the request whose reply is bad */
	enum bad bad;
	/* Recorded by the thread; read after it was joined. */
	struct vu_msg log[LOG_MAX];
	unsigned nlog;
	int memfd;                  /* kept from SET_MEM_TABLE */
};

struct fixture {
	struct fake_be be;
	struct vio_vu_fe *fe;
	int fds_before;
};

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

/* ---- the fake back-end ---- */

static void reply(struct fake_be *b, const struct vu_msg *m, const void *payload, uint32_t size)
{
	struct vhost_user_header h = { m->hdr.request, VHOST_USER_VERSION | VHOST_USER_REPLY_MASK,
				       size };
	uint8_t big[512] = { 0 };
	int fd = -1;

	if (m->hdr.request == b->bad_req) {
		switch (b->bad) {
		case BAD_REQUEST: h.request++; break;
		case BAD_FLAGS: h.flags = VHOST_USER_VERSION; break;
		case BAD_SIZE:
			memcpy(big, payload, size);
			h.size += 4;
			payload = big;
			break;
		case BAD_HUGE: h.size = 4096; break;
		case BAD_FD: fd = eventfd(0, EFD_CLOEXEC); break;
		case BAD_EMPTY: h.size = 0; break;
		default: break;
		}
	}
	if (h.size > sizeof(big)) {
		/* A header announcing more than any payload can be, and nothing after it. */
		send(b->sock, &h, sizeof(h), MSG_NOSIGNAL);
		return;
	}
	vu_msg_send(b->sock, &h, payload, fd >= 0 ? &fd : NULL, fd >= 0 ? 1 : 0);
	if (fd >= 0)
		close(fd);
}

static void reply_u64(struct fake_be *b, const struct vu_msg *m, uint64_t v)
{
	reply(b, m, &v, sizeof(v));
}

/* The answer to a message that has its own reply; false if it has none. */
static bool answer(struct fake_be *b, struct vu_msg *m)
{
	bool bad = m->hdr.request == b->bad_req && b->bad == BAD_VALUE;

	switch (m->hdr.request) {
	case VHOST_USER_GET_FEATURES:
		reply_u64(b, m, b->features);
		return true;
	case VHOST_USER_GET_PROTOCOL_FEATURES:
		reply_u64(b, m, b->protocol);
		return true;
	case VHOST_USER_GET_QUEUE_NUM:
		reply_u64(b, m, bad ? 0 : b->queue_num);
		return true;
	case VHOST_USER_GET_STATUS:
		reply_u64(b, m, bad ? 0x1ff : b->status);
		return true;
	case VHOST_USER_GET_VRING_BASE: {
		struct vhost_vring_state s = { m->payload.state.index + (bad ? 1 : 0), 0 };

		reply(b, m, &s, sizeof(s));
		return true;
	}
	case VHOST_USER_GET_CONFIG: {
		struct vhost_user_config *c = &m->payload.config;

		for (uint32_t i = 0; i < c->size; i++)
			c->region[i] = (uint8_t)(c->offset + i);
		if (m->hdr.request == b->bad_req && b->bad == BAD_ECHO)
			c->offset++;
		reply(b, m, c, m->hdr.size);
		return true;
	}
	default:
		return false;
	}
}

static void apply(struct fake_be *b, struct vu_msg *m)
{
	if (m->hdr.request == VHOST_USER_SET_MEM_TABLE && m->nfds == 1 && b->memfd < 0)
		b->memfd = vu_msg_take_fd(m, 0);
	if (m->hdr.request == VHOST_USER_SET_STATUS) {
		b->status = m->payload.u64;
		if (b->clear_features_ok)
			b->status &= ~(uint64_t)VIRTIO_CONFIG_S_FEATURES_OK;
	}
}

static void *be_main(void *arg)
{
	struct fake_be *b = arg;
	struct vu_msg m;

	while (vu_msg_recv(b->sock, &m) == 0) {
		apply(b, &m);
		vu_msg_close_fds(&m);
		if (b->nlog < LOG_MAX)
			b->log[b->nlog++] = m;
		if (m.hdr.request == b->bad_req && b->bad == BAD_CLOSE)
			break;
		if (m.hdr.request == b->bad_req && b->bad == BAD_SILENT)
			continue;
		if (answer(b, &m))
			continue;
		if (m.hdr.flags & VHOST_USER_NEED_REPLY_MASK)
			reply_u64(b, &m, m.hdr.request == b->bad_req && b->bad == BAD_NACK ? 1 : 0);
	}
	close(b->sock);
	return NULL;
}

/* ---- fixture ---- */

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	vio_log_set_level(getenv("VIO_TEST_VERBOSE") ? VIO_LOG_TRACE : (enum vio_log_level)-1);
	f->fds_before = count_open_fds();
	f->be.features = VIO_BIT(VIRTIO_F_VERSION_1) | VIO_BIT(VIRTIO_F_EVENT_IDX) |
			 VIO_BIT(VHOST_USER_F_PROTOCOL_FEATURES) | VIO_BIT(VHOST_F_LOG_ALL);
	f->be.protocol = VIO_BIT(VHOST_USER_PROTOCOL_F_MQ) |
			 VIO_BIT(VHOST_USER_PROTOCOL_F_REPLY_ACK) |
			 VIO_BIT(VHOST_USER_PROTOCOL_F_CONFIG) |
			 VIO_BIT(VHOST_USER_PROTOCOL_F_RESET_DEVICE) |
			 VIO_BIT(VHOST_USER_PROTOCOL_F_LOG_SHMFD);
	f->be.queue_num = 2;
	f->be.memfd = -1;
	*state = f;
	return 0;
}

/* Starts the fake back-end and connects to it; returns connect's result. */
static int connect_fe(struct fixture *f, int timeout_ms)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	f->be.sock = sv[0];
	assert_int_equal(pthread_create(&f->be.th, NULL, be_main, &f->be), 0);
	return vio_vu_fe_connect(&f->fe, &(struct vio_vu_fe_options){
		.fd = sv[1], .timeout_ms = timeout_ms, .mem_size = MEM_SIZE });
}

/* Closes our end, joins the back-end: its log is complete afterwards. */
static void finish(struct fixture *f)
{
	vio_vu_fe_close(f->fe);
	f->fe = NULL;
	pthread_join(f->be.th, NULL);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	if (f->be.memfd >= 0)
		close(f->be.memfd);
	/* Nothing leaked: every fd of the front-end and of replies is closed. */
	assert_int_equal(count_open_fds(), f->fds_before);
	free(f);
	return 0;
}

static const struct vio_transport_ops *ops(void)
{
	return vio_vu_fe_transport();
}

/* ---- tests ---- */

static void test_handshake(void **state)
{
	struct fixture *f = *state;
	uint64_t features;

	assert_int_equal(connect_fe(f, 0), 0);
	assert_true(vio_vu_fe_protocol_features(f->fe) ==
		    (VIO_BIT(VHOST_USER_PROTOCOL_F_MQ) | VIO_BIT(VHOST_USER_PROTOCOL_F_REPLY_ACK) |
		     VIO_BIT(VHOST_USER_PROTOCOL_F_CONFIG) |
		     VIO_BIT(VHOST_USER_PROTOCOL_F_RESET_DEVICE)));
	assert_int_equal(vio_vu_fe_queue_num(f->fe), 2);
	/* The device's features, without the vhost-user bits. */
	assert_int_equal(ops()->get_features(f->fe, &features), 0);
	assert_true(features == (VIO_BIT(VIRTIO_F_VERSION_1) | VIO_BIT(VIRTIO_F_EVENT_IDX)));
	finish(f);
	assert_int_equal(f->be.nlog, 5);
	assert_int_equal(f->be.log[0].hdr.request, VHOST_USER_GET_FEATURES);
	assert_int_equal(f->be.log[1].hdr.request, VHOST_USER_GET_PROTOCOL_FEATURES);
	assert_int_equal(f->be.log[2].hdr.request, VHOST_USER_SET_PROTOCOL_FEATURES);
	assert_true(f->be.log[2].payload.u64 == (f->be.protocol &
						 ~VIO_BIT(VHOST_USER_PROTOCOL_F_LOG_SHMFD)));
	assert_int_equal(f->be.log[3].hdr.request, VHOST_USER_GET_QUEUE_NUM);
	assert_int_equal(f->be.log[4].hdr.request, VHOST_USER_SET_OWNER);
	assert_true(f->be.log[4].hdr.flags & VHOST_USER_NEED_REPLY_MASK);
}

static const struct {
	enum bad bad;
	int err;
} connect_cases[] = {
	{ BAD_REQUEST, -EPROTO }, { BAD_FLAGS, -EPROTO }, { BAD_SIZE, -EPROTO },
	{ BAD_FD, -EPROTO }, { BAD_CLOSE, -ECONNRESET }, { BAD_SILENT, -ETIMEDOUT },
	{ BAD_HUGE, -EPROTO },
};

/* Every kind of bad reply to GET_FEATURES fails the connect with its errno. */
static void test_bad_reply_at_connect(void **state)
{
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(connect_cases) / sizeof(connect_cases[0]); i++) {
		struct timespec t0, t1;

		memset(&f->be, 0, sizeof(f->be));
		f->be.memfd = -1;
		f->be.features = VIO_BIT(VIRTIO_F_VERSION_1);
		f->be.bad_req = VHOST_USER_GET_FEATURES;
		f->be.bad = connect_cases[i].bad;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		/* A short timeout only where it is what the case waits for: under
		 * a sanitizer on a loaded machine a reply can take longer. */
		assert_int_equal(connect_fe(f, connect_cases[i].bad == BAD_SILENT ? 300 : 5000),
				 connect_cases[i].err);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		/* No hang: at most the timeout. */
		assert_true(t1.tv_sec - t0.tv_sec < 3);
		assert_null(f->fe);
		pthread_join(f->be.th, NULL);
		assert_int_equal(count_open_fds(), f->fds_before);
	}
}

/* A bad GET_CONFIG reply breaks the connection for good; the same error from then on. */
static void test_bad_config_reply_is_sticky(void **state)
{
	static const enum bad bads[] = { BAD_REQUEST, BAD_FLAGS, BAD_SIZE, BAD_FD, BAD_ECHO };
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		uint8_t buf[8], st;

		f->be = (struct fake_be){ .features = VIO_BIT(VIRTIO_F_VERSION_1) |
					  VIO_BIT(VHOST_USER_F_PROTOCOL_FEATURES),
					  .protocol = VIO_BIT(VHOST_USER_PROTOCOL_F_CONFIG),
					  .memfd = -1, .bad_req = VHOST_USER_GET_CONFIG,
					  .bad = bads[i] };
		assert_int_equal(connect_fe(f, 5000), 0);
		assert_int_equal(ops()->config_read(f->fe, 4, buf, sizeof(buf)), -EPROTO);
		assert_int_equal(vio_vu_fe_error(f->fe), -EPROTO);
		assert_int_equal(ops()->get_status(f->fe, &st), -EPROTO);
		assert_int_equal(ops()->config_read(f->fe, 0, buf, 1), -EPROTO);
		finish(f);
	}
}

/* An empty GET_CONFIG reply is the back-end's refusal: -EIO, and the connection lives. */
static void test_empty_config_reply(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[4];
	uint8_t st = 0xff;

	f->be.bad_req = VHOST_USER_GET_CONFIG;
	f->be.bad = BAD_EMPTY;
	assert_int_equal(connect_fe(f, 0), 0);
	assert_int_equal(ops()->config_read(f->fe, 0, buf, sizeof(buf)), -EIO);
	assert_int_equal(vio_vu_fe_error(f->fe), 0);
	assert_int_equal(ops()->get_status(f->fe, &st), 0);
	assert_int_equal(st, 0);
	finish(f);
}

static void test_config_read(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[300];

	assert_int_equal(connect_fe(f, 0), 0);
	/* Longer than one message carries: split at 256 bytes. */
	assert_int_equal(ops()->config_read(f->fe, 10, buf, sizeof(buf)), 0);
	for (unsigned i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], (uint8_t)(10 + i));
	finish(f);
}

static void test_config_without_protocol_feature(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[4];

	f->be.protocol = VIO_BIT(VHOST_USER_PROTOCOL_F_REPLY_ACK);
	assert_int_equal(connect_fe(f, 0), 0);
	assert_int_equal(ops()->config_read(f->fe, 0, buf, sizeof(buf)), -ENOTSUP);
	finish(f);
}

static void test_backend_hangs_up(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[4];

	f->be.bad_req = VHOST_USER_GET_CONFIG;
	f->be.bad = BAD_CLOSE;
	assert_int_equal(connect_fe(f, 0), 0);
	assert_int_equal(ops()->config_read(f->fe, 0, buf, sizeof(buf)), -ECONNRESET);
	assert_int_equal(vio_vu_fe_error(f->fe), -ECONNRESET);
	finish(f);
}

static void test_silent_backend_times_out(void **state)
{
	struct fixture *f = *state;
	struct timespec t0, t1;
	uint8_t buf[4];

	f->be.bad_req = VHOST_USER_GET_CONFIG;
	f->be.bad = BAD_SILENT;
	assert_int_equal(connect_fe(f, 1000), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(ops()->config_read(f->fe, 0, buf, sizeof(buf)), -ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(t1.tv_sec - t0.tv_sec < 4);
	finish(f);
}

static void test_queue_num_zero(void **state)
{
	struct fixture *f = *state;

	f->be.bad_req = VHOST_USER_GET_QUEUE_NUM;
	f->be.bad = BAD_VALUE;
	assert_int_equal(connect_fe(f, 0), -EPROTO);
	pthread_join(f->be.th, NULL);
}

/* VIRTIO 1.4 §3.1.1 step 6 over vhost-user: a refused SET_FEATURES reads back without FEATURES_OK. */
static void test_set_features_refused(void **state)
{
	struct fixture *f = *state;
	struct vio_driver d;

	f->be.bad_req = VHOST_USER_SET_FEATURES;
	f->be.bad = BAD_NACK;
	assert_int_equal(connect_fe(f, 0), 0);
	vio_driver_init(&d, ops(), f->fe);
	assert_int_equal(vio_driver_start(&d, VIO_BIT(VIRTIO_F_VERSION_1)), -ENOTSUP);
	assert_true(d.status & VIRTIO_CONFIG_S_FAILED);
	finish(f);
	/* SET_FEATURES carried the driver's bits and PROTOCOL_FEATURES. */
	for (unsigned i = 0; i < f->be.nlog; i++)
		if (f->be.log[i].hdr.request == VHOST_USER_SET_FEATURES)
			assert_true(f->be.log[i].payload.u64 ==
				    (VIO_BIT(VIRTIO_F_VERSION_1) |
				     VIO_BIT(VHOST_USER_F_PROTOCOL_FEATURES)));
}

static unsigned find(const struct fake_be *b, uint32_t req, unsigned from)
{
	for (unsigned i = from; i < b->nlog; i++)
		if (b->log[i].hdr.request == req)
			return i;
	fail_msg("%s not sent", vio_vhost_user_request_name(req));
	return 0;
}

/* DRIVER_OK sends the memory table and the vring set-up; reset stops the rings. */
static void test_driver_ok_and_reset_sequence(void **state)
{
	static const uint32_t order[] = {
		VHOST_USER_SET_MEM_TABLE, VHOST_USER_SET_VRING_NUM, VHOST_USER_SET_VRING_BASE,
		VHOST_USER_SET_VRING_ADDR, VHOST_USER_SET_VRING_CALL, VHOST_USER_SET_VRING_ERR,
		VHOST_USER_SET_VRING_KICK, VHOST_USER_SET_VRING_ENABLE, VHOST_USER_GET_VRING_BASE,
		VHOST_USER_RESET_DEVICE,
	};
	struct fixture *f = *state;
	struct vio_driver_queue *q;
	struct vio_driver d;
	unsigned at, i, mem;
	const struct vhost_user_memory_region *reg;
	const struct vhost_vring_addr *a;
	uint64_t base;

	assert_int_equal(connect_fe(f, 0), 0);
	vio_driver_init(&d, ops(), f->fe);
	assert_int_equal(vio_driver_start(&d, VIO_BIT(VIRTIO_F_VERSION_1)), 0);
	assert_int_equal(vio_driver_queue_new(&d, 1, 8, 0, &q), 0);
	assert_int_equal(vio_driver_ok(&d), 0);
	assert_int_equal(vio_driver_reset(&d), 0);
	vio_driver_queue_free(q);
	finish(f);
	mem = at = find(&f->be, order[0], 0);
	for (i = 1; i < sizeof(order) / sizeof(order[0]); i++)
		at = find(&f->be, order[i], at + 1);
	/* One region: our mapping at the guest address the descriptors use. */
	assert_int_equal(f->be.log[mem].payload.memory.nregions, 1);
	reg = &f->be.log[mem].payload.memory.regions[0];
	assert_true(reg->guest_phys_addr == VIO_VU_FE_GPA_BASE);
	assert_true(reg->memory_size == MEM_SIZE);
	assert_true(reg->mmap_offset == 0);
	base = reg->userspace_addr;
	/* The ring addresses are user addresses inside that region. */
	a = &f->be.log[find(&f->be, VHOST_USER_SET_VRING_ADDR, 0)].payload.addr;
	assert_int_equal(a->index, 1);
	assert_true(a->desc_user_addr >= base && a->desc_user_addr < base + MEM_SIZE);
	assert_true(a->avail_user_addr >= base && a->avail_user_addr < base + MEM_SIZE);
	assert_true(a->used_user_addr >= base && a->used_user_addr < base + MEM_SIZE);
	assert_int_equal(f->be.log[find(&f->be, VHOST_USER_SET_VRING_NUM, 0)].payload.state.num, 8);
	assert_true(f->be.log[find(&f->be, VHOST_USER_SET_VRING_KICK, 0)].payload.u64 == 1);
	/* A shared memory the back-end cannot shrink under us. */
	assert_true(f->be.memfd >= 0);
	assert_int_equal(ftruncate(f->be.memfd, 4096), -1);
	assert_int_equal(errno, EPERM);
	assert_true(fcntl(f->be.memfd, F_GET_SEALS) & F_SEAL_SHRINK);
}

static void test_vring_base_for_another_ring(void **state)
{
	struct fixture *f = *state;
	struct vio_driver_queue *q;
	struct vio_driver d;

	f->be.bad_req = VHOST_USER_GET_VRING_BASE;
	f->be.bad = BAD_VALUE;
	assert_int_equal(connect_fe(f, 0), 0);
	vio_driver_init(&d, ops(), f->fe);
	assert_int_equal(vio_driver_start(&d, VIO_BIT(VIRTIO_F_VERSION_1)), 0);
	assert_int_equal(vio_driver_queue_new(&d, 0, 8, 0, &q), 0);
	assert_int_equal(vio_driver_ok(&d), 0);
	assert_int_equal(vio_driver_reset(&d), -EPROTO);
	vio_driver_queue_free(q);
	finish(f);
}

/*
 * "Vring descriptor indices for packed virtqueues": a fresh packed ring
 * starts with both wrap counters 1 (VIRTIO 1.4 §2.8.1), so SET_VRING_BASE
 * carries 0x80008000; a split one available index 0. A packed Queue Size
 * need not be a power of two.
 */
static void vring_base_of_a_fresh_ring(void **state, uint64_t ring_features, uint32_t num,
				       uint32_t want)
{
	struct fixture *f = *state;
	struct vio_driver_queue *q;
	struct vio_driver d;
	const struct vhost_vring_state *st;

	f->be.features |= ring_features;
	assert_int_equal(connect_fe(f, 0), 0);
	vio_driver_init(&d, ops(), f->fe);
	assert_int_equal(vio_driver_start(&d, VIO_BIT(VIRTIO_F_VERSION_1) | ring_features), 0);
	assert_int_equal(vio_driver_queue_new(&d, 1, num, 0, &q), 0);
	assert_int_equal(vio_driver_ok(&d), 0);
	vio_driver_queue_free(q); /* its memory is the front-end's: before the close */
	finish(f);
	st = &f->be.log[find(&f->be, VHOST_USER_SET_VRING_BASE, 0)].payload.state;
	assert_int_equal(st->index, 1);
	assert_int_equal(st->num, want);
	assert_int_equal(f->be.log[find(&f->be, VHOST_USER_SET_VRING_NUM, 0)].payload.state.num, num);
}

static void test_vring_base_split(void **state)
{
	vring_base_of_a_fresh_ring(state, 0, 8, 0);
}

static void test_vring_base_packed(void **state)
{
	vring_base_of_a_fresh_ring(state, VIO_BIT(VIRTIO_F_RING_PACKED), 6, 0x80008000u);
}

static void test_queue_beyond_backend(void **state)
{
	struct fixture *f = *state;
	struct vio_driver_queue *q;
	struct vio_driver d;

	assert_int_equal(connect_fe(f, 0), 0);
	vio_driver_init(&d, ops(), f->fe);
	assert_int_equal(vio_driver_start(&d, VIO_BIT(VIRTIO_F_VERSION_1)), 0);
	assert_int_equal(vio_driver_queue_new(&d, 2, 8, 0, &q), -EINVAL);
	finish(f);
}

/* With PROTOCOL_F_STATUS the status lives in the back-end, and FEATURES_OK is its to keep. */
static void test_status_protocol(void **state)
{
	struct fixture *f = *state;
	struct vio_driver d;

	f->be.protocol |= VIO_BIT(VHOST_USER_PROTOCOL_F_STATUS);
	f->be.clear_features_ok = true;
	assert_int_equal(connect_fe(f, 0), 0);
	vio_driver_init(&d, ops(), f->fe);
	assert_int_equal(vio_driver_start(&d, VIO_BIT(VIRTIO_F_VERSION_1)), -ENOTSUP);
	finish(f);
	assert_int_equal(f->be.log[find(&f->be, VHOST_USER_SET_STATUS, 0)].payload.u64, 0);
	find(&f->be, VHOST_USER_GET_STATUS, 0);
	assert_true(f->be.status & VIRTIO_CONFIG_S_FAILED);
}

static void test_status_out_of_range(void **state)
{
	struct fixture *f = *state;
	uint8_t st;

	f->be.protocol |= VIO_BIT(VHOST_USER_PROTOCOL_F_STATUS);
	f->be.bad_req = VHOST_USER_GET_STATUS;
	f->be.bad = BAD_VALUE;
	assert_int_equal(connect_fe(f, 0), 0);
	assert_int_equal(ops()->get_status(f->fe, &st), -EPROTO);
	finish(f);
}

static void test_allocator(void **state)
{
	struct fixture *f = *state;
	uint64_t g1, g2, g;
	uint8_t *a, *b, *c;

	assert_int_equal(connect_fe(f, 0), 0);
	a = vio_vu_fe_alloc(f->fe, 100, 16, &g1);
	b = vio_vu_fe_alloc(f->fe, 4096, 4096, &g2);
	assert_non_null(a);
	assert_non_null(b);
	assert_true(((uintptr_t)b & 4095) == 0);
	assert_true(g1 >= VIO_VU_FE_GPA_BASE && g1 + 100 <= VIO_VU_FE_GPA_BASE + MEM_SIZE);
	assert_true(g2 - g1 == (uint64_t)(b - a));
	/* Ranges inside one allocation translate; past it, or outside, they do not. */
	assert_int_equal(vio_vu_fe_gpa(f->fe, a + 10, 90, &g), 0);
	assert_true(g == g1 + 10);
	assert_int_equal(vio_vu_fe_gpa(f->fe, a + 10, 200, &g), -EFAULT);
	assert_int_equal(vio_vu_fe_gpa(f->fe, &g, 8, &g), -EFAULT);
	assert_int_equal(vio_vu_fe_gpa(f->fe, a, 0, &g), -EFAULT);
	/* And back: device addresses to ours, within one allocation only. */
	assert_ptr_equal(vio_vu_fe_ptr(f->fe, g1 + 10, 90), a + 10);
	assert_ptr_equal(vio_vu_fe_ptr(f->fe, g2, 4096), b);
	assert_null(vio_vu_fe_ptr(f->fe, g1 + 10, 200));
	assert_null(vio_vu_fe_ptr(f->fe, g1, 0));
	assert_null(vio_vu_fe_ptr(f->fe, VIO_VU_FE_GPA_BASE - 64, 64));
	assert_null(vio_vu_fe_ptr(f->fe, VIO_VU_FE_GPA_BASE + MEM_SIZE, 1));
	assert_null(vio_vu_fe_ptr(f->fe, UINT64_MAX, 1));
	/* Too big; then everything, after freeing. */
	assert_null(vio_vu_fe_alloc(f->fe, MEM_SIZE, 64, NULL));
	vio_vu_fe_free(f->fe, a);
	assert_int_equal(vio_vu_fe_gpa(f->fe, a, 1, &g), -EFAULT);
	c = vio_vu_fe_alloc(f->fe, 64, 64, NULL);
	assert_ptr_equal(c, a); /* first fit reuses the hole */
	vio_vu_fe_free(f->fe, b);
	vio_vu_fe_free(f->fe, c);
	assert_non_null(vio_vu_fe_alloc(f->fe, MEM_SIZE, 64, NULL));
	assert_null(vio_vu_fe_alloc(f->fe, 64, 3, NULL)); /* alignment not a power of two */
	finish(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_handshake, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_reply_at_connect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_config_reply_is_sticky, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_config_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_without_protocol_feature, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_backend_hangs_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_silent_backend_times_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_num_zero, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_features_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_driver_ok_and_reset_sequence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vring_base_for_another_ring, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vring_base_split, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vring_base_packed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_beyond_backend, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_protocol, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_out_of_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_allocator, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
