// SPDX-License-Identifier: GPL-2.0
/* The reason of a failed OpenSSL call on a router or enrollment connection, as text. */
#include "zt_internal.h"

#include <errno.h>
#include <openssl/err.h>
#include <stdio.h>
#include <string.h>

void zt_ssl_err(char *buf, size_t len, const char *what, SSL *ssl, int rc)
{
	int e = SSL_get_error(ssl, rc);
	long vr = SSL_get_verify_result(ssl);
	unsigned long oe = ERR_peek_last_error();
	char ob[200] = "";

	if (oe)
		ERR_error_string_n(oe, ob, sizeof(ob));
	ERR_clear_error();
	if (vr != X509_V_OK)
		snprintf(buf, len, "%s: TLS certificate verification failed: %s", what,
			 X509_verify_cert_error_string(vr));
	else if (e == SSL_ERROR_SYSCALL)
		snprintf(buf, len, "%s: TLS I/O error: %s", what, errno ? strerror(errno) : "connection closed");
	else if (e == SSL_ERROR_ZERO_RETURN)
		snprintf(buf, len, "%s: TLS connection closed", what);
	else
		snprintf(buf, len, "%s: TLS error: %s", what, *ob ? ob : "unknown");
}
