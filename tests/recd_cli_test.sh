#!/usr/bin/env bash
# recd's command line as systemd and operators use it: exit codes of the
# config checks (78 = EX_CONFIG, which the unit's ExecStartPre relies on), the
# environment's place between the file and --set, and --print-config.
#   usage: recd_cli_test.sh BUILD_DIR SOURCE_DIR
set -uo pipefail
RECD="$1/daemon/recd"
CONFIG="$2/config/recd.toml"
fail() { echo "FAIL: $*"; exit 1; }
# The caller's own RECD_<SECTION>__<KEY> variables would change what is checked.
while read -r name; do unset "$name"; done < <(compgen -e | grep '^RECD_.*__' || true)

expect_rc() {  # WANT DESCRIPTION CMD...
  local want=$1 what=$2; shift 2
  out=$("$@" 2>&1); rc=$?
  [ "$rc" -eq "$want" ] || fail "$what: exit $rc, want $want: $out"
}

expect_rc 0 "the shipped config" "$RECD" -c "$CONFIG" --check-config
expect_rc 78 "an unknown key" "$RECD" -c "$CONFIG" --set ranker.kk=3 --check-config
grep -q "did you mean k?" <<<"$out" || fail "no did-you-mean: $out"
expect_rc 78 "a wrong type" "$RECD" -c "$CONFIG" --set 'ranker.k="ten"' --check-config
expect_rc 78 "an out-of-range value from the environment" env RECD_PIPELINE__SHUTDOWN_TIMEOUT_MS=0 "$RECD" -c "$CONFIG" --check-config
grep -q "environment variable RECD_PIPELINE__SHUTDOWN_TIMEOUT_MS" <<<"$out" || fail "the variable is not named: $out"
expect_rc 78 "a missing file" "$RECD" -c /nonexistent/recd.toml --check-config
expect_rc 78 "a syntax error" "$RECD" -c <(printf '[ranker\nk = 1\n') --check-config

# Precedence: file (k = 20) < environment < --set.
expect_rc 0 "print" env RECD_RANKER__K=11 "$RECD" -c "$CONFIG" --print-config
grep -qx "k = 11  # environment variable RECD_RANKER__K" <<<"$out" || fail "the environment did not win over the file: $(grep '^k =' <<<"$out")"
expect_rc 0 "print" env RECD_RANKER__K=11 "$RECD" -c "$CONFIG" --set ranker.k=12 --print-config
grep -qx "k = 12  # --set ranker.k" <<<"$out" || fail "--set did not win over the environment"
echo "recd command line: OK"
