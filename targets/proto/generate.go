// Package streambenchpb holds the reference protocol spoken by streambench's
// built-in targets and drivers: the Longlived feed and the Math service.
//
// The generated files are committed, so building never needs protoc. To
// regenerate after editing streambench.proto, install the tools named below
// (versions pinned so the output is reproducible) and run `go generate`:
//
//	apt-get install protobuf-compiler                                   # protoc 3.21.12 (Debian 12)
//	go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.11
//	go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
package streambenchpb

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative streambench.proto
