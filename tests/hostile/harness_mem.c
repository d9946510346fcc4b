/* SPDX-License-Identifier: BSD-3-Clause */
/* The hostile harness: guest memory with canaries and a shadow, the image and its model. */
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

static const struct {
	uint64_t gpa, size, off;
} REG[NREG] = {
	{ R0_GPA, R0_SIZE, R0_OFF },
	{ R1_GPA, R1_SIZE, R1_OFF },
	{ R2_GPA, R2_SIZE, R2_OFF },
};

/* ------------------------------------------------------------------ */
/* Guest memory                                                        */

/* File offset of @gpa and the bytes left in its region; -1 if unmapped. */
int64_t gpa_off(uint64_t gpa, uint64_t *left)
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
void mem_check(void)
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

void image_check(void)
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
