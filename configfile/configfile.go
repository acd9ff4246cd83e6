// Package configfile reads a waedge configuration file (TOML, or YAML by
// its .yaml/.yml extension): one flat table whose keys are `waedge serve`
// flag names and whose values are what the flag would be given. It only
// turns the file into flag values; the flags themselves validate them, so a
// file cannot mean anything a command line could not.
package configfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	"go.yaml.in/yaml/v3"
)

// ErrInvalid: the file cannot be read as a flat table of flag values.
var ErrInvalid = errors.New("invalid configuration file")

// File is a loaded configuration file: flag name → value as a flag would
// receive it.
type File struct {
	Path   string
	Values map[string]string
}

// Load reads path: YAML when it ends in .yaml or .yml, TOML otherwise.
// Keys may use dashes or underscores (data-dir, data_dir); a list becomes
// a comma-separated value (join, egress-allow).
func Load(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	raw := map[string]any{}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml":
		err = yaml.Unmarshal(b, &raw)
	default:
		_, err = toml.Decode(string(b), &raw)
	}
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrInvalid, path, err)
	}
	f := &File{Path: path, Values: map[string]string{}}
	for k, v := range raw {
		name := strings.ReplaceAll(strings.ToLower(k), "_", "-")
		s, err := scalar(v)
		if err != nil {
			return nil, fmt.Errorf("%w %s: %s: %w", ErrInvalid, path, k, err)
		}
		if _, dup := f.Values[name]; dup {
			return nil, fmt.Errorf("%w %s: %s is given twice", ErrInvalid, path, name)
		}
		f.Values[name] = s
	}
	return f, nil
}

// scalar renders one value as a flag would receive it.
func scalar(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case int:
		return strconv.Itoa(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			s, err := scalar(e)
			if err != nil {
				return "", err
			}
			if _, nested := e.([]any); nested {
				return "", errors.New("want a list of values, not of lists")
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, ","), nil
	case nil:
		return "", nil
	}
	return "", fmt.Errorf("want a string, number, boolean or list, not %T (the file is one flat table)", v)
}

// Unknown returns the file's keys that known does not accept, sorted.
func (f *File) Unknown(known func(name string) bool) []string {
	var out []string
	for k := range f.Values {
		if !known(k) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// EnvName is the environment variable of a flag: WAEDGE_ and the name in
// upper case with dashes as underscores.
func EnvName(flag string) string {
	return "WAEDGE_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// Getenv layers the file under the environment: a WAEDGE_<FLAG> variable
// that is set wins, else the file's value for that flag, else "". Flags
// that take their default from the environment so get flag > environment
// > file > default.
func (f *File) Getenv(getenv func(string) string) func(string) string {
	if f == nil {
		return getenv
	}
	byEnv := make(map[string]string, len(f.Values))
	for k, v := range f.Values {
		byEnv[EnvName(k)] = v
	}
	return func(key string) string {
		if v := getenv(key); v != "" {
			return v
		}
		return byEnv[key]
	}
}
