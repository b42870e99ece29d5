package runner

import (
	"context"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/cognito-authz/cognito-authz/internal/testkit"
)

// TestSilentConnectionsAreClosed: a connection to the gRPC port that sends nothing, and one that
// sends only the HTTP/2 preface, are closed by the service within handshakeTimeout; meanwhile a
// gRPC client that checks keeps its one connection across that bound, and an HTTP/2 connection
// past its handshake still has its PING (keepalive) answered.
func TestSilentConnectionsAreClosed(t *testing.T) {
	key := testkit.MustNewKey(t, "k1")
	jwks := newJWKSServer(t, key)
	r := startRunner(t, testConfig(jwks.URL))
	addr := r.GRPCAddr().String()
	token := key.Sign(t, accessClaims(jwks.URL+"/pool", clientID))

	var dials atomic.Int32
	client, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			dials.Add(1)
			return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	testkit.Eventually(t, "ready", r.Ready)
	if got := authStatus(check(t, client, token)); got != "authenticated" {
		t.Fatalf("first check: %s", got)
	}

	silent := dialRaw(t, addr)
	prefaceOnly := dialRaw(t, addr)
	if _, err := prefaceOnly.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	established := dialRaw(t, addr)
	if _, err := established.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(established, established)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}

	// Each read returns when the service closes the connection, or fails at the deadline: the
	// bound and a margin for a busy machine, far below grpc-go's default 120 s.
	deadline := time.Now().Add(handshakeTimeout + 10*time.Second)
	for name, conn := range map[string]net.Conn{"silent": silent, "preface only": prefaceOnly} {
		if err := waitClosed(conn, deadline); err != nil {
			t.Errorf("%s connection: %v", name, err)
		}
	}

	// Past the bound: the established connection answers a PING, the client's is the same one.
	if err := fr.WritePing(false, [8]byte{'k', 'e', 'e', 'p'}); err != nil {
		t.Fatal(err)
	}
	if err := established.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	for acked := false; !acked; {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("established connection, waiting for the PING's answer: %v", err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				err = fr.WriteSettingsAck()
			}
		case *http2.PingFrame:
			acked = f.IsAck() && f.Data == [8]byte{'k', 'e', 'e', 'p'}
		case *http2.GoAwayFrame:
			t.Fatalf("established connection: GOAWAY %v", f.ErrCode)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := authStatus(check(t, client, token)); got != "authenticated" {
		t.Fatalf("check after the bound: %s", got)
	}
	if n := dials.Load(); n != 1 || client.GetState() != connectivity.Ready {
		t.Errorf("the gRPC client dialled %d times (state %v), want its one connection kept", n, client.GetState())
	}
}

func dialRaw(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// waitClosed reads conn until the peer closes it (nil) or deadline passes (an error).
func waitClosed(conn net.Conn, deadline time.Time) error {
	if err := conn.SetReadDeadline(deadline); err != nil {
		return err
	}
	_, err := io.Copy(io.Discard, conn) // what the service sends before closing, if anything
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return errors.New("still open at the deadline")
	}
	return nil
}
