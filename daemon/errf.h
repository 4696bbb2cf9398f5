/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one error formatter of the daemon's I/O-free parsers and stores (configuration, SIP,
 * SDP, DNS, the ip-pool): a message into the caller's buffer, and -1 to return.
 */
#ifndef SIPOVLD_ERRF_H
#define SIPOVLD_ERRF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* Formats into @err (@errlen bytes; nothing when @err is NULL or @errlen 0); returns -1. */
static inline int __attribute__((format(printf, 3, 4))) errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

#endif
