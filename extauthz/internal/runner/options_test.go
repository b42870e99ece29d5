package runner

import (
	"bytes"
	"encoding/binary"
	"net"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/protobuf/proto"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/envoytest"
	"github.com/cognito-authz/cognito-authz/internal/testkit"
)

// TestNoFlowControlProbesToEnvoy speaks HTTP/2 to the gRPC listener as Envoy does (one
// connection, many checks in flight) and counts the control frames the service sends back. With
// grpc-go's default dynamic windows it sends a PING (bandwidth-delay probe) with the first check
// and about every round trip after; the static windows send none, and a WINDOW_UPDATE only after
// a quarter of the connection window.
func TestNoFlowControlProbesToEnvoy(t *testing.T) {
	jwks := newJWKSServer(t, testkit.MustNewKey(t, "k1"))
	r := startRunner(t, testConfig(jwks.URL))
	conn, err := net.Dial("tcp", r.GRPCAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}

	wire, err := proto.Marshal(envoytest.CheckRequest(envoytest.Token, false))
	if err != nil {
		t.Fatal(err)
	}
	grpcMessage := make([]byte, 5+len(wire)) // uncompressed flag, big-endian length, message
	binary.BigEndian.PutUint32(grpcMessage[1:], uint32(len(wire)))
	copy(grpcMessage[5:], wire)
	var headers bytes.Buffer
	enc := hpack.NewEncoder(&headers)
	for _, f := range [][2]string{
		{":method", "POST"}, {":scheme", "http"}, {":path", "/envoy.service.auth.v3.Authorization/Check"},
		{":authority", "cognito_authz"}, {"content-type", "application/grpc"}, {"te", "trailers"},
	} {
		if err := enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]}); err != nil {
			t.Fatal(err)
		}
	}

	if _, err := conn.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(conn, conn)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	const checks, inFlight = 200, 16
	var sent, answered, pings, windowUpdates int
	nextStream := uint32(1)
	for answered < checks {
		for ; sent < checks && sent-answered < inFlight; sent++ {
			if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: nextStream, BlockFragment: headers.Bytes(), EndHeaders: true}); err != nil {
				t.Fatal(err)
			}
			if err := fr.WriteData(nextStream, true, grpcMessage); err != nil {
				t.Fatal(err)
			}
			nextStream += 2
		}
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("after %d answers: %v", answered, err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				err = fr.WriteSettingsAck()
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				pings++
				err = fr.WritePing(true, f.Data)
			}
		case *http2.WindowUpdateFrame:
			windowUpdates++
		case *http2.HeadersFrame:
			if f.StreamEnded() { // the trailers: this check is answered
				answered++
			}
		case *http2.RSTStreamFrame, *http2.GoAwayFrame:
			t.Fatalf("the service reset the check: %v", f)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if pings != 0 {
		t.Errorf("the service sent %d PINGs for %d checks, want none", pings, checks)
	}
	if windowUpdates > 1 {
		t.Errorf("the service sent %d WINDOW_UPDATEs for %d checks of %d bytes, want at most 1", windowUpdates, checks, len(grpcMessage))
	}
}
