/*
 * baseot.h: the base oblivious transfers of the OT engine: n random
 * 1-out-of-2 OTs of 32-byte keys (Chou-Orlandi "simplest OT") over
 * ristretto255, bound to a session id.  See baseot.c for the protocol.
 *
 * The sender (the KKRT querier) gets both keys of every OT; the receiver
 * (the KKRT holder) gets, for each i, the key of its choice bit c_i and
 * nothing about the other.  Messages: the sender's point A (32 bytes),
 * then the receiver's n points B_i (n * 32 bytes).  Functions taking the
 * peer's points return -1 if any point is not a valid, non-identity
 * ristretto255 encoding (nothing is output then).
 *
 * Each OT i depends only on i and the messages, so the _range forms do
 * OTs lo .. hi-1 of the same arrays (indexed from 0, as for n = hi):
 * threads may share one call's work by slices.  On -1 a _range form
 * wipes the keys of its own slice only.
 */
#ifndef PSI_BASEOT_H
#define PSI_BASEOT_H

#include <stddef.h>
#include <stdint.h>

#define BASEOT_POINT	32
#define BASEOT_KEY	32
#define BASEOT_SID	64	/* the Noise handshake hash */

struct baseot_sender;

/* Draw the sender's secret a (from seed if non-NULL: tests only) and
 * write A = a*G.  The state lives in secure memory. */
struct baseot_sender *baseot_sender_new(uint8_t A[BASEOT_POINT],
	    const uint8_t *seed32);
/* From the receiver's n points B (n * 32 bytes): keys0 and keys1, n * 32
 * bytes each.  0, or -1 on an invalid point. */
int	baseot_sender_keys(const struct baseot_sender *,
	    const uint8_t sid[BASEOT_SID], const uint8_t *B, size_t n,
	    uint8_t *keys0, uint8_t *keys1);
int	baseot_sender_keys_range(const struct baseot_sender *,
	    const uint8_t sid[BASEOT_SID], const uint8_t *B, size_t lo,
	    size_t hi, uint8_t *keys0, uint8_t *keys1);
void	baseot_sender_free(struct baseot_sender *);

/* Receiver: with choice bits c (bit i = bit i % 8 of c[i / 8]) and the
 * sender's A, write the n points B (n * 32 bytes) to send and the chosen
 * keys (n * 32 bytes).  Scalars from seed if non-NULL (tests only).
 * 0, or -1 if A is invalid. */
int	baseot_receive(const uint8_t sid[BASEOT_SID],
	    const uint8_t A[BASEOT_POINT], const uint8_t *c, size_t n,
	    uint8_t *B, uint8_t *keys, const uint8_t *seed32);
int	baseot_receive_range(const uint8_t sid[BASEOT_SID],
	    const uint8_t A[BASEOT_POINT], const uint8_t *c, size_t lo,
	    size_t hi, uint8_t *B, uint8_t *keys, const uint8_t *seed32);

#endif
