// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target of sipovld's DNS message parser and builder (daemon/dns_msg.c): every input
 * is parsed as a query; a query that parses is answered with records of every type built from
 * its own name (UDP and TCP bounds), its error answers are built, and the answers are read back.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/dns_msg.h"

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t b[DNS_TCP_MAX];
	struct dns_query q;
	struct dns_resp r;
	char err[128];
	size_t ml;
	int rc = dns_parse_query(data, size, &q, err, sizeof(err));

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
	return 0;
}
