# ANCHOR: program
# 05-hello-server.py: the tutorial's fixed-response HTTP server, rewritten with its two quiet
# bugs kept, so chapter 05 can show them. Run: python3 05-hello-server.py [PORT]  (0: any port)
import socket
import sys

HOST = "127.0.0.1"
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 9990

# ANCHOR: response
# Status line, headers, an empty line, the body; every line ending becomes CR LF.
# Bug 1: the newline after "hello world" is part of the body too, so the body is 13 bytes
# (b"hello world\r\n") while Content-Length promises 11.
RESPONSE = b"""\
HTTP/1.1 200 OK
Content-Type: text/html; charset=utf-8
Content-Length: 11

hello world
""".replace(b"\n", b"\r\n")
# ANCHOR_END: response

# ANCHOR: loop
with socket.socket() as sock:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, PORT))
    sock.listen()
    print(f"listening on {HOST}:{sock.getsockname()[1]}", flush=True)
    while True:
        client, address = sock.accept()
        with client:
            # Bug 2: the request is never read. Closing a socket with unread bytes sends a
            # reset (RST), which can reach the client before it has read the response.
            client.sendall(RESPONSE)
# ANCHOR_END: loop
# ANCHOR_END: program
