/*
 * baseot.c: n random OTs of 32-byte keys, Chou-Orlandi 2015 over
 * ristretto255 (libsodium), semi-honest.
 *
 *   sender:   a random, A = a*G                          -> A
 *   receiver: b_i random, B_i = b_i*G + c_i*A            -> B_0..B_{n-1}
 *   sender:   k_i^0 = H(i, a*B_i),  k_i^1 = H(i, a*B_i - a*A)
 *   receiver: k_i^{c_i} = H(i, b_i*A)
 * with H(i, P) = BLAKE2b-256("psi-stream baseot v1" || sid || LE32(i) ||
 * A || B_i || P).  The session id sid (the Noise handshake hash) and the
 * index bind every key to this session and this OT, as needed when one A
 * serves the whole batch.
 *
 * Checks: A and every B_i go through crypto_scalarmult_ristretto255(),
 * which refuses an encoding that does not decode and an identity result
 * (for our non-zero scalars: an identity input); -1 then, and no key is
 * written.  The receiver computes b_i*G and b_i*G + A and picks one by a
 * byte mask, so its choice bits do not steer branches or addresses.
 *
 * Cost (measured on the build machine): a variable-base multiplication
 * ~39 us, a base multiplication ~12 us; 512 OTs take ~20 ms for the
 * sender and ~27 ms for the receiver.  Memory: the sender's state (a, A,
 * a*A) in sodium_malloc memory; per-OT temporaries on the stack, wiped.
 */
#include <string.h>

#include <sodium.h>

#include "baseot.h"
#include "util.h"

#define DOMAIN		"psi-stream baseot v1"
#define SCALAR		crypto_core_ristretto255_SCALARBYTES

struct baseot_sender {
	uint8_t	a[SCALAR];
	uint8_t	A[BASEOT_POINT];
	uint8_t	aA[BASEOT_POINT];
};

/* A non-zero scalar: random, or derived from (seed, role, i) for tests. */
static void
draw_scalar(uint8_t s[SCALAR], const uint8_t *seed32, char role, uint32_t i)
{
	uint8_t wide[crypto_core_ristretto255_NONREDUCEDSCALARBYTES];
	uint8_t tag[5];
	crypto_generichash_state st;
	static const uint8_t zero[SCALAR];

	do {
		if (seed32 == NULL) {
			crypto_core_ristretto255_scalar_random(s);
			return;
		}
		tag[0] = (uint8_t)role;
		tag[1] = (uint8_t)i;
		tag[2] = (uint8_t)(i >> 8);
		tag[3] = (uint8_t)(i >> 16);
		tag[4] = (uint8_t)(i >> 24);
		crypto_generichash_init(&st, NULL, 0, sizeof(wide));
		crypto_generichash_update(&st, seed32, 32);
		crypto_generichash_update(&st, tag, sizeof(tag));
		crypto_generichash_final(&st, wide, sizeof(wide));
		crypto_core_ristretto255_scalar_reduce(s, wide);
		sodium_memzero(wide, sizeof(wide));
		i ^= 0x80000000u;	/* a zero scalar (never seen): retry */
	} while (sodium_memcmp(s, zero, SCALAR) == 0);
}

static void
derive_key(uint8_t key[BASEOT_KEY], const uint8_t sid[BASEOT_SID],
    uint32_t i, const uint8_t A[BASEOT_POINT], const uint8_t B[BASEOT_POINT],
    const uint8_t P[BASEOT_POINT])
{
	crypto_generichash_state st;
	uint8_t le[4] = { (uint8_t)i, (uint8_t)(i >> 8), (uint8_t)(i >> 16),
	    (uint8_t)(i >> 24) };

	crypto_generichash_init(&st, NULL, 0, BASEOT_KEY);
	crypto_generichash_update(&st, (const uint8_t *)DOMAIN,
	    sizeof(DOMAIN) - 1);
	crypto_generichash_update(&st, sid, BASEOT_SID);
	crypto_generichash_update(&st, le, sizeof(le));
	crypto_generichash_update(&st, A, BASEOT_POINT);
	crypto_generichash_update(&st, B, BASEOT_POINT);
	crypto_generichash_update(&st, P, BASEOT_POINT);
	crypto_generichash_final(&st, key, BASEOT_KEY);
	sodium_memzero(&st, sizeof(st));
}

struct baseot_sender *
baseot_sender_new(uint8_t A[BASEOT_POINT], const uint8_t *seed32)
{
	struct baseot_sender *s;

	s = xsodium_malloc(sizeof(*s));
	draw_scalar(s->a, seed32, 'a', 0);
	if (crypto_scalarmult_ristretto255_base(s->A, s->a) != 0 ||
	    crypto_scalarmult_ristretto255(s->aA, s->a, s->A) != 0)
		fatal(EXIT_IO, "base OT: scalar multiplication failed");
	memcpy(A, s->A, BASEOT_POINT);
	return s;
}

void
baseot_sender_free(struct baseot_sender *s)
{
	if (s != NULL)
		sodium_free(s);	/* wipes */
}

int
baseot_sender_keys(const struct baseot_sender *s,
    const uint8_t sid[BASEOT_SID], const uint8_t *B, size_t n,
    uint8_t *keys0, uint8_t *keys1)
{
	return baseot_sender_keys_range(s, sid, B, 0, n, keys0, keys1);
}

int
baseot_sender_keys_range(const struct baseot_sender *s,
    const uint8_t sid[BASEOT_SID], const uint8_t *B, size_t lo, size_t hi,
    uint8_t *keys0, uint8_t *keys1)
{
	uint8_t P[BASEOT_POINT], P1[BASEOT_POINT];
	size_t i;
	int rc = 0;

	for (i = lo; i < hi; i++) {
		if (crypto_scalarmult_ristretto255(P, s->a,
		    B + i * BASEOT_POINT) != 0) {
			rc = -1;
			break;
		}
		if (crypto_core_ristretto255_sub(P1, P, s->aA) != 0)
			fatal(EXIT_IO, "base OT: point subtraction failed");
		derive_key(keys0 + i * BASEOT_KEY, sid, (uint32_t)i, s->A,
		    B + i * BASEOT_POINT, P);
		derive_key(keys1 + i * BASEOT_KEY, sid, (uint32_t)i, s->A,
		    B + i * BASEOT_POINT, P1);
	}
	sodium_memzero(P, sizeof(P));
	sodium_memzero(P1, sizeof(P1));
	if (rc != 0) {
		sodium_memzero(keys0 + lo * BASEOT_KEY, (hi - lo) * BASEOT_KEY);
		sodium_memzero(keys1 + lo * BASEOT_KEY, (hi - lo) * BASEOT_KEY);
	}
	return rc;
}

int
baseot_receive(const uint8_t sid[BASEOT_SID], const uint8_t A[BASEOT_POINT],
    const uint8_t *c, size_t n, uint8_t *B, uint8_t *keys,
    const uint8_t *seed32)
{
	return baseot_receive_range(sid, A, c, 0, n, B, keys, seed32);
}

int
baseot_receive_range(const uint8_t sid[BASEOT_SID],
    const uint8_t A[BASEOT_POINT], const uint8_t *c, size_t lo, size_t hi,
    uint8_t *B, uint8_t *keys, const uint8_t *seed32)
{
	uint8_t b[SCALAR], X[BASEOT_POINT], Y[BASEOT_POINT], P[BASEOT_POINT];
	uint8_t mask;
	size_t i, j;
	int rc = 0;

	for (i = lo; i < hi; i++) {
		draw_scalar(b, seed32, 'b', (uint32_t)i);
		/* b*A first: it refuses an invalid or identity A */
		if (crypto_scalarmult_ristretto255(P, b, A) != 0) {
			rc = -1;
			break;
		}
		if (crypto_scalarmult_ristretto255_base(X, b) != 0 ||
		    crypto_core_ristretto255_add(Y, X, A) != 0)
			fatal(EXIT_IO, "base OT: point arithmetic failed");
		mask = (uint8_t)(0u - ((c[i / 8] >> (i % 8)) & 1u));
		for (j = 0; j < BASEOT_POINT; j++)
			B[i * BASEOT_POINT + j] =
			    (uint8_t)(X[j] ^ (mask & (X[j] ^ Y[j])));
		derive_key(keys + i * BASEOT_KEY, sid, (uint32_t)i, A,
		    B + i * BASEOT_POINT, P);
	}
	sodium_memzero(b, sizeof(b));
	sodium_memzero(X, sizeof(X));
	sodium_memzero(Y, sizeof(Y));
	sodium_memzero(P, sizeof(P));
	if (rc != 0)
		sodium_memzero(keys + lo * BASEOT_KEY, (hi - lo) * BASEOT_KEY);
	return rc;
}
