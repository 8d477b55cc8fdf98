/*
 * varint.h: LEB128 varints for the temporary-file formats (recspill.c,
 * sorter.c).  Header only, static inline: these sit in the sorter's
 * hottest loops.
 *
 * A varint holds 7 bits a byte, least significant first, the top bit set
 * on every byte but the last.  A u64 takes at most 10 bytes, a u128 at
 * most 19 (VARINT128_MAX).  put_varint128 and get_varint_fast move eight
 * bytes (56 bits) at a time with shifts and masks (spread7, compact7)
 * rather than one byte at a time.
 *
 * Assumptions: put_* write at most 10 (u64) or 19 (u128) bytes at p, the
 * caller leaves room; get_varint_fast reads VARINT_OVERREAD bytes from p
 * whatever the varint's length, so the caller's buffer must have that
 * many readable bytes after its end, and the caller checks that the
 * returned pointer is not past the end of the data.  Decoders return
 * NULL for a varint that is too long or too big for its type; nothing
 * here is fatal.
 */
#ifndef PSI_VARINT_H
#define PSI_VARINT_H

#include <stdint.h>
#include <string.h>

#include "bytes.h"

#define VARINT64_MAX	10
#define VARINT128_MAX	19
#define VARINT_OVERREAD	24	/* bytes get_varint_fast may read */

static inline uint8_t *
put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)v | 0x80;
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

/* spread7 puts 56 bits in 8 varint bytes, 7 bits each; compact7 undoes it. */
static inline uint64_t
spread7(uint64_t x)
{
	x = (x & 0x000000000fffffffULL) | (x & 0x00fffffff0000000ULL) << 4;
	x = (x & 0x00003fff00003fffULL) | (x & 0x0fffc0000fffc000ULL) << 2;
	x = (x & 0x007f007f007f007fULL) | (x & 0x3f803f803f803f80ULL) << 1;
	return x;
}

static inline uint64_t
compact7(uint64_t x)
{
	x &= 0x7f7f7f7f7f7f7f7fULL;
	x = (x & 0x007f007f007f007fULL) | (x & 0x7f007f007f007f00ULL) >> 1;
	x = (x & 0x00003fff00003fffULL) | (x & 0x3fff00003fff0000ULL) >> 2;
	x = (x & 0x000000000fffffffULL) | (x & 0x0fffffff00000000ULL) >> 4;
	return x;
}

static inline uint8_t *
put_varint128(uint8_t *p, u128 v)
{
	while ((v >> 56) != 0) {
		store_le64(p, spread7((uint64_t)v & 0x00ffffffffffffffULL) |
		    0x8080808080808080ULL);
		p += 8;
		v >>= 56;
	}
	return put_varint(p, (uint64_t)v);
}

/*
 * A varint of at most max bytes whose last byte is at most lastmax (19
 * and 3 for 128 bits, 10 and 1 for 64): NULL if it is longer or too big.
 * Reads VARINT_OVERREAD bytes from p whatever the varint's length.
 */
static inline const uint8_t *
get_varint_fast(const uint8_t *p, unsigned max, unsigned lastmax, u128 *v)
{
	u128 r = 0;
	uint64_t x, stop;
	unsigned i, n;

	for (i = 0; i < 3; i++) {
		x = load_le64(p + 8 * i);
		stop = ~x & 0x8080808080808080ULL;
		if (stop == 0) {
			r |= (u128)compact7(x) << (56 * i);
			continue;
		}
		n = 8 * i + (unsigned)__builtin_ctzll(stop) / 8 + 1;
		if (n > max || (n == max && p[n - 1] > lastmax))
			return NULL;
		x &= ~0ULL >> (56 - 8 * ((n - 1) % 8));
		*v = r | (u128)compact7(x) << (56 * i);
		return p + n;
	}
	return NULL;
}

/* NULL if the varint runs past pe or does not fit 64 bits. */
static inline const uint8_t *
get_varint(const uint8_t *p, const uint8_t *pe, uint64_t *v)
{
	uint64_t r = 0;
	unsigned sh;

	for (sh = 0; sh < 70; sh += 7) {
		if (p == pe || (sh == 63 && *p > 1))
			return NULL;
		r |= (uint64_t)(*p & 0x7f) << sh;
		if (*p++ < 0x80) {
			*v = r;
			return p;
		}
	}
	return NULL;
}

#endif
