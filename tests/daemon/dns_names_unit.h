/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Unit tests of the stable addresses of sipovld's DNS names (included by dns_unit.c after its
 * query helper zq, one TAP stream): a name's address across a restart and across two gateways,
 * collisions of home offsets, the table saved and restored (daemon/dns_zone_file.c) and damaged
 * files.
 */
#ifndef SIPOVL_TESTS_DAEMON_DNS_NAMES_UNIT_H
#define SIPOVL_TESTS_DAEMON_DNS_NAMES_UNIT_H

/*
 * Stable addresses (issue 15 item 1): a name's address does not depend on the order names were
 * asked in. A restarted sipovld (a new table, the same services, the names asked in another
 * order) and a second gateway of the site (asked other names first) give every name the address
 * the first table gave it.
 */
#define STABLE_N 24

static int stable_addrs(const struct sipovl_prefix *r4, const struct sipovl_prefix *r6, const struct dns_zsvc *sv,
			size_t nsv, const int *order, size_t n, const char *first, uint8_t out[][20])
{
	struct dns_zone *z = dns_zone_new(r4, r6);
	struct got g;
	bool ch;
	char nm[64];
	int bad = 0;

	if (!z || dns_zone_set(z, sv, nsv))
		return -1;
	for (int i = 0; first && i < 8; i++) { /* names the other gateway was asked before */
		snprintf(nm, sizeof(nm), "%s%d.voip.example", first, i);
		bad += zq(z, nm, DNS_T_A, &g, &ch) <= 0 || g.an != 1;
	}
	for (size_t k = 0; k < n; k++) {
		snprintf(nm, sizeof(nm), "n%d.voip.example", order[k]);
		bad += zq(z, nm, DNS_T_A, &g, &ch) <= 0 || g.an != 1;
		memcpy(out[order[k]], g.d0, 4);
		bad += zq(z, nm, DNS_T_AAAA, &g, &ch) <= 0 || g.an != 1;
		memcpy(out[order[k]] + 4, g.d0, 16);
	}
	dns_zone_free(z);
	return bad;
}

static void t_stable(void)
{
	struct sipovl_prefix r4, r6;
	char *p2[] = { "*.voip.example" };
	struct sipovl_portrange one = { 5060, 5060 };
	struct dns_zsvc sv[] = { { 8, p2, 1, SIPOVL_PROTO_UDP, &one, 1 } };
	int fwd[STABLE_N], rev[STABLE_N], moved_restart = 0, moved_gw = 0;
	static uint8_t a[STABLE_N][20], b[STABLE_N][20], c[STABLE_N][20];

	memset(&r4, 0, sizeof(r4));
	memset(&r6, 0, sizeof(r6));
	r4.family = AF_INET, r4.len = 10, inet_pton(AF_INET, "100.64.0.0", r4.addr);
	r6.family = AF_INET6, r6.len = 64, inet_pton(AF_INET6, "fd00:5150::", r6.addr);
	for (int i = 0; i < STABLE_N; i++)
		fwd[i] = i, rev[i] = STABLE_N - 1 - i;
	ok(!stable_addrs(&r4, &r6, sv, 1, fwd, STABLE_N, NULL, a), "gateway 1: %d names answered in order", STABLE_N);
	ok(!stable_addrs(&r4, &r6, sv, 1, rev, STABLE_N, NULL, b), "gateway 1 restarted: the names asked in reverse order");
	ok(!stable_addrs(&r4, &r6, sv, 1, fwd, STABLE_N, "other", c), "gateway 2: asked 8 other names first");
	for (int i = 0; i < STABLE_N; i++) {
		moved_restart += !!memcmp(a[i], b[i], 20);
		moved_gw += !!memcmp(a[i], c[i], 20);
	}
	ok(!moved_restart, "a restart (a new table, another order) renumbers no name (%d of %d moved)", moved_restart,
	   STABLE_N);
	ok(!moved_gw, "two gateways with the same services and ranges give every name the same address (%d of %d differ)",
	   moved_gw, STABLE_N);
	/* how often a name does not get its home address: a full table in the default /10 */
	struct dns_zone *z = dns_zone_new(&r4, NULL);
	struct dns_zone_stats st;
	struct got g;
	bool ch;
	char nm[64];
	int answered = 0;

	dns_zone_set(z, sv, 1);
	for (int i = 0; i < DNS_ZONE_MAX_NAMES; i++) {
		snprintf(nm, sizeof(nm), "phone-%d.voip.example", i);
		answered += zq(z, nm, DNS_T_A, &g, &ch) > 0 && g.an == 1;
	}
	dns_zone_stats(z, &st);
	ok(answered == DNS_ZONE_MAX_NAMES && st.collisions < 20,
	   "%d names in 100.64.0.0/10: %llu not given their home address (a collision)", answered,
	   (unsigned long long)st.collisions);
	dns_zone_free(z);
}

/*
 * Collisions: two names with the same home offset. The second asked gets the next free offset
 * up (wrapping), counted; which one that is depends on the order asked: the residual case of two
 * gateways asked in different orders. A name dropped and asked again gets its home back when free.
 */
static void t_collide(void)
{
	struct sipovl_prefix r4;
	char *p2[] = { "*.voip.example" }, nm[8][32];
	struct sipovl_portrange one = { 5060, 5060 };
	struct dns_zsvc sv[] = { { 8, p2, 1, SIPOVL_PROTO_UDP, &one, 1 } };
	struct dns_zone *z1, *z2;
	struct dns_zone_stats st;
	struct got g;
	bool ch;
	int a = -1, b = -1;
	uint8_t x1, y1, x2, y2;

	memset(&r4, 0, sizeof(r4));
	r4.family = AF_INET, r4.len = 29, inet_pton(AF_INET, "100.64.1.0", r4.addr); /* offsets 1..6 */
	z1 = dns_zone_new(&r4, NULL);
	z2 = dns_zone_new(&r4, NULL);
	dns_zone_set(z1, sv, 1);
	dns_zone_set(z2, sv, 1);
	for (int i = 0; i < 8; i++)
		snprintf(nm[i], sizeof(nm[i]), "c%d.voip.example", i);
	for (int i = 0; i < 8 && b < 0; i++) /* 8 names, 6 offsets: two share one */
		for (int j = 0; j < i && b < 0; j++)
			if (dns_zone_home(z1, nm[i]) == dns_zone_home(z1, nm[j]))
				a = j, b = i;
	ok(b >= 0, "two names with the same home offset: %s and %s (%u)", a >= 0 ? nm[a] : "-", b >= 0 ? nm[b] : "-",
	   a >= 0 ? dns_zone_home(z1, nm[a]) : 0);
	if (b < 0) {
		dns_zone_free(z1);
		dns_zone_free(z2);
		return;
	}
	uint32_t h = dns_zone_home(z1, nm[a]);

	zq(z1, nm[a], DNS_T_A, &g, &ch), x1 = g.d0[3];
	zq(z1, nm[b], DNS_T_A, &g, &ch), y1 = g.d0[3];
	zq(z2, nm[b], DNS_T_A, &g, &ch), y2 = g.d0[3];
	zq(z2, nm[a], DNS_T_A, &g, &ch), x2 = g.d0[3];
	dns_zone_stats(z1, &st);
	ok(x1 == h && y1 == (h == 6 ? 1 : h + 1) && st.collisions == 1,
	   "asked first, %s gets its home .%u; %s the next one up, .%u (collisions %llu)", nm[a], x1, nm[b], y1,
	   (unsigned long long)st.collisions);
	ok(y2 == h && x2 == y1, "another table asked in the other order: %s .%u, %s .%u (the residual case: swapped)",
	   nm[b], y2, nm[a], x2);
	/* the holder of the home offset goes: the other keeps its address; the first asked again gets its home */
	char *pa[] = { nm[a] }, *pb[] = { nm[b] };
	struct dns_zsvc only_b[] = { { 8, pb, 1, SIPOVL_PROTO_UDP, &one, 1 } }, both[] = { { 8, pa, 1, SIPOVL_PROTO_UDP, &one, 1 },
		{ 9, pb, 1, SIPOVL_PROTO_UDP, &one, 1 } };

	ok(dns_zone_set(z1, only_b, 1) == 1 && zq(z1, nm[b], DNS_T_A, &g, &ch) > 0 && g.d0[3] == y1,
	   "%s dropped: %s keeps .%u (an address is never moved)", nm[a], nm[b], y1);
	dns_zone_set(z1, both, 2);
	ok(zq(z1, nm[a], DNS_T_A, &g, &ch) > 0 && g.d0[3] == h, "%s asked again: its home .%u again", nm[a], h);
	dns_zone_free(z1);
	dns_zone_free(z2);
}

/*
 * The table saved and restored (a restart): every name its address; the restored names kept for
 * the idle time though no service has them yet (the services come from the controller after a
 * start), dropped after it; other ranges: nothing restored; a corrupt, truncated or foreign file:
 * a clear error, the zone empty and usable.
 */
static void t_file(void)
{
	struct sipovl_prefix r4, r6, r4b;
	char *p2[] = { "*.voip.example" }, nm[64], err[256];
	struct sipovl_portrange one = { 5060, 5060 };
	struct dns_zsvc sv[] = { { 8, p2, 1, SIPOVL_PROTO_UDP, &one, 1 } };
	struct dns_zone *z, *y;
	struct dns_zone_stats st;
	struct got g;
	bool ch;
	uint8_t a[40][4];
	size_t len;
	char *txt;
	int moved = 0, rc;

	memset(&r4, 0, sizeof(r4));
	memset(&r6, 0, sizeof(r6));
	r4.family = AF_INET, r4.len = 22, inet_pton(AF_INET, "100.64.0.0", r4.addr);
	r6.family = AF_INET6, r6.len = 64, inet_pton(AF_INET6, "fd00:5150::", r6.addr);
	z = dns_zone_new(&r4, &r6);
	dns_zone_set(z, sv, 1);
	for (int i = 0; i < 40; i++) {
		snprintf(nm, sizeof(nm), "f%d.voip.example", i);
		zq(z, nm, DNS_T_A, &g, &ch);
		memcpy(a[i], g.d0, 4);
	}
	dns_zone_stats(z, &st);
	txt = dns_zone_dump(z, &len);
	ok(txt && !strncmp(txt, "sipovl-dns-names 1 100.64.0.0/22 fd00:5150::/64\n", 48) && strstr(txt, "\nend 40\n"),
	   "dump: header with both ranges, 40 names, end line (%zu bytes; %llu collisions among 40 names in 1022 offsets)",
	   len, (unsigned long long)st.collisions);
	/* a restart: a new zone, no service known yet */
	y = dns_zone_new(&r4, &r6);
	dns_zone_set_idle(y, 300);
	dns_zone_clock(y, 50);
	rc = dns_zone_load(y, txt, len, err, sizeof(err));
	dns_zone_stats(y, &st);
	ok(rc == 40 && dns_zone_names(y) == 40 && st.restored == 40, "load: 40 names restored (%d: %s)", rc,
	   rc < 0 ? err : "ok");
	ok(dns_zone_set(y, sv, 0) == 0 && dns_zone_names(y) == 40, "no service yet (a start): the restored names kept");
	dns_zone_set(y, sv, 1);
	for (int i = 0; i < 40; i++) {
		snprintf(nm, sizeof(nm), "f%d.voip.example", i);
		ch = false;
		moved += zq(y, nm, DNS_T_A, &g, &ch) <= 0 || g.an != 1 || memcmp(g.d0, a[i], 4) || ch;
	}
	ok(!moved, "after the restart every name has its address again, none new (%d moved)", moved);
	size_t len2;
	char *txt2 = dns_zone_dump(y, &len2);

	ok(txt2 && len2 == len && !memcmp(txt, txt2, len), "dumped again: the same text");
	free(txt2);
	dns_zone_free(y);
	/* restored names no service has: kept for the idle time, then dropped by the next change of services */
	y = dns_zone_new(&r4, &r6);
	dns_zone_set_idle(y, 300);
	dns_zone_clock(y, 1000);
	dns_zone_load(y, txt, len, err, sizeof(err));
	dns_zone_clock(y, 1299);
	ok(dns_zone_set(y, sv, 0) == 0, "299 s after the start, no service yet: none dropped");
	dns_zone_clock(y, 1301);
	ok(dns_zone_set(y, sv, 0) == 40 && !dns_zone_names(y), "301 s after: the 40 names no service has dropped");
	dns_zone_free(y);
	/* other ranges: nothing restored */
	r4b = r4;
	r4b.len = 21;
	y = dns_zone_new(&r4b, &r6);
	rc = dns_zone_load(y, txt, len, err, sizeof(err));
	ok(rc == -2 && !dns_zone_names(y) && strstr(err, "for the ranges 100.64.0.0/22 fd00:5150::/64, not 100.64.0.0/21"),
	   "another IPv4 range: -2, nothing restored (%s)", err);
	dns_zone_free(y);
	y = dns_zone_new(&r4, NULL);
	ok(dns_zone_load(y, txt, len, err, sizeof(err)) == -2 && strstr(err, "not 100.64.0.0/22 -"),
	   "the IPv6 range gone: -2 (%s)", err);
	dns_zone_free(y);
	/* damaged files */
	static const struct {
		const char *what, *text, *err;
	} bad[] = {
		{ "empty", "", "empty" },
		{ "another file", "sipovl-pool 1 voip 100.127.0.0/24\n", "line 1: expected" },
		{ "version 2", "sipovl-dns-names 2 100.64.0.0/22 fd00:5150::/64\nend 0\n", "line 1: expected" },
		{ "truncated in a line", "sipovl-dns-names 1 100.64.0.0/22 fd00:5150::/64\n100.64.0.9 a.voip.exa",
		  "line 2: not terminated" },
		{ "truncated at a line's end", "sipovl-dns-names 1 100.64.0.0/22 fd00:5150::/64\n100.64.0.9 a.voip.example\n",
		  "no \"end\" line" },
		{ "count wrong", "sipovl-dns-names 1 100.64.0.0/22 fd00:5150::/64\n100.64.0.9 a.voip.example\nend 2\n",
		  "line 3: \"end 2\", but 1 names" },
		{ "after end", "sipovl-dns-names 1 100.64.0.0/22 fd00:5150::/64\nend 0\n100.64.0.9 a.voip.example\n",
		  "line 3: after the \"end\"" },
		{ "address out of range", "sipovl-dns-names 1 100.64.0.0/22 fd00:5150::/64\n100.64.4.1 a.voip.example\nend 1\n",
		  "line 2: 100.64.4.1 is not an address of the range" },
		{ "network address", "sipovl-dns-names 1 100.64.0.0/22 fd00:5150::/64\n100.64.0.0 a.voip.example\nend 1\n",
		  "not an address of the range" },
		{ "IPv6 address", "sipovl-dns-names 1 100.64.0.0/22 fd00:5150::/64\nfd00:5150::1 a.voip.example\nend 1\n",
		  "line 2: expected \"ADDRESS NAME\"" },
		{ "upper case", "sipovl-dns-names 1 100.64.0.0/22 fd00:5150::/64\n100.64.0.9 A.voip.example\nend 1\n",
		  "line 2: expected" },
		{ "empty label", "sipovl-dns-names 1 100.64.0.0/22 fd00:5150::/64\n100.64.0.9 a..example\nend 1\n",
		  "line 2: expected" },
		{ "three words", "sipovl-dns-names 1 100.64.0.0/22 fd00:5150::/64\n100.64.0.9 a.example x\nend 1\n",
		  "line 2: expected" },
		{ "address twice", "sipovl-dns-names 1 100.64.0.0/22 fd00:5150::/64\n100.64.0.9 a.example\n100.64.0.9 b.example\nend 2\n",
		  "line 3: 100.64.0.9 given twice (a.example and b.example)" },
		{ "name twice", "sipovl-dns-names 1 100.64.0.0/22 fd00:5150::/64\n100.64.0.9 a.example\n100.64.0.10 a.example\nend 2\n",
		  "a.example given two addresses" },
		{ "NUL byte", "sipovl-dns-names 1 100.64.0.0/22 fd00:5150::/64\n100.64.0.9 a\0.example\nend 1\n", "NUL" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t bl = strlen(bad[i].text);

		if (!strcmp(bad[i].what, "NUL byte"))
			bl = 48 + 22 + 6;
		y = dns_zone_new(&r4, &r6);
		dns_zone_set(y, sv, 1);
		err[0] = 0;
		rc = dns_zone_load(y, bad[i].text, bl, err, sizeof(err));
		ch = false;
		ok(rc == -1 && !dns_zone_names(y) && strstr(err, bad[i].err) && zq(y, "a.voip.example", DNS_T_A, &g, &ch) > 0 &&
			   g.an == 1 && ch,
		   "%s: -1, nothing restored, the zone answers (%s)", bad[i].what, err);
		dns_zone_free(y);
	}
	/* more names than the table holds */
	size_t bcap = 64 + (DNS_ZONE_MAX_NAMES + 1) * 40, bo;
	char *big = malloc(bcap);

	bo = (size_t)snprintf(big, bcap, "sipovl-dns-names 1 100.64.0.0/16 -\n");
	for (int i = 1; i <= DNS_ZONE_MAX_NAMES + 1; i++)
		bo += (size_t)snprintf(big + bo, bcap - bo, "100.64.%d.%d n%d.example\n", i >> 8, i & 255, i);
	bo += (size_t)snprintf(big + bo, bcap - bo, "end %d\n", DNS_ZONE_MAX_NAMES + 1);
	r4b = r4;
	r4b.len = 16;
	y = dns_zone_new(&r4b, NULL);
	rc = dns_zone_load(y, big, bo, err, sizeof(err));
	ok(rc == -1 && !dns_zone_names(y) && strstr(err, "line 4098: more than 4096 names"), "4097 names: refused (%s)", err);
	strstr(big, "\n100.64.16.1 n4097.")[1] = 0; /* without the last name and the end line: 4096 names */
	bo = strlen(big);
	bo += (size_t)snprintf(big + bo, bcap - bo, "end %d\n", DNS_ZONE_MAX_NAMES);
	rc = dns_zone_load(y, big, bo, err, sizeof(err));
	ok(rc == DNS_ZONE_MAX_NAMES, "4096 names: restored (%d %s)", rc, rc < 0 ? err : "");
	free(big);
	dns_zone_free(y);
	/* every prefix of a good file (a file cut anywhere): refused, never a crash */
	int cut_ok = 0;

	for (size_t l = 0; l < len; l++) {
		y = dns_zone_new(&r4, &r6);
		cut_ok += dns_zone_load(y, txt, l, err, sizeof(err)) == -1 && !dns_zone_names(y);
		dns_zone_free(y);
	}
	ok(cut_ok == (int)len, "the file cut at each of its %zu lengths: refused every time (%d)", len, cut_ok);
	free(txt);
	dns_zone_free(z);
}

#endif
