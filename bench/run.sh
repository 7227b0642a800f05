#!/usr/bin/env bash
# The foundation benchmark (issue "Foundation", section Benchmark; results in docs/benchmarks.md).
#
#   bash bench/run.sh            (what `make bench` runs)
#
# 1. generates the ledger with ../shared/bench/gen_ledger.py unless BENCH_DATA already holds it;
# 2. recreates and migrates the app database, imports customers, invoices and payments with bench/mappings/
#    (import rate and peak RSS), VACUUM ANALYZE, then times the project's aging service and API request in-process;
# 3. times the reports (KPIs per quarter, the dashboard's JSON endpoints, 36 month-end snapshots;
#    bench/reports_bench.py), then dunning on the same database: a run's planning, PDF statements, delivery through two Celery
#    worker processes on Redis to an aiosmtpd sink (bench/dunning_bench.py);
# 4. loads the same files into plain tables of a scratch database and re-measures the issue's anchors;
# 5. prints the summary table. Raw figures: bench/results/<timestamp>.jsonl.
#
# Parameters (environment):
#   BENCH_CUSTOMERS=100000 BENCH_INVOICES=2000000 BENCH_SEED=7   the data set's scale and seed
#   BENCH_DATA=dir            use (or generate into) this directory; default bench/data/c<C>-i<I>-s<SEED>
#   BENCH_PG=postgres://postgres@127.0.0.1:5432   the PostgreSQL server
#   BENCH_APP_DB=recoup_bench_app  BENCH_ANCHOR_DB=recoup_bench   the two databases it (re)creates: DROPPED first
#   BENCH_REPEAT=5 BENCH_WARMUP=1   counted and warm-up runs of each timed step
#   BENCH_SKIP_IMPORT=1       keep the app database as it is (already imported) and only time aging
#   BENCH_SKIP_ANCHORS=1      skip the anchors;  BENCH_SKIP_PANDAS=1  skip only the slow pandas anchor
#   BENCH_SKIP_REPORTS=1      skip the reports benchmark (KPIs, dashboard endpoints, snapshots)
#   BENCH_SKIP_DUNNING=1      skip the dunning benchmark; BENCH_DUNNING_DELIVER=3000 messages per delivery run
#   BENCH_BROKER=redis://127.0.0.1:6379/13   the Redis database the dunning delivery's workers use
# Run nothing else heavy meanwhile: every figure is a wall-clock time.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY=${PYTHON:-$ROOT/.venv/bin/python}
RECOUP=$(dirname "$PY")/recoup

CUSTOMERS=${BENCH_CUSTOMERS:-100000}
INVOICES=${BENCH_INVOICES:-2000000}
SEED=${BENCH_SEED:-7}
DATA=${BENCH_DATA:-bench/data/c$CUSTOMERS-i$INVOICES-s$SEED}
PG=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
APP_DB=${BENCH_APP_DB:-recoup_bench_app}
ANCHOR_DB=${BENCH_ANCHOR_DB:-recoup_bench}
GEN=${BENCH_GENERATOR:-$ROOT/../shared/bench/gen_ledger.py}

mkdir -p bench/results
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
export BENCH_RESULTS=$ROOT/bench/results/$STAMP.jsonl
export BENCH_LOG=$ROOT/bench/results/$STAMP.log
export RECOUP_INSECURE_DEFAULTS=1 DEBUG=0
: >"$BENCH_RESULTS"

say() { printf '\n== %s\n' "$*" >&2; }
psql_admin() { psql "$PG/postgres" -v ON_ERROR_STOP=1 -qAt "$@"; }

say "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)," \
    "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
say "PostgreSQL: $(psql_admin -c 'SHOW server_version'); $("$PY" -V);" \
    "code: $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- recoup config 2>/dev/null || echo ' + uncommitted changes')"

if [[ ! -f $DATA/.done ]]; then
    say "generating $CUSTOMERS customers, $INVOICES invoices into $DATA"
    mkdir -p "$DATA"
    "$PY" "$GEN" "$DATA" --customers "$CUSTOMERS" --invoices "$INVOICES" --seed "$SEED" | tee "$DATA/counts.txt"
    touch "$DATA/.done"
fi
say "data: $DATA ($(cat "$DATA/counts.txt" 2>/dev/null || echo 'counts not recorded'))"

export DATABASE_URL=$PG/$APP_DB
if [[ -z ${BENCH_SKIP_IMPORT:-} ]]; then
    say "recreating $APP_DB and migrating"
    psql_admin -c "DROP DATABASE IF EXISTS $APP_DB" -c "CREATE DATABASE $APP_DB"
    "$RECOUP" migrate -v0
    say "import (first load into the empty database)"
    "$PY" -m bench.import_bench --data "$DATA" --label ours.import
    say "import again (the same files over the filled database: idempotent upsert)"
    "$PY" -m bench.import_bench --data "$DATA" --label ours.reimport
    psql "$DATABASE_URL" -qc "VACUUM (ANALYZE)"
fi
say "aging (in-process, project service and API)"
"$PY" -m bench.aging_bench

if [[ -z ${BENCH_SKIP_REPORTS:-} ]]; then
    say "reports (KPIs for four quarters, the dashboard's JSON endpoints, 36 month-end snapshots)"
    "$RECOUP" migrate -v0   # the reports tables, for a database imported before they existed
    "$PY" -m bench.reports_bench
fi

if [[ -z ${BENCH_SKIP_DUNNING:-} ]]; then
    say "dunning (planning, PDF statements, delivery by two Celery worker processes to aiosmtpd)"
    "$RECOUP" migrate -v0   # the dunning tables, for a database imported before they existed
    "$PY" -m bench.dunning_bench --deliver "${BENCH_DUNNING_DELIVER:-3000}"
fi

if [[ -z ${BENCH_SKIP_ANCHORS:-} ]]; then
    export BENCH_ANCHOR_DSN=$PG/$ANCHOR_DB
    say "anchors: recreating $ANCHOR_DB and loading plain tables"
    psql_admin -c "DROP DATABASE IF EXISTS $ANCHOR_DB" -c "CREATE DATABASE $ANCHOR_DB"
    "$PY" -m bench.anchors.setup_db --data "$DATA"
    "$PY" -m bench.anchors.copy_invoices --data "$DATA"
    "$PY" -m bench.anchors.aging_sql --variant maintained
    "$PY" -m bench.anchors.aging_sql --variant naive
    "$PY" -m bench.anchors.aging_sql --variant past --as-of 2025-11-23 --as-of 2026-05-23
    "$PY" -m bench.anchors.aging_duckdb --data "$DATA"
    if [[ -z ${BENCH_SKIP_PANDAS:-} ]]; then
        "$PY" -m bench.anchors.aging_pandas --data "$DATA" --repeat "${BENCH_PANDAS_REPEAT:-3}"
    fi
fi

say "summary ($BENCH_RESULTS)"
"$PY" -m bench.summary "$BENCH_RESULTS"
