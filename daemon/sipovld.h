/* SPDX-License-Identifier: GPL-2.0 */
/* sipovld internals shared by its translation units. */
#ifndef SIPOVLD_H
#define SIPOVLD_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "daemon/cfg.h"
#include "daemon/ziti/zt.h"
#include "daemon/ziti/zt_resolve.h"

#ifndef SIPOVLD_VERSION
#define SIPOVLD_VERSION "0.1"
#endif

#define SIPOVLD_CTL_SOCK_DEFAULT "/run/sipovld/ctl.sock"

/* syslog priorities, printed as "<N>" prefixes on stderr (journald) */
enum { L_ERR = 3, L_WARN = 4, L_NOTICE = 5, L_INFO = 6, L_DEBUG = 7 };
void logm(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

struct ident;
struct flow;

/* The template variables of an identity ($tunneler_id.name, .tag[KEY], .appData[KEY]). */
struct tpl_vars ident_tpl(struct ident *id);

struct svc {
	struct svc *next;
	struct ident *id;
	char *name;
	unsigned perms;
	char *icpt_json, *host_json;
	/* intercept side */
	bool has_icpt;               /* parsed intercept.v1 and Dial permission */
	struct icpt_cfg icpt;
	uint32_t kid;                /* kernel intercept id, stable for the service's lifetime */
	char kname[SIPOVL_NAME_MAXLEN];
	bool in_kernel;
	unsigned kernel_dsts;        /* its destinations in the kernel's table (an endpoint's own address left out) */
	bool own_addr_only;          /* an endpoint's: its addresses are only the endpoint's own (not installed) */
	char icpt_err[CFG_ERRLEN];
	uint64_t tpl_warned_ms;       /* last "template variable has no value" warning (1 per 10 s) */
	uint64_t prepare_sent_ms;     /* the workers last told to fetch its Dial session (WMSG_PREPARE) */
	/* host side */
	bool has_host;
	struct host_cfg host;
	struct zt_listener *lsn;
	bool lsn_up;
	char term_id[256];
	char host_err[CFG_ERRLEN];
	/* counters */
	uint64_t dials, dial_failed, accepted, refused;
	unsigned active;
};

struct ident {
	struct ident *next;
	char *path;
	char *name;                  /* $tunneler_id.name */
	struct zt_ctx *ctx;
	bool ready;
	char err[256];
	struct svc *svcs;
	struct zt_timer restart;
	bool warned_unwritable;       /* the renewal warning is logged once, not at every restart */
};

struct counters {
	uint64_t tcp_intercepted, udp_intercepted, unmatched, dials_ok, dials_failed, dial_timeouts;
	uint64_t hosted_tcp, hosted_udp, hosted_refused, hosted_connect_failed;
	uint64_t hosted_src_refused;     /* claimed sources refused by the source_map */
	uint64_t mem_limit_hits, udp_dropped, tcp_reset, bytes_to_ziti, bytes_from_ziti;
	uint64_t udp_circuits_merged; /* one UDP stream had two circuits: one kept (flows_pair.c) */
	uint64_t hosted_udp_redialed; /* a hosted UDP flow replaced by its dialer's re-dial (flows_host.c) */
	uint64_t hosted_udp_late_attempts; /* a dial's attempt refused: a later one of it is hosted (flows_host.c) */
	uint64_t hosted_udp_taken_over; /* a hosted UDP flow silent past udp_idle replaced by another dialer's */
	uint64_t worker_name_questions; /* a worker asked the primary for a flow's DNS name (worker_names.c) */
	uint64_t worker_name_timeouts;  /* ... and dialed without, unanswered */
	uint64_t packets_to_ziti, packets_from_ziti;
	uint64_t tcp_expired; /* TCP flows closed by tcp_idle_timeout_s / tcp_half_closed_timeout_s */
};

struct daemon {
	struct zt_loop *loop;
	struct zt_resolver *res;     /* hosted targets given by name (zt_resolve.h) */
	struct daemon_cfg cfg;
	const char *cfg_path;
	bool no_kernel;
	struct sipovl_nl *nl;
	struct ident *idents;
	uint32_t generation;
	bool kernel_dirty;
	struct zt_timer apply_timer;
	char kernel_err[256];
	size_t n_sources;
	struct counters c;
	uint64_t mem_used;
	unsigned n_flows[4];
	struct flow *flows;
	uint64_t started_ms;
	unsigned worker;             /* 0: the primary; 1..n_workers-1: a worker process (workers.c) */
	unsigned n_workers;          /* worker processes, the primary included (D.cfg.workers at start) */
};

extern struct daemon D;

/* sipovld.c */
extern bool stopping;          /* SIGTERM/SIGINT seen */
/* re-read the configuration and identities; -1 (and nothing changed) when it is invalid */
int reload(const char *why);

/* status.c: the "status" document */
struct json_object;
struct json_object *status_json(void);

/* control.c: the control socket */
int ctl_open(const char *path);
void ctl_close(const char *path);
int ctl_chown(const char *path, uid_t uid, gid_t gid);
/* client side (sipovld --request R): the exit status */
int ctl_request(const char *path, const char *req);

#define JADD(o, k, v) json_object_object_add(o, k, v)
#define JI(x) json_object_new_int64((int64_t)(x))
#define JS(x) json_object_new_string(x)
#define JB(x) json_object_new_boolean(x)

/* priv.c: least privilege */
struct priv_user {
	bool set;
	uid_t uid;
	gid_t gid;
	char name[64];
};
/* "USER" or "USER:GROUP" -> ids (looked up at start, before anything is opened) */
int priv_user_lookup(const char *spec, struct priv_user *u, char *err, size_t errlen);
/* Keep only the capabilities used after start-up; become u when u->set. */
int priv_drop(const struct priv_user *u, char *err, size_t errlen);
/* 0, or -1 with @err when @path (key material) is readable or writable by group or others. */
int priv_check_secret(const char *path, char *err, size_t errlen);
/* the directory of @path can take new files (renewal): 0, or -1 and why not in @err */
int priv_check_writable_dir(const char *path, char *err, size_t errlen);

/* flows*.c (their shared internals: flows_int.h) */
int flows_init(void);
unsigned flows_members(void); /* the workers with intercept sockets registered (>= 1) */
/* a worker: serve the intercept sockets its primary opened (tcp4, udp4, tcp6, udp6; -1: none) */
int flows_adopt(const int fds[4]);
void flows_fini(void);
void flows_close_svc(struct svc *s, const char *why);
/* @cb with the original destination of every live intercepted flow (the DNS names in use) */
void flows_intercept_dsts(void (*cb)(const struct sockaddr_storage *dst, void *arg), void *arg);
/* the configuration was reloaded: re-arm the UDP and TCP idle timers with the new bounds */
void flows_reconfigure(void);
void host_on_dial(struct zt_listener *l, struct zt_dial_req *req, void *user);
/* JSON array of the flows (status "flows") */
struct json_object *flows_json(void);
/* kernel_table.c: the intercept table and transparent sources from every identity's services */
void kernel_apply_cb(void *arg);  /* D.apply_timer's callback */
/* apply the kernel's table soon (once per loop iteration): the service list changed */
void kernel_schedule_apply(void);
/* remove the intercepts, sources and socket registrations (stop, failed start) */
void kernel_clear(void);

/* services.c: an identity's services */
struct zt_service;
struct svc *svc_by_kid(uint32_t kid);
struct svc *svc_by_kname(const char *kname); /* a worker's lookup (services.c) */
/*
 * Fetch @s's Dial session now, before its first dial (the DNS responder answered one of its
 * names: dns_server.c); true: a fetch started.
 */
bool svc_prepare_dial(struct svc *s);
void on_service(struct zt_ctx *ctx, const struct zt_service *z, int event, void *user);
void svc_free(struct svc *s);
/* (re)bind a hosted service (its terminator identity may have changed) */
void listener_start(struct svc *s);

/* primary.c: primary_address, the hosting precedence following the site's VRRP address */
int primary_apply(void);       /* at start and after a reload: watch D.cfg's address (or stop) */
void primary_stop(void);
bool primary_held(void);
uint8_t host_precedence(const struct svc *s); /* ZT_PREC_* a hosted service binds with now */
struct json_object *primary_json(void); /* status "primary_address" (NULL when off) */

/* pool_server.c: the ip-pool server (ip_pool in sipovld.conf) */
int pool_server_start(void);   /* at start: the pool and its lease file; -1 (logged): do not start */
void pool_server_stop(void);
bool pool_server_service(const char *name); /* the service the pool is served as */
void pool_server_on_dial(struct zt_listener *l, struct zt_dial_req *req, void *user);
void pool_server_close_svc(struct svc *s); /* before the service (or its identity) goes */
struct json_object *pool_server_json(void); /* status "ip_pool", NULL when not serving */
struct json_object *pool_server_release(const char *addr); /* control "ip-pool release ADDRESS" */
/* the terminators of the pool's service counted: another pool server? (after pool_excl_start) */
void pool_server_excl_cleared(void); /* only this server's again: the endpoints renew first (hold_s) */
/* pool_excl.c: is this the only pool server? */
void pool_excl_start(void);
void pool_excl_stop(void);
void pool_excl_kick(void);           /* the pool service's binding came up: count now */
void pool_excl_ctx_gone(struct zt_ctx *ctx); /* an identity stops: a listing through it ends */
bool pool_excl_ok(const char **why); /* may new leases be given? (@why: why not) */
struct json_object *pool_excl_json(bool held); /* status ip_pool.exclusive (@held: pool.hold for hold_s) */

/* idents.c: the configured identities */
/* bring the identity list in line with D.cfg (start new ones, stop removed ones) */
void idents_sync(bool name_changed);
void idents_adopt_cert(const char *path); /* a worker: the primary renewed this identity file */
void ident_free(struct ident *id);
/* the Ziti library's log level for D.cfg.log_level */
int zt_log_level(void);

#endif
