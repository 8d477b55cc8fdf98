/*
 * t_engine_ot.c: the OT engine (engine-ot.c) end to end without the
 * session: both roles on two threads over a socketpair with fixed
 * transport keys, keys pulled from memory, values emitted into arrays.
 * For each case the querier's records whose value equals one of the
 * holder's values must be exactly the records whose key the holder has
 * (full 128-bit values, so no false match is expected), every querier
 * record gets exactly one value and every holder record three:
 * - sizes around one bucket, the smallest memory share, many tiny
 *   buckets (the test hook
 *   PSI_STREAM_TEST_OT_BUCKET), empty sides, disjoint, identical, nested
 *   and heavily duplicated sets, unbalanced 1:1000 both ways;
 * - a negative twin: a value of a non-member never matches, and the same
 *   key set in another session (another handshake hash) gives other
 *   values.
 */
#include <sys/socket.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "channel.h"
#include "engine-ot.h"
#include "engine.h"
#include "noise.h"
#include "params.h"
#include "pool.h"
#include "util.h"
#include "tap.h"

static size_t test_mem = 8u << 20;	/* each side's engine share */

struct party {
	const struct engine_role *role;
	struct engine_ctx	 ctx;
	uint64_t		*keys;		/* key i = decimal text of keys[i] */
	size_t			 n, next;
	u128			*val;		/* emitted values */
	uint64_t		*idx;
	size_t			 nval, cap;
};

static size_t
pull(void *sess, struct key_batch *kb, size_t max)
{
	struct party *p = sess;
	char buf[32];
	int len;

	kb_clear(kb, p->next);
	while (kb->n < max && p->next < p->n) {
		len = snprintf(buf, sizeof(buf), "key-%llu",
		    (unsigned long long)p->keys[p->next]);
		if (!kb_fits(kb, (size_t)len))
			break;
		kb_add(kb, (const uint8_t *)buf, (size_t)len);
		p->next++;
	}
	p->ctx.nkeys = p->next;
	return kb->n;
}

static void
emit(void *sess, u128 v, uint64_t index)
{
	struct party *p = sess;

	if (p->nval == p->cap) {
		p->cap = p->cap ? 2 * p->cap : 1024;
		p->val = xreallocarray(p->val, p->cap, sizeof(*p->val));
		p->idx = xreallocarray(p->idx, p->cap, sizeof(*p->idx));
	}
	p->val[p->nval] = v;
	p->idx[p->nval++] = index;
}

static void *
run_party(void *arg)
{
	struct party *p = arg;

	p->role->start(&p->ctx);
	p->role->finish(&p->ctx);
	return NULL;
}

static int
cmp128(const void *a, const void *b)
{
	u128 x = *(const u128 *)a, y = *(const u128 *)b;

	return x < y ? -1 : x > y;
}

static int
cmp64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* keys sorted by the caller */
static int
has_key(const uint64_t *keys, size_t n, uint64_t k)
{
	return n > 0 && bsearch(&k, keys, n, sizeof(k), cmp64) != NULL;
}

/* Run one session; returns 1 if every check holds. */
static int
session(const char *name, uint64_t *qk, size_t nq, uint64_t *hk, size_t nh,
    uint8_t hs_byte, u128 **qvals)
{
	struct party q = { 0 }, h = { 0 };
	struct noise_cipher a = { { 0 }, 0 }, b = { { 0 }, 0 };
	uint8_t hs[NOISE_HASH];
	struct params par = { 0 };
	pthread_t tq, th;
	int sv[2], good = 1;
	size_t i, *hits = xcalloc(nq ? nq : 1, sizeof(size_t)), bad = 0;
	u128 *sorted;
	uint64_t *hsorted = xmalloc((nh ? nh : 1) * sizeof(uint64_t));

	memset(hs, hs_byte, sizeof(hs));
	memset(a.k, 1, sizeof(a.k));
	memset(b.k, 2, sizeof(b.k));
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		return 0;
	q.role = &engine_ot.querier;
	h.role = &engine_ot.holder;
	q.keys = qk;
	q.n = nq;
	h.keys = hk;
	h.n = nh;
	q.ctx.ch = ch_new_keyed(sv[0], 30, "holder", &a, &b);
	h.ctx.ch = ch_new_keyed(sv[1], 30, "querier", &b, &a);
	q.ctx.sess = &q;
	h.ctx.sess = &h;
	q.ctx.p = h.ctx.p = &par;
	q.ctx.hs_hash = h.ctx.hs_hash = hs;
	q.ctx.frame = xmalloc(CH_MAX_PAYLOAD);
	h.ctx.frame = xmalloc(CH_MAX_PAYLOAD);
	q.ctx.pool = pool_new(2);
	h.ctx.pool = pool_new(2);
	q.ctx.tmpdir = h.ctx.tmpdir = getenv("TMPDIR") ? getenv("TMPDIR") :
	    "/tmp";
	q.ctx.mem = h.ctx.mem = test_mem;
	q.ctx.next_keys = h.ctx.next_keys = pull;
	q.ctx.emit = h.ctx.emit = emit;
	pthread_create(&tq, NULL, run_party, &q);
	pthread_create(&th, NULL, run_party, &h);
	pthread_join(tq, NULL);
	pthread_join(th, NULL);

	if (q.ctx.peer_keys != nh || h.ctx.peer_keys != nq) {
		diag("%s: counts %llu/%llu", name,
		    (unsigned long long)q.ctx.peer_keys,
		    (unsigned long long)h.ctx.peer_keys);
		good = 0;
	}
	if (q.nval != nq || h.nval != 3 * nh) {
		diag("%s: %zu querier values for %zu records, %zu holder "
		    "values for %zu", name, q.nval, nq, h.nval, nh);
		good = 0;
	}
	sorted = xmalloc((h.nval ? h.nval : 1) * sizeof(u128));
	if (h.nval > 0)
		memcpy(sorted, h.val, h.nval * sizeof(u128));
	qsort(sorted, h.nval, sizeof(u128), cmp128);
	if (nh > 0)
		memcpy(hsorted, hk, nh * sizeof(uint64_t));
	qsort(hsorted, nh, sizeof(uint64_t), cmp64);
	for (i = 0; i < q.nval; i++) {
		int hit = bsearch(&q.val[i], sorted, h.nval, sizeof(u128),
		    cmp128) != NULL;

		if (q.idx[i] >= nq) {
			good = 0;
			continue;
		}
		hits[q.idx[i]]++;
		if (hit != has_key(hsorted, nh, qk[q.idx[i]]))
			bad++;
	}
	for (i = 0; i < nq; i++)
		if (hits[i] != 1)
			good = 0;
	if (bad) {
		diag("%s: %zu records matched wrongly", name, bad);
		good = 0;
	}
	if (qvals != NULL) {
		*qvals = q.val;
		q.val = NULL;
	}
	ch_close(q.ctx.ch);
	ch_close(h.ctx.ch);
	pool_free(q.ctx.pool);
	pool_free(h.ctx.pool);
	free(q.ctx.frame);
	free(h.ctx.frame);
	free(q.val);
	free(q.idx);
	free(h.val);
	free(h.idx);
	free(sorted);
	free(hsorted);
	free(hits);
	return good;
}

static uint64_t *
range(uint64_t lo, size_t n, uint64_t step)
{
	uint64_t *k = xcalloc(n ? n : 1, sizeof(*k));
	size_t i;

	for (i = 0; i < n; i++)
		k[i] = lo + i * step;
	return k;
}

static void
check(const char *name, uint64_t *qk, size_t nq, uint64_t *hk, size_t nh)
{
	ok(session(name, qk, nq, hk, nh, 7, NULL), "%s (%zu x %zu)", name,
	    nq, nh);
	free(qk);
	free(hk);
}

int
main(void)
{
	uint64_t *a, *b;
	u128 *v1, *v2;
	size_t i, same;

	if (sodium_init() < 0)
		return 1;
	verbosity = 0;
	check("overlap, one bucket", range(0, 3000, 1), 3000,
	    range(1500, 2500, 1), 2500);
	check("one key over a bucket", range(0, 4097, 1), 4097,
	    range(4000, 4096, 1), 4096);
	check("empty querier", range(0, 0, 1), 0, range(0, 100, 1), 100);
	check("empty holder", range(0, 100, 1), 100, range(0, 0, 1), 0);
	check("both empty", range(0, 0, 1), 0, range(0, 0, 1), 0);
	check("disjoint", range(0, 777, 2), 777, range(1, 900, 2), 900);
	check("identical", range(5, 1234, 3), 1234, range(5, 1234, 3), 1234);
	check("nested", range(100, 50, 1), 50, range(0, 2000, 1), 2000);
	/* heavy duplicates: 4000 records, 7 distinct keys */
	a = range(0, 4000, 1);
	b = range(0, 3000, 1);
	for (i = 0; i < 4000; i++)
		a[i] %= 7;
	for (i = 0; i < 3000; i++)
		b[i] = b[i] % 5 + 3;
	check("heavy duplicates", a, 4000, b, 3000);
	check("unbalanced 1:1000", range(10, 5, 1), 5, range(0, 5000, 1),
	    5000);
	check("unbalanced 1000:1", range(0, 5000, 1), 5000, range(4998, 5, 1),
	    5);

	/* the engine's share of the smallest --memory (8M less the 4 MiB
	 * reserve, 40% of it) holds the largest bucket and the sorter;
	 * 20000 keys are 5 buckets of 4096 on average, as with any memory */
	test_mem = (8u << 20) - (4u << 20);
	test_mem = test_mem / 100 * 40;
	check("smallest memory share, five buckets", range(0, 20000, 1),
	    20000, range(15000, 9000, 1), 9000);
	test_mem = 8u << 20;

	setenv("PSI_STREAM_TEST_OT_BUCKET", "64", 1);
	check("tiny buckets", range(0, 3001, 1), 3001, range(2000, 4097, 1),
	    4097);
	check("tiny buckets, identical", range(0, 999, 1), 999,
	    range(0, 999, 1), 999);
	unsetenv("PSI_STREAM_TEST_OT_BUCKET");

	/* negative twin: another session, other values for the same keys */
	a = range(0, 200, 1);
	b = range(0, 200, 1);
	session("s1", a, 200, b, 200, 1, &v1);
	session("s2", a, 200, b, 200, 2, &v2);
	qsort(v2, 200, sizeof(u128), cmp128);
	same = 0;
	for (i = 0; i < 200; i++)
		same += bsearch(&v1[i], v2, 200, sizeof(u128), cmp128) != NULL;
	ok(same == 0, "another handshake hash gives other values (%zu same)",
	    same);
	free(a);
	free(b);
	free(v1);
	free(v2);
	return done_testing();
}
