// SPDX-License-Identifier: GPL-2.0
/*
 * The facts of PROCESS posture checks: is a process of an executable running on this host, and
 * the SHA-512 of that executable's file (what the controller compares with the check's hashes,
 * as the OpenZiti clients compute it: the file at the path, lower-case hex).
 *
 * One pass over /proc per reading: a process matches a path when its /proc/PID/exe names the
 * path with its symbolic links resolved (realpath), or that path with " (deleted)" (the file was
 * replaced since the process started: an upgrade; the process still runs that program). The
 * kernel lets a process read the exe link of processes of its own user only (ptrace access,
 * CAP_SYS_PTRACE otherwise): processes of other users count in procs_hidden and are not seen
 * (Documentation/sipovld.8.md, "Posture checks", says what that means under the unit).
 *
 * Hashes are cached by path, device, inode, size and modification time: a file is read again
 * only when one of them changed. Hashing is off the event loop: one thread (started at the
 * first file, every signal blocked) hashes one file at a time and hands the result back
 * through an eventfd; until then the facts say hash_pending and nothing is answered (the
 * posture code lists the services again when the hashes are in). A file costs its size in SHA-512
 * (about 1.4 ms per MiB on the 2-core test machine: openssl speed sha512, 64 KiB blocks, 742 MB/s
 * at load 2.4); files over 256 MiB are not hashed.
 */
#include "zt_internal.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#define HASH_MAX_BYTES (256ull << 20)

struct file_id {
	unsigned long long dev, ino, size;
	long long mtime_ns;
};

static bool id_of(int fd, struct file_id *id)
{
	struct stat st;

	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (unsigned long long)st.st_size > HASH_MAX_BYTES)
		return false;
	id->dev = st.st_dev;
	id->ino = st.st_ino;
	id->size = (unsigned long long)st.st_size;
	id->mtime_ns = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
	return true;
}

static bool id_is(const struct zt_posture_hash *h, const struct file_id *id)
{
	return h->dev == id->dev && h->ino == id->ino && h->size == id->size && h->mtime_ns == id->mtime_ns;
}

/* the file's SHA-512 into @hex ("" when it cannot be read) and what was hashed into @id */
static void sha512_path(const char *path, char *hex, struct file_id *id)
{
	unsigned char md[EVP_MAX_MD_SIZE], buf[65536];
	unsigned int len = 0;
	EVP_MD_CTX *c;
	ssize_t n;
	bool ok;
	int fd;

	hex[0] = 0;
	memset(id, 0, sizeof(*id));
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return;
	if (!id_of(fd, id) || !(c = EVP_MD_CTX_new())) {
		close(fd);
		return;
	}
	ok = EVP_DigestInit_ex(c, EVP_sha512(), NULL);
	while (ok && (n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		ok = n > 0 && EVP_DigestUpdate(c, buf, (size_t)n);
	}
	if (ok && EVP_DigestFinal_ex(c, md, &len) && len == 64)
		for (unsigned int i = 0; i < len; i++)
			snprintf(hex + 2 * i, 3, "%02x", md[i]);
	EVP_MD_CTX_free(c);
	close(fd);
}

static void path_copy(char *dst, const char *src)
{
	size_t n = strnlen(src, PATH_MAX - 1);

	memmove(dst, src, n);
	dst[n] = 0;
}

static void slot_set(struct zt_posture_hash *h, const char *path, const struct file_id *id, const char *hex)
{
	path_copy(h->path, path);
	h->dev = id->dev;
	h->ino = id->ino;
	h->size = id->size;
	h->mtime_ns = id->mtime_ns;
	memcpy(h->hash, hex, sizeof(h->hash));
}

/* ---------------- the hasher thread ---------------- */

struct zt_hasher {
	struct zt_loop *loop;
	struct zt_posture_hash *cache;
	void (*done)(void *arg);
	void *arg;
	struct zt_io io; /* the eventfd the thread signals */
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* under mu: the job (busy until the loop took its result) and the result */
	bool busy, has_job, quit;
	char job[PATH_MAX], hex[129];
	struct file_id id;
};

static void *hasher_main(void *arg)
{
	struct zt_hasher *h = arg;
	char path[PATH_MAX], hex[129];
	struct file_id id;
	uint64_t one = 1;

	pthread_mutex_lock(&h->mu);
	for (;;) {
		while (!h->has_job && !h->quit)
			pthread_cond_wait(&h->cv, &h->mu);
		if (h->quit)
			break;
		memcpy(path, h->job, sizeof(path));
		h->has_job = false;
		pthread_mutex_unlock(&h->mu);
		sha512_path(path, hex, &id);
		pthread_mutex_lock(&h->mu);
		memcpy(h->hex, hex, sizeof(hex));
		h->id = id;
		if (write(h->io.fd, &one, sizeof(one)) < 0) {
			/* an eventfd's counter cannot overflow with one write per job */
		}
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

/* the next pending file to the thread, when it is idle (loop) */
static void hasher_kick(struct zt_hasher *h)
{
	struct zt_posture_hash *next = NULL;
	sigset_t all, old;

	if (h->busy)
		return;
	for (size_t i = 0; i < ZT_POSTURE_HASH_CACHE && !next; i++)
		if (h->cache[i].pending)
			next = &h->cache[i];
	if (!next)
		return;
	if (!h->started) {
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		h->started = !pthread_create(&h->thread, NULL, hasher_main, h);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (!h->started) { /* no thread: hashed here, as without a hasher */
			struct file_id id;
			char hex[129];

			for (size_t i = 0; i < ZT_POSTURE_HASH_CACHE; i++)
				if (h->cache[i].pending) {
					sha512_path(h->cache[i].path, hex, &id);
					slot_set(&h->cache[i], h->cache[i].path, &id, hex);
					h->cache[i].pending = false;
				}
			return;
		}
	}
	pthread_mutex_lock(&h->mu);
	path_copy(h->job, next->path);
	h->has_job = true;
	h->busy = true;
	pthread_cond_signal(&h->cv);
	pthread_mutex_unlock(&h->mu);
}

static void hasher_io_cb(void *arg, uint32_t events)
{
	struct zt_hasher *h = arg;
	char path[PATH_MAX], hex[129];
	struct file_id id;
	uint64_t n;
	bool more = false;

	(void)events;
	if (read(h->io.fd, &n, sizeof(n)) != sizeof(n))
		return;
	pthread_mutex_lock(&h->mu);
	memcpy(path, h->job, sizeof(path));
	memcpy(hex, h->hex, sizeof(hex));
	id = h->id;
	h->busy = false;
	pthread_mutex_unlock(&h->mu);
	for (size_t i = 0; i < ZT_POSTURE_HASH_CACHE; i++) {
		struct zt_posture_hash *c = &h->cache[i];

		if (c->pending && !strcmp(c->path, path)) {
			slot_set(c, path, &id, hex); /* a file changed meanwhile: its next reading hashes again */
			c->pending = false;
		}
		more |= c->pending;
	}
	if (more)
		hasher_kick(h);
	else
		h->done(h->arg);
}

struct zt_hasher *zt_hasher_new(struct zt_loop *loop, struct zt_posture_hash *cache, void (*done)(void *arg),
				void *arg)
{
	struct zt_hasher *h = calloc(1, sizeof(*h));
	int fd;

	if (!h)
		return NULL;
	fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0) {
		free(h);
		return NULL;
	}
	h->loop = loop;
	h->cache = cache;
	h->done = done;
	h->arg = arg;
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->cv, NULL);
	zt_io_init(&h->io, fd, hasher_io_cb, h);
	if (zt_io_set(loop, &h->io, EPOLLIN)) {
		close(fd);
		free(h);
		return NULL;
	}
	return h;
}

void zt_hasher_free(struct zt_hasher *h)
{
	if (!h)
		return;
	if (h->started) {
		pthread_mutex_lock(&h->mu);
		h->quit = true;
		pthread_cond_signal(&h->cv);
		pthread_mutex_unlock(&h->mu);
		pthread_join(h->thread, NULL); /* at most one file's hashing */
	}
	zt_io_del(h->loop, &h->io);
	close(h->io.fd);
	pthread_mutex_destroy(&h->mu);
	pthread_cond_destroy(&h->cv);
	free(h);
}

/* ---------------- the facts ---------------- */

/* @hex: the cached or computed hash; true: pending in the hasher */
static bool file_hash(const char *path, struct zt_posture_hash *cache, struct zt_hasher *hasher, char *hex)
{
	struct zt_posture_hash *slot = NULL;
	struct file_id id;
	int fd;

	hex[0] = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return false;
	if (!id_of(fd, &id)) {
		close(fd);
		return false;
	}
	close(fd);
	for (size_t i = 0; cache && i < ZT_POSTURE_HASH_CACHE; i++) {
		struct zt_posture_hash *h = &cache[i];

		if (!strcmp(h->path, path)) {
			if (h->pending)
				return true;
			if (id_is(h, &id) && h->hash[0]) {
				memcpy(hex, h->hash, sizeof(h->hash));
				return false;
			}
			slot = h;
			break;
		}
		if (!slot && !h->path[0])
			slot = h;
	}
	if (cache && !slot) { /* full: the first one not pending goes (16 executables in checks is many) */
		for (size_t i = 0; i < ZT_POSTURE_HASH_CACHE && !slot; i++)
			if (!cache[i].pending)
				slot = &cache[i];
	}
	if (hasher && slot) {
		memset(slot, 0, sizeof(*slot));
		path_copy(slot->path, path);
		slot->pending = true;
		hasher_kick(hasher);
		if (!slot->pending) /* no thread could be started: hashed by the kick */
			memcpy(hex, slot->hash, sizeof(slot->hash));
		return slot->pending;
	}
	sha512_path(path, hex, &id);
	if (slot && hex[0])
		slot_set(slot, path, &id, hex);
	return false;
}

int zt_posture_procs_read(struct zt_posture_facts *f, const char (*paths)[ZT_POSTURE_PATH_MAX], size_t n,
			  struct zt_posture_hash *cache, struct zt_hasher *hasher)
{
	char real[ZT_POSTURE_MAX_PROCS][PATH_MAX];
	struct dirent *e;
	DIR *d;

	if (n > ZT_POSTURE_MAX_PROCS)
		n = ZT_POSTURE_MAX_PROCS;
	f->n_procs = n;
	f->procs_hidden = 0;
	f->hash_pending = false;
	for (size_t i = 0; i < n; i++) {
		struct zt_posture_proc *p = &f->procs[i];

		snprintf(p->path, sizeof(p->path), "%s", paths[i]);
		p->running = false;
		if (!realpath(paths[i], real[i]))
			snprintf(real[i], sizeof(real[i]), "%s", paths[i]);
		f->hash_pending |= file_hash(real[i], cache, hasher, p->hash);
	}
	if (!n)
		return 0;
	d = opendir("/proc");
	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		char link[sizeof(e->d_name) + 16], exe[PATH_MAX + 16];
		ssize_t m;

		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		snprintf(link, sizeof(link), "/proc/%s/exe", e->d_name);
		m = readlink(link, exe, sizeof(exe) - 1);
		if (m < 0) {
			/* EACCES: another user's; ENOENT: a kernel thread or gone meanwhile */
			if (errno == EACCES || errno == EPERM)
				f->procs_hidden++;
			continue;
		}
		exe[m] = 0;
		if (m > 10 && !strcmp(exe + m - 10, " (deleted)"))
			exe[m - 10] = 0;
		for (size_t i = 0; i < n; i++)
			if (!f->procs[i].running && !strcmp(exe, real[i]))
				f->procs[i].running = true;
	}
	closedir(d);
	return 0;
}
