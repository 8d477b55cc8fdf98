/*
 * check.c: `psi-stream check`, the input pre-flight.
 *
 * Parses the input exactly as a run would (records.c, with count_invalid so
 * that bad records are counted instead of fatal) and prints the counts.
 *
 * Duplicate keys are keys minus distinct keys.  Distinct keys are counted
 * in bounded memory: every key is hashed to 64 bits (a fast non-
 * cryptographic hash; the counts are not security relevant) and fed to
 *  - an exact set of hashes while it holds at most EXACT_MAX of them
 *    (so small inputs get an exact answer, barring a 64-bit collision),
 *  - a HyperLogLog sketch of 2^HLL_P one-byte registers (64 KiB; relative
 *    standard error 1.04 / 2^(HLL_P/2), about 0.4%), used once the set has
 *    overflowed.  The printed margin is two standard errors.  The estimate
 *    uses Ertl's improved raw estimator ("New cardinality estimation
 *    algorithms for HyperLogLog sketches", 2017), which needs no empirical
 *    bias tables and is unbiased from small to large cardinalities.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "records.h"
#include "util.h"

#define HLL_P		16
#define HLL_M		(1u << HLL_P)
#define HLL_Q		(64 - HLL_P)
#define EXACT_MAX	(1u << 18)	/* hashes kept exactly (4 MiB table) */

struct distinct {
	uint8_t		*reg;		/* HLL registers */
	uint64_t	*set;		/* open addressing; 0 = free slot */
	size_t		 setcap;	/* power of two */
	size_t		 setn;
	int		 overflow;	/* set abandoned: estimate only */
};

/* ---- hashing ----------------------------------------------------------- */

static inline uint64_t
load64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static inline uint64_t
load32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

/* Folded 64x64->128 multiplication: a strong, cheap mixing step. */
static inline uint64_t
fold_mul(uint64_t a, uint64_t b)
{
#ifdef __SIZEOF_INT128__
	unsigned __int128 p = (unsigned __int128)a * b;

	return (uint64_t)p ^ (uint64_t)(p >> 64);
#else
	uint64_t lo = a * b, hi = (a ^ (a >> 29)) * (b | 1);

	return lo ^ (hi >> 32) ^ (hi << 32);
#endif
}

#define K0 0x9e3779b97f4a7c15ull	/* 2^64 / golden ratio */
#define K1 0xc2b2ae3d27d4eb4full
#define K2 0x165667b19e3779f9ull

/*
 * 64-bit hash of a key: two 64-bit lanes, each absorbing one word of every
 * 16-byte block with a multiply and a rotation (a bijection for a fixed
 * state, so equal-length keys that differ in one block never collide in
 * that lane), then one folded 128-bit multiplication of both lanes and
 * the last 1..16 bytes, the length, and a final avalanche.  Cheap enough to run on every key; not meant to
 * resist chosen inputs (a skewed estimate is the worst that can happen).
 */
static uint64_t
key_hash(const uint8_t *p, size_t n)
{
	uint64_t a = K0, b = K1, w0, w1;
	size_t len = n;

	while (n > 16) {
		a = (a ^ load64(p)) * K2;
		a = a << 31 | a >> 33;
		b = (b ^ load64(p + 8)) * K0;
		b = b << 29 | b >> 35;
		p += 16;
		n -= 16;
	}
	/* 1..16 bytes left (0 only for an empty key); the loads may
	 * overlap, which is fine since the length is mixed in. */
	if (n >= 8) {
		w0 = load64(p);
		w1 = load64(p + n - 8);
	} else if (n >= 4) {
		w0 = load32(p);
		w1 = load32(p + n - 4);
	} else if (n > 0) {
		w0 = (uint64_t)p[0] << 16 | (uint64_t)p[n / 2] << 8 | p[n - 1];
		w1 = 0;
	} else {
		w0 = w1 = 0;
	}
	/* The length goes in after the fold: keys of different lengths can
	 * load the same w0 and w1 ("aaaa", "aaaaa").  The fold is weak when
	 * one factor barely varies (short keys): finish with a bijective
	 * shift-multiply-shift avalanche. */
	a = fold_mul(a ^ w0, b ^ w1 ^ K2) ^ len;
	a ^= a >> 31;
	a *= K1;
	return a ^ a >> 29;
}

/* ---- distinct counting ------------------------------------------------- */

static void
set_insert(struct distinct *d, uint64_t h)
{
	size_t i, mask;

	if (h == 0)
		h = 1;
	mask = d->setcap - 1;
	for (i = (size_t)(h >> 20) & mask; d->set[i] != 0; i = (i + 1) & mask)
		if (d->set[i] == h)
			return;
	d->set[i] = h;
	if (++d->setn <= d->setcap / 2)
		return;
	if (d->setn > EXACT_MAX) {
		free(d->set);
		d->set = NULL;
		d->overflow = 1;
		return;
	}
	/* Grow: rehash into a table twice as large. */
	{
		uint64_t *old = d->set;
		size_t oldcap = d->setcap, j;

		d->setcap *= 2;
		mask = d->setcap - 1;
		d->set = xcalloc(d->setcap, sizeof(*d->set));
		for (j = 0; j < oldcap; j++) {
			if (old[j] == 0)
				continue;
			for (i = (size_t)(old[j] >> 20) & mask; d->set[i] != 0;
			    i = (i + 1) & mask)
				;
			d->set[i] = old[j];
		}
		free(old);
	}
}

static inline void
distinct_add(struct distinct *d, uint64_t h)
{
	/* Top HLL_P bits pick the register; the rank is the position of
	 * the first 1 bit in the other HLL_Q bits (HLL_Q + 1 if none). */
	uint64_t w = h << HLL_P;
	uint8_t rank = w == 0 ? HLL_Q + 1 : (uint8_t)(__builtin_clzll(w) + 1);
	uint8_t *r = &d->reg[h >> HLL_Q];

	if (rank > *r)
		*r = rank;
	if (!d->overflow)
		set_insert(d, h);
}

/* Ertl's sigma(x) = x + sum_k x^(2^k) 2^(k-1), for x in [0, 1). */
static double
hll_sigma(double x)
{
	double y = 1, z = x, zold;

	if (x == 1)
		return INFINITY;
	do {
		x *= x;
		zold = z;
		z += x * y;
		y += y;
	} while (z != zold);
	return z;
}

/* Ertl's tau(x) = (1 - x - sum_k (1 - x^(2^-k))^2 2^-k) / 3. */
static double
hll_tau(double x)
{
	double y = 1, z = 1 - x, zold;

	if (x == 0 || x == 1)
		return 0;
	do {
		x = sqrt(x);
		zold = z;
		y *= 0.5;
		z -= (1 - x) * (1 - x) * y;
	} while (z != zold);
	return z / 3;
}

static double
hll_estimate(const struct distinct *d)
{
	unsigned count[HLL_Q + 2] = { 0 };
	double m = HLL_M, z;
	size_t i;
	int k;

	for (i = 0; i < HLL_M; i++)
		count[d->reg[i]]++;
	z = m * hll_tau(1 - count[HLL_Q + 1] / m);
	for (k = HLL_Q; k >= 1; k--)
		z = 0.5 * (z + count[k]);
	z += m * hll_sigma(count[0] / m);
	return m * m / (2 * log(2)) / z;
}

/* ---- the command ------------------------------------------------------- */

static void
print_invalid(const struct rec_stats *st, int several)
{
	uint64_t i, n = st->invalid < 5 ? st->invalid : 5;

	printf("invalid  %llu", (unsigned long long)st->invalid);
	if (n > 0) {
		printf(" (record%s ", st->invalid > 1 ? "s" : "");
		for (i = 0; i < n; i++) {
			if (several)
				printf("%s%s:%llu", i ? ", " : "",
				    st->first_invalid_file[i],
				    (unsigned long long)st->first_invalid[i]);
			else
				printf("%s%llu", i ? ", " : "",
				    (unsigned long long)st->first_invalid[i]);
		}
		printf("%s)", st->invalid > n ? ", ..." : "");
	}
	putchar('\n');
}

int
cmd_check(const struct rec_opts *opts, char **files, int nfiles)
{
	struct rec_opts o = *opts;
	struct rec_reader *rr;
	struct rec_stats st;
	struct record rec;
	struct distinct dd = { 0 }, *d = &dd;
	uint64_t distinct, dups;
	double est;

	o.count_invalid = 1;
	o.skip_invalid = 0;
	d->reg = xcalloc(HLL_M, 1);
	d->setcap = 1024;
	d->set = xcalloc(d->setcap, sizeof(*d->set));
	rr = rec_open(&o, files, nfiles);
	while (rec_next(rr, &rec))
		distinct_add(d, key_hash(rec.key, rec.keylen));
	rec_get_stats(rr, &st);

	if (d->overflow) {
		est = hll_estimate(d);
		distinct = est >= (double)st.keys ? st.keys : (uint64_t)llround(est);
	} else {
		distinct = d->setn;
	}
	dups = st.keys - distinct;

	printf("records  %llu\n", (unsigned long long)st.records);
	printf("keys     %llu\n", (unsigned long long)st.keys);
	printf("empty    %llu\n", (unsigned long long)st.empty);
	print_invalid(&st, nfiles > 1);
	if (d->overflow)
		printf("duplicate keys ~%llu (estimate, +-%llu)\n",
		    (unsigned long long)dups, (unsigned long long)llround(
		    2 * 1.04 / sqrt(HLL_M) * (double)distinct));
	else
		printf("duplicate keys %llu\n", (unsigned long long)dups);
	if (fflush(stdout) == EOF || ferror(stdout))
		fatal_errno(EXIT_IO, "cannot write to stdout");

	rec_close(rr);
	free(d->reg);
	free(d->set);
	return st.invalid > 0 ? 1 : 0;
}
