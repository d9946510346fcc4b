/* SPDX-License-Identifier: BSD-3-Clause */
/* Harness assertions: a broken promise of the code under test is a crash libFuzzer keeps. */
#ifndef VIO_FUZZ_CHECK_H
#define VIO_FUZZ_CHECK_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond, ...)                                                          \
	do {                                                                      \
		if (!(cond)) {                                                    \
			fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, \
				#cond);                                           \
			fprintf(stderr, __VA_ARGS__);                             \
			fputc('\n', stderr);                                      \
			abort();                                                  \
		}                                                                 \
	} while (0)

/* With FUZZ_TRACE set in the environment, harnesses narrate what they do (for reproducers). */
bool fuzz_trace_on(void);
#define TRACE(...)                                                                \
	do {                                                                      \
		if (fuzz_trace_on()) {                                            \
			fprintf(stderr, "trace: " __VA_ARGS__);                   \
			fputc('\n', stderr);                                      \
		}                                                                 \
	} while (0)

#endif /* VIO_FUZZ_CHECK_H */
