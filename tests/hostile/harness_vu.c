/* SPDX-License-Identifier: BSD-3-Clause */
/* The hostile harness: a raw vhost-user front-end, and setting up a device with it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

/* ------------------------------------------------------------------ */
/* Messages                                                            */

struct conn *conn_open(void)
{
	struct timeval tv = { .tv_sec = G.timeout_ms / 1000, .tv_usec = (G.timeout_ms % 1000) * 1000 };
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct conn *c = NULL;
	int64_t end = now_ms() + G.timeout_ms;

	/* The daemon serves one front-end at a time: a new one replaces the old. */
	for (int i = 0; i < MAX_CONNS; i++)
		conn_close(&G.conns[i]);
	c = &G.conns[0];
	memset(c, 0, sizeof(*c));
	for (int i = 0; i < NQ; i++) {
		c->q[i].c = c;
		c->q[i].index = (uint16_t)i;
		c->q[i].kick = c->q[i].call = c->q[i].err = -1;
	}
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", G.sock);
	for (;;) {
		c->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		CHECK(c->sock >= 0, "socket: %s", strerror(errno));
		if (!connect(c->sock, (struct sockaddr *)&a, sizeof(a)))
			break;
		close(c->sock);
		CHECK(now_ms() < end, "cannot connect to the daemon: %s", strerror(errno));
		sleep_ms(5);
	}
	setsockopt(c->sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	c->open = true;
	return c;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void conn_close(struct conn *c)
{
	if (!c->open)
		return;
	close_fd(&c->sock);
	for (int i = 0; i < NQ; i++) {
		close_fd(&c->q[i].kick);
		close_fd(&c->q[i].call);
		close_fd(&c->q[i].err);
	}
	c->open = false;
}

int msg_send(struct conn *c, uint32_t req, uint32_t flags, const void *payload, uint32_t size,
	     const int *fds, unsigned nfds)
{
	struct vhost_user_header h = { req, flags, size };

	return vu_msg_send(c->sock, &h, payload, fds, nfds);
}

int raw_send(struct conn *c, const void *buf, size_t len, const int *fds, unsigned nfds)
{
	char control[CMSG_SPACE(16 * sizeof(int))];
	struct iovec iov = { (void *)buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (nfds > 16)
		return -EINVAL;
	if (nfds) {
		struct cmsghdr *cm;

		memset(control, 0, sizeof(control));
		mh.msg_control = control;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, nfds * sizeof(int));
	}
	return sendmsg(c->sock, &mh, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -errno;
}

int msg_recv(struct conn *c, struct vu_msg *m, int ms)
{
	struct pollfd p = { c->sock, POLLIN, 0 };
	int r;

	do {
		r = poll(&p, 1, ms);
	} while (r < 0 && errno == EINTR);
	if (r == 0)
		return -ETIMEDOUT;
	return vu_msg_recv(c->sock, m);
}

/* Receives the reply to @req: request echoed, REPLY flag, @size bytes (or any if -1). */
static int reply(struct conn *c, uint32_t req, struct vu_msg *m, int64_t size)
{
	int r = msg_recv(c, m, G.timeout_ms);

	if (r == -ETIMEDOUT)
		FAIL("no reply to %s within %d ms", vio_vhost_user_request_name(req), G.timeout_ms);
	if (r)
		return r;
	CHECK(m->hdr.request == req && (m->hdr.flags & VHOST_USER_REPLY_MASK) &&
	      (size < 0 || m->hdr.size == size),
	      "bad reply to %s: request %u, flags 0x%x, size %u", vio_vhost_user_request_name(req),
	      m->hdr.request, m->hdr.flags, m->hdr.size);
	return 0;
}

int64_t msg_ack(struct conn *c, uint32_t req, const void *payload, uint32_t size,
		const int *fds, unsigned nfds)
{
	struct vu_msg m;
	int r = msg_send(c, req, VHOST_USER_VERSION | VHOST_USER_NEED_REPLY_MASK, payload, size,
			 fds, nfds);

	if (r)
		return r;
	r = reply(c, req, &m, 8);
	if (r)
		return r;
	vu_msg_close_fds(&m);
	return m.payload.u64 ? 1 : 0;
}

uint64_t get_u64(struct conn *c, uint32_t req)
{
	struct vu_msg m;
	int r = msg_send(c, req, VHOST_USER_VERSION, NULL, 0, NULL, 0);

	CHECK(!r, "sending %s: %s", vio_vhost_user_request_name(req), strerror(-r));
	r = reply(c, req, &m, 8);
	CHECK(!r, "%s: connection %s", vio_vhost_user_request_name(req),
	      r == -ECONNRESET ? "closed by the daemon" : strerror(-r));
	CHECK(m.nfds == 0, "%s reply with %u fds", vio_vhost_user_request_name(req), m.nfds);
	return m.payload.u64;
}

void expect_alive(struct conn *c)
{
	(void)get_u64(c, VHOST_USER_GET_FEATURES);
}

void send_ok(struct conn *c, uint32_t req, const void *payload, uint32_t size, const int *fds,
	     unsigned nfds)
{
	int64_t r;

	if (c->protocol & VIO_BIT(VHOST_USER_PROTOCOL_F_REPLY_ACK)) {
		r = msg_ack(c, req, payload, size, fds, nfds);
		CHECK(r == 0, "%s %s", vio_vhost_user_request_name(req),
		      r > 0 ? "refused (REPLY_ACK non-zero)" :
		      r == -ECONNRESET ? "made the daemon drop the connection" : strerror((int)-r));
		return;
	}
	r = msg_send(c, req, VHOST_USER_VERSION, payload, size, fds, nfds);
	CHECK(!r, "sending %s: %s", vio_vhost_user_request_name(req), strerror((int)-r));
	expect_alive(c);
}

void ack_refused(struct conn *c, uint32_t req, const void *payload, uint32_t size,
		 const int *fds, unsigned nfds)
{
	int64_t r = msg_ack(c, req, payload, size, fds, nfds);

	CHECK(r != 0, "%s was accepted; it must be refused", vio_vhost_user_request_name(req));
	CHECK(r > 0, "%s: the daemon %s instead of refusing it with REPLY_ACK",
	      vio_vhost_user_request_name(req),
	      r == -ECONNRESET ? "dropped the connection" : "failed");
	expect_alive(c);
}

void send_u64_ok(struct conn *c, uint32_t req, uint64_t v)
{
	send_ok(c, req, &v, 8, NULL, 0);
}

void send_state_ok(struct conn *c, uint32_t req, uint32_t index, uint32_t num)
{
	struct vhost_vring_state s = { index, num };

	send_ok(c, req, &s, sizeof(s), NULL, 0);
}

void expect_drop(struct conn *c, const char *what)
{
	int64_t end = now_ms() + G.timeout_ms;
	char buf[256];

	for (;;) {
		struct pollfd p = { c->sock, POLLIN, 0 };
		int left = (int)(end - now_ms());
		ssize_t n;

		if (left <= 0 || poll(&p, 1, left) == 0)
			FAIL("%s: the daemon did not drop the connection", what);
		n = recv(c->sock, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			break;
		if (n > 0) {
			uint32_t req;

			memcpy(&req, buf, 4);
			FAIL("%s: the daemon answered (%s) instead of dropping the connection", what,
			     n >= 4 ? vio_vhost_user_request_name(req) : "bytes");
		}
	}
	conn_close(c);
}

/* ------------------------------------------------------------------ */
/* Setting up a device                                                 */

void conn_handshake(struct conn *c, uint64_t features, uint64_t protocol)
{
	uint64_t offered = get_u64(c, VHOST_USER_GET_FEATURES), pofs;
	int r;

	CHECK(offered & VIO_BIT(VHOST_USER_F_PROTOCOL_FEATURES),
	      "GET_FEATURES 0x%llx without VHOST_USER_F_PROTOCOL_FEATURES", (unsigned long long)offered);
	pofs = get_u64(c, VHOST_USER_GET_PROTOCOL_FEATURES);
	c->protocol = protocol & pofs;
	r = msg_send(c, VHOST_USER_SET_PROTOCOL_FEATURES, VHOST_USER_VERSION, &c->protocol, 8, NULL, 0);
	CHECK(!r, "SET_PROTOCOL_FEATURES: %s", strerror(-r));
	if (c->protocol & VIO_BIT(VHOST_USER_PROTOCOL_F_MQ))
		CHECK(get_u64(c, VHOST_USER_GET_QUEUE_NUM) == NQ, "GET_QUEUE_NUM is not %d", NQ);
	send_ok(c, VHOST_USER_SET_OWNER, NULL, 0, NULL, 0);
	send_u64_ok(c, VHOST_USER_SET_FEATURES, features);
	c->features = features;
}

void conn_mem_table(struct conn *c)
{
	struct vhost_user_memory t;
	int fds[NREG];

	mem_table(&t, fds);
	send_ok(c, VHOST_USER_SET_MEM_TABLE, &t, 8 + NREG * sizeof(t.regions[0]), fds, NREG);
}

static int new_eventfd(void)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	CHECK(fd >= 0, "eventfd: %s", strerror(errno));
	return fd;
}

void q_alloc(struct conn *c, int qi, bool packed, uint32_t num)
{
	struct hq *q = &c->q[qi];

	CHECK(num >= 1 && num <= 1024, "harness: queue size %u", num);
	q->packed = packed;
	q->num = num;
	if (packed) {
		q->desc = galloc(16ull * num, 16);
		q->avail = galloc(4, 4);
		q->used = galloc(4, 4);
		gfill(q->desc, 0, 16ull * num);
		gfill(q->avail, 0, 4);
		gfill(q->used, 0, 4);
		gallow(q->desc, 16ull * num); /* used descriptors */
		gallow(q->used, 4);          /* device event suppression */
	} else {
		q->desc = galloc(16ull * num, 16);
		q->avail = galloc(6 + 2ull * num, 2);
		q->used = galloc(6 + 8ull * num, 4);
		gfill(q->desc, 0, 16ull * num);
		gfill(q->avail, 0, 6 + 2ull * num);
		gfill(q->used, 0, 6 + 8ull * num);
		gallow(q->used, 6 + 8ull * num);
	}
	q->avail_idx = q->last_used = q->next_desc = 0;
	q->pa = q->pu = 0;
	q->pa_wrap = q->pu_wrap = true;
	q->next_id = 0;
	memset(q->plen, 0, sizeof(q->plen));
	close_fd(&q->kick);
	close_fd(&q->call);
	close_fd(&q->err);
	q->kick = new_eventfd();
	q->call = new_eventfd();
	q->err = new_eventfd();
}

void send_vring_fd(struct conn *c, uint32_t req, int qi, int fd)
{
	uint64_t v = (uint64_t)qi | (fd < 0 ? VHOST_USER_VRING_NOFD_MASK : 0);

	send_ok(c, req, &v, 8, fd < 0 ? NULL : &fd, fd < 0 ? 0 : 1);
}

void q_start(struct conn *c, int qi, uint32_t base)
{
	struct hq *q = &c->q[qi];
	struct vhost_vring_addr a = {
		.index = (uint32_t)qi, .desc_user_addr = guva(q->desc),
		.used_user_addr = guva(q->used), .avail_user_addr = guva(q->avail),
	};

	send_state_ok(c, VHOST_USER_SET_VRING_NUM, (uint32_t)qi, q->num);
	send_state_ok(c, VHOST_USER_SET_VRING_BASE, (uint32_t)qi, base);
	send_ok(c, VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0);
	send_vring_fd(c, VHOST_USER_SET_VRING_CALL, qi, q->call);
	send_vring_fd(c, VHOST_USER_SET_VRING_ERR, qi, q->err);
	send_vring_fd(c, VHOST_USER_SET_VRING_KICK, qi, q->kick);
	if (c->features & VIO_BIT(VHOST_USER_F_PROTOCOL_FEATURES))
		send_state_ok(c, VHOST_USER_SET_VRING_ENABLE, (uint32_t)qi, 1);
	q->set_up = true;
}

void q_setup(struct conn *c, int qi, bool packed, uint32_t num)
{
	q_alloc(c, qi, packed, num);
	q_start(c, qi, packed ? 0x80008000u : 0);
}

struct conn *std_conn_f(uint64_t features, bool packed, uint32_t num)
{
	struct conn *c = conn_open();

	if (packed)
		features |= VIO_BIT(VIRTIO_F_RING_PACKED);
	conn_handshake(c, features, P_STD);
	conn_mem_table(c);
	for (int i = 0; i < NQ; i++)
		q_setup(c, i, packed, num);
	return c;
}

struct conn *std_conn(bool packed, uint32_t num)
{
	return std_conn_f(F_STD, packed, num);
}

uint32_t q_stop(struct conn *c, int qi)
{
	struct vhost_vring_state s = { (uint32_t)qi, 0 };
	struct vu_msg m;
	int r = msg_send(c, VHOST_USER_GET_VRING_BASE, VHOST_USER_VERSION, &s, sizeof(s), NULL, 0);

	CHECK(!r, "GET_VRING_BASE: %s", strerror(-r));
	r = reply(c, VHOST_USER_GET_VRING_BASE, &m, sizeof(s));
	CHECK(!r, "GET_VRING_BASE: %s", r == -ECONNRESET ? "connection dropped" : strerror(-r));
	CHECK(m.payload.state.index == (uint32_t)qi, "GET_VRING_BASE reply for queue %u",
	      m.payload.state.index);
	c->q[qi].set_up = false;
	return m.payload.state.num;
}

void q_reset_restart(struct conn *c, int qi)
{
	struct hq *q = &c->q[qi];

	(void)q_stop(c, qi);
	q_alloc(c, qi, q->packed, q->num);
	q_start(c, qi, q->packed ? 0x80008000u : 0);
	health(c, qi);
}
