#!/usr/bin/env bash
# Load the IBM "Accounts Receivable" sample into the configured database (DATABASE_URL, else the SQLite default):
# its customers, its invoices, and a payment in full on each SettledDate. Safe to run twice: imports are idempotent.
#
#   docs/examples/ibm_ar/load.sh [--dry-run]
#
# IBM_AR_CSV overrides the file (default: ../shared/data/ibm_ar/ beside the repository); RECOUP the command.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
csv="${IBM_AR_CSV:-$repo/../shared/data/ibm_ar/WA_Fn-UseC_-Accounts-Receivable.csv}"
if [[ -n "${RECOUP:-}" ]]; then
  recoup="$RECOUP"
elif [[ -x "$repo/.venv/bin/recoup" ]]; then
  recoup="$repo/.venv/bin/recoup"
else
  recoup="recoup"
fi
if [[ ! -f "$csv" ]]; then
  echo "load.sh: no IBM sample at $csv (set IBM_AR_CSV)" >&2
  exit 2
fi
for kind in customers invoices payments; do
  "$recoup" import "$kind" "$csv" --mapping "$here/$kind.toml" "$@"
done
