// SPDX-License-Identifier: GPL-2.0
/*
 * Intercept matcher: compiles rules into an immutable lookup structure.
 * The algorithm, its costs and its limits are described in
 * Documentation/matcher.md.
 *
 * Addresses are handled as 128-bit numbers (hi, lo). An IPv4 address a is
 * stored as hi = a << 32, lo = 0, so that a prefix of length len covers the
 * same top len bits in both families and one set of helpers serves both.
 */
#include "matcher.h"

#define MT_NONE		0xffffffffU
#define MT_MAX_RULES	(1U << 24)
#define MT_MAX_ENTRIES	(1U << 22)	/* rule x destination x port range */
#define MT_MAX_WORK	(1ULL << 25)	/* list slots produced before dedupe */
#define MT_MAX_BYTES	((size_t)1 << 28)	/* one compiled table */
#define MT_DIR_MIN_BITS	4
#define MT_DIR_MAX_BITS	18
#define MT_NPORTS	65536U

struct mt_addr {
	u64 hi, lo;
};

/* Elementary interval: first address and innermost prefix node (or MT_NONE). */
struct mt_iv4 {
	u32 start;
	u32 node;
};

struct mt_iv {
	struct mt_addr start;
	u32 node;
};

/* Per-family sorted elementary address intervals and their directory. */
struct mt_fam {
	u32 shift;		/* directory index: address top bits >> shift */
	u32 nint;		/* intervals */
	const u32 *dir;		/* (1 << bits) + 1 interval indices */
	const struct mt_iv4 *iv4;	/* IPv4 intervals */
	const struct mt_iv *iv6;	/* IPv6 intervals */
};

/* A distinct destination prefix. */
struct mt_node {
	u32 parent;		/* next shorter covering prefix, or MT_NONE */
	u32 seg;		/* first port segment */
	u32 nseg;		/* >= 1: the segments cover ports 0..65535 */
};

struct mt_seg {
	u32 start;		/* first port */
	u32 list;		/* candidate list: index into cands */
};

struct mt_cand {
	u32 rule;		/* index into the rules given to mt_compile */
	u32 info;		/* protos | source set << 2; 0 ends a list */
};

struct mt_srcset {
	u32 off4, n4;		/* into src4 */
	u32 off6, n6;		/* into src6 */
};

struct mt_range4 {
	u32 start, end;
};

struct mt_range6 {
	struct mt_addr start, end;
};

struct mt_table {
	struct mt_fam f4, f6;
	const struct mt_node *nodes;
	const struct mt_seg *segs;
	const struct mt_cand *cands;	/* cands[0] is the empty list */
	const struct mt_srcset *srcsets;	/* source set s is srcsets[s - 1] */
	const struct mt_range4 *src4;
	const struct mt_range6 *src6;
	size_t size;
	void *blob;
};

/* ------------------------------------------------------------------ */
/* Lookup                                                              */
/* ------------------------------------------------------------------ */

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

/* (ah, al) <= a */
static inline bool mt_ge(const struct mt_addr *a, u64 ah, u64 al)
{
	return a->hi > ah || (a->hi == ah && a->lo >= al);
}

static bool mt_src_ok6(const struct mt_range6 *r, u32 n, u64 ah, u64 al)
{
	u32 lo, hi, mid;

	if (!n || !mt_le(&r[0].start, ah, al))
		return false;
	lo = 0;
	hi = n - 1;
	while (lo < hi) {
		mid = (lo + hi + 1) >> 1;
		if (mt_le(&r[mid].start, ah, al))
			lo = mid;
		else
			hi = mid - 1;
	}
	return mt_ge(&r[lo].end, ah, al);
}

static bool mt_src_ok(const struct mt_table *t, u32 set,
		      const struct mt_key *k)
{
	const struct mt_srcset *s = &t->srcsets[set - 1];
	u32 lo, hi, mid;

	if (k->family == 4) {
		const struct mt_range4 *r = t->src4 + s->off4;
		u32 a = mt_be32(k->saddr);

		if (!s->n4 || a < r[0].start)
			return false;
		lo = 0;
		hi = s->n4 - 1;
		while (lo < hi) {
			mid = (lo + hi + 1) >> 1;
			if (r[mid].start <= a)
				lo = mid;
			else
				hi = mid - 1;
		}
		return a <= r[lo].end;
	}
	return mt_src_ok6(t->src6 + s->off6, s->n6, mt_be64(k->saddr),
			  mt_be64(k->saddr + 8));
}

static inline u32 mt_find4(const struct mt_fam *f, u32 a)
{
	u32 b = a >> f->shift;
	u32 lo = f->dir[b], hi = f->dir[b + 1], mid;

	while (lo < hi) {
		mid = (lo + hi + 1) >> 1;
		if (f->iv4[mid].start <= a)
			lo = mid;
		else
			hi = mid - 1;
	}
	return f->iv4[lo].node;
}

static inline u32 mt_find6(const struct mt_fam *f, u64 ah, u64 al)
{
	u32 b = ah >> (32 + f->shift);
	u32 lo = f->dir[b], hi = f->dir[b + 1], mid;

	while (lo < hi) {
		mid = (lo + hi + 1) >> 1;
		if (mt_le(&f->iv6[mid].start, ah, al))
			lo = mid;
		else
			hi = mid - 1;
	}
	return f->iv6[lo].node;
}

s32 mt_lookup(const struct mt_table *t, const struct mt_key *k)
{
	const struct mt_node *n;
	const struct mt_seg *sg;
	const struct mt_cand *c;
	u32 node, lo, hi, mid, port = k->dport, proto = k->proto;

	if (k->family == 4)
		node = mt_find4(&t->f4, mt_be32(k->daddr));
	else if (k->family == 6)
		node = mt_find6(&t->f6, mt_be64(k->daddr),
				mt_be64(k->daddr + 8));
	else
		return -1;

	while (node != MT_NONE) {
		n = &t->nodes[node];
		sg = t->segs + n->seg;
		lo = 0;
		hi = n->nseg - 1;
		while (lo < hi) {
			mid = (lo + hi + 1) >> 1;
			if (sg[mid].start <= port)
				lo = mid;
			else
				hi = mid - 1;
		}
		for (c = t->cands + sg[lo].list; c->info; c++) {
			if (!(c->info & proto))
				continue;
			if (c->info >> 2 && !mt_src_ok(t, c->info >> 2, k))
				continue;
			return c->rule;
		}
		node = n->parent;
	}
	return -1;
}

size_t mt_memory(const struct mt_table *t)
{
	return t ? sizeof(*t) + t->size : 0;
}

void mt_destroy(struct mt_table *t)
{
	if (!t)
		return;
	mt_free(t->blob);
	mt_free(t->nodes);
	mt_free(t->segs);
	mt_free(t->cands);
	mt_free(t);
}

/* ------------------------------------------------------------------ */
/* Compilation                                                         */
/* ------------------------------------------------------------------ */

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
};

/* A (rule, port range) entry covering the port being swept. */
struct mt_act {
	u64 key;
	u32 rule;
	u32 hi;
};

/* Compile-time view of a prefix node. */
struct mt_bnode {
	struct mt_addr start, end;
	u32 parent;
	u32 dst;		/* first of its entries in the sorted dst[] */
	u32 ndst;
};

/* Source prefix of one rule being normalised. */
struct mt_sitem {
	struct mt_addr start, end;
	u32 fam;
};

struct mt_hslot {
	u32 list;		/* 0: free */
	u32 hash;
};

struct mt_build {
	const struct mt_rule *rules;
	u32 n;
	const char *err;
	u32 *rinfo;		/* per rule: candidate info */
	u32 *stamp;		/* per rule: last list it went into */
	u32 gen;
	u64 work;

	struct mt_dst *dst;
	u32 ndst;
	struct mt_bnode *bn;
	u32 nnode, nnode4;
	struct mt_node *nodes;

	struct mt_ent *ent;	/* scratch: entries of one node */
	struct mt_act *act;	/* scratch: active entries, best first */
	struct mt_cand *tmp;	/* scratch: one list */
	u32 maxg;

	struct mt_seg *segs;
	u32 nseg, segcap;
	struct mt_cand *cands;
	u32 ncand, candcap;
	struct mt_hslot *ht;
	u32 htn, htcap;

	struct mt_iv *iv[2];
	u32 niv[2];

	struct mt_srcset *srcsets;
	u32 nsets;
	struct mt_range4 *src4;
	u32 nsrc4;
	struct mt_range6 *src6;
	u32 nsrc6;
};

static void mt_addr_of(const struct mt_prefix *p, struct mt_addr *a)
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
static void mt_hostmask(u32 len, struct mt_addr *m)
{
	m->hi = len >= 64 ? 0 : ~0ULL >> len;
	m->lo = len <= 64 ? ~0ULL : len >= 128 ? 0 : ~0ULL >> (len - 64);
}

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

/*
 * Bottom-up merge sorts: no recursion, no indirect calls (the kernel's sort()
 * is a heapsort calling its comparison through a pointer, several times
 * slower on large arrays). @tmp has room for @n elements.
 */
static void mt_msort_u32(u32 *a, u32 *tmp, u32 n)
{
	u32 *src = a, *dst = tmp, *t;
	u32 i, x, y, k, m, r;
	u64 w;

	for (w = 1; w < n; w *= 2) {
		for (i = 0; i < n; i = r) {
			m = i + w < n ? i + w : n;
			r = i + 2 * w < n ? i + 2 * w : n;
			for (x = i, y = m, k = i; x < m && y < r;)
				dst[k++] = src[y] < src[x] ? src[y++] : src[x++];
			while (x < m)
				dst[k++] = src[x++];
			while (y < r)
				dst[k++] = src[y++];
		}
		t = src;
		src = dst;
		dst = t;
		mt_resched();
	}
	if (src != a)
		memcpy(a, src, (size_t)n * sizeof(*a));
}

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
	ids = mt_alloc((size_t)b->n * 2 * sizeof(*ids));
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
	mt_free(ids);
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

static void mt_msort_dst(struct mt_dst *a, struct mt_dst *tmp, u32 n)
{
	struct mt_dst *src = a, *dst = tmp, *t;
	u32 i, x, y, k, m, r;
	u64 w;

	for (w = 1; w < n; w *= 2) {
		for (i = 0; i < n; i = r) {
			m = i + w < n ? i + w : n;
			r = i + 2 * w < n ? i + 2 * w : n;
			for (x = i, y = m, k = i; x < m && y < r;)
				dst[k++] = mt_cmp_dst(&src[y], &src[x]) < 0 ?
					   src[y++] : src[x++];
			while (x < m)
				dst[k++] = src[x++];
			while (y < r)
				dst[k++] = src[y++];
		}
		t = src;
		src = dst;
		dst = t;
		mt_resched();
	}
	if (src != a)
		memcpy(a, src, (size_t)n * sizeof(*a));
}

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

static int mt_rsort_dst4(struct mt_dst *a, struct mt_dst *tmp, u32 n)
{
	struct mt_dst *src = a, *dst = tmp, *t;
	u32 *cnt, pass, i, c, sum;

	cnt = mt_alloc(MT_RADIX * sizeof(*cnt));
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
	mt_free(cnt);
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

	b->dst = mt_alloc((size_t)b->ndst * sizeof(*b->dst));
	tmp = mt_alloc((size_t)b->ndst * sizeof(*tmp));
	if (!b->dst || !tmp) {
		mt_free(tmp);
		return -ENOMEM;
	}
	/* IPv4 first (family 4 < 6), each in rule order. */
	k = 0;
	mt_fill_dst(b, 4, &k);
	n4 = k;
	mt_fill_dst(b, 6, &k);
	if (n4 >= 1024) {
		if (mt_rsort_dst4(b->dst, tmp, n4)) {
			mt_free(tmp);
			return -ENOMEM;
		}
	} else {
		mt_msort_dst(b->dst, tmp, n4);
	}
	mt_msort_dst(b->dst + n4, tmp, k - n4);
	mt_free(tmp);

	b->nnode = 0;
	for (i = 0; i < b->ndst; i++) {
		if (!i || b->dst[i].fam != b->dst[i - 1].fam ||
		    b->dst[i].len != b->dst[i - 1].len ||
		    mt_cmp_addr(&b->dst[i].a, &b->dst[i - 1].a))
			b->nnode++;
	}
	b->bn = mt_alloc((size_t)b->nnode * sizeof(*b->bn));
	b->nodes = mt_alloc((size_t)b->nnode * sizeof(*b->nodes));
	if (!b->bn || !b->nodes)
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

static void *mt_regrow(void *old, size_t used, size_t size)
{
	void *p = mt_alloc(size);

	if (p && used)
		memcpy(p, old, used);
	if (p)
		mt_free(old);
	return p;
}

static u32 mt_hash_list(const struct mt_cand *c, u32 n)
{
	u32 h = 0x811c9dc5 ^ n, i;

	for (i = 0; i < n; i++) {
		h = (h ^ c[i].rule) * 0x01000193;
		h ^= h >> 15;
	}
	return h | 1;
}

static bool mt_same_list(const struct mt_build *b, u32 off, u32 n)
{
	const struct mt_cand *c = b->cands + off;
	u32 i;

	for (i = 0; i < n; i++)
		if (!c[i].info || c[i].rule != b->tmp[i].rule)
			return false;
	return !c[n].info;
}

/* Grows the list hash table to at least @min slots (at least doubling it). */
static int mt_ht_grow(struct mt_build *b, u32 min)
{
	struct mt_hslot *old = b->ht, *nh;
	u32 ocap = b->htcap, ncap = ocap ? ocap * 2 : 1024, i, h;

	while (ncap < min && ncap < (1U << 30))
		ncap *= 2;
	if ((size_t)ncap * sizeof(*nh) > MT_MAX_BYTES / 2) {
		b->err = "compiled table too large (candidate lists)";
		return -E2BIG;
	}
	nh = mt_alloc((size_t)ncap * sizeof(*nh));
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
	mt_free(old);
	b->ht = nh;
	b->htcap = ncap;
	return 0;
}

/* Store b->tmp[0..n) as a candidate list (or find an identical one). */
static int mt_store_list(struct mt_build *b, u32 n, u32 *list)
{
	u32 h, i, need;
	void *p;
	int ret;

	if (!n) {
		*list = 0;
		return 0;
	}
	if (2 * (b->htn + 1) > b->htcap) {
		ret = mt_ht_grow(b, 0);
		if (ret)
			return ret;
	}
	h = mt_hash_list(b->tmp, n);
	for (i = h & (b->htcap - 1); b->ht[i].list; i = (i + 1) & (b->htcap - 1)) {
		if (b->ht[i].hash == h && mt_same_list(b, b->ht[i].list, n)) {
			*list = b->ht[i].list;
			return 0;
		}
	}
	need = b->ncand + n + 1;
	if ((size_t)need * sizeof(struct mt_cand) > MT_MAX_BYTES / 2) {
		b->err = "compiled table too large (candidate lists)";
		return -E2BIG;
	}
	if (need > b->candcap) {
		u32 cap = b->candcap;

		while (cap < need)
			cap *= 2;
		p = mt_regrow(b->cands, (size_t)b->ncand * sizeof(*b->cands),
			      (size_t)cap * sizeof(*b->cands));
		if (!p)
			return -ENOMEM;
		b->cands = p;
		b->candcap = cap;
	}
	*list = b->ncand;
	memcpy(b->cands + b->ncand, b->tmp, n * sizeof(*b->tmp));
	b->cands[b->ncand + n].rule = 0;
	b->cands[b->ncand + n].info = 0;
	b->ncand = need;
	b->ht[i].list = *list;
	b->ht[i].hash = h;
	b->htn++;
	return 0;
}

static int mt_add_seg(struct mt_build *b, u32 start, u32 list)
{
	void *p;

	if (b->nseg == b->segcap) {
		if ((size_t)b->segcap * 2 * sizeof(*b->segs) > MT_MAX_BYTES / 4) {
			b->err = "compiled table too large (port segments)";
			return -E2BIG;
		}
		p = mt_regrow(b->segs, (size_t)b->nseg * sizeof(*b->segs),
			      (size_t)b->segcap * 2 * sizeof(*b->segs));
		if (!p)
			return -ENOMEM;
		b->segs = p;
		b->segcap *= 2;
	}
	b->segs[b->nseg].start = start;
	b->segs[b->nseg].list = list;
	b->nseg++;
	return 0;
}

static int mt_cmp_ent(const void *pa, const void *pb)
{
	const struct mt_ent *a = pa, *b = pb;

	return a->lo < b->lo ? -1 : a->lo > b->lo;
}

static int mt_cmp_act(const void *pa, const void *pb)
{
	const struct mt_act *a = pa, *b = pb;

	return a->key < b->key ? -1 : a->key > b->key;
}

/* Insert @e into @act[0..na), kept sorted by key. */
static void mt_act_insert(struct mt_act *act, u32 na, const struct mt_ent *e)
{
	u32 lo = 0, hi = na, mid;

	while (lo < hi) {
		mid = (lo + hi) >> 1;
		if (act[mid].key < e->key)
			lo = mid + 1;
		else
			hi = mid;
	}
	memmove(act + lo + 1, act + lo, (na - lo) * sizeof(*act));
	act[lo].key = e->key;
	act[lo].rule = e->rule;
	act[lo].hi = e->hi;
}

/*
 * Port segments of one prefix node: sweep the node's (rule, range) entries
 * sorted by low port, keeping the set of ranges covering the current port
 * sorted by (width, id); every boundary starts a segment whose candidate
 * list is that set with each rule kept once (at its narrowest range).
 * The work is bounded by the total length of the lists produced, which is
 * capped by MT_MAX_WORK.
 */
static int mt_build_node(struct mt_build *b, u32 node)
{
	const struct mt_bnode *bn = &b->bn[node];
	struct mt_ent *e = b->ent;
	struct mt_act *act = b->act;
	const struct mt_rule *r;
	u32 m = 0, i, j, na = 0, pos = 0, p = 0, next, c, list, prev = MT_NONE;
	u32 rule;
	int ret;

	for (i = 0; i < bn->ndst; i++) {
		rule = b->dst[bn->dst + i].rule;
		r = &b->rules[rule];
		for (j = 0; j < r->n_ports; j++) {
			e[m].lo = r->ports[j].lo;
			e[m].hi = r->ports[j].hi;
			e[m].key = (u64)(e[m].hi - e[m].lo) << 32 | r->id;
			e[m].rule = rule;
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

	b->nodes[node].parent = bn->parent;
	b->nodes[node].seg = b->nseg;
	for (;;) {
		for (i = 0, j = 0; i < na; i++)
			if (act[i].hi >= p)
				act[j++] = act[i];
		na = j;
		for (j = pos; j < m && e[j].lo <= p; j++)
			;
		if (j - pos > 8) {
			/* Many ranges start here: append and sort. */
			for (; pos < j; pos++, na++) {
				act[na].key = e[pos].key;
				act[na].rule = e[pos].rule;
				act[na].hi = e[pos].hi;
			}
			mt_sort(act, na, sizeof(*act), mt_cmp_act);
		}
		for (; pos < j; pos++, na++)
			mt_act_insert(act, na, &e[pos]);
		next = pos < m ? e[pos].lo : MT_NPORTS;
		b->gen++;
		for (i = 0, c = 0; i < na; i++) {
			if (act[i].hi + 1 < next)
				next = act[i].hi + 1;
			rule = act[i].rule;
			if (b->stamp[rule] == b->gen)
				continue;
			b->stamp[rule] = b->gen;
			b->tmp[c].rule = rule;
			b->tmp[c].info = b->rinfo[rule];
			c++;
		}
		b->work += na + 1;
		if (b->work > MT_MAX_WORK) {
			b->err = "rules overlap too much: candidate lists too large";
			return -E2BIG;
		}
		ret = mt_store_list(b, c, &list);
		if (ret)
			return ret;
		if (list != prev) {
			ret = mt_add_seg(b, p, list);
			if (ret)
				return ret;
			prev = list;
		}
		if (next >= MT_NPORTS)
			break;
		p = next;
	}
	b->nodes[node].nseg = b->nseg - b->nodes[node].seg;
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
static u32 mt_sweep(struct mt_build *b, u32 f0, u32 f1, struct mt_iv *iv)
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

static u32 mt_dir_bits(u32 nint)
{
	u32 bits = 1;

	while (bits < 32 && (1U << bits) <= nint)
		bits++;
	bits++;
	if (bits < MT_DIR_MIN_BITS)
		bits = MT_DIR_MIN_BITS;
	if (bits > MT_DIR_MAX_BITS)
		bits = MT_DIR_MAX_BITS;
	return bits;
}

static int mt_cmp_sitem(const void *pa, const void *pb)
{
	const struct mt_sitem *a = pa, *b = pb;

	if (a->fam != b->fam)
		return a->fam < b->fam ? -1 : 1;
	return mt_cmp_addr(&a->start, &b->start);
}

/* Source prefixes of every rule as sorted, disjoint ranges per family. */
static int mt_make_srcsets(struct mt_build *b, u32 maxsrc, u64 nsrc)
{
	const struct mt_rule *r;
	struct mt_sitem *it, *cur;
	struct mt_addr m;
	u32 i, j, k, s = 0;

	b->srcsets = mt_alloc((size_t)b->nsets * sizeof(*b->srcsets));
	b->src4 = mt_alloc((size_t)nsrc * sizeof(*b->src4));
	b->src6 = mt_alloc((size_t)nsrc * sizeof(*b->src6));
	it = mt_alloc((size_t)maxsrc * sizeof(*it));
	if (!b->srcsets || !b->src4 || !b->src6 || !it) {
		mt_free(it);
		return -ENOMEM;
	}
	for (i = 0; i < b->n; i++) {
		r = &b->rules[i];
		if (!r->n_src || !r->n_ports)
			continue;
		for (j = 0; j < r->n_src; j++) {
			mt_addr_of(&r->src[j], &it[j].start);
			mt_hostmask(r->src[j].len, &m);
			it[j].end.hi = it[j].start.hi | m.hi;
			it[j].end.lo = it[j].start.lo | m.lo;
			it[j].fam = r->src[j].family;
		}
		mt_sort(it, r->n_src, sizeof(*it), mt_cmp_sitem);
		/* Merge overlapping (i.e. nested or equal) prefixes. */
		for (j = 0, k = 0; j < r->n_src; j++) {
			cur = &it[k];
			if (j && it[j].fam == cur->fam &&
			    mt_cmp_addr(&it[j].start, &cur->end) <= 0) {
				if (mt_cmp_addr(&it[j].end, &cur->end) > 0)
					cur->end = it[j].end;
				continue;
			}
			if (j)
				k++;
			it[k] = it[j];
		}
		b->srcsets[s].off4 = b->nsrc4;
		b->srcsets[s].off6 = b->nsrc6;
		for (j = 0; j <= k; j++) {
			if (it[j].fam == 4) {
				b->src4[b->nsrc4].start = it[j].start.hi >> 32;
				b->src4[b->nsrc4].end = it[j].end.hi >> 32;
				b->nsrc4++;
			} else {
				b->src6[b->nsrc6].start = it[j].start;
				b->src6[b->nsrc6].end = it[j].end;
				b->nsrc6++;
			}
		}
		b->srcsets[s].n4 = b->nsrc4 - b->srcsets[s].off4;
		b->srcsets[s].n6 = b->nsrc6 - b->srcsets[s].off6;
		s++;
	}
	mt_free(it);
	return 0;
}

static size_t mt_align(size_t x)
{
	return (x + 15) & ~(size_t)15;
}

static void mt_fill_dir(u32 *dir, u32 bits, const struct mt_iv *iv, u32 nint)
{
	u32 k, i = 0, nb = 1U << bits;
	u64 bh;

	for (k = 0; k < nb; k++) {
		bh = (u64)k << (64 - bits);
		while (i + 1 < nint && (iv[i + 1].start.hi < bh ||
					(iv[i + 1].start.hi == bh &&
					 !iv[i + 1].start.lo)))
			i++;
		dir[k] = i;
	}
	dir[nb] = nint - 1;
}

/*
 * Lay the final table out: the directories, intervals and source sets in one
 * allocation; the nodes, port segments and candidate lists, the bulk of a
 * large table, stay where they were built (copying them cost one more
 * allocation of their size, zeroed with init_on_alloc, and a copy).
 */
static int mt_pack(struct mt_build *b, struct mt_table *t)
{
	size_t off[7], sz = 0, bulk;
	struct mt_iv4 *iv4;
	u32 bits[2], f, i;
	u8 *p;

	for (f = 0; f < 2; f++)
		bits[f] = mt_dir_bits(b->niv[f]);

	off[0] = sz;	/* dir4 */
	sz = mt_align(sz + (((size_t)1 << bits[0]) + 1) * sizeof(u32));
	off[1] = sz;	/* iv4 */
	sz = mt_align(sz + (size_t)b->niv[0] * sizeof(struct mt_iv4));
	off[2] = sz;	/* dir6 */
	sz = mt_align(sz + (((size_t)1 << bits[1]) + 1) * sizeof(u32));
	off[3] = sz;	/* iv6 */
	sz = mt_align(sz + (size_t)b->niv[1] * sizeof(struct mt_iv));
	off[4] = sz;	/* srcsets */
	sz = mt_align(sz + (size_t)b->nsets * sizeof(struct mt_srcset));
	off[5] = sz;	/* src4 */
	sz = mt_align(sz + (size_t)b->nsrc4 * sizeof(struct mt_range4));
	off[6] = sz;	/* src6 */
	sz = mt_align(sz + (size_t)b->nsrc6 * sizeof(struct mt_range6));
	bulk = (size_t)b->nnode * sizeof(struct mt_node) +
	       (size_t)b->segcap * sizeof(struct mt_seg) +
	       (size_t)b->candcap * sizeof(struct mt_cand);
	if (sz + bulk > MT_MAX_BYTES) {
		b->err = "compiled table too large";
		return -E2BIG;
	}

	p = mt_alloc(sz);
	if (!p)
		return -ENOMEM;
	t->blob = p;
	t->size = sz + bulk;

	for (f = 0; f < 2; f++) {
		struct mt_fam *fm = f ? &t->f6 : &t->f4;
		u32 *dir = (u32 *)(p + off[f * 2]);

		fm->nint = b->niv[f];
		fm->shift = 32 - bits[f];
		fm->dir = dir;
		mt_fill_dir(dir, bits[f], b->iv[f], b->niv[f]);
	}
	iv4 = (struct mt_iv4 *)(p + off[1]);
	for (i = 0; i < b->niv[0]; i++) {
		iv4[i].start = b->iv[0][i].start.hi >> 32;
		iv4[i].node = b->iv[0][i].node;
	}
	t->f4.iv4 = iv4;
	memcpy(p + off[3], b->iv[1], (size_t)b->niv[1] * sizeof(struct mt_iv));
	t->f6.iv6 = (const struct mt_iv *)(p + off[3]);
	memcpy(p + off[4], b->srcsets,
	       (size_t)b->nsets * sizeof(struct mt_srcset));
	memcpy(p + off[5], b->src4, (size_t)b->nsrc4 * sizeof(struct mt_range4));
	memcpy(p + off[6], b->src6, (size_t)b->nsrc6 * sizeof(struct mt_range6));
	t->srcsets = (const struct mt_srcset *)(p + off[4]);
	t->src4 = (const struct mt_range4 *)(p + off[5]);
	t->src6 = (const struct mt_range6 *)(p + off[6]);
	/* The table owns these now. */
	t->nodes = b->nodes;
	t->segs = b->segs;
	t->cands = b->cands;
	b->nodes = NULL;
	b->segs = NULL;
	b->cands = NULL;
	return 0;
}

static void mt_build_free(struct mt_build *b)
{
	mt_free(b->rinfo);
	mt_free(b->stamp);
	mt_free(b->dst);
	mt_free(b->bn);
	mt_free(b->nodes);
	mt_free(b->ent);
	mt_free(b->act);
	mt_free(b->tmp);
	mt_free(b->segs);
	mt_free(b->cands);
	mt_free(b->ht);
	mt_free(b->iv[0]);
	mt_free(b->iv[1]);
	mt_free(b->srcsets);
	mt_free(b->src4);
	mt_free(b->src6);
}

/* @want elements of @size bytes, at least 1024, or 1024 above @limit bytes. */
static u32 mt_presize(size_t want, size_t size, size_t limit)
{
	if (want < 1024 || want * size > limit)
		return 1024;
	return (u32)want;
}

static int mt_do_compile(struct mt_build *b, struct mt_table *t)
{
	u64 nent, nsrc;
	u32 maxsrc, i, f, f0, f1;
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

	b->rinfo = mt_alloc((size_t)b->n * sizeof(*b->rinfo));
	b->stamp = mt_alloc((size_t)b->n * sizeof(*b->stamp));
	if (!b->rinfo || !b->stamp)
		return -ENOMEM;
	b->nsets = 0;
	for (i = 0; i < b->n; i++) {
		b->rinfo[i] = b->rules[i].protos;
		b->stamp[i] = 0;
		if (b->rules[i].n_src && b->rules[i].n_ports)
			b->rinfo[i] |= ++b->nsets << 2;
	}
	ret = mt_make_srcsets(b, maxsrc, nsrc);
	if (ret)
		return ret;

	ret = mt_make_nodes(b);
	if (ret)
		return ret;

	/* Parents first: the port segments copy them into the nodes. */
	for (f = 0; f < 2; f++) {
		f0 = f ? b->nnode4 : 0;
		f1 = f ? b->nnode : b->nnode4;
		b->iv[f] = mt_alloc((2 * (size_t)(f1 - f0) + 1) *
				    sizeof(*b->iv[f]));
		if (!b->iv[f])
			return -ENOMEM;
		b->niv[f] = mt_sweep(b, f0, f1, b->iv[f]);
	}

	b->ent = mt_alloc((size_t)b->maxg * sizeof(*b->ent));
	b->act = mt_alloc((size_t)b->maxg * sizeof(*b->act));
	b->tmp = mt_alloc((size_t)b->maxg * sizeof(*b->tmp));
	/*
	 * Sized for the common case, a node with one port range: three
	 * segments (below, in and above the range) and one list of one rule
	 * (two slots with its end) per rule, with some room for overlaps.
	 * Growing by doubling allocated (and, with init_on_alloc, zeroed) and
	 * copied twice the final size; more is still grown.
	 */
	b->segcap = mt_presize(3 * (size_t)b->nnode + b->nnode / 2 + 1,
			       sizeof(*b->segs), MT_MAX_BYTES / 4);
	b->segs = mt_alloc((size_t)b->segcap * sizeof(*b->segs));
	b->candcap = mt_presize(2 * (size_t)b->n + b->n / 8 + 1,
				sizeof(*b->cands), MT_MAX_BYTES / 2);
	b->cands = mt_alloc((size_t)b->candcap * sizeof(*b->cands));
	if (!b->ent || !b->act || !b->tmp || !b->segs || !b->cands)
		return -ENOMEM;
	/* cands[0] is the shared empty list. */
	b->cands[0].rule = 0;
	b->cands[0].info = 0;
	b->ncand = 1;
	ret = mt_ht_grow(b, b->n < MT_MAX_RULES ? 2 * b->n + 2 : 0);
	if (ret)
		return ret;

	for (i = 0; i < b->nnode; i++) {
		ret = mt_build_node(b, i);
		if (ret)
			return ret;
		mt_resched();
	}
	return mt_pack(b, t);
}

int mt_compile(const struct mt_rule *rules, u32 n, struct mt_table **out,
	       const char **err)
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

	ret = mt_do_compile(b, t);
	mt_build_free(b);
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
