/*
 * prf.c: `psi-stream prf --oprf-key FILE`: one line of 128 lowercase hex
 * digits per key, the RFC 9497 Evaluate output, in input order.
 *
 * Keys are read in batches (engine.h's key_batch: up to 1024 keys or
 * 256 KiB of key bytes), evaluated on the worker pool and printed in order, so -j N changes the
 * speed and never the output.  The key is read into sodium_malloc memory
 * and wiped.
 */
#include <stdio.h>
#include <stdlib.h>

#include <sodium.h>

#include "engine.h"
#include "oprf.h"
#include "output.h"
#include "pool.h"
#include "peers.h"
#include "prf.h"
#include "records.h"
#include "util.h"

struct batch {
	const uint8_t		*sk;
	struct key_batch	*kb;
	uint8_t			 out[KEY_BATCH][OPRF_OUT];
};

static int
job(void *arg, size_t lo, size_t hi)
{
	struct batch *b = arg;

	for (size_t i = lo; i < hi; i++)
		if (oprf_evaluate(b->out[i], b->sk, KB_KEY(b->kb, i),
		    KB_LEN(b->kb, i)) < 0)
			return -1;
	return 0;
}

/* The key file is a secret: read like a private key (peers.c), with a
 * mode check and into sodium memory, never through stdio. */
static void
load_key(uint8_t *sk, const char *keyfile)
{
	enum { CAP = 200 };
	char *text = xsodium_malloc(CAP);
	size_t len = peers_read_secret(keyfile, "OPRF key file", text, CAP);
	int bad = oprf_parse_key_hex(sk, text, len) < 0;

	sodium_memzero(text, CAP);
	sodium_free(text);
	if (bad)
		fatal(EXIT_USAGE, "%s: not an OPRF key (want 64 hex digits of "
		    "a canonical non-zero scalar)", keyfile);
}

static void
flush(struct pool *pool, struct batch *b, struct output *o)
{
	char hex[2 * OPRF_OUT + 2];

	if (pool_run(pool, job, b, b->kb->n) < 0)
		fatal(EXIT_IO, "a key cannot be evaluated");
	for (size_t i = 0; i < b->kb->n; i++) {
		hex_encode(hex, b->out[i], OPRF_OUT);
		hex[2 * OPRF_OUT] = '\n';
		hex[2 * OPRF_OUT + 1] = '\0';
		output_text(o, hex);
	}
	kb_clear(b->kb, 0);
}

int
cmd_prf(const char *keyfile, const struct rec_opts *rec, char **files,
    int nfiles, int threads)
{
	uint8_t *sk = xsodium_malloc(OPRF_SCALAR);
	struct batch *b = xcalloc(1, sizeof(*b));
	struct rec_reader *rr;
	struct record r;
	struct output *o;
	struct pool *pool;

	if (keyfile == NULL)
		fatal(EXIT_USAGE, "prf needs --oprf-key FILE");
	load_key(sk, keyfile);
	b->sk = sk;
	b->kb = kb_new();
	kb_clear(b->kb, 0);
	pool = pool_new(threads);
	rr = rec_open(rec, files, nfiles);
	o = output_open(NULL, '\n');
	while (rec_next(rr, &r)) {
		if (!kb_fits(b->kb, r.keylen))
			flush(pool, b, o);
		kb_add(b->kb, r.key, r.keylen);
	}
	if (b->kb->n > 0)
		flush(pool, b, o);
	output_commit(o);
	rec_close(rr);
	pool_free(pool);
	sodium_free(sk);
	kb_free(b->kb);
	free(b);
	return EXIT_OK;
}
