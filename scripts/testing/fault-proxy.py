"""A loopback HTTP proxy in front of the S3 test server that injects failures on command.

    python3 fault-proxy.py http://127.0.0.1:PORT CONTROL_FILE   # prints its port, serves until stdin closes

Control: replace CONTROL_FILE (write a new file, rename it over) with one line:
    <kind> <method> <count>   the next <count> requests with <method> (or ANY) fail:
        500      the request is read whole, then answered 500 InternalError, never forwarded
        reset    half the body is read, then the connection is cut without an answer
    refuse ANY 0              every request is cut unanswered (S3 unreachable) until the next command
    clear ANY 0               back to forwarding everything
CONTROL_FILE.count holds how many failures were injected so far.
Everything else is forwarded unchanged (the Host header included, so signatures still verify).
"""
import http.client, http.server, os, socket, sys, threading, urllib.parse

upstream = urllib.parse.urlsplit(sys.argv[1])
control_file = sys.argv[2]
lock = threading.Lock()
state = {"kind": None, "method": None, "left": 0, "refuse": False, "injected": 0, "seen": None}


def read_control():
    """Called under the lock before each request: a replaced control file is a new command."""
    try:
        info = os.stat(control_file)
    except FileNotFoundError:
        return
    identity = (info.st_ino, info.st_mtime_ns)
    if identity == state["seen"]:
        return
    state["seen"] = identity
    with open(control_file) as f:
        kind, method, count = f.read().split()
    state.update(kind=None, method=None, left=0, refuse=False)
    if kind == "refuse":
        state["refuse"] = True
    elif kind != "clear":
        state.update(kind=kind, method=method, left=int(count))


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def forward(self):
        with lock:
            read_control()
            refuse = state["refuse"]
        if refuse:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        length = int(self.headers.get("Content-Length") or 0)
        with lock:
            fault = None
            if state["left"] > 0 and state["method"] in (self.command, "ANY"):
                state["left"] -= 1
                state["injected"] += 1
                fault = state["kind"]
                with open(control_file + ".count", "w") as f:
                    f.write(str(state["injected"]))
        if fault == "reset":
            self.rfile.read(length // 2)
            self.close_connection = True
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            self.connection.close()
            return
        body = self.rfile.read(length) if length else b""
        if fault == "500":
            out = b"<?xml version=\"1.0\"?><Error><Code>InternalError</Code><Message>injected</Message></Error>"
            self.send_response(500)
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)
            return
        connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=60)
        connection.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        for name, value in self.headers.items():
            connection.putheader(name, value)
        connection.endheaders(body)
        answer = connection.getresponse()
        data = answer.read()
        self.send_response_only(answer.status, answer.reason)
        for name, value in answer.getheaders():
            if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(name, value)
        # A HEAD's Content-Length is the object's size, not the (empty) body's.
        self.send_header("Content-Length", answer.getheader("Content-Length", "0") if self.command == "HEAD" else str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        connection.close()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = forward


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
server.daemon_threads = True
print(server.server_address[1], flush=True)
threading.Thread(target=server.serve_forever, daemon=True).start()
try:
    sys.stdin.buffer.read()
finally:
    os._exit(0)
