/*
 * nic_pci.c - attach to the ivshmem-doorbell device from inside a guest
 * through its sysfs directory (resource0, resource2, enable).
 *
 * Both resources are opened O_SYNC and mapped MAP_SHARED, as the kernel
 * wants for BARs.  The doorbell must be one aligned 32-bit store: QEMU's
 * register handler ignores narrower writes.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "mqbridge/nic/nic_pci.h"

/* A sysfs number such as "0x1af4\n"; -1 if the file is absent. */
static long
read_number(const char *dir, const char *name)
{
	char path[4096], buf[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return strtol(buf, NULL, 0);
}

/* A directory without vendor/device files (a test's stand-in) passes;
 * one that names another device is refused before anything is mapped. */
static int
check_ids(const char *dir, char *err, size_t len)
{
	long vendor = read_number(dir, "vendor");
	long device = read_number(dir, "device");

	if (vendor == -1 && device == -1)
		return 0;
	if (vendor != NIC_PCI_VENDOR || device != NIC_PCI_DEVICE)
		return errbuf(err, len, "%s is PCI device %04lx:%04lx, not "
		    "ivshmem (1af4:1110); give the ivshmem device's "
		    "directory", dir, vendor, device);
	return 0;
}

static int
enable(const char *dir, char *err, size_t len)
{
	char path[4096];
	int fd, saved;

	snprintf(path, sizeof(path), "%s/enable", dir);
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) == -1)
		return errno == ENOENT ? 0 : errbuf(err, len, "cannot open %s: "
		    "%s; run as root", path, strerror(errno));
	if (write(fd, "1", 1) != 1) {
		saved = errno;
		close(fd);
		return errbuf(err, len, "cannot enable %s: %s", path,
		    strerror(saved));
	}
	close(fd);
	return 0;
}

static int
open_resource(const char *dir, const char *name, uint64_t min,
    uint64_t *size, char *err, size_t len)
{
	char path[4096];
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fd = open(path, O_RDWR | O_SYNC | O_CLOEXEC)) == -1)
		return errbuf(err, len, "cannot open %s: %s; give the ivshmem "
		    "device's sysfs directory and run as root", path,
		    strerror(errno));
	if (fstat(fd, &st) == -1 || (uint64_t)st.st_size < min) {
		close(fd);
		return errbuf(err, len, "%s is smaller than %llu bytes; is this "
		    "an ivshmem device?", path, (unsigned long long)min);
	}
	*size = (uint64_t)st.st_size;
	return fd;
}

int
nic_pci_open(struct nic_pci *p, const char *dir, char *err, size_t len)
{
	uint64_t size;
	void *m;

	memset(p, 0, sizeof(*p));
	p->reg_fd = p->mem_fd = -1;
	if (check_ids(dir, err, len) == -1 || enable(dir, err, len) == -1)
		return -1;
	p->reg_fd = open_resource(dir, "resource0", NIC_PCI_DOORBELL + 4,
	    &size, err, len);
	if (p->reg_fd == -1)
		return -1;
	m = mmap(NULL, NIC_PCI_REGS_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
	    p->reg_fd, 0);
	if (m == MAP_FAILED)
		return errbuf(err, len, "cannot map %s/resource0: %s", dir,
		    strerror(errno));
	p->regs = m;
	p->mem_fd = open_resource(dir, "resource2", 4096, &p->mem_size, err,
	    len);
	return p->mem_fd == -1 ? -1 : 0;
}

uint32_t
nic_pci_position(const struct nic_pci *p)
{
	return p->regs[NIC_PCI_IVPOSITION / 4];
}

void
nic_pci_ring(const struct nic_pci *p, uint32_t id, uint32_t vec)
{
	p->regs[NIC_PCI_DOORBELL / 4] = (id & 0xffff) << 16 | (vec & 0xffff);
}

void
nic_pci_close(struct nic_pci *p)
{
	if (p->regs != NULL)
		munmap((void *)p->regs, NIC_PCI_REGS_SIZE);
	if (p->reg_fd != -1)
		close(p->reg_fd);
	if (p->mem_fd != -1)
		close(p->mem_fd);
	p->regs = NULL;
	p->reg_fd = p->mem_fd = -1;
}
