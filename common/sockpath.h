/* Where the control socket lives, found the same way by daemon and client. */
#ifndef RECLAIM_COMMON_SOCKPATH_H
#define RECLAIM_COMMON_SOCKPATH_H

#include <stdbool.h>

char *sockpath_find(bool client);
char *sockpath_default(bool client);

#endif
