package http1

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/cognito-authz/cognito-authz/extauthz/internal/httptext"
)

// Response is what a Handler answers: a status, header lines and a body. The server adds
// Content-Length, and Connection when it closes the connection or keeps an HTTP/1.0 one.
type Response struct {
	Status int
	Fields []Field
	Body   string
}

// Add appends a header line.
func (w *Response) Add(name, value string) { w.Fields = append(w.Fields, Field{name, value}) }

func (w *Response) reset() {
	w.Status, w.Body = 0, ""
	clear(w.Fields) // drop what the last answer's strings keep alive
	w.Fields = w.Fields[:0]
}

// valid reports whether the answer can be written as it is and read one way: a final status
// (a 1xx would be read as interim, the real answer still to come) that may carry the
// Content-Length the server writes (204 and 304 may not), no framing header of the handler's
// beside the server's, and every header line a name that is a token and a value without a
// control character, so that no value can end its line and start another.
func (w *Response) valid() bool {
	if w.Status < 200 || w.Status > 599 || w.Status == http.StatusNoContent || w.Status == http.StatusNotModified {
		return false
	}
	for _, f := range w.Fields {
		if !httptext.IsToken(f.Name) || !fieldValue(f.Value) ||
			strings.EqualFold(f.Name, "content-length") || strings.EqualFold(f.Name, "transfer-encoding") || strings.EqualFold(f.Name, "connection") {
			return false
		}
	}
	return true
}

// appendTo appends the answer as it goes on the wire; a HEAD request's answer has no body, its
// Content-Length still the body's.
func (w *Response) appendTo(b []byte, head, close, keepAlive10 bool) []byte {
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(w.Status), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(w.Status)...)
	b = append(b, "\r\n"...)
	for _, f := range w.Fields {
		b = append(b, f.Name...)
		b = append(b, ": "...)
		b = append(b, f.Value...)
		b = append(b, "\r\n"...)
	}
	b = append(b, "Content-Length: "...)
	b = strconv.AppendInt(b, int64(len(w.Body)), 10)
	switch {
	case close:
		b = append(b, "\r\nConnection: close"...)
	case keepAlive10:
		b = append(b, "\r\nConnection: keep-alive"...)
	}
	b = append(b, "\r\n\r\n"...)
	if !head {
		b = append(b, w.Body...)
	}
	return b
}
