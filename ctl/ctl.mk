# SPDX-License-Identifier: GPL-2.0
# sipovlctl and libsipovl (included by the top-level Makefile).
#
#   $(O)/sipovlctl            the CLI                                (USER_PROGS)
#   $(O)/libsipovl.a          netlink client library for sipovld     (USER_PROGS)
#   $(O)/san/sipovlctl        ASan/UBSan build for the tests         (TEST_BUILD)
#   $(O)/san/ctl-unit         parser unit tests (tests/ctl/run.sh)   (TEST_BUILD)
#   $(O)/fuzz/ctl-fuzz        libFuzzer target of the config parser  (TEST_BUILD)
#   $(O)/ctl/sockreg          registers a socket like sipovld (VM)   (TEST_BUILD)
#
# Daemon code links $(CTL_LIB) and includes "ctl/libsipovl.h" with $(CTL_CFLAGS).

CTL_PKGS := libmnl json-c
CTL_CFLAGS := $(shell pkg-config --cflags $(CTL_PKGS) 2>/dev/null)
CTL_LDLIBS := $(shell pkg-config --libs $(CTL_PKGS) 2>/dev/null) -pthread
CTL_LIB := $(O)/libsipovl.a

# libsipovl.a (sipovld links it; its sanitizer build compiles these sources)
CTL_LIB_SRCS := ctl/libsipovl.c ctl/nl_codec.c ctl/nl_intercept.c ctl/nl_objects.c ctl/objects.c \
	ctl/request.c
CTL_HDRS := ctl/libsipovl.h ctl/libsipovl_int.h ctl/parse.h ctl/parse_int.h ctl/json.h ctl/calls.h ctl/request.h ctl/sipovlctl.h uapi/linux/sipovl.h
CTL_SRCS := ctl/sipovlctl.c ctl/cli.c ctl/intercept.c ctl/apply.c ctl/stats.c ctl/sources.c \
	ctl/socket.c ctl/lookup.c ctl/monitor.c ctl/status.c ctl/parse.c ctl/parse_config.c ctl/format.c \
	ctl/json.c ctl/calls.c $(CTL_LIB_SRCS)
# a git checkout: its description; otherwise (a tarball) the release in kmod/version.h; the
# packages pass the Debian version (debian/rules)
SIPOVL_RELEASE := $(shell sed -n 's/^\#define SIPOVL_VERSION "\(.*\)"$$/\1/p' $(TOP)/kmod/version.h)
CTL_VERSION := $(shell git -C $(TOP) describe --always --dirty 2>/dev/null || echo $(SIPOVL_RELEASE))
CTL_DEFS := -DSIPOVL_VERSION_STR='"$(CTL_VERSION)"'

USER_PROGS += $(O)/sipovlctl $(CTL_LIB)
TEST_BUILD += $(O)/sipovlctl $(O)/san/sipovlctl $(O)/san/ctl-unit $(O)/fuzz/ctl-fuzz \
	      $(O)/ctl/sockreg

$(O)/sipovlctl: $(CTL_SRCS) $(CTL_HDRS)
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) $(CTL_CFLAGS) $(CTL_DEFS) $(CTL_SRCS) -o $@ $(LDFLAGS) $(CTL_LDLIBS)

$(O)/san/sipovlctl: $(CTL_SRCS) $(CTL_HDRS)
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) $(SAN_FLAGS) $(CTL_CFLAGS) $(CTL_DEFS) $(CTL_SRCS) -o $@ $(CTL_LDLIBS)

$(O)/ctl/%.o: ctl/%.c ctl/libsipovl.h ctl/libsipovl_int.h ctl/request.h uapi/linux/sipovl.h
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) -fPIC $(CTL_CFLAGS) -c $< -o $@

$(CTL_LIB): $(patsubst ctl/%.c,$(O)/ctl/%.o,$(CTL_LIB_SRCS))
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

$(O)/ctl/sockreg: tests/ctl/sockreg.c $(CTL_LIB) $(CTL_HDRS)
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) $(CTL_CFLAGS) tests/ctl/sockreg.c $(CTL_LIB) -o $@ $(CTL_LDLIBS)

$(O)/san/ctl-unit: tests/ctl/unit.c ctl/parse.c ctl/parse_config.c ctl/format.c ctl/objects.c $(CTL_HDRS)
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) $(SAN_FLAGS) tests/ctl/unit.c ctl/parse.c ctl/parse_config.c ctl/format.c ctl/objects.c -o $@

# libFuzzer needs clang; without it the target is a stub that says so.
$(O)/fuzz/ctl-fuzz: tests/ctl/fuzz.c ctl/parse.c ctl/parse_config.c ctl/format.c ctl/objects.c $(CTL_HDRS)
	@mkdir -p $(@D)
	if command -v clang >/dev/null 2>&1; then \
		clang $(CSTD) $(WARN) -O1 -g -I$(TOP)/uapi -I$(TOP) \
			-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
			tests/ctl/fuzz.c ctl/parse.c ctl/parse_config.c ctl/format.c ctl/objects.c -o $@; \
	else \
		printf '#!/bin/sh\necho "ctl-fuzz: clang not installed" >&2\nexit 77\n' >$@; \
		chmod +x $@; \
	fi

.PHONY: ctl-check
ctl-check: $(O)/sipovlctl $(O)/san/sipovlctl $(O)/san/ctl-unit $(O)/fuzz/ctl-fuzz
	tests/ctl/run.sh
