/*
 * gcs.c: Golomb-Rice coded sorted sets, the digest chunks of DESIGN
 * section 1.  The wire format is described in gcs.h.
 *
 * Encoding.  A sorted run of t-bit values is sent as gaps d = v - prev,
 * each as q = d >> k in unary (q one-bits, a zero-bit) followed by the k
 * low bits of d.  For n uniform values the gaps are close to geometric
 * with mean m = 2^t / n; gcs_rice_param() picks the k that is optimal for
 * a geometric source, which costs at most about log2(m) + 1.56 bits per
 * value, against the information bound of log2(m) + 1.44.
 *
 * A value's code is q + 1 + k bits long, and q is not bounded by the
 * format: a gap far above 2^k (a wrong k, or a first value far above
 * base) needs a long unary run.  gcs_encode() never writes a partial
 * value, so such a value simply does not fit and the chunk ends before
 * it; if it is the first value, gcs_encode() returns 0.  The promise in
 * gcs.h ("at least one value if out_cap >= GCS_HEADER + 35") therefore
 * holds when the first code is at most 280 bits, i.e. (d >> k) + 1 + k
 * <= 280.  With k from gcs_rice_param() and PRF outputs for values, a
 * longer code has a probability below 2^-200.
 *
 * Decoding.  Every byte comes from the peer.  The decoder checks the
 * header, bounds every unary run by the bits left (scanning 57 or more
 * bits at a time with a count-leading-zeros), rejects a q whose d would
 * not fit in t bits, any sum that overflows or reaches 2^t, non-zero
 * padding and trailing bytes.  A valid chunk has exactly one encoding,
 * so decode followed by encode gives back the same bytes (the fuzz target
 * relies on that).
 */
#include <stdint.h>
#include <string.h>

#include "gcs.h"
#include "util.h"

/* Bits moved per bit-writer or bit-reader step; leaves room for 7 more. */
#define STEP	56

/* ceil(log2(x)) for x >= 1; 0 for x = 1. */
static unsigned
ceil_log2_u128(u128 x)
{
	uint64_t hi;
	unsigned n;

	if (x <= 1)
		return 0;
	x--;
	hi = (uint64_t)(x >> 64);
	if (hi != 0)
		n = 128 - __builtin_clzll(hi);
	else
		n = 64 - __builtin_clzll((uint64_t)x);
	return n;
}

unsigned
gcs_trunc_bits(uint64_t nq, uint64_t nh)
{
	unsigned t;

	if (nq == 0)
		nq = 1;
	if (nh == 0)
		nh = 1;
	/* The product of two 64-bit counts always fits in 128 bits. */
	t = ceil_log2_u128((u128)nq * nh) + 40;
	return t > 128 ? 128 : t;
}

u128
gcs_truncate(const uint8_t prf_out[64], unsigned t)
{
	u128 v = 0;
	int i;

	if (t < 1 || t > 128)
		bug("gcs_truncate: t = %u", t);
	for (i = 0; i < 16; i++)
		v = (v << 8) | prf_out[i];
	return t == 128 ? v : v >> (128 - t);
}

/*
 * The optimal Rice parameter for a geometric source with success
 * probability p is k = max(0, 1 + floor(log2(ln(phi - 1) / ln(1 - p))))
 * (Gallager and van Voorhis; Kiely 2004).  With p = n / 2^t small that is
 * the largest k with 2^k <= c * 2^t / n, c = -2 ln(phi - 1) = 0.96242.
 * Computed in integers as t - j for the smallest j with
 * 2^j * 63073 >= n * 65536 (63073 / 65536 = 0.96242), so no libm and no
 * rounding differences between machines.
 */
unsigned
gcs_rice_param(unsigned t, uint64_t n)
{
	u128 need;
	unsigned j;

	if (t <= 1)
		return 0;
	if (n == 0)
		n = 1;
	need = (u128)n * 65536;
	/* need < 2^80, so the loop ends long before the shift wraps. */
	for (j = 1; j < t && ((u128)63073 << j) < need; j++)
		;
	return t - j;
}

/* Big-endian bit writer.  acc holds nacc (< 8) pending bits at the bottom. */
struct bitw {
	uint8_t		*p;
	uint64_t	 acc;
	unsigned	 nacc;
};

/* Append the nb (<= STEP) low bits of v, most significant first. */
static inline void
put_bits(struct bitw *w, uint64_t v, unsigned nb)
{
	w->acc = (w->acc << nb) | v;
	w->nacc += nb;
	while (w->nacc >= 8) {
		w->nacc -= 8;
		*w->p++ = (uint8_t)(w->acc >> w->nacc);
	}
}

static inline uint64_t
low_mask(unsigned nb)
{
	return nb >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << nb) - 1;
}

/* One value's code: q one-bits, a zero-bit, the k low bits of d. */
static void
put_value(struct bitw *w, uint64_t q, u128 d, unsigned k)
{
	unsigned c, rem;

	for (; q >= STEP; q -= STEP)
		put_bits(w, low_mask(STEP), STEP);
	put_bits(w, low_mask(q) << 1, q + 1);
	for (rem = k; rem > 0; ) {
		c = rem > STEP ? STEP : rem;
		rem -= c;
		put_bits(w, (uint64_t)(d >> rem) & low_mask(c), c);
	}
}

static void
put_header(uint8_t *out, uint32_t count, unsigned t, unsigned k, u128 base)
{
	int i;

	out[0] = count >> 24;
	out[1] = count >> 16;
	out[2] = count >> 8;
	out[3] = count;
	out[4] = t;
	out[5] = k;
	for (i = 0; i < 16; i++)
		out[6 + i] = (uint8_t)(base >> (8 * (15 - i)));
}

/*
 * Our own values, so a bad argument is a bug in the caller: fail loudly
 * rather than put a chunk on the wire that the peer must reject.
 */
size_t
gcs_encode(uint8_t *out, size_t out_cap, const u128 *vals, size_t n,
    unsigned t, unsigned k, u128 base, size_t *used)
{
	struct bitw w;
	uint64_t avail, bits, q;
	u128 prev, d, lim;
	size_t i;

	if (t < 1 || t > 128 || k >= t)
		bug("gcs_encode: t %u, k %u", t, k);
	lim = t == 128 ? ~(u128)0 : ((u128)1 << t) - 1;	/* largest value */
	if (base > lim)
		bug("gcs_encode: base >= 2^t");
	*used = 0;
	if (n == 0 || out_cap <= GCS_HEADER)
		return 0;
	avail = out_cap - GCS_HEADER;
	avail = avail > UINT64_MAX / 8 ? UINT64_MAX : avail * 8;
	if (n > GCS_MAX_COUNT)
		n = GCS_MAX_COUNT;

	w.p = out + GCS_HEADER;
	w.acc = 0;
	w.nacc = 0;
	bits = 0;
	prev = base;
	for (i = 0; i < n; i++) {
		if (vals[i] < prev || vals[i] > lim)
			bug("gcs_encode: value "
			    "%zu unsorted or >= 2^t", i);
		d = vals[i] - prev;
		/* Does q + 1 + k fit?  Test q first: q + 1 may wrap. */
		if ((d >> k) >= avail - bits)
			break;
		q = (uint64_t)(d >> k);
		if (k + 1 > avail - bits - q)
			break;
		put_value(&w, q, d, k);
		bits += q + 1 + k;
		prev = vals[i];
	}
	if (i == 0)
		return 0;
	if (w.nacc > 0)
		*w.p++ = (uint8_t)(w.acc << (8 - w.nacc));
	put_header(out, (uint32_t)i, t, k, base);
	*used = i;
	return (size_t)(w.p - out);
}

long
gcs_chunk_count(const uint8_t *in, size_t len)
{
	uint32_t count;

	if (len < GCS_HEADER)
		return -1;
	count = (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 |
	    (uint32_t)in[2] << 8 | in[3];
	/* A caller sizes a buffer from this: never hand it a hostile count.
	 * Every code takes at least one bit (its unary stop bit), so a chunk
	 * of len bytes holds at most 8 * (len - GCS_HEADER) values. */
	if (count < 1 || count > GCS_MAX_COUNT ||
	    count > 8 * (uint64_t)(len - GCS_HEADER))
		return -1;
	return count;
}

/* struct gcs_bitr (gcs.h): a big-endian bit reader over buf[0..len-1];
 * bits past the end read as 0. */

/*
 * The 64 bits starting at bit pos, left-aligned.  The top 64 - (pos & 7)
 * of them are stream bits (or zeros past the end); the rest are zeros.
 */
static inline uint64_t
peek64(const struct gcs_bitr *r)
{
	size_t i = r->pos >> 3, j;
	uint64_t w = 0;

	if (i + 8 <= r->len) {
		memcpy(&w, r->buf + i, 8);
		w = __builtin_bswap64(w);
	} else {
		for (j = 0; j < 8; j++)
			w = (w << 8) | (i + j < r->len ? r->buf[i + j] : 0);
	}
	return w << (r->pos & 7);
}

/*
 * A unary run and its stop bit.  Fails if the run is longer than maxq
 * or if the stop bit is not inside the stream.
 */
static int
get_unary(struct gcs_bitr *r, uint64_t maxq, uint64_t *qp)
{
	uint64_t w, inv, q = 0;
	unsigned ones, valid;

	for (;;) {
		w = peek64(r);
		valid = 64 - (unsigned)(r->pos & 7);
		inv = ~w;
		ones = inv == 0 ? 64 : (unsigned)__builtin_clzll(inv);
		if (ones < valid)
			break;
		/* All valid bits are ones, hence real: bits past the end are 0. */
		q += valid;
		r->pos += valid;
		if (q > maxq)
			return -1;
	}
	q += ones;
	if (q > maxq || ones + 1 > r->nbits - r->pos)
		return -1;
	r->pos += ones + 1;
	*qp = q;
	return 0;
}

/* The next k (<= 127) bits, most significant first. */
static int
get_low(struct gcs_bitr *r, unsigned k, u128 *out)
{
	u128 v = 0;
	unsigned c;

	if (k > r->nbits - r->pos)
		return -1;
	while (k > 0) {
		c = k > STEP ? STEP : k;
		v = (v << c) | (peek64(r) >> (64 - c));
		r->pos += c;
		k -= c;
	}
	*out = v;
	return 0;
}

long
gcs_read_start(struct gcs_reader *d, const uint8_t *in, size_t len,
    unsigned expect_t, u128 base_expected)
{
	long count;
	unsigned t, k;
	u128 base;
	int j;

	if ((count = gcs_chunk_count(in, len)) < 0)
		return -1;
	t = in[4];
	k = in[5];
	if (t < 1 || t > 128 || t != expect_t || k >= t)
		return -1;
	base = 0;
	for (j = 0; j < 16; j++)
		base = (base << 8) | in[6 + j];
	if (base != base_expected)
		return -1;
	d->lim = t == 128 ? ~(u128)0 : ((u128)1 << t) - 1;
	if (base > d->lim)
		return -1;
	d->r.buf = in + GCS_HEADER;
	d->r.len = len - GCS_HEADER;
	if (d->r.len > UINT64_MAX / 8)
		return -1;
	d->r.nbits = (uint64_t)d->r.len * 8;
	d->r.pos = 0;
	/* Every value takes at least k + 1 bits. */
	if ((uint64_t)count * (k + 1) > d->r.nbits)
		return -1;
	/* d = q << k | low < 2^t requires q < 2^(t - k). */
	d->maxq = t - k >= 64 ? UINT64_MAX : ((uint64_t)1 << (t - k)) - 1;
	d->k = k;
	d->prev = base;
	d->left = (size_t)count;
	return count;
}

long
gcs_read(struct gcs_reader *d, u128 *vals, size_t max)
{
	struct gcs_bitr *r = &d->r;
	uint64_t q;
	u128 low, v;
	size_t i, end;

	for (i = 0; i < max && d->left > 0; i++, d->left--) {
		if (get_unary(r, d->maxq, &q) < 0 || get_low(r, d->k, &low) < 0)
			return -1;
		v = d->prev + (((u128)q << d->k) | low);
		if (v < d->prev || v > d->lim)
			return -1;
		vals[i] = v;
		d->prev = v;
	}
	if (d->left == 0) {
		/* The last value: zero padding to the byte, then nothing. */
		end = (size_t)((r->pos + 7) >> 3);
		if (end != r->len)
			return -1;
		if ((r->pos & 7) != 0 &&
		    (r->buf[end - 1] & (0xff >> (r->pos & 7))) != 0)
			return -1;
	}
	return (long)i;
}

long
gcs_decode(const uint8_t *in, size_t len, unsigned expect_t,
    u128 *base_inout, u128 *vals, size_t max)
{
	struct gcs_reader d;
	long count;

	if ((count = gcs_read_start(&d, in, len, expect_t, *base_inout)) < 0 ||
	    (size_t)count > max || gcs_read(&d, vals, max) != count)
		return -1;
	*base_inout = d.prev;
	return count;
}

unsigned
gcs_rice_for_gap(u128 m, unsigned t)
{
	unsigned k = 0;

	m -= m * 77 >> 11;		/* 77/2048 = 0.0376 */
	while (k < 127 && (m >> (k + 1)) != 0)
		k++;
	return t == 0 ? 0 : (k < t ? k : t - 1);
}
