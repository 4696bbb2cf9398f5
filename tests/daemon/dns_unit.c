// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests (TAP 13) of sipovld's DNS message parser and builder (daemon/dns_msg.c): names and
 * compression, label and name limits, QDCOUNT, EDNS0, answers of every type, errors,
 * truncation, TCP framing. Built with ASan/UBSan ($(O)/san/dns-unit); run by tests/daemon/run.sh.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/dns_msg.h"

static int n, failed;

static void ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ok(int cond, const char *fmt, ...)
{
	va_list ap;

	n++;
	printf("%sok %d - ", cond ? "" : "not ", n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!cond)
		failed++;
}

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
	t_tcp();
	printf("1..%d\n", n);
	return failed ? 1 : 0;
}
