/*
 * gcs.h: Golomb-Rice coded sorted sets (GCS), the digest format of
 * DESIGN section 1, and the truncation rule that feeds them.
 *
 * A digest is a sequence of independently decodable chunks.  One chunk:
 *
 *   u32 count      number of values, 1..GCS_MAX_COUNT        (big-endian)
 *   u8  t          bits per value, 1..128
 *   u8  k          Rice parameter, 0..t-1
 *   u8  base[16]   128-bit big-endian; every value is >= base and the first
 *                  delta is taken from it (the previous chunk's last value,
 *                  0 for the first chunk)
 *   bits           for each value v (non-decreasing): d = v - prev,
 *                  q = d >> k as q one-bits then a zero-bit, then the k low
 *                  bits of d, most significant first; zero-padded to a byte
 *
 * Decoding checks everything: count range, t and k, every value < 2^t, no
 * overflow, a unary run never longer than the bits left, zero padding and no
 * trailing bytes.  Values are unsigned __int128 holding t significant bits.
 */
#ifndef PSI_GCS_H
#define PSI_GCS_H

#include <stddef.h>
#include <stdint.h>

#include "bytes.h"	/* u128 */

#define GCS_HEADER	22
#define GCS_MAX_COUNT	(1u << 20)

/* t = min(128, ceil(log2(nq) + log2(nh)) + 40), counts of 0 taken as 1. */
unsigned gcs_trunc_bits(uint64_t nq, uint64_t nh);
/* The first t bits of a 64-byte PRF output, as an integer < 2^t. */
u128	gcs_truncate(const uint8_t prf_out[64], unsigned t);
/* Rice parameter for n uniformly random t-bit values (0 <= k < t). */
unsigned gcs_rice_param(unsigned t, uint64_t n);
/* Rice parameter for values whose mean gap is m: floor(log2(0.9624 m)),
 * in integers (m - floor(77m/2048)), 0 below 2, at most t - 1.  What the
 * session uses per chunk, from the values waiting to be sent. */
unsigned gcs_rice_for_gap(u128 m, unsigned t);

/* Encode vals[0..n-1] (sorted, each >= base and < 2^t) into out, as many as
 * fit in out_cap bytes (at least one if out_cap >= GCS_HEADER + 35).
 * *used gets how many values went in.  Returns the chunk length in bytes,
 * 0 if not even one value fits. */
size_t	gcs_encode(uint8_t *out, size_t out_cap, const u128 *vals, size_t n,
	    unsigned t, unsigned k, u128 base, size_t *used);
/* Decode one whole chunk of exactly len bytes.  expect_t must match the
 * chunk's t; *base_inout must match the chunk's base and is set to the last
 * value decoded (for the next chunk).  vals needs room for max values.
 * Returns the number of values, or -1 if the chunk is malformed. */
long	gcs_decode(const uint8_t *in, size_t len, unsigned expect_t,
	    u128 *base_inout, u128 *vals, size_t max);
/* Decoding a chunk a slice at a time, into a buffer of any size (a
 * peer's chunk may hold up to GCS_MAX_COUNT values: 16 MiB at once).
 * gcs_read_start() checks the header as gcs_decode() does and returns
 * the chunk's count, or -1; gcs_read() then decodes the next values, at
 * most max, returning how many (0 once all are read) or -1 if the chunk
 * is malformed; the call that reads the last value also checks the
 * padding.  d.prev is the last value decoded (the next chunk's base). */
struct gcs_bitr {
	const uint8_t	*buf;
	size_t		 len;
	uint64_t	 pos;	/* in bits */
	uint64_t	 nbits;	/* len * 8 */
};
struct gcs_reader {
	struct gcs_bitr	 r;
	u128		 prev, lim;
	uint64_t	 maxq;
	unsigned	 k;
	size_t		 left;	/* values still to read */
};
long	gcs_read_start(struct gcs_reader *d, const uint8_t *in, size_t len,
	    unsigned expect_t, u128 base);
long	gcs_read(struct gcs_reader *d, u128 *vals, size_t max);
/* The count field of a chunk, for sizing before decoding; -1 if the chunk
 * is too short for its header or for that many values (one bit each). */
long	gcs_chunk_count(const uint8_t *in, size_t len);

#endif
