/*
 * fuzz_peers.c: libFuzzer target for the key files a user or an
 * administrator edits: public key files and inline keys (peer_key_parse),
 * authorized_peers (peers_authorized), known_peers (known_peer_check,
 * strict and with accept-new appending), private key files
 * (identity_load) and PSK files (psk_load), all in src/peers.c.
 *
 * Input: u8 what, then the file content; w = (what & 7) % 6:
 *   w: 0 .pub file, 1 authorized_peers, 2 known_peers (what & 8:
 *   not strict, so an unknown host is appended), 3 private key (0600),
 *   4 PSK file (0600), 5 the content as a --peer-key argument (up to the
 *   first NUL).
 * Every call either returns a sane answer or ends in fatal() with status 1
 * (bad content) or 2 (I/O); appending to known_peers must keep the file
 * parseable and the host then known.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "fuzzlib.h"
#include "peers.h"
#include "util.h"

/* The key the target asks about: 32 bytes of 0x07. */
static uint8_t probe[PEERS_KEY_LEN];

struct job {
	int		 what;
	const char	*path;
	const char	*arg;
	int		 strict;
	int		 result;
};

static void
call(void *arg)
{
	struct job *j = arg;
	uint8_t pub[PEERS_KEY_LEN];
	struct identity *id;
	uint8_t *psk;

	switch (j->what) {
	case 0:
		j->result = peer_key_parse(j->path, pub);
		break;
	case 1:
		j->result = peers_authorized(j->path, probe);
		break;
	case 2:
		j->result = known_peer_check(j->path, "peer.example:7000",
		    probe, j->strict);
		break;
	case 3:
		id = identity_load(j->path);
		identity_free(id);
		break;
	case 4:
		psk = sodium_malloc(PEERS_KEY_LEN);
		j->result = psk_load(j->path, psk);
		sodium_free(psk);
		break;
	case 5:
		j->result = peer_key_parse(j->arg, pub);
		break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct job j;
	char *arg;
	int st;

	fuzz_init();
	if (size < 1 || size > 16384)
		return 0;
	memset(probe, 0x07, sizeof(probe));
	memset(&j, 0, sizeof(j));
	j.what = (data[0] & 7) % 6;
	j.strict = !(data[0] & 8);
	j.path = fuzz_file("keys", data + 1, size - 1,
	    j.what == 3 || j.what == 4 ? 0600 : 0644);
	arg = malloc(size);
	memcpy(arg, data + 1, size - 1);
	arg[size - 1] = '\0';
	j.arg = arg;
	st = fuzz_run(call, &j);
	if (st != 0 && st != 1 && st != 2)
		abort();
	if (st == 0 && j.what == 2 && !j.strict && j.result == KNOWN_NEW) {
		/* now the host must be known, with this key */
		j.strict = 1;
		if (fuzz_run(call, &j) != 0 || j.result != KNOWN_MATCH)
			abort();
	}
	free(arg);
	return 0;
}
