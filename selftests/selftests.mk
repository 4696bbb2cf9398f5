# Helpers of the VM selftests (selftests/sipovl/), built on the host; the
# guest runs them from the read-only host root.
SELFTEST_BIN := $(O)/selftests

$(SELFTEST_BIN)/peer: selftests/sipovl/peer.c $(CTL_LIB) ctl/libsipovl.h
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) -o $@ $< $(CTL_LIB) $(shell pkg-config --libs libmnl)

TEST_BUILD += $(SELFTEST_BIN)/peer

# The kernel's YNL tool and schemas (Debian's linux-source-6.12), for
# tests/ynl and selftests/sipovl/ynl.sh: scripts/ynl.sh unpacks them into
# $(O)/ynl-6.12 when the tarball changed.
.PHONY: ynl
ynl:
	@$(TOP)/scripts/ynl.sh $(O)/ynl-6.12 >/dev/null

TEST_BUILD += ynl
