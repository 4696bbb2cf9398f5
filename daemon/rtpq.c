// SPDX-License-Identifier: GPL-2.0
/*
 * Per-stream RTP quality: see rtpq.h. Pure C, no I/O, no allocation.
 *
 * Sequence numbers follow the logic of RFC 3550 A.1 (probation of a new source, wraps counted
 * in cycles, a jump over MAX_DROPOUT taken as a restart only when the next packet confirms
 * it), with two differences: the probation packets count as received (so a stream that lost
 * nothing shows 0 lost from its first packet), and a 64-packet window of received sequence
 * numbers behind the highest tells a duplicate (not counted as received, so duplicates do
 * not hide loss) from a late packet (counted as reordered and received).
 *
 * Jitter is A.8's estimator: D = (Rj - Ri) - (Sj - Si) in timestamp units, J += (|D| - J)/16,
 * kept times 16 in integers as A.8 does. Arrival times are the monotonic microseconds of
 * rtpq_update() converted to the payload type's clock (RFC 3551 table, or SDP a=rtpmap).
 * Comfort noise (PT 13) and telephone-event packets do not enter the estimator (their
 * timestamps do not follow the media clock), nor, once a payload type of known clock rate was
 * seen, one of unknown rate (a dynamic type without a=rtpmap: telephone-event when the SDP was
 * not seen, as SIPp's DTMF at the end of its calls); a change of payload type restarts it.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "daemon/rtpq.h"

#define SEQ_MOD (1u << 16)
#define MAX_DROPOUT 3000
#define MAX_MISORDER 100
#define MIN_SEQUENTIAL 2
#define PT_CN 13
#define PT_NONE 0xff

static inline uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ------------------------------------------------------------------ payload types */

static const struct {
	const char *name;
	uint32_t clock;
} static_pt[35] = {
	[0] = { "PCMU", 8000 },   [3] = { "GSM", 8000 },     [4] = { "G723", 8000 },  [5] = { "DVI4", 8000 },
	[6] = { "DVI4", 16000 },  [7] = { "LPC", 8000 },     [8] = { "PCMA", 8000 },  [9] = { "G722", 8000 },
	[10] = { "L16", 44100 },  [11] = { "L16", 44100 },   [12] = { "QCELP", 8000 }, [13] = { "CN", 8000 },
	[14] = { "MPA", 90000 },  [15] = { "G728", 8000 },   [16] = { "DVI4", 11025 }, [17] = { "DVI4", 22050 },
	[18] = { "G729", 8000 },  [25] = { "CelB", 90000 },  [26] = { "JPEG", 90000 }, [28] = { "nv", 90000 },
	[31] = { "H261", 90000 }, [32] = { "MPV", 90000 },   [33] = { "MP2T", 90000 }, [34] = { "H263", 90000 },
};

const char *rtpq_static_codec(unsigned pt, uint32_t *clock_hz)
{
	if (pt < sizeof(static_pt) / sizeof(static_pt[0]) && static_pt[pt].name) {
		if (clock_hz)
			*clock_hz = static_pt[pt].clock;
		return static_pt[pt].name;
	}
	if (clock_hz)
		*clock_hz = 0;
	return NULL;
}

static const struct rtpq_map *map_find(const struct rtpq_dir *d, unsigned pt)
{
	for (int i = 0; i < RTPQ_MAX_RTPMAP; i++)
		if (d->map[i].clock_hz && d->map[i].pt == pt)
			return &d->map[i];
	return NULL;
}

static const char *pt_codec(const struct rtpq_dir *d, unsigned pt, uint32_t *clock)
{
	const struct rtpq_map *m = map_find(d, pt);

	if (m) {
		*clock = m->clock_hz;
		return m->name;
	}
	return rtpq_static_codec(pt, clock);
}

/* not media: comfort noise, DTMF (their timestamps do not follow the media clock) */
static bool pt_aux(const struct rtpq_dir *d, unsigned pt)
{
	const struct rtpq_map *m;

	if (pt == PT_CN)
		return true;
	m = map_find(d, pt);
	return m && (!strcasecmp(m->name, "telephone-event") || !strcasecmp(m->name, "CN"));
}

int rtpq_rtpmap(struct rtpq_dir *d, const char *line, size_t len)
{
	char b[128], name[RTPQ_CODEC_LEN];
	const char *s = b;
	unsigned pt, clock;
	int used = 0, slot = -1;

	if (len >= sizeof(b))
		return -1;
	memcpy(b, line, len);
	b[len] = 0;
	if (!strncmp(s, "a=rtpmap:", 9))
		s += 9;
	if (sscanf(s, "%3u %15[^/ \t\r\n]/%7u%n", &pt, name, &clock, &used) != 3 || !used || pt > 127 || !clock ||
	    clock > 1000000)
		return -1;
	s += used;
	if (*s == '/') { /* channels */
		s++;
		if (*s < '0' || *s > '9')
			return -1;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	if (*s)
		return -1;
	for (int i = 0; i < RTPQ_MAX_RTPMAP; i++) {
		if (d->map[i].clock_hz && d->map[i].pt == pt) {
			slot = i;
			break;
		}
		if (!d->map[i].clock_hz && slot < 0)
			slot = i;
	}
	if (slot < 0)
		return -1;
	d->map[slot].pt = (uint8_t)pt;
	d->map[slot].clock_hz = clock;
	snprintf(d->map[slot].name, sizeof(d->map[slot].name), "%s", name);
	if (d->pt == pt && !pt_aux(d, pt)) { /* the stream already runs on it */
		d->clock_hz = clock;
		d->have_transit = false;
	}
	return 0;
}

void rtpq_set_rtpmaps(struct rtpq_dir *d, const struct rtpq_map *m, unsigned n)
{
	unsigned k = 0;
	uint32_t clock;

	memset(d->map, 0, sizeof(d->map));
	for (unsigned i = 0; i < n && k < RTPQ_MAX_RTPMAP; i++)
		if (m[i].pt <= 127 && m[i].clock_hz)
			d->map[k++] = m[i];
	if (d->pt == PT_NONE || !d->packets || pt_aux(d, d->pt))
		return;
	pt_codec(d, d->pt, &clock);
	if (clock != d->clock_hz) { /* the stream already runs on it */
		d->clock_hz = clock;
		d->have_transit = false;
		d->jitter16 = 0;
	}
}

/* ------------------------------------------------------------------ classification */

/* RTP header length (fixed + CSRC + extension), or 0 if malformed; *pad: padding bytes */
static size_t rtp_hdr(const uint8_t *p, size_t n, size_t *pad)
{
	size_t h = 12 + 4 * (size_t)(p[0] & 0x0f);

	if (h > n)
		return 0;
	if (p[0] & 0x10) { /* header extension */
		if (h + 4 > n)
			return 0;
		h += 4 + 4 * (size_t)be16(p + h + 2);
		if (h > n)
			return 0;
	}
	*pad = 0;
	if (p[0] & 0x20) {
		*pad = p[n - 1];
		if (!*pad || h + *pad > n)
			return 0;
	}
	return h;
}

/* RFC 7983 / 5761: 128..191 first byte is RTP or RTCP; a second byte 192..223 is RTCP */
static inline bool is_v2(const uint8_t *p, size_t n)
{
	return n >= 8 && (p[0] & 0xc0) == 0x80;
}

static inline bool is_rtcp_pt(const uint8_t *p)
{
	return p[1] >= 192 && p[1] <= 223;
}

enum rtpq_kind rtpq_classify(const uint8_t *p, size_t n)
{
	size_t pad;

	if (!is_v2(p, n))
		return RTPQ_OTHER;
	if (is_rtcp_pt(p)) {
		struct rtpq_rtcp r;

		return rtpq_rtcp_parse(p, n, &r, NULL, 0) ? RTPQ_BAD : RTPQ_RTCP;
	}
	return n >= 12 && rtp_hdr(p, n, &pad) ? RTPQ_RTP : RTPQ_BAD;
}

/* ------------------------------------------------------------------ RTCP */

static int rtcp_err(char *err, size_t len, const char *what, size_t off)
{
	if (err && len)
		snprintf(err, len, "rtcp: %s (at byte %zu)", what, off);
	return -1;
}

int rtpq_rtcp_parse(const uint8_t *p, size_t n, struct rtpq_rtcp *out, char *err, size_t errlen)
{
	struct rtpq_rtcp r = { 0 };
	bool found = false;
	size_t off = 0;

	if (!n)
		return rtcp_err(err, errlen, "empty datagram", 0);
	while (off < n) {
		if (n - off < 4)
			return rtcp_err(err, errlen, "truncated packet header", off);
		const uint8_t *q = p + off;
		size_t len = 4 * ((size_t)be16(q + 2) + 1);
		unsigned rc = q[0] & 0x1f, pt = q[1];

		if ((q[0] & 0xc0) != 0x80)
			return rtcp_err(err, errlen, "version is not 2", off);
		if (pt < 192 || pt > 223)
			return rtcp_err(err, errlen, "packet type outside RTCP's 192..223", off);
		if (len > n - off)
			return rtcp_err(err, errlen, "length beyond the datagram", off);
		if ((q[0] & 0x20) && off + len != n)
			return rtcp_err(err, errlen, "padding on a packet that is not the last", off);
		if (!found && (pt == 200 || pt == 201)) {
			size_t fixed = pt == 200 ? 28 : 8;

			if (len < fixed + 24 * (size_t)rc)
				return rtcp_err(err, errlen, pt == 200 ? "SR shorter than its report count" :
									 "RR shorter than its report count", off);
			r.ssrc = be32(q + 4);
			if (pt == 200) {
				r.has_sr = true;
				r.ntp = (uint64_t)be32(q + 8) << 32 | be32(q + 12);
				r.rtp_ts = be32(q + 16);
				r.sender_packets = be32(q + 20);
				r.sender_octets = be32(q + 24);
			}
			for (unsigned i = 0; i < rc && i < RTPQ_MAX_BLOCKS; i++) {
				const uint8_t *b = q + fixed + 24 * i;
				uint32_t cl = (uint32_t)b[5] << 16 | (uint32_t)b[6] << 8 | b[7];

				r.block[i] = (struct rtpq_block){
					.ssrc = be32(b),
					.fraction_lost = b[4],
					.cum_lost = (int32_t)(cl & 0x800000 ? cl | 0xff000000u : cl),
					.ext_max_seq = be32(b + 8),
					.jitter = be32(b + 12),
					.lsr = be32(b + 16),
					.dlsr = be32(b + 20),
				};
				r.nblocks++;
			}
			found = true;
		}
		off += len;
	}
	if (!found)
		return rtcp_err(err, errlen, "no sender or receiver report", 0);
	*out = r;
	return 0;
}

/* ------------------------------------------------------------------ sequence numbers (A.1) */

static void seq_init(struct rtpq_dir *d, uint16_t seq)
{
	d->base_seq = seq;
	d->max_seq = seq;
	d->bad_seq = SEQ_MOD + 1; /* so seq == bad_seq is false */
	d->cycles = 0;
	d->received = 0;
	d->window = 1;
}

static uint64_t dir_expected(const struct rtpq_dir *d)
{
	if (!d->valid)
		return 0;
	return (uint64_t)d->cycles + d->max_seq - d->base_seq + 1;
}

/* close the current source's figures into prev_* (SSRC change, restart) */
static void seq_retire(struct rtpq_dir *d)
{
	if (d->valid) {
		d->prev_expected += dir_expected(d);
		d->prev_received += d->received;
	}
	d->valid = false;
}

/* a new source: probation */
static void seq_new(struct rtpq_dir *d, uint16_t seq)
{
	seq_init(d, seq);
	d->max_seq = (uint16_t)(seq - 1);
	d->probation = MIN_SEQUENTIAL;
}

static void seq_update(struct rtpq_dir *d, uint16_t seq)
{
	uint16_t udelta = (uint16_t)(seq - d->max_seq);

	if (d->probation) {
		if (seq == (uint16_t)(d->max_seq + 1)) {
			d->probation--;
			d->max_seq = seq;
			if (!d->probation) { /* the probation packets count (see the top) */
				seq_init(d, seq);
				d->base_seq = (uint16_t)(seq - (MIN_SEQUENTIAL - 1));
				d->received = MIN_SEQUENTIAL;
				d->window = (1u << MIN_SEQUENTIAL) - 1;
				d->valid = true;
			}
		} else {
			d->probation = MIN_SEQUENTIAL - 1;
			d->max_seq = seq;
		}
		return;
	}
	if (udelta == 0) {
		d->duplicates++;
		return;
	}
	if (udelta < MAX_DROPOUT) { /* in order, with permissible gap */
		if (seq < d->max_seq)
			d->cycles += SEQ_MOD;
		d->max_seq = seq;
		d->window = udelta >= 64 ? 1 : d->window << udelta | 1;
	} else if (udelta <= SEQ_MOD - MAX_MISORDER) { /* a very large jump */
		if (seq == d->bad_seq) { /* two sequential packets: the other side restarted */
			seq_retire(d);
			seq_init(d, seq);
			d->valid = true;
		} else {
			d->bad_seq = (seq + 1) & (SEQ_MOD - 1);
			return;
		}
	} else { /* behind the highest: duplicate or late */
		unsigned behind = (uint16_t)(d->max_seq - seq);

		if (behind < 64) {
			if (d->window >> behind & 1) {
				d->duplicates++;
				return;
			}
			d->window |= (uint64_t)1 << behind;
		}
		d->reordered++;
	}
	d->received++;
}

/* ------------------------------------------------------------------ per datagram */

static void rtp_jitter(struct rtpq_dir *d, uint32_t ts, uint64_t now_us)
{
	uint32_t arrival = (uint32_t)((now_us - d->t0_us) * d->clock_hz / 1000000u);
	uint32_t transit = arrival - ts;

	if (d->have_transit) {
		int32_t dd = (int32_t)(transit - d->transit);
		uint32_t a = dd < 0 ? 0u - (uint32_t)dd : (uint32_t)dd;

		d->jitter16 += a - ((d->jitter16 + 8) >> 4);
	}
	d->transit = transit;
	d->have_transit = true;
}

/* A packet of payload type @pt, not the stream's: false when it stays out of the jitter */
static __attribute__((noinline)) bool pt_change(struct rtpq_dir *d, unsigned pt)
{
	uint32_t clock;

	if (pt_aux(d, pt))
		return false;
	pt_codec(d, pt, &clock);
	if (!clock && d->clock_hz) /* unknown rate after media of a known one: kept out too */
		return false;
	d->pt = (uint8_t)pt;
	d->clock_hz = clock;
	d->have_transit = false;
	return true;
}

enum rtpq_kind rtpq_update(struct rtpq_dir *d, const uint8_t *p, size_t n, uint64_t now_us)
{
	size_t pad;

	if (d->not_rtp) {
		d->other++;
		return RTPQ_OTHER;
	}
	if (!is_v2(p, n)) {
		if (++d->other >= RTPQ_GIVEUP && !d->packets && !d->rtcp_packets)
			d->not_rtp = true;
		return RTPQ_OTHER;
	}
	if (is_rtcp_pt(p)) {
		if (rtpq_rtcp_parse(p, n, &d->rtcp, NULL, 0)) {
			d->invalid++;
			return RTPQ_BAD;
		}
		d->rtcp_packets++;
		d->rtcp_us = now_us;
		return RTPQ_RTCP;
	}
	if (n < 12 || !rtp_hdr(p, n, &pad)) {
		d->invalid++;
		return RTPQ_BAD;
	}
	uint32_t ssrc = be32(p + 8);
	uint16_t seq = be16(p + 2);
	unsigned pt = p[1] & 0x7f;

	/*
	 * Stamps may go back a little: a datagram timed on arrival in the loop, then older ones
	 * read with their kernel receive times. Arrival order is what counts: never before the last.
	 */
	if (now_us < d->last_rtp_us)
		now_us = d->last_rtp_us;
	d->packets++;
	d->bytes += n;
	if (!d->last_rtp_us)
		d->t0_us = now_us;
	d->last_rtp_us = now_us;
	if (d->packets == 1 || ssrc != d->ssrc) {
		if (d->packets > 1)
			d->ssrc_changes++;
		else
			d->pt = PT_NONE;
		seq_retire(d);
		d->ssrc = ssrc;
		d->have_transit = false;
		seq_new(d, seq);
	}
	uint64_t dup = d->duplicates;

	seq_update(d, seq);
	if (d->duplicates != dup)
		return RTPQ_RTP;
	if (pt != d->pt && !pt_change(d, pt))
		return RTPQ_RTP;
	if (d->clock_hz)
		rtp_jitter(d, be32(p + 4), now_us);
	return RTPQ_RTP;
}

/* ------------------------------------------------------------------ E-model */

/*
 * ITU-T G.107 E-model, simplified:
 *   R = Ro - Is - Id - Ie,eff + A with G.107's default values for everything but the codec,
 *     the loss and the delay, which give Ro - Is = 93.2 and A = 0 (no advantage factor);
 *   Id from the one-way mouth-to-ear delay Ta (ms), the usual approximation of G.107's Idd
 *     with default echo settings: Id = 0.024 Ta + 0.11 (Ta - 177.3) H(Ta - 177.3);
 *   Ie,eff = Ie + (95 - Ie) Ppl / (Ppl / BurstR + Bpl), Ppl in percent, BurstR = 1 (random
 *     loss: bursts are not modelled);
 *   Ie and Bpl from ITU-T G.113 Appendix I by codec: G.711 with packet loss concealment
 *     (Ie 0, Bpl 25.1), G.729A (11, 19.0), G.723.1 at 6.3 kbit/s (15, 16.1); other codecs,
 *     wideband ones included (G.107 is the narrowband model), are taken as G.711 with PLC;
 *   MOS = 1 + 0.035 R + R (R - 60)(100 - R) 7e-6, 1 below R = 0, 4.5 above R = 100, and at
 *     least 1 (the polynomial dips to 0.99 for 0 < R < 13).
 */
double rtpq_mos(const char *codec, double loss, double delay_ms, double *r_out)
{
	double ie = 0, bpl = 25.1, ppl, id, r, mos;

	if (codec && (!strcasecmp(codec, "G729") || !strcasecmp(codec, "G729a"))) {
		ie = 11;
		bpl = 19.0;
	} else if (codec && (!strcasecmp(codec, "G723") || !strcasecmp(codec, "G7231"))) {
		ie = 15;
		bpl = 16.1;
	}
	if (loss < 0)
		loss = 0;
	if (loss > 1)
		loss = 1;
	if (delay_ms < 0)
		delay_ms = 0;
	ppl = 100 * loss;
	id = 0.024 * delay_ms + (delay_ms > 177.3 ? 0.11 * (delay_ms - 177.3) : 0);
	r = 93.2 - id - (ie + (95 - ie) * ppl / (ppl + bpl));
	if (r < 0)
		mos = 1;
	else if (r > 100)
		mos = 4.5;
	else
		mos = 1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6;
	if (mos < 1) /* the polynomial dips below 1 for 0 < R < 13 */
		mos = 1;
	if (r_out)
		*r_out = r;
	return mos;
}

/* ------------------------------------------------------------------ figures */

#define FRAME_MS 20.0 /* packetisation assumed in the delay of the E-model */

static uint64_t dir_received(const struct rtpq_dir *d)
{
	return d->prev_received + (d->valid ? d->received : 0);
}

/* @d's figures minus those at @b (all zero: since the start) */
static void snapshot(const struct rtpq_dir *d, const struct rtpq_base *b, const struct rtpq_dir *reports,
		     uint64_t now_us, struct rtpq_snap *s)
{
	const char *c = NULL;
	uint64_t expected, received;

	memset(s, 0, sizeof(*s));
	s->pt = -1;
	s->packets = d->packets - b->packets;
	s->bytes = d->bytes - b->bytes;
	s->rtcp_packets = d->rtcp_packets - b->rtcp_packets;
	s->other = d->other - b->other;
	s->invalid = d->invalid - b->invalid;
	s->idle_us = !d->last_rtp_us ? UINT64_MAX : now_us > d->last_rtp_us ? now_us - d->last_rtp_us : 0;
	expected = d->prev_expected + dir_expected(d);
	received = dir_received(d);
	s->rtp = (d->valid || d->prev_expected) && expected > b->expected;
	if (!s->packets)
		return;
	s->ssrc = d->ssrc;
	s->ssrc_changes = d->ssrc_changes - b->ssrc_changes;
	if (d->pt != PT_NONE) {
		uint32_t clk;

		s->pt = d->pt;
		c = pt_codec(d, d->pt, &clk);
		snprintf(s->codec, sizeof(s->codec), "%s", c ? c : "");
		s->clock_hz = clk;
	}
	s->expected = expected - b->expected;
	s->lost = (int64_t)s->expected - (int64_t)(received - b->received);
	s->loss_ratio = s->expected && s->lost > 0 ? (double)s->lost / (double)s->expected : 0;
	s->reordered = d->reordered - b->reordered;
	s->duplicates = d->duplicates - b->duplicates;
	if (d->clock_hz)
		s->jitter_ms = (double)d->jitter16 / 16.0 * 1000.0 / d->clock_hz;
	if (reports && reports->rtcp_us) {
		for (unsigned i = 0; i < reports->rtcp.nblocks; i++) {
			const struct rtpq_block *rb = &reports->rtcp.block[i];

			if (rb->ssrc != d->ssrc)
				continue;
			s->rr = true;
			s->rr_fraction_lost = rb->fraction_lost / 256.0;
			s->rr_cum_lost = rb->cum_lost;
			s->rr_jitter_ms = d->clock_hz ? (double)rb->jitter * 1000.0 / d->clock_hz : 0;
			s->rr_age_us = now_us > reports->rtcp_us ? now_us - reports->rtcp_us : 0;
			break;
		}
	}
	if (!s->rtp)
		return;
	s->mos_loss = s->loss_ratio;
	if (s->rr && s->rr_fraction_lost > s->mos_loss)
		s->mos_loss = s->rr_fraction_lost;
	s->mos_delay_ms = FRAME_MS + 2 * (s->rr_jitter_ms > s->jitter_ms ? s->rr_jitter_ms : s->jitter_ms);
	s->mos = rtpq_mos(s->codec, s->mos_loss, s->mos_delay_ms, &s->r_factor);
}

void rtpq_snapshot(const struct rtpq_dir *d, const struct rtpq_dir *reports, uint64_t now_us, struct rtpq_snap *s)
{
	static const struct rtpq_base zero;

	snapshot(d, &zero, reports, now_us, s);
}

void rtpq_snapshot_since(const struct rtpq_dir *d, const struct rtpq_dir *reports, uint64_t now_us,
			 struct rtpq_snap *s)
{
	snapshot(d, &d->base, reports, now_us, s);
}

void rtpq_mark(struct rtpq_dir *d)
{
	seq_retire(d); /* the current source's figures into prev_* */
	d->base = (struct rtpq_base){
		.packets = d->packets,
		.bytes = d->bytes,
		.rtcp_packets = d->rtcp_packets,
		.other = d->other,
		.invalid = d->invalid,
		.expected = d->prev_expected,
		.received = d->prev_received,
		.reordered = d->reordered,
		.duplicates = d->duplicates,
		.ssrc_changes = d->ssrc_changes,
	};
	d->probation = MIN_SEQUENTIAL; /* the next packets start a new source, whatever their numbers */
	d->jitter16 = 0;
	d->have_transit = false;
	d->rtcp_us = 0;
}

void rtpq_end(struct rtpq_dir *d)
{
	rtpq_mark(d);
	d->between = true;
}

void rtpq_claim(struct rtpq_dir *d)
{
	if (!d->between)
		return;
	rtpq_mark(d);
	d->between = false;
}

/* ------------------------------------------------------------------ one-way audio */

#define FLOWING_US 1000000u /* the other direction sent RTP within this */

int rtpq_oneway(struct rtpq_dir *a, const struct rtpq_dir *b, uint64_t now_us, uint64_t silent_us)
{
	/* the two directions' stamps are not ordered between them (see rtpq_update): a later one is "now" */
	bool a_silent = !a->last_rtp_us || (now_us > a->last_rtp_us && now_us - a->last_rtp_us >= silent_us);
	bool b_flows = b->last_rtp_us && (now_us <= b->last_rtp_us || now_us - b->last_rtp_us <= FLOWING_US) &&
		       now_us > b->t0_us && now_us - b->t0_us >= silent_us;

	if (!a->oneway && a_silent && b_flows) {
		a->oneway = true;
		return 1;
	}
	if (a->oneway && !a_silent) {
		a->oneway = false;
		return -1;
	}
	return 0;
}
