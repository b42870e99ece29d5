package main

import (
	"context"
	"io"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cognito-authz/cognito-authz/extauthz"
)

// referencePath is the user reference every name below must appear in.
const referencePath = "../../docs/reference.md"

// TestReferenceNamesEverything fails when the code defines a name users meet that
// docs/reference.md does not name, in the section where a user would look for it: every
// subcommand and each of its flags (read from the flag sets, through COMMAND -h), every key of the
// configuration file (the yaml tags of extauthz.Config), every reason code (extauthz.ReasonCodes), every check
// result (extauthz.Results) and every metric the service registers (the registry's descriptors). A
// name is named when it appears in backquotes: `--listen`, `jwks.max_bytes`, `expired`,
// `cognito_authz_checks_total`. New flags, keys, reasons and metrics are found by themselves; only
// the reference needs writing.
func TestReferenceNamesEverything(t *testing.T) {
	data, err := os.ReadFile(referencePath)
	if err != nil {
		t.Fatal(err)
	}
	ref := string(data)

	t.Run("commands and flags", func(t *testing.T) {
		commands := section(t, ref, "Commands")
		for _, cmd := range subcommands(t) {
			if !strings.Contains(commands, "cognito-authz "+cmd) && !strings.Contains(commands, "cognito-authz ["+cmd+"]") {
				t.Errorf("command %s is not in the reference's Commands section", cmd)
			}
			for _, flag := range flagsOf(t, cmd) {
				if !named(commands, "--"+flag) {
					t.Errorf("flag --%s of %s is not in the reference's Commands section", flag, cmd)
				}
			}
		}
	})

	t.Run("configuration keys", func(t *testing.T) {
		file := section(t, ref, "Configuration file")
		keys := yamlKeys(reflect.TypeFor[extauthz.Config](), "")
		if len(keys) < 20 {
			t.Fatalf("found only %d configuration keys: %v", len(keys), keys)
		}
		for _, key := range keys {
			if !named(file, key) {
				t.Errorf("configuration key %s is not in the reference's Configuration file section", key)
			}
		}
	})

	t.Run("reason codes", func(t *testing.T) {
		reasons := section(t, ref, "Reason codes")
		for _, code := range extauthz.ReasonCodes {
			if !named(reasons, string(code)) {
				t.Errorf("reason code %s is not in the reference's Reason codes section", code)
			}
		}
	})

	t.Run("results", func(t *testing.T) {
		results := section(t, ref, "Results")
		for _, r := range extauthz.Results {
			if !named(results, string(r)) {
				t.Errorf("result %s is not in the reference's Results section", r)
			}
		}
	})

	t.Run("metrics", func(t *testing.T) {
		text := section(t, ref, "Metrics")
		for _, name := range metricNames(t) {
			documented := named(text, name)
			for _, family := range []string{"go_", "process_"} { // runtime collectors, named as families
				if strings.HasPrefix(name, family) && named(text, family+"*") {
					documented = true
				}
			}
			if !documented {
				t.Errorf("metric %s is not in the reference's Metrics section", name)
			}
		}
	})
}

// named reports whether text names name in backquotes, alone or followed by a space and a value
// (`--config FILE`).
func named(text, name string) bool {
	return strings.Contains(text, "`"+name+"`") || strings.Contains(text, "`"+name+" ")
}

// section returns the text of the reference's "## heading" section, up to the next "## ".
func section(t *testing.T, ref, heading string) string {
	t.Helper()
	start := strings.Index(ref, "\n## "+heading+"\n")
	if start < 0 {
		t.Fatalf("the reference has no section %q", "## "+heading)
	}
	body := ref[start+len(heading)+5:]
	if end := strings.Index(body, "\n## "); end >= 0 {
		body = body[:end]
	}
	return body
}

// subcommands lists the commands `cognito-authz help` prints.
func subcommands(t *testing.T) []string {
	t.Helper()
	r := runCLI(t, "", "help")
	var names []string
	for _, m := range regexp.MustCompile(`(?m)^  cognito-authz (\[?[a-z-]+)`).FindAllStringSubmatch(r.stdout, -1) {
		names = append(names, strings.TrimPrefix(m[1], "["))
	}
	if len(names) < 5 {
		t.Fatalf("found only commands %v in:\n%s", names, r.stdout)
	}
	return names
}

// flagsOf lists the flags a command's -h prints (the flag package's PrintDefaults lines).
func flagsOf(t *testing.T, command string) []string {
	t.Helper()
	var stderr strings.Builder
	run(context.Background(), []string{command, "-h"}, strings.NewReader(""), io.Discard, &stderr)
	var flags []string
	for _, m := range regexp.MustCompile(`(?m)^  -([a-z][a-z0-9-]*)`).FindAllStringSubmatch(stderr.String(), -1) {
		flags = append(flags, m[1])
	}
	return flags
}

// yamlKeys lists the key paths of the YAML form of typ: a.b for the keys of a section (the section
// itself is not listed), a and a[].b for a list and the keys of its entries. Fields without a key
// (yaml:"-") are left out.
func yamlKeys(typ reflect.Type, prefix string) []string {
	var keys []string
	for i := range typ.NumField() {
		f := typ.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if opts == "inline" { // a block of the same section: its keys are the section's
			keys = append(keys, yamlKeys(f.Type, prefix)...)
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		key := prefix + name
		switch ft := f.Type; {
		case ft.Kind() == reflect.Struct: // a section: its keys speak for it
			keys = append(keys, yamlKeys(ft, key+".")...)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			keys = append(keys, key)
			keys = append(keys, yamlKeys(ft.Elem(), key+"[].")...)
		default:
			keys = append(keys, key)
		}
	}
	return keys
}

// metricNames lists every metric the service registers, from the registry's descriptors (a
// labelled metric is there before it has any series).
func metricNames(t *testing.T) []string {
	t.Helper()
	cfg := extauthz.DefaultConfig()
	cfg.Issuers = []extauthz.Issuer{{UserPoolID: "us-east-1_X", ClientIDs: []string{"abc"}, TokenUse: "access"}}
	r, err := extauthz.NewService(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	descs := make(chan *prometheus.Desc)
	go func() {
		r.Metrics().Registry().Describe(descs)
		close(descs)
	}()
	fqName := regexp.MustCompile(`fqName: "([^"]+)"`)
	var names []string
	for d := range descs {
		m := fqName.FindStringSubmatch(d.String())
		if m == nil {
			t.Fatalf("cannot read the name of %s", d)
		}
		names = append(names, m[1])
	}
	if len(names) < 7 {
		t.Fatalf("found only metrics %v", names)
	}
	return names
}
