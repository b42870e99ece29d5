// Command testsummary reads `go test -json` on stdin and writes what `go test` without -v would
// (one line per package, the output of failing tests), then, at the end, every failed and every
// skipped test with its reason and a closing count:
//
//	go test -json ./... | testsummary [-fail-on-skip]
//
// A skipped test is easy to miss in go test's own output, which names none without -v; `make test`
// runs its tests through this so that a skip is named at the end of every run. It exits 1 when a
// test or a build failed, or, with -fail-on-skip (CI), when any test skipped.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

func main() {
	failOnSkip := flag.Bool("fail-on-skip", false, "exit 1 when any test skipped (CI, where every test must run)")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: go test -json ./... | testsummary [-fail-on-skip]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	s := newSummary(os.Stdout)
	if err := s.read(os.Stdin); err != nil {
		fmt.Fprintf(os.Stderr, "testsummary: reading stdin: %v\n", err)
		os.Exit(1)
	}
	os.Exit(s.finish(*failOnSkip))
}

// event is what the summary reads of one line of `go test -json` (cmd/test2json), build events
// included.
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

// testKey names one test (or subtest) of one package.
type testKey struct{ pkg, test string }

// summary accumulates a run's events and writes its report.
type summary struct {
	w io.Writer

	output      map[testKey][]string // the output of each test still running, or of a package
	pkgSkips    map[string]int       // skipped tests per package, for its ok line
	failed      []testKey
	skipped     []skip
	passes      int
	brokenPkgs  int  // packages that failed outside any test: build errors, a panic in TestMain
	sawAnything bool // at least one event: an empty stream is a failure of the run itself
}

type skip struct {
	key    testKey
	reason string
}

func newSummary(w io.Writer) *summary {
	return &summary{w: w, output: map[testKey][]string{}, pkgSkips: map[string]int{}}
}

// read consumes the whole stream. A line that is not a test2json event (go vet's or the go
// command's own words) is passed through as it is.
func (s *summary) read(r io.Reader) error {
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			s.line(line)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func (s *summary) line(line []byte) {
	var e event
	if !bytes.HasPrefix(line, []byte("{")) || json.Unmarshal(line, &e) != nil || e.Action == "" {
		s.write(string(line))
		return
	}
	s.sawAnything = true
	switch {
	case e.Action == "build-output":
		s.write(e.Output) // the compiler's errors, as go test prints them
	case e.Action == "build-fail":
	case e.Test != "":
		s.testEvent(e)
	default:
		s.packageEvent(e)
	}
}

func (s *summary) testEvent(e event) {
	key := testKey{e.Package, e.Test}
	switch e.Action {
	case "output":
		s.output[key] = append(s.output[key], e.Output)
	case "pass":
		s.passes++
		delete(s.output, key)
	case "skip":
		s.skipped = append(s.skipped, skip{key, skipReason(s.output[key])})
		s.pkgSkips[e.Package]++
		delete(s.output, key)
	case "fail":
		s.failed = append(s.failed, key)
		s.writeFailure(s.output[key])
		delete(s.output, key)
	}
}

func (s *summary) packageEvent(e event) {
	key := testKey{pkg: e.Package}
	switch e.Action {
	case "output":
		s.output[key] = append(s.output[key], e.Output)
	case "pass", "skip", "fail":
		out := s.output[key]
		delete(s.output, key)
		if e.Action == "fail" {
			broken := true
			for _, f := range s.failed {
				if f.pkg == e.Package {
					broken = false // its failed tests have said why
					break
				}
			}
			if broken {
				s.brokenPkgs++
			}
			// What the package printed outside its tests: a panic, a timeout, TestMain's words.
			for _, o := range out {
				if !isResultLine(o) && o != "FAIL\n" && o != "PASS\n" && !strings.HasPrefix(o, "=== ") {
					s.write(o)
				}
			}
		}
		for _, o := range out {
			if isResultLine(o) {
				if n := s.pkgSkips[e.Package]; n > 0 && strings.HasPrefix(o, "ok  ") {
					o = strings.TrimSuffix(o, "\n") + fmt.Sprintf("\t(%d skipped)\n", n)
				}
				s.write(o)
			}
		}
	}
}

// isResultLine reports whether o is go test's one line about a package.
func isResultLine(o string) bool {
	return strings.HasPrefix(o, "ok  \t") || strings.HasPrefix(o, "FAIL\t") || strings.HasPrefix(o, "?   \t")
}

// skipReason is what a skipped test said: its output without the === and --- lines, on one line.
func skipReason(out []string) string {
	var lines []string
	for _, o := range out {
		t := strings.TrimSpace(o)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- SKIP") {
			continue
		}
		lines = append(lines, t)
	}
	if len(lines) == 0 {
		return "(no reason given)"
	}
	return strings.Join(lines, " | ")
}

func (s *summary) write(text string) { fmt.Fprint(s.w, text) }

// writeFailure writes a failing test's output right away, as go test does: its --- FAIL line first,
// then what it logged, without the === markers.
func (s *summary) writeFailure(out []string) {
	for _, o := range out {
		if strings.HasPrefix(o, "--- FAIL") {
			s.write(o)
		}
	}
	for _, o := range out {
		if !strings.HasPrefix(o, "=== ") && !strings.HasPrefix(o, "--- FAIL") {
			s.write(o)
		}
	}
}

// finish writes the closing report and returns the exit status.
func (s *summary) finish(failOnSkip bool) int {
	// Output of tests that never finished (the binary died under them) is all there is to go on.
	var unfinished []testKey
	for key := range s.output {
		if key.test != "" {
			unfinished = append(unfinished, key)
		}
	}
	slices.SortFunc(unfinished, func(a, b testKey) int { return strings.Compare(a.pkg+" "+a.test, b.pkg+" "+b.test) })
	for _, key := range unfinished {
		s.failed = append(s.failed, key)
		fmt.Fprintf(s.w, "--- UNFINISHED: %s %s\n", key.pkg, key.test)
		s.writeFailure(s.output[key])
	}

	fmt.Fprintln(s.w)
	if len(s.failed) > 0 {
		fmt.Fprintf(s.w, "FAILED (%d):\n", len(s.failed))
		for _, f := range s.failed {
			fmt.Fprintf(s.w, "  %s %s\n", f.pkg, f.test)
		}
	}
	if len(s.skipped) > 0 {
		verdict := "these did not run"
		if failOnSkip {
			verdict = "these did not run, and every test must (-fail-on-skip)"
		}
		fmt.Fprintf(s.w, "SKIPPED (%d): %s\n", len(s.skipped), verdict)
		for _, sk := range s.skipped {
			fmt.Fprintf(s.w, "  %s %s: %s\n", sk.key.pkg, sk.key.test, sk.reason)
		}
	}
	if s.brokenPkgs > 0 {
		fmt.Fprintf(s.w, "%d package(s) failed outside any test (build errors or a crash, above)\n", s.brokenPkgs)
	}
	if !s.sawAnything {
		fmt.Fprintln(s.w, "no test events on stdin: was it `go test -json`?")
	}
	fmt.Fprintf(s.w, "%d passed, %d failed, %d skipped\n", s.passes, len(s.failed), len(s.skipped))

	if len(s.failed) > 0 || s.brokenPkgs > 0 || !s.sawAnything || (failOnSkip && len(s.skipped) > 0) {
		return 1
	}
	return 0
}
