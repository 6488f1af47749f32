#!/usr/bin/env bash
# SignService's token rig: real PC/SC and PKCS#11 parts, no hardware.
#
#   pcscd (Debian) with the vsmartcard vpcd driver, in its own network and mount namespace so that vpcd's TCP
#   ports (35963/35964) never reach the host network; clients reach it through PCSCLITE_CSOCK_NAME.
#   scripts/rig/piv_card.py: an emulated PIV card in reader "Virtual PCD 00 00", seen by OpenSC's
#   opensc-pkcs11.so as a token holding the officer keys (PIN 3 tries, then locked).
#   SoftHSM2: token "SignService Test" with the TestCerts subscriber keys, "SignService DocSigner" with the
#   service's document-signer key, "SignService Witness" with another department's (a witness of the log).
#
# Usage: scripts/rig.sh up | down | status | card-out | card-in | card-reset | env
# State: .rig/ in the repository (ignored by git). `source .rig/env.sh` to use the rig from a shell.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RIG=${SIGNSERVICE_RIG:-$ROOT/.rig}
CERTS=$ROOT/TestCerts
SOFTHSM_MODULE=/usr/lib/softhsm/libsofthsm2.so
OPENSC_MODULE=/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so
# The emulated card's ATR: 3B 8A 80 01, historical bytes "SGNSVC-PIV", TCK. Listed in the ATR catalogue.
CARD_ATR=3B8A800153474E5356432D50495675
CARD_TRIES=3
# Test PINs. Letters make a leak easy to find with grep: these strings cannot occur in hex or base64 of DER.
CARD_PIN=Kq7pZr4x
SOFTHSM_PIN=Wv3nJt8y
SOFTHSM_SO_PIN=So-Wv3nJt8y

log() { printf 'rig: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }
alive() { [ -n "${1:-}" ] && [ -e "/proc/$1" ] && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat" 2>/dev/null; }
not_alive() { ! alive "$1"; }
pid_of() { [ -f "$RIG/$1.pid" ] && cat "$RIG/$1.pid" || true; }
wait_for() { # wait_for SECONDS COMMAND...: polls every 50 ms
  local deadline=$(( $(date +%s%N) + $1 * 1000000000 )); shift
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s%N)" -lt "$deadline" ] || return 1
    sleep 0.05
  done
}
in_env() { PCSCLITE_CSOCK_NAME=$RIG/pcscd/pcscd.comm "$@"; }
readers_listed() { in_env opensc-tool -l 2>/dev/null | grep -q 'Virtual PCD 00 00'; }
card_present() { in_env opensc-tool -l 2>/dev/null | grep -Eq '^0 +Yes +Virtual PCD 00 00'; }
card_absent() { readers_listed && ! card_present; }

start_pcscd() {
  alive "$(pid_of pcscd)" && readers_listed && return 0
  mkdir -p "$RIG/pcscd" /run/pcscd
  rm -f "$RIG/pcscd/pcscd.comm" "$RIG/pcscd/pcscd.pid"
  # New network namespace (only its own loopback) and mount namespace (a private /run/pcscd, so a pcscd
  # already running on the host is left alone). The shell's pid becomes pcscd's through exec.
  unshare --mount --net --fork --propagation private -- bash -c '
    ip link set lo up
    mount --bind "$1/pcscd" /run/pcscd
    echo $$ > "$1/pcscd.pid"
    exec pcscd --foreground 2>&1' _ "$RIG" > "$RIG/pcscd.log" 2>&1 &
  wait_for 10 readers_listed || { cat "$RIG/pcscd.log" >&2; die "pcscd did not show the vpcd readers"; }
  log "pcscd $(pid_of pcscd) in its own network namespace; socket $RIG/pcscd/pcscd.comm"
}

card_in() {
  alive "$(pid_of card)" && card_present && return 0
  local ns; ns=$(pid_of pcscd); alive "$ns" || die "pcscd is not running (scripts/rig.sh up)"
  printf '%s' "$CARD_PIN" > "$RIG/card.pin"; chmod 600 "$RIG/card.pin"
  nsenter --net="/proc/$ns/ns/net" /usr/bin/python3 "$ROOT/scripts/rig/piv_card.py" \
    --cert-9a "$CERTS/certs/officer-rsa.crt" --key-9a "$CERTS/keys/officer-rsa.key" \
    --cert-9c "$CERTS/certs/officer-ec.crt" --key-9c "$CERTS/keys/officer-ec.key" \
    --cert-9d "$CERTS/certs/officer-encryption.crt" --key-9d "$CERTS/keys/officer-encryption.key" \
    --pin-file "$RIG/card.pin" --tries "$CARD_TRIES" --atr "$CARD_ATR" \
    --state "$RIG/card-state.json" --log "$RIG/card-apdu.log" > "$RIG/card.log" 2>&1 &
  echo $! > "$RIG/card.pid"
  wait_for 10 card_present || { cat "$RIG/card.log" >&2; die "the emulated card did not appear"; }
}

card_out() {
  local pid; pid=$(pid_of card)
  if alive "$pid"; then kill "$pid"; wait_for 5 not_alive "$pid" || kill -9 "$pid" 2>/dev/null || true; fi
  rm -f "$RIG/card.pid"
  wait_for 5 card_absent || die "the reader still shows a card"
}

# CRLs and CA certificates (GET), and the OCSP responder: the URLs TestCerts' certificates name.
FILES_PORT=18790
OCSP_PORT=18791
pki_up() {
  alive "$(pid_of pki)" && return 0
  mkdir -p "$RIG/www/crl" "$RIG/www/ca" "$RIG/ocsp"
  /usr/bin/python3 "$ROOT/scripts/rig/pki_server.py" --files-port "$FILES_PORT" --ocsp-port "$OCSP_PORT" \
    --files "$CERTS" --files "$RIG/www" --ocsp-root "$RIG/ocsp" \
    --index "$CERTS/state/sub-ca-individual/index.txt" --ca "$CERTS/ca/sub-ca-individual.crt" \
    --signer "$CERTS/certs/ocsp-individual.crt" --key "$CERTS/keys/ocsp-individual.key" > "$RIG/pki.log" 2>&1 &
  echo $! > "$RIG/pki.pid"
  wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$OCSP_PORT" || { cat "$RIG/pki.log" >&2; die "the CRL and OCSP servers did not start"; }
  sleep 0.3
  alive "$(pid_of pki)" || { cat "$RIG/pki.log" >&2; die "the CRL and OCSP servers exited: ports $FILES_PORT/$OCSP_PORT taken by another rig?"; }
  log "CRLs and CA certificates on http://127.0.0.1:$FILES_PORT, OCSP (openssl ocsp) on http://127.0.0.1:$OCSP_PORT"
}

TSA_PORT=18792
tsa_up() {
  alive "$(pid_of tsa)" && return 0
  cat "$CERTS/ca/licensed-ca.crt" "$CERTS/ca/root.crt" > "$RIG/tsa-chain.pem"
  /usr/bin/python3 "$ROOT/scripts/rig/tsa_server.py" --port "$TSA_PORT" --cert "$CERTS/certs/tsa.crt" \
    --key "$CERTS/keys/tsa.key" --chain "$RIG/tsa-chain.pem" --state "$RIG/tsa" > "$RIG/tsa.log" 2>&1 &
  echo $! > "$RIG/tsa.pid"
  wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$TSA_PORT" || { cat "$RIG/tsa.log" >&2; die "the TSA did not start"; }
  sleep 0.3
  alive "$(pid_of tsa)" || { cat "$RIG/tsa.log" >&2; die "the TSA exited: port $TSA_PORT taken by another rig?"; }
  log "TSA on http://127.0.0.1:$TSA_PORT (openssl ts -reply, TestCerts tsa)"
}

card_reset() { # a new card: full retry counter, empty command log
  card_out
  rm -f "$RIG/card-state.json"; : > "$RIG/card-apdu.log"
  card_in
}

softhsm_up() {
  mkdir -p "$RIG/softhsm/tokens"
  cat > "$RIG/softhsm/softhsm2.conf" <<CONF
directories.tokendir = $RIG/softhsm/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
CONF
  export SOFTHSM2_CONF=$RIG/softhsm/softhsm2.conf
  # Rebuild when TestCerts changed since the tokens were filled.
  local stamp; stamp=$(cat "$CERTS"/certs/*.der | sha256sum | cut -c1-16)
  if [ "$(cat "$RIG/softhsm/stamp" 2>/dev/null)" = "$stamp" ]; then return 0; fi
  rm -rf "$RIG/softhsm/tokens"/*
  fill_token "SignService Test" officer-rsa:01 officer-ec:02 officer-encryption:03 officer-wrong-usage:04 \
    officer-expired:05 pps:06 minister:07 officer-revoked:08
  fill_token "SignService DocSigner" docsigner:10
  # Another department's document signer (Finance), as a witness of this department's log (docs/history.md).
  fill_token "SignService Witness" docsigner-finance:20
  echo "$stamp" > "$RIG/softhsm/stamp"
  log "SoftHSM2 tokens filled from TestCerts"
}

fill_token() { # fill_token LABEL NAME:ID...
  local label=$1; shift
  softhsm2-util --init-token --free --label "$label" --so-pin "$SOFTHSM_SO_PIN" --pin "$SOFTHSM_PIN" >/dev/null
  local item name id
  for item in "$@"; do
    name=${item%%:*} id=${item##*:}
    softhsm2-util --import "$CERTS/keys/$name.p8" --token "$label" --label "$name" --id "$id" \
      --pin "$SOFTHSM_PIN" >/dev/null
    pkcs11-tool --module "$SOFTHSM_MODULE" --token-label "$label" --login --pin "$SOFTHSM_PIN" \
      --write-object "$CERTS/certs/$name.der" --type cert --id "$id" --label "$name" >/dev/null 2>&1
  done
}

write_env() {
  printf '%s' "$SOFTHSM_PIN" > "$RIG/softhsm.pin"; chmod 600 "$RIG/softhsm.pin"
  cat > "$RIG/env.sh" <<ENV
# Made by scripts/rig.sh: the environment that reaches the rig's pcscd and SoftHSM2.
export PCSCLITE_CSOCK_NAME=$RIG/pcscd/pcscd.comm
export SOFTHSM2_CONF=$RIG/softhsm/softhsm2.conf
export SIGNSERVICE_RIG=$RIG
export SIGNSERVICE_TEST_TSA=http://127.0.0.1:$TSA_PORT/
export SIGNSERVICE_TEST_FILES=http://127.0.0.1:$FILES_PORT
export SIGNSERVICE_TEST_OCSP=http://127.0.0.1:$OCSP_PORT
ENV
}

need_packages() {
  local missing=()
  for cmd in pcscd opensc-tool softhsm2-util pkcs11-tool nsenter unshare ip; do
    command -v "$cmd" >/dev/null || missing+=("$cmd")
  done
  [ -f /usr/lib/pcsc/drivers/serial/libifdvpcd.so ] || missing+=(vsmartcard-vpcd)
  [ -f "$OPENSC_MODULE" ] || missing+=(opensc-pkcs11)
  /usr/bin/python3 -c 'import cryptography' 2>/dev/null || missing+=(python3-cryptography)
  [ ${#missing[@]} -eq 0 ] || die "missing: ${missing[*]} (run scripts/setup.sh)"
}

up() {
  need_packages
  mkdir -p "$RIG"
  softhsm_up
  start_pcscd
  card_in
  tsa_up
  pki_up
  write_env
  log "up: source $RIG/env.sh"
}

down() {
  card_out 2>/dev/null || true
  local pid
  for service in tsa pki; do
    pid=$(pid_of $service)
    if alive "$pid"; then kill "$pid"; wait_for 5 not_alive "$pid" || kill -9 "$pid" 2>/dev/null || true; fi
    rm -f "$RIG/$service.pid"
  done
  pid=$(pid_of pcscd)
  if alive "$pid"; then kill "$pid"; wait_for 5 not_alive "$pid" || kill -9 "$pid" 2>/dev/null || true; fi
  rm -f "$RIG/pcscd.pid"
  log "down"
}

status() {
  printf 'pcscd: %s\n' "$(alive "$(pid_of pcscd)" && echo "running ($(pid_of pcscd))" || echo stopped)"
  printf 'card:  %s\n' "$(alive "$(pid_of card)" && echo "inserted ($(pid_of card))" || echo "out")"
  [ -f "$RIG/card-state.json" ] && printf 'card state: %s\n' "$(cat "$RIG/card-state.json")"
  in_env opensc-tool -l 2>/dev/null || true
  alive "$(pid_of pcscd)"  # exit status: 0 when the rig's pcscd runs
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  status) status ;;
  card-out) card_out ;;
  card-in) card_in ;;
  card-reset) card_reset ;;
  env) write_env; cat "$RIG/env.sh" ;;
  *) die "usage: $0 up|down|status|card-out|card-in|card-reset|env" ;;
esac
