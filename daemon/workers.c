// SPDX-License-Identifier: GPL-2.0
/*
 * sipovld worker processes (Documentation/design.md "Workers").
 *
 * The primary (worker 0) starts workers 1..n-1 by fork and exec of its own binary with
 * --worker W,CHAN,T4,U4,T6,U6,N: CHAN is the worker's end of a SOCK_SEQPACKET socketpair, T4..U6
 * its intercept sockets (opened and joined to the kernel group by the primary, which
 * keeps its copies so that the group member outlives a worker's death). Each worker sends a
 * report (one JSON document per datagram) every second; the primary keeps the last one.
 * Nothing here blocks a loop: the channel is non-blocking on both ends and a report that does
 * not fit is skipped; children are reaped with WNOHANG on SIGCHLD (only the stop waits, the
 * loops no longer running: the primary for its workers, a worker for the primary's WMSG_STOP).
 */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon/call_rtp.h"
#include "daemon/metrics.h"
#include "daemon/sip_view.h"
#include "daemon/workers.h"

#define REPORT_MS 1000
#define REPORT_MAX (192 * 1024)
#define REPORT_FLOWS_MAX 256
#define RESTART_MIN_MS 1000
#define RESTART_MAX_MS 30000
#define STABLE_MS 10000
#define WMSG_MAX (sizeof(struct wmsg_hdr) + 2 * sizeof(struct sockaddr_storage) + SIP_MSG_MAX)
#define CHAN_BUF (REPORT_MAX + 4096 > WMSG_MAX ? REPORT_MAX + 4096 : WMSG_MAX)

/* the counters a report carries, by name (status.c's names) */
static const struct {
	const char *name;
	size_t off;
} cnt[] = {
#define X(f) { #f, offsetof(struct counters, f) }
	X(tcp_intercepted), X(udp_intercepted), X(unmatched), X(dials_ok), X(dials_failed), X(dial_timeouts),
	X(hosted_tcp), X(hosted_udp), X(hosted_refused), X(hosted_connect_failed), X(hosted_src_refused),
	X(mem_limit_hits), X(udp_dropped), X(tcp_reset), X(bytes_to_ziti), X(bytes_from_ziti),
	X(udp_circuits_merged), X(hosted_udp_redialed), X(hosted_udp_late_attempts), X(hosted_udp_taken_over),
	X(worker_name_questions), X(worker_name_timeouts), X(packets_to_ziti), X(packets_from_ziti), X(tcp_expired),
#undef X
};
static const char *const flow_names[4] = { "intercept_tcp", "intercept_udp", "host_tcp", "host_udp" };

long workers_cpus(void)
{
	cpu_set_t set;

	/* the CPUs this process may run on (systemd's CPUAffinity=, taskset, a cpuset), as nproc */
	if (!sched_getaffinity(0, sizeof(set), &set) && CPU_COUNT(&set) > 0)
		return CPU_COUNT(&set);
	return sysconf(_SC_NPROCESSORS_ONLN);
}

unsigned workers_count(unsigned cfg, const char **why)
{
	unsigned n = daemon_cfg_workers(cfg, workers_cpus(), D.no_kernel, D.cfg.has_endpoint, why);

	return n > WORKERS_MAX ? WORKERS_MAX : n;
}

/* ------------------------------------------------------------------ primary */

struct worker {
	pid_t pid;                 /* 0: not running */
	int fd;                    /* the primary's end of the channel */
	struct zt_io io;
	struct zt_timer restart;
	unsigned restarts;
	uint64_t started_ms, last_report_ms, backoff_ms;
	struct json_object *report; /* the last one, or NULL */
};

static struct worker W[WORKERS_MAX];
static bool started; /* workers_start ran: W[] is initialised */
static char **saved_argv;
static int saved_argc;

void workers_set_argv(int argc, char **argv)
{
	saved_argc = argc;
	saved_argv = argv;
}

static void chan_close(struct worker *w)
{
	if (w->fd >= 0) {
		zt_io_del(D.loop, &w->io);
		close(w->fd);
		w->fd = -1;
	}
}

/* ------------------------------------------------------------------ SIP view messages */

uint64_t workers_msg_dropped; /* messages of the SIP view not sent: a channel full */
static int chan_fd = -1;

static void msg_send(int fd, const void *p, size_t n)
{
	if (fd < 0 || send(fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		workers_msg_dropped++;
}

/* to the primary (a worker), or to every worker but @except (the primary) */
static void msg_out(const void *p, size_t n, unsigned except)
{
	if (D.worker) {
		msg_send(chan_fd, p, n);
		return;
	}
	for (unsigned i = 1; i < D.n_workers; i++)
		if (i != except && W[i].pid > 0)
			msg_send(W[i].fd, p, n);
}

void workers_send_sip(const struct sockaddr_storage *src, const struct sockaddr_storage *dst, const char *p, size_t n)
{
	static char b[WMSG_MAX];
	struct wmsg_hdr h = { WMSG_SIP, (uint8_t)D.worker, 0, 0 };
	size_t o = sizeof(h);

	if (D.n_workers < 2 || n > SIP_MSG_MAX)
		return;
	memcpy(b, &h, sizeof(h));
	memcpy(b + o, src, sizeof(*src));
	o += sizeof(*src);
	memcpy(b + o, dst, sizeof(*dst));
	o += sizeof(*dst);
	memcpy(b + o, p, n);
	msg_out(b, o + n, 0);
}

void workers_send_fin(unsigned dest, const char *call_id, const struct call_rtp_final *fin)
{
	static char b[sizeof(struct wmsg_hdr) + CALL_ID_LEN + sizeof(struct call_rtp_final)];
	struct wmsg_hdr h = { WMSG_FIN, (uint8_t)D.worker, (uint8_t)dest, 0 };

	if (D.n_workers < 2 || dest >= D.n_workers)
		return;
	memset(b, 0, sizeof(b));
	memcpy(b, &h, sizeof(h));
	snprintf(b + sizeof(h), CALL_ID_LEN, "%s", call_id);
	memcpy(b + sizeof(h) + CALL_ID_LEN, fin, sizeof(*fin));
	if (D.worker)
		msg_send(chan_fd, b, sizeof(b));
	else if (W[dest].pid > 0)
		msg_send(W[dest].fd, b, sizeof(b));
}

bool workers_send_raw(const void *p, size_t n)
{
	uint64_t before = workers_msg_dropped;

	if (!D.worker)
		return false;
	msg_send(chan_fd, p, n);
	return workers_msg_dropped == before;
}

bool workers_send_to(unsigned w, const void *p, size_t n)
{
	uint64_t before = workers_msg_dropped;

	if (D.worker || !w || w >= D.n_workers || W[w].pid <= 0)
		return false;
	msg_send(W[w].fd, p, n);
	return workers_msg_dropped == before;
}

#define WMSG_PATH_MAX 4096 /* a WMSG_CERT's identity path, without its NUL */

/* primary to every worker: a message of @type whose body is @str (no NUL), shorter than @max */
static void msg_out_str(uint8_t type, const char *str, size_t max)
{
	char b[sizeof(struct wmsg_hdr) + WMSG_PATH_MAX];
	struct wmsg_hdr h = { type, 0, 0, 0 };
	size_t n = strlen(str);

	if (D.worker || D.n_workers < 2 || n >= max || n >= WMSG_PATH_MAX)
		return;
	memcpy(b, &h, sizeof(h));
	memcpy(b + sizeof(h), str, n);
	msg_out(b, sizeof(h) + n, 0);
}

void workers_send_cert(const char *path)
{
	msg_out_str(WMSG_CERT, path, WMSG_PATH_MAX);
}

void workers_send_prepare(const char *kname)
{
	msg_out_str(WMSG_PREPARE, kname, SIPOVL_NAME_MAXLEN);
}

/* A message from worker @from (the primary), or from the primary (a worker). */
static void wmsg_in(unsigned from, const char *b, size_t n)
{
	struct wmsg_hdr h;

	if (n < sizeof(h))
		return;
	memcpy(&h, b, sizeof(h));
	if (h.type == WMSG_SIP && n >= sizeof(h) + 2 * sizeof(struct sockaddr_storage)) {
		struct sockaddr_storage src, dst;
		size_t o = sizeof(h);

		if (!D.worker && h.origin != from) /* a worker speaks for itself */
			return;
		memcpy(&src, b + o, sizeof(src));
		o += sizeof(src);
		memcpy(&dst, b + o, sizeof(dst));
		o += sizeof(dst);
		sipv_remote_sip(h.origin, &src, &dst, b + o, n - o);
		if (!D.worker) /* the others see it too */
			msg_out(b, n, from);
	} else if (h.type == WMSG_FIN && n == sizeof(h) + CALL_ID_LEN + sizeof(struct call_rtp_final)) {
		char id[CALL_ID_LEN];
		struct call_rtp_final fin;

		memcpy(id, b + sizeof(h), CALL_ID_LEN);
		id[CALL_ID_LEN - 1] = 0;
		memcpy(&fin, b + sizeof(h) + CALL_ID_LEN, sizeof(fin));
		sipv_remote_fin(id, &fin);
		if (!D.worker && h.dest && h.dest != from && h.dest < D.n_workers && W[h.dest].pid > 0)
			msg_send(W[h.dest].fd, b, n);
	} else if (h.type == WMSG_CERT && D.worker && n > sizeof(h) && n - sizeof(h) < WMSG_PATH_MAX) {
		char path[WMSG_PATH_MAX];

		memcpy(path, b + sizeof(h), n - sizeof(h));
		path[n - sizeof(h)] = 0;
		idents_adopt_cert(path);
	} else if (h.type == WMSG_PREPARE && D.worker && !worker_stop_asked && n > sizeof(h) &&
		   n - sizeof(h) < SIPOVL_NAME_MAXLEN) {
		char kname[SIPOVL_NAME_MAXLEN];
		struct svc *s;

		memcpy(kname, b + sizeof(h), n - sizeof(h));
		kname[n - sizeof(h)] = 0;
		s = svc_by_kname(kname);
		if (s && svc_prepare_dial(s))
			logm(L_DEBUG, "service %s: fetching this worker's Dial session before its first dial (a name "
			     "of it was answered)", s->name);
	} else if (h.type == WMSG_NAME_Q || h.type == WMSG_NAME_A) {
		worker_names_in(from, b, n);
	} else if (h.type >= WMSG_PAIR_ADD && h.type <= WMSG_PAIR_DATA) {
		xpair_in(from, b, n);
	} else if (h.type == WMSG_STOP && D.worker) {
		worker_stop_asked = true;
	}
}

static void primary_chan_cb(void *arg, uint32_t ev)
{
	struct worker *w = arg;
	static char buf[CHAN_BUF + 1];

	for (;;) {
		ssize_t r = recv(w->fd, buf, CHAN_BUF, MSG_DONTWAIT);

		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (r <= 0) { /* the worker is gone (SIGCHLD says how) */
			chan_close(w);
			return;
		}
		if (buf[0] == WMSG_SIP || buf[0] == WMSG_FIN || buf[0] == WMSG_NAME_Q ||
		    (buf[0] >= WMSG_PAIR_ADD && buf[0] <= WMSG_PAIR_DATA)) {
			wmsg_in((unsigned)(w - W), buf, (size_t)r);
			continue;
		}
		buf[r] = 0;
		struct json_object *o = json_tokener_parse(buf);

		if (!o || !json_object_is_type(o, json_type_object)) {
			json_object_put(o);
			continue;
		}
		json_object_put(w->report);
		w->report = o;
		w->last_report_ms = zt_now_ms();
	}
	(void)ev;
}

bool workers_alive(unsigned w)
{
	return !D.worker && w && w < D.n_workers && W[w].pid > 0;
}

void workers_poll(void)
{
	for (unsigned i = 1; i < D.n_workers; i++)
		if (W[i].pid > 0 && W[i].fd >= 0)
			primary_chan_cb(&W[i], 0);
}

/* In the child, before exec: raise the two capabilities into the ambient set (non-root only). */
static void child_caps(void)
{
	static const cap_value_t keep[] = { CAP_NET_ADMIN, CAP_NET_BIND_SERVICE };
	cap_t c;

	if (!getuid() || !(c = cap_get_proc()))
		return;
	for (size_t i = 0; i < 2; i++) {
		cap_flag_value_t v = CAP_CLEAR;

		cap_get_flag(c, keep[i], CAP_PERMITTED, &v);
		if (v == CAP_SET)
			cap_set_flag(c, CAP_INHERITABLE, 1, &keep[i], CAP_SET);
	}
	if (!cap_set_proc(c))
		for (size_t i = 0; i < 2; i++)
			prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, keep[i], 0, 0);
	cap_free(c);
}

int flows_worker_fds(unsigned w, int fds[4]); /* flows_intercept.c */

static void worker_spawn(unsigned i)
{
	struct worker *w = &W[i];
	int sp[2], fds[4] = { -1, -1, -1, -1 }, big = 4 * CHAN_BUF;
	pid_t parent = getpid();

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sp)) {
		logm(L_ERR, "worker %u: socketpair: %s; retrying", i, strerror(errno));
		zt_timer_start(D.loop, &w->restart, RESTART_MAX_MS);
		return;
	}
	for (int k = 0; k < 2; k++) {
		setsockopt(sp[k], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
		setsockopt(sp[k], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	}
	flows_worker_fds(i, fds);
	pid_t pid = fork();

	if (pid < 0) {
		logm(L_ERR, "worker %u: fork: %s; retrying", i, strerror(errno));
		close(sp[0]);
		close(sp[1]);
		zt_timer_start(D.loop, &w->restart, RESTART_MAX_MS);
		return;
	}
	if (!pid) { /* the child: fds 3..7 are the channel and the four sockets, nothing else open */
		int src[5] = { sp[1], fds[0], fds[1], fds[2], fds[3] }, tmp[5];
		char arg[96], **av = calloc((size_t)saved_argc + 3, sizeof(*av));
		sigset_t none;

		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent || !av)
			_exit(1);
		for (int k = 0; k < 5; k++)
			tmp[k] = src[k] >= 0 ? fcntl(src[k], F_DUPFD_CLOEXEC, 64) : -1;
		for (int k = 0; k < 5; k++)
			if (tmp[k] >= 0 && dup2(tmp[k], 3 + k) < 0)
				_exit(1);
		snprintf(arg, sizeof(arg), "%u,3,%d,%d,%d,%d,%u", i, tmp[1] >= 0 ? 4 : -1, tmp[2] >= 0 ? 5 : -1,
			 tmp[3] >= 0 ? 6 : -1, tmp[4] >= 0 ? 7 : -1, D.n_workers);
		close_range(8, ~0U, 0);
		for (int k = 0; k < 5; k++) /* not passed: closed, so the numbers above stay unused */
			if (tmp[k] < 0)
				close(3 + k);
		child_caps();
		av[0] = saved_argv[0];
		av[1] = "--worker";
		av[2] = arg;
		for (int k = 1; k < saved_argc; k++)
			av[k + 2] = saved_argv[k];
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execv("/proc/self/exe", av);
		fprintf(stderr, "<3>sipovld worker %u: exec /proc/self/exe: %s\n", i, strerror(errno));
		_exit(127);
	}
	close(sp[1]);
	w->pid = pid;
	w->fd = sp[0];
	w->started_ms = zt_now_ms();
	w->last_report_ms = 0;
	json_object_put(w->report);
	w->report = NULL;
	zt_io_init(&w->io, w->fd, primary_chan_cb, w);
	zt_io_set(D.loop, &w->io, EPOLLIN);
	logm(L_NOTICE, "started worker %u (pid %d)", i, (int)pid);
}

static void restart_cb(void *arg)
{
	unsigned i = (unsigned)(uintptr_t)arg;

	if (!stopping && !W[i].pid)
		worker_spawn(i);
}

void workers_start(void)
{
	started = true;
	for (unsigned i = 0; i < WORKERS_MAX; i++) {
		W[i].fd = -1;
		zt_timer_init(&W[i].restart, restart_cb, (void *)(uintptr_t)i);
	}
	for (unsigned i = 1; i < D.n_workers; i++)
		worker_spawn(i);
}

static void worker_died(unsigned i, int status)
{
	struct worker *w = &W[i];
	uint64_t now = zt_now_ms(), up = now - w->started_ms;
	pid_t pid = w->pid;

	w->pid = 0;
	if (w->fd >= 0)
		primary_chan_cb(w, 0); /* what it sent before it ended */
	chan_close(w);
	xpair_worker_gone(i); /* flows_xpair.c: the hosted flows its flows had won */
	json_object_put(w->report);
	w->report = NULL;
	if (stopping)
		return;
	w->backoff_ms = up >= STABLE_MS || !w->backoff_ms ? RESTART_MIN_MS :
			w->backoff_ms * 2 > RESTART_MAX_MS ? RESTART_MAX_MS : w->backoff_ms * 2;
	w->restarts++;
	if (WIFSIGNALED(status))
		logm(L_ERR, "worker %u (pid %d) killed by signal %d after %llu s; its flows are lost; restarting in %llu ms",
		     i, (int)pid, WTERMSIG(status), (unsigned long long)(up / 1000), (unsigned long long)w->backoff_ms);
	else
		logm(L_ERR, "worker %u (pid %d) exited with status %d after %llu s; its flows are lost; restarting in %llu ms",
		     i, (int)pid, WEXITSTATUS(status), (unsigned long long)(up / 1000), (unsigned long long)w->backoff_ms);
	zt_timer_start(D.loop, &w->restart, w->backoff_ms);
}

void workers_on_sigchld(void)
{
	for (unsigned i = 1; i < D.n_workers; i++) {
		int st;

		if (W[i].pid > 0 && waitpid(W[i].pid, &st, WNOHANG) == W[i].pid)
			worker_died(i, st);
	}
}

void workers_reload(void)
{
	for (unsigned i = 1; i < D.n_workers; i++)
		if (W[i].pid > 0)
			kill(W[i].pid, SIGHUP);
}

void workers_stop(void)
{
	uint64_t t0 = zt_now_ms();
	bool any = false;

	if (!started) /* a start-up that failed before the workers */
		return;
	for (unsigned i = 1; i < D.n_workers; i++) {
		struct wmsg_hdr h = { WMSG_STOP, 0, (uint8_t)i, 0 };

		zt_timer_stop(D.loop, &W[i].restart);
		if (W[i].pid > 0) {
			/* before the signal: the worker reads it at its stop (a full channel: 200 ms for room) */
			struct pollfd pf = { W[i].fd, POLLOUT, 0 };

			if (W[i].fd >= 0 && poll(&pf, 1, 200) == 1 && (pf.revents & POLLOUT))
				msg_send(W[i].fd, &h, sizeof(h));
			else
				logm(L_WARN, "worker %u: could not tell it the stop; it writes its calls' CDRs itself", i);
			kill(W[i].pid, SIGTERM);
			any = true;
		}
	}
	/* stopping: waiting here blocks nothing that still runs */
	while (any) {
		struct timespec ts = { 0, 20 * 1000 * 1000 };

		any = false;
		for (unsigned i = 1; i < D.n_workers; i++) {
			int st;

			if (W[i].fd >= 0) /* their calls' final figures: the channel must not fill */
				primary_chan_cb(&W[i], 0);
			if (W[i].pid > 0 && waitpid(W[i].pid, &st, WNOHANG) == W[i].pid)
				W[i].pid = 0;
			if (W[i].pid > 0 && zt_now_ms() - t0 > 5000) {
				logm(L_WARN, "worker %u: no exit 5 s after SIGTERM: SIGKILL", i);
				kill(W[i].pid, SIGKILL);
				waitpid(W[i].pid, &st, 0);
				W[i].pid = 0;
			}
			any |= W[i].pid > 0;
		}
		if (any)
			nanosleep(&ts, NULL);
	}
	/* what they sent before they exited: their calls' final figures (sip_view.c on_end) */
	for (unsigned i = 1; i < D.n_workers; i++)
		if (W[i].fd >= 0)
			primary_chan_cb(&W[i], 0);
	for (unsigned i = 1; i < D.n_workers; i++) {
		chan_close(&W[i]);
		json_object_put(W[i].report);
		W[i].report = NULL;
	}
}

static int64_t jget(struct json_object *o, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) : 0;
}

void workers_sum(struct counters *c, unsigned n_flows[4], uint64_t *mem_used, int64_t *dgram_late)
{
	for (unsigned i = 1; i < D.n_workers; i++) {
		struct json_object *r = W[i].report, *jc, *jf;

		if (!r)
			continue;
		if (json_object_object_get_ex(r, "counters", &jc))
			for (size_t k = 0; k < sizeof(cnt) / sizeof(cnt[0]); k++)
				*(uint64_t *)((char *)c + cnt[k].off) += (uint64_t)jget(jc, cnt[k].name);
		if (json_object_object_get_ex(r, "flows", &jf))
			for (int k = 0; k < 4; k++)
				n_flows[k] += (unsigned)jget(jf, flow_names[k]);
		*mem_used += (uint64_t)jget(r, "memory_used");
		if (dgram_late)
			*dgram_late += jget(r, "datagrams_dropped_late");
	}
}

void workers_svc_sum(const char *ident_path, const char *svc, uint64_t v[5])
{
	static const char *const k[5] = { "dials", "dials_failed", "accepted", "refused", "active" };

	for (unsigned i = 1; i < D.n_workers; i++) {
		struct json_object *a, *x, *y;

		if (!W[i].report || !json_object_object_get_ex(W[i].report, "services", &a))
			continue;
		for (size_t j = 0; j < json_object_array_length(a); j++) {
			x = json_object_array_get_idx(a, j);
			if (!json_object_object_get_ex(x, "identity", &y) || strcmp(json_object_get_string(y), ident_path) ||
			    !json_object_object_get_ex(x, "name", &y) || strcmp(json_object_get_string(y), svc))
				continue;
			for (int n = 0; n < 5; n++)
				v[n] += (uint64_t)jget(x, k[n]);
		}
	}
}

static struct json_object *jcopy(struct json_object *r, const char *k)
{
	struct json_object *v;

	return r && json_object_object_get_ex(r, k, &v) ? json_object_get(v) : NULL;
}

struct json_object *workers_json(void)
{
	struct json_object *a = json_object_new_array(), *p = json_object_new_object(), *pf = json_object_new_object(), *pc;
	uint64_t now = zt_now_ms();

	JADD(p, "index", JI(0));
	JADD(p, "pid", JI(getpid()));
	JADD(p, "alive", JB(true));
	for (int k = 0; k < 4; k++)
		JADD(pf, flow_names[k], JI(D.n_flows[k]));
	JADD(p, "flows", pf);
	pc = json_object_new_object();
	for (size_t k = 0; k < sizeof(cnt) / sizeof(cnt[0]); k++)
		JADD(pc, cnt[k].name, JI(*(const uint64_t *)((const char *)&D.c + cnt[k].off)));
	JADD(p, "counters", pc);
	json_object_array_add(a, p);
	for (unsigned i = 1; i < D.n_workers; i++) {
		struct worker *w = &W[i];
		struct json_object *o = json_object_new_object();
		/* alive: running and reporting (its first report within 3 s of its start) */
		bool alive = w->pid > 0 && (w->last_report_ms ? now - w->last_report_ms < 3 * REPORT_MS :
					    now - w->started_ms < 3 * REPORT_MS);

		JADD(o, "index", JI(i));
		JADD(o, "pid", JI(w->pid));
		JADD(o, "alive", JB(alive));
		JADD(o, "restarts", JI(w->restarts));
		if (w->pid > 0)
			JADD(o, "uptime_s", JI((now - w->started_ms) / 1000));
		if (w->last_report_ms)
			JADD(o, "report_age_ms", JI(now - w->last_report_ms));
		JADD(o, "reloads", jcopy(w->report, "reloads"));
		JADD(o, "identities_ready", jcopy(w->report, "identities_ready"));
		JADD(o, "certificates", jcopy(w->report, "certificates"));
		JADD(o, "flows", jcopy(w->report, "flows"));
		JADD(o, "counters", jcopy(w->report, "counters"));
		JADD(o, "config", jcopy(w->report, "config"));
		json_object_array_add(a, o);
	}
	return a;
}

void workers_flows(struct json_object *arr)
{
	for (unsigned i = 1; i < D.n_workers; i++) {
		struct json_object *fl;

		if (!W[i].report || !json_object_object_get_ex(W[i].report, "flow_list", &fl))
			continue;
		for (size_t k = 0; k < json_object_array_length(fl); k++)
			json_object_array_add(arr, json_object_get(json_object_array_get_idx(fl, k)));
	}
}

struct json_object *workers_rtp_flow(const char *x, const char *y)
{
	for (unsigned i = 1; i < D.n_workers; i++) {
		struct json_object *fl, *e, *l, *r;

		if (!W[i].report || !json_object_object_get_ex(W[i].report, "rtp_flows", &fl))
			continue;
		for (size_t k = 0; k < json_object_array_length(fl); k++) {
			const char *ls, *rs;

			e = json_object_array_get_idx(fl, k);
			if (!json_object_object_get_ex(e, "local", &l) || !json_object_object_get_ex(e, "remote", &r))
				continue;
			ls = json_object_get_string(l);
			rs = json_object_get_string(r);
			if ((!strcmp(ls, x) && !strcmp(rs, y)) || (!strcmp(ls, y) && !strcmp(rs, x)))
				return json_object_get(e);
		}
	}
	return NULL;
}

struct json_object *workers_rtp_metrics(unsigned *i)
{
	struct json_object *m;

	for (*i = *i ? *i : 1; *i < D.n_workers; (*i)++)
		if (W[*i].report && json_object_object_get_ex(W[*i].report, "rtp_metrics", &m)) {
			(*i)++;
			return m;
		}
	return NULL;
}

/* ------------------------------------------------------------------ worker */

static struct zt_io chan_io;
static struct zt_timer report_timer;
unsigned worker_reloads;

int worker_parse_arg(const char *arg, int fds[4])
{
	int w, c, n;

	if (sscanf(arg, "%d,%d,%d,%d,%d,%d,%d", &w, &c, &fds[0], &fds[1], &fds[2], &fds[3], &n) != 7 || w < 1 ||
	    w >= WORKERS_MAX || c < 0 || n <= w || n > WORKERS_MAX)
		return -1;
	D.worker = (unsigned)w;
	D.n_workers = (unsigned)n; /* the primary's count: this process's CPUs or file may differ now */
	chan_fd = c;
	return 0;
}

bool worker_stop_asked;
static void worker_chan_cb(void *arg, uint32_t ev);

/*
 * A stopping worker: what the primary sent, WMSG_STOP among it when the primary stops it (its
 * SIGTERM follows the message; a SIGTERM sent to every process at once, e.g. by systemd
 * without KillMode=mixed, may come first: up to 1 s for the message or the channel's end).
 */
void worker_drain(void)
{
	uint64_t t0 = zt_now_ms();

	while (chan_fd >= 0 && !worker_stop_asked) {
		struct pollfd pf = { chan_fd, POLLIN, 0 };
		uint64_t spent = zt_now_ms() - t0;

		if (spent >= 1000 || poll(&pf, 1, (int)(1000 - spent)) != 1)
			break;
		if (pf.revents & (POLLHUP | POLLERR)) /* the primary is gone */
			break;
		worker_chan_cb(NULL, 0);
	}
}

static void worker_chan_cb(void *arg, uint32_t ev)
{
	static char b[CHAN_BUF];

	(void)arg;
	(void)ev;
	for (;;) {
		ssize_t r = recv(chan_fd, b, sizeof(b), MSG_DONTWAIT);

		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (r <= 0) {
			logm(L_ERR, "the primary is gone: stopping");
			stopping = true;
			zt_loop_stop(D.loop);
			return;
		}
		wmsg_in(0, b, (size_t)r);
	}
}

static void report_cb(void *arg)
{
	struct json_object *o = json_object_new_object(), *c = json_object_new_object(),
			   *f = json_object_new_object(), *cf = json_object_new_object(), *fl = flows_json(), *tl;
	int64_t late = 0, ready = 0;

	(void)arg;
	for (size_t k = 0; k < sizeof(cnt) / sizeof(cnt[0]); k++)
		JADD(c, cnt[k].name, JI(*(const uint64_t *)((const char *)&D.c + cnt[k].off)));
	for (int k = 0; k < 4; k++)
		JADD(f, flow_names[k], JI(D.n_flows[k]));
	struct json_object *sv = json_object_new_array(), *certs = json_object_new_array();

	for (struct ident *id = D.idents; id; id = id->next) {
		ready += id->ready;
		if (id->ctx) { /* the certificate this worker presents (a renewal by the primary adopted?) */
			struct zt_cert_status cs;
			struct json_object *x = json_object_new_object();

			zt_ctx_cert_status(id->ctx, &cs);
			JADD(x, "identity", JS(id->path));
			JADD(x, "fingerprint", JS(cs.fingerprint));
			JADD(x, "not_after", JI(cs.not_after));
			json_object_array_add(certs, x);
		}
		if (id->ctx)
			late += (int64_t)zt_ctx_dgram_dropped(id->ctx);
		for (struct svc *s = id->svcs; s; s = s->next) {
			struct json_object *x = json_object_new_object();

			JADD(x, "identity", JS(id->path));
			JADD(x, "name", JS(s->name));
			JADD(x, "dials", JI(s->dials));
			JADD(x, "dials_failed", JI(s->dial_failed));
			JADD(x, "accepted", JI(s->accepted));
			JADD(x, "refused", JI(s->refused));
			JADD(x, "active", JI(s->active));
			json_object_array_add(sv, x);
		}
	}
	JADD(o, "services", sv);
	JADD(o, "certificates", certs);
	JADD(o, "worker", JI(D.worker));
	JADD(o, "pid", JI(getpid()));
	JADD(o, "reloads", JI(worker_reloads));
	JADD(o, "identities_ready", JI(ready));
	JADD(o, "counters", c);
	JADD(o, "flows", f);
	JADD(o, "memory_used", JI(D.mem_used));
	JADD(o, "datagrams_dropped_late", JI(late));
	JADD(cf, "log_level", JI(D.cfg.log_level));
	JADD(cf, "udp_idle_timeout_s", JI(D.cfg.udp_idle_ms / 1000));
	JADD(cf, "sip_idle_timeout_s", JI(D.cfg.sip_idle_ms / 1000));
	JADD(cf, "memory_limit_bytes", JI(D.cfg.memory_limit));
	JADD(o, "config", cf);
	tl = json_object_new_array();
	for (size_t k = 0; k < json_object_array_length(fl) && k < REPORT_FLOWS_MAX; k++) {
		struct json_object *x = json_object_get(json_object_array_get_idx(fl, k));

		JADD(x, "worker", JI(D.worker));
		json_object_array_add(tl, x);
	}
	json_object_put(fl);
	JADD(o, "flow_list", tl);
	JADD(o, "rtp_flows", sipv_report_flows(D.worker, REPORT_FLOWS_MAX));
	JADD(o, "rtp_metrics", metrics_rtp_report());
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	size_t n = strlen(s);

	/* the counters matter more than the lists, the calls view's flows more than the flow list */
	if (n > REPORT_MAX) {
		json_object_object_del(o, "flow_list");
		JADD(o, "flow_list_dropped", JB(true));
		s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
		n = strlen(s);
	}
	if (n > REPORT_MAX) {
		json_object_object_del(o, "rtp_flows");
		JADD(o, "rtp_flows_dropped", JB(true));
		s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
		n = strlen(s);
	}
	if (n <= REPORT_MAX && send(chan_fd, s, n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && errno != EAGAIN)
		logm(L_DEBUG, "report: %s", strerror(errno));
	json_object_put(o);
	zt_timer_start(D.loop, &report_timer, REPORT_MS);
}

int worker_init(void)
{
	int fl = fcntl(chan_fd, F_GETFL);

	if (fl < 0 || fcntl(chan_fd, F_SETFL, fl | O_NONBLOCK) || fcntl(chan_fd, F_SETFD, FD_CLOEXEC))
		return -1;
	zt_io_init(&chan_io, chan_fd, worker_chan_cb, NULL);
	zt_io_set(D.loop, &chan_io, EPOLLIN);
	zt_timer_init(&report_timer, report_cb, NULL);
	zt_timer_start(D.loop, &report_timer, 200);
	return 0;
}

void worker_fini(void)
{
	zt_timer_stop(D.loop, &report_timer);
	if (chan_fd >= 0) {
		zt_io_del(D.loop, &chan_io);
		close(chan_fd);
		chan_fd = -1;
	}
}
