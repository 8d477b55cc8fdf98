/*
 * check.h: `psi-stream check`, the input pre-flight: parses FILEs with the
 * same record options as a run and reports records, keys, empty and invalid
 * records and an estimate of duplicate keys.
 */
#ifndef PSI_CHECK_H
#define PSI_CHECK_H

#include "records.h"

/* Returns the exit status: 0 if every record is valid, 1 otherwise. */
int	cmd_check(const struct rec_opts *, char **files, int nfiles);

#endif
