// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests (TAP 13) of sipovld's SIP view, all I/O free: the message parser (sip_msg.c),
 * the SDP parser (sip_sdp.c), stream framing, and the dialog tracker (calls.c), on the message
 * shapes of tests/daemon/sip_msgs.h. Built with ASan/UBSan ($(O)/san/sip-unit); run by
 * tests/daemon/run.sh.
 */
#include <arpa/inet.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon/call_rtp.h"
#include "daemon/calls.h"
#include "daemon/sip_msg.h"
#include "daemon/sip_sdp.h"
#include "tests/daemon/sip_msgs.h"

#include "tests/daemon/tap.h"

static bool eq(struct sip_str s, const char *c)
{
	return s.n == strlen(c) && !memcmp(s.p, c, s.n);
}

static const char *sa(const struct sockaddr_storage *a)
{
	static char b[4][80];
	static int i;
	char *o = b[i++ & 3], h[64];
	const void *ad = a->ss_family == AF_INET ? (const void *)&((const struct sockaddr_in *)a)->sin_addr :
						   (const void *)&((const struct sockaddr_in6 *)a)->sin6_addr;
	unsigned port = ntohs(a->ss_family == AF_INET ? ((const struct sockaddr_in *)a)->sin_port :
							((const struct sockaddr_in6 *)a)->sin6_port);

	if (a->ss_family != AF_INET && a->ss_family != AF_INET6)
		return "-";
	inet_ntop(a->ss_family, ad, h, sizeof(h));
	snprintf(o, 80, a->ss_family == AF_INET ? "%s:%u" : "[%s]:%u", h, port);
	return o;
}

static struct sip_msg M;
static char err[160];

static enum sip_rc parse(const char *s, bool stream)
{
	err[0] = 0;
	return sip_parse(s, strlen(s), stream, &M, err, sizeof(err));
}

static void t_requests(void)
{
	struct sip_str v;

	ok(parse(SIPP_INVITE, false) == SIP_OK, "SIPp INVITE parses (%s)", err);
	ok(M.request && eq(M.method, "INVITE") && eq(M.uri, "sip:service@10.2.0.2:5060"), "request line");
	ok(eq(M.call_id, "1-4242@10.1.0.2") && M.cseq == 1 && eq(M.cseq_method, "INVITE"), "Call-ID, CSeq");
	ok(sip_hdr_param(M.from, "tag", &v) && eq(v, "4242SIPpTag001"), "From tag");
	ok(!sip_hdr_param(M.to, "tag", &v), "no To tag on the first INVITE");
	ok(eq(sip_uri_aor(sip_hdr_uri(M.from)), "sipp@10.1.0.2:5061"), "From user@host");
	ok(M.content_length == 127 && M.body.n == 127 && !strncmp(M.body.p, "v=0\r\n", 5), "Content-Length 127 (with spaces), body");
	ok(M.len == strlen(SIPP_INVITE), "message length");
	ok(M.n_via == 1 && M.n_hdr == 10, "10 header lines, 1 Via");

	ok(parse(KAM_INVITE, false) == SIP_OK, "Kamailio INVITE parses (%s)", err);
	ok(M.n_via == 2, "two Vias on one line: %u", M.n_via);
	ok(sip_hdr_param(M.from, "tag", &v) && eq(v, "as5f2a1b"), "tag after a quoted display name with a comma");
	ok(eq(sip_uri_aor(sip_hdr_uri(M.to)), "1002@example.com"), "To user@host");
	ok(M.body.n == 0, "no body");
	size_t pos = 0;
	unsigned k = 0;

	for (unsigned i = 0; i < M.n_hdr; i++)
		if (sip_str_eq(M.hdr[i].name, "Allow"))
			while (sip_next_value(M.hdr[i].value, &pos, &v))
				k++;
	ok(k == 7, "Allow: 7 values (%u)", k);

	ok(parse(BARESIP_INVITE6, true) == SIP_OK, "baresip INVITE (compact forms, folded, IPv6) parses on a stream (%s)", err);
	ok(eq(M.call_id, "b7c4a1f2e3d4@baresip") && M.cseq == 38451, "i: is Call-ID");
	ok(sip_hdr_param(M.from, "tag", &v) && eq(v, "bs8f7c2"), "f: is From");
	ok(eq(sip_hdr_uri(M.contact), "sip:alice-0x55d1@[2001:db8::10]:5060;transport=tcp"), "m: is Contact");
	ok(M.content_length == 250 && eq(M.content_type, "application/sdp"), "l: and c:");
	ok(M.n_via == 1, "v: is Via");
	bool folded = false;

	for (unsigned i = 0; i < M.n_hdr; i++)
		if (sip_str_eq(M.hdr[i].name, "k"))
			folded = eq(M.hdr[i].value, "replaces, 100rel, timer");
	ok(folded, "folded k: line unfolded to one value");

	ok(parse(LINPHONE_REINVITE, false) == SIP_OK, "linphone re-INVITE (LF line ends, folded From) parses (%s)", err);
	ok(sip_hdr_param(M.from, "tag", &v) && eq(v, "Lp8wZ"), "tag on a folded From line");
	ok(M.body.n == 118, "body with LF line ends: %zu", M.body.n);
}

static void t_responses(void)
{
	struct sip_str v;

	ok(parse(SIPP_180, false) == SIP_OK && !M.request && M.status == 180 && eq(M.reason, "Ringing"), "180 Ringing (%s)", err);
	ok(sip_hdr_param(M.to, "tag", &v) && eq(v, "5151SIPpTag011"), "To tag of the 180");
	ok(parse(AST_486, false) == SIP_OK && M.status == 486 && M.n_via == 2, "Asterisk 486, two Via lines (%s)", err);
	ok(parse("SIP/2.0 200\r\nCall-ID: x\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCSeq: 1 OPTIONS\r\n\r\n", false) == SIP_OK &&
	   M.status == 200 && !M.reason.n, "status line without a reason phrase");
}

static void t_bad(void)
{
	static const struct {
		const char *msg, *why;
	} bad[] = {
		{ "HELLO\r\n\r\n", "neither a request line" },
		{ "INVITE sip:a@b SIP/3.0\r\nCall-ID: x\r\n\r\n", "version is not SIP/2.0" },
		{ "SIP/2.0 99 Odd\r\n\r\n", "3-digit code" },
		{ "SIP/2.0 700 Odd\r\n\r\n", "3-digit code" },
		{ "INVITE sip:a@b SIP/2.0\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCSeq: 1 INVITE\r\n\r\n", "missing Call-ID" },
		{ "INVITE sip:a@b SIP/2.0\r\nCall-ID: x\r\nFrom: a\r\nTo: b\r\nCSeq: one INVITE\r\n\r\n", "CSeq: expected a number" },
		{ "INVITE sip:a@b SIP/2.0\r\nCall-ID: x\r\nFrom: a\r\nTo: b\r\nCSeq: 1 BYE\r\n\r\n", "CSeq method differs" },
		{ "INVITE sip:a@b SIP/2.0\r\nCall-ID: x\r\nFrom: a\r\nTo: b\r\nCSeq: 1 INVITE\r\nContent-Length: 10\r\n\r\nv=0\r\n", "only 5 bytes of body" },
		{ "INVITE sip:a@b SIP/2.0\r\nCall-ID: x\r\nFrom: a\r\nTo: b\r\nCSeq: 1 INVITE\r\nContent-Length: 99999\r\n\r\n", "Content-Length: expected a number up to" },
		{ "INVITE sip:a@b SIP/2.0\r\nCall-ID: x\r\nCall-ID: y\r\nFrom: a\r\nTo: b\r\nCSeq: 1 INVITE\r\n\r\n", "two different Call-ID" },
		{ "INVITE sip:a@b SIP/2.0\r\nNoColon\r\n\r\n", "without ':'" },
		{ "INVITE sip:a@b SIP/2.0\r\nCall-ID: x", "no empty line" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(parse(bad[i].msg, false) == SIP_BAD && strstr(err, bad[i].why), "malformed %zu refused: %s", i, err);
}

static void t_sniff(void)
{
	static const uint8_t rtp[] = { 0x80, 0x00, 0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 2 };

	ok(sip_sniff(SIPP_INVITE, 60) && sip_sniff(SIPP_200, 20) && sip_sniff("OPTIONS sip:x SIP/2.0\n", 22),
	   "sniff: requests and responses");
	ok(!sip_sniff((const char *)rtp, sizeof(rtp)) && !sip_sniff("GET / HTTP/1.1\r\n", 16), "sniff: RTP and HTTP are not SIP");
	ok(sip_keepalive("\r\n\r\n", 4) && sip_keepalive("\0\0\0\0", 4) && !sip_keepalive("\r\nX", 3), "keepalives");
}

static struct sdp S;

static void t_sdp(void)
{
	parse(SIPP_INVITE, false);
	ok(!sdp_parse(M.body.p, M.body.n, &S, err, sizeof(err)), "SIPp SDP parses (%s)", err);
	ok(S.n_media == 1 && !strcmp(S.m[0].media, "audio") && S.m[0].port == 6000 && !strcmp(S.m[0].codec, "PCMU") &&
	   S.m[0].clock == 8000, "m=audio 6000 PCMU/8000");
	ok(!strcmp(sa(&S.m[0].rtp), "10.1.0.2:6000") && !strcmp(sa(&S.m[0].rtcp), "10.1.0.2:6001") && !S.m[0].hold,
	   "session-level c=: RTP %s RTCP %s", sa(&S.m[0].rtp), sa(&S.m[0].rtcp));

	parse(BARESIP_INVITE6, true);
	ok(!sdp_parse(M.body.p, M.body.n, &S, err, sizeof(err)), "baresip IPv6 SDP parses (%s)", err);
	ok(S.n_media == 2 && S.m[0].n_pt == 4 && S.m[0].pt[0] == 96 && !strcmp(S.m[0].codec, "opus") && S.m[0].clock == 48000,
	   "dynamic payload type named by a=rtpmap: %s/%u", S.m[0].codec, S.m[0].clock);
	ok(!strcmp(sa(&S.m[0].rtp), "[2001:db8::10]:10000") && !strcmp(sa(&S.m[0].rtcp), "[2001:db8::11]:10003"),
	   "a=rtcp with its own address: %s", sa(&S.m[0].rtcp));
	ok(S.m[1].port == 0 && !strcmp(S.m[1].media, "video"), "refused video stream (port 0)");

	parse(LINPHONE_REINVITE, false);
	ok(!sdp_parse(M.body.p, M.body.n, &S, err, sizeof(err)) && S.m[0].hold && S.m[0].dir == SDP_SENDONLY &&
	   S.m[0].rtcp_mux && !strcmp(sa(&S.m[0].rtcp), "198.51.100.10:7078"), "hold by a=sendonly; rtcp-mux: RTCP on the RTP port");
	const char *h = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\nm=audio 4000 RTP/AVP 8 101\r\n";

	ok(!sdp_parse(h, strlen(h), &S, err, sizeof(err)) && S.m[0].hold && !strcmp(S.m[0].codec, "PCMA"), "hold by c=0.0.0.0");
	h = "v=0\r\nc=IN IP4 192.0.2.1\r\nm=audio 4000 RTP/AVP 0\r\nc=IN IP4 192.0.2.9\r\na=inactive\r\nm=audio 4002/2 RTP/AVP 0\r\n";
	ok(!sdp_parse(h, strlen(h), &S, err, sizeof(err)) && !strcmp(sa(&S.m[0].rtp), "192.0.2.9:4000") && S.m[0].hold &&
	   !strcmp(sa(&S.m[1].rtp), "192.0.2.1:4002") && S.m[1].nports == 2 && !S.m[1].hold,
	   "media-level c= overrides the session's; a=inactive is per stream; port count");
	h = "v=0\r\nc=IN IP4 192.0.2.1\r\nm=image 4000 udptl t38\r\n";
	ok(!sdp_parse(h, strlen(h), &S, err, sizeof(err)) && S.m[0].n_pt == 0 && !S.m[0].codec[0], "T.38 image stream");

	static const struct {
		const char *sdp, *why;
	} bad[] = {
		{ "o=x\r\n", "v=0" },
		{ "v=0\r\nm=audio 4000 RTP/AVP 0\r\n", "no c= line" },
		{ "v=0\r\nc=IN IP4 host.example\r\nm=audio 4000 RTP/AVP 0\r\n", "numeric IPv4" },
		{ "v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 70000 RTP/AVP 0\r\n", "port is not a number" },
		{ "v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 4000 RTP/AVP 200\r\n", "payload type" },
		{ "v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 4000 RTP/AVP\r\n", "no payload type" },
		{ "v=0\r\nc=IN IP6 1.2.3.4\r\nm=audio 4000 RTP/AVP 0\r\n", "numeric IPv6" },
		{ "v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 4000 RTP/AVP 0\r\na=rtcp:x\r\n", "a=rtcp" },
		{ "v=0\r\nbogus\r\n", "TYPE=VALUE" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(sdp_parse(bad[i].sdp, strlen(bad[i].sdp), &S, err, sizeof(err)) && strstr(err, bad[i].why),
		   "bad SDP %zu refused: %s", i, err);
}

/* stream framing: every split of two messages, then both in one read */
static unsigned got;
static char got_ids[8][64];
static unsigned bad_calls;

static void on_msg(void *arg, const struct sip_msg *m)
{
	(void)arg;
	if (got < 8)
		sip_str_copy(got_ids[got], 64, m->cseq_method);
	got++;
}

static void on_bad(void *arg, const char *why)
{
	(void)arg;
	(void)why;
	bad_calls++;
}

static long mem_now;
static bool on_mem(void *arg, long d)
{
	(void)arg;
	if (mem_now + d > 8192)
		return false;
	mem_now += d;
	return true;
}

static void t_stream(void)
{
	static const char two[] = "\r\n\r\n" SIPP_INVITE SIPP_BYE "\r\n";
	struct sip_stream_ops ops = { on_msg, on_bad, on_mem, NULL };
	size_t L = strlen(two);
	unsigned good = 0;

	for (size_t cut = 1; cut < L; cut++) {
		struct sip_stream s = { 0 };

		got = 0;
		sip_stream_feed(&s, two, cut, &ops);
		sip_stream_feed(&s, two + cut, L - cut, &ops);
		good += got == 2 && !s.broken && !strcmp(got_ids[0], "INVITE") && !strcmp(got_ids[1], "BYE") && !s.len;
		sip_stream_free(&s, &ops);
	}
	ok(good == L - 1, "two messages cut at every byte (keepalives around them): %u of %zu reads framed both", good, L - 1);
	ok(mem_now == 0, "stream buffers given back: %ld", mem_now);
	struct sip_stream s = { 0 };

	got = 0;
	for (size_t i = 0; i < L; i++)
		sip_stream_feed(&s, two + i, 1, &ops);
	ok(got == 2 && !s.broken, "byte by byte: %u messages", got);
	sip_stream_free(&s, &ops);
	got = 0;
	sip_stream_feed(&s, two, L, &ops);
	ok(got == 2, "both in one read: %u", got);
	sip_stream_free(&s, &ops);

	/* malformed in the middle: what came before is delivered, the stream stops */
	static const char badmid[] = SIPP_100 "GARBAGE\r\n\r\n" SIPP_180;
	got = bad_calls = 0;
	sip_stream_feed(&s, badmid, strlen(badmid), &ops);
	ok(got == 1 && s.broken && bad_calls == 1 && !s.buf, "malformed message stops the stream (%u before it)", got);
	sip_stream_feed(&s, SIPP_180, strlen(SIPP_180), &ops);
	ok(got == 1, "a broken stream parses nothing more");
	sip_stream_free(&s, &ops);

	/* the memory account refuses: broken, counted */
	struct sip_stream s2 = { 0 };
	static char big[20000];

	memset(big, 'a', sizeof(big) - 1);
	memcpy(big, "INVITE sip:x SIP/2.0\r\nX: ", 25);
	bad_calls = 0;
	sip_stream_feed(&s2, big, sizeof(big) - 1, &ops);
	ok(s2.broken && bad_calls == 1 && mem_now == 0, "a header block past the memory account stops the stream");
	sip_stream_free(&s2, &ops);
}

/* ------------------------------------------------------------------ the tracker */

static struct call ended[16];
static unsigned n_ended;

static void on_end(void *arg, const struct call *c)
{
	(void)arg;
	if (n_ended < 16)
		ended[n_ended] = *c;
	n_ended++;
}

static void feed(struct calls *t, const char *s, uint64_t now)
{
	if (sip_parse(s, strlen(s), false, &M, err, sizeof(err)) == SIP_OK)
		calls_msg(t, &M, NULL, NULL, now);
	else
		calls_malformed(t, err);
}

static char *subst(const char *s, const char *from, const char *to)
{
	static char out[4][4096];
	static int k;
	char *o = out[k++ & 3], *w = o;
	size_t fl = strlen(from);

	while (*s) {
		if (!strncmp(s, from, fl)) {
			w += sprintf(w, "%s", to);
			s += fl;
		} else {
			*w++ = *s++;
		}
	}
	*w = 0;
	return o;
}

static void t_calls(void)
{
	struct calls_cfg cfg = { .max_calls = 3, .setup_timeout_ms = 60000, .idle_timeout_ms = 3600000,
				 .linger_ms = 30000, .on_end = on_end };
	struct calls *t = calls_new(&cfg);
	const struct call *c;

	/* SIPp call: INVITE (retransmitted), 100, 180, 200, ACK, BYE, 200 */
	feed(t, SIPP_INVITE, 1000);
	feed(t, SIPP_INVITE, 1500);
	feed(t, SIPP_100, 1600);
	c = calls_first(t);
	ok(c && c->state == CALL_PROCEEDING && calls_stats(t)->active == 1 && calls_stats(t)->started == 1,
	   "INVITE (retransmitted) + 100: one call, proceeding");
	feed(t, SIPP_180, 2000);
	ok(c->state == CALL_EARLY && !strcmp(c->tag[1], "5151SIPpTag011") && !c->early_media, "180 with a To tag: early, no media");
	feed(t, SIPP_200, 3000);
	feed(t, SIPP_ACK, 3100);
	ok(c->state == CALL_CONFIRMED && c->has_sdp[0] && c->has_sdp[1] &&
	   !strcmp(sa(&c->sdp[0].m[0].rtp), "10.1.0.2:6000") && !strcmp(sa(&c->sdp[1].m[0].rtp), "10.2.0.2:6000"),
	   "200 + ACK: confirmed, offer %s answer %s", sa(&c->sdp[0].m[0].rtp), sa(&c->sdp[1].m[0].rtp));
	ok(!strcmp(c->party[0], "sipp@10.1.0.2:5061") && !strcmp(c->party[1], "service@10.2.0.2:5060") &&
	   !strcmp(call_codec(c), "PCMU"), "parties %s -> %s, codec %s", c->party[0], c->party[1], call_codec(c));
	feed(t, SIPP_BYE, 63000);
	ok(n_ended == 1 && ended[0].end == CALL_END_BYE_CALLER && call_duration_ms(&ended[0], 0) == 60000 &&
	   ended[0].status == 200, "BYE by the caller: ended once, 60 s after the answer");
	feed(t, SIPP_BYE, 63500);
	feed(t, SIPP_BYE_200, 63600);
	ok(n_ended == 1 && !calls_stats(t)->unknown_dialog && calls_stats(t)->lingering == 1,
	   "retransmitted BYE and its 200 find the lingering call");
	calls_tick(t, 63000 + 29999);
	ok(calls_first(t) != NULL, "lingers 30 s");
	calls_tick(t, 63000 + 30000);
	ok(calls_first(t) == NULL && calls_stats(t)->lingering == 0, "then freed");

	/* rejected (Kamailio INVITE, Asterisk 486) */
	feed(t, KAM_INVITE, 100000);
	feed(t, AST_486, 100200);
	ok(n_ended == 2 && ended[1].end == CALL_END_REJECTED && ended[1].status == 486 && !ended[1].has_sdp[0],
	   "486: rejected (status %u)", ended[1].status);

	/* cancelled: INVITE, 180, CANCEL, 487 */
	const char *id = "Call-ID: 1-4242@10.1.0.2", *id2 = "Call-ID: cancel-1";

	feed(t, subst(SIPP_INVITE, id, id2), 200000);
	feed(t, subst(SIPP_180, id, id2), 200100);
	feed(t, subst(subst(subst(SIPP_ACK, id, id2), "ACK", "CANCEL"), ";tag=5151SIPpTag011", ""), 201000);
	ok(n_ended == 2, "CANCEL alone does not end the call");
	feed(t, subst(subst(SIPP_100, id, id2), "100 Trying", "487 Request Terminated"), 201100);
	ok(n_ended == 3 && ended[2].end == CALL_END_CANCELLED && call_duration_ms(&ended[2], 0) == 0,
	   "CANCEL then 487: cancelled, duration 0");

	/* early media, re-INVITE to hold by the callee, BYE by the callee */
	const char *id3 = "Call-ID: reinv-1";
	const char *p183 = subst(subst(SIPP_200, id, id3), "200 OK", "183 Session Progress");

	feed(t, subst(SIPP_INVITE, id, id3), 300000);
	feed(t, p183, 300100);
	c = calls_first(t);
	ok(c->state == CALL_EARLY && c->early_media, "183 with SDP: early media");
	feed(t, subst(SIPP_200, id, id3), 301000);
	/* the callee's re-INVITE: From/To swapped, its own CSeq */
	char *re = subst(subst(subst(subst(subst(SIPP_INVITE, id, id3), "From: sipp <sip:sipp@10.1.0.2:5061>;tag=4242SIPpTag001", "From: X"),
				     "To: service <sip:service@10.2.0.2:5060>", "From: <sip:service@10.2.0.2:5060>;tag=5151SIPpTag011"),
			       "From: X", "To: sipp <sip:sipp@10.1.0.2:5061>;tag=4242SIPpTag001"), "c=IN IP4 10.1.0.2", "c=IN IP4 0.0.0.0");

	re = subst(re, "Content-Length:   127", "Content-Length:   126");

	feed(t, re, 310000);
	ok(c->reinvites == 1 && c->sdp[1].m[0].hold && !c->sdp[0].m[0].hold, "callee's re-INVITE with c=0.0.0.0: callee side on hold");
	char *bye = subst(subst(subst(subst(re, "INVITE sip", "BYE sip"), "1 INVITE", "9 BYE"), "Content-Length:   126", "Content-Length: 0"),
			  "Content-Type: application/sdp\r\n", "");

	bye[strstr(bye, "\r\n\r\n") - bye + 4] = 0;
	feed(t, bye, 320000);
	ok(n_ended == 4 && ended[3].end == CALL_END_BYE_CALLEE && call_duration_ms(&ended[3], 0) == 19000,
	   "BYE by the callee: bye-callee, 19 s");

	/* limits: max 3 records; lingering ones make room, active ones do not */
	calls_tick(t, 400000);
	ok(!calls_first(t), "all lingering calls freed");
	feed(t, subst(SIPP_INVITE, id, "Call-ID: a"), 500000);
	feed(t, subst(SIPP_INVITE, id, "Call-ID: b"), 500000);
	feed(t, subst(SIPP_INVITE, id, "Call-ID: c"), 500000);
	feed(t, subst(SIPP_INVITE, id, "Call-ID: d"), 500000);
	ok(calls_stats(t)->active == 3 && calls_stats(t)->limit_hits == 1, "4th call past max_calls 3: not tracked, counted");
	ok(calls_mem(t) <= sizeof(struct call) * 3 + 65536, "memory bounded: %zu bytes for 3 calls", calls_mem(t));

	/* setup timeout: no answer for 60 s */
	calls_tick(t, 559999);
	ok(n_ended == 4, "no setup timeout before 60 s");
	calls_tick(t, 560000);
	ok(n_ended == 7 && ended[6].end == CALL_END_SETUP_TIMEOUT, "setup timeout after 60 s");

	/* malformed and unknown */
	feed(t, "INVITE sip:x SIP/2.0\r\n\r\n", 600000);
	feed(t, SIPP_BYE, 600000);
	ok(calls_stats(t)->malformed == 1 && calls_stats(t)->unknown_dialog == 1 && strstr(calls_last_error(t), "Call-ID"),
	   "malformed counted (%s), a BYE of no call counted as unknown", calls_last_error(t));
	feed(t, subst(SIPP_INVITE, "m=audio 6000", "m=audio 99999"), 600000);
	ok(calls_stats(t)->sdp_malformed == 1 && calls_stats(t)->active == 1, "bad SDP counted, the call is still tracked");

	/* idle timeout of a confirmed call, then stop */
	feed(t, SIPP_200, 600100);
	calls_tick(t, 600100 + 3600000);
	ok(n_ended == 8 && ended[7].end == CALL_END_IDLE_TIMEOUT, "idle timeout of a confirmed call");
	feed(t, subst(SIPP_INVITE, id, "Call-ID: z"), 700000);
	feed(t, subst(SIPP_INVITE, id, "Call-ID: y"), 700000);
	feed(t, subst(SIPP_200, id, "Call-ID: y"), 700100);
	feed(t, subst(SIPP_ACK, id, "Call-ID: y"), 700150);
	calls_free(t, 760150);
	ok(n_ended == 10 && ended[8].end == CALL_END_STOPPED && ended[9].end == CALL_END_STOPPED,
	   "stopping ends what is active");
	const struct call *y = !strcmp(ended[8].call_id, "y") ? &ended[8] : &ended[9];
	const struct call *z = y == &ended[8] ? &ended[9] : &ended[8];

	ok(!strcmp(y->call_id, "y") && call_duration_ms(y, 0) == 60050 && call_duration_ms(z, 0) == 0,
	   "a call stopped while confirmed lasts until the stop: %llu ms (60050: not until its last SIP message)",
	   (unsigned long long)call_duration_ms(y, 0));
}

/* ------------------------------------------------------------------ a call's RTP (call_rtp.c) */

static struct rtpq_dir RQ[2];        /* one flow's two directions: [0] the caller's stream */
static struct call_rtp RV = { { &RQ[0], &RQ[1] }, { &RQ[1], &RQ[0] } };
static char cdr[4][160];
static unsigned n_cdr;

static void on_end_cdr(void *arg, const struct call *c)
{
	(void)arg;
	(void)c;
	if (n_cdr < 4)
		call_rtp_end(&RV, 0, cdr[n_cdr], sizeof(cdr[0]));
	n_cdr++;
}

/*
 * SIPp's pcap play (g711a.pcap): 236 PCMA packets 30 ms apart, SSRC dee0ee8f, sequence
 * numbers from 0xe6fd and timestamps from 240, sent unchanged in every call (from the
 * call's media port) and echoed unchanged by the UAS (-rtp_echo). Packet i of direction d
 * arrives at t0 + 30 ms i + jit_us when i is odd; lost when lose and i % 10 == 5.
 */
static void sipp_rtp(uint64_t t0_us, unsigned jit_us, bool lose)
{
	uint8_t b[252];

	for (unsigned i = 0; i < 236; i++)
		for (int d = 0; d < 2; d++) {
			uint16_t seq = (uint16_t)(0xe6fd + i);
			uint32_t ts = 240 * (i + 1);

			if (lose && d == 0 && i % 10 == 5)
				continue;
			memset(b, 0xd5, sizeof(b));
			b[0] = 0x80;
			b[1] = i ? 8 : 0x88;
			b[2] = (uint8_t)(seq >> 8), b[3] = (uint8_t)seq;
			b[4] = (uint8_t)(ts >> 24), b[5] = (uint8_t)(ts >> 16), b[6] = (uint8_t)(ts >> 8), b[7] = (uint8_t)ts;
			b[8] = 0xde, b[9] = 0xe0, b[10] = 0xee, b[11] = 0x8f;
			rtpq_update(&RQ[d], b, sizeof(b), t0_us + 30000ull * i + (i & 1 ? jit_us : 0) + (unsigned)d * 1000);
		}
}

static void sipp_call(struct calls *t, const char *id, uint64_t t0_ms, unsigned jit_us, bool lose)
{
	const char *o = "Call-ID: 1-4242@10.1.0.2";

	feed(t, subst(SIPP_INVITE, o, id), t0_ms);
	feed(t, subst(SIPP_200, o, id), t0_ms + 50);
	feed(t, subst(SIPP_ACK, o, id), t0_ms + 60);
	sipp_rtp((t0_ms + 100) * 1000, jit_us, lose);
	feed(t, subst(SIPP_BYE, o, id), t0_ms + 9000);
}

static bool cdr_figs(const char *s, double *loss, double *jit)
{
	const char *p = strstr(s, "loss_pct="), *q = strstr(s, "jitter_ms=");

	return p && q && sscanf(p, "loss_pct=%lf/%lf", &loss[0], &loss[1]) == 2 &&
	       sscanf(q, "jitter_ms=%lf/%lf", &jit[0], &jit[1]) == 2;
}

static void t_call_rtp(void)
{
	struct calls_cfg cfg = { .max_calls = 8, .setup_timeout_ms = 60000, .idle_timeout_ms = 3600000,
				 .linger_ms = 30000, .on_end = on_end_cdr };
	struct calls *t = calls_new(&cfg);
	double l1[2], j1[2], l2[2], j2[2];

	/* two SIPp calls on the same media ports, one flow: the first with loss and jitter */
	sipp_call(t, "Call-ID: rtp-1", 1000000, 6000, true);
	sipp_call(t, "Call-ID: rtp-2", 1020000, 0, false);
	ok(n_cdr == 2 && cdr_figs(cdr[0], l1, j1) && cdr_figs(cdr[1], l2, j2), "two CDRs: '%s' and '%s'", cdr[0], cdr[1]);
	ok(l1[0] > 9.5 && l1[0] < 10.5 && l1[1] == 0 && j1[0] > 2.0 && j1[1] > 2.0,
	   "first call: 10 %% lost caller to callee (%.2f), jitter %.1f/%.1f ms", l1[0], j1[0], j1[1]);
	ok(l2[0] == 0 && l2[1] == 0, "second call (same ports, none lost): loss %.2f/%.2f %%, none of the first call's",
	   l2[0], l2[1]);
	ok(j2[0] == 0 && j2[1] == 0, "second call (sent on time): jitter %.1f/%.1f ms, none of the first call's", j2[0],
	   j2[1]);
	ok(strstr(cdr[0], "packets=212/236 ") && strstr(cdr[1], "packets=236/236 "), "packets: the call's own");
	calls_free(t, 1040000);
}

/*
 * Two sipovld workers (sip_view_workers.c): worker 0 reads a call's SIP, worker 1 carries its RTP
 * flow (RQ) and follows the call from the SIP worker 0 gives it (origin 0). Worker 1's end of
 * the call gives the stream's figures (its "FIN"); worker 0, the origin, has none of its own
 * and writes the CDR from worker 1's: the same text one worker carrying both would write.
 */
static struct call_rtp_final wk_fin[2];
static unsigned wk_ends[2], wk_origin[2];
static char wk_id[2][CALL_ID_LEN];

static bool wk_find(void *arg, const struct call *c, unsigned i, struct call_rtp *r)
{
	(void)c;
	if ((uintptr_t)arg != 1 || i) /* only worker 1 has the flow */
		return false;
	*r = RV;
	return true;
}

static void wk_end(void *arg, const struct call *c)
{
	unsigned w = (unsigned)(uintptr_t)arg;

	call_rtp_end_call(c, wk_find, arg, 0, NULL, 0, &wk_fin[w]);
	wk_origin[w] = c->origin;
	snprintf(wk_id[w], sizeof(wk_id[w]), "%s", c->call_id);
	wk_ends[w]++;
}

static void t_two_workers(void)
{
	struct calls_cfg c0 = { .max_calls = 8, .setup_timeout_ms = 60000, .idle_timeout_ms = 3600000,
				.linger_ms = 30000, .on_end = wk_end, .arg = (void *)(uintptr_t)0 };
	struct calls_cfg c1 = c0;
	struct calls *t[2];
	const char *o = "Call-ID: 1-4242@10.1.0.2", *id = "Call-ID: wk-1";
	char one[160], merged[512];
	struct call_rtp_final fin;

	c1.arg = (void *)(uintptr_t)1;
	t[0] = calls_new(&c0);
	t[1] = calls_new(&c1);
	calls_set_origin(t[1], 1);
	memset(RQ, 0, sizeof(RQ));
	/* the first call on a fresh flow, as one worker would see it: the reference CDR text */
	n_cdr = 0;
	{
		struct calls_cfg r = { .max_calls = 8, .setup_timeout_ms = 60000, .idle_timeout_ms = 3600000,
				       .linger_ms = 30000, .on_end = on_end_cdr };
		struct calls *t1 = calls_new(&r);

		sipp_call(t1, id, 2000000, 6000, true);
		calls_free(t1, 2100000);
	}
	snprintf(one, sizeof(one), "%s", cdr[0]);
	memset(RQ, 0, sizeof(RQ));
	/* the same call split: worker 0 reads the SIP and gives it to worker 1 (origin 0) */
	const char *msgs[] = { SIPP_INVITE, SIPP_200, SIPP_ACK };
	for (int k = 0; k < 3; k++)
		for (int w = 0; w < 2; w++) {
			calls_set_origin(t[1], 0);
			feed(t[w], subst(msgs[k], o, id), 2000000 + (uint64_t)k * 50);
			calls_set_origin(t[1], 1);
		}
	sipp_rtp(2000100ull * 1000, 6000, true);
	const struct call *c1c = calls_find(t[1], "wk-1");

	ok(c1c && c1c->origin == 0 && calls_find(t[0], "wk-1") && !calls_find(t[0], "wk-2"),
	   "calls_find: the call worker 1 follows has its origin, worker 0 (%u)", c1c ? c1c->origin : 99);
	for (int w = 0; w < 2; w++) {
		calls_set_origin(t[1], 0);
		feed(t[w], subst(SIPP_BYE, o, id), 2009000);
		calls_set_origin(t[1], 1);
	}
	ok(wk_ends[0] == 1 && wk_ends[1] == 1 && wk_origin[0] == 0 && wk_origin[1] == 0 && !wk_fin[0].has &&
	   wk_fin[1].has == 1 && !strcmp(wk_id[1], "wk-1"),
	   "the call ends at both workers: worker 0 (its origin) has no figures, worker 1 those of the stream (has %u/%u)",
	   wk_fin[0].has, wk_fin[1].has);
	/* worker 0 takes worker 1's figures (sipv_remote_fin) and writes the CDR */
	fin = wk_fin[0];
	for (unsigned i = 0; i < SDP_MAX_MEDIA; i++)
		if (wk_fin[1].has & 1u << i) {
			memcpy(fin.q[i], wk_fin[1].q[i], sizeof(fin.q[i]));
			fin.has |= 1u << i;
		}
	const struct call *c0c = calls_find(t[0], "wk-1");

	call_rtp_fmt(c0c, &fin, merged, sizeof(merged));
	ok(!strcmp(merged, one), "the origin's CDR from worker 1's figures is one worker's: '%s' (one worker: '%s')", merged,
	   one);
	call_rtp_fmt(c0c, &wk_fin[0], merged, sizeof(merged));
	ok(!strcmp(merged, "packets=- loss_pct=- jitter_ms=- mos=-"), "without them: '%s'", merged);
	calls_free(t[0], 2100000);
	calls_free(t[1], 2100000);
}

/* an SDP of 10.X.0.2:6000 offering or answering opus and telephone-event (dynamic types) */
static const char *opus_sdp(int x)
{
	static char b[2][512];

	snprintf(b[x - 1], sizeof(b[0]),
		 "v=0\r\no=- 1 1 IN IP4 10.%d.0.2\r\ns=-\r\nc=IN IP4 10.%d.0.2\r\nt=0 0\r\n"
		 "m=audio 6000 RTP/AVP 111 101\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 useinbandfec=1\r\n"
		 "a=rtpmap:101 telephone-event/48000\r\na=fmtp:101 0-16\r\n", x, x);
	return b[x - 1];
}

/* @msg with its body replaced by @body */
static char *with_body(const char *msg, const char *body)
{
	static char out[2][4096];
	static int k;
	char *o = out[k++ & 1];
	const char *e = strstr(msg, "\r\n\r\n");
	int n = 0;

	for (const char *l = msg; l < e + 2;) {
		const char *nl = strstr(l, "\r\n");

		if (strncasecmp(l, "Content-Length:", 15))
			n += sprintf(o + n, "%.*s", (int)(nl + 2 - l), l);
		l = nl + 2;
	}
	sprintf(o + n, "Content-Length: %zu\r\n\r\n%s", strlen(body), body);
	return o;
}

static void on_media_rtpmap(void *arg, const struct call *c, int side)
{
	(void)arg;
	(void)side;
	call_rtp_rtpmap(&RV, c, 0);
}

/* @n opus packets from packet @i0 of 20 ms (960 units at 48 kHz), odd ones 10 ms late, both ways */
static void opus_rtp(unsigned i0, unsigned n)
{
	uint8_t b[92];

	for (unsigned i = i0; i < i0 + n; i++)
		for (int d = 0; d < 2; d++) {
			uint32_t ts = 960 * i;

			memset(b, 0x55, sizeof(b));
			b[0] = 0x80, b[1] = 111;
			b[2] = (uint8_t)(i >> 8), b[3] = (uint8_t)i;
			b[4] = (uint8_t)(ts >> 24), b[5] = (uint8_t)(ts >> 16), b[6] = (uint8_t)(ts >> 8), b[7] = (uint8_t)ts;
			b[11] = (uint8_t)(d + 1);
			rtpq_update(&RQ[d], b, sizeof(b), 50000000ull + 20000ull * i + (i & 1 ? 10000 : 0));
		}
}

/* a telephone-event packet (its timestamp is the event's start, not the media clock) */
static void dtmf_rtp(unsigned i)
{
	uint8_t b[16] = { 0x80, 101, (uint8_t)(i >> 8), (uint8_t)i, 0, 0, 0x30, 0x39, 0, 0, 0, 1, 1, 10, 0, 160 };

	rtpq_update(&RQ[0], b, sizeof(b), 50000000ull + 20000ull * i + 3000);
}

static void t_call_rtpmap(void)
{
	struct calls_cfg cfg = { .max_calls = 8, .setup_timeout_ms = 60000, .idle_timeout_ms = 3600000,
				 .linger_ms = 30000, .on_end = on_end_cdr, .on_media = on_media_rtpmap };
	struct calls *t = calls_new(&cfg);
	const char *o = "Call-ID: 1-4242@10.1.0.2";
	struct rtpq_snap q[2];

	/* the SDP first (the flow's RTP then starts with the maps learnt) */
	memset(RQ, 0, sizeof(RQ));
	feed(t, with_body(subst(SIPP_INVITE, o, "Call-ID: opus-1"), opus_sdp(1)), 2000000);
	feed(t, with_body(subst(SIPP_200, o, "Call-ID: opus-1"), opus_sdp(2)), 2000050);
	ok(calls_first(t) && calls_first(t)->sdp[1].n_media == 1 && calls_first(t)->sdp[1].m[0].n_map == 2 &&
	   calls_first(t)->sdp[1].m[0].map[1].pt == 101 && calls_first(t)->sdp[1].m[0].map[1].clock == 48000,
	   "SDP: 2 rtpmaps of dynamic types kept");
	opus_rtp(0, 300);
	dtmf_rtp(300);
	dtmf_rtp(301);
	opus_rtp(302, 200);
	call_rtp_quality(&RV, 50000000 + 20000 * 502, q);
	/* |D| = 480 units at 48 kHz: J16 converges to 7672 (rtpq-unit): 9.99 ms */
	ok(!strcmp(q[0].codec, "opus") && q[0].clock_hz == 48000 && !strcmp(q[1].codec, "opus") &&
	   fabs(q[0].jitter_ms - 7672.0 / 16 / 48) < 0.01 && fabs(q[1].jitter_ms - 7672.0 / 16 / 48) < 0.01,
	   "opus/48000 from the SDP: codec '%s'/'%s', jitter %.2f/%.2f ms (9.99: telephone-event left out)", q[0].codec,
	   q[1].codec, q[0].jitter_ms, q[1].jitter_ms);

	/* the flow first: RTP of an unknown type, then the SDP (answer late) */
	memset(RQ, 0, sizeof(RQ));
	opus_rtp(0, 100);
	call_rtp_quality(&RV, 50000000 + 20000 * 100, q);
	ok(q[0].codec[0] == 0 && q[0].jitter_ms == 0, "PT 111 before the SDP: no codec, no jitter");
	feed(t, with_body(subst(SIPP_INVITE, o, "Call-ID: opus-2"), opus_sdp(1)), 2100000);
	feed(t, with_body(subst(SIPP_200, o, "Call-ID: opus-2"), opus_sdp(2)), 2100050);
	opus_rtp(100, 300);
	call_rtp_quality(&RV, 50000000 + 20000 * 400, q);
	ok(!strcmp(q[0].codec, "opus") && !strcmp(q[1].codec, "opus") && fabs(q[0].jitter_ms - 7672.0 / 16 / 48) < 0.01,
	   "SDP after the flow: codec '%s'/'%s', jitter %.2f ms", q[0].codec, q[1].codec, q[0].jitter_ms);
	calls_free(t, 2200000);
}

/*
 * SIPp's uac_pcap call as selftests/sipovl/daemon.sh makes it: the offer is PCMA and
 * telephone-event 101, the UAS answers PCMU; the UAC plays g711a.pcap, then 1 s before its BYE
 * dtmf_2833_1.pcap (PT 101, another SSRC, one timestamp), echoed by the UAS. The CDR's jitter
 * is the audio's, with the SDP's rtpmap (@sdp) and without it (SIP not seen).
 */
static void t_sipp_dtmf(bool sdp)
{
	struct calls_cfg cfg = { .max_calls = 8, .setup_timeout_ms = 60000, .idle_timeout_ms = 3600000,
				 .linger_ms = 30000, .on_end = on_end_cdr, .on_media = sdp ? on_media_rtpmap : NULL };
	struct calls *t = calls_new(&cfg);
	const char *o = "Call-ID: 1-4242@10.1.0.2";
	const char *offer = "v=0\r\no=user1 53655765 2353687637 IN IP4 10.1.0.2\r\ns=-\r\nc=IN IP4 10.1.0.2\r\nt=0 0\r\n"
			    "m=audio 6000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
			    "a=fmtp:101 0-11,16\r\n";
	double l[2], j[2];
	uint8_t b[16];

	memset(RQ, 0, sizeof(RQ));
	n_cdr = 0;
	feed(t, with_body(subst(SIPP_INVITE, o, "Call-ID: dtmf-1"), offer), 3000000);
	feed(t, subst(SIPP_200, o, "Call-ID: dtmf-1"), 3000050);
	feed(t, subst(SIPP_ACK, o, "Call-ID: dtmf-1"), 3000060);
	sipp_rtp(3000100ull * 1000, 6000, false);
	for (unsigned i = 0; i < 10; i++) /* dtmf_2833_1.pcap, 8 s after the audio started */
		for (int d = 0; d < 2; d++) {
			uint16_t seq = (uint16_t)(7984 + (i < 8 ? i : 7));
			uint8_t e[16] = { 0x80, 101, (uint8_t)(seq >> 8), (uint8_t)seq, 0, 0, 0x33, 0xe0,
					  0x0e, 0x05, 0x38, 0x4e, 1, 10, 0, (uint8_t)(64 * i) };

			memcpy(b, e, sizeof(b));
			rtpq_update(&RQ[d], b, sizeof(b), 3008100ull * 1000 + 20000ull * i + (unsigned)d * 1000);
		}
	feed(t, subst(SIPP_BYE, o, "Call-ID: dtmf-1"), 3009100);
	ok(n_cdr == 1 && cdr_figs(cdr[0], l, j) && j[0] > 2.0 && j[1] > 2.0,
	   "SIPp call ending with DTMF, %s: CDR '%s'", sdp ? "rtpmap from the SDP" : "no SDP seen", cdr[0]);
	calls_free(t, 3100000);
}

/*
 * RTP of the previous call that arrives after its BYE (late, or the phone still sending) on a
 * flow the next call takes again: the next call's figures are its own (issue 17). SIPp replays
 * the same capture in every call: same SSRC, sequence numbers from 0xe6fd again.
 */
static void t_late_rtp(void)
{
	struct calls_cfg cfg = { .max_calls = 8, .setup_timeout_ms = 60000, .idle_timeout_ms = 3600000,
				 .linger_ms = 30000, .on_end = on_end_cdr, .on_media = on_media_rtpmap };
	struct calls *t = calls_new(&cfg);
	double l[2], j[2];
	uint8_t b[252];

	memset(RQ, 0, sizeof(RQ));
	n_cdr = 0;
	sipp_call(t, "Call-ID: late-1", 5000000, 0, false);
	for (unsigned i = 236; i < 246; i++) /* the first call's stream goes on 300 ms after its BYE */
		for (int d = 0; d < 2; d++) {
			uint16_t seq = (uint16_t)(0xe6fd + i);
			uint32_t ts = 240 * (i + 1);

			memset(b, 0xd5, sizeof(b));
			b[0] = 0x80, b[1] = 8;
			b[2] = (uint8_t)(seq >> 8), b[3] = (uint8_t)seq;
			b[4] = (uint8_t)(ts >> 24), b[5] = (uint8_t)(ts >> 16), b[6] = (uint8_t)(ts >> 8), b[7] = (uint8_t)ts;
			b[8] = 0xde, b[9] = 0xe0, b[10] = 0xee, b[11] = 0x8f;
			rtpq_update(&RQ[d], b, sizeof(b), 5009000ull * 1000 + 30000ull * (i - 236) + (unsigned)d * 1000);
		}
	sipp_call(t, "Call-ID: late-2", 5020000, 0, false);
	ok(n_cdr == 2 && cdr_figs(cdr[1], l, j) && strstr(cdr[1], "packets=236/236 ") && l[0] == 0 && l[1] == 0 &&
	   j[0] == 0 && j[1] == 0,
	   "the previous call's RTP after its BYE is not the next call's: CDR '%s' (want 236/236, no loss, no jitter)",
	   n_cdr > 1 ? cdr[1] : "none");
	calls_free(t, 5040000);
}

/*
 * A forked INVITE (RFC 3261 13.2.2.4, 19.3): a proxy rings two phones; each answers in a
 * dialog of its own (To tags A and B). Phone A's 200 makes the call; phone B's 200 comes
 * after, and the caller ACKs it and ends that dialog at once with a BYE. Phone B's answer
 * is not the call's SDP and its BYE does not end the call; the BYE in dialog A does.
 */
static void t_fork(void)
{
	struct calls_cfg cfg = { .max_calls = 8, .setup_timeout_ms = 60000, .idle_timeout_ms = 3600000,
				 .linger_ms = 30000, .on_end = on_end };
	struct calls *t = calls_new(&cfg);
	const char *o = "Call-ID: 1-4242@10.1.0.2", *id = "Call-ID: fork-1", *ta = "tag=5151SIPpTag011",
		   *tb = "tag=7777SIPpTag022";
	const struct call *c;
	char b200[4096];

	n_ended = 0;
	feed(t, subst(SIPP_INVITE, o, id), 7000000);
	feed(t, subst(SIPP_180, o, id), 7000010);
	feed(t, subst(subst(SIPP_180, o, id), ta, tb), 7000011);
	feed(t, subst(SIPP_200, o, id), 7000050);
	/* phone B's 200: its own tag and media address (10.2.0.9) */
	snprintf(b200, sizeof(b200), "%s", subst(subst(subst(SIPP_200, o, id), ta, tb), "10.2.0.2", "10.2.0.9"));
	feed(t, b200, 7000060);
	feed(t, subst(SIPP_ACK, o, id), 7000070);
	feed(t, subst(subst(SIPP_ACK, o, id), ta, tb), 7000071);
	feed(t, subst(subst(SIPP_BYE, o, id), ta, tb), 7000072);
	c = calls_first(t);
	ok(n_ended == 0 && c && c->state == CALL_CONFIRMED && !strcmp(c->tag[1], "5151SIPpTag011"),
	   "forked INVITE: the BYE of the second phone's dialog does not end the call (ended %u, state %d, tag '%s')",
	   n_ended, c ? (int)c->state : -1, c ? c->tag[1] : "");
	char h[64] = "";

	if (c && c->has_sdp[1])
		inet_ntop(AF_INET, &((const struct sockaddr_in *)&c->sdp[1].m[0].rtp)->sin_addr, h, sizeof(h));
	ok(!strcmp(h, "10.2.0.2"), "forked INVITE: the call's media is the answering phone's (%s), not the other's", h);
	ok(calls_stats(t)->other_dialog == 3, "forked INVITE: the other dialog's 200, ACK and BYE counted apart (%llu)",
	   (unsigned long long)calls_stats(t)->other_dialog);
	feed(t, subst(SIPP_BYE, o, id), 7060000);
	ok(n_ended == 1 && ended[0].end == CALL_END_BYE_CALLER && call_duration_ms(&ended[0], 0) == 59950,
	   "forked INVITE: the BYE in the call's dialog ends it (ended %u, %llu ms)", n_ended,
	   n_ended ? (unsigned long long)call_duration_ms(&ended[0], 0) : 0);
	calls_free(t, 7100000);
}

/*
 * A call with audio and video (two m= lines, two flows): the CDR gives each stream's figures,
 * and each stream's interval ends with the call, so the next call on the same ports counts
 * only its own video (issue 17: only the first stream's interval ended; a second stream's
 * figures ran on over every call that used its flow).
 */
static struct rtpq_dir RQV[2];
static struct call_rtp RVV = { { &RQV[0], &RQV[1] }, { &RQV[1], &RQV[0] } };
static char av_cdr[2][512];
static unsigned n_av;

static bool av_find(void *arg, const struct call *c, unsigned i, struct call_rtp *r)
{
	(void)arg;
	(void)c;
	if (i > 1)
		return false;
	*r = i ? RVV : RV;
	return true;
}

static struct call_rtp_final av_fin[2];

static void av_on_end(void *arg, const struct call *c)
{
	(void)arg;
	if (n_av < 2)
		call_rtp_end_call(c, av_find, NULL, 0, av_cdr[n_av], sizeof(av_cdr[0]), &av_fin[n_av]);
	n_av++;
}

static void av_on_media(void *arg, const struct call *c, int side)
{
	(void)arg;
	(void)side;
	call_rtp_rtpmap(&RV, c, 0);
	call_rtp_rtpmap(&RVV, c, 1);
}

static const char *av_sdp(int x)
{
	static char b[2][512];

	snprintf(b[x - 1], sizeof(b[0]),
		 "v=0\r\no=- 1 1 IN IP4 10.%d.0.2\r\ns=-\r\nc=IN IP4 10.%d.0.2\r\nt=0 0\r\n"
		 "m=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
		 "m=video 6002 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n", x, x);
	return b[x - 1];
}

/* @n packets of PT @pt from sequence number @s0, 20 ms apart from @t0_us, both ways; every 10th of direction 0 lost when @lose */
static void av_rtp(struct rtpq_dir *q, uint8_t pt, uint32_t clock, uint16_t s0, unsigned n, uint64_t t0_us, bool lose)
{
	uint8_t b[200];

	for (unsigned i = 0; i < n; i++)
		for (int d = 0; d < 2; d++) {
			uint16_t seq = (uint16_t)(s0 + i);
			uint32_t ts = clock / 50 * i;

			if (lose && d == 0 && i % 10 == 5)
				continue;
			memset(b, 0x11, sizeof(b));
			b[0] = 0x80, b[1] = pt;
			b[2] = (uint8_t)(seq >> 8), b[3] = (uint8_t)seq;
			b[4] = (uint8_t)(ts >> 24), b[5] = (uint8_t)(ts >> 16), b[6] = (uint8_t)(ts >> 8), b[7] = (uint8_t)ts;
			b[8] = 0xab, b[11] = (uint8_t)(d + 1);
			rtpq_update(&q[d], b, sizeof(b), t0_us + 20000ull * i + (unsigned)d * 1000);
		}
}

static void t_two_media(void)
{
	struct calls_cfg cfg = { .max_calls = 8, .setup_timeout_ms = 60000, .idle_timeout_ms = 3600000,
				 .linger_ms = 30000, .on_end = av_on_end, .on_media = av_on_media };
	struct calls *t = calls_new(&cfg);
	const char *o = "Call-ID: 1-4242@10.1.0.2";
	struct rtpq_snap q[2];

	memset(RQ, 0, sizeof(RQ));
	memset(RQV, 0, sizeof(RQV));
	n_av = 0;
	for (int k = 0; k < 2; k++) {
		char id[32];
		uint64_t t0 = 8000000 + 20000 * (uint64_t)k;

		snprintf(id, sizeof(id), "Call-ID: av-%d", k + 1);
		feed(t, with_body(subst(SIPP_INVITE, o, id), av_sdp(1)), t0);
		feed(t, with_body(subst(SIPP_200, o, id), av_sdp(2)), t0 + 50);
		feed(t, subst(SIPP_ACK, o, id), t0 + 60);
		av_rtp(RQ, 0, 8000, (uint16_t)(1000 * k), 300, (t0 + 100) * 1000, false);
		av_rtp(RQV, 96, 90000, (uint16_t)(5000 + 1000 * k), 200, (t0 + 100) * 1000, k == 0);
		if (k == 1) {
			call_rtp_quality(&RVV, (t0 + 9000) * 1000, q);
			ok(q[0].packets == 200 && q[1].packets == 200 && q[0].loss_ratio == 0,
			   "two streams: the second call's video is its own while it runs (%llu/%llu packets, loss %.3f)",
			   (unsigned long long)q[0].packets, (unsigned long long)q[1].packets, q[0].loss_ratio);
		}
		feed(t, subst(SIPP_BYE, o, id), t0 + 9000);
	}
	ok(n_av == 2 && strstr(av_cdr[0], "packets=300/300 ") && strstr(av_cdr[0], " m1=video packets1=180/200 loss_pct1=10.00/0.00 ") &&
	   !strstr(av_cdr[0], "mos1="),
	   "two streams: the first CDR gives the video's figures too (10 %% lost one way), no MOS for video: '%s'",
	   av_cdr[0]);
	ok(n_av == 2 && strstr(av_cdr[1], " m1=video packets1=200/200 loss_pct1=0.00/0.00 "),
	   "two streams: the second CDR's video is its own: '%s'", av_cdr[1]);
	/* the ended call's figures of every stream, as in its CDR (the calls view's media_quality) */
	ok(n_av == 2 && av_fin[0].has == 3 && av_fin[0].q[0][0].packets == 300 && av_fin[0].q[0][1].packets == 300 &&
	   av_fin[0].q[1][0].packets == 180 && av_fin[0].q[1][1].packets == 200 &&
	   fabs(av_fin[0].q[1][0].loss_ratio - 0.1) < 1e-9 && av_fin[1].has == 3 && av_fin[1].q[1][0].packets == 200,
	   "two streams: each ended call's final figures of both streams (has %u/%u, video %llu/%llu then %llu)",
	   av_fin[0].has, av_fin[1].has, (unsigned long long)av_fin[0].q[1][0].packets,
	   (unsigned long long)av_fin[0].q[1][1].packets, (unsigned long long)av_fin[1].q[1][0].packets);
	calls_free(t, 8100000);
}

int main(void)
{
	printf("TAP version 13\n");
	t_requests();
	t_responses();
	t_bad();
	t_sniff();
	t_sdp();
	t_stream();
	t_calls();
	t_call_rtp();
	t_call_rtpmap();
	t_sipp_dtmf(true);
	t_sipp_dtmf(false);
	t_late_rtp();
	t_fork();
	t_two_media();
	t_two_workers();
	printf("1..%d\n", n);
	if (failed)
		printf("# %d of %d failed\n", failed, n);
	return failed ? 1 : 0;
}
