package runner

import (
	"crypto/tls"
	"sync/atomic"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/config"
)

// tlsReloader hands each new TLS connection the certificate and client CA last loaded, so a
// reload (or a change of the files) applies to new connections without a restart.
type tlsReloader struct {
	current atomic.Pointer[tls.Config]
}

func newTLSReloader(t config.TLS) (*tlsReloader, error) {
	tc, err := loadTLS(t)
	if err != nil {
		return nil, err
	}
	l := &tlsReloader{}
	l.current.Store(tc)
	return l, nil
}

// serverConfig is the listener's configuration; every handshake takes the current one.
func (l *tlsReloader) serverConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return l.current.Load(), nil
		},
	}
}

// loadTLS reads the files; the configuration it returns offers HTTP/2 by ALPN, as gRPC's own
// credentials would (gRPC clients require it).
func loadTLS(t config.TLS) (*tls.Config, error) {
	tc, err := t.ServerTLSConfig()
	if err != nil {
		return nil, err
	}
	tc.NextProtos = []string{"h2"}
	return tc, nil
}
