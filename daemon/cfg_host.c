// SPDX-License-Identifier: GPL-2.0
/*
 * sipovld configuration model (I/O free, see cfg.h): host.v1 and the host-side target of a dial.
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

/* ------------------------------------------------------------------ host.v1 */

void host_cfg_free(struct host_cfg *h)
{
	free(h->address);
	free(h->allowed_addrs);
	cfg_free_strs(h->allowed_hostnames, h->n_allowed_hostnames);
	free(h->xlats);
	free(h->allowed_ports);
	free(h->allowed_srcs);
	free(h->listen_identity);
	memset(h, 0, sizeof(*h));
}

static int duration_ms(const char *s, unsigned *ms)
{
	/* Go durations as used here: "5s", "500ms", "1m", "1m30s" */
	double total = 0;

	if (!s || !*s)
		return -1;
	while (*s) {
		char *end;
		double v;

		errno = 0;
		v = strtod(s, &end);
		if (end == s || errno || v < 0)
			return -1;
		s = end;
		if (!strncmp(s, "ms", 2)) {
			total += v;
			s += 2;
		} else if (*s == 's') {
			total += v * 1000;
			s++;
		} else if (*s == 'm') {
			total += v * 60000;
			s++;
		} else if (*s == 'h') {
			total += v * 3600000;
			s++;
		} else {
			return -1;
		}
	}
	if (total > 3600000)
		return -1;
	*ms = (unsigned)total;
	return 0;
}

int host_cfg_parse(const char *json, struct host_cfg *h, char *err, size_t errlen)
{
	return host_cfg_parse_pool(json, NULL, h, err, errlen);
}

int host_cfg_parse_pool(const char *json, const char *pool, struct host_cfg *h, char *err, size_t errlen)
{
	struct json_object *o, *v, *lo;
	char bad[72], hint[96];
	bool b;
	int rc = -1;

	memset(h, 0, sizeof(*h));
	if (!json)
		return cfg_fail(err, errlen, "no host.v1 config");
	o = cfg_parse_json(json, strlen(json), err, errlen);
	if (!o)
		return -1;
	/* protocol */
	if (cfg_get(o, "forwardProtocol", &v) && !cfg_bool(v, &b) && b) {
		h->fwd_proto = true;
		if (cfg_protos(cfg_get(o, "allowedProtocols", &v) ? v : NULL, "allowedProtocols", &h->protos, err,
			      errlen))
			goto out;
	} else if (cfg_get(o, "protocol", &v)) {
		const char *s = cfg_str(v);

		if (s && !strcasecmp(s, "tcp"))
			h->protos = SIPOVL_PROTO_TCP;
		else if (s && !strcasecmp(s, "udp"))
			h->protos = SIPOVL_PROTO_UDP;
		else {
			cfg_fail(err, errlen, "protocol: expected \"tcp\" or \"udp\"");
			goto out;
		}
	} else {
		cfg_fail(err, errlen, "neither protocol nor forwardProtocol");
		goto out;
	}
	/* address */
	if (cfg_get(o, "forwardAddress", &v) && !cfg_bool(v, &b) && b) {
		h->fwd_addr = true;
		if (cfg_addrs(cfg_get(o, "allowedAddresses", &v) ? v : NULL, "allowedAddresses", true, SIZE_MAX,
			     &h->allowed_addrs, &h->n_allowed_addrs, &h->allowed_hostnames, &h->n_allowed_hostnames,
			     err, errlen))
			goto out;
		if (cfg_get(o, "forwardAddressTranslations", &v)) {
			size_t n;

			if (!json_object_is_type(v, json_type_array)) {
				cfg_fail(err, errlen, "forwardAddressTranslations: expected an array");
				goto out;
			}
			n = json_object_array_length(v);
			h->xlats = calloc(n ? n : 1, sizeof(*h->xlats));
			if (!h->xlats) {
				cfg_fail(err, errlen, "out of memory");
				goto out;
			}
			for (size_t i = 0; i < n; i++) {
				struct json_object *x = json_object_array_get_idx(v, i), *f, *t, *pl;
				struct sipovl_prefix from, to;
				long long len;

				if (!x || !json_object_is_type(x, json_type_object) || !cfg_get(x, "from", &f) ||
				    !cfg_get(x, "to", &t) || !cfg_get(x, "prefixLength", &pl) ||
				    cfg_parse_ip(cfg_str(f), &from) || cfg_parse_ip(cfg_str(t), &to) ||
				    from.family != to.family || cfg_int(pl, 0, from.len, &len)) {
					cfg_fail(err, errlen,
					     "forwardAddressTranslations[%zu]: expected {\"from\":IP,\"to\":IP of the same family,\"prefixLength\":N}",
					     i);
					goto out;
				}
				from.len = (uint8_t)len;
				cfg_prefix_mask(&from);
				h->xlats[h->n_xlats].from = from;
				memcpy(h->xlats[h->n_xlats].to, to.addr, 16);
				h->n_xlats++;
			}
		}
	} else if (cfg_get(o, "address", &v)) {
		const char *s = cfg_str(v);
		struct sipovl_prefix p;

		if (!s || !*s || (cfg_looks_like_ip(s) ? cfg_parse_ip(s, &p) != 0 : !cfg_valid_hostname(s)) ||
		    s[0] == '*') {
			cfg_fail(err, errlen, "address: expected an IP address or a hostname");
			goto out;
		}
		if (!(h->address = strdup(s))) {
			cfg_fail(err, errlen, "out of memory");
			goto out;
		}
	} else {
		cfg_fail(err, errlen, "neither address nor forwardAddress");
		goto out;
	}
	/* port */
	if (cfg_get(o, "forwardPort", &v) && !cfg_bool(v, &b) && b) {
		h->fwd_port = true;
		if (cfg_ports(cfg_get(o, "allowedPortRanges", &v) ? v : NULL, "allowedPortRanges", &h->allowed_ports,
			     &h->n_allowed_ports, err, errlen))
			goto out;
	} else if (cfg_get(o, "port", &v)) {
		long long p;

		if (cfg_int(v, 1, 65535, &p)) {
			cfg_fail(err, errlen, "port: expected 1-65535");
			goto out;
		}
		h->port = (uint16_t)p;
	} else {
		cfg_fail(err, errlen, "neither port nor forwardPort");
		goto out;
	}
	if (cfg_addrs(cfg_get(o, "allowedSourceAddresses", &v) ? v : NULL, "allowedSourceAddresses", false,
		     SIPOVL_MAX_TRANSPARENT_SOURCES, &h->allowed_srcs, &h->n_allowed_srcs, NULL, NULL, err, errlen))
		goto out;
	/* listenOptions */
	h->max_connections = 3;
	h->connect_timeout_ms = 5000;
	if (cfg_get(o, "listenOptions", &lo)) {
		long long x;

		if (!json_object_is_type(lo, json_type_object)) {
			cfg_fail(err, errlen, "listenOptions: expected an object");
			goto out;
		}
		if (cfg_get(lo, "bindUsingEdgeIdentity", &v) && cfg_bool(v, &h->bind_using_edge_identity)) {
			cfg_fail(err, errlen, "listenOptions.bindUsingEdgeIdentity: expected true or false");
			goto out;
		}
		if (cfg_get(lo, "identity", &v)) {
			const char *s = cfg_str(v);

			if (!s) {
				cfg_fail(err, errlen, "listenOptions.identity: expected a string");
				goto out;
			}
			if (tpl_check_pool(s, true, pool, bad, sizeof(bad))) {
				cfg_fail(err, errlen, "listenOptions.identity \"%.40s\": unknown template variable %s%s", s, bad,
					 !strncmp(bad, "$ip_pool[", 9) ? tpl_pool_hint(bad, pool, hint, sizeof(hint)) :
					 " (hosting knows only $tunneler_id.* and an endpoint's $ip_pool[NAME])");
				goto out;
			}
			if (*s && !(h->listen_identity = strdup(s))) {
				cfg_fail(err, errlen, "out of memory");
				goto out;
			}
		}
		if (cfg_get(lo, "cost", &v)) {
			if (cfg_int(v, 0, 65535, &x)) {
				cfg_fail(err, errlen, "listenOptions.cost: expected 0-65535");
				goto out;
			}
			h->cost = (uint16_t)x;
		}
		if (cfg_get(lo, "precedence", &v)) {
			const char *s = cfg_str(v);

			if (s && !strcasecmp(s, "default"))
				h->precedence = 0;
			else if (s && !strcasecmp(s, "required"))
				h->precedence = 1;
			else if (s && !strcasecmp(s, "failed"))
				h->precedence = 2;
			else {
				cfg_fail(err, errlen, "listenOptions.precedence: expected default, required or failed");
				goto out;
			}
		}
		if (cfg_get(lo, "maxConnections", &v)) {
			if (cfg_int(v, 1, 1000, &x)) {
				cfg_fail(err, errlen, "listenOptions.maxConnections: expected 1-1000");
				goto out;
			}
			h->max_connections = (unsigned)x;
		}
		if (cfg_get(lo, "connectTimeout", &v)) {
			if (duration_ms(cfg_str(v), &h->connect_timeout_ms)) {
				cfg_fail(err, errlen, "listenOptions.connectTimeout: expected a duration such as \"5s\"");
				goto out;
			}
		} else if (cfg_get(lo, "connectTimeoutSeconds", &v)) {
			if (cfg_int(v, 0, 3600, &x)) {
				cfg_fail(err, errlen, "listenOptions.connectTimeoutSeconds: expected 0-3600");
				goto out;
			}
			h->connect_timeout_ms = (unsigned)x * 1000;
		}
	}
	rc = 0;
out:
	json_object_put(o);
	if (rc)
		host_cfg_free(h);
	return rc;
}

static uint32_t proto_bit(const char *s)
{
	if (!strcasecmp(s, "tcp"))
		return SIPOVL_PROTO_TCP;
	if (!strcasecmp(s, "udp"))
		return SIPOVL_PROTO_UDP;
	return 0;
}

static void set_sa(struct sockaddr_storage *ss, uint16_t family, const uint8_t *addr, uint16_t port)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		memcpy(&a->sin_addr, addr, 4);
		a->sin_port = htons(port);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		a->sin6_family = AF_INET6;
		memcpy(&a->sin6_addr, addr, 16);
		a->sin6_port = htons(port);
	}
}

/* @name (a hostname) is one of allowedAddresses' hostnames, or under one of its "*.domain" */
static bool hostname_allowed(const struct host_cfg *h, const char *name)
{
	size_t nl = strlen(name);

	for (size_t i = 0; i < h->n_allowed_hostnames; i++) {
		const char *p = h->allowed_hostnames[i];

		if (p[0] == '*' && p[1] == '.') {
			size_t pl = strlen(p + 1); /* ".domain" */

			if (nl > pl && !strcasecmp(name + nl - pl, p + 1))
				return true;
		} else if (!strcasecmp(name, p)) {
			return true;
		}
	}
	return false;
}

int host_compute(const struct host_cfg *h, const struct app_data *a, struct host_target *t, char *err,
		 size_t errlen)
{
	static const struct app_data none;
	uint32_t pb;

	memset(t, 0, sizeof(*t));
	if (!a)
		a = &none;
	/* protocol */
	if (h->fwd_proto) {
		if (!a->dst_protocol[0])
			return cfg_fail(err, errlen, "host.v1 has forwardProtocol but the dialer sent no dst_protocol");
		pb = proto_bit(a->dst_protocol);
		if (!pb || !(pb & h->protos))
			return cfg_fail(err, errlen, "protocol '%s' is not in allowedProtocols", a->dst_protocol);
	} else {
		pb = h->protos;
	}
	t->proto = pb == SIPOVL_PROTO_TCP ? IPPROTO_TCP : IPPROTO_UDP;
	/* port */
	if (h->fwd_port) {
		if (!a->dst_port[0])
			return cfg_fail(err, errlen, "host.v1 has forwardPort but the dialer sent no dst_port");
		if (cfg_parse_port(a->dst_port, &t->dst_port))
			return cfg_fail(err, errlen, "invalid dst_port '%.8s'", a->dst_port);
		if (!cfg_ports_contain(h->allowed_ports, h->n_allowed_ports, t->dst_port))
			return cfg_fail(err, errlen, "port %u is not in allowedPortRanges", t->dst_port);
	} else {
		t->dst_port = h->port;
	}
	/* address */
	struct sipovl_prefix ip;

	/*
	 * forwardAddress: the dialer's dst_hostname is preferred over its dst_ip (as
	 * ziti-tunnel-sdk-c does); a hostname must be in allowedAddresses (exactly, or under a
	 * "*.domain" wildcard) and is resolved like a fixed hostname address.
	 */
	const char *fwd = a->dst_hostname[0] ? a->dst_hostname : a->dst_ip;

	if (h->fwd_addr && a->dst_hostname[0] && cfg_parse_ip(a->dst_hostname, &ip)) {
		if (!hostname_allowed(h, a->dst_hostname))
			return cfg_fail(err, errlen, "hostname %.60s is not in allowedAddresses", a->dst_hostname);
		snprintf(t->dst_host, sizeof(t->dst_host), "%s", a->dst_hostname);
	} else if (h->fwd_addr) {
		if (!fwd[0])
			return cfg_fail(err, errlen, "host.v1 has forwardAddress but the dialer sent no dst_ip or dst_hostname");
		if (cfg_parse_ip(fwd, &ip))
			return cfg_fail(err, errlen, "invalid dst_ip '%.46s'", fwd);
		if (!cfg_prefixes_contain(h->allowed_addrs, h->n_allowed_addrs, ip.family, ip.addr))
			return cfg_fail(err, errlen, "address %s is not in allowedAddresses", fwd);
		for (size_t i = 0; i < h->n_xlats; i++) {
			const struct addr_xlat *x = &h->xlats[i];

			if (cfg_prefix_contains(&x->from, ip.family, ip.addr)) {
				unsigned bits = ip.family == AF_INET ? 32 : 128;

				for (unsigned b = 0; b < bits; b++) {
					uint8_t m = (uint8_t)(0x80u >> (b % 8));
					const uint8_t *src = b < x->from.len ? x->to : ip.addr;

					ip.addr[b / 8] = (uint8_t)((ip.addr[b / 8] & ~m) | (src[b / 8] & m));
				}
				break;
			}
		}
		set_sa(&t->dst, ip.family, ip.addr, t->dst_port);
	} else if (!cfg_parse_ip(h->address, &ip)) {
		set_sa(&t->dst, ip.family, ip.addr, t->dst_port);
	} else {
		snprintf(t->dst_host, sizeof(t->dst_host), "%s", h->address);
	}
	/* source */
	if (a->source_addr[0]) {
		socklen_t l;

		if (cfg_parse_hostport(a->source_addr, &t->src, &l))
			return cfg_fail(err, errlen, "invalid source_addr '%.60s'", a->source_addr);
		if (!h->n_allowed_srcs)
			return cfg_fail(err, errlen, "source_addr %.60s given but host.v1 has no allowedSourceAddresses",
				    a->source_addr);
		if (!cfg_prefixes_contain(h->allowed_srcs, h->n_allowed_srcs, t->src.ss_family, cfg_sa_addr(&t->src)))
			return cfg_fail(err, errlen, "source_addr %.60s is not in allowedSourceAddresses", a->source_addr);
		if (!t->dst_host[0] && t->src.ss_family != t->dst.ss_family)
			return cfg_fail(err, errlen, "source_addr %.60s and the target are of different families",
				    a->source_addr);
		t->has_src = true;
	}
	return 0;
}

int host_listen_identity(const struct host_cfg *h, const struct tpl_vars *ident, char *out, size_t outlen,
			 char *unknown, size_t unknown_len)
{
	struct tpl_vars tv = { .tunneler_name = ident ? ident->tunneler_name : NULL,
			       .attr = ident ? ident->attr : NULL, .attr_arg = ident ? ident->attr_arg : NULL,
			       .pool_name = ident ? ident->pool_name : NULL, .pool_addr = ident ? ident->pool_addr : NULL };

	if (unknown && unknown_len)
		unknown[0] = 0;
	if (outlen)
		out[0] = 0;
	if (h->listen_identity)
		return tpl_expand(h->listen_identity, &tv, out, outlen, unknown, unknown_len);
	if (h->bind_using_edge_identity)
		return tpl_expand("$tunneler_id.name", &tv, out, outlen, unknown, unknown_len);
	return 0;
}
