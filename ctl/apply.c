// SPDX-License-Identifier: GPL-2.0
/*
 * sipovlctl: apply, the whole table from a file, atomically (streamed to the
 * kernel while the file is parsed when it is large).
 */
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "ctl/json.h"
#include "ctl/libsipovl.h"
#include "ctl/parse.h"
#include "ctl/sipovlctl.h"

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

static int do_apply(const struct ctl *ctl, int argc, char **argv)
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
		if (ctl->json)
			print_intercepts(ctl, cfg.v, cfg.n, false);
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


const struct cmd apply_cmds[] = {
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
