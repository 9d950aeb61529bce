# tests/server.mk - build rules for the server suites' own test programs
# (tests/server*.bats).  Included by the top Makefile; objects and
# binaries go under $(O) so the ASan flavour gets its own peerstorm.

$(O)/tests/bin/peerstorm: tests/peerstorm.c $(O)/send_scm.o send_scm.h
	mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ tests/peerstorm.c $(O)/send_scm.o

TEST_PROGS += $(O)/tests/bin/peerstorm
