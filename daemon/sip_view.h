/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sipovld's read-only view of the SIP it carries (sip_view.c): the bytes of each flow, as
 * they pass between the flow's socket and its Ziti connection, are shown to the SIP parser
 * and the dialog tracker (calls.h); nothing is changed, delayed or dropped.
 *
 * Which flows are SIP: content sniffing, no port list. A UDP flow is SIP when one of its
 * first SIPV_SNIFF datagrams (keepalives not counted) starts with a SIP request or status
 * line; a TCP flow when the first bytes either way do. Other flows (RTP, anything else) are
 * marked as not SIP and cost one comparison per packet from then on. SIP over TLS (5061) is
 * not readable and is not SIP to the sniffer.
 */
#ifndef SIPOVLD_SIP_VIEW_H
#define SIPOVLD_SIP_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct flow;
struct json_object;

#define SIPV_SNIFF 4

void sipv_init(void);
void sipv_fini(void);        /* active calls end as "stopped" (one CDR each) */
void sipv_reconfigure(void); /* calls_max, calls_idle_timeout_s, sip_debug changed */

/*
 * Bytes of flow f: from_sock, read from its socket (towards Ziti); otherwise from Ziti
 * (towards the socket). A UDP flow passes one datagram per call.
 */
void sipv_data(struct flow *f, bool from_sock, const uint8_t *p, size_t n);
/* a UDP flow that carries SIP: its idle timeout is sip_idle_timeout_s (flows.c) */
bool sipv_flow_is_sip(const struct flow *f);
void sipv_flow_closed(struct flow *f);
/* A UDP flow is steered: the SDP of a call with media between its addresses gives its rtpmap. */
void sipv_flow_new(struct flow *f);

/* the tracker's counters (metrics.c), NULL when the SIP view is off */
struct calls_stats;
const struct calls_stats *sipv_stats(void);

/* the "calls" document of the control socket */
struct json_object *sipv_calls_json(void);

/*
 * Across workers (sip_view_workers.c, Documentation/design.md "Workers"): a SIP message another
 * process read (worker @origin); the final figures of an ended call's streams another process
 * carries; this process's UDP flows with RTP for its report (each with "worker", at most @max).
 */
struct sockaddr_storage;
struct call_rtp_final;
void sipv_remote_sip(unsigned origin, const struct sockaddr_storage *src, const struct sockaddr_storage *dst,
		     const char *p, size_t n);
void sipv_remote_fin(const char *call_id, const struct call_rtp_final *fin);
struct json_object *sipv_report_flows(unsigned worker, unsigned max);

#endif
