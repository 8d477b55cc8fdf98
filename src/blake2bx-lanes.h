/*
 * blake2bx-lanes.h: the one-block BLAKE2b compression in SIMD lanes, a
 * template included by blake2bx.c once per instruction set (AVX2,
 * AVX-512) so the round code exists once.  Not a module: no header guard
 * on purpose.  Before including, blake2bx.c defines
 *   B2X_FN       the function's name,     B2X_TARGET  its target string,
 *   B2X_V        the vector type,         B2X_N       lanes (64-bit words),
 *   B2X_SET1 ADD XOR AND SUB SLLI3 SRLV   the obvious 64-bit lane ops,
 *   B2X_ROR32 ROR24 ROR16 ROR63           rotations right,
 *   B2X_LOAD(m, p) m[w] = word w of the B2X_N slots at p, p + 128, ...,
 *   B2X_LENS(len)  the lane lengths len[0..B2X_N) as 64-bit lanes,
 *   B2X_CLAMP8(x)  x clamped to [0, 8] (x small and signed),
 *   B2X_STORE(p, x);
 * the end of this file undefines them all, ready for the next set.
 *
 * B2X_FN(st, nw, blocks, len, h0) hashes the 2 B2X_N messages of slots
 * blocks + 128 l (lengths len[l] <= 128), as two groups of B2X_N lanes
 * whose rounds interleave, each message one first-and-last block with
 * parameter word h0, and writes words 0..nw-1 of each digest to
 * st[w * 2 B2X_N + l].  Slot bytes after len[l] are masked off here.
 */

#define B2X_G1(v, m, a, b, c, d, x, y) do {				\
	v[a] = B2X_ADD(B2X_ADD(v[a], v[b]), m[x]);			\
	v[d] = B2X_ROR32(B2X_XOR(v[d], v[a]));				\
	v[c] = B2X_ADD(v[c], v[d]);					\
	v[b] = B2X_ROR24(B2X_XOR(v[b], v[c]));				\
	v[a] = B2X_ADD(B2X_ADD(v[a], v[b]), m[y]);			\
	v[d] = B2X_ROR16(B2X_XOR(v[d], v[a]));				\
	v[c] = B2X_ADD(v[c], v[d]);					\
	v[b] = B2X_ROR63(B2X_XOR(v[b], v[c]));				\
} while (0)
/* two independent groups side by side: twice the instruction-level
 * parallelism of one G chain (about 30% faster here) */
#define B2X_G(a, b, c, d, x, y) do {					\
	B2X_G1(v[0], m[0], a, b, c, d, x, y);				\
	B2X_G1(v[1], m[1], a, b, c, d, x, y);				\
} while (0)
#define B2X_M(r, i)	b2x_sigma[(r) % 10][i]
#define B2X_ROUND(r) do {						\
	B2X_G(0, 4, 8, 12, B2X_M(r, 0), B2X_M(r, 1));			\
	B2X_G(1, 5, 9, 13, B2X_M(r, 2), B2X_M(r, 3));			\
	B2X_G(2, 6, 10, 14, B2X_M(r, 4), B2X_M(r, 5));			\
	B2X_G(3, 7, 11, 15, B2X_M(r, 6), B2X_M(r, 7));			\
	B2X_G(0, 5, 10, 15, B2X_M(r, 8), B2X_M(r, 9));			\
	B2X_G(1, 6, 11, 12, B2X_M(r, 10), B2X_M(r, 11));		\
	B2X_G(2, 7, 8, 13, B2X_M(r, 12), B2X_M(r, 13));			\
	B2X_G(3, 4, 9, 14, B2X_M(r, 14), B2X_M(r, 15));			\
} while (0)

__attribute__((target(B2X_TARGET))) static void
B2X_FN(uint64_t *st, size_t nw, const uint8_t *blocks, const uint8_t *len,
    uint64_t h0)
{
	B2X_V m[2][16], v[2][16], lens[2], ones = B2X_SET1(~0ULL);
	size_t w, k;

	for (k = 0; k < 2; k++) {
		lens[k] = B2X_LENS(len + k * B2X_N);
		B2X_LOAD(m[k], blocks + k * B2X_N * 128);
		for (w = 0; w < 16; w++)	/* bytes 8w .. len - 1 */
			m[k][w] = B2X_AND(m[k][w], B2X_SRLV(ones,
			    B2X_SUB(B2X_SET1(64),
			    B2X_SLLI3(B2X_CLAMP8(B2X_SUB(lens[k],
			    B2X_SET1(8 * w)))))));
		for (w = 0; w < 8; w++) {
			v[k][w] = B2X_SET1(w == 0 ? h0 : b2x_iv[w]);
			v[k][w + 8] = B2X_SET1(b2x_iv[w]);
		}
		v[k][12] = B2X_XOR(v[k][12], lens[k]);	/* t0 = len */
		v[k][14] = B2X_XOR(v[k][14], ones);	/* f0: last block */
	}
	B2X_ROUND(0); B2X_ROUND(1); B2X_ROUND(2); B2X_ROUND(3);
	B2X_ROUND(4); B2X_ROUND(5); B2X_ROUND(6); B2X_ROUND(7);
	B2X_ROUND(8); B2X_ROUND(9); B2X_ROUND(10); B2X_ROUND(11);
	for (k = 0; k < 2; k++)
		for (w = 0; w < nw; w++)
			B2X_STORE(st + (2 * w + k) * B2X_N, B2X_XOR(B2X_XOR(
			    B2X_SET1(w == 0 ? h0 : b2x_iv[w]), v[k][w]),
			    v[k][w + 8]));
}

#undef B2X_FN
#undef B2X_TARGET
#undef B2X_V
#undef B2X_N
#undef B2X_SET1
#undef B2X_ADD
#undef B2X_XOR
#undef B2X_AND
#undef B2X_SUB
#undef B2X_SLLI3
#undef B2X_SRLV
#undef B2X_ROR32
#undef B2X_ROR24
#undef B2X_ROR16
#undef B2X_ROR63
#undef B2X_LOAD
#undef B2X_LENS
#undef B2X_CLAMP8
#undef B2X_STORE
#undef B2X_G
#undef B2X_G1
#undef B2X_M
#undef B2X_ROUND
