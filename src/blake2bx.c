/*
 * blake2bx.c: many one-block BLAKE2b hashes side by side (blake2bx.h).
 *
 * A message of at most 128 bytes is one compression: h = IV with
 * h0 ^= 0x01010000 ^ outlen (no key), the message zero-padded to 128
 * bytes, counter t = len, final flag f0 = ~0, 12 rounds (RFC 7693
 * sections 2.5-3.2).  This is what libsodium computes for such a
 * message, and the tests (tests/t_blake2bx.c) check every path against
 * crypto_generichash for every length 0..128 and several digest lengths.
 *
 * Paths (cpu.h decides which exist; blake2bx_force overrides):
 * - AVX-512 F: one message per 64-bit lane of a zmm register, two groups
 *   of 8 per step (two independent chains keep more units busy than one:
 *   about 30% faster); native rotations (vprorq).
 * - AVX2: two groups of 4 per step; rotations by 32, 24 and 16 are byte
 *   shuffles, by 63 a shift, an add and an or.
 * - portable: crypto_generichash, one message at a time (any CPU; what a
 *   -DPSI_PORTABLE_ONLY build or PSI_STREAM_PORTABLE=1 gets).
 * The round code is written once, in blake2bx-lanes.h, and included for
 * each instruction set.  Message words are gathered straight from the
 * caller's slots and masked to the message length, so slot bytes after
 * the message may hold anything; a last group of fewer messages than
 * lanes is copied into a zeroed local step first.
 *
 * Assumes a little-endian CPU for the SIMD paths (they exist on x86-64
 * only).  Secrets pass through (KKRT rows): the local tail group and the
 * digest words are wiped with sodium_memzero before returning; like
 * libsodium's own compression, register spills of the rounds are not.
 * Memory: about 3 KiB of stack.  No failure but abort() on a caller's
 * out-of-range length.  Thread-safe except blake2bx_force.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "blake2bx.h"
#include "cpu.h"

#if defined(__x86_64__) && !defined(PSI_PORTABLE_ONLY)
#include <immintrin.h>
#define B2X_X86 1
#endif

enum { PATH_PORTABLE = 1, PATH_AVX2 = 2, PATH_AVX512 = 3 };

static int forced;

#ifdef B2X_X86
static const uint64_t b2x_iv[8] = {
	0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL,
	0x3c6ef372fe94f82bULL, 0xa54ff53a5f1d36f1ULL,
	0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL,
	0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL,
};

static const uint8_t b2x_sigma[10][16] = {
	{ 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 },
	{ 14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3 },
	{ 11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4 },
	{ 7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8 },
	{ 9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13 },
	{ 2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9 },
	{ 12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11 },
	{ 13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10 },
	{ 6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5 },
	{ 10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0 },
};

/*
 * Message words: word w of slot l into lane l of m[w].  AVX-512: plain
 * loads of whole slots and a transpose in registers, cheaper than 16
 * gathers once the rounds run two groups at a time (bench/hash_speed,
 * 25 -> 21 ns a hash).
 */
__attribute__((target("avx512f"))) static inline void
load_avx512(__m512i *m, const uint8_t *blocks)
{
	/* qword indexes into (a, b) for permutex2var: b is 8.. */
	const __m512i lo2 = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13);
	const __m512i hi2 = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
	const __m512i lo4 = _mm512_setr_epi64(0, 1, 2, 3, 8, 9, 10, 11);
	const __m512i hi4 = _mm512_setr_epi64(4, 5, 6, 7, 12, 13, 14, 15);
	__m512i r[8], t[8], u[8];
	int h, l;

	for (h = 0; h < 2; h++) {		/* words 8h .. 8h + 7 */
		for (l = 0; l < 8; l++)
			r[l] = _mm512_loadu_si512((const void *)(blocks +
			    l * 128 + 64 * h));
		for (l = 0; l < 8; l += 2) {	/* t[l]: even words, t[l+1]: odd */
			t[l] = _mm512_unpacklo_epi64(r[l], r[l + 1]);
			t[l + 1] = _mm512_unpackhi_epi64(r[l], r[l + 1]);
		}
		for (l = 0; l < 8; l += 4) {	/* rows l..l+3 */
			u[l] = _mm512_permutex2var_epi64(t[l], lo2, t[l + 2]);
			u[l + 1] = _mm512_permutex2var_epi64(t[l + 1], lo2,
			    t[l + 3]);
			u[l + 2] = _mm512_permutex2var_epi64(t[l], hi2,
			    t[l + 2]);
			u[l + 3] = _mm512_permutex2var_epi64(t[l + 1], hi2,
			    t[l + 3]);
		}
		/* u[k], u[k + 4] (k < 4): word k (+ 4 in the upper half)
		 * of rows 0..3 and 4..7, in order w0 w1 w2 w3 */
		for (l = 0; l < 4; l++) {
			m[8 * h + l] = _mm512_permutex2var_epi64(u[l], lo4,
			    u[l + 4]);
			m[8 * h + l + 4] = _mm512_permutex2var_epi64(u[l], hi4,
			    u[l + 4]);
		}
	}
}

/* AVX2 is the other way round: its gathers beat the transpose there
 * (41 against 44 ns a hash). */
__attribute__((target("avx2"))) static inline void
load_avx2(__m256i *m, const uint8_t *blocks)
{
	const __m256i idx = _mm256_setr_epi64x(0, 16, 32, 48);
	int w;

	for (w = 0; w < 16; w++)
		m[w] = _mm256_i64gather_epi64((const long long *)(const void *)
		    (blocks + 8 * w), idx, 8);
}

/* ---- AVX-512: 8 lanes a group ---- */
#define B2X_FN		b2x_avx512
#define B2X_TARGET	"avx512f"
#define B2X_V		__m512i
#define B2X_N		8
#define B2X_SET1(x)	_mm512_set1_epi64((long long)(x))
#define B2X_ADD		_mm512_add_epi64
#define B2X_XOR		_mm512_xor_si512
#define B2X_AND		_mm512_and_si512
#define B2X_SUB		_mm512_sub_epi64
#define B2X_SLLI3(x)	_mm512_slli_epi64(x, 3)
#define B2X_SRLV	_mm512_srlv_epi64
#define B2X_ROR32(x)	_mm512_ror_epi64(x, 32)
#define B2X_ROR24(x)	_mm512_ror_epi64(x, 24)
#define B2X_ROR16(x)	_mm512_ror_epi64(x, 16)
#define B2X_ROR63(x)	_mm512_ror_epi64(x, 63)
#define B2X_LOAD	load_avx512
#define B2X_LENS(l)	_mm512_cvtepu8_epi64(_mm_loadl_epi64( \
	(const __m128i *)(const void *)(l)))
#define B2X_CLAMP8(x)	_mm512_min_epi64(_mm512_max_epi64(x, \
	_mm512_setzero_si512()), B2X_SET1(8))
#define B2X_STORE(p, x)	_mm512_storeu_si512((void *)(p), x)
#include "blake2bx-lanes.h"

/* ---- AVX2: 4 lanes a group ---- */
#define B2X_FN		b2x_avx2
#define B2X_TARGET	"avx2"
#define B2X_V		__m256i
#define B2X_N		4
#define B2X_SET1(x)	_mm256_set1_epi64x((long long)(x))
#define B2X_ADD		_mm256_add_epi64
#define B2X_XOR		_mm256_xor_si256
#define B2X_AND		_mm256_and_si256
#define B2X_SUB		_mm256_sub_epi64
#define B2X_SLLI3(x)	_mm256_slli_epi64(x, 3)
#define B2X_SRLV	_mm256_srlv_epi64
#define B2X_ROR32(x)	_mm256_shuffle_epi32(x, _MM_SHUFFLE(2, 3, 0, 1))
#define B2X_ROR24(x)	_mm256_shuffle_epi8(x, _mm256_setr_epi8(3, 4, 5, \
	6, 7, 0, 1, 2, 11, 12, 13, 14, 15, 8, 9, 10, 3, 4, 5, 6, 7, 0, 1, 2, \
	11, 12, 13, 14, 15, 8, 9, 10))
#define B2X_ROR16(x)	_mm256_shuffle_epi8(x, _mm256_setr_epi8(2, 3, 4, \
	5, 6, 7, 0, 1, 10, 11, 12, 13, 14, 15, 8, 9, 2, 3, 4, 5, 6, 7, 0, 1, \
	10, 11, 12, 13, 14, 15, 8, 9))
#define B2X_ROR63(x)	_mm256_or_si256(_mm256_srli_epi64(x, 63), \
	_mm256_add_epi64(x, x))
#define B2X_LOAD	load_avx2
#define B2X_LENS(l)	_mm256_setr_epi64x((l)[0], (l)[1], (l)[2], (l)[3])
/* 32-bit clamps on 64-bit lanes: the high half of a small signed value
 * is 0 or -1, and both clamp to 0 */
#define B2X_CLAMP8(x)	_mm256_min_epi32(_mm256_max_epi32(x, \
	_mm256_setzero_si256()), B2X_SET1(8))
#define B2X_STORE(p, x)	_mm256_storeu_si256((__m256i *)(void *)(p), x)
#include "blake2bx-lanes.h"

typedef void kernel_fn(uint64_t *, size_t, const uint8_t *, const uint8_t *,
    uint64_t);

/* Digest words st[w * lanes + l] -> out + l * outlen, for l < k. */
static void
emit(uint8_t *out, size_t outlen, const uint64_t *st, size_t lanes,
    size_t k)
{
	size_t l, w, full = outlen / 8;

	for (l = 0; l < k; l++, out += outlen) {
		for (w = 0; w < full; w++)
			memcpy(out + 8 * w, &st[w * lanes + l], 8);
		if (outlen % 8 != 0)
			memcpy(out + 8 * full, &st[full * lanes + l],
			    outlen % 8);
	}
}

static void
lanes(kernel_fn *fn, size_t nl, uint8_t *out, size_t outlen,
    const uint8_t *blocks, const uint8_t *len, size_t n)
{
	uint64_t st[8 * B2X_LANES], h0 = b2x_iv[0] ^ 0x01010000 ^ outlen;
	uint8_t tail[B2X_LANES * B2X_BLOCK], tlen[B2X_LANES];
	size_t nw = (outlen + 7) / 8, i;

	for (i = 0; i + nl <= n; i += nl) {
		fn(st, nw, blocks + i * B2X_BLOCK, len + i, h0);
		emit(out + i * outlen, outlen, st, nl, nl);
	}
	if (i < n) {
		memset(tail, 0, sizeof(tail));
		memset(tlen, 0, sizeof(tlen));
		memcpy(tail, blocks + i * B2X_BLOCK, (n - i) * B2X_BLOCK);
		memcpy(tlen, len + i, n - i);
		fn(st, nw, tail, tlen, h0);
		emit(out + i * outlen, outlen, st, nl, n - i);
		sodium_memzero(tail, sizeof(tail));
	}
	sodium_memzero(st, sizeof(st));
}
#endif	/* B2X_X86 */

static int
have(int path)
{
	unsigned f = cpu_features();

	switch (path) {
	case PATH_PORTABLE:
		return 1;
	case PATH_AVX2:
		return (f & CPU_AVX2) != 0;
	case PATH_AVX512:
		return (f & CPU_AVX512) != 0;
	}
	return 0;
}

int
blake2bx_path(void)
{
	if (forced)
		return forced;
	return have(PATH_AVX512) ? PATH_AVX512 : have(PATH_AVX2) ? PATH_AVX2 :
	    PATH_PORTABLE;
}

int
blake2bx_force(int path)
{
	if (path != 0 && !have(path))
		return -1;
	forced = path;
	return 0;
}

void
blake2bx(uint8_t *out, size_t outlen, const uint8_t *blocks,
    const uint8_t *len, size_t n)
{
	size_t i;

	if (outlen < 1 || outlen > B2X_MAXOUT)
		abort();
	for (i = 0; i < n; i++)
		if (len[i] > B2X_BLOCK)
			abort();
	switch (blake2bx_path()) {
#ifdef B2X_X86
	case PATH_AVX512:
		lanes(b2x_avx512, 16, out, outlen, blocks, len, n);
		return;
	case PATH_AVX2:
		lanes(b2x_avx2, 8, out, outlen, blocks, len, n);
		return;
#endif
	default:
		for (i = 0; i < n; i++)
			crypto_generichash(out + i * outlen, outlen,
			    blocks + i * B2X_BLOCK, len[i], NULL, 0);
	}
}
