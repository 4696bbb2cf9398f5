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

void ctl_errf(struct ctl_err *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

/* Prefixes an existing message with "FNAME:LINE: ". */
static void err_at(struct ctl_err *err, const char *fname, unsigned int line)
{
	char tmp[sizeof(err->msg)];

	memcpy(tmp, err->msg, sizeof(tmp));
	snprintf(err->msg, sizeof(err->msg), "%.400s:%u: %.560s", fname, line, tmp);
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
	} else {
		ctl_errf(err, "bad policy %s: expected drop or pass", tokq(q, tok));
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

static void arena_free(struct ctl_arena *a)
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

static int intercept_args(int argc, char **argv, bool full,
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

/* ---- configuration files ---------------------------------------------- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Byte classes of the tokenizer: one table load per byte of a long file. */
enum { C_SPACE = 1, C_STOP = 2 };	/* C_STOP: ends an unquoted word */
static const unsigned char cclass[256] = {
	[' '] = C_SPACE | C_STOP, ['\t'] = C_SPACE | C_STOP,
	['\r'] = C_SPACE | C_STOP, ['\n'] = C_SPACE | C_STOP,
	['\v'] = C_SPACE | C_STOP, ['\f'] = C_SPACE | C_STOP,
	['\0'] = C_STOP, ['"'] = C_STOP,
};

static bool is_space(char c)
{
	return cclass[(unsigned char)c] & C_SPACE;
}

int tokenize_line(char *line, char ***toks, int *cap, struct ctl_err *err)
{
	char *r = line, *w;
	int n = 0;

	for (;;) {
		while (cclass[(unsigned char)*r] & C_SPACE)
			r++;
		if (!*r || *r == '#')
			return n;
		if (n == *cap) {
			int c = *cap ? *cap * 2 : 16;
			char **p = realloc(*toks, (size_t)c * sizeof(**toks));

			if (!p) {
				ctl_errf(err, "out of memory");
				return -1;
			}
			*toks = p;
			*cap = c;
		}
		(*toks)[n++] = w = r;
		if (*r != '"') {
			while (!(cclass[(unsigned char)*r] & C_STOP))
				r++;
			if (*r == '"') {
				ctl_errf(err, "unexpected '\"' inside a word (quote the whole word)");
				return -1;
			}
			if (*r)
				*r++ = '\0';
			continue;
		}
		/* Quoted: unescape in place. */
		r++;
		for (;;) {
			if (!*r) {
				ctl_errf(err, "unterminated quoted string");
				return -1;
			}
			if (*r == '"')
				break;
			if (*r == '\\') {
				int hi, lo;

				if (r[1] == '"' || r[1] == '\\') {
					*w++ = r[1];
					r += 2;
					continue;
				}
				if (r[1] == 'x' && (hi = hexval(r[2])) >= 0 &&
				    (lo = hexval(r[3])) >= 0 && (hi || lo)) {
					*w++ = (char)(hi << 4 | lo);
					r += 4;
					continue;
				}
				ctl_errf(err, "bad escape in quoted string: expected \\\", \\\\ or \\xNN");
				return -1;
			}
			*w++ = *r++;
		}
		r++;
		if (*r && !is_space(*r)) {
			ctl_errf(err, "unexpected text after closing '\"'");
			return -1;
		}
		*w = '\0';
		if (*r)
			r++;
	}
}

/*
 * Open-addressing hash sets for duplicate detection (ids and names). A slot
 * keeps the key's hash next to the intercept's index, so that probing and
 * growing never touch the intercepts themselves (each probe used to be a
 * cache miss into the big array) and names are compared only on a hash hit.
 */
struct dupslot {
	uint32_t idx;		/* 0: empty, else index + 1 into the intercepts */
	uint32_t hash;
};

struct dupset {
	struct dupslot *slot;
	size_t mask, used;
};

static uint32_t hash_name(const char *s)
{
	uint64_t h = 1469598103934665603ULL;	/* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return (uint32_t)(h ^ h >> 32);
}

static uint32_t hash_id(uint32_t id)
{
	return (uint32_t)((uint64_t)id * 0x9e3779b97f4a7c15ULL >> 32);
}

/* Grows @d to at least @min slots (a power of two), at least doubling it. */
static int dupset_grow_to(struct dupset *d, size_t min)
{
	size_t size = d->slot ? (d->mask + 1) * 2 : 1024, i, j;
	/*
	 * Not calloc(): probing reads before it writes, and a read of fresh
	 * calloc'ed memory maps the shared zero page, whose replacement on the
	 * first write flushes the TLB of every CPU running this process (an IPI
	 * per page while apply's sender thread runs; slow in a VM). memset
	 * writes first.
	 */
	struct dupslot *slot;

	while (size < min)
		size *= 2;
	slot = malloc(size * sizeof(*slot));
	if (!slot)
		return -1;
	memset(slot, 0, size * sizeof(*slot));
	for (i = 0; d->slot && i <= d->mask; i++) {
		if (!d->slot[i].idx)
			continue;
		j = d->slot[i].hash & (size - 1);
		while (slot[j].idx)
			j = (j + 1) & (size - 1);
		slot[j] = d->slot[i];
	}
	free(d->slot);
	d->slot = slot;
	d->mask = size - 1;
	return 0;
}

static int dupset_grow(struct dupset *d)
{
	return dupset_grow_to(d, 0);
}

/*
 * Inserts intercept @idx (by name or id); returns the index of an earlier
 * intercept with the same key, -1 if none, -2 on allocation failure.
 */
static long dupset_insert(struct dupset *d, const struct ctl_config *cfg,
			  size_t idx, bool names)
{
	const struct sipovl_intercept *in = &cfg->v[idx];
	uint32_t h = names ? hash_name(in->name) : hash_id(in->id);
	size_t j;

	if ((!d->slot || (d->used + 1) * 2 > d->mask + 1) && dupset_grow(d))
		return -2;
	for (j = h & d->mask; d->slot[j].idx; j = (j + 1) & d->mask) {
		const struct sipovl_intercept *o;

		if (d->slot[j].hash != h)
			continue;
		o = &cfg->v[d->slot[j].idx - 1];
		if (names ? !strcmp(o->name, in->name) : o->id == in->id)
			return (long)d->slot[j].idx - 1;
	}
	d->slot[j].idx = (uint32_t)idx + 1;
	d->slot[j].hash = h;
	d->used++;
	return -1;
}

static bool dupset_has_id(const struct dupset *d, const struct ctl_config *cfg,
			  uint32_t id)
{
	uint32_t h = hash_id(id);
	size_t j;

	if (!d->slot)
		return false;
	for (j = h & d->mask; d->slot[j].idx; j = (j + 1) & d->mask)
		if (d->slot[j].hash == h && cfg->v[d->slot[j].idx - 1].id == id)
			return true;
	return false;
}

void ctl_config_release(struct ctl_config *cfg)
{
	/* The intercepts' arrays live in the arena. */
	free(cfg->v);
	arena_free(cfg->arena);
	free(cfg->lines);
	free(cfg->sources);
	memset(cfg, 0, sizeof(*cfg));
}

/*
 * Duplicate checks of one parse. Explicit ids usually come in ascending order
 * (show --config writes them so): while they do, they are unique and need no
 * hash set; the first id out of order (or a line without an id, at the end)
 * puts the ids seen so far into one.
 */
struct cfg_state {
	struct dupset names, ids;
	bool ids_hashed;
	uint32_t last_id;
	unsigned int sources_line;
};

/* Hashes the explicit ids of cfg->v[0..n); they are unique (ascending). */
static int ids_hash(struct cfg_state *st, const struct ctl_config *cfg, size_t n)
{
	size_t i;

	st->ids_hashed = true;
	for (i = 0; i < n; i++)
		if ((cfg->v[i].present & SIPOVL_I_ID) &&
		    dupset_insert(&st->ids, cfg, i, false) == -2)
			return -1;
	return 0;
}

static int config_line(struct ctl_config *cfg, char **tok, int ntok,
		       unsigned int line, struct cfg_state *st,
		       const struct ctl_config_hooks *hooks,
		       struct ctl_err *err)
{
	struct sipovl_intercept in;
	char q[TOKQ_LEN];
	long dup;

	if (strcmp(tok[0], "intercept") && !strcmp(tok[0], "sources")) {
		if (st->sources_line) {
			ctl_errf(err, "second \"sources\" line (first on line %u)",
				 st->sources_line);
			return -1;
		}
		if (ntok != 2) {
			ctl_errf(err, ntok < 2 ?
				 "missing value after \"sources\": expected prefixes or none" :
				 "unexpected %s after the sources list",
				 tokq(q, ntok < 2 ? "" : tok[2]));
			return -1;
		}
		st->sources_line = line;
		cfg->has_sources = true;
		if (!strcmp(tok[1], "none"))
			return 0;
		return parse_prefix_list(tok[1], "transparent source",
					 SIPOVL_MAX_TRANSPARENT_SOURCES,
					 &cfg->sources, &cfg->n_sources, err);
	}
	if (strcmp(tok[0], "intercept")) {
		ctl_errf(err, "unknown keyword %s: expected intercept or sources",
			 tokq(q, tok[0]));
		return -1;
	}
	if (cfg->n >= SIPOVL_MAX_INTERCEPTS) {
		ctl_errf(err, "too many intercepts: at most %u", SIPOVL_MAX_INTERCEPTS);
		return -1;
	}
	if (intercept_args(ntok - 1, tok + 1, true, &in, &cfg->arena, err))
		return -1;
	if (cfg->n == cfg->cap) {
		size_t cap = cfg->cap ? cfg->cap * 2 : 64;
		void *v, *l;

		if (hooks)
			hooks->lock(hooks->arg);
		v = realloc(cfg->v, cap * sizeof(*cfg->v));
		if (v)
			cfg->v = v;
		if (hooks)
			hooks->unlock(hooks->arg);
		l = v ? realloc(cfg->lines, cap * sizeof(*cfg->lines)) : NULL;
		if (l)
			cfg->lines = l;
		if (!v || !l) {
			ctl_errf(err, "out of memory");
			return -1;
		}
		cfg->cap = cap;
	}
	cfg->v[cfg->n] = in;
	cfg->lines[cfg->n] = line;
	cfg->n++;

	dup = dupset_insert(&st->names, cfg, cfg->n - 1, true);
	if (dup >= 0) {
		ctl_errf(err, "duplicate name %s (also on line %u)",
			 tokq(q, in.name), cfg->lines[dup]);
		return -1;
	}
	if (dup == -1 && (in.present & SIPOVL_I_ID)) {
		if (!st->ids_hashed && in.id > st->last_id) {
			st->last_id = in.id;
		} else {
			if (!st->ids_hashed && ids_hash(st, cfg, cfg->n - 1))
				dup = -2;
			else
				dup = dupset_insert(&st->ids, cfg, cfg->n - 1, false);
			if (dup >= 0) {
				ctl_errf(err, "duplicate id %u (also on line %u)",
					 in.id, cfg->lines[dup]);
				return -1;
			}
		}
	}
	if (dup == -2) {
		ctl_errf(err, "out of memory");
		return -1;
	}
	return 0;
}

/*
 * Size the arrays for the whole file up front (an intercept line has at least
 * 32 bytes): no copies while they grow, and while streaming they never move
 * under the sender thread (moving them with mremap also costs every CPU a
 * TLB flush). Untouched reserved memory costs nothing.
 */
static int config_reserve(struct ctl_config *cfg, FILE *f, size_t *fsize)
{
	struct stat st;
	size_t cap;
	int fd = fileno(f);

	if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size <= 0)
		return 0;
	*fsize = (size_t)st.st_size;
	cap = (size_t)st.st_size / 32 + 64;
	if (cap > SIPOVL_MAX_INTERCEPTS + 1)
		cap = SIPOVL_MAX_INTERCEPTS + 1;
	cfg->v = malloc(cap * sizeof(*cfg->v));
	cfg->lines = malloc(cap * sizeof(*cfg->lines));
	if (!cfg->v || !cfg->lines)
		return -1;
	cfg->cap = cap;
	return 0;
}

/* Intercepts handed to ready() at a time while parsing. */
#define STREAM_STEP 2048
/*
 * The file is read in chunks of this size into one buffer and split into
 * lines there (no getline copy, no stdio buffer refills of a few KiB: every
 * read over the test VM's 9p root is a round trip to the host).
 */
#define READ_CHUNK (256 * 1024)

struct reader {
	FILE *f;
	char *buf;
	size_t cap, have, start;	/* buf[start..have) not yet parsed */
	bool eof;
};

/* Reads more after the unparsed rest; 0, or -1 when out of memory. */
static int read_more(struct reader *r)
{
	size_t n, want;
	char *b;

	if (r->start) {
		memmove(r->buf, r->buf + r->start, r->have - r->start);
		r->have -= r->start;
		r->start = 0;
	}
	/* Room for a chunk and a terminating NUL. */
	want = r->have + READ_CHUNK + 1;
	if (r->cap < want) {
		b = realloc(r->buf, want);
		if (!b)
			return -1;
		r->buf = b;
		r->cap = want;
	}
	n = fread(r->buf + r->have, 1, READ_CHUNK, r->f);
	r->have += n;
	if (!n)
		r->eof = true;
	return 0;
}

/*
 * The next line, NUL-terminated in place (without its newline), its length
 * in *len; NULL at the end of the input (or on a read error: see ferror) or
 * with *len SIZE_MAX when out of memory.
 */
static char *next_line(struct reader *r, size_t *len)
{
	char *ln, *nl;

	*len = 0;
	for (;;) {
		ln = r->buf ? r->buf + r->start : NULL;
		nl = r->have > r->start ? memchr(ln, '\n', r->have - r->start) : NULL;
		if (nl) {
			*len = (size_t)(nl - ln);
			*nl = '\0';
			r->start += *len + 1;
			return ln;
		}
		if (r->eof || ferror(r->f)) {
			if (r->start == r->have || ferror(r->f))
				return NULL;
			/* The last line has no newline; buf has room for a NUL. */
			*len = r->have - r->start;
			ln[*len] = '\0';
			r->start = r->have;
			return ln;
		}
		if (read_more(r)) {
			*len = SIZE_MAX;
			return NULL;
		}
	}
}

/*
 * Sizes the name set for the whole file from the lines of the first chunk
 * read: growing it by doubling wrote (and, in the test VM, page-faulted)
 * twice the memory of its final size. A wrong guess only costs a growth.
 */
static int names_presize(struct dupset *d, const struct reader *r, size_t fsize)
{
	const char *p = r->buf, *end = r->buf + r->have, *nl;
	size_t lines = 0, est;

	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p)))) {
		lines++;
		p = nl + 1;
	}
	if (lines < 64 || r->have >= fsize)
		return 0;	/* small, or all read: grow as needed */
	est = fsize / ((size_t)(p - r->buf) / lines) + 64;
	if (est > SIPOVL_MAX_INTERCEPTS)
		est = SIPOVL_MAX_INTERCEPTS;
	/* At most half full, as dupset_insert keeps it. */
	return dupset_grow_to(d, 2 * est + 2);
}

int parse_config(FILE *f, const char *fname, struct ctl_config *cfg,
		 struct ctl_err *err)
{
	return parse_config_stream(f, fname, cfg, NULL, err);
}

int parse_config_stream(FILE *f, const char *fname, struct ctl_config *cfg,
			const struct ctl_config_hooks *hooks,
			struct ctl_err *err)
{
	struct cfg_state st = { 0 };
	struct reader rd = { .f = f };
	unsigned int line = 0;
	char *ln, **tok = NULL;
	int cap = 0, ntok, ret = -1;
	size_t len, i, lead = 0, told = 0, fsize = 0;
	uint32_t next_id = 1;

	memset(cfg, 0, sizeof(*cfg));
	if (config_reserve(cfg, f, &fsize)) {
		ctl_errf(err, "out of memory");
		goto fail;
	}
	while ((ln = next_line(&rd, &len))) {
		line++;
		if (line == 1 && fsize && names_presize(&st.names, &rd, fsize)) {
			ctl_errf(err, "out of memory");
			goto fail;
		}
		if (memchr(ln, '\0', len)) {
			ctl_errf(err, "NUL byte in line");
			goto fail_line;
		}
		ntok = tokenize_line(ln, &tok, &cap, err);
		if (ntok < 0)
			goto fail_line;
		if (!ntok)
			continue;
		if (config_line(cfg, tok, ntok, line, &st, hooks, err))
			goto fail_line;
		if (!hooks)
			continue;
		/* The leading run of intercepts with explicit ids is final. */
		if (lead == cfg->n - 1 && (cfg->v[lead].present & SIPOVL_I_ID))
			lead++;
		if (lead - told >= STREAM_STEP) {
			told = lead;
			hooks->ready(hooks->arg, lead);
		}
	}
	if (len == SIZE_MAX) {
		ctl_errf(err, "out of memory");
		goto fail;
	}
	if (ferror(f)) {
		ctl_errf(err, "%s: read error: %s", fname, strerror(errno));
		goto fail;
	}

	/* Lines without an id get the lowest unused ids, in file order. */
	for (i = 0; i < cfg->n; i++) {
		struct sipovl_intercept *in = &cfg->v[i];

		if (in->present & SIPOVL_I_ID)
			continue;
		if (!st.ids_hashed && ids_hash(&st, cfg, cfg->n)) {
			ctl_errf(err, "out of memory");
			goto fail;
		}
		while (dupset_has_id(&st.ids, cfg, next_id))
			next_id++;	/* < 2^20 intercepts: cannot wrap */
		in->id = next_id++;
		in->present |= SIPOVL_I_ID;
	}
	if (hooks)
		hooks->ready(hooks->arg, cfg->n);
	ret = 0;
	goto out;

fail_line:
	err_at(err, fname, line);
fail:
	if (hooks)
		hooks->failed(hooks->arg);
	ctl_config_release(cfg);
out:
	free(st.names.slot);
	free(st.ids.slot);
	free(tok);
	free(rd.buf);
	return ret;
}

int parse_config_mem(const char *buf, size_t len, const char *fname,
		     struct ctl_config *cfg, struct ctl_err *err)
{
	FILE *f;
	int ret;

	if (!len) {
		memset(cfg, 0, sizeof(*cfg));
		return 0;
	}
	f = fmemopen((void *)buf, len, "r");
	if (!f) {
		ctl_errf(err, "%s: %s", fname, strerror(errno));
		return -1;
	}
	ret = parse_config(f, fname, cfg, err);
	fclose(f);
	return ret;
}

/* ---- formatting ------------------------------------------------------- */

const char *fmt_prefix(char buf[PREFIX_STRLEN], const struct sipovl_prefix *p)
{
	char a[INET6_ADDRSTRLEN];

	if ((p->family != AF_INET && p->family != AF_INET6) ||
	    !inet_ntop(p->family, p->addr, a, sizeof(a)))
		snprintf(a, sizeof(a), "?family%u", p->family);
	snprintf(buf, PREFIX_STRLEN, "%s/%u", a, p->len);
	return buf;
}

const char *fmt_portrange(char buf[16], const struct sipovl_portrange *r)
{
	if (r->low == r->high)
		snprintf(buf, 16, "%u", r->low);
	else
		snprintf(buf, 16, "%u-%u", r->low, r->high);
	return buf;
}

const char *fmt_protos(char buf[32], uint32_t protos)
{
	uint32_t rest = protos & ~(uint32_t)__SIPOVL_PROTO_ALL;
	size_t o = 0;

	buf[0] = '\0';
	if (protos & SIPOVL_PROTO_TCP)
		o += (size_t)snprintf(buf + o, 32 - o, "tcp");
	if (protos & SIPOVL_PROTO_UDP)
		o += (size_t)snprintf(buf + o, 32 - o, "%sudp", o ? "," : "");
	if (rest || !protos)
		snprintf(buf + o, 32 - o, "%s0x%x", o ? "," : "", rest);
	return buf;
}

const char *fmt_policy(uint8_t policy)
{
	switch (policy) {
	case SIPOVL_POLICY_DROP:
		return "drop";
	case SIPOVL_POLICY_PASS:
		return "pass";
	}
	return "unknown";
}

void print_name_token(FILE *f, const char *name)
{
	bool quote = !*name || name[0] == '#';
	const char *s;

	for (s = name; *s && !quote; s++)
		if (is_space(*s) || *s == '"' || *s == '\\' ||
		    (unsigned char)*s < 0x20 || *s == 0x7f)
			quote = true;
	if (!quote) {
		fputs(name, f);
		return;
	}
	fputc('"', f);
	for (s = name; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

void print_prefix_list(FILE *f, const struct sipovl_prefix *v, uint32_t n)
{
	char buf[PREFIX_STRLEN];
	uint32_t i;

	for (i = 0; i < n; i++)
		fprintf(f, "%s%s", i ? "," : "", fmt_prefix(buf, &v[i]));
}

void print_port_list(FILE *f, const struct sipovl_portrange *v, uint32_t n)
{
	char buf[16];
	uint32_t i;

	for (i = 0; i < n; i++)
		fprintf(f, "%s%s", i ? "," : "", fmt_portrange(buf, &v[i]));
}

void print_intercept_match(FILE *f, const struct sipovl_intercept *in)
{
	char pb[32];

	fprintf(f, " proto %s addr ", fmt_protos(pb, in->protos));
	print_prefix_list(f, in->dsts, in->n_dsts);
	fputs(" port ", f);
	print_port_list(f, in->ports, in->n_ports);
	if (in->n_srcs) {
		fputs(" src ", f);
		print_prefix_list(f, in->srcs, in->n_srcs);
	}
	fprintf(f, " policy %s", fmt_policy(in->policy));
}

void print_intercept_config(FILE *f, const struct sipovl_intercept *in)
{
	fputs("intercept ", f);
	print_name_token(f, in->name);
	fprintf(f, " id %u", in->id);
	print_intercept_match(f, in);
	fputc('\n', f);
}

void print_sources_config(FILE *f, const struct sipovl_prefix *v, uint32_t n)
{
	fputs("sources ", f);
	if (n)
		print_prefix_list(f, v, n);
	else
		fputs("none", f);
	fputc('\n', f);
}
