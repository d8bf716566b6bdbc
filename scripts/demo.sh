#!/usr/bin/env bash
# Set up what is missing, then run the demo: declarations through the gateway and the
# simulated customs, ending with every declaration's status history and a summary.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
setup_all
cd "$ROOT"
exec "$VENV/bin/customs-gateway" demo "$@"
