/*
 * ref_kkrt.c: the reference KKRT16 of ref_kkrt.h.  Every bit is computed
 * on its own from the definitions: bit j of column c is bit j % 8 of byte
 * j / 8 of ChaCha20-IETF(keys[c], nonce = "KKRT" || LE64(bucket),
 * counter 0); rows are assembled one bit at a time.  Slow (one stream per
 * column per call) and meant to be.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ref_kkrt.h"

static uint8_t *
column(const uint8_t key[32], uint64_t bucket, size_t nbins)
{
	size_t len = (nbins + 7) / 8;
	uint8_t nonce[12], *zero = calloc(len, 1), *col = malloc(len);
	int i;

	if (zero == NULL || col == NULL)
		abort();
	memcpy(nonce, "KKRT", 4);
	for (i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(bucket >> (8 * i));
	crypto_stream_chacha20_ietf_xor_ic(col, zero, len, nonce, 0, key);
	free(zero);
	return col;
}

void
ref_rows(uint8_t *rows, const uint8_t *keys, uint64_t bucket, size_t nbins)
{
	size_t c, j;
	uint8_t *col;

	memset(rows, 0, nbins * 64);
	for (c = 0; c < 512; c++) {
		col = column(keys + 32 * c, bucket, nbins);
		for (j = 0; j < nbins; j++)
			if ((col[j / 8] >> (j % 8)) & 1)
				rows[64 * j + c / 8] |= (uint8_t)(1u << (c % 8));
		free(col);
	}
}

void
ref_code(uint8_t code[64], const uint8_t seed[32], const uint8_t fp[16])
{
	uint8_t in[23 + 32 + 16];

	memcpy(in, "psi-stream kkrt code v1", 23);
	memcpy(in + 23, seed, 32);
	memcpy(in + 55, fp, 16);
	crypto_generichash(code, 64, in, sizeof(in), NULL, 0);
}

void
ref_out(uint8_t out[16], uint64_t bucket, uint32_t bin, unsigned hidx,
    const uint8_t row[64])
{
	uint8_t in[22 + 8 + 4 + 1 + 64];
	int i;

	memcpy(in, "psi-stream kkrt out v1", 22);
	for (i = 0; i < 8; i++)
		in[22 + i] = (uint8_t)(bucket >> (8 * i));
	for (i = 0; i < 4; i++)
		in[30 + i] = (uint8_t)(bin >> (8 * i));
	in[34] = (uint8_t)hidx;
	memcpy(in + 35, row, 64);
	crypto_generichash(out, 16, in, sizeof(in), NULL, 0);
}

void
ref_querier(uint8_t *corr, uint8_t *out, uint8_t *t0, const uint8_t *keys0,
    const uint8_t *keys1, const uint8_t seed[32], uint64_t bucket,
    size_t nbins, const uint8_t *fp, const uint8_t *hidx)
{
	uint8_t *t1 = malloc(nbins * 64), code[64];
	size_t j, k;

	if (t1 == NULL)
		abort();
	ref_rows(t0, keys0, bucket, nbins);
	ref_rows(t1, keys1, bucket, nbins);
	for (j = 0; j < nbins; j++) {
		memset(code, 0, 64);
		memset(out + 16 * j, 0, 16);
		if (hidx[j] != 0xff) {
			ref_code(code, seed, fp + 16 * j);
			ref_out(out + 16 * j, bucket, (uint32_t)j, hidx[j],
			    t0 + 64 * j);
		}
		for (k = 0; k < 64; k++)
			corr[64 * j + k] = t0[64 * j + k] ^ t1[64 * j + k] ^
			    code[k];
	}
	free(t1);
}

void
ref_holder(uint8_t *q, const uint8_t *keys, const uint8_t s[64],
    uint64_t bucket, size_t nbins, const uint8_t *corr)
{
	size_t j, k;

	ref_rows(q, keys, bucket, nbins);
	for (j = 0; j < nbins; j++)
		for (k = 0; k < 64; k++)
			q[64 * j + k] ^= corr[64 * j + k] & s[k];
}

void
ref_eval(uint8_t out[16], const uint8_t q[64], const uint8_t s[64],
    const uint8_t seed[32], uint64_t bucket, uint32_t bin, unsigned hidx,
    const uint8_t fp[16])
{
	uint8_t code[64], r[64];
	int k;

	ref_code(code, seed, fp);
	for (k = 0; k < 64; k++)
		r[k] = q[k] ^ (code[k] & s[k]);
	ref_out(out, bucket, bin, hidx, r);
}
