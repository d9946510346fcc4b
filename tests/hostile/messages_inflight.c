/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Hostile front-end, message level: inflight regions, malformed and full of
 * garbage (the table of cases is in messages.c).
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

/* ---- inflight regions ("Inflight I/O tracking"; DESIGN §4 "Shared recovery state is untrusted") ---- */

#define INFL_Q 704u /* vio_devq_inflight_size(16): 64 + 16 * 40, rounded to 64 */

static int inflight_memfd(uint64_t size)
{
	int fd = memfd_create("hostile-inflight", MFD_CLOEXEC);

	CHECK(fd >= 0 && !ftruncate(fd, (off_t)size), "memfd");
	return fd;
}

static void set_inflight_refused(uint64_t mmap_size, uint64_t mmap_offset, uint16_t nq, uint16_t qs,
				 int fd)
{
	struct conn *c = handshaken();
	struct vhost_user_inflight in = { mmap_size, mmap_offset, nq, qs };

	ack_refused(c, VHOST_USER_SET_INFLIGHT_FD, &in, sizeof(in), &fd, 1);
	conn_mem_table(c);
	for (int i = 0; i < NQ; i++)
		q_setup(c, i, false, QSIZE);
	health(c, 0);
	conn_close(c);
}

void set_inflight_fd_too_small(void)
{
	int fd = inflight_memfd(NQ * INFL_Q);

	set_inflight_refused(NQ * INFL_Q - 64, 0, NQ, QSIZE, fd);
	set_inflight_refused(0, 0, NQ, QSIZE, fd);
	close(fd);
}

void set_inflight_fd_file_shorter_than_it_says(void)
{
	int fd = inflight_memfd(INFL_Q);

	set_inflight_refused(NQ * INFL_Q, 0, NQ, QSIZE, fd);
	close(fd);
	fd = inflight_memfd(NQ * INFL_Q);
	set_inflight_refused(NQ * INFL_Q, 4096, NQ, QSIZE, fd);
	close(fd);
}

void set_inflight_fd_offset_unaligned_or_overflowing(void)
{
	int fd = inflight_memfd(16384);

	set_inflight_refused(NQ * INFL_Q, 100, NQ, QSIZE, fd);
	set_inflight_refused(NQ * INFL_Q, UINT64_MAX & ~4095ull, NQ, QSIZE, fd);
	set_inflight_refused(UINT64_MAX, 4096, NQ, QSIZE, fd);
	close(fd);
}

void set_inflight_fd_of_a_bad_shape(void)
{
	int fd = inflight_memfd(1 << 20);

	set_inflight_refused(1 << 20, 0, 0, QSIZE, fd);
	set_inflight_refused(1 << 20, 0, NQ + 1, QSIZE, fd);
	set_inflight_refused(1 << 20, 0, NQ, 0, fd);
	set_inflight_refused(1 << 20, 0, NQ, 1025, fd);
	set_inflight_refused(1 << 20, 0, UINT16_MAX, UINT16_MAX, fd);
	close(fd);
}

void set_inflight_fd_not_a_file(void)
{
	int e = efd(), sv[2];

	set_inflight_refused(NQ * INFL_Q, 0, NQ, QSIZE, e);
	close(e);
	CHECK(!socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), "socketpair");
	set_inflight_refused(NQ * INFL_Q, 0, NQ, QSIZE, sv[0]);
	close(sv[0]);
	close(sv[1]);
}

void set_inflight_fd_without_or_with_two_fds(void)
{
	struct vhost_user_inflight in = { NQ * INFL_Q, 0, NQ, QSIZE };
	int fd = inflight_memfd(NQ * INFL_Q), fds[2] = { fd, fd };

	drop_after(handshaken(), VHOST_USER_SET_INFLIGHT_FD, V, &in, sizeof(in), NULL, 0,
		   "SET_INFLIGHT_FD without fd");
	drop_after(handshaken(), VHOST_USER_SET_INFLIGHT_FD, V, &in, sizeof(in), fds, 2,
		   "SET_INFLIGHT_FD with two fds");
	close(fd);
}

/*
 * GET_INFLIGHT_FD for a shape the back-end cannot serve: the front-end
 * waits for a reply ("reply payload: inflight description"), so the
 * back-end must answer, with no fd and mmap_size 0 (what libvhost-user
 * does; QEMU then goes on without an inflight region), not stay silent.
 */
void get_inflight_fd_of_a_bad_shape_is_answered(void)
{
	static const uint16_t shapes[][2] = { { 0, QSIZE }, { NQ + 1, QSIZE }, { NQ, 0 }, { NQ, 4096 } };

	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		struct conn *c = handshaken();
		struct vhost_user_inflight in = { 0, 0, shapes[i][0], shapes[i][1] };
		struct vu_msg m;
		int r;

		CHECK(!msg_send(c, VHOST_USER_GET_INFLIGHT_FD, V, &in, sizeof(in), NULL, 0), "send");
		r = msg_recv(c, &m, wait_ms());
		CHECK(r != -ETIMEDOUT, "GET_INFLIGHT_FD for %u queues of %u: no reply at all",
		      shapes[i][0], shapes[i][1]);
		CHECK(!r && m.hdr.request == VHOST_USER_GET_INFLIGHT_FD &&
		      m.hdr.size == sizeof(in), "GET_INFLIGHT_FD %u x %u: bad reply (%d)", shapes[i][0],
		      shapes[i][1], r);
		CHECK(m.nfds == 0 && m.payload.inflight.mmap_size == 0,
		      "GET_INFLIGHT_FD %u x %u: a region of %llu bytes, %u fds", shapes[i][0],
		      shapes[i][1], (unsigned long long)m.payload.inflight.mmap_size, m.nfds);
		vu_msg_close_fds(&m);
		expect_alive(c);
		conn_close(c);
	}
}

/* Gets a real inflight region from a connection that served some requests. */
static int inflight_from_a_run(bool packed, uint64_t *size)
{
	struct conn *c = conn_open();
	struct vhost_user_inflight in = { 0, 0, NQ, QSIZE };
	struct vu_msg m;
	int fd;

	conn_handshake(c, F_STD | (packed ? VIO_BIT(VIRTIO_F_RING_PACKED) : 0), P_STD);
	CHECK(!msg_send(c, VHOST_USER_GET_INFLIGHT_FD, V, &in, sizeof(in), NULL, 0), "send");
	CHECK(!msg_recv(c, &m, wait_ms()) && m.nfds == 1 && m.payload.inflight.mmap_size >= NQ * INFL_Q,
	      "GET_INFLIGHT_FD failed");
	fd = vu_msg_take_fd(&m, 0);
	*size = m.payload.inflight.mmap_size;
	conn_mem_table(c);
	for (int i = 0; i < NQ; i++)
		q_setup(c, i, packed, QSIZE);
	health(c, 0);
	health(c, 1);
	conn_close(c);
	return fd;
}

/* GET_INFLIGHT_FD: a new, empty region replaces the one the daemon holds. */
static void fresh_inflight(struct conn *c)
{
	struct vhost_user_inflight in = { 0, 0, NQ, QSIZE };
	struct vu_msg m;

	CHECK(!msg_send(c, VHOST_USER_GET_INFLIGHT_FD, V, &in, sizeof(in), NULL, 0), "send");
	CHECK(!msg_recv(c, &m, wait_ms()) && m.hdr.request == VHOST_USER_GET_INFLIGHT_FD &&
	      m.nfds == 1, "GET_INFLIGHT_FD failed");
	vu_msg_close_fds(&m);
}

/*
 * Hands @fd back on a new connection (split or @packed rings, fresh and
 * zeroed) and starts the queues. The region's contents are garbage: each
 * queue must either break (error eventfd) or run; chains resubmitted from
 * it address zeroed descriptors (split) and so complete with length 0.
 */
static void inflight_garbage_handed_back(int fd, uint64_t size, bool packed)
{
	struct conn *c = conn_open();
	struct vhost_user_inflight in = { size, 0, NQ, QSIZE };
	const char *outcome[NQ];

	conn_handshake(c, F_STD | (packed ? VIO_BIT(VIRTIO_F_RING_PACKED) : 0), P_STD);
	send_ok(c, VHOST_USER_SET_INFLIGHT_FD, &in, sizeof(in), &fd, 1);
	conn_mem_table(c);
	for (int i = 0; i < NQ; i++)
		q_setup(c, i, packed, QSIZE);
	for (int i = 0; i < NQ; i++) {
		struct hq *q = &c->q[i];
		uint32_t id, len;
		unsigned resub = 0;

		if (err_signalled(q, 200)) {
			/* Refused for good: the front-end must hand over a sane region. */
			outcome[i] = "broken";
			fresh_inflight(c);
			q_reset_restart(c, i);
			continue;
		}
		while (wait_used(q, &id, &len, 100)) {
			CHECK(id < QSIZE && len == 0, "resubmitted chain completed as id %u, length %u", id,
			      len);
			resub++;
		}
		CHECK(!err_signalled(q, 0), "queue %d broke after resubmitting", i);
		outcome[i] = resub ? "ran, resubmitting empty chains" : "ran";
		health(c, i);
	}
	note("queue 0 %s; queue 1 %s", outcome[0], outcome[1]);
	conn_close(c);
}

static void inflight_region_garbage(int pattern, bool packed_back)
{
	uint64_t size;
	int fd = inflight_from_a_run(false, &size);
	uint8_t *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	CHECK(p != MAP_FAILED, "mmap");
	switch (pattern) {
	case 0:
		memset(p, 0xff, size);
		break;
	case 1:
		for (uint64_t i = 0; i < size; i++)
			p[i] = (uint8_t)((i * 2654435761u) >> 13);
		break;
	case 2: /* the header as the daemon wrote it, every entry scrambled */
		for (unsigned q = 0; q < NQ; q++)
			for (uint64_t i = 64; i < INFL_Q; i++)
				p[q * INFL_Q + i] = (uint8_t)(i * 37 + 11);
		break;
	case 3: /* the header's queue size and layout changed */
		for (unsigned q = 0; q < NQ; q++) {
			p[q * INFL_Q + 8] = 0xe8;
			p[q * INFL_Q + 9] = 0x03;
			p[q * INFL_Q + 10] ^= 1;
		}
		break;
	default:
		break;
	}
	munmap(p, size);
	inflight_garbage_handed_back(fd, size, packed_back);
	close(fd);
}

void inflight_region_all_0xff(void) { inflight_region_garbage(0, false); }
void inflight_region_random(void) { inflight_region_garbage(1, false); }
void inflight_region_random_entries(void) { inflight_region_garbage(2, false); }
void inflight_region_header_lies(void) { inflight_region_garbage(3, false); }
void inflight_region_of_a_split_ring_for_a_packed_one(void) { inflight_region_garbage(-1, true); }
void inflight_region_random_for_a_packed_ring(void) { inflight_region_garbage(1, true); }

/* The region is for Queue Size 16; the ring is 32: the queue cannot use it. */
void inflight_region_for_another_queue_size(void)
{
	uint64_t size;
	int fd = inflight_from_a_run(false, &size);
	struct conn *c = conn_open();
	struct vhost_user_inflight in = { size, 0, NQ, QSIZE };

	conn_handshake(c, F_STD, P_STD);
	send_ok(c, VHOST_USER_SET_INFLIGHT_FD, &in, sizeof(in), &fd, 1);
	conn_mem_table(c);
	q_setup(c, 1, false, QSIZE);
	q_setup(c, 0, false, 2 * QSIZE);
	expect_broken(&c->q[0], "queue size differs from the inflight region");
	/* Queue 1's log came from other rings (used index 3, these are new): either way. */
	(void)err_signalled(&c->q[1], 100);
	fresh_inflight(c);
	c->q[0].num = QSIZE; /* one queue size per inflight region */
	q_reset_restart(c, 0);
	q_reset_restart(c, 1);
	close(fd);
}
