// SPDX-License-Identifier: GPL-2.0
/*
 * sipovld ip-pool (I/O free, see pool.h): the pool service's messages, both sides (the pool
 * server's pool_serve, the endpoint's requests and the replies' parsers).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/cfg.h"
#include "daemon/errf.h"
#include "daemon/pool.h"
#include "daemon/pool_int.h"

/* ---- the pool service's messages ---- */

size_t pool_reply_err(char *reply, size_t cap, enum pool_err e)
{
	int k = snprintf(reply, cap, "err %s %s\n", pool_codes[e], pool_strerror(e));

	return k < 0 ? 0 : (size_t)k;
}

/* as pool_reply_err, with the pool's own reason for holding new leases */
static size_t pool_reply_perr(const struct pool *p, char *reply, size_t cap, enum pool_err e)
{
	int k;

	if (e != POOL_E_WAIT || !p->hold_why)
		return pool_reply_err(reply, cap, e);
	k = snprintf(reply, cap, "err %s %s\n", pool_codes[e], p->hold_why);
	return k < 0 ? 0 : (size_t)k;
}

/* "ok ADDRESS lease_s=N range=CIDR": the range, so that an endpoint knows which sources are
 * the pool's (pool_check.c asks only about those) */
static size_t pool_reply_ok(const struct pool *p, const struct sipovl_prefix *a, char *reply, size_t cap)
{
	char abuf[64], rbuf[64];
	int k;

	k = snprintf(reply, cap, "ok %s lease_s=%u range=%s\n", pool_fmt(a, abuf, sizeof(abuf)), p->lease_s,
		     pool_fmt_range(&p->range, rbuf, sizeof(rbuf)));
	return k < 0 || (size_t)k >= cap ? 0 : (size_t)k;
}

size_t pool_serve(struct pool *p, const char *caller, const char *req, size_t len, char *reply, size_t cap)
{
	char line[128], *w[5], abuf[INET6_ADDRSTRLEN];
	struct sipovl_prefix want, out;
	size_t nw;
	enum pool_err e;
	int k;

	if (!len || len > sizeof(line) || req[len - 1] != '\n' || memchr(req, 0, len) ||
	    memchr(req, '\n', len - 1))
		return pool_reply_err(reply, cap, POOL_E_INVAL);
	memcpy(line, req, len - 1);
	line[len - 1] = 0;
	nw = pool_words(line, w, 5);
	if (nw < 2 || nw > 4 || strcmp(w[1], p->name) || !pool_owner_ok(caller))
		return pool_reply_err(reply, cap, POOL_E_INVAL);
	if (!strcmp(w[0], "claim") && nw == 4 && !strcmp(w[2], "not")) {
		if (cfg_parse_ip(w[3], &want))
			return pool_reply_err(reply, cap, POOL_E_INVAL);
		e = pool_claim_other(p, caller, &want, &out);
		if (e)
			return pool_reply_perr(p, reply, cap, e);
		return pool_reply_ok(p, &out, reply, cap);
	}
	if ((!strcmp(w[0], "claim") && (nw == 2 || nw == 3)) || (!strcmp(w[0], "renew") && nw == 3)) {
		if (nw == 3 && cfg_parse_ip(w[2], &want))
			return pool_reply_err(reply, cap, POOL_E_INVAL);
		e = w[0][0] == 'r' ? pool_renew(p, caller, &want, &out) : pool_claim(p, caller, nw == 3 ? &want : NULL, &out);
		if (e)
			return pool_reply_perr(p, reply, cap, e);
		return pool_reply_ok(p, &out, reply, cap);
	}
	if (!strcmp(w[0], "who") && nw == 3) {
		const char *owner;

		if (cfg_parse_ip(w[2], &want))
			return pool_reply_err(reply, cap, POOL_E_INVAL);
		e = pool_who(p, &want, &owner);
		if (e == POOL_E_NOLEASE)
			k = snprintf(reply, cap, "err nolease no identity holds %s\n", pool_fmt(&want, abuf, sizeof(abuf)));
		else if (e)
			return pool_reply_err(reply, cap, e);
		else
			k = snprintf(reply, cap, "ok %s\n", owner);
		return k < 0 ? 0 : (size_t)k;
	}
	if (!strcmp(w[0], "release") && nw == 2) {
		e = pool_release(p, caller);
		if (e)
			return pool_reply_err(reply, cap, e);
		k = snprintf(reply, cap, "ok\n");
		return (size_t)k;
	}
	return pool_reply_err(reply, cap, POOL_E_INVAL);
}

/* a reply's lease_s=VALUE: decimal seconds, no sign, at most 31536000 (cfg_pool.c's bound) */
static int parse_lease_s(const char *s, long *out)
{
	long v = 0;

	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
		if (v > 31536000)
			return -1;
	}
	*out = v;
	return 0;
}

int pool_parse_reply(const char *buf, size_t len, struct sipovl_prefix *out, long *lease_s,
		     struct sipovl_prefix *range, char *err, size_t errlen)
{
	char line[160], *w[8];
	size_t nw;

	if (lease_s)
		*lease_s = -1;
	if (range)
		memset(range, 0, sizeof(*range));
	if (!len || len > sizeof(line) || buf[len - 1] != '\n' || memchr(buf, 0, len) || memchr(buf, '\n', len - 1))
		return errf(err, errlen, "malformed pool reply");
	memcpy(line, buf, len - 1);
	line[len - 1] = 0;
	if (!strncmp(line, "err ", 4)) {
		char *sp = strchr(line + 4, ' ');

		if (sp)
			*sp = 0;
		for (int c = POOL_E_INVAL; c <= POOL_E_WAIT; c++)
			if (!strcmp(line + 4, pool_codes[c])) {
				errf(err, errlen, "%s", sp ? sp + 1 : pool_strerror(c));
				return c;
			}
		return errf(err, errlen, "malformed pool reply");
	}
	nw = pool_words(line, w, 8);
	if (nw == 1 && !strcmp(w[0], "ok"))
		return 0;
	if (nw < 2 || nw > 7 || strcmp(w[0], "ok") || !out || cfg_parse_ip(w[1], out))
		return errf(err, errlen, "malformed pool reply");
	/* KEY=VALUE options after the address; a key this version does not know is a newer server's */
	for (size_t i = 2; i < nw; i++) {
		char *eq = strchr(w[i], '=');
		long v;

		if (!eq || eq == w[i])
			return errf(err, errlen, "malformed pool reply");
		*eq = 0;
		if (!strcmp(w[i], "range")) {
			struct sipovl_prefix r;

			/* a pool's shape (pool_init's), not a bare address */
			if (!strchr(eq + 1, '/') || cfg_parse_prefix(eq + 1, &r) || r.family != out->family ||
			    !pool_range_ok(&r))
				return errf(err, errlen, "malformed pool reply: range");
			if (range)
				*range = r;
			continue;
		}
		if (strcmp(w[i], "lease_s"))
			continue;
		if (parse_lease_s(eq + 1, &v))
			return errf(err, errlen, "malformed pool reply: lease_s");
		if (lease_s)
			*lease_s = v;
	}
	return 0;
}

int pool_parse_who(const char *buf, size_t len, char *owner, size_t ownerlen, char *err, size_t errlen)
{
	char line[160], *w[3];
	int rc;

	if (ownerlen)
		owner[0] = 0;
	if (!len || len > sizeof(line) || buf[len - 1] != '\n' || memchr(buf, 0, len) || memchr(buf, '\n', len - 1))
		return errf(err, errlen, "malformed pool reply");
	if (len > 4 && !memcmp(buf, "err ", 4)) {
		rc = pool_parse_reply(buf, len, NULL, NULL, NULL, err, errlen);
		return rc ? rc : errf(err, errlen, "malformed pool reply");
	}
	memcpy(line, buf, len - 1);
	line[len - 1] = 0;
	if (pool_words(line, w, 3) != 2 || strcmp(w[0], "ok") || !pool_owner_ok(w[1]) || strlen(w[1]) >= ownerlen)
		return errf(err, errlen, "malformed pool reply");
	snprintf(owner, ownerlen, "%s", w[1]);
	return 0;
}

int pool_check_decide(int who_rc, const char *owner, const char *why_no, const char *dialer, const char *ip,
		      const char *pool, char *why, size_t whylen)
{
	if (who_rc == POOL_E_RANGE)
		return 0;
	if (who_rc == POOL_E_NOLEASE)
		return errf(why, whylen, "claimed source %s is an address of pool %s that no identity holds", ip, pool);
	if (who_rc)
		return errf(why, whylen, "claimed source %s: its lease in pool %s cannot be checked (%s)", ip, pool,
			    who_rc == -2 ? why_no : who_rc < 0 ? "malformed reply from the pool server" : pool_strerror(who_rc));
	if (!dialer || !*dialer)
		return errf(why, whylen, "claimed source %s is leased to '%.64s' in pool %s, and the router did not say who "
			    "dials (routers before ziti 2.0 do not; source_identity \"caller\" trusts the caller id)", ip,
			    owner, pool);
	if (strcmp(owner, dialer))
		return errf(why, whylen, "claimed source %s is leased to '%.64s' in pool %s, not to the dialer '%.100s'", ip,
			    owner, pool, dialer);
	return 0;
}

int pool_addr_usable(const struct sipovl_prefix *a, char *err, size_t errlen)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	const uint8_t *b = a->addr;
	static const uint8_t zero[16];

	if (a->family == AF_INET) {
		if (!memcmp(b, zero, 4) || b[0] == 127 || b[0] >= 224 || (b[0] == 169 && b[1] == 254))
			return errf(err, errlen, "not a usable unicast address (unspecified, loopback, multicast, "
				    "reserved, broadcast or link-local)");
		return 0;
	}
	if (a->family != AF_INET6)
		return errf(err, errlen, "no address family");
	if (!memcmp(b, zero, 15) && b[15] <= 1)
		return errf(err, errlen, "the unspecified or loopback address");
	if (b[0] == 0xff || (b[0] == 0xfe && (b[1] & 0xc0) == 0x80))
		return errf(err, errlen, "a multicast or link-local address");
	if (!memcmp(b, mapped, sizeof(mapped)))
		return errf(err, errlen, "an IPv4-mapped address");
	return 0;
}

/* ------------------------------------------------------------------ the endpoint's side */

size_t pool_claim_req(const char *pool, const struct sipovl_prefix *want, char *buf, size_t cap)
{
	char a[INET6_ADDRSTRLEN];
	int n = snprintf(buf, cap, "claim %s%s%s\n", pool, want ? " " : "", want ? pool_fmt(want, a, sizeof(a)) : "");

	return n < 0 ? cap : (size_t)n;
}

size_t pool_claim_other_req(const char *pool, const struct sipovl_prefix *avoid, char *buf, size_t cap)
{
	char t[INET6_ADDRSTRLEN];
	int n = snprintf(buf, cap, "claim %s not %s\n", pool, pool_fmt(avoid, t, sizeof(t)));

	return n < 0 ? cap : (size_t)n;
}

size_t pool_renew_req(const char *pool, const struct sipovl_prefix *a, char *buf, size_t cap)
{
	char t[INET6_ADDRSTRLEN];
	int n = snprintf(buf, cap, "renew %s %s\n", pool, pool_fmt(a, t, sizeof(t)));

	return n < 0 ? cap : (size_t)n;
}

size_t pool_who_req(const char *pool, const struct sipovl_prefix *a, char *buf, size_t cap)
{
	char abuf[INET6_ADDRSTRLEN];
	int k = snprintf(buf, cap, "who %s %s\n", pool, pool_fmt(a, abuf, sizeof(abuf)));

	return k < 0 ? 0 : (size_t)k;
}

size_t pool_state_fmt(const char *pool, const struct sipovl_prefix *a, char *buf, size_t cap)
{
	char t[INET6_ADDRSTRLEN];
	int n = snprintf(buf, cap, "sipovl-endpoint 1 %s %s\n", pool, pool_fmt(a, t, sizeof(t)));

	return n < 0 ? cap : (size_t)n;
}

int pool_state_parse(const char *buf, size_t len, const char *pool, struct sipovl_prefix *out, char *err,
		     size_t errlen)
{
	char line[160], *w[5];
	size_t nw;

	if (!len || len >= sizeof(line) || buf[len - 1] != '\n' || memchr(buf, 0, len) || memchr(buf, '\n', len - 1))
		return errf(err, errlen, "expected one line \"sipovl-endpoint 1 POOL ADDRESS\"");
	memcpy(line, buf, len - 1);
	line[len - 1] = 0;
	nw = pool_words(line, w, 5);
	if (nw != 4 || strcmp(w[0], "sipovl-endpoint") || strcmp(w[1], "1"))
		return errf(err, errlen, "expected \"sipovl-endpoint 1 POOL ADDRESS\"");
	if (cfg_parse_ip(w[3], out))
		return errf(err, errlen, "\"%.60s\" is not an IP address", w[3]);
	if (strcmp(w[2], pool)) {
		errf(err, errlen, "it is for pool \"%.40s\", not %s", w[2], pool);
		return 1;
	}
	return 0;
}

/* ---- the pool server's count of its service's terminators ---- */

static bool excl_known(const char *id, const char *const *known, size_t nknown)
{
	for (size_t k = 0; k < nknown; k++)
		if (!strcmp(id, known[k]))
			return true;
	return false;
}

enum pool_excl pool_excl_verdict(const struct pool_excl_own *ours, size_t nours, const struct pool_excl_listed *listed,
				 size_t n, size_t total, const char *const *known, size_t nknown, bool *mine,
				 size_t *others, size_t *stale)
{
	bool unsure = !nours;

	*others = total > n ? total - n : 0;
	*stale = 0;
	for (size_t i = 0; i < n; i++)
		mine[i] = false;
	/* router by router, each router once: the first entry naming it, of ours or of the listing */
	for (size_t r = 0; r < nours + n; r++) {
		const char *router = r < nours ? ours[r].router : listed[r - nours].router;
		size_t old = 0, fresh = 0, kn = 0, unk = 0, seen = 0;

		if (!router[0]) { /* a router the identity cannot name: not one of this server's */
			if (r >= nours)
				(*others)++;
			continue;
		}
		for (size_t j = 0; j < r; j++)
			seen += !strcmp(router, j < nours ? ours[j].router : listed[j - nours].router);
		if (seen)
			continue;
		for (size_t j = 0; j < nours; j++)
			if (!strcmp(router, ours[j].router)) {
				if (ours[j].before)
					old++;
				else
					fresh++;
			}
		for (size_t i = 0; i < n; i++) {
			if (strcmp(router, listed[i].router))
				continue;
			if (excl_known(listed[i].id, known, nknown)) {
				kn++;
				mine[i] = true; /* this server's, bound before or left from then */
			} else if (unk++ < fresh) {
				mine[i] = true; /* bound since */
			}
		}
		if (unk > fresh)
			*others += unk - fresh;
		if (unk < fresh || kn < old)
			unsure = true;
		if (kn > old)
			*stale += kn - old;
	}
	if (*others)
		return POOL_EXCL_OTHERS;
	return unsure ? POOL_EXCL_UNSURE : POOL_EXCL_ONLY;
}
