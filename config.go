package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"

	"github.com/waedge/waedge/configfile"
)

// loadConfigFile loads the file named by serve's --config flag (or
// WAEDGE_CONFIG); nil when there is none. The flag is found before the
// flag set is built, because the file supplies the flags' defaults.
func loadConfigFile(args []string, getenv func(string) string) (*configfile.File, error) {
	path := getenv("WAEDGE_CONFIG")
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		for _, p := range []string{"--config", "-config"} {
			switch {
			case a == p && i+1 < len(args):
				path = args[i+1]
			case strings.HasPrefix(a, p+"="):
				path = strings.TrimPrefix(a, p+"=")
			}
		}
	}
	if path == "" {
		return nil, nil
	}
	f, err := configfile.Load(path)
	if err != nil {
		return nil, fmt.Errorf("--config: %w", err)
	}
	return f, nil
}

// checkConfigKeys refuses keys of the file that are not serve flags.
func checkConfigKeys(cf *configfile.File, fs *flag.FlagSet) error {
	if cf == nil {
		return nil
	}
	if u := cf.Unknown(func(n string) bool { return n != "config" && fs.Lookup(n) != nil }); len(u) > 0 {
		return fmt.Errorf("--config %s: unknown setting(s) %s (the keys are serve's flag names)", cf.Path, strings.Join(u, ", "))
	}
	return nil
}

// secretFlags are masked when the configuration is printed.
var secretFlags = map[string]bool{"join-token": true}

// printEffectiveConfig writes every serve setting as TOML (usable as a
// --config file), each with where its value came from; secrets masked.
func printEffectiveConfig(w io.Writer, fs *flag.FlagSet, cf *configfile.File, env func(string) string) {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	fmt.Fprintln(w, "# effective configuration of `waedge serve` (precedence: flag > environment > file > default)")
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == "config" {
			return
		}
		src := "default"
		switch {
		case set[f.Name]:
			src = "flag"
		case env(configfile.EnvName(f.Name)) != "":
			src = "environment " + configfile.EnvName(f.Name)
		case cf != nil && cf.Values[f.Name] != "":
			src = "file " + cf.Path
		}
		v := f.Value.String()
		if secretFlags[f.Name] && v != "" {
			v = "********"
		}
		fmt.Fprintf(w, "%s = %s  # %s\n", f.Name, strconv.Quote(v), src)
	})
}

// checkHTTPAddr resolves the HTTP address as serve would listen on it,
// without listening (config check).
func checkHTTPAddr(addr string) (net.Addr, error) {
	a, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--http-addr %q: %w", addr, err)
	}
	return a, nil
}
