// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of daemon/rtpq.c (TAP 13): synthetic RTP sequences with known loss, reordering,
 * duplicates and arrival jitter give exact figures; RTCP SR/RR parsing; SDP rtpmap; the
 * E-model; one-way audio; non-RTP traffic. Built with ASan/UBSan ($(O)/san/rtpq-unit), run by
 * tests/daemon/run.sh.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "daemon/rtp_rxtime.h"
#include "daemon/rtpq.h"
#include "daemon/ziti/zt_loop.h"

#include "tests/daemon/tap.h"

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

/* a 20 ms G.711 packet: 12-byte header + 160 bytes */
static size_t mk_rtp(uint8_t *b, unsigned pt, uint16_t seq, uint32_t ts, uint32_t ssrc)
{
	memset(b, 0xd5, 172);
	b[0] = 0x80;
	b[1] = (uint8_t)pt;
	put16(b + 2, seq);
	put32(b + 4, ts);
	put32(b + 8, ssrc);
	return 172;
}

#define MS 1000u
#define T0 5000000u /* a monotonic clock does not start at 0 */

/* packet i (seq s0 + i, ts 160 i) of a 20 ms stream arrives at T0 + 20 ms i + off_us */
static void feed(struct rtpq_dir *d, unsigned pt, uint16_t s0, unsigned i, uint64_t off_us, uint32_t ssrc)
{
	uint8_t b[200];
	size_t l = mk_rtp(b, pt, (uint16_t)(s0 + i), 160 * i, ssrc);

	rtpq_update(d, b, l, T0 + 20 * MS * (uint64_t)i + off_us);
}

static void t_clean(void)
{
	struct rtpq_dir d = { 0 };
	struct rtpq_snap s;

	for (unsigned i = 0; i < 1000; i++)
		feed(&d, 0, 65000, i, 0, 0x1234);
	rtpq_snapshot(&d, NULL, T0 + 20 * MS * 1000, &s);
	ok(s.rtp && s.packets == 1000 && s.bytes == 172000, "clean: 1000 packets, 172000 bytes (%llu, %llu)",
	   (unsigned long long)s.packets, (unsigned long long)s.bytes);
	ok(s.expected == 1000 && s.lost == 0 && s.reordered == 0 && s.duplicates == 0,
	   "clean across the sequence wrap: expected 1000, lost 0 (%llu, %lld)", (unsigned long long)s.expected,
	   (long long)s.lost);
	ok(s.jitter_ms == 0 && !strcmp(s.codec, "PCMU") && s.clock_hz == 8000 && s.pt == 0,
	   "clean: jitter 0, PCMU at 8000 Hz (%g, %s)", s.jitter_ms, s.codec);
	ok(fabs(s.mos - 4.40) < 0.01 && s.mos_delay_ms == 20, "clean: MOS %.3f (R %.2f, delay 20 ms)", s.mos, s.r_factor);
	ok(s.idle_us == 20 * MS, "idle since the last packet: %llu us", (unsigned long long)s.idle_us);
}

static void t_loss(void)
{
	struct rtpq_dir d = { 0 };
	struct rtpq_snap s;

	for (unsigned i = 0; i < 1000; i++)
		if (i % 10 != 5) /* 100 of 1000 lost */
			feed(&d, 8, 100, i, 0, 7);
	rtpq_snapshot(&d, NULL, T0 + 20 * MS * 1000, &s);
	ok(s.expected == 1000 && s.lost == 100 && s.loss_ratio == 0.1 && s.reordered == 0,
	   "every 10th lost: expected 1000, lost 100, ratio 0.1 (%llu, %lld, %g)", (unsigned long long)s.expected,
	   (long long)s.lost, s.loss_ratio);
	ok(!strcmp(s.codec, "PCMA") && s.mos < 3.5 && s.mos > 2.5, "10%% loss on PCMA: MOS %.2f (R %.1f)", s.mos,
	   s.r_factor);

	/* the first packets lost: they were never expected; the last lost: neither */
	struct rtpq_dir e = { 0 };

	for (unsigned i = 3; i < 97; i++)
		if (i != 50)
			feed(&e, 0, 0, i, 0, 9);
	rtpq_snapshot(&e, NULL, T0 + 20 * MS * 100, &s);
	ok(s.expected == 94 && s.lost == 1, "a hole inside: expected 94, lost 1 (%llu, %lld)",
	   (unsigned long long)s.expected, (long long)s.lost);
}

static void t_reorder_dup(void)
{
	struct rtpq_dir d = { 0 };
	struct rtpq_snap s;

	/* every 50th pair swapped: 20 late packets, nothing lost */
	for (unsigned i = 0; i < 1000; i++) {
		unsigned j = i % 50 == 10 ? i + 1 : i % 50 == 11 ? i - 1 : i;

		feed(&d, 0, 60000, j, 0, 1);
	}
	rtpq_snapshot(&d, NULL, T0, &s);
	ok(s.expected == 1000 && s.lost == 0 && s.reordered == 20 && s.duplicates == 0,
	   "20 swapped pairs: reordered 20, lost 0 (%llu, %lld)", (unsigned long long)s.reordered, (long long)s.lost);

	/* duplicates: 10 of the highest, 10 of older ones; do not hide 5 lost */
	struct rtpq_dir e = { 0 };

	for (unsigned i = 0; i < 200; i++) {
		if (i % 40 == 7)
			continue;
		feed(&e, 0, 0, i, 0, 1);
		if (i % 20 == 3)
			feed(&e, 0, 0, i, 0, 1);
		if (i % 20 == 13)
			feed(&e, 0, 0, i - 5, 0, 1);
	}
	rtpq_snapshot(&e, NULL, T0, &s);
	ok(s.expected == 200 && s.lost == 5 && s.duplicates == 20 && s.reordered == 0,
	   "20 duplicates and 5 lost: lost 5, duplicates 20 (%lld, %llu, reordered %llu)", (long long)s.lost,
	   (unsigned long long)s.duplicates, (unsigned long long)s.reordered);

	/* late beyond the 64-packet window: reordered, still received */
	struct rtpq_dir f = { 0 };

	for (unsigned i = 0; i < 100; i++)
		if (i != 10)
			feed(&f, 0, 0, i, 0, 1);
	feed(&f, 0, 0, 10, 0, 1);
	rtpq_snapshot(&f, NULL, T0, &s);
	ok(s.expected == 100 && s.lost == 0 && s.reordered == 1, "89 packets late: reordered 1, lost 0 (%lld)",
	   (long long)s.lost);
}

static void t_jitter(void)
{
	struct rtpq_dir d = { 0 };
	struct rtpq_snap s;

	/* packet 2 10 ms late: |D| 0, 80, 80, 0 -> J16 80, 155, 145 (A.8 in integers) */
	for (unsigned i = 0; i < 5; i++)
		feed(&d, 0, 0, i, i == 2 ? 10 * MS : 0, 1);
	rtpq_snapshot(&d, NULL, T0, &s);
	ok(s.jitter_ms == 145.0 / 16 / 8, "one packet 10 ms late: jitter %.7f ms = 145/16 units", s.jitter_ms);

	/* every other packet 10 ms late: |D| = 80 units each: J16 converges to 1272 */
	struct rtpq_dir e = { 0 };

	for (unsigned i = 0; i < 500; i++)
		feed(&e, 0, 0, i, i & 1 ? 10 * MS : 0, 1);
	rtpq_snapshot(&e, NULL, T0, &s);
	ok(s.jitter_ms == 1272.0 / 16 / 8, "alternating 0/10 ms: jitter %.4f ms (9.9375)", s.jitter_ms);

	/* dynamic payload type without rtpmap: no clock, no jitter; with one: 48 kHz */
	struct rtpq_dir f = { 0 }, g = { 0 };

	for (unsigned i = 0; i < 50; i++)
		feed(&f, 111, 0, i, i & 1 ? 10 * MS : 0, 1);
	rtpq_snapshot(&f, NULL, T0, &s);
	ok(s.jitter_ms == 0 && s.codec[0] == 0 && s.pt == 111, "PT 111 unknown: no codec, no jitter");
	ok(!rtpq_rtpmap(&g, "a=rtpmap:111 opus/48000/2", 25), "rtpmap opus/48000/2 learnt");
	for (unsigned i = 0; i < 500; i++) {
		uint8_t b[200];
		size_t l = mk_rtp(b, 111, (uint16_t)i, 960 * i, 1);

		rtpq_update(&g, b, l, T0 + 20 * MS * (uint64_t)i + (i & 1 ? 10 * MS : 0));
	}
	rtpq_snapshot(&g, NULL, T0, &s);
	/* |D| = 480 units: J16 converges to the smallest x with (x + 8) >> 4 = 480: 7672 */
	ok(!strcmp(s.codec, "opus") && s.clock_hz == 48000 && s.jitter_ms == 7672.0 / 16 / 48,
	   "opus at 48 kHz: jitter %.4f ms", s.jitter_ms);

	/* comfort noise between media packets does not disturb the estimator */
	struct rtpq_dir h = { 0 };

	for (unsigned i = 0; i < 100; i++) {
		uint8_t b[200];
		size_t l = mk_rtp(b, i % 10 == 9 ? 13 : 0, (uint16_t)i, i % 10 == 9 ? 12345 : 160 * i, 1);

		rtpq_update(&h, b, l, T0 + 20 * MS * (uint64_t)i);
	}
	rtpq_snapshot(&h, NULL, T0, &s);
	ok(s.jitter_ms == 0 && !strcmp(s.codec, "PCMU") && s.lost == 0, "CN packets: jitter 0, codec PCMU");
}

static void t_rtpmap(void)
{
	struct rtpq_dir d = { 0 };
	static const char *bad[] = {
		"a=rtpmap:111 opus",     "a=rtpmap:200 x/8000", "a=rtpmap:111 opus/48000/x", "a=rtpmap:111 opus/0",
		"a=rtpmap:96 a/8000 junk", "",                  "a=rtpmap:x opus/48000",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(rtpq_rtpmap(&d, bad[i], strlen(bad[i])) == -1 && !d.map[0].clock_hz, "bad rtpmap refused: '%s'", bad[i]);
	ok(!rtpq_rtpmap(&d, "96 AMR/8000\r\n", 13) && !rtpq_rtpmap(&d, "a=rtpmap:97 telephone-event/8000", 32) &&
		   !rtpq_rtpmap(&d, "a=rtpmap:98 H264/90000", 22) && !rtpq_rtpmap(&d, "a=rtpmap:99 iLBC/8000", 21),
	   "4 rtpmaps learnt");
	ok(rtpq_rtpmap(&d, "a=rtpmap:100 G7221/16000", 24) == -1, "a fifth refused (table full)");
	ok(!rtpq_rtpmap(&d, "a=rtpmap:96 AMR-WB/16000", 24) && d.map[0].clock_hz == 16000, "a known PT is replaced");
}

static size_t mk_rr(uint8_t *b, int sr, uint32_t reporter, uint32_t about, uint8_t frac, int32_t cum, uint32_t jit)
{
	size_t fixed = sr ? 28 : 8, len = fixed + 24;

	memset(b, 0, 128);
	b[0] = 0x81;
	b[1] = sr ? 200 : 201;
	put16(b + 2, (unsigned)(len / 4 - 1));
	put32(b + 4, reporter);
	if (sr) {
		put32(b + 8, 0xe0000000u);
		put32(b + 12, 0x80000000u);
		put32(b + 16, 16000);
		put32(b + 20, 100);
		put32(b + 24, 16000);
	}
	uint8_t *q = b + fixed;

	put32(q, about);
	q[4] = frac;
	put32(q + 4, ((uint32_t)cum & 0xffffff) | (uint32_t)frac << 24);
	put32(q + 8, 0x10064);
	put32(q + 12, jit);
	/* SDES with one CNAME "ab" after it */
	uint8_t *sd = b + len;

	sd[0] = 0x81;
	sd[1] = 202;
	put16(sd + 2, 2);
	put32(sd + 4, reporter);
	sd[8] = 1;
	sd[9] = 2;
	sd[10] = 'a';
	sd[11] = 'b';
	return len + 12;
}

static void t_rtcp(void)
{
	uint8_t b[128];
	struct rtpq_rtcp r;
	char err[128];
	size_t l = mk_rr(b, 0, 0xaaaa, 0x1234, 26, -3, 160);

	ok(!rtpq_rtcp_parse(b, l, &r, err, sizeof(err)) && !r.has_sr && r.ssrc == 0xaaaa && r.nblocks == 1 &&
		   r.block[0].ssrc == 0x1234 && r.block[0].fraction_lost == 26 && r.block[0].cum_lost == -3 &&
		   r.block[0].jitter == 160 && r.block[0].ext_max_seq == 0x10064,
	   "RR + SDES parsed (cumulative lost -3: 24-bit sign)");
	l = mk_rr(b, 1, 0xbbbb, 0x1234, 0, 70000, 8);
	ok(!rtpq_rtcp_parse(b, l, &r, err, sizeof(err)) && r.has_sr && r.sender_packets == 100 &&
		   r.ntp == 0xe000000080000000ull && r.block[0].cum_lost == 70000,
	   "SR parsed: sender info and its block");
	ok(rtpq_classify(b, l) == RTPQ_RTCP, "classified RTCP");

	struct {
		const char *what;
		size_t at;
		uint8_t val;
		size_t len;
	} bad[] = {
		{ "length beyond the datagram", 3, 20, 0 }, { "version is not 2", 0, 0x41, 0 },
		{ "SR shorter than its report count", 0, 0x83, 0 },   { "truncated packet header", 0, 0x81, 54 },
		{ "no sender or receiver report", 1, 202, 12 },       { "padding on a packet that is not the last", 0, 0xa1, 0 },
		{ "packet type outside", 53, 100, 0 },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t c[128];
		size_t cl = mk_rr(c, 1, 0xbbbb, 0x1234, 0, 0, 8);

		if (bad[i].what[0] == 'n') { /* SDES alone */
			memmove(c, c + 52, 12);
			cl = 12;
		} else {
			c[bad[i].at] = bad[i].val;
		}
		if (bad[i].len)
			cl = bad[i].len;
		memset(&r, 0x5a, sizeof(r));
		err[0] = 0;
		int rc = rtpq_rtcp_parse(c, cl, &r, err, sizeof(err));

		ok(rc == -1 && strstr(err, bad[i].what) && r.ssrc == 0x5a5a5a5a, "bad RTCP refused, unchanged: %s", err);
	}

	/* the peer's report about our stream, read in the other direction */
	struct rtpq_dir fwd = { 0 }, rev = { 0 };
	struct rtpq_snap s;

	for (unsigned i = 0; i < 100; i++)
		feed(&fwd, 0, 0, i, 0, 0x1234);
	l = mk_rr(b, 0, 0xaaaa, 0x1234, 64, 25, 160);
	ok(rtpq_update(&rev, b, l, T0 + 2000 * MS) == RTPQ_RTCP, "RTCP counted in its direction");
	rtpq_snapshot(&fwd, &rev, T0 + 2500 * MS, &s);
	ok(s.rr && s.rr_fraction_lost == 0.25 && s.rr_cum_lost == 25 && s.rr_jitter_ms == 20 && s.rr_age_us == 500 * MS,
	   "snapshot: peer reports 25%% lost, jitter 20 ms, 0.5 s ago");
	ok(s.mos_loss == 0.25 && s.mos_delay_ms == 60, "MOS inputs: the peer's loss (25%%), delay 20 + 2 x 20 ms");
	l = mk_rr(b, 0, 0xaaaa, 0x9999, 64, 25, 160);
	rtpq_update(&rev, b, l, T0 + 2600 * MS);
	rtpq_snapshot(&fwd, &rev, T0 + 2700 * MS, &s);
	ok(!s.rr && s.mos_loss == 0, "a report about another SSRC is not ours");
}

static void t_sources(void)
{
	struct rtpq_dir d = { 0 };
	struct rtpq_snap s;

	for (unsigned i = 0; i < 100; i++)
		if (i % 20 != 10)
			feed(&d, 0, 1000, i, 0, 0xa);
	for (unsigned i = 100; i < 200; i++)
		feed(&d, 0, 40000, i, 0, 0xb);
	rtpq_snapshot(&d, NULL, T0, &s);
	ok(s.expected == 200 && s.lost == 5 && s.ssrc_changes == 1 && s.ssrc == 0xb,
	   "SSRC change: both sources counted, lost 5 (%llu, %lld)", (unsigned long long)s.expected, (long long)s.lost);

	/* a sequence jump of 20000 confirmed by the next packet: a restart, no loss counted */
	struct rtpq_dir e = { 0 };

	for (unsigned i = 0; i < 50; i++)
		feed(&e, 0, 0, i, 0, 1);
	for (unsigned i = 50; i < 100; i++)
		feed(&e, 0, 20000, i, 0, 1);
	rtpq_snapshot(&e, NULL, T0, &s);
	ok(s.expected == 99 && s.lost == 0, "restart after a jump: expected 99 (the jump's first is not), lost 0 (%llu)",
	   (unsigned long long)s.expected);

	/* a lone stray sequence number is ignored */
	struct rtpq_dir f = { 0 };

	for (unsigned i = 0; i < 50; i++)
		feed(&f, 0, i == 25 ? 30000 : 0, i, 0, 1);
	rtpq_snapshot(&f, NULL, T0, &s);
	ok(s.expected == 50 && s.lost == 1, "a stray jump is not a restart: expected 50, lost 1 (%lld)", (long long)s.lost);
}

static void t_other(void)
{
	struct rtpq_dir d = { 0 };
	struct rtpq_snap s;
	uint8_t b[200];
	const char *sip = "INVITE sip:bob@example.com SIP/2.0\r\n";
	uint8_t stun[20] = { 0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42 };

	ok(rtpq_classify((const uint8_t *)sip, strlen(sip)) == RTPQ_OTHER, "SIP is not RTP");
	ok(rtpq_classify(stun, sizeof(stun)) == RTPQ_OTHER, "STUN is not RTP");
	size_t l = mk_rtp(b, 0, 1, 1, 1);

	ok(rtpq_classify(b, l) == RTPQ_RTP, "RTP classified");
	b[0] = 0x8f; /* 15 CSRC: 72 bytes, fits */
	ok(rtpq_classify(b, l) == RTPQ_RTP, "15 CSRCs within the datagram");
	ok(rtpq_classify(b, 60) == RTPQ_BAD, "15 CSRCs beyond the datagram: bad");
	b[0] = 0x90; /* extension of 0xd5d5 words */
	ok(rtpq_classify(b, l) == RTPQ_BAD, "extension beyond the datagram: bad");
	put16(b + 14, 3);
	ok(rtpq_classify(b, l) == RTPQ_RTP, "extension of 3 words");
	b[0] = 0xa0;
	b[l - 1] = 200;
	ok(rtpq_classify(b, l) == RTPQ_BAD, "padding beyond the payload: bad");
	b[l - 1] = 0;
	ok(rtpq_classify(b, l) == RTPQ_BAD, "padding count 0: bad");
	b[l - 1] = 4;
	ok(rtpq_classify(b, l) == RTPQ_RTP, "padding 4");
	ok(rtpq_classify(b, 11) == RTPQ_BAD && rtpq_classify(b, 3) == RTPQ_OTHER, "short datagrams");

	for (int i = 0; i < 40; i++)
		rtpq_update(&d, (const uint8_t *)sip, strlen(sip), T0);
	l = mk_rtp(b, 0, 1, 1, 1);
	ok(rtpq_update(&d, b, l, T0) == RTPQ_OTHER && d.not_rtp, "SIP flow given up after %d datagrams", RTPQ_GIVEUP);
	rtpq_snapshot(&d, NULL, T0, &s);
	ok(!s.rtp && s.other == 41 && s.packets == 0 && s.mos == 0, "given up: 41 other, no RTP");
}

static void t_mos(void)
{
	double r;

	ok(fabs(rtpq_mos("PCMU", 0, 0, &r) - 4.409) < 0.001 && fabs(r - 93.2) < 1e-9, "E-model: G.711, no loss: R 93.2, MOS 4.41");
	ok(fabs(rtpq_mos("G729", 0, 0, &r) - 4.104) < 0.001 && fabs(r - 82.2) < 1e-9, "G.729: R 82.2 (Ie 11), MOS 4.10");
	rtpq_mos("PCMA", 0.01, 0, &r);
	ok(fabs(r - (93.2 - 95.0 / 26.1)) < 1e-9, "G.711 1%% loss: Ie,eff 95/26.1 (R %.2f)", r);
	rtpq_mos("PCMA", 0, 200, &r);
	ok(fabs(r - (93.2 - 4.8 - 0.11 * 22.7)) < 1e-9, "200 ms: Id 0.024 d + 0.11 (d - 177.3) (R %.2f)", r);
	ok(rtpq_mos("PCMU", 1, 1000, &r) == 1 && r < 0, "everything lost: MOS 1");
	/* G.107's MOS(R) dips below 1 for 0 < R < 13 (found by rtpq-fuzz): MOS is at least 1 */
	double m = rtpq_mos("PCMU", 0, 803.7, &r);

	ok(m >= 1 && r > 4 && r < 6, "R %.2f (803.7 ms): MOS %.4f, not below 1", r, m);
}

static void t_oneway(void)
{
	struct rtpq_dir a = { 0 }, b = { 0 };
	int ev = 0, at = -1, back = -1;

	for (unsigned i = 0; i < 600; i++) { /* b sends for 12 s; a from 8 s on */
		uint64_t now = T0 + 20 * MS * (uint64_t)i;

		feed(&b, 0, 0, i, 0, 2);
		if (i >= 400)
			feed(&a, 0, 0, i, 0, 3);
		int e = rtpq_oneway(&a, &b, now, 5000 * MS);

		if (e == 1 && at < 0)
			at = (int)i;
		if (e == -1 && back < 0)
			back = (int)i;
		ev += e != 0;
		rtpq_oneway(&b, &a, now, 5000 * MS);
	}
	ok(at == 250 && back == 400 && ev == 2 && !a.oneway && !b.oneway,
	   "one-way: raised after 5 s of the other side (%d), cleared when it flows (%d), 2 events", at, back);
}

/*
 * Timestamps of the two directions come from different clocks' moments (kernel receive times
 * of datagrams read late, against arrival in the loop for the other direction): a datagram
 * stamped a little before the other direction's last packet is not a silence of 2^64 us.
 */
static void t_time_order(void)
{
	struct rtpq_dir a = { 0 }, b = { 0 };
	struct rtpq_snap s;
	int ev = 0;

	for (unsigned i = 0; i < 500; i++) { /* both send for 10 s; b's stamps 5 ms behind a's */
		uint64_t now = T0 + 20 * MS * (uint64_t)i;

		feed(&a, 0, 0, i, 5 * MS, 1);
		ev += rtpq_oneway(&b, &a, now + 5 * MS, 3000 * MS) != 0;
		feed(&b, 0, 0, i, 0, 2);
		ev += rtpq_oneway(&a, &b, now, 3000 * MS) != 0;
	}
	ok(ev == 0, "both directions flowing, stamps out of order across them: no one-way event (%d)", ev);
	/* within one direction: the first datagram timed on arrival in the loop (100 ms late), the
	 * next ones read from the socket with their earlier kernel stamps: no jump of 2^64 us */
	struct rtpq_dir c = { 0 };

	feed(&c, 0, 0, 0, 100 * MS, 1);
	for (unsigned i = 1; i < 100; i++)
		feed(&c, 0, 0, i, 0, 1);
	rtpq_snapshot(&c, NULL, T0, &s);
	ok(s.jitter_ms < 10 && s.idle_us == 0 && s.lost == 0,
	   "first stamp later than the next ones: jitter %.3f ms, idle %llu us (snapshot before the last)", s.jitter_ms,
	   (unsigned long long)s.idle_us);
}

/*
 * SIPp's uac_pcap scenario ends each call with dtmf_2833_1.pcap: telephone-event packets (PT
 * 101, another SSRC, all with one timestamp) 1 s before the BYE. Without the SDP's rtpmap
 * (SIP over TLS, or SIP not seen) PT 101 has no known clock: the jitter of the audio must stay
 * what it was, not become 0 (the CDRs' "jitter_ms=0.0/0.0" of SIPp calls).
 */
static void t_dtmf_unknown(void)
{
	struct rtpq_dir d = { 0 };
	struct rtpq_snap before, after;
	uint8_t b[200];

	for (unsigned i = 0; i < 236; i++) /* PCMA, odd packets 4 ms late */
		feed(&d, 8, 0xe6fd, i, i & 1 ? 4 * MS : 0, 0xdee0ee8f);
	rtpq_snapshot(&d, NULL, T0 + 20 * MS * 236, &before);
	for (unsigned i = 0; i < 10; i++) { /* 8 events + 2 retransmitted ends, 20 ms apart */
		mk_rtp(b, 101, (uint16_t)(7984 + (i < 8 ? i : 7)), 13280, 0x0e05384e);
		rtpq_update(&d, b, 16, T0 + 20 * MS * (236 + 50 + i)); /* 12 + 4 bytes of event */
	}
	rtpq_snapshot(&d, NULL, T0 + 20 * MS * 300, &after);
	ok(before.jitter_ms > 3.5 && after.jitter_ms == before.jitter_ms && !strcmp(after.codec, "PCMA") &&
		   after.clock_hz == 8000,
	   "PT 101 without rtpmap after PCMA: jitter %.2f ms before, %.2f ms after, codec '%s'", before.jitter_ms,
	   after.jitter_ms, after.codec);
	ok(after.packets == 246 && after.duplicates == 2 && after.lost == 0 && after.ssrc_changes == 1,
	   "its packets counted: %llu packets, %llu duplicates, %lld lost", (unsigned long long)after.packets,
	   (unsigned long long)after.duplicates, (long long)after.lost);
}

/*
 * A datagram's receive time (rtp_rxtime.c): the kernel's timestamp, capped at now. The cap
 * starts as the loop batch's time; a datagram that arrived after the batch began (read later
 * in it) must keep its own time, not the batch's.
 */
static void rx_msg(struct msghdr *mh, void *cbuf, size_t cap, const struct timespec *ts)
{
	struct cmsghdr *c;

	memset(mh, 0, sizeof(*mh));
	mh->msg_control = cbuf;
	mh->msg_controllen = cap;
	c = CMSG_FIRSTHDR(mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_TIMESTAMPNS;
	c->cmsg_len = CMSG_LEN(sizeof(*ts));
	memcpy(CMSG_DATA(c), ts, sizeof(*ts));
}

static void t_rx_time(void)
{
	union {
		char b[CMSG_SPACE(sizeof(struct timespec))];
		struct cmsghdr align;
	} cm;
	struct timespec r, m, ts;
	struct msghdr mh;
	int64_t r2m;
	uint64_t mono_us, batch, now, got;

	clock_gettime(CLOCK_REALTIME, &r);
	clock_gettime(CLOCK_MONOTONIC, &m);
	r2m = ((int64_t)m.tv_sec - r.tv_sec) * 1000000000 + (m.tv_nsec - r.tv_nsec);
	mono_us = (uint64_t)m.tv_sec * 1000000 + (uint64_t)m.tv_nsec / 1000;
	/* arrived 20 ms before a batch that began 50 ms ago */
	ts = r;
	ts.tv_nsec -= 70000000;
	if (ts.tv_nsec < 0) {
		ts.tv_nsec += 1000000000;
		ts.tv_sec--;
	}
	rx_msg(&mh, cm.b, sizeof(cm.b), &ts);
	now = batch = mono_us - 50000;
	got = rtp_rx_time(&mh, r2m, &now);
	ok(got + 70000 >= mono_us - 1000 && got + 70000 <= mono_us + 1000 && now == batch,
	   "rx time: arrived before the batch began: its own time (%lld us from the expected), no clock read",
	   (long long)(got + 70000) - (long long)mono_us);
	/* arrived now, 50 ms after the batch began (read late in it) */
	rx_msg(&mh, cm.b, sizeof(cm.b), &r);
	now = batch;
	got = rtp_rx_time(&mh, r2m, &now);
	ok(got >= mono_us - 1000 && got <= now && now > batch + 40000,
	   "rx time: arrived after the batch began: its own time, %lld us after the batch's (the cap moved to now)",
	   (long long)(got - batch));
	/* no timestamp: the cap */
	memset(&mh, 0, sizeof(mh));
	now = batch;
	ok(rtp_rx_time(&mh, r2m, &now) == batch, "rx time: no timestamp: the batch's time");
	/* a timestamp from the future (a clock step): never later than now */
	ts = r;
	ts.tv_sec += 3600;
	rx_msg(&mh, cm.b, sizeof(cm.b), &ts);
	now = batch;
	got = rtp_rx_time(&mh, r2m, &now);
	ok(got == now && got < mono_us + 1000000, "rx time: a timestamp an hour ahead is capped at now");
}

int main(void)
{
	printf("TAP version 13\n");
	t_clean();
	t_loss();
	t_reorder_dup();
	t_jitter();
	t_rtpmap();
	t_rtcp();
	t_sources();
	t_other();
	t_mos();
	t_oneway();
	t_time_order();
	t_dtmf_unknown();
	t_rx_time();
	printf("1..%d\n", n);
	if (failed)
		printf("# %d of %d failed\n", failed, n);
	return failed ? 1 : 0;
}
