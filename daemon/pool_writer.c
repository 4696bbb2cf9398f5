// SPDX-License-Identifier: GPL-2.0
/*
 * sipovld ip-pool: the lease file written off the event loop. pool_store_write_buf's fsync(2)s
 * take as long as the disk wants (tens of milliseconds on a loaded disk, seconds on a
 * congested one); on the event loop they would stall every flow, dial and request meanwhile.
 * One worker thread does the writes, one at a time; its result comes back to the loop through
 * an eventfd and the caller's callback runs there.
 *
 * The thread is started at the first write, so after start-up's privilege drop (priv.c: the
 * capabilities libcap drops are per thread, a thread made before would keep them) and with
 * every signal blocked (SIGTERM and SIGHUP are read on the loop's signalfd; a thread not
 * blocking them would take their default action).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "daemon/pool_store.h"
#include "daemon/pool_writer.h"

static struct {
	bool started, quit;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int efd;
	struct zt_io io;
	struct zt_loop *loop;
	/* the job: set by submit, taken by the thread; the result: set by the thread */
	char *path, *buf;
	size_t len;
	bool job, done;
	int rc;
	char err[512];
	pool_writer_cb cb;
	void *arg;
} w = { .efd = -1 };

static void *writer_main(void *unused)
{
	(void)unused;
	pthread_mutex_lock(&w.mu);
	for (;;) {
		while (!w.job && !w.quit)
			pthread_cond_wait(&w.cv, &w.mu);
		if (!w.job) /* quit, with no write left to do */
			break;
		char *path = w.path, *buf = w.buf, err[512] = "";
		size_t len = w.len;

		pthread_mutex_unlock(&w.mu);
		int rc = pool_store_write_buf(path, buf, len, err, sizeof(err));

		pthread_mutex_lock(&w.mu);
		w.job = false;
		w.done = true;
		w.rc = rc;
		memcpy(w.err, err, sizeof(err));
		uint64_t one = 1;

		if (write(w.efd, &one, sizeof(one)) < 0) {
			/* an eventfd's counter does not overflow at one write per job */
		}
	}
	pthread_mutex_unlock(&w.mu);
	return NULL;
}

/* on the loop: the write is done */
static void writer_io(void *unused, uint32_t ev)
{
	uint64_t v;
	pool_writer_cb cb;
	void *arg;
	int rc;
	char err[512];

	(void)unused;
	(void)ev;
	if (read(w.efd, &v, sizeof(v)) < 0)
		return;
	pthread_mutex_lock(&w.mu);
	if (!w.done) {
		pthread_mutex_unlock(&w.mu);
		return;
	}
	w.done = false;
	rc = w.rc;
	memcpy(err, w.err, sizeof(err));
	cb = w.cb;
	arg = w.arg;
	free(w.path);
	free(w.buf);
	w.path = w.buf = NULL;
	w.cb = NULL;
	pthread_mutex_unlock(&w.mu);
	cb(rc, rc ? err : NULL, arg);
}

static int writer_start(struct zt_loop *loop)
{
	sigset_t all, old;
	int rc;

	w.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w.efd < 0)
		return -errno;
	pthread_mutex_init(&w.mu, NULL);
	pthread_cond_init(&w.cv, NULL);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&w.th, NULL, writer_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		pthread_cond_destroy(&w.cv);
		pthread_mutex_destroy(&w.mu);
		close(w.efd);
		w.efd = -1;
		return -rc;
	}
	w.loop = loop;
	zt_io_init(&w.io, w.efd, writer_io, NULL);
	zt_io_set(loop, &w.io, EPOLLIN);
	w.started = true;
	return 0;
}

bool pool_writer_busy(void)
{
	return w.cb != NULL;
}

int pool_writer_submit(struct zt_loop *loop, const char *path, char *buf, size_t len, pool_writer_cb cb, void *arg)
{
	char *p;
	int rc;

	if (w.cb) {
		free(buf);
		return -EBUSY;
	}
	if (!w.started && (rc = writer_start(loop))) {
		free(buf);
		return rc;
	}
	p = strdup(path);
	if (!p) {
		free(buf);
		return -ENOMEM;
	}
	pthread_mutex_lock(&w.mu);
	w.path = p;
	w.buf = buf;
	w.len = len;
	w.cb = cb;
	w.arg = arg;
	w.job = true;
	pthread_cond_signal(&w.cv);
	pthread_mutex_unlock(&w.mu);
	return 0;
}

void pool_writer_stop(void)
{
	if (!w.started)
		return;
	pthread_mutex_lock(&w.mu);
	w.quit = true; /* after the write submitted, if any: nothing acknowledged is lost */
	pthread_cond_signal(&w.cv);
	pthread_mutex_unlock(&w.mu);
	pthread_join(w.th, NULL);
	zt_io_del(w.loop, &w.io);
	close(w.efd);
	pthread_cond_destroy(&w.cv);
	pthread_mutex_destroy(&w.mu);
	free(w.path);
	free(w.buf);
	memset(&w, 0, sizeof(w));
	w.efd = -1;
}
