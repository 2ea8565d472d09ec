#!/usr/bin/env python3
"""A command run at a terminal, as a person answers it: under a pseudo-terminal, wait for each
prompt in turn and type its answer, then print what happened as JSON on standard output:
{"status": exit status, "output": everything the terminal showed, "answered": prompts answered}.

  converse.py --prompt 'Data directory' --answer /srv/pgdata ... -- walvault init --config F
"""

import argparse
import json
import os
import pty
import time


def read_until(fd, found, seen, deadline):
    """Reads the terminal until found(seen) holds, it closes, or the deadline passes."""
    while not found(seen) and time.time() < deadline:
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
    parser.add_argument("--prompt", action="append", default=[])
    parser.add_argument("--answer", action="append", default=[])
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(command[0], command)
    deadline = time.time() + 120
    seen = b""
    answered = 0
    cursor = 0
    for prompt, answer in zip(args.prompt, args.answer):
        marker = prompt.encode()
        seen = read_until(fd, lambda text: marker in text[cursor:], seen, deadline)
        if marker not in seen[cursor:]:
            break
        # The next prompt is looked for only after this one.
        cursor = seen.index(marker, cursor) + len(marker)
        os.write(fd, answer.encode() + b"\n")
        answered += 1
    seen = read_until(fd, lambda text: False, seen, deadline)
    _, status = os.waitpid(pid, 0)
    print(json.dumps({
        "status": os.waitstatus_to_exitcode(status),
        "output": seen.decode("utf-8", "replace"),
        "answered": answered,
    }))


if __name__ == "__main__":
    main()
