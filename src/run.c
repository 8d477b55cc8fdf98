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
 * --stats names the fingerprint of the key let in (peer_key) and whether
 * this run added it to known_peers (peer_key_added), -q or not.
 * A listener with none of --peer-key, authorized_peers entries, a PSK or
 * --insecure refuses to start: it would admit nobody.  A connector the
 * listener refuses sees only the connection close (nothing goes to an
 * unauthenticated peer); its message then adds, from its own files, its
 * fingerprint and the .pub line to send (refused_hint()).
 *
 * Parameter exchange: the connector's parameters ride in handshake message
 * 3; the listener sends its own as the first transport frame (HELLO), so
 * nothing about it reaches a peer it has not authenticated.  Both sides
 * compare and both stop with exit 5 on a mismatch.
 */
#include <sys/stat.h>
#include <stdatomic.h>
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

static _Atomic(struct channel *) the_channel;	/* for the fatal path */
static const char *stats_path;

static void
fill_wire_stats(void)
{
	struct channel *ch = atomic_load(&the_channel);

	if (ch) {
		run_stats.bytes_sent = ch_bytes_sent(ch);
		run_stats.bytes_received = ch_bytes_received(ch);
	}
	run_stats.spill_bytes = spill_bytes_written();	/* temporary files */
}

void
run_on_fatal(int status, const char *told, const char *msg)
{
	struct channel *ch = atomic_load(&the_channel);

	/* the peer gets the class of the failure only: the details (paths,
	 * record numbers, errno text) stay in our message and --stats */
	if (told != NULL && ch)
		ch_send_error(ch, status, told);
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

/* The fingerprint of the key our checks let in, for --stats (peer_key):
 * a listener checks message 3, which proves a PSK, so it is named at once;
 * a connector checks message 2, which proves none, so only once the
 * listener's first frame has decrypted (peer_proven). */
static char admitted[PEERS_FP_LEN];

static int
admit(const struct policy *pol, const char fp[PEERS_FP_LEN])
{
	memcpy(admitted, fp, PEERS_FP_LEN);
	if (pol->listener)
		run_stats.peer_key = admitted;
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
			return admit(pol, fp);
		snprintf(why, whylen, "its key %s is not the one given with "
		    "--peer-key", fp);
		return -1;
	}
	if (pol->listener) {
		if (listed(pol->authorized, pol->nauthorized, pub))
			return admit(pol, fp);
		if (pol->ro->psk_file)	/* XXpsk3 only completes with the PSK */
			return admit(pol, fp);
		snprintf(why, whylen, "its key %s is not authorized; to admit "
		    "it, add its .pub line to %s or give it with --peer-key",
		    fp, pol->authorized_path);
		return -1;
	}
	/* Only look now: a new host is recorded once the first transport
	 * frame decrypts (peer_proven), not by a message 2 that proves
	 * nothing about a PSK. */
	switch (known_peer_check(NULL, pol->peer_addr, pub, 1)) {
	case KNOWN_MATCH:
		return admit(pol, fp);
	case KNOWN_NEW_STRICT:
		if (!pol->ro->strict_peer) {
			memcpy(pol->new_key, pub, 32);
			pol->is_new = 1;
			return admit(pol, fp);
		}
		snprintf(why, whylen, "its key %s is not in %s and "
		    "--strict-peer is set; check the fingerprint with the "
		    "peer, then give it with --peer-key", fp,
		    pol->known_path);
		return -1;
	default:
		/* known_peer_check() printed the warning, with both
		 * fingerprints and the line to remove: not again here */
		snprintf(why, whylen, "its key differs from the one recorded "
		    "for %s (see the warning above)", pol->peer_addr);
		return -1;
	}
}

/* Connector: the listener's first transport frame decrypted, so the
 * handshake is complete (and a PSK proven): --stats names its key, and a
 * new key is trusted from now on. */
static void
peer_proven(struct policy *pol)
{
	enum known_result k;

	if (!pol->ro->insecure)
		run_stats.peer_key = admitted;
	if (!pol->is_new)
		return;
	k = known_peer_check(NULL, pol->peer_addr, pol->new_key, 0);
	if (k == KNOWN_MISMATCH)  /* another run recorded another key meanwhile */
		fatal(EXIT_AUTH, "refusing %s: its key differs from the one "
		    "just recorded for it in %s", pol->peer_addr,
		    pol->known_path);
	/* KNOWN_MATCH: another run (a shard) recorded it first */
	run_stats.peer_key_added = k == KNOWN_NEW;
}

/* The whole handshake gets one deadline: this, or --timeout if smaller. */
#define HANDSHAKE_SECS	5.0
/* Refused attempts: the first LOG_BURST are logged, then one per
 * LOG_EVERY seconds, so a scan cannot flood the log. */
#define LOG_BURST	10
#define LOG_EVERY	6.0

static double
handshake_secs(const struct run_opts *ro)
{
	return ro->timeout < HANDSHAKE_SECS ? ro->timeout : HANDSHAKE_SECS;
}

/* The connector's deadline for the handshake: a listener busy with a
 * stranger gets to us within its own HANDSHAKE_SECS, so a peer silent for
 * longer is not a psi-stream listener (an HTTP server, say): say so after
 * seconds, not after --timeout. */
static double
connector_handshake_secs(const struct run_opts *ro)
{
	double secs = HANDSHAKE_SECS + 3;

	return ro->timeout < secs ? ro->timeout : secs;
}

/* One line for a refused attempt (its message names the address), with
 * the number of connections it made us turn away (ch_turned_away). */
static void
log_refused(const char *why, unsigned long away)
{
	char more[64] = "";
	static double tokens = LOG_BURST, last;
	static unsigned long hidden;
	double now = now_seconds();

	if (last > 0)
		tokens += (now - last) / LOG_EVERY;
	if (tokens > LOG_BURST)
		tokens = LOG_BURST;
	last = now;
	if (tokens < 1) {
		hidden++;
		return;
	}
	tokens -= 1;
	if (away)
		snprintf(more, sizeof(more), " (%lu connection%s told to come "
		    "back meanwhile)", away, away == 1 ? "" : "s");
	if (hidden)
		warnx_("%s%s; still listening (%lu more refused, not shown)",
		    why, more, hidden);
	else
		warnx_("%s%s; still listening", why, more);
	hidden = 0;
}

/*
 * Listener: serve one connection at a time until one completes an
 * authenticated handshake.  A stranger, a port scan, garbage, a wrong key
 * or a wrong PSK costs one log line, at most the handshake deadline and
 * two 64 KiB buffers, and then the next connection is taken; only
 * --accept-timeout ends the wait.
 */
static struct channel *
accept_peer(struct run_opts *ro, const struct ch_auth *auth,
    uint8_t **peer_params, size_t *plen, char **peer_desc)
{
	double until = now_seconds() + ro->accept_timeout;
	unsigned long refused = 0;
	struct channel *ch;
	char *shown;
	int lfd, fd;

	lfd = net_listen(ro->listen, &shown);
	for (;;) {
		if ((fd = net_accept(lfd, shown, until, peer_desc)) < 0)
			fatal(EXIT_NET, "no %speer connected to %s within %g "
			    "second%s (--accept-timeout)%s", refused ?
			    "authenticated " : "", shown, ro->accept_timeout,
			    ro->accept_timeout == 1 ? "" : "s",
			    refused ? "; all attempts were refused" : "");
		ch = ch_new(fd, ro->timeout, *peer_desc);
		ch_set_doorman(ch, lfd);	/* others are told we are busy */
		if (ch_try_handshake(ch, 0, auth, handshake_secs(ro), NULL, 0,
		    peer_params, plen) == 0)
			break;
		refused++;
		log_refused(ch_failure(ch, NULL), ch_turned_away(ch));
		ch_close(ch);
		free(*peer_desc);
	}
	close(lfd);		/* later connectors are refused */
	free(shown);
	return ch;
}

/*
 * Connector: connect (net_connect retries until --connect-timeout) and
 * shake hands.  A listener busy with somebody else says so and closes
 * (CH_BUSY): we try again every BUSY_RETRY seconds while the connect
 * timeout lasts; one that went away or said nothing before answering
 * message 1 is tried again likewise.  Both sides have a handshake
 * deadline: the listener's because strangers can reach it, the
 * connector's (a little longer, see connector_handshake_secs()) so that a
 * service that is not psi-stream fails in seconds.
 */
#define BUSY_RETRY	0.1

static struct channel *
connect_peer(struct run_opts *ro, struct policy *pol,
    const struct ch_auth *auth, const uint8_t *hello, size_t hlen,
    char **peer_desc)
{
	double until = now_seconds() + ro->connect_timeout, left, secs, start;
	struct channel *ch;
	int rc, status;

	for (;;) {
		left = until - now_seconds();
		*peer_desc = NULL;
		ch = ch_new(net_connect(ro->peer, left > 1 ? left : 1,
		    peer_desc), ro->timeout, ro->peer);
		pol->peer_addr = *peer_desc;
		secs = connector_handshake_secs(ro);
		start = now_seconds();
		rc = ch_try_handshake(ch, 1, auth, secs, hello, hlen, NULL,
		    NULL);
		if (rc == 0)
			return ch;
		if (rc == CH_BUSY && now_seconds() + BUSY_RETRY >= until)
			fatal(EXIT_NET, "%s for %g second%s (--connect-timeout)",
			    ch_failure(ch, NULL), ro->connect_timeout,
			    ro->connect_timeout == 1 ? "" : "s");
		if (rc == CH_BUSY) {
			vlog(2, "%s is busy with another connection; trying "
			    "again", ro->peer);
			ch_close(ch);
			free(*peer_desc);
			usleep((useconds_t)(BUSY_RETRY * 1e6));
			continue;
		}
		if (rc != CH_NO_ANSWER && now_seconds() - start >= secs)
			fatal(EXIT_NET, "%s%s (%s; not a psi-stream listener?)",
			    ch_failure(ch, NULL), secs == ro->timeout ?
			    " (--timeout)" : "", ch_bytes_received(ch) ?
			    "it stopped answering" : "it accepted the "
			    "connection and said nothing");
		if (rc != CH_NO_ANSWER || now_seconds() + 0.2 >= until) {
			const char *why = ch_failure(ch, &status);
			fatal(status, "%s", why);
		}
		vlog(2, "%s; trying again", ch_failure(ch, NULL));
		ch_close(ch);
		free(*peer_desc);
		usleep(200000);
	}
}

/*
 * Connector: what a listener's refusal should tell us.  The listener sends
 * nothing to a peer it has not authenticated, so all we see is the
 * connection closing after message 3; say which key it refused and which
 * line to send its operator (ssh users know this as "Permission denied
 * (publickey)", with no hint; we can do better from our own files).
 */
static char *
refused_hint(const struct run_opts *ro, const struct identity *id)
{
	char fp[PEERS_FP_LEN], b64[sodium_base64_ENCODED_LEN(PEERS_KEY_LEN,
	    sodium_base64_VARIANT_ORIGINAL)], *pub, *hint;

	if (ro->insecure)
		return xstrdup("with --insecure our key is a throw-away one: "
		    "the listener must use --insecure too");
	peers_fingerprint(fp, id->pub);
	pub = xasprintf("%s.pub", id->path);
	if (access(pub, R_OK) == 0)
		hint = xasprintf("our key is %s; to be admitted, send the line "
		    "in %s to the peer, for its authorized_peers or --peer-key",
		    fp, pub);
	else {
		sodium_bin2base64(b64, sizeof(b64), id->pub, PEERS_KEY_LEN,
		    sodium_base64_VARIANT_ORIGINAL);
		hint = xasprintf("our key is %s; to be admitted, send the peer "
		    "this line, for its authorized_peers or --peer-key: "
		    "psi-stream-x25519 %s", fp, b64);
	}
	free(pub);
	return hint;
}

/* Few keys per shard: the per-shard counts say where the peer's keys fall
 * under a public hash (security review, finding 7).  Say so. */
#define SHARD_WARN	1000

static void
warn_small_shard(const struct run_opts *ro)
{
	if (ro->s.p.shard_n < 2 || (run_stats.keys >= SHARD_WARN &&
	    run_stats.peer_records >= SHARD_WARN))
		return;
	warnx_("warning: shard %u/%u holds %llu of our keys and %llu of the "
	    "peer's: with fewer than %d, the per-shard counts show each side "
	    "where the other's keys fall; use fewer shards (see psi-stream(1), "
	    "SECURITY CONSIDERATIONS)", ro->s.p.shard_i, ro->s.p.shard_n,
	    (unsigned long long)run_stats.keys,
	    (unsigned long long)run_stats.peer_records, SHARD_WARN);
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
	struct channel *ch;
	char *peer_desc;
	int rc;

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
		psk = xsodium_malloc(32);
		psk_load(ro->psk_file, psk);
	}
	preflight_run(&ro->s);		/* local paths: exit 2 before the network */
	if (ro->insecure) {
		warnx_("warning: --insecure: the peer is not authenticated; "
		    "anyone who can connect gets answers");
		throwaway = xsodium_malloc(32);
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

	hlen = params_encode(&ro->s.p, hello);
	buf = xmalloc(CH_MAX_PAYLOAD);
	if (pol.listener) {
		ch = accept_peer(ro, &auth, &peer_params, &plen, &peer_desc);
		atomic_store(&the_channel, ch);
		stats_phase("handshake");
		ch_send(ch, FR_HELLO, hello, hlen);
		params_check(&ro->s.p, peer_params, plen, peer_desc);
		free(peer_params);
	} else {
		char *hint = refused_hint(ro, id);

		ch = connect_peer(ro, &pol, &auth, hello, hlen, &peer_desc);
		ch_refused_hint(ch, hint);
		free(hint);
		atomic_store(&the_channel, ch);
		stats_phase("handshake");
		plen = ch_expect(ch, FR_HELLO, buf);
		peer_proven(&pol);
		params_check(&ro->s.p, buf, plen, peer_desc);
	}
	if (id)
		identity_free(id);
	if (throwaway)
		sodium_free(throwaway);
	if (psk)
		sodium_free(psk);
	rc = session_run(ch, &ro->s);
	warn_small_shard(ro);
	/* From here the signal thread cannot reach the channel or --stats:
	 * a signal now waits for our exit (fatal_claim_end). */
	fatal_claim_end();
	fill_wire_stats();
	if (stats_path)		/* a failure here is a warning only: the */
		stats_write(stats_path, rc);	/* output is already in place */
	atomic_store(&the_channel, NULL);
	ch_close(ch);
	free(buf);
	free(pol.pinned);
	free(pol.authorized);
	free(pol.authorized_path);
	free(pol.known_path);
	free(peer_desc);
	return rc;
}
