/*
 * fuzz_records.c: libFuzzer target for input files: record splitting,
 * CSV, key fields, normalisation and the format sniffing of sources
 * (rec_open/rec_next in src/records.c over src/source.c).
 *
 * Input: u8 flags, u8 field, u8 delim, u8 split, then the file content.
 *   flags bit 0 -z, 1 --header, 2 --csv, 3 --trim, 4 --ignore-case,
 *         5 --skip-invalid, 6 count_invalid (the check command), 7 the
 *         content is split into two files at byte split * len / 256
 *   field --key-field field % 5 (0: the whole record)
 *   delim one of tab , ; | space : " newline (delim % 8)
 *
 * Every record returned must have a key of 1..65535 bytes, normalised as
 * asked, and the statistics must add up.  For the non-CSV formats the
 * target also splits the content itself, naively, and the records, keys,
 * record numbers and the verdict (status 0, or 2 for a missing field
 * without --skip-invalid) must be exactly the same.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzzlib.h"
#include "records.h"
#include "source.h"
#include "util.h"

static const char delims[8] = { '\t', ',', ';', '|', ' ', ':', '"', '\n' };

struct want {			/* one expected record */
	const uint8_t	*data;
	size_t		 len;
	uint8_t		*key;
	size_t		 keylen;
	int		 file;
	uint64_t	 recno;
};

struct job {
	struct rec_opts	 o;
	char		*files[2];
	int		 nfiles;
	struct want	*want;		/* NULL: no reference */
	size_t		 nwant;
	int		 want_invalid;	/* the reference ends in an invalid record */
	size_t		 got;
};

static int
ws(uint8_t c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

/* The reference split of one file; returns -1 at an invalid record. */
static int
reference(struct job *j, int file, const uint8_t *p, size_t len)
{
	uint8_t term = j->o.zero_term ? '\0' : '\n';
	size_t pos = 0;
	uint64_t recno = 0;

	while (pos < len) {
		const uint8_t *e = memchr(p + pos, term, len - pos);
		size_t rlen = (e ? (size_t)(e - p) : len) - pos;
		const uint8_t *d = p + pos, *k = d;
		size_t klen;

		pos += rlen + (e != NULL);
		if (e && term == '\n' && rlen > 0 && d[rlen - 1] == '\r')
			rlen--;
		if (++recno == 1 && j->o.header)
			continue;
		klen = rlen;
		if (j->o.key_field > 0 && rlen > 0) {
			const uint8_t *q, *end = d + rlen;
			unsigned f;
			for (f = 1; f < j->o.key_field; f++) {
				q = memchr(k, j->o.delim, (size_t)(end - k));
				if (q == NULL)
					break;
				k = q + 1;
			}
			if (f < j->o.key_field) {
				if (!j->o.skip_invalid && !j->o.count_invalid)
					return -1;
				continue;
			}
			q = memchr(k, j->o.delim, (size_t)(end - k));
			klen = (size_t)((q ? q : end) - k);
		}
		while (j->o.trim && klen > 0 && ws(k[0]))
			k++, klen--;
		while (j->o.trim && klen > 0 && ws(k[klen - 1]))
			klen--;
		if (klen == 0)
			continue;
		struct want *w = &j->want[j->nwant++];
		w->data = d;
		w->len = rlen;
		w->key = malloc(klen);
		memcpy(w->key, k, klen);
		w->keylen = klen;
		for (size_t i = 0; j->o.ignore_case && i < klen; i++)
			if (w->key[i] >= 'A' && w->key[i] <= 'Z')
				w->key[i] |= 0x20;
		w->file = file;
		w->recno = recno;
	}
	return 0;
}

/* Neither compressed nor refused as binary data. */
static int
plain(const uint8_t *p, size_t len)
{
	return source_format(p, len, 0) == SRC_PLAIN;
}

/* Refused as binary data (or UTF-16) without -z. */
static int
binary(const struct job *j, const uint8_t *p, size_t len)
{
	int f = source_format(p, len, !j->o.zero_term);

	return f == SRC_BINARY || f == SRC_UTF16;
}

static void
read_all(void *arg)
{
	struct job *j = arg;
	struct rec_reader *rr = rec_open(&j->o, j->files, j->nfiles);
	struct rec_stats st;
	struct record r;

	while (rec_next(rr, &r)) {
		if (r.keylen < 1 || r.keylen > REC_MAX_KEY || r.len > REC_MAX_RECORD)
			abort();
		if (j->o.trim && (ws(r.key[0]) || ws(r.key[r.keylen - 1])))
			abort();
		for (size_t i = 0; j->o.ignore_case && i < r.keylen; i++)
			if (r.key[i] >= 'A' && r.key[i] <= 'Z')
				abort();
		if (j->want != NULL) {
			const struct want *w = &j->want[j->got];
			if (j->got >= j->nwant || r.len != w->len ||
			    memcmp(r.data, w->data, r.len) != 0 ||
			    r.keylen != w->keylen ||
			    memcmp(r.key, w->key, r.keylen) != 0 ||
			    r.recno != w->recno ||
			    strcmp(r.file, j->files[w->file]) != 0)
				abort();
		}
		j->got++;
	}
	rec_get_stats(rr, &st);
	if (st.keys != j->got || st.empty + st.invalid + st.keys > st.records)
		abort();
	if (j->want != NULL && (j->got != j->nwant || j->want_invalid))
		abort();
	rec_close(rr);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct job j;
	const uint8_t *content;
	size_t len, cut;
	uint8_t flags;
	int st;

	fuzz_init();
	if (size < 4 || size > 60000)
		return 0;
	flags = data[0];
	memset(&j, 0, sizeof(j));
	j.o.zero_term = flags & 1;
	j.o.header = flags >> 1 & 1;
	j.o.csv = flags >> 2 & 1;
	j.o.trim = flags >> 3 & 1;
	j.o.ignore_case = flags >> 4 & 1;
	j.o.skip_invalid = flags >> 5 & 1;
	j.o.count_invalid = flags >> 6 & 1;
	j.o.key_field = data[1] % 5;
	j.o.delim = delims[data[2] % 8];
	if (j.o.csv && j.o.key_field == 0)
		j.o.key_field = 1;	/* as main.c does */
	content = data + 4;
	len = size - 4;
	cut = flags & 128 ? (size_t)data[3] * len / 256 : len;
	j.files[0] = (char *)fuzz_file("a", content, cut, 0600);
	j.nfiles = 1;
	if (flags & 128) {
		j.files[1] = (char *)fuzz_file("b", content + cut, len - cut, 0600);
		j.nfiles = 2;
	}
	/* A reference only for plain text: not CSV, not compressed (as
	 * source_format() sees it, which t_records tests on its own).  A
	 * file that is binary data ends the reading with exit 2 when it is
	 * opened, after the records of the file before it. */
	if (!j.o.csv && plain(content, cut) &&
	    !(flags & 128 && !plain(content + cut, len - cut))) {
		j.want = calloc(len + 1, sizeof(*j.want));
		if (binary(&j, content, cut) ||
		    reference(&j, 0, content, cut) < 0)
			j.want_invalid = 1;
		else if (flags & 128 && (binary(&j, content + cut, len - cut) ||
		    reference(&j, 1, content + cut, len - cut) < 0))
			j.want_invalid = 1;
	}
	st = fuzz_run(read_all, &j);
	if (st != 0 && st != 2)
		abort();
	if (j.want != NULL && (st == 2) != j.want_invalid)
		abort();
	if (j.want != NULL && st == 2 && j.got != j.nwant)
		abort();
	for (size_t i = 0; j.want != NULL && i < j.nwant; i++)
		free(j.want[i].key);
	free(j.want);
	return 0;
}
