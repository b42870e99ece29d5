package http1

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cognito-authz/cognito-authz/internal/testkit"
)

type handlerFunc func(r *Request, w *Response)

func (f handlerFunc) ServeHTTP1(r *Request, w *Response) { f(r, w) }

// echo answers 200 naming the request it read.
func echo(r *Request, w *Response) {
	w.Status = http.StatusOK
	w.Add("X-Method", r.Method)
	w.Add("X-Target", r.Target)
	w.Body = "served " + r.Target
}

// refusedText answers a refusal with its reason as the body.
func refusedText(status int, why string, w *Response) {
	w.Status = status
	w.Add("Content-Type", "text/plain")
	w.Body = why
}

// start serves h on a loopback port until the test ends; then every connection must be done.
func start(t *testing.T, h Handler, opts Options) (*Server, string) {
	t.Helper()
	if opts.Refused == nil {
		opts.Refused = refusedText
	}
	s := NewServer(h, opts)
	t.Cleanup(s.active.Wait) // runs after ServeLoopback's Close
	return s, testkit.ServeLoopback(t, s)
}

var shortTimeouts = Options{HeadTimeout: 10 * time.Second, IdleTimeout: time.Minute, WriteTimeout: 10 * time.Second}

// client is one raw connection to the server.
type client struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(testkit.WaitTimeout))
	return &client{t, c, bufio.NewReader(c)}
}

func (c *client) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.c, s); err != nil {
		c.t.Fatalf("writing: %v", err)
	}
}

// sendAsync writes s from another goroutine, for writes larger than the socket buffers that the
// server may not read all of; the write's error is ignored since the server may close first.
func (c *client) sendAsync(s string) {
	go io.WriteString(c.c, s)
}

// read reads one answer to a request of method, body included.
func (c *client) read(method string) (*http.Response, string) {
	c.t.Helper()
	resp, err := http.ReadResponse(c.br, &http.Request{Method: method})
	if err != nil {
		c.t.Fatalf("reading an answer: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("reading an answer's body: %v", err)
	}
	return resp, string(body)
}

// expectServed reads the echo answer to a GET of target.
func (c *client) expectServed(target string) *http.Response {
	c.t.Helper()
	resp, body := c.read("GET")
	if resp.StatusCode != 200 || resp.Header.Get("X-Target") != target || body != "served "+target {
		c.t.Fatalf("answer %d %q %q, want 200 for %s", resp.StatusCode, resp.Header.Get("X-Target"), body, target)
	}
	return resp
}

// expectClosed waits for the server to close the connection, with nothing more sent.
func (c *client) expectClosed() {
	c.t.Helper()
	c.c.SetReadDeadline(time.Now().Add(testkit.WaitTimeout))
	var b [1]byte
	n, err := c.br.Read(b[:])
	switch {
	case n > 0:
		c.t.Fatalf("unexpected byte %q after the last answer", b[0])
	case errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET):
	default:
		c.t.Fatalf("connection not closed: %v", err)
	}
}

func get(target string, fields ...string) string {
	return "GET " + target + " HTTP/1.1\r\nHost: a\r\n" + strings.Join(fields, "") + "\r\n"
}

func TestKeepAliveServesEachRequestOnce(t *testing.T) {
	_, addr := start(t, handlerFunc(echo), shortTimeouts)
	c := dial(t, addr)
	for _, target := range []string{"/one", "/two", "/three"} {
		c.send(get(target))
		if resp := c.expectServed(target); resp.Close {
			t.Fatalf("%s: answer closes a kept-alive connection", target)
		}
	}
	c.send(get("/last", "Connection: close\r\n"))
	if resp := c.expectServed("/last"); !resp.Close {
		t.Fatal("answer to Connection: close does not say Connection: close")
	}
	c.expectClosed()
}

func TestPipelinedRequestsAnsweredInOrder(t *testing.T) {
	_, addr := start(t, handlerFunc(echo), shortTimeouts)
	c := dial(t, addr)
	targets := []string{"/a", "/b?x=1", "/c", "/d"}
	var all strings.Builder
	for _, target := range targets {
		all.WriteString(get(target))
	}
	all.WriteString(get("/end", "Connection: close\r\n"))
	c.send(all.String())
	for _, target := range append(targets, "/end") {
		c.expectServed(target)
	}
	c.expectClosed()
}

func TestHeadAnsweredWithoutBody(t *testing.T) {
	_, addr := start(t, handlerFunc(echo), shortTimeouts)
	c := dial(t, addr)
	c.send("HEAD /h HTTP/1.1\r\nHost: a\r\n\r\n" + get("/after"))
	resp, body := c.read("HEAD")
	if resp.StatusCode != 200 || body != "" || resp.ContentLength != int64(len("served /h")) {
		t.Fatalf("HEAD answered %d, Content-Length %d, body %q", resp.StatusCode, resp.ContentLength, body)
	}
	c.expectServed("/after") // no body bytes between the two answers
}

func TestHTTP10(t *testing.T) {
	_, addr := start(t, handlerFunc(echo), shortTimeouts)
	t.Run("closes without keep-alive", func(t *testing.T) {
		c := dial(t, addr)
		c.send("GET /x HTTP/1.0\r\n\r\n")
		if resp := c.expectServed("/x"); !resp.Close {
			t.Fatal("answer does not say Connection: close")
		}
		c.expectClosed()
	})
	t.Run("kept with keep-alive", func(t *testing.T) {
		c := dial(t, addr)
		for _, target := range []string{"/1", "/2"} {
			c.send("GET " + target + " HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
			if resp := c.expectServed(target); resp.Close || resp.Header.Get("Connection") != "keep-alive" {
				t.Fatalf("answer's Connection %q, want keep-alive", resp.Header.Get("Connection"))
			}
		}
		c.send("GET /3 HTTP/1.0\r\n\r\n")
		c.expectServed("/3")
		c.expectClosed()
	})
}

func TestBodyThrownAwayAndNextRequestServed(t *testing.T) {
	_, addr := start(t, handlerFunc(echo), shortTimeouts)
	body := strings.Repeat("b", 10000)
	t.Run("in one write", func(t *testing.T) {
		c := dial(t, addr)
		c.send("POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 10000\r\n\r\n" + body + get("/next"))
		c.read("POST")
		c.expectServed("/next")
	})
	t.Run("over several writes", func(t *testing.T) {
		c := dial(t, addr)
		c.send("POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 10000\r\n\r\n")
		c.read("POST") // answered before the body is read
		for part := range 5 {
			c.send(body[part*2000 : (part+1)*2000])
		}
		c.send(get("/next"))
		c.expectServed("/next")
	})
	t.Run("at MaxBodyBytes", func(t *testing.T) {
		c := dial(t, addr)
		c.send("POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: " + strconv.Itoa(MaxBodyBytes) + "\r\n\r\n")
		c.sendAsync(strings.Repeat("b", MaxBodyBytes) + get("/next"))
		c.read("POST")
		c.expectServed("/next")
	})
}

func TestExpectContinueAnsweredAndClosed(t *testing.T) {
	_, addr := start(t, handlerFunc(echo), shortTimeouts)
	c := dial(t, addr)
	c.send("POST /e HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
	resp, _ := c.read("POST")
	if resp.StatusCode != 200 || !resp.Close {
		t.Fatalf("answered %d, Close %v; want 200 and Connection: close", resp.StatusCode, resp.Close)
	}
	c.expectClosed()
}

// A connection closed after its answer while the client is still sending loses no answer to a
// reset: the server stops writing, then reads what comes for a moment before closing.
// An answer bigger than the socket buffers is still being sent when the connection closes.
func TestClosingAnswersSurviveUnreadBytes(t *testing.T) {
	bigAnswer := strings.Repeat("B", 8<<20)
	_, addr := start(t, handlerFunc(func(r *Request, w *Response) {
		echo(r, w)
		if r.Target == "/big-answer" {
			w.Body = bigAnswer
		}
	}), shortTimeouts)
	more := strings.Repeat("z", 200<<10)
	for _, tc := range []struct {
		name, head string
		status     int
	}{
		{"Connection close with a body", "POST /p HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: 60000\r\n\r\n", 200},
		{"Connection close with a body, big answer", "POST /big-answer HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: 60000\r\n\r\n", 200},
		{"Expect with the body sent anyway", "POST /p HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 60000\r\n\r\n", 200},
		{"Expect with the body sent anyway, big answer", "POST /big-answer HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 60000\r\n\r\n", 200},
		{"HTTP/1.0 with a pipelined request", "GET /p HTTP/1.0\r\n\r\n", 200},
		{"HTTP/1.0 with a pipelined request, big answer", "GET /big-answer HTTP/1.0\r\n\r\n", 200},
		{"malformed", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400},
		{"bare LF", "GET / HTTP/1.1\nHost: a\r\n\r\n", 400},
		{"body too large", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 65537\r\n\r\n", 413},
		{"Transfer-Encoding", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", 501},
		{"HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},
		{"no Host", "GET / HTTP/1.1\r\n\r\n", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, addr)
			c.sendAsync(tc.head + more)
			resp, body := c.read("POST")
			if resp.StatusCode != tc.status || !resp.Close {
				t.Fatalf("answered %d (%q), Close %v; want %d and Connection: close", resp.StatusCode, body, resp.Close, tc.status)
			}
			if tc.status != 200 && body == "" {
				t.Fatal("refusal without its reason")
			}
			if strings.Contains(tc.head, "/big-answer") && body != bigAnswer {
				t.Fatalf("answer cut to %d bytes", len(body))
			}
			c.expectClosed()
		})
	}
}

func TestHeadOverMaxHeadBytesAnswered431(t *testing.T) {
	_, addr := start(t, handlerFunc(echo), shortTimeouts)
	c := dial(t, addr)
	c.sendAsync("GET / HTTP/1.1\r\nHost: a\r\nCookie: " + strings.Repeat("c", MaxHeadBytes+100<<10))
	resp, _ := c.read("GET")
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge || !resp.Close {
		t.Fatalf("answered %d, Close %v; want 431 and Connection: close", resp.StatusCode, resp.Close)
	}
	c.expectClosed()
}

func TestHeadJustUnderMaxHeadBytesServed(t *testing.T) {
	_, addr := start(t, handlerFunc(echo), shortTimeouts)
	c := dial(t, addr)
	head := get("/big", "Cookie: ")
	pad := MaxHeadBytes - len(head) - len("\r\n")
	c.sendAsync(get("/big", "Cookie: "+strings.Repeat("c", pad)+"\r\n"))
	c.expectServed("/big")
}

func TestTimeouts(t *testing.T) {
	const short = 200 * time.Millisecond
	_, addr := start(t, handlerFunc(echo), Options{HeadTimeout: short, IdleTimeout: short, WriteTimeout: time.Second})
	t.Run("new connection that sends nothing", func(t *testing.T) {
		dial(t, addr).expectClosed()
	})
	t.Run("slowloris head", func(t *testing.T) {
		c := dial(t, addr)
		c.send("GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ")
		stop := make(chan struct{})
		defer close(stop)
		go func() { // a byte every 20ms, for longer than the test waits
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					if _, err := c.c.Write([]byte("s")); err != nil {
						return
					}
				}
			}
		}()
		c.expectClosed()
	})
	t.Run("slowloris head on a kept-alive connection", func(t *testing.T) {
		c := dial(t, addr)
		c.send(get("/first"))
		c.expectServed("/first")
		c.send("GET / HTTP/1.1\r\nHost: a\r\n")
		c.expectClosed()
	})
	t.Run("body that never ends", func(t *testing.T) {
		c := dial(t, addr)
		c.send("POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nab")
		c.read("POST")
		c.expectClosed()
	})
	t.Run("idle kept-alive connection", func(t *testing.T) {
		c := dial(t, addr)
		c.send(get("/first"))
		c.expectServed("/first")
		c.expectClosed()
	})
}

// Timeouts under the second that deadlines are renewed within still hold a busy connection open.
func TestShortTimeoutsKeepBusyConnectionServed(t *testing.T) {
	const short = 50 * time.Millisecond
	for name, opts := range map[string]Options{
		"idle":      {HeadTimeout: time.Minute, IdleTimeout: short, WriteTimeout: time.Minute},
		"write":     {HeadTimeout: time.Minute, IdleTimeout: time.Minute, WriteTimeout: short},
		"no bounds": {},
	} {
		t.Run(name, func(t *testing.T) {
			_, addr := start(t, handlerFunc(echo), opts)
			c := dial(t, addr)
			for began := time.Now(); time.Since(began) < 6*short; {
				c.send(get("/busy"))
				c.expectServed("/busy")
			}
		})
	}
}

func TestUnwritableAnswerWritten500(t *testing.T) {
	answers := []struct {
		target string
		answer func(w *Response)
	}{
		{"/crlf-in-value", func(w *Response) { w.Add("X-A", "v\r\nX-Injected: 1") }},
		{"/lf-in-value", func(w *Response) { w.Add("X-A", "v\nX-Injected: 1") }},
		{"/cr-in-value", func(w *Response) { w.Add("X-A", "v\rX-Injected: 1") }},
		{"/nul-in-value", func(w *Response) { w.Add("X-A", "v\x00") }},
		{"/space-in-name", func(w *Response) { w.Add("X Injected", "1") }},
		{"/colon-in-name", func(w *Response) { w.Add("X-Injected:", "1") }},
		{"/empty-name", func(w *Response) { w.Add("", "1") }},
		{"/status-0", func(w *Response) { w.Status = 0 }},
		{"/status-1000", func(w *Response) { w.Status = 1000 }},
		{"/status-101", func(w *Response) { w.Status = 101 }},
		{"/204-with-body", func(w *Response) { w.Status, w.Body = 204, "x" }},
		{"/304-with-body", func(w *Response) { w.Status, w.Body = 304, "x" }},
		{"/own-length", func(w *Response) { w.Add("content-length", "0") }},
		{"/own-chunking", func(w *Response) { w.Add("Transfer-Encoding", "chunked") }},
	}
	_, addr := start(t, handlerFunc(func(r *Request, w *Response) {
		echo(r, w)
		for _, a := range answers {
			if a.target == r.Target {
				a.answer(w)
			}
		}
	}), shortTimeouts)
	for _, a := range answers {
		t.Run(a.target, func(t *testing.T) {
			c := dial(t, addr)
			c.send(get(a.target))
			resp, _ := c.read("GET")
			if resp.StatusCode != 500 || resp.Header.Get("X-Injected") != "" || resp.Header.Get("X-A") != "" {
				t.Fatalf("answered %d with %q", resp.StatusCode, resp.Header)
			}
			c.send(get("/fine")) // and the connection serves on
			c.expectServed("/fine")
		})
	}
}

func TestHandlerPanicClosesOnlyItsConnection(t *testing.T) {
	_, addr := start(t, handlerFunc(func(r *Request, w *Response) {
		if r.Target == "/panic" {
			panic("handler bug")
		}
		echo(r, w)
	}), shortTimeouts)
	other := dial(t, addr)
	other.send(get("/before"))
	other.expectServed("/before")

	c := dial(t, addr)
	c.send(get("/panic"))
	c.expectClosed()

	other.send(get("/after"))
	other.expectServed("/after")
	fresh := dial(t, addr)
	fresh.send(get("/fresh"))
	fresh.expectServed("/fresh")
}

// blocking answers /block only when released, after saying it has begun.
type blocking struct{ began, release chan struct{} }

func newBlocking() *blocking { return &blocking{make(chan struct{}, 1), make(chan struct{})} }

func (b *blocking) ServeHTTP1(r *Request, w *Response) {
	if r.Target == "/block" {
		b.began <- struct{}{}
		<-b.release
	}
	echo(r, w)
}

func TestShutdown(t *testing.T) {
	t.Run("idle closed at once, in-flight answered, then returns", func(t *testing.T) {
		h := newBlocking()
		s, addr := start(t, h, shortTimeouts)
		idle := dial(t, addr)
		idle.send(get("/first"))
		idle.expectServed("/first")
		fresh := dial(t, addr) // connected, nothing sent
		testkit.Eventually(t, "both connections tracked", func() bool {
			s.mu.Lock()
			defer s.mu.Unlock()
			return len(s.conns) == 2
		})
		busy := dial(t, addr)
		busy.send(get("/block"))
		<-h.began

		shut := make(chan error, 1)
		go func() { shut <- s.Shutdown(context.Background()) }()
		idle.expectClosed()
		fresh.expectClosed()
		select {
		case err := <-shut:
			t.Fatalf("Shutdown returned %v before the request in flight was answered", err)
		default:
		}
		close(h.release)
		if resp := busy.expectServed("/block"); !resp.Close {
			t.Fatal("the answer in flight at Shutdown does not say Connection: close")
		}
		busy.expectClosed()
		if err := <-shut; err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if _, err := net.Dial("tcp", addr); err == nil {
			t.Fatal("still accepting after Shutdown")
		}
	})
	t.Run("ctx ending first closes everything", func(t *testing.T) {
		h := newBlocking()
		defer close(h.release)
		s, addr := start(t, h, shortTimeouts)
		busy := dial(t, addr)
		busy.send(get("/block"))
		<-h.began
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := s.Shutdown(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("Shutdown = %v, want context.Canceled", err)
		}
		busy.expectClosed()
	})
	t.Run("Serve after Shutdown", func(t *testing.T) {
		s := NewServer(handlerFunc(echo), Options{Refused: refusedText})
		if err := s.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Serve(lis); !errors.Is(err, http.ErrServerClosed) {
			t.Fatalf("Serve after Shutdown = %v, want http.ErrServerClosed", err)
		}
		if _, err := net.Dial("tcp", lis.Addr().String()); err == nil {
			t.Fatal("Serve after Shutdown left its listener open")
		}
	})
}

// A connection that once read a 1 MiB head keeps no more than its usual buffers after it.
func TestBigHeadNotKeptAfterwards(t *testing.T) {
	var s *Server
	type kept struct{ buf, out, fieldBytes, fieldsCap int }
	seen := make(chan kept, 1)
	s, addr := start(t, handlerFunc(func(r *Request, w *Response) {
		echo(r, w)
		if r.Target != "/small-2" {
			return
		}
		// On the connection's own goroutine: its fields are not moving.
		s.mu.Lock()
		defer s.mu.Unlock()
		for c := range s.conns {
			if &c.req != r {
				continue
			}
			k := kept{buf: cap(c.buf), out: cap(c.out), fieldsCap: cap(c.req.Fields)}
			for _, f := range c.req.Fields[:cap(c.req.Fields)] {
				k.fieldBytes += len(f.Name) + len(f.Value)
			}
			seen <- k
		}
	}), shortTimeouts)
	// 100 lines: few enough that their Fields are kept for the next request; 400: too many.
	for _, lines := range []int{100, 400} {
		var big strings.Builder
		for i := range lines {
			big.WriteString("X-Filler-" + strconv.Itoa(i) + ": " + strings.Repeat("f", 1000<<10/lines) + "\r\n")
		}
		for _, pipelined := range []bool{false, true} {
			c := dial(t, addr)
			if pipelined {
				c.sendAsync(get("/big", big.String()) + get("/small-1") + get("/small-2"))
			} else {
				c.sendAsync(get("/big", big.String()))
				c.expectServed("/big")
				c.send(get("/small-1"))
				c.expectServed("/small-1")
				c.send(get("/small-2"))
			}
			for _, target := range []string{"/big", "/small-1", "/small-2"}[map[bool]int{false: 2, true: 0}[pipelined]:] {
				c.expectServed(target)
			}
			k := <-seen
			if k.buf > keptBufBytes || k.out > keptBufBytes || k.fieldBytes > 4<<10 || k.fieldsCap > keptFields {
				t.Fatalf("%d lines, pipelined %v: after a 1 MiB head the connection keeps %+v", lines, pipelined, k)
			}
		}
	}
}
