# sipovl top-level Makefile.
#
#   make            build sipovl.ko (against an installed Debian kernel) and all userspace
#   make check      install what is missing, then run every test; ends with "N passed, M failed"
#   make demo       install what is missing, boot the VM and run the demo
#   make bench      benchmarks (see Documentation/benchmarks.md)
#
# KDIR=<kernel build dir> overrides the kernel to build against. The running kernel is never
# used (these hosts do not run a Debian kernel): the default is the newest installed Debian
# 6.1 kernel's headers.

SHELL := /bin/bash
TOP := $(CURDIR)
O ?= $(TOP)/build

# Kernel selection: KVER61 / KVER612 are the installed Debian 6.1 and 6.12 kernels.
KVER61  ?= $(shell ls -1 /usr/src 2>/dev/null | sed -n 's/^linux-headers-\(6\.1\.[0-9-]*-amd64\)$$/\1/p' | sort -V | tail -1)
KVER612 ?= $(shell ls -1 /usr/src 2>/dev/null | sed -n 's/^linux-headers-\(6\.12\.[0-9]*+deb12-amd64\)$$/\1/p' | sort -V | tail -1)
KVER ?= $(KVER61)
KDIR ?= /usr/src/linux-headers-$(KVER)

CC ?= gcc
CSTD := -std=c11 -D_GNU_SOURCE
WARN := -Wall -Wextra -Werror
CFLAGS ?= -O2 -g
USER_CFLAGS := $(CSTD) $(WARN) $(CFLAGS) -I$(TOP)/uapi -I$(TOP)
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

# Each area appends to these in its fragment:
#   USER_PROGS   userspace programs built by `make`
#   TEST_BUILD   everything the host and VM tests need built (test binaries, sanitizer builds)
#   BENCH_BUILD  everything `make bench` needs built
USER_PROGS :=
TEST_BUILD :=
BENCH_BUILD :=

.PHONY: all kmod user tests clean check demo bench deps FORCE

all: kmod user

include $(wildcard kmod/kmod.mk ctl/ctl.mk daemon/daemon.mk daemon/ziti/ziti.mk tests/*/test.mk selftests/selftests.mk bench/bench.mk)

user: $(USER_PROGS)
tests: all $(TEST_BUILD)

kmod:
	@test -d "$(KDIR)" || { echo "error: no kernel headers at $(KDIR) (run scripts/deps.sh build, or set KDIR=)" >&2; exit 1; }
	$(MAKE) -C $(KDIR) M=$(TOP) modules

kmod-sparse:
	$(MAKE) -C $(KDIR) M=$(TOP) C=2 CF="-D__CHECK_ENDIAN__" modules

deps:
	@scripts/deps.sh check

check:
	@scripts/deps.sh check
	@$(MAKE) -s tests
	@scripts/check.sh

demo:
	@scripts/deps.sh demo
	@$(MAKE) -s tests
	@scripts/demo.sh

bench:
	@scripts/deps.sh check
	@$(MAKE) -s tests $(BENCH_BUILD)
	@scripts/bench.sh

clean:
	-$(MAKE) -C $(KDIR) M=$(TOP) clean 2>/dev/null
	rm -rf $(O)
