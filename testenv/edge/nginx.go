package edge

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cognito-authz/cognito-authz/testenv/childproc"
	"github.com/cognito-authz/cognito-authz/testenv/envoyconf"
)

// NginxBinaryEnv names the nginx binary to use instead of `nginx` on PATH or /usr/sbin/nginx.
const NginxBinaryEnv = "NGINX_BIN"

// NginxInstallHint says how to get the nginx the configuration is tested with.
const NginxInstallHint = "apt-get install -y nginx (Debian's package; or set NGINX_BIN)"

// NginxTool is nginx, as tests find it: $NGINX_BIN when set (it must exist), else nginx on PATH,
// else Debian's /usr/sbin/nginx (not on a non-root PATH). NginxTool.Require(t) skips a test
// without it, or fails it when childproc.RequireEnv is 1 (CI: every real proxy required).
var NginxTool = childproc.Tool{Name: "nginx", Env: NginxBinaryEnv, Fallback: "/usr/sbin/nginx", InstallHint: NginxInstallHint}

// Nginx is one running nginx (master process in the foreground, one worker).
type Nginx struct {
	proc *childproc.Proc
	dir  string
	url  string

	stopOnce sync.Once
	stopErr  error
}

// URL is the listener, e.g. http://127.0.0.1:41234.
func (n *Nginx) URL() string { return n.url }

// Log returns nginx's error log so far.
func (n *Nginx) Log() string {
	b, err := os.ReadFile(filepath.Join(n.dir, "error.log"))
	if err != nil {
		return fmt.Sprintf("(error log unreadable: %v)", err)
	}
	return string(b)
}

// AccessLogPath is nginx's access log.
func (n *Nginx) AccessLogPath() string { return filepath.Join(n.dir, "access.log") }

// StartNginx renders the configuration for p onto a free loopback port (p.Listen is ignored), with
// every file nginx writes (pid, logs, temporary files) under dir, starts nginx in the foreground
// and waits until it accepts connections. ctx bounds the start only; call Stop to end it.
func StartNginx(ctx context.Context, bin, dir string, p Params) (*Nginx, error) {
	port, err := childproc.FreePort()
	if err != nil {
		return nil, err
	}
	p.Listen = envoyconf.Endpoint{Host: "127.0.0.1", Port: port}
	p.AccessLog = filepath.Join(dir, "access.log")
	site, err := RenderNginx(p)
	if err != nil {
		return nil, err
	}
	sitePath := filepath.Join(dir, "cognito-authz.conf")
	if err := os.WriteFile(sitePath, site, 0o600); err != nil {
		return nil, err
	}
	mainPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(mainPath, []byte(mainConfig(dir, sitePath)), 0o600); err != nil {
		return nil, err
	}
	n := &Nginx{dir: dir, url: "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
	cmd := exec.Command(bin, "-p", dir, "-c", mainPath, "-e", filepath.Join(dir, "error.log"))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	// SIGQUIT: finish requests, then exit.
	if n.proc, err = childproc.Start(cmd, childproc.Options{Name: "nginx", StopSignal: syscall.SIGQUIT}); err != nil {
		return nil, fmt.Errorf("edge: %w", err)
	}
	err = n.proc.WaitReady(ctx, 30*time.Second, func(context.Context) bool {
		c, err := net.Dial("tcp", n.url[len("http://"):])
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
	if err != nil {
		_ = n.proc.Stop()
		return nil, fmt.Errorf("edge: nginx: %w\n%s", err, n.Log())
	}
	return n, nil
}

// mainConfig is the nginx.conf around the rendered site: foreground, everything under dir.
func mainConfig(dir, site string) string {
	var b strings.Builder
	b.WriteString("daemon off;\nworker_processes 1;\n")
	if os.Geteuid() == 0 {
		// As root nginx would run its worker as nobody, which cannot enter a private temp dir.
		b.WriteString("user root;\n")
	}
	fmt.Fprintf(&b, "pid %s;\nerror_log %s warn;\n", filepath.Join(dir, "nginx.pid"), filepath.Join(dir, "error.log"))
	b.WriteString("events { worker_connections 256; }\nhttp {\n")
	// nginx's default format (combined), which the site must replace: it logs the query string.
	fmt.Fprintf(&b, "    access_log %s;\n", filepath.Join(dir, "access.log"))
	for _, temp := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		fmt.Fprintf(&b, "    %s_temp_path %s;\n", temp, filepath.Join(dir, temp+"_temp"))
	}
	fmt.Fprintf(&b, "    include %s;\n}\n", site)
	return b.String()
}

// Stop ends nginx (SIGQUIT: finish requests, then exit; SIGKILL after 10s) and waits for it. An
// nginx that had already exited is an error, even a clean exit: it must run until stopped.
func (n *Nginx) Stop() error {
	n.stopOnce.Do(func() {
		select {
		case <-n.proc.Exited():
			n.stopErr = fmt.Errorf("nginx exited before Stop: %v", n.proc.Err())
		default:
			n.stopErr = n.proc.Stop()
		}
	})
	return n.stopErr
}

// StartNginxTest starts nginx for a test (see NginxTool), stops it when the test ends and
// prints its error log when the test failed.
func StartNginxTest(t testing.TB, p Params) *Nginx {
	t.Helper()
	bin := NginxTool.Require(t)
	dir := t.TempDir()
	n, err := StartNginx(t.Context(), bin, dir, p)
	if err != nil {
		t.Fatal(err)
	}
	childproc.StopAtEnd(t, "nginx", n, t.Errorf) // nginx must run until stopped
	return n
}

// MaxAuthAnswerBytes bounds the header block of cognito-authz's HTTP answer to a token of at most
// maxTokenBytes (max_token_bytes), which nginx must hold in one proxy_buffer_size buffer or answer
// 500 ("upstream sent too big header"):
//   - the token's payload segment is base64url of the claims' JSON, so the JSON is at most 3/4 of
//     the token;
//   - each identity header's value comes from its own claim and is no longer than that claim's
//     JSON, except that group and scope names have ',', '%' and whitespace percent-encoded, three
//     bytes for one: together at most three times the JSON;
//   - the claims header, when on, is the payload segment itself: at most the token;
//   - the rest (status line, header names, x-auth-status, the list of headers to remove, Date,
//     Cache-Control) is under 2 KB.
func MaxAuthAnswerBytes(maxTokenBytes int) int {
	claimsJSON := maxTokenBytes / 4 * 3
	return 3*claimsJSON + maxTokenBytes + 2<<10
}

// nginxSizes are the buffer sizes of the nginx configuration, for tokens of up to MaxTokenBytes.
type nginxSizes struct {
	MaxTokenBytes      int
	AnswerBytes        int    // MaxAuthAnswerBytes
	AnswerBuffer       string // proxy_buffer_size (and proxy_busy_buffers_size, which must be as large)
	BodyBuffer         string // proxy_buffers: 4 of them, 3 more than proxy_busy_buffers_size, as nginx requires
	ClientHeaderBuffer string // large_client_header_buffers: a Cookie line with an ID and an access token
}

func nginxSizesFor(maxTokenBytes int) nginxSizes {
	answer := kilobytesPow2(MaxAuthAnswerBytes(maxTokenBytes))
	return nginxSizes{
		MaxTokenBytes:      maxTokenBytes,
		AnswerBytes:        MaxAuthAnswerBytes(maxTokenBytes),
		AnswerBuffer:       fmt.Sprintf("%dk", answer),
		BodyBuffer:         fmt.Sprintf("%dk", answer/2),
		ClientHeaderBuffer: fmt.Sprintf("%dk", kilobytesPow2(2*maxTokenBytes+4<<10)),
	}
}

// kilobytesPow2 is the smallest power of two of kilobytes that holds n bytes.
func kilobytesPow2(n int) int {
	k := 1
	for k<<10 < n {
		k *= 2
	}
	return k
}
