// SPDX-License-Identifier: GPL-2.0
/*
 * Intercept matcher: compiles rules into an immutable lookup structure whose
 * lookup cost does not grow with the table. The algorithm, its costs and its
 * limits are described in Documentation/matcher.md.
 *
 * Addresses are handled as 128-bit numbers (hi, lo). An IPv4 address a is
 * stored as hi = a << 32, lo = 0, so that a prefix of length len covers the
 * same top len bits in both families and one set of helpers serves both.
 */
#include "matcher.h"
#include "matcher_int.h"
#include "matcher_build.h"

/* ------------------------------------------------------------------ */
/* Lookup                                                              */
/* ------------------------------------------------------------------ */

static __always_inline u32 mt_map32(const struct mt_table *t,
				    const struct mt_map *m, u32 key)
{
	const struct mt_kv32 *kv = t->kv32 + m->iv;
	const struct mt_dn32 *dn;
	u32 lo = 0, hi = m->n - 1, n, half, d = m->dir, e, w;

	while (d != MT_NONE) {
		dn = &t->dn32[d];
		if (key < dn->lo)
			return kv[dn->before].val;
		e = t->dent[dn->ent + mt_bkt32(dn, key)];
		if (!(e & MT_CHILD)) {
			lo = e & MT_IDX;
			w = e >> MT_WSHIFT;
			if (unlikely(w == MT_WMAX)) {
				w = dn->win;
				if (w > hi - lo)
					w = hi - lo;
			}
			hi = lo + w;
			break;
		}
		d = e & ~MT_CHILD;
	}
	/* last interval starting at or below key in [lo, hi] */
	for (n = hi - lo + 1; n > 1; n -= half) {
		half = n >> 1;
		if (kv[lo + half].key <= key)
			lo += half;
	}
	return kv[lo].val;
}

static __always_inline u32 mt_map128(const struct mt_table *t,
				     const struct mt_map *m,
				     u64 ah, u64 al)
{
	const struct mt_kv128 *kv = t->kv128 + m->iv;
	const struct mt_dn128 *dn;
	u32 lo = 0, hi = m->n - 1, n, half, d = m->dir, e, w;

	while (d != MT_NONE) {
		dn = &t->dn128[d];
		if (!mt_le(&dn->lo, ah, al))
			return kv[dn->before].val;
		e = t->dent[dn->ent + mt_bkt128(dn, ah, al)];
		if (!(e & MT_CHILD)) {
			lo = e & MT_IDX;
			w = e >> MT_WSHIFT;
			if (unlikely(w == MT_WMAX)) {
				w = dn->win;
				if (w > hi - lo)
					w = hi - lo;
			}
			hi = lo + w;
			break;
		}
		d = e & ~MT_CHILD;
	}
	for (n = hi - lo + 1; n > 1; n -= half) {
		half = n >> 1;
		if (mt_le(&kv[lo + half].key, ah, al))
			lo += half;
	}
	return kv[lo].val;
}

/*
 * The value of elementary source interval @idx in the tree whose root is @v
 * (a child node: no match inside a tree is MT_PEND, so that every value with
 * the top bit set is a child). @sh: shift of the root's digit.
 */
static __always_inline u32 mt_pwalk(const struct mt_table *t, u32 v, u32 sh,
				    u32 idx)
{
	idx <<= 32 - MT_PBITS - sh;
	do {
		v = t->pn[v - MT_SMAP + (idx >> (32 - MT_PBITS))];
		idx <<= MT_PBITS;
	} while ((s32)v < 0);
	return v;
}

/* Resolve a cell to a rule, MT_END or MT_CONT | node through its source map. */
static inline u32 mt_cell(const struct mt_table *t, u32 c,
			  const struct mt_key *k)
{
	const struct mt_smap *s;
	u32 v;

	if (c < MT_SMAP || c == MT_END)
		return c;
	s = &t->smaps[c & ~MT_SMAP];
	if (k->family == 4) {
		if (likely(s->m4.n))
			return mt_map32(t, &s->m4, mt_be32(k->saddr));
		v = s->m4.iv;
		if ((s32)v >= 0)
			return v;
		return mt_pwalk(t, v, t->psh4,
				mt_map32(t, &t->src4, mt_be32(k->saddr)));
	}
	if (likely(s->m6.n))
		return mt_map128(t, &s->m6, mt_be64(k->saddr),
				 mt_be64(k->saddr + 8));
	v = s->m6.iv;
	if ((s32)v >= 0)
		return v;
	return mt_pwalk(t, v, t->psh6,
			mt_map128(t, &t->src6, mt_be64(k->saddr),
				  mt_be64(k->saddr + 8)));
}

s32 mt_lookup(const struct mt_table *t, const struct mt_key *k)
{
	const struct mt_node *n;
	u32 node, c, p;

	if (k->proto == MT_PROTO_TCP)
		p = 0;
	else if (k->proto == MT_PROTO_UDP)
		p = 1;
	else
		return -1;
	if (k->family == 4)
		node = mt_map32(t, &t->dst4, mt_be32(k->daddr));
	else if (k->family == 6)
		node = mt_map128(t, &t->dst6, mt_be64(k->daddr),
				 mt_be64(k->daddr + 8));
	else
		return -1;
	if (node == MT_END)
		return -1;
	n = &t->nodes[node];
	c = mt_cell(t, mt_map32(t, &n->pm[p], k->dport), k);
	while (unlikely(c >= MT_CONT && c < MT_SMAP)) {
		n = &t->nodes[c & ~MT_CONT];
		c = mt_cell(t, mt_map32(t, &n->pm[p], k->dport), k);
	}
	return c >= MT_PEND ? -1 : (s32)c;
}

size_t mt_memory(const struct mt_table *t)
{
	return t ? sizeof(*t) + t->size : 0;
}

/*
 * Every block the compile allocates (scratch and the pools the table keeps)
 * starts with a header holding its size, so that the builder can count the
 * bytes live at any time against its limit (mt_balloc).
 */
#define MT_HDR		16	/* keeps the blocks' 16-byte alignment */

const char mt_err_limit[] = "compile over its memory limit";

/* Frees a pool of a compiled table (allocated by mt_balloc). */
static void mt_pfree(const void *p)
{
	if (p)
		mt_free((const char *)p - MT_HDR);
}

void mt_destroy(struct mt_table *t)
{
	if (!t)
		return;
	mt_pfree(t->nodes);
	mt_pfree(t->smaps);
	mt_pfree(t->kv32);
	mt_pfree(t->kv128);
	mt_pfree(t->dn32);
	mt_pfree(t->dn128);
	mt_pfree(t->dent);
	mt_pfree(t->pn);
	mt_free(t);
}

/* ------------------------------------------------------------------ */
/* Compilation                                                         */
/* ------------------------------------------------------------------ */

/* Allocates @size bytes for the compile, within the builder's limit. */
void *mt_balloc(struct mt_build *b, size_t size)
{
	char *p;

	if (b->limit - b->used < MT_HDR || size > b->limit - b->used - MT_HDR) {
		b->over = true;
		b->err = mt_err_limit;
		return NULL;
	}
	p = mt_alloc(size + MT_HDR);
	if (!p)
		return NULL;
	*(size_t *)p = size + MT_HDR;
	b->used += size + MT_HDR;
	return p + MT_HDR;
}

void mt_bfree(struct mt_build *b, const void *p)
{
	const char *h;

	if (!p)
		return;
	h = (const char *)p - MT_HDR;
	b->used -= *(const size_t *)h;
	mt_free(h);
}

void mt_addr_of(const struct mt_prefix *p, struct mt_addr *a)
{
	if (p->family == 4) {
		a->hi = (u64)mt_be32(p->addr) << 32;
		a->lo = 0;
	} else {
		a->hi = mt_be64(p->addr);
		a->lo = mt_be64(p->addr + 8);
	}
}

/* Host part mask of a prefix of length @len (0..128) in the 128-bit space. */
void mt_hostmask(u32 len, struct mt_addr *m)
{
	m->hi = len >= 64 ? 0 : ~0ULL >> len;
	m->lo = len <= 64 ? ~0ULL : len >= 128 ? 0 : ~0ULL >> (len - 64);
}

static int mt_check_prefix(const struct mt_prefix *p, const char **err)
{
	struct mt_addr a, m;

	if (p->family != 4 && p->family != 6) {
		*err = "prefix family must be 4 or 6";
		return -EINVAL;
	}
	if (p->len > (p->family == 4 ? 32 : 128)) {
		*err = "prefix length exceeds the address size";
		return -EINVAL;
	}
	mt_addr_of(p, &a);
	mt_hostmask(p->len, &m);
	if ((a.hi & m.hi) || (a.lo & m.lo)) {
		*err = "prefix has host bits set";
		return -EINVAL;
	}
	return 0;
}

#define MT_LESS_U32(x, y) (*(x) < *(y))
MT_DEFINE_MSORT(mt_msort_u32, u32, MT_LESS_U32)
#define MT_LESS_ADDR(x, y) (mt_cmp_addr(x, y) < 0)
MT_DEFINE_MSORT(mt_msort_addr, struct mt_addr, MT_LESS_ADDR)

static int mt_validate(struct mt_build *b, u64 *nent, u32 *maxsrc,
		       u64 *nsrc)
{
	const struct mt_rule *r;
	u32 i, j, *ids;
	int ret;

	*nent = 0;
	*maxsrc = 0;
	*nsrc = 0;
	b->ndst = 0;
	for (i = 0; i < b->n; i++) {
		r = &b->rules[i];
		if (!r->protos || (r->protos & ~(MT_PROTO_TCP | MT_PROTO_UDP))) {
			b->err = "rule protocols must be a non-empty subset of tcp, udp";
			return -EINVAL;
		}
		if ((r->n_dst && !r->dst) || (r->n_ports && !r->ports) ||
		    (r->n_src && !r->src)) {
			b->err = "rule has a NULL prefix or port array";
			return -EINVAL;
		}
		for (j = 0; j < r->n_dst; j++) {
			ret = mt_check_prefix(&r->dst[j], &b->err);
			if (ret)
				return ret;
		}
		for (j = 0; j < r->n_src; j++) {
			ret = mt_check_prefix(&r->src[j], &b->err);
			if (ret)
				return ret;
		}
		for (j = 0; j < r->n_ports; j++) {
			if (r->ports[j].lo > r->ports[j].hi) {
				b->err = "port range has low > high";
				return -EINVAL;
			}
		}
		if (!r->n_ports)
			continue;
		*nent += (u64)r->n_dst * r->n_ports;
		if (*nent > MT_MAX_ENTRIES) {
			b->err = "too many destination x port range combinations";
			return -E2BIG;
		}
		b->ndst += r->n_dst;
		*nsrc += r->n_src;
		if (r->n_src > *maxsrc)
			*maxsrc = r->n_src;
	}
	if (*nsrc > MT_MAX_ENTRIES) {
		b->err = "too many source prefixes";
		return -E2BIG;
	}

	/* Rule ids must be unique. */
	ids = mt_balloc(b, (size_t)b->n * 2 * sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	for (i = 0; i < b->n; i++)
		ids[i] = b->rules[i].id;
	mt_msort_u32(ids, ids + b->n, b->n);
	ret = 0;
	for (i = 1; i < b->n; i++) {
		if (ids[i] == ids[i - 1]) {
			b->err = "duplicate rule id";
			ret = -EINVAL;
			break;
		}
	}
	mt_bfree(b, ids);
	return ret;
}

static inline int mt_cmp_dst(const struct mt_dst *a, const struct mt_dst *b)
{
	int c;

	if (a->fam != b->fam)
		return a->fam < b->fam ? -1 : 1;
	c = mt_cmp_addr(&a->a, &b->a);
	if (c)
		return c;
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	return a->rule < b->rule ? -1 : a->rule > b->rule;
}

#define MT_LESS_DST(x, y) (mt_cmp_dst(x, y) < 0)
MT_DEFINE_MSORT(mt_msort_dst, struct mt_dst, MT_LESS_DST)

/*
 * IPv4 destinations: a stable LSD radix sort on (address, length), three
 * passes of 16 bits, instead of the merge sort's log2(n) passes of
 * comparisons. Entries come in rule order, and stability keeps it among equal
 * keys: the same order as mt_cmp_dst.
 */
#define MT_RADIX 65536

static inline u32 mt_digit4(const struct mt_dst *d, u32 pass)
{
	u64 key = (d->a.hi >> 32) << 8 | d->len;	/* 40 bits */

	return (u32)(key >> (16 * pass)) & (MT_RADIX - 1);
}

static int mt_rsort_dst4(struct mt_build *b, struct mt_dst *a,
			 struct mt_dst *tmp, u32 n)
{
	struct mt_dst *src = a, *dst = tmp, *t;
	u32 *cnt, pass, i, c, sum;

	cnt = mt_balloc(b, MT_RADIX * sizeof(*cnt));
	if (!cnt)
		return -ENOMEM;
	for (pass = 0; pass < 3; pass++) {
		memset(cnt, 0, MT_RADIX * sizeof(*cnt));
		for (i = 0; i < n; i++)
			cnt[mt_digit4(&src[i], pass)]++;
		for (i = 0, sum = 0; i < MT_RADIX; i++) {
			c = cnt[i];
			cnt[i] = sum;
			sum += c;
		}
		for (i = 0; i < n; i++)
			dst[cnt[mt_digit4(&src[i], pass)]++] = src[i];
		t = src;
		src = dst;
		dst = t;
		mt_resched();
	}
	if (src != a)
		memcpy(a, src, (size_t)n * sizeof(*a));
	mt_bfree(b, cnt);
	return 0;
}

static void mt_fill_dst(struct mt_build *b, u8 fam, u32 *k)
{
	const struct mt_rule *r;
	struct mt_dst *d;
	u32 i, j;

	for (i = 0; i < b->n; i++) {
		r = &b->rules[i];
		if (!r->n_ports)
			continue;
		for (j = 0; j < r->n_dst; j++) {
			if (r->dst[j].family != fam)
				continue;
			d = &b->dst[(*k)++];
			mt_addr_of(&r->dst[j], &d->a);
			d->fam = fam;
			d->len = r->dst[j].len;
			d->rule = i;
		}
	}
}

/* Collect destination prefixes, sort them and make one node per distinct one. */
static int mt_make_nodes(struct mt_build *b)
{
	struct mt_dst *d, *tmp;
	struct mt_bnode *n;
	struct mt_addr m;
	u32 i, j, k, g, n4;

	b->dst = mt_balloc(b, (size_t)b->ndst * sizeof(*b->dst));
	tmp = mt_balloc(b, (size_t)b->ndst * sizeof(*tmp));
	if (!b->dst || !tmp) {
		mt_bfree(b, tmp);
		return -ENOMEM;
	}
	/* IPv4 first (family 4 < 6), each in rule order. */
	k = 0;
	mt_fill_dst(b, 4, &k);
	n4 = k;
	mt_fill_dst(b, 6, &k);
	if (n4 >= 1024) {
		if (mt_rsort_dst4(b, b->dst, tmp, n4)) {
			mt_bfree(b, tmp);
			return -ENOMEM;
		}
	} else {
		mt_msort_dst(b->dst, tmp, n4);
	}
	mt_msort_dst(b->dst + n4, tmp, k - n4);
	mt_bfree(b, tmp);

	b->nnode = 0;
	for (i = 0; i < b->ndst; i++) {
		if (!i || b->dst[i].fam != b->dst[i - 1].fam ||
		    b->dst[i].len != b->dst[i - 1].len ||
		    mt_cmp_addr(&b->dst[i].a, &b->dst[i - 1].a))
			b->nnode++;
	}
	b->bn = mt_balloc(b, (size_t)b->nnode * sizeof(*b->bn));
	if (!b->bn)
		return -ENOMEM;

	b->nnode4 = 0;
	b->maxg = 1;
	k = 0;
	for (i = 0; i < b->ndst; i = j) {
		d = &b->dst[i];
		g = 0;
		for (j = i; j < b->ndst; j++) {
			if (b->dst[j].fam != d->fam || b->dst[j].len != d->len ||
			    mt_cmp_addr(&b->dst[j].a, &d->a))
				break;
			g += b->rules[b->dst[j].rule].n_ports;
		}
		n = &b->bn[k++];
		n->start = d->a;
		mt_hostmask(d->len, &m);
		n->end.hi = d->a.hi | m.hi;
		n->end.lo = d->a.lo | m.lo;
		n->parent = MT_NONE;
		n->dst = i;
		n->ndst = j - i;
		if (d->fam == 4)
			b->nnode4++;
		if (g > b->maxg)
			b->maxg = g;
	}
	return 0;
}

/* Room for @more elements of @size bytes in @v (doubling). */
int mt_vgrow_slow(struct mt_build *b, struct mt_vec *v, u32 more,
		  size_t size)
{
	u64 need = (u64)v->n + more;
	u32 cap = v->cap ? v->cap : 64;
	void *p;

	while (cap < need && cap < MT_MAX_POOL)
		cap *= 2;
	if (need > cap || (size_t)cap * size > MT_MAX_BYTES) {
		b->err = "compiled table too large";
		return -E2BIG;
	}
	p = mt_balloc(b, (size_t)cap * size);
	if (!p)
		return -ENOMEM;
	if (v->n)
		memcpy(p, v->p, (size_t)v->n * size);
	mt_bfree(b, v->p);
	v->p = p;
	v->cap = cap;
	return 0;
}

int mt_charge(struct mt_build *b, u64 w)
{
	b->work += w;
	if (b->work > MT_MAX_WORK) {
		b->err = "rules overlap too much: compiled lists too large";
		return -E2BIG;
	}
	return 0;
}

static u32 mt_ceil_log2(u64 x)
{
	u32 r = 0;

	while (r < 63 && (1ULL << r) < x)
		r++;
	return r;
}

static u32 mt_dir_bits(u32 c)
{
	u32 bits = mt_ceil_log2(c) + 1;

	if (bits < 4)
		bits = 4;
	if (bits > MT_DIR_MAX_BITS)
		bits = MT_DIR_MAX_BITS;
	return bits;
}

/*
 * Directory of the map @m (32-bit keys): nodes are built breadth first from
 * a work list, no recursion. A node over the starts [a, b] spreads them by
 * (key - key[a]) >> shift into at most 2^bits buckets; a bucket whose
 * window (the interval holding its first key and the starts inside it)
 * has more than MT_LEAF + 1 intervals gets a child node, up to
 * MT_DIR_DEPTH levels.
 */
/*
 * The directory work list of a map of n keys: one item, every interval
 * but the first (the keys below the lowest one), at depth 0.
 */
static int mt_dir_start(struct mt_build *b, u32 n)
{
	struct mt_dwork *w;
	int ret;

	b->dwork.n = 0;
	ret = mt_vgrow(b, &b->dwork, 1, sizeof(*w));
	if (ret)
		return ret;
	w = b->dwork.p;
	w->a = 1;
	w->b = n - 1;
	w->depth = 0;
	b->dwork.n = 1;
	return 0;
}

/*
 * Slot *ent of a directory node, met by the intervals i - 1 .. g - 1 of the
 * work item @cw: more than a leaf window holds, and not too deep, makes a
 * child node (queued as work, numbered from @first); else the slot is the
 * window itself, and the node's widest window (*win) grows to it.
 */
static int mt_dir_slot(struct mt_build *b, const struct mt_dwork *cw,
		       u32 first, u32 i, u32 g, u32 *ent, u32 *win)
{
	u32 e = i - 1, n = g - 1 - e;
	struct mt_dwork *w;
	int ret;

	if (n > MT_LEAF && cw->depth < MT_DIR_DEPTH) {
		ret = mt_vgrow(b, &b->dwork, 1, sizeof(*w));
		if (ret)
			return ret;
		w = (struct mt_dwork *)b->dwork.p + b->dwork.n;
		w->a = i;
		w->b = g - 1;
		w->depth = cw->depth + 1;
		*ent = MT_CHILD | (first + b->dwork.n);
		b->dwork.n++;
		return 0;
	}
	*ent = e | (n < MT_WMAX ? n : MT_WMAX) << MT_WSHIFT;
	if (n > *win)
		*win = n;
	return 0;
}

/* The most starts of kv[a..b] that fall in one bucket of @dn. */
static u32 mt_run32(const struct mt_kv32 *kv, u32 a, u32 b,
		    const struct mt_dn32 *dn)
{
	u32 i, run = 1, best = 1, prev = mt_bkt32(dn, kv[a].key), x;

	for (i = a + 1; i <= b; i++) {
		x = mt_bkt32(dn, kv[i].key);
		run = x == prev ? run + 1 : 1;
		prev = x;
		if (run > best)
			best = run;
	}
	return best;
}

/*
 * A node whose linear buckets would leave more than a leaf window in one
 * bucket is bucketed by scale around its median start instead when that
 * spreads its starts better (*piv, MT_LOG).
 */
static u32 mt_pick32(const struct mt_kv32 *kv, const struct mt_dwork *cw,
		     u32 shift, u32 nb, u32 *piv)
{
	struct mt_dn32 dn = { .lo = kv[cw->a].key, .shift = shift,
			      .last = nb - 1 };
	u32 lin, run, best, i, g, x;

	if (cw->b - cw->a + 1 <= MT_LEAF)
		return shift;
	lin = mt_run32(kv, cw->a, cw->b, &dn);
	if (lin <= MT_LEAF)
		return shift;
	dn.shift = MT_LOG;
	dn.piv = kv[cw->a + (cw->b - cw->a) / 2].key;
	run = mt_run32(kv, cw->a, cw->b, &dn);
	best = dn.piv;
	for (i = cw->a + 1, g = cw->a; i <= cw->b; i++)
		if (kv[i].key - kv[i - 1].key < kv[g + 1].key - kv[g].key)
			g = i - 1;
	dn.piv = kv[g].key;
	x = mt_run32(kv, cw->a, cw->b, &dn);
	if (x < run) {
		run = x;
		best = dn.piv;
	}
	if (run >= lin)
		return shift;
	*piv = best;
	return MT_LOG;
}

/* Keys of bucket @j of a scale node around @piv: *bs..*be (empty: bs > be). */
static void mt_logb32(u32 piv, u32 j, u64 *bs, u64 *be)
{
	u64 m, h, f;

	if (j == 32) {
		*bs = piv;
		*be = piv;
	} else if (j < 32) {
		m = 32 - j;
		h = 1ULL << (m - 1);
		f = (1ULL << m) - 1;
		if (piv < h) {
			*bs = 0;
			*be = 0;
			return;
		}
		*be = piv - h;
		*bs = piv >= f ? piv - f : 0;
	} else {
		m = j - 32;
		*bs = piv + (1ULL << (m - 1));
		*be = piv + (1ULL << m) - 1;
		if (*bs > 0xffffffffULL)
			*bs = 0xffffffffULL;
		if (*be > 0xffffffffULL)
			*be = 0xffffffffULL;
	}
}

int mt_dir32(struct mt_build *b, struct mt_map *m)
{
	const struct mt_kv32 *kv;
	struct mt_dn32 *dn;
	u32 d, first, i, j, g, nb, bits, shift, range, piv, *ent;
	u64 bs, be;
	int ret;

	m->dir = MT_NONE;
	if (m->n <= MT_LEAF + 1)
		return 0;
	first = b->dn32.n;
	ret = mt_dir_start(b, m->n);
	if (ret)
		return ret;
	for (d = 0; d < b->dwork.n; d++) {
		struct mt_dwork cw = ((struct mt_dwork *)b->dwork.p)[d];

		kv = (const struct mt_kv32 *)b->kv32.p + m->iv;
		range = kv[cw.b].key - kv[cw.a].key;
		bits = mt_dir_bits(cw.b - cw.a + 1);
		for (shift = 0; shift < 32 && (range >> shift) >> bits; shift++)
			;
		nb = (range >> shift) + 1;
		piv = 0;
		shift = mt_pick32(kv, &cw, shift, nb, &piv);
		if (shift == MT_LOG)
			nb = 65;
		ret = mt_vgrow(b, &b->dn32, 1, sizeof(*dn));
		if (!ret)
			ret = mt_vgrow(b, &b->dent, nb, sizeof(u32));
		if (!ret)
			ret = mt_charge(b, nb);
		if (ret)
			return ret;
		kv = (const struct mt_kv32 *)b->kv32.p + m->iv;
		dn = (struct mt_dn32 *)b->dn32.p + b->dn32.n++;
		dn->lo = kv[cw.a].key;
		dn->shift = shift;
		dn->last = nb - 1;
		dn->before = cw.a - 1;
		dn->ent = b->dent.n;
		dn->win = 0;
		dn->piv = piv;
		ent = (u32 *)b->dent.p + b->dent.n;
		b->dent.n += nb;
		i = cw.a;
		for (j = 0; j < nb; j++) {
			if (shift == MT_LOG) {
				mt_logb32(piv, j, &bs, &be);
			} else {
				bs = dn->lo + ((u64)j << shift);
				be = bs + ((u64)1 << shift) - 1;
			}
			while (i <= cw.b && kv[i].key <= bs)
				i++;
			for (g = i; g <= cw.b && kv[g].key <= be; g++)
				;
			ret = mt_dir_slot(b, &cw, first, i, g, &ent[j], &dn->win);
			if (ret)
				return ret;
		}
		mt_resched();
	}
	m->dir = first;
	return 0;
}

static inline void mt_sub(struct mt_addr *r, const struct mt_addr *a,
			  const struct mt_addr *b)
{
	r->lo = a->lo - b->lo;
	r->hi = a->hi - b->hi - (a->lo < b->lo);
}

/* a >> s for s in 0..127 */
static inline void mt_shr(struct mt_addr *r, const struct mt_addr *a, u32 s)
{
	if (s >= 64) {
		r->lo = a->hi >> (s - 64);
		r->hi = 0;
	} else if (s) {
		r->lo = a->lo >> s | a->hi << (64 - s);
		r->hi = a->hi >> s;
	} else {
		*r = *a;
	}
}

/* lo + (j << s), saturating at the top of the address space */
static void mt_bucket(struct mt_addr *r, const struct mt_addr *lo, u64 j,
		      u32 s)
{
	struct mt_addr x;

	if (s >= 64) {
		x.hi = j << (s - 64);
		x.lo = 0;
	} else if (s) {
		x.hi = j >> (64 - s);
		x.lo = j << s;
	} else {
		x.hi = 0;
		x.lo = j;
	}
	r->lo = lo->lo + x.lo;
	r->hi = lo->hi + x.hi + (r->lo < x.lo);
	if (r->hi < lo->hi || (r->hi == lo->hi && r->lo < lo->lo))
		r->hi = r->lo = ~0ULL;
}

static u32 mt_run128(const struct mt_kv128 *kv, u32 a, u32 b,
		     const struct mt_dn128 *dn)
{
	u32 i, run = 1, best = 1, x;
	u32 prev = mt_bkt128(dn, kv[a].key.hi, kv[a].key.lo);

	for (i = a + 1; i <= b; i++) {
		x = mt_bkt128(dn, kv[i].key.hi, kv[i].key.lo);
		run = x == prev ? run + 1 : 1;
		prev = x;
		if (run > best)
			best = run;
	}
	return best;
}

static u32 mt_pick128(const struct mt_kv128 *kv, const struct mt_dwork *cw,
		      u32 shift, u32 nb, struct mt_addr *piv)
{
	struct mt_dn128 dn = { .lo = kv[cw->a].key, .shift = shift,
			       .last = nb - 1 };
	struct mt_addr best, gap, d;
	u32 lin, run, i, g, x;

	if (cw->b - cw->a + 1 <= MT_LEAF)
		return shift;
	lin = mt_run128(kv, cw->a, cw->b, &dn);
	if (lin <= MT_LEAF)
		return shift;
	dn.shift = MT_LOG;
	dn.piv = kv[cw->a + (cw->b - cw->a) / 2].key;
	run = mt_run128(kv, cw->a, cw->b, &dn);
	best = dn.piv;
	mt_sub(&gap, &kv[cw->a + 1].key, &kv[cw->a].key);
	for (i = cw->a + 2, g = cw->a; i <= cw->b; i++) {
		mt_sub(&d, &kv[i].key, &kv[i - 1].key);
		if (mt_cmp_addr(&d, &gap) < 0) {
			gap = d;
			g = i - 1;
		}
	}
	dn.piv = kv[g].key;
	x = mt_run128(kv, cw->a, cw->b, &dn);
	if (x < run) {
		run = x;
		best = dn.piv;
	}
	if (run >= lin)
		return shift;
	*piv = best;
	return MT_LOG;
}

/* r = a + x, saturating at the top of the address space */
static void mt_add_sat(struct mt_addr *r, const struct mt_addr *a,
		       const struct mt_addr *x)
{
	r->lo = a->lo + x->lo;
	r->hi = a->hi + x->hi + (r->lo < x->lo);
	if (mt_cmp_addr(r, a) < 0)
		r->hi = r->lo = ~0ULL;
}

static void mt_logb128(const struct mt_addr *piv, u32 j, struct mt_addr *bs,
		       struct mt_addr *be)
{
	struct mt_addr h, f;
	u32 m;

	if (j == 128) {
		*bs = *piv;
		*be = *piv;
		return;
	}
	m = j < 128 ? 128 - j : j - 128;
	mt_hostmask(128 - m, &f);	/* 2^m - 1 */
	mt_hostmask(129 - m, &h);
	mt_inc(&h);			/* 2^(m - 1) */
	if (j < 128) {
		if (mt_cmp_addr(piv, &h) < 0) {
			bs->hi = bs->lo = 0;
			*be = *bs;
			return;
		}
		mt_sub(be, piv, &h);
		if (mt_cmp_addr(piv, &f) >= 0)
			mt_sub(bs, piv, &f);
		else
			bs->hi = bs->lo = 0;
		return;
	}
	mt_add_sat(bs, piv, &h);
	mt_add_sat(be, piv, &f);
}

/* The same for 128-bit keys. */
int mt_dir128(struct mt_build *b, struct mt_map *m)
{
	const struct mt_kv128 *kv;
	struct mt_dn128 *dn;
	struct mt_addr range, x, bs, be, piv;
	u32 d, first, i, j, g, nb, bits, shift, *ent;
	int ret;

	m->dir = MT_NONE;
	if (m->n <= MT_LEAF + 1)
		return 0;
	first = b->dn128.n;
	ret = mt_dir_start(b, m->n);
	if (ret)
		return ret;
	for (d = 0; d < b->dwork.n; d++) {
		struct mt_dwork cw = ((struct mt_dwork *)b->dwork.p)[d];

		kv = (const struct mt_kv128 *)b->kv128.p + m->iv;
		mt_sub(&range, &kv[cw.b].key, &kv[cw.a].key);
		bits = mt_dir_bits(cw.b - cw.a + 1);
		for (shift = 0; shift < 127; shift++) {
			mt_shr(&x, &range, shift);
			if (!x.hi && !(x.lo >> bits))
				break;
		}
		mt_shr(&x, &range, shift);
		nb = (u32)x.lo + 1;
		piv.hi = 0;
		piv.lo = 0;
		shift = mt_pick128(kv, &cw, shift, nb, &piv);
		if (shift == MT_LOG)
			nb = 257;
		ret = mt_vgrow(b, &b->dn128, 1, sizeof(*dn));
		if (!ret)
			ret = mt_vgrow(b, &b->dent, nb, sizeof(u32));
		if (!ret)
			ret = mt_charge(b, nb);
		if (ret)
			return ret;
		kv = (const struct mt_kv128 *)b->kv128.p + m->iv;
		dn = (struct mt_dn128 *)b->dn128.p + b->dn128.n++;
		dn->lo = kv[cw.a].key;
		dn->shift = shift;
		if (shift < 64 && !range.hi)
			dn->shift = shift | MT_SHORT;
		dn->last = nb - 1;
		dn->before = cw.a - 1;
		dn->ent = b->dent.n;
		dn->win = 0;
		dn->piv = piv;
		ent = (u32 *)b->dent.p + b->dent.n;
		b->dent.n += nb;
		i = cw.a;
		for (j = 0; j < nb; j++) {
			if (shift == MT_LOG) {
				mt_logb128(&piv, j, &bs, &be);
			} else {
				mt_bucket(&bs, &dn->lo, j, shift);
				mt_bucket(&be, &dn->lo, (u64)j + 1, shift);
				if (be.lo-- == 0)
					be.hi--;
				if (j == nb - 1)
					be.hi = be.lo = ~0ULL;
			}
			while (i <= cw.b && mt_cmp_addr(&kv[i].key, &bs) <= 0)
				i++;
			for (g = i; g <= cw.b && mt_cmp_addr(&kv[g].key, &be) <= 0;
			     g++)
				;
			ret = mt_dir_slot(b, &cw, first, i, g, &ent[j], &dn->win);
			if (ret)
				return ret;
		}
		mt_resched();
	}
	m->dir = first;
	return 0;
}

static void mt_emit(struct mt_iv *iv, u32 *cnt, const struct mt_addr *p,
		    u32 node)
{
	u32 c = *cnt;

	if (c && !mt_cmp_addr(&iv[c - 1].start, p))
		c--;
	if (c && iv[c - 1].node == node) {
		*cnt = c;
		return;
	}
	iv[c].start = *p;
	iv[c].node = node;
	*cnt = c + 1;
}

/*
 * Elementary intervals of the nodes [f0, f1) of one family, sorted by
 * (start, length). Prefixes are nested or disjoint, so the chain of open
 * prefixes is the parent chain of the innermost one: no stack is needed.
 */
u32 mt_sweep(struct mt_build *b, u32 f0, u32 f1, struct mt_iv *iv)
{
	struct mt_addr p = { 0, 0 };
	u32 cnt = 0, top = MT_NONE, i;

	mt_emit(iv, &cnt, &p, MT_NONE);
	for (i = f0; i < f1; i++) {
		while (top != MT_NONE &&
		       mt_cmp_addr(&b->bn[top].end, &b->bn[i].start) < 0) {
			p = b->bn[top].end;
			mt_inc(&p);
			top = b->bn[top].parent;
			mt_emit(iv, &cnt, &p, top);
		}
		mt_emit(iv, &cnt, &b->bn[i].start, i);
		b->bn[i].parent = top;
		top = i;
	}
	while (top != MT_NONE && !mt_is_max(&b->bn[top].end)) {
		p = b->bn[top].end;
		mt_inc(&p);
		top = b->bn[top].parent;
		mt_emit(iv, &cnt, &p, top);
	}
	return cnt;
}

static int mt_cmp_ent(const void *pa, const void *pb)
{
	const struct mt_ent *a = pa, *b = pb;

	return a->lo < b->lo ? -1 : a->lo > b->lo;
}

/*
 * Binary heaps of entry indices for the port sweep: by end port (@byhi) or
 * by (width, id) key.
 */
static inline bool mt_hless(const struct mt_ent *e, u32 x, u32 y, bool byhi)
{
	return byhi ? e[x].hi < e[y].hi : e[x].key < e[y].key;
}

static void mt_hpush(const struct mt_ent *e, u32 *h, u32 *n, u32 x, bool byhi)
{
	u32 i = (*n)++, p;

	while (i) {
		p = (i - 1) / 2;
		if (!mt_hless(e, x, h[p], byhi))
			break;
		h[i] = h[p];
		i = p;
	}
	h[i] = x;
}

static u32 mt_hpop(const struct mt_ent *e, u32 *h, u32 *n, bool byhi)
{
	u32 top = h[0], x = h[--(*n)], i = 0, c;

	for (;;) {
		c = 2 * i + 1;
		if (c >= *n)
			break;
		if (c + 1 < *n && mt_hless(e, h[c + 1], h[c], byhi))
			c++;
		if (!mt_hless(e, h[c], x, byhi))
			break;
		h[i] = h[c];
		i = c;
	}
	if (*n)
		h[i] = x;
	return top;
}

static u32 mt_hash_list(const u32 *l, u32 n, u32 term)
{
	u32 h = 0x811c9dc5 ^ n, i;

	h = (h ^ term) * 0x01000193;
	for (i = 0; i < n; i++) {
		h = (h ^ l[i]) * 0x01000193;
		h ^= h >> 15;
	}
	return h | 1;
}

/* Grows the list hash table (at least doubling it). */
static int mt_ht_grow(struct mt_build *b)
{
	struct mt_hslot *old = b->ht, *nh;
	u32 ocap = b->htcap, ncap = ocap ? ocap * 2 : 1024, i, h;

	if ((size_t)ncap * sizeof(*nh) > MT_MAX_BYTES / 2) {
		b->err = "compiled table too large (candidate lists)";
		return -E2BIG;
	}
	nh = mt_balloc(b, (size_t)ncap * sizeof(*nh));
	if (!nh)
		return -ENOMEM;
	memset(nh, 0, (size_t)ncap * sizeof(*nh));
	for (i = 0; i < ocap; i++) {
		if (!old[i].list)
			continue;
		for (h = old[i].hash & (ncap - 1); nh[h].list;
		     h = (h + 1) & (ncap - 1))
			;
		nh[h] = old[i];
	}
	mt_bfree(b, old);
	b->ht = nh;
	b->htcap = ncap;
	return 0;
}

/*
 * The list of rules @l[0..n) (restricted to sources, best first) followed by
 * @term (a rule without source restriction, MT_END or MT_CONT), stored once:
 * returns its offset in b->lst (> 0) in *out.
 */
int mt_intern(struct mt_build *b, const u32 *l, u32 n, u32 term, u32 *out)
{
	u32 h, i, *p;
	int ret;

	if (2 * (b->htn + 1) > b->htcap) {
		ret = mt_ht_grow(b);
		if (ret)
			return ret;
	}
	ret = mt_charge(b, n + 1);
	if (ret)
		return ret;
	h = mt_hash_list(l, n, term);
	for (i = h & (b->htcap - 1); b->ht[i].list; i = (i + 1) & (b->htcap - 1)) {
		if (b->ht[i].hash != h)
			continue;
		p = (u32 *)b->lst.p + b->ht[i].list;
		if (p[0] == n && p[1] == term &&
		    (!n || !memcmp(p + 2, l, (size_t)n * sizeof(*l)))) {
			*out = b->ht[i].list;
			return 0;
		}
	}
	ret = mt_vgrow(b, &b->lst, n + 2, sizeof(u32));
	if (ret)
		return ret;
	p = (u32 *)b->lst.p + b->lst.n;
	p[0] = n;
	p[1] = term;
	if (n)
		memcpy(p + 2, l, (size_t)n * sizeof(*l));
	*out = b->lst.n;
	b->lst.n += n + 2;
	b->ht[i].list = *out;
	b->ht[i].hash = h;
	b->htn++;
	return 0;
}

/*
 * Own port segments of node @node for protocol bit @proto: a sweep over its
 * (rule, range) entries sorted by low port. At each boundary the candidates
 * are the entries covering the port in (width, id) order, each rule once;
 * only those before the first rule without source restriction (the
 * default) can ever be chosen, and only they are collected, so the work is
 * bounded by the size of the lists produced. Heaps: every active entry by
 * end (next boundary), unrestricted ones by key (the default), restricted
 * ones by key (the list); expired entries leave the key heaps lazily.
 * Output: b->oseg triples (start, offset in b->olst or MT_NONE, default or
 * MT_END); an own list is (count, rules...).
 */
int mt_own_segs(struct mt_build *b, u32 node, u32 proto)
{
	const struct mt_bnode *bn = &b->bn[node];
	struct mt_ent *e = b->ent;
	const struct mt_rule *r;
	u32 m = 0, i, j, pos = 0, p = 0, next, c, def, ne = 0, nu = 0, nr = 0;
	u32 nt, rule, *s;
	int ret;

	b->oseg.n = 0;
	b->olst.n = 0;
	for (i = 0; i < bn->ndst; i++) {
		rule = b->dst[bn->dst + i].rule;
		r = &b->rules[rule];
		if (!(r->protos & proto))
			continue;
		for (j = 0; j < r->n_ports; j++) {
			e[m].lo = r->ports[j].lo;
			e[m].hi = r->ports[j].hi;
			e[m].key = (u64)(e[m].hi - e[m].lo) << 32 | r->id;
			e[m].rule = rule;
			e[m].restricted = r->n_src != 0;
			m++;
		}
	}
	if (m > 16) {
		mt_sort(e, m, sizeof(*e), mt_cmp_ent);
	} else {
		for (i = 1; i < m; i++) {
			struct mt_ent x = e[i];

			for (j = i; j && e[j - 1].lo > x.lo; j--)
				e[j] = e[j - 1];
			e[j] = x;
		}
	}
	for (;;) {
		for (; pos < m && e[pos].lo <= p; pos++) {
			mt_hpush(e, b->hpe, &ne, pos, true);
			if (e[pos].restricted)
				mt_hpush(e, b->hpr, &nr, pos, false);
			else
				mt_hpush(e, b->hpu, &nu, pos, false);
		}
		while (ne && e[b->hpe[0]].hi < p)
			mt_hpop(e, b->hpe, &ne, true);
		while (nu && e[b->hpu[0]].hi < p)
			mt_hpop(e, b->hpu, &nu, false);
		def = nu ? b->hpu[0] : MT_NONE;
		/* restricted entries better than the default, in order */
		nt = 0;
		while (nr) {
			i = b->hpr[0];
			if (e[i].hi < p) {
				mt_hpop(e, b->hpr, &nr, false);
				continue;
			}
			if (def != MT_NONE && e[i].key > e[def].key)
				break;
			b->tmp[nt++] = mt_hpop(e, b->hpr, &nr, false);
		}
		b->gen++;
		ret = mt_vgrow(b, &b->olst, nt + 1, sizeof(u32));
		if (!ret)
			ret = mt_vgrow(b, &b->oseg, 3, sizeof(u32));
		if (!ret)
			ret = mt_charge(b, nt + 1);
		if (ret)
			return ret;
		s = (u32 *)b->oseg.p + b->oseg.n;
		s[0] = p;
		s[1] = MT_NONE;
		s[2] = def == MT_NONE ? MT_END : e[def].rule;
		b->oseg.n += 3;
		if (nt) {
			u32 *l = (u32 *)b->olst.p + b->olst.n;

			s[1] = b->olst.n;
			for (i = 0, c = 0; i < nt; i++) {
				rule = e[b->tmp[i]].rule;
				mt_hpush(e, b->hpr, &nr, b->tmp[i], false);
				if (b->stamp[rule] == b->gen)
					continue;
				b->stamp[rule] = b->gen;
				l[1 + c++] = rule;
			}
			l[0] = c;
			b->olst.n += c + 1;
		}
		next = pos < m ? e[pos].lo : MT_NPORTS;
		if (ne && e[b->hpe[0]].hi + 1 < next)
			next = e[b->hpe[0]].hi + 1;
		if (next >= MT_NPORTS)
			break;
		p = next;
	}
	return 0;
}

/* A list terminator that continues in another list (persistent source maps). */
static inline bool mt_is_par(u32 term)
{
	return (term & MT_PAR) && term != MT_END;
}

/* Append (start, val) to the map being built in b->kv32, merging repeats. */
static int mt_put32(struct mt_build *b, const struct mt_map *m, u32 start,
		    u32 val)
{
	struct mt_kv32 *kv;
	u32 n = b->kv32.n - m->iv;
	int ret;

	if (n) {	/* the pool may not exist yet: no NULL + 0 */
		kv = (struct mt_kv32 *)b->kv32.p + m->iv;
		if (kv[n - 1].key == start) {
			kv[n - 1].val = val;
			if (n > 1 && kv[n - 2].val == val)
				b->kv32.n--;
			return 0;
		}
		if (kv[n - 1].val == val)
			return 0;
	}
	ret = mt_vgrow(b, &b->kv32, 1, sizeof(*kv));
	if (ret)
		return ret;
	kv = (struct mt_kv32 *)b->kv32.p + b->kv32.n++;
	kv->key = start;
	kv->val = val;
	return 0;
}

/*
 * Port map of @node for protocol @pi: its own segments laid over the map of
 * @base (a node's map with list values; MT_NONE: one interval with the list
 * @baselist). Where the node has a default, its own list decides; where it
 * has nothing, the base list applies; else its restricted rules come first,
 * then the base list.
 */
int mt_node_map(struct mt_build *b, u32 node, u32 pi, u32 base,
		u32 baselist)
{
	struct mt_node *nd = (struct mt_node *)b->nodes.p + node;
	struct mt_map *m = &nd->pm[pi];
	const struct mt_kv32 *bkv;
	u32 bn = 1, bi = 0, oi = 0, on = b->oseg.n / 3, p = 0, next, bl, list;
	u32 *os, *ol, *l, *bl_p, len, blen;
	int ret;

	if (base != MT_NONE) {
		const struct mt_map *bm =
			&((struct mt_node *)b->nodes.p)[base].pm[pi];

		bn = bm->n;
		bi = bm->iv;
	}
	m->iv = b->kv32.n;
	for (;;) {
		os = (u32 *)b->oseg.p + 3 * oi;
		bkv = base != MT_NONE ? (const struct mt_kv32 *)b->kv32.p + bi :
		      NULL;
		bl = bkv ? bkv->val : baselist;
		if (os[2] != MT_END) {
			ol = os[1] == MT_NONE ? NULL : (u32 *)b->olst.p + os[1];
			ret = mt_intern(b, ol ? ol + 1 : NULL, ol ? ol[0] : 0,
					os[2], &list);
		} else if (os[1] == MT_NONE) {
			list = bl;
			ret = 0;
		} else {
			ol = (u32 *)b->olst.p + os[1];
			bl_p = (u32 *)b->lst.p + bl;
			len = ol[0];
			blen = bl_p[0];
			if (blen > MT_CAT_MAX || mt_is_par(bl_p[1])) {
				/*
				 * A long list is not copied: the node's rules
				 * then the base list, whose persistent source
				 * map the node's will extend.
				 */
				ret = mt_intern(b, ol + 1, len, MT_PAR | bl,
						&list);
				goto put;
			}
			b->cat.n = 0;
			ret = mt_vgrow(b, &b->cat, len + blen, sizeof(u32));
			if (ret)
				return ret;
			l = b->cat.p;
			ol = (u32 *)b->olst.p + os[1];
			bl_p = (u32 *)b->lst.p + bl;
			memcpy(l, ol + 1, (size_t)len * sizeof(u32));
			memcpy(l + len, bl_p + 2, (size_t)blen * sizeof(u32));
			ret = mt_intern(b, l, len + blen, bl_p[1], &list);
		}
put:
		if (ret)
			return ret;
		m->n = b->kv32.n - m->iv;
		ret = mt_put32(b, m, p, list);
		if (ret)
			return ret;
		next = MT_NPORTS;
		if (oi + 1 < on)
			next = ((u32 *)b->oseg.p)[3 * (oi + 1)];
		if (base != MT_NONE && bi + 1 < ((struct mt_node *)b->nodes.p)[base].pm[pi].iv + bn &&
		    ((const struct mt_kv32 *)b->kv32.p)[bi + 1].key < next)
			next = ((const struct mt_kv32 *)b->kv32.p)[bi + 1].key;
		if (next >= MT_NPORTS)
			break;
		p = next;
		if (oi + 1 < on && ((u32 *)b->oseg.p)[3 * (oi + 1)] == p)
			oi++;
		if (base != MT_NONE && bi + 1 < ((struct mt_node *)b->nodes.p)[base].pm[pi].iv + bn &&
		    ((const struct mt_kv32 *)b->kv32.p)[bi + 1].key == p)
			bi++;
	}
	m->n = b->kv32.n - m->iv;
	return mt_dir32(b, m);
}
static int mt_cmp_sitem(const void *pa, const void *pb)
{
	const struct mt_sitem *a = pa, *b = pb;
	int c = mt_cmp_addr(&a->start, &b->start);

	if (c)
		return c;
	return a->len < b->len ? -1 : a->len > b->len;
}

/* Append (start, val) to the 128-bit map being built, merging repeats. */
static int mt_put128(struct mt_build *b, const struct mt_map *m,
		     const struct mt_addr *start, u32 val)
{
	struct mt_kv128 *kv;
	u32 n = b->kv128.n - m->iv;
	int ret;

	if (n) {	/* the pool may not exist yet: no NULL + 0 */
		kv = (struct mt_kv128 *)b->kv128.p + m->iv;
		if (!mt_cmp_addr(&kv[n - 1].key, start)) {
			kv[n - 1].val = val;
			if (n > 1 && kv[n - 2].val == val)
				b->kv128.n--;
			return 0;
		}
		if (kv[n - 1].val == val)
			return 0;
	}
	ret = mt_vgrow(b, &b->kv128, 1, sizeof(*kv));
	if (ret)
		return ret;
	kv = (struct mt_kv128 *)b->kv128.p + b->kv128.n++;
	kv->key = *start;
	kv->val = val;
	return 0;
}

static int mt_put(struct mt_build *b, const struct mt_map *m, u32 fam,
		  const struct mt_addr *start, u32 val)
{
	if (fam == 4)
		return mt_put32(b, m, (u32)(start->hi >> 32), val);
	return mt_put128(b, m, start, val);
}

/*
 * First-match map over the source address (family @fam) of the list at
 * @lo: every address maps to the first rule of the list that allows it,
 * else to the list's terminator. Source prefixes are laminar (nested or
 * disjoint), so a sweep over them sorted by (start, length) with a stack of
 * the open ones, each holding the best position among itself and the
 * prefixes around it, gives the map.
 */
static int mt_smap_fam(struct mt_build *b, u32 lo, u32 fam, struct mt_map *m)
{
	const u32 *l = (const u32 *)b->lst.p + lo;
	u32 n = l[0], term = l[1], i, j, k, sp = 0, ns = 0;
	const struct mt_rule *r;
	struct mt_sitem *it;
	struct mt_addr p = { 0, 0 }, hm;
	int ret;

	b->sit.n = 0;
	for (i = 0; i < n; i++) {
		r = &b->rules[l[2 + i]];
		for (j = 0; j < r->n_src; j++)
			if (r->src[j].family == fam)
				ns++;
	}
	ret = mt_vgrow(b, &b->sit, ns, sizeof(*it));
	if (!ret)
		ret = mt_charge(b, (u64)ns + 1);
	if (ret)
		return ret;
	if (b->stkcap < ns) {
		mt_bfree(b, b->stk);
		b->stk = mt_balloc(b, (size_t)ns * 2 * sizeof(*b->stk));
		if (!b->stk)
			return -ENOMEM;
		b->stkcap = ns;
	}
	it = b->sit.p;
	l = (const u32 *)b->lst.p + lo;
	for (i = 0, k = 0; i < n; i++) {
		r = &b->rules[l[2 + i]];
		for (j = 0; j < r->n_src; j++) {
			if (r->src[j].family != fam)
				continue;
			mt_addr_of(&r->src[j], &it[k].start);
			mt_hostmask(r->src[j].len, &hm);
			it[k].end.hi = it[k].start.hi | hm.hi;
			it[k].end.lo = it[k].start.lo | hm.lo;
			it[k].len = r->src[j].len;
			it[k].prio = i;
			k++;
		}
	}
	if (ns > 1)
		mt_sort(it, ns, sizeof(*it), mt_cmp_sitem);

	/* stk[2 * d]: item, stk[2 * d + 1]: best position down to it */
	m->iv = fam == 4 ? b->kv32.n : b->kv128.n;
	m->n = 0;
	ret = mt_put(b, m, fam, &p, term);
	for (i = 0; !ret && i < ns; i++) {
		while (sp && mt_cmp_addr(&it[b->stk[2 * (sp - 1)]].end,
					 &it[i].start) < 0) {
			p = it[b->stk[2 * (sp - 1)]].end;
			mt_inc(&p);
			sp--;
			ret = mt_put(b, m, fam, &p, sp ?
				     l[2 + b->stk[2 * sp - 1]] : term);
			if (ret)
				return ret;
		}
		k = it[i].prio;
		if (sp && b->stk[2 * sp - 1] < k)
			k = b->stk[2 * sp - 1];
		b->stk[2 * sp] = i;
		b->stk[2 * sp + 1] = k;
		sp++;
		ret = mt_put(b, m, fam, &it[i].start, l[2 + k]);
	}
	while (!ret && sp && !mt_is_max(&it[b->stk[2 * (sp - 1)]].end)) {
		p = it[b->stk[2 * (sp - 1)]].end;
		mt_inc(&p);
		sp--;
		ret = mt_put(b, m, fam, &p, sp ? l[2 + b->stk[2 * sp - 1]] : term);
	}
	if (ret)
		return ret;
	if (fam == 4) {
		m->n = b->kv32.n - m->iv;
		return mt_dir32(b, m);
	}
	m->n = b->kv128.n - m->iv;
	return mt_dir128(b, m);
}

/*
 * Persistent source maps. A list that ends in MT_PAR | base (the node's own
 * restricted rules, then a long list of its parent) does not get a source
 * map of its own: its map is the base list's with the own rules' sources
 * assigned over it, and shares everything else with it. Such maps are trees
 * over the table's elementary source intervals (the cuts of all source
 * prefixes of a family, numbered 0..nsb - 1): a node has MT_PFAN slots,
 * each a cell value for its whole range or a child node; the tree shape is
 * fixed by nsb, so an assignment copies at most two nodes per level (the
 * ends of the range) and never rebalances.
 */

/*
 * The elementary source intervals of family @fi (0: IPv4, 1: IPv6): the
 * sorted distinct starts and ends + 1 of every source prefix, and 0; the
 * map from a source address to its interval; the tree depth.
 */
static int mt_src_cuts(struct mt_build *b, u32 fi)
{
	u32 fam = fi ? 6 : 4, i, j, k = 0, ns = 0, d;
	const struct mt_rule *r;
	struct mt_addr *a, *tmp, hm;
	int ret;

	for (i = 0; i < b->n; i++) {
		r = &b->rules[i];
		for (j = 0; j < r->n_src; j++)
			ns += r->src[j].family == fam;
	}
	ret = mt_charge(b, 2 * (u64)ns + 1);
	if (ret)
		return ret;
	a = mt_balloc(b, (2 * (size_t)ns + 1) * sizeof(*a));
	tmp = mt_balloc(b, (2 * (size_t)ns + 1) * sizeof(*a));
	if (!a || !tmp) {
		mt_bfree(b, a);
		mt_bfree(b, tmp);
		return -ENOMEM;
	}
	a[k].hi = 0;
	a[k++].lo = 0;
	for (i = 0; i < b->n; i++) {
		r = &b->rules[i];
		for (j = 0; j < r->n_src; j++) {
			if (r->src[j].family != fam)
				continue;
			mt_addr_of(&r->src[j], &a[k]);
			mt_hostmask(r->src[j].len, &hm);
			a[k + 1].hi = a[k].hi | hm.hi;
			a[k + 1].lo = a[k].lo | hm.lo;
			k++;
			if (!mt_is_max(&a[k]))
				mt_inc(&a[k++]);
		}
	}
	mt_msort_addr(a, tmp, k);
	mt_bfree(b, tmp);
	for (i = 1, j = 1; i < k; i++)
		if (mt_cmp_addr(&a[i], &a[j - 1]))
			a[j++] = a[i];
	b->sb[fi] = a;
	b->nsb[fi] = j;
	for (d = 1; d < 32 / MT_PBITS && (1ULL << (d * MT_PBITS)) < j; d++)
		;
	if ((1ULL << (d * MT_PBITS)) < j) {
		b->err = "too many source prefixes";
		return -E2BIG;
	}
	b->psh[fi] = (d - 1) * MT_PBITS;

	b->gmap[fi].iv = fi ? b->kv128.n : b->kv32.n;
	b->gmap[fi].n = 0;
	for (i = 0; i < j; i++) {
		ret = mt_put(b, &b->gmap[fi], fam, &b->sb[fi][i], i);
		if (ret)
			return ret;
	}
	if (!fi) {
		b->gmap[fi].n = b->kv32.n - b->gmap[fi].iv;
		return mt_dir32(b, &b->gmap[fi]);
	}
	b->gmap[fi].n = b->kv128.n - b->gmap[fi].iv;
	return mt_dir128(b, &b->gmap[fi]);
}

/* The elementary interval of family @fi holding the address @a. */
static u32 mt_src_idx(const struct mt_build *b, u32 fi, const struct mt_addr *a)
{
	const struct mt_addr *s = b->sb[fi];
	u32 lo = 0, n, half;

	for (n = b->nsb[fi]; n > 1; n -= half) {
		half = n >> 1;
		if (mt_cmp_addr(&s[lo + half], a) <= 0)
			lo += half;
	}
	return lo;
}

/*
 * Assign @v to the elementary intervals @a..@z in the tree of family @fi
 * whose root slot is *@root. Nodes from slot b->pmark on belong to the
 * map being built and are written in place; older ones are shared and are
 * copied first (path copying). No recursion: a stack of partly covered
 * slots, at most two per level.
 */
static int mt_passign(struct mt_build *b, u32 fi, u32 *root, u32 a, u32 z,
		      u32 v)
{
	struct mt_pwork *w = b->pw, cw;
	u32 sp = 0, cur, node, k, clo, chi, csh, *slot;
	int ret;

	w[sp].ref = MT_NONE;
	w[sp].lo = 0;
	w[sp++].sh = b->psh[fi] + MT_PBITS;
	while (sp) {
		cw = w[--sp];
		cur = cw.ref == MT_NONE ? *root : ((u32 *)b->pn.p)[cw.ref];
		if (mt_pchild(cur) && cur - MT_SMAP >= b->pmark) {
			node = cur - MT_SMAP;
		} else {
			ret = mt_vgrow(b, &b->pn, MT_PFAN, sizeof(u32));
			if (!ret)
				ret = mt_charge(b, MT_PFAN);
			if (ret)
				return ret;
			node = b->pn.n;
			slot = (u32 *)b->pn.p + node;
			if (mt_pchild(cur))
				memcpy(slot, (u32 *)b->pn.p + (cur - MT_SMAP),
				       MT_PFAN * sizeof(u32));
			else
				for (k = 0; k < MT_PFAN; k++)
					slot[k] = cur;
			b->pn.n += MT_PFAN;
			if (cw.ref == MT_NONE)
				*root = MT_SMAP | node;
			else
				((u32 *)b->pn.p)[cw.ref] = MT_SMAP | node;
		}
		csh = cw.sh - MT_PBITS;
		slot = (u32 *)b->pn.p + node;
		for (k = 0; k < MT_PFAN; k++) {
			clo = cw.lo + (k << csh);
			chi = clo + ((1U << csh) - 1);
			if (chi < a || clo > z)
				continue;
			if (a <= clo && chi <= z) {
				slot[k] = v;
				continue;
			}
			if (sp >= MT_PWORK) {
				b->err = "compile failed (source tree)";
				return -EINVAL;
			}
			w[sp].ref = node + k;
			w[sp].lo = clo;
			w[sp++].sh = csh;
		}
	}
	return 0;
}

/*
 * Assign the rules of the list at @lo (best first) over the trees @root[2],
 * worst first so that the best wins, and store the result as a new source
 * map: *idx.
 */
static int mt_pm_over(struct mt_build *b, u32 lo, u32 *root, u32 *idx)
{
	const struct mt_rule *r;
	struct mt_addr a, hm;
	struct mt_smap *s;
	u32 i, j, n, fi, rule, x, y;
	int ret;

	b->pmark = b->pn.n;
	n = ((const u32 *)b->lst.p)[lo];
	for (i = n; i-- > 0;) {
		rule = ((const u32 *)b->lst.p)[lo + 2 + i];
		r = &b->rules[rule];
		for (j = 0; j < r->n_src; j++) {
			fi = r->src[j].family == 6;
			mt_addr_of(&r->src[j], &a);
			x = mt_src_idx(b, fi, &a);
			mt_hostmask(r->src[j].len, &hm);
			a.hi |= hm.hi;
			a.lo |= hm.lo;
			y = mt_src_idx(b, fi, &a);
			ret = mt_passign(b, fi, &root[fi], x, y, rule);
			if (ret)
				return ret;
		}
		if (!(i & 1023))
			mt_resched();
	}
	ret = mt_vgrow(b, &b->smaps, 1, sizeof(*s));
	if (ret)
		return ret;
	*idx = b->smaps.n++;
	if (*idx >= ~MT_SMAP) {
		b->err = "compiled table too large (source maps)";
		return -E2BIG;
	}
	s = (struct mt_smap *)b->smaps.p + *idx;
	s->m4.n = 0;
	s->m4.iv = root[0];
	s->m4.dir = MT_NONE;
	s->m6.n = 0;
	s->m6.iv = root[1];
	s->m6.dir = MT_NONE;
	return 0;
}

/*
 * The cell of the list at @lo, which ends in MT_PAR | base: a persistent
 * source map over the base list's. The chain of bases whose maps do not
 * exist yet is walked first (no recursion), down to a list that has a
 * persistent map or a flat list (whose persistent form is built from its
 * rules and kept in b->lpm), then the maps are built back up.
 */
static int mt_pm_cell(struct mt_build *b, u32 lo, u32 *cell)
{
	const struct mt_smap *s;
	u32 x = lo, idx, root[2], term;
	int ret;

	if (!b->psrc) {
		ret = mt_src_cuts(b, 0);
		if (!ret)
			ret = mt_src_cuts(b, 1);
		if (ret)
			return ret;
		b->psrc = true;
	}
	b->pend.n = 0;
	for (;;) {
		term = ((const u32 *)b->lst.p)[x + 1];
		if (!mt_is_par(term) || b->lcell[x] != MT_NONE)
			break;
		ret = mt_vgrow(b, &b->pend, 1, sizeof(u32));
		if (ret)
			return ret;
		((u32 *)b->pend.p)[b->pend.n++] = x;
		x = term & ~MT_PAR;
	}
	if (mt_is_par(term)) {
		idx = b->lcell[x] & ~MT_SMAP;
	} else {
		if (!b->lpm) {
			b->lpm = mt_balloc(b, (size_t)b->lcellcap * sizeof(u32));
			if (!b->lpm)
				return -ENOMEM;
			memset(b->lpm, 0xff, (size_t)b->lcellcap * sizeof(u32));
		}
		if (b->lpm[x] == MT_NONE) {
			root[0] = term == MT_END ? MT_PEND : term;
			root[1] = root[0];
			ret = mt_pm_over(b, x, root, &b->lpm[x]);
			if (ret)
				return ret;
		}
		idx = b->lpm[x];
	}
	while (b->pend.n) {
		x = ((u32 *)b->pend.p)[--b->pend.n];
		s = (const struct mt_smap *)b->smaps.p + idx;
		root[0] = s->m4.iv;
		root[1] = s->m6.iv;
		ret = mt_pm_over(b, x, root, &idx);
		if (ret)
			return ret;
		b->lcell[x] = MT_SMAP | idx;
	}
	*cell = b->lcell[lo];
	return 0;
}

/* The cell of the list at @lo: its terminator, or a new source map. */
int mt_list_cell(struct mt_build *b, u32 lo, u32 *cell)
{
	const u32 *l = (const u32 *)b->lst.p + lo;
	struct mt_smap *s;
	u32 idx;
	int ret;

	if (!l[0]) {
		*cell = l[1];
		return 0;
	}
	if (b->lcell[lo] != MT_NONE) {
		*cell = b->lcell[lo];
		return 0;
	}
	if (mt_is_par(l[1]))
		return mt_pm_cell(b, lo, cell);
	ret = mt_vgrow(b, &b->smaps, 1, sizeof(*s));
	if (ret)
		return ret;
	idx = b->smaps.n++;
	if (idx >= ~MT_SMAP) {
		b->err = "compiled table too large (source maps)";
		return -E2BIG;
	}
	s = (struct mt_smap *)b->smaps.p + idx;
	ret = mt_smap_fam(b, lo, 4, &s->m4);
	if (ret)
		return ret;
	s = (struct mt_smap *)b->smaps.p + idx;
	ret = mt_smap_fam(b, lo, 6, &s->m6);
	if (ret)
		return ret;
	*cell = b->lcell[lo] = MT_SMAP | idx;
	return 0;
}
/* The destination map of family @f from its elementary intervals. */
int mt_dst_map(struct mt_build *b, u32 f, struct mt_map *m)
{
	const struct mt_iv *iv = b->iv[f];
	u32 i;
	int ret = 0;

	m->iv = f ? b->kv128.n : b->kv32.n;
	m->n = 0;
	for (i = 0; !ret && i < b->niv[f]; i++)
		ret = mt_put(b, m, f ? 6 : 4, &iv[i].start, iv[i].node);
	if (ret)
		return ret;
	if (!f) {
		m->n = b->kv32.n - m->iv;
		return mt_dir32(b, m);
	}
	m->n = b->kv128.n - m->iv;
	return mt_dir128(b, m);
}

/*
 * Port maps of every node, parents first (nodes are sorted by start, then
 * length). A node that is some node's parent, or whose parent's maps are
 * small, gets complete maps: its own lists continued by its parent's (a
 * parent list longer than MT_CAT_MAX is not copied: MT_CONT | parent).
 * Other nodes (leaves under a parent with large maps) keep only their own
 * lists, ending in MT_CONT | parent where the parent's decide: one hop at
 * lookup instead of a copy of the parent's maps into every leaf.
 */
static int mt_build_nodes(struct mt_build *b)
{
	struct mt_node *nd;
	u32 i, k, pi, par, base, baselist, *cnt = b->lencnt;
	int ret;

	/*
	 * Shorter prefixes first (parents before children): the budget for
	 * copying long lists goes to the few short prefixes that many longer
	 * ones continue in.
	 */
	memset(b->lencnt, 0, sizeof(b->lencnt));
	for (i = 0; i < b->nnode; i++)
		cnt[b->dst[b->bn[i].dst].len + 1]++;
	for (k = 1; k < 130; k++)
		cnt[k] += cnt[k - 1];
	for (i = 0; i < b->nnode; i++)
		b->order[cnt[b->dst[b->bn[i].dst].len]++] = i;
	for (k = 0; k < b->nnode; k++) {
		i = b->order[k];
		par = b->bn[i].parent;
		base = MT_NONE;
		baselist = b->lend;
		if (par != MT_NONE) {
			nd = (struct mt_node *)b->nodes.p + par;
			if (b->inner[i] || b->inner[par] <= MT_COPY_KIDS ||
			    (nd->pm[0].n <= MT_COPY_MAX &&
			     nd->pm[1].n <= MT_COPY_MAX)) {
				base = par;
			} else {
				ret = mt_intern(b, NULL, 0, MT_CONT | par,
						&baselist);
				if (ret)
					return ret;
			}
		}
		for (pi = 0; pi < 2; pi++) {
			ret = mt_own_segs(b, i, pi ? MT_PROTO_UDP : MT_PROTO_TCP);
			if (!ret)
				ret = mt_node_map(b, i, pi, base, baselist);
			if (ret)
				return ret;
		}
		mt_resched();
	}
	return 0;
}

/* Replace the list offsets of the port maps by cells. */
static int mt_make_cells(struct mt_build *b)
{
	const struct mt_node *nd;
	u32 i, pi, j, iv, n, cell;
	int ret;

	b->lcellcap = b->lst.n;
	b->lcell = mt_balloc(b, (size_t)b->lcellcap * sizeof(*b->lcell));
	if (!b->lcell)
		return -ENOMEM;
	memset(b->lcell, 0xff, (size_t)b->lcellcap * sizeof(*b->lcell));
	for (i = 0; i < b->nnode; i++) {
		for (pi = 0; pi < 2; pi++) {
			nd = (const struct mt_node *)b->nodes.p + i;
			iv = nd->pm[pi].iv;
			n = nd->pm[pi].n;
			for (j = 0; j < n; j++) {
				ret = mt_list_cell(b, ((struct mt_kv32 *)
						       b->kv32.p)[iv + j].val,
						   &cell);
				if (ret)
					return ret;
				((struct mt_kv32 *)b->kv32.p)[iv + j].val = cell;
			}
		}
		mt_resched();
	}
	return 0;
}

static size_t mt_vbytes(const struct mt_vec *v, size_t size)
{
	return (size_t)v->cap * size;
}

/* Trim a pool to its size when that saves more than an eighth of it. */
static int mt_vtrim(struct mt_build *b, struct mt_vec *v, size_t size)
{
	void *p;

	if (!v->n || v->cap - v->n <= v->cap / 8)
		return 0;
	p = mt_balloc(b, (size_t)v->n * size);
	if (!p)
		return -ENOMEM;
	memcpy(p, v->p, (size_t)v->n * size);
	mt_bfree(b, v->p);
	v->p = p;
	v->cap = v->n;
	return 0;
}

/* Hand the pools to the table. */
static int mt_pack(struct mt_build *b, struct mt_table *t)
{
	int ret;

	ret = mt_vtrim(b, &b->nodes, sizeof(struct mt_node));
	if (!ret)
		ret = mt_vtrim(b, &b->smaps, sizeof(struct mt_smap));
	if (!ret)
		ret = mt_vtrim(b, &b->kv32, sizeof(struct mt_kv32));
	if (!ret)
		ret = mt_vtrim(b, &b->kv128, sizeof(struct mt_kv128));
	if (!ret)
		ret = mt_vtrim(b, &b->dn32, sizeof(struct mt_dn32));
	if (!ret)
		ret = mt_vtrim(b, &b->dn128, sizeof(struct mt_dn128));
	if (!ret)
		ret = mt_vtrim(b, &b->dent, sizeof(u32));
	if (!ret)
		ret = mt_vtrim(b, &b->pn, sizeof(u32));
	if (ret)
		return ret;
	t->size = mt_vbytes(&b->nodes, sizeof(struct mt_node)) +
		  mt_vbytes(&b->smaps, sizeof(struct mt_smap)) +
		  mt_vbytes(&b->kv32, sizeof(struct mt_kv32)) +
		  mt_vbytes(&b->kv128, sizeof(struct mt_kv128)) +
		  mt_vbytes(&b->dn32, sizeof(struct mt_dn32)) +
		  mt_vbytes(&b->dn128, sizeof(struct mt_dn128)) +
		  mt_vbytes(&b->dent, sizeof(u32)) +
		  mt_vbytes(&b->pn, sizeof(u32));
	if (t->size > MT_MAX_BYTES) {
		b->err = "compiled table too large";
		return -E2BIG;
	}
	t->nodes = b->nodes.p;
	t->smaps = b->smaps.p;
	t->kv32 = b->kv32.p;
	t->kv128 = b->kv128.p;
	t->dn32 = b->dn32.p;
	t->dn128 = b->dn128.p;
	t->dent = b->dent.p;
	t->pn = b->pn.p;
	t->src4 = b->gmap[0];
	t->src6 = b->gmap[1];
	t->psh4 = b->psh[0];
	t->psh6 = b->psh[1];
	b->pn.p = NULL;
	b->nodes.p = NULL;
	b->smaps.p = NULL;
	b->kv32.p = NULL;
	b->kv128.p = NULL;
	b->dn32.p = NULL;
	b->dn128.p = NULL;
	b->dent.p = NULL;
	return 0;
}

static void mt_build_free(struct mt_build *b)
{
	mt_bfree(b, b->stamp);
	mt_bfree(b, b->dst);
	mt_bfree(b, b->bn);
	mt_bfree(b, b->inner);
	mt_bfree(b, b->order);
	mt_bfree(b, b->ent);
	mt_bfree(b, b->hpe);
	mt_bfree(b, b->hpu);
	mt_bfree(b, b->hpr);
	mt_bfree(b, b->tmp);
	mt_bfree(b, b->oseg.p);
	mt_bfree(b, b->olst.p);
	mt_bfree(b, b->cat.p);
	mt_bfree(b, b->lst.p);
	mt_bfree(b, b->ht);
	mt_bfree(b, b->lcell);
	mt_bfree(b, b->nodes.p);
	mt_bfree(b, b->smaps.p);
	mt_bfree(b, b->kv32.p);
	mt_bfree(b, b->kv128.p);
	mt_bfree(b, b->dn32.p);
	mt_bfree(b, b->dn128.p);
	mt_bfree(b, b->dent.p);
	mt_bfree(b, b->pn.p);
	mt_bfree(b, b->sb[0]);
	mt_bfree(b, b->sb[1]);
	mt_bfree(b, b->lpm);
	mt_bfree(b, b->pend.p);
	mt_bfree(b, b->dwork.p);
	mt_bfree(b, b->sit.p);
	mt_bfree(b, b->stk);
	mt_bfree(b, b->iv[0]);
	mt_bfree(b, b->iv[1]);
}

static int mt_do_compile(struct mt_build *b, struct mt_table *t)
{
	u64 nent, nsrc;
	u32 maxsrc, i, k, f, f0, f1;
	size_t g;
	int ret;

	if (b->n > MT_MAX_RULES) {
		b->err = "too many rules";
		return -E2BIG;
	}
	if (b->n && !b->rules) {
		b->err = "rules array is NULL";
		return -EINVAL;
	}
	ret = mt_validate(b, &nent, &maxsrc, &nsrc);
	if (ret)
		return ret;

	b->stamp = mt_balloc(b, ((size_t)b->n + 1) * sizeof(*b->stamp));
	if (!b->stamp)
		return -ENOMEM;
	memset(b->stamp, 0, ((size_t)b->n + 1) * sizeof(*b->stamp));

	ret = mt_make_nodes(b);
	if (ret)
		return ret;
	for (f = 0; f < 2; f++) {
		f0 = f ? b->nnode4 : 0;
		f1 = f ? b->nnode : b->nnode4;
		b->iv[f] = mt_balloc(b, (2 * (size_t)(f1 - f0) + 1) *
				    sizeof(*b->iv[f]));
		if (!b->iv[f])
			return -ENOMEM;
		b->niv[f] = mt_sweep(b, f0, f1, b->iv[f]);
	}
	b->inner = mt_balloc(b, (size_t)b->nnode + 1);
	b->order = mt_balloc(b, ((size_t)b->nnode + 1) * sizeof(*b->order));
	if (!b->inner || !b->order)
		return -ENOMEM;
	memset(b->inner, 0, (size_t)b->nnode + 1);
	for (i = 0; i < b->nnode; i++) {
		k = b->bn[i].parent;
		if (k != MT_NONE && b->inner[k] < 255)
			b->inner[k]++;
	}

	g = b->maxg;
	b->ent = mt_balloc(b, g * sizeof(*b->ent));
	b->hpe = mt_balloc(b, g * sizeof(u32));
	b->hpu = mt_balloc(b, g * sizeof(u32));
	b->hpr = mt_balloc(b, g * sizeof(u32));
	b->tmp = mt_balloc(b, g * sizeof(u32));
	if (!b->ent || !b->hpe || !b->hpu || !b->hpr || !b->tmp)
		return -ENOMEM;
	/* sized for the common case: a few intervals per node and protocol */
	ret = mt_vgrow(b, &b->nodes, b->nnode + 1, sizeof(struct mt_node));
	if (!ret)
		ret = mt_vgrow(b, &b->kv32, 6 * b->nnode + 2 * b->niv[0] + 1,
			       sizeof(struct mt_kv32));
	if (!ret)
		ret = mt_vgrow(b, &b->lst, 3 * b->n + 4, sizeof(u32));
	if (ret)
		return ret;
	b->nodes.n = b->nnode;
	b->lst.n = 1;		/* offset 0 is not a list */
	ret = mt_intern(b, NULL, 0, MT_END, &b->lend);
	if (!ret)
		ret = mt_build_nodes(b);
	if (!ret)
		ret = mt_make_cells(b);
	if (!ret)
		ret = mt_dst_map(b, 0, &t->dst4);
	if (!ret)
		ret = mt_dst_map(b, 1, &t->dst6);
	if (ret)
		return ret;
	return mt_pack(b, t);
}

int mt_compile(const struct mt_rule *rules, u32 n, struct mt_table **out,
	       const char **err)
{
	return mt_compile_limit(rules, n, SIZE_MAX, out, err);
}

int mt_compile_limit(const struct mt_rule *rules, u32 n, size_t limit,
		     struct mt_table **out, const char **err)
{
	struct mt_build *b;
	struct mt_table *t;
	int ret;

	*out = NULL;
	b = mt_alloc(sizeof(*b));
	t = mt_alloc(sizeof(*t));
	if (!b || !t) {
		mt_free(b);
		mt_free(t);
		if (err)
			*err = "out of memory";
		return -ENOMEM;
	}
	memset(b, 0, sizeof(*b));
	memset(t, 0, sizeof(*t));
	b->rules = rules;
	b->n = n;
	b->limit = limit;

	ret = mt_do_compile(b, t);
	mt_build_free(b);
	if (ret && b->over)
		ret = -E2BIG;
	if (ret) {
		if (err)
			*err = b->err ? b->err : ret == -ENOMEM ?
			       "out of memory" : "compile failed";
		mt_free(b);
		mt_destroy(t);
		return ret;
	}
	mt_free(b);
	*out = t;
	return 0;
}
