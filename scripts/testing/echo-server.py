"""For HTTPClientTests: echoes what it was sent, serves bytes, answers any status, and can drop a
connection without a word. Prints its port; serves until stdin closes."""
import hashlib, http.server, json, os, sys, threading
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        parts = self.path.split("/")
        if parts[1] == "close":
            self.close_connection = True
            self.wfile.flush()
            self.connection.shutdown(2)
            return
        if parts[1] == "bytes":
            size = int(parts[2])
            out = bytes((i * 7) % 251 for i in range(size))
            self.send_response(200)
        elif parts[1] == "status":
            out = ("status " + parts[2]).encode()
            self.send_response(int(parts[2]))
        else:
            out = json.dumps({"method": self.command, "path": self.path, "length": len(body),
                              "sha256": hashlib.sha256(body).hexdigest(),
                              "headers": {k.lower(): v for k, v in self.headers.items()}}).encode()
            self.send_response(200)
        self.send_header("Content-Length", str(len(out)))
        self.send_header("X-Echo", "yes")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(out)
    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
s.daemon_threads = True
print(s.server_address[1], flush=True)
threading.Thread(target=s.serve_forever, daemon=True).start()
try:
    sys.stdin.buffer.read()
finally:
    os._exit(0)
