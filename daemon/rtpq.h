/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Per-stream RTP quality (daemon/rtpq.c): pure C, no I/O, no allocation.
 *
 * One struct rtpq_dir per direction of a UDP flow. Each datagram of that direction goes to
 * rtpq_update() with a monotonic timestamp in microseconds. RTP is validated (RFC 3550 5.1:
 * version 2, CSRC count, extension, padding within the datagram); loss and reordering come
 * from extended sequence numbers (RFC 3550 A.1 logic), interarrival jitter as A.8 computes it.
 * RTCP (RFC 3550 6.4, also multiplexed on the RTP port, RFC 5761) is parsed: a receiver's
 * report blocks about the stream in the other direction are kept in the direction they were
 * read in, and rtpq_snapshot() takes them from there (@reports). Anything else (STUN, DTLS,
 * SIP, random data) is counted and, once a direction has shown no RTP for RTPQ_GIVEUP
 * datagrams, ignored after one comparison.
 *
 * Memory: fixed, sizeof(struct rtpq_dir) per direction.
 */
#ifndef SIPOVLD_RTPQ_H
#define SIPOVLD_RTPQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RTPQ_MAX_RTPMAP 4   /* dynamic payload types per direction (SDP a=rtpmap) */
#define RTPQ_MAX_BLOCKS 2   /* RTCP report blocks kept from the last report */
#define RTPQ_GIVEUP 32      /* datagrams without valid RTP/RTCP before a direction is "not RTP" */
#define RTPQ_CODEC_LEN 16

/* What rtpq_update() saw in a datagram. */
enum rtpq_kind {
	RTPQ_OTHER = 0, /* not RTP nor RTCP (or a direction given up as not RTP) */
	RTPQ_RTP,       /* a valid RTP packet (counted, even while the source is on probation) */
	RTPQ_RTCP,      /* a valid RTCP compound packet */
	RTPQ_BAD,       /* looked like RTP/RTCP (version 2) but malformed: counted as invalid */
};

/* One RTCP report block (RFC 3550 6.4.1) */
struct rtpq_block {
	uint32_t ssrc;          /* the source this block is about */
	uint8_t fraction_lost;  /* /256, since the previous report */
	int32_t cum_lost;       /* 24-bit signed */
	uint32_t ext_max_seq;
	uint32_t jitter;        /* timestamp units */
	uint32_t lsr, dlsr;
};

/* A parsed RTCP compound packet: the first SR or RR and its first RTPQ_MAX_BLOCKS blocks. */
struct rtpq_rtcp {
	bool has_sr;
	uint32_t ssrc;           /* the reporter */
	uint64_t ntp;            /* SR: NTP timestamp */
	uint32_t rtp_ts, sender_packets, sender_octets; /* SR sender info */
	unsigned nblocks;
	struct rtpq_block block[RTPQ_MAX_BLOCKS];
};

/* A direction's counters at its last rtpq_mark(): what rtpq_snapshot_since() subtracts */
struct rtpq_base {
	uint64_t packets, bytes, rtcp_packets, other, invalid;
	uint64_t expected, received, reordered, duplicates;
	uint32_t ssrc_changes;
};

struct rtpq_map {
	uint8_t pt;              /* 96..127 (or a static one given explicitly); 0 with clock 0 = unused */
	uint32_t clock_hz;
	char name[RTPQ_CODEC_LEN];
};

/*
 * One direction. Zero-initialised (memset or = {0}) is the initial state; the fields are
 * private to rtpq.c: read them through rtpq_snapshot().
 */
struct rtpq_dir {
	/* source and A.1 sequence state */
	uint32_t ssrc;
	uint16_t max_seq;
	uint8_t pt;
	uint8_t probation;
	uint32_t cycles;          /* shifted count of sequence number wraps */
	uint32_t base_seq;
	uint32_t bad_seq;
	uint64_t window;          /* bit i: ext seq (max - i) received (duplicates, late packets) */
	uint64_t received;        /* distinct packets of the current source */
	uint64_t reordered;       /* arrived after a higher sequence number */
	uint64_t duplicates;
	uint64_t prev_expected, prev_received; /* earlier sources (SSRC changes, restarts) */
	uint32_t ssrc_changes;
	/* A.8 jitter */
	uint32_t clock_hz;        /* of pt; 0 = unknown (no jitter) */
	uint32_t transit;
	uint32_t jitter16;        /* jitter in timestamp units, times 16 */
	bool have_transit;
	bool valid;               /* a source passed probation */
	bool not_rtp;             /* given up: RTPQ_GIVEUP datagrams and no RTP */
	bool oneway;              /* rtpq_oneway(): this direction is silent (event raised) */
	bool between;             /* rtpq_end() since the last rtpq_claim(): between two calls */
	uint64_t t0_us;           /* first RTP packet (arrival clock origin) */
	uint64_t last_rtp_us;     /* last valid RTP packet, 0 never */
	/* counters */
	uint64_t packets, bytes;  /* RTP packets (valid header), their datagram bytes */
	uint64_t rtcp_packets, other, invalid;
	/* the last RTCP report read in this direction (about the other direction's stream) */
	struct rtpq_rtcp rtcp;
	uint64_t rtcp_us;         /* when; 0 never */
	/* SDP a=rtpmap for dynamic payload types */
	struct rtpq_map map[RTPQ_MAX_RTPMAP];
	/* rtpq_mark(): the counters then */
	struct rtpq_base base;
};

/* A direction's figures. */
struct rtpq_snap {
	bool rtp;                 /* RTP seen (a source passed probation) */
	uint32_t ssrc;
	int pt;                   /* -1 none */
	char codec[RTPQ_CODEC_LEN]; /* "PCMU", "opus", ... or "" unknown */
	uint32_t clock_hz;
	uint64_t packets, bytes, rtcp_packets, other, invalid;
	uint64_t expected;        /* from extended sequence numbers */
	int64_t lost;             /* expected - received (negative: duplicates past the window) */
	double loss_ratio;        /* lost / expected, 0..1 (0 if nothing expected) */
	uint64_t reordered, duplicates;
	uint32_t ssrc_changes;
	double jitter_ms;         /* A.8, in ms */
	uint64_t idle_us;         /* since the last RTP packet (UINT64_MAX never) */
	/* from the peer's RTCP receiver report about this stream (@reports of rtpq_snapshot) */
	bool rr;
	double rr_fraction_lost;  /* 0..1 */
	int32_t rr_cum_lost;
	double rr_jitter_ms;
	uint64_t rr_age_us;
	/* E-model estimate (rtpq_mos): inputs used */
	double mos;               /* 1..4.5; 0 if no RTP */
	double r_factor;
	double mos_loss;          /* loss ratio used */
	double mos_delay_ms;      /* one-way delay used */
};

/* Classify one datagram without touching state (RFC 7983 first-byte demultiplexing + checks). */
enum rtpq_kind rtpq_classify(const uint8_t *p, size_t n);

/* Account one datagram of direction @d arrived at @now_us (monotonic, microseconds). */
enum rtpq_kind rtpq_update(struct rtpq_dir *d, const uint8_t *p, size_t n, uint64_t now_us);

/*
 * Fill @s with @d's figures at @now_us. @reports: the direction whose RTCP reports describe
 * @d's stream (the reverse direction of the same flow when RTCP is multiplexed, or of the
 * RTCP flow on port+1), or NULL. Its report block about @d's SSRC gives the rr_* fields.
 */
void rtpq_snapshot(const struct rtpq_dir *d, const struct rtpq_dir *reports, uint64_t now_us,
		   struct rtpq_snap *s);

/*
 * An interval: rtpq_mark() ends the current one (a call that used the stream ended) and
 * rtpq_snapshot_since() gives @d's figures since the last mark (since the start without one):
 * packets, bytes, expected, lost, reordered, duplicates and the counters are differences; the
 * jitter estimator restarts at the mark, the next RTP packet starts a new source (probation,
 * so a stream that starts over with the same SSRC and sequence numbers, as a replayed
 * capture does, is a new stream, not a late or restarted one) and RTCP reports read before
 * the mark are forgotten. rtpq_snapshot() keeps giving the figures since the start.
 */
void rtpq_mark(struct rtpq_dir *d);
/*
 * A call that used the stream ended (rtpq_mark), and what comes until the next call takes the
 * stream (rtpq_claim: a mark again) is no call's: the previous call's late or trailing RTP.
 * rtpq_claim() does nothing unless rtpq_end() came first, so a call may claim its stream as
 * often as its SDP changes.
 */
void rtpq_end(struct rtpq_dir *d);
void rtpq_claim(struct rtpq_dir *d);
void rtpq_snapshot_since(const struct rtpq_dir *d, const struct rtpq_dir *reports, uint64_t now_us,
			 struct rtpq_snap *s);

/*
 * Parse an RTCP compound packet (RFC 3550 6.1: every packet version 2, lengths within the
 * datagram, the first one SR or RR; RFC 5506 reduced size accepted if it is an SR/RR alone).
 * Returns 0, or -1 with a reason in @err (NULL allowed). Changes @out only on success.
 */
int rtpq_rtcp_parse(const uint8_t *p, size_t n, struct rtpq_rtcp *out, char *err, size_t errlen);

/*
 * SDP: learn "a=rtpmap:<pt> <encoding>/<clock>[/<channels>]" (the text after "a=rtpmap:"
 * or the whole line) for direction @d. Returns 0, or -1 if the line is malformed or the
 * table is full (RTPQ_MAX_RTPMAP); @d is unchanged then.
 */
int rtpq_rtpmap(struct rtpq_dir *d, const char *line, size_t len);

/*
 * The SDP's maps, already parsed: @d's table becomes the first RTPQ_MAX_RTPMAP of @m (entries
 * with pt > 127 or clock 0 are skipped). A stream already running on a payload type whose
 * clock rate this changes restarts its jitter estimator with the new rate.
 */
void rtpq_set_rtpmaps(struct rtpq_dir *d, const struct rtpq_map *m, unsigned n);

/* The codec name and clock rate of a static payload type (RFC 3551); NULL/0 if unknown. */
const char *rtpq_static_codec(unsigned pt, uint32_t *clock_hz);

/*
 * E-model (ITU-T G.107, simplified: see rtpq.c): R and MOS from the codec (Ie, Bpl from
 * ITU-T G.113 Appendix I by name; G.711 with PLC for unknown codecs), a random packet loss
 * ratio (0..1) and a one-way mouth-to-ear delay in ms. Returns the MOS, and R in @r if not NULL.
 */
double rtpq_mos(const char *codec, double loss, double delay_ms, double *r);

/*
 * One-way audio: @a is silent (no RTP for @silent_us, or never) while @b flows (RTP within
 * the last second and for at least @silent_us). Call it from time to time or per datagram;
 * returns +1 when @a becomes silent (raise the event), -1 when it flows again after that,
 * 0 otherwise. The state is a->oneway.
 */
int rtpq_oneway(struct rtpq_dir *a, const struct rtpq_dir *b, uint64_t now_us, uint64_t silent_us);

#endif
