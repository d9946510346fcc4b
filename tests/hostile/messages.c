/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Hostile front-end, message level (QEMU docs/interop/vhost-user.rst and
 * DESIGN.md §4 "Every vhost-user message is checked before dispatch").
 * docs/errors.md gives the policy: a malformed message (size, fds, vring
 * index, state) makes the daemon drop the connection; a well-formed request
 * that cannot be carried out is refused (REPLY_ACK non-zero) and the
 * connection goes on; a ring that cannot be used breaks that queue (error
 * eventfd).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "messages.h"

struct conn *handshaken(void)
{
	struct conn *c = conn_open();

	conn_handshake(c, F_STD, P_STD);
	return c;
}

struct conn *with_mem(void)
{
	struct conn *c = handshaken();

	conn_mem_table(c);
	return c;
}

void drop_after(struct conn *c, uint32_t req, uint32_t flags, const void *p, uint32_t size,
		const int *fds, unsigned nfds, const char *what)
{
	int r = msg_send(c, req, flags, p, size, fds, nfds);

	CHECK(!r || r == -EPIPE || r == -ECONNRESET, "%s: send: %s", what, strerror(-r));
	expect_drop(c, what);
}

void drop_u64(struct conn *c, uint32_t req, uint64_t v, const int *fds, unsigned nfds,
	      const char *what)
{
	drop_after(c, req, V, &v, 8, fds, nfds, what);
}

static void drop_state(struct conn *c, uint32_t req, uint32_t index, uint32_t num, const char *what)
{
	struct vhost_vring_state s = { index, num };

	drop_after(c, req, V, &s, sizeof(s), NULL, 0, what);
}

int efd(void)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	CHECK(fd >= 0, "eventfd");
	return fd;
}

/* ---- sizes, versions, unknown requests ("Message Specification") ---- */

static void payload_of_the_wrong_size(void)
{
	static const struct {
		uint32_t req, size;
	} bad[] = {
		{ VHOST_USER_SET_FEATURES, 4 },       { VHOST_USER_SET_FEATURES, 16 },
		{ VHOST_USER_GET_FEATURES, 8 },       { VHOST_USER_SET_OWNER, 8 },
		{ VHOST_USER_SET_VRING_NUM, 4 },      { VHOST_USER_SET_VRING_NUM, 12 },
		{ VHOST_USER_SET_VRING_ADDR, 8 },     { VHOST_USER_SET_VRING_ADDR, 48 },
		{ VHOST_USER_GET_VRING_BASE, 0 },     { VHOST_USER_SET_MEM_TABLE, 4 },
		{ VHOST_USER_SET_PROTOCOL_FEATURES, 0 }, { VHOST_USER_GET_CONFIG, 8 },
		{ VHOST_USER_GET_INFLIGHT_FD, 16 },   { VHOST_USER_REM_MEM_REG, 32 },
	};
	uint8_t zero[64] = { 0 };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct conn *c = handshaken();
		char what[96];

		snprintf(what, sizeof(what), "%s with %u bytes", vio_vhost_user_request_name(bad[i].req),
			 bad[i].size);
		drop_after(c, bad[i].req, V, zero, bad[i].size, NULL, 0, what);
	}
}

/* The size field says 64 KiB: refused before anything more is read. */
static void payload_larger_than_any_message(void)
{
	struct conn *c = conn_open();
	struct vhost_user_header h = { VHOST_USER_GET_FEATURES, V, 65536 };

	CHECK(!raw_send(c, &h, sizeof(h), NULL, 0), "send");
	expect_drop(c, "a 64 KiB payload announced");
	c = conn_open();
	h.size = UINT32_MAX;
	CHECK(!raw_send(c, &h, sizeof(h), NULL, 0), "send");
	expect_drop(c, "a 4 GiB payload announced");
}

static void wrong_protocol_version(void)
{
	static const uint32_t flags[] = { 0, 2, 3, VHOST_USER_REPLY_MASK };

	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		drop_after(conn_open(), VHOST_USER_GET_FEATURES, flags[i], NULL, 0, NULL, 0,
			   "wrong version bits");
}

static void unknown_and_unsupported_requests(void)
{
	static const uint32_t reqs[] = { VHOST_USER_NONE, VHOST_USER_SET_LOG_BASE, VHOST_USER_SET_LOG_FD,
					 VHOST_USER_SEND_RARP, VHOST_USER_IOTLB_MSG,
					 VHOST_USER_SET_VRING_ENDIAN, VHOST_USER_POSTCOPY_ADVISE,
					 VHOST_USER_VRING_KICK, VHOST_USER_SET_STATUS,
					 VHOST_USER_CHECK_DEVICE_STATE, VHOST_USER_MAX_REQUEST, 1000,
					 UINT32_MAX };

	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		uint64_t v = 0;
		char what[64];

		snprintf(what, sizeof(what), "request %u", reqs[i]);
		drop_after(handshaken(), reqs[i], V, &v, 8, NULL, 0, what);
	}
}

/* A request that has its own reply is answered once, with no extra REPLY_ACK. */
static void need_reply_on_a_request_with_its_own_reply(void)
{
	struct conn *c = handshaken();
	struct vu_msg m;
	struct pollfd p = { c->sock, POLLIN, 0 };

	CHECK(!msg_send(c, VHOST_USER_GET_FEATURES, V | NEED_REPLY, NULL, 0, NULL, 0), "send");
	CHECK(!msg_recv(c, &m, wait_ms()) && m.hdr.request == VHOST_USER_GET_FEATURES &&
	      m.hdr.size == 8, "no GET_FEATURES reply");
	CHECK(poll(&p, 1, 100) == 0, "a second reply came for one GET_FEATURES");
	expect_alive(c);
}

/* NEED_REPLY without REPLY_ACK negotiated: no reply ("Communication", REPLY_ACK). */
static void need_reply_without_reply_ack_is_not_answered(void)
{
	struct conn *c = conn_open();
	struct pollfd p = { 0, POLLIN, 0 };
	uint64_t f = F_STD;

	conn_handshake(c, F_STD, VIO_BIT(VHOST_USER_PROTOCOL_F_MQ));
	CHECK(!msg_send(c, VHOST_USER_SET_OWNER, V | NEED_REPLY, NULL, 0, NULL, 0), "send");
	CHECK(!msg_send(c, VHOST_USER_SET_FEATURES, V | NEED_REPLY, &f, 8, NULL, 0), "send");
	p.fd = c->sock;
	CHECK(poll(&p, 1, 100) == 0, "a reply came without REPLY_ACK negotiated");
	expect_alive(c);
}

/* ---- file descriptors ("fds exactly as expected, extras closed") ---- */

static void extra_fd_on_get_features(void)
{
	struct conn *c = handshaken();
	int fd = efd();

	drop_after(c, VHOST_USER_GET_FEATURES, V, NULL, 0, &fd, 1, "GET_FEATURES with an fd");
	close(fd);
}

static void sixteen_fds_on_one_message(void)
{
	struct conn *c = handshaken();
	struct vhost_user_memory t;
	int fds[16];
	uint8_t buf[12 + 8 + 3 * 32];
	struct vhost_user_header h = { VHOST_USER_SET_MEM_TABLE, V, 8 + 3 * 32 };

	mem_table(&t, fds);
	for (int i = 0; i < 16; i++)
		fds[i] = mem_fd();
	memcpy(buf, &h, 12);
	memcpy(buf + 12, &t, 8 + 3 * 32);
	CHECK(!raw_send(c, buf, sizeof(buf), fds, 16), "send");
	expect_drop(c, "SET_MEM_TABLE with 16 fds");
}

static void vring_kick_without_fd_and_without_the_nofd_bit(void)
{
	drop_u64(with_mem(), VHOST_USER_SET_VRING_KICK, 0, NULL, 0, "SET_VRING_KICK without fd");
	drop_u64(with_mem(), VHOST_USER_SET_VRING_CALL, 1, NULL, 0, "SET_VRING_CALL without fd");
	drop_u64(with_mem(), VHOST_USER_SET_VRING_ERR, 0, NULL, 0, "SET_VRING_ERR without fd");
}

static void vring_call_with_the_nofd_bit_and_an_fd(void)
{
	int fd = efd();

	drop_u64(with_mem(), VHOST_USER_SET_VRING_CALL, VHOST_USER_VRING_NOFD_MASK, &fd, 1,
		 "SET_VRING_CALL with the no-fd bit and an fd");
	drop_u64(with_mem(), VHOST_USER_SET_VRING_KICK, 0, (int[]){ fd, fd }, 2,
		 "SET_VRING_KICK with two fds");
	close(fd);
}

static void vring_fd_message_with_reserved_bits(void)
{
	int fd = efd();

	drop_u64(with_mem(), VHOST_USER_SET_VRING_CALL, 0x200, &fd, 1, "SET_VRING_CALL bit 9 set");
	drop_u64(with_mem(), VHOST_USER_SET_VRING_KICK, 1ull << 63, &fd, 1, "SET_VRING_KICK bit 63");
	close(fd);
}

static void mem_table_fd_count_not_matching_regions(void)
{
	struct vhost_user_memory t;
	int fds[NREG + 1];
	uint32_t size = 8 + NREG * sizeof(t.regions[0]);

	mem_table(&t, fds);
	fds[NREG] = mem_fd();
	drop_after(handshaken(), VHOST_USER_SET_MEM_TABLE, V, &t, size, fds, NREG - 1,
		   "three regions, two fds");
	drop_after(handshaken(), VHOST_USER_SET_MEM_TABLE, V, &t, size, fds, NREG + 1,
		   "three regions, four fds");
	drop_after(handshaken(), VHOST_USER_SET_MEM_TABLE, V, &t, size - 32, fds, NREG - 1,
		   "nregions 3 with the payload of two");
	t.nregions = 2;
	drop_after(handshaken(), VHOST_USER_SET_MEM_TABLE, V, &t, size, fds, NREG,
		   "nregions 2 with the payload of three");
}

static void add_mem_reg_with_zero_or_two_fds(void)
{
	struct vhost_user_mem_reg r = { 0, { R0_GPA, 4096, 0x1000, 0 } };
	int fds[2] = { mem_fd(), mem_fd() };

	drop_after(handshaken(), VHOST_USER_ADD_MEM_REG, V, &r, sizeof(r), NULL, 0, "ADD_MEM_REG, no fd");
	drop_after(handshaken(), VHOST_USER_ADD_MEM_REG, V, &r, sizeof(r), fds, 2, "ADD_MEM_REG, two fds");
}

/* ---- vring indices ("vring index below the number of queues") ---- */

static void vring_index_out_of_range(void)
{
	struct vhost_vring_addr a = { .index = NQ };
	int fd = efd();

	drop_state(handshaken(), VHOST_USER_SET_VRING_NUM, NQ, QSIZE, "SET_VRING_NUM queue 2");
	drop_state(handshaken(), VHOST_USER_SET_VRING_BASE, 255, 0, "SET_VRING_BASE queue 255");
	drop_state(handshaken(), VHOST_USER_GET_VRING_BASE, NQ, 0, "GET_VRING_BASE queue 2");
	drop_state(handshaken(), VHOST_USER_SET_VRING_ENABLE, 0x10000, 1, "SET_VRING_ENABLE queue 65536");
	drop_state(handshaken(), VHOST_USER_SET_VRING_NUM, UINT32_MAX, QSIZE, "SET_VRING_NUM queue 2^32-1");
	drop_after(with_mem(), VHOST_USER_SET_VRING_ADDR, V, &a, sizeof(a), NULL, 0,
		   "SET_VRING_ADDR queue 2");
	a.index = UINT32_MAX;
	drop_after(with_mem(), VHOST_USER_SET_VRING_ADDR, V, &a, sizeof(a), NULL, 0,
		   "SET_VRING_ADDR queue 2^32-1");
	drop_u64(with_mem(), VHOST_USER_SET_VRING_KICK, 255, &fd, 1, "SET_VRING_KICK queue 255");
	drop_u64(with_mem(), VHOST_USER_SET_VRING_CALL, NQ, &fd, 1, "SET_VRING_CALL queue 2");
	drop_u64(with_mem(), VHOST_USER_SET_VRING_ERR, NQ | VHOST_USER_VRING_NOFD_MASK, NULL, 0,
		 "SET_VRING_ERR queue 2");
	close(fd);
}

/* ---- order and state ---- */

static void ring_addresses_before_the_memory_table(void)
{
	struct conn *c = handshaken();
	struct vhost_vring_addr a = { 0, 0, guva(R0_GPA), guva(R0_GPA + 4096), guva(R0_GPA + 8192), 0 };

	send_state_ok(c, VHOST_USER_SET_VRING_NUM, 0, QSIZE);
	drop_after(c, VHOST_USER_SET_VRING_ADDR, V, &a, sizeof(a), NULL, 0,
		   "SET_VRING_ADDR before SET_MEM_TABLE");
}

static void kick_before_the_features(void)
{
	struct conn *c = conn_open();
	uint64_t p = P_STD;
	int fd = efd();

	(void)get_u64(c, VHOST_USER_GET_FEATURES);
	CHECK(!msg_send(c, VHOST_USER_SET_PROTOCOL_FEATURES, V, &p, 8, NULL, 0), "send");
	c->protocol = P_STD;
	conn_mem_table(c);
	q_alloc(c, 0, false, QSIZE);
	drop_u64(c, VHOST_USER_SET_VRING_KICK, 0, &fd, 1, "SET_VRING_KICK before SET_FEATURES");
	/* And before the memory table, with the features set. */
	c = handshaken();
	drop_u64(c, VHOST_USER_SET_VRING_KICK, 0, &fd, 1, "SET_VRING_KICK before SET_MEM_TABLE");
	close(fd);
}

/* "Ring states": NUM, ADDR and BASE only while the ring is stopped. */
static void ring_changed_while_started(void)
{
	struct conn *c = std_conn(false, QSIZE);
	struct vhost_vring_addr a = { 0, 0, guva(c->q[0].desc), guva(c->q[0].used),
				      guva(c->q[0].avail), 0 };

	drop_state(c, VHOST_USER_SET_VRING_NUM, 0, 8, "SET_VRING_NUM on a started ring");
	c = std_conn(false, QSIZE);
	drop_state(c, VHOST_USER_SET_VRING_BASE, 1, 0, "SET_VRING_BASE on a started ring");
	c = std_conn(false, QSIZE);
	a.index = 0;
	drop_after(c, VHOST_USER_SET_VRING_ADDR, V, &a, sizeof(a), NULL, 0,
		   "SET_VRING_ADDR on a started ring");
}

/* Protocol-feature messages without the feature negotiated. */
static void messages_of_protocol_features_not_negotiated(void)
{
	struct vhost_user_config cfg = { 0, 8, 0, { 0 } };
	struct vhost_user_mem_reg r = { 0, { R0_GPA, 4096, guva(R0_GPA), 0 } };
	struct vhost_user_inflight in = { 0, 0, NQ, QSIZE };
	int fd = mem_fd();
	struct conn *c;

#define ONLY_ACK(c) do { c = conn_open(); conn_handshake(c, F_STD, VIO_BIT(VHOST_USER_PROTOCOL_F_REPLY_ACK)); } while (0)
	ONLY_ACK(c);
	drop_after(c, VHOST_USER_GET_CONFIG, V, &cfg, 12 + 8, NULL, 0, "GET_CONFIG without CONFIG");
	ONLY_ACK(c);
	drop_after(c, VHOST_USER_ADD_MEM_REG, V, &r, sizeof(r), &fd, 1,
		   "ADD_MEM_REG without CONFIGURE_MEM_SLOTS");
	ONLY_ACK(c);
	drop_after(c, VHOST_USER_GET_INFLIGHT_FD, V, &in, sizeof(in), NULL, 0,
		   "GET_INFLIGHT_FD without INFLIGHT_SHMFD");
	ONLY_ACK(c);
	drop_after(c, VHOST_USER_RESET_DEVICE, V, NULL, 0, NULL, 0, "RESET_DEVICE without RESET_DEVICE");
	ONLY_ACK(c);
	drop_after(c, VHOST_USER_GET_MAX_MEM_SLOTS, V, NULL, 0, NULL, 0,
		   "GET_MAX_MEM_SLOTS without CONFIGURE_MEM_SLOTS");
#undef ONLY_ACK
}

static void features_never_offered_or_without_version_1(void)
{
	struct conn *c = conn_open();
	uint64_t f;

	conn_handshake(c, F_STD, P_STD);
	f = F_STD | VIO_BIT(VIRTIO_F_ACCESS_PLATFORM) | VIO_BIT(60);
	ack_refused(c, VHOST_USER_SET_FEATURES, &f, 8, NULL, 0);
	f = F_STD & ~VIO_BIT(VIRTIO_F_VERSION_1);
	ack_refused(c, VHOST_USER_SET_FEATURES, &f, 8, NULL, 0);
	/* The refusals leave no features set: a kick is now out of order. */
	conn_mem_table(c);
	q_alloc(c, 0, false, QSIZE);
	drop_u64(c, VHOST_USER_SET_VRING_KICK, 0, &c->q[0].kick, 1, "kick after refused features");
}

/* ---- messages repeated ("a repeated message frees what the previous one set up") ---- */

static void mem_table_repeated_while_running(void)
{
	struct conn *c = std_conn(false, QSIZE);

	for (int i = 0; i < 5; i++) {
		conn_mem_table(c);
		health(c, i % NQ);
	}
	CHECK(daemon_memfd_maps() == NREG, "the daemon maps %d memfd ranges, %d expected",
	      daemon_memfd_maps(), NREG);
}

static void vring_fds_replaced_many_times(void)
{
	struct conn *c = std_conn(false, QSIZE);

	for (int k = 0; k < 30; k++)
		for (int i = 0; i < NQ; i++) {
			struct hq *q = &c->q[i];
			int n[3] = { efd(), efd(), efd() };

			send_vring_fd(c, VHOST_USER_SET_VRING_CALL, i, n[0]);
			send_vring_fd(c, VHOST_USER_SET_VRING_ERR, i, n[1]);
			send_vring_fd(c, VHOST_USER_SET_VRING_KICK, i, n[2]);
			close(q->call);
			close(q->err);
			close(q->kick);
			q->call = n[0];
			q->err = n[1];
			q->kick = n[2];
		}
	/* And once without fds (polling mode, "invalid FD flag"), then back. */
	send_vring_fd(c, VHOST_USER_SET_VRING_KICK, 0, -1);
	health(c, 0);
	send_vring_fd(c, VHOST_USER_SET_VRING_KICK, 0, c->q[0].kick);
	health(c, 0);
	health(c, 1);
}

static void features_and_owner_repeated_while_running(void)
{
	struct conn *c = std_conn(false, QSIZE);

	for (int i = 0; i < 3; i++) {
		send_u64_ok(c, VHOST_USER_SET_FEATURES, F_STD);
		send_ok(c, VHOST_USER_SET_OWNER, NULL, 0, NULL, 0);
		send_ok(c, VHOST_USER_RESET_OWNER, NULL, 0, NULL, 0);
		for (int q = 0; q < NQ; q++)
			send_state_ok(c, VHOST_USER_SET_VRING_ENABLE, (uint32_t)q, 1);
		health(c, i % NQ);
	}
	/* Without EVENT_IDX now, the rings restart with the other suppression scheme. */
	send_u64_ok(c, VHOST_USER_SET_FEATURES, F_STD & ~VIO_BIT(VIRTIO_F_EVENT_IDX));
	health(c, 0);
}

/* Re-asking for the inflight region releases the previous one. */
static void get_inflight_fd_repeated(void)
{
	struct conn *c = handshaken();

	conn_mem_table(c);
	for (int i = 0; i < 10; i++) {
		struct vhost_user_inflight in = { 0, 0, NQ, QSIZE };
		struct vu_msg m;

		CHECK(!msg_send(c, VHOST_USER_GET_INFLIGHT_FD, V, &in, sizeof(in), NULL, 0), "send");
		CHECK(!msg_recv(c, &m, wait_ms()) && m.hdr.request == VHOST_USER_GET_INFLIGHT_FD &&
		      m.hdr.size == sizeof(in) && m.nfds == 1, "bad GET_INFLIGHT_FD reply");
		vu_msg_close_fds(&m);
	}
	expect_alive(c); /* the reply goes out before the old region is released */
	CHECK(daemon_memfd_maps() == NREG + 1, "the daemon maps %d memfd ranges, %d expected",
	      daemon_memfd_maps(), NREG + 1);
	for (int i = 0; i < NQ; i++)
		q_setup(c, i, false, QSIZE);
	health(c, 0);
}

/* ---- connections dropped or stalled mid-message ---- */

static void peer_closes_mid_header(void)
{
	struct conn *c = conn_open();
	struct vhost_user_header h = { VHOST_USER_GET_FEATURES, V, 0 };

	CHECK(!raw_send(c, &h, 6, NULL, 0), "send");
	conn_close(c);
}

static void peer_closes_mid_payload_with_fds_in_flight(void)
{
	struct conn *c = handshaken();
	struct vhost_user_memory t;
	int fds[NREG];
	uint8_t buf[12 + 40];
	struct vhost_user_header h = { VHOST_USER_SET_MEM_TABLE, V, 8 + NREG * 32 };

	mem_table(&t, fds);
	memcpy(buf, &h, 12);
	memcpy(buf + 12, &t, 40);
	CHECK(!raw_send(c, buf, sizeof(buf), fds, NREG), "send");
	conn_close(c);
	/* A header announcing a payload, and nothing more. */
	c = handshaken();
	h = (struct vhost_user_header){ VHOST_USER_SET_FEATURES, V, 8 };
	CHECK(!raw_send(c, &h, sizeof(h), NULL, 0), "send");
	conn_close(c);
}

/* A front-end that stops half-way must not hold the daemon: dropped within MSG_TIMEOUT (5 s). */
static void peer_stalls_mid_message(void)
{
	struct conn *c = handshaken();
	struct vhost_user_header h = { VHOST_USER_SET_FEATURES, V, 8 };
	struct pollfd p = { c->sock, POLLIN, 0 };

	CHECK(!raw_send(c, &h, sizeof(h), NULL, 0), "send");
	CHECK(poll(&p, 1, 9000) == 1, "still connected after 9 s: the daemon waits forever");
	expect_drop(c, "stalled message");
}

/*
 * A front-end that sends requests and never reads the replies: once the
 * socket buffer is full the daemon cannot answer; it must give up on the
 * connection (SO_SNDTIMEO) instead of serving it forever, half-written
 * replies and all.
 */
static void peer_never_reads_replies(void)
{
	struct conn *c = handshaken();
	struct vhost_user_header h = { VHOST_USER_GET_QUEUE_NUM, V, 0 };
	int64_t sent = 0, total = 0;
	int flags = fcntl(c->sock, F_GETFL), idle = 0;
	char buf[4096];

	CHECK(!fcntl(c->sock, F_SETFL, flags | O_NONBLOCK), "fcntl");
	/* Until our send side is full too: the daemon is blocked answering. */
	while (idle < 10) {
		ssize_t n = send(c->sock, &h, sizeof(h), MSG_NOSIGNAL);

		if (n == (ssize_t)sizeof(h)) {
			sent++;
			idle = 0;
			continue;
		}
		CHECK(n < 0 && errno == EAGAIN, "send: %s", strerror(errno));
		idle++;
		sleep_ms(20);
	}
	note("%lld requests sent before the daemon stopped reading", (long long)sent);
	/* Longer than the daemon's send timeout (5 s), still not reading. */
	sleep_ms(6500);
	CHECK(!fcntl(c->sock, F_SETFL, flags), "fcntl");
	for (;;) {
		struct pollfd p = { c->sock, POLLIN, 0 };
		ssize_t n;

		CHECK(poll(&p, 1, 3000) == 1, "after %lld of %lld replies (%lld bytes) the daemon "
		      "neither answers nor drops the connection", (long long)(total / 20),
		      (long long)sent, (long long)total);
		n = recv(c->sock, buf, sizeof(buf), 0);
		if (n <= 0)
			break;
		total += n;
	}
	CHECK(total % 20 == 0, "a reply was left half-written (%lld bytes)", (long long)total);
	CHECK(total < sent * 20, "all %lld requests were answered after the daemon could not "
	      "send for more than its timeout", (long long)sent);
	conn_close(c);
}

/* ---- config space (GET_CONFIG / SET_CONFIG) ---- */

static void get_config_outside_the_config_space(void)
{
	struct conn *c = handshaken();
	static const uint32_t bad[][2] = { { 0xfffffff8u, 16 }, { 90, 16 }, { 96, 4 }, { 0, 0 } };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vhost_user_config cfg = { bad[i][0], bad[i][1], 0, { 0 } };
		struct vu_msg m;

		CHECK(!msg_send(c, VHOST_USER_GET_CONFIG, V, &cfg, 12 + bad[i][1], NULL, 0), "send");
		CHECK(!msg_recv(c, &m, wait_ms()) && m.hdr.request == VHOST_USER_GET_CONFIG,
		      "no GET_CONFIG reply");
		CHECK(m.hdr.size == 0 || (bad[i][1] == 0 && m.hdr.size == 12),
		      "GET_CONFIG of [%u, +%u) answered with %u bytes", bad[i][0], bad[i][1], m.hdr.size);
	}
	expect_alive(c);
	/* The size field and the payload size disagree: a malformed message. */
	{
		struct vhost_user_config cfg = { 0, 200, 0, { 0 } };

		drop_after(c, VHOST_USER_GET_CONFIG, V, &cfg, 12 + 8, NULL, 0,
			   "GET_CONFIG whose size field disagrees");
	}
	c = handshaken();
	{
		struct vhost_user_config cfg = { 0, 300, 0, { 0 } };

		drop_after(c, VHOST_USER_GET_CONFIG, V, &cfg, 12 + 256, NULL, 0,
			   "GET_CONFIG of 300 bytes");
	}
}

static void set_config_of_a_read_only_config_space(void)
{
	struct conn *c = std_conn(false, QSIZE);
	struct vhost_user_config cfg = { 0, 8, 0, { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } };

	ack_refused(c, VHOST_USER_SET_CONFIG, &cfg, 12 + 8, NULL, 0);
	cfg.offset = 0xfffffffcu;
	ack_refused(c, VHOST_USER_SET_CONFIG, &cfg, 12 + 8, NULL, 0);
	health(c, 0);
}

/* ---- reset ---- */

static void reset_device_while_running_then_set_up_again(void)
{
	struct conn *c = std_conn(false, QSIZE);
	int fd = efd();

	send_ok(c, VHOST_USER_RESET_DEVICE, NULL, 0, NULL, 0);
	/* The device is reset: features and memory forgotten; a kick is out of order... */
	drop_u64(c, VHOST_USER_SET_VRING_KICK, 0, &fd, 1, "SET_VRING_KICK after RESET_DEVICE");
	close(fd);
	/* ...and a full set-up on a new connection after a reset mid-run works. */
	c = std_conn(false, QSIZE);
	send_ok(c, VHOST_USER_RESET_DEVICE, NULL, 0, NULL, 0);
	send_u64_ok(c, VHOST_USER_SET_FEATURES, F_STD);
	conn_mem_table(c);
	for (int i = 0; i < NQ; i++)
		q_setup(c, i, false, QSIZE);
	health(c, 0);
	health(c, 1);
}

static void get_vring_base_of_a_ring_never_started(void)
{
	struct conn *c = with_mem();

	CHECK(q_stop(c, 1) == 0, "base of a ring never started is not 0");
	CHECK(q_stop(c, 1) == 0, "base of a ring never started is not 0");
	for (int i = 0; i < NQ; i++)
		q_setup(c, i, false, QSIZE);
	health(c, 1);
}

/* ---- vring fds of the wrong kind ---- */

/*
 * The call fd is a pipe nobody reads (capacity one page): every used-buffer
 * notification writes 8 bytes into it. A blocking write must not wedge the
 * queue thread (and with it GET_VRING_BASE, disconnect and the whole
 * daemon) once the pipe is full.
 */
static void call_fd_is_a_pipe_nobody_reads(void)
{
	/* Without EVENT_IDX every flush notifies (VIRTIO 1.4 §2.7.7.2). */
	struct conn *c = std_conn_f(F_STD & ~VIO_BIT(VIRTIO_F_EVENT_IDX), false, QSIZE);
	struct hq *q = &c->q[0];
	struct vhost_vring_state s = { 0, 0 };
	struct vu_msg m;
	int p[2], done = 0;

	CHECK(!pipe2(p, O_CLOEXEC), "pipe");
	(void)fcntl(p[1], F_SETPIPE_SZ, 4096);
	send_vring_fd(c, VHOST_USER_SET_VRING_CALL, 0, p[1]);
	close(p[1]);
	/* 4096 / 8 = 512 notifications fill it; try a few more than that. */
	for (int i = 0; i < 600; i++) {
		uint64_t d = galloc(20, 4), st = mk_status();
		struct buf b[3] = { { mk_hdr(VIRTIO_BLK_T_GET_ID, 0), 16, false }, { d, 20, true },
				    { st, 1, true } };
		uint32_t id, len;

		gallow(d, 20);
		post(q, b, 3, DIRECT);
		if (!wait_used(q, &id, &len, 500))
			break;
		done++;
	}
	note("%d requests completed with the call pipe unread", done);
	/* GET_VRING_BASE must come back: the queue thread is not stuck in write(). */
	CHECK(!msg_send(c, VHOST_USER_GET_VRING_BASE, V, &s, sizeof(s), NULL, 0), "send");
	CHECK(!msg_recv(c, &m, wait_ms()),
	      "no GET_VRING_BASE reply after %d requests: the queue thread is stuck writing the "
	      "call fd, and the daemon with it", done);
	CHECK(done == 600, "only %d of 600 requests completed", done);
	close(p[0]);
	health(c, 1);
}

/*
 * The kick fd is a pipe whose write end is closed: always readable, never
 * a kick (DESIGN §4 "Consume or stop; never spin"). The queue thread must
 * not turn that into a busy loop.
 */
static void kick_fd_readable_forever(void)
{
	struct conn *c = std_conn(false, QSIZE);
	int p[2], before, after;

	CHECK(!pipe2(p, O_CLOEXEC), "pipe");
	send_vring_fd(c, VHOST_USER_SET_VRING_KICK, 0, p[0]);
	close(p[0]);
	close(p[1]);
	before = daemon_cpu_ms();
	sleep_ms(1000);
	after = daemon_cpu_ms();
	note("the daemon used %d ms of CPU in 1 s", after - before);
	CHECK(before < 0 || after - before < 300,
	      "the daemon used %d ms of CPU in 1 s with a kick fd at EOF: it spins", after - before);
	(void)q_stop(c, 0);
	health(c, 1);
}

/* A valid table whose region does not start on a page of its file: it is mapped from the page below. */
static void mem_table_with_unaligned_mmap_offsets_is_served(void)
{
	struct conn *c = conn_open();
	struct vhost_user_memory t;
	int fds[NREG + 1];

	conn_handshake(c, F_STD, P_STD);
	mem_table(&t, fds);
	/* R0 in two: [0, 4 KiB + 512) and the rest, at file offset 4 KiB + 512. */
	t.regions[3] = t.regions[0];
	t.regions[0].memory_size = 4096 + 512;
	t.regions[3].guest_phys_addr += 4096 + 512;
	t.regions[3].userspace_addr += 4096 + 512;
	t.regions[3].mmap_offset += 4096 + 512;
	t.regions[3].memory_size -= 4096 + 512;
	fds[3] = mem_fd();
	t.nregions = NREG + 1;
	send_ok(c, VHOST_USER_SET_MEM_TABLE, &t, 8 + (NREG + 1) * 32, fds, NREG + 1);
	/* A buffer across the seam: two iovecs again. */
	(void)galloc(4096 + 256, 16);
	for (int i = 0; i < NQ; i++)
		q_setup(c, i, false, QSIZE);
	health(c, 0);
	health(c, 1);
}

/* REM_MEM_REG "MAY accept messages with one file descriptor ... MUST close it". */
static void rem_mem_reg_with_an_fd(void)
{
	struct conn *c = std_conn(false, QSIZE);
	struct vhost_user_memory t;
	int fds[NREG];
	struct vhost_user_mem_reg r = { 0, { 0 } };

	mem_table(&t, fds);
	r.region = t.regions[2];
	send_ok(c, VHOST_USER_REM_MEM_REG, &r, sizeof(r), fds, 1);
	send_ok(c, VHOST_USER_ADD_MEM_REG, &r, sizeof(r), fds, 1);
	health(c, 0);
	/* (The idle check after the case counts the daemon's fds.) */
}

/* The fds come with the second half of a header split in two sends. */
static void fds_sent_with_the_second_half_of_a_header(void)
{
	struct conn *c = with_mem();
	uint8_t buf[20];
	struct vhost_user_header h = { VHOST_USER_SET_VRING_CALL, V, 8 };
	uint64_t v = 0;
	int fd = efd();

	memcpy(buf, &h, 12);
	memcpy(buf + 12, &v, 8);
	CHECK(!raw_send(c, buf, 6, NULL, 0), "send");
	sleep_ms(50);
	CHECK(!raw_send(c, buf + 6, 14, &fd, 1), "send");
	close(fd);
	/* The fd is not part of the message: SET_VRING_CALL without one is malformed. */
	expect_drop(c, "SET_VRING_CALL whose fd came after the header's first bytes");
}

/*
 * A front-end that sends a message one byte every 2 s: each byte arrives
 * within any per-read timeout, so only a deadline for the whole rest of the
 * message (VU_MSG_REST_MS in src/transport/vhost_user_msg.h) keeps the
 * daemon from staying inside that one message for as long as the
 * front-end likes.
 */
static void peer_sends_a_message_one_byte_at_a_time(void)
{
	struct conn *c = handshaken();
	struct vhost_user_memory t;
	int fds[NREG];
	struct vhost_user_header h = { VHOST_USER_SET_MEM_TABLE, V, 8 + NREG * 32 };
	uint8_t buf[12 + 8 + NREG * 32];
	int64_t waited = 0;

	mem_table(&t, fds);
	memcpy(buf, &h, 12);
	memcpy(buf + 12, &t, sizeof(buf) - 12);
	CHECK(!raw_send(c, buf, 12, fds, NREG), "send");
	for (size_t i = 12; i < sizeof(buf) && waited < 9000; i++) {
		struct pollfd p = { c->sock, POLLIN, 0 };

		if (poll(&p, 1, 2000) == 1)
			break; /* dropped (EOF), or answered */
		waited += 2000;
		if (raw_send(c, buf + i, 1, NULL, 0))
			break;
	}
	expect_drop(c, "a message sent one byte every 2 s, still going after 9 s");
}

/*
 * The front-end shrinks the memfd of a region after the daemon mapped it
 * (the size check at map time cannot see the future); the next access to
 * a request header there raises SIGBUS. vio-blk's SIGBUS guard
 * (vio_vu_sigbus_guard()) maps a zero page over it and drops the front-end.
 */
static void guest_memory_shrunk_after_it_was_mapped(void)
{
	struct conn *c = std_conn(false, QSIZE);
	struct hq *q = &c->q[0];
	int fd = memfd_create("hostile-shrink", MFD_CLOEXEC);
	uint8_t *p;
	struct vhost_user_mem_reg r = { 0, { 0x80000000ull, 65536, 0, 0 } };
	struct virtio_blk_outhdr hdr = { cpu_to_le32(VIRTIO_BLK_T_FLUSH), cpu_to_le32(0), cpu_to_le64(0) };
	uint64_t st = mk_status();
	struct buf b[2] = { { 0x80000000ull, 16, false }, { st, 1, true } };
	uint32_t id, len;

	CHECK(fd >= 0 && !ftruncate(fd, 65536), "memfd");
	p = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED, "mmap");
	r.region.userspace_addr = (uint64_t)(uintptr_t)p;
	memcpy(p, &hdr, sizeof(hdr));
	munmap(p, 65536);
	send_ok(c, VHOST_USER_ADD_MEM_REG, &r, sizeof(r), &fd, 1);
	CHECK(!ftruncate(fd, 0), "ftruncate");
	post(q, b, 2, DIRECT);
	close(fd);
	/* The daemon's SIGBUS guard absorbs the fault and drops this front-end. */
	(void)wait_used(q, &id, &len, 500);
	CHECK(!kill(daemon_pid(), 0), "the daemon is gone");
	expect_drop(c, "guest memory shrunk after it was mapped");
}

const struct hcase msg_cases[] = {
#define C(x) { #x, x }
	C(payload_of_the_wrong_size),
	C(payload_larger_than_any_message),
	C(wrong_protocol_version),
	C(unknown_and_unsupported_requests),
	C(need_reply_on_a_request_with_its_own_reply),
	C(need_reply_without_reply_ack_is_not_answered),
	C(extra_fd_on_get_features),
	C(sixteen_fds_on_one_message),
	C(vring_kick_without_fd_and_without_the_nofd_bit),
	C(vring_call_with_the_nofd_bit_and_an_fd),
	C(vring_fd_message_with_reserved_bits),
	C(mem_table_fd_count_not_matching_regions),
	C(add_mem_reg_with_zero_or_two_fds),
	C(vring_index_out_of_range),
	C(ring_addresses_before_the_memory_table),
	C(kick_before_the_features),
	C(ring_changed_while_started),
	C(messages_of_protocol_features_not_negotiated),
	C(features_never_offered_or_without_version_1),
	C(mem_table_with_overlapping_guest_addresses),
	C(mem_table_with_overlapping_user_addresses),
	C(mem_table_with_overflowing_regions),
	C(mem_table_with_a_region_of_size_0),
	C(mem_table_with_a_region_beyond_its_file),
	C(mem_table_with_a_region_not_backed_by_a_file),
	C(mem_table_with_nine_regions),
	C(mem_table_without_the_rings),
	C(rem_mem_reg_of_the_ring_region),
	C(rem_mem_reg_of_a_region_never_added),
	C(add_mem_reg_overlapping),
	C(add_mem_reg_one_more_than_the_slots),
	C(ring_descriptors_in_the_hole),
	C(ring_used_area_straddling_the_end_of_memory),
	C(ring_available_area_at_user_address_0),
	C(ring_across_two_regions),
	C(ring_descriptor_table_misaligned),
	C(vring_num_invalid),
	C(vring_base_invalid),
	C(vring_addr_with_dirty_logging_and_enable_2),
	C(mem_table_repeated_while_running),
	C(vring_fds_replaced_many_times),
	C(features_and_owner_repeated_while_running),
	C(get_inflight_fd_repeated),
	C(peer_closes_mid_header),
	C(peer_closes_mid_payload_with_fds_in_flight),
	C(peer_stalls_mid_message),
	C(peer_never_reads_replies),
	C(set_inflight_fd_too_small),
	C(set_inflight_fd_file_shorter_than_it_says),
	C(set_inflight_fd_offset_unaligned_or_overflowing),
	C(set_inflight_fd_of_a_bad_shape),
	C(set_inflight_fd_not_a_file),
	C(set_inflight_fd_without_or_with_two_fds),
	C(get_inflight_fd_of_a_bad_shape_is_answered),
	C(inflight_region_all_0xff),
	C(inflight_region_random),
	C(inflight_region_random_entries),
	C(inflight_region_header_lies),
	C(inflight_region_of_a_split_ring_for_a_packed_one),
	C(inflight_region_random_for_a_packed_ring),
	C(inflight_region_for_another_queue_size),
	C(get_config_outside_the_config_space),
	C(set_config_of_a_read_only_config_space),
	C(reset_device_while_running_then_set_up_again),
	C(get_vring_base_of_a_ring_never_started),
	C(call_fd_is_a_pipe_nobody_reads),
	C(kick_fd_readable_forever),
	C(mem_table_with_unaligned_mmap_offsets_is_served),
	C(rem_mem_reg_with_an_fd),
	C(fds_sent_with_the_second_half_of_a_header),
	C(peer_sends_a_message_one_byte_at_a_time),
	C(guest_memory_shrunk_after_it_was_mapped),
#undef C
};
const unsigned msg_cases_n = sizeof(msg_cases) / sizeof(msg_cases[0]);
