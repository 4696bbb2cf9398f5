// SPDX-License-Identifier: GPL-2.0
/*
 * sipovlctl: lookup: which intercept a packet matches.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "ctl/json.h"
#include "ctl/libsipovl.h"
#include "ctl/parse.h"
#include "ctl/sipovlctl.h"

/* ---- lookup ----------------------------------------------------------- */

static int do_lookup(const struct ctl *ctl, int argc, char **argv)
{
	enum { L_PROTO, L_SRC, L_DST, L_SPORT, L_DPORT, L_MAX };
	static const char *const kw[L_MAX] = { "proto", "src", "dst", "sport", "dport" };
	bool seen[L_MAX] = { false };
	struct sipovl_tuple t = { 0 };
	char name[SIPOVL_NAME_MAXLEN], q[TOKQ_LEN], q2[TOKQ_LEN];
	const char *src_tok = NULL, *dst_tok = NULL;
	uint16_t sfam = 0, dfam = 0;
	struct sipovl_nl *nl;
	struct ctl_err err;
	uint32_t id;
	int i, k, rc = 0;

	for (i = 0; i < argc; i += 2) {
		for (k = 0; k < L_MAX; k++)
			if (!strcmp(argv[i], kw[k]))
				break;
		if (k == L_MAX)
			return usage_err("unknown keyword %s: expected proto, src, dst, sport or dport",
					 tokq(q, argv[i]));
		if (seen[k])
			return usage_err("keyword %s given twice", tokq(q, argv[i]));
		seen[k] = true;
		if (i + 1 >= argc)
			return usage_err("missing value after %s", tokq(q, argv[i]));
		switch (k) {
		case L_PROTO:
			if (parse_l4proto(argv[i + 1], &t.protocol, &err))
				return parse_err(&err);
			break;
		case L_SRC:
			if (parse_addr(argv[i + 1], &sfam, t.src, &err))
				return parse_err(&err);
			src_tok = argv[i + 1];
			break;
		case L_DST:
			if (parse_addr(argv[i + 1], &dfam, t.dst, &err))
				return parse_err(&err);
			dst_tok = argv[i + 1];
			break;
		case L_SPORT:
			if (parse_port(argv[i + 1], &t.sport, &err))
				return parse_err(&err);
			t.has_sport = true;
			break;
		case L_DPORT:
			if (parse_port(argv[i + 1], &t.dport, &err))
				return parse_err(&err);
			break;
		}
	}
	for (k = 0; k < L_MAX; k++)
		if (!seen[k] && k != L_SPORT)
			return usage_err("missing \"%s\": usage: lookup proto tcp|udp src ADDR dst ADDR dport PORT [sport PORT]",
					 kw[k]);
	if (sfam != dfam)
		return usage_err("address family mismatch: src %s is %s, dst %s is %s",
				 tokq(q, src_tok), sfam == AF_INET ? "IPv4" : "IPv6",
				 tokq(q2, dst_tok), dfam == AF_INET ? "IPv4" : "IPv6");
	t.family = dfam;

	nl = nl_open(&rc);
	if (!nl)
		return rc;
	if (sipovl_lookup(nl, &t, &id, name)) {
		const struct sipovl_err *e = sipovl_error(nl);

		if (e->errnum == ENOENT && !e->no_family) {
			if (ctl->json)
				json_emit(stdout, json_object_new_object(), ctl->pretty);
			else
				printf("no match\n");
		} else {
			rc = nl_fail(e, "lookup", NULL);
		}
	} else if (ctl->json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "id", json_object_new_uint64(id));
		json_object_object_add(o, "name", json_name(name));
		json_emit(stdout, o, ctl->pretty);
	} else {
		printf("%u ", id);
		print_name_token(stdout, name);
		putchar('\n');
	}
	sipovl_close(nl);
	return rc;
}


const struct cmd lookup_cmds[] = {
	{ "TUPLE", NULL, do_lookup,
	  "proto tcp|udp src ADDR dst ADDR dport PORT [sport PORT]",
	  "Prints the intercept the kernel would match for this packet (\"ID NAME\"),\n"
	  "or \"no match\".\n" },
	{ NULL, NULL, NULL, NULL, NULL }
};
