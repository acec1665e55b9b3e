#!/usr/bin/env bash
# `cmake --install` into a DESTDIR yields the layout Debian expects, the
# installed unit passes `systemd-analyze verify`, the sysusers entry parses,
# and the installed recd accepts the installed config.
#   usage: install_test.sh BUILD_DIR
set -uo pipefail
BUILD=$1
fail() { echo "FAIL: $*"; exit 1; }
for tool in systemd-analyze systemd-sysusers; do
  command -v "$tool" >/dev/null || fail "$tool is missing: run scripts/setup.sh (Debian package systemd)"
done
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$BUILD/CMakeCache.txt")
[ "$prefix" = /usr ] || fail "the build's install prefix is '$prefix'; the Debian layout needs /usr (scripts/build.sh's default)"
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
DESTDIR=$root cmake --install "$BUILD" >"$root.log" 2>&1 || { cat "$root.log"; rm -f "$root.log"; fail "cmake --install"; }
rm -f "$root.log"

for f in usr/bin/recd usr/bin/recctl usr/bin/rectrain; do
  [ -x "$root/$f" ] || fail "/$f is missing or not executable"
done
for f in etc/recd/recd.toml usr/lib/systemd/system/recd.service usr/lib/sysusers.d/recd.conf \
         usr/lib/tmpfiles.d/recd.conf usr/share/doc/recd/README.md; do
  [ -s "$root/$f" ] || fail "/$f is missing"
done
unexpected=$(cd "$root" && find . -type f | grep -v -e '^./usr/bin/' -e '^./etc/recd/' -e '^./usr/lib/systemd/system/' \
  -e '^./usr/lib/sysusers.d/' -e '^./usr/lib/tmpfiles.d/' -e '^./usr/share/doc/recd/' || true)
[ -z "$unexpected" ] || fail "files outside the layout: $unexpected"

unit="$root/usr/lib/systemd/system/recd.service"
grep -qx 'ExecStart=/usr/bin/recd --config /etc/recd/recd.toml' "$unit" || fail "the unit does not start /usr/bin/recd: $(grep ^ExecStart "$unit")"
# The staged root stands for a Debian system: it has kill (procps), which ExecReload runs.
mkdir -p "$root/bin" && cp "$(type -P kill)" "$root/bin/kill" || fail "no kill executable (Debian package procps)"
# --recursive-errors=no: the staged root has no sysinit.target; the unit's own
# directives and the executable's presence are what is checked.
out=$(systemd-analyze verify --man=no --recursive-errors=no --root="$root" /usr/lib/systemd/system/recd.service 2>&1) ||
  fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify warned: $out"
out=$(systemd-sysusers --root="$root" --dry-run 2>&1) || fail "systemd-sysusers: $out"
grep -q "recd" <<<"$out" || fail "systemd-sysusers would not create the recd user: $out"
grep -qx 'd /var/lib/recd 0750 recd recd -' "$root/usr/lib/tmpfiles.d/recd.conf" || fail "the tmpfiles entry does not create /var/lib/recd"
out=$("$root/usr/bin/recd" -c "$root/etc/recd/recd.toml" --check-config 2>&1) || fail "the installed config is refused: $out"
# A reinstall keeps the operator's config.
echo "# edited by the operator" >>"$root/etc/recd/recd.toml"
DESTDIR=$root cmake --install "$BUILD" >/dev/null 2>&1 || fail "cmake --install again"
grep -q "edited by the operator" "$root/etc/recd/recd.toml" || fail "a reinstall overwrote /etc/recd/recd.toml"
echo "install layout: OK"
