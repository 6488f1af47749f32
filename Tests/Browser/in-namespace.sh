#!/bin/bash
# Runs the browser tests in a private network namespace with a token rig of their own, so their ports and the rig
# never meet another checkout's:   timeout 590 unshare --net Tests/Browser/in-namespace.sh --bin /tmp/snap
# (arguments go to run.py). The rig lives in .rig-b (git-ignored as /.rig-*/).
set -eo pipefail
cd "$(dirname "$0")/../.."
ip link set lo up
unset PCSCLITE_CSOCK_NAME SOFTHSM2_CONF $(env | grep -o '^SIGNSERVICE_[A-Z_]*' || true)
export SIGNSERVICE_RIG="$PWD/.rig-b"
scripts/rig.sh up > "${TMPDIR:-/tmp}/rig-b.log" 2>&1
source "$SIGNSERVICE_RIG/env.sh"
set +e
python3 Tests/Browser/run.py "$@"
rc=$?
scripts/rig.sh down > /dev/null 2>&1
exit $rc
