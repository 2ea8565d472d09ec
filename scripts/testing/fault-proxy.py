"""A loopback HTTP proxy in front of the S3 test server that injects failures on command.

    python3 fault-proxy.py http://127.0.0.1:PORT     # prints the proxy's port, serves until stdin closes

Control, by a request to the proxy itself:
    POST /__fault/<kind>/<method>/<count>   the next <count> requests with <method> (or ANY) fail:
        kind 500     the request is read whole, then answered 500 InternalError, never forwarded
        kind reset   half the body is read, then the connection is cut without an answer
    POST /__fault/refuse/ANY/1              every request is cut unanswered (S3 unreachable)
    POST /__fault/clear/ANY/0               back to forwarding everything
    GET  /__fault/count                     how many failures were injected so far
Everything else is forwarded unchanged (the Host header included, so signatures still verify).
"""
import http.client, http.server, os, socket, sys, threading, urllib.parse

upstream = urllib.parse.urlsplit(sys.argv[1])
lock = threading.Lock()
state = {"kind": None, "method": None, "left": 0, "refuse": False, "injected": 0}


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def control(self):
        parts = self.path.split("/")
        with lock:
            if parts[2] == "count":
                body = str(state["injected"]).encode()
            else:
                kind, method, count = parts[2], parts[3], int(parts[4])
                state.update(kind=None, method=None, left=0, refuse=False)
                if kind == "refuse":
                    state["refuse"] = True
                elif kind != "clear":
                    state.update(kind=kind, method=method, left=count)
                body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def forward(self):
        if self.path.startswith("/__fault/"):
            return self.control()
        with lock:
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
