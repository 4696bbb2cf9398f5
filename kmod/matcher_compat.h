/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the matcher needs from its environment, for the kernel module and for
 * the userspace builds (unit tests, fuzzing, benchmarks).
 */
#ifndef _SIPOVL_MATCHER_COMPAT_H
#define _SIPOVL_MATCHER_COMPAT_H

#ifdef __KERNEL__

#include <linux/types.h>
#include <linux/limits.h>
#include <linux/errno.h>
#include <linux/compiler.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/sched.h>
#include <linux/string.h>
#include <linux/bitops.h>

/* Bit length: 0 for 0, else the position of the highest set bit (1..32/64). */
static inline u32 mt_fls32(u32 x)
{
	return fls(x);
}

static inline u32 mt_fls64(u64 x)
{
	return fls64(x);
}

static inline void *mt_alloc(size_t size)
{
	return kvmalloc(size, GFP_KERNEL_ACCOUNT);
}

static inline void mt_free(const void *p)
{
	kvfree(p);
}

static inline void mt_sort(void *base, size_t num, size_t size,
			   int (*cmp)(const void *, const void *))
{
	sort(base, num, size, cmp, NULL);
}

static inline void mt_resched(void)
{
	cond_resched();
}

#else /* !__KERNEL__ */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef int32_t s32;
typedef uint64_t u64;

/* __always_inline: from glibc's <sys/cdefs.h> (via <stdlib.h>) */
#ifndef likely
#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)
#endif

static inline u32 mt_fls32(u32 x)
{
	return x ? 32 - (u32)__builtin_clz(x) : 0;
}

static inline u32 mt_fls64(u64 x)
{
	return x ? 64 - (u32)__builtin_clzll(x) : 0;
}

static inline void *mt_alloc(size_t size)
{
	return malloc(size ? size : 1);
}

static inline void mt_free(const void *p)
{
	free((void *)p);
}

static inline void mt_sort(void *base, size_t num, size_t size,
			   int (*cmp)(const void *, const void *))
{
	qsort(base, num, size, cmp);
}

static inline void mt_resched(void)
{
}

#endif /* __KERNEL__ */

#endif /* _SIPOVL_MATCHER_COMPAT_H */
