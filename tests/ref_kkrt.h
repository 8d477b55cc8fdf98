/*
 * ref_kkrt.h: a slow, obvious KKRT16 written from the protocol text of
 * kkrt.c without sharing its code (no prg.c, no transpose.c, no block
 * structure), for tests that the real code must match bit for bit.
 */
#ifndef PSI_REF_KKRT_H
#define PSI_REF_KKRT_H

#include <stddef.h>
#include <stdint.h>

/* Rows 0..nbins-1 (64 bytes each) of the matrix whose column c is the
 * ChaCha20-IETF stream of keys[c] with nonce "KKRT" || LE64(bucket). */
void	ref_rows(uint8_t *rows, const uint8_t *keys, uint64_t bucket,
	    size_t nbins);
/* C(fp) and H(bucket, bin, hidx, row) as kkrt.c defines them. */
void	ref_code(uint8_t code[64], const uint8_t seed[32], const uint8_t fp[16]);
void	ref_out(uint8_t out[16], uint64_t bucket, uint32_t bin, unsigned hidx,
	    const uint8_t row[64]);
/* Querier: corrections and outputs of bins 0..nbins-1 (hidx 0xff =
 * empty); t0 (nbins * 64) is written too. */
void	ref_querier(uint8_t *corr, uint8_t *out, uint8_t *t0,
	    const uint8_t *keys0, const uint8_t *keys1, const uint8_t seed[32],
	    uint64_t bucket, size_t nbins, const uint8_t *fp,
	    const uint8_t *hidx);
/* Holder: q rows of bins 0..nbins-1 from the chosen keys and s. */
void	ref_holder(uint8_t *q, const uint8_t *keys, const uint8_t s[64],
	    uint64_t bucket, size_t nbins, const uint8_t *corr);
/* F(bucket, bin, hidx, fp) from q row, s and the code seed. */
void	ref_eval(uint8_t out[16], const uint8_t q[64], const uint8_t s[64],
	    const uint8_t seed[32], uint64_t bucket, uint32_t bin,
	    unsigned hidx, const uint8_t fp[16]);

#endif
