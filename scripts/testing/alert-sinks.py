"""Receivers for walvault's alert tests, on loopback: a webhook endpoint (HTTP POST, JSON) and an
SMTP server (aiosmtpd) that requires AUTH PLAIN/LOGIN with one user and password. Every request
body and every message is written as a file into DIRECTORY (webhook-N.json, mail-N.eml).

    python3 alert-sinks.py DIRECTORY SMTP_USER SMTP_PASSWORD   # prints "WEBHOOK_PORT SMTP_PORT"; serves until stdin closes
"""
import http.server, itertools, os, socket, sys, threading, warnings

warnings.simplefilter("ignore")  # aiosmtpd warns that AUTH without TLS is unsafe: loopback only, on purpose

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

DIRECTORY, USER, PASSWORD = sys.argv[1], sys.argv[2].encode(), sys.argv[3].encode()
counter = itertools.count(1)
lock = threading.Lock()


def keep(prefix, data):
    with lock:
        n = next(counter)
    path = os.path.join(DIRECTORY, "%s-%d" % (prefix, n))
    with open(path + ".tmp", "wb") as f:
        f.write(data)
    os.replace(path + ".tmp", path)


class Webhook(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        keep("webhook", body)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


class Mailbox:
    async def handle_DATA(self, server, session, envelope):
        keep("mail", b"MAIL FROM: " + envelope.mail_from.encode() + b"\nRCPT TO: " + ",".join(envelope.rcpt_tos).encode()
             + b"\n\n" + envelope.original_content)
        return "250 OK"


def authenticate(server, session, envelope, mechanism, auth_data):
    if isinstance(auth_data, LoginPassword) and auth_data.login == USER and auth_data.password == PASSWORD:
        return AuthResult(success=True)
    return AuthResult(success=False, handled=False)


webhook = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Webhook)
webhook.daemon_threads = True
threading.Thread(target=webhook.serve_forever, daemon=True).start()
# aiosmtpd's controller cannot take port 0: ask the kernel for a free one first.
probe = socket.socket()
probe.bind(("127.0.0.1", 0))
smtp_port = probe.getsockname()[1]
probe.close()
smtp = Controller(Mailbox(), hostname="127.0.0.1", port=smtp_port, authenticator=authenticate, auth_required=True, auth_require_tls=False)
smtp.start()
print(webhook.server_address[1], smtp_port, flush=True)
try:
    sys.stdin.buffer.read()
finally:
    os._exit(0)
