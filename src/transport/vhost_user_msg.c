/* SPDX-License-Identifier: BSD-3-Clause */
/* vhost-user message framing over an AF_UNIX stream socket, with SCM_RIGHTS fds. */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <time.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vhost_user_msg.h"

static const char *const request_names[VHOST_USER_MAX_REQUEST] = {
#define N(x) [VHOST_USER_##x] = "VHOST_USER_" #x
	N(NONE), N(GET_FEATURES), N(SET_FEATURES), N(SET_OWNER), N(RESET_OWNER),
	N(SET_MEM_TABLE), N(SET_LOG_BASE), N(SET_LOG_FD), N(SET_VRING_NUM),
	N(SET_VRING_ADDR), N(SET_VRING_BASE), N(GET_VRING_BASE), N(SET_VRING_KICK),
	N(SET_VRING_CALL), N(SET_VRING_ERR), N(GET_PROTOCOL_FEATURES),
	N(SET_PROTOCOL_FEATURES), N(GET_QUEUE_NUM), N(SET_VRING_ENABLE),
	N(SEND_RARP), N(NET_SET_MTU), N(SET_BACKEND_REQ_FD), N(IOTLB_MSG),
	N(SET_VRING_ENDIAN), N(GET_CONFIG), N(SET_CONFIG), N(CREATE_CRYPTO_SESSION),
	N(CLOSE_CRYPTO_SESSION), N(POSTCOPY_ADVISE), N(POSTCOPY_LISTEN),
	N(POSTCOPY_END), N(GET_INFLIGHT_FD), N(SET_INFLIGHT_FD), N(GPU_SET_SOCKET),
	N(RESET_DEVICE), N(VRING_KICK), N(GET_MAX_MEM_SLOTS), N(ADD_MEM_REG),
	N(REM_MEM_REG), N(SET_STATUS), N(GET_STATUS), N(GET_SHARED_OBJECT),
	N(SET_DEVICE_STATE_FD), N(CHECK_DEVICE_STATE),
#undef N
};

const char *vio_vhost_user_request_name(uint32_t req)
{
	if (req < VHOST_USER_MAX_REQUEST && request_names[req])
		return request_names[req];
	return "unknown";
}

void vu_msg_close_fds(struct vu_msg *m)
{
	for (unsigned i = 0; i < m->nfds; i++)
		if (m->fds[i] >= 0)
			close(m->fds[i]);
	m->nfds = 0;
}

int vu_msg_take_fd(struct vu_msg *m, unsigned i)
{
	int fd;

	if (i >= m->nfds)
		return -1;
	fd = m->fds[i];
	m->fds[i] = -1;
	return fd;
}

/* Collects the SCM_RIGHTS fds of @mh into @m; -EPROTO if they were truncated. */
static int take_rights(struct msghdr *mh, struct vu_msg *m)
{
	struct cmsghdr *c;
	int r = 0;

	for (c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		size_t n, i;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (m->nfds < VHOST_USER_MAX_FDS)
				m->fds[m->nfds++] = fd;
			else {
				close(fd);
				r = -EPROTO;
			}
		}
	}
	if (mh->msg_flags & MSG_CTRUNC)
		r = -EPROTO;
	return r;
}

/* Reads exactly @len bytes; maps EOF and timeouts to errno values. */
/* Milliseconds left until @deadline (CLOCK_MONOTONIC), 0 when it passed. */
static int ms_left(const struct timespec *deadline)
{
	struct timespec now;
	int64_t ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_nsec - now.tv_nsec) / 1000000;
	return ms <= 0 ? 0 : ms > INT32_MAX ? INT32_MAX : (int)ms;
}

/*
 * Reads exactly @len bytes before @deadline: the whole rest of a message
 * has one deadline, so a peer sending it a byte at a time cannot hold us.
 * Maps EOF and timeouts to errno values.
 */
static int read_full(int sock, void *buf, size_t len, const struct timespec *deadline)
{
	char *p = buf;

	while (len) {
		struct pollfd pfd = { .fd = sock, .events = POLLIN };
		int r = poll(&pfd, 1, ms_left(deadline));
		ssize_t n;

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -EIO;
		if (r == 0)
			return -ETIMEDOUT;
		n = recv(sock, p, len, MSG_DONTWAIT);
		if (n == 0)
			return -ECONNRESET;
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			return errno == ECONNRESET ? -ECONNRESET : -EIO;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int vu_msg_recv(int sock, struct vu_msg *m)
{
	char control[CMSG_SPACE(VHOST_USER_MAX_FDS * sizeof(int))];
	struct iovec iov = { .iov_base = &m->hdr, .iov_len = VHOST_USER_HDR_SIZE };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = control, .msg_controllen = sizeof(control),
	};
	struct timespec deadline;
	ssize_t n;
	int r;

	m->nfds = 0;
	do {
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n == 0)
		return -ECONNRESET;
	if (n < 0)
		return errno == ECONNRESET ? -ECONNRESET :
		       (errno == EAGAIN || errno == EWOULDBLOCK) ? -ETIMEDOUT : -EIO;
	r = take_rights(&mh, m);
	/* The first bytes came: the rest of the message has VU_MSG_REST_MS. */
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += VU_MSG_REST_MS / 1000;
	deadline.tv_nsec += (VU_MSG_REST_MS % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	if (!r && (size_t)n < VHOST_USER_HDR_SIZE)
		r = read_full(sock, (char *)&m->hdr + n, VHOST_USER_HDR_SIZE - (size_t)n, &deadline);
	if (!r && (m->hdr.flags & VHOST_USER_VERSION_MASK) != VHOST_USER_VERSION)
		r = -EPROTO;
	if (!r && m->hdr.size > VHOST_USER_PAYLOAD_MAX)
		r = -EPROTO;
	if (!r && m->hdr.size)
		r = read_full(sock, &m->payload, m->hdr.size, &deadline);
	if (r)
		vu_msg_close_fds(m);
	return r;
}

int vu_msg_send(int sock, const struct vhost_user_header *hdr, const void *payload,
		const int *fds, unsigned nfds)
{
	char control[CMSG_SPACE(VHOST_USER_MAX_FDS * sizeof(int))];
	struct iovec iov[2] = {
		{ .iov_base = (void *)hdr, .iov_len = VHOST_USER_HDR_SIZE },
		{ .iov_base = (void *)payload, .iov_len = hdr->size },
	};
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = hdr->size ? 2 : 1 };
	size_t total = VHOST_USER_HDR_SIZE + hdr->size, sent = 0;

	if (nfds > VHOST_USER_MAX_FDS)
		return -EINVAL;
	if (nfds) {
		struct cmsghdr *c;

		memset(control, 0, sizeof(control));
		mh.msg_control = control;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	while (sent < total) {
		ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		sent += (size_t)n;
		/* The fds went with the first bytes; send the rest plainly. */
		mh.msg_control = NULL;
		mh.msg_controllen = 0;
		while (n > 0 && mh.msg_iovlen) {
			size_t take = (size_t)n < mh.msg_iov->iov_len ? (size_t)n : mh.msg_iov->iov_len;

			mh.msg_iov->iov_base = (char *)mh.msg_iov->iov_base + take;
			mh.msg_iov->iov_len -= take;
			n -= (ssize_t)take;
			if (!mh.msg_iov->iov_len) {
				mh.msg_iov++;
				mh.msg_iovlen--;
			}
		}
	}
	return 0;
}
