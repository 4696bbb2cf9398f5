// SPDX-License-Identifier: GPL-2.0
/*
 * sipovld ip-pool (I/O free, see pool.h): leases of one pool, the lease file's text (the pool
 * service's messages: pool_msg.c).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/cfg.h"
#include "daemon/errf.h"
#include "daemon/pool.h"
#include "daemon/pool_int.h"

const char *const pool_codes[POOL_E_WAIT + 1] = {
	[POOL_OK] = "ok", [POOL_E_INVAL] = "inval", [POOL_E_RANGE] = "range", [POOL_E_TAKEN] = "taken",
	[POOL_E_FULL] = "full", [POOL_E_NOLEASE] = "nolease", [POOL_E_NOMEM] = "nomem", [POOL_E_STORE] = "store",
	[POOL_E_WAIT] = "wait",
};

const char *pool_strerror(enum pool_err e)
{
	switch (e) {
	case POOL_OK: return "ok";
	case POOL_E_INVAL: return "malformed request, identity or address";
	case POOL_E_RANGE: return "address not in the pool";
	case POOL_E_TAKEN: return "address leased to another identity";
	case POOL_E_FULL: return "pool exhausted";
	case POOL_E_NOLEASE: return "identity holds no lease";
	case POOL_E_NOMEM: return "out of memory";
	case POOL_E_STORE: return "lease file not written (pool server's disk), nothing changed";
	case POOL_E_WAIT: return "pool server started recently, new leases wait until the endpoints renewed theirs";
	}
	return "unknown error";
}

static bool token_ok(const char *s, size_t max)
{
	size_t i;

	for (i = 0; s[i]; i++) {
		char c = s[i];

		if (i >= max || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
				  c == '.' || c == '_' || c == '-'))
			return false;
	}
	return i > 0;
}

bool pool_name_ok(const char *s)
{
	return s && token_ok(s, POOL_NAME_MAX);
}

bool pool_owner_ok(const char *s)
{
	return s && token_ok(s, POOL_OWNER_MAX);
}

static unsigned bits(const struct sipovl_prefix *a)
{
	return a->family == AF_INET ? 32 : 128;
}

static uint32_t low32(const struct sipovl_prefix *a)
{
	const uint8_t *b = a->addr + (a->family == AF_INET ? 0 : 12);

	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* usable offsets: 1 .. last (IPv4 leaves the network and broadcast addresses, IPv6 the
 * subnet-router anycast address) */
static uint32_t last_off(const struct pool *p)
{
	return p->range.family == AF_INET ? p->size - 2 : p->size - 1;
}

void pool_addr(const struct pool *p, uint32_t off, struct sipovl_prefix *out)
{
	uint32_t v = (low32(&p->range) & ~(p->size - 1)) | off;
	uint8_t *b;

	*out = p->range;
	out->len = (uint8_t)bits(&p->range);
	b = out->addr + (out->family == AF_INET ? 0 : 12);
	b[0] = v >> 24;
	b[1] = v >> 16;
	b[2] = v >> 8;
	b[3] = v;
}

/* the offset of @a in @p, or 0 when @a is not a usable address of the pool */
static uint32_t off_of(const struct pool *p, const struct sipovl_prefix *a)
{
	unsigned plen = p->range.len, full = plen / 8;
	uint32_t off;

	if (a->family != p->range.family)
		return 0;
	if (memcmp(a->addr, p->range.addr, full))
		return 0;
	if (plen % 8) {
		uint8_t m = (uint8_t)(0xff << (8 - plen % 8));

		if ((a->addr[full] & m) != (p->range.addr[full] & m))
			return 0;
	}
	off = low32(a) & (p->size - 1);
	return off >= 1 && off <= last_off(p) ? off : 0;
}

const char *pool_fmt(const struct sipovl_prefix *a, char *buf, size_t n)
{
	if (!inet_ntop(a->family, a->addr, buf, (socklen_t)n))
		snprintf(buf, n, "?");
	return buf;
}

const char *pool_fmt_range(const struct sipovl_prefix *r, char *buf, size_t n)
{
	char a[INET6_ADDRSTRLEN];

	snprintf(buf, n, "%s/%u", pool_fmt(r, a, sizeof(a)), r->len);
	return buf;
}

bool pool_range_ok(const struct sipovl_prefix *r)
{
	unsigned host;

	if (r->family != AF_INET && r->family != AF_INET6)
		return false;
	host = bits(r) - r->len;
	return host >= 2 && host <= 16;
}

int pool_init(struct pool *p, const char *name, const struct sipovl_prefix *range, char *err, size_t errlen)
{
	unsigned host;

	memset(p, 0, sizeof(*p));
	if (!pool_name_ok(name))
		return errf(err, errlen, "pool name: 1-%d characters of A-Z a-z 0-9 . _ -", POOL_NAME_MAX);
	if (range->family != AF_INET && range->family != AF_INET6)
		return errf(err, errlen, "pool %s: range must be IPv4 or IPv6", name);
	if (!pool_range_ok(range))
		return errf(err, errlen, "pool %s: range must be an IPv4 /16 to /30 or an IPv6 /112 to /126", name);
	host = bits(range) - range->len;
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->range = *range;
	p->size = 1u << host;
	return 0;
}

void pool_fini(struct pool *p)
{
	free(p->leases);
	p->leases = NULL;
	p->n = 0;
}

static size_t find_off(const struct pool *p, uint32_t off, bool *found)
{
	size_t lo = 0, hi = p->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (p->leases[mid].off < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < p->n && p->leases[lo].off == off;
	return lo;
}

static struct pool_lease *find_owner(const struct pool *p, const char *owner)
{
	for (size_t i = 0; i < p->n; i++)
		if (!strcmp(p->leases[i].owner, owner))
			return &p->leases[i];
	return NULL;
}

static void stamp(struct pool *p, struct pool_lease *l)
{
	if (l->seen != p->now) {
		l->seen = p->now;
		p->seen_dirty = true;
	}
}

static void remove_at(struct pool *p, size_t i)
{
	memmove(&p->leases[i], &p->leases[i + 1], (p->n - i - 1) * sizeof(p->leases[0]));
	p->n--;
}

/* @cur's lease moved to @off (free), in place: no allocation, so it works in a full table too */
static void move_lease(struct pool *p, struct pool_lease *cur, uint32_t off)
{
	struct pool_lease l = *cur;
	bool found;
	size_t i;

	remove_at(p, (size_t)(cur - p->leases));
	l.off = off;
	l.seen = p->now;
	i = find_off(p, off, &found);
	memmove(&p->leases[i + 1], &p->leases[i], (p->n - i) * sizeof(l));
	p->leases[i] = l;
	p->n++;
}

static enum pool_err insert(struct pool *p, uint32_t off, const char *owner)
{
	struct pool_lease *l;
	bool found;
	size_t i;

	if (p->n >= POOL_MAX_LEASES)
		return POOL_E_FULL;
	l = realloc(p->leases, (p->n + 1) * sizeof(*l));
	if (!l)
		return POOL_E_NOMEM;
	p->leases = l;
	i = find_off(p, off, &found);
	memmove(&l[i + 1], &l[i], (p->n - i) * sizeof(*l));
	l[i].off = off;
	snprintf(l[i].owner, sizeof(l[i].owner), "%s", owner);
	l[i].seen = p->now;
	p->n++;
	return POOL_OK;
}

static uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

/* a free address for @owner other than @aoff (an address local elsewhere on its host), its lease
 * (@cur, if any) moved there */
static enum pool_err claim_other(struct pool *p, const char *owner, struct pool_lease *cur, uint32_t aoff,
				 struct sipovl_prefix *out)
{
	uint32_t usable = last_off(p), off;
	bool found;

	if (p->hold)
		return POOL_E_WAIT;
	for (uint32_t k = 0; k < usable; k++) {
		off = 1 + (aoff + k) % usable;
		if (off == aoff)
			continue;
		find_off(p, off, &found);
		if (found)
			continue;
		if (cur) {
			move_lease(p, cur, off);
		} else {
			enum pool_err e = insert(p, off, owner);

			if (e)
				return e;
		}
		p->gen++;
		pool_addr(p, off, out);
		return POOL_OK;
	}
	return POOL_E_FULL;
}

static enum pool_err claim(struct pool *p, const char *owner, const struct sipovl_prefix *want,
			   struct sipovl_prefix *out, bool renew)
{
	struct pool_lease *cur;
	uint32_t usable, start, off;
	bool found;
	size_t i;
	enum pool_err e;

	if (!pool_owner_ok(owner))
		return POOL_E_INVAL;
	cur = find_owner(p, owner);
	if (p->hold && !renew) { /* only what changes nothing */
		if (!want && !cur)
			return POOL_E_WAIT;
		if (want) {
			off = off_of(p, want);
			if (!off)
				return POOL_E_RANGE;
			i = find_off(p, off, &found);
			if (!found)
				return POOL_E_WAIT;
			if (strcmp(p->leases[i].owner, owner))
				return POOL_E_TAKEN;
		}
	}
	if (want) {
		off = off_of(p, want);
		if (!off)
			return POOL_E_RANGE;
		i = find_off(p, off, &found);
		if (found && strcmp(p->leases[i].owner, owner))
			return POOL_E_TAKEN;
		if (!found && cur) {
			move_lease(p, cur, off);
			p->gen++;
		} else if (!found) {
			e = insert(p, off, owner);
			if (e)
				return e;
			p->gen++;
		} else {
			stamp(p, &p->leases[i]); /* its own: a renewal */
		}
		pool_addr(p, off, out);
		return POOL_OK;
	}
	if (cur) {
		stamp(p, cur);
		pool_addr(p, cur->off, out);
		return POOL_OK;
	}
	usable = last_off(p);
	start = fnv1a(owner) % usable;
	for (uint32_t k = 0; k < usable; k++) {
		off = 1 + (start + k) % usable;
		find_off(p, off, &found);
		if (found)
			continue;
		e = insert(p, off, owner);
		if (e)
			return e;
		p->gen++;
		pool_addr(p, off, out);
		return POOL_OK;
	}
	return POOL_E_FULL;
}

enum pool_err pool_claim(struct pool *p, const char *owner, const struct sipovl_prefix *want,
			 struct sipovl_prefix *out)
{
	return claim(p, owner, want, out, false);
}

enum pool_err pool_claim_other(struct pool *p, const char *owner, const struct sipovl_prefix *avoid,
			       struct sipovl_prefix *out)
{
	struct pool_lease *cur;
	uint32_t aoff = off_of(p, avoid);

	if (!pool_owner_ok(owner))
		return POOL_E_INVAL;
	cur = find_owner(p, owner);
	if (!aoff)
		return claim(p, owner, NULL, out, false);
	if (cur && cur->off != aoff) {
		stamp(p, cur);
		pool_addr(p, cur->off, out);
		return POOL_OK;
	}
	return claim_other(p, owner, cur, aoff, out);
}

enum pool_err pool_renew(struct pool *p, const char *owner, const struct sipovl_prefix *addr,
			 struct sipovl_prefix *out)
{
	return claim(p, owner, addr, out, true);
}

enum pool_err pool_release(struct pool *p, const char *owner)
{
	struct pool_lease *cur = pool_owner_ok(owner) ? find_owner(p, owner) : NULL;

	if (!cur)
		return POOL_E_NOLEASE;
	remove_at(p, (size_t)(cur - p->leases));
	p->gen++;
	return POOL_OK;
}

size_t pool_expire(struct pool *p, unsigned lease_s,
		   void (*gone)(const struct pool *p, const struct pool_lease *l, void *arg), void *arg)
{
	size_t n = 0;

	if (!lease_s || p->hold)
		return 0;
	for (size_t i = 0; i < p->n;) {
		if (p->now - p->leases[i].seen < (int64_t)lease_s) {
			i++;
			continue;
		}
		if (gone)
			gone(p, &p->leases[i], arg);
		remove_at(p, i);
		n++;
	}
	if (n)
		p->gen++;
	return n;
}

void pool_seen_floor(struct pool *p, int64_t floor)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->leases[i].seen < floor) {
			p->leases[i].seen = floor;
			p->seen_dirty = true;
		}
}

enum pool_err pool_release_addr(struct pool *p, const struct sipovl_prefix *addr, char *owner, size_t ownerlen)
{
	uint32_t off = off_of(p, addr);
	bool found;
	size_t i;

	if (!off)
		return POOL_E_RANGE;
	i = find_off(p, off, &found);
	if (!found)
		return POOL_E_NOLEASE;
	snprintf(owner, ownerlen, "%s", p->leases[i].owner);
	remove_at(p, i);
	p->gen++;
	return POOL_OK;
}

enum pool_err pool_who(const struct pool *p, const struct sipovl_prefix *addr, const char **owner)
{
	*owner = NULL;
	if (!off_of(p, addr))
		return POOL_E_RANGE;
	*owner = pool_owner_of(p, addr);
	return *owner ? POOL_OK : POOL_E_NOLEASE;
}

const char *pool_owner_of(const struct pool *p, const struct sipovl_prefix *addr)
{
	uint32_t off = off_of(p, addr);
	bool found;
	size_t i;

	if (!off)
		return NULL;
	i = find_off(p, off, &found);
	return found ? p->leases[i].owner : NULL;
}

enum pool_err pool_reconcile(struct pool *p, const char *const *live, size_t n_live, size_t *releasedp)
{
	size_t released = 0;

	*releasedp = 0;
	if (!n_live)
		return POOL_E_INVAL; /* a failed listing, far more likely than a network without identities */
	for (size_t j = 0; j < n_live; j++)
		if (!live[j] || !pool_owner_ok(live[j]))
			return POOL_E_INVAL;
	for (size_t i = 0; i < p->n;) {
		bool alive = false;

		for (size_t j = 0; j < n_live && !alive; j++)
			alive = !strcmp(live[j], p->leases[i].owner);
		if (alive) {
			i++;
			continue;
		}
		remove_at(p, i);
		released++;
	}
	if (released)
		p->gen++;
	*releasedp = released;
	return POOL_OK;
}

/* ---- lease file ---- */

static int cmp_owner(const void *a, const void *b)
{
	return strcmp((*(const struct pool_lease *const *)a)->owner, (*(const struct pool_lease *const *)b)->owner);
}

static int cmp_off(const void *a, const void *b)
{
	uint32_t x = ((const struct pool_lease *)a)->off, y = ((const struct pool_lease *)b)->off;

	return x < y ? -1 : x > y;
}

size_t pool_words(char *line, char **w, size_t max)
{
	size_t n = 0;

	for (char *s = line; *s && n < max;) {
		w[n++] = s;
		s = strchr(s, ' ');
		if (!s)
			break;
		*s++ = 0;
	}
	return n;
}

/* a lease file time: decimal seconds, no sign, at most 12 digits */
static int parse_seen(const char *s, long long *out)
{
	long long v = 0;
	size_t i;

	for (i = 0; s[i]; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 12)
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (!i)
		return -1;
	*out = v;
	return 0;
}

int pool_load(struct pool *p, const char *buf, size_t len, char *err, size_t errlen)
{
	struct pool_lease *l = NULL, **byowner = NULL;
	char line[256], *w[5], rng[INET6_ADDRSTRLEN + 8], abuf[INET6_ADDRSTRLEN];
	size_t pos = 0, n = 0, lineno = 0;
	int rc = -1;

	if (memchr(buf, 0, len))
		return errf(err, errlen, "lease file: contains a NUL byte");
	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t ll;
		struct sipovl_prefix a;

		lineno++;
		if (!nl) {
			errf(err, errlen, "lease file line %zu: not terminated by a newline (truncated file?)", lineno);
			goto out;
		}
		ll = (size_t)(nl - (buf + pos));
		if (ll >= sizeof(line)) {
			errf(err, errlen, "lease file line %zu: longer than %zu bytes", lineno, sizeof(line) - 1);
			goto out;
		}
		memcpy(line, buf + pos, ll);
		line[ll] = 0;
		pos += ll + 1;
		if (lineno == 1) {
			snprintf(rng, sizeof(rng), "%s/%u", pool_fmt(&p->range, abuf, sizeof(abuf)), p->range.len);
			if (pool_words(line, w, 5) != 4 || strcmp(w[0], "sipovl-pool") || strcmp(w[1], "1")) {
				errf(err, errlen, "lease file line 1: expected \"sipovl-pool 1 NAME RANGE\"");
				goto out;
			}
			if (strcmp(w[2], p->name) || strcmp(w[3], rng)) {
				errf(err, errlen, "lease file is for pool %.32s %.50s, not %s %s (a pool's range cannot change while it has leases)",
				     w[2], w[3], p->name, rng);
				goto out;
			}
			continue;
		}
		size_t nw = pool_words(line, w, 4);
		long long seen = p->now + p->wall_off;

		if ((nw != 2 && nw != 3) || cfg_parse_ip(w[0], &a) || !pool_owner_ok(w[1]) ||
		    (nw == 3 && parse_seen(w[2], &seen))) {
			errf(err, errlen, "lease file line %zu: expected \"ADDRESS IDENTITY-ID [SECONDS]\"", lineno);
			goto out;
		}
		if (n >= POOL_MAX_LEASES) {
			errf(err, errlen, "lease file line %zu: more than %d leases", lineno, POOL_MAX_LEASES);
			goto out;
		}
		if (!(n % 64)) {
			struct pool_lease *t = realloc(l, (n + 64) * sizeof(*l));

			if (!t) {
				errf(err, errlen, "out of memory");
				goto out;
			}
			l = t;
		}
		l[n].off = off_of(p, &a);
		if (!l[n].off) {
			errf(err, errlen, "lease file line %zu: %s is not a usable address of pool %s", lineno, w[0], p->name);
			goto out;
		}
		snprintf(l[n].owner, sizeof(l[n].owner), "%s", w[1]);
		l[n].seen = (int64_t)seen - p->wall_off;
		n++;
	}
	if (!lineno) {
		errf(err, errlen, "lease file: empty (expected at least its \"sipovl-pool\" line)");
		goto out;
	}
	if (n) {
		qsort(l, n, sizeof(*l), cmp_off);
		for (size_t i = 1; i < n; i++)
			if (l[i].off == l[i - 1].off) {
				struct sipovl_prefix a;

				pool_addr(p, l[i].off, &a);
				errf(err, errlen, "lease file: %s is leased twice (to %s and %s)",
				     pool_fmt(&a, abuf, sizeof(abuf)), l[i - 1].owner, l[i].owner);
				goto out;
			}
		byowner = malloc(n * sizeof(*byowner));
		if (!byowner) {
			errf(err, errlen, "out of memory");
			goto out;
		}
		for (size_t i = 0; i < n; i++)
			byowner[i] = &l[i];
		qsort(byowner, n, sizeof(*byowner), cmp_owner);
		for (size_t i = 1; i < n; i++)
			if (!strcmp(byowner[i]->owner, byowner[i - 1]->owner)) {
				errf(err, errlen, "lease file: identity %s holds two leases", byowner[i]->owner);
				goto out;
			}
	}
	free(p->leases);
	p->leases = l;
	p->n = n;
	p->gen++;
	l = NULL;
	rc = 0;
out:
	free(byowner);
	free(l);
	return rc;
}

size_t pool_dump(const struct pool *p, char *buf, size_t cap)
{
	char abuf[INET6_ADDRSTRLEN];
	size_t o = 0;
	int k;

	k = snprintf(buf, cap, "sipovl-pool 1 %s %s/%u\n", p->name, pool_fmt(&p->range, abuf, sizeof(abuf)), p->range.len);
	o += (size_t)k;
	for (size_t i = 0; i < p->n; i++) {
		struct sipovl_prefix a;

		pool_addr(p, p->leases[i].off, &a);
		long long seen = (long long)(p->leases[i].seen + p->wall_off);

		if (seen > 0)
			k = snprintf(o < cap ? buf + o : NULL, o < cap ? cap - o : 0, "%s %s %lld\n",
				     pool_fmt(&a, abuf, sizeof(abuf)), p->leases[i].owner, seen);
		else
			k = snprintf(o < cap ? buf + o : NULL, o < cap ? cap - o : 0, "%s %s\n",
				     pool_fmt(&a, abuf, sizeof(abuf)), p->leases[i].owner);
		o += (size_t)k;
	}
	return o;
}
