// SPDX-License-Identifier: GPL-2.0
/*
 * The responder's own names (I/O free, see dns_zone.h).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/dns_zone.h"

#include "daemon/dns_zone_int.h"

static uint64_t range_size(const struct sipovl_prefix *p)
{
	unsigned host = (p->family == AF_INET ? 32u : 128u) - p->len;

	return host >= 40 ? (uint64_t)1 << 40 : (uint64_t)1 << host;
}

struct dns_zone *dns_zone_new(const struct sipovl_prefix *r4, const struct sipovl_prefix *r6)
{
	struct dns_zone *z;
	uint64_t space = UINT32_MAX - 1;

	if (!r4 && !r6)
		return NULL;
	if ((r4 && (r4->family != AF_INET || range_size(r4) < 4)) || (r6 && (r6->family != AF_INET6 || range_size(r6) < 4)))
		return NULL;
	z = calloc(1, sizeof(*z));
	if (!z)
		return NULL;
	if (r4) {
		z->r4 = *r4;
		z->has4 = true;
		if (range_size(r4) - 2 < space)
			space = range_size(r4) - 2; /* not the network nor the broadcast address */
	}
	if (r6) {
		z->r6 = *r6;
		z->has6 = true;
		if (range_size(r6) - 2 < space)
			space = range_size(r6) - 2;
	}
	z->space = (uint32_t)space;
	z->max = space < DNS_ZONE_MAX_NAMES ? (uint32_t)space : DNS_ZONE_MAX_NAMES;
	z->idle = DNS_ZONE_IDLE_S;
	return z;
}

static void svcs_free(struct zsvc *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < v[i].n_patterns; j++)
			free(v[i].patterns[j]);
		free(v[i].patterns);
		free(v[i].ports);
	}
	free(v);
}

void dns_zone_free(struct dns_zone *z)
{
	if (!z)
		return;
	svcs_free(z->svcs, z->n_svcs);
	for (size_t i = 0; i < z->n_names; i++)
		free(z->names[i].name);
	free(z->names);
	free(z);
}

static char *norm(const char *s)
{
	size_t l = strlen(s);
	char *r = malloc(l + 1);

	if (!r)
		return NULL;
	for (size_t i = 0; i <= l; i++)
		r[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] + 32) : s[i];
	if (l && r[l - 1] == '.')
		r[l - 1] = 0;
	return r;
}

static bool svc_matches(const struct zsvc *s, const char *name)
{
	for (size_t i = 0; i < s->n_patterns; i++)
		if (dns_name_match(s->patterns[i], name))
			return true;
	return false;
}

static bool any_matches(const struct dns_zone *z, const char *name)
{
	for (size_t i = 0; i < z->n_svcs; i++)
		if (svc_matches(&z->svcs[i], name))
			return true;
	return false;
}

/* ------------------------------------------------------------------ offsets */

/* the offset map's home slot of offset @idx */
static uint32_t oslot(uint32_t idx)
{
	return (uint32_t)(idx * 2654435761u) >> (32 - 13); /* DZ_OMAP = 1 << 13 */
}

/* the slot holding offset @idx, or DZ_OMAP when it is free */
static uint32_t ofind(const struct dns_zone *z, uint32_t idx)
{
	for (uint32_t s = oslot(idx);; s = (s + 1) & (DZ_OMAP - 1)) {
		if (!z->omap[s])
			return DZ_OMAP;
		if (z->names[z->omap[s] - 1].idx == idx)
			return s;
	}
}

uint32_t dz_holder(const struct dns_zone *z, uint32_t idx)
{
	uint32_t s = idx ? ofind(z, idx) : DZ_OMAP;

	return s < DZ_OMAP ? z->omap[s] : 0;
}

/* removes offset @idx from the map (linear probing: the entries after it move back) */
static void odel(struct dns_zone *z, uint32_t idx)
{
	uint32_t i = ofind(z, idx);

	if (i == DZ_OMAP)
		return;
	z->omap[i] = 0;
	for (uint32_t j = (i + 1) & (DZ_OMAP - 1); z->omap[j]; j = (j + 1) & (DZ_OMAP - 1)) {
		uint32_t k = oslot(z->names[z->omap[j] - 1].idx);

		/* the entry at j stays when its home slot k lies cyclically in (i, j] */
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		z->omap[i] = z->omap[j];
		z->omap[j] = 0;
		i = j;
	}
}

int dz_add(struct dns_zone *z, const char *name, uint32_t idx)
{
	struct zname *nn;
	uint32_t s;

	if (z->n_names >= z->max || !idx || idx > z->space || dz_holder(z, idx))
		return -1;
	nn = realloc(z->names, (z->n_names + 1) * sizeof(*nn));
	if (!nn)
		return -1;
	z->names = nn;
	memset(&nn[z->n_names], 0, sizeof(*nn));
	if (!(nn[z->n_names].name = strdup(name)))
		return -1;
	nn[z->n_names].idx = idx;
	nn[z->n_names].last = z->now;
	for (s = oslot(idx); z->omap[s]; s = (s + 1) & (DZ_OMAP - 1))
		;
	z->omap[s] = (uint32_t)++z->n_names;
	z->gen++;
	return 0;
}

void dz_drop(struct dns_zone *z, size_t i)
{
	size_t last = z->n_names - 1;

	odel(z, z->names[i].idx);
	free(z->names[i].name);
	if (i != last) { /* the last name moves to i */
		z->omap[ofind(z, z->names[last].idx)] = (uint32_t)i + 1;
		z->names[i] = z->names[last];
	}
	z->n_names--;
	z->gen++;
}

/*
 * The offset a name is given when it is free: a hash of the lower-cased name (64-bit FNV-1a,
 * its high half folded into the low) into 1..space. Part of what two gateways must agree on:
 * it is never to change.
 */
uint32_t dns_zone_home(const struct dns_zone *z, const char *name)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (const char *c = name; *c; c++) {
		h ^= (uint8_t)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
		h *= 0x100000001b3ull;
	}
	h ^= h >> 32;
	return 1 + (uint32_t)(h % z->space);
}

int dns_zone_set(struct dns_zone *z, const struct dns_zsvc *v, size_t n)
{
	struct zsvc *nv = calloc(n ? n : 1, sizeof(*nv));
	int dropped = 0;

	if (!nv)
		return -1;
	for (size_t i = 0; i < n; i++) {
		nv[i].kid = v[i].kid;
		nv[i].protos = v[i].protos;
		nv[i].patterns = calloc(v[i].n_patterns ? v[i].n_patterns : 1, sizeof(char *));
		nv[i].ports = calloc(v[i].n_ports ? v[i].n_ports : 1, sizeof(*nv[i].ports));
		if (!nv[i].patterns || !nv[i].ports)
			goto oom;
		for (size_t j = 0; j < v[i].n_patterns; j++) {
			if (!(nv[i].patterns[j] = norm(v[i].patterns[j])))
				goto oom;
			nv[i].n_patterns++;
		}
		memcpy(nv[i].ports, v[i].ports, v[i].n_ports * sizeof(*nv[i].ports));
		nv[i].n_ports = v[i].n_ports;
	}
	svcs_free(z->svcs, z->n_svcs);
	z->svcs = nv;
	z->n_svcs = n;
	for (size_t i = 0; i < z->n_names;) {
		if (any_matches(z, z->names[i].name)) {
			z->names[i].hold = 0; /* a service has it: from now on a name like any other */
			i++;
			continue;
		}
		if (z->names[i].hold && z->now < z->names[i].hold) { /* restored: its service may come later */
			i++;
			continue;
		}
		dz_drop(z, i);
		dropped++;
	}
	return dropped;
oom:
	svcs_free(nv, n);
	return -1;
}

void dz_addr_of(const struct dns_zone *z, uint32_t idx, int family, uint8_t *out)
{
	const struct sipovl_prefix *p = family == AF_INET ? &z->r4 : &z->r6;
	size_t al = family == AF_INET ? 4 : 16;
	uint32_t carry = idx;

	memcpy(out, p->addr, al);
	for (size_t i = al; i-- > 0 && carry;) {
		uint32_t s = out[i] + (carry & 0xff);

		out[i] = (uint8_t)s;
		carry = (carry >> 8) + (s >> 8);
	}
}

void dns_zone_clock(struct dns_zone *z, uint64_t now_s)
{
	z->now = now_s;
}

void dns_zone_set_idle(struct dns_zone *z, unsigned idle_s)
{
	z->idle = idle_s;
	z->next_scan = 0;
}

void dns_zone_set_live(struct dns_zone *z, void (*live)(struct dns_zone *z, void *arg), void *arg)
{
	z->live = live;
	z->live_arg = arg;
}

uint64_t dns_zone_gen(const struct dns_zone *z)
{
	return z->gen;
}

void dns_zone_stats(const struct dns_zone *z, struct dns_zone_stats *st)
{
	*st = z->st;
}

/* The offset of @addr in the range of @family (1..space), or 0 when it is none of ours. */
uint32_t dz_idx_of(const struct dns_zone *z, int family, const uint8_t *addr)
{
	const struct sipovl_prefix *p = family == AF_INET ? &z->r4 : &z->r6;
	size_t al = family == AF_INET ? 4 : 16;
	uint8_t d[16];
	unsigned borrow = 0;
	uint32_t idx = 0;

	if (!(family == AF_INET ? z->has4 : z->has6))
		return 0;
	for (size_t i = al; i-- > 0;) { /* d = addr - base, big-endian */
		int v = (int)addr[i] - (int)p->addr[i] - (int)borrow;

		borrow = v < 0;
		d[i] = (uint8_t)(v + (borrow ? 256 : 0));
	}
	if (borrow)
		return 0;
	for (size_t i = 0; i < al - 4; i++)
		if (d[i])
			return 0;
	for (size_t i = al - 4; i < al; i++)
		idx = idx << 8 | d[i];
	return idx >= 1 && idx <= z->space ? idx : 0;
}

void dns_zone_touch(struct dns_zone *z, int family, const uint8_t *addr)
{
	uint32_t h = dz_holder(z, dz_idx_of(z, family, addr));

	if (h)
		z->names[h - 1].last = z->now;
}

static int by_last(const void *a, const void *b)
{
	const struct zname *x = *(const struct zname *const *)a, *y = *(const struct zname *const *)b;

	return x->last < y->last ? -1 : x->last > y->last ? 1 : (x->idx > y->idx) - (x->idx < y->idx);
}

/*
 * The table is full: the names idle for z->idle seconds (not asked for, no live flow), least
 * recently used first, up to a sixteenth of the table, lose their addresses. When none can go,
 * no scan until the first one can: a flood of new names then costs one comparison each.
 * Returns how many went.
 */
static size_t reclaim(struct dns_zone *z)
{
	struct zname **c;
	size_t nc = 0, batch = z->max / 16 ? z->max / 16 : 1, n = 0;
	uint64_t next = UINT64_MAX;
	uint32_t *gone;

	if (z->now < z->next_scan)
		return 0;
	z->st.scans++;
	if (z->live)
		z->live(z, z->live_arg); /* names with live flows: dns_zone_touch */
	c = malloc(z->n_names * sizeof(*c));
	gone = malloc(batch * sizeof(*gone));
	if (!c || !gone) {
		free(c);
		free(gone);
		return 0;
	}
	for (size_t i = 0; i < z->n_names; i++) {
		if (z->now - z->names[i].last >= z->idle)
			c[nc++] = &z->names[i];
		else if (z->names[i].last + z->idle < next)
			next = z->names[i].last + z->idle;
	}
	qsort(c, nc, sizeof(*c), by_last);
	for (n = 0; n < nc && n < batch; n++)
		gone[n] = c[n]->idx; /* by offset: dz_drop moves the entries */
	for (size_t i = 0; i < n; i++)
		dz_drop(z, dz_holder(z, gone[i]) - 1);
	z->next_scan = n ? 0 : next;
	z->st.reclaimed += n;
	free(c);
	free(gone);
	return n;
}

/*
 * The name's offset, given one when it has none: its home offset (dns_zone_home) when free,
 * else the next free one up, wrapping from the range's end to its start (the same rule on
 * every gateway). 0 when the table is full of names in use.
 */
static uint32_t name_idx(struct dns_zone *z, const char *name, bool *changed)
{
	uint32_t home, idx;

	for (size_t i = 0; i < z->n_names; i++)
		if (!strcmp(z->names[i].name, name)) {
			z->names[i].last = z->now;
			return z->names[i].idx;
		}
	if (z->n_names >= z->max && reclaim(z))
		*changed = true; /* the reclaimed names' intercepts go */
	if (z->n_names >= z->max) {
		z->st.refused++;
		return 0;
	}
	idx = home = dns_zone_home(z, name);
	while (dz_holder(z, idx)) /* ends: fewer names than offsets */
		idx = idx == z->space ? 1 : idx + 1;
	if (dz_add(z, name, idx))
		return 0;
	if (idx != home)
		z->st.collisions++;
	*changed = true;
	return idx;
}

const char *dns_zone_name_of(const struct dns_zone *z, int family, const uint8_t *addr)
{
	uint32_t h = dz_holder(z, dz_idx_of(z, family, addr));

	return h ? z->names[h - 1].name : NULL;
}

size_t dns_zone_services(const struct dns_zone *z)
{
	return z->n_svcs;
}

size_t dns_zone_names(const struct dns_zone *z)
{
	return z->n_names;
}

int dns_zone_prefixes(const struct dns_zone *z, uint32_t kid, struct sipovl_prefix **out, size_t *n)
{
	const struct zsvc *s = NULL;

	*out = NULL;
	*n = 0;
	for (size_t i = 0; i < z->n_svcs && !s; i++)
		if (z->svcs[i].kid == kid)
			s = &z->svcs[i];
	if (!s)
		return 0;
	for (size_t i = 0; i < z->n_names; i++) {
		if (!svc_matches(s, z->names[i].name))
			continue;
		struct sipovl_prefix *np = realloc(*out, (*n + 2) * sizeof(*np));

		if (!np) {
			free(*out);
			*out = NULL;
			*n = 0;
			return -1;
		}
		*out = np;
		for (int f = 0; f < 2; f++) {
			if (!(f ? z->has6 : z->has4))
				continue;
			struct sipovl_prefix *p = &np[(*n)++];

			memset(p, 0, sizeof(*p));
			p->family = f ? AF_INET6 : AF_INET;
			p->len = f ? 128 : 32;
			dz_addr_of(z, z->names[i].idx, p->family, p->addr);
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ SIP discovery */

enum { T_UDP, T_TCP, T_TLS, T_N };
static const char *const t_srv[T_N] = { "_sip._udp.", "_sip._tcp.", "_sips._tcp." };
static const char *const t_naptr[T_N] = { "SIP+D2U", "SIP+D2T", "SIPS+D2T" };

static bool has_port(const struct zsvc *s, uint16_t port)
{
	for (size_t i = 0; i < s->n_ports; i++)
		if (s->ports[i].low <= port && port <= s->ports[i].high)
			return true;
	return false;
}

/*
 * The port of each SIP transport the services matching @name intercept (0: not offered): UDP
 * and TCP 5060, TLS 5061 when intercepted, else the port of a service intercepting one port.
 */
static void sip_ports(const struct dns_zone *z, const char *name, uint16_t port[T_N])
{
	memset(port, 0, T_N * sizeof(*port));
	for (size_t i = 0; i < z->n_svcs; i++) {
		const struct zsvc *s = &z->svcs[i];
		bool single = s->n_ports == 1 && s->ports[0].low == s->ports[0].high;

		if (!svc_matches(s, name))
			continue;
		if (s->protos & SIPOVL_PROTO_UDP) {
			if (has_port(s, 5060))
				port[T_UDP] = 5060;
			else if (single && !port[T_UDP])
				port[T_UDP] = s->ports[0].low;
		}
		if (s->protos & SIPOVL_PROTO_TCP) {
			if (has_port(s, 5060))
				port[T_TCP] = 5060;
			else if (single && !port[T_TCP] && s->ports[0].low != 5061)
				port[T_TCP] = s->ports[0].low;
			if (has_port(s, 5061))
				port[T_TLS] = 5061;
		}
	}
}

/* ------------------------------------------------------------------ answers */

struct ans {
	struct dns_zone *z;
	struct dns_resp r;
	const char *name;               /* the service name (SRV target, owner of A/AAAA) */
	uint32_t idx;
};

static int add_addrs(struct ans *a, enum dns_section sec, const char *owner, bool want4, bool want6)
{
	struct dns_rr rr = { .name = owner, .ttl = DNS_ZONE_TTL };
	int n = 0;

	if (want4 && a->z->has4) {
		rr.type = DNS_T_A;
		dz_addr_of(a->z, a->idx, AF_INET, rr.a);
		if (dns_resp_add(&a->r, sec, &rr) < 0)
			return -1;
		n++;
	}
	if (want6 && a->z->has6) {
		rr.type = DNS_T_AAAA;
		dz_addr_of(a->z, a->idx, AF_INET6, rr.aaaa);
		if (dns_resp_add(&a->r, sec, &rr) < 0)
			return -1;
		n++;
	}
	return n;
}

static int add_srv(struct ans *a, enum dns_section sec, int t, uint16_t port, bool named)
{
	char owner[DNS_NAME_STRLEN];
	struct dns_rr rr = { .type = DNS_T_SRV, .ttl = DNS_ZONE_TTL, .srv = { 10, 1, port, a->name } };

	if (named) {
		snprintf(owner, sizeof(owner), "%s%s", t_srv[t], a->name);
		rr.name = owner;
	}
	return dns_resp_add(&a->r, sec, &rr) < 0 ? -1 : 0;
}

/* the zone's SOA, for negative answers: the apex is the pattern's domain */
static int add_soa(struct ans *a, const char *apex)
{
	char rname[DNS_NAME_STRLEN];
	struct dns_rr rr = { .name = apex, .type = DNS_T_SOA, .ttl = DNS_ZONE_TTL,
			     .soa = { apex, rname, 1, 3600, 600, 86400, DNS_ZONE_TTL } };

	snprintf(rname, sizeof(rname), "hostmaster.%s", apex);
	if (dns_name_wire(rname, (uint8_t[DNS_WIRE_NAME_MAX + 1]){ 0 }, DNS_WIRE_NAME_MAX + 1) < 0)
		snprintf(rname, sizeof(rname), "%s", apex);
	return dns_resp_add(&a->r, DNS_SEC_NS, &rr) < 0 ? -1 : 0;
}

/* The pattern's domain for @name: the name itself (exact) or the wildcard's base. */
static const char *apex_of(const struct dns_zone *z, const char *name)
{
	for (size_t i = 0; i < z->n_svcs; i++)
		for (size_t j = 0; j < z->svcs[i].n_patterns; j++) {
			const char *p = z->svcs[i].patterns[j];

			if (dns_name_match(p, name))
				return (p[0] == '*' && p[1] == '.') ? p + 2 : p;
		}
	return name;
}

size_t dns_zone_kids(const struct dns_zone *z, const char *name, uint32_t *kids, size_t max)
{
	size_t n = 0;

	for (int t = 0; t < T_N; t++) { /* an SRV name: its domain's services */
		size_t l = strlen(t_srv[t]);

		if (!strncmp(name, t_srv[t], l) && any_matches(z, name + l)) {
			name += l;
			break;
		}
	}
	for (size_t i = 0; i < z->n_svcs && n < max; i++)
		if (svc_matches(&z->svcs[i], name))
			kids[n++] = z->svcs[i].kid;
	return n;
}

int dns_zone_answer(struct dns_zone *z, const struct dns_query *q, uint8_t *buf, size_t bufsize, size_t limit,
		    bool ra, bool *changed)
{
	struct ans a = { .z = z, .name = q->name };
	int srv_t = -1, rcode = DNS_R_NOERROR;
	uint16_t port[T_N];
	bool answered = false;

	if (q->qclass != DNS_C_IN && q->qclass != DNS_C_ANY)
		return 0;
	for (int t = 0; t < T_N && srv_t < 0; t++) { /* first: "*.d" also matches _sip._udp.x.d */
		size_t l = strlen(t_srv[t]);

		if (!strncmp(q->name, t_srv[t], l) && any_matches(z, q->name + l)) {
			srv_t = t;
			a.name = q->name + l;
		}
	}
	if (srv_t < 0 && !any_matches(z, q->name))
		return 0;
	a.idx = name_idx(z, a.name, changed);
	if (!a.idx) {
		if (dns_resp_begin(&a.r, buf, bufsize, limit, q, DNS_R_SERVFAIL, false, ra))
			return -1;
		return (int)dns_resp_finish(&a.r);
	}
	sip_ports(z, a.name, port);
	if (srv_t >= 0 && !port[srv_t])
		rcode = DNS_R_NXDOMAIN; /* this transport is not offered: the name does not exist */
	if (dns_resp_begin(&a.r, buf, bufsize, limit, q, rcode, true, ra))
		return -1;
	if (srv_t >= 0) {
		if (rcode == DNS_R_NOERROR && (q->qtype == DNS_T_SRV || q->qtype == DNS_T_ANY)) {
			if (add_srv(&a, DNS_SEC_AN, srv_t, port[srv_t], false) || add_addrs(&a, DNS_SEC_AR, a.name, true, true) < 0)
				return -1;
			answered = true;
		}
	} else if (q->qtype == DNS_T_A || q->qtype == DNS_T_AAAA || q->qtype == DNS_T_ANY) {
		int n = add_addrs(&a, DNS_SEC_AN, NULL, q->qtype != DNS_T_AAAA, q->qtype != DNS_T_A);

		if (n < 0)
			return -1;
		answered = n > 0;
	} else if (q->qtype == DNS_T_NAPTR) {
		static const uint16_t pref[T_N] = { 30, 20, 10 }; /* TLS, then TCP, then UDP */

		for (int t = 0; t < T_N; t++) {
			char repl[DNS_NAME_STRLEN];

			if (!port[t])
				continue;
			snprintf(repl, sizeof(repl), "%s%s", t_srv[t], a.name);
			struct dns_rr rr = { .type = DNS_T_NAPTR, .ttl = DNS_ZONE_TTL,
					     .naptr = { 10, pref[t], "s", t_naptr[t], "", repl } };

			if (dns_resp_add(&a.r, DNS_SEC_AN, &rr) < 0)
				return -1;
			answered = true;
		}
		for (int t = 0; t < T_N; t++) /* RFC 3403 4.4: what the client asks next */
			if (port[t] && add_srv(&a, DNS_SEC_AR, t, port[t], true))
				return -1;
		if (answered && add_addrs(&a, DNS_SEC_AR, a.name, true, true) < 0)
			return -1;
	}
	if (!answered && add_soa(&a, apex_of(z, a.name)))
		return -1; /* NODATA or NXDOMAIN: the SOA gives the negative TTL (RFC 2308) */
	return (int)dns_resp_finish(&a.r);
}
