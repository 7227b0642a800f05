#!/usr/bin/env bash
# Load the IBM "Accounts Receivable" sample into the configured database (DATABASE_URL, else the SQLite default):
# its customers, its invoices, a dispute on each invoice marked Disputed (opened on its invoice date, resolved
# on its SettledDate: disputes.py), and a payment in full on each SettledDate. Safe to run twice: imports are
# idempotent and disputes.py skips what is done.
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
# The Disputed column goes in through the dispute services (disputes.py says how); IBM_AR_DISPUTES=0 skips it.
disputes() {
  if [[ "${IBM_AR_DISPUTES:-1}" != "0" ]]; then
    IBM_AR_CSV="$csv" IBM_AR_PHASE="$1" IBM_AR_DRY_RUN="${2:-}" \
      "$recoup" shell -v 0 -c "import runpy; runpy.run_path('$here/disputes.py', run_name='__main__')"
  fi
}
for kind in customers invoices; do
  "$recoup" import "$kind" "$csv" --mapping "$here/$kind.toml" "$@"
done
disputes open "$@"
"$recoup" import payments "$csv" --mapping "$here/payments.toml" "$@"
disputes resolve "$@"
