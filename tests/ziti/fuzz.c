// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for the channel v2 / edge message parser (daemon/ziti/zt_msg.c).
 * Feeds arbitrary bytes as a stream of messages (like chan_read does), walks every header,
 * runs the typed getters and splits bodies as MULTIPART_MSG payloads; then rebuilds each
 * message with the builder and checks it parses back identically.
 */
#include <stdlib.h>
#include <string.h>

#include "daemon/ziti/zt_msg.h"

static void check(int c)
{
	if (!c)
		abort();
}

static void roundtrip(const struct zt_msg *m)
{
	struct zt_buf b = { 0 };
	struct zt_msgb mb;
	uint32_t pos = 0, l;
	int32_t id;
	const uint8_t *v;

	check(zt_msgb_begin(&mb, &b, m->content_type, m->seq) == 0);
	while (zt_msg_hdr_next(m, &pos, &id, &v, &l))
		check(zt_msgb_hdr(&mb, id, v, l) == 0);
	uint8_t *body = zt_msgb_body(&mb, m->body_len);

	check(body != NULL);
	if (m->body_len)
		memcpy(body, m->body, m->body_len);
	struct zt_msg m2;
	size_t used = 0;

	check(zt_msg_parse(b.data + b.off, zt_buf_used(&b), &m2, &used, NULL) == ZT_PARSE_OK);
	check(used == zt_buf_used(&b));
	check(m2.content_type == m->content_type && m2.seq == m->seq);
	check(m2.headers_len == m->headers_len && m2.body_len == m->body_len);
	check(memcmp(m2.headers, m->headers, m->headers_len) == 0);
	check(m->body_len == 0 || memcmp(m2.body, m->body, m->body_len) == 0);
	zt_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;

	while (off < size) {
		struct zt_msg m;
		size_t used = 0, need = 0;
		int rc = zt_msg_parse(data + off, size - off, &m, &used, &need);

		if (rc == ZT_PARSE_TOO_BIG) { /* the channel then reads the head and skips the body */
			uint32_t blen = 0, pos = 0, l;
			int32_t id;
			const uint8_t *v;

			rc = zt_msg_parse_head(data + off, size - off, &m, &used, &blen);
			check(rc == ZT_PARSE_OK || rc == ZT_PARSE_MORE || rc < 0);
			if (rc == ZT_PARSE_OK) {
				check(used >= ZT_MSG_HDR_LEN && used <= size - off && !m.body_len);
				while (zt_msg_hdr_next(&m, &pos, &id, &v, &l))
					check(v >= m.headers && v + l <= m.headers + m.headers_len);
			}
			break;
		}
		if (rc != ZT_PARSE_OK) {
			check(rc == ZT_PARSE_MORE || rc < 0);
			if (rc == ZT_PARSE_MORE && need)
				check(need > size - off);
			break;
		}
		check(used >= ZT_MSG_HDR_LEN && used <= size - off);
		uint32_t pos = 0, l, u32;
		int32_t id;
		const uint8_t *v;
		uint64_t u64;
		uint16_t u16;
		bool bl;

		while (zt_msg_hdr_next(&m, &pos, &id, &v, &l)) {
			check(v >= m.headers && v + l <= m.headers + m.headers_len);
			zt_msg_hdr_u32(&m, id, &u32);
			zt_msg_hdr_u64(&m, id, &u64);
			zt_msg_hdr_u16(&m, id, &u16);
			zt_msg_hdr_bool(&m, id, &bl);
		}
		const uint8_t *p = m.body, *part;
		size_t left = m.body_len, plen, total = 0;
		int r;

		while ((r = zt_multipart_next(&p, &left, &part, &plen)) == 1) {
			check(part >= m.body && part + plen <= m.body + m.body_len);
			total += plen + 2;
		}
		check(r == 0 ? total == m.body_len : total < m.body_len);
		roundtrip(&m);
		off += used;
	}
	return 0;
}
