#!/usr/bin/env python3
"""Runs a command on a pseudo-terminal, waits until its screen shows a given text, types keys, and prints the
whole transcript. For tests of prompts that read the terminal (signctl's no-echo prompt, pinentry-curses).

Usage: pty_type.py --wait TEXT --keys KEYS [--timeout S] -- COMMAND...
KEYS come from the environment variable named by --keys-env (so that they never appear in a process list).
Exit status: the command's, or 124 when TEXT did not appear or the command did not end in time."""
import argparse
import os
import pty
import select
import sys
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--wait", required=True)
    parser.add_argument("--keys-env", required=True)
    parser.add_argument("--timeout", type=float, default=30)
    parser.add_argument("command", nargs="+")
    args = parser.parse_args()
    keys = os.environ.pop(args.keys_env, "").encode().decode("unicode_escape").encode("latin-1")
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(args.command[0], args.command)
    transcript = b""
    typed = False
    deadline = time.monotonic() + args.timeout
    status = 124
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            break
        ready, _, _ = select.select([fd], [], [], min(remaining, 0.1))
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                chunk = b""
            if not chunk:
                _, code = os.waitpid(pid, 0)
                status = os.waitstatus_to_exitcode(code)
                break
            transcript += chunk
        if not typed and args.wait.encode() in transcript:
            time.sleep(0.3)  # let the program finish switching the terminal to no-echo or raw mode
            os.write(fd, keys)
            typed = True
    sys.stdout.buffer.write(transcript)
    sys.exit(status if status >= 0 else 128 - status)


if __name__ == "__main__":
    main()
