/*
 * t_stats.c: the --stats JSON file (src/stats.c).
 * Covers: the file parses as JSON (a strict checker here, and python3's
 * json module when python3 is installed) with every counter, role, shard,
 * phases in first-use order with repeated phases added up, seconds and
 * peak RSS; string escaping (quotes, backslash, control characters, valid
 * UTF-8 kept, invalid bytes, overlong forms and surrogates as \u00XX);
 * "error" only on failure, with a fallback reason; an over-long message
 * cut, still valid; atomic replacement with no temporary file left;
 * failures (missing directory, target is a directory) give one warning
 * line, return -1, leave nothing behind; "-" writes to stdout; and the
 * fatal hook writing the file, keeping the original exit status even
 * when the file cannot be written.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stats.h"
#include "tap.h"
#include "util.h"

static char dir[256];		/* short, so paths built from it fit */

/* ---- a strict JSON checker (RFC 8259), enough for these files ------------ */

static const char *jvalue(const char *p, int depth);

static const char *
jws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

static int
ishex(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F');
}

/* A string; raw bytes must be valid UTF-8 (checked coarsely). */
static const char *
jstring(const char *p)
{
	if (*p++ != '"')
		return NULL;
	while (*p != '"') {
		unsigned char c = (unsigned char)*p;
		if (c == '\0' || c < 0x20)
			return NULL;
		if (c == '\\') {
			p++;
			if (*p == 'u') {
				for (int i = 1; i <= 4; i++)
					if (!ishex(p[i]))
						return NULL;
				p += 5;
			} else if (*p && strchr("\"\\/bfnrt", *p))
				p++;
			else
				return NULL;
		} else if (c < 0x80)
			p++;
		else {
			int n = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc2 ? 1 : -1;
			if (n < 0 || c > 0xf4)
				return NULL;
			for (int i = 1; i <= n; i++)
				if (((unsigned char)p[i] & 0xc0) != 0x80)
					return NULL;
			p += n + 1;
		}
	}
	return p + 1;
}

static const char *
jnumber(const char *p)
{
	const char *s = p;

	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (*p >= '0' && *p <= '9')
			p++;
	else
		return NULL;
	if (*p == '.') {
		if (*++p < '0' || *p > '9')
			return NULL;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (*p < '0' || *p > '9')
			return NULL;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return p > s ? p : NULL;
}

static const char *
jcontainer(const char *p, int depth, char close, int object)
{
	p = jws(p + 1);
	if (*p == close)
		return p + 1;
	for (;;) {
		if (object) {
			if ((p = jstring(p)) == NULL)
				return NULL;
			p = jws(p);
			if (*p++ != ':')
				return NULL;
		}
		if ((p = jvalue(p, depth + 1)) == NULL)
			return NULL;
		p = jws(p);
		if (*p == close)
			return p + 1;
		if (*p++ != ',')
			return NULL;
		p = jws(p);
	}
}

static const char *
jvalue(const char *p, int depth)
{
	if (depth > 32)
		return NULL;
	p = jws(p);
	switch (*p) {
	case '{': return jcontainer(p, depth, '}', 1);
	case '[': return jcontainer(p, depth, ']', 0);
	case '"': return jstring(p);
	case 't': return strncmp(p, "true", 4) ? NULL : p + 4;
	case 'f': return strncmp(p, "false", 5) ? NULL : p + 5;
	case 'n': return strncmp(p, "null", 4) ? NULL : p + 4;
	default: return jnumber(p);
	}
}

static int
json_valid(const char *text)
{
	const char *end = jvalue(text, 0);

	return end != NULL && *jws(end) == '\0';
}

/* ---- helpers ------------------------------------------------------------- */

static char *
slurp(const char *path)
{
	static char buf[65536];
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

/* Entries in dir other than . and .. */
static int
count_entries(const char *d)
{
	DIR *dp = opendir(d);
	struct dirent *e;
	int n = 0;

	if (dp == NULL)
		return -1;
	while ((e = readdir(dp)) != NULL)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(dp);
	return n;
}

static int have_python;

/* 1 if python3's json module accepts the file (or python3 is missing). */
static int
python_accepts(const char *path)
{
	char cmd[PATH_MAX + 128];

	if (!have_python)
		return 1;
	snprintf(cmd, sizeof(cmd), "python3 -c 'import json, sys; "
	    "json.load(open(sys.argv[1], encoding=\"utf-8\"))' '%s'", path);
	return system(cmd) == 0;
}

static void
json_checks(const char *path, const char *what)
{
	const char *text = slurp(path);

	ok(text && json_valid(text), "%s: valid JSON (strict checker)", what);
	if (have_python)
		ok(python_accepts(path), "%s: python3 json.load accepts it", what);
	else
		printf("ok %d # SKIP python3 not installed\n", ++tap_n);
}

/* Run fn with fd (1 or 2) going to file; returns what it printed. */
static char *
capture(int fd, const char *file, int (*fn)(void), int *rc)
{
	int saved = dup(fd), f = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	fflush(fd == 1 ? stdout : stderr);
	dup2(f, fd);
	close(f);
	*rc = fn();
	fflush(fd == 1 ? stdout : stderr);
	dup2(saved, fd);
	close(saved);
	return slurp(file);
}

static int
lines(const char *s)
{
	int n = 0;

	for (; s && *s; s++)
		n += *s == '\n';
	return n;
}

/* ---- the cases ------------------------------------------------------------ */

static void
test_success(void)
{
	char path[PATH_MAX];
	const char *t, *r, *q;

	snprintf(path, sizeof(path), "%s/ok.json", dir);
	stats_start();
	run_stats.role = "querier";
	run_stats.shard_i = 2;
	run_stats.shard_n = 3;
	run_stats.records = 12345;
	run_stats.keys = 4000;
	run_stats.empty_skipped = 7;
	run_stats.invalid_skipped = 3;
	run_stats.shard_skipped = 8335;
	run_stats.peer_records = 99;
	run_stats.matched_records = 42;
	run_stats.truncation_bits = 59;
	run_stats.digest_bytes = 1000;
	run_stats.spill_bytes = 0;
	run_stats.bytes_sent = UINT64_MAX;
	run_stats.bytes_received = 5;
	run_stats.peer_key = "SHA256:abc";
	run_stats.peer_key_added = 1;
	stats_phase("read");
	stats_phase("query");
	stats_phase("read");		/* again: adds to the first "read" */
	usleep(20000);
	stats_phase("match");
	ok(stats_write(path, 0) == 0, "success: stats_write returns 0");
	json_checks(path, "success");
	t = slurp(path);
	ok(t && strstr(t, "\"role\": \"querier\""), "role written");
	ok(t && strstr(t, "\"shard\": \"2/3\""), "shard written as I/N");
	ok(t && strstr(t, "\"exit_status\": 0,"), "exit_status 0");
	ok(t && !strstr(t, "\"error\""), "no error key on success");
	ok(t && strstr(t, "\"records\": 12345,") && strstr(t, "\"keys\": 4000,")
	    && strstr(t, "\"empty_skipped\": 7,") &&
	    strstr(t, "\"invalid_skipped\": 3,") &&
	    strstr(t, "\"shard_skipped\": 8335,") &&
	    strstr(t, "\"peer_records\": 99,") &&
	    strstr(t, "\"matched_records\": 42,") &&
	    strstr(t, "\"truncation_bits\": 59,") &&
	    strstr(t, "\"digest_bytes\": 1000,") &&
	    strstr(t, "\"spill_bytes\": 0,") &&
	    strstr(t, "\"bytes_received\": 5,"), "every counter written");
	ok(t && strstr(t, "\"peer_key\": \"SHA256:abc\",") &&
	    strstr(t, "\"peer_key_added\": true,"),
	    "peer_key as a string, peer_key_added as true");
	ok(t && strstr(t, "\"bytes_sent\": 18446744073709551615,"),
	    "a counter at UINT64_MAX written in full");
	ok(t && !strstr(t, "\"peak_rss_bytes\": 0,") &&
	    strstr(t, "\"peak_rss_bytes\": "), "peak_rss_bytes is not 0");
	ok(t && strstr(t, "\"started\": \"20") && strstr(t, "\"finished\": \"20"),
	    "started and finished are UTC timestamps");
	r = t ? strstr(t, "\"read\": ") : NULL;
	q = t ? strstr(t, "\"query\": ") : NULL;
	ok(r && q && r < q && strstr(r + 1, "\"read\": ") == NULL,
	    "phases in first-use order, a repeated phase listed once");
	q = t ? strstr(t, "\"match\": ") : NULL;
	ok(q && atof(q + 9) >= 0.0 && strstr(t, "\"total\": ") &&
	    atof(strstr(t, "\"total\": ") + 9) >= 0.02,
	    "the open phase is timed up to the write; total covers the run");
	ok(count_entries(dir) == 1, "success: no temporary file left");
	unlink(path);
}

static void
test_escaping(void)
{
	char path[PATH_MAX];
	const char *t;
	/* quote, backslash, newline, tab, CR, \001, DEL, a stray \377, valid
	 * é and U+1F600, an overlong '/', a surrogate, a cut sequence */
	const char *msg = "a\"b\\c\nd\te\rf\001g\177h\377i caf\303\251 "
	    "\360\237\230\200 \300\257 \355\240\200 \342\202";
	const char *want = "\"error\": \"a\\\"b\\\\c\\nd\\te\\rf\\u0001g"
	    "\\u007fh\\u00ffi caf\303\251 \360\237\230\200 \\u00c0\\u00af "
	    "\\u00ed\\u00a0\\u0080 \\u00e2\\u0082\"";

	snprintf(path, sizeof(path), "%s/esc.json", dir);
	stats_start();
	stats_phase("qu\"ote\\phase");
	stats_set_error(msg);
	ok(stats_write(path, EXIT_NET) == 0, "escaping: written");
	json_checks(path, "escaping");
	t = slurp(path);
	ok(t && strstr(t, want), "error message escaped exactly");
	if (t && !strstr(t, want))
		diag("got: %s", t);
	ok(t && strstr(t, "\"qu\\\"ote\\\\phase\": "), "phase name escaped");
	ok(t && strstr(t, "\"role\": null,") && strstr(t, "\"shard\": null,"),
	    "unknown role and no shard are null");
	ok(t && strstr(t, "\"exit_status\": 3,"), "exit_status 3");

	/* the fallback reason, and a message at the size limit */
	stats_start();
	ok(stats_write(path, EXIT_IO) == 0 && (t = slurp(path)) != NULL &&
	    strstr(t, "\"error\": \"local I/O error\""),
	    "no message: error says what the exit status means");
	char big[3000];
	memset(big, '\001', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	stats_set_error(big);
	ok(stats_write(path, EXIT_PROTO) == 0,
	    "a 3000-byte message of control characters: written");
	json_checks(path, "long message");
	unlink(path);
}

static void
test_atomic(void)
{
	char path[PATH_MAX];
	struct stat st1, st2;
	FILE *f;

	snprintf(path, sizeof(path), "%s/atomic.json", dir);
	f = fopen(path, "w");
	fputs("old contents\n", f);
	fclose(f);
	stat(path, &st1);
	stats_start();
	ok(stats_write(path, 0) == 0, "replacing an existing file");
	stat(path, &st2);
	ok(st1.st_ino != st2.st_ino, "... by rename (a new inode), not in place");
	ok((st2.st_mode & 0777) == (0666 & ~current_umask()),
	    "... mode 0666 less the umask");
	json_checks(path, "replaced");
	ok(count_entries(dir) == 1, "replacing: no temporary file left");
	unlink(path);

	/* relative path: the temporary file goes in the working directory */
	char cwd[PATH_MAX];
	if (getcwd(cwd, sizeof(cwd)) && chdir(dir) == 0) {
		ok(stats_write("rel.json", 0) == 0 &&
		    access("rel.json", F_OK) == 0, "a path without a directory");
		ok(count_entries(".") == 1, "... no temporary file left");
		unlink("rel.json");
		if (chdir(cwd) != 0)
			diag("cannot go back to %s", cwd);
	}
}

static const char *fail_path;
static int
write_fail_path(void)
{
	return stats_write(fail_path, 2);
}

static void
test_failures(void)
{
	char path[PATH_MAX], out[PATH_MAX], sub[PATH_MAX];
	const char *err;
	int rc;

	snprintf(path, sizeof(path), "%s/no-such-dir/stats.json", dir);
	snprintf(out, sizeof(out), "%s.stderr", dir);
	fail_path = path;
	stats_start();
	err = capture(2, out, write_fail_path, &rc);
	ok(rc == -1, "missing directory: returns -1");
	ok(err && lines(err) == 1 && strstr(err, "warning") &&
	    strstr(err, path), "... one warning line naming the file");
	if (err && lines(err) != 1)
		diag("stderr: %s", err);
	ok(count_entries(dir) == 0, "... nothing created");

	/* the target is a directory: rename fails after the temp file exists */
	snprintf(sub, sizeof(sub), "%s/adir", dir);
	mkdir(sub, 0700);
	fail_path = sub;
	err = capture(2, out, write_fail_path, &rc);
	ok(rc == -1 && err && lines(err) == 1 && strstr(err, sub),
	    "target is a directory: -1 and one warning line");
	ok(count_entries(dir) == 1, "... the temporary file was removed");
	rmdir(sub);
	ok(stats_write(NULL, 0) == -1, "a NULL path is refused quietly");
	unlink(out);
}

static int
write_stdout(void)
{
	return stats_write("-", 0);
}

static void
test_stdout(void)
{
	char out[PATH_MAX];
	const char *t;
	int rc;

	snprintf(out, sizeof(out), "%s.stdout", dir);
	stats_start();
	run_stats.records = 77;
	t = capture(1, out, write_stdout, &rc);
	ok(rc == 0 && t && json_valid(t) && strstr(t, "\"records\": 77,"),
	    "\"-\" writes the JSON to standard output");
	ok(t && strstr(t, "\"peer_key\": null,") &&
	    strstr(t, "\"peer_key_added\": false,"),
	    "after stats_start: peer_key null, peer_key_added false");
	unlink(out);
}

static const char *hook_path;
static void
hook(int status, const char *told, const char *msg)
{
	stats_set_error(msg);
	stats_write(hook_path, status);
}

/* In a child: fatal(3, ...) with the hook writing to path.  Returns the
 * wait status; the child's stderr goes to errfile. */
static int
die_in_child(const char *path, const char *errfile)
{
	pid_t pid;
	int st;

	fflush(stdout);
	if ((pid = fork()) == 0) {
		int fd = open(errfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fd, 2);
		close(fd);
		stats_start();
		run_stats.role = "holder";
		stats_phase("evaluate");
		hook_path = path;
		set_fatal_hook(hook);
		fatal(EXIT_NET, "peer 127.0.0.1:7000 said nothing for %d seconds "
		    "(--timeout)", 3);
	}
	waitpid(pid, &st, 0);
	return st;
}

static void
test_fatal_hook(void)
{
	char path[PATH_MAX], errf[PATH_MAX];
	const char *t;
	int st;

	snprintf(path, sizeof(path), "%s/fatal.json", dir);
	snprintf(errf, sizeof(errf), "%s.err", dir);
	st = die_in_child(path, errf);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 3,
	    "fatal hook: the process still exits 3");
	json_checks(path, "fatal hook");
	t = slurp(path);
	ok(t && strstr(t, "\"exit_status\": 3,") && strstr(t, "\"error\": "
	    "\"peer 127.0.0.1:7000 said nothing for 3 seconds (--timeout)\"") &&
	    strstr(t, "\"role\": \"holder\"") && strstr(t, "\"evaluate\": "),
	    "... the file has the status, the message, role and phase");
	unlink(path);

	snprintf(path, sizeof(path), "%s/gone/fatal.json", dir);
	st = die_in_child(path, errf);
	t = slurp(errf);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 3,
	    "fatal hook, unwritable stats: still exit 3 (no recursion)");
	ok(t && lines(t) == 2 && strstr(t, "said nothing") &&
	    strstr(t, "warning") && strstr(t, path),
	    "... the error line and one warning line");
	ok(count_entries(dir) == 0, "... nothing left behind");
	unlink(errf);
}

int
main(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/t_stats.XXXXXX", tmp ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	have_python = system("command -v python3 >/dev/null 2>&1") == 0;
	if (!have_python)
		diag("python3 not found: only the built-in JSON checker runs");
	test_success();
	test_escaping();
	test_atomic();
	test_failures();
	test_stdout();
	test_fatal_hook();
	ok(count_entries(dir) == 0, "the test directory is empty at the end");
	rmdir(dir);
	return done_testing();
}
