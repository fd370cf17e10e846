# tests/fuzz/build.mk - libFuzzer targets (included by the Makefile).
#
#   make fuzz                    build every target, make seeds, run each
#                                for FUZZ_SECONDS (default 20) seconds
#   make fuzz FUZZ_SECONDS=600 FUZZ_TARGETS=stream   one target, longer
#   make fuzz-build              build only
#   make fuzz-clean              remove $(FUZZ_BUILD)
#   make fuzz-regress            run each target once over the committed
#                                seeds (tests/fuzz/seeds/) and nothing else
#
# The library is compiled again, with clang and the fuzzer's coverage
# instrumentation plus ASan and UBSan, into its own directory
# ($(FUZZ_BUILD), default build-fuzz), so that it never mixes with the gcc
# objects of `make`. Seeds are generated at run time by fuzz_seeds from
# policies/, tests/ and SLUICE_DATA (../shared/data) into
# $(FUZZ_BUILD)/seeds/TARGET; what the fuzzer finds goes to
# $(FUZZ_BUILD)/corpus/TARGET, crash files to $(FUZZ_BUILD)/crashes/.
# tests/fuzz/README.md says how to reproduce and minimise a crash.
#
# Nothing here is added to UNIT_EXTRA: `make test` does not need clang.

FUZZ_BUILD ?= build-fuzz
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 20
FUZZ_TARGETS ?= normalize stream policy bundle ledger receipt
FUZZ_FLAGS ?=
FUZZ_SAN = address,undefined
FUZZ_COMMON_CFLAGS = -std=c11 -D_GNU_SOURCE -O1 -g -fPIC -fno-omit-frame-pointer \
    -fno-sanitize-recover=all $(WARN) -Iinclude -I. $(PKG_CFLAGS) \
    -DFUZZ_ROOT='"$(CURDIR)"'
FUZZ_LIB_CFLAGS = $(FUZZ_COMMON_CFLAGS) -fsanitize=fuzzer-no-link,$(FUZZ_SAN)
FUZZ_LIB_OBJ = $(LIB_SRC:%.c=$(FUZZ_BUILD)/obj/%.o)
FUZZ_BIN = $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)
FUZZ_HDR = $(wildcard include/*.h rules/*.h filter/*.h ledger/*.h state/*.h)

# Per target: the longest input (bytes).
FUZZ_MAXLEN_normalize = 4096
FUZZ_MAXLEN_stream = 4096
FUZZ_MAXLEN_policy = 16384
FUZZ_MAXLEN_bundle = 16384
FUZZ_MAXLEN_ledger = 16384
FUZZ_MAXLEN_receipt = 8192

.PHONY: fuzz fuzz-build fuzz-seeds fuzz-regress fuzz-clean

$(FUZZ_BUILD)/obj/%.o: %.c $(FUZZ_HDR)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_LIB_CFLAGS) -c $< -o $@

# clang 14 knows no "sha" feature for __builtin_cpu_supports (gcc does):
# the fuzz build of ledger/sha256.c takes libsodium's portable path. The
# SHA-NI path is checked against libsodium by the unit tests.
$(FUZZ_BUILD)/obj/ledger/sha256.o: FUZZ_LIB_CFLAGS += \
    '-D__builtin_cpu_supports(feature)=0'

$(FUZZ_BUILD)/libsluice-fuzz.a: $(FUZZ_LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_common.h \
        $(FUZZ_BUILD)/libsluice-fuzz.a
	$(FUZZ_CC) $(FUZZ_COMMON_CFLAGS) -fsanitize=fuzzer,$(FUZZ_SAN) -o $@ \
	    $< $(FUZZ_BUILD)/libsluice-fuzz.a $(LDLIBS_ALL)

# The seed maker is an ordinary program (no fuzzer main) over the same
# objects: their coverage hooks come with the sanitizer runtime.
$(FUZZ_BUILD)/fuzz_seeds: tests/fuzz/fuzz_seeds.c tests/fuzz/fuzz_common.h \
        $(FUZZ_BUILD)/libsluice-fuzz.a
	$(FUZZ_CC) $(FUZZ_COMMON_CFLAGS) -fsanitize=fuzzer-no-link,$(FUZZ_SAN) \
	    -o $@ $< $(FUZZ_BUILD)/libsluice-fuzz.a $(LDLIBS_ALL)

fuzz-build: $(FUZZ_BIN) $(FUZZ_BUILD)/fuzz_seeds

fuzz-seeds: fuzz-build
	@rm -rf $(FUZZ_BUILD)/seeds
	$(FUZZ_BUILD)/fuzz_seeds $(FUZZ_BUILD)/seeds

# Each target in turn (the machine is shared: one at a time), for
# FUZZ_SECONDS each, through tests/fuzz/run.sh; the first crash stops
# `make fuzz` with libFuzzer's status.
fuzz: fuzz-seeds
	@set -e; $(foreach t,$(FUZZ_TARGETS),FUZZ_BUILD=$(FUZZ_BUILD) \
	    tests/fuzz/run.sh $(t) $(FUZZ_SECONDS) $(FUZZ_MAXLEN_$(t)) \
	    $(FUZZ_FLAGS);)

# Replay the committed seeds (regression inputs of past crashes) once.
fuzz-regress: fuzz-build
	@set -e; for t in $(FUZZ_TARGETS); do \
	    [ -d tests/fuzz/seeds/$$t ] || continue; \
	    echo "== fuzz_$$t: tests/fuzz/seeds/$$t"; \
	    ASAN_OPTIONS=detect_leaks=1 $(FUZZ_BUILD)/fuzz_$$t -runs=0 \
	        tests/fuzz/seeds/$$t; \
	done

fuzz-clean:
	rm -rf $(FUZZ_BUILD)
