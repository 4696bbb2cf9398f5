// SPDX-License-Identifier: GPL-2.0
/*
 * sipovld's DNS responder: one received message into its answer, a relay or nothing
 * (dns_respond.h). Free of I/O.
 */
#include <string.h>

#include "daemon/dns_respond.h"

static enum dns_action answer_error(const struct dns_responder *r, const struct dns_query *q, int rcode,
				    uint8_t *out, size_t outsize, size_t *outlen)
{
	if (rcode == DNS_R_SERVFAIL)
		r->st->servfail++;
	else if (rcode == DNS_R_REFUSED)
		r->st->refused++;
	else
		r->st->formerr++;
	*outlen = dns_error(out, outsize, q, rcode);
	return *outlen ? DNS_ACT_REPLY : DNS_ACT_NONE;
}

/*
 * An answer to a client that is refused or over its rate is never larger than its query: a
 * question whose name points back into the header (a compression pointer) is written out
 * whole and would be; then the header alone, with no records (RFC 1035 allows an empty
 * question section in an error).
 */
static size_t no_larger(uint8_t *out, size_t outlen, size_t qlen)
{
	if (outlen <= qlen)
		return outlen;
	if (qlen < 12)
		return 0;
	memset(out + 4, 0, 8); /* QDCOUNT, ANCOUNT, NSCOUNT, ARCOUNT */
	return 12;
}

enum dns_action dns_respond(const struct dns_responder *r, const uint8_t *msg, size_t len,
			    const struct sockaddr_storage *src, bool tcp, uint64_t now_ms, struct dns_query *q,
			    uint8_t *out, size_t outsize, size_t *outlen)
{
	char err[128];
	int rc = dns_parse_query(msg, len, q, err, sizeof(err)), l = 0;
	bool changed = false;

	*outlen = 0;
	r->st->queries++;
	if (rc < 0) {
		r->st->dropped++;
		return DNS_ACT_NONE;
	}
	/* outside the allow-list: REFUSED (RFC 8906 4), never an answer of the zone nor a relay */
	if (!dns_acl_allows(r->allow, src)) {
		r->st->refused_source++;
		if (!tcp && r->rrl && dns_rrl_check_refused(r->rrl, now_ms) != DNS_RRL_PASS) {
			r->st->rate_limited_dropped++;
			return DNS_ACT_NONE;
		}
		*outlen = no_larger(out, dns_error(out, outsize, q, DNS_R_REFUSED), len);
		return *outlen ? DNS_ACT_REPLY : DNS_ACT_NONE;
	}
	/* over the rate: dropped, or now and then truncated and empty (the client retries over TCP) */
	switch (!tcp && r->rrl ? dns_rrl_check(r->rrl, src, now_ms) : DNS_RRL_PASS) {
	case DNS_RRL_PASS:
		break;
	case DNS_RRL_SLIP:
		r->st->rate_limited_tc++;
		*outlen = no_larger(out, dns_error(out, outsize, q, rc), len);
		if (!*outlen)
			return DNS_ACT_NONE;
		dns_put16(out + 2, dns_get16(out + 2) | DNS_F_TC);
		return DNS_ACT_REPLY;
	default:
		r->st->rate_limited_dropped++;
		return DNS_ACT_NONE;
	}
	if (rc)
		return answer_error(r, q, rc, out, outsize, outlen);
	if (r->zone) {
		dns_zone_clock(r->zone, now_ms / 1000);
		l = dns_zone_answer(r->zone, q, out, outsize, tcp ? DNS_TCP_MAX : dns_udp_limit(q), r->relay, &changed);
	}
	if (l < 0)
		return answer_error(r, q, DNS_R_SERVFAIL, out, outsize, outlen);
	if (l > 0) {
		r->st->answered++;
		*outlen = (size_t)l;
		return changed ? DNS_ACT_ANSWER_NEW : DNS_ACT_ANSWER;
	}
	if (!r->relay || q->qtype == DNS_T_AXFR || q->qtype == DNS_T_IXFR)
		return answer_error(r, q, DNS_R_REFUSED, out, outsize, outlen);
	return DNS_ACT_RELAY;
}
