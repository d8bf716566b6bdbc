#!/usr/bin/env bash
# Set up what is missing, then lint, type-check and run every test against the real
# RabbitMQ and databases. Usage: bash scripts/test.sh [pytest args]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
setup_all
cd "$ROOT"
say "ruff"
"$VENV/bin/ruff" check .
say "import contracts"
"$VENV/bin/lint-imports"
say "mypy"
"$VENV/bin/mypy" gateway schemas signers transports receipts devices
say "pytest"
"$VENV/bin/pytest" -q -p no:cacheprovider "$@"
