// SPDX-License-Identifier: GPL-2.0
/*
 * sipovld's DNS responder: the allow-list of client prefixes and the response rate limit per
 * client (dns_guard.h). Free of I/O.
 */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/dns_guard.h"

/* ------------------------------------------------------------------ allow-list */

static void prefix_mask(struct sipovl_prefix *p)
{
	unsigned full = p->len / 8, rem = p->len % 8;

	if (rem)
		p->addr[full++] &= (uint8_t)(0xffu << (8 - rem));
	memset(p->addr + full, 0, sizeof(p->addr) - full);
}

static bool prefix_has(const struct sipovl_prefix *p, uint16_t family, const uint8_t *addr)
{
	unsigned full = p->len / 8, rem = p->len % 8;

	if (p->family != family || memcmp(p->addr, addr, full))
		return false;
	return !rem || !((p->addr[full] ^ addr[full]) & (uint8_t)(0xffu << (8 - rem)));
}

int dns_acl_add(struct dns_acl *a, const struct sipovl_prefix *p)
{
	struct sipovl_prefix m = *p;

	if ((m.family != AF_INET && m.family != AF_INET6) || m.len > (m.family == AF_INET ? 32 : 128))
		return -1;
	prefix_mask(&m);
	for (size_t i = 0; i < a->n; i++)
		if (a->p[i].family == m.family && a->p[i].len == m.len && !memcmp(a->p[i].addr, m.addr, sizeof(m.addr)))
			return 0;
	if (a->n == DNS_ACL_MAX)
		return -1;
	a->p[a->n++] = m;
	return 0;
}

static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

/*
 * @src's family and address; false for other families. An IPv4-mapped IPv6 source stays IPv6:
 * the listening sockets are IPv6-only, so such a source is a forged IPv6 packet (UDP), never
 * an IPv4 client: it must not pass for the LAN address it names (dns_acl_allows refuses it).
 */
static bool src_addr(const struct sockaddr_storage *src, uint16_t *family, const uint8_t **addr)
{
	if (src->ss_family == AF_INET) {
		*family = AF_INET;
		*addr = (const uint8_t *)&((const struct sockaddr_in *)src)->sin_addr;
		return true;
	}
	if (src->ss_family != AF_INET6)
		return false;
	*addr = ((const struct sockaddr_in6 *)src)->sin6_addr.s6_addr;
	*family = AF_INET6;
	return true;
}

bool dns_acl_allows(const struct dns_acl *a, const struct sockaddr_storage *src)
{
	uint16_t fam;
	const uint8_t *addr;

	if (!src_addr(src, &fam, &addr) || (fam == AF_INET6 && !memcmp(addr, v4mapped, sizeof(v4mapped))))
		return false; /* IPv4-mapped: forged (see src_addr), whatever the list says */
	for (size_t i = 0; i < a->n; i++)
		if (prefix_has(&a->p[i], fam, addr))
			return true;
	return false;
}

/* ------------------------------------------------------------------ rate limit */

struct bucket {
	uint64_t tokens;                /* thousandths of a response */
	uint64_t last_ms;
	uint32_t over;                  /* responses over the limit (the slip's count) */
};

struct rrl_ent {
	struct bucket b;
	uint8_t key[8];                 /* an IPv4 address, or an IPv6 /64 */
	uint8_t family;                 /* 0: free */
};

struct rrl_set {
	struct rrl_ent e[DNS_RRL_WAYS];
	struct bucket spare;
};

struct dns_rrl {
	unsigned rate, slip;
	uint64_t cap;
	uint64_t k0, k1;
	struct bucket refused;
	struct dns_rrl_stats st;
	size_t clients;
	struct rrl_set set[DNS_RRL_SETS];
};

struct dns_rrl *dns_rrl_new(unsigned rate, unsigned slip, const uint8_t key[16])
{
	struct dns_rrl *r;

	if (!rate || rate > DNS_RRL_MAX || slip > DNS_RRL_SLIP_MAX || !(r = calloc(1, sizeof(*r))))
		return NULL;
	r->rate = rate;
	r->slip = slip;
	r->cap = (uint64_t)rate * 1000;
	memcpy(&r->k0, key, 8);
	memcpy(&r->k1, key + 8, 8);
	r->refused.tokens = r->cap;
	for (size_t i = 0; i < DNS_RRL_SETS; i++)
		r->set[i].spare.tokens = r->cap;
	return r;
}

void dns_rrl_free(struct dns_rrl *r)
{
	free(r);
}

/* the bucket's tokens at @now: @rate a second, up to one second's worth */
static void refill(const struct dns_rrl *r, struct bucket *b, uint64_t now)
{
	if (now <= b->last_ms) { /* the same millisecond (or a clock that went back): nothing */
		b->last_ms = b->last_ms > now ? now : b->last_ms;
		return;
	}
	uint64_t el = now - b->last_ms;

	b->tokens = el >= 1000 ? r->cap : b->tokens + el * r->rate;
	if (b->tokens > r->cap)
		b->tokens = r->cap;
	b->last_ms = now;
}

static enum dns_rrl_verdict take(struct dns_rrl *r, struct bucket *b, uint64_t now, bool may_slip)
{
	refill(r, b, now);
	if (b->tokens >= 1000) {
		b->tokens -= 1000;
		b->over = 0;
		return DNS_RRL_PASS;
	}
	/* one in slip answered TC, starting with the first one over the limit */
	if (may_slip && r->slip && b->over++ % r->slip == 0)
		return DNS_RRL_SLIP;
	return DNS_RRL_DROP;
}

static uint64_t mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	return h ^ (h >> 33);
}

/* @src's bucket: its own (found, a free one, or a refilled one taken over), else its set's spare */
static struct bucket *bucket_of(struct dns_rrl *r, const struct sockaddr_storage *src, uint64_t now_ms)
{
	uint8_t key[8] = { 0 };
	uint16_t fam;
	const uint8_t *addr;
	uint64_t k;

	if (!src_addr(src, &fam, &addr)) { /* not from our sockets: the spare bucket of set 0 */
		r->st.shared++;
		return &r->set[0].spare;
	}
	memcpy(key, addr, fam == AF_INET ? 4 : 8);
	memcpy(&k, key, 8);
	struct rrl_set *s = &r->set[mix(mix(k ^ r->k0) ^ fam ^ r->k1) % DNS_RRL_SETS];
	struct rrl_ent *e = NULL;

	for (int i = 0; i < DNS_RRL_WAYS; i++)
		if (s->e[i].family == fam && !memcmp(s->e[i].key, key, sizeof(key)))
			return &s->e[i].b;
	for (int i = 0; i < DNS_RRL_WAYS && !e; i++)
		if (!s->e[i].family) {
			e = &s->e[i];
			r->clients++;
		}
	for (int i = 0; i < DNS_RRL_WAYS && !e; i++) { /* one refilled: evicting it loses nothing */
		refill(r, &s->e[i].b, now_ms);
		if (s->e[i].b.tokens == r->cap)
			e = &s->e[i];
	}
	if (!e) {
		r->st.shared++;
		return &s->spare;
	}
	memset(e, 0, sizeof(*e));
	e->family = (uint8_t)fam;
	memcpy(e->key, key, sizeof(key));
	e->b.tokens = r->cap;
	e->b.last_ms = now_ms;
	return &e->b;
}

enum dns_rrl_verdict dns_rrl_check(struct dns_rrl *r, const struct sockaddr_storage *src, uint64_t now_ms)
{
	enum dns_rrl_verdict v = take(r, bucket_of(r, src, now_ms), now_ms, true);

	if (v == DNS_RRL_PASS)
		r->st.passed++;
	else if (v == DNS_RRL_SLIP)
		r->st.slipped++;
	else
		r->st.dropped++;
	return v;
}

enum dns_rrl_verdict dns_rrl_check_refused(struct dns_rrl *r, uint64_t now_ms)
{
	enum dns_rrl_verdict v = take(r, &r->refused, now_ms, false);

	if (v != DNS_RRL_PASS)
		r->st.refused_dropped++;
	return v;
}

void dns_rrl_stats(const struct dns_rrl *r, struct dns_rrl_stats *st)
{
	*st = r->st;
}

size_t dns_rrl_clients(const struct dns_rrl *r)
{
	return r->clients;
}
