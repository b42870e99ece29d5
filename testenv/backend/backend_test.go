package backend_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cognito-authz/cognito-authz/testenv/backend"
)

var clockTime = time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)

func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(backend.New(backend.Options{Now: func() time.Time { return clockTime }}))
	t.Cleanup(srv.Close)
	return srv
}

// header is one request header line; a name given twice is sent as two lines.
type header struct{ name, value string }

func do(t *testing.T, srv *httptest.Server, method, path string, headers ...header) (int, http.Header, backend.Response) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range headers {
		req.Header.Add(h.name, h.value)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("content type %q, want application/json", ct)
	}
	var body backend.Response
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, body
}

var authenticatedAlice = []header{
	{"x-auth-status", "authenticated"},
	{"x-user-sub", "6f1c2d3e-0000-4000-8000-000000000001"},
	{"x-user-name", "alice"},
	{"x-user-groups", "admin,editors"},
}

func TestHomeFeed(t *testing.T) {
	srv := newServer(t)
	tests := []struct {
		name       string
		headers    []header
		wantStatus string
		wantUser   *backend.Caller
	}{
		{"no identity headers", nil, "anonymous", nil},
		{"anonymous by Envoy", []header{{"x-auth-status", "anonymous"}, {"x-auth-reason", "expired"}}, "anonymous", nil},
		{"authenticated", authenticatedAlice, "authenticated",
			&backend.Caller{Sub: "6f1c2d3e-0000-4000-8000-000000000001", Name: "alice", Groups: []string{"admin", "editors"}}},
		{"authenticated, no groups", []header{{"x-auth-status", "authenticated"}, {"x-user-sub", "s1"}}, "authenticated",
			&backend.Caller{Sub: "s1", Groups: []string{}}},
		{"authenticated without a sub fails closed", []header{{"x-auth-status", "authenticated"}, {"x-user-name", "alice"}}, "anonymous", nil},
		{"anonymous status with a sub", []header{{"x-auth-status", "anonymous"}, {"x-user-sub", "s1"}}, "anonymous", nil},
		{"repeated status fails closed", []header{{"x-auth-status", "authenticated"}, {"x-auth-status", "anonymous"}, {"x-user-sub", "s1"}}, "anonymous", nil},
		{"repeated sub fails closed", []header{{"x-auth-status", "authenticated"}, {"x-user-sub", "s1"}, {"x-user-sub", "s2"}}, "anonymous", nil},
		{"status compared exactly", []header{{"x-auth-status", "Authenticated"}, {"x-user-sub", "s1"}}, "anonymous", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := do(t, srv, http.MethodGet, backend.HomePath, tt.headers...)
			if status != http.StatusOK {
				t.Fatalf("status %d, want 200", status)
			}
			if body.AuthStatus != tt.wantStatus {
				t.Errorf("auth_status %q, want %q", body.AuthStatus, tt.wantStatus)
			}
			if (body.User == nil) != (tt.wantUser == nil) ||
				(body.User != nil && (body.User.Sub != tt.wantUser.Sub || body.User.Name != tt.wantUser.Name || !slices.Equal(body.User.Groups, tt.wantUser.Groups))) {
				t.Errorf("user %+v, want %+v", body.User, tt.wantUser)
			}
			var private []backend.Activity
			for _, a := range body.Activities {
				if a.Private {
					private = append(private, a)
				}
			}
			if public := len(body.Activities) - len(private); public != 3 {
				t.Errorf("%d public items, want the 3 of the public feed", public)
			}
			if tt.wantUser == nil {
				if len(private) != 0 {
					t.Errorf("anonymous caller sees private items %+v", private)
				}
				return
			}
			wantHandle := tt.wantUser.Name
			if wantHandle == "" {
				wantHandle = tt.wantUser.Sub
			}
			if len(private) != 1 || body.Activities[0] != private[0] || private[0].Handle != wantHandle {
				t.Errorf("activities %+v, want the caller's own item (handle %q) first", body.Activities, wantHandle)
			}
		})
	}
}

func TestFeedIsDatedByTheClockAndStable(t *testing.T) {
	srv := newServer(t)
	_, _, first := do(t, srv, http.MethodGet, backend.HomePath, authenticatedAlice...)
	_, _, second := do(t, srv, http.MethodGet, backend.HomePath, authenticatedAlice...)
	if !slices.Equal(first.Activities, second.Activities) {
		t.Error("the same caller got different feeds")
	}
	for _, a := range first.Activities {
		if !a.CreatedAt.Before(clockTime) || !a.ExpiresAt.After(clockTime) {
			t.Errorf("item %s created %v, expires %v: want around the injected clock %v", a.UUID, a.CreatedAt, a.ExpiresAt, clockTime)
		}
	}
	_, _, bob := do(t, srv, http.MethodGet, backend.HomePath,
		header{"x-auth-status", "authenticated"}, header{"x-user-sub", "bob-sub"}, header{"x-user-name", "bob"})
	if bob.Activities[0].UUID == first.Activities[0].UUID {
		t.Error("two callers share an own item id")
	}
}

func TestRoutes(t *testing.T) {
	srv := newServer(t)
	tests := []struct {
		method, path string
		status       int
		admin        bool
		allow        string
	}{
		{http.MethodGet, "/healthz", http.StatusOK, false, ""},
		{http.MethodGet, "/api/activities/home", http.StatusOK, false, ""},
		{http.MethodPost, "/api/activities/home", http.StatusMethodNotAllowed, false, "GET, HEAD"},
		{http.MethodGet, "/api/admin", http.StatusOK, true, ""},
		{http.MethodGet, "/api/admin/users", http.StatusOK, true, ""},
		{http.MethodPost, "/api/admin/users/1", http.StatusOK, true, ""},
		{http.MethodGet, "/api/administrator", http.StatusNotFound, false, ""},
		// Escaped names are not decoded into a route Envoy did not match.
		{http.MethodGet, "/api/%61dmin/users", http.StatusNotFound, false, ""},
		{http.MethodGet, "/API/admin", http.StatusNotFound, false, ""},
		{http.MethodGet, "/", http.StatusNotFound, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			status, h, body := do(t, srv, tt.method, tt.path)
			if status != tt.status || body.Admin != tt.admin || h.Get("Allow") != tt.allow {
				t.Errorf("got %d admin=%v Allow=%q, want %d admin=%v Allow=%q", status, body.Admin, h.Get("Allow"), tt.status, tt.admin, tt.allow)
			}
			if body.Method != tt.method || body.Path != tt.path {
				t.Errorf("echoed %s %s, want %s %s", body.Method, body.Path, tt.method, tt.path)
			}
		})
	}
}

func TestHeadersEcho(t *testing.T) {
	srv := newServer(t)
	// Every path echoes, including errors.
	for _, path := range []string{"/healthz", backend.HomePath, "/api/admin/x", "/nowhere"} {
		t.Run(path, func(t *testing.T) {
			_, _, body := do(t, srv, http.MethodGet, path,
				header{"X-Multi", "a"}, header{"x-multi", "b"}, header{"Authorization", "Bearer abc"}, header{"x-user-sub", "s1"})
			want := map[string][]string{
				"x-multi":       {"a", "b"},
				"authorization": {"Bearer abc"},
				"x-user-sub":    {"s1"},
				"host":          {srv.Listener.Addr().String()},
			}
			for name, values := range want {
				if got := body.Headers[name]; !slices.Equal(got, values) {
					t.Errorf("headers[%q] = %q, want %q", name, got, values)
				}
			}
			for name := range body.Headers {
				if name != strings.ToLower(name) {
					t.Errorf("header name %q is not lower-case", name)
				}
			}
		})
	}
}

// TestPingIsTheSameForEveryCaller: the bench path's answer must not depend on who is calling or
// what headers arrive, or a benchmark through it would measure the app, not what is in front of it.
func TestPingIsTheSameForEveryCaller(t *testing.T) {
	srv := newServer(t)
	callers := map[string][]header{
		"anonymous":     nil,
		"authenticated": {{"x-auth-status", "authenticated"}, {"x-user-sub", "s1"}, {"x-user-name", "alice"}, {"x-user-groups", "admin"}},
		"with a token":  {{"Authorization", "Bearer abc"}, {"x-jwt-payload", "eyJzdWIiOiJzMSJ9"}},
	}
	for name, headers := range callers {
		t.Run(name, func(t *testing.T) {
			status, _, body := do(t, srv, http.MethodGet, backend.PingPath, headers...)
			if want := (backend.Response{Status: "ok"}); status != http.StatusOK || !reflect.DeepEqual(body, want) {
				t.Errorf("GET %s = %d %+v, want 200 %+v", backend.PingPath, status, body, want)
			}
		})
	}
	// Anything but GET and HEAD is not a ping: it gets the usual not-found answer.
	if status, _, body := do(t, srv, http.MethodPost, backend.PingPath); status != http.StatusNotFound || body.Error != "not found" {
		t.Errorf("POST %s = %d %+v, want 404", backend.PingPath, status, body)
	}
}
