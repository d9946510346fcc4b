/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The hostile front-end suite's harness: results, the daemon, the runner. Guest memory with
 * canaries, a raw front-end and a raw driver are in harness_mem.c, harness_vu.c and
 * harness_ring.c (harness.h).
 */
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

#include "harness.h"

#define CASE_WATCHDOG_S 60

struct harness G = { .pid = -1, .memfd = -1, .base_fds = -1 };

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

int64_t now_ms(void)
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

void fill_random(void *p, size_t len, uint64_t seed)
{
	uint8_t *b = p;
	uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;

	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)(rng_next(&s) >> 56);
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
