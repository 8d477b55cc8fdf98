/*
 * t_oprf.c: unit tests of oprf.c.  Covers, with vectors read at run time
 * from VECTORS_DIR:
 * - RFC 9497 A.1.1 (rfc9497-ristretto255-sha512-oprf.txt): skSm from Seed
 *   and KeyInfo; per vector BlindedElement (fixed Blind), EvaluationElement,
 *   Output via Finalize and Output via Evaluate, byte for byte;
 * - RFC 9380 K.3 (rfc9380-k3-expand-message-xmd-sha512.txt);
 * - oprf-xcheck.txt: Evaluate outputs from other RFC 9497 implementations
 *   on random keys and inputs of 0 to 65535 bytes;
 * - batch unblinding (Montgomery's trick) against one-by-one Finalize;
 * - negative twins: a corrupted byte fails the comparison, invalid or
 *   identity elements, zero blinds, bad key text, over-long inputs and
 *   out-of-range expand_message_xmd lengths are all refused.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "oprf.h"
#include "util.h"
#include "tap.h"

#define MAXFIELDS	8

/* One record of a vector file: "Name = hex" lines up to a blank line. */
struct record {
	int		 n;
	const char	*name[MAXFIELDS];
	const char	*value[MAXFIELDS];
};

typedef void (*record_fn)(void *, const struct record *);

static const char *SKSM_HEX =
    "5ebcea5ee37023ccb9fc2d2019f9d7737be85591ae8652ffa9ef0f4d37063b0e";

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static char *
slurp(const char *path)
{
	FILE *f;
	char *buf;
	long n;

	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		return NULL;
	}
	buf = xmalloc((size_t)n + 1);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	} else
		buf[n] = '\0';
	fclose(f);
	return buf;
}

static void
flush(struct record *r, record_fn fn, void *ctx, int *count)
{
	if (r->n > 0) {
		fn(ctx, r);
		(*count)++;
	}
	r->n = 0;
}

/* Calls fn for each record of the file; returns the count, -1 if unreadable. */
static int
read_vectors(const char *file, record_fn fn, void *ctx)
{
	char path[4096], *buf, *line, *next, *eq;
	struct record r = { 0 };
	int count = 0;

	snprintf(path, sizeof(path), "%s/%s", VECTORS_DIR, file);
	if ((buf = slurp(path)) == NULL) {
		diag("cannot read %s", path);
		return -1;
	}
	for (line = buf; line != NULL; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		line = trim(line);
		if (*line == '#')
			continue;
		if (*line == '\0') {
			flush(&r, fn, ctx, &count);
			continue;
		}
		if ((eq = strchr(line, '=')) == NULL || r.n == MAXFIELDS) {
			diag("%s: bad line: %.40s", file, line);
			continue;
		}
		*eq = '\0';
		r.name[r.n] = trim(line);
		r.value[r.n++] = trim(eq + 1);
	}
	flush(&r, fn, ctx, &count);
	free(buf);
	return count;
}

static const char *
field(const struct record *r, const char *name)
{
	int i;

	for (i = 0; i < r->n; i++)
		if (strcmp(r->name[i], name) == 0)
			return r->value[i];
	return NULL;
}

/* Decodes a hex field into a fresh buffer (never NULL) of *len bytes. */
static uint8_t *
field_bytes(const struct record *r, const char *name, size_t *len)
{
	const char *hex = field(r, name);
	size_t hl = hex ? strlen(hex) : 0;
	uint8_t *out = xmalloc(hl / 2 + 1);

	*len = 0;
	if (hex == NULL || hl % 2 != 0 || hex_decode(out, hl / 2, hex, hl) != 0)
		diag("field %s missing or not hex", name);
	else
		*len = hl / 2;
	return out;
}

/* The one comparison every vector check goes through. */
static int
eq_hex(const uint8_t *got, size_t n, const char *want)
{
	uint8_t *w;
	int same;

	if (want == NULL || strlen(want) != 2 * n)
		return 0;
	w = xmalloc(n + 1);
	same = hex_decode(w, n, want, 2 * n) == 0 && memcmp(got, w, n) == 0;
	free(w);
	return same;
}

/* ok() on the comparison, and its twin: one flipped bit must not match. */
static void
check_hex(const uint8_t *got, size_t n, const char *want, const char *what,
    int vec)
{
	uint8_t *bad = xmalloc(n);

	ok(eq_hex(got, n, want), "vector %d: %s", vec, what);
	memcpy(bad, got, n);
	bad[n - 1] ^= 0x01;
	ok(!eq_hex(bad, n, want), "vector %d: %s with a corrupted byte differs",
	    vec, what);
	free(bad);
}

struct rfc_ctx {
	uint8_t	sk[OPRF_SCALAR];
	int	have_key;
	int	vectors;
};

static void
rfc_key(struct rfc_ctx *c, const struct record *r)
{
	uint8_t *seed, *info, pk[OPRF_ELEM], pk2[OPRF_ELEM];
	size_t seedlen, infolen;

	seed = field_bytes(r, "Seed", &seedlen);
	info = field_bytes(r, "KeyInfo", &infolen);
	ok(seedlen == 32 && oprf_derive_key_pair(c->sk, pk, seed, info,
	    infolen) == 0, "DeriveKeyPair runs");
	check_hex(c->sk, OPRF_SCALAR, field(r, "skSm"), "skSm from Seed, KeyInfo",
	    0);
	ok(crypto_scalarmult_ristretto255_base(pk2, c->sk) == 0 &&
	    memcmp(pk, pk2, OPRF_ELEM) == 0, "DeriveKeyPair: pkS = skS*G");
	c->have_key = 1;
	free(seed);
	free(info);
}

static void
rfc_vector(struct rfc_ctx *c, const struct record *r)
{
	uint8_t *x, *blind, myblind[OPRF_SCALAR], blinded[OPRF_ELEM];
	uint8_t ev[OPRF_ELEM], out[OPRF_OUT], *want_ev;
	size_t xlen, blen, evlen;
	int v = ++c->vectors;

	x = field_bytes(r, "Input", &xlen);
	blind = field_bytes(r, "Blind", &blen);
	want_ev = field_bytes(r, "EvaluationElement", &evlen);
	ok(blen == OPRF_SCALAR && evlen == OPRF_ELEM && c->have_key,
	    "vector %d: fields present", v);

	ok(oprf_blind(myblind, blinded, x, xlen, blind) == 0 &&
	    memcmp(myblind, blind, OPRF_SCALAR) == 0,
	    "vector %d: Blind with the fixed blind", v);
	check_hex(blinded, OPRF_ELEM, field(r, "BlindedElement"),
	    "BlindedElement", v);

	ok(oprf_blind_evaluate(ev, c->sk, blinded) == 0,
	    "vector %d: BlindEvaluate runs", v);
	check_hex(ev, OPRF_ELEM, field(r, "EvaluationElement"),
	    "EvaluationElement", v);

	/* Finalize from the file's element, so each step is checked alone. */
	ok(oprf_finalize(out, x, xlen, blind, want_ev) == 0,
	    "vector %d: Finalize runs", v);
	check_hex(out, OPRF_OUT, field(r, "Output"), "Output via Finalize", v);

	ok(oprf_evaluate(out, c->sk, x, xlen) == 0,
	    "vector %d: Evaluate runs", v);
	check_hex(out, OPRF_OUT, field(r, "Output"), "Output via Evaluate", v);
	free(x);
	free(blind);
	free(want_ev);
}

static void
rfc_record(void *ctx, const struct record *r)
{
	if (field(r, "Seed") != NULL)
		rfc_key(ctx, r);
	else
		rfc_vector(ctx, r);
}

static void
test_rfc9497(void)
{
	struct rfc_ctx c = { .vectors = 0 };

	read_vectors("rfc9497-ristretto255-sha512-oprf.txt", rfc_record, &c);
	ok(c.have_key && c.vectors == 2, "RFC 9497 A.1.1: key and 2 vectors "
	    "read (got %d)", c.vectors);
	sodium_memzero(c.sk, sizeof(c.sk));
}

struct xmd_ctx {
	uint8_t	*dst;
	size_t	 dstlen;
	int	 n, good;
};

static void
xmd_record(void *ctx, const struct record *r)
{
	struct xmd_ctx *c = ctx;
	uint8_t *msg, *out;
	size_t msglen, outlen;
	const char *len = field(r, "LenInBytes");

	if (field(r, "DST") != NULL) {
		c->dst = field_bytes(r, "DST", &c->dstlen);
		return;
	}
	msg = field_bytes(r, "Msg", &msglen);
	outlen = len ? strtoul(len, NULL, 10) : 0;
	out = xmalloc(outlen + 1);
	c->n++;
	if (c->dst != NULL && outlen > 0 && oprf_expand_message_xmd(out,
	    outlen, msg, msglen, c->dst, c->dstlen) == 0 &&
	    eq_hex(out, outlen, field(r, "UniformBytes")))
		c->good++;
	else
		diag("K.3 mismatch: msg of %zu bytes, len %zu", msglen, outlen);
	free(msg);
	free(out);
}

static void
test_xmd(void)
{
	struct xmd_ctx c = { .n = 0 };
	uint8_t big[255 * 64 + 1], dst256[256];

	read_vectors("rfc9380-k3-expand-message-xmd-sha512.txt", xmd_record, &c);
	ok(c.n == 10 && c.good == c.n,
	    "RFC 9380 K.3 expand_message_xmd(SHA-512): %d of %d (want 10)",
	    c.good, c.n);
	free(c.dst);

	memset(dst256, 'A', sizeof(dst256));
	ok(oprf_expand_message_xmd(big, 255 * 64, NULL, 0, dst256, 255) == 0,
	    "expand_message_xmd: 255 blocks and a 255-byte DST accepted");
	ok(oprf_expand_message_xmd(big, 255 * 64 + 1, NULL, 0, dst256, 255) ==
	    -1, "expand_message_xmd: 256 blocks refused");
	ok(oprf_expand_message_xmd(big, 32, NULL, 0, dst256, 256) == -1,
	    "expand_message_xmd: a 256-byte DST refused");
}

struct xcheck_ctx {
	int	n, good, longest;
};

static void
xcheck_record(void *ctx, const struct record *r)
{
	struct xcheck_ctx *c = ctx;
	uint8_t *x, out[OPRF_OUT], sk[OPRF_SCALAR];
	size_t xlen;
	const char *hex = field(r, "Key");

	x = field_bytes(r, "Input", &xlen);
	c->n++;
	if (hex != NULL && oprf_parse_key_hex(sk, hex, strlen(hex)) == 0 &&
	    oprf_evaluate(out, sk, x, xlen) == 0 &&
	    eq_hex(out, OPRF_OUT, field(r, "Output")))
		c->good++;
	else
		diag("xcheck mismatch: input of %zu bytes", xlen);
	if ((int)xlen > c->longest)
		c->longest = (int)xlen;
	free(x);
}

static void
test_xcheck(void)
{
	struct xcheck_ctx c = { .n = 0 };

	read_vectors("oprf-xcheck.txt", xcheck_record, &c);
	ok(c.n >= 20 && c.good == c.n, "cross-check with voprf-ts and noble: "
	    "%d of %d Evaluate outputs agree", c.good, c.n);
	ok(c.longest == OPRF_MAX_INPUT, "cross-check covers a %d-byte input",
	    c.longest);
}

#define NBATCH	50

/* Blind 50 random inputs, evaluate, then unblind as a batch and singly. */
static void
test_batch(void)
{
	uint8_t sk[OPRF_SCALAR], *x[NBATCH], blinds[NBATCH * OPRF_SCALAR];
	uint8_t blinded[OPRF_ELEM], ev[NBATCH * OPRF_ELEM];
	uint8_t un[NBATCH * OPRF_ELEM], tmp[NBATCH * OPRF_SCALAR];
	uint8_t o1[OPRF_OUT], o2[OPRF_OUT], o3[OPRF_OUT], saved[OPRF_ELEM];
	size_t len[NBATCH];
	int i, good = 0, fail = 0;

	oprf_random_scalar(sk);
	for (i = 0; i < NBATCH; i++) {
		len[i] = randombytes_uniform(200);
		x[i] = xmalloc(len[i] + 1);
		randombytes_buf(x[i], len[i]);
		if (oprf_blind(blinds + i * OPRF_SCALAR, blinded, x[i], len[i],
		    NULL) != 0 || oprf_blind_evaluate(ev + i * OPRF_ELEM, sk,
		    blinded) != 0)
			fail++;
	}
	ok(fail == 0, "batch: %d inputs blinded and evaluated", NBATCH);
	ok(oprf_unblind_batch(un, blinds, ev, NBATCH, tmp) == 0,
	    "batch: unblind %d in one inversion", NBATCH);
	for (i = 0; i < NBATCH; i++) {
		oprf_finalize_hash(o1, x[i], len[i], un + i * OPRF_ELEM);
		if (oprf_finalize(o2, x[i], len[i], blinds + i * OPRF_SCALAR,
		    ev + i * OPRF_ELEM) == 0 &&
		    oprf_evaluate(o3, sk, x[i], len[i]) == 0 &&
		    memcmp(o1, o2, OPRF_OUT) == 0 &&
		    memcmp(o1, o3, OPRF_OUT) == 0)
			good++;
	}
	ok(good == NBATCH, "batch: %d of %d equal per-item Finalize and "
	    "Evaluate", good, NBATCH);
	ok(sodium_is_zero(tmp, sizeof(tmp)), "batch: scratch space wiped");

	memset(o1, 0, sizeof(o1));
	if (oprf_unblind_batch(un, blinds + 7 * OPRF_SCALAR, ev + 7 * OPRF_ELEM,
	    1, tmp) == 0)
		oprf_finalize_hash(o1, x[7], len[7], un);
	ok(oprf_finalize(o2, x[7], len[7], blinds + 7 * OPRF_SCALAR,
	    ev + 7 * OPRF_ELEM) == 0 && memcmp(o1, o2, OPRF_OUT) == 0,
	    "batch of one equals Finalize");
	ok(oprf_unblind_batch(un, blinds, ev, 0, tmp) == 0,
	    "batch of zero is a no-op");

	memcpy(saved, ev + 17 * OPRF_ELEM, OPRF_ELEM);
	memset(ev + 17 * OPRF_ELEM, 0xff, OPRF_ELEM);
	ok(oprf_unblind_batch(un, blinds, ev, NBATCH, tmp) == -1,
	    "batch: one invalid element refuses the batch");
	memcpy(ev + 17 * OPRF_ELEM, saved, OPRF_ELEM);
	memset(blinds + 23 * OPRF_SCALAR, 0, OPRF_SCALAR);
	ok(oprf_unblind_batch(un, blinds, ev, NBATCH, tmp) == -1,
	    "batch: one zero blind refuses the batch");

	for (i = 0; i < NBATCH; i++)
		free(x[i]);
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(blinds, sizeof(blinds));
}

/* Elements no peer may send us (RFC 9496 4.3.1 decoding rules). */
static const char *bad_elements[] = {
	"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
	/* s = p = 2^255 - 19: not a canonical field element */
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	/* s = 1: canonical but negative (odd) */
	"0100000000000000000000000000000000000000000000000000000000000000",
	/* the identity */
	"0000000000000000000000000000000000000000000000000000000000000000",
};

static void
test_bad_elements(void)
{
	uint8_t sk[OPRF_SCALAR], blind[OPRF_SCALAR], e[OPRF_ELEM];
	uint8_t out[OPRF_OUT], un[OPRF_ELEM], tmp[OPRF_SCALAR], ev[OPRF_ELEM];
	size_t i;

	oprf_random_scalar(sk);
	oprf_random_scalar(blind);
	for (i = 0; i < sizeof(bad_elements) / sizeof(bad_elements[0]); i++) {
		hex_decode(e, sizeof(e), bad_elements[i], 64);
		ok(oprf_blind_evaluate(out, sk, e) == -1,
		    "BlindEvaluate refuses %.8s...", bad_elements[i]);
		ok(oprf_finalize(out, (const uint8_t *)"x", 1, blind, e) == -1,
		    "Finalize refuses %.8s...", bad_elements[i]);
		ok(oprf_unblind_batch(un, blind, e, 1, tmp) == -1,
		    "batch unblind refuses %.8s...", bad_elements[i]);
	}
	/* A good element, to show the refusals above are about the element. */
	ok(oprf_blind(blind, e, (const uint8_t *)"x", 1, NULL) == 0 &&
	    oprf_blind_evaluate(ev, sk, e) == 0 &&
	    oprf_finalize(out, (const uint8_t *)"x", 1, blind, ev) == 0,
	    "a valid element is accepted");
	memset(blind, 0, sizeof(blind));
	ok(oprf_blind(blind, e, (const uint8_t *)"x", 1, blind) == -1,
	    "Blind refuses a zero blind");
	ok(oprf_finalize(out, (const uint8_t *)"x", 1, blind, ev) == -1,
	    "Finalize refuses a zero blind");
	sodium_memzero(sk, sizeof(sk));
}

static int
parses(const char *text)
{
	uint8_t sk[OPRF_SCALAR];

	return oprf_parse_key_hex(sk, text, strlen(text)) == 0;
}

static void
test_parse_key(void)
{
	uint8_t sk[OPRF_SCALAR];
	char buf[200];

	ok(oprf_parse_key_hex(sk, SKSM_HEX, 64) == 0 &&
	    eq_hex(sk, OPRF_SCALAR, SKSM_HEX), "key: 64 hex digits");
	snprintf(buf, sizeof(buf), "%s\n", SKSM_HEX);
	ok(parses(buf), "key: trailing newline");
	snprintf(buf, sizeof(buf), " \t%s \r\n", SKSM_HEX);
	ok(parses(buf), "key: surrounding white space");
	ok(parses("ecd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010"),
	    "key: L - 1 (largest canonical)");
	ok(parses("0100000000000000000000000000000000000000000000000000000000000000"),
	    "key: 1");
	ok(!parses("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010"),
	    "key: L (non-canonical) refused");
	ok(!parses("ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"),
	    "key: 2^256 - 1 refused");
	ok(!parses("0000000000000000000000000000000000000000000000000000000000000000"),
	    "key: zero refused");
	ok(!parses(SKSM_HEX + 1), "key: 63 hex digits refused");
	snprintf(buf, sizeof(buf), "%s0", SKSM_HEX);
	ok(!parses(buf), "key: 65 hex digits refused");
	snprintf(buf, sizeof(buf), "%s00", SKSM_HEX);
	ok(!parses(buf), "key: 66 hex digits refused");
	ok(!parses(""), "key: empty text refused");
	ok(!parses("\n"), "key: white space only refused");
	snprintf(buf, sizeof(buf), "%.32s %s", SKSM_HEX, SKSM_HEX + 32);
	ok(!parses(buf), "key: inner space refused");
	snprintf(buf, sizeof(buf), "g%s", SKSM_HEX + 1);
	ok(!parses(buf), "key: non-hex digit refused");
	memcpy(buf, SKSM_HEX, 64);
	buf[64] = '\0';
	ok(oprf_parse_key_hex(sk, buf, 65) == -1, "key: trailing NUL refused");
}

static void
test_lengths(void)
{
	uint8_t *x = xcalloc(OPRF_MAX_INPUT + 1, 1);
	uint8_t sk[OPRF_SCALAR], b[OPRF_SCALAR], e[OPRF_ELEM], ev[OPRF_ELEM];
	uint8_t out[OPRF_OUT];

	oprf_random_scalar(sk);
	ok(oprf_blind(b, e, x, OPRF_MAX_INPUT, NULL) == 0 &&
	    oprf_blind_evaluate(ev, sk, e) == 0 &&
	    oprf_finalize(out, x, OPRF_MAX_INPUT, b, ev) == 0 &&
	    oprf_evaluate(out, sk, x, OPRF_MAX_INPUT) == 0,
	    "a 65535-byte input is accepted");
	ok(oprf_hash_to_group(e, x, OPRF_MAX_INPUT + 1) == -1,
	    "HashToGroup refuses 65536 bytes");
	ok(oprf_blind(b, e, x, OPRF_MAX_INPUT + 1, NULL) == -1,
	    "Blind refuses 65536 bytes");
	ok(oprf_finalize(out, x, OPRF_MAX_INPUT + 1, b, ev) == -1,
	    "Finalize refuses 65536 bytes");
	ok(oprf_evaluate(out, sk, x, OPRF_MAX_INPUT + 1) == -1,
	    "Evaluate refuses 65536 bytes");
	ok(oprf_derive_key_pair(b, e, x, x, OPRF_MAX_INPUT + 1) == -1,
	    "DeriveKeyPair refuses 65536 bytes of info");
	free(x);
	sodium_memzero(sk, sizeof(sk));
}

/* Fresh blinds: the same input blinds differently each time. */
static void
test_random(void)
{
	uint8_t b1[OPRF_SCALAR], b2[OPRF_SCALAR], e1[OPRF_ELEM], e2[OPRF_ELEM];

	ok(oprf_blind(b1, e1, (const uint8_t *)"abc", 3, NULL) == 0 &&
	    oprf_blind(b2, e2, (const uint8_t *)"abc", 3, NULL) == 0 &&
	    memcmp(b1, b2, OPRF_SCALAR) != 0 && memcmp(e1, e2, OPRF_ELEM) != 0,
	    "two blinds of one input differ");
}

int
main(void)
{
	if (sodium_init() < 0) {
		puts("Bail out! sodium_init failed");
		return 1;
	}
	test_rfc9497();
	test_xmd();
	test_xcheck();
	test_batch();
	test_bad_elements();
	test_parse_key();
	test_lengths();
	test_random();
	return done_testing();
}
