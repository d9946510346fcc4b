/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The hostile front-end suite: a test program that starts vio-blk and
 * talks to it as a malicious front-end (QEMU's side of vhost-user) and a
 * malicious guest driver (the other side of the virtqueues) would.
 *
 * After every case the runner (main.c) checks, whatever the case did:
 *   1. the daemon is alive (waitpid WNOHANG) and its stderr carries no
 *      sanitizer report (AddressSanitizer, UndefinedBehaviorSanitizer, ...);
 *   2. a fresh, well-behaved connection does a write / flush / read round
 *      trip on every queue and gets its data back (health());
 *   3. guest memory is intact: the memfd is filled with canaries at the
 *      start of the case and mirrored in a private shadow; every byte the
 *      daemon may write (used rings, the status and read buffers of valid
 *      requests) is declared with gallow(); any other difference fails;
 *   4. the image equals the model (only requests that completed OK change
 *      the model);
 *   5. the daemon holds no more fds than after the first health check and
 *      maps no memfd (guest memory, inflight regions) while idle.
 * Inside a case, expect_broken() / expect_drop() / ack_refused() check the
 * outcome the spec and protocol ask for; expect_broken() also checks that
 * the daemon's log names the rule that was broken, so a case cannot pass
 * by tripping over another rule than the one it is about.
 *
 * Running: test_hostile VIO-BLK [rings|requests|messages|all [SUBSTRING]]
 * prints TAP (meson: --suite hostile, one test per class, each with its own
 * daemon in a temporary directory). A case that fails has the daemon's log
 * lines of that case printed, and the daemon is restarted for the next
 * case. Environment: HOSTILE_TIMEOUT_MS (every wait, default 3000),
 * HOSTILE_LOG_LEVEL (the daemon's --log-level, default debug), HOSTILE_AIO
 * (--aio), HOSTILE_KEEP (keep the daemon's log). A watchdog ends a case
 * that hangs (60 s); no wait is without a timeout.
 *
 * Adding a case: a function in the class's file, calling std_conn() (or
 * building its own connection), then the case's own checks; add it to the
 * table at the end of the file, and cite the rule it checks.
 *
 * Guest memory (one memfd; file offsets on the left, guest-physical
 * addresses on the right; the gaps in the file are never shared):
 *
 *   file 0      4M    5M    6M    7M    8M    9M
 *        | R0   | gap | R1  | gap | R2  | gap |
 *   gpa  R0_GPA      R1_GPA = R0_GPA + 4M (adjacent: a buffer may straddle R0/R1)
 *                    HOLE_GPA = R1_GPA + 1M (1 MiB unmapped)
 *                    R2_GPA = HOLE_GPA + 1M
 *   uva  our own address of the byte (the memfd is mapped whole here)
 */
#ifndef VIO_TESTS_HOSTILE_H
#define VIO_TESTS_HOSTILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "transport/vhost_user_msg.h"
#include "vio/vhost_user.h"
#include "vio/virtio.h"
#include "vio/virtio_blk.h"
#include "vio/virtio_ring.h"

/* ---- guest memory ---- */
#define MEM_FILE_SIZE (9ull << 20)
#define R0_GPA 0x40000000ull
#define R0_SIZE (4ull << 20)
#define R0_OFF 0ull
#define R1_GPA (R0_GPA + R0_SIZE)
#define R1_SIZE (1ull << 20)
#define R1_OFF (5ull << 20)
#define HOLE_GPA (R1_GPA + R1_SIZE)
#define HOLE_SIZE (1ull << 20)
#define R2_GPA (HOLE_GPA + HOLE_SIZE)
#define R2_SIZE (1ull << 20)
#define R2_OFF (7ull << 20)
#define NREG 3

/* ---- the daemon ---- */
#define NQ 2                 /* vio-blk --num-queues */
#define IMG_SECTORS 2048ull  /* 1 MiB image */
#define SCRATCH_SECTOR 1024ull /* health checks write at and above this sector */
#define QSIZE 16u            /* default Queue Size */

/* One virtqueue, the driver's side. */
struct hq {
	struct conn *c;
	uint16_t index;
	bool packed;
	bool set_up;
	uint32_t num;
	/* split: descriptor table, available ring, used ring; packed: descriptor
	 * ring, driver event suppression, device event suppression (gpa) */
	uint64_t desc, avail, used;
	/* split driver state */
	uint16_t avail_idx, last_used, next_desc;
	/* packed driver state */
	uint16_t pa, pu;
	bool pa_wrap, pu_wrap;
	uint16_t next_id;
	uint16_t plen[1024]; /* ring descriptors of the list of each buffer id */
	int kick, call, err; /* our ends (eventfds) */
};

struct conn {
	int sock;
	bool open;
	uint64_t features;     /* acked with SET_FEATURES */
	uint64_t protocol;     /* acked with SET_PROTOCOL_FEATURES */
	struct hq q[NQ];
};

/* ---- results ---- */
void hfail(const char *file, int line, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 3, 4)));
#define FAIL(...) hfail(__FILE__, __LINE__, __VA_ARGS__)
#define CHECK(cond, ...) do { if (!(cond)) hfail(__FILE__, __LINE__, __VA_ARGS__); } while (0)
/* A diagnostic line in the TAP output ("# ..."). */
void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Milliseconds every wait allows (HOSTILE_TIMEOUT_MS, default 3000). */
int wait_ms(void);
void sleep_ms(int ms);

/* ---- guest memory ---- */
uint64_t galloc(uint64_t len, uint64_t align);               /* from R0 */
uint64_t galloc_in(int region, uint64_t len, uint64_t align); /* 0, 1, 2 */
uint64_t region_gpa(int region);
uint64_t region_size(int region);
void *gptr(uint64_t gpa, uint64_t len); /* our address; NULL unless inside one region */
uint64_t guva(uint64_t gpa);            /* the front-end's user address of @gpa */
void gwrite(uint64_t gpa, const void *p, uint64_t len); /* also the shadow */
void gread(uint64_t gpa, void *p, uint64_t len);
void gfill(uint64_t gpa, int byte, uint64_t len);
void gallow(uint64_t gpa, uint64_t len); /* the daemon may write here in this case */
int mem_fd(void);
/* The memory table of the standard layout (three regions) and its fds. */
void mem_table(struct vhost_user_memory *t, int *fds);

/* ---- messages ---- */
/* Connects to the daemon (closing any connection still open: it serves one at a time). */
struct conn *conn_open(void);
void conn_close(struct conn *c);
int msg_send(struct conn *c, uint32_t req, uint32_t flags, const void *payload, uint32_t size,
	     const int *fds, unsigned nfds);
int raw_send(struct conn *c, const void *buf, size_t len, const int *fds, unsigned nfds);
/* One message within @ms: 0, -ETIMEDOUT, -ECONNRESET, -EPROTO. */
int msg_recv(struct conn *c, struct vu_msg *m, int ms);
/* Sends with NEED_REPLY and returns the REPLY_ACK value (>= 0), or -errno. */
int64_t msg_ack(struct conn *c, uint32_t req, const void *payload, uint32_t size,
		const int *fds, unsigned nfds);
/* Sends and checks the message was accepted (REPLY_ACK 0, or a GET_FEATURES barrier). */
void send_ok(struct conn *c, uint32_t req, const void *payload, uint32_t size, const int *fds,
	     unsigned nfds);
/* Sends; the back-end must refuse it (REPLY_ACK non-zero) and keep the connection. */
void ack_refused(struct conn *c, uint32_t req, const void *payload, uint32_t size,
		 const int *fds, unsigned nfds);
void send_u64_ok(struct conn *c, uint32_t req, uint64_t v);
/* SET_VRING_KICK / CALL / ERR of queue @qi with @fd (-1: the no-fd bit), accepted. */
void send_vring_fd(struct conn *c, uint32_t req, int qi, int fd);
void send_state_ok(struct conn *c, uint32_t req, uint32_t index, uint32_t num);
/* A request with a u64 reply (GET_FEATURES, GET_PROTOCOL_FEATURES, ...). */
uint64_t get_u64(struct conn *c, uint32_t req);
/* The back-end must close the connection (no reply) within the wait. */
void expect_drop(struct conn *c, const char *what);
/* The connection still answers (GET_FEATURES round trip). */
void expect_alive(struct conn *c);

/* ---- setting up a device ---- */
#define F_STD (VIO_BIT(VIRTIO_F_VERSION_1) | VIO_BIT(VIRTIO_F_INDIRECT_DESC) |                \
	       VIO_BIT(VIRTIO_F_EVENT_IDX) | VIO_BIT(VIRTIO_BLK_F_FLUSH) |                  \
	       VIO_BIT(VIRTIO_BLK_F_DISCARD) | VIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES) |         \
	       VIO_BIT(VIRTIO_BLK_F_SEG_MAX) | VIO_BIT(VIRTIO_BLK_F_SIZE_MAX) |             \
	       VIO_BIT(VIRTIO_BLK_F_BLK_SIZE) | VIO_BIT(VIRTIO_BLK_F_MQ) |                  \
	       VIO_BIT(VHOST_USER_F_PROTOCOL_FEATURES))
#define P_STD (VIO_BIT(VHOST_USER_PROTOCOL_F_MQ) | VIO_BIT(VHOST_USER_PROTOCOL_F_REPLY_ACK) |   \
	       VIO_BIT(VHOST_USER_PROTOCOL_F_CONFIG) |                                       \
	       VIO_BIT(VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS) |                          \
	       VIO_BIT(VHOST_USER_PROTOCOL_F_RESET_DEVICE) |                                 \
	       VIO_BIT(VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD))
/* GET/SET_PROTOCOL_FEATURES, GET_QUEUE_NUM, SET_OWNER, GET/SET_FEATURES. */
void conn_handshake(struct conn *c, uint64_t features, uint64_t protocol);
void conn_mem_table(struct conn *c);
/* Allocates zeroed rings for queue @qi (no message). */
void q_alloc(struct conn *c, int qi, bool packed, uint32_t num);
/* SET_VRING_NUM, BASE (@base), ADDR, CALL, ERR, KICK, ENABLE 1 for q_alloc'ed rings. */
void q_start(struct conn *c, int qi, uint32_t base);
/* q_alloc + q_start. */
void q_setup(struct conn *c, int qi, bool packed, uint32_t num);
/* A connection set up in full: handshake, memory table, every queue @packed of @num. */
struct conn *std_conn(bool packed, uint32_t num);
struct conn *std_conn_f(uint64_t features, bool packed, uint32_t num);
/* GET_VRING_BASE (the queue stops); returns the base. */
uint32_t q_stop(struct conn *c, int qi);
/* Stops the queue, gives it fresh rings, starts it again and runs health() on it. */
void q_reset_restart(struct conn *c, int qi);

/* ---- rings ---- */
struct buf {
	uint64_t gpa;
	uint32_t len;
	bool w; /* device-writable */
};
#define DIRECT (-1)
/* Split raw access. */
void sdesc(struct hq *q, uint32_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next);
void tdesc(uint64_t table, uint32_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next);
void avail_entry(struct hq *q, uint16_t pos, uint16_t head); /* ring[pos % num] */
void avail_publish(struct hq *q, uint16_t idx);               /* release store of idx */
void avail_put(struct hq *q, uint16_t head); /* entry at avail_idx, then idx + 1 */
uint16_t used_idx(struct hq *q);
/* Packed raw access: AVAIL/USED bits of @wrap, to or into flags. */
uint16_t pwrap(bool wrap);
void pdesc(struct hq *q, uint32_t pos, uint64_t addr, uint32_t len, uint16_t id, uint16_t flags);
void ptdesc(uint64_t table, uint32_t i, uint64_t addr, uint32_t len, uint16_t id, uint16_t flags);
/* Writes a list at the driver's cursor (flags without AVAIL/USED; first stored last). */
struct pd {
	uint64_t addr;
	uint32_t len;
	uint16_t id;
	uint16_t flags;
};
void plist(struct hq *q, const struct pd *d, unsigned n);
void kick(struct hq *q);
/* A well-formed chain of @n buffers (direct, or [0, indirect_at) direct then one
 * indirect table with the rest), made available and kicked. Returns head / id. */
int post(struct hq *q, const struct buf *b, unsigned n, int indirect_at);
/* Writes the chain but does not make it available (split: head returned). */
int write_chain(struct hq *q, const struct buf *b, unsigned n, int indirect_at);
/* Next used element within the wait: true with @id / @len. */
bool wait_used(struct hq *q, uint32_t *id, uint32_t *len, int ms);
/* The next used element must be @id with length @len. */
void expect_used(struct hq *q, uint32_t id, uint32_t len);
/* No used element appears within @ms. */
void expect_no_used(struct hq *q, int ms);
/* The queue is broken: its error eventfd fires, no used element, and the
 * daemon's log names @reason (substring). */
void expect_broken(struct hq *q, const char *reason);
/* The error eventfd is not signalled (after @ms). */
void expect_not_broken(struct hq *q, int ms);
bool err_signalled(struct hq *q, int ms);

/* ---- virtio-blk ---- */
uint64_t mk_hdr(uint32_t type, uint64_t sector);
uint64_t mk_status(void); /* one byte, canary 0xee, declared writable */
uint8_t status_at(uint64_t gpa);
struct rres {
	uint8_t status;
	uint32_t len; /* used length */
	uint32_t id;
};
/*
 * A well-formed request: header, data (@dlen bytes, device-readable for
 * OUT / DISCARD / WRITE_ZEROES, device-writable for IN / GET_ID), status;
 * waits for it. OUT / DISCARD / WRITE_ZEROES that complete OK update the
 * model; IN copies the data read into @data.
 */
struct rres blk_req(struct hq *q, uint32_t type, uint64_t sector, void *data, uint32_t dlen);
/* Submits the chain @b and waits for its used element. */
struct rres submit(struct hq *q, const struct buf *b, unsigned n, int indirect_at,
		   uint64_t status_gpa);
/* Write @len bytes at @sector (OK), flush (OK), read back (OK, same data). */
void rw_check(struct hq *q, uint64_t sector, uint32_t len);
/* The health check: rw_check in this case's scratch sectors. */
void health(struct conn *c, int qi);
void expect_status(struct rres r, uint8_t status, uint32_t len);

/* ---- the image model ---- */
void model_write(uint64_t off, const void *p, uint64_t len);
void model_zero(uint64_t off, uint64_t len);
const uint8_t *model(void);

/* ---- the daemon ---- */
pid_t daemon_pid(void);
/* The daemon's stderr since the case started contains @s. */
bool log_has(const char *s);
/* Waits until it does (within the wait). */
void expect_log(const char *s);
/* memfd mappings of the daemon (guest memory regions, inflight regions). */
int daemon_memfd_maps(void);
/* CPU time the daemon used so far (all threads), in milliseconds; -1 unknown. */
int daemon_cpu_ms(void);
/*
 * The case reproduces an open finding, described by @what: it is reported
 * as a TAP TODO (an expected failure; meson counts a pass as unexpected,
 * the sign to drop the call once the finding is fixed).
 */
void known_issue(const char *what);
/* A number unique to the running case (seeds, scratch sectors). */
unsigned case_no(void);
const char *socket_path(void);

/* ---- cases ---- */
struct hcase {
	const char *name;
	void (*fn)(void);
};
extern const struct hcase ring_cases[];
extern const unsigned ring_cases_n;
extern const struct hcase req_cases[];
extern const unsigned req_cases_n;
extern const struct hcase msg_cases[];
extern const unsigned msg_cases_n;

#endif /* VIO_TESTS_HOSTILE_H */
