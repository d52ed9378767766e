// Package generic drives any gRPC method without generated stubs: the
// method is resolved from server reflection, .proto files (compiled in
// process) or a protoset; requests are built from templates as dynamic
// messages and sent through ClientConn.NewStream; every response is
// checked against the call's expectations, so the reference oracles —
// premature EOF, gaps, duplicates, wrong values, latency — apply to a
// service nobody here wrote. It is the RPC catalog's generic entry (RPC).
package generic

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/bufbuild/protocompile"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	refv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// Source says where a method's descriptors come from: .proto files with
// import paths, a protoset, or (neither) the target's server reflection.
// Relative paths are taken from Dir.
type Source struct {
	Proto       []string
	ImportPaths []string
	Protoset    string
	Dir         string
}

// Reflection reports whether the method is resolved from the server.
func (s Source) Reflection() bool { return len(s.Proto) == 0 && s.Protoset == "" }

// SplitMethod reads "package.Service/Method" (or "package.Service.Method",
// as ghz also accepts) into the service's and the method's names.
func SplitMethod(call string) (service protoreflect.FullName, method protoreflect.Name, err error) {
	svc, m, ok := strings.Cut(call, "/")
	if !ok {
		i := strings.LastIndex(call, ".")
		if i < 0 {
			return "", "", fmt.Errorf("%q is not package.Service/Method", call)
		}
		svc, m = call[:i], call[i+1:]
	}
	service, method = protoreflect.FullName(svc), protoreflect.Name(m)
	if !service.IsValid() || !method.IsValid() || strings.Contains(m, "/") {
		return "", "", fmt.Errorf("%q is not package.Service/Method", call)
	}
	return service, method, nil
}

// Resolve finds the method call names in the source's descriptors; cc is
// used for server reflection only.
func Resolve(ctx context.Context, src Source, call string, cc grpc.ClientConnInterface) (protoreflect.MethodDescriptor, error) {
	service, method, err := SplitMethod(call)
	if err != nil {
		return nil, err
	}
	var files interface {
		FindDescriptorByName(protoreflect.FullName) (protoreflect.Descriptor, error)
	}
	switch {
	case len(src.Proto) > 0:
		files, err = compileProtos(ctx, src)
	case src.Protoset != "":
		files, err = readProtoset(src.path(src.Protoset))
	default:
		files, err = fromReflection(ctx, cc, string(service))
	}
	if err != nil {
		return nil, err
	}
	d, err := files.FindDescriptorByName(service)
	if err != nil {
		return nil, &NotFoundError{fmt.Sprintf("service %s: not found in %s", service, src.what())}
	}
	sd, ok := d.(protoreflect.ServiceDescriptor)
	if !ok {
		return nil, &NotFoundError{fmt.Sprintf("%s is not a service", service)}
	}
	md := sd.Methods().ByName(method)
	if md == nil {
		var names []string
		for i := range sd.Methods().Len() {
			names = append(names, string(sd.Methods().Get(i).Name()))
		}
		return nil, &NotFoundError{fmt.Sprintf("service %s has no method %s; its methods: %s", service, method, strings.Join(names, ", "))}
	}
	return md, nil
}

// NotFoundError says the service or method is not in the descriptors: the
// scenario's mistake, not the target's.
type NotFoundError struct{ msg string }

func (e *NotFoundError) Error() string { return e.msg }

func (s Source) what() string {
	switch {
	case len(s.Proto) > 0:
		return strings.Join(s.Proto, ", ")
	case s.Protoset != "":
		return s.Protoset
	}
	return "the target's server reflection"
}

func (s Source) path(p string) string {
	if filepath.IsAbs(p) || s.Dir == "" {
		return p
	}
	return filepath.Join(s.Dir, p)
}

// compileProtos compiles the source's .proto files in process.
func compileProtos(ctx context.Context, src Source) (resolver, error) {
	paths := make([]string, 0, len(src.ImportPaths)+1)
	for _, p := range src.ImportPaths {
		paths = append(paths, src.path(p))
	}
	if len(paths) == 0 {
		paths = append(paths, src.path("."))
	}
	// A file is found from the scenario's folder, or else under an import
	// path; it is then named relative to the import path it is under (as
	// protoc wants), and one under none brings its own folder as one.
	names := make([]string, len(src.Proto))
	for i, f := range src.Proto {
		full := src.path(f)
		if _, err := os.Stat(full); err != nil && !filepath.IsAbs(f) {
			// As protoc takes them: relative to an import path.
			for _, ip := range paths {
				if _, err := os.Stat(filepath.Join(ip, f)); err == nil {
					full = filepath.Join(ip, f)
					break
				}
			}
		}
		names[i] = ""
		for _, ip := range paths {
			if rel, err := filepath.Rel(ip, full); err == nil && !strings.HasPrefix(rel, "..") {
				names[i] = filepath.ToSlash(rel)
				break
			}
		}
		if names[i] == "" {
			paths = append(paths, filepath.Dir(full))
			names[i] = filepath.Base(full)
		}
	}
	c := protocompile.Compiler{Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{ImportPaths: paths})}
	files, err := c.Compile(ctx, names...)
	if err != nil {
		return nil, fmt.Errorf("compile %s: %w", strings.Join(src.Proto, ", "), err)
	}
	// protocompile's descriptors answer reflection questions (a field's
	// kind, presence) several times slower than protobuf's own, which the
	// dynamic messages ask on every field of every message: rebuild them
	// as protobuf's.
	set := &descriptorpb.FileDescriptorSet{}
	seen := map[string]bool{}
	var add func(f protoreflect.FileDescriptor)
	add = func(f protoreflect.FileDescriptor) {
		if seen[f.Path()] {
			return
		}
		seen[f.Path()] = true
		imps := f.Imports()
		for i := range imps.Len() {
			add(imps.Get(i).FileDescriptor)
		}
		set.File = append(set.File, protodesc.ToFileDescriptorProto(f))
	}
	for _, f := range files {
		add(f)
	}
	std, err := protodesc.NewFiles(set)
	if err != nil {
		return nil, fmt.Errorf("compile %s: %w", strings.Join(src.Proto, ", "), err)
	}
	return std, nil
}

// resolver finds descriptors by name.
type resolver interface {
	FindDescriptorByName(protoreflect.FullName) (protoreflect.Descriptor, error)
}

// readProtoset reads a compiled FileDescriptorSet (protoc -o, buf build -o).
func readProtoset(path string) (resolver, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("protoset: %w", err)
	}
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(b, &set); err != nil {
		return nil, fmt.Errorf("protoset %s: %w", path, err)
	}
	files, err := protodesc.NewFiles(&set)
	if err != nil {
		return nil, fmt.Errorf("protoset %s: %w", path, err)
	}
	return files, nil
}

// Server reflection's two services: v1, and v1alpha for older servers.
// Their messages are the same on the wire, so v1's types serve both.
const (
	reflectionV1      = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
	reflectionV1alpha = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
)

// fromReflection asks the server for the file that declares symbol and
// every file it imports: reflection v1, then v1alpha.
func fromReflection(ctx context.Context, cc grpc.ClientConnInterface, symbol string) (resolver, error) {
	protos, err := askReflection(ctx, cc, reflectionV1, symbol)
	if status.Code(err) == codes.Unimplemented {
		protos, err = askReflection(ctx, cc, reflectionV1alpha, symbol)
	}
	var missing *MissingFileError
	if errors.As(err, &missing) {
		// Before the NotFound below: the server's answer for the
		// missing file is a NotFound too, but the service is known.
		return nil, err
	}
	if status.Code(err) == codes.NotFound {
		return nil, &NotFoundError{fmt.Sprintf("service %s: the server's reflection does not know it", symbol)}
	}
	if err != nil {
		return nil, fmt.Errorf("server reflection: %w", err)
	}
	files, err := protodesc.NewFiles(&descriptorpb.FileDescriptorSet{File: protos})
	if err != nil {
		return nil, fmt.Errorf("server reflection: %w", err)
	}
	return files, nil
}

// askReflection fetches symbol's file and its imports over the reflection
// service at method.
func askReflection(ctx context.Context, cc grpc.ClientConnInterface, method, symbol string) ([]*descriptorpb.FileDescriptorProto, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := cc.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, method)
	if err != nil {
		return nil, err
	}
	ask := func(req *refv1.ServerReflectionRequest) (*refv1.ServerReflectionResponse, error) {
		var res refv1.ServerReflectionResponse
		if err := st.SendMsg(req); err != nil {
			// io.EOF: the server already ended the stream (a server
			// without this service answers Unimplemented at once, and
			// the send can come after); its status is RecvMsg's.
			if errors.Is(err, io.EOF) {
				if rerr := st.RecvMsg(&res); rerr != nil {
					return nil, rerr
				}
			}
			return nil, err
		}
		if err := st.RecvMsg(&res); err != nil {
			return nil, err
		}
		if e := res.GetErrorResponse(); e != nil {
			return nil, status.Error(codes.Code(e.GetErrorCode()), e.GetErrorMessage())
		}
		return &res, nil
	}
	askFiles := func(req *refv1.ServerReflectionRequest) ([][]byte, error) {
		res, err := ask(req)
		return res.GetFileDescriptorResponse().GetFileDescriptorProto(), err
	}
	files, err := fetchFiles(symbol,
		func(s string) ([][]byte, error) {
			return askFiles(&refv1.ServerReflectionRequest{MessageRequest: &refv1.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: s}})
		},
		func(f string) ([][]byte, error) {
			return askFiles(&refv1.ServerReflectionRequest{MessageRequest: &refv1.ServerReflectionRequest_FileByFilename{FileByFilename: f}})
		})
	var missing *MissingFileError
	if errors.As(err, &missing) {
		// Whether the server lists the service tells its owner where
		// to look: a service registered whose descriptors were built
		// without one of their files.
		res, lerr := ask(&refv1.ServerReflectionRequest{MessageRequest: &refv1.ServerReflectionRequest_ListServices{ListServices: "*"}})
		if lerr == nil {
			missing.Listing = ListedNo
			for _, s := range res.GetListServicesResponse().GetService() {
				if s.GetName() == symbol {
					missing.Listing = ListedYes
				}
			}
		}
	}
	return files, err
}

// Listing says whether the server's reflection lists a service.
type Listing int

// A service's listing: not asked or no answer, listed, not listed.
const (
	ListedUnknown Listing = iota
	ListedYes
	ListedNo
)

// MissingFileError says the server's reflection gave the file declaring
// a service but not a file that file needs (directly or through another
// import): the server's descriptors are incomplete, which is the
// target's problem, not the scenario's, and .proto files or a protoset
// get past it.
type MissingFileError struct {
	Service    string  // the service asked for
	File       string  // the file the server's reflection does not have
	ImportedBy string  // the file that imports it
	Listing    Listing // whether the server lists Service
	Err        error   // the server's answer when asked for File
}

func (e *MissingFileError) Error() string {
	var listed string
	switch e.Listing {
	case ListedYes:
		listed = " is listed by the server's reflection"
	case ListedNo:
		listed = " is not listed by the server's reflection, which has its file all the same"
	}
	answer := "it did not send it"
	if e.Err != nil {
		answer = e.Err.Error()
	}
	return fmt.Sprintf("service %s%s, but its descriptors are incomplete: %s imports %s, which the server's reflection does not have (%s); "+
		"give the method's .proto files or a protoset instead (call.proto or call.protoset; --proto or --protoset)",
		e.Service, listed, e.ImportedBy, e.File, answer)
}

func (e *MissingFileError) Unwrap() error { return e.Err }

// maxReflectedFiles bounds how many files reflection may bring.
const maxReflectedFiles = 1000

// fetchFiles gathers the file declaring symbol and, transitively, the
// files it imports (well-known ones come from this binary).
func fetchFiles(symbol string, bySymbol, byName func(string) ([][]byte, error)) ([]*descriptorpb.FileDescriptorProto, error) {
	have := map[string]*descriptorpb.FileDescriptorProto{}
	var order []string
	add := func(raw [][]byte) error {
		for _, b := range raw {
			var fd descriptorpb.FileDescriptorProto
			if err := proto.Unmarshal(b, &fd); err != nil {
				return fmt.Errorf("a file descriptor: %w", err)
			}
			if _, ok := have[fd.GetName()]; !ok {
				have[fd.GetName()] = &fd
				order = append(order, fd.GetName())
			}
		}
		return nil
	}
	raw, err := bySymbol(symbol)
	if err != nil {
		return nil, err
	}
	if err := add(raw); err != nil {
		return nil, err
	}
	for i := 0; i < len(order); i++ {
		if len(order) > maxReflectedFiles {
			return nil, fmt.Errorf("more than %d files", maxReflectedFiles)
		}
		for _, dep := range have[order[i]].GetDependency() {
			if _, ok := have[dep]; ok {
				continue
			}
			if fd, err := protoregistry.GlobalFiles.FindFileByPath(dep); err == nil {
				have[dep] = protodesc.ToFileDescriptorProto(fd)
				order = append(order, dep)
				continue
			}
			raw, err := byName(dep)
			if status.Code(err) == codes.NotFound {
				return nil, &MissingFileError{Service: symbol, File: dep, ImportedBy: order[i], Err: err}
			}
			if err != nil && !errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("file %s: %w", dep, err)
			}
			if err := add(raw); err != nil {
				return nil, err
			}
			if _, ok := have[dep]; !ok {
				return nil, &MissingFileError{Service: symbol, File: dep, ImportedBy: order[i]}
			}
		}
	}
	out := make([]*descriptorpb.FileDescriptorProto, 0, len(order))
	for _, n := range order {
		out = append(out, have[n])
	}
	return out, nil
}
