/*
 * oprf.c: RFC 9497 OPRF(ristretto255, SHA-512) in mode 0x00 (no proofs),
 * the pseudorandom function of DESIGN section 1, on libsodium.
 *
 * libsodium has the group (crypto_core_ristretto255_*, including the RFC 9496
 * one-way map from 64 uniform bytes) and SHA-512; the only missing piece is
 * expand_message_xmd (RFC 9380 5.3.1), which HashToGroup and HashToScalar
 * use to turn an input into 64 uniform bytes.
 *
 * Assumptions:
 * - Scalars passed in (keys, blinds) are canonical; they come from
 *   oprf_parse_key_hex, oprf_derive_key_pair or oprf_random_scalar.
 * - Elements passed in may come from the peer and are checked here: an
 *   invalid encoding or the identity is refused with -1.
 * - Inputs are at most OPRF_MAX_INPUT bytes, since Finalize prefixes them
 *   with a two-byte length; longer ones are refused with -1.
 * Secrets held in temporaries (blind inverses, prefix products of blinds,
 * hash states over a seed) are wiped before returning.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "bytes.h"
#include "oprf.h"
#include "util.h"

/* contextString = "OPRFV1-" || I2OSP(mode 0x00, 1) || "-" || identifier */
#define CONTEXT		"OPRFV1-\0-ristretto255-SHA512"
#define DST_H2G		"HashToGroup-" CONTEXT
#define DST_H2S		"HashToScalar-" CONTEXT
#define DST_DKP		"DeriveKeyPair" CONTEXT
#define LIT(s)		(const uint8_t *)(s), sizeof(s) - 1

#define SHA512_BLOCK	128	/* r_in_bytes of RFC 9380 */
#define SHA512_OUT	crypto_hash_sha512_BYTES	/* b_in_bytes */
#define UNIFORM_LEN	64	/* bytes fed to from_hash and scalar_reduce */

/*
 * Elements from outside (a peer's blinded or evaluated elements) are
 * checked by the multiplication that uses them: crypto_scalarmult_
 * ristretto255() refuses an encoding that does not decode (non-canonical,
 * or not a group element) and an identity result, which for our non-zero
 * scalars means an identity input.  Every such element goes through one
 * before anything else sees it, so a separate is_valid_point() would only
 * decode each element twice (about 4 us, 2% of a key pair's curve work).
 */

/* b_i = H(chain || I2OSP(i, 1) || DST_prime), DST_prime = DST || len(DST). */
static void
xmd_block(uint8_t out[SHA512_OUT], const uint8_t chain[SHA512_OUT],
    uint8_t i, const uint8_t *dst, size_t dstlen)
{
	crypto_hash_sha512_state st;
	uint8_t dlen = (uint8_t)dstlen;

	crypto_hash_sha512_init(&st);
	crypto_hash_sha512_update(&st, chain, SHA512_OUT);
	crypto_hash_sha512_update(&st, &i, 1);
	crypto_hash_sha512_update(&st, dst, dstlen);
	crypto_hash_sha512_update(&st, &dlen, 1);
	crypto_hash_sha512_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

int
oprf_expand_message_xmd(uint8_t *out, size_t outlen, const uint8_t *msg,
    size_t msglen, const uint8_t *dst, size_t dstlen)
{
	static const uint8_t zpad[SHA512_BLOCK];
	crypto_hash_sha512_state st;
	uint8_t b0[SHA512_OUT], bi[SHA512_OUT], lib[2], zero = 0, dlen;
	size_t ell = (outlen + SHA512_OUT - 1) / SHA512_OUT, i, j, n;

	if (ell > 255 || outlen > 65535 || dstlen > 255)
		return -1;
	if (outlen == 0)
		return 0;
	put_u16(lib, outlen);
	dlen = (uint8_t)dstlen;

	/* b_0 = H(Z_pad || msg || I2OSP(len, 2) || I2OSP(0, 1) || DST_prime) */
	crypto_hash_sha512_init(&st);
	crypto_hash_sha512_update(&st, zpad, sizeof(zpad));
	crypto_hash_sha512_update(&st, msg, msglen);
	crypto_hash_sha512_update(&st, lib, sizeof(lib));
	crypto_hash_sha512_update(&st, &zero, 1);
	crypto_hash_sha512_update(&st, dst, dstlen);
	crypto_hash_sha512_update(&st, &dlen, 1);
	crypto_hash_sha512_final(&st, b0);

	/* b_1 chains on b_0 itself, later blocks on b_0 xor b_(i-1). */
	memcpy(bi, b0, sizeof(bi));
	for (i = 1; i <= ell; i++) {
		if (i > 1)
			for (j = 0; j < SHA512_OUT; j++)
				bi[j] ^= b0[j];
		xmd_block(bi, bi, (uint8_t)i, dst, dstlen);
		n = outlen - (i - 1) * SHA512_OUT;
		memcpy(out + (i - 1) * SHA512_OUT, bi,
		    n < SHA512_OUT ? n : SHA512_OUT);
	}
	sodium_memzero(&st, sizeof(st));
	sodium_memzero(b0, sizeof(b0));
	sodium_memzero(bi, sizeof(bi));
	return 0;
}

int
oprf_hash_to_group(uint8_t elem[OPRF_ELEM], const uint8_t *x, size_t len)
{
	uint8_t u[UNIFORM_LEN];

	if (len > OPRF_MAX_INPUT ||
	    oprf_expand_message_xmd(u, sizeof(u), x, len, LIT(DST_H2G)) != 0)
		return -1;
	crypto_core_ristretto255_from_hash(elem, u);
	sodium_memzero(u, sizeof(u));
	return 0;
}

int
oprf_hash_to_scalar(uint8_t s[OPRF_SCALAR], const uint8_t *x, size_t len,
    const uint8_t *dst, size_t dstlen)
{
	uint8_t u[UNIFORM_LEN];

	if (dst == NULL) {
		dst = (const uint8_t *)DST_H2S;
		dstlen = sizeof(DST_H2S) - 1;
	}
	if (oprf_expand_message_xmd(u, sizeof(u), x, len, dst, dstlen) != 0)
		return -1;
	crypto_core_ristretto255_scalar_reduce(s, u);
	sodium_memzero(u, sizeof(u));
	return 0;
}

int
oprf_derive_key_pair(uint8_t sk[OPRF_SCALAR], uint8_t pk[OPRF_ELEM],
    const uint8_t seed[32], const uint8_t *info, size_t infolen)
{
	uint8_t *in;
	size_t inlen = 32 + 2 + infolen + 1;
	int counter, rv = -1;

	if (infolen > OPRF_MAX_INPUT)
		return -1;
	/* deriveInput || I2OSP(counter, 1), deriveInput = seed || len || info */
	in = xmalloc(inlen);
	memcpy(in, seed, 32);
	put_u16(in + 32, infolen);
	if (infolen > 0)
		memcpy(in + 34, info, infolen);
	for (counter = 0; counter <= 255; counter++) {
		in[inlen - 1] = (uint8_t)counter;
		if (oprf_hash_to_scalar(sk, in, inlen, LIT(DST_DKP)) != 0)
			break;
		if (!sodium_is_zero(sk, OPRF_SCALAR)) {
			rv = crypto_scalarmult_ristretto255_base(pk, sk);
			break;
		}
	}
	sodium_memzero(in, inlen);
	free(in);
	if (rv != 0)
		sodium_memzero(sk, OPRF_SCALAR);
	return rv;
}

void
oprf_random_scalar(uint8_t s[OPRF_SCALAR])
{
	/* libsodium already avoids zero; the loop keeps the promise here. */
	do
		crypto_core_ristretto255_scalar_random(s);
	while (sodium_is_zero(s, OPRF_SCALAR));
}

int
oprf_blind(uint8_t blind[OPRF_SCALAR], uint8_t blinded[OPRF_ELEM],
    const uint8_t *x, size_t len, const uint8_t *fixed_blind)
{
	uint8_t p[OPRF_ELEM];
	int rv;

	if (oprf_hash_to_group(p, x, len) != 0)
		return -1;
	if (fixed_blind != NULL)
		memmove(blind, fixed_blind, OPRF_SCALAR);
	else
		oprf_random_scalar(blind);
	/* Refuses an identity result: a zero blind or HashToGroup(x) = 1. */
	rv = crypto_scalarmult_ristretto255(blinded, blind, p);
	sodium_memzero(p, sizeof(p));
	return rv == 0 ? 0 : -1;
}

int
oprf_blind_evaluate(uint8_t evaluated[OPRF_ELEM],
    const uint8_t sk[OPRF_SCALAR], const uint8_t blinded[OPRF_ELEM])
{
	if (crypto_scalarmult_ristretto255(evaluated, sk, blinded) != 0) {
		sodium_memzero(evaluated, OPRF_ELEM);
		return -1;
	}
	return 0;
}

/* out = the final hash of x and scalar * point (which must not come out
 * as the identity); the product is wiped. */
static int
mul_finalize(uint8_t out[OPRF_OUT], const uint8_t *x, size_t len,
    const uint8_t scalar[OPRF_SCALAR], const uint8_t point[OPRF_ELEM])
{
	uint8_t n[OPRF_ELEM];
	int rv = -1;

	if (crypto_scalarmult_ristretto255(n, scalar, point) == 0) {
		oprf_finalize_hash(out, x, len, n);
		rv = 0;
	}
	sodium_memzero(n, sizeof(n));
	return rv;
}

int
oprf_finalize(uint8_t out[OPRF_OUT], const uint8_t *x, size_t len,
    const uint8_t blind[OPRF_SCALAR], const uint8_t evaluated[OPRF_ELEM])
{
	uint8_t inv[OPRF_SCALAR];
	int rv = -1;

	if (len > OPRF_MAX_INPUT)
		return -1;
	if (crypto_core_ristretto255_scalar_invert(inv, blind) == 0)
		rv = mul_finalize(out, x, len, inv, evaluated);
	sodium_memzero(inv, sizeof(inv));
	return rv;
}

void
oprf_finalize_begin(crypto_hash_sha512_state *st, const uint8_t *x,
    size_t len)
{
	uint8_t l[2];

	/* Every public entry point checks the length; this is a bug guard. */
	if (len > OPRF_MAX_INPUT)
		abort();
	crypto_hash_sha512_init(st);
	put_u16(l, len);
	crypto_hash_sha512_update(st, l, 2);
	crypto_hash_sha512_update(st, x, len);
}

void
oprf_finalize_end(uint8_t out[OPRF_OUT], crypto_hash_sha512_state *st,
    const uint8_t elem[OPRF_ELEM])
{
	static const uint8_t label[] = "Finalize";
	uint8_t l[2];

	put_u16(l, OPRF_ELEM);
	crypto_hash_sha512_update(st, l, 2);
	crypto_hash_sha512_update(st, elem, OPRF_ELEM);
	crypto_hash_sha512_update(st, label, sizeof(label) - 1);
	crypto_hash_sha512_final(st, out);
	sodium_memzero(st, sizeof(*st));
}

void
oprf_finalize_hash(uint8_t out[OPRF_OUT], const uint8_t *x, size_t len,
    const uint8_t elem[OPRF_ELEM])
{
	crypto_hash_sha512_state st;

	oprf_finalize_begin(&st, x, len);
	oprf_finalize_end(out, &st, elem);
}

int
oprf_evaluate(uint8_t out[OPRF_OUT], const uint8_t sk[OPRF_SCALAR],
    const uint8_t *x, size_t len)
{
	uint8_t p[OPRF_ELEM];
	int rv;

	if (oprf_hash_to_group(p, x, len) != 0)
		return -1;
	/* Refuses an identity result: a zero key or HashToGroup(x) = 1. */
	rv = mul_finalize(out, x, len, sk, p);
	sodium_memzero(p, sizeof(p));
	return rv;
}

/*
 * Montgomery's trick: with prefix products t_i = r_0 * ... * r_i, one
 * inversion gives t_(n-1)^-1, and walking back, r_i^-1 = t_i^-1 * t_(i-1)
 * and t_(i-1)^-1 = t_i^-1 * r_i.  With libsodium 1.0.18 an inversion costs
 * some 300 scalar multiplications, about half a point multiplication, so
 * this takes roughly a third off unblinding (see bench/oprf_speed.c).
 */
int
oprf_unblind_batch(uint8_t *unblinded, const uint8_t *blinds,
    const uint8_t *evaluated, size_t n, uint8_t *tmp)
{
	uint8_t inv[OPRF_SCALAR], ri[OPRF_SCALAR];
	size_t i;
	int rv = -1;

	if (n == 0)
		return 0;
	memcpy(tmp, blinds, OPRF_SCALAR);
	for (i = 1; i < n; i++)
		crypto_core_ristretto255_scalar_mul(tmp + i * OPRF_SCALAR,
		    tmp + (i - 1) * OPRF_SCALAR, blinds + i * OPRF_SCALAR);
	/* Fails if any blind is zero, since then the product is. */
	if (crypto_core_ristretto255_scalar_invert(inv,
	    tmp + (n - 1) * OPRF_SCALAR) != 0)
		goto out;
	for (i = n - 1; i > 0; i--) {
		crypto_core_ristretto255_scalar_mul(ri, inv,
		    tmp + (i - 1) * OPRF_SCALAR);
		crypto_core_ristretto255_scalar_mul(inv, inv,
		    blinds + i * OPRF_SCALAR);
		if (crypto_scalarmult_ristretto255(unblinded + i * OPRF_ELEM,
		    ri, evaluated + i * OPRF_ELEM) != 0)
			goto out;
	}
	if (crypto_scalarmult_ristretto255(unblinded, inv, evaluated) != 0)
		goto out;
	rv = 0;
out:
	sodium_memzero(tmp, n * OPRF_SCALAR);
	sodium_memzero(inv, sizeof(inv));
	sodium_memzero(ri, sizeof(ri));
	return rv;
}

/* isspace(3) in the C locale, whatever locale the program runs in. */
static int
ascii_space(char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

/* Canonical means below the group order L: reducing it changes nothing. */
static int
scalar_is_canonical(const uint8_t s[OPRF_SCALAR])
{
	uint8_t wide[2 * OPRF_SCALAR] = { 0 }, red[OPRF_SCALAR];
	int same;

	memcpy(wide, s, OPRF_SCALAR);
	crypto_core_ristretto255_scalar_reduce(red, wide);
	same = sodium_memcmp(red, s, OPRF_SCALAR) == 0;
	sodium_memzero(wide, sizeof(wide));
	sodium_memzero(red, sizeof(red));
	return same;
}

int
oprf_parse_key_hex(uint8_t sk[OPRF_SCALAR], const char *text, size_t len)
{
	uint8_t k[OPRF_SCALAR];
	int rv = -1;

	while (len > 0 && ascii_space(*text)) {
		text++;
		len--;
	}
	while (len > 0 && ascii_space(text[len - 1]))
		len--;
	if (hex_decode(k, sizeof(k), text, len) == 0 &&
	    scalar_is_canonical(k) && !sodium_is_zero(k, sizeof(k))) {
		memcpy(sk, k, sizeof(k));
		rv = 0;
	}
	sodium_memzero(k, sizeof(k));
	return rv;
}
