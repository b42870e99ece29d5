package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cognito-authz/cognito-authz/testenv/childproc"
	"github.com/cognito-authz/cognito-authz/testenv/e2e"
)

// repoRoot is the repository, where the README's commands are typed (make build, bin/...).
const repoRoot = "../../.."

// readmeDemoSections are the README's sections whose shell lines run against a demo, and the
// demo each is for.
var readmeDemoSections = []struct{ heading, idp string }{
	{"### Check a token by hand", e2e.IdPCognitoLocal},
	{"#### With the builtin issuer", e2e.IdPBuiltin},
}

// shellBlock is a fenced ```sh block of the README and the plain ``` block after it, if any: what
// the commands print, "…" standing for anything.
type shellBlock struct {
	line     int // of the opening fence
	commands string
	output   []string
	checked  bool // an output block follows
}

// readmeSection returns the shell blocks of the section under heading, up to the next heading.
func readmeSection(t *testing.T, readme, heading string) []shellBlock {
	t.Helper()
	lines := strings.Split(readme, "\n")
	start := -1
	for i, l := range lines {
		if l == heading {
			start = i + 1
			break
		}
	}
	if start < 0 {
		t.Fatalf("README.md has no heading %q", heading)
	}
	var blocks []shellBlock
	lastEnd := -1 // the line after the last sh block's closing fence
	for i := start; i < len(lines); i++ {
		l := lines[i]
		if strings.HasPrefix(l, "#") {
			break // the next heading (a # inside a block is skipped below)
		}
		info, isFence := strings.CutPrefix(l, "```")
		if !isFence {
			continue
		}
		j := i + 1
		for j < len(lines) && lines[j] != "```" {
			j++
		}
		body := lines[i+1 : j]
		switch {
		case info == "sh":
			blocks = append(blocks, shellBlock{line: i + 1, commands: strings.Join(body, "\n")})
			lastEnd = j + 1
		case info == "" && len(blocks) > 0 && strings.TrimSpace(strings.Join(lines[lastEnd:i], "")) == "":
			blocks[len(blocks)-1].output, blocks[len(blocks)-1].checked = body, true
		}
		i = j
	}
	if len(blocks) == 0 {
		t.Fatalf("README.md's %q has no shell block", heading)
	}
	return blocks
}

// TestReadmeDemoShellLines types every shell line of the README's demo sections into bash, as a
// newcomer does: in the repository, with `make demo` running (here on a free port), after pasting
// the export lines it printed, and nothing else changed. Each block's output must be the one the
// README shows after it; a block the README shows no output for must succeed.
func TestReadmeDemoShellLines(t *testing.T) {
	if testing.Short() {
		t.Skip("runs make build and the demo: not with -short")
	}
	for _, tool := range []string{"bash", "curl", "python3", "make", "go"} {
		childproc.Tool{Name: tool, InstallHint: "the README's shell lines use it"}.Require(t)
	}
	raw, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, section := range readmeDemoSections {
		t.Run(section.idp, func(t *testing.T) {
			blocks := readmeSection(t, string(raw), section.heading)
			_, printed := startUp(t, "--port", "0", "--idp", section.idp)
			runShellBlocks(t, blocks, pastedExports(printed))
		})
	}
}

// pastedExports are the export lines up printed, as a person copies them.
func pastedExports(printed string) string {
	var exports []string
	for _, l := range strings.Split(printed, "\n") {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, "export ") {
			exports = append(exports, l)
		}
	}
	return strings.Join(exports, "\n")
}

// blockMark separates the blocks' outputs.
const blockMark = "@@readme-block-end rc="

func runShellBlocks(t *testing.T, blocks []shellBlock, exports string) {
	t.Helper()
	var script strings.Builder
	script.WriteString(exports + "\n")
	for _, b := range blocks {
		script.WriteString(b.commands + "\necho \"" + blockMark + "$?\"\n")
	}
	path := filepath.Join(t.TempDir(), "readme.sh")
	if err := os.WriteFile(path, []byte(script.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute) // make build, the first time
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", path)
	cmd.Dir = repoRoot
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bash: %v\n%s", err, out)
	}
	outputs := strings.Split(string(out), blockMark)
	if len(outputs) != len(blocks)+1 {
		t.Fatalf("the README's %d blocks printed %d outputs:\n%s", len(blocks), len(outputs)-1, out)
	}
	for i, b := range blocks {
		got := outputs[i]
		if i > 0 { // after the previous block's exit status
			_, got, _ = strings.Cut(got, "\n")
		}
		rcText, _, _ := strings.Cut(outputs[i+1], "\n")
		rc, _ := strconv.Atoi(rcText)
		gotLines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
		if got == "" {
			gotLines = nil
		}
		switch {
		case !b.checked && rc != 0:
			t.Errorf("README.md:%d exited %d:\n%s\n--- printed ---\n%s", b.line, rc, b.commands, got)
		case b.checked && !linesMatch(gotLines, b.output):
			t.Errorf("README.md:%d printed\n%s\nwant (as README.md shows after it)\n%s\n--- the block ---\n%s",
				b.line, got, strings.Join(b.output, "\n"), b.commands)
		}
	}
}

// linesMatch reports whether got are the lines of want, each "…" in want standing for any text.
func linesMatch(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	for i, w := range want {
		parts := strings.Split(w, "…")
		for j, p := range parts {
			parts[j] = regexp.QuoteMeta(p)
		}
		if !regexp.MustCompile("^" + strings.Join(parts, ".*") + "$").MatchString(got[i]) {
			return false
		}
	}
	return true
}
