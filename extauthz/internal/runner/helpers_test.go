package runner

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cognito-authz/cognito-authz/internal/testkit"
)

// jwksServer is an issuer's key endpoint that can be taken down, and whose answers can be held
// back to keep a fetch in flight.
type jwksServer struct{ *testkit.JWKSServer }

func newJWKSServer(t testing.TB, keys ...*testkit.Key) *jwksServer {
	return &jwksServer{testkit.NewJWKSServer(t, testkit.KeysBody(keys...))}
}

// setUp takes the endpoint down (false) or brings it back (true) with the keys it served.
func (s *jwksServer) setUp(up bool) {
	if up {
		s.Handle(nil)
	} else {
		s.Fail(http.StatusServiceUnavailable)
	}
}

// holdNext makes every request from now on wait for release, and publishes keys once released.
func (s *jwksServer) holdNext(keys ...*testkit.Key) (release func()) {
	release = s.Hold()
	s.Serve(testkit.KeysBody(keys...))
	return release
}

// accessClaims are the claims of a valid Cognito access token for issuer and client.
func accessClaims(issuer, clientID string) map[string]any {
	now := time.Now()
	return map[string]any{
		"sub": "user-sub-1", "iss": issuer, "client_id": clientID, "token_use": "access",
		"scope": "openid", "username": "alice", "jti": "jti-1",
		"iat": now.Unix(), "auth_time": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

// testPKI is a CA with a server certificate for localhost and a client certificate, written to
// files as the tls section expects.
type testPKI struct {
	caCert, serverCert, serverKey string
	pool                          *x509.CertPool
	client                        tls.Certificate
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	dir := t.TempDir()
	caKey := newECKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(serial int64, usage x509.ExtKeyUsage) ([]byte, *ecdsa.PrivateKey) {
		key := newECKey(t)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "localhost"},
			DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, key
	}
	serverDER, serverKey := issue(2, x509.ExtKeyUsageServerAuth)
	clientDER, clientKey := issue(3, x509.ExtKeyUsageClientAuth)

	p := testPKI{
		caCert:     writePEM(t, dir, "ca.pem", "CERTIFICATE", caDER),
		serverCert: writePEM(t, dir, "server.pem", "CERTIFICATE", serverDER),
		serverKey:  writePEM(t, dir, "server-key.pem", "PRIVATE KEY", marshalKey(t, serverKey)),
		pool:       x509.NewCertPool(),
	}
	p.pool.AddCert(ca)
	p.client, err = tls.X509KeyPair(
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: clientDER}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: marshalKey(t, clientKey)}),
	)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newECKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func marshalKey(t *testing.T, k *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func writePEM(t *testing.T, dir, name, blockType string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
