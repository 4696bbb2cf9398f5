// SPDX-License-Identifier: GPL-2.0
/*
 * sipovld configuration model (I/O free, see cfg.h): the DNS responder's keys of sipovld.conf
 * (dns_listen, dns_range4, dns_range6, dns_upstream, dns_timeout_ms, dns_name_idle_s,
 * dns_names_file, dns_allow, dns_rate_limit, dns_rate_slip).
 */
#include <arpa/inet.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/cfg.h"
#include "daemon/cfg_internal.h"
#include "daemon/dns_guard.h"
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

/*
 * dns_allow: an array of client prefixes as iproute2 writes them ("10.1.0.0/24", "fd00:1::/64";
 * an address alone is one host; host bits are cleared) and "connected" (the dns_listen addresses'
 * subnets and loopback, the default). The whole list or nothing: @d changes only when it parses.
 */
static int allow_list(struct json_object *v, const char *key, struct daemon_cfg *d, char *err, size_t errlen)
{
	struct sipovl_prefix p[DCFG_MAX_DNS_ALLOW];
	size_t len, n = 0;
	bool connected = false;

	if (!json_object_is_type(v, json_type_array))
		return cfg_fail(err, errlen,
				"%s: expected an array of prefixes (\"10.1.0.0/24\", \"fd00:1::/64\") or \"connected\"", key);
	len = json_object_array_length(v);
	if (!len)
		return cfg_fail(err, errlen, "%s: empty: no client would be answered (leave the key out for the default, "
				"[\"connected\"]; [\"0.0.0.0/0\", \"::/0\"] answers everyone)", key);
	if (len > DCFG_MAX_DNS_ALLOW)
		return cfg_fail(err, errlen, "%s: at most %d prefixes, %zu given", key, DCFG_MAX_DNS_ALLOW, len);
	for (size_t i = 0; i < len; i++) {
		struct json_object *e = json_object_array_get_idx(v, i);
		const char *s = cfg_str(e);

		if (s && !strcmp(s, "connected")) {
			connected = true;
			continue;
		}
		if (!s || cfg_parse_prefix(s, &p[n]))
			return cfg_fail(err, errlen, "%s[%zu]: %s%s%s: expected an IPv4 or IPv6 prefix (address[/length]) or "
					"\"connected\"", key, i, s ? "\"" : "", s ? s : json_object_to_json_string(e),
					s ? "\"" : "");
		n++;
	}
	memcpy(d->dns_allow, p, n * sizeof(p[0]));
	d->n_dns_allow = n;
	d->dns_allow_connected = connected;
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
	if (!strcmp(key, "dns_allow"))
		return allow_list(v, key, d, err, errlen);
	if (!strcmp(key, "dns_rate_limit")) {
		if (cfg_int(v, 0, DNS_RRL_MAX, &x))
			return cfg_fail(err, errlen, "%s: %s: expected 0-%d (UDP answers a second per client; 0: no limit)",
					key, json_object_to_json_string(v), DNS_RRL_MAX);
		d->dns_rate_limit = (unsigned)x;
		return 0;
	}
	if (!strcmp(key, "dns_rate_slip")) {
		if (cfg_int(v, 0, DNS_RRL_SLIP_MAX, &x))
			return cfg_fail(err, errlen,
					"%s: %s: expected 0-%d (one in N answers over the limit truncated; 0: none)", key,
					json_object_to_json_string(v), DNS_RRL_SLIP_MAX);
		d->dns_rate_slip = (unsigned)x;
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
	d->dns_allow_connected = true; /* not open to the world: the listen addresses' subnets, loopback */
	d->dns_rate_limit = DNS_RRL_DEFAULT;
	d->dns_rate_slip = DNS_RRL_SLIP_DEFAULT;
}
