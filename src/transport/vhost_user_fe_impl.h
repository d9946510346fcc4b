/* SPDX-License-Identifier: BSD-3-Clause */
/* The vhost-user front-end's internals, shared by its files. */
#ifndef VIO_TRANSPORT_VHOST_USER_FE_IMPL_H
#define VIO_TRANSPORT_VHOST_USER_FE_IMPL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vio/driver.h"
#include "vio/vhost_user.h"
#include "vio/vhost_user_fe.h"

/* ---- shared memory and its allocator (vhost_user_fe_mem.c) ---- */

struct vu_fe_extent {
	size_t off, len; /* bytes from the start of the region */
};

struct vu_fe_mem {
	int fd;           /* the memfd; -1 before creation */
	uint8_t *base;    /* our mapping */
	size_t size;      /* bytes, a multiple of the page size */
	pthread_mutex_t lock;
	/* Allocations, sorted by offset. Private memory: the back-end cannot touch it. */
	struct vu_fe_extent *used;
	size_t nused, cap;
};

void vu_fe_mem_init(struct vu_fe_mem *m);
/* Creates, seals and maps the memfd; 0 or -errno. */
int vu_fe_mem_create(struct vu_fe_mem *m, size_t size);
void vu_fe_mem_destroy(struct vu_fe_mem *m);
/* First fit; zeroed; NULL with errno ENOMEM (or EINVAL for a bad alignment). */
void *vu_fe_mem_alloc(struct vu_fe_mem *m, size_t size, size_t align, uint64_t *gpa);
void vu_fe_mem_free(struct vu_fe_mem *m, void *p);
/* The guest-physical address of [p, p + len) inside one allocation; 0 or -EFAULT. */
int vu_fe_mem_gpa(struct vu_fe_mem *m, const void *p, size_t len, uint64_t *gpa);
/* Our address of [gpa, gpa + len) inside one allocation; NULL if it is not. */
void *vu_fe_mem_ptr(struct vu_fe_mem *m, uint64_t gpa, size_t len);

/* ---- the connection ---- */

/* vring indices are 8 bits in SET_VRING_KICK/CALL/ERR. */
#define VU_FE_MAX_QUEUES (VHOST_USER_VRING_IDX_MASK + 1u)

struct vu_fe_queue {
	bool configured;              /* queue_setup() since the last reset */
	bool started;                 /* vring messages sent: GET_VRING_BASE stops it */
	struct vio_queue_layout layout;
	int kick_fd, call_fd, err_fd; /* eventfds, created at the first set-up */
};

struct vio_vu_fe {
	int sock;
	int timeout_ms;
	int error;                 /* sticky: 0, or why the connection is unusable */
	uint64_t backend_features; /* GET_FEATURES */
	uint64_t protocol_offered; /* GET_PROTOCOL_FEATURES */
	uint64_t protocol;         /* negotiated */
	uint16_t queue_num;        /* GET_QUEUE_NUM, 0 without MQ */
	uint8_t status;            /* without PROTOCOL_F_STATUS: kept here */
	uint64_t features;         /* the driver's, last SET_FEATURES */
	bool features_refused;     /* the back-end refused that SET_FEATURES */
	struct vu_fe_mem mem;
	struct vu_fe_queue queues[VU_FE_MAX_QUEUES];
};

static inline bool vu_fe_has_protocol(const struct vio_vu_fe *fe, unsigned bit)
{
	return (fe->protocol >> bit) & 1u;
}

/* ---- messages (vhost_user_fe.c) ---- */

/*
 * Records @err (negative errno) as the reason the connection is unusable,
 * unless one is recorded already, and logs why. Returns the recorded error.
 */
int vu_fe_break(struct vio_vu_fe *fe, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Sends @req with @size bytes of @payload and @nfds fds; with REPLY_ACK
 * negotiated (and @ack), asks for and checks the u64 acknowledgement.
 * Returns 0; -EIO if the back-end answered non-zero (refused); the sticky
 * connection error.
 */
int vu_fe_send(struct vio_vu_fe *fe, uint32_t req, const void *payload, uint32_t size,
	       const int *fds, unsigned nfds, bool ack);

/*
 * Sends @req (payload @out, @out_size bytes) and receives its reply of
 * exactly @in_size bytes into @in. Returns 0 or the sticky connection error.
 */
int vu_fe_call(struct vio_vu_fe *fe, uint32_t req, const void *out, uint32_t out_size,
	       void *in, uint32_t in_size);

/*
 * GET_CONFIG of [off, off + len): 0; -ENOTSUP without PROTOCOL_F_CONFIG;
 * -EINVAL for len 0 or above 256; -EIO if the back-end answered with an
 * empty payload (its refusal); the sticky connection error.
 */
int vu_fe_get_config(struct vio_vu_fe *fe, uint32_t off, void *buf, uint32_t len);

#endif /* VIO_TRANSPORT_VHOST_USER_FE_IMPL_H */
