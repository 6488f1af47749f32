#!/usr/bin/env bash
# Makes SignService's test PKI, modelled on India's CCA hierarchy (see docs/test-pki.md):
#
#   Test CCA India 2026 (root, RSA-4096)
#   └── Test Licensed CA 2026                     (like a licensed CA, e.g. Capricorn CA 2022)
#       ├── Test Sub CA for Individual DSC 2026   officers, PPS, Minister, encryption-only, expired, revoked,
#       │                                         wrong key usage, OCSP responder
#       ├── Test Sub CA for Document Signer 2026  the service's own document-signer certificate
#       ├── Test Sub CA for eSign 2026            a 30-minute eSign-like certificate
#       └── Test TSA 2026                          RFC 3161 time-stamping unit
#
# Every certificate is issued through `openssl ca` so that dates are fixed and each CA keeps an index from which its
# CRL (and later an OCSP responder) is made. The output is committed; running this again makes new keys.
#
# Dates: everything the suite relies on is valid until END (2049-12-31, the last day a certificate's dates are still
# UTCTime), and the CRLs' nextUpdate is END too, so that the tests do not expire. Tests judge signatures at fixed times
# in 2026 (Tests/TestSupport/TestTime.swift); the deliberately expired certificate (2022-2024), the 30-minute eSign
# certificate and the revocation on 2026-06-15 stay as they were relative to those times.
# Usage: TestCerts/generate.sh [OUTDIR]   (default: the folder this script is in)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-$HERE}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# The end of validity of every certificate and CRL the tests rely on (see the header).
END=20491231235959Z
# When the CRLs say they were issued: after the revocation they list (2026-06-15), before the tests' fixed times.
CRL_ISSUED=20260701000000Z

# Where the rig serves revocation data and CA certificates (scripts/rig.sh starts these servers).
CRL_BASE=${CRL_BASE:-http://127.0.0.1:18790}
OCSP_URL=${OCSP_URL:-http://127.0.0.1:18791}

# India's policy OIDs (CCA): Class 3, Class 2 (legacy), eSign Aadhaar-eKYC-OTP, organisational document signer.
CLASS3=2.16.356.100.2.3
CLASS2=2.16.356.100.2.2
ESIGN_OTP=2.16.356.100.2.4.1
DOCSIGNER=2.16.356.100.10.1
# EKUs seen on Indian signing certificates: email protection, Adobe authentic documents, Microsoft document signing.
SIGNING_EKU="emailProtection,1.2.840.113583.1.1.5,1.3.6.1.4.1.311.10.3.12"

mkdir -p "$OUT/ca" "$OUT/certs" "$OUT/keys" "$OUT/crl" "$OUT/state"

# --- helpers ----------------------------------------------------------------------------------------------------
ca_config() { # ca_config NAME -> writes $WORK/NAME.cnf and the CA's database folder
  local name=$1 dir=$OUT/state/$1
  mkdir -p "$dir/newcerts"
  : > "$dir/index.txt"
  echo "unique_subject = no" > "$dir/index.txt.attr"
  echo 1000 > "$dir/crlnumber"
  cat > "$WORK/$name.cnf" <<CNF
[ ca ]
default_ca = this_ca
[ this_ca ]
dir = $dir
database = \$dir/index.txt
new_certs_dir = \$dir/newcerts
serial = \$dir/serial
crlnumber = \$dir/crlnumber
default_md = sha256
policy = any_name
preserve = yes
email_in_dn = no
unique_subject = no
copy_extensions = none
[ any_name ]
countryName = optional
stateOrProvinceName = optional
localityName = optional
postalCode = optional
organizationName = optional
organizationalUnitName = optional
title = optional
pseudonym = optional
serialNumber = optional
commonName = supplied
[ crl_ext ]
authorityKeyIdentifier = keyid:always
[ req ]
distinguished_name = dn
[ dn ]
CNF
}

new_key() { # new_key FILE rsa2048|rsa4096|p256
  case $2 in
    rsa2048) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null ;;
    rsa4096) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:4096 -out "$1" 2>/dev/null ;;
    p256)    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -pkeyopt ec_param_enc:named_curve -out "$1" ;;
  esac
  chmod 600 "$1"
}

# issue CA_NAME CA_CERT CA_KEY NAME KEYTYPE SUBJECT START END EXTENSION-LINES...
# CA certificates (CA_NAME root, or NAME *-ca*) go to ca/ with their keys; subscribers to certs/ and keys/.
# CA_CERT "self" makes a self-signed root with the key made here.
issue() {
  local ca=$1 cacert=$2 cakey=$3 name=$4 keytype=$5 subject=$6 start=$7 end=$8; shift 8
  local dest=certs key=$OUT/keys/$name.key
  case $name in root|*-ca*) dest=ca; key=$OUT/ca/$name.key ;; esac
  new_key "$key" "$keytype"
  printf '%s\n' "$@" > "$WORK/$name.ext"
  # A random serial with its top bit clear, as CAs must use now.
  openssl rand -hex 16 | sed 's/^./4/' > "$OUT/state/$ca/serial"
  openssl req -new -utf8 -key "$key" -subj "$subject" -config "$WORK/$ca.cnf" -out "$WORK/$name.csr"
  local signer=(-cert "$cacert")
  [ "$cacert" = self ] && signer=(-selfsign)
  openssl ca -batch -notext -utf8 -config "$WORK/$ca.cnf" "${signer[@]}" -keyfile "$cakey" \
    -startdate "$start" -enddate "$end" -extfile "$WORK/$name.ext" \
    -in "$WORK/$name.csr" -out "$OUT/$dest/$name.crt" 2>"$WORK/$name.log" || { cat "$WORK/$name.log"; exit 1; }
  openssl x509 -in "$OUT/$dest/$name.crt" -outform DER -out "$OUT/$dest/$name.der"
}

ee_common() { # the extensions every subscriber certificate of a CA carries
  local issuer=$1
  echo "basicConstraints = critical,CA:FALSE"
  echo "subjectKeyIdentifier = hash"
  echo "authorityKeyIdentifier = keyid"
  echo "crlDistributionPoints = URI:$CRL_BASE/crl/$issuer.crl"
  echo "authorityInfoAccess = OCSP;URI:$OCSP_URL,caIssuers;URI:$CRL_BASE/ca/$issuer.der"
}

pseudonym() { printf '%s' "$1" | openssl dgst -sha1 -r | cut -c1-32; }        # stands in for a CA's pseudonym
idhash()    { printf '%s' "$1" | openssl dgst -sha256 -r | cut -c1-64; }      # stands in for the 64-hex serialNumber

# --- the hierarchy ------------------------------------------------------------------------------------------------
ca_config root
issue root self "$OUT/ca/root.key" root rsa4096 \
  "/C=IN/O=India PKI Test/CN=Test CCA India 2026" 20260101000000Z "$END" \
  "basicConstraints = critical,CA:TRUE" "keyUsage = critical,keyCertSign,cRLSign" "subjectKeyIdentifier = hash"
ca_config licensed-ca
issue root "$OUT/ca/root.crt" "$OUT/ca/root.key" licensed-ca rsa2048 \
  "/C=IN/O=Test Licensed CA Pvt Ltd/OU=Certifying Authority/CN=Test Licensed CA 2026" 20260115000000Z "$END" \
  "basicConstraints = critical,CA:TRUE,pathlen:1" "keyUsage = critical,keyCertSign,cRLSign" \
  "subjectKeyIdentifier = hash" "authorityKeyIdentifier = keyid" "certificatePolicies = $CLASS3,$ESIGN_OTP,$DOCSIGNER" \
  "crlDistributionPoints = URI:$CRL_BASE/crl/root.crl"

for sub in "sub-ca-individual:Test Sub CA for Individual DSC 2026:$CLASS3,$CLASS2" \
           "sub-ca-docsigner:Test Sub CA for Document Signer 2026:$DOCSIGNER" \
           "sub-ca-esign:Test Sub CA for eSign 2026:$ESIGN_OTP"; do
  IFS=: read -r name cn policies <<<"$sub"
  ca_config "$name"
  issue licensed-ca "$OUT/ca/licensed-ca.crt" "$OUT/ca/licensed-ca.key" "$name" rsa2048 \
    "/C=IN/O=Test Licensed CA Pvt Ltd/OU=Sub-CA/CN=$cn" 20260201000000Z "$END" \
    "basicConstraints = critical,CA:TRUE,pathlen:0" "keyUsage = critical,keyCertSign,cRLSign" \
    "subjectKeyIdentifier = hash" "authorityKeyIdentifier = keyid" "certificatePolicies = $policies" \
    "crlDistributionPoints = URI:$CRL_BASE/crl/licensed-ca.crl" \
    "authorityInfoAccess = caIssuers;URI:$CRL_BASE/ca/licensed-ca.der"
done

IND=("sub-ca-individual" "$OUT/ca/sub-ca-individual.crt" "$OUT/ca/sub-ca-individual.key")
# ee_common prints several lines; issue() writes each argument as one line of the extension file.
officer() { # officer NAME KEYTYPE CN TITLE OU START END [KU] [EKU] [POLICIES]
  local name=$1 kt=$2 cn=$3 title=$4 ou=$5 start=$6 end=$7
  local ku=${8:-critical,digitalSignature,nonRepudiation} eku=${9:-$SIGNING_EKU} pol=${10:-$CLASS3}
  local ext=(); mapfile -t ext < <(ee_common sub-ca-individual)
  issue "${IND[@]}" "$name" "$kt" \
    "/C=IN/ST=Manipur/postalCode=795001/O=Government of Manipur/OU=$ou/title=$title/pseudonym=$(pseudonym "$cn")/serialNumber=$(idhash "$cn $name")/CN=$cn" \
    "$start" "$end" "keyUsage = $ku" "extendedKeyUsage = $eku" "certificatePolicies = $pol" "${ext[@]}"
}

DIT="Department of Information Technology"
officer officer-rsa rsa2048 "Anita Sharma" "Under Secretary" "$DIT" 20260301000000Z "$END" \
  "" "" "$CLASS3,$CLASS2"
officer officer-ec p256 "Rajesh Kumar Singh" "Deputy Secretary" "$DIT" 20260301000000Z "$END"
officer officer-encryption rsa2048 "Anita Sharma" "Under Secretary" "$DIT" 20260301000000Z "$END" \
  "critical,keyEncipherment" "1.3.6.1.4.1.311.10.3.4,emailProtection"
officer officer-wrong-usage p256 "Laishram Bembem Devi" "Section Officer" "$DIT" 20260301000000Z "$END" \
  "critical,keyAgreement" "clientAuth"
officer officer-expired rsa2048 "Priya Devi" "Assistant Secretary" "$DIT" 20220101000000Z 20240101000000Z
officer officer-revoked rsa2048 "Suresh Meitei" "Under Secretary" "Department of Finance" 20260301000000Z "$END"
officer pps rsa2048 "Thoudam Ibomcha Singh" "PPS to Minister (IT)" "Office of the Minister (IT)" 20260301000000Z "$END"
officer minister rsa2048 "Kh. Ratan Kumar" "Minister (IT)" "Office of the Minister (IT)" 20260301000000Z "$END"
ext=(); mapfile -t ext < <(ee_common sub-ca-individual)
issue "${IND[@]}" ocsp-individual rsa2048 \
  "/C=IN/O=Test Licensed CA Pvt Ltd/OU=OCSP/CN=Test Sub CA for Individual DSC 2026 OCSP Responder" \
  20260201000000Z "$END" "basicConstraints = critical,CA:FALSE" "keyUsage = critical,digitalSignature" \
  "extendedKeyUsage = critical,OCSPSigning" "noCheck = ignored" "subjectKeyIdentifier = hash" "authorityKeyIdentifier = keyid"

ext=(); mapfile -t ext < <(ee_common sub-ca-docsigner)
issue sub-ca-docsigner "$OUT/ca/sub-ca-docsigner.crt" "$OUT/ca/sub-ca-docsigner.key" docsigner rsa2048 \
  "/C=IN/ST=Manipur/O=Government of Manipur/OU=$DIT/CN=SignService Document Signer DIT Manipur" \
  20260301000000Z "$END" "keyUsage = critical,digitalSignature,nonRepudiation" \
  "extendedKeyUsage = 1.3.6.1.4.1.311.10.3.12,1.2.840.113583.1.1.5" "certificatePolicies = $DOCSIGNER" "${ext[@]}"

# A second department's document signer (Finance): in the tests, the witness that cosigns another department's log.
issue sub-ca-docsigner "$OUT/ca/sub-ca-docsigner.crt" "$OUT/ca/sub-ca-docsigner.key" docsigner-finance rsa2048 \
  "/C=IN/ST=Manipur/O=Government of Manipur/OU=Department of Finance/CN=SignService Document Signer Finance Manipur" \
  20260301000000Z "$END" "keyUsage = critical,digitalSignature,nonRepudiation" \
  "extendedKeyUsage = 1.3.6.1.4.1.311.10.3.12,1.2.840.113583.1.1.5" "certificatePolicies = $DOCSIGNER" "${ext[@]}"

# eSign: about 30 minutes of life, O=Personal, eKYC-derived attributes, Aadhaar-eKYC-OTP policy.
ext=(); mapfile -t ext < <(ee_common sub-ca-esign)
issue sub-ca-esign "$OUT/ca/sub-ca-esign.crt" "$OUT/ca/sub-ca-esign.key" esign-user rsa2048 \
  "/C=IN/ST=Manipur/postalCode=795001/O=Personal/title=eSign/pseudonym=$(pseudonym esign)/serialNumber=$(idhash 'Ramesh Chandra esign')/CN=Ramesh Chandra" \
  20260310100000Z 20260310103000Z "keyUsage = critical,digitalSignature,nonRepudiation" \
  "certificatePolicies = $ESIGN_OTP" "${ext[@]}"

ext=(); mapfile -t ext < <(ee_common licensed-ca)
issue licensed-ca "$OUT/ca/licensed-ca.crt" "$OUT/ca/licensed-ca.key" tsa rsa2048 \
  "/C=IN/O=Test Licensed CA Pvt Ltd/OU=Time Stamping Authority/CN=Test TSA 2026" 20260201000000Z "$END" \
  "keyUsage = critical,digitalSignature,nonRepudiation" "extendedKeyUsage = critical,timeStamping" "${ext[@]}"

# --- revocation -------------------------------------------------------------------------------------------------
# officer-revoked: key compromise on 2026-06-15. The index line is edited so the revocation date is fixed.
serial=$(openssl x509 -in "$OUT/certs/officer-revoked.crt" -noout -serial | cut -d= -f2)
sed -i -E "s/^V\t([0-9Z]+)\t\t${serial}\t/R\t\1\t260615103000Z,keyCompromise\t${serial}\t/" "$OUT/state/sub-ca-individual/index.txt"
grep -q "^R.*${serial}" "$OUT/state/sub-ca-individual/index.txt" || { echo "revocation of officer-revoked not recorded"; exit 1; }

# One CRL per CA with fixed dates, CRL_ISSUED to END, so that the committed files stay usable; the rig can make
# fresh ones.
for ca in root licensed-ca sub-ca-individual sub-ca-docsigner sub-ca-esign; do
  openssl ca -gencrl -config "$WORK/$ca.cnf" -cert "$OUT/ca/$ca.crt" -keyfile "$OUT/ca/$ca.key" \
    -crl_lastupdate "$CRL_ISSUED" -crl_nextupdate "$END" -crlexts crl_ext -out "$OUT/crl/$ca.crl.pem" 2>/dev/null
  openssl crl -in "$OUT/crl/$ca.crl.pem" -outform DER -out "$OUT/crl/$ca.crl"
done

# --- convenience files ------------------------------------------------------------------------------------------
cat "$OUT/ca/sub-ca-individual.crt" "$OUT/ca/licensed-ca.crt" > "$OUT/ca/chain-individual.pem"
cat "$OUT/ca/sub-ca-docsigner.crt" "$OUT/ca/licensed-ca.crt" > "$OUT/ca/chain-docsigner.pem"
cat "$OUT/ca/sub-ca-esign.crt" "$OUT/ca/licensed-ca.crt" > "$OUT/ca/chain-esign.pem"
mkdir -p "$OUT/trust"; cp "$OUT/ca/root.crt" "$OUT/trust/test-cca-india-2026.pem"
for k in "$OUT"/keys/*.key; do openssl pkcs8 -topk8 -nocrypt -in "$k" -out "${k%.key}.p8"; chmod 600 "${k%.key}.p8"; done
rm -rf "$OUT"/state/*/newcerts
echo "test PKI written to $OUT"
