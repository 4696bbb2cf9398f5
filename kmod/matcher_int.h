/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Matcher internals shared by its files (kmod/matcher*.c): the layout of a
 * compiled table and the lookup primitives the compile also uses. Not for
 * users of the matcher, which see only matcher.h.
 */
#ifndef _SIPOVL_MATCHER_INT_H
#define _SIPOVL_MATCHER_INT_H

#include "matcher.h"

#define MT_NONE		0xffffffffU
#define MT_END		0xffffffffU	/* cell: no match */
#define MT_CONT		0x40000000U	/* cell: continue in node | MT_CONT */
#define MT_SMAP		0x80000000U	/* cell: source map index | MT_SMAP */
#define MT_PEND		0x3fffffffU	/* no match, in a persistent tree */
#define MT_CHILD	0x80000000U	/* directory entry: child node */
#define MT_WSHIFT	27		/* directory entry: window << MT_WSHIFT */
#define MT_WMAX		15U		/* window too large: the node's win */
#define MT_IDX		((1U << MT_WSHIFT) - 1)	/* directory entry: interval */
#define MT_MAX_RULES	(1U << 24)
#define MT_MAX_ENTRIES	(1U << 22)	/* rule x destination x port range */
#define MT_MAX_WORK	(1ULL << 25)	/* list and map slots produced */
#define MT_MAX_BYTES	((size_t)1 << 28)	/* one compiled table */
#define MT_MAX_POOL	(1U << 27)	/* elements of one pool (MT_IDX) */
#ifndef MT_LEAF
#define MT_LEAF		8	/* a directory bucket holds at most this many starts */
#endif
#define MT_DIR_MAX_BITS	18
#ifndef MT_DIR_DEPTH
#define MT_DIR_DEPTH	4	/* directory levels below the root, at most */
#endif
#ifndef MT_COPY_MAX
#define MT_COPY_MAX	8	/* leaves copy a parent map of at most this size */
#endif
#ifndef MT_COPY_KIDS
#define MT_COPY_KIDS	1	/* a leaf that is its parent's only child copies */
#endif
#ifndef MT_CAT_MAX
#define MT_CAT_MAX	16	/* lists copy a parent list of at most this size */
#endif
#ifndef MT_PBITS
#define MT_PBITS	4	/* persistent source tree: 2^MT_PBITS slots a node */
#endif
#define MT_PFAN		(1U << MT_PBITS)
#define MT_PAR		0x80000000U	/* list terminator: then list | MT_PAR */
#define MT_PWORK	64	/* persistent tree assignment: work items */
#define MT_NPORTS	65536U

struct mt_addr {
	u64 hi, lo;
};

/* Interval maps: sorted interval starts and the value of each interval. */
struct mt_kv32 {
	u32 key;
	u32 val;
};

struct mt_kv128 {
	struct mt_addr key;
	u32 val;
};

/*
 * A directory node over the starts [a, b] of one map: keys below @lo belong
 * to interval @before; else bucket (key - lo) >> shift (at most @last) holds
 * the first interval of a window of @win + 1 intervals to search, or a child
 * node (MT_CHILD). A node with shift MT_LOG buckets by scale around @piv
 * instead (for starts clustered at many scales, as nested prefixes are):
 * key == piv is bucket B (32 or 128, the key bits), key > piv bucket B +
 * fls(key - piv), key < piv bucket B - fls(piv - key). A 128-bit node whose
 * starts span less than 2^64 stores shift | MT_SHORT and buckets in 64 bits.
 */
#define MT_LOG		0xffU
#define MT_SHORT	0x80U	/* 128-bit node: shift | MT_SHORT, range < 2^64 */

struct mt_dn32 {
	u32 lo;
	u32 shift;
	u32 last;
	u32 before;
	u32 ent;
	u32 win;
	u32 piv;
	u32 pad;	/* 32 bytes: an index is a shift */
};

struct mt_dn128 {
	struct mt_addr lo;
	struct mt_addr piv;
	u32 shift;
	u32 last;
	u32 before;
	u32 ent;
	u32 win;
	u32 pad[3];	/* 64 bytes: an index is a shift */
};

struct mt_map {
	u32 n;			/* intervals (>= 1, the first starts at 0) */
	u32 iv;			/* first interval in the kv pool */
	u32 dir;		/* root directory node, or MT_NONE */
};

/* A destination prefix: its port maps per protocol (values: cells). */
struct mt_node {
	struct mt_map pm[2];	/* TCP, UDP */
};

/*
 * First-match maps of a candidate list over the packet's source address. A
 * map with n == 0 is persistent: iv is the root slot of a tree over the
 * table's elementary source intervals (mt_table.src4/src6), whose slots hold
 * a cell value or MT_SMAP | the child node's first slot.
 */
struct mt_smap {
	struct mt_map m4, m6;
};

struct mt_table {
	struct mt_map dst4, dst6;	/* values: node or MT_END */
	const struct mt_node *nodes;
	const struct mt_smap *smaps;
	const struct mt_kv32 *kv32;
	const struct mt_kv128 *kv128;
	const struct mt_dn32 *dn32;
	const struct mt_dn128 *dn128;
	const u32 *dent;
	struct mt_map src4, src6;	/* source address: elementary interval */
	const u32 *pn;		/* persistent tree nodes, MT_PFAN slots each */
	u32 psh4, psh6;		/* shift of the root's digit of an interval */
	size_t size;
};

static inline u32 mt_be32(const u8 *p)
{
	return (u32)p[0] << 24 | (u32)p[1] << 16 | (u32)p[2] << 8 | p[3];
}

static inline u64 mt_be64(const u8 *p)
{
	return (u64)mt_be32(p) << 32 | mt_be32(p + 4);
}

/* a <= (hi, lo) */
static inline bool mt_le(const struct mt_addr *a, u64 hi, u64 lo)
{
	return a->hi < hi || (a->hi == hi && a->lo <= lo);
}

/* Bucket of @key >= dn->lo in the directory node @dn. */
static __always_inline u32 mt_bkt32(const struct mt_dn32 *dn, u32 key)
{
	u32 b;

	if (unlikely(dn->shift == MT_LOG))
		return key >= dn->piv ? 32 + mt_fls32(key - dn->piv) :
					32 - mt_fls32(dn->piv - key);
	b = (key - dn->lo) >> dn->shift;
	return b > dn->last ? dn->last : b;
}

/* Bucket of (ah, al) >= dn->lo in the directory node @dn. */
static __always_inline u32 mt_bkt128(const struct mt_dn128 *dn, u64 ah,
				     u64 al)
{
	u64 dh, dl, b;

	if (unlikely(dn->shift >= MT_SHORT)) {
		if (dn->shift != MT_LOG) {
			/* range below 2^64: a key 2^64 above lo is past it */
			if (ah - dn->lo.hi - (al < dn->lo.lo))
				return dn->last;
			b = (al - dn->lo.lo) >> (dn->shift - MT_SHORT);
			return b > dn->last ? dn->last : (u32)b;
		}
		if (mt_le(&dn->piv, ah, al)) {
			dl = al - dn->piv.lo;
			dh = ah - dn->piv.hi - (al < dn->piv.lo);
			return 128 + (dh ? 64 + mt_fls64(dh) : mt_fls64(dl));
		}
		dl = dn->piv.lo - al;
		dh = dn->piv.hi - ah - (dn->piv.lo < al);
		return 128 - (dh ? 64 + mt_fls64(dh) : mt_fls64(dl));
	}
	dl = al - dn->lo.lo;
	dh = ah - dn->lo.hi - (al < dn->lo.lo);
	if (dn->shift >= 64)
		b = dh >> (dn->shift - 64);
	else if (dh >> dn->shift)
		b = dn->last;
	else if (dn->shift)
		b = dh << (64 - dn->shift) | dl >> dn->shift;
	else
		b = dl;
	return b > dn->last ? dn->last : (u32)b;
}

/* A slot of a persistent tree that is a child node (not a cell value). */
static inline bool mt_pchild(u32 v)
{
	return v - MT_SMAP < MT_END - MT_SMAP;
}

#endif /* _SIPOVL_MATCHER_INT_H */
