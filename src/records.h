/*
 * records.h: splitting byte streams into records and extracting keys
 * (DESIGN section 3).
 *
 * A record ends at '\n' (a '\r' just before it is dropped) or at NUL with
 * -z; the last record may lack its terminator.  The key is the whole record,
 * field N split on a delimiter, or an RFC 4180 CSV field; --trim and
 * --ignore-case normalise it.  Records with an empty key are skipped and
 * counted; a key over 65535 bytes, a missing field or an unterminated CSV
 * quote is fatal (exit 2, naming file and record number) unless
 * skip_invalid is set, in which case it is skipped, counted and warned
 * about once.
 */
#ifndef PSI_RECORDS_H
#define PSI_RECORDS_H

#include <stddef.h>
#include <stdint.h>

#define REC_MAX_KEY	65535
#define REC_MAX_FIELDS	16	/* fields in a composite key */
/* Longest record (it must fit in memory); longer ones are invalid. */
#define REC_MAX_RECORD	(64u << 20)

struct rec_opts {
	int		zero_term;	/* -z: records end at NUL */
	int		header;		/* --header: skip the first record of each file */
	unsigned	key_field;	/* --key-field N (1-based); 0 = whole record */
	/* --key-field with a name or several fields (rec_key_fields()):
	 * the fields of the key in order, numbers (1-based) or, where the
	 * number is 0, column names looked up in each file's header. */
	unsigned	nkey_fields;	/* 0: key_field alone */
	unsigned	key_fields[REC_MAX_FIELDS];
	const char	*key_names[REC_MAX_FIELDS];	/* not terminated: */
	size_t		key_namelen[REC_MAX_FIELDS];	/* their lengths */
	char		delim;		/* --delimiter C (default '\t'; ',' with --csv) */
	int		csv;		/* --csv: RFC 4180 fields */
	int		trim;		/* --trim: strip ASCII white space around the key */
	int		ignore_case;	/* --ignore-case: fold ASCII case */
	int		skip_invalid;	/* --skip-invalid */
	int		count_invalid;	/* `check`: count invalid records quietly,
					   never fatal, never warn */
	int		binary_ok;	/* `prf`: no binary-data check (keys may
					   hold NUL bytes without -z) */
	size_t		max_record;	/* longest record; 0 = REC_MAX_RECORD
					   (rec_set_memory() sets it) */
	uint64_t	memory;		/* its --memory, for messages; 0: none */
};

struct record {
	const uint8_t	*data;		/* the record as read, without terminator */
	size_t		 len;		/*   (and without a '\r' before '\n') */
	const uint8_t	*key;		/* the normalised key */
	size_t		 keylen;	/* 1..REC_MAX_KEY */
	const char	*file;		/* source name */
	uint64_t	 recno;		/* 1-based record number within file */
};

struct rec_stats {
	uint64_t	records;	/* records read (header excluded) */
	uint64_t	keys;		/* records returned with a key */
	uint64_t	empty;		/* skipped: empty key */
	uint64_t	invalid;	/* skipped: invalid (skip_invalid or
					   count_invalid) */
	uint64_t	first_invalid[5];	/* their record numbers */
	const char	*first_invalid_file[5];	/* and files (valid until
						   rec_close) */
	uint64_t	bytes;		/* input bytes consumed */
};

struct rec_reader;

/* Reads files[0..nfiles-1] in order ("-" = stdin); no files = stdin. */
struct rec_reader *rec_open(const struct rec_opts *, char **files, int nfiles);
/* Reads bytes [off, off + len) of the plain regular file path as a file of
 * its own (record numbers from 1; --header applies to its first record).
 * The source is opened here: the reader may then move to another thread. */
struct rec_reader *rec_open_range(const struct rec_opts *, const char *path,
	    uint64_t off, uint64_t len);
/* Next record with a key: 1, or 0 at the end of all input.  The pointers
 * in *r stay valid until the next call. */
int	rec_next(struct rec_reader *, struct record *r);
void	rec_get_stats(const struct rec_reader *, struct rec_stats *);
void	rec_close(struct rec_reader *);

/* Opens path as rec_open() will (source_open(), or source_open_text()
 * when records end at newlines): the run's pre-flight uses it. */
struct source;
struct source *rec_source_open(const struct rec_opts *, const char *path);

/* Parses --key-field LIST: field numbers or column names, comma-separated
 * ("2", "email", "2,5", "last,first").  One number sets key_field as
 * before; a name or several fields make a composite key: each field
 * (trimmed and case-folded on its own) as a 2-byte big-endian length and
 * its bytes, so that no two different field lists give the same key.
 * Names point into arg, which must outlive the options (argv does).
 * Exits 1 on a malformed list. */
void	rec_key_fields(struct rec_opts *, const char *arg);
/* The number of fields in the key, 1 for the whole record or one field:
 * both sides must agree on it. */
unsigned rec_key_count(const struct rec_opts *);
/* Exits 1 if the options contradict each other (a column name without
 * --header). */
void	rec_check_opts(const struct rec_opts *);
/* The first file's header record (--header), once it has been read, or
 * NULL; valid until rec_close(). */
const uint8_t *rec_header(const struct rec_reader *, size_t *len);

/*
 * Derives the reader's limits from the memory budget (--memory), of which
 * the engine keeps `reserve` bytes for its buffers: of the rest, R, the
 * zstd window may be the largest power of two up to R/4
 * (source_set_memory()) and the longest record accepted is R/32 (at least
 * REC_MAX_KEY + 1, at most REC_MAX_RECORD).  rec_memory() says what the
 * reader may then hold at once; the session takes it from the sorters'
 * part of the budget (session.c).
 */
void	rec_set_memory(struct rec_opts *, uint64_t memory, uint64_t reserve);
/* The most a reader with these options holds, and what the session keeps
 * for it: the zstd window and decoder buffers when an input may be zstd
 * (source_window_memory()), and twice the longest
 * record: while reading, the record being carried across chunks and the
 * --header record kept for the output; once the input has ended (the
 * carry is freed then), the header and a long record read back from the
 * record spill (recspill.c). */
uint64_t rec_memory(const struct rec_opts *);

#endif
