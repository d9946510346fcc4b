/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Logging: one process-wide level and sink. Messages go to stderr unless a
 * sink is set. Thread-safe: each message is written with a single call.
 */
#ifndef VIO_LOG_H
#define VIO_LOG_H

enum vio_log_level {
	VIO_LOG_ERROR = 0,
	VIO_LOG_WARN = 1,
	VIO_LOG_INFO = 2,
	VIO_LOG_DEBUG = 3,
	VIO_LOG_TRACE = 4, /* every vhost-user message by name */
};

/* The level at and below which messages are emitted (default VIO_LOG_INFO). */
void vio_log_set_level(enum vio_log_level level);
enum vio_log_level vio_log_get_level(void);

/*
 * Parses "error", "warn", "info", "debug" or "trace" into @out.
 * Returns 0, or -EINVAL for any other string.
 */
int vio_log_parse_level(const char *name, enum vio_log_level *out);

/*
 * Replaces the sink (NULL restores stderr). @line is one formatted message
 * without a trailing newline; it is only valid during the call.
 */
void vio_log_set_sink(void (*sink)(enum vio_log_level level, const char *line));

/* Emits a printf-style message at @level if the level allows. */
void vio_log(enum vio_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define vio_err(...)   vio_log(VIO_LOG_ERROR, __VA_ARGS__)
#define vio_warn(...)  vio_log(VIO_LOG_WARN, __VA_ARGS__)
#define vio_info(...)  vio_log(VIO_LOG_INFO, __VA_ARGS__)
#define vio_debug(...) vio_log(VIO_LOG_DEBUG, __VA_ARGS__)
#define vio_trace(...) vio_log(VIO_LOG_TRACE, __VA_ARGS__)

#endif /* VIO_LOG_H */
