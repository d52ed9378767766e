package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
)

// The anchors: what the same second hop costs when it is not
// streambench's. A proxy that understands gRPC must end one HTTP/2
// connection and begin another, so the textbook plain grpc-go pass-through
// proxy (the shape of github.com/mwitkow/grpc-proxy: UnknownServiceHandler,
// a []byte codec, one goroutine per direction) is the physical anchor for
// harness/proxy; a TCP relay (io.Copy both ways, no HTTP/2 at all) is the
// floor of any second hop on this machine.

// rawCodec moves messages as byte slices, as the textbook proxy does.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) {
	b, ok := v.(*[]byte)
	if !ok {
		return nil, fmt.Errorf("anchor codec: cannot marshal %T", v)
	}
	return *b, nil
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	b, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("anchor codec: cannot unmarshal into %T", v)
	}
	*b = append((*b)[:0], data...)
	return nil
}

func (rawCodec) Name() string { return "proto" }

// startGRPCAnchor starts the textbook pass-through proxy in front of
// upstream and returns its address and a stop function.
func startGRPCAnchor(upstream string) (string, func(), error) {
	cc, err := grpc.NewClient("passthrough:///"+upstream,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{})))
	if err != nil {
		return "", nil, err
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cc.Close()
		return "", nil, err
	}
	desc := &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}
	srv := grpc.NewServer(grpc.ForceServerCodec(rawCodec{}),
		grpc.UnknownServiceHandler(func(_ any, ss grpc.ServerStream) error {
			method, _ := grpc.MethodFromServerStream(ss)
			md, _ := metadata.FromIncomingContext(ss.Context())
			ctx, cancel := context.WithCancel(metadata.NewOutgoingContext(ss.Context(), md.Copy()))
			defer cancel()
			cs, err := cc.NewStream(ctx, desc, method)
			if err != nil {
				return err
			}
			up := make(chan error, 1)
			go func() {
				for {
					var b []byte
					if err := ss.RecvMsg(&b); err != nil {
						if err == io.EOF {
							up <- cs.CloseSend()
						} else {
							cancel()
							up <- err
						}
						return
					}
					if err := cs.SendMsg(&b); err != nil {
						up <- nil // the upstream's status comes from RecvMsg
						return
					}
				}
			}()
			if hdr, err := cs.Header(); err == nil {
				if err := ss.SendHeader(hdr); err != nil {
					return err
				}
			}
			for {
				var b []byte
				if err := cs.RecvMsg(&b); err != nil {
					ss.SetTrailer(cs.Trailer())
					if err == io.EOF {
						return nil
					}
					return err
				}
				if err := ss.SendMsg(&b); err != nil {
					return err
				}
			}
		}))
	go func() { _ = srv.Serve(lis) }()
	return lis.Addr().String(), func() { srv.Stop(); cc.Close() }, nil
}

// startTCPRelay starts a relay that copies bytes both ways between each
// accepted connection and a new one to upstream.
func startTCPRelay(upstream string) (string, func(), error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	track := func(c net.Conn) {
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			down, err := lis.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", upstream)
			if err != nil {
				down.Close()
				continue
			}
			track(down)
			track(up)
			for _, pair := range [][2]net.Conn{{up, down}, {down, up}} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, _ = io.Copy(pair[0], pair[1])
					pair[0].Close()
					pair[1].Close()
				}()
			}
		}
	}()
	stop := func() {
		lis.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	}
	return lis.Addr().String(), stop, nil
}
