// SPDX-License-Identifier: GPL-2.0
/*
 * LD_PRELOAD for tests/ziti/auth.sh: a slow disk. fsync(2) of a file whose name ends in ".tmp"
 * (a lease file being replaced, pool_store.c) first sleeps SLOW_FSYNC_MS milliseconds (default
 * 3000), so a test can see what the daemon does meanwhile; with SLOW_FSYNC_FAIL set it then
 * fails with EIO (a disk error).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int fsync(int fd)
{
	char link[64], path[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	if (n > 4 && !memcmp(path + n - 4, ".tmp", 4)) {
		const char *e = getenv("SLOW_FSYNC_MS");
		long ms = e ? atol(e) : 3000;
		struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

		nanosleep(&ts, NULL);
		if (getenv("SLOW_FSYNC_FAIL")) {
			errno = EIO;
			return -1;
		}
	}
	return (int)syscall(SYS_fsync, fd);
}
