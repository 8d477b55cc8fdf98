/* session.c: placeholder, filled in by its issue. */
typedef int psi_session_placeholder;
