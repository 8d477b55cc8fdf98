/*
 * noise.h: the Noise Protocol Framework (revision 34) handshake and
 * transport cipher states for exactly two protocols:
 *   Noise_XX_25519_ChaChaPoly_BLAKE2b
 *   Noise_XXpsk3_25519_ChaChaPoly_BLAKE2b   (when a 32-byte PSK is given)
 * on libsodium (X25519, ChaCha20-Poly1305 IETF, BLAKE2b; HMAC-BLAKE2b and
 * HKDF written here).  All key material lives in sodium_malloc memory and is
 * wiped on free.  Every function returning int gives 0 or -1 (-1: decryption
 * failure, bad length, wrong state, or buffer too small).
 */
#ifndef PSI_NOISE_H
#define PSI_NOISE_H

#include <stddef.h>
#include <stdint.h>

#define NOISE_KEY	32
#define NOISE_TAG	16
#define NOISE_HASH	64
#define NOISE_MAX_MSG	65535

struct noise_hs;

/* A CipherState after Split.  k is a secret key: keep the struct in
 * sodium_malloc memory and sodium_memzero it when done. */
struct noise_cipher {
	uint8_t		k[NOISE_KEY];
	uint64_t	n;
};

/* A new handshake.  s_priv: our static X25519 private key (32 bytes).
 * psk: NULL for XX, else 32 bytes for XXpsk3.  prologue may be NULL. */
struct noise_hs *noise_hs_new(int initiator, const uint8_t s_priv[32],
	    const uint8_t *psk, const uint8_t *prologue, size_t prologue_len);
/* Tests only: use this ephemeral private key instead of a random one. */
void	noise_hs_set_ephemeral(struct noise_hs *, const uint8_t e_priv[32]);
/* Write the next handshake message (payload may be empty) into out. */
int	noise_write_message(struct noise_hs *, const uint8_t *payload,
	    size_t payload_len, uint8_t *out, size_t out_cap, size_t *out_len);
/* Read the next handshake message; the decrypted payload goes to payload. */
int	noise_read_message(struct noise_hs *, const uint8_t *msg,
	    size_t msg_len, uint8_t *payload, size_t payload_cap,
	    size_t *payload_len);
/* 1 once all three XX messages have been written/read. */
int	noise_hs_finished(const struct noise_hs *);
/* The peer's static public key, or NULL before it has been received. */
const uint8_t *noise_remote_static(const struct noise_hs *);
/* The handshake hash h (64 bytes). */
void	noise_handshake_hash(const struct noise_hs *, uint8_t h[NOISE_HASH]);
/* After the handshake: the two transport cipher states for our role. */
int	noise_split(struct noise_hs *, struct noise_cipher *send,
	    struct noise_cipher *recv);
void	noise_hs_free(struct noise_hs *);

/* Transport: out gets len + NOISE_TAG bytes; fails (-1) when the nonce
 * would reach 2^64-1, so nonces never repeat. */
int	noise_encrypt(struct noise_cipher *, const uint8_t *pt, size_t len,
	    uint8_t *out);
/* out gets len - NOISE_TAG bytes. */
int	noise_decrypt(struct noise_cipher *, const uint8_t *ct, size_t len,
	    uint8_t *out);
/* Public key for a private key. */
void	noise_pubkey(uint8_t pub[32], const uint8_t priv[32]);

#endif
