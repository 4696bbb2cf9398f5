/* SPDX-License-Identifier: GPL-2.0 */
/*
 * SIP messages in the shapes real user agents and proxies send, written for these tests
 * (addresses from documentation ranges and the selftests' 10.x nets): SIPp's built-in uac/uas
 * scenarios, a Kamailio-proxied INVITE (two Vias on one line, Record-Route), Asterisk's
 * answer, baresip's and linphone's INVITEs (compact forms, folded headers, IPv6, a=rtcp).
 */
#ifndef SIP_MSGS_H
#define SIP_MSGS_H

/* SIPp 3.6 -sn uac (offer on 10.1.0.2:6000, PCMU) */
#define SIPP_INVITE \
	"INVITE sip:service@10.2.0.2:5060 SIP/2.0\r\n" \
	"Via: SIP/2.0/UDP 10.1.0.2:5061;branch=z9hG4bK-4242-1-0\r\n" \
	"From: sipp <sip:sipp@10.1.0.2:5061>;tag=4242SIPpTag001\r\n" \
	"To: service <sip:service@10.2.0.2:5060>\r\n" \
	"Call-ID: 1-4242@10.1.0.2\r\n" \
	"CSeq: 1 INVITE\r\n" \
	"Contact: sip:sipp@10.1.0.2:5061\r\n" \
	"Max-Forwards: 70\r\n" \
	"Subject: Performance Test\r\n" \
	"Content-Type: application/sdp\r\n" \
	"Content-Length:   127\r\n" \
	"\r\n" \
	"v=0\r\n" \
	"o=user1 53655765 2353687637 IN IP4 10.1.0.2\r\n" \
	"s=-\r\n" \
	"c=IN IP4 10.1.0.2\r\n" \
	"t=0 0\r\n" \
	"m=audio 6000 RTP/AVP 0\r\n" \
	"a=rtpmap:0 PCMU/8000\r\n"

#define SIPP_100 \
	"SIP/2.0 100 Trying\r\n" \
	"Via: SIP/2.0/UDP 10.1.0.2:5061;branch=z9hG4bK-4242-1-0\r\n" \
	"From: sipp <sip:sipp@10.1.0.2:5061>;tag=4242SIPpTag001\r\n" \
	"To: service <sip:service@10.2.0.2:5060>\r\n" \
	"Call-ID: 1-4242@10.1.0.2\r\n" \
	"CSeq: 1 INVITE\r\n" \
	"Content-Length: 0\r\n" \
	"\r\n"

#define SIPP_180 \
	"SIP/2.0 180 Ringing\r\n" \
	"Via: SIP/2.0/UDP 10.1.0.2:5061;branch=z9hG4bK-4242-1-0\r\n" \
	"From: sipp <sip:sipp@10.1.0.2:5061>;tag=4242SIPpTag001\r\n" \
	"To: service <sip:service@10.2.0.2:5060>;tag=5151SIPpTag011\r\n" \
	"Call-ID: 1-4242@10.1.0.2\r\n" \
	"CSeq: 1 INVITE\r\n" \
	"Contact: <sip:10.2.0.2:5060;transport=UDP>\r\n" \
	"Content-Length: 0\r\n" \
	"\r\n"

/* SIPp -sn uas answer (answer on 10.2.0.2:6000) */
#define SIPP_200 \
	"SIP/2.0 200 OK\r\n" \
	"Via: SIP/2.0/UDP 10.1.0.2:5061;branch=z9hG4bK-4242-1-0\r\n" \
	"From: sipp <sip:sipp@10.1.0.2:5061>;tag=4242SIPpTag001\r\n" \
	"To: service <sip:service@10.2.0.2:5060>;tag=5151SIPpTag011\r\n" \
	"Call-ID: 1-4242@10.1.0.2\r\n" \
	"CSeq: 1 INVITE\r\n" \
	"Contact: <sip:10.2.0.2:5060;transport=UDP>\r\n" \
	"Content-Type: application/sdp\r\n" \
	"Content-Length: 127\r\n" \
	"\r\n" \
	"v=0\r\n" \
	"o=user1 53655765 2353687637 IN IP4 10.2.0.2\r\n" \
	"s=-\r\n" \
	"c=IN IP4 10.2.0.2\r\n" \
	"t=0 0\r\n" \
	"m=audio 6000 RTP/AVP 0\r\n" \
	"a=rtpmap:0 PCMU/8000\r\n"

#define SIPP_ACK \
	"ACK sip:service@10.2.0.2:5060 SIP/2.0\r\n" \
	"Via: SIP/2.0/UDP 10.1.0.2:5061;branch=z9hG4bK-4242-1-5\r\n" \
	"From: sipp <sip:sipp@10.1.0.2:5061>;tag=4242SIPpTag001\r\n" \
	"To: service <sip:service@10.2.0.2:5060>;tag=5151SIPpTag011\r\n" \
	"Call-ID: 1-4242@10.1.0.2\r\n" \
	"CSeq: 1 ACK\r\n" \
	"Contact: sip:sipp@10.1.0.2:5061\r\n" \
	"Max-Forwards: 70\r\n" \
	"Content-Length: 0\r\n" \
	"\r\n"

#define SIPP_BYE \
	"BYE sip:service@10.2.0.2:5060 SIP/2.0\r\n" \
	"Via: SIP/2.0/UDP 10.1.0.2:5061;branch=z9hG4bK-4242-1-7\r\n" \
	"From: sipp <sip:sipp@10.1.0.2:5061>;tag=4242SIPpTag001\r\n" \
	"To: service <sip:service@10.2.0.2:5060>;tag=5151SIPpTag011\r\n" \
	"Call-ID: 1-4242@10.1.0.2\r\n" \
	"CSeq: 2 BYE\r\n" \
	"Contact: sip:sipp@10.1.0.2:5061\r\n" \
	"Max-Forwards: 70\r\n" \
	"Content-Length: 0\r\n" \
	"\r\n"

#define SIPP_BYE_200 \
	"SIP/2.0 200 OK\r\n" \
	"Via: SIP/2.0/UDP 10.1.0.2:5061;branch=z9hG4bK-4242-1-7\r\n" \
	"From: sipp <sip:sipp@10.1.0.2:5061>;tag=4242SIPpTag001\r\n" \
	"To: service <sip:service@10.2.0.2:5060>;tag=5151SIPpTag011\r\n" \
	"Call-ID: 1-4242@10.1.0.2\r\n" \
	"CSeq: 2 BYE\r\n" \
	"Content-Length: 0\r\n" \
	"\r\n"

/* Kamailio forwarding: its Via and the phone's on one line, Record-Route, no body */
#define KAM_INVITE \
	"INVITE sip:1002@192.0.2.20:5060;transport=udp SIP/2.0\r\n" \
	"Record-Route: <sip:192.0.2.1;lr;ftag=as5f2a1b;did=0d1.c4a1>\r\n" \
	"Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK0f9e.5c0f3a62.0, SIP/2.0/UDP 192.0.2.10:5060;rport=5060;received=192.0.2.10;branch=z9hG4bK-d8754z-1\r\n" \
	"Max-Forwards: 69\r\n" \
	"Contact: <sip:1001@192.0.2.10:5060>\r\n" \
	"To: <sip:1002@example.com>\r\n" \
	"From: \"Alice, A.\" <sip:1001@example.com>;tag=as5f2a1b\r\n" \
	"Call-ID: 3c26700dd47e-kam@192.0.2.10\r\n" \
	"CSeq: 102 INVITE\r\n" \
	"Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY\r\n" \
	"Content-Length: 0\r\n" \
	"\r\n"

/* Asterisk (chan_pjsip) 486 */
#define AST_486 \
	"SIP/2.0 486 Busy Here\r\n" \
	"Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK0f9e.5c0f3a62.0\r\n" \
	"Via: SIP/2.0/UDP 192.0.2.10:5060;rport=5060;received=192.0.2.10;branch=z9hG4bK-d8754z-1\r\n" \
	"Call-ID: 3c26700dd47e-kam@192.0.2.10\r\n" \
	"From: \"Alice, A.\" <sip:1001@example.com>;tag=as5f2a1b\r\n" \
	"To: <sip:1002@example.com>;tag=0b4b5b6c-aa11-4c6e-9d2f-1e8f\r\n" \
	"CSeq: 102 INVITE\r\n" \
	"Server: Asterisk PBX 20.5.0\r\n" \
	"Reason: Q.850;cause=17\r\n" \
	"Content-Length:  0\r\n" \
	"\r\n"

/* baresip over TCP: compact forms, a folded Supported line, IPv6 media with a=rtcp */
#define BARESIP_INVITE6_SDP \
	"v=0\r\n" \
	"o=- 2890844526 2890844526 IN IP6 2001:db8::10\r\n" \
	"s=-\r\n" \
	"c=IN IP6 2001:db8::10\r\n" \
	"t=0 0\r\n" \
	"m=audio 10000 RTP/AVP 96 0 8 101\r\n" \
	"a=rtpmap:96 opus/48000/2\r\n" \
	"a=rtpmap:101 telephone-event/8000\r\n" \
	"a=rtcp:10003 IN IP6 2001:db8::11\r\n" \
	"a=sendrecv\r\n" \
	"m=video 0 RTP/AVP 97\r\n"

#define BARESIP_INVITE6 \
	"INVITE sip:bob@[2001:db8::20] SIP/2.0\r\n" \
	"v: SIP/2.0/TCP [2001:db8::10]:5060;branch=z9hG4bKbaresip1;alias\r\n" \
	"f: <sip:alice@[2001:db8::10]>;tag=bs8f7c2\r\n" \
	"t: <sip:bob@[2001:db8::20]>\r\n" \
	"i: b7c4a1f2e3d4@baresip\r\n" \
	"CSeq: 38451 INVITE\r\n" \
	"m: <sip:alice-0x55d1@[2001:db8::10]:5060;transport=tcp>\r\n" \
	"k: replaces,\r\n" \
	"\t100rel, timer\r\n" \
	"Max-Forwards: 70\r\n" \
	"c: application/sdp\r\n" \
	"l: 250\r\n" \
	"\r\n" BARESIP_INVITE6_SDP

/* linphone: bare LF line ends, a folded From, hold (a=sendonly) in a re-INVITE */
#define LINPHONE_REINVITE \
	"INVITE sip:bob@198.51.100.20:5060 SIP/2.0\n" \
	"Via: SIP/2.0/UDP 198.51.100.10:5060;branch=z9hG4bK.LinphoneXb;rport\n" \
	"From: <sip:alice@example.org>\n" \
	" ;tag=Lp8wZ\n" \
	"To: <sip:bob@example.org>;tag=Lp9Q1\n" \
	"CSeq: 21 INVITE\n" \
	"Call-ID: lp-HjTg5mQ\n" \
	"Max-Forwards: 70\n" \
	"Content-Type: application/sdp\n" \
	"Content-Length: 118\n" \
	"\n" \
	"v=0\n" \
	"o=alice 1 2 IN IP4 198.51.100.10\n" \
	"s=Talk\n" \
	"c=IN IP4 198.51.100.10\n" \
	"t=0 0\n" \
	"m=audio 7078 RTP/AVP 8\n" \
	"a=sendonly\n" \
	"a=rtcp-mux\n"

#endif
