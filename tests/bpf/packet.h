/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * packet.h - build Ethernet frames for XDP fixtures and take output frames
 * apart again.
 *
 * A fixture describes a frame with struct pkt_spec: Ethernet, an optional
 * 802.1Q tag, IPv4 (options, flags, fragment offset) or IPv6 (optional
 * fragment extension header), TCP (flags, sequence numbers, options) and a
 * payload. pkt_build() writes it with correct IPv4 and TCP checksums; the
 * *_override fields and @truncate produce the malformed frames a parser must
 * survive. pkt_parse() and the checksum predicates check what a program wrote,
 * computing every checksum from scratch (nothing is trusted from the frame).
 *
 * Addresses and ports in struct pkt_spec are given the way one writes them:
 * addresses as bytes in network order, ports and sequence numbers in host
 * order. Everything the parser returns points into the caller's frame.
 */
#ifndef TG_TESTS_PACKET_H
#define TG_TESTS_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PKT_MAX 4096 /* largest frame the fixtures build or receive */

/* TCP flags, as in the 13th byte of the TCP header. */
#define PKT_FIN 0x01
#define PKT_SYN 0x02
#define PKT_RST 0x04
#define PKT_PSH 0x08
#define PKT_ACK 0x10
#define PKT_URG 0x20

/* IPv4 frag_off bits (host order; the offset is in 8-byte units). */
#define PKT_IP_DF 0x4000
#define PKT_IP_MF 0x2000
#define PKT_IP_OFFMASK 0x1fff

#define PKT_ETH_P_IP 0x0800
#define PKT_ETH_P_IPV6 0x86dd
#define PKT_ETH_P_8021Q 0x8100
#define PKT_ETH_P_ARP 0x0806

#define PKT_IPPROTO_TCP 6
#define PKT_IPPROTO_UDP 17
#define PKT_IPPROTO_FRAGMENT 44

struct pkt_spec {
	uint8_t eth_src[6];
	uint8_t eth_dst[6];
	uint16_t eth_proto; /* 0 = IPv4 or IPv6 per @ipv6; else raw, no L3 is built */

	bool vlan;
	uint16_t vlan_tci;

	bool ipv6;
	uint8_t saddr[16]; /* IPv4: the first 4 bytes */
	uint8_t daddr[16];
	uint8_t ttl;	  /* IPv4 TTL or IPv6 hop limit */
	uint8_t l4_proto; /* 0 = TCP; UDP builds an 8-byte UDP header instead */

	/* IPv4 only */
	uint16_t ip_id;
	uint16_t frag_off; /* PKT_IP_* flags | offset in 8-byte units, host order */
	const uint8_t *ip_options;
	size_t ip_options_len;	   /* multiple of 4, at most 40 */
	unsigned int ihl_override; /* 0 = computed; written as is otherwise */

	/* IPv6 only: a fragment extension header before the TCP header */
	bool frag_hdr;
	uint16_t frag_offset; /* in 8-byte units */
	bool frag_more;
	uint32_t frag_id;

	/* TCP (ports also for UDP) */
	uint16_t sport;
	uint16_t dport;
	uint32_t seq;
	uint32_t ack_seq;
	uint8_t tcp_flags;
	uint16_t window;
	const uint8_t *tcp_options;
	size_t tcp_options_len;	    /* multiple of 4, at most 40 */
	unsigned int doff_override; /* 0 = computed; written as is otherwise */

	const void *payload;
	size_t payload_len;

	size_t truncate; /* 0, or cut the finished frame to this many bytes */
};

/*
 * pkt_spec_init() - a client-to-server TCP segment with defaults: client
 * 10.0.0.2 (fd00::2) port 40000 to server 10.0.0.1 (fd00::1) port 8080, PSH|ACK,
 * seq 1000, ack 5000, TTL 64, TCP timestamp option, no payload.
 */
void pkt_spec_init(struct pkt_spec *spec, bool ipv6);

/* pkt_set_ipv4() / pkt_set_ipv6() - set source and destination from text. */
void pkt_set_ipv4(struct pkt_spec *spec, const char *saddr, const char *daddr);
void pkt_set_ipv6(struct pkt_spec *spec, const char *saddr, const char *daddr);

/*
 * pkt_build() - write the frame @spec describes into @buf.
 * Returns 0 and sets *ret_len, or -ENOSPC when @size is too small, -EINVAL for
 * options that are not a multiple of 4 or too long.
 */
int pkt_build(const struct pkt_spec *spec, uint8_t *buf, size_t size, size_t *ret_len);

/* A frame taken apart by pkt_parse(); pointers point into the frame. */
struct pkt_view {
	const uint8_t *frame;
	size_t len;
	const uint8_t *eth_dst;
	const uint8_t *eth_src;
	bool vlan;
	uint16_t vlan_tci;
	uint16_t eth_proto; /* after the VLAN tag */
	bool ipv6;
	size_t l3_off;
	size_t l3_len;	   /* per the IP length field (header + payload) */
	size_t ip_hdr_len; /* IPv4: IHL * 4; IPv6: 40 (no extension headers) */
	uint8_t ttl;
	const uint8_t *saddr; /* 4 or 16 bytes */
	const uint8_t *daddr;
	size_t l4_off;
	uint16_t sport; /* host order */
	uint16_t dport;
	uint32_t seq;
	uint32_t ack_seq;
	uint8_t tcp_flags;
	size_t tcp_hdr_len;
	const uint8_t *payload;
	size_t payload_len; /* per the IP length field */
};

/*
 * pkt_parse() - take apart an Ethernet (+ VLAN) / IPv4 or IPv6 / TCP frame.
 * Returns 0, or -EBADMSG when the frame is not such a frame or its lengths
 * disagree (IP length beyond the frame, IHL or data offset below 5, an IPv6
 * next header other than TCP).
 */
int pkt_parse(const uint8_t *frame, size_t len, struct pkt_view *ret);

/*
 * pkt_csum() - the Internet checksum (RFC 1071) of @len bytes, as a host-order
 * number (store it big-endian). Over data that holds its own checksum the
 * result is 0.
 */
uint16_t pkt_csum(const void *data, size_t len);

/* pkt_ipv4_csum_ok() - true when the IPv4 header checksum verifies. */
bool pkt_ipv4_csum_ok(const struct pkt_view *view);

/*
 * pkt_tcp_csum_ok() - true when the TCP checksum verifies over the
 * pseudo-header, the TCP header and the payload (as long as the IP length
 * field says).
 */
bool pkt_tcp_csum_ok(const struct pkt_view *view);

/* An HTTP/1.1 response taken apart by pkt_http_parse(). */
struct pkt_http {
	char version[16];
	int status;
	const char *headers; /* first header line */
	size_t headers_len;  /* up to and including the blank line's CRLF */
	const char *body;
	size_t body_len;
};

/*
 * pkt_http_parse() - split a response into status line, headers and body.
 * Returns 0, or -EBADMSG when there is no "HTTP/x.y NNN " status line or no
 * blank line ending the headers.
 */
int pkt_http_parse(const uint8_t *msg, size_t len, struct pkt_http *ret);

/*
 * pkt_http_header() - copy the trimmed value of header @name (case-insensitive)
 * into @ret (NUL-terminated, at most @size - 1 bytes).
 * Returns the number of headers of that name found (0 = absent).
 */
int pkt_http_header(const struct pkt_http *http, const char *name, char *ret, size_t size);

#endif /* TG_TESTS_PACKET_H */
