#!/usr/bin/env bash
# Installs the Debian packages Parley needs and starts the services its tests
# use. Idempotent: packages already installed and services already up are left
# alone.
#   deploy/install-deps.sh run    what `parley serve` needs (speech engines)
#   deploy/install-deps.sh test   the above plus the real peers and services the tests drive
set -euo pipefail
mode=${1:-run}

run_pkgs=(flite flite1-dev libpocketsphinx-dev libsphinxbase-dev pocketsphinx-en-us pkg-config)
test_pkgs=(etcd-server sip-tester baresip chromium chromium-driver sox postgresql tcpdump)

pkgs=("${run_pkgs[@]}")
[ "$mode" = test ] && pkgs+=("${test_pkgs[@]}")

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  echo "install-deps: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "$mode" = test ]; then
  # PostgreSQL for the store suite and the scale-out tests.
  if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    ver=$(ls /etc/postgresql | sort -V | tail -n 1)
    echo "install-deps: starting PostgreSQL $ver"
    pg_ctlcluster --skip-systemctl-redirect "$ver" main start
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  fi
  pg_isready -h 127.0.0.1 -p 5432
  # The tests expect a database "test" reachable as postgres without a password.
  psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='test'" | grep -q 1 ||
    psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE test" >/dev/null
fi
