package verifier

import (
	"errors"
	"fmt"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/reason"
)

// Error is why a token was rejected: a stable reason code and a message that names what is wrong.
// The message never contains the token or its signature.
type Error struct {
	Reason  reason.Code
	Message string
}

func (e *Error) Error() string { return string(e.Reason) + ": " + e.Message }

func fail(code reason.Code, format string, args ...any) *Error {
	return &Error{Reason: code, Message: fmt.Sprintf(format, args...)}
}

// ReasonOf returns the reason code carried by err. An error that is not an *Error (which Verify
// never returns) counts as malformed, so a caller that maps reasons to answers fails closed.
func ReasonOf(err error) reason.Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return reason.Malformed
}
