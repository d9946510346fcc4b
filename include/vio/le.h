/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Little-endian wire types: every field shared with the other side of a
 * virtqueue is one of these, so that a missing conversion is a compile error.
 *
 * VIRTIO 1.4 §1.4 "Structure Specifications": le16, le32 and le64 are
 * little-endian. Only the helpers below touch the .v member.
 *
 * Freestanding: no libc headers beyond <stdint.h>.
 */
#ifndef VIO_LE_H
#define VIO_LE_H

#include <stdint.h>

typedef struct { uint16_t v; } le16;
typedef struct { uint32_t v; } le32;
typedef struct { uint64_t v; } le64;

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define VIO_LE16(x) __builtin_bswap16(x)
#define VIO_LE32(x) __builtin_bswap32(x)
#define VIO_LE64(x) __builtin_bswap64(x)
#else
#define VIO_LE16(x) (x)
#define VIO_LE32(x) (x)
#define VIO_LE64(x) (x)
#endif

static inline uint16_t le16_to_cpu(le16 x) { return (uint16_t)VIO_LE16(x.v); }
static inline uint32_t le32_to_cpu(le32 x) { return (uint32_t)VIO_LE32(x.v); }
static inline uint64_t le64_to_cpu(le64 x) { return (uint64_t)VIO_LE64(x.v); }
static inline le16 cpu_to_le16(uint16_t x) { le16 r = { (uint16_t)VIO_LE16(x) }; return r; }
static inline le32 cpu_to_le32(uint32_t x) { le32 r = { (uint32_t)VIO_LE32(x) }; return r; }
static inline le64 cpu_to_le64(uint64_t x) { le64 r = { (uint64_t)VIO_LE64(x) }; return r; }

#endif /* VIO_LE_H */
