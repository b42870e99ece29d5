package revocation

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// CallOutcome is what one GetUser call came to: a metric label.
type CallOutcome string

// Call outcomes. Only the first three are answers about the token; the others leave the check
// unavailable.
const (
	CallLive        CallOutcome = "live"         // 200 with a user
	CallRevoked     CallOutcome = "revoked"      // NotAuthorizedException (but for expiry) or UserNotFoundException
	CallExpired     CallOutcome = "expired"      // NotAuthorizedException: the token has expired by Cognito's clock
	CallThrottled   CallOutcome = "throttled"    // 429, TooManyRequestsException, LimitExceededException
	CallServerError CallOutcome = "server_error" // 5xx
	CallTimeout     CallOutcome = "timeout"      // no answer within the call's time
	CallError       CallOutcome = "error"        // no connection, or an answer that is none of the above
)

// CallOutcomes lists every outcome, so metrics can be pre-registered.
var CallOutcomes = []CallOutcome{CallLive, CallRevoked, CallExpired, CallThrottled, CallServerError, CallTimeout, CallError}

// answered reports whether o is Cognito's word on the token.
func (o CallOutcome) answered() bool { return o == CallLive || o == CallRevoked || o == CallExpired }

// The GetUser request's fixed parts (the AWS JSON 1.1 protocol).
const (
	contentType   = "application/x-amz-json-1.1"
	getUserTarget = "AWSCognitoIdentityProviderService.GetUser"
)

// maxAnswerBytes caps what is read of an answer: GetUser's is a user's attributes, a few
// kilobytes.
const maxAnswerBytes = 64 << 10

// Client calls Cognito's GetUser at one endpoint. The access token itself authorises the call: no
// AWS credentials are needed or sent. It is safe for concurrent use.
type Client struct {
	endpoint string
	http     *http.Client
}

// NewClient returns a client of endpoint (e.g. https://cognito-idp.us-east-1.amazonaws.com/)
// sending with hc, or with a client of its own when hc is nil.
func NewClient(endpoint string, hc *http.Client) *Client {
	if hc == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		// Every call goes to one host: keep enough connections for the rate limit's burst
		// instead of the default two, so a busy second does not open a TLS session per call.
		t.MaxIdleConnsPerHost = 64
		hc = &http.Client{Transport: t}
	}
	return &Client{endpoint: endpoint, http: hc}
}

// GetUser asks whether accessToken is live; ctx bounds the call. The error says why when the
// outcome is not an answer about the token; neither it nor anything else carries the token's
// text (Cognito's message is not kept: an emulator may echo the token in it).
func (c *Client) GetUser(ctx context.Context, accessToken string) (CallOutcome, error) {
	body, err := json.Marshal(struct{ AccessToken string }{accessToken})
	if err != nil {
		return CallError, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return CallError, fmt.Errorf("GetUser at %s: %w", c.endpoint, err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("X-Amz-Target", getUserTarget)
	resp, err := c.http.Do(req)
	if err != nil {
		if timedOut(ctx, err) {
			return CallTimeout, fmt.Errorf("GetUser at %s: no answer in time", c.endpoint)
		}
		return CallError, fmt.Errorf("GetUser at %s: %w", c.endpoint, transportError(err))
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		if timedOut(ctx, err) {
			return CallTimeout, fmt.Errorf("GetUser at %s: answer not read in time", c.endpoint)
		}
		return CallError, fmt.Errorf("GetUser at %s: reading the answer: %w", c.endpoint, transportError(err))
	}
	outcome, why := classify(resp, answer)
	if why != "" {
		return outcome, fmt.Errorf("GetUser at %s: %s", c.endpoint, why)
	}
	return outcome, nil
}

// classify reads a GetUser answer, giving why when it is not an answer about the token.
func classify(resp *http.Response, answer []byte) (CallOutcome, string) {
	var parsed struct {
		Type     string `json:"__type"`
		Message  string `json:"message"`
		Message2 string `json:"Message"`
		Username string `json:"Username"`
	}
	parseErr := json.Unmarshal(answer, &parsed)
	errType := errorType(parsed.Type, resp.Header.Get("X-Amzn-ErrorType"))
	switch {
	case resp.StatusCode == http.StatusOK:
		if parseErr != nil || parsed.Username == "" {
			// A 200 without a user is no GetUser answer (a wrong endpoint, a proxy's page):
			// taking it for "live" would turn the check off silently.
			return CallError, "200 without a user in it (is the endpoint a Cognito user-pool API?)"
		}
		return CallLive, ""
	case resp.StatusCode == http.StatusTooManyRequests || errType == "TooManyRequestsException" || errType == "LimitExceededException":
		return CallThrottled, fmt.Sprintf("throttled (%d %s)", resp.StatusCode, errType)
	case resp.StatusCode >= 500:
		return CallServerError, fmt.Sprintf("server error (%d %s)", resp.StatusCode, errType)
	case errType == "NotAuthorizedException":
		msg := parsed.Message + parsed.Message2
		// Cognito says "Access Token has expired" when its clock is past exp and ours (with
		// clock_skew) is not: that token is refused, but its sign-in was not revoked.
		if strings.Contains(strings.ToLower(msg), "expired") {
			return CallExpired, ""
		}
		// "Access Token has been revoked", "Invalid Access Token", "User is disabled.";
		// moto says "Invalid token" for a signed-out token.
		return CallRevoked, ""
	case errType == "UserNotFoundException":
		// The user was deleted: nothing of theirs is live.
		return CallRevoked, ""
	case parseErr != nil:
		return CallError, fmt.Sprintf("unreadable answer (%d, %s)", resp.StatusCode, resp.Header.Get("Content-Type"))
	default:
		return CallError, fmt.Sprintf("unexpected answer (%d %s)", resp.StatusCode, errType)
	}
}

// errorType is an AWS JSON error's bare type: from __type or the X-Amzn-ErrorType header, without
// the namespace (aws.foo#Name) or the header's :url suffix. It is cut short, since it goes into
// error text.
func errorType(bodyType, header string) string {
	t := bodyType
	if t == "" {
		t = header
	}
	if i := strings.LastIndexByte(t, '#'); i >= 0 {
		t = t[i+1:]
	}
	if i := strings.IndexByte(t, ':'); i >= 0 {
		t = t[:i]
	}
	if len(t) > 64 {
		t = t[:64]
	}
	return t
}

// timedOut reports whether a failed call ran out of time (its context's or a network timeout).
func timedOut(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// transportError drops the *url.Error wrapper, whose text repeats the method and URL that the
// caller's message already gives.
func transportError(err error) error {
	if inner := errors.Unwrap(err); inner != nil {
		return inner
	}
	return err
}

// defaultCallTimeout bounds one GetUser call, whoever waits for it: an answer that comes after
// the first caller gave up still serves those who joined later, and fills the cache.
const defaultCallTimeout = 5 * time.Second
