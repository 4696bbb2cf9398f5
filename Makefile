# sipovl top-level Makefile.
#
#   make            build sipovl.ko (against an installed Debian kernel) and all userspace
#   make check      install what is missing, then run every test; ends with "N passed, M failed"
#   make check-full   make check with every daemon end-to-end VM file on both kernels (make
#                   check runs each on one), dkms-deb.sh's call in the VM and pkg-root's
#                   sipovl-dkms upgrade during the call (a DKMS build in the TCG guest)
#   make check-debug  every kernel selftest on the debug kernel (make check runs a chosen few)
#   make fuzz       the netlink and packet fuzzers on the debug kernel for FUZZ_SECONDS (600; FUZZ_SEED=)
#                   each, and FUZZ_ROUNDS (100) unload/namespace churn rounds
#                   (stopping after FUZZ_CHURN_SECONDS, default 40 per round;
#                   FUZZ_FILE_TIMEOUT per file)
#   make demo       install what is missing, boot the VM and run the demo (SCENARIO=gateway,
#                   the default; endpoint: the ip-pool endpoint model; all: both)
#   make bench      benchmarks (see Documentation/benchmarks.md)
#   make install    sipovlctl, sipovld, man page, bash completion, systemd unit (DESTDIR=, PREFIX=)
#   make install-dkms   the module's DKMS source tree in /usr/src/sipovl-<version> (DESTDIR=)
#   make deb        the Debian packages sipovl-dkms and sipovl in build/deb/ (debian/; lintian)
#   make kmod-vm KVER=<release>   sipovl.ko for that kernel in build/kmod-<release>/ (VM runner)
#   make kmod-sparse / testmod KVER=<release>   sparse over kmod/; the VM runner's test modules
#
# Testing: Documentation/testing.md (selftests/vm/run.sh runs the VM selftests, scripts/check.sh
# everything `make check` runs).
#
# KDIR=<kernel build dir> overrides the kernel to build against. The running kernel is never
# used (these hosts do not run a Debian kernel): the default is the newest installed Debian
# 6.1 kernel's headers.

SHELL := /bin/bash
TOP := $(CURDIR)
# (O= on the command line would reach the kernel's own make through MAKEFLAGS, where it means
# the kernel build directory: every kernel sub-make below resets it with O=.)
O ?= $(TOP)/build

# Kernel selection: KVER61 / KVER612 are the installed Debian 6.1 and 6.12 kernels
# (scripts/kver.sh; evaluated once).
ifeq ($(origin KVER61),undefined)
KVER61 := $(shell KVER_HEADERS_ONLY=1 $(TOP)/scripts/kver.sh 6.1 2>/dev/null)
endif
ifeq ($(origin KVER612),undefined)
KVER612 := $(shell KVER_HEADERS_ONLY=1 $(TOP)/scripts/kver.sh 6.12 2>/dev/null)
endif
KVER ?= $(KVER61)
KDIR ?= /usr/src/linux-headers-$(KVER)

CC ?= gcc
CSTD := -std=c11 -D_GNU_SOURCE
WARN := -Wall -Wextra -Werror
CFLAGS ?= -O2 -g
# CPPFLAGS and LDFLAGS (empty unless given): the Debian build's hardening flags (debian/rules
# exports dpkg-buildflags: _FORTIFY_SOURCE, -z relro -z now); LDFLAGS on the installed programs.
USER_CFLAGS := $(CSTD) $(WARN) $(CPPFLAGS) $(CFLAGS) -I$(TOP)/uapi -I$(TOP)
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

# Each area appends to these in its fragment:
#   USER_PROGS   userspace programs built by `make`
#   TEST_BUILD   everything the host and VM tests need built (test binaries, sanitizer builds)
#   BENCH_BUILD  everything `make bench` needs built
USER_PROGS :=
TEST_BUILD :=
BENCH_BUILD :=

.PHONY: all kmod kmod-vm kmod-sparse kmod-nobrnf testmod user tests clean check check-full check-debug fuzz demo bench soak soak-routers soak-ha deps install install-dkms deb FORCE

all: kmod user

include $(wildcard kmod/kmod.mk ctl/ctl.mk daemon/daemon.mk daemon/ziti/ziti.mk tests/*/test.mk selftests/selftests.mk selftests/vm/vm.mk bench/bench.mk)

user: $(USER_PROGS)
tests: all $(TEST_BUILD)

kmod:
	@test -d "$(KDIR)" || { echo "error: no kernel headers at $(KDIR) (run scripts/deps.sh build, or set KDIR=)" >&2; exit 1; }
	$(MAKE) -C $(KDIR) O= M=$(TOP) modules

# The VM runner and the static checks build out of tree, one copy of the module sources per
# kernel (and per purpose), so objects for different kernels never mix with each other or with
# the plain `make kmod` build above:
#   make kmod-vm KVER=<release>      -> $(O)/kmod-<release>/sipovl.ko
#   make kmod-sparse KVER=<release>  -> sparse (C=2) over every file; warnings on stderr
#   make kmod-nobrnf KVER=<release>  -> the module built as for a kernel without CONFIG_BRIDGE_NETFILTER
#   make testmod KVER=<release>      -> $(O)/testmod-<release>/*.ko (the runner's own tests)
KSYNC = $(TOP)/scripts/ksync.sh
kheaders = @test -d "$(KDIR)" || { echo "error: no kernel headers at $(KDIR) (run scripts/deps.sh check, or set KVER=/KDIR=)" >&2; exit 1; }

# One build per directory at a time (several runs may share a checkout).
klock = exec 9>$(O)/.lock-$(1); flock 9

kmod-vm:
	$(kheaders)
	@test -f Kbuild || { echo "error: no Kbuild at the top: nothing to build" >&2; exit 1; }
	@mkdir -p $(O)/kmod-$(KVER)
	@$(call klock,kmod-$(KVER)); $(KSYNC) Kbuild kmod uapi $(O)/kmod-$(KVER)/ && \
		$(MAKE) -C $(KDIR) O= M=$(O)/kmod-$(KVER) modules

kmod-sparse:
	$(kheaders)
	@mkdir -p $(O)/sparse-$(KVER)
	@$(call klock,sparse-$(KVER)); $(KSYNC) Kbuild kmod uapi $(O)/sparse-$(KVER)/ && \
		$(MAKE) -C $(KDIR) O= M=$(O)/sparse-$(KVER) C=2 CF="-D__CHECK_ENDIAN__" modules

# The module without CONFIG_BRIDGE_NETFILTER (forced off after the kernel's configuration).
kmod-nobrnf:
	$(kheaders)
	@mkdir -p $(O)/nobrnf-$(KVER)
	@$(call klock,nobrnf-$(KVER)); $(KSYNC) Kbuild kmod uapi $(O)/nobrnf-$(KVER)/ && \
		$(MAKE) -C $(KDIR) O= M=$(O)/nobrnf-$(KVER) \
			KCFLAGS="-include $(TOP)/scripts/kconfig-no-bridge-netfilter.h" modules

testmod:
	$(kheaders)
	@mkdir -p $(O)/testmod-$(KVER)
	@$(call klock,testmod-$(KVER)); $(KSYNC) selftests/vm/testmod/ $(O)/testmod-$(KVER)/ && \
		$(MAKE) -C $(KDIR) O= M=$(O)/testmod-$(KVER) modules

# Installation (Documentation/admin-guide.md). DESTDIR= stages into a directory (packaging).
PREFIX ?= /usr
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
SYSTEMDUNITDIR ?= /lib/systemd/system
STATEDIR ?= /var/lib/sipovld
SIPOVL_VERSION := $(shell sed -n 's/^\#define SIPOVL_VERSION "\(.*\)"$$/\1/p' $(TOP)/kmod/version.h)
DKMSSRC ?= /usr/src/sipovl-$(SIPOVL_VERSION)

install: user
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(BASHCOMPDIR) \
		$(DESTDIR)$(SYSTEMDUNITDIR)
	install -m 0755 $(O)/sipovlctl $(O)/sipovld $(DESTDIR)$(SBINDIR)/
	install -m 0644 Documentation/sipovlctl.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 ctl/sipovlctl.bash-completion $(DESTDIR)$(BASHCOMPDIR)/sipovlctl
	install -m 0644 daemon/sipovld.service $(DESTDIR)$(SYSTEMDUNITDIR)/
	@# readable by the unit's user sipovld (its sipovld.conf; identities kept here are read, not renewed)
	install -d -m 0755 $(DESTDIR)/etc/sipovld
	@# as the package's postinst: the unit runs as sipovld, its identities live in STATEDIR
	@# (the unit's StateDirectory, writable for renewal); a staged install (DESTDIR) only
	@# makes the directory: the user is the installing system's business
	if [ -n "$(DESTDIR)" ]; then \
		install -d -m 0700 $(DESTDIR)$(STATEDIR); \
	else \
		getent passwd sipovld >/dev/null || useradd --system --user-group --home-dir $(STATEDIR) \
			--no-create-home --shell /usr/sbin/nologin --comment "sipovl gateway daemon" sipovld; \
		install -d -o sipovld -g sipovld -m 0700 $(STATEDIR); \
	fi

# The tree dkms.conf describes: Kbuild, kmod/ and uapi/ sources, dkms.conf.
install-dkms:
	@test -n "$(SIPOVL_VERSION)" || { echo "error: no SIPOVL_VERSION in kmod/version.h" >&2; exit 1; }
	install -d $(DESTDIR)$(DKMSSRC)/kmod $(DESTDIR)$(DKMSSRC)/uapi/linux
	install -m 0644 Kbuild dkms.conf $(DESTDIR)$(DKMSSRC)/
	install -m 0644 $(filter-out %.mod.c,$(wildcard kmod/*.[ch])) $(DESTDIR)$(DKMSSRC)/kmod/
	install -m 0644 uapi/linux/*.h $(DESTDIR)$(DKMSSRC)/uapi/linux/

# Debian packages: the source package (dpkg-source -b: it must build) and the binary ones
# (dpkg-buildpackage) from a copy of the tree (its ../ is build/deb), then lintian on both:
# any error, warning or information tag fails (justified ones are overridden, with the reason,
# in debian/*.lintian-overrides; selftests/vm/dkms-deb.sh runs the same command).
LINTIAN := lintian --display-info --fail-on error,warning,info
deb:
	rm -rf $(O)/deb && mkdir -p $(O)/deb/sipovl
	rsync -a --exclude=/build --exclude=.git --exclude='*.o' --exclude='*.ko' ./ $(O)/deb/sipovl/
	cd $(O)/deb && dpkg-source -b sipovl >source.log 2>&1 || { cat source.log >&2; exit 1; }
	cd $(O)/deb/sipovl && dpkg-buildpackage -us -uc -b >../build.log 2>&1 || \
		{ tail -30 ../build.log >&2; exit 1; }
	$(LINTIAN) $(O)/deb/*.changes $(O)/deb/*.dsc
	ls $(O)/deb/*.deb

deps:
	@scripts/deps.sh check

# check.sh builds `make tests` itself (a failed build is a reported failure).
check:
	@scripts/deps.sh check
	@scripts/check.sh

check-full:
	@scripts/deps.sh check
	@SIPOVL_CHECK_E2E=both SIPOVL_DKMS_DEB_VM=1 SIPOVL_PKG_ROOT_DKMS_UPGRADE=1 scripts/check.sh

# The debug kernel (selftests/vm/debug-kernel.sh) is built first when it is not cached.
check-debug:
	@scripts/deps.sh check
	@SIPOVL_VM_DEBUG_FILES=all scripts/check.sh kernel-debug vm-debug

FUZZ_SECONDS ?= 600
FUZZ_ROUNDS ?= 100
FUZZ_CHURN_SECONDS ?= $$(($(FUZZ_ROUNDS) * 40))
# Per file; on a loaded host the guest's own clock (which the fuzzers' and
# the churn's durations count in) ran 3 times slower than the host's.
FUZZ_FILE_TIMEOUT ?= $$(($(FUZZ_SECONDS) * 2 + $(FUZZ_CHURN_SECONDS) + 600))
fuzz:
	@scripts/deps.sh check
	@$(MAKE) -s tests
	@SIPOVL_FUZZ_SECONDS=$(FUZZ_SECONDS) SIPOVL_FUZZ_SEED=$(FUZZ_SEED) \
		SIPOVL_PKTFUZZ_SECONDS=$(FUZZ_SECONDS) SIPOVL_CHURN_ROUNDS=$(FUZZ_ROUNDS) SIPOVL_CHURN_SECONDS=$(FUZZ_CHURN_SECONDS) \
		SIPOVL_TEST_TIMEOUT=$(FUZZ_FILE_TIMEOUT) \
		SIPOVL_VM_TIMEOUT=$$(($(FUZZ_FILE_TIMEOUT) * 2 + 3600)) \
		selftests/vm/run.sh --kernel debug selftests/fuzz/nlfuzz.sh selftests/fuzz/pktfuzz.sh

# make demo SCENARIO=endpoint: the ip-pool endpoint model; SCENARIO=all: both (one VM boot)
SCENARIO ?= gateway
demo:
	@scripts/deps.sh demo
	@$(MAKE) -s tests
	@scripts/demo.sh --scenario $(SCENARIO)

bench:
	@scripts/deps.sh check
	@$(MAKE) -s tests $(BENCH_BUILD)
	@scripts/bench.sh

# Fault soak: a two-router network, tests/ziti/soak.sh with every fault (router killed, router
# stopped, controller restarted, API session deleted, controller hung, resolver slow,
# certificate renewed, controller requests failing through a fault proxy) ZT_SK_ROUNDS times
# (default 5), two calls through each; make check runs one round of the controller restart,
# slow resolver, certificate renewal, re-authentication and failing-request faults.
soak:
	@scripts/deps.sh check
	@$(MAKE) -s tests
	@d=$$(mktemp -d /tmp/zt-soak.XXXXXX) && ZN_ROUTERS=2 tests/ziti/zitinet.sh start "$$d" && \
	  { ZT_SK_ROUNDS=$${ZT_SK_ROUNDS:-5} ZT_SK_FAULTS="$${ZT_SK_FAULTS:-kill stop ctrl reauth hang dns renew ctrlfail}" O=$(O) \
	    tests/ziti/soak.sh "$$d"; rc=$$?; tests/ziti/zitinet.sh stop "$$d"; exit $$rc; }

# Router failover soak: a two-router network (ZN_ROUTERS=2), tests/ziti/routers.sh with its
# stream faults (router killed, router stopped) repeated ZT_RT_SOAK times (default 10).
soak-routers:
	@scripts/deps.sh check
	@$(MAKE) -s tests
	@d=$$(mktemp -d /tmp/zt-soak.XXXXXX) && ZN_ROUTERS=2 tests/ziti/zitinet.sh start "$$d" && \
	  { ZT_RT_SOAK=$${ZT_RT_SOAK:-10} O=$(O) tests/ziti/routers.sh "$$d"; rc=$$?; \
	    tests/ziti/zitinet.sh stop "$$d"; exit $$rc; }

# HA controller cluster: tests/ziti/ha.sh (three raft controllers, controllers killed during a
# call; 6-10 min, most of it the cluster's start: too long for make check).
soak-ha:
	@scripts/deps.sh check
	@$(MAKE) -s tests
	@O=$(O) tests/ziti/ha.sh

clean:
	-$(MAKE) -C $(KDIR) O= M=$(TOP) clean >/dev/null 2>&1
	rm -rf $(O)
