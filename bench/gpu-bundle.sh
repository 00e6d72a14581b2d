#!/usr/bin/env bash
# packs what the GPU check needs into .device/app (git-ignored), small enough
# to carry to a GPU machine that has no node_modules and no network: the
# compiled CLI, the CUDA build of the addon, the bench scripts, and the
# runtime packages (the S3 client and the build tools stay behind: the check
# does not push or build).
#   npm run build:native && npm run build && bench/gpu-bundle.sh
set -euo pipefail
cd "$(dirname "$0")/.."
app=.device/app
addon=${ADDON:-build/Release/cudalab.node}
node -e "const i=require(process.argv[1]).buildInfo(); if(!i.backends.includes('cuda')){console.error('build/Release has no CUDA backend: run npm run build:native where nvcc 12.8+ is'); process.exit(1)}" "$PWD/$addon"
rm -rf "$app"
mkdir -p "$app/build/Release" "$app/node_modules"
cp -r bin dist bench experiments package.json "$app/"
rm -rf "$app/bench/results"
cp "$addon" "$app/build/Release/cudalab.node"
# the carry limit is tight: no host symbols, source maps or type declarations
strip --strip-unneeded "$app/build/Release/cudalab.node"
find "$app/dist" \( -name '*.map' -o -name '*.d.ts' \) -delete
# the production dependency closure, less what only builds or pushes
npm ls --omit=dev --parseable --all 2>/dev/null | tail -n +2 |
  grep -v -E 'node_modules/(@aws-sdk|@smithy|@aws-crypto|cmake-js|node-addon-api|fast-xml-parser|strnum|bowser)(/|$)' |
  while read -r dir; do
    rel=${dir#"$PWD/"}
    # nested node_modules come along inside their parent
    case "$rel" in node_modules/*/node_modules/*) continue ;; esac
    mkdir -p "$app/$(dirname "$rel")"
    cp -r "$dir" "$app/$rel"
  done
grep -qxF "/.device/" .git/info/exclude 2>/dev/null || echo "/.device/" >> .git/info/exclude
du -sh "$app"
