package runner

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/config"
)

// Live reload (docs/reference.md, "Reloading the configuration"). What a reload replaces is the
// snapshot (issuers, token sources, policy, identity headers, cache and key settings) and, when TLS
// is on, the certificate, key and client CA files. Listen addresses and switching TLS or mTLS on
// or off need a restart: a reload that changes them applies everything else and logs a warning
// naming each key. Checks in flight finish with the snapshot they started with.

// DefaultReloadInterval is how often the configuration file (and the TLS files) are looked at for
// a change when Reloading.Interval is zero.
const DefaultReloadInterval = time.Second

// Reloading configures live reload; see Service.EnableReload.
type Reloading struct {
	// Load reads the configuration again (the file with the command line's flags over it) and
	// validates it.
	Load func() (*config.Config, error)
	// File is the configuration file to watch; "" watches none (flags alone).
	File string
	// Signals asks for a reload on every value received (SIGHUP); nil: none.
	Signals <-chan os.Signal
	// Interval is how often File and the TLS files are compared with what was last loaded; zero
	// is DefaultReloadInterval.
	Interval time.Duration
}

// EnableReload turns live reload on; call it before Start. The file is watched by content, so any
// change counts whoever made it and however: an edit in place, a file renamed over it, a symlink
// pointed elsewhere (a Kubernetes ConfigMap volume swaps its ..data symlink atomically).
func (s *Service) EnableReload(rl Reloading) {
	if rl.Interval <= 0 {
		rl.Interval = DefaultReloadInterval
	}
	s.reloading = rl
}

// watch reloads on every signal and whenever a watched file's content differs from what it was
// at the last reload attempt (a broken file is not retried until it changes again).
func (s *Service) watch(ctx context.Context, rl Reloading) {
	seen := fingerprint(s.watchedFiles(rl.File))
	ticker := time.NewTicker(rl.Interval)
	defer ticker.Stop()
	for {
		why := ""
		select {
		case <-ctx.Done():
			return
		case <-rl.Signals:
			why = "signal"
		case <-ticker.C:
			why = "file changed"
		}
		// Taken before loading: a change made while the reload runs is seen at the next tick.
		files := s.watchedFiles(rl.File)
		now := fingerprint(files)
		if why != "signal" && now == seen {
			continue
		}
		seen = now
		s.reloadFrom(ctx, rl.Load, why)
		if after := s.watchedFiles(rl.File); !slices.Equal(after, files) {
			seen = fingerprint(after) // new TLS file names are not a change to reload for again
		}
	}
}

// watchedFiles are the configuration file and the current TLS files.
func (s *Service) watchedFiles(file string) []string {
	var files []string
	if file != "" {
		files = append(files, file)
	}
	t := s.current.Load().cfg.TLS
	for _, f := range []string{t.CertFile, t.KeyFile, t.ClientCAFile} {
		if f != "" {
			files = append(files, f)
		}
	}
	return files
}

// fingerprint hashes the content of each file, following symlinks; a file that cannot be read
// counts by its error. Configuration and certificate files are small, so reading them every
// interval costs little, and content catches every kind of change where timestamps may not.
func fingerprint(files []string) [sha256.Size]byte {
	h := sha256.New()
	for _, name := range files {
		fmt.Fprintf(h, "%q\n", name)
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintf(h, "error %v\n", err)
			continue
		}
		_, err = io.Copy(h, io.LimitReader(f, 4<<20))
		f.Close()
		if err != nil {
			fmt.Fprintf(h, "error %v\n", err)
		}
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

// reloadFrom loads a configuration with load and applies it (reload). Either way the outcome is
// logged, naming the key of every problem, and counted in cognito_authz_config_reloads_total.
func (s *Service) reloadFrom(ctx context.Context, load func() (*config.Config, error), why string) {
	cfg, err := load()
	if err == nil {
		err = s.reload(ctx, cfg)
	}
	s.metrics.ConfigReloaded(err)
	if err != nil {
		s.log.Error("configuration reload refused; the last good configuration keeps serving",
			zap.String("trigger", why), zap.Errors("problems", splitErrors(err)))
		return
	}
	s.log.Info("configuration reloaded", zap.String("trigger", why), zap.Strings("issuers", s.current.Load().verifier.Issuers()))
}

// splitErrors lists the problems of a joined error one by one, each naming its key.
func splitErrors(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// reload replaces the snapshot with one built from cfg. The keys of issuers configured as before
// are kept, not fetched again; the keys of every issuer that has none (a new one, or one whose
// keys never loaded) are fetched first, within ctx and jwks.fetch_timeout, and the reload is
// refused when they cannot be had, so a configuration never takes over with an issuer whose tokens
// it could not check. A refused reload changes nothing.
func (s *Service) reload(ctx context.Context, cfg *config.Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	prev := s.current.Load()
	next, err := s.newSnapshot(cfg, prev)
	if err != nil {
		return err
	}
	var nextTLS *tls.Config
	if s.tls != nil && cfg.TLS.Enabled() {
		if nextTLS, err = loadTLS(cfg.TLS); err != nil {
			return err
		}
	}
	fetchCtx, cancel := context.WithTimeout(ctx, cfg.JWKS.FetchTimeout)
	err = next.verifier.LoadMissing(fetchCtx)
	cancel()
	if err != nil {
		return &config.KeyError{Key: "issuers", Problem: fmt.Sprintf("keys of a new issuer cannot be had: %v", err)}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return errors.New("shutting down")
	}
	s.warnRestartOnly(cfg)
	s.current.Store(next)
	if nextTLS != nil {
		s.tls.current.Store(nextTLS)
	}
	select { // refreshKeys follows; a kept cache that is loaded waits a refresh_interval
	case s.swapped <- struct{}{}:
	default:
	}
	return nil
}

// warnRestartOnly logs each setting cfg changes that only a restart applies.
func (s *Service) warnRestartOnly(cfg *config.Config) {
	for _, c := range []struct{ key, running, wanted string }{
		{"listen", s.cfg.Listen, cfg.Listen},
		{"admin_listen", s.cfg.AdminListen, cfg.AdminListen},
		{"http_listen", s.cfg.HTTPListen, cfg.HTTPListen},
		{"tls (on or off)", fmt.Sprint(s.cfg.TLS.Enabled()), fmt.Sprint(cfg.TLS.Enabled())},
		{"tls.client_ca_file (mTLS on or off)", fmt.Sprint(s.cfg.TLS.ClientCAFile != ""), fmt.Sprint(cfg.TLS.ClientCAFile != "")},
	} {
		if c.running != c.wanted {
			s.log.Warn("configuration change needs a restart; still running as started",
				zap.String("key", c.key), zap.String("running", c.running), zap.String("wanted", c.wanted))
		}
	}
}

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
