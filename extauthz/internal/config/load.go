package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// maxFileBytes caps the configuration file: anything larger is not a configuration.
const maxFileBytes = 1 << 20

// Load reads the YAML file at path over the defaults. Unknown keys, duplicate keys and values of
// the wrong type are errors naming the key path and line. Load does not validate: flags may still
// complete the configuration, so call Validate after applying them.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return LoadData(path, data)
}

// LoadData is Load of the content data, already read from path (named in errors): live reload
// loads exactly the bytes it saw hold still, not whatever a second read of the file would find.
func LoadData(path string, data []byte) (*Config, error) {
	if len(data) > maxFileBytes {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxFileBytes)
	}
	cfg, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// Parse decodes a YAML configuration over the defaults, as Load does.
func Parse(data []byte) (*Config, error) {
	cfg := Default()
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) { // an empty file: all defaults
			return cfg, nil
		}
		return nil, fmt.Errorf("bad YAML: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("bad YAML: more than one document")
	}
	// The schema walk names the key path of every problem; yaml.v3 alone names only the line.
	if problems := checkNode("", &doc, reflect.TypeFor[Config]()); len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	// Backstop: the strict decoder must agree with the walk.
	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	if err := strict.Decode(cfg); err != nil {
		return nil, fmt.Errorf("bad configuration: %w", err)
	}
	cfg.normalize()
	return cfg, nil
}

// KeyError is a problem with one configuration key.
type KeyError struct {
	Key     string // key path, e.g. issuers[0].client_ids; "" for the whole file
	Problem string
	Line    int // 0 when not from a file
}

func (e *KeyError) Error() string {
	key := e.Key
	if key == "" {
		key = "(top level)"
	}
	if e.Line > 0 {
		return fmt.Sprintf("%s: %s (line %d)", key, e.Problem, e.Line)
	}
	return key + ": " + e.Problem
}

var durationType = reflect.TypeFor[time.Duration]()

// checkNode checks n against the Go type t the way the strict decoder will read it, returning one
// error per problem, each naming its key path.
func checkNode(path string, n *yaml.Node, t reflect.Type) []error {
	for n.Kind == yaml.DocumentNode || n.Kind == yaml.AliasNode {
		if n.Kind == yaml.AliasNode {
			n = n.Alias
			continue
		}
		if len(n.Content) == 0 {
			return nil
		}
		n = n.Content[0]
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return nil // an empty value leaves the default
	}
	switch {
	case t == durationType:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
			return []error{&KeyError{path, fmt.Sprintf("invalid duration %s (want a duration with a unit, e.g. 0s, 10s, 1h)", describe(n)), n.Line}}
		}
		if _, err := time.ParseDuration(n.Value); err != nil {
			return []error{&KeyError{path, fmt.Sprintf("invalid duration %q (want e.g. 0s, 10s, 1h)", n.Value), n.Line}}
		}
		return nil
	case t.Kind() == reflect.Struct:
		return checkMapping(path, n, t)
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return []error{&KeyError{path, fmt.Sprintf("want a list, got %s", describe(n)), n.Line}}
		}
		var problems []error
		for i, item := range n.Content {
			problems = append(problems, checkNode(fmt.Sprintf("%s[%d]", path, i), item, t.Elem())...)
		}
		return problems
	default:
		if n.Kind != yaml.ScalarNode {
			return []error{&KeyError{path, fmt.Sprintf("want a single value, got %s", describe(n)), n.Line}}
		}
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			return []error{&KeyError{path, fmt.Sprintf("invalid value %s (want %s)", describe(n), kindName(t)), n.Line}}
		}
		return nil
	}
}

func checkMapping(path string, n *yaml.Node, t reflect.Type) []error {
	if n.Kind != yaml.MappingNode {
		return []error{&KeyError{path, fmt.Sprintf("want a mapping, got %s", describe(n)), n.Line}}
	}
	var problems []error
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := joinKey(path, k.Value)
		if line, dup := seen[k.Value]; dup {
			problems = append(problems, &KeyError{key, fmt.Sprintf("duplicate key (first at line %d)", line), k.Line})
			continue
		}
		seen[k.Value] = k.Line
		field, ok := fieldByYAMLName(t, k.Value)
		if !ok {
			problems = append(problems, &KeyError{key, "unknown key", k.Line})
			continue
		}
		problems = append(problems, checkNode(key, v, field.Type)...)
	}
	return problems
}

// fieldByYAMLName finds the field of t, or of a struct inlined in t (`yaml:",inline"`: a block of
// keys kept in its own struct), that the key name sets.
func fieldByYAMLName(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if opts == "inline" && f.Type.Kind() == reflect.Struct {
			if inner, ok := fieldByYAMLName(f.Type, name); ok {
				return inner, true
			}
			continue
		}
		if tag != "" && tag != "-" && tag == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func joinKey(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return fmt.Sprintf("%q", n.Value)
	}
}

func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.String:
		return "a string"
	default:
		return t.String()
	}
}
