/*
 * fingerprint.h: keys as fixed-size 128-bit fingerprints for the OT engine,
 * and the bucket of a fingerprint (research/fast-engine.md sections 3.1
 * and 3.7; doc/PROTOCOL.md).
 *
 *   f = BLAKE2b-128("psi-stream fingerprint" || 0x00 || key)        unkeyed
 *   f = BLAKE2b-128("psi-stream fingerprint" || 0x01 || seed || key) keyed
 *
 * read as a big-endian 128-bit integer, so the integer order is the byte
 * order of the hash.  The label is not a prefix of the shard hash's label
 * ("psi-stream shard", BLAKE2b-64 in session.c) nor the other way round,
 * and the output lengths differ, so the two are independent functions of
 * the key.  The seed, when there is one, is the same on both sides (derived
 * from the joint session secret): then no input set, however chosen, can
 * predict its fingerprints, buckets or cuckoo bins.
 *
 * The bucket of f among B buckets is floor(hi64(f) * B / 2^64): a
 * non-decreasing function of f.  So pairs (f, record index) sorted by the
 * value sorter (spill.h) come out with equal keys adjacent and every bucket
 * a contiguous range, bucket 0 first; no bucket files are needed and B may
 * be chosen after the sort, once both counts are known.
 *
 * Cost: one BLAKE2b compression per key up to 73 key bytes keyed (105
 * unkeyed: the prefix is 55 or 23 bytes), two up to 201 (169).  fp_keys
 * hashes the one-block keys of a batch side by side (blake2bx.c, 16 at a
 * time with AVX-512) and the longer ones one by one through the streaming
 * state fp_init prepared; both give the same f.  fp_init once, then
 * fp_key or fp_keys from any number of threads: the context is read-only
 * after fp_init.  Nothing here fails.
 */
#ifndef PSI_FINGERPRINT_H
#define PSI_FINGERPRINT_H

#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "bytes.h"	/* u128 */

#define FP_SEED_BYTES	32

struct fpctx {
	crypto_generichash_state st;	/* label, flag and seed absorbed */
	uint8_t	pre[64];		/* the same prefix as bytes */
	size_t	prelen;
};

/* seed: NULL for the unkeyed function, else FP_SEED_BYTES bytes. */
void	fp_init(struct fpctx *, const uint8_t *seed);
u128	fp_key(const struct fpctx *, const uint8_t *key, size_t len);
/* f[i] = fp_key of key i for i < n, key i being the bytes
 * buf[off[i] .. off[i + 1]) (n + 1 offsets, as in a key batch). */
void	fp_keys(const struct fpctx *, size_t n, const uint8_t *buf,
	    const size_t *off, u128 *f);
/* The 16 bytes of f, big-endian (the hash output itself). */
void	fp_bytes(u128 f, uint8_t out[16]);
/* Bucket of f among nbuckets >= 1: in [0, nbuckets), non-decreasing in f. */
uint64_t fp_bucket(u128 f, uint64_t nbuckets);
/* Smallest fingerprint in bucket b (b < nbuckets): its range starts there. */
u128	fp_bucket_first(uint64_t b, uint64_t nbuckets);

#endif
