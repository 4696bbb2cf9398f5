// SPDX-License-Identifier: GPL-2.0
/*
 * sipovld configuration model (I/O free, see cfg.h): the ip-pool keys of sipovld.conf, "ip_pool"
 * (this sipovld serves a pool) and "endpoint" (this sipovld is a SIP endpoint holding an address
 * of a pool). Design: Documentation/design.md, "Endpoints and the ip-pool".
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/cfg.h"
#include "daemon/cfg_internal.h"
#include "daemon/pool.h"

static int str_member(struct json_object *v, const char *what, const char *key, char **out, char *err,
		      size_t errlen)
{
	const char *s = cfg_str(v);

	if (!s || !*s)
		return cfg_fail(err, errlen, "%s.%s: expected a non-empty string", what, key);
	free(*out);
	if (!(*out = strdup(s)))
		return cfg_fail(err, errlen, "out of memory");
	return 0;
}

static int path_member(struct json_object *v, const char *what, const char *key, char **out, char *err,
		       size_t errlen)
{
	const char *s = cfg_str(v);

	if (!s || s[0] != '/' || strlen(s) > 4000)
		return cfg_fail(err, errlen, "%s.%s: expected an absolute path", what, key);
	return str_member(v, what, key, out, err, errlen);
}

static int name_member(struct json_object *v, const char *what, const char *key, char *out, char *err,
		       size_t errlen)
{
	const char *s = cfg_str(v);

	if (!pool_name_ok(s))
		return cfg_fail(err, errlen, "%s.%s: expected a pool name of 1-%d characters A-Z a-z 0-9 . _ -", what,
				key, POOL_NAME_MAX);
	snprintf(out, POOL_NAME_MAX + 1, "%s", s);
	return 0;
}

/* "ip_pool": {"name", "range", "service", "lease_file", ["trust_caller"], ["idle_timeout_s"], ["hold_s"],
 * ["lease_s"], ["exclusive_check_s"]} */
static int server(struct json_object *v, struct daemon_cfg *d, char *err, size_t errlen)
{
	struct cfg_pool_server *p = &d->pool_server;
	struct json_object *m;
	char perr[160];
	struct pool tmp;

	if (!json_object_is_type(v, json_type_object))
		return cfg_fail(err, errlen, "ip_pool: expected an object");
	json_object_object_foreach(v, key, mv) {
		if (strcmp(key, "name") && strcmp(key, "range") && strcmp(key, "service") && strcmp(key, "lease_file") &&
		    strcmp(key, "trust_caller") && strcmp(key, "idle_timeout_s") && strcmp(key, "hold_s") &&
		    strcmp(key, "lease_s") && strcmp(key, "exclusive_check_s"))
			return cfg_fail(err, errlen, "ip_pool: unknown key \"%.40s\"", key);
		(void)mv;
	}
	if (!cfg_get(v, "name", &m) || name_member(m, "ip_pool", "name", p->name, err, errlen))
		return err[0] ? -1 : cfg_fail(err, errlen, "ip_pool.name: required");
	if (!cfg_get(v, "range", &m) || cfg_parse_prefix(cfg_str(m), &p->range))
		return cfg_fail(err, errlen, "ip_pool.range: expected a CIDR such as \"100.127.0.0/24\"");
	if (pool_init(&tmp, p->name, &p->range, perr, sizeof(perr)))
		return cfg_fail(err, errlen, "ip_pool.range: %s", perr);
	pool_fini(&tmp);
	if (!cfg_get(v, "service", &m))
		return cfg_fail(err, errlen, "ip_pool.service: required (the Ziti service the endpoints dial)");
	if (str_member(m, "ip_pool", "service", &p->service, err, errlen))
		return -1;
	if (!cfg_get(v, "lease_file", &m))
		return cfg_fail(err, errlen, "ip_pool.lease_file: required (where the leases are kept)");
	if (path_member(m, "ip_pool", "lease_file", &p->lease_file, err, errlen))
		return -1;
	if (cfg_get(v, "trust_caller", &m) && cfg_bool(m, &p->trust_caller))
		return cfg_fail(err, errlen, "ip_pool.trust_caller: expected true or false");
	long long idle = 10;

	if (cfg_get(v, "idle_timeout_s", &m) && cfg_int(m, 1, 3600, &idle))
		return cfg_fail(err, errlen, "ip_pool.idle_timeout_s: expected seconds, 1 to 3600");
	p->idle_ms = (unsigned)idle * 1000;
	long long hold = CFG_POOL_HOLD_S;

	if (cfg_get(v, "hold_s", &m) && cfg_int(m, 0, 3600, &hold))
		return cfg_fail(err, errlen, "ip_pool.hold_s: expected seconds, 0 to 3600 (longer than the endpoints' "
				"renew_s)");
	p->hold_ms = (unsigned)hold * 1000;
	long long lease = CFG_POOL_LEASE_S;

	if (cfg_get(v, "lease_s", &m) && (cfg_int(m, 0, 31536000, &lease) || lease == 1))
		return cfg_fail(err, errlen, "ip_pool.lease_s: expected seconds, 0 (never expire) or 2 to 31536000 "
				"(several times the endpoints' renew_s)");
	p->lease_s = (unsigned)lease;
	long long excl = CFG_POOL_EXCL_S;

	if (cfg_get(v, "exclusive_check_s", &m) && (cfg_int(m, 0, 3600, &excl) || (excl && excl < 5)))
		return cfg_fail(err, errlen, "ip_pool.exclusive_check_s: expected seconds, 5 to 3600, or 0 (not checked: "
				"a second pool server would go unnoticed)");
	p->excl_ms = (unsigned)excl * 1000;
	d->has_pool_server = true;
	return 0;
}

/* "endpoint": {"pool", "service", "interface", "state_file", ["renew_s"], ["lease_s"]} */
static int endpoint(struct json_object *v, struct daemon_cfg *d, char *err, size_t errlen)
{
	struct cfg_endpoint *e = &d->endpoint;
	struct json_object *m;
	const char *ifn;

	if (!json_object_is_type(v, json_type_object))
		return cfg_fail(err, errlen, "endpoint: expected an object");
	json_object_object_foreach(v, key, mv) {
		if (strcmp(key, "pool") && strcmp(key, "service") && strcmp(key, "interface") && strcmp(key, "state_file") &&
		    strcmp(key, "renew_s") && strcmp(key, "lease_s"))
			return cfg_fail(err, errlen, "endpoint: unknown key \"%.40s\"", key);
		(void)mv;
	}
	if (!cfg_get(v, "pool", &m))
		return cfg_fail(err, errlen, "endpoint.pool: required (the pool's name, as in $ip_pool[NAME])");
	if (name_member(m, "endpoint", "pool", e->pool, err, errlen))
		return -1;
	if (!cfg_get(v, "service", &m))
		return cfg_fail(err, errlen, "endpoint.service: required (the pool server's Ziti service)");
	if (str_member(m, "endpoint", "service", &e->service, err, errlen))
		return -1;
	if (!cfg_get(v, "interface", &m))
		return cfg_fail(err, errlen, "endpoint.interface: required (the local interface that gets the address)");
	ifn = cfg_str(m);
	if (!ifn || !*ifn || strlen(ifn) >= sizeof(e->ifname) || strpbrk(ifn, "/: \t\n") || !strcmp(ifn, ".") ||
	    !strcmp(ifn, ".."))
		return cfg_fail(err, errlen, "endpoint.interface: expected an interface name of 1-15 characters");
	snprintf(e->ifname, sizeof(e->ifname), "%s", ifn);
	if (!cfg_get(v, "state_file", &m))
		return cfg_fail(err, errlen, "endpoint.state_file: required (where the endpoint keeps its address)");
	if (path_member(m, "endpoint", "state_file", &e->state_file, err, errlen))
		return -1;
	long long renew = CFG_EP_RENEW_S;

	if (cfg_get(v, "renew_s", &m) && cfg_int(m, 1, 3600, &renew))
		return cfg_fail(err, errlen, "endpoint.renew_s: expected seconds, 1 to 3600");
	e->renew_ms = (unsigned)renew * 1000;
	long long elease = CFG_POOL_LEASE_S;

	if (cfg_get(v, "lease_s", &m) && (cfg_int(m, 0, 31536000, &elease) || elease == 1))
		return cfg_fail(err, errlen, "endpoint.lease_s: expected seconds, 0 (never expire) or 2 to 31536000 "
				"(the pool server's ip_pool.lease_s applies instead when shorter)");
	if (elease && (unsigned long long)elease * 500 <= e->renew_ms)
		return cfg_fail(err, errlen, "endpoint.lease_s: %lld s is too short for renew_s %u s (the address is "
				"withdrawn lease_s/2 after its last renewal: more than renew_s)", elease,
				e->renew_ms / 1000);
	e->lease_s = (unsigned)elease;
	d->has_endpoint = true;
	return 0;
}

int cfg_pool_key(const char *key, struct json_object *v, struct daemon_cfg *d, char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = 0;
	if (!strcmp(key, "ip_pool"))
		return server(v, d, err, errlen);
	if (!strcmp(key, "endpoint"))
		return endpoint(v, d, err, errlen);
	return 1;
}

void cfg_pool_free(struct daemon_cfg *d)
{
	free(d->pool_server.service);
	free(d->pool_server.lease_file);
	free(d->endpoint.service);
	free(d->endpoint.state_file);
	memset(&d->pool_server, 0, sizeof(d->pool_server));
	memset(&d->endpoint, 0, sizeof(d->endpoint));
	d->has_pool_server = d->has_endpoint = false;
}
