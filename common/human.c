/* Numbers for people: 1.5 MiB, 320 us. */
#include <stdio.h>

#include "human.h"

/* A size in B, KiB, MiB, GiB or TiB. */
const char *human_bytes(uint64_t bytes, char buf[HUMAN_LEN])
{
	static const char *units[] = {"KiB", "MiB", "GiB", "TiB"};
	double v = (double)bytes;
	int u = -1;

	if (bytes < 1024) {
		snprintf(buf, HUMAN_LEN, "%llu B", (unsigned long long)bytes);
		return buf;
	}
	while (v >= 1024 && u < 3) {
		v /= 1024;
		u++;
	}
	snprintf(buf, HUMAN_LEN, v < 10 ? "%.2f %s" : "%.1f %s", v, units[u]);
	return buf;
}

/* A duration in ns, us, ms or s. */
const char *human_ns(uint64_t ns, char buf[HUMAN_LEN])
{
	double v = (double)ns;

	if (ns < 1000)
		snprintf(buf, HUMAN_LEN, "%llu ns", (unsigned long long)ns);
	else if (ns < 1000000)
		snprintf(buf, HUMAN_LEN, "%.1f us", v / 1e3);
	else if (ns < 1000000000)
		snprintf(buf, HUMAN_LEN, "%.1f ms", v / 1e6);
	else
		snprintf(buf, HUMAN_LEN, "%.2f s", v / 1e9);
	return buf;
}
