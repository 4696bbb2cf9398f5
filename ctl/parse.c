// SPDX-License-Identifier: GPL-2.0
/*
 * sipovlctl parsers and canonical formatters (no netlink). See parse.h and
 * Documentation/sipovlctl-config.md for the grammar.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "ctl/parse.h"
#include "ctl/parse_int.h"

void ctl_errf(struct ctl_err *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

/* Length of the valid UTF-8 sequence at @s, or 0 (RFC 3629: no overlongs,
 * no surrogates, at most U+10FFFF). */
static size_t utf8_seq(const unsigned char *s)
{
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (s[0] >= 0xe0 && s[0] <= 0xef) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
		    (s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f))
			return 0;
		return 3;
	}
	if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
		    (s[3] & 0xc0) != 0x80 || (s[0] == 0xf0 && s[1] < 0x90) ||
		    (s[0] == 0xf4 && s[1] > 0x8f))
			return 0;
		return 4;
	}
	return 0;
}

#define TOKQ_MAX 80

const char *tokq(char buf[TOKQ_LEN], const char *tok)
{
	size_t o = 0, i;

	buf[o++] = '"';
	for (i = 0; tok[i] && i < TOKQ_MAX; i++) {
		unsigned char c = (unsigned char)tok[i];
		size_t l = c >= 0x80 ? utf8_seq((const unsigned char *)tok + i) : 0;

		if (c == '"' || c == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)c;
		} else if (l && i + l <= TOKQ_MAX) {
			memcpy(buf + o, tok + i, l);	/* valid UTF-8 as is */
			o += l;
			i += l - 1;
		} else if (c < 0x20 || c >= 0x7f) {
			o += (size_t)sprintf(buf + o, "\\x%02x", c);
		} else {
			buf[o++] = (char)c;
		}
	}
	buf[o++] = '"';
	if (tok[i]) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static bool digits_n(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return n > 0;
}

bool is_id_token(const char *tok)
{
	return all_digits(tok);
}

/* Decimal 0..max from the whole of [s, s+len); digits only. */
static bool parse_uint(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (!len || len > 20)
		return false;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > max)
			return false;
	}
	*out = v;
	return true;
}

/* ---- single values ---------------------------------------------------- */

int parse_addr(const char *tok, uint16_t *family, uint8_t addr[16],
	       struct ctl_err *err)
{
	char q[TOKQ_LEN];

	memset(addr, 0, 16);
	if (strchr(tok, ':') ? inet_pton(AF_INET6, tok, addr) == 1 :
			       inet_pton(AF_INET, tok, addr) == 1) {
		*family = strchr(tok, ':') ? AF_INET6 : AF_INET;
		return 0;
	}
	ctl_errf(err, "bad address %s: not an IPv4 or IPv6 address", tokq(q, tok));
	return -1;
}

/*
 * Dotted quad without leading zeros ("10.2.0.0"), the common case, without
 * inet_pton(): a subset of what inet_pton(AF_INET) accepts, with the same
 * result. Returns false for everything else (then inet_pton decides).
 */
static bool ipv4_simple(const char *s, uint8_t out[4])
{
	unsigned int i, v, d;

	for (i = 0; i < 4; i++) {
		if (*s < '0' || *s > '9')
			return false;
		v = (unsigned int)(*s++ - '0');
		for (d = 1; *s >= '0' && *s <= '9'; d++) {
			if (d == 3 || !v)
				return false;	/* 4 digits or a leading zero */
			v = v * 10 + (unsigned int)(*s++ - '0');
		}
		if (v > 255 || *s != (i < 3 ? '.' : '\0'))
			return false;
		out[i] = (uint8_t)v;
		s++;
	}
	return true;
}

int parse_prefix(const char *tok, struct sipovl_prefix *p, struct ctl_err *err)
{
	const char *slash = strchr(tok, '/');
	char addr[INET6_ADDRSTRLEN + 1], q[TOKQ_LEN];
	size_t alen = slash ? (size_t)(slash - tok) : strlen(tok);
	unsigned int max, i;
	uint64_t len;
	bool v6;

	memset(p, 0, sizeof(*p));
	if (!*tok) {
		ctl_errf(err, "bad prefix \"\": empty");
		return -1;
	}
	v6 = memchr(tok, ':', alen) != NULL;
	max = v6 ? 128 : 32;
	if (alen >= sizeof(addr))
		goto bad_addr;
	memcpy(addr, tok, alen);
	addr[alen] = '\0';
	if ((v6 || !ipv4_simple(addr, p->addr)) &&
	    inet_pton(v6 ? AF_INET6 : AF_INET, addr, p->addr) != 1)
		goto bad_addr;
	p->family = v6 ? AF_INET6 : AF_INET;

	if (!slash) {
		p->len = (uint8_t)max;
		return 0;
	}
	if (!slash[1]) {
		ctl_errf(err, "bad prefix %s: missing prefix length after \"/\"",
			 tokq(q, tok));
		return -1;
	}
	if (!parse_uint(slash + 1, strlen(slash + 1), max, &len)) {
		ctl_errf(err, "bad prefix %s: prefix length must be 0-%u",
			 tokq(q, tok), max);
		return -1;
	}
	p->len = (uint8_t)len;

	/* Host bits must be zero: say so, never mask silently. */
	for (i = p->len; i < max; i++) {
		if (p->addr[i / 8] & (0x80 >> (i % 8))) {
			struct sipovl_prefix m = *p;
			char net[PREFIX_STRLEN];
			unsigned int j;

			for (j = p->len; j < max; j++)
				m.addr[j / 8] &= (uint8_t)~(0x80 >> (j % 8));
			ctl_errf(err, "bad prefix %s: host bits set (did you mean %s?)",
				 tokq(q, tok), fmt_prefix(net, &m));
			return -1;
		}
	}
	return 0;

bad_addr:
	ctl_errf(err, "bad prefix %s: not an IPv4 or IPv6 address%s",
		 tokq(q, tok), slash ? "" : " or prefix");
	return -1;
}

int parse_port(const char *tok, uint16_t *port, struct ctl_err *err)
{
	char q[TOKQ_LEN];
	uint64_t v;

	if (!parse_uint(tok, strlen(tok), 65535, &v)) {
		ctl_errf(err, "bad port %s: must be 0-65535", tokq(q, tok));
		return -1;
	}
	*port = (uint16_t)v;
	return 0;
}

int parse_port_range(const char *tok, struct sipovl_portrange *r,
		     struct ctl_err *err)
{
	const char *dash = strchr(tok, '-');
	size_t llen = dash ? (size_t)(dash - tok) : strlen(tok);
	char q[TOKQ_LEN];
	uint64_t lo, hi;

	if (!*tok) {
		ctl_errf(err, "bad port range \"\": empty");
		return -1;
	}
	if (!llen || !digits_n(tok, llen) ||
	    (dash && (!dash[1] || !all_digits(dash + 1)))) {
		ctl_errf(err, "bad port range %s: expected PORT or LOW-HIGH (0-65535)",
			 tokq(q, tok));
		return -1;
	}
	if (!parse_uint(tok, llen, 65535, &lo) ||
	    (dash && !parse_uint(dash + 1, strlen(dash + 1), 65535, &hi))) {
		ctl_errf(err, "bad port range %s: port must be 0-65535",
			 tokq(q, tok));
		return -1;
	}
	if (!dash)
		hi = lo;
	if (lo > hi) {
		ctl_errf(err, "bad port range %s: low > high", tokq(q, tok));
		return -1;
	}
	r->low = (uint16_t)lo;
	r->high = (uint16_t)hi;
	return 0;
}

int parse_protos(const char *tok, uint32_t *protos, struct ctl_err *err)
{
	const char *s = tok;
	char q[TOKQ_LEN], q2[TOKQ_LEN];

	*protos = 0;
	if (!*tok) {
		ctl_errf(err, "bad protocol \"\": expected tcp, udp or tcp,udp");
		return -1;
	}
	for (;;) {
		size_t l = strcspn(s, ",");
		char word[8];
		uint32_t bit;

		if (l == 3 && !strncmp(s, "tcp", 3)) {
			bit = SIPOVL_PROTO_TCP;
		} else if (l == 3 && !strncmp(s, "udp", 3)) {
			bit = SIPOVL_PROTO_UDP;
		} else if (!l) {
			ctl_errf(err, "bad protocol list %s: empty element",
				 tokq(q, tok));
			return -1;
		} else {
			char *w = strndup(s, l);

			if (!w) {
				ctl_errf(err, "out of memory");
				return -1;
			}
			ctl_errf(err, "bad protocol %s: expected tcp or udp",
				 tokq(q, w));
			free(w);
			return -1;
		}
		if (*protos & bit) {
			snprintf(word, sizeof(word), "%.3s", s);
			ctl_errf(err, "bad protocol list %s: %s listed twice",
				 tokq(q, tok), tokq(q2, word));
			return -1;
		}
		*protos |= bit;
		if (!s[l])
			return 0;
		s += l + 1;
	}
}

int parse_l4proto(const char *tok, uint8_t *proto, struct ctl_err *err)
{
	char q[TOKQ_LEN];

	if (!strcmp(tok, "tcp")) {
		*proto = IPPROTO_TCP;
	} else if (!strcmp(tok, "udp")) {
		*proto = IPPROTO_UDP;
	} else {
		ctl_errf(err, "bad protocol %s: expected tcp or udp", tokq(q, tok));
		return -1;
	}
	return 0;
}

int parse_policy(const char *tok, uint8_t *policy, struct ctl_err *err)
{
	char q[TOKQ_LEN];

	if (!strcmp(tok, "drop")) {
		*policy = SIPOVL_POLICY_DROP;
	} else if (!strcmp(tok, "pass")) {
		*policy = SIPOVL_POLICY_PASS;
	} else if (!strcmp(tok, "reject")) {
		*policy = SIPOVL_POLICY_REJECT;
	} else {
		ctl_errf(err, "bad policy %s: expected drop, pass or reject", tokq(q, tok));
		return -1;
	}
	return 0;
}

int parse_id(const char *tok, uint32_t *id, struct ctl_err *err)
{
	char q[TOKQ_LEN];
	uint64_t v;

	if (!parse_uint(tok, strlen(tok), UINT32_MAX, &v) || v == 0) {
		ctl_errf(err, "bad id %s: must be 1-%u", tokq(q, tok), UINT32_MAX);
		return -1;
	}
	*id = (uint32_t)v;
	return 0;
}

bool utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t l;

	while (*p) {
		l = utf8_seq(p);
		if (!l)
			return false;
		p += l;
	}
	return true;
}

void utf8_sanitize(char *dst, size_t size, const char *src)
{
	const unsigned char *p = (const unsigned char *)src;
	size_t o = 0, l;

	while (*p && o + 4 < size) {
		l = utf8_seq(p);
		if (l) {
			memcpy(dst + o, p, l);
			o += l;
			p += l;
		} else {
			memcpy(dst + o, "\xef\xbf\xbd", 3);	/* U+FFFD */
			o += 3;
			p++;
		}
	}
	dst[o] = '\0';
}

int parse_name(const char *tok, char name[SIPOVL_NAME_MAXLEN],
	       struct ctl_err *err)
{
	size_t len = strlen(tok), i;
	char q[TOKQ_LEN];

	if (!len) {
		ctl_errf(err, "bad name \"\": empty");
		return -1;
	}
	if (len >= SIPOVL_NAME_MAXLEN) {
		ctl_errf(err, "bad name %s: longer than %d bytes", tokq(q, tok),
			 SIPOVL_NAME_MAXLEN - 1);
		return -1;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)tok[i];

		if (c < 0x20 || c == 0x7f) {
			ctl_errf(err, "bad name %s: control characters are not allowed",
				 tokq(q, tok));
			return -1;
		}
	}
	if (!utf8_valid(tok)) {
		ctl_errf(err, "bad name %s: not valid UTF-8", tokq(q, tok));
		return -1;
	}
	if (tok[0] == '-') {
		ctl_errf(err, "bad name %s: must not start with \"-\"", tokq(q, tok));
		return -1;
	}
	if (all_digits(tok)) {
		ctl_errf(err, "bad name %s: all digits (that is an id)", tokq(q, tok));
		return -1;
	}
	memcpy(name, tok, len + 1);
	return 0;
}

/* ---- lists ------------------------------------------------------------ */

/*
 * Arrays of the intercepts of a configuration file come from an arena of
 * large blocks owned by the ctl_config: two calloc()s per intercept and their
 * free()s were a fifth of the instructions of parsing a large file. Arena
 * memory never moves (apply's sender thread reads it while parsing goes on)
 * and is freed only with the configuration. With @a NULL, calloc().
 */
#define ARENA_BLOCK (64 * 1024)

struct ctl_arena {
	struct ctl_arena *next;
	size_t used, size;
	uint32_t data[];
};

/* The arena's alignment (4) suits the arrays it holds. */
_Static_assert(_Alignof(struct sipovl_prefix) <= 4 &&
	       _Alignof(struct sipovl_portrange) <= 4, "arena alignment");

static void *arena_alloc(struct ctl_arena **a, size_t n, size_t size)
{
	struct ctl_arena *b;
	size_t bytes = n * size, sz;
	void *p;

	if (!a)
		return calloc(n, size);
	bytes = (bytes + 3) & ~(size_t)3;
	b = *a;
	if (!b || b->size - b->used < bytes) {
		sz = bytes > ARENA_BLOCK ? bytes : ARENA_BLOCK;
		b = malloc(sizeof(*b) + sz);
		if (!b)
			return NULL;
		b->size = sz;
		b->used = 0;
		b->next = *a;
		*a = b;
	}
	p = (char *)b->data + b->used;
	b->used += bytes;
	/* Every element is written in full by its parser: no zeroing. */
	return p;
}

static void arena_undo(struct ctl_arena **a, void *p)
{
	/* Arena memory is freed with the configuration. */
	if (!a)
		free(p);
}

void arena_free(struct ctl_arena *a)
{
	struct ctl_arena *next;

	for (; a; a = next) {
		next = a->next;
		free(a);
	}
}

/* Calls @fn for each comma-separated element; empty elements are errors. */
static int split_list(const char *tok, const char *what, uint32_t max,
		      uint32_t *count, struct ctl_err *err)
{
	const char *s = tok;
	char q[TOKQ_LEN];
	uint32_t n = 1;
	bool empty = tok[0] == ',';

	if (!*tok) {
		ctl_errf(err, "bad %s list \"\": empty", what);
		return -1;
	}
	for (; *s; s++) {
		if (*s == ',') {
			n++;
			if (s[1] == ',' || !s[1])
				empty = true;	/* ",," or a trailing comma */
		}
	}
	if (empty) {
		ctl_errf(err, "bad %s list %s: empty element", what, tokq(q, tok));
		return -1;
	}
	if (n > max) {
		ctl_errf(err, "bad %s list %s: %u elements, at most %u", what,
			 tokq(q, tok), n, max);
		return -1;
	}
	*count = n;
	return 0;
}

static char *next_elem(const char **s, char *buf, size_t size)
{
	size_t l = strcspn(*s, ","), c = l;

	if (c >= size)
		c = size - 1;	/* too long to be valid anyway */
	memcpy(buf, *s, c);
	buf[c] = '\0';
	*s += l;
	if (**s)
		(*s)++;
	return buf;
}

static bool prefix_eq(const struct sipovl_prefix *a, const struct sipovl_prefix *b)
{
	return a->family == b->family && a->len == b->len &&
	       !memcmp(a->addr, b->addr, sizeof(a->addr));
}

static int prefix_list(const char *tok, const char *what, uint32_t max,
		       struct sipovl_prefix **v, uint32_t *n,
		       struct ctl_arena **a, struct ctl_err *err)
{
	char elem[TOKQ_MAX + 2], q[TOKQ_LEN], q2[TOKQ_LEN], buf[PREFIX_STRLEN];
	const char *s = tok;
	uint32_t cnt, i, j;

	*v = NULL;
	*n = 0;
	if (split_list(tok, what, max, &cnt, err))
		return -1;
	*v = arena_alloc(a, cnt, sizeof(**v));
	if (!*v) {
		ctl_errf(err, "out of memory");
		return -1;
	}
	for (i = 0; i < cnt; i++) {
		if (parse_prefix(next_elem(&s, elem, sizeof(elem)), &(*v)[i], err))
			goto fail;
		for (j = 0; j < i; j++) {
			if (prefix_eq(&(*v)[i], &(*v)[j])) {
				ctl_errf(err, "bad %s list %s: %s listed twice", what,
					 tokq(q, tok),
					 tokq(q2, fmt_prefix(buf, &(*v)[i])));
				goto fail;
			}
		}
	}
	*n = cnt;
	return 0;
fail:
	arena_undo(a, *v);
	*v = NULL;
	return -1;
}

int parse_prefix_list(const char *tok, const char *what, uint32_t max,
		      struct sipovl_prefix **v, uint32_t *n, struct ctl_err *err)
{
	return prefix_list(tok, what, max, v, n, NULL, err);
}

static int port_list(const char *tok, struct sipovl_portrange **v, uint32_t *n,
		     struct ctl_arena **a, struct ctl_err *err)
{
	char elem[TOKQ_MAX + 2], q[TOKQ_LEN], q2[TOKQ_LEN], buf[16];
	const char *s = tok;
	uint32_t cnt, i, j;

	*v = NULL;
	*n = 0;
	if (split_list(tok, "port", SIPOVL_MAX_PORT_RANGES, &cnt, err))
		return -1;
	*v = arena_alloc(a, cnt, sizeof(**v));
	if (!*v) {
		ctl_errf(err, "out of memory");
		return -1;
	}
	for (i = 0; i < cnt; i++) {
		if (parse_port_range(next_elem(&s, elem, sizeof(elem)), &(*v)[i], err))
			goto fail;
		for (j = 0; j < i; j++) {
			if ((*v)[i].low == (*v)[j].low && (*v)[i].high == (*v)[j].high) {
				ctl_errf(err, "bad port list %s: %s listed twice",
					 tokq(q, tok),
					 tokq(q2, fmt_portrange(buf, &(*v)[i])));
				goto fail;
			}
		}
	}
	*n = cnt;
	return 0;
fail:
	arena_undo(a, *v);
	*v = NULL;
	return -1;
}

int parse_port_list(const char *tok, struct sipovl_portrange **v, uint32_t *n,
		    struct ctl_err *err)
{
	return port_list(tok, v, n, NULL, err);
}

/* ---- intercepts ------------------------------------------------------- */

enum { KW_ID, KW_PROTO, KW_ADDR, KW_PORT, KW_SRC, KW_POLICY, KW_MAX };
static const char *const keywords[KW_MAX] = {
	"id", "proto", "addr", "port", "src", "policy"
};

/* Index in keywords[] of @kw, KW_MAX if it is none. */
static int keyword(const char *kw)
{
	int k;

	for (k = 0; k < KW_MAX; k++)
		if (kw[0] == keywords[k][0] && !strcmp(kw, keywords[k]))
			return k;
	return KW_MAX;
}

int intercept_args(int argc, char **argv, bool full,
		   struct sipovl_intercept *in, struct ctl_arena **a,
		   struct ctl_err *err)
{
	bool seen[KW_MAX] = { false };
	char q[TOKQ_LEN];
	int i, k;

	memset(in, 0, sizeof(*in));
	if (argc < 1) {
		ctl_errf(err, "missing intercept name");
		return -1;
	}
	if (parse_name(argv[0], in->name, err))
		return -1;
	in->present |= SIPOVL_I_NAME;

	for (i = 1; i < argc; i += 2) {
		const char *kw = argv[i], *val;

		k = keyword(kw);
		if (k == KW_MAX) {
			ctl_errf(err, "unknown keyword %s: expected id, proto, addr, port, src or policy",
				 tokq(q, kw));
			goto fail;
		}
		if (seen[k]) {
			ctl_errf(err, "keyword %s given twice", tokq(q, kw));
			goto fail;
		}
		seen[k] = true;
		if (i + 1 >= argc) {
			ctl_errf(err, "missing value after %s", tokq(q, kw));
			goto fail;
		}
		val = argv[i + 1];
		switch (k) {
		case KW_ID:
			if (parse_id(val, &in->id, err))
				goto fail;
			in->present |= SIPOVL_I_ID;
			break;
		case KW_PROTO:
			if (parse_protos(val, &in->protos, err))
				goto fail;
			in->present |= SIPOVL_I_PROTOS;
			break;
		case KW_ADDR:
			if (prefix_list(val, "destination", SIPOVL_MAX_PREFIXES,
					&in->dsts, &in->n_dsts, a, err))
				goto fail;
			break;
		case KW_PORT:
			if (port_list(val, &in->ports, &in->n_ports, a, err))
				goto fail;
			break;
		case KW_SRC:
			if (prefix_list(val, "source", SIPOVL_MAX_PREFIXES,
					&in->srcs, &in->n_srcs, a, err))
				goto fail;
			break;
		case KW_POLICY:
			if (parse_policy(val, &in->policy, err))
				goto fail;
			in->present |= SIPOVL_I_POLICY;
			break;
		}
	}
	if (full) {
		if (!seen[KW_PROTO]) {
			ctl_errf(err, "missing \"proto\": expected tcp, udp or tcp,udp");
			goto fail;
		}
		if (!seen[KW_ADDR]) {
			ctl_errf(err, "missing \"addr\": expected destination prefixes (10.2.0.0/16,fd00:2::/48)");
			goto fail;
		}
		if (!seen[KW_PORT]) {
			ctl_errf(err, "missing \"port\": expected port ranges (5060,10000-20000)");
			goto fail;
		}
		in->present |= SIPOVL_I_POLICY;
	}
	return 0;
fail:
	if (a)
		memset(in, 0, sizeof(*in));
	else
		sipovl_intercept_release(in);
	return -1;
}

int parse_intercept_args(int argc, char **argv, bool full,
			 struct sipovl_intercept *in, struct ctl_err *err)
{
	return intercept_args(argc, argv, full, in, NULL, err);
}

