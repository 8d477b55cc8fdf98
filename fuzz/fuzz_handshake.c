/*
 * fuzz_handshake.c: libFuzzer target for what a peer sends before the
 * session starts: the three Noise XX / XXpsk3 handshake messages
 * (noise_read_message), the handshake as the channel drives it over a
 * socket (ch_handshake: length prefixes, refusals), and the session
 * parameters carried in message 3 and in HELLO (params_check).
 *
 * Keys are fixed (static and ephemeral), so a handshake is the same every
 * time and the seeds from fuzz/mkseeds hold messages that really decrypt.
 * Input: u8 mode, then the message bytes; m = (mode & 7) % 6:
 *   m == 0  responder reads message 1 = the bytes, writes message 2
 *   m == 1  initiator writes message 1, reads message 2 = the bytes,
 *          writes message 3
 *   m == 2  responder reads the real message 1, writes message 2,
 *          reads message 3 = the bytes; its payload then goes to
 *          params_check as in run.c
 *   m == 3  params_check on the bytes: u8 ours, then the payload
 *   m == 4  ch_handshake as the listener, the bytes on the wire
 *   m == 5  ch_handshake as the connector, the bytes on the wire
 *   mode & 8: with a PSK; mode & 16: the peer's key is refused.
 * Expected: no crash; params_check and ch_handshake either accept or end
 * in fatal() with status 4 or 5 (3 when the wire ends early).
 */
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "engine.h"
#include "fuzzlib.h"
#include "noise.h"
#include "session.h"

static const uint8_t prologue[] = "psi-stream/1";
static uint8_t s_init[32], s_resp[32], e_init[32], e_resp[32], psk[32];

struct pjob {
	struct params	 ours;
	const uint8_t	*b;
	size_t		 len;
};

static void
check_params(void *arg)
{
	struct pjob *j = arg;

	params_check(&j->ours, j->b, j->len, "fuzz");
}

/* Our parameters from one byte, a peer's parameters from the rest. */
static int
params_case(uint8_t ours, const uint8_t *b, size_t len)
{
	struct pjob j;

	memset(&j, 0, sizeof(j));
	j.ours.version = PROTOCOL_VERSION;
	j.ours.role = ours & 1 ? ROLE_QUERIER : ROLE_HOLDER;
	j.ours.reveal = ours >> 1 & 1;
	j.ours.count_only = ours >> 2 & 1;
	j.ours.trim = ours >> 3 & 1;
	j.ours.ignore_case = ours >> 4 & 1;
	j.ours.engine = ENGINE_DH;
	j.ours.key_fields = 1;
	if (ours & 32) {
		j.ours.shard_i = 2;
		j.ours.shard_n = 3;
	}
	if (ours & 64)
		strcpy(j.ours.context, "nightly");
	j.b = b;
	j.len = len;
	return fuzz_run(check_params, &j);
}

static struct noise_hs *
new_hs(int initiator, int with_psk)
{
	struct noise_hs *hs = noise_hs_new(initiator, initiator ? s_init :
	    s_resp, with_psk ? psk : NULL, prologue, sizeof(prologue) - 1);

	noise_hs_set_ephemeral(hs, initiator ? e_init : e_resp);
	return hs;
}

static void
noise_case(int mode, int with_psk, const uint8_t *b, size_t len)
{
	uint8_t *msg = malloc(NOISE_MAX_MSG), *pl = malloc(NOISE_MAX_MSG);
	struct noise_hs *i = new_hs(1, with_psk), *r = new_hs(0, with_psk);
	struct noise_cipher *tx = malloc(sizeof(*tx)), *rx = malloc(sizeof(*rx));
	size_t n, pn;

	switch (mode) {
	case 0:
		if (noise_read_message(r, b, len, pl, NOISE_MAX_MSG, &pn) == 0)
			(void)noise_write_message(r, NULL, 0, msg, NOISE_MAX_MSG,
			    &n);
		break;
	case 1:
		if (noise_write_message(i, NULL, 0, msg, NOISE_MAX_MSG, &n) < 0)
			abort();
		if (noise_read_message(i, b, len, pl, NOISE_MAX_MSG, &pn) == 0) {
			if (noise_remote_static(i) == NULL)
				abort();
			if (noise_write_message(i, pl, pn, msg, NOISE_MAX_MSG,
			    &n) < 0 || !noise_hs_finished(i) ||
			    noise_split(i, tx, rx) < 0)
				abort();
		}
		break;
	case 2:
		if (noise_write_message(i, NULL, 0, msg, NOISE_MAX_MSG, &n) < 0 ||
		    noise_read_message(r, msg, n, pl, NOISE_MAX_MSG, &pn) < 0 ||
		    noise_write_message(r, NULL, 0, msg, NOISE_MAX_MSG, &n) < 0)
			abort();
		if (noise_read_message(r, b, len, pl, NOISE_MAX_MSG, &pn) == 0) {
			if (!noise_hs_finished(r) || noise_split(r, tx, rx) < 0)
				abort();
			int st = params_case(0, pl, pn);
			if (st != 0 && st != 5)
				abort();
		}
		break;
	}
	noise_hs_free(i);
	noise_hs_free(r);
	free(msg);
	free(pl);
	free(tx);
	free(rx);
}

struct cjob {
	struct channel	*ch;
	struct ch_auth	 auth;
	int		 initiator;
	uint8_t		*peer_payload;
	size_t		 peer_len;
};

static int
accept_peer(void *arg, const uint8_t pub[32], char *why, size_t whylen)
{
	(void)pub;
	if (arg == NULL)
		return 0;
	strncpy(why, "refused by the fuzz target", whylen - 1);
	why[whylen - 1] = '\0';
	return -1;
}

static void
handshake(void *arg)
{
	struct cjob *j = arg;
	static const uint8_t hello[] = { PROTOCOL_VERSION, ROLE_QUERIER, 0, 0,
	    0, ENGINE_DH, 0, 0, 0, 0, 0, 0, 0, 0, 0 };

	ch_handshake(j->ch, j->initiator, &j->auth, hello, sizeof(hello),
	    j->initiator ? NULL : &j->peer_payload,
	    j->initiator ? NULL : &j->peer_len);
}

static void
channel_case(int initiator, int with_psk, int refuse, const uint8_t *b,
    size_t len)
{
	struct fuzz_peer *peer;
	struct cjob j;
	int fd, st;

	memset(&j, 0, sizeof(j));
	j.initiator = initiator;
	j.auth.s_priv = initiator ? s_init : s_resp;
	j.auth.psk = with_psk ? psk : NULL;
	j.auth.check_peer = accept_peer;
	j.auth.arg = refuse ? &j : NULL;
	peer = fuzz_peer_start(b, len, &fd);
	j.ch = ch_new(fd, 5, "fuzz");
	st = fuzz_run(handshake, &j);
	if (st != 0 && (st < 3 || st > 5))
		abort();
	if (st == 0 && refuse)
		abort();	/* a refused key got through */
	if (st == 0 && !initiator) {
		st = params_case(1, j.peer_payload, j.peer_len);
		if (st != 0 && st != 5)
			abort();
		free(j.peer_payload);
	}
	ch_close(j.ch);
	fuzz_peer_end(peer);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t mode;
	int st;

	fuzz_init();
	if (size < 1 || size > NOISE_MAX_MSG + 1)
		return 0;
	memset(s_init, 0x01, 32);
	memset(s_resp, 0x02, 32);
	memset(e_init, 0x03, 32);
	memset(e_resp, 0x04, 32);
	memset(psk, 0x05, 32);
	mode = data[0];
	data++;
	size--;
	switch ((mode & 7) % 6) {
	case 0: case 1: case 2:
		noise_case((mode & 7) % 6, mode & 8, data, size);
		break;
	case 3:
		if (size < 1)
			return 0;
		st = params_case(data[0], data + 1, size - 1);
		if (st != 0 && st != 5)
			abort();
		break;
	case 4: case 5:
		channel_case((mode & 7) % 6 == 5, mode & 8, mode & 16, data,
		    size);
		break;
	}
	return 0;
}
