package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestToken: the token tool prints the token the demo's token listener answers for the user, and
// nothing else (the compose file's `ADMIN_TOKEN=$(... token alice)` reads it whole); a refusal is
// an error naming the listener's answer.
func TestToken(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != demoTokenPath || r.URL.Query().Get("username") != "bob" {
			http.Error(w, "no seeded user", http.StatusNotFound)
			return
		}
		_, _ = w.Write([]byte(`{"access_token":"access.of.bob","id_token":"id.of.bob"}`))
	}))
	defer srv.Close()

	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"access token", []string{"token", "--from", srv.URL, "bob"}, 0, "access.of.bob\n", ""},
		{"ID token", []string{"token", "--from", srv.URL, "--id", "bob"}, 0, "id.of.bob\n", ""},
		{"alice by default, unknown here", []string{"token", "--from", srv.URL}, 1, "", "404 Not Found: no seeded user"},
		{"two users", []string{"token", "--from", srv.URL, "alice", "bob"}, 2, "", "at most one user"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr syncBuffer
			saved := upStdout
			upStdout = &stdout
			defer func() { upStdout = saved }()
			code := run(t.Context(), tt.args, env{stderr: &stderr})
			if code != tt.code || stdout.String() != tt.stdout || !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, stdout %q, stderr containing %q",
					code, stdout.String(), stderr.String(), tt.code, tt.stdout, tt.stderr)
			}
		})
	}
}
