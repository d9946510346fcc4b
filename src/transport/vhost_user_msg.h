/* SPDX-License-Identifier: BSD-3-Clause */
/* Sending and receiving vhost-user messages with their fds (both sides). */
#ifndef VIO_TRANSPORT_VHOST_USER_MSG_H
#define VIO_TRANSPORT_VHOST_USER_MSG_H

#include <stdint.h>

#include "vio/vhost_user.h"

/* A message as received: header, payload and the fds that came with it. */
struct vu_msg {
	struct vhost_user_header hdr;
	union vhost_user_payload payload;
	int fds[VHOST_USER_MAX_FDS];
	unsigned nfds;
};

/* Once a message's first bytes arrived, the rest must follow within this. */
#define VU_MSG_REST_MS 1000

/*
 * Receives one message from @sock into @m. The payload size is checked
 * against VHOST_USER_PAYLOAD_MAX before it is read. Received fds are
 * close-on-exec and owned by @m (close them with vu_msg_close_fds()).
 * Returns 0; -ECONNRESET if the peer closed the connection (also in the
 * middle of a message); -EPROTO if the payload is too large, the version
 * is wrong or more than VHOST_USER_MAX_FDS fds came (all are closed);
 * -ETIMEDOUT if the first bytes did not come within the socket's receive
 * timeout, or the rest of the message within VU_MSG_REST_MS of them; -EIO
 * on another socket error.
 */
int vu_msg_recv(int sock, struct vu_msg *m);

/*
 * Sends header @hdr (whose size field gives the payload length) and
 * @payload, with @nfds fds from @fds as SCM_RIGHTS. Returns 0 or -errno.
 */
int vu_msg_send(int sock, const struct vhost_user_header *hdr, const void *payload,
		const int *fds, unsigned nfds);

/* Closes every fd still held by @m and forgets them. */
void vu_msg_close_fds(struct vu_msg *m);

/* Takes fd @i out of @m (the caller owns it now); -1 if there is none. */
int vu_msg_take_fd(struct vu_msg *m, unsigned i);

#endif /* VIO_TRANSPORT_VHOST_USER_MSG_H */
