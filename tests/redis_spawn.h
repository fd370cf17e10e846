/*
 * redis_spawn.h - start a throwaway redis-server for the programs that
 * need a real one (tests/integration/redis_itest.c, bench/redis_bench.c):
 * loopback only, no persistence, its files and log in a directory of the
 * caller's. Each program waits for it in its own way (through the
 * library, or a raw PING) and stops it with kill() and waitpid().
 */
#ifndef SLUICE_REDIS_SPAWN_H
#define SLUICE_REDIS_SPAWN_H

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* Fork redis-server on 127.0.0.1:port with --dir dir (created, 0700) and
   its output appended to dir/redis.log. The child's pid, or -1. */
static pid_t redis_spawn(int port, const char *dir)
{
    char p[16], log[4096];
    pid_t pid;
    snprintf(p, sizeof p, "%d", port);
    if ((size_t)snprintf(log, sizeof log, "%s/redis.log", dir) >= sizeof log)
        return -1;
    if (mkdir(dir, 0700) != 0 && access(dir, W_OK) != 0)
        return -1;
    pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            (void)dup2(fd, 1);
            (void)dup2(fd, 2);
        }
        execlp("redis-server", "redis-server", "--port", p, "--bind",
            "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir,
            "--daemonize", "no", (char *)NULL);
        _exit(127);
    }
    return pid;
}

#endif
