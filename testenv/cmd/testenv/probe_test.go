package main

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestProbe(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.Error(w, "down", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"2xx", []string{"probe", srv.URL + "/healthz"}, 0, ""},
		{"503", []string{"probe", srv.URL + "/other"}, 1, "503"},
		{"nothing listening", []string{"probe", closed.URL}, 1, "probe:"},
		{"no URL", []string{"probe"}, 2, "exactly one URL"},
		{"two URLs", []string{"probe", srv.URL, srv.URL}, 2, "exactly one URL"},
		{"not http", []string{"probe", "ftp://127.0.0.1/"}, 2, "not an http(s) URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantExit(t, tt.args, tt.code, tt.want) })
	}
}
