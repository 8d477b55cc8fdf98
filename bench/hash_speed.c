/*
 * hash_speed.c: nanoseconds per one-block BLAKE2b hash on each path of
 * blake2bx.c (portable = libsodium one call per message, AVX2, AVX-512)
 * for the OT engine's three shapes: a fingerprint (55 + 16-byte key,
 * 16-byte digest), a KKRT code word (71 bytes, 64-byte digest) and a
 * KKRT output (99 bytes, 16-byte digest), in batches of 256 messages;
 * then nanoseconds per byte of the PRG (prg.c) on each of its paths for
 * a superblock's shape: 512 columns of 512 bytes (prg_streams).
 * A benchmark, not a test: it asserts nothing.  Built by `make bench`.
 */
#include <stdio.h>
#include <stdlib.h>

#include <sodium.h>

#include "blake2bx.h"
#include "prg.h"
#include "util.h"

#define BATCH	256
#define ROUNDS	2000
#define COLS	512
#define COLLEN	512
#define PRG_ROUNDS 200

/* ns per byte of prg_streams on each path, 512 x 512 bytes a call. */
static void
prg_speed(void)
{
	static const char *names[] = { "", "portable", "AVX-512" };
	static uint8_t keys[COLS][PRG_KEY], out[COLS * COLLEN];
	double t;
	int p, r;

	randombytes_buf(keys, sizeof(keys));
	printf("%-28s %10s %10s\n", "PRG ns per byte", names[1], names[2]);
	printf("%-28s", "512 columns of 512 bytes");
	for (p = PRG_PORTABLE; p <= PRG_AVX512; p++) {
		if (prg_force(p) != 0) {
			printf(" %10s", "-");
			continue;
		}
		t = now_seconds();
		for (r = 0; r < PRG_ROUNDS; r++)
			prg_streams(out, COLLEN, COLLEN,
			    (const uint8_t (*)[PRG_KEY])keys, COLS, 7,
			    (uint64_t)r * (COLLEN / PRG_BLOCK));
		printf(" %10.3f", (now_seconds() - t) * 1e9 /
		    ((double)PRG_ROUNDS * sizeof(out)));
	}
	putchar('\n');
	prg_force(0);
}

int
main(void)
{
	static const struct { const char *what; uint8_t len; size_t out; }
	    shapes[] = {
		{ "fingerprint, 71 -> 16 bytes", 71, 16 },
		{ "code word,   71 -> 64 bytes", 71, 64 },
		{ "output,      99 -> 16 bytes", 99, 16 },
	};
	static const char *names[] = { "", "portable", "AVX2", "AVX-512" };
	static uint8_t blocks[BATCH * B2X_BLOCK], out[BATCH * B2X_MAXOUT];
	uint8_t len[BATCH];
	double t;
	size_t s, i;
	int p, r;

	if (sodium_init() < 0)
		return 1;
	randombytes_buf(blocks, sizeof(blocks));
	printf("%-28s %10s %10s %10s\n", "ns per hash", names[1], names[2],
	    names[3]);
	for (s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
		for (i = 0; i < BATCH; i++)
			len[i] = shapes[s].len;
		printf("%-28s", shapes[s].what);
		for (p = 1; p <= 3; p++) {
			if (blake2bx_force(p) != 0) {
				printf(" %10s", "-");
				continue;
			}
			t = now_seconds();
			for (r = 0; r < ROUNDS; r++) {
				blake2bx(out, shapes[s].out, blocks, len, BATCH);
				blocks[r % BATCH * B2X_BLOCK] ^= out[0];
			}
			printf(" %10.1f", (now_seconds() - t) * 1e9 /
			    ((double)ROUNDS * BATCH));
		}
		putchar('\n');
	}
	prg_speed();
	return 0;
}
