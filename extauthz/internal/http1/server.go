package http1

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/zap"
)

// Handler answers one request. It may keep r's strings, not r.Fields or w.
type Handler interface {
	ServeHTTP1(r *Request, w *Response)
}

// Options shape a Server. A timeout of 0 is no bound.
type Options struct {
	// HeadTimeout bounds a request's head from its first byte, a body thrown away from the end of
	// the head (each on its own), and a new connection's wait for its first request.
	HeadTimeout time.Duration
	// IdleTimeout bounds a kept-alive connection's wait for its next request; 0 is no bound.
	IdleTimeout time.Duration
	// WriteTimeout bounds writing one answer, against a client that reads none.
	WriteTimeout time.Duration
	// Refused writes the answer to a request refused before the handler sees it (malformed,
	// framed with a body it cannot read), or to a handler's answer that cannot be written. By
	// default the answer is the status alone.
	Refused func(status int, why string, w *Response)
	// Panicked is told of a handler's panic (its connection is closed, without an answer); by
	// default the panic's type is logged.
	Panicked func(p any)
	Log      *zap.Logger
}

// Server serves Handler over HTTP/1.1 connections.
type Server struct {
	handler Handler
	opts    Options

	closing   atomic.Bool
	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	active    sync.WaitGroup // a count per open connection
}

// NewServer returns a Server for h.
func NewServer(h Handler, opts Options) *Server {
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	if opts.Refused == nil {
		opts.Refused = func(status int, _ string, w *Response) { w.Status = status }
	}
	if opts.Panicked == nil {
		log := opts.Log
		opts.Panicked = func(p any) {
			log.Error("serving a request panicked; connection closed", zap.String("panic", fmt.Sprintf("%T", p)))
		}
	}
	return &Server{handler: h, opts: opts, listeners: map[net.Listener]struct{}{}, conns: map[*conn]struct{}{}}
}

// Serve accepts connections on lis until Shutdown or Close, after which it returns
// http.ErrServerClosed, as net/http's does.
func (s *Server) Serve(lis net.Listener) error {
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		lis.Close()
		return http.ErrServerClosed
	}
	s.listeners[lis] = struct{}{}
	s.mu.Unlock()

	var backoff time.Duration
	for {
		rwc, err := lis.Accept()
		if err != nil {
			if s.closing.Load() {
				return http.ErrServerClosed
			}
			if !outOfResources(err) {
				return err
			}
			// Out of file descriptors or memory for a moment: wait, as net/http does, rather than
			// spin or stop serving.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.opts.Log.Warn("accepting a connection failed; retrying", zap.Error(err), zap.Duration("in", backoff))
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		if c := s.track(rwc); c != nil {
			go c.serve()
		}
	}
}

func outOfResources(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) || errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM)
}

// track registers a new connection, or closes it when the server is closing.
func (s *Server) track(rwc net.Conn) *conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		rwc.Close()
		return nil
	}
	c := &conn{s: s, rwc: rwc}
	s.conns[c] = struct{}{}
	s.active.Add(1)
	return c
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.active.Done()
}

// Shutdown stops accepting, closes connections waiting for a request, lets each request in
// progress be answered (its connection then closes), and returns once every connection is closed,
// or closes them all when ctx ends first.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closing.Store(true)
	s.mu.Lock()
	for lis := range s.listeners {
		lis.Close()
	}
	for c := range s.conns {
		// A connection marks itself idle after setting its own read deadline and before it
		// checks closing, so one of the two always sees the other (conn.readMore).
		if c.idle.Load() {
			c.rwc.SetReadDeadline(aLongTimeAgo)
		}
	}
	s.mu.Unlock()

	done := make(chan struct{})
	go func() { s.active.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.Close()
		return ctx.Err()
	}
}

// Close closes the listeners and every connection at once.
func (s *Server) Close() error {
	s.closing.Store(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	for lis := range s.listeners {
		lis.Close()
	}
	for c := range s.conns {
		c.rwc.Close()
	}
	return nil
}

var aLongTimeAgo = time.Unix(1, 0)

// conn is one connection and what it reuses from request to request.
type conn struct {
	s   *Server
	rwc net.Conn

	buf        []byte // bytes read; buf[start:end] not yet used
	start, end int
	req        Request
	resp       Response
	out        []byte

	idle      atomic.Bool // waiting for a request's first byte
	served    int
	headTimed bool // the head timeout runs for the head (or body) being read
	readKind  int  // the read deadline last set: idleDeadline, headDeadline or 0
	readSet   time.Time
	writeSet  time.Time
}

const (
	idleDeadline = iota + 1
	headDeadline
)

// Buffer sizes: a check's head from Envoy, with a token, fits the first; a connection that needed
// more gives it back after the request.
const (
	firstBufBytes = 4 << 10
	keptBufBytes  = 64 << 10
	keptFields    = 256
)

var crlfcrlf = []byte("\r\n\r\n")

func (c *conn) serve() {
	defer c.s.untrack(c)
	defer func() {
		if p := recover(); p != nil {
			c.s.opts.Panicked(p)
		}
		c.rwc.Close()
	}()
	for {
		head, err := c.readHead()
		if errors.Is(err, errHeadTooLarge) {
			c.req = Request{}
			c.refuse(http.StatusRequestHeaderFieldsTooLarge, "request head over 1 MiB")
		}
		if err != nil {
			return
		}
		if !c.answer(head) {
			return
		}
		c.served++
	}
}

var errHeadTooLarge = errors.New("request head too large")

// answer serves one request whose head has been read, and reports whether the connection may
// carry another.
func (c *conn) answer(head string) bool {
	c.resp.reset()
	if bad := parseHead(head, &c.req); bad != nil {
		c.refuse(bad.status, bad.why)
		return false
	}
	c.s.handler.ServeHTTP1(&c.req, &c.resp)
	if !c.resp.valid() {
		c.s.opts.Log.Error("a forward-auth answer has a header that cannot be written; answered 500 instead", zap.Int("status", c.resp.Status))
		c.resp.reset()
		c.s.opts.Refused(http.StatusInternalServerError, "answer not writable", &c.resp)
	}
	// A client that said Expect waits for a word before it sends its body: it gets the answer
	// and the connection closes, the body unread.
	closeAfter := c.req.close || c.req.expects && c.req.contentLength > 0 || c.s.closing.Load()
	if !c.write(closeAfter) {
		return false
	}
	if closeAfter {
		c.closeAfterAnswer()
		return false
	}
	ok := c.req.contentLength == 0 || c.discard(c.req.contentLength)
	c.release()
	return ok
}

// release gives back, once a request is done, what only a big one needed, and lets go of its
// head: an idle connection keeps neither a large buffer nor its last request's strings.
func (c *conn) release() {
	fields := c.req.Fields
	if cap(fields) > keptFields {
		fields = nil
	}
	clear(fields[:cap(fields)])
	c.req = Request{Fields: fields[:0]}
	if len(c.buf) > keptBufBytes {
		switch {
		case c.start == c.end:
			c.buf, c.start, c.end = nil, 0, 0
		case c.end-c.start <= firstBufBytes:
			// a little of the next request: moved to a buffer of the usual size
			small := make([]byte, firstBufBytes)
			c.end, c.start = copy(small, c.buf[c.start:c.end]), 0
			c.buf = small
		}
	}
}

// refuse answers a request that is not served and closes the connection.
func (c *conn) refuse(status int, why string) {
	c.resp.reset()
	c.s.opts.Refused(status, why, &c.resp)
	if c.write(true) {
		c.closeAfterAnswer()
	}
}

// closeAfterAnswer ends the connection's sending and reads for a moment what the client may still
// be sending (a body, a pipelined request), before the connection is closed: closed with bytes
// unread, it would be reset, and the end of the answer still being sent lost.
func (c *conn) closeAfterAnswer() {
	if tcp, ok := c.rwc.(*net.TCPConn); ok {
		tcp.CloseWrite()
	}
	c.rwc.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	io.CopyN(io.Discard, c.rwc, 256<<10)
}

// write writes the answer in one system call.
func (c *conn) write(closeAfter bool) bool {
	c.out = c.resp.appendTo(c.out[:0], c.req.Method == http.MethodHead, closeAfter, c.req.http10 && !closeAfter)
	if now := time.Now(); !standing(c.writeSet, now, c.s.opts.WriteTimeout) {
		c.writeSet = now
		c.rwc.SetWriteDeadline(deadline(now, c.s.opts.WriteTimeout))
	}
	_, err := c.rwc.Write(c.out)
	if cap(c.out) > keptBufBytes {
		c.out = nil
	}
	return err == nil
}

// readHead returns the next request's head, copied out of the buffer, up to and including the
// CRLF of its last header line.
func (c *conn) readHead() (string, error) {
	from := c.start
	for {
		if i := bytes.Index(c.buf[from:c.end], crlfcrlf); i >= 0 {
			at := from + i
			head := string(c.buf[c.start : at+2])
			c.start, c.headTimed = at+4, false
			if c.start == c.end {
				c.start, c.end = 0, 0
			}
			return head, nil
		}
		if c.end-c.start >= MaxHeadBytes {
			return "", errHeadTooLarge
		}
		from = max(c.start, c.end-3) - c.start // the CRLFCRLF may straddle two reads
		n, err := c.readMore()
		from += c.start // readMore may have moved the unread bytes to the front
		if n == 0 && err != nil {
			return "", err
		}
	}
}

// readMore reads into the buffer, making room first, under the deadline that applies: between
// requests the idle timeout; for a new connection, and from a head's first byte, the head timeout.
func (c *conn) readMore() (int, error) {
	if c.end == len(c.buf) {
		if c.start > 0 {
			c.end = copy(c.buf, c.buf[c.start:c.end])
			c.start = 0
		}
		if c.end == len(c.buf) {
			grown := make([]byte, min(max(2*len(c.buf), firstBufBytes), MaxHeadBytes+len(crlfcrlf)))
			copy(grown, c.buf[:c.end])
			c.buf = grown
		}
	}
	waiting := c.start == c.end
	switch {
	case waiting && c.served > 0:
		c.setReadDeadline(idleDeadline, c.s.opts.IdleTimeout)
	case !c.headTimed:
		c.setReadDeadline(headDeadline, c.s.opts.HeadTimeout)
		c.headTimed = true
	}
	if waiting {
		// Marked idle after the deadline is set and before closing is read: Shutdown sets
		// closing, then wakes the idle, so one of the two sees the other.
		c.idle.Store(true)
		if c.s.closing.Load() {
			c.idle.Store(false)
			return 0, http.ErrServerClosed
		}
	}
	n, err := c.rwc.Read(c.buf[c.end:])
	c.end += n
	if waiting {
		c.idle.Store(false)
	}
	return n, err
}

// setReadDeadline sets the read deadline to now+d (none for 0). The idle deadline is renewed
// only when it must be, as the write deadline is.
func (c *conn) setReadDeadline(kind int, d time.Duration) {
	now := time.Now()
	if kind == idleDeadline && c.readKind == idleDeadline && standing(c.readSet, now, d) {
		return
	}
	c.readKind, c.readSet = kind, now
	c.rwc.SetReadDeadline(deadline(now, d))
}

// standing reports whether a deadline of d set at set may stand at now rather than be set again:
// a timer change per request costs more than a second of slack on a bound of several, so it is
// renewed at most once a second, but before half of d has passed, so that a bound under two
// seconds still holds.
func standing(set, now time.Time, d time.Duration) bool {
	return !set.IsZero() && (d == 0 || now.Sub(set) < min(time.Second, d/2))
}

// deadline is now+d, or none for 0.
func deadline(now time.Time, d time.Duration) time.Time {
	if d == 0 {
		return time.Time{}
	}
	return now.Add(d)
}

// discard reads and throws away n bytes of body, within the head timeout.
func (c *conn) discard(n int64) bool {
	for {
		k := min(n, int64(c.end-c.start))
		c.start += int(k)
		n -= k
		if n == 0 {
			c.headTimed = false
			return true
		}
		c.start, c.end = 0, 0
		if !c.headTimed {
			c.setReadDeadline(headDeadline, c.s.opts.HeadTimeout)
			c.headTimed = true
		}
		if len(c.buf) == 0 {
			c.buf = make([]byte, firstBufBytes)
		}
		read, err := c.rwc.Read(c.buf)
		c.end = read
		if read == 0 && err != nil {
			return false
		}
	}
}
