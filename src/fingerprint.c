/*
 * fingerprint.c: keys -> 128-bit fingerprints and buckets (fingerprint.h
 * has the definitions and the reasons).
 */
#include <string.h>

#include "blake2bx.h"
#include "fingerprint.h"

static const char fp_label[] = "psi-stream fingerprint";

#define FCH	64	/* one-block keys per blake2bx call */

void
fp_init(struct fpctx *c, const uint8_t *seed)
{
	size_t n = sizeof(fp_label) - 1;

	memcpy(c->pre, fp_label, n);
	c->pre[n++] = seed != NULL;
	if (seed) {
		memcpy(c->pre + n, seed, FP_SEED_BYTES);
		n += FP_SEED_BYTES;
	}
	c->prelen = n;
	crypto_generichash_init(&c->st, NULL, 0, 16);
	crypto_generichash_update(&c->st, c->pre, n);
}


u128
fp_key(const struct fpctx *c, const uint8_t *key, size_t len)
{
	crypto_generichash_state st;
	uint8_t h[16];
	u128 f;

	memcpy(&st, &c->st, sizeof(st));
	crypto_generichash_update(&st, key, len);
	crypto_generichash_final(&st, h, sizeof(h));
	f = load_be128(h);
	sodium_memzero(&st, sizeof(st));
	return f;
}

void
fp_keys(const struct fpctx *c, size_t n, const uint8_t *buf,
    const size_t *off, u128 *f)
{
	uint8_t slot[FCH * B2X_BLOCK], len[FCH], h[FCH * 16];
	size_t at[FCH], i, j, k = 0, l;

	for (i = 0; i <= n; i++) {
		if (k == FCH || (i == n && k > 0)) {
			blake2bx(h, 16, slot, len, k);
			for (j = 0; j < k; j++)
				f[at[j]] = load_be128(h + 16 * j);
			k = 0;
		}
		if (i == n)
			break;
		l = off[i + 1] - off[i];
		if (c->prelen + l > B2X_BLOCK) {
			f[i] = fp_key(c, buf + off[i], l);
			continue;
		}
		memcpy(slot + k * B2X_BLOCK, c->pre, c->prelen);
		memcpy(slot + k * B2X_BLOCK + c->prelen, buf + off[i], l);
		len[k] = (uint8_t)(c->prelen + l);
		at[k++] = i;
	}
	sodium_memzero(slot, sizeof(slot));
	sodium_memzero(h, sizeof(h));
}

void
fp_bytes(u128 f, uint8_t out[16])
{
	store_be128(out, f);
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
