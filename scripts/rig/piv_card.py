#!/usr/bin/python3
"""SignService test rig: an emulated PIV card (NIST SP 800-73-4) for pcscd's vpcd reader driver.

OpenSC's PIV driver sees this card as a PKCS#11 token. It answers:
  SELECT (PIV application), GET DATA (discovery, CHUID, certificates 9A/9C/9D/9E),
  VERIFY (PIN reference 80: status query, check, logout; retry counter; locked at zero),
  GENERAL AUTHENTICATE (RSA raw private-key operation, ECDSA P-256 over a hash),
  GET RESPONSE (61xx) and command chaining (CLA bit 0x10).
Key 9C (Digital Signature) is "PIN always", as the standard says: its use clears the PIN status, so each signature
needs a fresh VERIFY (OpenSC marks it CKA_ALWAYS_AUTHENTICATE).

Test hooks, both written as the card runs:
  --state FILE  JSON with the retry counter, kept across runs (a locked card stays locked when re-inserted)
  --log FILE    one line per command: its name and result status word. PIN bytes are never written.
Killing the process is pulling the card out; starting it again is inserting it.

Run with Debian's /usr/bin/python3 (python3-cryptography); pyenv's python3 cannot see Debian's packages.
"""
import argparse
import json
import os
import socket
import struct
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

PIV_AID = bytes.fromhex("A000000308000010000100")
OK = b"\x90\x00"
# Status words (ISO 7816-4) the card answers with.
SW_SECURITY_NOT_SATISFIED = b"\x69\x82"
SW_AUTH_BLOCKED = b"\x69\x83"
SW_WRONG_DATA = b"\x6a\x80"
SW_NOT_FOUND = b"\x6a\x82"
SW_WRONG_P1P2 = b"\x6a\x86"
SW_REF_NOT_FOUND = b"\x6a\x88"
SW_INS_NOT_SUPPORTED = b"\x6d\x00"
SW_NO_RESPONSE_DATA = b"\x6a\x86"

# Container tags of the certificate objects, by key reference (SP 800-73-4 part 1, table 3).
CERT_TAGS = {0x9A: "5FC105", 0x9C: "5FC10A", 0x9D: "5FC10B", 0x9E: "5FC101"}
PIN_ALWAYS = {0x9C}
NO_PIN = {0x9E}


def ber_length(n):
    if n < 0x80:
        return bytes([n])
    if n <= 0xFF:
        return b"\x81" + bytes([n])
    return b"\x82" + n.to_bytes(2, "big")


def tlv(tag, value):
    return tag + ber_length(len(value)) + value


def read_tlvs(data):
    """Simple BER-TLV reader: 1- or 2-byte tags, short and long lengths. Returns [(tag, value)]."""
    items, i = [], 0
    while i < len(data):
        tag = data[i:i + 1]
        i += 1
        if tag[0] & 0x1F == 0x1F:
            tag += data[i:i + 1]
            i += 1
        if i >= len(data):
            raise ValueError("truncated TLV")
        length = data[i]
        i += 1
        if length & 0x80:
            count = length & 0x7F
            length = int.from_bytes(data[i:i + count], "big")
            i += count
        if i + length > len(data):
            raise ValueError("TLV runs past the data")
        items.append((tag, data[i:i + length]))
        i += length
    return items


def parse_apdu(apdu):
    """Returns (cla, ins, p1, p2, data, le) for short and extended APDUs (ISO 7816-4 cases 1-4)."""
    if len(apdu) < 4:
        raise ValueError("APDU shorter than its header")
    cla, ins, p1, p2 = apdu[:4]
    body = apdu[4:]
    data, le = b"", None
    if len(body) == 1:
        le = body[0] or 256
    elif len(body) > 1 and body[0] == 0 and len(body) >= 3:
        if len(body) == 3:
            le = int.from_bytes(body[1:3], "big") or 65536
        else:
            lc = int.from_bytes(body[1:3], "big")
            data = body[3:3 + lc]
            if len(body) > 3 + lc:
                le = int.from_bytes(body[3 + lc:], "big") or 65536
    elif len(body) > 1:
        lc = body[0]
        data = body[1:1 + lc]
        if len(body) > 1 + lc:
            le = body[1 + lc] or 256
    return cla, ins, p1, p2, data, le


class Card:
    def __init__(self, slots, pin, max_tries, atr, state_path, log):
        self.atr = atr
        self.slots = slots  # key reference -> (certificate DER, private key)
        self.pin = pin.ljust(8, b"\xff")
        self.max_tries = max_tries
        self.state_path = state_path
        self.log = log
        self.tries = self._load_tries()
        self.objects = self._build_objects()
        self.power_on()

    # --- persistent retry counter -------------------------------------------------------------------------------
    def _load_tries(self):
        if self.state_path and os.path.exists(self.state_path):
            with open(self.state_path) as f:
                return int(json.load(f)["tries"])
        return self.max_tries

    def _save_tries(self):
        if not self.state_path:
            return
        tmp = self.state_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"tries": self.tries, "max": self.max_tries}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.state_path)

    # --- data objects -------------------------------------------------------------------------------------------
    def _build_objects(self):
        objects = {}
        # CHUID: FASC-N, a GUID derived from the certificates (a stable token serial across restarts), expiry.
        import hashlib
        digest = hashlib.sha256(b"".join(self.slots[k][0] for k in sorted(self.slots))).digest()
        fascn = bytes.fromhex("D4E739DA739CED39CE739D836858210842108421C84210C3EB")
        chuid = tlv(b"\x30", fascn) + tlv(b"\x34", digest[:16]) + tlv(b"\x35", b"20361231") \
            + tlv(b"\x3e", b"") + tlv(b"\xfe", b"")
        objects["5FC102"] = tlv(b"\x53", chuid)
        # Discovery object: the PIV AID and a PIN usage policy of "PIV application PIN only".
        objects["7E"] = tlv(b"\x7e", tlv(b"\x4f", PIV_AID) + tlv(b"\x5f\x2f", b"\x40\x00"))
        for ref, (der, _) in self.slots.items():
            body = tlv(b"\x70", der) + tlv(b"\x71", b"\x00") + tlv(b"\xfe", b"")
            objects[CERT_TAGS[ref]] = tlv(b"\x53", body)
        return objects

    # --- card life ----------------------------------------------------------------------------------------------
    def power_on(self):
        self.pin_verified = False
        self.pending = b""
        self.chained = b""

    def record(self, name, sw):
        if self.log:
            self.log.write(f"{name} {sw.hex().upper()}\n")
            self.log.flush()

    def respond(self, data, le):
        """Send at most le bytes (256 when no Le was given to a short APDU), the rest through 61xx."""
        limit = le or 256
        if len(data) <= limit:
            return data + OK
        self.pending = data[limit:]
        remaining = len(self.pending)
        return data[:limit] + bytes([0x61, remaining if remaining < 256 else 0])

    def process(self, apdu):
        try:
            name, response = self._process(apdu)
        except (ValueError, IndexError) as e:
            name, response = f"MALFORMED({e})", SW_WRONG_DATA
        self.record(name, response[-2:])
        return response

    def _process(self, apdu):
        cla, ins, p1, p2, data, le = parse_apdu(apdu)
        if ins == 0xC0:
            if not self.pending:
                return "GET-RESPONSE", SW_NO_RESPONSE_DATA
            data, self.pending = self.pending, b""
            return "GET-RESPONSE", self.respond(data, le)
        self.pending = b""
        if cla & 0x10:
            self.chained += data
            return "CHAINED", OK
        if self.chained:
            data, self.chained = self.chained + data, b""

        if ins == 0xA4:
            return "SELECT", self.select(p1, data, le)
        if ins == 0xCB:
            return "GET-DATA", self.get_data(p1, p2, data, le)
        if ins == 0x20:
            return self.verify(p1, p2, data)
        if ins == 0x87:
            return "GENERAL-AUTHENTICATE", self.general_authenticate(p1, p2, data, le)
        return f"INS-{ins:02X}", SW_INS_NOT_SUPPORTED

    def select(self, p1, data, le):
        if p1 == 0x04 and len(data) >= 5 and PIV_AID.startswith(data):
            template = tlv(b"\x4f", PIV_AID[5:]) + tlv(b"\x79", tlv(b"\x4f", PIV_AID[:5])) \
                + tlv(b"\x50", b"SignService test PIV")
            return self.respond(tlv(b"\x61", template), le)
        return SW_NOT_FOUND

    def get_data(self, p1, p2, data, le):
        if (p1, p2) != (0x3F, 0xFF):
            return SW_WRONG_P1P2
        items = read_tlvs(data)
        if not items or items[0][0] != b"\x5c":
            return SW_WRONG_DATA
        obj = self.objects.get(items[0][1].hex().upper())
        return self.respond(obj, le) if obj is not None else SW_NOT_FOUND

    def verify(self, p1, p2, data):
        if p2 != 0x80:
            return "VERIFY-OTHER", SW_REF_NOT_FOUND
        if p1 == 0xFF:
            self.pin_verified = False
            return "VERIFY-RESET", OK
        if self.tries == 0:
            return ("VERIFY-PIN" if data else "VERIFY-STATUS"), SW_AUTH_BLOCKED
        if not data:
            return "VERIFY-STATUS", OK if self.pin_verified else bytes([0x63, 0xC0 | self.tries])
        # The attempt is counted before the comparison, as a card must (no timing or power-cut bypass).
        self.tries -= 1
        self._save_tries()
        if data == self.pin:
            self.tries = self.max_tries
            self._save_tries()
            self.pin_verified = True
            return "VERIFY-PIN", OK
        self.pin_verified = False
        return "VERIFY-PIN", SW_AUTH_BLOCKED if self.tries == 0 else bytes([0x63, 0xC0 | self.tries])

    def general_authenticate(self, p1, p2, data, le):
        if p2 not in self.slots:
            return SW_REF_NOT_FOUND
        if p2 not in NO_PIN and not self.pin_verified:
            return SW_SECURITY_NOT_SATISFIED
        items = read_tlvs(data)
        if not items or items[0][0] != b"\x7c":
            return SW_WRONG_DATA
        fields = dict(read_tlvs(items[0][1]))
        challenge = fields.get(b"\x81")
        if challenge is None:
            return SW_WRONG_DATA
        key = self.slots[p2][1]
        if isinstance(key, rsa.RSAPrivateKey):
            if p1 not in (0x06, 0x07) or len(challenge) != key.key_size // 8:
                return SW_WRONG_P1P2
            numbers = key.private_numbers()
            m = int.from_bytes(challenge, "big")
            if m >= numbers.public_numbers.n:
                return SW_WRONG_DATA
            signature = pow(m, numbers.d, numbers.public_numbers.n).to_bytes(key.key_size // 8, "big")
        elif isinstance(key, ec.EllipticCurvePrivateKey):
            if p1 != 0x11:
                return SW_WRONG_P1P2
            digest = challenge[-32:].rjust(32, b"\x00")
            signature = key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256())))
        else:
            return SW_WRONG_P1P2
        if p2 in PIN_ALWAYS:
            self.pin_verified = False
        return self.respond(tlv(b"\x7c", tlv(b"\x82", signature)), le)


def serve(card, host, port):
    """vpcd's protocol: each message is a 2-byte big-endian length and a payload. A 1-byte payload is a control
    message (0 power off, 1 power on, 2 reset, 4 send the ATR); anything longer is an APDU to answer."""
    sock = socket.create_connection((host, port))
    # vpcd writes the length and the APDU in two sends; without these each APDU waits ~40 ms for delayed ACKs.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def read_exact(n):
        buf = b""
        while len(buf) < n:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
            chunk = sock.recv(n - len(buf))
            if not chunk:
                raise EOFError
            buf += chunk
        return buf

    def send(payload):
        sock.sendall(struct.pack("!H", len(payload)) + payload)

    try:
        while True:
            (length,) = struct.unpack("!H", read_exact(2))
            payload = read_exact(length) if length else b""
            if length == 1:
                control = payload[0]
                if control in (0, 1, 2):
                    card.power_on()
                elif control == 4:
                    send(card.atr)
            elif length > 1:
                send(card.process(payload))
    except (EOFError, ConnectionError, KeyboardInterrupt):
        pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for ref in ("9a", "9c", "9d", "9e"):
        ap.add_argument(f"--cert-{ref}", metavar="PEM")
        ap.add_argument(f"--key-{ref}", metavar="PEM")
    ap.add_argument("--pin-file", required=True, help="file holding the PIN (never a command-line argument)")
    ap.add_argument("--tries", type=int, default=3)
    ap.add_argument("--atr", required=True, help="the ATR, hex")
    ap.add_argument("--state", help="JSON file keeping the retry counter across runs")
    ap.add_argument("--log", help="command log (names and status words only)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=35963)
    args = ap.parse_args()

    slots = {}
    for ref in ("9a", "9c", "9d", "9e"):
        cert, key = getattr(args, f"cert_{ref}"), getattr(args, f"key_{ref}")
        if not cert:
            continue
        with open(cert, "rb") as f:
            der = x509.load_pem_x509_certificate(f.read()).public_bytes(serialization.Encoding.DER)
        with open(key, "rb") as f:
            private = serialization.load_pem_private_key(f.read(), None)
        slots[int(ref, 16)] = (der, private)
    with open(args.pin_file, "rb") as f:
        pin = f.read().strip()
    log = open(args.log, "a") if args.log else None
    card = Card(slots, pin, args.tries, bytes.fromhex(args.atr), args.state, log)
    serve(card, args.host, args.port)


if __name__ == "__main__":
    sys.exit(main())
