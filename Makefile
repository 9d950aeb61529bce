# tm-ivshmem-server: build, test and install.
#
#   make                 the server and the client tool, -Werror
#   make check           install test dependencies, then run every suite in
#                        this build and in an ASan+UBSan build
#   make install PREFIX=/usr/local
#   make clean
#
# O=DIR puts objects and binaries in DIR; SAN=1 adds ASan+UBSan.

CC	?= cc
O	?= .
PREFIX	?= /usr/local
CFLAGS	?= -O2 -g
WARN	= -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror
ifeq ($(SAN),1)
CFLAGS	+= -fsanitize=address,undefined -fno-omit-frame-pointer \
	   -fno-sanitize-recover=undefined
LDFLAGS	+= -fsanitize=address,undefined
endif
ALL_CFLAGS = $(WARN) $(CFLAGS) -I.

COMMON_SRCS = send_scm.c log.c parse.c sigfd.c
COMMON_OBJS = $(patsubst %.c,$(O)/%.o,$(COMMON_SRCS))
SERVER_OBJS = $(O)/tm_ivshmem_server.o $(O)/region.o $(O)/peer.o \
	      $(O)/listen.o $(O)/options.o $(O)/proc.o $(COMMON_OBJS)
CLIENT_OBJS = $(O)/tm_ivshmem_client.o $(O)/client_io.o $(COMMON_OBJS)

PROGS	= $(O)/tm_ivshmem_server $(O)/tm_ivshmem_client
TEST_PROGS =

.DEFAULT_GOAL := all

# Fragments add to PROGS, TEST_PROGS and CLEAN_EXTRA, so they come first.
-include mqbridge/mqbridge.mk
-include $(wildcard tests/*.mk)
-include bench/bench.mk

all: $(PROGS)

test-progs: $(TEST_PROGS)

$(O)/tm_ivshmem_server: $(SERVER_OBJS)
	$(CC) $(LDFLAGS) -o $@ $(SERVER_OBJS)

$(O)/tm_ivshmem_client: $(CLIENT_OBJS)
	$(CC) $(LDFLAGS) -o $@ $(CLIENT_OBJS)

$(O)/%.o: %.c $(wildcard *.h) | $(O)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(O):
	mkdir -p $(O)

# The README's test command.  tests/run installs what is missing, builds
# both flavours and prints "N passed, N failed".
check:
	bash tests/run

# The README's run command: server and bridge in the foreground.
run: all
	bash scripts/run-system

install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(PROGS) $(DESTDIR)$(PREFIX)/bin

clean:
	rm -rf build *.o tm_ivshmem_server tm_ivshmem_client $(CLEAN_EXTRA)

.PHONY: all check install clean test-progs run
