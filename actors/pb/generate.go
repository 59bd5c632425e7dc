// Package pb holds the protobuf messages and generated grain code of Parley's
// actor cluster.
//
// Regenerate with `go generate ./actors/...`. It needs protoc (Debian
// protobuf-compiler) and two plugins on PATH:
//
//	go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.11
//	go install github.com/asynkron/protoactor-go/protobuf/protoc-gen-go-grain@v0.0.0-20240822202345-3c0e61ca19c9
package pb

//go:generate protoc -I. --go_out=. --go_opt=paths=source_relative --go-grain_out=. --go-grain_opt=paths=source_relative grains.proto
