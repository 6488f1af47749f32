#!/usr/bin/env python3
"""The rig's RFC 3161 time-stamping authority: an HTTP server on loopback whose replies are made by
`openssl ts -reply` with the TestCerts TSA key. POST an application/timestamp-query, get an
application/timestamp-reply. Anything else is refused with a 4xx status naming the problem."""
import argparse
import http.server
import os
import subprocess
import tempfile

MAX_QUERY = 16 * 1024


def make_config(folder, cert, key, chain, policy):
    serial = os.path.join(folder, "tsa-serial")
    if not os.path.exists(serial):
        with open(serial, "w") as f:
            f.write("01\n")
    config = os.path.join(folder, "tsa.cnf")
    with open(config, "w") as f:
        f.write(f"""[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
serial = {serial}
crypto_device = builtin
signer_cert = {cert}
certs = {chain}
signer_key = {key}
signer_digest = sha256
default_policy = {policy}
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
""")
    return config


class Handler(http.server.BaseHTTPRequestHandler):
    config = None

    def do_POST(self):
        if self.headers.get("Content-Type", "").split(";")[0].strip() != "application/timestamp-query":
            return self.refuse(415, "Content-Type must be application/timestamp-query")
        try:
            length = int(self.headers.get("Content-Length", "-1"))
        except ValueError:
            length = -1
        if length <= 0 or length > MAX_QUERY:
            return self.refuse(413 if length > MAX_QUERY else 411, "a time-stamp query of 1 to 16384 bytes is expected")
        query = self.rfile.read(length)
        with tempfile.TemporaryDirectory() as work:
            query_file = os.path.join(work, "query.tsq")
            reply_file = os.path.join(work, "reply.tsr")
            with open(query_file, "wb") as f:
                f.write(query)
            result = subprocess.run(["openssl", "ts", "-reply", "-config", self.config, "-queryfile", query_file,
                                     "-out", reply_file], capture_output=True)
            if result.returncode != 0 or not os.path.exists(reply_file):
                lines = result.stderr.decode(errors="replace").strip().splitlines()
                return self.refuse(400, "openssl ts -reply refused the query: " + (lines[-1] if lines else "no reason"))
            with open(reply_file, "rb") as f:
                reply = f.read()
        self.send_response(200)
        self.send_header("Content-Type", "application/timestamp-reply")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def refuse(self, status, reason):
        body = (reason + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):  # one line per request on stderr, no bodies
        super().log_message(fmt, *args)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=18792)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--chain", required=True)
    parser.add_argument("--state", required=True, help="folder for the serial file and config")
    parser.add_argument("--policy", default="2.25.4185439844061794791.2")
    args = parser.parse_args()
    os.makedirs(args.state, exist_ok=True)
    Handler.config = make_config(args.state, args.cert, args.key, args.chain, args.policy)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.serve_forever()


if __name__ == "__main__":
    main()
