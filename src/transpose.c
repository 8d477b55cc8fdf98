/*
 * transpose.c: 512 x n bit-matrix transpose (columns of n bits -> n rows
 * of 512 bits) for the KKRT OT extension (kkrt.c).
 *
 * Three paths giving the same bytes (tests/t_transpose.c checks them
 * against a bit-by-bit transpose and each other on random matrices):
 * - AVX-512 BW: 64 columns x 128 bins per step, and
 * - AVX2: 32 columns x 128 bins per step, both the one SIMD step of
 *   DEFINE_TRANSPOSE_STEP below (a 16 x 16 byte transpose in each
 *   128-bit lane, then one movemask a row's bit), compiled with target
 *   attributes and used only if cpu.c reports the instruction set, so
 *   the build needs no -m flags.  Measured on Zen 5 per 4096-bin
 *   superblock: 6.3 ns/bin AVX-512, 14.7 AVX2, 47 portable (idle
 *   machine, December 2026).
 * - portable: 8 columns x 8 bins per step, an 8 x 8 bit transpose in a
 *   64-bit word (three rounds of masked delta swaps).
 * An SSE2 twin (16 columns per step) was only 10% slower than AVX2 here;
 * CPUs without AVX2 take the portable path (measured per 4096-bin
 * superblock of the holder, PRG included: AVX2 58 ns/bin, SSE2 64,
 * portable 93).
 *
 * -DPSI_PORTABLE_ONLY builds the portable path alone (what a non-x86 CPU
 * gets), to test that build on x86; PSI_STREAM_PORTABLE=1 in the
 * environment makes cpu.c report no SIMD, so the portable path runs.
 *
 * Assumes n is a multiple of 128 (callers pad) and that rows and cols do
 * not overlap.  Memory: none; constant time (no data-dependent branch or
 * index).
 */
#include <string.h>

#include "cpu.h"
#include "transpose.h"

#if (defined(__x86_64__) || defined(__i386__)) && !defined(PSI_PORTABLE_ONLY)
#include <immintrin.h>
#define HAVE_X86 1
#endif

static int forced;

/* Bit i of row k (k < 8) of x = bit k of row i: x holds an 8 x 8 bit
 * matrix, row r in byte r, column j in bit j of each byte. */
static uint64_t
transpose8(uint64_t x)
{
	uint64_t t;

	t = (x ^ (x >> 7)) & 0x00aa00aa00aa00aaULL;
	x ^= t ^ (t << 7);
	t = (x ^ (x >> 14)) & 0x0000cccc0000ccccULL;
	x ^= t ^ (t << 14);
	t = (x ^ (x >> 28)) & 0x00000000f0f0f0f0ULL;
	x ^= t ^ (t << 28);
	return x;
}

static void
transpose_portable(uint8_t *rows, const uint8_t *cols, size_t stride,
    size_t n)
{
	size_t c, b, r;
	uint64_t x;

	for (c = 0; c < TRANSPOSE_COLS; c += 8)
		for (b = 0; b < n / 8; b++) {
			x = 0;
			for (r = 0; r < 8; r++)
				x |= (uint64_t)cols[(c + r) * stride + b] <<
				    (8 * r);
			x = transpose8(x);
			for (r = 0; r < 8; r++)
				rows[(8 * b + r) * TRANSPOSE_ROW + c / 8] =
				    (uint8_t)(x >> (8 * r));
		}
}

#ifdef HAVE_X86
/*
 * The SIMD step, written once and defined per instruction set below:
 * FN(rows, cols, stride, n) is transpose_512 for COLS columns (16 a
 * 128-bit lane, LOAD filling the lanes from 16 * stride apart) and 128
 * bins a step: a 16 x 16 byte transpose in each 128-bit lane (four
 * rounds of byte interleaving, UNPACKLO/UNPACKHI: each round rotates the
 * 8-bit (row, byte) index left by one, four rounds swap row and byte),
 * then MOVEMASK picks bit 7 of every byte -- one row's COLS column bits,
 * lane 0 first, an M -- and ADD doubles each byte to bring up the next
 * bit.
 */
#define DEFINE_TRANSPOSE_STEP(FN, TARGET, V, COLS, M, LOAD, UNPACKLO,	\
    UNPACKHI, MOVEMASK, ADD)						\
TARGET static void							\
FN(uint8_t *rows, const uint8_t *cols, size_t stride, size_t n)		\
{									\
	V v[16], w[16];							\
	size_t c, b, k;							\
	int bit, r;							\
	M m;								\
									\
	for (c = 0; c < TRANSPOSE_COLS; c += (COLS))			\
		for (b = 0; b < n / 8; b += 16) {			\
			for (k = 0; k < 16; k++)			\
				v[k] = LOAD(cols + (c + k) * stride + b,\
				    16 * stride);			\
			for (r = 0; r < 4; r++) {			\
				for (k = 0; k < 8; k++) {		\
					w[2 * k] = UNPACKLO(v[k],	\
					    v[k + 8]);			\
					w[2 * k + 1] = UNPACKHI(v[k],	\
					    v[k + 8]);			\
				}					\
				memcpy(v, w, sizeof(w));		\
			}						\
			/* v[k] byte j of lane q: column		\
			 * c + 16 q + j, byte b + k */			\
			for (k = 0; k < 16; k++)			\
				for (bit = 7; bit >= 0; bit--) {	\
					m = (M)MOVEMASK(v[k]);		\
					memcpy(rows + (8 * (b + k) +	\
					    (size_t)bit) *		\
					    TRANSPOSE_ROW + c / 8, &m,	\
					    sizeof(m));			\
					v[k] = ADD(v[k], v[k]);		\
				}					\
		}							\
}

/* The 16 bytes at p into the low lane, p + step into the high one. */
__attribute__((target("avx2"))) static inline __m256i
load2(const uint8_t *p, size_t step)
{
	return _mm256_inserti128_si256(_mm256_castsi128_si256(
	    _mm_loadu_si128((const __m128i *)p)),
	    _mm_loadu_si128((const __m128i *)(p + step)), 1);
}

/* The 16 bytes at p, p + step, p + 2 step, p + 3 step into lanes 0..3. */
__attribute__((target("avx512f,avx512bw"))) static inline __m512i
load4(const uint8_t *p, size_t step)
{
	__m512i v = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)
	    p));

	v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)
	    (p + step)), 1);
	v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)
	    (p + 2 * step)), 2);
	return _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)
	    (p + 3 * step)), 3);
}

DEFINE_TRANSPOSE_STEP(transpose_avx2, __attribute__((target("avx2"))),
    __m256i, 32, uint32_t, load2, _mm256_unpacklo_epi8, _mm256_unpackhi_epi8,
    _mm256_movemask_epi8, _mm256_add_epi8)
DEFINE_TRANSPOSE_STEP(transpose_avx512,
    __attribute__((target("avx512f,avx512bw"))), __m512i, 64, uint64_t, load4,
    _mm512_unpacklo_epi8, _mm512_unpackhi_epi8, _mm512_movepi8_mask,
    _mm512_add_epi8)

#endif

/* cpu.c reports a feature only where HAVE_X86 is set too (x86-64, not
 * -DPSI_PORTABLE_ONLY). */
static int
best(void)
{
	unsigned f = cpu_features();

	return f & CPU_AVX512BW ? 3 : f & CPU_AVX2 ? 2 : 1;
}

int
transpose_path(void)
{
	return forced ? forced : best();
}

int
transpose_force(int path)
{
	if (path < 0 || path > best())
		return -1;
	forced = path;
	return 0;
}

void
transpose_512(uint8_t *rows, const uint8_t *cols, size_t stride, size_t n)
{
	switch (transpose_path()) {
#ifdef HAVE_X86
	case 3:
		transpose_avx512(rows, cols, stride, n);
		return;
	case 2:
		transpose_avx2(rows, cols, stride, n);
		return;
#endif
	default:
		transpose_portable(rows, cols, stride, n);
	}
}
