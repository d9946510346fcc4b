/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness: the vhost-user back-end (vio/vhost_user_be.h,
 * src/transport/vhost_user_be*.c, vhost_user_msg.c) against a hostile
 * front-end.
 *
 * The input is a script: messages (any request number, header flags and
 * payload size, payload bytes, fds: memfds of fuzzed sizes and contents,
 * eventfds, pipes, too many fds, header and payload sent separately),
 * messages cut short by a half-closed socket, memfd writes (the guest
 * memory the rings live in) and daemon-side calls. The inflight region the
 * back-end hands out (GET_INFLIGHT_FD) is kept like a front-end keeps it:
 * the script can write into it and hand it back (SET_INFLIGHT_FD) on a
 * later connection, so queues start from a log anyone may have written. Each message is sent
 * over a socketpair and handled by vio_vu_be_handle() as the daemon would;
 * an error drops the connection (vio_vu_be_disconnect()) and the script goes
 * on with a new one.
 *
 * The device is a fake with the ring features and a small config space; its
 * queue hooks play the daemon: queue_start serves the ring at once (pop a
 * few chains, push them back, flush; a broken ring is reported with
 * vio_vu_queue_fail()), so guest memory as mapped by the back-end is really
 * used. Checked:
 *   - a queue is started only when it should run (kick received, enabled,
 *     not broken) and with a valid ring: num in range, every ring area inside
 *     one mapped region, nothing in flight, not broken; never started twice
 *     without a stop; stopped only while running;
 *   - replies: one per GET_* (and per NEED_REPLY with REPLY_ACK), each
 *     marked as a reply to the request just sent;
 *   - after the last disconnect: every queue stopped, no guest memory
 *     mapped, no queue fd kept, and exactly the fds that were open before
 *     the input (/proc/self/fd) - no leak, no fd closed twice.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/check.h"
#include "common/fuzz_input.h"
#include "ring/devq_impl.h"
#include "transport/vhost_user_be_impl.h"
#include "transport/vhost_user_msg.h"
#include "vio/log.h"
#include "vio/vhost_user_be.h"
#include "vio/virtio.h"
#include "vio/virtio_ring.h"

#define MAX_QUEUES 4u
#define MAX_MEMFDS 8u
#define MAX_OPS 128u
#define MAX_CONNECTIONS 8u
#define MEMFD_NAME "vio-fuzz-guest"
#define INFLIGHT_NAME "vio-inflight" /* the back-end's memfd for the inflight region */

enum op {
	OP_MSG,
	OP_MSG2,      /* (weight: messages are most of a script) */
	OP_MSG3,
	OP_MEMFD,     /* a new memfd of a fuzzed size */
	OP_MEMFD_WRITE,
	OP_CUT,       /* a message cut short, then the write side closed */
	OP_RECONNECT, /* the daemon drops the connection, a new front-end connects */
	OP_NOTIFY,    /* daemon side: vio_vu_queue_notify / vio_vu_queue_fail */
	OP_COUNT
};

/* ---- the fake device ---- */

static struct {
	struct vio_device dev;
	struct vio_vu_be *be;
	int fe;                 /* our end of the connection */
	uint16_t nq;
	bool refuse_features;   /* set_features refuses */
	bool refuse_start;      /* the next queue_start refuses */
	bool abandon;           /* the next queue_start dies with its chains in flight */
	bool running[MAX_QUEUES];
	uint32_t starts, stops;
	int memfd[MAX_MEMFDS];
	uint64_t memfd_size[MAX_MEMFDS];
	unsigned nmemfd;
	uint8_t config[32];
} H;

static uint64_t fake_features(void *dev)
{
	(void)dev;
	return VIO_BIT(VIRTIO_F_VERSION_1) | VIO_BIT(VIRTIO_F_EVENT_IDX) |
	       VIO_BIT(VIRTIO_F_INDIRECT_DESC) | VIO_BIT(VIRTIO_F_RING_PACKED) |
	       VIO_BIT(VIRTIO_F_IN_ORDER);
}

static int fake_set_features(void *dev, uint64_t f)
{
	(void)dev;
	(void)f;
	return H.refuse_features ? -EINVAL : 0;
}

static void fake_config_read(void *dev, uint32_t off, void *buf, uint32_t len)
{
	(void)dev;
	CHECK(off < sizeof(H.config) && len <= sizeof(H.config) - off,
	      "config read [%u, +%u) past the config space", off, len);
	memcpy(buf, H.config + off, len);
}

static int fake_config_write(void *dev, uint32_t off, const void *buf, uint32_t len)
{
	(void)dev;
	CHECK(off < sizeof(H.config) && len <= sizeof(H.config) - off,
	      "config write [%u, +%u) past the config space", off, len);
	if (off < 8)
		return -EPERM; /* a read-only field */
	memcpy(H.config + off, buf, len);
	return 0;
}

static void fake_reset(void *dev)
{
	(void)dev;
	for (unsigned i = 0; i < MAX_QUEUES; i++)
		CHECK(!H.running[i], "device reset with queue %u running", i);
}

static const struct vio_device_ops fake_ops = {
	.device_id = VIRTIO_ID_BLOCK,
	.config_size = sizeof(H.config),
	.features = fake_features,
	.set_features = fake_set_features,
	.config_read = fake_config_read,
	.config_write = fake_config_write,
	.reset = fake_reset,
};

/* ---- the daemon's side: queue hooks ---- */

/* [p, p + len) inside one region of the back-end's memory table. */
static bool mapped(const void *p, uint64_t len)
{
	const struct vio_mem *m = &H.be->mem;
	uintptr_t a = (uintptr_t)p;

	for (uint32_t i = 0; i < m->nregions; i++) {
		uintptr_t h = (uintptr_t)m->regions[i].hva;

		if (a >= h && a - h < m->regions[i].size && len <= m->regions[i].size - (a - h))
			return true;
	}
	return false;
}

static int hook_start(void *opaque, struct vio_vu_queue *q)
{
	struct vio_devq *d = q->ring;
	struct iovec iov[8];
	bool ev = vio_has_feature(H.dev.features, VIRTIO_F_EVENT_IDX);
	uint16_t popped[4];
	unsigned n = 0;

	(void)opaque;
	CHECK(q->index < H.nq, "queue %u started, %u offered", q->index, H.nq);
	CHECK(!H.running[q->index], "queue %u started twice", q->index);
	CHECK(q->started && q->enabled && !q->broken,
	      "queue %u started: started %d enabled %d broken %d", q->index, q->started, q->enabled,
	      q->broken);
	CHECK(d && q->num >= 1 && q->num <= H.dev.max_queue_size, "queue %u: ring %p num %u",
	      q->index, (void *)d, q->num);
	CHECK(d->num == q->num && !vio_devq_error(d) && vio_devq_inflight(d) == 0,
	      "queue %u: ring not fresh", q->index);
	if (d->packed)
		CHECK(mapped(d->pdesc, 16ull * d->num) && mapped(d->driver_event, 4) &&
		      mapped(d->device_event, 4), "queue %u: packed ring not in guest memory", q->index);
	else
		CHECK(mapped(d->desc, 16ull * d->num) && mapped(d->avail, 4 + 2ull * d->num + (ev ? 2 : 0)) &&
		      mapped(d->used, 4 + 8ull * d->num + (ev ? 2 : 0)),
		      "queue %u: split ring not in guest memory", q->index);
	if (H.refuse_start) {
		H.refuse_start = false;
		return -EBUSY;
	}
	H.running[q->index] = true;
	H.starts++;
	/* Serve it now, like a queue thread would on its first kick. */
	vio_devq_kick_disable(d);
	while (n < 4) {
		struct vio_chain c = { .iov = iov, .iov_cap = 8 };
		int r = vio_devq_pop(d, &c);

		if (r == 0)
			break;
		if (r == -EIO) {
			vio_vu_queue_fail(q);
			break;
		}
		CHECK(r == 1 || r == -ENOBUFS, "pop %d", r);
		for (uint32_t k = 0; r == 1 && k < c.nout + c.nin; k++)
			CHECK(mapped(iov[k].iov_base, iov[k].iov_len), "iovec outside guest memory");
		popped[n++] = c.id;
	}
	if (H.abandon) {
		/* The daemon is killed while these are in flight: only the inflight
		 * log remembers them, for the next process (next connection). */
		H.abandon = false;
		return 0;
	}
	for (unsigned k = 0; k < n; k++)
		vio_devq_push(d, popped[k], 0);
	if (vio_devq_flush(d) > 0)
		vio_vu_queue_notify(q);
	vio_devq_kick_enable(d);
	CHECK(vio_devq_inflight(d) == 0, "queue %u: chains left in flight", q->index);
	return 0;
}

static void hook_stop(void *opaque, struct vio_vu_queue *q)
{
	(void)opaque;
	CHECK(q->index < H.nq && H.running[q->index], "queue %u stopped while not running", q->index);
	CHECK(q->ring, "queue %u stopped without its ring", q->index);
	H.running[q->index] = false;
	H.stops++;
}

/* ---- fds ---- */

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	CHECK(d, "opendir /proc/self/fd");
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* Mappings of guest memory or of the back-end's inflight region. */
static int count_guest_maps(void)
{
	static char buf[1 << 20];
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC), n = 0;
	size_t len = 0;
	ssize_t r;

	CHECK(fd >= 0, "open /proc/self/maps");
	while (len < sizeof(buf) - 1 && (r = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)r;
	close(fd);
	buf[len] = 0;
	for (char *p = buf; (p = strstr(p, MEMFD_NAME)); p++)
		n++;
	for (char *p = buf; (p = strstr(p, INFLIGHT_NAME)); p++)
		n++;
	return n;
}

/* An fd to send, as the input says; -1 for none. Closed by the caller after sending. */
static int make_fd(uint8_t kind)
{
	int p[2], fd = -1;

	switch (kind & 3) {
	case 0:
	case 1:
		if (H.nmemfd)
			fd = dup(H.memfd[(kind >> 2) % H.nmemfd]);
		else
			fd = eventfd(0, EFD_CLOEXEC);
		break;
	case 2:
		fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		break;
	default:
		if (pipe2(p, O_CLOEXEC) == 0) {
			close(p[1]);
			fd = p[0];
		}
		break;
	}
	return fd;
}

/* ---- the connection ---- */

static void connect_fe(void)
{
	int sv[2];

	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0, "socketpair");
	CHECK(vio_vu_be_attach(H.be, sv[0]) == 0, "attach");
	CHECK(vio_vu_be_attach(H.be, sv[1]) == -EBUSY, "a second connection attached");
	H.fe = sv[1];
	fcntl(H.fe, F_SETFL, O_NONBLOCK); /* replies are read without waiting */
}

static void check_disconnected(void)
{
	for (uint16_t i = 0; i < H.nq; i++) {
		struct vio_vu_queue *q = vio_vu_be_queue(H.be, i);

		CHECK(!H.running[i] && !q->running && !q->ring, "queue %u still running", i);
		CHECK(q->kick_fd < 0 && q->call_fd < 0 && q->err_fd < 0, "queue %u keeps fds", i);
	}
	CHECK(H.be->mem.nregions == 0 && H.be->scratch.nregions == 0, "guest memory still mapped");
	CHECK(vio_vu_be_fd(H.be) < 0, "still connected");
}

static void disconnect(void)
{
	vio_vu_be_disconnect(H.be);
	check_disconnected();
	close(H.fe);
	H.fe = -1;
}

/* The replies to @req waiting on our end: how many; each must be a reply to @req. */
static unsigned drain_replies(uint32_t req)
{
	unsigned n = 0;

	for (;;) {
		struct vu_msg m;
		int r = vu_msg_recv(H.fe, &m);

		if (r)
			break;
		CHECK(m.hdr.flags == (VHOST_USER_VERSION | VHOST_USER_REPLY_MASK) &&
		      m.hdr.request == req, "reply flags 0x%x request %u to request %u", m.hdr.flags,
		      m.hdr.request, req);
		if (req == VHOST_USER_GET_INFLIGHT_FD) {
			/* The region, and its fd, which a front-end keeps across our
			 * restarts; or mmap_size 0 and no fd: no region. */
			CHECK(m.hdr.size == sizeof(struct vhost_user_inflight) &&
			      m.nfds == (m.payload.inflight.mmap_size ? 1u : 0u),
			      "GET_INFLIGHT_FD reply of %u bytes, mmap_size %llu, with %u fds", m.hdr.size,
			      (unsigned long long)m.payload.inflight.mmap_size, m.nfds);
			if (m.nfds && H.nmemfd < MAX_MEMFDS) {
				H.memfd_size[H.nmemfd] = m.payload.inflight.mmap_size;
				H.memfd[H.nmemfd++] = vu_msg_take_fd(&m, 0);
			}
		} else {
			CHECK(m.nfds == 0, "reply with fds");
		}
		vu_msg_close_fds(&m);
		n++;
	}
	return n;
}

static bool answers_itself(uint32_t req)
{
	switch (req) {
	case VHOST_USER_GET_FEATURES:
	case VHOST_USER_GET_PROTOCOL_FEATURES:
	case VHOST_USER_GET_QUEUE_NUM:
	case VHOST_USER_GET_VRING_BASE:
	case VHOST_USER_GET_CONFIG:
	case VHOST_USER_GET_MAX_MEM_SLOTS:
	case VHOST_USER_GET_INFLIGHT_FD:
		return true;
	default:
		return false;
	}
}

/* The payload size a well-formed message of @req has. */
static uint32_t natural_size(uint32_t req, struct fin *f)
{
	switch (req) {
	case VHOST_USER_SET_FEATURES:
	case VHOST_USER_SET_PROTOCOL_FEATURES:
	case VHOST_USER_SET_VRING_KICK:
	case VHOST_USER_SET_VRING_CALL:
	case VHOST_USER_SET_VRING_ERR:
	case VHOST_USER_SET_LOG_BASE:
		return 8;
	case VHOST_USER_SET_VRING_NUM:
	case VHOST_USER_SET_VRING_BASE:
	case VHOST_USER_GET_VRING_BASE:
	case VHOST_USER_SET_VRING_ENABLE:
		return sizeof(struct vhost_vring_state);
	case VHOST_USER_SET_VRING_ADDR:
		return sizeof(struct vhost_vring_addr);
	case VHOST_USER_SET_MEM_TABLE:
		return 8 + 32 * (fin_u8(f) % (VHOST_MEMORY_BASELINE_NREGIONS + 1));
	case VHOST_USER_ADD_MEM_REG:
	case VHOST_USER_REM_MEM_REG:
		return sizeof(struct vhost_user_mem_reg);
	case VHOST_USER_GET_CONFIG:
	case VHOST_USER_SET_CONFIG:
		return VHOST_USER_CONFIG_HDR_SIZE + fin_u8(f) % 48;
	case VHOST_USER_GET_INFLIGHT_FD:
	case VHOST_USER_SET_INFLIGHT_FD:
		return sizeof(struct vhost_user_inflight);
	default:
		return 0;
	}
}

/* One sendmsg of @len bytes (> 0) with @n fds (any number, -1s skipped). */
static bool send_fds(const void *buf, size_t len, const int *fds, unsigned n)
{
	union {
		char buf[CMSG_SPACE(24 * sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec v = { (void *)buf, len };
	struct msghdr mh = { .msg_iov = &v, .msg_iovlen = 1 };
	unsigned k = 0;
	int good[24];

	for (unsigned i = 0; i < n && i < 24; i++)
		if (fds[i] >= 0)
			good[k++] = fds[i];
	if (k) {
		struct cmsghdr *c;

		memset(&control, 0, sizeof(control));
		mh.msg_control = control.buf;
		mh.msg_controllen = CMSG_SPACE(k * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(k * sizeof(int));
		memcpy(CMSG_DATA(c), good, k * sizeof(int));
	}
	return sendmsg(H.fe, &mh, MSG_NOSIGNAL) == (ssize_t)len;
}

/* Sends one message built from the input; false if it could not be sent. */
static bool send_msg(struct fin *f, uint32_t *req_out, uint32_t *flags_out, bool cut)
{
	static uint8_t payload[VHOST_USER_PAYLOAD_MAX + 64];
	struct vhost_user_header h;
	uint8_t rsel = fin_u8(f), fl = fin_u8(f), ssel = fin_u8(f), fsel;
	int fds[24];
	unsigned nfds;
	bool ok = true;

	h.request = rsel < 0xf0 ? rsel % (VHOST_USER_MAX_REQUEST + 1) : fin_u32(f);
	h.flags = VHOST_USER_VERSION | (fl & 1 ? VHOST_USER_NEED_REPLY_MASK : 0) |
		  (fl & 2 ? VHOST_USER_REPLY_MASK : 0);
	if (fl & 0x80)
		h.flags = fin_u32(f);
	if (ssel < 0xc0)
		h.size = natural_size(h.request, f);
	else if (ssel < 0xff)
		h.size = fin_u16(f) % (VHOST_USER_PAYLOAD_MAX + 1);
	else
		h.size = VHOST_USER_PAYLOAD_MAX + 1 + fin_u8(f); /* refused before it is read */
	fin_bytes(f, payload, h.size <= VHOST_USER_PAYLOAD_MAX ? h.size : 0);
	if (h.request == VHOST_USER_SET_MEM_TABLE && h.size >= 8 && !(fl & 4))
		((struct vhost_user_memory *)(void *)payload)->nregions = (h.size - 8) / 32;
	if ((h.request == VHOST_USER_GET_CONFIG || h.request == VHOST_USER_SET_CONFIG) &&
	    h.size >= 12 && !(fl & 4))
		((struct vhost_user_config *)(void *)payload)->size = h.size - 12;
	fsel = fin_u8(f);
	nfds = fsel & 7;
	if (fsel & 8)
		nfds = VHOST_USER_MAX_FDS + 1 + (fsel >> 4); /* more than a message may carry */
	for (unsigned i = 0; i < nfds; i++)
		fds[i] = make_fd(fin_u8(f));
	*req_out = h.request;
	*flags_out = h.flags;
	if (cut) {
		/* Part of the message, then the front-end goes away. */
		static uint8_t msg[VHOST_USER_HDR_SIZE + sizeof(payload)];
		uint32_t whole = VHOST_USER_HDR_SIZE + (h.size <= VHOST_USER_PAYLOAD_MAX ? h.size : 0);
		uint32_t part = fin_u8(f) % whole;

		memcpy(msg, &h, VHOST_USER_HDR_SIZE);
		memcpy(msg + VHOST_USER_HDR_SIZE, payload, whole - VHOST_USER_HDR_SIZE);
		ok = send_fds(msg, part, fds, part ? nfds : 0);
		shutdown(H.fe, SHUT_WR);
	} else if ((fl & 0x40) && h.size && h.size <= VHOST_USER_PAYLOAD_MAX) {
		/* Header and payload in two sendmsg calls, the fds with the payload. */
		ok = send_fds(&h, VHOST_USER_HDR_SIZE, NULL, 0) &&
		     send_fds(payload, h.size, fds, nfds);
	} else {
		static uint8_t msg[VHOST_USER_HDR_SIZE + sizeof(payload)];
		uint32_t len = VHOST_USER_HDR_SIZE + (h.size <= VHOST_USER_PAYLOAD_MAX ? h.size : 0);

		memcpy(msg, &h, VHOST_USER_HDR_SIZE);
		memcpy(msg + VHOST_USER_HDR_SIZE, payload, len - VHOST_USER_HDR_SIZE);
		ok = send_fds(msg, len, fds, nfds);
	}
	for (unsigned i = 0; i < nfds; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return ok;
}

static void op_msg(struct fin *f, bool cut, unsigned *connections)
{
	uint32_t req, flags;
	unsigned replies;
	int r;

	if (!send_msg(f, &req, &flags, cut)) {
		disconnect();
		connect_fe();
		++*connections;
		return;
	}
	r = vio_vu_be_handle(H.be);
	TRACE("%s (%u) flags 0x%x -> %d", vio_vhost_user_request_name(req), req, flags, r);
	if (cut)
		CHECK(r < 0, "a message cut short was handled: %d", r);
	CHECK(r == 0 || r == -EPROTO || r == -ECONNRESET || r == -EIO, "handle returned %d", r);
	replies = drain_replies(req);
	if (r == 0) {
		bool want = answers_itself(req) ||
			    ((flags & VHOST_USER_NEED_REPLY_MASK) &&
			     vu_be_has_protocol(H.be, VHOST_USER_PROTOCOL_F_REPLY_ACK));

		CHECK(replies == (want ? 1u : 0u), "%u replies to %s", replies,
		      vio_vhost_user_request_name(req));
	}
	if (r) {
		/* The daemon drops the connection and waits for the next. */
		disconnect();
		if (*connections < MAX_CONNECTIONS) {
			connect_fe();
			++*connections;
		}
	}
}

/* Protocol features to offer: a subset of what the back-end implements, or one it lacks. */
static uint64_t protocol_subset(uint8_t b)
{
	static const unsigned bits[] = {
		VHOST_USER_PROTOCOL_F_MQ, VHOST_USER_PROTOCOL_F_REPLY_ACK, VHOST_USER_PROTOCOL_F_CONFIG,
		VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS, VHOST_USER_PROTOCOL_F_RESET_DEVICE,
		VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD,
	};
	uint64_t p = 0;

	for (unsigned i = 0; i < 6; i++)
		if (b & (1u << i))
			p |= VIO_BIT(bits[i]);
	if (b & 0x80)
		p |= VIO_BIT(VHOST_USER_PROTOCOL_F_LOG_SHMFD); /* not implemented */
	return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool once;
	struct vio_vu_be_config cfg;
	unsigned ops = 0, connections = 1;
	int fds_before;
	struct fin in;
	uint8_t b0, b1;

	if (!once) {
		once = true;
		vio_log_set_level(fuzz_trace_on() ? VIO_LOG_TRACE : (enum vio_log_level)-1);
	}
	fds_before = count_fds();
	fin_init(&in, data, size);
	b0 = fin_u8(&in);
	b1 = fin_u8(&in);
	memset(&H, 0, sizeof(H));
	H.nq = (b0 & 3) + 1;
	H.refuse_features = (b0 & 0x1c) == 0x1c;
	H.dev = (struct vio_device){ .ops = &fake_ops, .max_queues = MAX_QUEUES,
				     .max_queue_size = b0 & 0x20 ? 256 : 1024 };
	for (unsigned i = 0; i < sizeof(H.config); i++)
		H.config[i] = (uint8_t)i;
	cfg = (struct vio_vu_be_config){
		.device = &H.dev, .num_queues = H.nq,
		/* 0: the default set; else a subset of it. */
		.protocol_features = b0 & 0x40 ? protocol_subset(b1) : 0,
		.hooks = { hook_start, hook_stop },
	};
	if (vio_vu_be_new(&H.be, &cfg)) {
		CHECK(b1 & 0x80, "back-end refused a valid config");
		return 0;
	}
	CHECK(!(b0 & 0x40) || !(b1 & 0x80), "back-end accepted protocol features it lacks");
	connect_fe();
	while (!fin_done(&in) && ops++ < MAX_OPS && H.fe >= 0) {
		uint8_t op = fin_u8(&in) % OP_COUNT;

		switch (op) {
		case OP_MSG:
		case OP_MSG2:
		case OP_MSG3:
			op_msg(&in, false, &connections);
			break;
		case OP_CUT:
			op_msg(&in, true, &connections);
			break;
		case OP_MEMFD: {
			uint8_t s = fin_u8(&in);
			uint64_t sz = s < 0x80 ? (uint64_t)(s + 1) << 12
				      : s < 0xf0 ? fin_u32(&in) % (64u << 20) : (uint64_t)fin_u16(&in);
			int fd;

			if (H.nmemfd == MAX_MEMFDS)
				break;
			fd = memfd_create(MEMFD_NAME, MFD_CLOEXEC);
			CHECK(fd >= 0, "memfd_create");
			CHECK(ftruncate(fd, (off_t)sz) == 0, "ftruncate");
			H.memfd_size[H.nmemfd] = sz;
			H.memfd[H.nmemfd++] = fd;
			break;
		}
		case OP_MEMFD_WRITE: {
			uint8_t buf[256];
			uint8_t i = fin_u8(&in), len = fin_u8(&in);
			uint32_t off = fin_u32(&in);

			fin_bytes(&in, buf, len);
			if (!H.nmemfd)
				break;
			i %= H.nmemfd;
			if (H.memfd_size[i] > len)
				CHECK(pwrite(H.memfd[i], buf, len, off % (H.memfd_size[i] - len)) == len,
				      "pwrite");
			break;
		}
		case OP_RECONNECT:
			disconnect();
			if (connections < MAX_CONNECTIONS) {
				connect_fe();
				connections++;
			}
			break;
		case OP_NOTIFY: {
			uint8_t s = fin_u8(&in);
			struct vio_vu_queue *q = vio_vu_be_queue(H.be, s % H.nq);

			CHECK(q, "queue %u of %u", s % H.nq, H.nq);
			if (s & 0x80)
				H.refuse_start = true;
			else if (s & 0x20)
				H.abandon = true;
			else if (s & 0x40 && q->running)
				vio_vu_queue_fail(q); /* the queue thread found the ring broken */
			else
				vio_vu_queue_notify(q);
			break;
		}
		}
	}
	if (H.fe >= 0)
		disconnect();
	else
		check_disconnected();
	CHECK(H.starts == H.stops, "%u starts, %u stops", H.starts, H.stops);
	vio_vu_be_free(H.be);
	for (unsigned i = 0; i < H.nmemfd; i++)
		close(H.memfd[i]);
	CHECK(count_guest_maps() == 0, "guest memory still mapped after disconnect");
	CHECK(count_fds() == fds_before, "%d fds open, %d before the input", count_fds(), fds_before);
	return 0;
}
