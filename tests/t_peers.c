/*
 * t_peers.c: key files, identities, fingerprints, authorized_peers,
 * known_peers and PSK files, in a temporary directory that is removed at
 * the end (XDG_CONFIG_HOME points into it for the default files).  Every
 * refusal runs in a forked child, because refusing calls fatal() and so
 * _exit(); the test checks the child's exit status and that its one-line
 * message names the file (and line).
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "peers.h"
#include "tap.h"
#include "util.h"

static char tmpdir[256];
static char errbuf[8192];	/* the last child's stderr */

static char *paths[256];
static size_t npaths;

/* tmpdir/name; freed at the end by free_paths(). */
static char *
tpath(const char *name)
{
	size_t n = strlen(tmpdir) + strlen(name) + 2;
	char *p = xmalloc(n);

	if (npaths == sizeof(paths) / sizeof(paths[0])) {
		puts("Bail out! too many paths");
		exit(1);
	}
	snprintf(p, n, "%s/%s", tmpdir, name);
	return paths[npaths++] = p;
}

static void
free_paths(void)
{
	while (npaths > 0)
		free(paths[--npaths]);
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f;

	unlink(path);
	f = fopen(path, "w");
	if (f == NULL || fputs(text, f) == EOF || fclose(f) != 0) {
		printf("Bail out! cannot write %s\n", path);
		exit(1);
	}
	chmod(path, mode);
}

/* The whole file, or "" if missing; static buffer. */
static const char *
read_file(const char *path)
{
	static char buf[16384];
	FILE *f = fopen(path, "r");
	size_t n = 0;

	buf[0] = '\0';
	if (f != NULL) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return buf;
}

static mode_t
mode_of(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 ? st.st_mode & 07777 : (mode_t)-1;
}

/*
 * Run fn(arg) in a child with stderr captured in errbuf.  Returns the exit
 * status (fn may _exit with a value of its own; returning means 0), or -1
 * if the child died otherwise.
 */
static int
in_child(void (*fn)(const void *), const void *arg)
{
	const char *errpath = tpath("stderr");
	int st, fd;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == 0) {
		fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fd, 2);
		close(fd);
		fn(arg);
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	snprintf(errbuf, sizeof(errbuf), "%s", read_file(errpath));
	unlink(errpath);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* fn(arg) must end the process with status and a message holding want. */
static void
refused(void (*fn)(const void *), const void *arg, int status,
    const char *want, const char *name)
{
	int got = in_child(fn, arg);

	if (!ok(got == status && strstr(errbuf, want) != NULL &&
	    strchr(errbuf, '\n') == errbuf + strlen(errbuf) - 1,
	    "%s: exit %d, one line saying \"%s\"", name, status, want))
		diag("exit %d, stderr: %s", got, errbuf);
}

/* ---- child bodies ------------------------------------------------------ */

struct kg { const char *path, *comment; };

static void
do_keygen(const void *a)
{
	const struct kg *k = a;

	peers_keygen(k->path, k->comment);
}

static void
do_load(const void *path)
{
	identity_free(identity_load(path));
}

static void
do_parse(const void *arg)
{
	uint8_t pub[32];

	_exit(peer_key_parse(arg, pub) == 0 ? 0 : 99);
}

static void
do_authorized(const void *path)
{
	uint8_t pub[32] = { 0 };

	_exit(peers_authorized(path, pub) ? 10 : 11);
}

struct kp { const char *path, *host; const uint8_t *pub; int strict; };

static void
do_known(const void *a)
{
	const struct kp *k = a;

	_exit(20 + (int)known_peer_check(k->path, k->host, k->pub, k->strict));
}

static void
do_psk(const void *path)
{
	uint8_t *psk = sodium_malloc(32);

	psk_load(path, psk);
	sodium_free(psk);
}

/* ---- tests ------------------------------------------------------------- */

static int
is_b64(const char *s, size_t n, int padded)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '+' || c == '/' ||
		    (padded && c == '=' && i == n - 1)))
			return 0;
	}
	return 1;
}

static void
test_keygen(void)
{
	const char *id = tpath("id"), *pub = tpath("id.pub"), *t;
	char before[512];
	struct kg k = { id, "alice@example" };
	struct kg k2 = { tpath("other"), "two\nlines" };
	struct kg k3 = { tpath("lonely"), NULL };

	ok(peers_keygen(id, "alice@example") == 0, "keygen writes a key pair");
	ok(mode_of(id) == 0600, "private key file has mode 0600 (%o)",
	    (unsigned)mode_of(id));
	ok((mode_of(pub) & 022) == 0, "public key file not writable by others");
	t = read_file(id);
	ok(strlen(t) == 26 + 44 + 1 &&
	    strncmp(t, "psi-stream-x25519-private ", 26) == 0 &&
	    is_b64(t + 26, 44, 1) && t[70] == '\n',
	    "private key file is one line \"psi-stream-x25519-private "
	    "BASE64\"");
	t = read_file(pub);
	ok(strncmp(t, "psi-stream-x25519 ", 18) == 0 && is_b64(t + 18, 44, 1) &&
	    strcmp(t + 62, " alice@example\n") == 0,
	    "public key file is \"psi-stream-x25519 BASE64 comment\\n\"");

	snprintf(before, sizeof(before), "%s", read_file(id));
	refused(do_keygen, &k, EXIT_USAGE, "already exists",
	    "second keygen to the same path");
	ok(strcmp(before, read_file(id)) == 0,
	    "the refused keygen left the key alone");
	refused(do_keygen, &k2, EXIT_USAGE, "one line",
	    "keygen with a two-line comment");
	ok(mode_of(tpath("other")) == (mode_t)-1,
	    "nothing written for a bad comment");
	write_file(tpath("lonely.pub"), "x\n", 0644);
	refused(do_keygen, &k3, EXIT_USAGE, "lonely.pub already exists",
	    "keygen when only FILE.pub exists");
	ok(mode_of(tpath("lonely")) == (mode_t)-1,
	    "no private key left behind");
	ok(peers_keygen(tpath("bare"), NULL) == 0 &&
	    strlen(read_file(tpath("bare.pub"))) == 18 + 44 + 1,
	    "keygen without a comment: no trailing blank");
}

static void
test_load(void)
{
	const char *id = tpath("id");
	struct identity *ident;
	uint8_t pub[32], derived[32];

	ident = identity_load(id);
	ok(peer_key_parse(tpath("id.pub"), pub) == 0 &&
	    memcmp(pub, ident->pub, 32) == 0,
	    "loaded identity's public key is the one in FILE.pub");
	crypto_scalarmult_base(derived, ident->priv);
	ok(memcmp(derived, ident->pub, 32) == 0 &&
	    strcmp(ident->path, id) == 0, "private and public key agree");
	identity_free(ident);
	identity_free(NULL);

	/* Each message names who the mode lets in, and only them. */
	chmod(id, 0640);
	refused(do_load, id, EXIT_USAGE, "private key is readable by its "
	    "group; chmod 600 ", "group-readable private key");
	chmod(id, 0604);
	refused(do_load, id, EXIT_USAGE, "private key is readable by others;",
	    "other-readable (not group-readable) private key");
	chmod(id, 0644);
	refused(do_load, id, EXIT_USAGE, "private key is readable by its "
	    "group and others;", "group- and other-readable private key");
	chmod(id, 0620);
	refused(do_load, id, EXIT_USAGE, "private key is writable by its "
	    "group;", "group-writable private key");
	chmod(id, 0602);
	refused(do_load, id, EXIT_USAGE, "private key is writable by others;",
	    "other-writable private key");
	chmod(id, 0600);

	write_file(tpath("badpriv"), "psi-stream-x25519-private AAAA\n", 0600);
	refused(do_load, tpath("badpriv"), EXIT_USAGE, "badpriv: not a "
	    "psi-stream private key", "malformed private key");
	write_file(tpath("badpriv"), read_file(tpath("id.pub")), 0600);
	refused(do_load, tpath("badpriv"), EXIT_USAGE, "not a psi-stream "
	    "private key", "a public key file given as private key");
	refused(do_load, tpath("nonesuch"), EXIT_IO, "cannot open",
	    "missing private key file");
}

static void
test_default_identity(void)
{
	struct identity *a, *b;
	char want[600];

	ok(in_child(do_load, NULL) == 0 &&
	    strstr(errbuf, "psi-stream: created identity ") == errbuf &&
	    strstr(errbuf, "/cfg/psi-stream/id_x25519 (fingerprint SHA256:") !=
	    NULL, "first use creates the default identity, with a notice");
	ok(mode_of(tpath("cfg/psi-stream")) == 0700 &&
	    mode_of(tpath("cfg/psi-stream/id_x25519")) == 0600,
	    "its directory is 0700, its key 0600");
	ok(in_child(do_load, NULL) == 0 && errbuf[0] == '\0',
	    "second use: no notice");
	a = identity_load(NULL);
	b = identity_load(tpath("cfg/psi-stream/id_x25519"));
	snprintf(want, sizeof(want), "%s", tpath("cfg/psi-stream/id_x25519"));
	ok(memcmp(a->pub, b->pub, 32) == 0 && strcmp(a->path, want) == 0,
	    "the default identity is stable");
	identity_free(a);
	identity_free(b);
}

static void
test_fingerprint(void)
{
	uint8_t k[32];
	char fp[PEERS_FP_LEN];
	int i;

	memset(k, 0, sizeof(k));
	peers_fingerprint(fp, k);
	ok(strcmp(fp, "SHA256:Zmh6rfhivXdsj8GLjp+OIAiXFIVu4jOzkCpZHQ1fKSU") ==
	    0, "fingerprint of the zero key (openssl dgst | base64)");
	for (i = 0; i < 32; i++)
		k[i] = (uint8_t)i;
	peers_fingerprint(fp, k);
	ok(strcmp(fp, "SHA256:Yw3NKWbEM2aRElRIu7JbT/QSpJxzLbLIq8G4WBvXEN0") ==
	    0 && strlen(fp) == PEERS_FP_LEN - 1 && is_b64(fp + 7, 43, 0),
	    "fingerprint: SHA256: and 43 unpadded base64 digits");
}

static void
test_parse(void)
{
	uint8_t a[32], b[32];
	char line[400], b64[45], pubtext[200];	/* line holds two pubtexts */

	snprintf(pubtext, sizeof(pubtext), "%s", read_file(tpath("id.pub")));

	memcpy(b64, pubtext + 18, 44);
	b64[44] = '\0';
	ok(peer_key_parse(tpath("id.pub"), a) == 0, "parse a .pub file");
	snprintf(line, sizeof(line), "psi-stream-x25519 %s", b64);
	ok(peer_key_parse(line, b) == 0 && memcmp(a, b, 32) == 0,
	    "parse an inline \"psi-stream-x25519 BASE64\"");
	memset(b, 0, 32);
	ok(peer_key_parse(b64, b) == 0 && memcmp(a, b, 32) == 0,
	    "parse a bare BASE64 key");
	ok(peer_key_parse("hello", b) == -1, "garbage is not a key");
	ok(peer_key_parse("", b) == -1, "the empty string is not a key");
	b64[43] = '\0';
	ok(peer_key_parse(b64, b) == -1, "43 base64 digits are not a key");
	snprintf(line, sizeof(line), "ssh-ed25519 %s=", b64);
	ok(peer_key_parse(line, b) == -1, "another key type is refused");
	/* 'B' leaves non-zero bits past the 32nd byte: not canonical */
	snprintf(line, sizeof(line), "%.42sB=", b64);
	ok(peer_key_parse(line, b) == -1, "non-canonical base64 is refused");

	write_file(tpath("bad.pub"), "# a comment\npsi-stream-x25519 Zm9v\n",
	    0644);
	refused(do_parse, tpath("bad.pub"), EXIT_USAGE, "bad.pub:2: not a "
	    "public key", "a malformed .pub file is named with its line");
	snprintf(line, sizeof(line), "%s%s", pubtext, pubtext);
	write_file(tpath("two.pub"), line, 0644);
	refused(do_parse, tpath("two.pub"), EXIT_USAGE, "two.pub:2: more "
	    "than one key", "a .pub file with two keys");
	write_file(tpath("empty.pub"), "\n# nothing\n", 0644);
	refused(do_parse, tpath("empty.pub"), EXIT_USAGE, "no public key",
	    "a .pub file without a key");
}

static void
test_authorized(void)
{
	const char *f = tpath("authorized");
	uint8_t a[32], other[32];
	char text[2000], *big;

	peer_key_parse(tpath("id.pub"), a);
	peer_key_parse(tpath("bare.pub"), other);
	snprintf(text, sizeof(text), "# partners\n\n   \n%s",
	    read_file(tpath("bare.pub")));
	snprintf(text + strlen(text), sizeof(text) - strlen(text), "  %s",
	    read_file(tpath("id.pub")));
	write_file(f, text, 0644);
	ok(peers_authorized(f, a) == 1, "a listed key (after blanks, "
	    "comments, leading blanks) is authorized");
	ok(peers_authorized(f, other) == 1, "the other listed key too");
	memset(other, 7, 32);
	ok(peers_authorized(f, other) == 0, "an unlisted key is not");
	/* a list others may write: the message names exactly who may */
	write_file(f, text, 0620);
	refused(do_authorized, f, EXIT_USAGE, "authorized is writable by its "
	    "group, who", "a group-writable list is refused");
	write_file(f, text, 0602);
	refused(do_authorized, f, EXIT_USAGE, "authorized is writable by "
	    "others, who", "an other-writable list is refused");
	write_file(f, text, 0666);
	refused(do_authorized, f, EXIT_USAGE, "authorized is writable by its "
	    "group and others, who", "a world-writable list is refused");
	write_file(f, text, 0644);

	strcat(text, "psi-stream-x25519 not-base64\n");
	write_file(f, text, 0644);
	refused(do_authorized, f, EXIT_USAGE, "authorized:6: not a public key",
	    "a malformed line is named with its line");
	big = xmalloc(PEERS_LINE_MAX + 100);
	memset(big, '#', PEERS_LINE_MAX + 98);
	big[PEERS_LINE_MAX + 98] = '\n';
	big[PEERS_LINE_MAX + 99] = '\0';
	write_file(f, big, 0644);
	refused(do_authorized, f, EXIT_USAGE, "authorized:1: line longer",
	    "an over-long line is refused");
	big[PEERS_LINE_MAX] = '\n';
	big[PEERS_LINE_MAX + 1] = '\0';
	write_file(f, big, 0644);
	ok(in_child(do_authorized, f) == 11,
	    "a line of exactly PEERS_LINE_MAX bytes is fine");
	free(big);
	{
		FILE *fp = fopen(f, "w");
		fwrite("# x\n\0psi\n", 1, 10, fp);
		fclose(fp);
	}
	refused(do_authorized, f, EXIT_USAGE, "authorized:2: NUL byte",
	    "a NUL byte is refused");
	ok(in_child(do_authorized, NULL) == 11,
	    "no default authorized_peers: nobody is listed");
	refused(do_authorized, tpath("nonesuch"), EXIT_IO, "cannot open",
	    "an explicit authorized_peers that is missing");
}

static void
test_known(void)
{
	const char *f = tpath("known");
	uint8_t a[32], b[32];
	struct kp k;
	char want[600], b64a[45], b64b[45];

	peer_key_parse(tpath("id.pub"), a);
	peer_key_parse(tpath("bare.pub"), b);
	sodium_bin2base64(b64a, sizeof(b64a), a, 32,
	    sodium_base64_VARIANT_ORIGINAL);
	sodium_bin2base64(b64b, sizeof(b64b), b, 32,
	    sodium_base64_VARIANT_ORIGINAL);

	k = (struct kp){ f, "b.example:7000", a, 0 };
	ok(in_child(do_known, &k) == 20 + KNOWN_NEW &&
	    strstr(errbuf, "psi-stream: permanently added b.example:7000 (SHA256:") ==
	    errbuf && strstr(errbuf, ") to ") != NULL,
	    "unknown host: KNOWN_NEW, with a notice");
	snprintf(want, sizeof(want), "b.example:7000 psi-stream-x25519 %s\n",
	    b64a);
	ok(strcmp(read_file(f), want) == 0, "the host's key was recorded");
	ok(known_peer_check(f, "b.example:7000", a, 0) == KNOWN_MATCH,
	    "same host, same key: KNOWN_MATCH");
	ok(known_peer_check(f, "B.Example:7000", a, 1) == KNOWN_MATCH,
	    "host names compare without case");
	k = (struct kp){ f, "b.example:7000", b, 0 };
	ok(in_child(do_known, &k) == 20 + KNOWN_MISMATCH &&
	    strstr(errbuf, "WARNING: the key of b.example:7000 has changed") !=
	    NULL && strstr(errbuf, "known:1)") != NULL,
	    "same host, other key: KNOWN_MISMATCH, with a warning naming "
	    "the line");
	ok(strcmp(read_file(f), want) == 0, "a mismatch records nothing");
	ok(known_peer_check(f, "b.example:7001", b, 1) == KNOWN_NEW_STRICT &&
	    strcmp(read_file(f), want) == 0,
	    "unknown host with strict: KNOWN_NEW_STRICT, not recorded");
	ok(known_peer_check(tpath("known-none"), "c:1", b, 1) ==
	    KNOWN_NEW_STRICT && mode_of(tpath("known-none")) == (mode_t)-1,
	    "strict with no file: no file created");

	/* a file without a final newline gets one before the new line */
	snprintf(want, sizeof(want), "# hosts\nb.example:7000 "
	    "psi-stream-x25519 %s", b64a);
	write_file(f, want, 0640);
	ok(known_peer_check(f, "[::1]:7000", b, 0) == KNOWN_NEW,
	    "second host recorded");
	snprintf(want, sizeof(want), "# hosts\nb.example:7000 "
	    "psi-stream-x25519 %s\n[::1]:7000 psi-stream-x25519 %s\n", b64a,
	    b64b);
	ok(strcmp(read_file(f), want) == 0 && mode_of(f) == 0640,
	    "appended after the old lines, mode kept");
	ok(known_peer_check(f, "[::1]:7000", b, 0) == KNOWN_MATCH &&
	    known_peer_check(f, "b.example:7000", a, 0) == KNOWN_MATCH,
	    "both hosts match afterwards");

	write_file(f, "b.example:7000\n", 0644);
	k = (struct kp){ f, "x:1", a, 0 };
	refused(do_known, &k, EXIT_USAGE, "known:1: not a known peer",
	    "a malformed known_peers line is named");
	k = (struct kp){ f, "two words", a, 0 };
	refused(do_known, &k, EXIT_USAGE, "invalid peer address",
	    "a host with a blank is refused");

	k = (struct kp){ NULL, "d.example:9", a, 0 };
	ok(in_child(do_known, &k) == 20 + KNOWN_NEW &&
	    strstr(read_file(tpath("cfg/psi-stream/known_peers")),
	    "d.example:9 psi-stream-x25519 ") != NULL,
	    "default known_peers is used and written");
}

static void
test_psk(void)
{
	const char *f = tpath("psk");
	uint8_t *psk = sodium_malloc(32), want[32];
	const char *hex =
	    "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";
	char text[100];

	hex_decode(want, 32, hex, 64);
	snprintf(text, sizeof(text), "%s\n", hex);
	write_file(f, text, 0600);
	ok(psk_load(f, psk) == 0 && memcmp(psk, want, 32) == 0,
	    "PSK file with a newline");
	write_file(f, hex, 0400);
	memset(psk, 0, 32);
	ok(psk_load(f, psk) == 0 && memcmp(psk, want, 32) == 0,
	    "PSK file without a newline");

	snprintf(text, sizeof(text), "%.62s\n", hex);
	write_file(f, text, 0600);
	refused(do_psk, f, EXIT_USAGE, "psk: a PSK file holds 64 hex digits",
	    "too short a PSK");
	snprintf(text, sizeof(text), "%s00\n", hex);
	write_file(f, text, 0600);
	refused(do_psk, f, EXIT_USAGE, "64 hex digits", "too long a PSK");
	snprintf(text, sizeof(text), "%.63sg\n", hex);
	write_file(f, text, 0600);
	refused(do_psk, f, EXIT_USAGE, "64 hex digits", "a non-hex PSK");
	write_file(f, "", 0600);
	refused(do_psk, f, EXIT_USAGE, "64 hex digits", "an empty PSK file");
	memset(text, 'a', 99);
	text[99] = '\0';
	write_file(f, text, 0600);
	refused(do_psk, f, EXIT_USAGE, "too long", "a long PSK file");
	snprintf(text, sizeof(text), "%s\n", hex);
	write_file(f, text, 0644);
	refused(do_psk, f, EXIT_USAGE, "PSK file is readable by its group "
	    "and others; chmod 600", "a world-readable PSK file");
	refused(do_psk, tpath("nonesuch"), EXIT_IO, "cannot open",
	    "a missing PSK file");
	sodium_free(psk);
}

static int ntemps;

static int
count_temp(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	if (strstr(path + ftw->base, ".tmp") != NULL) {
		diag("left behind: %s", path);
		ntemps++;
	}
	return 0;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

int
main(void)
{
	const char *t = getenv("TMPDIR");
	struct stat st;

	if (sodium_init() < 0) {
		puts("Bail out! sodium_init failed");
		return 1;
	}
	snprintf(tmpdir, sizeof(tmpdir), "%s/t_peers.XXXXXX",
	    t != NULL && *t != '\0' ? t : "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		puts("Bail out! mkdtemp failed");
		return 1;
	}
	setenv("XDG_CONFIG_HOME", tpath("cfg"), 1);

	test_keygen();
	test_load();
	test_default_identity();
	test_fingerprint();
	test_parse();
	test_authorized();
	test_known();
	test_psk();

	nftw(tmpdir, count_temp, 16, FTW_PHYS);
	ok(ntemps == 0, "no temporary files left behind");
	nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	ok(stat(tmpdir, &st) != 0 && errno == ENOENT,
	    "temporary directory removed");
	free_paths();
	return done_testing();
}
