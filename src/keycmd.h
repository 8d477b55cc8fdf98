/*
 * keycmd.h: the `keygen` and `fingerprint` subcommands, on top of the key
 * files of peers.c (and, for keygen --oprf, oprf.c's scalars).  Both are
 * called by main.c once the command line has been checked; errors are
 * fatal with peers.c's statuses (1 bad content or mode, or a key file in
 * the way; 2 a file that cannot be read or written).
 */
#ifndef PSI_KEYCMD_H
#define PSI_KEYCMD_H

/* Write a new key pair to file and file.pub (NULL: the default identity);
 * comment may be NULL.  Returns the exit status. */
int	cmd_keygen(const char *file, const char *comment);
/* Write a new OPRF key for prf --oprf-key to file (mode 0600, never
 * overwriting).  Returns the exit status. */
int	cmd_keygen_oprf(const char *file);
/* Print "SHA256:... [comment]" for a private key file, a .pub file, an
 * inline public key, or (arg NULL) the default identity, like ssh-keygen
 * -l.  A private key's comment is taken from its .pub file when that holds
 * the same key.  Returns the exit status. */
int	cmd_fingerprint(const char *arg);

#endif
