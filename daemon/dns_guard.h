/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Who sipovld's DNS responder answers, and how often: the allow-list of client prefixes
 * (dns_allow) and the response rate limit per client over UDP (dns_rate_limit, dns_rate_slip),
 * so that it is neither an open resolver nor an amplifier. Free of I/O (no sockets, no clock:
 * times are given), unit-tested (tests/daemon/dns_unit.c) and fuzzed (tests/daemon/dns_fuzz.c).
 *
 * The rate limit: a token bucket per client (an IPv4 address, an IPv6 /64), DNS_RRL_SETS x
 * DNS_RRL_WAYS of them in a table indexed by a keyed hash. A client without a bucket takes a
 * free one, or one that has refilled (evicting it loses nothing: a new one starts full); when
 * every bucket of its set is in use it shares the set's spare bucket with the other clients in
 * that case (limited more strictly, never less). Memory is fixed when the limit is set.
 */
#ifndef SIPOVLD_DNS_GUARD_H
#define SIPOVLD_DNS_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ctl/libsipovl.h"

#define DNS_ACL_MAX 64          /* prefixes of an allow-list (dns_allow, with "connected" expanded) */
#define DNS_RRL_SETS 1024
#define DNS_RRL_WAYS 4          /* 4096 clients with a bucket of their own */
#define DNS_RRL_DEFAULT 100     /* default dns_rate_limit: responses a second per client */
#define DNS_RRL_MAX 100000
#define DNS_RRL_SLIP_DEFAULT 2  /* default dns_rate_slip: every 2nd response over the limit is TC */
#define DNS_RRL_SLIP_MAX 10

struct dns_acl {
	struct sipovl_prefix p[DNS_ACL_MAX];
	size_t n;
};

/* Adds @p (host bits cleared) unless the list has it: 0, or -1 when the list is full. */
int dns_acl_add(struct dns_acl *a, const struct sipovl_prefix *p);
/* @src (AF_INET, AF_INET6) is in one of the prefixes; an IPv4-mapped IPv6 source never is. */
bool dns_acl_allows(const struct dns_acl *a, const struct sockaddr_storage *src);

enum dns_rrl_verdict {
	DNS_RRL_PASS,                   /* within the limit: answer */
	DNS_RRL_SLIP,                   /* over: answer truncated and empty (TC), the client retries over TCP */
	DNS_RRL_DROP,                   /* over: no answer */
};

struct dns_rrl_stats {
	uint64_t passed, slipped, dropped;
	uint64_t shared;                /* answers counted in a set's spare bucket (the table full) */
	uint64_t refused_dropped;       /* REFUSED answers to clients outside the allow-list dropped */
};

struct dns_rrl;

/*
 * @rate: responses a second per client (1-DNS_RRL_MAX; bursts of up to @rate); @slip: 0 every
 * response over the limit dropped, N: one in N truncated (TC), the others dropped. @key: 16
 * random bytes keying the table's hash. NULL when out of memory or @rate is 0.
 */
struct dns_rrl *dns_rrl_new(unsigned rate, unsigned slip, const uint8_t key[16]);
void dns_rrl_free(struct dns_rrl *r);
/* One response to @src at @now_ms (milliseconds, monotonic) */
enum dns_rrl_verdict dns_rrl_check(struct dns_rrl *r, const struct sockaddr_storage *src, uint64_t now_ms);
/*
 * One REFUSED answer to a client outside the allow-list: all such answers share one bucket
 * (@rate a second in all; outside clients take no bucket of the table). PASS or DROP.
 */
enum dns_rrl_verdict dns_rrl_check_refused(struct dns_rrl *r, uint64_t now_ms);
void dns_rrl_stats(const struct dns_rrl *r, struct dns_rrl_stats *st);
/* clients holding a bucket of their own */
size_t dns_rrl_clients(const struct dns_rrl *r);

#endif
