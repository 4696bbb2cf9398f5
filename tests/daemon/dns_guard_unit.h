/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Unit tests of who sipovld's DNS responder answers and how often (daemon/dns_guard.c), of a
 * query's handling (daemon/dns_respond.c: a client outside the allow-list gets REFUSED and
 * nothing else, a flood of one client is answered up to the rate, then truncated or dropped)
 * and of their keys in sipovld.conf (dns_allow, dns_rate_limit, dns_rate_slip). Included by
 * tests/daemon/dns_unit.c (its mkq, ok).
 */
#ifndef SIPOVL_TESTS_DAEMON_DNS_GUARD_UNIT_H
#define SIPOVL_TESTS_DAEMON_DNS_GUARD_UNIT_H

#include "daemon/dns_guard.h"
#include "daemon/dns_respond.h"

static struct sockaddr_storage sa_of(const char *ip)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(ip, ':')) {
		ss.ss_family = AF_INET6;
		inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)&ss)->sin6_addr);
	} else {
		ss.ss_family = AF_INET;
		inet_pton(AF_INET, ip, &((struct sockaddr_in *)&ss)->sin_addr);
	}
	return ss;
}

static struct sipovl_prefix pfx(const char *s)
{
	struct sipovl_prefix p;

	memset(&p, 0, sizeof(p));
	if (cfg_parse_prefix(s, &p))
		abort();
	return p;
}

static void t_acl(void)
{
	struct dns_acl a = { .n = 0 };
	struct sockaddr_storage s;
	struct sipovl_prefix p = pfx("10.1.0.0/24");

	p.addr[3] = 9; /* host bits: cleared */
	ok(!dns_acl_add(&a, &p) && a.n == 1 && a.p[0].addr[3] == 0, "allow-list: 10.1.0.9/24 kept as 10.1.0.0/24");
	ok(!dns_acl_add(&a, &p) && a.n == 1, "allow-list: a prefix it has is not added twice");
	p = pfx("fd00:1::/64");
	dns_acl_add(&a, &p);
	s = sa_of("10.1.0.200");
	ok(dns_acl_allows(&a, &s), "10.1.0.200 in 10.1.0.0/24");
	s = sa_of("10.1.1.1");
	ok(!dns_acl_allows(&a, &s), "10.1.1.1 not");
	s = sa_of("::ffff:10.1.0.7");
	ok(!dns_acl_allows(&a, &s), "::ffff:10.1.0.7 (IPv4-mapped: a forged IPv6 source on an IPv6-only socket) refused, "
				    "not taken for the LAN's 10.1.0.7");
	s = sa_of("fd00:1::77");
	ok(dns_acl_allows(&a, &s), "fd00:1::77 in fd00:1::/64");
	s = sa_of("fd00:2::77");
	ok(!dns_acl_allows(&a, &s), "fd00:2::77 not");
	p = pfx("10.1.0.0/23");
	dns_acl_add(&a, &p);
	s = sa_of("10.1.1.1");
	ok(dns_acl_allows(&a, &s), "with 10.1.0.0/23 added: 10.1.1.1 too");
	struct dns_acl e = { .n = 0 };

	s = sa_of("127.0.0.1");
	ok(!dns_acl_allows(&e, &s), "an empty list allows nobody");
	p = pfx("0.0.0.0/0");
	dns_acl_add(&e, &p);
	ok(dns_acl_allows(&e, &s), "0.0.0.0/0 every IPv4 client");
	s = sa_of("::1");
	ok(!dns_acl_allows(&e, &s), "but no IPv6 client");
	for (int i = 0; i < DNS_ACL_MAX - 1; i++) { /* 0.0.0.0/0 and 63 hosts */
		p = pfx("10.0.0.0/32");
		p.addr[2] = (uint8_t)i;
		dns_acl_add(&e, &p);
	}
	ok(e.n == DNS_ACL_MAX && dns_acl_add(&e, &p) == 0 && (p.addr[1] = 9, dns_acl_add(&e, &p) == -1),
	   "allow-list bounded: %d prefixes", DNS_ACL_MAX);
}

static void t_rrl(void)
{
	static const uint8_t key[16] = { 1, 2, 3 };
	struct dns_rrl *r = dns_rrl_new(10, 2, key);
	struct sockaddr_storage a = sa_of("10.1.0.9"), b = sa_of("10.1.0.10");
	struct dns_rrl_stats st;
	int pass = 0, v;
	char seq[32] = "";

	ok(!dns_rrl_new(0, 2, key) && !dns_rrl_new(10, DNS_RRL_SLIP_MAX + 1, key) && !dns_rrl_new(DNS_RRL_MAX + 1, 2, key),
	   "rate 0, slip 11, rate over %d: no table", DNS_RRL_MAX);
	for (int i = 0; i < 20; i++) {
		v = dns_rrl_check(r, &a, 1000);
		pass += v == DNS_RRL_PASS;
		if (v != DNS_RRL_PASS && strlen(seq) < sizeof(seq) - 1)
			strcat(seq, v == DNS_RRL_SLIP ? "T" : "D");
	}
	ok(pass == 10 && !strcmp(seq, "TDTDTDTDTD"), "rate 10, slip 2: 20 at once: 10 answered, then TC, drop, TC, ... (%s)",
	   seq);
	ok(dns_rrl_check(r, &b, 1000) == DNS_RRL_PASS, "another client at the same time: answered");
	ok(dns_rrl_check(r, &a, 1099) != DNS_RRL_PASS && dns_rrl_check(r, &a, 1100) == DNS_RRL_PASS &&
		   dns_rrl_check(r, &a, 1100) != DNS_RRL_PASS,
	   "100 ms later one more answer (10 a second), not 99 ms");
	pass = 0;
	for (int i = 0; i < 30; i++)
		pass += dns_rrl_check(r, &a, 5000) == DNS_RRL_PASS;
	ok(pass == 10, "after a pause a burst of the rate again, not more (%d)", pass);
	/* a steady 100 a second for 10 s: 10 a second answered */
	pass = 0;
	for (int t = 0; t < 10000; t += 10)
		pass += dns_rrl_check(r, &b, 20000 + (uint64_t)t) == DNS_RRL_PASS;
	ok(pass >= 100 && pass <= 110, "100 queries a second for 10 s: %d answered (10 a second, a burst of 10)", pass);
	dns_rrl_free(r);

	/* IPv6: a /64 is one client */
	r = dns_rrl_new(2, 0, key);
	a = sa_of("fd00:1::1");
	b = sa_of("fd00:1::2");
	struct sockaddr_storage c = sa_of("fd00:1:0:1::1");

	ok(dns_rrl_check(r, &a, 1) == DNS_RRL_PASS && dns_rrl_check(r, &b, 1) == DNS_RRL_PASS &&
		   dns_rrl_check(r, &a, 1) == DNS_RRL_DROP && dns_rrl_check(r, &c, 1) == DNS_RRL_PASS,
	   "IPv6: fd00:1::1 and ::2 share their /64's bucket, fd00:1:0:1::1 has its own; slip 0: dropped");
	dns_rrl_free(r);
	r = dns_rrl_new(1, 1, key);
	a = sa_of("10.9.9.9");
	ok(dns_rrl_check(r, &a, 1) == DNS_RRL_PASS && dns_rrl_check(r, &a, 1) == DNS_RRL_SLIP &&
		   dns_rrl_check(r, &a, 1) == DNS_RRL_SLIP,
	   "slip 1: every answer over the limit truncated");
	dns_rrl_free(r);

	/* bounded: 100000 clients; an exhausted client stays limited however many others come */
	r = dns_rrl_new(5, 2, key);
	a = sa_of("10.1.0.9");
	for (int i = 0; i < 5; i++)
		dns_rrl_check(r, &a, 100);
	int bypass = 0;

	for (uint32_t i = 0; i < 100000; i++) {
		struct sockaddr_storage x;
		uint32_t ip = htonl(0x0a800000u + i);

		memset(&x, 0, sizeof(x));
		x.ss_family = AF_INET;
		memcpy(&((struct sockaddr_in *)&x)->sin_addr, &ip, 4);
		dns_rrl_check(r, &x, 100);
		if (i % 1000 == 0)
			bypass += dns_rrl_check(r, &a, 100) == DNS_RRL_PASS;
	}
	dns_rrl_stats(r, &st);
	ok(dns_rrl_clients(r) == DNS_RRL_SETS * DNS_RRL_WAYS && st.shared > 0,
	   "100000 clients at once: %zu buckets of their own (table %d), %llu answers counted in shared buckets",
	   dns_rrl_clients(r), DNS_RRL_SETS * DNS_RRL_WAYS, (unsigned long long)st.shared);
	ok(!bypass, "an exhausted client, with 100000 others coming: never answered within the same second (%d)", bypass);
	ok(dns_rrl_check(r, &a, 1100) == DNS_RRL_PASS, "one second later: answered");
	/* refused answers to clients outside: one bucket for all */
	pass = 0;
	for (int i = 0; i < 20; i++)
		pass += dns_rrl_check_refused(r, 2000) == DNS_RRL_PASS;
	dns_rrl_stats(r, &st);
	ok(pass == 5 && st.refused_dropped == 15, "REFUSED to outside clients: 5 a second in all (%d), the rest dropped", pass);
	dns_rrl_free(r);
}

/* the responder's handling of one query (daemon/dns_respond.c) */
static void t_respond(void)
{
	static const uint8_t key[16] = { 7 };
	struct sipovl_prefix r4 = pfx("100.64.1.0/24"), lan = pfx("10.1.0.0/24");
	char *pn[] = { "pbx.example.ziti" };
	struct sipovl_portrange sip = { 5060, 5061 };
	struct dns_zsvc sv[] = { { 7, pn, 1, SIPOVL_PROTO_UDP | SIPOVL_PROTO_TCP, &sip, 1 } };
	struct dns_zone *z = dns_zone_new(&r4, NULL);
	struct dns_acl acl = { .n = 0 };
	struct dns_stats st;
	struct dns_responder rs = { z, &acl, NULL, true, &st };
	struct sockaddr_storage in = sa_of("10.1.0.9"), out = sa_of("192.0.2.7");
	struct dns_query q;
	uint8_t qb[600], b[DNS_TCP_MAX];
	size_t l, ql;
	enum dns_action act;

	memset(&st, 0, sizeof(st));
	dns_zone_set(z, sv, 1);
	dns_acl_add(&acl, &lan);
	ql = mkq(qb, "pbx.example.ziti", DNS_T_NAPTR, 1232);
	act = dns_respond(&rs, qb, ql, &out, false, 1000, &q, b, sizeof(b), &l);
	ok(act == DNS_ACT_REPLY && (dns_get16(b + 2) & 0xf) == DNS_R_REFUSED && !dns_get16(b + 6) && l <= ql &&
		   st.refused_source == 1 && !st.answered && !dns_zone_names(z),
	   "NAPTR from 192.0.2.7 (outside 10.1.0.0/24): REFUSED, %zu bytes for a query of %zu, no name given", l, ql);
	{
		/*
		 * The question's name a compression pointer to offset 0: the header read as a 9-byte
		 * label (ID high byte 9) ending on ARCOUNT's zero high byte. 18 bytes; the name
		 * written out whole would make the REFUSED 27: the header alone, 12.
		 */
		static const uint8_t cq[18] = { 9, 'x', 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0, 0, 1, 0, 1 };
		struct dns_stats keep = st;

		act = dns_respond(&rs, cq, sizeof(cq), &out, false, 1000, &q, b, sizeof(b), &l);
		ok(act == DNS_ACT_NONE || (act == DNS_ACT_REPLY && l <= sizeof(cq)),
		   "a question compressed into the header, from outside: an answer no larger than the query "
		   "(action %d, %zu bytes for %zu)", (int)act, act == DNS_ACT_REPLY ? l : 0, sizeof(cq));
		st = keep;
	}
	ql = mkq(qb, "other.example", DNS_T_ANY, 0);
	act = dns_respond(&rs, qb, ql, &out, false, 1000, &q, b, sizeof(b), &l);
	ok(act == DNS_ACT_REPLY && (dns_get16(b + 2) & 0xf) == DNS_R_REFUSED && st.refused_source == 2,
	   "ANY of a name not ours from outside: REFUSED, not relayed");
	act = dns_respond(&rs, qb, ql, &out, true, 1000, &q, b, sizeof(b), &l);
	ok(act == DNS_ACT_REPLY && (dns_get16(b + 2) & 0xf) == DNS_R_REFUSED, "the same over TCP: REFUSED");
	act = dns_respond(&rs, qb, ql, &in, false, 1000, &q, b, sizeof(b), &l);
	ok(act == DNS_ACT_RELAY && !strcmp(q.name, "other.example"), "from 10.1.0.9: relayed");
	ql = mkq(qb, "pbx.example.ziti", DNS_T_NAPTR, 1232);
	act = dns_respond(&rs, qb, ql, &in, false, 1000, &q, b, sizeof(b), &l);
	ok(act == DNS_ACT_ANSWER_NEW && dns_get16(b + 6) == 3 && l > 2 * ql,
	   "NAPTR from 10.1.0.9: answered (%zu bytes), a new name", l);
	/* no rate limit: a flood answered in full (as before dns_rate_limit) */
	int full = 0;

	for (int i = 0; i < 100; i++)
		full += dns_respond(&rs, qb, ql, &in, false, 1000, &q, b, sizeof(b), &l) == DNS_ACT_ANSWER;
	ok(full == 100, "without a rate limit 100 NAPTR at once: %d answered in full", full);
	/* rate 10, slip 2 */
	rs.rrl = dns_rrl_new(10, 2, key);
	memset(&st, 0, sizeof(st));
	int tc = 0, none = 0, big = 0;

	full = 0;
	for (int i = 0; i < 100; i++) {
		act = dns_respond(&rs, qb, ql, &in, false, 2000, &q, b, sizeof(b), &l);
		full += act == DNS_ACT_ANSWER;
		none += act == DNS_ACT_NONE;
		if (act == DNS_ACT_REPLY) {
			tc += (dns_get16(b + 2) & DNS_F_TC) && !dns_get16(b + 6) && !dns_get16(b + 8);
			big += l > ql;
		}
	}
	ok(full == 10 && tc == 45 && none == 45 && !big && st.rate_limited_tc == 45 && st.rate_limited_dropped == 45,
	   "dns_rate_limit 10: 100 NAPTR at once: %d answered, %d truncated and empty (none larger than the query), %d dropped",
	   full, tc, none);
	act = dns_respond(&rs, qb, ql, &in, true, 2000, &q, b, sizeof(b), &l);
	ok(act == DNS_ACT_ANSWER && dns_get16(b + 6) == 3, "its retry over TCP: answered in full");
	ql = mkq(qb, "other.example", DNS_T_A, 0);
	act = dns_respond(&rs, qb, ql, &in, false, 2000, &q, b, sizeof(b), &l);
	ok(act != DNS_ACT_RELAY && st.rate_limited_dropped + st.rate_limited_tc == 91, "over the limit: not relayed either");
	none = 0;
	for (int i = 0; i < 100; i++)
		none += dns_respond(&rs, qb, ql, &out, false, 3000, &q, b, sizeof(b), &l) == DNS_ACT_NONE;
	ok(none == 90 && st.refused_source == 100, "100 from outside at once: 10 REFUSED, %d dropped", none);
	/* the other REFUSED and errors */
	rs.relay = false;
	act = dns_respond(&rs, qb, ql, &in, true, 3000, &q, b, sizeof(b), &l);
	ok(act == DNS_ACT_REPLY && (dns_get16(b + 2) & 0xf) == DNS_R_REFUSED && st.refused == 1,
	   "no upstream: a name not ours REFUSED");
	rs.relay = true;
	ql = mkq(qb, "other.example", DNS_T_AXFR, 0);
	act = dns_respond(&rs, qb, ql, &in, true, 3000, &q, b, sizeof(b), &l);
	ok(act == DNS_ACT_REPLY && (dns_get16(b + 2) & 0xf) == DNS_R_REFUSED, "zone transfer: REFUSED");
	act = dns_respond(&rs, qb, 11, &in, true, 3000, &q, b, sizeof(b), &l);
	ok(act == DNS_ACT_NONE && st.dropped == 1, "shorter than a header: nothing");
	dns_rrl_free(rs.rrl);
	dns_zone_free(z);
}

/* dns_allow, dns_rate_limit, dns_rate_slip in sipovld.conf */
static void t_guard_cfg(void)
{
	struct daemon_cfg d;
	char err[CFG_ERRLEN], b[64];
	static const struct {
		const char *json, *err;
	} bad[] = {
		{ "{\"dns_allow\": \"10.0.0.0/8\"}", "dns_allow: expected an array of prefixes" },
		{ "{\"dns_allow\": []}", "dns_allow: empty: no client would be answered" },
		{ "{\"dns_allow\": [\"10.0.0.0/33\"]}", "dns_allow[0]: \"10.0.0.0/33\": expected an IPv4 or IPv6 prefix" },
		{ "{\"dns_allow\": [\"10.0.0.0/8\", \"gw.example\"]}", "dns_allow[1]: \"gw.example\": expected" },
		{ "{\"dns_allow\": [\"fd00::/129\"]}", "dns_allow[0]: \"fd00::/129\"" },
		{ "{\"dns_allow\": [\"10.0.0/24\"]}", "dns_allow[0]: \"10.0.0/24\"" },
		{ "{\"dns_allow\": [\"connected\", 10]}", "dns_allow[1]: 10: expected" },
		{ "{\"dns_rate_limit\": -1}", "dns_rate_limit: -1: expected 0-100000" },
		{ "{\"dns_rate_limit\": \"fast\"}", "dns_rate_limit: \"fast\": expected 0-100000" },
		{ "{\"dns_rate_limit\": 100001}", "dns_rate_limit: 100001: expected 0-100000" },
		{ "{\"dns_rate_slip\": 11}", "dns_rate_slip: 11: expected 0-10" },
		{ "{\"dns_rate_slip\": -2}", "dns_rate_slip: -2: expected 0-10" },
	};

	daemon_cfg_defaults(&d);
	ok(d.dns_allow_connected && !d.n_dns_allow && d.dns_rate_limit == 100 && d.dns_rate_slip == 2,
	   "defaults: dns_allow [\"connected\"], dns_rate_limit 100, dns_rate_slip 2");
	ok(!daemon_cfg_parse("{\"dns_allow\": [\"10.1.0.9/24\", \"fd00:1::/64\", \"192.0.2.7\"], \"dns_rate_limit\": 0, "
			     "\"dns_rate_slip\": 0}", &d, err, sizeof(err)) &&
		   !d.dns_allow_connected && d.n_dns_allow == 3 &&
		   !strcmp(cfg_fmt_prefix(&d.dns_allow[0], b, sizeof(b)), "10.1.0.0/24") && d.dns_allow[1].len == 64 &&
		   d.dns_allow[2].len == 32 && !d.dns_rate_limit && !d.dns_rate_slip,
	   "dns_allow without \"connected\": 10.1.0.0/24 (host bits cleared), fd00:1::/64, 192.0.2.7/32; no rate limit");
	ok(daemon_cfg_parse("{\"dns_allow\": [\"172.16.0.0/12\", \"x\"], \"dns_rate_limit\": 5}", &d, err, sizeof(err)) &&
		   d.n_dns_allow == 3 && !strcmp(cfg_fmt_prefix(&d.dns_allow[0], b, sizeof(b)), "10.1.0.0/24") &&
		   !d.dns_allow_connected,
	   "a bad dns_allow leaves the list it replaces whole (%s)", err);
	ok(!daemon_cfg_parse("{\"dns_allow\": [\"connected\", \"10.2.0.0/16\"], \"dns_rate_limit\": 20}", &d, err,
			     sizeof(err)) &&
		   d.dns_allow_connected && d.n_dns_allow == 1 && d.dns_rate_limit == 20,
	   "\"connected\" and a routed subnet; rate 20");
	daemon_cfg_free(&d);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		daemon_cfg_defaults(&d);
		ok(daemon_cfg_parse(bad[i].json, &d, err, sizeof(err)) && strstr(err, bad[i].err), "refused: %s (%s)",
		   bad[i].json, err);
		daemon_cfg_free(&d);
	}
}

#endif
