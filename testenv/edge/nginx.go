package edge

import (
	"context"
	"errors"
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

	"github.com/cognito-authz/cognito-authz/testenv/envoyconf"
	"github.com/cognito-authz/cognito-authz/testenv/envoyproc"
	"github.com/cognito-authz/cognito-authz/testenv/poll"
)

// NginxBinaryEnv names the nginx binary to use instead of `nginx` on PATH or /usr/sbin/nginx.
const NginxBinaryEnv = "NGINX_BIN"

// NginxInstallHint says how to get the nginx the configuration is tested with.
const NginxInstallHint = "apt-get install -y nginx (Debian's package; or set NGINX_BIN)"

// FindNginx returns $NGINX_BIN when set (it must exist), else nginx on PATH, else Debian's
// /usr/sbin/nginx (not on a non-root PATH).
func FindNginx() (string, error) {
	if p := os.Getenv(NginxBinaryEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("edge: %s=%s: %w", NginxBinaryEnv, p, err)
		}
		return p, nil
	}
	if p, err := exec.LookPath("nginx"); err == nil {
		return p, nil
	}
	const debian = "/usr/sbin/nginx"
	if _, err := os.Stat(debian); err != nil {
		return "", errors.New("edge: nginx not on PATH nor at " + debian)
	}
	return debian, nil
}

// RequireNginx returns the nginx binary, or skips the test when there is none; with
// COGNITO_AUTHZ_REQUIRE_ENVOY=1 (CI: every real proxy required) a missing nginx fails it instead.
func RequireNginx(t testing.TB) string {
	t.Helper()
	bin, err := FindNginx()
	if err == nil {
		return bin
	}
	if os.Getenv(envoyproc.RequireEnv) == "1" {
		t.Fatalf("nginx not found (%s=1): %v; %s", envoyproc.RequireEnv, err, NginxInstallHint)
		return ""
	}
	t.Skipf("nginx not found: %s", NginxInstallHint)
	return ""
}

// Nginx is one running nginx (master process in the foreground, one worker).
type Nginx struct {
	cmd    *exec.Cmd
	dir    string
	url    string
	exited chan struct{}
	err    error // set before exited is closed
	once   sync.Once
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

// StartNginx renders the configuration for p onto a free loopback port (p.Listen is ignored), with
// every file nginx writes (pid, logs, temporary files) under dir, starts nginx in the foreground
// and waits until it accepts connections. ctx bounds the start only; call Stop to end it.
func StartNginx(ctx context.Context, bin, dir string, p Params) (*Nginx, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	p.Listen = envoyconf.Endpoint{Host: "127.0.0.1", Port: port}
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
	n := &Nginx{dir: dir, url: "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), exited: make(chan struct{})}
	n.cmd = exec.Command(bin, "-p", dir, "-c", mainPath, "-e", filepath.Join(dir, "error.log"))
	n.cmd.Stdout, n.cmd.Stderr = os.Stderr, os.Stderr
	n.cmd.SysProcAttr = envoyproc.ChildProcAttr()
	if err := n.cmd.Start(); err != nil {
		return nil, fmt.Errorf("edge: start %s: %w", bin, err)
	}
	go func() {
		n.err = n.cmd.Wait()
		close(n.exited)
	}()
	err = poll.Until(ctx, 30*time.Second, func() bool {
		select {
		case <-n.exited:
			return true
		default:
		}
		c, err := net.Dial("tcp", n.url[len("http://"):])
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
	select {
	case <-n.exited:
		return nil, fmt.Errorf("edge: nginx exited while starting: %v\n%s", n.err, n.Log())
	default:
	}
	if err != nil {
		_ = n.Stop()
		return nil, fmt.Errorf("edge: nginx not listening: %w\n%s", err, n.Log())
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
	fmt.Fprintf(&b, "    access_log %s;\n", filepath.Join(dir, "access.log"))
	for _, temp := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		fmt.Fprintf(&b, "    %s_temp_path %s;\n", temp, filepath.Join(dir, temp+"_temp"))
	}
	fmt.Fprintf(&b, "    include %s;\n}\n", site)
	return b.String()
}

// Stop ends nginx (SIGQUIT: finish requests, then exit; SIGKILL after 10s) and waits for it.
func (n *Nginx) Stop() error {
	var err error
	n.once.Do(func() {
		select {
		case <-n.exited:
			err = fmt.Errorf("nginx exited before Stop: %v", n.err)
			return
		default:
		}
		_ = n.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-n.exited:
		case <-time.After(10 * time.Second):
			_ = n.cmd.Process.Kill()
			<-n.exited
			err = errors.New("nginx ignored SIGQUIT for 10s and was killed")
		}
	})
	return err
}

// StartNginxTest starts nginx for a test (see RequireNginx), stops it when the test ends and
// prints its error log when the test failed.
func StartNginxTest(t testing.TB, p Params) *Nginx {
	t.Helper()
	bin := RequireNginx(t)
	dir := t.TempDir()
	n, err := StartNginx(t.Context(), bin, dir, p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Stop(); err != nil {
			t.Errorf("nginx: %v", err)
		}
		if t.Failed() {
			t.Logf("--- nginx error log ---\n%s", n.Log())
		}
	})
	return n
}

// freePort asks the kernel for a free loopback port. nginx cannot report a port it chose itself.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
