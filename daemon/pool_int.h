/* SPDX-License-Identifier: GPL-2.0 */
/* sipovld ip-pool: what pool.c and pool_msg.c share (not for other files) */
#ifndef SIPOVL_DAEMON_POOL_INT_H
#define SIPOVL_DAEMON_POOL_INT_H

#include <stddef.h>

#include "daemon/pool.h"

/* the error codes' words in replies ("err CODE text") */
extern const char *const pool_codes[POOL_E_WAIT + 1];
/* splits @line (NUL-terminated, modified) at single spaces into at most @max words */
size_t pool_words(char *line, char **w, size_t max);

#endif
