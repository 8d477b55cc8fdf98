/*
 * t_blake2bx.c: unit tests of blake2bx.c and the path choice of cpu.c.
 * Every path this CPU has (portable always; AVX2, AVX-512 where present)
 * is compared with crypto_generichash for every message length 0..128
 * and digest lengths 1, 16, 32, 64 on random messages, in batches of
 * sizes that are not multiples of the lane counts, with random bytes in
 * the slots after each message (they must not matter); the RFC 7693
 * "abc" vector; a one-bit change in one lane changes that lane's digest
 * and no other; and the comparison itself rejects a deliberately wrong
 * digest.  In child processes, PSI_STREAM_PORTABLE=1 leaves only the
 * portable path and =0 leaves the CPU's own.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "blake2bx.h"
#include "cpu.h"
#include "util.h"
#include "tap.h"

#define MAXN	37	/* batch sizes up to this: 1..37 covers every tail */

static const char *names[] = { "auto", "portable", "AVX2", "AVX-512" };

/* 1 if out (n digests of outlen) equals crypto_generichash of each slot */
static int
matches(const uint8_t *out, size_t outlen, const uint8_t *blocks,
    const uint8_t *len, size_t n)
{
	uint8_t want[B2X_MAXOUT];
	size_t i;

	for (i = 0; i < n; i++) {
		crypto_generichash(want, outlen, blocks + i * B2X_BLOCK, len[i],
		    NULL, 0);
		if (memcmp(want, out + i * outlen, outlen) != 0)
			return 0;
	}
	return 1;
}

static void
test_path(int p)
{
	static const size_t outs[] = { 1, 16, 32, 64 };
	static const size_t ns[] = { 1, 3, 4, 5, 7, 8, 9, 13, 15, 16, 17, 31, 32, 33, MAXN };
	uint8_t *blocks = xmalloc(MAXN * B2X_BLOCK), *copy;
	uint8_t *out = xmalloc(MAXN * B2X_MAXOUT), len[MAXN], l, o;
	size_t i, k, fails = 0, runs = 0;

	/* every length in every lane position, every digest length */
	for (o = 0; o < 4; o++)
		for (l = 0; l <= B2X_BLOCK; l++) {
			randombytes_buf(blocks, MAXN * B2X_BLOCK);
			for (i = 0; i < MAXN; i++)	/* l, then neighbours */
				len[i] = (uint8_t)((l + i * 41) % (B2X_BLOCK +
				    1));
			blake2bx(out, outs[o], blocks, len, MAXN);
			fails += !matches(out, outs[o], blocks, len, MAXN);
			runs++;
		}
	ok(fails == 0, "%s path = crypto_generichash, lengths 0..128, "
	    "digests 1/16/32/64 (%zu batches of %d)", names[p], runs, MAXN);

	/* batch sizes off the lane count; the slot after the batch is
	 * never read into a digest (poisoned, compared unchanged) */
	fails = 0;
	for (k = 0; k < sizeof(ns) / sizeof(ns[0]); k++) {
		randombytes_buf(blocks, MAXN * B2X_BLOCK);
		randombytes_buf(len, sizeof(len));
		for (i = 0; i < MAXN; i++)
			len[i] %= B2X_BLOCK + 1;
		memset(out, 0xa5, MAXN * B2X_MAXOUT);
		blake2bx(out, 16, blocks, len, ns[k]);
		fails += !matches(out, 16, blocks, len, ns[k]);
		for (i = ns[k] * 16; i < MAXN * B2X_MAXOUT; i++)
			fails += out[i] != 0xa5;
	}
	ok(fails == 0, "%s path: batches of 1..%d messages, nothing written "
	    "past n digests", names[p], MAXN);

	/* bytes after the message do not matter */
	randombytes_buf(blocks, MAXN * B2X_BLOCK);
	for (i = 0; i < MAXN; i++)
		len[i] = (uint8_t)(i * 3);
	copy = xmalloc(MAXN * B2X_BLOCK);
	memcpy(copy, blocks, MAXN * B2X_BLOCK);
	for (i = 0; i < MAXN; i++)
		memset(copy + i * B2X_BLOCK + len[i], i & 1 ? 0 : 0xff,
		    B2X_BLOCK - len[i]);
	blake2bx(out, 32, blocks, len, MAXN);
	blake2bx(out + MAXN * 32, 32, copy, len, MAXN);	/* 32*2*37 fits */
	ok(memcmp(out, out + MAXN * 32, MAXN * 32) == 0 && matches(out, 32,
	    copy, len, MAXN), "%s path: slot bytes after a message are "
	    "ignored", names[p]);

	/* negative twin: one bit in lane 5 moves lane 5's digest only */
	for (i = 0; i < 8; i++)
		len[i] = 99;
	blake2bx(out, 16, blocks, len, 8);
	blocks[5 * B2X_BLOCK + 60] ^= 0x10;
	blake2bx(out + 8 * 16, 16, blocks, len, 8);
	fails = 0;
	for (i = 0; i < 8; i++)
		fails += (memcmp(out + i * 16, out + (8 + i) * 16, 16) != 0) !=
		    (i == 5);
	ok(fails == 0, "%s path: a flipped bit in lane 5 changes lane 5's "
	    "digest and no other", names[p]);
	/* ... and a flipped bit past the length changes nothing */
	blocks[5 * B2X_BLOCK + 100] ^= 0x01;
	blake2bx(out, 16, blocks, len, 8);
	ok(memcmp(out, out + 8 * 16, 8 * 16) == 0, "%s path: a flipped bit "
	    "after the message changes nothing", names[p]);
	/* the check rejects a wrong digest */
	out[3 * 16 + 7] ^= 1;
	ok(!matches(out, 16, blocks, len, 8), "%s path: a digest with one "
	    "bit wrong fails the comparison", names[p]);
	free(copy);
	free(blocks);
	free(out);
}

/* RFC 7693 appendix A: BLAKE2b-512("abc") */
static void
test_vector(void)
{
	static const char want[] =
	    "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1"
	    "7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923";
	uint8_t block[B2X_BLOCK] = "abc", len = 3, out[64];
	char hex[129];

	blake2bx(out, 64, block, &len, 1);
	sodium_bin2hex(hex, sizeof(hex), out, 64);
	ok(strcmp(hex, want) == 0, "%s path: RFC 7693 BLAKE2b-512(\"abc\")",
	    names[blake2bx_path()]);
	out[0] ^= 1;
	sodium_bin2hex(hex, sizeof(hex), out, 64);
	ok(strcmp(hex, want) != 0, "the vector check fails a wrong digest");
}

/* In a child (cpu.c decides once per process): with PSI_STREAM_PORTABLE
 * set to val, the features and default path; exit status 10 * path +
 * (features != 0). */
static int
child_path(const char *val)
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		setenv("PSI_STREAM_PORTABLE", val, 1);
		_exit(10 * blake2bx_path() + (cpu_features() != 0) +
		    (blake2bx_force(2) == 0 ? 100 : 0));
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

int
main(void)
{
	int p, portable, other;

	if (sodium_init() < 0)
		return 1;
	/* before this process asks cpu.c anything */
	portable = child_path("1");
	other = child_path("0");
	ok(portable == 10, "PSI_STREAM_PORTABLE=1: no SIMD features, the "
	    "portable path, AVX2 refused (%d)", portable);
	if (cpu_features() != 0)
		ok(other == 10 * blake2bx_path() + 1 + (blake2bx_force(2) == 0
		    ? 100 : 0), "PSI_STREAM_PORTABLE=0: this CPU's paths (%d)",
		    other);
	else
		ok(1, "# SKIP no SIMD path on this CPU or build");
	for (p = 1; p <= 3; p++) {
		if (blake2bx_force(p) != 0) {
			ok(1, "# SKIP %s path not on this CPU", names[p]);
			continue;
		}
		test_path(p);
		test_vector();
	}
	blake2bx_force(0);
	ok(blake2bx_force(4) != 0 && blake2bx_force(-1) != 0 &&
	    blake2bx_path() >= 1, "unknown paths are refused");
	diag("CPU features %#x, default path %s", cpu_features(),
	    names[blake2bx_path()]);
	return done_testing();
}
