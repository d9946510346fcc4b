/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The virtio-blk driver against a fake device in the same process: a fake
 * transport whose "device" serves each notification at once through the
 * device-side ring (vio/devq.h). Covers the request formats and splitting
 * (SEG_MAX, SIZE_MAX, discard / write-zeroes limits), the depth limit, and
 * what the driver does with a device that misbehaves (bad status byte, used
 * length, short read, broken ring, error notification) or goes away.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "vio/blk_drv.h"
#include "vio/devq.h"
#include "vio/log.h"
#include "vio/mem.h"
#include "vio/virtio_ring.h"

#define GPA_BASE 0x10000000ull
#define DMA_SIZE (8u << 20)
#define DISK_SECTORS 2048u /* 1 MiB */
#define NQ 2
#define REC_MAX 256

enum mode { DEV_OK, DEV_HOLD, DEV_BAD_STATUS, DEV_LEN_BIG, DEV_LEN_ZERO, DEV_IOERR, DEV_UNSUPP,
	    DEV_SHORT_READ };

struct rec {
	uint32_t type;
	uint64_t sector;
	uint32_t ndata;        /* data iovecs */
	uint32_t max_iov;      /* longest data iovec */
	uint64_t data_bytes;
	uint32_t nseg;         /* discard / write-zeroes segments */
	struct virtio_blk_discard_write_zeroes seg[8];
};

struct dev {
	uint8_t *dma;
	size_t used;                 /* bump allocator */
	struct vio_mem vm;           /* the device's view of DMA memory */
	uint64_t offered, accepted;
	struct virtio_blk_config cfg;
	uint8_t status;
	bool refuse_features;
	struct {
		bool set;
		struct vio_queue_layout l;
		struct vio_devq *dq;
		int call, err;
	} q[NQ];
	int conn[2];
	enum mode mode;
	uint8_t disk[DISK_SECTORS * 512];
	struct rec rec[REC_MAX];
	unsigned nrec;
	uint32_t max_inflight;
};

static struct dev *g; /* the fixture, for the transport callbacks */

/* ---- the fake transport ---- */

static int t_reset(void *t)
{
	struct dev *d = t;

	d->status = 0;
	for (int i = 0; i < NQ; i++) {
		free(d->q[i].dq);
		d->q[i].dq = NULL;
		d->q[i].set = false;
	}
	return 0;
}

static int t_get_status(void *t, uint8_t *st)
{
	*st = ((struct dev *)t)->status;
	return 0;
}

static void start_queues(struct dev *d)
{
	for (int i = 0; i < NQ; i++) {
		struct vio_devq_config c = { .num = d->q[i].l.num, .features = d->accepted,
					     .desc = d->q[i].l.desc, .driver = d->q[i].l.driver,
					     .device = d->q[i].l.device, .mem = &d->vm,
					     /* packed: both wrap counters 1 */
					     .base = vio_has_feature(d->accepted, VIRTIO_F_RING_PACKED)
							     ? 0x80008000u : 0 };

		if (!d->q[i].set)
			continue;
		d->q[i].dq = aligned_alloc(8, (vio_devq_size(c.num) + 7) & ~(size_t)7);
		assert_int_equal(vio_devq_init(d->q[i].dq, &c), 0);
	}
}

static int t_set_status(void *t, uint8_t st)
{
	struct dev *d = t;

	if ((st & VIRTIO_CONFIG_S_DRIVER_OK) && !(d->status & VIRTIO_CONFIG_S_DRIVER_OK))
		start_queues(d);
	d->status = st;
	if (d->refuse_features)
		d->status &= (uint8_t)~VIRTIO_CONFIG_S_FEATURES_OK;
	return 0;
}

static int t_get_features(void *t, uint64_t *f)
{
	*f = ((struct dev *)t)->offered;
	return 0;
}

static int t_set_features(void *t, uint64_t f)
{
	((struct dev *)t)->accepted = f;
	return 0;
}

static int t_config_read(void *t, uint32_t off, void *buf, uint32_t len)
{
	struct dev *d = t;

	assert_true(off + len <= sizeof(d->cfg));
	memcpy(buf, (uint8_t *)&d->cfg + off, len);
	return 0;
}

static int t_queue_setup(void *t, uint16_t i, const struct vio_queue_layout *l)
{
	struct dev *d = t;

	if (i >= NQ)
		return -EINVAL;
	d->q[i].l = *l;
	d->q[i].set = true;
	return 0;
}

static void serve(struct dev *d, uint16_t i);

static int t_queue_notify(void *t, uint16_t i)
{
	struct dev *d = t;

	/* VIRTIO 1.4 §3.1.1: no notification before DRIVER_OK. */
	assert_true(d->status & VIRTIO_CONFIG_S_DRIVER_OK);
	if (d->mode != DEV_HOLD)
		serve(d, i);
	return 0;
}

static int t_queue_fds(void *t, uint16_t i, struct vio_queue_fds *fds)
{
	struct dev *d = t;

	*fds = (struct vio_queue_fds){ d->q[i].call, d->q[i].err, d->conn[0] };
	return 0;
}

static void *t_dma_alloc(void *t, size_t size, size_t align, uint64_t *addr)
{
	struct dev *d = t;
	size_t at = (d->used + align - 1) & ~(align - 1);

	if (at + size > DMA_SIZE)
		return NULL;
	d->used = at + size;
	if (addr)
		*addr = GPA_BASE + at;
	memset(d->dma + at, 0, size);
	return d->dma + at;
}

static void t_dma_free(void *t, void *p)
{
	(void)t;
	(void)p;
}

static int t_dma_addr(void *t, const void *p, size_t len, uint64_t *addr)
{
	struct dev *d = t;
	const uint8_t *b = p;

	if (b < d->dma || b + len > d->dma + d->used)
		return -EFAULT;
	*addr = GPA_BASE + (uint64_t)(b - d->dma);
	return 0;
}

static const struct vio_transport_ops t_ops = {
	.reset = t_reset, .get_status = t_get_status, .set_status = t_set_status,
	.get_features = t_get_features, .set_features = t_set_features,
	.config_read = t_config_read, .queue_setup = t_queue_setup,
	.queue_notify = t_queue_notify, .queue_fds = t_queue_fds,
	.dma_alloc = t_dma_alloc, .dma_free = t_dma_free, .dma_addr = t_dma_addr,
};

/* ---- the fake device ---- */

static void iov_copy(const struct iovec *iov, uint32_t n, uint64_t off, void *buf, uint64_t len,
		     bool to_iov)
{
	uint8_t *p = buf;

	for (uint32_t i = 0; i < n && len; i++) {
		uint64_t l;

		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		l = iov[i].iov_len - off < len ? iov[i].iov_len - off : len;
		if (to_iov)
			memcpy((uint8_t *)iov[i].iov_base + off, p, l);
		else
			memcpy(p, (uint8_t *)iov[i].iov_base + off, l);
		p += l;
		len -= l;
		off = 0;
	}
}

/* Carries out one request; returns the status and sets *written (data bytes). */
static uint8_t execute(struct dev *d, const struct vio_chain *c, struct rec *r, uint32_t *written)
{
	struct virtio_blk_outhdr h;
	const struct iovec *in = c->iov + c->nout;
	uint64_t data_in = c->in_bytes - 1;

	iov_copy(c->iov, c->nout, 0, &h, sizeof(h), false);
	r->type = le32_to_cpu(h.type);
	r->sector = le64_to_cpu(h.sector);
	*written = 0;
	switch (r->type) {
	case VIRTIO_BLK_T_IN:
		r->ndata = c->nin - 1;
		r->data_bytes = data_in;
		for (uint32_t i = 0; i + 1 < c->nin; i++)
			r->max_iov = in[i].iov_len > r->max_iov ? (uint32_t)in[i].iov_len : r->max_iov;
		iov_copy(in, c->nin, 0, d->disk + r->sector * 512, data_in, true);
		*written = (uint32_t)data_in;
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_OUT:
		r->ndata = c->nout - 1;
		r->data_bytes = c->out_bytes - 16;
		for (uint32_t i = 1; i < c->nout; i++)
			r->max_iov = c->iov[i].iov_len > r->max_iov ? (uint32_t)c->iov[i].iov_len
								      : r->max_iov;
		iov_copy(c->iov, c->nout, 16, d->disk + r->sector * 512, r->data_bytes, false);
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		r->nseg = (uint32_t)((c->out_bytes - 16) / 16);
		assert_true(r->nseg <= 8);
		iov_copy(c->iov, c->nout, 16, r->seg, 16ull * r->nseg, false);
		for (uint32_t i = 0; i < r->nseg && r->type == VIRTIO_BLK_T_WRITE_ZEROES; i++)
			memset(d->disk + le64_to_cpu(r->seg[i].sector) * 512, 0,
			       le32_to_cpu(r->seg[i].num_sectors) * 512ull);
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_GET_ID:
		iov_copy(in, c->nin, 0, "fake-serial-0123456789", 20, true);
		*written = 20;
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_FLUSH:
		return VIRTIO_BLK_S_OK;
	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
}

/* The used length and status the current mode reports. */
static uint32_t misbehave(struct dev *d, uint8_t *status, uint32_t written, uint32_t type)
{
	switch (d->mode) {
	case DEV_BAD_STATUS: *status = 7; break;
	case DEV_IOERR: *status = VIRTIO_BLK_S_IOERR; break;
	case DEV_UNSUPP: *status = VIRTIO_BLK_S_UNSUPP; break;
	case DEV_LEN_ZERO: return 0;
	case DEV_SHORT_READ: return type == VIRTIO_BLK_T_IN ? written / 2 + 1 : written + 1;
	default: break;
	}
	return written + 1;
}

static void serve(struct dev *d, uint16_t i)
{
	struct vio_devq *q = d->q[i].dq;
	struct iovec iov[300];
	struct vio_chain c = { .iov = iov, .iov_cap = 300 };
	uint32_t n = 0;
	int r;

	while ((r = vio_devq_pop(q, &c)) == 1) {
		struct rec *rc = &d->rec[d->nrec < REC_MAX ? d->nrec++ : REC_MAX - 1];
		uint32_t written, len;
		uint8_t st;

		memset(rc, 0, sizeof(*rc));
		/* Everything available is taken at once: n is what the driver had out. */
		if (++n > d->max_inflight)
			d->max_inflight = n;
		st = execute(d, &c, rc, &written);
		len = misbehave(d, &st, written, rc->type);
		iov_copy(c.iov + c.nout, c.nin, c.in_bytes - 1, &st, 1, true);
		assert_int_equal(vio_devq_push(q, c.id, len), 0);
	}
	assert_int_equal(r, 0);
	vio_devq_flush(q);
	if (d->mode == DEV_LEN_BIG) {
		/* A used length the ring layer would clamp: written straight into the used ring. */
		struct virtq_used *u = d->q[i].l.device;
		uint16_t idx = le16_to_cpu(u->idx);

		u->ring[(uint16_t)(idx - 1) % d->q[i].l.num].len = cpu_to_le32(1u << 20);
	}
	eventfd_write(d->q[i].call, 1);
}

/* Serves what was held back, in the normal way. */
static void release(struct dev *d, uint16_t i)
{
	d->mode = DEV_OK;
	serve(d, i);
}

/* ---- fixture ---- */

static int setup(void **state)
{
	struct dev *d = calloc(1, sizeof(*d));
	struct vio_mem_region reg;

	vio_log_set_level(getenv("VIO_TEST_VERBOSE") ? VIO_LOG_TRACE : (enum vio_log_level)-1);
	d->dma = aligned_alloc(4096, DMA_SIZE);
	reg = (struct vio_mem_region){ .gpa = GPA_BASE, .size = DMA_SIZE, .uva = GPA_BASE,
				       .hva = d->dma, .fd = -1 };
	vio_mem_init(&d->vm);
	assert_int_equal(vio_mem_add(&d->vm, &reg), 0);
	d->offered = VIO_BIT(VIRTIO_F_VERSION_1) | VIO_BIT(VIRTIO_F_INDIRECT_DESC) |
		     VIO_BIT(VIRTIO_BLK_F_SIZE_MAX) | VIO_BIT(VIRTIO_BLK_F_SEG_MAX) |
		     VIO_BIT(VIRTIO_BLK_F_MQ) | VIO_BIT(VIRTIO_BLK_F_DISCARD) |
		     VIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES) | VIO_BIT(VIRTIO_BLK_F_FLUSH);
	d->cfg.capacity = cpu_to_le64(DISK_SECTORS);
	d->cfg.size_max = cpu_to_le32(4096);
	d->cfg.seg_max = cpu_to_le32(4);
	d->cfg.num_queues = cpu_to_le16(NQ);
	d->cfg.max_discard_sectors = cpu_to_le32(8);
	d->cfg.max_discard_seg = cpu_to_le32(2);
	d->cfg.max_write_zeroes_sectors = cpu_to_le32(16);
	d->cfg.max_write_zeroes_seg = cpu_to_le32(1);
	for (int i = 0; i < NQ; i++) {
		d->q[i].call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		d->q[i].err = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	}
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, d->conn), 0);
	g = d;
	*state = d;
	return 0;
}

static int teardown(void **state)
{
	struct dev *d = *state;

	t_reset(d);
	for (int i = 0; i < NQ; i++) {
		close(d->q[i].call);
		close(d->q[i].err);
	}
	close(d->conn[0]);
	if (d->conn[1] >= 0)
		close(d->conn[1]);
	free(d->dma);
	free(d);
	return 0;
}

static struct vio_blk_drv *open_drv(struct dev *d, uint16_t nq, uint32_t depth)
{
	struct vio_blk_drv *drv;

	assert_int_equal(vio_blk_drv_open(&drv, &t_ops, d, &(struct vio_blk_drv_options){
		.num_queues = nq, .queue_size = 16, .depth = depth }), 0);
	return drv;
}

static int sync_read(struct vio_blk_drv_queue *q, uint64_t off, void *buf, size_t len)
{
	struct vio_blk_req r = { 0 };
	int e = vio_blk_drv_read(q, &r, off, buf, len);

	return e ? e : vio_blk_drv_wait_req(q, &r, 1000);
}

/* ---- tests ---- */

static void test_open_reads_config(void **state)
{
	struct dev *d = *state;
	struct vio_blk_drv *drv = open_drv(d, 0, 0);
	const struct vio_blk_drv_info *in = vio_blk_drv_info(drv);

	assert_int_equal(in->capacity, DISK_SECTORS);
	assert_int_equal(in->num_queues, NQ);
	assert_int_equal(in->blk_size, 512);
	assert_int_equal(in->max_transfer, 4 * 4096);
	assert_true(d->status & VIRTIO_CONFIG_S_DRIVER_OK);
	vio_blk_drv_close(drv);
}

/* The device's num_queues is the limit, even where the transport could set up more. */
static void test_more_queues_than_device(void **state)
{
	struct dev *d = *state;
	struct vio_blk_drv *drv;

	d->cfg.num_queues = cpu_to_le16(1);
	assert_int_equal(vio_blk_drv_open(&drv, &t_ops, d, &(struct vio_blk_drv_options){
		.num_queues = 2 }), -EINVAL);
	assert_false(d->q[1].set);
}

static void test_features_ok_refused(void **state)
{
	struct dev *d = *state;
	struct vio_blk_drv *drv;

	d->refuse_features = true;
	assert_int_equal(vio_blk_drv_open(&drv, &t_ops, d, &(struct vio_blk_drv_options){ 0 }),
			 -ENOTSUP);
	assert_true(d->status & VIRTIO_CONFIG_S_FAILED);
}

/* 64 KiB with seg_max 4 and size_max 4096: four requests of four 4 KiB segments. */
static void test_rw_split_by_seg_and_size_max(void **state)
{
	struct dev *d = *state;
	struct vio_blk_drv *drv = open_drv(d, 1, 0);
	struct vio_blk_drv_queue *q = vio_blk_drv_queue(drv, 0);
	uint8_t *buf = vio_blk_drv_buf_alloc(drv, 65536);
	struct vio_blk_req w = { 0 };

	for (unsigned i = 0; i < 65536; i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	assert_int_equal(vio_blk_drv_write(q, &w, 8192, buf, 65536), 0);
	assert_int_equal(vio_blk_drv_wait_req(q, &w, 1000), 0);
	assert_memory_equal(d->disk + 8192, buf, 65536);
	assert_int_equal(d->nrec, 4);
	for (unsigned i = 0; i < 4; i++) {
		assert_int_equal(d->rec[i].type, VIRTIO_BLK_T_OUT);
		assert_int_equal(d->rec[i].sector, 16 + 32 * i);
		assert_int_equal(d->rec[i].ndata, 4);
		assert_int_equal(d->rec[i].max_iov, 4096);
	}
	memset(buf, 0, 65536);
	assert_int_equal(sync_read(q, 8192, buf, 65536), 0);
	assert_memory_equal(d->disk + 8192, buf, 65536);
	assert_int_equal(d->rec[4].type, VIRTIO_BLK_T_IN);
	vio_blk_drv_close(drv);
}

/*
 * Regression: with indirect tables a request still may not be longer than
 * the Queue Size (VIRTIO 1.4 §2.7.5.3.1); a queue of 4 carries 2 data
 * segments per request, not seg_max's 4.
 */
static void test_small_queue_limits_segments(void **state)
{
	struct dev *d = *state;
	struct vio_blk_drv *drv;
	struct vio_blk_drv_queue *q;
	struct vio_blk_req w = { 0 };
	uint8_t *buf;

	assert_int_equal(vio_blk_drv_open(&drv, &t_ops, d, &(struct vio_blk_drv_options){
		.num_queues = 1, .queue_size = 4 }), 0);
	q = vio_blk_drv_queue(drv, 0);
	buf = vio_blk_drv_buf_alloc(drv, 32768);
	memset(buf, 0x5c, 32768);
	assert_int_equal(vio_blk_drv_write(q, &w, 0, buf, 32768), 0);
	assert_int_equal(vio_blk_drv_wait_req(q, &w, 1000), 0);
	assert_memory_equal(d->disk, buf, 32768);
	assert_int_equal(d->nrec, 4);
	for (unsigned i = 0; i < d->nrec; i++)
		assert_int_equal(d->rec[i].ndata, 2);
	vio_blk_drv_close(drv);
}

/* 64 sectors, max 8 per segment and 2 per request: four discard requests. */
static void test_discard_split(void **state)
{
	struct dev *d = *state;
	struct vio_blk_drv *drv = open_drv(d, 1, 0);
	struct vio_blk_drv_queue *q = vio_blk_drv_queue(drv, 0);
	struct vio_blk_req r = { 0 };
	uint64_t next = 4;

	assert_int_equal(vio_blk_drv_discard(q, &r, 4 * 512, 64 * 512), 0);
	assert_int_equal(vio_blk_drv_wait_req(q, &r, 1000), 0);
	assert_int_equal(d->nrec, 4);
	for (unsigned i = 0; i < 4; i++) {
		assert_int_equal(d->rec[i].type, VIRTIO_BLK_T_DISCARD);
		assert_int_equal(d->rec[i].sector, 0);
		assert_int_equal(d->rec[i].nseg, 2);
		for (unsigned k = 0; k < 2; k++) {
			assert_int_equal(le64_to_cpu(d->rec[i].seg[k].sector), next);
			assert_int_equal(le32_to_cpu(d->rec[i].seg[k].num_sectors), 8);
			assert_int_equal(le32_to_cpu(d->rec[i].seg[k].flags), 0);
			next += 8;
		}
	}
	vio_blk_drv_close(drv);
}

static void test_write_zeroes_unmap(void **state)
{
	struct dev *d = *state;
	struct vio_blk_drv *drv = open_drv(d, 1, 0);
	struct vio_blk_drv_queue *q = vio_blk_drv_queue(drv, 0);
	struct vio_blk_req r = { 0 };
	uint8_t zero[40 * 512] = { 0 };

	memset(d->disk, 0xaa, sizeof(d->disk));
	assert_int_equal(vio_blk_drv_write_zeroes(q, &r, 512, 40 * 512, VIO_BLK_DRV_UNMAP), 0);
	assert_int_equal(vio_blk_drv_wait_req(q, &r, 1000), 0);
	assert_memory_equal(d->disk + 512, zero, sizeof(zero));
	assert_int_equal(d->disk[511], 0xaa);
	assert_int_equal(d->disk[41 * 512], 0xaa);
	assert_int_equal(d->nrec, 3); /* 16 + 16 + 8 sectors, one segment each */
	assert_int_equal(le32_to_cpu(d->rec[2].seg[0].num_sectors), 8);
	assert_int_equal(le32_to_cpu(d->rec[0].seg[0].flags), VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	assert_int_equal(vio_blk_drv_write_zeroes(q, &r, 0, 512, 2), -EINVAL);
	vio_blk_drv_close(drv);
}

static void test_get_id_and_flush(void **state)
{
	struct dev *d = *state;
	struct vio_blk_drv *drv = open_drv(d, 1, 0);
	struct vio_blk_drv_queue *q = vio_blk_drv_queue(drv, 0);
	struct vio_blk_req r = { 0 };
	char id[21];

	assert_int_equal(vio_blk_drv_get_id(q, &r, id), 0);
	assert_int_equal(vio_blk_drv_wait_req(q, &r, 1000), 0);
	assert_string_equal(id, "fake-serial-01234567");
	assert_int_equal(vio_blk_drv_flush(q, &r), 0);
	assert_int_equal(vio_blk_drv_wait_req(q, &r, 1000), 0);
	assert_int_equal(d->rec[1].type, VIRTIO_BLK_T_FLUSH);
	assert_int_equal(d->rec[1].sector, 0);
	vio_blk_drv_close(drv);
}

/* Without VIRTIO_BLK_F_FLUSH the device is write-through: nothing to send. */
static void test_flush_without_feature(void **state)
{
	struct dev *d = *state;
	struct vio_blk_drv *drv;
	struct vio_blk_drv_queue *q;
	struct vio_blk_req r = { 0 };

	d->offered &= ~VIO_BIT(VIRTIO_BLK_F_FLUSH);
	drv = open_drv(d, 1, 0);
	q = vio_blk_drv_queue(drv, 0);
	assert_int_equal(vio_blk_drv_flush(q, &r), 0);
	assert_false(r.complete);
	assert_int_equal(vio_blk_drv_poll(q), 1);
	assert_true(r.complete);
	assert_int_equal(r.result, 0);
	assert_int_equal(d->nrec, 0);
	vio_blk_drv_close(drv);
}

static void test_bad_arguments(void **state)
{
	struct dev *d = *state;
	struct vio_blk_drv *drv = open_drv(d, 1, 0);
	struct vio_blk_drv_queue *q = vio_blk_drv_queue(drv, 0);
	uint8_t *buf = vio_blk_drv_buf_alloc(drv, 4096), local[512];
	struct vio_blk_req r = { 0 };

	assert_int_equal(vio_blk_drv_read(q, &r, 100, buf, 512), -EINVAL);
	assert_int_equal(vio_blk_drv_read(q, &r, 0, buf, 100), -EINVAL);
	assert_int_equal(vio_blk_drv_read(q, &r, 0, buf, 0), -EINVAL);
	assert_int_equal(vio_blk_drv_read(q, &r, DISK_SECTORS * 512ull - 512, buf, 1024), -EINVAL);
	assert_int_equal(vio_blk_drv_read(q, &r, UINT64_MAX - 511, buf, 512), -EINVAL);
	assert_int_equal(vio_blk_drv_read(q, &r, 0, local, 512), -EFAULT);
	assert_int_equal(vio_blk_drv_read(q, &r, 0, buf, 8192), -EFAULT);
	assert_int_equal(d->nrec, 0);
	vio_blk_drv_close(drv);
}

static void test_read_only(void **state)
{
	struct dev *d = *state;
	struct vio_blk_drv *drv;
	struct vio_blk_drv_queue *q;
	struct vio_blk_req r = { 0 };
	uint8_t *buf;

	d->offered |= VIO_BIT(VIRTIO_BLK_F_RO);
	drv = open_drv(d, 1, 0);
	q = vio_blk_drv_queue(drv, 0);
	buf = vio_blk_drv_buf_alloc(drv, 512);
	assert_int_equal(vio_blk_drv_write(q, &r, 0, buf, 512), -EROFS);
	assert_int_equal(vio_blk_drv_discard(q, &r, 0, 512), -EROFS);
	assert_int_equal(sync_read(q, 0, buf, 512), 0);
	vio_blk_drv_close(drv);
}

/* What the device reports in the status byte and used length decides the result. */
static void test_device_results(void **state)
{
	static const struct { enum mode mode; int result; } cases[] = {
		{ DEV_IOERR, -EIO }, { DEV_UNSUPP, -ENOTSUP }, { DEV_BAD_STATUS, -EPROTO },
		{ DEV_LEN_ZERO, -EIO }, { DEV_SHORT_READ, -EPROTO }, { DEV_OK, 0 },
	};
	struct dev *d = *state;
	struct vio_blk_drv *drv = open_drv(d, 1, 0);
	struct vio_blk_drv_queue *q = vio_blk_drv_queue(drv, 0);
	uint8_t *buf = vio_blk_drv_buf_alloc(drv, 4096);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		d->mode = cases[i].mode;
		assert_int_equal(sync_read(q, 0, buf, 4096), cases[i].result);
		/* A bad request does not break the queue. */
		assert_int_equal(vio_blk_drv_queue_error(q), 0);
	}
	vio_blk_drv_close(drv);
}

/* A used length beyond the buffer breaks the ring: everything fails with -EPROTO. */
static void test_used_length_too_large(void **state)
{
	struct dev *d = *state;
	struct vio_blk_drv *drv = open_drv(d, 1, 0);
	struct vio_blk_drv_queue *q = vio_blk_drv_queue(drv, 0);
	uint8_t *buf = vio_blk_drv_buf_alloc(drv, 4096);
	struct vio_blk_req r = { 0 };

	d->mode = DEV_LEN_BIG;
	assert_int_equal(sync_read(q, 0, buf, 512), -EPROTO);
	assert_int_equal(vio_blk_drv_queue_error(q), -EPROTO);
	assert_int_equal(vio_blk_drv_read(q, &r, 0, buf, 512), -EPROTO);
	vio_blk_drv_close(drv);
}

static void count_done(struct vio_blk_req *r)
{
	(*(int *)r->opaque)++;
}

/* A device that goes away: what was in flight completes with -ECONNRESET, promptly. */
static void test_device_gone(void **state)
{
	struct dev *d = *state;
	struct vio_blk_drv *drv = open_drv(d, 1, 0);
	struct vio_blk_drv_queue *q = vio_blk_drv_queue(drv, 0);
	uint8_t *buf = vio_blk_drv_buf_alloc(drv, 3 * 512);
	struct vio_blk_req r[3];
	int done = 0;

	d->mode = DEV_HOLD;
	for (int i = 0; i < 3; i++) {
		r[i] = (struct vio_blk_req){ .done = count_done, .opaque = &done };
		assert_int_equal(vio_blk_drv_read(q, &r[i], 0, buf + 512 * i, 512), 0);
	}
	assert_int_equal(vio_blk_drv_wait(q, 50), 0); /* nothing yet */
	close(d->conn[1]);
	d->conn[1] = -1;
	assert_int_equal(vio_blk_drv_wait(q, 5000), 3);
	assert_int_equal(done, 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(r[i].result, -ECONNRESET);
	assert_int_equal(vio_blk_drv_read(q, &r[0], 0, buf, 512), -ECONNRESET);
	assert_int_equal(vio_blk_drv_inflight(q), 0);
	vio_blk_drv_close(drv);
}

static void test_error_notification(void **state)
{
	struct dev *d = *state;
	struct vio_blk_drv *drv = open_drv(d, 1, 0);
	struct vio_blk_drv_queue *q = vio_blk_drv_queue(drv, 0);
	uint8_t *buf = vio_blk_drv_buf_alloc(drv, 512);
	struct vio_blk_req r = { 0 };

	d->mode = DEV_HOLD;
	assert_int_equal(vio_blk_drv_read(q, &r, 0, buf, 512), 0);
	eventfd_write(d->q[0].err, 1);
	assert_int_equal(vio_blk_drv_wait_req(q, &r, 5000), -EIO);
	vio_blk_drv_close(drv);
}

static void test_timeout(void **state)
{
	struct dev *d = *state;
	struct vio_blk_drv *drv = open_drv(d, 1, 0);
	struct vio_blk_drv_queue *q = vio_blk_drv_queue(drv, 0);
	uint8_t *buf = vio_blk_drv_buf_alloc(drv, 512);
	struct vio_blk_req r = { 0 };

	d->mode = DEV_HOLD;
	assert_int_equal(vio_blk_drv_read(q, &r, 0, buf, 512), 0);
	assert_int_equal(vio_blk_drv_wait_req(q, &r, 100), -ETIMEDOUT);
	assert_int_equal(vio_blk_drv_read(q, &r, 0, buf, 512), -EBUSY);
	release(d, 0);
	assert_int_equal(vio_blk_drv_wait_req(q, &r, 1000), 0);
	vio_blk_drv_close(drv);
}

/*
 * A request given up after a timeout: the record may be freed at once (ASan
 * sees any later use), the device's late completion only frees the slot, and
 * a waiting one is never sent.
 */
static void test_abandon(void **state)
{
	struct dev *d = *state;
	struct vio_blk_drv *drv = open_drv(d, 1, 1);
	struct vio_blk_drv_queue *q = vio_blk_drv_queue(drv, 0);
	uint8_t *buf = vio_blk_drv_buf_alloc(drv, 1024);
	struct vio_blk_req *sent = calloc(1, sizeof(*sent)), *waiting = calloc(1, sizeof(*waiting));
	char *id = malloc(VIRTIO_BLK_ID_BYTES + 1);
	int done = 0;

	*sent = (struct vio_blk_req){ .done = count_done, .opaque = &done };
	*waiting = *sent;
	d->mode = DEV_HOLD;
	assert_int_equal(vio_blk_drv_get_id(q, sent, id), 0);
	assert_int_equal(vio_blk_drv_read(q, waiting, 0, buf, 512), 0);
	assert_int_equal(vio_blk_drv_wait_req(q, sent, 50), -ETIMEDOUT);
	vio_blk_drv_abandon(q, sent);
	vio_blk_drv_abandon(q, waiting);
	free(sent);
	free(waiting);
	free(id);
	assert_int_equal(vio_blk_drv_inflight(q), 0);
	release(d, 0);
	assert_int_equal(vio_blk_drv_wait(q, 100), 0);
	assert_int_equal(done, 0);
	assert_int_equal(d->nrec, 1); /* the waiting read never went out */
	/* The slot (depth 1) is free again. */
	assert_int_equal(sync_read(q, 0, buf + 512, 512), 0);
	assert_int_equal(d->nrec, 2);
	vio_blk_drv_close(drv);
}

/* At most depth virtio requests in flight; the rest wait their turn, in order. */
static void test_depth_limit(void **state)
{
	struct dev *d = *state;
	struct vio_blk_drv *drv = open_drv(d, 1, 2);
	struct vio_blk_drv_queue *q = vio_blk_drv_queue(drv, 0);
	uint8_t *buf = vio_blk_drv_buf_alloc(drv, 5 * 512);
	struct vio_blk_req r[5];
	int done = 0;

	d->mode = DEV_HOLD;
	for (int i = 0; i < 5; i++) {
		r[i] = (struct vio_blk_req){ .done = count_done, .opaque = &done };
		assert_int_equal(vio_blk_drv_read(q, &r[i], 512 * i, buf + 512 * i, 512), 0);
	}
	assert_int_equal(vio_blk_drv_inflight(q), 5);
	while (done < 5) {
		release(d, 0);
		d->mode = DEV_HOLD;
		assert_true(vio_blk_drv_wait(q, 1000) > 0);
	}
	assert_int_equal(d->max_inflight, 2);
	for (int i = 0; i < 5; i++)
		assert_int_equal(d->rec[i].sector, i);
	vio_blk_drv_close(drv);
}

/*
 * The packed ring and IN_ORDER are negotiated when offered, and a packed
 * Queue Size need not be a power of two (VIRTIO 1.4 §2.8): reads and
 * writes round a ring of 6 many times, with and without in-order.
 */
static void packed_ring(struct dev *d, uint64_t extra)
{
	struct vio_blk_drv *drv;
	struct vio_blk_drv_queue *q;
	uint8_t *buf;

	d->offered |= VIO_BIT(VIRTIO_F_RING_PACKED) | VIO_BIT(VIRTIO_F_EVENT_IDX) | extra;
	assert_int_equal(vio_blk_drv_open(&drv, &t_ops, d, &(struct vio_blk_drv_options){
		.num_queues = 1, .queue_size = 6 }), 0);
	assert_true(vio_has_feature(vio_blk_drv_info(drv)->features, VIRTIO_F_RING_PACKED));
	assert_true(d->accepted & VIO_BIT(VIRTIO_F_RING_PACKED));
	assert_int_equal(!!(d->accepted & VIO_BIT(VIRTIO_F_IN_ORDER)), !!extra);
	assert_int_equal(d->q[0].l.num, 6);
	q = vio_blk_drv_queue(drv, 0);
	buf = vio_blk_drv_buf_alloc(drv, 16384);
	for (unsigned round = 0; round < 40; round++) {
		struct vio_blk_req w = { 0 };
		size_t len = 512u * (1 + round % 32);

		memset(buf, (int)round + 1, len);
		assert_int_equal(vio_blk_drv_write(q, &w, 512u * round, buf, len), 0);
		assert_int_equal(vio_blk_drv_wait_req(q, &w, 1000), 0);
		assert_memory_equal(d->disk + 512u * round, buf, len);
		memset(buf, 0, len);
		assert_int_equal(sync_read(q, 512u * round, buf, len), 0);
		assert_memory_equal(d->disk + 512u * round, buf, len);
	}
	vio_blk_drv_close(drv);
}

static void test_packed_ring(void **state)
{
	packed_ring(*state, 0);
}

static void test_packed_ring_in_order(void **state)
{
	packed_ring(*state, VIO_BIT(VIRTIO_F_IN_ORDER));
}

/* VIRTIO 1.4 §2.7: without the packed ring, a Queue Size of 6 is refused. */
static void test_split_queue_size_must_be_a_power_of_two(void **state)
{
	struct dev *d = *state;
	struct vio_blk_drv *drv;

	assert_int_equal(vio_blk_drv_open(&drv, &t_ops, d, &(struct vio_blk_drv_options){
		.num_queues = 1, .queue_size = 6 }), -EINVAL);
	assert_false(d->q[0].set);
	assert_true(d->status & VIRTIO_CONFIG_S_FAILED);
}

/* Closing with requests in flight completes them with -ECANCELED. */
static void test_close_cancels(void **state)
{
	struct dev *d = *state;
	struct vio_blk_drv *drv = open_drv(d, 2, 0);
	struct vio_blk_drv_queue *q = vio_blk_drv_queue(drv, 1);
	uint8_t *buf = vio_blk_drv_buf_alloc(drv, 512);
	struct vio_blk_req r = { .done = count_done };
	int done = 0;

	r.opaque = &done;
	d->mode = DEV_HOLD;
	assert_int_equal(vio_blk_drv_read(q, &r, 0, buf, 512), 0);
	vio_blk_drv_close(drv);
	assert_int_equal(done, 1);
	assert_int_equal(r.result, -ECANCELED);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_open_reads_config), T(test_more_queues_than_device),
		T(test_features_ok_refused), T(test_rw_split_by_seg_and_size_max),
		T(test_small_queue_limits_segments),
		T(test_discard_split), T(test_write_zeroes_unmap), T(test_get_id_and_flush),
		T(test_flush_without_feature), T(test_bad_arguments), T(test_read_only),
		T(test_device_results), T(test_used_length_too_large), T(test_device_gone),
		T(test_error_notification), T(test_timeout), T(test_abandon), T(test_depth_limit),
		T(test_close_cancels), T(test_packed_ring), T(test_packed_ring_in_order),
		T(test_split_queue_size_must_be_a_power_of_two),
	};

	(void)g;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
