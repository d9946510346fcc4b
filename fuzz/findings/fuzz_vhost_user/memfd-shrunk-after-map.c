/* SPDX-License-Identifier: BSD-3-Clause */
/* Reproducer (not built): a front-end that shrinks guest memory after the back-end mapped it: the next ring access faults. */
/* Build: cc -D_GNU_SOURCE -Iinclude -Isrc fuzz/findings/fuzz_vhost_user/memfd-shrunk-after-map.c <build>/src/libvio.a -luring -lpthread */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include "transport/vhost_user_msg.h"
#include "vio/log.h"
#include "vio/vhost_user_be.h"
#include "vio/virtio.h"

static uint64_t feats(void *d) { (void)d; return VIO_BIT(VIRTIO_F_VERSION_1); }
static void cfgr(void *d, uint32_t o, void *b, uint32_t l) { (void)d; (void)o; memset(b, 0, l); }
static const struct vio_device_ops ops = { .device_id = 2, .config_size = 8, .features = feats, .config_read = cfgr };
static int started(void *o, struct vio_vu_queue *q) { (void)o; printf("queue %u started\n", q->index); return 0; }
static void stopped(void *o, struct vio_vu_queue *q) {
	struct iovec iov[4]; struct vio_chain c = { .iov = iov, .iov_cap = 4 };
	(void)o; printf("queue %u stopping: the daemon looks at its ring once more...\n", q->index); fflush(stdout);
	printf("pop -> %d\n", vio_devq_pop(q->ring, &c));
}
static int fe;
static void msg(uint32_t req, const void *p, uint32_t size, int *fds, unsigned n, struct vio_vu_be *be) {
	struct vhost_user_header h = { req, VHOST_USER_VERSION, size };
	if (vu_msg_send(fe, &h, p, fds, n)) abort();
	printf("%s -> %d\n", vio_vhost_user_request_name(req), vio_vu_be_handle(be));
}
int main(void) {
	struct vio_device dev = { .ops = &ops, .max_queues = 1, .max_queue_size = 256 };
	struct vio_vu_be *be; int sv[2], mfd = memfd_create("guest", 0), kick = eventfd(0, 0);
	uint64_t f = VIO_BIT(VIRTIO_F_VERSION_1);
	struct vhost_user_memory t = { .nregions = 1 };
	struct vhost_vring_state num = { 0, 8 };
	struct vhost_vring_addr a = { .index = 0, .desc_user_addr = 0x7f0000000000, .avail_user_addr = 0x7f0000000080, .used_user_addr = 0x7f0000001000 };
	uint64_t q0 = 0;
	vio_log_set_level(VIO_LOG_WARN);
	ftruncate(mfd, 1 << 16);
	vio_vu_be_new(&be, &(struct vio_vu_be_config){ .device = &dev, .num_queues = 1, .hooks = { started, stopped } });
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv); vio_vu_be_attach(be, sv[0]); fe = sv[1];
	t.regions[0] = (struct vhost_user_memory_region){ 0, 1 << 16, 0x7f0000000000, 0 };
	msg(VHOST_USER_SET_FEATURES, &f, 8, NULL, 0, be);
	msg(VHOST_USER_SET_MEM_TABLE, &t, 40, &mfd, 1, be);
	msg(VHOST_USER_SET_VRING_NUM, &num, 8, NULL, 0, be);
	msg(VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0, be);
	msg(VHOST_USER_SET_VRING_KICK, &q0, 8, &kick, 1, be);
	printf("front-end: ftruncate(guest memfd, 0)\n"); fflush(stdout);
	ftruncate(mfd, 0);
	vio_vu_be_disconnect(be); /* queue_stop: the daemon still touches the ring */
	printf("no fault\n");
	return 0;
}
