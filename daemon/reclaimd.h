/* reclaimd: the daemon's internal interfaces, one section per file; the
 * threads, the file map and the walks through them: doc/ARCHITECTURE.md. */
#ifndef RECLAIMD_H
#define RECLAIMD_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <syslog.h>

#include <reclaim/reclaim.h>
#include <reclaim/watchdog.h>

#include "clock.h"
#include "forensics.h"
#include "json.h"
#include "stats.h"

struct event;
struct event_base;
struct evhttp;
struct evhttp_bound_socket;

/* log.c */
void log_init(void);
bool log_journal(void);
bool log_is_journal_stream(const char *env, int fd);
void log_set_level(int level);
/* A line at prio: an event with no MESSAGE_ID and no fields (below). */
#define log_msg(prio, ...)                                                     \
	log_event_at(__FILE__, __LINE__, __func__, prio, NULL, NULL,          \
		     __VA_ARGS__)
#define log_err(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
/*
 * The MESSAGE_IDs of the events an operator searches for or alerts on
 * (journalctl MESSAGE_ID=...), each explained in conf/reclaimd.catalog
 * (tests/catalog checks that every one is there); fixed for good once
 * shipped, as systemd's own (made with systemd-id128 new).
 */
#define LOG_ID_LEVEL "146f1b9a1663436183ced2079a6af450"
#define LOG_ID_SHED_BEGIN "926d4fbf5a0a40069aedca7e1893b6bb"
#define LOG_ID_SHED_END "c0f4b51be0c549e5a432924d0252da76"
#define LOG_ID_LEAK "4dd3a08223024596822c755f1ee8e1cb"
#define LOG_ID_REPORT "3d393e35b8f14b9d86070ab70ec9be91"
#define LOG_ID_REPORT_FAILED "0f14124ca78a419e8dc5840d4c932434"
#define LOG_ID_THROTTLE_BEGIN "ce3e5770cd7c4ead8724ff47a5602bcb"
#define LOG_ID_THROTTLE_END "841c5146d674492092f1c48070592417"
#define LOG_ID_RELOAD "5bd2dd30ac9948bfa74c99546417aca3"
#define LOG_ID_RELOAD_REFUSED "0e8a3b73024b4fa395b561902c5c3492"
/* An event's own journal fields, "NAME=value" (NAME: capitals, digits and
 * '_', as the journal's field names are). */
#define LOG_FIELDS_MAX 8
#define LOG_FIELD_LEN 512
struct log_fields {
	size_t n;
	char f[LOG_FIELDS_MAX][LOG_FIELD_LEN];
};
void log_field(struct log_fields *lf, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void log_event_at(const char *file, int line, const char *func, int prio,
		  const char *id, const struct log_fields *lf, const char *fmt,
		  ...) __attribute__((format(printf, 7, 8)));
#define log_event(prio, id, lf, ...)                                           \
	log_event_at(__FILE__, __LINE__, __func__, prio, id, lf, __VA_ARGS__)
void log_worker_at(const char *file, int line, const char *func, int prio,
		   int worker, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
#define log_worker(prio, worker, ...)                                          \
	log_worker_at(__FILE__, __LINE__, __func__, prio, worker, __VA_ARGS__)
/* One entry, and the journal's fields made of it (for the tests too). */
#define LOG_LINE_MAX 1024
struct log_entry {
	int prio;
	const char *id;		 /* MESSAGE_ID, or NULL */
	const char *file, *func; /* CODE_FILE and CODE_LINE, CODE_FUNC; or NULL */
	int line;
	const struct log_fields *fields; /* the event's own, or NULL */
	char text[LOG_LINE_MAX];	 /* MESSAGE */
};
#define LOG_JOURNAL_IOV (7 + LOG_FIELDS_MAX)
struct log_journal {
	struct iovec iov[LOG_JOURNAL_IOV];
	size_t n;
	char message[LOG_LINE_MAX + 16];
	char prio[16], ident[64], id[48], file[256], line[32], func[128];
};
void log_journal_fill(struct log_journal *j, const struct log_entry *e);
int log_level_parse(const char *name);
/*
 * A line a peer can make repeat (a refused call, an accept error): at most
 * burst lines per interval from one place, then nothing until the interval
 * ends, when the next line is preceded by "log: suppressed N lines like
 * ...". Any thread. log_ratelimited() keeps one limit per call site with
 * the defaults; a struct log_limit of one's own (LOG_LIMIT_INIT or set by
 * hand) shares a limit between sites or changes the figures.
 */
#define LOG_LIMIT_BURST 10		/* lines per interval */
#define LOG_LIMIT_INTERVAL_US 10000000	/* 10 s */
struct log_limit {
	uint64_t interval_us;
	unsigned burst;
	unsigned lines;	     /* written in this interval */
	uint64_t start_us;   /* the interval's start */
	uint64_t suppressed; /* held back in this interval */
};
#define LOG_LIMIT_INIT {LOG_LIMIT_INTERVAL_US, LOG_LIMIT_BURST, 0, 0, 0}
void log_limited(struct log_limit *lim, int prio, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define log_ratelimited(prio, ...)                                             \
	do {                                                                   \
		static struct log_limit log_limit_ = LOG_LIMIT_INIT;           \
		log_limited(&log_limit_, prio, __VA_ARGS__);                   \
	} while (0)

/* config.c */

/* A share of memory: bytes, or a fraction of the limit in force. */
struct config_share {
	uint64_t bytes;	 /* 0 with fraction 0: none */
	double fraction; /* of the limit; 0: bytes is the value */
};

struct config {
	char *control_socket;
	unsigned control_mode;
	char *control_group; /* "" for none */
	gid_t control_gid;
	uint64_t control_max_connections;
	uint64_t control_idle_timeout_us;
	char *http_listen;
	uint64_t http_workers; /* 0: one per online CPU */
	uint64_t http_drain_timeout_us;
	uint64_t http_max_request_line; /* bytes; longer: 414 */
	uint64_t http_max_header_bytes; /* request line and headers; 431 */
	uint64_t http_max_body_bytes;	/* 413 */
	uint64_t http_idle_timeout_us;	/* no byte read or written: closed */
	uint64_t http_request_timeout_us; /* first byte to dispatch; 0: off */
	bool http_keepalive;
	uint64_t http_retry_after_us; /* Retry-After while shedding */
	uint64_t http_max_connections; /* open at once, all workers */
	char *tasks_modules;	      /* plugins: paths, comma-separated */
	uint64_t tasks_max_running;   /* RunTask calls running at once */
	struct config_share tasks_max_bytes; /* each on-demand task's budget */
	char *metrics_listen; /* "" for none */
	uint64_t heap_thresholds[RCL_GENERATIONS];
	uint64_t heap_young_bytes;
	bool heap_incremental;		 /* old generation in increments */
	uint64_t heap_increment_objects; /* old objects an increment takes */
	rcl_watchdog_config watchdog; /* watchdog.*, parsed here (config.c) */
	char *forensics_report_dir;   /* "": $STATE_DIRECTORY */
	uint64_t forensics_report_interval_us;
	int log_level;
};

/* Where a configuration comes from, kept to read it again on reload. */
struct config_source {
	const char *path; /* NULL: the default file if it exists */
	char **overrides; /* "section.key=value" */
	size_t noverrides;
};

struct config *config_load(const struct config_source *src, char **cause);
void config_destroy(struct config *cfg);
const char *config_default_path(void);
size_t config_workers(const struct config *cfg);

/* listen.c */
struct activated {
	int control;
	int http;
	int metrics;
};
int listen_activated(struct activated *a, char **cause);
int listen_tcp(const char *spec, char **cause);
int listen_unix(const char *path, const struct config *cfg, char **cause);
const char *listen_describe(int fd, char *buf, size_t len);
struct evconnlistener;
struct listen_guard;
struct listen_guard *listen_guard(struct evconnlistener *lev,
				  struct event_base *base, const char *what);
void listen_guard_free(struct listen_guard *g);

/* mailbox.c: a queue of commands between threads, woken by an eventfd. */
struct wcmd;
typedef void (*mailbox_cb)(struct wcmd *cmd, void *arg);
struct mailbox;
struct mailbox *mailbox_create(struct event_base *base, mailbox_cb cb,
			       void *arg, char **cause);
void mailbox_destroy(struct mailbox *mb);
void mailbox_post(struct mailbox *mb, struct wcmd *cmd);

/* worker.c */
enum wcmd_type {
	WCMD_PING,
	WCMD_COLLECT,
	WCMD_THRESHOLDS,
	WCMD_DEBUG,
	WCMD_CENSUS,
	WCMD_GARBAGE,
	WCMD_SHED,
	WCMD_PACE,
	WCMD_RUN,      /* an on-demand task (task.c) */
	WCMD_CANCEL,   /* cancel the RunTask tasks marked cancel; no answer */
	WCMD_PROGRESS, /* to the main thread: a RunTask's progress report */
	WCMD_STOP,
};

struct census {
	size_t n;
	struct census_entry {
		char *type;
		uint64_t objects;
		uint64_t bytes;
	} * types;
	bool oom; /* a worker ran out of memory taking it */
	/* While leak debugging records sites: the same by (type, task,
	 * site), each entry's type a key of CENSUS_SITE_FIELDS fields
	 * joined by CENSUS_SEP (census_site_key); NULL otherwise. */
	struct census *by_site;
};

#define CENSUS_SEP '\x1f'
#define CENSUS_SITE_FIELDS 5 /* type, task, file, line, function */

struct fanout;
struct worker;

/* A message to a worker; the worker sends it back with its answer. */
struct wcmd {
	enum wcmd_type type;
	struct worker *worker;
	struct fanout *fan;
	union {
		struct {
			int generation;
			bool trim; /* the watchdog's: give memory back too */
		} collect;
		struct {
			size_t thresholds[RCL_GENERATIONS];
			size_t young_bytes;
			bool incremental;
			size_t increment_objects;
		} heap;	   /* WCMD_THRESHOLDS (thresholds.c) */
		struct {
			size_t young_bytes;
		} pace;	   /* WCMD_PACE: the watchdog's trigger */
		bool leak; /* WCMD_DEBUG: leak debugging on or off */
		bool shed; /* WCMD_SHED: shedding on or off */
		bool peek; /* WCMD_GARBAGE: copy the report, keep it */
		unsigned seq;	   /* WCMD_PING */
		uint64_t drain_us; /* WCMD_STOP */
		struct {
			const struct rcl_task_def *def;
			struct json *args;  /* taken by the worker */
			atomic_bool cancel; /* set by the main thread */
			uint64_t max_bytes; /* its budget (0: none) */
			bool progress;	    /* the caller takes reports */
		} run;
		struct {
			struct wcmd *run;      /* the WCMD_RUN it reports on */
			struct json *progress; /* taken by the main thread */
		} progress;
	} in;
	struct {
		size_t collected;
		uint64_t pause_ns;
		struct census census;
		int worker;		/* WCMD_RUN: who ran it */
		struct json *result;	/* WCMD_RUN: its result */
		char *error;		/* WCMD_RUN: why it failed */
		const char *error_name; /* the varlink error */
		char *invalid;		/* the bad argument, if that was it */
		bool oom; /* WCMD_RUN, WCMD_DEBUG: out of memory */
		struct garbage_report garbage;
		rcl_sites_info sites; /* WCMD_GARBAGE: the heap's record */
	} out;
	TAILQ_ENTRY(wcmd) entry;
};

/* Leak debugging records the sites of at most this many live objects per
 * worker: the heap's map then holds at most 2^19 slots of 16 bytes (8 MiB),
 * beside 192 KiB of (site, task, type) entries. Past it, objects go
 * unrecorded and are counted (Garbage's record.unrecorded_total). */
#define DEBUG_SITES_MAX ((size_t)1 << 18)
/* Entries of the census by site each worker publishes after a full
 * collection, for the leak suspects' sites (Watchdog). */
#define WORKER_SITE_CENSUS 128

struct worker {
	int id;
	struct server *srv;
	pthread_t thread;
	bool started;
	struct event_base *base;
	rcl_heap *heap;
	struct mailbox *inbox;
	struct event *tick;
	struct evhttp *http;
	struct evhttp_bound_socket *bound;
	struct listen_guard *guard; /* pauses bound's accepting on errors */

	struct stats_worker stats; /* this thread's counters */
	pthread_mutex_t lock;	   /* guards published */
	struct stats_worker published;
	size_t ncensus; /* survivors by type after the last full collection */
	uint64_t census_passes; /* the heap's old_passes_total at that census
				   (worker thread only) */
	rcl_type_stats census[RCL_WATCHDOG_CENSUS_MAX];
	/* and by site, while leak debugging records sites (the first
	 * WORKER_SITE_CENSUS entries; their strings are static) */
	size_t nsite_census;
	rcl_site_census site_census[WORKER_SITE_CENSUS];

	struct wcmd ping;
	atomic_uint pong;	   /* the last ping sequence answered */
	struct wcmd cancel;	   /* WCMD_CANCEL, posted by worker_cancel */
	atomic_bool cancel_queued; /* cancel is in the mailbox */
	bool debug_leak;
	struct forensics *forensics; /* while debug_leak, or a report unread */
	struct garbage_totals garbage_totals; /* per task, read by main */
	bool shedding;

	struct wcmd *stop; /* the stop command, while draining */
	uint64_t stop_deadline;
	bool stop_cut; /* past the drain timeout: tasks answered, flushing */
	unsigned inflight; /* worker_inflight_begin and _end alone change it */
	struct task_rt *tasks; /* task.c */
	TAILQ_HEAD(http_task_list, http_task) http_tasks; /* http-task.c */
	struct http_conns *conns; /* http-conn.c: request deadlines */
	struct http_conf {	/* http.* copied at start: reload keeps them */
		uint64_t max_request_line;
		uint64_t max_header_bytes;
		uint64_t max_body_bytes;
		uint64_t retry_after_s;
		bool keepalive;
	} httpconf;
};

struct worker *worker_create(struct server *srv, int id, char **cause);
int worker_start(struct worker *w, char **cause);
void worker_join(struct worker *w);
void worker_destroy(struct worker *w);
void worker_post(struct worker *w, struct wcmd *cmd);
void worker_read_stats(struct worker *w, struct stats_worker *out);
size_t worker_read_census(struct worker *w, rcl_type_stats *out, size_t max);
size_t worker_read_site_census(struct worker *w, rcl_site_census *out,
			       size_t max);
void worker_ping(struct worker *w, unsigned seq);
void worker_cancel(struct worker *w);
bool worker_answered(struct worker *w, unsigned seq);
void worker_inflight_begin(struct worker *w);
void worker_inflight_end(struct worker *w, unsigned n);

/* census.c (the rest in census.h, for the methods) */
void census_finish(struct census *c);

/* http.c: the HTTP front on each worker. */
struct evbuffer;
struct evhttp_connection;
struct evhttp_request;
int http_start(struct worker *w, int fd, char **cause);
void http_stop_accepting(struct worker *w);
void http_free(struct worker *w);
void http_send(struct worker *w, struct evhttp_request *req, int code,
	       const char *text, struct evbuffer *body);
void http_retry_after(struct worker *w, struct evhttp_request *req);
struct http_conns;
struct http_conns *http_conns_create(struct worker *w, uint64_t timeout_us,
				     size_t max);
void http_conns_destroy(struct http_conns *set);
void http_conns_replying(struct http_conns *set, struct evhttp_request *req);
void http_conns_completed(struct http_conns *set, struct evhttp_request *req);
bool http_conns_dispatched(struct worker *w, struct evhttp_request *req);

/* http-task.c: request tasks, each run for one request. */
struct rcl_task_def;
void http_task_start(struct worker *w, const struct rcl_task_def *def,
		     struct evhttp_request *req);
bool http_task_holds(struct worker *w, struct evhttp_request *req);
void http_task_cancel(struct worker *w, struct evhttp_connection *evcon);

/* tasks.c, plugin.c: the registry of built-in tasks and plugins'
 * (tasks.modules). */
int tasks_init(const struct config *cfg, char **cause);
size_t tasks_count(void);
const struct rcl_task_def *tasks_at(size_t i, const char **origin);
const struct rcl_task_def *tasks_find(const char *name);
const struct rcl_task_def *tasks_route(const char *path);
struct rcl_registry *registry_get(const char *origin);
int plugin_check(const char *list, char **cause);
int plugin_load_all(const char *list, char **cause);

/* task.c: each worker's task runtime (periodic and on-demand tasks). */
struct task_rt;
struct task_rt *task_rt_create(struct worker *w, char **cause);
void task_rt_destroy(struct task_rt *rt);
void task_rt_stop(struct task_rt *rt);
void task_start_cmd(struct worker *w, struct wcmd *cmd);
void task_cancel_cmd(struct wcmd *cmd);
void task_rt_cancel(struct task_rt *rt);

/* fanout.c: one command to every worker, one answer when all replied. */
struct call;
typedef void (*fanout_done)(struct fanout *fan);
struct fanout {
	struct server *srv;
	struct call *call;
	fanout_done done;
	void *arg;
	size_t pending;
	size_t n;
	struct wcmd cmds[];
};
struct fanout *fanout_create(struct server *srv, struct call *call,
			     enum wcmd_type type, fanout_done done);
void fanout_send(struct fanout *fan);
void fanout_reply(struct wcmd *cmd);
void fanout_destroy(struct fanout *fan);

/* thresholds.c: the heap settings every worker has (Reload, SetThresholds). */
int thresholds_set(struct server *srv, struct call *call,
		   const size_t thr[RCL_GENERATIONS], size_t young,
		   bool incremental, size_t increment_objects,
		   fanout_done done);

/* memwatch.c: the seam where the memory watchdog plugs in. */
struct memwatch_status {
	const char *level; /* "off", or the watchdog's level name */
	const char *limit_source;
	rcl_watchdog_stats st;
	uint64_t leaks; /* leak-suspected events */
	struct stats_suspects suspects; /* named by the last one */
};
/* Where memory goes, read on demand (memory.stat costs the kernel a sum of
 * every counter). */
struct memwatch_memory {
	rcl_watchdog_memstat cg;     /* the watched cgroup's breakdown */
	uint64_t oom_kills_at_start; /* its oom_kill counter at start */
};
struct memwatch;
void memwatch_memory(struct memwatch *mw, struct memwatch_memory *out);
struct memwatch *memwatch_create(struct server *srv, char **cause);
void memwatch_destroy(struct memwatch *mw);
void memwatch_configure(struct memwatch *mw, const struct config *cfg);
void memwatch_pace(struct memwatch *mw, size_t young_bytes);
void memwatch_attach(struct memwatch *mw, rcl_heap *h);
uint64_t memwatch_limit(struct memwatch *mw);
void memwatch_status(struct memwatch *mw, struct memwatch_status *out);

/* procinfo.c: the process_* figures Prometheus client libraries export. */
uint64_t procinfo_start_time_ms(void);
void procinfo_read(struct stats_process *p);

/* notify.c: every sd_notify goes through here. */
void notify_send(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void notify_status(struct server *srv);
int notify_keepalive_start(struct server *srv);

/* control.c: the varlink control server. */
struct control;
struct conn;
struct control *control_create(struct server *srv, int fd, char **cause);
void control_destroy(struct control *c);
void control_stop_accepting(struct control *c);
bool control_flushed(struct control *c);
void control_configure(struct control *c, const struct config *cfg);
void control_send(struct conn *conn, const char *text);
void control_hold(struct conn *conn, struct call *call);
void control_call_done(struct conn *conn);
uid_t control_peer_uid(const struct conn *conn);
bool control_privileged(const struct conn *conn);
bool control_backlogged(const struct conn *conn);

/* metrics.c: GET /metrics on the main thread. */
struct metrics;
struct metrics *metrics_create(struct server *srv, int fd, char **cause);
void metrics_destroy(struct metrics *m);
struct json *metrics_stats_json(struct server *srv);

/* method.c: the varlink methods, one file each. */
enum call_status { CALL_DONE, CALL_ERROR, CALL_ASYNC };

struct call {
	struct server *srv;
	struct conn *conn; /* NULL once the peer went away */
	const struct method_entry *entry;
	struct json *params; /* always an object */
	bool oneway;
	bool more;	    /* the peer takes several replies ("more") */
	bool async;	    /* answered later, by call_finish */
	struct json *reply; /* the reply's parameters */
	char *error;	    /* the error's name, or NULL */
	bool oom;	    /* out of memory: answered io.reclaim.OutOfMemory */
	/* Run by call_orphan when the peer leaves before the answer (RunTask
	 * cancels its task); data is the handler's own. */
	void (*orphaned)(struct call *call);
	void *data;
};

struct method_entry {
	const char *name;   /* full: interface.Method */
	const char *params; /* varlink signature: (in) -> (out) */
	bool changes_state; /* refused to unprivileged peers */
	enum call_status (*exec)(struct call *call);
};

void method_dispatch(struct server *srv, struct conn *conn, const char *text);
void call_finish(struct call *call, enum call_status status);
void call_continue(struct call *call, const struct json *params);
void method_run_task_progress(struct wcmd *cmd);
void call_orphan(struct call *call);
enum call_status call_oom(struct call *call);
enum call_status call_error(struct call *call, const char *error,
			    const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
enum call_status call_invalid(struct call *call, const char *param,
			      const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
struct json *call_reply(struct call *call);
int call_param_u64(struct call *call, const char *name, uint64_t max,
		   uint64_t *out);
int call_param_bool(struct call *call, const char *name, bool *out);
const char *call_param_str(struct call *call, const char *name, int *status);
char *method_interface_description(void);
extern const struct method_entry *const method_table[];
extern const size_t method_count;

/* history.c: one sample a second for ten minutes, for Stats and top. */
#define HISTORY_SECONDS 600
#define HISTORY_INTERVAL_US 1000000
struct history;
struct history *history_create(struct server *srv);
void history_destroy(struct history *h);
void history_to_json(const struct history *h, size_t seconds,
		     struct json *parent);

/* report.c: the near-limit forensic report. */
struct report;
struct report *report_create(struct server *srv);
void report_destroy(struct report *r);
void report_level(struct report *r, int from, int to);
uint64_t report_count(const struct report *r);

/* server.c: the main thread. */

/* Snapshot's census, which Diff compares with: one per caller
 * (method-snapshot.c), so no caller replaces another's. Slot 0 is the
 * privileged callers' (those who may change state share it); the others
 * hold one each for at most SNAPSHOT_UIDS other uids, the least recently
 * used making way: at most 1 + SNAPSHOT_UIDS censuses, each a name and two
 * counts per type. */
#define SNAPSHOT_UIDS 16
struct census_snapshot {
	bool taken;
	uint64_t key;  /* the caller: SNAPSHOT_PRIVILEGED or its uid */
	uint64_t used; /* snapshot_clock when last taken or read */
	uint64_t when_us;
	struct census census;
};

struct server {
	struct config *cfg;
	const struct config_source *src;
	struct event_base *base;
	struct worker **workers;
	size_t nworkers;
	size_t running;	       /* workers not yet stopped */
	size_t http_conns_max; /* each worker's share of http.max_connections */
	struct mailbox *inbox;
	struct control *control;
	struct metrics *metrics;
	struct memwatch *watch;
	struct activated fds;
	struct event *sig[3];
	struct event *status_timer;
	struct event *keepalive;
	struct event *flush;	 /* stopping: answers still being written */
	uint64_t flush_deadline; /* mono_us */
	unsigned ping_seq;
	struct wcmd *stops;
	char *own_socket; /* the control socket we bound: unlinked at exit */
	size_t thresholds[RCL_GENERATIONS]; /* in force on every worker */
	size_t young_bytes;
	bool incremental; /* heap.incremental, in force on every worker */
	size_t increment_objects;
	size_t tasks_running;	 /* RunTask calls not yet answered */
	uint64_t tasks_rejected; /* RunTask calls refused at the cap */
	bool stopping;
	bool debug_leak;
	uint64_t started_us;
	uint64_t start_time_ms; /* since the epoch, as /proc tells it */
	struct census_snapshot snapshots[1 + SNAPSHOT_UIDS];
	uint64_t snapshot_clock;
	struct history *history;
	struct report *report;
	int exit_status;
};

struct server *server_create(struct config *cfg,
			     const struct config_source *src, char **cause);
int server_run(struct server *srv);
void server_destroy(struct server *srv);
int server_reload(struct server *srv, char **cause);
int server_stats(struct server *srv, struct stats_snapshot *s);
void server_stop(struct server *srv);

#endif
