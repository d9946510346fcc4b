/* SPDX-License-Identifier: BSD-3-Clause */
/* The vio client's internals: subcommands, the connection they share, and helpers. */
#ifndef VIO_TOOL_VIO_H
#define VIO_TOOL_VIO_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vio/blk_drv.h"
#include "vio/vhost_user_fe.h"

/* Exit codes: 0 success, 1 failure (I/O, device, mismatch), 2 usage. */
#define EXIT_USAGE 2

/* ---- options shared by the blk subcommands (blk_common.c) ---- */

struct blk_conn_opts {
	const char *socket;   /* the back-end's socket (the positional argument) */
	int timeout_ms;       /* connect, each reply, each request */
	uint16_t num_queues;  /* 0: the command's default */
	uint32_t queue_size;  /* 0: VIO_BLK_DRV_QUEUE_SIZE */
	uint32_t depth;       /* requests in flight per queue; 0: the command's default */
	uint64_t disable;     /* feature bits not to negotiate (--disable-features) */
	int ring;             /* --ring: RING_ANY, RING_SPLIT or RING_PACKED */
};

/* --ring: the virtqueue layout. */
enum { RING_ANY = 0, RING_SPLIT, RING_PACKED };

/* getopt_long codes of the shared options; subcommands number theirs from OPT_CMD. */
enum {
	OPT_TIMEOUT = 256, OPT_NUM_QUEUES, OPT_QUEUE_SIZE, OPT_DEPTH, OPT_LOG_LEVEL, OPT_HELP,
	OPT_DISABLE, OPT_RING,
	OPT_CMD = 300,
};

#define BLK_COMMON_LONG_OPTIONS                                         \
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },            \
	{ "num-queues", required_argument, NULL, OPT_NUM_QUEUES },      \
	{ "queue-size", required_argument, NULL, OPT_QUEUE_SIZE },      \
	{ "depth", required_argument, NULL, OPT_DEPTH },                \
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },        \
	{ "disable-features", required_argument, NULL, OPT_DISABLE },   \
	{ "ring", required_argument, NULL, OPT_RING },                  \
	{ "help", no_argument, NULL, OPT_HELP }

/* The help text of the shared options. */
extern const char blk_common_help[];

/*
 * Handles shared option @c. Returns 0 if handled, 1 for --help (the caller
 * prints its usage and exits 0), -1 on a bad value (message printed), -2 if
 * @c is not a shared option.
 */
int blk_common_option(int c, const char *arg, struct blk_conn_opts *o);

/* Takes the SOCKET positional argument after option parsing; -1 (message printed) if absent. */
int blk_take_socket(int argc, char **argv, struct blk_conn_opts *o);

/* ---- the connection ---- */

struct blk_dev {
	struct vio_vu_fe *fe;
	struct vio_blk_drv *drv;
	const struct vio_blk_drv_info *info;
	int timeout_ms;
};

/*
 * Connects to o->socket, creates shared memory for the driver plus
 * @data_per_queue bytes of buffers per queue, and opens the blk driver with
 * @default_queues queues unless o->num_queues says otherwise (0: all).
 * Prints what went wrong. Returns 0 or -errno.
 */
int blk_open(struct blk_dev *d, const struct blk_conn_opts *o, uint16_t default_queues,
	     size_t data_per_queue);
void blk_close(struct blk_dev *d);

/*
 * Waits for @req (of @what, for messages) up to the timeout. On a timeout
 * the request is abandoned (vio_blk_drv_abandon(): the record is free
 * again, its buffer stays the device's) and -ETIMEDOUT returned, reported.
 * Returns req->result otherwise (not reported).
 */
int blk_wait(struct blk_dev *d, struct vio_blk_drv_queue *q, struct vio_blk_req *req,
	     const char *what);

/* ---- pipelined I/O on one queue, completions taken in submission order ---- */

struct pipe_slot {
	struct vio_blk_req req;
	uint8_t *buf;
	uint64_t off;
	size_t len;
	bool busy;
	bool abandoned; /* timed out: the buffer stays the device's until the close */
	bool write;
};

/* Called for each completed request, in order; returns 0 to go on, -1 to stop. */
typedef int (*pipe_done_fn)(void *ctx, const struct pipe_slot *s);

struct pipe {
	struct blk_dev *d;
	struct vio_blk_drv_queue *q;
	struct pipe_slot *slots;
	unsigned nslots, next;
	size_t chunk;
	pipe_done_fn done;
	void *ctx;
	int error; /* the first failure: request error (already reported) or stop */
};

/* @nslots buffers of @chunk bytes on queue @q. Returns 0 or -ENOMEM (printed). */
int pipe_init(struct pipe *p, struct blk_dev *d, struct vio_blk_drv_queue *q, unsigned nslots,
	      size_t chunk, pipe_done_fn done, void *ctx);
/*
 * The buffer of the next request (its previous request retired first).
 * NULL once the pipe has failed.
 */
uint8_t *pipe_next(struct pipe *p);
/* Submits the request of the buffer pipe_next() returned. Returns 0 or -1 (reported). */
int pipe_submit(struct pipe *p, bool write, uint64_t off, size_t len);
/* Retires everything in flight. Returns 0, or -1 if anything failed. */
int pipe_drain(struct pipe *p);
void pipe_fini(struct pipe *p);

/* ---- helpers ---- */

/* Parses "4096", "64K", "1M", "2GiB", "0x1000" (binary suffixes). 0 or -1. */
int parse_size(const char *s, uint64_t *out);
/* Parses a decimal number in [lo, hi]. 0 or -1. */
int parse_uint(const char *s, uint64_t lo, uint64_t hi, uint64_t *out);
/* Prints "vio: <fmt>" to stderr. */
void errmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The name of feature bit @bit of a block device ("FLUSH", "VERSION_1"), or NULL. */
const char *blk_feature_name(unsigned bit);
/* The virtqueue layout of negotiated @features: "split", "packed", "split+in_order", ... */
const char *blk_ring_name(uint64_t features);
/* The name of vhost-user protocol feature bit @bit, or NULL. */
const char *vu_protocol_feature_name(unsigned bit);

/* ---- subcommands ---- */

int cmd_blk_info(int argc, char **argv);
int cmd_blk_read(int argc, char **argv);
int cmd_blk_write(int argc, char **argv);
int cmd_blk_verify(int argc, char **argv);
int cmd_blk_bench(int argc, char **argv);

#endif /* VIO_TOOL_VIO_H */
