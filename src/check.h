/*
 * check.h: `psi-stream check`, the input pre-flight: parses FILEs with the
 * same record options as a run and reports records, keys, empty and invalid
 * records and an estimate of duplicate keys; honours --shard, -j and
 * --memory like a run and writes --stats (main.c's option table refuses
 * the options of a run).
 */
#ifndef PSI_CHECK_H
#define PSI_CHECK_H

#include "session.h"

/* Parses so->files with so->rec, counting only the keys of --shard
 * (so->p.shard_i/n) on -j threads; writes --stats JSON (so->stats) on
 * success and failure.  Returns the exit status: 0 if every record is
 * valid, 1 otherwise. */
int	cmd_check(const struct session_opts *so);

#endif
