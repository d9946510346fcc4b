/* SPDX-License-Identifier: BSD-3-Clause */
/* Guest memory with guard pages and poisoned slack, and the race window (see guest.h). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "check.h"
#include "guest.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/asan_interface.h>
#define POISON(p, n) __asan_poison_memory_region((p), (n))
#define UNPOISON(p, n) __asan_unpoison_memory_region((p), (n))
#endif
#endif
#ifndef POISON
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define PAGE 4096u
/* Faults one window may take before it gives up watching (keeps every input fast). */
#define RACE_MAX_FAULTS 4096u
#define X86_TF 0x100

/* The program's own code: an instruction here is ours (libvio, the harness, the sanitizer runtime). */
extern char __executable_start[], etext[];

static uint8_t *slot_data[GUEST_MAX_REGIONS]; /* GUEST_SLOT_BYTES each, guard pages around */
static bool slot_used[GUEST_MAX_REGIONS];

static struct {
	const struct guest *g;
	bool active;   /* pages closed between accesses */
	bool stepping; /* the trap flag is set for one instruction */
	unsigned nmuts;
	struct race_mut muts[RACE_MAX_MUTS];
	uint32_t crash_at;    /* die at this access (0: never) */
	sigjmp_buf *crash_env;
	struct race_log log;
} R;

static struct sigaction old_segv, old_trap;

static int slot_of(uintptr_t a)
{
	for (unsigned i = 0; i < GUEST_MAX_REGIONS; i++)
		if (slot_used[i] && a >= (uintptr_t)slot_data[i] &&
		    a - (uintptr_t)slot_data[i] < GUEST_SLOT_BYTES)
			return (int)i;
	return -1;
}

static void protect_all(int prot)
{
	for (unsigned i = 0; i < GUEST_MAX_REGIONS; i++)
		if (slot_used[i])
			mprotect(slot_data[i], GUEST_SLOT_BYTES, prot);
}

/* Byte-wise, so that nothing here goes through an intercepted memcpy; the
 * driver may write bytes a harness poisoned (the gaps between iovecs). */
__attribute__((no_sanitize("address"))) static void write_bytes(const struct guest *g, uint64_t gpa, const uint8_t *b, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		uint64_t a = gpa + i;

		for (unsigned k = 0; k < g->n; k++)
			if (a >= g->r[k].gpa && a - g->r[k].gpa < g->r[k].size) {
				*(volatile uint8_t *)(g->r[k].hva + (a - g->r[k].gpa)) = b[i];
				break;
			}
	}
}

static void on_segv(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;
	uintptr_t a = (uintptr_t)si->si_addr;

	(void)sig;
	if (!R.active || slot_of(a) < 0) {
		/* Not ours to handle: let the sanitizer / libFuzzer report it. */
		sigaction(SIGSEGV, &old_segv, NULL);
		return;
	}
	R.log.faults++;
	if (R.log.nlog < RACE_MAX_LOG) {
		struct race_access *e = &R.log.log[R.log.nlog++];
		uintptr_t ip = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];

		e->addr = a;
		e->ip = ip;
		e->write = uc->uc_mcontext.gregs[REG_ERR] & 2;
		e->ours = ip >= (uintptr_t)__executable_start && ip < (uintptr_t)etext;
	}
	protect_all(PROT_READ | PROT_WRITE);
	if (R.crash_at && R.log.faults == R.crash_at) {
		R.active = false;
		R.crash_at = 0;
		siglongjmp(*R.crash_env, 1); /* the device dies before this access */
	}
	for (unsigned i = 0; i < R.nmuts; i++)
		if (R.muts[i].at == R.log.faults)
			write_bytes(R.g, R.muts[i].gpa, R.muts[i].bytes, R.muts[i].len);
	if (R.log.faults >= RACE_MAX_FAULTS) {
		R.active = false; /* leave the pages open: the rest runs unwatched */
		return;
	}
	uc->uc_mcontext.gregs[REG_EFL] |= X86_TF;
	R.stepping = true;
}

static void on_trap(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;

	(void)sig;
	(void)si;
	if (!R.stepping) {
		sigaction(SIGTRAP, &old_trap, NULL);
		return;
	}
	uc->uc_mcontext.gregs[REG_EFL] &= ~X86_TF;
	R.stepping = false;
	if (R.active)
		protect_all(PROT_NONE);
}

static void init_once(void)
{
	static bool done;
	struct sigaction sa;

	if (done)
		return;
	done = true;
	for (unsigned i = 0; i < GUEST_MAX_REGIONS; i++) {
		uint8_t *m = mmap(NULL, GUEST_SLOT_BYTES + 2 * PAGE, PROT_NONE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

		if (m == MAP_FAILED) {
			perror("fuzz: mmap");
			abort();
		}
		slot_data[i] = m + PAGE;
		mprotect(slot_data[i], GUEST_SLOT_BYTES, PROT_READ | PROT_WRITE);
		POISON(slot_data[i], GUEST_SLOT_BYTES);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &old_segv);
	sa.sa_sigaction = on_trap;
	sigaction(SIGTRAP, &sa, &old_trap);
}

unsigned guest_setup(struct guest *g, const struct guest_region_spec *spec, unsigned n)
{
	init_once();
	vio_mem_init(&g->mem);
	g->n = 0;
	for (unsigned i = 0; i < GUEST_MAX_REGIONS; i++) {
		slot_used[i] = false;
		POISON(slot_data[i], GUEST_SLOT_BYTES);
	}
	for (unsigned i = 0; i < n && i < GUEST_MAX_REGIONS; i++) {
		uint32_t size = spec[i].size;
		uint8_t *hva;
		struct vio_mem_region r;

		if (size == 0 || size > GUEST_SLOT_BYTES)
			continue;
		hva = spec[i].at_end ? slot_data[i] + GUEST_SLOT_BYTES - size : slot_data[i];
		r = (struct vio_mem_region){ .gpa = spec[i].gpa, .size = size,
					     .uva = spec[i].gpa, .hva = hva, .fd = -1 };
		if (vio_mem_add(&g->mem, &r))
			continue;
		UNPOISON(hva, size);
		memset(hva, 0, size);
		slot_used[i] = true;
		g->r[g->n++] = (struct guest_region){ spec[i].gpa, size, hva };
	}
	return g->n;
}

void *guest_ptr(const struct guest *g, uint64_t gpa, uint64_t len)
{
	for (unsigned k = 0; k < g->n; k++) {
		const struct guest_region *r = &g->r[k];

		if (gpa >= r->gpa && gpa - r->gpa < r->size && len <= r->size - (gpa - r->gpa))
			return r->hva + (gpa - r->gpa);
	}
	return NULL;
}

void guest_write(const struct guest *g, uint64_t gpa, const void *buf, size_t len)
{
	write_bytes(g, gpa, buf, len);
}

bool guest_host_inside(const struct guest *g, const void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p;

	for (unsigned k = 0; k < g->n; k++) {
		uintptr_t h = (uintptr_t)g->r[k].hva;

		if (a >= h && a - h <= g->r[k].size && len <= g->r[k].size - (a - h))
			return true;
	}
	return false;
}

bool guest_host_to_gpa(const struct guest *g, const void *p, uint64_t *gpa)
{
	uintptr_t a = (uintptr_t)p;

	for (unsigned k = 0; k < g->n; k++) {
		uintptr_t h = (uintptr_t)g->r[k].hva;

		if (a >= h && a - h < g->r[k].size) {
			*gpa = g->r[k].gpa + (a - h);
			return true;
		}
	}
	return false;
}

void guest_poison(const void *p, size_t len)
{
	POISON(p, len);
}

void guest_unpoison(const void *p, size_t len)
{
	UNPOISON(p, len);
}

void race_crash_at(uint32_t at, sigjmp_buf *env)
{
	R.crash_at = at;
	R.crash_env = env;
}

void race_begin(const struct guest *g, const struct race_mut *m, unsigned n)
{
	R.g = g;
	R.nmuts = n < RACE_MAX_MUTS ? n : RACE_MAX_MUTS;
	if (R.nmuts)
		memcpy(R.muts, m, R.nmuts * sizeof(*m));
	R.log.faults = R.log.nlog = 0;
	R.stepping = false;
	R.active = true;
	protect_all(PROT_NONE);
}

const struct race_log *race_end(void)
{
	R.active = false;
	R.crash_at = 0;
	protect_all(PROT_READ | PROT_WRITE);
	return &R.log;
}

int race_double_fetch(const struct race_log *log)
{
	uint32_t start = 0; /* first access of the current visit */

	for (uint32_t i = 0; i < log->nlog; i++) {
		const struct race_access *e = &log->log[i];

		if (i && (e->addr >> 4) != (log->log[i - 1].addr >> 4))
			start = i;
		if (e->write || !e->ours)
			continue;
		for (uint32_t j = start; j < i; j++) {
			const struct race_access *p = &log->log[j];

			if (p->write)
				continue;
			if (p->ours ? p->addr == e->addr : e->addr >= p->addr && e->addr - p->addr < 16)
				return (int)i;
		}
	}
	return -1;
}

bool fuzz_trace_on(void)
{
	static int on = -1;

	if (on < 0)
		on = getenv("FUZZ_TRACE") != NULL;
	return on;
}
