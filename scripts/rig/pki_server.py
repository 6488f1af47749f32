#!/usr/bin/env python3
"""The rig's revocation services, on loopback only:

  * a plain HTTP server for CRLs and CA certificates (GET /crl/NAME.crl, GET /ca/NAME.der), reading from the
    folders given with --files in order (TestCerts first, then the rig's own folder where tests publish the CRLs
    of the PKIs they make);
  * an OCSP responder whose answers are made by `openssl ocsp` with a CA's index and responder key. POST / answers
    for the TestCerts individual-DSC sub-CA; POST /NAME answers for a responder a test set up in
    OCSP_ROOT/NAME/ (index.txt, ca.crt, signer.crt, signer.key).

Anything else is refused with a 4xx status naming the problem."""
import argparse
import http.server
import os
import re
import subprocess
import tempfile
import threading

MAX_REQUEST = 64 * 1024


def reply(handler, status, body, content_type="text/plain"):
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


class FileHandler(http.server.BaseHTTPRequestHandler):
    folders = []
    types = {".crl": "application/pkix-crl", ".der": "application/pkix-cert", ".crt": "application/pkix-cert"}

    def do_GET(self):
        path = self.path.split("?")[0]
        if not re.fullmatch(r"/(crl|ca)/[A-Za-z0-9._-]+\.(crl|der|crt)", path) or ".." in path:
            return reply(self, 404, b"only /crl/NAME.crl and /ca/NAME.der are served\n")
        for folder in self.folders:
            candidate = os.path.join(folder, path.lstrip("/"))
            if os.path.isfile(candidate):
                with open(candidate, "rb") as f:
                    return reply(self, 200, f.read(), self.types[os.path.splitext(path)[1]])
        return reply(self, 404, f"{path} is not published\n".encode())

    def log_message(self, fmt, *args):
        super().log_message(fmt, *args)


class OCSPHandler(http.server.BaseHTTPRequestHandler):
    default = None
    root = None

    def do_POST(self):
        if self.headers.get("Content-Type", "").split(";")[0].strip() != "application/ocsp-request":
            return reply(self, 415, b"Content-Type must be application/ocsp-request\n")
        try:
            length = int(self.headers.get("Content-Length", "-1"))
        except ValueError:
            length = -1
        if length <= 0 or length > MAX_REQUEST:
            return reply(self, 413 if length > MAX_REQUEST else 411, b"an OCSP request of 1 to 65536 bytes is expected\n")
        request = self.rfile.read(length)
        name = self.path.strip("/")
        if name == "":
            responder = self.default
        elif re.fullmatch(r"[A-Za-z0-9._-]+", name) and os.path.isdir(os.path.join(self.root, name)):
            folder = os.path.join(self.root, name)
            responder = {k: os.path.join(folder, f) for k, f in
                         (("index", "index.txt"), ("ca", "ca.crt"), ("signer", "signer.crt"), ("key", "signer.key"))}
        else:
            return reply(self, 404, f"no OCSP responder at {self.path}\n".encode())
        with tempfile.TemporaryDirectory() as work:
            request_file = os.path.join(work, "request.der")
            response_file = os.path.join(work, "response.der")
            with open(request_file, "wb") as f:
                f.write(request)
            result = subprocess.run(["openssl", "ocsp", "-index", responder["index"], "-CA", responder["ca"],
                                     "-rsigner", responder["signer"], "-rkey", responder["key"], "-ndays", "1",
                                     "-reqin", request_file, "-respout", response_file], capture_output=True)
            if result.returncode != 0 or not os.path.exists(response_file):
                lines = result.stderr.decode(errors="replace").strip().splitlines()
                return reply(self, 400, ("openssl ocsp refused the request: " + (lines[-1] if lines else "no reason") + "\n").encode())
            with open(response_file, "rb") as f:
                return reply(self, 200, f.read(), "application/ocsp-response")

    def log_message(self, fmt, *args):
        super().log_message(fmt, *args)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files-port", type=int, default=18790)
    parser.add_argument("--ocsp-port", type=int, default=18791)
    parser.add_argument("--files", action="append", required=True, help="a folder holding crl/ and ca/ (repeatable)")
    parser.add_argument("--ocsp-root", required=True, help="folder of per-test responders (OCSP_ROOT/NAME/)")
    parser.add_argument("--index", required=True)
    parser.add_argument("--ca", required=True)
    parser.add_argument("--signer", required=True)
    parser.add_argument("--key", required=True)
    args = parser.parse_args()
    FileHandler.folders = args.files
    OCSPHandler.default = {"index": args.index, "ca": args.ca, "signer": args.signer, "key": args.key}
    OCSPHandler.root = args.ocsp_root
    os.makedirs(args.ocsp_root, exist_ok=True)
    files = http.server.ThreadingHTTPServer(("127.0.0.1", args.files_port), FileHandler)
    ocsp = http.server.ThreadingHTTPServer(("127.0.0.1", args.ocsp_port), OCSPHandler)
    threading.Thread(target=files.serve_forever, daemon=True).start()
    ocsp.serve_forever()


if __name__ == "__main__":
    main()
