/*
 * kkrt.h: the KKRT16 batched OPRF -- a 1-out-of-N OT extension with a
 * 512-bit pseudorandom code -- over 512 base OTs (baseot.h), bucket by
 * bucket, in superblocks of at most KKRT_SB bins.  See kkrt.c.
 *
 * Roles (DESIGN names): the querier holds the base-OT key pairs and one
 * fingerprint or nothing per bin; it sends one 64-byte correction per bin
 * and gets one output per occupied bin.  The holder holds the choice
 * string s and the chosen keys; from the corrections it computes the q
 * rows and evaluates F(bucket, bin, hash index, fingerprint) for any
 * fingerprint.  F equals the querier's output for the same arguments.
 *
 * Threads: the key structures are read-only after _new(); each thread
 * needs its own kkrt_scratch.  Superblocks are independent (the PRG is
 * seekable), so a bucket's bins can be cut into slices at multiples of
 * KKRT_ALIGN and handed to different threads.
 */
#ifndef PSI_KKRT_H
#define PSI_KKRT_H

#include <stddef.h>
#include <stdint.h>

#define KKRT_K		512	/* code width in bits = base OTs */
#define KKRT_ROW	64	/* bytes per row, correction or code word */
#define KKRT_FP		16	/* fingerprint bytes */
#define KKRT_OUT	16	/* output bytes (truncated by the caller) */
#define KKRT_SEED	32	/* base-OT key and code seed bytes */
#define KKRT_SB		4096	/* most bins per block call */
#define KKRT_ALIGN	512	/* block offsets are multiples of this */
#define KKRT_EMPTY	0xff	/* hash index of an empty bin */
#define KKRT_MAXH	4	/* most hash indexes per key in _eval_keys */

struct kkrt_querier;
struct kkrt_holder;
struct kkrt_scratch;

/* keys0, keys1: the base-OT sender's key pairs, 512 * 32 bytes each. */
struct kkrt_querier *kkrt_querier_new(const uint8_t *keys0,
	    const uint8_t *keys1, const uint8_t code_seed[KKRT_SEED]);
void	kkrt_querier_free(struct kkrt_querier *);
/* s: the 512 choice bits (64 bytes); keys: the chosen keys, 512 * 32. */
struct kkrt_holder *kkrt_holder_new(const uint8_t s[KKRT_ROW],
	    const uint8_t *keys, const uint8_t code_seed[KKRT_SEED]);
void	kkrt_holder_free(struct kkrt_holder *);

/* Per-thread work space (about 1 MiB, wiped when freed). */
struct kkrt_scratch *kkrt_scratch_new(void);
void	kkrt_scratch_free(struct kkrt_scratch *);

/*
 * Querier, bins [off, off + n) of bucket (off % KKRT_ALIGN == 0,
 * 0 < n <= KKRT_SB).  For bin off + i: hidx[i] is the hash index that
 * placed fingerprint fp[16 i..] there, or KKRT_EMPTY.  Writes corr
 * (n * 64 bytes, to send) and, for occupied bins, out (n * 16 bytes;
 * zero for empty bins).
 */
void	kkrt_querier_block(const struct kkrt_querier *, struct kkrt_scratch *,
	    uint64_t bucket, uint64_t off, size_t n, const uint8_t *fp,
	    const uint8_t *hidx, uint8_t *corr, uint8_t *out);

/* Holder, same bins: q (n * 64 bytes) from the peer's corr (n * 64). */
void	kkrt_holder_block(const struct kkrt_holder *, struct kkrt_scratch *,
	    uint64_t bucket, uint64_t off, size_t n, const uint8_t *corr,
	    uint8_t *q);

/* The code word C(fp), 64 bytes; both roles use the same code seed. */
void	kkrt_code(const uint8_t code_seed[KKRT_SEED],
	    const uint8_t fp[KKRT_FP], uint8_t code[KKRT_ROW]);
/* Holder: F = H(bucket, bin, hidx, q ^ (code & s)) with q the row of bin. */
void	kkrt_holder_eval(const struct kkrt_holder *, uint64_t bucket,
	    uint32_t bin, unsigned hidx, const uint8_t q[KKRT_ROW],
	    const uint8_t code[KKRT_ROW], uint8_t out[KKRT_OUT]);
/*
 * Holder, many keys at once (the fast way; same values as above): for
 * key i < n with fingerprint fp[16 i..] and hash index k < nh (nh <=
 * KKRT_MAXH), out[16 (nh i + k)..] = F(bucket, bins[nh i + k], k, fp_i),
 * with q the bucket's rows (bin j at q + 64 j; every bin listed must be
 * one of them).  Each key's code word is computed once.
 */
void	kkrt_holder_eval_keys(const struct kkrt_holder *, uint64_t bucket,
	    const uint8_t *q, size_t n, const uint8_t *fp, unsigned nh,
	    const uint32_t *bins, uint8_t *out);
/* The output hash H itself (both roles). */
void	kkrt_out_hash(uint64_t bucket, uint32_t bin, unsigned hidx,
	    const uint8_t row[KKRT_ROW], uint8_t out[KKRT_OUT]);

#endif
