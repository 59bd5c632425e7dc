package actors

// Regenerate the protobuf and grain code in pb/ with `go generate ./actors/...`
// (or `make generate`). It needs protoc (Debian protobuf-compiler 3.21) and
// two plugins on PATH, at the versions the module pins:
//
//	go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.11
//	go install github.com/asynkron/protoactor-go/protobuf/protoc-gen-go-grain@v0.0.0-20240822202345-3c0e61ca19c9

//go:generate protoc -I pb --go_out=pb --go_opt=paths=source_relative --go-grain_out=pb --go-grain_opt=paths=source_relative pb/grains.proto
