/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sipovld worker processes (workers.c; Documentation/design.md "Workers"): the primary starts
 * workers 1..n-1, restarts them when they die, forwards SIGHUP and aggregates their reports.
 */
#ifndef SIPOVLD_WORKERS_H
#define SIPOVLD_WORKERS_H

#include <stdbool.h>
#include <stdint.h>

#include <sys/socket.h>

#include "daemon/sipovld.h"

#define WORKERS_MAX 64

/* the CPUs this process may run on (its affinity mask) */
long workers_cpus(void);
/* the number of workers for D.cfg.workers (daemon_cfg_workers; *why: see there) */
unsigned workers_count(unsigned cfg, const char **why);

/* primary */
void workers_set_argv(int argc, char **argv);
void workers_start(void);      /* after start-up: fork and exec workers 1..D.n_workers-1 */
void workers_on_sigchld(void); /* reap, log, schedule restarts */
void workers_reload(void);     /* SIGHUP to every live worker */
void workers_stop(void);       /* SIGTERM, wait (bounded), SIGKILL */
/* the sums over the workers' last reports (the primary's own not included) */
void workers_sum(struct counters *c, unsigned n_flows[4], uint64_t *mem_used, int64_t *dgram_late);
/* a service's dials, dials_failed, accepted, refused, active at the workers (added to v[]) */
void workers_svc_sum(const char *ident_path, const char *svc, uint64_t v[5]);
struct json_object *workers_json(void);          /* status "workers" (the primary first) */
void workers_flows(struct json_object *arr);     /* append the workers' flows (each with "worker") */

/*
 * worker: the command line's --worker W,CHAN,T4,U4,T6,U6,N (N: the primary's number of
 * workers, the primary included); 0 or -1 (a bad argument).
 * fds[] receives the intercept sockets (-1: none).
 */
int worker_parse_arg(const char *arg, int fds[4]);

/*
 * The SIP view across the workers (sip_view_workers.c): binary messages on the channels
 * beside the reports (a report is JSON: its first byte is '{').
 * WMSG_SIP: a SIP message a process read from one of its flows (src, dst, the message's
 * bytes): the primary gives it to its own tracker and to every other worker. WMSG_FIN: the
 * final figures of an ended call's streams that a process carries, for the call's origin
 * (dest) and the primary (which keeps them for the calls view).
 */
enum { WMSG_SIP = 1, WMSG_FIN = 2, WMSG_CERT = 3, WMSG_NAME_Q = 4, WMSG_NAME_A = 5 };
/*
 * One UDP stream, one circuit across the processes (flows_xpair.c): WMSG_PAIR_ADD and
 * WMSG_PAIR_DEL (worker to primary: an intercepted UDP flow starts, ends), WMSG_PAIR_MERGE
 * (primary to worker: close it, the primary's hosted circuit carries its stream),
 * WMSG_PAIR_DATA (either way: a datagram of a stream the other one's circuit carries).
 */
enum { WMSG_PAIR_ADD = 6, WMSG_PAIR_DEL = 7, WMSG_PAIR_MERGE = 8, WMSG_PAIR_DATA = 9 };
void xpair_in(unsigned from, const void *p, size_t n); /* flows_xpair.c */
void xpair_worker_gone(unsigned w);                    /* the primary: worker w died */
/* the primary: read what every worker sent (the channels' messages, at once) */
void workers_poll(void);
bool workers_alive(unsigned w); /* the primary: worker w is running */
/*
 * WMSG_STOP (primary to worker, before its SIGTERM): the primary stops everything and writes
 * the CDRs of the calls that end as "stopped" (sip_view.c on_end). worker_drain: a stopping
 * worker reads what the primary sent.
 */
enum { WMSG_STOP = 10 };
/*
 * WMSG_PREPARE (primary to workers): the DNS responder answered a name of the service whose
 * kernel intercept name follows (svc.kname, how a worker finds the service it dials:
 * svc_by_kname); a client is about to dial it, through whichever process sipovl.ko steers
 * its flow to: each worker fetches its own Dial session now, as the primary does
 * (svc_prepare_dial). dns_server.c sends one per service at most every 5 s.
 */
enum { WMSG_PREPARE = 11 };
void workers_send_prepare(const char *kname);
extern bool worker_stop_asked;
void worker_drain(void);
extern uint64_t workers_msg_dropped; /* SIP view and certificate messages not sent: the channel was full */
struct wmsg_hdr {
	uint8_t type, origin, dest, pad;
};
/* send a SIP message read by this process to the others (nothing with one worker) */
void workers_send_sip(const struct sockaddr_storage *src, const struct sockaddr_storage *dst, const char *p, size_t n);
/*
 * WMSG_CERT (primary to workers): the identity file at the path that follows was just renewed
 * by the primary (workers never renew, design.md "Workers"): each worker adopts its
 * certificate at once (idents_adopt_cert), as the controller accepts only the new one.
 */
void workers_send_cert(const char *ident_path);
/*
 * WMSG_NAME_Q (worker to primary) and WMSG_NAME_A (the answer): the DNS name of an address
 * (worker_names.c). workers_send_raw: a message to the primary (a worker); workers_send_to:
 * to worker @w (the primary). False: not sent.
 */
bool workers_send_raw(const void *p, size_t n);
bool workers_send_to(unsigned w, const void *p, size_t n);
/* worker_names.c: a WMSG_NAME_Q (the primary answers it) or WMSG_NAME_A (a worker) from @from */
void worker_names_in(unsigned from, const void *b, size_t n);
/* send an ended call's figures to its origin @dest (and the primary) */
struct call_rtp_final;
void workers_send_fin(unsigned dest, const char *call_id, const struct call_rtp_final *fin);
/* the workers' reported flow (sip_view_json.c's flow_ref) between the two addresses (either way), or NULL */
struct json_object *workers_rtp_flow(const char *x, const char *y);
/* each worker's reported "rtp_metrics" in turn (i from 0; NULL after the last) */
struct json_object *workers_rtp_metrics(unsigned *i);
extern unsigned worker_reloads;  /* reloads done by this worker */
int worker_init(void);          /* the channel and the report timer (after the loop exists) */
void worker_fini(void);

#endif
