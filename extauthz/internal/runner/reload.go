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

// DefaultReloadSettle is how long changed files must hold still before they are loaded, when
// Reloading.Settle is zero. A file written in place can be read half-written, and half a file can
// be valid YAML that asks for less (a rule cut before its groups_any); content that reads the same
// twice this far apart is taken to be whole. A file renamed into place, or a ConfigMap's ..data
// swap, is whole at once and costs only this wait.
const DefaultReloadSettle = 500 * time.Millisecond

// Reloading configures live reload; see Service.EnableReload.
type Reloading struct {
	// Load builds the configuration from file, the content of File (nil when File is ""), with the
	// command line's flags over it, and validates it. It is given the bytes the watcher saw hold
	// still, never reading the file itself.
	Load func(file []byte) (*config.Config, error)
	// File is the configuration file to watch; "" watches none (flags alone).
	File string
	// Signals asks for a reload on every value received (SIGHUP); nil: none.
	Signals <-chan os.Signal
	// Interval is how often File and the TLS files are compared with what was last loaded; zero
	// is DefaultReloadInterval.
	Interval time.Duration
	// Settle is how long changed content must stay the same before it is loaded; zero is
	// DefaultReloadSettle.
	Settle time.Duration
}

// EnableReload turns live reload on; call it before Start. The file is watched by content, so any
// change counts whoever made it and however: an edit in place, a file renamed over it, a symlink
// pointed elsewhere (a Kubernetes ConfigMap volume swaps its ..data symlink atomically).
func (s *Service) EnableReload(rl Reloading) {
	if rl.Interval <= 0 {
		rl.Interval = DefaultReloadInterval
	}
	if rl.Settle <= 0 {
		rl.Settle = DefaultReloadSettle
	}
	s.reloading = rl
	// What the watch compares with is read now, next to the load that built the running
	// configuration, not when its goroutine first runs: a change in between would otherwise
	// become the baseline and never be loaded.
	s.reloadBaseline = readWatched(s.watchedFiles(rl.File)).sum
}

// watch reloads on every signal and whenever a watched file's content differs from what it was
// at the last reload attempt (a broken file is not retried until it changes again). Either way
// the content must read the same twice, rl.Settle apart, and what is loaded is those bytes.
func (s *Service) watch(ctx context.Context, rl Reloading) {
	seen := s.reloadBaseline
	ticker := time.NewTicker(rl.Interval)
	defer ticker.Stop()
	signalled := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-rl.Signals:
			signalled = true
		case <-ticker.C:
		}
		// Taken before loading: a change made while the reload runs is seen at the next tick.
		files := s.watchedFiles(rl.File)
		now := readWatched(files)
		if !signalled && now.sum == seen {
			continue
		}
		why := "file changed"
		if signalled {
			why = "signal"
		}
		s.log.Info("configuration changed; loading it once it holds still", zap.String("trigger", why), zap.Duration("settle", rl.Settle))
		if !s.settled(ctx, files, now, rl.Settle) {
			continue // still being written: looked at again at the next tick; a signal stays pending
		}
		signalled, seen = false, now.sum
		s.reloadFrom(ctx, func() (*config.Config, error) {
			if rl.File == "" {
				return rl.Load(nil)
			}
			if err := now.errs[0]; err != nil {
				return nil, err
			}
			return rl.Load(now.contents[0])
		}, why)
		if after := s.watchedFiles(rl.File); !slices.Equal(after, files) {
			seen = readWatched(after).sum // new TLS file names are not a change to reload for again
		}
	}
}

// settled waits settle and reports whether files still hold what was read.
func (s *Service) settled(ctx context.Context, files []string, read reading, settle time.Duration) bool {
	t := time.NewTimer(settle)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	}
	if readWatched(files).sum != read.sum {
		s.log.Info("configuration still changing; not loaded", zap.Duration("settle", settle))
		return false
	}
	return true
}

// watchedFiles are the configuration file (first, when there is one) and the current TLS files.
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

// reading is one read of the watched files: each file's content or why it could not be read,
// and a hash of them all.
type reading struct {
	contents [][]byte
	errs     []error
	sum      [sha256.Size]byte
}

// readWatched reads each file, following symlinks; a file that cannot be read counts by its
// error. Configuration and certificate files are small, so reading them every interval costs
// little, and content catches every kind of change where timestamps may not.
func readWatched(files []string) reading {
	s := reading{contents: make([][]byte, len(files)), errs: make([]error, len(files))}
	h := sha256.New()
	for i, name := range files {
		fmt.Fprintf(h, "%q\n", name)
		data, err := readCapped(name)
		if err != nil {
			fmt.Fprintf(h, "error %v\n", err)
			s.errs[i] = err
			continue
		}
		h.Write(data)
		s.contents[i] = data
	}
	h.Sum(s.sum[:0])
	return s
}

// readCapped reads at most 4 MB of a file: anything larger is no configuration (config.LoadData
// says so) or certificate.
func readCapped(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, 4<<20))
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

// restartOnly are the settings only a restart applies, as running and as wanted
// (docs/reference.md lists each).
func restartOnly(running, wanted *config.Config) []struct{ key, running, wanted string } {
	return []struct{ key, running, wanted string }{
		{"listen", running.Listen, wanted.Listen},
		{"admin_listen", running.AdminListen, wanted.AdminListen},
		{"http_listen", running.HTTPListen, wanted.HTTPListen},
		{"http_request_is_original", fmt.Sprint(running.HTTPRequestIsOriginal), fmt.Sprint(wanted.HTTPRequestIsOriginal)},
		{"tls (on or off)", fmt.Sprint(running.TLS.Enabled()), fmt.Sprint(wanted.TLS.Enabled())},
		{"tls.client_ca_file (mTLS on or off)", fmt.Sprint(running.TLS.ClientCAFile != ""), fmt.Sprint(wanted.TLS.ClientCAFile != "")},
	}
}

// warnRestartOnly logs each setting cfg changes that only a restart applies.
func (s *Service) warnRestartOnly(cfg *config.Config) {
	for _, c := range restartOnly(s.cfg, cfg) {
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
