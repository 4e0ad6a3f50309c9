/*
 * The watchdog's readers of /proc and cgroupfs (lib/watchdog/procfs.c,
 * compiled in) on text with no length limit: mountinfo lines past 1,024
 * characters, escaped mount points, cgroup paths past PATH_MAX, memory.stat
 * larger than the read buffer, and lines longer than it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "watchdog-internal.h"
#include "unit.h"

/* A stream over text. */
static FILE *stream(const char *text)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");

	assert_non_null(f);
	return f;
}

/* A string of n copies of c. */
static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* Octal escapes are decoded; anything else is left as it is. */
static void test_unescape(void **state)
{
	char s[] = "/a\\040b\\011c\\012d\\134e\\9x\\04";

	wd_unescape(s);
	assert_string_equal(s, "/a b\tc\nd\\e\\9x\\04");
}

/* The memory mount is found on any line: past 1,024 characters, after
 * optional fields, with an escaped space in its mount point; "memory" must
 * be a whole option, and v2 wants cgroup2. */
static void test_find_mount(void **state)
{
	char *longdir = repeat('d', 1500), *text, *mnt, *root;
	FILE *f;

	assert_true(asprintf(&text,
			     "22 1 8:1 / / rw - ext4 /dev/vda rw\n"
			     "30 22 0:26 / /sys/fs/cgroup/cpu rw shared:9 - "
			     "cgroup cgroup rw,cpu\n"
			     "31 22 0:27 / /x/nomem rw - cgroup cgroup "
			     "rw,nomemory,memory_x\n"
			     "35 31 0:32 /sub /mnt/%s/with\\040space rw "
			     "shared:5 master:1 - cgroup cgroup rw,memory\n"
			     "40 22 0:40 / /sys/fs/cgroup/unified rw - cgroup2 "
			     "cgroup2 rw\n",
			     longdir) > 0);
	f = stream(text);
	assert_int_equal(wd_find_mount(f, 1, &mnt, &root), 0);
	fclose(f);
	assert_int_equal(strlen(mnt), strlen("/mnt//with space") + 1500);
	assert_non_null(strstr(mnt, "/with space"));
	assert_string_equal(root, "/sub");
	free(mnt);
	free(root);
	f = stream(text);
	assert_int_equal(wd_find_mount(f, 2, &mnt, &root), 0);
	fclose(f);
	assert_string_equal(mnt, "/sys/fs/cgroup/unified");
	free(mnt);
	free(root);
	f = stream("22 1 8:1 / / rw - ext4 /dev/vda rw\n"
		   "31 22 0:27 / /x rw - cgroup cgroup rw,nomemory\n"
		   "32 22 0:28 / /y rw - cgroup cgroup\n" /* short */
		   "bad line\n");
	assert_int_equal(wd_find_mount(f, 1, &mnt, &root), -1);
	assert_null(mnt);
	fclose(f);
	free(text);
	free(longdir);
}

/* Our path: the v1 memory line wins over v2's; paths with colons and
 * longer than PATH_MAX are kept whole. */
static void test_find_cgroup(void **state)
{
	char *deep = repeat('p', 5000), *text, *path;
	FILE *f;

	f = stream("0::/user.slice/a.scope\n");
	assert_int_equal(wd_find_cgroup(f, &path), 2);
	assert_string_equal(path, "/user.slice/a.scope");
	free(path);
	fclose(f);
	assert_true(asprintf(&text,
			     "0::/v2/path\n"
			     "9:cpu,cpuacct:/elsewhere\n"
			     "4:memory:/k8s/pod:1/%s\n"
			     "5:memory_x:/not/this\n",
			     deep) > 0);
	f = stream(text);
	assert_int_equal(wd_find_cgroup(f, &path), 1);
	assert_int_equal(strlen(path), strlen("/k8s/pod:1/") + 5000);
	assert_int_equal(strncmp(path, "/k8s/pod:1/ppp", 14), 0);
	free(path);
	fclose(f);
	f = stream("9:cpu:/x\n");
	assert_int_equal(wd_find_cgroup(f, &path), 0);
	assert_null(path);
	fclose(f);
	free(text);
	free(deep);
}

/* A file written for the scan. */
static int scan_file(const char *text)
{
	char name[] = "/tmp/rcl-scan-XXXXXX";
	int fd = mkstemp(name);

	assert_true(fd >= 0);
	unlink(name);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	return fd;
}

/* memory.stat of any size: the key past the buffer is found; one inside a
 * line longer than the buffer is not mistaken for the key; nor is a key
 * that only starts like it. */
static void test_scan_key(void **state)
{
	char buf[256], *filler = repeat('x', 5000), *text;
	uint64_t v = 0;
	int fd;
	size_t n = 0;

	text = malloc(64 * 1024);
	assert_non_null(text);
	for (int i = 0; i < 400; i++)
		n += (size_t)sprintf(text + n, "key_%d %d\n", i, i);
	n += (size_t)sprintf(text + n, "inactive_file_x 7\n");
	n += (size_t)sprintf(text + n, "long %s inactive_file 9\n", filler);
	n += (size_t)sprintf(text + n, "inactive_file 123456\nactive 1\n");
	fd = scan_file(text);
	assert_true(n > 4 * sizeof buf);
	assert_true(wd_scan_key(fd, "inactive_file", &v, buf, sizeof buf));
	assert_int_equal(v, 123456);
	assert_true(wd_scan_key(fd, "key_0", &v, buf, sizeof buf));
	assert_int_equal(v, 0);
	assert_true(wd_scan_key(fd, "active", &v, buf, sizeof buf));
	assert_int_equal(v, 1);
	assert_false(wd_scan_key(fd, "absent", &v, buf, sizeof buf));
	close(fd);
	/* a file that ends without a newline */
	fd = scan_file("a 1\ntotal_inactive_file 42");
	assert_true(wd_scan_key(fd, "total_inactive_file", &v, buf, 32));
	assert_int_equal(v, 42);
	close(fd);
	assert_false(wd_scan_key(-1, "a", &v, buf, sizeof buf));
	free(text);
	free(filler);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_unescape),
	    cmocka_unit_test(test_find_mount),
	    cmocka_unit_test(test_find_cgroup),
	    cmocka_unit_test(test_scan_key),
	};

	return unit_run(argc, argv, tests);
}
