/*
 * scripts.h - the Lua scripts state/ runs in Redis (EVALSHA), each one
 * atomic: strikes and escalation, publishing a bundle, the anchor
 * compare-and-swap. Their keys, arguments and replies are documented in
 * scripts.c beside each script.
 */
#ifndef SLUICE_STATE_SCRIPTS_H
#define SLUICE_STATE_SCRIPTS_H

#include "state/redis.h"

/* The text of script `s` (static). */
const char *redis_script_text(redis_script s);

#endif
