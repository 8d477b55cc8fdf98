/*
 * peers.h: identities (X25519 key pairs in files), fingerprints, the
 * authorized_peers and known_peers lists, and pre-shared key files.
 *
 * File formats (one line each, '\n' ended):
 *   FILE.pub          psi-stream-x25519 BASE64 [comment]
 *   FILE (private)    psi-stream-x25519-private BASE64      mode 0600
 *   authorized_peers  .pub lines; '#' comments and blank lines allowed
 *   known_peers       HOST:PORT psi-stream-x25519 BASE64     (same extras)
 *   PSK file          64 hex digits (openssl rand -hex 32)  mode 0600
 * BASE64 is the standard alphabet with padding, 44 characters for 32 bytes.
 * Default files live in $XDG_CONFIG_HOME/psi-stream/ (else
 * ~/.config/psi-stream/).
 *
 * Errors: a file that cannot be read or written ends the program with
 * EXIT_IO; bad content, a private file others may read, an
 * authorized_peers or known_peers others may write, or an existing key
 * file in the way end it with EXIT_USAGE.  Messages name the file and line.
 */
#ifndef PSI_PEERS_H
#define PSI_PEERS_H

#include <stddef.h>
#include <stdint.h>

#define PEERS_KEY_LEN	32
#define PEERS_FP_LEN	51	/* "SHA256:" + 43 base64 digits + NUL */
#define PEERS_LINE_MAX	4096	/* longer lines in any key file: an error */

struct identity {
	uint8_t		*priv;		/* sodium_malloc, PEERS_KEY_LEN */
	uint8_t		pub[PEERS_KEY_LEN];
	char		*path;		/* the private key file */
};

enum known_result {
	KNOWN_MATCH,		/* the host's recorded key is this one */
	KNOWN_NEW,		/* host not listed: recorded now, with a notice */
	KNOWN_NEW_STRICT,	/* host not listed, strict: not recorded */
	KNOWN_MISMATCH		/* another key is recorded: warning printed */
};

/* Write a new key pair to path (0600) and path.pub; refuses to overwrite.
 * comment (may be NULL) goes at the end of the .pub line.  Returns 0. */
int	peers_keygen(const char *path, const char *comment);

/* Load the private key at path, or the default identity when path is NULL
 * (created, with a notice on stderr, if it does not exist yet). */
struct identity *identity_load(const char *path);
void	identity_free(struct identity *);

/* "SHA256:" + unpadded base64 of SHA-256(pub), as ssh prints them. */
void	peers_fingerprint(char out[PEERS_FP_LEN],
	    const uint8_t pub[PEERS_KEY_LEN]);

/* The public key in arg: a file holding a .pub line (bad content is
 * fatal, naming the file), or inline "psi-stream-x25519 BASE64" or bare
 * BASE64.  0, or -1 if arg is neither a file nor a valid inline key. */
int	peer_key_parse(const char *arg, uint8_t pub[PEERS_KEY_LEN]);

/* The keys listed in the authorized_peers file at path (NULL: the
 * default, which may be missing: then none), all of it parsed: a bad line
 * is fatal (exit 1) naming the file and line.  *keys is xmalloc'd (NULL
 * when there are none); returns their number. */
int	peers_load_authorized(const char *path,
	    uint8_t (**keys)[PEERS_KEY_LEN]);
/* 1 if pub is listed in the authorized_peers file at path (NULL: the
 * default, which may be missing: then 0), else 0. */
int	peers_authorized(const char *path, const uint8_t pub[PEERS_KEY_LEN]);

/* Check hostport's key against the known_peers file at path (NULL: the
 * default).  An unknown host is appended (atomically: a complete new file
 * renamed into place, under a lock on its directory) unless strict. */
enum known_result known_peer_check(const char *path, const char *hostport,
	    const uint8_t pub[PEERS_KEY_LEN], int strict);

/* Read all of a small secret file (at most cap - 1 bytes) into buf, the
 * caller's sodium_malloc memory, with read(2), never stdio, after checking
 * it is a regular file that group and others can neither read nor write
 * (else exit 1, saying which chmod fixes it).  what names it in messages
 * ("OPRF key file").  Returns its length; errors are fatal. */
size_t	peers_read_secret(const char *path, const char *what, char *buf,
	    size_t cap);
/* Write data (the caller's secret) to a new file at path, mode 0600 less
 * the umask, all or nothing (atomicfile.c), never replacing an existing
 * file: that is exit 1, naming it; a write error is exit 2. */
void	peers_write_secret(const char *path, const void *data, size_t len);
/* 1 if path starts like a private key file ("psi-stream-x25519-private "),
 * read with read(2) without passing the key through stdio; else 0. */
int	peers_is_private_key(const char *path);

/* Read a 32-byte PSK from path into psk (caller's sodium_malloc memory).
 * The file must not be readable or writable by group or others.
 * Returns 0; errors are fatal. */
int	psk_load(const char *path, uint8_t psk[PEERS_KEY_LEN]);

/* The default path of a file in the config directory, e.g.
 * "authorized_peers"; xmalloc'd. */
char	*peers_default_path(const char *name);

#endif
