/*
 * records.c: records and keys from a sequence of sources (DESIGN section 3).
 *
 * Call order: rec_open(), rec_next() until it returns 0, rec_get_stats(),
 * rec_close().  Sources are opened one at a time, in order.
 * rec_open_range() instead reads one byte range of one plain file (see
 * source_open_range()), opened at once so that the reader can then be
 * used from another thread.  The range is parsed as if it were a file of
 * its own: record numbers start at 1, and a last record without a
 * terminator is complete.  Splitting a file right after terminators thus
 * yields the same records as reading it whole (not with --csv, whose
 * quoted terminators are not record ends).
 *
 * rec_next() walks the current source chunk by chunk.  Terminators are
 * found 64 bytes at a time: mask64() turns a block into a bit mask of
 * terminator positions (SSE2 where available), and fill_section() lists
 * the positions of a whole section in one tight loop, so that each record
 * costs little more than reading the next position (chunk offsets fit in
 * 32 bits: sources hand out chunks of at most a few MiB).  A record lying
 * wholly inside a chunk is returned as a pointer into the chunk; only a
 * record that spans chunks is copied, into the carry buffer, which grows
 * up to the longest record accepted (max_record: rec_set_memory(), at
 * most REC_MAX_RECORD), so a long record cannot take more memory than the
 * budget gives it; it is freed when the input ends (rec_memory()).  A longer record is invalid: with skip_invalid or
 * count_invalid its bytes are discarded (still tracking CSV quotes) until
 * its end.  The common plain case (whole record = key) has a fast path at
 * the top of rec_next(); records and keys are derived when stats are
 * asked for, not counted per record.
 *
 * CSV (RFC 4180, read leniently): a record ends at a terminator outside
 * quotes.  A quote opens a quoted field only at the start of a field;
 * inside, "" is a literal quote and a lone quote closes the field; bytes
 * after the closing quote up to the delimiter are kept (as Python's csv
 * does), and a quote inside an unquoted field is literal.  Records without
 * quotes take the same fast path as plain lines.  The boundary scan keeps
 * its state across chunks (csv_advance); fields are then parsed from the
 * complete record (csv_field).
 *
 * Conventions: record numbers count every record of a file, the header
 * included, so they match line numbers for line-based files; an empty
 * record has an empty key whatever the key field; '\r' is dropped only
 * before '\n'.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "records.h"
#include "source.h"
#include "util.h"

#define SECTION		(16u * 1024)	/* bytes scanned per batch; multiple of 64 */

/* CSV scanner states. */
enum { CS_FSTART, CS_UNQ, CS_INQ, CS_QQ };

struct rec_reader {
	struct rec_opts	 o;
	uint8_t		 term;
	char		**paths;	/* per file, as given ("-" = stdin) */
	char		**names;	/* per file, as used in messages */
	int		 nfiles;
	int		 fileno;	/* index of the current source */
	struct source	*src;
	uint64_t	 recno;		/* within the current file */

	const uint8_t	*chunk;		/* current chunk of the source */
	size_t		 clen;
	size_t		 pos;		/* start of the unread part */
	size_t		 scan;		/* next block to scan (multiple of 64) */
	uint64_t	 first_mask;	/* terminators in the block at scan */
	uint32_t	 tpos[SECTION];	/* terminators found in the section */
	size_t		 ntpos, itpos;	/*   their number, the next one */

	uint8_t		*carry;		/* a record spanning chunks */
	size_t		 carrylen;
	size_t		 carrycap;
	int		 in_record;	/* carry (or discard) holds a started record */
	int		 discard;	/* record too long: dropping its bytes */
	int		 csv_state;

	uint8_t		*keybuf;	/* unescaped or case-folded keys */
	size_t		 keycap;
	unsigned	 kf[REC_MAX_FIELDS];	/* --key-field list: numbers,
					   names resolved for this file */
	unsigned	 nkf;		/* 0: o.key_field alone */
	uint8_t		*comp;		/* composite keys */
	size_t		 compcap;
	uint8_t		*header;	/* the first file's header record */
	size_t		 headerlen;
	int		 warned;
	size_t		 max_record;	/* longest record accepted */
	char		 too_long[128];	/* the message for a longer one */
	int		 plain;		/* whole record is the key, as is */
	uint64_t	 first;		/* 1 if the header is to be skipped */
	uint64_t	 records_done;	/* records in the files before this one */
	int		 ranged;	/* rec_open_range(): one byte range */
	uint64_t	 range_off, range_len;
	struct rec_stats st;
};

/* ---- terminator scanning ----------------------------------------------- */

/* Bit i set iff p[i] == c, for the 64 bytes at p. */
static inline __attribute__((always_inline)) uint64_t
mask64(const uint8_t *p, uint8_t c)
{
#if defined(__SSE2__)
	const __m128i v = _mm_set1_epi8((char)c);
	uint64_t m0, m1, m2, m3;

	m0 = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(
	    _mm_loadu_si128((const __m128i *)p), v));
	m1 = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(
	    _mm_loadu_si128((const __m128i *)(p + 16)), v));
	m2 = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(
	    _mm_loadu_si128((const __m128i *)(p + 32)), v));
	m3 = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(
	    _mm_loadu_si128((const __m128i *)(p + 48)), v));
	return m0 | m1 << 16 | m2 << 32 | m3 << 48;
#else
	uint64_t m = 0;
	int i;

	for (i = 0; i < 64; i++)
		m |= (uint64_t)(p[i] == c) << i;
	return m;
#endif
}

/* Mask of the (partial) block at chunk offset off, off + 64 > clen. */
static uint64_t
tail_mask(const struct rec_reader *r, size_t off)
{
	uint8_t tail[64];
	size_t n = r->clen - off;

	memcpy(tail, r->chunk + off, n);
	memset(tail + n, r->term ^ 0xff, sizeof(tail) - n);
	return mask64(tail, r->term);
}

/*
 * Fills r->tpos with the offsets of the terminators in the next section
 * of the chunk (SECTION bytes from r->scan); 0 when the chunk is done.
 * Listing a section's terminators in one tight loop is much faster than
 * finding them one record at a time.
 */
static int
fill_section(struct rec_reader *r)
{
	size_t off = r->scan, end, n = 0;
	uint64_t m;

	if (off >= r->clen)
		return 0;
	end = off + SECTION < r->clen ? off + SECTION : r->clen;
	m = r->first_mask;
	for (;;) {
		while (m != 0) {
			r->tpos[n++] = (uint32_t)(off + (size_t)__builtin_ctzll(m));
			m &= m - 1;
		}
		off += 64;
		if (off >= end)
			break;
		m = r->clen - off >= 64 ? mask64(r->chunk + off, r->term) :
		    tail_mask(r, off);
	}
	r->scan = off;
	if (off < r->clen)
		r->first_mask = r->clen - off >= 64 ?
		    mask64(r->chunk + off, r->term) : tail_mask(r, off);
	r->ntpos = n;
	r->itpos = 0;
	return 1;
}

/* Restarts scanning at chunk offset pos. */
static void
scan_reset(struct rec_reader *r, size_t pos)
{
	r->scan = pos & ~(size_t)63;
	r->ntpos = r->itpos = 0;
	if (r->scan < r->clen)
		r->first_mask = (r->clen - r->scan >= 64 ?
		    mask64(r->chunk + r->scan, r->term) :
		    tail_mask(r, r->scan)) & (~(uint64_t)0 << (pos & 63));
}

/* Offset of the next terminator at or after the scan point, or -1. */
static inline ptrdiff_t
find_term(struct rec_reader *r)
{
	while (r->itpos == r->ntpos)
		if (!fill_section(r))
			return -1;
	return (ptrdiff_t)r->tpos[r->itpos++];
}

/* ---- CSV --------------------------------------------------------------- */

/*
 * Runs the CSV record-boundary automaton over p[0..n) from *state;
 * returns the offset of the terminator that ends the record, or n.
 */
static size_t
csv_advance(int *state, const uint8_t *p, size_t n, uint8_t term,
    uint8_t delim)
{
	const uint8_t *q;
	int st = *state;
	size_t i = 0;
	uint8_t c;

	while (i < n) {
		if (st == CS_INQ) {
			q = memchr(p + i, '"', n - i);
			if (q == NULL) {
				i = n;
				break;
			}
			i = (size_t)(q - p) + 1;
			st = CS_QQ;
			continue;
		}
		c = p[i++];
		if (c == '"' && st != CS_UNQ) {
			/* opens a field, or is the second of "" */
			st = CS_INQ;
		} else if (c == term) {
			*state = st;
			return i - 1;
		} else {
			st = c == delim ? CS_FSTART : CS_UNQ;
		}
	}
	*state = st;
	return n;
}

/* Key buffer with room for n bytes. */
static uint8_t *
keyspace(struct rec_reader *r, size_t n)
{
	if (n > r->keycap) {
		r->keycap = n;
		r->keybuf = xreallocarray(r->keybuf, 1, n);
	}
	return r->keybuf;
}

/*
 * Field n (1-based) of the complete CSV record d[0..len): 1 with *key and
 * *klen set (quotes removed), or 0 if the record has fewer fields.
 */
static int
csv_field(struct rec_reader *r, const uint8_t *d, size_t len, unsigned n,
    const uint8_t **key, size_t *klen)
{
	const uint8_t *q, *dl;
	size_t i = 0, j, cs, ce, fend, k, o;
	uint8_t delim = (uint8_t)r->o.delim;
	unsigned f = 1;
	int simple;

	for (;; f++) {
		if (i < len && d[i] == '"') {
			/* Quoted field: find the closing quote. */
			cs = j = i + 1;
			simple = 1;
			for (;;) {
				q = memchr(d + j, '"', len - j);
				if (q == NULL) {	/* unterminated */
					ce = j = len;
					break;
				}
				k = (size_t)(q - d);
				if (k + 1 < len && d[k + 1] == '"') {
					simple = 0;
					j = k + 2;
					continue;
				}
				ce = k;
				j = k + 1;
				break;
			}
			dl = memchr(d + j, delim, len - j);
			fend = dl != NULL ? (size_t)(dl - d) : len;
			if (f == n) {
				if (simple && fend == j) {
					*key = d + cs;
					*klen = ce - cs;
					return 1;
				}
				/* Undouble quotes, keep bytes after the
				 * closing quote. */
				uint8_t *kb = keyspace(r, (ce - cs) + (fend - j));
				for (o = 0, k = cs; k < ce; k++) {
					kb[o++] = d[k];
					if (d[k] == '"')
						k++;
				}
				memcpy(kb + o, d + j, fend - j);
				*key = kb;
				*klen = o + (fend - j);
				return 1;
			}
		} else {
			dl = memchr(d + i, delim, len - i);
			fend = dl != NULL ? (size_t)(dl - d) : len;
			if (f == n) {
				*key = d + i;
				*klen = fend - i;
				return 1;
			}
		}
		if (dl == NULL)
			return 0;
		i = fend + 1;
	}
}

/* ---- keys -------------------------------------------------------------- */

static inline int
is_ws(uint8_t c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

static void
fold_case(uint8_t *dst, const uint8_t *src, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		uint8_t c = src[i];
		dst[i] = (uint8_t)(c - 'A') < 26 ? c | 0x20 : c;
	}
}

/* ---- invalid records --------------------------------------------------- */

/* An invalid record: fatal, or counted (and warned about once). */
static void
invalid(struct rec_reader *r, const char *why)
{
	const char *name = r->names[r->fileno];
	unsigned long long recno = (unsigned long long)r->recno;

	if (!r->o.count_invalid && !r->o.skip_invalid)
		fatal_input("%s: record %llu: %s", name, recno, why);
	if (r->st.invalid < 5) {
		r->st.first_invalid[r->st.invalid] = r->recno;
		r->st.first_invalid_file[r->st.invalid] = name;
	}
	r->st.invalid++;
	if (!r->o.count_invalid && !r->warned) {
		r->warned = 1;
		warnx_("%s: record %llu: %s; skipping invalid records "
		    "(--skip-invalid)", name, recno, why);
	}
}

/* Field n (1-based) of the complete record d[0..len): 1 with *key and
 * *klen set, 0 if the record has fewer fields. */
static inline int
get_field(struct rec_reader *r, const uint8_t *d, size_t len, unsigned n,
    const uint8_t **key, size_t *klen)
{
	const uint8_t *p = d, *end = d + len, *q;
	unsigned f;

	if (r->o.csv)
		return csv_field(r, d, len, n, key, klen);
	for (f = 1; f < n; f++) {
		q = memchr(p, r->o.delim, (size_t)(end - p));
		if (q == NULL)
			return 0;
		p = q + 1;
	}
	q = memchr(p, r->o.delim, (size_t)(end - p));
	*key = p;
	*klen = (size_t)((q != NULL ? q : end) - p);
	return 1;
}

/*
 * The header record of a file: kept (the first file's) for rec_header(),
 * and the columns named in --key-field looked up in it, for this file.
 */
static void
header_seen(struct rec_reader *r, const uint8_t *d, size_t len)
{
	const uint8_t *name;
	size_t nlen;
	unsigned i, f;

	if (r->fileno == 0 && r->header == NULL) {
		r->header = xmalloc(len + 1);
		memcpy(r->header, d, len);
		r->headerlen = len;
	}
	for (i = 0; i < r->nkf; i++) {
		if (r->o.key_names[i] == NULL)
			continue;
		r->kf[i] = 0;
		for (f = 1; get_field(r, d, len, f, &name, &nlen); f++) {
			if (nlen == r->o.key_namelen[i] &&
			    memcmp(name, r->o.key_names[i], nlen) == 0) {
				r->kf[i] = f;
				break;
			}
		}
		if (r->kf[i] == 0)
			fatal_input("%s: the header has no column named "
			    "'%.*s' (--key-field)", r->names[r->fileno],
			    (int)r->o.key_namelen[i], r->o.key_names[i]);
	}
	if (r->nkf == 1)
		r->o.key_field = r->kf[0];
}

/* A record before the header was seen (it was too long to read). */
static void
no_header(const struct rec_reader *r, unsigned i)
{
	fatal_input("%s: no header to find column '%.*s' in (--key-field)",
	    r->names[r->fileno], (int)r->o.key_namelen[i], r->o.key_names[i]);
}

/* Strips ASCII white space around key[0..*klen) (--trim). */
static inline const uint8_t *
trim_key(const uint8_t *key, size_t *klen)
{
	while (*klen > 0 && is_ws(key[0]))
		key++, (*klen)--;
	while (*klen > 0 && is_ws(key[*klen - 1]))
		(*klen)--;
	return key;
}

/*
 * A composite key (--key-field 2,5): each field, normalised on its own,
 * as a 2-byte big-endian length and its bytes, in the order given, so
 * that "a","bc" and "ab","c" differ.  0 with *why set if a field is
 * missing; *klen 0 if every field is empty.
 */
static int
composite_key(struct rec_reader *r, const uint8_t *d, size_t len,
    const uint8_t **key, size_t *klen, unsigned *missing)
{
	const uint8_t *f;
	size_t flen, n = 0, nonempty = 0;
	unsigned i;

	for (i = 0; i < r->nkf; i++) {
		if (r->kf[i] == 0)
			no_header(r, i);
		if (len == 0 || !get_field(r, d, len, r->kf[i], &f, &flen)) {
			*missing = r->kf[i];
			return 0;
		}
		if (r->o.trim)
			f = trim_key(f, &flen);
		nonempty += flen;
		if (flen > REC_MAX_KEY - 2 || n + 2 + flen > REC_MAX_KEY) {
			n = REC_MAX_KEY + 1;	/* too long */
			break;
		}
		if (n + 2 + flen > r->compcap) {
			r->compcap = REC_MAX_KEY;
			r->comp = xreallocarray(r->comp, 1, r->compcap);
		}
		r->comp[n] = (uint8_t)(flen >> 8);
		r->comp[n + 1] = (uint8_t)flen;
		if (r->o.ignore_case)
			fold_case(r->comp + n + 2, f, flen);
		else
			memcpy(r->comp + n + 2, f, flen);
		n += 2 + flen;
	}
	*key = r->comp;
	*klen = nonempty == 0 ? 0 : n;
	return 1;
}

/*
 * Turns the complete record d[0..len) (terminator and CR removed) into
 * *out: 1 if it has a key, 0 if it is a header, empty or invalid.
 */
static inline __attribute__((always_inline)) int
make_record(struct rec_reader *r, const uint8_t *d, size_t len,
    struct record *out)
{
	const uint8_t *key = d;
	size_t klen = len;
	unsigned missing = r->o.key_field;
	char why[48];

	if (++r->recno == 1 && r->o.header) {
		header_seen(r, d, len);
		return 0;
	}
	if (r->nkf > 1) {	/* normalised field by field */
		if (!composite_key(r, d, len, &key, &klen, &missing))
			goto nofield;
	} else {
		if (r->nkf == 1 && r->o.key_field == 0)
			no_header(r, 0);
		if (r->o.key_field > 0 && len > 0 &&
		    !get_field(r, d, len, r->o.key_field, &key, &klen))
			goto nofield;
		if (r->o.trim)
			key = trim_key(key, &klen);
	}
	if (klen == 0) {
		r->st.empty++;
		return 0;
	}
	if (klen > REC_MAX_KEY) {
		invalid(r, "key longer than 65535 bytes");
		return 0;
	}
	if (r->o.ignore_case && r->nkf <= 1) {
		uint8_t *kb = keyspace(r, klen);
		fold_case(kb, key, klen);	/* kb may equal key: fine */
		key = kb;
	}
	out->data = d;
	out->len = len;
	out->key = key;
	out->keylen = klen;
	out->file = r->names[r->fileno];
	out->recno = r->recno;
	return 1;
nofield:
	snprintf(why, sizeof(why), "has no field %u", missing);
	invalid(r, why);
	return 0;
}

/* ---- chunks and carry -------------------------------------------------- */

/* Appends p[0..n) to the record being carried across chunks. */
static void
carry_append(struct rec_reader *r, const uint8_t *p, size_t n)
{
	size_t cap;

	/* A new record: the previous one (maybe returned from carry)
	 * is no longer needed. */
	if (!r->in_record)
		r->carrylen = 0;
	r->in_record = 1;
	if (r->discard)
		return;
	if (n > r->max_record - r->carrylen) {
		if (!r->o.count_invalid && !r->o.skip_invalid)
			fatal_input("%s: record %llu: %s",
			    r->names[r->fileno],
			    (unsigned long long)r->recno + 1, r->too_long);
		r->discard = 1;
		r->carrylen = 0;
		return;
	}
	if (r->carrylen + n > r->carrycap) {
		cap = r->carrycap ? r->carrycap : 64 * 1024;
		while (cap < r->carrylen + n)
			cap *= 2;
		if (cap > r->max_record)
			cap = r->max_record;
		r->carry = xreallocarray(r->carry, 1, cap);
		r->carrycap = cap;
	}
	memcpy(r->carry + r->carrylen, p, n);
	r->carrylen += n;
}

/* Opens the next file; 0 when there are none left. */
static int
next_file(struct rec_reader *r)
{
	unsigned i;

	if (r->src != NULL) {
		source_close(r->src);
		r->src = NULL;
		r->fileno++;
		r->records_done += r->recno - (r->recno > 0 && r->o.header);
		r->recno = 0;
	}
	if (r->fileno >= r->nfiles) {
		/* the input has ended: the carry's memory goes to what comes
		 * next (rec_memory()); the last record is consumed by now */
		free(r->carry);
		r->carry = NULL;
		r->carrycap = r->carrylen = 0;
		return 0;
	}
	r->src = r->ranged ?
	    source_open_range(r->paths[r->fileno], r->range_off, r->range_len) :
	    rec_source_open(&r->o, r->paths[r->fileno]);
	r->recno = 0;
	r->csv_state = CS_FSTART;
	for (i = 0; i < r->nkf; i++)	/* named columns: from its header */
		if (r->o.key_names[i] != NULL)
			r->kf[i] = 0;
	if (r->nkf == 1)
		r->o.key_field = r->kf[0];
	return 1;
}

/* Ends the record in carry at end of file; 1 if it yields *out. */
static int
finish_last(struct rec_reader *r, struct record *out)
{
	int unterminated = r->o.csv && r->csv_state == CS_INQ;
	int discarded = r->discard;

	r->in_record = 0;
	r->discard = 0;
	r->csv_state = CS_FSTART;
	if (discarded || unterminated) {
		if (++r->recno == 1 && r->o.header)
			return 0;
		invalid(r, discarded ? r->too_long : "unterminated quote");
		return 0;
	}
	return make_record(r, r->carry, r->carrylen, out);
}

/* Ends a record at chunk offset t (the terminator); 1 if it yields *out. */
static inline __attribute__((always_inline)) int
finish_record(struct rec_reader *r, size_t t, struct record *out)
{
	const uint8_t *d;
	size_t len;

	r->csv_state = CS_FSTART;
	if (r->in_record) {
		carry_append(r, r->chunk + r->pos, t - r->pos);
		r->in_record = 0;
		r->pos = t + 1;
		if (r->discard) {
			r->discard = 0;
			if (++r->recno == 1 && r->o.header)
				return 0;
			invalid(r, r->too_long);
			return 0;
		}
		d = r->carry;
		len = r->carrylen;
	} else {
		d = r->chunk + r->pos;
		len = t - r->pos;
		r->pos = t + 1;
		if (len > r->max_record) {	/* only a small max_record */
			if (++r->recno == 1 && r->o.header)
				return 0;
			invalid(r, r->too_long);
			return 0;
		}
	}
	if (r->term == '\n' && len > 0 && d[len - 1] == '\r')
		len--;
	return make_record(r, d, len, out);
}

/* CSV: where the record starting (or continuing) at pos ends, or -1. */
static ptrdiff_t
csv_end(struct rec_reader *r, ptrdiff_t t)
{
	const uint8_t *p = r->chunk + r->pos;
	size_t n = (t >= 0 ? (size_t)t : r->clen) - r->pos, e;

	if (r->csv_state != CS_INQ && r->csv_state != CS_QQ &&
	    memchr(p, '"', n) == NULL) {
		/* No quotes: the plain answer holds. */
		if (t < 0 && n > 0)
			r->csv_state = p[n - 1] == (uint8_t)r->o.delim ?
			    CS_FSTART : CS_UNQ;
		return t;
	}
	e = csv_advance(&r->csv_state, p, r->clen - r->pos, r->term,
	    (uint8_t)r->o.delim);
	if (e == r->clen - r->pos)
		return -1;
	if ((ptrdiff_t)(r->pos + e) != t)
		scan_reset(r, r->pos + e + 1);
	return (ptrdiff_t)(r->pos + e);
}

int
rec_next(struct rec_reader *r, struct record *out)
{
	ptrdiff_t t;

	/*
	 * Fast path for the common case: plain records (the whole record is
	 * the key), wholly inside the current section, past the header.
	 * Same result as finish_record()/make_record(), with less work.
	 */
	if (r->plain && !r->in_record && r->recno >= r->first) {
		while (r->itpos < r->ntpos) {
			size_t t0 = r->tpos[r->itpos++];
			const uint8_t *d = r->chunk + r->pos;
			size_t len = t0 - r->pos;

			r->pos = t0 + 1;
			if (len > 0 && d[len - 1] == '\r' && r->term == '\n')
				len--;
			r->recno++;
			if (len - 1 >= REC_MAX_KEY) {	/* empty or too long */
				if (len == 0)
					r->st.empty++;
				else
					invalid(r, "key longer than 65535 bytes");
				continue;
			}
			out->data = out->key = d;
			out->len = out->keylen = len;
			out->file = r->names[r->fileno];
			out->recno = r->recno;
			return 1;
		}
	}
	for (;;) {
		if (r->pos >= r->clen) {
			if (r->src == NULL && !next_file(r))
				return 0;
			if (!source_next(r->src, &r->chunk, &r->clen)) {
				r->chunk = NULL;
				r->clen = r->pos = 0;
				if (r->in_record && finish_last(r, out))
					return 1;
				if (!next_file(r))
					return 0;
				continue;
			}
			r->st.bytes += r->clen;
			r->pos = 0;
			scan_reset(r, 0);
		}
		t = find_term(r);
		if (r->o.csv)
			t = csv_end(r, t);
		if (t < 0) {
			carry_append(r, r->chunk + r->pos, r->clen - r->pos);
			r->pos = r->clen;
			continue;
		}
		if (finish_record(r, (size_t)t, out))
			return 1;
	}
}

/* "longer than 2 MiB, the longest --memory 8M accepts" (memory 0: the
 * program's limit, not the budget's). */
static void
too_long_msg(char *buf, size_t len, size_t max, uint64_t memory)
{
	char size[32], mem[32];

	if (max % (1u << 20) == 0)
		snprintf(size, sizeof(size), "%zu MiB", max >> 20);
	else if (max >= 1u << 20)	/* rounded down: still "longer than" */
		snprintf(size, sizeof(size), "%.2f MiB",
		    (double)(max / ((1u << 20) / 100)) / 100);
	else if (max % 1024 == 0)
		snprintf(size, sizeof(size), "%zu KiB", max >> 10);
	else
		snprintf(size, sizeof(size), "%zu bytes", max);
	if (memory == 0) {
		snprintf(buf, len, "longer than %s", size);
		return;
	}
	fmt_size(mem, sizeof(mem), memory);
	snprintf(buf, len, "longer than %s, the longest --memory %s accepts",
	    size, mem);
}

struct rec_reader *
rec_open(const struct rec_opts *o, char **files, int nfiles)
{
	struct rec_reader *r = xcalloc(1, sizeof(*r));
	int i;

	r->o = *o;
	r->term = o->zero_term ? '\0' : '\n';
	/* The fast path returns records of up to REC_MAX_KEY bytes unchecked:
	 * every limit is above that. */
	r->max_record = o->max_record == 0 || o->max_record > REC_MAX_RECORD ?
	    REC_MAX_RECORD : o->max_record < REC_MAX_KEY + 1 ? REC_MAX_KEY + 1 :
	    o->max_record;
	too_long_msg(r->too_long, sizeof(r->too_long), r->max_record,
	    r->max_record == REC_MAX_RECORD ? 0 : o->memory);
	r->nkf = o->nkey_fields;
	memcpy(r->kf, o->key_fields, sizeof(r->kf));
	r->plain = !o->csv && o->key_field == 0 && r->nkf == 0 && !o->trim &&
	    !o->ignore_case;
	r->first = o->header ? 1 : 0;
	if (r->o.delim == '\0')
		r->o.delim = o->csv ? ',' : '\t';
	r->nfiles = nfiles > 0 ? nfiles : 1;
	r->paths = xcalloc((size_t)r->nfiles, sizeof(*r->paths));
	r->names = xcalloc((size_t)r->nfiles, sizeof(*r->names));
	for (i = 0; i < r->nfiles; i++) {
		const char *f = nfiles > 0 ? files[i] : "-";
		r->paths[i] = xstrdup(f);
		r->names[i] = xstrdup(is_stdio_path(f) ? "stdin" : f);
	}
	return r;
}

struct rec_reader *
rec_open_range(const struct rec_opts *o, const char *path, uint64_t off,
    uint64_t len)
{
	char *copy = xstrdup(path);
	struct rec_reader *r;

	r = rec_open(o, &copy, 1);
	free(copy);
	r->ranged = 1;
	r->range_off = off;
	r->range_len = len;
	next_file(r);
	return r;
}

struct source *
rec_source_open(const struct rec_opts *o, const char *path)
{
	return o->zero_term || o->binary_ok ? source_open(path) :
	    source_open_text(path);
}

void
rec_key_fields(struct rec_opts *o, const char *arg)
{
	const char *p = arg, *e;
	uint64_t v;
	unsigned n = 0;

	o->key_field = 0;
	o->nkey_fields = 0;
	for (;;) {
		e = strchr(p, ',');
		if (e == NULL)
			e = p + strlen(p);
		if (e == p)
			fatal(EXIT_USAGE, "--key-field wants field numbers or "
			    "column names separated by commas, not '%s'", arg);
		if (n == REC_MAX_FIELDS)
			fatal(EXIT_USAGE, "--key-field takes at most %d fields",
			    REC_MAX_FIELDS);
		if (strspn(p, "0123456789") >= (size_t)(e - p)) {
			char num[16];

			snprintf(num, sizeof(num), "%.*s", e - p > 15 ? 15 :
			    (int)(e - p), p);
			if (e - p > 15 || parse_uint(num, 1, 1000000, &v) < 0)
				fatal(EXIT_USAGE, "--key-field: field numbers "
				    "count from 1 to 1000000, not '%.*s'",
				    (int)(e - p), p);
			o->key_fields[n] = (unsigned)v;
			o->key_names[n] = NULL;
		} else {
			o->key_fields[n] = 0;
			o->key_names[n] = p;	/* in arg, which must outlive o */
			o->key_namelen[n] = (size_t)(e - p);
		}
		n++;
		if (*e == '\0')
			break;
		p = e + 1;
	}
	if (n == 1 && o->key_names[0] == NULL)
		o->key_field = o->key_fields[0];	/* the plain case */
	else
		o->nkey_fields = n;
}

unsigned
rec_key_count(const struct rec_opts *o)
{
	return o->nkey_fields > 1 ? o->nkey_fields : 1;
}

void
rec_check_opts(const struct rec_opts *o)
{
	unsigned i;

	for (i = 0; i < o->nkey_fields; i++)
		if (o->key_names[i] != NULL && !o->header)
			fatal(EXIT_USAGE, "--key-field %.*s names a column: "
			    "that needs --header", (int)o->key_namelen[i],
			    o->key_names[i]);
}

const uint8_t *
rec_header(const struct rec_reader *r, size_t *len)
{
	*len = r->headerlen;
	return r->header;
}

void
rec_set_memory(struct rec_opts *o, uint64_t memory, uint64_t reserve)
{
	uint64_t rest = memory > reserve ? memory - reserve : 0;

	o->memory = memory;
	o->max_record = rest / 32 < REC_MAX_KEY + 1 ? REC_MAX_KEY + 1 :
	    rest / 32 < REC_MAX_RECORD ? (size_t)(rest / 32) : REC_MAX_RECORD;
	source_set_memory(memory, reserve);
}

uint64_t
rec_memory(const struct rec_opts *o)
{
	size_t max = o->max_record == 0 || o->max_record > REC_MAX_RECORD ?
	    REC_MAX_RECORD : o->max_record;

	return source_window_memory() + 2 * (uint64_t)max;
}

void
rec_get_stats(const struct rec_reader *r, struct rec_stats *st)
{
	/* records and keys are derived, to keep the per-record path short:
	 * every record but a header has a key, an empty key or is invalid. */
	*st = r->st;
	st->records = r->records_done + r->recno -
	    (r->recno > 0 && r->o.header ? 1 : 0);
	st->keys = st->records - st->empty - st->invalid;
}

void
rec_close(struct rec_reader *r)
{
	int i;

	if (r == NULL)
		return;
	source_close(r->src);
	for (i = 0; i < r->nfiles; i++) {
		free(r->paths[i]);
		free(r->names[i]);
	}
	free(r->paths);
	free(r->names);
	free(r->carry);
	free(r->keybuf);
	free(r->comp);
	free(r->header);
	free(r);
}
