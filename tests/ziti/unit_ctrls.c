// SPDX-License-Identifier: GPL-2.0
/*
 * The controller list of an HA cluster (daemon/ziti/zt_ctrls.c): what is learned, which member
 * requests go to after a failure. No I/O: the list functions are called directly.
 */
#include <stdio.h>
#include <string.h>

#include "daemon/ziti/zt_internal.h"

#include <json-c/json.h>

void check(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static const char *cur(const struct zt_ctrls *l)
{
	static char b[64];

	snprintf(b, sizeof(b), "%s:%s", l->v[l->cur].host, l->v[l->cur].port);
	return b;
}

static void test_ctrls_learn(void)
{
	struct zt_ctrls l = { 0 };
	char err[200] = "";
	int a, b, c, d;

	a = zt_ctrls_add(&l, "https://127.0.0.1:1280", err, sizeof(err));
	b = zt_ctrls_add(&l, "https://127.0.0.1:1280/edge/client/v1", err, sizeof(err));
	c = zt_ctrls_add(&l, "http://127.0.0.1:1281", err, sizeof(err));
	check(a == 1 && b == 0 && c == -1 && strstr(err, "not https") && l.n == 1,
	      "controllers: ztAPI added, the same host:port with a path known, http refused (%d %d %d: %s)", a, b, c,
	      err);
	/* a v1.6 /controllers reply: ctrl1 (known), ctrl2, ctrl3 without addresses, ctrl4 with two */
	a = zt_ctrls_add_list(&l,
			      "{\"data\":[{\"name\":\"ctrl1\",\"apiAddresses\":{\"edge-client\":[{\"url\":"
			      "\"https://127.0.0.1:1280/edge/client/v1\",\"version\":\"v1\"}]}},"
			      "{\"name\":\"ctrl2\",\"apiAddresses\":{\"edge-client\":[{\"url\":"
			      "\"https://127.0.0.1:1281/edge/client/v1\"}],\"edge-management\":[{\"url\":"
			      "\"https://127.0.0.1:9999/edge/management/v1\"}]}},"
			      "{\"name\":\"ctrl3\",\"apiAddresses\":{}},"
			      "{\"name\":\"ctrl4\",\"apiAddresses\":{\"edge-client\":[{\"url\":\"https://[::1]:1283/x\"},"
			      "{\"url\":\"not a url\"},{\"url\":\"https://c4.example:1284\"}]}}]}",
			      err, sizeof(err));
	check(a == 3 && l.n == 4 && !strcmp(l.v[1].port, "1281") && !strcmp(l.v[2].host, "::1") &&
		      !strcmp(l.v[3].host, "c4.example") && l.cur == 0,
	      "controllers: /controllers adds the new edge-client addresses only (added %d, known %zu), current kept",
	      a, l.n);
	/* a member's list without addresses (v1.6.5 right after the start) forgets nothing */
	a = zt_ctrls_add_list(&l, "{\"data\":[{\"name\":\"ctrl1\"},{\"name\":\"ctrl2\"}]}", err, sizeof(err));
	b = zt_ctrls_add_list(&l, "{\"error\":{\"code\":\"UNAUTHORIZED\"}}", err, sizeof(err));
	check(a == 0 && b == -1 && l.n == 4, "controllers: a list without addresses keeps all, a bad reply is an error "
	      "(%d %d, %zu known: %s)", a, b, l.n, err);
	for (int i = 0; i < ZT_CTRLS_MAX; i++) {
		char u[64];

		snprintf(u, sizeof(u), "https://10.0.0.%d:1280", i);
		d = zt_ctrls_add(&l, u, err, sizeof(err));
	}
	check(d == -1 && l.n == ZT_CTRLS_MAX && strstr(err, "too many"), "controllers: at most %d (%s)", ZT_CTRLS_MAX,
	      err);
	zt_ctrls_free(&l);
}

static void test_ctrls_failover(void)
{
	struct zt_ctrls l = { 0 };
	bool sw;

	zt_ctrls_add(&l, "https://c1:1", NULL, 0);
	sw = zt_ctrls_failed(&l, 0, 1000);
	check(!sw && l.cur == 0 && l.v[0].fails == 1, "failover: a lone controller stays current after a failure");
	zt_ctrls_ok(&l, 0);
	zt_ctrls_add(&l, "https://c2:2", NULL, 0);
	zt_ctrls_add(&l, "https://c3:3", NULL, 0);
	sw = zt_ctrls_failed(&l, 0, 1000);
	check(sw && l.cur == 1 && l.v[0].down_until_ms == 2000 && l.switches == 1,
	      "failover: c1 fails -> c2 (%s), c1 held back 1 s", cur(&l));
	/* a second request to c1 that was in flight fails too: no further move */
	sw = zt_ctrls_failed(&l, 0, 1100);
	check(!sw && l.cur == 1 && l.v[0].fails == 1, "failover: a late failure of the old member moves nothing (%s)",
	      cur(&l));
	sw = zt_ctrls_failed(&l, 1, 1200);
	check(sw && l.cur == 2, "failover: c2 fails -> c3, c1 still held back (%s)", cur(&l));
	sw = zt_ctrls_failed(&l, 2, 1300);
	check(sw && l.cur == 0, "failover: all held back -> the one released first, c1 (%s)", cur(&l));
	sw = zt_ctrls_failed(&l, 0, 1400);
	check(sw && l.cur == 1 && l.v[0].down_until_ms == 1400 + 2000,
	      "failover: c1 fails again: held back 2 s (until %llu), c2 released first (%s)",
	      (unsigned long long)l.v[0].down_until_ms, cur(&l));
	/* c2 answers: c3's hold runs out, c2 fails -> c3 (free) rather than c1 (held) */
	zt_ctrls_ok(&l, 1);
	sw = zt_ctrls_failed(&l, 1, 3000);
	check(sw && l.cur == 2 && l.v[1].fails == 1, "failover: after a success the count restarts; c3 free again (%s)",
	      cur(&l));
	sw = zt_ctrls_failed(&l, 7, 5000);
	check(!sw, "failover: an index outside the list is ignored");
	zt_ctrls_free(&l);
	/* a member that keeps failing: 1 s, 2 s, ... 16 s, then 30 s (not 32) */
	zt_ctrls_add(&l, "https://c1:1", NULL, 0);
	for (int i = 0; i < 6; i++)
		zt_ctrls_failed(&l, 0, 10000);
	check(l.v[0].down_until_ms == 10000 + 30000 && l.v[0].fails == 6,
	      "failover: the hold doubles up to 30 s (%llu ms after the 6th failure)",
	      (unsigned long long)(l.v[0].down_until_ms - 10000));
	zt_ctrls_free(&l);
}

static const char *joined(const struct zt_urls *m)
{
	static char b[512];

	b[0] = 0;
	for (size_t i = 0; i < m->n; i++)
		snprintf(b + strlen(b), sizeof(b) - strlen(b), "%s%s", i ? " " : "", m->v[i]);
	return b;
}

/* what the identity's ztAPIs become after a /controllers reply (zt_urls_*: no I/O) */
static void test_urls_next(void)
{
	struct zt_urls m, old, out;
	struct json_object *a;
	char err[100] = "";
	int rc;

	/* a member with two edge-client URLs (the first usable one counts), one without, one bad */
	rc = zt_urls_members(&m,
			     "{\"data\":[{\"apiAddresses\":{\"edge-client\":[{\"url\":\"http://c1:1\"},"
			     "{\"url\":\"https://c1:1/e\"},{\"url\":\"https://c1b:1/e\"}]}},{\"name\":\"c2\"},"
			     "{\"apiAddresses\":{\"edge-client\":[{\"url\":\"https://c3:3/e\"}]}}]}",
			     err, sizeof(err));
	check(rc == 0 && m.listed == 3 && !strcmp(joined(&m), "https://c1:1/e https://c3:3/e"),
	      "ztAPIs: a reply's members: each one's first https edge-client URL (%s), %zu listed", joined(&m), m.listed);
	zt_urls_free(&m);
	rc = zt_urls_members(&m, "{\"error\":{}}", err, sizeof(err));
	check(rc == -1 && m.n == 0 && strstr(err, "no data array"), "ztAPIs: a reply without data is an error (%s)", err);

	a = json_tokener_parse("[\"https://c1:1/e\",\"https://c2:2/e\",7]");
	zt_urls_apis(&old, a, "https://c1:1/e");
	json_object_put(a);
	check(old.n == 2, "ztAPIs: the file's list, non-strings skipped (%s)", joined(&old));
	zt_urls_members(&m, "{\"data\":[{\"apiAddresses\":{\"edge-client\":[{\"url\":\"https://c2:2/e\"}]}},"
			"{\"apiAddresses\":{\"edge-client\":[{\"url\":\"https://c1:1/e\"}]}}]}", NULL, 0);
	rc = zt_urls_next(&m, &old, &out);
	check(rc == 0 && out.n == 0, "ztAPIs: the same set in another order: nothing to write (%d)", rc);
	zt_urls_free(&m);
	zt_urls_members(&m, "{\"data\":[{\"apiAddresses\":{\"edge-client\":[{\"url\":\"https://c2:2/e\"}]}}]}",
			NULL, 0);
	rc = zt_urls_next(&m, &old, &out);
	check(rc == 1 && !strcmp(joined(&out), "https://c2:2/e"),
	      "ztAPIs: a complete reply without c1 (removed from the cluster): written without it (%s)", joined(&out));
	zt_urls_free(&out);
	zt_urls_free(&m);
	zt_urls_members(&m, "{\"data\":[{\"apiAddresses\":{\"edge-client\":[{\"url\":\"https://c3:3/e\"}]}},"
			"{\"name\":\"c4\"}]}", NULL, 0);
	rc = zt_urls_next(&m, &old, &out);
	check(rc == 1 && !strcmp(joined(&out), "https://c3:3/e https://c1:1/e https://c2:2/e"),
	      "ztAPIs: an incomplete reply adds its URLs before the file's, drops none (%s)", joined(&out));
	zt_urls_free(&out);
	zt_urls_free(&m);
	zt_urls_members(&m, "{\"data\":[{\"name\":\"c1\"},{\"name\":\"c2\"}]}", NULL, 0);
	rc = zt_urls_next(&m, &old, &out);
	check(rc == 0 && m.listed == 2, "ztAPIs: a reply with no address at all changes nothing (%d)", rc);
	zt_urls_free(&m);
	zt_urls_free(&old);
	zt_urls_apis(&old, NULL, "https://c1:1/e");
	check(old.n == 1 && !strcmp(old.v[0], "https://c1:1/e"), "ztAPIs: no ztAPIs: the file's ztAPI (%s)",
	      joined(&old));
	zt_urls_free(&old);
}

void test_ctrls(void);
void test_ctrls(void)
{
	test_urls_next();
	test_ctrls_learn();
	test_ctrls_failover();
}
