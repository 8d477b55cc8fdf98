/*
 * fuzz_gcs.c: libFuzzer target for gcs_decode(), the parser of the
 * digest chunks a peer sends (DESIGN section 1).
 *
 * The input is one chunk.  Its own t and base are passed as expect_t and
 * *base_inout, so every input gets past those two checks and the fuzzer
 * spends its time in the bit stream (t and base mismatches are covered by
 * tests/t_gcs.c).  A chunk that decodes must hold sorted values >= base
 * and < 2^t, and, the encoding being canonical, gcs_encode() must give
 * back exactly the input bytes; anything else aborts.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address -Isrc fuzz/fuzz_gcs.c \
 *       src/gcs.c src/util.c -lsodium -o /tmp/fuzz_gcs
 *   /tmp/fuzz_gcs fuzz/corpus/gcs
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gcs.h"
#include "util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	u128 *vals, base = 0, b, prev, lim;
	uint8_t *re;
	size_t max, used, i, len;
	unsigned t;
	long count, got;
	int j;

	if ((count = gcs_chunk_count(data, size)) < 0)
		return 0;
	for (j = 0; j < 16; j++)
		base = (base << 8) | data[6 + j];
	t = data[4];
	/* A value takes at least one bit: more than that cannot decode. */
	max = (size - GCS_HEADER) * 8;
	if (max > (size_t)count)
		max = (size_t)count;
	vals = xcalloc(max ? max : 1, sizeof(*vals));
	b = base;
	got = gcs_decode(data, size, t, &b, vals, max);
	if (got < 0) {
		free(vals);
		return 0;
	}

	if (got != count || t < 1 || t > 128 || data[5] >= t)
		abort();
	lim = t == 128 ? ~(u128)0 : ((u128)1 << t) - 1;
	prev = base;
	for (i = 0; i < (size_t)got; i++) {
		if (vals[i] < prev || vals[i] > lim)
			abort();
		prev = vals[i];
	}
	if (b != prev)
		abort();
	re = xmalloc(size);
	len = gcs_encode(re, size, vals, (size_t)got, t, data[5], base, &used);
	if (len != size || used != (size_t)got || memcmp(re, data, size) != 0)
		abort();
	free(re);
	free(vals);
	return 0;
}
