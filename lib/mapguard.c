/*
 * mapguard.c - SIGBUS on a guarded mapping replaces it with private zero
 * pages and marks it dead (see mapguard.h).
 *
 * The handler runs on the faulting instruction: it maps anonymous pages
 * over the whole guarded range (mmap with MAP_FIXED is a plain system
 * call, safe in a handler) and returns, so the access is retried and
 * succeeds on the zeros.  The program notices the death at its next look
 * at mapguard_deaths() and stops using the mapping; until then it reads
 * zeros and writes into private pages, which the ring checks (and our
 * callers' dead-region paths) treat as any other garbage.  A SIGBUS that
 * no guarded range explains gets the default action: a real fault still
 * stops the process with a core.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <sys/mman.h>

#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "lib/mapguard.h"

enum { FREE, LIVE, DEAD };

struct guarded {
	uintptr_t	 start;
	size_t		 len;
	_Atomic int	 state;
};

static struct guarded table[MAPGUARD_MAX];
static _Atomic unsigned int deaths;
static int installed;		/* 0 not yet, 1 yes, -1 failed */

static void
give_up(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGBUS, &sa, NULL);
	(void)raise(SIGBUS);	/* delivered once we return */
}

static void
on_sigbus(int sig, siginfo_t *si, void *ctx)
{
	uintptr_t a = (uintptr_t)si->si_addr;
	struct guarded *g;
	int i;

	(void)sig;
	(void)ctx;
	for (i = 0; si->si_code > 0 && i < MAPGUARD_MAX; i++) {
		g = &table[i];
		if (atomic_load(&g->state) == FREE || a < g->start ||
		    a - g->start >= g->len)
			continue;
		if (mmap((void *)g->start, g->len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) ==
		    MAP_FAILED)
			break;
		if (atomic_exchange(&g->state, DEAD) == LIVE)
			atomic_fetch_add(&deaths, 1);
		return;
	}
	give_up();
}

static int
install(void)
{
	struct sigaction sa;

	if (installed != 0)
		return installed;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	installed = sigaction(SIGBUS, &sa, NULL) == 0 ? 1 : -1;
	return installed;
}

int
mapguard_add(void *addr, size_t len)
{
	int i;

	if (install() != 1)
		return -1;
	for (i = 0; i < MAPGUARD_MAX; i++) {
		if (atomic_load(&table[i].state) != FREE)
			continue;
		table[i].start = (uintptr_t)addr;
		table[i].len = len;
		atomic_store(&table[i].state, LIVE);
		return i;
	}
	return -1;
}

void
mapguard_del(int h)
{
	if (h >= 0 && h < MAPGUARD_MAX)
		atomic_store(&table[h].state, FREE);
}

int
mapguard_dead(int h)
{
	return h >= 0 && h < MAPGUARD_MAX &&
	    atomic_load(&table[h].state) == DEAD;
}

unsigned int
mapguard_deaths(void)
{
	return atomic_load_explicit(&deaths, memory_order_relaxed);
}
