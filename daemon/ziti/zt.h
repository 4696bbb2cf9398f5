/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sipovl native OpenZiti edge client (library API).
 *
 * Single-threaded: every call and every callback happens on the thread running the zt_loop.
 * Lifetimes: a zt_conn or zt_listener stays valid until the application calls zt_close() /
 * zt_listener_close() (exactly once), even after its on_close/on_error callback. No callback
 * for an object fires after it was closed by the application.
 *
 * See Documentation/ziti-client.md.
 */
#ifndef SIPOVL_ZT_H
#define SIPOVL_ZT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zt_loop.h"

struct zt_identity;
struct zt_ctx;
struct zt_conn;
struct zt_listener;
struct zt_dial_req;

/* ---------- identity ---------- */

/*
 * Load an identity JSON written by `ziti edge enroll` (ztAPI, id.cert, id.key, id.ca; values
 * "pem:<PEM>", "file://<path>", "file:<path>" or a plain path). Validates that cert and key
 * parse and match, the CA bundle is non-empty and the certificate is within its validity
 * period. On error returns NULL and writes a message to err.
 */
struct zt_identity *zt_identity_load(const char *path, char *err, size_t errlen);
void zt_identity_free(struct zt_identity *id);
const char *zt_identity_api(const struct zt_identity *id); /* ztAPI URL */
/* The file id.key names (file:), NULL when the key is inline (pem:). */
const char *zt_identity_key_file(const struct zt_identity *id);

/*
 * Enroll from an enrollment token (JWT file, or the token itself) and write the identity JSON
 * (mode 0600, atomically). ott: a new key (key_type "ec" (P-256, default), "ec:CURVE", "rsa",
 * "rsa:BITS"); ottca: cert and key are the CA-issued client certificate and its key (PEM
 * files). Blocking (a command, not for an event loop). 0, or -1 with a message in err; on
 * error nothing is written.
 */
struct zt_enroll_opts {
	const char *jwt, *out;
	const char *key_type;
	const char *cert, *key;
	bool force; /* overwrite out if it exists */
};
int zt_enroll(const struct zt_enroll_opts *o, char *err, size_t errlen);

/* ---------- context (controller session, services, router channels) ---------- */

enum { ZT_PERM_DIAL = 1, ZT_PERM_BIND = 2 };

struct zt_service {
	char *id;
	char *name;
	unsigned perms;          /* ZT_PERM_* */
	bool encryption_required;
	char *configs_json;      /* the service's "config" object (keyed by config type), or NULL */
	char *intercept_v1_json; /* config["intercept.v1"] serialized, or NULL */
	char *host_v1_json;      /* config["host.v1"] serialized, or NULL */
};

enum { ZT_SVC_ADDED = 1, ZT_SVC_CHANGED = 2, ZT_SVC_REMOVED = 3 };

struct zt_ctx_cbs {
	/* First authentication + service list done (err == 0), or a fatal start error. */
	void (*on_ready)(struct zt_ctx *ctx, int err, const char *msg, void *user);
	/* Service added / changed / removed (pointer valid only during the callback). */
	void (*on_service)(struct zt_ctx *ctx, const struct zt_service *svc, int event, void *user);
	/* Non-fatal trouble worth logging (controller unreachable, re-authentication...). */
	void (*on_log)(struct zt_ctx *ctx, int level, const char *msg, void *user);
	/* Certificate renewal done (err == 0) or failed (retried); NULL: logged through on_log. */
	void (*on_cert)(struct zt_ctx *ctx, int err, const char *msg, void *user);
	/* The identity file's ztAPIs rewritten (o.save_ctrls; msg says with what); NULL: on_log. */
	void (*on_ctrls)(struct zt_ctx *ctx, const char *msg, void *user);
};

struct zt_opts {
	unsigned svc_poll_ms;        /* service-update poll interval (default 10000) */
	unsigned latency_ms;         /* router latency probe interval (default 30000) */
	unsigned latency_timeout_ms; /* close a router channel with no probe reply (default 10000) */
	unsigned connect_timeout_ms; /* dial (Connect → StateConnected) timeout (default 15000) */
	unsigned backoff_max_ms;     /* router reconnect / rebind backoff cap (default 5000) */
	unsigned http_timeout_ms;    /* controller request timeout (default 15000) */
	unsigned refresh_min_ms;     /* lower bound of the API-session refresh delay (default 1000) */
	unsigned start_timeout_ms;   /* retry unreachable controller this long before on_ready fails (30000) */
	int log_level;               /* on_log receives levels <= this (0 err, 1 warn, 2 info, 3 debug) */
	const char *app_id;          /* sdkInfo.appID sent to the controller */
	/*
	 * Certificate renewal (network-issued certificates only): renew this many seconds before
	 * notAfter; 0: when a third of the validity remains, at most 30 days before. Failures are
	 * retried after 2 s, doubling up to renew_retry_max_ms (default 600000). renew_off: never;
	 * then a newer certificate another process wrote to the identity file (the process that
	 * renews it) is adopted every minute and at zt_ctx_adopt_cert().
	 */
	unsigned renew_before_s;
	unsigned renew_retry_max_ms;
	bool renew_off;
	bool renew_new_key;          /* a new key at each renewal (else only when the controller asks) */
	/*
	 * HA clusters: write the members learned from the controller (their Edge API URLs) into
	 * the identity file's ztAPIs when the set changes, so that a restart can reach the
	 * cluster through any of them (zt_ctrls.c).
	 */
	bool save_ctrls;
	/*
	 * Dead-router detection (zt_chan.c): a channel that sent since it last received anything
	 * and has been silent probe_silence_ms (default 300) is probed at once; unanswered as long
	 * again, its live datagram dials are dialed again through another router that is up
	 * (zt_health.c); no reply within probe_timeout_ms (default 1000) closes it when another router
	 * is up and answering, else only after lone_timeout_ms (default 30000: a sole router that is
	 * slow, its host short of CPU or its cluster electing a leader, keeps its circuits; one whose
	 * host is gone is noticed by TCP first). Channel sockets carry TCP_USER_TIMEOUT
	 * tcp_user_timeout_ms (default 5000): unacknowledged data that long ends the connection.
	 */
	unsigned probe_silence_ms, probe_timeout_ms, tcp_user_timeout_ms, lone_timeout_ms;
	/*
	 * Authentication: ZT_AUTH_MODE_LEGACY (API sessions, the default), ZT_AUTH_MODE_AUTO
	 * (OIDC when the controller advertises it, else legacy) or ZT_AUTH_MODE_OIDC (fail if
	 * the controller does not offer it).
	 */
	int auth_mode;
	unsigned token_refresh_ms;   /* OIDC: refresh at least this often (0: at half the lifetime) */
	/*
	 * A datagram still queued towards its router after this long, having waited on a full
	 * router socket, is dropped, not sent (default 100 ms); datagrams are written before
	 * stream data.
	 */
	unsigned dgram_max_age_ms;
	/*
	 * Posture responses (zt_posture.c) are posted at most once per posture_min_ms (default
	 * 5000): a later need to answer waits for the rest of the interval.
	 */
	unsigned posture_min_ms;
	/*
	 * While the services have PROCESS posture checks, their processes are looked at again
	 * this often (default 10000) and a change answered.
	 */
	unsigned posture_process_ms;
};
enum { ZT_AUTH_MODE_LEGACY = 0, ZT_AUTH_MODE_AUTO = 1, ZT_AUTH_MODE_OIDC = 2 };

struct zt_ctx *zt_ctx_new(struct zt_loop *loop, struct zt_identity *id, const struct zt_opts *o,
			  const struct zt_ctx_cbs *cbs, void *user);
/* Start: /version, authenticate, list services; polling and refresh run afterwards. */
int zt_ctx_start(struct zt_ctx *ctx);
void zt_ctx_free(struct zt_ctx *ctx); /* closes every conn/listener, frees the identity too */
/*
 * Change the service-update poll interval (0: keep) and the on_log level of a running context
 * (configuration reload); a pending poll is re-armed with the new interval.
 */
void zt_ctx_tune(struct zt_ctx *ctx, unsigned svc_poll_ms, int log_level);
struct zt_loop *zt_ctx_loop(struct zt_ctx *ctx);
const struct zt_service *zt_service_find(struct zt_ctx *ctx, const char *name);
/* Iterate services: returns NULL after the last one. */
const struct zt_service *zt_service_at(struct zt_ctx *ctx, size_t i);
const char *zt_ctx_api_session_id(struct zt_ctx *ctx);
/* datagrams dropped because they waited past dgram_max_age_ms (or overflowed the queue) */
uint64_t zt_ctx_dgram_dropped(const struct zt_ctx *ctx);
/* An edge router channel of the context (metrics): name (or URL), state, probe round trip */
struct zt_router_info {
	const char *name;          /* valid until the event loop runs again */
	bool up;
	unsigned rtt_ms;           /* smoothed latency probe round trip; 0 before the first */
	unsigned conns;            /* connections and bindings on it */
	size_t dgram_queued_bytes; /* datagrams waiting to be written to it */
	/* stream data held back for the router to read (zt_sched.c): times, total us; re-probes */
	uint64_t stream_held, stream_held_us, mark_retries;
};
/* The @i-th router channel in @ri; false after the last. */
bool zt_ctx_router_at(const struct zt_ctx *ctx, size_t i, struct zt_router_info *ri);
/* The controller's name for our identity, known once authenticated (else NULL). */
const char *zt_ctx_identity_name(struct zt_ctx *ctx);
/*
 * One of our identity's tags (@kind "tag") or appData members ("appData") at the controller,
 * as of the latest service listing (non-strings as JSON text); NULL when it has none of
 * that name. Valid until the next listing.
 */
const char *zt_ctx_identity_attr(struct zt_ctx *ctx, const char *kind, const char *key);
/* Controller requests' TLS connections so far: full handshakes and resumed sessions. */
void zt_ctx_api_tls_stats(const struct zt_ctx *ctx, uint64_t *full, uint64_t *resumed);
/* Controller requests completed so far (keep-alive: many per TLS connection). */
uint64_t zt_ctx_api_requests(const struct zt_ctx *ctx);
/* "oidc" or "legacy" (authentication in use), and OIDC access tokens refreshed so far */
const char *zt_ctx_auth_method(const struct zt_ctx *ctx); /* "oidc", "legacy" or "none" (not authenticated) */
uint64_t zt_ctx_token_refreshes(const struct zt_ctx *ctx);
/* Logins so far (first authentication and every one after it; a token refresh is none). */
uint64_t zt_ctx_logins(const struct zt_ctx *ctx);
/*
 * The controller (HA cluster member) requests go to now, as "host:port" in @buf ("" before
 * any is known), and how many times requests moved to another member.
 */
const char *zt_ctx_controller(const struct zt_ctx *ctx, char *buf, size_t len, uint64_t *switches);
/* The identity certificate and its renewal. */
struct zt_cert_status {
	int64_t not_before, not_after; /* Unix seconds */
	int64_t renew_at;              /* next renewal attempt (Unix seconds), 0 if none planned */
	int64_t last_renewal;          /* last successful renewal, 0 if none */
	unsigned renewals, failures;   /* successful renewals; failed attempts since the last success */
	const char *state;   /* "unknown" (not authenticated yet), "valid", "renewing", "retrying",
			      * "not-renewable" (certificate not issued by the network), "disabled" */
	const char *last_error; /* "" if none */
	const char *fingerprint; /* sha1 of the certificate */
};
void zt_ctx_cert_status(struct zt_ctx *ctx, struct zt_cert_status *st);
/*
 * Use the identity file's certificate when it is newer than the one in use (another process
 * renewed it): new connections and controller requests present it (reported through on_cert).
 * 1: adopted, 0: nothing newer, 2: the file's lock is held (a renewal writing it; with
 * renew_off looked at again in 250 ms), -1: the file could not be read (reported).
 */
int zt_ctx_adopt_cert(struct zt_ctx *ctx);
/* Testing aid: pretend the API session expired (drop it, re-authenticate on next need). */
void zt_ctx_forget_api_session(struct zt_ctx *ctx);

/* ---------- connections ---------- */

struct zt_conn_cbs {
	/* Dial result: err == 0 connected; else a negative errno and a reason. */
	void (*on_connect)(struct zt_conn *c, int err, const char *reason, void *user);
	/* Data from the peer. len == 0 means the peer half-closed (FIN). */
	void (*on_data)(struct zt_conn *c, const uint8_t *data, size_t len, void *user);
	/* The connection ended (peer StateClosed, router lost, protocol/crypto error). */
	void (*on_close)(struct zt_conn *c, int err, const char *reason, void *user);
	/* Called when zt_write() may be used again after zt_writable() returned false. */
	void (*on_writable)(struct zt_conn *c, void *user);
};

struct zt_dial_opts {
	const char *terminator_identity; /* addressable terminator (TerminatorIdentity header) */
	const char *caller_id;  /* CallerId header; default: our identity's name at the controller */
	const void *app_data; /* AppData header (tunnelers: JSON) */
	size_t app_data_len;
	bool datagram;        /* one zt_write = one message (no splitting) */
	bool lossy;           /* realtime datagrams (RTP): see zt_conn_set_lossy() */
	/*
	 * With app_data a JSON object: each Connect of this dial (its first attempt, one sent
	 * again unanswered, a re-dial) adds the member attempt_key (a plain JSON name):
	 * "<16 hex digits, this dial's random id>/<attempt, from 1>", so that a hosting side
	 * can tell an attempt given up, reaching it late, from the latest one.
	 */
	const char *attempt_key;
};

struct zt_conn *zt_dial(struct zt_ctx *ctx, const char *service, const struct zt_dial_opts *o,
			const struct zt_conn_cbs *cbs, void *user);
/*
 * A dial of @service is expected soon (e.g. its name was just resolved): fetch its Dial
 * session now unless it is in hand or being fetched, so that the dial does not wait for the
 * controller. Returns 0 (in hand), 1 (being fetched already), 2 (fetch started; dials join
 * it; logged when done), -ENOENT (unknown service), -EACCES (no Dial permission), -ENOMEM.
 * A failed fetch costs only itself (logged): the dials fetch again.
 */
int zt_dial_prepare(struct zt_ctx *ctx, const char *service);
/*
 * Queue data. Stream conns split into messages of at most ZT_MAX_CHUNK bytes; datagram conns
 * send exactly one message (len <= ZT_MAX_DATAGRAM). Returns 0 or a negative errno
 * (-ENOTCONN, -EPIPE after half-close, -EMSGSIZE). Never blocks: check zt_writable().
 */
int zt_write(struct zt_conn *c, const void *data, size_t len);
bool zt_writable(struct zt_conn *c);
int zt_close_write(struct zt_conn *c); /* FIN */
void zt_close(struct zt_conn *c);      /* StateClosed + free */
void *zt_conn_user(struct zt_conn *c);
void zt_conn_set_user(struct zt_conn *c, const struct zt_conn_cbs *cbs, void *user);
bool zt_conn_encrypted(const struct zt_conn *c);
uint32_t zt_conn_id(const struct zt_conn *c);
/*
 * A lossy conn's writes are datagrams (one message each, len <= ZT_MAX_DATAGRAM) that wait in
 * their channel's datagram queue, written before any stream data and dropped once older than
 * zt_opts.dgram_max_age_ms if the router socket was full meanwhile; it is always writable.
 * Others (stream and message conns) keep the channel's backpressure (zt_writable).
 */
void zt_conn_set_lossy(struct zt_conn *c, bool lossy);

#define ZT_MAX_CHUNK (32 * 1024)
#define ZT_MAX_DATAGRAM 65507

/* ---------- hosting ---------- */

/* Precedence header values (edge.PrecedenceDefault/Required/Failed) */
enum { ZT_PREC_DEFAULT = 0, ZT_PREC_REQUIRED = 1, ZT_PREC_FAILED = 2 };

struct zt_listen_opts {
	const char *terminator_identity; /* TerminatorIdentity header (addressable terminators) */
	const char *terminator_secret;
	uint16_t cost;
	uint8_t precedence;              /* ZT_PREC_* (0 default, 1 required, 2 failed) */
	bool datagram;                   /* accepted conns are datagram conns */
	/* terminators on this many edge routers at once (listenOptions.maxConnections; 0: 3) */
	unsigned max_connections;
};

struct zt_listener_cbs {
	/* Terminator established (err == 0), or binding failed/lost (it is retried with backoff). */
	void (*on_status)(struct zt_listener *l, int err, const char *msg, void *user);
	/*
	 * A router forwarded a Dial. Call zt_accept() or zt_reject() before returning, or
	 * zt_dial_req_hold() to answer later; req is valid only during the callback. If none is
	 * called, the dial is rejected.
	 */
	void (*on_dial)(struct zt_listener *l, struct zt_dial_req *req, void *user);
};

struct zt_listener *zt_listen(struct zt_ctx *ctx, const char *service, const struct zt_listen_opts *o,
			      const struct zt_listener_cbs *cbs, void *user);
void zt_listener_close(struct zt_listener *l); /* Unbind + free */
/*
 * Change the precedence of every terminator of l's group (ZT_PREC_*): an UpdateBind to the
 * router of each established one (ziti's terminator update: the controller then prefers or
 * passes over it at once), and later Binds carry it. 0, or -EINVAL for a bad value.
 */
int zt_listener_set_precedence(struct zt_listener *l, uint8_t precedence);
void *zt_listener_user(struct zt_listener *l);
/*
 * The terminators of @l's group that their routers confirmed (BindSuccess) and still hold, one
 * per router: up to @max in @out (router: its name as the sessions give it, valid until the
 * loop runs again; seq: the number of that BindSuccess among all of the process's, never
 * reused, so a binding made anew, even by a listener made anew, has a greater one). Returns
 * how many there are.
 */
struct zt_lsn_term {
	const char *router;
	uint64_t seq;
};
size_t zt_listener_terms(struct zt_listener *l, struct zt_lsn_term *out, size_t max);

/* ---------- a service's terminators (client API; zt_terms.c) ---------- */
struct zt_term_info {
	char id[64];
	char router_id[64];
	char router[128];  /* the router's name, "" when the identity's edge routers do not list it */
	char created[40];  /* createdAt as the controller wrote it */
};
struct json_object;
/* err 0: @n terminators in @t (@total: how many the controller has; more than @n when it
 * listed only a page); otherwise -errno and @msg. @t is valid during the callback only. */
typedef void (*zt_terms_cb)(void *arg, int err, const char *msg, const struct zt_term_info *t, size_t n,
			    size_t total);
struct zt_terms_req;
/*
 * Lists @service's terminators (it must be one of the identity's services), the routers'
 * names from current-identity/edge-routers. The callback runs from the loop, once; NULL when
 * the request could not be issued (not authenticated, service unknown, no memory).
 */
struct zt_terms_req *zt_service_terminators(struct zt_ctx *ctx, const char *service, zt_terms_cb cb, void *arg);
void zt_terms_cancel(struct zt_terms_req *r); /* no callback after it */
/* the listing's parser (no I/O): @routers an array of {id, name}, or NULL; 0 or -errno, @err */
int zt_terms_parse(const char *body, struct json_object *routers, struct zt_term_info **out, size_t *n,
		   size_t *total, char *err, size_t errlen);

const char *zt_dial_req_caller(const struct zt_dial_req *r);
const uint8_t *zt_dial_req_app_data(const struct zt_dial_req *r, size_t *len);
/*
 * The dialing identity's id and name as the edge router authenticated them (routers from
 * ziti 2.0 on send them; the caller id above is whatever the dialer says). Each is "" when
 * absent; returns true when either was sent.
 */
bool zt_dial_req_dialer(const struct zt_dial_req *r, char *id, size_t idlen, char *name, size_t namelen);
struct zt_conn *zt_accept(struct zt_dial_req *r, const struct zt_conn_cbs *cbs, void *user);
void zt_reject(struct zt_dial_req *r, const char *reason);
/*
 * Keep a dial to answer after on_dial returns (e.g. once the target's connect completes).
 * Returns a heap copy that must be passed to exactly one zt_accept() or zt_reject(), which
 * free it; NULL when out of memory (answer req in the callback then). caller and app_data
 * are not kept. If the binding goes away first (router connection lost, listener closed or
 * re-bound), the router is told "binding closed" when it can be, the copy goes stale:
 * zt_dial_req_valid() is false, zt_accept() returns NULL and zt_reject() sends nothing.
 */
struct zt_dial_req *zt_dial_req_hold(struct zt_dial_req *req);
bool zt_dial_req_valid(const struct zt_dial_req *req);

const char *zt_strerror(int err);

#endif
