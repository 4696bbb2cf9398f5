// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests (TAP 13) of sipovld's ip-pool (daemon/pool.c): allocation (unique, stable, the
 * asked-for address, exhaustion, conflicts), release and reconciliation with the network's
 * identities, the lease file (round trip, every malformed form refused without change), the
 * pool service's messages (the owner is the authenticated caller). Built with ASan/UBSan
 * ($(O)/san/pool-unit); run by tests/daemon/run.sh.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/pool.h"
#include "daemon/pool_store.h"
#include "daemon/pool_writer.h"

#include "tests/daemon/tap.h"
#include "tests/daemon/endpoint_unit.h"

static struct sipovl_prefix pfx(const char *s, unsigned len)
{
	struct sipovl_prefix p = { 0 };

	p.family = strchr(s, ':') ? AF_INET6 : AF_INET;
	inet_pton(p.family, s, p.addr);
	p.len = (uint8_t)len;
	return p;
}

static void pinit(struct pool *p, const char *name, const char *range, unsigned len)
{
	struct sipovl_prefix r = pfx(range, len);
	char err[200];

	if (pool_init(p, name, &r, err, sizeof(err))) {
		printf("Bail out! %s\n", err);
		exit(1);
	}
}

/* @a is leased to @who (false when free) */
static int owner_is(const struct pool *p, const struct sipovl_prefix *a, const char *who)
{
	const char *o = pool_owner_of(p, a);

	return o && !strcmp(o, who);
}

static const char *fmt(const struct sipovl_prefix *a)
{
	static char b[4][INET6_ADDRSTRLEN];
	static int i;

	i = (i + 1) % 4;
	return pool_fmt(a, b[i], sizeof(b[i]));
}

static void test_init(void)
{
	struct pool p;
	char err[200];
	struct sipovl_prefix r;

	r = pfx("100.127.0.0", 24);
	ok(!pool_init(&p, "voip-ips", &r, err, sizeof(err)) && p.size == 256, "init: a /24 pool has 256 addresses");
	pool_fini(&p);
	r = pfx("100.127.0.0", 31);
	ok(pool_init(&p, "voip-ips", &r, err, sizeof(err)) && strstr(err, "/16 to /30"), "init: a /31 is refused: %s", err);
	r = pfx("10.0.0.0", 8);
	ok(pool_init(&p, "voip-ips", &r, err, sizeof(err)) && strstr(err, "/16 to /30"), "init: a /8 is refused (too large)");
	r = pfx("100.127.0.0", 24);
	ok(pool_init(&p, "voip ips", &r, err, sizeof(err)) && strstr(err, "pool name"), "init: a name with a space is refused: %s", err);
	ok(pool_init(&p, "", &r, err, sizeof(err)) && strstr(err, "pool name"), "init: an empty name is refused");
	r = pfx("fd00:5::", 120);
	ok(!pool_init(&p, "v6", &r, err, sizeof(err)) && p.size == 256, "init: an IPv6 /120 pool");
	pool_fini(&p);
}

static void test_claim(void)
{
	struct pool p;
	struct sipovl_prefix r = pfx("100.127.0.0", 29), a, b, c, w;
	char err[200], id[32];
	enum pool_err e;
	int uniq = 1, inrange = 1;

	pool_init(&p, "voip-ips", &r, err, sizeof(err));
	/* a /29: 8 addresses, 6 usable (.1 to .6) */
	for (int i = 0; i < 6; i++) {
		snprintf(id, sizeof(id), "phone%d", i);
		e = pool_claim(&p, id, NULL, &a);
		if (e || a.addr[3] < 1 || a.addr[3] > 6 || a.len != 32)
			inrange = 0;
		for (int j = 0; j < i; j++)
			if (p.leases[j].off == p.leases[j + 1].off)
				uniq = 0;
	}
	ok(inrange && p.n == 6, "claim: 6 identities get the 6 usable addresses of a /29 (no network, no broadcast)");
	ok(uniq, "claim: no address leased twice");
	e = pool_claim(&p, "phone6", NULL, &a);
	ok(e == POOL_E_FULL && p.n == 6, "claim: a 7th identity: pool exhausted (%s), nothing changed", pool_strerror(e));
	e = pool_claim(&p, "phone3", NULL, &a);
	ok(!e && owner_is(&p, &a, "phone3"), "claim: again by phone3: its own address %s (stable)", fmt(&a));
	ok(!pool_release(&p, "phone3") && p.n == 5 && !pool_owner_of(&p, &a), "release: phone3's address is free");
	ok(pool_release(&p, "phone3") == POOL_E_NOLEASE, "release: twice: no lease");
	e = pool_claim(&p, "phone6", NULL, &b);
	ok(!e && !memcmp(&a, &b, sizeof(a)), "claim: phone6 gets the released address %s", fmt(&b));
	pool_fini(&p);

	pinit(&p, "voip-ips", "100.127.0.0", 24);
	pool_claim(&p, "alice", NULL, &a);
	w = pfx("100.127.0.77", 32);
	e = pool_claim(&p, "bob", &w, &b);
	ok(!e && !memcmp(&b, &w, sizeof(w)), "claim: bob asks for %s and gets it", fmt(&w));
	e = pool_claim(&p, "carol", &w, &c);
	ok(e == POOL_E_TAKEN && owner_is(&p, &w, "bob") && p.n == 2,
	   "claim: carol asks for bob's %s: taken, bob keeps it, nothing changed", fmt(&w));
	e = pool_claim(&p, "bob", &a, &c);
	ok(e == POOL_E_TAKEN, "claim: bob asks for alice's address: taken");
	w = pfx("100.127.0.78", 32);
	e = pool_claim(&p, "bob", &w, &c);
	ok(!e && owner_is(&p, &w, "bob") && !pool_owner_of(&p, &b) && p.n == 2,
	   "claim: bob asks for a free address: his lease moves (one lease per identity)");
	w = pfx("100.127.1.5", 32);
	ok(pool_claim(&p, "dave", &w, &c) == POOL_E_RANGE, "claim: an address outside the range: not in the pool");
	w = pfx("100.127.0.255", 32);
	ok(pool_claim(&p, "dave", &w, &c) == POOL_E_RANGE, "claim: the broadcast address: not usable");
	w = pfx("100.127.0.0", 32);
	ok(pool_claim(&p, "dave", &w, &c) == POOL_E_RANGE, "claim: the network address: not usable");
	w = pfx("fd00::1", 128);
	ok(pool_claim(&p, "dave", &w, &c) == POOL_E_RANGE, "claim: an IPv6 address in an IPv4 pool: not in the pool");
	ok(pool_claim(&p, "bad id", NULL, &c) == POOL_E_INVAL && pool_claim(&p, "", NULL, &c) == POOL_E_INVAL,
	   "claim: malformed identity ids refused");
	pool_fini(&p);

	/* stable start: a lost lease file gives the same addresses when claimed in another order */
	{
		struct pool q1, q2;
		struct sipovl_prefix x1, x2;
		int same = 0;

		pinit(&q1, "n", "100.127.0.0", 16);
		pinit(&q2, "n", "100.127.0.0", 16);
		for (int i = 0; i < 20; i++) {
			snprintf(id, sizeof(id), "id-%d", i);
			pool_claim(&q1, id, NULL, &x1);
		}
		for (int i = 19; i >= 0; i--) {
			snprintf(id, sizeof(id), "id-%d", i);
			pool_claim(&q2, id, NULL, &x2);
			if (owner_is(&q1, &x2, id))
				same++;
		}
		ok(same == 20, "claim: 20 identities in reverse order on an empty /16 get the same addresses (%d of 20)", same);
		pool_fini(&q1);
		pool_fini(&q2);
	}
	pinit(&p, "v6", "fd00:5::", 126);
	inrange = !pool_claim(&p, "a", NULL, &a) && !pool_claim(&p, "b", NULL, &b) && !pool_claim(&p, "c", NULL, &c) &&
	    pool_claim(&p, "d", NULL, &w) == POOL_E_FULL && a.family == AF_INET6 && a.len == 128;
	ok(inrange,
	   "claim: an IPv6 /126 has 3 usable addresses (%s %s %s)", fmt(&a), fmt(&b), fmt(&c));
	pool_fini(&p);
}

/* a full lease table (POOL_MAX_LEASES): an identity can still move its own lease */
static void test_full_move(void)
{
	struct pool p;
	struct sipovl_prefix a, w;
	char id[32];
	enum pool_err e = POOL_OK;
	int i;

	pinit(&p, "big", "100.64.0.0", 16);
	for (i = 0; i < POOL_MAX_LEASES && !e; i++) {
		snprintf(id, sizeof(id), "id-%d", i);
		e = pool_claim(&p, id, NULL, &a);
	}
	ok(!e && p.n == POOL_MAX_LEASES && pool_claim(&p, "one-more", NULL, &a) == POOL_E_FULL,
	   "full: %d leases, the next identity is refused (full)", POOL_MAX_LEASES);
	pool_claim(&p, "id-7", NULL, &a);
	for (uint32_t off = 1; off < p.size - 1; off++) {
		pool_addr(&p, off, &w);
		if (!pool_owner_of(&p, &w))
			break;
	}
	e = pool_claim(&p, "id-7", &w, &a);
	ok(!e && owner_is(&p, &w, "id-7") && p.n == POOL_MAX_LEASES,
	   "full: id-7 moves its lease to %s all the same (%s)", fmt(&w), pool_strerror(e));
	pool_fini(&p);
}

static void test_reconcile(void)
{
	struct pool p;
	struct sipovl_prefix a;
	const char *live[] = { "alice", "carol" };

	pinit(&p, "voip-ips", "100.127.0.0", 24);
	pool_claim(&p, "alice", NULL, &a);
	pool_claim(&p, "bob", NULL, &a);
	pool_claim(&p, "carol", NULL, &a);
	const char *none[] = { NULL }, *bad[] = { "alice", "carol", "no such id!" };
	size_t rel = 99;

	ok(pool_reconcile(&p, live, 2, &rel) == POOL_OK && rel == 1 && p.n == 2 && !pool_claim(&p, "alice", NULL, &a) &&
		   p.n == 2,
	   "reconcile: bob deleted from the network: his lease released, alice keeps hers");
	ok(pool_reconcile(&p, live, 2, &rel) == POOL_OK && rel == 0, "reconcile: nothing more to release");
	/* an empty identity list is a failed listing far more often than a network without
	 * identities: it must not release every lease (before: 3 of 3 released) */
	pool_claim(&p, "bob", NULL, &a);
	ok(pool_reconcile(&p, none, 0, &rel) == POOL_E_INVAL && rel == 0 && p.n == 3,
	   "reconcile: an empty identity list is refused, the 3 leases kept");
	ok(pool_reconcile(&p, bad, 3, &rel) == POOL_E_INVAL && rel == 0 && p.n == 3,
	   "reconcile: a list with a malformed id is refused, nothing released (before: bob's released)");
	pool_fini(&p);
}

static void test_file(void)
{
	struct pool p, q;
	struct sipovl_prefix a, b;
	char err[300], buf[4096];
	size_t len;
	uint64_t gen;
	static const struct {
		const char *text, *want, *what;
	} bad[] = {
		{ "", "empty", "an empty file" },
		{ "sipovl-pool 1 voip-ips 100.127.0.0/24", "not terminated", "a truncated header" },
		{ "sipovl-pool 2 voip-ips 100.127.0.0/24\n", "expected \"sipovl-pool 1", "another version" },
		{ "sipovl-pool 1 other 100.127.0.0/24\n", "is for pool other", "another pool's file" },
		{ "sipovl-pool 1 voip-ips 100.127.0.0/23\n", "range cannot change", "another range" },
		{ "sipovl-pool 1 voip-ips 100.127.0.0/24\n100.127.0.9 alice", "line 2: not terminated", "a truncated lease" },
		{ "sipovl-pool 1 voip-ips 100.127.0.0/24\n100.127.0.9\n", "line 2: expected", "a lease with no identity" },
		{ "sipovl-pool 1 voip-ips 100.127.0.0/24\n100.127.0.9  alice\n", "line 2: expected", "two spaces" },
		{ "sipovl-pool 1 voip-ips 100.127.0.0/24\n100.127.0.x alice\n", "line 2: expected", "a bad address" },
		{ "sipovl-pool 1 voip-ips 100.127.0.0/24\n100.127.0.9 al/ice\n", "line 2: expected", "a bad identity id" },
		{ "sipovl-pool 1 voip-ips 100.127.0.0/24\n100.127.1.9 alice\n", "line 2: 100.127.1.9 is not a usable", "an address out of the range" },
		{ "sipovl-pool 1 voip-ips 100.127.0.0/24\n100.127.0.255 alice\n", "not a usable", "the broadcast address" },
		{ "sipovl-pool 1 voip-ips 100.127.0.0/24\n100.127.0.9 alice\n100.127.0.9 bob\n", "100.127.0.9 is leased twice", "one address twice" },
		{ "sipovl-pool 1 voip-ips 100.127.0.0/24\n100.127.0.9 alice\n100.127.0.10 alice\n", "alice holds two leases", "one identity twice" },
	};

	pinit(&p, "voip-ips", "100.127.0.0", 24);
	pool_claim(&p, "alice", NULL, &a);
	pool_claim(&p, "bob", NULL, &b);
	len = pool_dump(&p, buf, sizeof(buf));
	pinit(&q, "voip-ips", "100.127.0.0", 24);
	ok(len < sizeof(buf) && !pool_load(&q, buf, len, err, sizeof(err)) && q.n == 2 &&
	   owner_is(&q, &a, "alice") && owner_is(&q, &b, "bob"),
	   "file: dump then load (a restart): the same two leases");
	ok(!strncmp(buf, "sipovl-pool 1 voip-ips 100.127.0.0/24\n", 38), "file: header \"sipovl-pool 1 voip-ips 100.127.0.0/24\"");
	ok(pool_dump(&p, buf, 10) == len, "file: dump into a short buffer returns the length needed");
	gen = q.gen;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		ok(pool_load(&q, bad[i].text, strlen(bad[i].text), err, sizeof(err)) && strstr(err, bad[i].want) &&
		   q.n == 2 && q.gen == gen && owner_is(&q, &a, "alice"),
		   "file: %s refused, leases unchanged: %s", bad[i].what, err);
	}
	ok(pool_load(&q, "sipovl-pool 1 voip-ips 100.127.0.0/24\n\0", 39, err, sizeof(err)) && strstr(err, "NUL"),
	   "file: a NUL byte refused");
	ok(!pool_load(&q, "sipovl-pool 1 voip-ips 100.127.0.0/24\n", 38, err, sizeof(err)) && q.n == 0,
	   "file: a header alone: no lease");
	pool_fini(&p);
	pool_fini(&q);
}

static void test_serve(void)
{
	struct pool p;
	struct sipovl_prefix a, b;
	char err[200], rep[200], req[200];
	size_t n;
	int rc;

	pinit(&p, "voip-ips", "100.127.0.0", 24);
	n = pool_serve(&p, "alice", "claim voip-ips\n", 15, rep, sizeof(rep));
	rc = pool_parse_reply(rep, n, &a, NULL, NULL, err, sizeof(err));
	ok(!rc && owner_is(&p, &a, "alice"), "serve: claim by alice: %.*s", (int)n - 1, rep);
	snprintf(req, sizeof(req), "claim voip-ips %s\n", fmt(&a));
	n = pool_serve(&p, "mallory", req, strlen(req), rep, sizeof(rep));
	rc = pool_parse_reply(rep, n, &b, NULL, NULL, err, sizeof(err));
	ok(rc == POOL_E_TAKEN && strstr(err, "another identity") && owner_is(&p, &a, "alice"),
	   "serve: mallory claims alice's address: %.*s", (int)n - 1, rep);
	n = pool_serve(&p, "mallory", "release voip-ips\n", 17, rep, sizeof(rep));
	ok(pool_parse_reply(rep, n, NULL, NULL, NULL, err, sizeof(err)) == POOL_E_NOLEASE && p.n == 1,
	   "serve: mallory's release cannot release alice's lease (the owner is the caller)");
	n = pool_serve(&p, "alice", "claim voip-ips\n", 15, rep, sizeof(rep));
	ok(!pool_parse_reply(rep, n, &b, NULL, NULL, err, sizeof(err)) && !memcmp(&a, &b, sizeof(a)),
	   "serve: alice claims again (a restart, a re-enrollment with the same id): the same address");
	/* who: the owner of an address, asked by a hosting endpoint about a dialer's claimed source */
	{
		char owner[POOL_OWNER_MAX + 1], wreq[80];
		struct sipovl_prefix x;

		n = pool_who_req("voip-ips", &a, wreq, sizeof(wreq));
		n = pool_serve(&p, "mallory", wreq, n, rep, sizeof(rep));
		rc = pool_parse_who(rep, n, owner, sizeof(owner), err, sizeof(err));
		ok(!rc && !strcmp(owner, "alice") && !strcmp(rep, "ok alice\n"),
		   "serve: who holds alice's address, asked by another identity: %.*s", (int)n - 1, rep);
		cfg_parse_ip("100.127.0.200", &x);
		snprintf(req, sizeof(req), "who voip-ips %s\n", fmt(&x));
		n = pool_serve(&p, "alice", req, strlen(req), rep, sizeof(rep));
		rc = pool_parse_who(rep, n, owner, sizeof(owner), err, sizeof(err));
		ok(rc == POOL_E_NOLEASE && !owner[0] && strstr(err, "no identity holds 100.127.0.200"),
		   "serve: who holds a free address of the pool: %.*s", (int)n - 1, rep);
		int all = 1;
		static const char *const outside[] = { "10.1.0.2", "100.127.0.0", "100.127.0.255", "100.127.1.1", "fd00::1" };

		for (size_t i = 0; i < sizeof(outside) / sizeof(outside[0]); i++) {
			snprintf(req, sizeof(req), "who voip-ips %s\n", outside[i]);
			n = pool_serve(&p, "alice", req, strlen(req), rep, sizeof(rep));
			if (pool_parse_who(rep, n, owner, sizeof(owner), err, sizeof(err)) != POOL_E_RANGE)
				all = 0;
		}
		ok(all, "serve: who of addresses outside the pool (other networks, its network and broadcast "
		   "addresses, IPv6): err range");
		n = pool_serve(&p, "alice", "who voip-ips\n", 13, rep, sizeof(rep));
		ok(pool_parse_who(rep, n, owner, sizeof(owner), err, sizeof(err)) == POOL_E_INVAL &&
		   pool_parse_who("ok bad owner\n", 13, owner, sizeof(owner), err, sizeof(err)) == -1 &&
		   pool_parse_who("ok\n", 3, owner, sizeof(owner), err, sizeof(err)) == -1 &&
		   pool_parse_who("ok alice", 8, owner, sizeof(owner), err, sizeof(err)) == -1 &&
		   pool_parse_who("ok alice\n", 9, owner, 3, err, sizeof(err)) == -1 && p.n == 1,
		   "who: a request without an address is err inval; malformed or too long replies are refused");
	}
	/* the hosting side's verdict on a claimed source (pool_check.c) */
	{
		char why[400];
		int r1 = pool_check_decide(0, "alice", NULL, "alice", "100.127.0.9", "voip-ips", why, sizeof(why));
		int r2 = pool_check_decide(POOL_E_RANGE, NULL, NULL, NULL, "10.1.0.2", "voip-ips", why, sizeof(why));

		ok(!r1 && !r2, "check: the dialer's own lease is allowed; an address outside the pool is left to "
		   "the other checks (even from a dialer that cannot be told)");
		ok(pool_check_decide(0, "alice", NULL, "mallory", "100.127.0.9", "voip-ips", why, sizeof(why)) == -1 &&
		   !strcmp(why, "claimed source 100.127.0.9 is leased to 'alice' in pool voip-ips, not to the dialer 'mallory'"),
		   "check: another identity's lease is refused: %s", why);
		ok(pool_check_decide(0, "alice", NULL, NULL, "100.127.0.9", "voip-ips", why, sizeof(why)) == -1 &&
		   strstr(why, "the router did not say who dials") && strstr(why, "source_identity"),
		   "check: a pool address from a dialer that cannot be told is refused: %s", why);
		ok(pool_check_decide(POOL_E_NOLEASE, NULL, NULL, "alice", "100.127.0.200", "voip-ips", why, sizeof(why)) == -1 &&
		   strstr(why, "no identity holds"), "check: a free address of the pool is refused: %s", why);
		ok(pool_check_decide(-2, NULL, "no answer from the pool server in 10 s", "alice", "100.127.0.9", "voip-ips",
				     why, sizeof(why)) == -1 && strstr(why, "cannot be checked (no answer") &&
		   pool_check_decide(-1, NULL, NULL, "alice", "100.127.0.9", "voip-ips", why, sizeof(why)) == -1 &&
		   pool_check_decide(POOL_E_INVAL, NULL, NULL, "alice", "100.127.0.9", "voip-ips", why, sizeof(why)) == -1,
		   "check: no answer, a malformed one or an error refuses (a claim that cannot be checked is not taken)");
	}
	n = pool_serve(&p, "alice", "release voip-ips\n", 17, rep, sizeof(rep));
	ok(!pool_parse_reply(rep, n, NULL, NULL, NULL, err, sizeof(err)) && p.n == 0, "serve: alice releases");
	{
		static const char *const badreq[] = {
			"claim voip-ips", "claim other\n", "claim\n", "claim voip-ips 1.2.3\n", "grab voip-ips\n",
			"claim voip-ips\nclaim voip-ips\n", "claim voip-ips 100.127.0.5 x\n", "",
		};
		int all = 1;

		for (size_t i = 0; i < sizeof(badreq) / sizeof(badreq[0]); i++) {
			n = pool_serve(&p, "alice", badreq[i], strlen(badreq[i]), rep, sizeof(rep));
			if (pool_parse_reply(rep, n, NULL, NULL, NULL, err, sizeof(err)) != POOL_E_INVAL || p.n)
				all = 0;
		}
		ok(all, "serve: 8 malformed requests: err inval, no lease made");
	}
	n = pool_serve(&p, "bad caller", "claim voip-ips\n", 15, rep, sizeof(rep));
	ok(pool_parse_reply(rep, n, NULL, NULL, NULL, err, sizeof(err)) == POOL_E_INVAL && !p.n, "serve: a malformed caller id: err inval");
	ok(pool_parse_reply("ok\n", 3, NULL, NULL, NULL, err, sizeof(err)) == 0 &&
	   pool_parse_reply("ok 1.2.3\n", 9, &a, NULL, NULL, err, sizeof(err)) == -1 &&
	   pool_parse_reply("err bogus x\n", 12, NULL, NULL, NULL, err, sizeof(err)) == -1 &&
	   pool_parse_reply("ok 1.2.3.4", 10, &a, NULL, NULL, err, sizeof(err)) == -1,
	   "reply: malformed replies are refused");
	/* the server's lease_s in every "ok ADDRESS" (an endpoint follows a server configured shorter) */
	{
		long ls = 7;

		p.lease_s = 600;
		n = pool_serve(&p, "alice", "claim voip-ips\n", 15, rep, sizeof(rep));
		struct sipovl_prefix rg;

		rc = pool_parse_reply(rep, n, &a, &ls, &rg, err, sizeof(err));
		ok(!rc && ls == 600 && owner_is(&p, &a, "alice") && strstr(rep, " lease_s=600 ") &&
		   !memcmp(&rg, &p.range, sizeof(rg)),
		   "serve: a claim's reply tells the pool's lease_s and range: %.*s", (int)n - 1, rep);
		snprintf(req, sizeof(req), "renew voip-ips %s\n", fmt(&a));
		p.lease_s = 0;
		n = pool_serve(&p, "alice", req, strlen(req), rep, sizeof(rep));
		ok(!pool_parse_reply(rep, n, &b, &ls, NULL, err, sizeof(err)) && ls == 0 && !memcmp(&a, &b, sizeof(a)),
		   "serve: a renewal's reply tells lease_s 0 (never expires): %.*s", (int)n - 1, rep);
		n = pool_serve(&p, "alice", "release voip-ips\n", 17, rep, sizeof(rep));
		ok(!pool_parse_reply(rep, n, NULL, &ls, NULL, err, sizeof(err)) && ls == -1 && p.n == 0,
		   "serve: a release's \"ok\" has no lease_s (-1)");
		ok(!pool_parse_reply("ok 100.127.0.9\n", 15, &a, &ls, &rg, err, sizeof(err)) && ls == -1 && !rg.family,
		   "reply: a server before lease_s and range (\"ok ADDRESS\"): lease_s -1, no range");
		{
			static const char *const badrange[] = { "ok 100.127.0.9 range=\n", "ok 100.127.0.9 range=100.127.0.0/33\n",
								"ok 100.127.0.9 range=fd00::/64\n", "ok 100.127.0.9 range=x/8\n",
								"ok 100.127.0.9 range=100.127.0.9\n", "ok 100.127.0.9 range=0.0.0.0/0\n",
								"ok 100.127.0.9 range=100.0.0.0/8\n", "ok 100.127.0.9 range=100.127.0.8/31\n",
								"ok fd00::9 range=fd00::/64\n" };
			bool all = true;

			for (size_t i = 0; i < sizeof(badrange) / sizeof(badrange[0]); i++)
				if (pool_parse_reply(badrange[i], strlen(badrange[i]), &a, &ls, &rg, err, sizeof(err)) != -1 ||
				    !strstr(err, "range"))
					all = false;
			ok(all, "reply: a malformed range= (empty, /33, another family, not an address, a bare address, /0, /8, /31, an IPv6 /64) is a malformed reply naming range");
			ok(!pool_parse_reply("ok fd00::9 lease_s=5 range=fd00::/112\n", 38, &a, &ls, &rg, err, sizeof(err)) &&
			   rg.family == AF_INET6 && rg.len == 112, "reply: an IPv6 pool's range");
			/* the longest reply (IPv6 address and range, the largest lease_s) fits the buffers (160) */
			struct pool p6;
			struct sipovl_prefix r6;
			char rep6[160];
			size_t n6;

			ok(!cfg_parse_prefix("fd00:1111:2222:3333:4444:5555:6666:0/112", &r6) &&
			   !pool_init(&p6, "v6", &r6, err, sizeof(err)), "pool: an IPv6 /112");
			p6.lease_s = 31536000;
			n6 = pool_serve(&p6, "alice", "claim v6\n", 9, rep6, sizeof(rep6));
			ok(n6 > 0 && !pool_parse_reply(rep6, n6, &a, &ls, &rg, err, sizeof(err)) && ls == 31536000 &&
			   !memcmp(&rg, &r6, sizeof(rg)), "serve: an IPv6 pool's reply with range fits: %.*s", (int)(n6 ? n6 - 1 : 0), rep6);
			pool_fini(&p6);
		}
		static const char opts[] = "ok 100.127.0.9 zone=b lease_s=86400 x=\n";

		ok(!pool_parse_reply(opts, sizeof(opts) - 1, &a, &ls, NULL, err, sizeof(err)) && ls == 86400,
		   "reply: options a newer server may add are skipped, lease_s read among them");
		static const char *const badopt[] = { "ok 100.127.0.9 lease_s=\n", "ok 100.127.0.9 lease_s=-1\n",
						      "ok 100.127.0.9 lease_s=1e3\n", "ok 100.127.0.9 lease_s=31536001\n",
						      "ok 100.127.0.9 lease_s=99999999999999999999\n",
						      "ok 100.127.0.9 junk\n", "ok 100.127.0.9 =5\n",
						      "ok 100.127.0.9 a=1 b=2 c=3 d=4 e=5 f=6\n" };
		int all = 1;

		for (size_t i = 0; i < sizeof(badopt) / sizeof(badopt[0]); i++) {
			ls = 7;
			if (pool_parse_reply(badopt[i], strlen(badopt[i]), &a, &ls, NULL, err, sizeof(err)) != -1)
				all = 0;
		}
		ok(all, "reply: 8 malformed options (empty, signed, not decimal, over a year, 20 digits, no "
		   "'=', no key, more than five) refused");
		p.lease_s = 0;
	}
	{
		static const char *const bad[] = { "0.0.0.0", "127.0.0.1", "224.0.0.1", "239.1.2.3", "240.0.0.1",
						   "255.255.255.255", "169.254.1.1", "::", "::1", "ff02::1",
						   "fe80::1", "::ffff:10.0.0.1" };
		static const char *const good[] = { "100.127.0.5", "10.1.2.3", "fd00:77::5", "2001:db8::1" };
		bool all = true;

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			if (cfg_parse_ip(bad[i], &a) || !pool_addr_usable(&a, err, sizeof(err)))
				all = false;
		for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
			if (cfg_parse_ip(good[i], &a) || pool_addr_usable(&a, err, sizeof(err)))
				all = false;
		ok(all, "reply: an endpoint takes no unspecified, loopback, multicast, link-local, broadcast or "
		   "IPv4-mapped address (12 refused, 4 unicast taken)");
	}
	pool_fini(&p);
}

/* the lease file on disk (pool_store.c): a restart reads back what was acknowledged */
static void test_store(void)
{
	struct pool p, q;
	struct sipovl_prefix a, b;
	char dir[] = "/tmp/pool-unit.XXXXXX", path[64], tmp[80], err[400];
	FILE *f;
	int rc;

	if (!mkdtemp(dir)) {
		ok(0, "store: mkdtemp");
		return;
	}
	snprintf(path, sizeof(path), "%s/voip-ips.leases", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	pinit(&p, "voip-ips", "100.127.0.0", 24);
	pinit(&q, "voip-ips", "100.127.0.0", 24);
	ok(pool_store_read(path, &q, err, sizeof(err)) == 1 && !q.n, "store: no file yet: a new pool");
	pool_claim(&p, "alice", NULL, &a);
	pool_claim(&p, "bob", NULL, &b);
	rc = pool_store_write(path, &p, err, sizeof(err));
	ok(!rc && access(tmp, F_OK), "store: written, no temporary file left (%s)", rc ? err : "ok");
	ok(!pool_store_read(path, &q, err, sizeof(err)) && q.n == 2 && owner_is(&q, &a, "alice") &&
		   owner_is(&q, &b, "bob"),
	   "store: a restarted server reads both leases back");
	pool_release(&p, "bob");
	pool_store_write(path, &p, err, sizeof(err));
	ok(!pool_store_read(path, &q, err, sizeof(err)) && q.n == 1 && !pool_owner_of(&q, &b),
	   "store: a release is persisted too");
	f = fopen(path, "a");
	if (f) {
		fputs("100.127.0.300 carol\n", f);
		fclose(f);
	}
	ok(pool_store_read(path, &q, err, sizeof(err)) == -1 && strstr(err, path) && strstr(err, "line 3") && q.n == 1,
	   "store: a damaged file is refused naming file and line, leases unchanged: %s", err);
	unlink(path);
	ok(!symlink("/etc/passwd", path) && pool_store_read(path, &q, err, sizeof(err)) == -1 && q.n == 1,
	   "store: a symbolic link is not followed: %s", err);
	unlink(path);
	snprintf(tmp, sizeof(tmp), "%s/none/voip-ips.leases", dir);
	ok(pool_store_write(tmp, &p, err, sizeof(err)) == -1 && strstr(err, "none/voip-ips.leases.tmp"),
	   "store: an unwritable place: error naming the file: %s", err);
	/* a request served: the change is on disk before the "ok"; a failed write undoes it */
	{
		char rep[200], sub[80];
		size_t n;

		snprintf(sub, sizeof(sub), "%s/d", dir);
		mkdir(sub, 0700);
		snprintf(path, sizeof(path), "%s/d/voip-ips.leases", dir);
		pool_fini(&p);
		pinit(&p, "voip-ips", "100.127.0.0", 24);
		n = pool_store_serve(&p, path, "carol", "claim voip-ips\n", 15, rep, sizeof(rep), err, sizeof(err));
		pool_fini(&q);
		pinit(&q, "voip-ips", "100.127.0.0", 24);
		ok(!pool_parse_reply(rep, n, &a, NULL, NULL, err, sizeof(err)) && !pool_store_read(path, &q, err, sizeof(err)) &&
			   q.n == 1 && owner_is(&q, &a, "carol"),
		   "store: carol's claim answered ok %s is in the lease file", fmt(&a));
		n = pool_store_serve(&p, path, "carol", "claim voip-ips\n", 15, rep, sizeof(rep), err, sizeof(err));
		ok(!pool_parse_reply(rep, n, &b, NULL, NULL, err, sizeof(err)) && !memcmp(&a, &b, sizeof(a)) && p.n == 1,
		   "store: the same claim again: same address, nothing to write");
		unlink(path);
		rmdir(sub); /* the next write fails: no such directory */
		n = pool_store_serve(&p, path, "dave", "claim voip-ips\n", 15, rep, sizeof(rep), err, sizeof(err));
		ok(strstr(err, "voip-ips.leases") && pool_parse_reply(rep, n, &b, NULL, NULL, err, sizeof(err)) == POOL_E_STORE &&
			   p.n == 1 && owner_is(&p, &a, "carol"),
		   "store: a claim whose lease cannot be written: err store (%.*s), no lease for dave", (int)n - 1, rep);
		n = pool_store_serve(&p, path, "carol", "release voip-ips\n", 17, rep, sizeof(rep), err, sizeof(err));
		ok(pool_parse_reply(rep, n, NULL, NULL, NULL, err, sizeof(err)) == POOL_E_STORE && p.n == 1 &&
			   owner_is(&p, &a, "carol"),
		   "store: a release that cannot be written: err store, carol keeps her lease");
	}
	/* deleted identities' leases: released and written, or, when the file cannot be written,
	 * kept in memory and on disk */
	{
		const char *live[] = { "alice" };
		char sub[80];
		size_t rel = 99;

		snprintf(sub, sizeof(sub), "%s/r", dir);
		mkdir(sub, 0700);
		snprintf(path, sizeof(path), "%s/r/voip-ips.leases", dir);
		pool_fini(&p);
		pinit(&p, "voip-ips", "100.127.0.0", 24);
		pool_claim(&p, "alice", NULL, &a);
		pool_claim(&p, "bob", NULL, &b);
		pool_store_write(path, &p, err, sizeof(err));
		ok(pool_store_reconcile(&p, path, live, 1, &rel, err, sizeof(err)) == POOL_OK && rel == 1 && p.n == 1 &&
			   !pool_store_read(path, &q, err, sizeof(err)) && q.n == 1 && owner_is(&q, &a, "alice") &&
			   !pool_owner_of(&q, &b),
		   "store: reconcile: bob's lease released and the lease file says so");
		pool_claim(&p, "bob", NULL, &b);
		pool_store_write(path, &p, err, sizeof(err));
		unlink(path);
		rmdir(sub);
		ok(pool_store_reconcile(&p, path, live, 1, &rel, err, sizeof(err)) == POOL_E_STORE && rel == 0 &&
			   p.n == 2 && owner_is(&p, &b, "bob") && strstr(err, "voip-ips.leases"),
		   "store: reconcile that cannot be written: undone, bob keeps his lease: %s", err);
		err[0] = 0;
		ok(pool_store_reconcile(&p, path, NULL, 0, &rel, err, sizeof(err)) == POOL_E_INVAL && p.n == 2 && err[0],
		   "store: reconcile with no identity: refused with a reason (%s)", err);
	}
	rmdir(dir);
	pool_fini(&p);
	pool_fini(&q);
}

/* pool_writer.c: one sipovld as pool server and endpoint writes the lease file and the state
 * file through the one writer; a write submitted while another is under way waits its turn
 * (it used to be refused with -EBUSY, and the pool server answered "err store") */
struct wjob {
	int rc, order;
	bool done;
};
static int w_order;
static struct zt_loop *w_loop;

static void w_cb(int rc, const char *err, void *arg)
{
	struct wjob *j = arg;

	(void)err;
	j->rc = rc;
	j->done = true;
	j->order = ++w_order;
}

static void test_writer(void)
{
	char dir[] = "/tmp/pool-writer-XXXXXX", p1[80], p2[80], rb[64];
	struct wjob j[3] = { { 0 } };
	int rc[3];
	FILE *f;

	w_loop = zt_loop_new();
	if (!mkdtemp(dir) || !w_loop) {
		printf("Bail out! mkdtemp or zt_loop_new\n");
		exit(1);
	}
	snprintf(p1, sizeof(p1), "%s/leases", dir);
	snprintf(p2, sizeof(p2), "%s/state", dir);
	rc[0] = pool_writer_submit(w_loop, p1, strdup("lease 1\n"), 8, w_cb, &j[0]);
	rc[1] = pool_writer_submit(w_loop, p2, strdup("state\n"), 6, w_cb, &j[1]);
	rc[2] = pool_writer_submit(w_loop, p1, strdup("lease 2\n"), 8, w_cb, &j[2]);
	ok(!rc[0] && !rc[1] && !rc[2] && pool_writer_busy(),
	   "writer: three writes submitted at once are all taken (rc %d %d %d; was -EBUSY for the 2nd and 3rd)", rc[0],
	   rc[1], rc[2]);
	for (int i = 0; i < 200 && !(j[0].done && j[1].done && j[2].done); i++)
		zt_loop_run(w_loop, 10);
	ok(j[0].done && j[1].done && j[2].done && !j[0].rc && !j[1].rc && !j[2].rc && j[0].order == 1 &&
		   j[1].order == 2 && j[2].order == 3 && !pool_writer_busy(),
	   "writer: each callback ran once, rc 0, in submission order (%d %d %d)", j[0].order, j[1].order, j[2].order);
	rb[0] = 0;
	f = fopen(p1, "r");
	if (f) {
		if (!fgets(rb, sizeof(rb), f))
			rb[0] = 0;
		fclose(f);
	}
	ok(!strcmp(rb, "lease 2\n"), "writer: the lease file holds the last write (%.*s)", (int)strcspn(rb, "\n"), rb);
	pool_writer_stop();
	zt_loop_free(w_loop);
	unlink(p1);
	unlink(p2);
	rmdir(dir);
}

/* E1: an endpoint re-confirms its lease ("renew POOL ADDRESS"), and a pool server that may have
 * lost leases (its lease file restored from an older backup) hands out no new address until
 * the endpoints had time to renew theirs (pool.hold, ip_pool.hold_s) */
static struct sipovl_prefix serve_addr(struct pool *p, const char *who, const char *req, int *rc)
{
	struct sipovl_prefix a = { 0 };
	char rep[200], err[200];
	size_t n = pool_serve(p, who, req, strlen(req), rep, sizeof(rep));

	*rc = pool_parse_reply(rep, n, &a, NULL, NULL, err, sizeof(err));
	return a;
}

static void test_renew_hold(void)
{
	struct pool p;
	struct sipovl_prefix a, b, c;
	char req[200];
	uint64_t gen;
	int rc;

	pinit(&p, "voip-ips", "100.127.0.0", 24);
	a = serve_addr(&p, "alice", "claim voip-ips\n", &rc);
	snprintf(req, sizeof(req), "renew voip-ips %s\n", fmt(&a));
	gen = p.gen;
	b = serve_addr(&p, "alice", req, &rc);
	ok(rc == 0 && !memcmp(&a, &b, sizeof(a)) && p.gen == gen, "renew: alice renews %s: ok, nothing to write (rc %d)",
	   fmt(&a), rc);
	b = serve_addr(&p, "mallory", req, &rc);
	ok(rc == POOL_E_TAKEN && owner_is(&p, &a, "alice") && p.n == 1,
	   "renew: mallory renewing alice's %s: err taken (rc %d)", fmt(&a), rc);
	/* the pool server lost bob's lease: his renewal gives it back to him */
	c = pfx("100.127.0.77", 32);
	snprintf(req, sizeof(req), "renew voip-ips %s\n", fmt(&c));
	b = serve_addr(&p, "bob", req, &rc);
	ok(rc == 0 && !memcmp(&b, &c, sizeof(b)) && owner_is(&p, &c, "bob") && p.n == 2,
	   "renew: bob renewing %s, unknown to the server: leased to him again (rc %d)", fmt(&c), rc);
	b = serve_addr(&p, "bob", "renew voip-ips 100.126.0.1\n", &rc);
	ok(rc == POOL_E_RANGE && p.n == 2, "renew: an address outside the range: err range (rc %d)", rc);
	b = serve_addr(&p, "bob", "renew voip-ips\n", &rc);
	ok(rc == POOL_E_INVAL && p.n == 2, "renew: without an address: err inval (rc %d)", rc);
	/* the hold: only renewals and claims that change nothing */
	p.hold = true;
	gen = p.gen;
	b = serve_addr(&p, "carol", "claim voip-ips\n", &rc);
	ok(rc == POOL_E_WAIT && !pool_owner_of(&p, &b) && p.n == 2 && p.gen == gen,
	   "hold: carol's first claim: err wait, no lease (rc %d)", rc);
	b = serve_addr(&p, "carol", "claim voip-ips 100.127.0.9\n", &rc);
	ok(rc == POOL_E_WAIT && p.n == 2 && p.gen == gen,
	   "hold: carol's claim of a free address she names (her state file): err wait (rc %d)", rc);
	snprintf(req, sizeof(req), "claim voip-ips %s\n", fmt(&a));
	b = serve_addr(&p, "carol", req, &rc);
	ok(rc == POOL_E_TAKEN && p.gen == gen, "hold: carol's claim of alice's address: err taken (rc %d)", rc);
	b = serve_addr(&p, "alice", "claim voip-ips\n", &rc);
	ok(rc == 0 && !memcmp(&a, &b, sizeof(a)) && p.gen == gen, "hold: alice's claim of her own lease: ok %s", fmt(&b));
	b = serve_addr(&p, "alice", "claim voip-ips 100.127.0.9\n", &rc);
	ok(rc == POOL_E_WAIT && owner_is(&p, &a, "alice") && p.gen == gen,
	   "hold: alice asking to move to a free address: err wait, she keeps %s (rc %d)", fmt(&a), rc);
	b = serve_addr(&p, "dave", "renew voip-ips 100.127.0.9\n", &rc);
	ok(rc == 0 && owner_is(&p, &b, "dave") && p.n == 3, "hold: dave's renewal of %s: ok, leased to him", fmt(&b));
	p.hold = false;
	b = serve_addr(&p, "carol", "claim voip-ips 100.127.0.9\n", &rc);
	ok(rc == POOL_E_TAKEN, "after the hold: carol's stale state file names dave's renewed address: err taken (rc %d)",
	   rc);
	b = serve_addr(&p, "carol", "claim voip-ips\n", &rc);
	ok(rc == 0 && owner_is(&p, &b, "carol") && memcmp(&b, &a, sizeof(a)) && memcmp(&b, &c, sizeof(a)) && p.n == 4,
	   "after the hold: carol gets a free address %s", fmt(&b));
	pool_fini(&p);
}

/* an address local on the endpoint's host already (another interface): "claim POOL not ADDRESS" */
static void test_claim_other(void)
{
	struct pool p;
	struct sipovl_prefix a, b, c;
	char req[200];
	int rc;

	pinit(&p, "voip-ips", "100.127.0.0", 24);
	a = serve_addr(&p, "alice", "claim voip-ips\n", &rc);
	snprintf(req, sizeof(req), "claim voip-ips not %s\n", fmt(&a));
	b = serve_addr(&p, "alice", req, &rc);
	ok(rc == 0 && b.family && memcmp(&a, &b, sizeof(a)) && owner_is(&p, &b, "alice") && !pool_owner_of(&p, &a) &&
		   p.n == 1,
	   "claim not: alice's %s is local elsewhere on her host: moved to %s (rc %d)", fmt(&a), fmt(&b), rc);
	c = serve_addr(&p, "alice", req, &rc);
	ok(rc == 0 && !memcmp(&b, &c, sizeof(b)) && p.n == 1, "claim not: again: she keeps %s", fmt(&c));
	c = serve_addr(&p, "bob", req, &rc);
	ok(rc == 0 && c.family && memcmp(&c, &a, sizeof(a)) && memcmp(&c, &b, sizeof(b)) && owner_is(&p, &c, "bob"),
	   "claim not: bob's first claim avoiding %s: %s", fmt(&a), fmt(&c));
	b = serve_addr(&p, "carol", "claim voip-ips not 1.2.3\n", &rc);
	ok(rc == POOL_E_INVAL && p.n == 2, "claim not: a malformed address: err inval (rc %d)", rc);
	p.hold = true;
	b = serve_addr(&p, "carol", req, &rc);
	ok(rc == POOL_E_WAIT && p.n == 2, "claim not: during the hold: err wait (rc %d)", rc);
	pool_fini(&p);
}

static long long find_seen(const struct pool *p, const char *owner)
{
	for (size_t i = 0; i < p->n; i++)
		if (!strcmp(p->leases[i].owner, owner))
			return (long long)p->leases[i].seen;
	return -1;
}

/* issue 15 item 6: a lease not renewed for lease_s expires (an identity deleted at the
 * controller can no longer renew); the time of the last claim or renewal is in the lease file */
static const struct pool_lease *exp_gone[8];
static char exp_names[8][POOL_OWNER_MAX + 1];
static size_t exp_n;

static void exp_cb(const struct pool *p, const struct pool_lease *l, void *arg)
{
	(void)p;
	(void)arg;
	if (exp_n < 8) {
		exp_gone[exp_n] = l;
		snprintf(exp_names[exp_n], sizeof(exp_names[0]), "%s", l->owner);
	}
	exp_n++;
}

static void test_expire(void)
{
	struct pool p, q;
	struct sipovl_prefix a, b;
	char req[200], buf[512], line[200], err[200];
	uint64_t gen;
	size_t len;
	int rc;

	pinit(&p, "voip-ips", "100.127.0.0", 24);
	p.now = 1000;
	a = serve_addr(&p, "alice", "claim voip-ips\n", &rc);
	b = serve_addr(&p, "bob", "claim voip-ips\n", &rc);
	p.now = 1500;
	p.seen_dirty = false;
	gen = p.gen;
	snprintf(req, sizeof(req), "renew voip-ips %s\n", fmt(&a));
	serve_addr(&p, "alice", req, &rc);
	ok(rc == 0 && p.gen == gen && p.seen_dirty, "expire: alice's renewal at 1500: no change to answer for, the time to write");
	p.now = 1599;
	exp_n = 0;
	ok(pool_expire(&p, 600, exp_cb, NULL) == 0 && p.n == 2 && p.gen == gen,
	   "expire: lease_s 600 at 1599: bob (claimed at 1000) is 599 s old, kept");
	p.now = 1600;
	ok(pool_expire(&p, 600, exp_cb, NULL) == 1 && exp_n == 1 && !strcmp(exp_names[0], "bob") && p.n == 1 &&
		   !pool_owner_of(&p, &b) && owner_is(&p, &a, "alice") && p.gen != gen,
	   "expire: at 1600 bob's lease (600 s without renewal) expires, alice's (renewed at 1500) stays");
	p.now = 100000;
	ok(pool_expire(&p, 0, exp_cb, NULL) == 0 && p.n == 1, "expire: lease_s 0 never expires");
	p.hold = true;
	ok(pool_expire(&p, 600, exp_cb, NULL) == 0 && p.n == 1, "expire: nothing expires during the hold");
	p.hold = false;
	/* a claim of one's own lease is a renewal too */
	p.now = 2000;
	serve_addr(&p, "alice", "claim voip-ips\n", &rc);
	p.now = 2599;
	ok(pool_expire(&p, 600, exp_cb, NULL) == 0 && p.n == 1, "expire: alice's claim at 2000 renewed her lease");
	/* the file: ADDRESS OWNER SEEN, in wall-clock seconds (the pool's clock + wall_off) */
	p.wall_off = 1700000000;
	pool_dump(&p, buf, sizeof(buf));
	snprintf(line, sizeof(line), "%s alice 1700002000\n", fmt(&a));
	ok(strstr(buf, line) != NULL, "expire: the lease file line has the time of the last renewal (%.*s)",
	   (int)strcspn(line, "\n"), line);
	pinit(&q, "voip-ips", "100.127.0.0", 24);
	q.now = 50;
	q.wall_off = 1700001900;
	len = strlen(buf);
	snprintf(buf + len, sizeof(buf) - len, "100.127.0.200 carol\n");
	rc = pool_load(&q, buf, strlen(buf), err, sizeof(err));
	ok(rc == 0 && q.n == 2 && find_seen(&q, "alice") == 100 &&
		   find_seen(&q, "carol") == 50,
	   "expire: loaded, alice's time is 100 on the new clock, carol's line without one gets the load time (%lld, %lld)",
	   (long long)find_seen(&q, "alice"), (long long)find_seen(&q, "carol"));
	pool_seen_floor(&q, 80);
	ok(find_seen(&q, "alice") == 100 && find_seen(&q, "carol") == 80, "expire: pool_seen_floor raises older times only");
	snprintf(buf, sizeof(buf), "sipovl-pool 1 voip-ips 100.127.0.0/24\n100.127.0.5 dave x1\n");
	ok(pool_load(&q, buf, strlen(buf), err, sizeof(err)) == -1 && strstr(err, "line 2") && q.n == 2,
	   "expire: a malformed time is refused naming the line (%s)", err);
	snprintf(buf, sizeof(buf), "sipovl-pool 1 voip-ips 100.127.0.0/24\n100.127.0.5 dave -5\n");
	ok(pool_load(&q, buf, strlen(buf), err, sizeof(err)) == -1 && q.n == 2, "expire: a negative time is refused");
	pool_fini(&q);
	pool_fini(&p);
}

/* the pool server's count of its service's terminators (pool_excl_verdict) */
static enum pool_excl excl(const struct pool_excl_own *o, size_t no, const struct pool_excl_listed *l, size_t n,
			   size_t total, const char *const *known, size_t nknown, bool *mine, size_t *others,
			   size_t *stale)
{
	return pool_excl_verdict(o, no, l, n, total, known, nknown, mine, others, stale);
}

static void test_excl(void)
{
	const struct pool_excl_own r1[] = { { "r1", false } }, r1r2[] = { { "r1", false }, { "r2", false } },
				   r1x2[] = { { "r1", false }, { "r1", false } }, r1old[] = { { "r1", true } },
				   r1old_r2new[] = { { "r1", true }, { "r2", false } };
	const struct pool_excl_listed l1[] = { { "T1", "r1" } }, l12[] = { { "T1", "r1" }, { "T2", "r2" } },
				      l11[] = { { "T1", "r1" }, { "T9", "r1" } }, l13[] = { { "T1", "r1" }, { "T3", "r3" } },
				      lun[] = { { "T1", "r1" }, { "T4", "" } }, l1b[] = { { "T5", "r1" } },
				      l11b[] = { { "T1", "r1" }, { "T5", "r1" } },
				      l115[] = { { "T1", "r1" }, { "T5", "r1" }, { "T9", "r1" } };
	const char *k1[] = { "T1" };
	bool mine[4];
	size_t others = 99, stale = 99;
	enum pool_excl v;

	v = excl(r1, 1, l1, 1, 1, NULL, 0, mine, &others, &stale);
	ok(v == POOL_EXCL_ONLY && others == 0 && stale == 0 && mine[0], "excl: one terminator, ours: only");
	v = excl(r1r2, 2, l12, 2, 2, NULL, 0, mine, &others, &stale);
	ok(v == POOL_EXCL_ONLY && others == 0 && mine[0] && mine[1], "excl: ours on r1 and r2, both listed: only");
	v = excl(r1, 1, l11, 2, 2, NULL, 0, mine, &others, &stale);
	ok(v == POOL_EXCL_OTHERS && others == 1 && mine[0] != mine[1],
	   "excl: two terminators on r1, one ours, none known: one other (%zu)", others);
	v = excl(r1x2, 2, l11, 2, 2, NULL, 0, mine, &others, &stale);
	ok(v == POOL_EXCL_ONLY && others == 0, "excl: two identities of this server on r1, two listed: only");
	v = excl(r1, 1, l13, 2, 2, NULL, 0, mine, &others, &stale);
	ok(v == POOL_EXCL_OTHERS && others == 1 && mine[0] && !mine[1],
	   "excl: a terminator on a router this server does not bind on: other");
	v = excl(r1, 1, lun, 2, 2, NULL, 0, mine, &others, &stale);
	ok(v == POOL_EXCL_OTHERS && others == 1 && !mine[1], "excl: a terminator on a router the identity cannot name: other");
	v = excl(r1, 1, l1, 1, 3, NULL, 0, mine, &others, &stale);
	ok(v == POOL_EXCL_OTHERS && others == 2, "excl: a listing of one page of three: the unlisted two are others");
	v = excl(r1r2, 2, l1, 1, 1, NULL, 0, mine, &others, &stale);
	ok(v == POOL_EXCL_UNSURE && others == 0, "excl: one of ours not listed yet (the controller behind): unsure");
	v = excl(r1, 0, l1, 1, 1, NULL, 0, mine, &others, &stale);
	ok(v == POOL_EXCL_OTHERS && others == 1, "excl: none of ours confirmed, one listed: other");
	v = excl(r1, 0, l1, 0, 0, NULL, 0, mine, &others, &stale);
	ok(v == POOL_EXCL_UNSURE && others == 0, "excl: none of ours, none listed: unsure");
	v = excl(r1r2, 2, l13, 2, 2, NULL, 0, mine, &others, &stale);
	ok(v == POOL_EXCL_OTHERS && others == 1, "excl: ours on r1 and r2, listed r1 and r3: other (r2's not listed)");
	/* known ids: the last "only" listing's, all this server's */
	v = excl(r1old, 1, l1, 1, 1, k1, 1, mine, &others, &stale);
	ok(v == POOL_EXCL_ONLY && stale == 0 && mine[0], "excl: the terminator of the last clean listing, bound before: only");
	v = excl(r1, 1, l11b, 2, 2, k1, 1, mine, &others, &stale);
	ok(v == POOL_EXCL_ONLY && others == 0 && stale == 1 && mine[0] && mine[1],
	   "excl: r1 bound anew since (a reconnect), the router still lists the old one (known): only, 1 stale of its own");
	v = excl(r1old, 1, l11b, 2, 2, k1, 1, mine, &others, &stale);
	ok(v == POOL_EXCL_OTHERS && others == 1 && mine[0] && !mine[1],
	   "excl: r1 not bound anew, a new terminator on r1: another server's");
	v = excl(r1, 1, l115, 3, 3, k1, 1, mine, &others, &stale);
	ok(v == POOL_EXCL_OTHERS && others == 1 && stale == 1,
	   "excl: r1 bound anew and another server's on r1 at once: one other (%zu), one stale (%zu)", others, stale);
	v = excl(r1old, 1, l1b, 1, 1, k1, 1, mine, &others, &stale);
	ok(v == POOL_EXCL_OTHERS && others == 1,
	   "excl: ours bound before, its known terminator gone from the listing, an unknown one there: other");
	v = excl(r1old_r2new, 2, l12, 2, 2, k1, 1, mine, &others, &stale);
	ok(v == POOL_EXCL_ONLY && others == 0 && stale == 0, "excl: r1 before (known), r2 bound since: only");
	v = excl(r1old, 1, l12, 1, 1, k1, 1, mine, &others, &stale);
	ok(v == POOL_EXCL_ONLY, "excl: (the same with r2 lost since: only r1 counted)");

	/* while held for it, new leases get the reason in "err wait" */
	struct pool p;
	char reply[200];
	size_t k;

	pinit(&p, "voip-ips", "100.127.0.0", 24);
	p.hold = true;
	p.hold_why = "another pool server may host this pool's service: new leases held";
	k = pool_serve(&p, "alice", "claim voip-ips\n", 15, reply, sizeof(reply));
	ok(k && !strcmp(reply, "err wait another pool server may host this pool's service: new leases held\n") &&
	   p.n == 0, "excl: a claim while held: err wait naming the other pool server (%.*s)", (int)strcspn(reply, "\n"),
	   reply);
	k = pool_serve(&p, "alice", "renew voip-ips 100.127.0.9\n", 27, reply, sizeof(reply));
	ok(k && !strncmp(reply, "ok 100.127.0.9 ", 15) && p.n == 1,
	   "excl: a renewal while held is served (%.*s)", (int)strcspn(reply, "\n"), reply);
	pool_fini(&p);
}

int main(void)
{
	printf("TAP version 13\n");
	test_init();
	test_claim();
	test_full_move();
	test_reconcile();
	test_file();
	test_serve();
	test_store();
	test_endpoint();
	test_writer();
	test_renew_hold();
	test_claim_other();
	test_expire();
	test_excl();
	printf("1..%d\n", n);
	return failed ? 1 : 0;
}
