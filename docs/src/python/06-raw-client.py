# 06-raw-client.py: the tutorial's HTTP client over a raw socket (its Request and Response),
# rewritten with its bugs kept, so chapter 06 can show them.
# Run: python3 06-raw-client.py http://127.0.0.1:8000/get
import json
import socket
import sys
from urllib.parse import urlparse


class Request:
    def __init__(self, method, url, headers=None, data=None):
        parts = urlparse(url)
        self.host, _, port = parts.netloc.partition(":")
        self.port = int(port) if port else 80
        self.method, self.path = method, parts.path or "/"
        self.headers, self.data = dict(headers or {}), data

    # ANCHOR: content
    def content(self):
        head = f"{self.method} {self.path} HTTP/1.1\r\n"
        self.headers.setdefault("Host", f"{self.host}:{self.port}")  # always with the port
        head += "".join(f"{name}: {value}\r\n" for name, value in self.headers.items())
        # Bug 3: a body with no Content-Length: the server cannot tell where it ends.
        body = json.dumps(self.data) + "\n" if self.data else ""
        return (head + "\r\n" + body).encode()
    # ANCHOR_END: content


# ANCHOR: response
class Response:
    def __init__(self, sock):
        raw = b""
        # ANCHOR: recv_loop
        while True:
            data = sock.recv(1024)
            raw += data
            # Bug 1: a short read is taken for the end. recv returns what has arrived so
            # far; the rest of a response that comes in pieces is lost.
            if len(data) < 1024:
                break
        # ANCHOR_END: recv_loop
        status_line, *lines = raw.decode().split("\r\n")
        self.status_code = int(status_line.split(" ", 2)[1])
        # Bug 2: the body is taken to be the text after the last CR LF. A body with lines of
        # its own puts them among the headers, where a line without ": " stops the parse.
        self.headers = dict(line.split(": ", 1) for line in lines[:-2])
        self.text = lines[-1]
# ANCHOR_END: response


def send(method, url, headers=None, data=None):
    request = Request(method, url, headers, data)
    with socket.create_connection((request.host, request.port)) as sock:
        sock.sendall(request.content())
        return Response(sock)


if __name__ == "__main__":
    response = send("GET", sys.argv[1])
    print(response.status_code)
    print(response.text)
