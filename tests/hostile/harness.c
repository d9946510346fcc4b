/* SPDX-License-Identifier: BSD-3-Clause */
/* The hostile front-end suite's harness: the daemon, guest memory with canaries, a raw front-end and driver, the runner. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hostile.h"

#define MAX_CONNS 8
#define MAX_ALLOW 8192
#define CASE_WATCHDOG_S 60

static const struct {
	uint64_t gpa, size, off;
} REG[NREG] = {
	{ R0_GPA, R0_SIZE, R0_OFF },
	{ R1_GPA, R1_SIZE, R1_OFF },
	{ R2_GPA, R2_SIZE, R2_OFF },
};

static struct {
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
} G = { .pid = -1, .memfd = -1, .base_fds = -1 };

/* ------------------------------------------------------------------ */
/* Results                                                             */

void hfail(const char *file, int line, const char *fmt, ...)
{
	size_t n = strlen(G.failmsg);
	va_list ap;

	if (n < sizeof(G.failmsg) - 1)
		n += (size_t)snprintf(G.failmsg + n, sizeof(G.failmsg) - n, "%s%s:%d: ",
				      n ? "\n" : "", file, line);
	if (n < sizeof(G.failmsg) - 1) {
		va_start(ap, fmt);
		vsnprintf(G.failmsg + n, sizeof(G.failmsg) - n, fmt, ap);
		va_end(ap);
	}
	if (G.jb)
		longjmp(*G.jb, 1);
	fprintf(stderr, "hostile: %s\n", G.failmsg);
	exit(1);
}

void note(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

int wait_ms(void)
{
	return G.timeout_ms;
}

void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void known_issue(const char *what)
{
	G.known = what;
}

unsigned case_no(void)
{
	return G.case_no;
}

const char *socket_path(void)
{
	return G.sock;
}

pid_t daemon_pid(void)
{
	return G.pid;
}

/* xorshift64*: deterministic test data. */
static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

static void fill_random(void *p, size_t len, uint64_t seed)
{
	uint8_t *b = p;
	uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;

	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)(rng_next(&s) >> 56);
}

/* ------------------------------------------------------------------ */
/* Guest memory                                                        */

/* File offset of @gpa and the bytes left in its region; -1 if unmapped. */
static int64_t gpa_off(uint64_t gpa, uint64_t *left)
{
	for (int i = 0; i < NREG; i++)
		if (gpa >= REG[i].gpa && gpa - REG[i].gpa < REG[i].size) {
			if (left)
				*left = REG[i].size - (gpa - REG[i].gpa);
			return (int64_t)(REG[i].off + (gpa - REG[i].gpa));
		}
	return -1;
}

uint64_t region_gpa(int region)
{
	return REG[region].gpa;
}

uint64_t region_size(int region)
{
	return REG[region].size;
}

int mem_fd(void)
{
	return G.memfd;
}

uint64_t galloc_in(int region, uint64_t len, uint64_t align)
{
	uint64_t at = (G.brk[region] + align - 1) & ~(align - 1);

	if (at + len > REG[region].size)
		FAIL("harness: guest memory region %d exhausted", region);
	G.brk[region] = at + len;
	return REG[region].gpa + at;
}

uint64_t galloc(uint64_t len, uint64_t align)
{
	return galloc_in(0, len, align);
}

void *gptr(uint64_t gpa, uint64_t len)
{
	uint64_t left;
	int64_t off = gpa_off(gpa, &left);

	if (off < 0 || len > left)
		return NULL;
	return G.mem + off;
}

uint64_t guva(uint64_t gpa)
{
	int64_t off = gpa_off(gpa, NULL);

	if (off < 0)
		FAIL("harness: guva of unmapped gpa 0x%llx", (unsigned long long)gpa);
	return (uint64_t)(uintptr_t)(G.mem + off);
}

/* Calls @fn on each piece of [gpa, gpa + len) inside one region. */
#define FOR_PIECES(gpa, len, body)                                                     \
	do {                                                                           \
		uint64_t g_ = (gpa), l_ = (len), done_ = 0;                           \
		while (l_) {                                                           \
			uint64_t left_;                                                \
			int64_t off_ = gpa_off(g_, &left_);                            \
			uint64_t n_;                                                   \
			if (off_ < 0)                                                  \
				FAIL("harness: guest access at unmapped 0x%llx",      \
				     (unsigned long long)g_);                          \
			n_ = l_ < left_ ? l_ : left_;                                  \
			body;                                                          \
			g_ += n_;                                                      \
			l_ -= n_;                                                      \
			done_ += n_;                                                   \
		}                                                                      \
		(void)done_; /* not every body needs it */                            \
	} while (0)

void gwrite(uint64_t gpa, const void *p, uint64_t len)
{
	FOR_PIECES(gpa, len, {
		memcpy(G.shadow + off_, (const uint8_t *)p + done_, n_);
		memcpy(G.mem + off_, (const uint8_t *)p + done_, n_);
	});
}

void gread(uint64_t gpa, void *p, uint64_t len)
{
	FOR_PIECES(gpa, len, { memcpy((uint8_t *)p + done_, G.mem + off_, n_); });
}

void gfill(uint64_t gpa, int byte, uint64_t len)
{
	FOR_PIECES(gpa, len, {
		memset(G.shadow + off_, byte, n_);
		memset(G.mem + off_, byte, n_);
	});
}

void gallow(uint64_t gpa, uint64_t len)
{
	FOR_PIECES(gpa, len, {
		if (G.nallow == MAX_ALLOW)
			FAIL("harness: too many writable ranges");
		G.allow[G.nallow].off = (uint64_t)off_;
		G.allow[G.nallow].len = n_;
		G.nallow++;
	});
}

void mem_table(struct vhost_user_memory *t, int *fds)
{
	memset(t, 0, sizeof(*t));
	t->nregions = NREG;
	for (int i = 0; i < NREG; i++) {
		t->regions[i] = (struct vhost_user_memory_region){
			.guest_phys_addr = REG[i].gpa, .memory_size = REG[i].size,
			.userspace_addr = (uint64_t)(uintptr_t)(G.mem + REG[i].off),
			.mmap_offset = REG[i].off,
		};
		fds[i] = G.memfd;
	}
}

/* Where byte @off may be written: the end of its allowed range, or 0. */
static uint64_t allowed_until(uint64_t off)
{
	uint64_t end = 0;

	for (unsigned i = 0; i < G.nallow; i++)
		if (off >= G.allow[i].off && off - G.allow[i].off < G.allow[i].len &&
		    G.allow[i].off + G.allow[i].len > end)
			end = G.allow[i].off + G.allow[i].len;
	return end;
}

static const char *off_where(uint64_t off, uint64_t *gpa)
{
	for (int i = 0; i < NREG; i++)
		if (off >= REG[i].off && off - REG[i].off < REG[i].size) {
			*gpa = REG[i].gpa + (off - REG[i].off);
			return "gpa";
		}
	*gpa = off;
	return "file gap (never shared) at offset";
}

/* Every byte differs from the shadow only where the daemon was allowed to write. */
static void mem_check(void)
{
	unsigned bad = 0;
	char msg[2048] = "";
	size_t n = 0;

	for (uint64_t page = 0; page < MEM_FILE_SIZE; page += 4096) {
		if (!memcmp(G.mem + page, G.shadow + page, 4096))
			continue;
		for (uint64_t off = page; off < page + 4096; off++) {
			uint64_t until, start, gpa;

			if (G.mem[off] == G.shadow[off])
				continue;
			until = allowed_until(off);
			if (until) {
				off = until - 1;
				continue;
			}
			start = off;
			while (off + 1 < MEM_FILE_SIZE && G.mem[off + 1] != G.shadow[off + 1] &&
			       !allowed_until(off + 1))
				off++;
			if (bad++ < 6 && n < sizeof(msg) - 200) {
				const char *w = off_where(start, &gpa);

				n += (size_t)snprintf(msg + n, sizeof(msg) - n,
					" [%s 0x%llx, %llu bytes: 0x%02x where 0x%02x was]", w,
					(unsigned long long)gpa, (unsigned long long)(off - start + 1),
					G.mem[start], G.shadow[start]);
			}
		}
	}
	memcpy(G.shadow, G.mem, MEM_FILE_SIZE);
	CHECK(!bad, "guest memory written outside the device-writable buffers (%u ranges):%s", bad,
	      msg);
}

/* ------------------------------------------------------------------ */
/* The image and its model                                             */

#define IMG_BYTES (IMG_SECTORS * 512)

void model_write(uint64_t off, const void *p, uint64_t len)
{
	CHECK(off <= IMG_BYTES && len <= IMG_BYTES - off, "harness: model write out of range");
	if (len)
		memcpy(G.model + off, p, len);
}

void model_zero(uint64_t off, uint64_t len)
{
	CHECK(off <= IMG_BYTES && len <= IMG_BYTES - off, "harness: model zero out of range");
	memset(G.model + off, 0, len);
}

const uint8_t *model(void)
{
	return G.model;
}

static void image_check(void)
{
	uint8_t *img = malloc(IMG_BYTES);
	int fd = open(G.img, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	struct stat st;

	CHECK(img && fd >= 0, "harness: cannot read the image");
	if (!fstat(fd, &st) && st.st_size != (off_t)IMG_BYTES) {
		close(fd);
		free(img);
		/* Put it back so later cases are judged on their own. */
		if (truncate(G.img, (off_t)IMG_BYTES))
			note("cannot truncate the image");
		FAIL("the image grew to %lld bytes (written past its end)", (long long)st.st_size);
	}
	n = pread(fd, img, IMG_BYTES, 0);
	close(fd);
	if (n != (ssize_t)IMG_BYTES) {
		free(img);
		FAIL("the image is %zd bytes, not %llu", n, (unsigned long long)IMG_BYTES);
	}
	for (uint64_t s = 0; s < IMG_SECTORS; s++)
		if (memcmp(img + s * 512, G.model + s * 512, 512)) {
			uint64_t e = s;

			while (e + 1 < IMG_SECTORS && memcmp(img + (e + 1) * 512, G.model + (e + 1) * 512, 512))
				e++;
			free(img);
			/* Resynchronise so later cases are judged on their own. */
			fd = open(G.img, O_RDONLY | O_CLOEXEC);
			if (fd >= 0) {
				if (pread(fd, G.model, IMG_BYTES, 0) < 0)
					note("cannot reread the image");
				close(fd);
			}
			FAIL("the image differs from the model in sectors %llu..%llu",
			     (unsigned long long)s, (unsigned long long)e);
		}
	free(img);
}

/* ------------------------------------------------------------------ */
/* The daemon                                                          */

static char *log_read(off_t from)
{
	int fd = open(G.logp, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf;
	ssize_t n;

	if (fd < 0 || fstat(fd, &st)) {
		if (fd >= 0)
			close(fd);
		return strdup("");
	}
	if (st.st_size < from)
		from = 0;
	buf = malloc((size_t)(st.st_size - from) + 1);
	n = buf ? pread(fd, buf, (size_t)(st.st_size - from), from) : -1;
	close(fd);
	if (n < 0) {
		free(buf);
		return strdup("");
	}
	buf[n] = 0;
	return buf;
}

static off_t log_size(void)
{
	struct stat st;

	return stat(G.logp, &st) ? 0 : st.st_size;
}

bool log_has(const char *s)
{
	char *l = log_read(G.log_off);
	bool r = strstr(l, s) != NULL;

	free(l);
	return r;
}

void expect_log(const char *s)
{
	int64_t end = now_ms() + G.timeout_ms;

	while (!log_has(s)) {
		if (now_ms() > end)
			FAIL("the daemon's log does not say \"%s\"", s);
		sleep_ms(5);
	}
}

static const char *const SANITIZER_MARKS[] = {
	"AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer", "runtime error:",
	"ThreadSanitizer", "MemorySanitizer", "SUMMARY: ",
};

/* A sanitizer report in the daemon's stderr since @from fails the case. */
static void sanitizer_check(off_t from)
{
	char *l = log_read(from);

	for (size_t i = 0; i < sizeof(SANITIZER_MARKS) / sizeof(SANITIZER_MARKS[0]); i++) {
		char *p = strstr(l, SANITIZER_MARKS[i]);

		if (p) {
			char ex[400];

			snprintf(ex, sizeof(ex), "%s", p > l + 100 ? p - 100 : l);
			free(l);
			FAIL("sanitizer report in the daemon's stderr: ...%s", ex);
		}
	}
	free(l);
}

static void print_log_tail(off_t from, int lines)
{
	char *l = log_read(from), *p = l + strlen(l);
	int n = 0;

	while (p > l && n <= lines)
		if (*--p == '\n')
			n++;
	if (*p == '\n')
		p++;
	for (char *line = strtok(p, "\n"); line; line = strtok(NULL, "\n"))
		printf("#   daemon: %s\n", line);
	free(l);
}

static void daemon_start(void)
{
	char sock_arg[160], img_arg[160];
	const char *aio = getenv("HOSTILE_AIO");
	char aio_arg[64], log_arg[64];
	const char *lvl = getenv("HOSTILE_LOG_LEVEL");
	int logfd = open(G.logp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	int64_t end;

	if (logfd < 0)
		FAIL("harness: cannot open %s: %s", G.logp, strerror(errno));
	G.start_off = log_size();
	snprintf(sock_arg, sizeof(sock_arg), "--socket-path=%s", G.sock);
	snprintf(img_arg, sizeof(img_arg), "--blk-file=%s", G.img);
	snprintf(aio_arg, sizeof(aio_arg), "--aio=%s", aio ? aio : "io_uring");
	snprintf(log_arg, sizeof(log_arg), "--log-level=%s", lvl ? lvl : "debug");
	fflush(stdout);
	G.pid = fork();
	if (G.pid < 0)
		FAIL("harness: fork: %s", strerror(errno));
	if (G.pid == 0) {
		char *argv[] = { (char *)G.exe, sock_arg, img_arg, (char *)"--num-queues=2",
				 (char *)"--discard", (char *)"--write-zeroes", aio_arg,
				 log_arg, NULL };

		dup2(logfd, 1);
		dup2(logfd, 2);
		execv(G.exe, argv);
		_exit(127);
	}
	close(logfd);
	/* Ready once it accepts (a connection that closes at once is harmless). */
	end = now_ms() + 10000;
	for (;;) {
		struct sockaddr_un a = { .sun_family = AF_UNIX };
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int r;

		snprintf(a.sun_path, sizeof(a.sun_path), "%s", G.sock);
		r = connect(fd, (struct sockaddr *)&a, sizeof(a));
		close(fd);
		if (!r)
			break;
		if (waitpid(G.pid, NULL, WNOHANG) == G.pid) {
			G.pid = -1;
			print_log_tail(0, 20);
			FAIL("vio-blk exited at start-up");
		}
		if (now_ms() > end)
			FAIL("vio-blk does not listen on %s", G.sock);
		sleep_ms(5);
	}
	G.base_fds = -1;
}

static void daemon_kill(void)
{
	if (G.pid > 0) {
		kill(G.pid, SIGKILL);
		waitpid(G.pid, NULL, 0);
	}
	G.pid = -1;
}

/* Fails if the daemon died; @restart it then. */
static void daemon_alive(void)
{
	int st;

	if (G.pid <= 0)
		FAIL("the daemon is not running");
	if (waitpid(G.pid, &st, WNOHANG) == G.pid) {
		G.pid = -1;
		if (WIFSIGNALED(st))
			FAIL("the daemon died of signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
		FAIL("the daemon exited with status %d", WEXITSTATUS(st));
	}
}

static int count_dir(const char *path)
{
	DIR *d = opendir(path);
	int n = 0;

	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static int daemon_fds(void)
{
	char p[64];

	snprintf(p, sizeof(p), "/proc/%d/fd", (int)G.pid);
	return count_dir(p);
}

/* memfd mappings (guest memory, inflight regions) of the daemon. */
int daemon_cpu_ms(void)
{
	char p[64], buf[1024], *s;
	unsigned long ut = 0, st = 0;
	FILE *f;

	snprintf(p, sizeof(p), "/proc/%d/stat", (int)G.pid);
	f = fopen(p, "re");
	if (!f)
		return -1;
	s = fgets(buf, sizeof(buf), f);
	fclose(f);
	if (!s || !(s = strrchr(buf, ')')))
		return -1;
	/* Fields after the command: state(3) ... utime(14) stime(15). */
	if (sscanf(s + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (int)((ut + st) * 1000 / (unsigned long)sysconf(_SC_CLK_TCK));
}

int daemon_memfd_maps(void)
{
	char p[64], line[512];
	FILE *f;
	int n = 0;

	snprintf(p, sizeof(p), "/proc/%d/maps", (int)G.pid);
	f = fopen(p, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "/memfd:"))
			n++;
	fclose(f);
	return n;
}

/* Idle: no more fds than at the first idle moment, no memfd mapped. */
static void idle_check(void)
{
	int64_t end = now_ms() + G.timeout_ms;
	int fds, maps;

	for (;;) {
		fds = daemon_fds();
		maps = daemon_memfd_maps();
		if (fds < 0 || maps < 0)
			return; /* cannot tell */
		if ((G.base_fds < 0 || fds <= G.base_fds) && maps == 0)
			break;
		if (now_ms() > end) {
			CHECK(maps == 0, "the daemon still maps %d memfd ranges while idle", maps);
			FAIL("the daemon holds %d fds while idle, %d before (fd leak)", fds, G.base_fds);
		}
		sleep_ms(5);
	}
	if (G.base_fds < 0)
		G.base_fds = fds;
}

/* ------------------------------------------------------------------ */
/* Messages                                                            */

struct conn *conn_open(void)
{
	struct timeval tv = { .tv_sec = G.timeout_ms / 1000, .tv_usec = (G.timeout_ms % 1000) * 1000 };
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct conn *c = NULL;
	int64_t end = now_ms() + G.timeout_ms;

	/* The daemon serves one front-end at a time: a new one replaces the old. */
	for (int i = 0; i < MAX_CONNS; i++)
		conn_close(&G.conns[i]);
	c = &G.conns[0];
	memset(c, 0, sizeof(*c));
	for (int i = 0; i < NQ; i++) {
		c->q[i].c = c;
		c->q[i].index = (uint16_t)i;
		c->q[i].kick = c->q[i].call = c->q[i].err = -1;
	}
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", G.sock);
	for (;;) {
		c->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		CHECK(c->sock >= 0, "socket: %s", strerror(errno));
		if (!connect(c->sock, (struct sockaddr *)&a, sizeof(a)))
			break;
		close(c->sock);
		CHECK(now_ms() < end, "cannot connect to the daemon: %s", strerror(errno));
		sleep_ms(5);
	}
	setsockopt(c->sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	c->open = true;
	return c;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void conn_close(struct conn *c)
{
	if (!c->open)
		return;
	close_fd(&c->sock);
	for (int i = 0; i < NQ; i++) {
		close_fd(&c->q[i].kick);
		close_fd(&c->q[i].call);
		close_fd(&c->q[i].err);
	}
	c->open = false;
}

int msg_send(struct conn *c, uint32_t req, uint32_t flags, const void *payload, uint32_t size,
	     const int *fds, unsigned nfds)
{
	struct vhost_user_header h = { req, flags, size };

	return vu_msg_send(c->sock, &h, payload, fds, nfds);
}

int raw_send(struct conn *c, const void *buf, size_t len, const int *fds, unsigned nfds)
{
	char control[CMSG_SPACE(16 * sizeof(int))];
	struct iovec iov = { (void *)buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (nfds > 16)
		return -EINVAL;
	if (nfds) {
		struct cmsghdr *cm;

		memset(control, 0, sizeof(control));
		mh.msg_control = control;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, nfds * sizeof(int));
	}
	return sendmsg(c->sock, &mh, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -errno;
}

int msg_recv(struct conn *c, struct vu_msg *m, int ms)
{
	struct pollfd p = { c->sock, POLLIN, 0 };
	int r;

	do {
		r = poll(&p, 1, ms);
	} while (r < 0 && errno == EINTR);
	if (r == 0)
		return -ETIMEDOUT;
	return vu_msg_recv(c->sock, m);
}

/* Receives the reply to @req: request echoed, REPLY flag, @size bytes (or any if -1). */
static int reply(struct conn *c, uint32_t req, struct vu_msg *m, int64_t size)
{
	int r = msg_recv(c, m, G.timeout_ms);

	if (r == -ETIMEDOUT)
		FAIL("no reply to %s within %d ms", vio_vhost_user_request_name(req), G.timeout_ms);
	if (r)
		return r;
	CHECK(m->hdr.request == req && (m->hdr.flags & VHOST_USER_REPLY_MASK) &&
	      (size < 0 || m->hdr.size == size),
	      "bad reply to %s: request %u, flags 0x%x, size %u", vio_vhost_user_request_name(req),
	      m->hdr.request, m->hdr.flags, m->hdr.size);
	return 0;
}

int64_t msg_ack(struct conn *c, uint32_t req, const void *payload, uint32_t size,
		const int *fds, unsigned nfds)
{
	struct vu_msg m;
	int r = msg_send(c, req, VHOST_USER_VERSION | VHOST_USER_NEED_REPLY_MASK, payload, size,
			 fds, nfds);

	if (r)
		return r;
	r = reply(c, req, &m, 8);
	if (r)
		return r;
	vu_msg_close_fds(&m);
	return m.payload.u64 ? 1 : 0;
}

uint64_t get_u64(struct conn *c, uint32_t req)
{
	struct vu_msg m;
	int r = msg_send(c, req, VHOST_USER_VERSION, NULL, 0, NULL, 0);

	CHECK(!r, "sending %s: %s", vio_vhost_user_request_name(req), strerror(-r));
	r = reply(c, req, &m, 8);
	CHECK(!r, "%s: connection %s", vio_vhost_user_request_name(req),
	      r == -ECONNRESET ? "closed by the daemon" : strerror(-r));
	CHECK(m.nfds == 0, "%s reply with %u fds", vio_vhost_user_request_name(req), m.nfds);
	return m.payload.u64;
}

void expect_alive(struct conn *c)
{
	(void)get_u64(c, VHOST_USER_GET_FEATURES);
}

void send_ok(struct conn *c, uint32_t req, const void *payload, uint32_t size, const int *fds,
	     unsigned nfds)
{
	int64_t r;

	if (c->protocol & VIO_BIT(VHOST_USER_PROTOCOL_F_REPLY_ACK)) {
		r = msg_ack(c, req, payload, size, fds, nfds);
		CHECK(r == 0, "%s %s", vio_vhost_user_request_name(req),
		      r > 0 ? "refused (REPLY_ACK non-zero)" :
		      r == -ECONNRESET ? "made the daemon drop the connection" : strerror((int)-r));
		return;
	}
	r = msg_send(c, req, VHOST_USER_VERSION, payload, size, fds, nfds);
	CHECK(!r, "sending %s: %s", vio_vhost_user_request_name(req), strerror((int)-r));
	expect_alive(c);
}

void ack_refused(struct conn *c, uint32_t req, const void *payload, uint32_t size,
		 const int *fds, unsigned nfds)
{
	int64_t r = msg_ack(c, req, payload, size, fds, nfds);

	CHECK(r != 0, "%s was accepted; it must be refused", vio_vhost_user_request_name(req));
	CHECK(r > 0, "%s: the daemon %s instead of refusing it with REPLY_ACK",
	      vio_vhost_user_request_name(req),
	      r == -ECONNRESET ? "dropped the connection" : "failed");
	expect_alive(c);
}

void send_u64_ok(struct conn *c, uint32_t req, uint64_t v)
{
	send_ok(c, req, &v, 8, NULL, 0);
}

void send_state_ok(struct conn *c, uint32_t req, uint32_t index, uint32_t num)
{
	struct vhost_vring_state s = { index, num };

	send_ok(c, req, &s, sizeof(s), NULL, 0);
}

void expect_drop(struct conn *c, const char *what)
{
	int64_t end = now_ms() + G.timeout_ms;
	char buf[256];

	for (;;) {
		struct pollfd p = { c->sock, POLLIN, 0 };
		int left = (int)(end - now_ms());
		ssize_t n;

		if (left <= 0 || poll(&p, 1, left) == 0)
			FAIL("%s: the daemon did not drop the connection", what);
		n = recv(c->sock, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			break;
		if (n > 0) {
			uint32_t req;

			memcpy(&req, buf, 4);
			FAIL("%s: the daemon answered (%s) instead of dropping the connection", what,
			     n >= 4 ? vio_vhost_user_request_name(req) : "bytes");
		}
	}
	conn_close(c);
}

/* ------------------------------------------------------------------ */
/* Setting up a device                                                 */

void conn_handshake(struct conn *c, uint64_t features, uint64_t protocol)
{
	uint64_t offered = get_u64(c, VHOST_USER_GET_FEATURES), pofs;
	int r;

	CHECK(offered & VIO_BIT(VHOST_USER_F_PROTOCOL_FEATURES),
	      "GET_FEATURES 0x%llx without VHOST_USER_F_PROTOCOL_FEATURES", (unsigned long long)offered);
	pofs = get_u64(c, VHOST_USER_GET_PROTOCOL_FEATURES);
	c->protocol = protocol & pofs;
	r = msg_send(c, VHOST_USER_SET_PROTOCOL_FEATURES, VHOST_USER_VERSION, &c->protocol, 8, NULL, 0);
	CHECK(!r, "SET_PROTOCOL_FEATURES: %s", strerror(-r));
	if (c->protocol & VIO_BIT(VHOST_USER_PROTOCOL_F_MQ))
		CHECK(get_u64(c, VHOST_USER_GET_QUEUE_NUM) == NQ, "GET_QUEUE_NUM is not %d", NQ);
	send_ok(c, VHOST_USER_SET_OWNER, NULL, 0, NULL, 0);
	send_u64_ok(c, VHOST_USER_SET_FEATURES, features);
	c->features = features;
}

void conn_mem_table(struct conn *c)
{
	struct vhost_user_memory t;
	int fds[NREG];

	mem_table(&t, fds);
	send_ok(c, VHOST_USER_SET_MEM_TABLE, &t, 8 + NREG * sizeof(t.regions[0]), fds, NREG);
}

static int new_eventfd(void)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	CHECK(fd >= 0, "eventfd: %s", strerror(errno));
	return fd;
}

void q_alloc(struct conn *c, int qi, bool packed, uint32_t num)
{
	struct hq *q = &c->q[qi];

	CHECK(num >= 1 && num <= 1024, "harness: queue size %u", num);
	q->packed = packed;
	q->num = num;
	if (packed) {
		q->desc = galloc(16ull * num, 16);
		q->avail = galloc(4, 4);
		q->used = galloc(4, 4);
		gfill(q->desc, 0, 16ull * num);
		gfill(q->avail, 0, 4);
		gfill(q->used, 0, 4);
		gallow(q->desc, 16ull * num); /* used descriptors */
		gallow(q->used, 4);          /* device event suppression */
	} else {
		q->desc = galloc(16ull * num, 16);
		q->avail = galloc(6 + 2ull * num, 2);
		q->used = galloc(6 + 8ull * num, 4);
		gfill(q->desc, 0, 16ull * num);
		gfill(q->avail, 0, 6 + 2ull * num);
		gfill(q->used, 0, 6 + 8ull * num);
		gallow(q->used, 6 + 8ull * num);
	}
	q->avail_idx = q->last_used = q->next_desc = 0;
	q->pa = q->pu = 0;
	q->pa_wrap = q->pu_wrap = true;
	q->next_id = 0;
	memset(q->plen, 0, sizeof(q->plen));
	close_fd(&q->kick);
	close_fd(&q->call);
	close_fd(&q->err);
	q->kick = new_eventfd();
	q->call = new_eventfd();
	q->err = new_eventfd();
}

void send_vring_fd(struct conn *c, uint32_t req, int qi, int fd)
{
	uint64_t v = (uint64_t)qi | (fd < 0 ? VHOST_USER_VRING_NOFD_MASK : 0);

	send_ok(c, req, &v, 8, fd < 0 ? NULL : &fd, fd < 0 ? 0 : 1);
}

void q_start(struct conn *c, int qi, uint32_t base)
{
	struct hq *q = &c->q[qi];
	struct vhost_vring_addr a = {
		.index = (uint32_t)qi, .desc_user_addr = guva(q->desc),
		.used_user_addr = guva(q->used), .avail_user_addr = guva(q->avail),
	};

	send_state_ok(c, VHOST_USER_SET_VRING_NUM, (uint32_t)qi, q->num);
	send_state_ok(c, VHOST_USER_SET_VRING_BASE, (uint32_t)qi, base);
	send_ok(c, VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0);
	send_vring_fd(c, VHOST_USER_SET_VRING_CALL, qi, q->call);
	send_vring_fd(c, VHOST_USER_SET_VRING_ERR, qi, q->err);
	send_vring_fd(c, VHOST_USER_SET_VRING_KICK, qi, q->kick);
	if (c->features & VIO_BIT(VHOST_USER_F_PROTOCOL_FEATURES))
		send_state_ok(c, VHOST_USER_SET_VRING_ENABLE, (uint32_t)qi, 1);
	q->set_up = true;
}

void q_setup(struct conn *c, int qi, bool packed, uint32_t num)
{
	q_alloc(c, qi, packed, num);
	q_start(c, qi, packed ? 0x80008000u : 0);
}

struct conn *std_conn_f(uint64_t features, bool packed, uint32_t num)
{
	struct conn *c = conn_open();

	if (packed)
		features |= VIO_BIT(VIRTIO_F_RING_PACKED);
	conn_handshake(c, features, P_STD);
	conn_mem_table(c);
	for (int i = 0; i < NQ; i++)
		q_setup(c, i, packed, num);
	return c;
}

struct conn *std_conn(bool packed, uint32_t num)
{
	return std_conn_f(F_STD, packed, num);
}

uint32_t q_stop(struct conn *c, int qi)
{
	struct vhost_vring_state s = { (uint32_t)qi, 0 };
	struct vu_msg m;
	int r = msg_send(c, VHOST_USER_GET_VRING_BASE, VHOST_USER_VERSION, &s, sizeof(s), NULL, 0);

	CHECK(!r, "GET_VRING_BASE: %s", strerror(-r));
	r = reply(c, VHOST_USER_GET_VRING_BASE, &m, sizeof(s));
	CHECK(!r, "GET_VRING_BASE: %s", r == -ECONNRESET ? "connection dropped" : strerror(-r));
	CHECK(m.payload.state.index == (uint32_t)qi, "GET_VRING_BASE reply for queue %u",
	      m.payload.state.index);
	c->q[qi].set_up = false;
	return m.payload.state.num;
}

void q_reset_restart(struct conn *c, int qi)
{
	struct hq *q = &c->q[qi];

	(void)q_stop(c, qi);
	q_alloc(c, qi, q->packed, q->num);
	q_start(c, qi, q->packed ? 0x80008000u : 0);
	health(c, qi);
}

/* ------------------------------------------------------------------ */
/* Rings                                                               */

void sdesc(struct hq *q, uint32_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	tdesc(q->desc, i, addr, len, flags, next);
}

void tdesc(uint64_t table, uint32_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	struct virtq_desc d = { cpu_to_le64(addr), cpu_to_le32(len), cpu_to_le16(flags),
				cpu_to_le16(next) };

	gwrite(table + 16ull * i, &d, sizeof(d));
}

void avail_entry(struct hq *q, uint16_t pos, uint16_t head)
{
	le16 v = cpu_to_le16(head);

	gwrite(q->avail + 4 + 2ull * (pos % q->num), &v, 2);
}

void avail_publish(struct hq *q, uint16_t idx)
{
	le16 v = cpu_to_le16(idx);
	int64_t off = gpa_off(q->avail + 2, NULL);

	memcpy(G.shadow + off, &v, 2);
	__atomic_store_n((uint16_t *)(void *)(G.mem + off), v.v, __ATOMIC_RELEASE);
	q->avail_idx = idx;
}

void avail_put(struct hq *q, uint16_t head)
{
	avail_entry(q, q->avail_idx, head);
	avail_publish(q, (uint16_t)(q->avail_idx + 1));
}

uint16_t used_idx(struct hq *q)
{
	le16 v = { __atomic_load_n((uint16_t *)gptr(q->used + 2, 2), __ATOMIC_ACQUIRE) };

	return le16_to_cpu(v);
}

uint16_t pwrap(bool wrap)
{
	return wrap ? VIRTQ_DESC_F_AVAIL : VIRTQ_DESC_F_USED;
}

void ptdesc(uint64_t table, uint32_t i, uint64_t addr, uint32_t len, uint16_t id, uint16_t flags)
{
	struct pvirtq_desc d = { cpu_to_le64(addr), cpu_to_le32(len), cpu_to_le16(id),
				 cpu_to_le16(flags) };

	gwrite(table + 16ull * i, &d, sizeof(d));
}

void pdesc(struct hq *q, uint32_t pos, uint64_t addr, uint32_t len, uint16_t id, uint16_t flags)
{
	uint64_t at = q->desc + 16ull * pos;
	int64_t off = gpa_off(at + 14, NULL);
	le16 f = cpu_to_le16(flags);

	ptdesc(q->desc, pos, addr, len, id, 0);
	memcpy(G.shadow + off, &f, 2);
	/* The flags last, with a release store (VIRTIO 1.4 §2.8.21.1). */
	__atomic_store_n((uint16_t *)(void *)(G.mem + off), f.v, __ATOMIC_RELEASE);
}

void plist(struct hq *q, const struct pd *d, unsigned n)
{
	uint16_t first = q->pa, first_flags = 0;

	for (unsigned i = 0; i < n; i++) {
		uint16_t f = (uint16_t)(d[i].flags | pwrap(q->pa_wrap));

		if (i == 0) {
			first_flags = f;
			ptdesc(q->desc, q->pa, d[i].addr, d[i].len, d[i].id, 0);
		} else {
			pdesc(q, q->pa, d[i].addr, d[i].len, d[i].id, f);
		}
		if (++q->pa == q->num) {
			q->pa = 0;
			q->pa_wrap = !q->pa_wrap;
		}
	}
	if (n) {
		if (d[n - 1].id < 1024)
			q->plen[d[n - 1].id] = (uint16_t)n;
		pdesc(q, first, d[0].addr, d[0].len, d[0].id, first_flags);
	}
}

void kick(struct hq *q)
{
	CHECK(!eventfd_write(q->kick, 1), "kick: %s", strerror(errno));
}

static uint16_t wflag(bool w)
{
	return w ? VIRTQ_DESC_F_WRITE : 0;
}

int write_chain(struct hq *q, const struct buf *b, unsigned n, int indirect_at)
{
	unsigned direct = indirect_at < 0 ? n : (unsigned)indirect_at;
	unsigned ring_n = direct + (indirect_at < 0 ? 0 : 1);
	uint64_t table = 0;

	CHECK(n >= 1 && ring_n <= q->num, "harness: chain of %u descriptors in a queue of %u",
	      ring_n, q->num);
	if (indirect_at >= 0) {
		table = galloc(16ull * (n - direct), 16);
		for (unsigned i = direct; i < n; i++)
			if (q->packed)
				ptdesc(table, i - direct, b[i].gpa, b[i].len, 0, wflag(b[i].w));
			else
				tdesc(table, i - direct, b[i].gpa, b[i].len,
				      (uint16_t)(wflag(b[i].w) | (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0)),
				      (uint16_t)(i + 1 - direct));
	}
	if (q->packed) {
		struct pd d[1024];
		uint16_t id = q->next_id;

		CHECK(indirect_at <= 0, "harness: packed lists cannot mix direct and indirect");
		q->next_id = (uint16_t)((q->next_id + 1) % q->num);
		if (indirect_at == 0) {
			d[0] = (struct pd){ table, 16 * n, id, VIRTQ_DESC_F_INDIRECT };
		} else {
			for (unsigned i = 0; i < n; i++)
				d[i] = (struct pd){ b[i].gpa, b[i].len, id,
						    (uint16_t)(wflag(b[i].w) |
							       (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0)) };
		}
		plist(q, d, ring_n);
		return id;
	}
	{
		uint16_t head = q->next_desc, i = head;

		for (unsigned k = 0; k < ring_n; k++) {
			uint16_t next = (uint16_t)((i + 1) % q->num);

			if (k < direct)
				sdesc(q, i, b[k].gpa, b[k].len,
				      (uint16_t)(wflag(b[k].w) | (k + 1 < ring_n ? VIRTQ_DESC_F_NEXT : 0)),
				      k + 1 < ring_n ? next : 0);
			else
				sdesc(q, i, table, 16 * (n - direct), VIRTQ_DESC_F_INDIRECT, 0);
			i = next;
		}
		q->next_desc = i;
		return head;
	}
}

int post(struct hq *q, const struct buf *b, unsigned n, int indirect_at)
{
	int id = write_chain(q, b, n, indirect_at);

	if (!q->packed)
		avail_put(q, (uint16_t)id);
	kick(q);
	return id;
}

bool wait_used(struct hq *q, uint32_t *id, uint32_t *len, int ms)
{
	int64_t end = now_ms() + ms;

	for (;;) {
		if (!q->packed) {
			if (used_idx(q) != q->last_used) {
				struct virtq_used_elem e;

				gread(q->used + 4 + 8ull * (q->last_used % q->num), &e, sizeof(e));
				*id = le32_to_cpu(e.id);
				*len = le32_to_cpu(e.len);
				q->last_used++;
				return true;
			}
		} else {
			uint64_t at = q->desc + 16ull * q->pu;
			le16 f = { __atomic_load_n((uint16_t *)gptr(at + 14, 2), __ATOMIC_ACQUIRE) };
			uint16_t flags = le16_to_cpu(f);

			if (!!(flags & VIRTQ_DESC_F_AVAIL) == q->pu_wrap &&
			    !!(flags & VIRTQ_DESC_F_USED) == q->pu_wrap) {
				struct pvirtq_desc d;
				uint32_t skip;

				gread(at, &d, sizeof(d));
				*id = le16_to_cpu(d.id);
				*len = le32_to_cpu(d.len);
				CHECK(*id < q->num && q->plen[*id],
				      "packed: the device used buffer id %u, which was never made available",
				      *id);
				skip = q->plen[*id];
				q->plen[*id] = 0;
				q->pu = (uint16_t)(q->pu + skip);
				if (q->pu >= q->num) {
					q->pu = (uint16_t)(q->pu - q->num);
					q->pu_wrap = !q->pu_wrap;
				}
				return true;
			}
		}
		if (now_ms() >= end)
			return false;
		sleep_ms(1);
	}
}

void expect_used(struct hq *q, uint32_t id, uint32_t len)
{
	uint32_t i, l;

	CHECK(wait_used(q, &i, &l, G.timeout_ms), "queue %u: no used element for %u", q->index, id);
	CHECK(i == id && l == len, "queue %u: used element (id %u, len %u), expected (%u, %u)",
	      q->index, i, l, id, len);
}

void expect_no_used(struct hq *q, int ms)
{
	uint32_t i, l;

	CHECK(!wait_used(q, &i, &l, ms), "queue %u: unexpected used element (id %u, len %u)",
	      q->index, i, l);
}

bool err_signalled(struct hq *q, int ms)
{
	struct pollfd p = { q->err, POLLIN, 0 };
	eventfd_t v;

	if (poll(&p, 1, ms) <= 0)
		return false;
	return eventfd_read(q->err, &v) == 0;
}

void expect_broken(struct hq *q, const char *reason)
{
	CHECK(err_signalled(q, G.timeout_ms),
	      "queue %u: the error eventfd was not signalled (the ring should be broken: %s)",
	      q->index, reason);
	expect_no_used(q, 20);
	if (reason)
		expect_log(reason);
}

void expect_not_broken(struct hq *q, int ms)
{
	CHECK(!err_signalled(q, ms), "queue %u: the error eventfd was signalled", q->index);
}

/* ------------------------------------------------------------------ */
/* virtio-blk                                                          */

uint64_t mk_hdr(uint32_t type, uint64_t sector)
{
	struct virtio_blk_outhdr h = { cpu_to_le32(type), cpu_to_le32(0), cpu_to_le64(sector) };
	uint64_t g = galloc(16, 16);

	gwrite(g, &h, sizeof(h));
	return g;
}

uint64_t mk_status(void)
{
	uint64_t g = galloc(1, 1);

	gfill(g, 0xee, 1);
	gallow(g, 1);
	return g;
}

uint8_t status_at(uint64_t gpa)
{
	uint8_t s;

	gread(gpa, &s, 1);
	return s;
}

struct rres submit(struct hq *q, const struct buf *b, unsigned n, int indirect_at,
		   uint64_t status_gpa)
{
	struct rres r = { 0xff, 0, 0 };
	int id = post(q, b, n, indirect_at);

	CHECK(wait_used(q, &r.id, &r.len, G.timeout_ms), "queue %u: request %d not completed",
	      q->index, id);
	CHECK(r.id == (uint32_t)id, "queue %u: used id %u, expected %d", q->index, r.id, id);
	if (status_gpa)
		r.status = status_at(status_gpa);
	return r;
}

void expect_status(struct rres r, uint8_t status, uint32_t len)
{
	CHECK(r.status == status && r.len == len,
	      "completion with status %u and used length %u; expected status %u, length %u",
	      r.status, r.len, status, len);
}

struct rres blk_req(struct hq *q, uint32_t type, uint64_t sector, void *data, uint32_t dlen)
{
	bool in = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;
	struct buf b[3];
	unsigned n = 0;
	uint64_t dg = 0, st;
	struct rres r;

	b[n++] = (struct buf){ mk_hdr(type, sector), 16, false };
	if (dlen) {
		dg = galloc(dlen, 512);
		if (in)
			gallow(dg, dlen);
		else
			gwrite(dg, data, dlen);
		b[n++] = (struct buf){ dg, dlen, in };
	}
	st = mk_status();
	b[n++] = (struct buf){ st, 1, true };
	r = submit(q, b, n, DIRECT, st);
	if (r.status != VIRTIO_BLK_S_OK)
		return r;
	if (in && dlen)
		gread(dg, data, dlen);
	if (type == VIRTIO_BLK_T_OUT)
		model_write(sector * 512, data, dlen);
	if (type == VIRTIO_BLK_T_DISCARD || type == VIRTIO_BLK_T_WRITE_ZEROES)
		for (uint32_t i = 0; i + 16 <= dlen; i += 16) {
			struct virtio_blk_discard_write_zeroes s;

			memcpy(&s, (uint8_t *)data + i, 16);
			model_zero(le64_to_cpu(s.sector) * 512,
				   (uint64_t)le32_to_cpu(s.num_sectors) * 512);
		}
	return r;
}

void rw_check(struct hq *q, uint64_t sector, uint32_t len)
{
	uint8_t *w = malloc(len), *r = malloc(len);
	struct rres x;

	CHECK(w && r, "harness: out of memory");
	fill_random(w, len, G.case_no * 1000 + sector + q->index);
	x = blk_req(q, VIRTIO_BLK_T_OUT, sector, w, len);
	if (x.status || x.len != 1) {
		free(w);
		free(r);
		FAIL("queue %u: write at sector %llu: status %u, used length %u", q->index,
		     (unsigned long long)sector, x.status, x.len);
	}
	x = blk_req(q, VIRTIO_BLK_T_FLUSH, 0, NULL, 0);
	if (x.status || x.len != 1) {
		free(w);
		free(r);
		FAIL("queue %u: flush: status %u, used length %u", q->index, x.status, x.len);
	}
	memset(r, 0, len);
	x = blk_req(q, VIRTIO_BLK_T_IN, sector, r, len);
	if (x.status || x.len != len + 1 || memcmp(w, r, len)) {
		free(w);
		free(r);
		FAIL("queue %u: read back at sector %llu: status %u, used length %u, data %s",
		     q->index, (unsigned long long)sector, x.status, x.len, "differs or missing");
	}
	free(w);
	free(r);
}

void health(struct conn *c, int qi)
{
	uint64_t sector = SCRATCH_SECTOR + ((G.case_no * NQ + (unsigned)qi) * 8) % (IMG_SECTORS - SCRATCH_SECTOR);

	rw_check(&c->q[qi], sector, 4096);
}

/* ------------------------------------------------------------------ */
/* The runner                                                          */

static void case_begin(unsigned no, const char *name)
{
	G.case_no = no;
	G.case_name = name;
	G.known = NULL;
	G.failmsg[0] = 0;
	memset(G.brk, 0, sizeof(G.brk));
	G.nallow = 0;
	memcpy(G.mem, G.canary, MEM_FILE_SIZE);
	memcpy(G.shadow, G.canary, MEM_FILE_SIZE);
	G.log_off = log_size();
}

static void close_all(void)
{
	for (int i = 0; i < MAX_CONNS; i++)
		conn_close(&G.conns[i]);
}

/* What every case ends with (see hostile.h). */
static void post_checks(void)
{
	struct conn *c;

	close_all();
	daemon_alive();
	sanitizer_check(G.log_off);
	c = std_conn(false, QSIZE);
	for (int i = 0; i < NQ; i++)
		health(c, i);
	conn_close(c);
	daemon_alive();
	sanitizer_check(G.log_off);
	mem_check();
	image_check();
	idle_check();
}

static void on_alarm(int sig)
{
	(void)sig;
	printf("not ok %u - %s # the case hung (watchdog)\n", G.case_no, G.case_name);
	fflush(stdout);
	if (G.pid > 0)
		kill(G.pid, SIGKILL);
	_exit(1);
}

/* Runs one case and its post-checks; returns true when it passed. */
static bool run_case(unsigned no, const char *cls, const struct hcase *tc)
{
	char name[160];
	jmp_buf jb;
	bool ok, known;

	snprintf(name, sizeof(name), "%s/%s", cls, tc->name);
	case_begin(no, name);
	alarm(CASE_WATCHDOG_S);
	G.jb = &jb;
	if (!setjmp(jb)) {
		tc->fn();
	}
	if (G.failmsg[0])
		strncat(G.failmsg, "\n(post-checks follow)", sizeof(G.failmsg) - strlen(G.failmsg) - 1);
	{
		jmp_buf jb2;

		G.jb = &jb2;
		if (!setjmp(jb2))
			post_checks();
	}
	G.jb = NULL;
	alarm(0);
	ok = G.failmsg[0] == 0;
	known = G.known != NULL;
	/* An open finding: failing is expected (TODO); passing means it was fixed. */
	if (G.known)
		printf("%s %u - %s # TODO %s\n", ok ? "ok" : "not ok", no, name, G.known);
	else
		printf("%s %u - %s\n", ok ? "ok" : "not ok", no, name);
	if (!ok) {
		for (char *l = strtok(G.failmsg, "\n"); l; l = strtok(NULL, "\n"))
			printf("#   %s\n", l);
		print_log_tail(G.log_off, 25);
		/* A daemon that died or is wedged is replaced so later cases are judged alone. */
		close_all();
		daemon_kill();
		{
			jmp_buf jb3;

			G.jb = &jb3;
			if (!setjmp(jb3)) {
				daemon_start();
				/* A fresh fd baseline, from a clean health check. */
				case_begin(no, "restart");
				post_checks();
			} else {
				printf("# cannot restart the daemon: %s\n", G.failmsg);
				exit(1);
			}
			G.jb = NULL;
		}
	}
	fflush(stdout);
	return ok || known;
}

static void setup_world(void)
{
	const char *tmo = getenv("HOSTILE_TIMEOUT_MS");
	const char *tmp = getenv("TMPDIR");
	uint8_t *img;
	int fd;

	G.timeout_ms = tmo ? atoi(tmo) : 3000;
	if (G.timeout_ms <= 0)
		G.timeout_ms = 3000;
	snprintf(G.dir, sizeof(G.dir), "%s/vio-hostile-XXXXXX",
		 tmp && strlen(tmp) < 40 ? tmp : "/tmp");
	if (!mkdtemp(G.dir)) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(G.sock, sizeof(G.sock), "%.60s/sock", G.dir);
	snprintf(G.img, sizeof(G.img), "%s/disk.img", G.dir);
	snprintf(G.logp, sizeof(G.logp), "%s/vio-blk.log", G.dir);
	/* The image: random bytes, so a write of zeroes shows. */
	img = malloc(IMG_BYTES);
	G.model = malloc(IMG_BYTES);
	fill_random(img, IMG_BYTES, 42);
	memcpy(G.model, img, IMG_BYTES);
	fd = open(G.img, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || pwrite(fd, img, IMG_BYTES, 0) != (ssize_t)IMG_BYTES || fsync(fd)) {
		perror("image");
		exit(1);
	}
	close(fd);
	free(img);
	/* Guest memory: canaries everywhere. */
	G.memfd = memfd_create("hostile-guest", MFD_CLOEXEC);
	if (G.memfd < 0 || ftruncate(G.memfd, (off_t)MEM_FILE_SIZE)) {
		perror("memfd");
		exit(1);
	}
	G.mem = mmap(NULL, MEM_FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, G.memfd, 0);
	G.shadow = malloc(MEM_FILE_SIZE);
	G.canary = malloc(MEM_FILE_SIZE);
	if (G.mem == MAP_FAILED || !G.shadow || !G.canary) {
		perror("guest memory");
		exit(1);
	}
	fill_random(G.canary, MEM_FILE_SIZE, 7);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, on_alarm);
}

static void cleanup_world(void)
{
	char p[200];

	unlink(G.sock);
	unlink(G.img);
	snprintf(p, sizeof(p), "%s", G.logp);
	if (!getenv("HOSTILE_KEEP"))
		unlink(p);
	else
		printf("# daemon log kept: %s\n", p);
	rmdir(G.dir);
}

/* SIGTERM: the daemon exits cleanly with status 0 and no sanitizer report (leaks included). */
static bool final_exit_check(unsigned no)
{
	jmp_buf jb;
	bool ok;

	case_begin(no, "daemon/sigterm_exits_clean");
	G.jb = &jb;
	if (!setjmp(jb)) {
		int64_t end = now_ms() + 10000;
		int st = 0;
		pid_t r = 0;

		CHECK(G.pid > 0, "no daemon");
		kill(G.pid, SIGTERM);
		while ((r = waitpid(G.pid, &st, WNOHANG)) == 0 && now_ms() < end)
			sleep_ms(5);
		if (r == 0) {
			daemon_kill();
			FAIL("the daemon did not exit within 10 s of SIGTERM");
		}
		G.pid = -1;
		sanitizer_check(G.start_off); /* this daemon's whole life, leaks at exit included */
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the daemon ended with status 0x%x", st);
	}
	G.jb = NULL;
	ok = !G.failmsg[0];
	printf("%s %u - daemon/sigterm_exits_clean\n", ok ? "ok" : "not ok", no);
	if (!ok) {
		for (char *l = strtok(G.failmsg, "\n"); l; l = strtok(NULL, "\n"))
			printf("#   %s\n", l);
	}
	return ok;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		const struct hcase *cases;
		const unsigned *n;
	} classes[] = {
		{ "rings", ring_cases, &ring_cases_n },
		{ "requests", req_cases, &req_cases_n },
		{ "messages", msg_cases, &msg_cases_n },
	};
	const char *volatile only = argc > 2 ? argv[2] : NULL;
	const char *filter = argc > 3 ? argv[3] : NULL;
	volatile unsigned no = 0, failed = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s VIO-BLK [rings|requests|messages|all [CASE-SUBSTRING]]\n",
			argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	G.exe = argv[1];
	if (only && !strcmp(only, "all"))
		only = NULL;
	setup_world();
	{
		jmp_buf jb;

		G.jb = &jb;
		if (setjmp(jb)) {
			printf("Bail out! %s\n", G.failmsg);
			daemon_kill();
			cleanup_world();
			return 1;
		}
		daemon_start();
		/* The first idle moment sets the fd baseline. */
		case_begin(0, "baseline");
		post_checks();
		G.jb = NULL;
	}
	for (size_t k = 0; k < sizeof(classes) / sizeof(classes[0]); k++) {
		if (only && strcmp(only, classes[k].name))
			continue;
		for (unsigned i = 0; i < *classes[k].n; i++) {
			if (filter && !strstr(classes[k].cases[i].name, filter))
				continue;
			if (!run_case(++no, classes[k].name, &classes[k].cases[i]))
				failed++;
		}
	}
	if (!final_exit_check(++no))
		failed++;
	printf("1..%u\n", no);
	printf("# %u passed, %u failed\n", no - failed, failed);
	cleanup_world();
	return failed ? 1 : 0;
}
