/* SPDX-License-Identifier: GPL-2.0 */
/* sipovld data plane, shared by flows*.c (not an interface of the daemon: see sipovld.h). */
#ifndef SIPOVLD_FLOWS_INT_H
#define SIPOVLD_FLOWS_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "daemon/flows_pair.h"
#include "daemon/sip_view.h"
#include "daemon/rtp_rxtime.h"
#include "daemon/rtpq.h"
#include "daemon/sipovld.h"

enum ftype { F_ITCP, F_IUDP, F_HTCP, F_HUDP };

struct qbuf {
	struct qbuf *next;
	size_t len, off;
	uint8_t data[];
};

struct flow {
	struct flow *next, *prev;     /* all flows */
	struct flow *hnext;           /* UDP hash chain: intercepts, and hosted flows from the caller's address */
	bool hashed;
	/*
	 * One stream, one circuit (flows_pair.c): a UDP flow whose circuit lost the tie-break
	 * sends what its socket reads over the survivor's circuit (via); via_of is the reverse.
	 */
	struct flow *via, *via_of;
	/*
	 * Across workers (flows_xpair.c): xw, a hosted flow whose stream worker xw's dialed
	 * circuit carries (its socket disconnected: it only sends); xadd, a worker's intercepted
	 * UDP flow the primary was told of.
	 */
	unsigned xw;
	bool xadd;
	enum ftype type;
	struct svc *svc;
	int fd;
	struct zt_io io;
	struct zt_conn *zc;
	struct zt_dial_req *dreq;     /* host TCP: the router's Dial, answered when connect completes */
	struct zt_timer timer;        /* dial / connect timeout, then UDP or TCP idle */
	struct sockaddr_storage a, b; /* intercept: client, original destination; host: source, target */
	bool spoofed;                 /* host side: originating from the caller's address */
	bool src_checked;             /* host side: the dialer's claim to a checked against the source_map */
	char dialer[256];             /* host side: the dialing identity (authenticated, else its caller id) */
	uint64_t dial_id;             /* host side: app_data's sipovl_dial: the dial's id and attempt (0: none) */
	unsigned dial_attempt;
	bool zt_up, sock_up;          /* Ziti connected; host TCP socket connected */
	bool sock_eof, zt_eof;        /* read 0 from the socket; FIN from Ziti */
	bool zt_fin_sent, sock_fin_sent, zt_blocked, dead, hup;
	struct qbuf *q, *qtail;       /* towards the socket (TCP), or pending towards Ziti (UDP) */
	size_t qbytes;
	unsigned qcount;
	uint64_t last_ms, created_ms;
	uint64_t to_zt, from_zt;      /* bytes */
	uint64_t pk_to_zt, pk_from_zt;
	size_t mem;
	struct host_alt *alt;         /* host TCP to a name: the addresses not tried yet */
	struct sip_tap *sip;          /* SIP view of a TCP flow (sip_view.c) */
	int8_t sip_kind;              /* SIP view: undecided, SIP or not (sip_view.c) */
	uint8_t sip_dirs;             /* UDP: 1 SIP seen from a, 2 from b, 4 an ACK (sipv_flow_is_sip) */
	struct rtpq_dir *rq;          /* UDP: RTP quality, [RTPQ_TO_ZITI] and [RTPQ_FROM_ZITI] (flows_rtp.c) */
	/* a worker's flow of a service with hostname intercepts: the name asked of the primary (worker_names.c) */
	struct name_q *name_q;        /* the question pending */
	char *hostname;               /* the answer (NULL: none) */
	bool name_asked;
};

/* A hosted TCP target given by name: the next address is tried when a connect fails. */
struct host_alt {
	struct zt_addrs addrs;
	unsigned next;
	bool has_src;
	struct sockaddr_storage src;
	unsigned attempt_ms;
};

#define FLOW_MEM (sizeof(struct flow) + 2048) /* our state + the library's connection state */
#define RTPQ_MEM (2 * sizeof(struct rtpq_dir)) /* a UDP flow's RTP quality (flows_rtp.c) */
#define UDP_PENDING_MAX 64                    /* datagrams queued while the dial completes */
#define TCP_QUEUE_MAX (4u << 20)              /* bytes queued towards one TCP socket */

/*
 * worker_names.c: a worker's question to the primary for the DNS name of a flow's address.
 * worker_name_needed: the flow must wait for it (a worker, a service with hostname
 * intercepts, not asked yet); worker_name_ask: ask, and dial (flow_dial) when answered;
 * worker_name_cancel: the flow closes.
 */
struct name_q;
bool worker_name_needed(const struct flow *f);
int worker_name_ask(struct flow *f, const char *proto);
void worker_name_cancel(struct flow *f);
/* a flow whose dial could not be started: reset (TCP) and closed (flows_intercept.c) */
void flow_fail_dial(struct flow *f);

/* flows.c: the list of all flows, memory, queues, lifecycle, events, Ziti callbacks, status */
bool mem_log_now(void);
bool mem_take(size_t n);
void mem_give(size_t n);
void q_free(struct flow *f);
bool q_push(struct flow *f, const void *p, size_t n);
const char *flow_desc(const struct flow *f, char *buf, size_t n);
void flow_close(struct flow *f, int prio, const char *why);
struct flow *flow_new(enum ftype t, struct svc *s, int fd);
void flow_io(struct flow *f);
void flow_io_cb(void *arg, uint32_t ev);
extern const struct zt_conn_cbs flow_cbs;

/* flows_udp.c: UDP flows (flow table by address pair, pumping, intercept reads, one circuit per stream) */
struct flow *udp_find(enum ftype t, const struct sockaddr_storage *c, const struct sockaddr_storage *d);
uint32_t udp_key_hash(const struct sockaddr_storage *c, const struct sockaddr_storage *d); /* of an address pair */
bool udp_sa_eq(const struct sockaddr_storage *x, const struct sockaddr_storage *y);         /* family, address, port */
int udp_insert(struct flow *f);
void udp_remove(struct flow *f);
void udp_to_zt(struct flow *f, const uint8_t *p, size_t n);
void udp_read(struct flow *f);
void udp_main_read(int fd, int family);
void udp_pair(struct flow *i, struct flow *h);
void udp_table_free(void);

/* flows_xpair.c: one circuit per UDP stream across worker processes */
void xpair_icpt_new(const struct sockaddr_storage *a, const struct sockaddr_storage *b);
void xpair_icpt_gone(const struct sockaddr_storage *a, const struct sockaddr_storage *b);
void xpair_before_host(void);
void xpair_hosted(struct flow *h);
void xpair_forward(struct flow *h, const uint8_t *p, size_t n);
void xpair_free(void);

/* flows_rtp.c: RTP quality of UDP flows (rtpq.h per direction), one-way audio events */
enum { RTPQ_TO_ZITI = 0, RTPQ_FROM_ZITI = 1 };
struct rtpq_snap;
struct rtp_dir_totals {
	uint64_t streams, packets, bytes, expected, lost, reordered, duplicates, rtcp;
};
struct rtp_totals {
	struct rtp_dir_totals dir[2]; /* of closed flows */
	uint64_t oneway_events;
};
extern struct rtp_totals rtp_totals;
uint64_t rtp_now_us(void);
int64_t rtp_real_to_mono_ns(void);
void rtp_account(struct flow *f, int dir, const uint8_t *p, size_t n, uint64_t now_us);
void rtp_flow_snap(const struct flow *f, uint64_t now, struct rtpq_snap s[2]);
struct flow *rtp_rtcp_flow(const struct flow *f);
struct json_object *rtp_flow_json(const struct flow *f);
void rtp_flow_closed(const struct flow *f);

/* flows_tcp.c: TCP flows (keepalive, idle bounds, pumping) */
void tcp_rst(struct flow *f);
void tcp_keepalive(int fd);
bool tcp_half_closed(const struct flow *f);
uint64_t tcp_idle_bound(const struct flow *f);
void tcp_idle_arm(struct flow *f);
void tcp_read(struct flow *f);
void tcp_flush(struct flow *f);

/* flows_host.c: the hosting side (Dials from the router to targets) */
int host_answer(struct flow *f);
bool host_retry(struct flow *f, const char *why);
void hres_cancel(struct svc *s, const char *why);

/* flows_intercept.c: the intercept side (main sockets, matching, dialing) */
int flow_set_transparent(int fd, int family);
struct svc *flow_match(int proto, const struct sockaddr_storage *src, const struct sockaddr_storage *dst);
int flow_dial(struct flow *f, const char *proto);

#endif
