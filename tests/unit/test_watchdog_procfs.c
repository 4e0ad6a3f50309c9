/* The built-in memory source (lib/watchdog/procfs.c, memstat.c): this
 * machine, cgroup v2 and v1 trees in files, smaps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <reclaim/reclaim.h>
#include <reclaim/watchdog.h>

/* rcl_watchdog_config_set and the parsers are deprecated (watchdog.h), and
 * tested here on purpose while the ABI keeps them. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

#include "unit.h"
#include "watchdog_fake.h"

/* Write text into dir/name. */
static void put(const char *dir, const char *name, const char *text)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* mkdir base/rel and return its path in out. */
static void dir(char *out, size_t len, const char *base, const char *rel)
{
	assert_true(strlen(base) + strlen(rel) + 2 <= len);
	strcpy(out, base);
	strcat(out, "/");
	strcat(out, rel);
	assert_true(mkdir(out, 0755) == 0 || errno == EEXIST);
}

/* The built-in source reads this machine: a limit, a usage, an RSS. */
static void test_probe(void **state)
{
	rcl_watchdog_sample s;
	rcl_watchdog_config c;
	char cg[256];

	assert_int_equal(rcl_watchdog_probe(NULL, &s, cg, sizeof cg), 0);
	assert_true(s.limit > 0);
	assert_true(s.usage > 0);
	assert_true(s.rss > 0);
	assert_true(s.limit_source != RCL_WATCHDOG_LIMIT_UNKNOWN);
	rcl_watchdog_config_init(&c);
	c.limit_bytes = 4096;
	assert_int_equal(rcl_watchdog_probe(&c, &s, NULL, 0), 0);
	assert_int_equal(s.limit, 4096);
	assert_int_equal(s.limit_source, RCL_WATCHDOG_LIMIT_CONFIG);
	assert_int_equal(s.usage, s.rss);
}

/*
 * A cgroup v2 tree in files (this machine's kernel has v1 for memory, so
 * the v2 reading is checked on a copy of its files): the tightest limit up
 * the hierarchy binds, memory.high counts as a limit, usage is the limiting
 * cgroup's memory.current less its inactive_file, oom_kill comes from its
 * memory.events, and a changed limit is seen at the next refresh.
 */
static void test_cgroup_v2_files(void **state)
{
	char base[] = "/tmp/rcl-cg2-XXXXXX", top[512], parent[512], child[512];
	rcl_watchdog_memstat ms;
	rcl_watchdog_config cfg;
	rcl_watchdog_sample s;
	char where[256], err[1100];

	assert_non_null(mkdtemp(base));
	dir(top, sizeof top, base, "top");
	put(top, "memory.stat", "anon 0\n");
	put(top, "memory.current", "0\n");
	dir(parent, sizeof parent, top, "parent");
	dir(child, sizeof child, parent, "child");
	put(parent, "memory.max", "536870912\n");
	put(parent, "memory.high", "max\n");
	put(parent, "memory.current", "419430400\n");
	put(parent, "memory.stat",
	    "anon 1\nfile 2\nkernel 3\nkernel_stack 1\nslab 2\n"
	    "inactive_file 52428800\n");
	put(parent, "memory.events",
	    "low 0\nhigh 0\nmax 3\noom 2\noom_kill 2\n");
	put(child, "memory.max", "max\n");
	put(child, "memory.high", "max\n");
	put(child, "memory.current", "314572800\n");
	put(child, "memory.stat",
	    "anon 5\nanon_thp 7\nfile 6\nslab 3\nkernel_stack 4\n"
	    "pagetables 1\ninactive_file 104857600\n");
	put(child, "memory.events", "oom_kill 0\n");

	rcl_watchdog_config_init(&cfg);
	assert_int_equal(
	    rcl_watchdog_config_set(&cfg, "cgroup", child, err, sizeof err), 0);
	assert_int_equal(rcl_watchdog_probe(&cfg, &s, where, sizeof where), 0);
	assert_int_equal(s.limit_source, RCL_WATCHDOG_LIMIT_CGROUP_V2);
	assert_int_equal(s.limit, 512 * MiB);
	assert_string_equal(where, parent);
	assert_int_equal(s.raw_usage, 400 * MiB);
	assert_int_equal(s.reclaimable, 50 * MiB);
	assert_int_equal(s.usage, 350 * MiB);
	assert_int_equal(s.oom_kills, 2);
	/* the breakdown is the limiting cgroup's, one key not another's
	 * prefix (anon, not anon_thp) */
	assert_int_equal(rcl_watchdog_memstat_probe(&cfg, &ms), 0);
	assert_int_equal(ms.version, 2);
	assert_string_equal(ms.cgroup, parent);
	assert_int_equal(ms.anon, 1);
	assert_int_equal(ms.file, 2);
	assert_int_equal(ms.kernel, 3);
	assert_int_equal(ms.oom_kills, 2);

	/* memory.high below every max binds, on the child itself */
	put(child, "memory.high", "268435456\n");
	assert_int_equal(rcl_watchdog_probe(&cfg, &s, where, sizeof where), 0);
	assert_int_equal(s.limit, 256 * MiB);
	assert_string_equal(where, child);
	assert_int_equal(s.usage, 200 * MiB);
	assert_int_equal(s.oom_kills, 0);
	/* before Linux 5.18 there is no "kernel": its parts are summed */
	assert_int_equal(rcl_watchdog_memstat_probe(&cfg, &ms), 0);
	assert_string_equal(ms.cgroup, child);
	assert_int_equal(ms.anon, 5);
	assert_int_equal(ms.file, 6);
	assert_int_equal(ms.kernel, 3 + 4 + 1);
	assert_int_equal(ms.oom_kills, 0);

	/* a configured limit tighter than the cgroup's wins */
	assert_int_equal(
	    rcl_watchdog_config_set(&cfg, "limit", "128M", err, sizeof err), 0);
	assert_int_equal(rcl_watchdog_probe(&cfg, &s, NULL, 0), 0);
	assert_int_equal(s.limit, 128 * MiB);
	assert_int_equal(s.limit_source, RCL_WATCHDOG_LIMIT_CONFIG);

	/* bad values are clear errors */
	assert_int_equal(rcl_watchdog_config_set(&cfg, "cgroup", "relative/x",
						 err, sizeof err),
			 -1);
	assert_non_null(strstr(err, "watchdog.cgroup"));
	assert_int_equal(
	    rcl_watchdog_config_set(&cfg, "cgroup", "auto", err, sizeof err),
	    0);
	assert_string_equal(cfg.cgroup, "");
	snprintf(err, sizeof err, "rm -rf %s", base);
	assert_int_equal(system(err), 0);
}

/* The same for a v1 tree: limit_in_bytes, usage_in_bytes less
 * total_inactive_file, oom_control's oom_kill; a parent's limit binds a
 * child with none (v1 writes 2^63 - 4096 for "none"). */
static void test_cgroup_v1_files(void **state)
{
	char base[] = "/tmp/rcl-cg1-XXXXXX", top[512], parent[512], child[512];
	rcl_watchdog_memstat ms;
	rcl_watchdog_config cfg;
	rcl_watchdog_sample s;
	char where[256], err[1100];
	const char *none = "9223372036854771712\n";

	assert_non_null(mkdtemp(base));
	dir(top, sizeof top, base, "memory");
	put(top, "memory.limit_in_bytes", none);
	put(top, "memory.usage_in_bytes", "1000\n");
	dir(parent, sizeof parent, top, "svc");
	dir(child, sizeof child, parent, "worker");
	put(parent, "memory.limit_in_bytes", "268435456\n");
	put(parent, "memory.usage_in_bytes", "209715200\n");
	put(parent, "memory.stat",
	    "cache 1\nrss 2\ntotal_cache 30\ntotal_rss 40\n"
	    "total_rss_huge 4\ntotal_inactive_file 10485760\n");
	put(parent, "memory.kmem.usage_in_bytes", "5000\n");
	put(parent, "memory.oom_control",
	    "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n");
	put(child, "memory.limit_in_bytes", none);
	put(child, "memory.usage_in_bytes", "104857600\n");
	put(child, "memory.stat", "total_inactive_file 0\n");
	put(child, "memory.oom_control", "oom_kill 0\n");

	rcl_watchdog_config_init(&cfg);
	assert_int_equal(
	    rcl_watchdog_config_set(&cfg, "cgroup", child, err, sizeof err), 0);
	assert_int_equal(rcl_watchdog_probe(&cfg, &s, where, sizeof where), 0);
	assert_int_equal(s.limit_source, RCL_WATCHDOG_LIMIT_CGROUP_V1);
	assert_int_equal(s.limit, 256 * MiB);
	assert_string_equal(where, parent);
	assert_int_equal(s.usage, 190 * MiB);
	assert_int_equal(s.oom_kills, 1);
	/* hierarchical totals (the limit counts the cgroups below), kmem */
	assert_int_equal(rcl_watchdog_memstat_probe(&cfg, &ms), 0);
	assert_int_equal(ms.version, 1);
	assert_string_equal(ms.cgroup, parent);
	assert_int_equal(ms.anon, 40);
	assert_int_equal(ms.file, 30);
	assert_int_equal(ms.kernel, 5000);
	assert_int_equal(ms.oom_kills, 1);
	snprintf(err, sizeof err, "rm -rf %s", base);
	assert_int_equal(system(err), 0);
}

/* smaps_rollup: read on demand; anonymous memory shows what we touch. */
static void test_smaps(void **state)
{
	rcl_watchdog_smaps a, b;
	size_t n = 64 * MiB;
	char *p;

	if (rcl_watchdog_smaps_read(&a) != 0) {
		print_message("no /proc/self/smaps_rollup (Linux < 4.14)\n");
		skip();
	}
	assert_true(a.rss > 0);
	assert_true(a.pss > 0 && a.pss <= a.rss);
	p = malloc(n);
	assert_non_null(p);
	memset(p, 1, n);
	assert_int_equal(rcl_watchdog_smaps_read(&b), 0);
	assert_true(b.anon >= a.anon + 60 * MiB);
	assert_true(b.rss >= a.rss + 60 * MiB);
	free(p);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_probe),
	    cmocka_unit_test(test_cgroup_v2_files),
	    cmocka_unit_test(test_cgroup_v1_files),
	    cmocka_unit_test(test_smaps),
	};

	return unit_run(argc, argv, tests);
}
