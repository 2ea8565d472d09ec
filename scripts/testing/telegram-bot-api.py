"""A Telegram Bot API stand-in for walvault's tests, written from https://core.telegram.org/bots/api
and enforcing what walvault must live with:

- the token is part of every path (/bot<token>/<method>, /file/bot<token>/<path>); another token is 401;
- requests are real multipart/form-data (or form/JSON for simple methods), parsed with the stdlib;
- uploads over 50 MB are 413; getFile of a file over 20 MiB is 400 "file is too big";
- each chat takes at most RATE messages per window (default 20 a minute): then 429 with retry_after;
- deleteMessage of a message older than 48 hours is 400 "message can't be deleted";
- getChat answers the most recent pinned message that still exists (Telegram keeps every pin);
  pinChatMessage pins;
- an unknown chat is 400 "chat not found";
- forum supergroups (settings "forum": true): getChat says is_forum; createForumTopic needs the bot to
  be an administrator with can_manage_topics ("not enough rights to create a topic") in a forum ("the
  chat is not a forum"); sends take message_thread_id (an unknown one is "message thread not found";
  without one, a message goes to the General topic); deleteForumTopic needs can_delete_messages and
  deletes the topic with all its messages, whatever their age; getMe and getChatMember answer the bot
  and its rights ("bot_status", "can_manage_topics", "can_delete_messages" in the settings).

    python3 telegram-bot-api.py TOKEN CHAT_ID [CONTROL_FILE]    # prints its port; serves until stdin closes

CONTROL_FILE (replaced whole, like the fault proxy's) holds JSON settings the test may change at any
time: {"rate": 20, "window": 60, "clock_offset": 0, "fail_share": 0.0, "fail_kind": "502",
"damaged": [], "local_dir": null, "forum": false, "bot_status": "administrator", "can_manage_topics": true,
"can_delete_messages": true}. clock_offset moves the stand-in's clock (seconds), fail_share answers
that share of requests with a 502 or a dropped connection (fail_every: every nth request, for tests
that must not depend on chance), damaged lists message ids whose document
downloads come back with one byte changed, local_dir makes it behave like a server started with
--local (getFile answers an absolute path under that directory, where the file is written), and
keep_dir gets a copy of every document received (for tests that check what left the machine).
CONTROL_FILE.stats gets {"requests", "served_429", "documents", "document_bytes", "texts", "deleted", "failed",
"retry_after_total", "messages", "message_bytes", "topics", "topics_deleted"}
(texts: every sendMessage text, for alert tests; failed: requests answered by fail_share).
"""
import email.parser, email.policy, http.server, json, os, random, socket, sys, threading, time, urllib.parse

TOKEN, CHAT = sys.argv[1], sys.argv[2]
CONTROL = sys.argv[3] if len(sys.argv) > 3 else None
UPLOAD_LIMIT = 50 * 1000 * 1000   # the control file may lower it ("upload_limit")
DOWNLOAD_LIMIT = 20 * 1024 * 1024
DELETE_WINDOW = 48 * 3600

lock = threading.Lock()
files = {}        # file_id -> bytes
messages = {}     # message_id -> {"date", "document": {...}} 
pins = []        # message ids in pin order
next_id = [1]
topics = {}       # message_thread_id -> name
BOT_ID = 42
sent = []         # times of messages sent to the chat, for the rate limit
stats = {"requests": 0, "served_429": 0, "documents": 0, "document_bytes": 0, "texts": [], "deleted": 0, "failed": 0, "retry_after_total": 0,
         "messages": 0, "message_bytes": 0, "topics": 0, "topics_deleted": 0}
settings = {"rate": 20, "window": 60, "clock_offset": 0, "fail_share": 0.0, "fail_kind": "502", "damaged": [], "local_dir": None,
            "forum": False, "bot_status": "administrator", "can_manage_topics": True, "can_delete_messages": True}
seen = [None]


def now():
    return time.time() + settings["clock_offset"]


def read_control():
    if not CONTROL:
        return
    try:
        info = os.stat(CONTROL)
    except FileNotFoundError:
        return
    if (info.st_ino, info.st_mtime_ns) == seen[0]:
        return
    seen[0] = (info.st_ino, info.st_mtime_ns)
    with open(CONTROL) as f:
        settings.update(json.load(f))


stats_lock = threading.Lock()


def write_stats():
    # One writer at a time: requests are served on threads, and they share the temporary name.
    if CONTROL:
        with lock:
            # What the chat holds now: every message still in it, and its documents' bytes.
            stats["messages"] = len(messages)
            stats["message_bytes"] = sum(m["document"]["file_size"] for m in messages.values() if "document" in m)
            snapshot = json.dumps(stats)
        with stats_lock:
            with open(CONTROL + ".stats.tmp", "w") as f:
                f.write(snapshot)
            os.replace(CONTROL + ".stats.tmp", CONTROL + ".stats")


class Refusal(Exception):
    def __init__(self, code, description, retry_after=None):
        self.code, self.description, self.retry_after = code, description, retry_after


class BotAPI(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body, content_type="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def ok(self, result):
        self.answer(200, json.dumps({"ok": True, "result": result}).encode())

    def refuse(self, refusal):
        body = {"ok": False, "error_code": refusal.code, "description": refusal.description}
        if refusal.retry_after is not None:
            body["parameters"] = {"retry_after": refusal.retry_after}
        self.answer(refusal.code, json.dumps(body).encode())

    def params(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length > settings.get("upload_limit", UPLOAD_LIMIT):
            # Like the real server behind its proxy: an HTML page, not JSON.
            self.rfile.read(length)
            self.answer(413, b"<html><head><title>413 Request Entity Too Large</title></head></html>", "text/html")
            return None
        body = self.rfile.read(length) if length else b""
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
        kind = self.headers.get("Content-Type", "")
        if kind.startswith("multipart/form-data"):
            message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                b"Content-Type: " + kind.encode() + b"\r\nMIME-Version: 1.0\r\n\r\n" + body)
            boundary = message.get_boundary() or ""
            if not message.is_multipart() and body.strip() == b"--" + boundary.encode() + b"--":
                return query   # a form without fields (getMe): no parameters
            if not message.is_multipart():
                raise Refusal(400, "Bad Request: malformed multipart body")
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                filename = part.get_filename()
                data = part.get_payload(decode=True) or b""
                query[name] = {"filename": filename, "data": data} if filename is not None else data.decode()
        elif kind.startswith("application/json") and body:
            query.update({k: str(v) for k, v in json.loads(body).items()})
        elif body:
            query.update(dict(urllib.parse.parse_qsl(body.decode())))
        return query

    def handle_any(self):
        with lock:
            read_control()
            stats["requests"] += 1
            share = settings["fail_share"]
        every = settings.get("fail_every", 0)
        if (share and random.random() < share) or (every and stats["requests"] % every == 0):
            with lock:
                stats["failed"] += 1
            write_stats()
            if settings["fail_kind"] == "drop":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.answer(502, b"<html>502 Bad Gateway</html>", "text/html")
            return
        path = urllib.parse.urlsplit(self.path).path
        try:
            if path.startswith("/file/bot"):
                token, _, file_path = path[len("/file/bot"):].partition("/")
                if token != TOKEN:
                    raise Refusal(401, "Unauthorized")
                with lock:
                    data = files.get(file_path)
                    damaged = any(m.get("document", {}).get("file_id") == file_path[len("documents/"):]
                                  for i, m in messages.items() if i in settings["damaged"])
                if data is None:
                    raise Refusal(404, "Not Found")
                if damaged and data:
                    data = bytes([data[0] ^ 0xFF]) + data[1:]
                return self.answer(200, data, "application/octet-stream")
            if not path.startswith("/bot"):
                raise Refusal(404, "Not Found")
            token, _, method = path[len("/bot"):].partition("/")
            if token != TOKEN:
                raise Refusal(401, "Unauthorized")
            params = self.params()
            if params is None:
                return
            handler = getattr(self, "m_" + method, None)
            if handler is None:
                raise Refusal(404, "Not Found: method not found")
            if "chat_id" in params and str(params["chat_id"]) != CHAT:
                raise Refusal(400, "Bad Request: chat not found")
            with lock:
                result = handler(params)
            write_stats()
            self.ok(result)
        except Refusal as refusal:
            if refusal.code == 429:
                with lock:
                    stats["served_429"] += 1
                    stats["retry_after_total"] += refusal.retry_after or 0
                write_stats()
            self.refuse(refusal)

    do_GET = do_POST = handle_any

    # Methods, called under the lock.
    def paced(self):
        window, rate = settings["window"], settings["rate"]
        t = now()
        while sent and sent[0] <= t - window:
            sent.pop(0)
        if len(sent) >= rate:
            raise Refusal(429, "Too Many Requests: retry after %d" % max(1, int(sent[0] + window - t + 1)),
                          retry_after=max(1, int(sent[0] + window - t + 1)))
        sent.append(t)

    def m_getMe(self, params):
        return {"id": BOT_ID, "is_bot": True, "first_name": "walvault test", "username": "walvault_test_bot"}

    def m_getChatMember(self, params):
        user = {"id": int(params.get("user_id", 0)), "is_bot": True, "first_name": "walvault test"}
        if user["id"] != BOT_ID:
            raise Refusal(400, "Bad Request: user not found")
        if settings["bot_status"] != "administrator":
            return {"status": settings["bot_status"], "user": user}
        return {"status": "administrator", "user": user, "can_be_edited": False, "is_anonymous": False,
                "can_manage_chat": True, "can_delete_messages": settings["can_delete_messages"],
                "can_manage_video_chats": False, "can_restrict_members": False, "can_promote_members": False,
                "can_change_info": False, "can_invite_users": True, "can_post_stories": False, "can_edit_stories": False,
                "can_delete_stories": False, "can_pin_messages": True, "can_manage_topics": settings["can_manage_topics"]}

    def admin_may(self, right):
        return settings["bot_status"] == "administrator" and settings[right]

    def thread(self, params):
        """The topic a send goes to: None (General) or a topic that exists."""
        if "message_thread_id" not in params:
            return None
        thread_id = int(params["message_thread_id"])
        if not settings["forum"] or thread_id not in topics:
            raise Refusal(400, "Bad Request: message thread not found")
        return thread_id

    def m_createForumTopic(self, params):
        if not settings["forum"]:
            raise Refusal(400, "Bad Request: the chat is not a forum")
        if not self.admin_may("can_manage_topics"):
            raise Refusal(400, "Bad Request: not enough rights to create a topic")
        name = params.get("name", "")
        if not 1 <= len(name) <= 128:
            raise Refusal(400, "Bad Request: TOPIC_TITLE_EMPTY" if not name else "Bad Request: TOPIC_TITLE_TOO_LONG")
        self.paced()
        thread_id = next_id[0]   # a topic is opened by a service message: its id is that message's
        next_id[0] += 1
        topics[thread_id] = name
        stats["topics"] += 1
        return {"message_thread_id": thread_id, "name": name, "icon_color": 7322096}

    def m_deleteForumTopic(self, params):
        if not settings["forum"]:
            raise Refusal(400, "Bad Request: the chat is not a forum")
        if not self.admin_may("can_delete_messages"):
            raise Refusal(400, "Bad Request: not enough rights to delete a topic")
        thread_id = int(params.get("message_thread_id", 0))
        if thread_id not in topics:
            raise Refusal(400, "Bad Request: TOPIC_ID_INVALID")
        del topics[thread_id]
        for message_id in [m for m, message in messages.items() if message.get("message_thread_id") == thread_id]:
            message = messages.pop(message_id)
            if "document" in message:
                files.pop("documents/" + message["document"]["file_id"], None)
            if message_id in pins:
                pins.remove(message_id)
        stats["topics_deleted"] += 1
        return True

    def m_getChat(self, params):
        chat = {"id": int(CHAT), "type": "supergroup", "title": "backups"}
        if settings["forum"]:
            chat["is_forum"] = True
        alive = [m for m in pins if m in messages]
        if alive:
            chat["pinned_message"] = messages[alive[-1]]
        return chat

    def m_sendDocument(self, params):
        document = params.get("document")
        if not isinstance(document, dict):
            raise Refusal(400, "Bad Request: there is no document in the request")
        thread_id = self.thread(params)
        self.paced()
        message_id = next_id[0]
        next_id[0] += 1
        file_id = "F%06d-%s" % (message_id, os.urandom(6).hex())
        files["documents/" + file_id] = document["data"]
        if settings.get("keep_dir"):
            with open(os.path.join(settings["keep_dir"], file_id), "wb") as f:
                f.write(document["data"])
        message = {"message_id": message_id, "date": int(now()), "chat": {"id": int(CHAT), "type": "supergroup"},
                   "document": {"file_id": file_id, "file_unique_id": "U" + file_id, "file_name": document["filename"],
                                "file_size": len(document["data"])}}
        if params.get("caption"):
            message["caption"] = params["caption"]
        if thread_id is not None:
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
        messages[message_id] = message
        stats["documents"] += 1
        stats["document_bytes"] += len(document["data"])
        return message

    def m_sendMessage(self, params):
        self.paced()
        message_id = next_id[0]
        next_id[0] += 1
        message = {"message_id": message_id, "date": int(now()), "chat": {"id": int(CHAT), "type": "supergroup"}, "text": params.get("text", "")}
        messages[message_id] = message
        stats["texts"].append(params.get("text", ""))
        return message

    def m_getFile(self, params):
        file_id = params.get("file_id", "")
        data = files.get("documents/" + file_id)
        if data is None:
            raise Refusal(400, "Bad Request: invalid file_id")
        if len(data) > DOWNLOAD_LIMIT:
            raise Refusal(400, "Bad Request: file is too big")
        if settings["local_dir"]:
            path = os.path.join(settings["local_dir"], file_id)
            with open(path, "wb") as f:
                f.write(data)
            return {"file_id": file_id, "file_unique_id": "U" + file_id, "file_size": len(data), "file_path": path}
        return {"file_id": file_id, "file_unique_id": "U" + file_id, "file_size": len(data), "file_path": "documents/" + file_id}

    def m_deleteMessage(self, params):
        message_id = int(params.get("message_id", 0))
        message = messages.get(message_id)
        if message is None:
            raise Refusal(400, "Bad Request: message to delete not found")
        if now() - message["date"] > DELETE_WINDOW:
            raise Refusal(400, "Bad Request: message can't be deleted")
        del messages[message_id]
        stats["deleted"] += 1
        if "document" in message:
            files.pop("documents/" + message["document"]["file_id"], None)
        return True

    def m_unpinChatMessage(self, params):
        # Without message_id, Telegram unpins the most recent pinned message.
        message_id = int(params.get("message_id", 0)) or (pins[-1] if pins else 0)
        if message_id not in pins:
            raise Refusal(400, "Bad Request: message to unpin not found")
        pins.remove(message_id)
        return True

    def m_pinChatMessage(self, params):
        message_id = int(params.get("message_id", 0))
        if message_id not in messages:
            raise Refusal(400, "Bad Request: message to pin not found")
        if message_id in pins:
            pins.remove(message_id)
        pins.append(message_id)
        return True


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), BotAPI)
server.daemon_threads = True
print(server.server_address[1], flush=True)
threading.Thread(target=server.serve_forever, daemon=True).start()
try:
    sys.stdin.buffer.read()
finally:
    os._exit(0)
