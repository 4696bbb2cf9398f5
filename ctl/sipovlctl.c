// SPDX-License-Identifier: GPL-2.0
/*
 * sipovlctl: the administrator's command line for sipovl.ko.
 *
 *   sipovlctl [OPTIONS] OBJECT [COMMAND [ARGS]]
 *
 * Exit status: 0 success, 1 failure (kernel, system), 2 bad usage or input.
 * Every failure prints exactly one line on stderr.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>

#include "ctl/calls.h"
#include "ctl/json.h"
#include "ctl/libsipovl.h"
#include "ctl/parse.h"

#ifndef SIPOVL_VERSION_STR
#define SIPOVL_VERSION_STR "0.1"
#endif

#define EXIT_FAIL 1
#define EXIT_USAGE 2

#define SIPOVLD_CTL_SOCK "/run/sipovld/ctl.sock"

static struct {
	bool json, pretty, stats;
	const char *netns;
} opt;

static const char *prog = "sipovlctl";

static void errline(const char *fmt, va_list ap)
{
	fflush(stdout);
	fprintf(stderr, "%s: ", prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

static int __attribute__((format(printf, 1, 2))) usage_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	errline(fmt, ap);
	va_end(ap);
	return EXIT_USAGE;
}

static int __attribute__((format(printf, 1, 2))) fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	errline(fmt, ap);
	va_end(ap);
	return EXIT_FAIL;
}

static int parse_err(const struct ctl_err *err)
{
	return usage_err("%s", err->msg);
}

/*
 * Reports a failed netlink call. @what is the action ("intercept add");
 * @notfound, if not NULL, is the message for ENOENT without a kernel message.
 * The kernel's extack message, when there is one, is printed verbatim.
 */
static int nl_fail(const struct sipovl_err *e, const char *what,
		   const char *notfound)
{
	if (e->no_family)
		return fail("sipovl module not loaded (modprobe sipovl)");
	if (e->extack[0])
		return fail("%s: %s (%s)", what, e->extack, strerror(e->errnum));
	if (e->errnum == EPERM || e->errnum == EACCES)
		return fail("permission denied: CAP_NET_ADMIN required");
	if (e->dump_retries)
		return fail("%s: the table kept changing during the dump; gave up after several restarts",
			    what);
	if (e->errnum == ENOENT && notfound)
		return fail("%s", notfound);
	if (e->errnum == E2BIG)
		return fail("%s: intercept too large for one netlink message", what);
	return fail("%s: %s", what, strerror(e->errnum));
}

static int nl_open_fail(const struct sipovl_err *e)
{
	if (!e->no_family && (e->errnum == EPERM || e->errnum == EACCES))
		return fail("permission denied: CAP_NET_ADMIN required");
	return nl_fail(e, "netlink", NULL);
}

static struct sipovl_nl *nl_open(int *rc)
{
	struct sipovl_nl *nl;
	struct sipovl_err e;

	if (sipovl_open(&nl, &e) < 0) {
		*rc = nl_open_fail(&e);
		return NULL;
	}
	return nl;
}

static int finish_output(int rc)
{
	if (fflush(stdout) == EOF || ferror(stdout)) {
		if (errno == EPIPE)
			return rc ? rc : EXIT_FAIL;
		return rc ? rc : fail("write error on standard output: %s",
				      strerror(errno));
	}
	return rc;
}

/* ---- help ------------------------------------------------------------- */

struct cmd {
	const char *name;
	const char *alias;
	int (*fn)(int argc, char **argv);
	const char *synopsis;
	const char *help;
};

struct object {
	const char *name;
	const struct cmd *cmds;
	const char *defcmd;		/* command when none is given */
	const char *summary;
};

static const struct object objects[];

static void print_object_help(const struct object *o)
{
	const struct cmd *c;

	printf("Usage: %s [OPTIONS] %s", prog, o->name);
	if (o->cmds[0].name && o->cmds[1].name)
		printf(" { ");
	else
		printf(" ");
	for (c = o->cmds; c->name; c++)
		printf("%s%s", c == o->cmds ? "" : " | ", c->name);
	printf("%s\n\n%s\n\n", o->cmds[1].name ? " }" : "", o->summary);
	for (c = o->cmds; c->name; c++)
		printf("  %s %s\n", o->name, c->synopsis);
	printf("\n'%s %s COMMAND --help' describes a command.\n", prog, o->name);
}

static void print_cmd_help(const struct object *o, const struct cmd *c)
{
	printf("Usage: %s [OPTIONS] %s %s\n\n%s", prog, o->name, c->synopsis,
	       c->help);
}

static void print_main_help(void)
{
	const struct object *o;

	printf("Usage: %s [OPTIONS] OBJECT [COMMAND [ARGS]]\n\n"
	       "Configure sipovl.ko: intercepts (CIDR + port ranges steered to sipovld),\n"
	       "transparent source ranges, counters and events.\n\n"
	       "Objects:\n", prog);
	for (o = objects; o->name; o++)
		printf("  %-10s %s\n", o->name, o->summary);
	printf("\nOptions:\n"
	       "  -j, --json          JSON output\n"
	       "  -p, --pretty        indented JSON (with -j)\n"
	       "  -s, --stats         include counters\n"
	       "  -n, --netns NAME    act in network namespace NAME (/run/netns/NAME)\n"
	       "  -V, --version       print the version\n"
	       "  -h, --help          this help; 'OBJECT --help' and\n"
	       "                      'OBJECT COMMAND --help' describe the others\n\n"
	       "Exit status: 0 success, 1 failure, 2 bad usage or input.\n"
	       "See sipovlctl(8).\n");
}

/* ---- argument helpers ------------------------------------------------- */

static int no_more_args(int argc, char **argv)
{
	char q[TOKQ_LEN];

	if (argc > 0)
		return usage_err("unexpected argument %s", tokq(q, argv[0]));
	return 0;
}

/* NAME|ID selector. */
struct selector {
	uint32_t id;
	char name[SIPOVL_NAME_MAXLEN];
	char desc[SIPOVL_NAME_MAXLEN + 32];	/* for "not found" messages */
};

static int parse_selector(const char *tok, struct selector *s)
{
	struct ctl_err err;
	char q[TOKQ_LEN];

	memset(s, 0, sizeof(*s));
	if (is_id_token(tok)) {
		if (parse_id(tok, &s->id, &err))
			return parse_err(&err);
		snprintf(s->desc, sizeof(s->desc), "intercept id %u not found", s->id);
		return 0;
	}
	if (parse_name(tok, s->name, &err))
		return parse_err(&err);
	snprintf(s->desc, sizeof(s->desc), "intercept %s not found", tokq(q, s->name));
	return 0;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ---- intercept -------------------------------------------------------- */

static void print_istats_line(FILE *f, const struct sipovl_istats *s)
{
	fprintf(f, "packets %llu bytes %llu flows %llu drops %llu passes %llu",
		(unsigned long long)s->packets, (unsigned long long)s->bytes,
		(unsigned long long)s->flows, (unsigned long long)s->drops,
		(unsigned long long)s->passes);
}

/* "ID: NAME proto P addr L port L [src L] policy P [counters]" */
static void print_intercept_line(FILE *f, const struct sipovl_intercept *in)
{
	fprintf(f, "%u: ", in->id);
	print_name_token(f, in->name);
	print_intercept_match(f, in);
	if (opt.stats) {
		fputc(' ', f);
		print_istats_line(f, &in->stats);
	}
	fputc('\n', f);
}

static int add_or_replace(int argc, char **argv, bool replace)
{
	const char *what = replace ? "intercept replace" : "intercept add";
	struct sipovl_intercept in, reply = { 0 };
	struct sipovl_nl *nl;
	struct ctl_err err;
	char q[TOKQ_LEN], nf[SIPOVL_NAME_MAXLEN + 64];
	int rc = 0, ret;

	if (parse_intercept_args(argc, argv, true, &in, &err))
		return parse_err(&err);
	nl = nl_open(&rc);
	if (!nl)
		goto out;
	if (replace) {
		ret = sipovl_intercept_replace(nl, &in);
	} else {
		ret = sipovl_intercept_add(nl, &in, &reply);
	}
	if (ret) {
		if (in.present & SIPOVL_I_ID)
			snprintf(nf, sizeof(nf), "intercept id %u not found", in.id);
		else
			snprintf(nf, sizeof(nf), "intercept %s not found",
				 tokq(q, in.name));
		rc = nl_fail(sipovl_error(nl), what, nf);
	} else if (opt.json && !replace && (reply.present & SIPOVL_I_ID)) {
		json_emit(stdout, json_intercept(&reply, opt.stats), opt.pretty);
	}
	sipovl_close(nl);
out:
	sipovl_intercept_release(&reply);
	sipovl_intercept_release(&in);
	return rc;
}

static int do_intercept_add(int argc, char **argv)
{
	return add_or_replace(argc, argv, false);
}

static int do_intercept_replace(int argc, char **argv)
{
	return add_or_replace(argc, argv, true);
}

static int do_intercept_del(int argc, char **argv)
{
	struct sipovl_nl *nl;
	struct selector s;
	int rc = 0;

	if (argc < 1)
		return usage_err("missing intercept NAME or ID");
	if (parse_selector(argv[0], &s) || no_more_args(argc - 1, argv + 1))
		return EXIT_USAGE;
	nl = nl_open(&rc);
	if (!nl)
		return rc;
	if (sipovl_intercept_del(nl, s.id, s.name))
		rc = nl_fail(sipovl_error(nl), "intercept del", s.desc);
	sipovl_close(nl);
	return rc;
}

static int cmp_id(const void *a, const void *b)
{
	const struct sipovl_intercept *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static void print_intercepts(const struct sipovl_intercept *v, size_t n,
			     bool config)
{
	struct json_stream js;
	size_t i;

	if (opt.json) {
		json_array_begin(&js, stdout, opt.pretty);
		for (i = 0; i < n; i++)
			json_array_add(&js, json_intercept(&v[i], opt.stats));
		json_array_end(&js);
		return;
	}
	for (i = 0; i < n; i++) {
		if (config)
			print_intercept_config(stdout, &v[i]);
		else
			print_intercept_line(stdout, &v[i]);
	}
}

static int do_intercept_show(int argc, char **argv)
{
	struct sipovl_intercept *v = NULL, one;
	bool config = false, have_sel = false;
	double t0;
	struct sipovl_config cfg;
	struct sipovl_nl *nl;
	struct selector s;
	size_t n = 0;
	int i, rc = 0;

	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--config")) {
			config = true;
			continue;
		}
		if (have_sel)
			return no_more_args(1, &argv[i]);
		if (parse_selector(argv[i], &s))
			return EXIT_USAGE;
		have_sel = true;
	}
	if (config && opt.json)
		return usage_err("--config and -j are mutually exclusive");

	nl = nl_open(&rc);
	if (!nl)
		return rc;
	if (have_sel) {
		if (sipovl_intercept_get(nl, s.id, s.name, &one)) {
			rc = nl_fail(sipovl_error(nl), "intercept show", s.desc);
			goto out;
		}
		print_intercepts(&one, 1, config);
		sipovl_intercept_release(&one);
		goto out;
	}
	if (config) {
		/* The whole apply file: sources first, then the intercepts. */
		if (sipovl_config_get(nl, &cfg)) {
			rc = nl_fail(sipovl_error(nl), "intercept show", NULL);
			goto out;
		}
		print_sources_config(stdout, cfg.sources, cfg.n_sources);
		sipovl_config_release(&cfg);
	}
	t0 = now_ms();
	if (sipovl_intercept_dump(nl, &v, &n)) {
		rc = nl_fail(sipovl_error(nl), "intercept show", NULL);
		goto out;
	}
	if (getenv("SIPOVLCTL_TIMING"))
		fprintf(stderr, "sipovlctl: timing: dump of %zu intercepts: %.1f ms, %u restarts\n",
			n, now_ms() - t0, sipovl_error(nl)->restarts);
	/* The kernel dumps in id order; sort anyway so output is stable. */
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_id);
	print_intercepts(v, n, config);
	sipovl_intercepts_free(v, n);
out:
	sipovl_close(nl);
	return rc;
}

static int do_intercept_flush(int argc, char **argv)
{
	struct sipovl_nl *nl;
	int rc = no_more_args(argc, argv);

	if (rc)
		return rc;
	nl = nl_open(&rc);
	if (!nl)
		return rc;
	if (sipovl_intercept_flush(nl))
		rc = nl_fail(sipovl_error(nl), "intercept flush", NULL);
	sipovl_close(nl);
	return rc;
}

/* ---- apply ------------------------------------------------------------ */

/*
 * apply streams: a sender thread appends the intercepts to the kernel's table
 * transaction (TABLE_ADD) while the main thread is still parsing the rest of
 * the file, so parsing and the kernel's work overlap. Nothing changes before
 * the commit, which comes only after the whole file parsed cleanly; a parse
 * error wins over an error of the kernel, as when the file was parsed first.
 */
#define STREAM_CHUNK 2048	/* intercepts the sender waits for */
/*
 * Only files of at least this size (about 28k intercepts) stream: below it
 * the overlap gains little (the kernel's part of 10k is ~0.1 s in the test
 * VM), and a second thread costs cross-CPU wakeups and waits that measured
 * far worse than that on a busy host (Documentation/benchmarks.md).
 */
#define STREAM_MIN_BYTES (2 << 20)

static bool stream_worth_it(FILE *f)
{
	struct stat st;

	if (getenv("SIPOVLCTL_SERIAL"))
		return false;
	return !fstat(fileno(f), &st) && S_ISREG(st.st_mode) &&
	       st.st_size >= STREAM_MIN_BYTES;
}

struct stream {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	const struct ctl_config *cfg;
	struct sipovl_nl *nl;
	uint32_t txn;
	size_t ready, sent;		/* cfg->v[0..ready) final; [0..sent) sent */
	bool done, stop;
	int ret;			/* first TABLE_ADD error, with e */
	struct sipovl_err e;
	struct sipovl_intercept *buf;	/* shallow copies of the next chunk */
	size_t buf_cap;
	pthread_t thread;
	bool running;
};

static void *stream_main(void *arg)
{
	struct stream *s = arg;
	size_t k, first;
	int ret;

	pthread_mutex_lock(&s->lock);
	while (!s->stop) {
		k = s->ready - s->sent;
		if (!k && s->done)
			break;
		if (k < STREAM_CHUNK && !s->done) {
			pthread_cond_wait(&s->cond, &s->lock);
			continue;
		}
		if (k > s->buf_cap) {
			void *b = realloc(s->buf, k * sizeof(*s->buf));

			if (!b) {
				s->ret = -ENOMEM;
				memset(&s->e, 0, sizeof(s->e));
				s->e.errnum = ENOMEM;
				s->e.index = -1;
				break;
			}
			s->buf = b;
			s->buf_cap = k;
		}
		/*
		 * cfg->v may move while we send (the parser grows it under
		 * the lock); the arrays its intercepts point to do not.
		 */
		first = s->sent;
		memcpy(s->buf, s->cfg->v + first, k * sizeof(*s->buf));
		pthread_mutex_unlock(&s->lock);
		ret = sipovl_table_add(s->nl, s->txn, s->buf, k);
		pthread_mutex_lock(&s->lock);
		if (ret) {
			/* The kernel aborted the transaction already. */
			s->ret = ret;
			s->e = *sipovl_error(s->nl);
			if (s->e.index >= 0)
				s->e.index += (long)first;
			break;
		}
		s->sent += k;
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

static void stream_lock(void *arg)
{
	pthread_mutex_lock(&((struct stream *)arg)->lock);
}

static void stream_unlock(void *arg)
{
	pthread_mutex_unlock(&((struct stream *)arg)->lock);
}

static void stream_ready(void *arg, size_t n)
{
	struct stream *s = arg;

	pthread_mutex_lock(&s->lock);
	s->ready = n;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

/* Ends the sender: after everything ready was sent (@stop false) or now. */
static void stream_join(struct stream *s, bool stop)
{
	if (!s->running)
		return;
	pthread_mutex_lock(&s->lock);
	if (stop)
		s->stop = true;
	s->done = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	s->running = false;
}

static void stream_failed(void *arg)
{
	stream_join(arg, true);
}

static int do_apply(int argc, char **argv)
{
	double t_start = now_ms(), t_parsed = 0, t_added = 0;
	struct ctl_config_hooks hooks = {
		.lock = stream_lock, .unlock = stream_unlock,
		.ready = stream_ready, .failed = stream_failed,
	};
	struct stream st = { .ret = 0 };
	struct sipovl_err e, open_err;
	const char *file = NULL, *fname;
	struct sipovl_nl *nl = NULL;
	struct ctl_config cfg;
	struct ctl_err err;
	bool check = false, stream = false, sources_done = false;
	char q[TOKQ_LEN];
	uint32_t gen;
	FILE *f;
	int i, rc = 0, ret;

	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--check")) {
			check = true;
		} else if (!file) {
			file = argv[i];
		} else {
			return usage_err("unexpected argument %s", tokq(q, argv[i]));
		}
	}
	if (!file)
		return usage_err("missing FILE (or - for standard input)");
	if (!strcmp(file, "-")) {
		f = stdin;
		fname = "<stdin>";
	} else {
		f = fopen(file, "re");
		if (!f)
			return fail("cannot open %s: %s", tokq(q, file), strerror(errno));
		fname = file;
	}

	/*
	 * Open the transaction first, to stream into it; any failure here is
	 * reported only after the file parsed cleanly, as before streaming.
	 */
	memset(&open_err, 0, sizeof(open_err));
	ret = 0;
	if (!check) {
		stream = stream_worth_it(f);
		ret = sipovl_open(&nl, &open_err);
		if (ret >= 0) {
			ret = sipovl_table_begin(nl, &st.txn);
			if (ret)
				open_err = *sipovl_error(nl);
		}
		if (!ret && stream) {
			/*
			 * No munmap() or heap trimming while two threads run:
			 * each would make the other CPU flush its TLB, an IPI
			 * that stalls (badly in a VM with busy vCPUs).
			 */
			mallopt(M_MMAP_THRESHOLD, 256 << 20);
			mallopt(M_TRIM_THRESHOLD, INT_MAX);
			pthread_mutex_init(&st.lock, NULL);
			pthread_cond_init(&st.cond, NULL);
			st.cfg = &cfg;
			st.nl = nl;
			hooks.arg = &st;
			st.running = !pthread_create(&st.thread, NULL, stream_main, &st);
		}
	}
	ret = parse_config_stream(f, fname, &cfg, st.running ? &hooks : NULL, &err);
	if (f != stdin)
		fclose(f);
	t_parsed = now_ms();
	if (ret) {
		/* The sender is gone (failed hook); closing nl aborts the txn. */
		rc = parse_err(&err);
		goto close;
	}

	if (check) {
		if (opt.json)
			print_intercepts(cfg.v, cfg.n, false);
		goto out;
	}
	if (!nl) {
		rc = nl_open_fail(&open_err);
		goto out;
	}
	if (!st.running && !open_err.errnum) {
		/* Not streaming: the plain way. */
		ret = sipovl_table_add(nl, st.txn, cfg.v, cfg.n);
		if (ret) {
			st.ret = ret;
			st.e = *sipovl_error(nl);
		}
	}
	stream_join(&st, false);
	t_added = now_ms();
	if (open_err.errnum) {
		ret = -open_err.errnum;
		e = open_err;
	} else if (st.ret) {
		/* A failed TABLE_ADD aborted it in the kernel already. */
		ret = st.ret;
		e = st.e;
		sipovl_table_abort(nl, st.txn);
	} else {
		/*
		 * The sources go with the commit, so that a concurrent apply
		 * cannot put its sources between our table and ours.
		 */
		if (cfg.has_sources)
			ret = sipovl_table_commit_sources(nl, st.txn, cfg.sources,
							  cfg.n_sources, &gen,
							  &sources_done);
		else
			ret = sipovl_table_commit(nl, st.txn, &gen);
		if (ret) {
			e = *sipovl_error(nl);
			sipovl_table_abort(nl, st.txn);
		}
	}
	if (ret) {
		char what[512];

		if (e.index >= 0 && (size_t)e.index < cfg.n)
			snprintf(what, sizeof(what), "apply: %.400s:%u", fname,
				 cfg.lines[e.index]);
		else
			snprintf(what, sizeof(what), "apply");
		rc = nl_fail(&e, what, NULL);
	} else if (cfg.has_sources && !sources_done &&
		   sipovl_sources_set(nl, cfg.sources, cfg.n_sources)) {
		/* (only with a module older than sipovlctl) */
		rc = nl_fail(sipovl_error(nl),
			     "apply: intercepts replaced, but setting the sources failed",
			     NULL);
	}
	/*
	 * For benchmarks: where the time goes, on stderr, only when asked.
	 * The sender overlaps parsing: "table add" is what remained after it.
	 */
	if (!rc && getenv("SIPOVLCTL_TIMING"))
		fprintf(stderr, "sipovlctl: timing: %zu intercepts: parse %.1f ms, table add %.1f ms, commit %.1f ms\n",
			cfg.n, t_parsed - t_start, t_added - t_parsed, now_ms() - t_added);
out:
	ctl_config_release(&cfg);
close:
	stream_join(&st, true);
	free(st.buf);
	if (hooks.arg) {
		pthread_cond_destroy(&st.cond);
		pthread_mutex_destroy(&st.lock);
	}
	sipovl_close(nl);
	return rc;
}

/* ---- stats ------------------------------------------------------------ */

static void print_stats_line(const struct sipovl_stats *s)
{
	printf("global: lookups %llu steered %llu passed %llu dropped %llu errors %llu replies %llu src_denied %llu\n",
	       (unsigned long long)s->lookups, (unsigned long long)s->steered,
	       (unsigned long long)s->passed, (unsigned long long)s->dropped,
	       (unsigned long long)s->errors, (unsigned long long)s->replies,
	       (unsigned long long)s->src_denied);
}

static void print_intercept_stats(const struct sipovl_intercept *in)
{
	printf("intercept %u ", in->id);
	print_name_token(stdout, in->name);
	fputs(": ", stdout);
	print_istats_line(stdout, &in->stats);
	fputc('\n', stdout);
}

static struct json_object *json_intercept_stats(const struct sipovl_intercept *in)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_uint64(in->id));
	json_object_object_add(o, "name", json_name(in->name));
	json_object_object_add(o, "stats", json_istats(&in->stats));
	return o;
}

static int do_stats_show(int argc, char **argv)
{
	struct sipovl_intercept *v = NULL, one;
	struct sipovl_stats st;
	struct sipovl_nl *nl;
	struct selector s;
	size_t n = 0, i;
	int rc = 0;

	if (argc > 0 && (parse_selector(argv[0], &s) ||
			 no_more_args(argc - 1, argv + 1)))
		return EXIT_USAGE;
	nl = nl_open(&rc);
	if (!nl)
		return rc;
	if (argc > 0) {
		if (sipovl_intercept_get(nl, s.id, s.name, &one)) {
			rc = nl_fail(sipovl_error(nl), "stats", s.desc);
			goto out;
		}
		if (opt.json)
			json_emit(stdout, json_intercept_stats(&one), opt.pretty);
		else
			print_intercept_stats(&one);
		sipovl_intercept_release(&one);
		goto out;
	}
	if (sipovl_stats_get(nl, false, &st)) {
		rc = nl_fail(sipovl_error(nl), "stats", NULL);
		goto out;
	}
	if (sipovl_intercept_dump(nl, &v, &n)) {
		rc = nl_fail(sipovl_error(nl), "stats", NULL);
		goto out;
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_id);
	if (opt.json) {
		struct json_object *o = json_object_new_object();
		struct json_object *a = json_object_new_array_ext((int)n);

		json_object_object_add(o, "global", json_stats(&st));
		for (i = 0; i < n; i++)
			json_object_array_add(a, json_intercept_stats(&v[i]));
		json_object_object_add(o, "intercepts", a);
		json_emit(stdout, o, opt.pretty);
	} else {
		print_stats_line(&st);
		for (i = 0; i < n; i++)
			print_intercept_stats(&v[i]);
	}
	sipovl_intercepts_free(v, n);
out:
	sipovl_close(nl);
	return rc;
}

static int do_stats_reset(int argc, char **argv)
{
	struct sipovl_stats st;
	struct sipovl_nl *nl;
	int rc = no_more_args(argc, argv);

	if (rc)
		return rc;
	nl = nl_open(&rc);
	if (!nl)
		return rc;
	if (sipovl_stats_get(nl, true, &st))
		rc = nl_fail(sipovl_error(nl), "stats reset", NULL);
	else if (opt.json)
		json_emit(stdout, json_stats(&st), opt.pretty);
	sipovl_close(nl);
	return rc;
}

/* ---- sources ---------------------------------------------------------- */

static int do_sources_show(int argc, char **argv)
{
	struct sipovl_config cfg;
	struct sipovl_nl *nl;
	char buf[PREFIX_STRLEN];
	int rc = no_more_args(argc, argv);
	uint32_t i;

	if (rc)
		return rc;
	nl = nl_open(&rc);
	if (!nl)
		return rc;
	if (sipovl_config_get(nl, &cfg)) {
		rc = nl_fail(sipovl_error(nl), "sources show", NULL);
	} else {
		if (opt.json)
			json_emit(stdout, json_prefixes(cfg.sources, cfg.n_sources),
				  opt.pretty);
		else
			for (i = 0; i < cfg.n_sources; i++)
				printf("%s\n", fmt_prefix(buf, &cfg.sources[i]));
		sipovl_config_release(&cfg);
	}
	sipovl_close(nl);
	return rc;
}

static int sources_set(const struct sipovl_prefix *v, uint32_t n, const char *what)
{
	struct sipovl_nl *nl;
	int rc = 0;

	nl = nl_open(&rc);
	if (!nl)
		return rc;
	if (sipovl_sources_set(nl, v, n))
		rc = nl_fail(sipovl_error(nl), what, NULL);
	sipovl_close(nl);
	return rc;
}

static int do_sources_set(int argc, char **argv)
{
	struct sipovl_prefix *v;
	struct ctl_err err;
	uint32_t n;
	int rc;

	if (argc < 1)
		return usage_err("missing PREFIX[,PREFIX...]");
	if (no_more_args(argc - 1, argv + 1))
		return EXIT_USAGE;
	if (parse_prefix_list(argv[0], "transparent source",
			      SIPOVL_MAX_TRANSPARENT_SOURCES, &v, &n, &err))
		return parse_err(&err);
	rc = sources_set(v, n, "sources set");
	free(v);
	return rc;
}

static int do_sources_flush(int argc, char **argv)
{
	int rc = no_more_args(argc, argv);

	return rc ? rc : sources_set(NULL, 0, "sources flush");
}

/* ---- socket, config ---------------------------------------------------- */

static void print_sockets(const struct sipovl_config *c)
{
	uint32_t i;

	for (i = 0; i < c->n_sockets; i++)
		sipovl_socket_print(stdout, &c->sockets[i]);
}

static int get_config(struct sipovl_config *cfg, const char *what)
{
	struct sipovl_nl *nl;
	int rc = 0;

	nl = nl_open(&rc);
	if (!nl)
		return rc;
	if (sipovl_config_get(nl, cfg))
		rc = nl_fail(sipovl_error(nl), what, NULL);
	sipovl_close(nl);
	return rc;
}

static int do_socket_show(int argc, char **argv)
{
	struct sipovl_config cfg;
	int rc = no_more_args(argc, argv);

	if (rc || (rc = get_config(&cfg, "socket show")))
		return rc;
	if (opt.json) {
		struct json_object *o = json_config(&cfg), *s = NULL;

		json_object_object_get_ex(o, "sockets", &s);
		json_emit(stdout, json_object_get(s), opt.pretty);
		json_object_put(o);
	} else {
		print_sockets(&cfg);
	}
	sipovl_config_release(&cfg);
	return 0;
}

static int do_socket_unregister(int argc, char **argv)
{
	uint16_t family = 0;
	uint8_t proto = 0;
	struct sipovl_nl *nl;
	struct ctl_err err;
	char q[TOKQ_LEN];
	int i, rc = 0;

	for (i = 0; i < argc; i += 2) {
		if (i + 1 >= argc)
			return usage_err("missing value after %s", tokq(q, argv[i]));
		if (!strcmp(argv[i], "family") && !family) {
			if (!strcmp(argv[i + 1], "inet"))
				family = AF_INET;
			else if (!strcmp(argv[i + 1], "inet6"))
				family = AF_INET6;
			else
				return usage_err("bad family %s: expected inet or inet6",
						 tokq(q, argv[i + 1]));
		} else if (!strcmp(argv[i], "proto") && !proto) {
			if (parse_l4proto(argv[i + 1], &proto, &err))
				return parse_err(&err);
		} else if (!strcmp(argv[i], "family") || !strcmp(argv[i], "proto")) {
			return usage_err("keyword %s given twice", tokq(q, argv[i]));
		} else {
			return usage_err("unknown keyword %s: expected family or proto",
					 tokq(q, argv[i]));
		}
	}
	nl = nl_open(&rc);
	if (!nl)
		return rc;
	if (sipovl_socket_unregister(nl, family, proto))
		rc = nl_fail(sipovl_error(nl), "socket unregister",
			     "no such socket registration");
	sipovl_close(nl);
	return rc;
}

static int do_config_show(int argc, char **argv)
{
	struct sipovl_config cfg;
	int rc = no_more_args(argc, argv);

	if (rc || (rc = get_config(&cfg, "config show")))
		return rc;
	if (opt.json) {
		json_emit(stdout, json_config(&cfg), opt.pretty);
	} else {
		printf("generation %u\nintercepts %u\n", cfg.generation,
		       cfg.intercept_count);
		print_sources_config(stdout, cfg.sources, cfg.n_sources);
		print_sockets(&cfg);
	}
	sipovl_config_release(&cfg);
	return 0;
}

/* ---- lookup ----------------------------------------------------------- */

static int do_lookup(int argc, char **argv)
{
	enum { L_PROTO, L_SRC, L_DST, L_SPORT, L_DPORT, L_MAX };
	static const char *const kw[L_MAX] = { "proto", "src", "dst", "sport", "dport" };
	bool seen[L_MAX] = { false };
	struct sipovl_tuple t = { 0 };
	char name[SIPOVL_NAME_MAXLEN], q[TOKQ_LEN], q2[TOKQ_LEN];
	const char *src_tok = NULL, *dst_tok = NULL;
	uint16_t sfam = 0, dfam = 0;
	struct sipovl_nl *nl;
	struct ctl_err err;
	uint32_t id;
	int i, k, rc = 0;

	for (i = 0; i < argc; i += 2) {
		for (k = 0; k < L_MAX; k++)
			if (!strcmp(argv[i], kw[k]))
				break;
		if (k == L_MAX)
			return usage_err("unknown keyword %s: expected proto, src, dst, sport or dport",
					 tokq(q, argv[i]));
		if (seen[k])
			return usage_err("keyword %s given twice", tokq(q, argv[i]));
		seen[k] = true;
		if (i + 1 >= argc)
			return usage_err("missing value after %s", tokq(q, argv[i]));
		switch (k) {
		case L_PROTO:
			if (parse_l4proto(argv[i + 1], &t.protocol, &err))
				return parse_err(&err);
			break;
		case L_SRC:
			if (parse_addr(argv[i + 1], &sfam, t.src, &err))
				return parse_err(&err);
			src_tok = argv[i + 1];
			break;
		case L_DST:
			if (parse_addr(argv[i + 1], &dfam, t.dst, &err))
				return parse_err(&err);
			dst_tok = argv[i + 1];
			break;
		case L_SPORT:
			if (parse_port(argv[i + 1], &t.sport, &err))
				return parse_err(&err);
			t.has_sport = true;
			break;
		case L_DPORT:
			if (parse_port(argv[i + 1], &t.dport, &err))
				return parse_err(&err);
			break;
		}
	}
	for (k = 0; k < L_MAX; k++)
		if (!seen[k] && k != L_SPORT)
			return usage_err("missing \"%s\": usage: lookup proto tcp|udp src ADDR dst ADDR dport PORT [sport PORT]",
					 kw[k]);
	if (sfam != dfam)
		return usage_err("address family mismatch: src %s is %s, dst %s is %s",
				 tokq(q, src_tok), sfam == AF_INET ? "IPv4" : "IPv6",
				 tokq(q2, dst_tok), dfam == AF_INET ? "IPv4" : "IPv6");
	t.family = dfam;

	nl = nl_open(&rc);
	if (!nl)
		return rc;
	if (sipovl_lookup(nl, &t, &id, name)) {
		const struct sipovl_err *e = sipovl_error(nl);

		if (e->errnum == ENOENT && !e->no_family) {
			if (opt.json)
				json_emit(stdout, json_object_new_object(), opt.pretty);
			else
				printf("no match\n");
		} else {
			rc = nl_fail(e, "lookup", NULL);
		}
	} else if (opt.json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "id", json_object_new_uint64(id));
		json_object_object_add(o, "name", json_name(name));
		json_emit(stdout, o, opt.pretty);
	} else {
		printf("%u ", id);
		print_name_token(stdout, name);
		putchar('\n');
	}
	sipovl_close(nl);
	return rc;
}

/* ---- monitor, status --------------------------------------------------- */

static int print_event(const struct sipovl_event *ev, void *data)
{
	const char *n = sipovl_cmd_name(ev->cmd);

	(void)data;
	if (opt.json) {
		json_emit(stdout, json_event(ev), false);
	} else {
		for (; *n; n++)
			putchar(*n == '_' ? ' ' : *n);
		if (ev->has_intercept && ev->id)
			printf(" id %u", ev->id);
		if (ev->has_intercept && ev->name[0]) {
			fputs(" name ", stdout);
			print_name_token(stdout, ev->name);
		}
		if (ev->has_generation)
			printf(" generation %u", ev->generation);
		putchar('\n');
	}
	fflush(stdout);
	return ferror(stdout) ? -EIO : 0;
}

static int do_monitor(int argc, char **argv)
{
	struct sipovl_nl *nl;
	int rc = no_more_args(argc, argv), ret;

	if (rc)
		return rc;
	nl = nl_open(&rc);
	if (!nl)
		return rc;
	if (sipovl_events_subscribe(nl)) {
		rc = sipovl_error(nl)->errnum == EOPNOTSUPP ?
			fail("monitor: the sipovl family has no \"%s\" multicast group",
			     SIPOVL_MCGRP_EVENTS) :
			nl_fail(sipovl_error(nl), "monitor", NULL);
		goto out;
	}
	for (;;) {
		ret = sipovl_events_recv(nl, print_event, NULL);
		if (ret == -ENOBUFS) {
			fprintf(stderr, "%s: monitor: events lost (receive buffer overflow)\n",
				prog);
			continue;
		}
		if (ret == -EIO) {
			rc = EXIT_FAIL;	/* stdout closed */
			break;
		}
		if (ret) {
			rc = nl_fail(sipovl_error(nl), "monitor", NULL);
			break;
		}
	}
out:
	sipovl_close(nl);
	return rc;
}

/* Human form of sipovld's status document: indented "key: value" lines. */
static void status_print(struct json_object *o, int depth, const char *key)
{
	enum json_type t = json_object_get_type(o);
	size_t i, n;

	if (t == json_type_object) {
		if (key)
			printf("%*s%s:\n", depth * 2, "", key);
		json_object_object_foreach(o, k, v)
			status_print(v, key ? depth + 1 : depth, k);
	} else if (t == json_type_array) {
		n = json_object_array_length(o);
		printf("%*s%s: (%zu)\n", depth * 2, "", key ? key : "-", n);
		for (i = 0; i < n; i++)
			status_print(json_object_array_get_idx(o, i), depth + 1, "-");
	} else {
		printf("%*s%s: %s\n", depth * 2, "", key ? key : "-",
		       o ? json_object_get_string(o) : "null");
	}
}

/*
 * sipovld's control socket (Documentation/sipovld.8.md): one request line,
 * one JSON document in reply.
 */
static int do_status(int argc, char **argv)
{
	const char *path = getenv("SIPOVLD_CTL_SOCK");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct json_object *doc, *err;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	ssize_t r;
	int fd, rc = no_more_args(argc, argv);

	if (rc)
		return rc;
	if (!path || !*path)
		path = SIPOVLD_CTL_SOCK;
	if (strlen(path) >= sizeof(sa.sun_path))
		return fail("status: control socket path too long: %s", path);
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail("status: socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = errno;
		close(fd);
		return fail("sipovld not running (cannot connect to %s: %s)", path,
			    strerror(rc));
	}
	if (write(fd, "status\n", 7) != 7) {
		close(fd);
		return fail("status: write to %s: %s", path, strerror(errno));
	}
	for (;;) {
		if (len + 4096 + 1 > cap) {
			char *nb = realloc(buf, cap = cap ? cap * 2 : 65536);

			if (!nb) {
				free(buf);
				close(fd);
				return fail("status: out of memory");
			}
			buf = nb;
		}
		r = read(fd, buf + len, cap - len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	if (!buf)
		return fail("status: sipovld closed %s without a reply", path);
	buf[len] = 0;
	doc = json_tokener_parse(buf);
	free(buf);
	if (!doc)
		return fail("status: sipovld's reply is not JSON");
	if (json_object_object_get_ex(doc, "error", &err)) {
		rc = fail("status: sipovld: %s", json_object_get_string(err));
		json_object_put(doc);
		return rc;
	}
	if (opt.json)
		json_emit(stdout, doc, opt.pretty);
	else {
		status_print(doc, 0, NULL);
		json_object_put(doc);
	}
	return 0;
}

/* "calls": the calls sipovld follows (ctl/calls.c) */
static int do_calls(int argc, char **argv)
{
	const char *path = getenv("SIPOVLD_CTL_SOCK");
	char err[300];
	int rc = no_more_args(argc, argv);

	if (rc)
		return rc;
	if (!path || !*path)
		path = SIPOVLD_CTL_SOCK;
	if (calls_show(path, opt.json, opt.pretty, opt.stats, err, sizeof(err)))
		return fail("calls: %s", err);
	return 0;
}

/* ---- tables ----------------------------------------------------------- */

static const struct cmd intercept_cmds[] = {
	{ "add", NULL, do_intercept_add,
	  "add NAME [id ID] proto PROTOS addr PREFIXES port PORTS [src PREFIXES] [policy drop|pass]",
	  "Adds an intercept. PROTOS is tcp, udp or tcp,udp; PREFIXES a comma-separated\n"
	  "list of IPv4/IPv6 prefixes (host bits zero; a bare address is a host prefix);\n"
	  "PORTS a comma-separated list of PORT or LOW-HIGH (0-65535). src restricts the\n"
	  "clients allowed to match. policy is what happens when no sipovld socket can\n"
	  "take the flow: drop (default, fail-closed) or pass (fail-open). Without id\n"
	  "the kernel picks the lowest free id. NAME: 1-63 bytes of UTF-8, not all\n"
	  "digits, not starting with \"-\".\n"
	  "  sipovlctl intercept add sip-eu proto udp,tcp addr 10.2.0.0/16,fd00:2::/48 port 5060-5061\n" },
	{ "replace", "change", do_intercept_replace,
	  "replace NAME [id ID] proto PROTOS addr PREFIXES port PORTS [src PREFIXES] [policy drop|pass]",
	  "Replaces the intercept with the given id (it may be renamed), or with\n"
	  "NAME when no id is given. Counters are kept. Arguments as for add.\n" },
	{ "del", "delete", do_intercept_del, "del NAME|ID",
	  "Deletes one intercept, by name or by id (an all-digit argument is an id).\n" },
	{ "show", "list", do_intercept_show, "show [NAME|ID] [--config]",
	  "Prints intercepts, one per line, sorted by id. -s adds counters, -j prints\n"
	  "JSON. --config prints the apply-file format (sipovlctl-config.md): a\n"
	  "\"sources\" line, then one \"intercept\" line per intercept; feeding it to\n"
	  "'sipovlctl apply' restores the same table.\n" },
	{ "flush", NULL, do_intercept_flush, "flush",
	  "Removes every intercept.\n" },
	{ NULL, NULL, NULL, NULL, NULL }
};

static const struct cmd apply_cmds[] = {
	{ "FILE", NULL, do_apply, "[--check] FILE|-",
	  "Replaces the whole intercept table with the one in FILE (- reads standard\n"
	  "input), atomically: packets see the old table or the new one, never a mix.\n"
	  "A \"sources\" line also replaces the transparent source ranges. The format is\n"
	  "that of 'intercept show --config' (see sipovlctl-config.md). A bad line is\n"
	  "reported as FILE:LINE and nothing changes.\n"
	  "--check only validates the file (no kernel needed); with -j it prints the\n"
	  "table that would be applied, ids assigned.\n" },
	{ NULL, NULL, NULL, NULL, NULL }
};

static const struct cmd stats_cmds[] = {
	{ "show", NULL, do_stats_show, "show [NAME|ID]",
	  "Prints the global counters and those of every intercept, or of one.\n"
	  "'stats NAME' is short for 'stats show NAME'.\n" },
	{ "reset", NULL, do_stats_reset, "reset",
	  "Zeroes all counters (global and per intercept); with -j prints the global\n"
	  "counters read just before.\n" },
	{ NULL, NULL, NULL, NULL, NULL }
};

static const struct cmd sources_cmds[] = {
	{ "show", "list", do_sources_show, "show",
	  "Prints the transparent source ranges, one per line.\n" },
	{ "set", NULL, do_sources_set, "set PREFIX[,PREFIX...]",
	  "Replaces the transparent source ranges: the addresses sipovld may use as\n"
	  "the source of connections it originates.\n" },
	{ "flush", NULL, do_sources_flush, "flush",
	  "Removes every transparent source range.\n" },
	{ NULL, NULL, NULL, NULL, NULL }
};

static const struct cmd socket_cmds[] = {
	{ "show", "list", do_socket_show, "show",
	  "Prints the sockets sipovld registered (family, protocol, port, state).\n" },
	{ "unregister", NULL, do_socket_unregister,
	  "unregister [family inet|inet6] [proto tcp|udp]",
	  "Drops socket registrations (all without arguments); matched flows then\n"
	  "follow each intercept's policy.\n" },
	{ NULL, NULL, NULL, NULL, NULL }
};

static const struct cmd config_cmds[] = {
	{ "show", NULL, do_config_show, "show",
	  "Prints the table generation, the number of intercepts, the transparent\n"
	  "source ranges and the registered sockets.\n" },
	{ NULL, NULL, NULL, NULL, NULL }
};

static const struct cmd lookup_cmds[] = {
	{ "TUPLE", NULL, do_lookup,
	  "proto tcp|udp src ADDR dst ADDR dport PORT [sport PORT]",
	  "Prints the intercept the kernel would match for this packet (\"ID NAME\"),\n"
	  "or \"no match\".\n" },
	{ NULL, NULL, NULL, NULL, NULL }
};

static const struct cmd monitor_cmds[] = {
	{ "EVENTS", NULL, do_monitor, "",
	  "Prints table changes as they happen, one line (or, with -j, one JSON\n"
	  "object) per event, until interrupted.\n" },
	{ NULL, NULL, NULL, NULL, NULL }
};

static const struct cmd status_cmds[] = {
	{ "STATUS", NULL, do_status, "",
	  "Reports sipovld's state over its control socket " SIPOVLD_CTL_SOCK "\n"
	  "(or $SIPOVLD_CTL_SOCK): identities, services with their kernel intercepts\n"
	  "and hosting state, flows, counters, memory, running configuration and the\n"
	  "kernel's state, as indented \"key: value\" lines, or with -j the daemon's\n"
	  "JSON document (fields: sipovld(8)). Fails with \"sipovld not running\"\n"
	  "when nothing listens on the socket.\n" },
	{ NULL, NULL, NULL, NULL, NULL }
};

static const struct cmd calls_cmds[] = {
	{ "CALLS", NULL, do_calls, "",
	  "Lists the calls sipovld follows in the SIP it carries (active ones, and\n"
	  "ended ones for 32 s): id, state, end reason, duration, codec, caller and\n"
	  "callee (user@host of From and To), Call-ID; then its SIP counters. -s adds\n"
	  "each call's media streams (side, media, RTP and RTCP address from the SDP,\n"
	  "codec, direction, hold); -j prints the daemon's JSON document (sipovld(8)).\n" },
	{ NULL, NULL, NULL, NULL, NULL }
};

/* Objects whose command is implicit have one pseudo-command in caps. */
static const struct object objects[] = {
	{ "intercept", intercept_cmds, "show", "add, replace, delete and show intercepts" },
	{ "apply", apply_cmds, "FILE", "replace the whole table from a file, atomically" },
	{ "stats", stats_cmds, "show", "global and per-intercept counters" },
	{ "sources", sources_cmds, "show", "transparent source ranges" },
	{ "socket", socket_cmds, "show", "sockets registered by sipovld" },
	{ "config", config_cmds, "show", "generation, counts, sources, sockets" },
	{ "lookup", lookup_cmds, "TUPLE", "which intercept a packet matches" },
	{ "monitor", monitor_cmds, "EVENTS", "print events" },
	{ "status", status_cmds, "STATUS", "sipovld status: services, intercepts, flows, counters" },
	{ "calls", calls_cmds, "CALLS", "the calls sipovld follows: SIP dialogs and their media" },
	{ NULL, NULL, NULL, NULL }
};

static bool implicit(const struct object *o)
{
	return o->cmds[0].name[0] >= 'A' && o->cmds[0].name[0] <= 'Z';
}

static const struct object *find_object(const char *name)
{
	const struct object *o;

	for (o = objects; o->name; o++)
		if (!strcmp(o->name, name))
			return o;
	return NULL;
}

static const struct cmd *find_cmd(const struct object *o, const char *name)
{
	const struct cmd *c;

	for (c = o->cmds; c->name; c++)
		if (!strcmp(c->name, name) || (c->alias && !strcmp(c->alias, name)))
			return c;
	return NULL;
}

static bool wants_help(int argc, char **argv)
{
	int i;

	for (i = 0; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return true;
	return false;
}

static void print_help_for(const struct object *o, const struct cmd *c)
{
	if (implicit(o)) {
		printf("Usage: %s [OPTIONS] %s%s%s\n\n%s", prog, o->name,
		       *o->cmds[0].synopsis ? " " : "", o->cmds[0].synopsis,
		       o->cmds[0].help);
		return;
	}
	if (c)
		print_cmd_help(o, c);
	else
		print_object_help(o);
}

/* "help [OBJECT [COMMAND]]" */
static int do_help(int argc, char **argv)
{
	const struct object *o;
	const struct cmd *c = NULL;
	char q[TOKQ_LEN];

	if (argc < 1) {
		print_main_help();
		return 0;
	}
	o = find_object(argv[0]);
	if (!o)
		return usage_err("unknown object %s: try '%s --help'", tokq(q, argv[0]),
				 prog);
	if (argc > 1 && !implicit(o)) {
		c = find_cmd(o, argv[1]);
		if (!c)
			return usage_err("unknown command %s for %s: try '%s %s --help'",
					 tokq(q, argv[1]), o->name, prog, o->name);
	}
	print_help_for(o, c);
	return 0;
}

static int dispatch(int argc, char **argv)
{
	const struct object *o;
	const struct cmd *c;
	char q[TOKQ_LEN];

	if (!strcmp(argv[0], "help"))
		return do_help(argc - 1, argv + 1);
	o = find_object(argv[0]);
	if (!o)
		return usage_err("unknown object %s: expected intercept, apply, stats, sources, socket, config, lookup, monitor, status or calls",
				 tokq(q, argv[0]));
	argc--;
	argv++;
	if (implicit(o)) {
		if (wants_help(argc, argv)) {
			print_help_for(o, NULL);
			return 0;
		}
		return o->cmds[0].fn(argc, argv);
	}
	if (argc == 0) {
		c = find_cmd(o, o->defcmd);
	} else if (!strcmp(argv[0], "help") || !strcmp(argv[0], "--help") ||
		   !strcmp(argv[0], "-h")) {
		print_object_help(o);
		return 0;
	} else {
		c = find_cmd(o, argv[0]);
		/* "stats NAME" is "stats show NAME". */
		if (!c && o->cmds == stats_cmds && argv[0][0] != '-') {
			c = find_cmd(o, "show");
			argc++;
			argv--;
		}
		if (!c)
			return usage_err("unknown command %s for %s: expected %s",
					 tokq(q, argv[0]), o->name,
					 o->cmds == intercept_cmds ?
					 "add, replace, del, show or flush" :
					 o->cmds == stats_cmds ? "show or reset" :
					 o->cmds == sources_cmds ? "show, set or flush" :
					 o->cmds == socket_cmds ? "show or unregister" :
					 "show");
		argc--;
		argv++;
	}
	if (wants_help(argc, argv)) {
		print_cmd_help(o, c);
		return 0;
	}
	return c->fn(argc, argv);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "pretty", no_argument, NULL, 'p' },
		{ "stats", no_argument, NULL, 's' },
		{ "statistics", no_argument, NULL, 's' },
		{ "netns", required_argument, NULL, 'n' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	char q[TOKQ_LEN];
	int c, ret;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+jpsn:Vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			opt.json = true;
			break;
		case 'p':
			opt.pretty = true;
			break;
		case 's':
			opt.stats = true;
			break;
		case 'n':
			opt.netns = optarg;
			break;
		case 'V':
			printf("sipovlctl %s (generic netlink family \"%s\" version %d)\n",
			       SIPOVL_VERSION_STR, SIPOVL_GENL_NAME, SIPOVL_GENL_VERSION);
			return finish_output(0);
		case 'h':
			print_main_help();
			return finish_output(0);
		case ':':
			return usage_err("option %s needs a value", tokq(q, argv[optind - 1]));
		default:
			if (optopt == 'n')
				return usage_err("option -n needs a value (a network namespace name)");
			return usage_err("unknown option %s: try '%s --help'",
					 tokq(q, argv[optind - 1]), prog);
		}
	}
	if (optind >= argc)
		return usage_err("missing OBJECT: try '%s --help'", prog);
	if (opt.netns) {
		ret = sipovl_enter_netns(opt.netns);
		if (ret)
			return fail("cannot enter network namespace %s: %s",
				    tokq(q, opt.netns), strerror(-ret));
	}
	return finish_output(dispatch(argc - optind, argv + optind));
}
