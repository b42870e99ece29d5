package webapp_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/cognito-authz/cognito-authz/internal/poll"
	"github.com/cognito-authz/cognito-authz/testenv/cognitoapi"
)

// cognitoCall is one call the page made to the Cognito user-pool API, as the browser sent it.
type cognitoCall struct {
	Method, ContentType, Target string
	AuthFlow, ChallengeName     string // from the JSON body
}

// wire records, from the browser's own network events (not from the page), every request the page
// sends to the Cognito API endpoint.
type wire struct {
	mu    sync.Mutex
	calls []cognitoCall
}

// recordCognitoCalls starts recording the requests of the tab in ctx whose URL contains endpoint.
func recordCognitoCalls(t *testing.T, ctx context.Context, endpoint string) *wire {
	t.Helper()
	w := &wire{}
	events := chromedp.Events(ctx, network.RequestWillBeSent)
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("enable network events: %v", err)
	}
	go func() {
		for ev, err := range events {
			if err != nil {
				return
			}
			if ev.Request == nil || !strings.Contains(ev.Request.URL, endpoint) {
				continue
			}
			w.add(ev.Request)
		}
	}()
	return w
}

func (w *wire) add(r *network.Request) {
	header := func(name string) string {
		for k, v := range r.Headers {
			if strings.EqualFold(k, name) {
				s, _ := v.(string)
				return s
			}
		}
		return ""
	}
	c := cognitoCall{Method: r.Method, ContentType: header("Content-Type"), Target: header("X-Amz-Target")}
	var body struct{ AuthFlow, ChallengeName string }
	var raw []byte
	for _, e := range r.PostDataEntries {
		raw = append(raw, e.Bytes...)
	}
	_ = json.Unmarshal(raw, &body) // an unreadable body leaves the fields empty, which checkWire reports
	c.AuthFlow, c.ChallengeName = body.AuthFlow, body.ChallengeName
	w.mu.Lock()
	w.calls = append(w.calls, c)
	w.mu.Unlock()
}

// await returns the calls once refreshes REFRESH_TOKEN_AUTH calls have been seen (the browser
// reports them asynchronously), or what was seen by pageTimeout.
func (w *wire) await(t *testing.T, ctx context.Context, refreshes int) []cognitoCall {
	t.Helper()
	var calls []cognitoCall
	_ = poll.Until(ctx, pageTimeout, func() bool {
		calls = w.snapshot()
		n := 0
		for _, c := range calls {
			if c.AuthFlow == "REFRESH_TOKEN_AUTH" {
				n++
			}
		}
		return n >= refreshes
	})
	return calls
}

func (w *wire) snapshot() []cognitoCall {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]cognitoCall(nil), w.calls...)
}

// checkWire checks that every call went out as Amplify sends it, that every action of the journey
// was used, and that the page refreshed exactly wantRefreshes times (no loop on a dead token).
func checkWire(t *testing.T, calls []cognitoCall, wantRefreshes int) {
	t.Helper()
	actions, flows := map[string]int{}, map[string]int{}
	for _, c := range calls {
		if c.Method != "POST" || c.ContentType != cognitoapi.ContentType || !strings.HasPrefix(c.Target, cognitoapi.TargetPrefix) {
			t.Errorf("a Cognito call not as Amplify sends it: %+v", c)
		}
		action := strings.TrimPrefix(c.Target, cognitoapi.TargetPrefix)
		actions[action]++
		if action == "InitiateAuth" {
			flows[c.AuthFlow]++
		}
		if action == "RespondToAuthChallenge" && c.ChallengeName != "SMS_MFA" {
			t.Errorf("challenge answered: %q, want SMS_MFA", c.ChallengeName)
		}
	}
	for _, a := range []string{"SignUp", "ConfirmSignUp", "InitiateAuth", "RespondToAuthChallenge",
		"ForgotPassword", "ConfirmForgotPassword", "RevokeToken"} {
		if actions[a] == 0 {
			t.Errorf("the page never called %s (calls: %v)", a, actions)
		}
	}
	if flows["USER_PASSWORD_AUTH"] == 0 || flows["REFRESH_TOKEN_AUTH"] != wantRefreshes || len(flows) != 2 {
		t.Errorf("InitiateAuth flows %v, want USER_PASSWORD_AUTH and %d REFRESH_TOKEN_AUTH", flows, wantRefreshes)
	}
}
