package runner

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// keyPair is an RSA signing key and the kid it is published under.
type keyPair struct {
	kid string
	key *rsa.PrivateKey
}

func newKeyPair(t testing.TB, kid string) keyPair {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return keyPair{kid: kid, key: k}
}

// sign makes a compact RS256 JWS of claims.
func (k keyPair) sign(t testing.TB, claims map[string]any) string {
	t.Helper()
	header, err := json.Marshal(map[string]string{"alg": "RS256", "kid": k.kid, "typ": "JWT"})
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return k.signRaw(t, header, payload)
}

// signRaw signs header and payload as given, for JSON that json.Marshal would not write (invalid
// UTF-8, say).
func (k keyPair) signRaw(t testing.TB, header, payload []byte) string {
	t.Helper()
	enc := base64.RawURLEncoding
	input := enc.EncodeToString(header) + "." + enc.EncodeToString(payload)
	digest := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, k.key, crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + enc.EncodeToString(sig)
}

func (k keyPair) jwk() map[string]string {
	enc := base64.RawURLEncoding
	return map[string]string{
		"kty": "RSA", "use": "sig", "alg": "RS256", "kid": k.kid,
		"n": enc.EncodeToString(k.key.N.Bytes()),
		"e": enc.EncodeToString(big.NewInt(int64(k.key.E)).Bytes()),
	}
}

// jwksServer is an issuer's key endpoint that can be taken down, and whose answers can be held
// back to keep a fetch in flight.
type jwksServer struct {
	*httptest.Server
	up       atomic.Bool
	requests atomic.Int64

	mu   sync.Mutex
	keys []keyPair
	hold chan struct{} // non-nil: requests wait until it is closed
}

func newJWKSServer(t testing.TB, keys ...keyPair) *jwksServer {
	s := &jwksServer{keys: keys}
	s.up.Store(true)
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) serve(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	s.mu.Lock()
	hold, keys := s.hold, s.keys
	s.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-r.Context().Done():
			return
		}
	}
	if !s.up.Load() {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	set := map[string][]map[string]string{"keys": {}}
	for _, k := range keys {
		set["keys"] = append(set["keys"], k.jwk())
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(set)
}

// holdNext makes every request from now on wait for release, and publishes keys once released.
func (s *jwksServer) holdNext(keys ...keyPair) (release func()) {
	hold := make(chan struct{})
	s.mu.Lock()
	s.hold, s.keys = hold, keys
	s.mu.Unlock()
	return sync.OnceFunc(func() {
		s.mu.Lock()
		s.hold = nil
		s.mu.Unlock()
		close(hold)
	})
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

// eventually waits for cond, failing the test at the deadline.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
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
