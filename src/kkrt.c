/*
 * kkrt.c: the KKRT16 OPRF (Kolesnikov, Kumaresan, Rosulek, Trieu 2016),
 * semi-honest, k = 512, one OT-extension session over 512 base OTs.
 *
 * Notation (rows and columns are bit strings, bit i of a string is bit
 * i % 8 of byte i / 8):
 *   - base OTs: querier = OT sender with key pairs (k_c^0, k_c^1),
 *     holder = OT receiver with choice bits s (c < 512);
 *   - column c of T0 (T1) for bucket b = prg_stream(k_c^0 (k_c^1), b),
 *     bit j = bin j; row j of T0 is t0_j, of T1 is t1_j (512 bits each);
 *   - code word C(f) = BLAKE2b-512("psi-stream kkrt code v1" || seed ||
 *     f) for a 16-byte fingerprint f and a 32-byte code seed both parties
 *     know; C = 0 for an empty bin;
 *   - the querier sends u_j = t0_j ^ t1_j ^ C(x_j) for every bin j
 *     (empty bins: t0_j ^ t1_j, a fresh pseudorandom row);
 *   - the holder has column c of T_{s_c}, transposes it into rows t_j and
 *     sets q_j = t_j ^ (u_j & s) = t0_j ^ (C(x_j) & s);
 *   - F(b, j, i, y) = H(b, j, i, q_j ^ (C(y) & s)), and the querier's
 *     output for the x_j it placed with hash index i is H(b, j, i, t0_j):
 *     equal when y = x_j, unrelated otherwise;
 *   - H(b, j, i, r) = BLAKE2b-128("psi-stream kkrt out v1" || LE64(b) ||
 *     LE32(j) || i || r): 99 bytes, one compression.  The hash index is
 *     inside H, so a key whose hash functions hit one bin twice needs no
 *     special case on either side.
 *
 * Block calls work on superblocks of at most KKRT_SB = 4096 bins: the PRG
 * is asked for 512 bytes per column per call (its efficient size, see
 * prg.c), the columns are transposed (transpose.c) and each row is used
 * at once.  The PRG stream of bucket b is read from block off / 512, so
 * no state carries from one superblock or bucket to the next.
 *
 * Memory: the key structures (64 KiB for the querier's pairs) live in
 * sodium_malloc memory and are wiped when freed; a kkrt_scratch is 1 MiB
 * of ordinary memory (two 512 x 4096-bit column matrices and two row
 * matrices), wiped when freed.  Callers own corr, q and out; q rows with s
 * are the holder's PRF key for the bucket and should be wiped after use.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "kkrt.h"
#include "prg.h"
#include "transpose.h"
#include "util.h"

#define CODE_DOMAIN	"psi-stream kkrt code v1"
#define OUT_DOMAIN	"psi-stream kkrt out v1"
#define COLBYTES	(KKRT_SB / 8)
#define MATRIX		(KKRT_K * COLBYTES)	/* = KKRT_SB * KKRT_ROW */

struct kkrt_querier {
	uint8_t	keys0[KKRT_K][KKRT_SEED];
	uint8_t	keys1[KKRT_K][KKRT_SEED];
	uint8_t	seed[KKRT_SEED];
};

struct kkrt_holder {
	uint8_t	keys[KKRT_K][KKRT_SEED];
	uint8_t	s[KKRT_ROW];
	uint8_t	seed[KKRT_SEED];
};

struct kkrt_scratch {
	uint8_t	*cols0, *cols1;		/* column c at c * COLBYTES */
	uint8_t	*rows0, *rows1;		/* row j at j * KKRT_ROW */
};

struct kkrt_querier *
kkrt_querier_new(const uint8_t *keys0, const uint8_t *keys1,
    const uint8_t code_seed[KKRT_SEED])
{
	struct kkrt_querier *q = xsodium_malloc(sizeof(*q));

	memcpy(q->keys0, keys0, sizeof(q->keys0));
	memcpy(q->keys1, keys1, sizeof(q->keys1));
	memcpy(q->seed, code_seed, KKRT_SEED);
	return q;
}

void
kkrt_querier_free(struct kkrt_querier *q)
{
	if (q != NULL)
		sodium_free(q);
}

struct kkrt_holder *
kkrt_holder_new(const uint8_t s[KKRT_ROW], const uint8_t *keys,
    const uint8_t code_seed[KKRT_SEED])
{
	struct kkrt_holder *h = xsodium_malloc(sizeof(*h));

	memcpy(h->keys, keys, sizeof(h->keys));
	memcpy(h->s, s, KKRT_ROW);
	memcpy(h->seed, code_seed, KKRT_SEED);
	return h;
}

void
kkrt_holder_free(struct kkrt_holder *h)
{
	if (h != NULL)
		sodium_free(h);
}

struct kkrt_scratch *
kkrt_scratch_new(void)
{
	struct kkrt_scratch *w = xmalloc(sizeof(*w));

	w->cols0 = xmalloc(MATRIX);
	w->cols1 = xmalloc(MATRIX);
	w->rows0 = xmalloc(MATRIX);
	w->rows1 = xmalloc(MATRIX);
	return w;
}

void
kkrt_scratch_free(struct kkrt_scratch *w)
{
	if (w == NULL)
		return;
	sodium_memzero(w->cols0, MATRIX);
	sodium_memzero(w->cols1, MATRIX);
	sodium_memzero(w->rows0, MATRIX);
	sodium_memzero(w->rows1, MATRIX);
	free(w->cols0);
	free(w->cols1);
	free(w->rows0);
	free(w->rows1);
	free(w);
}

static void
put_le(uint8_t *p, uint64_t v, int bytes)
{
	int i;

	for (i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void
kkrt_code(const uint8_t code_seed[KKRT_SEED], const uint8_t fp[KKRT_FP],
    uint8_t code[KKRT_ROW])
{
	uint8_t in[sizeof(CODE_DOMAIN) - 1 + KKRT_SEED + KKRT_FP];

	memcpy(in, CODE_DOMAIN, sizeof(CODE_DOMAIN) - 1);
	memcpy(in + sizeof(CODE_DOMAIN) - 1, code_seed, KKRT_SEED);
	memcpy(in + sizeof(CODE_DOMAIN) - 1 + KKRT_SEED, fp, KKRT_FP);
	crypto_generichash(code, KKRT_ROW, in, sizeof(in), NULL, 0);
	sodium_memzero(in, sizeof(in));
}

void
kkrt_out_hash(uint64_t bucket, uint32_t bin, unsigned hidx,
    const uint8_t row[KKRT_ROW], uint8_t out[KKRT_OUT])
{
	enum { D = sizeof(OUT_DOMAIN) - 1 };
	uint8_t in[D + 8 + 4 + 1 + KKRT_ROW];

	memcpy(in, OUT_DOMAIN, D);
	put_le(in + D, bucket, 8);
	put_le(in + D + 8, bin, 4);
	in[D + 12] = (uint8_t)hidx;
	memcpy(in + D + 13, row, KKRT_ROW);
	crypto_generichash(out, KKRT_OUT, in, sizeof(in), NULL, 0);
	sodium_memzero(in, sizeof(in));
}

/* Columns of bins [off, off + np) for 512 keys, then their rows. */
static void
expand(uint8_t *cols, const uint8_t (*keys)[KKRT_SEED], uint64_t bucket,
    uint64_t off, size_t np)
{
	size_t c;

	for (c = 0; c < KKRT_K; c++)
		prg_stream(cols + c * COLBYTES, np / 8, keys[c], bucket,
		    off / (8 * PRG_BLOCK));
}

static size_t
check_block(uint64_t off, size_t n)
{
	if (off % KKRT_ALIGN != 0 || n == 0 || n > KKRT_SB)
		abort();	/* a caller's bug, not bad input */
	return (n + TRANSPOSE_UNIT - 1) / TRANSPOSE_UNIT * TRANSPOSE_UNIT;
}

void
kkrt_querier_block(const struct kkrt_querier *q, struct kkrt_scratch *w,
    uint64_t bucket, uint64_t off, size_t n, const uint8_t *fp,
    const uint8_t *hidx, uint8_t *corr, uint8_t *out)
{
	size_t np = check_block(off, n), i, k;
	uint8_t code[KKRT_ROW], *u, *d;

	expand(w->cols0, q->keys0, bucket, off, np);
	expand(w->cols1, q->keys1, bucket, off, np);
	for (i = 0; i < KKRT_K * COLBYTES; i++)
		w->cols1[i] ^= w->cols0[i];
	transpose_512(w->rows0, w->cols0, COLBYTES, np);
	transpose_512(w->rows1, w->cols1, COLBYTES, np);	/* t0 ^ t1 */
	for (i = 0; i < n; i++) {
		u = corr + i * KKRT_ROW;
		d = w->rows1 + i * KKRT_ROW;
		if (hidx[i] == KKRT_EMPTY) {
			memcpy(u, d, KKRT_ROW);
			memset(out + i * KKRT_OUT, 0, KKRT_OUT);
			continue;
		}
		kkrt_code(q->seed, fp + i * KKRT_FP, code);
		for (k = 0; k < KKRT_ROW; k++)
			u[k] = d[k] ^ code[k];
		kkrt_out_hash(bucket, (uint32_t)(off + i), hidx[i],
		    w->rows0 + i * KKRT_ROW, out + i * KKRT_OUT);
	}
	sodium_memzero(code, sizeof(code));
}

void
kkrt_holder_block(const struct kkrt_holder *h, struct kkrt_scratch *w,
    uint64_t bucket, uint64_t off, size_t n, const uint8_t *corr,
    uint8_t *q)
{
	size_t np = check_block(off, n), i, k;
	const uint8_t *t, *u;

	expand(w->cols0, h->keys, bucket, off, np);
	transpose_512(w->rows0, w->cols0, COLBYTES, np);
	for (i = 0; i < n; i++) {
		t = w->rows0 + i * KKRT_ROW;
		u = corr + i * KKRT_ROW;
		for (k = 0; k < KKRT_ROW; k++)
			q[i * KKRT_ROW + k] = t[k] ^ (u[k] & h->s[k]);
	}
}

void
kkrt_holder_eval(const struct kkrt_holder *h, uint64_t bucket, uint32_t bin,
    unsigned hidx, const uint8_t q[KKRT_ROW], const uint8_t code[KKRT_ROW],
    uint8_t out[KKRT_OUT])
{
	uint8_t r[KKRT_ROW];
	size_t k;

	for (k = 0; k < KKRT_ROW; k++)
		r[k] = q[k] ^ (code[k] & h->s[k]);
	kkrt_out_hash(bucket, bin, hidx, r, out);
	sodium_memzero(r, sizeof(r));
}
