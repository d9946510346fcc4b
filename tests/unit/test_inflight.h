/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the inflight log's tests share (test_inflight*.c): the log layout as a
 * front-end could write it, the rig (test_inflight_rig.c: the tracer, a mock
 * driver, a device queue over its rings, a log, a model) and its helpers, and
 * the tests of test_inflight_hostile.c for the table in test_inflight.c.
 */
#ifndef VIO_TESTS_UNIT_TEST_INFLIGHT_H
#define VIO_TESTS_UNIT_TEST_INFLIGHT_H

#include "mock_driver.h"

#define F_INDIRECT VIO_BIT(VIRTIO_F_INDIRECT_DESC)
#define F_EVENT    VIO_BIT(VIRTIO_F_EVENT_IDX)
#define F_IN_ORDER VIO_BIT(VIRTIO_F_IN_ORDER)
#define WRITE      VIRTQ_DESC_F_WRITE
#define NEXT       VIRTQ_DESC_F_NEXT
#define AVAIL      VIRTQ_DESC_F_AVAIL
#define USED       VIRTQ_DESC_F_USED

/* The tracer needs the trap flag and a signal context it can edit. */
#if defined(__x86_64__) && defined(__linux__)
#define HAVE_TRACER 1
#else
#define HAVE_TRACER 0
#endif

/* ------------------------------------------------------------------ */
/* The log layout (src/ring/inflight.c), as a front-end could write it  */
/* ------------------------------------------------------------------ */

#define LOG_MAGIC 0x314c464e494f4976ull
#define NONE      0xffffu

struct t_hdr {
	uint64_t magic;
	uint16_t desc_num;
	uint8_t packed;
	uint8_t pad0;
	uint16_t used;
	uint16_t batch_used;
	uint16_t batch_count;
	uint16_t batch_head;
	uint16_t avail;
	uint16_t pad1;
	uint64_t avail_counter;
	uint8_t pad2[32];
};

struct t_entry {
	uint64_t counter;
	uint8_t inflight;
	uint8_t pad;
	uint16_t next;
	uint16_t ndesc;
	uint16_t first;
	uint16_t avail_end;
	uint8_t pad2[6];
};

struct t_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

_Static_assert(sizeof(struct t_hdr) == 64, "mirror of struct log_hdr");
_Static_assert(sizeof(struct t_entry) == 24, "mirror of struct log_entry");
_Static_assert(sizeof(struct t_desc) == 16, "mirror of struct log_desc");

/* The reasons vio_devq_error() gives. */
#define E_FLAG       "inflight log: bad in-flight flag"
#define E_BATCH_OOR  "inflight log: batch list out of range"
#define E_BATCH_BIG  "inflight log: batch larger than the queue"
#define E_BATCH_IDX  "inflight log: batch does not match the used index"
#define E_NDESC      "inflight log: bad descriptor count"
#define E_SAVED      "inflight log: saved descriptors out of range or shared"
#define E_COUNTER0   "inflight log: entry without a pop counter"
#define E_DUP        "inflight log: two entries with the same counter"
#define E_OTHER      "inflight log written for another queue size or layout"
#define E_USED_RING  "inflight log does not match the used ring"
#define E_AHEAD      "inflight log is ahead of the available ring"
#define E_POSITIONS  "inflight log positions do not match the descriptors in flight"
#define E_SMALL      "inflight log smaller than the queue needs"
#define E_OUTSIDE    "buffer outside guest memory"

/* ------------------------------------------------------------------ */
/* The rig (test_inflight_rig.c)                                       */
/* ------------------------------------------------------------------ */

struct params {
	enum mock_layout layout;
	uint32_t num;
	uint64_t features;
};

#define MAX_REQ  16384 /* requests per rig: 64 bytes of R2 each */
#define MAX_BUF  4
#define IOV_CAP  16
#define NO_REQ   UINT32_MAX

/* What the model knows of a request. */
enum req_state {
	R_AVAIL = 1, /* made available, not popped (or popped by a device that died) */
	R_HELD,      /* popped by the running device */
	R_PUSHED,    /* pushed by it, not yet published */
	R_PUBLISHED, /* visible to the driver */
	R_REAPED,    /* taken back by the driver */
};

struct req {
	struct mock_buf b[MAX_BUF];
	unsigned nbuf, nread;
	int indirect_at;
	uint32_t in_bytes;
	uint32_t len; /* the length pushed */
	uint16_t id;  /* head / buffer id */
	uint8_t state;
};

struct rig {
	struct params p;
	bool packed, in_order, indirect;
	struct mock_mem m;
	struct mock_vq vq;
	uint8_t *log;
	size_t log_size, log_map;
	struct vio_devq *q;
	size_t qsize;
	struct vio_devq_config cfg;
	struct iovec iov[IOV_CAP];
	struct vio_chain c;
	uint64_t arena; /* gpa of the request buffers */
	uint8_t *arena_hva;
	uint64_t rnd;
	unsigned crashes;
	bool fixed_shape; /* directed tests: every request 1 readable + 1 writable buffer */
	bool hostile;     /* the log was edited: the model no longer predicts recovery */

	/* the model */
	struct req *req;
	uint32_t nreq;     /* requests made available so far: serials 0 .. nreq-1 */
	uint32_t next_pop; /* the oldest request never popped by a live device */
	uint32_t resub[1024], resub_n, resub_i; /* to be popped first, in order */
	uint32_t held[1024], held_n;            /* popped by the running device, in order */
	uint32_t byid[1024];                    /* request outstanding under an id */
	uint32_t next_reap;                     /* IN_ORDER: the oldest not reaped */
	uint32_t reaped;
};

/* What a failed check prints, to reproduce it. */
extern char ctx_msg[160];

#define CHECK(c)                                                                \
	do {                                                                    \
		bool ok_ = (c); /* once: c may have side effects */             \
		if (!ok_)                                                       \
			print_error("%s\n", ctx_msg);                           \
		_assert_true(ok_, #c, __FILE__, __LINE__);                      \
	} while (0)

typedef void op_fn(struct rig *r, void *arg);

struct op_arg {
	int res;
	uint16_t id;
	uint32_t len;
};

#define START(p) ((p)->layout == MOCK_PACKED ? 0x8000 : 0)

/* test_inflight_rig.c */
uint32_t rnd(struct rig *r);
uint32_t rnd_below(struct rig *r, uint32_t n);
struct t_hdr *H(struct rig *r);
struct t_entry *E(struct rig *r);
struct t_desc *S(struct rig *r);
size_t page_size(void);
bool traced(struct rig *r, op_fn *op, void *arg, long crash_after, const void *crash_at,
	    bool at_after);
void skip_without_tracer(void);
void op_init(struct rig *r, void *a);
struct rig *rig_new(const struct params *p, uint16_t start, uint64_t seed);
void rig_free(struct rig *r);
uint32_t wrong_base(struct rig *r);
int dev_start_crashing(struct rig *r, long crash_after);
void dev_start(struct rig *r);
void dev_crash(struct rig *r);
bool drv_add(struct rig *r);
bool drv_reap(struct rig *r);
void drv_reap_all(struct rig *r);
uint32_t dev_pop_crashing_at(struct rig *r, long crash_after, const void *at, bool after);
uint32_t dev_pop_crashing(struct rig *r, long crash_after);
uint32_t dev_pop(struct rig *r);
void dev_pop_all(struct rig *r);
bool dev_push_crashing(struct rig *r, uint32_t s, uint32_t len, long crash_after);
void dev_push(struct rig *r, uint32_t s, uint32_t len);
uint32_t flush_batch(struct rig *r, uint32_t *out);
void model_publish(struct rig *r, const uint32_t *b, uint32_t n);
bool dev_flush_crashing(struct rig *r, long crash_after, bool at, bool after);
void dev_flush(struct rig *r);
uint32_t some_len(struct rig *r, uint32_t s);
void drain(struct rig *r);
uint32_t drv_add_n(struct rig *r, uint32_t n);
void check_log(struct rig *r);
void assert_broken(struct rig *r, const char *why);

/* test_inflight.c */
struct rig *directed_rig(const struct params *p);
void flush_steps_then_crash(struct rig *r, bool ring);

/* test_inflight_hostile.c */
void hostile_inflight_flag_above_1(void **state);
void hostile_inflight_flag_0xff_on_an_idle_entry(void **state);
void hostile_counter_0(void **state);
void hostile_duplicate_counters(void **state);
void hostile_log_for_another_queue_size(void **state);
void hostile_log_for_the_other_layout(void **state);
void hostile_batch_larger_than_the_queue(void **state);
void hostile_batch_head_out_of_range(void **state);
void hostile_batch_list_shorter_than_its_count(void **state);
void hostile_controls_recover(void **state);
void hostile_region_too_small_or_misaligned_is_not_touched(void **state);
void hostile_split_used_index_not_the_rings(void **state);
void hostile_split_ring_used_index_moved_under_the_log(void **state);
void hostile_split_more_in_flight_than_made_available(void **state);
void hostile_split_resubmitted_chain_outside_guest_memory(void **state);
void hostile_split_idle_head_marked_in_flight_is_walked_safely(void **state);
void hostile_packed_saved_list_out_of_range(void **state);
void hostile_packed_saved_list_shared_by_two_buffers(void **state);
void hostile_packed_saved_list_link_out_of_range(void **state);
void hostile_packed_saved_list_wrong_length(void **state);
void hostile_packed_positions_do_not_match(void **state);
void hostile_packed_newest_avail_end_wrong(void **state);
void hostile_packed_positions_out_of_range(void **state);
void hostile_packed_batch_used_out_of_range(void **state);
void hostile_unpublished_or_committed_batch_is_ignored(void **state);
void hostile_split_batch_not_matching_the_used_index(void **state);
void hostile_packed_batch_at_used_position_outside_the_ring_is_not_read(void **state);
void hostile_id_made_available_again_before_published(void **state);
void hostile_packed_saved_descriptor_outside_guest_memory(void **state);
void hostile_packed_saved_indirect_inside_a_list(void **state);
void hostile_packed_saved_indirect_without_the_feature(void **state);
void hostile_random_region_behind_a_valid_magic(void **state);
void split_more_pushes_between_flushes_than_the_queue_size_breaks_it(void **state);

#endif /* VIO_TESTS_UNIT_TEST_INFLIGHT_H */
