// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for kmod/matcher.c. Output: one "ok - name" or "not ok - name"
 * line per test, "# ..." diagnostics; exit status 1 if any test failed.
 * Every lookup is also checked against the reference matcher (ref.h).
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kmod/matcher.h"
#include "ref.h"
#include "shapes.h"

#define MAXR 64
#define MAXP 40

struct trule {
	u32 id;
	const char *protos;	/* "tcp", "udp", "tcp,udp" */
	const char *dst;	/* comma separated CIDRs */
	const char *ports;	/* comma separated "lo-hi" or "p" */
	const char *src;	/* NULL or "": any */
};

struct tset {
	struct mt_rule r[MAXR];
	struct mt_prefix dst[MAXR][MAXP], src[MAXR][MAXP];
	struct mt_portrange ports[MAXR][MAXP];
	u32 n;
	struct mt_table *t;
};

static int failures, cur_failed;

static void fail(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	cur_failed = 1;
}

static void parse_prefix(const char *s, struct mt_prefix *p)
{
	char buf[80], *slash;

	snprintf(buf, sizeof(buf), "%s", s);
	memset(p, 0, sizeof(*p));
	slash = strchr(buf, '/');
	if (!slash) {
		fprintf(stderr, "bad prefix %s\n", s);
		exit(2);
	}
	*slash = 0;
	p->len = (u8)atoi(slash + 1);
	if (inet_pton(AF_INET, buf, p->addr) == 1) {
		p->family = 4;
	} else if (inet_pton(AF_INET6, buf, p->addr) == 1) {
		p->family = 6;
	} else {
		fprintf(stderr, "bad prefix %s\n", s);
		exit(2);
	}
}

static u32 parse_list(const char *s, char out[][64])
{
	u32 n = 0;
	const char *c;

	if (!s)
		return 0;
	while (*s) {
		c = strchr(s, ',');
		if (!c)
			c = s + strlen(s);
		snprintf(out[n], 64, "%.*s", (int)(c - s), s);
		n++;
		s = *c ? c + 1 : c;
	}
	return n;
}

static void build(struct tset *ts, const struct trule *tr, u32 n)
{
	char items[MAXP][64];
	u32 i, j, k;

	memset(ts, 0, sizeof(*ts));
	ts->n = n;
	for (i = 0; i < n; i++) {
		struct mt_rule *r = &ts->r[i];

		r->id = tr[i].id;
		r->protos = 0;
		if (strstr(tr[i].protos, "tcp"))
			r->protos |= MT_PROTO_TCP;
		if (strstr(tr[i].protos, "udp"))
			r->protos |= MT_PROTO_UDP;
		k = parse_list(tr[i].dst, items);
		for (j = 0; j < k; j++)
			parse_prefix(items[j], &ts->dst[i][j]);
		r->n_dst = k;
		r->dst = ts->dst[i];
		k = parse_list(tr[i].src, items);
		for (j = 0; j < k; j++)
			parse_prefix(items[j], &ts->src[i][j]);
		r->n_src = k;
		r->src = ts->src[i];
		k = parse_list(tr[i].ports, items);
		for (j = 0; j < k; j++) {
			unsigned int lo, hi;

			if (sscanf(items[j], "%u-%u", &lo, &hi) != 2)
				hi = lo = (unsigned int)atoi(items[j]);
			ts->ports[i][j].lo = (u16)lo;
			ts->ports[i][j].hi = (u16)hi;
		}
		r->n_ports = k;
		r->ports = ts->ports[i];
	}
}

static int compile(struct tset *ts, const struct trule *tr, u32 n)
{
	const char *err = NULL;
	int ret;

	build(ts, tr, n);
	ret = mt_compile(ts->r, n, &ts->t, &err);
	if (ret)
		fail("mt_compile failed: %d (%s)", ret, err ? err : "?");
	return ret;
}

/*
 * expect(ts, "tcp 1.2.3.4 10.0.0.1 80", id): id 0 means no match (test ids
 * are >= 1). The result is also compared with the reference matcher.
 */
static void expect(struct tset *ts, const char *pkt, u32 want)
{
	char proto[8], src[64], dst[64];
	u8 sa[16], da[16];
	struct mt_key k;
	unsigned int port;
	s32 got, ref;
	u32 gid;

	if (sscanf(pkt, "%7s %63s %63s %u", proto, src, dst, &port) != 4) {
		fprintf(stderr, "bad packet %s\n", pkt);
		exit(2);
	}
	memset(&k, 0, sizeof(k));
	memset(sa, 0, sizeof(sa));
	memset(da, 0, sizeof(da));
	k.proto = strcmp(proto, "tcp") ? MT_PROTO_UDP : MT_PROTO_TCP;
	k.dport = (u16)port;
	if (inet_pton(AF_INET, dst, da) == 1) {
		k.family = 4;
		if (inet_pton(AF_INET, src, sa) != 1)
			exit(2);
	} else if (inet_pton(AF_INET6, dst, da) == 1) {
		k.family = 6;
		if (inet_pton(AF_INET6, src, sa) != 1)
			exit(2);
	} else {
		exit(2);
	}
	k.saddr = sa;
	k.daddr = da;
	got = mt_lookup(ts->t, &k);
	ref = ref_lookup(ts->r, ts->n, &k);
	gid = got < 0 ? 0 : ts->r[got].id;
	if (got < -1 || got >= (s32)ts->n)
		fail("%s: lookup returned out-of-range index %d", pkt, got);
	else if (gid != want)
		fail("%s: matched id %u, expected %u", pkt, gid, want);
	if (ref != got)
		fail("%s: matcher index %d, reference index %d", pkt, got, ref);
}

static void done(struct tset *ts)
{
	mt_destroy(ts->t);
	ts->t = NULL;
}

#define R(...) ((struct trule){ __VA_ARGS__ })

static void t_empty(struct tset *ts)
{
	if (compile(ts, NULL, 0))
		return;
	expect(ts, "tcp 1.2.3.4 10.0.0.1 80", 0);
	expect(ts, "udp 1.2.3.4 0.0.0.0 0", 0);
	expect(ts, "tcp ::1 2001:db8::1 443", 0);
	if (mt_memory(ts->t) == 0)
		fail("mt_memory is 0");
	done(ts);
}

static void t_zero_len(struct tset *ts)
{
	struct trule r[] = {
		R(1, "tcp,udp", "0.0.0.0/0", "0-65535", NULL),
		R(2, "tcp", "::/0", "1-65535", NULL),
	};

	if (compile(ts, r, 2))
		return;
	expect(ts, "tcp 1.1.1.1 0.0.0.0 0", 1);
	expect(ts, "udp 1.1.1.1 255.255.255.255 65535", 1);
	expect(ts, "tcp 1.1.1.1 128.0.0.0 8080", 1);
	expect(ts, "tcp :: :: 1", 2);
	expect(ts, "tcp :: ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535", 2);
	expect(ts, "tcp :: 2001:db8::1 0", 0);
	expect(ts, "udp :: 2001:db8::1 53", 0);
	done(ts);
}

static void t_v4_boundaries(struct tset *ts)
{
	struct trule r[] = {
		R(1, "tcp", "10.0.0.0/8", "80", NULL),
		R(2, "tcp", "10.0.0.5/32", "80", NULL),
		R(3, "tcp", "0.0.0.0/32", "80", NULL),
		R(4, "tcp", "255.255.255.255/32", "80", NULL),
		R(5, "tcp", "255.0.0.0/8", "80", NULL),
		R(6, "tcp", "192.168.1.128/25", "80", NULL),
		R(7, "tcp", "128.0.0.0/1", "81", NULL),
	};

	if (compile(ts, r, 7))
		return;
	expect(ts, "tcp 1.1.1.1 9.255.255.255 80", 0);
	expect(ts, "tcp 1.1.1.1 10.0.0.0 80", 1);
	expect(ts, "tcp 1.1.1.1 10.0.0.4 80", 1);
	expect(ts, "tcp 1.1.1.1 10.0.0.5 80", 2);
	expect(ts, "tcp 1.1.1.1 10.0.0.6 80", 1);
	expect(ts, "tcp 1.1.1.1 10.255.255.255 80", 1);
	expect(ts, "tcp 1.1.1.1 11.0.0.0 80", 0);
	expect(ts, "tcp 1.1.1.1 0.0.0.0 80", 3);
	expect(ts, "tcp 1.1.1.1 0.0.0.1 80", 0);
	expect(ts, "tcp 1.1.1.1 255.255.255.255 80", 4);
	expect(ts, "tcp 1.1.1.1 255.255.255.254 80", 5);
	expect(ts, "tcp 1.1.1.1 255.0.0.0 80", 5);
	expect(ts, "tcp 1.1.1.1 254.255.255.255 80", 0);
	expect(ts, "tcp 1.1.1.1 192.168.1.127 80", 0);
	expect(ts, "tcp 1.1.1.1 192.168.1.128 80", 6);
	expect(ts, "tcp 1.1.1.1 192.168.1.255 80", 6);
	expect(ts, "tcp 1.1.1.1 192.168.2.0 80", 0);
	expect(ts, "tcp 1.1.1.1 127.255.255.255 81", 0);
	expect(ts, "tcp 1.1.1.1 128.0.0.0 81", 7);
	expect(ts, "tcp 1.1.1.1 255.255.255.255 81", 7);
	expect(ts, "tcp 1.1.1.1 10.0.0.5 81", 0);
	done(ts);
}

static void t_v6_boundaries(struct tset *ts)
{
	struct trule r[] = {
		R(1, "tcp", "2001:db8::/32", "443", NULL),
		R(2, "tcp", "2001:db8::1/128", "443", NULL),
		R(3, "tcp", "::/128", "443", NULL),
		R(4, "tcp", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", "443",
		  NULL),
		R(5, "tcp", "2001:db8:0:1::/64", "443", NULL),
		R(6, "tcp", "2001:db8:0:1:8000::/65", "443", NULL),
		R(7, "tcp", "2001:db8::fffe/127", "443", NULL),
	};

	if (compile(ts, r, 7))
		return;
	expect(ts, "tcp :: 2001:db7:ffff:ffff:ffff:ffff:ffff:ffff 443", 0);
	expect(ts, "tcp :: 2001:db8:: 443", 1);
	expect(ts, "tcp :: 2001:db8::1 443", 2);
	expect(ts, "tcp :: 2001:db8::2 443", 1);
	expect(ts, "tcp :: 2001:db8:ffff:ffff:ffff:ffff:ffff:ffff 443", 1);
	expect(ts, "tcp :: 2001:db9:: 443", 0);
	expect(ts, "tcp :: :: 443", 3);
	expect(ts, "tcp :: ::1 443", 0);
	expect(ts, "tcp :: ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 443", 4);
	expect(ts, "tcp :: ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe 443", 0);
	expect(ts, "tcp :: 2001:db8:0:1:: 443", 5);
	expect(ts, "tcp :: 2001:db8:0:1:7fff:ffff:ffff:ffff 443", 5);
	expect(ts, "tcp :: 2001:db8:0:1:8000:: 443", 6);
	expect(ts, "tcp :: 2001:db8:0:1:ffff:ffff:ffff:ffff 443", 6);
	expect(ts, "tcp :: 2001:db8:0:2:: 443", 1);
	expect(ts, "tcp :: 2001:db8::fffd 443", 1);
	expect(ts, "tcp :: 2001:db8::fffe 443", 7);
	expect(ts, "tcp :: 2001:db8::ffff 443", 7);
	expect(ts, "tcp :: 2001:db8::1:0 443", 1);
	expect(ts, "tcp 0.0.0.0 0.0.0.0 443", 0);
	done(ts);
}

static void t_ports(struct tset *ts)
{
	struct trule r[] = {
		R(1, "tcp", "10.0.0.0/8", "0", NULL),
		R(2, "tcp", "10.0.0.0/8", "65535", NULL),
		R(3, "tcp", "10.0.0.0/8", "1000-2000", NULL),
		R(4, "tcp", "20.0.0.0/8", "0-65535", NULL),
		R(5, "tcp", "30.0.0.0/8", "1,3,5-7,65534", NULL),
	};

	if (compile(ts, r, 5))
		return;
	expect(ts, "tcp 1.1.1.1 10.1.1.1 0", 1);
	expect(ts, "tcp 1.1.1.1 10.1.1.1 1", 0);
	expect(ts, "tcp 1.1.1.1 10.1.1.1 65535", 2);
	expect(ts, "tcp 1.1.1.1 10.1.1.1 65534", 0);
	expect(ts, "tcp 1.1.1.1 10.1.1.1 999", 0);
	expect(ts, "tcp 1.1.1.1 10.1.1.1 1000", 3);
	expect(ts, "tcp 1.1.1.1 10.1.1.1 2000", 3);
	expect(ts, "tcp 1.1.1.1 10.1.1.1 2001", 0);
	expect(ts, "tcp 1.1.1.1 20.1.1.1 0", 4);
	expect(ts, "tcp 1.1.1.1 20.1.1.1 65535", 4);
	expect(ts, "tcp 1.1.1.1 30.1.1.1 0", 0);
	expect(ts, "tcp 1.1.1.1 30.1.1.1 1", 5);
	expect(ts, "tcp 1.1.1.1 30.1.1.1 2", 0);
	expect(ts, "tcp 1.1.1.1 30.1.1.1 3", 5);
	expect(ts, "tcp 1.1.1.1 30.1.1.1 4", 0);
	expect(ts, "tcp 1.1.1.1 30.1.1.1 5", 5);
	expect(ts, "tcp 1.1.1.1 30.1.1.1 7", 5);
	expect(ts, "tcp 1.1.1.1 30.1.1.1 8", 0);
	expect(ts, "tcp 1.1.1.1 30.1.1.1 65534", 5);
	expect(ts, "tcp 1.1.1.1 30.1.1.1 65535", 0);
	done(ts);
}

/* Tie-breaker 1: the longest prefix wins, whatever the ports or ids. */
static void t_tie_prefix(struct tset *ts)
{
	struct trule r[] = {
		R(1, "tcp", "10.0.0.0/8", "80", NULL),
		R(9, "tcp", "10.1.0.0/16", "0-65535", NULL),
		R(5, "tcp", "10.1.2.0/24", "1-65535", NULL),
	};

	if (compile(ts, r, 3))
		return;
	expect(ts, "tcp 1.1.1.1 10.0.0.1 80", 1);
	expect(ts, "tcp 1.1.1.1 10.1.0.1 80", 9);
	expect(ts, "tcp 1.1.1.1 10.1.2.1 80", 5);
	expect(ts, "tcp 1.1.1.1 10.1.2.1 0", 9);
	done(ts);
}

/* Tie-breaker 2: same prefix, the narrowest port range wins. */
static void t_tie_width(struct tset *ts)
{
	struct trule r[] = {
		R(1, "tcp", "10.0.0.0/8", "0-65535", NULL),
		R(7, "tcp", "10.0.0.0/8", "80-90", NULL),
		R(3, "tcp", "10.0.0.0/8", "85-100", NULL),
		R(8, "tcp", "10.0.0.0/8", "88", NULL),
		/* a rule with several ranges competes with its narrowest */
		R(2, "tcp", "10.0.0.0/8", "0-65535,90-91", NULL),
	};

	if (compile(ts, r, 5))
		return;
	expect(ts, "tcp 1.1.1.1 10.0.0.1 79", 1);
	expect(ts, "tcp 1.1.1.1 10.0.0.1 80", 7);
	expect(ts, "tcp 1.1.1.1 10.0.0.1 85", 7);
	expect(ts, "tcp 1.1.1.1 10.0.0.1 88", 8);
	expect(ts, "tcp 1.1.1.1 10.0.0.1 89", 7);
	expect(ts, "tcp 1.1.1.1 10.0.0.1 90", 2);
	expect(ts, "tcp 1.1.1.1 10.0.0.1 91", 2);
	expect(ts, "tcp 1.1.1.1 10.0.0.1 92", 3);
	expect(ts, "tcp 1.1.1.1 10.0.0.1 100", 3);
	expect(ts, "tcp 1.1.1.1 10.0.0.1 101", 1);
	done(ts);
}

/* Tie-breaker 3: same prefix and width, the lowest id wins. */
static void t_tie_id(struct tset *ts)
{
	struct trule r[] = {
		R(30, "tcp", "10.0.0.0/8", "80-89", NULL),
		R(10, "tcp", "10.0.0.0/8", "85-94", NULL),
		R(20, "tcp", "10.0.0.0/8", "80-89", NULL),
		R(40, "tcp,udp", "2001:db8::/32,10.0.0.0/8", "80", NULL),
		R(4, "udp", "2001:db8::/32", "80", NULL),
	};

	if (compile(ts, r, 5))
		return;
	expect(ts, "tcp 1.1.1.1 10.0.0.1 81", 20);
	expect(ts, "tcp 1.1.1.1 10.0.0.1 86", 10);
	expect(ts, "tcp 1.1.1.1 10.0.0.1 90", 10);
	expect(ts, "tcp 1.1.1.1 10.0.0.1 80", 40);
	expect(ts, "udp :: 2001:db8::1 80", 4);
	expect(ts, "tcp :: 2001:db8::1 80", 40);
	done(ts);
}

/* A more specific rule whose source or protocol check fails falls through. */
static void t_fallthrough(struct tset *ts)
{
	struct trule r[] = {
		R(1, "tcp,udp", "10.0.0.0/8", "80", NULL),
		R(2, "tcp", "10.1.0.0/16", "80", "192.168.0.0/16"),
		R(3, "udp", "10.1.2.0/24", "80", NULL),
		R(4, "tcp", "10.1.2.3/32", "80", "172.16.0.0/12"),
		R(5, "tcp", "10.1.2.3/32", "80-81", "192.168.5.0/24"),
	};

	if (compile(ts, r, 5))
		return;
	expect(ts, "tcp 1.1.1.1 10.1.2.3 80", 1);
	expect(ts, "udp 1.1.1.1 10.1.2.3 80", 3);
	expect(ts, "tcp 192.168.1.1 10.1.2.3 80", 2);
	expect(ts, "tcp 192.168.5.1 10.1.2.3 80", 5);
	expect(ts, "tcp 172.20.0.1 10.1.2.3 80", 4);
	expect(ts, "udp 172.20.0.1 10.1.2.3 80", 3);
	expect(ts, "udp 172.20.0.1 10.1.3.3 80", 1);
	expect(ts, "tcp 192.168.5.1 10.1.2.3 81", 5);
	expect(ts, "tcp 192.168.4.1 10.1.2.3 81", 0);
	done(ts);
}

static void t_src(struct tset *ts)
{
	struct trule r[] = {
		R(1, "tcp", "10.0.0.0/8", "80",
		  "192.168.0.0/16,192.168.1.0/24,10.0.0.1/32,2001:db8::/32"),
		R(2, "tcp", "10.0.0.0/8,2001:db8::/32", "81", "2001:db8::/32"),
		R(3, "tcp", "2001:db8::/32", "82",
		  "::/0,192.0.2.0/24"),
		R(4, "tcp", "10.0.0.0/8", "83", "0.0.0.0/0"),
		R(5, "tcp", "10.0.0.0/8", "84",
		  "1.0.0.0/8,3.0.0.0/8,5.5.5.5/32,255.255.255.255/32"),
	};

	if (compile(ts, r, 5))
		return;
	expect(ts, "tcp 192.168.200.1 10.0.0.9 80", 1);
	expect(ts, "tcp 192.169.0.0 10.0.0.9 80", 0);
	expect(ts, "tcp 192.167.255.255 10.0.0.9 80", 0);
	expect(ts, "tcp 10.0.0.1 10.0.0.9 80", 1);
	expect(ts, "tcp 10.0.0.2 10.0.0.9 80", 0);
	/* a v4 packet never matches a rule whose sources are all v6 */
	expect(ts, "tcp 32.1.13.184 10.0.0.9 81", 0);
	expect(ts, "tcp 2001:db8::5 2001:db8::9 81", 2);
	expect(ts, "tcp 2001:db9::5 2001:db8::9 81", 0);
	expect(ts, "tcp ffff::1 2001:db8::9 82", 3);
	expect(ts, "tcp 0.0.0.0 10.0.0.9 83", 4);
	expect(ts, "tcp 255.255.255.255 10.0.0.9 83", 4);
	expect(ts, "tcp 0.255.255.255 10.0.0.9 84", 0);
	expect(ts, "tcp 1.0.0.0 10.0.0.9 84", 5);
	expect(ts, "tcp 2.0.0.0 10.0.0.9 84", 0);
	expect(ts, "tcp 3.255.255.255 10.0.0.9 84", 5);
	expect(ts, "tcp 5.5.5.4 10.0.0.9 84", 0);
	expect(ts, "tcp 5.5.5.5 10.0.0.9 84", 5);
	expect(ts, "tcp 5.5.5.6 10.0.0.9 84", 0);
	expect(ts, "tcp 255.255.255.255 10.0.0.9 84", 5);
	expect(ts, "tcp 255.255.255.254 10.0.0.9 84", 0);
	done(ts);
}

static void t_proto(struct tset *ts)
{
	struct trule r[] = {
		R(1, "tcp", "10.0.0.0/8", "53", NULL),
		R(2, "udp", "10.0.0.0/8", "53", NULL),
		R(3, "udp", "10.0.0.0/8", "54", NULL),
	};

	if (compile(ts, r, 3))
		return;
	expect(ts, "tcp 1.1.1.1 10.0.0.1 53", 1);
	expect(ts, "udp 1.1.1.1 10.0.0.1 53", 2);
	expect(ts, "udp 1.1.1.1 10.0.0.1 54", 3);
	expect(ts, "tcp 1.1.1.1 10.0.0.1 54", 0);
	done(ts);
}

static void t_mixed_families(struct tset *ts)
{
	struct trule r[] = {
		R(1, "tcp,udp", "10.0.0.0/8,2001:db8::/32,0.0.0.0/0", "5060",
		  NULL),
		R(2, "tcp", "::/0", "5060", NULL),
		R(3, "udp", "::ffff:0.0.0.0/96", "5060", NULL),
	};

	if (compile(ts, r, 3))
		return;
	expect(ts, "tcp 1.1.1.1 10.0.0.1 5060", 1);
	expect(ts, "tcp 1.1.1.1 11.0.0.1 5060", 1);
	expect(ts, "tcp :: 2001:db8::1 5060", 1);
	expect(ts, "tcp :: 2001:db9::1 5060", 2);
	expect(ts, "udp :: 2001:db9::1 5060", 0);
	/* v4-mapped v6 addresses are v6 addresses */
	expect(ts, "udp :: ::ffff:10.0.0.1 5060", 3);
	expect(ts, "tcp :: ::ffff:10.0.0.1 5060", 2);
	done(ts);
}

/* Duplicates, empty destinations or ports, identical rules. */
static void t_degenerate(struct tset *ts)
{
	struct trule r[] = {
		R(5, "tcp", "10.0.0.0/8,10.0.0.0/8", "80,80,80-80", NULL),
		R(3, "tcp", "10.0.0.0/8", "80", NULL),
		R(1, "tcp", "", "80", NULL),
		R(2, "tcp", "10.0.0.0/8", "", NULL),
		R(4, "tcp", "10.0.0.0/8", "80", "1.1.1.1/32,1.1.1.1/32"),
	};

	if (compile(ts, r, 5))
		return;
	expect(ts, "tcp 1.1.1.1 10.0.0.1 80", 3);
	expect(ts, "tcp 1.1.1.2 10.0.0.1 80", 3);
	expect(ts, "tcp 1.1.1.1 10.0.0.1 81", 0);
	done(ts);
}

/* A /0 .. /32 chain of nested prefixes, each with its own port. */
static void t_deep_chain(struct tset *ts)
{
	static char dsts[33][32];
	struct trule r[33];
	static char ports[33][24];
	char pkt[64];
	u32 i, a = 0xc0a80101;

	for (i = 0; i <= 32; i++) {
		u32 m = i ? ~0U << (32 - i) : 0, v = a & m;

		snprintf(dsts[i], sizeof(dsts[i]), "%u.%u.%u.%u/%u", v >> 24,
			 (v >> 16) & 255, (v >> 8) & 255, v & 255, i);
		snprintf(ports[i], sizeof(ports[i]), "%u-1000", 100 + i);
		r[i] = R(100 - i, "tcp", dsts[i], ports[i], NULL);
	}
	if (compile(ts, r, 33))
		return;
	for (i = 0; i <= 32; i++) {
		snprintf(pkt, sizeof(pkt), "tcp 1.1.1.1 192.168.1.1 %u",
			 100 + i);
		expect(ts, pkt, 100 - i);
	}
	expect(ts, "tcp 1.1.1.1 192.168.1.1 99", 0);
	expect(ts, "tcp 1.1.1.1 192.168.1.0 132", 100 - 31);
	expect(ts, "tcp 1.1.1.1 128.0.0.0 132", 100 - 1);
	expect(ts, "tcp 1.1.1.1 64.0.0.0 132", 100);
	expect(ts, "tcp 1.1.1.1 0.0.0.0 132", 100);
	done(ts);
}

/* IPv4 prefixes ignore addr[4..15]. */
static void t_v4_tail_ignored(struct tset *ts)
{
	struct trule r[] = { R(1, "tcp", "10.0.0.0/8", "80", "1.0.0.0/8") };

	build(ts, r, 1);
	memset(ts->dst[0][0].addr + 4, 0xab, 12);
	memset(ts->src[0][0].addr + 4, 0xcd, 12);
	if (mt_compile(ts->r, 1, &ts->t, NULL)) {
		fail("compile failed");
		return;
	}
	expect(ts, "tcp 1.2.3.4 10.9.9.9 80", 1);
	done(ts);
}

static void t_bad_family_key(struct tset *ts)
{
	struct trule r[] = { R(1, "tcp,udp", "0.0.0.0/0,::/0", "0-65535", NULL) };
	u8 a[16] = { 0 };
	struct mt_key k = { .family = 5, .proto = MT_PROTO_TCP, .dport = 1,
			    .saddr = a, .daddr = a };

	if (compile(ts, r, 1))
		return;
	if (mt_lookup(ts->t, &k) != -1)
		fail("family 5 key matched");
	k.family = 4;
	if (mt_lookup(ts->t, &k) != 0)
		fail("family 4 key did not match");
	done(ts);
}

static void expect_reject(const struct mt_rule *r, u32 n, int want,
			  const char *what)
{
	struct mt_table *t = (struct mt_table *)1;
	const char *err = NULL;
	int ret = mt_compile(r, n, &t, &err);

	if (ret != want)
		fail("%s: mt_compile returned %d, expected %d", what, ret, want);
	if (t) {
		fail("%s: *out not NULL on failure", what);
		if (!ret)
			mt_destroy(t);
	}
	if (!err || !*err)
		fail("%s: no error message", what);
	else
		printf("# %s: \"%s\"\n", what, err);
	if (want == -EINVAL && !ref_invalid(r, n))
		fail("%s: reference validator disagrees", what);
}

static void t_malformed(struct tset *ts)
{
	struct trule ok[] = {
		R(1, "tcp", "10.0.0.0/8", "80", "1.0.0.0/8"),
		R(2, "tcp", "2001:db8::/32", "80", NULL),
	};

	build(ts, ok, 2);
	ts->dst[0][0].len = 33;
	expect_reject(ts->r, 2, -EINVAL, "v4 len 33");
	build(ts, ok, 2);
	ts->dst[1][0].len = 129;
	expect_reject(ts->r, 2, -EINVAL, "v6 len 129");
	build(ts, ok, 2);
	ts->src[0][0].len = 200;
	expect_reject(ts->r, 2, -EINVAL, "src len 200");
	build(ts, ok, 2);
	ts->dst[0][0].addr[3] = 1;
	expect_reject(ts->r, 2, -EINVAL, "v4 host bits");
	build(ts, ok, 2);
	ts->dst[1][0].len = 127;
	ts->dst[1][0].addr[15] = 1;
	expect_reject(ts->r, 2, -EINVAL, "v6 host bit in last byte");
	build(ts, ok, 2);
	ts->dst[1][0].addr[4] = 0x80;
	expect_reject(ts->r, 2, -EINVAL, "v6 host bits");
	build(ts, ok, 2);
	ts->src[0][0].addr[1] = 1;
	expect_reject(ts->r, 2, -EINVAL, "src host bits");
	build(ts, ok, 2);
	ts->dst[0][0].len = 0;
	expect_reject(ts->r, 2, -EINVAL, "/0 with host bits");
	build(ts, ok, 2);
	ts->dst[0][0].family = 5;
	expect_reject(ts->r, 2, -EINVAL, "family 5");
	build(ts, ok, 2);
	ts->src[0][0].family = 0;
	expect_reject(ts->r, 2, -EINVAL, "src family 0");
	build(ts, ok, 2);
	ts->ports[1][0].lo = 81;
	expect_reject(ts->r, 2, -EINVAL, "lo > hi");
	build(ts, ok, 2);
	ts->r[0].protos = 0;
	expect_reject(ts->r, 2, -EINVAL, "no protocol");
	build(ts, ok, 2);
	ts->r[0].protos = 4;
	expect_reject(ts->r, 2, -EINVAL, "unknown protocol bit");
	build(ts, ok, 2);
	ts->r[1].id = 1;
	expect_reject(ts->r, 2, -EINVAL, "duplicate id");
	build(ts, ok, 2);
	ts->r[1].dst = NULL;
	expect_reject(ts->r, 2, -EINVAL, "NULL dst array");
	expect_reject(NULL, 3, -EINVAL, "NULL rules array");

	/* and the unmodified set compiles */
	build(ts, ok, 2);
	if (mt_compile(ts->r, 2, &ts->t, NULL))
		fail("valid rules rejected");
	done(ts);
}

/* Pathological inputs are refused with -E2BIG, quickly. */
static void t_too_big(struct tset *ts)
{
	static struct mt_prefix dst[1024];
	static struct mt_portrange ports[1024];
	struct mt_rule *r = calloc(20000, sizeof(*r));
	u32 i;

	(void)ts;
	for (i = 0; i < 1024; i++) {
		dst[i].family = 4;
		dst[i].len = 32;
		dst[i].addr[0] = 10;
		dst[i].addr[2] = (u8)(i >> 8);
		dst[i].addr[3] = (u8)i;
		ports[i].lo = (u16)(i * 2);
		ports[i].hi = (u16)(i * 2);
	}
	/* 5 x 1024 x 1024 destination x port combinations */
	for (i = 0; i < 5; i++) {
		r[i].id = i + 1;
		r[i].protos = MT_PROTO_TCP;
		r[i].n_dst = 1024;
		r[i].dst = dst;
		r[i].n_ports = 1024;
		r[i].ports = ports;
	}
	expect_reject(r, 5, -E2BIG, "5M combinations");

	/*
	 * 20000 nested port ranges on one prefix, each restricted to its own
	 * source: every port segment has its own list of source-restricted
	 * candidates, quadratic in total.
	 */
	memset(ports, 0, sizeof(ports));
	dst[0].len = 0;
	dst[0].addr[0] = 0;
	dst[0].addr[2] = 0;
	dst[0].addr[3] = 0;
	for (i = 0; i < 20000; i++) {
		static struct mt_portrange pr[20000];
		static struct mt_prefix src[20000];

		pr[i].lo = (u16)(i + 1);
		pr[i].hi = (u16)(65534 - i);
		src[i].family = 4;
		src[i].len = 32;
		src[i].addr[0] = 172;
		src[i].addr[2] = (u8)(i >> 8);
		src[i].addr[3] = (u8)i;
		r[i].id = i + 1;
		r[i].protos = MT_PROTO_TCP;
		r[i].n_dst = 1;
		r[i].dst = dst;
		r[i].n_ports = 1;
		r[i].ports = &pr[i];
		r[i].n_src = 1;
		r[i].src = &src[i];
	}
	expect_reject(r, 20000, -E2BIG,
		      "20000 nested source-restricted port ranges");
	free(r);
}

/*
 * 20000 nested port ranges on one prefix without source restrictions: only
 * the narrowest range covering a port can match, so this compiles into one
 * candidate per port segment (it used to be refused as quadratic).
 */
static void t_nested_ranges(struct tset *ts)
{
	static struct mt_prefix dst;
	static struct mt_portrange pr[20000];
	struct mt_rule *r = calloc(20000, sizeof(*r));
	struct mt_key k;
	u8 sa[16] = { 0 }, da[16] = { 10 };
	u32 i;
	s32 got, want;

	dst.family = 4;
	for (i = 0; i < 20000; i++) {
		pr[i].lo = (u16)(i + 1);
		pr[i].hi = (u16)(65534 - i);
		r[i].id = 20000 - i;
		r[i].protos = i & 1 ? MT_PROTO_TCP : MT_PROTO_UDP;
		r[i].n_dst = 1;
		r[i].dst = &dst;
		r[i].n_ports = 1;
		r[i].ports = &pr[i];
	}
	if (mt_compile(r, 20000, &ts->t, NULL)) {
		fail("compile failed");
		free(r);
		return;
	}
	k.family = 4;
	k.saddr = sa;
	k.daddr = da;
	for (i = 0; i < 65536; i += 7) {
		k.dport = (u16)i;
		k.proto = i & 8 ? MT_PROTO_TCP : MT_PROTO_UDP;
		got = mt_lookup(ts->t, &k);
		want = ref_lookup(r, 20000, &k);
		if (got != want) {
			fail("port %u: matcher %d, reference %d", i, got, want);
			break;
		}
	}
	printf("# 20000 nested ranges: %zu bytes\n", mt_memory(ts->t));
	free(r);
	done(ts);
}

/* One rule with the API's maximum of 1024 destinations x 1024 ports. */
static void t_big_rule(struct tset *ts)
{
	static struct mt_prefix dst[1024];
	static struct mt_portrange ports[1024];
	struct mt_rule r = { .id = 7, .protos = MT_PROTO_UDP, .n_dst = 1024,
			     .n_ports = 1024, .dst = dst, .ports = ports };
	struct mt_key k;
	u8 sa[16] = { 0 }, da[16] = { 0 };
	u32 i;

	for (i = 0; i < 1024; i++) {
		dst[i].family = i & 1 ? 6 : 4;
		dst[i].len = i & 1 ? 128 : 32;
		dst[i].addr[0] = 10;
		dst[i].addr[2] = (u8)(i >> 8);
		dst[i].addr[3] = (u8)i;
		ports[i].lo = (u16)(i * 64);
		ports[i].hi = (u16)(i * 64 + 1);
	}
	if (mt_compile(&r, 1, &ts->t, NULL)) {
		fail("compile failed");
		return;
	}
	k.family = 4;
	k.proto = MT_PROTO_UDP;
	k.saddr = sa;
	k.daddr = da;
	da[0] = 10;
	for (i = 0; i < 1024; i++) {
		da[2] = (u8)(i >> 8);
		da[3] = (u8)i;
		k.family = i & 1 ? 6 : 4;
		k.dport = (u16)(i * 64 + 1);
		if (mt_lookup(ts->t, &k) != 0)
			fail("destination %u port %u missed", i, k.dport);
		k.dport = (u16)(i * 64 + 2);
		if (mt_lookup(ts->t, &k) != -1)
			fail("destination %u port %u matched", i, k.dport);
	}
	printf("# 1024x1024 rule: %zu bytes\n", mt_memory(ts->t));
	done(ts);
}

/* Every adversarial shape of shapes.h, both families: same results as ref.h. */
static void t_shapes(struct tset *ts)
{
	static const u32 sizes[] = { 1, 2, 40, 1500 };
	struct sh_table st;
	struct mt_table *t;
	struct mt_key k;
	u8 sa[16], da[16];
	u64 s = 42;
	u32 i, z, hits;
	int kind, v6;
	s32 got, want;

	(void)ts;
	for (kind = 0; kind < SH_N; kind++) {
		for (v6 = 0; v6 < 2; v6++) {
			for (z = 0; z < sizeof(sizes) / sizeof(sizes[0]); z++) {
				if (sh_table(&s, &st, kind, v6, sizes[z])) {
					fail("out of memory");
					return;
				}
				if (mt_compile(st.r, st.n, &t, NULL)) {
					fail("%s v%d n=%u: compile failed",
					     sh_names[kind], v6 ? 6 : 4, sizes[z]);
					sh_free(&st);
					continue;
				}
				for (i = 0, hits = 0; i < 3000; i++) {
					sh_key(&s, &st, &k, sa, da);
					got = mt_lookup(t, &k);
					want = ref_lookup(st.r, st.n, &k);
					hits += want >= 0;
					if (got != want) {
						fail("%s v%d n=%u lookup %u: matcher %d, reference %d",
						     sh_names[kind], v6 ? 6 : 4,
						     sizes[z], i, got, want);
						break;
					}
				}
				if (sizes[z] > 2 && hits < 300)
					fail("%s v%d n=%u: only %u of 3000 lookups matched",
					     sh_names[kind], v6 ? 6 : 4, sizes[z],
					     hits);
				mt_destroy(t);
				sh_free(&st);
			}
		}
	}
}

struct test {
	const char *name;
	void (*fn)(struct tset *ts);
};

static const struct test tests[] = {
	{ "empty table matches nothing", t_empty },
	{ "/0 prefixes in both families", t_zero_len },
	{ "IPv4 prefix boundaries, /32, /8 at both ends", t_v4_boundaries },
	{ "IPv6 prefix boundaries, /128, /127, /65", t_v6_boundaries },
	{ "port edges 0 and 65535, multiple ranges", t_ports },
	{ "tie-breaker 1: longest prefix", t_tie_prefix },
	{ "tie-breaker 2: narrowest port range", t_tie_width },
	{ "tie-breaker 3: lowest id", t_tie_id },
	{ "failing source/protocol falls through to shorter prefix",
	  t_fallthrough },
	{ "source restrictions", t_src },
	{ "protocols", t_proto },
	{ "IPv4/IPv6 mixes", t_mixed_families },
	{ "duplicates, empty destination or port lists", t_degenerate },
	{ "nested /0../32 chain", t_deep_chain },
	{ "IPv4 prefix ignores addr[4..15]", t_v4_tail_ignored },
	{ "key with unknown family", t_bad_family_key },
	{ "malformed rules rejected with -EINVAL", t_malformed },
	{ "pathological inputs rejected with -E2BIG", t_too_big },
	{ "1024 destinations x 1024 ports in one rule", t_big_rule },
	{ "20000 nested port ranges compile", t_nested_ranges },
	{ "adversarial shapes agree with the reference", t_shapes },
};

int main(void)
{
	static struct tset ts;
	size_t i;

	for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		cur_failed = 0;
		tests[i].fn(&ts);
		if (ts.t) {
			mt_destroy(ts.t);
			ts.t = NULL;
		}
		printf("%s - %s\n", cur_failed ? "not ok" : "ok",
		       tests[i].name);
		failures += cur_failed;
	}
	printf("# %d of %zu unit tests failed\n", failures, i);
	return failures ? 1 : 0;
}
