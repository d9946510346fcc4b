/* SPDX-License-Identifier: BSD-3-Clause */
/* The vhost-user front-end: connection, checked request/reply exchange, handshake. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vhost_user_fe_impl.h"
#include "vhost_user_msg.h"
#include "vio/log.h"
#include "vio/virtio.h"

/* Protocol features this front-end implements. */
#define SUPPORTED_PROTOCOL                                                            \
	(VIO_BIT(VHOST_USER_PROTOCOL_F_MQ) | VIO_BIT(VHOST_USER_PROTOCOL_F_REPLY_ACK) | \
	 VIO_BIT(VHOST_USER_PROTOCOL_F_CONFIG) | VIO_BIT(VHOST_USER_PROTOCOL_F_STATUS) | \
	 VIO_BIT(VHOST_USER_PROTOCOL_F_RESET_DEVICE))

/* Records the first error that made the connection unusable, and says why. */
int vu_fe_break(struct vio_vu_fe *fe, int err, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	if (fe->error)
		return fe->error;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	vio_err("vhost-user front-end: %s (%s)", why, strerror(-err));
	fe->error = err;
	return err;
}

/* Maps a socket-level errno from vu_msg_send/recv to the connection error. */
static int conn_errno(int r)
{
	switch (r) {
	case -ETIMEDOUT:
	case -EAGAIN:
		return -ETIMEDOUT;
	case -EPROTO:
		return -EPROTO;
	default: /* EOF, EPIPE, ECONNRESET, EIO: the back-end is gone */
		return -ECONNRESET;
	}
}

static int send_msg(struct vio_vu_fe *fe, uint32_t req, uint32_t flags, const void *payload,
		    uint32_t size, const int *fds, unsigned nfds)
{
	struct vhost_user_header h = { req, VHOST_USER_VERSION | flags, size };
	int r;

	if (fe->error)
		return fe->error;
	vio_trace("vhost-user front-end: -> %s (%u bytes, %u fds)",
		  vio_vhost_user_request_name(req), size, nfds);
	r = vu_msg_send(fe->sock, &h, payload, fds, nfds);
	if (r)
		return vu_fe_break(fe, conn_errno(r), "sending %s failed",
				vio_vhost_user_request_name(req));
	return 0;
}

/*
 * Receives the reply to @req into @m and checks its header: request echoed,
 * flags exactly VERSION | REPLY, no fds. The caller checks the size.
 */
static int recv_reply(struct vio_vu_fe *fe, uint32_t req, struct vu_msg *m)
{
	const char *name = vio_vhost_user_request_name(req);
	int r = vu_msg_recv(fe->sock, m);

	if (r == -ECONNRESET)
		return vu_fe_break(fe, r, "the back-end closed the connection instead of answering %s",
				name);
	if (r == -ETIMEDOUT)
		return vu_fe_break(fe, r, "no answer to %s within %d ms", name, fe->timeout_ms);
	if (r)
		return vu_fe_break(fe, conn_errno(r), "malformed reply to %s", name);
	vio_trace("vhost-user front-end: <- %s (%u bytes, %u fds)",
		  vio_vhost_user_request_name(m->hdr.request), m->hdr.size, m->nfds);
	if (m->nfds) {
		vu_msg_close_fds(m);
		return vu_fe_break(fe, -EPROTO, "reply to %s carried file descriptors", name);
	}
	if (m->hdr.request != req)
		return vu_fe_break(fe, -EPROTO, "the back-end answered %s with %s (%u)", name,
				vio_vhost_user_request_name(m->hdr.request), m->hdr.request);
	if (m->hdr.flags != (VHOST_USER_VERSION | VHOST_USER_REPLY_MASK))
		return vu_fe_break(fe, -EPROTO, "reply to %s has flags 0x%x", name, m->hdr.flags);
	return 0;
}

static int recv_exact(struct vio_vu_fe *fe, uint32_t req, void *in, uint32_t in_size)
{
	struct vu_msg m;
	int r = recv_reply(fe, req, &m);

	if (r)
		return r;
	if (m.hdr.size != in_size)
		return vu_fe_break(fe, -EPROTO, "reply to %s has %u payload bytes, expected %u",
				vio_vhost_user_request_name(req), m.hdr.size, in_size);
	memcpy(in, &m.payload, in_size);
	return 0;
}

int vu_fe_call(struct vio_vu_fe *fe, uint32_t req, const void *out, uint32_t out_size,
	       void *in, uint32_t in_size)
{
	int r = send_msg(fe, req, 0, out, out_size, NULL, 0);

	return r ? r : recv_exact(fe, req, in, in_size);
}

int vu_fe_send(struct vio_vu_fe *fe, uint32_t req, const void *payload, uint32_t size,
	       const int *fds, unsigned nfds, bool ack)
{
	bool need_reply = ack && vu_fe_has_protocol(fe, VHOST_USER_PROTOCOL_F_REPLY_ACK);
	uint64_t v;
	int r;

	r = send_msg(fe, req, need_reply ? VHOST_USER_NEED_REPLY_MASK : 0, payload, size, fds,
		     nfds);
	if (r || !need_reply)
		return r;
	r = recv_exact(fe, req, &v, sizeof(v));
	if (r)
		return r;
	/* recv_exact() returned 0: it wrote v. (clang-analyzer does not follow vu_fe_break(),
	 * variadic, so it thinks that may return 0; it returns a negative errno.) */
	/* NOLINTNEXTLINE(clang-analyzer-core.uninitialized.Branch) */
	if (v) {
		vio_err("vhost-user front-end: the back-end refused %s (REPLY_ACK %llu)",
			vio_vhost_user_request_name(req), (unsigned long long)v);
		return -EIO;
	}
	return 0;
}

/* GET_CONFIG: the reply echoes offset and size; an empty payload is the back-end's "no". */
int vu_fe_get_config(struct vio_vu_fe *fe, uint32_t off, void *buf, uint32_t len)
{
	struct vhost_user_config c = { .offset = off, .size = len };
	uint32_t size = VHOST_USER_CONFIG_HDR_SIZE + len;
	struct vu_msg m;
	int r;

	if (!len || len > VHOST_USER_MAX_CONFIG_SIZE)
		return -EINVAL;
	if (!vu_fe_has_protocol(fe, VHOST_USER_PROTOCOL_F_CONFIG)) {
		vio_err("vhost-user front-end: the back-end does not offer "
			"VHOST_USER_PROTOCOL_F_CONFIG: its configuration space cannot be read");
		return -ENOTSUP;
	}
	r = send_msg(fe, VHOST_USER_GET_CONFIG, 0, &c, size, NULL, 0);
	if (!r)
		r = recv_reply(fe, VHOST_USER_GET_CONFIG, &m);
	if (r)
		return r;
	if (m.hdr.size == 0) {
		vio_err("vhost-user front-end: the back-end refused GET_CONFIG of [%u, +%u)", off, len);
		return -EIO;
	}
	if (m.hdr.size != size || m.payload.config.offset != off || m.payload.config.size != len)
		return vu_fe_break(fe, -EPROTO, "GET_CONFIG reply for [%u, +%u) (%u bytes), asked [%u, +%u)",
				m.payload.config.offset, m.payload.config.size, m.hdr.size, off, len);
	memcpy(buf, m.payload.config.region, len);
	return 0;
}

/* ---- connecting ----------------------------------------------------------- */

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* One non-blocking connect attempt; 0, -EAGAIN (backlog full: retry) or -errno. */
static int try_connect(const struct sockaddr_un *sa, int *out)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int r = 0;

	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)))
		r = -errno;
	if (r == -EINPROGRESS) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		socklen_t l = sizeof(r);

		r = poll(&p, 1, 100) == 1 && !getsockopt(fd, SOL_SOCKET, SO_ERROR, &r, &l) ? -r
											: -EAGAIN;
	}
	if (r) {
		close(fd);
		return r;
	}
	*out = fd;
	return 0;
}

static int connect_path(const char *path, int timeout_ms, int *out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	long long deadline = now_ms() + timeout_ms;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	for (;;) {
		int r = try_connect(&sa, out);

		if (r != -EAGAIN)
			return r;
		if (now_ms() >= deadline)
			return -ETIMEDOUT;
		nanosleep(&(struct timespec){ .tv_nsec = 10000000 }, NULL);
	}
}

/* Blocking I/O with a timeout on each send and receive. */
static int set_timeouts(int fd, int timeout_ms)
{
	struct timeval tv = { .tv_sec = timeout_ms / 1000,
			      .tv_usec = (suseconds_t)(timeout_ms % 1000) * 1000 };
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)))
		return -errno;
	return 0;
}

/* GET_PROTOCOL_FEATURES, SET_PROTOCOL_FEATURES, GET_QUEUE_NUM. */
static int negotiate_protocol(struct vio_vu_fe *fe, uint64_t wanted)
{
	uint64_t n;
	int r;

	r = vu_fe_call(fe, VHOST_USER_GET_PROTOCOL_FEATURES, NULL, 0, &fe->protocol_offered, 8);
	if (r)
		return r;
	fe->protocol = fe->protocol_offered & wanted & SUPPORTED_PROTOCOL;
	/* Not acknowledged: REPLY_ACK is only in force once this arrived. */
	r = send_msg(fe, VHOST_USER_SET_PROTOCOL_FEATURES, 0, &fe->protocol, 8, NULL, 0);
	if (r || !vu_fe_has_protocol(fe, VHOST_USER_PROTOCOL_F_MQ))
		return r;
	r = vu_fe_call(fe, VHOST_USER_GET_QUEUE_NUM, NULL, 0, &n, 8);
	if (r)
		return r;
	/* vu_fe_call() returned 0: it wrote n (as in vu_fe_send()). */
	/* NOLINTNEXTLINE(clang-analyzer-core.UndefinedBinaryOperatorResult) */
	if (n == 0)
		return vu_fe_break(fe, -EPROTO, "GET_QUEUE_NUM says the back-end has no queue");
	/* The vring index of SET_VRING_KICK/CALL/ERR has 8 bits: no more can be named. */
	fe->queue_num = n > VU_FE_MAX_QUEUES ? VU_FE_MAX_QUEUES : (uint16_t)n;
	return 0;
}

static int handshake(struct vio_vu_fe *fe, uint64_t wanted_protocol)
{
	int r;

	r = vu_fe_call(fe, VHOST_USER_GET_FEATURES, NULL, 0, &fe->backend_features, 8);
	if (!r && vio_has_feature(fe->backend_features, VHOST_USER_F_PROTOCOL_FEATURES))
		r = negotiate_protocol(fe, wanted_protocol);
	if (!r)
		r = vu_fe_send(fe, VHOST_USER_SET_OWNER, NULL, 0, NULL, 0, true);
	return r;
}

static struct vio_vu_fe *fe_new(void)
{
	struct vio_vu_fe *fe = calloc(1, sizeof(*fe));

	if (!fe)
		return NULL;
	fe->sock = -1;
	vu_fe_mem_init(&fe->mem);
	for (unsigned i = 0; i < VU_FE_MAX_QUEUES; i++) {
		struct vu_fe_queue *q = &fe->queues[i];

		q->kick_fd = q->call_fd = q->err_fd = -1;
	}
	return fe;
}

int vio_vu_fe_connect(struct vio_vu_fe **out, const struct vio_vu_fe_options *o)
{
	struct vio_vu_fe *fe;
	int r;

	if (!o->socket_path && o->fd < 0)
		return -EINVAL;
	fe = fe_new();
	if (!fe) {
		if (!o->socket_path)
			close(o->fd);
		return -ENOMEM;
	}
	fe->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : VIO_VU_FE_TIMEOUT_MS;
	if (o->socket_path)
		r = connect_path(o->socket_path, fe->timeout_ms, &fe->sock);
	else
		fe->sock = o->fd, r = 0;
	if (!r)
		r = set_timeouts(fe->sock, fe->timeout_ms);
	if (!r && o->mem_size)
		r = vu_fe_mem_create(&fe->mem, o->mem_size);
	if (!r)
		r = handshake(fe, o->protocol_features ? o->protocol_features : SUPPORTED_PROTOCOL);
	if (r) {
		vio_vu_fe_close(fe);
		return r;
	}
	*out = fe;
	return 0;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void vio_vu_fe_close(struct vio_vu_fe *fe)
{
	if (!fe)
		return;
	close_fd(&fe->sock);
	for (unsigned i = 0; i < VU_FE_MAX_QUEUES; i++) {
		close_fd(&fe->queues[i].kick_fd);
		close_fd(&fe->queues[i].call_fd);
		close_fd(&fe->queues[i].err_fd);
	}
	vu_fe_mem_destroy(&fe->mem);
	free(fe);
}

int vio_vu_fe_mem_create(struct vio_vu_fe *fe, size_t size)
{
	return vu_fe_mem_create(&fe->mem, size);
}

uint64_t vio_vu_fe_backend_features(const struct vio_vu_fe *fe)
{
	return fe->backend_features;
}

uint64_t vio_vu_fe_protocol_offered(const struct vio_vu_fe *fe)
{
	return fe->protocol_offered;
}

uint64_t vio_vu_fe_protocol_features(const struct vio_vu_fe *fe)
{
	return fe->protocol;
}

uint16_t vio_vu_fe_queue_num(const struct vio_vu_fe *fe)
{
	return fe->queue_num;
}

int vio_vu_fe_error(const struct vio_vu_fe *fe)
{
	return fe->error;
}

void *vio_vu_fe_alloc(struct vio_vu_fe *fe, size_t size, size_t align, uint64_t *gpa)
{
	return vu_fe_mem_alloc(&fe->mem, size, align, gpa);
}

void vio_vu_fe_free(struct vio_vu_fe *fe, void *p)
{
	vu_fe_mem_free(&fe->mem, p);
}

int vio_vu_fe_gpa(struct vio_vu_fe *fe, const void *p, size_t len, uint64_t *gpa)
{
	return vu_fe_mem_gpa(&fe->mem, p, len, gpa);
}

void *vio_vu_fe_ptr(struct vio_vu_fe *fe, uint64_t gpa, size_t len)
{
	return vu_fe_mem_ptr(&fe->mem, gpa, len);
}
