/*
 * qtest_drive.c - drive one real QEMU ivshmem device through qtest,
 * for tests/qemu.bats.
 *
 * Starts qemu-system-x86_64 stopped (-S) with the qtest protocol on its
 * stdio, plays firmware for the 1af4:1110 device (BARs, memory space, bus
 * master, MSI-X on with every vector masked), then runs simple commands and
 * prints one "key value" line per command on stdout.  Masked MSI-X vectors
 * make doorbells visible as pending bits, which is all a test needs: no
 * guest code runs.
 *
 * Every reply from QEMU has a deadline.  If QEMU dies, the driver says so
 * with the tail of QEMU's stderr (where QEMU's own error message is); on
 * any exit, signals included, QEMU gets SIGTERM and is reaped.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PROG		"qtest_drive"
#define IVSHMEM_ID	0x11101af4u	/* device 1110, vendor 1af4 */
#define REG_IVPOSITION	8
#define REG_DOORBELL	12
#define CAP_MSIX	0x11
/* 32-bit BARs go above q35's MMCONFIG window and below the IOAPIC. */
#define MEM32_BASE	0xe0000000ull
/* 64-bit BARs go at 64 GiB: aligned for BAR2 sizes up to 64 GiB. */
#define MEM64_BASE	0x1000000000ull
#define CHUNK		2048		/* bytes per qtest read/write line */
#define RBUF		(2 * CHUNK + 256)
#define TAIL		4096

struct qemu {
	pid_t	pid;
	int	in;		/* QEMU's stdin: our commands */
	int	out;		/* QEMU's stdout: its replies */
	int	err;		/* QEMU's stderr: kept for the death report */
	int	timeout_ms;
	char	rbuf[RBUF];
	size_t	rlen;
	char	tail[TAIL];
	size_t	tlen;
};

struct dev {
	unsigned int	cfg;		/* mechanism #1 address of reg 0 */
	uint64_t	bar[6];
	uint64_t	barsize[6];
	unsigned int	msix;		/* capability offset */
	unsigned int	nvec;
	uint64_t	table;		/* MSI-X table, guest physical */
	uint64_t	pba;		/* MSI-X PBA, guest physical */
};

static struct qemu q = { .pid = -1, .in = -1, .out = -1, .err = -1 };
static const char *qemu_bin = "qemu-system-x86_64";

static void	stop_qemu(void);

static void
usage(void)
{
	fprintf(stderr,
	    "usage: " PROG " [-t SECONDS] [-P PIDFILE] [-c COMMAND]... "
	    "[--] QEMU_ARGS...\n"
	    "Commands (from -c, else one per line on stdin):\n"
	    "  ivposition | bar2size | vectors | pid | pending | quit\n"
	    "  read OFF LEN | write OFF HEX      (BAR2)\n"
	    "  doorbell PEER VECTOR | waitpending VECTOR MS | sleep MS | "
	    "echo WORDS\n"
	    "QEMU: $QEMU, else qemu-system-x86_64.\n");
	exit(2);
}

static void __attribute__((format(printf, 1, 2), noreturn))
die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	stop_qemu();
	exit(1);
}

/* Async-signal-safe: the signal handler uses it too. */
static int
reap(pid_t pid, int ms)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	int status, i;

	for (i = 0; i <= ms / 10; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return status;
		nanosleep(&ts, NULL);
	}
	return -1;
}

static void
stop_qemu(void)
{
	pid_t pid = q.pid;

	if (pid <= 0)
		return;
	q.pid = -1;
	kill(pid, SIGTERM);
	if (reap(pid, 5000) == -1) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
}

static void
on_signal(int sig)
{
	stop_qemu();
	_exit(128 + sig);
}

static void
tail_add(const char *p, size_t n)
{
	if (n >= TAIL) {
		p += n - TAIL;
		n = TAIL;
	}
	if (q.tlen + n > TAIL) {
		memmove(q.tail, q.tail + (q.tlen + n - TAIL), TAIL - n);
		q.tlen = TAIL - n;
	}
	memcpy(q.tail + q.tlen, p, n);
	q.tlen += n;
}

static void
drain_stderr(void)
{
	char buf[1024];
	ssize_t n;

	while (q.err != -1) {
		n = read(q.err, buf, sizeof(buf));
		if (n > 0) {
			tail_add(buf, (size_t)n);
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == 0) {
			close(q.err);
			q.err = -1;
		}
		return;
	}
}

/* QEMU closed its stdout: report how it ended and what it said. */
static void __attribute__((noreturn))
qemu_died(const char *doing)
{
	int status, fl;
	pid_t pid = q.pid;

	q.pid = -1;
	status = reap(pid, 5000);
	if (q.err != -1) {
		fl = fcntl(q.err, F_GETFL);
		fcntl(q.err, F_SETFL, fl & ~O_NONBLOCK);
		drain_stderr();
	}
	fflush(stdout);
	if (status == -1) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	if (WIFSIGNALED(status))
		fprintf(stderr, PROG ": qemu died of signal %d %s\n",
		    WTERMSIG(status), doing);
	else
		fprintf(stderr, PROG ": qemu exited with status %d %s\n",
		    WEXITSTATUS(status), doing);
	fprintf(stderr, "%.*s", (int)q.tlen, q.tail);
	if (q.tlen > 0 && q.tail[q.tlen - 1] != '\n')
		fputc('\n', stderr);
	exit(1);
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
start_qemu(char **extra, int nextra)
{
	static const char *fixed[] = { "-machine", "q35", "-accel", "tcg",
	    "-S", "-qtest", "stdio", "-qtest-log", "/dev/null",
	    "-display", "none", "-nodefaults", "-m", "64" };
	int nfixed = sizeof(fixed) / sizeof(fixed[0]);
	int pin[2], pout[2], perr[2], i, fd;
	struct rlimit nocore = { 0, 0 };
	pid_t parent = getpid();
	char **argv;

	argv = calloc((size_t)(nfixed + nextra + 2), sizeof(*argv));
	if (argv == NULL)
		die("out of memory");
	argv[0] = (char *)qemu_bin;
	for (i = 0; i < nfixed; i++)
		argv[1 + i] = (char *)fixed[i];
	for (i = 0; i < nextra; i++)
		argv[1 + nfixed + i] = extra[i];
	if (pipe2(pin, O_CLOEXEC) == -1 || pipe2(pout, O_CLOEXEC) == -1 ||
	    pipe2(perr, O_CLOEXEC) == -1)
		die("pipe: %s", strerror(errno));
	if ((q.pid = fork()) == -1)
		die("fork: %s", strerror(errno));
	if (q.pid == 0) {
		/* If the driver is SIGKILLed, QEMU must not linger. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(127);
		/* Tests make QEMU abort on purpose: no core files. */
		setrlimit(RLIMIT_CORE, &nocore);
		dup2(pin[0], 0);
		dup2(pout[1], 1);
		dup2(perr[1], 2);
		for (fd = 3; fd < 1024; fd++)
			close(fd);
		execvp(argv[0], argv);
		fprintf(stderr, PROG ": cannot run %s: %s; install "
		    "qemu-system-x86 or set $QEMU\n", argv[0], strerror(errno));
		_exit(127);
	}
	free(argv);
	close(pin[0]);
	close(pout[1]);
	close(perr[1]);
	q.in = pin[1];
	q.out = pout[0];
	q.err = perr[0];
	fcntl(q.err, F_SETFL, fcntl(q.err, F_GETFL) | O_NONBLOCK);
}

/* One line from QEMU's stdout into line[], without the newline. */
static void
read_line(char *line, size_t size, const char *cmd)
{
	long long deadline = now_ms() + q.timeout_ms;
	struct pollfd pfd[2];
	char *nl;
	ssize_t n;
	size_t len;
	int left;

	for (;;) {
		if ((nl = memchr(q.rbuf, '\n', q.rlen)) != NULL) {
			len = (size_t)(nl - q.rbuf);
			if (len >= size)
				die("reply to '%.40s' too long (%zu bytes)",
				    cmd, len);
			memcpy(line, q.rbuf, len);
			line[len] = '\0';
			q.rlen -= len + 1;
			memmove(q.rbuf, nl + 1, q.rlen);
			return;
		}
		if (q.rlen == sizeof(q.rbuf))
			die("reply to '%.40s' has no end of line", cmd);
		if ((left = (int)(deadline - now_ms())) <= 0)
			die("no reply from qemu within %d ms to '%.40s'; "
			    "is the machine overloaded? raise -t",
			    q.timeout_ms, cmd);
		pfd[0] = (struct pollfd){ .fd = q.out, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = q.err, .events = POLLIN };
		if (poll(pfd, q.err == -1 ? 1 : 2, left) == -1) {
			if (errno == EINTR)
				continue;
			die("poll: %s", strerror(errno));
		}
		if (q.err != -1 && pfd[1].revents)
			drain_stderr();
		if (pfd[0].revents == 0)
			continue;
		n = read(q.out, q.rbuf + q.rlen, sizeof(q.rbuf) - q.rlen);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			qemu_died(q.rlen ? "in mid-reply" : "instead of "
			    "replying");
		q.rlen += (size_t)n;
	}
}

/*
 * Send one qtest command, return the text after "OK" in reply[].
 * Asynchronous "IRQ ..." lines may come first: they are skipped.
 */
static void
qtest(char *reply, size_t size, const char *fmt, ...)
{
	char cmd[2 * CHUNK + 128], line[RBUF];
	va_list ap;
	size_t len, off;
	ssize_t n;
	int w;

	va_start(ap, fmt);
	w = vsnprintf(cmd, sizeof(cmd) - 1, fmt, ap);
	va_end(ap);
	if (w < 0 || (size_t)w >= sizeof(cmd) - 1)
		die("qtest command too long");
	len = (size_t)w;
	cmd[len++] = '\n';
	for (off = 0; off < len; off += (size_t)n) {
		n = write(q.in, cmd + off, len - off);
		if (n == -1 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n == -1)
			qemu_died("before taking a command");
	}
	cmd[len - 1] = '\0';
	do
		read_line(line, sizeof(line), cmd);
	while (strncmp(line, "IRQ", 3) == 0);
	if (strncmp(line, "OK", 2) != 0)
		die("qemu answered '%.60s' to '%.40s'", line, cmd);
	if (reply != NULL)
		snprintf(reply, size, "%s", line[2] == ' ' ? line + 3 :
		    line + 2);
}

static uint64_t
qtest_u64(const char *fmt, unsigned long long arg)
{
	char reply[64], *end;
	uint64_t v;

	qtest(reply, sizeof(reply), fmt, arg);
	errno = 0;
	v = strtoull(reply, &end, 0);
	if (errno != 0 || end == reply || *end != '\0')
		die("qemu gave a non-number '%s'", reply);
	return v;
}

static uint32_t
readl(uint64_t addr)
{
	return (uint32_t)qtest_u64("readl 0x%llx", addr);
}

static void
writel(uint64_t addr, uint32_t v)
{
	qtest(NULL, 0, "writel 0x%llx 0x%x", (unsigned long long)addr, v);
}

static uint32_t
cfg_read(const struct dev *d, unsigned int reg)
{
	qtest(NULL, 0, "outl 0xcf8 0x%x", d->cfg | (reg & 0xfc));
	return (uint32_t)qtest_u64("inl 0x%llx", 0xcfc);
}

static void
cfg_write(const struct dev *d, unsigned int reg, uint32_t v)
{
	qtest(NULL, 0, "outl 0xcf8 0x%x", d->cfg | (reg & 0xfc));
	qtest(NULL, 0, "outl 0xcfc 0x%x", v);
}

static void
find_device(struct dev *d)
{
	unsigned int slot;

	for (slot = 0; slot < 32; slot++) {
		d->cfg = 0x80000000u | slot << 11;
		if (cfg_read(d, 0) == IVSHMEM_ID)
			return;
	}
	die("no ivshmem device (1af4:1110) on PCI bus 0; pass "
	    "-device ivshmem-doorbell or ivshmem-plain");
}

/* Size one BAR the way firmware does; returns 2 for a 64-bit BAR. */
static int
size_bar(struct dev *d, int i, uint64_t *next32, uint64_t *next64)
{
	unsigned int reg = 0x10 + 4 * (unsigned int)i;
	uint32_t orig, lo, hi = 0xffffffffu;
	int wide;
	uint64_t mask, size, *next;

	orig = cfg_read(d, reg);
	if (orig & 1)
		return 1;		/* I/O BAR: ivshmem has none */
	wide = (orig & 6) == 4;
	cfg_write(d, reg, 0xffffffffu);
	lo = cfg_read(d, reg);
	if (wide) {
		cfg_write(d, reg + 4, 0xffffffffu);
		hi = cfg_read(d, reg + 4);
	}
	mask = ((uint64_t)hi << 32 | (lo & ~0xfu));
	if (!wide)
		mask |= 0xffffffff00000000ull;
	if ((lo & ~0xfu) == 0 && (!wide || hi == 0))
		return wide ? 2 : 1;	/* BAR not implemented */
	size = ~mask + 1;
	next = wide ? next64 : next32;
	*next = (*next + size - 1) & ~(size - 1);
	d->bar[i] = *next;
	d->barsize[i] = size;
	*next += size;
	cfg_write(d, reg, (uint32_t)d->bar[i] | (lo & 0xf));
	if (wide)
		cfg_write(d, reg + 4, (uint32_t)(d->bar[i] >> 32));
	return wide ? 2 : 1;
}

static void
assign_bars(struct dev *d)
{
	uint64_t next32 = MEM32_BASE, next64 = MEM64_BASE;
	int i;

	for (i = 0; i < 6; )
		i += size_bar(d, i, &next32, &next64);
	if (d->barsize[0] == 0 || d->barsize[2] == 0)
		die("ivshmem BAR0 or BAR2 missing; is this QEMU's ivshmem?");
	/* Memory space and bus master on; status bits are write-1-clear. */
	cfg_write(d, 0x04, (cfg_read(d, 0x04) & 0xffff) | 0x6);
}

static uint64_t
msix_where(struct dev *d, uint32_t v)
{
	unsigned int bir = v & 7;

	if (bir > 5 || d->barsize[bir] == 0)
		die("MSI-X structure in unassigned BAR %u", bir);
	return d->bar[bir] + (v & ~7u);
}

/* MSI-X on, every vector masked: doorbells then show up in the PBA. */
static void
enable_msix(struct dev *d)
{
	unsigned int off, n;
	uint32_t w;

	off = cfg_read(d, 0x34) & 0xfc;
	for (n = 0; off != 0 && n < 48; n++) {
		w = cfg_read(d, off);
		if ((w & 0xff) == CAP_MSIX)
			break;
		off = (w >> 8) & 0xfc;
	}
	if (off == 0 || n == 48)
		return;			/* ivshmem-plain: no MSI-X */
	d->msix = off;
	d->nvec = ((w >> 16) & 0x7ff) + 1;
	d->table = msix_where(d, cfg_read(d, off + 4));
	d->pba = msix_where(d, cfg_read(d, off + 8));
	for (n = 0; n < d->nvec; n++)
		writel(d->table + 16 * n + 12, 1);
	cfg_write(d, off, (w & 0x3fff0000u) | 0x80000000u);
}

static uint64_t
parse_num(const char *s, const char *what, uint64_t max)
{
	char *end;
	uint64_t v;

	if (s == NULL)
		die("missing %s; see " PROG " -h", what);
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno != 0 || end == s || *end != '\0' || *s == '-' || v > max)
		die("bad %s '%s': want a number up to %" PRIu64, what, s, max);
	return v;
}

static uint64_t
pending(const struct dev *d)
{
	uint64_t bits = 0;
	unsigned int i;

	if (d->nvec == 0)
		die("pending: this device has no MSI-X; use ivshmem-doorbell");
	for (i = 0; i < (d->nvec + 31) / 32; i++)
		bits |= (uint64_t)readl(d->pba + 4 * i) << (32 * i);
	return bits;
}

static void
cmd_write(const struct dev *d, const char *off_s, const char *hex)
{
	uint64_t off, len, n;

	off = parse_num(off_s, "offset", d->barsize[2]);
	if (hex == NULL)
		die("write: missing HEX bytes");
	if (strncmp(hex, "0x", 2) == 0)
		hex += 2;
	len = strlen(hex);
	if (len == 0 || len % 2 != 0 || strspn(hex, "0123456789abcdefABCDEF")
	    != len)
		die("write: '%.20s' is not an even number of hex digits", hex);
	len /= 2;
	if (len > d->barsize[2] - off)
		die("write: %" PRIu64 " bytes at %" PRIu64 " run past BAR2 "
		    "(%" PRIu64 " bytes)", len, off, d->barsize[2]);
	for (n = 0; n < len; n += CHUNK) {
		uint64_t c = len - n < CHUNK ? len - n : CHUNK;

		qtest(NULL, 0, "write 0x%llx %llu 0x%.*s",
		    (unsigned long long)(d->bar[2] + off + n),
		    (unsigned long long)c, (int)(2 * c), hex + 2 * n);
	}
	printf("write %" PRIu64 "\n", len);
}

static void
cmd_read(const struct dev *d, const char *off_s, const char *len_s)
{
	char reply[RBUF];
	uint64_t off, len, n, c;

	off = parse_num(off_s, "offset", d->barsize[2]);
	len = parse_num(len_s, "length", 1 << 20);
	if (len > d->barsize[2] - off)
		die("read: %" PRIu64 " bytes at %" PRIu64 " run past BAR2",
		    len, off);
	fputs("read ", stdout);
	for (n = 0; n < len; n += c) {
		c = len - n < CHUNK ? len - n : CHUNK;
		qtest(reply, sizeof(reply), "read 0x%llx %llu",
		    (unsigned long long)(d->bar[2] + off + n),
		    (unsigned long long)c);
		if (strncmp(reply, "0x", 2) != 0 || strlen(reply) != 2 + 2 * c)
			die("read: odd reply '%.40s'", reply);
		fputs(reply + 2, stdout);
	}
	putchar('\n');
}

static void
cmd_waitpending(const struct dev *d, const char *v_s, const char *ms_s)
{
	struct timespec ts = { 0, 1000 * 1000 };
	uint64_t v, bits;
	long long deadline;

	v = parse_num(v_s, "vector", 63);
	deadline = now_ms() + (long long)parse_num(ms_s, "milliseconds",
	    600000);
	while (((bits = pending(d)) >> v & 1) == 0 && now_ms() < deadline)
		nanosleep(&ts, NULL);
	printf("pending 0x%" PRIx64 "\n", bits);
}

static void
cmd_sleep(const char *ms_s)
{
	uint64_t ms = parse_num(ms_s, "milliseconds", 600000);
	struct timespec ts = { (time_t)(ms / 1000),
	    (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
	printf("sleep %" PRIu64 "\n", ms);
}

/* Returns 0 after "quit", 1 otherwise. */
static int
run_command(const struct dev *d, char *line)
{
	char *save = NULL, *cmd, *a, *b;
	uint64_t peer, vec;

	if ((cmd = strtok_r(line, " \t\r\n", &save)) == NULL)
		return 1;
	a = strtok_r(NULL, " \t\r\n", &save);
	b = strtok_r(NULL, " \t\r\n", &save);
	if (strcmp(cmd, "ivposition") == 0)
		printf("ivposition %" PRIu32 "\n",
		    readl(d->bar[0] + REG_IVPOSITION));
	else if (strcmp(cmd, "bar2size") == 0)
		printf("bar2size %" PRIu64 "\n", d->barsize[2]);
	else if (strcmp(cmd, "vectors") == 0)
		printf("vectors %u\n", d->nvec);
	else if (strcmp(cmd, "pid") == 0)
		printf("pid %ld\n", (long)q.pid);
	else if (strcmp(cmd, "pending") == 0)
		printf("pending 0x%" PRIx64 "\n", pending(d));
	else if (strcmp(cmd, "waitpending") == 0)
		cmd_waitpending(d, a, b);
	else if (strcmp(cmd, "write") == 0)
		cmd_write(d, a, b);
	else if (strcmp(cmd, "read") == 0)
		cmd_read(d, a, b);
	else if (strcmp(cmd, "doorbell") == 0) {
		peer = parse_num(a, "peer", 0xffff);
		vec = parse_num(b, "vector", 0xff);
		writel(d->bar[0] + REG_DOORBELL, (uint32_t)(peer << 16 | vec));
		printf("doorbell %" PRIu64 " %" PRIu64 "\n", peer, vec);
	} else if (strcmp(cmd, "sleep") == 0)
		cmd_sleep(a);
	else if (strcmp(cmd, "echo") == 0) {
		fputs("echo", stdout);
		for (; a != NULL; a = b, b = strtok_r(NULL, " \t\r\n", &save))
			printf(" %s", a);
		putchar('\n');
	}
	else if (strcmp(cmd, "quit") == 0) {
		stop_qemu();
		printf("quit\n");
		return 0;
	} else
		die("unknown command '%s'; see " PROG " -h", cmd);
	fflush(stdout);
	return 1;
}

static void
handle_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static void
write_pidfile(const char *path)
{
	FILE *f;

	if ((f = fopen(path, "w")) == NULL)
		die("cannot write %s: %s", path, strerror(errno));
	fprintf(f, "%ld\n", (long)q.pid);
	if (fclose(f) == EOF)
		die("cannot write %s: %s", path, strerror(errno));
}

int
main(int argc, char **argv)
{
	static struct dev d;
	char **cmds, *line = NULL;
	const char *pidfile = NULL;
	size_t cap = 0;
	int ch, ncmds = 0, i, go = 1;

	if (getenv("QEMU") != NULL && *getenv("QEMU") != '\0')
		qemu_bin = getenv("QEMU");
	q.timeout_ms = 10000;
	if ((cmds = calloc((size_t)argc, sizeof(*cmds))) == NULL)
		die("out of memory");
	while ((ch = getopt(argc, argv, "+c:hP:t:")) != -1) {
		switch (ch) {
		case 'c':
			cmds[ncmds++] = optarg;
			break;
		case 'P':
			pidfile = optarg;
			break;
		case 't':
			q.timeout_ms = (int)parse_num(optarg, "-t seconds",
			    3600) * 1000;
			break;
		default:
			usage();
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	handle_signals();
	start_qemu(argv + optind, argc - optind);
	if (pidfile != NULL)
		write_pidfile(pidfile);
	find_device(&d);
	assign_bars(&d);
	enable_msix(&d);
	for (i = 0; i < ncmds && go; i++)
		go = run_command(&d, cmds[i]);
	while (ncmds == 0 && go && getline(&line, &cap, stdin) != -1)
		go = run_command(&d, line);
	free(line);
	free(cmds);
	stop_qemu();
	return 0;
}
