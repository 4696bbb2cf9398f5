// SPDX-License-Identifier: GPL-2.0
/*
 * sipovld configuration model (I/O free, see cfg.h): tunneler templates ($dst_ip, $tunneler_id.tag[KEY] ...).
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

/* ------------------------------------------------------------------ templates */

enum { TV_LITERAL, TV_KNOWN, TV_UNKNOWN };

/* an unknown variable at @p: its name's length in *len */
static int tpl_unknown_len(const char *p, size_t *len)
{
	size_t l = 1;

	while (p[l] && (isalnum((unsigned char)p[l]) || strchr("_.[]-", p[l])))
		l++;
	*len = l;
	return TV_UNKNOWN;
}

/*
 * The variable at @p (which points at a '$'): TV_LITERAL when the '$' starts no variable
 * name; else its length in *len and TV_KNOWN (value in *val when @v is given, NULL when
 * unavailable) or TV_UNKNOWN. The longest known name wins when the next character cannot
 * continue a name ("$dst_ip.example" is $dst_ip then ".example"). @host_side: only the
 * tunneler's own variables exist (a hosted terminator has no flow yet).
 */
static int tpl_var_at(const char *p, const struct tpl_vars *v, const char *pool, bool host_side, size_t *len,
		      const char **val)
{
	const struct {
		const char *name;
		bool flow; /* per intercepted flow: not on the hosting side */
	} vars[] = {
		{ "tunneler_id.name", false }, { "dst_protocol", true }, { "dst_hostname", true },
		{ "dst_ip", true },            { "dst_port", true },     { "src_ip", true },
		{ "src_port", true },          { "intercepted_ip", true },
	};
	static const char *const kinds[] = { "tag", "appData" };
	size_t best = 0;
	int bi = -1;

	*val = NULL;
	if (!isalpha((unsigned char)p[1]) && p[1] != '_')
		return TV_LITERAL;
	/* $ip_pool[NAME]: this endpoint's address, known only for its own pool (endpoint.pool) */
	if (!strncmp(p + 1, "ip_pool[", 8)) {
		const char *key = p + 9, *close = strchr(key, ']');

		if (!close || close == key || memchr(key, '$', (size_t)(close - key)))
			return tpl_unknown_len(p, len);
		*len = (size_t)(close + 1 - p);
		if (v)
			pool = v->pool_name;
		if (!pool || strlen(pool) != (size_t)(close - key) || strncmp(key, pool, (size_t)(close - key)))
			return TV_UNKNOWN;
		*val = v ? v->pool_addr : NULL;
		return TV_KNOWN;
	}
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		char pre[32];
		size_t l = (size_t)snprintf(pre, sizeof(pre), "tunneler_id.%s[", kinds[i]);
		const char *key = p + 1 + l, *close;

		if (strncmp(p + 1, pre, l))
			continue;
		close = strchr(key, ']');
		if (!close || close == key || memchr(key, '$', (size_t)(close - key)))
			break; /* unclosed or empty key: unknown */
		*len = (size_t)(close + 1 - p);
		if (v && v->attr) {
			char k[128];

			snprintf(k, sizeof(k), "%.*s", (int)(close - key), key);
			*val = v->attr(v->attr_arg, kinds[i], k);
		}
		return TV_KNOWN;
	}
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		size_t l = strlen(vars[i].name);
		char next;

		if (strncmp(p + 1, vars[i].name, l))
			continue;
		next = p[1 + l]; /* within the string: the name matched */
		if (!isalnum((unsigned char)next) && next != '_' && next != '[' && l > best &&
		    !(host_side && vars[i].flow)) {
			best = l;
			bi = (int)i;
		}
	}
	if (bi >= 0) {
		const char *vals[] = { NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL };

		if (v) {
			vals[0] = v->tunneler_name;
			vals[1] = v->dst_protocol;
			vals[2] = v->dst_hostname;
			vals[3] = v->dst_ip;
			vals[4] = v->dst_port;
			vals[5] = v->src_ip;
			vals[6] = v->src_port;
			vals[7] = v->dst_ip;
		}
		*len = 1 + best;
		*val = vals[bi];
		return TV_KNOWN;
	}
	return tpl_unknown_len(p, len);
}

int tpl_check(const char *tpl, bool host_side, char *bad, size_t badlen)
{
	return tpl_check_pool(tpl, host_side, NULL, bad, badlen);
}

int tpl_check_pool(const char *tpl, bool host_side, const char *pool, char *bad, size_t badlen)
{
	for (const char *p = tpl; *p; p++) {
		size_t l;
		const char *val;

		if (*p != '$')
			continue;
		int k = tpl_var_at(p, NULL, pool, host_side, &l, &val);

		if (k == TV_UNKNOWN) {
			snprintf(bad, badlen, "%.*s", (int)(l < 64 ? l : 64), p);
			return -1;
		}
		if (k == TV_KNOWN)
			p += l - 1;
	}
	return 0;
}

int tpl_expand(const char *tpl, const struct tpl_vars *v, char *out, size_t outlen, char *unknown,
	       size_t unknown_len)
{
	size_t o = 0;

	if (unknown && unknown_len)
		unknown[0] = 0;
	if (!outlen)
		return -1;
	for (const char *p = tpl; *p;) {
		const char *val = NULL;
		size_t l = 0;

		if (*p == '$') {
			int k = tpl_var_at(p, v, NULL, false, &l, &val);

			if (k != TV_LITERAL && !val && unknown && unknown_len && !unknown[0])
				snprintf(unknown, unknown_len, "%.*s", (int)l, p);
		}
		if (val) {
			size_t vl = strlen(val);

			if (o + vl >= outlen)
				return -1;
			memcpy(out + o, val, vl);
			o += vl;
			p += l;
		} else {
			if (o + 1 >= outlen)
				return -1;
			out[o++] = *p++;
		}
	}
	out[o] = 0;
	return 0;
}

const char *tpl_pool_hint(const char *bad, const char *pool, char *buf, size_t n)
{
	if (strncmp(bad, "$ip_pool[", 9))
		snprintf(buf, n, "%s", "");
	else if (pool)
		snprintf(buf, n, " (this sipovld's endpoint.pool is %s)", pool);
	else
		snprintf(buf, n, "%s", " (this sipovld is not an endpoint: no endpoint in sipovld.conf)");
	return buf;
}
