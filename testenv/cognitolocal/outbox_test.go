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

var (
	t0 = time.Date(2026, 12, 7, 3, 15, 0, 0, time.UTC)
	t1 = t0.Add(time.Second)
	t2 = t0.Add(2 * time.Second)
)

func TestOutboxSeesEachCodeOnce(t *testing.T) {
	carolCode := codeSlot{"local_pool", "carol", "ConfirmationCode"}
	aliceMFA := codeSlot{"local_pool", "alice", "MFACode"}
	var told []Message
	o := NewOutbox(func(m Message) { told = append(told, m) })
	o.see(carolCode, "", PurposeConfirmSignUp, t0)             // no code yet
	o.see(carolCode, "351124", PurposeConfirmSignUp, t0)       // a new code
	o.see(carolCode, "351124", PurposeConfirmSignUp, t1)       // still the same one: read again after another call
	o.see(aliceMFA, "506968", PurposeSMSMFA, t1)               // another user's
	o.see(carolCode, "000042", PurposeConfirmSignUp, t1)       // a new code replaces it
	o.see(carolCode, "", PurposeForgotPassword, t2)            // spent
	o.see(carolCode, "000042", PurposeForgotPassword, t2)      // the same digits again are a new code
	o.see(codeSlot{"p", "x", "ConfirmationCode"}, "1", "", t2) // no purpose: left out
	want := []Message{
		{t0, "carol", PurposeConfirmSignUp, "351124"},
		{t1, "alice", PurposeSMSMFA, "506968"},
		{t1, "carol", PurposeConfirmSignUp, "000042"},
		{t2, "carol", PurposeForgotPassword, "000042"},
	}
	if got := o.Messages(); !reflect.DeepEqual(got, want) {
		t.Errorf("outbox %+v\nwant %+v", got, want)
	}
	if !reflect.DeepEqual(told, want) {
		t.Errorf("OnCode was told %+v\nwant %+v", told, want)
	}
}

func TestConfirmationPurpose(t *testing.T) {
	tests := []struct{ action, status, want string }{
		{"SignUp", "UNCONFIRMED", PurposeConfirmSignUp},
		{"ResendConfirmationCode", "UNCONFIRMED", PurposeConfirmSignUp},
		{"ForgotPassword", "CONFIRMED", PurposeForgotPassword},
		{"ForgotPassword", "UNCONFIRMED", PurposeForgotPassword},
		{"GetUser", "UNCONFIRMED", PurposeConfirmSignUp},
		{"GetUser", "CONFIRMED", PurposeForgotPassword},
	}
	for _, tt := range tests {
		if got := confirmationPurpose(tt.action, tt.status); got != tt.want {
			t.Errorf("confirmationPurpose(%s, %s) = %s, want %s", tt.action, tt.status, got, tt.want)
		}
	}
}

// filledOutbox holds two sign-up codes for carol (the second replacing the first), an SMS code
// for alice and a reset code for carol.
func filledOutbox() *Outbox {
	o := NewOutbox(nil)
	o.see(codeSlot{"p", "carol", "ConfirmationCode"}, "111111", PurposeConfirmSignUp, t0)
	o.see(codeSlot{"p", "alice", "MFACode"}, "222222", PurposeSMSMFA, t0)
	o.see(codeSlot{"p", "carol", "ConfirmationCode"}, "333333", PurposeConfirmSignUp, t1)
	o.see(codeSlot{"p", "carol", "ConfirmationCode"}, "444444", PurposeForgotPassword, t2)
	return o
}

func TestOutboxServesTimedEntriesMarkingTheLatest(t *testing.T) {
	type entry struct {
		Time     string `json:"time"`
		Username string `json:"username"`
		Purpose  string `json:"purpose"`
		Code     string `json:"code"`
		Latest   bool   `json:"latest"`
	}
	const (
		at0 = "2026-12-07T03:15:00Z"
		at1 = "2026-12-07T03:15:01Z"
		at2 = "2026-12-07T03:15:02Z"
	)
	tests := []struct {
		query string
		want  []entry
	}{
		{"", []entry{
			{at0, "carol", PurposeConfirmSignUp, "111111", false},
			{at0, "alice", PurposeSMSMFA, "222222", true},
			{at1, "carol", PurposeConfirmSignUp, "333333", true},
			{at2, "carol", PurposeForgotPassword, "444444", true},
		}},
		{"?user=carol", []entry{
			{at0, "carol", PurposeConfirmSignUp, "111111", false},
			{at1, "carol", PurposeConfirmSignUp, "333333", true},
			{at2, "carol", PurposeForgotPassword, "444444", true},
		}},
		{"?user=carol&purpose=confirm_sign_up", []entry{
			{at0, "carol", PurposeConfirmSignUp, "111111", false},
			{at1, "carol", PurposeConfirmSignUp, "333333", true},
		}},
		{"?user=nobody", []entry{}},
	}
	o := filledOutbox()
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			rec := httptest.NewRecorder()
			o.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/outbox"+tt.query, nil))
			if ct := rec.Header().Get("Content-Type"); rec.Code != http.StatusOK || ct != "application/json" {
				t.Fatalf("%d %q, want 200 application/json", rec.Code, ct)
			}
			got := []entry{}
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("GET /outbox%s = %+v\nwant %+v", tt.query, got, tt.want)
			}
			// Readable in a browser: one member a line.
			if len(tt.want) > 0 && !strings.Contains(rec.Body.String(), "\n    \"username\": ") {
				t.Errorf("not indented:\n%s", rec.Body.String())
			}
		})
	}
	rec := httptest.NewRecorder()
	NewOutbox(nil).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/outbox", nil))
	if strings.TrimSpace(rec.Body.String()) != "[]" {
		t.Errorf("empty outbox: %q, want []", rec.Body.String())
	}
	rec = httptest.NewRecorder()
	o.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/outbox", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /outbox: %d, want 405", rec.Code)
	}
}

func TestOutboxAwait(t *testing.T) {
	o := NewOutbox(nil)
	o.see(codeSlot{"p", "carol", "ConfirmationCode"}, "351124", PurposeConfirmSignUp, t0)
	from := o.Len()
	if _, err := o.Await(t.Context(), from, "carol", PurposeConfirmSignUp, 0); err != context.DeadlineExceeded {
		t.Fatalf("Await found a code sent before from: err %v", err)
	}
	go func() {
		o.see(codeSlot{"p", "carol", "ConfirmationCode"}, "000042", PurposeForgotPassword, t1)
		o.see(codeSlot{"p", "carol", "ConfirmationCode"}, "123456", PurposeConfirmSignUp, t1)
	}()
	code, err := o.Await(t.Context(), from, "carol", PurposeConfirmSignUp, 10*time.Second)
	if err != nil || code != "123456" {
		t.Fatalf("Await = %q, %v; want the second sign-up code", code, err)
	}
}
