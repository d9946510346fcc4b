/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The hostile harness's own state and helpers, shared by its files: harness.c
 * (results, the daemon, the runner), harness_mem.c (guest memory, the image
 * model), harness_vu.c (messages, setting up a device), harness_ring.c
 * (rings, virtio-blk). The cases see hostile.h only.
 */
#ifndef VIO_TESTS_HOSTILE_HARNESS_H
#define VIO_TESTS_HOSTILE_HARNESS_H

#include <setjmp.h>

#include "hostile.h"

#define MAX_CONNS 8
#define MAX_ALLOW 8192
#define IMG_BYTES (IMG_SECTORS * 512)

/* Everything the harness knows about the daemon, guest memory and the running case. */
struct harness {
	const char *exe;
	char dir[64], sock[96], img[128], logp[128];
	pid_t pid;
	off_t log_off;       /* the daemon's stderr at the start of the case */
	off_t start_off;     /* ... at the start of the running daemon */
	int memfd;
	uint8_t *mem, *shadow, *canary;
	uint64_t brk[NREG];
	struct {
		uint64_t off, len;
	} allow[MAX_ALLOW];
	unsigned nallow;
	uint8_t *model;
	struct conn conns[MAX_CONNS];
	unsigned case_no;
	const char *case_name;
	const char *known;   /* the case reproduces an open finding (TAP TODO) */
	jmp_buf *jb;
	char failmsg[8192];
	int base_fds;        /* the daemon's fds while idle, -1 unknown */
	int timeout_ms;
};
extern struct harness G;

/* harness.c */
int64_t now_ms(void);
void fill_random(void *p, size_t len, uint64_t seed);

/* harness_mem.c */
int64_t gpa_off(uint64_t gpa, uint64_t *left);
void mem_check(void);
void image_check(void);

#endif /* VIO_TESTS_HOSTILE_HARNESS_H */
