package main

import (
	"fmt"
	"os"
	"path"

	"google.golang.org/grpc"
	"google.golang.org/grpc/reflection"
	refv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	refv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	// rpc.proto's Go package registers etcdserverpb's files.
	_ "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// rootFile is the file declaring etcd's KV, Watch and the other services
// as Go's registry knows it.
const rootFile = "rpc.proto"

// fixedSet is rpc.proto and every file it imports, from Go's registry,
// with each file named as its importers import it. etcd's Go packages
// register kv.proto, auth.proto and version.proto under their bare names
// while rpc.proto imports them as etcd/api/mvccpb/kv.proto (and so on), so
// a reflection client asking for an import by name gets NotFound and
// cannot build Watch's types; renamed, the set is whole.
func fixedSet() (*descriptorpb.FileDescriptorSet, error) {
	set := &descriptorpb.FileDescriptorSet{}
	seen := map[string]bool{}
	var add func(name string) error
	add = func(name string) error {
		if seen[name] {
			return nil
		}
		seen[name] = true
		fd, err := protoregistry.GlobalFiles.FindFileByPath(name)
		if err != nil {
			// Registered under its base name (kv.proto).
			if fd, err = protoregistry.GlobalFiles.FindFileByPath(path.Base(name)); err != nil {
				return fmt.Errorf("descriptor %s: not in the Go registry under that name or %s", name, path.Base(name))
			}
		}
		fp := protodesc.ToFileDescriptorProto(fd)
		fp.Name = proto.String(name)
		for _, dep := range fp.GetDependency() {
			if err := add(dep); err != nil {
				return err
			}
		}
		set.File = append(set.File, fp) // dependencies first
		return nil
	}
	if err := add(rootFile); err != nil {
		return nil, err
	}
	return set, nil
}

// fixedFiles is fixedSet as a resolver.
func fixedFiles() (*protoregistry.Files, error) {
	set, err := fixedSet()
	if err != nil {
		return nil, err
	}
	files, err := protodesc.NewFiles(set)
	if err != nil {
		return nil, fmt.Errorf("etcd's descriptors: %w", err)
	}
	return files, nil
}

// registerReflection serves server reflection (v1 and v1alpha) on s from
// files instead of Go's registry.
func registerReflection(s *grpc.Server, files *protoregistry.Files) {
	opts := reflection.ServerOptions{Services: s, DescriptorResolver: files, ExtensionResolver: protoregistry.GlobalTypes}
	refv1.RegisterServerReflectionServer(s, reflection.NewServerV1(opts))
	refv1alpha.RegisterServerReflectionServer(s, reflection.NewServer(opts))
}

// writeProtoset writes fixedSet to file (for call.protoset).
func writeProtoset(file string) error {
	set, err := fixedSet()
	if err != nil {
		return err
	}
	b, err := proto.Marshal(set)
	if err != nil {
		return err
	}
	return os.WriteFile(file, b, 0o644)
}
