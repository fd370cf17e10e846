/*
 * status.c - names for status codes and actions, and the version.
 */
#include "sluice.h"

const char *sluice_strerror(int code)
{
    switch (code) {
    case SLUICE_OK: return "success";
    case SLUICE_ENOMEM: return "out of memory";
    case SLUICE_EINVAL: return "invalid argument";
    case SLUICE_EIO: return "input/output error";
    case SLUICE_EPOLICY: return "invalid policy";
    case SLUICE_ETOOBIG: return "input over the configured limit";
    case SLUICE_EMISUSE: return "API misuse";
    case SLUICE_ENOPOLICY: return "no policy loaded";
    case SLUICE_EINTERNAL: return "internal library error";
    case SLUICE_ELIMIT: return "matcher resource limit reached";
    default: return "unknown error";
    }
}

const char *sluice_version(void)
{
    return SLUICE_VERSION_STRING;
}

const char *sluice_action_name(int action)
{
    switch (action) {
    case SLUICE_ALLOW: return "allow";
    case SLUICE_FLAG: return "flag";
    case SLUICE_LABEL: return "label";
    case SLUICE_REDACT: return "redact";
    case SLUICE_BLOCK: return "block";
    default: return "?";
    }
}
