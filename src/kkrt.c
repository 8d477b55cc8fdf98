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
 * is asked for the 512 columns of 512 bytes in one call (prg_streams:
 * the AVX-512 path runs 16 blocks, two columns, a step; see prg.c), the
 * columns are transposed (transpose.c) and each row is used
 * at once.  The PRG stream of bucket b is read from block off / 512, so
 * no state carries from one superblock or bucket to the next.
 *
 * Every C and H message fits one BLAKE2b block, so they are hashed many
 * at a time (blake2bx.c, SIMD lanes, the same bytes as libsodium): the
 * querier QCH = 128 bins per call, code words then outputs; the holder
 * (kkrt_holder_eval_keys) HCH = 32 keys per call, each key's code word
 * once, then its nh outputs.  kkrt_code, kkrt_out_hash and
 * kkrt_holder_eval are the one-at-a-time forms of the same functions.
 *
 * Memory: the key structures (64 KiB for the querier's pairs) live in
 * sodium_malloc memory and are wiped when freed (one layout for both
 * roles, struct kkrt_keys); a kkrt_scratch is 1 MiB of ordinary memory
 * (two 512 x 4096-bit column matrices and two row matrices) and 26 KiB
 * of hash slots, wiped when freed; kkrt_holder_eval_keys uses 18 KiB of
 * stack, wiped before it returns.  Callers own corr, q and out; q rows
 * with s are the holder's PRF key for the bucket and should be wiped
 * after use.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "blake2bx.h"
#include "bytes.h"
#include "kkrt.h"
#include "prg.h"
#include "transpose.h"
#include "util.h"

#define CODE_DOMAIN	"psi-stream kkrt code v1"
#define OUT_DOMAIN	"psi-stream kkrt out v1"
#define COLBYTES	(KKRT_SB / 8)
#define MATRIX		(KKRT_K * COLBYTES)	/* = KKRT_SB * KKRT_ROW */
#define QCH		128	/* querier bins per blake2bx call */
#define HCH		32	/* holder keys per blake2bx call */

enum {
	CODE_D = sizeof(CODE_DOMAIN) - 1,
	CODE_LEN = CODE_D + KKRT_SEED + KKRT_FP,	/* 71 */
	OUT_D = sizeof(OUT_DOMAIN) - 1,
	OUT_HEAD = OUT_D + 8 + 4 + 1,
	OUT_LEN = OUT_HEAD + KKRT_ROW,			/* 99 */
};

/*
 * The base-OT keys of either role: the querier has both keys of every
 * pair; the holder the chosen key of every pair in keys[0] and the
 * choice bits s.  Unused parts are zero.
 */
struct kkrt_keys {
	uint8_t	keys[2][KKRT_K][KKRT_SEED];
	uint8_t	s[KKRT_ROW];
	uint8_t	seed[KKRT_SEED];
};

struct kkrt_querier {
	struct kkrt_keys k;
};

struct kkrt_holder {
	struct kkrt_keys k;
};

enum { COLS0, COLS1, ROWS0, ROWS1, NMAT };

struct kkrt_scratch {
	uint8_t	*m[NMAT];	/* column c at c * COLBYTES, row j at j * 64 */
	uint8_t	 slot[QCH * B2X_BLOCK];	/* hash messages */
	uint8_t	 len[QCH];
	uint8_t	 code[QCH * KKRT_ROW];
	uint8_t	 out[QCH * KKRT_OUT];
	size_t	 bin[QCH];		/* occupied bins of a chunk */
};

static struct kkrt_keys *
keys_new(const uint8_t *keys0, const uint8_t *keys1, const uint8_t *s,
    const uint8_t code_seed[KKRT_SEED])
{
	struct kkrt_keys *k = xsodium_malloc(sizeof(*k));

	sodium_memzero(k, sizeof(*k));
	memcpy(k->keys[0], keys0, sizeof(k->keys[0]));
	if (keys1 != NULL)
		memcpy(k->keys[1], keys1, sizeof(k->keys[1]));
	if (s != NULL)
		memcpy(k->s, s, KKRT_ROW);
	memcpy(k->seed, code_seed, KKRT_SEED);
	return k;
}

static void
keys_free(struct kkrt_keys *k)
{
	if (k != NULL)
		sodium_free(k);	/* wipes */
}

struct kkrt_querier *
kkrt_querier_new(const uint8_t *keys0, const uint8_t *keys1,
    const uint8_t code_seed[KKRT_SEED])
{
	return (struct kkrt_querier *)keys_new(keys0, keys1, NULL, code_seed);
}

struct kkrt_holder *
kkrt_holder_new(const uint8_t s[KKRT_ROW], const uint8_t *keys,
    const uint8_t code_seed[KKRT_SEED])
{
	return (struct kkrt_holder *)keys_new(keys, NULL, s, code_seed);
}

void
kkrt_querier_free(struct kkrt_querier *q)
{
	keys_free(q != NULL ? &q->k : NULL);
}

void
kkrt_holder_free(struct kkrt_holder *h)
{
	keys_free(h != NULL ? &h->k : NULL);
}

struct kkrt_scratch *
kkrt_scratch_new(void)
{
	struct kkrt_scratch *w = xmalloc(sizeof(*w));
	int i;

	for (i = 0; i < NMAT; i++)
		w->m[i] = xmalloc(MATRIX);
	return w;
}

void
kkrt_scratch_free(struct kkrt_scratch *w)
{
	int i;

	if (w == NULL)
		return;
	for (i = 0; i < NMAT; i++) {
		sodium_memzero(w->m[i], MATRIX);
		free(w->m[i]);
	}
	sodium_memzero(w, sizeof(*w));
	free(w);
}

/* C's message for fp in a hash slot; returns its length. */
static uint8_t
code_slot(uint8_t *slot, const uint8_t seed[KKRT_SEED],
    const uint8_t fp[KKRT_FP])
{
	memcpy(slot, CODE_DOMAIN, CODE_D);
	memcpy(slot + CODE_D, seed, KKRT_SEED);
	memcpy(slot + CODE_D + KKRT_SEED, fp, KKRT_FP);
	return CODE_LEN;
}

/* The head of H's message in a slot; the row goes where it points
 * (the message is OUT_LEN bytes). */
static uint8_t *
out_slot(uint8_t *slot, uint64_t bucket, uint32_t bin, unsigned hidx)
{
	memcpy(slot, OUT_DOMAIN, OUT_D);
	store_le64(slot + OUT_D, bucket);
	put_le32(slot + OUT_D + 8, bin);
	slot[OUT_D + 12] = (uint8_t)hidx;
	return slot + OUT_HEAD;
}

/* r = a ^ (b & s), 64 bytes, a word at a time (r may be a or b). */
static void
mask_row(uint8_t *r, const uint8_t *a, const uint8_t *b, const uint8_t *s)
{
	uint64_t x;
	size_t k;

	for (k = 0; k < KKRT_ROW; k += 8) {
		x = load_host64(a + k) ^ (load_host64(b + k) &
		    load_host64(s + k));
		memcpy(r + k, &x, 8);
	}
}

/* r = a ^ b, n bytes (a multiple of 8), a word at a time (r may be a). */
static void
xor_bytes(uint8_t *r, const uint8_t *a, const uint8_t *b, size_t n)
{
	uint64_t x;
	size_t k;

	for (k = 0; k < n; k += 8) {
		x = load_host64(a + k) ^ load_host64(b + k);
		memcpy(r + k, &x, 8);
	}
}

void
kkrt_code(const uint8_t code_seed[KKRT_SEED], const uint8_t fp[KKRT_FP],
    uint8_t code[KKRT_ROW])
{
	uint8_t slot[B2X_BLOCK], len = code_slot(slot, code_seed, fp);

	blake2bx(code, KKRT_ROW, slot, &len, 1);
	sodium_memzero(slot, sizeof(slot));
}

void
kkrt_out_hash(uint64_t bucket, uint32_t bin, unsigned hidx,
    const uint8_t row[KKRT_ROW], uint8_t out[KKRT_OUT])
{
	uint8_t slot[B2X_BLOCK], len = OUT_LEN;

	memcpy(out_slot(slot, bucket, bin, hidx), row, KKRT_ROW);
	blake2bx(out, KKRT_OUT, slot, &len, 1);
	sodium_memzero(slot, sizeof(slot));
}

/* Columns of bins [off, off + np) for 512 keys, then their rows. */
static void
expand(uint8_t *cols, const uint8_t (*keys)[KKRT_SEED], uint64_t bucket,
    uint64_t off, size_t np)
{
	prg_streams(cols, COLBYTES, np / 8, keys, KKRT_K, bucket,
	    off / (8 * PRG_BLOCK));
}

static size_t
check_block(uint64_t off, size_t n)
{
	if (off % KKRT_ALIGN != 0 || n == 0 || n > KKRT_SB)
		abort();	/* a caller's bug, not bad input */
	return (n + TRANSPOSE_UNIT - 1) / TRANSPOSE_UNIT * TRANSPOSE_UNIT;
}

/* Bins [i0, i0 + m) of a block (m <= QCH): corrections and outputs. */
static void
querier_chunk(const struct kkrt_querier *q, struct kkrt_scratch *w,
    uint64_t bucket, uint64_t off, size_t i0, size_t m, const uint8_t *fp,
    const uint8_t *hidx, uint8_t *corr, uint8_t *out)
{
	size_t i, j, nk = 0;

	for (i = i0; i < i0 + m; i++) {
		if (hidx[i] == KKRT_EMPTY) {
			memcpy(corr + i * KKRT_ROW, w->m[ROWS1] + i * KKRT_ROW,
			    KKRT_ROW);
			memset(out + i * KKRT_OUT, 0, KKRT_OUT);
			continue;
		}
		w->len[nk] = code_slot(w->slot + nk * B2X_BLOCK, q->k.seed,
		    fp + i * KKRT_FP);
		w->bin[nk++] = i;
	}
	blake2bx(w->code, KKRT_ROW, w->slot, w->len, nk);
	for (j = 0; j < nk; j++) {
		i = w->bin[j];
		xor_bytes(corr + i * KKRT_ROW, w->m[ROWS1] + i * KKRT_ROW,
		    w->code + j * KKRT_ROW, KKRT_ROW);
		memcpy(out_slot(w->slot + j * B2X_BLOCK, bucket,
		    (uint32_t)(off + i), hidx[i]), w->m[ROWS0] + i * KKRT_ROW,
		    KKRT_ROW);
		w->len[j] = OUT_LEN;
	}
	blake2bx(w->out, KKRT_OUT, w->slot, w->len, nk);
	for (j = 0; j < nk; j++)
		memcpy(out + w->bin[j] * KKRT_OUT, w->out + j * KKRT_OUT,
		    KKRT_OUT);
}

void
kkrt_querier_block(const struct kkrt_querier *q, struct kkrt_scratch *w,
    uint64_t bucket, uint64_t off, size_t n, const uint8_t *fp,
    const uint8_t *hidx, uint8_t *corr, uint8_t *out)
{
	size_t np = check_block(off, n), i;

	expand(w->m[COLS0], q->k.keys[0], bucket, off, np);
	expand(w->m[COLS1], q->k.keys[1], bucket, off, np);
	xor_bytes(w->m[COLS1], w->m[COLS1], w->m[COLS0], MATRIX);
	transpose_512(w->m[ROWS0], w->m[COLS0], COLBYTES, np);
	transpose_512(w->m[ROWS1], w->m[COLS1], COLBYTES, np);	/* t0 ^ t1 */
	for (i = 0; i < n; i += QCH)
		querier_chunk(q, w, bucket, off, i, n - i < QCH ? n - i : QCH,
		    fp, hidx, corr, out);
}

void
kkrt_holder_block(const struct kkrt_holder *h, struct kkrt_scratch *w,
    uint64_t bucket, uint64_t off, size_t n, const uint8_t *corr,
    uint8_t *q)
{
	size_t np = check_block(off, n), i;

	expand(w->m[COLS0], h->k.keys[0], bucket, off, np);
	transpose_512(w->m[ROWS0], w->m[COLS0], COLBYTES, np);
	for (i = 0; i < n; i++)
		mask_row(q + i * KKRT_ROW, w->m[ROWS0] + i * KKRT_ROW,
		    corr + i * KKRT_ROW, h->k.s);
}

void
kkrt_holder_eval(const struct kkrt_holder *h, uint64_t bucket, uint32_t bin,
    unsigned hidx, const uint8_t q[KKRT_ROW], const uint8_t code[KKRT_ROW],
    uint8_t out[KKRT_OUT])
{
	uint8_t r[KKRT_ROW];

	mask_row(r, q, code, h->k.s);
	kkrt_out_hash(bucket, bin, hidx, r, out);
	sodium_memzero(r, sizeof(r));
}

void
kkrt_holder_eval_keys(const struct kkrt_holder *h, uint64_t bucket,
    const uint8_t *q, size_t n, const uint8_t *fp, unsigned nh,
    const uint32_t *bins, uint8_t *out)
{
	uint8_t slot[HCH * KKRT_MAXH * B2X_BLOCK], len[HCH * KKRT_MAXH];
	uint8_t code[HCH * KKRT_ROW];
	size_t i0, i, m, j;
	unsigned k;
	uint32_t b;

	if (nh < 1 || nh > KKRT_MAXH)
		abort();	/* a caller's bug */
	for (i0 = 0; i0 < n; i0 += m) {
		m = n - i0 < HCH ? n - i0 : HCH;
		for (i = 0; i < m; i++)
			len[i] = code_slot(slot + i * B2X_BLOCK, h->k.seed,
			    fp + (i0 + i) * KKRT_FP);
		blake2bx(code, KKRT_ROW, slot, len, m);	/* once per key */
		for (i = 0; i < m; i++)
			for (k = 0; k < nh; k++) {
				j = i * nh + k;
				b = bins[i0 * nh + j];
				mask_row(out_slot(slot + j * B2X_BLOCK, bucket,
				    b, k), q + (size_t)b * KKRT_ROW,
				    code + i * KKRT_ROW, h->k.s);
				len[j] = OUT_LEN;
			}
		blake2bx(out + i0 * nh * KKRT_OUT, KKRT_OUT, slot, len, m * nh);
	}
	sodium_memzero(slot, sizeof(slot));
	sodium_memzero(code, sizeof(code));
}
