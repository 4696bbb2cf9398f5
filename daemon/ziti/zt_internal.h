/* SPDX-License-Identifier: GPL-2.0 */
/* Internal structures of the native OpenZiti edge client. */
#ifndef SIPOVL_ZT_INTERNAL_H
#define SIPOVL_ZT_INTERNAL_H

#include <openssl/ssl.h>
#include <sodium.h>
#include <limits.h>
#include <sys/types.h>

#include "zt.h"
#include "zt_msg.h"
#include "zt_resolve.h"

struct json_object;

/* ---- identity ---- */
struct zt_identity {
	char *api_url;   /* ztAPI */
	char *apis_json; /* ztAPIs (a JSON array of URLs: the cluster's members), or NULL */
	char *host;      /* controller host */
	char *port;      /* controller port */
	char *base_path; /* path part of ztAPI ("/edge/client/v1") */
	SSL_CTX *ssl;    /* client cert + CA trust, shared by controller and routers */
	char *cert_fp;   /* sha1 fingerprint (for logs) */
	/*
	 * The controller's latest session ticket: the next request resumes with it, which skips
	 * the client certificate signature (with an RSA-4096 identity a full handshake is ~5 ms
	 * of CPU natively and seconds under TCG, the event loop stalled all the while).
	 */
	SSL_SESSION *api_sess;
	uint64_t api_handshakes, api_resumed;
	/* for renewal: where the credentials came from and what they are */
	char *path;                       /* the identity file */
	char *cert_val, *key_val, *ca_val; /* id.cert, id.key, id.ca as written in it */
	char *key_pem, *ca_pem;
	X509_NAME *subject;               /* of the certificate */
	int64_t not_before, not_after;    /* of the certificate, Unix seconds */
};

/* ---- key material, atomic file replacement (zt_pki.c) ---- */
#define ZT_STAGE_MAX 4
struct zt_stage { /* files written to temporaries, renamed over their targets by commit */
	char *tmp[ZT_STAGE_MAX], *dst[ZT_STAGE_MAX];
	int n;
};
/*
 * @dst keeps the mode and owner of the file it replaces (@mode_if_new when none); with
 * ZT_STAGE_SECRET or'ed into @mode_if_new (keys, files holding one) it becomes owner-only
 * (0644 or 0640 -> 0600): sipovld refuses key material group or others may read.
 */
#define ZT_STAGE_SECRET 0x10000
int zt_stage_add(struct zt_stage *s, const char *dst, const char *data, size_t len, mode_t mode_if_new,
		 char *err, size_t errlen);
int zt_stage_commit(struct zt_stage *s, char *err, size_t errlen);
void zt_stage_abort(struct zt_stage *s);
EVP_PKEY *zt_pki_keygen(const char *spec, char *err, size_t errlen); /* "ec", "ec:CURVE", "rsa[:BITS]" */
EVP_PKEY *zt_pki_keygen_like(EVP_PKEY *old, char *err, size_t errlen);
char *zt_pki_key_pem(EVP_PKEY *k);
char *zt_pki_csr_pem(EVP_PKEY *k, const X509_NAME *subject, char *err, size_t errlen);
X509 *zt_pki_first_cert(const char *pem);
int64_t zt_pki_time(const ASN1_TIME *t);
/*
 * The CA bundle to trust after a renewal: the controller's new bundle (each a CA certificate,
 * at least one) plus every certificate of the old one it lacks, so that a bundle without the
 * root that verifies the controller and routers cannot lock the client out. NULL with @err.
 */
char *zt_pki_ca_union(const char *new_ca, const char *old_ca, char *err, size_t errlen);
void zt_pki_fmt_time(int64_t t, char *buf, size_t len);

/* identity credentials (zt_identity.c) */
int zt_identity_replace(struct zt_identity *id, const char *cert_pem, const char *key_pem, const char *ca_pem,
			char *err, size_t errlen); /* NULL key/ca: keep */
int zt_identity_check(const char *cert_pem, const char *key_pem, const char *ca_pem, char *err, size_t errlen);
int zt_identity_stage_update(struct zt_identity *id, const char *cert_pem, const char *key_pem,
			     const char *ca_pem, struct zt_stage *st, char *err, size_t errlen);
/* after a committed update: the id.cert/key/ca references as the identity file now has them */
int zt_identity_reread_refs(struct zt_identity *id, char *err, size_t errlen);
/*
 * Another process may have renewed the same identity file: when the file holds a certificate
 * other than ours that expires later, use it (and its key, CA) from now on (*@adopted).
 */
int zt_identity_adopt_newer(struct zt_identity *id, bool *adopted, char *err, size_t errlen);
/*
 * A reader's lock on the identity file (a process that adopts what the renewing one wrote):
 * shared, never created. The fd, -2 while a renewal holds it, -3 no lock file (nobody renewed
 * here: read without), -1 otherwise (@err).
 */
int zt_identity_lock_shared(const struct zt_identity *id, char *err, size_t errlen);
/*
 * One renewal of an identity file at a time, across processes: flock on ".NAME.lock" next to
 * it. The locked descriptor (close it to release), -2 when another process holds it, -1.
 */
int zt_identity_lock(const struct zt_identity *id, char *err, size_t errlen);
/* the certificate as the identity file names it (PEM, to free), or NULL with @err */
char *zt_identity_cert_pem(const struct zt_identity *id, char *err, size_t errlen);

char *zt_identity_json(const char *api_url, const char *cert_pem, const char *key_pem, const char *ca_pem);
/* certificate (+ chain) and key as an SSL_CTX's client credentials */
int zt_identity_use_cert(SSL_CTX *ctx, const char *cert_pem, const char *key_pem, char *err, size_t errlen);

/* ---- enrollment token (zt_enroll.c; the parser does no I/O) ---- */
struct zt_jwt {
	char *alg, *iss, *sub, *jti, *em;
	int64_t exp;
	char *signing_input;   /* header.claims */
	unsigned char *sig;
	size_t sig_len;
};
int zt_jwt_parse(const char *token, struct zt_jwt *j, char *err, size_t errlen);
int zt_jwt_verify(const struct zt_jwt *j, EVP_PKEY *key, char *err, size_t errlen);
void zt_jwt_free(struct zt_jwt *j);

/* ---- certificate renewal (zt_renew.c) ---- */
struct zt_renew;
struct zt_renew *zt_renew_new(struct zt_ctx *ctx);
void zt_renew_free(struct zt_renew *r);
/* after each authentication: the API session's data object (authenticatorId, isCertExtendable...) */
void zt_renew_on_auth(struct zt_renew *r, struct json_object *data);
void zt_renew_on_refresh(struct zt_renew *r, struct json_object *data, uint64_t issued_ms);

/* SSL app data marking a controller (API) connection, whose sessions are kept for resumption */
#define ZT_SSL_API ((void *)(uintptr_t)0x415049)

/* ---- controller HTTPS: libcurl multi on the context's loop, keep-alive (zt_curl.c) ---- */
struct zt_http_resp {
	int status; /* HTTP status, or 0 on transport error */
	const char *err; /* transport error text (status 0) */
	const char *body; /* NUL terminated */
	size_t body_len;
	const char *location; /* a redirect's target (not followed), or NULL */
};
typedef void (*zt_http_cb)(void *arg, const struct zt_http_resp *r);
struct zt_http;
struct zt_http_opts {
	const char *method, *path; /* path: on the controller's ztAPI host and port */
	const char *url;           /* instead of path: a complete https:// URL on that host */
	const char *body;
	const char *content_type;  /* of body (default application/json) */
	const char *authorization; /* an Authorization header (instead of the session's token) */
	bool no_session;           /* without the session's token */
	/*
	 * To this cluster member (host, port as in ctx->ctrls), not the current one; not issued
	 * (NULL) when it is no longer a member. An OIDC login's steps: its auth request lives
	 * in the memory of the member it started on.
	 */
	const char *pin_host, *pin_port;
};
/*
 * The callback runs from the loop, never from inside the call; NULL when the request could
 * not be set up. A request is freed after its callback returns, or by zt_http_cancel().
 */
struct zt_http *zt_http_request(struct zt_ctx *ctx, const char *method, const char *path,
				const char *body, zt_http_cb cb, void *arg);
struct zt_http *zt_http_request_ex(struct zt_ctx *ctx, const struct zt_http_opts *o, zt_http_cb cb, void *arg);
void zt_http_cancel(struct zt_http *h);
struct zt_curl;
int zt_curl_init(struct zt_ctx *ctx);
void zt_curl_free(struct zt_ctx *ctx); /* cancels what is left, closes the connections */
/* "<what>: HTTP <status> <code>: <message>" from a controller error reply, or the transport error */
void zt_http_resp_error(const struct zt_http_resp *r, char *buf, size_t len, const char *what);

/* ---- the cluster's controllers, failover between them (zt_ctrls.c) ---- */
#define ZT_CTRLS_MAX 16
struct zt_ctrl {
	char *host, *port;
	uint64_t down_until_ms; /* held back after a failure until then */
	unsigned fails;         /* consecutive failures */
};
struct zt_ctrls {
	struct zt_ctrl v[ZT_CTRLS_MAX];
	size_t n, cur; /* requests go to v[cur] */
	uint64_t switches;
};
/* an https:// URL's host and port: 1 added, 0 known already, -1 (with @err) bad or no room */
int zt_ctrls_add(struct zt_ctrls *l, const char *url, char *err, size_t errlen);
/* a /controllers reply's apiAddresses.edge-client URLs: how many were new, -1 a bad reply */
int zt_ctrls_add_list(struct zt_ctrls *l, const char *body, char *err, size_t errlen);
/* a request to @idx failed: hold it back, move on; true when another member became current */
bool zt_ctrls_failed(struct zt_ctrls *l, size_t idx, uint64_t now_ms);
void zt_ctrls_ok(struct zt_ctrls *l, size_t idx);
void zt_ctrls_free(struct zt_ctrls *l);
/* the context's side: a request to member @idx ended with @r; GET /controllers (HA only) */
void zt_ctx_ctrl_outcome(struct zt_ctx *ctx, size_t idx, const struct zt_http_resp *r);
/* member idx answered but cannot do what (a refresh without a raft leader): the next one is current */
void zt_ctx_ctrl_unable(struct zt_ctx *ctx, size_t idx, const char *what);
void zt_ctx_learn_ctrls(struct zt_ctx *ctx);
void zt_ctx_scratch_free(struct zt_ctx *ctx); /* the decryption buffer (zt_conn.c) */
/*
 * A set of controller URLs, in order: the Edge API URLs of a /controllers reply (each member's
 * first https edge-client URL; @listed counts the members, with an address or not), or an
 * identity's ztAPIs.
 */
struct zt_urls {
	char *v[ZT_CTRLS_MAX];
	size_t n, listed;
};
/* a /controllers reply's members: 0, or -1 (with @err) when it is not a list */
int zt_urls_members(struct zt_urls *m, const char *body, char *err, size_t errlen);
/* an identity file's ztAPIs (a JSON array; NULL or empty: its ztAPI alone) */
int zt_urls_apis(struct zt_urls *m, struct json_object *apis, const char *ztapi);
bool zt_urls_same_set(const struct zt_urls *a, const struct zt_urls *b);
/*
 * What the identity's ztAPIs should be after the reply @m, given what it is (@old), into @out:
 * 1 a different set, 0 the same one (nothing to write), -1 out of memory. The members' URLs,
 * those without one left out (as ziti-sdk-c); when some member lacks one (v1.6.5 lists
 * members without addresses for a while after a cluster starts) @old's other URLs are kept
 * after them, and a reply with no URL at all changes nothing.
 */
int zt_urls_next(const struct zt_urls *m, const struct zt_urls *old, struct zt_urls *out);
void zt_urls_free(struct zt_urls *m);
/*
 * Write @m's cluster members into the identity file's ztAPIs when the set differs from what
 * the file holds (zt_urls_next), under the identity's lock; every other field is kept. The
 * file is replaced atomically (temporary file beside it, fsync, mode 0600, rename, fsync of
 * the directory) and id->apis_json follows it. 1 written, 0 nothing to write, -2 the lock is
 * held (a renewal: try again later), -1 with @err (the file is unchanged).
 */
int zt_identity_save_apis(struct zt_identity *id, const struct zt_urls *m, char *err, size_t errlen);
char *zt_read_file(const char *path, size_t max, size_t *outlen); /* NUL-terminated, or NULL (errno) */

/* ---- connection helpers shared with channels ---- */
int zt_parse_url(const char *url, char **scheme, char **host, char **port, char **path);
void zt_ssl_err(char *buf, size_t len, const char *what, SSL *ssl, int rc);

/* ---- router channel ---- */
enum zt_chan_state {
	ZT_CH_IDLE,       /* not connected; connects on demand */
	ZT_CH_CONNECTING, /* TCP connect in progress */
	ZT_CH_TLS,        /* TLS handshake */
	ZT_CH_HELLO,      /* hello sent */
	ZT_CH_UP,
	ZT_CH_BACKOFF,    /* waiting to reconnect */
};

struct zt_chan;
typedef void (*zt_reply_cb)(void *arg, struct zt_chan *ch, const struct zt_msg *m, int err, const char *why);
struct zt_pending { /* a request waiting for a reply (keyed by sequence) */
	struct zt_pending *next;
	int32_t seq;
	zt_reply_cb cb;
	void *arg;
};

struct zt_hnode {
	struct zt_hnode *next;
	uint32_t key;
	void *val;
};

struct zt_chan {
	struct zt_ctx *ctx;
	struct zt_chan *next;
	char *url, *host, *port;
	char *name;
	enum zt_chan_state state;
	int fd;
	struct zt_connect *conn; /* resolving and connecting (state ZT_CH_CONNECTING) */
	SSL *ssl;
	struct zt_io io;
	struct zt_buf in, out;
	/* what waits to be moved into out (zt_sched.c): stream Data messages, datagrams */
	struct zt_buf bulk;
	struct zt_dgram *dgq, **dgq_tail;
	size_t dgq_bytes;
	struct zt_dgram *dg_free; /* spent datagram nodes kept for reuse (zt_sched.c) */
	unsigned dg_nfree;
	/*
	 * The socket refused data (wblocked: since a write saw EAGAIN) and how often a write
	 * began after such a refusal (wresumes): a queued datagram waited on the router link if
	 * the socket refuses still or a write resumed since it was queued (zt_sched.c)
	 */
	bool wblocked;
	uint64_t wresumes;
	/*
	 * stream bytes moved to out (sent) and known read by the router (acked: a Latency probe
	 * written after them was answered); marks: the probes in flight and their positions
	 */
	uint64_t stream_sent, stream_acked, stream_marked;
	struct { int32_t seq; uint64_t pos; } marks[16];
	unsigned nmarks;
	struct zt_timer mark_timer; /* held back: probe again (a router may leave a probe unanswered) */
	/* stream data held back: how often, for how long in all, since when (us); timer re-probes */
	uint64_t held, held_us, held_since_us, mark_retries;
	bool mark_wait; /* a probe went since the router last answered one: the next waits */
	uint64_t skip; /* bytes of a refused (oversized) message body still to discard from in */
	struct zt_task flush_task; /* writes out at the end of the loop iteration */
	bool want_write_cb; /* some conn waits for on_writable */
	bool rx_drained;    /* the last read(2) of fd returned less than asked: the socket is empty */
	bool in_dispatch;   /* inside zt_chan_dispatch from chan_read */
	int32_t seq;
	struct zt_pending *pending;
	struct zt_hnode **conns; /* conn id -> zt_conn / zt_listener (tagged) */
	unsigned nbuckets, nconns;
	struct zt_timer latency_timer, backoff_timer, io_timer;
	uint64_t latency_sent_ms;
	int32_t latency_seq;      /* the outstanding liveness probe */
	bool latency_outstanding;
	bool token_stale;         /* OIDC: the token was refreshed after the hello carried it */
	struct zt_timer token_timer; /* OIDC: an UpdateToken unanswered (zt_chan.c, ZT_TOKEN_REPLY_MS) */
	int32_t token_seq;           /* the latest UpdateToken's sequence */
	/*
	 * OIDC: a login from scratch replaced the API session of its hello (a router refuses the
	 * new session's token on it): it keeps its circuits and terminators, takes nothing new
	 * (zt_chan_get passes over it), gets no token updates, and is closed once it carries
	 * nothing. Make before break: new work goes to a new channel to the same router.
	 */
	bool retired;
	/* health (zt_health.c): the latency timer ticks every ZT_CHAN_TICK_MS while UP */
	uint64_t probe_deadline_ms, probe_ok_ms, last_rx_ms, last_tx_ms, hello_sent_ms;
	unsigned probe_wait_ms; /* the outstanding probe's timeout */
	bool probe_silent;      /* the outstanding probe was sent because the router fell silent */
	bool suspect;           /* ...and is unanswered probe_silence_ms: datagram flows moved off */
	bool lone_wait;         /* past its deadline, kept: no other router to go to (zt_health.c) */
	bool uto_raised;        /* TCP_USER_TIMEOUT at lone_timeout_ms, not yet back (zt_health.c) */
	unsigned rtt_ms; /* smoothed probe round trip (the hello's at first); router selection */
	unsigned failures;
	unsigned auth_gen;  /* ctx->auth_gen whose token the hello carried */
	uint64_t up_since_ms;
	char last_err[256];
	/* waiting for UP: callbacks */
	struct zt_waiter *waiters;
};

struct zt_waiter {
	struct zt_waiter *next;
	void (*cb)(void *arg, struct zt_chan *ch, int err, const char *msg);
	void *arg;
};

void zt_chan_want(struct zt_chan *ch, void (*cb)(void *, struct zt_chan *, int, const char *), void *arg);
void zt_chan_unwant(struct zt_chan *ch, void *arg);
struct zt_chan *zt_chan_get(struct zt_ctx *ctx, const char *url, const char *name);
void zt_chan_free_all(struct zt_ctx *ctx);
void zt_chan_close(struct zt_chan *ch, const char *why); /* drop connection, fail conns */
/*
 * After a re-authentication: channels whose hello carried an older API session token are
 * dropped (legacy: that session is gone), or with OIDC retired while they carry circuits.
 */
void zt_chan_auth_changed(struct zt_ctx *ctx);
/* a retired channel's last conn/listener left it (zt_chan_map_del): close it soon */
void zt_chan_retired_check(struct zt_chan *ch);
/* OIDC: the access token was refreshed: send it to every connected router (UpdateToken). */
void zt_chan_token_refreshed(struct zt_ctx *ctx);
/* A router refused work for a token it holds that is no longer good: retire or reconnect @ch. */
void zt_chan_token_stale(struct zt_chan *ch, const char *why);
int32_t zt_chan_next_seq(struct zt_chan *ch);
void zt_chan_flush(struct zt_chan *ch);
/* pending replies (zt_dispatch.c) */
int zt_chan_expect_reply(struct zt_chan *ch, int32_t seq, zt_reply_cb cb, void *arg);
void zt_chan_cancel_replies(struct zt_chan *ch, void *arg);
void zt_chan_drop_reply(struct zt_chan *ch, int32_t seq);
/* conn id table (tag: 0 conn, 1 listener) */
int zt_chan_map_add(struct zt_chan *ch, uint32_t id, void *obj, int tag);
void *zt_chan_map_get(struct zt_chan *ch, uint32_t id, int *tag);
void zt_chan_map_del(struct zt_chan *ch, uint32_t id);
/* the dispatcher; exported for unit tests (no I/O: replies go to ch->out) */
void zt_chan_dispatch(struct zt_chan *ch, const struct zt_msg *m);
/* dispatch the complete messages in ch->in (no I/O but the flush); -1: the channel is gone */
int zt_chan_input(struct zt_chan *ch);
bool zt_chan_congested(const struct zt_chan *ch); /* stream data must wait (out + bulk >= HWM) */

/* output scheduling (zt_sched.c): datagrams before stream data, datagrams bounded in age */
int zt_chan_dgram_queue(struct zt_chan *ch, struct zt_conn *c, const void *p, size_t n);
void zt_chan_dgram_flush_conn(struct zt_chan *ch, struct zt_conn *c); /* encode @c's into out now */
void zt_chan_dgram_forget(struct zt_chan *ch, struct zt_conn *c);     /* drop @c's */
void zt_chan_refill(struct zt_chan *ch); /* when out is short: datagrams, then stream data */
void zt_chan_write_blocked(struct zt_chan *ch); /* the socket took no more (EAGAIN) */
void zt_chan_write_resumed(struct zt_chan *ch); /* writing again */
void zt_chan_sched_free(struct zt_chan *ch);
void zt_chan_sock_tune(int fd); /* a short kernel send queue (TCP_NOTSENT_LOWAT) */
void zt_chan_mark_timer_cb(void *arg);
void zt_chan_held_end(struct zt_chan *ch);
/* channel health (zt_health.c): the latency timer's tick, the smoothed round trip */
void zt_chan_latency_tick(void *arg);
void zt_chan_probe_answered(struct zt_chan *ch, int32_t seq); /* a Latency probe's answer */
void zt_chan_rtt_sample(struct zt_chan *ch, uint64_t ms);
void zt_chan_send_hello(struct zt_chan *ch); /* zt_chan.c: TLS is up */
/* a Data message carrying @p for @c (encrypted when the conn is) into the conn's queue */
int zt_conn_encode_data(struct zt_conn *c, const uint8_t *p, size_t n);

#define ZT_CHAN_TICK_MS 100u
#define ZT_CHAN_HWM (4u << 20)
#define ZT_CHAN_LWM (1u << 20)
#define ZT_CHAN_OUT_LOW (16u << 10)    /* out is refilled when shorter than this ... */
#define ZT_CHAN_OUT_TARGET (64u << 10) /* ... with stream data up to this */
#define ZT_DGQ_MAX_BYTES (256u << 10)  /* datagrams queued per channel (oldest dropped past it) */
#define ZT_DGRAM_MAX_AGE_MS 100        /* default latency bound of a queued datagram */
#define ZT_CHAN_NOTSENT (64u << 10)    /* unsent bytes the kernel may hold for a channel */
#define ZT_CHAN_UNREAD (512u << 10)    /* stream bytes written that the router may not have read */
#define ZT_CHAN_MARK_EVERY (64u << 10) /* a read-position probe after this many stream bytes, */
                                       /* once the one before was answered (zt_sched.c) */
#define ZT_CHAN_MARK_RETRY_MS 20       /* held back this long without an answer: probe again */
#define ZT_CHAN_COALESCE (64u << 10)    /* bytes a loop iteration may gather before writing */
#define ZT_CHAN_READ_BATCH (256u << 10) /* bytes read from a router per loop iteration */

/* ---- services / sessions ---- */
struct zt_er {
	char *name;
	char *url; /* tls://host:port */
};

struct zt_session {
	char *id;
	char *token;
	char *service_id;
	int type; /* ZT_PERM_DIAL or ZT_PERM_BIND */
	struct zt_er *ers;
	size_t ners;
	int refs;
};

struct zt_svc {
	struct zt_service pub;
	struct zt_session *dial_session;
	char *fingerprint; /* serialized JSON of the service, to detect changes */
	bool seen;
};

typedef void (*zt_session_cb)(void *arg, struct zt_session *s, int err, const char *msg);
struct zt_sess_req;
struct zt_sess_req *zt_session_create(struct zt_ctx *ctx, const char *service_id, int type,
				      zt_session_cb cb, void *arg);
void zt_sess_req_cancel(struct zt_sess_req *r);
void zt_session_put(struct zt_session *s);
struct zt_svc *zt_svc_find(struct zt_ctx *ctx, const char *name);

/* ---- context ---- */
enum zt_auth_state { ZT_AUTH_NONE, ZT_AUTH_PENDING, ZT_AUTH_OK };

/* zt_posture.c's state in a context */
#define ZT_POSTURE_NOTED_MAX 32
#define ZT_POSTURE_PATH_MAX 256 /* a PROCESS check's executable path */
struct zt_posture {
	struct zt_http *req;   /* the POST in flight */
	char *pending, *sent;  /* "API-session-id responses-JSON": in flight, last accepted */
	uint64_t posted_ms;    /* when the last POST went out (0: never) */
	bool ctrl_lost;        /* a controller request failed since the last one answered */
	unsigned resends;      /* sent again since a session was last created: doubles the wait */
	/* the still-failing checks logged ("service/type") for the answers noted_for */
	char *noted[ZT_POSTURE_NOTED_MAX];
	size_t n_noted;
	char *noted_for;
	unsigned failures;
	struct zt_timer retry;
	/* PROCESS checks: their paths (last listing), the facts answered, the re-check */
	char (*proc_paths)[ZT_POSTURE_PATH_MAX];
	size_t n_proc_paths;
	char *proc_digest;
	bool hidden_logged;
	bool awaiting_hash;   /* a listing or the re-check waits for the hasher: it lists when done */
	struct zt_timer proc_timer;
	struct zt_posture_hash *hashes; /* ZT_POSTURE_HASH_CACHE */
	struct zt_hasher *hasher;
};

struct zt_auth_waiter {
	struct zt_auth_waiter *next;
	void (*cb)(void *arg, int err, const char *msg);
	void *arg;
};

struct zt_ctx {
	/* datagram dials' answer times (zt_conn.c dial_rtt_sample): RFC 6298's estimator, 0: none yet */
	uint32_t dial_srtt_ms, dial_rttvar_ms;
	/*
	 * zt_conn.c on_data_msg: end-to-end decryption's output, reused for every message (none
	 * allocated per datagram); grown to the largest plaintext seen, 64 KiB at most (a larger
	 * message gets its own). busy while a delivery uses it: a nested delivery allocates its own.
	 */
	uint8_t *plain;
	size_t plain_cap;
	bool plain_busy;
	struct zt_loop *loop;
	struct zt_resolver *res; /* controller and router names */
	struct zt_curl *curl;    /* controller HTTPS (zt_curl.c) */
	struct zt_ctrls ctrls;   /* the controllers, the current one (zt_ctrls.c) */
	bool ha;                 /* /version lists HA_CONTROLLER: learn the members */
	bool version_known; /* /version answered: the authentication method is decided */
	struct zt_http *ctrls_req;
	bool ctrls_incomplete;   /* the latest /controllers reply had a member without an address */
	bool apis_save_warned;   /* a failed write of ztAPIs was logged (once, until one succeeds) */
	/*
	 * OIDC (the controller advertises OIDC_AUTH and an edge-oidc API, and o.auth allows it):
	 * api_token is the access token (a JWT), sent as "Authorization: Bearer" and in the
	 * routers' hello; refreshed before it expires and pushed to the routers in place.
	 */
	char *oidc_path;         /* the edge-oidc API's path, NULL: legacy authentication */
	bool bearer;             /* api_token is an OIDC access token */
	struct zt_oidc *oidc;    /* zt_oidc.c */
	uint64_t token_refreshes; /* OIDC access tokens refreshed */
	bool refreshing;         /* OIDC: requests wait (auth PENDING) for a refresh, not a login */
	uint64_t api_requests;   /* controller requests completed (with a response or not) */
	struct zt_identity *id;
	struct zt_opts o;
	struct zt_ctx_cbs cbs;
	void *user;
	bool started, ready_reported;
	uint64_t start_ms;
	enum zt_auth_state auth;
	char *api_token;
	char *api_session_id;
	char *identity_name; /* the controller's name for this identity (authentication reply) */
	char *edge_path; /* client API base path */
	uint64_t api_expires_ms; /* monotonic estimate */
	unsigned auth_failures;
	unsigned auth_gen; /* counts successful authentications (a new API session token each) */
	struct zt_auth_waiter *auth_waiters;
	struct zt_http *auth_req, *poll_req, *refresh_req, *list_req, *version_req;
	uint64_t refresh_issued_ms; /* zt_now_ms() when refresh_req was issued */
	struct zt_timer poll_timer, refresh_timer, auth_retry_timer;
	/*
	 * lastChangeAt: last_change is committed only by a listing that completed after the
	 * poll saw it (list_stamp, taken when that listing started); seen_change is the
	 * poll's latest. A failed listing leaves last_change alone, so the change is listed
	 * again (list_retry_timer, backoff) until one listing succeeds.
	 */
	char *last_change, *seen_change, *list_stamp;
	unsigned list_failures;
	struct zt_timer list_retry_timer;
	/* GET /current-identity, read at the start of every listing: tags and appData */
	struct json_object *cur_identity; /* its "data" */
	struct zt_http *ident_req;
	bool ident_done; /* read for the listing in progress */
	struct zt_svc **svcs;
	size_t nsvcs;
	/* list in progress */
	struct json_object *list_acc;
	unsigned list_offset;
	bool list_again;
	struct zt_chan *chans;
	struct zt_conn *conns;        /* all conns (for teardown) */
	struct zt_listener *listeners;
	uint32_t next_conn_id;
	struct zt_sess_req *sess_reqs;
	struct zt_dsf *dsfs; /* coalesced Dial-session fetches */
	struct zt_renew *renew; /* certificate renewal (zt_renew.c) */
	struct zt_posture posture; /* posture responses (zt_posture.c) */
	uint64_t dgram_dropped; /* datagrams dropped past the latency or size bound (zt_sched.c) */
};

/* zt_posture.c: answers to the services' OS, MAC and PROCESS posture checks */
#define ZT_POSTURE_MAX_MACS 32
#define ZT_POSTURE_MAX_PROCS 16
struct zt_posture_proc {
	char path[ZT_POSTURE_PATH_MAX]; /* as the check names it */
	bool running;                   /* a process of that executable is visible in /proc */
	char hash[129];                 /* SHA-512 of the file, lower-case hex; "": unreadable */
};
struct zt_posture_facts {
	char os_type[16], os_version[24], os_build[128];
	char macs[ZT_POSTURE_MAX_MACS][18];
	size_t n_macs;
	struct zt_posture_proc procs[ZT_POSTURE_MAX_PROCS];
	size_t n_procs;
	unsigned procs_hidden; /* processes whose executable could not be read (another user's) */
	bool hash_pending;     /* a hash is being computed off the loop: not an answer yet */
};
int zt_posture_facts_read(struct zt_posture_facts *f);
/*
 * I/O-free: the distinct executable paths of the listing's PROCESS and PROCESS_MULTI queries
 * for Linux (osType "Linux" or none), at most @max; returns how many.
 */
size_t zt_posture_proc_paths(struct json_object *services, char (*paths)[ZT_POSTURE_PATH_MAX], size_t max);
/* the SHA-512s already computed (zt_posture_proc.c): a file is hashed again only when it changed */
#define ZT_POSTURE_HASH_CACHE 16
struct zt_posture_hash {
	char path[PATH_MAX];
	unsigned long long dev, ino, size;
	long long mtime_ns;
	char hash[129];
	bool pending; /* given to the hasher thread */
};
/*
 * SHA-512s computed off the event loop (zt_posture_proc.c): one thread, one file at a time,
 * the results put in @cache on the loop; @done runs on the loop when none is pending any more.
 * The thread starts at the first file, with every signal blocked.
 */
struct zt_hasher;
struct zt_hasher *zt_hasher_new(struct zt_loop *loop, struct zt_posture_hash *cache, void (*done)(void *arg),
				void *arg);
void zt_hasher_free(struct zt_hasher *h);
/*
 * Fill f->procs for @paths (zt_posture_proc.c): one pass over /proc, an executable matching
 * when /proc/PID/exe names the path (symbolic links in the path resolved), the file's SHA-512
 * from @cache or computed (files over 256 MiB: not hashed): by @hasher when given
 * (f->hash_pending until it is done), else here. Returns 0 or -errno (no /proc).
 */
int zt_posture_procs_read(struct zt_posture_facts *f, const char (*paths)[ZT_POSTURE_PATH_MAX], size_t n,
			  struct zt_posture_hash *cache, struct zt_hasher *hasher);
/* "6.1.0-57-amd64" -> "6.1.0" (three numbers, missing ones 0) */
void zt_posture_os_version(const char *release, char *out, size_t len);
/*
 * I/O-free: the posture-response-bulk array answering the OS and MAC queries of @services
 * (the listing's array), one per query id; the query types it cannot answer go to
 * @unsupported (comma-separated, each once). NULL: out of memory.
 */
struct json_object *zt_posture_build(struct json_object *services, const struct zt_posture_facts *f,
				     char *unsupported, size_t ulen);
/* after a listing: true when responses went out (the services are listed again on their reply) */
bool zt_posture_after_list(struct zt_ctx *ctx, struct json_object *services);
void zt_posture_note_failing(struct zt_ctx *ctx, const char *service, const char *type);
/*
 * The controller may have lost the answers (a session refused 409 INVALID_POSTURE, or the
 * controller answering again after failed requests: restarted, or another HA member): send
 * them again, once the minimum interval since the last POST has passed.
 */
void zt_posture_resend(struct zt_ctx *ctx, const char *why);
/* a session was created: the answers are in place (a later need to resend waits the minimum only) */
void zt_posture_session_ok(struct zt_ctx *ctx);
void zt_posture_init(struct zt_ctx *ctx);
void zt_posture_free(struct zt_ctx *ctx);

/* one in-flight Dial session request per service, shared by every dial waiting for it */
struct zt_dsf {
	struct zt_dsf *next;
	struct zt_ctx *ctx;
	char *service_id;
	struct zt_sess_req *sreq;
	struct zt_conn **w;
	size_t n, cap;
	bool prepared;     /* started by zt_dial_prepare, before any dial */
	uint64_t start_ms;
};

void zt_log(struct zt_ctx *ctx, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Ensure an authenticated API session, then call cb (immediately if already OK). */
void zt_ctx_need_auth(struct zt_ctx *ctx, void (*cb)(void *, int, const char *), void *arg);
void zt_ctx_cancel_auth_wait(struct zt_ctx *ctx, void *arg);
/* forget the session (will re-authenticate) */
void zt_ctx_auth_invalid(struct zt_ctx *ctx);
/*
 * A request was answered 401: OIDC with a refresh token in hand refreshes the access token
 * first (requests wait for it: it may have expired while refreshes went unanswered, or been
 * revoked); otherwise as zt_ctx_auth_invalid.
 */
void zt_ctx_token_refused(struct zt_ctx *ctx);
void zt_ctx_services_changed_hint(struct zt_ctx *ctx);
void zt_ctx_check_session(struct zt_ctx *ctx); /* refresh the API session now */
/* the authentication request's body (sdkInfo, envInfo, configTypes) */
void zt_ctx_auth_body(struct zt_ctx *ctx, char *buf, size_t len);
/*
 * zt_oidc.c's outcome: token (with its lifetime in seconds), or a failure described by r
 * (an HTTP error reply, a transport error) or why (r NULL: not issued, or a bad reply).
 */
void zt_ctx_oidc_result(struct zt_ctx *ctx, const struct zt_http_resp *r, const char *why, const char *what,
			const char *token, int64_t expires_s, bool refresh);
/* zt_oidc.c */
struct zt_oidc;
void zt_oidc_start(struct zt_ctx *ctx);   /* the whole flow; result through zt_ctx_oidc_result */
bool zt_oidc_refresh(struct zt_ctx *ctx); /* false: no refresh token (start again) */
bool zt_oidc_can_refresh(const struct zt_ctx *ctx); /* a refresh token in hand */
bool zt_oidc_refreshing(const struct zt_ctx *ctx);  /* a refresh in flight */
void zt_oidc_token_refused(struct zt_ctx *ctx);     /* the access token was refused (HTTP 401) */
/*
 * A refresh failed with r (NULL: not issued, or no token in the reply): true to send it again
 * after *delay_ms (the session kept), false to log in again (why: the reason).
 */
bool zt_oidc_refresh_again(struct zt_ctx *ctx, const struct zt_http_resp *r, unsigned *delay_ms, char *why,
			   size_t len);
void zt_oidc_forget(struct zt_ctx *ctx);  /* drop the tokens (the access token was refused) */
void zt_oidc_free(struct zt_ctx *ctx);
void zt_ctx_ready(struct zt_ctx *ctx, int err, const char *msg); /* on_ready, once */
struct json_object *zt_jget(struct json_object *o, const char *key);
const char *zt_jstr(struct json_object *o, const char *key);
/* "what: HTTP status code: message" or "what: transport error" */
void zt_resp_error(const struct zt_http_resp *r, char *buf, size_t len, const char *what);
/* whether an error reply's envelope carries the error code @code (e.g. INVALID_POSTURE) */
bool zt_resp_code_is(const struct zt_http_resp *r, const char *code);
/* zt_services.c */
void zt_services_list(struct zt_ctx *ctx);
void zt_services_poll_timer_cb(void *arg);
void zt_services_init(struct zt_ctx *ctx);
void zt_services_free(struct zt_ctx *ctx);
/* retry delay after n consecutive failures: 250 ms doubling, capped at o.backoff_max_ms */
static inline unsigned zt_ctx_backoff_ms(const struct zt_ctx *ctx, unsigned n)
{
	unsigned d = 250u << (n < 5 ? n : 5);

	return d < ctx->o.backoff_max_ms ? d : ctx->o.backoff_max_ms;
}
void zt_svc_free(struct zt_svc *s);

/* ---- conns & listeners ---- */
enum zt_conn_state { ZT_C_NEW, ZT_C_SESSION, ZT_C_CHAN, ZT_C_CONNECTING, ZT_C_UP, ZT_C_DEAD };

struct zt_conn {
	struct zt_ctx *ctx;
	struct zt_conn *next, *prev; /* ctx->conns */
	struct zt_chan *ch;
	uint32_t id;
	enum zt_conn_state state;
	struct zt_conn_cbs cbs;
	void *user;
	char *service;
	char *terminator_identity, *caller_id;
	uint8_t *app_data;
	size_t app_data_len;
	char *attempt_key;    /* zt_dial_opts.attempt_key (NULL: app_data sent as given) */
	/* the router of an attempt left unanswered: the next prefers another (compared, never dereferenced) */
	const struct zt_chan *avoid_ch;
	uint64_t dial_nonce;  /* this dial's random id, for attempt_key */
	unsigned attempt_no;  /* Connects sent, for attempt_key */
	bool datagram, encrypted, host_side;
	bool lossy; /* datagrams through the channel's datagram queue (zt_sched.c) */
	bool fin_sent, fin_recv, closed_by_app;
	bool want_writable;
	unsigned attempts;
	int32_t connect_seq;
	struct zt_timer timer;
	struct zt_dsf *dsf;
	struct zt_session *session;
	struct zt_rsel *rsel; /* choosing a router (zt_router.c) */
	/* the dial's timing, for its log line: started, and its Dial session in hand */
	uint64_t dial_start_ms, session_ms;
	bool session_fetched; /* the dial waited for its Dial session */
	/*
	 * A first datagram dial's Connect left unanswered is given up and sent again until
	 * dial_deadline_ms (zt_conn.c, ZT_DIAL_ATTEMPT_MS); dial_unanswered counts those attempts.
	 */
	uint64_t dial_deadline_ms, connect_ms; /* connect_ms: the attempt's Connect sent */
	unsigned dial_unanswered;
	/*
	 * A datagram dial whose router or circuit went away is dialed again (through a router
	 * that is up) until redial_deadline_ms, unseen by the application: what it writes
	 * meanwhile is dropped (redial_dropped), as the network would.
	 */
	bool redialing;
	uint64_t redial_deadline_ms, last_rx_ms, redial_dropped;
	unsigned redials;
	unsigned redial_unanswered; /* attempts of this re-dial given up without an answer */
	/* e2e */
	uint8_t pk[crypto_kx_PUBLICKEYBYTES], sk[crypto_kx_SECRETKEYBYTES];
	uint8_t rx_key[crypto_kx_SESSIONKEYBYTES], tx_key[crypto_kx_SESSIONKEYBYTES];
	crypto_secretstream_xchacha20poly1305_state tx, rx;
	bool rx_ready;
	uint64_t bytes_in, bytes_out;
};

#define ZT_LSN_MAX 8 /* terminators per listener at most */

enum zt_lsn_state { ZT_L_SESSION, ZT_L_CHAN, ZT_L_BINDING, ZT_L_BOUND, ZT_L_BACKOFF };

struct zt_listener {
	struct zt_ctx *ctx;
	struct zt_listener *next, *prev;
	char *service;
	char *service_id;
	struct zt_listen_opts o;
	char *terminator_identity, *terminator_secret;
	struct zt_listener_cbs cbs;
	void *user;
	enum zt_lsn_state state;
	struct zt_session *session;
	struct zt_sess_req *sreq;
	struct zt_chan *ch;
	uint32_t id;
	bool encrypted, established;
	bool term_up;                  /* BindSuccess for the current binding */
	uint64_t bind_seq;             /* the process-wide number of its last BindSuccess (never reused) */
	uint8_t sent_prec;             /* the precedence the router has (Bind or UpdateBind) */
	unsigned failures;
	struct zt_timer timer;
	uint8_t pk[crypto_kx_PUBLICKEYBYTES], sk[crypto_kx_SECRETKEYBYTES];
	struct zt_dial_req *held;      /* dials being answered later (zt_dial_req_hold) */
	struct zt_rsel *rsel;          /* choosing a router (zt_router.c) */
	/*
	 * One terminator per edge router, on up to max_connections routers: the listener the
	 * application holds binds on one, its siblings (primary set, not on the application's
	 * side) each on another router than the rest of the group.
	 */
	struct zt_listener *primary;
	struct zt_listener *sibs[ZT_LSN_MAX - 1];
	unsigned nsibs;
};

/*
 * A Dial forwarded to a listener. On the stack during on_dial; zt_dial_req_hold() copies it to
 * the heap (m becomes NULL), linked on the listener until answered. lsn_detach() makes held
 * requests stale (l and ch NULL): the binding they belong to is gone.
 */
struct zt_dial_req {
	struct zt_listener *l;
	struct zt_chan *ch;
	const struct zt_msg *m;
	struct zt_dial_req *hnext, *hprev;
	uint32_t new_id, bind_id;
	int32_t seq;
	bool answered, held, has_pk;
	uint8_t pk[crypto_kx_PUBLICKEYBYTES];
};

/* shared by dialing (zt_conn.c) and hosting (zt_host.c) */
uint32_t zt_conn_next_id(struct zt_ctx *ctx);
struct zt_conn *zt_conn_new(struct zt_ctx *ctx, const struct zt_conn_cbs *cbs, void *user);
int zt_conn_send_crypto_header(struct zt_conn *c);
void zt_conn_timer_cb(void *arg);

/* ---- edge router selection (zt_router.c) ---- */
/*
 * Calls cb once with a channel that is UP (err 0), or with an error: at once when a channel
 * of the session is up or none is usable (returns NULL), else when the first of the routers
 * connected to in parallel is up or all failed (returns a handle for zt_router_cancel, which
 * the callback must forget). Channels in avoid are not used.
 */
typedef void (*zt_router_cb)(void *arg, struct zt_chan *ch, int err, const char *msg);
struct zt_rsel;
/* another router of @s than @ch is up and not fallen silent (a retry may go there instead) */
bool zt_router_other_up(struct zt_ctx *ctx, struct zt_session *s, const struct zt_chan *ch);
struct zt_rsel *zt_router_want(struct zt_ctx *ctx, struct zt_session *s, struct zt_chan *const *avoid,
			       size_t navoid, zt_router_cb cb, void *arg);
void zt_router_cancel(struct zt_rsel *rs);

/* called by the channel dispatcher */
void zt_conn_on_msg(struct zt_conn *c, const struct zt_msg *m);
void zt_conn_chan_lost(struct zt_conn *c, const char *why);
bool zt_conn_move(struct zt_conn *c, const char *why); /* a live datagram dial: dial again elsewhere */
/* a message for @c was refused (too large): StateClosed to the router, @why to the app */
void zt_conn_refuse(struct zt_conn *c, const char *why);
void zt_conn_writable(struct zt_conn *c);
void zt_listener_on_msg(struct zt_listener *l, struct zt_chan *ch, const struct zt_msg *m);
void zt_listener_chan_lost(struct zt_listener *l, const char *why);
void zt_listener_kick(struct zt_ctx *ctx); /* services changed: rebind waiting listeners soon */
void zt_listener_auth_changed(struct zt_ctx *ctx); /* new API session: rebind unbound listeners now */
void zt_send_dial_failed(struct zt_chan *ch, const struct zt_msg *dial, const char *reason);
void zt_send_state_closed(struct zt_chan *ch, uint32_t conn_id, const char *why);

/*
 * zt_edgeerr.c: a router's refusal (StateClosed of a Connect or a Bind) by its error code
 * (header 1014, else the StructuredError's code), by its text when it sends none.
 */
enum { /* the edge protocol's error codes (sdk-golang ziti/edge ErrorCode*) */
	ZT_EC_INTERNAL = 1,
	ZT_EC_INVALID_API_SESSION = 2,
	ZT_EC_INVALID_SESSION = 3,
	ZT_EC_WRONG_SESSION_TYPE = 4,
	ZT_EC_INVALID_EDGE_ROUTER_FOR_SESSION = 5,
	ZT_EC_INVALID_SERVICE = 6,
	ZT_EC_TUNNELING_NOT_ENABLED = 7,
	ZT_EC_INVALID_TERMINATOR = 8,
	ZT_EC_INVALID_PRECEDENCE = 9,
	ZT_EC_INVALID_COST = 10,
	ZT_EC_ENCRYPTION_DATA_MISSING = 11,
};
enum zt_edge_act {
	ZT_EDGE_UNKNOWN,         /* no code, a text that says nothing we act on */
	ZT_EDGE_OTHER,           /* a code that no new session mends (Internal, InvalidCost, ...) */
	ZT_EDGE_NEW_SESSION,     /* the Dial/Bind session: a new one */
	ZT_EDGE_NEW_API_SESSION, /* the API session: refresh it (OIDC: a new token to the routers), new session */
	ZT_EDGE_SERVICE_GONE,    /* InvalidService: deleted or re-created */
	ZT_EDGE_STALE_TOKEN,     /* the router's copy of our API session token is no longer good: a new channel */
};
struct zt_edge_err {
	bool has_code;
	uint32_t code;
	char desc[64]; /* "error code 3 InvalidSession" or "no error code", for the logs */
};
enum zt_edge_act zt_edge_err(const struct zt_msg *m, const char *why, struct zt_edge_err *e);
const char *zt_edge_err_name(uint32_t code);
void zt_send_dial_failed_to(struct zt_chan *ch, uint32_t bind_id, int32_t dial_seq, const char *reason);

#endif
