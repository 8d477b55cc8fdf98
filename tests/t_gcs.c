/*
 * t_gcs.c: the GCS digest chunks of gcs.c.  Covers the truncation width
 * and truncation, the Rice parameter (measured bits per value against the
 * bound t - log2(n) + 2, an acceptance criterion), encode/decode round
 * trips (empty, one value, duplicates, t = 128 and t = 1, chained chunks,
 * huge gaps, more than GCS_MAX_COUNT values), the decoder's rejection of
 * every kind of malformed chunk, and a deterministic mutation fuzz loop.
 * Timings are printed as diagnostics, never asserted.
 *
 * With GCS_WRITE_CORPUS=DIR in the environment it also writes a few valid
 * chunks to DIR, the seed corpus of fuzz/fuzz_gcs.c.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gcs.h"
#include "util.h"
#include "tap.h"

#define MAXT(t)	((t) == 128 ? ~(u128)0 : ((u128)1 << (t)) - 1)

/* xoshiro256**, seeded by splitmix64: fixed, so every run is the same. */
static uint64_t rs[4];

static void
rng_seed(uint64_t x)
{
	int i;

	for (i = 0; i < 4; i++) {
		uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		rs[i] = z ^ (z >> 31);
	}
}

static uint64_t
rng64(void)
{
	uint64_t r = rs[1] * 5, t = rs[1] << 17;

	r = ((r << 7) | (r >> 57)) * 9;
	rs[2] ^= rs[0];
	rs[3] ^= rs[1];
	rs[1] ^= rs[2];
	rs[0] ^= rs[3];
	rs[2] ^= t;
	rs[3] = (rs[3] << 45) | (rs[3] >> 19);
	return r;
}

static u128
rng_t(unsigned t)
{
	u128 v = ((u128)rng64() << 64) | rng64();

	return v & MAXT(t);
}

static int
cmp_u128(const void *a, const void *b)
{
	u128 x = *(const u128 *)a, y = *(const u128 *)b;

	return x < y ? -1 : x > y;
}

/* n sorted uniform t-bit values. */
static u128 *
sorted_random(size_t n, unsigned t)
{
	u128 *v = xcalloc(n ? n : 1, sizeof(*v));
	size_t i;

	for (i = 0; i < n; i++)
		v[i] = rng_t(t);
	qsort(v, n, sizeof(*v), cmp_u128);
	return v;
}

/* log2 without libm: integer part by halving, fraction by squaring. */
static double
log2d(double x)
{
	double r = 0, b = 0.5;
	int i;

	while (x >= 2) {
		x /= 2;
		r++;
	}
	while (x < 1) {
		x *= 2;
		r--;
	}
	for (i = 0; i < 52; i++, b /= 2) {
		x *= x;
		if (x >= 2) {
			x /= 2;
			r += b;
		}
	}
	return r;
}

static const char *corpus_dir;

static void
save_corpus(const char *name, const uint8_t *buf, size_t len)
{
	char path[1024];
	FILE *f;

	if (corpus_dir == NULL || name == NULL)
		return;
	snprintf(path, sizeof(path), "%s/%s", corpus_dir, name);
	if ((f = fopen(path, "wb")) == NULL)
		return;
	fwrite(buf, 1, len, f);
	fclose(f);
}

/*
 * Encode vals into a buffer of exactly the size the format predicts and
 * decode it back; true if all of it went in with that exact length, came
 * back equal, and the carried base is the last value.
 */
static int
round_trip(const u128 *vals, size_t n, unsigned t, unsigned k, u128 base,
    const char *corpus_name)
{
	size_t cap, len, used, i;
	uint8_t *buf;
	u128 *out, b = base, prev = base, bits = 0;
	long got;
	int good;

	for (i = 0; i < n; i++) {
		bits += ((vals[i] - prev) >> k) + 1 + k;
		prev = vals[i];
	}
	if (bits > (u128)1 << 30)
		return 0;
	cap = GCS_HEADER + (size_t)((bits + 7) / 8);
	buf = xmalloc(cap);
	out = xcalloc(n ? n : 1, sizeof(*out));
	len = gcs_encode(buf, cap, vals, n, t, k, base, &used);
	if (n == 0) {
		good = len == 0 && used == 0;
		goto done;
	}
	if (len != cap || used != n) {
		good = 0;
		goto done;
	}
	save_corpus(corpus_name, buf, len);
	got = gcs_decode(buf, len, t, &b, out, n);
	good = got == (long)n && memcmp(out, vals, n * sizeof(*out)) == 0 &&
	    b == vals[n - 1] && gcs_chunk_count(buf, len) == (long)n;
done:
	free(buf);
	free(out);
	return good;
}

static void
test_trunc_bits(void)
{
	static const struct {
		uint64_t nq, nh;
		unsigned t;
	} c[] = {
		{ 1, 1, 40 }, { 0, 0, 40 }, { 0, 1, 40 }, { 2, 1, 41 },
		{ 3, 1, 42 }, { 1, 3, 42 }, { 4, 1, 42 }, { 5, 1, 43 },
		{ 1000, 1000, 60 }, { 1ULL << 20, 1ULL << 20, 80 },
		{ 1ULL << 20, (1ULL << 20) + 1, 81 },
		{ 1ULL << 40, 1ULL << 40, 120 },
		{ (1ULL << 40) + 1, 1ULL << 40, 121 },
		{ 1ULL << 44, 1ULL << 44, 128 },
		{ (1ULL << 44) + 1, 1ULL << 44, 128 },
		{ UINT64_MAX, UINT64_MAX, 128 }, { UINT64_MAX, 0, 104 },
	};
	size_t i;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		ok(gcs_trunc_bits(c[i].nq, c[i].nh) == c[i].t,
		    "gcs_trunc_bits(%llu, %llu) = %u (got %u)",
		    (unsigned long long)c[i].nq, (unsigned long long)c[i].nh,
		    c[i].t, gcs_trunc_bits(c[i].nq, c[i].nh));
}

static void
test_truncate(void)
{
	uint8_t prf[64];
	u128 hi, lo;
	int i;

	for (i = 0; i < 64; i++)
		prf[i] = (uint8_t)(0xf0 - i);
	hi = (u128)0xf0efeeedecebeae9ULL << 64 | 0xe8e7e6e5e4e3e2e1ULL;
	ok(gcs_truncate(prf, 128) == hi, "gcs_truncate t=128: first 16 bytes");
	lo = gcs_truncate(prf, 40);
	ok(lo == 0xf0efeeedecULL, "gcs_truncate t=40: first 5 bytes");
	ok(gcs_truncate(prf, 1) == 1, "gcs_truncate t=1: top bit set");
	prf[0] = 0x7f;
	ok(gcs_truncate(prf, 1) == 0, "gcs_truncate t=1: top bit clear");
	ok(gcs_truncate(prf, 41) == ((u128)0x7fefeeedecULL << 1 | 1),
	    "gcs_truncate t=41: 5 bytes and one bit");
}

static void
test_rice_param(void)
{
	static const uint64_t ns[] = { 0, 1, 2, 3, 1000, 1ULL << 40,
	    UINT64_MAX };
	unsigned t, bad = 0;
	size_t i;

	for (t = 1; t <= 128; t++)
		for (i = 0; i < sizeof(ns) / sizeof(ns[0]); i++)
			if (gcs_rice_param(t, ns[i]) >= t)
				bad++;
	ok(bad == 0, "gcs_rice_param: k < t for t = 1..128 and any n");
	ok(gcs_rice_param(128, 1) == 127, "gcs_rice_param(128, 1) = 127");
	ok(gcs_rice_param(1, 1000) == 0, "gcs_rice_param(1, n) = 0");
	ok(gcs_rice_param(20, 1ULL << 30) == 0, "gcs_rice_param, n > 2^t: 0");
}

/*
 * Bits per value of real chunks (header included) against the acceptance
 * bound t - log2(n) + 2, for several t and n (mean gap 2^t / n >= 2).
 */
static void
test_bits_per_value(void)
{
	static const unsigned ts[] = { 20, 24, 40, 64, 100, 128 };
	static const size_t ns[] = { 65536, 80000, 100000, 120000, 131071 };
	size_t cap, len, used, i, j, n;
	double bpe, bound, worst = -100;
	unsigned t, k;
	uint8_t *buf;
	u128 *v;
	int bad = 0;

	for (i = 0; i < sizeof(ts) / sizeof(ts[0]); i++) {
		for (j = 0; j < sizeof(ns) / sizeof(ns[0]); j++) {
			t = ts[i];
			n = ns[j];
			k = gcs_rice_param(t, n);
			v = sorted_random(n, t);
			cap = GCS_HEADER + n * (size_t)(t + 2);
			buf = xmalloc(cap);
			len = gcs_encode(buf, cap, v, n, t, k, 0, &used);
			bpe = (double)len * 8 / (double)n;
			bound = t - log2d((double)n) + 2.0;
			if (used != n || bpe > bound)
				bad++;
			if (bpe - (bound - 2.0) > worst)
				worst = bpe - (bound - 2.0);
			if (j == 2 || bpe > bound)
				diag("t %3u n %6zu k %3u: %.3f bits/value, "
				    "bound %.3f (log2 m + %.3f)", t, n, k, bpe,
				    bound, bpe - (bound - 2.0));
			free(buf);
			free(v);
		}
	}
	ok(bad == 0, "bits/value <= t - log2(n) + 2 for all 30 (t, n); "
	    "worst log2(m) + %.3f", worst);

	/* Small mean gaps (m = 2.6 and 1.3): near the bound, reported only. */
	for (t = 17; t <= 18; t++) {
		n = 100000;
		k = gcs_rice_param(t, n);
		v = sorted_random(n, t);
		cap = GCS_HEADER + n * (size_t)(t + 2);
		buf = xmalloc(cap);
		len = gcs_encode(buf, cap, v, n, t, k, 0, &used);
		diag("t %u n %zu k %u: %.3f bits/value, t - log2(n) + 2 = %.3f",
		    t, n, k, (double)len * 8 / (double)n,
		    t - log2d((double)n) + 2.0);
		free(buf);
		free(v);
	}
}

static void
test_round_trips(void)
{
	u128 v[8], *r;
	uint8_t buf[64];
	size_t used = 99, i;
	unsigned k;

	ok(gcs_encode(buf, sizeof(buf), v, 0, 40, 10, 0, &used) == 0 &&
	    used == 0, "encode of no values returns 0");
	ok(gcs_encode(buf, GCS_HEADER, v, 0, 40, 10, 0, &used) == 0,
	    "encode into a header-sized buffer returns 0");

	v[0] = 123456789;
	ok(round_trip(v, 1, 40, gcs_rice_param(40, 1), 0, "one-t40"),
	    "one value, t=40");
	v[0] = 0;
	ok(round_trip(v, 1, 40, 0, 0, NULL), "one value 0 = base, k=0");
	v[0] = 77;
	ok(round_trip(v, 1, 40, 5, 77, NULL), "one value = nonzero base");

	for (i = 0; i < 5; i++)
		v[i] = 1000;
	v[5] = 1001;
	v[6] = 1001;
	ok(round_trip(v, 7, 40, 3, 1000, "dups-t40"),
	    "duplicates: equal values, d = 0, first d = 0 from base");
	ok(round_trip(v, 7, 40, 0, 0, NULL), "duplicates with k=0");

	v[0] = MAXT(128) - 5;
	v[1] = MAXT(128) - 5;
	v[2] = MAXT(128) - 1;
	v[3] = MAXT(128);
	v[4] = MAXT(128);
	ok(round_trip(v, 5, 128, 127, 0, "t128-k127"),
	    "t=128, values near 2^128-1, k=127, base 0");
	ok(round_trip(v, 5, 128, 126, 0, NULL), "t=128, k=126, base 0");
	ok(round_trip(v, 5, 128, 3, MAXT(128) - 9, NULL),
	    "t=128, k=3, base just below");
	ok(round_trip(v, 3, 128, 127, MAXT(128) - 5, NULL),
	    "t=128, k=127, base = 2^128-6");
	v[0] = MAXT(128);
	ok(round_trip(v, 1, 128, 0, MAXT(128), NULL),
	    "t=128, value = base = 2^128-1");

	v[0] = 0; v[1] = 0; v[2] = 1; v[3] = 1; v[4] = 1;
	ok(round_trip(v, 5, 1, 0, 0, "t1"), "t=1, k=0");
	ok(round_trip(v + 2, 3, 1, 0, 1, NULL), "t=1, base 1");

	r = sorted_random(1000, 128);
	ok(round_trip(r, 1000, 128, gcs_rice_param(128, 1000), 0, NULL),
	    "1000 random values, t=128");
	free(r);
	r = sorted_random(50, 80);
	ok(round_trip(r, 50, 80, gcs_rice_param(80, 50), 0, "t80-50"),
	    "50 random values, t=80");
	free(r);
	/* Every k for one t, with k well off the optimum on both sides. */
	r = xcalloc(300, sizeof(*r));
	r[0] = rng_t(69) | 1;
	for (i = 1; i < 300; i++)
		r[i] = r[i - 1] + rng64() % 4096;
	for (k = 0, i = 0; k < 70; k++)
		if (!round_trip(r, 300, 70, k, r[0] - 1, NULL))
			i++;
	ok(i == 0, "300 70-bit values, gaps < 2^12, every k in 0..69");
	free(r);
}

/* 200,000 values in chunks of at most 65000 bytes, base carried along. */
static void
test_chained(unsigned t)
{
	size_t n = 200000, cap = 65000, at = 0, used, len, nchunk = 0;
	size_t maxlen = 0, total = 0;
	unsigned k = gcs_rice_param(t, n);
	u128 *v = sorted_random(n, t), *out = xcalloc(n, sizeof(*out));
	u128 ebase = 0, dbase = 0;
	uint8_t *buf = xmalloc(cap);
	long got;
	int bad = 0;

	while (at < n) {
		len = gcs_encode(buf, cap, v + at, n - at, t, k, ebase, &used);
		if (len == 0 || len > cap || used == 0) {
			bad++;
			break;
		}
		if (gcs_chunk_count(buf, len) != (long)used)
			bad++;
		got = gcs_decode(buf, len, t, &dbase, out + at, used);
		if (got != (long)used || dbase != v[at + used - 1])
			bad++;
		ebase = v[at + used - 1];
		at += used;
		nchunk++;
		total += len;
		if (len > maxlen)
			maxlen = len;
	}
	ok(bad == 0 && at == n && memcmp(out, v, n * sizeof(*v)) == 0,
	    "t=%u: 200000 values in %zu chunks (largest %zu bytes, %.3f "
	    "bits/value) round trip", t, nchunk, maxlen,
	    (double)total * 8 / (double)n);
	free(v);
	free(out);
	free(buf);
}

/*
 * A gap far above 2^k needs a long unary run.  The encoder never splits a
 * value: it ends the chunk before a value that does not fit, and returns
 * 0 if the first one does not.
 */
static void
test_huge_gaps(void)
{
	uint8_t *buf = xmalloc(1 << 20);
	u128 v[3], out[3], b;
	size_t used, len;

	v[0] = MAXT(128);
	len = gcs_encode(buf, 1 << 20, v, 1, 128, 0, 0, &used);
	ok(len == 0 && used == 0, "t=128 k=0, value 2^128-1: q = 2^128-1 "
	    "never fits, encode returns 0");
	len = gcs_encode(buf, GCS_HEADER + 17, v, 1, 128, 127, 0, &used);
	ok(len == GCS_HEADER + 17 && used == 1,
	    "t=128 k=127, value 2^128-1: 129 bits, 17 bytes");
	len = gcs_encode(buf, GCS_HEADER + 16, v, 1, 128, 127, 0, &used);
	ok(len == 0 && used == 0, "... and not in 16 bytes");

	v[0] = 1000;
	len = gcs_encode(buf, GCS_HEADER + 125, v, 1, 40, 0, 0, &used);
	ok(len == 0 && used == 0, "t=40 k=0, value 1000: 1001 bits do not "
	    "fit in 125 bytes");
	len = gcs_encode(buf, GCS_HEADER + 126, v, 1, 40, 0, 0, &used);
	b = 0;
	ok(len == GCS_HEADER + 126 && used == 1 &&
	    gcs_decode(buf, len, 40, &b, out, 1) == 1 && out[0] == 1000,
	    "... fit in 126 bytes and decode");

	v[0] = 1;
	v[1] = 5;
	v[2] = 1000;
	len = gcs_encode(buf, GCS_HEADER + 100, v, 3, 40, 0, 0, &used);
	b = 0;
	ok(used == 2 && gcs_decode(buf, len, 40, &b, out, 3) == 2 &&
	    out[0] == 1 && out[1] == 5 && b == 5,
	    "chunk ends before a value that does not fit");
	len = gcs_encode(buf, GCS_HEADER + 125, v + 2, 1, 40, 0, 5, &used);
	ok(used == 1 && gcs_decode(buf, len, 40, &b, out, 1) == 1 &&
	    out[0] == 1000, "... and the next chunk carries it");
	free(buf);
}

/* Run gcs_encode in a child; true if it dies with EXIT_PROTO. */
static int
encode_dies(const u128 *vals, size_t n, unsigned t, unsigned k, u128 base)
{
	uint8_t buf[256];
	size_t used;
	pid_t pid;
	int st;

	fflush(stdout);
	if ((pid = fork()) == -1)
		return 0;
	if (pid == 0) {
		/* Keep the expected message out of the test output. */
		if (freopen("/dev/null", "w", stderr) == NULL)
			_exit(99);
		gcs_encode(buf, sizeof(buf), vals, n, t, k, base, &used);
		_exit(0);
	}
	if (waitpid(pid, &st, 0) != pid)
		return 0;
	return WIFEXITED(st) && WEXITSTATUS(st) == EXIT_BUG;
}

/* The encoder's input is our own: a bad one is a bug and stops the run. */
static void
test_encode_misuse(void)
{
	u128 v[3] = { 10, 20, 30 };

	ok(!encode_dies(v, 3, 8, 2, 0), "valid input: encoder returns");
	v[1] = 5;
	ok(encode_dies(v, 3, 8, 2, 0), "unsorted values: encoder exits 7 (a bug)");
	v[1] = 20;
	ok(encode_dies(v, 3, 8, 2, 11), "value below base: encoder exits 7 (a bug)");
	v[2] = 256;
	ok(encode_dies(v, 3, 8, 2, 0), "value >= 2^t: encoder exits 7 (a bug)");
	v[2] = 30;
	ok(encode_dies(v, 3, 8, 8, 0), "k = t: encoder exits 7 (a bug)");
	ok(encode_dies(v, 3, 0, 0, 0), "t = 0: encoder exits 7 (a bug)");
	ok(encode_dies(v, 3, 129, 2, 0), "t = 129: encoder exits 7 (a bug)");
	ok(encode_dies(v, 3, 8, 2, 256), "base >= 2^t: encoder exits 7 (a bug)");
}

/* More values than one chunk may hold: the encoder stops at the limit. */
static void
test_max_count(void)
{
	size_t n = GCS_MAX_COUNT + 5, used, len;
	u128 *v = xcalloc(n, sizeof(*v)), b = 0;
	uint8_t *buf = xmalloc(n / 8 + 64);
	long got;

	len = gcs_encode(buf, n / 8 + 64, v, n, 8, 0, 0, &used);
	ok(used == GCS_MAX_COUNT && len == GCS_HEADER + GCS_MAX_COUNT / 8,
	    "encode stops at GCS_MAX_COUNT values");
	got = gcs_decode(buf, len, 8, &b, v, n);
	ok(got == (long)GCS_MAX_COUNT, "... and that chunk decodes");
	free(v);
	free(buf);
}

static void
set_count(uint8_t *c, uint32_t n)
{
	c[0] = n >> 24;
	c[1] = n >> 16;
	c[2] = n >> 8;
	c[3] = n;
}

static long
dec(const uint8_t *c, size_t len, unsigned t, u128 base, size_t max)
{
	static u128 out[4096];

	return gcs_decode(c, len, t, &base, out, max < 4096 ? max : 4096);
}

/* A chunk of hand-written bits: header, then the given bytes. */
static size_t
hand_chunk(uint8_t *c, uint32_t count, unsigned t, unsigned k, u128 base,
    const uint8_t *bits, size_t nbytes)
{
	int i;

	set_count(c, count);
	c[4] = t;
	c[5] = k;
	for (i = 0; i < 16; i++)
		c[6 + i] = (uint8_t)(base >> (8 * (15 - i)));
	memcpy(c + GCS_HEADER, bits, nbytes);
	return GCS_HEADER + nbytes;
}

static void
test_rejects(void)
{
	uint8_t c[512], m[512];
	u128 v[16], base = 500, b;
	size_t len, used, i, bad;
	unsigned bit;

	/* A valid chunk of 16 values, k = 9: each code >= 10 bits. */
	for (i = 0; i < 16; i++)
		v[i] = base + i * 1000 + (i * 7919) % 1000;
	len = gcs_encode(c, sizeof(c), v, 16, 24, 9, base, &used);
	ok(used == 16 && dec(c, len, 24, base, 16) == 16,
	    "reference chunk decodes (twin of the rejections below)");
	save_corpus("k9-t24", c, len);

	for (bit = 0, bad = 0; bit < 32; bit++) {
		memcpy(m, c, len);
		m[bit / 8] ^= 0x80 >> (bit % 8);
		if (dec(m, len, 24, base, 4096) != -1)
			bad++;
	}
	ok(bad == 0, "each of the 32 count bits flipped: rejected");

	ok(dec(c, len, 23, base, 16) == -1 && dec(c, len, 25, base, 16) == -1,
	    "wrong expected t: rejected");
	memcpy(m, c, len);
	m[4] = 0;
	ok(dec(m, len, 0, base, 16) == -1, "t = 0: rejected");
	m[4] = 129;
	ok(dec(m, len, 129, base, 16) == -1, "t = 129: rejected");
	memcpy(m, c, len);
	m[5] = 24;
	ok(dec(m, len, 24, base, 16) == -1, "k = t: rejected");
	m[5] = 255;
	ok(dec(m, len, 24, base, 16) == -1, "k = 255: rejected");

	b = base + 1;
	ok(gcs_decode(c, len, 24, &b, v, 16) == -1 && b == base + 1,
	    "base mismatch: rejected, base_inout untouched");
	ok(dec(c, len, 24, base - 1, 16) == -1, "base mismatch below: "
	    "rejected");

	for (i = 0, bad = 0; i < len; i++)
		if (dec(c, i, 24, base, 16) != -1)
			bad++;
	ok(bad == 0, "every truncation (0..%zu bytes): rejected", len - 1);
	ok(gcs_chunk_count(c, GCS_HEADER - 1) == -1,
	    "gcs_chunk_count of a short header: -1");
	/* A chunk of 2 payload bytes holds at most 16 one-bit codes. */
	memset(m, 0, sizeof(m));
	hand_chunk(m, 16, 24, 0, base, (const uint8_t *)"\0\0", 2);
	ok(gcs_chunk_count(m, GCS_HEADER + 2) == 16,
	    "gcs_chunk_count: 16 values in 2 payload bytes: 16");
	ok(dec(m, GCS_HEADER + 2, 24, base, 16) == 16,
	    "16 one-bit codes (k = 0, all zero gaps) decode");
	set_count(m, 17);
	ok(gcs_chunk_count(m, GCS_HEADER + 2) == -1,
	    "gcs_chunk_count: 17 values in 2 payload bytes: -1");
	set_count(m, GCS_MAX_COUNT);
	ok(gcs_chunk_count(m, GCS_HEADER) == -1,
	    "gcs_chunk_count: %u values and no payload: -1", GCS_MAX_COUNT);

	memcpy(m, c, len);
	m[len] = 0;
	ok(dec(m, len + 1, 24, base, 16) == -1, "trailing zero byte: "
	    "rejected");
	m[len] = 0xff;
	ok(dec(m, len + 1, 24, base, 16) == -1, "trailing 0xff byte: "
	    "rejected");

	/* Find the padding: the bits after the last code. */
	{
		size_t nbits = 0, pad, j;
		u128 prev = base;

		for (j = 0; j < 16; j++) {
			nbits += (size_t)((v[j] - prev) >> 9) + 1 + 9;
			prev = v[j];
		}
		pad = (len - GCS_HEADER) * 8 - nbits;
		for (j = 0, bad = 0; j < pad; j++) {
			memcpy(m, c, len);
			m[len - 1] ^= 1 << j;
			if (dec(m, len, 24, base, 16) != -1)
				bad++;
		}
		ok(pad > 0 && bad == 0, "each of %zu padding bits set: "
		    "rejected", pad);
	}

	/* Values up to 2^16 relabelled t = 12: some are >= 2^t. */
	len = gcs_encode(m, sizeof(m), v, 16, 16, 9, base, &used);
	m[4] = 12;
	ok(dec(m, len, 12, base, 16) == -1, "a value >= 2^t: rejected");
	m[4] = 16;
	ok(dec(m, len, 16, base, 16) == 16, "... the same chunk, t = 16: "
	    "accepted");

	{
		static const uint8_t ones[] = { 0xff, 0xff, 0xff };
		/* q = 15, k = 4, low = 1111: d = 255 < 2^8.  q = 16: too big. */
		static const uint8_t q15[] = { 0xff, 0xfe, 0xf0 };
		static const uint8_t q16[] = { 0xff, 0xff, 0x78 };
		/* t = 128, k = 127, q = 1, low = 0: d = 2^127. */
		static const uint8_t q1[] = { 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		    0, 0, 0, 0, 0, 0, 0 };
		/* q = 2 with k = 127: d >= 2^128. */
		static const uint8_t q2[] = { 0xc0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		    0, 0, 0, 0, 0, 0, 0 };
		/* A unary run of 4096 bits, still no stop bit. */
		static uint8_t run[513];
		u128 half = (u128)1 << 127;

		len = hand_chunk(m, 1, 8, 0, 0, ones, 1);
		ok(dec(m, len, 8, 0, 1) == -1, "unary run off the end "
		    "(1 byte): rejected");
		len = hand_chunk(m, 1, 64, 0, 0, ones, 3);
		ok(dec(m, len, 64, 0, 1) == -1, "unary run off the end "
		    "(3 bytes): rejected");
		memset(run, 0xff, sizeof(run) - 1);
		run[sizeof(run) - 1] = 0xfe;
		{
			uint8_t *big = xmalloc(GCS_HEADER + sizeof(run));

			len = hand_chunk(big, 1, 128, 0, 0, run,
			    sizeof(run) - 1);
			ok(dec(big, len, 128, 0, 1) == -1, "unary run of "
			    "4096 bits off the end: rejected");
			len = hand_chunk(big, 1, 128, 0, 0, run, sizeof(run));
			ok(dec(big, len, 128, 0, 1) == 1, "... twin: 4103 "
			    "ones and a stop bit: accepted");
			free(big);
		}
		len = hand_chunk(m, 1, 8, 4, 0, q15, 3);
		ok(dec(m, len, 8, 0, 1) == 1, "q = 15, k = 4, t = 8 "
		    "(d = 255): accepted");
		len = hand_chunk(m, 1, 8, 4, 0, q16, 3);
		ok(dec(m, len, 8, 0, 1) == -1, "q = 16, k = 4, t = 8 "
		    "(q << k overflows t bits): rejected");
		len = hand_chunk(m, 1, 128, 127, half - 1, q1, 17);
		ok(dec(m, len, 128, half - 1, 1) == 1, "t = 128: base "
		    "2^127-1 + 2^127 = 2^128-1: accepted");
		len = hand_chunk(m, 1, 128, 127, half, q1, 17);
		ok(dec(m, len, 128, half, 1) == -1, "t = 128: base 2^127 + "
		    "2^127 overflows: rejected");
		len = hand_chunk(m, 1, 128, 127, 0, q2, 17);
		ok(dec(m, len, 128, 0, 1) == -1, "t = 128, k = 127, q = 2: "
		    "rejected");
	}

	len = gcs_encode(c, sizeof(c), v, 16, 24, 9, base, &used);
	memcpy(m, c, len);
	set_count(m, 0);
	ok(dec(m, len, 24, base, 4096) == -1 && gcs_chunk_count(m, len) == -1,
	    "count 0: rejected");
	set_count(m, GCS_MAX_COUNT + 1);
	b = base;
	ok(gcs_decode(m, len, 24, &b, NULL, SIZE_MAX) == -1 &&
	    gcs_chunk_count(m, len) == -1, "count GCS_MAX_COUNT + 1: rejected");
	set_count(m, UINT32_MAX);
	ok(gcs_decode(m, len, 24, &b, NULL, SIZE_MAX) == -1,
	    "count 2^32-1: rejected");
	ok(dec(c, len, 24, base, 15) == -1, "max 15 < count 16: rejected");
	ok(dec(c, len, 24, base, 16) == 16, "max 16 = count: accepted");
}

/*
 * Random mutations of valid chunks: the decoder must reject them or give
 * values that are sorted, >= base, < 2^t and encode back to the same
 * bytes (the encoding is canonical).
 */
static void
test_mutations(void)
{
	enum { NCHUNK = 8, NMUT = 20000, CAP = 600 };
	static uint8_t chunks[NCHUNK][CAP], m[CAP + 16], re[CAP + 16];
	static size_t clen[NCHUNK];
	static unsigned ct[NCHUNK];
	static u128 cbase[NCHUNK], out[8 * CAP];
	static const unsigned ts[NCHUNK] = { 1, 8, 24, 40, 64, 65, 127, 128 };
	size_t used, len, i, j, nbad = 0, nacc = 0, nrej = 0;
	u128 *v, b, prev;
	long got;
	unsigned t, k;

	for (i = 0; i < NCHUNK; i++) {
		t = ts[i];
		v = sorted_random(40, t);
		cbase[i] = v[0] == 0 ? 0 : v[0] - 1;
		k = gcs_rice_param(t, 40);
		ct[i] = t;
		clen[i] = gcs_encode(chunks[i], CAP, v, 40, t, k, cbase[i],
		    &used);
		free(v);
	}
	for (i = 0; i < NMUT; i++) {
		j = rng64() % NCHUNK;
		len = clen[j];
		memcpy(m, chunks[j], len);
		switch (rng64() % 5) {
		case 0:		/* flip one bit */
			m[rng64() % len] ^= 1 << (rng64() % 8);
			break;
		case 1:		/* random byte, often in the header */
			m[rng64() % (rng64() % 2 ? GCS_HEADER : len)] =
			    (uint8_t)rng64();
			break;
		case 2:		/* truncate */
			len = rng64() % len;
			break;
		case 3:		/* append */
			m[len++] = (uint8_t)rng64();
			break;
		default:	/* several flips */
			for (t = 0; t < 8; t++)
				m[rng64() % len] ^= 1 << (rng64() % 8);
			break;
		}
		b = cbase[j];
		got = gcs_decode(m, len, ct[j], &b, out, 8 * CAP);
		if (got < 0) {
			nrej++;
			continue;
		}
		nacc++;
		t = ct[j];
		prev = cbase[j];
		for (k = 0; k < (unsigned)got; k++) {
			if (out[k] < prev || out[k] > MAXT(t))
				nbad++;
			prev = out[k];
		}
		if (b != prev || gcs_encode(re, sizeof(re), out, (size_t)got,
		    t, m[5], cbase[j], &used) != len || used != (size_t)got ||
		    memcmp(re, m, len) != 0)
			nbad++;
	}
	ok(nbad == 0, "%d mutations: %zu rejected, %zu accepted, all "
	    "accepted ones valid and canonical", NMUT, nrej, nacc);
}

/* Encode and decode 10^6 values: a figure, not a test. */
static void
speed(void)
{
	size_t n = 1000000, cap, len, used;
	unsigned t = gcs_trunc_bits(n, n), k = gcs_rice_param(t, n);
	u128 *v = sorted_random(n, t), *out = xcalloc(n, sizeof(*out)), b = 0;
	uint8_t *buf;
	double t0, t1, t2;
	long got;

	cap = GCS_HEADER + n * (size_t)(t + 2);
	buf = xmalloc(cap);
	t0 = now_seconds();
	len = gcs_encode(buf, cap, v, n, t, k, 0, &used);
	t1 = now_seconds();
	got = gcs_decode(buf, len, t, &b, out, n);
	t2 = now_seconds();
	ok(used == n && got == (long)n && memcmp(v, out, n * sizeof(*v)) == 0,
	    "10^6 values, t=%u k=%u, one chunk: round trip", t, k);
	diag("10^6 values: encode %.1f ms, decode %.1f ms, %.3f bits/value",
	    (t1 - t0) * 1e3, (t2 - t1) * 1e3, (double)len * 8 / (double)n);
	free(v);
	free(out);
	free(buf);
}

/* The per-chunk rule of the session (doc/PROTOCOL.md section 9). */
static void
test_rice_for_gap(void)
{
	ok(gcs_rice_for_gap(0x3a4e63aef58ULL, 44) == 41,
	    "rice_for_gap: the worked example's digest chunk gives k = 41");
	ok(gcs_rice_for_gap(0x749cc75deb0ULL, 44) == 42,
	    "rice_for_gap: the worked example's reveal chunk gives k = 42");
	ok(gcs_rice_for_gap(0x749cc75deb0ULL, 44) != 41,
	    "rice_for_gap: negative twin, a different gap gives another k");
	ok(gcs_rice_for_gap(0, 40) == 0 && gcs_rice_for_gap(1, 40) == 0,
	    "rice_for_gap: gaps 0 and 1 give k = 0");
	ok(gcs_rice_for_gap(~(u128)0, 40) == 39,
	    "rice_for_gap: capped at t - 1");
	ok(gcs_rice_for_gap((u128)1 << 100, 128) == 99,
	    "rice_for_gap: 2^100 gives 99 (0.96 * 2^100 < 2^100)");
}

/* gcs_read(): a chunk decoded a few values at a time gives what
 * gcs_decode() gives, and a malformed chunk fails in slices too. */
static void
test_slices(void)
{
	size_t n = 1000, cap, len, used, got = 0, i;
	unsigned t = 40, k = gcs_rice_param(40, 1000);
	u128 *v = sorted_random(n, t), out[7], *all;
	struct gcs_reader d;
	uint8_t *buf;
	long m;
	int same = 1;

	cap = GCS_HEADER + n * (size_t)(t + 2);
	buf = xmalloc(cap);
	len = gcs_encode(buf, cap, v, n, t, k, 0, &used);
	ok(gcs_read_start(&d, buf, len, t, 0) == (long)n,
	    "gcs_read_start: the chunk's count");
	while ((m = gcs_read(&d, out, 7)) > 0) {
		for (i = 0; i < (size_t)m; i++)
			same &= got + i < n && out[i] == v[got + i];
		got += (size_t)m;
	}
	ok(m == 0 && got == n && same && d.prev == v[n - 1],
	    "gcs_read: 1000 values 7 at a time, as encoded");
	all = xmalloc(n * sizeof(*all));
	buf[len - 1] ^= 1;	/* a padding or code bit */
	m = gcs_read_start(&d, buf, len, t, 0);
	while (m > 0)
		m = gcs_read(&d, out, 7);
	{
		u128 b = 0;
		ok(m < 0 && gcs_decode(buf, len, t, &b, all, n) < 0,
		    "negative: a flipped last bit fails in slices as whole");
	}
	free(all);
	free(buf);
	free(v);
}

int
main(void)
{
	corpus_dir = getenv("GCS_WRITE_CORPUS");
	rng_seed(0x6763732d74657374ULL);
	test_trunc_bits();
	test_truncate();
	test_rice_param();
	test_rice_for_gap();
	test_bits_per_value();
	test_round_trips();
	test_slices();
	test_chained(gcs_trunc_bits(1000000, 200000));
	test_chained(128);
	test_chained(24);
	test_huge_gaps();
	test_max_count();
	test_encode_misuse();
	test_rejects();
	test_mutations();
	speed();
	return done_testing();
}
