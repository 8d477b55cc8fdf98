/*
 * cuckoo.h: stash-less 3-way cuckoo hashing of fingerprints, the querier's
 * table in the OT engine (research/fast-engine.md section 2.5).
 *
 * A table has m bins and room for `cap' keys (the bucket's public maximum
 * load L_Q; m = bucket_bins(L_Q, ...)).  Key j of a bucket (its slot, in
 * insertion order) may sit in any of the bins h_0(f), h_1(f), h_2(f):
 *
 *   (s_0 || s_1) = SipHash-2-4-128_k(f as 16 big-endian bytes)
 *   c_i          = bits 42i .. 42i+41 of s_1 || s_0 read as a 128-bit
 *                  integer with s_0's first byte least significant
 *                  (c_0 the lowest 42 bits)
 *   h_i(f)       = floor(c_i * m / 2^42)
 *
 * with the 16-byte key k derived from the joint session seed, so the bins
 * of any input are unpredictable before the session.  The h_i of one key
 * may coincide; the index i that placed a key is kept with it, and both
 * parties hash i into the OPRF output (research rule 3), so nothing else
 * has to care about coinciding bins.  The holder needs only cuckoo_hashes.
 *
 * Insertion: a free bin among the key's three if there is one, else a
 * random walk (evict a random occupant other than the one just placed,
 * re-home it) for at most CUCKOO_WALK evictions.  If the walk fails, it is
 * undone: the table holds exactly the keys it held before and the caller
 * gets CUCKOO_FAIL, never a dropped key.  The caller must then abort (the
 * sizes make this a 2^-40 event per run).  Inserting more than cap keys is
 * CUCKOO_FULL (a bucket overflow), inserting a fingerprint already in the
 * table CUCKOO_DUP (the caller dedupes; a duplicate is a bug).
 *
 * Memory: 4 bytes a bin and 32 a key, fixed at cuckoo_new (cuckoo_memory
 * says how much); cuckoo_clear empties the table for the next bucket
 * without allocating.  cap < 2^30 and m < 2^32, else cuckoo_new is fatal
 * (exit 1).  One table per thread; cuckoo_hashes is pure.
 */
#ifndef PSI_CUCKOO_H
#define PSI_CUCKOO_H

#include <stddef.h>
#include <stdint.h>

#include "bytes.h"	/* u128 */

#define CUCKOO_KEY_BYTES	16
#define CUCKOO_WALK		500	/* evictions per insertion at most */
#define CUCKOO_EMPTY		UINT32_MAX

enum { CUCKOO_OK = 0, CUCKOO_FAIL = -1, CUCKOO_FULL = -2, CUCKOO_DUP = -3 };

struct cuckoo;

/* The three bins of f in a table of m bins, m >= 1. */
void	cuckoo_hashes(const uint8_t key[CUCKOO_KEY_BYTES], u128 f, uint64_t m,
	    uint32_t bins[3]);

struct cuckoo *cuckoo_new(uint64_t cap, uint64_t m,
	    const uint8_t key[CUCKOO_KEY_BYTES]);
size_t	cuckoo_memory(uint64_t cap, uint64_t m);
void	cuckoo_clear(struct cuckoo *);
int	cuckoo_insert(struct cuckoo *, u128 f);	/* slot = cuckoo_count before */
uint64_t cuckoo_count(const struct cuckoo *);
/* Slot of the key in bin j (j < m) and, in *hidx, the index that put it
 * there; CUCKOO_EMPTY for an empty bin. */
uint32_t cuckoo_bin(const struct cuckoo *, uint64_t j, unsigned *hidx);
u128	cuckoo_fp(const struct cuckoo *, uint32_t slot);
/* Bin of slot (< count), and *hidx; the inverse of cuckoo_bin. */
uint32_t cuckoo_where(const struct cuckoo *, uint32_t slot, unsigned *hidx);
/* Evictions done since cuckoo_new (for --stats and the tests). */
uint64_t cuckoo_evictions(const struct cuckoo *);
void	cuckoo_free(struct cuckoo *);

#endif
