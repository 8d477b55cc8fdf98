/*
 * t_kkrt.c: unit tests of kkrt.c over real base OTs (baseot.c), against
 * the slow reference of tests/ref_kkrt.c.  One bucket of 4796 bins (a
 * full superblock and a partial one), a quarter of them empty:
 * - corrections, querier outputs and holder q rows equal the reference
 *   bit for bit; a slice cut at another 512-bin boundary gives the same
 *   bytes; the portable transpose gives the same bytes as the SIMD one,
 *   and so does every hashing path of blake2bx.c;
 * - q_j = t0_j ^ (C(x_j) & s) for every bin (C = 0 when empty), and not
 *   with one bit of s flipped;
 * - the holder's F(bucket, j, i, x_j) equals the querier's output for
 *   every occupied bin, and differs for another fingerprint, another
 *   hash index, another bin and another bucket;
 * - kkrt_holder_eval_keys (many keys, 3 or 2 hash indexes each, batch
 *   sizes off its chunk size) gives kkrt_holder_eval's values, so the
 *   querier's outputs at the placing hash index, and none of them for
 *   fingerprints one bit off;
 * - empty bins' corrections are fresh: pairwise distinct, different under
 *   other base-OT keys and in another bucket;
 * - with fixed seeds the transcript (base-OT messages, corrections,
 *   querier outputs, holder outputs) hashes to a frozen SHA-256.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "baseot.h"
#include "blake2bx.h"
#include "kkrt.h"
#include "transpose.h"
#include "util.h"
#include "ref_kkrt.h"
#include "tap.h"

#define FROZEN_KKRT \
    "ece5ddf136d8a0ef03e0879a66ffe66a5a2fd3bf6e940bc8fd64650f40d4e4f8"

#define M	(KKRT_SB + 700)
#define BUCKET	5

static uint8_t sid[BASEOT_SID], s[64], seed[32];
static uint8_t keys0[512 * 32], keys1[512 * 32], keysr[512 * 32];
static uint8_t A[32], B[512 * 32];
static uint8_t fp[M * 16], hidx[M];
static uint8_t corr[M * 64], out[M * 16], q[M * 64];
static uint8_t rcorr[M * 64], rout[M * 16], rq[M * 64], t0[M * 64];

/* Base OTs (seeded if seed32), then the two KKRT key structures. */
static void
setup(const uint8_t *seed32, struct kkrt_querier **qq, struct kkrt_holder **hh)
{
	struct baseot_sender *snd = baseot_sender_new(A, seed32);

	if (baseot_receive(sid, A, s, 512, B, keysr, seed32) != 0 ||
	    baseot_sender_keys(snd, sid, B, 512, keys0, keys1) != 0) {
		fprintf(stderr, "base OTs failed\n");
		exit(1);
	}
	baseot_sender_free(snd);
	*qq = kkrt_querier_new(keys0, keys1, seed);
	*hh = kkrt_holder_new(s, keysr, seed);
}

static void
run_blocks(const struct kkrt_querier *qq, const struct kkrt_holder *hh,
    uint64_t bucket)
{
	struct kkrt_scratch *w = kkrt_scratch_new();
	size_t off, n;

	for (off = 0; off < M; off += n) {
		n = M - off < KKRT_SB ? M - off : KKRT_SB;
		kkrt_querier_block(qq, w, bucket, off, n, fp + 16 * off,
		    hidx + off, corr + 64 * off, out + 16 * off);
		kkrt_holder_block(hh, w, bucket, off, n, corr + 64 * off,
		    q + 64 * off);
	}
	kkrt_scratch_free(w);
}

static void
fill_inputs(int seeded)
{
	size_t j;

	if (seeded) {
		for (j = 0; j < sizeof(fp); j++)
			fp[j] = (uint8_t)(j * 131 + 7);
		for (j = 0; j < M; j++)
			hidx[j] = j % 4 == 3 ? KKRT_EMPTY : (uint8_t)(j % 3);
		return;
	}
	randombytes_buf(fp, sizeof(fp));
	for (j = 0; j < M; j++) {
		uint32_t r = randombytes_uniform(4);

		hidx[j] = r == 3 ? KKRT_EMPTY : (uint8_t)r;
	}
}

static void
test_against_reference(const struct kkrt_querier *qq,
    const struct kkrt_holder *hh)
{
	struct kkrt_scratch *w = kkrt_scratch_new();
	uint8_t code[64], c2[64 * 1000], o2[16 * 1000], q2[64 * 1000];
	size_t j, k, bad = 0, bad2 = 0;
	int path = transpose_path();

	run_blocks(qq, hh, BUCKET);
	ref_querier(rcorr, rout, t0, keys0, keys1, seed, BUCKET, M, fp, hidx);
	ref_holder(rq, keysr, s, BUCKET, M, rcorr);
	ok(memcmp(corr, rcorr, sizeof(corr)) == 0,
	    "corrections = reference, %d bins", M);
	ok(memcmp(out, rout, sizeof(out)) == 0, "querier outputs = reference");
	ok(memcmp(q, rq, sizeof(q)) == 0, "holder q rows = reference");

	kkrt_querier_block(qq, w, BUCKET, 1536, 1000, fp + 16 * 1536,
	    hidx + 1536, c2, o2);
	kkrt_holder_block(hh, w, BUCKET, 1536, 1000, c2, q2);
	ok(memcmp(c2, corr + 64 * 1536, sizeof(c2)) == 0 &&
	    memcmp(o2, out + 16 * 1536, sizeof(o2)) == 0 &&
	    memcmp(q2, q + 64 * 1536, sizeof(q2)) == 0,
	    "a slice at bin 1536 gives the same bytes");
	kkrt_scratch_free(w);

	transpose_force(1);
	run_blocks(qq, hh, BUCKET);
	transpose_force(0);
	ok(memcmp(corr, rcorr, sizeof(corr)) == 0 &&
	    memcmp(q, rq, sizeof(q)) == 0,
	    "portable transpose = path %d, same transcript", path);
	for (k = 1; k <= 3; k++) {	/* every hashing path of blake2bx */
		if (blake2bx_force((int)k) != 0)
			continue;
		run_blocks(qq, hh, BUCKET);
		ok(memcmp(corr, rcorr, sizeof(corr)) == 0 && memcmp(out, rout,
		    sizeof(out)) == 0, "hashing path %zu (blake2bx): corrections "
		    "and outputs = reference", k);
	}
	blake2bx_force(0);

	for (j = 0; j < M; j++) {
		memset(code, 0, 64);
		if (hidx[j] != KKRT_EMPTY)
			kkrt_code(seed, fp + 16 * j, code);
		for (k = 0; k < 64; k++) {
			if (q[64 * j + k] != (t0[64 * j + k] ^ (code[k] & s[k])))
				bad++;
			if (q[64 * j + k] != (t0[64 * j + k] ^ (code[k] &
			    (s[k] ^ (k == 9 ? 0x10 : 0)))))
				bad2++;
		}
	}
	ok(bad == 0, "q = t0 ^ (C(x) & s) for every bin");
	ok(bad2 > 0, "not with one bit of s flipped (%zu bytes differ)", bad2);
}

static void
test_eval(const struct kkrt_holder *hh)
{
	uint8_t code[64], other[16], f[16];
	size_t j, occ = 0, same = 0, x = 0, i = 0, b = 0, bk = 0;

	for (j = 0; j + 1 < M; j++) {
		if (hidx[j] == KKRT_EMPTY)
			continue;
		occ++;
		kkrt_code(seed, fp + 16 * j, code);
		kkrt_holder_eval(hh, BUCKET, (uint32_t)j, hidx[j], q + 64 * j,
		    code, f);
		same += memcmp(f, out + 16 * j, 16) == 0;
		kkrt_holder_eval(hh, BUCKET, (uint32_t)j, (hidx[j] + 1) % 3,
		    q + 64 * j, code, f);
		i += memcmp(f, out + 16 * j, 16) == 0;
		kkrt_holder_eval(hh, BUCKET, (uint32_t)j + 1, hidx[j],
		    q + 64 * (j + 1), code, f);
		b += memcmp(f, out + 16 * j, 16) == 0;
		kkrt_holder_eval(hh, BUCKET + 1, (uint32_t)j, hidx[j],
		    q + 64 * j, code, f);
		bk += memcmp(f, out + 16 * j, 16) == 0;
		memcpy(other, fp + 16 * j, 16);
		other[j % 16] ^= 1;
		kkrt_code(seed, other, code);
		kkrt_holder_eval(hh, BUCKET, (uint32_t)j, hidx[j], q + 64 * j,
		    code, f);
		x += memcmp(f, out + 16 * j, 16) == 0;
	}
	ok(occ > M / 2 && same == occ,
	    "holder F(b, j, i, x_j) = querier output (%zu of %zu)", same, occ);
	ok(x == 0, "F differs for x' != x (%zu equal)", x);
	ok(i == 0, "F differs for another hash index (%zu equal)", i);
	ok(b == 0, "F differs at another bin (%zu equal)", b);
	ok(bk == 0, "F differs in another bucket (%zu equal)", bk);
}

static uint8_t kout[M * 3 * 16], kfp[M * 16];
static uint32_t kbins[M * 3];

/* eval_keys on the first n keys with nh hash indexes: how many values
 * differ from kkrt_holder_eval's (*match: how many equal the querier's
 * output where bin and hash index are the placing ones) */
static size_t
eval_keys_vs_single(const struct kkrt_holder *hh, size_t n, unsigned nh,
    const uint8_t *fps, size_t *match)
{
	uint8_t code[64], f[16];
	size_t j, bad = 0;
	unsigned k;

	for (j = 0; j < n; j++)
		for (k = 0; k < nh; k++)
			kbins[nh * j + k] = k == hidx[j] ? (uint32_t)j :
			    (uint32_t)((j + 977 * (k + 1)) % M);
	memset(kout, 0xa5, sizeof(kout));
	kkrt_holder_eval_keys(hh, BUCKET, q, n, fps, nh, kbins, kout);
	*match = 0;
	for (j = 0; j < n; j++) {
		kkrt_code(seed, fps + 16 * j, code);
		for (k = 0; k < nh; k++) {
			kkrt_holder_eval(hh, BUCKET, kbins[nh * j + k], k,
			    q + 64 * (size_t)kbins[nh * j + k], code, f);
			bad += memcmp(f, kout + 16 * (nh * j + k), 16) != 0;
			*match += hidx[j] == k && memcmp(kout + 16 * (nh * j +
			    k), out + 16 * j, 16) == 0;
		}
	}
	return bad;
}

static void
test_eval_keys(const struct kkrt_holder *hh)
{
	size_t j, occ = 0, bad, match, bad2, match2, match3;

	for (j = 0; j < M; j++)
		occ += hidx[j] != KKRT_EMPTY && hidx[j] < 3;
	bad = eval_keys_vs_single(hh, M, 3, fp, &match);
	ok(bad == 0 && match == occ, "eval_keys = eval for %d keys x 3 "
	    "(%zu differ), = querier output at the placing index (%zu of "
	    "%zu)", M, bad, match, occ);
	bad2 = eval_keys_vs_single(hh, 37, 2, fp, &match2);
	ok(bad2 == 0, "eval_keys = eval for 37 keys x 2 (%zu differ)", bad2);
	memcpy(kfp, fp, sizeof(kfp));
	for (j = 0; j < M; j++)
		kfp[16 * j + j % 16] ^= 0x40;
	eval_keys_vs_single(hh, M, 3, kfp, &match3);
	ok(match3 == 0, "eval_keys of fingerprints one bit off: no querier "
	    "output (%zu equal)", match3);
}

static int
cmp64(const void *a, const void *b)
{
	return memcmp(a, b, 64);
}

static void
test_fresh_empty(void)
{
	struct kkrt_querier *qq;
	struct kkrt_holder *hh;
	static uint8_t empty[M * 64], save[M * 64];
	size_t j, n = 0, dup = 0, same_keys = 0, same_bucket = 0;

	for (j = 0; j < M; j++)
		if (hidx[j] == KKRT_EMPTY)
			memcpy(empty + 64 * n++, corr + 64 * j, 64);
	qsort(empty, n, 64, cmp64);
	for (j = 1; j < n; j++)
		dup += memcmp(empty + 64 * j, empty + 64 * (j - 1), 64) == 0;
	ok(n > 0 && dup == 0, "%zu empty-bin corrections, no two equal", n);

	memcpy(save, corr, sizeof(save));
	setup(NULL, &qq, &hh);		/* fresh base OTs */
	run_blocks(qq, hh, BUCKET);
	for (j = 0; j < M; j++)
		if (hidx[j] == KKRT_EMPTY)
			same_keys += memcmp(save + 64 * j, corr + 64 * j,
			    64) == 0;
	memcpy(save, corr, sizeof(save));
	run_blocks(qq, hh, BUCKET + 1);
	for (j = 0; j < M; j++)
		if (hidx[j] == KKRT_EMPTY)
			same_bucket += memcmp(save + 64 * j, corr + 64 * j,
			    64) == 0;
	ok(same_keys == 0, "empty bins differ under other base-OT keys");
	ok(same_bucket == 0, "empty bins differ in another bucket");
	kkrt_querier_free(qq);
	kkrt_holder_free(hh);
}

static void
test_frozen(void)
{
	static const char frozen[] = FROZEN_KKRT;
	struct kkrt_querier *qq;
	struct kkrt_holder *hh;
	crypto_hash_sha256_state st;
	uint8_t bseed[32], code[64], f[16], h[32];
	char hex[65];
	size_t j;

	for (j = 0; j < 32; j++) {
		bseed[j] = (uint8_t)(j + 1);
		seed[j] = (uint8_t)(0xc0 ^ j);
	}
	for (j = 0; j < sizeof(sid); j++)
		sid[j] = (uint8_t)(3 * j);
	for (j = 0; j < 64; j++)
		s[j] = (uint8_t)(j * 73 + 5);
	fill_inputs(1);
	setup(bseed, &qq, &hh);
	run_blocks(qq, hh, BUCKET);
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, A, sizeof(A));
	crypto_hash_sha256_update(&st, B, sizeof(B));
	crypto_hash_sha256_update(&st, corr, sizeof(corr));
	crypto_hash_sha256_update(&st, out, sizeof(out));
	for (j = 0; j < M; j++) {
		kkrt_code(seed, fp + 16 * j, code);
		kkrt_holder_eval(hh, BUCKET, (uint32_t)j, j % 3, q + 64 * j,
		    code, f);
		crypto_hash_sha256_update(&st, f, 16);
	}
	crypto_hash_sha256_final(&st, h);
	hex_encode(hex, h, 32);
	ok(strcmp(hex, frozen) == 0, "fixed-seed transcript hash is frozen "
	    "(%s)", hex);
	seed[0] ^= 1;		/* another code seed: another transcript */
	kkrt_querier_free(qq);
	kkrt_holder_free(hh);
	qq = kkrt_querier_new(keys0, keys1, seed);
	hh = kkrt_holder_new(s, keysr, seed);
	run_blocks(qq, hh, BUCKET);
	crypto_hash_sha256(h, corr, sizeof(corr));
	hex_encode(hex, h, 32);
	ok(strcmp(hex, frozen) != 0, "another code seed changes it");
	kkrt_querier_free(qq);
	kkrt_holder_free(hh);
}

int
main(void)
{
	struct kkrt_querier *qq;
	struct kkrt_holder *hh;

	if (sodium_init() < 0)
		return 1;
	randombytes_buf(sid, sizeof(sid));
	randombytes_buf(s, sizeof(s));
	randombytes_buf(seed, sizeof(seed));
	fill_inputs(0);
	setup(NULL, &qq, &hh);
	test_against_reference(qq, hh);
	test_eval(hh);
	test_eval_keys(hh);
	test_fresh_empty();
	kkrt_querier_free(qq);
	kkrt_holder_free(hh);
	test_frozen();
	return done_testing();
}
