package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cognito-authz/cognito-authz/testenv/issuer"
)

// syncBuffer is a bytes.Buffer safe to write from a command's goroutine while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestCommandLineErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no command", nil, 2, "usage: testenv"},
		{"help", []string{"help"}, 0, "issuer"},
		{"unknown command", []string{"down"}, 2, `unknown command "down"`},
		{"unknown flag", []string{"issuer", "--nope"}, 2, "flag provided but not defined: -nope"},
		{"stray argument", []string{"backend", "extra"}, 2, `unexpected argument "extra"`},
		{"empty client id", []string{"issuer", "--client-id", "a,,b"}, 2, "empty value"},
		{"relative base URL", []string{"issuer", "--base-url", "issuer:8080"}, 2, "testenv issuer: issuer: base URL"},
		{"bad pool id", []string{"issuer", "--pool-id", "a/b"}, 2, "pool id"},
		{"flag help", []string{"backend", "-h"}, 0, "-listen"},
		{"listen address invalid", []string{"backend", "--listen", "256.0.0.1:1"}, 1, "testenv backend:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantExit(t, tt.args, tt.code, tt.want) })
	}
}

// wantExit runs the command line args and fails the test unless it exits with code and prints
// want on stderr.
func wantExit(t *testing.T, args []string, code int, want string) {
	t.Helper()
	var stderr syncBuffer
	if got := run(t.Context(), args, env{stderr: &stderr}); got != code || !strings.Contains(stderr.String(), want) {
		t.Errorf("exit %d, stderr:\n%s\nwant exit %d and stderr containing %q", got, stderr.String(), code, want)
	}
}

// start runs a serving command until the test ends and returns the address it listens on.
func start(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	addrs := make(chan net.Addr, 1)
	done := make(chan int, 1)
	var stderr syncBuffer
	go func() {
		done <- run(ctx, args, env{stderr: &stderr, onListen: func(a net.Addr) { addrs <- a }})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("%v exited %d after stop; stderr:\n%s", args, code, stderr.String())
			}
		case <-time.After(10 * time.Second):
			t.Errorf("%v did not stop within 10s", args)
		}
	})
	select {
	case a := <-addrs:
		return a.String()
	case code := <-done:
		t.Fatalf("%v exited %d before listening; stderr:\n%s", args, code, stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatalf("%v did not listen within 10s", args)
	}
	return ""
}

func TestIssuerCommandServes(t *testing.T) {
	addr := start(t, "issuer", "--listen", "127.0.0.1:0", "--base-url", "http://issuer.test:8080/",
		"--pool-id", "eu-west-1_Test", "--client-id", "web,cli")

	resp, err := http.Get("http://" + addr + "/eu-west-1_Test/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET jwks: %d", resp.StatusCode)
	}

	resp, err = http.Post("http://"+addr+"/eu-west-1_Test/token", "application/json",
		strings.NewReader(`{"username":"alice","client_id":"cli"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var minted struct{ Token string }
	if err := json.NewDecoder(resp.Body).Decode(&minted); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("POST token: %d %v", resp.StatusCode, err)
	}
	payload, err := issuer.UnverifiedClaims(minted.Token)
	if err != nil {
		t.Fatal(err)
	}
	if payload["iss"] != "http://issuer.test:8080/eu-west-1_Test" || payload["client_id"] != "cli" {
		t.Errorf("iss %v client_id %v, want the flags' http://issuer.test:8080/eu-west-1_Test and cli", payload["iss"], payload["client_id"])
	}
}

func TestBackendCommandServes(t *testing.T) {
	addr := start(t, "backend", "--listen", "127.0.0.1:0")
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz: %d, want 200", resp.StatusCode)
	}
}
