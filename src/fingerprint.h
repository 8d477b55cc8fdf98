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
 * Cost: one BLAKE2b compression per key up to 71 key bytes (the label and
 * seed are absorbed once by fp_init; fp_key copies that state), two up to
 * 199.  fp_init once, then fp_key from any number of threads: the context
 * is read-only after fp_init.  Nothing here fails.
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
};

/* seed: NULL for the unkeyed function, else FP_SEED_BYTES bytes. */
void	fp_init(struct fpctx *, const uint8_t *seed);
u128	fp_key(const struct fpctx *, const uint8_t *key, size_t len);
/* The 16 bytes of f, big-endian (the hash output itself). */
void	fp_bytes(u128 f, uint8_t out[16]);
/* Bucket of f among nbuckets >= 1: in [0, nbuckets), non-decreasing in f. */
uint64_t fp_bucket(u128 f, uint64_t nbuckets);
/* Smallest fingerprint in bucket b (b < nbuckets): its range starts there. */
u128	fp_bucket_first(uint64_t b, uint64_t nbuckets);

#endif
