// SPDX-License-Identifier: GPL-2.0
/*
 * Matcher benchmark: builds a random, realistic intercept table, times
 * mt_compile and runs lookups of random packets.
 *
 *   bench [-6] [-t shape] [-n rules] [-l lookups] [-m pct-directed] [-s seed]
 *         [-r reps]
 *
 * -t picks an adversarial table of tests/matcher/shapes.h (src, srcnest, nest,
 * ports, overlap, dense) instead of the random one; its packets are half hits,
 * half near misses (-m is ignored).
 *
 * Under `valgrind --tool=callgrind --instr-atstart=no --toggle-collect=mt_lookup`
 * only the lookups are instrumented and counted: total Ir / lookups is the
 * number of instructions per mt_lookup call (bench/matcher/run.sh does this).
 * Natively it also prints the compile wall time, the table size and the
 * lookup wall time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kmod/matcher.h"
#include "tests/matcher/shapes.h"

#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define HAVE_CALLGRIND 1
#endif
#endif
#ifndef HAVE_CALLGRIND
#define CALLGRIND_START_INSTRUMENTATION do { } while (0)
#define CALLGRIND_STOP_INSTRUMENTATION do { } while (0)
#define RUNNING_ON_VALGRIND 0
#endif

static u64 rng = 88172645463325252ULL;

static u32 rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (u32)((rng * 0x2545f4914f6cdd1dULL) >> 32);
}

static u32 below(u32 n)
{
	return (u32)(((u64)rnd() * n) >> 32);
}

/* Pick from a weight table {value, weight}. */
static u32 weighted(const u32 (*w)[2], u32 n)
{
	u32 total = 0, i, x;

	for (i = 0; i < n; i++)
		total += w[i][1];
	x = below(total);
	for (i = 0; i < n; i++) {
		if (x < w[i][1])
			return w[i][0];
		x -= w[i][1];
	}
	return w[n - 1][0];
}

static const u32 len4[][2] = {
	{ 8, 1 }, { 12, 1 }, { 16, 6 }, { 20, 6 }, { 22, 6 }, { 24, 30 },
	{ 26, 5 }, { 28, 5 }, { 29, 5 }, { 30, 5 }, { 32, 30 },
};

static const u32 len6[][2] = {
	{ 32, 5 }, { 48, 25 }, { 56, 15 }, { 64, 30 }, { 96, 5 }, { 128, 20 },
};

static const u16 wellknown[] = { 22, 25, 53, 80, 443, 3478, 5060, 5061, 8080 };

static void mask(struct mt_prefix *p)
{
	u32 bits = p->family == 4 ? 32 : 128, i;

	for (i = p->len; i < bits; i++)
		p->addr[i / 8] &= (u8)~(0x80 >> (i % 8));
}

static void rand_prefix(struct mt_prefix *p, int v6, u32 len)
{
	u32 i;

	memset(p, 0, sizeof(*p));
	p->family = v6 ? 6 : 4;
	p->len = (u8)len;
	for (i = 0; i < (v6 ? 16U : 4U); i++)
		p->addr[i] = (u8)rnd();
	if (v6)		/* global unicast, 2000::/3 */
		p->addr[0] = 0x20 | (p->addr[0] & 0x1f);
	mask(p);
}

static void rand_ports(struct mt_portrange *r)
{
	u32 x = below(100), lo, w;

	if (x < 40) {
		lo = wellknown[below(sizeof(wellknown) / sizeof(wellknown[0]))];
		w = 0;
	} else if (x < 60) {
		lo = 1024 + below(64512);
		w = 0;
	} else if (x < 85) {
		lo = 1024 + below(60000);
		w = 1 + below(100);
	} else if (x < 95) {
		lo = 1024 + below(40000);
		w = 1000 + below(19000);
	} else {
		lo = 0;
		w = 65535;
	}
	r->lo = (u16)lo;
	r->hi = (u16)(lo + w > 65535 ? 65535 : lo + w);
}

struct table {
	struct mt_rule *r;
	struct mt_prefix *pfx;
	struct mt_portrange *ports;
	u32 n;
};

static void gen_table(struct table *t, u32 n, int v6)
{
	u32 i, j, np = 0, npr = 0;

	t->n = n;
	t->r = calloc(n ? n : 1, sizeof(*t->r));
	t->pfx = calloc((size_t)(n ? n : 1) * 10, sizeof(*t->pfx));
	t->ports = calloc((size_t)(n ? n : 1) * 3, sizeof(*t->ports));
	if (!t->r || !t->pfx || !t->ports) {
		perror("calloc");
		exit(1);
	}
	for (i = 0; i < n; i++) {
		struct mt_rule *r = &t->r[i];
		u32 x = below(100);

		r->id = i + 1;
		x = below(100);
		r->protos = x < 45 ? MT_PROTO_TCP : x < 80 ? MT_PROTO_UDP :
			    MT_PROTO_TCP | MT_PROTO_UDP;
		x = below(100);
		r->n_dst = x < 70 ? 1 : x < 95 ? 2 + below(3) : 8;
		r->dst = &t->pfx[np];
		for (j = 0; j < r->n_dst; j++)
			rand_prefix(&t->pfx[np++], v6,
				    v6 ? weighted(len6, 6) : weighted(len4, 11));
		r->n_ports = below(100) < 80 ? 1 : 2 + below(2);
		r->ports = &t->ports[npr];
		for (j = 0; j < r->n_ports; j++)
			rand_ports(&t->ports[npr++]);
		r->n_src = below(100) < 10 ? 1 + below(2) : 0;
		r->src = &t->pfx[np];
		for (j = 0; j < r->n_src; j++)
			rand_prefix(&t->pfx[np++], v6, v6 ? 32 + 16 * below(3) :
				    8 + 8 * below(3));
	}
}

struct pkt {
	struct mt_key k;
	u8 sa[16], da[16];
};

/* @pct of the packets aim at a random rule, the others are random. */
static void gen_pkt(const struct table *t, struct pkt *p, int v6, u32 pct)
{
	u32 i, bits = v6 ? 128 : 32;

	memset(p, 0, sizeof(*p));
	p->k.family = v6 ? 6 : 4;
	p->k.proto = below(2) ? MT_PROTO_TCP : MT_PROTO_UDP;
	for (i = 0; i < 16; i++) {
		p->sa[i] = (u8)rnd();
		p->da[i] = (u8)rnd();
	}
	if (v6) {
		p->da[0] = 0x20 | (p->da[0] & 0x1f);
		p->sa[0] = 0x20 | (p->sa[0] & 0x1f);
	}
	p->k.dport = below(2) ? wellknown[below(9)] : (u16)rnd();
	if (t->n && below(100) < pct) {
		const struct mt_rule *r = &t->r[below(t->n)];
		const struct mt_prefix *d = &r->dst[below(r->n_dst)];
		const struct mt_portrange *pr = &r->ports[below(r->n_ports)];

		for (i = 0; i < d->len; i++) {
			u8 m = (u8)(0x80 >> (i % 8));

			p->da[i / 8] = (u8)((p->da[i / 8] & ~m) |
					    (d->addr[i / 8] & m));
		}
		p->k.dport = (u16)(pr->lo + below(pr->hi - pr->lo + 1U));
		if (r->protos != 3)
			p->k.proto = r->protos;
	}
	(void)bits;
	p->k.saddr = p->sa;
	p->k.daddr = p->da;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* CPU time of this process: less disturbed than wall time on a busy host. */
static double cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
	u32 n = 1000, nl = 100000, pct = 50, reps = 3, i, rep;
	int v6 = 0, c, ret;
	u64 seed = 1;
	struct table t;
	struct pkt *pk;
	struct mt_table *mt = NULL;
	const char *err = NULL;
	double t0, c0, best = 1e9, first = 0, cbest = 1e9, lt, lc;
	volatile s32 sink = 0;
	u32 hits = 0;
	int shape = -1;
	struct sh_table st;
	u64 ss;

	while ((c = getopt(argc, argv, "6t:n:l:m:s:r:")) != -1) {
		switch (c) {
		case '6':
			v6 = 1;
			break;
		case 't':
			shape = sh_kind(optarg);
			if (shape < 0) {
				fprintf(stderr, "unknown shape %s\n", optarg);
				return 2;
			}
			break;
		case 'n':
			n = (u32)strtoul(optarg, NULL, 0);
			break;
		case 'l':
			nl = (u32)strtoul(optarg, NULL, 0);
			break;
		case 'm':
			pct = (u32)strtoul(optarg, NULL, 0);
			break;
		case 's':
			seed = strtoull(optarg, NULL, 0);
			break;
		case 'r':
			reps = (u32)strtoul(optarg, NULL, 0);
			break;
		default:
			fprintf(stderr, "usage: %s [-6] [-t shape] [-n rules] [-l lookups] [-m pct-directed] [-s seed] [-r compile-reps]\n",
				argv[0]);
			return 2;
		}
	}
	rng += seed * 0x9e3779b97f4a7c15ULL;
	pk = calloc(nl ? nl : 1, sizeof(*pk));
	if (!pk)
		return 1;
	if (shape >= 0) {
		ss = rng;
		if (sh_table(&ss, &st, shape, v6, n)) {
			perror("calloc");
			return 1;
		}
		t.r = st.r;
		t.pfx = st.pfx;
		t.ports = st.ports;
		t.n = st.n;
		for (i = 0; i < nl; i++) {
			sh_key(&ss, &st, &pk[i].k, pk[i].sa, pk[i].da);
			pk[i].k.saddr = pk[i].sa;
			pk[i].k.daddr = pk[i].da;
		}
	} else {
		gen_table(&t, n, v6);
		for (i = 0; i < nl; i++)
			gen_pkt(&t, &pk[i], v6, pct);
	}

	if (RUNNING_ON_VALGRIND)
		reps = 1;
	for (rep = 0; rep < (reps ? reps : 1); rep++) {
		if (mt)
			mt_destroy(mt);
		t0 = now();
		c0 = cpu();
		ret = mt_compile(t.r, t.n, &mt, &err);
		c0 = cpu() - c0;
		t0 = now() - t0;
		if (ret) {
			fprintf(stderr, "mt_compile: %d (%s)\n", ret, err);
			return 1;
		}
		if (!rep)
			first = t0;
		if (t0 < best)
			best = t0;
		if (c0 < cbest)
			cbest = c0;
	}

	CALLGRIND_START_INSTRUMENTATION;
	for (i = 0; i < nl; i++)
		sink = mt_lookup(mt, &pk[i].k);
	CALLGRIND_STOP_INSTRUMENTATION;

	for (i = 0; i < nl; i++)
		hits += mt_lookup(mt, &pk[i].k) >= 0;
	lt = now();
	lc = cpu();
	for (rep = 0; rep < 5; rep++)
		for (i = 0; i < nl; i++)
			sink += mt_lookup(mt, &pk[i].k);
	lc = cpu() - lc;
	lt = now() - lt;

	printf("shape=%s family=%d rules=%u lookups=%u hits=%u compile_first_ms=%.2f compile_best_ms=%.2f compile_cpu_ms=%.2f memory=%zu lookup_ns=%.1f lookup_cpu_ns=%.1f\n",
	       shape >= 0 ? sh_names[shape] : "random", v6 ? 6 : 4, n, nl, hits, first * 1e3, best * 1e3, cbest * 1e3,
	       mt_memory(mt), nl ? lt * 1e9 / (5.0 * nl) : 0.0,
	       nl ? lc * 1e9 / (5.0 * nl) : 0.0);
	(void)sink;
	mt_destroy(mt);
	free(pk);
	free(t.r);
	free(t.pfx);
	free(t.ports);
	return 0;
}
