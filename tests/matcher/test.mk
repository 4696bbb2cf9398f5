# Matcher (kmod/matcher*.c): host unit, differential and fuzz tests, and the
# instruction-count benchmark. Included by the top-level Makefile.

MT_O := $(O)/matcher
# The matcher is kmod/matcher*.c with its headers kmod/matcher*.h.
MT_SRC := $(sort $(wildcard $(TOP)/kmod/matcher*.c))
MT_DEPS := $(MT_SRC) $(wildcard $(TOP)/kmod/matcher*.h) \
	$(TOP)/tests/matcher/ref.h $(TOP)/tests/matcher/gen.h \
	$(TOP)/tests/matcher/shapes.h
MT_CLANG ?= clang
MT_FUZZ_FLAGS := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all

# Unit tests: sanitized build (what run.sh runs) and a plain -O2 build.
$(MT_O)/unit-san: $(TOP)/tests/matcher/unit.c $(MT_DEPS)
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) $(SAN_FLAGS) -o $@ $< $(MT_SRC)

$(MT_O)/unit: $(TOP)/tests/matcher/unit.c $(MT_DEPS)
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) -o $@ $< $(MT_SRC)

$(MT_O)/diff: $(TOP)/tests/matcher/diff.c $(MT_DEPS)
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) -o $@ $< $(MT_SRC)

# The same with tiny directory, copy and budget limits, so that the
# differential test reaches the paths large tables take (child directories,
# depth-limited windows, MT_CONT hops, an exhausted copy budget).
MT_STRESS := -DMT_LEAF=2 -DMT_DIR_DEPTH=1 -DMT_COPY_MAX=1 -DMT_CAT_MAX=2 \
	-DMT_PBITS=1
$(MT_O)/diff-stress: $(TOP)/tests/matcher/diff.c $(MT_DEPS)
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) $(SAN_FLAGS) $(MT_STRESS) -o $@ $< $(MT_SRC)

$(MT_O)/fuzz: $(TOP)/tests/matcher/fuzz.c $(MT_DEPS)
	@mkdir -p $(@D)
	$(MT_CLANG) $(CSTD) $(WARN) -O1 -g -I$(TOP)/uapi -I$(TOP) $(MT_FUZZ_FLAGS) \
		-o $@ $< $(MT_SRC)

TEST_BUILD += $(MT_O)/unit-san $(MT_O)/unit $(MT_O)/diff $(MT_O)/diff-stress \
	$(MT_O)/fuzz

# Benchmark (bench/matcher/run.sh). No sanitizers; -O2 -g as the module.
$(MT_O)/bench: $(TOP)/bench/matcher/bench.c $(MT_DEPS)
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) -o $@ $< $(MT_SRC)

BENCH_BUILD += $(MT_O)/bench

.PHONY: matcher-tests
matcher-tests: $(MT_O)/unit-san $(MT_O)/unit $(MT_O)/diff $(MT_O)/diff-stress \
	$(MT_O)/fuzz

.PHONY: matcher-bench
matcher-bench: $(MT_O)/bench
