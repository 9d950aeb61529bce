/*
 * mqpeer_vnet.c - frames with a virtio_net_hdr for mqpeer: well-made TCP
 * and UDP segments of several MSS for the bridge to cut (or pass on
 * whole), hostile headers of every kind the bridge must refuse, and an
 * independent check (RFC 1071, written here, not the bridge's code) of
 * the checksums in what comes back.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <stdio.h>
#include <string.h>

#include "mqbridge/slot/ring_abi.h"
#include "tests/progs/mqpeer_vnet.h"

#define PAYLOAD_BYTE(i)	((unsigned char)((i) * 7 + 3))

static void
w16(unsigned char *p, unsigned int v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

static unsigned int
r16(const unsigned char *p)
{
	return (unsigned int)(p[0] << 8 | p[1]);
}

/* RFC 1071, big-endian words, as the RFC writes it. */
static unsigned long
sum16(const unsigned char *p, size_t len, unsigned long s)
{
	for (; len > 1; p += 2, len -= 2)
		s += (unsigned long)(p[0] << 8 | p[1]);
	if (len)
		s += (unsigned long)p[0] << 8;
	return s;
}

static unsigned int
fold(unsigned long s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (unsigned int)s;
}

static void
le16(unsigned char *p, unsigned int v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

/* The kernel's partial checksum: the pseudo-header's sum, folded, not
 * complemented, in the L4 checksum field. */
static void
partial(unsigned char *f, unsigned int l3, unsigned int l4, int v6,
    unsigned int proto, unsigned int len)
{
	unsigned long s = proto + (len - l4);
	unsigned int c;

	s = v6 ? sum16(f + l3 + 8, 32, s) : sum16(f + l3 + 12, 8, s);
	c = fold(s);
	w16(f + l4 + (proto == 6 ? 16 : 6), c);
}

uint32_t
vnet_craft(unsigned char *out, const char *kind, const uint8_t dst[6],
    const uint8_t src[6], uint32_t payload, uint32_t gso)
{
	int v6 = strstr(kind, "6") != NULL, udp = strncmp(kind, "udp", 3) == 0;
	unsigned int l3 = 14, l4 = l3 + (v6 ? 40 : 20), he, len, i;
	unsigned char *f = out + RING_VNET_HDR_LEN, *h = out;

	he = l4 + (udp ? 8 : 20);
	len = he + payload;
	memset(out, 0, RING_VNET_HDR_LEN + he);
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	w16(f + 12, v6 ? 0x86dd : 0x0800);
	if (v6) {
		f[l3] = 0x60;
		w16(f + l3 + 4, len - l4);
		f[l3 + 6] = udp ? 17 : 6;
		f[l3 + 7] = 64;
		f[l3 + 8] = 0xfd;
		f[l3 + 23] = 1;
		f[l3 + 24] = 0xfd;
		f[l3 + 39] = 2;
	} else {
		f[l3] = 0x45;
		w16(f + l3 + 2, len - l3);
		w16(f + l3 + 4, 0x1000);
		f[l3 + 8] = 64;
		f[l3 + 9] = udp ? 17 : 6;
		f[l3 + 12] = 10, f[l3 + 15] = 1;
		f[l3 + 16] = 10, f[l3 + 19] = 2;
		w16(f + l3 + 10, ~fold(sum16(f + l3, 20, 0)) & 0xffff);
	}
	w16(f + l4, 4000);
	w16(f + l4 + 2, 5000);
	if (udp)
		w16(f + l4 + 4, len - l4);
	else {
		w16(f + l4 + 4, 0x0102);	/* sequence 0x01020304 */
		w16(f + l4 + 6, 0x0304);
		f[l4 + 12] = 5 << 4;
		f[l4 + 13] = 0x18 | 0x01;	/* PSH ACK FIN */
		w16(f + l4 + 14, 65535);
	}
	for (i = 0; i < payload; i++)
		f[he + i] = PAYLOAD_BYTE(i);
	partial(f, l3, l4, v6, udp ? 17 : 6, len);
	h[0] = RING_VNET_F_NEEDS_CSUM;
	h[1] = (unsigned char)(udp ? RING_VNET_GSO_UDP_L4 : v6 ?
	    RING_VNET_GSO_TCPV6 : RING_VNET_GSO_TCPV4);
	le16(h + 2, he);
	le16(h + 4, gso);
	le16(h + 6, l4);
	le16(h + 8, udp ? 6 : 16);
	return RING_VNET_HDR_LEN + len;
}

int
vnet_spoil(unsigned char *out, uint32_t *len, const char *how)
{
	unsigned char *h = out, *f = out + RING_VNET_HDR_LEN;
	uint32_t flen = *len - RING_VNET_HDR_LEN;

	if (strcmp(how, "flags") == 0)
		h[0] |= 0x4;				/* RSC_INFO */
	else if (strcmp(how, "type") == 0)
		h[1] = 3;				/* UFO */
	else if (strcmp(how, "size0") == 0)
		le16(h + 4, 0);
	else if (strcmp(how, "hdrlen") == 0)
		le16(h + 2, flen + 1);
	else if (strcmp(how, "csum") == 0) {
		h[1] = 0;		/* a plain frame: only this is wrong */
		le16(h + 6, flen - 1);
	} else if (strcmp(how, "ecn") == 0)
		h[1] = 0x80;		/* ECN, yet no TCP segment */
	else if (strcmp(how, "segs") == 0)
		le16(h + 4, 1);		/* UDP: len - 42 segments > 128 */
	else if (strcmp(how, "headers") == 0)
		f[14 + 9] = 17;		/* TCP, says the header; UDP, the IP */
	else if (strcmp(how, "long") == 0)
		h[1] = 0;		/* no segment, yet past the MTU */
	else
		return -1;
	return 0;
}

const char *
vnet_verify(const unsigned char *f, uint32_t len, int partial_ok)
{
	unsigned int type, l3 = 14, l4, proto, v6, plen;
	unsigned long s;

	if (len < 14 + 20)
		return "none";
	type = r16(f + 12);
	if (type != 0x0800 && type != 0x86dd)
		return "none";
	v6 = type == 0x86dd;
	if (v6) {
		l4 = l3 + 40;
		proto = f[l3 + 6];
		plen = r16(f + l3 + 4);
		if (l4 + plen != len)
			return "badlen";
		s = sum16(f + l3 + 8, 32, 0);
	} else {
		l4 = l3 + (f[l3] & 0xf) * 4u;
		proto = f[l3 + 9];
		plen = r16(f + l3 + 2) - (l4 - l3);
		if (fold(sum16(f + l3, l4 - l3, 0)) != 0xffff)
			return "badip";
		if (l3 + r16(f + l3 + 2) != len)
			return "badlen";
		s = sum16(f + l3 + 12, 8, 0);
	}
	if (proto != 6 && proto != 17)
		return "none";
	s = sum16(f + l4, plen, s + proto + plen);
	if (fold(s) == 0xffff)
		return "ok";
	return partial_ok ? "partial" : "bad";
}

int
vnet_payload_ok(const unsigned char *f, uint32_t len, uint32_t *first)
{
	unsigned int l3 = 14, l4, he, i, v6 = r16(f + 12) == 0x86dd;
	unsigned int proto, base;

	l4 = v6 ? l3 + 40 : l3 + (f[l3] & 0xf) * 4u;
	proto = v6 ? f[l3 + 6] : f[l3 + 9];
	he = proto == 17 ? l4 + 8 : l4 + (f[l4 + 12] >> 4) * 4u;
	if (he > len)
		return 0;
	/* TCP: the sequence number says where the payload was; UDP
	 * segments follow each other, so the caller passes the offset. */
	if (proto == 6)
		base = (unsigned int)(r16(f + l4 + 4) << 16 | r16(f + l4 + 6)) -
		    0x01020304u;
	else
		base = *first;
	for (i = he; i < len; i++)
		if (f[i] != PAYLOAD_BYTE(base + i - he))
			return 0;
	*first = base + len - he;
	return 1;
}
