/*
 * benchlib.c: helpers shared by the sorter benchmarks (see benchlib.h).
 */
#include <sys/stat.h>

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "benchlib.h"

uint64_t
splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void
spill_bytes(const char *dir, long long *written, long long *held)
{
	char path[PATH_MAX], link[PATH_MAX];
	struct dirent *e;
	struct stat st;
	size_t dl = strlen(dir);
	ssize_t n;
	DIR *d;

	*written = *held = 0;
	if ((d = opendir("/proc/self/fd")) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (snprintf(path, sizeof(path), "/proc/self/fd/%s",
		    e->d_name) >= (int)sizeof(path))
			continue;
		if ((n = readlink(path, link, sizeof(link) - 1)) <= 0)
			continue;
		link[n] = '\0';
		if (strncmp(link, dir, dl) == 0 && link[dl] == '/' &&
		    stat(path, &st) == 0) {
			*written += st.st_size;
			*held += (long long)st.st_blocks * 512;
		}
	}
	closedir(d);
}
