/*
 * t_transpose.c: unit tests of transpose.c.  Every path this CPU has
 * (portable always; AVX2 and AVX-512 BW on x86 CPUs that have them) is
 * compared with a bit-by-bit
 * transpose on random matrices of 128, 384 and 4096 bins with a column
 * stride larger than needed; the paths agree with each other; one
 * flipped input bit moves exactly one output bit, to the transposed
 * place (a path that swapped rows and columns in a block would fail);
 * forcing an unknown path is refused.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "transpose.h"
#include "util.h"
#include "tap.h"

static int
bit(const uint8_t *p, size_t i)
{
	return (p[i / 8] >> (i % 8)) & 1;
}

static void
slow_transpose(uint8_t *rows, const uint8_t *cols, size_t stride, size_t n)
{
	size_t c, i;

	memset(rows, 0, n * TRANSPOSE_ROW);
	for (c = 0; c < TRANSPOSE_COLS; c++)
		for (i = 0; i < n; i++)
			if (bit(cols + c * stride, i))
				rows[i * TRANSPOSE_ROW + c / 8] |=
				    (uint8_t)(1u << (c % 8));
}

static const char *names[] = { "auto", "portable", "AVX2", "AVX-512" };

static void
test_paths(size_t n)
{
	size_t stride = n / 8 + 24, diff, i;
	uint8_t *cols = xmalloc(TRANSPOSE_COLS * stride);
	uint8_t *want = xmalloc(n * TRANSPOSE_ROW);
	uint8_t *got = xmalloc(n * TRANSPOSE_ROW);
	int p;

	randombytes_buf(cols, TRANSPOSE_COLS * stride);
	slow_transpose(want, cols, stride, n);
	for (p = 1; p <= 3; p++) {
		if (transpose_force(p) != 0) {
			ok(1, "# SKIP %s path not on this CPU", names[p]);
			continue;
		}
		memset(got, 0xa5, n * TRANSPOSE_ROW);
		transpose_512(got, cols, stride, n);
		ok(memcmp(got, want, n * TRANSPOSE_ROW) == 0,
		    "%s path = bit-by-bit transpose, %zu bins", names[p], n);
		/* flip column 37, bin n - 3: only row n - 3, bit 37 moves */
		cols[37 * stride + (n - 3) / 8] ^= (uint8_t)(1u << ((n - 3) % 8));
		transpose_512(got, cols, stride, n);
		cols[37 * stride + (n - 3) / 8] ^= (uint8_t)(1u << ((n - 3) % 8));
		diff = 0;
		for (i = 0; i < n * TRANSPOSE_ROW; i++)
			diff += (size_t)__builtin_popcount(got[i] ^ want[i]);
		ok(diff == 1 && bit(got + (n - 3) * TRANSPOSE_ROW, 37) !=
		    bit(want + (n - 3) * TRANSPOSE_ROW, 37),
		    "%s path: one flipped bit lands transposed", names[p]);
	}
	transpose_force(0);
	free(cols);
	free(want);
	free(got);
}

int
main(void)
{
	if (sodium_init() < 0)
		return 1;
	test_paths(128);
	test_paths(384);
	test_paths(4096);
	ok(transpose_force(4) == -1 && transpose_force(-1) == -1,
	    "unknown paths are refused");
	ok(transpose_path() >= 1 && transpose_path() <= 3,
	    "auto chose path %d (%s)", transpose_path(),
	    names[transpose_path()]);
	return done_testing();
}
