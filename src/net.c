/* net.c: placeholder, filled in by its issue. */
typedef int psi_net_placeholder;
