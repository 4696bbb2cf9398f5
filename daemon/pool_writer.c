// SPDX-License-Identifier: GPL-2.0
/*
 * sipovld ip-pool: the lease file (and an endpoint's state file) written off the event loop.
 * pool_store_write_buf's fsync(2)s take as long as the disk wants (tens of milliseconds on a
 * loaded disk, seconds on a congested one); on the event loop they would stall every flow, dial
 * and request meanwhile. One worker thread does the writes in the order they were submitted;
 * each result comes back to the loop through an eventfd and its caller's callback runs there,
 * in the same order.
 *
 * Writes queue (one sipovld can be a pool server and an endpoint: the endpoint's state file
 * and the server's lease file are written by the same thread, and neither waits for the other
 * on the loop; the DNS responder's name table too, dns_names_store.c, one write at a time).
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

struct job {
	struct job *next;
	char *path, *buf;
	size_t len;
	int rc;
	char err[512];
	pool_writer_cb cb;
	void *arg;
};

static struct {
	bool started, quit;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int efd;
	struct zt_io io;
	struct zt_loop *loop;
	/* under mu: submitted and not started (todo), being written (cur), written (done) */
	struct job *todo, **todo_tail, *cur, *done, **done_tail;
	unsigned pending; /* submitted, callback not run yet (loop side) */
} w = { .efd = -1 };

static void job_free(struct job *j)
{
	free(j->path);
	free(j->buf);
	free(j);
}

static void *writer_main(void *unused)
{
	(void)unused;
	pthread_mutex_lock(&w.mu);
	for (;;) {
		while (!w.todo && !w.quit)
			pthread_cond_wait(&w.cv, &w.mu);
		if (!w.todo) /* quit, with no write left to do */
			break;
		struct job *j = w.todo;

		w.todo = j->next;
		if (!w.todo)
			w.todo_tail = &w.todo;
		j->next = NULL;
		w.cur = j;
		pthread_mutex_unlock(&w.mu);
		j->rc = pool_store_write_buf(j->path, j->buf, j->len, j->err, sizeof(j->err));
		pthread_mutex_lock(&w.mu);
		w.cur = NULL;
		*w.done_tail = j;
		w.done_tail = &j->next;
		uint64_t one = 1;

		if (write(w.efd, &one, sizeof(one)) < 0) {
			/* an eventfd's counter does not overflow at one write per job */
		}
	}
	pthread_mutex_unlock(&w.mu);
	return NULL;
}

/* on the loop: writes are done; their callbacks in submission order */
static void writer_io(void *unused, uint32_t ev)
{
	uint64_t v;
	struct job *j;

	(void)unused;
	(void)ev;
	if (read(w.efd, &v, sizeof(v)) < 0)
		return;
	for (;;) {
		pthread_mutex_lock(&w.mu);
		j = w.done;
		if (j) {
			w.done = j->next;
			if (!w.done)
				w.done_tail = &w.done;
		}
		pthread_mutex_unlock(&w.mu);
		if (!j)
			break;
		w.pending--;
		j->cb(j->rc, j->rc ? j->err : NULL, j->arg);
		job_free(j);
	}
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
	w.todo_tail = &w.todo;
	w.done_tail = &w.done;
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
	return w.pending != 0;
}

int pool_writer_submit(struct zt_loop *loop, const char *path, char *buf, size_t len, pool_writer_cb cb, void *arg)
{
	struct job *j;
	int rc;

	if (!w.started && (rc = writer_start(loop))) {
		free(buf);
		return rc;
	}
	j = calloc(1, sizeof(*j));
	if (!j || !(j->path = strdup(path))) {
		free(j);
		free(buf);
		return -ENOMEM;
	}
	j->buf = buf;
	j->len = len;
	j->cb = cb;
	j->arg = arg;
	pthread_mutex_lock(&w.mu);
	*w.todo_tail = j;
	w.todo_tail = &j->next;
	w.pending++;
	pthread_cond_signal(&w.cv);
	pthread_mutex_unlock(&w.mu);
	return 0;
}

void pool_writer_stop(void)
{
	struct job *j;

	if (!w.started)
		return;
	pthread_mutex_lock(&w.mu);
	w.quit = true; /* after the writes submitted: nothing acknowledged is lost */
	pthread_cond_signal(&w.cv);
	pthread_mutex_unlock(&w.mu);
	pthread_join(w.th, NULL);
	zt_io_del(w.loop, &w.io);
	close(w.efd);
	pthread_cond_destroy(&w.cv);
	pthread_mutex_destroy(&w.mu);
	while ((j = w.done)) {
		w.done = j->next;
		job_free(j);
	}
	memset(&w, 0, sizeof(w));
	w.efd = -1;
}
