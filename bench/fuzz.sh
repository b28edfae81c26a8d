#!/usr/bin/env bash
# Fuzz Passage's readers with atheris, one harness after another (fuzz/fuzz_*.py).
#
#   bench/fuzz.sh                 # every harness, 10 minutes each
#   bench/fuzz.sh 60              # every harness, 60 seconds each
#   bench/fuzz.sh 300 csv json    # only fuzz/fuzz_csv.py and fuzz/fuzz_json.py, 5 minutes each
#
# A crash is an uncaught exception (anything but Passage's coded errors: see fuzz/_harness.py), a hang past
# TIMEOUT seconds on one input, or memory past RSS_MB. Each harness's corpus grows in $FUZZ_DIR/corpus-NAME
# (seeded from the repository's own small inputs on the first run) and its crashing inputs land in
# $FUZZ_DIR/crash-NAME-*; the log of each run is $FUZZ_DIR/NAME.log. Exit status: the number of harnesses
# that crashed (0: no crash).
set -u
cd "$(dirname "$0")/.."
SECONDS_EACH="${1:-600}"
shift || true
TIMEOUT="${TIMEOUT:-20}"
RSS_MB="${RSS_MB:-3072}"
FUZZ_DIR="${FUZZ_DIR:-${TMPDIR:-/tmp}/passage-fuzz}"
PYTHON="${PYTHON:-.venv/bin/python}"
if [ "$#" -gt 0 ]; then
  NAMES=("$@")
else
  NAMES=()
  for f in fuzz/fuzz_*.py; do n="${f#fuzz/fuzz_}"; NAMES+=("${n%.py}"); done
fi
mkdir -p "$FUZZ_DIR"
failed=0
for name in "${NAMES[@]}"; do
  corpus="$FUZZ_DIR/corpus-$name"
  log="$FUZZ_DIR/$name.log"
  mkdir -p "$corpus"
  "$PYTHON" "fuzz/fuzz_$name.py" -max_total_time="$SECONDS_EACH" -timeout="$TIMEOUT" -rss_limit_mb="$RSS_MB" \
    -max_len=65536 -artifact_prefix="$FUZZ_DIR/crash-$name-" -print_final_stats=1 "$corpus" >"$log" 2>&1
  status=$?
  runs=$(grep -o 'Done [0-9]* runs' "$log" | tail -1)
  if [ "$status" -eq 0 ]; then
    echo "fuzz_$name: no crash in ${SECONDS_EACH}s (${runs:-no runs counted}); corpus $(ls "$corpus" | wc -l) inputs"
  else
    failed=$((failed + 1))
    echo "fuzz_$name: CRASH (exit $status): see $log and $FUZZ_DIR/crash-$name-*"
    grep -A3 'Uncaught Python exception\|ERROR: libFuzzer' "$log" | head -8
  fi
done
exit "$failed"
