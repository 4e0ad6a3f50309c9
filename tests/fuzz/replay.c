/*
 * Replay a fuzz target's corpus without libFuzzer: every file in each
 * directory given goes through LLVMFuzzerTestOneInput once. Built in every
 * build, so the seed corpus and each crash the fuzzers found (added to the
 * corpus as a regression) run under the unit suite, and under ASan+UBSan.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Read a whole file; NULL if it cannot be read. */
static uint8_t *slurp(const char *path, size_t *size)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf = NULL;
	long n;

	if (fp == NULL)
		return NULL;
	if (fseek(fp, 0, SEEK_END) == 0 && (n = ftell(fp)) >= 0 &&
	    fseek(fp, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		*size = fread(buf, 1, (size_t)n, fp);
	}
	fclose(fp);
	return buf;
}

/* Replay each regular file of dir, in name order; -1 if dir is unreadable. */
static int replay_dir(const char *dir, size_t *count)
{
	struct dirent **names;
	char path[4096];
	uint8_t *data;
	size_t size = 0;
	int n, i;

	n = scandir(dir, &names, NULL, alphasort);
	if (n < 0) {
		perror(dir);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.') {
			snprintf(path, sizeof path, "%s/%s", dir,
				 names[i]->d_name);
			data = slurp(path, &size);
			if (data != NULL) {
				printf("replay %s (%zu bytes)\n", path, size);
				fflush(stdout);
				LLVMFuzzerTestOneInput(data, size);
				free(data);
				(*count)++;
			}
		}
		free(names[i]);
	}
	free(names);
	return 0;
}

/* replay DIR...: every input of every directory; exit 1 if one is missing. */
int main(int argc, char **argv)
{
	size_t count = 0;
	int i, rc = 0;

	for (i = 1; i < argc; i++)
		rc |= replay_dir(argv[i], &count);
	printf("%zu inputs replayed\n", count);
	return rc != 0 || count == 0;
}
