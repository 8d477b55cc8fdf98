/*
 * peers.c: who we are and whom we trust (DESIGN section 4).
 *
 * An identity is an X25519 key pair in two files, like an ssh key: the
 * private key (mode 0600, refused if group or others may read or write
 * it) and FILE.pub, which is what a peer puts in its authorized_peers or
 * passes to --peer-key.  The default identity is created on first use.
 * The listener trusts the keys in authorized_peers; the connector records
 * each host's key in known_peers on first contact (ssh's accept-new, with
 * one notice line, hidden by -q) and afterwards insists on the same key.
 * A PSK file adds a shared secret.
 *
 * All of these files are read line by line into a fixed buffer: a line
 * longer than PEERS_LINE_MAX or holding a NUL byte is an error naming the
 * file and line, as is any line that does not parse.  Private keys and
 * PSKs pass only through sodium_malloc memory and are wiped after use.
 *
 * New files appear atomically (atomicfile.c): a temporary file in the same
 * directory, synced, then published with link(2), which never replaces an
 * existing file (two processes creating the default identity at once end
 * up sharing one), or rename(2) (known_peers, whose update runs under an
 * flock on its directory so concurrent shards don't lose each other's
 * additions, and keeps the old file's mode and owner).  authorized_peers
 * and known_peers that group or others may write are refused.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "atomicfile.h"
#include "peers.h"
#include "util.h"

#define PUB_TYPE	"psi-stream-x25519"
#define PRIV_TYPE	"psi-stream-x25519-private"
#define B64_LEN		44	/* base64 of 32 bytes, padded */
#define HOST_MAX	1024

/* ---- small helpers ----------------------------------------------------- */

static void
init_sodium(void)
{
	if (sodium_init() < 0)
		fatal(EXIT_IO, "libsodium initialisation failed");
}

static char *
path_join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *p = xmalloc(la + lb + 2);

	memcpy(p, a, la);
	p[la] = '/';
	memcpy(p + la + 1, b, lb + 1);
	return p;
}

/* The directory part of path ("." if none); xmalloc'd. */
static char *
dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *d;

	if (slash == NULL)
		return xstrdup(".");
	if (slash == path)
		return xstrdup("/");
	d = xmalloc((size_t)(slash - path) + 1);
	memcpy(d, path, (size_t)(slash - path));
	d[slash - path] = '\0';
	return d;
}

/* $XDG_CONFIG_HOME/psi-stream, else ~/.config/psi-stream. */
static char *
config_dir(void)
{
	const char *base = getenv("XDG_CONFIG_HOME"), *home;
	struct passwd *pw;
	char *cfg, *dir;

	/* the XDG spec says to ignore a relative XDG_CONFIG_HOME */
	if (base != NULL && base[0] == '/')
		return path_join(base, "psi-stream");
	home = getenv("HOME");
	if (home == NULL || home[0] != '/') {
		if ((pw = getpwuid(getuid())) == NULL || pw->pw_dir == NULL)
			fatal(EXIT_USAGE, "cannot find the home directory: "
			    "set HOME or XDG_CONFIG_HOME");
		home = pw->pw_dir;
	}
	cfg = path_join(home, ".config");
	dir = path_join(cfg, "psi-stream");
	free(cfg);
	return dir;
}

char *
peers_default_path(const char *name)
{
	char *dir = config_dir(), *p = path_join(dir, name);

	free(dir);
	return p;
}

/* mkdir -p, new directories mode 0700. */
static void
make_dirs(const char *dir)
{
	char *p = xstrdup(dir), *s, c;
	struct stat st;

	for (s = p + 1; ; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		c = *s;
		*s = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST)
			fatal_errno(EXIT_IO, "cannot create directory %s", p);
		if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode))
			fatal(EXIT_IO, "%s is not a directory", p);
		*s = c;
		if (c == '\0')
			break;
	}
	free(p);
}

/*
 * Create path holding data, all or nothing, never replacing an existing
 * file (atomicfile.c, AF_NOREPLACE).  Returns 0, or 1 if path already
 * exists.
 */
static int
create_new_file(const char *path, const void *data, size_t len, mode_t mode)
{
	struct atomicfile af;
	int rc;

	if (af_open(&af, path, mode, AF_UNNAMED | AF_NOREPLACE) < 0)
		fatal_errno(EXIT_IO, "cannot create a temporary file for %s",
		    path);
	if (write_all(af.fd, data, len) != 0) {
		int e = errno;
		close(af.fd);
		af_abort(&af);
		errno = e;
		fatal_errno(EXIT_IO, "cannot write %s", path);
	}
	if ((rc = af_commit(&af)) < 0)
		fatal_errno(EXIT_IO, "cannot create %s", path);
	return rc;
}

/* ---- reading key files line by line ------------------------------------ */

struct lines {
	FILE		*f;
	const char	*path;
	unsigned long	 lineno;
	char		 buf[PEERS_LINE_MAX + 1];
};

/* The next line, without its "\n" or "\r\n", in l->buf: 1, or 0 at EOF. */
static int
next_line(struct lines *l)
{
	size_t n = 0;
	int c;

	while ((c = getc(l->f)) != EOF && c != '\n') {
		if (c == '\0')
			fatal(EXIT_USAGE, "%s:%lu: NUL byte in line", l->path,
			    l->lineno + 1);
		if (n == PEERS_LINE_MAX)
			fatal(EXIT_USAGE, "%s:%lu: line longer than %d bytes",
			    l->path, l->lineno + 1, PEERS_LINE_MAX);
		l->buf[n++] = (char)c;
	}
	if (ferror(l->f))
		fatal_errno(EXIT_IO, "cannot read %s", l->path);
	if (c == EOF && n == 0)
		return 0;
	l->lineno++;
	if (n > 0 && l->buf[n - 1] == '\r')
		n--;
	l->buf[n] = '\0';
	return 1;
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t';
}

static char *
skip_space(char *s)
{
	while (is_space(*s))
		s++;
	return s;
}

/* Blank or '#' comment. */
static int
ignorable(const char *line)
{
	while (is_space(*line))
		line++;
	return *line == '\0' || *line == '#';
}

/* Exactly 44 base64 characters decoding to 32 bytes (canonical). */
static int
decode_key(const char *b64, size_t len, uint8_t out[PEERS_KEY_LEN])
{
	size_t binlen;
	const char *end;

	if (len != B64_LEN)
		return -1;
	if (sodium_base642bin(out, PEERS_KEY_LEN, b64, len, NULL, &binlen,
	    &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    binlen != PEERS_KEY_LEN || end != b64 + len)
		return -1;
	return 0;
}

/* "psi-stream-x25519 BASE64 [comment]" (s may start with blanks). */
static int
parse_pub(char *s, uint8_t pub[PEERS_KEY_LEN])
{
	size_t tl = strlen(PUB_TYPE), n;

	s = skip_space(s);
	if (strncmp(s, PUB_TYPE, tl) != 0 || !is_space(s[tl]))
		return -1;
	s = skip_space(s + tl);
	for (n = 0; s[n] != '\0' && !is_space(s[n]); n++)
		;
	return decode_key(s, n, pub);
}

static FILE *
open_list(const char *path, int missing_ok)
{
	FILE *f = fopen(path, "re");

	if (f == NULL && !(missing_ok && errno == ENOENT))
		fatal_errno(EXIT_IO, "cannot open %s", path);
	return f;
}

/* Who a mode lets in, given its group and others bits: "its group",
 * "others" or "its group and others" (NULL: neither), for messages. */
static const char *
who_may(mode_t mode, mode_t grp, mode_t oth)
{
	if ((mode & grp) && (mode & oth))
		return "its group and others";
	if (mode & grp)
		return "its group";
	return mode & oth ? "others" : NULL;
}

/* A list of trusted keys others may write would let them add keys: refuse
 * it, as ssh's StrictModes does. */
static void
check_list_mode(FILE *f, const char *path)
{
	struct stat st;
	const char *who;

	if (fstat(fileno(f), &st) != 0)
		fatal_errno(EXIT_IO, "cannot stat %s", path);
	if ((who = who_may(st.st_mode, S_IWGRP, S_IWOTH)) != NULL)
		fatal(EXIT_USAGE, "%s is writable by %s, who could add keys to "
		    "it; chmod go-w %s", path, who, path);
}

/* ---- private keys ------------------------------------------------------ */

/* Refuse a secret file that is not ours alone. */
static void
check_private_mode(int fd, const char *path, const char *what)
{
	struct stat st;
	const char *who;

	if (fstat(fd, &st) != 0)
		fatal_errno(EXIT_IO, "cannot stat %s", path);
	if (!S_ISREG(st.st_mode))
		fatal(EXIT_USAGE, "%s: %s is not a regular file", path, what);
	if ((who = who_may(st.st_mode, S_IRGRP, S_IROTH)) != NULL)
		fatal(EXIT_USAGE, "%s: %s is readable by %s; chmod 600 %s",
		    path, what, who, path);
	if ((who = who_may(st.st_mode, S_IWGRP, S_IWOTH)) != NULL)
		fatal(EXIT_USAGE, "%s: %s is writable by %s; chmod 600 %s",
		    path, what, who, path);
}

/*
 * Read all of a small secret file into buf (cap bytes, sodium_malloc'd by
 * the caller) after checking its mode.  Returns the length; a file of cap
 * bytes or more is refused.
 */
size_t
peers_read_secret(const char *path, const char *what, char *buf, size_t cap)
{
	ssize_t len;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
		fatal_errno(EXIT_IO, "cannot open %s", path);
	check_private_mode(fd, path, what);
	if ((len = read_full(fd, buf, cap)) < 0) {
		sodium_memzero(buf, cap);
		fatal_errno(EXIT_IO, "cannot read %s", path);
	}
	close(fd);
	if ((size_t)len == cap) {
		sodium_memzero(buf, cap);
		fatal(EXIT_USAGE, "%s: too long for a %s", path, what);
	}
	return (size_t)len;
}

int
peers_is_private_key(const char *path)
{
	char head[sizeof(PRIV_TYPE)];	/* the type and its blank */
	ssize_t got;
	int fd;

	/* read(2) of just these bytes: the key itself never passes through
	 * a stdio buffer */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
		return 0;
	got = read_full(fd, head, sizeof(head));
	close(fd);
	return got == (ssize_t)sizeof(head) && memcmp(head, PRIV_TYPE " ",
	    sizeof(head)) == 0;
}

/* "psi-stream-x25519-private BASE64\n" into priv. */
static void
read_private(const char *path, uint8_t priv[PEERS_KEY_LEN])
{
	enum { CAP = 128 };
	char *buf = xsodium_malloc(CAP);
	size_t len, tl = strlen(PRIV_TYPE);
	int bad;

	len = peers_read_secret(path, "private key", buf, CAP);
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	bad = len != tl + 1 + B64_LEN || memcmp(buf, PRIV_TYPE, tl) != 0 ||
	    buf[tl] != ' ' || decode_key(buf + tl + 1, B64_LEN, priv) != 0;
	sodium_memzero(buf, CAP);
	sodium_free(buf);
	if (bad) {
		sodium_memzero(priv, PEERS_KEY_LEN);
		fatal(EXIT_USAGE, "%s: not a psi-stream private key (expected "
		    "one line \"%s BASE64\")", path, PRIV_TYPE);
	}
}

/* A comment for a .pub line: one line of printable text. */
static void
check_comment(const char *comment)
{
	const unsigned char *c;

	if (strlen(comment) > PEERS_LINE_MAX - 128)
		fatal(EXIT_USAGE, "keygen: comment too long");
	for (c = (const unsigned char *)comment; *c != '\0'; c++)
		if (*c < 0x20 || *c == 0x7f)
			fatal(EXIT_USAGE, "keygen: the comment must be one line "
			    "of printable characters");
}

/*
 * Make a key pair at path and path.pub.  Returns 0, or 1 if path already
 * exists (nothing written).  An existing path.pub alone is an error.
 */
static int
keygen(const char *path, const char *comment, uint8_t pub_out[PEERS_KEY_LEN])
{
	enum { PRIV_CAP = 128 };
	uint8_t *priv;
	char *text, *pubpath, *pubtext, b64[B64_LEN + 1];
	size_t tl = strlen(PRIV_TYPE);
	struct stat st;
	int rc;

	init_sodium();
	if (comment != NULL)
		check_comment(comment);
	if (lstat(path, &st) == 0)
		return 1;
	pubpath = xasprintf("%s.pub", path);
	if (lstat(pubpath, &st) == 0)
		fatal(EXIT_USAGE, "%s already exists; not overwriting it",
		    pubpath);

	priv = xsodium_malloc(PEERS_KEY_LEN);
	text = xsodium_malloc(PRIV_CAP);
	randombytes_buf(priv, PEERS_KEY_LEN);
	crypto_scalarmult_base(pub_out, priv);
	memcpy(text, PRIV_TYPE " ", tl + 1);
	sodium_bin2base64(text + tl + 1, PRIV_CAP - tl - 1, priv,
	    PEERS_KEY_LEN, sodium_base64_VARIANT_ORIGINAL);
	text[tl + 1 + B64_LEN] = '\n';
	rc = create_new_file(path, text, tl + 2 + B64_LEN, 0600);
	sodium_memzero(text, PRIV_CAP);
	sodium_free(text);
	sodium_free(priv);
	if (rc != 0) {
		free(pubpath);
		return 1;
	}

	sodium_bin2base64(b64, sizeof(b64), pub_out, PEERS_KEY_LEN,
	    sodium_base64_VARIANT_ORIGINAL);
	pubtext = xasprintf("%s %s%s%s\n", PUB_TYPE, b64,
	    comment && *comment ? " " : "", comment ? comment : "");
	if (create_new_file(pubpath, pubtext, strlen(pubtext), 0644) != 0) {
		/* someone made path.pub meanwhile: take back our half */
		unlink(path);
		fatal(EXIT_USAGE, "%s already exists; not overwriting it",
		    pubpath);
	}
	free(pubtext);
	free(pubpath);
	return 0;
}

void
peers_write_secret(const char *path, const void *data, size_t len)
{
	if (create_new_file(path, data, len, 0600) != 0)
		fatal(EXIT_USAGE, "%s already exists; not overwriting it "
		    "(remove it first to make a new key)", path);
}

int
peers_keygen(const char *path, const char *comment)
{
	uint8_t pub[PEERS_KEY_LEN];
	char fp[PEERS_FP_LEN], *def = NULL, *dir;

	if (path == NULL) {	/* the default identity */
		path = def = peers_default_path("id_x25519");
		dir = dir_of(def);
		make_dirs(dir);
		free(dir);
	}
	if (keygen(path, comment, pub) != 0)
		fatal(EXIT_USAGE, "%s already exists; not overwriting it "
		    "(remove it first to make a new key)", path);
	peers_fingerprint(fp, pub);
	vlog(1, "wrote %s and %s.pub (fingerprint %s)", path, path, fp);
	free(def);
	return EXIT_OK;
}

/* A .pub file given for a private key: say so before the mode check
 * calls it readable by its group and others.  Reads only the type word. */
static void
refuse_public(const char *path)
{
	char head[sizeof(PUB_TYPE)];
	size_t n = strlen(PUB_TYPE), len = strlen(path);
	ssize_t got;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
		return;		/* read_private() names the error */
	got = read_full(fd, head, n + 1);
	close(fd);
	if (got != (ssize_t)n + 1 || memcmp(head, PUB_TYPE, n) != 0 ||
	    !is_space(head[n]))
		return;
	if (len > 4 && strcmp(path + len - 4, ".pub") == 0)
		fatal(EXIT_USAGE, "%s is a public key (the line to give the "
		    "peer), not a psi-stream private key; the identity is "
		    "the file without .pub, %.*s", path, (int)(len - 4), path);
	fatal(EXIT_USAGE, "%s is a public key (the line to give the peer), "
	    "not a psi-stream private key", path);
}

struct identity *
identity_load(const char *path)
{
	struct identity *id;
	uint8_t pub[PEERS_KEY_LEN];
	char fp[PEERS_FP_LEN], *dir;
	struct stat st;

	init_sodium();
	id = xcalloc(1, sizeof(*id));
	id->path = path != NULL ? xstrdup(path) :
	    peers_default_path("id_x25519");
	if (path == NULL && lstat(id->path, &st) != 0 && errno == ENOENT) {
		dir = dir_of(id->path);
		make_dirs(dir);
		free(dir);
		/* 1: another process created it first; load that one */
		if (keygen(id->path, NULL, pub) == 0) {
			peers_fingerprint(fp, pub);
			warnx_("created identity %s (fingerprint %s)",
			    id->path, fp);
		}
	}
	refuse_public(id->path);
	id->priv = xsodium_malloc(PEERS_KEY_LEN);
	read_private(id->path, id->priv);
	crypto_scalarmult_base(id->pub, id->priv);
	return id;
}

void
identity_free(struct identity *id)
{
	if (id == NULL)
		return;
	sodium_memzero(id->priv, PEERS_KEY_LEN);
	sodium_free(id->priv);
	free(id->path);
	free(id);
}

void
peers_fingerprint(char out[PEERS_FP_LEN], const uint8_t pub[PEERS_KEY_LEN])
{
	uint8_t h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, pub, PEERS_KEY_LEN);
	memcpy(out, "SHA256:", 7);
	sodium_bin2base64(out + 7, PEERS_FP_LEN - 7, h, sizeof(h),
	    sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
}

/* ---- public keys and the lists ----------------------------------------- */

/* The one key in a .pub file. */
static void
read_pub_file(const char *path, uint8_t pub[PEERS_KEY_LEN])
{
	struct lines *l = xcalloc(1, sizeof(*l));
	int found = 0;

	l->path = path;
	l->f = open_list(path, 0);
	while (next_line(l)) {
		if (ignorable(l->buf))
			continue;
		if (found)
			fatal(EXIT_USAGE, "%s:%lu: more than one key in a public "
			    "key file", path, l->lineno);
		if (parse_pub(l->buf, pub) != 0)
			fatal(EXIT_USAGE, "%s:%lu: not a public key (expected "
			    "\"%s BASE64 [comment]\")", path, l->lineno,
			    PUB_TYPE);
		found = 1;
	}
	if (!found)
		fatal(EXIT_USAGE, "%s: no public key in the file", path);
	fclose(l->f);
	free(l);
}

int
peer_key_parse(const char *arg, uint8_t pub[PEERS_KEY_LEN])
{
	char buf[PEERS_LINE_MAX + 1];
	struct stat st;
	size_t len;

	if (stat(arg, &st) == 0) {
		if (!S_ISREG(st.st_mode))
			fatal(EXIT_USAGE, "%s: not a regular file", arg);
		read_pub_file(arg, pub);
		return 0;
	}
	len = strlen(arg);
	if (len > PEERS_LINE_MAX)
		return -1;
	memcpy(buf, arg, len + 1);
	if (strncmp(buf, PUB_TYPE, strlen(PUB_TYPE)) == 0)
		return parse_pub(buf, pub);
	return decode_key(buf, len, pub);
}

int
peers_load_authorized(const char *path, uint8_t (**keys)[PEERS_KEY_LEN])
{
	struct lines *l = xcalloc(1, sizeof(*l));
	char *p = path != NULL ? xstrdup(path) :
	    peers_default_path("authorized_peers");
	int n = 0;

	*keys = NULL;
	l->path = p;
	if ((l->f = open_list(p, path == NULL)) != NULL) {
		check_list_mode(l->f, p);
		/* read to the end: a bad line is an error for every peer */
		while (next_line(l)) {
			if (ignorable(l->buf))
				continue;
			*keys = xreallocarray(*keys, (size_t)n + 1,
			    PEERS_KEY_LEN);
			if (parse_pub(l->buf, (*keys)[n]) != 0)
				fatal(EXIT_USAGE, "%s:%lu: not a public key "
				    "(expected \"%s BASE64 [comment]\")", p,
				    l->lineno, PUB_TYPE);
			n++;
		}
		fclose(l->f);
	}
	free(l);
	free(p);
	return n;
}

int
peers_authorized(const char *path, const uint8_t pub[PEERS_KEY_LEN])
{
	uint8_t (*keys)[PEERS_KEY_LEN];
	int n = peers_load_authorized(path, &keys), listed = 0;

	for (int i = 0; i < n; i++)
		if (sodium_memcmp(keys[i], pub, PEERS_KEY_LEN) == 0)
			listed = 1;
	free(keys);
	return listed;
}

enum scan { SCAN_NONE, SCAN_MATCH, SCAN_MISMATCH };

/*
 * Look hostport up in an open known_peers file.  Any line with this key
 * is a match; otherwise a line with another key is a mismatch, and
 * *line/recorded say which.
 */
static enum scan
scan_known(FILE *f, const char *path, const char *hostport,
    const uint8_t pub[PEERS_KEY_LEN], unsigned long *line,
    uint8_t recorded[PEERS_KEY_LEN])
{
	struct lines *l = xcalloc(1, sizeof(*l));
	uint8_t k[PEERS_KEY_LEN];
	enum scan res = SCAN_NONE;
	char *s, *host;

	l->path = path;
	l->f = f;
	while (next_line(l)) {
		if (ignorable(l->buf))
			continue;
		host = skip_space(l->buf);
		for (s = host; *s != '\0' && !is_space(*s); s++)
			;
		if (*s == '\0' || parse_pub(s, k) != 0)
			fatal(EXIT_USAGE, "%s:%lu: not a known peer (expected "
			    "\"HOST:PORT %s BASE64\")", path, l->lineno,
			    PUB_TYPE);
		*s = '\0';
		if (strcasecmp(host, hostport) != 0)
			continue;
		if (sodium_memcmp(k, pub, PEERS_KEY_LEN) == 0)
			res = SCAN_MATCH;
		else if (res == SCAN_NONE) {
			res = SCAN_MISMATCH;
			*line = l->lineno;
			memcpy(recorded, k, PEERS_KEY_LEN);
		}
	}
	free(l);
	return res;
}

static void
check_hostport(const char *hostport)
{
	const unsigned char *c;

	if (*hostport == '\0' || *hostport == '#' ||
	    strlen(hostport) > HOST_MAX)
		fatal(EXIT_USAGE, "invalid peer address \"%s\"", hostport);
	for (c = (const unsigned char *)hostport; *c != '\0'; c++)
		if (*c <= 0x20 || *c == 0x7f)
			fatal(EXIT_USAGE, "invalid peer address \"%s\"",
			    hostport);
}

/* Copy all of fd to out. */
static void
copy_fd(int in, int out, const char *from, const char *to)
{
	char buf[8192];
	ssize_t n;

	while ((n = read_full(in, buf, sizeof(buf))) > 0)
		if (write_all(out, buf, (size_t)n) != 0)
			fatal_errno(EXIT_IO, "cannot write %s", to);
	if (n < 0)
		fatal_errno(EXIT_IO, "cannot read %s", from);
}

/*
 * Append "hostport KEY" to path: the old file and the new line go to a
 * new file that replaces it (atomicfile.c: its mode and owner are kept).
 * Runs with the directory locked; returns what a scan under the lock
 * found (another process may have recorded the host meanwhile) or
 * SCAN_NONE after appending.
 */
static enum scan
append_known(const char *path, const char *hostport,
    const uint8_t pub[PEERS_KEY_LEN], unsigned long *line,
    uint8_t recorded[PEERS_KEY_LEN])
{
	char *dir = dir_of(path), b64[B64_LEN + 1], last = '\n';
	struct atomicfile af;
	int dfd, old;
	struct stat st;
	enum scan res = SCAN_NONE;
	FILE *f;

	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		fatal_errno(EXIT_IO, "cannot open directory %s", dir);
	if (flock(dfd, LOCK_EX) != 0)
		fatal_errno(EXIT_IO, "cannot lock directory %s", dir);

	old = open(path, O_RDONLY | O_CLOEXEC);
	if (old < 0 && errno != ENOENT)
		fatal_errno(EXIT_IO, "cannot open %s", path);
	if (old >= 0) {
		if (fstat(old, &st) != 0)
			fatal_errno(EXIT_IO, "cannot stat %s", path);
		if ((f = fdopen(dup(old), "r")) == NULL)
			fatal_errno(EXIT_IO, "cannot read %s", path);
		check_list_mode(f, path);
		res = scan_known(f, path, hostport, pub, line, recorded);
		fclose(f);
	}
	if (res != SCAN_NONE)
		goto out;

	if (af_open(&af, path, 0644, AF_UNNAMED) < 0)
		fatal_errno(EXIT_IO, "cannot create a temporary file for %s",
		    path);
	if (old >= 0) {
		if (lseek(old, 0, SEEK_SET) != 0)
			fatal_errno(EXIT_IO, "cannot read %s", path);
		copy_fd(old, af.fd, path, path);
		if (st.st_size > 0 && pread_full(old, &last, 1,
		    (uint64_t)st.st_size - 1) != 1)
			fatal_errno(EXIT_IO, "cannot read %s", path);
		if (last != '\n' && write_all(af.fd, "\n", 1) != 0)
			fatal_errno(EXIT_IO, "cannot write %s", path);
	}
	sodium_bin2base64(b64, sizeof(b64), pub, PEERS_KEY_LEN,
	    sodium_base64_VARIANT_ORIGINAL);
	if (write_all(af.fd, hostport, strlen(hostport)) != 0 ||
	    write_all(af.fd, " " PUB_TYPE " ", strlen(PUB_TYPE) + 2) != 0 ||
	    write_all(af.fd, b64, B64_LEN) != 0 ||
	    write_all(af.fd, "\n", 1) != 0) {
		int e = errno;
		close(af.fd);
		af_abort(&af);
		errno = e;
		fatal_errno(EXIT_IO, "cannot write %s", path);
	}
	if (af_commit(&af) != 0)
		fatal_errno(EXIT_IO, "cannot update %s", path);
out:
	if (old >= 0)
		close(old);
	close(dfd);		/* releases the lock */
	free(dir);
	return res;
}

enum known_result
known_peer_check(const char *path, const char *hostport,
    const uint8_t pub[PEERS_KEY_LEN], int strict)
{
	char *p, *real, *dir, fp[PEERS_FP_LEN], rfp[PEERS_FP_LEN];
	uint8_t recorded[PEERS_KEY_LEN];
	unsigned long line = 0;
	enum scan res = SCAN_NONE;
	FILE *f;

	check_hostport(hostport);
	p = path != NULL ? xstrdup(path) : peers_default_path("known_peers");
	/* update the file a symlink points to, not the link */
	if ((real = realpath(p, NULL)) != NULL) {
		free(p);
		p = real;
	}
	if ((f = open_list(p, 1)) != NULL) {
		check_list_mode(f, p);
		res = scan_known(f, p, hostport, pub, &line, recorded);
		fclose(f);
	}
	if (res == SCAN_NONE && !strict) {
		if (path == NULL) {
			dir = dir_of(p);
			make_dirs(dir);
			free(dir);
		}
		res = append_known(p, hostport, pub, &line, recorded);
		if (res == SCAN_NONE) {
			peers_fingerprint(fp, pub);
			warnx_("permanently added %s (%s) to %s", hostport, fp, p);
			free(p);
			return KNOWN_NEW;
		}
	}
	if (res == SCAN_MISMATCH) {
		/* always shown, whatever the verbosity: it may be an attack */
		peers_fingerprint(fp, pub);
		peers_fingerprint(rfp, recorded);
		vlog(0, "WARNING: the key of %s has changed!", hostport);
		vlog(0, "someone may be intercepting the connection, or the "
		    "peer made a new key.");
		vlog(0, "offered:  %s", fp);
		vlog(0, "recorded: %s (%s:%lu)", rfp, p, line);
		vlog(0, "if the change is expected, remove line %lu of %s.",
		    line, p);
	}
	free(p);
	if (res == SCAN_MATCH)
		return KNOWN_MATCH;
	return res == SCAN_MISMATCH ? KNOWN_MISMATCH : KNOWN_NEW_STRICT;
}

int
psk_load(const char *path, uint8_t psk[PEERS_KEY_LEN])
{
	enum { CAP = 80 };
	char *buf = xsodium_malloc(CAP);
	size_t len;
	int bad;

	len = peers_read_secret(path, "PSK file", buf, CAP);
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	bad = hex_decode(psk, PEERS_KEY_LEN, buf, len) != 0;
	sodium_memzero(buf, CAP);
	sodium_free(buf);
	if (bad) {
		sodium_memzero(psk, PEERS_KEY_LEN);
		fatal(EXIT_USAGE, "%s: a PSK file holds 64 hex digits (32 "
		    "bytes), e.g. from openssl rand -hex 32", path);
	}
	return 0;
}
