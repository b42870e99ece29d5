package cognitolocal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cognito-authz/cognito-authz/internal/poll"
	"github.com/cognito-authz/cognito-authz/testenv/cognitoapi"
)

// Front is an HTTP proxy in front of a cognito-local that makes it answer more as Cognito does,
// for everything that reaches the emulator through it (the stack's Envoy route, the seeding, the
// tests):
//   - SignUp and ConfirmForgotPassword refuse a password the pool's policy does not allow, with
//     Cognito's InvalidPasswordException and message (the emulator accepts any password);
//   - ResendConfirmationCode sends a new sign-up code that replaces the old one (the emulator
//     answers "unsupported");
//   - a wrong password at sign-in is NotAuthorizedException, "Incorrect username or password.",
//     as Cognito answers (the emulator says InvalidPasswordException, which Cognito keeps for a
//     password its policy refuses);
//   - after every call, before its answer goes back, the codes the emulator stored for the
//     call's user in its data file are added to the Outbox. The emulator writes its data file
//     before it answers, while its console log of a code can lag until a later request.
//
// Everything else passes through unchanged. It needs the emulator's address and its data
// directory, and nothing of how the emulator was started, so it serves as well in front of an
// emulator in a container (with the data directory shared).
type Front struct {
	proxy   *httputil.ReverseProxy
	api     *cognitoapi.Client
	dataDir string
	policy  cognitoapi.PasswordPolicy
	outbox  *Outbox
	logf    func(format string, args ...any)
}

// FrontOptions configure a Front.
type FrontOptions struct {
	// Upstream is the emulator, e.g. http://127.0.0.1:9229.
	Upstream string
	// DataDir is the emulator's data directory (.cognito/db in its working directory), which holds
	// clients.json and one <pool id>.json per pool.
	DataDir string
	// PasswordPolicy is the policy SignUp and ConfirmForgotPassword enforce: the one the pool
	// declares (DemoPasswordPolicy for the seeded pool).
	PasswordPolicy cognitoapi.PasswordPolicy
	// Outbox receives the codes; required.
	Outbox *Outbox
	// Logf, when set, is told about a data file the Front could not read.
	Logf func(format string, args ...any)
}

// maxCallBytes caps a Cognito API request body: the calls are a few kilobytes.
const maxCallBytes = 1 << 20

// dataReadTimeout bounds the wait for a complete data file: the emulator rewrites it in place,
// so a read can meet it half written.
const dataReadTimeout = 2 * time.Second

// NewFront makes a Front for the emulator at o.Upstream.
func NewFront(o FrontOptions) (*Front, error) {
	upstream, err := url.Parse(o.Upstream)
	if err != nil || upstream.Host == "" {
		return nil, errors.New("cognito-local front: upstream " + o.Upstream + " is not a URL")
	}
	if o.Outbox == nil || o.DataDir == "" {
		return nil, errors.New("cognito-local front: an outbox and the emulator's data directory are required")
	}
	// Only the emulator is asked; a proxy from the environment never is.
	transport := &http.Transport{Proxy: nil}
	f := &Front{
		api:     &cognitoapi.Client{URL: upstream.String(), HTTP: &http.Client{Timeout: 10 * time.Second, Transport: transport}},
		dataDir: o.DataDir,
		policy:  o.PasswordPolicy,
		outbox:  o.Outbox,
		logf:    o.Logf,
	}
	f.proxy = &httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(upstream) },
		Transport: transport,
		// The emulator has answered, so it has written its data file: read the codes now, before
		// the answer reaches the caller, who may look in the outbox at once.
		ModifyResponse: func(resp *http.Response) error {
			c, ok := resp.Request.Context().Value(callKey{}).(apiCall)
			if !ok {
				return nil
			}
			f.collect(resp.Request.Context(), c)
			return wrongPasswordAsCognito(resp, c.action)
		},
	}
	return f, nil
}

// apiCall is what the Front reads of a Cognito API request.
type apiCall struct {
	action             string
	ClientId           string
	UserPoolId         string
	Username           string
	Password           string
	AuthParameters     map[string]string
	ChallengeResponses map[string]string
}

// username is the user the call is about.
func (c apiCall) username() string {
	switch {
	case c.Username != "":
		return c.Username
	case c.AuthParameters["USERNAME"] != "":
		return c.AuthParameters["USERNAME"]
	}
	return c.ChallengeResponses["USERNAME"]
}

type callKey struct{}

// ServeHTTP passes a request to the emulator, answering what the emulator would not answer as
// Cognito does itself (see Front).
func (f *Front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	action, isCall := strings.CutPrefix(r.Header.Get("X-Amz-Target"), cognitoapi.TargetPrefix)
	if r.Method != http.MethodPost || !isCall {
		f.proxy.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxCallBytes+1))
	if err != nil {
		return // the caller went away
	}
	if len(body) > maxCallBytes {
		writeError(w, http.StatusRequestEntityTooLarge, "SerializationException", "request body too large")
		return
	}
	c := apiCall{}
	_ = json.Unmarshal(body, &c) // a body the emulator cannot read is its to refuse
	c.action = action
	switch action {
	case "SignUp", "ConfirmForgotPassword":
		if problem := f.policy.Violation(c.Password); problem != "" {
			writeError(w, http.StatusBadRequest, cognitoapi.InvalidPasswordException, problem)
			return
		}
	case "ResendConfirmationCode":
		f.resendConfirmationCode(w, r.Context(), c)
		return
	}
	r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	f.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), callKey{}, c)))
}

// resendConfirmationCode answers ResendConfirmationCode for an unconfirmed user: cognito-local's
// ForgotPassword makes, stores and "sends" a new code the same way SignUp does, replacing the
// old one, and leaves the user unconfirmed, so ConfirmSignUp then takes the new code and only it.
func (f *Front) resendConfirmationCode(w http.ResponseWriter, ctx context.Context, c apiCall) {
	poolID, err := f.poolOfClient(ctx, c.ClientId)
	if err != nil || poolID == "" {
		writeError(w, http.StatusBadRequest, "ResourceNotFoundException", "User pool client "+c.ClientId+" does not exist.")
		return
	}
	users, err := f.users(ctx, poolID)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "InternalErrorException", err.Error())
		return
	}
	u, ok := users[c.Username]
	switch {
	case !ok:
		writeError(w, http.StatusBadRequest, "UserNotFoundException", "Username/client id combination not found.")
		return
	case u.UserStatus != "UNCONFIRMED":
		writeError(w, http.StatusBadRequest, "InvalidParameterException", "User is already confirmed.")
		return
	}
	var out json.RawMessage
	if err := f.api.Call(ctx, "ForgotPassword", map[string]string{"ClientId": c.ClientId, "Username": c.Username}, &out); err != nil {
		if apiErr := (*cognitoapi.Error)(nil); errors.As(err, &apiErr) {
			writeError(w, apiErr.Status, apiErr.Type, apiErr.Message)
		} else {
			writeError(w, http.StatusBadGateway, "InternalErrorException", err.Error())
		}
		return
	}
	f.collect(ctx, c)
	w.Header().Set("Content-Type", cognitoapi.ContentType)
	_, _ = w.Write(out)
}

// wrongPasswordAsCognito rewrites the emulator's refusal of a wrong password at sign-in
// (InvalidPasswordException) into Cognito's.
func wrongPasswordAsCognito(resp *http.Response, action string) error {
	if resp.StatusCode != http.StatusBadRequest || (action != "InitiateAuth" && action != "AdminInitiateAuth") {
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxCallBytes))
	resp.Body.Close()
	if err != nil {
		return err
	}
	var refusal struct {
		Type string `json:"__type"`
	}
	if json.Unmarshal(body, &refusal) == nil && refusal.Type == cognitoapi.InvalidPasswordException {
		const notAuthorized = "NotAuthorizedException"
		body = errorBody(notAuthorized, "Incorrect username or password.")
		resp.Header.Set("X-Amzn-ErrorType", notAuthorized+":")
	}
	resp.Body, resp.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return nil
}

// writeError answers as Cognito refuses a call.
func writeError(w http.ResponseWriter, status int, errType, message string) {
	w.Header().Set("Content-Type", cognitoapi.ContentType)
	w.Header().Set("X-Amzn-ErrorType", errType+":")
	w.WriteHeader(status)
	_, _ = w.Write(errorBody(errType, message))
}

// errorBody is the body of Cognito's refusal.
func errorBody(errType, message string) []byte {
	body, _ := json.Marshal(map[string]string{"__type": errType, "message": message}) // strings always marshal
	return body
}

// emulatorUser is what the Front reads of a user in the emulator's data file.
type emulatorUser struct {
	UserStatus       string
	ConfirmationCode string
	MFACode          string
}

// collect adds the codes the emulator now holds for c's user to the outbox.
func (f *Front) collect(ctx context.Context, c apiCall) {
	username, poolID := c.username(), c.UserPoolId
	if username == "" {
		return
	}
	if poolID == "" {
		var err error
		if poolID, err = f.poolOfClient(ctx, c.ClientId); err != nil || poolID == "" {
			return // an unknown client: the emulator refused the call
		}
	}
	users, err := f.users(ctx, poolID)
	if err != nil {
		if f.logf != nil {
			f.logf("outbox: %v", err)
		}
		return
	}
	u, ok := users[username]
	if !ok {
		return
	}
	now := time.Now()
	f.outbox.see(codeSlot{poolID, username, "ConfirmationCode"}, u.ConfirmationCode, confirmationPurpose(c.action, u.UserStatus), now)
	f.outbox.see(codeSlot{poolID, username, "MFACode"}, u.MFACode, PurposeSMSMFA, now)
}

// confirmationPurpose is what a ConfirmationCode stored during action is for: the emulator keeps
// sign-up and password-reset codes in the same field.
func confirmationPurpose(action, userStatus string) string {
	switch action {
	case "SignUp", "ResendConfirmationCode":
		return PurposeConfirmSignUp
	case "ForgotPassword":
		return PurposeForgotPassword
	}
	if userStatus == "UNCONFIRMED" {
		return PurposeConfirmSignUp
	}
	return PurposeForgotPassword
}

// poolOfClient is the pool of an app client, from the emulator's clients.json.
func (f *Front) poolOfClient(ctx context.Context, clientID string) (string, error) {
	var clients struct {
		Clients map[string]struct{ UserPoolId string }
	}
	if err := f.readData(ctx, "clients.json", &clients); err != nil {
		return "", err
	}
	return clients.Clients[clientID].UserPoolId, nil
}

// users are a pool's users by username, from the emulator's <pool id>.json.
func (f *Front) users(ctx context.Context, poolID string) (map[string]emulatorUser, error) {
	if poolID != filepath.Base(poolID) || strings.HasPrefix(poolID, ".") {
		return nil, errors.New("not a pool id: " + poolID)
	}
	var pool struct{ Users map[string]emulatorUser }
	err := f.readData(ctx, poolID+".json", &pool)
	return pool.Users, err
}

// readData decodes one of the emulator's data files, waiting out a read that meets it half
// written.
func (f *Front) readData(ctx context.Context, name string, v any) error {
	path := filepath.Join(f.dataDir, name)
	var last error
	err := poll.Until(ctx, dataReadTimeout, func() bool {
		raw, err := os.ReadFile(path)
		if err == nil {
			err = json.Unmarshal(raw, v)
		}
		last = err
		return err == nil || errors.Is(err, os.ErrNotExist)
	})
	if last != nil {
		return last
	}
	return err
}
