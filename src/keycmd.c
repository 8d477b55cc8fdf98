/*
 * keycmd.c: `psi-stream keygen` (a key pair, or with --oprf a key for
 * `prf --oprf-key`) and `psi-stream fingerprint`.
 *
 * peers.c owns the key pair formats, reads the keys and writes secret
 * files; this file only decides which kind of key an argument names and
 * finds the comment of its .pub line, the free text after
 * "psi-stream-x25519 BASE64", which fingerprint prints after the
 * fingerprint as ssh-keygen -l does.  The comment comes from a file
 * someone else may have written: control characters are shown as '?'.
 *
 * An OPRF key file is one line of 64 lowercase hex digits, the
 * little-endian encoding of a random canonical non-zero ristretto255
 * scalar (oprf.c draws it), exactly what oprf_parse_key_hex() accepts;
 * the scalar and its text live in sodium_malloc memory and are wiped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "keycmd.h"
#include "oprf.h"
#include "peers.h"
#include "util.h"

int
cmd_keygen(const char *file, const char *comment)
{
	return peers_keygen(file, comment);
}

int
cmd_keygen_oprf(const char *file)
{
	enum { TEXT = 2 * OPRF_SCALAR + 2 };	/* hex, '\n', NUL */
	uint8_t *sk = xsodium_malloc(OPRF_SCALAR);
	char *text = xsodium_malloc(TEXT);

	oprf_random_scalar(sk);
	hex_encode(text, sk, OPRF_SCALAR);
	text[2 * OPRF_SCALAR] = '\n';
	text[2 * OPRF_SCALAR + 1] = '\0';
	sodium_memzero(sk, OPRF_SCALAR);
	sodium_free(sk);
	peers_write_secret(file, text, 2 * OPRF_SCALAR + 1);
	sodium_memzero(text, TEXT);
	sodium_free(text);
	vlog(1, "wrote %s (an OPRF key for prf --oprf-key)", file);
	return EXIT_OK;
}

/* The first line of path, or "" if it cannot be read. */
static void
first_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");

	buf[0] = '\0';
	if (f == NULL)
		return;
	if (fgets(buf, (int)len, f) == NULL)
		buf[0] = '\0';
	fclose(f);
}

/* The comment of a .pub line ("TYPE BASE64 comment"), printable, in out
 * ("" when there is none). */
static void
pub_comment(const char *line, char *out, size_t len)
{
	const char *s = line;
	size_t n = 0;

	for (int field = 0; field < 2; field++) {
		s += strspn(s, " \t");
		s += strcspn(s, " \t\r\n");
	}
	s += strspn(s, " \t");
	while (s[n] != '\0' && s[n] != '\n' && n + 1 < len) {
		unsigned char c = (unsigned char)s[n];
		out[n] = c >= 0x20 && c < 0x7f ? (char)c : '?';
		n++;
	}
	while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '?'))
		n--;		/* a CR before the newline, trailing blanks */
	out[n] = '\0';
}


int
cmd_fingerprint(const char *arg)
{
	uint8_t pub[PEERS_KEY_LEN], same[PEERS_KEY_LEN];
	char fp[PEERS_FP_LEN], line[PEERS_LINE_MAX + 2], comment[256] = "";
	struct identity *id;
	char *pubpath;

	if (arg != NULL && !peers_is_private_key(arg)) {
		if (peer_key_parse(arg, pub) < 0)
			fatal(EXIT_USAGE, "%s: not a key file or a public key",
			    arg);
		first_line(arg, line, sizeof(line));
		if (line[0] == '\0')	/* not a file: the inline key */
			snprintf(line, sizeof(line), "%s", arg);
		pub_comment(line, comment, sizeof(comment));
	} else {
		id = identity_load(arg);
		memcpy(pub, id->pub, sizeof(pub));
		pubpath = xasprintf("%s.pub", id->path);
		first_line(pubpath, line, sizeof(line));
		if (peer_key_parse(line, same) == 0 &&
		    sodium_memcmp(same, pub, sizeof(pub)) == 0)
			pub_comment(line, comment, sizeof(comment));
		free(pubpath);
		identity_free(id);
	}
	peers_fingerprint(fp, pub);
	printf("%s%s%s\n", fp, comment[0] ? " " : "", comment);
	return EXIT_OK;
}
