/*
 * Kernel notifications, so the watchdog reacts when memory moves rather than
 * at its next poll:
 *   cgroup v1: an eventfd per usage threshold on memory.usage_in_bytes
 *     (soft and hard, and the two hysteresis exits; registered on raw usage,
 *     so they are offset by the inactive file cache and re-armed when it
 *     moves), and one on memory.pressure_level ("medium");
 *   PSI: a "some" trigger on the cgroup's memory.pressure (v2) or
 *     /proc/pressure/memory, polled for POLLPRI;
 *   cgroup v2: memory.events, polled for POLLPRI (high, max, oom, oom_kill);
 *   systemd: $MEMORY_PRESSURE_WATCH / $MEMORY_PRESSURE_WRITE (PRESSURE.md),
 *     which replaces our own PSI trigger when set.
 * libevent cannot wait for POLLPRI, so those fds sit in an epoll set whose
 * own fd is what the event base watches.
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "watchdog-internal.h"

/* Reset the notification state: nothing armed. */
void wd_notify_init(struct wd_notify *n)
{
	int i;

	memset(n, 0, sizeof *n);
	for (i = 0; i < WD_EFD_MAX; i++)
		n->efd[i] = -1;
	for (i = 0; i < WD_PRI_MAX; i++)
		n->pri[i] = -1;
	n->epfd = -1;
}

/* Append a word to the description of what is armed. */
static void describe(struct wd_notify *n, const char *what)
{
	size_t len = strlen(n->desc);

	if (strstr(n->desc, what) != NULL)
		return;
	snprintf(n->desc + len, sizeof n->desc - len, "%s%s", len ? "," : "",
		 what);
}

/* An eventfd fired: drain it and wake the watchdog. */
static void on_efd(evutil_socket_t fd, short what, void *arg)
{
	rcl_watchdog *wd = arg;
	uint64_t t0 = wd_now_ns(), count;
	int i, kind = RCL_WATCHDOG_WAKE_THRESHOLD;

	for (i = 0; i < WD_EFD_MAX; i++) {
		if (wd->notify.efd[i] == fd)
			kind = wd->notify.efd_kind[i];
	}
	if (read(fd, &count, sizeof count) < 0 && errno != EAGAIN)
		return;
	wd_wakeup(wd, kind, t0);
}

/* Register eventfd efd for "arg" on control file name in the limiting
 * cgroup's directory (v1). */
static int v1_register(struct wd_proc *p, const char *name, int efd,
		       const char *arg)
{
	char line[128];
	int cfd, ecfd, rc = -1;

	cfd = wd_proc_openat(p, true, name, O_RDONLY);
	ecfd = wd_proc_openat(p, true, "cgroup.event_control", O_WRONLY);
	if (cfd >= 0 && ecfd >= 0) {
		int len =
		    snprintf(line, sizeof line, "%d %d %s", efd, cfd, arg);

		rc = write(ecfd, line, (size_t)len) == len ? 0 : -1;
	}
	if (cfd >= 0)
		close(cfd);
	if (ecfd >= 0)
		close(ecfd);
	return rc;
}

/* Point slot i's event at efd: a new event the first time, the same one
 * re-assigned on re-arming, so re-arming does not allocate. */
static int slot_event(rcl_watchdog *wd, int i, int efd)
{
	struct wd_notify *n = &wd->notify;

	if (n->efd_ev[i] == NULL) {
		n->efd_ev[i] =
		    event_new(wd->base, efd, EV_READ | EV_PERSIST, on_efd, wd);
		return n->efd_ev[i] != NULL ? 0 : -1;
	}
	return event_assign(n->efd_ev[i], wd->base, efd, EV_READ | EV_PERSIST,
			    on_efd, wd);
}

/* Add one v1 eventfd for arg on name (in the limiting cgroup), waking
 * with kind. */
static int add_efd(rcl_watchdog *wd, const char *name, const char *arg,
		   int kind)
{
	struct wd_notify *n = &wd->notify;
	int i, efd;

	for (i = 0; i < WD_EFD_MAX && n->efd[i] >= 0; i++)
		;
	if (i == WD_EFD_MAX)
		return -1;
	efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (efd < 0)
		return -1;
	if (slot_event(wd, i, efd) != 0 ||
	    v1_register(wd->proc, name, efd, arg) != 0 ||
	    event_add(n->efd_ev[i], NULL) != 0) {
		close(efd);
		return -1;
	}
	n->efd[i] = efd;
	n->efd_kind[i] = kind;
	return 0;
}

/* Remove the eventfds of one kind (closing one unregisters it); their
 * events are kept for re-arming. */
static void drop_efds(struct wd_notify *n, int kind)
{
	int i;

	for (i = 0; i < WD_EFD_MAX; i++) {
		if (n->efd[i] < 0 || n->efd_kind[i] != kind)
			continue;
		event_del(n->efd_ev[i]);
		close(n->efd[i]);
		n->efd[i] = -1;
	}
}

/* The raw-usage thresholds for the levels: each level's bytes plus the
 * cache that raw usage includes and counted usage does not. */
static void v1_thresholds(const rcl_watchdog *wd, uint64_t t[4])
{
	uint64_t r = wd->s.reclaimable;

	t[0] = wd->soft + r;
	t[1] = wd->hard + r;
	t[2] = wd->soft - wd->hyst + r;
	t[3] = wd->hard - wd->hyst + r;
}

/* Arm the v1 usage thresholds on the limiting cgroup. */
static void arm_thresholds(rcl_watchdog *wd)
{
	struct wd_notify *n = &wd->notify;
	char arg[32];
	int i;

	n->nthresh = 0;
	if (wd->proc == NULL ||
	    wd->s.limit_source != RCL_WATCHDOG_LIMIT_CGROUP_V1)
		return;
	v1_thresholds(wd, n->thresh);
	for (i = 0; i < 4; i++) {
		snprintf(arg, sizeof arg, "%llu",
			 (unsigned long long)n->thresh[i]);
		if (add_efd(wd, "memory.usage_in_bytes", arg,
			    RCL_WATCHDOG_WAKE_THRESHOLD) == 0)
			n->nthresh++;
	}
	if (n->nthresh > 0)
		describe(n, "v1-threshold");
}

/* Write a trigger to an open PSI file (fd, taken); the fd, or -1. */
static int psi_arm(int fd, const char *trigger, size_t len)
{
	if (fd < 0)
		return -1;
	if (write(fd, trigger, len) != (ssize_t)len) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Add fd to the epoll set for events, waking with kind. */
static int add_pri(struct wd_notify *n, int fd, uint32_t events, int kind)
{
	struct epoll_event ev = {.events = events};
	int i;

	for (i = 0; i < WD_PRI_MAX && n->pri[i] >= 0; i++)
		;
	if (i == WD_PRI_MAX || fd < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	ev.data.u32 = (uint32_t)i;
	if (epoll_ctl(n->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
		close(fd);
		return -1;
	}
	n->pri[i] = fd;
	n->pri_kind[i] = kind;
	return 0;
}

/* Decode base64 text into out; the length, or -1. */
static ssize_t base64_decode(const char *in, unsigned char *out, size_t max)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				  "abcdefghijklmnopqrstuvwxyz0123456789+/";
	uint32_t acc = 0;
	size_t n = 0;
	int bits = 0;

	for (; *in != '\0' && *in != '='; in++) {
		const char *p = strchr(tab, *in);

		if (p == NULL || *in == '\0')
			return -1;
		acc = (acc << 6) | (uint32_t)(p - tab);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n == max)
				return -1;
			out[n++] = (unsigned char)(acc >> bits);
		}
	}
	return (ssize_t)n;
}

/* Open systemd's watch: a PSI file (POLLPRI), a FIFO or a socket (POLLIN),
 * and write the decoded $MEMORY_PRESSURE_WRITE to it. */
static int systemd_open(const char *path, const char *b64, uint32_t *events)
{
	unsigned char data[256];
	ssize_t len = b64 != NULL ? base64_decode(b64, data, sizeof data) : 0;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int fd;

	if (len < 0 || stat(path, &st) != 0)
		return -1;
	*events = S_ISREG(st.st_mode) ? EPOLLPRI : EPOLLIN;
	if (S_ISSOCK(st.st_mode)) {
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
			    0);
		snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
		if (fd >= 0 &&
		    connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
			close(fd);
			fd = -1;
		}
	} else {
		fd = open(path, (S_ISFIFO(st.st_mode) ? O_RDONLY : O_RDWR) |
				    O_NONBLOCK | O_CLOEXEC);
	}
	if (fd >= 0 && len > 0 && write(fd, data, (size_t)len) != len) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Arm systemd's memory pressure watch if the service manager set one. */
static bool arm_systemd(rcl_watchdog *wd)
{
	const char *path = getenv("MEMORY_PRESSURE_WATCH");
	uint32_t events;
	int fd;

	if (!wd->cfg.systemd_pressure || path == NULL || *path == '\0')
		return false;
	if (strcmp(path, "/dev/null") == 0)
		return true; /* explicitly off: no PSI trigger of our own */
	fd = systemd_open(path, getenv("MEMORY_PRESSURE_WRITE"), &events);
	if (add_pri(&wd->notify, fd, events, RCL_WATCHDOG_WAKE_SYSTEMD) != 0)
		return false;
	describe(&wd->notify, "systemd");
	return true;
}

/* Arm a PSI trigger on the cgroup's memory.pressure, else the system's. */
static void arm_psi(rcl_watchdog *wd)
{
	char trig[64];
	int len = snprintf(trig, sizeof trig, "some %u %u",
			   wd->cfg.psi_stall_us, wd->cfg.psi_window_us);
	int fd = -1;

	if (wd->proc != NULL && wd->proc->version == 2)
		fd = psi_arm(wd_proc_openat(wd->proc, false, "memory.pressure",
					    O_RDWR | O_NONBLOCK),
			     trig, (size_t)len + 1);
	if (fd < 0)
		fd = psi_arm(open("/proc/pressure/memory",
				  O_RDWR | O_NONBLOCK | O_CLOEXEC),
			     trig, (size_t)len + 1);
	if (add_pri(&wd->notify, fd, EPOLLPRI, RCL_WATCHDOG_WAKE_PSI) == 0)
		describe(&wd->notify, "psi");
}

/* Arm memory.events (v2) on the limiting cgroup, else ours. */
static void arm_events(rcl_watchdog *wd)
{
	struct wd_proc *p = wd->proc;
	int fd;

	if (p == NULL || p->version != 2)
		return;
	fd = wd_proc_openat(p, true, "memory.events", O_RDONLY);
	if (add_pri(&wd->notify, fd, EPOLLPRI, RCL_WATCHDOG_WAKE_EVENTS) == 0)
		describe(&wd->notify, "memory-events");
}

/* Consume what woke fd i of the epoll set; false if it is gone. */
static bool drain_pri(struct wd_notify *n, int i, char *buf, size_t len)
{
	ssize_t r;

	if (n->pri_kind[i] == RCL_WATCHDOG_WAKE_EVENTS) {
		/* kernfs keeps POLLPRI up until the file is read again */
		return pread(n->pri[i], buf, len, 0) >= 0;
	}
	if (n->pri_kind[i] == RCL_WATCHDOG_WAKE_PSI)
		return true;
	r = read(n->pri[i], buf, len);
	if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
		epoll_ctl(n->epfd, EPOLL_CTL_DEL, n->pri[i], NULL);
		return false;
	}
	return true;
}

/* The epoll set is readable: wake the watchdog for each ready fd. */
static void on_epoll(evutil_socket_t fd, short what, void *arg)
{
	rcl_watchdog *wd = arg;
	struct wd_notify *n = &wd->notify;
	struct epoll_event evs[WD_PRI_MAX];
	uint64_t t0 = wd_now_ns();
	char buf[512];
	int i, k;

	k = epoll_wait(n->epfd, evs, WD_PRI_MAX, 0);
	for (i = 0; i < k; i++) {
		int idx = (int)evs[i].data.u32;

		if (idx < WD_PRI_MAX && n->pri[idx] >= 0 &&
		    drain_pri(n, idx, buf, sizeof buf))
			wd_wakeup(wd, n->pri_kind[idx], t0);
	}
}

/* Arm the POLLPRI sources and watch their epoll set on the base. */
static void arm_epoll(rcl_watchdog *wd)
{
	struct wd_notify *n = &wd->notify;

	n->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (n->epfd < 0)
		return;
	if (!arm_systemd(wd))
		arm_psi(wd);
	arm_events(wd);
	n->ep_ev =
	    event_new(wd->base, n->epfd, EV_READ | EV_PERSIST, on_epoll, wd);
	if (n->ep_ev == NULL || event_add(n->ep_ev, NULL) != 0) {
		if (n->ep_ev != NULL)
			event_free(n->ep_ev);
		n->ep_ev = NULL;
	}
}

/* Arm every notification the kernel and the service manager offer. */
void wd_notify_arm(rcl_watchdog *wd)
{
	struct wd_proc *p = wd->proc;

	if (wd->base == NULL || p == NULL)
		return;
	arm_thresholds(wd);
	if (p->version == 1 &&
	    add_efd(wd, "memory.pressure_level", "medium",
		    RCL_WATCHDOG_WAKE_PRESSURE) == 0)
		describe(&wd->notify, "v1-pressure");
	arm_epoll(wd);
}

/* Re-arm the usage thresholds (the limit or the cache moved). */
void wd_notify_rearm(rcl_watchdog *wd)
{
	struct wd_notify *n = &wd->notify;

	if (wd->base == NULL || wd->proc == NULL || !wd->cfg.events)
		return;
	drop_efds(n, RCL_WATCHDOG_WAKE_THRESHOLD);
	arm_thresholds(wd);
}

/* Re-arm the thresholds when the cache they are offset by moved by more
 * than 1/64 of the limit (so a crossing is never missed by more). */
void wd_notify_track(rcl_watchdog *wd)
{
	struct wd_notify *n = &wd->notify;
	uint64_t t[4], d;

	if (n->nthresh == 0)
		return;
	v1_thresholds(wd, t);
	d = t[0] > n->thresh[0] ? t[0] - n->thresh[0] : n->thresh[0] - t[0];
	if (d > wd->s.limit / 64)
		wd_notify_rearm(wd);
}

/* Close every notification. */
void wd_notify_disarm(rcl_watchdog *wd)
{
	struct wd_notify *n = &wd->notify;
	int i;

	drop_efds(n, RCL_WATCHDOG_WAKE_THRESHOLD);
	drop_efds(n, RCL_WATCHDOG_WAKE_PRESSURE);
	for (i = 0; i < WD_EFD_MAX; i++) {
		if (n->efd_ev[i] != NULL)
			event_free(n->efd_ev[i]);
	}
	if (n->ep_ev != NULL)
		event_free(n->ep_ev);
	for (i = 0; i < WD_PRI_MAX; i++) {
		if (n->pri[i] >= 0)
			close(n->pri[i]);
	}
	if (n->epfd >= 0)
		close(n->epfd);
	wd_notify_init(n);
}
