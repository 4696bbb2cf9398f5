// SPDX-License-Identifier: GPL-2.0
/*
 * sipovld configuration model (I/O free, see cfg.h): the source map, which ties the source
 * address a dialer may claim (app_data source_addr, originated by a transparent socket on
 * the hosting side) to the dialer's identity.
 *
 * The identity is the one the edge router authenticated and sends in the Dial (headers
 * DialerIdentityId/DialerIdentityName, routers from ziti 2.0 on). Older routers send only the
 * caller id, which the dialer sets itself (the router forwards it unchecked): it is used only
 * with source_identity "caller".
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/cfg.h"
#include "daemon/cfg_internal.h"

void cfg_src_map_free(struct daemon_cfg *d)
{
	for (size_t i = 0; i < d->n_src_map; i++) {
		free(d->src_map[i].identity);
		free(d->src_map[i].srcs);
	}
	free(d->src_map);
	d->src_map = NULL;
	d->n_src_map = 0;
	d->has_src_map = false;
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct src_map_entry *)a)->identity, ((const struct src_map_entry *)b)->identity);
}

int cfg_src_map_parse(struct json_object *v, struct daemon_cfg *d, char *err, size_t errlen)
{
	struct src_map_entry *m;
	size_t n = 0, max;

	if (!v || !json_object_is_type(v, json_type_object))
		return cfg_fail(err, errlen, "source_map: expected an object of identity: [addresses]");
	max = (size_t)json_object_object_length(v);
	if (max > DCFG_MAX_SOURCE_MAP)
		return cfg_fail(err, errlen, "source_map: more than %d identities", DCFG_MAX_SOURCE_MAP);
	m = calloc(max ? max : 1, sizeof(*m));
	if (!m)
		return cfg_fail(err, errlen, "out of memory");
	json_object_object_foreach(v, key, val) {
		char what[200];

		snprintf(what, sizeof(what), "source_map \"%.60s\"", key);
		if (!*key || strlen(key) > 255) {
			cfg_fail(err, errlen, "source_map: an identity name must have 1 to 255 characters");
			goto bad;
		}
		if (!json_object_is_type(val, json_type_array)) {
			cfg_fail(err, errlen, "%s: expected an array of addresses (CIDR or IP)", what);
			goto bad;
		}
		m[n].identity = strdup(key);
		if (!m[n].identity) {
			cfg_fail(err, errlen, "out of memory");
			goto bad;
		}
		n++;
		if (cfg_addrs(val, what, false, DCFG_MAX_SOURCE_PREFIXES, &m[n - 1].srcs, &m[n - 1].n_srcs, NULL, NULL,
			      err, errlen))
			goto bad;
	}
	qsort(m, n, sizeof(*m), entry_cmp);
	cfg_src_map_free(d);
	d->src_map = m;
	d->n_src_map = n;
	d->has_src_map = true;
	return 0;
bad:
	for (size_t i = 0; i < n; i++) {
		free(m[i].identity);
		free(m[i].srcs);
	}
	free(m);
	return -1;
}

static const struct src_map_entry *lookup(const struct daemon_cfg *d, const char *identity)
{
	struct src_map_entry k = { .identity = (char *)identity };

	if (!identity || !*identity || !d->n_src_map)
		return NULL;
	return bsearch(&k, d->src_map, d->n_src_map, sizeof(k), entry_cmp);
}

int cfg_source_allowed(const struct daemon_cfg *d, const char *rid, const char *rname, const char *caller,
		       const struct sockaddr_storage *src, char *who, size_t wholen, bool *unchecked, char *err,
		       size_t errlen)
{
	const struct src_map_entry *e = NULL;
	const char *name, *how;
	char ip[64];

	*unchecked = false;
	if (who && wholen)
		who[0] = 0;
	if (!d->has_src_map) {
		*unchecked = true;
		return 0;
	}
	cfg_fmt_ip(src, ip, sizeof(ip));
	if ((rid && *rid) || (rname && *rname)) {
		name = rname && *rname ? rname : rid;
		how = "authenticated by the router";
		e = lookup(d, rname);
		if (!e)
			e = lookup(d, rid);
	} else if (d->src_trust_caller && caller && *caller) {
		name = caller;
		how = "caller id, not authenticated by the router";
		e = lookup(d, caller);
	} else {
		return cfg_fail(err, errlen,
				"claimed source %s refused: the router did not authenticate the dialer (caller id '%.100s'; "
				"routers before ziti 2.0 do not; source_identity \"caller\" trusts the caller id)",
				ip, caller && *caller ? caller : "");
	}
	if (who && wholen)
		snprintf(who, wholen, "%s", name);
	if (!e)
		return cfg_fail(err, errlen, "claimed source %s refused: identity '%.100s' (%s) has no source_map entry", ip,
				name, how);
	if (!cfg_prefixes_contain(e->srcs, e->n_srcs, src->ss_family, cfg_sa_addr(src)))
		return cfg_fail(err, errlen, "claimed source %s refused: not in the source_map of identity '%.100s' (%s)",
				ip, name, how);
	return 0;
}
