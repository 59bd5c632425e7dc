// Package pb holds the protobuf messages and the protoc-gen-go-grain code of
// Parley's actor cluster. grains.proto is the source; ../generate.go
// regenerates the Go files.
package pb
