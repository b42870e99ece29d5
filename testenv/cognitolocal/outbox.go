package cognitolocal

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
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

// purposeOfTarget maps the API action during which cognito-local delivered a code to the code's
// purpose. Others (AdminCreateUser's welcome message, GetUserAttributeVerificationCode) are not
// part of the demo's journeys and are left out of the outbox.
var purposeOfTarget = map[string]string{
	"SignUp":            PurposeConfirmSignUp,
	"ForgotPassword":    PurposeForgotPassword,
	"InitiateAuth":      PurposeSMSMFA,
	"AdminInitiateAuth": PurposeSMSMFA,
}

// Message is one code the identity provider would have sent by email or SMS.
type Message struct {
	Username string `json:"username"`
	Purpose  string `json:"purpose"`
	Code     string `json:"code"`
}

// Outbox collects the codes cognito-local delivers, oldest first. Its zero value is empty and
// ready; it is safe for concurrent use.
type Outbox struct {
	mu       sync.Mutex
	messages []Message
	// onCode, when set, is called with each message as it arrives.
	onCode func(Message)

	// Parsing state: the box being read, if any.
	inBox  bool
	target string
	fields map[string]string
}

// cognito-local 3.23.3 "delivers" a code by logging a box (pino-pretty, coloured, boxen):
//
//	[1796079350284] INFO: 40d73fda SignUp ╭──────────────╮
//	│   Confirmation Code Delivery   │
//	│   Username:      carol         │
//	│   Destination:   carol@example.com │
//	│   Code:          351124        │
//	╰──────────────╯ {"reqId":"40d73fda","target":"SignUp"}
//
// The action on the first line says what the code is for.
var (
	ansiEscape = regexp.MustCompile("\x1b\\[[0-9;]*m")
	boxStart   = regexp.MustCompile(`\s(\w+) ╭─*╮\s*$`)
	boxField   = regexp.MustCompile(`^│\s+([A-Za-z][A-Za-z ]*):\s+(.*?)\s*│$`)
)

// readLine feeds one line of cognito-local's console output to the outbox.
func (o *Outbox) readLine(line string) {
	line = strings.TrimRight(ansiEscape.ReplaceAllString(line, ""), "\r\n ")
	if m := boxStart.FindStringSubmatch(line); m != nil {
		o.inBox, o.target, o.fields = true, m[1], map[string]string{}
		return
	}
	if !o.inBox {
		return
	}
	if strings.HasPrefix(line, "╰") {
		o.inBox = false
		purpose, known := purposeOfTarget[o.target]
		if known && o.fields["Code"] != "" && o.fields["Username"] != "" {
			o.add(Message{Username: o.fields["Username"], Purpose: purpose, Code: o.fields["Code"]})
		}
		return
	}
	if m := boxField.FindStringSubmatch(line); m != nil {
		o.fields[m[1]] = m[2]
	}
}

func (o *Outbox) add(m Message) {
	o.mu.Lock()
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

// Len is the number of messages so far: pass it to Await before the call that sends a code.
func (o *Outbox) Len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.messages)
}

// Await returns the code of the first message at index from or later for username and purpose,
// waiting up to timeout for it: cognito-local logs a code while it answers the call that sent it,
// and the log reaches the outbox a moment later.
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

// ServeHTTP answers GET with the messages as a JSON list, oldest first.
func (o *Outbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := json.Marshal(o.Messages())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(append(body, '\n'))
}
