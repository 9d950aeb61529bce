TEST_PROGS += $(O)/tests/bin/qtest_drive
$(O)/tests/bin/qtest_drive: tests/qtest_drive.c ; mkdir -p $(@D) && $(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $<
CLEAN_EXTRA += tests/bin
