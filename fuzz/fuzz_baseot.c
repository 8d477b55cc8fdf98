/*
 * fuzz_baseot.c: libFuzzer target for the two base-OT messages a peer
 * sends (src/baseot.c): the sender's point A, read by baseot_receive(),
 * and the receiver's points B_0..B_{n-1}, read by baseot_sender_keys().
 *
 * Input: u8 mode, then points.  mode & 1 = 0: the next 32 bytes are A,
 * run 4 OTs with the choice bits in the mode byte; 1: the rest, cut into
 * up to 16 whole 32-byte points, is B.  The property checked: a call
 * succeeds exactly when every point it read is a valid, non-identity
 * ristretto255 encoding, and on failure it outputs no key (all zero);
 * anything else aborts.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "baseot.h"
#include "fuzzlib.h"
#include "util.h"

#define MAXB	16

/*
 * Valid and not the identity.  The identity is tested as p + G == G, not
 * by its canonical encoding: libsodium's is_valid_point also accepts the
 * all-zero encoding with the top bit set, which decodes to the identity
 * (the fuzzer found it; baseot.c refuses it in the multiplication).
 */
static int
good_point(const uint8_t p[32])
{
	static const uint8_t one[32] = { 1 };
	uint8_t g[32], r[32];

	if (!crypto_core_ristretto255_is_valid_point(p))
		return 0;
	if (crypto_scalarmult_ristretto255_base(g, one) != 0 ||
	    crypto_core_ristretto255_add(r, p, g) != 0)
		abort();
	return memcmp(r, g, 32) != 0;
}

static int
all_zero(const uint8_t *p, size_t n)
{
	size_t i;
	uint8_t acc = 0;

	for (i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t sid[BASEOT_SID];
	uint8_t A[32], B[MAXB * 32], k0[MAXB * 32], k1[MAXB * 32], c;
	struct baseot_sender *s;
	size_t n, i;
	int rc, want;

	fuzz_init();
	if (size < 1 + 32)
		return 0;
	c = data[0] >> 1;
	if ((data[0] & 1) == 0) {
		rc = baseot_receive(sid, data + 1, &c, 4, B, k0, NULL);
		want = good_point(data + 1) ? 0 : -1;
		if (rc != want || (rc != 0 && !all_zero(k0, 4 * 32)))
			abort();
		return 0;
	}
	n = (size - 1) / 32;
	if (n > MAXB)
		n = MAXB;
	want = 0;
	for (i = 0; i < n; i++)
		if (!good_point(data + 1 + 32 * i))
			want = -1;
	s = baseot_sender_new(A, NULL);
	rc = baseot_sender_keys(s, sid, data + 1, n, k0, k1);
	baseot_sender_free(s);
	if (rc != want || (rc != 0 && !(all_zero(k0, n * 32) &&
	    all_zero(k1, n * 32))))
		abort();
	return 0;
}
