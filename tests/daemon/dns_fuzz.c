// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target of sipovld's DNS message parser and builder (daemon/dns_msg.c) and of the
 * names it answers for (daemon/dns_zone.c): every input is parsed as a query; a query that
 * parses is answered with records of every type built from its own name (UDP and TCP bounds),
 * its error answers are built, and the answers are read back; then the zone answers it (exact
 * names, "*." wildcards, SIP services on UDP, TCP or both, a range small enough to run out),
 * within the transport's bound, and now and then the zone's services change under it; its clock
 * runs, so full tables reclaim idle names (never the one a live-flow hook names). Every input
 * also goes whole through the responder's handling of a received message (daemon/dns_respond.c,
 * what dns_server.c sends): from a client inside or outside the allow-list, over UDP or TCP, with
 * and without a rate limit, upstreams or not; a client outside gets REFUSED or nothing, never an
 * answer of the zone nor a relay, and no name is given an address for it; a UDP answer keeps
 * within its bound; a truncated answer of the rate limit is empty; every answer reads back. An
 * input starting "sipovl-dns-names" is a saved name table instead (daemon/dns_zone_file.c):
 * loaded into a fresh zone; what loads dumps to text that loads again, the same.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/dns_guard.h"
#include "daemon/dns_msg.h"
#include "daemon/dns_respond.h"
#include "daemon/dns_zone.h"

static void check_answer(const uint8_t *b, size_t len)
{
	struct dns_query q;
	char err[64], s[DNS_NAME_STRLEN];
	size_t next;

	if (len < DNS_HDRLEN || !(dns_get16(b + 2) & DNS_F_QR))
		abort();
	if (dns_get16(b + 4) && dns_name_read(b, len, DNS_HDRLEN, s, sizeof(s), &next, err, sizeof(err)))
		abort(); /* an answer we built must read back */
	(void)q;
}

static char *p_pbx[] = { "pbx.example.ziti", "*.voip.example" }, *p_wild[] = { "*.voip.example" },
	    *p_tls[] = { "TLS.example." }, *p_deep[] = { "*.a.b.c.d.example" };
static const struct sipovl_portrange sip = { 5060, 5061 }, one = { 5080, 5080 }, rtp = { 10000, 20000 };
static const struct dns_zsvc zsv[] = {
	{ 7, p_pbx, 2, SIPOVL_PROTO_UDP | SIPOVL_PROTO_TCP, &sip, 1 },
	{ 8, p_wild, 1, SIPOVL_PROTO_UDP, &one, 1 },
	{ 9, p_wild, 1, SIPOVL_PROTO_UDP, &rtp, 1 },
	{ 10, p_tls, 1, SIPOVL_PROTO_TCP, &sip, 1 },
	{ 11, p_deep, 1, SIPOVL_PROTO_TCP, &one, 1 },
};

/* the live-flow hook: the address the current query's id picks has a flow */
static uint8_t live_a4[4] = { 100, 64, 1, 0 };

static void live(struct dns_zone *z, void *arg)
{
	(void)arg;
	dns_zone_touch(z, AF_INET, live_a4);
}

/* the zone of every run: a /28 and a /124, so that names run out of addresses */
static struct dns_zone *zone(void)
{
	static struct dns_zone *z;
	struct sipovl_prefix r4, r6;

	if (z)
		return z;
	memset(&r4, 0, sizeof(r4));
	memset(&r6, 0, sizeof(r6));
	r4.family = AF_INET, r4.len = 28, inet_pton(AF_INET, "100.64.1.0", r4.addr);
	r6.family = AF_INET6, r6.len = 124, inet_pton(AF_INET6, "fd00:5::", r6.addr);
	z = dns_zone_new(&r4, &r6);
	if (!z || dns_zone_set(z, zsv, sizeof(zsv) / sizeof(zsv[0])) != 0)
		abort();
	dns_zone_set_idle(z, 60);
	dns_zone_set_live(z, live, NULL);
	return z;
}

static void zone_answer(const struct dns_query *q)
{
	static uint8_t b[DNS_TCP_MAX];
	struct dns_zone *z = zone();
	size_t nsv = sizeof(zsv) / sizeof(zsv[0]);
	static uint64_t now;

	now += (q->id >> 8) & 0x3f; /* the clock: idle names are reclaimed when the table is full */
	dns_zone_clock(z, now);
	live_a4[3] = (uint8_t)(q->id & 0xf);
	const char *o = dns_zone_name_of(z, AF_INET, live_a4);
	char held[DNS_NAME_STRLEN] = "";

	if (o)
		snprintf(held, sizeof(held), "%s", o);

	for (int tcp = 0; tcp < 2; tcp++) {
		size_t lim = tcp ? DNS_TCP_MAX : dns_udp_limit(q);
		bool changed = false;
		int l = dns_zone_answer(z, q, b, sizeof(b), lim, q->id & 1, &changed);

		if (l > 0 && (size_t)l > lim)
			abort();
		if (l > 0)
			check_answer(b, (size_t)l);
		if (dns_zone_names(z) > DNS_ZONE_MAX_NAMES || (changed && !dns_zone_names(z)))
			abort();
		o = dns_zone_name_of(z, AF_INET, live_a4); /* a name with a live flow is never reclaimed */
		if (held[0] && (!o || strcmp(o, held)))
			abort();
	}
	/*
	 * Now and then the services change: fewer, then all of them again. The zone lives
	 * across runs, so its few addresses would soon all be held and every new name
	 * answered SERVFAIL: most queries with 8 or more names held drop them all.
	 */
	if ((q->id & 0xff) == 0x5a) {
		if (dns_zone_set(z, zsv, 1 + q->id % nsv) < 0 || dns_zone_set(z, zsv, nsv) < 0)
			abort();
	} else if (dns_zone_names(z) >= 8 && (q->id & 3)) {
		if (dns_zone_set(z, zsv, 0) < 0 || dns_zone_names(z) || dns_zone_set(z, zsv, nsv) < 0)
			abort();
	}
}

/* a saved name table: refused (the zone empty) or loaded; loaded, it dumps and loads the same */
static void table_file(const uint8_t *data, size_t size)
{
	struct sipovl_prefix r4, r6;
	struct dns_zone *z, *y;
	char err[256], *t, *t2;
	size_t l, l2;
	int rc;

	memset(&r4, 0, sizeof(r4));
	memset(&r6, 0, sizeof(r6));
	r4.family = AF_INET, r4.len = 22, inet_pton(AF_INET, "100.64.0.0", r4.addr);
	r6.family = AF_INET6, r6.len = 64, inet_pton(AF_INET6, "fd00:5150::", r6.addr);
	z = dns_zone_new(&r4, &r6);
	y = dns_zone_new(&r4, &r6);
	if (!z || !y)
		abort();
	rc = dns_zone_load(z, (const char *)data, size, err, sizeof(err));
	if (rc < 0 ? dns_zone_names(z) != 0 || !err[0] : (size_t)rc != dns_zone_names(z))
		abort();
	if (rc >= 0) {
		if (!(t = dns_zone_dump(z, &l)) || dns_zone_load(y, t, l, err, sizeof(err)) != rc || !(t2 = dns_zone_dump(y, &l2)) ||
		    l != l2 || memcmp(t, t2, l))
			abort();
		free(t);
		free(t2);
	}
	dns_zone_free(z);
	dns_zone_free(y);
}

/* the clients: inside 10.1.0.0/24 or fd00:1::/64 (one IPv4-mapped), or outside */
static struct sockaddr_storage client(uint8_t c)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };

	memset(&ss, 0, sizeof(ss));
	switch (c & 3) {
	case 0:
		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl((c & 4 ? 0x0a010000u : 0xc0000200u) | (c >> 3)); /* 10.1.0.x or 192.0.2.x */
		break;
	case 1:
		s6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, c & 4 ? "fd00:1::" : "fd00:2::", &s6->sin6_addr);
		s6->sin6_addr.s6_addr[15] = (uint8_t)(c >> 3);
		break;
	case 2:
		s6->sin6_family = AF_INET6;
		memcpy(s6->sin6_addr.s6_addr, mapped, sizeof(mapped));
		s6->sin6_addr.s6_addr[12] = c & 4 ? 10 : 192;
		s6->sin6_addr.s6_addr[13] = c & 4 ? 1 : 0;
		s6->sin6_addr.s6_addr[14] = c & 4 ? 0 : 2;
		s6->sin6_addr.s6_addr[15] = (uint8_t)(c >> 3);
		break;
	default:
		ss.ss_family = AF_UNIX; /* never from our sockets: not allowed */
		break;
	}
	return ss;
}

static void respond(const uint8_t *data, size_t size)
{
	static uint8_t out[DNS_TCP_MAX];
	static struct dns_acl acl;
	static struct dns_rrl *rrl;
	static struct dns_stats st;
	static uint64_t now;
	static const uint8_t key[16] = { 42 };
	uint8_t c = size ? data[size - 1] : 0, m = size > 1 ? data[size - 2] : 0;
	struct sockaddr_storage src = client(c);
	struct dns_query q;
	size_t l, names;
	bool tcp = m & 1, inside;

	if (!acl.n) {
		struct sipovl_prefix p4 = { .family = AF_INET, .len = 24, .addr = { 10, 1 } };
		struct sipovl_prefix p6 = { .family = AF_INET6, .len = 64, .addr = { 0xfd, 0, 0, 1 } };

		dns_acl_add(&acl, &p4);
		dns_acl_add(&acl, &p6);
		rrl = dns_rrl_new(3, 2, key);
	}
	struct dns_responder r = { m & 2 ? zone() : NULL, &acl, m & 4 ? rrl : NULL, m & 8, &st };

	now += (m >> 4) * 37; /* buckets refill now and then */
	inside = dns_acl_allows(&acl, &src);
	names = dns_zone_names(zone());
	enum dns_action a = dns_respond(&r, data, size, &src, tcp, now, &q, out, sizeof(out), &l);

	if (a == DNS_ACT_NONE)
		return;
	if (a == DNS_ACT_RELAY) {
		if (!inside || !r.relay)
			abort();
		return;
	}
	check_answer(out, l);
	if (dns_get16(out) != dns_get16(data) || l > DNS_TCP_MAX)
		abort();
	if (!inside && (a != DNS_ACT_REPLY || (dns_get16(out + 2) & 0xf) != DNS_R_REFUSED || dns_get16(out + 6) ||
			dns_zone_names(zone()) != names))
		abort();
	if (a != DNS_ACT_REPLY && (!r.zone || !inside))
		abort();
	if (!tcp && a != DNS_ACT_REPLY && l > dns_udp_limit(&q))
		abort();
	if ((dns_get16(out + 2) & DNS_F_TC) && a == DNS_ACT_REPLY && (dns_get16(out + 6) || dns_get16(out + 8)))
		abort(); /* a slip is empty */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t b[DNS_TCP_MAX];
	struct dns_query q;
	struct dns_resp r;
	char err[128];
	size_t ml;
	int rc;

	if (size >= 16 && !memcmp(data, "sipovl-dns-names", 16)) {
		table_file(data, size);
		return 0;
	}
	respond(data, size);
	rc = dns_parse_query(data, size, &q, err, sizeof(err));
	dns_tcp_next(data, size, &ml);
	if (rc < 0)
		return 0;
	if (rc) {
		size_t l = dns_error(b, sizeof(b), &q, rc);

		if (!l)
			abort();
		check_answer(b, l);
		return 0;
	}
	/* the name read back from its wire form is the same name */
	uint8_t w[DNS_WIRE_NAME_MAX + 1];
	int wl = dns_name_wire(q.name, w, sizeof(w));
	char again[DNS_NAME_STRLEN];
	size_t next;

	if (wl < 0 || dns_name_read(w, (size_t)wl, 0, again, sizeof(again), &next, err, sizeof(err)) ||
	    strcmp(again, q.name) || next != (size_t)wl)
		abort();
	for (int tcp = 0; tcp < 2; tcp++) {
		size_t lim = tcp ? DNS_TCP_MAX : dns_udp_limit(&q);

		if (dns_resp_begin(&r, b, sizeof(b), lim, &q, DNS_R_NOERROR, true, true))
			abort();
		struct dns_rr rr = { .type = DNS_T_A, .ttl = 1, .a = { 1, 2, 3, 4 } };

		for (unsigned i = 0; i < (q.id & 0x3f); i++) {
			switch (i % 5) {
			case 0:
				rr.type = DNS_T_A;
				break;
			case 1:
				rr.type = DNS_T_AAAA;
				break;
			case 2:
				rr.type = DNS_T_SRV;
				rr.srv.target = q.name;
				break;
			case 3:
				rr.type = DNS_T_NAPTR;
				rr.naptr.flags = "s";
				rr.naptr.services = "SIP+D2T";
				rr.naptr.regexp = "";
				rr.naptr.replacement = q.name;
				break;
			default:
				rr.type = DNS_T_SOA;
				rr.soa.mname = q.name;
				rr.soa.rname = q.name;
				break;
			}
			rr.name = (i & 8) ? q.name : NULL;
			if (dns_resp_add(&r, (enum dns_section)(i / 16 > 2 ? 2 : i / 16), &rr) < 0)
				abort();
		}
		size_t l = dns_resp_finish(&r);

		if (l > lim)
			abort();
		check_answer(b, l);
	}
	zone_answer(&q);
	return 0;
}
