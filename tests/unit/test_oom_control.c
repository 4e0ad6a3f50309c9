/*
 * Allocation-failure injection over a control call: the daemon-like server
 * of tests/fuzz/daemonctx.c handles one varlink call while the Nth
 * allocation fails, for every N. Allocations are counted wherever the call
 * makes them: the daemon's and common/'s own code (linked with --wrap, so
 * xmalloc's malloc too), cJSON (its hooks) and libevent (its memory
 * functions). Each N runs in a child process, so an abort is an outcome,
 * not the end of the test.
 *
 * Outcomes: answered (a reply, an error included: io.reclaim.OutOfMemory
 * when the call ran out), no reply, aborted by xmalloc ("out of memory": the
 * daemon stops), leaked (LeakSanitizer), hung, crashed. Anything but an
 * answer fails the test: the daemon may stop for memory at start-up, never
 * later. The three findings of issue 8 this test was written for (xmalloc
 * aborting in a call, json_attach leaking the child it could not attach,
 * call_finish handing control_send a NULL reply) are fixed; the counts of
 * each outcome are still printed.
 */
#include <event2/event.h>
#include <execinfo.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "daemonctx.h"
#include "reclaimd.h"

#define OOM_MAX_N 20000
/* How long a call may take in the child, in microseconds. */
#define OOM_CALL_US 5000000

enum outcome {
	ANSWERED = 0,
	NO_REPLY = 2,
	BEYOND = 3, /* the call made fewer than N allocations */
	HUNG = 4,
	LEAKED = 23, /* LeakSanitizer's exit status */
	ABORTED = 100,
	CRASHED,
	NOUTCOMES
};

static size_t oom_count, oom_fail_at;
static bool oom_on;

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
char *__real_strdup(const char *s);
int __real_vasprintf(char **out, const char *fmt, va_list ap);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);
char *__wrap_strdup(const char *s);
int __wrap_vasprintf(char **out, const char *fmt, va_list ap);
void fuzz_alloc_pause(bool pause);

/* Whether this allocation is the one that fails; if so, say from where. */
static bool oom_fail(void)
{
	void *frames[10];
	int n;

	if (!oom_on || ++oom_count != oom_fail_at)
		return false;
	fprintf(stderr, "oom: allocation %zu fails, called from:\n", oom_count);
	n = backtrace(frames, 10);
	backtrace_symbols_fd(frames + 2, n - 2, STDERR_FILENO);
	fputs("oom: end\n", stderr);
	return true;
}

void *__wrap_malloc(size_t size)
{
	return oom_fail() ? NULL : __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size)
{
	return oom_fail() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t size)
{
	return oom_fail() ? NULL : __real_realloc(p, size);
}

char *__wrap_strdup(const char *s)
{
	return oom_fail() ? NULL : __real_strdup(s);
}

int __wrap_vasprintf(char **out, const char *fmt, va_list ap)
{
	if (oom_fail()) {
		*out = NULL;
		return -1;
	}
	return __real_vasprintf(out, fmt, ap);
}

/* daemonctx.c checks each reply by parsing it: not part of the call. */
void fuzz_alloc_pause(bool pause)
{
	static bool was;

	if (pause) {
		was = oom_on;
		oom_on = false;
	} else {
		oom_on = was;
	}
}

/* The child: set up, then one call with allocation n failing. */
static int child(const char *request, size_t n)
{
	cJSON_Hooks hooks = {.malloc_fn = __wrap_malloc, .free_fn = free};
	struct conn conn = {.privileged = true};
	struct server *srv;
	uint64_t deadline;
	char *msg;

	cJSON_InitHooks(&hooks);
	event_set_mem_functions(__wrap_malloc, __wrap_realloc, free);
	srv = fuzz_server(false);
	msg = __real_strdup(request);
	oom_count = 0;
	oom_fail_at = n;
	oom_on = true;
	method_dispatch(srv, &conn, msg);
	deadline = mono_us() + OOM_CALL_US;
	while (conn.call != NULL && mono_us() < deadline) {
		fuzz_pump(srv);
		usleep(100);
	}
	oom_on = false;
	free(msg);
	if (conn.call != NULL)
		return HUNG;
	if (oom_count < n)
		return BEYOND;
	return conn.replies == 1 ? ANSWERED : NO_REPLY;
}

/* Run the child for n; its outcome, and its stderr in log. */
static enum outcome run_child(const char *request, size_t n, char *log,
			      size_t cap)
{
	FILE *err = tmpfile();
	int status;
	size_t len;
	pid_t pid;

	assert_non_null(err);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(fileno(err), STDERR_FILENO);
		exit(child(request, n));
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	rewind(err);
	len = fread(log, 1, cap - 1, err);
	log[len] = '\0';
	fclose(err);
	if (strstr(log, "ERROR: LeakSanitizer") != NULL)
		return LEAKED;
	if (WIFEXITED(status)) {
		switch (WEXITSTATUS(status)) {
		case ANSWERED:
		case NO_REPLY:
		case BEYOND:
		case HUNG:
		case LEAKED:
			return (enum outcome)WEXITSTATUS(status);
		}
		return strstr(log, "out of memory") ? ABORTED : CRASHED;
	}
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT &&
	    strstr(log, "<2>out of memory") != NULL)
		return ABORTED;
	return CRASHED;
}

/* The allocation site of a child's log: the lines after "oom: ... from:". */
static void print_site(const char *log)
{
	const char *p = strstr(log, "called from:\n"), *end;

	if (p == NULL)
		return;
	p += 13;
	end = strstr(p, "oom: end");
	print_message("    %.*s", (int)(end ? end - p : 0), p);
}

/* Every N for one request (RECLAIM_OOM_N: that one alone, its log whole);
 * fail on anything but an answer; the first three of each kind are shown
 * (RECLAIM_OOM_VERBOSE: all). */
static void run_request(const char *request)
{
	static const char *const names[NOUTCOMES] = {
	    [ANSWERED] = "answered", [NO_REPLY] = "no reply",
	    [HUNG] = "hung",	     [LEAKED] = "leaked",
	    [ABORTED] = "aborted",   [CRASHED] = "crashed",
	};
	size_t count[NOUTCOMES] = {0}, n, first = 1, last = OOM_MAX_N;
	bool bad = false;
	size_t shown = getenv("RECLAIM_OOM_VERBOSE") != NULL ? SIZE_MAX : 3;
	static char log[1 << 16];
	enum outcome o;

	if (getenv("RECLAIM_OOM_N") != NULL)
		first = last = strtoul(getenv("RECLAIM_OOM_N"), NULL, 10);
	print_message("%s\n", request);
	for (n = first; n <= last && n < OOM_MAX_N; n++) {
		o = run_child(request, n, log, sizeof log);
		if (first == last)
			print_message("%s: %s\n", names[o] ? names[o] : "end",
				      log);
		if (o == BEYOND)
			break;
		count[o]++;
		if (o == ANSWERED)
			continue;
		bad = true;
		if (count[o] > shown)
			continue;
		print_message("  N=%zu: %s%s\n", n, names[o],
			      count[o] == shown ? " (no more of these shown)"
						: "");
		if (o == ABORTED)
			print_site(log);
		else
			print_message("%.3000s\n", log);
	}
	print_message("  N = %zu..%zu: %zu answered, %zu no reply, %zu "
		      "aborted by xmalloc, %zu leaked, %zu hung, %zu crashed\n",
		      first, n - 1, count[ANSWERED], count[NO_REPLY],
		      count[ABORTED], count[LEAKED], count[HUNG],
		      count[CRASHED]);
	assert_true(n < OOM_MAX_N);
	assert_false(bad);
}

static void test_stats(void **state)
{
	run_request("{\"method\":\"io.reclaim.Stats\"}");
}

static void test_census(void **state)
{
	run_request("{\"method\":\"io.reclaim.Census\"}");
}

static void test_collect(void **state)
{
	run_request("{\"method\":\"io.reclaim.Collect\","
		    "\"parameters\":{\"generation\":2}}");
}

static void test_set_thresholds(void **state)
{
	run_request("{\"method\":\"io.reclaim.SetThresholds\","
		    "\"parameters\":{\"thresholds\":[100,5,5]}}");
}

static void test_tasks(void **state)
{
	run_request("{\"method\":\"io.reclaim.Tasks\"}");
}

static void test_garbage(void **state)
{
	run_request("{\"method\":\"io.reclaim.Garbage\"}");
}

static void test_snapshot(void **state)
{
	run_request("{\"method\":\"io.reclaim.Snapshot\"}");
}

static void test_varlink_service(void **state)
{
	run_request("{\"method\":\"org.varlink.service.GetInfo\"}");
	run_request("{\"method\":\"org.varlink.service."
		    "GetInterfaceDescription\",\"parameters\":{\"interface\":"
		    "\"io.reclaim\"}}");
}

static void test_errors(void **state)
{
	run_request("{\"method\":\"io.reclaim.Nope\"}");
	run_request(
	    "{\"method\":\"io.reclaim.Stats\",\"parameters\":{\"x\":1}}");
	run_request("not json");
	run_request("{\"method\":\"com.example.Nope\"}");
	run_request("{\"method\":\"io.reclaim.Collect\","
		    "\"parameters\":{\"generation\":\"x\"}}");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_stats),
	    cmocka_unit_test(test_census),
	    cmocka_unit_test(test_collect),
	    cmocka_unit_test(test_set_thresholds),
	    cmocka_unit_test(test_tasks),
	    cmocka_unit_test(test_garbage),
	    cmocka_unit_test(test_snapshot),
	    cmocka_unit_test(test_varlink_service),
	    cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
