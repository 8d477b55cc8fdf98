/*
 * fuzz_session.c: libFuzzer target for the protocol as a whole: every
 * frame a peer sends during a session, as parsed and checked by
 * session_run() (QUERY sizes and elements, EVAL counts and elements,
 * QEND/HCOUNT/DEND/REND/COUNT counts, DIGEST and REVEAL chunks, DONE), for
 * both roles and --count-only, over a channel with fixed keys
 * (ch_new_keyed), on one thread and the smallest --memory.
 *
 * Input:
 *   u8 flags         bit 0: we are the querier (else the holder)
 *                    bit 1: --reveal querier (else both)
 *                    bit 2: --count-only
 *   u8 nkeys         our input: keys "key0".."keyN-1", N = nkeys % 8
 *   then items as in fuzz_frames.c (u8 kind, u16 len, len bytes; kind % 4:
 *                    0 frame, 1 raw wire bytes, 2 skipped nonce,
 *                    3 false length prefix)
 *
 * A session either completes (status 0: the script was a valid run, as in
 * the seeds from fuzz/mkseeds) or ends in fatal() with status 2 (our own
 * output file), 3, 4, 5 or 6; anything else, a crash or a sanitizer report
 * is a finding.  No output file may survive a failed session.
 */
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "engine.h"
#include "fuzzlib.h"
#include "noise.h"
#include "records.h"
#include "session.h"

struct job {
	struct channel		*ch;
	struct session_opts	 o;
	int			 rc;
};

static void
run(void *arg)
{
	struct job *j = arg;

	j->rc = session_run(j->ch, &j->o);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct fuzz_buf w = { NULL, 0, 0 }, keys = { NULL, 0, 0 };
	struct noise_cipher key_in, key_out, peer_tx;
	struct fuzz_peer *peer;
	struct job j;
	char *files[1], out[4096], line[16];
	uint8_t flags, nkeys;
	int fd, status;
	struct stat st;

	fuzz_init();
	if (size > 256 * 1024)
		return 0;
	memset(key_in.k, 0x11, sizeof(key_in.k));
	memset(key_out.k, 0x22, sizeof(key_out.k));
	key_in.n = key_out.n = 0;
	peer_tx = key_in;
	flags = fuzz_u8(&in);
	nkeys = fuzz_u8(&in) % 8;
	for (int i = 0; i < nkeys; i++) {
		int n = snprintf(line, sizeof(line), "key%d\n", i);
		fuzz_buf_add(&keys, line, (size_t)n);
	}
	while (in.left > 0) {
		uint8_t kind = fuzz_u8(&in);
		uint16_t len = fuzz_u16(&in);
		size_t got;
		const uint8_t *b = fuzz_bytes(&in, len, &got);

		if (got > NOISE_MAX_MSG - NOISE_TAG)
			got = NOISE_MAX_MSG - NOISE_TAG;
		if (kind % 4 == 1)
			fuzz_buf_add(&w, b, got);
		else {
			if (kind % 4 == 2)
				peer_tx.n++;
			fuzz_add_frame(&w, &peer_tx, b, got, kind % 4 == 3, len);
		}
	}

	memset(&j, 0, sizeof(j));
	j.o.p.version = PROTOCOL_VERSION;
	j.o.p.engine = ENGINE_DH;
	j.o.p.key_fields = 1;
	j.o.p.role = flags & 1 ? ROLE_QUERIER : ROLE_HOLDER;
	j.o.p.reveal = flags & 2 ? REVEAL_QUERIER : REVEAL_BOTH;
	j.o.p.count_only = flags >> 2 & 1;
	j.o.rec.delim = '\t';
	j.o.memory = SESSION_MIN_MEMORY;
	rec_set_memory(&j.o.rec, j.o.memory, engine_by_id(ENGINE_DH)->reserve);
	j.o.tmpdir = fuzz_dir();
	j.o.threads = 1;	/* fatal() must happen on this thread */
	files[0] = (char *)fuzz_file("input", keys.p ? keys.p : (uint8_t *)"",
	    keys.len, 0600);
	j.o.files = files;
	j.o.nfiles = 1;
	snprintf(out, sizeof(out), "%s/out", fuzz_dir());
	unlink(out);
	j.o.output = out;

	peer = fuzz_peer_start(w.p, w.len, &fd);
	j.ch = ch_new_keyed(fd, 5, "fuzz", &key_out, &key_in);
	status = fuzz_run(run, &j);
	if (status == 0 && j.rc != 0)
		abort();
	if (status == 1 || status > 6)
		abort();
	if (status != 0 && stat(out, &st) == 0)
		abort();	/* a failed session left its output */
	ch_close(j.ch);
	fuzz_peer_end(peer);
	free(w.p);
	free(keys.p);
	return 0;
}
