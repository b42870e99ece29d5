// Package backend is the demo app behind Envoy, shaped like the app cognito-authz was built for:
// a home feed that is public to anonymous callers and adds the caller's own items when Envoy says
// the caller is authenticated. It never reads a token; it trusts x-auth-status and x-user-* from
// Envoy, as an app behind cognito-authz should.
//
// Every response is JSON and echoes the request headers that reached the app ("headers", every
// value of a repeated header, names lower-cased), so end-to-end tests can assert exactly what
// Envoy passed on. The one exception is PingPath, for benchmarks.
package backend

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Paths served.
const (
	HomePath    = "/api/activities/home"
	AdminPath   = "/api/admin" // and everything under /api/admin/
	HealthzPath = "/healthz"
	// PingPath answers the same few bytes to everyone, whoever Envoy says is calling and whatever
	// headers arrive: a benchmark through it measures what is in front of the app, because the
	// app's own work is the same behind every setup. (The home feed renders a personal page only
	// when it sees x-auth-status, and echoes every header.)
	PingPath = "/api/ping"
)

// pingBody is PingPath's answer.
var pingBody = []byte(`{"status":"ok"}` + "\n")

// Options configure a Backend.
type Options struct {
	// Now dates the feed's items; default time.Now.
	Now func() time.Time
}

// Backend is the demo app; it holds no state and is safe for concurrent use.
type Backend struct {
	now func() time.Time
}

// New returns the demo app.
func New(opts Options) *Backend {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Backend{now: opts.Now}
}

// Caller is who Envoy says is calling.
type Caller struct {
	Sub    string   `json:"sub"`
	Name   string   `json:"name"`
	Groups []string `json:"groups"`
}

// Activity is one item of the feed.
type Activity struct {
	UUID      string    `json:"uuid"`
	Handle    string    `json:"handle"`
	Message   string    `json:"message"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	Likes     int       `json:"likes_count"`
	Private   bool      `json:"private"` // only its author sees it
}

// Response is the body of every answer. Fields that do not apply to a path are left out.
type Response struct {
	Method     string              `json:"method"`
	Path       string              `json:"path"`
	AuthStatus string              `json:"auth_status"` // authenticated or anonymous
	User       *Caller             `json:"user"`        // null unless authenticated
	Activities []Activity          `json:"activities,omitempty"`
	Admin      bool                `json:"admin,omitempty"`
	Status     string              `json:"status,omitempty"` // /healthz
	Error      string              `json:"error,omitempty"`
	Headers    map[string][]string `json:"headers"`
}

// ServeHTTP routes on the path exactly as it arrived (still escaped), so an encoded path such as
// /api/%61dmin never reaches the admin handler under a name Envoy did not route on.
func (b *Backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == PingPath && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			_, _ = w.Write(pingBody)
		}
		return
	}
	resp := Response{
		Method:     r.Method,
		Path:       r.URL.EscapedPath(),
		AuthStatus: "anonymous",
		Headers:    receivedHeaders(r),
	}
	if caller := callerOf(r.Header); caller != nil {
		resp.AuthStatus, resp.User = "authenticated", caller
	}
	path := resp.Path
	switch {
	case path == HealthzPath:
		resp.Status = "ok"
		writeJSON(w, http.StatusOK, resp)
	case path == HomePath:
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			resp.Error = "method not allowed"
			writeJSON(w, http.StatusMethodNotAllowed, resp)
			return
		}
		resp.Activities = b.feed(resp.User)
		writeJSON(w, http.StatusOK, resp)
	case path == AdminPath || strings.HasPrefix(path, AdminPath+"/"):
		// The route's group check is Envoy's and cognito-authz's job; answering here whatever
		// arrives lets a test see whether a request that should have been stopped got through.
		resp.Admin = true
		writeJSON(w, http.StatusOK, resp)
	default:
		resp.Error = "not found"
		writeJSON(w, http.StatusNotFound, resp)
	}
}

// callerOf reads the identity Envoy set. Anything ambiguous (a repeated header, no sub) counts as
// anonymous: the app fails closed.
func callerOf(h http.Header) *Caller {
	status, sub := h.Values("X-Auth-Status"), h.Values("X-User-Sub")
	if len(status) != 1 || status[0] != "authenticated" || len(sub) != 1 || sub[0] == "" {
		return nil
	}
	c := &Caller{Sub: sub[0], Name: h.Get("X-User-Name"), Groups: []string{}}
	if g := h.Get("X-User-Groups"); g != "" {
		c.Groups = strings.Split(g, ",")
	}
	return c
}

// feed is the public feed, with the caller's own items first when there is a caller.
func (b *Backend) feed(caller *Caller) []Activity {
	now := b.now().UTC().Truncate(time.Second)
	items := []Activity{
		{UUID: "0b8e5b1c-6a43-4e59-9a59-0c1f3c7d2a01", Handle: "team", Message: "Welcome to the demo: this feed is public.",
			CreatedAt: now.Add(-48 * time.Hour), ExpiresAt: now.Add(120 * time.Hour), Likes: 5},
		{UUID: "5d0c2f7e-91b4-4c36-8f0e-3e6a9b2c4d02", Handle: "ops", Message: "Signed-in users also see their own drafts here.",
			CreatedAt: now.Add(-6 * time.Hour), ExpiresAt: now.Add(240 * time.Hour), Likes: 2},
		{UUID: "a3f9d6c8-2e17-4b0a-b5d4-7c8e1f0a6b03", Handle: "ops", Message: "Admins have /api/admin.",
			CreatedAt: now.Add(-time.Hour), ExpiresAt: now.Add(24 * time.Hour)},
	}
	if caller == nil {
		return items
	}
	handle := caller.Name
	if handle == "" {
		handle = caller.Sub
	}
	own := Activity{
		UUID:      ownItemID(caller.Sub),
		Handle:    handle,
		Message:   fmt.Sprintf("Private draft of %s: only you can see this.", handle),
		CreatedAt: now.Add(-30 * time.Minute), ExpiresAt: now.Add(72 * time.Hour),
		Private: true,
	}
	return append([]Activity{own}, items...)
}

// ownItemID is a stable id per user, so repeated calls show the same item.
func ownItemID(sub string) string {
	s := sha256.Sum256([]byte("draft\x00" + sub))
	s[6] = s[6]&0x0f | 0x40
	s[8] = s[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", s[0:4], s[4:6], s[6:8], s[8:10], s[10:16])
}

// receivedHeaders is every header as it arrived, names lower-cased as Envoy sends them, plus host
// (which Go keeps out of r.Header).
func receivedHeaders(r *http.Request) map[string][]string {
	out := make(map[string][]string, len(r.Header)+1)
	for name, values := range r.Header {
		lower := strings.ToLower(name)
		out[lower] = append(out[lower], values...)
	}
	if r.Host != "" {
		out["host"] = []string{r.Host}
	}
	return out
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
