// SPDX-License-Identifier: GPL-2.0
/* sipovlctl JSON output, built with json-c. */
#include <sys/socket.h>
#include <netinet/in.h>

#include "ctl/json.h"
#include "ctl/parse.h"

struct json_object *json_name(const char *name)
{
	/* Kernel names need not be UTF-8 (sipovld may set any bytes). */
	char buf[SIPOVL_NAME_MAXLEN * 3 + 1];

	utf8_sanitize(buf, sizeof(buf), name);
	return json_object_new_string(buf);
}

struct json_object *json_prefixes(const struct sipovl_prefix *v, uint32_t n)
{
	struct json_object *a = json_object_new_array_ext((int)n);
	char buf[PREFIX_STRLEN];
	uint32_t i;

	for (i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(fmt_prefix(buf, &v[i])));
	return a;
}

static struct json_object *json_protos(uint32_t protos)
{
	struct json_object *a = json_object_new_array();

	if (protos & SIPOVL_PROTO_TCP)
		json_object_array_add(a, json_object_new_string("tcp"));
	if (protos & SIPOVL_PROTO_UDP)
		json_object_array_add(a, json_object_new_string("udp"));
	return a;
}

struct json_object *json_istats(const struct sipovl_istats *s)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "packets", json_object_new_uint64(s->packets));
	json_object_object_add(o, "bytes", json_object_new_uint64(s->bytes));
	json_object_object_add(o, "flows", json_object_new_uint64(s->flows));
	json_object_object_add(o, "drops", json_object_new_uint64(s->drops));
	json_object_object_add(o, "passes", json_object_new_uint64(s->passes));
	json_object_object_add(o, "rejects", json_object_new_uint64(s->rejects));
	return o;
}

struct json_object *json_intercept(const struct sipovl_intercept *in, bool stats)
{
	struct json_object *o = json_object_new_object(), *ports;
	uint32_t i;

	json_object_object_add(o, "id", json_object_new_uint64(in->id));
	json_object_object_add(o, "name", json_name(in->name));
	json_object_object_add(o, "protocols", json_protos(in->protos));
	json_object_object_add(o, "destinations",
			       json_prefixes(in->dsts, in->n_dsts));
	ports = json_object_new_array_ext((int)in->n_ports);
	for (i = 0; i < in->n_ports; i++) {
		struct json_object *r = json_object_new_object();

		json_object_object_add(r, "low", json_object_new_int(in->ports[i].low));
		json_object_object_add(r, "high", json_object_new_int(in->ports[i].high));
		json_object_array_add(ports, r);
	}
	json_object_object_add(o, "ports", ports);
	json_object_object_add(o, "sources", json_prefixes(in->srcs, in->n_srcs));
	json_object_object_add(o, "policy",
			       json_object_new_string(fmt_policy(in->policy)));
	if (stats && (in->present & SIPOVL_I_STATS))
		json_object_object_add(o, "stats", json_istats(&in->stats));
	return o;
}

struct json_object *json_stats(const struct sipovl_stats *s)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "lookups", json_object_new_uint64(s->lookups));
	json_object_object_add(o, "steered", json_object_new_uint64(s->steered));
	json_object_object_add(o, "passed", json_object_new_uint64(s->passed));
	json_object_object_add(o, "dropped", json_object_new_uint64(s->dropped));
	json_object_object_add(o, "errors", json_object_new_uint64(s->errors));
	json_object_object_add(o, "replies", json_object_new_uint64(s->replies));
	json_object_object_add(o, "src_denied", json_object_new_uint64(s->src_denied));
	json_object_object_add(o, "rejected", json_object_new_uint64(s->rejected));
	json_object_object_add(o, "icmp_errors", json_object_new_uint64(s->icmp_errors));
	if (s->has_drops) {
		struct json_object *d = json_object_new_object();

		json_object_object_add(d, "no_socket", json_object_new_uint64(s->drops.no_socket));
		json_object_object_add(d, "not_new", json_object_new_uint64(s->drops.not_new));
		json_object_object_add(d, "martian", json_object_new_uint64(s->drops.martian));
		json_object_object_add(d, "local_src", json_object_new_uint64(s->drops.local_src));
		json_object_object_add(d, "rp_filter", json_object_new_uint64(s->drops.rp_filter));
		json_object_object_add(d, "src_denied", json_object_new_uint64(s->src_denied));
		json_object_object_add(o, "drops", d);
		json_object_object_add(o, "malformed", json_object_new_uint64(s->malformed));
	}
	return o;
}

static const char *family_name(uint16_t family)
{
	return family == AF_INET ? "inet" : family == AF_INET6 ? "inet6" : "unknown";
}

static const char *proto_name(uint8_t proto)
{
	return proto == IPPROTO_TCP ? "tcp" : proto == IPPROTO_UDP ? "udp" : "unknown";
}

struct json_object *json_config(const struct sipovl_config *c)
{
	struct json_object *o = json_object_new_object(), *socks;
	uint32_t i;

	json_object_object_add(o, "generation", json_object_new_uint64(c->generation));
	json_object_object_add(o, "intercepts",
			       json_object_new_uint64(c->intercept_count));
	json_object_object_add(o, "sources", json_prefixes(c->sources, c->n_sources));
	socks = json_object_new_array();
	for (i = 0; i < c->n_sockets; i++) {
		const struct sipovl_socket_info *s = &c->sockets[i];
		struct json_object *so = json_object_new_object();

		json_object_object_add(so, "family",
				       json_object_new_string(family_name(s->family)));
		json_object_object_add(so, "protocol",
				       json_object_new_string(proto_name(s->protocol)));
		json_object_object_add(so, "port", json_object_new_int(s->port));
		json_object_object_add(so, "alive", json_object_new_boolean(s->alive));
		if (s->has_group) {
			json_object_object_add(so, "member", json_object_new_uint64(s->member));
			json_object_object_add(so, "members", json_object_new_uint64(s->members));
			json_object_object_add(so, "inode", json_object_new_uint64(s->inode));
		}
		json_object_array_add(socks, so);
	}
	json_object_object_add(o, "sockets", socks);
	return o;
}

struct json_object *json_event(const struct sipovl_event *ev)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "event",
			       json_object_new_string(sipovl_cmd_name(ev->cmd)));
	if (ev->has_generation)
		json_object_object_add(o, "generation",
				       json_object_new_uint64(ev->generation));
	if (ev->has_intercept) {
		if (ev->id)
			json_object_object_add(o, "id", json_object_new_uint64(ev->id));
		if (ev->name[0])
			json_object_object_add(o, "name", json_name(ev->name));
	}
	return o;
}

static int flags(bool pretty)
{
	return (pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED :
			 JSON_C_TO_STRING_PLAIN) | JSON_C_TO_STRING_NOSLASHESCAPE;
}

void json_emit(FILE *f, struct json_object *o, bool pretty)
{
	fputs(json_object_to_json_string_ext(o, flags(pretty)), f);
	fputc('\n', f);
	json_object_put(o);
}

void json_array_begin(struct json_stream *s, FILE *f, bool pretty)
{
	s->f = f;
	s->pretty = pretty;
	s->n = 0;
	fputc('[', f);
}

void json_array_add(struct json_stream *s, struct json_object *o)
{
	if (s->n++)
		fputc(',', s->f);
	if (s->pretty)
		fputc('\n', s->f);
	fputs(json_object_to_json_string_ext(o, flags(s->pretty)), s->f);
	json_object_put(o);
}

void json_array_end(struct json_stream *s)
{
	if (s->pretty && s->n)
		fputc('\n', s->f);
	fputs("]\n", s->f);
}
