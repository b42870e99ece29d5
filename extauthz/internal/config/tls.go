package config

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// ServerTLSConfig loads the certificate, key and (when set) client CA of the gRPC listener. Errors
// name the key whose file is at fault.
func (t TLS) ServerTLSConfig() (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return nil, &KeyError{Key: "tls.cert_file", Problem: fmt.Sprintf("cannot load certificate %q with key %q: %v", t.CertFile, t.KeyFile, err)}
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
	}
	if t.ClientCAFile != "" {
		pem, err := os.ReadFile(t.ClientCAFile)
		if err != nil {
			return nil, &KeyError{Key: "tls.client_ca_file", Problem: err.Error()}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, &KeyError{Key: "tls.client_ca_file", Problem: fmt.Sprintf("%q holds no PEM certificate", t.ClientCAFile)}
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}
