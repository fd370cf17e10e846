# Makefile - builds libsluice (.so and .a), the sluice command, the tests
# and the benchmarks. Every dependency is found with pkg-config; run
# scripts/deps.sh first on a fresh machine (it installs what is missing).
#
#   make            library + command          make test       whole suite
#   make demo       filter examples/ with the baseline policy
#   make bench      benchmarks                  make check-asan  suite under ASan+UBSan
#   make check-tsan suite under TSan            make install    PREFIX=/usr/local

PREFIX ?= /usr/local
SANITIZE ?=
BUILD ?= build

CC ?= cc
PKGS = libpcre2-8 icu-uc icu-i18n libsodium yaml-0.1 libhs hiredis
# '=' (not ':='): pkg-config runs only when something is compiled, so that
# 'make deps' works before the packages are there.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS = $(shell pkg-config --libs $(PKGS))
CJSON_CFLAGS = $(shell pkg-config --cflags libcjson)
CJSON_LIBS = $(shell pkg-config --libs libcjson)
CMOCKA_CFLAGS = $(shell pkg-config --cflags cmocka)
CMOCKA_LIBS = $(shell pkg-config --libs cmocka)

OPT ?= -O2
WARN = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
       -Wno-unused-parameter
CFLAGS_BASE = -std=c11 -D_GNU_SOURCE $(OPT) -g -fPIC -fvisibility=hidden \
       $(WARN) -Iinclude -I.
ifeq ($(SANITIZE),asan)
  CFLAGS_SAN = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  BUILD = build-asan
endif
ifeq ($(SANITIZE),tsan)
  CFLAGS_SAN = -fsanitize=thread -fno-omit-frame-pointer
  BUILD = build-tsan
endif
ALL_CFLAGS = $(CFLAGS_BASE) $(CFLAGS_SAN) $(PKG_CFLAGS) $(CFLAGS)
LDLIBS_ALL = $(PKG_LIBS) -lstdc++ -lpthread -lm

LIB_SRC = $(wildcard rules/*.c filter/*.c ledger/*.c state/*.c)
LIB_OBJ = $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_SRC = $(wildcard cli/*.c)
CLI_OBJ = $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_SRC = $(wildcard tests/unit/*/*_test.c)
TEST_BIN = $(patsubst tests/unit/%_test.c,$(BUILD)/tests/%_test,$(TEST_SRC))
BENCH_SRC = $(wildcard bench/*.c)
BENCH_BIN = $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
# Helper programs of the integration tests (tests/integration/*.c), run by
# the scripts beside them, not by the unit stage.
ITEST_SRC = $(wildcard tests/integration/*.c)
ITEST_BIN = $(ITEST_SRC:tests/integration/%.c=$(BUILD)/itest/%)

.PHONY: all deps demo test unit check-asan check-tsan bench install clean headertest

all: $(BUILD)/libsluice.so $(BUILD)/libsluice.a $(BUILD)/sluice $(BUILD)/sluice.pc

deps:
	@scripts/deps.sh

$(BUILD)/obj/%.o: %.c $(wildcard include/*.h rules/*.h filter/*.h ledger/*.h state/*.h cli/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/obj/cli/%.o: cli/%.c $(wildcard include/*.h cli/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(CJSON_CFLAGS) $(shell pkg-config --cflags yaml-0.1) -c $< -o $@

$(BUILD)/libsluice.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/libsluice.so: $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,libsluice.so.0 $(CFLAGS_SAN) -o $@ $^ $(LDLIBS_ALL)

$(BUILD)/sluice: $(CLI_OBJ) $(BUILD)/libsluice.a
	$(CC) $(CFLAGS_SAN) -o $@ $(CLI_OBJ) $(BUILD)/libsluice.a $(CJSON_LIBS) $(shell pkg-config --libs yaml-0.1) $(LDLIBS_ALL)

# pkg-config's file; `make install` writes it again for its own PREFIX.
PC_FMT = 'prefix=%s\nlibdir=$${prefix}/lib\nincludedir=$${prefix}/include\n\nName: sluice\nDescription: compliance-gated moderation filter for LLM outputs\nVersion: 0.1.0\nRequires.private: %s\nLibs: -L$${libdir} -lsluice\nCflags: -I$${includedir}\n'

$(BUILD)/sluice.pc: Makefile
	@mkdir -p $(dir $@)
	printf $(PC_FMT) '$(PREFIX)' '$(PKGS)' > $@

$(BUILD)/tests/%_test: tests/unit/%_test.c $(BUILD)/libsluice.a tests/unit/testutil.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) -Itests/unit -o $@ $< $(BUILD)/libsluice.a $(CMOCKA_LIBS) $(LDLIBS_ALL)

$(BUILD)/itest/%: tests/integration/%.c $(BUILD)/libsluice.a tests/redis_spawn.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libsluice.a $(LDLIBS_ALL)

$(BUILD)/bench/%: bench/%.c $(BUILD)/libsluice.a $(wildcard bench/*.h) tests/redis_spawn.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libsluice.a $(LDLIBS_ALL)

# The one public header must compile on its own, as C11 and as C++.
headertest:
	@mkdir -p $(BUILD)
	printf '#include "sluice.h"\nint main(void){return sluice_version()==0;}\n' > $(BUILD)/ht.c
	$(CC) -std=c11 -pedantic -Wall -Wextra -Werror -Iinclude -c $(BUILD)/ht.c -o $(BUILD)/ht.o
	g++ -x c++ -std=c++11 -pedantic -Wall -Wextra -Werror -Iinclude -c $(BUILD)/ht.c -o $(BUILD)/htxx.o

demo: deps
	@$(MAKE) --no-print-directory all
	$(BUILD)/sluice check -p policies/baseline --jsonl examples/outputs.jsonl

# Parts with build rules of their own (plugins/*, tests/fuzz) keep them in
# a build.mk beside their code. A fragment may append to UNIT_EXTRA (built
# by `make unit`, so by `make test` and `make check-asan`) and to .PHONY.
UNIT_EXTRA =
include $(wildcard plugins/*/build.mk tests/fuzz/build.mk)
# make bench-peers, make bench-callgrind (docs/benchmarks-peers.md)
include bench/bench.mk

unit: all $(TEST_BIN) $(ITEST_BIN) headertest $(UNIT_EXTRA)

test: deps
	@$(MAKE) --no-print-directory unit
	@BUILD=$(BUILD) tests/run.sh

check-asan:
	@$(MAKE) --no-print-directory SANITIZE=asan OPT=-O1 unit
	@BUILD=build-asan ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 tests/run.sh

# The whole suite under ThreadSanitizer (the nginx and Python stages skip:
# neither nginx nor python3 can load a TSan library). Slow: not in CI.
check-tsan:
	@$(MAKE) --no-print-directory SANITIZE=tsan OPT=-O1 unit
	@BUILD=build-tsan TSAN_OPTIONS=halt_on_error=1 tests/run.sh

bench: all $(BENCH_BIN)
	@BUILD=$(BUILD) bench/run.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 0644 include/sluice.h $(DESTDIR)$(PREFIX)/include/
	install -m 0755 $(BUILD)/libsluice.so $(DESTDIR)$(PREFIX)/lib/libsluice.so.0
	ln -sf libsluice.so.0 $(DESTDIR)$(PREFIX)/lib/libsluice.so
	install -m 0644 $(BUILD)/libsluice.a $(DESTDIR)$(PREFIX)/lib/
	install -m 0755 $(BUILD)/sluice $(DESTDIR)$(PREFIX)/bin/
	printf $(PC_FMT) '$(PREFIX)' '$(PKGS)' > $(DESTDIR)$(PREFIX)/lib/pkgconfig/sluice.pc
	-ldconfig 2>/dev/null

clean:
	rm -rf build build-asan build-tsan
