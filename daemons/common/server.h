/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The back-end program's socket and main loop, following QEMU's "Backend
 * program conventions" (vhost-user.rst): --socket-path or --fd (listening or
 * connected: detected), one front-end at a time, keep listening after a
 * disconnect unless told to exit, a clean exit on SIGTERM/SIGINT, counters
 * on SIGUSR1.
 */
#ifndef VIO_DAEMON_SERVER_H
#define VIO_DAEMON_SERVER_H

#include <stdbool.h>
#include <sys/types.h>

#include "vio/vhost_user_be.h"

struct server {
	int listen_fd;          /* -1 when started on a connected --fd */
	int conn_fd;            /* the connected fd given with --fd, until attached */
	const char *socket_path; /* created by us: removed at exit */
	bool exit_on_disconnect;
	struct vio_vu_be *be;
	int guard_fd;           /* vio_vu_sigbus_guard(): guest memory shrank under us, or -1 */
	void (*report)(void *opaque); /* SIGUSR1 and exit: print counters */
	void *opaque;
};

/*
 * Creates and binds the listening socket at @path, owner-only unless @mode
 * says otherwise (and group @gid unless -1). A stale socket file (nobody
 * listening) is replaced; a live one is an error.
 * Returns 0 and fills s->listen_fd / s->socket_path; -EADDRINUSE when
 * another process listens there; other -errno with a message printed.
 */
int server_listen_path(struct server *s, const char *path, mode_t mode, gid_t gid);

/*
 * Adopts @fd from --fd: a listening socket or a connected one (detected
 * with SO_ACCEPTCONN). Returns 0, or -EBADF / -ENOTSOCK with a message.
 */
int server_use_fd(struct server *s, int fd);

/*
 * Runs until SIGTERM/SIGINT, or until the front-end disconnects with
 * exit_on_disconnect (or when started on a connected fd). Signals must be
 * blocked in every thread before any thread is created
 * (server_block_signals()). Returns 0 on a clean exit, -errno otherwise.
 */
int server_run(struct server *s);

/* Blocks SIGTERM, SIGINT, SIGUSR1 (taken by server_run's signalfd), ignores SIGPIPE. */
void server_block_signals(void);

/* Closes the sockets and removes the socket file we created. */
void server_close(struct server *s);

#endif /* VIO_DAEMON_SERVER_H */
