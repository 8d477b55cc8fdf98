/*
 * main.c: the command line: options, usage and subcommand dispatch;
 * nothing else.
 *
 *   psi-stream [options] (--listen [ADDR:]PORT | --peer HOST:PORT) [FILE...]
 *   psi-stream check [record options] [FILE...]
 *   psi-stream prf --oprf-key FILE [record options] [FILE...]
 *   psi-stream keygen [-f FILE] [-C COMMENT]
 *   psi-stream keygen --oprf -f FILE
 *   psi-stream fingerprint [FILE]
 *
 * Two tables drive it.  commands[] lists the subcommands (the run is the
 * one without a name); options[] lists every option once, with the set of
 * commands that take it and its --help text, so an option given to a
 * command that cannot use it (`check --peer`) is refused, not ignored, and
 * `psi-stream CMD --help` shows exactly the options CMD takes.  To add an
 * option: an OPT_ id, one options[] line, one case in set_option().
 *
 * Call order: parse() reads argv into a struct cli (a bad option or value
 * exits 1 at once, with one "Try ..." line for a mistyped option), then
 * finish() checks what only the whole command line can say (exactly one of
 * --listen and --peer, a valid address), and dispatch() runs the command.
 * Nothing outside main.c runs before the command line is known to be good:
 * no identity is created, no file is opened, no socket is made.
 *
 * Signals (SIGINT, SIGTERM, SIGHUP) end the run through fatal() on a
 * thread of their own, exit 128+N; after a Ctrl-C that the terminal echoed
 * as "^C", the message starts on a fresh line.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "check.h"
#include "engine.h"
#include "keycmd.h"
#include "net.h"
#include "oprf.h"
#include "output.h"
#include "prf.h"
#include "progress.h"
#include "stats.h"
#include "records.h"
#include "run.h"
#include "util.h"

/* ---- commands ----------------------------------------------------------- */

enum {				/* bits: which commands take an option */
	C_RUN = 1 << 0,
	C_CHECK = 1 << 1,
	C_PRF = 1 << 2,
	C_KEYGEN = 1 << 3,
	C_FPR = 1 << 4,
	C_ALL = (1 << 5) - 1
};
#define C_REC	(C_RUN | C_CHECK | C_PRF)	/* the record options */

struct cli;

struct command {
	const char	*name;		/* argv[1]; NULL: the run */
	unsigned	 bit;
	const char	*synopsis;	/* its usage line(s), after "psi-stream" */
	const char	*what;		/* one line for its --help */
	const char	*scope;		/* why it refuses other commands' options */
	int		 max_files;	/* -1: any number of FILE arguments */
	int		(*run)(struct cli *);
};

/* Everything the command line says, for any command. */
struct cli {
	const struct command *cmd;
	struct run_opts	 ro;
	const char	*oprf_key;	/* prf --oprf-key */
	const char	*role;		/* --role, checked */
	const char	*key_file;	/* keygen -f */
	const char	*comment;	/* keygen -C */
	int		 oprf;		/* keygen --oprf */
	int		 progress;	/* --progress 1, --no-progress 0, else -1 */
	int		 delim_set;
};

static int run_main(struct cli *);
static int check_main(struct cli *);
static int prf_main(struct cli *);
static int keygen_main(struct cli *);
static int fingerprint_main(struct cli *);

static const struct command commands[] = {
	{ NULL, C_RUN, "[options] --listen [ADDR:]PORT [FILE...]\n"
	    "[options] --peer HOST:PORT [FILE...]",
	    "Private set intersection with a peer: each side learns which of its own\n"
	    "records the other side also has, and the size of the other side's input.",
	    NULL, -1, run_main },
	{ "check", C_CHECK, "check [record options] [--shard I/N] [--stats FILE] [FILE...]",
	    "Read FILEs as a run would and report records, keys, empty and invalid\n"
	    "records and an estimate of duplicate keys; nothing is sent anywhere.",
	    "check only reads local files", -1, check_main },
	{ "prf", C_PRF, "prf --oprf-key FILE [record options] [FILE...]",
	    "Print the RFC 9497 OPRF output of every key under the given key, one\n"
	    "hex line per record (for interoperability tests).",
	    "prf only reads local files and writes to standard output", -1,
	    prf_main },
	{ "keygen", C_KEYGEN, "keygen [-f FILE] [-C COMMENT]\n"
	    "keygen --oprf -f FILE",
	    "Make a key pair: FILE (private, mode 0600) and FILE.pub, the line\n"
	    "to give the peer (default FILE: ~/.config/psi-stream/id_x25519);\n"
	    "with --oprf, a key for prf --oprf-key in FILE (mode 0600).",
	    "keygen only writes a key pair", 0, keygen_main },
	{ "fingerprint", C_FPR, "fingerprint [FILE]",
	    "Print the fingerprint of a key file, a .pub line or an inline key\n"
	    "(default: our identity), and the key's comment, as ssh-keygen -l does.",
	    "fingerprint only reads a key", 1, fingerprint_main },
};
#define NCOMMANDS	(sizeof(commands) / sizeof(commands[0]))

/* ---- options ------------------------------------------------------------ */

enum {
	OPT_LISTEN = 256,
	OPT_PEER,
	OPT_ROLE,
	OPT_REVEAL,
	OPT_CONTEXT,
	OPT_COUNT_ONLY,
	OPT_ENGINE,
	OPT_MAX_PEER_KEYS,
	OPT_SHARD,
	OPT_CONNECT_TIMEOUT,
	OPT_ACCEPT_TIMEOUT,
	OPT_TIMEOUT,
	OPT_PEER_KEY,
	OPT_IDENTITY,
	OPT_PSK_FILE,
	OPT_STRICT_PEER,
	OPT_INSECURE,
	OPT_HEADER,
	OPT_KEY_FIELD,
	OPT_DELIMITER,
	OPT_CSV,
	OPT_TRIM,
	OPT_IGNORE_CASE,
	OPT_SKIP_INVALID,
	OPT_OPRF_KEY,
	OPT_OPRF,
	OPT_MEMORY,
	OPT_TMPDIR,
	OPT_STATS,
	OPT_PROGRESS,
	OPT_NO_PROGRESS,
	OPT_UNMATCHED
};

struct option_def {
	const char	*name;		/* long name; NULL: short only */
	int		 id;		/* short letter or OPT_*; 0: a heading */
	unsigned	 cmds;		/* C_* bits */
	const char	*arg;		/* argument, NULL if none */
	const char	*help;		/* '\n' starts an indented line */
};

#define HEADING(text)	{ NULL, 0, 0, NULL, text }

static const struct option_def options[] = {
	HEADING("Connection:"),
	{ "listen", OPT_LISTEN, C_RUN, "[ADDR:]PORT",
	    "wait for the peer (default role: holder)" },
	{ "peer", OPT_PEER, C_RUN, "HOST:PORT",
	    "connect to the peer (default role: querier)" },
	{ "role", OPT_ROLE, C_RUN, "holder|querier",
	    "override the role (the two sides must differ)" },
	{ "reveal", OPT_REVEAL, C_RUN, "both|querier",
	    "who learns the intersection (default both)" },
	{ "unmatched", OPT_UNMATCHED, C_RUN, NULL,
	    "write our records whose key the peer does not have\n"
	    "(comm -23, join -v), not those it has" },
	{ "count-only", OPT_COUNT_ONLY, C_RUN, NULL,
	    "learn only the size of the intersection" },
	{ "engine", OPT_ENGINE, C_RUN, "ot|dh",
	    "the PSI engine, the same on both sides (default ot; dh with "
	    "--count-only)" },
	{ "context", OPT_CONTEXT, C_RUN, "STRING",
	    "a label both sides must give identically" },
	{ "shard", OPT_SHARD, C_RUN | C_CHECK, "I/N",
	    "only keys in shard I of N (both sides alike)" },
	{ "max-peer-keys", OPT_MAX_PEER_KEYS, C_RUN, "N",
	    "refuse a peer with more than N keys (exit 5)" },
	{ "connect-timeout", OPT_CONNECT_TIMEOUT, C_RUN, "SECS",
	    "keep trying to reach the peer, name lookup included,\n"
	    "this long (default 60)" },
	{ "accept-timeout", OPT_ACCEPT_TIMEOUT, C_RUN, "SECS",
	    "wait this long for the peer to connect (default 600)" },
	{ "timeout", OPT_TIMEOUT, C_RUN, "SECS",
	    "give up on a silent peer after this long (default 300)" },

	HEADING("Authentication:"),
	{ "identity", OPT_IDENTITY, C_RUN, "FILE",
	    "our private key (default: ~/.config/psi-stream/id_x25519)" },
	{ "peer-key", OPT_PEER_KEY, C_RUN, "FILE|KEY",
	    "accept only this peer key (repeatable)" },
	{ "psk-file", OPT_PSK_FILE, C_RUN, "FILE",
	    "pre-shared key, 64 hex digits" },
	{ "strict-peer", OPT_STRICT_PEER, C_RUN, NULL,
	    "refuse a listener key not in known_peers" },
	{ "insecure", OPT_INSECURE, C_RUN, NULL,
	    "encrypt but do not authenticate (tests only)" },

	HEADING("Records and output:"),
	{ "output", 'o', C_RUN, "FILE",
	    "write matches to FILE, atomically (default stdout)" },
	{ "zero-terminated", 'z', C_REC, NULL,
	    "records end with NUL, not newline" },
	{ "header", OPT_HEADER, C_REC, NULL,
	    "the first record of each file is a header (names columns;\n"
	    "written first in the output)" },
	{ "key-field", OPT_KEY_FIELD, C_REC, "LIST",
	    "the key is field N (1-based), not the whole record;\n"
	    "a column NAME with --header; N,M,... a composite key" },
	{ "delimiter", OPT_DELIMITER, C_REC, "C",
	    "field delimiter (default tab; ',' with --csv)" },
	{ "csv", OPT_CSV, C_REC, NULL,
	    "fields are RFC 4180 CSV" },
	{ "trim", OPT_TRIM, C_REC, NULL,
	    "strip white space around keys" },
	{ "ignore-case", OPT_IGNORE_CASE, C_REC, NULL,
	    "compare keys ignoring ASCII case" },
	{ "skip-invalid", OPT_SKIP_INVALID, C_REC, NULL,
	    "skip (and count) invalid records instead of failing" },
	{ "oprf-key", OPT_OPRF_KEY, C_PRF, "FILE",
	    "(prf) the OPRF key, 64 hex digits" },

	HEADING("Resources:"),
	{ "memory", OPT_MEMORY, C_RUN | C_CHECK, "SIZE",
	    "memory budget, K/M/G suffixes (default 256M)" },
	{ "tmpdir", OPT_TMPDIR, C_RUN, "DIR",
	    "temporary files (default $TMPDIR, else /tmp)" },
	{ "threads", 'j', C_RUN | C_CHECK | C_PRF, "N",
	    "threads for the curve work (default: all CPUs)" },
	{ "stats", OPT_STATS, C_RUN | C_CHECK, "FILE",
	    "write a JSON summary to FILE at the end, even on failure" },
	{ "progress", OPT_PROGRESS, C_RUN, NULL,
	    "show a progress line on stderr (default if a terminal)" },
	{ "no-progress", OPT_NO_PROGRESS, C_RUN, NULL,
	    "never show the progress line" },

	HEADING("Keys (keygen):"),
	{ NULL, 'f', C_KEYGEN, "FILE",
	    "write the key pair to FILE (private) and FILE.pub,\n"
	    "never overwriting (default ~/.config/psi-stream/id_x25519)" },
	{ NULL, 'C', C_KEYGEN, "COMMENT",
	    "a comment for the .pub line, such as who owns the key" },
	{ "oprf", OPT_OPRF, C_KEYGEN, NULL,
	    "write a fresh OPRF key for prf --oprf-key to -f FILE\n"
	    "instead of a key pair" },

	HEADING(""),
	{ "verbose", 'v', C_ALL, NULL,
	    "say more (repeatable)" },
	{ "quiet", 'q', C_ALL, NULL,
	    "say nothing but errors" },
	{ "help", 'h', C_ALL, NULL,
	    "this help" },
	{ "version", 'V', C_ALL, NULL,
	    "print the version" },
};
#define NOPTIONS	(sizeof(options) / sizeof(options[0]))

static const struct option_def *
option_by_id(int id)
{
	for (size_t i = 0; i < NOPTIONS; i++)
		if (options[i].id == id)
			return &options[i];
	return NULL;
}

/* ---- help --------------------------------------------------------------- */

/* "psi-stream" or "psi-stream check", for messages. */
static const char *
command_words(const struct command *cmd)
{
	static char buf[64];

	snprintf(buf, sizeof(buf), "psi-stream%s%s", cmd->name ? " " : "",
	    cmd->name ? cmd->name : "");
	return buf;
}

/* Each line of text, the first after first, the others after indent. */
static void
print_lines(FILE *f, const char *first, const char *indent, const char *text)
{
	const char *nl;

	fputs(first, f);
	while ((nl = strchr(text, '\n')) != NULL) {
		fprintf(f, "%.*s\n%s", (int)(nl - text), text, indent);
		text = nl + 1;
	}
	fprintf(f, "%s\n", text);
}

static void
print_option(FILE *f, const struct option_def *o)
{
	char left[64];

	if (o->name && o->id < 256)
		snprintf(left, sizeof(left), "  -%c, --%s%s%s", o->id, o->name,
		    o->arg ? " " : "", o->arg ? o->arg : "");
	else if (o->name)
		snprintf(left, sizeof(left), "  --%s%s%s", o->name,
		    o->arg ? " " : "", o->arg ? o->arg : "");
	else
		snprintf(left, sizeof(left), "  -%c%s%s", o->id,
		    o->arg ? " " : "", o->arg ? o->arg : "");
	fprintf(f, "%-27s", left);
	print_lines(f, strlen(left) >= 26 ? "\n                           " :
	    "", "                           ", o->help);
}

/* The options cmd takes (all of them for the run's full --help), under
 * their headings; a heading with nothing under it is left out. */
static void
print_options(FILE *f, unsigned cmds)
{
	for (size_t i = 0; i < NOPTIONS; i++) {
		const struct option_def *o = &options[i];
		size_t j;

		if (o->id != 0) {
			if (o->cmds & cmds)
				print_option(f, o);
			continue;
		}
		for (j = i + 1; j < NOPTIONS && options[j].id != 0; j++)
			if (options[j].cmds & cmds)
				break;
		if (j < NOPTIONS && options[j].id != 0)
			fprintf(f, "\n%s%s", o->help, *o->help ? "\n" : "");
	}
}

static void
print_synopsis(FILE *f, const char *lead, const struct command *cmd)
{
	const char *s = cmd->synopsis, *nl;

	while ((nl = strchr(s, '\n')) != NULL) {
		fprintf(f, "%spsi-stream %.*s\n", lead, (int)(nl - s), s);
		lead = "       ";
		s = nl + 1;
	}
	fprintf(f, "%spsi-stream %s\n", lead, s);
}

/* psi-stream --help: every command and every option; CMD --help: CMD's. */
static void __attribute__((noreturn))
help(const struct command *cmd)
{
	FILE *f = stdout;
	int full = cmd->name == NULL;

	if (full)
		for (size_t i = 0; i < NCOMMANDS; i++)
			print_synopsis(f, i ? "       " : "usage: ", &commands[i]);
	else
		print_synopsis(f, "usage: ", cmd);
	fprintf(f, "\n%s\n", cmd->what);
	print_options(f, full ? C_ALL : cmd->bit);
	if (full) {
		fprintf(f, "\nExit status:\n");
		for (int i = 0; exit_meanings[i].status >= 0; i++)
			fprintf(f, "  %-3d %s\n", exit_meanings[i].status,
			    exit_meanings[i].meaning);
		fprintf(f, "  128+N killed by signal N\nSee psi-stream(1).\n");
	} else
		fprintf(f, "\nSee psi-stream --help and psi-stream(1).\n");
	if (fflush(f) != 0 || ferror(f))
		fatal_errno(EXIT_IO, "cannot write the help");
	exit(EXIT_OK);
}

/* The line that follows every complaint about the command line, as in
 * sort and zstd; exit 1. */
static void __attribute__((noreturn))
try_help(const struct command *cmd)
{
	fprintf(stderr, "Try '%s --help' for more information.\n",
	    command_words(cmd));
	exit(EXIT_USAGE);
}

/* A command line that cannot be run: one line saying why, one pointing to
 * --help. */
static void __attribute__((noreturn, format(printf, 2, 3)))
usage_error(const struct command *cmd, const char *fmt, ...)
{
	va_list ap;

	fputs("psi-stream: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	try_help(cmd);
}

/* ---- signals and the fatal path ----------------------------------------- */

static void
on_fatal(int status, const char *told, const char *msg)
{
	progress_abort();
	output_abort();
	stats_abort();
	run_on_fatal(status, told, msg);
}

/* A terminal that echoes Ctrl-C as "^C" has just printed it where the
 * cursor was, after a --progress line or at the start of a line: our line
 * then starts on a fresh one, or it would end in that "^C" (the line
 * erased is only as long as the progress line).  Not a terminal: nothing. */
static void
after_echoed_ctrl_c(void)
{
	struct termios t;

	if (isatty(STDERR_FILENO) && tcgetattr(STDERR_FILENO, &t) == 0 &&
	    (t.c_lflag & ECHO) && (t.c_lflag & ECHOCTL))
		(void)write_all(STDERR_FILENO, "\n", 1);
}

/* SIGINT, SIGTERM and SIGHUP are blocked in every thread and taken here,
 * so the ordinary fatal path (peer told, output and --stats handled) runs
 * in a normal thread context rather than in a signal handler. */
static void *
signal_thread(void *arg)
{
	sigset_t *set = arg;
	const char *name;
	int sig;

	if (sigwait(set, &sig) != 0)
		return NULL;
	name = sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" :
	    "SIGHUP";
	if (!result_may_interrupt()) {
		/* the output is in place: too late to interrupt, and a
		 * status of 128+N would say it was not; the run ends soon */
		vlog(2, "%s after the output was in place: finishing the run",
		    name);
		for (;;)
			pause();
	}
	if (sig == SIGINT)
		after_echoed_ctrl_c();
	fatal(128 + sig, "interrupted by %s", name);
}

static void
setup_signals(void)
{
	static sigset_t set;
	pthread_t tid;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (pthread_create(&tid, NULL, signal_thread, &set) == 0)
		pthread_detach(tid);
	set_fatal_hook(on_fatal);
}

/* ---- parse -------------------------------------------------------------- */

static double
parse_seconds(const char *s, const char *opt)
{
	uint64_t v;

	if (parse_uint(s, 1, 86400 * 7, &v) < 0)
		fatal(EXIT_USAGE, "%s wants whole seconds from 1 to 604800, "
		    "not '%s'", opt, s);
	return (double)v;
}

/* One option's value into c; bad values exit 1 naming the option. */
static void
set_option(struct cli *c, int id, char *arg)
{
	struct run_opts *ro = &c->ro;
	struct rec_opts *rec = &ro->s.rec;
	uint64_t v;

	switch (id) {
	case OPT_LISTEN: ro->listen = arg; break;
	case OPT_PEER: ro->peer = arg; break;
	case OPT_ROLE:
		if (strcmp(arg, "holder") && strcmp(arg, "querier"))
			fatal(EXIT_USAGE, "--role wants holder or querier, "
			    "not '%s'", arg);
		c->role = arg;
		break;
	case OPT_REVEAL:
		if (strcmp(arg, "both") == 0)
			ro->s.p.reveal = REVEAL_BOTH;
		else if (strcmp(arg, "querier") == 0)
			ro->s.p.reveal = REVEAL_QUERIER;
		else
			fatal(EXIT_USAGE, "--reveal wants both or querier, "
			    "not '%s'", arg);
		break;
	case OPT_COUNT_ONLY: ro->s.p.count_only = 1; break;
	case OPT_UNMATCHED: ro->s.unmatched = 1; break;
	case OPT_ENGINE: {
		const struct engine *e = engine_by_name(arg);
		if (e == NULL)
			fatal(EXIT_USAGE, "--engine: no engine '%s' (built in: "
			    "%s)", arg, engine_names());
		ro->s.p.engine = (uint8_t)e->id;
		break;
	}
	case OPT_CONTEXT:
		if (strlen(arg) >= sizeof(ro->s.p.context))
			fatal(EXIT_USAGE, "--context is limited to %zu bytes",
			    sizeof(ro->s.p.context) - 1);
		strcpy(ro->s.p.context, arg);
		break;
	case OPT_SHARD: {
		unsigned i, n;
		char extra;
		if (sscanf(arg, "%u/%u%c", &i, &n, &extra) != 2 ||
		    n < 1 || n > 1000000 || i < 1 || i > n)
			fatal(EXIT_USAGE, "--shard wants I/N with "
			    "1 <= I <= N, not '%s'", arg);
		ro->s.p.shard_i = i;
		ro->s.p.shard_n = n;
		break;
	}
	case OPT_PEER_KEY: ro->peer_keys[ro->npeer_keys++] = arg; break;
	case OPT_IDENTITY: ro->identity = arg; break;
	case OPT_PSK_FILE: ro->psk_file = arg; break;
	case OPT_STRICT_PEER: ro->strict_peer = 1; break;
	case OPT_INSECURE: ro->insecure = 1; break;
	case OPT_CONNECT_TIMEOUT:
		ro->connect_timeout = parse_seconds(arg, "--connect-timeout");
		break;
	case OPT_ACCEPT_TIMEOUT:
		ro->accept_timeout = parse_seconds(arg, "--accept-timeout");
		break;
	case OPT_TIMEOUT:
		ro->timeout = parse_seconds(arg, "--timeout");
		break;
	case OPT_MAX_PEER_KEYS:
		if (parse_uint(arg, 1, (uint64_t)1 << 48, &v) < 0)
			fatal(EXIT_USAGE, "--max-peer-keys wants a number of "
			    "keys from 1, not '%s'", arg);
		ro->s.max_peer_keys = v;
		break;
	case 'o': ro->s.output = arg; break;
	case 'z': rec->zero_term = 1; break;
	case OPT_HEADER: rec->header = 1; break;
	case OPT_KEY_FIELD: rec_key_fields(rec, arg); break;
	case OPT_DELIMITER:
		if (strcmp(arg, "\\t") == 0)
			arg = "\t";
		if (strlen(arg) != 1)
			fatal(EXIT_USAGE, "--delimiter wants one character, "
			    "not '%s'", arg);
		rec->delim = arg[0];
		c->delim_set = 1;
		break;
	case OPT_CSV: rec->csv = 1; break;
	case OPT_TRIM: rec->trim = 1; break;
	case OPT_IGNORE_CASE: rec->ignore_case = 1; break;
	case OPT_SKIP_INVALID: rec->skip_invalid = 1; break;
	case OPT_OPRF_KEY: c->oprf_key = arg; break;
	case OPT_MEMORY:
		if (parse_size(arg, &ro->s.memory) < 0)
			fatal(EXIT_USAGE, "--memory wants a size like 512M "
			    "or 4G, not '%s'", arg);
		if (ro->s.memory < SESSION_MIN_MEMORY)
			fatal(EXIT_USAGE, "--memory %s is too small: at "
			    "least %uM is needed", arg,
			    SESSION_MIN_MEMORY >> 20);
		break;
	case OPT_TMPDIR: ro->s.tmpdir = arg; break;
	case OPT_STATS: ro->s.stats = arg; break;
	case OPT_PROGRESS: c->progress = 1; break;
	case OPT_NO_PROGRESS: c->progress = 0; break;
	case 'j':
		if (parse_uint(arg, 1, 256, &v) < 0)
			fatal(EXIT_USAGE, "--threads wants a number from 1 "
			    "to 256, not '%s'", arg);
		ro->s.threads = (int)v;
		break;
	case 'f': c->key_file = arg; break;
	case 'C': c->comment = arg; break;
	case OPT_OPRF: c->oprf = 1; break;
	case 'v': verbosity++; break;
	case 'q': verbosity = 0; break;
	case 'h': help(c->cmd);
	case 'V':
		printf("psi-stream %s\n", PACKAGE_VERSION);
		exit(EXIT_OK);
	default:
		abort();	/* an options[] line without its case here */
	}
}

/* "--name" or "-c", as the user wrote it, for messages. */
static const char *
option_words(const struct option_def *o, int was_long)
{
	static char buf[64];

	if (was_long)
		snprintf(buf, sizeof(buf), "--%s", o->name);
	else
		snprintf(buf, sizeof(buf), "-%c", o->id);
	return buf;
}

/* The first subcommand that takes o (o is not one of the run's). */
static const struct command *
owner(const struct option_def *o)
{
	size_t i = 1;

	while (i < NCOMMANDS - 1 && !(o->cmds & commands[i].bit))
		i++;
	return &commands[i];
}

/* The command named by argv[1], else the run. */
static const struct command *
find_command(int argc, char **argv)
{
	for (size_t i = 1; i < NCOMMANDS && argc > 1; i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return &commands[i];
	return &commands[0];
}

static void
parse(struct cli *c, int argc, char **argv)
{
	struct option longopts[NOPTIONS + 1];
	char shortopts[2 * NOPTIONS + 1], *sp = shortopts;
	size_t nlong = 0;
	int ch, idx;

	memset(c, 0, sizeof(*c));
	c->cmd = find_command(argc, argv);
	c->progress = -1;
	c->ro.s.p.version = PROTOCOL_VERSION;
	c->ro.s.p.engine = 0;		/* finish(): ot, or dh for --count-only */
	c->ro.s.rec.delim = '\t';
	c->ro.connect_timeout = 60;
	c->ro.accept_timeout = 600;
	c->ro.timeout = 300;
	c->ro.s.memory = 256u << 20;
	if ((c->ro.s.tmpdir = getenv("TMPDIR")) == NULL || *c->ro.s.tmpdir == '\0')
		c->ro.s.tmpdir = "/tmp";
	c->ro.peer_keys = xreallocarray(NULL, (size_t)argc, sizeof(char *));

	for (size_t i = 0; i < NOPTIONS; i++) {
		const struct option_def *o = &options[i];
		if (o->id == 0)
			continue;
		if (o->name)
			longopts[nlong++] = (struct option){ o->name,
			    o->arg ? required_argument : no_argument, NULL,
			    o->id };
		if (o->id < 256) {
			*sp++ = (char)o->id;
			if (o->arg)
				*sp++ = ':';
		}
	}
	*sp = '\0';
	longopts[nlong] = (struct option){ NULL, 0, NULL, 0 };

	if (c->cmd->name) {	/* getopt starts after the subcommand word */
		argc--;
		argv++;
	}
	argv[0] = "psi-stream";	/* getopt's own messages start with it */
	optind = 1;
	for (;;) {
		const struct option_def *o;

		idx = -1;
		ch = getopt_long(argc, argv, shortopts, longopts, &idx);
		if (ch == -1)
			break;
		if (ch == '?')		/* getopt said what is wrong */
			try_help(c->cmd);
		if ((o = option_by_id(ch)) == NULL)
			abort();	/* getopt returned what we never gave it */
		if (!(o->cmds & c->cmd->bit) && c->cmd->name == NULL)
			usage_error(c->cmd, "%s is an option of 'psi-stream %s', "
			    "not of a run", option_words(o, idx >= 0),
			    owner(o)->name);
		if (!(o->cmds & c->cmd->bit))
			usage_error(c->cmd, "%s does not take %s: %s",
			    c->cmd->name, option_words(o, idx >= 0),
			    c->cmd->scope);
		set_option(c, ch, optarg);
	}
	c->ro.s.files = argv + optind;
	c->ro.s.nfiles = argc - optind;
}

/* What only the whole command line can say, in the order a user would
 * fix it: the arguments, then the run's address and role. */
static void
finish(struct cli *c)
{
	struct run_opts *ro = &c->ro;
	struct rec_opts *rec = &ro->s.rec;
	char *host = NULL, *port = NULL;

	if (c->cmd->max_files == 0 && ro->s.nfiles > 0)
		usage_error(c->cmd, "%s takes no arguments, not '%s'%s",
		    command_words(c->cmd), ro->s.files[0],
		    c->cmd->bit == C_KEYGEN ? " (the key file is -f FILE)" : "");
	if (c->cmd->max_files > 0 && ro->s.nfiles > c->cmd->max_files)
		usage_error(c->cmd, "%s takes at most %d argument%s, not %d",
		    command_words(c->cmd), c->cmd->max_files,
		    c->cmd->max_files == 1 ? "" : "s", ro->s.nfiles);
	if (rec->csv && !c->delim_set)
		rec->delim = ',';
	if (rec->csv && rec->key_field == 0 && rec->nkey_fields == 0)
		rec->key_field = 1;
	rec_check_opts(rec);
	ro->s.p.key_fields = (uint8_t)rec_key_count(rec);
	ro->s.p.trim = (uint8_t)rec->trim;
	ro->s.p.ignore_case = (uint8_t)rec->ignore_case;
	if (ro->s.p.engine == 0)
		ro->s.p.engine = ro->s.p.count_only ? ENGINE_DH : ENGINE_OT;
	else if (ro->s.p.engine == ENGINE_OT && ro->s.p.count_only)
		usage_error(c->cmd, "--engine ot cannot do --count-only: with "
		    "an OT-extension OPRF the querier computes its own values "
		    "and would see which of its keys matched; use --engine dh "
		    "(the default with --count-only)");
	/* check gets the limits a run with this engine would have */
	rec_set_memory(rec, ro->s.memory, engine_by_id(ro->s.p.engine)->reserve);
	if (c->cmd->bit != C_RUN)
		return;

	if (!ro->listen == !ro->peer)
		usage_error(c->cmd, "give exactly one of --listen [ADDR:]PORT "
		    "and --peer HOST:PORT");
	if (ro->listen && net_split(ro->listen, &host, &port) < 0)
		fatal(EXIT_USAGE, "invalid --listen address '%s' (want PORT, "
		    "ADDR:PORT or [ADDR]:PORT, with PORT from 1 to 65535)",
		    ro->listen);
	if (ro->peer && (net_split(ro->peer, &host, &port) < 0 ||
	    host == NULL))
		fatal(EXIT_USAGE, "invalid --peer address '%s' (want HOST:PORT "
		    "or [ADDR]:PORT, with PORT from 1 to 65535)", ro->peer);
	free(host);
	free(port);
	if (c->role)
		ro->s.p.role = strcmp(c->role, "holder") == 0 ?
		    ROLE_HOLDER : ROLE_QUERIER;
	else
		ro->s.p.role = ro->listen ? ROLE_HOLDER : ROLE_QUERIER;
	if (ro->s.unmatched && ro->s.p.count_only)
		usage_error(c->cmd, "--unmatched writes records; --count-only "
		    "writes only the size of the intersection");
	if (ro->s.unmatched && ro->s.p.role == ROLE_HOLDER &&
	    ro->s.p.reveal == REVEAL_QUERIER)
		usage_error(c->cmd, "--unmatched on the holder needs --reveal "
		    "both: with --reveal querier the holder never learns which "
		    "of its records matched");
}

/* ---- dispatch ----------------------------------------------------------- */

static int
run_main(struct cli *c)
{
	progress_init(verbosity > 0 ? c->progress : 0);
	net_on_wait(progress_waiting);
	return cmd_run(&c->ro);
}

static int
check_main(struct cli *c)
{
	return cmd_check(&c->ro.s);
}

static int
prf_main(struct cli *c)
{
	if (c->oprf_key == NULL)
		usage_error(c->cmd, "prf needs --oprf-key FILE");
	c->ro.s.rec.binary_ok = 1;	/* test vectors: any byte in a key */
	return cmd_prf(c->oprf_key, &c->ro.s.rec, c->ro.s.files,
	    c->ro.s.nfiles, c->ro.s.threads);
}

static int
keygen_main(struct cli *c)
{
	if (!c->oprf)
		return cmd_keygen(c->key_file, c->comment);
	if (c->key_file == NULL)
		usage_error(c->cmd, "keygen --oprf needs -f FILE: an OPRF key "
		    "has no default place");
	if (c->comment != NULL)
		usage_error(c->cmd, "keygen --oprf takes no -C: an OPRF key "
		    "file holds the key alone");
	return cmd_keygen_oprf(c->key_file);
}

static int
fingerprint_main(struct cli *c)
{
	return cmd_fingerprint(c->ro.s.nfiles ? c->ro.s.files[0] : NULL);
}

int
main(int argc, char **argv)
{
	struct cli c;
	int rc;

	current_umask();
	setup_signals();
	parse(&c, argc, argv);
	finish(&c);
	if (sodium_init() < 0)
		fatal(EXIT_IO, "cannot initialise libsodium");
	rc = c.cmd->run(&c);
	free(c.ro.peer_keys);
	return rc;
}
