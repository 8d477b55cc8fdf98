/*
 * t_prg.c: unit tests of prg.c and of the libsodium primitives the OT
 * engine is built on:
 * - ChaCha20 RFC 8439 2.3.2 (block function, counter 1) and 2.4.2
 *   (the "sunscreen" encryption), through the call prg.c makes;
 * - BLAKE2b-512("abc"), RFC 7693 appendix A (the code word and output
 *   hashes of kkrt.c and the base-OT keys are BLAKE2b);
 * - prg_stream: the stream of (key, bucket) read from block k equals the
 *   matching slice of the whole stream, for lengths that are not
 *   multiples of 64; other keys and other buckets give other bytes;
 *   bucket b is the little-endian nonce tail (a byte-order slip fails);
 * - prg_streams on every path this CPU has (portable always, AVX-512
 *   where present) equals prg_stream key by key, for key counts and
 *   lengths that leave partial steps of 16 blocks and partial blocks,
 *   from blocks other than 0, and writes nothing between the columns;
 *   the comparison itself rejects a one-byte change;
 * - run again (t_prg --path), PSI_STREAM_PORTABLE=1 leaves only the
 *   portable path (AVX-512 refused) and =0 leaves the CPU's own.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <sodium.h>

#include "cpu.h"
#include "prg.h"
#include "util.h"
#include "tap.h"

static void
unhex(uint8_t *out, size_t len, const char *hex)
{
	if (hex_decode(out, len, hex, strlen(hex)) != 0) {
		fprintf(stderr, "bad hex in test\n");
		exit(2);
	}
}

static void
test_chacha_vectors(void)
{
	uint8_t key[32], nonce[12], zero[64] = { 0 }, got[114], want[114];
	static const char sunscreen[] = "Ladies and Gentlemen of the class "
	    "of '99: If I could offer you only one tip for the future, "
	    "sunscreen would be it.";
	int i;

	for (i = 0; i < 32; i++)
		key[i] = (uint8_t)i;
	unhex(nonce, 12, "000000090000004a00000000");
	unhex(want, 64, "10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c06803"
	    "0422aa9ac3d46c4ed2826446079faa0914c2d705d98b02a2b5129cd1de164e"
	    "b9cbd083e8a2503c4e");
	crypto_stream_chacha20_ietf_xor_ic(got, zero, 64, nonce, 1, key);
	ok(memcmp(got, want, 64) == 0, "ChaCha20 RFC 8439 2.3.2 block");
	crypto_stream_chacha20_ietf_xor_ic(got, zero, 64, nonce, 2, key);
	ok(memcmp(got, want, 64) != 0, "counter 2 gives another block");

	unhex(nonce, 12, "000000000000004a00000000");
	unhex(want, 114, "6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c2"
	    "0a27afccfd9fae0bf91b65c5524733ab8f593dabcd62b3571639d624e65152"
	    "ab8f530c359f0861d807ca0dbf500d6a6156a38e088a22b65e52bc514d16cc"
	    "f806818ce91ab77937365af90bbf74a35be6b40b8eedf2785e42874d");
	crypto_stream_chacha20_ietf_xor_ic(got, (const uint8_t *)sunscreen,
	    114, nonce, 1, key);
	ok(memcmp(got, want, 114) == 0, "ChaCha20 RFC 8439 2.4.2 sunscreen");
	got[113] ^= 1;
	ok(memcmp(got, want, 114) != 0, "a flipped bit is seen");
}

static void
test_blake2b_vector(void)
{
	uint8_t got[64], want[64];

	unhex(want, 64, "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b"
	    "12bb6fdbffa2d17d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925a"
	    "b92386edd4009923");
	crypto_generichash(got, 64, (const uint8_t *)"abc", 3, NULL, 0);
	ok(memcmp(got, want, 64) == 0, "BLAKE2b-512(abc) RFC 7693 A");
	crypto_generichash(got, 64, (const uint8_t *)"abd", 3, NULL, 0);
	ok(memcmp(got, want, 64) != 0, "BLAKE2b-512(abd) differs");
}

static void
test_prg_stream(void)
{
	enum { LEN = 64 * 40 };
	uint8_t key[32], key2[32], all[LEN], part[LEN], nonce[12];
	static const uint8_t zero[LEN];
	size_t k, len, bad = 0;
	int i;

	randombytes_buf(key, sizeof(key));
	memcpy(key2, key, 32);
	key2[31] ^= 0x80;
	prg_stream(all, LEN, key, 0x0102030405060708ULL, 0);

	/* the same bytes as the raw call with nonce "KKRT" || LE64(b) */
	memcpy(nonce, "KKRT", 4);
	for (i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(8 - i);
	crypto_stream_chacha20_ietf_xor_ic(part, zero, LEN, nonce, 0, key);
	ok(memcmp(part, all, LEN) == 0,
	    "prg_stream = ChaCha20(key, \"KKRT\" || LE64(bucket), 0)");
	for (i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(i + 1);
	crypto_stream_chacha20_ietf_xor_ic(part, zero, LEN, nonce, 0, key);
	ok(memcmp(part, all, LEN) != 0, "a big-endian bucket differs");

	for (k = 0; k < 40; k += 3)
		for (len = 1; len + 64 * k <= LEN; len += 97) {
			prg_stream(part, len, key, 0x0102030405060708ULL, k);
			if (memcmp(part, all + 64 * k, len) != 0)
				bad++;
		}
	ok(bad == 0, "any slice from any block equals the whole stream");
	prg_stream(part, 64, key, 0x0102030405060708ULL, 1);
	ok(memcmp(part, all, 64) != 0, "block 1 is not block 0");
	prg_stream(part, LEN, key, 0x0102030405060709ULL, 0);
	ok(memcmp(part, all, LEN) != 0, "another bucket, another stream");
	prg_stream(part, LEN, key2, 0x0102030405060708ULL, 0);
	ok(memcmp(part, all, LEN) != 0, "another key, another stream");
}

#define NKEYS	35
#define STRIDE	1040	/* > the longest len: a gap after each column */

/* Columns of prg_streams that differ from prg_stream, or whose gap
 * bytes (after len) are not the 0xa5 they were set to. */
static size_t
streams_bad(const uint8_t *got, const uint8_t (*keys)[PRG_KEY],
    size_t nkeys, size_t len, uint64_t bucket, uint64_t block)
{
	uint8_t want[STRIDE];
	size_t c, i, bad = 0;

	for (c = 0; c < nkeys; c++) {
		prg_stream(want, len, keys[c], bucket, block);
		if (memcmp(got + c * STRIDE, want, len) != 0)
			bad++;
		for (i = len; i < STRIDE; i++)
			if (got[c * STRIDE + i] != 0xa5) {
				bad++;
				break;
			}
	}
	return bad;
}

static void
test_streams_path(int p)
{
	static const size_t lens[] = { 16, 48, 64, 80, 128, 512, 1000, 1024 };
	static const size_t nkeys[] = { 1, 2, 3, 15, 16, 17, NKEYS };
	static const char *names[] = { "auto", "portable", "AVX-512" };
	uint8_t keys[NKEYS][PRG_KEY], *out = xmalloc(NKEYS * STRIDE);
	size_t li, ki, bad = 0, runs = 0;
	uint64_t block;

	if (prg_force(p) != 0) {
		ok(1, "# SKIP no %s PRG path on this CPU or build", names[p]);
		free(out);
		return;
	}
	randombytes_buf(keys, sizeof(keys));
	for (li = 0; li < sizeof(lens) / sizeof(lens[0]); li++)
		for (ki = 0; ki < sizeof(nkeys) / sizeof(nkeys[0]); ki++)
			for (block = 0; block < 20; block += 7) {
				memset(out, 0xa5, NKEYS * STRIDE);
				prg_streams(out, STRIDE, lens[li],
				    (const uint8_t (*)[PRG_KEY])keys, nkeys[ki],
				    0x1122334455667788ULL, block);
				bad += streams_bad(out, (const uint8_t
				    (*)[PRG_KEY])keys, nkeys[ki], lens[li],
				    0x1122334455667788ULL, block) != 0;
				runs++;
			}
	ok(bad == 0, "prg_streams, %s path: = prg_stream per key, nothing "
	    "written between columns (%zu of %zu shapes differ)", names[p],
	    bad, runs);
	if (p == PRG_AVX512 || p == PRG_PORTABLE) {
		memset(out, 0xa5, NKEYS * STRIDE);
		prg_streams(out, STRIDE, 512, (const uint8_t (*)[PRG_KEY])keys,
		    NKEYS, 9, 3);
		out[20 * STRIDE + 300] ^= 0x10;
		ok(streams_bad(out, (const uint8_t (*)[PRG_KEY])keys, NKEYS,
		    512, 9, 3) == 1, "negative twin, %s path: one changed "
		    "byte is seen", names[p]);
	}
	prg_force(0);
	free(out);
}

/* This program run again with --path and PSI_STREAM_PORTABLE=val (cpu.c
 * decides once per process): its exit status, 10 * default path +
 * (AVX-512 forcible). */
static int
child_path(const char *self, const char *val)
{
	char cmd[4096];
	int st;

	if (strchr(self, '\'') != NULL || (size_t)snprintf(cmd, sizeof(cmd),
	    "PSI_STREAM_PORTABLE=%s '%s' --path", val, self) >= sizeof(cmd))
		return -1;
	st = system(cmd);
	return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int
main(int argc, char **argv)
{
	int portable, other;

	if (argc == 2 && strcmp(argv[1], "--path") == 0)
		return 10 * prg_path() + (prg_force(PRG_AVX512) == 0);
	if (sodium_init() < 0)
		return 1;
	portable = child_path(argv[0], "1");
	other = child_path(argv[0], "0");
	setenv("PSI_STREAM_PORTABLE", "0", 1);	/* this process: every path */
	ok(portable == 10 * PRG_PORTABLE, "PSI_STREAM_PORTABLE=1: the "
	    "portable PRG path, AVX-512 refused (%d)", portable);
	if (cpu_features() & CPU_AVX512)
		ok(other == 10 * PRG_AVX512 + 1, "PSI_STREAM_PORTABLE=0 on "
		    "this AVX-512 CPU: the AVX-512 PRG path (%d)", other);
	else
		ok(other == 10 * PRG_PORTABLE, "PSI_STREAM_PORTABLE=0 on a CPU "
		    "without AVX-512: the portable PRG path (%d)", other);
	test_chacha_vectors();
	test_blake2b_vector();
	test_prg_stream();
	test_streams_path(PRG_PORTABLE);
	test_streams_path(PRG_AVX512);
	return done_testing();
}
