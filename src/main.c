/*
 * main.c: options, usage and subcommand dispatch; nothing else.
 *
 *   psi-stream [options] (--listen [ADDR:]PORT | --peer HOST:PORT) [FILE...]
 *   psi-stream check [record options] [FILE...]
 *   psi-stream prf --oprf-key FILE [record options] [FILE...]
 *   psi-stream keygen [-f FILE] [-C COMMENT]
 *   psi-stream fingerprint [FILE]
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "check.h"
#include "oprf.h"
#include "output.h"
#include "peers.h"
#include "prf.h"
#include "progress.h"
#include "stats.h"
#include "records.h"
#include "run.h"
#include "util.h"

enum {
	OPT_LISTEN = 256, OPT_PEER, OPT_ROLE, OPT_REVEAL, OPT_CONTEXT,
	OPT_SHARD, OPT_PEER_KEY, OPT_IDENTITY, OPT_PSK_FILE, OPT_STRICT_PEER,
	OPT_INSECURE, OPT_CONNECT_TIMEOUT, OPT_ACCEPT_TIMEOUT, OPT_TIMEOUT,
	OPT_HEADER, OPT_KEY_FIELD, OPT_DELIMITER, OPT_CSV, OPT_TRIM,
	OPT_IGNORE_CASE, OPT_SKIP_INVALID, OPT_OPRF_KEY, OPT_MEMORY, OPT_TMPDIR,
	OPT_STATS, OPT_COUNT_ONLY,
	OPT_PROGRESS, OPT_NO_PROGRESS
};

static const struct option longopts[] = {
	{ "listen",		required_argument, NULL, OPT_LISTEN },
	{ "peer",		required_argument, NULL, OPT_PEER },
	{ "role",		required_argument, NULL, OPT_ROLE },
	{ "reveal",		required_argument, NULL, OPT_REVEAL },
	{ "context",		required_argument, NULL, OPT_CONTEXT },
	{ "count-only",		no_argument,	   NULL, OPT_COUNT_ONLY },
	{ "shard",		required_argument, NULL, OPT_SHARD },
	{ "peer-key",		required_argument, NULL, OPT_PEER_KEY },
	{ "identity",		required_argument, NULL, OPT_IDENTITY },
	{ "psk-file",		required_argument, NULL, OPT_PSK_FILE },
	{ "strict-peer",	no_argument,	   NULL, OPT_STRICT_PEER },
	{ "insecure",		no_argument,	   NULL, OPT_INSECURE },
	{ "connect-timeout",	required_argument, NULL, OPT_CONNECT_TIMEOUT },
	{ "accept-timeout",	required_argument, NULL, OPT_ACCEPT_TIMEOUT },
	{ "timeout",		required_argument, NULL, OPT_TIMEOUT },
	{ "output",		required_argument, NULL, 'o' },
	{ "zero-terminated",	no_argument,	   NULL, 'z' },
	{ "header",		no_argument,	   NULL, OPT_HEADER },
	{ "key-field",		required_argument, NULL, OPT_KEY_FIELD },
	{ "delimiter",		required_argument, NULL, OPT_DELIMITER },
	{ "csv",		no_argument,	   NULL, OPT_CSV },
	{ "trim",		no_argument,	   NULL, OPT_TRIM },
	{ "ignore-case",	no_argument,	   NULL, OPT_IGNORE_CASE },
	{ "skip-invalid",	no_argument,	   NULL, OPT_SKIP_INVALID },
	{ "oprf-key",		required_argument, NULL, OPT_OPRF_KEY },
	{ "memory",		required_argument, NULL, OPT_MEMORY },
	{ "tmpdir",		required_argument, NULL, OPT_TMPDIR },
	{ "threads",		required_argument, NULL, 'j' },
	{ "stats",		required_argument, NULL, OPT_STATS },
	{ "progress",		no_argument,	   NULL, OPT_PROGRESS },
	{ "no-progress",	no_argument,	   NULL, OPT_NO_PROGRESS },
	{ "verbose",		no_argument,	   NULL, 'v' },
	{ "quiet",		no_argument,	   NULL, 'q' },
	{ "help",		no_argument,	   NULL, 'h' },
	{ "version",		no_argument,	   NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

static void usage(int) __attribute__((noreturn));

static void
usage(int status)
{
	FILE *f = status ? stderr : stdout;

	fprintf(f,
"usage: psi-stream [options] --listen [ADDR:]PORT [FILE...]\n"
"       psi-stream [options] --peer HOST:PORT [FILE...]\n"
"       psi-stream check [record options] [FILE...]\n"
"       psi-stream prf --oprf-key FILE [record options] [FILE...]\n"
"       psi-stream keygen [-f FILE] [-C COMMENT]\n"
"       psi-stream fingerprint [FILE]\n"
"\n"
"Private set intersection with a peer: each side learns which of its own\n"
"records the other side also has, and the size of the other side's input.\n"
"\n"
"Connection:\n"
"  --listen [ADDR:]PORT     wait for the peer (default role: holder)\n"
"  --peer HOST:PORT         connect to the peer (default role: querier)\n"
"  --role holder|querier    override the role (the two sides must differ)\n"
"  --reveal both|querier    who learns the intersection (default both)\n"
"  --count-only             learn only the size of the intersection\n"
"  --context STRING         a label both sides must give identically\n"
"  --shard I/N              only keys in shard I of N (both sides alike)\n"
"  --connect-timeout SECS   keep trying to reach the peer, name lookup included,\n"
"                           this long (default 60)\n"
"  --accept-timeout SECS    wait this long for the peer to connect (default 600)\n"
"  --timeout SECS           give up on a silent peer after this long (default 300)\n"
"\n"
"Authentication:\n"
"  --identity FILE          our private key (default: ~/.config/psi-stream/id_x25519)\n"
"  --peer-key FILE|KEY      accept only this peer key (repeatable)\n"
"  --psk-file FILE          pre-shared key, 64 hex digits\n"
"  --strict-peer            refuse a listener key not in known_peers\n"
"  --insecure               encrypt but do not authenticate (tests only)\n"
"\n"
"Records and output:\n"
"  -o, --output FILE        write matches to FILE, atomically (default stdout)\n"
"  -z, --zero-terminated    records end with NUL, not newline\n"
"  --header                 skip the first record of each file\n"
"  --key-field N            the key is field N (1-based), not the whole record\n"
"  --delimiter C            field delimiter (default tab; ',' with --csv)\n"
"  --csv                    fields are RFC 4180 CSV\n"
"  --trim                   strip white space around keys\n"
"  --ignore-case            compare keys ignoring ASCII case\n"
"  --skip-invalid           skip (and count) invalid records instead of failing\n"
"  --oprf-key FILE          (prf) the OPRF key, 64 hex digits\n"
"\n"
"Resources:\n"
"  --memory SIZE            memory budget, K/M/G suffixes (default 256M)\n"
"  --tmpdir DIR             temporary files (default $TMPDIR, else /tmp)\n"
"  -j, --threads N          threads for the curve work (default: all CPUs)\n"
"  --stats FILE             write a JSON summary to FILE at the end, even on failure\n"
"  --progress               show a progress line on stderr (default if a terminal)\n"
"  --no-progress            never show the progress line\n"
"\n"
"  -v, --verbose            say more (repeatable)\n"
"  -q, --quiet              say nothing but errors\n"
"  -h, --help               this help\n"
"  -V, --version            print the version\n"
"\n"
"Exit status: 0 success, 1 usage or configuration, 2 local I/O, 3 network,\n"
"4 authentication, 5 incompatible peer or protocol violation, 6 the peer\n"
"failed, 128+N killed by signal N.  See psi-stream(1).\n");
	exit(status);
}

static void
on_fatal(int status, const char *msg)
{
	progress_abort();
	output_abort();
	stats_abort();
	run_on_fatal(status, msg);
}

/* SIGINT, SIGTERM and SIGHUP are blocked in every thread and taken here,
 * so the ordinary fatal path (peer told, output and --stats handled) runs
 * in a normal thread context rather than in a signal handler. */
static void *
signal_thread(void *arg)
{
	sigset_t *set = arg;
	int sig;

	if (sigwait(set, &sig) != 0)
		return NULL;
	fatal(128 + sig, "interrupted by %s", sig == SIGINT ? "SIGINT" :
	    sig == SIGTERM ? "SIGTERM" : "SIGHUP");
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

static double
parse_seconds(const char *s, const char *opt)
{
	uint64_t v;

	if (parse_uint(s, 1, 86400 * 7, &v) < 0)
		fatal(EXIT_USAGE, "%s wants whole seconds from 1 to 604800, "
		    "not '%s'", opt, s);
	return (double)v;
}

static int
cmd_keygen(int argc, char **argv)
{
	const char *file = NULL, *comment = NULL;
	int ch;

	optind = 1;
	while ((ch = getopt(argc, argv, "f:C:hqv")) != -1) {
		switch (ch) {
		case 'f': file = optarg; break;
		case 'C': comment = optarg; break;
		case 'q': verbosity = 0; break;
		case 'v': verbosity++; break;
		case 'h': usage(0);
		default: usage(EXIT_USAGE);
		}
	}
	if (optind != argc)
		usage(EXIT_USAGE);
	return peers_keygen(file, comment);
}

/* Is path a private key file (as opposed to a .pub file or inline key)? */
static int
is_private_key_file(const char *path)
{
	static const char magic[] = "psi-stream-x25519-private ";
	char head[sizeof(magic)] = "";
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return 0;
	if (fread(head, 1, sizeof(magic) - 1, f) != sizeof(magic) - 1)
		head[0] = '\0';
	fclose(f);
	return memcmp(head, magic, sizeof(magic) - 1) == 0;
}

static int
cmd_fingerprint(int argc, char **argv)
{
	uint8_t pub[32];
	char fp[PEERS_FP_LEN];
	struct identity *id;

	if (argc > 2)
		usage(EXIT_USAGE);
	if (argc == 2 && strcmp(argv[1], "-h") == 0)
		usage(0);
	if (argc == 2 && !is_private_key_file(argv[1])) {
		if (peer_key_parse(argv[1], pub) < 0)
			fatal(EXIT_USAGE, "%s: not a key file or a public key",
			    argv[1]);
		peers_fingerprint(fp, pub);
	} else {
		id = identity_load(argc == 2 ? argv[1] : NULL);
		peers_fingerprint(fp, id->pub);
		identity_free(id);
	}
	printf("%s\n", fp);
	return EXIT_OK;
}

int
main(int argc, char **argv)
{
	struct run_opts ro;
	struct rec_opts *rec = &ro.s.rec;
	const char *cmd = NULL, *oprf_key = NULL, *role = NULL;
	uint64_t v;
	int ch, delim_set = 0, progress = -1, rc;

	current_umask();
	setup_signals();
	if (sodium_init() < 0)
		fatal(EXIT_IO, "cannot initialise libsodium");

	if (argc > 1 && strcmp(argv[1], "keygen") == 0)
		return cmd_keygen(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "fingerprint") == 0)
		return cmd_fingerprint(argc - 1, argv + 1);
	if (argc > 1 && (strcmp(argv[1], "check") == 0 ||
	    strcmp(argv[1], "prf") == 0)) {
		cmd = argv[1];
		argv++;
		argc--;
	}

	memset(&ro, 0, sizeof(ro));
	ro.s.p.version = PROTOCOL_VERSION;
	rec->delim = '\t';
	ro.connect_timeout = 60;
	ro.accept_timeout = 600;
	ro.timeout = 300;
	ro.s.memory = 256u << 20;
	if ((ro.s.tmpdir = getenv("TMPDIR")) == NULL || *ro.s.tmpdir == '\0')
		ro.s.tmpdir = "/tmp";
	ro.peer_keys = xreallocarray(NULL, (size_t)argc, sizeof(char *));

	while ((ch = getopt_long(argc, argv, "o:zj:vqhV", longopts, NULL)) != -1) {
		switch (ch) {
		case OPT_LISTEN: ro.listen = optarg; break;
		case OPT_PEER: ro.peer = optarg; break;
		case OPT_ROLE:
			if (strcmp(optarg, "holder") && strcmp(optarg, "querier"))
				fatal(EXIT_USAGE, "--role wants holder or querier, "
				    "not '%s'", optarg);
			role = optarg;
			break;
		case OPT_REVEAL:
			if (strcmp(optarg, "both") == 0)
				ro.s.p.reveal = REVEAL_BOTH;
			else if (strcmp(optarg, "querier") == 0)
				ro.s.p.reveal = REVEAL_QUERIER;
			else
				fatal(EXIT_USAGE, "--reveal wants both or querier, "
				    "not '%s'", optarg);
			break;
		case OPT_COUNT_ONLY: ro.s.p.count_only = 1; break;
		case OPT_CONTEXT:
			if (strlen(optarg) >= sizeof(ro.s.p.context))
				fatal(EXIT_USAGE, "--context is limited to %zu bytes",
				    sizeof(ro.s.p.context) - 1);
			strcpy(ro.s.p.context, optarg);
			break;
		case OPT_SHARD: {
			unsigned i, n;
			char extra;
			if (sscanf(optarg, "%u/%u%c", &i, &n, &extra) != 2 ||
			    n < 1 || n > 1000000 || i < 1 || i > n)
				fatal(EXIT_USAGE, "--shard wants I/N with "
				    "1 <= I <= N, not '%s'", optarg);
			ro.s.p.shard_i = i;
			ro.s.p.shard_n = n;
			break;
		}
		case OPT_PEER_KEY: ro.peer_keys[ro.npeer_keys++] = optarg; break;
		case OPT_IDENTITY: ro.identity = optarg; break;
		case OPT_PSK_FILE: ro.psk_file = optarg; break;
		case OPT_STRICT_PEER: ro.strict_peer = 1; break;
		case OPT_INSECURE: ro.insecure = 1; break;
		case OPT_CONNECT_TIMEOUT:
			ro.connect_timeout = parse_seconds(optarg, "--connect-timeout");
			break;
		case OPT_ACCEPT_TIMEOUT:
			ro.accept_timeout = parse_seconds(optarg, "--accept-timeout");
			break;
		case OPT_TIMEOUT:
			ro.timeout = parse_seconds(optarg, "--timeout");
			break;
		case 'o': ro.s.output = optarg; break;
		case 'z': rec->zero_term = 1; break;
		case OPT_HEADER: rec->header = 1; break;
		case OPT_KEY_FIELD:
			if (parse_uint(optarg, 1, 1000000, &v) < 0)
				fatal(EXIT_USAGE, "--key-field wants a field number "
				    "from 1, not '%s'", optarg);
			rec->key_field = (unsigned)v;
			break;
		case OPT_DELIMITER:
			if (strcmp(optarg, "\\t") == 0)
				optarg = "\t";
			if (strlen(optarg) != 1)
				fatal(EXIT_USAGE, "--delimiter wants one character, "
				    "not '%s'", optarg);
			rec->delim = optarg[0];
			delim_set = 1;
			break;
		case OPT_CSV: rec->csv = 1; break;
		case OPT_TRIM: rec->trim = 1; break;
		case OPT_IGNORE_CASE: rec->ignore_case = 1; break;
		case OPT_SKIP_INVALID: rec->skip_invalid = 1; break;
		case OPT_OPRF_KEY: oprf_key = optarg; break;
		case OPT_MEMORY:
			if (parse_size(optarg, &ro.s.memory) < 0)
				fatal(EXIT_USAGE, "--memory wants a size like 512M "
				    "or 4G, not '%s'", optarg);
			if (ro.s.memory < SESSION_MIN_MEMORY)
				fatal(EXIT_USAGE, "--memory %s is too small: at "
				    "least %uM is needed", optarg,
				    SESSION_MIN_MEMORY >> 20);
			break;
		case OPT_TMPDIR: ro.s.tmpdir = optarg; break;
		case OPT_STATS: ro.s.stats = optarg; break;
		case OPT_PROGRESS: progress = 1; break;
		case OPT_NO_PROGRESS: progress = 0; break;
		case 'j':
			if (parse_uint(optarg, 1, 256, &v) < 0)
				fatal(EXIT_USAGE, "--threads wants a number from 1 "
				    "to 256, not '%s'", optarg);
			ro.s.threads = (int)v;
			break;
		case 'v': verbosity++; break;
		case 'q': verbosity = 0; break;
		case 'h': usage(0);
		case 'V': printf("psi-stream %s\n", PACKAGE_VERSION); return 0;
		default: usage(EXIT_USAGE);
		}
	}
	if (rec->csv && !delim_set)
		rec->delim = ',';
	if (rec->csv && rec->key_field == 0)
		rec->key_field = 1;
	ro.s.p.trim = (uint8_t)rec->trim;
	ro.s.p.ignore_case = (uint8_t)rec->ignore_case;
	ro.s.files = argv + optind;
	ro.s.nfiles = argc - optind;

	if (cmd && strcmp(cmd, "check") == 0)
		rc = cmd_check(rec, ro.s.files, ro.s.nfiles);
	else if (cmd && strcmp(cmd, "prf") == 0)
		rc = cmd_prf(oprf_key, rec, ro.s.files, ro.s.nfiles,
		    ro.s.threads);
	else {
		progress_init(verbosity > 0 ? progress : 0);
		if (!ro.listen == !ro.peer)
			fatal(EXIT_USAGE, "give exactly one of --listen PORT and "
			    "--peer HOST:PORT (see psi-stream --help)");
		if (role)
			ro.s.p.role = strcmp(role, "holder") == 0 ?
			    ROLE_HOLDER : ROLE_QUERIER;
		else
			ro.s.p.role = ro.listen ? ROLE_HOLDER : ROLE_QUERIER;
		rc = cmd_run(&ro);
	}
	free(ro.peer_keys);
	return rc;
}
