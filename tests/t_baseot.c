/*
 * t_baseot.c: unit tests of baseot.c (Chou-Orlandi OT over ristretto255).
 * - 512 OTs with random choice bits: the receiver's key equals the
 *   sender's key for its choice and differs from the other one; keys of
 *   different OTs differ;
 * - another session id gives other keys (the binding);
 * - invalid points are refused: an identity or non-canonical A on the
 *   receiver side, one bad B_i among valid ones on the sender side; the
 *   output keys are then all zero;
 * - the _range forms by slices give the whole call's B and keys byte for
 *   byte (with fixed seeds); a bad B_i in one slice fails that slice only
 *   and wipes its keys, leaving the other slices' keys;
 * - with fixed seeds the transcript (A, B, both key sets) is frozen:
 *   its SHA-256 is compared with a value recorded when the protocol was
 *   written; random seeds give another transcript.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "baseot.h"
#include "util.h"
#include "tap.h"

#define N	512
#define FROZEN_BASEOT \
    "b50c7fefeadd8a0c12ffa7a2ae5de59e1a8499d6d01a8ad96fe6f8748a906282"

static uint8_t sid[BASEOT_SID], A[32], B[N * 32], k0[N * 32], k1[N * 32],
    kr[N * 32], c[N / 8];

static int
chosen(size_t i)
{
	return (c[i / 8] >> (i % 8)) & 1;
}

/* Run all N OTs; returns the receiver's and the sender's status. */
static void
run(const uint8_t *seed, int *rrecv, int *rsend)
{
	struct baseot_sender *s = baseot_sender_new(A, seed);

	*rrecv = baseot_receive(sid, A, c, N, B, kr, seed);
	*rsend = baseot_sender_keys(s, sid, B, N, k0, k1);
	baseot_sender_free(s);
}

static void
test_correct(void)
{
	size_t i, good = 0, other = 0, dup = 0;
	int rr, rs;

	randombytes_buf(sid, sizeof(sid));
	randombytes_buf(c, sizeof(c));
	run(NULL, &rr, &rs);
	ok(rr == 0 && rs == 0, "512 OTs run");
	for (i = 0; i < N; i++) {
		const uint8_t *want = chosen(i) ? k1 : k0;
		const uint8_t *not = chosen(i) ? k0 : k1;

		good += memcmp(kr + i * 32, want + i * 32, 32) == 0;
		other += memcmp(kr + i * 32, not + i * 32, 32) == 0;
		if (i > 0)
			dup += memcmp(k0 + i * 32, k0 + (i - 1) * 32, 32) == 0;
	}
	ok(good == N, "receiver key = chosen sender key (%zu of %d)", good, N);
	ok(other == 0, "receiver key != the other key (%zu equal)", other);
	ok(dup == 0, "keys of neighbouring OTs differ");
}

static void
test_sid_binding(void)
{
	uint8_t save[N * 32];
	struct baseot_sender *s;
	int rc;

	memcpy(save, kr, sizeof(save));
	s = baseot_sender_new(A, NULL);
	rc = baseot_receive(sid, A, c, N, B, kr, NULL);
	sid[5] ^= 1;
	rc |= baseot_sender_keys(s, sid, B, N, k0, k1);
	sid[5] ^= 1;
	baseot_sender_free(s);
	ok(rc == 0 && memcmp(kr, chosen(0) ? k1 : k0, 32) != 0,
	    "a sender with another session id gets other keys");
}

static int
all_zero(const uint8_t *p, size_t n)
{
	static const uint8_t z[N * 32];

	return memcmp(p, z, n) == 0;
}

static void
test_invalid(void)
{
	struct baseot_sender *s;
	uint8_t bad[32];

	memset(bad, 0, sizeof(bad));	/* the identity */
	ok(baseot_receive(sid, bad, c, N, B, kr, NULL) == -1 &&
	    all_zero(kr, sizeof(kr)), "receiver refuses A = identity");
	memset(bad, 0xff, sizeof(bad));	/* not canonical */
	ok(baseot_receive(sid, bad, c, N, B, kr, NULL) == -1,
	    "receiver refuses a non-canonical A");
	bad[0] = 1;
	memset(bad + 1, 0, 31);		/* odd: never a valid encoding */
	ok(baseot_receive(sid, bad, c, N, B, kr, NULL) == -1,
	    "receiver refuses an odd A");

	s = baseot_sender_new(A, NULL);
	ok(baseot_receive(sid, A, c, N, B, kr, NULL) == 0,
	    "receiver accepts a good A");
	memset(B + 300 * 32, 0, 32);
	ok(baseot_sender_keys(s, sid, B, N, k0, k1) == -1 &&
	    all_zero(k0, sizeof(k0)) && all_zero(k1, sizeof(k1)),
	    "sender refuses one identity B_i, outputs no key");
	memset(B + 300 * 32, 0xff, 32);
	ok(baseot_sender_keys(s, sid, B, N, k0, k1) == -1,
	    "sender refuses one non-canonical B_i");
	baseot_sender_free(s);
}

/* Slices [0, 100), [100, 333), [333, N) against one call, fixed seeds. */
static void
test_range(void)
{
	static uint8_t B2[N * 32], k02[N * 32], k12[N * 32], kr2[N * 32];
	static const size_t cut[] = { 0, 100, 333, N };
	struct baseot_sender *s;
	uint8_t seed[32];
	size_t i;
	int rc = 0;

	memset(seed, 7, sizeof(seed));
	randombytes_buf(c, sizeof(c));
	s = baseot_sender_new(A, seed);
	rc |= baseot_receive(sid, A, c, N, B, kr, seed);
	rc |= baseot_sender_keys(s, sid, B, N, k0, k1);
	for (i = 0; i + 1 < sizeof(cut) / sizeof(cut[0]); i++)
		rc |= baseot_receive_range(sid, A, c, cut[i], cut[i + 1], B2,
		    kr2, seed);
	for (i = 0; i + 1 < sizeof(cut) / sizeof(cut[0]); i++)
		rc |= baseot_sender_keys_range(s, sid, B2, cut[i], cut[i + 1],
		    k02, k12);
	ok(rc == 0 && memcmp(B, B2, sizeof(B)) == 0 &&
	    memcmp(kr, kr2, sizeof(kr)) == 0 && memcmp(k0, k02, sizeof(k0)) == 0
	    && memcmp(k1, k12, sizeof(k1)) == 0,
	    "slices of the OTs give the whole call's points and keys");
	memset(B2 + 200 * 32, 0, 32);	/* the identity, in the middle slice */
	memcpy(k02, k0, sizeof(k0));
	ok(baseot_sender_keys_range(s, sid, B2, 100, 333, k02, k12) == -1 &&
	    all_zero(k02 + 100 * 32, 233 * 32) &&
	    memcmp(k02, k0, 100 * 32) == 0 &&
	    memcmp(k02 + 333 * 32, k0 + 333 * 32, (N - 333) * 32) == 0,
	    "negative twin: a bad B_i fails its slice and wipes only its keys");
	ok(baseot_sender_keys_range(s, sid, B2, 333, N, k02, k12) == 0,
	    "... while a slice without it still succeeds");
	baseot_sender_free(s);
}

static void
transcript(uint8_t h[32])
{
	crypto_hash_sha256_state st;

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, A, sizeof(A));
	crypto_hash_sha256_update(&st, B, sizeof(B));
	crypto_hash_sha256_update(&st, k0, sizeof(k0));
	crypto_hash_sha256_update(&st, k1, sizeof(k1));
	crypto_hash_sha256_update(&st, kr, sizeof(kr));
	crypto_hash_sha256_final(&st, h);
}

static void
test_frozen(void)
{
	/* recorded from this implementation on 2026-12-01 */
	static const char frozen[] = FROZEN_BASEOT;
	uint8_t seed[32], h[32];
	char hex[65];
	size_t i;
	int rr, rs;

	for (i = 0; i < 32; i++)
		seed[i] = (uint8_t)(0x40 + i);
	for (i = 0; i < sizeof(sid); i++)
		sid[i] = (uint8_t)i;
	for (i = 0; i < sizeof(c); i++)
		c[i] = (uint8_t)(i * 37 + 11);
	run(seed, &rr, &rs);
	transcript(h);
	hex_encode(hex, h, 32);
	ok(rr == 0 && rs == 0 && strcmp(hex, frozen) == 0,
	    "fixed-seed transcript hash is frozen (%s)", hex);
	run(NULL, &rr, &rs);
	transcript(h);
	hex_encode(hex, h, 32);
	ok(strcmp(hex, frozen) != 0, "random seeds give another transcript");
}

int
main(void)
{
	if (sodium_init() < 0)
		return 1;
	test_correct();
	test_sid_binding();
	test_invalid();
	test_range();
	test_frozen();
	return done_testing();
}
