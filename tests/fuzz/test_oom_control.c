/*
 * Allocation-failure injection over a control call or an HTTP request: the
 * daemon-like server of tests/fuzz/daemonctx.c handles one varlink call, or
 * one request on its worker's HTTP front, while the Nth allocation fails,
 * for every N. Allocations are counted wherever the call
 * makes them: the daemon's and common/'s own code (linked with --wrap, so
 * xmalloc's malloc too; asprintf and strndup are wrapped themselves, as
 * glibc's do not allocate through the wrapped symbols), cJSON (its hooks)
 * and libevent (its memory functions). The near-limit report and the
 * forensics merge run the same way, with garbage recorded first. Each N runs in a child process, so an abort is an outcome,
 * not the end of the test.
 *
 * Outcomes: answered (a reply, an error included: io.reclaim.OutOfMemory
 * when the call ran out), no reply, aborted by xmalloc ("out of memory": the
 * daemon stops), leaked (LeakSanitizer), hung, crashed. Anything but an
 * answer fails the test: the daemon may stop for memory at start-up, never
 * later. The three findings this test was first written for (xmalloc
 * aborting in a call, json_attach leaking the child it could not attach,
 * call_finish handing control_send a NULL reply) are fixed; the counts of
 * each outcome are still printed.
 *
 * An HTTP request is answered when the reply's status is 200, 4xx or 503;
 * the one connection closed without a reply is allowed too (counted apart),
 * any other status fails. Either way no request may stay in flight, and the
 * same server must then answer a second request, made without failures,
 * 200: the daemon keeps serving everyone else. Reload runs with a file of
 * its own (and no -s overrides), so the control socket's default path is
 * computed too.
 *
 * libevent 2.1's evhttp does not survive some of its own allocation
 * failures: evhttp_request_new frees its half-built request with
 * evhttp_request_free, which dereferences the NULL header list, and
 * evhttp_connection_base_bufferevent_new frees its half-built connection,
 * whose NULL bufferevent evhttp_connection_free dereferences. A crash
 * whose failed allocation was libevent's own and whose faulting frame is
 * in libevent is counted apart ("in libevent") and printed, not failed:
 * reclaimd cannot reach it. Any other crash fails. So is one leak: the
 * bufferevent evhttp_get_request_connection had made, which it does not
 * free when evhttp_connection_base_bufferevent_new fails (leak_in_libevent).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <execinfo.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "daemonctx.h"
#include "reclaimd.h"
#include "../unit/unit.h"

#define OOM_MAX_N 20000
/* How long a call may take in the child, in microseconds. */
#define OOM_CALL_US 5000000

enum outcome {
	ANSWERED = 0,
	NO_REPLY = 2,
	BEYOND = 3, /* the call made fewer than N allocations */
	HUNG = 4,
	CLOSED = 5,	/* HTTP: the one connection closed, no reply */
	BAD_STATUS = 6, /* HTTP: a status other than 200, 4xx, 503 */
	UNSERVED = 7,	/* HTTP: the next request was not answered 200 */
	SEGV = 8,	/* the child caught SIGSEGV (CRASHED or IN_LIBEVENT) */
	SKIPPED = 9,	/* the near-limit report dropped at once for memory */
	LEAKED = 23,	/* LeakSanitizer's exit status */
	ABORTED = 100,
	CRASHED,
	IN_LIBEVENT, /* libevent crashed on its own allocation failure */
	NOUTCOMES
};

static size_t oom_count, oom_fail_at;
static bool oom_on;
/* Reload's configuration source (test_reload), NULL: daemonctx.c's. */
static const struct config_source *oom_src;

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
char *__real_strdup(const char *s);
int __real_vasprintf(char **out, const char *fmt, va_list ap);
char *__real_strndup(const char *s, size_t n);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);
char *__wrap_strdup(const char *s);
int __wrap_vasprintf(char **out, const char *fmt, va_list ap);
int __wrap_asprintf(char **out, const char *fmt, ...);
char *__wrap_strndup(const char *s, size_t n);
void fuzz_alloc_pause(bool pause);

/* Whether this allocation is the one that fails; if so, say from where. */
static bool oom_fail(void)
{
	void *frames[10];
	int n;

	if (!oom_on || ++oom_count != oom_fail_at)
		return false;
	errno = ENOMEM; /* as malloc's failure sets it */
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

/* glibc's asprintf does not call vasprintf through the symbol wrapped, so
 * it is wrapped itself (it escaped the injection before). */
int __wrap_asprintf(char **out, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (oom_fail()) {
		*out = NULL;
		return -1;
	}
	va_start(ap, fmt);
	n = __real_vasprintf(out, fmt, ap);
	va_end(ap);
	return n;
}

char *__wrap_strndup(const char *s, size_t n)
{
	return oom_fail() ? NULL : __real_strndup(s, n);
}

/* A child's SIGSEGV: where, for the parent to tell libevent's own. */
static void child_segv(int sig)
{
	void *frames[12];
	int n = backtrace(frames, 12);

	fputs("oom: crashed at:\n", stderr);
	backtrace_symbols_fd(frames + 1, n - 1, STDERR_FILENO);
	fputs("oom: end\n", stderr);
	_exit(SEGV);
}

/* Whether line (up to its newline) contains needle. */
static bool line_has(const char *line, const char *needle)
{
	const char *p = strstr(line, needle), *nl = strchr(line, '\n');

	return p != NULL && (nl == NULL || p < nl);
}

/* The line after line, or NULL. */
static const char *next_line(const char *line)
{
	const char *nl = line ? strchr(line, '\n') : NULL;

	return nl ? nl + 1 : NULL;
}

/* Whether a log's crash is libevent's (see the top): the failed allocation
 * was libevent's (its first frame past the wrappers), and so is the
 * faulting frame (past the handler's and libc's). */
static bool segv_in_libevent(const char *log)
{
	const char *a = strstr(log, "called from:\n");
	const char *c = strstr(log, "oom: crashed at:\n");

	if (a == NULL || c == NULL)
		return false;
	for (a = next_line(a);
	     a != NULL && (line_has(a, "__wrap_") || line_has(a, "event_mm_"));
	     a = next_line(a))
		;
	c = next_line(next_line(next_line(c)));
	return a != NULL && line_has(a, "libevent") && c != NULL &&
	       line_has(c, "libevent");
}

/*
 * A leak that is libevent's own: evhttp_get_request_connection() makes the
 * connection's bufferevent through the bevcb reclaimd sets (http-conn.c),
 * then drops it unfreed when evhttp_connection_base_bufferevent_new()
 * fails for memory. The failed allocation must be that function's.
 */
static bool leak_in_libevent(const char *log)
{
	const char *a = strstr(log, "called from:\n");

	if (a == NULL)
		return false;
	for (a = next_line(a);
	     a != NULL && (line_has(a, "__wrap_") || line_has(a, "event_mm_"));
	     a = next_line(a))
		;
	return a != NULL &&
	       line_has(a, "evhttp_connection_base_bufferevent_new");
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

/* Calls made in the child before the one under test, without failures
 * (NULL-terminated; NULL: none): what gives the call something to do. */
static const char *const *oom_setup;
/* The request that runs the near-limit report instead of a call. */
#define OOM_REPORT "report"

/* One call, pumped until it is answered or the deadline passes; whether it
 * was answered in time. */
static bool call_pumped(struct server *srv, struct conn *conn,
			const char *request)
{
	uint64_t deadline = mono_us() + OOM_CALL_US;
	char *msg = __real_strdup(request);

	method_dispatch(srv, conn, msg);
	while (conn->call != NULL && mono_us() < deadline) {
		fuzz_pump(srv);
		usleep(100);
	}
	fuzz_pump(srv); /* what the call left to the workers (Reload's) */
	free(msg);
	return conn->call == NULL;
}

/*
 * The near-limit report, as on entering the critical level (census and
 * garbage fan-outs, the forensics merge, rendering, the file): ANSWERED
 * when it counts one more report, written or only logged; SKIPPED when the
 * allocation that failed was report_level's own first fan-out, which drops
 * the report (logged: "cannot reach the workers") with nothing in flight;
 * else HUNG.
 */
static int report_pumped(struct server *srv)
{
	uint64_t deadline = mono_us() + OOM_CALL_US;
	uint64_t before = report_count(srv->report);
	bool failed_at_once;

	report_level(srv->report, RCL_WATCHDOG_NORMAL, RCL_WATCHDOG_CRITICAL);
	failed_at_once = oom_count >= oom_fail_at && fuzz_inflight(srv) == 0;
	while (report_count(srv->report) == before && mono_us() < deadline) {
		fuzz_pump(srv);
		usleep(100);
		if (failed_at_once && fuzz_inflight(srv) == 0)
			break;
	}
	if (report_count(srv->report) != before)
		return ANSWERED;
	return failed_at_once ? SKIPPED : HUNG;
}

/* The report test's directory, and the override that gives each child a
 * directory of its own in it (children run side by side). */
static char oom_report_dir[64], oom_report_kv[128];

/* The child: set up, then one call with allocation n failing. */
static int child(const char *request, size_t n)
{
	cJSON_Hooks hooks = {.malloc_fn = __wrap_malloc, .free_fn = free};
	struct conn conn = {.privileged = true}, setup;
	bool report = strcmp(request, OOM_REPORT) == 0, done;
	struct server *srv;
	size_t i;
	int rc;

	cJSON_InitHooks(&hooks);
	signal(SIGSEGV, child_segv);
	event_set_mem_functions(__wrap_malloc, __wrap_realloc, free);
	if (report) {
		snprintf(oom_report_kv, sizeof oom_report_kv,
			 "forensics.report_dir=%s/%zu", oom_report_dir, n);
		if (mkdir(strchr(oom_report_kv, '=') + 1, 0700) != 0)
			return HUNG;
	}
	srv = fuzz_server(false);
	if (oom_src != NULL)
		srv->src = oom_src;
	for (i = 0; oom_setup != NULL && oom_setup[i] != NULL; i++) {
		setup = (struct conn){.privileged = true};
		if (!call_pumped(srv, &setup, oom_setup[i]))
			return HUNG;
	}
	oom_count = 0;
	oom_fail_at = n;
	oom_on = true;
	if (report) {
		rc = report_pumped(srv);
		oom_on = false;
		return rc != HUNG && oom_count < n ? BEYOND : rc;
	}
	done = call_pumped(srv, &conn, request);
	oom_on = false;
	if (!done)
		return HUNG;
	if (oom_count < n)
		return BEYOND;
	return conn.replies == 1 ? ANSWERED : NO_REPLY;
}

/* A client connection to the worker's HTTP front, request sent. */
static int http_connect(const char *request)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)fuzz_http_port());
	if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0 ||
	    write(fd, request, strlen(request)) != (ssize_t)strlen(request))
		abort();
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

/* Pump until the server closes fd (the request says Connection: close) and
 * nothing is in flight; the reply's status, 0 for none, -1 if it hung. */
static int http_wait(struct server *srv, int fd)
{
	uint64_t deadline = mono_us() + OOM_CALL_US;
	char head[64] = "", buf[4096];
	bool eof = false;
	size_t got = 0;
	ssize_t r;

	while (!eof || fuzz_inflight(srv) > 0) {
		if (mono_us() > deadline) {
			fprintf(stderr,
				"oom: hung: %s, %u in flight, read: %.20s\n",
				eof ? "closed" : "open", fuzz_inflight(srv),
				head);
			return -1;
		}
		fuzz_pump(srv);
		r = eof ? -1 : read(fd, buf, sizeof buf);
		if (r == 0 || (r < 0 && errno == ECONNRESET))
			eof = true;
		if (r > 0 && got < sizeof head - 1) {
			memcpy(head + got, buf,
			       (size_t)r < sizeof head - 1 - got
				   ? (size_t)r
				   : sizeof head - 1 - got);
			got = strlen(head);
		}
		if (r < 0)
			poll(&(struct pollfd){.fd = fd, .events = POLLIN}, 1,
			     1);
	}
	if (strncmp(head, "HTTP/1.", 7) != 0 || strlen(head) < 12)
		return 0;
	return atoi(head + 9);
}

/* The HTTP child: one request with allocation n failing, then one more
 * without failures, which must be answered 200. */
static int child_http(const char *request, size_t n)
{
	static const char next[] =
	    "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
	cJSON_Hooks hooks = {.malloc_fn = __wrap_malloc, .free_fn = free};
	struct server *srv;
	int fd, status;

	cJSON_InitHooks(&hooks);
	signal(SIGSEGV, child_segv);
	signal(SIGPIPE, SIG_IGN); /* as server_create does */
	event_set_mem_functions(__wrap_malloc, __wrap_realloc, free);
	/* a request evhttp cannot read for memory waits for more bytes: the
	 * timeouts close it, sooner than the deadline here */
	fuzz_override("http.request_timeout=300ms");
	fuzz_override("http.idle_timeout=1s");
	srv = fuzz_server(true);
	fd = http_connect(request);
	oom_count = 0;
	oom_fail_at = n;
	oom_on = true;
	status = http_wait(srv, fd);
	oom_on = false;
	close(fd);
	if (status < 0)
		return HUNG;
	if (oom_count < n)
		return BEYOND;
	fd = http_connect(next);
	if (http_wait(srv, fd) != 200)
		return UNSERVED;
	close(fd);
	if (status == 0)
		return CLOSED;
	if (status == 200 || status == 503 || (status >= 400 && status < 500))
		return ANSWERED;
	fprintf(stderr, "oom: HTTP status %d\n", status);
	return BAD_STATUS;
}

/* Run the child for n; its outcome, and its stderr in log. A request that
 * starts with "GET " goes to the HTTP front, any other is a varlink call. */
/* A child running the request with its Nth allocation failing, its
 * stderr in err. */
struct run {
	pid_t pid;
	FILE *err;
};

static struct run start_child(const char *request, size_t n)
{
	bool http = strncmp(request, "GET ", 4) == 0;
	struct run r = {0, tmpfile()};

	assert_non_null(r.err);
	fflush(NULL);
	r.pid = fork();
	assert_true(r.pid >= 0);
	if (r.pid == 0) {
		dup2(fileno(r.err), STDERR_FILENO);
		exit(http ? child_http(request, n) : child(request, n));
	}
	return r;
}

/* Wait for r's child and say how its run ended; its stderr in log. */
static enum outcome finish_child(struct run r, char *log, size_t cap)
{
	FILE *err = r.err;
	int status;
	size_t len;

	assert_int_equal(waitpid(r.pid, &status, 0), r.pid);
	rewind(err);
	len = fread(log, 1, cap - 1, err);
	log[len] = '\0';
	fclose(err);
	if (strstr(log, "ERROR: LeakSanitizer") != NULL)
		return leak_in_libevent(log) ? IN_LIBEVENT : LEAKED;
	if (WIFEXITED(status)) {
		switch (WEXITSTATUS(status)) {
		case ANSWERED:
		case NO_REPLY:
		case BEYOND:
		case HUNG:
		case CLOSED:
		case BAD_STATUS:
		case UNSERVED:
		case SKIPPED:
		case LEAKED:
			return (enum outcome)WEXITSTATUS(status);
		case SEGV:
			return segv_in_libevent(log) ? IN_LIBEVENT : CRASHED;
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

/* Children run this many at a time, one per CPU (at most OOM_WINDOW): each
 * is a process of its own, and under AddressSanitizer most of the test's
 * time is their start and LeakSanitizer's scan at their exit. */
#define OOM_WINDOW 4

static size_t oom_window(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	return cpus < 1 ? 1 : cpus > OOM_WINDOW ? OOM_WINDOW : (size_t)cpus;
}

/* Every N for one request (RECLAIM_OOM_N: that one alone, its log whole);
 * fail on anything but an answer (or, over HTTP, the one connection
 * closed); the first three of each kind are shown (RECLAIM_OOM_VERBOSE:
 * all). */
static void run_request(const char *request)
{
	static const char *const names[NOUTCOMES] = {
	    [ANSWERED] = "answered",
	    [NO_REPLY] = "no reply",
	    [HUNG] = "hung",
	    [LEAKED] = "leaked",
	    [ABORTED] = "aborted",
	    [CRASHED] = "crashed",
	    [CLOSED] = "closed",
	    [BAD_STATUS] = "bad status",
	    [UNSERVED] = "not served after",
	    [IN_LIBEVENT] = "in libevent",
	    [SKIPPED] = "report skipped",
	};
	size_t count[NOUTCOMES] = {0}, n, first = 1, last = OOM_MAX_N;
	bool bad = false;
	size_t shown = getenv("RECLAIM_OOM_VERBOSE") != NULL ? SIZE_MAX : 3;
	static char log[1 << 16];
	enum outcome o;

	struct run runs[OOM_WINDOW];
	size_t window = oom_window(), started;

	if (getenv("RECLAIM_OOM_N") != NULL)
		first = last = strtoul(getenv("RECLAIM_OOM_N"), NULL, 10);
	print_message("%s\n", request);
	/* children for N .. N + window - 1 run while N's is waited for; in
	 * order, so the first N past the call's allocations ends it */
	for (started = first; started <= last && started < OOM_MAX_N &&
			      started < first + window;
	     started++)
		runs[started % window] = start_child(request, started);
	for (n = first; n <= last && n < OOM_MAX_N; n++) {
		o = finish_child(runs[n % window], log, sizeof log);
		if (o != BEYOND && started <= last && started < OOM_MAX_N) {
			runs[started % window] = start_child(request, started);
			started++;
		}
		if (first == last)
			print_message("%s: %s\n", names[o] ? names[o] : "end",
				      log);
		if (o == BEYOND) {
			/* the children past the end are past it too */
			for (size_t k = n + 1; k < started; k++)
				finish_child(runs[k % window], log,
					     sizeof log);
			break;
		}
		count[o]++;
		if (o == ANSWERED || o == CLOSED || o == SKIPPED)
			continue;
		bad |= o != IN_LIBEVENT;
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
	print_message("  N = %zu..%zu: %zu answered, %zu closed, %zu report "
		      "skipped, %zu no reply, "
		      "%zu bad status, %zu not served after, %zu aborted by "
		      "xmalloc, %zu leaked, %zu hung, %zu crashed, %zu crashed "
		      "in libevent\n",
		      first, n - 1, count[ANSWERED], count[CLOSED],
		      count[SKIPPED],
		      count[NO_REPLY], count[BAD_STATUS], count[UNSERVED],
		      count[ABORTED], count[LEAKED], count[HUNG],
		      count[CRASHED], count[IN_LIBEVENT]);
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

static void test_run_task(void **state)
{
	run_request("{\"method\":\"io.reclaim.RunTask\",\"parameters\":"
		    "{\"task\":\"tree\",\"args\":{\"depth\":\"2\","
		    "\"children\":\"2\",\"rounds\":\"1\"}}}");
	run_request("{\"method\":\"io.reclaim.RunTask\",\"parameters\":"
		    "{\"task\":\"tree\",\"args\":{\"depth\":\"x\"}}}");
	/* With "more": round 1's progress report, then the answer. */
	run_request("{\"method\":\"io.reclaim.RunTask\",\"parameters\":"
		    "{\"task\":\"tree\",\"args\":{\"depth\":\"2\","
		    "\"children\":\"2\",\"rounds\":\"2\"}},\"more\":true}");
}

static void test_set_debug(void **state)
{
	run_request("{\"method\":\"io.reclaim.SetDebug\","
		    "\"parameters\":{\"leak\":true}}");
}

/* Reload with a file, no overrides: the file parser, each key's parser and
 * the control socket's default path run with failures. */
static void test_reload(void **state)
{
	static const char text[] = "[heap]\nthresholds = 700,10,10\n"
				   "young_bytes = 2MiB\n"
				   "[http]\nlisten = off\n"
				   "[metrics]\nlisten = off\n"
				   "[watchdog]\nenabled = false\n"
				   "[log]\nlevel = crit\n";
	char path[] = "/tmp/reclaim-oom-reload-XXXXXX";
	struct config_source src = {.path = path};
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, sizeof text - 1),
			 (ssize_t)(sizeof text - 1));
	close(fd);
	oom_src = &src;
	run_request("{\"method\":\"io.reclaim.Reload\"}");
	oom_src = NULL;
	unlink(path);
}

/* Calls that leave garbage for the forensics to report: leak debugging on,
 * a churn of cyclic graphs, a full collection. */
static const char *const garbage_setup[] = {
    "{\"method\":\"io.reclaim.SetDebug\",\"parameters\":{\"leak\":true}}",
    "{\"method\":\"io.reclaim.RunTask\",\"parameters\":{\"task\":"
    "\"churn\",\"args\":{\"duration_ms\":\"20\",\"rate\":\"500\","
    "\"size\":\"4\",\"cycles\":\"1\",\"payload\":\"64\",\"keep\":\"0\"}}}",
    "{\"method\":\"io.reclaim.Collect\",\"parameters\":{\"generation\":2}}",
    NULL,
};

/* The forensics copy (worker) and merge (main thread) of Garbage, with
 * garbage recorded: Garbage alone had nothing to copy or merge. */
static void test_garbage_merge(void **state)
{
	oom_setup = garbage_setup;
	run_request("{\"method\":\"io.reclaim.Garbage\"}");
	oom_setup = NULL;
}

/* The near-limit report with garbage recorded, written to a directory of
 * its own: the census and garbage fan-outs, the merge, the JSON, the
 * file's paths (asprintf, strndup: wrapped now). */
static void test_report(void **state)
{
	char dir[] = "/tmp/reclaim-oom-report-XXXXXX";
	char cmd[160];

	assert_non_null(mkdtemp(dir));
	snprintf(oom_report_dir, sizeof oom_report_dir, "%s", dir);
	fuzz_override(oom_report_kv); /* each child fills it in */
	oom_setup = garbage_setup;
	run_request(OOM_REPORT);
	oom_setup = NULL;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_http(void **state)
{
	run_request("GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	run_request("GET /seed/fixed?mb=1 HTTP/1.1\r\nHost: t\r\n"
		    "Connection: close\r\n\r\n");
	run_request("GET /seed/fixed?mb=x HTTP/1.1\r\nHost: t\r\n"
		    "Connection: close\r\n\r\n");
	run_request("GET /nope HTTP/1.1\r\nHost: t\r\n"
		    "Connection: close\r\n\r\n");
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

int main(int argc, char **argv)
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
	    cmocka_unit_test(test_run_task),
	    cmocka_unit_test(test_set_debug),
	    cmocka_unit_test(test_reload),
	    cmocka_unit_test(test_garbage_merge),
	    cmocka_unit_test(test_http),
	    cmocka_unit_test(test_report), /* last: it adds an override */
	};

	if (getenv("RECLAIM_OOM_TEST") != NULL) /* one test, by name */
		cmocka_set_test_filter(getenv("RECLAIM_OOM_TEST"));
	return unit_run(argc, argv, tests);
}
