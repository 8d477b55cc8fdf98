/*
 * channel.h: typed frames over a Noise-encrypted TCP connection.
 *
 * Wire: every Noise message (handshake or transport) is preceded by its
 * length as a 16-bit big-endian integer.  A transport message decrypts to
 * one frame: a type byte followed by at most CH_MAX_PAYLOAD bytes.
 * Keepalive frames are consumed inside ch_recv; an ERROR frame from the
 * peer ends the process (exit 6, or 4 if the peer refused our key).
 */
#ifndef PSI_CHANNEL_H
#define PSI_CHANNEL_H

#include <stddef.h>
#include <stdint.h>

#include "bytes.h"	/* put_u64 and friends for frame payloads */

#define CH_MAX_PAYLOAD	(65535 - 16 - 1)

/*
 * The channel's own frame types.  Everything else lives in a range of 16
 * per engine or module (engine.h: FR_RANGE_*), named where it is used:
 * engine-dh.h, digest.h.  ch_recv refuses a type no range names.
 */
enum frame_type {
	FR_HELLO = 1,		/* listener's session parameters */
	FR_DONE = 10,		/* holder: finished successfully */
	FR_ERROR = 11,		/* either: u8 exit status, then a message */
	FR_KEEPALIVE = 12	/* either: empty, ignored */
};

struct channel;

/* Our side of the authentication. */
struct ch_auth {
	const uint8_t	*s_priv;	/* our static private key (32 bytes) */
	const uint8_t	*psk;		/* 32 bytes, or NULL */
	/* Decide on the peer's static key; returns 0 to accept.  On refusal it
	 * fills why (a line saying what to do) and returns -1. */
	int		(*check_peer)(void *arg, const uint8_t pub[32],
			    char *why, size_t whylen);
	void		*arg;
};

struct channel *ch_new(int fd, double timeout, const char *peer_name);
/* Tests and fuzzing only: a channel whose handshake was done elsewhere,
 * starting from copies of these two transport cipher states. */
struct noise_cipher;
struct channel *ch_new_keyed(int fd, double timeout, const char *peer_name,
	    const struct noise_cipher *tx, const struct noise_cipher *rx);
/*
 * Run the XX (or XXpsk3) handshake.  The initiator (connector) sends
 * `payload` in message 3; the responder (listener) gets it in *peer_payload
 * (malloc'd, *peer_len bytes).  The whole handshake must end within secs
 * seconds (0: only the idle timeout applies).  Returns 0 once the peer's
 * key is accepted; on any failure -1, or CH_NO_ANSWER when the initiator's
 * peer went away before answering (a busy listener: worth a retry), with
 * the reason (naming the peer) and its exit status in ch_failure().
 * Nothing at all is sent to a peer before it is authenticated: not even
 * an ERROR frame.  The caller closes a channel whose handshake failed.
 */
#define CH_NO_ANSWER	(-2)
/* The initiator's listener said it is busy shaking hands with another
 * connection (an empty message before message 2): worth a retry soon. */
#define CH_BUSY		(-3)
int	ch_try_handshake(struct channel *, int initiator,
	    const struct ch_auth *, double secs, const uint8_t *payload,
	    size_t len, uint8_t **peer_payload, size_t *peer_len);
const char *ch_failure(const struct channel *, int *status);
/* Listener: during this channel's handshake, connections arriving on the
 * listening socket lfd are told the listener is busy and closed (their
 * connectors get CH_BUSY and retry) instead of waiting in the queue. */
void	ch_set_doorman(struct channel *, int lfd);
/* How many it turned away (only once the handshake has lasted 0.5 s). */
unsigned long ch_turned_away(const struct channel *);
/* The same without a deadline; any failure is fatal with its status. */
void	ch_handshake(struct channel *, int initiator, const struct ch_auth *,
	    const uint8_t *payload, size_t len, uint8_t **peer_payload,
	    size_t *peer_len);
/* The Noise handshake hash (NOISE_HASH bytes; zeros for ch_new_keyed). */
const uint8_t *ch_handshake_hash(const struct channel *);
void	ch_send(struct channel *, int type, const void *payload, size_t len);
/* Next non-keepalive frame; returns its payload length.  buf must hold
 * CH_MAX_PAYLOAD bytes.  Timeout, EOF and bad frames are fatal. */
size_t	ch_recv(struct channel *, int *type, uint8_t *buf);
/* Like ch_recv but demands a frame of this type. */
size_t	ch_expect(struct channel *, int type, uint8_t *buf);
/* 1 if a message from the peer is waiting to be read (never blocks). */
int	ch_pending(struct channel *);
/* Connector: what to add when the listener closes right after the
 * handshake, i.e. refused us (composed locally: the listener tells an
 * unauthenticated peer nothing).  Copied; NULL: none. */
void	ch_refused_hint(struct channel *, const char *hint);
/* Send a keepalive if nothing was sent for a while (call during local work). */
void	ch_keepalive(struct channel *);
/* Best effort: tell the peer why we stop; never fails, never blocks long.
 * Safe from another thread (the signal thread) while this one sends or
 * receives: frames are sent under a lock, and this uses its own buffers. */
void	ch_send_error(struct channel *, int status, const char *msg);
void	ch_close(struct channel *);
/* Bytes on the wire so far. */
uint64_t ch_bytes_sent(const struct channel *);
uint64_t ch_bytes_received(const struct channel *);
/* The frame's name (engine.h frame_name()), "unknown" if it has none. */
const char *ch_frame_name(int type);

#endif
