/*
 * t_noise.c: Noise_XX and Noise_XXpsk3 (25519, ChaChaPoly, BLAKE2b) against
 * the Cacophony vectors in tests/vectors/noise-25519-chachapoly-blake2b.json,
 * read at run time: every handshake message byte for byte as written by
 * each role, every payload as read by each role, the final handshake hash
 * (h after the last handshake message), and the transport messages that
 * follow.  Negative twins: a flipped bit anywhere in
 * a handshake or transport message is rejected; a truncated message is
 * rejected; a wrong PSK fails at message 3; an unexpected responder key
 * shows in noise_remote_static; the nonce never reaches 2^64-1; calls out
 * of turn fail.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "noise.h"
#include "tap.h"

/* ---- a tiny JSON reader: objects, arrays and strings only ------------- */

enum jtype { J_STR, J_ARR, J_OBJ };

struct jv {
	enum jtype	type;
	char		*str;		/* J_STR */
	size_t		n;		/* J_ARR, J_OBJ: number of items */
	char		**keys;		/* J_OBJ */
	struct jv	**items;
};

struct jparser {
	const char	*p, *end;
	int		depth;
};

static struct jv *jparse_value(struct jparser *);

static void
jskip(struct jparser *jp)
{
	while (jp->p < jp->end && (*jp->p == ' ' || *jp->p == '\n' ||
	    *jp->p == '\r' || *jp->p == '\t'))
		jp->p++;
}

static int
jexpect(struct jparser *jp, char c)
{
	jskip(jp);
	if (jp->p >= jp->end || *jp->p != c)
		return -1;
	jp->p++;
	return 0;
}

/* A string without escapes other than \" and \\ (all the file needs). */
static char *
jparse_string(struct jparser *jp)
{
	char *s, *o;

	if (jexpect(jp, '"') != 0)
		return NULL;
	s = o = malloc((size_t)(jp->end - jp->p) + 1);
	if (s == NULL)
		return NULL;
	while (jp->p < jp->end && *jp->p != '"') {
		if (*jp->p == '\\') {
			if (++jp->p >= jp->end || (*jp->p != '"' &&
			    *jp->p != '\\'))
				goto bad;
		}
		*o++ = *jp->p++;
	}
	if (jp->p >= jp->end)
		goto bad;
	jp->p++;
	*o = '\0';
	return s;
bad:
	free(s);
	return NULL;
}

static void
jfree(struct jv *v)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < v->n; i++) {
		if (v->keys != NULL)
			free(v->keys[i]);
		jfree(v->items[i]);
	}
	free(v->keys);
	free(v->items);
	free(v->str);
	free(v);
}

/* Add an item (and key, for objects) to a container. */
static int
jpush(struct jv *v, char *key, struct jv *item)
{
	struct jv **items;
	char **keys;

	items = realloc(v->items, (v->n + 1) * sizeof(*items));
	if (items == NULL)
		return -1;
	v->items = items;
	if (v->type == J_OBJ) {
		keys = realloc(v->keys, (v->n + 1) * sizeof(*keys));
		if (keys == NULL)
			return -1;
		v->keys = keys;
		keys[v->n] = key;
	}
	items[v->n++] = item;
	return 0;
}

static struct jv *
jparse_container(struct jparser *jp, enum jtype type)
{
	struct jv *v = calloc(1, sizeof(*v)), *item;
	char close = type == J_OBJ ? '}' : ']', *key = NULL;

	if (v == NULL || ++jp->depth > 16)
		goto bad;
	v->type = type;
	jp->p++;
	jskip(jp);
	if (jp->p < jp->end && *jp->p == close) {
		jp->p++;
		jp->depth--;
		return v;
	}
	for (;;) {
		key = NULL;
		if (type == J_OBJ && ((key = jparse_string(jp)) == NULL ||
		    jexpect(jp, ':') != 0))
			goto bad;
		if ((item = jparse_value(jp)) == NULL)
			goto bad;
		if (jpush(v, key, item) != 0) {
			jfree(item);
			goto bad;
		}
		jskip(jp);
		if (jp->p < jp->end && *jp->p == ',') {
			jp->p++;
			continue;
		}
		if (jexpect(jp, close) != 0) {
			key = NULL;
			goto bad;
		}
		jp->depth--;
		return v;
	}
bad:
	free(key);
	jfree(v);
	return NULL;
}

static struct jv *
jparse_value(struct jparser *jp)
{
	struct jv *v;

	jskip(jp);
	if (jp->p >= jp->end)
		return NULL;
	if (*jp->p == '{')
		return jparse_container(jp, J_OBJ);
	if (*jp->p == '[')
		return jparse_container(jp, J_ARR);
	if (*jp->p != '"' || (v = calloc(1, sizeof(*v))) == NULL)
		return NULL;
	v->type = J_STR;
	if ((v->str = jparse_string(jp)) == NULL) {
		free(v);
		return NULL;
	}
	return v;
}

static struct jv *
jget(const struct jv *obj, const char *key, enum jtype type)
{
	size_t i;

	if (obj == NULL || obj->type != J_OBJ)
		return NULL;
	for (i = 0; i < obj->n; i++)
		if (strcmp(obj->keys[i], key) == 0)
			return obj->items[i]->type == type ? obj->items[i] :
			    NULL;
	return NULL;
}

static struct jv *
jload(const char *path)
{
	FILE *f;
	char *buf;
	long len;
	struct jparser jp;
	struct jv *v = NULL;

	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) > 0 &&
	    len < (1L << 24) && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)len)) != NULL) {
		if (fread(buf, 1, (size_t)len, f) == (size_t)len) {
			jp.p = buf;
			jp.end = buf + len;
			jp.depth = 0;
			v = jparse_value(&jp);
			jskip(&jp);
			if (v != NULL && jp.p != jp.end) {
				jfree(v);
				v = NULL;
			}
		}
		free(buf);
	}
	fclose(f);
	return v;
}

/* ---- test vectors ------------------------------------------------------ */

struct bytes {
	uint8_t		*p;
	size_t		n;
};

#define MAXMSG	16

struct vec {
	const char	*name;
	int		psk_mode;
	struct bytes	prologue, init_s, init_e, resp_s, resp_e, psk, hash;
	struct bytes	payload[MAXMSG], ct[MAXMSG];
	size_t		nmsg;
};

static int
hexfield(const struct jv *obj, const char *key, struct bytes *b)
{
	const struct jv *s = jget(obj, key, J_STR);
	size_t len;

	b->p = NULL;
	b->n = 0;
	if (s == NULL)
		return -1;
	len = strlen(s->str);
	if (len % 2 != 0)
		return -1;
	b->n = len / 2;
	b->p = malloc(b->n ? b->n : 1);
	if (b->p == NULL || sodium_hex2bin(b->p, b->n, s->str, len, NULL,
	    NULL, NULL) != 0)
		return -1;
	return 0;
}

/* The PSK: "init_psk" here, "init_psks" (a one-element array) elsewhere. */
static int
pskfield(const struct jv *obj, const char *prefix, struct bytes *b)
{
	char key[32];
	const struct jv *arr;
	struct jv wrap;
	char *k = "x";

	snprintf(key, sizeof(key), "%s_psk", prefix);
	if (hexfield(obj, key, b) == 0)
		return 0;
	free(b->p);
	snprintf(key, sizeof(key), "%s_psks", prefix);
	arr = jget(obj, key, J_ARR);
	if (arr == NULL || arr->n != 1)
		return -1;
	wrap.type = J_OBJ;
	wrap.n = 1;
	wrap.keys = &k;
	wrap.items = (struct jv **)&arr->items[0];
	return hexfield(&wrap, "x", b);
}

static int
load_vec(const struct jv *o, struct vec *v)
{
	const struct jv *msgs;
	struct bytes rpro, rpsk;
	size_t i;
	int rc = 0;

	memset(v, 0, sizeof(*v));
	v->name = jget(o, "protocol_name", J_STR)->str;
	v->psk_mode = strstr(v->name, "psk") != NULL;
	rc |= hexfield(o, "init_prologue", &v->prologue);
	rc |= hexfield(o, "resp_prologue", &rpro);
	rc |= rpro.n != v->prologue.n ||
	    memcmp(rpro.p, v->prologue.p, rpro.n) != 0;
	free(rpro.p);
	rc |= hexfield(o, "init_static", &v->init_s) || v->init_s.n != 32;
	rc |= hexfield(o, "init_ephemeral", &v->init_e) || v->init_e.n != 32;
	rc |= hexfield(o, "resp_static", &v->resp_s) || v->resp_s.n != 32;
	rc |= hexfield(o, "resp_ephemeral", &v->resp_e) || v->resp_e.n != 32;
	rc |= hexfield(o, "handshake_hash", &v->hash) ||
	    v->hash.n != NOISE_HASH;
	if (v->psk_mode) {
		rc |= pskfield(o, "init", &v->psk) || v->psk.n != 32;
		rc |= pskfield(o, "resp", &rpsk) || rpsk.n != 32 ||
		    memcmp(rpsk.p, v->psk.p, 32) != 0;
		free(rpsk.p);
	}
	msgs = jget(o, "messages", J_ARR);
	if (msgs == NULL || msgs->n < 3 || msgs->n > MAXMSG)
		return -1;
	v->nmsg = msgs->n;
	for (i = 0; i < msgs->n; i++) {
		rc |= hexfield(msgs->items[i], "payload", &v->payload[i]);
		rc |= hexfield(msgs->items[i], "ciphertext", &v->ct[i]);
	}
	return rc ? -1 : 0;
}

static void
free_vec(struct vec *v)
{
	size_t i;

	free(v->prologue.p);
	free(v->init_s.p);
	free(v->init_e.p);
	free(v->resp_s.p);
	free(v->resp_e.p);
	free(v->psk.p);
	free(v->hash.p);
	for (i = 0; i < v->nmsg; i++) {
		free(v->payload[i].p);
		free(v->ct[i].p);
	}
}

/* ---- helpers ----------------------------------------------------------- */

static uint8_t buf[NOISE_MAX_MSG + 64], pbuf[NOISE_MAX_MSG + 64];

static int
same(const uint8_t *a, size_t an, const struct bytes *b)
{
	return an == b->n && (an == 0 || memcmp(a, b->p, an) == 0);
}

/* A handshake pair with the vector's keys; psk overrides the responder's. */
static void
new_pair(const struct vec *v, struct noise_hs **i, struct noise_hs **r,
    const uint8_t *resp_psk, const uint8_t *resp_static)
{
	*i = noise_hs_new(1, v->init_s.p, v->psk_mode ? v->psk.p : NULL,
	    v->prologue.p, v->prologue.n);
	*r = noise_hs_new(0, resp_static ? resp_static : v->resp_s.p,
	    v->psk_mode ? (resp_psk ? resp_psk : v->psk.p) : NULL,
	    v->prologue.p, v->prologue.n);
	noise_hs_set_ephemeral(*i, v->init_e.p);
	noise_hs_set_ephemeral(*r, v->resp_e.p);
}

/*
 * Run the three handshake messages between i and r, damaging message
 * `bad` (-1: none) by flipping bit `pos` or, with trunc, cutting it to pos
 * bytes.  Returns the index of the message whose reading (or writing)
 * failed, or 3 when both sides finished.
 */
static int
handshake(const struct vec *v, struct noise_hs *i, struct noise_hs *r,
    int bad, size_t pos, int trunc)
{
	struct noise_hs *w, *rd;
	size_t len, plen;
	int m;

	for (m = 0; m < 3; m++) {
		w = m % 2 == 0 ? i : r;
		rd = m % 2 == 0 ? r : i;
		if (noise_write_message(w, v->payload[m].p, v->payload[m].n,
		    buf, sizeof(buf), &len) != 0)
			return m;
		if (m == bad) {
			if (trunc)
				len = pos;
			else
				buf[pos / 8] ^= (uint8_t)(1 << (pos % 8));
		}
		if (noise_read_message(rd, buf, len, pbuf, sizeof(pbuf),
		    &plen) != 0)
			return m;
	}
	return noise_hs_finished(i) && noise_hs_finished(r) ? 3 : -1;
}

/* ---- the vector tests -------------------------------------------------- */

static void
test_vector(const struct vec *v)
{
	struct noise_hs *i, *r, *w, *rd;
	struct noise_cipher *ic, *rc;	/* [0] send, [1] recv */
	uint8_t h[NOISE_HASH];
	size_t len, plen, m;
	int good;

	ic = sodium_malloc(2 * sizeof(*ic));
	rc = sodium_malloc(2 * sizeof(*rc));
	new_pair(v, &i, &r, NULL, NULL);
	for (m = 0; m < 3; m++) {
		w = m % 2 == 0 ? i : r;
		rd = m % 2 == 0 ? r : i;
		good = noise_write_message(w, v->payload[m].p, v->payload[m].n,
		    buf, sizeof(buf), &len) == 0;
		ok(good && same(buf, len, &v->ct[m]),
		    "%s: message %zu written by the %s matches", v->name, m + 1,
		    m % 2 == 0 ? "initiator" : "responder");
		/* the reader gets the vector's bytes, not the writer's */
		good = noise_read_message(rd, v->ct[m].p, v->ct[m].n, pbuf,
		    sizeof(pbuf), &plen) == 0;
		ok(good && same(pbuf, plen, &v->payload[m]),
		    "%s: message %zu read by the %s gives the payload", v->name,
		    m + 1, m % 2 == 0 ? "responder" : "initiator");
		if (m == 1) {
			/* negative twin: an intermediate h is not the final */
			noise_handshake_hash(i, h);
			ok(!same(h, sizeof(h), &v->hash), "%s: h after message "
			    "2 is not the vector's handshake hash", v->name);
		}
	}
	ok(noise_hs_finished(i) && noise_hs_finished(r),
	    "%s: both sides finished", v->name);
	/* the final h: after message 3's payload (MixHash of its ciphertext) */
	noise_handshake_hash(i, h);
	ok(same(h, sizeof(h), &v->hash), "%s: initiator's handshake hash",
	    v->name);
	noise_handshake_hash(r, h);
	ok(same(h, sizeof(h), &v->hash), "%s: responder's handshake hash",
	    v->name);
	ok(memcmp(noise_remote_static(i), noise_remote_static(r), 32) != 0,
	    "%s: each side holds the other's static key", v->name);
	ok(noise_split(i, &ic[0], &ic[1]) == 0 &&
	    noise_split(r, &rc[0], &rc[1]) == 0, "%s: split", v->name);
	ok(noise_split(i, &ic[0], &ic[1]) != 0, "%s: split only once",
	    v->name);

	/* transport messages keep alternating: 4th from the responder, ... */
	for (m = 3; m < v->nmsg; m++) {
		struct noise_cipher *snd = m % 2 == 0 ? &ic[0] : &rc[0];
		struct noise_cipher *rcv = m % 2 == 0 ? &rc[1] : &ic[1];

		good = noise_encrypt(snd, v->payload[m].p, v->payload[m].n,
		    buf) == 0;
		ok(good && same(buf, v->payload[m].n + NOISE_TAG, &v->ct[m]),
		    "%s: transport message %zu encrypted by the %s matches",
		    v->name, m + 1, m % 2 == 0 ? "initiator" : "responder");

		/* every single-bit flip is rejected and leaves n alone */
		memcpy(buf, v->ct[m].p, v->ct[m].n);
		good = 1;
		for (len = 0; len < 8 * v->ct[m].n; len++) {
			buf[len / 8] ^= (uint8_t)(1 << (len % 8));
			good &= noise_decrypt(rcv, buf, v->ct[m].n, pbuf) != 0;
			buf[len / 8] ^= (uint8_t)(1 << (len % 8));
		}
		ok(good, "%s: transport message %zu: every bit flip rejected",
		    v->name, m + 1);
		ok(noise_decrypt(rcv, buf, v->ct[m].n - 1, pbuf) != 0 &&
		    noise_decrypt(rcv, buf, NOISE_TAG - 1, pbuf) != 0,
		    "%s: transport message %zu: truncated rejected", v->name,
		    m + 1);
		good = noise_decrypt(rcv, v->ct[m].p, v->ct[m].n, pbuf) == 0;
		ok(good && same(pbuf, v->ct[m].n - NOISE_TAG, &v->payload[m]),
		    "%s: transport message %zu decrypted by the %s", v->name,
		    m + 1, m % 2 == 0 ? "responder" : "initiator");
		ok(noise_decrypt(rcv, v->ct[m].p, v->ct[m].n, pbuf) != 0,
		    "%s: transport message %zu: replay rejected", v->name,
		    m + 1);
	}
	noise_hs_free(i);
	noise_hs_free(r);
	sodium_free(ic);
	sodium_free(rc);
}

/* Every bit of every handshake message, flipped one at a time. */
static void
test_flips(const struct vec *v)
{
	struct noise_hs *i, *r;
	size_t len, pos, mlen;
	int m, res, good;

	for (m = 0; m < 3; m++) {
		mlen = v->ct[m].n;
		good = 1;
		for (pos = 0; pos < 8 * mlen; pos++) {
			new_pair(v, &i, &r, NULL, NULL);
			res = handshake(v, i, r, m, pos, 0);
			/*
			 * Without a key yet (XX message 1) nothing can be
			 * checked on arrival; the damage then surfaces as the
			 * transcript hash mismatch at message 2.
			 */
			if (m == 0 && !v->psk_mode)
				good &= res == 1;
			else
				good &= res == m;
			noise_hs_free(i);
			noise_hs_free(r);
		}
		ok(good, "%s: every bit flip in message %d (%zu bits) rejected",
		    v->name, m + 1, 8 * mlen);

		good = 1;
		for (len = 0; len < mlen; len++) {
			new_pair(v, &i, &r, NULL, NULL);
			res = handshake(v, i, r, m, len, 1);
			good &= res == m || (m == 0 && !v->psk_mode &&
			    len >= 32 && res == 1);
			noise_hs_free(i);
			noise_hs_free(r);
		}
		ok(good, "%s: message %d truncated to any shorter length "
		    "rejected", v->name, m + 1);
	}
}

static void
test_wrong_keys(const struct vec *v)
{
	struct noise_hs *i, *r;
	uint8_t bad[32], pub[32], mallory[32], mpub[32];

	if (v->psk_mode) {
		memcpy(bad, v->psk.p, 32);
		bad[31] ^= 1;
		new_pair(v, &i, &r, bad, NULL);
		ok(handshake(v, i, r, -1, 0, 0) == 2,
		    "%s: wrong PSK fails at message 3", v->name);
		ok(noise_write_message(r, NULL, 0, buf, sizeof(buf),
		    &(size_t){0}) != 0 && noise_read_message(r, buf, 64, pbuf,
		    sizeof(pbuf), &(size_t){0}) != 0,
		    "%s: a failed handshake stays failed", v->name);
		noise_hs_free(i);
		noise_hs_free(r);

		i = noise_hs_new(1, v->init_s.p, NULL, v->prologue.p,
		    v->prologue.n);
		r = noise_hs_new(0, v->resp_s.p, v->psk.p, v->prologue.p,
		    v->prologue.n);
		ok(handshake(v, i, r, -1, 0, 0) < 3,
		    "%s: responder with PSK refuses an initiator without",
		    v->name);
		noise_hs_free(i);
		noise_hs_free(r);
	}

	/* A different responder completes the handshake, visibly. */
	randombytes_buf(mallory, sizeof(mallory));
	noise_pubkey(mpub, mallory);
	noise_pubkey(pub, v->resp_s.p);
	new_pair(v, &i, &r, NULL, mallory);
	ok(noise_remote_static(i) == NULL,
	    "%s: no remote static key before message 2", v->name);
	ok(handshake(v, i, r, -1, 0, 0) == 3 &&
	    memcmp(noise_remote_static(i), pub, 32) != 0 &&
	    memcmp(noise_remote_static(i), mpub, 32) == 0,
	    "%s: an unexpected responder key shows in noise_remote_static",
	    v->name);
	noise_pubkey(pub, v->init_s.p);
	ok(memcmp(noise_remote_static(r), pub, 32) == 0,
	    "%s: responder sees the initiator's static key", v->name);
	noise_hs_free(i);
	noise_hs_free(r);

	/* The prologue is bound into the transcript. */
	i = noise_hs_new(1, v->init_s.p, v->psk_mode ? v->psk.p : NULL,
	    v->prologue.p, v->prologue.n);
	r = noise_hs_new(0, v->resp_s.p, v->psk_mode ? v->psk.p : NULL,
	    (const uint8_t *)"other", 5);
	ok(handshake(v, i, r, -1, 0, 0) < 3, "%s: prologue mismatch fails",
	    v->name);
	noise_hs_free(i);
	noise_hs_free(r);
}

/* ---- tests that need no vector ----------------------------------------- */

static void
test_random_roundtrip(int psk)
{
	struct noise_hs *i, *r;
	struct noise_cipher *c;	/* i send, i recv, r send, r recv */
	uint8_t is[32], rs[32], key[32], hi[NOISE_HASH], hr[NOISE_HASH];
	static uint8_t big[NOISE_MAX_MSG];
	size_t len, plen;
	int good = 1, m;

	c = sodium_malloc(4 * sizeof(*c));
	randombytes_buf(is, 32);
	randombytes_buf(rs, 32);
	randombytes_buf(key, 32);
	randombytes_buf(big, sizeof(big));
	i = noise_hs_new(1, is, psk ? key : NULL, NULL, 0);
	r = noise_hs_new(0, rs, psk ? key : NULL, NULL, 0);
	ok(noise_read_message(i, buf, 32, pbuf, sizeof(pbuf), &plen) != 0,
	    "psk=%d: initiator cannot read first", psk);
	noise_hs_free(i);
	i = noise_hs_new(1, is, psk ? key : NULL, NULL, 0);
	ok(noise_write_message(r, NULL, 0, buf, sizeof(buf), &len) != 0,
	    "psk=%d: responder cannot write first", psk);
	noise_hs_free(r);
	r = noise_hs_new(0, rs, psk ? key : NULL, NULL, 0);
	ok(noise_write_message(i, NULL, 0, buf, 31, &len) != 0,
	    "psk=%d: too small an output buffer is refused", psk);
	noise_hs_free(i);
	i = noise_hs_new(1, is, psk ? key : NULL, NULL, 0);
	ok(noise_split(i, &c[0], &c[1]) != 0,
	    "psk=%d: split before the end is refused", psk);
	for (m = 0; m < 3; m++) {
		struct noise_hs *w = m % 2 == 0 ? i : r;
		struct noise_hs *rd = m % 2 == 0 ? r : i;

		good &= noise_write_message(w, big, m == 2 ? 1000 : 0, buf,
		    sizeof(buf), &len) == 0;
		good &= noise_read_message(rd, buf, len, pbuf, sizeof(pbuf),
		    &plen) == 0;
		good &= plen == (m == 2 ? 1000u : 0u);
	}
	noise_handshake_hash(i, hi);
	noise_handshake_hash(r, hr);
	ok(good && memcmp(hi, hr, sizeof(hi)) == 0,
	    "psk=%d: random ephemerals: handshake completes, hashes agree",
	    psk);
	ok(noise_write_message(i, NULL, 0, buf, sizeof(buf), &len) != 0,
	    "psk=%d: no fourth handshake message", psk);
	noise_split(i, &c[0], &c[1]);
	noise_split(r, &c[2], &c[3]);
	good = noise_encrypt(&c[0], big, NOISE_MAX_MSG - NOISE_TAG, buf) == 0;
	good &= noise_decrypt(&c[3], buf, NOISE_MAX_MSG, pbuf) == 0;
	good &= memcmp(pbuf, big, NOISE_MAX_MSG - NOISE_TAG) == 0;
	ok(good, "psk=%d: a maximum-size transport message", psk);
	ok(noise_encrypt(&c[0], big, NOISE_MAX_MSG - NOISE_TAG + 1, buf) != 0,
	    "psk=%d: an over-size transport message is refused", psk);
	good = noise_encrypt(&c[2], NULL, 0, buf) == 0;
	good &= noise_decrypt(&c[1], buf, NOISE_TAG, pbuf) == 0;
	ok(good, "psk=%d: an empty transport message, other direction", psk);
	ok(noise_decrypt(&c[3], buf, NOISE_TAG, pbuf) != 0,
	    "psk=%d: a message does not decrypt in the wrong direction", psk);

	/* The last nonce is reserved: encrypt and decrypt refuse it. */
	c[0].n = UINT64_MAX - 1;
	c[3].n = UINT64_MAX - 1;
	good = noise_encrypt(&c[0], big, 10, buf) == 0;
	good &= noise_decrypt(&c[3], buf, 10 + NOISE_TAG, pbuf) == 0;
	ok(good && c[0].n == UINT64_MAX,
	    "psk=%d: nonce 2^64-2 is the last one used", psk);
	ok(noise_encrypt(&c[0], big, 10, buf) != 0 && c[0].n == UINT64_MAX,
	    "psk=%d: encrypt refuses at n = 2^64-1", psk);
	ok(noise_decrypt(&c[3], buf, 10 + NOISE_TAG, pbuf) != 0,
	    "psk=%d: decrypt refuses at n = 2^64-1", psk);
	sodium_memzero(c, 4 * sizeof(*c));
	sodium_free(c);
	noise_hs_free(i);
	noise_hs_free(r);
}

int
main(void)
{
	struct jv *root, *vectors;
	struct vec v;
	size_t k, used = 0;

	if (sodium_init() < 0) {
		puts("Bail out! sodium_init failed");
		return 1;
	}
	root = jload(VECTORS_DIR "/noise-25519-chachapoly-blake2b.json");
	vectors = jget(root, "vectors", J_ARR);
	ok(vectors != NULL, "parsed the vector file");
	for (k = 0; vectors != NULL && k < vectors->n; k++) {
		struct jv *name = jget(vectors->items[k], "protocol_name",
		    J_STR);

		if (name == NULL || (strcmp(name->str,
		    "Noise_XX_25519_ChaChaPoly_BLAKE2b") != 0 &&
		    strcmp(name->str,
		    "Noise_XXpsk3_25519_ChaChaPoly_BLAKE2b") != 0))
			continue;
		used++;
		if (!ok(load_vec(vectors->items[k], &v) == 0,
		    "vector %zu (%s) is well formed", k, name->str)) {
			free_vec(&v);
			continue;
		}
		test_vector(&v);
		test_flips(&v);
		test_wrong_keys(&v);
		free_vec(&v);
	}
	ok(used == 2, "found both of our protocols in the vectors (%zu)",
	    used);
	jfree(root);
	test_random_roundtrip(0);
	test_random_roundtrip(1);
	return done_testing();
}
