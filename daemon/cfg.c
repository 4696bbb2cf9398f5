// SPDX-License-Identifier: GPL-2.0
/*
 * sipovld configuration model (I/O free, see cfg.h).
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

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* ------------------------------------------------------------------ addresses */

int cfg_parse_ip(const char *s, struct sipovl_prefix *p)
{
	memset(p, 0, sizeof(*p));
	if (!s)
		return -1;
	if (inet_pton(AF_INET, s, p->addr) == 1) {
		p->family = AF_INET;
		p->len = 32;
		return 0;
	}
	if (inet_pton(AF_INET6, s, p->addr) == 1) {
		p->family = AF_INET6;
		p->len = 128;
		return 0;
	}
	return -1;
}

static void prefix_mask(struct sipovl_prefix *p)
{
	unsigned bits = p->family == AF_INET ? 32 : 128;

	for (unsigned i = p->len; i < bits; i++)
		p->addr[i / 8] &= (uint8_t)~(0x80u >> (i % 8));
}

int cfg_parse_prefix(const char *s, struct sipovl_prefix *p)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash;
	char *end;
	long len;

	if (!s || strlen(s) >= sizeof(buf))
		return -1;
	slash = strchr(s, '/');
	if (!slash)
		return cfg_parse_ip(s, p);
	memcpy(buf, s, slash - s);
	buf[slash - s] = 0;
	if (cfg_parse_ip(buf, p))
		return -1;
	if (!isdigit((unsigned char)slash[1]))
		return -1;
	errno = 0;
	len = strtol(slash + 1, &end, 10);
	if (errno || *end || len < 0 || len > p->len)
		return -1;
	p->len = (uint8_t)len;
	prefix_mask(p);
	return 0;
}

bool cfg_prefix_contains(const struct sipovl_prefix *p, uint16_t family, const uint8_t *addr)
{
	unsigned full, rem;

	if (p->family != family)
		return false;
	full = p->len / 8;
	rem = p->len % 8;
	if (memcmp(p->addr, addr, full))
		return false;
	if (rem) {
		uint8_t m = (uint8_t)(0xffu << (8 - rem));

		if ((p->addr[full] & m) != (addr[full] & m))
			return false;
	}
	return true;
}

bool cfg_prefixes_contain(const struct sipovl_prefix *v, size_t n, uint16_t family, const uint8_t *addr)
{
	for (size_t i = 0; i < n; i++)
		if (cfg_prefix_contains(&v[i], family, addr))
			return true;
	return false;
}

bool cfg_ports_contain(const struct sipovl_portrange *v, size_t n, uint16_t port)
{
	for (size_t i = 0; i < n; i++)
		if (port >= v[i].low && port <= v[i].high)
			return true;
	return false;
}

static int parse_port(const char *s, uint16_t *port)
{
	char *end;
	long v;

	if (!s || !isdigit((unsigned char)*s) || strlen(s) > 5)
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 0 || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

int cfg_parse_hostport(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port = NULL;
	uint16_t p = 0;
	size_t hl;

	memset(ss, 0, sizeof(*ss));
	if (!s || !*s)
		return -1;
	if (s[0] == '[') {
		const char *e = strchr(s, ']');

		if (!e)
			return -1;
		hl = (size_t)(e - s - 1);
		if (hl >= sizeof(host))
			return -1;
		memcpy(host, s + 1, hl);
		host[hl] = 0;
		if (e[1] == ':')
			port = e + 2;
		else if (e[1])
			return -1;
	} else {
		const char *c = strchr(s, ':');

		if (c && strchr(c + 1, ':')) { /* bare IPv6, no port */
			hl = strlen(s);
		} else {
			hl = c ? (size_t)(c - s) : strlen(s);
			if (c)
				port = c + 1;
		}
		if (hl >= sizeof(host))
			return -1;
		memcpy(host, s, hl);
		host[hl] = 0;
	}
	if (port && parse_port(port, &p))
		return -1;
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(p);
		if (len)
			*len = sizeof(*a4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(p);
		if (len)
			*len = sizeof(*a6);
		return 0;
	}
	memset(ss, 0, sizeof(*ss));
	return -1;
}

const uint8_t *cfg_sa_addr(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (const uint8_t *)&((const struct sockaddr_in *)ss)->sin_addr;
	return (const uint8_t *)&((const struct sockaddr_in6 *)ss)->sin6_addr;
}

uint16_t cfg_sa_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

socklen_t cfg_sa_len(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
}

const char *cfg_fmt_ip(const struct sockaddr_storage *ss, char *buf, size_t n)
{
	if ((ss->ss_family != AF_INET && ss->ss_family != AF_INET6) ||
	    !inet_ntop(ss->ss_family, cfg_sa_addr(ss), buf, (socklen_t)n))
		snprintf(buf, n, "?");
	return buf;
}

const char *cfg_fmt_sa(const struct sockaddr_storage *ss, char *buf, size_t n)
{
	char h[INET6_ADDRSTRLEN];

	cfg_fmt_ip(ss, h, sizeof(h));
	if (ss->ss_family == AF_INET6)
		snprintf(buf, n, "[%s]:%u", h, cfg_sa_port(ss));
	else
		snprintf(buf, n, "%s:%u", h, cfg_sa_port(ss));
	return buf;
}

const char *cfg_fmt_prefix(const struct sipovl_prefix *p, char *buf, size_t n)
{
	char h[INET6_ADDRSTRLEN];

	if (!inet_ntop(p->family, p->addr, h, sizeof(h)))
		snprintf(h, sizeof(h), "?");
	snprintf(buf, n, "%s/%u", h, p->len);
	return buf;
}

/* ------------------------------------------------------------------ templates */

enum { TV_LITERAL, TV_KNOWN, TV_UNKNOWN };

/*
 * The variable at @p (which points at a '$'): TV_LITERAL when the '$' starts no variable
 * name; else its length in *len and TV_KNOWN (value in *val when @v is given, NULL when
 * unavailable) or TV_UNKNOWN. The longest known name wins when the next character cannot
 * continue a name ("$dst_ip.example" is $dst_ip then ".example"). @host_side: only the
 * tunneler's own variables exist (a hosted terminator has no flow yet).
 */
static int tpl_var_at(const char *p, const struct tpl_vars *v, bool host_side, size_t *len, const char **val)
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
	size_t l = 1;

	while (p[l] && (isalnum((unsigned char)p[l]) || strchr("_.[]-", p[l])))
		l++;
	*len = l;
	return TV_UNKNOWN;
}

int tpl_check(const char *tpl, bool host_side, char *bad, size_t badlen)
{
	for (const char *p = tpl; *p; p++) {
		size_t l;
		const char *val;

		if (*p != '$')
			continue;
		int k = tpl_var_at(p, NULL, host_side, &l, &val);

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
			int k = tpl_var_at(p, v, false, &l, &val);

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

/* ------------------------------------------------------------------ json helpers */

static struct json_object *parse_json(const char *json, size_t len, char *err, size_t errlen)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o;

	if (!tok) {
		fail(err, errlen, "out of memory");
		return NULL;
	}
	if (len > INT_MAX) {
		json_tokener_free(tok);
		fail(err, errlen, "JSON too large");
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

			fail(err, errlen, "invalid JSON: %s",
			     e == json_tokener_success ? "trailing data" :
			     e == json_tokener_continue ? "truncated" : json_tokener_error_desc(e));
			json_object_put(o);
			o = NULL;
		}
	}
	json_tokener_free(tok);
	if (o && !json_object_is_type(o, json_type_object)) {
		fail(err, errlen, "not a JSON object");
		json_object_put(o);
		o = NULL;
	}
	return o;
}

static bool get(struct json_object *o, const char *key, struct json_object **v)
{
	return json_object_object_get_ex(o, key, v) && *v && !json_object_is_type(*v, json_type_null);
}

/* A JSON string without embedded NULs. */
static const char *str_of(struct json_object *v)
{
	if (!v || !json_object_is_type(v, json_type_string))
		return NULL;
	const char *s = json_object_get_string(v);

	if ((size_t)json_object_get_string_len(v) != strlen(s))
		return NULL;
	return s;
}

static int int_of(struct json_object *v, long long lo, long long hi, long long *out)
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

static int bool_of(struct json_object *v, bool *out)
{
	if (!v || !json_object_is_type(v, json_type_boolean))
		return -1;
	*out = json_object_get_boolean(v);
	return 0;
}

static int protos_of(struct json_object *v, const char *what, uint32_t *out, char *err, size_t errlen)
{
	size_t n;

	if (!v || !json_object_is_type(v, json_type_array))
		return fail(err, errlen, "%s: expected an array of \"tcp\"/\"udp\"", what);
	n = json_object_array_length(v);
	if (!n)
		return fail(err, errlen, "%s: empty", what);
	*out = 0;
	for (size_t i = 0; i < n; i++) {
		const char *s = str_of(json_object_array_get_idx(v, i));

		if (s && !strcasecmp(s, "tcp"))
			*out |= SIPOVL_PROTO_TCP;
		else if (s && !strcasecmp(s, "udp"))
			*out |= SIPOVL_PROTO_UDP;
		else
			return fail(err, errlen, "%s[%zu]: expected \"tcp\" or \"udp\"", what, i);
	}
	return 0;
}

static bool looks_like_ip(const char *s)
{
	if (strchr(s, '/') || strchr(s, ':'))
		return true;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s) && *s != '.')
			return false;
	return true;
}

static bool valid_hostname(const char *s)
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

static int push_str(char ***v, size_t *n, const char *s)
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

static void free_strs(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/*
 * Addresses: IPs and CIDRs into @pv; hostnames and wildcards into @hv when @hv is not NULL
 * (else an error). @max bounds the prefixes.
 */
static int addrs_of(struct json_object *v, const char *what, bool required, size_t max, struct sipovl_prefix **pv,
		    size_t *pn, char ***hv, size_t *hn, char *err, size_t errlen)
{
	size_t n;

	*pv = NULL;
	*pn = 0;
	if (!v) {
		if (required)
			return fail(err, errlen, "%s: missing", what);
		return 0;
	}
	if (!json_object_is_type(v, json_type_array))
		return fail(err, errlen, "%s: expected an array of strings", what);
	n = json_object_array_length(v);
	if (!n && required)
		return fail(err, errlen, "%s: empty", what);
	*pv = calloc(n ? n : 1, sizeof(**pv));
	if (!*pv)
		return fail(err, errlen, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const char *s = str_of(json_object_array_get_idx(v, i));
		struct sipovl_prefix p;

		if (!s)
			return fail(err, errlen, "%s[%zu]: expected a string", what, i);
		if (looks_like_ip(s)) {
			if (cfg_parse_prefix(s, &p))
				return fail(err, errlen, "%s[%zu]: \"%.60s\" is not a valid IP address or CIDR", what,
					    i, s);
			bool dup = false;

			for (size_t j = 0; j < *pn; j++)
				if (!memcmp(&(*pv)[j], &p, sizeof(p)))
					dup = true;
			if (dup)
				continue;
			if (*pn >= max)
				return fail(err, errlen, "%s: more than %zu prefixes", what, max);
			(*pv)[(*pn)++] = p;
		} else if (hv && valid_hostname(s)) {
			if (push_str(hv, hn, s))
				return fail(err, errlen, "out of memory");
		} else {
			return fail(err, errlen, "%s[%zu]: \"%.60s\" is not a%s", what, i, s,
				    hv ? " valid IP, CIDR or hostname" : "n IP address or CIDR");
		}
	}
	return 0;
}

static int ports_of(struct json_object *v, const char *what, struct sipovl_portrange **pv, size_t *pn, char *err,
		    size_t errlen)
{
	size_t n;

	*pv = NULL;
	*pn = 0;
	if (!v || !json_object_is_type(v, json_type_array))
		return fail(err, errlen, "%s: expected an array of {\"low\",\"high\"}", what);
	n = json_object_array_length(v);
	if (!n)
		return fail(err, errlen, "%s: empty", what);
	if (n > SIPOVL_MAX_PORT_RANGES)
		return fail(err, errlen, "%s: more than %d ranges", what, SIPOVL_MAX_PORT_RANGES);
	*pv = calloc(n, sizeof(**pv));
	if (!*pv)
		return fail(err, errlen, "out of memory");
	for (size_t i = 0; i < n; i++) {
		struct json_object *r = json_object_array_get_idx(v, i), *lo, *hi;
		long long l, h;

		if (!r || !json_object_is_type(r, json_type_object))
			return fail(err, errlen, "%s[%zu]: expected {\"low\",\"high\"}", what, i);
		if (!get(r, "low", &lo) || int_of(lo, 0, 65535, &l))
			return fail(err, errlen, "%s[%zu].low: expected 0-65535", what, i);
		if (!get(r, "high", &hi))
			h = l; /* a single port */
		else if (int_of(hi, 0, 65535, &h))
			return fail(err, errlen, "%s[%zu].high: expected 0-65535", what, i);
		if (l > h)
			return fail(err, errlen, "%s[%zu]: low %lld > high %lld", what, i, l, h);
		(*pv)[(*pn)++] = (struct sipovl_portrange){ (uint16_t)l, (uint16_t)h };
	}
	return 0;
}

/* ------------------------------------------------------------------ intercept.v1 */

void icpt_cfg_free(struct icpt_cfg *c)
{
	free(c->dsts);
	free(c->ports);
	free(c->srcs);
	free_strs(c->skipped, c->n_skipped);
	free(c->dial_identity);
	free(c->source_ip);
	memset(c, 0, sizeof(*c));
}

int icpt_cfg_parse(const char *json, struct icpt_cfg *c, char *err, size_t errlen)
{
	struct json_object *o, *v, *dopt;
	char bad[72];
	int rc = -1;

	memset(c, 0, sizeof(*c));
	if (!json)
		return fail(err, errlen, "no intercept.v1 config");
	o = parse_json(json, strlen(json), err, errlen);
	if (!o)
		return -1;
	if (protos_of(get(o, "protocols", &v) ? v : NULL, "protocols", &c->protos, err, errlen))
		goto out;
	if (addrs_of(get(o, "addresses", &v) ? v : NULL, "addresses", true, SIPOVL_MAX_PREFIXES, &c->dsts,
		     &c->n_dsts, &c->skipped, &c->n_skipped, err, errlen))
		goto out;
	if (ports_of(get(o, "portRanges", &v) ? v : NULL, "portRanges", &c->ports, &c->n_ports, err, errlen))
		goto out;
	if (addrs_of(get(o, "allowedSourceAddresses", &v) ? v : NULL, "allowedSourceAddresses", false,
		     SIPOVL_MAX_PREFIXES, &c->srcs, &c->n_srcs, NULL, NULL, err, errlen))
		goto out;
	c->connect_timeout_ms = 5000;
	if (get(o, "dialOptions", &dopt)) {
		struct json_object *t;
		long long secs;

		if (!json_object_is_type(dopt, json_type_object)) {
			fail(err, errlen, "dialOptions: expected an object");
			goto out;
		}
		c->connect_timeout_ms = 15000;
		if (get(dopt, "identity", &t)) {
			const char *s = str_of(t);

			if (!s) {
				fail(err, errlen, "dialOptions.identity: expected a string");
				goto out;
			}
			if (tpl_check(s, false, bad, sizeof(bad))) {
				fail(err, errlen, "dialOptions.identity \"%.60s\": unknown template variable %s", s, bad);
				goto out;
			}
			if (*s && !(c->dial_identity = strdup(s))) {
				fail(err, errlen, "out of memory");
				goto out;
			}
		}
		if (get(dopt, "connectTimeoutSeconds", &t) || get(dopt, "connect_timeout_seconds", &t)) {
			if (int_of(t, 0, 3600, &secs)) {
				fail(err, errlen, "dialOptions.connectTimeoutSeconds: expected 0-3600");
				goto out;
			}
			if (secs)
				c->connect_timeout_ms = (unsigned)secs * 1000;
		}
	}
	if (get(o, "sourceIp", &v)) {
		const char *s = str_of(v);

		if (!s) {
			fail(err, errlen, "sourceIp: expected a string");
			goto out;
		}
		if (tpl_check(s, false, bad, sizeof(bad))) {
			fail(err, errlen, "sourceIp \"%.60s\": unknown template variable %s", s, bad);
			goto out;
		}
		if (*s && !(c->source_ip = strdup(s))) {
			fail(err, errlen, "out of memory");
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
	X("source_addr", source_addr)

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
	o = parse_json(json, len, err, errlen);
	if (!o)
		return -1;
#define GET(key, f)                                                                                      \
	if (get(o, key, &v)) {                                                                           \
		const char *s = str_of(v);                                                               \
		char num[24];                                                                            \
		long long x;                                                                             \
		if (!s && strstr(key, "_port") && json_object_is_type(v, json_type_int) &&               \
		    !int_of(v, 0, 65535, &x)) {                                                          \
			snprintf(num, sizeof(num), "%lld", x);                                           \
			s = num;                                                                         \
		}                                                                                        \
		if (!s) {                                                                                \
			fail(err, errlen, "app_data %s: expected a string", key);                        \
			goto out;                                                                        \
		}                                                                                        \
		if (strlen(s) >= sizeof(a->f)) {                                                         \
			fail(err, errlen, "app_data %s: longer than %zu bytes", key, sizeof(a->f) - 1);  \
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
	char u2[64] = "";

	memset(a, 0, sizeof(*a));
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

/* ------------------------------------------------------------------ host.v1 */

void host_cfg_free(struct host_cfg *h)
{
	free(h->address);
	free(h->allowed_addrs);
	free_strs(h->allowed_hostnames, h->n_allowed_hostnames);
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
	struct json_object *o, *v, *lo;
	char bad[72];
	bool b;
	int rc = -1;

	memset(h, 0, sizeof(*h));
	if (!json)
		return fail(err, errlen, "no host.v1 config");
	o = parse_json(json, strlen(json), err, errlen);
	if (!o)
		return -1;
	/* protocol */
	if (get(o, "forwardProtocol", &v) && !bool_of(v, &b) && b) {
		h->fwd_proto = true;
		if (protos_of(get(o, "allowedProtocols", &v) ? v : NULL, "allowedProtocols", &h->protos, err,
			      errlen))
			goto out;
	} else if (get(o, "protocol", &v)) {
		const char *s = str_of(v);

		if (s && !strcasecmp(s, "tcp"))
			h->protos = SIPOVL_PROTO_TCP;
		else if (s && !strcasecmp(s, "udp"))
			h->protos = SIPOVL_PROTO_UDP;
		else {
			fail(err, errlen, "protocol: expected \"tcp\" or \"udp\"");
			goto out;
		}
	} else {
		fail(err, errlen, "neither protocol nor forwardProtocol");
		goto out;
	}
	/* address */
	if (get(o, "forwardAddress", &v) && !bool_of(v, &b) && b) {
		h->fwd_addr = true;
		if (addrs_of(get(o, "allowedAddresses", &v) ? v : NULL, "allowedAddresses", true, SIZE_MAX,
			     &h->allowed_addrs, &h->n_allowed_addrs, &h->allowed_hostnames, &h->n_allowed_hostnames,
			     err, errlen))
			goto out;
		if (get(o, "forwardAddressTranslations", &v)) {
			size_t n;

			if (!json_object_is_type(v, json_type_array)) {
				fail(err, errlen, "forwardAddressTranslations: expected an array");
				goto out;
			}
			n = json_object_array_length(v);
			h->xlats = calloc(n ? n : 1, sizeof(*h->xlats));
			if (!h->xlats) {
				fail(err, errlen, "out of memory");
				goto out;
			}
			for (size_t i = 0; i < n; i++) {
				struct json_object *x = json_object_array_get_idx(v, i), *f, *t, *pl;
				struct sipovl_prefix from, to;
				long long len;

				if (!x || !json_object_is_type(x, json_type_object) || !get(x, "from", &f) ||
				    !get(x, "to", &t) || !get(x, "prefixLength", &pl) ||
				    cfg_parse_ip(str_of(f), &from) || cfg_parse_ip(str_of(t), &to) ||
				    from.family != to.family || int_of(pl, 0, from.len, &len)) {
					fail(err, errlen,
					     "forwardAddressTranslations[%zu]: expected {\"from\":IP,\"to\":IP of the same family,\"prefixLength\":N}",
					     i);
					goto out;
				}
				from.len = (uint8_t)len;
				prefix_mask(&from);
				h->xlats[h->n_xlats].from = from;
				memcpy(h->xlats[h->n_xlats].to, to.addr, 16);
				h->n_xlats++;
			}
		}
	} else if (get(o, "address", &v)) {
		const char *s = str_of(v);
		struct sipovl_prefix p;

		if (!s || !*s || (looks_like_ip(s) ? cfg_parse_ip(s, &p) != 0 : !valid_hostname(s)) ||
		    s[0] == '*') {
			fail(err, errlen, "address: expected an IP address or a hostname");
			goto out;
		}
		if (!(h->address = strdup(s))) {
			fail(err, errlen, "out of memory");
			goto out;
		}
	} else {
		fail(err, errlen, "neither address nor forwardAddress");
		goto out;
	}
	/* port */
	if (get(o, "forwardPort", &v) && !bool_of(v, &b) && b) {
		h->fwd_port = true;
		if (ports_of(get(o, "allowedPortRanges", &v) ? v : NULL, "allowedPortRanges", &h->allowed_ports,
			     &h->n_allowed_ports, err, errlen))
			goto out;
	} else if (get(o, "port", &v)) {
		long long p;

		if (int_of(v, 1, 65535, &p)) {
			fail(err, errlen, "port: expected 1-65535");
			goto out;
		}
		h->port = (uint16_t)p;
	} else {
		fail(err, errlen, "neither port nor forwardPort");
		goto out;
	}
	if (addrs_of(get(o, "allowedSourceAddresses", &v) ? v : NULL, "allowedSourceAddresses", false,
		     SIPOVL_MAX_TRANSPARENT_SOURCES, &h->allowed_srcs, &h->n_allowed_srcs, NULL, NULL, err, errlen))
		goto out;
	/* listenOptions */
	h->max_connections = 3;
	h->connect_timeout_ms = 5000;
	if (get(o, "listenOptions", &lo)) {
		long long x;

		if (!json_object_is_type(lo, json_type_object)) {
			fail(err, errlen, "listenOptions: expected an object");
			goto out;
		}
		if (get(lo, "bindUsingEdgeIdentity", &v) && bool_of(v, &h->bind_using_edge_identity)) {
			fail(err, errlen, "listenOptions.bindUsingEdgeIdentity: expected true or false");
			goto out;
		}
		if (get(lo, "identity", &v)) {
			const char *s = str_of(v);

			if (!s) {
				fail(err, errlen, "listenOptions.identity: expected a string");
				goto out;
			}
			if (tpl_check(s, true, bad, sizeof(bad))) {
				fail(err, errlen, "listenOptions.identity \"%.40s\": unknown template variable %s "
				     "(hosting knows only $tunneler_id.*)", s, bad);
				goto out;
			}
			if (*s && !(h->listen_identity = strdup(s))) {
				fail(err, errlen, "out of memory");
				goto out;
			}
		}
		if (get(lo, "cost", &v)) {
			if (int_of(v, 0, 65535, &x)) {
				fail(err, errlen, "listenOptions.cost: expected 0-65535");
				goto out;
			}
			h->cost = (uint16_t)x;
		}
		if (get(lo, "precedence", &v)) {
			const char *s = str_of(v);

			if (s && !strcasecmp(s, "default"))
				h->precedence = 0;
			else if (s && !strcasecmp(s, "required"))
				h->precedence = 1;
			else if (s && !strcasecmp(s, "failed"))
				h->precedence = 2;
			else {
				fail(err, errlen, "listenOptions.precedence: expected default, required or failed");
				goto out;
			}
		}
		if (get(lo, "maxConnections", &v)) {
			if (int_of(v, 1, 1000, &x)) {
				fail(err, errlen, "listenOptions.maxConnections: expected 1-1000");
				goto out;
			}
			h->max_connections = (unsigned)x;
		}
		if (get(lo, "connectTimeout", &v)) {
			if (duration_ms(str_of(v), &h->connect_timeout_ms)) {
				fail(err, errlen, "listenOptions.connectTimeout: expected a duration such as \"5s\"");
				goto out;
			}
		} else if (get(lo, "connectTimeoutSeconds", &v)) {
			if (int_of(v, 0, 3600, &x)) {
				fail(err, errlen, "listenOptions.connectTimeoutSeconds: expected 0-3600");
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
			return fail(err, errlen, "host.v1 has forwardProtocol but the dialer sent no dst_protocol");
		pb = proto_bit(a->dst_protocol);
		if (!pb || !(pb & h->protos))
			return fail(err, errlen, "protocol '%s' is not in allowedProtocols", a->dst_protocol);
	} else {
		pb = h->protos;
	}
	t->proto = pb == SIPOVL_PROTO_TCP ? IPPROTO_TCP : IPPROTO_UDP;
	/* port */
	if (h->fwd_port) {
		if (!a->dst_port[0])
			return fail(err, errlen, "host.v1 has forwardPort but the dialer sent no dst_port");
		if (parse_port(a->dst_port, &t->dst_port))
			return fail(err, errlen, "invalid dst_port '%.8s'", a->dst_port);
		if (!cfg_ports_contain(h->allowed_ports, h->n_allowed_ports, t->dst_port))
			return fail(err, errlen, "port %u is not in allowedPortRanges", t->dst_port);
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
			return fail(err, errlen, "hostname %.60s is not in allowedAddresses", a->dst_hostname);
		snprintf(t->dst_host, sizeof(t->dst_host), "%s", a->dst_hostname);
	} else if (h->fwd_addr) {
		if (!fwd[0])
			return fail(err, errlen, "host.v1 has forwardAddress but the dialer sent no dst_ip or dst_hostname");
		if (cfg_parse_ip(fwd, &ip))
			return fail(err, errlen, "invalid dst_ip '%.46s'", fwd);
		if (!cfg_prefixes_contain(h->allowed_addrs, h->n_allowed_addrs, ip.family, ip.addr))
			return fail(err, errlen, "address %s is not in allowedAddresses", fwd);
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
			return fail(err, errlen, "invalid source_addr '%.60s'", a->source_addr);
		if (!h->n_allowed_srcs)
			return fail(err, errlen, "source_addr %.60s given but host.v1 has no allowedSourceAddresses",
				    a->source_addr);
		if (!cfg_prefixes_contain(h->allowed_srcs, h->n_allowed_srcs, t->src.ss_family, cfg_sa_addr(&t->src)))
			return fail(err, errlen, "source_addr %.60s is not in allowedSourceAddresses", a->source_addr);
		if (!t->dst_host[0] && t->src.ss_family != t->dst.ss_family)
			return fail(err, errlen, "source_addr %.60s and the target are of different families",
				    a->source_addr);
		t->has_src = true;
	}
	return 0;
}

int host_listen_identity(const struct host_cfg *h, const struct tpl_vars *ident, char *out, size_t outlen,
			 char *unknown, size_t unknown_len)
{
	struct tpl_vars tv = { .tunneler_name = ident ? ident->tunneler_name : NULL,
			       .attr = ident ? ident->attr : NULL, .attr_arg = ident ? ident->attr_arg : NULL };

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

/* ------------------------------------------------------------------ sipovld.conf */

int cfg_log_level(const char *s)
{
	static const char *const names[] = { "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug" };

	if (!s)
		return -1;
	if (isdigit((unsigned char)s[0]) && !s[1])
		return s[0] - '0' <= 7 ? s[0] - '0' : -1;
	for (int i = 0; i < 8; i++)
		if (!strcasecmp(s, names[i]))
			return i;
	if (!strcasecmp(s, "error"))
		return 3;
	if (!strcasecmp(s, "warn"))
		return 4;
	return -1;
}

void daemon_cfg_defaults(struct daemon_cfg *d)
{
	memset(d, 0, sizeof(*d));
	d->log_level = 6;
	d->udp_idle_ms = 60000;
	d->tcp_idle_ms = 7200u * 1000;
	d->tcp_half_closed_ms = 120000;
	d->tcp_keepalive_s = 60;
	d->memory_limit = 256ull << 20;
	d->policy = SIPOVL_POLICY_DROP;
	d->svc_poll_ms = 10000;
}

void daemon_cfg_free(struct daemon_cfg *d)
{
	for (size_t i = 0; i < d->n_identities; i++)
		free(d->identities[i]);
	free(d->name);
	free(d->ctl_socket);
	free(d->user);
	memset(d, 0, sizeof(*d));
}

static int set_str(char **dst, struct json_object *v, const char *key, char *err, size_t errlen)
{
	const char *s = str_of(v);

	if (!s || !*s)
		return fail(err, errlen, "%s: expected a non-empty string", key);
	free(*dst);
	if (!(*dst = strdup(s)))
		return fail(err, errlen, "out of memory");
	return 0;
}

int daemon_cfg_parse(const char *json, struct daemon_cfg *d, char *err, size_t errlen)
{
	struct json_object *o = parse_json(json, strlen(json), err, errlen);
	int rc = -1;

	if (!o)
		return -1;
	json_object_object_foreach(o, key, v) {
		long long x;

		if (!strcmp(key, "identities") || !strcmp(key, "identity")) {
			size_t n = 1;
			bool arr = json_object_is_type(v, json_type_array);

			if (arr)
				n = json_object_array_length(v);
			if (!n || n > DCFG_MAX_IDENTITIES) {
				fail(err, errlen, "%s: 1 to %d identity files", key, DCFG_MAX_IDENTITIES);
				goto out;
			}
			for (size_t i = 0; i < d->n_identities; i++)
				free(d->identities[i]);
			d->n_identities = 0;
			for (size_t i = 0; i < n; i++) {
				char *s = NULL;

				if (set_str(&s, arr ? json_object_array_get_idx(v, i) : v, key, err, errlen))
					goto out;
				d->identities[d->n_identities++] = s;
			}
		} else if (!strcmp(key, "name")) {
			if (set_str(&d->name, v, key, err, errlen))
				goto out;
		} else if (!strcmp(key, "log_level")) {
			int l = json_object_is_type(v, json_type_int) ? (int_of(v, 0, 7, &x) ? -1 : (int)x) :
									  cfg_log_level(str_of(v));

			if (l < 0) {
				fail(err, errlen, "log_level: expected err, warning, notice, info, debug or 0-7");
				goto out;
			}
			d->log_level = l;
		} else if (!strcmp(key, "udp_idle_timeout_s")) {
			if (int_of(v, 1, 86400, &x)) {
				fail(err, errlen, "%s: expected 1-86400", key);
				goto out;
			}
			d->udp_idle_ms = (unsigned)x * 1000;
		} else if (!strcmp(key, "tcp_idle_timeout_s")) {
			if (int_of(v, 1, 604800, &x)) {
				fail(err, errlen, "%s: expected 1-604800", key);
				goto out;
			}
			d->tcp_idle_ms = (unsigned)x * 1000;
		} else if (!strcmp(key, "tcp_half_closed_timeout_s")) {
			if (int_of(v, 1, 86400, &x)) {
				fail(err, errlen, "%s: expected 1-86400", key);
				goto out;
			}
			d->tcp_half_closed_ms = (unsigned)x * 1000;
		} else if (!strcmp(key, "tcp_keepalive_s")) {
			if (int_of(v, 0, 7200, &x)) {
				fail(err, errlen, "%s: expected 0 (off) or 1-7200", key);
				goto out;
			}
			d->tcp_keepalive_s = (unsigned)x;
		} else if (!strcmp(key, "memory_limit_mb")) {
			if (int_of(v, 1, 1 << 20, &x)) {
				fail(err, errlen, "%s: expected 1-1048576", key);
				goto out;
			}
			d->memory_limit = (uint64_t)x << 20;
		} else if (!strcmp(key, "memory_limit_bytes")) { /* tests */
			if (int_of(v, 4096, LLONG_MAX, &x)) {
				fail(err, errlen, "%s: expected at least 4096", key);
				goto out;
			}
			d->memory_limit = (uint64_t)x;
		} else if (!strcmp(key, "control_socket")) {
			if (set_str(&d->ctl_socket, v, key, err, errlen))
				goto out;
		} else if (!strcmp(key, "user")) {
			if (set_str(&d->user, v, key, err, errlen))
				goto out;
		} else if (!strcmp(key, "intercept_policy")) {
			const char *s = str_of(v);

			if (s && !strcmp(s, "drop"))
				d->policy = SIPOVL_POLICY_DROP;
			else if (s && !strcmp(s, "pass"))
				d->policy = SIPOVL_POLICY_PASS;
			else {
				fail(err, errlen, "intercept_policy: expected \"drop\" or \"pass\"");
				goto out;
			}
		} else if (!strcmp(key, "service_poll_s")) {
			if (int_of(v, 1, 3600, &x)) {
				fail(err, errlen, "%s: expected 1-3600", key);
				goto out;
			}
			d->svc_poll_ms = (unsigned)x * 1000;
		} else {
			fail(err, errlen, "unknown key \"%.40s\"", key);
			goto out;
		}
	}
	rc = 0;
out:
	json_object_put(o);
	return rc;
}
