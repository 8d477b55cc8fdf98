/*
 * params.h: the session parameters both parties must agree on, their
 * encoding in the handshake (PROTOCOL.md section 4), and the shard hash.
 *
 * Call order: the caller fills a struct params (role resolved, engine
 * chosen), params_encode() it into handshake message 3 or HELLO, and hands
 * the peer's bytes to params_check(), which ends the process with exit 5
 * (EXIT_PROTO) naming both values when anything differs; the peer is told
 * the option's name only ("parameters differ: context").  The parts of it,
 * params_decode() and params_compare(), return an error line instead, for
 * tests and fuzzing.  shard_of() is pure and needs no setup.
 */
#ifndef PSI_PARAMS_H
#define PSI_PARAMS_H

#include <stddef.h>
#include <stdint.h>

enum { ROLE_DEFAULT = 0, ROLE_HOLDER = 1, ROLE_QUERIER = 2 };
enum { REVEAL_BOTH = 0, REVEAL_QUERIER = 1 };

/* 2: the engine id joined the parameters and frames got per-engine ranges. */
#define PROTOCOL_VERSION	2

/* What both parties must agree on; travels in the handshake. */
struct params {
	uint8_t		version;
	uint8_t		role;		/* the sender's role */
	uint8_t		reveal;
	uint8_t		count_only;
	uint8_t		trim;
	uint8_t		ignore_case;
	uint8_t		engine;		/* enum engine_id (engine.h) */
	uint8_t		key_fields;	/* fields in a key, 1..REC_MAX_FIELDS */
	uint32_t	shard_i, shard_n;	/* 0/0 or 1 <= i <= n */
	char		context[256];
	uint8_t		context_len;	/* set by params_decode (may hold NULs) */
};

/* Longest encoding params_encode() writes. */
#define PARAMS_MAX	(17 + 256)

/* Serialise; returns the length (at most PARAMS_MAX). */
size_t	params_encode(const struct params *, uint8_t *out);
/* Parse the peer's bytes into *them.  0, or -1 with a line in err (the
 * version first: a different version is named before anything else). */
int	params_decode(struct params *them, const uint8_t *buf, size_t len,
	    char *err, size_t errlen);
/* Compare the peer's parameters with ours.  0, or -1 with a line in err
 * naming both values of the first field that differs. */
int	params_compare(const struct params *ours, const struct params *them,
	    char *err, size_t errlen);
/* Decode and compare; exits 5 with the error line on any failure.  peer
 * names the peer in messages. */
void	params_check(const struct params *ours, const uint8_t *buf, size_t len,
	    const char *peer);

/* Shard of a normalised key: 1..n (public hash, both sides agree). */
uint32_t shard_of(const uint8_t *key, size_t len, uint32_t n);

#endif
