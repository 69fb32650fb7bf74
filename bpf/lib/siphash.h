/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * siphash.h - SipHash-2-4 with 64- and 128-bit output (Aumasson & Bernstein).
 *
 * One implementation for the kernel programs, lib/ and the tests (DESIGN §8):
 * this header has no dependency beyond fixed-width integer types, so the BPF
 * side compiles exactly the code that tests/unit/test-keydigest.c checks
 * against the reference vectors.
 *
 * The message is read from a buffer that holds at least round_up(len + 1, 8)
 * bytes, with every byte from len on equal to zero: the final block is then a
 * plain little-endian load plus the length byte, with no byte loop. Callers
 * copy the key into such a zeroed buffer (TG_KEY_MAX + 8 bytes).
 */
#ifndef TG_LIB_SIPHASH_H
#define TG_LIB_SIPHASH_H

#ifndef TG_SIPHASH_INLINE
#define TG_SIPHASH_INLINE static inline __attribute__((always_inline))
#endif

#define TG_SIPHASH_MAX_BLOCKS 8 /* messages up to 63 bytes */

#define TG_ROTL64(x, b) (((x) << (b)) | ((x) >> (64 - (b))))

#define TG_SIPROUND(v0, v1, v2, v3)                                                               \
	do {                                                                                      \
		v0 += v1;                                                                         \
		v1 = TG_ROTL64(v1, 13);                                                           \
		v1 ^= v0;                                                                         \
		v0 = TG_ROTL64(v0, 32);                                                           \
		v2 += v3;                                                                         \
		v3 = TG_ROTL64(v3, 16);                                                           \
		v3 ^= v2;                                                                         \
		v0 += v3;                                                                         \
		v3 = TG_ROTL64(v3, 21);                                                           \
		v3 ^= v0;                                                                         \
		v2 += v1;                                                                         \
		v1 = TG_ROTL64(v1, 17);                                                           \
		v1 ^= v2;                                                                         \
		v2 = TG_ROTL64(v2, 32);                                                           \
	} while (0)

TG_SIPHASH_INLINE __u64 tg_sip_load_le64(const __u8 *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	__u64 v;

	__builtin_memcpy(&v, p, sizeof(v)); /* one load on BPF and x86 */
	return v;
#else
	return (__u64)p[0] | (__u64)p[1] << 8 | (__u64)p[2] << 16 | (__u64)p[3] << 24 |
	       (__u64)p[4] << 32 | (__u64)p[5] << 40 | (__u64)p[6] << 48 | (__u64)p[7] << 56;
#endif
}

TG_SIPHASH_INLINE void tg_sip_store_le64(__u8 *p, __u64 v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (__u8)(v >> (8 * i));
}

/*
 * tg_siphash() - SipHash-2-4 of msg[0..len) under the 16-byte key.
 * @out16: true for the 128-bit variant; out receives 16 bytes, else 8.
 * @len must be below 8 * TG_SIPHASH_MAX_BLOCKS; msg must be zero-padded as
 * described above.
 */
TG_SIPHASH_INLINE void tg_siphash(const __u8 *key, const __u8 *msg, __u32 len, int out16, __u8 *out)
{
	__u64 k0 = tg_sip_load_le64(key), k1 = tg_sip_load_le64(key + 8);
	__u64 v0 = 0x736f6d6570736575ULL ^ k0;
	__u64 v1 = 0x646f72616e646f6dULL ^ k1;
	__u64 v2 = 0x6c7967656e657261ULL ^ k0;
	__u64 v3 = 0x7465646279746573ULL ^ k1;
	__u32 full = len / 8;
	__u64 m;

	if (out16)
		v1 ^= 0xee;

	for (__u32 i = 0; i < TG_SIPHASH_MAX_BLOCKS; i++) {
		if (i >= full)
			break;
		m = tg_sip_load_le64(msg + 8 * i);
		v3 ^= m;
		TG_SIPROUND(v0, v1, v2, v3);
		TG_SIPROUND(v0, v1, v2, v3);
		v0 ^= m;
	}

	/* final block: the remaining bytes are followed by zeros */
	m = tg_sip_load_le64(msg + 8 * (full & (TG_SIPHASH_MAX_BLOCKS - 1))) | ((__u64)(len & 0xff) << 56);
	v3 ^= m;
	TG_SIPROUND(v0, v1, v2, v3);
	TG_SIPROUND(v0, v1, v2, v3);
	v0 ^= m;

	v2 ^= out16 ? 0xee : 0xff;
	TG_SIPROUND(v0, v1, v2, v3);
	TG_SIPROUND(v0, v1, v2, v3);
	TG_SIPROUND(v0, v1, v2, v3);
	TG_SIPROUND(v0, v1, v2, v3);
	tg_sip_store_le64(out, v0 ^ v1 ^ v2 ^ v3);
	if (!out16)
		return;

	v1 ^= 0xdd;
	TG_SIPROUND(v0, v1, v2, v3);
	TG_SIPROUND(v0, v1, v2, v3);
	TG_SIPROUND(v0, v1, v2, v3);
	TG_SIPROUND(v0, v1, v2, v3);
	tg_sip_store_le64(out + 8, v0 ^ v1 ^ v2 ^ v3);
}

#endif /* TG_LIB_SIPHASH_H */
