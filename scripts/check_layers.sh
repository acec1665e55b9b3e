#!/usr/bin/env bash
# The layering rules of DESIGN.md and each folder's README, checked: a folder may
# include only the folders listed for it (its own included). Exits 1 naming each
# offending include.
#   scripts/check_layers.sh [SOURCE_DIR]
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"
declare -A allowed=(
  [base]="base"
  [stream]="base stream"
  [store]="base store"
  [model]="base store model"
  [model/eval]="base model/eval"
  [model/rank]="base store model model/rank"
  [daemon]="base stream store model model/eval model/rank daemon"
  [tools]="base stream store model model/eval model/rank tools"
)
status=0
for folder in "${!allowed[@]}"; do
  # Files directly in the folder (sub-folders have rules of their own).
  while IFS= read -r file; do
    while IFS= read -r inc; do
      target=$(dirname "$inc")
      ok=0
      for a in ${allowed[$folder]}; do [ "$target" = "$a" ] && ok=1; done
      if [ $ok = 0 ]; then
        echo "layering: $file includes \"$inc\": $folder/ may include only ${allowed[$folder]// /, }" >&2
        status=1
      fi
    done < <(sed -n 's/^#include "\(\(base\|stream\|store\|model\|daemon\|tools\)\/[^"]*\)".*/\1/p' "$file")
  done < <(find "$folder" -maxdepth 1 -name '*.h' -o -maxdepth 1 -name '*.cpp')
done
[ $status = 0 ] && echo "layering: ok"
exit $status
