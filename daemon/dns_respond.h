/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What sipovld's DNS responder does with one received message (dns_server.c sends it): the
 * answer's bytes, a relay, or nothing; checked against the allow-list and the rate limit
 * (dns_guard.h) before the zone (dns_zone.h) is asked or anything is relayed. Free of I/O, so
 * that it is unit-tested and fuzzed without sockets (tests/daemon/dns_unit.c, dns_fuzz.c).
 */
#ifndef SIPOVLD_DNS_RESPOND_H
#define SIPOVLD_DNS_RESPOND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "daemon/dns_guard.h"
#include "daemon/dns_msg.h"
#include "daemon/dns_zone.h"

struct dns_stats {
	uint64_t queries, answered, relayed, relay_answers, upstream_timeouts, upstream_mismatch, relay_full;
	uint64_t formerr, servfail, refused, dropped, send_errors, tcp_conns, tcp_refused;
	uint64_t names, pending;
	uint64_t names_reclaimed, names_refused; /* dns_zone.c: idle names taken back; new names refused */
	uint64_t names_collisions, names_restored; /* not given their home address; restored (file, reload) */
	uint64_t kernel_applies;        /* for names given addresses (one per read burst) */
	uint64_t refused_source;        /* queries and TCP connections from outside the allow-list */
	uint64_t rate_limited_tc, rate_limited_dropped; /* UDP answers over the rate limit */
};

/* what the responder answers with */
struct dns_responder {
	struct dns_zone *zone;          /* NULL: nothing answered from a zone, every name relayed */
	const struct dns_acl *allow;    /* the clients answered */
	struct dns_rrl *rrl;            /* NULL: no rate limit */
	bool relay;                     /* upstream resolvers: names not ours are relayed */
	struct dns_stats *st;
};

enum dns_action {
	DNS_ACT_NONE,                   /* nothing is sent */
	DNS_ACT_REPLY,                  /* the answer in @out: an error, REFUSED, a truncated slip */
	DNS_ACT_ANSWER,                 /* the zone's answer in @out (its services' dials are to be expected) */
	DNS_ACT_ANSWER_NEW,             /* one that gave a name an address: sent after the kernel has it */
	DNS_ACT_RELAY,                  /* the query (*@q, the message as received) to the upstreams */
};

/*
 * The message @msg (@len bytes) from @src over UDP or TCP (@tcp) at @now_ms (monotonic):
 * *@q gets the query as parsed (for the relay, and the dials of the names answered), @out its
 * answer (*@outlen bytes) for REPLY and ANSWER*. Clients outside the allow-list get REFUSED
 * (over UDP within one shared rate), nothing else; the UDP answers of the others are rate
 * limited (the truncated empty answer of a slip is a REPLY). Counts into r->st.
 */
enum dns_action dns_respond(const struct dns_responder *r, const uint8_t *msg, size_t len,
			    const struct sockaddr_storage *src, bool tcp, uint64_t now_ms, struct dns_query *q,
			    uint8_t *out, size_t outsize, size_t *outlen);

#endif
