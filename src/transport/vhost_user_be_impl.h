/* SPDX-License-Identifier: BSD-3-Clause */
/* Internal state of the vhost-user back-end, shared by its files. */
#ifndef VIO_TRANSPORT_VHOST_USER_BE_IMPL_H
#define VIO_TRANSPORT_VHOST_USER_BE_IMPL_H

#include <stdbool.h>
#include <stddef.h>

#include "vhost_user_msg.h"
#include "vio/vhost_user_be.h"

struct vu_queue {
	struct vio_vu_queue pub;
	uint64_t desc_uva, avail_uva, used_uva; /* SET_VRING_ADDR, front-end addresses */
	bool addr_set;
	uint32_t base;      /* next available index (SET_VRING_BASE / after a stop) */
	void *ring_mem;     /* storage for pub.ring */
	size_t ring_mem_size;
};

struct vio_vu_be {
	struct vio_vu_be_config cfg;
	int sock;
	uint64_t features_offered;   /* device features + VHOST_USER_F_PROTOCOL_FEATURES */
	uint64_t features;           /* as acked by SET_FEATURES */
	bool features_set;
	uint64_t protocol;           /* acked protocol features */
	bool mem_set;                /* a memory table was received */
	struct vio_mem mem;
	struct vio_mem scratch;      /* SET_MEM_TABLE builds the new table here */
	struct vu_queue *queues;     /* [cfg.num_queues] */
	struct {                     /* GET/SET_INFLIGHT_FD region, mapped */
		void *addr;
		uint64_t size;
		uint16_t num_queues, queue_size;
	} inflight;
};

/* Memory handlers (vhost_user_be_mem.c): 0, -EPROTO, or another -errno to refuse. */
int vu_be_set_mem_table(struct vio_vu_be *be, struct vu_msg *m);
int vu_be_add_mem_reg(struct vio_vu_be *be, struct vu_msg *m);
int vu_be_rem_mem_reg(struct vio_vu_be *be, struct vu_msg *m);
/* Inflight region handlers (vhost_user_be_inflight.c). */
int vu_be_get_inflight_fd(struct vio_vu_be *be, struct vu_msg *m);
int vu_be_set_inflight_fd(struct vio_vu_be *be, struct vu_msg *m);
void vu_be_inflight_release(struct vio_vu_be *be);
/* Queue @q's slice of the inflight region and its size, or NULL. */
void *vu_be_inflight_for(struct vio_vu_be *be, struct vu_queue *q, size_t *size);

/* Unmaps every region of @m and empties it. */
void vu_be_unmap_all(struct vio_mem *m);

/* Stops every running queue (memory is about to change) / starts those that should run. */
void vu_be_stop_all(struct vio_vu_be *be);
void vu_be_start_all(struct vio_vu_be *be);

static inline bool vu_be_has_protocol(const struct vio_vu_be *be, unsigned bit)
{
	return (be->protocol >> bit) & 1u;
}

#endif /* VIO_TRANSPORT_VHOST_USER_BE_IMPL_H */
