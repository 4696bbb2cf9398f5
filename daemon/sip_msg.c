// SPDX-License-Identifier: GPL-2.0
/* SIP message parser, free of I/O (see sip_msg.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon/errf.h"
#include "daemon/sip_msg.h"

static bool is_ws(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_eol(char c)
{
	return c == '\r' || c == '\n';
}

/* RFC 3261 token characters */
static bool is_tok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("-.!%*_+`'~", c));
}

bool sip_str_eq(struct sip_str s, const char *c)
{
	size_t n = strlen(c);

	return s.n == n && !strncasecmp(s.p, c, n);
}

void sip_str_copy(char *dst, size_t n, struct sip_str s)
{
	size_t k = s.n < n - 1 ? s.n : n - 1;

	for (size_t i = 0; i < k; i++)
		dst[i] = (unsigned char)s.p[i] < 0x20 || s.p[i] == 0x7f ? '?' : s.p[i];
	dst[k] = 0;
}

static struct sip_str trim(struct sip_str s)
{
	while (s.n && (is_ws(*s.p) || is_eol(*s.p))) {
		s.p++;
		s.n--;
	}
	while (s.n && (is_ws(s.p[s.n - 1]) || is_eol(s.p[s.n - 1])))
		s.n--;
	return s;
}

/* length of the line end at p (CRLF, LF or CR), 0 when p is not at one */
static size_t eol_len(const char *p, const char *end)
{
	if (p < end && *p == '\r')
		return p + 1 < end && p[1] == '\n' ? 2 : 1;
	return p < end && *p == '\n' ? 1 : 0;
}

/* end of the header block: the offset after the empty line, or 0 when not found */
static size_t head_end(const char *b, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		size_t e = eol_len(b + i, b + len);

		if (!e)
			continue;
		/* a CR at the very end may be the first half of a CRLF */
		if (b[i] == '\r' && i + 1 == len)
			return 0;
		size_t e2 = eol_len(b + i + e, b + len);

		if (e2) {
			if (b[i + e] == '\r' && i + e + 1 == len)
				return 0;
			return i + e + e2;
		}
		i += e - 1;
	}
	return 0;
}

static const struct {
	const char *name;
	char compact;
	enum sip_hid id;
} hnames[] = {
	{ "Call-ID", 'i', SH_CALL_ID },
	{ "From", 'f', SH_FROM },
	{ "To", 't', SH_TO },
	{ "Via", 'v', SH_VIA },
	{ "CSeq", 0, SH_CSEQ },
	{ "Contact", 'm', SH_CONTACT },
	{ "Content-Length", 'l', SH_CONTENT_LENGTH },
	{ "Content-Type", 'c', SH_CONTENT_TYPE },
	{ "Max-Forwards", 0, SH_MAX_FORWARDS },
	{ "Record-Route", 0, SH_RECORD_ROUTE },
	{ "Route", 0, SH_ROUTE },
	{ "Reason", 0, SH_REASON },
};

/* compact forms with no header of ours: still valid names (k s e o r b u x y a j d n) */
static enum sip_hid hid(struct sip_str n)
{
	for (size_t i = 0; i < sizeof(hnames) / sizeof(hnames[0]); i++) {
		if (sip_str_eq(n, hnames[i].name))
			return hnames[i].id;
		if (n.n == 1 && hnames[i].compact && (n.p[0] | 0x20) == hnames[i].compact)
			return hnames[i].id;
	}
	return SH_OTHER;
}

bool sip_keepalive(const char *buf, size_t len)
{
	if (len == 4 && !memcmp(buf, "\0\0\0\0", 4))
		return true;
	for (size_t i = 0; i < len; i++)
		if (!is_eol(buf[i]))
			return false;
	return len > 0;
}

bool sip_sniff(const char *buf, size_t len)
{
	size_t i = 0, l;

	while (i < len && is_eol(buf[i]))
		i++;
	buf += i;
	len -= i;
	if (len >= 8 && !memcmp(buf, "SIP/2.0 ", 8))
		return true;
	/* METHOD SP Request-URI SP SIP/2.0 EOL */
	for (l = 0; l < len && is_tok(buf[l]); l++)
		;
	if (!l || l > 32 || l >= len || buf[l] != ' ')
		return false;
	for (i = l + 1; i < len && i < 1024 && !is_eol(buf[i]); i++)
		;
	return i < len && is_eol(buf[i]) && i >= l + 10 && !memcmp(buf + i - 8, " SIP/2.0", 8);
}

static int start_line(struct sip_msg *m, const char *p, size_t n, char *err, size_t errlen)
{
	if (n >= 8 && !strncmp(p, "SIP/2.0 ", 8)) {
		if (n < 11 || p[8] < '1' || p[8] > '6' || p[9] < '0' || p[9] > '9' || p[10] < '0' || p[10] > '9' ||
		    (n > 11 && p[11] != ' '))
			return errf(err, errlen, "status line: expected a 3-digit code 100-699 after SIP/2.0");
		m->request = false;
		m->status = (unsigned)((p[8] - '0') * 100 + (p[9] - '0') * 10 + (p[10] - '0'));
		m->reason = n > 12 ? trim((struct sip_str){ p + 12, n - 12 }) : (struct sip_str){ p + n, 0 };
		return 0;
	}
	const char *sp1 = memchr(p, ' ', n), *sp2;

	if (!sp1 || sp1 == p)
		return errf(err, errlen, "start line: neither a request line nor a status line");
	for (const char *q = p; q < sp1; q++)
		if (!is_tok(*q))
			return errf(err, errlen, "request line: method is not a token");
	sp2 = sp1 + 1;
	while (sp2 < p + n && *sp2 != ' ')
		sp2++;
	if (sp2 >= p + n || sp2 == sp1 + 1)
		return errf(err, errlen, "request line: no Request-URI");
	if ((size_t)(p + n - sp2 - 1) != 7 || strncmp(sp2 + 1, "SIP/2.0", 7))
		return errf(err, errlen, "request line: version is not SIP/2.0");
	m->request = true;
	m->method = (struct sip_str){ p, (size_t)(sp1 - p) };
	m->uri = (struct sip_str){ sp1 + 1, (size_t)(sp2 - sp1 - 1) };
	return 0;
}

/* the value of a header line that continues on folded lines: unfolded into the scratch */
static int unfold(struct sip_msg *m, struct sip_str raw, struct sip_str *out)
{
	char *d = m->scratch + m->scratch_used;
	size_t k = 0, room = SIP_SCRATCH - m->scratch_used;
	bool ws = false;

	for (size_t i = 0; i < raw.n; i++) {
		char c = raw.p[i];

		if (is_ws(c) || is_eol(c)) {
			ws = true;
			continue;
		}
		if (ws && k) {
			if (k >= room)
				return -1;
			d[k++] = ' ';
		}
		ws = false;
		if (k >= room)
			return -1;
		d[k++] = c;
	}
	m->scratch_used += k;
	*out = (struct sip_str){ d, k };
	return 0;
}

static bool parse_u32(struct sip_str s, uint32_t *v, struct sip_str *rest)
{
	uint64_t x = 0;
	size_t i = 0;

	for (; i < s.n && s.p[i] >= '0' && s.p[i] <= '9'; i++) {
		x = x * 10 + (uint64_t)(s.p[i] - '0');
		if (x > UINT32_MAX)
			return false;
	}
	if (!i)
		return false;
	*v = (uint32_t)x;
	if (rest)
		*rest = trim((struct sip_str){ s.p + i, s.n - i });
	else if (i != s.n)
		return false;
	return true;
}

static int header(struct sip_msg *m, struct sip_str name, struct sip_str v, char *err, size_t errlen)
{
	enum sip_hid id = hid(name);
	struct sip_str rest;
	uint32_t x;

	if (m->n_hdr >= SIP_MAX_HDRS)
		return errf(err, errlen, "more than %d header lines", SIP_MAX_HDRS);
	m->hdr[m->n_hdr++] = (struct sip_hdr){ id, name, v };
	switch (id) {
	case SH_CALL_ID:
		if (!v.n)
			return errf(err, errlen, "Call-ID is empty");
		if (!m->call_id.p)
			m->call_id = v;
		else if (m->call_id.n != v.n || memcmp(m->call_id.p, v.p, v.n))
			return errf(err, errlen, "two different Call-ID headers");
		break;
	case SH_FROM:
		if (!m->from.p)
			m->from = v;
		break;
	case SH_TO:
		if (!m->to.p)
			m->to = v;
		break;
	case SH_CONTACT:
		if (!m->contact.p)
			m->contact = v;
		break;
	case SH_CONTENT_TYPE:
		if (!m->content_type.p)
			m->content_type = v;
		break;
	case SH_VIA: {
		size_t pos = 0;
		struct sip_str one;

		while (sip_next_value(v, &pos, &one))
			m->n_via++;
		break;
	}
	case SH_CSEQ:
		if (!parse_u32(v, &x, &rest) || !rest.n)
			return errf(err, errlen, "CSeq: expected a number and a method");
		for (size_t i = 0; i < rest.n; i++)
			if (!is_tok(rest.p[i]))
				return errf(err, errlen, "CSeq: method is not a token");
		if (!m->cseq_method.p) {
			m->cseq = x;
			m->cseq_method = rest;
		}
		break;
	case SH_CONTENT_LENGTH:
		if (!parse_u32(v, &x, NULL) || x > SIP_MSG_MAX)
			return errf(err, errlen, "Content-Length: expected a number up to %d", SIP_MSG_MAX);
		if (m->content_length >= 0 && m->content_length != (long)x)
			return errf(err, errlen, "two different Content-Length headers");
		m->content_length = (long)x;
		break;
	default:
		break;
	}
	return 0;
}

enum sip_rc sip_parse(const char *buf, size_t len, bool stream, struct sip_msg *m, char *err, size_t errlen)
{
	size_t skip = 0, hend, i, e;
	const char *b, *end;

	memset(m, 0, offsetof(struct sip_msg, scratch));
	m->scratch_used = 0;
	m->content_length = -1;
	while (skip < len && is_eol(buf[skip]))
		skip++;
	b = buf + skip;
	len -= skip;
	if (!len)
		return stream ? SIP_MORE : errf(err, errlen, "empty message");
	hend = head_end(b, len);
	if (!hend) {
		if (len > SIP_MSG_MAX || !stream)
			return errf(err, errlen, "no empty line after the headers%s", stream ? " in 64 KiB" : "");
		return SIP_MORE;
	}
	end = b + hend;
	/* start line */
	for (i = 0; !is_eol(b[i]); i++)
		;
	if (start_line(m, b, i, err, errlen))
		return SIP_BAD;
	i += eol_len(b + i, end);
	/* header lines */
	while (b + i < end) {
		size_t ls = i, colon = 0, le;
		bool folded = false;

		e = eol_len(b + i, end);
		if (e) /* the empty line */
			break;
		if (is_ws(b[i]))
			return errf(err, errlen, "header block starts with a continuation line");
		/* the logical line: up to an end of line not followed by SP/HT */
		for (;;) {
			while (!is_eol(b[i])) {
				if (!colon && b[i] == ':')
					colon = i;
				if (!b[i])
					return errf(err, errlen, "NUL byte in the headers");
				i++;
			}
			le = i;
			i += eol_len(b + i, end);
			if (b + i < end && is_ws(b[i])) {
				folded = true;
				continue;
			}
			break;
		}
		if (!colon)
			return errf(err, errlen, "header line without ':'");
		struct sip_str name = trim((struct sip_str){ b + ls, colon - ls });
		struct sip_str val = { b + colon + 1, le - colon - 1 };

		if (!name.n)
			return errf(err, errlen, "header line with an empty name");
		for (size_t k = 0; k < name.n; k++)
			if (!is_tok(name.p[k]))
				return errf(err, errlen, "header name is not a token");
		if (folded) {
			if (unfold(m, val, &val))
				return errf(err, errlen, "folded headers longer than %d bytes", SIP_SCRATCH);
		} else {
			val = trim(val);
		}
		if (header(m, name, val, err, errlen))
			return SIP_BAD;
	}
	/* body */
	size_t avail = len - hend;

	if (m->content_length >= 0) {
		if ((size_t)m->content_length > avail) {
			if (stream)
				return SIP_MORE;
			return errf(err, errlen, "Content-Length %ld, but only %zu bytes of body", m->content_length, avail);
		}
		avail = (size_t)m->content_length;
	} else if (stream) {
		avail = 0; /* RFC 3261 §18.3: mandatory on streams; absent is taken as 0 */
	}
	m->body = (struct sip_str){ end, avail };
	m->len = skip + hend + avail;
	if (!m->call_id.p || !m->from.p || !m->to.p || !m->cseq_method.p)
		return errf(err, errlen, "missing %s", !m->call_id.p ? "Call-ID" : !m->from.p ? "From" :
			    !m->to.p ? "To" : "CSeq");
	if (m->request && (m->method.n != m->cseq_method.n || strncmp(m->method.p, m->cseq_method.p, m->method.n)))
		return errf(err, errlen, "CSeq method differs from the request's method");
	return SIP_OK;
}

bool sip_next_value(struct sip_str list, size_t *pos, struct sip_str *v)
{
	size_t i = *pos, s;
	bool q = false;
	int angle = 0;

	while (i < list.n && (is_ws(list.p[i]) || list.p[i] == ','))
		i++;
	if (i >= list.n) {
		*pos = i;
		return false;
	}
	s = i;
	for (; i < list.n; i++) {
		char c = list.p[i];

		if (q) {
			if (c == '\\' && i + 1 < list.n)
				i++;
			else if (c == '"')
				q = false;
		} else if (c == '"') {
			q = true;
		} else if (c == '<') {
			angle++;
		} else if (c == '>' && angle) {
			angle--;
		} else if (c == ',' && !angle) {
			break;
		}
	}
	*v = trim((struct sip_str){ list.p + s, i - s });
	*pos = i;
	return true;
}

/* the first of @stops in @v outside a quoted string (a display name), or v.n */
static size_t unquoted(struct sip_str v, const char *stops)
{
	bool q = false;

	for (size_t i = 0; i < v.n; i++) {
		if (q) {
			if (v.p[i] == '\\' && i + 1 < v.n)
				i++;
			else if (v.p[i] == '"')
				q = false;
		} else if (v.p[i] == '"') {
			q = true;
		} else if (v.p[i] && strchr(stops, v.p[i])) {
			return i;
		}
	}
	return v.n;
}

/* where the header parameters of a name-addr/addr-spec start (the first ';' after the URI) */
static size_t params_at(struct sip_str v)
{
	size_t i = unquoted(v, "<;");

	if (i < v.n && v.p[i] == '<') {
		const char *gt = memchr(v.p + i, '>', v.n - i);
		const char *sc = gt ? memchr(gt, ';', v.n - (size_t)(gt - v.p)) : NULL;

		return sc ? (size_t)(sc - v.p) : v.n;
	}
	return i;
}

bool sip_hdr_param(struct sip_str v, const char *name, struct sip_str *out)
{
	size_t i = params_at(v), nl = strlen(name);

	while (i < v.n) {
		i++; /* the ';' */
		while (i < v.n && is_ws(v.p[i]))
			i++;
		size_t s = i;

		while (i < v.n && v.p[i] != ';' && v.p[i] != '=')
			i++;
		struct sip_str pn = trim((struct sip_str){ v.p + s, i - s });
		struct sip_str pv = { v.p + i, 0 };

		if (i < v.n && v.p[i] == '=') {
			s = ++i;
			while (i < v.n && v.p[i] != ';')
				i++;
			pv = trim((struct sip_str){ v.p + s, i - s });
		}
		if (pn.n == nl && !strncasecmp(pn.p, name, nl)) {
			*out = pv;
			return true;
		}
	}
	return false;
}

struct sip_str sip_hdr_uri(struct sip_str v)
{
	size_t i = unquoted(v, "<");

	if (i < v.n) {
		const char *gt = memchr(v.p + i, '>', v.n - i);

		if (!gt)
			return (struct sip_str){ v.p + v.n, 0 };
		return trim((struct sip_str){ v.p + i + 1, (size_t)(gt - v.p) - i - 1 });
	}
	return trim((struct sip_str){ v.p, params_at(v) });
}

struct sip_str sip_uri_aor(struct sip_str u)
{
	const char *c = memchr(u.p, ':', u.n);

	if (c && (size_t)(c - u.p) <= 4) { /* sip: sips: tel: */
		u.n -= (size_t)(c + 1 - u.p);
		u.p = c + 1;
	}
	for (size_t i = 0; i < u.n; i++)
		if (u.p[i] == ';' || u.p[i] == '?' || u.p[i] == '>')
			return (struct sip_str){ u.p, i };
	return u;
}

/* ------------------------------------------------------------------ streams */

static void stream_break(struct sip_stream *s, const struct sip_stream_ops *ops, const char *why)
{
	s->broken = true;
	if (ops->bad)
		ops->bad(ops->arg, why);
	sip_stream_free(s, ops);
}

void sip_stream_free(struct sip_stream *s, const struct sip_stream_ops *ops)
{
	if (s->buf && ops->mem)
		ops->mem(ops->arg, -(long)s->cap);
	free(s->buf);
	s->buf = NULL;
	s->len = s->cap = 0;
}

/* parse what is buffered at p[0..n); returns how many bytes were used */
static size_t stream_parse(struct sip_stream *s, const char *p, size_t n, const struct sip_stream_ops *ops)
{
	static struct sip_msg m; /* one event loop: not reentrant */
	char err[128];
	size_t used = 0;

	while (used < n && !s->broken) {
		enum sip_rc rc = sip_parse(p + used, n - used, true, &m, err, sizeof(err));

		if (rc == SIP_MORE) {
			/* only line ends (keepalives): drop them */
			if (sip_keepalive(p + used, n - used))
				used = n;
			break;
		}
		if (rc == SIP_BAD) {
			stream_break(s, ops, err);
			return n;
		}
		if (ops->msg)
			ops->msg(ops->arg, &m);
		used += m.len;
	}
	return used;
}

void sip_stream_feed(struct sip_stream *s, const void *data, size_t n, const struct sip_stream_ops *ops)
{
	if (s->broken || !n)
		return;
	if (!s->len) { /* nothing buffered: parse in place, keep only the rest */
		size_t u = stream_parse(s, data, n, ops);

		data = (const char *)data + u;
		n -= u;
		if (!n || s->broken)
			return;
	}
	if (s->len + n > SIP_MSG_MAX) {
		stream_break(s, ops, "message longer than 64 KiB");
		return;
	}
	if (s->len + n > s->cap) {
		size_t nc = s->cap ? s->cap : 2048;

		while (nc < s->len + n)
			nc *= 2;
		if (nc > SIP_MSG_MAX + 1)
			nc = SIP_MSG_MAX + 1;
		if (ops->mem && !ops->mem(ops->arg, (long)(nc - s->cap))) {
			stream_break(s, ops, "memory limit");
			return;
		}
		char *nb = realloc(s->buf, nc);

		if (!nb) {
			if (ops->mem)
				ops->mem(ops->arg, -(long)(nc - s->cap));
			stream_break(s, ops, "out of memory");
			return;
		}
		s->buf = nb;
		s->cap = nc;
	}
	memcpy(s->buf + s->len, data, n);
	s->len += n;
	size_t u = stream_parse(s, s->buf, s->len, ops);

	if (s->broken)
		return;
	memmove(s->buf, s->buf + u, s->len - u);
	s->len -= u;
}
