/*
 * t_params.c: the session parameters (params.c): encode/decode round
 * trip, the version read first, and the engine id compared like the other
 * settings: an unknown engine id from the peer is a mismatch naming both
 * engines, exit 5 through params_check (run in a child), while the same
 * engine passes.  What the peer is told names the option that differs and
 * never a value.  Also the shard hash's range and stability.
 */
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "engine.h"
#include "params.h"
#include "tap.h"
#include "util.h"

/* In the child: what an ERROR frame would tell the peer, on stderr first. */
static void
print_told(int status, const char *told, const char *msg)
{
	(void)status;
	(void)msg;
	fprintf(stderr, "told: %s\n", told ? told : "(nothing)");
}

static void
ours(struct params *p, int role)
{
	memset(p, 0, sizeof(*p));
	p->version = PROTOCOL_VERSION;
	p->role = (uint8_t)role;
	p->engine = ENGINE_DH;
	p->key_fields = 1;
	strcpy(p->context, "nightly");
}

/* Does err, from check_in_child, start with "told: <what>\n"? */
static int
told_is(const char *err, const char *what)
{
	size_t n = strlen(what);

	return strncmp(err, "told: ", 6) == 0 && strncmp(err + 6, what, n) == 0
	    && err[6 + n] == '\n';
}

/* params_check in a child: its exit status (0 if it returned) and the
 * whole of its stderr in err: "told: <what the peer hears>", then our
 * own line. */
static int
check_in_child(const struct params *us, const uint8_t *b, size_t len,
    char *err, size_t errlen)
{
	int pfd[2], st;
	pid_t pid;
	ssize_t n;
	size_t got;

	if (pipe(pfd) < 0 || (pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		dup2(pfd[1], 2);
		close(pfd[0]);
		set_fatal_hook(print_told);
		params_check(us, b, len, "test");
		_exit(0);
	}
	close(pfd[1]);
	got = 0;		/* to EOF: the line may come in several writes */
	while (got < errlen - 1 &&
	    (n = read(pfd[0], err + got, errlen - 1 - got)) > 0)
		got += (size_t)n;
	err[got] = '\0';
	close(pfd[0]);
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

int
main(void)
{
	struct params h, q, got;
	uint8_t enc[PARAMS_MAX];
	char err[700];
	size_t len;

	if (sodium_init() < 0)
		return 1;
	ours(&h, ROLE_HOLDER);
	ours(&q, ROLE_QUERIER);
	q.shard_i = 2;
	q.shard_n = 5;
	h.shard_i = 2;
	h.shard_n = 5;
	len = params_encode(&q, enc);
	ok(len == 16 + strlen("nightly"), "encoding: 16 bytes + context (%zu)",
	    len);
	ok(enc[0] == PROTOCOL_VERSION && enc[5] == ENGINE_DH,
	    "version at offset 0, engine id at offset 5");
	ok(params_decode(&got, enc, len, err, sizeof(err)) == 0 &&
	    got.engine == ENGINE_DH && got.role == ROLE_QUERIER &&
	    got.shard_i == 2 && got.shard_n == 5 &&
	    strcmp(got.context, "nightly") == 0, "decode gives what was encoded");
	ok(params_compare(&h, &got, err, sizeof(err)) == 0,
	    "same engine, same settings: they agree");

	/* the engine id: an unknown one is named, both ways */
	enc[5] = 7;
	ok(params_decode(&got, enc, len, err, sizeof(err)) == 0,
	    "an unknown engine id decodes (it is a mismatch, not garbage)");
	ok(params_compare(&h, &got, err, sizeof(err)) < 0 &&
	    strcmp(err, "peer uses --engine #7, we use --engine dh") == 0,
	    "unknown engine: mismatch naming both (%s)", err);
	ok(check_in_child(&h, enc, len, err, sizeof(err)) == 5 &&
	    strstr(err, "peer uses --engine #7, we use --engine dh") != NULL,
	    "params_check: exit 5 naming both engines");
	ok(told_is(err, "parameters differ: engine"),
	    "... and the peer is told the option only");
	enc[5] = ENGINE_OT;
	ok(params_decode(&got, enc, len, err, sizeof(err)) == 0 &&
	    params_compare(&h, &got, err, sizeof(err)) < 0 &&
	    strcmp(err, "peer uses --engine ot, we use --engine dh") == 0,
	    "the reserved ot engine is named (%s)", err);
	enc[5] = ENGINE_DH;
	ok(check_in_child(&h, enc, len, err, sizeof(err)) == 0,
	    "params_check: the same engine returns");
	enc[5] = 0;
	ok(params_decode(&got, enc, len, err, sizeof(err)) < 0 &&
	    strstr(err, "invalid session parameters") != NULL,
	    "engine id 0 is invalid");
	enc[5] = ENGINE_DH;

	/* the version is read before the rest */
	enc[0] = PROTOCOL_VERSION + 1;
	ok(params_decode(&got, enc, 1, err, sizeof(err)) < 0 &&
	    strstr(err, "speaks protocol version") != NULL,
	    "another version is named even when the rest is missing");
	ok(check_in_child(&h, enc, 1, err, sizeof(err)) == 5 &&
	    told_is(err, "parameters differ: protocol version"),
	    "... and the peer is told the version differs");
	enc[0] = PROTOCOL_VERSION;
	ok(params_decode(&got, enc, len - 1, err, sizeof(err)) < 0 &&
	    strstr(err, "malformed") != NULL, "a short encoding is malformed");
	ok(check_in_child(&h, enc, len - 1, err, sizeof(err)) == 5 &&
	    told_is(err, "incompatible peer or protocol violation"),
	    "... which is a protocol violation, not a difference");

	/* one table compares the one-byte settings */
	params_decode(&got, enc, len, err, sizeof(err));
	got.trim = 1;
	ok(params_compare(&h, &got, err, sizeof(err)) < 0 &&
	    strcmp(err, "peer uses --trim, we do not") == 0,
	    "a flag that differs (%s)", err);
	got.trim = 0;
	got.reveal = REVEAL_QUERIER;
	ok(params_compare(&h, &got, err, sizeof(err)) < 0 &&
	    strcmp(err, "peer uses --reveal querier, we use --reveal both") == 0,
	    "a choice that differs (%s)", err);
	got.reveal = REVEAL_BOTH;

	/* the number of key fields (--key-field 2,5) */
	enc[14] = 2;
	ok(params_decode(&got, enc, len, err, sizeof(err)) == 0 &&
	    got.key_fields == 2 && params_compare(&h, &got, err, sizeof(err)) < 0 &&
	    strcmp(err, "peer's keys have 2 fields (--key-field), ours have 1") == 0,
	    "key field counts that differ are named (%s)", err);
	ok(check_in_child(&h, enc, len, err, sizeof(err)) == 5 &&
	    told_is(err, "parameters differ: key-field"),
	    "params_check: exit 5 on a key field count mismatch, told so");
	h.key_fields = 2;
	ok(params_compare(&h, &got, err, sizeof(err)) == 0,
	    "negative: the same count agrees");
	h.key_fields = 1;
	enc[14] = 0;
	ok(params_decode(&got, enc, len, err, sizeof(err)) < 0,
	    "a count of 0 fields is invalid");
	enc[14] = 1;
	params_decode(&got, enc, len, err, sizeof(err));
	got.role = ROLE_HOLDER;
	ok(params_compare(&h, &got, err, sizeof(err)) < 0 &&
	    strstr(err, "both sides are holders") != NULL, "same roles");

	/* the context: its name is told, never its value */
	strcpy(q.context, "secret-merger");
	len = params_encode(&q, enc);
	ok(check_in_child(&h, enc, len, err, sizeof(err)) == 5 &&
	    told_is(err, "parameters differ: context") &&
	    strstr(err, "peer uses --context 'secret-merger', we use "
	    "'nightly'") != NULL, "another context: told 'context', both "
	    "values in our own line");
	strcpy(q.context, "nightly");
	len = params_encode(&q, enc);
	ok(check_in_child(&h, enc, len, err, sizeof(err)) == 0 && err[0] == 0,
	    "negative: the same context returns, nothing told");

	ok(engine_by_name("dh") == engine_by_id(ENGINE_DH) &&
	    engine_by_id(ENGINE_DH) != NULL && engine_by_name("ot") != NULL &&
	    engine_by_name("ot") == engine_by_id(ENGINE_OT) &&
	    engine_by_id(99) == NULL, "engines by name and id");

	{
		uint32_t s = shard_of((const uint8_t *)"alice", 5, 7);
		int in_range = 1;
		for (int i = 0; i < 200; i++) {
			char k[16];
			int n = snprintf(k, sizeof(k), "key%d", i);
			uint32_t v = shard_of((const uint8_t *)k, (size_t)n, 3);
			in_range &= v >= 1 && v <= 3;
		}
		ok(s >= 1 && s <= 7 && s == shard_of((const uint8_t *)"alice",
		    5, 7) && in_range, "shard_of: 1..n, the same every time");
	}
	return done_testing();
}
