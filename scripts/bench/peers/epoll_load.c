/* epoll_load: a minimal ping-pong load generator, to check that our own client is not the
 * bottleneck in scripts/bench/02-multi-conn.sh. Usage: epoll_load PORT CONNECTIONS SECS [SIZE].
 * Each connection to 127.0.0.1:PORT sends SIZE (64) bytes, waits for all of them to come back,
 * and sends again, until SECS seconds have passed. Prints the same summary as our client:
 * "N connections, 64-byte ping-pong for S s: M messages, R messages/s". */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: epoll_load PORT CONNECTIONS SECS [SIZE]\n"); return 2; }
    int port = atoi(argv[1]), conns = atoi(argv[2]), size = argc > 4 ? atoi(argv[4]) : 64;
    double secs = atof(argv[3]);
    if (conns < 1 || size < 1 || size > 65536 || secs <= 0) { fprintf(stderr, "bad arguments\n"); return 2; }
    /* Echoes are counted, not compared: the point is the least client work per message. */
    int *fds = calloc((size_t)conns, sizeof *fds), *echoed = calloc((size_t)conns, sizeof *echoed);
    int ep = epoll_create1(0), one = 1;
    static char msg[65536], buf[65536];
    memset(msg, 'x', sizeof msg);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port) };
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    double start = now(), deadline = start + secs;
    for (int i = 0; i < conns; i++) { /* blocking connect, then non-blocking ping-pong */
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) { perror("connect"); return 1; }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (unsigned)i };
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0 || write(fd, msg, (size_t)size) != size) { perror("start"); return 1; }
        fds[i] = fd;
    }
    long long messages = 0;
    struct epoll_event ready[1024];
    while (now() < deadline) {
        int n = epoll_wait(ep, ready, 1024, 100);
        if (n < 0 && errno != EINTR) { perror("epoll_wait"); return 1; }
        for (int i = 0; i < n; i++) {
            int c = (int)ready[i].data.u32;
            ssize_t r = read(fds[c], buf, sizeof buf);
            if (r <= 0) { if (r < 0 && errno == EAGAIN) continue; fprintf(stderr, "connection %d closed\n", c); return 1; }
            echoed[c] += (int)r;
            if (echoed[c] < size) continue;
            messages++;
            echoed[c] = 0;
            if (write(fds[c], msg, (size_t)size) != size) { perror("write"); return 1; }
        }
    }
    double elapsed = now() - start;
    printf("%d connections, %d-byte ping-pong for %.2f s: %lld messages, %.0f messages/s\n",
           conns, size, elapsed, messages, (double)messages / elapsed);
    return 0;
}
