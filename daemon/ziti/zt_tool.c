// SPDX-License-Identifier: GPL-2.0
/*
 * zt-tool: a small CLI over the native edge client, used by the interop tests.
 *
 *   zt-tool services -i ID.json
 *   zt-tool dial  -i ID.json -s SERVICE [--udp] [--mode echo|sink|recv|rtp] [--bytes N] [--conns C]
 *                 [--count K --size S [--pace-ms P]] [--hold [--linger-ms L]] [--timeout-ms T]
 *                 [--app-data JSON]
 *                 --pace-ms: one datagram every P ms (RTP-like); reports the largest, the median
 *                 and the 99th percentile latency of a datagram's echo counted from the moment it
 *                 was due to be sent (a lost datagram counts as slower than every echoed one)
 *   zt-tool host  -i ID.json -s SERVICE [--udp] [--mode echo|sink] [--ready-file F]
 *                 [--terminator-identity X] [--cost N] [--precedence P]
 *   zt-tool probe -i ID.json -s SERVICE --log FILE [--interval-ms I]
 *
 * Data is a deterministic pseudo-random stream per connection, verified byte by byte.
 * dial --mode recv sends nothing and reads N bytes of whatever the service sends (bulk source).
 * dial --udp --mode rtp sends K RTP datagrams (PCMU, one every --pace-ms) of S >= 12 bytes and
 * only counts what comes back; it succeeds once all are sent (RTP quality tests).
 * Exit status: 0 success, 1 failure, 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/time.h>
#include <unistd.h>

#include "daemon/ziti/zt_tool.h"
#include "daemon/ziti/zt_tool_request.h"

struct zt_tool_opt opt = { .mode = "echo", .no_renew = true, .bytes = 1024, .conns = 1, .count = 20, .size = 512,
			  .timeout_ms = 60000, .interval_ms = 250 };

struct zt_loop *loop;
struct zt_ctx *ctx;
int exit_code = 1;
uint64_t t0;

void logf_(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "[%7.3f] ", (double)(zt_now_ms() - t0) / 1000.0);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

uint64_t epoch_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (uint64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* ------------------------------------------------------------------ main */

static void on_ready(struct zt_ctx *c, int err, const char *msg, void *u)
{
	(void)u;
	if (err) {
		fprintf(stderr, "zt-tool: %s\n", msg);
		exit_code = 1;
		zt_loop_stop(loop);
		return;
	}
	if (opt.verbose)
		logf_("ready, api session %s", zt_ctx_api_session_id(c) ? zt_ctx_api_session_id(c) : "?");
	if (opt.session_file) {
		FILE *f = fopen(opt.session_file, "w");

		if (f) {
			fprintf(f, "%s\n", zt_ctx_api_session_id(c) ? zt_ctx_api_session_id(c) : "");
			fclose(f);
		}
	}
	if (!strcmp(opt.cmd, "services")) {
		for (size_t i = 0; zt_service_at(c, i); i++) {
			const struct zt_service *s = zt_service_at(c, i);

			printf("%s perms=%s%s encryption=%s intercept.v1=%s host.v1=%s\n", s->name,
			       (s->perms & ZT_PERM_DIAL) ? "D" : "", (s->perms & ZT_PERM_BIND) ? "B" : "",
			       s->encryption_required ? "required" : "off",
			       s->intercept_v1_json ? s->intercept_v1_json : "-", s->host_v1_json ? s->host_v1_json : "-");
		}
		exit_code = 0;
		zt_loop_stop(loop);
	} else if (!strcmp(opt.cmd, "dial")) {
		run_dial();
	} else if (!strcmp(opt.cmd, "host")) {
		run_host();
	} else if (!strcmp(opt.cmd, "probe")) {
		run_probe();
	} else if (!strcmp(opt.cmd, "request")) {
		run_request(c, loop, opt.service, opt.send, opt.timeout_ms, &exit_code); /* zt_tool_request.c */
	}
}

static void on_log(struct zt_ctx *c, int level, const char *msg, void *u)
{
	(void)c;
	(void)u;
	static const char *lv[] = { "ERROR", "WARN", "INFO", "DEBUG" };

	logf_("%s %s", lv[level < 0 ? 0 : level > 3 ? 3 : level], msg);
	if (probe_log) /* so tests can order client events and probe results on one clock */
		fprintf(probe_log, "log %" PRIu64 " %s\n", epoch_ms(), msg);
}

static struct zt_io sig_io;
static int sig_fd;

static void on_signal(void *arg, uint32_t ev)
{
	(void)arg;
	(void)ev;
	struct signalfd_siginfo si;

	if (read(sig_fd, &si, sizeof(si)) > 0) {
		if (si.ssi_signo == SIGUSR1) { /* probe: start now instead of after --start-delay-ms */
			if (!strcmp(opt.cmd, "probe") && probe_waiting())
				probe_now();
			return;
		}
		if (!strcmp(opt.cmd, "host") || !strcmp(opt.cmd, "probe"))
			exit_code = 0;
		zt_loop_stop(loop);
	}
}

static void usage(void)
{
	fprintf(stderr,
		"usage: zt-tool services|dial|host|probe|request -i IDENTITY.json [-s SERVICE] [options]\n"
		"  request: --send LINE (one line to SERVICE, the reply on standard output)\n"
		"  dial --udp --send TEXT (echo mode, 1-65000 bytes): every datagram is TEXT, its echo must be TEXT\n"
		"  --udp  --mode echo|sink|recv  --bytes N  --conns C  --count K  --size S  --pace-ms P  --hold  --linger-ms L\n"
		"  --accept-close\n"
		"  --timeout-ms T  --ready-file F  --terminator-identity X  --cost N  --precedence P\n"
		"  --log FILE  --interval-ms I  --start-delay-ms D  --poll-ms P  --latency-ms L  --session-file F  -v\n"
		"  --renew (renew the identity certificate when due and write it to the identity file;\n"
		"           off by default: a test tool must not rewrite an identity a daemon uses)\n"
		"  --auth legacy|auto|oidc (default legacy)  --token-refresh-ms N (OIDC: refresh at least this often)\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "identity", 1, 0, 'i' }, { "service", 1, 0, 's' }, { "udp", 0, 0, 'u' },
		{ "mode", 1, 0, 'm' }, { "bytes", 1, 0, 'b' }, { "conns", 1, 0, 'c' },
		{ "count", 1, 0, 'k' }, { "size", 1, 0, 'z' }, { "hold", 0, 0, 'H' },
		{ "timeout-ms", 1, 0, 't' }, { "ready-file", 1, 0, 'r' }, { "terminator-identity", 1, 0, 'T' },
		{ "cost", 1, 0, 'C' }, { "precedence", 1, 0, 'P' }, { "log", 1, 0, 'l' },
		{ "interval-ms", 1, 0, 'I' }, { "poll-ms", 1, 0, 'p' }, { "latency-ms", 1, 0, 'L' },
		{ "session-file", 1, 0, 'S' }, { "start-delay-ms", 1, 0, 'D' }, { "accept-close", 0, 0, 'A' }, { "verbose", 0, 0, 'v' },
		{ "app-data", 1, 0, 'a' }, { "linger-ms", 1, 0, 'g' }, { "pace-ms", 1, 0, 'R' },
		{ "no-renew", 0, 0, 'N' }, { "renew", 0, 0, 'W' }, { "auth", 1, 0, 'U' }, { "token-refresh-ms", 1, 0, 'F' },
		{ "send", 1, 0, 'Q' }, { 0, 0, 0, 0 },
	};
	int ch;

	t0 = zt_now_ms();
	if (argc < 2)
		usage();
	opt.cmd = argv[1];
	optind = 2;
	while ((ch = getopt_long(argc, argv, "i:s:vu", lo, NULL)) != -1) {
		switch (ch) {
		case 'i': opt.identity = optarg; break;
		case 's': opt.service = optarg; break;
		case 'u': opt.udp = true; break;
		case 'm': opt.mode = optarg; break;
		case 'b': opt.bytes = strtoull(optarg, NULL, 0); break;
		case 'c': opt.conns = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'k': opt.count = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'z': opt.size = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'H': opt.hold = true; break;
		case 'g': opt.linger_ms = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'R': opt.pace_ms = (unsigned)strtoul(optarg, NULL, 0); break;
		case 't': opt.timeout_ms = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'r': opt.ready_file = optarg; break;
		case 'T': opt.term_id = optarg; break;
		case 'C': opt.cost = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'P': opt.precedence = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'l': opt.log_file = optarg; break;
		case 'I': opt.interval_ms = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'p': opt.poll_ms = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'L': opt.latency_ms = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'S': opt.session_file = optarg; break;
		case 'A': opt.accept_close = true; break;
		case 'D': opt.start_delay_ms = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'v': opt.verbose++; break;
		case 'a': opt.app_data = optarg; break;
		case 'N': opt.no_renew = true; break;
		case 'U':
			if (!strcmp(optarg, "legacy"))
				opt.auth_mode = ZT_AUTH_MODE_LEGACY;
			else if (!strcmp(optarg, "auto"))
				opt.auth_mode = ZT_AUTH_MODE_AUTO;
			else if (!strcmp(optarg, "oidc"))
				opt.auth_mode = ZT_AUTH_MODE_OIDC;
			else
				usage();
			break;
		case 'F': opt.token_refresh_ms = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'Q': opt.send = optarg; break;
		case 'W': opt.no_renew = false; break;
		default: usage();
		}
	}
	bool known = !strcmp(opt.cmd, "services") || !strcmp(opt.cmd, "dial") || !strcmp(opt.cmd, "host") ||
		     !strcmp(opt.cmd, "probe") || !strcmp(opt.cmd, "request");

	if (!known || !opt.identity || (strcmp(opt.cmd, "services") && !opt.service) ||
	    (!strcmp(opt.cmd, "probe") && !opt.log_file) || (!strcmp(opt.cmd, "request") && !opt.send) || opt.conns == 0 || (opt.udp && (opt.size < 4 || opt.size > 65000)) ||
	    (opt.send && strcmp(opt.cmd, "request") &&
	     (strcmp(opt.cmd, "dial") || !opt.udp || strcmp(opt.mode, "echo") || !*opt.send || strlen(opt.send) > 65000)) ||
	    (strcmp(opt.mode, "echo") && strcmp(opt.mode, "sink") &&
	     (strcmp(opt.mode, "recv") || strcmp(opt.cmd, "dial") || opt.udp) &&
	     (strcmp(opt.mode, "rtp") || strcmp(opt.cmd, "dial") || !opt.udp || opt.size < 12)))
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);

	char err[512];
	struct zt_identity *id = zt_identity_load(opt.identity, err, sizeof(err));

	if (!id) {
		fprintf(stderr, "zt-tool: %s\n", err);
		return 1;
	}
	loop = zt_loop_new();
	struct zt_opts zo = { .svc_poll_ms = opt.poll_ms, .latency_ms = opt.latency_ms,
			      .log_level = opt.verbose > 1 ? 3 : opt.verbose ? 2 : 1, .app_id = "zt-tool", .renew_off = opt.no_renew,
			      .auth_mode = opt.auth_mode, .token_refresh_ms = opt.token_refresh_ms };
	struct zt_ctx_cbs cbs = { .on_ready = on_ready, .on_log = on_log };

	ctx = zt_ctx_new(loop, id, &zo, &cbs, NULL);
	if (!ctx) {
		fprintf(stderr, "zt-tool: cannot create context\n");
		return 1;
	}
	sigset_t ss;

	sigemptyset(&ss);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGUSR1);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	sig_fd = signalfd(-1, &ss, SFD_NONBLOCK | SFD_CLOEXEC);
	zt_io_init(&sig_io, sig_fd, on_signal, NULL);
	zt_io_set(loop, &sig_io, EPOLLIN);
	zt_ctx_start(ctx);
	zt_loop_run(loop, -1);

	host_cleanup();
	probe_cleanup();
	dial_cleanup();
	zt_ctx_free(ctx);
	zt_io_del(loop, &sig_io);
	close(sig_fd);
	zt_loop_free(loop);
	if (probe_log)
		fclose(probe_log);
	return exit_code;
}

