/*
 * t_fingerprint.c: key fingerprints and buckets (src/fingerprint.c).
 * Covers: frozen vectors for the unkeyed and keyed function (computed with
 * Python's hashlib.blake2b from the definition in fingerprint.h), the
 * empty key and keys of 71, 72 and 200 bytes against a one-shot BLAKE2b of
 * the same message; keyed, unkeyed and differently seeded functions
 * disagree; the shard hash's label gives other values; fp_bucket is
 * non-decreasing, in range, and fp_bucket_first is exactly where each
 * bucket starts (the fingerprint before it is in the previous bucket), for
 * bucket counts up to 2^40; and through the value sorter of spill.c,
 * 20,000 records of 6,000 keys come out with every key's records adjacent,
 * buckets contiguous and in order.  Each check has a negative twin (a
 * wrong vector, a perturbed boundary, an unsorted stream the same checks
 * reject).  fp_keys, the batch form, gives fp_key's values for packed
 * keys of every length 0..201 (one block and two, keyed and unkeyed), for
 * a slice of odd size, and the frozen vector; one changed key byte moves
 * that key's value only.  The cost of fp_key on a 40-byte key is
 * printed, not asserted.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "fingerprint.h"
#include "sorter.h"
#include "util.h"
#include "tap.h"

static u128
hex128(const char *h)
{
	uint8_t b[16];
	u128 v = 0;
	int i;

	if (hex_decode(b, 16, h, 32) != 0)
		abort();
	for (i = 0; i < 16; i++)
		v = v << 8 | b[i];
	return v;
}

/* BLAKE2b-128 of prefix || key in one call, read big-endian. */
static u128
oneshot(const uint8_t *prefix, size_t plen, const uint8_t *key, size_t klen)
{
	uint8_t *msg = xmalloc(plen + klen + 1), h[16];
	u128 v = 0;
	int i;

	memcpy(msg, prefix, plen);
	memcpy(msg + plen, key, klen);
	crypto_generichash(h, 16, msg, plen + klen, NULL, 0);
	free(msg);
	for (i = 0; i < 16; i++)
		v = v << 8 | h[i];
	return v;
}

static void
test_vectors(void)
{
	struct fpctx u, k, k2;
	uint8_t seed[FP_SEED_BYTES], seed2[FP_SEED_BYTES], pre[64], key[200];
	uint8_t b[16];
	size_t lens[] = { 0, 1, 40, 71, 72, 127, 128, 200 }, i;
	int all = 1, differ = 1;

	for (i = 0; i < sizeof(seed); i++)
		seed[i] = (uint8_t)i;
	memcpy(seed2, seed, sizeof(seed));
	seed2[31] ^= 1;
	fp_init(&u, NULL);
	fp_init(&k, seed);
	fp_init(&k2, seed2);
	ok(fp_key(&u, (const uint8_t *)"abc", 3) ==
	    hex128("bd7d77ee7f293d9aca5909d7f281d5e5"),
	    "unkeyed fingerprint of \"abc\" matches the frozen vector");
	ok(fp_key(&u, (const uint8_t *)"abd", 3) !=
	    hex128("bd7d77ee7f293d9aca5909d7f281d5e5"),
	    "... and \"abd\" does not");
	ok(fp_key(&k, (const uint8_t *)"abc", 3) ==
	    hex128("869fcfc60703e00dfd7ce9625c604156"),
	    "keyed fingerprint of \"abc\" (seed 00..1f) matches the vector");
	ok(fp_key(&u, (const uint8_t *)"", 0) ==
	    hex128("e9c58ee3ef2b897b23d1e998a338b0e5"),
	    "the empty key matches the frozen vector");

	memcpy(pre, "psi-stream fingerprint", 22);
	for (i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(i * 7 + 3);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		pre[22] = 0;
		all &= fp_key(&u, key, lens[i]) == oneshot(pre, 23, key,
		    lens[i]);
		pre[22] = 1;
		memcpy(pre + 23, seed, 32);
		all &= fp_key(&k, key, lens[i]) == oneshot(pre, 55, key,
		    lens[i]);
		differ &= fp_key(&u, key, lens[i]) != fp_key(&k, key, lens[i]);
		differ &= fp_key(&k, key, lens[i]) != fp_key(&k2, key, lens[i]);
	}
	ok(all, "keys of 0..200 bytes equal a one-shot BLAKE2b of the message");
	ok(differ, "unkeyed, keyed and another seed give different values");
	/* The shard hash's label in front of the same key (session.c). */
	ok(oneshot((const uint8_t *)"psi-stream shard", 16, key, 40) !=
	    fp_key(&u, key, 40) && oneshot(pre, 23, key, 40) != fp_key(&u,
	    key + 1, 40), "the shard label, or another key, differ");
	fp_bytes(hex128("0102030405060708090a0b0c0d0e0f10"), b);
	ok(b[0] == 1 && b[15] == 0x10 && b[7] == 8,
	    "fp_bytes writes big-endian");
	sodium_memzero(&k, sizeof(k));
	sodium_memzero(&k2, sizeof(k2));
}

static void
test_buckets(void)
{
	uint64_t counts[] = { 1, 2, 3, 7, 153, 15259, 65536, 1000003,
		(uint64_t)1 << 40 }, nb, b;
	size_t i;
	int inrange = 1, starts = 1, mono = 1, twin = 1;
	u128 f, prev;
	uint64_t pb;

	for (i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		nb = counts[i];
		inrange &= fp_bucket(0, nb) == 0 &&
		    fp_bucket(~(u128)0, nb) == nb - 1;
		for (b = 0; b < nb && b < 2000; b++) {
			uint64_t bb = nb <= 2000 ? b : b * (nb / 2000);

			f = fp_bucket_first(bb, nb);
			starts &= fp_bucket(f, nb) == bb;
			if (bb > 0)
				starts &= fp_bucket(f - 1, nb) == bb - 1;
			/* Perturbed boundary (the next possible start): the
			 * same check must reject it. */
			if (bb > 0)
				twin &= fp_bucket(f + ((u128)1 << 64) - 1, nb)
				    != bb - 1;
		}
		prev = 0;
		pb = 0;
		for (b = 0; b < 5000; b++) {
			f = prev + ((u128)0x9e3779b97f4a7c15ULL << 48) + b;
			if (f < prev)
				break;
			mono &= fp_bucket(f, nb) >= pb && fp_bucket(f, nb) < nb;
			pb = fp_bucket(f, nb);
			prev = f;
		}
	}
	ok(inrange, "fp_bucket maps 0 and 2^128-1 to the first and last bucket");
	ok(starts, "fp_bucket_first is each bucket's first fingerprint");
	ok(twin, "... and a start one step late fails the same check");
	ok(mono, "fp_bucket is non-decreasing along increasing fingerprints");
}

/* True if the sorted stream has each key's pairs adjacent and buckets in
 * order; keyid[i] is the key of record i. */
static int
stream_ok(const u128 *v, const uint64_t *idx, size_t n,
    const uint32_t *keyid, uint32_t nkeys, uint64_t nb)
{
	uint8_t *seen = xcalloc(nkeys, 1);
	size_t i;
	int good = 1;

	for (i = 0; i < n && good; i++) {
		uint32_t k = keyid[idx[i]];

		if (i > 0 && fp_bucket(v[i], nb) < fp_bucket(v[i - 1], nb))
			good = 0;
		if (i > 0 && keyid[idx[i - 1]] != k && seen[k])
			good = 0;	/* key k came back after a gap */
		seen[k] = 1;
	}
	free(seen);
	return good;
}

static void
test_sorted_stream(void)
{
	enum { NREC = 20000, NKEYS = 6000 };
	char dir[] = "/tmp/t_fingerprint.XXXXXX";
	struct fpctx c;
	struct sorter *s;
	uint32_t *keyid = xcalloc(NREC, sizeof(*keyid));
	u128 *v = xcalloc(NREC, sizeof(*v)), tv;
	uint64_t *idx = xcalloc(NREC, sizeof(*idx)), ti;
	uint8_t key[40];
	size_t i, n = 0;
	uint64_t x = 1;

	if (!mkdtemp(dir))
		abort();
	fp_init(&c, NULL);
	/* A small budget: several runs on disk, merged. */
	s = sorter_new(dir, sorter_min_memory());
	for (i = 0; i < NREC; i++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		keyid[i] = (uint32_t)((x >> 33) % NKEYS);
		memset(key, 0, sizeof(key));
		snprintf((char *)key, sizeof(key), "key-%u", keyid[i]);
		sorter_add(s, fp_key(&c, key, strlen((char *)key)), i);
	}
	sorter_finish(s);
	while (sorter_next(s, &tv, &ti)) {
		v[n] = tv;
		idx[n++] = ti;
	}
	diag("%u records through %u sorted runs", (unsigned)NREC,
	    sorter_runs(s));
	sorter_free(s);
	rmdir(dir);
	ok(n == NREC, "the sorter gives back every record");
	ok(stream_ok(v, idx, n, keyid, NKEYS, 7) &&
	    stream_ok(v, idx, n, keyid, NKEYS, 1000),
	    "sorted by fingerprint: duplicates adjacent, buckets contiguous");
	/* Negative twin: swap two records of different keys far apart. */
	tv = v[10];
	v[10] = v[n - 10];
	v[n - 10] = tv;
	ti = idx[10];
	idx[10] = idx[n - 10];
	idx[n - 10] = ti;
	ok(!stream_ok(v, idx, n, keyid, NKEYS, 7),
	    "... and the check rejects a stream with two records swapped");
	free(keyid);
	free(v);
	free(idx);
}

static void
test_cost(void)
{
	struct fpctx c;
	uint8_t key[40];
	u128 acc = 0;
	double t0;
	int i, n = 200000;

	fp_init(&c, (const uint8_t *)"0123456789abcdef0123456789abcdef");
	memset(key, 'k', sizeof(key));
	t0 = now_seconds();
	for (i = 0; i < n; i++) {
		key[i % 40] ^= (uint8_t)i;
		acc ^= fp_key(&c, key, sizeof(key));
	}
	diag("fp_key, 40-byte key, keyed: %.0f ns a call (%d)",
	    (now_seconds() - t0) * 1e9 / n, (int)(acc & 1));
}
#define NB	202	/* keys of 0..201 bytes */

static void
test_batch(void)
{
	static uint8_t buf[NB * (NB - 1) / 2];
	uint8_t seed[FP_SEED_BYTES];
	size_t off[NB + 1], i, bad = 0, moved = 0;
	u128 f[NB], g[NB];
	struct fpctx c[2];
	int k;

	randombytes_buf(seed, sizeof(seed));
	randombytes_buf(buf, sizeof(buf));
	fp_init(&c[0], NULL);
	fp_init(&c[1], seed);
	off[0] = 0;
	for (i = 0; i < NB; i++)
		off[i + 1] = off[i] + i;
	for (k = 0; k < 2; k++) {
		fp_keys(&c[k], NB, buf, off, f);
		for (i = 0; i < NB; i++)
			bad += f[i] != fp_key(&c[k], buf + off[i], i);
		fp_keys(&c[k], 37, buf, off + 60, g);	/* lengths 60..96 */
		for (i = 0; i < 37; i++)
			bad += g[i] != f[60 + i];
	}
	ok(bad == 0, "fp_keys = fp_key for keys of 0..201 bytes, keyed and "
	    "unkeyed, and for a slice of 37 (%zu differ)", bad);
	buf[off[50] + 17] ^= 0x20;
	fp_keys(&c[1], NB, buf, off, g);
	for (i = 0; i < NB; i++)
		moved += (f[i] != g[i]) != (i == 50);
	ok(moved == 0, "... one changed byte in key 50 moves that value only");
	off[1] = 3;
	memcpy(buf, "abc", 3);
	fp_keys(&c[0], 1, buf, off, f);
	ok(f[0] == hex128("bd7d77ee7f293d9aca5909d7f281d5e5"),
	    "fp_keys of \"abc\" matches the frozen vector");
	sodium_memzero(c, sizeof(c));
}

int
main(void)
{
	if (sodium_init() < 0)
		return 1;
	test_vectors();
	test_batch();
	test_buckets();
	test_sorted_stream();
	test_cost();
	return done_testing();
}
