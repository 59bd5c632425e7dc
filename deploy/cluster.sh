#!/usr/bin/env bash
# Starts three `parley serve` members on loopback as one cluster, sharing one
# store, and stops them all on Ctrl-C.
#
#   deploy/cluster.sh [automanaged|etcd]
#
# Member i (1..3) serves HTTP on 127.0.0.1:808i and SIP on 127.0.0.1:506i.
# PARLEY_DB names the shared store (default: a PostgreSQL database
# parley_cluster on 127.0.0.1:5432, created if missing). With etcd, an etcd
# server is started on 127.0.0.1:23790 with a temporary data dir.
set -euo pipefail
cd "$(dirname "$0")/.."
provider=${1:-automanaged}
bin=${PARLEY_BIN:-bin/parley}
[ -x "$bin" ] || go build -o "$bin" ./cmd/parley

db=${PARLEY_DB:-postgres://postgres@127.0.0.1:5432/parley_cluster?sslmode=disable}
if [[ "$db" == postgres://* ]] && [ -z "${PARLEY_DB:-}" ]; then
  psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='parley_cluster'" | grep -q 1 ||
    psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE parley_cluster" >/dev/null
fi

work=$(mktemp -d -t parley-cluster.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

cluster_flags=()
case "$provider" in
  automanaged)
    seeds=127.0.0.1:6331,127.0.0.1:6332,127.0.0.1:6333
    ;;
  etcd)
    etcd --name parley-etcd --data-dir "$work/etcd" \
      --listen-client-urls http://127.0.0.1:23790 --advertise-client-urls http://127.0.0.1:23790 \
      --listen-peer-urls http://127.0.0.1:23800 --initial-advertise-peer-urls http://127.0.0.1:23800 \
      --initial-cluster parley-etcd=http://127.0.0.1:23800 >"$work/etcd.log" 2>&1 &
    pids+=($!)
    cluster_flags=(--etcd-endpoints 127.0.0.1:23790)
    ;;
  *) echo "usage: $0 [automanaged|etcd]" >&2; exit 2 ;;
esac

for i in 1 2 3; do
  flags=(--cluster-provider "$provider" --cluster-name parley-local
    --http-addr "127.0.0.1:808$i" --sip-addr "127.0.0.1:506$i"
    --cluster-addr "127.0.0.1:1209$i" --data-dir "$work/node$i" --db "$db")
  if [ "$provider" = automanaged ]; then
    flags+=(--automanaged-addr "127.0.0.1:633$i" --automanaged-seeds "$seeds")
  fi
  "$bin" serve "${flags[@]}" "${cluster_flags[@]}" >"$work/node$i.log" 2>&1 &
  pids+=($!)
  echo "member $i: pid $! http://127.0.0.1:808$i  sip:127.0.0.1:506$i  log $work/node$i.log"
done

for i in 1 2 3; do
  for _ in $(seq 1 60); do
    curl -fsS "http://127.0.0.1:808$i/readyz" >/dev/null 2>&1 && break
    sleep 0.5
  done
  curl -fsS "http://127.0.0.1:808$i/readyz" >/dev/null || { echo "member $i not ready; see $work/node$i.log" >&2; tail -20 "$work/node$i.log" >&2; exit 1; }
done
echo "cluster up ($provider). Ctrl-C stops it."
wait
