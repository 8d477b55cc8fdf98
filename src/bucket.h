/*
 * bucket.h: the public sizes of the OT engine's buckets and cuckoo tables,
 * all derived from the two record counts (research/fast-engine.md sections
 * 2.5, 2.6, 3.2 and Appendix A; doc/PROTOCOL.md).
 *
 *   B    = max(1, ceil(max(nQ, nH) / target)) buckets, target 2^12 keys
 *          (BUCKET_TARGET, fixed: no side's budget changes the sizes);
 *   L    = bucket_max_load(n, B, 40): the smallest L with
 *          B * Pr[Bin(n, 1/B) > L] <= 2^-40, computed exactly (no normal or
 *          Chernoff approximation); n itself when B = 1.  The querier's
 *          buckets are padded to L_Q = L(nQ), so no frame size depends on
 *          how its keys fall; a bucket with more than L_Q keys aborts;
 *   m_b  = bucket_bins(L_Q, B, 40): cuckoo bins per bucket, ceil(e * L_Q)
 *          with the stash-less 3-hash expansion factor
 *          e = (40 + log2 B + log2 L_Q + 256) / 240 + 0.03 for L_Q >= 2^9
 *          (the failure budget 2^-40 charged to each of the B buckets), and
 *          the per-size lines of the same fit below 2^9;
 *   t    = bucket_trunc_bits(nQ, nH, D, 40): min(128, 40 +
 *          ceil(log2(nQ * D * nH))), the truncation of the global digest.
 *
 * Everything but L is integer arithmetic (log2 in 16-bit fixed point).  L
 * sums binomial terms in double precision with + * / only, written so no
 * multiply feeds an add (no FMA contraction can change a rounding), no
 * libm call: on IEEE-754 hardware every platform gets the same L.  Even so
 * the querier should send its numbers and the holder check them against
 * its own (research section 2.6: agree on numbers, not formulas).
 *
 * bucket_sizes() gives B, L_Q and m for two counts; bucket_bins_worst()
 * the most bins any two counts up to BUCKET_MAX_KEYS give, what a side
 * must be able to hold before it knows its peer's count.  At the target
 * 2^12 that is 6,954 bins (at 2^48 keys): about 1.1 MiB of querier
 * arrays, inside the OT engine's share of the smallest --memory (8M);
 * at 10^7 x 10^7 the padding is 12.8% and the corrections about 786 bits
 * per key pair (2^16 would save some 70 bits but need 14 MiB a bucket).
 *
 * Nothing here fails or allocates; lambda must be 1..128, target >= 1.
 */
#ifndef PSI_BUCKET_H
#define PSI_BUCKET_H

#include <stdint.h>

#define BUCKET_TARGET	4096u	/* keys per bucket aimed at */
#define BUCKET_LAMBDA	40u	/* statistical security, bits */
#define BUCKET_MAX_KEYS	((uint64_t)1 << 48)	/* records a side may have */

/* The public sizes of one run. */
struct bucket_sizes {
	uint64_t	buckets;	/* B */
	uint64_t	load;		/* L_Q: the querier's padded bucket load */
	uint64_t	bins;		/* m: cuckoo bins (rows) per bucket */
};

/* B, L_Q and m for nq querier and nh holder keys (each at most
 * BUCKET_MAX_KEYS) at `target' keys a bucket, lambda BUCKET_LAMBDA. */
void	bucket_sizes(uint64_t nq, uint64_t nh, uint64_t target,
	    struct bucket_sizes *);
/* The largest m bucket_sizes() gives for any counts at `target'. */
uint64_t bucket_bins_worst(uint64_t target);

uint64_t bucket_count(uint64_t nq, uint64_t nh, uint64_t target);
uint64_t bucket_max_load(uint64_t n, uint64_t nbuckets, unsigned lambda);
/* Cuckoo expansion factor e for a table of `load' keys, in units of 2^-16
 * (0.03 margin included); bucket_bins = ceil(e * load), 0 for no keys. */
uint64_t bucket_expansion_q16(uint64_t load, uint64_t nbuckets,
	    unsigned lambda);
uint64_t bucket_bins(uint64_t load, uint64_t nbuckets, unsigned lambda);
unsigned bucket_trunc_bits(uint64_t nq, uint64_t nh, unsigned d,
	    unsigned lambda);
/* floor(2^16 * log2(x)), x >= 1; exposed for the tests. */
uint64_t bucket_log2_q16(uint64_t x);

#endif
