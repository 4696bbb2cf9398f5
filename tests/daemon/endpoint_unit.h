/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Unit tests of endpoint mode's I/O-free parts (included by pool_unit.c, one TAP stream):
 * $ip_pool[NAME] in templates and in the configs that use it, the dial parameters of an
 * endpoint, its kernel intercepts without its own address, the claim request and the state file.
 */
#ifndef SIPOVL_TESTS_DAEMON_ENDPOINT_UNIT_H
#define SIPOVL_TESTS_DAEMON_ENDPOINT_UNIT_H

#include "daemon/cfg.h"

/* an endpoint of pool voip-ips holding 100.127.0.5 (EP), and one whose claim is not answered yet */
static const struct tpl_vars EP = { .tunneler_name = "phone-1", .pool_name = "voip-ips", .pool_addr = "100.127.0.5" };
static const struct tpl_vars EP_WAIT = { .tunneler_name = "phone-1", .pool_name = "voip-ips" };

static void test_ep_templates(void)
{
	char out[128], unk[64], bad[72];

	ok(!tpl_expand("$ip_pool[voip-ips]", &EP, out, sizeof(out), unk, sizeof(unk)) && !strcmp(out, "100.127.0.5") &&
		   !unk[0],
	   "endpoint: $ip_pool[voip-ips] is its address (%s)", out);
	ok(!tpl_expand("$ip_pool[voip-ips]:$src_port", &EP, out, sizeof(out), unk, sizeof(unk)) &&
		   !strcmp(out, "100.127.0.5:$src_port") && !strcmp(unk, "$src_port"),
	   "endpoint: $ip_pool[voip-ips] followed by another variable (%s)", out);
	ok(!tpl_expand("$ip_pool[voip-ips]", &EP_WAIT, out, sizeof(out), unk, sizeof(unk)) &&
		   !strcmp(out, "$ip_pool[voip-ips]") && !strcmp(unk, "$ip_pool[voip-ips]"),
	   "endpoint: before the claim is answered $ip_pool[voip-ips] has no value (reported: %s)", unk);
	ok(!tpl_expand("$ip_pool[other]", &EP, out, sizeof(out), unk, sizeof(unk)) && !strcmp(unk, "$ip_pool[other]"),
	   "endpoint: another pool's $ip_pool[other] is unknown (%s)", unk);
	ok(!tpl_check_pool("$ip_pool[voip-ips]", true, "voip-ips", bad, sizeof(bad)) &&
		   !tpl_check_pool("$ip_pool[voip-ips]", false, "voip-ips", bad, sizeof(bad)),
	   "endpoint: $ip_pool[voip-ips] is known on both sides of an endpoint of voip-ips");
	ok(tpl_check_pool("$ip_pool[voip-ipsx]", true, "voip-ips", bad, sizeof(bad)) && !strcmp(bad, "$ip_pool[voip-ipsx]"),
	   "endpoint: $ip_pool[voip-ipsx] refused (a longer name is another pool): %s", bad);
	ok(tpl_check_pool("$ip_pool[voip-ips]", false, NULL, bad, sizeof(bad)) && !strcmp(bad, "$ip_pool[voip-ips]") &&
		   tpl_check("$ip_pool[voip-ips]", false, bad, sizeof(bad)),
	   "endpoint: a sipovld that is not an endpoint knows no $ip_pool[...]");
	ok(tpl_check_pool("$ip_pool[]", false, "voip-ips", bad, sizeof(bad)) &&
		   tpl_check_pool("$ip_pool[voip-ips", false, "voip-ips", bad, sizeof(bad)) &&
		   !strcmp(bad, "$ip_pool[voip-ips"),
	   "endpoint: $ip_pool[] and an unclosed $ip_pool[voip-ips refused (%s)", bad);
}

static void test_ep_configs(void)
{
	struct icpt_cfg c;
	struct host_cfg h;
	struct app_data ad;
	char err[CFG_ERRLEN], id[128], unk[64];
	static const char icpt[] =
		"{\"protocols\":[\"udp\",\"tcp\"],\"addresses\":[\"100.127.0.0/24\"],\"portRanges\":[{\"low\":5060}],"
		"\"dialOptions\":{\"identity\":\"$intercepted_ip\"},\"sourceIp\":\"$ip_pool[voip-ips]\"}";
	static const char icpt_other[] =
		"{\"protocols\":[\"udp\"],\"addresses\":[\"100.127.0.0/24\"],\"portRanges\":[{\"low\":5060}],"
		"\"sourceIp\":\"$ip_pool[other-ips]\"}";
	static const char host[] =
		"{\"forwardProtocol\":true,\"allowedProtocols\":[\"udp\",\"tcp\"],\"forwardAddress\":true,"
		"\"allowedAddresses\":[\"100.127.0.0/24\"],\"forwardPort\":true,\"allowedPortRanges\":[{\"low\":5060}],"
		"\"allowedSourceAddresses\":[\"100.127.0.0/24\"],\"listenOptions\":{\"identity\":\"$ip_pool[voip-ips]\"}}";
	int rc;

	rc = icpt_cfg_parse_pool(icpt, "voip-ips", &c, err, sizeof(err));
	ok(!rc, "endpoint: intercept.v1 with sourceIp $ip_pool[voip-ips] accepted on an endpoint of voip-ips (%s)",
	   rc ? err : "ok");
	if (!rc) {
		struct sockaddr_storage src = { 0 }, dst = { 0 };
		struct sockaddr_in *s4 = (struct sockaddr_in *)&src, *d4 = (struct sockaddr_in *)&dst;

		s4->sin_family = d4->sin_family = AF_INET;
		inet_pton(AF_INET, "100.127.0.5", &s4->sin_addr);
		s4->sin_port = htons(40000);
		inet_pton(AF_INET, "100.127.0.9", &d4->sin_addr);
		d4->sin_port = htons(5060);
		rc = icpt_dial_params(&c, "udp", &src, &dst, &EP, &ad, id, sizeof(id), unk, sizeof(unk));
		ok(!rc && !strcmp(ad.source_addr, "100.127.0.5") && !strcmp(id, "100.127.0.9") && !unk[0],
		   "endpoint: a flow to 100.127.0.9 dials terminator identity %s with source_addr %s", id,
		   ad.source_addr);
		rc = icpt_dial_params(&c, "udp", &src, &dst, &EP_WAIT, &ad, id, sizeof(id), unk, sizeof(unk));
		ok(!rc && !strcmp(unk, "$ip_pool[voip-ips]"),
		   "endpoint: without its address a dial reports $ip_pool[voip-ips] as without value (not dialed): %s",
		   unk);
		icpt_cfg_free(&c);
	}
	rc = icpt_cfg_parse_pool(icpt_other, "voip-ips", &c, err, sizeof(err));
	ok(rc && strstr(err, "sourceIp") && strstr(err, "$ip_pool[other-ips]") && strstr(err, "endpoint.pool is voip-ips"),
	   "endpoint: sourceIp $ip_pool[other-ips] refused naming field, variable and the pool: %s",
	   rc ? err : "accepted");
	if (!rc)
		icpt_cfg_free(&c);
	rc = icpt_cfg_parse(icpt, &c, err, sizeof(err));
	ok(rc && strstr(err, "$ip_pool[voip-ips]") && strstr(err, "not an endpoint"),
	   "endpoint: a gateway refuses sourceIp $ip_pool[voip-ips], saying it is not an endpoint: %s",
	   rc ? err : "accepted");
	if (!rc)
		icpt_cfg_free(&c);
	rc = host_cfg_parse_pool(host, "voip-ips", &h, err, sizeof(err));
	ok(!rc, "endpoint: host.v1 with listenOptions.identity $ip_pool[voip-ips] accepted (%s)", rc ? err : "ok");
	if (!rc) {
		rc = host_listen_identity(&h, &EP, id, sizeof(id), unk, sizeof(unk));
		ok(!rc && !strcmp(id, "100.127.0.5") && !unk[0], "endpoint: its terminator identity is its address (%s)",
		   id);
		rc = host_listen_identity(&h, &EP_WAIT, id, sizeof(id), unk, sizeof(unk));
		ok(!rc && !strcmp(unk, "$ip_pool[voip-ips]"), "endpoint: no terminator identity before the claim (%s)",
		   unk);
		host_cfg_free(&h);
	}
	rc = host_cfg_parse_pool(host, "other-ips", &h, err, sizeof(err));
	ok(rc && strstr(err, "listenOptions.identity") && strstr(err, "$ip_pool[voip-ips]") &&
		   strstr(err, "endpoint.pool is other-ips"),
	   "endpoint: listenOptions.identity of another pool refused: %s", rc ? err : "accepted");
	if (!rc)
		host_cfg_free(&h);
}

/* every address of @p (IPv4, /24 or smaller) but @skip is in exactly one of @v */
static bool covers_but(const struct sipovl_prefix *v, size_t nv, const char *net, unsigned len, const char *skip)
{
	struct in_addr a, s;
	uint32_t base;

	inet_pton(AF_INET, net, &a);
	inet_pton(AF_INET, skip, &s);
	base = ntohl(a.s_addr);
	for (uint32_t i = 0; i < (1u << (32 - len)); i++) {
		uint32_t x = htonl(base + i);
		unsigned hits = 0;

		for (size_t j = 0; j < nv; j++)
			hits += cfg_prefix_contains(&v[j], AF_INET, (const uint8_t *)&x);
		if (hits != (x == s.s_addr ? 0u : 1u))
			return false;
	}
	return true;
}

static void test_ep_without(void)
{
	struct sipovl_prefix in[3], *out = NULL, me;
	size_t nout = 99;
	bool v6ok = true;

	cfg_parse_prefix("100.127.0.0/24", &in[0]);
	cfg_parse_prefix("10.9.0.0/16", &in[1]);
	cfg_parse_ip("100.127.0.5", &me);
	int rc = cfg_prefixes_without(in, 2, AF_INET, me.addr, &out, &nout);

	ok(!rc && nout == 9 &&
		   covers_but(out, nout, "100.127.0.0", 24, "100.127.0.5") &&
		   !memcmp(&out[8], &in[1], sizeof(in[1])),
	   "endpoint: 100.127.0.0/24 without 100.127.0.5: 8 prefixes that cover the other 255 addresses, "
	   "10.9.0.0/16 kept (%zu)", nout);
	free(out);
	cfg_parse_prefix("100.127.0.5/32", &in[0]);
	ok(!cfg_prefixes_without(in, 1, AF_INET, me.addr, &out, &nout) && nout == 0 && !out,
	   "endpoint: an intercept of its own address alone leaves nothing");
	cfg_parse_prefix("fd00:7f::/112", &in[0]);
	cfg_parse_ip("fd00:7f::2a", &me);
	rc = cfg_prefixes_without(in, 1, AF_INET6, me.addr, &out, &nout);
	ok(!rc && nout == 16, "endpoint: fd00:7f::/112 without fd00:7f::2a: 16 prefixes (%zu)", nout);
	for (size_t i = 0; out && i < nout; i++)
		v6ok &= !cfg_prefix_contains(&out[i], AF_INET6, me.addr) &&
			cfg_prefix_contains(&in[0], AF_INET6, out[i].addr) && out[i].len == 113 + i;
	ok(v6ok, "endpoint: IPv6: none holds the address, all inside the /112, /113 to /128");
	free(out);
}

static void test_ep_state(void)
{
	struct sipovl_prefix a, b;
	char buf[128], err[160];
	size_t n;

	cfg_parse_ip("100.127.0.5", &a);
	n = pool_claim_req("voip-ips", &a, buf, sizeof(buf));
	ok(n == strlen("claim voip-ips 100.127.0.5\n") && !strcmp(buf, "claim voip-ips 100.127.0.5\n"),
	   "endpoint: claim with the address held before");
	n = pool_claim_req("voip-ips", NULL, buf, sizeof(buf));
	ok(!strcmp(buf, "claim voip-ips\n") && n == 15, "endpoint: claim without one");
	n = pool_state_fmt("voip-ips", &a, buf, sizeof(buf));
	ok(!strcmp(buf, "sipovl-endpoint 1 voip-ips 100.127.0.5\n") &&
		   pool_state_parse(buf, n, "voip-ips", &b, err, sizeof(err)) == 0 && !memcmp(&a, &b, sizeof(a)),
	   "endpoint: state file written and read back");
	ok(pool_state_parse(buf, n, "other", &b, err, sizeof(err)) == 1 && strstr(err, "voip-ips"),
	   "endpoint: a state file of another pool is not used: %s", err);
	static const char *const bad[] = {
		"", "sipovl-endpoint 1 voip-ips 100.127.0.5", "sipovl-endpoint 2 voip-ips 100.127.0.5\n",
		"sipovl-endpoint 1 voip-ips 100.127.0.5 x\n", "sipovl-endpoint 1 voip-ips 100.127.0.0/24\n",
		"sipovl-endpoint 1 voip-ips\n", "sipovl-endpoint 1 voip-ips 100.127.0.5\nmore\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(pool_state_parse(bad[i], strlen(bad[i]), "voip-ips", &b, err, sizeof(err)) == -1 && err[0],
		   "endpoint: malformed state file %zu refused: %s", i, err);
	ok(pool_state_parse("sipovl-endpoint 1 voip-ips fd00:7f::5\n", strlen("sipovl-endpoint 1 voip-ips fd00:7f::5\n"), "voip-ips", &b, err, sizeof(err)) == 0 &&
		   b.family == AF_INET6,
	   "endpoint: an IPv6 address in the state file");
}

static void test_endpoint(void)
{
	test_ep_templates();
	test_ep_configs();
	test_ep_without();
	test_ep_state();
}

#endif
