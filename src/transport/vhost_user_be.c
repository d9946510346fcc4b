/* SPDX-License-Identifier: BSD-3-Clause */
/* The vhost-user back-end: message validation and dispatch, ring states, queue lifecycle. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "vhost_user_be_impl.h"
#include "vio/log.h"
#include "vio/virtio.h"
#include "vio/virtio_ring.h"

/* Protocol features offered when the config asks for the default set. */
#define DEFAULT_PROTOCOL_FEATURES                                                   \
	(VIO_BIT(VHOST_USER_PROTOCOL_F_MQ) | VIO_BIT(VHOST_USER_PROTOCOL_F_REPLY_ACK) | \
	 VIO_BIT(VHOST_USER_PROTOCOL_F_CONFIG) |                                     \
	 VIO_BIT(VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS) |                        \
	 VIO_BIT(VHOST_USER_PROTOCOL_F_RESET_DEVICE) |                              \
	 VIO_BIT(VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD))
/* Protocol features this back-end implements at all. */
#define SUPPORTED_PROTOCOL_FEATURES DEFAULT_PROTOCOL_FEATURES

/* Seconds a front-end may take to send the rest of a message it started. */
#define MSG_TIMEOUT_S 5

/* ---- queue lifecycle ---------------------------------------------------- */

static bool queue_should_run(const struct vu_queue *q)
{
	return q->pub.started && q->pub.enabled && !q->pub.broken;
}

/* Marks @q broken from the control thread and tells the front-end. */
static void queue_break(struct vu_queue *q, const char *why)
{
	vio_err("vhost-user: queue %u: %s", q->pub.index, why);
	vio_vu_queue_fail(&q->pub);
}

/* Translates the ring areas and initialises the device-side ring; 0 or -1. */
static int queue_setup_ring(struct vio_vu_be *be, struct vu_queue *q)
{
	uint32_t num = q->pub.num;
	bool packed = vio_has_feature(be->features, VIRTIO_F_RING_PACKED);
	/* The spec's sizes include used_event / avail_event, present only with EVENT_IDX. */
	uint64_t no_ev = vio_has_feature(be->features, VIRTIO_F_EVENT_IDX) ? 0 : 2;
	struct vio_devq_config c = { .num = num, .features = be->cfg.device->features,
				     .mem = &be->mem, .base = q->base };
	size_t need = vio_devq_size(num);
	int r;

	if (!need || !q->addr_set) {
		queue_break(q, "started without a valid SET_VRING_NUM and SET_VRING_ADDR");
		return -1;
	}
	c.desc = vio_mem_uva_ptr(&be->mem, q->desc_uva, 16ull * num);
	c.driver = vio_mem_uva_ptr(&be->mem, q->avail_uva,
				   packed ? 4 : virtq_avail_size(num) - no_ev);
	c.device = vio_mem_uva_ptr(&be->mem, q->used_uva,
				   packed ? 4 : virtq_used_size(num) - no_ev);
	if (!c.desc || !c.driver || !c.device) {
		queue_break(q, be->mem.nregions ? "ring not inside guest memory"
			    : "ring not inside guest memory: the front-end shared no guest memory "
			      "(QEMU needs -object memory-backend-memfd,...,share=on)");
		return -1;
	}
	c.inflight = vu_be_inflight_for(be, q, &c.inflight_size);
	if (c.inflight && be->inflight.queue_size != num) {
		queue_break(q, "queue size differs from the inflight region's");
		return -1;
	}
	if (q->ring_mem_size < need) {
		void *p = realloc(q->ring_mem, need);

		if (!p) {
			queue_break(q, "out of memory for the ring state");
			return -1;
		}
		q->ring_mem = p;
		q->ring_mem_size = need;
	}
	q->pub.ring = q->ring_mem;
	r = vio_devq_init(q->pub.ring, &c);
	if (r) {
		q->pub.ring = NULL;
		queue_break(q, r == -ENOTSUP ? "ring layout not supported"
			    : "invalid ring (size for the layout, area alignment or base)");
		return -1;
	}
	/* An inflight log the ring refused (malformed, or not matching the
	 * rings) leaves it broken from the start: report it now rather than
	 * start a queue whose first pop fails. */
	if (vio_devq_error(q->pub.ring)) {
		const char *why = vio_devq_error(q->pub.ring);

		q->pub.ring = NULL;
		queue_break(q, why);
		return -1;
	}
	return 0;
}

static void queue_try_start(struct vio_vu_be *be, struct vu_queue *q)
{
	uint32_t recovered, base;

	if (q->pub.running || !queue_should_run(q))
		return;
	/* GCC 12's -fanalyzer takes the ring state realloc'd into q->ring_mem for a leak (q
	 * points into be->queues[] at an index it does not know; a 30-line file with the same
	 * pattern gets the same report): a false positive, vio_vu_be_free() frees it. Silenced
	 * for this call only. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-malloc-leak"
#endif
	if (queue_setup_ring(be, q))
		return;
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
	/* Read now: once queue_start() returns, the daemon's thread owns the ring. */
	recovered = vio_devq_recovered(q->pub.ring);
	base = vio_devq_base(q->pub.ring);
	q->pub.running = true;
	if (be->cfg.hooks.queue_start && be->cfg.hooks.queue_start(be->cfg.opaque, &q->pub)) {
		q->pub.running = false;
		q->pub.ring = NULL;
		return;
	}
	vio_debug("vhost-user: queue %u running (size %u, base %u, %u chains to pop again "
		  "from the inflight log)", q->pub.index, q->pub.num, base, recovered);
	if (recovered)
		vio_info("vhost-user: queue %u: %u requests in flight before a restart are "
			 "resubmitted", q->pub.index, recovered);
	/* A process that died between publishing used buffers and writing the
	 * call eventfd lost that interrupt, and with EVENT_IDX no later flush
	 * would make up for it: signal once at every start with an inflight
	 * log (drivers handle spurious notifications, VIRTIO 1.4 §2.7.7.1). */
	if (be->inflight.addr && q->pub.index < be->inflight.num_queues)
		vio_vu_queue_notify(&q->pub);
}

static void queue_stop(struct vio_vu_be *be, struct vu_queue *q)
{
	if (!q->pub.running)
		return;
	if (be->cfg.hooks.queue_stop)
		be->cfg.hooks.queue_stop(be->cfg.opaque, &q->pub);
	/* Drained: every popped chain was pushed. Resume from here next time. */
	q->base = vio_devq_base(q->pub.ring);
	q->pub.running = false;
	q->pub.ring = NULL;
	vio_debug("vhost-user: queue %u stopped at %u", q->pub.index, q->base);
}

void vu_be_stop_all(struct vio_vu_be *be)
{
	for (uint16_t i = 0; i < be->cfg.num_queues; i++)
		queue_stop(be, &be->queues[i]);
}

void vu_be_start_all(struct vio_vu_be *be)
{
	for (uint16_t i = 0; i < be->cfg.num_queues; i++)
		queue_try_start(be, &be->queues[i]);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Back to the state of a new connection: stopped, disabled, no fds, no ring. */
static void queue_reset(struct vio_vu_be *be, struct vu_queue *q)
{
	queue_stop(be, q);
	close_fd(&q->pub.kick_fd);
	close_fd(&q->pub.call_fd);
	close_fd(&q->pub.err_fd);
	q->pub.started = q->pub.enabled = q->pub.broken = false;
	q->pub.num = 0;
	q->addr_set = false;
	q->base = 0;
}

int vio_vu_queue_notify(struct vio_vu_queue *q)
{
	if (q->call_fd < 0)
		return 0;
	return eventfd_write(q->call_fd, 1) ? -errno : 0;
}

int vio_vu_queue_fail(struct vio_vu_queue *q)
{
	q->broken = true;
	if (q->err_fd < 0)
		return 0;
	return eventfd_write(q->err_fd, 1) ? -errno : 0;
}

/* ---- handlers ------------------------------------------------------------ */

/* The queue a message names; the index was range-checked by dispatch. */
static struct vu_queue *msg_queue(struct vio_vu_be *be, uint32_t index)
{
	return &be->queues[index];
}

/*
 * Sends a reply (header @h, payload @p). The front-end waits for it, and one
 * cut short would leave the stream out of step: a reply that cannot be sent
 * whole - the send timeout expired because the front-end does not read, or
 * it hung up - ends the connection. Returns 0 or -ECONNRESET.
 */
static int send_reply(struct vio_vu_be *be, const struct vhost_user_header *h, const void *p)
{
	int r = vu_msg_send(be->sock, h, p, NULL, 0);

	if (r && r != -EPIPE && r != -ECONNRESET)
		vio_err("vhost-user: cannot send the reply to %s (%s); dropping the front-end",
			vio_vhost_user_request_name(h->request), strerror(-r));
	return r ? -ECONNRESET : 0;
}

static int reply_u64(struct vio_vu_be *be, const struct vu_msg *m, uint64_t v)
{
	struct vhost_user_header h = { m->hdr.request, VHOST_USER_VERSION | VHOST_USER_REPLY_MASK, 8 };

	return send_reply(be, &h, &v);
}

static int h_get_features(struct vio_vu_be *be, struct vu_msg *m)
{
	return reply_u64(be, m, be->features_offered);
}

static int h_set_features(struct vio_vu_be *be, struct vu_msg *m)
{
	uint64_t f = m->payload.u64;
	int r;

	if (f & ~be->features_offered) {
		vio_err("vhost-user: SET_FEATURES 0x%llx has bits never offered (0x%llx)",
			(unsigned long long)f, (unsigned long long)(f & ~be->features_offered));
		return -EINVAL;
	}
	vu_be_stop_all(be);
	r = vio_device_set_features(be->cfg.device, f, VIO_BIT(VHOST_USER_F_PROTOCOL_FEATURES));
	if (r) {
		vio_err("vhost-user: features 0x%llx refused (VIRTIO_F_VERSION_1 is required)",
			(unsigned long long)f);
		be->features_set = false;
		return r;
	}
	be->features = f;
	be->features_set = true;
	/* "Ring states": without protocol features every ring is enabled. */
	if (!vio_has_feature(f, VHOST_USER_F_PROTOCOL_FEATURES))
		for (uint16_t i = 0; i < be->cfg.num_queues; i++)
			be->queues[i].pub.enabled = true;
	vu_be_start_all(be);
	return 0;
}

static int h_set_owner(struct vio_vu_be *be, struct vu_msg *m)
{
	(void)be;
	(void)m;
	return 0;
}

static int h_reset_owner(struct vio_vu_be *be, struct vu_msg *m)
{
	(void)m;
	/* Deprecated; the protocol recommends disabling all rings. */
	vu_be_stop_all(be);
	for (uint16_t i = 0; i < be->cfg.num_queues; i++)
		be->queues[i].pub.enabled = false;
	return 0;
}

static int h_get_protocol_features(struct vio_vu_be *be, struct vu_msg *m)
{
	return reply_u64(be, m, be->cfg.protocol_features);
}

static int h_set_protocol_features(struct vio_vu_be *be, struct vu_msg *m)
{
	uint64_t p = m->payload.u64;

	if (p & ~be->cfg.protocol_features)
		vio_warn("vhost-user: protocol features 0x%llx were not offered; ignored",
			 (unsigned long long)(p & ~be->cfg.protocol_features));
	be->protocol = p & be->cfg.protocol_features;
	return 0;
}

static int h_get_queue_num(struct vio_vu_be *be, struct vu_msg *m)
{
	return reply_u64(be, m, be->cfg.num_queues);
}

static int h_get_max_mem_slots(struct vio_vu_be *be, struct vu_msg *m)
{
	return reply_u64(be, m, VIO_MEM_MAX_REGIONS);
}

/* SET_VRING_NUM/ADDR/BASE: the ring must be stopped (before KICK, or after GET_VRING_BASE). */
static int ring_stopped(struct vu_queue *q, const char *what)
{
	if (!q->pub.started)
		return 0;
	vio_err("vhost-user: %s on started queue %u", what, q->pub.index);
	return -EPROTO;
}

static int h_set_vring_num(struct vio_vu_be *be, struct vu_msg *m)
{
	struct vu_queue *q = msg_queue(be, m->payload.state.index);
	uint32_t num = m->payload.state.num;

	if (ring_stopped(q, "SET_VRING_NUM"))
		return -EPROTO;
	if (num == 0 || num > be->cfg.device->max_queue_size) {
		vio_err("vhost-user: queue %u: size %u not in 1..%u", q->pub.index, num,
			be->cfg.device->max_queue_size);
		q->pub.num = 0;
		return -EINVAL;
	}
	q->pub.num = num;
	return 0;
}

static int h_set_vring_addr(struct vio_vu_be *be, struct vu_msg *m)
{
	const struct vhost_vring_addr *a = &m->payload.addr;
	struct vu_queue *q = msg_queue(be, a->index);

	if (ring_stopped(q, "SET_VRING_ADDR"))
		return -EPROTO;
	if (a->flags & (1u << VHOST_VRING_F_LOG)) {
		vio_err("vhost-user: queue %u: dirty logging is not supported", q->pub.index);
		return -EINVAL;
	}
	/* Translated (and checked against guest memory) each time the ring starts. */
	q->desc_uva = a->desc_user_addr;
	q->avail_uva = a->avail_user_addr;
	q->used_uva = a->used_user_addr;
	q->addr_set = true;
	return 0;
}

static int h_set_vring_base(struct vio_vu_be *be, struct vu_msg *m)
{
	struct vu_queue *q = msg_queue(be, m->payload.state.index);

	if (ring_stopped(q, "SET_VRING_BASE"))
		return -EPROTO;
	/* Split: bits 0-15, the rest reserved. Packed: both positions and
	 * wrap counters ("Vring descriptor indices for packed virtqueues"),
	 * checked against the queue size when the ring starts. */
	if (!vio_has_feature(be->features, VIRTIO_F_RING_PACKED) && m->payload.state.num > 0xffff) {
		vio_err("vhost-user: queue %u: base 0x%x has reserved bits set", q->pub.index,
			m->payload.state.num);
		return -EINVAL;
	}
	q->base = m->payload.state.num;
	return 0;
}

static int h_get_vring_base(struct vio_vu_be *be, struct vu_msg *m)
{
	struct vu_queue *q = msg_queue(be, m->payload.state.index);
	struct vhost_vring_state s = { q->pub.index, 0 };
	struct vhost_user_header h = { m->hdr.request, VHOST_USER_VERSION | VHOST_USER_REPLY_MASK,
				       sizeof(s) };

	/* "Ring states": GET_VRING_BASE stops the ring; reply once drained. */
	queue_stop(be, q);
	q->pub.started = false;
	q->pub.broken = false; /* the next start sets the ring up anew */
	close_fd(&q->pub.kick_fd);
	s.num = q->base;
	return send_reply(be, &h, &s);
}

/* SET_VRING_KICK/CALL/ERR: takes the fd (or none with the no-fd bit). */
static int vring_fd(struct vu_msg *m, int *fd_out)
{
	bool nofd = m->payload.u64 & VHOST_USER_VRING_NOFD_MASK;
	int flags;

	if (m->payload.u64 & ~(uint64_t)(VHOST_USER_VRING_IDX_MASK | VHOST_USER_VRING_NOFD_MASK)) {
		vio_err("vhost-user: %s with reserved payload bits",
			vio_vhost_user_request_name(m->hdr.request));
		return -EPROTO;
	}
	if (m->nfds != (nofd ? 0u : 1u)) {
		vio_err("vhost-user: %s with %u fds and the no-fd bit %s",
			vio_vhost_user_request_name(m->hdr.request), m->nfds, nofd ? "set" : "clear");
		return -EPROTO;
	}
	if (nofd) {
		*fd_out = -1;
		return 0;
	}
	/*
	 * Non-blocking: the call and error fds are written from the queue
	 * threads and from here, and whatever the front-end passed (a pipe it
	 * never reads, say) must not be able to block those writes - a queue
	 * thread stuck in write() wedges queue_stop(), GET_VRING_BASE and
	 * disconnect, the whole daemon. A notification that does not fit is
	 * dropped (-EAGAIN). The flag is on the open file, shared with the
	 * front-end: eventfds, what QEMU passes, are non-blocking there already.
	 */
	flags = fcntl(m->fds[0], F_GETFL);
	if (flags < 0 || fcntl(m->fds[0], F_SETFL, flags | O_NONBLOCK) < 0) {
		vio_err("vhost-user: %s: cannot make the fd non-blocking: %s",
			vio_vhost_user_request_name(m->hdr.request), strerror(errno));
		return -EINVAL;
	}
	*fd_out = vu_msg_take_fd(m, 0);
	return 0;
}

static int h_set_vring_kick(struct vio_vu_be *be, struct vu_msg *m)
{
	struct vu_queue *q = msg_queue(be, m->payload.u64 & VHOST_USER_VRING_IDX_MASK);
	int fd, r;

	r = vring_fd(m, &fd);
	if (r)
		return r;
	queue_stop(be, q);
	close_fd(&q->pub.kick_fd);
	q->pub.kick_fd = fd;
	/* "Ring states": the ring starts with its kick fd. */
	q->pub.started = true;
	queue_try_start(be, q);
	return 0;
}

static int h_set_vring_call_or_err(struct vio_vu_be *be, struct vu_msg *m)
{
	struct vu_queue *q = msg_queue(be, m->payload.u64 & VHOST_USER_VRING_IDX_MASK);
	int fd, *slot = m->hdr.request == VHOST_USER_SET_VRING_CALL ? &q->pub.call_fd
								     : &q->pub.err_fd;
	bool was_running = q->pub.running;
	int r = vring_fd(m, &fd);

	if (r)
		return r;
	queue_stop(be, q);
	close_fd(slot);
	*slot = fd;
	if (was_running)
		queue_try_start(be, q);
	return 0;
}

static int h_set_vring_enable(struct vio_vu_be *be, struct vu_msg *m)
{
	struct vu_queue *q = msg_queue(be, m->payload.state.index);
	uint32_t on = m->payload.state.num;

	if (on > 1) {
		vio_err("vhost-user: SET_VRING_ENABLE %u for queue %u", on, q->pub.index);
		return -EINVAL;
	}
	queue_stop(be, q);
	q->pub.enabled = on;
	queue_try_start(be, q);
	return 0;
}

static int h_get_config(struct vio_vu_be *be, struct vu_msg *m)
{
	struct vhost_user_config *c = &m->payload.config;
	struct vhost_user_header h = { m->hdr.request, VHOST_USER_VERSION | VHOST_USER_REPLY_MASK,
				       m->hdr.size };

	/* The reply carries the same offset/size; an empty payload means failure. */
	if (vio_device_config_read(be->cfg.device, c->offset, c->region, c->size)) {
		vio_err("vhost-user: GET_CONFIG of bytes [%u, +%u) outside the config space",
			c->offset, c->size);
		h.size = 0;
	}
	return send_reply(be, &h, c);
}

static int h_set_config(struct vio_vu_be *be, struct vu_msg *m)
{
	struct vhost_user_config *c = &m->payload.config;
	int r;

	if (c->flags == VHOST_SET_CONFIG_TYPE_MIGRATION)
		return 0; /* the destination's copy of our own config: nothing to apply */
	r = vio_device_config_write(be->cfg.device, c->offset, c->region, c->size);
	if (r)
		vio_warn("vhost-user: SET_CONFIG of bytes [%u, +%u) refused", c->offset, c->size);
	return r;
}

static int h_reset_device(struct vio_vu_be *be, struct vu_msg *m)
{
	(void)m;
	for (uint16_t i = 0; i < be->cfg.num_queues; i++)
		queue_reset(be, &be->queues[i]);
	vu_be_unmap_all(&be->mem);
	vu_be_inflight_release(be);
	be->mem_set = false;
	be->features = 0;
	be->features_set = false;
	vio_device_reset(be->cfg.device);
	return 0;
}

static int h_get_inflight_fd(struct vio_vu_be *be, struct vu_msg *m)
{
	return vu_be_get_inflight_fd(be, m);
}

static int h_set_inflight_fd(struct vio_vu_be *be, struct vu_msg *m)
{
	return vu_be_set_inflight_fd(be, m);
}

static int h_set_mem_table(struct vio_vu_be *be, struct vu_msg *m)
{
	return vu_be_set_mem_table(be, m);
}

static int h_add_mem_reg(struct vio_vu_be *be, struct vu_msg *m)
{
	return vu_be_add_mem_reg(be, m);
}

static int h_rem_mem_reg(struct vio_vu_be *be, struct vu_msg *m)
{
	return vu_be_rem_mem_reg(be, m);
}

/* ---- the message table --------------------------------------------------- */

/* Where a message names its vring. */
enum vring_arg { VRING_NONE, VRING_STATE, VRING_ADDR, VRING_U64 };

/* What must have happened before a message is allowed. */
#define NEED_FEATURES 1u /* SET_FEATURES accepted */
#define NEED_MEM      2u /* a memory table received */

struct msg_spec {
	uint16_t min_size, max_size; /* payload bytes */
	uint8_t min_fds, max_fds;
	uint8_t vring;               /* enum vring_arg */
	uint8_t needs;               /* NEED_* */
	int8_t protocol_bit;         /* protocol feature that must be acked, or -1 */
	bool has_reply;              /* answers itself; no REPLY_ACK */
	int (*handler)(struct vio_vu_be *be, struct vu_msg *m);
};

#define U64 sizeof(uint64_t)
#define STATE sizeof(struct vhost_vring_state)
#define CFG_MIN VHOST_USER_CONFIG_HDR_SIZE
#define CFG_MAX (VHOST_USER_CONFIG_HDR_SIZE + VHOST_USER_MAX_CONFIG_SIZE)
#define MEMREG sizeof(struct vhost_user_mem_reg)
#define INFL sizeof(struct vhost_user_inflight)

static const struct msg_spec msg_table[VHOST_USER_MAX_REQUEST] = {
	[VHOST_USER_GET_FEATURES] = { 0, 0, 0, 0, VRING_NONE, 0, -1, true, h_get_features },
	[VHOST_USER_SET_FEATURES] = { U64, U64, 0, 0, VRING_NONE, 0, -1, false, h_set_features },
	[VHOST_USER_SET_OWNER] = { 0, 0, 0, 0, VRING_NONE, 0, -1, false, h_set_owner },
	[VHOST_USER_RESET_OWNER] = { 0, 0, 0, 0, VRING_NONE, 0, -1, false, h_reset_owner },
	[VHOST_USER_SET_MEM_TABLE] = { 8, sizeof(struct vhost_user_memory), 0, VHOST_USER_MAX_FDS,
				       VRING_NONE, 0, -1, false, h_set_mem_table },
	[VHOST_USER_SET_VRING_NUM] = { STATE, STATE, 0, 0, VRING_STATE, 0, -1, false,
				       h_set_vring_num },
	[VHOST_USER_SET_VRING_ADDR] = { sizeof(struct vhost_vring_addr),
					sizeof(struct vhost_vring_addr), 0, 0, VRING_ADDR,
					NEED_MEM, -1, false, h_set_vring_addr },
	[VHOST_USER_SET_VRING_BASE] = { STATE, STATE, 0, 0, VRING_STATE, 0, -1, false,
					h_set_vring_base },
	[VHOST_USER_GET_VRING_BASE] = { STATE, STATE, 0, 0, VRING_STATE, 0, -1, true,
					h_get_vring_base },
	[VHOST_USER_SET_VRING_KICK] = { U64, U64, 0, 1, VRING_U64, NEED_FEATURES | NEED_MEM, -1,
					false, h_set_vring_kick },
	[VHOST_USER_SET_VRING_CALL] = { U64, U64, 0, 1, VRING_U64, 0, -1, false,
					h_set_vring_call_or_err },
	[VHOST_USER_SET_VRING_ERR] = { U64, U64, 0, 1, VRING_U64, 0, -1, false,
				       h_set_vring_call_or_err },
	[VHOST_USER_GET_PROTOCOL_FEATURES] = { 0, 0, 0, 0, VRING_NONE, 0, -1, true,
					       h_get_protocol_features },
	[VHOST_USER_SET_PROTOCOL_FEATURES] = { U64, U64, 0, 0, VRING_NONE, 0, -1, false,
					       h_set_protocol_features },
	[VHOST_USER_GET_QUEUE_NUM] = { 0, 0, 0, 0, VRING_NONE, 0, -1, true, h_get_queue_num },
	[VHOST_USER_SET_VRING_ENABLE] = { STATE, STATE, 0, 0, VRING_STATE, 0, -1, false,
					  h_set_vring_enable },
	[VHOST_USER_GET_CONFIG] = { CFG_MIN, CFG_MAX, 0, 0, VRING_NONE, 0,
				    VHOST_USER_PROTOCOL_F_CONFIG, true, h_get_config },
	[VHOST_USER_SET_CONFIG] = { CFG_MIN, CFG_MAX, 0, 0, VRING_NONE, 0,
				    VHOST_USER_PROTOCOL_F_CONFIG, false, h_set_config },
	[VHOST_USER_RESET_DEVICE] = { 0, 0, 0, 0, VRING_NONE, 0, VHOST_USER_PROTOCOL_F_RESET_DEVICE,
				      false, h_reset_device },
	[VHOST_USER_GET_MAX_MEM_SLOTS] = { 0, 0, 0, 0, VRING_NONE, 0,
					   VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS, true,
					   h_get_max_mem_slots },
	[VHOST_USER_ADD_MEM_REG] = { MEMREG, MEMREG, 1, 1, VRING_NONE, 0,
				     VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS, false,
				     h_add_mem_reg },
	[VHOST_USER_GET_INFLIGHT_FD] = { INFL, INFL, 0, 0, VRING_NONE, 0,
					 VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD, true, h_get_inflight_fd },
	[VHOST_USER_SET_INFLIGHT_FD] = { INFL, INFL, 1, 1, VRING_NONE, 0,
					 VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD, false, h_set_inflight_fd },
	/* "MAY accept messages with one file descriptor ... MUST close it". */
	[VHOST_USER_REM_MEM_REG] = { MEMREG, MEMREG, 0, 1, VRING_NONE, 0,
				     VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS, false,
				     h_rem_mem_reg },
};

/* The vring index a message names, or -1 when it names none. */
static int64_t msg_vring(const struct msg_spec *s, const struct vu_msg *m)
{
	switch (s->vring) {
	case VRING_STATE: return m->payload.state.index;
	case VRING_ADDR: return m->payload.addr.index;
	case VRING_U64: return (int64_t)(m->payload.u64 & VHOST_USER_VRING_IDX_MASK);
	default: return -1;
	}
}

/* Checks @m against its table entry before any handler sees it; 0 or -EPROTO. */
static int msg_validate(struct vio_vu_be *be, const struct msg_spec *s, const struct vu_msg *m)
{
	const char *name = vio_vhost_user_request_name(m->hdr.request);
	int64_t vring;

	if (!s->handler) {
		vio_err("vhost-user: %s (%u) is not supported", name, m->hdr.request);
		return -EPROTO;
	}
	if (m->hdr.size < s->min_size || m->hdr.size > s->max_size) {
		vio_err("vhost-user: %s with a %u-byte payload (expected %u..%u)", name, m->hdr.size,
			s->min_size, s->max_size);
		return -EPROTO;
	}
	if (m->nfds < s->min_fds || m->nfds > s->max_fds) {
		vio_err("vhost-user: %s with %u fds (expected %u..%u)", name, m->nfds, s->min_fds,
			s->max_fds);
		return -EPROTO;
	}
	if (s->protocol_bit >= 0 && !vu_be_has_protocol(be, (unsigned)s->protocol_bit)) {
		vio_err("vhost-user: %s without its protocol feature", name);
		return -EPROTO;
	}
	vring = msg_vring(s, m);
	if (vring >= be->cfg.num_queues) {
		vio_err("vhost-user: %s for queue %lld, but only %u queues are offered "
			"(vio-blk --num-queues)", name, (long long)vring, be->cfg.num_queues);
		return -EPROTO;
	}
	if ((s->needs & NEED_FEATURES) && !be->features_set) {
		vio_err("vhost-user: %s before the features were set", name);
		return -EPROTO;
	}
	if ((s->needs & NEED_MEM) && !be->mem_set) {
		/* QEMU sends no memory table when guest RAM has no fd to share. */
		vio_err("vhost-user: %s before the memory table: the front-end shares no guest "
			"memory (QEMU: -object memory-backend-memfd,id=mem,size=<RAM>,share=on "
			"-numa node,memdev=mem)", name);
		return -EPROTO;
	}
	if (m->hdr.request == VHOST_USER_GET_CONFIG || m->hdr.request == VHOST_USER_SET_CONFIG) {
		if (m->payload.config.size > VHOST_USER_MAX_CONFIG_SIZE ||
		    m->hdr.size != CFG_MIN + m->payload.config.size) {
			vio_err("vhost-user: %s payload does not match its size field", name);
			return -EPROTO;
		}
	}
	return 0;
}

int vio_vu_be_handle(struct vio_vu_be *be)
{
	const struct msg_spec *s;
	struct vu_msg m;
	int r;

	if (be->sock < 0)
		return -ENOTCONN;
	r = vu_msg_recv(be->sock, &m);
	if (r) {
		if (r != -ECONNRESET)
			vio_err("vhost-user: malformed message from the front-end (%s)", strerror(-r));
		return r == -ETIMEDOUT ? -EPROTO : r;
	}
	vio_trace("vhost-user: %s (%u bytes, %u fds)", vio_vhost_user_request_name(m.hdr.request),
		  m.hdr.size, m.nfds);
	s = m.hdr.request < VHOST_USER_MAX_REQUEST ? &msg_table[m.hdr.request] : &msg_table[0];
	r = msg_validate(be, s, &m);
	if (!r)
		r = s->handler(be, &m);
	vu_msg_close_fds(&m); /* whatever the handler did not take */
	if (r == -EPROTO || r == -ECONNRESET || r == -EPIPE)
		return r == -EPROTO ? -EPROTO : -ECONNRESET;
	if (r)
		vio_debug("vhost-user: %s failed: %s", vio_vhost_user_request_name(m.hdr.request),
			  strerror(-r));
	/* REPLY_ACK: 0 for success, non-zero for failure, unless it replied already. */
	if (!s->has_reply && vu_be_has_protocol(be, VHOST_USER_PROTOCOL_F_REPLY_ACK) &&
	    (m.hdr.flags & VHOST_USER_NEED_REPLY_MASK)) {
		if (reply_u64(be, &m, r ? 1 : 0))
			return -ECONNRESET;
	}
	return 0;
}

/* ---- lifecycle ------------------------------------------------------------ */

int vio_vu_be_new(struct vio_vu_be **out, const struct vio_vu_be_config *cfg)
{
	struct vio_vu_be *be;

	if (!cfg->device || !cfg->num_queues || cfg->num_queues > cfg->device->max_queues ||
	    cfg->num_queues > VHOST_USER_VRING_IDX_MASK + 1u ||
	    (cfg->protocol_features & ~SUPPORTED_PROTOCOL_FEATURES))
		return -EINVAL;
	be = calloc(1, sizeof(*be));
	if (!be)
		return -ENOMEM;
	be->queues = calloc(cfg->num_queues, sizeof(be->queues[0]));
	if (!be->queues) {
		free(be);
		return -ENOMEM;
	}
	be->cfg = *cfg;
	if (!be->cfg.protocol_features)
		be->cfg.protocol_features = DEFAULT_PROTOCOL_FEATURES;
	be->features_offered = cfg->device->ops->features(cfg->device->dev) |
			       VIO_BIT(VHOST_USER_F_PROTOCOL_FEATURES);
	be->sock = -1;
	vio_mem_init(&be->mem);
	for (uint16_t i = 0; i < cfg->num_queues; i++) {
		struct vu_queue *q = &be->queues[i];

		q->pub.index = i;
		q->pub.kick_fd = q->pub.call_fd = q->pub.err_fd = -1;
	}
	*out = be;
	return 0;
}

void vio_vu_be_free(struct vio_vu_be *be)
{
	if (!be)
		return;
	vio_vu_be_disconnect(be);
	for (uint16_t i = 0; i < be->cfg.num_queues; i++)
		free(be->queues[i].ring_mem);
	free(be->queues);
	free(be);
}

int vio_vu_be_attach(struct vio_vu_be *be, int fd)
{
	struct timeval tv = { .tv_sec = MSG_TIMEOUT_S };

	if (be->sock >= 0)
		return -EBUSY;
	/* A front-end that stops half-way through a message must not hang us. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	be->sock = fd;
	return 0;
}

int vio_vu_be_fd(const struct vio_vu_be *be)
{
	return be->sock;
}

void vio_vu_be_disconnect(struct vio_vu_be *be)
{
	for (uint16_t i = 0; i < be->cfg.num_queues; i++)
		queue_reset(be, &be->queues[i]);
	vu_be_unmap_all(&be->mem);
	vu_be_unmap_all(&be->scratch);
	vu_be_inflight_release(be);
	be->mem_set = false;
	be->features = be->protocol = 0;
	be->features_set = false;
	if (be->sock >= 0) {
		vio_device_reset(be->cfg.device);
		close(be->sock);
	}
	be->sock = -1;
}

struct vio_vu_queue *vio_vu_be_queue(struct vio_vu_be *be, uint16_t index)
{
	return index < be->cfg.num_queues ? &be->queues[index].pub : NULL;
}

uint16_t vio_vu_be_num_queues(const struct vio_vu_be *be)
{
	return be->cfg.num_queues;
}
