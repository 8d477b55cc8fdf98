/*
 * fuzz_frames.c: libFuzzer target for the channel's receive path: length
 * prefixes, transport decryption, frame types, keepalives and ERROR frames
 * (ch_recv and ch_expect in src/channel.c).
 *
 * The fuzzer cannot forge Poly1305 tags, so the input is a script that the
 * target turns into bytes on the wire: the channel under test gets fixed
 * transport keys (ch_new_keyed) and the script's frames are encrypted for
 * it.  Input:
 *
 *   u8 expect        a frame type: ch_expect(expect) each time; 0 or a
 *                    type no range names: ch_recv only
 *   then items:      u8 kind, u16 len, len bytes
 *     kind % 4 == 0  a frame: the bytes (type byte first) encrypted as the
 *                    next transport message, with its length prefix
 *     kind % 4 == 1  raw bytes on the wire
 *     kind % 4 == 2  a frame encrypted with a skipped nonce (a replayed or
 *                    dropped message)
 *     kind % 4 == 3  a frame encrypted, its length prefix replaced by the
 *                    item's u16
 *
 * The target reads frames until the channel gives up, which it must do
 * through fatal() with status 3, 4, 5 or 6 (the end of the wire is a lost
 * connection), never by crashing, and every frame it returns must be a
 * known type other than KEEPALIVE and ERROR, at most CH_MAX_PAYLOAD bytes.
 *
 *   ./configure CC=clang --enable-fuzzing --enable-asan --enable-ubsan
 *   make fuzz/fuzz_frames && fuzz/fuzz_frames fuzz/corpus/frames
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "engine.h"
#include "fuzzlib.h"
#include "noise.h"

static struct noise_cipher key_in, key_out;	/* the target's rx and tx */

struct job {
	struct channel	*ch;
	int		 expect;
	uint8_t		*buf;
};

static void
read_all(void *arg)
{
	struct job *j = arg;
	int type;
	size_t n;

	for (;;) {
		if (j->expect) {
			type = j->expect;
			n = ch_expect(j->ch, j->expect, j->buf);
		} else
			n = ch_recv(j->ch, &type, j->buf);
		if (n > CH_MAX_PAYLOAD || frame_name(type) == NULL ||
		    type == FR_KEEPALIVE || type == FR_ERROR)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct fuzz_buf w = { NULL, 0, 0 };
	struct noise_cipher peer_tx;
	struct fuzz_peer *peer;
	struct job j;
	int fd, status;

	fuzz_init();
	memset(key_in.k, 0x11, sizeof(key_in.k));
	memset(key_out.k, 0x22, sizeof(key_out.k));
	key_in.n = key_out.n = 0;
	peer_tx = key_in;
	j.expect = fuzz_u8(&in);
	if (frame_name(j.expect) == NULL)
		j.expect = 0;
	while (in.left > 0) {
		uint8_t kind = fuzz_u8(&in);
		uint16_t len = fuzz_u16(&in);
		size_t got;
		const uint8_t *b = fuzz_bytes(&in, len, &got);

		if (got > NOISE_MAX_MSG - NOISE_TAG)
			got = NOISE_MAX_MSG - NOISE_TAG;
		switch (kind % 4) {
		case 0: fuzz_add_frame(&w, &peer_tx, b, got, 0, 0); break;
		case 1: fuzz_buf_add(&w, b, got); break;
		case 2:
			peer_tx.n++;
			fuzz_add_frame(&w, &peer_tx, b, got, 0, 0);
			break;
		case 3: fuzz_add_frame(&w, &peer_tx, b, got, 1, len); break;
		}
	}
	peer = fuzz_peer_start(w.p, w.len, &fd);
	j.ch = ch_new_keyed(fd, 5, "fuzz", &key_out, &key_in);
	j.buf = malloc(CH_MAX_PAYLOAD);
	status = fuzz_run(read_all, &j);
	if (status < 3 || status > 6)
		abort();
	ch_close(j.ch);
	fuzz_peer_end(peer);
	free(j.buf);
	free(w.p);
	return 0;
}
