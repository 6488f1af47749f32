#!/usr/bin/env python3
"""Writes a DER X.509 CRL for a test CA with python3-cryptography: the revoked serials with their dates and
reasons, thisUpdate now, nextUpdate in --next-days. With --signing-key, the CRL names the CA as issuer but is signed
with another key (a CRL whose signature must not verify)."""
import argparse
import datetime
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

REASONS = {name: getattr(x509.ReasonFlags, name) for name in
           ("unspecified", "key_compromise", "ca_compromise", "affiliation_changed", "superseded",
            "cessation_of_operation", "certificate_hold", "privilege_withdrawn", "aa_compromise")}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ca-cert", required=True)
    parser.add_argument("--ca-key", required=True)
    parser.add_argument("--signing-key")
    parser.add_argument("--revoked", action="append", default=[], help="SERIALHEX:UNIXTIME:REASON")
    parser.add_argument("--next-days", type=int, default=1)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    ca = x509.load_pem_x509_certificate(open(args.ca_cert, "rb").read())
    key = serialization.load_pem_private_key(open(args.signing_key or args.ca_key, "rb").read(), password=None)
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    builder = (x509.CertificateRevocationListBuilder().issuer_name(ca.subject)
               .last_update(now - datetime.timedelta(seconds=1)).next_update(now + datetime.timedelta(days=args.next_days)))
    for entry in args.revoked:
        serial, when, reason = entry.split(":")
        revoked = (x509.RevokedCertificateBuilder().serial_number(int(serial, 16))
                   .revocation_date(datetime.datetime.fromtimestamp(int(when), datetime.timezone.utc))
                   .add_extension(x509.CRLReason(REASONS[reason]), critical=False).build())
        builder = builder.add_revoked_certificate(revoked)
    crl = builder.sign(private_key=key, algorithm=hashes.SHA256())
    with open(args.out + ".tmp", "wb") as f:
        f.write(crl.public_bytes(serialization.Encoding.DER))
    os.replace(args.out + ".tmp", args.out)


if __name__ == "__main__":
    main()
