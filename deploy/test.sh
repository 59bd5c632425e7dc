#!/usr/bin/env bash
# The whole test run: installs what the tests need, then format, vet, the race
# detector over every package, and a bounded fuzz run of every fuzz target.
set -euo pipefail
cd "$(dirname "$0")/.."

deploy/install-deps.sh test

unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
go vet ./...

# Public data for end-to-end tests lives beside the repository when present.
if [ -z "${PARLEY_DATA:-}" ] && [ -d ../shared/data ]; then
  export PARLEY_DATA=$(cd ../shared/data && pwd)
fi

go test -race -count=1 -timeout 60m ./...

# Each fuzz target for a bounded time (FUZZTIME, default 10s).
fuzztime=${FUZZTIME:-10s}
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //'); do
    echo "fuzz $pkg $target for $fuzztime"
    # A failure is retried once: a real crasher is saved under testdata/fuzz
    # and fails the retry at once as a seed, while Go's fuzz coordinator
    # sometimes dies on its own deadline (golang/go#75804, fixed in Go 1.27).
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" >/tmp/parley-fuzz.log 2>&1 ||
      go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" >/tmp/parley-fuzz.log 2>&1 ||
      { tail -40 /tmp/parley-fuzz.log; echo "fuzz target $target in $pkg failed"; exit 1; }
  done
done
echo "all tests passed"
