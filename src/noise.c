/*
 * noise.c: the Noise Protocol Framework (revision 34) for exactly
 *   Noise_XX_25519_ChaChaPoly_BLAKE2b   and
 *   Noise_XXpsk3_25519_ChaChaPoly_BLAKE2b.
 *
 * The XX pattern.  Both parties have a static X25519 key pair and neither
 * knows the other's public key in advance; each sends its static public key
 * encrypted, so a passive observer learns neither identity:
 *
 *	-> e			initiator's ephemeral key, in the clear
 *	<- e, ee, s, es		responder's ephemeral, DH(e,e), its static
 *				key (encrypted), DH(e_i, s_r)
 *	-> s, se [, psk]	initiator's static key (encrypted), DH(s_i, e_r),
 *				and with psk3 the pre-shared key mixed last
 *
 * Every message ends with a payload, encrypted once a key exists.  Each
 * DH result is fed to MixKey (HKDF over HMAC-BLAKE2b into the chaining key
 * ck, which yields a new cipher key k with n = 0); every byte sent is fed to
 * MixHash (h = BLAKE2b(h || data)), so a message decrypts only if both sides
 * saw the same transcript.  In a psk handshake each "e" token also calls
 * MixKey(e.public_key): that gives message 1 an encryption key, randomized by
 * the ephemeral key, before the PSK is known to be shared.  The PSK enters
 * only at the end of message 3, so a wrong PSK shows as a decryption failure
 * of message 3's payload, seen by the responder.  Split() then derives two
 * transport keys: initiator->responder and responder->initiator.
 *
 * Call order: noise_hs_new; then alternately noise_write_message and
 * noise_read_message (the initiator writes messages 1 and 3, the responder
 * message 2) until noise_hs_finished; check noise_remote_static against the
 * keys you trust (Noise authenticates keys, not who owns them); noise_split;
 * noise_hs_free.  Any failure poisons the handshake: every later call fails.
 *
 * What is secret: the static and ephemeral private keys, the PSK, the
 * chaining key ck and the handshake cipher key k live in one sodium_malloc
 * block (guarded, locked, wiped on free); DH outputs and HKDF temporaries are
 * wiped as soon as they are used.  The transport keys are copied into the
 * caller's struct noise_cipher, which the caller keeps in sodium_malloc memory
 * too.  h, the public keys and the counters are not secret.
 *
 * Nonces: ChaCha20-Poly1305 IETF with a 96-bit nonce of 4 zero bytes and the
 * 64-bit little-endian counter n.  n = 2^64-1 is reserved by the spec, so
 * encryption and decryption refuse once n reaches it and a nonce never
 * repeats under one key.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "noise.h"
#include "util.h"

#define HASHLEN		64	/* BLAKE2b-512 */
#define BLOCKLEN	128	/* BLAKE2b block size, for HMAC */
#define DHLEN		32

/* Handshake tokens; a message is a list of them ending with T_END. */
enum token { T_END, T_E, T_S, T_EE, T_ES, T_SE, T_PSK };

#define NMSG	3
static const enum token xx_msgs[NMSG][5] = {
	{ T_E, T_END },
	{ T_E, T_EE, T_S, T_ES, T_END },
	{ T_S, T_SE, T_END },
};
static const enum token xxpsk3_msgs[NMSG][5] = {
	{ T_E, T_END },
	{ T_E, T_EE, T_S, T_ES, T_END },
	{ T_S, T_SE, T_PSK, T_END },
};

/* Everything secret about a handshake, in one guarded allocation. */
struct noise_secrets {
	uint8_t		s_priv[DHLEN];
	uint8_t		e_priv[DHLEN];
	uint8_t		psk[NOISE_KEY];
	uint8_t		ck[HASHLEN];
	uint8_t		k[NOISE_KEY];
};

struct noise_hs {
	struct noise_secrets *sec;
	const enum token (*msgs)[5];
	int		initiator;
	int		psk_mode;
	int		fixed_e;	/* tests: e_priv was set, don't generate */
	int		msg;		/* index of the next message, 0..NMSG */
	int		failed;		/* any error: the handshake is dead */
	int		split_done;
	int		has_k;		/* the handshake CipherState has a key */
	int		has_rs;
	uint64_t	n;		/* the handshake CipherState's nonce */
	uint8_t		h[HASHLEN];
	uint8_t		s_pub[DHLEN];
	uint8_t		e_pub[DHLEN];
	uint8_t		rs[DHLEN];
	uint8_t		re[DHLEN];
};

/* ---- HMAC-BLAKE2b (RFC 2104) and the Noise HKDF ------------------------ */

/* out = HMAC(key, d1 || d2); d2 may be NULL. */
static void
hmac(uint8_t out[HASHLEN], const uint8_t *key, size_t keylen,
    const uint8_t *d1, size_t l1, const uint8_t *d2, size_t l2)
{
	crypto_generichash_state st;
	uint8_t kb[BLOCKLEN], pad[BLOCKLEN], inner[HASHLEN];
	size_t i;

	memset(kb, 0, sizeof(kb));
	if (keylen > BLOCKLEN)
		crypto_generichash(kb, HASHLEN, key, keylen, NULL, 0);
	else
		memcpy(kb, key, keylen);

	for (i = 0; i < BLOCKLEN; i++)
		pad[i] = kb[i] ^ 0x36;
	crypto_generichash_init(&st, NULL, 0, HASHLEN);
	crypto_generichash_update(&st, pad, BLOCKLEN);
	crypto_generichash_update(&st, d1, l1);
	if (d2 != NULL)
		crypto_generichash_update(&st, d2, l2);
	crypto_generichash_final(&st, inner, HASHLEN);

	for (i = 0; i < BLOCKLEN; i++)
		pad[i] = kb[i] ^ 0x5c;
	crypto_generichash_init(&st, NULL, 0, HASHLEN);
	crypto_generichash_update(&st, pad, BLOCKLEN);
	crypto_generichash_update(&st, inner, HASHLEN);
	crypto_generichash_final(&st, out, HASHLEN);

	sodium_memzero(kb, sizeof(kb));
	sodium_memzero(pad, sizeof(pad));
	sodium_memzero(inner, sizeof(inner));
	sodium_memzero(&st, sizeof(st));
}

/*
 * HKDF(ck, ikm) with two or three outputs (Noise section 4.3):
 * temp = HMAC(ck, ikm); o1 = HMAC(temp, 0x01); o2 = HMAC(temp, o1 || 0x02);
 * o3 = HMAC(temp, o2 || 0x03).  o3 may be NULL.
 */
static void
hkdf(const uint8_t ck[HASHLEN], const uint8_t *ikm, size_t ikmlen,
    uint8_t o1[HASHLEN], uint8_t o2[HASHLEN], uint8_t *o3)
{
	uint8_t temp[HASHLEN];
	const uint8_t b1 = 1, b2 = 2, b3 = 3;

	hmac(temp, ck, HASHLEN, ikm, ikmlen, NULL, 0);
	hmac(o1, temp, HASHLEN, &b1, 1, NULL, 0);
	hmac(o2, temp, HASHLEN, o1, HASHLEN, &b2, 1);
	if (o3 != NULL)
		hmac(o3, temp, HASHLEN, o2, HASHLEN, &b3, 1);
	sodium_memzero(temp, sizeof(temp));
}

/* ---- CipherState ------------------------------------------------------- */

static void
make_nonce(uint8_t nonce[12], uint64_t n)
{
	int i;

	memset(nonce, 0, 4);
	for (i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(n >> (8 * i));
}

/* ENCRYPT(k, n++, ad, pt): out gets len + NOISE_TAG bytes. */
static int
cipher_encrypt(const uint8_t k[NOISE_KEY], uint64_t *n, const uint8_t *ad,
    size_t adlen, const uint8_t *pt, size_t len, uint8_t *out)
{
	uint8_t nonce[12];

	if (*n == UINT64_MAX)
		return -1;
	make_nonce(nonce, *n);
	crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, pt, len, ad,
	    adlen, NULL, nonce, k);
	(*n)++;
	return 0;
}

/* DECRYPT(k, n++, ad, ct): out gets len - NOISE_TAG bytes. */
static int
cipher_decrypt(const uint8_t k[NOISE_KEY], uint64_t *n, const uint8_t *ad,
    size_t adlen, const uint8_t *ct, size_t len, uint8_t *out)
{
	uint8_t nonce[12];

	if (*n == UINT64_MAX || len < NOISE_TAG)
		return -1;
	make_nonce(nonce, *n);
	if (crypto_aead_chacha20poly1305_ietf_decrypt(out, NULL, NULL, ct,
	    len, ad, adlen, nonce, k) != 0)
		return -1;
	(*n)++;
	return 0;
}

/* ---- SymmetricState ---------------------------------------------------- */

static void
mix_hash(struct noise_hs *hs, const uint8_t *data, size_t len)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, HASHLEN);
	crypto_generichash_update(&st, hs->h, HASHLEN);
	crypto_generichash_update(&st, data, len);
	crypto_generichash_final(&st, hs->h, HASHLEN);
}

/* ck, k = HKDF(ck, ikm); k is the first 32 bytes of the second output. */
static void
mix_key(struct noise_hs *hs, const uint8_t *ikm, size_t len)
{
	uint8_t ck[HASHLEN], tk[HASHLEN];

	hkdf(hs->sec->ck, ikm, len, ck, tk, NULL);
	memcpy(hs->sec->ck, ck, HASHLEN);
	memcpy(hs->sec->k, tk, NOISE_KEY);
	hs->has_k = 1;
	hs->n = 0;
	sodium_memzero(ck, sizeof(ck));
	sodium_memzero(tk, sizeof(tk));
}

/* The psk token: ck, temp_h, temp_k = HKDF(ck, psk, 3). */
static void
mix_key_and_hash(struct noise_hs *hs, const uint8_t *ikm, size_t len)
{
	uint8_t ck[HASHLEN], th[HASHLEN], tk[HASHLEN];

	hkdf(hs->sec->ck, ikm, len, ck, th, tk);
	memcpy(hs->sec->ck, ck, HASHLEN);
	mix_hash(hs, th, HASHLEN);
	memcpy(hs->sec->k, tk, NOISE_KEY);
	hs->has_k = 1;
	hs->n = 0;
	sodium_memzero(ck, sizeof(ck));
	sodium_memzero(th, sizeof(th));
	sodium_memzero(tk, sizeof(tk));
}

/* out = EncryptWithAd(h, pt) (or pt itself without a key); MixHash(out). */
static int
encrypt_and_hash(struct noise_hs *hs, const uint8_t *pt, size_t len,
    uint8_t *out, size_t *outlen)
{
	if (hs->has_k) {
		if (cipher_encrypt(hs->sec->k, &hs->n, hs->h, HASHLEN, pt, len,
		    out) != 0)
			return -1;
		len += NOISE_TAG;
	} else if (len > 0)
		memmove(out, pt, len);
	mix_hash(hs, out, len);
	*outlen = len;
	return 0;
}

/* The reverse; MixHash runs over the ciphertext, after decryption. */
static int
decrypt_and_hash(struct noise_hs *hs, const uint8_t *ct, size_t len,
    uint8_t *out, size_t *outlen)
{
	if (hs->has_k) {
		if (cipher_decrypt(hs->sec->k, &hs->n, hs->h, HASHLEN, ct, len,
		    out) != 0)
			return -1;
		*outlen = len - NOISE_TAG;
	} else {
		if (len > 0)
			memmove(out, ct, len);
		*outlen = len;
	}
	mix_hash(hs, ct, len);
	return 0;
}

/* MixKey(DH(priv, pub)); fails on a low-order public key (zero output). */
static int
mix_dh(struct noise_hs *hs, const uint8_t priv[DHLEN],
    const uint8_t pub[DHLEN])
{
	uint8_t shared[DHLEN];
	int rc;

	rc = crypto_scalarmult(shared, priv, pub);
	if (rc == 0)
		mix_key(hs, shared, DHLEN);
	sodium_memzero(shared, sizeof(shared));
	return rc == 0 ? 0 : -1;
}

/*
 * What the e token mixes in, alike on both sides once the public key is
 * at hand (ours when writing, the peer's when reading): MixHash(e.public_key)
 * and, in a psk handshake, MixKey(e.public_key) too (Noise section 9.2).
 */
static void
mix_e(struct noise_hs *hs, const uint8_t pub[DHLEN])
{
	mix_hash(hs, pub, DHLEN);
	if (hs->psk_mode)
		mix_key(hs, pub, DHLEN);
}

/*
 * The tokens that put no bytes in the message, so both sides process them
 * alike.  The DH tokens: "xy" is DH of the initiator's x key with the
 * responder's y key, computed by each side from its own private key and
 * the other's public key.  psk: MixKeyAndHash(psk).
 */
static int
mix_token(struct noise_hs *hs, enum token t)
{
	struct noise_secrets *sec = hs->sec;

	switch (t) {
	case T_PSK:
		mix_key_and_hash(hs, sec->psk, NOISE_KEY);
		return 0;
	case T_EE:
		return mix_dh(hs, sec->e_priv, hs->re);
	case T_ES:
		return hs->initiator ? mix_dh(hs, sec->e_priv, hs->rs) :
		    mix_dh(hs, sec->s_priv, hs->re);
	case T_SE:
		return hs->initiator ? mix_dh(hs, sec->s_priv, hs->re) :
		    mix_dh(hs, sec->e_priv, hs->rs);
	default:
		return -1;
	}
}

/*
 * Bytes of message i before its payload, and the payload's tag size: the
 * key state at each token is fixed by the pattern, so it can be known
 * before any state changes.
 */
static void
msg_layout(const struct noise_hs *hs, int i, size_t *head, size_t *tag)
{
	const enum token *t;
	int has_k = hs->has_k;

	*head = 0;
	for (t = hs->msgs[i]; *t != T_END; t++) {
		switch (*t) {
		case T_E:
			*head += DHLEN;
			if (hs->psk_mode)
				has_k = 1;
			break;
		case T_S:
			*head += DHLEN + (has_k ? NOISE_TAG : 0);
			break;
		default:
			has_k = 1;
			break;
		}
	}
	*tag = has_k ? NOISE_TAG : 0;
}

/* Any failure poisons the handshake: every later call fails.  Returns -1. */
static int
poison(struct noise_hs *hs)
{
	hs->failed = 1;
	return -1;
}

static int
my_turn(const struct noise_hs *hs)
{
	return hs->msg < NMSG && hs->initiator == (hs->msg % 2 == 0);
}

/* ---- HandshakeState ---------------------------------------------------- */

struct noise_hs *
noise_hs_new(int initiator, const uint8_t s_priv[32], const uint8_t *psk,
    const uint8_t *prologue, size_t prologue_len)
{
	struct noise_hs *hs;
	const char *name;
	size_t namelen;

	if (sodium_init() < 0)
		fatal(EXIT_IO, "libsodium initialisation failed");
	hs = xcalloc(1, sizeof(*hs));
	hs->sec = xsodium_malloc(sizeof(*hs->sec));
	sodium_memzero(hs->sec, sizeof(*hs->sec));
	hs->initiator = initiator != 0;
	hs->psk_mode = psk != NULL;
	hs->msgs = hs->psk_mode ? xxpsk3_msgs : xx_msgs;
	memcpy(hs->sec->s_priv, s_priv, DHLEN);
	crypto_scalarmult_base(hs->s_pub, hs->sec->s_priv);
	if (psk != NULL)
		memcpy(hs->sec->psk, psk, NOISE_KEY);

	/* InitializeSymmetric: a short name is zero-padded, a long one hashed. */
	name = hs->psk_mode ? "Noise_XXpsk3_25519_ChaChaPoly_BLAKE2b" :
	    "Noise_XX_25519_ChaChaPoly_BLAKE2b";
	namelen = strlen(name);
	if (namelen <= HASHLEN)
		memcpy(hs->h, name, namelen);
	else
		crypto_generichash(hs->h, HASHLEN, (const uint8_t *)name,
		    namelen, NULL, 0);
	memcpy(hs->sec->ck, hs->h, HASHLEN);
	mix_hash(hs, prologue, prologue != NULL ? prologue_len : 0);
	return hs;
}

void
noise_hs_set_ephemeral(struct noise_hs *hs, const uint8_t e_priv[32])
{
	memcpy(hs->sec->e_priv, e_priv, DHLEN);
	hs->fixed_e = 1;
}

int
noise_write_message(struct noise_hs *hs, const uint8_t *payload,
    size_t payload_len, uint8_t *out, size_t out_cap, size_t *out_len)
{
	const enum token *t;
	size_t head, tag, total, pos = 0, n;

	if (hs->failed || !my_turn(hs))
		return -1;
	msg_layout(hs, hs->msg, &head, &tag);
	if (payload_len > NOISE_MAX_MSG - head - tag)
		return -1;
	total = head + payload_len + tag;
	if (total > out_cap)
		return -1;

	for (t = hs->msgs[hs->msg]; *t != T_END; t++) {
		switch (*t) {
		case T_E:
			if (!hs->fixed_e)
				randombytes_buf(hs->sec->e_priv, DHLEN);
			crypto_scalarmult_base(hs->e_pub, hs->sec->e_priv);
			memcpy(out + pos, hs->e_pub, DHLEN);
			pos += DHLEN;
			mix_e(hs, hs->e_pub);
			break;
		case T_S:
			if (encrypt_and_hash(hs, hs->s_pub, DHLEN, out + pos,
			    &n) != 0)
				return poison(hs);
			pos += n;
			break;
		default:
			if (mix_token(hs, *t) != 0)
				return poison(hs);
			break;
		}
	}
	if (encrypt_and_hash(hs, payload, payload_len, out + pos, &n) != 0)
		return poison(hs);
	pos += n;
	hs->msg++;
	*out_len = pos;
	return 0;
}

int
noise_read_message(struct noise_hs *hs, const uint8_t *msg, size_t msg_len,
    uint8_t *payload, size_t payload_cap, size_t *payload_len)
{
	const enum token *t;
	size_t head, tag, pos = 0, n, slen;

	if (hs->failed || hs->msg >= NMSG || my_turn(hs))
		return -1;
	msg_layout(hs, hs->msg, &head, &tag);
	if (msg_len > NOISE_MAX_MSG || msg_len < head + tag ||
	    msg_len - head - tag > payload_cap)
		return poison(hs);

	for (t = hs->msgs[hs->msg]; *t != T_END; t++) {
		switch (*t) {
		case T_E:
			memcpy(hs->re, msg + pos, DHLEN);
			pos += DHLEN;
			mix_e(hs, hs->re);
			break;
		case T_S:
			slen = DHLEN + (hs->has_k ? NOISE_TAG : 0);
			if (decrypt_and_hash(hs, msg + pos, slen, hs->rs,
			    &n) != 0)
				return poison(hs);
			pos += slen;
			hs->has_rs = 1;
			break;
		default:
			if (mix_token(hs, *t) != 0)
				return poison(hs);
			break;
		}
	}
	if (decrypt_and_hash(hs, msg + pos, msg_len - pos, payload,
	    payload_len) != 0)
		return poison(hs);
	hs->msg++;
	return 0;
}

int
noise_hs_finished(const struct noise_hs *hs)
{
	return !hs->failed && hs->msg == NMSG;
}

const uint8_t *
noise_remote_static(const struct noise_hs *hs)
{
	return hs->has_rs ? hs->rs : NULL;
}

void
noise_handshake_hash(const struct noise_hs *hs, uint8_t h[NOISE_HASH])
{
	memcpy(h, hs->h, NOISE_HASH);
}

/*
 * Split: k1, k2 = HKDF(ck, empty).  k1 encrypts initiator->responder.
 * The handshake's secrets are no longer needed afterwards and are wiped.
 */
int
noise_split(struct noise_hs *hs, struct noise_cipher *send,
    struct noise_cipher *recv)
{
	uint8_t k1[HASHLEN], k2[HASHLEN];

	if (!noise_hs_finished(hs) || hs->split_done)
		return -1;
	hkdf(hs->sec->ck, NULL, 0, k1, k2, NULL);
	memcpy(send->k, hs->initiator ? k1 : k2, NOISE_KEY);
	memcpy(recv->k, hs->initiator ? k2 : k1, NOISE_KEY);
	send->n = recv->n = 0;
	sodium_memzero(k1, sizeof(k1));
	sodium_memzero(k2, sizeof(k2));
	sodium_memzero(hs->sec, sizeof(*hs->sec));
	hs->has_k = 0;
	hs->split_done = 1;
	return 0;
}

void
noise_hs_free(struct noise_hs *hs)
{
	if (hs == NULL)
		return;
	sodium_memzero(hs->sec, sizeof(*hs->sec));
	sodium_free(hs->sec);
	sodium_memzero(hs, sizeof(*hs));
	free(hs);
}

int
noise_encrypt(struct noise_cipher *c, const uint8_t *pt, size_t len,
    uint8_t *out)
{
	if (len > NOISE_MAX_MSG - NOISE_TAG)
		return -1;
	return cipher_encrypt(c->k, &c->n, NULL, 0, pt, len, out);
}

int
noise_decrypt(struct noise_cipher *c, const uint8_t *ct, size_t len,
    uint8_t *out)
{
	if (len > NOISE_MAX_MSG)
		return -1;
	return cipher_decrypt(c->k, &c->n, NULL, 0, ct, len, out);
}

void
noise_pubkey(uint8_t pub[32], const uint8_t priv[32])
{
	crypto_scalarmult_base(pub, priv);
}
