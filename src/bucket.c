/*
 * bucket.c: bucket count, padded maximum load, cuckoo table size and
 * truncation for the OT engine (bucket.h has the formulas and why).
 *
 * The maximum load.  w(k) = Pr[Bin(n, p) = k] / Pr[Bin(n, p) = k0] with
 * p = 1/B and k0 = floor((n + 1) p), the mode, so w(k0) = 1 and
 *   w(k + 1) = w(k) (n - k) / ((k + 1)(B - 1)).
 * Pass 1 walks down from the mode and up from it until the terms are far
 * below what matters (2^-(lambda + 60) / B of the mode's), summing S, the
 * total (relative to the mode term), and noting the last term.  Pass 2
 * walks back down from the top, summing the upper tail from its small end
 * (so no cancellation: the tail is 2^-54 of S at B = 15,259), and stops at
 * the first L whose tail above it, times B, exceeds 2^-lambda S: L is one
 * above.  About 2 * 12 sigma steps: 1,500 at 2^12 keys a bucket.
 */
#include "bucket.h"

#include "bytes.h"	/* u128 */

uint64_t
bucket_count(uint64_t nq, uint64_t nh, uint64_t target)
{
	uint64_t n = nq > nh ? nq : nh;

	if (n <= target)
		return 1;
	return n / target + (n % target != 0);
}

/* 2^-e as a double, for 0 <= e < 1000, without libm. */
static double
pow2_neg(unsigned e)
{
	double r = 1.0;

	while (e >= 60) {
		r /= 1152921504606846976.0;	/* 2^60 */
		e -= 60;
	}
	return r / (double)((uint64_t)1 << e);
}

uint64_t
bucket_max_load(uint64_t n, uint64_t nbuckets, unsigned lambda)
{
	double bm1, w, s, tail, floor_w, lim;
	uint64_t k0, k, top;

	if (nbuckets <= 1 || n == 0)
		return n;
	bm1 = (double)(nbuckets - 1);
	k0 = (n / nbuckets) + ((n % nbuckets) + 1) / nbuckets;	/* (n+1)/B */
	if (k0 > n)
		k0 = n;
	/* Terms below this (relative to the mode's) are noise for S. */
	floor_w = pow2_neg(lambda + 60) / (double)nbuckets;

	s = 1.0;
	for (w = 1.0, k = k0; k > 0 && w > floor_w; k--) {
		w = w * (double)k * bm1;
		w = w / (double)(n - k + 1);
		s = s + w;
	}
	for (w = 1.0, k = k0; k < n && w > floor_w; k++) {
		w = w * (double)(n - k);
		w = w / ((double)(k + 1) * bm1);
		s = s + w;
	}
	top = k;		/* w = w(top) */

	/* Largest tail allowed, relative to the mode term. */
	lim = s * pow2_neg(lambda);
	lim = lim / (double)nbuckets;
	tail = 0.0;
	for (k = top; k > k0; k--) {
		tail = tail + w;	/* tail = sum of w(j), j >= k */
		if (tail > lim)
			return k;	/* Pr[load > k - 1] too big: L = k */
		w = w * (double)k * bm1;
		w = w / (double)(n - k + 1);
	}
	return k0;
}

uint64_t
bucket_log2_q16(uint64_t x)
{
	unsigned ip = 63 - (unsigned)__builtin_clzll(x), i;
	u128 y = ((u128)x << 62) >> ip;		/* x / 2^ip in Q62: [1, 2) */
	uint64_t frac = 0;

	for (i = 0; i < 16; i++) {
		y = (y * y) >> 62;
		frac <<= 1;
		if (y >= (u128)2 << 62) {
			y >>= 1;
			frac |= 1;
		}
	}
	return (uint64_t)ip << 16 | frac;
}

/*
 * lambda_b = lambda + log2 B bits per bucket: B tables, each allowed
 * 2^-lambda / B.  The fit (stash-less, 3 hash functions, random-walk
 * insertion) is lambda_b = a e + b with, for n >= 2^9 keys,
 * a = 240 and b = -(log2 n + 256); below 2^9, one line per floor(log2 n).
 * Slopes and intercepts in thousandths.
 */
static const struct {
	int64_t slope, y;
} small_lines[9] = {
	{ 5500, 6350 }, { 5500, 6350 }, { 5500, 6350 }, { 8500, -70 },
	{ 13400, -6740 }, { 21900, -16100 }, { 57800, -62600 },
	{ 100000, -113000 }, { 142000, -158000 },
};
#define MARGIN_Q16	1967	/* ceil(0.03 * 2^16) */

uint64_t
bucket_expansion_q16(uint64_t load, uint64_t nbuckets, unsigned lambda)
{
	uint64_t lam = ((uint64_t)lambda << 16) +
	    bucket_log2_q16(nbuckets ? nbuckets : 1), lg, num;
	int64_t snum;
	unsigned nf;

	if (load == 0)
		return 0;
	lg = bucket_log2_q16(load);
	nf = (unsigned)(lg >> 16);
	if (nf >= 9) {
		num = lam + lg + ((uint64_t)256 << 16);
		return (num + 239) / 240 + MARGIN_Q16;
	}
	snum = (int64_t)lam * 1000 - small_lines[nf].y * 65536;
	return (uint64_t)((snum + small_lines[nf].slope - 1) /
	    small_lines[nf].slope) + MARGIN_Q16;
}

uint64_t
bucket_bins(uint64_t load, uint64_t nbuckets, unsigned lambda)
{
	u128 m = (u128)bucket_expansion_q16(load, nbuckets, lambda) * load;

	return (uint64_t)((m + 65535) >> 16);
}

static unsigned
ceil_log2(u128 x)
{
	unsigned r = 0;

	while (r < 128 && ((u128)1 << r) < x)
		r++;
	return r;
}

unsigned
bucket_trunc_bits(uint64_t nq, uint64_t nh, unsigned d, unsigned lambda)
{
	u128 x = (u128)nh * d, p;
	unsigned t;

	/* Counts of 0 are taken as 1, as gcs_trunc_bits does. */
	if (x == 0)
		x = 1;
	if (nq == 0)
		nq = 1;
	/* nq * d * nh overflows 128 bits only far beyond t = 128. */
	if (x > ~(u128)0 / nq)
		return 128;
	p = x * nq;
	t = ceil_log2(p) + lambda;
	return t > 128 ? 128 : t;
}

void
bucket_sizes(uint64_t nq, uint64_t nh, uint64_t target,
    struct bucket_sizes *z)
{
	z->buckets = bucket_count(nq, nh, target);
	z->load = bucket_max_load(nq, z->buckets, BUCKET_LAMBDA);
	z->bins = bucket_bins(z->load, z->buckets, BUCKET_LAMBDA);
}

/*
 * m grows with the mean load (at most target) and with B (both L_Q and
 * e grow with log2 B), so the largest is at the most keys: nQ = 2^48, or
 * the largest multiple of target below it, whose buckets are exactly
 * target on average.
 */
uint64_t
bucket_bins_worst(uint64_t target)
{
	struct bucket_sizes a, b;

	bucket_sizes(BUCKET_MAX_KEYS, BUCKET_MAX_KEYS, target, &a);
	bucket_sizes(BUCKET_MAX_KEYS / target * target, 0, target, &b);
	return a.bins > b.bins ? a.bins : b.bins;
}
