# ascale: build, test, benchmark, install and package

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/ascale
SYSCONFDIR ?= /etc
UNITDIR ?= /lib/systemd/system
DESTDIR ?=

CC ?= cc
CLANG ?= clang
BPFTOOL ?= bpftool
PYTHON ?= python3
B := build

CFLAGS ?= -O2 -g
WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
ifeq ($(WERROR),1)
WARN += -Werror
endif
ifeq ($(SANITIZE),1)
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif
ALL_CFLAGS := -std=gnu11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(SAN) -Icommon -Icoordinator -I$(B) -MMD -MP
ALL_LDFLAGS := $(LDFLAGS) $(SAN)
LIBS := -linih -lbpf -lelf -lz -lsystemd -ljansson -lcurl -lcrypto -lcap -lm -lpthread

ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/' -e 's/ppc64le/powerpc/' -e 's/s390x/s390/')
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Ibpf -Wall

# Sources: every module of a folder is built into that folder's library; the
# programs' main files are kept out so tests can link the libraries.
COMMON_SRCS := $(wildcard common/*.c)
AGENT_SRCS := $(filter-out agent/main.c,$(wildcard agent/*.c))
ASCTL_SRCS := $(filter-out asctl/main.c,$(wildcard asctl/*.c))
# coordinator/: the engine library (linked into ascoord and asctl) is every
# file but the daemon's own, which are listed here as they arrive.
COORD_DAEMON_SRCS := coordinator/main.c coordinator/control.c coordinator/coord.c coordinator/coord_scale.c coordinator/coord_status.c coordinator/coord_conf.c coordinator/ingest.c coordinator/ingest_conn.c coordinator/ingest_listen.c coordinator/instances.c
ENGINE_SRCS := $(filter-out $(COORD_DAEMON_SRCS),$(wildcard coordinator/*.c))
BPF_SRCS := $(wildcard bpf/*.bpf.c)
SKELS := $(patsubst bpf/%.bpf.c,$(B)/%.skel.h,$(BPF_SRCS))

obj = $(patsubst %.c,$(B)/obj/%.o,$(1))
LIBCOMMON := $(B)/libcommon.a
LIBAGENT := $(B)/libagent.a
LIBASCTL := $(B)/libasctl.a
LIBENGINE := $(B)/libengine.a
ALL_LIBS := $(LIBASCTL) $(LIBAGENT) $(LIBENGINE) $(LIBCOMMON)

PROGS := $(if $(wildcard agent/main.c),$(B)/asagent) $(if $(wildcard asctl/main.c),$(B)/asctl)
ifneq ($(wildcard coordinator/main.c),)
PROGS += $(B)/ascoord
endif

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRCS))
# Fuzz targets (libFuzzer): clang-built copies of common/ and the engine.
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(B)/fuzz/%,$(FUZZ_SRCS))
FUZZ_SAN := -fsanitize=address,undefined
FUZZ_CFLAGS := -std=gnu11 -D_GNU_SOURCE -g -O1 -Icommon -Icoordinator $(FUZZ_SAN) -fsanitize=fuzzer-no-link
FUZZ_LIB_OBJS := $(patsubst %.c,$(B)/fuzz/obj/%.o,$(COMMON_SRCS) $(ENGINE_SRCS))
BENCH_SRCS := $(filter-out %.bpf.c,$(wildcard tests/bench/*.c))
BENCH_BINS := $(patsubst tests/bench/%.c,$(B)/bench/%,$(BENCH_SRCS))

.PHONY: all check bench deps install clean unit fuzz fuzz-hunt deb rpm demo
all: $(PROGS)

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

# The BPF object and its skeleton; agent objects wait for the skeleton.
$(B)/bpf/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h)
	@mkdir -p $(dir $@)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(B)/%.skel.h: $(B)/bpf/%.bpf.o
	$(BPFTOOL) gen skeleton $< > $@.tmp && mv $@.tmp $@

$(call obj,$(AGENT_SRCS) agent/main.c): | $(SKELS)

$(LIBCOMMON): $(call obj,$(COMMON_SRCS))
$(LIBAGENT): $(call obj,$(AGENT_SRCS))
$(LIBASCTL): $(call obj,$(ASCTL_SRCS))
$(LIBENGINE): $(call obj,$(ENGINE_SRCS))
$(B)/lib%.a:
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

$(B)/asagent: $(call obj,agent/main.c) $(LIBAGENT) $(LIBCOMMON)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(B)/asctl: $(call obj,asctl/main.c) $(LIBASCTL) $(LIBENGINE) $(LIBCOMMON)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(B)/ascoord: $(call obj,$(COORD_DAEMON_SRCS)) $(LIBENGINE) $(LIBCOMMON)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

# tests may include any folder's headers
$(B)/obj/tests/%.o: ALL_CFLAGS += -Iagent -Iasctl

$(B)/tests/%: $(B)/obj/tests/unit/%.o $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(ALL_LIBS) $(LIBS) -lcmocka

$(B)/bench/%: $(B)/obj/tests/bench/%.o $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(ALL_LIBS) $(LIBS)

unit: $(UNIT_BINS)

$(B)/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CLANG) $(FUZZ_CFLAGS) -c $< -o $@

$(B)/fuzz/%: $(B)/fuzz/obj/tests/fuzz/%.o $(FUZZ_LIB_OBJS)
	$(CLANG) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(LIBS)

fuzz: $(FUZZ_BINS)

# Every test: unit binaries, fuzz targets for FUZZ_SECONDS each, then the
# integration tests on the real binaries.
FUZZ_SECONDS ?= 15
FUZZ_SEED ?= 1
check:
	$(MAKE) WERROR=1 all unit fuzz $(BENCH_BINS)
	$(PYTHON) tests/run.py --build $(B) --fuzz-seconds $(FUZZ_SECONDS) --fuzz-seed $(FUZZ_SEED) $(TESTS)

# Longer fuzzing from a random seed, to hunt (make check replays seed 1).
fuzz-hunt: fuzz
	$(PYTHON) tests/run.py --build $(B) --units-only --fuzz-seconds $(or $(FUZZ_SECONDS_HUNT),300) --fuzz-seed 0 fuzz_

bench:
	$(MAKE) all $(BENCH_BINS)
	$(PYTHON) tests/bench/run.py --build $(B)

deps:
	sh packaging/deps.sh

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(SYSCONFDIR)/ascale \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(DOCDIR)
	install -m 0755 $(B)/asagent $(DESTDIR)$(SBINDIR)/asagent
	install -m 0755 $(B)/asctl $(DESTDIR)$(BINDIR)/asctl
	if [ -f $(B)/ascoord ]; then install -m 0755 $(B)/ascoord $(DESTDIR)$(SBINDIR)/ascoord; fi
	for f in conf/*.conf; do install -m 0644 $$f $(DESTDIR)$(SYSCONFDIR)/ascale/; done
	for f in docs/*.1; do [ -f $$f ] && install -m 0644 $$f $(DESTDIR)$(MANDIR)/man1/ || true; done
	for f in docs/*.5; do [ -f $$f ] && install -m 0644 $$f $(DESTDIR)$(MANDIR)/man5/ || true; done
	for f in docs/*.8; do [ -f $$f ] && install -m 0644 $$f $(DESTDIR)$(MANDIR)/man8/ || true; done
	install -m 0644 README.md docs/*.md $(DESTDIR)$(DOCDIR)/
	for f in packaging/systemd/*.service; do \
		sed 's|@SBINDIR@|$(SBINDIR)|g' $$f > $(DESTDIR)$(UNITDIR)/$$(basename $$f); done

# Packages from the installed tree: build/ascale_VERSION_ARCH.deb and build/ascale-VERSION-1.ARCH.rpm
deb: all
	sh packaging/deb.sh $(B)

rpm: all
	sh packaging/rpm.sh $(B)

# The whole loop on this machine (as root): a load, an agent, a coordinator
# scaling a simulated endpoint out and back in; about three minutes.
demo: all
	sh packaging/demo.sh $(B)

clean:
	rm -rf $(B)

-include $(shell find $(B) -name '*.d' 2>/dev/null)
