/*
 * nic_pci.h - the ivshmem-doorbell PCI device seen from inside a guest
 * through sysfs: BAR2 (resource2) is the region, BAR0 (resource0) holds
 * the registers.  No kernel driver is needed, and none gets interrupts:
 * the guest polls the shared memory instead (see the notes on guests).
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#ifndef TM_NIC_PCI_H
#define TM_NIC_PCI_H

#include <stddef.h>
#include <stdint.h>

/* BAR0 registers (QEMU docs/specs/ivshmem-spec.rst), 32 bits each. */
#define NIC_PCI_REGS_SIZE	256
#define NIC_PCI_IVPOSITION	8
#define NIC_PCI_DOORBELL	12
#define NIC_PCI_VENDOR		0x1af4
#define NIC_PCI_DEVICE		0x1110

struct nic_pci {
	int		 reg_fd;
	int		 mem_fd;	/* resource2: the region */
	uint64_t	 mem_size;
	volatile uint32_t *regs;
};

/* Enable the device, map its registers and open its memory: 0, or -1
 * with a one-line reason in err. */
int	nic_pci_open(struct nic_pci *, const char *dir, char *err,
	    size_t len);
/* Our peer ID as the device reports it (IVPosition). */
uint32_t nic_pci_position(const struct nic_pci *);
/* Ring vector vec of peer id: one 32-bit store to the doorbell. */
void	nic_pci_ring(const struct nic_pci *, uint32_t id, uint32_t vec);
void	nic_pci_close(struct nic_pci *);

#endif /* TM_NIC_PCI_H */
