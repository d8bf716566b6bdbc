#!/usr/bin/env bash
# Set up what is missing, then run the demos: e-commerce declarations through the gateway
# and the simulated customs (every declaration's status history and a summary), then a
# temporary-goods exhibition to its printed check sheet, then border trade at a terminal.
# `bash scripts/demo.sh ARGS` passes ARGS to the e-commerce demo.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
setup_all
cd "$ROOT"
"$VENV/bin/customs-gateway" demo "$@"
say "temporary goods: exhibition → loan list → confirmation with a PDF → extension → check sheet"
"$VENV/bin/customs-gateway" tmp-demo
say "border trade: ID-card login, declarations with and without the biometric check, a return"
# the face steps read a sample face set when there is one beside the clone (../shared/data)
faces="$ROOT/../shared/data/faces-orl"
if [ -d "$faces" ]; then
    "$VENV/bin/customs-gateway" bdr-demo --faces "$faces"
else
    "$VENV/bin/customs-gateway" bdr-demo
fi
