/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Memory-ordering primitives for rings shared with another side.
 *
 * Shared ring fields are plain (non-_Atomic) le16/le32 members of structures
 * laid out by the specification, so these wrap the compiler's __atomic
 * builtins, which accept plain objects, with the C11 memory orders of
 * <stdatomic.h>. Every call site names the access on the other side it
 * pairs with.
 */
#ifndef VIO_RING_ATOMIC_H
#define VIO_RING_ATOMIC_H

#include <stdatomic.h>
#include <stdint.h>
#include "vio/le.h"

/* A single load the compiler may not tear, merge or repeat. */
#define VIO_READ_ONCE(x)     __atomic_load_n(&(x), __ATOMIC_RELAXED)
/* A single store the compiler may not tear or merge. */
#define VIO_WRITE_ONCE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
/* Load, and order every later access after it. */
#define VIO_LOAD_ACQUIRE(x)  __atomic_load_n(&(x), __ATOMIC_ACQUIRE)
/* Order every earlier access before this store. */
#define VIO_STORE_RELEASE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELEASE)

/* Full fence: orders earlier stores before later loads (store-load). */
#if defined(__SANITIZE_THREAD__)
#define VIO_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define VIO_TSAN 1
#endif
#endif

static inline void vio_mb(void)
{
#if defined(__x86_64__) && !defined(VIO_TSAN)
	/* A locked add to the stack: the store-load ordering of MFENCE, which
	 * x86 gives every locked instruction, without MFENCE's wait for the
	 * instruction stream (costly on some cores); Linux's smp_mb() too.
	 * Not under ThreadSanitizer, which sees fences, not this. */
	__asm__ __volatile__("lock addl $0,-4(%%rsp)" ::: "memory", "cc");
#else
	atomic_thread_fence(memory_order_seq_cst);
#endif
}
/* Orders earlier loads before later loads and stores. */
static inline void vio_rmb(void) { atomic_thread_fence(memory_order_acquire); }
/* Orders earlier loads and stores before later stores. */
static inline void vio_wmb(void) { atomic_thread_fence(memory_order_release); }

/*
 * Asks for the cache line at @p to be written soon: fetched exclusive, the
 * other side's copy invalidated, without waiting for it. GCC emits a read
 * prefetch for __builtin_prefetch(p, 1) unless told the CPU has PREFETCHW
 * (-mprfchw), and a line fetched shared still costs a round trip at the
 * store. On x86-64 processors without PREFETCHW its opcode (0F 0D /1) is
 * a no-op.
 */
static inline void vio_prefetch_w(const void *p)
{
#if defined(__x86_64__)
	__asm__ __volatile__("prefetchw %0" : : "m"(*(const char *)p));
#else
	__builtin_prefetch(p, 1);
#endif
}

/* le16 helpers: the wire value converted, with the given ordering. */
static inline uint16_t vio_le16_read(const le16 *p)
{
	return le16_to_cpu((le16){ VIO_READ_ONCE(p->v) });
}
static inline uint16_t vio_le16_load_acquire(const le16 *p)
{
	return le16_to_cpu((le16){ VIO_LOAD_ACQUIRE(p->v) });
}
static inline void vio_le16_write(le16 *p, uint16_t v)
{
	VIO_WRITE_ONCE(p->v, cpu_to_le16(v).v);
}
static inline void vio_le16_store_release(le16 *p, uint16_t v)
{
	VIO_STORE_RELEASE(p->v, cpu_to_le16(v).v);
}

#endif /* VIO_RING_ATOMIC_H */
