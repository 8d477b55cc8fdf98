/*
 * oprf.h: RFC 9497 OPRF(ristretto255, SHA-512), mode 0x00, on libsodium.
 *
 * Elements and scalars are 32-byte encodings (RFC 9496; scalars little-endian).
 * Inputs are at most OPRF_MAX_INPUT bytes (the I2OSP(len,2) limit).
 * Functions returning int give 0 on success, -1 on an invalid encoding,
 * an identity element or an input that is too long.
 */
#ifndef PSI_OPRF_H
#define PSI_OPRF_H

#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#define OPRF_ELEM	32
#define OPRF_SCALAR	32
#define OPRF_OUT	64
#define OPRF_MAX_INPUT	65535

/* expand_message_xmd with SHA-512 (RFC 9380 5.3.1); outlen <= 255*64. */
int	oprf_expand_message_xmd(uint8_t *out, size_t outlen,
	    const uint8_t *msg, size_t msglen, const uint8_t *dst, size_t dstlen);
/* HashToGroup with DST "HashToGroup-" || contextString. */
int	oprf_hash_to_group(uint8_t elem[OPRF_ELEM], const uint8_t *x, size_t len);
/* HashToScalar with DST "HashToScalar-" || contextString (or dst if given). */
int	oprf_hash_to_scalar(uint8_t s[OPRF_SCALAR], const uint8_t *x, size_t len,
	    const uint8_t *dst, size_t dstlen);
/* DeriveKeyPair(seed, info): skS and pkS = skS*G. */
int	oprf_derive_key_pair(uint8_t sk[OPRF_SCALAR], uint8_t pk[OPRF_ELEM],
	    const uint8_t seed[32], const uint8_t *info, size_t infolen);
/* A fresh random non-zero scalar (key generation, blinds). */
void	oprf_random_scalar(uint8_t s[OPRF_SCALAR]);

/* Blind: blinded = blind * HashToGroup(x).  If fixed_blind is non-NULL it
 * is used (test vectors), else a random blind is drawn into blind. */
int	oprf_blind(uint8_t blind[OPRF_SCALAR], uint8_t blinded[OPRF_ELEM],
	    const uint8_t *x, size_t len, const uint8_t *fixed_blind);
/* BlindEvaluate: evaluated = sk * blinded; rejects invalid/identity input. */
int	oprf_blind_evaluate(uint8_t evaluated[OPRF_ELEM],
	    const uint8_t sk[OPRF_SCALAR], const uint8_t blinded[OPRF_ELEM]);
/* Finalize: unblind with blind^-1 and hash into out. */
int	oprf_finalize(uint8_t out[OPRF_OUT], const uint8_t *x, size_t len,
	    const uint8_t blind[OPRF_SCALAR], const uint8_t evaluated[OPRF_ELEM]);
/* The final hash alone, over an already unblinded element. */
void	oprf_finalize_hash(uint8_t out[OPRF_OUT], const uint8_t *x, size_t len,
	    const uint8_t elem[OPRF_ELEM]);
/* The final hash in two steps, for a caller that lets go of x before the
 * unblinded element arrives: begin absorbs x into *st (which then holds
 * what x held: treat it as the key), end finishes it with the element,
 * wipes *st and gives what oprf_finalize_hash() would. */
void	oprf_finalize_begin(crypto_hash_sha512_state *st, const uint8_t *x,
	    size_t len);
void	oprf_finalize_end(uint8_t out[OPRF_OUT], crypto_hash_sha512_state *st,
	    const uint8_t elem[OPRF_ELEM]);
/* Evaluate: out = Hash(... sk * HashToGroup(x) ...), no blinding. */
int	oprf_evaluate(uint8_t out[OPRF_OUT], const uint8_t sk[OPRF_SCALAR],
	    const uint8_t *x, size_t len);

/* Batch unblinding: unblinded[i] = blinds[i]^-1 * evaluated[i] for n items
 * using one scalar inversion (Montgomery's trick).  tmp needs n*32 bytes.
 * Returns -1 if any evaluated element is invalid. */
int	oprf_unblind_batch(uint8_t *unblinded, const uint8_t *blinds,
	    const uint8_t *evaluated, size_t n, uint8_t *tmp);

/* Parse a key file's text: 64 hex digits (optional surrounding white space),
 * a canonical non-zero scalar.  0 or -1. */
int	oprf_parse_key_hex(uint8_t sk[OPRF_SCALAR], const char *text, size_t len);

#endif
