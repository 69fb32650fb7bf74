/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * packet.c - frame builder and output checkers for the XDP fixtures.
 *
 * Headers are written and read byte by byte at fixed offsets rather than
 * through the kernel's structs: the fixtures must be able to write fields the
 * structs would not let through (IHL 4, data offset 2), and a checker that
 * shares nothing with the code under test catches more.
 */
#include "packet.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

#define ETH_HLEN 14
#define VLAN_HLEN 4
#define IPV4_HLEN 20
#define IPV6_HLEN 40
#define FRAG_HLEN 8
#define TCP_HLEN 20
#define UDP_HLEN 8

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = (v >> 16) & 0xff;
	p[2] = (v >> 8) & 0xff;
	p[3] = v & 0xff;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Unfolded one's-complement sum of big-endian 16-bit words; an odd last byte
 * is padded with zero, so only the last piece of a chain may be odd. */
static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += get16(p + i);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

uint16_t pkt_csum(const void *data, size_t len)
{
	return csum_fold(csum_add(0, data, len));
}

/* Sum of the pseudo-header for an upper-layer segment of @l4_len bytes. */
static uint32_t pseudo_sum(bool ipv6, const uint8_t *saddr, const uint8_t *daddr, uint8_t proto,
			   size_t l4_len)
{
	uint8_t tail[8];
	uint32_t sum = 0;
	size_t alen = ipv6 ? 16 : 4;

	sum = csum_add(sum, saddr, alen);
	sum = csum_add(sum, daddr, alen);
	if (ipv6) {
		put32(tail, (uint32_t)l4_len);
		tail[4] = tail[5] = tail[6] = 0;
		tail[7] = proto;
		return csum_add(sum, tail, 8);
	}
	tail[0] = 0;
	tail[1] = proto;
	put16(tail + 2, (uint16_t)l4_len);
	return csum_add(sum, tail, 4);
}

void pkt_spec_init(struct pkt_spec *spec, bool ipv6)
{
	static const uint8_t tcp_ts[12] = { 1, 1, 8, 10, 0, 0, 0x10, 0, 0, 0, 0x20, 0 };
	static const uint8_t client_mac[6] = { 0x02, 0, 0, 0, 0, 0x02 };
	static const uint8_t server_mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };

	memset(spec, 0, sizeof(*spec));
	memcpy(spec->eth_src, client_mac, 6);
	memcpy(spec->eth_dst, server_mac, 6);
	spec->ipv6 = ipv6;
	if (ipv6)
		pkt_set_ipv6(spec, "fd00::2", "fd00::1");
	else
		pkt_set_ipv4(spec, "10.0.0.2", "10.0.0.1");
	spec->ttl = 64;
	spec->ip_id = 0x1234;
	spec->frag_off = PKT_IP_DF;
	spec->sport = 40000;
	spec->dport = 8080;
	spec->seq = 1000;
	spec->ack_seq = 5000;
	spec->tcp_flags = PKT_PSH | PKT_ACK;
	spec->window = 502;
	spec->tcp_options = tcp_ts;
	spec->tcp_options_len = sizeof(tcp_ts);
}

void pkt_set_ipv4(struct pkt_spec *spec, const char *saddr, const char *daddr)
{
	memset(spec->saddr, 0, 16);
	memset(spec->daddr, 0, 16);
	inet_pton(AF_INET, saddr, spec->saddr);
	inet_pton(AF_INET, daddr, spec->daddr);
}

void pkt_set_ipv6(struct pkt_spec *spec, const char *saddr, const char *daddr)
{
	inet_pton(AF_INET6, saddr, spec->saddr);
	inet_pton(AF_INET6, daddr, spec->daddr);
}

static size_t build_l4(const struct pkt_spec *spec, uint8_t *p, size_t *ret_hdr_len)
{
	size_t hdr_len;

	if (spec->l4_proto == PKT_IPPROTO_UDP) {
		hdr_len = UDP_HLEN;
		put16(p, spec->sport);
		put16(p + 2, spec->dport);
		put16(p + 4, (uint16_t)(UDP_HLEN + spec->payload_len));
		put16(p + 6, 0);
	} else {
		unsigned int doff;

		hdr_len = TCP_HLEN + spec->tcp_options_len;
		doff = spec->doff_override ? spec->doff_override : hdr_len / 4;
		put16(p, spec->sport);
		put16(p + 2, spec->dport);
		put32(p + 4, spec->seq);
		put32(p + 8, spec->ack_seq);
		p[12] = (uint8_t)((doff & 0xf) << 4);
		p[13] = spec->tcp_flags;
		put16(p + 14, spec->window);
		put16(p + 16, 0);
		put16(p + 18, 0);
		if (spec->tcp_options_len)
			memcpy(p + TCP_HLEN, spec->tcp_options, spec->tcp_options_len);
	}
	if (spec->payload_len)
		memcpy(p + hdr_len, spec->payload, spec->payload_len);
	*ret_hdr_len = hdr_len;
	return hdr_len + spec->payload_len;
}

int pkt_build(const struct pkt_spec *spec, uint8_t *buf, size_t size, size_t *ret_len)
{
	uint8_t frame[PKT_MAX];
	size_t off = 0, l3_off, l4_off, l4_len, l4_hdr_len, len;
	uint8_t proto = spec->l4_proto ? spec->l4_proto : PKT_IPPROTO_TCP;
	uint16_t csum_off;
	uint32_t sum;

	if (spec->ip_options_len % 4 || spec->ip_options_len > 40 || spec->tcp_options_len % 4 ||
	    spec->tcp_options_len > 40)
		return -EINVAL;
	if (ETH_HLEN + VLAN_HLEN + IPV6_HLEN + FRAG_HLEN + 60 + spec->payload_len > sizeof(frame))
		return -ENOSPC;

	memcpy(frame, spec->eth_dst, 6);
	memcpy(frame + 6, spec->eth_src, 6);
	off = 12;
	if (spec->vlan) {
		put16(frame + off, PKT_ETH_P_8021Q);
		put16(frame + off + 2, spec->vlan_tci);
		off += VLAN_HLEN;
	}
	if (spec->eth_proto) {
		put16(frame + off, spec->eth_proto);
		off += 2;
		memcpy(frame + off, spec->payload, spec->payload_len);
		len = off + spec->payload_len;
		goto out_copy;
	}
	put16(frame + off, spec->ipv6 ? PKT_ETH_P_IPV6 : PKT_ETH_P_IP);
	off += 2;
	l3_off = off;

	if (spec->ipv6) {
		l4_off = l3_off + IPV6_HLEN + (spec->frag_hdr ? FRAG_HLEN : 0);
		l4_len = build_l4(spec, frame + l4_off, &l4_hdr_len);
		put32(frame + l3_off, 6u << 28);
		put16(frame + l3_off + 4, (uint16_t)(l4_off - l3_off - IPV6_HLEN + l4_len));
		frame[l3_off + 6] = spec->frag_hdr ? PKT_IPPROTO_FRAGMENT : proto;
		frame[l3_off + 7] = spec->ttl;
		memcpy(frame + l3_off + 8, spec->saddr, 16);
		memcpy(frame + l3_off + 24, spec->daddr, 16);
		if (spec->frag_hdr) {
			uint8_t *fh = frame + l3_off + IPV6_HLEN;

			fh[0] = proto;
			fh[1] = 0;
			put16(fh + 2,
			      (uint16_t)(spec->frag_offset << 3 | (spec->frag_more ? 1 : 0)));
			put32(fh + 4, spec->frag_id);
		}
	} else {
		size_t ihl_bytes = IPV4_HLEN + spec->ip_options_len;
		unsigned int ihl = spec->ihl_override ? spec->ihl_override : ihl_bytes / 4;
		uint8_t *ip = frame + l3_off;

		l4_off = l3_off + ihl_bytes;
		l4_len = build_l4(spec, frame + l4_off, &l4_hdr_len);
		ip[0] = (uint8_t)(0x40 | (ihl & 0xf));
		ip[1] = 0;
		put16(ip + 2, (uint16_t)(ihl_bytes + l4_len));
		put16(ip + 4, spec->ip_id);
		put16(ip + 6, spec->frag_off);
		ip[8] = spec->ttl;
		ip[9] = proto;
		put16(ip + 10, 0);
		memcpy(ip + 12, spec->saddr, 4);
		memcpy(ip + 16, spec->daddr, 4);
		if (spec->ip_options_len)
			memcpy(ip + IPV4_HLEN, spec->ip_options, spec->ip_options_len);
		put16(ip + 10, pkt_csum(ip, ihl_bytes));
	}

	csum_off = proto == PKT_IPPROTO_UDP ? 6 : 16;
	sum = pseudo_sum(spec->ipv6, spec->saddr, spec->daddr, proto, l4_len);
	put16(frame + l4_off + csum_off, csum_fold(csum_add(sum, frame + l4_off, l4_len)));
	len = l4_off + l4_len;

out_copy:
	if (spec->truncate && spec->truncate < len)
		len = spec->truncate;
	if (len > size)
		return -ENOSPC;
	memcpy(buf, frame, len);
	*ret_len = len;
	return 0;
}

int pkt_parse(const uint8_t *frame, size_t len, struct pkt_view *ret)
{
	struct pkt_view v = { .frame = frame, .len = len };
	size_t off = 12, l4_avail;
	uint8_t proto;

	if (len < ETH_HLEN)
		return -EBADMSG;
	v.eth_dst = frame;
	v.eth_src = frame + 6;
	v.eth_proto = get16(frame + off);
	off += 2;
	if (v.eth_proto == PKT_ETH_P_8021Q) {
		if (len < off + 4)
			return -EBADMSG;
		v.vlan = true;
		v.vlan_tci = get16(frame + off);
		v.eth_proto = get16(frame + off + 2);
		off += 4;
	}
	v.l3_off = off;

	if (v.eth_proto == PKT_ETH_P_IP) {
		const uint8_t *ip = frame + off;

		if (len < off + IPV4_HLEN || ip[0] >> 4 != 4 || (ip[0] & 0xf) < 5)
			return -EBADMSG;
		v.ip_hdr_len = (size_t)(ip[0] & 0xf) * 4;
		v.l3_len = get16(ip + 2);
		if (v.l3_len < v.ip_hdr_len || off + v.l3_len > len)
			return -EBADMSG;
		v.ttl = ip[8];
		proto = ip[9];
		v.saddr = ip + 12;
		v.daddr = ip + 16;
	} else if (v.eth_proto == PKT_ETH_P_IPV6) {
		const uint8_t *ip6 = frame + off;

		if (len < off + IPV6_HLEN || ip6[0] >> 4 != 6)
			return -EBADMSG;
		v.ipv6 = true;
		v.ip_hdr_len = IPV6_HLEN;
		v.l3_len = IPV6_HLEN + get16(ip6 + 4);
		if (off + v.l3_len > len)
			return -EBADMSG;
		proto = ip6[6];
		v.ttl = ip6[7];
		v.saddr = ip6 + 8;
		v.daddr = ip6 + 24;
	} else {
		return -EBADMSG;
	}
	if (proto != PKT_IPPROTO_TCP)
		return -EBADMSG;

	v.l4_off = off + v.ip_hdr_len;
	l4_avail = v.l3_len - v.ip_hdr_len;
	if (l4_avail < TCP_HLEN)
		return -EBADMSG;
	v.tcp_hdr_len = (size_t)(frame[v.l4_off + 12] >> 4) * 4;
	if (v.tcp_hdr_len < TCP_HLEN || v.tcp_hdr_len > l4_avail)
		return -EBADMSG;
	v.sport = get16(frame + v.l4_off);
	v.dport = get16(frame + v.l4_off + 2);
	v.seq = get32(frame + v.l4_off + 4);
	v.ack_seq = get32(frame + v.l4_off + 8);
	v.tcp_flags = frame[v.l4_off + 13];
	v.payload = frame + v.l4_off + v.tcp_hdr_len;
	v.payload_len = l4_avail - v.tcp_hdr_len;
	*ret = v;
	return 0;
}

bool pkt_ipv4_csum_ok(const struct pkt_view *view)
{
	if (view->ipv6)
		return false;
	return pkt_csum(view->frame + view->l3_off, view->ip_hdr_len) == 0;
}

bool pkt_tcp_csum_ok(const struct pkt_view *view)
{
	size_t l4_len = view->l3_len - view->ip_hdr_len;
	uint32_t sum = pseudo_sum(view->ipv6, view->saddr, view->daddr, PKT_IPPROTO_TCP, l4_len);

	return csum_fold(csum_add(sum, view->frame + view->l4_off, l4_len)) == 0;
}

int pkt_http_parse(const uint8_t *msg, size_t len, struct pkt_http *ret)
{
	struct pkt_http h = { 0 };
	const char *s = (const char *)msg, *eol, *sp, *blank;
	size_t vlen;

	/* "HTTP/1.1 429 Reason\r\n" */
	eol = memmem(s, len, "\r\n", 2);
	if (!eol || eol - s < 12 || strncmp(s, "HTTP/", 5))
		return -EBADMSG;
	sp = memchr(s, ' ', (size_t)(eol - s));
	if (!sp)
		return -EBADMSG;
	vlen = (size_t)(sp - s);
	if (vlen >= sizeof(h.version) || eol - sp < 4)
		return -EBADMSG;
	memcpy(h.version, s, vlen);
	for (int i = 1; i <= 3; i++) {
		if (!isdigit((unsigned char)sp[i]))
			return -EBADMSG;
		h.status = h.status * 10 + (sp[i] - '0');
	}
	if (sp + 4 != eol && sp[4] != ' ')
		return -EBADMSG;

	/* the headers end with an empty line: the CRLF ending the last header
	 * (or the status line) followed by CRLF */
	blank = memmem(eol, len - (size_t)(eol - s), "\r\n\r\n", 4);
	if (!blank)
		return -EBADMSG;
	h.headers = eol + 2;
	h.body = blank + 4;
	h.headers_len = (size_t)(h.body - h.headers);
	h.body_len = len - (size_t)(h.body - s);
	*ret = h;
	return 0;
}

int pkt_http_header(const struct pkt_http *http, const char *name, char *ret, size_t size)
{
	const char *line = http->headers, *end = http->headers + http->headers_len;
	size_t nlen = strlen(name);
	int found = 0;

	while (line < end) {
		const char *eol = memmem(line, (size_t)(end - line), "\r\n", 2);
		const char *val, *vend;

		if (!eol || eol == line)
			break;
		if ((size_t)(eol - line) > nlen && line[nlen] == ':' &&
		    !strncasecmp(line, name, nlen)) {
			val = line + nlen + 1;
			vend = eol;
			while (val < vend && (*val == ' ' || *val == '\t'))
				val++;
			while (vend > val && (vend[-1] == ' ' || vend[-1] == '\t'))
				vend--;
			if (!found && size) {
				size_t n = (size_t)(vend - val) < size - 1 ? (size_t)(vend - val)
									   : size - 1;

				memcpy(ret, val, n);
				ret[n] = '\0';
			}
			found++;
		}
		line = eol + 2;
	}
	return found;
}
