#!/usr/bin/env bash
# The main job on the bundled examples: install, set up a tenant, fund it,
# rate a month of real-shaped Teams call records, report and advise.
# Usage: bash examples/demo.sh        (writes out/demo.db, out/report.xlsx, out/report-csv/)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/credits ]; then
    python3 -m venv .venv
    .venv/bin/pip install -q -e .
fi
credits() { .venv/bin/credits "$@"; }

mkdir -p out
export CREDITS_DB="$PWD/out/demo.db"
rm -f out/demo.db out/demo.db-wal out/demo.db-shm

credits tenant add contoso --name "Contoso Ltd" --country US --currency USD
credits admin add billing@contoso.com --role billing-admin
credits user import examples/users.csv
credits payment set --card-expiry 2028-04 --last4 4242
credits topup 100 --note "first funding"
credits autorecharge set --threshold 25 --amount 50
credits rates load rates/default-usd.yaml
credits rate-cdrs examples/PSTN.calls.2026-10-01.csv --rejects out/rejects.csv || [ $? -eq 3 ]
credits balance
credits report --from 2026-10-01 --to 2026-10-31 --xlsx out/report.xlsx --csv out/report-csv
credits recommend
credits verify
echo "demo database: out/demo.db; workbook: out/report.xlsx"
