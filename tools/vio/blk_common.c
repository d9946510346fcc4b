/* SPDX-License-Identifier: BSD-3-Clause */
/* What the blk subcommands share: options, the connection, pipelined I/O, names, parsing. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vio.h"
#include "vio/log.h"

/* Shared memory beyond the driver's queues: slack for the allocator. */
#define MEM_SLACK (1u << 20)

const char blk_common_help[] =
	"  --timeout=SECONDS       connect, each message and each request (default 30)\n"
	"  --num-queues=N          request queues to use\n"
	"  --queue-size=N          descriptors per queue, 4..32768, a power of two\n"
	"                          unless the ring is packed (default 128)\n"
	"  --depth=N               requests in flight per queue\n"
	"  --log-level=LEVEL       error, warn (default), info, debug, trace\n"
	"  --disable-features=LIST do not negotiate these (INDIRECT_DESC,EVENT_IDX,\n"
	"                          RING_PACKED,IN_ORDER,...)\n"
	"  --ring=split|packed     the virtqueue layout (default: packed when offered)\n"
	"  --help\n";

void errmsg(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "vio: %s\n", line);
}

int parse_uint(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!*s || *s == '-')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

int parse_size(const char *s, uint64_t *out)
{
	static const char units[] = "KMGTP";
	unsigned long long v;
	char *end;
	int shift = 0;

	if (!*s || *s == '-')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		return -1;
	if (*end) {
		const char *u = strchr(units, end[0] >= 'a' ? end[0] - 32 : end[0]);

		if (!u || !*u)
			return -1;
		shift = 10 * (int)(u - units + 1);
		end++;
		if (!strcmp(end, "iB") || !strcmp(end, "B"))
			end += strlen(end);
		if (*end)
			return -1;
	}
	if (shift && v > (UINT64_MAX >> shift))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

/* Parses "NAME[,NAME...]" of feature names into bits; VERSION_1 cannot go. */
static int parse_features(const char *arg, uint64_t *out)
{
	char buf[256], *save = NULL;

	if (strlen(arg) >= sizeof(buf))
		return -1;
	memcpy(buf, arg, strlen(arg) + 1);
	*out = 0;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		unsigned b;

		for (b = 0; b < 64; b++)
			if (blk_feature_name(b) && !strcasecmp(t, blk_feature_name(b)))
				break;
		if (b == 64 || b == VIRTIO_F_VERSION_1) {
			errmsg("--disable-features: '%s' is not a feature that can be left out", t);
			return -1;
		}
		*out |= VIO_BIT(b);
	}
	return 0;
}

int blk_common_option(int c, const char *arg, struct blk_conn_opts *o)
{
	enum vio_log_level level;
	uint64_t v;

	switch (c) {
	case OPT_TIMEOUT:
		if (parse_uint(arg, 1, 3600, &v))
			break;
		o->timeout_ms = (int)v * 1000;
		return 0;
	case OPT_NUM_QUEUES:
		if (parse_uint(arg, 1, 256, &v))
			break;
		o->num_queues = (uint16_t)v;
		return 0;
	case OPT_QUEUE_SIZE:
		/* A power of two for the split ring: checked once the layout
		 * is negotiated (the blk driver says so). */
		if (parse_uint(arg, 4, 32768, &v))
			break;
		o->queue_size = (uint32_t)v;
		return 0;
	case OPT_DEPTH:
		if (parse_uint(arg, 1, 32768, &v))
			break;
		o->depth = (uint32_t)v;
		return 0;
	case OPT_LOG_LEVEL:
		if (vio_log_parse_level(arg, &level))
			break;
		vio_log_set_level(level);
		return 0;
	case OPT_DISABLE:
		return parse_features(arg, &o->disable) ? -1 : 0;
	case OPT_RING:
		if (!strcmp(arg, "split"))
			o->ring = RING_SPLIT;
		else if (!strcmp(arg, "packed"))
			o->ring = RING_PACKED;
		else
			break;
		return 0;
	case OPT_HELP:
		return 1;
	default:
		return -2;
	}
	errmsg("invalid value '%s' for --%s", arg,
	       c == OPT_TIMEOUT ? "timeout (1..3600 seconds)" :
	       c == OPT_NUM_QUEUES ? "num-queues (1..256)" :
	       c == OPT_QUEUE_SIZE ? "queue-size (4..32768)" :
	       c == OPT_DEPTH ? "depth (1..32768)" :
	       c == OPT_RING ? "ring (split or packed)" :
	       "log-level (error, warn, info, debug, trace)");
	return -1;
}

int blk_take_socket(int argc, char **argv, struct blk_conn_opts *o)
{
	if (optind >= argc) {
		errmsg("missing SOCKET (the back-end's vhost-user socket)");
		return -1;
	}
	if (optind + 1 < argc) {
		errmsg("unexpected argument '%s'", argv[optind + 1]);
		return -1;
	}
	o->socket = argv[optind];
	return 0;
}

/* Explains an error of connect / open in the user's terms. */
static void explain_open(const struct blk_conn_opts *o, int r, const char *stage)
{
	switch (r) {
	case -ENOENT:
		errmsg("%s: no such socket (is the back-end running?)", o->socket);
		break;
	case -ECONNREFUSED:
		errmsg("%s: connection refused (no back-end listening)", o->socket);
		break;
	case -EACCES:
		errmsg("%s: permission denied", o->socket);
		break;
	case -ENOTSOCK:
		errmsg("%s: not a socket", o->socket);
		break;
	default:
		errmsg("%s: %s: %s", o->socket, stage, strerror(-r));
	}
}

int blk_open(struct blk_dev *d, const struct blk_conn_opts *o, uint16_t default_queues,
	     size_t data_per_queue)
{
	struct vio_vu_fe_options fo = { .socket_path = o->socket, .fd = -1,
					.timeout_ms = o->timeout_ms };
	struct vio_blk_drv_options bo = { .num_queues = o->num_queues ? o->num_queues
								      : default_queues,
					  .queue_size = o->queue_size, .depth = o->depth,
					  .features = VIO_BLK_DRV_FEATURES & ~o->disable };
	uint64_t packed = VIO_BIT(VIRTIO_F_RING_PACKED);
	uint32_t qs = o->queue_size ? o->queue_size : VIO_BLK_DRV_QUEUE_SIZE;
	uint64_t nq;
	int r;

	memset(d, 0, sizeof(*d));
	d->timeout_ms = o->timeout_ms;
	if (o->ring == RING_SPLIT)
		bo.features &= ~packed;
	if (o->ring == RING_PACKED && (o->disable & packed)) {
		errmsg("--ring=packed and --disable-features=RING_PACKED contradict each other");
		return -EINVAL;
	}
	r = vio_vu_fe_connect(&d->fe, &fo);
	if (r) {
		explain_open(o, r, "connect");
		return r;
	}
	/*
	 * Size the shared memory for the queues the driver may set up (all of
	 * them; without MQ the back-end does not say how many: assume 16). It
	 * is a sparse memfd: only what is used costs memory.
	 */
	nq = bo.num_queues ? bo.num_queues : vio_vu_fe_queue_num(d->fe);
	nq = nq ? nq : 16;
	r = vio_vu_fe_mem_create(d->fe, MEM_SLACK + nq * (vio_blk_drv_dma_size(qs, qs) +
							  data_per_queue));
	if (!r)
		r = vio_blk_drv_open(&d->drv, vio_vu_fe_transport(), d->fe, &bo);
	if (r) {
		explain_open(o, r, "cannot use the device");
		vio_vu_fe_close(d->fe);
		d->fe = NULL;
		return r;
	}
	d->info = vio_blk_drv_info(d->drv);
	if (o->ring == RING_PACKED && !(d->info->features & packed)) {
		errmsg("%s: the back-end does not offer VIRTIO_F_RING_PACKED (--ring=packed)",
		       o->socket);
		blk_close(d);
		return -ENOTSUP;
	}
	return 0;
}

const char *blk_ring_name(uint64_t features)
{
	bool packed = vio_has_feature(features, VIRTIO_F_RING_PACKED);

	if (vio_has_feature(features, VIRTIO_F_IN_ORDER))
		return packed ? "packed+in_order" : "split+in_order";
	return packed ? "packed" : "split";
}

void blk_close(struct blk_dev *d)
{
	vio_blk_drv_close(d->drv);
	vio_vu_fe_close(d->fe);
	d->drv = NULL;
	d->fe = NULL;
}

int blk_wait(struct blk_dev *d, struct vio_blk_drv_queue *q, struct vio_blk_req *req,
	     const char *what)
{
	int r = vio_blk_drv_wait_req(q, req, d->timeout_ms);

	if (r == -ETIMEDOUT) {
		/* The record may go away now; the device keeps what it holds. */
		vio_blk_drv_abandon(q, req);
		errmsg("%s: no completion within %d s (the back-end is stuck)", what,
		       d->timeout_ms / 1000);
	}
	return r;
}

/* ---- pipelined I/O ------------------------------------------------------------ */

int pipe_init(struct pipe *p, struct blk_dev *d, struct vio_blk_drv_queue *q, unsigned nslots,
	      size_t chunk, pipe_done_fn done, void *ctx)
{
	memset(p, 0, sizeof(*p));
	p->d = d;
	p->q = q;
	p->chunk = chunk;
	p->done = done;
	p->ctx = ctx;
	p->slots = calloc(nslots, sizeof(p->slots[0]));
	if (!p->slots)
		goto nomem;
	p->nslots = nslots;
	for (unsigned i = 0; i < nslots; i++) {
		p->slots[i].buf = vio_blk_drv_buf_alloc(d->drv, chunk);
		if (!p->slots[i].buf)
			goto nomem;
	}
	return 0;
nomem:
	errmsg("out of shared memory for %u buffers of %zu bytes", nslots, chunk);
	pipe_fini(p);
	return -ENOMEM;
}

/* Waits for slot @s and hands it to the callback. */
static int retire(struct pipe *p, struct pipe_slot *s)
{
	int r;

	char what[64];

	if (!s->busy)
		return 0;
	snprintf(what, sizeof(what), "%s at offset %" PRIu64, s->write ? "write" : "read", s->off);
	r = blk_wait(p->d, p->q, &s->req, what);
	s->busy = false;
	if (r == -ETIMEDOUT) {
		s->abandoned = true;
		p->error = -1;
		return -1;
	}
	if (r) {
		errmsg("%s of %zu bytes at offset %" PRIu64 " failed: %s",
		       s->write ? "write" : "read", s->len, s->off, strerror(-r));
		p->error = -1;
		return -1;
	}
	if (p->done && p->done(p->ctx, s)) {
		p->error = -1;
		return -1;
	}
	return 0;
}

uint8_t *pipe_next(struct pipe *p)
{
	struct pipe_slot *s = &p->slots[p->next];

	if (p->error || retire(p, s))
		return NULL;
	return s->buf;
}

int pipe_submit(struct pipe *p, bool write, uint64_t off, size_t len)
{
	struct pipe_slot *s = &p->slots[p->next];
	int r;

	memset(&s->req, 0, sizeof(s->req));
	s->off = off;
	s->len = len;
	s->write = write;
	r = write ? vio_blk_drv_write(p->q, &s->req, off, s->buf, len)
		  : vio_blk_drv_read(p->q, &s->req, off, s->buf, len);
	if (r) {
		errmsg("%s of %zu bytes at offset %" PRIu64 ": %s", write ? "write" : "read", len,
		       off, strerror(-r));
		p->error = -1;
		return -1;
	}
	s->busy = true;
	p->next = (p->next + 1) % p->nslots;
	return 0;
}

int pipe_drain(struct pipe *p)
{
	for (unsigned i = 0; i < p->nslots; i++) {
		struct pipe_slot *s = &p->slots[(p->next + i) % p->nslots];

		if (p->error)
			break;
		retire(p, s);
	}
	return p->error ? -1 : 0;
}

void pipe_fini(struct pipe *p)
{
	if (!p->slots)
		return;
	for (unsigned i = 0; i < p->nslots; i++) {
		struct pipe_slot *s = &p->slots[i];

		/* Give up what is still out: the records go away with the slots. */
		if (s->busy) {
			vio_blk_drv_abandon(p->q, &s->req);
			s->abandoned = true;
		}
		/* A buffer the device may still write stays allocated until the close. */
		if (!s->abandoned)
			vio_blk_drv_buf_free(p->d->drv, s->buf);
	}
	free(p->slots);
	p->slots = NULL;
}

/* ---- names ---------------------------------------------------------------------- */

const char *blk_feature_name(unsigned bit)
{
	static const char *const names[64] = {
		[0] = "BARRIER", [1] = "SIZE_MAX", [2] = "SEG_MAX", [4] = "GEOMETRY", [5] = "RO",
		[6] = "BLK_SIZE", [7] = "SCSI", [9] = "FLUSH", [10] = "TOPOLOGY",
		[11] = "CONFIG_WCE", [12] = "MQ", [13] = "DISCARD", [14] = "WRITE_ZEROES",
		[15] = "LIFETIME", [16] = "SECURE_ERASE", [17] = "ZONED",
		[24] = "NOTIFY_ON_EMPTY", [27] = "ANY_LAYOUT", [28] = "INDIRECT_DESC",
		[29] = "EVENT_IDX", [32] = "VERSION_1", [33] = "ACCESS_PLATFORM",
		[34] = "RING_PACKED", [35] = "IN_ORDER", [36] = "ORDER_PLATFORM", [37] = "SR_IOV",
		[38] = "NOTIFICATION_DATA", [39] = "NOTIF_CONFIG_DATA", [40] = "RING_RESET",
		[41] = "ADMIN_VQ",
	};

	return bit < 64 ? names[bit] : NULL;
}

const char *vu_protocol_feature_name(unsigned bit)
{
	static const char *const names[] = {
		"MQ", "LOG_SHMFD", "RARP", "REPLY_ACK", "MTU", "BACKEND_REQ", "CROSS_ENDIAN",
		"CRYPTO_SESSION", "PAGEFAULT", "CONFIG", "BACKEND_SEND_FD", "HOST_NOTIFIER",
		"INFLIGHT_SHMFD", "RESET_DEVICE", "INBAND_NOTIFICATIONS", "CONFIGURE_MEM_SLOTS",
		"STATUS", "XEN_MMAP", "SHARED_OBJECT", "DEVICE_STATE",
	};

	return bit < sizeof(names) / sizeof(names[0]) ? names[bit] : NULL;
}
