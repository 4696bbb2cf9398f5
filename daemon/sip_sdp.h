/* SPDX-License-Identifier: GPL-2.0 */
/*
 * SDP parser (RFC 4566, RFC 3264 offer/answer, RFC 3605 a=rtcp), free of I/O: the media
 * endpoints of an offer or answer. Reads c= at session and media level (IN IP4 / IN IP6,
 * numeric addresses), m= lines (media, port, port count, proto, payload types), a=rtpmap,
 * a=rtcp, a=rtcp-mux and the direction attributes; hold is c=0.0.0.0 (RFC 2543), sendonly or
 * inactive.
 */
#ifndef SIPOVLD_SIP_SDP_H
#define SIPOVLD_SIP_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define SDP_MAX_MEDIA 4
#define SDP_MAX_PT 12
#define SDP_CODEC_LEN 24
#define SDP_MAX_MAP 6          /* a=rtpmap kept per m= line (payload types without a static meaning) */
#define SDP_MAP_NAME_LEN 16

enum sdp_dir { SDP_SENDRECV, SDP_SENDONLY, SDP_RECVONLY, SDP_INACTIVE };

/* a=rtpmap:PT NAME/CLOCK[/CHANNELS] */
struct sdp_rtpmap {
	uint8_t pt;
	uint32_t clock;
	char name[SDP_MAP_NAME_LEN];     /* cut */
};

struct sdp_media {
	char media[8];                   /* audio, video, image, ... (cut) */
	char proto[16];                  /* RTP/AVP, RTP/SAVP, udptl, ... (cut) */
	uint16_t port, nports;           /* port 0: the stream is refused/disabled */
	struct sockaddr_storage rtp;     /* address (c=, media or session level) and port */
	struct sockaddr_storage rtcp;    /* a=rtcp, else the same address and port + 1 (or rtcp-mux: port) */
	bool has_addr, rtcp_mux;
	uint8_t pt[SDP_MAX_PT];          /* the first payload types of the m= line */
	unsigned n_pt;
	char codec[SDP_CODEC_LEN];       /* the first payload type's name (a=rtpmap or static, RFC 3551) */
	unsigned clock;                  /* its clock rate (0 when unknown) */
	struct sdp_rtpmap map[SDP_MAX_MAP]; /* the first a=rtpmap of payload types of the m= line
					       that have no static meaning (RFC 3551), in their order */
	unsigned n_map;
	enum sdp_dir dir;
	bool hold;                       /* c=0.0.0.0/::, sendonly or inactive */
};

struct sdp {
	struct sdp_media m[SDP_MAX_MEDIA];
	unsigned n_media;                /* m= lines kept (SDP_MAX_MEDIA at most) */
	unsigned n_media_total;          /* m= lines seen */
};

/* Parse an SDP body; -1 with err naming what was wrong. */
int sdp_parse(const char *p, size_t n, struct sdp *s, char *err, size_t errlen);

/* name and clock rate of a static payload type (RFC 3551 table 4), NULL when none */
const char *sdp_static_codec(unsigned pt, unsigned *clock);

const char *sdp_dir_name(enum sdp_dir d);

#endif
