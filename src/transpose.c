/*
 * transpose.c: 512 x n bit-matrix transpose (columns of n bits -> n rows
 * of 512 bits) for the KKRT OT extension (kkrt.c).
 *
 * Two paths giving the same bytes (tests/t_transpose.c checks them
 * against a bit-by-bit transpose and each other on random matrices):
 * - AVX2: 32 columns x 128 bins per step.  A 16 x 16 byte transpose in
 *   each 128-bit lane (four rounds of byte interleaving: each round
 *   rotates the 8-bit (row, byte) index left by one, four rounds swap
 *   row and byte), then movemask picks bit 7 of every byte -- one row's
 *   32 column bits -- and an add doubles each byte to bring up the next
 *   bit.  Compiled with a target attribute and used only if cpu.c
 *   reports AVX2, so the build needs no -mavx2.
 * - portable: 8 columns x 8 bins per step, an 8 x 8 bit transpose in a
 *   64-bit word (three rounds of masked delta swaps).
 * An SSE2 twin (16 columns per step) was only 10% slower than AVX2 here
 * and would be a second copy of the same code; CPUs without AVX2 take
 * the portable path (measured per 4096-bin superblock of the holder, PRG
 * included: AVX2 58 ns/bin, SSE2 64, portable 93).
 *
 * -DPSI_PORTABLE_ONLY builds the portable path alone (what a non-x86 CPU
 * gets), to test that build on x86; PSI_STREAM_PORTABLE=1 in the
 * environment makes cpu.c report no AVX2, so the portable path runs.
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
__attribute__((target("avx2"))) static void
transpose_avx2(uint8_t *rows, const uint8_t *cols, size_t stride, size_t n)
{
	__m256i v[16], w[16];
	size_t c, b, k;
	int bit, r;
	uint32_t m;

	for (c = 0; c < TRANSPOSE_COLS; c += 32)
		for (b = 0; b < n / 8; b += 16) {
			/* low lane: columns c..c+15, high lane: c+16..c+31 */
			for (k = 0; k < 16; k++)
				v[k] = _mm256_inserti128_si256(
				    _mm256_castsi128_si256(_mm_loadu_si128(
				    (const __m128i *)(cols + (c + k) * stride
				    + b))), _mm_loadu_si128((const __m128i *)
				    (cols + (c + 16 + k) * stride + b)), 1);
			/* 16 x 16 byte transpose in each lane */
			for (r = 0; r < 4; r++) {
				for (k = 0; k < 8; k++) {
					w[2 * k] = _mm256_unpacklo_epi8(v[k],
					    v[k + 8]);
					w[2 * k + 1] = _mm256_unpackhi_epi8(
					    v[k], v[k + 8]);
				}
				memcpy(v, w, sizeof(w));
			}
			/* v[k] byte j = column c + j (+ 16 in the high
			 * lane), byte b + k */
			for (k = 0; k < 16; k++)
				for (bit = 7; bit >= 0; bit--) {
					m = (uint32_t)_mm256_movemask_epi8(
					    v[k]);
					memcpy(rows + (8 * (b + k) + (size_t)bit)
					    * TRANSPOSE_ROW + c / 8, &m, 4);
					v[k] = _mm256_add_epi8(v[k], v[k]);
				}
		}
}

#endif

static int
have_avx2(void)
{
#ifdef HAVE_X86
	return (cpu_features() & CPU_AVX2) != 0;
#else
	return 0;
#endif
}

int
transpose_path(void)
{
	if (forced)
		return forced;
	return have_avx2() ? 2 : 1;
}

int
transpose_force(int path)
{
	if (path < 0 || path > 2)
		return -1;
	if (path == 2 && !have_avx2())
		return -1;
	forced = path;
	return 0;
}

void
transpose_512(uint8_t *rows, const uint8_t *cols, size_t stride, size_t n)
{
	switch (transpose_path()) {
#ifdef HAVE_X86
	case 2:
		transpose_avx2(rows, cols, stride, n);
		return;
#endif
	default:
		transpose_portable(rows, cols, stride, n);
	}
}
