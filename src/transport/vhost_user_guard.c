/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A guard against guest memory that the front-end shrinks under us.
 *
 * Regions are mapped from files we checked were long enough, but a hostile
 * front-end can ftruncate() its memfd afterwards: our next access to a page
 * past the new end raises SIGBUS, which would kill the back-end. With the
 * guard installed, a SIGBUS inside a registered guest mapping is absorbed:
 * a private zero page is mapped over the faulting page (the access then
 * completes on zeros, which the ring and the devices validate like any other
 * guest data) and the guard's eventfd becomes readable, so the daemon drops
 * that front-end. A SIGBUS anywhere else keeps its default action.
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vhost_user_guard.h"
#include "vio/vhost_user_be.h"

#define GUARD_SLOTS 2048

static struct {
	_Atomic uintptr_t start; /* 0: free */
	_Atomic uintptr_t end;
} slots[GUARD_SLOTS];
static int guard_fd = -1;
static uintptr_t page_size;
static _Atomic int installed;

void vu_guard_add(void *addr, size_t len)
{
	uintptr_t s = (uintptr_t)addr;

	for (unsigned i = 0; i < GUARD_SLOTS; i++) {
		uintptr_t expected = 0;

		/* Claim with a placeholder, then publish the range. */
		if (atomic_compare_exchange_strong(&slots[i].start, &expected, UINTPTR_MAX)) {
			atomic_store(&slots[i].end, s + len);
			atomic_store(&slots[i].start, s);
			return;
		}
	}
}

void vu_guard_remove(void *addr)
{
	for (unsigned i = 0; i < GUARD_SLOTS; i++) {
		if (atomic_load(&slots[i].start) == (uintptr_t)addr) {
			atomic_store(&slots[i].end, 0);
			atomic_store(&slots[i].start, 0);
			return;
		}
	}
}

static void on_sigbus(int sig, siginfo_t *si, void *ctx)
{
	uintptr_t a = (uintptr_t)si->si_addr;
	const int prot = PROT_READ | PROT_WRITE, flags = MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS;
	int saved = errno;

	(void)ctx;
	for (unsigned i = 0; i < GUARD_SLOTS; i++) {
		uintptr_t s = atomic_load(&slots[i].start), e = atomic_load(&slots[i].end);
		void *page;

		if (!s || s == UINTPTR_MAX || a < s || a >= e)
			continue;
		page = (char *)si->si_addr - (a & (page_size - 1));
		/* An anonymous mapping takes fd -1 (cppcheck's POSIX model wants fd >= 0);
		 * it replaces a page of the region and goes with the region's munmap. */
		/* cppcheck-suppress [invalidFunctionArg, leakReturnValNotUsed] ; as said above */
		if (mmap(page, page_size, prot, flags, -1, 0) == MAP_FAILED)
			break;
		(void)eventfd_write(guard_fd, 1); /* async-signal-safe: a write(2) */
		errno = saved;
		return;
	}
	/* Not guest memory: a real bug. Die as we would have. */
	signal(sig, SIG_DFL);
	errno = saved;
}

int vio_vu_sigbus_guard(void)
{
	struct sigaction sa;
	int expected = 0;

	if (!atomic_compare_exchange_strong(&installed, &expected, 1))
		return guard_fd;
	page_size = (uintptr_t)sysconf(_SC_PAGESIZE);
	guard_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (guard_fd < 0) {
		atomic_store(&installed, 0);
		return -errno;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, NULL) < 0)
		return -errno;
	return guard_fd;
}
