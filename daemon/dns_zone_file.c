// SPDX-License-Identifier: GPL-2.0
/*
 * The DNS responder's name table as text (dns_zone.h: dns_zone_dump, dns_zone_load), for the
 * file sipovld keeps it in (dns_server.c writes it off the event loop and reads it at start).
 * I/O free: tests/daemon/dns_unit.c and the fuzzer (tests/daemon/dns_fuzz.c) load what they
 * like. The loader trusts nothing: a file cut short (no "end" line), a line too long, an
 * address outside the ranges, a name that is not one, a name or an address twice, more names
 * than the table holds: the zone is left empty and @err says which line.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/dns_zone_int.h"
#include "daemon/errf.h"

#define MAGIC "sipovl-dns-names"
#define LINE_MAX_LEN (INET6_ADDRSTRLEN + DNS_NAME_STRLEN + 2)

/* "ADDR/LEN", or "-" for a family not answered */
static void fmt_range(const struct sipovl_prefix *p, bool has, char *out, size_t outlen)
{
	char a[INET6_ADDRSTRLEN];

	if (!has || !inet_ntop(p->family, p->addr, a, sizeof(a)))
		snprintf(out, outlen, "-");
	else
		snprintf(out, outlen, "%s/%u", a, p->len);
}

/* the family the file's addresses are written in */
static int file_family(const struct dns_zone *z)
{
	return z->has4 ? AF_INET : AF_INET6;
}

static int by_idx(const void *a, const void *b)
{
	const struct zname *x = *(const struct zname *const *)a, *y = *(const struct zname *const *)b;

	return (x->idx > y->idx) - (x->idx < y->idx);
}

char *dns_zone_dump(const struct dns_zone *z, size_t *len)
{
	const struct zname **v = malloc((z->n_names ? z->n_names : 1) * sizeof(*v));
	size_t cap = 128, o;
	char *buf, r4[64], r6[64];

	*len = 0;
	for (size_t i = 0; i < z->n_names; i++)
		cap += strlen(z->names[i].name) + INET6_ADDRSTRLEN + 2;
	buf = v ? malloc(cap) : NULL;
	if (!buf) {
		free(v);
		return NULL;
	}
	for (size_t i = 0; i < z->n_names; i++)
		v[i] = &z->names[i];
	qsort(v, z->n_names, sizeof(*v), by_idx); /* by address: two gateways' files compare line by line */
	fmt_range(&z->r4, z->has4, r4, sizeof(r4));
	fmt_range(&z->r6, z->has6, r6, sizeof(r6));
	o = (size_t)snprintf(buf, cap, MAGIC " 1 %s %s\n", r4, r6);
	for (size_t i = 0; i < z->n_names; i++) {
		uint8_t a[16];
		char as[INET6_ADDRSTRLEN];

		dz_addr_of(z, v[i]->idx, file_family(z), a);
		inet_ntop(file_family(z), a, as, sizeof(as));
		o += (size_t)snprintf(buf + o, cap - o, "%s %s\n", as, v[i]->name);
	}
	o += (size_t)snprintf(buf + o, cap - o, "end %zu\n", z->n_names);
	free(v);
	*len = o;
	return buf;
}

/* a name as the zone keeps one: lower case, no final dot, presentation form of a DNS name */
static bool name_ok(const char *s)
{
	uint8_t w[DNS_WIRE_NAME_MAX + 1];

	if (!*s || strlen(s) >= DNS_NAME_STRLEN || s[strlen(s) - 1] == '.')
		return false;
	for (const char *c = s; *c; c++)
		if ((*c >= 'A' && *c <= 'Z') || (unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f)
			return false;
	return dns_name_wire(s, w, sizeof(w)) > 1;
}

static int by_name(const void *a, const void *b)
{
	return strcmp((*(const struct zname *const *)a)->name, (*(const struct zname *const *)b)->name);
}

/* splits @line at single spaces into at most @max words; the count, or max + 1 when more */
static size_t words(char *line, char **w, size_t max)
{
	size_t n = 0;

	for (char *p = line; *p;) {
		if (n == max)
			return max + 1;
		w[n++] = p;
		p = strchr(p, ' ');
		if (!p)
			break;
		*p++ = 0;
	}
	return n;
}

static int load(struct dns_zone *z, const char *buf, size_t len, char *err, size_t errlen)
{
	char line[LINE_MAX_LEN + 1], *w[5], r4[64], r6[64];
	size_t pos = 0, lineno = 0;
	bool ended = false;

	if (memchr(buf, 0, len))
		return errf(err, errlen, "contains a NUL byte");
	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t ll, nw;
		uint8_t a[16];
		uint32_t idx;

		lineno++;
		if (!nl)
			return errf(err, errlen, "line %zu: not terminated by a newline (truncated file?)", lineno);
		ll = (size_t)(nl - (buf + pos));
		if (ll > LINE_MAX_LEN)
			return errf(err, errlen, "line %zu: longer than %d bytes", lineno, LINE_MAX_LEN);
		memcpy(line, buf + pos, ll);
		line[ll] = 0;
		pos += ll + 1;
		if (ended)
			return errf(err, errlen, "line %zu: after the \"end\" line", lineno);
		nw = words(line, w, 4);
		if (lineno == 1) {
			if (nw != 4 || strcmp(w[0], MAGIC) || strcmp(w[1], "1"))
				return errf(err, errlen, "line 1: expected \"" MAGIC " 1 RANGE4 RANGE6\"");
			fmt_range(&z->r4, z->has4, r4, sizeof(r4));
			fmt_range(&z->r6, z->has6, r6, sizeof(r6));
			if (strcmp(w[2], r4) || strcmp(w[3], r6)) {
				errf(err, errlen, "for the ranges %.50s %.50s, not %s %s", w[2], w[3], r4, r6);
				return -2;
			}
			continue;
		}
		if (nw == 2 && !strcmp(w[0], "end")) {
			char *e;
			unsigned long n = strtoul(w[1], &e, 10);

			if (*e || !*w[1] || w[1][0] == '-' || n != z->n_names)
				return errf(err, errlen, "line %zu: \"end %.20s\", but %zu names were read", lineno, w[1],
					    z->n_names);
			ended = true;
			continue;
		}
		if (nw != 2 || inet_pton(file_family(z), w[0], a) != 1 || !name_ok(w[1]))
			return errf(err, errlen, "line %zu: expected \"ADDRESS NAME\" (an %s address, a lower-case DNS name)",
				    lineno, file_family(z) == AF_INET ? "IPv4" : "IPv6");
		if (!(idx = dz_idx_of(z, file_family(z), a)))
			return errf(err, errlen, "line %zu: %s is not an address of the range", lineno, w[0]);
		if (dz_holder(z, idx))
			return errf(err, errlen, "line %zu: %s given twice (%s and %s)", lineno, w[0],
				    z->names[dz_holder(z, idx) - 1].name, w[1]);
		if (z->n_names >= z->max)
			return errf(err, errlen, "line %zu: more than %u names", lineno, z->max);
		if (dz_add(z, w[1], idx))
			return errf(err, errlen, "out of memory");
	}
	if (!lineno)
		return errf(err, errlen, "empty");
	if (!ended)
		return errf(err, errlen, "no \"end\" line (truncated file?)");
	if (z->n_names > 1) { /* a name twice */
		const struct zname **v = malloc(z->n_names * sizeof(*v));

		if (!v)
			return errf(err, errlen, "out of memory");
		for (size_t i = 0; i < z->n_names; i++)
			v[i] = &z->names[i];
		qsort(v, z->n_names, sizeof(*v), by_name);
		for (size_t i = 1; i < z->n_names; i++)
			if (!strcmp(v[i]->name, v[i - 1]->name)) {
				errf(err, errlen, "%s given two addresses", v[i]->name);
				free(v);
				return -1;
			}
		free(v);
	}
	return 0;
}

int dns_zone_load(struct dns_zone *z, const char *buf, size_t len, char *err, size_t errlen)
{
	uint64_t gen = z->gen;
	int rc;

	if (z->n_names)
		return errf(err, errlen, "the table is not empty");
	rc = load(z, buf, len, err, errlen);
	if (rc) {
		while (z->n_names)
			dz_drop(z, z->n_names - 1);
		z->gen = gen; /* as it was: nothing to save */
		return rc;
	}
	for (size_t i = 0; i < z->n_names; i++) {
		z->names[i].last = z->now;
		z->names[i].hold = z->now + z->idle + 1;
	}
	z->st.restored += z->n_names;
	return (int)z->n_names;
}
