#!/usr/bin/env python3
"""Draws the book's pictures: the figures of the chapters and the benchmark charts.

    python3 scripts/book-pictures.py            write every SVG into docs/src/img/
    python3 scripts/book-pictures.py --check    exit 1 if a file there is missing or stale

The figures are drawn from the coordinates below; the charts read their numbers from the
tables in docs/src/benchmarks.md, the one place results are recorded, so a re-run benchmark
only needs its table pasted and this script run again. Every picture is plain SVG text with
no fonts or images embedded. Each sits on a light card of its own, so it reads the same on
mdBook's light and dark themes (an <img> does not inherit the page's colours).
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMG = ROOT / "docs" / "src" / "img"
BENCHMARKS = ROOT / "docs" / "src" / "benchmarks.md"

INK = "#1f2328"
GREY = "#475569"
BLUE = "#1d4ed8"
GREEN = "#15803d"
AMBER = "#b45309"
RED = "#b91c1c"

STYLE = f"""text{{font-family:'DejaVu Sans',Verdana,Arial,sans-serif;font-size:13px;fill:{INK}}}
.m{{font-family:'DejaVu Sans Mono',Menlo,Consolas,monospace;font-size:12px}}
.s{{font-size:11px;fill:{GREY}}}
.b{{font-weight:bold}}
.i{{font-style:italic}}
.red{{fill:{RED}}}
.blue{{fill:{BLUE}}}
.green{{fill:{GREEN}}}
.amber{{fill:{AMBER}}}
.card{{fill:#f8fafc;stroke:#94a3b8}}
.box{{fill:#ffffff;stroke:{GREY}}}
.srv{{fill:#dbeafe;stroke:{BLUE}}}
.cli{{fill:#dcfce7;stroke:{GREEN}}}
.ker{{fill:#fef3c7;stroke:{AMBER}}}
.bad{{fill:#fee2e2;stroke:{RED}}}
.ln{{stroke:{GREY};stroke-width:1.5;fill:none}}
.lb{{stroke:{BLUE};stroke-width:1.5;fill:none}}
.lg{{stroke:{GREEN};stroke-width:1.5;fill:none}}
.lr{{stroke:{RED};stroke-width:1.5;fill:none}}
.la{{stroke:{AMBER};stroke-width:1.5;fill:none}}
.mark{{fill:{AMBER}}}
.life{{stroke:#94a3b8;stroke-width:1;stroke-dasharray:4 3;fill:none}}
.dash{{stroke-dasharray:5 4}}"""

MARKERS = {"ln": GREY, "lb": BLUE, "lg": GREEN, "lr": RED, "la": AMBER}


def esc(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class Svg:
    """One picture: a card of WIDTH x HEIGHT pixels and the shapes drawn on it."""

    def __init__(self, width, height, title):
        self.width, self.height, self.title = width, height, title
        self.parts = []

    def rect(self, x, y, w, h, cls="box", rx=6):
        self.parts.append(f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="{rx}" class="{cls}"/>')

    def text(self, x, y, lines, cls="", anchor="start", step=16):
        """Text at (x, y); a list of lines goes down by STEP pixels per line."""
        if isinstance(lines, str):
            lines = [lines]
        attrs = f' class="{cls}"' if cls else ""
        if anchor != "start":
            attrs += f' text-anchor="{anchor}"'
        if len(lines) == 1:
            self.parts.append(f'<text x="{x}" y="{y}"{attrs}>{esc(lines[0])}</text>')
            return
        spans = "".join(
            f'<tspan x="{x}" dy="{0 if i == 0 else step}">{esc(line)}</tspan>'
            for i, line in enumerate(lines)
        )
        self.parts.append(f'<text x="{x}" y="{y}"{attrs}>{spans}</text>')

    def box(self, x, y, w, h, lines, cls="box", tcls="", anchor="middle"):
        """A box with its lines of text centred (or left-aligned) inside."""
        self.rect(x, y, w, h, cls)
        if isinstance(lines, str):
            lines = [lines]
        top = y + h / 2 - (len(lines) - 1) * 8 + 4.5
        tx = x + w / 2 if anchor == "middle" else x + 8
        self.text(tx, top, lines, tcls, anchor)

    def line(self, x1, y1, x2, y2, cls="ln", arrow=True):
        colour = next((c for c in cls.split() if c in MARKERS), "ln")
        end = f' marker-end="url(#arrow-{colour})"' if arrow else ""
        self.parts.append(f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" class="{cls}"{end}/>')

    def path(self, d, cls="ln", arrow=True):
        colour = next((c for c in cls.split() if c in MARKERS), "ln")
        end = f' marker-end="url(#arrow-{colour})"' if arrow else ""
        self.parts.append(f'<path d="{d}" class="{cls}"{end}/>')

    def cross(self, x, y, size=7):
        self.parts.append(
            f'<path d="M{x - size} {y - size}L{x + size} {y + size}M{x - size} {y + size}'
            f'L{x + size} {y - size}" class="lr" style="stroke-width:2.5"/>'
        )

    def render(self):
        markers = "".join(
            f'<marker id="arrow-{name}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
            f'markerHeight="7" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" '
            f'fill="{colour}"/></marker>'
            for name, colour in MARKERS.items()
        )
        body = "\n".join(self.parts)
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.width}" height="{self.height}" '
            f'viewBox="0 0 {self.width} {self.height}" role="img">\n'
            f"<title>{esc(self.title)}</title>\n<style>\n{STYLE}\n</style>\n"
            f"<defs>{markers}</defs>\n"
            f'<rect x="0.5" y="0.5" width="{self.width - 1}" height="{self.height - 1}" rx="8" '
            f'class="card"/>\n{body}\n</svg>\n'
        )


# ---------------------------------------------------------------------------------------------
# Chapter 01 and 07: the calls, the accept queue, closing.


def tcp_calls():
    s = Svg(720, 700, "The TCP calls of a server and a client, and the packets under them")
    sx, cx, w = 40, 460, 220
    s.text(sx + w / 2, 30, "server (01-echo server)", "b blue", "middle")
    s.text(cx + w / 2, 30, "client (01-echo client)", "b green", "middle")
    s.line(sx + w / 2, 40, sx + w / 2, 685, "life", False)
    s.line(cx + w / 2, 40, cx + w / 2, 685, "life", False)
    s.text(360, 30, "packets (the kernels)", "s", "middle")
    for y, label in [
        (45, "socket() -> fd 3"),
        (85, "setsockopt(SO_REUSEADDR)"),
        (125, "bind(127.0.0.1:65432)"),
        (165, "listen(backlog=128)"),
    ]:
        s.box(sx, y, w, 28, label, "srv", "m")
    s.box(sx, 205, w, 28, "accept(): waits", "srv", "m")
    s.box(cx, 165, w, 28, "socket() -> fd 3", "cli", "m")
    s.box(cx, 205, w, 28, "connect(127.0.0.1:65432)", "cli", "m")
    # The three-way handshake: the server's kernel answers, not the program.
    s.line(cx, 245, sx + w, 262, "lg")
    s.text(360, 247, "SYN", "b", "middle")
    s.line(sx + w, 272, cx, 289, "lb")
    s.text(360, 275, "SYN-ACK", "b", "middle")
    s.line(cx, 299, sx + w, 316, "lg")
    s.text(360, 302, "ACK", "b", "middle")
    s.text(365, 340, ["three-way handshake:", "the kernels answer it"], "s i", "middle", step=14)
    s.box(cx, 305, w, 28, "connect() returns", "cli", "m")
    s.box(sx, 335, w, 40, ["accept() -> fd 4,", "peer 127.0.0.1:53022"], "srv", "m")
    s.box(cx, 360, w, 28, 'sendall(b"Hello, world")', "cli", "m")
    s.line(cx, 394, sx + w, 412, "lg")
    s.text(360, 396, "12 bytes", "", "middle")
    s.box(sx, 405, w, 28, "recv(1024) -> 12 bytes", "srv", "m")
    s.box(sx, 445, w, 28, "sendall(12 bytes)", "srv", "m")
    s.line(sx + w, 462, cx, 480, "lb")
    s.text(360, 464, "the echo", "", "middle")
    s.box(cx, 470, w, 28, "recv(1024) -> 12 bytes", "cli", "m")
    s.box(cx, 515, w, 28, "close()", "cli", "m")
    s.line(cx, 532, sx + w, 550, "lg")
    s.text(360, 534, "FIN", "b", "middle")
    s.box(sx, 545, w, 40, ["recv(1024) -> 0 bytes", "(peer closed)"], "srv", "m")
    s.box(sx, 600, w, 28, "close(fd 4)", "srv", "m")
    s.line(sx + w, 617, cx, 635, "lb")
    s.text(360, 619, "FIN", "b", "middle")
    s.box(cx, 630, w, 40, ["TIME_WAIT (60 s):", "it closed first"], "ker", "m")
    s.text(sx + w / 2, 655, "fd 3 goes on listening:", "s", "middle")
    s.text(sx + w / 2, 671, "accept() again", "s", "middle")
    return s


def accept_queue():
    s = Svg(720, 322, "The accept queue of a listening socket")
    s.text(20, 28, "clients", "b green")
    for i, y in enumerate([50, 100, 150]):
        s.box(20, y, 120, 32, f"connect() #{i + 1}", "cli", "m")
        s.line(140, y + 16, 236, y + 16, "lg")
        s.text(188, y + 10, "SYN ...", "s", "middle")
    s.box(20, 230, 120, 32, "one more", "cli", "m")
    s.line(140, 246, 226, 246, "lr dash")
    s.cross(232, 246)
    s.text(20, 285, ["queue full: Linux ignores the SYN;", "the client retries after 1 s, 3 s, 7 s"], "s red")
    # The kernel's side of the listening socket.
    s.rect(240, 40, 320, 252, "ker")
    s.text(400, 62, "kernel: listening socket (fd 3)", "b amber", "middle")
    s.text(400, 84, ["it completes each handshake by itself:", "that client's connect() has already returned"], "s", "middle")
    s.text(256, 130, "accept queue: completed connections", "")
    for i in range(6):
        x = 256 + i * 48
        label = {3: "#3", 4: "#2", 5: "#1"}.get(i, "")
        s.rect(x, 142, 42, 40, "cli" if label else "box", 4)
        s.text(x + 21, 167, label, "m", "middle")
    s.text(544, 200, "head: the oldest, taken first", "s", "end")
    s.text(256, 222, ["the backlog bounds it: listen(128) holds up to", "129 on Linux (backlog + 1); every backlog is", "capped at net.core.somaxconn (4096 here)"], "s")
    s.text(256, 278, "connections wait here while the server is busy", "s")
    s.line(544, 162, 578, 162, "lb")
    s.box(580, 120, 125, 84, ["server:", "accept()", "-> fd 4,", "client #1"], "srv", "m")
    s.text(642, 230, ["accept() blocks", "only when the", "queue is empty"], "s", "middle")
    return s


def closing():
    s = Svg(720, 575, "Closing a TCP connection: FIN both ways, half-close, TIME_WAIT, and RST")
    ax, bx = 150, 430
    s.text(ax, 28, "A: closes first", "b green", "middle")
    s.text(bx, 28, "B: the peer", "b blue", "middle")
    s.line(ax, 38, ax, 380, "life", False)
    s.line(bx, 38, bx, 380, "life", False)
    s.box(ax - 105, 44, 210, 40, ["shutdown(SHUT_WR)", "or close()"], "cli", "m")
    s.line(ax, 90, bx, 112, "lg")
    s.text(290, 94, "FIN", "b", "middle")
    s.text(ax - 10, 112, "FIN_WAIT_1", "m s", "end")
    s.line(bx, 120, ax, 140, "lb")
    s.text(290, 124, "ACK", "b", "middle")
    s.box(bx - 5, 104, 200, 40, ["recv() -> 0 bytes", "CLOSE_WAIT"], "srv", "m")
    s.text(ax - 10, 145, "FIN_WAIT_2", "m s", "end")
    # Half-closed: B still sends, A still receives (after shutdown, not after close).
    s.line(bx, 168, ax, 188, "lb")
    s.text(290, 170, "data still flows B -> A", "", "middle")
    s.text(bx + 10, 182, ["half-closed: B can still send;", "A reads it (if A used shutdown;", "after close() it is answered by RST)"], "s")
    s.box(bx - 5, 230, 200, 28, "close()   LAST_ACK", "srv", "m")
    s.line(bx, 262, ax, 282, "lb")
    s.text(290, 266, "FIN", "b", "middle")
    s.text(ax - 10, 282, "recv() -> 0", "m s", "end")
    s.line(ax, 292, bx, 312, "lg")
    s.text(290, 296, "ACK", "b", "middle")
    s.text(bx + 10, 318, "CLOSED: B is done at once", "s")
    s.box(ax - 105, 322, 210, 50, ["TIME_WAIT: 60 s on Linux", "the address pair stays reserved"], "ker", "s")
    s.text(20, 400, "Whoever sends the first FIN ends in TIME_WAIT. A server that closes first (stopped with clients",
           "s")
    s.text(20, 416, "connected) leaves TIME_WAIT on its own port, and SO_REUSEADDR lets it bind again.", "s")
    # Resets.
    s.line(20, 432, 700, 432, "life", False)
    s.text(20, 456, "RST: an abort, not a goodbye", "b red")
    s.box(20, 470, 200, 40, ["close() with unread", "data in its buffer"], "bad", "m")
    s.line(220, 490, 470, 490, "lr")
    s.text(345, 484, "RST", "b red", "middle")
    s.box(475, 470, 225, 40, ["recv() / send():", "Connection reset by peer"], "bad", "m")
    s.box(20, 515, 200, 36, "connect() to a closed port", "cli", "m")
    s.line(220, 525, 470, 525, "lg")
    s.text(345, 521, "SYN", "b", "middle")
    s.line(470, 543, 220, 543, "lr")
    s.text(345, 556, "RST: nobody listens", "s red", "middle")
    s.box(475, 515, 225, 36, "connect(): Connection refused", "bad", "m")
    return s


# ---------------------------------------------------------------------------------------------
# Chapter 02: the event loop and the interest state machine.


def event_loop():
    s = Svg(720, 300, "One thread, one event loop: poll, then the work each ready socket allows")
    s.box(250, 20, 220, 50, ["poll(&mut events, timeout)", "epoll_wait: sleep until ready"], "ker", "m")
    s.line(360, 70, 360, 100)
    s.text(370, 90, "the kernel says which sockets, and for what", "s")
    s.box(30, 104, 200, 60, ["listener readable", "accept until WouldBlock,", "register(fd, READABLE)"], "srv", "s")
    s.box(260, 104, 200, 60, ["connection readable", "recv until WouldBlock", "or a short read"], "srv", "s")
    s.box(490, 104, 200, 60, ["connection writable", "send the pending echo", "until WouldBlock"], "srv", "s")
    s.path("M360 100 L130 100 L130 104", "ln", False)
    s.path("M360 100 L590 100 L590 104", "ln", False)
    s.line(360, 164, 360, 190)
    s.line(130, 164, 130, 190, "ln", False)
    s.line(590, 164, 590, 190, "ln", False)
    s.path("M130 190 L590 190", "ln", False)
    s.box(210, 196, 300, 50, ["wanted interest differs from the registered?", "reregister(fd, wanted)  (EPOLL_CTL_MOD)"], "box", "s")
    s.path("M510 221 L700 221 L700 45 L470 45", "ln")
    s.text(600, 262, "back to poll: one thread,", "s", "middle")
    s.text(600, 278, "no call ever waits for one client", "s", "middle")
    s.text(30, 270, ["Each connection keeps what the thread's stack used to:", "the bytes received but not yet echoed."], "s")
    return s


def interest_states():
    s = Svg(720, 500, "The interest state machine of one connection in chapter 02")
    x, w = 140, 280
    mid = x + w / 2
    s.text(mid, 24, "accept(), register(fd, READABLE)", "m", "middle")
    s.line(mid, 30, mid, 50)
    s.box(x, 52, w, 64, ["READING", "interest: READABLE", "nothing waiting to be sent"], "cli", "")
    s.line(mid, 116, mid, 170)
    s.text(mid + 10, 136, ["send() took only part", "of the echo: the rest", "is pending"], "s")
    s.box(x, 172, w, 64, ["READING + WRITING", "interest: READABLE | WRITABLE", "0 < pending < MAX_PENDING_OUTPUT"], "srv", "")
    s.line(x + 70, 236, x + 70, 300)
    s.text(20, 252, ["pending >=", "MAX_PENDING_OUTPUT:", "stop reading", "(backpressure)"], "s")
    s.line(x + 190, 300, x + 190, 236)
    s.text(x + 200, 262, ["pending drops", "below the limit"], "s")
    s.box(x, 302, w, 64, ["WRITING ONLY", "interest: WRITABLE", "over the limit, or the peer closed"], "ker", "")
    s.line(mid, 366, mid, 420)
    s.text(mid + 10, 388, ["the peer has closed and", "everything is sent"], "s")
    s.box(x, 422, w, 56, ["CLOSED: close(fd), which also", "removes it from the epoll set"], "bad", "")
    # "Everything sent" goes back to READING from the two writing states.
    s.path(f"M{x + w} 204 L{x + w + 40} 204 L{x + w + 40} 84 L{x + w + 2} 84", "lg")
    s.path(f"M{x + w} 334 L{x + w + 40} 334 L{x + w + 40} 204", "lg", False)
    s.text(x + w + 48, 110, ["everything sent", "(from WRITING ONLY", "only if the peer", "has not closed)"], "s green")
    s.text(480, 280, "recv() returns 0 (the peer closed):", "s b")
    s.text(480, 296, ["nothing pending: READING -> CLOSED;", "output pending: -> WRITING ONLY,", "then CLOSED once it is all sent"], "s")
    s.text(480, 360, "an error (a reset, a broken pipe):", "s b")
    s.text(480, 376, ["from any state -> CLOSED,", "and the others go on"], "s")
    s.text(480, 430, ["Interest changes (reregister) only", "at the end of a turn, so one turn", "can go READING -> WRITING ONLY."], "s")
    return s


# ---------------------------------------------------------------------------------------------
# Chapter 03: fan-out and the frame.


def room_fanout():
    s = Svg(720, 430, "Fan-out in the chat room: one line in, one outbox per member, backpressure on the senders, the stuck reader dropped")
    s.text(20, 30, ["The relay never waits for a receiver:", "queuing is an append."], "s")
    s.box(20, 110, 120, 50, ["alice", "send frame"], "cli", "")
    s.line(140, 128, 198, 128, "lg")
    s.text(169, 121, "TEXT", "s", "middle")
    # Backpressure: while a reader that keeps reading is behind, senders are not read.
    s.line(198, 148, 142, 148, "la dash")
    s.text(169, 164, "paused", "s amber", "middle")
    s.text(20, 190, ["While a reader that is", "still reading has", "PAUSE_READING_AT (64 KiB)", "waiting, the room reads", "no one's lines: they wait in", "the kernel, and TCP's flow", "control slows the senders,", "the fastest first."], "s amber", step=15)
    s.rect(200, 40, 250, 310, "srv")
    s.text(325, 62, "server: one event loop", "b blue", "middle")
    s.text(325, 82, "recv -> Decoder -> frame", "s", "middle")
    s.text(325, 98, "broadcast: append", "s", "middle")
    s.text(325, 114, '"alice: hello" to each other outbox', "s", "middle")
    rows = [
        ("bob", 145, 1, ["bob", "reads: his outbox drains"], "cli"),
        ("carol", 210, 4, ["carol", "reads slowly: past 64 KiB,", "the room pauses"], "ker"),
        ("dave", 275, 8, ["dave", "takes nothing for 2 s:", "stuck, the room goes on"], "bad"),
    ]
    for name, y, fill, note, cls in rows:
        s.text(276, y - 6, f"outbox for {name}", "s")
        for i in range(8):
            full = i < fill
            s.rect(215 + i * 27, y, 24, 24, ("bad" if fill == 8 else "ker") if full else "box", 3)
        s.line(200, 128, 213, y + 12, "ln", False)
        s.line(450, y + 12, 538, y + 12, "lr dash" if fill == 8 else "lb")
        s.text(494, y + 6, "send()", "s", "middle")
        s.box(540, y - 14, 170, 52, note, cls, "s")
    # The pause threshold: a quarter of the outbox.
    s.line(268, 138, 268, 306, "la dash", False)
    s.text(268, 320, "PAUSE_READING_AT: 64 KiB", "s amber", "middle")
    s.text(325, 338, "each outbox at most MAX_OUTBOX_BYTES (256 KiB)", "s", "middle")
    s.text(20, 372, "flush: a non-blocking send() of what the kernel's send buffer takes; write interest only while an outbox is not empty.", "s")
    s.text(20, 394, "dave's next line would pass 256 KiB: he is dropped, and the room is told", "s red")
    s.text(20, 414, "* dave left (too slow: 256.0 KiB of messages waiting (MAX_OUTBOX_BYTES))", "m red")
    return s


def frame_bytes():
    s = Svg(720, 250, "A TEXT frame on the wire, byte by byte")
    wire = [0x00, 0x00, 0x00, 0x0C, 0x01] + list(b"hello, room")
    x0, cell = 20, 42
    s.text(20, 26, 'alice sends "hello, room": 16 bytes on the wire', "b")
    for i, byte in enumerate(wire):
        x = x0 + i * cell
        cls = "ker" if i < 4 else "srv" if i == 4 else "cli"
        s.text(x + cell / 2, 52, str(i), "s", "middle")
        s.rect(x, 58, cell - 2, 34, cls, 3)
        s.text(x + cell / 2 - 1, 80, f"{byte:02x}", "m b", "middle")
        if i >= 5:
            ch = chr(byte)
            s.text(x + cell / 2 - 1, 110, "' '" if ch == " " else ch, "m", "middle")
    s.text(20, 52, "", "s")
    s.path(f"M{x0} 120 L{x0} 128 L{x0 + 4 * cell - 4} 128 L{x0 + 4 * cell - 4} 120", "la", False)
    s.text(x0, 146, ["length: u32, big-endian", "0x0000000c = 12 =", "1 kind byte + 11 of text"], "s")
    kx = x0 + 4 * cell
    s.path(f"M{kx} 120 L{kx} 128 L{kx + cell - 4} 128 L{kx + cell - 4} 120", "lb", False)
    s.text(kx, 146, ["kind", "0x01 =", "TEXT"], "s")
    tx = x0 + 5 * cell
    s.path(f"M{tx} 120 L{tx} 128 L{x0 + 16 * cell - 4} 128 L{x0 + 16 * cell - 4} 120", "lg", False)
    s.text(tx + 10, 146, ["content: length - 1 = 11 bytes of UTF-8, checked by the receiver", "(the server relays it as \"alice: hello, room\": 23 bytes on the wire)"], "s")
    s.text(20, 210, ["Network byte order puts the most significant byte first. A little-endian machine writing its native",
                     "order would send 0c 00 00 00, which a reader takes for 201,326,592: more than MAX_FRAME_LEN (64 KiB)."], "s")
    return s


# ---------------------------------------------------------------------------------------------
# Chapter 04: the probe against a network that loses, duplicates and reorders.


def udp_probe():
    s = Svg(720, 470, "UDP probes lost, duplicated and reordered, and what the client reports")
    cx, sx = 90, 330
    s.text(cx, 26, "client: ping", "b green", "middle")
    s.text(sx, 26, "server (--drop, --duplicate,", "b blue", "middle")
    s.text(sx, 42, "--delay, --jitter)", "b blue", "middle")
    s.line(cx, 50, cx, 420, "life", False)
    s.line(sx, 50, sx, 420, "life", False)
    sends = [(0, 60), (1, 100), (2, 140), (3, 180), (4, 220), (5, 260)]
    for seq, y in sends:
        s.line(cx, y, sx, y + 14, "lg")
        s.text(cx - 8, y + 4, f"seq={seq}", "m s", "end")
    # Replies: 0 back; 1 dropped; 2 twice; 3 delayed past 4; 4 and 5 back.
    s.line(sx, 78, cx, 92, "lb")
    s.cross(sx + 12, 114)
    s.text(sx + 24, 118, "1: dropped", "s red")
    s.line(sx, 158, cx, 172, "lb")
    s.line(sx, 166, cx, 190, "lb dash")
    s.text(sx + 12, 166, "2: sent twice", "s")
    s.path(f"M{sx} 198 C {sx - 60} 250, {cx + 80} 300, {cx} 318", "la")
    s.text(sx + 12, 198, "3: delayed", "s amber")
    s.line(sx, 238, cx, 252, "lb")
    s.line(sx, 278, cx, 292, "lb")
    s.text(sx - 10, 350, "the reply carries the send time, so RTT = now - it", "s", "end")
    # What the client prints, in arrival order.
    s.rect(430, 60, 275, 210, "box")
    s.text(442, 80, "the client prints, as replies arrive:", "s b")
    out = [
        ("seq=0 time=5.1 ms", ""),
        ("seq=2 time=5.3 ms", ""),
        ("seq=2 (DUP!)", "amber"),
        ("seq=4 time=5.2 ms", ""),
        ("seq=5 time=5.1 ms", ""),
        ("seq=3 time=24.6 ms (out of order)", "amber"),
    ]
    for i, (line, cls) in enumerate(out):
        s.text(442, 104 + i * 22, line, f"m {cls}".strip())
    s.text(442, 246, "no reply for seq=1: lost", "m red")
    s.text(20, 440, "6 sent, 5 received, 16.7% loss, 1 duplicates, 1 reordered, 0 unexpected", "m")
    s.rect(430, 300, 275, 110, "ker")
    s.text(442, 320, "the probe: 16-byte header, big-endian", "s b")
    s.text(470, 342, ["0", "4", "8", "16"], "m", "end", step=17)
    s.text(480, 342, ['"UDP4": the magic', "sequence number (u32)", "send time, ns (u64)", "zeros up to --size"], "m", step=17)
    s.text(20, 462, "(each line begins \"64 bytes from ADDR: \"; the times are made up, experiment 2 has a real run)", "s")
    return s


# ---------------------------------------------------------------------------------------------
# Chapters 05 and 06: HTTP on the wire, and TLS.


def http_wire():
    s = Svg(720, 585, "An HTTP/1.1 request and response on the wire, and the three ways a body ends")
    s.text(20, 26, "request (client -> server)", "b green")
    req = [
        ("GET / HTTP/1.1\\r\\n", "request line: method, target, version"),
        ("Host: 127.0.0.1:9990\\r\\n", "headers, one a line (Host required)"),
        ("Accept: */*\\r\\n", ""),
        ("\\r\\n", "empty line: the head is over"),
    ]
    s.rect(20, 36, 680, 4 * 20 + 10, "cli")
    for i, (wire, note) in enumerate(req):
        s.text(32, 56 + i * 20, wire, "m")
        s.text(360, 56 + i * 20, note, "s")
    s.text(20, 156, "response (server -> client)", "b blue")
    resp = [
        ("HTTP/1.1 200 OK\\r\\n", "status line: version, code, reason"),
        ("Content-Type: text/html; charset=utf-8\\r\\n", "what the body is"),
        ("Content-Length: 11\\r\\n", "where the body ends: 11 bytes on"),
        ("\\r\\n", "empty line: the head is over"),
        ("hello world", "the body: bytes, nothing marks its end"),
    ]
    s.rect(20, 166, 680, 5 * 20 + 10, "srv")
    for i, (wire, note) in enumerate(resp):
        s.text(32, 186 + i * 20, wire, "m")
        s.text(360, 186 + i * 20, note, "s")
    s.text(20, 306, "The head ends at the first \\r\\n\\r\\n. Where the body ends, the head decides:", "b")
    cols = [
        ("Content-Length: N", ["exactly N bytes;", "the next response may", "follow on the connection"],
         ["hello world", "HTTP/1.1 200 OK..."]),
        ("Transfer-Encoding: chunked", ["each chunk: its size in", "hex, \\r\\n, bytes, \\r\\n;", "size 0 ends the body"],
         ["5\\r\\nhello\\r\\n", "6\\r\\n world\\r\\n", "0\\r\\n\\r\\n"]),
        ("neither: until close", ["the server closes: FIN;", "one response per", "connection, and a cut looks", "like an end"],
         ["hello world", "FIN (recv -> 0)"]),
    ]
    for i, (title, notes, wire) in enumerate(cols):
        x = 20 + i * 230
        s.rect(x, 320, 220, 225, "box")
        s.text(x + 10, 342, title, "m b")
        s.text(x + 10, 366, notes, "s")
        s.rect(x + 10, 440, 200, 95, "ker", 4)
        s.text(x + 20, 462, wire, "m", step=20)
    s.text(20, 572, "No body at all, whatever the head says: the answer to HEAD, and every 1xx, 204 and 304.", "s")
    return s


def tls_layer():
    s = Svg(720, 380, "TLS as a layer over the same TCP socket")
    s.text(150, 28, "http://", "b", "middle")
    s.text(470, 28, "https://", "b", "middle")
    s.box(40, 40, 220, 44, ["HTTP: request and response", "bytes (plaintext)"], "cli", "s")
    s.box(40, 150, 220, 44, ["TcpStream: connect,", "send, recv"], "srv", "s")
    s.line(150, 84, 150, 148)
    s.box(360, 40, 220, 44, ["HTTP: the same code,", "unchanged"], "cli", "s")
    s.box(360, 95, 220, 44, ["rustls session: TLS records,", "encrypted and authenticated"], "ker", "s")
    s.box(360, 150, 220, 44, ["TcpStream: the same", "socket, connect, send, recv"], "srv", "s")
    s.line(470, 84, 470, 93)
    s.line(470, 139, 470, 148)
    s.box(40, 210, 540, 34, "kernel: TCP/IP (handshake, bytes in order, FIN)", "box", "s")
    s.line(150, 194, 150, 208)
    s.line(470, 194, 470, 208)
    s.text(600, 110, ["read/write go", "through the TLS", "session"], "s")
    s.text(20, 272, "Over the one connection, in order:", "b")
    steps = [
        (["TCP handshake"], "srv", 120),
        (["TLS handshake: ClientHello ->,", "<- certificate; keys agreed"], "ker", 230),
        (["HTTP request and response,", "inside encrypted records"], "cli", 200),
        (["close_notify,", "then FIN"], "ker", 110),
    ]
    x = 20
    for label, cls, w in steps:
        s.box(x, 285, w, 40, label, cls, "s")
        x += w + 10
    s.text(20, 345, ["The certificate is checked against webpki-roots, or --cacert FILE; -k skips that check.",
                     "A body that ends with the connection is whole only if close_notify came first (-v says when not)."], "s")
    return s


# ---------------------------------------------------------------------------------------------
# Chapter 07: who reaches a listener, and the IPv4 address map.


def reach():
    s = Svg(720, 440, "Who can reach a listener bound to 127.0.0.1, to a LAN address, or to 0.0.0.0")
    # The notes' two machines: pc1 with a loopback and two cards, pc2 cabled to both cards.
    s.rect(20, 16, 420, 110, "box")
    s.text(32, 36, "pc1: the server's machine", "b")
    ifaces = [("lo", "127.0.0.1"), ("eth0", "192.168.0.1"), ("eth1", "10.10.152.8")]
    for j, (name, addr) in enumerate(ifaces):
        s.box(32 + j * 136, 48, 126, 40, [name, addr], "srv", "m")
    s.rect(540, 16, 160, 110, "cli")
    s.text(620, 36, "pc2: a client", "b", "middle")
    s.box(552, 48, 136, 28, "192.168.0.2", "box", "m")
    s.box(552, 84, 136, 28, "10.10.152.9", "box", "m")
    s.path("M552 62 L480 62 L480 132 L231 132 L231 88", "ln", False)
    s.path("M552 98 L500 98 L500 140 L367 140 L367 88", "ln", False)
    s.text(470, 156, "two cables", "s", "middle")
    # What the lab measured: each bind address against each destination, from each machine.
    s.text(20, 184, "connect() from pc1 | from pc2 to:", "s b")
    cols = ["127.0.0.1", "192.168.0.1", "10.10.152.8"]
    for j, col in enumerate(cols):
        s.text(300 + j * 140, 184, col, "m b", "middle")
    rows = [
        ("bind 127.0.0.1", ["ok -", "no no", "no no"]),
        ("bind 192.168.0.1", ["no -", "ok ok", "no no"]),
        ("bind 192.168.0.1", ["no -", "ok ok", "ok ok"]),
        ("bind 0.0.0.0", ["ok -", "ok ok", "ok ok"]),
    ]
    for i, (bind, cells) in enumerate(rows):
        y = 196 + i * 44
        s.text(20, y + 24, bind if i != 2 else "bind both cards'", "m")
        if i == 2:
            s.text(20, y + 38, "addresses", "m")
        for j, cell in enumerate(cells):
            for k, result in enumerate(cell.split()):
                x = 234 + j * 140 + k * 66
                cls = {"ok": "cli", "no": "bad", "-": "box"}[result]
                word = {"ok": "ok", "no": "refused", "-": "n/a"}[result]
                s.box(x, y, 62, 34, [("pc1 " if k == 0 else "pc2 "), word], cls, "s")
    s.text(20, 386, ["refused: no socket holds that address and port, so the kernel answers RST.",
                     "n/a: lo is inside pc1, and 127.0.0.1 on pc2 is pc2 itself.",
                     "A connect() to 0.0.0.0 goes to 127.0.0.1 on Linux."], "s")
    return s


def ipv4_map():
    s = Svg(720, 400, "The IPv4 address space by first byte: classes and special ranges")
    x0, scale = 290, 410 / 256
    s.text(20, 30, "IPv4 addresses by their first byte:", "b")
    s.text(20, 48, "the old classes (leading bits)", "s")
    classes = [(0, 128, "A 0", "cli"), (128, 192, "B 10", "srv"), (192, 224, "C 110", "ker"),
               (224, 240, "D", "box"), (240, 256, "E", "bad")]
    for lo, hi, label, cls in classes:
        s.box(x0 + lo * scale, 20, (hi - lo) * scale, 30, label, cls, "s")
    for tick in [0, 64, 128, 192, 224, 255]:
        x = x0 + (tick + (1 if tick == 255 else 0)) * scale
        s.line(x, 50, x, 56, "ln", False)
        s.text(x, 68, str(tick), "s", "middle")
    s.text(20, 96, "special ranges, and where they fall", "b")
    ranges = [
        ("0.0.0.0/8", 0, 1, "this host; bind(): every address"),
        ("10.0.0.0/8", 10, 1, "private (RFC 1918)"),
        ("100.64.0.0/10", 100, 0.25, "shared: carrier NAT"),
        ("127.0.0.0/8", 127, 1, "loopback: this machine"),
        ("169.254.0.0/16", 169, 1 / 256, "link-local"),
        ("172.16.0.0/12", 172, 1 / 16, "private (RFC 1918)"),
        ("192.168.0.0/16", 192, 1 / 256, "private (RFC 1918)"),
        ("224.0.0.0/4", 224, 16, "multicast (class D)"),
        ("255.255.255.255", 255, 1 / 65536, "limited broadcast"),
    ]
    for i, (cidr, first, size, what) in enumerate(ranges):
        y = 108 + i * 28
        s.text(20, y + 15, cidr, "m")
        s.text(140, y + 15, what, "s red" if "private" in what else "s")
        s.rect(x0, y + 6, 410, 10, "box", 2)
        s.rect(round(x0 + first * scale, 1), y + 3, round(max(size * scale, 3), 1), 16, "mark", 1)
    s.text(20, 380, "Classes are history (CIDR, 1993): today the prefix length says where the network part ends.", "s")
    return s


FIGURES = {
    "tcp-calls.svg": tcp_calls,
    "accept-queue.svg": accept_queue,
    "closing.svg": closing,
    "event-loop.svg": event_loop,
    "interest-states.svg": interest_states,
    "room-fanout.svg": room_fanout,
    "frame-bytes.svg": frame_bytes,
    "udp-probe.svg": udp_probe,
    "http-wire.svg": http_wire,
    "tls-layer.svg": tls_layer,
    "reach.svg": reach,
    "ipv4-map.svg": ipv4_map,
}


# ---------------------------------------------------------------------------------------------
# The benchmark charts, from the tables in benchmarks.md.


def number(cell):
    """A table cell as a number, or None when it is not one plain number (a range, a word)."""
    cell = cell.strip().replace(",", "")
    return float(cell) if re.fullmatch(r"-?\d+(\.\d+)?", cell) else None


def slug(text):
    """A file name from a heading: the words before its first colon."""
    return re.sub(r"[^a-z0-9]+", "-", text.split(":")[0].replace("`", "").lower()).strip("-")


def tables():
    """Each (chapter, heading, header, rows) table of benchmarks.md, in page order."""
    chapter, heading, found = None, None, []
    lines = BENCHMARKS.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r"## Chapter (\d+)", line)
        if m:
            # A table straight under the chapter's heading is named after the chapter.
            chapter, heading = m.group(1), line.split(":", 1)[-1].strip()
        elif line.startswith("### "):
            heading = line[4:].strip()
        elif line.startswith("|") and chapter:
            block = []
            while i < len(lines) and lines[i].startswith("|"):
                block.append([c.strip() for c in lines[i].strip().strip("|").split("|")])
                i += 1
            found.append((chapter, heading, block[0], block[2:]))
            continue
        i += 1
    return found


def label(cell):
    """A row's name, short enough for the chart's label column."""
    text = cell.replace("`", "")
    if len(text) > 42 and " (" in text:
        text = text[: text.index(" (")]
    return text if len(text) <= 42 else text[:41] + "…"


def chart(chapter, heading, header, rows):
    """Small multiples: one panel of horizontal bars per numeric column that is not a ratio and
    not the same in every row; None when the table has no such column."""
    panels = []
    for col in range(1, len(header)):
        name = header[col]
        if re.search(r"ratio|÷|Ratio", name):
            continue
        values = [number(r[col]) if col < len(r) else None for r in rows]
        if None in values or len(set(values)) < 2:
            continue
        name = name.replace("`", "")
        if "/s" in name:
            name += ": higher is better"
        elif re.search(r"µs|\(ms\)|\bs\)|: s$|RSS|CPU|threads|errors|[Ll]ost|drop|all connected", name):
            name += ": lower is better"
        panels.append((name, values, [r[col] for r in rows]))
    if not panels:
        return None
    names = [label(r[0]) for r in rows]
    # Ours in blue, the peers in amber; a table with no peer compares settings of ours (buffer
    # sizes, a room with and without a slow reader), so all of its bars are ours.
    ours = [re.match(r"ours|0\d-|\d+K\b", name) is not None for name in names]
    if not any(ours):
        ours = [True] * len(names)
    bar, gap, left, right = 18, 6, 300, 110
    panel_h = 30 + len(rows) * (bar + gap) + 10
    title = f"Chapter {chapter}: {heading}"
    s = Svg(720, 46 + len(panels) * panel_h, f"Bar chart: {title}")
    s.text(20, 26, title.replace("`", ""), "b")
    width = 720 - left - right
    for p, (name, values, cells) in enumerate(panels):
        y = 46 + p * panel_h
        s.text(20, y + 16, name, "b s")
        top = max(values) or 1
        for r, (value, cell) in enumerate(zip(values, cells)):
            by = y + 28 + r * (bar + gap)
            s.text(left - 8, by + 13, names[r], "s b" if ours[r] else "s", "end")
            w = max(value / top * width, 1)
            s.rect(left, by, round(w, 1), bar, "srv" if ours[r] else "ker", 2)
            s.text(left + w + 6, by + 13, cell, "s")
    return s


def charts():
    out = {}
    for chapter, heading, header, rows in tables():
        if heading.lower().startswith(("targets", "what the numbers")):
            continue
        picture = chart(chapter, heading, header, rows)
        if picture:
            out[f"bench-{chapter}-{slug(heading)}.svg"] = picture
    return out


def main():
    check = sys.argv[1:] == ["--check"]
    wanted = {name: make() for name, make in FIGURES.items()}
    wanted.update(charts())
    stale = []
    IMG.mkdir(parents=True, exist_ok=True)
    for name, picture in wanted.items():
        path = IMG / name
        text = picture.render()
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        if check:
            stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
    if stale:
        print("stale or missing in docs/src/img (run python3 scripts/book-pictures.py):", *stale)
        sys.exit(1)


if __name__ == "__main__":
    main()
