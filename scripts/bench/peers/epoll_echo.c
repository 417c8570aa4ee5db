/* epoll_echo: the smallest edge-triggered epoll echo server, one thread, the kernel-bound limit
 * for scripts/bench/02-multi-conn.sh. Binds 127.0.0.1:0 and prints "listening on 127.0.0.1:PORT".
 * Each ready socket is read until EAGAIN and every chunk is written straight back. It keeps no
 * output buffer: a write that would block (the client does not read its echoes; never so with
 * ping-pong) drops that connection, so the client sees it and the benchmark fails loudly. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static int echo_all(int fd, char *buf, size_t cap) { /* 0 = keep the connection, -1 = close it */
    for (;;) {
        ssize_t got = read(fd, buf, cap);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0 && errno == EAGAIN) return 0; /* drained: wait for the next edge */
        if (got <= 0) return -1;                  /* the client closed, or an error */
        for (ssize_t off = 0; off < got;) {
            ssize_t put = write(fd, buf + off, (size_t)(got - off));
            if (put < 0 && errno != EINTR) return -1;
            if (put > 0) off += put;
        }
    }
}

int main(void) {
    struct rlimit lim;
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0) { lim.rlim_cur = lim.rlim_max; setrlimit(RLIMIT_NOFILE, &lim); }
    int one = 1, lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = 0 };
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(lfd, 4096) < 0 ||
        getsockname(lfd, (struct sockaddr *)&addr, &len) < 0) { perror("listen"); return 1; }
    printf("listening on 127.0.0.1:%d\n", ntohs(addr.sin_port));
    fflush(stdout);
    int ep = epoll_create1(0);
    struct epoll_event ev = { .events = EPOLLIN | EPOLLET, .data.fd = lfd }, ready[1024];
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0) { perror("epoll"); return 1; }
    static char buf[65536];
    for (;;) {
        int n = epoll_wait(ep, ready, 1024, -1);
        if (n < 0 && errno != EINTR) { perror("epoll_wait"); return 1; }
        for (int i = 0; i < n; i++) {
            int fd = ready[i].data.fd, conn;
            if (fd != lfd) {
                if (echo_all(fd, buf, sizeof buf) < 0) close(fd); /* close() also unregisters it */
                continue;
            }
            while ((conn = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0 || errno == ECONNABORTED || errno == EINTR) {
                if (conn < 0) continue;
                setsockopt(conn, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                ev.data.fd = conn;
                if (epoll_ctl(ep, EPOLL_CTL_ADD, conn, &ev) < 0) close(conn);
            }
        }
    }
}
