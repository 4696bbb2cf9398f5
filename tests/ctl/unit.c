// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of sipovlctl's parsers and formatters (ctl/parse.c). TAP 13 on
 * stdout; exit 0 when every point passed. Built with ASan/UBSan.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "ctl/parse.h"

static int tap_n, tap_failed;

static void __attribute__((format(printf, 2, 3))) tap(bool ok, const char *fmt, ...)
{
	va_list ap;

	tap_n++;
	if (!ok)
		tap_failed++;
	printf("%sok %d - ", ok ? "" : "not ", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static void diag(const char *what, const char *got, const char *want)
{
	printf("#   %s\n#     got:  %s\n#     want: %s\n", what, got, want);
}

/* The parser must fail with exactly @want. */
static void expect_err(int ret, const struct ctl_err *e, const char *want,
		       const char *desc)
{
	bool ok = ret != 0 && !strcmp(e->msg, want);

	tap(ok, "%s", desc);
	if (!ok)
		diag(ret ? "message" : "unexpectedly accepted", ret ? e->msg : "(ok)",
		     want);
}

static void expect_str(const char *got, const char *want, const char *desc)
{
	bool ok = !strcmp(got, want);

	tap(ok, "%s", desc);
	if (!ok)
		diag("value", got, want);
}

/* ---- prefixes --------------------------------------------------------- */

static void t_prefix_ok(const char *in, const char *canon)
{
	struct sipovl_prefix p;
	struct ctl_err e = { "" };
	char buf[PREFIX_STRLEN];
	char desc[128];
	int ret = parse_prefix(in, &p, &e);

	snprintf(desc, sizeof(desc), "prefix %s -> %s", in, canon);
	if (ret) {
		tap(false, "%s", desc);
		diag("error", e.msg, canon);
		return;
	}
	expect_str(fmt_prefix(buf, &p), canon, desc);
}

static void t_prefix_err(const char *in, const char *want)
{
	struct sipovl_prefix p;
	struct ctl_err e = { "" };
	char desc[160];

	snprintf(desc, sizeof(desc), "prefix \"%s\" rejected", in);
	expect_err(parse_prefix(in, &p, &e), &e, want, desc);
}

static void test_prefixes(void)
{
	struct sipovl_prefix p;
	struct ctl_err e;

	t_prefix_ok("10.2.0.0/16", "10.2.0.0/16");
	t_prefix_ok("0.0.0.0/0", "0.0.0.0/0");
	t_prefix_ok("10.2.3.4/32", "10.2.3.4/32");
	t_prefix_ok("10.2.3.4", "10.2.3.4/32");
	t_prefix_ok("255.255.255.255/32", "255.255.255.255/32");
	t_prefix_ok("fd00:2::/48", "fd00:2::/48");
	t_prefix_ok("FD00:0002:0000::/48", "fd00:2::/48");
	t_prefix_ok("::/0", "::/0");
	t_prefix_ok("::1/128", "::1/128");
	t_prefix_ok("2001:db8::1", "2001:db8::1/128");
	t_prefix_ok("10.0.0.0/08", "10.0.0.0/8");

	tap(parse_prefix("fd00::/64", &p, &e) == 0 && p.family == AF_INET6 &&
	    p.len == 64 && p.addr[0] == 0xfd && p.addr[15] == 0,
	    "prefix fields: family, length, address bytes");

	t_prefix_err("10.2.0.0/33", "bad prefix \"10.2.0.0/33\": prefix length must be 0-32");
	t_prefix_err("fd00::/129", "bad prefix \"fd00::/129\": prefix length must be 0-128");
	t_prefix_err("10.2.0.1/16",
		     "bad prefix \"10.2.0.1/16\": host bits set (did you mean 10.2.0.0/16?)");
	t_prefix_err("fd00::1/64",
		     "bad prefix \"fd00::1/64\": host bits set (did you mean fd00::/64?)");
	t_prefix_err("0.0.0.1/0",
		     "bad prefix \"0.0.0.1/0\": host bits set (did you mean 0.0.0.0/0?)");
	t_prefix_err("10.2.0/16",
		     "bad prefix \"10.2.0/16\": not an IPv4 or IPv6 address");
	t_prefix_err("10.2.0.256", 
		     "bad prefix \"10.2.0.256\": not an IPv4 or IPv6 address or prefix");
	t_prefix_err("example.com/8",
		     "bad prefix \"example.com/8\": not an IPv4 or IPv6 address");
	t_prefix_err("10.0.0.0/", "bad prefix \"10.0.0.0/\": missing prefix length after \"/\"");
	t_prefix_err("10.0.0.0/x", "bad prefix \"10.0.0.0/x\": prefix length must be 0-32");
	t_prefix_err("10.0.0.0/-1", "bad prefix \"10.0.0.0/-1\": prefix length must be 0-32");
	t_prefix_err("10.0.0.0/8/8", "bad prefix \"10.0.0.0/8/8\": prefix length must be 0-32");
	t_prefix_err("", "bad prefix \"\": empty");
	t_prefix_err("fe80::1%eth0/128",
		     "bad prefix \"fe80::1%eth0/128\": not an IPv4 or IPv6 address");
	t_prefix_err("10.0.0.0/ 8", "bad prefix \"10.0.0.0/ 8\": prefix length must be 0-32");
}

static void test_prefix_lists(void)
{
	struct sipovl_prefix *v = NULL;
	struct ctl_err e = { "" };
	uint32_t n = 0, i;
	char *big;
	size_t o;
	int ret;

	ret = parse_prefix_list("10.2.0.0/16,fd00:2::/48,192.168.1.1", "destination",
				1024, &v, &n, &e);
	tap(ret == 0 && n == 3 && v[0].family == AF_INET && v[1].family == AF_INET6 &&
	    v[2].len == 32, "mixed IPv4/IPv6 list of 3");
	free(v);

	ret = parse_prefix_list("10.0.0.0/8,,11.0.0.0/8", "destination", 1024, &v, &n, &e);
	expect_err(ret, &e, "bad destination list \"10.0.0.0/8,,11.0.0.0/8\": empty element",
		   "empty element in a list");
	ret = parse_prefix_list("10.0.0.0/8,", "destination", 1024, &v, &n, &e);
	expect_err(ret, &e, "bad destination list \"10.0.0.0/8,\": empty element",
		   "trailing comma");
	ret = parse_prefix_list("", "source", 1024, &v, &n, &e);
	expect_err(ret, &e, "bad source list \"\": empty", "empty list");
	ret = parse_prefix_list("10.0.0.0/8,10.0.0.0/8", "destination", 1024, &v, &n, &e);
	expect_err(ret, &e,
		   "bad destination list \"10.0.0.0/8,10.0.0.0/8\": \"10.0.0.0/8\" listed twice",
		   "duplicate prefix");
	ret = parse_prefix_list("10.0.0.0/8,10.0.0.1/8", "destination", 1024, &v, &n, &e);
	expect_err(ret, &e,
		   "bad prefix \"10.0.0.1/8\": host bits set (did you mean 10.0.0.0/8?)",
		   "bad element names the element");

	/* 1024 is the limit; 1025 fails before parsing. */
	big = malloc(1025 * 20);
	for (i = 0, o = 0; i < 1025; i++)
		o += (size_t)sprintf(big + o, "%s10.%u.%u.0/24", i ? "," : "",
				     i / 256, i % 256);
	ret = parse_prefix_list(big, "destination", 1024, &v, &n, &e);
	tap(ret != 0 && strstr(e.msg, ": 1025 elements, at most 1024") &&
	    strstr(e.msg, "\"...: 1025") && strlen(e.msg) < 200,
	    "1025 prefixes rejected, token cut short in the message");
	if (ret == 0)
		free(v);
	big[o - strlen(",10.4.0.0/24")] = '\0';
	ret = parse_prefix_list(big, "destination", 1024, &v, &n, &e);
	tap(ret == 0 && n == 1024, "1024 prefixes accepted");
	free(v);
	free(big);
}

/* ---- ports, protocols, ids, names ------------------------------------ */

static void t_port_err(const char *in, const char *want)
{
	struct sipovl_portrange r;
	struct ctl_err e = { "" };
	char desc[160];

	snprintf(desc, sizeof(desc), "port range \"%s\" rejected", in);
	expect_err(parse_port_range(in, &r, &e), &e, want, desc);
}

static void test_ports(void)
{
	struct sipovl_portrange r, *v;
	struct ctl_err e = { "" };
	char buf[16];
	uint16_t port;
	uint32_t n;
	int ret;

	tap(parse_port_range("5060", &r, &e) == 0 && r.low == 5060 && r.high == 5060,
	    "port 5060");
	tap(parse_port_range("0-65535", &r, &e) == 0 && r.low == 0 && r.high == 65535,
	    "port range 0-65535");
	tap(parse_port_range("0", &r, &e) == 0 && r.low == 0 && r.high == 0, "port 0");
	tap(parse_port_range("7000-7000", &r, &e) == 0 && r.low == 7000 && r.high == 7000,
	    "range 7000-7000");
	expect_str(fmt_portrange(buf, &r), "7000", "single-port range printed as PORT");
	r.low = 10000;
	r.high = 20000;
	expect_str(fmt_portrange(buf, &r), "10000-20000", "range printed as LOW-HIGH");

	t_port_err("7000-6000", "bad port range \"7000-6000\": low > high");
	t_port_err("70000", "bad port range \"70000\": port must be 0-65535");
	t_port_err("1-65536", "bad port range \"1-65536\": port must be 0-65535");
	t_port_err("", "bad port range \"\": empty");
	t_port_err("sip", "bad port range \"sip\": expected PORT or LOW-HIGH (0-65535)");
	t_port_err("-5", "bad port range \"-5\": expected PORT or LOW-HIGH (0-65535)");
	t_port_err("5-", "bad port range \"5-\": expected PORT or LOW-HIGH (0-65535)");
	t_port_err("1-2-3", "bad port range \"1-2-3\": expected PORT or LOW-HIGH (0-65535)");
	t_port_err("+5", "bad port range \"+5\": expected PORT or LOW-HIGH (0-65535)");
	t_port_err("99999999999999999999999",
		   "bad port range \"99999999999999999999999\": port must be 0-65535");

	ret = parse_port_list("5060,5061,10000-20000", &v, &n, &e);
	tap(ret == 0 && n == 3 && v[2].low == 10000 && v[2].high == 20000,
	    "port list of 3");
	free(v);
	ret = parse_port_list("5060,5060", &v, &n, &e);
	expect_err(ret, &e, "bad port list \"5060,5060\": \"5060\" listed twice",
		   "duplicate port range");

	tap(parse_port("65535", &port, &e) == 0 && port == 65535, "single port 65535");
	expect_err(parse_port("65536", &port, &e), &e,
		   "bad port \"65536\": must be 0-65535", "single port 65536 rejected");
}

static void test_protos_policy_id_name(void)
{
	char name[SIPOVL_NAME_MAXLEN], buf[32], long_name[80];
	struct ctl_err e = { "" };
	uint32_t protos, id;
	uint8_t pol, l4;

	tap(parse_protos("udp,tcp", &protos, &e) == 0 &&
	    protos == (SIPOVL_PROTO_TCP | SIPOVL_PROTO_UDP), "proto udp,tcp");
	expect_str(fmt_protos(buf, protos), "tcp,udp", "protocols printed tcp,udp");
	tap(parse_protos("udp", &protos, &e) == 0 && protos == SIPOVL_PROTO_UDP,
	    "proto udp");
	expect_err(parse_protos("icmp", &protos, &e), &e,
		   "bad protocol \"icmp\": expected tcp or udp", "proto icmp rejected");
	expect_err(parse_protos("udp,udp", &protos, &e), &e,
		   "bad protocol list \"udp,udp\": \"udp\" listed twice", "proto udp,udp");
	expect_err(parse_protos("udp,", &protos, &e), &e,
		   "bad protocol list \"udp,\": empty element", "proto udp,");
	expect_err(parse_protos("UDP", &protos, &e), &e,
		   "bad protocol \"UDP\": expected tcp or udp", "protocols are lower case");
	expect_err(parse_l4proto("sctp", &l4, &e), &e,
		   "bad protocol \"sctp\": expected tcp or udp", "lookup proto sctp");

	tap(parse_policy("pass", &pol, &e) == 0 && pol == SIPOVL_POLICY_PASS, "policy pass");
	tap(parse_policy("drop", &pol, &e) == 0 && pol == SIPOVL_POLICY_DROP, "policy drop");
	tap(parse_policy("reject", &pol, &e) == 0 && pol == SIPOVL_POLICY_REJECT, "policy reject");
	expect_str(fmt_policy(SIPOVL_POLICY_REJECT), "reject", "policy reject printed reject");
	expect_str(fmt_policy(3), "unknown", "an unknown policy printed unknown");
	expect_err(parse_policy("accept", &pol, &e), &e,
		   "bad policy \"accept\": expected drop, pass or reject", "policy accept rejected");
	expect_err(parse_policy("REJECT", &pol, &e), &e,
		   "bad policy \"REJECT\": expected drop, pass or reject", "policies are lower case");

	tap(parse_id("4294967295", &id, &e) == 0 && id == 4294967295U, "id 4294967295");
	expect_err(parse_id("0", &id, &e), &e, "bad id \"0\": must be 1-4294967295", "id 0");
	expect_err(parse_id("4294967296", &id, &e), &e,
		   "bad id \"4294967296\": must be 1-4294967295", "id 2^32");
	expect_err(parse_id("-1", &id, &e), &e, "bad id \"-1\": must be 1-4294967295", "id -1");
	expect_err(parse_id("0x10", &id, &e), &e, "bad id \"0x10\": must be 1-4294967295",
		   "id 0x10");

	tap(parse_name("sip-eu", name, &e) == 0 && !strcmp(name, "sip-eu"), "name sip-eu");
	tap(parse_name("my service", name, &e) == 0, "name with a space (quoted in files)");
	memset(long_name, 'a', 63);
	long_name[63] = '\0';
	tap(parse_name(long_name, name, &e) == 0 && strlen(name) == 63, "63-byte name");
	long_name[63] = 'a';
	long_name[64] = '\0';
	expect_err(parse_name(long_name, name, &e), &e,
		   "bad name \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\": longer than 63 bytes",
		   "64-byte name rejected");
	expect_err(parse_name("", name, &e), &e, "bad name \"\": empty", "empty name");
	expect_err(parse_name("123", name, &e), &e,
		   "bad name \"123\": all digits (that is an id)", "all-digit name");
	expect_err(parse_name("-x", name, &e), &e,
		   "bad name \"-x\": must not start with \"-\"", "name starting with -");
	tap(parse_name("sip-\xc3\xbc-\xe2\x82\xac", name, &e) == 0, "UTF-8 name");
	expect_err(parse_name("a\xff", name, &e), &e, "bad name \"a\\xff\": not valid UTF-8",
		   "invalid UTF-8 name (escaped in the message)");
	expect_err(parse_name("\xc0\xaf", name, &e), &e,
		   "bad name \"\\xc0\\xaf\": not valid UTF-8", "overlong UTF-8 rejected");
	expect_err(parse_name("\xed\xa0\x80", name, &e), &e,
		   "bad name \"\\xed\\xa0\\x80\": not valid UTF-8", "UTF-8 surrogate rejected");
	expect_err(parse_name("-\xc3\xbc", name, &e), &e,
		   "bad name \"-\xc3\xbc\": must not start with \"-\"",
		   "valid UTF-8 shown as is in messages");
	{
		char out[64];

		utf8_sanitize(out, sizeof(out), "a\xff\xc3\xbc");
		expect_str(out, "a\xef\xbf\xbd\xc3\xbc", "utf8_sanitize: invalid byte -> U+FFFD");
	}
	expect_err(parse_name("a\tb", name, &e), &e,
		   "bad name \"a\\x09b\": control characters are not allowed",
		   "name with a tab (escaped in the message)");
}

/* ---- intercept arguments ---------------------------------------------- */

static int args(const char *line, bool full, struct sipovl_intercept *in,
		struct ctl_err *e)
{
	char *copy = strdup(line), *argv[64], *s, *save = NULL;
	int argc = 0, ret;

	for (s = strtok_r(copy, " ", &save); s && argc < 64; s = strtok_r(NULL, " ", &save))
		argv[argc++] = s;
	ret = parse_intercept_args(argc, argv, full, in, e);
	free(copy);
	return ret;
}

static void t_args_err(const char *line, const char *want)
{
	struct sipovl_intercept in;
	struct ctl_err e = { "" };
	char desc[200];

	snprintf(desc, sizeof(desc), "args \"%s\" rejected", line);
	expect_err(args(line, true, &in, &e), &e, want, desc);
}

static void test_intercept_args(void)
{
	struct sipovl_intercept in;
	struct ctl_err e = { "" };
	int ret;

	ret = args("sip-eu proto udp,tcp addr 10.2.0.0/16,fd00:2::/48 port 5060-5061 "
		   "src 10.1.0.0/16 policy pass id 7", true, &in, &e);
	tap(ret == 0 && in.id == 7 && (in.present & SIPOVL_I_ID) &&
	    !strcmp(in.name, "sip-eu") && in.protos == 3 && in.n_dsts == 2 &&
	    in.n_ports == 1 && in.ports[0].low == 5060 && in.ports[0].high == 5061 &&
	    in.n_srcs == 1 && in.policy == SIPOVL_POLICY_PASS,
	    "full intercept with every keyword");
	sipovl_intercept_release(&in);

	ret = args("x proto udp addr 10.0.0.0/8 port 1", true, &in, &e);
	tap(ret == 0 && !(in.present & SIPOVL_I_ID) && (in.present & SIPOVL_I_POLICY) &&
	    in.policy == SIPOVL_POLICY_DROP && in.n_srcs == 0,
	    "defaults: no id, policy drop, no sources");
	sipovl_intercept_release(&in);

	t_args_err("", "missing intercept name");
	t_args_err("x proto udp addr 10.0.0.0/8 port 1 foo bar",
		   "unknown keyword \"foo\": expected id, proto, addr, port, src or policy");
	t_args_err("x proto udp addr 10.0.0.0/8 port",
		   "missing value after \"port\"");
	t_args_err("x proto udp addr 10.0.0.0/8 port 1 proto tcp",
		   "keyword \"proto\" given twice");
	t_args_err("x addr 10.0.0.0/8 port 1", "missing \"proto\": expected tcp, udp or tcp,udp");
	t_args_err("x proto udp port 1",
		   "missing \"addr\": expected destination prefixes (10.2.0.0/16,fd00:2::/48)");
	t_args_err("x proto udp addr 10.0.0.0/8",
		   "missing \"port\": expected port ranges (5060,10000-20000)");
	t_args_err("x proto udp addr 10.2.0.0/33 port 1",
		   "bad prefix \"10.2.0.0/33\": prefix length must be 0-32");
	t_args_err("x proto udp addr 10.0.0.0/8 port 7000-6000",
		   "bad port range \"7000-6000\": low > high");
	t_args_err("x proto udp addr 10.0.0.0/8 port 1 src 10.1.0.1/16",
		   "bad prefix \"10.1.0.1/16\": host bits set (did you mean 10.1.0.0/16?)");
	t_args_err("x proto udp addr 10.0.0.0/8 port 1 policy allow",
		   "bad policy \"allow\": expected drop, pass or reject");
	t_args_err("x proto udp addr 10.0.0.0/8 port 1 id 0",
		   "bad id \"0\": must be 1-4294967295");
	t_args_err("42 proto udp addr 10.0.0.0/8 port 1",
		   "bad name \"42\": all digits (that is an id)");
}

/* ---- tokenizer and files ---------------------------------------------- */

static void test_tokenizer(void)
{
	char line[] = "intercept \"a \\\"b\\\" \\\\c\" id 5 # comment \"unterminated";
	char l2[] = "intercept \"abc";
	char l3[] = "intercept ab\"c";
	char l4[] = "  # only a comment";
	char l5[] = "intercept \"a\\x41\"";
	char l6[] = "intercept \"a\\n\"";
	char l7[] = "intercept \"ab\"c";
	char **tok = NULL;
	struct ctl_err e = { "" };
	int cap = 0, n;

	n = tokenize_line(line, &tok, &cap, &e);
	tap(n == 4 && !strcmp(tok[1], "a \"b\" \\c") && !strcmp(tok[3], "5"),
	    "quoted token with escapes, comment ignored");
	expect_err(tokenize_line(l2, &tok, &cap, &e) < 0, &e,
		   "unterminated quoted string", "unterminated quote");
	expect_err(tokenize_line(l3, &tok, &cap, &e) < 0, &e,
		   "unexpected '\"' inside a word (quote the whole word)", "quote inside a word");
	tap(tokenize_line(l4, &tok, &cap, &e) == 0, "comment-only line has no tokens");
	n = tokenize_line(l5, &tok, &cap, &e);
	tap(n == 2 && !strcmp(tok[1], "aA"), "\\xNN escape");
	expect_err(tokenize_line(l6, &tok, &cap, &e) < 0, &e,
		   "bad escape in quoted string: expected \\\", \\\\ or \\xNN", "bad escape");
	expect_err(tokenize_line(l7, &tok, &cap, &e) < 0, &e,
		   "unexpected text after closing '\"'", "text after a closing quote");
	free(tok);
}

static int cfg_parse(const char *text, struct ctl_config *cfg, struct ctl_err *e)
{
	return parse_config_mem(text, strlen(text), "t.conf", cfg, e);
}

static void t_cfg_err(const char *text, const char *want, const char *desc)
{
	struct ctl_config cfg;
	struct ctl_err e = { "" };

	expect_err(cfg_parse(text, &cfg, &e), &e, want, desc);
}

static char *canon(const struct ctl_config *cfg)
{
	char *buf = NULL;
	size_t len, i;
	FILE *f = open_memstream(&buf, &len);

	if (cfg->has_sources)
		print_sources_config(f, cfg->sources, cfg->n_sources);
	for (i = 0; i < cfg->n; i++)
		print_intercept_config(f, &cfg->v[i]);
	fclose(f);
	return buf;
}

static void test_config(void)
{
	static const char good[] =
		"# sipovl intercepts\n"
		"\n"
		"sources 10.1.0.0/16,fd00:1::/48\n"
		"intercept sip-eu proto udp,tcp addr 10.2.0.0/16,fd00:2::/48 port 5060-5061 src 10.1.0.0/16\n"
		"  intercept rtp id 1 proto udp addr 10.3.0.0/16 port 10000-20000 policy pass  # media\r\n"
		"intercept \"my service\" proto tcp addr 192.0.2.1 port 443\n"
		"intercept \"#hash\" id 9 proto tcp addr ::/0 port 0-65535";
	static const char want[] =
		"sources 10.1.0.0/16,fd00:1::/48\n"
		"intercept sip-eu id 2 proto tcp,udp addr 10.2.0.0/16,fd00:2::/48 port 5060-5061 src 10.1.0.0/16 policy drop\n"
		"intercept rtp id 1 proto udp addr 10.3.0.0/16 port 10000-20000 policy pass\n"
		"intercept \"my service\" id 3 proto tcp addr 192.0.2.1/32 port 443 policy drop\n"
		"intercept \"#hash\" id 9 proto tcp addr ::/0 port 0-65535 policy drop\n";
	struct ctl_config cfg, cfg2;
	struct ctl_err e = { "" };
	char *text, *text2;
	int ret;

	ret = cfg_parse(good, &cfg, &e);
	tap(ret == 0 && cfg.n == 4 && cfg.has_sources && cfg.n_sources == 2,
	    "config: comments, blank lines, CRLF, quoting, no final newline");
	if (ret) {
		diag("error", e.msg, "(ok)");
		return;
	}
	tap(cfg.lines[0] == 4 && cfg.lines[1] == 5 && cfg.lines[3] == 7,
	    "config: line numbers recorded");
	text = canon(&cfg);
	expect_str(text, want, "config: canonical form; missing ids get the lowest free ids");
	ret = cfg_parse(text, &cfg2, &e);
	text2 = ret ? strdup("") : canon(&cfg2);
	expect_str(text2, text, "config: canonical form round-trips byte for byte");
	free(text);
	free(text2);
	ctl_config_release(&cfg);
	if (!ret)
		ctl_config_release(&cfg2);

	ret = cfg_parse("", &cfg, &e);
	tap(ret == 0 && cfg.n == 0 && !cfg.has_sources, "empty file: empty table");
	ret = cfg_parse("sources none\n", &cfg, &e);
	tap(ret == 0 && cfg.has_sources && cfg.n_sources == 0, "sources none");
	ctl_config_release(&cfg);

	t_cfg_err("intercept a proto udp addr 10.0.0.0/8 port 1\n"
		  "intercept b proto udp addr 10.2.0.0/33 port 1\n",
		  "t.conf:2: bad prefix \"10.2.0.0/33\": prefix length must be 0-32",
		  "config: bad prefix names file:line and token");
	t_cfg_err("intercept a id 4 proto udp addr 10.0.0.0/8 port 1\n#\n"
		  "intercept b id 4 proto udp addr 10.0.0.0/8 port 1\n",
		  "t.conf:3: duplicate id 4 (also on line 1)", "config: duplicate id");
	t_cfg_err("intercept a proto udp addr 10.0.0.0/8 port 1\n"
		  "intercept a proto udp addr 10.0.0.0/8 port 1\n",
		  "t.conf:2: duplicate name \"a\" (also on line 1)", "config: duplicate name");
	t_cfg_err("sources none\nsources 10.0.0.0/8\n",
		  "t.conf:2: second \"sources\" line (first on line 1)", "config: two sources lines");
	t_cfg_err("sources\n", "t.conf:1: missing value after \"sources\": expected prefixes or none",
		  "config: sources without value");
	t_cfg_err("sources 10.0.0.0/8 11.0.0.0/8\n",
		  "t.conf:1: unexpected \"11.0.0.0/8\" after the sources list",
		  "config: sources with two words");
	t_cfg_err("\n\nroute 10.0.0.0/8\n",
		  "t.conf:3: unknown keyword \"route\": expected intercept or sources",
		  "config: unknown line keyword");
	t_cfg_err("intercept a proto udp addr 10.0.0.0/8 port 1 polcy drop\n",
		  "t.conf:1: unknown keyword \"polcy\": expected id, proto, addr, port, src or policy",
		  "config: misspelt keyword");
	t_cfg_err("intercept \"a\n", "t.conf:1: unterminated quoted string",
		  "config: unterminated quote");
	t_cfg_err("intercept\n", "t.conf:1: missing intercept name", "config: intercept without name");
	t_cfg_err("intercept a proto udp addr 10.0.0.0/8 port 1\nsources 10.0.0.1/8\n",
		  "t.conf:2: bad prefix \"10.0.0.1/8\": host bits set (did you mean 10.0.0.0/8?)",
		  "config: bad transparent source");

	{
		static const char nul[] = "intercept a proto udp\0 addr 10.0.0.0/8 port 1\n";

		ret = parse_config_mem(nul, sizeof(nul) - 1, "t.conf", &cfg, &e);
		expect_err(ret, &e, "t.conf:1: NUL byte in line", "config: NUL byte");
	}

	/* Explicit ids around implicit ones: implicit take the gaps. */
	ret = cfg_parse("intercept a proto udp addr 10.0.0.0/8 port 1\n"
			"intercept b id 1 proto udp addr 10.0.0.0/8 port 2\n"
			"intercept c proto udp addr 10.0.0.0/8 port 3\n"
			"intercept d id 3 proto udp addr 10.0.0.0/8 port 4\n"
			"intercept e proto udp addr 10.0.0.0/8 port 5\n", &cfg, &e);
	tap(ret == 0 && cfg.v[0].id == 2 && cfg.v[1].id == 1 && cfg.v[2].id == 4 &&
	    cfg.v[3].id == 3 && cfg.v[4].id == 5, "config: implicit ids fill gaps in file order");
	if (!ret)
		ctl_config_release(&cfg);
}

static void test_big_config(void)
{
	enum { N = 100000 };
	struct ctl_config cfg;
	struct ctl_err e = { "" };
	char *buf = NULL;
	size_t len, i;
	FILE *f = open_memstream(&buf, &len);
	bool ok;
	int ret;

	for (i = 0; i < N; i++)
		fprintf(f, "intercept svc-%zu id %zu proto udp addr 10.%zu.%zu.0/24 port %zu\n",
			i, i + 1, i / 256 % 256, i % 256, 1000 + i % 60000);
	fprintf(f, "intercept svc-77 proto udp addr 10.0.0.0/8 port 1\n");
	fclose(f);
	ret = parse_config_mem(buf, len, "big.conf", &cfg, &e);
	expect_err(ret, &e, "big.conf:100001: duplicate name \"svc-77\" (also on line 78)",
		   "100k-line file: duplicate name found with the right lines");
	buf[len - strlen("intercept svc-77 proto udp addr 10.0.0.0/8 port 1\n")] = '\0';
	ret = parse_config_mem(buf, strlen(buf), "big.conf", &cfg, &e);
	ok = ret == 0 && cfg.n == N && cfg.v[N - 1].id == N &&
	     !strcmp(cfg.v[N - 1].name, "svc-99999");
	tap(ok, "100k-line file parsed");
	if (!ret)
		ctl_config_release(&cfg);
	free(buf);
}

static void test_format(void)
{
	struct sipovl_intercept in;
	struct ctl_err e;
	char *buf = NULL;
	size_t len;
	FILE *f;

	if (args("weird\"name proto tcp addr 10.0.0.0/8 port 1", true, &in, &e)) {
		tap(false, "format: parse name with a quote");
		return;
	}
	in.id = 5;
	f = open_memstream(&buf, &len);
	print_intercept_config(f, &in);
	fclose(f);
	expect_str(buf, "intercept \"weird\\\"name\" id 5 proto tcp addr 10.0.0.0/8 port 1 policy drop\n",
		   "format: names with quotes are quoted and escaped");
	free(buf);
	sipovl_intercept_release(&in);

	if (args("r proto tcp,udp addr 10.0.0.0/8 port 5060 policy reject", true, &in, &e)) {
		tap(false, "format: parse policy reject");
		return;
	}
	in.id = 6;
	f = open_memstream(&buf, &len);
	print_intercept_config(f, &in);
	fclose(f);
	expect_str(buf, "intercept r id 6 proto tcp,udp addr 10.0.0.0/8 port 5060 policy reject\n",
		   "format: policy reject printed back");
	free(buf);
	sipovl_intercept_release(&in);

	f = open_memstream(&buf, &len);
	print_sources_config(f, NULL, 0);
	fclose(f);
	expect_str(buf, "sources none\n", "format: empty sources");
	free(buf);

	{
		char q[TOKQ_LEN], longtok[200];

		memset(longtok, 'x', 199);
		longtok[199] = '\0';
		tokq(q, longtok);
		tap(strlen(q) == 80 + 2 + 3 && !strcmp(q + 81, "\"..."),
		    "tokq cuts long tokens at 80 bytes");
	}
}

static void test_socket_format(void)
{
	struct sipovl_socket_info s = {
		.family = AF_INET, .protocol = IPPROTO_UDP, .port = 5060, .alive = true,
	};
	char *buf = NULL;
	size_t len;
	FILE *f;

	f = open_memstream(&buf, &len);
	sipovl_socket_print(f, &s);
	fclose(f);
	expect_str(buf, "socket inet udp port 5060 alive\n",
		   "socket format: a module without groups (no member attributes)");
	free(buf);

	s.family = AF_INET6;
	s.protocol = IPPROTO_TCP;
	s.alive = false;
	s.has_group = true;
	s.member = 2;
	s.members = 4;
	s.inode = 4294967301ULL;
	f = open_memstream(&buf, &len);
	sipovl_socket_print(f, &s);
	fclose(f);
	expect_str(buf, "socket inet6 tcp port 5060 closed member 2/4 inode 4294967301\n",
		   "socket format: a group member with its index, group size and inode");
	free(buf);
}

int main(void)
{
	printf("TAP version 13\n");
	test_prefixes();
	test_prefix_lists();
	test_ports();
	test_protos_policy_id_name();
	test_intercept_args();
	test_tokenizer();
	test_config();
	test_big_config();
	test_format();
	test_socket_format();
	printf("1..%d\n", tap_n);
	if (tap_failed)
		printf("# %d of %d failed\n", tap_failed, tap_n);
	return tap_failed ? 1 : 0;
}
