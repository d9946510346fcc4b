/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Reading a fuzz input as a stream of little-endian integers. Past the end
 * every read yields 0 and fin_done() becomes true, so a harness decodes any
 * input, of any length, without checks at each step.
 */
#ifndef VIO_FUZZ_INPUT_H
#define VIO_FUZZ_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct fin {
	const uint8_t *p;
	size_t n;
	bool over; /* a read went past the end */
};

static inline void fin_init(struct fin *f, const uint8_t *data, size_t size)
{
	f->p = data;
	f->n = size;
	f->over = false;
}

static inline bool fin_done(const struct fin *f)
{
	return f->n == 0 || f->over;
}

static inline uint64_t fin_uint(struct fin *f, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes; i++) {
		if (!f->n) {
			f->over = true;
			break;
		}
		v |= (uint64_t)*f->p++ << (8 * i);
		f->n--;
	}
	return v;
}

static inline uint8_t fin_u8(struct fin *f) { return (uint8_t)fin_uint(f, 1); }
static inline uint16_t fin_u16(struct fin *f) { return (uint16_t)fin_uint(f, 2); }
static inline uint32_t fin_u32(struct fin *f) { return (uint32_t)fin_uint(f, 4); }
static inline uint64_t fin_u64(struct fin *f) { return fin_uint(f, 8); }

/* Copies up to @len bytes (zero-filling what the input lacks). */
static inline void fin_bytes(struct fin *f, void *dst, size_t len)
{
	size_t take = len < f->n ? len : f->n;

	memcpy(dst, f->p, take);
	memset((uint8_t *)dst + take, 0, len - take);
	f->p += take;
	f->n -= take;
	if (take < len)
		f->over = true;
}

#endif /* VIO_FUZZ_INPUT_H */
