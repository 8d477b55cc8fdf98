/*
 * run.c: one PSI run: who we are, whom we accept, the connection, the
 * handshake and the parameter check; then session.c does the protocol.
 *
 * Authorization policy (DESIGN section 4), the same on both sides:
 *   --peer-key is exclusive: when keys are pinned, only they get in
 *              (with a PSK too, a peer needs both: XXpsk3 fails without
 *              it), and neither authorized_peers nor known_peers is read;
 *   listener   otherwise accepts a connector listed in authorized_peers
 *              (read once, before listening), or any key if the
 *              connector proved the PSK;
 *   connector  otherwise checks known_peers for HOST:PORT: a match passes,
 *              a different key is refused, and a new host is recorded
 *              (accept-new) unless --strict-peer, but only once the
 *              listener's first transport frame (HELLO) has decrypted:
 *              message 2 proves no PSK, HELLO does.
 *   --insecure skips all of that (the channel is still encrypted, with
 *              throw-away keys) and says so.
 * A listener with none of --peer-key, authorized_peers entries, a PSK or
 * --insecure refuses to start: it would admit nobody.
 *
 * Parameter exchange: the connector's parameters ride in handshake message
 * 3; the listener sends its own as the first transport frame (HELLO), so
 * nothing about it reaches a peer it has not authenticated.  Both sides
 * compare and both stop with exit 5 on a mismatch.
 */
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "channel.h"
#include "net.h"
#include "output.h"
#include "peers.h"
#include "preflight.h"
#include "progress.h"
#include "stats.h"
#include "run.h"
#include "session.h"
#include "spillfile.h"
#include "util.h"

struct policy {
	struct run_opts	*ro;
	uint8_t		(*pinned)[32];
	int		 npinned;
	int		 listener;
	uint8_t		(*authorized)[32];	/* listener, nothing pinned */
	int		 nauthorized;
	const char	*peer_addr;	/* connector: HOST:PORT for known_peers */
	uint8_t		 new_key[32];	/* connector: a host not yet known */
	int		 is_new;
	char		*authorized_path, *known_path;	/* for messages */
};

static struct channel *the_channel;
static const char *stats_path;

static void
fill_wire_stats(void)
{
	if (the_channel) {
		run_stats.bytes_sent = ch_bytes_sent(the_channel);
		run_stats.bytes_received = ch_bytes_received(the_channel);
	}
	run_stats.spill_bytes = spill_bytes_written();	/* temporary files */
}

void
run_on_fatal(int status, const char *msg)
{
	if (status != EXIT_NET && status != EXIT_PEER && the_channel)
		ch_send_error(the_channel, status, msg);
	if (stats_path) {
		fill_wire_stats();
		stats_set_error(msg);
		stats_write(stats_path, status);
	}
}

static int
listed(uint8_t (*keys)[32], int n, const uint8_t pub[32])
{
	for (int i = 0; i < n; i++)
		if (sodium_memcmp(keys[i], pub, 32) == 0)
			return 1;
	return 0;
}

static int
check_peer(void *arg, const uint8_t pub[32], char *why, size_t whylen)
{
	struct policy *pol = arg;
	char fp[PEERS_FP_LEN];

	if (pol->ro->insecure)
		return 0;
	peers_fingerprint(fp, pub);
	if (pol->npinned > 0) {		/* exclusive, on both sides */
		if (listed(pol->pinned, pol->npinned, pub))
			return 0;
		snprintf(why, whylen, "its key %s is not the one given with "
		    "--peer-key", fp);
		return -1;
	}
	if (pol->listener) {
		if (listed(pol->authorized, pol->nauthorized, pub))
			return 0;
		if (pol->ro->psk_file)
			return 0;	/* XXpsk3 only completes with the PSK */
		snprintf(why, whylen, "its key %s is not authorized; to admit "
		    "it, add its .pub line to %s or give it with --peer-key",
		    fp, pol->authorized_path);
		return -1;
	}
	/* Only look now: a new host is recorded once the first transport
	 * frame decrypts (record_new_peer), not by a message 2 that proves
	 * nothing about a PSK. */
	switch (known_peer_check(NULL, pol->peer_addr, pub, 1)) {
	case KNOWN_MATCH:
		return 0;
	case KNOWN_NEW_STRICT:
		if (!pol->ro->strict_peer) {
			memcpy(pol->new_key, pub, 32);
			pol->is_new = 1;
			return 0;
		}
		snprintf(why, whylen, "its key %s is not in %s and "
		    "--strict-peer is set; check the fingerprint with the "
		    "peer, then give it with --peer-key", fp,
		    pol->known_path);
		return -1;
	default:
		snprintf(why, whylen, "its key %s differs from the one recorded "
		    "for %s in %s: the peer changed its identity, or someone is "
		    "in the middle; if the change is expected, remove that line",
		    fp, pol->peer_addr, pol->known_path);
		return -1;
	}
}

/* Connector: the listener's first transport frame decrypted, so the
 * handshake is complete (and a PSK proven): trust a new key from now on. */
static void
record_new_peer(struct policy *pol)
{
	if (!pol->is_new)
		return;
	if (known_peer_check(NULL, pol->peer_addr, pol->new_key, 0) ==
	    KNOWN_MISMATCH)	/* another run recorded another key meanwhile */
		fatal(EXIT_AUTH, "refusing %s: its key differs from the one "
		    "just recorded for it in %s", pol->peer_addr,
		    pol->known_path);
}

int
cmd_run(struct run_opts *ro)
{
	struct policy pol;
	struct ch_auth auth;
	struct identity *id = NULL;
	uint8_t *psk = NULL, *throwaway = NULL;
	uint8_t hello[PARAMS_MAX], *peer_params, *buf;
	size_t hlen, plen;
	char *peer_desc;
	int fd, rc;

	preflight_stats(ro->s.stats);	/* before anything is written there */
	stats_path = ro->s.stats;
	stats_start();
	run_stats.role = ro->s.p.role == ROLE_HOLDER ? "holder" : "querier";
	run_stats.shard_i = ro->s.p.shard_i;
	run_stats.shard_n = ro->s.p.shard_n;
	stats_phase("connect");
	memset(&pol, 0, sizeof(pol));
	pol.ro = ro;
	pol.listener = ro->listen != NULL;
	pol.pinned = xreallocarray(NULL, (size_t)ro->npeer_keys + 1, 32);
	for (int i = 0; i < ro->npeer_keys; i++)
		if (peer_key_parse(ro->peer_keys[i], pol.pinned[pol.npinned++]) < 0)
			fatal(EXIT_USAGE, "--peer-key %s: not a psi-stream public "
			    "key or a file holding one", ro->peer_keys[i]);
	if (ro->psk_file) {
		if ((psk = sodium_malloc(32)) == NULL)
			fatal(EXIT_IO, "cannot allocate secure memory");
		psk_load(ro->psk_file, psk);
	}
	preflight_run(&ro->s);		/* local paths: exit 2 before the network */
	if (ro->insecure) {
		warnx_("warning: --insecure: the peer is not authenticated; "
		    "anyone who can connect gets answers");
		if ((throwaway = sodium_malloc(32)) == NULL)
			fatal(EXIT_IO, "cannot allocate secure memory");
		randombytes_buf(throwaway, 32);
	} else {
		pol.authorized_path = peers_default_path("authorized_peers");
		pol.known_path = peers_default_path("known_peers");
		if (pol.listener && pol.npinned == 0)
			pol.nauthorized = peers_load_authorized(NULL,
			    &pol.authorized);
		if (pol.listener && pol.npinned == 0 && psk == NULL &&
		    pol.nauthorized == 0)
			fatal(EXIT_USAGE, "no peer is authorized: give the peer's "
			    "public key with --peer-key FILE, list it in %s, or "
			    "use --psk-file (see psi-stream(1), AUTHENTICATION)",
			    pol.authorized_path);
		id = identity_load(ro->identity);
	}
	auth.s_priv = ro->insecure ? throwaway : id->priv;
	auth.psk = psk;
	auth.check_peer = check_peer;
	auth.arg = &pol;

	if (pol.listener)
		fd = net_listen(ro->listen, ro->accept_timeout, &peer_desc);
	else {
		fd = net_connect(ro->peer, ro->connect_timeout, &peer_desc);
		pol.peer_addr = peer_desc;
	}
	the_channel = ch_new(fd, ro->timeout, peer_desc);
	stats_phase("handshake");
	hlen = params_encode(&ro->s.p, hello);
	buf = xmalloc(CH_MAX_PAYLOAD);
	if (pol.listener) {
		ch_handshake(the_channel, 0, &auth, NULL, 0, &peer_params, &plen);
		ch_send(the_channel, FR_HELLO, hello, hlen);
		params_check(&ro->s.p, peer_params, plen, peer_desc);
		free(peer_params);
	} else {
		ch_handshake(the_channel, 1, &auth, hello, hlen, NULL, NULL);
		plen = ch_expect(the_channel, FR_HELLO, buf);
		record_new_peer(&pol);
		params_check(&ro->s.p, buf, plen, peer_desc);
	}
	if (id)
		identity_free(id);
	if (throwaway)
		sodium_free(throwaway);
	if (psk)
		sodium_free(psk);
	rc = session_run(the_channel, &ro->s);
	fill_wire_stats();
	if (stats_path)		/* a failure here is a warning only: the */
		stats_write(stats_path, rc);	/* output is already in place */
	ch_close(the_channel);
	the_channel = NULL;
	free(buf);
	free(pol.pinned);
	free(pol.authorized);
	free(pol.authorized_path);
	free(pol.known_path);
	free(peer_desc);
	return rc;
}
