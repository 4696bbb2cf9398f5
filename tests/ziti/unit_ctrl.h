// SPDX-License-Identifier: GPL-2.0
/*
 * The scripted controller of zt-unit (tests/ziti/unit_ctrl.c) and the harness around a context
 * that runs against it, shared with the tests in other files (unit_apis.c).
 */
#ifndef UNIT_CTRL_H
#define UNIT_CTRL_H

#include <stdbool.h>
#include <stdint.h>

#include "daemon/ziti/zt_internal.h"

void check(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

enum fault { F_NONE, F_503, F_RESET, F_TIMEOUT, F_NOISSUE };

/* what the scripted controller answers, and what it saw */
struct fake_ctrl {
	const char *stamp;    /* lastChangeAt */
	const char *services; /* the service list, a JSON array */
	int exp_s;            /* API session expirationSeconds */
	struct { const char *match; enum fault f; int count; } rule[4];
	struct zt_http *reqs;
	unsigned n_refresh, n_list, n_poll;
	/* certificate extension: the authenticator's current and pending certificates */
	bool renew;                 /* authenticate says extendable, extension requested */
	char *cur_fp, *new_cert, *new_ca, *pending_fp, *new_fp;
	bool verify_reply_lost;     /* the next extend-verify is applied, its reply lost */
	bool req_at_refresh;        /* authenticate never says requested; refreshes do */
	unsigned n_extend, n_verify;
	/* /version: its capabilities member ("" none); requests seen for each way of authenticating */
	const char *version_caps;
	unsigned n_legacy_auth, n_oidc_discovery;
	char auth_host[64], poll_host[64]; /* where the latest authenticate / poll went */
	int auth_mode; /* of the next ctx_up */
	/* GET /controllers: its data array; the identity file of the next ctx_up (save_ctrls) */
	const char *ctrls;
	unsigned n_ctrls;
	const char *id_path;
	/* posture-response-bulk: requests seen, the last body; services_after replaces services */
	unsigned n_posture;
	char posture_body[1024];
	const char *services_after;
	/* POST /sessions: the next sess_409 are refused 409 INVALID_POSTURE; sessions created */
	int sess_409;
	unsigned n_sess;
	/*
	 * OIDC (unit_oidc.c): the edge-oidc API's login and token grants. leader: the member
	 * (host) that can refresh ("" none: every refresh answers 400 server_error, as v1.6.5
	 * does without a raft leader); NULL: every member can. refresh_invalid: the next refresh
	 * is refused as invalid_grant, refresh_spent: as spent (server_error: "an entity of type
	 * revocation already exists"). Requests past the access token's expiry, and the next
	 * poll_401 polls, are answered 401.
	 */
	bool oidc;
	const char *leader;
	int refresh_invalid, refresh_spent, poll_401;
	unsigned n_login, n_refresh_grant, n_refresh_ok, n_401;
	uint64_t login_ms[8];       /* when each login's token was issued */
	uint64_t token_until_ms;    /* the latest access token's expiry */
	char refresh_host[16][32];  /* the member of each refresh grant (the first 16) */
	/* logins: authorize requests; the member holding the auth request; each step's member */
	unsigned n_authorize;
	char authreq_host[32];
	char login_steps[512];
	bool move_at_authorize; /* the current member moves to the third as an authorize is answered */
	bool two_routers;       /* Dial sessions list er (127.0.0.1:1) and er2 (127.0.0.1:2) */
};
extern struct fake_ctrl fk;

#define SVC_A "{\"id\":\"idA\",\"name\":\"A\",\"permissions\":[\"Dial\"]}"
#define SVC_B "{\"id\":\"idB\",\"name\":\"B\",\"permissions\":[\"Dial\"]}"

/* the context under test and what its callbacks reported */
struct unit_harness {
	struct zt_loop *loop;
	struct zt_ctx *ctx;
	bool ready;
	int ready_err;
	bool b_added, a_removed;
	bool sess_done;
	int sess_err;
	char log[4096]; /* warnings and errors, one per line */
};
extern struct unit_harness h;

/* run the loop until *flag (NULL: for ms) or ms elapse; whether *flag is set */
bool run_until(const bool *flag, uint64_t ms);
/* a session request's callback: the outcome into h.sess_done / h.sess_err */
void unit_sess_cb(void *arg, struct zt_session *s, int err, const char *msg);
/* a context against the scripted controller serving service A (stamp s1), and its end */
void ctx_up(void);
void ctx_down(void);

void test_save_members(void); /* unit_apis.c */
/* unit_oidc.c: the fake controller's edge-oidc API; true when it answered @path */
bool unit_oidc_answer(struct zt_ctx *ctx, size_t ctrl, const char *path, const char *body, struct zt_http_resp *r,
		      char *out, size_t len);

#endif
