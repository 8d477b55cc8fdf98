/*
 * channel.c: the handshake driver and typed frames over Noise transport.
 *
 * Handshake (Noise XX, or XXpsk3 with a PSK), connector = initiator:
 *
 *   -> e                      message 1, empty payload
 *   <- e, ee, s, es           message 2, empty payload; the connector now
 *                             knows the listener's static key and checks it
 *   -> s, se [, psk]          message 3, carries the connector's session
 *                             parameters; the listener checks the key (or
 *                             the PSK proved it) before answering anything
 *
 * After that every Noise transport message holds one frame.  Each read is
 * bounded by the idle timeout (poll), each write by SO_SNDTIMEO, so a dead
 * or silent peer always ends in exit 3 within the timeout.  Lengths from
 * the wire are checked before use: a Noise message is at most 65535 bytes
 * by construction of its 16-bit prefix, and a frame must decrypt to at
 * least its type byte with a known type.
 *
 * One thread sends and receives; the signal thread may send an ERROR
 * frame at any moment (ch_send_error), so sending holds send_lock: the
 * transmit nonce and the message buffers are never used by two at once.
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "channel.h"
#include "engine.h"
#include "noise.h"
#include "util.h"

#define KEEPALIVE_EVERY	0.5	/* seconds between keepalives when busy */
/* Handshake messages are small: message 3, the largest, carries a static
 * key (48 bytes), the session parameters (under 300) and a tag. */
#define HS_MAX_MSG	1024
/* A listener's handshake that lasts longer than this turns away the
 * connections queued behind it: honest ones take milliseconds, so until
 * then the next in the queue just waits its turn (and a stranger that
 * fails fast gets its own log line, not a busy notice). */
#define BUSY_AFTER	0.5

struct channel {
	int			 fd;
	double			 timeout;	/* idle timeout, seconds */
	char			*peer;		/* for messages */
	struct noise_cipher	*tx, *rx;	/* one sodium_malloc'd block (tx
						   first); NULL before split */
	uint8_t			*wire;		/* 2 + NOISE_MAX_MSG */
	uint8_t			*plain;		/* NOISE_MAX_MSG */
	double			 last_send;
	uint64_t		 sent, received;
	int			 failing;	/* inside ch_send_error */
	int			 peer_gone;	/* EOF or reset seen */
	int			 reset;		/* the EOF read_wire saw was a reset */
	int			 doorman;	/* listener: listening socket, or -1 */
	unsigned long		 turned_away;	/* ... connections told busy */
	double			 hs_start;	/* when the handshake began */
	int			 busy_ok;	/* initiator: message 2 may say busy */
	int			 busy;		/* ... and it did */
	int			 first_pending;	/* initiator: no frame yet */
	int			 authenticated;	/* ERROR frames may go out */
	char			*refused_hint;	/* initiator: see ch_refused_hint */
	/* ch_try_handshake: a failure is recorded here and returned, not
	 * fatal; the whole handshake has one deadline (monotonic, 0: none). */
	int			 soft;
	double			 deadline, hs_secs;
	int			 fail_status;
	char			 fail_msg[600];
	pthread_mutex_t		 send_lock;	/* tx nonce, plain, wire */
	uint8_t			 hs_hash[NOISE_HASH];	/* zeros until split */
};

const char *
ch_frame_name(int type)
{
	const char *name = frame_name(type);

	return name ? name : "unknown";
}

const uint8_t *
ch_handshake_hash(const struct channel *ch)
{
	return ch->hs_hash;
}

struct channel *
ch_new(int fd, double timeout, const char *peer_name)
{
	struct channel *ch = xcalloc(1, sizeof(*ch));
	struct timeval tv;

	ch->fd = fd;
	ch->doorman = -1;
	ch->timeout = timeout;
	ch->peer = xstrdup(peer_name);
	ch->wire = xmalloc(2 + NOISE_MAX_MSG);
	ch->plain = xmalloc(NOISE_MAX_MSG);
	ch->last_send = now_seconds();
	{
		/* Error-checking: a fatal error inside ch_send() reaches
		 * ch_send_error() on the same thread, which must not wait
		 * for itself. */
		pthread_mutexattr_t ma;

		pthread_mutexattr_init(&ma);
		pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ERRORCHECK);
		pthread_mutex_init(&ch->send_lock, &ma);
		pthread_mutexattr_destroy(&ma);
	}
	if (timeout > 0) {
		tv.tv_sec = (time_t)timeout;
		tv.tv_usec = (suseconds_t)((timeout - (double)tv.tv_sec) * 1e6);
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	return ch;
}

/* Room for the two transport cipher states, in one guarded block. */
static void
alloc_ciphers(struct channel *ch)
{
	ch->tx = xsodium_malloc(2 * sizeof(*ch->tx));
	ch->rx = ch->tx + 1;
}

struct channel *
ch_new_keyed(int fd, double timeout, const char *peer_name,
    const struct noise_cipher *tx, const struct noise_cipher *rx)
{
	struct channel *ch = ch_new(fd, timeout, peer_name);

	alloc_ciphers(ch);
	ch->authenticated = 1;
	*ch->tx = *tx;
	*ch->rx = *rx;
	return ch;
}

/* A failure: fatal, or inside ch_try_handshake recorded for the caller
 * (returns -1).  errnum, if not 0, is appended as strerror. */
static int __attribute__((format(printf, 4, 5)))
failed(struct channel *ch, int status, int errnum, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(ch->fail_msg, sizeof(ch->fail_msg), fmt, ap);
	va_end(ap);
	n = strlen(ch->fail_msg);
	if (errnum)
		snprintf(ch->fail_msg + n, sizeof(ch->fail_msg) - n, ": %s",
		    strerror(errnum));
	ch->fail_status = status;
	if (!ch->soft)
		fatal(status, "%s", ch->fail_msg);
	return -1;
}

static int
lost(struct channel *ch, const char *what)
{
	ch->peer_gone = 1;
	return failed(ch, EXIT_NET, 0, "connection to %s lost %s", ch->peer,
	    what);
}

/* The peer's ERROR frame, decrypted in ch->plain with n payload bytes:
 * end with its reason. */
static void __attribute__((noreturn))
peer_error(struct channel *ch, size_t n)
{
	int st = n >= 1 ? ch->plain[1] : EXIT_PEER;
	size_t len = n > 1 ? n - 1 : 0;
	char msg[512];

	if (len > 400)		/* what ch_send_error sends at most */
		len = 400;
	safe_text(msg, sizeof(msg), ch->plain + 2, len);	/* no escapes */
	ch->peer_gone = 1;
	if (st == EXIT_AUTH)
		fatal(EXIT_AUTH, "peer %s refused us: %s", ch->peer, msg);
	fatal(EXIT_PEER, "peer %s failed: %s", ch->peer, msg);
}

/*
 * A send failed because the peer closed the connection.  A peer that
 * fails sends an ERROR frame first, but if we were sending at the time
 * its close resets the connection and our send fails before we read that
 * frame.  It is still in our receive buffer: look through what arrived
 * (without waiting) and, if the peer said why, end with its reason.
 */
static void
peer_last_words(struct channel *ch)
{
	struct pollfd pfd = { .fd = ch->fd, .events = POLLIN };
	size_t m;

	while (ch->rx != NULL && poll(&pfd, 1, 0) > 0) {
		if (recv(ch->fd, ch->wire, 2, MSG_WAITALL) != 2)
			return;
		m = (size_t)ch->wire[0] << 8 | ch->wire[1];
		if (m < 1 + NOISE_TAG || recv(ch->fd, ch->wire + 2, m,
		    MSG_WAITALL) != (ssize_t)m ||
		    noise_decrypt(ch->rx, ch->wire + 2, m, ch->plain) < 0)
			return;
		if (ch->plain[0] == FR_ERROR)
			peer_error(ch, m - NOISE_TAG - 1);
	}
}

static int
write_wire(struct channel *ch, const uint8_t *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(ch->fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			ch->peer_gone = 1;
			return failed(ch, EXIT_NET, 0, "peer %s stopped reading "
			    "for %g second%s (--timeout)", ch->peer, ch->timeout,
			    ch->timeout == 1 ? "" : "s");
		}
		if (n < 0) {
			int e = errno;
			ch->peer_gone = 1;
			if ((e == EPIPE || e == ECONNRESET) && !ch->soft)
				peer_last_words(ch);
			return failed(ch, EXIT_NET, e, "cannot send to %s",
			    ch->peer);
		}
		buf += n;
		len -= (size_t)n;
		ch->sent += (uint64_t)n;
	}
	ch->last_send = now_seconds();
	return 0;
}

void
ch_set_doorman(struct channel *ch, int lfd)
{
	ch->doorman = lfd;
}

unsigned long
ch_turned_away(const struct channel *ch)
{
	return ch->turned_away;
}

/*
 * A connection that arrives while the listener shakes hands with another
 * (for BUSY_AFTER already) is told so, with an empty message (PROTOCOL.md
 * section 3), and closed:
 * its connector retries at once instead of waiting out its handshake
 * deadline in our queue.  What it sent (message 1) is read and dropped
 * first, so that the close is a FIN, not a reset that could discard the
 * notice.  Costs a few syscalls and no memory; the caller logs a count.
 */
static void
turn_away(struct channel *ch, int lfd)
{
	static const uint8_t busy[2] = { 0, 0 };
	uint8_t junk[256];
	int fd, i;

	if ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) < 0)
		return;
	ch->turned_away++;
	(void)!send(fd, busy, sizeof(busy), MSG_NOSIGNAL | MSG_DONTWAIT);
	shutdown(fd, SHUT_WR);
	for (i = 0; i < 8 && recv(fd, junk, sizeof(junk), MSG_DONTWAIT) > 0;
	    i++)
		;
	close(fd);
}

/* Read exactly len bytes, each wait bounded by the idle timeout and, in
 * the handshake, all of them by its deadline.  Returns 0; 1 on a clean EOF
 * before the first byte when eof_ok; -1 on a failure (see failed()).  A
 * listener's handshake turns away other connections meanwhile. */
static int
read_wire(struct channel *ch, uint8_t *buf, size_t len, int eof_ok)
{
	struct pollfd pfd[2] = { { .fd = ch->fd, .events = POLLIN },
	    { .fd = ch->doorman, .events = POLLIN } };
	size_t got = 0;

	while (got < len) {
		int ms = ch->timeout > 0 ? (int)(ch->timeout * 1000) : -1;
		int door = ch->doorman >= 0 && ch->tx == NULL, woke = 0;
		if (door && now_seconds() < ch->hs_start + BUSY_AFTER) {
			/* not yet: wake up when it is time to watch the door */
			double wait = ch->hs_start + BUSY_AFTER - now_seconds();
			door = 0;
			if (ms < 0 || wait * 1000 < ms) {
				ms = (int)(wait * 1000) + 1;
				woke = 1;
			}
		}
		if (ch->deadline > 0) {
			double left = ch->deadline - now_seconds();
			if (left <= 0) {
				ch->peer_gone = 1;
				return failed(ch, EXIT_NET, 0, "%s did not finish "
				    "the handshake within %g second%s", ch->peer,
				    ch->hs_secs, ch->hs_secs == 1 ? "" : "s");
			}
			if (ms < 0 || left * 1000 < ms) {
				ms = (int)(left * 1000) + 1;
				woke = 0;
			}
		}
		int rc = poll(pfd, door ? 2 : 1, ms);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc == 0 && woke)
			continue;	/* time to watch the door */
		if (rc > 0 && door && (pfd[1].revents & POLLIN) &&
		    pfd[0].revents == 0) {
			/* our own peer first: if it has something, the
			 * handshake may be about to end, and the one waiting
			 * will be next */
			turn_away(ch, ch->doorman);
			continue;
		}
		if (rc == 0 && ch->deadline > 0 && now_seconds() >= ch->deadline)
			continue;	/* the deadline's message, above */
		if (rc == 0) {
			ch->peer_gone = 1;
			return failed(ch, EXIT_NET, 0, "peer %s sent nothing for "
			    "%g second%s (--timeout)", ch->peer, ch->timeout,
			    ch->timeout == 1 ? "" : "s");
		}
		ssize_t n = recv(ch->fd, buf + got, len - got, 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0 && errno == ECONNRESET && got == 0 && eof_ok) {
			ch->reset = 1;
			return 1;	/* a reset between messages: like EOF */
		}
		if (n < 0) {
			ch->peer_gone = 1;
			return failed(ch, EXIT_NET, errno, "cannot receive from "
			    "%s", ch->peer);
		}
		if (n == 0) {
			if (got == 0 && eof_ok)
				return 1;
			return lost(ch, "in the middle of a message");
		}
		got += (size_t)n;
		ch->received += (uint64_t)n;
	}
	return 0;
}

/* One length-prefixed Noise message: its length; 0 on a clean EOF (when
 * eof_ok); -1 on a failure. */
static long
read_msg(struct channel *ch, int eof_ok)
{
	size_t len;
	int rc;

	if ((rc = read_wire(ch, ch->wire, 2, eof_ok)) != 0)
		return rc > 0 ? 0 : -1;
	len = (size_t)ch->wire[0] << 8 | ch->wire[1];
	if (len == 0 && ch->busy_ok) {
		ch->busy = 1;
		return failed(ch, EXIT_NET, 0, "%s stayed busy with other "
		    "connections", ch->peer);
	}
	if (len == 0)
		return failed(ch, EXIT_PROTO, 0, "peer %s sent an empty message",
		    ch->peer);
	if (ch->tx == NULL && len > HS_MAX_MSG) {
		/* Before the handshake is over, this is no psi-stream peer
		 * (an HTTP request, say): don't wait for bytes that never
		 * come. */
		ch->peer_gone = 1;
		return failed(ch, EXIT_AUTH, 0, "%s is not a psi-stream peer: it "
		    "announced a handshake message of %zu bytes", ch->peer, len);
	}
	if (read_wire(ch, ch->wire + 2, len, 0) != 0)
		return -1;
	return (long)len;
}

static int
write_msg(struct channel *ch, size_t len)
{
	ch->wire[0] = (uint8_t)(len >> 8);
	ch->wire[1] = (uint8_t)len;
	return write_wire(ch, ch->wire, len + 2);
}

/*
 * The handshake proper.  Every failure goes through failed(): the caller
 * is ch_try_handshake, so it returns -1 with the reason recorded, or
 * CH_NO_ANSWER when the initiator's peer closed (or reset) before saying
 * anything: a listener busy with somebody else that gave up on us, say;
 * CH_BUSY when it said it was busy.
 * Nothing is sent to a peer we have not authenticated: a refused
 * connector sees the connection close.
 */
static int
handshake(struct channel *ch, struct noise_hs *hs, int initiator,
    const struct ch_auth *auth, const uint8_t *payload, size_t len,
    uint8_t **peer_payload, size_t *peer_len)
{
	size_t n;
	long m;
	char why[512];

	if (initiator) {
		if (noise_write_message(hs, NULL, 0, ch->wire + 2,
		    NOISE_MAX_MSG, &n) < 0)
			return failed(ch, EXIT_PROTO, 0, "handshake: cannot "
			    "write message 1");
		if (write_msg(ch, n) < 0)
			return ch->received == 0 ? CH_NO_ANSWER : -1;
		ch->busy_ok = 1;
		m = read_msg(ch, 1);
		ch->busy_ok = 0;
		if (ch->busy)
			return CH_BUSY;
		if (m <= 0) {
			/* A clean close (not the reset of a listener that
			 * went away with us in its queue) after reading our
			 * message 1: it could not read it, which is what a
			 * listener with a PSK does with one without.  No
			 * retry: it would answer the same every time. */
			if (m == 0 && !ch->reset && ch->received == 0 &&
			    auth->psk == NULL)
				return failed(ch, EXIT_AUTH, 0, "%s read our first "
				    "handshake message and closed the connection: "
				    "it wants a pre-shared key (--psk-file), or it "
				    "is not a psi-stream listener", ch->peer);
			if (m == 0)
				failed(ch, EXIT_AUTH, 0, "%s closed the "
				    "connection during the handshake", ch->peer);
			if (ch->deadline > 0 && now_seconds() >= ch->deadline)
				return -1;	/* held open, silent: no retry */
			return ch->received == 0 ? CH_NO_ANSWER : -1;
		}
		if (noise_read_message(hs, ch->wire + 2, (size_t)m, ch->plain,
		    NOISE_MAX_MSG, &n) < 0)
			return failed(ch, EXIT_AUTH, 0, "handshake with %s "
			    "failed: message 2 does not decrypt (%s)", ch->peer,
			    auth->psk ? "it has no --psk-file, or is not a "
			    "psi-stream peer" : "not a psi-stream peer?");
		if (auth->check_peer(auth->arg, noise_remote_static(hs), why,
		    sizeof(why)) < 0)
			return failed(ch, EXIT_AUTH, 0, "refusing %s: %s",
			    ch->peer, why);
		if (noise_write_message(hs, payload, len, ch->wire + 2,
		    NOISE_MAX_MSG, &n) < 0)
			return failed(ch, EXIT_PROTO, 0, "handshake: cannot "
			    "write message 3");
		if (write_msg(ch, n) < 0)
			return -1;
	} else {
		if ((m = read_msg(ch, 1)) <= 0)
			return m < 0 ? -1 : failed(ch, EXIT_AUTH, 0, "%s closed "
			    "the connection before the handshake", ch->peer);
		if (noise_read_message(hs, ch->wire + 2, (size_t)m, ch->plain,
		    NOISE_MAX_MSG, &n) < 0)
			return failed(ch, EXIT_AUTH, 0, "handshake with %s "
			    "failed: bad message 1 (%s)", ch->peer, auth->psk ?
			    "no --psk-file there, or not a psi-stream peer" :
			    "not a psi-stream peer?");
		if (noise_write_message(hs, NULL, 0, ch->wire + 2,
		    NOISE_MAX_MSG, &n) < 0)
			return failed(ch, EXIT_PROTO, 0, "handshake: cannot "
			    "write message 2");
		if (write_msg(ch, n) < 0)
			return -1;
		if ((m = read_msg(ch, 1)) <= 0)
			return m < 0 ? -1 : failed(ch, EXIT_AUTH, 0, "%s closed "
			    "the connection during the handshake: it does not "
			    "accept our key (check the fingerprint it reports)%s",
			    ch->peer, auth->psk ? "" : ", or it has a --psk-file "
			    "and we do not");
		if (noise_read_message(hs, ch->wire + 2, (size_t)m, ch->plain,
		    NOISE_MAX_MSG, &n) < 0)
			return failed(ch, EXIT_AUTH, 0, "handshake with %s "
			    "failed: message 3 does not decrypt%s", ch->peer,
			    auth->psk ? " (the peer's PSK differs from ours)" :
			    "");
		if (auth->check_peer(auth->arg, noise_remote_static(hs), why,
		    sizeof(why)) < 0)
			return failed(ch, EXIT_AUTH, 0, "refusing %s: %s",
			    ch->peer, why);
		*peer_payload = xmalloc(n ? n : 1);
		memcpy(*peer_payload, ch->plain, n);
		*peer_len = n;
	}
	alloc_ciphers(ch);
	if (noise_hs_finished(hs))
		noise_handshake_hash(hs, ch->hs_hash);
	if (!noise_hs_finished(hs) || noise_split(hs, ch->tx, ch->rx) < 0)
		return failed(ch, EXIT_PROTO, 0, "handshake with %s did not "
		    "complete", ch->peer);
	ch->first_pending = initiator;
	/* The connector knows the listener's key, but with a PSK only its
	 * first frame proves it: until then we tell it nothing. */
	ch->authenticated = !initiator;
	return 0;
}

int
ch_try_handshake(struct channel *ch, int initiator, const struct ch_auth *auth,
    double secs, const uint8_t *payload, size_t len, uint8_t **peer_payload,
    size_t *peer_len)
{
	static const uint8_t prologue[] = "psi-stream/1";
	struct noise_hs *hs;
	int rc;

	if (peer_payload) {
		*peer_payload = NULL;
		*peer_len = 0;
	}
	hs = noise_hs_new(initiator, auth->s_priv, auth->psk, prologue,
	    sizeof(prologue) - 1);
	ch->soft = 1;
	ch->hs_secs = secs;
	ch->hs_start = now_seconds();
	ch->deadline = secs > 0 ? now_seconds() + secs : 0;
	ch->fail_msg[0] = '\0';
	rc = handshake(ch, hs, initiator, auth, payload, len, peer_payload,
	    peer_len);
	ch->soft = 0;
	ch->deadline = 0;
	noise_hs_free(hs);
	if (rc != 0 && peer_payload) {
		free(*peer_payload);
		*peer_payload = NULL;
	}
	return rc;
}

const char *
ch_failure(const struct channel *ch, int *status)
{
	if (status)
		*status = ch->fail_status;
	return ch->fail_msg;
}

void
ch_handshake(struct channel *ch, int initiator, const struct ch_auth *auth,
    const uint8_t *payload, size_t len, uint8_t **peer_payload,
    size_t *peer_len)
{
	if (ch_try_handshake(ch, initiator, auth, 0, payload, len,
	    peer_payload, peer_len) != 0)
		fatal(ch->fail_status, "%s", ch->fail_msg);
}

void
ch_send(struct channel *ch, int type, const void *payload, size_t len)
{
	if (len > CH_MAX_PAYLOAD)
		bug("frame of %zu bytes", len);
	pthread_mutex_lock(&ch->send_lock);
	ch->plain[0] = (uint8_t)type;
	if (len)
		memcpy(ch->plain + 1, payload, len);
	if (noise_encrypt(ch->tx, ch->plain, len + 1, ch->wire + 2) < 0)
		fatal(EXIT_PROTO, "session too long: nonce exhausted");
	write_msg(ch, len + 1 + NOISE_TAG);
	pthread_mutex_unlock(&ch->send_lock);
}

size_t
ch_recv(struct channel *ch, int *type, uint8_t *buf)
{
	for (;;) {
		long m = read_msg(ch, 1);
		size_t n;

		if (m == 0 && ch->first_pending) {
			ch->peer_gone = 1;
			fatal(EXIT_AUTH, "%s closed the connection after the "
			    "handshake: it did not accept us (a different PSK, "
			    "or our key is not authorized there)%s%s", ch->peer,
			    ch->refused_hint ? "; " : "", ch->refused_hint ?
			    ch->refused_hint : "");
		}
		if (m == 0)
			lost(ch, "(the peer closed the connection)");
		if ((size_t)m < 1 + NOISE_TAG ||
		    noise_decrypt(ch->rx, ch->wire + 2, (size_t)m, ch->plain) < 0)
			fatal(ch->first_pending ? EXIT_AUTH : EXIT_PROTO,
			    "message from %s fails authentication (corrupted "
			    "or forged)", ch->peer);
		if (ch->first_pending) {
			/* the handshake is complete, a PSK proven */
			ch->first_pending = 0;
			ch->authenticated = 1;
		}
		n = (size_t)m - NOISE_TAG - 1;
		*type = ch->plain[0];
		if (frame_name(*type) == NULL)
			fatal(EXIT_PROTO, "peer %s sent an unknown frame type %d",
			    ch->peer, *type);
		if (*type == FR_KEEPALIVE)
			continue;
		if (*type == FR_ERROR)
			peer_error(ch, n);
		memcpy(buf, ch->plain + 1, n);
		return n;
	}
}

size_t
ch_expect(struct channel *ch, int type, uint8_t *buf)
{
	int got;
	size_t n = ch_recv(ch, &got, buf);

	if (got != type)
		fatal(EXIT_PROTO, "protocol violation by %s: expected %s, "
		    "got %s", ch->peer, ch_frame_name(type), ch_frame_name(got));
	return n;
}

int
ch_pending(struct channel *ch)
{
	struct pollfd pfd = { .fd = ch->fd, .events = POLLIN };

	return poll(&pfd, 1, 0) > 0;
}

void
ch_refused_hint(struct channel *ch, const char *hint)
{
	free(ch->refused_hint);
	ch->refused_hint = hint ? xstrdup(hint) : NULL;
}

void
ch_keepalive(struct channel *ch)
{
	if (ch->tx && now_seconds() - ch->last_send >= KEEPALIVE_EVERY)
		ch_send(ch, FR_KEEPALIVE, NULL, 0);
}

void
ch_send_error(struct channel *ch, int status, const char *msg)
{
	uint8_t plain[2 + 400], wire[2 + 2 + 400 + NOISE_TAG], drain[4096];
	size_t len = strlen(msg);
	struct timeval tv = { .tv_sec = 2 };
	struct timespec ts;

	if (ch == NULL || ch->tx == NULL || !ch->authenticated ||
	    ch->failing || ch->peer_gone)
		return;
	/*
	 * The signal thread may get here while the main thread is sending:
	 * wait up to a second for its message to end, then take the sender's
	 * place (the main thread waits at its next send until we exit).  A
	 * main thread stuck in a send for longer (a peer that does not read)
	 * gets no ERROR frame: the peer sees EOF.  On the main thread itself,
	 * a failure inside ch_send() finds the lock its own (EDEADLK): the
	 * stream is mid-message and no frame can follow.  Our own buffers:
	 * the main thread may be inside ch_recv() with the channel's.
	 */
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 1;
	if (pthread_mutex_timedlock(&ch->send_lock, &ts) != 0)
		return;
	ch->failing = 1;
	if (len > sizeof(plain) - 2)
		len = sizeof(plain) - 2;
	plain[0] = FR_ERROR;
	plain[1] = (uint8_t)status;
	memcpy(plain + 2, msg, len);
	if (noise_encrypt(ch->tx, plain, len + 2, wire + 2) < 0)
		goto out;
	wire[0] = (uint8_t)((len + 2 + NOISE_TAG) >> 8);
	wire[1] = (uint8_t)(len + 2 + NOISE_TAG);
	setsockopt(ch->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (send(ch->fd, wire, len + 4 + NOISE_TAG, MSG_NOSIGNAL |
	    MSG_DONTWAIT) < 0)
		goto out;
	/* Closing with unread input would send a reset that can overtake
	 * the error frame, and a reset also throws away what we sent and
	 * the peer has not received yet: finish our side, then read until
	 * the peer, having read our reason, closes too (at most 2 s: a peer
	 * busy sending to us reads our frame only once it is done). */
	shutdown(ch->fd, SHUT_WR);
	double left, until = now_seconds() + 2.0;
	struct pollfd pfd = { .fd = ch->fd, .events = POLLIN };
	while ((left = until - now_seconds()) > 0 &&
	    poll(&pfd, 1, (int)(left * 1000) + 1) > 0)
		if (recv(ch->fd, drain, sizeof(drain), MSG_DONTWAIT) <= 0)
			break;
out:
	pthread_mutex_unlock(&ch->send_lock);
}

void
ch_close(struct channel *ch)
{
	if (ch == NULL)
		return;
	shutdown(ch->fd, SHUT_WR);
	close(ch->fd);
	sodium_free(ch->tx);		/* rx too; NULL before the split */
	free(ch->wire);
	free(ch->plain);
	free(ch->peer);
	free(ch->refused_hint);
	pthread_mutex_destroy(&ch->send_lock);
	free(ch);
}

uint64_t
ch_bytes_sent(const struct channel *ch)
{
	return ch->sent;
}

uint64_t
ch_bytes_received(const struct channel *ch)
{
	return ch->received;
}
