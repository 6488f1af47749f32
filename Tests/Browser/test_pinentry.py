"""A pinentry for the browser tests: speaks Assuan on stdin/stdout like GnuPG's pinentry programs, and answers
GETPIN as the test tells it, so the PIN is "typed" into the agent's dialog and never into the page.

    test_pinentry.py CONTROL_FOLDER

CONTROL_FOLDER (absolute: the agent spawns this program with its own environment, so the harness writes a small
shell wrapper naming the folder, see `write_wrapper`) holds:
- `answer`: what GETPIN answers: `file PATH` (a PIN read from PATH: the rig's card.pin or softhsm.pin, so the
  harness never writes a PIN itself), `text VALUE` (a wrong PIN the test made up) or `cancel`
  (`ERR 83886179 Operation cancelled`, as when the officer closes the dialog);
- `dialog.log`, appended here: one JSON object per dialog, `{"description": ..., "prompt": ..., "answered": ...}`,
  with SETDESC and SETPROMPT percent-decoded. The PIN is never written anywhere.
"""

import json
import os
import sys
import urllib.parse


def write_wrapper(path, control, python=sys.executable):
    """A shell script at `path` that runs this pinentry on `control`, with absolute paths only."""
    with open(path, "w") as out:
        out.write(f"#!/bin/sh\nexec '{python}' -B '{os.path.abspath(__file__)}' '{os.path.abspath(control)}'\n")
    os.chmod(path, 0o755)


def escape(data: bytes) -> bytes:
    """Assuan's percent-escaping of a D line: %, CR and LF (and anything below space)."""
    return b"".join(b"%%%02X" % byte if byte < 0x20 or byte == 0x25 else bytes([byte]) for byte in data)


def main(control):
    write = sys.stdout.buffer.write

    def reply(line: bytes):
        write(line + b"\n")
        sys.stdout.buffer.flush()

    dialog = {"description": None, "prompt": None, "answered": None}
    reply(b"OK Pleased to meet you")
    for raw in sys.stdin.buffer:
        line = raw.rstrip(b"\r\n").decode("utf-8", "replace")
        command, _, argument = line.partition(" ")
        command = command.upper()
        if command == "SETDESC":
            dialog["description"] = urllib.parse.unquote(argument)
            reply(b"OK")
        elif command == "SETPROMPT":
            dialog["prompt"] = urllib.parse.unquote(argument)
            reply(b"OK")
        elif command == "GETPIN":
            with open(os.path.join(control, "answer")) as file:
                kind, _, value = file.read().strip().partition(" ")
            dialog["answered"] = kind
            with open(os.path.join(control, "dialog.log"), "a") as log:
                log.write(json.dumps(dialog) + "\n")
            if kind == "cancel":
                reply(b"ERR 83886179 Operation cancelled <Pinentry>")
                continue
            if kind == "file":
                with open(value, "rb") as pin_file:
                    pin = bytearray(pin_file.read().strip())
            else:
                pin = bytearray(value.encode())
            write(b"D " + escape(bytes(pin)) + b"\n")
            for index in range(len(pin)):
                pin[index] = 0
            reply(b"OK")
        elif command == "BYE":
            reply(b"OK closing connection")
            return
        else:
            # OPTION, SETTITLE, SETTIMEOUT, SETKEYINFO...: accepted and ignored, as a real pinentry would.
            reply(b"OK")


if __name__ == "__main__":
    main(sys.argv[1])
