// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests (TAP 13) of sipovld's DNS message parser and builder (daemon/dns_msg.c): names and
 * compression, label and name limits, QDCOUNT, EDNS0, answers of every type, errors,
 * truncation, TCP framing; the responder's names (daemon/dns_zone.c): addresses from the
 * virtual ranges, SIP discovery (NAPTR, SRV), negative answers, kernel prefixes, a flood of names
 * (idle names reclaimed, least recently used first; names in use kept); stable addresses and
 * the saved table (dns_names_unit.h); who is answered and how often, and a query's handling
 * (tests/daemon/dns_guard_unit.h). Built with ASan/UBSan
 * ($(O)/san/dns-unit); run by tests/daemon/run.sh.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include "daemon/cfg.h"
#include "daemon/dns_msg.h"
#include "daemon/dns_zone.h"

#include "tests/daemon/tap.h"

/* A query for @name/@type; @edns: payload size (0: no OPT). Returns its length. */
static size_t mkq(uint8_t *b, const char *name, uint16_t type, uint16_t edns)
{
	size_t o = DNS_HDRLEN;
	int l;

	memset(b, 0, DNS_HDRLEN);
	dns_put16(b, 0x1234);
	dns_put16(b + 2, DNS_F_RD);
	dns_put16(b + 4, 1);
	l = dns_name_wire(name, b + o, 300);
	if (l < 0)
		return 0;
	o += (size_t)l;
	dns_put16(b + o, type);
	dns_put16(b + o + 2, DNS_C_IN);
	o += 4;
	if (edns) {
		dns_put16(b + 10, 1);
		b[o] = 0;
		dns_put16(b + o + 1, DNS_T_OPT);
		dns_put16(b + o + 3, edns);
		memset(b + o + 5, 0, 6);
		o += 11;
	}
	return o;
}

static void t_names(void)
{
	uint8_t w[300], m[600];
	char s[DNS_NAME_STRLEN], err[128];
	size_t next;
	int l;

	l = dns_name_wire("PBX.Example.ziti.", w, sizeof(w));
	ok(l == 18 && w[0] == 3 && !memcmp(w + 1, "PBX", 3) && w[17] == 0, "wire form of a name with a trailing dot");
	ok(dns_name_wire("", w, sizeof(w)) == 1 && dns_name_wire(".", w, sizeof(w)) == 1, "root");
	ok(dns_name_wire("a..b", w, sizeof(w)) < 0 && dns_name_wire(".a", w, sizeof(w)) < 0, "empty label refused");
	memset(s, 'a', 64);
	s[64] = 0;
	ok(dns_name_wire(s, w, sizeof(w)) < 0, "64-byte label refused");
	s[63] = 0;
	ok(dns_name_wire(s, w, sizeof(w)) == 65, "63-byte label taken");
	/* 4 labels of 63 = 256 wire bytes with the root: too long; 3 of 63 + one of 61 = 255 */
	char big[300];

	for (int i = 0; i < 4; i++) {
		memcpy(big + i * 64, s, 63);
		big[i * 64 + 63] = '.';
	}
	big[255] = 0;
	ok(dns_name_wire(big, w, sizeof(w)) < 0, "name of 257 wire bytes refused");
	big[strlen(big) - 2] = 0;
	ok(dns_name_wire(big, w, sizeof(w)) == 255, "name of 255 wire bytes taken");
	ok(dns_name_wire("a\\.b.c", w, sizeof(w)) == 7 && w[0] == 3 && w[2] == '.', "escaped dot stays in its label");
	ok(dns_name_wire("a\\256", w, sizeof(w)) < 0, "\\256 refused");

	/* reading: case folded, escapes, compression */
	memset(m, 0, sizeof(m));
	l = dns_name_wire("Sip.Example", m + 20, 100);
	m[40] = 3;
	memcpy(m + 41, "pbx", 3);
	m[44] = 0xc0;
	m[45] = 20;
	ok(!dns_name_read(m, 60, 40, s, sizeof(s), &next, err, sizeof(err)) && !strcmp(s, "pbx.sip.example") && next == 46,
	   "compressed name read, lower case (%s, next %zu)", s, next);
	m[44] = 0xc0;
	m[45] = 40; /* points to itself */
	ok(dns_name_read(m, 60, 40, s, sizeof(s), &next, err, sizeof(err)) && strstr(err, "backwards"),
	   "pointer loop refused (%s)", err);
	m[45] = 50; /* forwards */
	ok(dns_name_read(m, 60, 40, s, sizeof(s), &next, err, sizeof(err)), "forward pointer refused");
	m[44] = 0x80;
	ok(dns_name_read(m, 60, 40, s, sizeof(s), &next, err, sizeof(err)) && strstr(err, "label type"),
	   "label type 10 refused (%s)", err);
	m[44] = 0xc0;
	ok(dns_name_read(m, 45, 40, s, sizeof(s), &next, err, sizeof(err)), "pointer cut short refused");
	ok(dns_name_read(m, 43, 40, s, sizeof(s), &next, err, sizeof(err)), "label past the end refused");
	/* a chain of pointers making a name over 255 bytes */
	size_t o = 0;

	/* m: [60 x..][0] then blocks each ending in a pointer to the block before */
	o = 0;
	m[o] = 60, memset(m + 1, 'x', 60), m[61] = 0;
	for (int i = 1; i < 6; i++) {
		size_t b = 62 + (size_t)(i - 1) * 63;

		m[b] = 60;
		memset(m + b + 1, 'y', 60);
		m[b + 61] = 0xc0;
		m[b + 62] = (uint8_t)(i == 1 ? 0 : 62 + (i - 2) * 63);
	}
	ok(!dns_name_read(m, 600, 62 + 63, s, sizeof(s), &next, err, sizeof(err)) && strlen(s) == 3 * 60 + 2,
	   "chain of 2 pointers read");
	ok(dns_name_read(m, 600, 62 + 4 * 63, s, sizeof(s), &next, err, sizeof(err)) && strstr(err, "longer"),
	   "chain making 305 bytes refused (%s)", err);
	/* escapes */
	m[0] = 3;
	memcpy(m + 1, "a.\x01", 3);
	m[4] = 0;
	ok(!dns_name_read(m, 5, 0, s, sizeof(s), &next, err, sizeof(err)) && !strcmp(s, "a\\046\\001"),
	   "dot and control byte escaped (%s)", s);
	ok(dns_name_wire(s, w, sizeof(w)) == 5 && !memcmp(w, m, 5), "escaped name round-trips");

	ok(dns_name_match("pbx.example", "pbx.example"), "exact match");
	ok(!dns_name_match("pbx.example", "a.pbx.example"), "exact does not match a subdomain");
	ok(dns_name_match("*.voip.example", "a.b.voip.example"), "wildcard matches below");
	ok(!dns_name_match("*.voip.example", "voip.example"), "wildcard does not match its base");
	ok(!dns_name_match("*.voip.example", "xvoip.example"), "wildcard needs a label boundary");
	ok(dns_name_under("_sip._udp.pbx.example", "pbx.example") && dns_name_under("x", ""), "under");
}

static void t_queries(void)
{
	uint8_t b[700];
	struct dns_query q;
	char err[128];
	size_t l;

	l = mkq(b, "PBX.example", DNS_T_A, 0);
	ok(dns_parse_query(b, l, &q, err, sizeof(err)) == DNS_R_NOERROR && !strcmp(q.name, "pbx.example") &&
		   q.qtype == DNS_T_A && q.qclass == DNS_C_IN && !q.edns && q.udp_size == 512 && q.id == 0x1234,
	   "plain A query");
	ok(dns_udp_limit(&q) == 512, "UDP limit 512 without EDNS0");
	l = mkq(b, "pbx.example", DNS_T_SRV, 4096);
	ok(dns_parse_query(b, l, &q, err, sizeof(err)) == DNS_R_NOERROR && q.edns && q.udp_size == 4096 &&
		   dns_udp_limit(&q) == DNS_EDNS_OURS,
	   "EDNS0 4096 read, our limit %d used", DNS_EDNS_OURS);
	b[l - 5] = 1; /* version 1 */
	ok(dns_parse_query(b, l, &q, err, sizeof(err)) == DNS_R_BADVERS, "EDNS version 1: BADVERS (%s)", err);
	b[l - 5] = 0;
	b[l - 4] = 0x80; /* flags: DO */
	ok(dns_parse_query(b, l, &q, err, sizeof(err)) == DNS_R_NOERROR && q.edns_do, "DO bit read");
	l = mkq(b, "pbx.example", DNS_T_SRV, 100);
	ok(dns_parse_query(b, l, &q, err, sizeof(err)) == 0 && dns_udp_limit(&q) == 512, "EDNS0 size below 512 is 512");
	/* two OPT records */
	memcpy(b + l, b + l - 11, 11);
	dns_put16(b + 10, 2);
	ok(dns_parse_query(b, l + 11, &q, err, sizeof(err)) == DNS_R_FORMERR, "two OPT: FORMERR (%s)", err);
	l = mkq(b, "pbx.example", DNS_T_A, 0);
	ok(dns_parse_query(b, 11, &q, err, sizeof(err)) == -1, "11 bytes: no answer");
	ok(dns_parse_query(b, l - 1, &q, err, sizeof(err)) == DNS_R_FORMERR && !q.has_question && q.id == 0x1234,
	   "question cut short: FORMERR (%s)", err);
	ok(dns_parse_query(b, l + 1, &q, err, sizeof(err)) == DNS_R_FORMERR && strstr(err, "after"),
	   "trailing byte: FORMERR (%s)", err);
	dns_put16(b + 4, 0);
	ok(dns_parse_query(b, l, &q, err, sizeof(err)) == DNS_R_FORMERR && strstr(err, "QDCOUNT 0"), "QDCOUNT 0: FORMERR");
	dns_put16(b + 4, 2);
	ok(dns_parse_query(b, l, &q, err, sizeof(err)) == DNS_R_FORMERR && strstr(err, "QDCOUNT 2"), "QDCOUNT 2: FORMERR");
	dns_put16(b + 4, 1);
	dns_put16(b + 6, 1);
	ok(dns_parse_query(b, l, &q, err, sizeof(err)) == DNS_R_FORMERR, "ANCOUNT 1: FORMERR");
	dns_put16(b + 6, 0);
	dns_put16(b + 2, DNS_F_QR);
	ok(dns_parse_query(b, l, &q, err, sizeof(err)) == -1, "a response: no answer");
	dns_put16(b + 2, 2 << 11);
	ok(dns_parse_query(b, l, &q, err, sizeof(err)) == DNS_R_NOTIMP, "opcode STATUS: NOTIMP");
	l = mkq(b, "", DNS_T_OPT, 0);
	ok(dns_parse_query(b, l, &q, err, sizeof(err)) == DNS_R_FORMERR, "QTYPE OPT: FORMERR");
	l = mkq(b, ".", DNS_T_SOA, 0);
	ok(dns_parse_query(b, l, &q, err, sizeof(err)) == 0 && !strcmp(q.name, "") && q.qend == 17, "root SOA query");
}

/* The records of an answer: count and the end offset, walking every record. */
static int walk(const uint8_t *b, size_t len, unsigned *nrr)
{
	size_t off = DNS_HDRLEN, next;
	char s[DNS_NAME_STRLEN], err[64];
	unsigned total = dns_get16(b + 6) + dns_get16(b + 8) + dns_get16(b + 10);

	if (dns_get16(b + 4)) {
		if (dns_name_read(b, len, off, s, sizeof(s), &next, err, sizeof(err)))
			return -1;
		off = next + 4;
	}
	for (*nrr = 0; *nrr < total; (*nrr)++) {
		if (dns_name_read(b, len, off, s, sizeof(s), &next, err, sizeof(err)) || next + 10 > len)
			return -1;
		off = next + 10 + dns_get16(b + next + 8);
	}
	return off == len ? 0 : -1;
}

static void t_answers(void)
{
	uint8_t qb[600], b[DNS_TCP_MAX];
	struct dns_query q;
	struct dns_resp r;
	char err[128];
	size_t l;
	unsigned nrr;

	l = mkq(qb, "PbX.example", DNS_T_A, 0);
	dns_parse_query(qb, l, &q, err, sizeof(err));
	ok(!dns_resp_begin(&r, b, sizeof(b), dns_udp_limit(&q), &q, DNS_R_NOERROR, true, true), "begin");
	struct dns_rr a = { .type = DNS_T_A, .ttl = 60, .a = { 100, 64, 0, 1 } };

	ok(dns_resp_add(&r, DNS_SEC_AN, &a) == 0, "A added");
	l = dns_resp_finish(&r);
	ok(l == 12 + 17 + 16 && !memcmp(b + 13, "PbX", 3) && b[29] == 0xc0 && b[30] == 12 && !memcmp(b + l - 4, a.a, 4),
	   "A answer: question in the case asked, owner a pointer to it (%zu bytes)", l);
	ok((dns_get16(b + 2) & (DNS_F_QR | DNS_F_AA | DNS_F_RD | DNS_F_RA | 0xf)) == (DNS_F_QR | DNS_F_AA | DNS_F_RD | DNS_F_RA),
	   "flags QR AA RD RA, NOERROR");

	l = mkq(qb, "_sip._udp.pbx.example", DNS_T_SRV, 1232);
	dns_parse_query(qb, l, &q, err, sizeof(err));
	dns_resp_begin(&r, b, sizeof(b), dns_udp_limit(&q), &q, 0, true, true);
	struct dns_rr srv = { .type = DNS_T_SRV, .ttl = 60, .srv = { 10, 1, 5060, "pbx.example" } };
	struct dns_rr naptr = { .name = "pbx.example", .type = DNS_T_NAPTR, .ttl = 60,
				.naptr = { 10, 20, "s", "SIP+D2U", "", "_sip._udp.pbx.example" } };
	struct dns_rr aaaa = { .name = "pbx.example", .type = DNS_T_AAAA, .ttl = 60, .aaaa = { 0xfd, 0, [15] = 7 } };

	ok(dns_resp_add(&r, DNS_SEC_AN, &srv) == 0 && dns_resp_add(&r, DNS_SEC_AR, &naptr) == 0 &&
		   dns_resp_add(&r, DNS_SEC_AR, &aaaa) == 0,
	   "SRV, NAPTR, AAAA added");
	ok(dns_resp_add(&r, DNS_SEC_AN, &srv) == -1, "sections out of order refused");
	l = dns_resp_finish(&r);
	ok(!walk(b, l, &nrr) && nrr == 4 && dns_get16(b + 10) == 3, "answer walks: 4 records with OPT (%u)", nrr);
	ok(b[l - 11] == 0 && dns_get16(b + l - 10) == DNS_T_OPT && dns_get16(b + l - 8) == DNS_EDNS_OURS, "OPT last");
	struct dns_rr bad = { .type = DNS_T_SRV, .srv = { 0, 0, 0, "a..b" } };

	dns_resp_begin(&r, b, sizeof(b), 512, &q, 0, true, true);
	ok(dns_resp_add(&r, DNS_SEC_AN, &bad) == -1, "SRV with a bad target refused");
	bad.type = 99;
	ok(dns_resp_add(&r, DNS_SEC_AN, &bad) == -1, "unknown type refused");

	/* negative answer: SOA in authority */
	l = mkq(qb, "nothere.pbx.example", DNS_T_AAAA, 0);
	dns_parse_query(qb, l, &q, err, sizeof(err));
	dns_resp_begin(&r, b, sizeof(b), 512, &q, DNS_R_NXDOMAIN, true, true);
	struct dns_rr soa = { .name = "pbx.example", .type = DNS_T_SOA, .ttl = 60,
			      .soa = { "pbx.example", "hostmaster.pbx.example", 1, 3600, 600, 86400, 60 } };

	ok(dns_resp_add(&r, DNS_SEC_NS, &soa) == 0, "SOA added");
	l = dns_resp_finish(&r);
	ok(!walk(b, l, &nrr) && nrr == 1 && (dns_get16(b + 2) & 0xf) == DNS_R_NXDOMAIN && dns_get16(b + 8) == 1,
	   "NXDOMAIN with SOA in authority");

	/* truncation: 40 AAAA records do not fit 512 bytes */
	l = mkq(qb, "pbx.example", DNS_T_AAAA, 0);
	dns_parse_query(qb, l, &q, err, sizeof(err));
	dns_resp_begin(&r, b, sizeof(b), dns_udp_limit(&q), &q, 0, true, true);
	aaaa.name = NULL;
	int added = 0, left = 0;

	for (int i = 0; i < 40; i++) {
		int rc = dns_resp_add(&r, DNS_SEC_AN, &aaaa);

		added += rc == 0;
		left += rc == 1;
	}
	l = dns_resp_finish(&r);
	ok(l <= 512 && (dns_get16(b + 2) & DNS_F_TC) && added == 17 && left == 23 && !walk(b, l, &nrr) && nrr == 17,
	   "UDP 512: 17 of 40 AAAA (29 + 17 x 28 bytes), TC set (%zu bytes)", l);
	dns_resp_begin(&r, b, sizeof(b), DNS_TCP_MAX, &q, 0, true, true);
	for (int i = 0; i < 40; i++)
		dns_resp_add(&r, DNS_SEC_AN, &aaaa);
	l = dns_resp_finish(&r);
	ok(!(dns_get16(b + 2) & DNS_F_TC) && dns_get16(b + 6) == 40, "TCP: all 40, no TC");
	/* additional records that do not fit are left out without TC */
	dns_resp_begin(&r, b, sizeof(b), 512, &q, 0, true, true);
	for (int i = 0; i < 40; i++)
		dns_resp_add(&r, DNS_SEC_AR, &aaaa);
	l = dns_resp_finish(&r);
	ok(!(dns_get16(b + 2) & DNS_F_TC) && dns_get16(b + 10) == 17, "additional section: left out, no TC");
	ok(dns_resp_begin(&r, b, 20, 512, &q, 0, true, true) == -1, "buffer under the question refused");
}

static void t_errors(void)
{
	uint8_t qb[600], b[600];
	struct dns_query q;
	char err[128];
	size_t l, e;
	unsigned nrr;
	const int codes[] = { DNS_R_FORMERR, DNS_R_SERVFAIL, DNS_R_NXDOMAIN, DNS_R_REFUSED, DNS_R_NOTIMP };

	l = mkq(qb, "pbx.example", DNS_T_A, 0);
	dns_parse_query(qb, l, &q, err, sizeof(err));
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		e = dns_error(b, sizeof(b), &q, codes[i]);
		ok(e == l && (dns_get16(b + 2) & 0xf) == codes[i] && dns_get16(b) == 0x1234 && dns_get16(b + 4) == 1 &&
			   !walk(b, e, &nrr),
		   "error rcode %d echoes the question", codes[i]);
	}
	dns_put16(qb + 4, 0);
	ok(dns_parse_query(qb, l, &q, err, sizeof(err)) == DNS_R_FORMERR, "QDCOUNT 0");
	e = dns_error(b, sizeof(b), &q, DNS_R_FORMERR);
	ok(e == DNS_HDRLEN && dns_get16(b + 4) == 0 && (dns_get16(b + 2) & 0xf) == 1, "FORMERR: header only");
	l = mkq(qb, "pbx.example", DNS_T_A, 1232);
	qb[l - 5] = 2;
	ok(dns_parse_query(qb, l, &q, err, sizeof(err)) == DNS_R_BADVERS, "EDNS version 2");
	e = dns_error(b, sizeof(b), &q, DNS_R_BADVERS);
	ok(e == l && (dns_get16(b + 2) & 0xf) == 0 && b[e - 6] == 1 && dns_get16(b + 10) == 1,
	   "BADVERS: rcode 16 in the OPT's extended rcode");
	q.edns = false;
	e = dns_error(b, sizeof(b), &q, DNS_R_BADVERS);
	ok((dns_get16(b + 2) & 0xf) == DNS_R_FORMERR, "BADVERS without OPT becomes FORMERR");
	ok(dns_error(b, 5, &q, DNS_R_SERVFAIL) == 0, "no room: nothing");
}


/* The answer to @name/@type from @z: its rcode, records per section, and the first answer's data */
struct got {
	int rcode, an, ns, ar;
	bool aa, tc;
	uint16_t t0;                    /* type of the first record */
	uint8_t d0[64];                 /* its data */
	size_t l0;
};

static int zq(struct dns_zone *z, const char *name, uint16_t type, struct got *g, bool *changed)
{
	uint8_t qb[600], b[4096];
	struct dns_query q;
	char err[64], s[DNS_NAME_STRLEN];
	size_t l = mkq(qb, name, type, 0), off, next;
	int rl;

	memset(g, 0, sizeof(*g));
	if (dns_parse_query(qb, l, &q, err, sizeof(err)))
		return -2;
	rl = dns_zone_answer(z, &q, b, sizeof(b), dns_udp_limit(&q), true, changed);
	if (rl <= 0)
		return rl;
	g->rcode = dns_get16(b + 2) & 0xf;
	g->aa = dns_get16(b + 2) & DNS_F_AA;
	g->tc = dns_get16(b + 2) & DNS_F_TC;
	g->an = dns_get16(b + 6);
	g->ns = dns_get16(b + 8);
	g->ar = dns_get16(b + 10);
	if (dns_name_read(b, (size_t)rl, DNS_HDRLEN, s, sizeof(s), &next, err, sizeof(err)))
		return -3;
	off = next + 4;
	if (g->an + g->ns) {
		if (dns_name_read(b, (size_t)rl, off, s, sizeof(s), &next, err, sizeof(err)))
			return -3;
		g->t0 = dns_get16(b + next);
		g->l0 = dns_get16(b + next + 8);
		memcpy(g->d0, b + next + 10, g->l0 < sizeof(g->d0) ? g->l0 : sizeof(g->d0));
	}
	unsigned nrr;

	return walk(b, (size_t)rl, &nrr) ? -3 : rl;
}

static void t_zone(void)
{
	struct sipovl_prefix r4, r6;
	struct dns_zone *z;
	struct got g;
	bool ch = false;
	char *p1[] = { "PBX.example.ziti." }, *p2[] = { "*.voip.example" }, *p3[] = { "tls.example" };
	struct sipovl_portrange sip = { 5060, 5061 }, rtp = { 10000, 20000 }, one = { 5080, 5080 };
	struct dns_zsvc sv[] = {
		{ 7, p1, 1, SIPOVL_PROTO_UDP | SIPOVL_PROTO_TCP, &sip, 1 },
		{ 8, p2, 1, SIPOVL_PROTO_UDP, &one, 1 },
		{ 9, p2, 1, SIPOVL_PROTO_UDP, &rtp, 1 },
		{ 10, p3, 1, SIPOVL_PROTO_TCP, &sip, 1 },
	};
	uint8_t a4[4], a6[16];

	memset(&r4, 0, sizeof(r4));
	memset(&r6, 0, sizeof(r6));
	r4.family = AF_INET, r4.len = 24, inet_pton(AF_INET, "100.64.1.0", r4.addr);
	r6.family = AF_INET6, r6.len = 120, inet_pton(AF_INET6, "fd00:5::", r6.addr);
	ok(!dns_zone_new(NULL, NULL), "a zone needs a range");
	struct sipovl_prefix tiny = r4;

	tiny.len = 31;
	ok(!dns_zone_new(&tiny, NULL), "a /31 range refused");
	z = dns_zone_new(&r4, &r6);
	ok(z && dns_zone_set(z, sv, 4) == 0, "zone with 4 services");
	/* the offsets are the names' hashes (the /24 and the /120 share 254 offsets) */
	uint32_t h_pbx = dns_zone_home(z, "pbx.example.ziti"), h_a = dns_zone_home(z, "a.voip.example"),
		 h_bc = dns_zone_home(z, "b.c.voip.example");

	ok(h_pbx >= 1 && h_pbx <= 254 && h_pbx == dns_zone_home(z, "PBX.Example.ZITI") && h_a != h_pbx && h_bc != h_pbx &&
		   h_a != h_bc,
	   "home offsets: pbx %u, a %u, b.c %u (case ignored)", h_pbx, h_a, h_bc);
	ok(zq(z, "other.example", DNS_T_A, &g, &ch) == 0 && !ch, "a name of no service: relayed");
	ok(zq(z, "pbx.example.ziti", DNS_T_A, &g, &ch) > 0 && ch && g.aa && g.rcode == 0 && g.an == 1 &&
		   g.t0 == DNS_T_A && inet_pton(AF_INET, "100.64.1.0", a4) && !memcmp(g.d0, a4, 3) && g.d0[3] == h_pbx,
	   "exact name (pattern upper case, trailing dot): A 100.64.1.%u, a new name", h_pbx);
	ch = false;
	ok(zq(z, "PBX.EXAMPLE.ZITI", DNS_T_AAAA, &g, &ch) > 0 && !ch && g.an == 1 && g.t0 == DNS_T_AAAA &&
		   inet_pton(AF_INET6, "fd00:5::", a6) && !memcmp(g.d0, a6, 15) && g.d0[15] == h_pbx,
	   "same name in upper case: AAAA fd00:5::%x (same offset), no new name", h_pbx);
	ok(zq(z, "a.voip.example", DNS_T_A, &g, &ch) > 0 && ch && g.an == 1 && g.d0[3] == h_a, "wildcard name: 100.64.1.%u",
	   h_a);
	ok(zq(z, "b.c.voip.example", DNS_T_ANY, &g, &ch) > 0 && g.an == 2 && g.d0[3] == h_bc, "ANY: A and AAAA, .%u", h_bc);
	ok(zq(z, "voip.example", DNS_T_A, &g, &ch) == 0, "wildcard base itself: relayed");
	ok(zq(z, "pbx.example.ziti", DNS_T_MX, &g, &ch) > 0 && g.rcode == 0 && !g.an && g.ns == 1 && g.t0 == DNS_T_SOA,
	   "MX: NODATA with SOA");
	/* SIP discovery */
	ok(zq(z, "pbx.example.ziti", DNS_T_NAPTR, &g, &ch) > 0 && g.an == 3 && g.ar == 5 && g.t0 == DNS_T_NAPTR,
	   "NAPTR: SIPS+D2T, SIP+D2T, SIP+D2U; 3 SRV + A + AAAA additional (an %d ar %d)", g.an, g.ar);
	ok(g.l0 > 12 && dns_get16(g.d0) == 10 && dns_get16(g.d0 + 2) == 30 && !memcmp(g.d0 + 4, "\1s\7SIP+D2U", 10),
	   "first NAPTR: order 10 pref 30 \"s\" SIP+D2U");
	ok(zq(z, "_sip._udp.pbx.example.ziti", DNS_T_SRV, &g, &ch) > 0 && g.an == 1 && g.ar == 2 && g.t0 == DNS_T_SRV &&
		   dns_get16(g.d0 + 4) == 5060 && !memcmp(g.d0 + 6, "\3pbx\7example\4ziti", 18),
	   "SRV _sip._udp: 10 1 5060 pbx.example.ziti, A and AAAA additional");
	ok(zq(z, "_sips._tcp.pbx.example.ziti", DNS_T_SRV, &g, &ch) > 0 && g.an == 1 && dns_get16(g.d0 + 4) == 5061,
	   "SRV _sips._tcp: 5061");
	ok(zq(z, "_sip._udp.tls.example", DNS_T_SRV, &g, &ch) > 0 && g.rcode == DNS_R_NXDOMAIN && g.ns == 1 &&
		   g.t0 == DNS_T_SOA,
	   "SRV _sip._udp of a TCP-only service: NXDOMAIN with SOA");
	ok(zq(z, "_sip._udp.x.voip.example", DNS_T_SRV, &g, &ch) > 0 && g.an == 1 && dns_get16(g.d0 + 4) == 5080,
	   "wildcard service with one port: SRV _sip._udp 5080 (not the RTP range)");
	ok(zq(z, "_sip._tcp.x.voip.example", DNS_T_SRV, &g, &ch) > 0 && g.rcode == DNS_R_NXDOMAIN,
	   "wildcard UDP-only service: _sip._tcp NXDOMAIN");
	ok(zq(z, "_sip._udp.x.voip.example", DNS_T_A, &g, &ch) > 0 && g.rcode == 0 && !g.an && g.ns == 1,
	   "A of an SRV name: NODATA");
	/* kernel prefixes: service 7 has pbx; 8 and 9 have the 4 wildcard names (a, b.c, x for SRV) */
	struct sipovl_prefix *pv;
	size_t np;

	ok(!dns_zone_prefixes(z, 7, &pv, &np) && np == 2 && pv[0].len == 32 && pv[1].len == 128, "service 7: /32 + /128");
	free(pv);
	ok(!dns_zone_prefixes(z, 9, &pv, &np) && np == 6, "service 9: 3 names, 6 prefixes (%zu)", np);
	free(pv);
	ok(!dns_zone_prefixes(z, 99, &pv, &np) && np == 0 && !pv, "unknown service: none");
	/* the services whose dial a query announces (their Dial sessions are fetched then) */
	uint32_t kids[4];

	ok(dns_zone_kids(z, "pbx.example.ziti", kids, 4) == 1 && kids[0] == 7, "kids of pbx.example.ziti: 7");
	ok(dns_zone_kids(z, "_sip._tcp.pbx.example.ziti", kids, 4) == 1 && kids[0] == 7,
	   "kids of _sip._tcp.pbx.example.ziti: 7 (its domain's)");
	ok(dns_zone_kids(z, "_sip._udp.x.voip.example", kids, 4) == 2 && kids[0] == 8 && kids[1] == 9,
	   "kids of an SRV name under a wildcard: 8 and 9");
	ok(dns_zone_kids(z, "a.voip.example", kids, 1) == 1 && kids[0] == 8, "at most max: 1");
	ok(dns_zone_kids(z, "other.example", kids, 4) == 0 && dns_zone_kids(z, "voip.example", kids, 4) == 0,
	   "kids of names no service has: none");
	/* stability: removing the wildcard services drops their names only */
	ok(dns_zone_set(z, sv, 1) == 4 && dns_zone_names(z) == 1, "services 8-10 gone: 4 names dropped");
	ok(zq(z, "pbx.example.ziti", DNS_T_A, &g, &ch) > 0 && g.d0[3] == h_pbx, "pbx keeps 100.64.1.%u", h_pbx);
	ch = false;
	dns_zone_set(z, sv, 4);
	ok(zq(z, "a.voip.example", DNS_T_A, &g, &ch) > 0 && ch && g.d0[3] == h_a,
	   "a dropped name asked again (its service back): its home address again, .%u", h_a);
	dns_zone_free(z);
	/* full: a /29 has 6 usable addresses; IPv4 only */
	r4.len = 29;
	z = dns_zone_new(&r4, NULL);
	dns_zone_set(z, sv, 4);
	char nm[64];
	int got_addr = 0;

	for (int i = 0; i < 8; i++) {
		snprintf(nm, sizeof(nm), "h%d.voip.example", i);
		if (zq(z, nm, DNS_T_A, &g, &ch) > 0 && g.rcode == 0 && g.an == 1)
			got_addr++;
	}
	ok(got_addr == 6 && g.rcode == DNS_R_SERVFAIL, "/29: 6 names get addresses, the 8th SERVFAIL");
	ok(zq(z, "h0.voip.example", DNS_T_AAAA, &g, &ch) > 0 && g.rcode == 0 && !g.an && g.ns == 1,
	   "no IPv6 range: AAAA NODATA");
	dns_zone_free(z);
}

/* stable addresses and the saved table: t_stable, t_collide, t_file (they use zq) */
#include "tests/daemon/dns_names_unit.h"

/* the live-flow hook of t_flood: the address of "keep" has a flow */
static uint8_t keep_a4[4];
static unsigned live_calls;

static void live_keep(struct dns_zone *z, void *arg)
{
	(void)arg;
	live_calls++;
	dns_zone_touch(z, AF_INET, keep_a4);
}

/*
 * A flood of distinct names under a wildcard: more names than the table holds. Names idle
 * longer than dns_name_idle_s and without live flows are reclaimed, oldest first; a name
 * queried recently or with a live flow keeps its address; a flood faster than names go idle
 * is refused (SERVFAIL, counted) at bounded cost: no reclaim scan until a name can be idle.
 */
static void t_flood(void)
{
	struct sipovl_prefix r4;
	struct dns_zone *z;
	struct dns_zone_stats st;
	struct got g;
	bool ch;
	char *p2[] = { "*.voip.example" }, nm[64];
	struct sipovl_portrange one = { 5060, 5060 };
	struct dns_zsvc sv[] = { { 8, p2, 1, SIPOVL_PROTO_UDP | SIPOVL_PROTO_TCP, &one, 1 } };
	enum { N = 10000, RATE = 10 };   /* 10 names a second for 1000 s */
	static uint8_t first[N][4];      /* the address each flood name got */
	uint8_t recent_a4[4];
	int answered = 0, wrong_owner = 0, lost_recent = 0, recent_moved = 0;

	memset(&r4, 0, sizeof(r4));
	r4.family = AF_INET, r4.len = 16, inet_pton(AF_INET, "100.64.0.0", r4.addr);
	z = dns_zone_new(&r4, NULL);
	dns_zone_set(z, sv, 1);
	dns_zone_set_idle(z, 300);
	dns_zone_set_live(z, live_keep, NULL);
	dns_zone_clock(z, 1000);
	ok(zq(z, "keep.voip.example", DNS_T_A, &g, &ch) > 0 && g.an == 1, "keep.voip.example: an address");
	memcpy(keep_a4, g.d0, 4);
	ok(zq(z, "recent.voip.example", DNS_T_A, &g, &ch) > 0 && g.an == 1, "recent.voip.example: an address");
	memcpy(recent_a4, g.d0, 4);
	for (int i = 0; i < N; i++) {
		uint64_t now = 1000 + (uint64_t)i / RATE;

		dns_zone_clock(z, now);
		if (i % (30 * RATE) == 0) { /* a client that asks again every 30 s (TTL 60) */
			ch = false;
			if (zq(z, "recent.voip.example", DNS_T_A, &g, &ch) <= 0 || g.an != 1 || memcmp(g.d0, recent_a4, 4))
				recent_moved++;
		}
		snprintf(nm, sizeof(nm), "f%d.voip.example", i);
		ch = false;
		if (zq(z, nm, DNS_T_A, &g, &ch) > 0 && g.rcode == 0 && g.an == 1 && ch) {
			answered++;
			memcpy(first[i], g.d0, 4);
			const char *o = dns_zone_name_of(z, AF_INET, g.d0);

			wrong_owner += !o || strcmp(o, nm);
		}
	}
	ok(answered == N, "flood of %d names (table %d): every name answered (%d)", N, DNS_ZONE_MAX_NAMES, answered);
	ok(!wrong_owner, "every address held by the name it was given to (%d wrong)", wrong_owner);
	ok(dns_zone_names(z) <= DNS_ZONE_MAX_NAMES, "names bounded: %zu <= %d", dns_zone_names(z), DNS_ZONE_MAX_NAMES);
	struct sipovl_prefix *pv = NULL;
	size_t np = 0;

	ok(!dns_zone_prefixes(z, 8, &pv, &np) && np <= DNS_ZONE_MAX_NAMES, "kernel prefixes bounded: %zu", np);
	free(pv);
	/* names queried in the last 300 s (the idle time) all keep their addresses */
	uint64_t end = 1000 + (N - 1) / RATE;

	for (int i = 0; i < N; i++) {
		uint64_t t = 1000 + (uint64_t)i / RATE;
		const char *o;

		snprintf(nm, sizeof(nm), "f%d.voip.example", i);
		if (end - t < 300 && (!(o = dns_zone_name_of(z, AF_INET, first[i])) || strcmp(o, nm)))
			lost_recent++;
	}
	ok(!lost_recent, "names queried less than 300 s ago keep their addresses (%d lost)", lost_recent);
	ok(!recent_moved, "a name asked for every 30 s keeps its address through the flood (%d moved)", recent_moved);
	const char *o = dns_zone_name_of(z, AF_INET, keep_a4);

	ok(o && !strcmp(o, "keep.voip.example") && live_calls > 0,
	   "a name with a live flow, not asked for since, keeps its address (live hook called %u times)", live_calls);
	dns_zone_stats(z, &st);
	ok(st.reclaimed >= (uint64_t)(N + 2 - DNS_ZONE_MAX_NAMES) && !st.refused,
	   "reclaimed counted: %llu, refused %llu", (unsigned long long)st.reclaimed, (unsigned long long)st.refused);
	o = dns_zone_name_of(z, AF_INET, first[0]);
	ok(!o || strcmp(o, "f0.voip.example"), "the oldest idle name was reclaimed (its address: %s)", o ? o : "free");
	ch = false;
	ok(zq(z, "f0.voip.example", DNS_T_A, &g, &ch) > 0 && g.an == 1 && ch, "f0 asked again: a new address");
	dns_zone_free(z);

	/* faster than names go idle: the table full of recent names, new ones refused, cheaply */
	z = dns_zone_new(&r4, NULL);
	dns_zone_set(z, sv, 1);
	dns_zone_set_idle(z, 300);
	live_calls = 0;
	dns_zone_set_live(z, live_keep, NULL);
	answered = 0;
	int servfail = 0;

	for (int i = 0; i < 6000; i++) { /* 100 a second: full after 41 s, nothing idle before 300 s */
		dns_zone_clock(z, 5000 + (uint64_t)i / 100);
		snprintf(nm, sizeof(nm), "g%d.voip.example", i);
		if (zq(z, nm, DNS_T_A, &g, &ch) > 0) {
			answered += g.rcode == 0 && g.an == 1;
			servfail += g.rcode == DNS_R_SERVFAIL;
		}
	}
	dns_zone_stats(z, &st);
	ok(answered == DNS_ZONE_MAX_NAMES && servfail == 6000 - DNS_ZONE_MAX_NAMES && st.refused == (uint64_t)servfail &&
		   !st.reclaimed,
	   "a faster flood: %d answered, %d SERVFAIL, refused %llu, none reclaimed", answered, servfail,
	   (unsigned long long)st.refused);
	ok(live_calls <= 1, "no reclaim scan until a name can be idle: %u scans for %d refused names", live_calls, servfail);
	dns_zone_clock(z, 5000 + 300);
	ok(zq(z, "late.voip.example", DNS_T_A, &g, &ch) > 0 && g.rcode == 0 && g.an == 1,
	   "300 s after the first flood name: a new name is answered again");
	dns_zone_free(z);
}

/* the dns_* keys of sipovld.conf (daemon/cfg_dns.c) */
static void t_cfg(void)
{
	struct daemon_cfg d;
	char err[CFG_ERRLEN], b[64];
	static const struct {
		const char *json, *err;
	} bad[] = {
		{ "{\"dns_listen\": \"127.0.0.1\"}", "dns_listen: expected an array" },
		{ "{\"dns_listen\": [\"gw.example\"]}", "dns_listen[0]: expected an IP address" },
		{ "{\"dns_upstream\": [\"1.1.1.1\",\"1.1.1.2\",\"1.1.1.3\",\"1.1.1.4\",\"1.1.1.5\",\"1.1.1.6\",\"1.1.1.7\",\"1.1.1.8\",\"1.1.1.9\"]}",
		  "dns_upstream: at most 8" },
		{ "{\"dns_range4\": \"fd00::/64\"}", "dns_range4: expected an IPv4 CIDR" },
		{ "{\"dns_range4\": \"100.64.0.0/31\"}", "dns_range4: expected an IPv4 CIDR of at least 4" },
		{ "{\"dns_range6\": \"10.0.0.0/8\"}", "dns_range6: expected an IPv6 CIDR" },
		{ "{\"dns_timeout_ms\": 50}", "dns_timeout_ms: expected 100-30000" },
		{ "{\"dns_name_idle_s\": 59}", "dns_name_idle_s: expected 60-86400" },
		{ "{\"dns_name_idle_s\": \"300\"}", "dns_name_idle_s: expected 60-86400" },
		{ "{\"dns_names_file\": \"dns-names\"}", "dns_names_file: expected an absolute file path" },
		{ "{\"dns_names_file\": \"/var/lib/sipovld/\"}", "dns_names_file: expected an absolute file path" },
		{ "{\"dns_names_file\": 1}", "dns_names_file: expected an absolute file path" },
	};

	daemon_cfg_defaults(&d);
	ok(!d.n_dns_listen && d.has_dns_range4 && !d.has_dns_range6 && !d.has_dns_upstream && d.dns_timeout_ms == 2000 && d.dns_name_idle_s == 300 &&
		   !strcmp(cfg_fmt_prefix(&d.dns_range4, b, sizeof(b)), "100.64.0.0/10"),
	   "defaults: off, 100.64.0.0/10, no IPv6 range, resolv.conf, 2000 ms, names idle 300 s");
	ok(!daemon_cfg_parse("{\"dns_listen\": [\"127.0.0.1\", \"[::1]:5353\"], \"dns_range4\": \"\", "
			     "\"dns_range6\": \"fd00:5150::/120\", \"dns_upstream\": [], \"dns_timeout_ms\": 700, \"dns_name_idle_s\": 60}",
			     &d, err, sizeof(err)) &&
		   d.n_dns_listen == 2 && !strcmp(cfg_fmt_sa(&d.dns_listen[0], b, sizeof(b)), "127.0.0.1:53") &&
		   cfg_sa_port(&d.dns_listen[1]) == 5353 && !d.has_dns_range4 && d.has_dns_range6 && d.has_dns_upstream &&
		   !d.n_dns_upstream && d.dns_timeout_ms == 700 && d.dns_name_idle_s == 60,
	   "dns keys: listen (port 53 by default), no IPv4 range, IPv6 range, no upstream, 700 ms, idle 60 s");
	daemon_cfg_free(&d);
	daemon_cfg_defaults(&d);
	ok(!d.has_dns_names_file && !daemon_cfg_parse("{\"dns_names_file\": \"/var/lib/x/names\"}", &d, err, sizeof(err)) &&
		   d.has_dns_names_file && !strcmp(d.dns_names_file, "/var/lib/x/names") &&
		   !daemon_cfg_parse("{\"dns_names_file\": \"\"}", &d, err, sizeof(err)) && d.has_dns_names_file &&
		   !d.dns_names_file[0],
	   "dns_names_file: not given by default; a path; \"\" (not kept)");
	daemon_cfg_free(&d);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		daemon_cfg_defaults(&d);
		ok(daemon_cfg_parse(bad[i].json, &d, err, sizeof(err)) && strstr(err, bad[i].err), "refused: %s (%s)",
		   bad[i].json, err);
		daemon_cfg_free(&d);
	}
	/* a flow to a name's address is dialed with dst_hostname (and $dst_hostname) */
	struct icpt_cfg c;
	struct app_data ad;
	struct sockaddr_storage src, dst;
	char id[256], unk[64], json[1024];

	ok(!icpt_cfg_parse("{\"protocols\":[\"udp\"],\"addresses\":[\"PBX.example\"],\"portRanges\":[{\"low\":5060,"
			   "\"high\":5060}],\"dialOptions\":{\"identity\":\"sip-$dst_hostname\"}}", &c, err, sizeof(err)) &&
		   c.n_skipped == 1 && !c.n_dsts,
	   "intercept.v1 with a hostname only");
	cfg_parse_hostport("10.1.0.2:40000", &src, NULL);
	cfg_parse_hostport("100.64.0.1:5060", &dst, NULL);
	ok(!icpt_dial_params_host(&c, "udp", &src, &dst, "pbx.example", NULL, &ad, id, sizeof(id), unk, sizeof(unk)) &&
		   !strcmp(ad.dst_hostname, "pbx.example") && !strcmp(ad.dst_ip, "100.64.0.1") && !strcmp(id, "sip-pbx.example") &&
		   app_data_build(&ad, json, sizeof(json)) > 0 && strstr(json, "\"dst_hostname\":\"pbx.example\""),
	   "dial: dst_hostname pbx.example, dst_ip 100.64.0.1, identity sip-pbx.example (%s)", json);
	ok(!icpt_dial_params(&c, "udp", &src, &dst, NULL, &ad, id, sizeof(id), unk, sizeof(unk)) && !ad.dst_hostname[0] &&
		   !strcmp(id, "sip-"),
	   "without a name: no dst_hostname");
	icpt_cfg_free(&c);
}

#include "tests/daemon/dns_guard_unit.h"

static void t_tcp(void)
{
	uint8_t b[8] = { 0, 3, 'a', 'b', 'c', 0, 1 };
	size_t ml;

	ok(dns_tcp_next(b, 1, &ml) == 0, "one byte: more needed");
	ok(dns_tcp_next(b, 4, &ml) == 0, "partial message: more needed");
	ok(dns_tcp_next(b, 7, &ml) == 5 && ml == 3, "whole message: 5 bytes");
	ok(dns_tcp_next(b + 5, 2, &ml) == 0 && ml == 1, "next length read");
	b[0] = b[1] = 0;
	ok(dns_tcp_next(b, 2, &ml) == -1, "zero length: close");
	char t[16];

	ok(!strcmp(dns_type_name(DNS_T_NAPTR, t, sizeof(t)), "NAPTR") && !strcmp(dns_type_name(99, t, sizeof(t)), "TYPE99"),
	   "type names");
}

int main(void)
{
	printf("TAP version 13\n");
	t_names();
	t_queries();
	t_answers();
	t_errors();
	t_zone();
	t_stable();
	t_collide();
	t_file();
	t_flood();
	t_cfg();
	t_tcp();
	t_acl();
	t_rrl();
	t_respond();
	t_guard_cfg();
	printf("1..%d\n", n);
	return failed ? 1 : 0;
}
