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
 * Memory: none; the output is written in place.  The key is the
 * caller's (secure memory); nothing secret stays on the stack.
 */
#include <string.h>

#include <sodium.h>

#include "prg.h"

void
prg_stream(uint8_t *out, size_t len, const uint8_t key[PRG_KEY],
    uint64_t bucket, uint64_t block)
{
	uint8_t nonce[crypto_stream_chacha20_ietf_NONCEBYTES];
	int i;

	memcpy(nonce, "KKRT", 4);
	for (i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(bucket >> (8 * i));
	/* libsodium has no "keystream from counter" call: XOR zeros in
	 * place (its stream functions allow out == in). */
	memset(out, 0, len);
	crypto_stream_chacha20_ietf_xor_ic(out, out, len, nonce,
	    (uint32_t)block, key);
}
