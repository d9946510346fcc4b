/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vhost-user back-end: the shared inflight region (VHOST_USER_GET_INFLIGHT_FD,
 * VHOST_USER_SET_INFLIGHT_FD; vhost-user "Inflight I/O tracking").
 *
 * We create the region (a memfd) when the front-end asks for it and log every
 * chain in flight there; the front-end keeps the fd across our restarts and
 * hands it back, so that a new process completes what the old one had popped.
 * The region is one vio_devq_inflight_size(queue_size) slice per queue. What
 * comes back is untrusted: its size and shape are checked here, its contents
 * by the ring when a queue starts.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vhost_user_be_impl.h"
#include "vhost_user_guard.h"
#include "vio/log.h"

void vu_be_inflight_release(struct vio_vu_be *be)
{
	if (be->inflight.addr) {
		vu_guard_remove(be->inflight.addr);
		munmap(be->inflight.addr, be->inflight.size);
	}
	memset(&be->inflight, 0, sizeof(be->inflight));
}

/* Checks the shape the front-end asks for; 0 or -EINVAL. */
static int inflight_shape_ok(const struct vio_vu_be *be, const struct vhost_user_inflight *d)
{
	if (d->num_queues == 0 || d->num_queues > be->cfg.num_queues ||
	    d->queue_size == 0 || d->queue_size > be->cfg.device->max_queue_size) {
		vio_err("vhost-user: inflight region for %u queues of %u descriptors "
			"(at most %u queues of %u)", d->num_queues, d->queue_size,
			be->cfg.num_queues, be->cfg.device->max_queue_size);
		return -EINVAL;
	}
	return 0;
}

static uint64_t region_size(const struct vhost_user_inflight *d)
{
	return (uint64_t)d->num_queues * vio_devq_inflight_size(d->queue_size);
}

static void adopt(struct vio_vu_be *be, void *addr, uint64_t size, const struct vhost_user_inflight *d)
{
	/* Running queues log into the old region: stop them while it changes. */
	vu_be_stop_all(be);
	vu_be_inflight_release(be);
	be->inflight.addr = addr;
	be->inflight.size = size;
	vu_guard_add(addr, size);
	be->inflight.num_queues = d->num_queues;
	be->inflight.queue_size = d->queue_size;
	vu_be_start_all(be);
}

/*
 * The front-end waits for the reply to GET_INFLIGHT_FD whatever happens: a
 * refusal is a reply with mmap_size 0 and no fd ("no inflight region", as
 * QEMU reads it). Returns @err, or -ECONNRESET if the reply cannot be sent.
 */
static int refuse_get(struct vio_vu_be *be, const struct vu_msg *m, int err)
{
	struct vhost_user_inflight d = m->payload.inflight;
	struct vhost_user_header h = { m->hdr.request, VHOST_USER_VERSION | VHOST_USER_REPLY_MASK,
				       sizeof(d) };

	d.mmap_size = 0;
	d.mmap_offset = 0;
	return vu_msg_send(be->sock, &h, &d, NULL, 0) ? -ECONNRESET : err;
}

int vu_be_get_inflight_fd(struct vio_vu_be *be, struct vu_msg *m)
{
	struct vhost_user_inflight d = m->payload.inflight;
	struct vhost_user_header h = { m->hdr.request, VHOST_USER_VERSION | VHOST_USER_REPLY_MASK,
				       sizeof(d) };
	uint64_t size;
	void *p;
	int fd, r;

	if (inflight_shape_ok(be, &d))
		return refuse_get(be, m, -EINVAL);
	size = region_size(&d);
	fd = memfd_create("vio-inflight", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)size) < 0) {
		r = -errno;
		if (fd >= 0)
			close(fd);
		return refuse_get(be, m, r);
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		r = -errno;
		close(fd);
		return refuse_get(be, m, r);
	}
	d.mmap_size = size;
	d.mmap_offset = 0;
	r = vu_msg_send(be->sock, &h, &d, &fd, 1);
	close(fd); /* the front-end keeps its copy; our mapping stays */
	if (r) {
		munmap(p, size);
		return -ECONNRESET;
	}
	adopt(be, p, size, &d);
	vio_debug("vhost-user: new inflight region, %u queues of %u", d.num_queues, d.queue_size);
	return 0;
}

int vu_be_set_inflight_fd(struct vio_vu_be *be, struct vu_msg *m)
{
	const struct vhost_user_inflight *d = &m->payload.inflight;
	uint64_t need = region_size(d), end;
	struct stat st;
	void *p;

	if (inflight_shape_ok(be, d))
		return -EINVAL;
	if (d->mmap_size < need || __builtin_add_overflow(d->mmap_offset, d->mmap_size, &end) ||
	    (d->mmap_offset & (uint64_t)(sysconf(_SC_PAGESIZE) - 1))) {
		vio_err("vhost-user: inflight region of %llu bytes at %llu (needs %llu, page-aligned)",
			(unsigned long long)d->mmap_size, (unsigned long long)d->mmap_offset,
			(unsigned long long)need);
		return -EINVAL;
	}
	/* Like guest memory: a file long enough, so no access can fault. */
	if (fstat(m->fds[0], &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size < end) {
		vio_err("vhost-user: inflight fd is not a file of %llu bytes", (unsigned long long)end);
		return -EINVAL;
	}
	p = mmap(NULL, need, PROT_READ | PROT_WRITE, MAP_SHARED, m->fds[0], (off_t)d->mmap_offset);
	if (p == MAP_FAILED)
		return -errno;
	adopt(be, p, need, d);
	vio_debug("vhost-user: inflight region handed back, %u queues of %u", d->num_queues,
		  d->queue_size);
	return 0;
}

void *vu_be_inflight_for(struct vio_vu_be *be, struct vu_queue *q, size_t *size)
{
	if (!be->inflight.addr || q->pub.index >= be->inflight.num_queues)
		return NULL;
	*size = vio_devq_inflight_size(be->inflight.queue_size);
	return (char *)be->inflight.addr + (size_t)q->pub.index * *size;
}
