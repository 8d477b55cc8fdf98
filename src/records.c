/* records.c: placeholder, filled in by its issue. */
typedef int psi_records_placeholder;
