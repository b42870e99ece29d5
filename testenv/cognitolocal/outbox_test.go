package cognitolocal

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Console output of cognito-local 3.23.3 as it logs codes (pino-pretty colours included).
const (
	signUpBox = "[1796079350284] \x1b[32mINFO\x1b[39m: \x1b[36m40d73fda SignUp ╭──────────────────────────────╮\n" +
		"│                              │\n" +
		"│   Confirmation Code Delivery │\n" +
		"│                              │\n" +
		"│   Username:      carol       │\n" +
		"│   Destination:   carol@example.com │\n" +
		"│   Code:          351124      │\n" +
		"│                              │\n" +
		"╰──────────────────────────────╯\x1b[39m \x1b[90m{\"reqId\":\"40d73fda\",\"target\":\"SignUp\"}\x1b[39m\n"
	smsBox = "[1796079375470] INFO: e6ceba8f InitiateAuth ╭────────────────╮\n" +
		"│   Confirmation Code Delivery   │\n" +
		"│   Username:    alice           │\n" +
		"│   Destination: +15555550100    │\n" +
		"│   Code:        506968          │\n" +
		"╰────────────────╯ {\"reqId\":\"e6ceba8f\",\"target\":\"InitiateAuth\"}\n"
	codelessBox = "[1] INFO: 1 SignUp ╭──╮\n│   Username: carol │\n╰──╯\n"
	otherLog    = "[1796079341242] \x1b[32mINFO\x1b[39m: \x1b[36mNONE NONE Cognito Local running on http://127.0.0.1:19229\x1b[39m\n" +
		"│   Code: 999999 │\n" // a box line outside a box is ignored
)

var (
	forgotBox  = strings.NewReplacer("SignUp", "ForgotPassword", "351124", "000042").Replace(signUpBox)
	welcomeBox = strings.NewReplacer("SignUp", "AdminCreateUser").Replace(signUpBox)
)

func TestOutboxReadsDeliveredCodes(t *testing.T) {
	tests := []struct {
		name    string
		console string
		want    []Message
	}{
		{"sign-up confirmation", signUpBox, []Message{{"carol", PurposeConfirmSignUp, "351124"}}},
		{"SMS MFA at sign-in", smsBox, []Message{{"alice", PurposeSMSMFA, "506968"}}},
		{"forgot password", forgotBox, []Message{{"carol", PurposeForgotPassword, "000042"}}},
		{"oldest first", signUpBox + otherLog + smsBox + forgotBox, []Message{
			{"carol", PurposeConfirmSignUp, "351124"}, {"alice", PurposeSMSMFA, "506968"}, {"carol", PurposeForgotPassword, "000042"}}},
		{"an action the demo does not use is left out", welcomeBox, nil},
		{"a box without a code is left out", codelessBox, nil},
		{"other log lines", otherLog, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var seen []Message
			o := &Outbox{onCode: func(m Message) { seen = append(seen, m) }}
			for _, line := range strings.SplitAfter(tt.console, "\n") {
				o.readLine(line)
			}
			if got := o.Messages(); !reflect.DeepEqual(got, tt.want) && !(len(got) == 0 && len(tt.want) == 0) {
				t.Errorf("outbox %+v, want %+v", got, tt.want)
			}
			if !reflect.DeepEqual(seen, tt.want) {
				t.Errorf("OnCode saw %+v, want %+v", seen, tt.want)
			}
		})
	}
}

func TestOutboxServesJSONOldestFirst(t *testing.T) {
	o := &Outbox{}
	rec := httptest.NewRecorder()
	o.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/outbox", nil))
	if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != "[]" {
		t.Fatalf("empty outbox: %d %q, want 200 []", rec.Code, rec.Body.String())
	}
	for _, line := range strings.SplitAfter(smsBox+signUpBox, "\n") {
		o.readLine(line)
	}
	rec = httptest.NewRecorder()
	o.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/outbox", nil))
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("content-type %q", ct)
	}
	var got []map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := []map[string]string{
		{"username": "alice", "purpose": "sms_mfa", "code": "506968"},
		{"username": "carol", "purpose": "confirm_sign_up", "code": "351124"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("GET /outbox = %v, want %v", got, want)
	}
	rec = httptest.NewRecorder()
	o.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/outbox", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /outbox: %d, want 405", rec.Code)
	}
}

func TestOutboxAwait(t *testing.T) {
	o := &Outbox{}
	for _, line := range strings.SplitAfter(signUpBox, "\n") {
		o.readLine(line)
	}
	from := o.Len()
	if _, err := o.Await(t.Context(), from, "carol", PurposeConfirmSignUp, 0); err != context.DeadlineExceeded {
		t.Fatalf("Await found a code sent before from: err %v", err)
	}
	go func() {
		for _, line := range strings.SplitAfter(forgotBox+signUpBox, "\n") {
			o.readLine(line)
		}
	}()
	code, err := o.Await(t.Context(), from, "carol", PurposeConfirmSignUp, 10*time.Second)
	if err != nil || code != "351124" {
		t.Fatalf("Await = %q, %v; want the second sign-up code", code, err)
	}
}
