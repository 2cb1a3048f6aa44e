#!/usr/bin/env bash
# The edge-anomaly example on the local fleet: start it with `npm start` in another terminal,
# then run `examples/edge-anomaly/run.sh` from the repository (MB=25 by default: megabytes of
# readings per site). It generates each edge site's readings on that site's node, runs the
# edge-first pipeline (map at each site, reduce in Dublin) and the centralized one (everything
# to Dublin), checks both found the same anomalies, and prints the bytes each moved across sites.
set -euo pipefail
cd "$(dirname "$0")/../.."
atoll() { node bin/atoll.js "$@"; }
dir="$PWD/examples/edge-anomaly"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mb="${MB:-25}"

atoll policy apply examples/policies/gdpr.yaml >/dev/null
# site partition, node, residency class ('-' for none: Austin's readings are not EU personal data)
for entry in paris:edge-paris-shop-11:eu-personal berlin:edge-berlin-shop-3:eu-personal austin:edge-austin-shop-7:-; do
  IFS=: read -r site node class <<<"$entry"
  # The readings are born on the site's box: generated there, then registered where they are.
  node "$dir/generate.mjs" "$site" "$mb" "$work/$site.csv"
  class_flag=(); [ "$class" != - ] && class_flag=(--class "$class")
  atoll data register "$work/$site.csv" --dataset readings --partition "$site" --node "$node" "${class_flag[@]}" >/dev/null
  echo "registered $mb MB of readings at $node"
done

run() {
  sed "s|@DIR@|$dir|" "$dir/$1.yaml" > "$work/$1.yaml"
  atoll run "$work/$1.yaml" --wait -o json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);if(j.state!=="succeeded"){console.error(`job ${j.id} ${j.state}: ${j.reason}`);process.exit(1)}console.log(j.id)})'
}
# Bytes a job moved between sites, regions or providers (same-site moves do not count).
across_sites() {
  atoll job "$1" --transfers -o json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const t=JSON.parse(s).transfers;console.log(t.bytes-t.byRoute["same-site"])})'
}
# What a job cost, from the price book: total, and the part that was moving data.
cost_of() {
  atoll job "$1" -o json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const c=JSON.parse(s).cost;console.log(`$${c.total.toFixed(6)} ($${c.transfer.toFixed(6)} of it moving data)`)})'
}
# The task that prints a job's result: the first task of its last stage.
result_task() {
  atoll job "$1" -o json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);console.log(`${j.id}.${j.stages.at(-1).firstTask}`)})'
}

edge=$(run edge-first); central=$(run central)
edge_result=$(result_task "$edge"); central_result=$(result_task "$central")
if ! diff <(atoll logs "$edge_result") <(atoll logs "$central_result") >/dev/null; then
  echo "the two pipelines disagree: compare \`atoll logs $edge_result\` and \`atoll logs $central_result\`" >&2
  exit 1
fi
edge_bytes=$(across_sites "$edge")
central_bytes=$(across_sites "$central")
echo
atoll logs "$edge_result" | head -2
echo "same anomalies found both ways"
echo "edge-first:  $edge_bytes bytes across sites, cost $(cost_of "$edge") (job $edge)"
echo "centralized: $central_bytes bytes across sites, cost $(cost_of "$central") (job $central)"
node -e "console.log('ratio: ' + ($central_bytes / Math.max(1, $edge_bytes)).toFixed(0) + 'x fewer bytes edge-first')"
