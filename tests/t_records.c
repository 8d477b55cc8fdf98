/*
 * t_records.c: unit tests for the input layer (source.c, records.c).
 *
 * Covers every record format and every bad-input case of DESIGN section 3:
 * LF/CRLF/NUL terminators, a last record without terminator, empty lines,
 * --header (per file), --key-field with tab and other delimiters, RFC 4180
 * CSV (quoted delimiters, doubled quotes, newlines inside quotes), --trim,
 * --ignore-case, key length limits, records spanning many chunks, zstd
 * (good, multi-frame, corrupt, truncated), gzip refusal, several files,
 * stdin as a slow pipe, missing files and directories; plus randomized
 * comparisons (plain and CSV, from files and from pipes whose chunks end
 * anywhere) against byte-by-byte reference readers.  Byte ranges
 * (source_open_range, rec_open_range) return exactly their bytes, and
 * ranges cut after terminators give the records of the whole file.  Each case runs through both io
 * paths (io_uring and PSI_STREAM_IO=read); fatal cases run in forked
 * children whose exit status and stderr are checked.  Also util.h's one
 * test for "-".  Every positive case has a negative twin.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zstd.h>

#include "engine.h"
#include "records.h"
#include "session.h"
#include "sorter.h"
#include "source.h"
#include "util.h"
#include "tap.h"

static char tmpdir[256];
static const char *io;		/* "uring" or "read": the path under test */
static int show_names = 1;	/* file names in collect_files() output */
static char last_file[256];	/* file of the last record collected */

/* ---- helpers ----------------------------------------------------------- */

struct buf {
	char	*p;
	size_t	 len, cap;
};

static void
buf_add(struct buf *b, const void *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = xreallocarray(b->p, 1, b->cap);
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void __attribute__((format(printf, 2, 3)))
buf_printf(struct buf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	buf_add(b, tmp, (size_t)n);
}

/* Bytes made readable: \n \r \0 \t and \\ escaped. */
static void
buf_escaped(struct buf *b, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		switch (p[i]) {
		case '\n': buf_add(b, "\\n", 2); break;
		case '\r': buf_add(b, "\\r", 2); break;
		case '\0': buf_add(b, "\\0", 2); break;
		case '\t': buf_add(b, "\\t", 2); break;
		case '\\': buf_add(b, "\\\\", 2); break;
		default: buf_add(b, p + i, 1);
		}
	}
}

/* tmpdir/name, in one of 8 rotating buffers. */
static char *
path_of(const char *name)
{
	static char path[8][512];
	static int k;

	k = (k + 1) % 8;
	snprintf(path[k], sizeof(path[k]), "%s/%s", tmpdir, name);
	return path[k];
}

/* Where children and collect_stderr() put stderr (not rotating). */
static const char *
err_path(void)
{
	static char path[512];

	snprintf(path, sizeof(path), "%s/stderr.txt", tmpdir);
	return path;
}

static char *
put_file(const char *name, const void *data, size_t len)
{
	char *path = path_of(name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || write_all(fd, data, len) < 0 || close(fd) < 0) {
		perror(path);
		exit(99);
	}
	return path;
}

static char *
put_str(const char *name, const char *s)
{
	return put_file(name, s, strlen(s));
}

static void
use_io(const char *which)
{
	io = which;
	if (strcmp(which, "read") == 0)
		setenv("PSI_STREAM_IO", "read", 1);
	else
		unsetenv("PSI_STREAM_IO");
}

/*
 * Reads files with opts and returns one line per record,
 * "file:recno [data] key=[key]", then a stats line.
 */
static char *
collect_files(const struct rec_opts *o, char **files, int nfiles)
{
	struct rec_reader *rr = rec_open(o, files, nfiles);
	struct rec_stats st;
	struct record r;
	struct buf b = { 0 };
	const char *base;
	unsigned i;

	buf_add(&b, "", 0);
	while (rec_next(rr, &r)) {
		base = strrchr(r.file, '/');
		snprintf(last_file, sizeof(last_file), "%s", r.file);
		if (show_names)
			buf_printf(&b, "%s:", base ? base + 1 : r.file);
		buf_printf(&b, "%llu [", (unsigned long long)r.recno);
		buf_escaped(&b, r.data, r.len);
		buf_add(&b, "] key=[", 7);
		buf_escaped(&b, r.key, r.keylen);
		buf_add(&b, "]\n", 2);
	}
	rec_get_stats(rr, &st);
	buf_printf(&b, "records=%llu keys=%llu empty=%llu invalid=%llu",
	    (unsigned long long)st.records, (unsigned long long)st.keys,
	    (unsigned long long)st.empty, (unsigned long long)st.invalid);
	for (i = 0; i < st.invalid && i < 5; i++)
		buf_printf(&b, " %llu", (unsigned long long)st.first_invalid[i]);
	rec_close(rr);
	return b.p;
}

static char *
collect1(const struct rec_opts *o, const char *path)
{
	char *files[1] = { (char *)path };

	return collect_files(o, files, 1);
}

/* Compares and reports; prints both on mismatch. */
static int
same(const char *got, const char *want, const char *name)
{
	int eq = strcmp(got, want) == 0;

	ok(eq, "%s [%s]", name, io);
	if (!eq)
		diag("got:\n%s\n# want:\n%s", got, want);
	return eq;
}

/* same(), then frees got. */
static int
same_free(char *got, const char *want, const char *name)
{
	int r = same(got, want, name);

	free(got);
	return r;
}

static int
check_records(const struct rec_opts *o, const char *path, const char *want,
    const char *name)
{
	char *got = collect1(o, path);
	int r = same(got, want, name);

	free(got);
	return r;
}

/* Runs collect_files in a child; 1 if it exited with status and its
 * stderr contains msg. */
static int
check_fatal(const struct rec_opts *o, char **files, int nfiles, int status,
    const char *msg, const char *name)
{
	const char *errpath = err_path();
	char err[4096] = "";
	int fd, wst, good;
	ssize_t n;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fd, 2);
		free(collect_files(o, files, nfiles));
		_exit(0);
	}
	waitpid(pid, &wst, 0);
	fd = open(errpath, O_RDONLY);
	n = fd >= 0 ? read(fd, err, sizeof(err) - 1) : 0;
	if (n > 0)
		err[n] = '\0';
	if (fd >= 0)
		close(fd);
	good = WIFEXITED(wst) && WEXITSTATUS(wst) == status &&
	    strstr(err, msg) != NULL;
	ok(good, "%s [%s]", name, io);
	if (!good)
		diag("exit %d, stderr: %s# want exit %d and: %s",
		    WIFEXITED(wst) ? WEXITSTATUS(wst) : -1, err, status, msg);
	return good;
}

static int
check_fatal1(const struct rec_opts *o, const char *path, const char *msg,
    const char *name)
{
	char *files[1] = { (char *)path };

	return check_fatal(o, files, 1, EXIT_IO, msg, name);
}

/* collect1 with stderr captured into *err (caller frees). */
static char *
collect_stderr(const struct rec_opts *o, const char *path, char **err)
{
	const char *errpath = err_path();
	int save = dup(2), fd = open(errpath, O_RDWR | O_CREAT | O_TRUNC, 0600);
	char *got;
	struct stat st;

	fflush(stderr);
	dup2(fd, 2);
	got = collect1(o, path);
	fflush(stderr);
	dup2(save, 2);
	close(save);
	fstat(fd, &st);
	*err = xcalloc(1, (size_t)st.st_size + 1);
	if (pread(fd, *err, (size_t)st.st_size, 0) < 0)
		(*err)[0] = '\0';
	close(fd);
	return got;
}

static int
count_substr(const char *s, const char *sub)
{
	int n = 0;

	while ((s = strstr(s, sub)) != NULL) {
		n++;
		s += strlen(sub);
	}
	return n;
}

/* ---- cases ------------------------------------------------------------- */

static void
t_lines(void)
{
	struct rec_opts o = { 0 };
	char *p;

	p = put_str("lf.txt", "a\nbb\nccc\n");
	check_records(&o, p, "lf.txt:1 [a] key=[a]\nlf.txt:2 [bb] key=[bb]\n"
	    "lf.txt:3 [ccc] key=[ccc]\nrecords=3 keys=3 empty=0 invalid=0",
	    "LF records");
	p = put_str("nolf.txt", "a\nbb\nccc");
	check_records(&o, p, "nolf.txt:1 [a] key=[a]\nnolf.txt:2 [bb] key=[bb]\n"
	    "nolf.txt:3 [ccc] key=[ccc]\nrecords=3 keys=3 empty=0 invalid=0",
	    "last record without newline is kept");
	p = put_str("one.txt", "x");
	check_records(&o, p, "one.txt:1 [x] key=[x]\n"
	    "records=1 keys=1 empty=0 invalid=0",
	    "one byte without newline");
	p = put_str("empty.txt", "");
	check_records(&o, p, "records=0 keys=0 empty=0 invalid=0",
	    "empty file has no records (no phantom record)");
	p = put_str("crlf.txt", "a\r\nb\r\n\r\nc\r\n");
	check_records(&o, p, "crlf.txt:1 [a] key=[a]\ncrlf.txt:2 [b] key=[b]\n"
	    "crlf.txt:4 [c] key=[c]\nrecords=4 keys=3 empty=1 invalid=0",
	    "CRLF: CR before LF dropped");
	p = put_str("cr.txt", "a\rb\nc\r\r\nd\r");
	check_records(&o, p, "cr.txt:1 [a\\rb] key=[a\\rb]\n"
	    "cr.txt:2 [c\\r] key=[c\\r]\ncr.txt:3 [d\\r] key=[d\\r]\n"
	    "records=3 keys=3 empty=0 invalid=0",
	    "CR not before LF is data (only one CR dropped)");
	p = put_str("blank.txt", "a\n\n\nb\n\n");
	check_records(&o, p, "blank.txt:1 [a] key=[a]\nblank.txt:4 [b] key=[b]\n"
	    "records=5 keys=2 empty=3 invalid=0",
	    "empty lines skipped and counted");
	p = put_str("noblank.txt", "a\n \nb\n");
	check_records(&o, p, "noblank.txt:1 [a] key=[a]\n"
	    "noblank.txt:2 [ ] key=[ ]\nnoblank.txt:3 [b] key=[b]\n"
	    "records=3 keys=3 empty=0 invalid=0",
	    "a blank (space) line is a key without --trim");
}

static void
t_nul(void)
{
	struct rec_opts o = { 0 };
	static const char data[] = "a\0b\nc\0d\r\n\0\0e";
	char *p = put_file("nul.bin", data, sizeof(data) - 1);

	o.zero_term = 1;
	check_records(&o, p, "nul.bin:1 [a] key=[a]\n"
	    "nul.bin:2 [b\\nc] key=[b\\nc]\n"
	    "nul.bin:3 [d\\r\\n] key=[d\\r\\n]\n"
	    "nul.bin:5 [e] key=[e]\nrecords=5 keys=4 empty=1 invalid=0",
	    "-z: NUL terminates, LF and CR are data");
	o.zero_term = 0;
	check_fatal1(&o, p, "nul.bin: binary data (a NUL byte in its first "
	    "4096 bytes); for NUL-terminated records use -z",
	    "without -z a NUL in the first 4096 bytes is refused (exit 2)");
	{
		char *late = xmalloc(SOURCE_SNIFF + 4);

		memset(late, '\n', SOURCE_SNIFF);
		memcpy(late + SOURCE_SNIFF, "a\0b\n", 4);
		check_records(&o, put_file("late.bin", late, SOURCE_SNIFF + 4),
		    "late.bin:4097 [a\\0b] key=[a\\0b]\n"
		    "records=4097 keys=1 empty=4096 invalid=0",
		    "a NUL after the first 4096 bytes is data");
		free(late);
	}
}

/* source_format(): every magic, and what only looks like one. */
static void
t_formats(void)
{
	static const struct {
		const char	*bytes;
		size_t		 len;
		int		 text, want;
		const char	*what;
	} c[] = {
		{ "\x28\xb5\x2f\xfd\x00", 5, 1, SRC_ZSTD, "zstd" },
		{ "\x5e\x2a\x4d\x18\x00", 5, 1, SRC_ZSTD, "zstd skippable frame" },
		{ "\x1f\x8b\x08", 3, 1, SRC_GZIP, "gzip" },
		{ "\xfd" "7zXZ\0\0\x04", 8, 1, SRC_XZ, "xz" },
		{ "BZh91AY&SYxx", 12, 1, SRC_BZIP2, "bzip2" },
		{ "BZh9\x17\x72\x45\x38\x50\x90", 10, 1, SRC_BZIP2,
		    "bzip2, empty stream" },
		{ "\x04\x22\x4d\x18\x64", 5, 1, SRC_LZ4, "lz4 frame" },
		{ "\x02\x21\x4c\x18\x64", 5, 1, SRC_LZ4, "lz4 legacy" },
		{ "ab\0cd\n", 6, 1, SRC_BINARY, "NUL in a line-mode stream" },
		{ "ab\0cd\n", 6, 0, SRC_PLAIN, "NUL with -z" },
		{ "\xfd" "7zXY\n", 6, 1, SRC_PLAIN, "xz look-alike" },
		{ "\xfd" "7zXZ", 5, 1, SRC_PLAIN, "xz magic cut short" },
		{ "BZh91 is text\n", 14, 1, SRC_PLAIN, "bzip2 look-alike" },
		{ "BZh0AY&SY", 9, 1, SRC_PLAIN, "bzip2 without block size" },
		{ "\x28\xb5\x2f", 3, 1, SRC_PLAIN, "3 bytes of zstd magic" },
		{ "\x1f\x8a", 2, 1, SRC_PLAIN, "gzip look-alike" },
		{ "\x04\x22\x4d\x19", 4, 1, SRC_PLAIN, "lz4 look-alike" },
		{ "", 0, 1, SRC_PLAIN, "empty" },
	};
	size_t i;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		ok(source_format((const uint8_t *)c[i].bytes, c[i].len,
		    c[i].text) == c[i].want, "source_format: %s", c[i].what);
}

static void
t_header(void)
{
	struct rec_opts o = { 0 };
	char *files[2];

	files[0] = xstrdup(put_str("h1.txt", "name\na\nb\n"));
	files[1] = xstrdup(put_str("h2.txt", "name\nc\n"));
	o.header = 1;
	same_free(collect_files(&o, files, 2),
	    "h1.txt:2 [a] key=[a]\nh1.txt:3 [b] key=[b]\nh2.txt:2 [c] key=[c]\n"
	    "records=3 keys=3 empty=0 invalid=0",
	    "--header skips the first record of each file");
	o.header = 0;
	same_free(collect_files(&o, files, 2),
	    "h1.txt:1 [name] key=[name]\nh1.txt:2 [a] key=[a]\n"
	    "h1.txt:3 [b] key=[b]\nh2.txt:1 [name] key=[name]\n"
	    "h2.txt:2 [c] key=[c]\nrecords=5 keys=5 empty=0 invalid=0",
	    "without --header the header is a record");
	o.header = 1;
	free(files[1]);
	files[1] = xstrdup(put_str("h3.txt", "only-header"));
	same_free(collect_files(&o, files + 1, 1),
	    "records=0 keys=0 empty=0 invalid=0",
	    "--header on a one-record file leaves nothing");
	free(files[0]);
	free(files[1]);
}

/* --key-field lists: composite keys and column names. */
static void
t_composite(void)
{
	struct rec_opts o = { 0 };
	char *p;

	p = put_str("comp.txt", "a\tbc\tz\nab\tc\tz\n\t\tz\n\tq\tz\nx\n");
	rec_key_fields(&o, "1,2");
	o.skip_invalid = 1;
	check_records(&o, p, "comp.txt:1 [a\\tbc\\tz] key=[\\0\001a\\0\002bc]\n"
	    "comp.txt:2 [ab\\tc\\tz] key=[\\0\002ab\\0\001c]\n"
	    "comp.txt:4 [\\tq\\tz] key=[\\0\\0\\0\001q]\n"
	    "records=5 keys=3 empty=1 invalid=1 5",
	    "--key-field 1,2: length-prefixed fields, a|bc is not ab|c; "
	    "all fields empty is an empty key; a missing field is invalid");
	rec_key_fields(&o, "2,1");
	check_records(&o, put_str("c2.txt", "bc\ta\n"),
	    "c2.txt:1 [bc\\ta] key=[\\0\001a\\0\002bc]\n"
	    "records=1 keys=1 empty=0 invalid=0",
	    "--key-field 2,1: the fields in the order listed");
	o.trim = o.ignore_case = 1;
	check_records(&o, put_str("c3.txt", " BC \t A\n"),
	    "c3.txt:1 [ BC \\t A] key=[\\0\001a\\0\002bc]\n"
	    "records=1 keys=1 empty=0 invalid=0",
	    "--trim and --ignore-case per field (lengths untouched)");
	o.trim = o.ignore_case = 0;
	o.csv = 1;
	o.delim = ',';
	o.header = 1;
	rec_key_fields(&o, "mail,2");
	check_records(&o, put_str("c4.csv", "id,mail\n1,\"x,y\"\n"),
	    "c4.csv:2 [1,\"x,y\"] key=[\\0\003x,y\\0\003x,y]\n"
	    "records=1 keys=1 empty=0 invalid=0",
	    "CSV: a column by name and by number in one key");
	rec_key_fields(&o, "mail");
	ok(o.nkey_fields == 1 && o.key_field == 0 && rec_key_count(&o) == 1,
	    "one name: a one-field list, counted as 1 [%s]", io);
	check_records(&o, put_str("c5.csv", "mail,id\n\"x,y\",1\n"),
	    "c5.csv:2 [\"x,y\",1] key=[x,y]\n"
	    "records=1 keys=1 empty=0 invalid=0",
	    "one name: the plain key of that column, found in this header");
	check_fatal1(&o, put_str("c6.csv", "id,email\n1,x\n"),
	    "c6.csv: the header has no column named 'mail' (--key-field)",
	    "an unknown column name is fatal (exit 2)");
	rec_key_fields(&o, "3");
	ok(o.nkey_fields == 0 && o.key_field == 3 && rec_key_count(&o) == 1,
	    "one number: the plain --key-field N [%s]", io);
	rec_key_fields(&o, "3,1,2");
	ok(o.nkey_fields == 3 && rec_key_count(&o) == 3,
	    "three fields are counted as 3 [%s]", io);
}

static void
t_fields(void)
{
	struct rec_opts o = { 0 };
	char *p;

	p = put_str("tab.txt", "x\ty\tz\nx2\t\tz2\nx3\ty3\n");
	o.key_field = 2;
	check_records(&o, p, "tab.txt:1 [x\\ty\\tz] key=[y]\n"
	    "tab.txt:3 [x3\\ty3] key=[y3]\n"
	    "records=3 keys=2 empty=1 invalid=0",
	    "--key-field 2 splits on tab; empty field is an empty key");
	o.key_field = 3;
	o.skip_invalid = 1;
	check_records(&o, p, "tab.txt:1 [x\\ty\\tz] key=[z]\n"
	    "tab.txt:2 [x2\\t\\tz2] key=[z2]\n"
	    "records=3 keys=2 empty=0 invalid=1 3",
	    "--key-field 3: record without field 3 is invalid");
	o.skip_invalid = 0;
	o.key_field = 1;
	check_records(&o, p, "tab.txt:1 [x\\ty\\tz] key=[x]\n"
	    "tab.txt:2 [x2\\t\\tz2] key=[x2]\n"
	    "tab.txt:3 [x3\\ty3] key=[x3]\n"
	    "records=3 keys=3 empty=0 invalid=0",
	    "--key-field 1");
	p = put_str("comma.txt", "x,y\tz,w\n\"a,b\",c\n");
	o.key_field = 2;
	o.delim = ',';
	check_records(&o, p, "comma.txt:1 [x,y\\tz,w] key=[y\\tz]\n"
	    "comma.txt:2 [\"a,b\",c] key=[b\"]\n"
	    "records=2 keys=2 empty=0 invalid=0",
	    "--delimiter ',': tab is data, quotes are data without --csv");
	o.delim = 0;
	o.skip_invalid = 1;
	check_records(&o, p, "comma.txt:1 [x,y\\tz,w] key=[z,w]\n"
	    "records=2 keys=1 empty=0 invalid=1 2",
	    "default delimiter is tab, not comma");
	o.skip_invalid = 0;
	check_fatal1(&o, p, "comma.txt: record 2: has no field 2",
	    "missing field is fatal (exit 2) naming file and record");
	p = put_str("blankf.txt", "a\tb\n\n");
	check_records(&o, p, "blankf.txt:1 [a\\tb] key=[b]\n"
	    "records=2 keys=1 empty=1 invalid=0",
	    "an empty record has an empty key, not a missing field");
}

static void
t_csv(void)
{
	struct rec_opts o = { 0 };
	char *p;

	p = put_str("c.csv",
	    "id,name,x\n"
	    "1,\"a,b\",p\n"
	    "2,\"say \"\"hi\"\"\",q\n"
	    "3,\"multi\nline\",r\n"
	    "4,plain,s\r\n"
	    "5,\"crlf\r\ninside\",t\r\n"
	    "6,\"\",u\n"
	    "7,a\"b,v\n"
	    "8,\"ab\"cd,w\n");
	o.csv = 1;
	o.header = 1;
	o.key_field = 2;
	check_records(&o, p,
	    "c.csv:2 [1,\"a,b\",p] key=[a,b]\n"
	    "c.csv:3 [2,\"say \"\"hi\"\"\",q] key=[say \"hi\"]\n"
	    "c.csv:4 [3,\"multi\\nline\",r] key=[multi\\nline]\n"
	    "c.csv:5 [4,plain,s] key=[plain]\n"
	    "c.csv:6 [5,\"crlf\\r\\ninside\",t] key=[crlf\\r\\ninside]\n"
	    "c.csv:8 [7,a\"b,v] key=[a\"b]\n"
	    "c.csv:9 [8,\"ab\"cd,w] key=[abcd]\n"
	    "records=8 keys=7 empty=1 invalid=0",
	    "--csv: quoted comma, doubled quote, newline inside quotes");
	o.key_field = 3;
	check_records(&o, p,
	    "c.csv:2 [1,\"a,b\",p] key=[p]\n"
	    "c.csv:3 [2,\"say \"\"hi\"\"\",q] key=[q]\n"
	    "c.csv:4 [3,\"multi\\nline\",r] key=[r]\n"
	    "c.csv:5 [4,plain,s] key=[s]\n"
	    "c.csv:6 [5,\"crlf\\r\\ninside\",t] key=[t]\n"
	    "c.csv:7 [6,\"\",u] key=[u]\n"
	    "c.csv:8 [7,a\"b,v] key=[v]\n"
	    "c.csv:9 [8,\"ab\"cd,w] key=[w]\n"
	    "records=8 keys=8 empty=0 invalid=0",
	    "--csv: fields after quoted fields");
	o.csv = 0;
	o.header = 0;
	o.delim = ',';
	o.key_field = 2;
	check_records(&o, put_str("c2.csv", "1,\"a,b\",p\n3,\"multi\nline\",r\n"),
	    "c2.csv:1 [1,\"a,b\",p] key=[\"a]\n"
	    "c2.csv:2 [3,\"multi] key=[\"multi]\n"
	    "c2.csv:3 [line\",r] key=[r]\n"
	    "records=3 keys=3 empty=0 invalid=0",
	    "without --csv quotes mean nothing");
	o.csv = 1;
	o.delim = ';';
	o.key_field = 1;
	check_records(&o, put_str("semi.csv", "\"a;b\";c\nd;e\n"),
	    "semi.csv:1 [\"a;b\";c] key=[a;b]\nsemi.csv:2 [d;e] key=[d]\n"
	    "records=2 keys=2 empty=0 invalid=0",
	    "--csv --delimiter ';'");
	o.delim = 0;
	o.key_field = 0;
	check_records(&o, put_str("whole.csv", "\"x\ny\",1\n"),
	    "whole.csv:1 [\"x\\ny\",1] key=[\"x\\ny\",1]\n"
	    "records=1 keys=1 empty=0 invalid=0",
	    "--csv without --key-field: the whole (multi-line) record");

	o.key_field = 2;
	p = put_str("unterm.csv", "1,ok\n2,\"open\n3,x\n");
	check_fatal1(&o, p, "unterm.csv: record 2: unterminated quote",
	    "unterminated quote at EOF is fatal (exit 2)");
	o.skip_invalid = 1;
	check_records(&o, p, "unterm.csv:1 [1,ok] key=[ok]\n"
	    "records=2 keys=1 empty=0 invalid=1 2",
	    "unterminated quote skipped with skip_invalid");
	o.skip_invalid = 0;
	check_records(&o, put_str("term.csv", "1,ok\n2,\"open\n3\",x\n"),
	    "term.csv:1 [1,ok] key=[ok]\n"
	    "term.csv:2 [2,\"open\\n3\",x] key=[open\\n3]\n"
	    "records=2 keys=2 empty=0 invalid=0",
	    "closed quote spanning lines is fine");
	o.key_field = 1;
	check_records(&o, put_str("qend.csv", "\"a\"\"\""),
	    "qend.csv:1 [\"a\"\"\"] key=[a\"]\n"
	    "records=1 keys=1 empty=0 invalid=0",
	    "doubled quote then closing quote at EOF");
}

static void
t_normalize(void)
{
	struct rec_opts o = { 0 };
	char *p;

	p = put_str("ws.txt", " \t a b \v\f\r\n\t\t\nX\n");
	o.trim = 1;
	check_records(&o, p, "ws.txt:1 [ \\t a b \x0b\x0c] key=[a b]\n"
	    "ws.txt:3 [X] key=[X]\nrecords=3 keys=2 empty=1 invalid=0",
	    "--trim strips ASCII white space around the key, not the data");
	o.trim = 0;
	check_records(&o, p, "ws.txt:1 [ \\t a b \x0b\x0c] key=[ \\t a b \x0b\x0c]\n"
	    "ws.txt:2 [\\t\\t] key=[\\t\\t]\n"
	    "ws.txt:3 [X] key=[X]\nrecords=3 keys=3 empty=0 invalid=0",
	    "without --trim white space is key");
	o.trim = 1;
	o.key_field = 2;
	check_records(&o, put_str("wsf.txt", "a\t  b  \tc\n"),
	    "wsf.txt:1 [a\\t  b  \\tc] key=[b]\n"
	    "records=1 keys=1 empty=0 invalid=0",
	    "--trim on a field");
	o.key_field = 0;
	o.trim = 0;
	o.ignore_case = 1;
	p = put_str("case.txt", "AbC-Z@[`{\n\xc3\x89t\xc3\xa9\n");
	check_records(&o, p, "case.txt:1 [AbC-Z@[`{] key=[abc-z@[`{]\n"
	    "case.txt:2 [\xc3\x89t\xc3\xa9] key=[\xc3\x89t\xc3\xa9]\n"
	    "records=2 keys=2 empty=0 invalid=0",
	    "--ignore-case folds ASCII only, data unchanged");
	o.ignore_case = 0;
	check_records(&o, p, "case.txt:1 [AbC-Z@[`{] key=[AbC-Z@[`{]\n"
	    "case.txt:2 [\xc3\x89t\xc3\xa9] key=[\xc3\x89t\xc3\xa9]\n"
	    "records=2 keys=2 empty=0 invalid=0",
	    "without --ignore-case case is kept");
	p = put_str("mixed.txt", "  MiXed \n");
	o.trim = o.ignore_case = 1;
	check_records(&o, p, "mixed.txt:1 [  MiXed ] key=[mixed]\n"
	    "records=1 keys=1 empty=0 invalid=0",
	    "--trim and --ignore-case together: trimmed, then folded");
	o.trim = o.ignore_case = 0;
	check_records(&o, p, "mixed.txt:1 [  MiXed ] key=[  MiXed ]\n"
	    "records=1 keys=1 empty=0 invalid=0",
	    "neither: the key is the record as it is");
}

static void
t_limits(void)
{
	struct rec_opts o = { 0 };
	size_t n = REC_MAX_KEY + 1 + 3;
	char *data = xmalloc(n), *got, *err, *p, want[128];

	memset(data, 'k', n);
	data[REC_MAX_KEY] = '\n';
	data[n - 2] = '\n';
	data[n - 1] = 'z';	/* a 65535-byte key, a 1-byte key, then z */
	p = put_file("k65535.txt", data, n);
	got = collect1(&o, p);
	ok(strstr(got, "records=3 keys=3 empty=0 invalid=0") != NULL,
	    "65535-byte key accepted [%s]", io);
	free(got);

	/* now a 65536-byte key, then z */
	data[REC_MAX_KEY] = 'k';
	data[REC_MAX_KEY + 1] = '\n';
	data[REC_MAX_KEY + 2] = 'z';
	n = REC_MAX_KEY + 3;
	p = put_file("k65536.txt", data, n);
	check_fatal1(&o, p, "k65536.txt: record 1: key longer than 65535 bytes",
	    "65536-byte key is fatal (exit 2)");
	o.skip_invalid = 1;
	got = collect_stderr(&o, p, &err);
	if (!ok(strstr(got, "k65536.txt:2 [z] key=[z]\nrecords=2 keys=1 "
	    "empty=0 invalid=1 1") != NULL, "65536-byte key skipped [%s]", io))
		diag("got: %s", got);
	snprintf(want, sizeof(want), "psi-stream: %s: record 1: key longer "
	    "than 65535 bytes; skipping invalid records (--skip-invalid)", p);
	if (!ok(strstr(err, want) != NULL,
	    "skip warning names file and record [%s]", io))
		diag("stderr: %s", err);
	free(got);
	free(err);

	/* --trim brings a long field under the limit */
	o.skip_invalid = 0;
	o.trim = 1;
	data[0] = ' ';
	p = put_file("k65536t.txt", data, n);
	got = collect1(&o, p);
	ok(strstr(got, "records=2 keys=2") != NULL,
	    "the limit applies to the trimmed key [%s]", io);
	free(got);
	free(data);
}

static void
t_skip_warn_once(void)
{
	struct rec_opts o = { 0 };
	char *p = put_str("bad.txt", "a\tb\nnofield\nc\td\nnofield2\n\tx\n");
	char *got, *err;

	o.key_field = 2;
	o.skip_invalid = 1;
	got = collect_stderr(&o, p, &err);
	same(got, "bad.txt:1 [a\\tb] key=[b]\nbad.txt:3 [c\\td] key=[d]\n"
	    "bad.txt:5 [\\tx] key=[x]\n"
	    "records=5 keys=3 empty=0 invalid=2 2 4",
	    "--skip-invalid skips and counts");
	ok(count_substr(err, "skipping invalid records") == 1 &&
	    strstr(err, "bad.txt: record 2: has no field 2; skipping") != NULL,
	    "--skip-invalid warns exactly once [%s]", io);
	free(got);
	free(err);
	o.skip_invalid = 0;
	o.count_invalid = 1;
	got = collect_stderr(&o, p, &err);
	if (!ok(strstr(got, "invalid=2 2 4") != NULL && err[0] == '\0',
	    "count_invalid counts without a warning [%s]", io))
		diag("got: %s\n# stderr: %s", got, err);
	free(got);
	free(err);
}

/* A record much longer than a chunk, between short ones. */
static void
t_long_record(void)
{
	struct rec_opts o = { 0 };
	size_t big = 5u << 20, n = 2 + big + 1 + 4;
	char *data = xmalloc(n), *got, *p;
	struct rec_reader *rr;
	struct record r;
	int good;

	memcpy(data, "k\t", 2);
	memset(data + 2, 'v', big);
	data[2 + big] = '\n';
	memcpy(data + 3 + big, "a\tb\n", 4);
	p = put_file("long.txt", data, n);

	o.key_field = 1;
	rr = rec_open(&o, &p, 1);
	good = rec_next(rr, &r) == 1 && r.len == 2 + big &&
	    memcmp(r.data, data, r.len) == 0 && r.keylen == 1 &&
	    r.key[0] == 'k';
	good = good && rec_next(rr, &r) == 1 && r.len == 3 && r.recno == 2 &&
	    rec_next(rr, &r) == 0;
	rec_close(rr);
	ok(good, "5 MiB record spanning many chunks, key field 1 [%s]", io);

	o.key_field = 0;
	o.skip_invalid = 1;
	got = collect1(&o, p);
	ok(strstr(got, "long.txt:2 [a\\tb] key=[a\\tb]\n"
	    "records=2 keys=1 empty=0 invalid=1 1") != NULL,
	    "same record as a whole key is too long [%s]", io);
	free(got);
	free(data);
}

/* max_record (rec_set_memory()): longer records are invalid whether
 * they span chunks (carried) or lie inside one. */
static void
t_max_record(void)
{
	struct rec_opts o = { 0 };
	size_t n = 300000 + 90000 + 80000 + 3;
	char *data = xmalloc(n), *got, *p;

	memset(data, 'a', 300000);		/* spans 128 KiB chunks */
	data[300000] = '\n';
	memset(data + 300001, 'b', 90000);	/* inside the third chunk */
	data[390001] = '\n';
	memset(data + 390002, 'c', 80000);	/* fits */
	data[470002] = '\n';
	data[1] = data[300002] = data[390003] = 'x';	/* keys a, b, c */
	p = put_file("maxrec.txt", data, n);
	free(data);
	o.delim = 'x';
	o.key_field = 1;
	o.max_record = 85000;
	check_fatal1(&o, p, "maxrec.txt: record 1: longer than 85000 bytes",
	    "a record over max_record is fatal");
	o.skip_invalid = 1;
	got = collect1(&o, p);
	ok(strstr(got, "\nrecords=3 keys=1 empty=0 invalid=2 1 2") != NULL,
	    "carried and in-chunk records over max_record are invalid");
	free(got);
	o.max_record = 0;
	got = collect1(&o, p);
	ok(strstr(got, "\nrecords=3 keys=3 empty=0 invalid=0") != NULL,
	    "negative: without max_record all three are read");
	free(got);
	rec_set_memory(&o, 8u << 20, 4u << 20);
	ok(o.max_record == 128u << 10, "rec_set_memory: 8M less a 4M "
	    "reserve: 128 KiB, a 32nd of the rest");
	ok(rec_memory(&o) == (1u << 20) + 2 * ZSTD_BLOCKSIZE_MAX + (256u << 10),
	    "... and the reader holds at most a 1 MiB window, its buffers "
	    "and twice that record (%llu)", (unsigned long long)rec_memory(&o));
	source_expect_zstd(0);
	ok(rec_memory(&o) == 256u << 10, "... or, with no zstd input, the "
	    "two records alone");
	source_expect_zstd(1);
	rec_set_memory(&o, 8u << 20, 8u << 20);
	ok(o.max_record == REC_MAX_KEY + 1, "... never below the longest key");
	rec_set_memory(&o, 4ull << 30, 0);
	ok(o.max_record == REC_MAX_RECORD, "rec_set_memory: at most 64 MiB");
	/* The accounting (session.c): for every budget main.c accepts and
	 * every engine, the engine's reserve and share and the reader's part
	 * leave the two sorters at least their minimum each, and for budgets
	 * of 64M and more at least a quarter of the budget. */
	{
		const char *names[] = { "ot", "dh" };
		int bad = 0, nb = 0;

		for (int e = 0; e < 2; e++) {
			const struct engine *eng = engine_by_name(names[e]);
			for (uint64_t m = SESSION_MIN_MEMORY; m <= (64ull << 30);
			    m += m / 7 + 1, nb++) {
				uint64_t avail = m - eng->reserve, sorters;

				rec_set_memory(&o, m, eng->reserve);
				avail -= avail / 100 * eng->share;
				sorters = avail > rec_memory(&o) ?
				    avail - rec_memory(&o) : 0;
				if (sorters / 3 < sorter_min_memory() ||
				    (m >= (64u << 20) && sorters < m / 4)) {
					if (bad++ < 3)
						diag("%s, --memory %llu: %llu "
						    "for the sorters", names[e],
						    (unsigned long long)m,
						    (unsigned long long)sorters);
				}
			}
		}
		ok(bad == 0 && nb > 100, "the sorters keep their minimum, and a "
		    "quarter from 64M on, for %d budgets from 8M to 64G", nb);
	}
	source_set_memory(0, 0);	/* back to the default for the other tests */
	unlink(p);
}

static void
t_huge_record(void)
{
	struct rec_opts o = { 0 };
	size_t big = REC_MAX_RECORD + 10, n = big + 1 + 3 + 4;
	char *data = xmalloc(n), *got, *p;

	memcpy(data, "\"x\n", 3);	/* an open quote for the CSV case */
	memset(data + 3, 'h', big - 3);
	data[big] = '\n';
	memcpy(data + big + 1, "ok\n", 3);
	memcpy(data + big + 4, "ok2\n", 4);
	p = put_file("huge.txt", data, n);
	free(data);

	o.key_field = 2;
	o.delim = 'x';
	check_fatal1(&o, p, "huge.txt: record 2: longer than 64 MiB",
	    "record over 64 MiB is fatal (exit 2)");
	o.skip_invalid = 1;
	got = collect1(&o, p);
	same(got, "records=4 keys=0 empty=1 invalid=3 2 3 4",
	    "record over 64 MiB skipped, reading goes on");
	free(got);
	o.key_field = 0;
	o.csv = 1;
	got = collect1(&o, p);
	same(got, "records=1 keys=0 empty=0 invalid=1 1",
	    "CSV: an over-long unterminated quote is one invalid record");
	free(got);
	unlink(p);
}

static size_t
zcompress(const char *src, size_t n, uint8_t **out)
{
	size_t cap = ZSTD_compressBound(n), z;

	*out = xmalloc(cap);
	z = ZSTD_compress(*out, cap, src, n, 3);
	if (ZSTD_isError(z)) {
		fprintf(stderr, "ZSTD_compress: %s\n", ZSTD_getErrorName(z));
		exit(99);
	}
	return z;
}

static void
t_zstd(void)
{
	static const char text[] = "a\tx\0b\ty\0c\tz\0";
	struct rec_opts o = { 0 };
	uint8_t *z, *two, bad[64];
	size_t zn;
	char *plain, *comp;
	size_t big = 3u << 20, i;
	char *bigtext;

	o.zero_term = 1;
	o.key_field = 2;
	zn = zcompress(text, sizeof(text) - 1, &z);
	show_names = 0;
	plain = collect1(&o, put_file("z.txt", text, sizeof(text) - 1));
	comp = collect1(&o, put_file("z.txt.zst", z, zn));
	show_names = 1;
	ok(strcmp(plain, comp) == 0 &&
	    strstr(comp, "3 [c\\tz] key=[z]") != NULL,
	    "zstd, NUL-separated, tab field: same as plain [%s]", io);
	free(plain);
	free(comp);

	two = xmalloc(2 * zn);
	memcpy(two, z, zn);
	memcpy(two + zn, z, zn);
	comp = collect1(&o, put_file("two.zst", two, 2 * zn));
	ok(strstr(comp, "records=6 keys=6") != NULL,
	    "two concatenated zstd frames [%s]", io);
	free(comp);

	/* Larger than the decoder's output buffer. */
	bigtext = xmalloc(big);
	for (i = 0; i < big; i++)
		bigtext[i] = i % 61 == 60 ? '\n' : (char)('a' + i % 26);
	free(z);
	zn = zcompress(bigtext, big, &z);
	o.zero_term = 0;
	o.key_field = 0;
	show_names = 0;
	plain = collect1(&o, put_file("big.txt", bigtext, big));
	comp = collect1(&o, put_file("big.txt.zst", z, zn));
	show_names = 1;
	ok(strcmp(plain, comp) == 0 && strstr(comp, "records=51570 ") != NULL,
	    "3 MiB zstd stream (several decoder buffers) [%s]", io);
	free(plain);
	free(comp);
	free(bigtext);

	/* Corrupt: valid magic, garbage after it. */
	/* A frame header asking for a 2 MiB window, then garbage. */
	memset(bad, 0xa5, sizeof(bad));
	memcpy(bad, "\x28\xb5\x2f\xfd\x00\x58", 6);
	check_fatal1(&o, put_file("bad.zst", bad, sizeof(bad)),
	    "bad.zst: corrupt zstd data: ", "corrupt zstd is fatal (exit 2)");
	/* A header claiming a 2.6 GiB single-segment frame. */
	memcpy(bad, "\x28\xb5\x2f\xfd", 4);
	memset(bad + 4, 0xa5, sizeof(bad) - 4);
	check_fatal1(&o, put_file("badwin.zst", bad, sizeof(bad)),
	    "badwin.zst: zstd frame needs a 2650.4 MiB window, over the 128M "
	    "limit", "a frame header asking for a huge window is refused");
	check_fatal1(&o, put_file("trunc.zst", z, zn / 2),
	    "trunc.zst: corrupt zstd data: truncated input",
	    "truncated zstd is fatal (exit 2)");
	check_records(&o, put_file("notz.txt", "\x28\xb5\x2f\n", 4),
	    "notz.txt:1 [(\xb5/] key=[(\xb5/]\n"
	    "records=1 keys=1 empty=0 invalid=0",
	    "3 bytes of zstd magic are just data");
	free(z);
	free(two);
}

static void
t_gzip(void)
{
	struct rec_opts o = { 0 };

	check_fatal1(&o, put_file("x.gz", "\x1f\x8b\x08\x00rest", 8),
	    "x.gz: gzip input is not supported; use: zcat ",
	    "gzip magic refused with a zcat hint (exit 2)");
	check_records(&o, put_file("n.txt", "\x1f\x8a\n", 3),
	    "n.txt:1 [\x1f\x8a] key=[\x1f\x8a]\n"
	    "records=1 keys=1 empty=0 invalid=0",
	    "0x1f without 0x8b is data");
}

static void
t_files(void)
{
	struct rec_opts o = { 0 };
	char *files[3];

	files[0] = xstrdup(put_str("f1.txt", "a\nb"));
	files[1] = xstrdup(put_str("f2.txt", "c\n"));
	files[2] = xstrdup(put_str("f3.txt", ""));
	same_free(collect_files(&o, files, 3),
	    "f1.txt:1 [a] key=[a]\nf1.txt:2 [b] key=[b]\nf2.txt:1 [c] key=[c]\n"
	    "records=3 keys=3 empty=0 invalid=0",
	    "files in order, record numbers per file, no record joins files");
	same_free(collect_files(&o, files + 1, 1),
	    "f2.txt:1 [c] key=[c]\nrecords=1 keys=1 empty=0 invalid=0",
	    "one file alone");
	free(files[2]);
	files[2] = xstrdup(path_of("does-not-exist"));
	check_fatal(&o, files, 3, EXIT_IO, "cannot open ",
	    "nonexistent file is fatal (exit 2)");
	check_fatal(&o, files + 2, 1, EXIT_IO,
	    "does-not-exist: No such file or directory",
	    "the message names the missing file");
	free(files[2]);
	files[2] = xstrdup(tmpdir);
	check_fatal(&o, files + 2, 1, EXIT_IO, ": is a directory",
	    "a directory is fatal (exit 2)");
	free(files[0]);
	free(files[1]);
	free(files[2]);
}

/*
 * Reads data[0..n) from stdin, fed by a child through a pipe in pieces of
 * 1..maxstep bytes (pausing now and then), so chunks end anywhere.
 */
static char *
collect_pipe(const struct rec_opts *o, const void *data, size_t n,
    size_t maxstep, unsigned seed)
{
	const uint8_t *src = data;
	size_t i, step;
	char *got;
	int fd[2], save;
	pid_t pid;

	if (pipe(fd) < 0)
		exit(99);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(fd[0]);
		for (i = 0; i < n; i += step) {
			seed = seed * 1103515245 + 12345;
			step = 1 + (seed >> 8) % maxstep;
			if (step > n - i)
				step = n - i;
			if (write_all(fd[1], src + i, step) < 0)
				_exit(1);
			if ((seed >> 4) % 8 == 0)
				usleep(200);
		}
		_exit(0);
	}
	close(fd[1]);
	save = dup(0);
	dup2(fd[0], 0);
	close(fd[0]);
	got = collect_files(o, NULL, 0);
	dup2(save, 0);
	close(save);
	waitpid(pid, NULL, 0);
	return got;
}

/* The one "-" test (util.h) that every reader and writer uses. */
static void
t_dash(void)
{
	ok(is_stdio_path("-"), "\"-\" names standard input or output");
	ok(!is_stdio_path("--") && !is_stdio_path("-x") &&
	    !is_stdio_path("./-") && !is_stdio_path(""),
	    "\"--\", \"-x\", \"./-\" and \"\" are file names");
}

/* stdin as a pipe fed in small pieces (the zstd magic split across
 * writes), checked against the same bytes from a file. */
static void
t_stdin_pipe(void)
{
	struct rec_opts o = { 0 };
	static const char text[] = "one\ntwo\r\nthree\n\nfour";
	uint8_t *z;
	size_t zn;
	char *fromfile, *frompipe;
	int round;

	zn = zcompress(text, sizeof(text) - 1, &z);
	show_names = 0;
	fromfile = collect1(&o, put_file("pipe.txt", text, sizeof(text) - 1));
	for (round = 0; round < 2; round++) {
		/* 1- and 2-byte writes: the zstd magic arrives in pieces. */
		frompipe = round ? collect_pipe(&o, z, zn, 2, 7) :
		    collect_pipe(&o, text, sizeof(text) - 1, 2, 7);
		ok(strcmp(fromfile, frompipe) == 0 &&
		    strcmp(last_file, "stdin") == 0,
		    "%s stdin through a slow pipe [%s]",
		    round ? "zstd" : "plain", io);
		if (strcmp(fromfile, frompipe) != 0)
			diag("got:\n%s", frompipe);
		free(frompipe);
	}
	show_names = 1;
	free(fromfile);
	free(z);
}

/* Naive reference splitter for the randomized comparison (plain mode). */
static char *
naive(const char *d, size_t n, int zero)
{
	struct buf b = { 0 };
	size_t i, start = 0, len;
	unsigned long long recno = 0, records = 0, keys = 0, empty = 0;
	char term = zero ? '\0' : '\n';

	buf_add(&b, "", 0);
	for (i = 0; i <= n; i++) {
		if (i < n && d[i] != term)
			continue;
		if (i == n && start == n)
			break;
		len = i - start;
		if (!zero && i < n && len > 0 && d[i - 1] == '\r')
			len--;
		recno++;
		records++;
		if (len == 0) {
			empty++;
		} else {
			keys++;
			buf_printf(&b, "%llu [", recno);
			buf_escaped(&b, (const uint8_t *)d + start, len);
			buf_add(&b, "] key=[", 7);
			buf_escaped(&b, (const uint8_t *)d + start, len);
			buf_add(&b, "]\n", 2);
		}
		start = i + 1;
	}
	buf_printf(&b, "records=%llu keys=%llu empty=%llu invalid=0",
	    records, keys, empty);
	return b.p;
}

/*
 * Reference CSV reader, byte by byte: the record automaton of records.c
 * (a quote opens a field only at its start, "" inside quotes is a quote,
 * bytes after a closing quote are kept) without its shortcuts.  Empty
 * records are empty keys; a record without the field, an open quote at
 * EOF and a key over REC_MAX_KEY are invalid.
 */
static char *
naive_csv(const char *d, size_t n, unsigned field)
{
	enum { FS, UQ, IQ, QQ } st;
	struct buf b = { 0 }, key = { 0 };
	size_t i = 0, start, len, j;
	unsigned long long recno = 0, records = 0, keys = 0, empty = 0, inval = 0;
	unsigned f;
	const char *r;

	buf_add(&b, "", 0);
	while (i < n) {
		start = i;
		st = FS;
		for (; i < n; i++) {
			char c = d[i];
			if (st == IQ) {
				if (c == '"')
					st = QQ;
			} else if (c == '"' && st != UQ) {
				st = IQ;
			} else if (c == '\n') {
				break;
			} else {
				st = c == ',' ? FS : UQ;
			}
		}
		recno++;
		records++;
		if (i == n && st == IQ) {
			inval++;
			break;
		}
		len = i - start;
		if (i < n && len > 0 && d[i - 1] == '\r')
			len--;
		i++;
		r = d + start;
		if (len == 0) {
			empty++;
			continue;
		}
		key.len = 0;
		buf_add(&key, "", 0);
		for (j = 0, f = 1;; f++) {
			key.len = 0;
			if (j < len && r[j] == '"') {
				for (j++; j < len; j++) {
					if (r[j] == '"' && j + 1 < len &&
					    r[j + 1] == '"') {
						buf_add(&key, "\"", 1);
						j++;
					} else if (r[j] == '"') {
						j++;
						break;
					} else {
						buf_add(&key, r + j, 1);
					}
				}
			}
			for (; j < len && r[j] != ','; j++)
				buf_add(&key, r + j, 1);
			if (f == field || j >= len)
				break;
			j++;
		}
		if (f != field) {
			inval++;
			continue;
		}
		if (key.len == 0) {
			empty++;
			continue;
		}
		if (key.len > REC_MAX_KEY) {
			inval++;
			continue;
		}
		keys++;
		buf_printf(&b, "%llu [", recno);
		buf_escaped(&b, (const uint8_t *)r, len);
		buf_add(&b, "] key=[", 7);
		buf_escaped(&b, (const uint8_t *)key.p, key.len);
		buf_add(&b, "]\n", 2);
	}
	free(key.p);
	buf_printf(&b, "records=%llu keys=%llu empty=%llu invalid=%llu",
	    records, keys, empty, inval);
	return b.p;
}

/* On mismatch, shows the first differing line of two dumps. */
static void
diag_first_diff(const char *want, const char *got)
{
	size_t i = 0, ls = 0, le;

	while (want[i] != '\0' && want[i] == got[i]) {
		if (want[i] == '\n')
			ls = i + 1;
		i++;
	}
	if (want[i] == got[i])
		return;
	le = strcspn(want + ls, "\n");
	diag("want: %.*s", (int)(le > 300 ? 300 : le), want + ls);
	le = strcspn(got + ls, "\n");
	diag("got:  %.*s", (int)(le > 300 ? 300 : le), got + ls);
}

/* Strips the " N N N" list of invalid record numbers from a dump. */
static void
strip_invalid_list(char *s)
{
	char *p = strstr(s, " invalid=");

	if (p != NULL && (p = strchr(p + 1, ' ')) != NULL)
		*p = '\0';
}

static void
t_random(void)
{
	struct rec_opts o = { 0 };
	size_t n = 3u << 20, i, run;
	char *d = xmalloc(n), *want, *got, *p;
	unsigned seed = 12345;
	int zero;

	show_names = 0;
	for (zero = 0; zero < 2; zero++) {
		/* Record lengths from 0 to ~3000, some CRs and NULs (not in
		 * the first SOURCE_SNIFF bytes of an LF file: binary). */
		for (i = 0; i < n; ) {
			seed = seed * 1103515245 + 12345;
			run = (seed >> 8) % ((seed >> 28) < 3 ? 3000 : 70);
			while (run-- > 0 && i < n) {
				seed = seed * 1103515245 + 12345;
				d[i] = "abc\r\0xyz"[(seed >> 16) % 8];
				if (d[i] == '\0' && !zero && i < SOURCE_SNIFF)
					d[i] = '\1';
				i++;
			}
			if (i < n)
				d[i++] = zero ? '\0' : '\n';
		}
		o.zero_term = zero;
		p = put_file("random.bin", d, n - 1);
		want = naive(d, n - 1, zero);
		got = collect1(&o, p);
		if (!ok(strcmp(want, got) == 0, "3 MiB of random records "
		    "match a naive splitter (%s) [%s]", zero ? "-z" : "LF", io))
			diag_first_diff(want, got);
		free(got);
		got = collect_pipe(&o, d, n - 1, 5000, seed);
		if (!ok(strcmp(want, got) == 0, "the same through a pipe, "
		    "chunks ending anywhere (%s) [%s]", zero ? "-z" : "LF", io))
			diag_first_diff(want, got);
		free(want);
		free(got);
	}
	show_names = 1;
	free(d);
}

static void
t_random_csv(void)
{
	static const char *const pieces[] = {
		"a", "bc", "\"x\"", "\"q,\nq\"", "\"\"\"\"", "\"a\"\"b\"", "\"\r\n\"",
		"d\"e", "\"t\"ail", " ", "\"long,,\n\n\"\"\"", "\"\"", "\r",
	};
	struct rec_opts o = { 0 };
	size_t n = 2u << 20, i = 0, k, len;
	char *d = xmalloc(n + 64), *want, *got, *p;
	unsigned seed = 777;
	int last, verb = verbosity;

	/* Records of 1..6 fields picked from pieces, joined by commas; now
	 * and then a lone quote or a huge quoted field. */
	while (i < n) {
		seed = seed * 1103515245 + 12345;
		last = (int)((seed >> 16) % 6);
		for (k = 0; (int)k <= last && i < n; k++) {
			seed = seed * 1103515245 + 12345;
			if ((seed >> 8) % 5000 == 0) {
				len = (seed >> 4) % 600000;
				if (len > n - i)
					len = n - i;
				memset(d + i, '\n', len);
				d[i] = '"';
				d[i + len - 1] = '"';
				i += len;
			} else {
				const char *pc = pieces[(seed >> 16) % 13];
				if ((seed >> 10) % 997 == 0)
					pc = "\"";
				len = strlen(pc);
				memcpy(d + i, pc, len);
				i += len;
			}
			if ((int)k < last)
				d[i++] = ',';
		}
		d[i++] = '\n';
	}
	n = i;
	o.csv = 1;
	o.key_field = 2;
	o.skip_invalid = 1;
	verbosity = 0;		/* no skip warnings */
	show_names = 0;
	want = naive_csv(d, n, 2);
	p = put_file("random.csv", d, n);
	got = collect1(&o, p);
	strip_invalid_list(got);
	if (!ok(strcmp(want, got) == 0, "2 MiB of random CSV match a "
	    "byte-by-byte reader [%s]", io))
		diag_first_diff(want, got);
	free(got);
	got = collect_pipe(&o, d, n, 3000, seed);
	strip_invalid_list(got);
	if (!ok(strcmp(want, got) == 0, "the same CSV through a pipe, "
	    "chunks ending anywhere [%s]", io))
		diag_first_diff(want, got);
	free(got);
	free(want);
	show_names = 1;
	verbosity = verb;
	free(d);
}

/* 1 if bytes [off, off + len) of path, read through source_open_range(),
 * are want (the file's bytes there). */
static int
range_matches(const char *path, uint64_t off, uint64_t len, const uint8_t *want)
{
	struct source *s = source_open_range(path, off, len);
	const uint8_t *b;
	size_t n, got = 0;
	int same = 1;

	while (source_next(s, &b, &n)) {
		if (got + n > len || memcmp(want + got, b, n) != 0)
			same = 0;
		got += n;
	}
	source_close(s);
	return same && got == len;
}

static void
t_ranges(void)
{
	size_t n = (5u << 20) + 12345, i, k;
	uint8_t *d = xmalloc(n);
	uint64_t cuts[] = { 0, 1, 4, 524287, 524288, 524289, 2097153,
	    3000000, 5000000 };
	struct rec_opts o = { 0 };
	struct rec_reader *rr;
	struct record r;
	struct rec_stats st;
	uint64_t recs = 0, keyhash = 0, whole_recs, whole_hash;
	unsigned seed = 99;
	char *p;
	int good = 1;

	for (i = 0; i < n; i++) {
		seed = seed * 1103515245 + 12345;
		d[i] = (seed >> 16) % 40 == 0 ? '\n' : (uint8_t)(seed >> 20);
		if (d[i] == '\0' && i < SOURCE_SNIFF)
			d[i] = 1;	/* else binary when read whole */
	}
	/* A zstd magic where a range starts: ranges are never decoded. */
	memcpy(d + 524288, "\x28\xb5\x2f\xfd", 4);
	p = put_file("ranges.bin", d, n);
	for (i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++)
		for (k = i; k < sizeof(cuts) / sizeof(cuts[0]); k++)
			if (!range_matches(p, cuts[i], cuts[k] - cuts[i],
			    d + cuts[i]))
				good = 0, diag("range %llu..%llu differs",
				    (unsigned long long)cuts[i],
				    (unsigned long long)cuts[k]);
	if (!range_matches(p, 3000000, n - 3000000, d + 3000000) ||
	    !range_matches(p, 0, n, d))
		good = 0;
	ok(good, "source_open_range: every range, empty to whole, across "
	    "buffer boundaries, no zstd detection [%s]", io);

	/* The same records, whole or in ranges cut after terminators. */
	rr = rec_open(&o, &p, 1);
	while (rec_next(rr, &r))
		keyhash = keyhash * 31 + r.keylen + r.key[0] + r.recno;
	rec_get_stats(rr, &st);
	rec_close(rr);
	whole_recs = st.records;
	whole_hash = keyhash;
	keyhash = 0;
	for (i = 0, k = 0; i < n; i = k) {
		k = i + 700000 < n ? i + 700000 : n;
		while (k < n && d[k - 1] != '\n')
			k++;
		rr = rec_open_range(&o, p, i, k - i);
		while (rec_next(rr, &r))
			keyhash = keyhash * 31 + r.keylen + r.key[0] + recs +
			    r.recno;
		rec_get_stats(rr, &st);
		rec_close(rr);
		recs += st.records;
	}
	ok(recs == whole_recs && keyhash == whole_hash, "rec_open_range: "
	    "ranges cut after terminators give the records of the whole "
	    "file, numbered from 1 in each [%s]", io);
	free(d);
}

static void
t_stats_and_io(void)
{
	struct rec_opts o = { 0 };
	struct rec_reader *rr;
	struct rec_stats st;
	struct record r;
	struct source *s;
	char *p = put_str("bytes.txt", "12345\n6789\n");
	int uring;

	rr = rec_open(&o, &p, 1);
	while (rec_next(rr, &r))
		;
	rec_get_stats(rr, &st);
	rec_close(rr);
	ok(st.bytes == 11, "stats count input bytes [%s]", io);

	s = source_open(p);
	uring = source_uses_uring();
	ok(source_size(s) == 11 && strcmp(source_name(s), p) == 0,
	    "source_size and source_name [%s]", io);
	source_close(s);
	if (strcmp(io, "read") == 0)
		ok(uring == 0, "PSI_STREAM_IO=read forces read(2)");
	else if (uring)
		ok(1, "io_uring used by default");
	else
		ok(1, "# SKIP io_uring unavailable here (read(2) fallback)");
}

int
main(void)
{
	const char *base = getenv("TMPDIR");
	static const char *paths[2] = { "uring", "read" };
	int k;

	snprintf(tmpdir, sizeof(tmpdir), "%s/t_records.XXXXXX",
	    base != NULL && *base != '\0' ? base : "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 99;
	}
	for (k = 0; k < 2; k++) {
		use_io(paths[k]);
		t_lines();
		t_nul();
		t_header();
		t_fields();
		t_composite();
		t_csv();
		t_normalize();
		t_limits();
		t_skip_warn_once();
		t_long_record();
		t_huge_record();
		t_zstd();
		t_gzip();
		t_max_record();
		t_files();
		t_stdin_pipe();
		t_random();
		t_random_csv();
		t_stats_and_io();
		t_ranges();
	}
	t_formats();
	t_dash();
	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			diag("could not remove %s", tmpdir);
	}
	return done_testing();
}
