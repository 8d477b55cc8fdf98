/*
 * prg.c: the OT engine's PRG.  Each of the 512 base-OT seeds keys
 * ChaCha20-IETF (RFC 8439 section 2.4) with
 *     nonce   = "KKRT" || bucket (8 bytes little-endian)
 *     counter = block index (32 bits)
 * so the stream of a bucket starts at counter 0 and any 64-byte block of
 * it can be computed directly: a superblock of bins needs no state from
 * the superblocks or buckets before it, and slices can be handed to
 * different threads.
 *
 * Why ChaCha20 and not AES-CTR: libsodium's ChaCha20 picks its AVX2 or
 * SSSE3 code at run time, runs in constant time everywhere and gives the
 * same bytes on every CPU, so the two parties never need to agree on a
 * "suite".  Measured on the build machine (Zen 5, shared): 0.39 ns/byte
 * for calls of >= 512 bytes (202 ns per 512-byte call), 1.7 ns/byte for
 * 64-byte calls; callers therefore ask for >= 512 bytes at a time.  An
 * AES-NI CTR stream would save at most ~40 ns per querier bin; a portable
 * path with identical output would need a constant-time software AES
 * (far slower than ChaCha20), so AES is not used at all.
 *
 * Many streams at once (prg_streams, the 512 columns of a superblock):
 * - AVX-512 F: sixteen 64-byte blocks side by side, one state word of
 *   each per 32-bit lane of a zmm register, with native rotations
 *   (vprold); the lanes run through the (key, block) pairs in order, so
 *   a column of 8 blocks and its neighbour's share one step.  The
 *   results are transposed in registers (32- and 64-bit unpacks, then
 *   128-bit lane shuffles) and stored a block at a time.  Measured on
 *   Zen 5 (bench/hash_speed, 512 columns of 512 bytes): 0.19 ns/byte
 *   against 0.44 for libsodium's AVX2 code called per column.
 * - portable: prg_stream (libsodium) once per key, any CPU; what a
 *   -DPSI_PORTABLE_ONLY build or PSI_STREAM_PORTABLE=1 (cpu.c) gets.
 * Both give the bytes of RFC 8439 ChaCha20; tests/t_prg.c compares the
 * paths with each other and with libsodium.
 *
 * Memory: none; the output is written in place.  The keys are the
 * caller's (secure memory); the key words and the tail block staged on
 * the stack are wiped, register spills of the rounds are not (as with
 * libsodium's own code).  Thread-safe except prg_force.
 */
#include <string.h>

#include <sodium.h>

#include "bytes.h"
#include "cpu.h"
#include "prg.h"

#if defined(__x86_64__) && !defined(PSI_PORTABLE_ONLY)
#include <immintrin.h>
#define PRG_X86 1
#endif

static int forced;

/* "KKRT" || LE64(bucket), the nonce of every stream of a bucket. */
static void
bucket_nonce(uint8_t nonce[crypto_stream_chacha20_ietf_NONCEBYTES],
    uint64_t bucket)
{
	int i;

	memcpy(nonce, "KKRT", 4);
	for (i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(bucket >> (8 * i));
}

void
prg_stream(uint8_t *out, size_t len, const uint8_t key[PRG_KEY],
    uint64_t bucket, uint64_t block)
{
	uint8_t nonce[crypto_stream_chacha20_ietf_NONCEBYTES];

	bucket_nonce(nonce, bucket);
	/* libsodium has no "keystream from counter" call: XOR zeros in
	 * place (its stream functions allow out == in). */
	memset(out, 0, len);
	crypto_stream_chacha20_ietf_xor_ic(out, out, len, nonce,
	    (uint32_t)block, key);
}

static void
streams_portable(uint8_t *out, size_t stride, size_t len,
    const uint8_t (*keys)[PRG_KEY], size_t nkeys, uint64_t bucket,
    uint64_t block)
{
	size_t c;

	for (c = 0; c < nkeys; c++)
		prg_stream(out + c * stride, len, keys[c], bucket, block);
}

#ifdef PRG_X86
#define LANES	16

/* What one step of 16 blocks computes: each lane's key words, counter
 * and destination (NULL: a lane past the last block), its bytes (64, or
 * fewer for a column's last block). */
struct step {
	uint32_t	 kw[8][LANES];
	uint32_t	 ctr[LANES];
	uint8_t		*dst[LANES];
	size_t		 len[LANES];
};

#define QR(a, b, c, d) do {						\
	a = _mm512_add_epi32(a, b);					\
	d = _mm512_rol_epi32(_mm512_xor_si512(d, a), 16);		\
	c = _mm512_add_epi32(c, d);					\
	b = _mm512_rol_epi32(_mm512_xor_si512(b, c), 12);		\
	a = _mm512_add_epi32(a, b);					\
	d = _mm512_rol_epi32(_mm512_xor_si512(d, a), 8);		\
	c = _mm512_add_epi32(c, d);					\
	b = _mm512_rol_epi32(_mm512_xor_si512(b, c), 7);		\
} while (0)

__attribute__((target("avx512f"))) static inline void
put_block(const struct step *st, unsigned l, __m512i v, uint8_t *tail)
{
	if (st->dst[l] == NULL)
		return;
	if (st->len[l] == 64) {
		_mm512_storeu_si512((void *)st->dst[l], v);
		return;
	}
	_mm512_storeu_si512((void *)tail, v);
	memcpy(st->dst[l], tail, st->len[l]);
}

/* The 16 blocks of a step: 20 rounds, the feed-forward, then lane l's
 * 16 words (x[0..15], lane l) transposed into one register and stored. */
__attribute__((target("avx512f"))) static void
step16(const struct step *st, const uint32_t nw[3], uint8_t *tail)
{
	static const uint32_t sigma[4] = { 0x61707865, 0x3320646e,
	    0x79622d32, 0x6b206574 };
	__m512i x[16], a[4][4], lo01, hi01, lo23, hi23, s0, s1, s2, s3;
	int i, r, g, e;

	for (i = 0; i < 4; i++)
		x[i] = _mm512_set1_epi32((int)sigma[i]);
	for (i = 0; i < 8; i++)
		x[4 + i] = _mm512_loadu_si512((const void *)st->kw[i]);
	x[12] = _mm512_loadu_si512((const void *)st->ctr);
	for (i = 0; i < 3; i++)
		x[13 + i] = _mm512_set1_epi32((int)nw[i]);
	for (r = 0; r < 10; r++) {
		QR(x[0], x[4], x[8], x[12]);
		QR(x[1], x[5], x[9], x[13]);
		QR(x[2], x[6], x[10], x[14]);
		QR(x[3], x[7], x[11], x[15]);
		QR(x[0], x[5], x[10], x[15]);
		QR(x[1], x[6], x[11], x[12]);
		QR(x[2], x[7], x[8], x[13]);
		QR(x[3], x[4], x[9], x[14]);
	}
	for (i = 0; i < 4; i++)
		x[i] = _mm512_add_epi32(x[i], _mm512_set1_epi32((int)sigma[i]));
	for (i = 0; i < 8; i++)
		x[4 + i] = _mm512_add_epi32(x[4 + i],
		    _mm512_loadu_si512((const void *)st->kw[i]));
	x[12] = _mm512_add_epi32(x[12],
	    _mm512_loadu_si512((const void *)st->ctr));
	for (i = 0; i < 3; i++)
		x[13 + i] = _mm512_add_epi32(x[13 + i],
		    _mm512_set1_epi32((int)nw[i]));
	/* a[g][e], 128-bit lane k: words 4g..4g+3 of the block in lane
	 * 4k + e */
	for (g = 0; g < 4; g++) {
		lo01 = _mm512_unpacklo_epi32(x[4 * g], x[4 * g + 1]);
		hi01 = _mm512_unpackhi_epi32(x[4 * g], x[4 * g + 1]);
		lo23 = _mm512_unpacklo_epi32(x[4 * g + 2], x[4 * g + 3]);
		hi23 = _mm512_unpackhi_epi32(x[4 * g + 2], x[4 * g + 3]);
		a[g][0] = _mm512_unpacklo_epi64(lo01, lo23);
		a[g][1] = _mm512_unpackhi_epi64(lo01, lo23);
		a[g][2] = _mm512_unpacklo_epi64(hi01, hi23);
		a[g][3] = _mm512_unpackhi_epi64(hi01, hi23);
	}
	/* the 4 x 4 matrix of 128-bit lanes a[0..3][e] transposed: the
	 * blocks of lanes e, 4 + e, 8 + e, 12 + e */
	for (e = 0; e < 4; e++) {
		s0 = _mm512_shuffle_i32x4(a[0][e], a[1][e], 0x44);
		s1 = _mm512_shuffle_i32x4(a[2][e], a[3][e], 0x44);
		s2 = _mm512_shuffle_i32x4(a[0][e], a[1][e], 0xee);
		s3 = _mm512_shuffle_i32x4(a[2][e], a[3][e], 0xee);
		put_block(st, (unsigned)e, _mm512_shuffle_i32x4(s0, s1, 0x88),
		    tail);
		put_block(st, 4u + (unsigned)e,
		    _mm512_shuffle_i32x4(s0, s1, 0xdd), tail);
		put_block(st, 8u + (unsigned)e,
		    _mm512_shuffle_i32x4(s2, s3, 0x88), tail);
		put_block(st, 12u + (unsigned)e,
		    _mm512_shuffle_i32x4(s2, s3, 0xdd), tail);
	}
}

/* Every key's len bytes as (key, block) pairs in order, 16 a step. */
static void
streams_avx512(uint8_t *out, size_t stride, size_t len,
    const uint8_t (*keys)[PRG_KEY], size_t nkeys, uint64_t bucket,
    uint64_t block)
{
	struct step st;
	uint8_t nonce[crypto_stream_chacha20_ietf_NONCEBYTES], tail[64];
	uint32_t nw[3];
	size_t nb = (len + 63) / 64, total = nkeys * nb, u, v, c, j;
	unsigned l, w;

	bucket_nonce(nonce, bucket);
	for (w = 0; w < 3; w++)
		nw[w] = get_le32(nonce + 4 * w);
	for (u = 0; u < total; u += LANES) {
		for (l = 0; l < LANES; l++) {
			v = u + l < total ? u + l : total - 1;
			c = v / nb;
			j = v % nb;
			for (w = 0; w < 8; w++)
				st.kw[w][l] = get_le32(keys[c] + 4 * w);
			st.ctr[l] = (uint32_t)(block + j);
			st.dst[l] = u + l < total ? out + c * stride + 64 * j :
			    NULL;
			st.len[l] = len - 64 * j < 64 ? len - 64 * j : 64;
		}
		step16(&st, nw, tail);
	}
	sodium_memzero(&st, sizeof(st));
	sodium_memzero(tail, sizeof(tail));
}
#endif

/* cpu.c reports AVX-512 only where PRG_X86 is set too (x86-64, not
 * -DPSI_PORTABLE_ONLY). */
int
prg_path(void)
{
	if (forced)
		return forced;
	return cpu_features() & CPU_AVX512 ? PRG_AVX512 : PRG_PORTABLE;
}

int
prg_force(int path)
{
	if (path < 0 || path > PRG_AVX512)
		return -1;
	if (path == PRG_AVX512 && !(cpu_features() & CPU_AVX512))
		return -1;
	forced = path;
	return 0;
}

void
prg_streams(uint8_t *out, size_t stride, size_t len,
    const uint8_t (*keys)[PRG_KEY], size_t nkeys, uint64_t bucket,
    uint64_t block)
{
	if (len == 0 || nkeys == 0)
		return;
#ifdef PRG_X86
	if (prg_path() == PRG_AVX512) {
		streams_avx512(out, stride, len, keys, nkeys, bucket, block);
		return;
	}
#endif
	streams_portable(out, stride, len, keys, nkeys, bucket, block);
}
