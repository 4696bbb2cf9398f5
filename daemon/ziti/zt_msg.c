// SPDX-License-Identifier: GPL-2.0
/* OpenZiti channel v2 framing: parse and build (no I/O). See zt_msg.h. */
#include "zt_msg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t magic_v2[4] = { 0x03, 0x06, 0x09, 0x0c };

const char *zt_parse_strerror(int rc)
{
	switch (rc) {
	case ZT_PARSE_OK: return "ok";
	case ZT_PARSE_MORE: return "incomplete message";
	case ZT_PARSE_BAD_MAGIC: return "bad channel magic (not a channel v2 peer)";
	case ZT_PARSE_TOO_BIG: return "message too large";
	case ZT_PARSE_BAD_HEADERS: return "malformed header block";
	}
	return "unknown parse error";
}

static bool headers_valid(const uint8_t *h, uint32_t len)
{
	uint32_t pos = 0;

	while (pos < len) {
		if (len - pos < 8)
			return false;
		uint32_t vlen = zt_get_le32(h + pos + 4);
		pos += 8;
		if (vlen > len - pos)
			return false;
		pos += vlen;
	}
	return true;
}

int zt_msg_parse(const uint8_t *buf, size_t len, struct zt_msg *m, size_t *consumed, size_t *need)
{
	size_t cmp = len < 4 ? len : 4;

	if (memcmp(buf, magic_v2, cmp) != 0)
		return ZT_PARSE_BAD_MAGIC;
	if (len < ZT_MSG_HDR_LEN) {
		if (need)
			*need = ZT_MSG_HDR_LEN;
		return ZT_PARSE_MORE;
	}
	uint32_t hlen = zt_get_le32(buf + 12);
	uint32_t blen = zt_get_le32(buf + 16);

	if (hlen > ZT_MSG_MAX_HEADERS || blen > ZT_MSG_MAX_BODY)
		return ZT_PARSE_TOO_BIG;
	size_t total = (size_t)ZT_MSG_HDR_LEN + hlen + blen;

	if (len < total) {
		if (need)
			*need = total;
		return ZT_PARSE_MORE;
	}
	if (!headers_valid(buf + ZT_MSG_HDR_LEN, hlen))
		return ZT_PARSE_BAD_HEADERS;
	m->content_type = (int32_t)zt_get_le32(buf + 4);
	m->seq = (int32_t)zt_get_le32(buf + 8);
	m->headers = buf + ZT_MSG_HDR_LEN;
	m->headers_len = hlen;
	m->body = buf + ZT_MSG_HDR_LEN + hlen;
	m->body_len = blen;
	*consumed = total;
	return ZT_PARSE_OK;
}

int zt_msg_parse_head(const uint8_t *buf, size_t len, struct zt_msg *m, size_t *consumed, uint32_t *body_len)
{
	size_t cmp = len < 4 ? len : 4;

	if (memcmp(buf, magic_v2, cmp) != 0)
		return ZT_PARSE_BAD_MAGIC;
	if (len < ZT_MSG_HDR_LEN)
		return ZT_PARSE_MORE;
	uint32_t hlen = zt_get_le32(buf + 12);

	if (hlen > ZT_MSG_MAX_HEADERS)
		return ZT_PARSE_TOO_BIG;
	if (len < (size_t)ZT_MSG_HDR_LEN + hlen)
		return ZT_PARSE_MORE;
	if (!headers_valid(buf + ZT_MSG_HDR_LEN, hlen))
		return ZT_PARSE_BAD_HEADERS;
	m->content_type = (int32_t)zt_get_le32(buf + 4);
	m->seq = (int32_t)zt_get_le32(buf + 8);
	m->headers = buf + ZT_MSG_HDR_LEN;
	m->headers_len = hlen;
	m->body = NULL;
	m->body_len = 0;
	*body_len = zt_get_le32(buf + 16);
	*consumed = (size_t)ZT_MSG_HDR_LEN + hlen;
	return ZT_PARSE_OK;
}

bool zt_msg_hdr_next(const struct zt_msg *m, uint32_t *pos, int32_t *id, const uint8_t **val,
		     uint32_t *len)
{
	/* the block was validated by zt_msg_parse */
	if (*pos + 8 > m->headers_len)
		return false;
	*id = (int32_t)zt_get_le32(m->headers + *pos);
	*len = zt_get_le32(m->headers + *pos + 4);
	*val = m->headers + *pos + 8;
	*pos += 8 + *len;
	return true;
}

bool zt_msg_hdr(const struct zt_msg *m, int32_t id, const uint8_t **val, uint32_t *len)
{
	uint32_t pos = 0;
	int32_t hid;
	const uint8_t *v;
	uint32_t l;

	while (zt_msg_hdr_next(m, &pos, &hid, &v, &l)) {
		if (hid == id) {
			*val = v;
			*len = l;
			return true;
		}
	}
	return false;
}

static bool hdr_le(const struct zt_msg *m, int32_t id, uint32_t want, uint64_t *out)
{
	const uint8_t *v;
	uint32_t l;

	if (!zt_msg_hdr(m, id, &v, &l) || l != want)
		return false;
	uint64_t x = 0;

	for (uint32_t i = 0; i < want; i++)
		x |= (uint64_t)v[i] << (8 * i);
	*out = x;
	return true;
}

bool zt_msg_hdr_u32(const struct zt_msg *m, int32_t id, uint32_t *v)
{
	uint64_t x;

	if (!hdr_le(m, id, 4, &x))
		return false;
	*v = (uint32_t)x;
	return true;
}

bool zt_msg_hdr_u64(const struct zt_msg *m, int32_t id, uint64_t *v)
{
	return hdr_le(m, id, 8, v);
}

bool zt_msg_hdr_u16(const struct zt_msg *m, int32_t id, uint16_t *v)
{
	uint64_t x;

	if (!hdr_le(m, id, 2, &x))
		return false;
	*v = (uint16_t)x;
	return true;
}

bool zt_msg_hdr_bool(const struct zt_msg *m, int32_t id, bool *v)
{
	uint64_t x;

	if (!hdr_le(m, id, 1, &x))
		return false;
	*v = x != 0;
	return true;
}

int zt_multipart_next(const uint8_t **p, size_t *left, const uint8_t **part, size_t *plen)
{
	if (*left == 0)
		return 0;
	if (*left < 2)
		return -1;
	size_t l = (size_t)(*p)[0] | (size_t)(*p)[1] << 8;

	if (l > *left - 2)
		return -1;
	*part = *p + 2;
	*plen = l;
	*p += 2 + l;
	*left -= 2 + l;
	return 1;
}

/* ---- buffers ---- */

void zt_buf_free(struct zt_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

int zt_buf_reserve(struct zt_buf *b, size_t extra)
{
	if (b->len + extra <= b->cap)
		return 0;
	/* first try to reclaim the consumed prefix */
	if (b->off > 0) {
		memmove(b->data, b->data + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
		if (b->len + extra <= b->cap)
			return 0;
	}
	size_t ncap = b->cap ? b->cap : 4096;

	while (ncap < b->len + extra) {
		if (ncap > SIZE_MAX / 2)
			return -ENOMEM;
		ncap *= 2;
	}
	uint8_t *n = realloc(b->data, ncap);

	if (!n)
		return -ENOMEM;
	b->data = n;
	b->cap = ncap;
	return 0;
}

int zt_buf_append(struct zt_buf *b, const void *p, size_t n)
{
	if (zt_buf_reserve(b, n))
		return -ENOMEM;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

void zt_buf_consume(struct zt_buf *b, size_t n)
{
	b->off += n;
	if (b->off >= b->len)
		b->off = b->len = 0;
}

/* ---- builder ---- */

int zt_msgb_begin(struct zt_msgb *mb, struct zt_buf *b, int32_t content_type, int32_t seq)
{
	uint8_t h[ZT_MSG_HDR_LEN];

	memcpy(h, magic_v2, 4);
	zt_put_le32(h + 4, (uint32_t)content_type);
	zt_put_le32(h + 8, (uint32_t)seq);
	zt_put_le32(h + 12, 0);
	zt_put_le32(h + 16, 0);
	if (zt_buf_reserve(b, ZT_MSG_HDR_LEN))
		return -ENOMEM;
	mb->b = b;
	mb->start = b->len - b->off; /* relative: reserve may move data */
	return zt_buf_append(b, h, sizeof(h));
}

static uint8_t *msg_start(struct zt_msgb *mb)
{
	return mb->b->data + mb->b->off + mb->start;
}

int zt_msgb_hdr(struct zt_msgb *mb, int32_t id, const void *val, uint32_t len)
{
	uint8_t h[8];

	zt_put_le32(h, (uint32_t)id);
	zt_put_le32(h + 4, len);
	if (zt_buf_reserve(mb->b, 8 + (size_t)len))
		return -ENOMEM;
	zt_buf_append(mb->b, h, 8);
	zt_buf_append(mb->b, val, len);
	uint8_t *s = msg_start(mb);

	zt_put_le32(s + 12, zt_get_le32(s + 12) + 8 + len);
	return 0;
}

int zt_msgb_hdr_u32(struct zt_msgb *mb, int32_t id, uint32_t v)
{
	uint8_t x[4];

	zt_put_le32(x, v);
	return zt_msgb_hdr(mb, id, x, 4);
}

int zt_msgb_hdr_u64(struct zt_msgb *mb, int32_t id, uint64_t v)
{
	uint8_t x[8];

	zt_put_le32(x, (uint32_t)v);
	zt_put_le32(x + 4, (uint32_t)(v >> 32));
	return zt_msgb_hdr(mb, id, x, 8);
}

int zt_msgb_hdr_u16(struct zt_msgb *mb, int32_t id, uint16_t v)
{
	uint8_t x[2] = { (uint8_t)v, (uint8_t)(v >> 8) };

	return zt_msgb_hdr(mb, id, x, 2);
}

int zt_msgb_hdr_u8(struct zt_msgb *mb, int32_t id, uint8_t v)
{
	return zt_msgb_hdr(mb, id, &v, 1);
}

int zt_msgb_hdr_str(struct zt_msgb *mb, int32_t id, const char *s)
{
	return zt_msgb_hdr(mb, id, s, (uint32_t)strlen(s));
}

uint8_t *zt_msgb_body(struct zt_msgb *mb, uint32_t n)
{
	if (zt_buf_reserve(mb->b, n))
		return NULL;
	uint8_t *p = mb->b->data + mb->b->len;

	mb->b->len += n;
	uint8_t *s = msg_start(mb);

	zt_put_le32(s + 16, zt_get_le32(s + 16) + n);
	return p;
}

void zt_msgb_body_len(struct zt_msgb *mb, uint32_t n)
{
	uint8_t *s = msg_start(mb);
	uint32_t cur = zt_get_le32(s + 16);

	if (n > cur)
		return;
	mb->b->len -= cur - n;
	zt_put_le32(s + 16, n);
}

void zt_msgb_abort(struct zt_msgb *mb)
{
	mb->b->len = mb->b->off + mb->start;
}

const char *zt_ct_name(int32_t ct)
{
	switch (ct) {
	case ZT_CT_HELLO: return "Hello";
	case ZT_CT_PING: return "Ping";
	case ZT_CT_RESULT: return "Result";
	case ZT_CT_LATENCY: return "Latency";
	case ZT_CT_LATENCY_RESPONSE: return "LatencyResponse";
	case ZT_CT_HEARTBEAT: return "Heartbeat";
	case ZT_CT_CONNECT: return "Connect";
	case ZT_CT_STATE_CONNECTED: return "StateConnected";
	case ZT_CT_STATE_CLOSED: return "StateClosed";
	case ZT_CT_DATA: return "Data";
	case ZT_CT_DIAL: return "Dial";
	case ZT_CT_DIAL_SUCCESS: return "DialSuccess";
	case ZT_CT_DIAL_FAILED: return "DialFailed";
	case ZT_CT_BIND: return "Bind";
	case ZT_CT_UNBIND: return "Unbind";
	case ZT_CT_BIND_SUCCESS: return "BindSuccess";
	case ZT_CT_CONN_INSPECT_REQUEST: return "ConnInspectRequest";
	}
	return "?";
}
