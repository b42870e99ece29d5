package issuer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"
)

// Limits of the mint endpoint: a real request is a few hundred bytes, and Cognito tokens live at
// most a day (a year is allowed here for long demos).
const (
	maxMintBody  = 64 << 10
	maxExpiresIn = 365 * 24 * 3600
)

// MintRequest is the body of POST /<poolId>/token. Only username is required.
type MintRequest struct {
	Username string `json:"username"`
	// Groups, when present, become the user's groups (as if an admin had added them in Cognito).
	Groups    []string `json:"groups,omitempty"`
	TokenUse  TokenUse `json:"token_use,omitempty"`  // access (default) or id
	Scopes    []string `json:"scopes,omitempty"`     // access tokens; default aws.cognito.signin.user.admin
	ClientID  string   `json:"client_id,omitempty"`  // default: the first client id
	ExpiresIn int64    `json:"expires_in,omitempty"` // seconds; default the issuer's TTL
}

// MintResponse is the answer to a mint request.
type MintResponse struct {
	Token     string   `json:"token"`
	TokenUse  TokenUse `json:"token_use"`
	TokenType string   `json:"token_type"` // Bearer
	ExpiresIn int64    `json:"expires_in"` // seconds
	Sub       string   `json:"sub"`
	Username  string   `json:"username"`
	Groups    []string `json:"groups"`
}

// ServeHTTP serves the pool's endpoints:
//
//	GET  /<poolId>/.well-known/jwks.json   the public keys (or the status set by FailJWKS)
//	POST /<poolId>/token                   mint a token: a MintRequest in, a MintResponse out
//
// For example:
//
//	curl -s -X POST http://localhost:8080/local_pool/token \
//	     -d '{"username":"alice","groups":["admin"],"token_use":"access"}'
//
// Errors are JSON {"error": "..."} with a 4xx status.
func (is *Issuer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	prefix := "/" + is.poolID
	switch r.URL.Path {
	case prefix + "/.well-known/jwks.json":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			methodNotAllowed(w, "GET, HEAD")
			return
		}
		is.serveJWKS(w)
	case prefix + "/token":
		if r.Method != http.MethodPost {
			methodNotAllowed(w, "POST")
			return
		}
		is.serveMint(w, r)
	default:
		writeJSON(w, http.StatusNotFound, errorBody{fmt.Sprintf("no such endpoint: %s (this issuer serves %s/.well-known/jwks.json and POST %s/token)", r.URL.Path, prefix, prefix)})
	}
}

func (is *Issuer) serveJWKS(w http.ResponseWriter) {
	is.jwksRequests.Add(1)
	is.mu.Lock()
	failure := is.jwksFailure
	is.mu.Unlock()
	if failure != 0 {
		writeJSON(w, failure, errorBody{"JWKS endpoint failing on purpose (FailJWKS)"})
		return
	}
	writeJSON(w, http.StatusOK, is.JWKS())
}

func (is *Issuer) serveMint(w http.ResponseWriter, r *http.Request) {
	var req MintRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxMintBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		status, msg := http.StatusBadRequest, "body: "+err.Error()
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(err, &tooLarge):
			status, msg = http.StatusRequestEntityTooLarge, fmt.Sprintf("body: larger than %d bytes", maxMintBody)
		case errors.Is(err, io.EOF):
			msg = `body: want a JSON object like {"username":"alice"}`
		}
		writeJSON(w, status, errorBody{msg})
		return
	}
	if dec.More() {
		writeJSON(w, http.StatusBadRequest, errorBody{"body: want exactly one JSON object"})
		return
	}
	if req.ExpiresIn < 0 || req.ExpiresIn > maxExpiresIn {
		writeJSON(w, http.StatusBadRequest, errorBody{fmt.Sprintf("expires_in: want 0 (the default) to %d seconds", maxExpiresIn)})
		return
	}
	if req.ClientID != "" && !slices.Contains(is.clientIDs, req.ClientID) {
		writeJSON(w, http.StatusBadRequest, errorBody{fmt.Sprintf("client_id %q is not a client of this pool", req.ClientID)})
		return
	}
	spec := TokenSpec{
		Use:      req.TokenUse,
		Username: req.Username,
		Groups:   req.Groups,
		Scopes:   req.Scopes,
		ClientID: req.ClientID,
		TTL:      time.Duration(req.ExpiresIn) * time.Second,
	}
	token, err := is.Mint(spec)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{err.Error()})
		return
	}
	// Mint accepted the username and groups, so neither call can fail.
	user, _ := is.User(req.Username)
	if req.Groups != nil {
		user, _ = is.SetGroups(req.Username, req.Groups...)
	}
	ttl := spec.TTL
	if ttl == 0 {
		ttl = is.ttl
	}
	use := spec.Use
	if use == "" {
		use = Access
	}
	groups := user.Groups
	if groups == nil {
		groups = []string{}
	}
	writeJSON(w, http.StatusOK, MintResponse{
		Token: token, TokenUse: use, TokenType: "Bearer", ExpiresIn: int64(ttl / time.Second),
		Sub: user.Sub, Username: user.Username, Groups: groups,
	})
}

type errorBody struct {
	Error string `json:"error"`
}

func methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	writeJSON(w, http.StatusMethodNotAllowed, errorBody{"method not allowed; use " + allow})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
