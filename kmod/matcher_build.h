/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The matcher's compile (kmod/matcher.c, matcher_dir.c, matcher_list.c,
 * matcher_maps.c): the builder's state and what its files share.
 */
#ifndef _SIPOVL_MATCHER_BUILD_H
#define _SIPOVL_MATCHER_BUILD_H

#include "matcher_int.h"

/* One destination prefix of one rule. */
struct mt_dst {
	struct mt_addr a;
	u32 rule;
	u8 fam, len;
};

/* One (rule, port range) at the prefix node being compiled. */
struct mt_ent {
	u64 key;		/* width << 32 | id: lower is better */
	u32 rule;
	u32 lo, hi;
	u32 restricted;		/* the rule has source prefixes */
};

/* Compile-time view of a prefix node. */
struct mt_bnode {
	struct mt_addr start, end;
	u32 parent;
	u32 dst;		/* first of its entries in the sorted dst[] */
	u32 ndst;
};

/* Elementary destination interval (compile time). */
struct mt_iv {
	struct mt_addr start;
	u32 node;
};

/* A source prefix of a candidate list, for the first-match sweep. */
struct mt_sitem {
	struct mt_addr start, end;
	u32 len;
	u32 prio;		/* position in the list */
};

struct mt_hslot {
	u32 list;		/* 0: free */
	u32 hash;
};

/* A growable array. */
struct mt_vec {
	void *p;
	u32 n, cap;
};

/* Work list entry of the directory builder. */
struct mt_dwork {
	u32 a, b, depth;
};

/*
 * Work item of a persistent tree assignment: the slot @ref (MT_NONE: the
 * root) covers the elementary intervals @lo .. @lo + 2^@sh - 1.
 */
struct mt_pwork {
	u32 ref, lo, sh;
};

struct mt_build {
	const struct mt_rule *rules;
	u32 n;
	const char *err;
	size_t limit;		/* bytes allocated at once, at most */
	size_t used;		/* bytes allocated now */
	bool over;		/* an allocation was refused for the limit */
	u32 *stamp;		/* per rule: last list it went into */
	u32 gen;
	u64 work;

	struct mt_dst *dst;
	u32 ndst;
	struct mt_bnode *bn;
	u32 nnode, nnode4;
	u8 *inner;		/* per node: its children, saturating at 255 */
	u32 *order;		/* nodes by prefix length */
	u32 lencnt[130];
	u32 maxg;

	/* one node's entries, heaps and own port segments (scratch) */
	struct mt_ent *ent;
	u32 *hpe, *hpu, *hpr, *tmp;
	struct mt_vec oseg;	/* u32 triples: start, own list offset, default */
	struct mt_vec olst;	/* u32: own restricted lists (len, rules...) */
	struct mt_vec cat;	/* u32: a list being built */

	/* candidate lists: len, terminator, rules...; offset 0 unused */
	struct mt_vec lst;
	struct mt_hslot *ht;
	u32 htn, htcap;
	u32 *lcell;		/* per list offset: its cell, built lazily */
	u32 lcellcap;
	u32 lend;		/* the list [END] */

	/* persistent source maps (lists ending in MT_PAR | list) */
	bool psrc;		/* the elementary source intervals are built */
	struct mt_addr *sb[2];	/* per family: their sorted starts */
	u32 nsb[2];
	u32 psh[2];		/* shift of the root digit */
	struct mt_map gmap[2];	/* source address -> interval */
	struct mt_vec pn;	/* u32 tree slots */
	u32 pmark;		/* slots from here on are private to a build */
	u32 *lpm;		/* per flat list offset: its persistent smap */
	struct mt_vec pend;	/* u32: lists waiting for their parent's */
	struct mt_pwork pw[MT_PWORK];

	struct mt_vec nodes;	/* struct mt_node */
	struct mt_vec smaps;	/* struct mt_smap */
	struct mt_vec kv32, kv128, dn32, dn128, dent;
	struct mt_vec dwork;	/* struct mt_dwork */
	struct mt_vec sit;	/* struct mt_sitem */
	u32 *stk;
	u32 stkcap;

	struct mt_iv *iv[2];
	u32 niv[2];
};

static inline int mt_cmp_addr(const struct mt_addr *a, const struct mt_addr *b)
{
	if (a->hi != b->hi)
		return a->hi < b->hi ? -1 : 1;
	if (a->lo != b->lo)
		return a->lo < b->lo ? -1 : 1;
	return 0;
}

static inline bool mt_is_max(const struct mt_addr *a)
{
	return a->hi == ~0ULL && a->lo == ~0ULL;
}

static inline void mt_inc(struct mt_addr *a)
{
	if (!++a->lo)
		a->hi++;
}

/*
 * Bottom-up merge sorts: no recursion, no indirect calls (the kernel's sort()
 * is a heapsort calling its comparison through a pointer, several times
 * slower on large arrays). MT_DEFINE_MSORT(name, elem_t, less) defines
 * name(elem_t *a, elem_t *tmp, u32 n), a stable sort of @a with @tmp room for
 * @n elements; less(x, y) is true when *x sorts before *y.
 */
#define MT_DEFINE_MSORT(name, elem_t, less)				\
static void name(elem_t *a, elem_t *tmp, u32 n)				\
{									\
	elem_t *src = a, *dst = tmp, *t;				\
	u32 i, x, y, k, m, r;						\
	u64 w;								\
									\
	for (w = 1; w < n; w *= 2) {					\
		for (i = 0; i < n; i = r) {				\
			m = i + w < n ? i + w : n;			\
			r = i + 2 * w < n ? i + 2 * w : n;		\
			for (x = i, y = m, k = i; x < m && y < r;)	\
				dst[k++] = less(&src[y], &src[x]) ?	\
					   src[y++] : src[x++];		\
			while (x < m)					\
				dst[k++] = src[x++];			\
			while (y < r)					\
				dst[k++] = src[y++];			\
		}							\
		t = src;						\
		src = dst;						\
		dst = t;						\
		mt_resched();						\
	}								\
	if (src != a)							\
		memcpy(a, src, (size_t)n * sizeof(*a));			\
}

/* matcher.c: allocation within the limit, growable arrays, work budget */
void *mt_balloc(struct mt_build *b, size_t size);
void mt_bfree(struct mt_build *b, const void *p);
int mt_vgrow_slow(struct mt_build *b, struct mt_vec *v, u32 more,
		  size_t size);
int mt_charge(struct mt_build *b, u64 w);
void mt_addr_of(const struct mt_prefix *p, struct mt_addr *a);
void mt_hostmask(u32 len, struct mt_addr *m);

static inline int mt_vgrow(struct mt_build *b, struct mt_vec *v, u32 more,
			   size_t size)
{
	if (likely((u64)v->n + more <= v->cap))
		return 0;
	return mt_vgrow_slow(b, v, more, size);
}

/* matcher_dir.c: directories of interval maps */
int mt_dir32(struct mt_build *b, struct mt_map *m);
int mt_dir128(struct mt_build *b, struct mt_map *m);

/* matcher_list.c: candidate lists */
u32 mt_sweep(struct mt_build *b, u32 f0, u32 f1, struct mt_iv *iv);
int mt_intern(struct mt_build *b, const u32 *l, u32 n, u32 term, u32 *out);
int mt_own_segs(struct mt_build *b, u32 node, u32 proto);

/* matcher_maps.c: port, source and destination maps */
int mt_node_map(struct mt_build *b, u32 node, u32 pi, u32 base,
		u32 baselist);
int mt_list_cell(struct mt_build *b, u32 lo, u32 *cell);
int mt_dst_map(struct mt_build *b, u32 f, struct mt_map *m);

#endif /* _SIPOVL_MATCHER_BUILD_H */
