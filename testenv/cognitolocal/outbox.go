package cognitolocal

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/cognito-authz/cognito-authz/internal/poll"
)

// Purposes of a delivered code, as the outbox names them (docs/reference.md#local-stack-testenv-up).
const (
	PurposeConfirmSignUp  = "confirm_sign_up"
	PurposeForgotPassword = "forgot_password"
	PurposeSMSMFA         = "sms_mfa"
)

// Message is one code the identity provider would have sent by email or SMS.
type Message struct {
	// Time is when the outbox saw the code: as the call that made it was answered.
	Time     time.Time `json:"time"`
	Username string    `json:"username"`
	Purpose  string    `json:"purpose"`
	Code     string    `json:"code"`
}

// Entry is a message as the outbox serves it.
type Entry struct {
	Message
	// Latest says that no later code was sent to the same user for the same purpose: an older
	// one may already be spent or replaced.
	Latest bool `json:"latest"`
}

// Outbox collects the codes cognito-local delivers, oldest first: the Front reads them from the
// emulator's data file after each call, before the call's answer goes back. Its zero value is
// empty and ready; it is safe for concurrent use.
type Outbox struct {
	mu       sync.Mutex
	messages []Message
	// onCode, when set, is called with each message as it arrives.
	onCode func(Message)
	// seen is the code last read for each user and field of the data file, so that a code is
	// added once, when it first appears.
	seen map[codeSlot]string
}

// codeSlot is where the emulator keeps one user's code.
type codeSlot struct{ pool, username, field string }

// NewOutbox is an empty outbox that calls onCode, when not nil, with each message as it arrives;
// onCode must not block, since the Front calls it before the call's answer goes back.
func NewOutbox(onCode func(Message)) *Outbox { return &Outbox{onCode: onCode} }

// see records the code now in slot and adds a message when it is a new one. purpose is what the
// code is for.
func (o *Outbox) see(slot codeSlot, code, purpose string, now time.Time) {
	o.mu.Lock()
	if o.seen == nil {
		o.seen = map[codeSlot]string{}
	}
	last := o.seen[slot]
	o.seen[slot] = code
	if code == "" || code == last || purpose == "" {
		o.mu.Unlock()
		return
	}
	m := Message{Time: now.UTC().Truncate(time.Millisecond), Username: slot.username, Purpose: purpose, Code: code}
	o.messages = append(o.messages, m)
	onCode := o.onCode
	o.mu.Unlock()
	if onCode != nil {
		onCode(m)
	}
}

// Messages returns every message so far, oldest first.
func (o *Outbox) Messages() []Message {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]Message{}, o.messages...)
}

// Entries returns the messages for username and purpose ("" for any), oldest first, each marked
// whether it is the latest of its user and purpose.
func (o *Outbox) Entries(username, purpose string) []Entry {
	msgs := o.Messages()
	type key struct{ username, purpose string }
	latest := map[key]int{}
	for i, m := range msgs {
		latest[key{m.Username, m.Purpose}] = i
	}
	entries := []Entry{}
	for i, m := range msgs {
		if (username == "" || m.Username == username) && (purpose == "" || m.Purpose == purpose) {
			entries = append(entries, Entry{Message: m, Latest: latest[key{m.Username, m.Purpose}] == i})
		}
	}
	return entries
}

// Len is the number of messages so far: pass it to Await before the call that sends a code.
func (o *Outbox) Len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.messages)
}

// Await returns the code of the first message at index from or later for username and purpose,
// waiting up to timeout for it. Through the Front a code is in the outbox before the call that
// made it is answered; the wait is for a call still in flight.
func (o *Outbox) Await(ctx context.Context, from int, username, purpose string, timeout time.Duration) (string, error) {
	var code string
	err := poll.Until(ctx, timeout, func() bool {
		o.mu.Lock()
		defer o.mu.Unlock()
		for _, m := range o.messages[min(from, len(o.messages)):] {
			if m.Username == username && m.Purpose == purpose {
				code = m.Code
				return true
			}
		}
		return false
	})
	return code, err
}

// Query parameters of the outbox's GET.
const (
	OutboxUserParam    = "user"
	OutboxPurposeParam = "purpose"
)

// ServeHTTP answers GET with the entries as an indented JSON list, oldest first; ?user=carol
// and ?purpose=forgot_password narrow it.
func (o *Outbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	q := r.URL.Query()
	body, err := json.MarshalIndent(o.Entries(q.Get(OutboxUserParam), q.Get(OutboxPurposeParam)), "", "  ")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(append(body, '\n'))
}
