#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# ksync.sh SRC... DEST/: copy the kernel module's sources (C files, headers, Kbuild,
# Makefile) into an out-of-tree build directory (make kmod-vm, kmod-sparse, kmod-nobrnf,
# testmod), deleting what is gone from the sources. A file whose content changed is
# rewritten with the time of the copy, never its source's mtime (no -t): make then rebuilds
# its object even when the source was edited while an earlier build ran (its mtime older than
# that build's object); --checksum compares contents, so an edit keeping size and mtime is
# copied too.
exec rsync -rlp --checksum --delete --exclude='*.mod.c' --include='*/' --include='*.[ch]' --include=Kbuild \
	--include=Makefile --exclude='*' "$@"
