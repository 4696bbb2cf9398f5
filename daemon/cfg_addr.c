// SPDX-License-Identifier: GPL-2.0
/*
 * sipovld configuration model (I/O free, see cfg.h): addresses: prefixes, ports, socket addresses.
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

void cfg_prefix_mask(struct sipovl_prefix *p)
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
	cfg_prefix_mask(p);
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

int cfg_parse_port(const char *s, uint16_t *port)
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
	if (port && cfg_parse_port(port, &p))
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

int cfg_prefixes_without(const struct sipovl_prefix *in, size_t n, uint16_t family, const uint8_t *addr,
			 struct sipovl_prefix **out, size_t *nout)
{
	unsigned bits = family == AF_INET ? 32 : 128;
	size_t cap = 0, k = 0;
	struct sipovl_prefix *v;

	for (size_t i = 0; i < n; i++)
		cap += cfg_prefix_contains(&in[i], family, addr) ? bits - in[i].len : 1;
	*out = NULL;
	*nout = 0;
	if (!cap)
		return 0;
	if (!(v = calloc(cap, sizeof(*v))))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!cfg_prefix_contains(&in[i], family, addr)) {
			v[k++] = in[i];
			continue;
		}
		/* the halves that do not hold @addr, from the widest down to its sibling /bits */
		for (unsigned l = in[i].len; l < bits; l++) {
			struct sipovl_prefix q = { .family = family, .len = (uint8_t)(l + 1) };

			memcpy(q.addr, addr, family == AF_INET ? 4 : 16);
			q.addr[l / 8] ^= (uint8_t)(0x80u >> (l % 8));
			cfg_prefix_mask(&q);
			v[k++] = q;
		}
	}
	*out = v;
	*nout = k;
	return 0;
}
