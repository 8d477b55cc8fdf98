/*
 * fingerprint.c: keys -> 128-bit fingerprints and buckets (fingerprint.h
 * has the definitions and the reasons).
 */
#include <string.h>

#include "fingerprint.h"

static const char fp_label[] = "psi-stream fingerprint";

void
fp_init(struct fpctx *c, const uint8_t *seed)
{
	uint8_t flag = seed != NULL;

	crypto_generichash_init(&c->st, NULL, 0, 16);
	crypto_generichash_update(&c->st, (const uint8_t *)fp_label,
	    sizeof(fp_label) - 1);
	crypto_generichash_update(&c->st, &flag, 1);
	if (seed)
		crypto_generichash_update(&c->st, seed, FP_SEED_BYTES);
}

u128
fp_key(const struct fpctx *c, const uint8_t *key, size_t len)
{
	crypto_generichash_state st;
	uint8_t h[16];
	u128 f = 0;
	int i;

	memcpy(&st, &c->st, sizeof(st));
	crypto_generichash_update(&st, key, len);
	crypto_generichash_final(&st, h, sizeof(h));
	for (i = 0; i < 16; i++)
		f = f << 8 | h[i];
	sodium_memzero(&st, sizeof(st));
	return f;
}

void
fp_bytes(u128 f, uint8_t out[16])
{
	int i;

	for (i = 15; i >= 0; i--, f >>= 8)
		out[i] = (uint8_t)f;
}

uint64_t
fp_bucket(u128 f, uint64_t nbuckets)
{
	return (uint64_t)(((f >> 64) * (u128)nbuckets) >> 64);
}

/*
 * The smallest h with floor(h * B / 2^64) >= b is ceil(b * 2^64 / B); its
 * low 64 bits are zero in the first fingerprint of the bucket.
 */
u128
fp_bucket_first(uint64_t b, uint64_t nbuckets)
{
	u128 num = (u128)b << 64;
	u128 h = num / nbuckets + (num % nbuckets != 0);

	return h << 64;
}
