/*
 * blake2bx.h: BLAKE2b (RFC 7693) of many independent short messages at
 * once -- the hashes of the OT engine (fingerprints, KKRT code words and
 * outputs) each fit one 128-byte block, so they are computed side by side
 * in SIMD lanes.  See blake2bx.c.
 *
 * Every path gives exactly crypto_generichash(out, outlen, msg, len,
 * NULL, 0): unkeyed, no salt or personalization, any digest length 1..64.
 * Paths: AVX-512 (16 messages per step: two groups of 8 lanes), AVX2 (8:
 * two groups of 4), portable (libsodium, one at a time), chosen at run
 * time through cpu.h.  Batches of a multiple of 16 waste no lanes.
 */
#ifndef PSI_BLAKE2BX_H
#define PSI_BLAKE2BX_H

#include <stddef.h>
#include <stdint.h>

#define B2X_BLOCK	128	/* bytes per message slot = longest message */
#define B2X_MAXOUT	64	/* longest digest */
#define B2X_LANES	16	/* most messages per SIMD step */

/*
 * For i < n: out + i * outlen = BLAKE2b-(8 outlen) of the first len[i]
 * bytes of blocks + i * B2X_BLOCK.  len[i] <= B2X_BLOCK; the bytes of a
 * slot after len[i] are read but ignored (any value); all n * B2X_BLOCK
 * bytes must be readable.  1 <= outlen <= B2X_MAXOUT.  out must not
 * overlap blocks.  Out-of-range lengths abort (a caller's bug).
 */
void	blake2bx(uint8_t *out, size_t outlen, const uint8_t *blocks,
	    const uint8_t *len, size_t n);

/* Test and bench hook: 0 = choose (default), 1 = portable, 2 = AVX2,
 * 3 = AVX-512.  Returns -1 (and changes nothing) if the path is not
 * available here.  Not thread-safe: call before starting threads. */
int	blake2bx_force(int path);
/* The path blake2bx uses now (1, 2 or 3). */
int	blake2bx_path(void);

#endif
