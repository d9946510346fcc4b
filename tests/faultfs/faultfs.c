/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * faultfs: a FUSE filesystem for tests that serves one disk image and injects faults into it.
 *
 *   faultfs [options] BACKING MOUNTPOINT
 *
 * MOUNTPOINT/NAME (default "disk.img") is BACKING: reads, writes, fsync / fdatasync and
 * fallocate (punch hole, zero range, keep size) pass through to it with pread, pwrite, fsync,
 * fdatasync and fallocate. MOUNTPOINT/status is a read-only text file of counters (below).
 * Every file is opened direct_io, so each read or write of the disk file reaches faultfs as
 * one request over exactly the bytes asked (no page cache, no read-ahead, no rounding to
 * pages): a fault applies to exactly the bytes a rule names.
 *
 * Rules (command-line options; the same words, without "--", one per line in the control
 * file; '#' starts a comment):
 *   read-eio=OFF+LEN   a read touching bytes [OFF, OFF+LEN) fails with EIO (up to 64 ranges)
 *   write-eio=OFF+LEN  a write or fallocate touching [OFF, OFF+LEN) fails with EIO, having
 *                      changed nothing
 *   sync-eio           fsync and fdatasync fail with EIO (nothing is synced)
 *   delay-ms=N         each read, write, sync and fallocate of the disk file first waits N ms
 *   delay-ops=LIST     the requests delay-ms applies to: a comma-separated subset of
 *                      read,write,sync,fallocate (default: all four)
 *   hold-writes=N      let N more writes (and fallocates) through, then hold every later one
 *                      (it waits, counted as "held") until a rule set without hold-writes is
 *                      loaded; a test uses it to know for sure that a write is in flight
 *   hold-write=OFF+LEN hold the writes (and fallocates) touching [OFF, OFF+LEN), and only
 *                      those, until a rule set without that range is loaded
 *   hold-read=OFF+LEN  the same for reads
 * (While a write is held, the kernel may hold up other synchronous writes to the file before
 * they reach faultfs: FUSE serializes direct writes to one file unless the filesystem asks
 * for parallel ones, which libfuse 3.14 cannot. Reads are not held up by a held write, nor
 * writes by a held read.)
 * OFF, LEN and N are decimal (or 0x hex); OFF and LEN are bytes.
 *
 * --control=PATH names a rule file, checked before each request (and each read of status):
 * when it exists its rules replace the command-line rules; when it does not, the command-line
 * rules apply. Rewrite it atomically (write a new file, rename it over PATH); a file that does
 * not parse is reported on stderr and ignored (the previous rules stay). Each rule set loaded
 * increments "generation" in the status file, so a test that rewrote the control file can
 * read status until it shows the new generation: from then on, every request that starts
 * obeys the new rules.
 *
 * The status file is one line of key=value fields:
 *   generation reads writes syncs fallocates eio_reads eio_writes eio_syncs
 *   inflight_reads inflight_writes held size
 * (requests, not bytes; inflight_* are the requests faultfs is serving now, held included).
 *
 * faultfs stays in the foreground, logs each injected fault to stderr, and exits when the
 * filesystem is unmounted (fusermount3 -u MOUNTPOINT) or on SIGTERM / SIGINT. It mounts with
 * auto_unmount, so the mount goes away if faultfs is killed.
 */
#define FUSE_USE_VERSION 35

#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define MAX_RANGES 64
#define STATUS_NAME "status"

enum op {
	OP_READ = 0,
	OP_WRITE,
	OP_SYNC,
	OP_FALLOCATE,
	OP_COUNT,
};

static const char *const op_names[OP_COUNT] = { "read", "write", "sync", "fallocate" };

struct range {
	uint64_t off, len;
};

/* One set of rules: from the command line, or from one version of the control file. */
struct rules {
	struct range read_eio[MAX_RANGES];
	struct range write_eio[MAX_RANGES];
	unsigned nread_eio, nwrite_eio;
	bool sync_eio;
	unsigned delay_ms;
	unsigned delay_ops;       /* bit per enum op */
	bool hold;
	uint64_t hold_after;      /* writes to let through before holding */
	struct range hold_write[MAX_RANGES];
	struct range hold_read[MAX_RANGES];
	unsigned nhold_write, nhold_read;
};

/* Identity of the control file version loaded (to see a rewrite). */
struct file_id {
	bool exists;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
};

static struct {
	const char *backing;
	const char *name;          /* of the disk file, in the mount's root */
	const char *control;       /* NULL: command-line rules only */
	int fd;                    /* the backing image */
	bool read_only;
	struct rules cmdline;

	pthread_mutex_t lock;      /* everything below */
	pthread_cond_t changed;    /* a new rule set was loaded */
	struct rules cur;
	struct file_id loaded;
	uint64_t generation;
	uint64_t passed_since_hold; /* writes let through since the current rules loaded */
	uint64_t count[OP_COUNT];
	uint64_t eio[OP_COUNT];
	uint64_t inflight[OP_COUNT];
	uint64_t held;
} fs = {
	.fd = -1,
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.changed = PTHREAD_COND_INITIALIZER,
};

static void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void logmsg(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	/* One write per line: lines from threads do not interleave. */
	(void)!write(STDERR_FILENO, buf, (size_t)n);
}

/* ------------------------------------------------------------------ */
/* Rules                                                               */

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!*s || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

static int parse_range(const char *s, struct range *r)
{
	char buf[64];
	char *plus;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	plus = strchr(buf, '+');
	if (!plus)
		return -1;
	*plus = '\0';
	if (parse_u64(buf, &r->off) || parse_u64(plus + 1, &r->len) || r->len == 0 ||
	    r->off + r->len < r->off)
		return -1;
	return 0;
}

static int parse_ops(const char *s, unsigned *mask)
{
	char buf[128];
	char *save = NULL;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	*mask = 0;
	for (char *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		int i;

		for (i = 0; i < OP_COUNT && strcmp(w, op_names[i]); i++)
			;
		if (i == OP_COUNT)
			return -1;
		*mask |= 1u << i;
	}
	return 0;
}

static void rules_init(struct rules *r)
{
	memset(r, 0, sizeof(*r));
	r->delay_ops = (1u << OP_COUNT) - 1;
}

/* Applies one "key[=value]" rule to @r. 0, or -1 with a message in @err. */
static int apply_rule(struct rules *r, const char *key, const char *val, char *err, size_t errlen)
{
	uint64_t v;

	if (!strcmp(key, "read-eio") || !strcmp(key, "write-eio") ||
	    !strcmp(key, "hold-read") || !strcmp(key, "hold-write")) {
		bool hold = key[0] == 'h', rd = strstr(key, "read") != NULL;
		struct range *rs = hold ? (rd ? r->hold_read : r->hold_write)
					: (rd ? r->read_eio : r->write_eio);
		unsigned *n = hold ? (rd ? &r->nhold_read : &r->nhold_write)
				   : (rd ? &r->nread_eio : &r->nwrite_eio);

		if (!val || *n == MAX_RANGES || parse_range(val, &rs[*n])) {
			snprintf(err, errlen, "%s: expected OFF+LEN (LEN > 0, at most %d ranges)",
				 key, MAX_RANGES);
			return -1;
		}
		++*n;
		return 0;
	}
	if (!strcmp(key, "sync-eio")) {
		if (val) {
			snprintf(err, errlen, "sync-eio takes no value");
			return -1;
		}
		r->sync_eio = true;
		return 0;
	}
	if (!strcmp(key, "delay-ms")) {
		if (!val || parse_u64(val, &v) || v > 600000) {
			snprintf(err, errlen, "delay-ms: expected 0..600000");
			return -1;
		}
		r->delay_ms = (unsigned)v;
		return 0;
	}
	if (!strcmp(key, "delay-ops")) {
		if (!val || parse_ops(val, &r->delay_ops)) {
			snprintf(err, errlen, "delay-ops: expected a list of read,write,sync,fallocate");
			return -1;
		}
		return 0;
	}
	if (!strcmp(key, "hold-writes")) {
		if (!val || parse_u64(val, &v)) {
			snprintf(err, errlen, "hold-writes: expected a count");
			return -1;
		}
		r->hold = true;
		r->hold_after = v;
		return 0;
	}
	snprintf(err, errlen, "unknown rule \"%s\"", key);
	return -1;
}

/* Parses the control file text into @r. 0, or -1 with a message in @err. */
static int parse_control(char *text, struct rules *r, char *err, size_t errlen)
{
	char *save = NULL;
	unsigned lineno = 0;

	rules_init(r);
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *hash = strchr(line, '#');
		char *eq, *end;
		char msg[160];

		lineno++;
		if (hash)
			*hash = '\0';
		while (*line == ' ' || *line == '\t')
			line++;
		end = line + strlen(line);
		while (end > line && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
			*--end = '\0';
		if (!*line)
			continue;
		eq = strchr(line, '=');
		if (eq)
			*eq++ = '\0';
		if (apply_rule(r, line, eq, msg, sizeof(msg))) {
			snprintf(err, errlen, "line %u: %s", lineno, msg);
			return -1;
		}
	}
	return 0;
}

static bool same_file(const struct file_id *a, const struct file_id *b)
{
	if (a->exists != b->exists)
		return false;
	if (!a->exists)
		return true;
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
	       a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec;
}

static void load_rules_locked(const struct rules *r)
{
	fs.cur = *r;
	fs.generation++;
	fs.passed_since_hold = 0;
	pthread_cond_broadcast(&fs.changed);
}

/* Reads the control file if it changed since it was last loaded. Called with fs.lock held. */
static void reload_locked(void)
{
	struct file_id now = { 0 };
	struct stat st;
	struct rules r;
	char err[200];
	char *text;
	int fd;

	if (!fs.control)
		return;
	fd = open(fs.control, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && fstat(fd, &st) == 0) {
		now.exists = true;
		now.dev = st.st_dev;
		now.ino = st.st_ino;
		now.size = st.st_size;
		now.mtime = st.st_mtim;
		now.ctime = st.st_ctim;
	}
	if (same_file(&now, &fs.loaded)) {
		if (fd >= 0)
			close(fd);
		return;
	}
	fs.loaded = now;
	if (!now.exists) {
		if (fd >= 0)
			close(fd);
		logmsg("faultfs: control file %s absent: command-line rules", fs.control);
		load_rules_locked(&fs.cmdline);
		return;
	}
	text = calloc(1, (size_t)now.size + 1);
	if (!text || (now.size && pread(fd, text, (size_t)now.size, 0) != now.size)) {
		logmsg("faultfs: cannot read control file %s: %s (rules unchanged)", fs.control,
		       strerror(errno ? errno : EIO));
		free(text);
		close(fd);
		return;
	}
	close(fd);
	if (parse_control(text, &r, err, sizeof(err))) {
		logmsg("faultfs: control file %s: %s (rules unchanged)", fs.control, err);
	} else {
		load_rules_locked(&r);
		logmsg("faultfs: control file %s loaded (generation %" PRIu64 ")", fs.control,
		       fs.generation);
	}
	free(text);
}

static bool touches(const struct range *rs, unsigned n, uint64_t off, uint64_t len)
{
	if (len == 0)
		return false;
	for (unsigned i = 0; i < n; i++)
		if (off < rs[i].off + rs[i].len && rs[i].off < off + len)
			return true;
	return false;
}

/* Whether the rules hold this request now. Called with fs.lock held. */
static bool must_hold(enum op op, uint64_t off, uint64_t len)
{
	if (op == OP_READ)
		return touches(fs.cur.hold_read, fs.cur.nhold_read, off, len);
	if (op != OP_WRITE && op != OP_FALLOCATE)
		return false;
	return (fs.cur.hold && fs.passed_since_hold >= fs.cur.hold_after) ||
	       touches(fs.cur.hold_write, fs.cur.nhold_write, off, len);
}

/*
 * Starts a request on the disk file: reloads the rules, holds it while a hold rule says so, counts it and decides. Returns 0 to go on (after sleeping *delay_ms), or -EIO.
 */
static int begin(enum op op, uint64_t off, uint64_t len, unsigned *delay_ms)
{
	bool fail;

	pthread_mutex_lock(&fs.lock);
	reload_locked();
	fs.count[op]++;
	fs.inflight[op]++;
	for (bool counted_held = false;; ) {
		struct timespec until;

		if (!must_hold(op, off, len)) {
			if (counted_held) {
				fs.held--;
				logmsg("faultfs: released %s off=%" PRIu64 " len=%" PRIu64,
				       op_names[op], off, len);
			}
			break;
		}
		if (!counted_held) {
			fs.held++;
			counted_held = true;
			logmsg("faultfs: holding %s off=%" PRIu64 " len=%" PRIu64, op_names[op], off,
			       len);
		}
		/* Wake now and then to see a rewritten control file. */
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 5 * 1000 * 1000;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&fs.changed, &fs.lock, &until);
		reload_locked();
	}
	if (op == OP_WRITE || op == OP_FALLOCATE)
		fs.passed_since_hold++;
	switch (op) {
	case OP_READ:
		fail = touches(fs.cur.read_eio, fs.cur.nread_eio, off, len);
		break;
	case OP_WRITE:
	case OP_FALLOCATE:
		fail = touches(fs.cur.write_eio, fs.cur.nwrite_eio, off, len);
		break;
	default:
		fail = fs.cur.sync_eio;
		break;
	}
	*delay_ms = (fs.cur.delay_ops & (1u << op)) ? fs.cur.delay_ms : 0;
	if (fail)
		fs.eio[op]++;
	pthread_mutex_unlock(&fs.lock);
	if (fail) {
		if (op == OP_SYNC)
			logmsg("faultfs: EIO %s", op_names[op]);
		else
			logmsg("faultfs: EIO %s off=%" PRIu64 " len=%" PRIu64, op_names[op], off, len);
	}
	return fail ? -EIO : 0;
}

static void end(enum op op)
{
	pthread_mutex_lock(&fs.lock);
	fs.inflight[op]--;
	pthread_mutex_unlock(&fs.lock);
}

static void sleep_ms(unsigned ms)
{
	struct timespec t = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (ms && nanosleep(&t, &t) && errno == EINTR)
		;
}

/* ------------------------------------------------------------------ */
/* Filesystem operations                                               */

enum node { NODE_NONE, NODE_ROOT, NODE_DISK, NODE_STATUS };

static enum node lookup(const char *path)
{
	if (!strcmp(path, "/"))
		return NODE_ROOT;
	if (path[0] == '/' && !strcmp(path + 1, fs.name))
		return NODE_DISK;
	if (!strcmp(path, "/" STATUS_NAME))
		return NODE_STATUS;
	return NODE_NONE;
}

static int status_text(char *buf, size_t cap)
{
	struct stat st;
	int n;

	if (fstat(fs.fd, &st))
		st.st_size = -1;
	pthread_mutex_lock(&fs.lock);
	reload_locked();
	n = snprintf(buf, cap,
		     "generation=%" PRIu64 " reads=%" PRIu64 " writes=%" PRIu64 " syncs=%" PRIu64
		     " fallocates=%" PRIu64 " eio_reads=%" PRIu64 " eio_writes=%" PRIu64
		     " eio_syncs=%" PRIu64 " inflight_reads=%" PRIu64 " inflight_writes=%" PRIu64
		     " held=%" PRIu64 " size=%lld\n",
		     fs.generation, fs.count[OP_READ], fs.count[OP_WRITE], fs.count[OP_SYNC],
		     fs.count[OP_FALLOCATE], fs.eio[OP_READ], fs.eio[OP_WRITE] + fs.eio[OP_FALLOCATE],
		     fs.eio[OP_SYNC], fs.inflight[OP_READ],
		     fs.inflight[OP_WRITE] + fs.inflight[OP_FALLOCATE], fs.held,
		     (long long)st.st_size);
	pthread_mutex_unlock(&fs.lock);
	return n < 0 ? 0 : (size_t)n >= cap ? (int)cap - 1 : n;
}

static int ff_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	struct stat b;

	(void)fi;
	memset(st, 0, sizeof(*st));
	st->st_uid = getuid();
	st->st_gid = getgid();
	switch (lookup(path)) {
	case NODE_ROOT:
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		return 0;
	case NODE_DISK:
		if (fstat(fs.fd, &b))
			return -errno;
		st->st_mode = S_IFREG | (fs.read_only ? 0444 : 0644);
		st->st_nlink = 1;
		st->st_size = b.st_size;
		st->st_blocks = b.st_blocks;
		st->st_blksize = 4096;
		st->st_atim = b.st_atim;
		st->st_mtim = b.st_mtim;
		st->st_ctim = b.st_ctim;
		return 0;
	case NODE_STATUS:
		st->st_mode = S_IFREG | 0444;
		st->st_nlink = 1;
		st->st_size = 4096; /* an upper bound; it is direct_io, so read to EOF */
		return 0;
	default:
		return -ENOENT;
	}
}

static int ff_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
		      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	(void)off;
	(void)fi;
	(void)flags;
	if (lookup(path) != NODE_ROOT)
		return -ENOTDIR;
	fill(buf, ".", NULL, 0, 0);
	fill(buf, "..", NULL, 0, 0);
	fill(buf, fs.name, NULL, 0, 0);
	fill(buf, STATUS_NAME, NULL, 0, 0);
	return 0;
}

static int ff_open(const char *path, struct fuse_file_info *fi)
{
	int acc = fi->flags & O_ACCMODE;

	switch (lookup(path)) {
	case NODE_DISK:
		if (fs.read_only && acc != O_RDONLY)
			return -EROFS;
		break;
	case NODE_STATUS:
		if (acc != O_RDONLY)
			return -EACCES;
		break;
	case NODE_ROOT:
		return -EISDIR;
	default:
		return -ENOENT;
	}
	fi->direct_io = 1; /* one request per read / write, over exactly its bytes */
	fi->keep_cache = 0;
	return 0;
}

static int ff_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	unsigned delay;
	size_t done = 0;
	int err;

	(void)fi;
	if (lookup(path) == NODE_STATUS) {
		char text[1024];
		int n = status_text(text, sizeof(text));

		if (off >= n)
			return 0;
		if (size > (size_t)(n - off))
			size = (size_t)(n - off);
		memcpy(buf, text + off, size);
		return (int)size;
	}
	if (lookup(path) != NODE_DISK)
		return -ENOENT;
	err = begin(OP_READ, (uint64_t)off, size, &delay);
	if (!err) {
		sleep_ms(delay);
		while (done < size) {
			ssize_t n = pread(fs.fd, buf + done, size - done, off + (off_t)done);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				err = -errno;
				break;
			}
			if (n == 0)
				break; /* end of file */
			done += (size_t)n;
		}
	}
	end(OP_READ);
	/* A short count before an error is what read(2) would give. */
	return done ? (int)done : err;
}

static int ff_write(const char *path, const char *buf, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	unsigned delay;
	size_t done = 0;
	int err;

	(void)fi;
	if (lookup(path) != NODE_DISK)
		return -EACCES;
	err = begin(OP_WRITE, (uint64_t)off, size, &delay);
	if (!err) {
		sleep_ms(delay);
		while (done < size) {
			ssize_t n = pwrite(fs.fd, buf + done, size - done, off + (off_t)done);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				err = -errno; /* ENOSPC, EFBIG, ... as the backing file says */
				break;
			}
			done += (size_t)n;
		}
	}
	end(OP_WRITE);
	return done ? (int)done : err;
}

static int ff_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	unsigned delay;
	int err;

	(void)fi;
	if (lookup(path) != NODE_DISK)
		return 0;
	err = begin(OP_SYNC, 0, 0, &delay);
	if (!err) {
		sleep_ms(delay);
		if ((datasync ? fdatasync(fs.fd) : fsync(fs.fd)) < 0)
			err = -errno;
	}
	end(OP_SYNC);
	return err;
}

static int ff_fallocate(const char *path, int mode, off_t off, off_t len,
			struct fuse_file_info *fi)
{
	unsigned delay;
	int err;

	(void)fi;
	if (lookup(path) != NODE_DISK)
		return -EACCES;
	if (off < 0 || len <= 0)
		return -EINVAL;
	err = begin(OP_FALLOCATE, (uint64_t)off, (uint64_t)len, &delay);
	if (!err) {
		sleep_ms(delay);
		if (fallocate(fs.fd, mode, off, len) < 0)
			err = -errno;
	}
	end(OP_FALLOCATE);
	return err;
}

static int ff_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	(void)fi;
	if (lookup(path) != NODE_DISK)
		return -EACCES;
	return ftruncate(fs.fd, size) < 0 ? -errno : 0;
}

static int ff_statfs(const char *path, struct statvfs *sv)
{
	(void)path;
	return fstatvfs(fs.fd, sv) < 0 ? -errno : 0;
}

static void *ff_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	(void)conn;
	cfg->direct_io = 1;
	cfg->kernel_cache = 0;
	cfg->use_ino = 0;
	/* The disk file's size never changes under the kernel's feet, but be exact. */
	cfg->attr_timeout = 0;
	cfg->entry_timeout = 0;
	cfg->negative_timeout = 0;
	return NULL;
}

static const struct fuse_operations ff_ops = {
	.init = ff_init,
	.getattr = ff_getattr,
	.readdir = ff_readdir,
	.open = ff_open,
	.read = ff_read,
	.write = ff_write,
	.fsync = ff_fsync,
	.fallocate = ff_fallocate,
	.truncate = ff_truncate,
	.statfs = ff_statfs,
};

/* ------------------------------------------------------------------ */
/* Command line                                                        */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: faultfs [options] BACKING MOUNTPOINT\n"
		"Serves BACKING as MOUNTPOINT/NAME through FUSE, injecting faults; the counters\n"
		"are in MOUNTPOINT/status. Unmount with fusermount3 -u MOUNTPOINT.\n\n"
		"  --name=NAME          the file's name in the mount (default disk.img)\n"
		"  --read-only          open BACKING read-only\n"
		"  --read-eio=OFF+LEN   reads touching bytes [OFF, OFF+LEN) fail with EIO\n"
		"  --write-eio=OFF+LEN  writes and fallocates touching the range fail with EIO\n"
		"  --sync-eio           fsync / fdatasync fail with EIO\n"
		"  --delay-ms=N         each request of the disk file waits N ms first\n"
		"  --delay-ops=LIST     which: read,write,sync,fallocate (default all)\n"
		"  --hold-writes=N      let N writes through, then hold later ones until the\n"
		"                       rules change (through the control file)\n"
		"  --hold-write=OFF+LEN hold the writes touching the range until the rules change\n"
		"  --hold-read=OFF+LEN  the same for reads\n"
		"  --control=PATH       rule file (same words, one per line), re-read when it\n"
		"                       changes; while it exists it replaces the options above\n"
		"  -d, --debug          FUSE debug output\n"
		"  -h, --help\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "read-only", no_argument, NULL, 'R' },
		{ "read-eio", required_argument, NULL, 'r' },
		{ "write-eio", required_argument, NULL, 'w' },
		{ "sync-eio", no_argument, NULL, 's' },
		{ "delay-ms", required_argument, NULL, 'D' },
		{ "delay-ops", required_argument, NULL, 'O' },
		{ "hold-writes", required_argument, NULL, 'H' },
		{ "hold-write", required_argument, NULL, 'G' },
		{ "hold-read", required_argument, NULL, 'g' },
		{ "control", required_argument, NULL, 'c' },
		{ "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char mountpoint[PATH_MAX];
	char *fargv[8];
	struct fuse_args args;
	struct fuse_loop_config *loop;
	struct fuse_session *se;
	struct fuse *f;
	bool debug = false;
	int fargc = 0;
	int c, rc;

	fs.name = "disk.img";
	rules_init(&fs.cmdline);
	while ((c = getopt_long(argc, argv, "dh", opts, NULL)) != -1) {
		const char *key = NULL;
		char err[160];

		switch (c) {
		case 'n':
			fs.name = optarg;
			break;
		case 'R':
			fs.read_only = true;
			break;
		case 'r': key = "read-eio"; break;
		case 'w': key = "write-eio"; break;
		case 's': key = "sync-eio"; break;
		case 'D': key = "delay-ms"; break;
		case 'O': key = "delay-ops"; break;
		case 'H': key = "hold-writes"; break;
		case 'G': key = "hold-write"; break;
		case 'g': key = "hold-read"; break;
		case 'c':
			fs.control = optarg;
			break;
		case 'd':
			debug = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
		if (key && apply_rule(&fs.cmdline, key, c == 's' ? NULL : optarg, err, sizeof(err))) {
			fprintf(stderr, "faultfs: --%s\n", err);
			return 2;
		}
	}
	if (argc - optind != 2) {
		usage(stderr);
		return 2;
	}
	if (!*fs.name || strchr(fs.name, '/') || !strcmp(fs.name, STATUS_NAME) ||
	    !strcmp(fs.name, ".") || !strcmp(fs.name, "..")) {
		fprintf(stderr, "faultfs: --name=%s: not a usable file name\n", fs.name);
		return 2;
	}
	fs.backing = argv[optind];
	if (!realpath(argv[optind + 1], mountpoint)) {
		fprintf(stderr, "faultfs: mount point %s: %s\n", argv[optind + 1], strerror(errno));
		return 1;
	}
	fs.fd = open(fs.backing, (fs.read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (fs.fd < 0) {
		fprintf(stderr, "faultfs: %s: %s\n", fs.backing, strerror(errno));
		return 1;
	}
	fs.cur = fs.cmdline;
	fs.generation = 1;
	pthread_mutex_lock(&fs.lock);
	reload_locked(); /* a control file present at start wins */
	pthread_mutex_unlock(&fs.lock);

	/* fsname shows in /proc/mounts; auto_unmount: no stale mount if we are killed. */
	fargv[fargc++] = argv[0];
	if (debug)
		fargv[fargc++] = "-d";
	fargv[fargc++] = "-o";
	fargv[fargc++] = "fsname=faultfs,subtype=faultfs,auto_unmount";
	fargv[fargc] = NULL;
	args = (struct fuse_args)FUSE_ARGS_INIT(fargc, fargv);
	f = fuse_new(&args, &ff_ops, sizeof(ff_ops), NULL);
	if (!f) {
		fprintf(stderr, "faultfs: fuse_new failed\n");
		close(fs.fd);
		return 1;
	}
	if (fuse_mount(f, mountpoint)) {
		fprintf(stderr, "faultfs: cannot mount on %s (is /dev/fuse usable, fusermount3 "
			"installed?)\n", mountpoint);
		fuse_destroy(f);
		close(fs.fd);
		return 1;
	}
	se = fuse_get_session(f);
	fuse_set_signal_handlers(se); /* SIGTERM, SIGINT, SIGHUP end the loop: we unmount */
	/* Requests are served in parallel: a delayed or held one does not stop the others. */
	loop = fuse_loop_cfg_create();
	fuse_loop_cfg_set_max_threads(loop, 64);
	fuse_loop_cfg_set_idle_threads(loop, 16);
	logmsg("faultfs: serving %s as %s/%s", fs.backing, mountpoint, fs.name);
	rc = fuse_loop_mt(f, loop);
	fuse_loop_cfg_destroy(loop);
	fuse_remove_signal_handlers(se);
	fuse_unmount(f);
	fuse_destroy(f);
	fuse_opt_free_args(&args);
	close(fs.fd);
	logmsg("faultfs: unmounted, exiting with status %d", rc);
	/* The loop returns the signal that ended it: a requested exit. */
	return rc == 0 || rc == SIGTERM || rc == SIGINT || rc == SIGHUP ? 0 : 1;
}
