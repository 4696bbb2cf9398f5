// SPDX-License-Identifier: GPL-2.0
/*
 * sipovld configuration model (I/O free, see cfg.h): the DNS responder's keys of sipovld.conf
 * (dns_listen, dns_range4, dns_range6, dns_upstream, dns_timeout_ms, dns_name_idle_s,
 * dns_names_file).
 */
#include <arpa/inet.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/cfg.h"
#include "daemon/cfg_internal.h"
#include "daemon/dns_zone.h"

/* an array of "ip[:port]" (port 53 when absent) */
static int addr_list(struct json_object *v, const char *key, struct sockaddr_storage *out, size_t *n, size_t max,
		     char *err, size_t errlen)
{
	size_t len;

	if (!json_object_is_type(v, json_type_array))
		return cfg_fail(err, errlen, "%s: expected an array of \"address[:port]\" strings", key);
	len = json_object_array_length(v);
	if (len > max)
		return cfg_fail(err, errlen, "%s: at most %zu addresses", key, max);
	*n = 0;
	for (size_t i = 0; i < len; i++) {
		const char *s = cfg_str(json_object_array_get_idx(v, i));
		struct sockaddr_storage ss;

		if (!s || cfg_parse_hostport(s, &ss, NULL))
			return cfg_fail(err, errlen, "%s[%zu]: expected an IP address with an optional port", key, i);
		if (!cfg_sa_port(&ss)) {
			if (ss.ss_family == AF_INET)
				((struct sockaddr_in *)&ss)->sin_port = htons(53);
			else
				((struct sockaddr_in6 *)&ss)->sin6_port = htons(53);
		}
		out[(*n)++] = ss;
	}
	return 0;
}

static int range(struct json_object *v, const char *key, uint16_t family, struct sipovl_prefix *p, bool *has,
		 char *err, size_t errlen)
{
	const char *s = cfg_str(v);
	unsigned max = family == AF_INET ? 30 : 126;

	if (s && !*s) { /* "": this family is not answered */
		*has = false;
		return 0;
	}
	if (!s || cfg_parse_prefix(s, p) || p->family != family || p->len > max)
		return cfg_fail(err, errlen, "%s: expected an %s CIDR of at least 4 addresses, or \"\"", key,
				family == AF_INET ? "IPv4" : "IPv6");
	*has = true;
	return 0;
}

int cfg_dns_key(const char *key, struct json_object *v, struct daemon_cfg *d, char *err, size_t errlen)
{
	long long x;

	if (!strcmp(key, "dns_listen"))
		return addr_list(v, key, d->dns_listen, &d->n_dns_listen, DCFG_MAX_DNS_ADDRS, err, errlen);
	if (!strcmp(key, "dns_upstream")) {
		d->has_dns_upstream = true;
		return addr_list(v, key, d->dns_upstream, &d->n_dns_upstream, DCFG_MAX_DNS_ADDRS, err, errlen);
	}
	if (!strcmp(key, "dns_range4"))
		return range(v, key, AF_INET, &d->dns_range4, &d->has_dns_range4, err, errlen);
	if (!strcmp(key, "dns_range6"))
		return range(v, key, AF_INET6, &d->dns_range6, &d->has_dns_range6, err, errlen);
	if (!strcmp(key, "dns_timeout_ms")) {
		if (cfg_int(v, 100, 30000, &x))
			return cfg_fail(err, errlen, "%s: expected 100-30000", key);
		d->dns_timeout_ms = (unsigned)x;
		return 0;
	}
	if (!strcmp(key, "dns_name_idle_s")) { /* at least the answers' TTL */
		if (cfg_int(v, DNS_ZONE_TTL, 86400, &x))
			return cfg_fail(err, errlen, "%s: expected %d-86400", key, DNS_ZONE_TTL);
		d->dns_name_idle_s = (unsigned)x;
		return 0;
	}
	if (!strcmp(key, "dns_names_file")) { /* "": the names' addresses are not kept */
		const char *s = cfg_str(v);

		if (!s || (*s && (s[0] != '/' || strlen(s) > 4000 || s[strlen(s) - 1] == '/')))
			return cfg_fail(err, errlen, "%s: expected an absolute file path, or \"\"", key);
		free(d->dns_names_file);
		if (!(d->dns_names_file = strdup(s)))
			return cfg_fail(err, errlen, "out of memory");
		d->has_dns_names_file = true;
		return 0;
	}
	return 1;
}

void cfg_dns_defaults(struct daemon_cfg *d)
{
	cfg_parse_prefix("100.64.0.0/10", &d->dns_range4); /* as ziti-edge-tunnel's default DNS range */
	d->has_dns_range4 = true;
	d->dns_timeout_ms = 2000;
	d->dns_name_idle_s = DNS_ZONE_IDLE_S;
}
