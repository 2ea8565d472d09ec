#!/usr/bin/env python3
"""`walvault owner enroll-2fa` at a terminal, as the owner does it: under a pseudo-terminal, read
the otpauth:// URI it prints and its QR code, compute the authenticator app's code from the URI
(or a wrong one, with --wrong), type it, and print what happened as JSON on standard output."""

import argparse
import base64
import hashlib
import hmac
import json
import os
import pty
import re
import struct
import time


def totp(key, step):
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return "%06d" % (value % 1_000_000)


def read_until(fd, marker, seen, deadline):
    while marker not in seen and time.time() < deadline:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    return seen


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--walvault", required=True)
    parser.add_argument("--config", required=True)
    parser.add_argument("--wrong", action="store_true")
    args = parser.parse_args()
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(args.walvault, [args.walvault, "owner", "enroll-2fa", "--config", args.config])
    deadline = time.time() + 60
    seen = read_until(fd, b"to confirm: ", b"", deadline)
    match = re.search(rb"secret=([A-Z2-7]+)", seen)
    typed = ""
    if match:
        encoded = match.group(1).decode()
        key = base64.b32decode(encoded + "=" * (-len(encoded) % 8))
        typed = totp(key, int(time.time()) // 30)
        if args.wrong:
            typed = typed[:5] + str((int(typed[5]) + 5) % 10)
        os.write(fd, (typed + "\n").encode())
    seen = read_until(fd, b"\0never\0", seen, deadline)
    _, status = os.waitpid(pid, 0)
    print(json.dumps({
        "status": os.waitstatus_to_exitcode(status), "typed": typed, "output": seen.decode("utf-8", "replace"),
        "secret": base64.b32decode(match.group(1).decode() + "=" * (-len(match.group(1)) % 8)).decode() if match else "",
    }))


if __name__ == "__main__":
    main()
