// Command nfpm builds waedge's deb and rpm packages from packaging/nfpm.yaml
// with nfpm used as a Go library (github.com/goreleaser/nfpm/v2), so the
// build needs nothing but Go. It lives in a module of its own so the
// product's go.mod does not carry the packager's dependencies.
//
//	go -C packaging/nfpm run . --root ../.. --version 1.2.3 --format deb --out dist
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb"
	_ "github.com/goreleaser/nfpm/v2/rpm"
)

func main() {
	root := flag.String("root", ".", "repository root: the paths in the config are relative to it")
	config := flag.String("config", "packaging/nfpm.yaml", "nfpm configuration, relative to --root")
	version := flag.String("version", "", "package version (WAEDGE_VERSION in the config)")
	format := flag.String("format", "deb", "deb or rpm")
	out := flag.String("out", "dist", "output directory, relative to --root")
	flag.Parse()
	path, err := build(*root, *config, *version, *format, *out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "nfpm:", err)
		os.Exit(1)
	}
	fmt.Println(path)
}

// build writes one package and returns its path.
func build(root, config, version, format, out string) (string, error) {
	if version == "" {
		return "", fmt.Errorf("--version is required")
	}
	if err := os.Chdir(root); err != nil {
		return "", err
	}
	cfg, err := nfpm.ParseFileWithEnvMapping(config, func(k string) string {
		if k == "WAEDGE_VERSION" {
			return version
		}
		return os.Getenv(k)
	})
	if err != nil {
		return "", fmt.Errorf("parse %s: %w", config, err)
	}
	info, err := cfg.Get(format)
	if err != nil {
		return "", err
	}
	info = nfpm.WithDefaults(info)
	if err := nfpm.Validate(info); err != nil {
		return "", err
	}
	pkger, err := nfpm.Get(format)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(out, pkger.ConventionalFileName(info))
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	if err := pkger.Package(info, f); err != nil {
		_ = f.Close()
		_ = os.Remove(path)
		return "", fmt.Errorf("package %s: %w", format, err)
	}
	return path, f.Close()
}
