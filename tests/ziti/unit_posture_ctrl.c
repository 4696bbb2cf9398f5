// SPDX-License-Identifier: GPL-2.0
/*
 * Posture responses against the scripted controller (tests/ziti/unit_ctrl.c): answered again
 * when the controller has lost them (a 409 INVALID_POSTURE on a session request, or the
 * controller back after an outage: a restart, or another member of an HA cluster), never
 * more often than the minimum interval, and a check still failing after the answer logged
 * once per check.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tests/ziti/unit_ctrl.h"

#define FAILING(ok)                                                                                            \
	"[{\"id\":\"idQ\",\"name\":\"Q\",\"permissions\":[\"Dial\"],\"postureQueries\":["                      \
	"{\"policyId\":\"p1\",\"policyType\":\"Dial\",\"isPassing\":" ok ",\"postureQueries\":["              \
	"{\"id\":\"qos\",\"queryType\":\"OS\",\"isPassing\":" ok "},"                                          \
	"{\"id\":\"qmac\",\"queryType\":\"MAC\",\"isPassing\":" ok "}]}]}]"

/* a Dial session for Q: 0, or the error the request ended with */
static int dial_session(void)
{
	h.sess_done = false;
	h.sess_err = 0;
	if (!zt_session_create(h.ctx, "idQ", ZT_PERM_DIAL, unit_sess_cb, NULL))
		return -1;
	run_until(&h.sess_done, 3000);
	return h.sess_done ? h.sess_err : -2;
}

/* run until the controller saw more than @n posture posts, at most @ms; whether it did */
static bool posted_after(unsigned n, unsigned ms)
{
	for (unsigned t = 0; t < ms && fk.n_posture <= n; t += 20)
		run_until(NULL, 20);
	return fk.n_posture > n;
}

/* the controller forgot the answers (restarted): it lists the checks failing again */
static void forget(void)
{
	fk.services = FAILING("false");
	fk.services_after = FAILING("true");
}

/* a context whose service Q needs OS and MAC checks, posting at most every @min_ms; ready */
static void posture_up(unsigned min_ms, const char *stamp)
{
	fk.n_posture = 0;
	fk.sess_409 = 0;
	ctx_up();
	h.ctx->o.posture_min_ms = min_ms;
	fk.stamp = stamp;
	forget();
	run_until(&h.ready, 2000);
}

static void test_posture_409(void)
{
	posture_up(1000, "q1");
	unsigned at_ready = fk.n_posture;

	run_until(NULL, 1100); /* past the minimum interval since that answer */
	forget();
	fk.sess_409 = 1;
	int first = dial_session();
	bool again = posted_after(at_ready, 2000);
	int second = dial_session();

	check(h.ready && at_ready == 1 && first == -EACCES && again && second == 0,
	      "posture: a session refused 409 INVALID_POSTURE (the controller lost the answers) gets the answers "
	      "sent again (posts %u at ready, %u after the refusal) and the next Dial session is created (%s, then %s)",
	      at_ready, fk.n_posture, first ? zt_strerror(first) : "created", second ? zt_strerror(second) : "created");

	/* refused again at once: not answered again within the minimum interval, but after it */
	unsigned n = fk.n_posture;

	forget();
	fk.sess_409 = 1;
	first = dial_session();
	bool early = posted_after(n, 500);
	bool late = posted_after(n, 1500);

	check(first == -EACCES && !early && late && fk.n_posture == n + 1,
	      "posture: a second refusal right after an answer: answered again only after the minimum interval "
	      "(%s within 0.5 s, %u posts in 2 s)", early ? "posted" : "nothing", fk.n_posture - n);
	fk.services_after = NULL;
	ctx_down();
}

/* The controller unreachable a while (restarted, or failed over): answered again when back. */
static void test_posture_ctrl_back(void)
{
	posture_up(200, "r1");
	unsigned at_ready = fk.n_posture;

	run_until(NULL, 300);
	forget();
	fk.rule[0].match = "/service-updates";
	fk.rule[0].f = F_RESET;
	fk.rule[0].count = 2;
	bool again = posted_after(at_ready, 3000);

	check(h.ready && at_ready == 1 && fk.rule[0].count == 0 && again,
	      "posture: the controller back after an outage (2 polls reset) gets the answers again without a "
	      "refusal first (posts: %u at ready, %u after)", at_ready, fk.n_posture);
	fk.rule[0].count = 0;
	run_until(NULL, 500);
	unsigned n = fk.n_posture;

	run_until(NULL, 500);
	check(fk.n_posture == n, "posture: nothing posted again while the controller answers (%u more in 0.5 s)",
	      fk.n_posture - n);
	fk.services_after = NULL;
	ctx_down();
}

/* Two services whose answered checks still fail: each logged once, not at every listing. */
static void test_posture_two_failing(void)
{
	static const char *svcs =
		"[{\"id\":\"idS\",\"name\":\"S\",\"permissions\":[\"Dial\"],\"postureQueries\":["
		"{\"policyId\":\"p1\",\"policyType\":\"Dial\",\"isPassing\":false,\"postureQueries\":["
		"{\"id\":\"qos\",\"queryType\":\"OS\",\"isPassing\":false}]}]},"
		"{\"id\":\"idT\",\"name\":\"T\",\"permissions\":[\"Dial\"],\"postureQueries\":["
		"{\"policyId\":\"p2\",\"policyType\":\"Dial\",\"isPassing\":false,\"postureQueries\":["
		"{\"id\":\"qmac\",\"queryType\":\"MAC\",\"isPassing\":false}]}]}]";
	const char *s_msg = "service S: its OS posture check still fails";
	const char *t_msg = "service T: its MAC posture check still fails";
	int ns = 0, nt = 0;

	fk.n_posture = 0;
	fk.services_after = NULL;
	ctx_up();
	fk.stamp = "t1";
	fk.services = svcs;
	run_until(&h.ready, 2000);
	unsigned lists = fk.n_list;

	for (int i = 2; i < 6; i++) { /* four more listings */
		static char st[8];

		snprintf(st, sizeof(st), "t%d", i);
		fk.stamp = st;
		for (int k = 0; k < 40 && fk.n_list == lists; k++)
			run_until(NULL, 20);
		lists = fk.n_list;
	}
	for (const char *p = h.log; (p = strstr(p, s_msg)); p++)
		ns++;
	for (const char *p = h.log; (p = strstr(p, t_msg)); p++)
		nt++;
	check(h.ready && ns == 1 && nt == 1 && fk.n_posture == 1,
	      "posture: two services' checks still failing after the answer: each logged once over %u listings "
	      "(S %d, T %d times; %u posts)", fk.n_list, ns, nt, fk.n_posture);
	ctx_down();
}

/*
 * A check the answer really fails (the controller refuses every session with it): each refusal
 * sends the answers again, but twice as late each time, and the failing check is logged once.
 */
static void test_posture_really_failing(void)
{
	const char *msg = "service Q: its OS posture check still fails";
	int logged = 0, refused = 0;

	fk.n_posture = 0;
	fk.sess_409 = 0;
	ctx_up();
	h.ctx->o.posture_min_ms = 100;
	fk.stamp = "f1";
	fk.services = FAILING("false");
	fk.services_after = FAILING("false");
	run_until(&h.ready, 2000);
	unsigned n = fk.n_posture;

	fk.sess_409 = 1000;
	for (int i = 0; i < 12; i++) {
		refused += dial_session() == -EACCES;
		run_until(NULL, 250);
	}
	fk.sess_409 = 0;
	for (const char *p = h.log; (p = strstr(p, msg)); p++)
		logged++;
	check(refused == 12 && fk.n_posture - n >= 2 && fk.n_posture - n <= 6 && logged == 1,
	      "posture: a check the answer really fails: 12 refused sessions in 3 s sent the answers %u more times "
	      "(each wait twice the last, from 0.1 s), logged %d time(s)", fk.n_posture - n, logged);
	fk.services_after = NULL;
	ctx_down();
}

void test_posture_again(void)
{
	test_posture_really_failing();
	test_posture_409();
	test_posture_ctrl_back();
	test_posture_two_failing();
}
