// SPDX-License-Identifier: GPL-2.0
/*
 * sipovld: OpenZiti services drive sipovl.ko.
 *
 * For every identity: services with Dial permission and an intercept.v1 config become kernel
 * intercepts (one atomic table replace per change, stable ids per service); steered flows are
 * dialed into the service (flows*.c). Services with Bind permission and a host.v1 config are
 * hosted; dials are originated to the computed target, from the caller's address when allowed
 * (the union of allowedSourceAddresses is the kernel's transparent source ranges).
 *
 * This file: start-up, the configuration (file and command line, reload) and the main loop;
 * idents.c, services.c and kernel_table.c follow the identities, their services and the
 * kernel's table.
 *
 * See Documentation/sipovld.8.md and Documentation/admin-guide.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "daemon/dns_server.h"
#include "daemon/endpoint.h"
#include "daemon/sip_view.h"
#include "daemon/metrics.h"
#include "daemon/sipovld.h"
#include "daemon/workers.h"

struct daemon D;

/* command-line overrides, re-applied on top of the config file at every reload */
static struct {
	const char *identities[DCFG_MAX_IDENTITIES];
	size_t n_identities;
	const char *name, *ctl, *level, *user;
	long udp_idle_s, mem_mb;
} cli = { .udp_idle_s = -1, .mem_mb = -1 };

static bool reload_pending;
bool stopping;

/* ------------------------------------------------------------------ logging */

void logm(int prio, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;

	if (prio > D.cfg.log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	for (char *p = buf; *p; p++) /* one record per line */
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	if (D.worker) /* which process said it */
		fprintf(stderr, "<%d>worker %u: %s\n", prio, D.worker, buf);
	else
		fprintf(stderr, "<%d>%s\n", prio, buf);
}

/* ------------------------------------------------------------------ configuration */

/*
 * @a and @b name the same file: the same path, or the same name in the same directory once
 * the directories are resolved (symbolic links, "..": the files themselves need not exist).
 */
static bool same_file(const char *a, const char *b)
{
	char da[PATH_MAX], db[PATH_MAX], ra[PATH_MAX], rb[PATH_MAX];
	const char *sa = strrchr(a, '/'), *sb = strrchr(b, '/');

	if (!strcmp(a, b))
		return true;
	if (!sa || !sb || strcmp(sa, sb) || (size_t)(sa - a) >= sizeof(da) || (size_t)(sb - b) >= sizeof(db))
		return false;
	snprintf(da, sizeof(da), "%.*s", (int)(sa - a), a);
	snprintf(db, sizeof(db), "%.*s", (int)(sb - b), b);
	return realpath(da[0] ? da : "/", ra) && realpath(db[0] ? db : "/", rb) && !strcmp(ra, rb);
}

static int load_config(struct daemon_cfg *out)
{
	daemon_cfg_defaults(out);
	if (D.cfg_path) {
		FILE *f = fopen(D.cfg_path, "r");
		char *buf = NULL, err[CFG_ERRLEN];
		size_t n = 0, cap = 0;

		if (!f) {
			logm(L_ERR, "config %s: %s", D.cfg_path, strerror(errno));
			return -1;
		}
		for (;;) {
			if (n + 4096 + 1 > cap) {
				cap = cap ? cap * 2 : 8192;
				char *nb = realloc(buf, cap);

				if (!nb || cap > (1u << 20)) {
					free(nb ? nb : buf);
					fclose(f);
					logm(L_ERR, "config %s: too large", D.cfg_path);
					return -1;
				}
				buf = nb;
			}
			size_t r = fread(buf + n, 1, 4096, f);

			n += r;
			if (r < 4096)
				break;
		}
		fclose(f);
		buf[n] = 0;
		if (daemon_cfg_parse(buf, out, err, sizeof(err))) {
			/* logged first: at start out is D.cfg, whose log level freeing zeroes */
			logm(L_ERR, "config %s: %s", D.cfg_path, err);
			free(buf);
			daemon_cfg_free(out);
			return -1;
		}
		free(buf);
	}
	if (cli.n_identities) {
		for (size_t i = 0; i < out->n_identities; i++)
			free(out->identities[i]);
		out->n_identities = 0;
		for (size_t i = 0; i < cli.n_identities; i++)
			out->identities[out->n_identities++] = strdup(cli.identities[i]);
	}
	if (cli.name) {
		free(out->name);
		out->name = strdup(cli.name);
	}
	if (cli.ctl) {
		free(out->ctl_socket);
		out->ctl_socket = strdup(cli.ctl);
	}
	if (cli.user) {
		free(out->user);
		out->user = strdup(cli.user);
	}
	if (cli.level)
		out->log_level = cfg_log_level(cli.level);
	if (cli.udp_idle_s > 0)
		out->udp_idle_ms = (unsigned)cli.udp_idle_s * 1000;
	if (cli.mem_mb > 0)
		out->memory_limit = (uint64_t)cli.mem_mb << 20;
	if (!out->ctl_socket)
		out->ctl_socket = strdup(SIPOVLD_CTL_SOCK_DEFAULT);
	if (out->has_endpoint && out->n_identities != 1) { /* one identity holds the lease */
		logm(L_ERR, "config%s%s: endpoint: an endpoint has exactly one identity (its lease is that identity's); "
		     "%zu configured", D.cfg_path ? " " : "", D.cfg_path ? D.cfg_path : "", out->n_identities);
		daemon_cfg_free(out);
		return -1;
	}
	if (out->has_endpoint && out->has_pool_server &&
	    same_file(out->endpoint.state_file, out->pool_server.lease_file)) { /* one line would replace every lease */
		logm(L_ERR, "config%s%s: endpoint.state_file %s: the same file as ip_pool.lease_file (%s)",
		     D.cfg_path ? " " : "", D.cfg_path ? D.cfg_path : "", out->endpoint.state_file,
		     out->pool_server.lease_file);
		daemon_cfg_free(out);
		return -1;
	}
	if (out->name && out->n_identities > 1)
		logm(L_WARN, "name \"%s\" ignored: %zu identities, each takes its name at the controller", out->name,
		     out->n_identities);
	return 0;
}

static bool pool_server_changed(const struct daemon_cfg *n)
{
	const struct cfg_pool_server *a = &D.cfg.pool_server, *b = &n->pool_server;

	if (n->has_pool_server != D.cfg.has_pool_server)
		return true;
	/* field by field: a struct's padding is not part of its value */
	return n->has_pool_server && (strcmp(a->name, b->name) || a->range.family != b->range.family ||
				      a->range.len != b->range.len ||
				      memcmp(a->range.addr, b->range.addr, sizeof(a->range.addr)) ||
				      strcmp(a->service, b->service) || strcmp(a->lease_file, b->lease_file) ||
				      a->trust_caller != b->trust_caller || !a->excl_ms != !b->excl_ms);
}

static bool endpoint_changed(const struct daemon_cfg *n)
{
	const struct cfg_endpoint *a = &D.cfg.endpoint, *b = &n->endpoint;

	if (n->has_endpoint != D.cfg.has_endpoint)
		return true;
	return n->has_endpoint && (strcmp(a->pool, b->pool) || strcmp(a->service, b->service) ||
				   strcmp(a->ifname, b->ifname) || strcmp(a->state_file, b->state_file));
}

/* Re-read the configuration; 0, or -1 (logged) with the running configuration kept. */
int reload(const char *why)
{
	struct daemon_cfg n;

	logm(L_NOTICE, "reloading (%s)", why);
	if (load_config(&n)) {
		logm(L_ERR, "reload failed: keeping the running configuration");
		return -1;
	}
	bool policy_changed = n.policy != D.cfg.policy;
	bool dns_changed = n.n_dns_listen != D.cfg.n_dns_listen || n.n_dns_upstream != D.cfg.n_dns_upstream ||
			   n.has_dns_upstream != D.cfg.has_dns_upstream || n.dns_timeout_ms != D.cfg.dns_timeout_ms ||
			   memcmp(n.dns_listen, D.cfg.dns_listen, sizeof(n.dns_listen)) ||
			   memcmp(n.dns_upstream, D.cfg.dns_upstream, sizeof(n.dns_upstream)) ||
			   n.has_dns_range4 != D.cfg.has_dns_range4 || n.has_dns_range6 != D.cfg.has_dns_range6 ||
			   memcmp(&n.dns_range4, &D.cfg.dns_range4, sizeof(n.dns_range4)) ||
			   memcmp(&n.dns_range6, &D.cfg.dns_range6, sizeof(n.dns_range6)) ||
			   n.dns_name_idle_s != D.cfg.dns_name_idle_s || n.has_dns_names_file != D.cfg.has_dns_names_file ||
			   (n.has_dns_names_file && strcmp(n.dns_names_file, D.cfg.dns_names_file));
	bool name_changed = (!!n.name != !!D.cfg.name) || (n.name && strcmp(n.name, D.cfg.name));

	if (strcmp(n.ctl_socket, D.cfg.ctl_socket))
		logm(L_WARN, "control_socket changes need a restart; still on %s", D.cfg.ctl_socket);
	if (n.workers != D.cfg.workers && !D.worker)
		logm(L_WARN, "workers changes need a restart; still %u", D.n_workers);
	if ((!!n.user != !!D.cfg.user) || (n.user && strcmp(n.user, D.cfg.user)))
		logm(L_WARN, "user changes need a restart; still running as uid %u", (unsigned)getuid());
	if (pool_server_changed(&n)) { /* the running pool's configuration stays */
		struct cfg_pool_server keep = D.cfg.pool_server;
		bool had = D.cfg.has_pool_server;

		logm(L_WARN, "ip_pool changes need a restart; still serving %s", had ? keep.name : "no pool");
		D.cfg.pool_server = n.pool_server;
		D.cfg.has_pool_server = n.has_pool_server;
		n.pool_server = keep;
		n.has_pool_server = had;
	}
	if (endpoint_changed(&n)) { /* the running endpoint's configuration stays */
		struct cfg_endpoint keep = D.cfg.endpoint;
		bool had = D.cfg.has_endpoint;

		logm(L_WARN, "endpoint changes need a restart; still %s%s", had ? "an endpoint of pool " : "not an endpoint",
		     had ? keep.pool : "");
		D.cfg.endpoint = n.endpoint;
		D.cfg.has_endpoint = n.has_endpoint;
		n.endpoint = keep;
		n.has_endpoint = had;
	}
	/*
	 * n now holds the endpoint that runs on (the old one when its keys changed, a removed one
	 * included): its one identity stays too, as its lease is that identity's. The running
	 * endpoint has exactly one (checked when its file was read).
	 */
	if (n.has_endpoint && D.cfg.n_identities == 1 &&
	    (n.n_identities != 1 || strcmp(n.identities[0], D.cfg.identities[0]))) {
		logm(L_WARN, "endpoint: a change of its identity needs a restart (the address is %s's lease); still %s",
		     D.cfg.identities[0], D.cfg.identities[0]);
		char *tmp[DCFG_MAX_IDENTITIES];
		size_t tn = n.n_identities;

		memcpy(tmp, n.identities, sizeof(tmp));
		memcpy(n.identities, D.cfg.identities, sizeof(tmp));
		memcpy(D.cfg.identities, tmp, sizeof(tmp));
		n.n_identities = D.cfg.n_identities;
		D.cfg.n_identities = tn;
	}
	free(n.ctl_socket);
	n.ctl_socket = D.cfg.ctl_socket;
	D.cfg.ctl_socket = NULL;
	unsigned old_idle = D.cfg.udp_idle_ms;
	uint64_t old_mem = D.cfg.memory_limit;
	int old_level = D.cfg.log_level;

	daemon_cfg_free(&D.cfg);
	D.cfg = n;
	for (struct ident *id = D.idents; id; id = id->next)
		if (id->ctx)
			zt_ctx_tune(id->ctx, D.cfg.svc_poll_ms, zt_log_level());
	flows_reconfigure(); /* idle timers with the new bounds */
	if (!D.worker)
		metrics_apply(); /* metrics_listen added, changed or removed */
	logm(L_NOTICE, "reloaded: log level %d -> %d, UDP idle %u -> %u s, memory limit %llu -> %llu bytes, service poll %u s, %zu identities",
	     old_level, D.cfg.log_level, old_idle / 1000, D.cfg.udp_idle_ms / 1000, (unsigned long long)old_mem,
	     (unsigned long long)D.cfg.memory_limit, D.cfg.svc_poll_ms / 1000, D.cfg.n_identities);
	primary_apply(); /* primary_address added, changed or removed */
	idents_sync(name_changed);
	if (D.worker) { /* the primary has the kernel's table, the DNS responder and the metrics */
		worker_reloads++;
		return 0;
	}
	workers_reload(); /* each worker reloads its own copy (SIGHUP) */
	if (dns_changed) { /* the names keep their addresses unless the ranges changed (dns_start) */
		dns_start();
		kernel_schedule_apply();
	} else {
		dns_guard_apply(false); /* dns_allow, dns_rate_limit, dns_rate_slip: the names stay */
	}
	if (policy_changed)
		kernel_schedule_apply();
	if (!D.no_kernel && D.nl) /* the module may have been reloaded: re-apply the table and sources */
		kernel_schedule_apply();
	return 0;
}

/* ------------------------------------------------------------------ main */

static int sig_fd = -1;
static struct zt_io sig_io;

static void sig_cb(void *arg, uint32_t ev)
{
	struct signalfd_siginfo si;

	(void)arg;
	(void)ev;
	while (read(sig_fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			reload_pending = true;
		} else if (si.ssi_signo == SIGCHLD) {
			if (!D.worker)
				workers_on_sigchld();
			continue;
		} else {
			logm(L_NOTICE, "%s: stopping", si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
			stopping = true;
		}
	}
	zt_loop_stop(D.loop);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sipovld [-c CONFIG] [-i IDENTITY.json]... [-n NAME] [-l LEVEL] [--control PATH]\n"
		"               [--udp-idle-timeout S] [--memory-limit MB] [-u USER[:GROUP]] [--no-kernel]\n"
		"       sipovld [--control PATH] --request status|flows|calls|reload|\"ip-pool release ADDRESS\"\n"
		"       sipovld enroll JWT -o IDENTITY.json [--key-type T] [--cert CERT --key KEY] [--force]\n"
		"See sipovld(8).\n");
}

/* sipovld enroll JWT -o IDENTITY.json [--key-type T] [--cert F --key F] [--force] */
static int enroll_main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "out", 1, 0, 'o' }, { "key-type", 1, 0, 't' }, { "cert", 1, 0, 'c' },
		{ "key", 1, 0, 'k' }, { "force", 0, 0, 'f' }, { "help", 0, 0, 'h' }, { 0, 0, 0, 0 },
	};
	struct zt_enroll_opts o = { 0 };
	char err[1024];
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "o:h", lo, NULL)) != -1) {
		switch (ch) {
		case 'o': o.out = optarg; break;
		case 't': o.key_type = optarg; break;
		case 'c': o.cert = optarg; break;
		case 'k': o.key = optarg; break;
		case 'f': o.force = true; break;
		case 'h':
		default:
			fprintf(ch == 'h' ? stdout : stderr,
				"usage: sipovld enroll JWT -o IDENTITY.json [--key-type ec|ec:CURVE|rsa|rsa:BITS] [--force]\n"
				"       sipovld enroll JWT -o IDENTITY.json --cert CERT.pem --key KEY.pem   (ottca)\n");
			return ch == 'h' ? 0 : 2;
		}
	}
	if (optind != argc - 1 || !o.out || (!!o.cert != !!o.key && o.cert)) {
		fprintf(stderr, "sipovld enroll: %s\n", optind != argc - 1 ? "expected one enrollment token (JWT file)" :
			!o.out ? "-o IDENTITY.json is required" : "--cert needs --key");
		return 2;
	}
	o.jwt = argv[optind];
	if (zt_enroll(&o, err, sizeof(err))) {
		fprintf(stderr, "sipovld enroll: %s\n", err);
		return 1;
	}
	printf("sipovld enroll: enrolled; identity written to %s\n", o.out);
	return 0;
}

/*
 * --request: to --control's socket, else to the control_socket of the configuration file
 * given with -c (the unit's ExecReload= names the file, so a moved socket needs no second
 * edit), else to the default. A file that cannot be read or does not parse sends nothing.
 */
static int request_main(const char *request)
{
	struct daemon_cfg c;
	int rc;

	if (cli.ctl || !D.cfg_path)
		return ctl_request(cli.ctl ? cli.ctl : SIPOVLD_CTL_SOCK_DEFAULT, request);
	daemon_cfg_defaults(&c);
	if (load_config(&c)) {
		fprintf(stderr, "sipovld: %s: no control socket to send \"%s\" to\n", D.cfg_path, request);
		return 1;
	}
	rc = ctl_request(c.ctl_socket, request);
	daemon_cfg_free(&c);
	return rc;
}

/*
 * The event loop, the resolver on it and (unless --no-kernel) the generic netlink
 * socket: what the primary and every worker open the same way at start.
 */
static int loop_open(void)
{
	char err[160];

	D.loop = zt_loop_new();
	if (!D.loop)
		return 1;
	zt_timer_init(&D.apply_timer, kernel_apply_cb, NULL);
	D.res = zt_resolver_new(D.loop, 0, err, sizeof(err));
	if (!D.res) {
		logm(L_ERR, "%s", err);
		return 1;
	}
	if (!D.no_kernel) {
		struct sipovl_err e;

		if (sipovl_open(&D.nl, &e)) {
			logm(L_ERR, "%s", e.no_family ? "the sipovl kernel module is not loaded (modprobe sipovl)" :
							 strerror(e.errnum));
			return 1;
		}
	}
	return 0;
}

/*
 * A worker process (workers.c, Documentation/design.md "Workers"): its own loop, Ziti sessions,
 * flows and intercept sockets; the primary keeps the kernel's table, the control socket, the
 * DNS responder, the metrics and the ip-pool.
 */
static int worker_main(const int fds[4])
{
	struct priv_user nouser = { 0 };
	char err[256];
	sigset_t ss;

	if (load_config(&D.cfg)) {
		fprintf(stderr, "<3>sipovld worker %u: bad configuration, not starting\n", D.worker);
		return 1;
	}
	setvbuf(stderr, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	D.started_ms = zt_now_ms(); /* D.n_workers: the primary's, from --worker */
	if (loop_open())
		return 1;
	if (!D.no_kernel) {
		if (flows_adopt(fds)) {
			logm(L_ERR, "the intercept sockets: %s", strerror(errno));
			return 1;
		}
	}
	sipv_init();
	err[0] = 0;
	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGHUP);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	sig_fd = signalfd(-1, &ss, SFD_NONBLOCK | SFD_CLOEXEC);
	/* priv_drop also empties the ambient set the primary raised for the exec */
	if (worker_init() || priv_drop(&nouser, err, sizeof(err)) || sig_fd < 0) {
		logm(L_ERR, "cannot start: %s", err[0] ? err : strerror(errno));
		flows_fini();
		return 1;
	}
	zt_io_init(&sig_io, sig_fd, sig_cb, NULL);
	zt_io_set(D.loop, &sig_io, EPOLLIN);
	idents_sync(false);
	logm(L_NOTICE, "started (pid %d, %s)", (int)getpid(), D.no_kernel ? "no kernel" : "intercept sockets of the primary");
	while (!stopping) {
		zt_loop_run(D.loop, 1000);
		if (reload_pending && !stopping) {
			reload_pending = false;
			reload("SIGHUP");
		}
	}
	worker_drain(); /* WMSG_STOP: the primary writes the stopped calls' CDRs */
	sipv_fini();
	flows_fini();
	while (D.idents) {
		struct ident *id = D.idents;

		D.idents = id->next;
		ident_free(id);
	}
	worker_fini();
	if (D.nl)
		sipovl_close(D.nl);
	zt_io_del(D.loop, &sig_io);
	close(sig_fd);
	zt_resolver_free(D.res);
	zt_loop_free(D.loop);
	logm(L_NOTICE, "stopped");
	daemon_cfg_free(&D.cfg);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "config", 1, 0, 'c' },       { "identity", 1, 0, 'i' },   { "name", 1, 0, 'n' },
		{ "log-level", 1, 0, 'l' },    { "control", 1, 0, 'C' },    { "udp-idle-timeout", 1, 0, 'U' },
		{ "memory-limit", 1, 0, 'M' }, { "no-kernel", 0, 0, 'K' },  { "request", 1, 0, 'R' },
		{ "help", 0, 0, 'h' },         { "version", 0, 0, 'V' },    { "user", 1, 0, 'u' },
		{ "worker", 1, 0, 'W' },       { 0, 0, 0, 0 },
	};
	const char *request = NULL;
	int ch, rc = 0, wfds[4] = { -1, -1, -1, -1 };

	if (argc > 1 && !strcmp(argv[1], "enroll"))
		return enroll_main(argc - 1, argv + 1);
	daemon_cfg_defaults(&D.cfg);
	while ((ch = getopt_long(argc, argv, "c:i:n:l:u:hV", lo, NULL)) != -1) {
		switch (ch) {
		case 'c': D.cfg_path = optarg; break;
		case 'i':
			if (cli.n_identities == DCFG_MAX_IDENTITIES) {
				fprintf(stderr, "sipovld: at most %d identities\n", DCFG_MAX_IDENTITIES);
				return 2;
			}
			cli.identities[cli.n_identities++] = optarg;
			break;
		case 'n': cli.name = optarg; break;
		case 'l':
			if (cfg_log_level(optarg) < 0) {
				fprintf(stderr, "sipovld: bad log level %s\n", optarg);
				return 2;
			}
			cli.level = optarg;
			break;
		case 'C': cli.ctl = optarg; break;
		case 'u': cli.user = optarg; break;
		case 'U':
		case 'M': {
			char *end;
			long v = strtol(optarg, &end, 10), max = ch == 'U' ? 86400 : 1 << 20;

			if (end == optarg || *end || v < 1 || v > max) {
				fprintf(stderr, "sipovld: %s: expected 1-%ld, got '%s'\n",
					ch == 'U' ? "--udp-idle-timeout" : "--memory-limit", max, optarg);
				return 2;
			}
			*(ch == 'U' ? &cli.udp_idle_s : &cli.mem_mb) = v;
			break;
		}
		case 'K': D.no_kernel = true; break;
		case 'R': request = optarg; break;
		case 'W': /* started by a primary sipovld (workers.c) */
			if (worker_parse_arg(optarg, wfds)) {
				fprintf(stderr, "sipovld: --worker: bad argument '%s'\n", optarg);
				return 2;
			}
			break;
		case 'V': printf("sipovld %s\n", SIPOVLD_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (request)
		return request_main(request);
	if (D.worker)
		return worker_main(wfds);
	workers_set_argv(argc, argv);
	if (load_config(&D.cfg)) {
		fprintf(stderr, "<3>sipovld: bad configuration, not starting\n");
		return 1;
	}
	struct priv_user user = { 0 };
	char perr[256];

	if (D.cfg.user && priv_user_lookup(D.cfg.user, &user, perr, sizeof(perr))) {
		fprintf(stderr, "<3>sipovld: %s; not starting\n", perr);
		return 1;
	}
	setvbuf(stderr, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	const char *why;

	D.n_workers = workers_count(D.cfg.workers, &why);
	if (why)
		logm(L_INFO, "workers: %u (%s, %ld CPUs usable): %s", D.n_workers, D.cfg.workers ? "set" : "auto",
		     workers_cpus(), why);
	D.started_ms = zt_now_ms();
	if (loop_open())
		return 1;
	if (!D.no_kernel) {
		if (flows_init()) {
			logm(L_ERR, "no intercept socket could be registered: not starting");
			kernel_clear();
			return 1;
		}
		if (!D.cfg.workers && flows_members() < D.n_workers) { /* "auto": no socket groups */
			logm(L_INFO, "workers: %u (auto): sipovl.ko has no socket groups, nothing to spread",
			     flows_members());
			D.n_workers = flows_members();
		}
	}
	sipv_init();
	if (pool_server_start()) {
		logm(L_ERR, "ip_pool: not starting");
		kernel_clear();
		return 1;
	}
	if (endpoint_start()) {
		logm(L_ERR, "endpoint: not starting");
		pool_server_stop();
		kernel_clear();
		return 1;
	}
	if (ctl_open(D.cfg.ctl_socket) || (user.set && ctl_chown(D.cfg.ctl_socket, user.uid, user.gid))) {
		endpoint_stop();
		pool_server_stop();
		kernel_clear();
		return 1;
	}
	if (dns_start()) {
		logm(L_ERR, "dns: a dns_listen address could not be opened; not starting");
		ctl_close(D.cfg.ctl_socket);
		endpoint_stop();
		pool_server_stop();
		kernel_clear();
		return 1;
	}
	metrics_apply(); /* not fatal: the gateway runs without its metrics endpoint */
	/* start-up is done: from here on only what the daemon uses while running (priv.c) */
	if (priv_drop(&user, perr, sizeof(perr))) {
		logm(L_ERR, "%s; not starting", perr);
		rc = 1;
		goto stop; /* everything is open by now: the same teardown as at SIGTERM */
	}
	sigset_t ss;

	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGHUP);
	sigaddset(&ss, SIGCHLD);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	sig_fd = signalfd(-1, &ss, SFD_NONBLOCK | SFD_CLOEXEC);
	zt_io_init(&sig_io, sig_fd, sig_cb, NULL);
	zt_io_set(D.loop, &sig_io, EPOLLIN);
	workers_start(); /* before the identities: the workers inherit no Ziti state */
	if (!D.cfg.n_identities)
		logm(L_WARN, "no identity configured: nothing to do until one is (SIGHUP)");
	if (primary_apply())
		logm(L_WARN, "primary_address: not followed; services hosted with host.v1's precedence");
	idents_sync(false);
	endpoint_run();
	kernel_schedule_apply();
	logm(L_NOTICE, "sipovld %s started (%s, control %s, UDP idle %u s, memory limit %llu MiB, %u worker%s)",
	     SIPOVLD_VERSION, D.no_kernel ? "no kernel" : "sipovl.ko", D.cfg.ctl_socket, D.cfg.udp_idle_ms / 1000,
	     (unsigned long long)(D.cfg.memory_limit >> 20), D.n_workers, D.n_workers == 1 ? "" : "s");
	while (!stopping) {
		zt_loop_run(D.loop, 1000);
		if (reload_pending && !stopping) {
			reload_pending = false;
			reload("SIGHUP");
		}
	}
	/* SIGTERM: remove everything we installed. The SIP view first: the calls still active end
	 * as "stopped", and their CDRs take the RTP quality from the flows, which are still open. */
stop:
	workers_stop(); /* their flows end first: the kernel's table goes last */
	dns_stop();
	sipv_fini();
	flows_fini();
	while (D.idents) {
		struct ident *id = D.idents;

		D.idents = id->next;
		ident_free(id);
	}
	endpoint_stop();
	pool_server_stop();
	zt_timer_stop(D.loop, &D.apply_timer);
	kernel_clear();
	if (D.nl)
		sipovl_close(D.nl);
	ctl_close(D.cfg.ctl_socket);
	metrics_close();
	if (sig_fd >= 0) {
		zt_io_del(D.loop, &sig_io);
		close(sig_fd);
	}
	zt_resolver_free(D.res);
	zt_loop_free(D.loop);
	logm(L_NOTICE, "stopped");
	daemon_cfg_free(&D.cfg);
	return rc;
}
