// SPDX-License-Identifier: GPL-2.0
/* SDP parser, free of I/O (see sip_sdp.h). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "daemon/errf.h"
#include "daemon/sip_sdp.h"

static const struct {
	unsigned pt;
	const char *name;
	unsigned clock;
} statics[] = {
	{ 0, "PCMU", 8000 }, { 3, "GSM", 8000 }, { 4, "G723", 8000 }, { 5, "DVI4", 8000 },
	{ 6, "DVI4", 16000 }, { 7, "LPC", 8000 }, { 8, "PCMA", 8000 }, { 9, "G722", 8000 },
	{ 10, "L16", 44100 }, { 11, "L16", 44100 }, { 12, "QCELP", 8000 }, { 13, "CN", 8000 },
	{ 14, "MPA", 90000 }, { 15, "G728", 8000 }, { 16, "DVI4", 11025 }, { 17, "DVI4", 22050 },
	{ 18, "G729", 8000 }, { 25, "CelB", 90000 }, { 26, "JPEG", 90000 }, { 28, "nv", 90000 },
	{ 31, "H261", 90000 }, { 32, "MPV", 90000 }, { 33, "MP2T", 90000 }, { 34, "H263", 90000 },
};

const char *sdp_static_codec(unsigned pt, unsigned *clock)
{
	for (size_t i = 0; i < sizeof(statics) / sizeof(statics[0]); i++)
		if (statics[i].pt == pt) {
			if (clock)
				*clock = statics[i].clock;
			return statics[i].name;
		}
	return NULL;
}

const char *sdp_dir_name(enum sdp_dir d)
{
	static const char *const n[] = { "sendrecv", "sendonly", "recvonly", "inactive" };

	return n[d];
}

/* the next space-separated word of [*p, end) */
static bool word(const char **p, const char *end, const char **w, size_t *wn)
{
	const char *q = *p;

	while (q < end && *q == ' ')
		q++;
	if (q >= end)
		return false;
	*w = q;
	while (q < end && *q != ' ')
		q++;
	*wn = (size_t)(q - *w);
	*p = q;
	return true;
}

static bool num(const char *w, size_t n, unsigned long max, unsigned long *v)
{
	unsigned long x = 0;

	if (!n || n > 10)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (w[i] < '0' || w[i] > '9')
			return false;
		x = x * 10 + (unsigned long)(w[i] - '0');
	}
	if (x > max)
		return false;
	*v = x;
	return true;
}

static void cpy(char *d, size_t dn, const char *s, size_t n)
{
	n = n < dn - 1 ? n : dn - 1;
	for (size_t i = 0; i < n; i++)
		d[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	d[n] = 0;
}

/* "IN IP4 addr" / "IN IP6 addr" (c= and a=rtcp's tail); the TTL/count suffix is ignored */
static int conn_addr(const char *p, const char *end, struct sockaddr_storage *sa, char *err, size_t errlen)
{
	const char *w;
	size_t n;
	char a[64];
	int fam;

	if (!word(&p, end, &w, &n) || n != 2 || strncmp(w, "IN", 2))
		return errf(err, errlen, "connection data: network type is not IN");
	if (!word(&p, end, &w, &n) || n != 3 || (strncmp(w, "IP4", 3) && strncmp(w, "IP6", 3)))
		return errf(err, errlen, "connection data: address type is not IP4 or IP6");
	fam = w[2] == '4' ? AF_INET : AF_INET6;
	if (!word(&p, end, &w, &n) || n >= sizeof(a))
		return errf(err, errlen, "connection data: no address");
	memcpy(a, w, n);
	a[n] = 0;
	char *slash = strchr(a, '/');

	if (slash)
		*slash = 0;
	memset(sa, 0, sizeof(*sa));
	if (fam == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)sa;

		if (inet_pton(AF_INET, a, &s4->sin_addr) != 1)
			return errf(err, errlen, "connection data: \"%.40s\" is not a numeric IPv4 address", a);
		s4->sin_family = AF_INET;
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)sa;

		if (inet_pton(AF_INET6, a, &s6->sin6_addr) != 1)
			return errf(err, errlen, "connection data: \"%.40s\" is not a numeric IPv6 address", a);
		s6->sin6_family = AF_INET6;
	}
	return 0;
}

static void set_port(struct sockaddr_storage *sa, unsigned port)
{
	if (sa->ss_family == AF_INET)
		((struct sockaddr_in *)sa)->sin_port = htons((uint16_t)port);
	else if (sa->ss_family == AF_INET6)
		((struct sockaddr_in6 *)sa)->sin6_port = htons((uint16_t)port);
}

static bool unspecified(const struct sockaddr_storage *sa)
{
	static const struct in6_addr any6;

	if (sa->ss_family == AF_INET)
		return !((const struct sockaddr_in *)sa)->sin_addr.s_addr;
	return !memcmp(&((const struct sockaddr_in6 *)sa)->sin6_addr, &any6, sizeof(any6));
}

static int dir_attr(const char *a, size_t n)
{
	static const char *const names[] = { "sendrecv", "sendonly", "recvonly", "inactive" };

	for (int i = 0; i < 4; i++)
		if (n == strlen(names[i]) && !strncmp(a, names[i], n))
			return i;
	return -1;
}

static int m_line(struct sdp_media *m, const char *p, const char *end, char *err, size_t errlen)
{
	const char *w;
	size_t n;
	unsigned long v;

	if (!word(&p, end, &w, &n))
		return errf(err, errlen, "m= line: no media");
	cpy(m->media, sizeof(m->media), w, n);
	if (!word(&p, end, &w, &n))
		return errf(err, errlen, "m= line: no port");
	const char *sl = memchr(w, '/', n);
	size_t pn = sl ? (size_t)(sl - w) : n;

	if (!num(w, pn, 65535, &v))
		return errf(err, errlen, "m= line: port is not a number 0-65535");
	m->port = (uint16_t)v;
	m->nports = 1;
	if (sl) {
		if (!num(sl + 1, n - pn - 1, 65535, &v) || !v)
			return errf(err, errlen, "m= line: port count is not a number 1-65535");
		m->nports = (uint16_t)v;
	}
	if (!word(&p, end, &w, &n))
		return errf(err, errlen, "m= line: no transport protocol");
	cpy(m->proto, sizeof(m->proto), w, n);
	bool rtp = !strncmp(m->proto, "RTP/", 4) || !strncmp(m->proto, "UDP/TLS/RTP/", 12);

	while (word(&p, end, &w, &n)) {
		if (!rtp)
			continue;
		if (!num(w, n, 127, &v))
			return errf(err, errlen, "m= line: payload type \"%.*s\" is not a number 0-127",
				    (int)(n < 16 ? n : 16), w);
		if (m->n_pt < SDP_MAX_PT)
			m->pt[m->n_pt++] = (uint8_t)v;
	}
	if (rtp && !m->n_pt)
		return errf(err, errlen, "m= line: no payload type");
	return 0;
}

/*
 * a=rtpmap:PT NAME/CLOCK[/CH]: the codec of the first payload type of the media, and the maps
 * of payload types of the m= line without a static meaning (dynamic ones) into m->map
 */
static void rtpmap(struct sdp_media *m, const char *p, const char *end)
{
	const char *w;
	size_t n;
	unsigned long pt, clk = 0;
	bool listed = false;

	if (!m->n_pt || !word(&p, end, &w, &n) || !num(w, n, 127, &pt))
		return;
	for (unsigned i = 0; i < m->n_pt; i++)
		listed |= m->pt[i] == pt;
	if (!listed || !word(&p, end, &w, &n))
		return;
	const char *sl = memchr(w, '/', n);

	if (sl) {
		const char *sl2 = memchr(sl + 1, '/', (size_t)(w + n - sl - 1));
		size_t cn = sl2 ? (size_t)(sl2 - sl - 1) : (size_t)(w + n - sl - 1);

		if (!num(sl + 1, cn, 10000000, &clk))
			clk = 0;
	}
	if (pt == m->pt[0]) {
		cpy(m->codec, sizeof(m->codec), w, sl ? (size_t)(sl - w) : n);
		if (clk)
			m->clock = (unsigned)clk;
	}
	if (!clk || sdp_static_codec((unsigned)pt, NULL) || m->n_map >= SDP_MAX_MAP)
		return;
	for (unsigned i = 0; i < m->n_map; i++)
		if (m->map[i].pt == pt)
			return; /* the first one counts */
	struct sdp_rtpmap *r = &m->map[m->n_map++];

	r->pt = (uint8_t)pt;
	r->clock = (uint32_t)clk;
	cpy(r->name, sizeof(r->name), w, sl ? (size_t)(sl - w) : n);
}

int sdp_parse(const char *p, size_t n, struct sdp *s, char *err, size_t errlen)
{
	const char *end = p + n;
	struct sockaddr_storage sess = { 0 };
	bool has_sess = false, seen_v = false;
	int sess_dir = SDP_SENDRECV;
	struct sdp_media *m = NULL, skip;
	/* per m= line: its own c=, a=rtcp port/address */
	bool m_has_c[SDP_MAX_MEDIA] = { false }, m_dir_set[SDP_MAX_MEDIA] = { false };
	long rtcp_port[SDP_MAX_MEDIA];
	struct sockaddr_storage rtcp_addr[SDP_MAX_MEDIA];
	bool rtcp_has_addr[SDP_MAX_MEDIA] = { false };

	memset(s, 0, sizeof(*s));
	for (int i = 0; i < SDP_MAX_MEDIA; i++)
		rtcp_port[i] = -1;
	while (p < end) {
		const char *le = p;

		while (le < end && *le != '\n' && *le != '\r')
			le++;
		const char *ln = p, *lend = le;

		p = le;
		while (p < end && (*p == '\r' || *p == '\n'))
			p++;
		if (lend == ln)
			continue;
		if (lend - ln < 2 || ln[1] != '=')
			return errf(err, errlen, "line \"%.*s\" is not TYPE=VALUE", (int)(lend - ln < 20 ? lend - ln : 20), ln);
		char t = ln[0];
		const char *v = ln + 2;

		if (!seen_v) {
			if (t != 'v' || lend - v != 1 || *v != '0')
				return errf(err, errlen, "does not start with v=0");
			seen_v = true;
			continue;
		}
		if (t == 'm') {
			s->n_media_total++;
			if (s->n_media < SDP_MAX_MEDIA) {
				m = &s->m[s->n_media++];
			} else {
				memset(&skip, 0, sizeof(skip));
				m = &skip;
			}
			if (m_line(m, v, lend, err, errlen))
				return -1;
		} else if (t == 'c') {
			struct sockaddr_storage a;

			if (conn_addr(v, lend, &a, err, errlen))
				return -1;
			if (!m) {
				sess = a;
				has_sess = true;
			} else if (m != &skip) {
				m->rtp = a;
				m_has_c[m - s->m] = true;
			}
		} else if (t == 'a') {
			size_t an = (size_t)(lend - v);
			const char *colon = memchr(v, ':', an);
			size_t nn = colon ? (size_t)(colon - v) : an;
			int d = dir_attr(v, nn);

			if (d >= 0 && !colon) {
				if (!m)
					sess_dir = d;
				else if (m != &skip) {
					m->dir = (enum sdp_dir)d;
					m_dir_set[m - s->m] = true;
				}
			} else if (m && m != &skip && colon) {
				if (nn == 6 && !strncmp(v, "rtpmap", 6)) {
					rtpmap(m, colon + 1, lend);
				} else if (nn == 4 && !strncmp(v, "rtcp", 4)) {
					const char *q = colon + 1, *w;
					size_t wn;
					unsigned long port;

					if (!word(&q, lend, &w, &wn) || !num(w, wn, 65535, &port))
						return errf(err, errlen, "a=rtcp: port is not a number 0-65535");
					rtcp_port[m - s->m] = (long)port;
					while (q < lend && *q == ' ')
						q++;
					if (q < lend) {
						if (conn_addr(q, lend, &rtcp_addr[m - s->m], err, errlen))
							return -1;
						rtcp_has_addr[m - s->m] = true;
					}
				}
			} else if (m && m != &skip && an == 8 && !strncmp(v, "rtcp-mux", 8)) {
				m->rtcp_mux = true;
			}
		}
	}
	if (!seen_v)
		return errf(err, errlen, "empty");
	for (unsigned i = 0; i < s->n_media; i++) {
		struct sdp_media *x = &s->m[i];

		if (!m_has_c[i]) {
			if (has_sess)
				x->rtp = sess;
			else if (x->port)
				return errf(err, errlen, "m=%s has no c= line (media or session level)", x->media);
		}
		x->has_addr = m_has_c[i] || has_sess;
		if (!m_dir_set[i])
			x->dir = (enum sdp_dir)sess_dir;
		set_port(&x->rtp, x->port);
		x->rtcp = rtcp_has_addr[i] ? rtcp_addr[i] : x->rtp;
		if (rtcp_port[i] >= 0)
			set_port(&x->rtcp, (unsigned)rtcp_port[i]);
		else if (!x->rtcp_mux && x->port)
			set_port(&x->rtcp, x->port + 1u);
		x->hold = x->dir == SDP_SENDONLY || x->dir == SDP_INACTIVE || (x->has_addr && unspecified(&x->rtp));
		if (!x->codec[0] && x->n_pt) {
			const char *c = sdp_static_codec(x->pt[0], &x->clock);

			if (c)
				snprintf(x->codec, sizeof(x->codec), "%s", c);
			else
				snprintf(x->codec, sizeof(x->codec), "PT%u", x->pt[0]);
		}
	}
	return 0;
}
