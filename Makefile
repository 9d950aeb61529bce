# tm-ivshmem-server: build, test and install.
#
#   make                 every program, -Werror, into build/bin
#   make check           install test dependencies, then run every suite in
#                        this build and in an ASan+UBSan build
#   make run             the server and the bridge in the foreground
#   make bench           the benchmarks (bench/run)
#   make install PREFIX=/usr/local [DESTDIR=...]: daemons (and mqrelay,
#                        which mqbridge runs from its own directory) to
#                        sbin, the client to bin, manual pages, and the
#                        systemd units of contrib/systemd with their paths
#   make clean
#
# O=DIR puts everything the build makes under DIR (default build):
# programs in DIR/bin, objects in DIR/obj, test programs in DIR/tests,
# benchmarks in DIR/bench.  SAN=1 adds ASan+UBSan.  Sources never share
# a folder with what is built from them.
#
# Each program's sources are listed below; nothing is linked by wildcard.
# -MMD records which headers each object read, so a header change
# rebuilds exactly what uses it.

CC	?= cc
O	?= build
PREFIX	?= /usr/local
BINDIR	?= $(PREFIX)/bin
SBINDIR	?= $(PREFIX)/sbin
MANDIR	?= $(PREFIX)/share/man
UNITDIR	?= $(PREFIX)/lib/systemd/system
CFLAGS	?= -O2 -g
WARN	= -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror
ifeq ($(SAN),1)
CFLAGS	+= -fsanitize=address,undefined -fno-omit-frame-pointer \
	   -fno-sanitize-recover=undefined
LDFLAGS	+= -fsanitize=address,undefined
endif
ALL_CFLAGS = $(WARN) $(CFLAGS) -I. -MMD -MP

BIN	= $(O)/bin
OBJ	= $(O)/obj
TBIN	= $(O)/tests
BBIN	= $(O)/bench

# ---- Sources, by room (docs/architecture.md) -------------------------

# lib/: what every program uses.
LIB_SRCS	= send_scm.c lib/clock.c lib/evloop.c lib/log.c lib/parse.c \
		  lib/sigfd.c
# The one greeting reader (lib/greet) and what it needs.
GREET_SRCS	= lib/greet.c lib/log.c send_scm.c
IVPEER_SRCS	= lib/ivpeer.c lib/greet.c lib/doorbell.c
# The server's own modules.
SERVER_SRCS	= tm_ivshmem_server.c server/admit.c server/ident.c \
		  server/listen.c server/options.c server/out.c server/peer.c \
		  server/region.c server/stats.c lib/proc.c lib/status.c \
		  lib/svc.c lib/doorbell.c $(LIB_SRCS)
CLIENT_SRCS	= client/tm_ivshmem_client.c client/client_cmd.c \
		  client/client_io.c lib/greet.c lib/doorbell.c $(LIB_SRCS)
# mqbridge/slot/: the library both sides of a NIC slot share.
SLOT_SRCS	= mqbridge/slot/ring.c mqbridge/slot/ring_check.c \
		  mqbridge/slot/ring_pkt.c
BRIDGE_SRCS	= mqbridge/bridge/mqbridge.c mqbridge/bridge/bridge_loop.c \
		  mqbridge/bridge/bridge_region.c \
		  mqbridge/bridge/bridge_slot.c \
		  mqbridge/bridge/bridge_stats.c \
		  mqbridge/bridge/bridge_switch.c mqbridge/bridge/bridge_fwd.c \
		  lib/mapguard.c lib/loglimit.c \
		  mqbridge/bridge/bridge_uplink.c mqbridge/bridge/uplink_host.c \
		  mqbridge/relay/relay_opts.c mqbridge/relay/broker_addr.c \
		  lib/proc.c lib/status.c lib/svc.c \
		  $(SLOT_SRCS) $(IVPEER_SRCS) $(LIB_SRCS)
RELAY_SRCS	= mqbridge/relay/mqrelay.c mqbridge/relay/relay_uplink.c \
		  mqbridge/relay/relay_tx.c mqbridge/relay/relay_rx.c \
		  mqbridge/relay/relay_dedup.c mqbridge/relay/relay_opts.c \
		  mqbridge/relay/stomp_conn.c mqbridge/relay/stomp.c \
		  mqbridge/relay/broker_addr.c lib/doorbell.c lib/proc.c \
		  $(SLOT_SRCS) $(LIB_SRCS)
MQNIC_SRCS	= mqbridge/nic/mqnic.c mqbridge/nic/nic_attach.c \
		  mqbridge/nic/nic_link.c mqbridge/nic/nic_opts.c \
		  mqbridge/nic/nic_status.c lib/status.c \
		  mqbridge/nic/nic_pci.c mqbridge/nic/nic_ivshmem.c \
		  mqbridge/nic/nic_tap.c lib/mapguard.c lib/loglimit.c \
		  lib/proc.c lib/svc.c \
		  $(SLOT_SRCS) $(IVPEER_SRCS) $(LIB_SRCS)

# Test-only programs (tests/progs) and benchmarks.
RING_TEST_SRCS	= tests/progs/ring_test.c $(SLOT_SRCS)
SCRIBBLE_SRCS	= tests/progs/ring_scribble.c lib/clock.c $(SLOT_SRCS)
MQPEER_SRCS	= tests/progs/mqpeer.c tests/progs/mqpeer_vnet.c $(SLOT_SRCS) $(IVPEER_SRCS) $(LIB_SRCS)
NIC_RING_SRCS	= tests/progs/nic_ring.c $(SLOT_SRCS) $(IVPEER_SRCS) \
		  $(LIB_SRCS)
PEERSTORM_SRCS	= tests/progs/peerstorm.c $(GREET_SRCS)
QTEST_SRCS	= tests/progs/qtest_drive.c
UPLINK_DRIVE_SRCS = tests/progs/uplink_drive.c mqbridge/bridge/uplink_host.c \
		  mqbridge/relay/relay_opts.c mqbridge/relay/broker_addr.c \
		  lib/doorbell.c $(SLOT_SRCS) $(LIB_SRCS)
REGION_PEER_SRCS = tests/progs/region_peer.c $(GREET_SRCS)
TRAP_SRCS	= tests/progs/cmdline_trap.c $(GREET_SRCS)
LIB_TEST_SRCS	= tests/progs/lib_test.c lib/evloop.c lib/clock.c lib/doorbell.c \
		  lib/svc.c lib/parse.c lib/log.c
IVPEER_TEST_SRCS = tests/progs/ivpeer_test.c $(IVPEER_SRCS) $(LIB_SRCS)
BENCHLIB_SRCS	= bench/benchlib.c $(GREET_SRCS)
CONNLAT_SRCS	= bench/connect_latency.c $(BENCHLIB_SRCS)
DOORBELL_SRCS	= bench/doorbell.c $(BENCHLIB_SRCS)
RING_BENCH_SRCS	= bench/ring_bench.c $(BENCHLIB_SRCS) $(SLOT_SRCS)
FUZZ_RING_SRCS	= tests/fuzz/fuzz_ring.c $(SLOT_SRCS)
FUZZ_STOMP_SRCS	= tests/fuzz/fuzz_stomp.c mqbridge/relay/stomp.c
STOMP_TEST_SRCS	= tests/progs/stomp_test.c mqbridge/relay/stomp.c

objs	= $(patsubst %.c,$(OBJ)/%.o,$(1))

PROGS	= $(BIN)/tm_ivshmem_server $(BIN)/tm_ivshmem_client \
	  $(BIN)/mqbridge $(BIN)/mqnic $(BIN)/mqrelay
TEST_PROGS = $(TBIN)/ring_test $(TBIN)/ring_scribble $(TBIN)/mqpeer \
	  $(TBIN)/nic_ring $(TBIN)/peerstorm $(TBIN)/qtest_drive \
	  $(TBIN)/mqnic-static $(TBIN)/lib_test $(TBIN)/stomp_test \
	  $(TBIN)/uplink_drive $(TBIN)/ivpeer_test $(TBIN)/region_peer \
	  $(TBIN)/cmdline_trap
BENCH_PROGS = $(BBIN)/connect_latency $(BBIN)/doorbell $(BBIN)/ring_bench

.DEFAULT_GOAL := all

all: $(PROGS)
test-progs: $(TEST_PROGS)
bench-progs: $(BENCH_PROGS) $(BIN)/tm_ivshmem_server $(BIN)/mqbridge \
	$(BIN)/mqnic $(BIN)/mqrelay $(TBIN)/mqpeer
# What bench/net_bench.sh needs: a broken bridge only skips its part.
bench-net-progs: $(BIN)/tm_ivshmem_server $(BIN)/mqbridge $(BIN)/mqnic

# ---- Link -------------------------------------------------------------

link	= @mkdir -p $(@D); echo "  LD	$@"; $(CC) $(LDFLAGS) -o $@ $^

$(BIN)/tm_ivshmem_server: $(call objs,$(SERVER_SRCS)) ; $(link) -lpthread
$(BIN)/tm_ivshmem_client: $(call objs,$(CLIENT_SRCS)) ; $(link)
$(BIN)/mqbridge: $(call objs,$(BRIDGE_SRCS)) ; $(link)
$(BIN)/mqnic: $(call objs,$(MQNIC_SRCS)) ; $(link)
$(BIN)/mqrelay: $(call objs,$(RELAY_SRCS)) ; $(link)
$(TBIN)/ring_test: $(call objs,$(RING_TEST_SRCS)) ; $(link)
$(TBIN)/ring_scribble: $(call objs,$(SCRIBBLE_SRCS)) ; $(link)
$(TBIN)/mqpeer: $(call objs,$(MQPEER_SRCS)) ; $(link)
$(TBIN)/nic_ring: $(call objs,$(NIC_RING_SRCS)) ; $(link)
$(TBIN)/peerstorm: $(call objs,$(PEERSTORM_SRCS)) ; $(link)
$(TBIN)/qtest_drive: $(call objs,$(QTEST_SRCS)) ; $(link)
$(TBIN)/region_peer: $(call objs,$(REGION_PEER_SRCS)) ; $(link)
$(TBIN)/cmdline_trap: $(call objs,$(TRAP_SRCS)) ; $(link) -lpthread -Wl,-z,now
$(TBIN)/lib_test: $(call objs,$(LIB_TEST_SRCS)) ; $(link)
$(TBIN)/stomp_test: $(call objs,$(STOMP_TEST_SRCS)) ; $(link)
$(TBIN)/uplink_drive: $(call objs,$(UPLINK_DRIVE_SRCS)) ; $(link)
$(TBIN)/ivpeer_test: $(call objs,$(IVPEER_TEST_SRCS)) ; $(link)
$(BBIN)/connect_latency: $(call objs,$(CONNLAT_SRCS)) ; $(link)
$(BBIN)/doorbell: $(call objs,$(DOORBELL_SRCS)) ; $(link)
$(BBIN)/ring_bench: $(call objs,$(RING_BENCH_SRCS)) ; $(link)

# A static mqnic for the busybox guest of the real-guest test.  Never
# sanitized (a static binary cannot carry ASan, and a guest could not
# report it): compiled from the sources with plain flags in every flavour.
$(TBIN)/mqnic-static: $(MQNIC_SRCS) $(wildcard lib/*.h mqbridge/*/*.h) send_scm.h
	@mkdir -p $(@D)
	@echo "  LD	$@ (static)"
	@$(CC) $(WARN) -O2 -g -I. -static -o $@ $(MQNIC_SRCS)

# libFuzzer needs clang; the binary is always ASan+UBSan instrumented.
FUZZ_CC	?= clang
FUZZ_CFLAGS = $(WARN) -O1 -g -I. -fsanitize=fuzzer,address,undefined \
	      -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_PROGS = $(O)/fuzz/fuzz_ring $(O)/fuzz/fuzz_stomp

fuzz: $(FUZZ_PROGS)

$(O)/fuzz/fuzz_ring: $(FUZZ_RING_SRCS) $(wildcard mqbridge/slot/*.h)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(FUZZ_RING_SRCS)

$(O)/fuzz/fuzz_stomp: $(FUZZ_STOMP_SRCS) mqbridge/relay/stomp.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(FUZZ_STOMP_SRCS)

# ---- Compile ----------------------------------------------------------

$(OBJ)/%.o: %.c
	@mkdir -p $(@D)
	@echo "  CC	$<"
	@$(CC) $(ALL_CFLAGS) -c -o $@ $<

-include $(shell find $(OBJ) -name '*.d' 2>/dev/null)

# ---- Everything else --------------------------------------------------

# The README's test command.  tests/run installs what is missing, builds
# both flavours and prints "N passed, N failed".
check:
	bash tests/run

# The README's run command: server and bridge in the foreground.
run: all
	O=$(O) bash scripts/run-system

# The whole system as two hosts with their brokers (scripts/demo).
demo:
	O=$(O) bash scripts/demo

bench:
	O=$(O) bash bench/run

DAEMONS	= $(BIN)/tm_ivshmem_server $(BIN)/mqbridge $(BIN)/mqnic $(BIN)/mqrelay
UNITS	= $(wildcard contrib/systemd/*.service contrib/systemd/*.socket)

# The units name /usr/local/sbin, rewritten to SBINDIR as they go in.
install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) \
	    $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(UNITDIR)
	install -m 0755 $(BIN)/tm_ivshmem_client $(DESTDIR)$(BINDIR)
	install -m 0755 $(DAEMONS) $(DESTDIR)$(SBINDIR)
	install -m 0644 docs/man/*.1 $(DESTDIR)$(MANDIR)/man1
	install -m 0644 docs/man/*.8 $(DESTDIR)$(MANDIR)/man8
	for u in $(UNITS); do \
		sed 's|/usr/local/sbin/|$(SBINDIR)/|g' "$$u" \
		    >"$(DESTDIR)$(UNITDIR)/$${u##*/}" && \
		chmod 0644 "$(DESTDIR)$(UNITDIR)/$${u##*/}" || exit 1; \
	done

clean:
	rm -rf $(O) build

.PHONY: all check install clean test-progs bench-progs bench-net-progs \
	run bench fuzz demo
