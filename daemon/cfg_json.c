// SPDX-License-Identifier: GPL-2.0
/*
 * sipovld configuration model (I/O free, see cfg.h): JSON helpers shared by the config parsers (cfg_internal.h).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon/cfg.h"
#include "daemon/cfg_internal.h"

/* ------------------------------------------------------------------ json helpers */

struct json_object *cfg_parse_json(const char *json, size_t len, char *err, size_t errlen)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o;

	if (!tok) {
		cfg_fail(err, errlen, "out of memory");
		return NULL;
	}
	if (len > INT_MAX) {
		json_tokener_free(tok);
		cfg_fail(err, errlen, "JSON too large");
		return NULL;
	}
	o = json_tokener_parse_ex(tok, json, (int)len);
	if (!o || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len) {
		/* trailing white space is fine */
		size_t end = json_tokener_get_parse_end(tok);
		bool only_ws = o && json_tokener_get_error(tok) == json_tokener_success;

		for (size_t i = end; only_ws && i < len; i++)
			if (!isspace((unsigned char)json[i]))
				only_ws = false;
		if (!only_ws) {
			enum json_tokener_error e = json_tokener_get_error(tok);

			cfg_fail(err, errlen, "invalid JSON: %s",
			     e == json_tokener_success ? "trailing data" :
			     e == json_tokener_continue ? "truncated" : json_tokener_error_desc(e));
			json_object_put(o);
			o = NULL;
		}
	}
	json_tokener_free(tok);
	if (o && !json_object_is_type(o, json_type_object)) {
		cfg_fail(err, errlen, "not a JSON object");
		json_object_put(o);
		o = NULL;
	}
	return o;
}

bool cfg_get(struct json_object *o, const char *key, struct json_object **v)
{
	return json_object_object_get_ex(o, key, v) && *v && !json_object_is_type(*v, json_type_null);
}

/* A JSON string without embedded NULs. */
const char *cfg_str(struct json_object *v)
{
	if (!v || !json_object_is_type(v, json_type_string))
		return NULL;
	const char *s = json_object_get_string(v);

	if ((size_t)json_object_get_string_len(v) != strlen(s))
		return NULL;
	return s;
}

int cfg_int(struct json_object *v, long long lo, long long hi, long long *out)
{
	if (!v)
		return -1;
	if (json_object_is_type(v, json_type_int)) {
		errno = 0;
		long long x = json_object_get_int64(v);

		if (errno || x < lo || x > hi)
			return -1;
		*out = x;
		return 0;
	}
	if (json_object_is_type(v, json_type_double)) {
		double d = json_object_get_double(v);

		/* Range first: converting NaN or an out-of-range double to
		 * an integer is undefined behaviour. */
		if (!(d >= (double)lo && d <= (double)hi) ||
		    !(d >= -9223372036854775808.0 && d < 9223372036854775808.0) ||
		    d != (double)(long long)d)
			return -1;
		*out = (long long)d;
		return 0;
	}
	return -1;
}

int cfg_bool(struct json_object *v, bool *out)
{
	if (!v || !json_object_is_type(v, json_type_boolean))
		return -1;
	*out = json_object_get_boolean(v);
	return 0;
}

int cfg_protos(struct json_object *v, const char *what, uint32_t *out, char *err, size_t errlen)
{
	size_t n;

	if (!v || !json_object_is_type(v, json_type_array))
		return cfg_fail(err, errlen, "%s: expected an array of \"tcp\"/\"udp\"", what);
	n = json_object_array_length(v);
	if (!n)
		return cfg_fail(err, errlen, "%s: empty", what);
	*out = 0;
	for (size_t i = 0; i < n; i++) {
		const char *s = cfg_str(json_object_array_get_idx(v, i));

		if (s && !strcasecmp(s, "tcp"))
			*out |= SIPOVL_PROTO_TCP;
		else if (s && !strcasecmp(s, "udp"))
			*out |= SIPOVL_PROTO_UDP;
		else
			return cfg_fail(err, errlen, "%s[%zu]: expected \"tcp\" or \"udp\"", what, i);
	}
	return 0;
}

bool cfg_looks_like_ip(const char *s)
{
	if (strchr(s, '/') || strchr(s, ':'))
		return true;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s) && *s != '.')
			return false;
	return true;
}

bool cfg_valid_hostname(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > 253)
		return false;
	if (s[0] == '*') { /* wildcard: "*.domain" */
		if (s[1] != '.' || !s[2])
			return false;
		s += 2;
	}
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '.' && *s != '_')
			return false;
	return true;
}

int cfg_push_str(char ***v, size_t *n, const char *s)
{
	char **nv = realloc(*v, (*n + 1) * sizeof(**v));

	if (!nv)
		return -1;
	*v = nv;
	if (!(nv[*n] = strdup(s)))
		return -1;
	(*n)++;
	return 0;
}

void cfg_free_strs(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/*
 * Addresses: IPs and CIDRs into @pv; hostnames and wildcards into @hv when @hv is not NULL
 * (else an error). @max bounds the prefixes.
 */
int cfg_addrs(struct json_object *v, const char *what, bool required, size_t max, struct sipovl_prefix **pv,
	      size_t *pn, char ***hv, size_t *hn, char *err, size_t errlen)
{
	size_t n;

	*pv = NULL;
	*pn = 0;
	if (!v) {
		if (required)
			return cfg_fail(err, errlen, "%s: missing", what);
		return 0;
	}
	if (!json_object_is_type(v, json_type_array))
		return cfg_fail(err, errlen, "%s: expected an array of strings", what);
	n = json_object_array_length(v);
	if (!n && required)
		return cfg_fail(err, errlen, "%s: empty", what);
	*pv = calloc(n ? n : 1, sizeof(**pv));
	if (!*pv)
		return cfg_fail(err, errlen, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const char *s = cfg_str(json_object_array_get_idx(v, i));
		struct sipovl_prefix p;

		if (!s)
			return cfg_fail(err, errlen, "%s[%zu]: expected a string", what, i);
		if (cfg_looks_like_ip(s)) {
			if (cfg_parse_prefix(s, &p))
				return cfg_fail(err, errlen, "%s[%zu]: \"%.60s\" is not a valid IP address or CIDR", what,
					    i, s);
			bool dup = false;

			for (size_t j = 0; j < *pn; j++)
				if (!memcmp(&(*pv)[j], &p, sizeof(p)))
					dup = true;
			if (dup)
				continue;
			if (*pn >= max)
				return cfg_fail(err, errlen, "%s: more than %zu prefixes", what, max);
			(*pv)[(*pn)++] = p;
		} else if (hv && cfg_valid_hostname(s)) {
			if (cfg_push_str(hv, hn, s))
				return cfg_fail(err, errlen, "out of memory");
		} else {
			return cfg_fail(err, errlen, "%s[%zu]: \"%.60s\" is not a%s", what, i, s,
				    hv ? " valid IP, CIDR or hostname" : "n IP address or CIDR");
		}
	}
	return 0;
}

int cfg_ports(struct json_object *v, const char *what, struct sipovl_portrange **pv, size_t *pn, char *err,
	      size_t errlen)
{
	size_t n;

	*pv = NULL;
	*pn = 0;
	if (!v || !json_object_is_type(v, json_type_array))
		return cfg_fail(err, errlen, "%s: expected an array of {\"low\",\"high\"}", what);
	n = json_object_array_length(v);
	if (!n)
		return cfg_fail(err, errlen, "%s: empty", what);
	if (n > SIPOVL_MAX_PORT_RANGES)
		return cfg_fail(err, errlen, "%s: more than %d ranges", what, SIPOVL_MAX_PORT_RANGES);
	*pv = calloc(n, sizeof(**pv));
	if (!*pv)
		return cfg_fail(err, errlen, "out of memory");
	for (size_t i = 0; i < n; i++) {
		struct json_object *r = json_object_array_get_idx(v, i), *lo, *hi;
		long long l, h;

		if (!r || !json_object_is_type(r, json_type_object))
			return cfg_fail(err, errlen, "%s[%zu]: expected {\"low\",\"high\"}", what, i);
		if (!cfg_get(r, "low", &lo) || cfg_int(lo, 0, 65535, &l))
			return cfg_fail(err, errlen, "%s[%zu].low: expected 0-65535", what, i);
		if (!cfg_get(r, "high", &hi))
			h = l; /* a single port */
		else if (cfg_int(hi, 0, 65535, &h))
			return cfg_fail(err, errlen, "%s[%zu].high: expected 0-65535", what, i);
		if (l > h)
			return cfg_fail(err, errlen, "%s[%zu]: low %lld > high %lld", what, i, l, h);
		(*pv)[(*pn)++] = (struct sipovl_portrange){ (uint16_t)l, (uint16_t)h };
	}
	return 0;
}
