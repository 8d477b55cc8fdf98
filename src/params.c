/*
 * params.c: session parameters (params.h) and the shard hash.
 *
 * Encoding, version 2 (PROTOCOL.md section 4):
 *
 *   u8 version, u8 role, u8 reveal, u8 count_only,
 *   u8 flags (bit 0 trim, bit 1 ignore-case), u8 engine,
 *   u32 shard_i, u32 shard_n, u8 key_fields, u8 L, L bytes of context
 *
 * The version is read before anything else so that a peer of another
 * version is named as such, whatever the rest looks like.  The one-byte
 * settings are compared through one table (`settings`): a setting is
 * one line there, with the option that sets it and how its values are
 * named.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "channel.h"
#include "engine.h"
#include "params.h"
#include "records.h"
#include "util.h"

#define HEAD	16		/* bytes before the context */

size_t
params_encode(const struct params *p, uint8_t *out)
{
	size_t clen = strlen(p->context);

	out[0] = p->version;
	out[1] = p->role;
	out[2] = p->reveal;
	out[3] = p->count_only;
	out[4] = (uint8_t)(p->trim | p->ignore_case << 1);
	out[5] = p->engine;
	put_u32(out + 6, p->shard_i);
	put_u32(out + 10, p->shard_n);
	out[14] = p->key_fields;
	out[15] = (uint8_t)clen;
	memcpy(out + HEAD, p->context, clen);
	return HEAD + clen;
}

int
params_decode(struct params *them, const uint8_t *b, size_t len, char *err,
    size_t errlen)
{
	if (len < 1) {
		snprintf(err, errlen, "sent no session parameters");
		return -1;
	}
	if (b[0] != PROTOCOL_VERSION) {
		snprintf(err, errlen, "speaks protocol version %u, we speak "
		    "version %u", b[0], PROTOCOL_VERSION);
		return -1;
	}
	if (len < HEAD || len != HEAD + (size_t)b[15]) {
		snprintf(err, errlen, "sent malformed session parameters");
		return -1;
	}
	memset(them, 0, sizeof(*them));
	them->version = b[0];
	them->role = b[1];
	them->reveal = b[2];
	them->count_only = b[3];
	them->trim = b[4] & 1;
	them->ignore_case = b[4] >> 1 & 1;
	them->engine = b[5];
	them->shard_i = get_u32(b + 6);
	them->shard_n = get_u32(b + 10);
	them->key_fields = b[14];
	memcpy(them->context, b + HEAD, b[15]);
	them->context[b[15]] = '\0';
	them->context_len = b[15];
	if ((them->role != ROLE_HOLDER && them->role != ROLE_QUERIER) ||
	    them->reveal > REVEAL_QUERIER || them->count_only > 1 || b[4] > 3 ||
	    them->engine == 0 || them->key_fields < 1 ||
	    them->key_fields > REC_MAX_FIELDS) {
		snprintf(err, errlen, "sent invalid session parameters");
		return -1;
	}
	return 0;
}

static const char *
role_name(int r)
{
	return r == ROLE_HOLDER ? "holder" : "querier";
}

static const char *
reveal_name(unsigned r, char buf[8])
{
	(void)buf;
	return r == REVEAL_BOTH ? "both" : "querier";
}

/* The one-byte settings, in the order they are compared.  name NULL: an
 * on/off flag ("peer uses --trim, we do not"). */
static const struct setting {
	const char	*option;
	size_t		 off;
	const char	*(*name)(unsigned, char buf[8]);
} settings[] = {
	{ "engine",	 offsetof(struct params, engine),	engine_name },
	{ "reveal",	 offsetof(struct params, reveal),	reveal_name },
	{ "count-only",	 offsetof(struct params, count_only),	NULL },
	{ "trim",	 offsetof(struct params, trim),		NULL },
	{ "ignore-case", offsetof(struct params, ignore_case),	NULL },
};

static void
shard_text(char *buf, size_t len, const struct params *p)
{
	if (p->shard_n)
		snprintf(buf, len, "%u/%u", p->shard_i, p->shard_n);
	else
		snprintf(buf, len, "none");
}

/* params_compare(), and in *what the parameter that differs, as the
 * peer is told it ("parameters differ: context"). */
static int
compare(const struct params *us, const struct params *them, char *err,
    size_t errlen, const char **what)
{
	*what = "role";
	if (them->role == us->role) {
		snprintf(err, errlen, "both sides are %ss: use --role holder on "
		    "one side and --role querier on the other",
		    role_name(us->role));
		return -1;
	}
	for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
		const struct setting *s = &settings[i];
		unsigned a = ((const uint8_t *)them)[s->off];
		unsigned c = ((const uint8_t *)us)[s->off];
		char ab[8], cb[8];

		if (a == c)
			continue;
		*what = s->option;
		if (s->name)
			snprintf(err, errlen, "peer uses --%s %s, we use --%s %s",
			    s->option, s->name(a, ab), s->option,
			    s->name(c, cb));
		else
			snprintf(err, errlen, "peer %s --%s, we %s",
			    a ? "uses" : "does not use", s->option,
			    c ? "do" : "do not");
		return -1;
	}
	*what = "key-field";
	if (them->key_fields != us->key_fields) {
		snprintf(err, errlen, "peer's keys have %u field%s (--key-field), "
		    "ours have %u", them->key_fields, them->key_fields == 1 ?
		    "" : "s", us->key_fields);
		return -1;
	}
	*what = "shard";
	if (them->shard_i != us->shard_i || them->shard_n != us->shard_n) {
		char a[32], c[32];
		shard_text(a, sizeof(a), them);
		shard_text(c, sizeof(c), us);
		snprintf(err, errlen, "peer uses --shard %s, we use --shard %s",
		    a, c);
		return -1;
	}
	*what = "context";
	if (them->context_len != strlen(us->context) ||
	    memcmp(them->context, us->context, them->context_len) != 0) {
		/* shown escaped: no terminal escapes, C1 or bidi controls */
		char ctx[4 * sizeof(them->context) + 1];
		safe_text(ctx, sizeof(ctx), them->context, them->context_len);
		snprintf(err, errlen, "peer uses --context '%s', we use '%s'",
		    ctx, us->context);
		return -1;
	}
	*what = NULL;
	return 0;
}

int
params_compare(const struct params *us, const struct params *them, char *err,
    size_t errlen)
{
	const char *what;

	return compare(us, them, err, errlen, &what);
}

void
params_check(const struct params *us, const uint8_t *b, size_t len,
    const char *peer)
{
	struct params them;
	char err[640], told[64];
	const char *what;

	if (params_decode(&them, b, len, err, sizeof(err)) < 0)
		fatal_told(EXIT_PROTO, len > 0 && b[0] != PROTOCOL_VERSION ?
		    "parameters differ: protocol version" : NULL, "peer %s %s",
		    peer, err);
	if (compare(us, &them, err, sizeof(err), &what) < 0) {
		/* the option's name only: the peer has our values anyway */
		snprintf(told, sizeof(told), "parameters differ: %s", what);
		fatal_told(EXIT_PROTO, told, "%s", err);
	}
}

uint32_t
shard_of(const uint8_t *key, size_t len, uint32_t n)
{
	static const uint8_t label[] = "psi-stream shard";
	crypto_generichash_state st;
	uint8_t h[8];
	uint64_t v;

	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	crypto_generichash_update(&st, label, sizeof(label) - 1);
	crypto_generichash_update(&st, key, len);
	crypto_generichash_final(&st, h, sizeof(h));
	v = get_u64(h);
	return (uint32_t)(v % n) + 1;
}
