/* SPDX-License-Identifier: BSD-3-Clause */
/* Listening socket, --fd adoption and the epoll loop of a vhost-user back-end program. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "server.h"
#include "vio/log.h"

void server_block_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static int fill_addr(struct sockaddr_un *a, const char *path)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(a->sun_path)) {
		vio_err("socket path too long (at most %zu bytes): %s", sizeof(a->sun_path) - 1, path);
		return -ENAMETOOLONG;
	}
	memcpy(a->sun_path, path, strlen(path) + 1);
	return 0;
}

/* Is somebody accepting connections at @a? */
static bool socket_alive(const struct sockaddr_un *a)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool alive;

	if (fd < 0)
		return true; /* cannot tell: do not remove it */
	alive = connect(fd, (const struct sockaddr *)a, sizeof(*a)) == 0 || errno != ECONNREFUSED;
	close(fd);
	return alive;
}

int server_listen_path(struct server *s, const char *path, mode_t mode, gid_t gid)
{
	struct sockaddr_un a;
	mode_t old;
	int fd, r;

	r = fill_addr(&a, path);
	if (r)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	old = umask(0177); /* owner-only from the moment it exists */
	r = bind(fd, (struct sockaddr *)&a, sizeof(a));
	if (r < 0 && errno == EADDRINUSE && !socket_alive(&a)) {
		unlink(path); /* a stale socket left by a process that died */
		r = bind(fd, (struct sockaddr *)&a, sizeof(a));
	}
	umask(old);
	if (r < 0) {
		r = -errno;
		if (r == -EADDRINUSE)
			vio_err("socket path %s is in use by another running back-end", path);
		else
			vio_err("cannot create socket %s: %s", path, strerror(-r));
		close(fd);
		return r;
	}
	if ((gid != (gid_t)-1 && chown(path, (uid_t)-1, gid) < 0) || chmod(path, mode) < 0) {
		int e = errno;

		vio_err("cannot set the owner or mode of %s: %s", a.sun_path, strerror(e));
		r = -e;
		unlink(path);
		close(fd);
		return r;
	}
	if (listen(fd, 1) < 0) {
		r = -errno;
		unlink(path);
		close(fd);
		return r;
	}
	s->listen_fd = fd;
	s->socket_path = path;
	return 0;
}

int server_use_fd(struct server *s, int fd)
{
	int acc = 0, type = 0;
	socklen_t len = sizeof(acc);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0) {
		vio_err("--fd=%d is not an open socket: %s", fd, strerror(errno));
		return errno == ENOTSOCK ? -ENOTSOCK : -EBADF;
	}
	len = sizeof(acc);
	if (type != SOCK_STREAM || getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) < 0) {
		vio_err("--fd=%d is not a stream socket", fd);
		return -ENOTSOCK;
	}
	if (acc) {
		s->listen_fd = fd;
	} else {
		s->listen_fd = -1;
		s->conn_fd = fd;
	}
	return 0;
}

static int ep_add(int ep, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static void connection_start(struct server *s, int ep, int fd)
{
	vio_info("front-end connected");
	vio_vu_be_attach(s->be, fd);
	ep_add(ep, fd);
	if (s->listen_fd >= 0)
		epoll_ctl(ep, EPOLL_CTL_DEL, s->listen_fd, NULL); /* one front-end at a time */
}

/* Ends the connection; returns true when the program should exit. */
static bool connection_end(struct server *s, int ep)
{
	int fd = vio_vu_be_fd(s->be);

	if (fd >= 0)
		epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
	vio_vu_be_disconnect(s->be);
	vio_info("front-end disconnected");
	if (s->exit_on_disconnect || s->listen_fd < 0)
		return true;
	ep_add(ep, s->listen_fd);
	return false;
}

/* Handles one signal; returns true to exit. */
static bool on_signal(struct server *s, int sfd)
{
	struct signalfd_siginfo si;

	if (read(sfd, &si, sizeof(si)) != sizeof(si))
		return false;
	if (si.ssi_signo == SIGUSR1) {
		if (s->report)
			s->report(s->opaque);
		return false;
	}
	vio_info("signal %u: exiting", si.ssi_signo);
	return true;
}

int server_run(struct server *s)
{
	int ep = epoll_create1(EPOLL_CLOEXEC), sfd;
	sigset_t set;
	bool done = false;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (ep < 0 || sfd < 0 || ep_add(ep, sfd))
		return -errno;
	if (s->listen_fd >= 0 && ep_add(ep, s->listen_fd))
		return -errno;
	if (s->guard_fd >= 0 && ep_add(ep, s->guard_fd))
		return -errno;
	if (s->conn_fd >= 0) {
		connection_start(s, ep, s->conn_fd);
		s->conn_fd = -1;
	}
	while (!done) {
		struct epoll_event ev;
		int n = epoll_wait(ep, &ev, 1, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		if (ev.data.fd == sfd) {
			done = on_signal(s, sfd);
		} else if (ev.data.fd == s->guard_fd) {
			eventfd_t v;

			(void)eventfd_read(s->guard_fd, &v);
			vio_err("the front-end shrank shared memory under us: dropping it");
			if (vio_vu_be_fd(s->be) >= 0)
				done = connection_end(s, ep);
		} else if (ev.data.fd == s->listen_fd) {
			int c = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);

			if (c >= 0)
				connection_start(s, ep, c);
		} else if (vio_vu_be_handle(s->be) < 0) {
			done = connection_end(s, ep);
		}
	}
	if (vio_vu_be_fd(s->be) >= 0)
		connection_end(s, ep);
	if (s->report)
		s->report(s->opaque);
	close(sfd);
	close(ep);
	return 0;
}

void server_close(struct server *s)
{
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	s->listen_fd = -1;
	if (s->socket_path)
		unlink(s->socket_path);
	s->socket_path = NULL;
}
