/* SPDX-License-Identifier: BSD-3-Clause */
/* Process-wide logging to stderr or a caller-supplied sink. */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "vio/log.h"

static _Atomic int log_level = VIO_LOG_INFO;
static void (*_Atomic log_sink)(enum vio_log_level, const char *);

static const char *const level_names[] = { "error", "warn", "info", "debug", "trace" };

void vio_log_set_level(enum vio_log_level level)
{
	atomic_store(&log_level, (int)level);
}

enum vio_log_level vio_log_get_level(void)
{
	return (enum vio_log_level)atomic_load(&log_level);
}

int vio_log_parse_level(const char *name, enum vio_log_level *out)
{
	for (unsigned i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (!strcmp(name, level_names[i])) {
			*out = (enum vio_log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

void vio_log_set_sink(void (*sink)(enum vio_log_level level, const char *line))
{
	atomic_store(&log_sink, sink);
}

void vio_log(enum vio_log_level level, const char *fmt, ...)
{
	void (*sink)(enum vio_log_level, const char *);
	char line[1024];
	va_list ap;
	int n;

	if ((int)level > atomic_load(&log_level))
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	sink = atomic_load(&log_sink);
	if (sink) {
		sink(level, line);
		return;
	}
	/* One write per message so threads do not interleave mid-line. */
	fprintf(stderr, "%s: %s\n", level_names[level], line);
}
