/*
 * t_cuckoo.c: stash-less 3-way cuckoo hashing (src/cuckoo.c).
 * Covers: the bins are a fixed function of (key, fingerprint, m), in range,
 * and another key moves them; a full production-sized bucket (L_Q and m_b
 * of 10^9 keys in 2^16 buckets) where every key is in one of its three
 * bins under the index the table reports, bins and slots are inverse maps,
 * and a fingerprint never inserted is in none of its bins; cuckoo_clear
 * reuses the table; more than cap keys is CUCKOO_FULL and a repeated
 * fingerprint CUCKOO_DUP, both leaving the table as it was; a table too
 * small to hold its keys fails, and the failed walk is undone exactly
 * (every earlier key still where it was, nothing dropped).
 * Failure model at relaxed parameters, where failures can be seen: 1,024
 * keys at e = 1.10, 1.12 and 1.14 (1,000 tables each), the failure rate
 * falling with e and at most twice the cryptoTools fit's 2^-(240e - 266);
 * and 1,000 tables at the production e for 1,024 keys with no failure.
 * Deterministic (fixed keys); costs per insertion printed, not asserted.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "bucket.h"
#include "cuckoo.h"
#include "util.h"
#include "tap.h"

static void
key_of(uint8_t key[CUCKOO_KEY_BYTES], uint32_t a, uint32_t b)
{
	int i;

	memset(key, 0, CUCKOO_KEY_BYTES);
	for (i = 0; i < 4; i++) {
		key[i] = (uint8_t)(a >> (8 * i));
		key[4 + i] = (uint8_t)(b >> (8 * i));
	}
}

/* The i-th test fingerprint: spread out, distinct. */
static u128
fp_of(uint64_t i, uint64_t salt)
{
	return ((u128)(i * 0x9e3779b97f4a7c15ULL + salt) << 64) | (i ^ salt);
}

/* 1 if every key sits in one of its bins under the index reported and
 * bins and slots agree both ways. */
static int
consistent(const struct cuckoo *c, uint64_t m, uint64_t salt)
{
	uint64_t j, n = cuckoo_count(c), used = 0;
	uint32_t s;
	unsigned h, h2;

	for (j = 0; j < m; j++) {
		s = cuckoo_bin(c, j, &h);
		if (s == CUCKOO_EMPTY)
			continue;
		used++;
		if (s >= n || cuckoo_where(c, s, &h2) != j || h2 != h ||
		    cuckoo_fp(c, s) != fp_of(s, salt))
			return 0;
	}
	return used == n;
}

/* cuckoo.h's definition of the bins, written out the slow way. */
static void
ref_hashes(const uint8_t key[CUCKOO_KEY_BYTES], u128 f, uint64_t m,
    uint32_t bins[3])
{
	uint8_t in[16], out[16];
	u128 v = 0;
	int i;

	for (i = 0; i < 16; i++)
		in[i] = (uint8_t)(f >> (120 - 8 * i));
	crypto_shorthash_siphashx24(out, in, sizeof(in), key);
	for (i = 0; i < 16; i++)
		v |= (u128)out[i] << (8 * i);
	for (i = 0; i < 3; i++)
		bins[i] = (uint32_t)((((v >> (42 * i)) & (((u128)1 << 42) - 1)) *
		    m) >> 42);
}

static void
test_hashes(void)
{
	uint8_t k1[CUCKOO_KEY_BYTES], k2[CUCKOO_KEY_BYTES];
	uint32_t a[3], b[3], c[3];
	int range = 1, same = 1, moved = 0, i;

	key_of(k1, 1, 2);
	key_of(k2, 1, 3);
	for (i = 0; i < 1000; i++) {
		cuckoo_hashes(k1, fp_of(i, 0), 1000003, a);
		cuckoo_hashes(k1, fp_of(i, 0), 1000003, b);
		cuckoo_hashes(k2, fp_of(i, 0), 1000003, c);
		range &= a[0] < 1000003 && a[1] < 1000003 && a[2] < 1000003;
		same &= !memcmp(a, b, sizeof(a));
		moved += memcmp(a, c, sizeof(a)) != 0;
	}
	cuckoo_hashes(k1, 0, 1, a);
	range &= a[0] == 0 && a[1] == 0 && a[2] == 0;
	cuckoo_hashes(k1, ~(u128)0, (uint64_t)UINT32_MAX - 1, a);
	range &= a[0] < UINT32_MAX - 1 && a[1] < UINT32_MAX - 1;
	ok(range && same, "bins in range and a fixed function of the key");
	for (i = 0, same = 1; i < 3000; i++) {
		uint64_t m = i < 1000 ? 93931 : i < 2000 ? 1 + (uint64_t)i * i *
		    i : UINT32_MAX - 1;

		cuckoo_hashes(k1, fp_of(i, 5) * (i + 1), m, a);
		ref_hashes(k1, fp_of(i, 5) * (i + 1), m, b);
		same &= !memcmp(a, b, sizeof(a));
	}
	ok(same, "bins as the definition says (a reference written out)");
	cuckoo_hashes(k1, fp_of(1, 0), 1000, a);
	cuckoo_hashes(k1, fp_of(2, 0), 1000, b);
	ok(a[0] == 866 && a[1] == 808 && a[2] == 864 &&
	    (b[0] != a[0] || b[1] != a[1]), "frozen bins of one fingerprint "
	    "(another differs)");
	ok(moved == 1000, "another key moves every fingerprint's bins");
}

static void
test_full_bucket(void)
{
	uint64_t nb = 15259, l = bucket_max_load(1000000000, nb, 40);
	uint64_t m = bucket_bins(l, nb, 40), i, absent = 0;
	uint8_t key[CUCKOO_KEY_BYTES];
	struct cuckoo *c;
	int all = 1, again = 1;
	double t0, dt;

	key_of(key, 7, 7);
	c = cuckoo_new(l, m, key);
	diag("table: %llu keys, %llu bins, %zu bytes",
	    (unsigned long long)l, (unsigned long long)m,
	    cuckoo_memory(l, m));
	t0 = now_seconds();
	for (i = 0; i < l; i++)
		all &= cuckoo_insert(c, fp_of(i, 1)) == CUCKOO_OK;
	dt = now_seconds() - t0;
	diag("%.0f ns an insertion into a full bucket, %.3f evictions a key",
	    dt * 1e9 / l, (double)cuckoo_evictions(c) / l);
	ok(all && cuckoo_count(c) == l, "a padded bucket (L_Q = %llu) of "
	    "keys goes in", (unsigned long long)l);
	ok(consistent(c, m, 1), "every key in one of its 3 bins, under the "
	    "index reported; bins and slots inverse maps");
	for (i = 0; i < 10000; i++) {
		uint32_t b[3];
		u128 f = fp_of(i, 99);
		unsigned h, k;

		cuckoo_hashes(key, f, m, b);
		for (k = 0; k < 3; k++) {
			uint32_t s = cuckoo_bin(c, b[k], &h);

			if (s != CUCKOO_EMPTY && cuckoo_fp(c, s) == f)
				absent++;
		}
	}
	ok(absent == 0, "a fingerprint never inserted is in none of its bins");
	ok(cuckoo_insert(c, fp_of(l, 1)) == CUCKOO_FULL &&
	    cuckoo_count(c) == l && consistent(c, m, 1),
	    "key L_Q + 1 is CUCKOO_FULL (bucket overflow), table unchanged");
	cuckoo_clear(c);
	ok(cuckoo_count(c) == 0 && cuckoo_bin(c, 0, NULL) == CUCKOO_EMPTY &&
	    cuckoo_bin(c, m - 1, NULL) == CUCKOO_EMPTY, "cuckoo_clear empties");
	for (i = 0; i < 1000; i++)
		again &= cuckoo_insert(c, fp_of(i, 2)) == CUCKOO_OK;
	ok(again && consistent(c, m, 2), "... and the table is used again");
	ok(cuckoo_insert(c, fp_of(500, 2)) == CUCKOO_DUP &&
	    cuckoo_count(c) == 1000 && consistent(c, m, 2),
	    "a repeated fingerprint is CUCKOO_DUP, table unchanged");
	cuckoo_free(c);
}

/* Too many keys for the bins: the walk fails and is undone. */
static void
test_failure_undone(void)
{
	uint8_t key[CUCKOO_KEY_BYTES];
	struct cuckoo *c;
	uint32_t *before;
	uint64_t i, m = 100, n;
	int r = CUCKOO_OK, same = 1;

	key_of(key, 3, 3);
	c = cuckoo_new(200, m, key);
	before = xcalloc(m, sizeof(*before));
	for (n = 0; n < 200; n++) {
		for (i = 0; i < m; i++)
			before[i] = cuckoo_bin(c, i, NULL);
		if ((r = cuckoo_insert(c, fp_of(n, 5))) != CUCKOO_OK)
			break;
	}
	for (i = 0; i < m; i++)
		same &= cuckoo_bin(c, i, NULL) == before[i];
	diag("%llu keys fit into %llu bins before a walk failed",
	    (unsigned long long)n, (unsigned long long)m);
	ok(r == CUCKOO_FAIL && n > 80 && n <= m,
	    "an overfull table fails with CUCKOO_FAIL");
	ok(same && cuckoo_count(c) == n && consistent(c, m, 5),
	    "... and the failed walk is undone: every earlier key in place");
	/* Negative twin of the check: a table that lost a key is caught. */
	ok(!consistent(c, m, 6), "the consistency check rejects wrong keys");
	free(before);
	cuckoo_free(c);
}

/* Tables of n keys in m bins that fail, out of runs (fixed keys). */
static unsigned
failures(uint64_t n, uint64_t m, unsigned runs, uint32_t tag)
{
	uint8_t key[CUCKOO_KEY_BYTES];
	unsigned r, fails = 0;
	uint64_t i;

	for (r = 0; r < runs; r++) {
		struct cuckoo *c;

		key_of(key, tag, r);
		c = cuckoo_new(n, m, key);
		for (i = 0; i < n; i++)
			if (cuckoo_insert(c, fp_of(i, 0)) != CUCKOO_OK) {
				fails++;
				break;
			}
		cuckoo_free(c);
	}
	return fails;
}

static void
test_failure_model(void)
{
	static const unsigned pct[] = { 110, 112, 114 };
	unsigned f[3], i, runs = 1000, n = 1024;
	int falls = 1, below = 1;
	uint64_t m;
	double t0;

	for (i = 0; i < 3; i++) {
		/* The fit: log2 Pr[fail] = -(240 e - log2 n - 256). */
		double fit = 240.0 * pct[i] / 100 - 10 - 256;
		double pfit = fit >= 0 ? 1.0 / (double)(1ull << (int)fit) : 1;

		m = (n * pct[i] + 99) / 100;
		f[i] = failures(n, m, runs, 1000 + pct[i]);
		diag("n %u, e %.2f: %u of %u tables failed (fit %.4f)", n,
		    pct[i] / 100.0, f[i], runs, pfit);
		if (fit >= 0 && f[i] > 2 * pfit * runs + 3)
			below = 0;
		if (i > 0 && f[i] >= f[i - 1])
			falls = 0;
	}
	ok(f[0] > runs / 5, "at e = 1.10 failures are common (%u of %u): "
	    "the failure path is seen", f[0], runs);
	ok(falls, "the failure rate falls with e");
	ok(below, "... and is at most about the fit's 2^-(240e - 266)");
	m = bucket_bins(n, 1, 40);
	t0 = now_seconds();
	i = failures(n, m, runs, 77);
	diag("production m_b = %llu for 1,024 keys (e = %.3f): %u failures in "
	    "%u tables, %.0f ns an insertion", (unsigned long long)m,
	    (double)m / n, i, runs, (now_seconds() - t0) * 1e9 / (runs * n));
	ok(i == 0, "no failure at the production e");
}

int
main(void)
{
	if (sodium_init() < 0)
		return 1;
	test_hashes();
	test_full_bucket();
	test_failure_undone();
	test_failure_model();
	return done_testing();
}
