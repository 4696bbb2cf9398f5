// SPDX-License-Identifier: GPL-2.0
/*
 * sipovlctl: canonical formatters of prefixes, port ranges, protocols, names
 * and intercepts (what the parsers of parse.c read back).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "ctl/parse.h"
#include "ctl/parse_int.h"

/* ---- formatting ------------------------------------------------------- */

const char *fmt_prefix(char buf[PREFIX_STRLEN], const struct sipovl_prefix *p)
{
	char a[INET6_ADDRSTRLEN];

	if ((p->family != AF_INET && p->family != AF_INET6) ||
	    !inet_ntop(p->family, p->addr, a, sizeof(a)))
		snprintf(a, sizeof(a), "?family%u", p->family);
	snprintf(buf, PREFIX_STRLEN, "%s/%u", a, p->len);
	return buf;
}

const char *fmt_portrange(char buf[16], const struct sipovl_portrange *r)
{
	if (r->low == r->high)
		snprintf(buf, 16, "%u", r->low);
	else
		snprintf(buf, 16, "%u-%u", r->low, r->high);
	return buf;
}

const char *fmt_protos(char buf[32], uint32_t protos)
{
	uint32_t rest = protos & ~(uint32_t)__SIPOVL_PROTO_ALL;
	size_t o = 0;

	buf[0] = '\0';
	if (protos & SIPOVL_PROTO_TCP)
		o += (size_t)snprintf(buf + o, 32 - o, "tcp");
	if (protos & SIPOVL_PROTO_UDP)
		o += (size_t)snprintf(buf + o, 32 - o, "%sudp", o ? "," : "");
	if (rest || !protos)
		snprintf(buf + o, 32 - o, "%s0x%x", o ? "," : "", rest);
	return buf;
}

const char *fmt_policy(uint8_t policy)
{
	switch (policy) {
	case SIPOVL_POLICY_DROP:
		return "drop";
	case SIPOVL_POLICY_PASS:
		return "pass";
	case SIPOVL_POLICY_REJECT:
		return "reject";
	}
	return "unknown";
}

void print_name_token(FILE *f, const char *name)
{
	bool quote = !*name || name[0] == '#';
	const char *s;

	for (s = name; *s && !quote; s++)
		if (is_space(*s) || *s == '"' || *s == '\\' ||
		    (unsigned char)*s < 0x20 || *s == 0x7f)
			quote = true;
	if (!quote) {
		fputs(name, f);
		return;
	}
	fputc('"', f);
	for (s = name; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

void print_prefix_list(FILE *f, const struct sipovl_prefix *v, uint32_t n)
{
	char buf[PREFIX_STRLEN];
	uint32_t i;

	for (i = 0; i < n; i++)
		fprintf(f, "%s%s", i ? "," : "", fmt_prefix(buf, &v[i]));
}

void print_port_list(FILE *f, const struct sipovl_portrange *v, uint32_t n)
{
	char buf[16];
	uint32_t i;

	for (i = 0; i < n; i++)
		fprintf(f, "%s%s", i ? "," : "", fmt_portrange(buf, &v[i]));
}

void print_intercept_match(FILE *f, const struct sipovl_intercept *in)
{
	char pb[32];

	fprintf(f, " proto %s addr ", fmt_protos(pb, in->protos));
	print_prefix_list(f, in->dsts, in->n_dsts);
	fputs(" port ", f);
	print_port_list(f, in->ports, in->n_ports);
	if (in->n_srcs) {
		fputs(" src ", f);
		print_prefix_list(f, in->srcs, in->n_srcs);
	}
	fprintf(f, " policy %s", fmt_policy(in->policy));
}

void print_intercept_config(FILE *f, const struct sipovl_intercept *in)
{
	fputs("intercept ", f);
	print_name_token(f, in->name);
	fprintf(f, " id %u", in->id);
	print_intercept_match(f, in);
	fputc('\n', f);
}

void print_sources_config(FILE *f, const struct sipovl_prefix *v, uint32_t n)
{
	fputs("sources ", f);
	if (n)
		print_prefix_list(f, v, n);
	else
		fputs("none", f);
	fputc('\n', f);
}
