/* SPDX-License-Identifier: BSD-3-Clause */
/* The vhost-user front-end as a driver transport: status, features, config, vrings, memory. */
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vhost_user_fe_impl.h"
#include "vio/log.h"
#include "vio/virtio.h"

/* GET_FEATURES bits that belong to vhost-user, not to the device. */
#define TRANSPORT_BITS (VIO_BIT(VHOST_USER_F_PROTOCOL_FEATURES) | VIO_BIT(VHOST_F_LOG_ALL))

static bool protocol_features_acked(const struct vio_vu_fe *fe)
{
	return vio_has_feature(fe->backend_features, VHOST_USER_F_PROTOCOL_FEATURES);
}

/* ---- vrings --------------------------------------------------------------- */

static int send_state(struct vio_vu_fe *fe, uint32_t req, uint32_t index, uint32_t num)
{
	struct vhost_vring_state s = { index, num };

	return vu_fe_send(fe, req, &s, sizeof(s), NULL, 0, true);
}

static int send_vring_fd(struct vio_vu_fe *fe, uint32_t req, uint32_t index, int fd)
{
	uint64_t v = index;

	return vu_fe_send(fe, req, &v, sizeof(v), &fd, 1, true);
}

/* SET_VRING_NUM / BASE / ADDR / CALL / ERR / KICK (which starts it) / ENABLE. */
static int start_ring(struct vio_vu_fe *fe, uint32_t i)
{
	struct vu_fe_queue *q = &fe->queues[i];
	struct vhost_vring_addr a = {
		.index = i,
		/* "Ring addresses" are our user addresses, translated by the regions' uva. */
		.desc_user_addr = (uintptr_t)q->layout.desc,
		.avail_user_addr = (uintptr_t)q->layout.driver,
		.used_user_addr = (uintptr_t)q->layout.device,
	};

	/* "Vring descriptor indices for packed virtqueues": a fresh packed
	 * ring starts at 0 with both wrap counters 1 (VIRTIO 1.4 §2.8.1);
	 * a split one at available index 0. */
	uint32_t base = vio_has_feature(fe->features, VIRTIO_F_RING_PACKED) ? 0x80008000u : 0;
	int r;

	r = send_state(fe, VHOST_USER_SET_VRING_NUM, i, q->layout.num);
	if (!r)
		r = send_state(fe, VHOST_USER_SET_VRING_BASE, i, base);
	if (!r)
		r = vu_fe_send(fe, VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0, true);
	if (!r)
		r = send_vring_fd(fe, VHOST_USER_SET_VRING_CALL, i, q->call_fd);
	if (!r)
		r = send_vring_fd(fe, VHOST_USER_SET_VRING_ERR, i, q->err_fd);
	if (!r)
		r = send_vring_fd(fe, VHOST_USER_SET_VRING_KICK, i, q->kick_fd);
	if (r)
		return r;
	q->started = true;
	/* "Ring states": with PROTOCOL_FEATURES a ring starts disabled. */
	if (protocol_features_acked(fe))
		r = send_state(fe, VHOST_USER_SET_VRING_ENABLE, i, 1);
	return r;
}

/* GET_VRING_BASE: stops the ring; the reply names the same ring. */
static int stop_ring(struct vio_vu_fe *fe, uint32_t i)
{
	struct vhost_vring_state s = { i, 0 }, in;
	int r;

	fe->queues[i].started = false;
	r = vu_fe_call(fe, VHOST_USER_GET_VRING_BASE, &s, sizeof(s), &in, sizeof(in));
	if (r)
		return r;
	if (in.index != i) {
		return vu_fe_break(fe, -EPROTO, "GET_VRING_BASE for ring %u answered for ring %u",
				   i, in.index);
	}
	return 0;
}

/* SET_MEM_TABLE: the one shared region, at our address as its user address. */
static int send_mem_table(struct vio_vu_fe *fe)
{
	struct vhost_user_memory m = { .nregions = 1 };

	if (!fe->mem.base) {
		vio_err("vhost-user front-end: no shared memory (vio_vu_fe_mem_create)");
		return -ENOMEM;
	}
	m.regions[0] = (struct vhost_user_memory_region){
		.guest_phys_addr = VIO_VU_FE_GPA_BASE,
		.memory_size = fe->mem.size,
		.userspace_addr = (uintptr_t)fe->mem.base,
		.mmap_offset = 0,
	};
	return vu_fe_send(fe, VHOST_USER_SET_MEM_TABLE, &m,
			  (uint32_t)(8 + sizeof(m.regions[0])), &fe->mem.fd, 1, true);
}

/* What DRIVER_OK means over vhost-user: the memory, then every queue set up. */
static int start_device(struct vio_vu_fe *fe)
{
	int r = send_mem_table(fe);

	for (uint32_t i = 0; !r && i < VU_FE_MAX_QUEUES; i++)
		if (fe->queues[i].configured)
			r = start_ring(fe, i);
	return r;
}

/* ---- transport ops ---------------------------------------------------------- */

static int fe_reset(void *t)
{
	struct vio_vu_fe *fe = t;
	bool was_live = fe->status != 0;
	int r = fe->error;

	for (uint32_t i = 0; !r && i < VU_FE_MAX_QUEUES; i++) {
		if (fe->queues[i].started)
			r = stop_ring(fe, i);
	}
	if (!r && was_live && vu_fe_has_protocol(fe, VHOST_USER_PROTOCOL_F_RESET_DEVICE))
		r = vu_fe_send(fe, VHOST_USER_RESET_DEVICE, NULL, 0, NULL, 0, true);
	if (!r && vu_fe_has_protocol(fe, VHOST_USER_PROTOCOL_F_STATUS)) {
		uint64_t v = 0;

		r = vu_fe_send(fe, VHOST_USER_SET_STATUS, &v, sizeof(v), NULL, 0, true);
	}
	for (uint32_t i = 0; i < VU_FE_MAX_QUEUES; i++)
		fe->queues[i].configured = fe->queues[i].started = false;
	fe->status = 0;
	fe->features = 0;
	fe->features_refused = false;
	return r;
}

static int fe_get_status(void *t, uint8_t *status)
{
	struct vio_vu_fe *fe = t;
	uint64_t v;
	int r;

	if (fe->error)
		return fe->error;
	if (!vu_fe_has_protocol(fe, VHOST_USER_PROTOCOL_F_STATUS)) {
		*status = fe->status;
		return 0;
	}
	r = vu_fe_call(fe, VHOST_USER_GET_STATUS, NULL, 0, &v, sizeof(v));
	if (r)
		return r;
	if (v > 0xff) {
		return vu_fe_break(fe, -EPROTO, "GET_STATUS answered 0x%llx",
				   (unsigned long long)v);
	}
	*status = (uint8_t)v;
	return 0;
}

static int fe_set_status(void *t, uint8_t status)
{
	struct vio_vu_fe *fe = t;
	uint8_t added = (uint8_t)(status & ~fe->status);
	int r = fe->error;

	if (!r && (added & VIRTIO_CONFIG_S_DRIVER_OK))
		r = start_device(fe);
	if (!r && vu_fe_has_protocol(fe, VHOST_USER_PROTOCOL_F_STATUS)) {
		uint64_t v = status;

		r = vu_fe_send(fe, VHOST_USER_SET_STATUS, &v, sizeof(v), NULL, 0, true);
	}
	if (r)
		return r;
	/* A refused SET_FEATURES is a device that does not keep FEATURES_OK (§3.1.1). */
	if ((added & VIRTIO_CONFIG_S_FEATURES_OK) && fe->features_refused)
		status &= (uint8_t)~VIRTIO_CONFIG_S_FEATURES_OK;
	fe->status = status;
	return 0;
}

static int fe_get_features(void *t, uint64_t *features)
{
	struct vio_vu_fe *fe = t;

	if (fe->error)
		return fe->error;
	*features = fe->backend_features & ~TRANSPORT_BITS;
	return 0;
}

static int fe_set_features(void *t, uint64_t features)
{
	struct vio_vu_fe *fe = t;
	uint64_t v = features;
	int r;

	if (features & TRANSPORT_BITS)
		return -EINVAL;
	if (protocol_features_acked(fe))
		v |= VIO_BIT(VHOST_USER_F_PROTOCOL_FEATURES);
	r = vu_fe_send(fe, VHOST_USER_SET_FEATURES, &v, sizeof(v), NULL, 0, true);
	fe->features_refused = r == -EIO;
	if (r && r != -EIO)
		return r;
	fe->features = features;
	return 0;
}

static int fe_config_read(void *t, uint32_t off, void *buf, uint32_t len)
{
	struct vio_vu_fe *fe = t;

	if (fe->error)
		return fe->error;
	if (off > UINT32_MAX - len)
		return -EINVAL;
	while (len) {
		uint32_t n = len < VHOST_USER_MAX_CONFIG_SIZE ? len : VHOST_USER_MAX_CONFIG_SIZE;
		int r = vu_fe_get_config(fe, off, buf, n);

		if (r)
			return r;
		off += n;
		buf = (uint8_t *)buf + n;
		len -= n;
	}
	return 0;
}

static int fe_max_queues(void *t, uint16_t *n)
{
	struct vio_vu_fe *fe = t;

	*n = fe->queue_num;
	return fe->error;
}

static int new_eventfd(int *fd)
{
	if (*fd >= 0)
		return 0;
	*fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	return *fd < 0 ? -errno : 0;
}

static int fe_queue_setup(void *t, uint16_t index, const struct vio_queue_layout *l)
{
	struct vio_vu_fe *fe = t;
	struct vu_fe_queue *q;
	int r;

	if (fe->error)
		return fe->error;
	if (index >= VU_FE_MAX_QUEUES || (fe->queue_num && index >= fe->queue_num)) {
		vio_err("vhost-user front-end: queue %u asked, the back-end has %u", index,
			fe->queue_num);
		return -EINVAL;
	}
	if (fe->status & VIRTIO_CONFIG_S_DRIVER_OK)
		return -EBUSY;
	q = &fe->queues[index];
	r = new_eventfd(&q->kick_fd);
	if (!r)
		r = new_eventfd(&q->call_fd);
	if (!r)
		r = new_eventfd(&q->err_fd);
	if (r)
		return r;
	q->layout = *l;
	q->configured = true;
	return 0;
}

static int fe_queue_notify(void *t, uint16_t index)
{
	struct vio_vu_fe *fe = t;
	int fd = index < VU_FE_MAX_QUEUES ? fe->queues[index].kick_fd : -1;

	if (fd < 0)
		return -EINVAL;
	return eventfd_write(fd, 1) ? -errno : 0;
}

static int fe_queue_fds(void *t, uint16_t index, struct vio_queue_fds *fds)
{
	struct vio_vu_fe *fe = t;

	if (index >= VU_FE_MAX_QUEUES || fe->queues[index].call_fd < 0)
		return -EINVAL;
	fds->call = fe->queues[index].call_fd;
	fds->err = fe->queues[index].err_fd;
	fds->conn = fe->sock;
	return 0;
}

static void *fe_dma_alloc(void *t, size_t size, size_t align, uint64_t *addr)
{
	return vio_vu_fe_alloc(t, size, align, addr);
}

static void fe_dma_free(void *t, void *p)
{
	vio_vu_fe_free(t, p);
}

static int fe_dma_addr(void *t, const void *p, size_t len, uint64_t *addr)
{
	return vio_vu_fe_gpa(t, p, len, addr);
}

static const struct vio_transport_ops fe_ops = {
	.reset = fe_reset,
	.get_status = fe_get_status,
	.set_status = fe_set_status,
	.get_features = fe_get_features,
	.set_features = fe_set_features,
	.config_read = fe_config_read,
	.config_generation = NULL, /* vhost-user has none: the config is read whole */
	.max_queues = fe_max_queues,
	.queue_setup = fe_queue_setup,
	.queue_notify = fe_queue_notify,
	.queue_fds = fe_queue_fds,
	.dma_alloc = fe_dma_alloc,
	.dma_free = fe_dma_free,
	.dma_addr = fe_dma_addr,
};

const struct vio_transport_ops *vio_vu_fe_transport(void)
{
	return &fe_ops;
}
