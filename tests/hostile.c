/*
 * hostile.c: a malicious peer for tests/hostile.sh.  It plays one scripted
 * misbehaviour against a real `psi-stream --insecure` process, using the
 * project's own Noise channel (so the bad frames are properly encrypted
 * and reach the protocol code) or raw bytes (before the handshake).
 *
 *   hostile SCENARIO connect PORT
 *   hostile SCENARIO listen PORTFILE
 *
 * In q-* scenarios we are the querier, in h-* ones the holder; the
 * defaults have the querier connect, but the scenarios after the
 * handshake work either way (psi-stream then needs --role).  The raw
 * ones before the handshake assume the default direction.
 *
 * psi-stream's input is expected to hold three keys; in *-count-*
 * scenarios it runs with --count-only.  After misbehaving we read until psi-stream goes
 * away: if it says why in an ERROR frame, this program prints that on
 * stderr through the channel's own message and exits 6; a plain close
 * gives exit 3.  `hostile list` prints the scenario names.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "channel.h"
#include "digest.h"
#include "baseot.h"
#include "engine-dh.h"
#include "engine-ot.h"
#include "kkrt.h"
#include "gcs.h"
#include "noise.h"
#include "oprf.h"
#include "session.h"
#include "util.h"

static int fd = -1;
static int we_connect;		/* we are the Noise initiator */
static struct channel *ch;
static uint8_t *frame;		/* CH_MAX_PAYLOAD */
static uint64_t nq;		/* keys psi-stream (querier) queried */

/* ---- plumbing -------------------------------------------------------- */

static void
die(const char *what)
{
	fprintf(stderr, "hostile: %s: %s\n", what, strerror(errno));
	exit(99);
}

static const char *peer_port;	/* connect_to's, for a retry */

static void
connect_to(const char *port)
{
	struct sockaddr_in sa;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)atoi(port));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	peer_port = port;
	for (int i = 0; i < 200; i++) {
		if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
			die("socket");
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return;
		close(fd);
		usleep(50000);
	}
	die("connect");
}

static int busy_lfd = -1;	/* h-busy: the listening socket, kept */

static void
listen_on(const char *portfile, int keep)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int lfd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	FILE *f;

	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(lfd, 1) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &len) < 0)
		die("listen");
	if ((f = fopen(portfile, "w")) == NULL)
		die(portfile);
	fprintf(f, "%d\n", ntohs(sa.sin_port));
	fclose(f);
	if ((fd = accept(lfd, NULL, NULL)) < 0)
		die("accept");
	if (keep)
		busy_lfd = lfd;
	else
		close(lfd);
}

static void
raw(const void *p, size_t len)
{
	if (write_all(fd, p, len) < 0)
		die("write");
}

/* A raw message: 16-bit length, then len bytes of b (or of filler). */
static void
raw_msg(size_t len, const uint8_t *b)
{
	uint8_t *m = xmalloc(len + 2);

	m[0] = (uint8_t)(len >> 8);
	m[1] = (uint8_t)len;
	if (b)
		memcpy(m + 2, b, len);
	else
		randombytes_buf(m + 2, len);
	raw(m, len + 2);
	free(m);
}

/* Read and drop whatever comes until the peer closes: exit 3, since a
 * stranger gets no answer. */
static int
drain_raw(void)
{
	char buf[4096];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	return 3;
}

/* Bytes until the peer stops taking them (exit 3), in chunks of n, one
 * chunk every ms milliseconds (0: at once), at most total bytes. */
static int
push_raw(size_t total, size_t n, int ms)
{
	static const uint8_t announce[2] = { 1024 >> 8, 1024 & 0xff };
	uint8_t buf[65536];

	/* a slow one announces the largest handshake message first */
	if (ms > 0 && write_all(fd, announce, 2) < 0)
		return 3;
	for (size_t sent = 0; sent < total; sent += n) {
		randombytes_buf(buf, n);
		if (write_all(fd, buf, n) < 0)
			return 3;
		if (ms > 0)
			usleep((useconds_t)ms * 1000);
	}
	return drain_raw();
}

/* Read frames until psi-stream stops: its ERROR frame ends us with exit
 * 6 (or 4) and its message, a close with exit 3 (see channel.c). */
static void __attribute__((noreturn))
drain(void)
{
	int type;

	for (;;)
		ch_recv(ch, &type, frame);
}

static int
accept_any(void *arg, const uint8_t pub[32], char *why, size_t whylen)
{
	(void)arg; (void)pub; (void)why; (void)whylen;
	return 0;
}

static int count_only;		/* a *-count-* scenario: --count-only */
static int ot;			/* a *-ot-* scenario: --engine ot */

static void
default_params(struct params *p, int role)
{
	memset(p, 0, sizeof(*p));
	p->version = PROTOCOL_VERSION;
	p->role = (uint8_t)role;
	p->engine = ot ? ENGINE_OT : ENGINE_DH;
	p->key_fields = 1;
	p->count_only = (uint8_t)count_only;
}

/* The handshake, carrying our parameters (as encoded, maybe corrupted):
 * in message 3 if we connect, else in HELLO. */
static void
handshake_with(const uint8_t *params, size_t plen)
{
	int initiator = we_connect;
	struct ch_auth auth;
	uint8_t key[32], *peer_params;
	size_t peer_len;

	randombytes_buf(key, sizeof(key));
	auth.s_priv = key;
	auth.psk = NULL;
	auth.check_peer = accept_any;
	auth.arg = NULL;
	ch = ch_new(fd, 10, "psi-stream");
	if (initiator) {
		/* a listener still busy with the case before says so: come
		 * back, as psi-stream's connector does */
		int rc, status;
		for (int i = 0; (rc = ch_try_handshake(ch, 1, &auth, 0, params,
		    plen, NULL, NULL)) == CH_BUSY && i < 100; i++) {
			ch_close(ch);
			usleep(100000);
			connect_to(peer_port);
			ch = ch_new(fd, 10, "psi-stream");
		}
		if (rc != 0) {
			const char *why = ch_failure(ch, &status);
			fatal(status, "%s", why);
		}
		ch_expect(ch, FR_HELLO, frame);
	} else {
		ch_handshake(ch, 0, &auth, NULL, 0, &peer_params, &peer_len);
		free(peer_params);
		ch_send(ch, FR_HELLO, params, plen);
	}
}

static void
handshake(int role)
{
	struct params p;
	uint8_t enc[PARAMS_MAX];

	default_params(&p, role);
	handshake_with(enc, params_encode(&p, enc));
}

static void
send_u64(int type, uint64_t v)
{
	uint8_t b[8];

	put_u64(b, v);
	ch_send(ch, type, b, 8);
}

static uint64_t
expect_u64(int type)
{
	if (ch_expect(ch, type, frame) != 8) {
		fprintf(stderr, "hostile: a %s of the wrong size\n",
		    ch_frame_name(type));
		exit(99);
	}
	return get_u64(frame);
}

/* n valid group elements */
static uint8_t *
elements(size_t n)
{
	uint8_t *e = xmalloc(32 * n + 1);

	for (size_t i = 0; i < n; i++) {
		uint8_t x[8];
		put_u64(x, i);
		if (oprf_hash_to_group(e + 32 * i, x, sizeof(x)) < 0)
			abort();
	}
	return e;
}

/* A GCS chunk of vals[0..n) (t bits, from base). */
static size_t
chunk(uint8_t *out, const u128 *vals, size_t n, unsigned t, u128 base)
{
	size_t used, len;

	len = gcs_encode(out, CH_MAX_PAYLOAD, vals, n, t, gcs_rice_param(t, n),
	    base, &used);
	if (used != n)
		abort();
	return len;
}

/* ---- as the querier (psi-stream is the holder) ------------------------ */

/* The query phase for n keys, honestly.  Returns psi-stream's HCOUNT. */
static uint64_t
q_query(size_t n)
{
	uint8_t *e = elements(n);

	ch_send(ch, FR_QUERY, e, 32 * n);
	if (ch_expect(ch, FR_EVAL, frame) != 32 * n)
		exit(99);
	free(e);
	send_u64(FR_QEND, n);
	return expect_u64(FR_HCOUNT);
}

/* Receive the digest; returns its values (t bits) in *vals. */
static size_t
q_digest(unsigned t, u128 **vals)
{
	u128 base = 0;
	size_t nv = 0;
	int type;

	*vals = xreallocarray(NULL, 1, sizeof(u128));
	for (;;) {
		size_t len = ch_recv(ch, &type, frame);
		if (type == FR_DEND)
			return nv;
		long c = gcs_chunk_count(frame, len);
		*vals = xreallocarray(*vals, nv + (size_t)c, sizeof(u128));
		if (gcs_decode(frame, len, t, &base, *vals + nv, (size_t)c) != c)
			exit(99);
		nv += (size_t)c;
	}
}

static int
querier(const char *s)
{
	struct params p;
	uint8_t enc[PARAMS_MAX], *e;
	size_t plen, n, len;
	uint64_t nh;
	unsigned t;
	u128 *vals, v[4];
	size_t nd;

	/* before or during the handshake: raw bytes */
	if (strcmp(s, "q-close") == 0)		/* a port scan */
		return 3;
	if (strcmp(s, "q-garbage-1m") == 0)
		return push_raw(1 << 20, 65536, 0);
	if (strcmp(s, "q-trickle") == 0)	/* a byte a second, for 60 s */
		return push_raw(60, 1, 1000);
	if (strcmp(s, "q-http") == 0) {
		/* and wait for an answer, as an HTTP client would */
		static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
		raw(req, sizeof(req) - 1);
		return drain_raw();
	}
	if (strcmp(s, "q-empty-msg") == 0) {
		raw("\0\0", 2);
		return drain_raw();
	}
	if (strcmp(s, "q-short-msg1") == 0) {
		raw_msg(16, NULL);
		return drain_raw();
	}
	if (strcmp(s, "q-garbage-msg3") == 0) {
		raw_msg(32, NULL);		/* any 32 bytes make an "e" */
		uint8_t hdr[2], body[65535];
		if (read(fd, hdr, 2) != 2)
			die("read");
		size_t m = (size_t)hdr[0] << 8 | hdr[1];
		for (size_t got = 0; got < m;) {
			ssize_t r = read(fd, body + got, m - got);
			if (r <= 0)
				die("read");
			got += (size_t)r;
		}
		raw_msg(94, NULL);		/* the size of a real message 3 */
		return drain_raw();
	}
	/* bad session parameters in handshake message 3 */
	default_params(&p, ROLE_QUERIER);
	plen = params_encode(&p, enc);
	if (strncmp(s, "q-params-", 9) == 0) {
		if (strcmp(s, "q-params-version") == 0)
			enc[0] = PROTOCOL_VERSION + 1;
		else if (strcmp(s, "q-params-role") == 0)
			enc[1] = ROLE_HOLDER;
		else if (strcmp(s, "q-params-short") == 0)
			plen = 5;
		else if (strcmp(s, "q-params-garbage") == 0) {
			randombytes_buf(enc + 1, plen - 1);
			enc[0] = PROTOCOL_VERSION;
		} else
			return 98;
		handshake_with(enc, plen);
		drain();
	}
	handshake(ROLE_QUERIER);
	/* garbage and odd frames after the handshake */
	if (strcmp(s, "q-garbage") == 0) {
		raw_msg(50, NULL);
		drain();
	}
	if (strcmp(s, "q-oversized") == 0) {
		raw_msg(65535, NULL);
		drain();
	}
	if (strcmp(s, "q-cut-message") == 0) {
		uint8_t part[102] = { 0xff, 0xff };
		raw(part, sizeof(part));
		shutdown(fd, SHUT_WR);
		drain();
	}
	if (strcmp(s, "q-unknown-type") == 0) {
		ch_send(ch, 200, "x", 1);
		drain();
	}
	if (strcmp(s, "q-type-zero") == 0) {
		ch_send(ch, 0, NULL, 0);
		drain();
	}
	if (strcmp(s, "q-error") == 0) {
		static const uint8_t msg[] = "\005hostile \033[2J\033]0;owned\007 end";
		ch_send(ch, FR_ERROR, msg, sizeof(msg) - 1);
		drain();
	}
	/* a frame of the wrong type at each step */
	if (strcmp(s, "q-wrong-hello") == 0) {
		ch_send(ch, FR_HELLO, enc, plen);
		drain();
	}
	if (strcmp(s, "q-wrong-eval") == 0) {
		e = elements(2);
		ch_send(ch, FR_EVAL, e, 64);
		drain();
	}
	if (strcmp(s, "q-wrong-done") == 0) {
		ch_send(ch, FR_DONE, NULL, 0);
		drain();
	}
	if (strcmp(s, "q-wrong-reveal-early") == 0) {
		e = elements(2);
		ch_send(ch, FR_QUERY, e, 64);
		ch_expect(ch, FR_EVAL, frame);
		ch_send(ch, FR_REVEAL, e, 64);
		drain();
	}
	/* QUERY sizes and contents */
	if (strcmp(s, "q-query-odd") == 0) {
		e = elements(2);
		ch_send(ch, FR_QUERY, e, 33);
		drain();
	}
	if (strcmp(s, "q-query-empty") == 0) {
		ch_send(ch, FR_QUERY, NULL, 0);
		drain();
	}
	if (strcmp(s, "q-query-1025") == 0) {
		e = elements(1025);
		ch_send(ch, FR_QUERY, e, 32 * 1025);
		drain();
	}
	if (strcmp(s, "q-query-invalid") == 0) {
		e = elements(2);
		memset(e + 32, 0xff, 32);	/* not a canonical encoding */
		ch_send(ch, FR_QUERY, e, 64);
		drain();
	}
	if (strcmp(s, "q-query-identity") == 0) {
		e = elements(2);
		memset(e, 0, 32);		/* the identity element */
		ch_send(ch, FR_QUERY, e, 64);
		drain();
	}
	if (strcmp(s, "q-qend-mismatch") == 0) {
		e = elements(2);
		ch_send(ch, FR_QUERY, e, 64);
		ch_expect(ch, FR_EVAL, frame);
		send_u64(FR_QEND, 3);
		drain();
	}
	if (strcmp(s, "q-qend-long") == 0) {
		uint8_t b[16] = { 0 };
		ch_send(ch, FR_QEND, b, sizeof(b));
		drain();
	}
	/* --count-only: all queries first, then sorted answers, a count */
	if (strcmp(s, "q-count-early") == 0) {
		send_u64(FR_COUNT, 0);
		drain();
	}
	if (strncmp(s, "q-count-", 8) == 0) {
		e = elements(2);
		ch_send(ch, FR_QUERY, e, 64);
		send_u64(FR_QEND, 2);
		free(e);
		for (size_t got = 0; got < 2;)
			got += ch_expect(ch, FR_EVAL, frame) / 32;
		nh = expect_u64(FR_HCOUNT);
		t = gcs_trunc_bits(2, nh);
		nd = q_digest(t, &vals);
		free(vals);
		if (strcmp(s, "q-count-impossible") == 0)
			send_u64(FR_COUNT, nd + 3);
		else if (strcmp(s, "q-count-short") == 0)
			ch_send(ch, FR_COUNT, frame, 4);
		else if (strcmp(s, "q-count-wrong-type") == 0)
			send_u64(FR_REND, 0);
		else if (strcmp(s, "q-count-honest") == 0) {
			send_u64(FR_COUNT, 0);
			ch_expect(ch, FR_DONE, frame);
			return 0;
		} else
			return 98;
		drain();
	}
	/* the reveal: psi-stream's digest, then bad REVEALs */
	n = 2;
	nh = q_query(n);
	t = gcs_trunc_bits(n, nh);
	nd = q_digest(t, &vals);
	len = 0;
	if (strcmp(s, "q-reveal-wrong-type") == 0) {
		ch_send(ch, FR_DIGEST, frame, 8);
		drain();
	}
	if (strcmp(s, "q-reveal-too-many") == 0) {
		u128 *more = xreallocarray(NULL, nd + 1, sizeof(u128));
		for (size_t i = 0; i < nd + 1; i++)
			more[i] = (u128)(i + 1);
		len = chunk(frame, more, nd + 1, t, 0);
		ch_send(ch, FR_REVEAL, frame, len);
		drain();
	}
	if (strcmp(s, "q-reveal-malformed") == 0) {
		v[0] = 1;
		len = chunk(frame, v, 1, t, 0);
		memset(frame + GCS_HEADER, 0xff, len - GCS_HEADER);
		ch_send(ch, FR_REVEAL, frame, len);
		drain();
	}
	if (strcmp(s, "q-reveal-truncated") == 0) {
		v[0] = vals[0];
		len = chunk(frame, v, 1, t, 0);
		ch_send(ch, FR_REVEAL, frame, GCS_HEADER - 1);
		drain();
	}
	if (strcmp(s, "q-reveal-order") == 0 && nd >= 2) {
		v[0] = vals[1];
		len = chunk(frame, v, 1, t, 0);
		ch_send(ch, FR_REVEAL, frame, len);
		v[0] = vals[1];			/* the same again: not increasing */
		len = chunk(frame, v, 1, t, vals[1]);
		ch_send(ch, FR_REVEAL, frame, len);
		drain();
	}
	if (strcmp(s, "q-reveal-wrong-t") == 0) {
		v[0] = 1;
		len = chunk(frame, v, 1, t - 1, 0);
		ch_send(ch, FR_REVEAL, frame, len);
		drain();
	}
	if (strcmp(s, "q-rend-mismatch") == 0) {
		send_u64(FR_REND, 5);
		drain();
	}
	if (strcmp(s, "q-rend-long") == 0) {
		ch_send(ch, FR_REND, frame, 9);
		drain();
	}
	if (strcmp(s, "q-honest") == 0) {
		send_u64(FR_REND, 0);
		ch_expect(ch, FR_DONE, frame);
		free(vals);
		return 0;
	}
	free(vals);
	return 98;
}

/* ---- as the holder (psi-stream is the querier) ------------------------ */

/* Answer every QUERY with valid elements (or per scenario) until QEND. */
static void
h_answer(void)
{
	uint8_t *e = elements(1024);
	int type;

	for (;;) {
		size_t len = ch_recv(ch, &type, frame);
		if (type == FR_QEND) {
			nq = get_u64(frame);
			break;
		}
		ch_send(ch, FR_EVAL, e, len);
	}
	free(e);
}

static int
holder(const char *s)
{
	struct params p;
	uint8_t enc[PARAMS_MAX], *e;
	size_t plen, len, n;
	unsigned t;
	u128 v[8];
	int type;

	if (strcmp(s, "h-garbage-msg2") == 0) {
		uint8_t hdr[2], body[64];
		if (read(fd, hdr, 2) != 2 || read(fd, body, 32) != 32)
			die("read");
		raw_msg(96, NULL);		/* the size of a real message 2 */
		return drain_raw();
	}
	if (strcmp(s, "h-busy") == 0) {
		/* "busy" (an empty message 2) three times, then honest: the
		 * connector must come back each time */
		for (int i = 0; i < 3; i++) {
			uint8_t b[34];
			if (read(fd, b, 34) != 34)
				die("read");
			raw("\0\0", 2);
			shutdown(fd, SHUT_WR);
			while (read(fd, b, sizeof(b)) > 0)
				;
			close(fd);
			if ((fd = accept(busy_lfd, NULL, NULL)) < 0)
				die("accept");
		}
		close(busy_lfd);
		s = "h-honest";
	}
	default_params(&p, ROLE_HOLDER);
	plen = params_encode(&p, enc);
	if (strcmp(s, "h-params-version") == 0) {
		enc[0] = PROTOCOL_VERSION + 1;
		handshake_with(enc, plen);
		drain();
	}
	if (strcmp(s, "h-params-ctxlen") == 0) {
		enc[15] = 200;			/* more context than sent */
		handshake_with(enc, plen);
		drain();
	}
	if (strcmp(s, "h-no-hello") == 0) {
		struct ch_auth auth;
		uint8_t key[32], *pp;
		size_t pl;
		randombytes_buf(key, sizeof(key));
		auth.s_priv = key;
		auth.psk = NULL;
		auth.check_peer = accept_any;
		auth.arg = NULL;
		ch = ch_new(fd, 10, "psi-stream");
		ch_handshake(ch, 0, &auth, NULL, 0, &pp, &pl);
		e = elements(1);
		ch_send(ch, FR_EVAL, e, 32);
		drain();
	}
	handshake(ROLE_HOLDER);
	if (strcmp(s, "h-unknown-type") == 0) {
		ch_send(ch, 77, NULL, 0);
		drain();
	}
	if (strcmp(s, "h-silent") == 0) {
		/* never answer: psi-stream must give up after --timeout */
		for (;;)
			ch_recv(ch, &type, frame);
	}
	/* --count-only: psi-stream queries everything, then takes answers */
	if (strncmp(s, "h-count-", 8) == 0) {
		for (;;) {
			len = ch_recv(ch, &type, frame);
			if (type == FR_QEND)
				break;
		}
		nq = get_u64(frame);
		e = elements(nq + 1);
		if (strcmp(s, "h-count-eval-more") == 0) {
			ch_send(ch, FR_EVAL, e, 32 * (nq + 1));
			drain();
		}
		if (strcmp(s, "h-count-eval-invalid") == 0)
			memset(e, 0xff, 32);
		ch_send(ch, FR_EVAL, e, 32 * nq);
		free(e);
		send_u64(FR_HCOUNT, 4);
		t = gcs_trunc_bits(nq, 4);
		for (size_t i = 0; i < 8; i++)
			v[i] = (u128)(i + 1) << (t - 8);
		len = chunk(frame, v, 3, t, 0);
		ch_send(ch, FR_DIGEST, frame, len);
		send_u64(FR_DEND, 3);
		ch_expect(ch, FR_COUNT, frame);
		if (strcmp(s, "h-count-honest") == 0)
			ch_send(ch, FR_DONE, NULL, 0);
		else
			ch_send(ch, FR_COUNT, frame, 8);
		drain();
	}
	/* the answers to QUERY */
	if (strncmp(s, "h-eval-", 7) == 0) {
		len = ch_expect(ch, FR_QUERY, frame);
		n = len / 32;
		e = elements(n + 1);
		if (strcmp(s, "h-eval-wrong-type") == 0)
			ch_send(ch, FR_QUERY, e, len);
		else if (strcmp(s, "h-eval-fewer") == 0)
			ch_send(ch, FR_EVAL, e, len - 32);
		else if (strcmp(s, "h-eval-more") == 0)
			ch_send(ch, FR_EVAL, e, len + 32);
		else if (strcmp(s, "h-eval-odd") == 0)
			ch_send(ch, FR_EVAL, e, len - 1);
		else if (strcmp(s, "h-eval-invalid") == 0) {
			memset(e, 0xff, 32);
			ch_send(ch, FR_EVAL, e, len);
		} else if (strcmp(s, "h-eval-identity") == 0) {
			memset(e, 0, 32);
			ch_send(ch, FR_EVAL, e, len);
		} else
			return 98;
		drain();
	}
	h_answer();
	/* HCOUNT */
	if (strcmp(s, "h-wrong-done") == 0) {
		ch_send(ch, FR_DONE, NULL, 0);
		drain();
	}
	if (strcmp(s, "h-hcount-short") == 0) {
		ch_send(ch, FR_HCOUNT, frame, 4);
		drain();
	}
	if (strcmp(s, "h-hcount-huge") == 0) {
		/* 2^63 holder keys, then an empty digest and DONE */
		send_u64(FR_HCOUNT, (uint64_t)1 << 63);
		send_u64(FR_DEND, 0);
		for (;;) {
			ch_recv(ch, &type, frame);
			if (type == FR_REND)
				break;
		}
		ch_send(ch, FR_DONE, NULL, 0);
		drain();
	}
	if (strcmp(s, "h-hcount-huge-digest") == 0) {
		/* 2^40 announced (2^63 is refused outright): a chunk claiming
		 * 2^20 values must not make psi-stream allocate for them
		 * before decoding */
		send_u64(FR_HCOUNT, (uint64_t)1 << 40);
		memset(frame, 0, GCS_HEADER);
		put_u32(frame, GCS_MAX_COUNT);
		frame[4] = (uint8_t)gcs_trunc_bits(nq, (uint64_t)1 << 40);
		frame[5] = 0;
		ch_send(ch, FR_DIGEST, frame, GCS_HEADER + 100);
		drain();
	}
	n = 4;				/* our (pretended) key count */
	send_u64(FR_HCOUNT, n);
	t = gcs_trunc_bits(nq, n);
	for (size_t i = 0; i < 8; i++)
		v[i] = (u128)(i + 1) << (t - 8);
	if (strcmp(s, "h-digest-truncated") == 0) {
		len = chunk(frame, v, 3, t, 0);
		ch_send(ch, FR_DIGEST, frame, len - 1);
		drain();
	}
	if (strcmp(s, "h-digest-malformed") == 0) {
		len = chunk(frame, v, 3, t, 0);
		randombytes_buf(frame + GCS_HEADER, len - GCS_HEADER);
		frame[len - 1] |= 1;		/* padding bits must be 0 */
		ch_send(ch, FR_DIGEST, frame, len + 3);
		drain();
	}
	if (strcmp(s, "h-digest-too-many") == 0) {
		len = chunk(frame, v, 5, t, 0);
		ch_send(ch, FR_DIGEST, frame, len);
		drain();
	}
	if (strcmp(s, "h-digest-order") == 0) {
		len = chunk(frame, v, 2, t, 0);
		ch_send(ch, FR_DIGEST, frame, len);
		len = chunk(frame, v + 1, 1, t, v[1]);	/* v[1] again */
		ch_send(ch, FR_DIGEST, frame, len);
		drain();
	}
	if (strcmp(s, "h-digest-base") == 0) {
		len = chunk(frame, v + 2, 2, t, 0);
		ch_send(ch, FR_DIGEST, frame, len);
		len = chunk(frame, v, 1, t, 0);	/* starts over below */
		ch_send(ch, FR_DIGEST, frame, len);
		drain();
	}
	if (strcmp(s, "h-digest-wrong-t") == 0) {
		len = chunk(frame, v, 2, t + 1, 0);
		ch_send(ch, FR_DIGEST, frame, len);
		drain();
	}
	if (strcmp(s, "h-digest-overcount") == 0) {
		/* A count no payload this short can hold: refused before
		 * anything is sized from it. */
		len = chunk(frame, v, 3, t, 0);
		put_u32(frame, GCS_MAX_COUNT);
		ch_send(ch, FR_DIGEST, frame, len);
		drain();
	}
	if (strcmp(s, "h-digest-empty-chunk") == 0) {
		len = chunk(frame, v, 1, t, 0);
		put_u32(frame, 0);
		ch_send(ch, FR_DIGEST, frame, GCS_HEADER);
		drain();
	}
	if (strcmp(s, "h-wrong-reveal") == 0) {
		len = chunk(frame, v, 2, t, 0);
		ch_send(ch, FR_REVEAL, frame, len);
		drain();
	}
	len = chunk(frame, v, 3, t, 0);
	ch_send(ch, FR_DIGEST, frame, len);
	if (strcmp(s, "h-dend-mismatch") == 0) {
		send_u64(FR_DEND, 4);
		drain();
	}
	if (strcmp(s, "h-dend-short") == 0) {
		ch_send(ch, FR_DEND, frame, 7);
		drain();
	}
	send_u64(FR_DEND, 3);
	for (;;) {
		ch_recv(ch, &type, frame);
		if (type == FR_REND)
			break;
	}
	if (strcmp(s, "h-wrong-after-rend") == 0) {
		ch_send(ch, FR_REVEAL, frame, 8);
		drain();
	}
	if (strcmp(s, "h-honest") == 0) {
		ch_send(ch, FR_DONE, NULL, 0);
		drain();
	}
	return 98;
}

/* ---- the OT engine's frames (engine-ot.c) ------------------------------- */

/* OT_COUNT both ways (ours: n keys); psi-stream's sizes from the counts. */
static void
ot_counts(struct ot_sizes *z, uint64_t n, int querier_side)
{
	uint64_t them;

	send_u64(FR_OT_COUNT, n);
	if (ch_expect(ch, FR_OT_COUNT, frame) != OT_COUNT_LEN)
		exit(99);
	them = get_u64(frame);
	z->nq = querier_side ? n : them;
	z->nh = querier_side ? them : n;
	ot_sizes(z, 0);
}

static void
ot_send_params(const struct ot_sizes *z, uint64_t bump)
{
	uint8_t b[OT_PARAMS_LEN];

	put_u64(b, z->buckets + bump);
	put_u64(b + 8, z->load);
	put_u64(b + 16, z->bins);
	ch_send(ch, FR_OT_PARAMS, b, sizeof(b));
}

/* One OT_CORR frame of garbage rows for (bucket, off), rows rows. */
static void
ot_corr(uint64_t bucket, uint32_t off, size_t rows)
{
	put_u64(frame, bucket);
	put_u32(frame + 8, off);
	randombytes_buf(frame + OT_CORR_HEADER, rows * KKRT_ROW);
	ch_send(ch, FR_OT_CORR, frame, OT_CORR_HEADER + rows * KKRT_ROW);
}

/* We are the querier; psi-stream (the holder) has three keys. */
static int
ot_querier(const char *s)
{
	struct ot_sizes z;
	struct baseot_sender *snd;
	uint8_t A[BASEOT_POINT];
	uint64_t rows;

	handshake(ROLE_QUERIER);
	if (strcmp(s, "q-ot-nkeys-short") == 0) {
		put_u64(frame, 3);
		ch_send(ch, FR_OT_COUNT, frame, OT_COUNT_LEN - 1);
		drain();
	}
	if (strcmp(s, "q-ot-nkeys-long") == 0) {	/* the old count + bins */
		put_u64(frame, 3);
		put_u64(frame + 8, 1);
		ch_send(ch, FR_OT_COUNT, frame, 16);
		drain();
	}
	ot_counts(&z, 5000, 1);
	if (strcmp(s, "q-ot-params") == 0) {
		ot_send_params(&z, 1);
		drain();
	}
	ot_send_params(&z, 0);
	snd = baseot_sender_new(A, NULL);
	if (strcmp(s, "q-ot-base-a") == 0)
		memset(A, 0xff, sizeof(A));
	if (strcmp(s, "q-ot-base-a-short") == 0) {
		ch_send(ch, FR_OT_BASE_A, A, 31);
		drain();
	}
	ch_send(ch, FR_OT_BASE_A, A, sizeof(A));
	baseot_sender_free(snd);
	if (strcmp(s, "q-ot-base-a") == 0)
		drain();
	if (ch_expect(ch, FR_OT_BASE_B, frame) != KKRT_K * BASEOT_POINT)
		exit(99);
	rows = z.bins < OT_CORR_ROWS ? z.bins : OT_CORR_ROWS;
	if (strcmp(s, "q-ot-corr-bucket") == 0)	/* out of order */
		ot_corr(z.buckets > 1 ? 1 : 7, 0, (size_t)rows);
	else if (strcmp(s, "q-ot-corr-bin") == 0)
		ot_corr(0, 1, (size_t)rows);
	else if (strcmp(s, "q-ot-corr-short") == 0)
		ot_corr(0, 0, (size_t)rows - 1);
	else if (strcmp(s, "q-ot-corr-header") == 0)
		ch_send(ch, FR_OT_CORR, frame, 5);
	else if (strcmp(s, "q-ot-corr-truncated") == 0) {
		ot_corr(0, 0, (size_t)rows);	/* then the bucket stops */
		ch_send(ch, FR_DONE, NULL, 0);
	} else
		return 98;
	drain();
}

/* We are the holder; psi-stream (the querier) has three keys. */
static int
ot_holder(const char *s)
{
	struct ot_sizes z;
	uint8_t *B = xmalloc(KKRT_K * BASEOT_POINT), c[KKRT_K / 8];
	uint8_t *keys = xmalloc(KKRT_K * BASEOT_KEY), A[BASEOT_POINT];

	handshake(ROLE_HOLDER);
	if (strcmp(s, "h-ot-nkeys-huge") == 0) {
		send_u64(FR_OT_COUNT, (uint64_t)1 << 50);
		drain();
	}
	ot_counts(&z, 5000, 0);
	if (ch_expect(ch, FR_OT_PARAMS, frame) != OT_PARAMS_LEN)
		exit(99);
	if (ch_expect(ch, FR_OT_BASE_A, frame) != BASEOT_POINT)
		exit(99);
	memcpy(A, frame, sizeof(A));
	randombytes_buf(c, sizeof(c));
	if (baseot_receive(frame, A, c, KKRT_K, B, keys, NULL) != 0)
		exit(99);
	if (strcmp(s, "h-ot-base-b") == 0)
		memset(B + 100 * BASEOT_POINT, 0, BASEOT_POINT);
	else if (strcmp(s, "h-ot-base-b-short") == 0) {
		ch_send(ch, FR_OT_BASE_B, B, (KKRT_K - 1) * BASEOT_POINT);
		drain();
	} else if (strcmp(s, "h-ot-wrong-corr") == 0) {
		ch_send(ch, FR_OT_CORR, B, 64);
		drain();
	} else
		return 98;
	ch_send(ch, FR_OT_BASE_B, B, KKRT_K * BASEOT_POINT);
	drain();
}

static const char *const scenarios[] = {
	"q-http", "q-empty-msg", "q-short-msg1", "q-garbage-msg3",
	"q-params-version", "q-params-role", "q-params-short",
	"q-params-garbage", "q-garbage", "q-oversized", "q-cut-message",
	"q-unknown-type", "q-type-zero", "q-error", "q-wrong-hello",
	"q-wrong-eval", "q-wrong-done", "q-wrong-reveal-early", "q-query-odd",
	"q-query-empty", "q-query-1025", "q-query-invalid", "q-query-identity",
	"q-qend-mismatch", "q-qend-long", "q-reveal-wrong-type",
	"q-reveal-too-many", "q-reveal-malformed", "q-reveal-truncated",
	"q-reveal-order", "q-reveal-wrong-t", "q-rend-mismatch", "q-rend-long",
	"q-honest",
	"h-garbage-msg2", "h-busy", "h-params-version", "h-params-ctxlen",
	"h-no-hello", "h-unknown-type", "h-silent", "h-eval-wrong-type",
	"h-eval-fewer", "h-eval-more", "h-eval-odd", "h-eval-invalid",
	"h-eval-identity", "h-wrong-done", "h-hcount-short", "h-hcount-huge",
	"h-hcount-huge-digest", "h-digest-truncated", "h-digest-malformed",
	"h-digest-too-many", "h-digest-order", "h-digest-base",
	"h-digest-wrong-t", "h-digest-overcount", "h-digest-empty-chunk",
	"h-wrong-reveal",
	"h-dend-mismatch", "h-dend-short", "h-wrong-after-rend", "h-honest",
	"q-close", "q-garbage-1m", "q-trickle",
	"q-count-early", "q-count-impossible", "q-count-short",
	"q-count-wrong-type", "q-count-honest", "h-count-eval-more",
	"h-count-eval-invalid", "h-count-wrong-after-count", "h-count-honest",
	"q-ot-nkeys-short", "q-ot-nkeys-long", "q-ot-params", "q-ot-base-a",
	"q-ot-base-a-short", "q-ot-corr-bucket", "q-ot-corr-bin",
	"q-ot-corr-short", "q-ot-corr-header", "q-ot-corr-truncated",
	"h-ot-nkeys-huge", "h-ot-base-b", "h-ot-base-b-short",
	"h-ot-wrong-corr",
	NULL
};

int
main(int argc, char **argv)
{
	int rc;

	if (argc == 2 && strcmp(argv[1], "list") == 0) {
		for (int i = 0; scenarios[i]; i++)
			puts(scenarios[i]);
		return 0;
	}
	if (argc != 4 || sodium_init() < 0) {
		fprintf(stderr, "usage: hostile SCENARIO connect PORT | "
		    "hostile SCENARIO listen PORTFILE | hostile list\n");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);	/* a closed peer: write fails, exit 3 */
	frame = xmalloc(CH_MAX_PAYLOAD);
	count_only = strstr(argv[1], "-count-") != NULL;
	ot = strstr(argv[1], "-ot-") != NULL;
	we_connect = strcmp(argv[2], "connect") == 0;
	if (we_connect)
		connect_to(argv[3]);
	else
		listen_on(argv[3], strcmp(argv[1], "h-busy") == 0);
	if (ot)
		rc = argv[1][0] == 'q' ? ot_querier(argv[1]) :
		    ot_holder(argv[1]);
	else
		rc = argv[1][0] == 'q' ? querier(argv[1]) : holder(argv[1]);
	if (ch != NULL)
		ch_close(ch);
	else
		close(fd);
	free(frame);
	return rc;
}
