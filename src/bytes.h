/*
 * bytes.h: the 128-bit integer type and the byte-order helpers, in one
 * place.  Header only: every function is a static inline that compiles
 * to a load or store and a byte swap where the order needs one.
 *
 *	u128			PRF values, digest values (gcs, sorter)
 *	put_u16/u32/u64,
 *	get_u32/u64		big-endian: frame payloads, the wire format
 *				(doc/PROTOCOL.md) and OPRF length prefixes
 *	load_be64,
 *	load/store_be128	big-endian, for numbers that order like memcmp
 *				(fingerprints, OT engine values)
 *	put_le32/get_le32,
 *	load_le64/store_le64	little-endian: the temporary-file formats
 *				(spillfile.h, varint.h)
 *	load_host32/64		host order: hashing, where only speed counts
 *				and the result never leaves the process
 *
 * p may be unaligned everywhere.  Nothing here fails.
 */
#ifndef PSI_BYTES_H
#define PSI_BYTES_H

#include <endian.h>
#include <stdint.h>
#include <string.h>

typedef unsigned __int128 u128;

static inline void
put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* NAME(p) loads a T from p through CONV; NAME(p, v) stores v. */
#define BYTES_LOAD(NAME, T, CONV)					\
static inline T								\
NAME(const uint8_t *p)							\
{									\
	T v;								\
									\
	memcpy(&v, p, sizeof(v));					\
	return CONV(v);							\
}
#define BYTES_STORE(NAME, T, CONV)					\
static inline void							\
NAME(uint8_t *p, T v)							\
{									\
	v = CONV(v);							\
	memcpy(p, &v, sizeof(v));					\
}
#define BYTES_HOST(v)	(v)

BYTES_STORE(put_u32, uint32_t, htobe32)
BYTES_LOAD(get_u32, uint32_t, be32toh)
BYTES_STORE(put_u64, uint64_t, htobe64)
BYTES_LOAD(get_u64, uint64_t, be64toh)
BYTES_LOAD(load_be64, uint64_t, be64toh)
BYTES_STORE(put_le32, uint32_t, htole32)
BYTES_LOAD(get_le32, uint32_t, le32toh)
BYTES_STORE(store_le64, uint64_t, htole64)
BYTES_LOAD(load_le64, uint64_t, le64toh)
BYTES_LOAD(load_host64, uint64_t, BYTES_HOST)
BYTES_LOAD(load_host32, uint32_t, BYTES_HOST)

static inline u128
load_be128(const uint8_t *p)
{
	return (u128)get_u64(p) << 64 | get_u64(p + 8);
}

static inline void
store_be128(uint8_t *p, u128 v)
{
	put_u64(p, (uint64_t)(v >> 64));
	put_u64(p + 8, (uint64_t)v);
}

#endif
