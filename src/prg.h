/*
 * prg.h: the seekable pseudorandom generator of the OT engine (suite
 * "chacha20-blake2b", the only suite): ChaCha20 (RFC 8439, IETF variant)
 * keyed by a 32-byte base-OT seed, one stream per (seed, bucket), read
 * from any 64-byte block.  See prg.c.
 */
#ifndef PSI_PRG_H
#define PSI_PRG_H

#include <stddef.h>
#include <stdint.h>

#define PRG_KEY		32
#define PRG_BLOCK	64	/* bytes per ChaCha20 block: the seek unit */

/*
 * out[0..len) = bytes [block*64, block*64 + len) of the stream of
 * (key, bucket).  Streams of different buckets are independent; any
 * slice can be produced alone, so nothing grows across buckets.
 * block + ceil(len/64) must stay within 2^32 (256 GiB per stream).
 */
void	prg_stream(uint8_t *out, size_t len, const uint8_t key[PRG_KEY],
	    uint64_t bucket, uint64_t block);

/*
 * prg_stream for each of nkeys keys at once: out + c * stride gets the
 * len bytes of (keys[c], bucket) from block `block`.  The columns must not
 * overlap.  The same bytes on every path; the fastest this CPU has.
 */
void	prg_streams(uint8_t *out, size_t stride, size_t len,
	    const uint8_t (*keys)[PRG_KEY], size_t nkeys, uint64_t bucket,
	    uint64_t block);

enum { PRG_PORTABLE = 1, PRG_AVX512 = 2 };
/* Test hook: 0 = choose (default), PRG_PORTABLE or PRG_AVX512; -1 (and
 * no change) for a path this CPU or build lacks.  Not thread-safe. */
int	prg_force(int path);
/* The path prg_streams takes now. */
int	prg_path(void);

#endif
