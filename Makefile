# Parley. `make run` starts a single-node contact center on embedded defaults;
# `make test` installs what the tests need and runs them all.
GO ?= go
BIN := bin/parley

.PHONY: build run test vet bench generate fuzz cluster clean

build:
	$(GO) build -o $(BIN) ./cmd/parley

run:
	deploy/install-deps.sh run
	$(GO) run ./cmd/parley serve

test:
	deploy/test.sh

vet:
	gofmt -l $$(git ls-files '*.go')
	$(GO) vet ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# Regenerates the protobuf and grain code in actors/ (needs protoc and the
# plugins named in actors/generate.go).
generate:
	$(GO) generate ./...

# A local three-node cluster on loopback (see deploy/cluster.sh).
cluster: build
	deploy/cluster.sh

clean:
	rm -rf bin
