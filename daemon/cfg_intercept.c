// SPDX-License-Identifier: GPL-2.0
/*
 * sipovld configuration model (I/O free, see cfg.h): intercept.v1 and the dialer's app_data.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon/cfg.h"
#include "daemon/cfg_internal.h"

/* ------------------------------------------------------------------ intercept.v1 */

void icpt_cfg_free(struct icpt_cfg *c)
{
	free(c->dsts);
	free(c->ports);
	free(c->srcs);
	cfg_free_strs(c->skipped, c->n_skipped);
	free(c->dial_identity);
	free(c->source_ip);
	memset(c, 0, sizeof(*c));
}

int icpt_cfg_parse(const char *json, struct icpt_cfg *c, char *err, size_t errlen)
{
	return icpt_cfg_parse_pool(json, NULL, c, err, errlen);
}

int icpt_cfg_parse_pool(const char *json, const char *pool, struct icpt_cfg *c, char *err, size_t errlen)
{
	struct json_object *o, *v, *dopt;
	char bad[72], hint[96];
	int rc = -1;

	memset(c, 0, sizeof(*c));
	if (!json)
		return cfg_fail(err, errlen, "no intercept.v1 config");
	o = cfg_parse_json(json, strlen(json), err, errlen);
	if (!o)
		return -1;
	if (cfg_protos(cfg_get(o, "protocols", &v) ? v : NULL, "protocols", &c->protos, err, errlen))
		goto out;
	if (cfg_addrs(cfg_get(o, "addresses", &v) ? v : NULL, "addresses", true, SIPOVL_MAX_PREFIXES, &c->dsts,
		     &c->n_dsts, &c->skipped, &c->n_skipped, err, errlen))
		goto out;
	if (cfg_ports(cfg_get(o, "portRanges", &v) ? v : NULL, "portRanges", &c->ports, &c->n_ports, err, errlen))
		goto out;
	if (cfg_addrs(cfg_get(o, "allowedSourceAddresses", &v) ? v : NULL, "allowedSourceAddresses", false,
		     SIPOVL_MAX_PREFIXES, &c->srcs, &c->n_srcs, NULL, NULL, err, errlen))
		goto out;
	c->connect_timeout_ms = 5000;
	if (cfg_get(o, "dialOptions", &dopt)) {
		struct json_object *t;
		long long secs;

		if (!json_object_is_type(dopt, json_type_object)) {
			cfg_fail(err, errlen, "dialOptions: expected an object");
			goto out;
		}
		c->connect_timeout_ms = 15000;
		if (cfg_get(dopt, "identity", &t)) {
			const char *s = cfg_str(t);

			if (!s) {
				cfg_fail(err, errlen, "dialOptions.identity: expected a string");
				goto out;
			}
			if (tpl_check_pool(s, false, pool, bad, sizeof(bad))) {
				cfg_fail(err, errlen, "dialOptions.identity \"%.60s\": unknown template variable %s%s", s, bad,
					 tpl_pool_hint(bad, pool, hint, sizeof(hint)));
				goto out;
			}
			if (*s && !(c->dial_identity = strdup(s))) {
				cfg_fail(err, errlen, "out of memory");
				goto out;
			}
		}
		if (cfg_get(dopt, "connectTimeoutSeconds", &t) || cfg_get(dopt, "connect_timeout_seconds", &t)) {
			if (cfg_int(t, 0, 3600, &secs)) {
				cfg_fail(err, errlen, "dialOptions.connectTimeoutSeconds: expected 0-3600");
				goto out;
			}
			if (secs)
				c->connect_timeout_ms = (unsigned)secs * 1000;
		}
	}
	if (cfg_get(o, "sourceIp", &v)) {
		const char *s = cfg_str(v);

		if (!s) {
			cfg_fail(err, errlen, "sourceIp: expected a string");
			goto out;
		}
		if (tpl_check_pool(s, false, pool, bad, sizeof(bad))) {
			cfg_fail(err, errlen, "sourceIp \"%.60s\": unknown template variable %s%s", s, bad,
				 tpl_pool_hint(bad, pool, hint, sizeof(hint)));
			goto out;
		}
		if (*s && !(c->source_ip = strdup(s))) {
			cfg_fail(err, errlen, "out of memory");
			goto out;
		}
	}
	rc = 0;
out:
	json_object_put(o);
	if (rc)
		icpt_cfg_free(c);
	return rc;
}

void icpt_kernel_name(const char *service, uint32_t id, char out[SIPOVL_NAME_MAXLEN])
{
	bool digits = *service != 0;

	for (const char *p = service; *p; p++)
		if (!isdigit((unsigned char)*p))
			digits = false;
	if (*service && !digits && strlen(service) < SIPOVL_NAME_MAXLEN) {
		snprintf(out, SIPOVL_NAME_MAXLEN, "%s", service);
		return;
	}
	/* too long, empty or all digits: unique by id, recognisable by the prefix of the name */
	snprintf(out, SIPOVL_NAME_MAXLEN, "svc%u-%.50s", id, service);
}

int icpt_to_kernel(const struct icpt_cfg *c, uint32_t id, const char *kname, uint8_t policy,
		   struct sipovl_intercept *out)
{
	memset(out, 0, sizeof(*out));
	if (!c->n_dsts || !c->n_ports || !c->protos)
		return -1;
	out->present = SIPOVL_I_ID | SIPOVL_I_NAME | SIPOVL_I_PROTOS | SIPOVL_I_POLICY;
	out->id = id;
	snprintf(out->name, sizeof(out->name), "%s", kname);
	out->protos = c->protos;
	out->policy = policy;
	out->n_dsts = (uint32_t)c->n_dsts;
	out->dsts = c->dsts;
	out->n_ports = (uint32_t)c->n_ports;
	out->ports = c->ports;
	out->n_srcs = (uint32_t)c->n_srcs;
	out->srcs = c->n_srcs ? c->srcs : NULL;
	return 0;
}

/* ------------------------------------------------------------------ app_data */

#define AD_FIELDS(X)                            \
	X("connType", conn_type)                \
	X("dst_protocol", dst_protocol)         \
	X("dst_hostname", dst_hostname)         \
	X("dst_ip", dst_ip)                     \
	X("dst_port", dst_port)                 \
	X("src_protocol", src_protocol)         \
	X("src_ip", src_ip)                     \
	X("src_port", src_port)                 \
	X("source_addr", source_addr)           \
	X("sipovl_dial", sipovl_dial)

int app_data_build(const struct app_data *a, char *buf, size_t buflen)
{
	struct json_object *o = json_object_new_object();
	const char *s;
	size_t n;

	if (!o)
		return -1;
#define ADD(key, f)                                                             \
	if (a->f[0])                                                            \
		json_object_object_add(o, key, json_object_new_string(a->f));
	AD_FIELDS(ADD)
#undef ADD
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	n = s ? strlen(s) : 0;
	if (!s || n >= buflen) {
		json_object_put(o);
		return -1;
	}
	memcpy(buf, s, n + 1);
	json_object_put(o);
	return (int)n;
}

int app_data_parse(const void *json, size_t len, struct app_data *a, char *err, size_t errlen)
{
	struct json_object *o, *v;
	int rc = -1;

	memset(a, 0, sizeof(*a));
	if (!json || !len)
		return 0; /* no app_data: all empty */
	o = cfg_parse_json(json, len, err, errlen);
	if (!o)
		return -1;
#define GET(key, f)                                                                                      \
	if (cfg_get(o, key, &v)) {                                                                           \
		const char *s = cfg_str(v);                                                               \
		char num[24];                                                                            \
		long long x;                                                                             \
		if (!s && strstr(key, "_port") && json_object_is_type(v, json_type_int) &&               \
		    !cfg_int(v, 0, 65535, &x)) {                                                          \
			snprintf(num, sizeof(num), "%lld", x);                                           \
			s = num;                                                                         \
		}                                                                                        \
		if (!s) {                                                                                \
			cfg_fail(err, errlen, "app_data %s: expected a string", key);                        \
			goto out;                                                                        \
		}                                                                                        \
		if (strlen(s) >= sizeof(a->f)) {                                                         \
			cfg_fail(err, errlen, "app_data %s: longer than %zu bytes", key, sizeof(a->f) - 1);  \
			goto out;                                                                        \
		}                                                                                        \
		memcpy(a->f, s, strlen(s) + 1);                                                          \
	}
	AD_FIELDS(GET)
#undef GET
	rc = 0;
out:
	json_object_put(o);
	return rc;
}

int icpt_dial_params(const struct icpt_cfg *c, const char *proto, const struct sockaddr_storage *src,
		     const struct sockaddr_storage *dst, const struct tpl_vars *ident, struct app_data *a,
		     char *identity, size_t idlen, char *unknown, size_t unknown_len)
{
	return icpt_dial_params_host(c, proto, src, dst, NULL, ident, a, identity, idlen, unknown, unknown_len);
}

int icpt_dial_params_host(const struct icpt_cfg *c, const char *proto, const struct sockaddr_storage *src,
			  const struct sockaddr_storage *dst, const char *hostname, const struct tpl_vars *ident,
			  struct app_data *a, char *identity, size_t idlen, char *unknown, size_t unknown_len)
{
	char u2[64] = "";

	memset(a, 0, sizeof(*a));
	if (hostname)
		snprintf(a->dst_hostname, sizeof(a->dst_hostname), "%s", hostname);
	snprintf(a->dst_protocol, sizeof(a->dst_protocol), "%s", proto);
	snprintf(a->src_protocol, sizeof(a->src_protocol), "%s", proto);
	cfg_fmt_ip(dst, a->dst_ip, sizeof(a->dst_ip));
	cfg_fmt_ip(src, a->src_ip, sizeof(a->src_ip));
	snprintf(a->dst_port, sizeof(a->dst_port), "%u", cfg_sa_port(dst));
	snprintf(a->src_port, sizeof(a->src_port), "%u", cfg_sa_port(src));

	struct tpl_vars tv = {
		.dst_protocol = a->dst_protocol, .dst_ip = a->dst_ip, .dst_port = a->dst_port,
		.src_ip = a->src_ip, .src_port = a->src_port, .dst_hostname = a->dst_hostname,
		.tunneler_name = ident ? ident->tunneler_name : NULL,
		.attr = ident ? ident->attr : NULL, .attr_arg = ident ? ident->attr_arg : NULL,
		.pool_name = ident ? ident->pool_name : NULL, .pool_addr = ident ? ident->pool_addr : NULL,
	};

	if (unknown && unknown_len)
		unknown[0] = 0;
	if (c->source_ip) {
		/*
		 * "$src_ip:$src_port" with an IPv6 client would be ambiguous: it becomes
		 * "[v6]:port" (as the Go tunneler special-cases it), which hosts parse.
		 */
		char tpl[256];
		const char *t = c->source_ip, *hit = strstr(t, "$src_ip:$src_port");

		if (hit && src->ss_family == AF_INET6 && strlen(t) + 2 < sizeof(tpl)) {
			snprintf(tpl, sizeof(tpl), "%.*s[$src_ip]%s", (int)(hit - t), t, hit + strlen("$src_ip"));
			t = tpl;
		}
		if (tpl_expand(t, &tv, a->source_addr, sizeof(a->source_addr), unknown, unknown_len))
			return -1;
	}
	if (idlen)
		identity[0] = 0;
	if (c->dial_identity) {
		if (tpl_expand(c->dial_identity, &tv, identity, idlen, u2, sizeof(u2)))
			return -1;
		if (unknown && unknown_len && !unknown[0])
			snprintf(unknown, unknown_len, "%s", u2);
	}
	return 0;
}
