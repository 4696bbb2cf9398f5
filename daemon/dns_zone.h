/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The names sipovld's DNS responder answers for: the hostnames and "*." wildcards of the
 * intercepted services, each queried name given an address from the configured virtual ranges
 * (the same offset in the IPv4 and the IPv6 range), kept while a service still matches the
 * name. The offset is a hash of the name when no other name holds it (dns_zone_home), so a new
 * table, or another gateway's, gives a name the same address; the table can be saved as text
 * and restored (dns_zone_dump, dns_zone_load) across restarts. Answers A, AAAA, ANY, and the RFC 3263 records of SIP discovery: NAPTR (SIP+D2U,
 * SIP+D2T, SIPS+D2T) and SRV (_sip._udp, _sip._tcp, _sips._tcp) for the transports and ports
 * the matching services intercept. Free of I/O (tests/daemon/dns_unit.c).
 */
#ifndef SIPOVLD_DNS_ZONE_H
#define SIPOVLD_DNS_ZONE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctl/libsipovl.h"
#include "daemon/dns_msg.h"

#define DNS_ZONE_MAX_NAMES 4096  /* names given an address at once */
#define DNS_ZONE_TTL 60          /* of every answer, and the negative TTL of our SOA */
#define DNS_ZONE_IDLE_S 300      /* default dns_name_idle_s: a name unused this long may be reclaimed */

/* One intercepted service with hostnames, as the zone sees it (copied by dns_zone_set). */
struct dns_zsvc {
	uint32_t kid;                   /* the service's kernel intercept id */
	char *const *patterns;          /* hostnames and "*.domain" wildcards, any case */
	size_t n_patterns;
	uint32_t protos;                /* SIPOVL_PROTO_* */
	const struct sipovl_portrange *ports;
	size_t n_ports;
};

struct dns_zone;

/* @r4 / @r6: the virtual ranges (NULL: that family is not answered). NULL when out of memory,
 * or when neither range is given, or one is too small (needs at least 4 addresses). */
struct dns_zone *dns_zone_new(const struct sipovl_prefix *r4, const struct sipovl_prefix *r6);
void dns_zone_free(struct dns_zone *z);
/*
 * Replaces the services. Names no service matches any more lose their address. Returns the
 * number of names dropped, or -1 when out of memory (the zone is then left as it was).
 */
int dns_zone_set(struct dns_zone *z, const struct dns_zsvc *v, size_t n);

/*
 * Answers @q when its name is ours: returns the answer's length in @buf (@limit: the
 * transport's bound), 0 when the name is not ours (to be relayed), -1 when no answer can be
 * built. *@changed is set when a name was given a new address (the kernel's intercepts must
 * include it before the answer is sent). @ra: recursion available (upstreams configured).
 */
int dns_zone_answer(struct dns_zone *z, const struct dns_query *q, uint8_t *buf, size_t bufsize, size_t limit,
		    bool ra, bool *changed);

/*
 * The addresses (host prefixes, both families) of the names service @kid matches, for its
 * kernel intercept. *@out is malloc'ed (NULL with *@n 0 when none). 0, or -1 out of memory.
 */
int dns_zone_prefixes(const struct dns_zone *z, uint32_t kid, struct sipovl_prefix **out, size_t *n);
/*
 * The kernel intercept ids of the services matching @name (as a query has it: lower case, no
 * final dot), or, for an SRV name (_sip._udp. ...), its domain: at most @max in @kids. The
 * services whose dial is to be expected soon. Returns how many.
 */
size_t dns_zone_kids(const struct dns_zone *z, const char *name, uint32_t *kids, size_t max);
/* The name holding @addr (4 or 16 bytes of @family), or NULL. */
const char *dns_zone_name_of(const struct dns_zone *z, int family, const uint8_t *addr);
/*
 * Reclaiming names (a flood of distinct names under a "*." wildcard must not fill the table for
 * good): when no offset is free, the names not asked for and without a live flow for the idle
 * time lose their addresses, least recently used first. The zone's clock (seconds, monotonic)
 * is set with dns_zone_clock before each answer; @live, called before each reclaim scan, calls
 * dns_zone_touch for the address of every live flow (a name with a flow is never reclaimed).
 */
struct dns_zone_stats {
	uint64_t reclaimed;             /* names taken back: idle, no live flow, the table full */
	uint64_t refused;               /* new names refused (SERVFAIL): the table full of names in use */
	uint64_t scans;                 /* reclaim scans (each one calls the live-flow hook once) */
	uint64_t collisions;            /* new names given another offset: their home one was held */
	uint64_t restored;              /* names restored by dns_zone_load */
};
void dns_zone_clock(struct dns_zone *z, uint64_t now_s);
void dns_zone_set_idle(struct dns_zone *z, unsigned idle_s);
void dns_zone_set_live(struct dns_zone *z, void (*live)(struct dns_zone *z, void *arg), void *arg);
void dns_zone_touch(struct dns_zone *z, int family, const uint8_t *addr);
void dns_zone_stats(const struct dns_zone *z, struct dns_zone_stats *st);
/*
 * The offset a name is given when no other name holds it: a hash of the lower-cased name into
 * the offsets the ranges share (1 .. the smaller range's size less 2). Never to change: two
 * gateways (and two versions) must agree on it.
 */
uint32_t dns_zone_home(const struct dns_zone *z, const char *name);
/* changes when a name gets or loses its address (the table is to be saved again) */
uint64_t dns_zone_gen(const struct dns_zone *z);
/*
 * The table as text (dns_zone_file.c): "sipovl-dns-names 1 RANGE4 RANGE6" ("-" for a family
 * not answered), one "ADDRESS NAME" line per name (the IPv4 address, or the IPv6 one without an
 * IPv4 range), then "end COUNT". dns_zone_dump: malloc'ed (NULL: out of memory), *@len its
 * length. dns_zone_load into an empty zone: the number of names restored, each kept for the
 * idle time (dns_zone_set_idle) from the zone's clock even while no service has it (the
 * services come after a start); -1 when the text is not such a file (truncated, malformed,
 * names twice, too many), -2 when it is for other ranges; then @err says what, and the zone is
 * left empty.
 */
char *dns_zone_dump(const struct dns_zone *z, size_t *len);
int dns_zone_load(struct dns_zone *z, const char *buf, size_t len, char *err, size_t errlen);
/* services with hostname intercepts */
size_t dns_zone_services(const struct dns_zone *z);
/* names holding an address */
size_t dns_zone_names(const struct dns_zone *z);

#endif
