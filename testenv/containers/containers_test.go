package containers_test

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

	"github.com/cognito-authz/cognito-authz/testenv/containers"
	"github.com/cognito-authz/cognito-authz/testenv/images"
)

// dockerAsPodman runs the documented docker commands on podman: `docker compose` is podman-compose,
// any other docker command is podman's of the same name.
func dockerAsPodman(s *containers.Stack) string {
	return `docker() { if [ "$1" = compose ]; then shift; "` + s.Compose + `" "$@"; else "` + s.Podman + `" "$@"; fi; }` + "\n"
}

// shell runs script with bash -euo pipefail in the repository root, docker mapped to podman, and
// returns its output; the test fails on a non-zero exit.
func shell(t *testing.T, s *containers.Stack, script string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), containers.UpTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", dockerAsPodman(s)+script)
	cmd.Dir = s.Root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n--- script ---\n%s\n--- output ---\n%s", err, script, out)
	}
	return string(out)
}

// readmeBlock is the first ```sh block after heading in deploy/README.md.
func readmeBlock(t *testing.T, root, heading string) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root, "deploy", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	i := strings.Index(text, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("deploy/README.md has no heading %q", heading)
	}
	text = text[i:]
	start := strings.Index(text, "```sh\n")
	if start < 0 {
		t.Fatalf("no sh block under %q", heading)
	}
	text = text[start+len("```sh\n"):]
	return strings.Split(text[:strings.Index(text, "```")], "\n")
}

// TestImageAndComposeStack builds the image with deploy/README.md's commands, runs it as it is
// deployed, then brings the compose stack up and runs every command deploy/README.md and the
// compose file's comments print, as printed. The web app is driven through the same stack by
// testenv/webapp's TestComposeJourneyInChromium.
func TestImageAndComposeStack(t *testing.T) {
	if testing.Short() {
		t.Skip("builds images and runs containers: not with -short")
	}
	s := containers.Prepare(t)

	// Prepare has built the stand-ins, or found them: a second run builds nothing.
	results, err := images.Ensure(t.Context(), images.Options{Engine: s.Podman})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if r.Built {
			t.Errorf("%s was built again with nothing changed", r.Name)
		}
	}

	// Both targets, by the README's own commands.
	start := time.Now()
	shell(t, s, strings.Join(readmeBlock(t, s.Root, "## The image"), "\n"))
	t.Logf("both targets built in %s", time.Since(start).Round(time.Second))

	t.Run("image", func(t *testing.T) {
		describe, err := exec.Command("git", "-C", s.Root, "describe", "--tags", "--always").Output()
		if err != nil {
			t.Fatal(err)
		}
		// As deployed: read-only root, no capabilities, no privilege gain, the image's own user.
		run := "docker run --rm --read-only --cap-drop ALL --security-opt no-new-privileges cognito-authz:dev "
		if out := shell(t, s, run+"version"); !strings.Contains(out, strings.TrimSpace(string(describe))) {
			t.Errorf("version printed %q, want the stamped %s", out, describe)
		}
		if out := shell(t, s, `docker image inspect --format '{{.Config.User}}' cognito-authz:dev`); strings.TrimSpace(out) != "65532:65532" {
			t.Errorf("image user %q, want 65532:65532", out)
		}
		// The HEALTHCHECK's command reports unhealthy when nothing serves.
		cmd := exec.Command(s.Podman, "run", "--rm", "--read-only", "cognito-authz:dev", "healthcheck", "--addr", "127.0.0.1:9001")
		if out, err := cmd.CombinedOutput(); err == nil {
			t.Errorf("healthcheck with nothing serving succeeded: %s", out)
		}
		size := shell(t, s, `docker image inspect --format '{{.Size}}' cognito-authz:dev`)
		if n, err := strconv.ParseInt(strings.TrimSpace(size), 10, 64); err != nil || n > 64<<20 {
			t.Errorf("image size %q, want a number under 64 MiB", size)
		} else {
			t.Logf("cognito-authz:dev is %.1f MB", float64(n)/1e6)
		}
	})
	if t.Failed() {
		return
	}

	s.Up()
	authz := s.Containers()["authz"]
	demo := s.Containers()["demo"]

	t.Run("cognito-authz runs non-root, read-only, and is ready", func(t *testing.T) {
		got := shell(t, s, `docker inspect --format '{{.Config.User}} {{.HostConfig.ReadonlyRootfs}}' `+authz)
		if strings.TrimSpace(got) != "65532:65532 true" {
			t.Errorf("authz runs as user and read-only %q, want 65532:65532 true", got)
		}
		// The image's HEALTHCHECK command, inside the running container, and /readyz over the
		// compose network (the demo image has `testenv probe`; the authz image has no shell).
		shell(t, s, "docker exec "+authz+" /cognito-authz healthcheck --addr 127.0.0.1:9001")
		shell(t, s, "docker exec "+demo+" testenv probe http://authz:9090/readyz")
	})

	t.Run("deploy/README.md's commands", func(t *testing.T) {
		var script []string
		for _, line := range readmeBlock(t, s.Root, "## Compose") {
			// The stack is up already (podman 4.3 cannot --wait), and comes down at the end.
			if !strings.HasPrefix(line, "docker compose up") && !strings.HasPrefix(line, "docker compose down") {
				script = append(script, line)
			}
		}
		out := shell(t, s, strings.Join(script, "\n"))
		for _, want := range []*regexp.Regexp{
			regexp.MustCompile(`HTTP/1\.1 403`),
			regexp.MustCompile(`HTTP/1\.1 401`),
			regexp.MustCompile(`"username":\s*"alice"`),            // the outbox: alice's SMS code
			regexp.MustCompile(`"auth_status":\s*"authenticated"`), // bob's feed, alice's admin page
			regexp.MustCompile(`"admin":\s*true`),
		} {
			if !want.MatchString(out) {
				t.Errorf("the commands' output lacks %s:\n%s", want, out)
			}
		}
	})

	t.Run("the compose file's commands", func(t *testing.T) {
		raw, err := os.ReadFile(filepath.Join(s.Root, "docker-compose.yml"))
		if err != nil {
			t.Fatal(err)
		}
		command := regexp.MustCompile(`(?m)^\s*#   ((?:docker|curl|[A-Z_]+=)\S*.*)$`)
		var script []string
		for _, m := range command.FindAllStringSubmatch(string(raw), -1) {
			if !strings.HasPrefix(m[1], "docker compose up") {
				script = append(script, m[1])
			}
		}
		if len(script) < 4 {
			t.Fatalf("found only %q in the compose file's comments", script)
		}
		if out := shell(t, s, strings.Join(script, "\n")); !regexp.MustCompile(`"admin":\s*true`).MatchString(out) {
			t.Errorf("the compose file's commands never reached the admin page:\n%s", out)
		}
	})
}
