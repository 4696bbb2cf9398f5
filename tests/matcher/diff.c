// SPDX-License-Identifier: GPL-2.0
/*
 * Randomized differential test: random tables and packets, every lookup of
 * kmod/matcher.c compared with the naive reference matcher (ref.h).
 *
 *   diff [seeds [first-seed]]     default: 400 seeds from 1
 *
 * Prints "ok - ..." / "not ok - ..." lines and "# ..." diagnostics, exits 1
 * on any mismatch. A failing seed is reproduced with "diff 1 SEED".
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>

#include "kmod/matcher.h"
#include "ref.h"
#include "gen.h"
#include "shapes.h"

static void print_key(const struct mt_key *k)
{
	char s[64], d[64];
	int af = k->family == 4 ? AF_INET : AF_INET6;

	inet_ntop(af, k->saddr, s, sizeof(s));
	inet_ntop(af, k->daddr, d, sizeof(d));
	printf("#   key: %s %s -> %s port %u\n",
	       k->proto == MT_PROTO_TCP ? "tcp" : "udp", s, d, k->dport);
}

static void print_rule(const struct mt_rule *r, s32 idx)
{
	char a[64];
	u32 i;

	if (idx < 0) {
		printf("#   (no match)\n");
		return;
	}
	printf("#   rule[%d] id %u protos %u dst", idx, r->id, r->protos);
	for (i = 0; i < r->n_dst; i++) {
		inet_ntop(r->dst[i].family == 4 ? AF_INET : AF_INET6,
			  r->dst[i].addr, a, sizeof(a));
		printf(" %s/%u", a, r->dst[i].len);
	}
	printf(" ports");
	for (i = 0; i < r->n_ports; i++)
		printf(" %u-%u", r->ports[i].lo, r->ports[i].hi);
	printf(" src");
	for (i = 0; i < r->n_src; i++) {
		inet_ntop(r->src[i].family == 4 ? AF_INET : AF_INET6,
			  r->src[i].addr, a, sizeof(a));
		printf(" %s/%u", a, r->src[i].len);
	}
	printf("\n");
}

/* Returns the number of mismatches (at most one is reported in detail). */
static int run_seed(u64 seed, u32 n, u32 nlookups, u64 *hits, u64 *total)
{
	struct gsrc g = { .s = seed * 0x9e3779b97f4a7c15ULL + 1 };
	struct gtable t;
	struct mt_table *mt;
	const char *err = NULL;
	struct mt_key k;
	u8 sa[16], da[16];
	int bad = 0, ret;
	u32 i;
	s32 got, want;

	if (g_table(&g, &t, n)) {
		printf("# out of memory\n");
		return 1;
	}
	ret = mt_compile(t.r, t.n, &mt, &err);
	if (ret) {
		printf("# seed %llu: mt_compile(%u rules) = %d (%s)\n",
		       (unsigned long long)seed, n, ret, err);
		g_free(&t);
		return 1;
	}
	for (i = 0; i < nlookups; i++) {
		g_key(&g, &t, &k, sa, da);
		got = mt_lookup(mt, &k);
		want = ref_lookup(t.r, t.n, &k);
		(*total)++;
		if (want >= 0)
			(*hits)++;
		if (got == want)
			continue;
		if (!bad++) {
			printf("# seed %llu (%u rules), lookup %u: matcher %d, reference %d\n",
			       (unsigned long long)seed, n, i, got, want);
			print_key(&k);
			if (got >= 0 && got < (s32)n)
				print_rule(&t.r[got], got);
			print_rule(want >= 0 ? &t.r[want] : NULL, want);
		}
	}
	mt_destroy(mt);
	g_free(&t);
	return bad;
}

/*
 * Add 2^64 to the IPv6 address @a (its high half + 1): the same low half in
 * the next /64, past a 128-bit directory node whose starts span less than
 * 2^64 by a distance its 64-bit bucket arithmetic alone would not see.
 */
static void far_key(u8 *a)
{
	int i;

	for (i = 7; i >= 0 && !++a[i]; i--)
		;
}

/*
 * Adversarial shapes (shapes.h), mixed with random rules of gen.h so that
 * they overlap with ordinary intercepts: every lookup against the reference
 * (one in eight of the shape's IPv6 packets moved 2^64 up, destination or
 * source).
 */
static int run_shape(u64 seed, int kind, int v6, u32 n, u32 nrand,
		     u32 nlookups, u64 *hits, u64 *total)
{
	struct gsrc g = { .s = seed * 0x9e3779b97f4a7c15ULL + 3 };
	u64 s = seed;
	struct sh_table st;
	struct gtable gt;
	struct mt_rule *all;
	struct mt_table *mt;
	const char *err = NULL;
	struct mt_key k;
	u8 sa[16], da[16];
	u32 i;
	int bad = 0;
	s32 got, want;

	if (sh_table(&s, &st, kind, v6, n) || g_table(&g, &gt, nrand)) {
		printf("# out of memory\n");
		return 1;
	}
	all = calloc(n + nrand + 1, sizeof(*all));
	if (!all)
		return 1;
	memcpy(all, st.r, n * sizeof(*all));
	for (i = 0; i < nrand; i++) {
		all[n + i] = gt.r[i];
		all[n + i].id = 0x80000000U + i;	/* apart from the shape's */
	}
	if (mt_compile(all, n + nrand, &mt, &err)) {
		printf("# shape %s v%d n=%u +%u: mt_compile: %s\n", sh_names[kind],
		       v6 ? 6 : 4, n, nrand, err);
		bad = 1;
		goto out;
	}
	for (i = 0; i < nlookups; i++) {
		if (i & 3)
			sh_key(&s, &st, &k, sa, da);
		else
			g_key(&g, &gt, &k, sa, da);
		if ((i & 7) == 5 && k.family == 6)
			far_key(i & 8 ? sa : da);
		got = mt_lookup(mt, &k);
		want = ref_lookup(all, n + nrand, &k);
		(*total)++;
		*hits += want >= 0;
		if (got != want && !bad++) {
			printf("# shape %s v%d n=%u +%u seed %llu, lookup %u: matcher %d, reference %d\n",
			       sh_names[kind], v6 ? 6 : 4, n, nrand,
			       (unsigned long long)seed, i, got, want);
			print_key(&k);
			if (got >= 0)
				print_rule(&all[got], got);
			print_rule(want >= 0 ? &all[want] : NULL, want);
		}
	}
	mt_destroy(mt);
out:
	free(all);
	sh_free(&st);
	g_free(&gt);
	return bad;
}

int main(int argc, char **argv)
{
	u32 seeds = argc > 1 ? (u32)strtoul(argv[1], NULL, 0) : 400;
	u64 first = argc > 2 ? strtoull(argv[2], NULL, 0) : 1;
	u64 hits = 0, total = 0, s;
	int fail_small = 0, fail_big = 0;

	/* Many small tables: dense overlaps, every boundary exercised. */
	for (s = first; s < first + seeds; s++) {
		struct gsrc g = { .s = s };
		u32 n = g_below(&g, 5) ? g_below(&g, 64) : g_below(&g, 600);

		fail_small += run_seed(s, n, 4000, &hits, &total) != 0;
	}
	printf("# %u seeds, %llu lookups, %llu matched, %d seeds failed\n",
	       seeds, (unsigned long long)total, (unsigned long long)hits,
	       fail_small);
	printf("%s - small random tables, %u seeds\n",
	       fail_small ? "not ok" : "ok", seeds);
	if (!fail_small && hits * 10 < total)
		printf("# warning: fewer than 10%% of lookups matched\n");

	/* A few large tables. */
	hits = 0;
	total = 0;
	for (s = first; s < first + (seeds + 99) / 100; s++)
		fail_big += run_seed(s + 1000000, 20000, 3000, &hits, &total) != 0;
	printf("# large tables: %llu lookups, %llu matched\n",
	       (unsigned long long)total, (unsigned long long)hits);
	printf("%s - 20000-rule random tables\n",
	       fail_big ? "not ok" : "ok");

	/* Adversarial shapes, alone and mixed with random rules. */
	{
		static const u32 sz[] = { 1, 3, 50, 700, 3000 };
		u32 z, fail_shapes = 0, runs = 0;
		int kind, v6;

		hits = 0;
		total = 0;
		for (s = first; s < first + (seeds + 39) / 40; s++)
			for (kind = 0; kind < SH_N; kind++)
				for (v6 = 0; v6 < 2; v6++)
					for (z = 0; z < 5; z++, runs++)
						fail_shapes += run_shape(s, kind, v6, sz[z],
									 z & 1 ? 0 : 1 + (u32)(s % 60),
									 1500, &hits, &total) != 0;
		printf("# shapes: %u tables, %llu lookups, %llu matched\n", runs,
		       (unsigned long long)total, (unsigned long long)hits);
		printf("%s - adversarial shapes (tests/matcher/shapes.h), alone and mixed\n",
		       fail_shapes ? "not ok" : "ok");
		return fail_small || fail_big || fail_shapes;
	}
}
