package images

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// repoRoot is the repository, two levels above this package.
var repoRoot = filepath.Join("..", "..")

// basesOfDockerfile are the images the Dockerfile's FROM lines pull (not its own stages).
func basesOfDockerfile(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var bases, stages []string
	for _, line := range strings.Split(string(raw), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 || !strings.EqualFold(fields[0], "FROM") {
			continue
		}
		fields = slices.DeleteFunc(fields[1:], func(f string) bool { return strings.HasPrefix(f, "--") })
		if !slices.Contains(stages, fields[0]) && !slices.Contains(bases, fields[0]) {
			bases = append(bases, fields[0])
		}
		if len(fields) == 3 && strings.EqualFold(fields[1], "AS") {
			stages = append(stages, fields[2])
		}
	}
	return bases
}

// pulledByCompose are the images docker-compose.yml names that no service of it builds.
func pulledByCompose(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Services map[string]struct {
			Image string
			Build any
		}
	}
	if err := yaml.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	var built, named []string
	for _, s := range file.Services {
		if s.Build != nil {
			built = append(built, s.Image)
		}
		named = append(named, s.Image)
	}
	var pulled []string
	for _, n := range named {
		if !slices.Contains(built, n) && !slices.Contains(pulled, n) {
			pulled = append(pulled, n)
		}
	}
	return pulled
}

// TestEveryBaseHasAStandIn: every image the Dockerfile and the compose file would pull is built
// here under the same name, and nothing else is; a version bumped in one place and not the other
// fails here rather than in a registry-less build.
func TestEveryBaseHasAStandIn(t *testing.T) {
	want := basesOfDockerfile(t)
	for _, n := range pulledByCompose(t) {
		if !slices.Contains(want, n) {
			want = append(want, n)
		}
	}
	got := Names()
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("stand-ins %q, want the images the Dockerfile and docker-compose.yml pull: %q", got, want)
	}
}
