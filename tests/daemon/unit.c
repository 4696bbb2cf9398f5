// SPDX-License-Identifier: GPL-2.0
/*
 * sipovld configuration model unit tests (TAP 13): intercept.v1 / host.v1 parsing, app_data
 * build/parse, template expansion, host-side target computation (allowed lists, address
 * translation, source addresses), kernel intercept conversion, sipovld.conf parsing.
 * Built with ASan/UBSan ($(O)/san/daemon-unit); run by tests/daemon/run.sh.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/cfg.h"
#include "daemon/flows_pair.h"

#include "tests/daemon/tap.h"

static const char *pfx(const struct sipovl_prefix *p)
{
	static char b[4][64];
	static int i;

	return cfg_fmt_prefix(p, b[i++ & 3], 64);
}

static void t_prefixes(void)
{
	struct sipovl_prefix p;
	uint8_t a[16];

	ok(!cfg_parse_prefix("10.1.0.0/16", &p) && !strcmp(pfx(&p), "10.1.0.0/16"), "prefix 10.1.0.0/16");
	ok(!cfg_parse_prefix("10.1.2.3/16", &p) && !strcmp(pfx(&p), "10.1.0.0/16"), "host bits cleared");
	ok(!cfg_parse_prefix("10.0.0.1", &p) && p.len == 32, "bare address is /32");
	ok(!cfg_parse_prefix("fd01::5/64", &p) && !strcmp(pfx(&p), "fd01::/64"), "IPv6 prefix");
	ok(!cfg_parse_prefix("10.1.2.3/0", &p) && !strcmp(pfx(&p), "0.0.0.0/0"), "/0");
	ok(cfg_parse_prefix("10.1.0.0/33", &p), "/33 refused");
	ok(cfg_parse_prefix("10.1.0.0/", &p), "empty length refused");
	ok(cfg_parse_prefix("10.1.0.0/+8", &p), "signed length refused");
	ok(cfg_parse_prefix("10.1.0.0/8x", &p), "trailing garbage refused");
	ok(cfg_parse_prefix("10.1.0/8", &p), "short address refused");
	ok(cfg_parse_prefix("example.com", &p), "hostname is not a prefix");
	cfg_parse_prefix("10.1.0.0/15", &p);
	inet_pton(AF_INET, "10.0.255.255", a);
	ok(cfg_prefix_contains(&p, AF_INET, a), "10.0.255.255 in 10.0.0.0/15");
	inet_pton(AF_INET, "10.2.0.0", a);
	ok(!cfg_prefix_contains(&p, AF_INET, a), "10.2.0.0 not in 10.0.0.0/15");
	inet_pton(AF_INET6, "fd01::1", a);
	ok(!cfg_prefix_contains(&p, AF_INET6, a), "family mismatch never contains");

	struct sockaddr_storage ss;
	socklen_t l;
	char b[64];

	ok(!cfg_parse_hostport("10.1.0.2:5060", &ss, &l) && !strcmp(cfg_fmt_sa(&ss, b, sizeof(b)), "10.1.0.2:5060"),
	   "hostport v4");
	ok(!cfg_parse_hostport("10.1.0.2", &ss, &l) && cfg_sa_port(&ss) == 0, "hostport without port");
	ok(!cfg_parse_hostport("[fd01::2]:7000", &ss, &l) && !strcmp(cfg_fmt_sa(&ss, b, sizeof(b)), "[fd01::2]:7000"),
	   "hostport v6");
	ok(!cfg_parse_hostport("fd01::2", &ss, &l) && ss.ss_family == AF_INET6, "bare v6");
	ok(cfg_parse_hostport("10.1.0.2:70000", &ss, &l), "port 70000 refused");
	ok(cfg_parse_hostport("10.1.0.2:", &ss, &l), "empty port refused");
	ok(cfg_parse_hostport("gw.example:80", &ss, &l), "hostname refused");
	ok(cfg_parse_hostport("[fd01::2]x", &ss, &l), "garbage after ] refused");
}

static void t_templates(void)
{
	struct tpl_vars v = { .dst_protocol = "udp", .dst_ip = "10.2.0.5", .dst_port = "5060", .src_ip = "10.1.0.2",
			      .src_port = "40000", .tunneler_name = "gw-a" };
	char out[128], unk[64];

	ok(!tpl_expand("$src_ip:$src_port", &v, out, sizeof(out), unk, sizeof(unk)) && !strcmp(out, "10.1.0.2:40000") &&
		   !unk[0],
	   "sourceIp $src_ip:$src_port");
	ok(!tpl_expand("$intercepted_ip", &v, out, sizeof(out), unk, sizeof(unk)) && !strcmp(out, "10.2.0.5"),
	   "$intercepted_ip is $dst_ip");
	ok(!tpl_expand("$tunneler_id.name-$dst_protocol-$dst_port", &v, out, sizeof(out), unk, sizeof(unk)) &&
		   !strcmp(out, "gw-a-udp-5060"),
	   "several variables, repeated prefixes");
	ok(!tpl_expand("phone-$dst_ip.example", &v, out, sizeof(out), unk, sizeof(unk)) &&
		   !strcmp(out, "phone-10.2.0.5.example"),
	   "a dot ends a variable name");
	ok(!tpl_expand("$dst_ip$dst_ip", &v, out, sizeof(out), unk, sizeof(unk)) && !strcmp(out, "10.2.0.510.2.0.5"),
	   "every occurrence is replaced");
	ok(!tpl_expand("$ip_pool[voip-ips]", &v, out, sizeof(out), unk, sizeof(unk)) &&
		   !strcmp(out, "$ip_pool[voip-ips]") && !strcmp(unk, "$ip_pool[voip-ips]"),
	   "unknown variable left as written and reported (%s)", unk);
	ok(!tpl_expand("$tunneler_id.tag[site]", &v, out, sizeof(out), unk, sizeof(unk)) &&
		   !strcmp(out, "$tunneler_id.tag[site]") && unk[0],
	   "$tunneler_id.tag[...] is not $tunneler_id");
	ok(!tpl_expand("$dst_ipx", &v, out, sizeof(out), unk, sizeof(unk)) && !strcmp(out, "$dst_ipx") && unk[0],
	   "longer identifier is not a known variable");
	v.dst_hostname = NULL;
	ok(!tpl_expand("$dst_hostname", &v, out, sizeof(out), unk, sizeof(unk)) && !strcmp(unk, "$dst_hostname"),
	   "unavailable variable is reported");
	ok(tpl_expand("$dst_ip$dst_ip", &v, out, 12, unk, sizeof(unk)) == -1, "overflow detected");
	ok(!tpl_expand("$", &v, out, sizeof(out), unk, sizeof(unk)) && !strcmp(out, "$"), "lone $");
	ok(!tpl_expand("", &v, out, sizeof(out), unk, sizeof(unk)) && !out[0], "empty template");
}

/* identity tags and appData as the controller reports them (GET /current-identity) */
static const char *id_attr(void *arg, const char *kind, const char *key)
{
	static const char *const kv[][3] = {
		{ "tag", "ipaddr", "10.1.0.7" },	   { "tag", "site", "paris" },
		{ "appData", "sourceIp", "15.14.13.12" }, { "appData", "sourcePort", "1999" },
	};

	(void)arg;
	for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
		if (!strcmp(kind, kv[i][0]) && !strcmp(key, kv[i][1]))
			return kv[i][2];
	return NULL;
}

static void t_templates_ident(void)
{
	struct tpl_vars v = { .dst_protocol = "udp", .dst_ip = "10.2.0.5", .dst_port = "5060", .src_ip = "10.1.0.2",
			      .src_port = "40000", .tunneler_name = "gw-a", .dst_hostname = "pbx.sip.example",
			      .attr = id_attr };
	char out[128], unk[64], err[CFG_ERRLEN];
	struct icpt_cfg c;
	struct host_cfg h;

	ok(!tpl_expand("$tunneler_id.tag[ipaddr]", &v, out, sizeof(out), unk, sizeof(unk)) && !strcmp(out, "10.1.0.7") &&
		   !unk[0],
	   "$tunneler_id.tag[ipaddr] is the identity's tag (%s)", out);
	ok(!tpl_expand("$tunneler_id.appData[sourceIp]:$tunneler_id.appData[sourcePort]", &v, out, sizeof(out), unk,
		       sizeof(unk)) && !strcmp(out, "15.14.13.12:1999") && !unk[0],
	   "$tunneler_id.appData[KEY] twice (%s)", out);
	ok(!tpl_expand("$tunneler_id.name.$tunneler_id.tag[site]", &v, out, sizeof(out), unk, sizeof(unk)) &&
		   !strcmp(out, "gw-a.paris"),
	   "name and tag together (%s)", out);
	ok(!tpl_expand("$tunneler_id.tag[nope]", &v, out, sizeof(out), unk, sizeof(unk)) &&
		   !strcmp(unk, "$tunneler_id.tag[nope]"),
	   "a tag the identity lacks is reported (%s)", unk);
	ok(!tpl_expand("$dst_hostname", &v, out, sizeof(out), unk, sizeof(unk)) && !strcmp(out, "pbx.sip.example") &&
		   !unk[0],
	   "$dst_hostname (%s)", out);

	/* unknown variables are refused when the config is read, naming the field and variable */
	static const struct {
		const char *json, *field, *var;
	} bad[] = {
		{ "{\"protocols\":[\"udp\"],\"addresses\":[\"10.0.0.1\"],\"portRanges\":[{\"low\":5060}],"
		  "\"sourceIp\":\"$ip_pool[voip-ips]\"}", "sourceIp", "$ip_pool[voip-ips]" },
		{ "{\"protocols\":[\"udp\"],\"addresses\":[\"10.0.0.1\"],\"portRanges\":[{\"low\":5060}],"
		  "\"dialOptions\":{\"identity\":\"phone-$dst_ipx\"}}", "dialOptions.identity", "$dst_ipx" },
		{ "{\"protocols\":[\"udp\"],\"addresses\":[\"10.0.0.1\"],\"portRanges\":[{\"low\":5060}],"
		  "\"sourceIp\":\"$tunneler_id.tag[ipaddr\"}", "sourceIp", "$tunneler_id.tag[ipaddr" },
		{ "{\"protocols\":[\"udp\"],\"addresses\":[\"10.0.0.1\"],\"portRanges\":[{\"low\":5060}],"
		  "\"sourceIp\":\"$tunneler_id.tag[]\"}", "sourceIp", "$tunneler_id.tag[]" },
		{ "{\"protocols\":[\"udp\"],\"addresses\":[\"10.0.0.1\"],\"portRanges\":[{\"low\":5060}],"
		  "\"sourceIp\":\"$tunneler_id.id\"}", "sourceIp", "$tunneler_id.id" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = icpt_cfg_parse(bad[i].json, &c, err, sizeof(err));

		ok(rc == -1 && strstr(err, bad[i].field) && strstr(err, bad[i].var),
		   "intercept.v1 with %s %s refused when read: %s", bad[i].field, bad[i].var, rc ? err : "accepted");
		if (!rc)
			icpt_cfg_free(&c);
	}
	static const char *const good[] = { "$tunneler_id.tag[ipaddr]", "$tunneler_id.appData[srcip]:$src_port",
					    "$dst_hostname", "$src_ip:$dst_port", "$$src_ip", "10.1.0.1$" };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		char j[256];

		snprintf(j, sizeof(j), "{\"protocols\":[\"udp\"],\"addresses\":[\"10.0.0.1\"],"
			 "\"portRanges\":[{\"low\":5060}],\"sourceIp\":\"%s\"}", good[i]);
		int rc = icpt_cfg_parse(j, &c, err, sizeof(err));

		ok(!rc, "sourceIp %s accepted (%s)", good[i], rc ? err : "ok");
		if (!rc)
			icpt_cfg_free(&c);
	}
	/* listenOptions.identity: only the tunneler's own variables exist on the hosting side */
	static const char *const hbad[] = { "$ip_pool[x]", "$dst_ip", "$src_ip-$tunneler_id.name" };
	for (size_t i = 0; i < sizeof(hbad) / sizeof(hbad[0]); i++) {
		char j[256];

		snprintf(j, sizeof(j), "{\"protocol\":\"udp\",\"address\":\"10.0.0.1\",\"port\":5060,"
			 "\"listenOptions\":{\"identity\":\"%s\"}}", hbad[i]);
		int rc = host_cfg_parse(j, &h, err, sizeof(err));

		ok(rc == -1 && strstr(err, "listenOptions.identity") && strstr(err, "$"),
		   "host.v1 listenOptions.identity %s refused when read: %s", hbad[i], rc ? err : "accepted");
		if (!rc)
			host_cfg_free(&h);
	}
	int rc = host_cfg_parse("{\"protocol\":\"udp\",\"address\":\"10.0.0.1\",\"port\":5060,"
				"\"listenOptions\":{\"identity\":\"$tunneler_id.tag[site]-$tunneler_id.appData[k]\"}}",
				&h, err, sizeof(err));

	ok(!rc, "host.v1 listenOptions.identity with tag and appData accepted (%s)", rc ? err : "ok");
	if (!rc)
		host_cfg_free(&h);
}

/* forwardAddress: the dialer's dst_hostname is preferred over dst_ip (as ziti-tunnel-sdk-c) */
static void t_host_hostname(void)
{
	struct host_cfg h;
	struct host_target t;
	struct app_data a;
	char err[CFG_ERRLEN];
	static const char *HJ =
		"{\"protocol\":\"udp\",\"forwardAddress\":true,\"allowedAddresses\":[\"10.2.0.0/24\","
		"\"*.sip.example\",\"pbx.example\"],\"port\":5060}";

	if (host_cfg_parse(HJ, &h, err, sizeof(err))) {
		ok(0, "hostname host.v1 parses: %s", err);
		return;
	}
	static const struct {
		const char *adj, *host, *ip, *refuse;
	} c[] = {
		{ "{\"dst_hostname\":\"a.sip.example\",\"dst_ip\":\"10.2.0.9\"}", "a.sip.example", NULL, NULL },
		{ "{\"dst_hostname\":\"pbx.example\"}", "pbx.example", NULL, NULL },
		{ "{\"dst_hostname\":\"PBX.Example\"}", "PBX.Example", NULL, NULL },
		{ "{\"dst_ip\":\"10.2.0.9\"}", NULL, "10.2.0.9", NULL },
		{ "{\"dst_hostname\":\"evil.example\",\"dst_ip\":\"10.2.0.9\"}", NULL, NULL, "not in allowedAddresses" },
		{ "{\"dst_hostname\":\"sip.example\"}", NULL, NULL, "not in allowedAddresses" },
		{ "{\"dst_hostname\":\"x.pbx.example\"}", NULL, NULL, "not in allowedAddresses" },
		{ "{\"dst_hostname\":\"10.2.0.9\"}", NULL, "10.2.0.9", NULL },
		{ "{\"dst_hostname\":\"10.3.0.9\"}", NULL, NULL, "not in allowedAddresses" },
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		char b[64] = "";
		int rc = app_data_parse(c[i].adj, strlen(c[i].adj), &a, err, sizeof(err));

		if (!rc)
			rc = host_compute(&h, &a, &t, err, sizeof(err));
		if (c[i].refuse)
			ok(rc == -1 && strstr(err, c[i].refuse), "dst_hostname case %zu refused: %s", i, rc ? err : "accepted");
		else if (c[i].host)
			ok(!rc && !strcmp(t.dst_host, c[i].host) && t.dst_port == 5060,
			   "dst_hostname case %zu: target %s (%s)", i, t.dst_host, rc ? err : "ok");
		else
			ok(!rc && !t.dst_host[0] && !strcmp(cfg_fmt_ip(&t.dst, b, sizeof(b)), c[i].ip),
			   "dst_hostname case %zu: target %s (%s)", i, b, rc ? err : "ok");
	}
	host_cfg_free(&h);
}

static const struct tpl_vars GW_A = { .tunneler_name = "gw-a" }, GW_B = { .tunneler_name = "gw-b" };

static const char *SEED_SIP =
	"{\"protocols\":[\"udp\"],\"addresses\":[\"10.0.0.1\",\"10.1.0.0/16\",\"10.2.0.0/16\",\"10.3.0.0/16\","
	"\"10.4.0.0/16\",\"sip.example.com\",\"*.voip.example\"],\"portRanges\":[{\"low\":5060,\"high\":5060}],"
	"\"dialOptions\":{\"identity\":\"$intercepted_ip\"},\"sourceIp\":\"$src_ip:$src_port\"}";

static void t_intercept(void)
{
	struct icpt_cfg c;
	char err[CFG_ERRLEN];

	ok(!icpt_cfg_parse(SEED_SIP, &c, err, sizeof(err)), "seed SIP intercept.v1 parses (%s)", err);
	ok(c.protos == SIPOVL_PROTO_UDP, "udp only");
	ok(c.n_dsts == 5 && !strcmp(pfx(&c.dsts[0]), "10.0.0.1/32") && !strcmp(pfx(&c.dsts[4]), "10.4.0.0/16"),
	   "5 prefixes");
	ok(c.n_skipped == 2 && !strcmp(c.skipped[1], "*.voip.example"), "hostname and wildcard skipped");
	ok(c.n_ports == 1 && c.ports[0].low == 5060 && c.ports[0].high == 5060, "port 5060");
	ok(c.dial_identity && !strcmp(c.dial_identity, "$intercepted_ip"), "dialOptions.identity kept");
	ok(c.connect_timeout_ms == 15000, "dialOptions without a timeout: 15 s");
	ok(c.source_ip && !strcmp(c.source_ip, "$src_ip:$src_port"), "sourceIp kept");

	struct sipovl_intercept k;
	char kn[SIPOVL_NAME_MAXLEN];

	icpt_kernel_name("sip", 3, kn);
	ok(!strcmp(kn, "sip"), "kernel name is the service name");
	ok(!icpt_to_kernel(&c, 3, kn, SIPOVL_POLICY_DROP, &k) && k.id == 3 && k.n_dsts == 5 && k.n_ports == 1 &&
		   k.protos == SIPOVL_PROTO_UDP && k.n_srcs == 0 && k.dsts == c.dsts,
	   "kernel intercept built");

	struct sockaddr_storage src, dst;
	struct app_data ad, back;
	char id[128], unk[64], json[512];

	cfg_parse_hostport("10.1.0.2:40000", &src, NULL);
	cfg_parse_hostport("10.2.0.5:5060", &dst, NULL);
	ok(!icpt_dial_params(&c, "udp", &src, &dst, &GW_A, &ad, id, sizeof(id), unk, sizeof(unk)), "dial params");
	ok(!strcmp(id, "10.2.0.5"), "terminator identity = intercepted IP (%s)", id);
	ok(!strcmp(ad.source_addr, "10.1.0.2:40000"), "source_addr = caller (%s)", ad.source_addr);
	struct sockaddr_storage src6, dst6;
	struct app_data ad6;
	struct host_cfg hc;
	struct host_target ht;

	cfg_parse_hostport("[fd01::2]:40000", &src6, NULL);
	cfg_parse_hostport("[fd02::5]:5060", &dst6, NULL);
	ok(!icpt_dial_params(&c, "udp", &src6, &dst6, &GW_A, &ad6, id, sizeof(id), unk, sizeof(unk)) &&
		   !strcmp(ad6.source_addr, "[fd01::2]:40000") && !strcmp(ad6.dst_ip, "fd02::5"),
	   "IPv6 sourceIp $src_ip:$src_port is bracketed (%s)", ad6.source_addr);
	ok(!host_cfg_parse("{\"forwardProtocol\":true,\"allowedProtocols\":[\"udp\"],\"forwardAddress\":true,"
			   "\"allowedAddresses\":[\"fd02::/64\"],\"forwardPort\":true,\"allowedPortRanges\":[{\"low\":5060}],"
			   "\"allowedSourceAddresses\":[\"fd01::/64\"]}", &hc, err, sizeof(err)) &&
		   !host_compute(&hc, &ad6, &ht, err, sizeof(err)) && ht.has_src && cfg_sa_port(&ht.src) == 40000,
	   "the host side takes it (%s)", err);
	host_cfg_free(&hc);
	int jl = app_data_build(&ad, json, sizeof(json));

	ok(jl > 0 && strstr(json, "\"dst_ip\":\"10.2.0.5\"") && strstr(json, "\"dst_port\":\"5060\"") &&
		   strstr(json, "\"dst_protocol\":\"udp\"") && strstr(json, "\"src_ip\":\"10.1.0.2\"") &&
		   strstr(json, "\"src_port\":\"40000\"") && strstr(json, "\"source_addr\":\"10.1.0.2:40000\"") &&
		   !strstr(json, "dst_hostname"),
	   "app_data JSON: %s", json);
	ok(!app_data_parse(json, (size_t)jl, &back, err, sizeof(err)) && !memcmp(&ad, &back, sizeof(ad)),
	   "app_data round trip");
	ok(app_data_build(&ad, json, 20) == -1, "app_data overflow detected");
	icpt_cfg_free(&c);

	/* defaults and variants */
	ok(!icpt_cfg_parse("{\"protocols\":[\"tcp\",\"UDP\"],\"addresses\":[\"fd02::/32\"],\"portRanges\":[{\"low\":1}],"
			   "\"allowedSourceAddresses\":[\"10.9.0.0/24\"]}",
			   &c, err, sizeof(err)) &&
		   c.protos == 3 && c.ports[0].high == 1 && c.n_srcs == 1 && c.connect_timeout_ms == 5000 &&
		   !c.dial_identity && !c.source_ip,
	   "defaults: 5 s, single port, sources (%s)", err);
	icpt_cfg_free(&c);
	ok(!icpt_cfg_parse("{\"protocols\":[\"udp\"],\"addresses\":[\"10.1.0.0/16\"],\"portRanges\":[{\"low\":1,\"high\":2}],"
			   "\"dialOptions\":{\"connectTimeoutSeconds\":3}}", &c, err, sizeof(err)) &&
		   c.connect_timeout_ms == 3000,
	   "connectTimeoutSeconds");
	icpt_cfg_free(&c);
	ok(!icpt_cfg_parse("{\"protocols\":[\"udp\"],\"addresses\":[\"10.1.0.0/16\"],\"portRanges\":[{\"low\":1,\"high\":2}],"
			   "\"dialOptions\":{\"connect_timeout_seconds\":7}}", &c, err, sizeof(err)) &&
		   c.connect_timeout_ms == 7000,
	   "connect_timeout_seconds (tunneler SDK spelling)");
	icpt_cfg_free(&c);
	ok(!icpt_cfg_parse("{\"protocols\":[\"udp\"],\"addresses\":[\"10.1.0.0/16\",\"10.1.0.0/16\"],\"portRanges\":[{\"low\":1,\"high\":2}]}",
			   &c, err, sizeof(err)) && c.n_dsts == 1,
	   "duplicate addresses collapse");
	icpt_cfg_free(&c);
	ok(!icpt_cfg_parse("{\"protocols\":[\"tcp\"],\"addresses\":[\"only.example\"],\"portRanges\":[{\"low\":1,\"high\":2}]}",
			   &c, err, sizeof(err)) && c.n_dsts == 0 && c.n_skipped == 1 &&
		   icpt_to_kernel(&c, 1, "x", 0, &k) == -1,
	   "hostname-only config parses but has nothing for the kernel");
	icpt_cfg_free(&c);

	static const struct {
		const char *json, *want;
	} bad[] = {
		{ "", "invalid JSON" },
		{ "[]", "not a JSON object" },
		{ "{\"addresses\":[\"10.0.0.0/8\"],\"portRanges\":[{\"low\":1}]}", "protocols" },
		{ "{\"protocols\":[\"sctp\"],\"addresses\":[\"10.0.0.0/8\"],\"portRanges\":[{\"low\":1}]}", "protocols[0]" },
		{ "{\"protocols\":[],\"addresses\":[\"10.0.0.0/8\"],\"portRanges\":[{\"low\":1}]}", "protocols: empty" },
		{ "{\"protocols\":[\"tcp\"],\"portRanges\":[{\"low\":1}]}", "addresses: missing" },
		{ "{\"protocols\":[\"tcp\"],\"addresses\":[],\"portRanges\":[{\"low\":1}]}", "addresses: empty" },
		{ "{\"protocols\":[\"tcp\"],\"addresses\":[\"10.0.0.0/40\"],\"portRanges\":[{\"low\":1}]}", "addresses[0]" },
		{ "{\"protocols\":[\"tcp\"],\"addresses\":[\"10.0.0.256\"],\"portRanges\":[{\"low\":1}]}", "addresses[0]" },
		{ "{\"protocols\":[\"tcp\"],\"addresses\":[\"bad host!\"],\"portRanges\":[{\"low\":1}]}", "addresses[0]" },
		{ "{\"protocols\":[\"tcp\"],\"addresses\":[7],\"portRanges\":[{\"low\":1}]}", "addresses[0]" },
		{ "{\"protocols\":[\"tcp\"],\"addresses\":[\"10.0.0.0/8\"]}", "portRanges" },
		{ "{\"protocols\":[\"tcp\"],\"addresses\":[\"10.0.0.0/8\"],\"portRanges\":[{\"low\":5,\"high\":4}]}", "low 5 > high 4" },
		{ "{\"protocols\":[\"tcp\"],\"addresses\":[\"10.0.0.0/8\"],\"portRanges\":[{\"low\":1,\"high\":65536}]}", "high" },
		{ "{\"protocols\":[\"tcp\"],\"addresses\":[\"10.0.0.0/8\"],\"portRanges\":[{\"low\":-1}]}", "low" },
		{ "{\"protocols\":[\"tcp\"],\"addresses\":[\"10.0.0.0/8\"],\"portRanges\":[{\"low\":1.5}]}", "low" },
		{ "{\"protocols\":[\"tcp\"],\"addresses\":[\"10.0.0.0/8\"],\"portRanges\":[{\"low\":1e300}]}", "low" },
		{ "{\"protocols\":[\"tcp\"],\"addresses\":[\"10.0.0.0/8\"],\"portRanges\":[{\"low\":-1e19}]}", "low" },
		{ "{\"protocols\":[\"tcp\"],\"addresses\":[\"10.0.0.0/8\"],\"portRanges\":[{\"low\":NaN}]}", "low" },
		{ "{\"protocols\":[\"tcp\"],\"addresses\":[\"10.0.0.0/8\"],\"portRanges\":[{\"low\":1}],\"allowedSourceAddresses\":[\"host.example\"]}", "allowedSourceAddresses[0]" },
		{ "{\"protocols\":[\"tcp\"],\"addresses\":[\"10.0.0.0/8\"],\"portRanges\":[{\"low\":1}],\"dialOptions\":{\"identity\":5}}", "dialOptions.identity" },
		{ "{\"protocols\":[\"tcp\"],\"addresses\":[\"10.0.0.0/8\"],\"portRanges\":[{\"low\":1}],\"dialOptions\":{\"connectTimeoutSeconds\":\"5\"}}", "connectTimeoutSeconds" },
		{ "{\"protocols\":[\"tcp\"],\"addresses\":[\"10.0.0.0/8\"],\"portRanges\":[{\"low\":1}],\"sourceIp\":[]}", "sourceIp" },
		{ "{\"protocols\":[\"tcp\"],\"addresses\":[\"10.0.0.0/8\"],\"portRanges\":[{\"low\":1}]} x", "trailing" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = icpt_cfg_parse(bad[i].json, &c, err, sizeof(err));

		ok(rc == -1 && strstr(err, bad[i].want), "bad intercept.v1 %zu refused: %s", i, err);
	}
	/* 257 prefixes: over the kernel's per-intercept limit */
	char *big = malloc(20000);
	size_t o = (size_t)sprintf(big, "{\"protocols\":[\"udp\"],\"portRanges\":[{\"low\":1}],\"addresses\":[");

	for (int i = 0; i < 257; i++)
		o += (size_t)sprintf(big + o, "%s\"10.%d.%d.0/24\"", i ? "," : "", i / 256, i % 256);
	sprintf(big + o, "]}");
	ok(icpt_cfg_parse(big, &c, err, sizeof(err)) == -1 && strstr(err, "more than 256"), "257 prefixes refused: %s",
	   err);
	free(big);
	icpt_kernel_name("12345", 9, kn);
	ok(!strcmp(kn, "svc9-12345"), "all-digit service name gets a prefix (%s)", kn);
	char longname[100];

	memset(longname, 'a', 80);
	longname[80] = 0;
	icpt_kernel_name(longname, 4, kn);
	ok(strlen(kn) < SIPOVL_NAME_MAXLEN && !strncmp(kn, "svc4-aaaa", 9), "long service name shortened");
}

static void t_app_data(void)
{
	struct app_data a;
	char err[CFG_ERRLEN];
	const char *j = "{\"dst_protocol\":\"tcp\",\"dst_ip\":\"10.2.0.2\",\"dst_port\":5060,\"extra\":{\"x\":1}}";

	ok(!app_data_parse(j, strlen(j), &a, err, sizeof(err)) && !strcmp(a.dst_port, "5060") &&
		   !strcmp(a.dst_ip, "10.2.0.2") && !a.source_addr[0],
	   "numeric port accepted, unknown keys ignored (%s)", err);
	ok(!app_data_parse(NULL, 0, &a, err, sizeof(err)) && !a.dst_ip[0], "no app_data: empty");
	static const struct {
		const char *json, *want;
	} bad[] = {
		{ "not json", "invalid JSON" },
		{ "\"str\"", "not a JSON object" },
		{ "{\"dst_ip\":5}", "dst_ip" },
		{ "{\"dst_port\":70000}", "dst_port" },
		{ "{\"dst_ip\":\"1234567890123456789012345678901234567890123456789\"}", "longer" },
		{ "{\"source_addr\":\"a\\u0000b\"}", "source_addr" },
		{ "{\"dst_ip\":\"10.0.0.1\"", "truncated" },
		{ "{\"dst_ip\":\"10.0.0.1\"}{}", "trailing" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(app_data_parse(bad[i].json, strlen(bad[i].json), &a, err, sizeof(err)) == -1 &&
			   strstr(err, bad[i].want),
		   "bad app_data %zu refused: %s", i, err);
	/* a length that cuts the JSON short is honoured (no reading past it) */
	ok(app_data_parse("{\"dst_ip\":\"1\"}XXXX", 14, &a, err, sizeof(err)) == 0 && !strcmp(a.dst_ip, "1"),
	   "explicit length honoured");
}

static const char *HOST_FWD =
	"{\"forwardProtocol\":true,\"allowedProtocols\":[\"udp\",\"tcp\"],\"forwardAddress\":true,"
	"\"allowedAddresses\":[\"10.2.0.0/24\",\"fd02::/64\",\"*.sip.example\"],"
	"\"forwardAddressTranslations\":[{\"from\":\"10.2.0.128\",\"to\":\"192.168.7.0\",\"prefixLength\":25}],"
	"\"forwardPort\":true,\"allowedPortRanges\":[{\"low\":5060,\"high\":5061},{\"low\":7222,\"high\":7422}],"
	"\"allowedSourceAddresses\":[\"10.1.0.0/16\",\"fd01::/32\"],"
	"\"listenOptions\":{\"bindUsingEdgeIdentity\":true,\"cost\":7,\"precedence\":\"required\",\"maxConnections\":2,"
	"\"connectTimeout\":\"2500ms\"}}";

static int compute(const struct host_cfg *h, const char *adj, struct host_target *t, char *err)
{
	struct app_data a;

	if (adj && app_data_parse(adj, strlen(adj), &a, err, CFG_ERRLEN))
		return -2;
	return host_compute(h, adj ? &a : NULL, t, err, CFG_ERRLEN);
}

static void t_host(void)
{
	struct host_cfg h;
	struct host_target t;
	char err[CFG_ERRLEN], b[64], b2[64];

	ok(!host_cfg_parse(HOST_FWD, &h, err, sizeof(err)), "forwarding host.v1 parses (%s)", err);
	ok(h.fwd_proto && h.protos == 3 && h.fwd_addr && h.n_allowed_addrs == 2 && h.n_allowed_hostnames == 1 &&
		   h.n_xlats == 1 && h.fwd_port && h.n_allowed_ports == 2 && h.n_allowed_srcs == 2,
	   "all lists");
	ok(h.bind_using_edge_identity && h.cost == 7 && h.precedence == 1 && h.max_connections == 2 &&
		   h.connect_timeout_ms == 2500,
	   "listenOptions");
	char tid[64], unk[64];

	ok(!host_listen_identity(&h, &GW_B, tid, sizeof(tid), unk, sizeof(unk)) && !strcmp(tid, "gw-b"),
	   "bindUsingEdgeIdentity binds as the tunneler name");

	ok(!compute(&h, "{\"dst_protocol\":\"udp\",\"dst_ip\":\"10.2.0.2\",\"dst_port\":\"5060\",\"source_addr\":\"10.1.0.2:40000\"}",
		    &t, err) &&
		   t.proto == IPPROTO_UDP && !strcmp(cfg_fmt_sa(&t.dst, b, sizeof(b)), "10.2.0.2:5060") && t.has_src &&
		   !strcmp(cfg_fmt_sa(&t.src, b2, sizeof(b2)), "10.1.0.2:40000"),
	   "forwarded udp with the caller's source: %s from %s (%s)", b, b2, err);
	ok(!compute(&h, "{\"dst_protocol\":\"tcp\",\"dst_ip\":\"10.2.0.2\",\"dst_port\":\"7300\"}", &t, err) &&
		   t.proto == IPPROTO_TCP && !t.has_src && cfg_sa_port(&t.dst) == 7300,
	   "no source_addr: own address");
	ok(!compute(&h, "{\"dst_protocol\":\"tcp\",\"dst_ip\":\"10.2.0.200\",\"dst_port\":\"5060\"}", &t, err) &&
		   !strcmp(cfg_fmt_ip(&t.dst, b, sizeof(b)), "192.168.7.72"),
	   "forwardAddressTranslations: 10.2.0.200 -> %s", b);
	ok(!compute(&h, "{\"dst_protocol\":\"tcp\",\"dst_ip\":\"10.2.0.100\",\"dst_port\":\"5060\"}", &t, err) &&
		   !strcmp(cfg_fmt_ip(&t.dst, b, sizeof(b)), "10.2.0.100"),
	   "outside the translation: unchanged");
	ok(!compute(&h, "{\"dst_protocol\":\"udp\",\"dst_ip\":\"fd02::9\",\"dst_port\":\"7222\",\"source_addr\":\"[fd01::2]:7300\"}",
		    &t, err) && t.dst.ss_family == AF_INET6 && t.has_src,
	   "IPv6 with source (%s)", err);

	static const struct {
		const char *adj, *want;
	} refuse[] = {
		{ NULL, "no dst_protocol" },
		{ "{\"dst_ip\":\"10.2.0.2\",\"dst_port\":\"5060\"}", "no dst_protocol" },
		{ "{\"dst_protocol\":\"icmp\",\"dst_ip\":\"10.2.0.2\",\"dst_port\":\"5060\"}", "allowedProtocols" },
		{ "{\"dst_protocol\":\"udp\",\"dst_ip\":\"10.3.0.2\",\"dst_port\":\"5060\"}", "not in allowedAddresses" },
		{ "{\"dst_protocol\":\"udp\",\"dst_ip\":\"10.2.0.2\",\"dst_port\":\"5062\"}", "not in allowedPortRanges" },
		{ "{\"dst_protocol\":\"udp\",\"dst_ip\":\"10.2.0.2\",\"dst_port\":\"50a\"}", "invalid dst_port" },
		{ "{\"dst_protocol\":\"udp\",\"dst_ip\":\"10.2.0.2\"}", "no dst_port" },
		{ "{\"dst_protocol\":\"udp\",\"dst_port\":\"5060\"}", "no dst_ip" },
		{ "{\"dst_protocol\":\"udp\",\"dst_hostname\":\"a.other.example\",\"dst_port\":\"5060\"}", "not in allowedAddresses" },
		{ "{\"dst_protocol\":\"udp\",\"dst_ip\":\"10.2.0.x\",\"dst_port\":\"5060\"}", "invalid dst_ip" },
		{ "{\"dst_protocol\":\"udp\",\"dst_ip\":\"10.2.0.2\",\"dst_port\":\"5060\",\"source_addr\":\"10.9.0.2:1\"}", "not in allowedSourceAddresses" },
		{ "{\"dst_protocol\":\"udp\",\"dst_ip\":\"10.2.0.2\",\"dst_port\":\"5060\",\"source_addr\":\"bogus\"}", "invalid source_addr" },
		{ "{\"dst_protocol\":\"udp\",\"dst_ip\":\"10.2.0.2\",\"dst_port\":\"5060\",\"source_addr\":\"[fd01::2]:1\"}", "different families" },
	};
	for (size_t i = 0; i < sizeof(refuse) / sizeof(refuse[0]); i++)
		ok(compute(&h, refuse[i].adj, &t, err) == -1 && strstr(err, refuse[i].want), "refused %zu: %s", i, err);
	host_cfg_free(&h);

	ok(!host_cfg_parse("{\"protocol\":\"tcp\",\"address\":\"127.0.0.1\",\"port\":8080}", &h, err, sizeof(err)) &&
		   !compute(&h, NULL, &t, err) && t.proto == IPPROTO_TCP &&
		   !strcmp(cfg_fmt_sa(&t.dst, b, sizeof(b)), "127.0.0.1:8080") && h.max_connections == 3 &&
		   h.connect_timeout_ms == 5000,
	   "fixed target without app_data, defaults");
	ok(compute(&h, "{\"source_addr\":\"10.1.0.2\"}", &t, err) == -1 && strstr(err, "no allowedSourceAddresses"),
	   "source_addr without allowedSourceAddresses refused: %s", err);
	ok(!compute(&h, "{\"dst_protocol\":\"udp\",\"dst_ip\":\"10.9.9.9\",\"dst_port\":\"1\"}", &t, err) &&
		   t.proto == IPPROTO_TCP && cfg_sa_port(&t.dst) == 8080,
	   "fixed config ignores the dialer's destination");
	host_cfg_free(&h);
	ok(!host_cfg_parse("{\"protocol\":\"udp\",\"address\":\"sip.internal\",\"port\":5060,"
			   "\"listenOptions\":{\"identity\":\"$tunneler_id.name-sip\",\"connectTimeoutSeconds\":9}}",
			   &h, err, sizeof(err)) &&
		   !compute(&h, NULL, &t, err) && !strcmp(t.dst_host, "sip.internal") && t.dst_port == 5060 &&
		   h.connect_timeout_ms == 9000 &&
		   !host_listen_identity(&h, &GW_B, tid, sizeof(tid), unk, sizeof(unk)) && !strcmp(tid, "gw-b-sip"),
	   "fixed hostname target, identity template (%s)", tid);
	host_cfg_free(&h);

	static const struct {
		const char *json, *want;
	} bad[] = {
		{ "{\"address\":\"1.2.3.4\",\"port\":1}", "neither protocol" },
		{ "{\"protocol\":\"sctp\",\"address\":\"1.2.3.4\",\"port\":1}", "protocol" },
		{ "{\"forwardProtocol\":true,\"address\":\"1.2.3.4\",\"port\":1}", "allowedProtocols" },
		{ "{\"protocol\":\"tcp\",\"port\":1}", "neither address" },
		{ "{\"protocol\":\"tcp\",\"forwardAddress\":true,\"port\":1}", "allowedAddresses: missing" },
		{ "{\"protocol\":\"tcp\",\"address\":\"1.2.3.400\",\"port\":1}", "address" },
		{ "{\"protocol\":\"tcp\",\"address\":\"*.x\",\"port\":1}", "address" },
		{ "{\"protocol\":\"tcp\",\"address\":\"1.2.3.4\"}", "neither port" },
		{ "{\"protocol\":\"tcp\",\"address\":\"1.2.3.4\",\"port\":0}", "port" },
		{ "{\"protocol\":\"tcp\",\"address\":\"1.2.3.4\",\"forwardPort\":true}", "allowedPortRanges" },
		{ "{\"protocol\":\"tcp\",\"forwardAddress\":true,\"allowedAddresses\":[\"10.0.0.0/8\"],\"forwardAddressTranslations\":[{\"from\":\"10.0.0.0\",\"to\":\"fd00::\",\"prefixLength\":8}],\"port\":1}", "forwardAddressTranslations[0]" },
		{ "{\"protocol\":\"tcp\",\"forwardAddress\":true,\"allowedAddresses\":[\"10.0.0.0/8\"],\"forwardAddressTranslations\":[{\"from\":\"10.0.0.0\",\"to\":\"11.0.0.0\",\"prefixLength\":33}],\"port\":1}", "forwardAddressTranslations[0]" },
		{ "{\"protocol\":\"tcp\",\"address\":\"1.2.3.4\",\"port\":1,\"allowedSourceAddresses\":[\"x.example\"]}", "allowedSourceAddresses[0]" },
		{ "{\"protocol\":\"tcp\",\"address\":\"1.2.3.4\",\"port\":1,\"listenOptions\":{\"precedence\":\"high\"}}", "precedence" },
		{ "{\"protocol\":\"tcp\",\"address\":\"1.2.3.4\",\"port\":1,\"listenOptions\":{\"cost\":70000}}", "cost" },
		{ "{\"protocol\":\"tcp\",\"address\":\"1.2.3.4\",\"port\":1,\"listenOptions\":{\"maxConnections\":0}}", "maxConnections" },
		{ "{\"protocol\":\"tcp\",\"address\":\"1.2.3.4\",\"port\":1,\"listenOptions\":{\"connectTimeout\":\"5 parsecs\"}}", "connectTimeout" },
		{ "{\"protocol\":\"tcp\",\"address\":\"1.2.3.4\",\"port\":1,\"listenOptions\":{\"bindUsingEdgeIdentity\":\"yes\"}}", "bindUsingEdgeIdentity" },
		{ "{\"protocol\":\"tcp\",\"address\":\"1.2.3.4\",\"port\":1,\"listenOptions\":[]}", "listenOptions" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(host_cfg_parse(bad[i].json, &h, err, sizeof(err)) == -1 && strstr(err, bad[i].want),
		   "bad host.v1 %zu refused: %s", i, err);
}

static void t_daemon_cfg(void)
{
	struct daemon_cfg d;
	char err[CFG_ERRLEN];

	daemon_cfg_defaults(&d);
	ok(d.log_level == 6 && d.udp_idle_ms == 60000 && d.memory_limit == 256ull << 20 && d.policy == 0 &&
		   d.tcp_idle_ms == 7200000u && d.tcp_half_closed_ms == 120000 && d.tcp_keepalive_s == 60,
	   "defaults");
	ok(!daemon_cfg_parse("{\"tcp_idle_timeout_s\":600,\"tcp_half_closed_timeout_s\":30,\"tcp_keepalive_s\":0}", &d,
			     err, sizeof(err)) &&
		   d.tcp_idle_ms == 600000 && d.tcp_half_closed_ms == 30000 && d.tcp_keepalive_s == 0,
	   "TCP flow bounds and keepalive (%s)", err);
	ok(d.calls_max == 1024 && d.calls_idle_ms == 3600000 && !d.sip_debug &&
		   !daemon_cfg_parse("{\"calls_max\":0,\"calls_idle_timeout_s\":60,\"sip_debug\":true}", &d, err, sizeof(err)) &&
		   d.calls_max == 0 && d.calls_idle_ms == 60000 && d.sip_debug,
	   "SIP view: calls_max 1024 and calls_idle_timeout_s 3600 by default; set (%s)", err);
	ok(d.sip_idle_ms == 3600000 && !daemon_cfg_parse("{\"sip_idle_timeout_s\":1800}", &d, err, sizeof(err)) &&
		   d.sip_idle_ms == 1800000,
	   "sip_idle_timeout_s: 3600 by default, 1800 set (%s)", err);
	ok(!daemon_cfg_parse("{\"identities\":[\"/etc/sipovld/a.json\",\"/etc/sipovld/b.json\"],\"name\":\"gw\","
			     "\"log_level\":\"debug\",\"udp_idle_timeout_s\":30,\"memory_limit_mb\":64,"
			     "\"control_socket\":\"/tmp/x.sock\",\"intercept_policy\":\"pass\",\"service_poll_s\":2}",
			     &d, err, sizeof(err)) &&
		   d.n_identities == 2 && !strcmp(d.identities[1], "/etc/sipovld/b.json") && !strcmp(d.name, "gw") &&
		   d.log_level == 7 && d.udp_idle_ms == 30000 && d.memory_limit == 64ull << 20 &&
		   !strcmp(d.ctl_socket, "/tmp/x.sock") && d.policy == 1 && d.svc_poll_ms == 2000,
	   "every key (%s)", err);
	ok(!daemon_cfg_parse("{\"intercept_policy\":\"reject\"}", &d, err, sizeof(err)) &&
		   d.policy == SIPOVL_POLICY_REJECT &&
		   !daemon_cfg_parse("{\"intercept_policy\":\"drop\"}", &d, err, sizeof(err)) &&
		   d.policy == SIPOVL_POLICY_DROP,
	   "intercept_policy: reject, drop (%s)", err);
	ok(d.workers == 0 && !daemon_cfg_parse("{\"workers\":4}", &d, err, sizeof(err)) && d.workers == 4 &&
		   !daemon_cfg_parse("{\"workers\":64}", &d, err, sizeof(err)) && d.workers == 64 &&
		   !daemon_cfg_parse("{\"workers\":1}", &d, err, sizeof(err)) && d.workers == 1 &&
		   !daemon_cfg_parse("{\"workers\":\"auto\"}", &d, err, sizeof(err)) && d.workers == 0,
	   "workers: \"auto\" (0) by default, 4, 64, 1, \"auto\" (%s)", err);
	{
		const char *why = "x";
		unsigned n;

		n = daemon_cfg_workers(0, 4, false, false, &why);
		ok(n == 4 && !why, "workers auto on 4 usable CPUs: 4 (%u, %s)", n, why ? why : "-");
		n = daemon_cfg_workers(0, 1, false, false, &why);
		ok(n == 1 && !why, "workers auto on 1 CPU: 1 (%u)", n);
		n = daemon_cfg_workers(0, 200, false, false, &why);
		ok(n == 64 && why && strstr(why, "64"), "workers auto on 200 CPUs: 64, said why (%u, %s)", n,
		   why ? why : "-");
		n = daemon_cfg_workers(0, 0, false, false, &why);
		ok(n == 1, "workers auto with no CPU count (sysconf failed): 1 (%u)", n);
		n = daemon_cfg_workers(0, 8, true, false, &why);
		ok(n == 1 && why && strstr(why, "no kernel"), "workers auto with --no-kernel on 8 CPUs: 1, said why (%u, %s)",
		   n, why ? why : "-");
		n = daemon_cfg_workers(0, 8, false, true, &why);
		ok(n == 1 && why && strstr(why, "endpoint"), "workers auto in endpoint mode: 1, said why (%u)", n);
		n = daemon_cfg_workers(3, 8, false, true, &why);
		ok(n == 1 && why, "workers 3 in endpoint mode: 1, said why (%u)", n);
		n = daemon_cfg_workers(3, 1, true, false, &why);
		ok(n == 3 && !why, "workers 3 (set) with --no-kernel on 1 CPU: 3, as set (%u)", n);
		n = daemon_cfg_workers(1, 8, false, false, &why);
		ok(n == 1 && !why, "workers 1 (set) on 8 CPUs: 1 (%u)", n);
	}
	ok(d.ziti_auth == 1 && !daemon_cfg_parse("{\"ziti_auth\":\"oidc\"}", &d, err, sizeof(err)) && d.ziti_auth == 2 &&
		   !daemon_cfg_parse("{\"ziti_auth\":\"legacy\"}", &d, err, sizeof(err)) && d.ziti_auth == 0 &&
		   !daemon_cfg_parse("{\"ziti_auth\":\"auto\"}", &d, err, sizeof(err)) && d.ziti_auth == 1,
	   "ziti_auth: auto by default, oidc, legacy, auto (%s)", err);
	ok(d.token_refresh_ms == 0 && !daemon_cfg_parse("{\"ziti_token_refresh_s\":30}", &d, err, sizeof(err)) &&
		   d.token_refresh_ms == 30000,
	   "ziti_token_refresh_s: 0 (half the token's lifetime) by default, 30 (%s)", err);
	ok(!daemon_cfg_parse("{\"identity\":\"/x.json\",\"log_level\":4}", &d, err, sizeof(err)) &&
		   d.n_identities == 1 && d.log_level == 4 && !strcmp(d.name, "gw"),
	   "merging: a later file overrides only its keys");
	daemon_cfg_free(&d);
	static const char *bad[] = {
		"{\"identites\":[\"x\"]}", "{\"identities\":[]}", "{\"identities\":[\"\"]}", "{\"log_level\":\"loud\"}",
		"{\"udp_idle_timeout_s\":0}", "{\"memory_limit_mb\":\"many\"}", "{\"intercept_policy\":\"maybe\"}",
		"[1]", "{\"memory_limit_bytes\":4095}", "{\"service_poll_s\":0}", "{\"udp_idle_timeout_s\":86401}",
		"{\"identities\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\",\"10\",\"11\",\"12\",\"13\",\"14\",\"15\",\"16\",\"17\"]}",
		"{\"identities\":[\"a.json\",7]}",
		"{\"tcp_idle_timeout_s\":0}", "{\"tcp_half_closed_timeout_s\":86401}", "{\"tcp_keepalive_s\":-1}",
		"{\"tcp_keepalive_s\":7201}", "{\"workers\":0}", "{\"workers\":65}", "{\"workers\":\"all\"}", "{\"ziti_auth\":\"kerberos\"}", "{\"ziti_auth\":1}",
		"{\"ziti_token_refresh_s\":0}", "{\"ziti_token_refresh_s\":86401}",
		"{\"calls_max\":-1}", "{\"calls_idle_timeout_s\":0}", "{\"sip_debug\":1}",
		"{\"metrics_listen\":\"127.0.0.1\"}", "{\"metrics_listen\":\"localhost:9477\"}",
		"{\"metrics_listen\":\"127.0.0.1:0\"}", "{\"metrics_listen\":9477}", "{\"rtp_oneway_s\":0}",
		"{\"primary_address\":\"10.2.0.1/24\"}", "{\"primary_address\":\"gw.example\"}",
		"{\"primary_address\":167903233}", "{\"sip_idle_timeout_s\":0}", "{\"sip_idle_timeout_s\":86401}",
		"{\"sip_idle_timeout_s\":\"long\"}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		daemon_cfg_defaults(&d);
		ok(daemon_cfg_parse(bad[i], &d, err, sizeof(err)) == -1 && err[0], "bad sipovld.conf %zu: %s", i, err);
		daemon_cfg_free(&d);
	}
	daemon_cfg_defaults(&d);
	ok(!daemon_cfg_parse("{\"memory_limit_bytes\":4096,\"udp_idle_timeout_s\":86400}", &d, err, sizeof(err)) &&
		   d.memory_limit == 4096 && d.udp_idle_ms == 86400000u,
	   "smallest memory bound (4096 bytes, for tests), longest UDP idle timeout (%s)", err);
	daemon_cfg_free(&d);
	daemon_cfg_defaults(&d);
	ok(!d.has_metrics && d.rtp_oneway_ms == 5000, "no metrics endpoint by default; one-way audio after 5 s");
	ok(!daemon_cfg_parse("{\"metrics_listen\":\"127.0.0.1:9477\",\"rtp_oneway_s\":3}", &d, err, sizeof(err)) &&
		   d.has_metrics && cfg_sa_port(&d.metrics_addr) == 9477 && d.rtp_oneway_ms == 3000,
	   "metrics_listen 127.0.0.1:9477, rtp_oneway_s 3 (%s)", err);
	ok(!daemon_cfg_parse("{\"metrics_listen\":\"[::1]:9477\"}", &d, err, sizeof(err)) &&
		   d.metrics_addr.ss_family == AF_INET6, "metrics_listen [::1]:9477");
	ok(!d.has_primary, "no primary_address by default");
	ok(!daemon_cfg_parse("{\"primary_address\":\"10.2.0.1\"}", &d, err, sizeof(err)) && d.has_primary &&
		   d.primary.family == AF_INET && d.primary.len == 32 && !memcmp(d.primary.addr, "\x0a\x02\x00\x01", 4),
	   "primary_address 10.2.0.1 (%s)", err);
	ok(!daemon_cfg_parse("{\"primary_address\":\"fd02::1\"}", &d, err, sizeof(err)) && d.has_primary &&
		   d.primary.family == AF_INET6 && d.primary.len == 128, "primary_address fd02::1 (%s)", err);
	ok(!daemon_cfg_parse("{\"primary_address\":null}", &d, err, sizeof(err)) && !d.has_primary,
	   "primary_address null: none (%s)", err);
	daemon_cfg_defaults(&d);
	ok(daemon_cfg_parse("{\"primary_address\":\"10.2.0.0/24\"}", &d, err, sizeof(err)) == -1 &&
		   strstr(err, "primary_address") && !d.has_primary,
	   "primary_address given a prefix: refused, naming the key (%s)", err);
	daemon_cfg_free(&d);
	ok(cfg_log_level("warning") == 4 && cfg_log_level("err") == 3 && cfg_log_level("7") == 7 &&
		   cfg_log_level("8") == -1,
	   "log levels");
}

static struct sockaddr_storage sa(const char *ip, unsigned port)
{
	struct sockaddr_storage ss = { 0 };

	if (strchr(ip, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		inet_pton(AF_INET6, ip, &s6->sin6_addr);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		inet_pton(AF_INET, ip, &s4->sin_addr);
	}
	return ss;
}

/*
 * One UDP stream with two circuits: gateway 1 dialed X for phone A -> phone B and hosts Y
 * (B -> A); gateway 2 dialed Y for B -> A and hosts X. Whatever the addresses, both must
 * keep the same circuit: gateway 1 keeps its dialed one exactly when gateway 2 keeps its
 * hosted one.
 */
static void t_flow_pair(void)
{
	static const char *const pairs[][4] = {
		{ "10.1.0.10", "4000", "10.2.0.20", "5000" }, { "10.2.0.20", "4000", "10.1.0.10", "5000" },
		{ "192.168.1.5", "10000", "192.168.1.5", "10002" }, { "10.0.0.255", "1", "10.0.1.0", "1" },
		{ "fd01::10", "4000", "fd02::20", "4000" }, { "fd02::1", "65535", "fd01::ffff", "1" },
	};
	unsigned agree = 0, dialed1 = 0, unchecked_kept = 0, both_hosted = 0;

	for (size_t k = 0; k < sizeof(pairs) / sizeof(pairs[0]); k++) {
		struct sockaddr_storage a = sa(pairs[k][0], (unsigned)atoi(pairs[k][1]));
		struct sockaddr_storage b = sa(pairs[k][2], (unsigned)atoi(pairs[k][3]));
		bool g1_keeps_dialed = flow_pair_dialed_survives(&a, &b, true); /* gateway 1: dialed A -> B */
		bool g2_keeps_dialed = flow_pair_dialed_survives(&b, &a, true); /* gateway 2: dialed B -> A */

		agree += g1_keeps_dialed != g2_keeps_dialed;
		dialed1 += g1_keeps_dialed;
		/*
		 * A hosted flow whose dialer's claim to the far address was not checked (no
		 * source_map): an identity allowed to dial the hosted service, not the owner of
		 * that address, may have dialed it. Its circuit must never take the intercepted
		 * stream's traffic (the dialed flow is kept), on either side, whatever the pair.
		 */
		unchecked_kept += flow_pair_dialed_survives(&a, &b, false) + flow_pair_dialed_survives(&b, &a, false);
		/* one side checked: never both sides moving to their hosted circuit (both closed) */
		both_hosted += !flow_pair_dialed_survives(&a, &b, true) && !flow_pair_dialed_survives(&b, &a, false);
		both_hosted += !flow_pair_dialed_survives(&a, &b, false) && !flow_pair_dialed_survives(&b, &a, true);
	}
	ok(agree == 6, "flow pair: both gateways keep the same one of the two circuits (%u of 6 pairs)", agree);
	ok(dialed1 > 0 && dialed1 < 6, "flow pair: the circuit kept depends on the pair, not on the side (%u of 6 from gateway 1)",
	   dialed1);
	ok(unchecked_kept == 12, "flow pair: a hosted flow whose dialer was not checked never takes the dialed stream (dialed kept %u of 12)",
	   unchecked_kept);
	ok(!both_hosted, "flow pair: one side checked, the other not: never both moving to the hosted circuit (%u of 12)",
	   both_hosted);
	struct sockaddr_storage x = sa("10.1.0.10", 4000), y = sa("10.1.0.10", 4000);

	ok(!flow_pair_cmp(&x, &y) && flow_pair_cmp(&x, &(struct sockaddr_storage){ .ss_family = AF_INET6 }) < 0,
	   "flow pair: endpoint order is total (equal endpoints compare equal, IPv4 before IPv6)");
}

/* "ip_pool" and "endpoint" (cfg_pool.c): parsed, and every bad form refused naming the key */
static void t_pool_cfg(void)
{
	struct daemon_cfg d;
	char err[400];
	int rc;
	static const char *const good =
		"{\"ip_pool\":{\"name\":\"voip-ips\",\"range\":\"100.127.0.0/24\",\"service\":\"voip-ips-pool\","
		"\"lease_file\":\"/var/lib/sipovl/voip-ips.leases\"},"
		"\"endpoint\":{\"pool\":\"voip-ips\",\"service\":\"voip-ips-pool\",\"interface\":\"sipovl0\","
		"\"state_file\":\"/var/lib/sipovl/endpoint\"}}";
	static const struct {
		const char *json, *want;
	} bad[] = {
		{ "{\"ip_pool\":[]}", "ip_pool: expected an object" },
		{ "{\"ip_pool\":{\"range\":\"100.127.0.0/24\",\"service\":\"s\",\"lease_file\":\"/l\"}}", "ip_pool.name: required" },
		{ "{\"ip_pool\":{\"name\":\"voip ips\",\"range\":\"100.127.0.0/24\",\"service\":\"s\",\"lease_file\":\"/l\"}}",
		  "ip_pool.name: expected a pool name" },
		{ "{\"ip_pool\":{\"name\":\"p\",\"range\":\"100.127.0.0/33\",\"service\":\"s\",\"lease_file\":\"/l\"}}",
		  "ip_pool.range: expected a CIDR" },
		{ "{\"ip_pool\":{\"name\":\"p\",\"service\":\"s\",\"lease_file\":\"/l\"}}", "ip_pool.range: expected a CIDR" },
		{ "{\"ip_pool\":{\"name\":\"p\",\"range\":\"10.0.0.0/8\",\"service\":\"s\",\"lease_file\":\"/l\"}}",
		  "ip_pool.range: pool p: range must be an IPv4 /16 to /30" },
		{ "{\"ip_pool\":{\"name\":\"p\",\"range\":\"100.127.0.0/24\",\"lease_file\":\"/l\"}}", "ip_pool.service: required" },
		{ "{\"ip_pool\":{\"name\":\"p\",\"range\":\"100.127.0.0/24\",\"service\":\"\",\"lease_file\":\"/l\"}}",
		  "ip_pool.service: expected a non-empty string" },
		{ "{\"ip_pool\":{\"name\":\"p\",\"range\":\"100.127.0.0/24\",\"service\":\"s\"}}", "ip_pool.lease_file: required" },
		{ "{\"ip_pool\":{\"name\":\"p\",\"range\":\"100.127.0.0/24\",\"service\":\"s\",\"lease_file\":\"leases\"}}",
		  "ip_pool.lease_file: expected an absolute path" },
		{ "{\"ip_pool\":{\"name\":\"p\",\"range\":\"100.127.0.0/24\",\"service\":\"s\",\"lease_file\":\"/l\",\"trust_caller\":1}}",
		  "ip_pool.trust_caller: expected true or false" },
		{ "{\"ip_pool\":{\"name\":\"p\",\"range\":\"100.127.0.0/24\",\"service\":\"s\",\"lease_file\":\"/l\",\"idle_timeout_s\":0}}",
		  "ip_pool.idle_timeout_s: expected seconds, 1 to 3600" },
		{ "{\"ip_pool\":{\"name\":\"p\",\"range\":\"100.127.0.0/24\",\"service\":\"s\",\"lease_file\":\"/l\",\"idle_timeout_s\":\"5\"}}",
		  "ip_pool.idle_timeout_s: expected seconds, 1 to 3600" },
		{ "{\"ip_pool\":{\"name\":\"p\",\"range\":\"100.127.0.0/24\",\"service\":\"s\",\"lease_file\":\"/l\",\"lease_s\":1}}",
		  "ip_pool.lease_s: expected seconds, 0 (never expire) or 2 to 31536000" },
		{ "{\"ip_pool\":{\"name\":\"p\",\"range\":\"100.127.0.0/24\",\"service\":\"s\",\"lease_file\":\"/l\",\"lease_s\":-1}}",
		  "ip_pool.lease_s: expected seconds" },
		{ "{\"ip_pool\":{\"name\":\"p\",\"range\":\"100.127.0.0/24\",\"service\":\"s\",\"lease_file\":\"/l\",\"ranges\":[]}}",
		  "ip_pool: unknown key \"ranges\"" },
		{ "{\"ip_pool\":{\"name\":\"p\",\"range\":\"100.127.0.0/24\",\"service\":\"s\",\"lease_file\":\"/l\",\"exclusive_check_s\":4}}",
		  "ip_pool.exclusive_check_s: expected seconds, 5 to 3600, or 0" },
		{ "{\"ip_pool\":{\"name\":\"p\",\"range\":\"100.127.0.0/24\",\"service\":\"s\",\"lease_file\":\"/l\",\"exclusive_check_s\":true}}",
		  "ip_pool.exclusive_check_s: expected seconds" },
		{ "{\"endpoint\":\"voip-ips\"}", "endpoint: expected an object" },
		{ "{\"endpoint\":{\"service\":\"s\",\"interface\":\"sipovl0\",\"state_file\":\"/s\"}}", "endpoint.pool: required" },
		{ "{\"endpoint\":{\"pool\":\"$x\",\"service\":\"s\",\"interface\":\"sipovl0\",\"state_file\":\"/s\"}}",
		  "endpoint.pool: expected a pool name" },
		{ "{\"endpoint\":{\"pool\":\"p\",\"interface\":\"sipovl0\",\"state_file\":\"/s\"}}", "endpoint.service: required" },
		{ "{\"endpoint\":{\"pool\":\"p\",\"service\":\"s\",\"state_file\":\"/s\"}}", "endpoint.interface: required" },
		{ "{\"endpoint\":{\"pool\":\"p\",\"service\":\"s\",\"interface\":\"a-very-long-ifname\",\"state_file\":\"/s\"}}",
		  "endpoint.interface: expected an interface name" },
		{ "{\"endpoint\":{\"pool\":\"p\",\"service\":\"s\",\"interface\":\"a/b\",\"state_file\":\"/s\"}}",
		  "endpoint.interface: expected an interface name" },
		{ "{\"endpoint\":{\"pool\":\"p\",\"service\":\"s\",\"interface\":\"sipovl0\"}}", "endpoint.state_file: required" },
		{ "{\"endpoint\":{\"pool\":\"p\",\"service\":\"s\",\"interface\":\"sipovl0\",\"state_file\":\"s\"}}",
		  "endpoint.state_file: expected an absolute path" },
		{ "{\"endpoint\":{\"pool\":\"p\",\"service\":\"s\",\"interface\":\"sipovl0\",\"state_file\":\"/s\",\"addr\":1}}",
		  "endpoint: unknown key \"addr\"" },
		{ "{\"endpoint\":{\"pool\":\"p\",\"service\":\"s\",\"interface\":\"sipovl0\",\"state_file\":\"/s\",\"lease_s\":1}}",
		  "endpoint.lease_s: expected seconds, 0 (never expire) or 2 to 31536000" },
		{ "{\"endpoint\":{\"pool\":\"p\",\"service\":\"s\",\"interface\":\"sipovl0\",\"state_file\":\"/s\",\"lease_s\":\"60\"}}",
		  "endpoint.lease_s: expected seconds" },
		{ "{\"endpoint\":{\"pool\":\"p\",\"service\":\"s\",\"interface\":\"sipovl0\",\"state_file\":\"/s\",\"renew_s\":60,\"lease_s\":120}}",
		  "endpoint.lease_s: 120 s is too short for renew_s 60 s" },
	};

	daemon_cfg_defaults(&d);
	rc = daemon_cfg_parse(good, &d, err, sizeof(err));
	ok(!rc && d.has_pool_server && d.has_endpoint && !strcmp(d.pool_server.name, "voip-ips") &&
		   d.pool_server.range.len == 24 && !strcmp(d.pool_server.service, "voip-ips-pool") &&
		   !strcmp(d.pool_server.lease_file, "/var/lib/sipovl/voip-ips.leases") && !d.pool_server.trust_caller &&
		   d.pool_server.idle_ms == 10000 && d.pool_server.lease_s == 86400 && d.pool_server.excl_ms == 30000 &&
		   !strcmp(d.endpoint.pool, "voip-ips") && !strcmp(d.endpoint.ifname, "sipovl0") &&
		   !strcmp(d.endpoint.state_file, "/var/lib/sipovl/endpoint") && d.endpoint.lease_s == 86400,
	   "ip_pool and endpoint parsed (%s)", rc ? err : "ok");
	daemon_cfg_free(&d);
	daemon_cfg_defaults(&d);
	rc = daemon_cfg_parse("{\"endpoint\":{\"pool\":\"p\",\"service\":\"s\",\"interface\":\"sipovl0\",\"state_file\":\"/s\","
			      "\"renew_s\":60,\"lease_s\":121}}", &d, err, sizeof(err));
	ok(!rc && d.endpoint.lease_s == 121, "endpoint.lease_s 121 with renew_s 60 (withdrawn after 60.5 s: more than "
	   "renew_s) accepted (%s)", rc ? err : "ok");
	daemon_cfg_free(&d);
	daemon_cfg_defaults(&d);
	rc = daemon_cfg_parse("{\"endpoint\":{\"pool\":\"p\",\"service\":\"s\",\"interface\":\"sipovl0\",\"state_file\":\"/s\","
			      "\"lease_s\":0}}", &d, err, sizeof(err));
	ok(!rc && d.endpoint.lease_s == 0, "endpoint.lease_s 0 (the pool server's leases never expire) accepted (%s)",
	   rc ? err : "ok");
	daemon_cfg_free(&d);
	daemon_cfg_defaults(&d);
	rc = daemon_cfg_parse("{\"ip_pool\":{\"name\":\"p\",\"range\":\"100.127.0.0/24\",\"service\":\"s\",\"lease_file\":\"/l\","
			      "\"exclusive_check_s\":0}}", &d, err, sizeof(err));
	ok(!rc && d.pool_server.excl_ms == 0, "ip_pool.exclusive_check_s 0 (not checked) accepted (%s)", rc ? err : "ok");
	daemon_cfg_free(&d);
	daemon_cfg_defaults(&d);
	ok(!d.has_pool_server && !d.has_endpoint, "no ip_pool, no endpoint by default");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		daemon_cfg_defaults(&d);
		err[0] = 0;
		rc = daemon_cfg_parse(bad[i].json, &d, err, sizeof(err));
		ok(rc == -1 && strstr(err, bad[i].want), "ip-pool config refused: %s", err);
		daemon_cfg_free(&d);
	}
}

static void t_source_map(void)
{
	struct daemon_cfg d;
	struct sockaddr_storage a, b6;
	socklen_t l;
	char err[400], who[256];
	bool unchecked;

	cfg_parse_hostport("10.1.0.5", &a, &l);
	cfg_parse_hostport("[fd02::9]", &b6, &l);
	daemon_cfg_defaults(&d);
	ok(!cfg_source_allowed(&d, NULL, NULL, "anyone", &a, who, sizeof(who), &unchecked, err, sizeof(err)) &&
		   unchecked,
	   "no source_map: every source allowedSourceAddresses admits, unchecked");
	ok(!daemon_cfg_parse("{\"source_map\":{\"site-a\":[\"10.1.0.0/16\"],\"id-b\":[\"10.2.0.0/16\",\"fd02::/48\"]}}",
			     &d, err, sizeof(err)) &&
		   d.has_src_map && d.n_src_map == 2 && !d.src_trust_caller,
	   "source_map parsed, source_identity router by default (%s)", err);
	ok(!cfg_source_allowed(&d, "id-a", "site-a", "site-b", &a, who, sizeof(who), &unchecked, err, sizeof(err)) &&
		   !unchecked && !strcmp(who, "site-a"),
	   "router-authenticated name site-a may claim 10.1.0.5 (a lying caller id is ignored)");
	ok(cfg_source_allowed(&d, "id-b", "site-b", "site-a", &a, who, sizeof(who), &unchecked, err, sizeof(err)) &&
		   strstr(err, "not in the source_map of identity 'site-b' (authenticated by the router)"),
	   "router-authenticated site-b (by id) claiming 10.1.0.5 refused although its caller id says site-a: %s", err);
	ok(!cfg_source_allowed(&d, "id-b", NULL, NULL, &b6, who, sizeof(who), &unchecked, err, sizeof(err)),
	   "router identity id only (id-b) matches by id: fd02::9 allowed");
	ok(cfg_source_allowed(&d, NULL, NULL, "site-a", &a, who, sizeof(who), &unchecked, err, sizeof(err)) &&
		   strstr(err, "the router did not authenticate the dialer"),
	   "no router identity, source_identity router: refused (%s)", err);
	ok(cfg_source_allowed(&d, "x", "nobody", NULL, &a, who, sizeof(who), &unchecked, err, sizeof(err)) &&
		   strstr(err, "identity 'nobody' (authenticated by the router) has no source_map entry"),
	   "an identity without an entry is refused: %s", err);
	ok(!daemon_cfg_parse("{\"source_identity\":\"caller\"}", &d, err, sizeof(err)) && d.src_trust_caller &&
		   !cfg_source_allowed(&d, NULL, NULL, "site-a", &a, who, sizeof(who), &unchecked, err, sizeof(err)) &&
		   cfg_source_allowed(&d, NULL, NULL, "id-b", &a, who, sizeof(who), &unchecked, err, sizeof(err)) &&
		   strstr(err, "caller id, not authenticated by the router"),
	   "source_identity caller: the caller id decides (%s)", err);
	daemon_cfg_free(&d);
	static const char *bad[] = {
		"{\"source_map\":[]}", "{\"source_map\":{\"a\":\"10.0.0.0/8\"}}", "{\"source_map\":{\"a\":[\"pbx.example\"]}}",
		"{\"source_map\":{\"\":[\"10.0.0.0/8\"]}}", "{\"source_map\":{\"a\":[\"10.0.0.0/33\"]}}",
		"{\"source_identity\":\"anyone\"}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		daemon_cfg_defaults(&d);
		ok(daemon_cfg_parse(bad[i], &d, err, sizeof(err)) == -1 && err[0], "bad source map %zu: %s", i, err);
		daemon_cfg_free(&d);
	}
}

int main(void)
{
	printf("TAP version 13\n");
	t_prefixes();
	t_templates();
	t_templates_ident();
	t_host_hostname();
	t_intercept();
	t_app_data();
	t_host();
	t_daemon_cfg();
	t_flow_pair();
	t_source_map();
	t_pool_cfg();
	printf("1..%d\n", n);
	if (failed)
		printf("# %d of %d failed\n", failed, n);
	return failed ? 1 : 0;
}
