/* channel.c: placeholder, filled in by its issue. */
typedef int psi_channel_placeholder;
