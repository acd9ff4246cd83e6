package raftfsm

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// impure lists what Apply must never call: the clock, randomness, the
// environment, the process's identity and the network (invariant 2).
// A package listed with no names is forbidden as a whole.
var impure = map[string][]string{
	"time": {"Now", "Since", "Until", "After", "AfterFunc", "Tick", "NewTimer", "NewTicker", "Sleep"},
	"os": {"Getenv", "LookupEnv", "Environ", "ExpandEnv", "Expand", "Hostname", "Getpid", "Getppid",
		"Getuid", "Getgid", "Executable", "Getwd"},
	"math/rand":    nil,
	"math/rand/v2": nil,
	"crypto/rand":  nil,
	"net":          nil,
	"net/http":     nil,
}

// pureAllowed names the functions of raftfsm's non-test files that may
// use what impure lists, and why: each runs outside Apply, on one node,
// and writes nothing Apply reads.
var pureAllowed = map[string]string{
	// A snapshot's file id carries the creation time so ids of snapshots
	// of the same index differ; the id is node-local (never replicated).
	"SnapshotStore.Create": "snapshot file id",
	"checkpointer.finish":  "the least time between two local fsyncs (durable.go); no replicated state",
	"NewKeySource":         "the random start of a proposer's key counter (record.go); Apply makes no keys",
}

// TestNoImpureCallsInStateMachine: no code of package raftfsm outside the
// allow-list reads the clock, randomness, the environment or the network,
// so nothing reachable from Apply can (invariant 2). Writing
// `UpdatedAt = time.Now()` into an apply path fails here even when a
// later command would overwrite the value before any dump compares it.
func TestNoImpureCallsInStateMachine(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var found []string
	used := map[string]bool{}
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		// local import name → import path, for the packages of interest
		local := map[string]string{}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if _, ok := impure[path]; !ok {
				continue
			}
			n := filepath.Base(path)
			if path == "math/rand/v2" {
				n = "rand"
			}
			if imp.Name != nil {
				n = imp.Name.Name
			}
			local[n] = path
		}
		for _, decl := range f.Decls {
			fn := funcName(decl)
			ast.Inspect(decl, func(n ast.Node) bool {
				sel, ok := n.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				id, ok := sel.X.(*ast.Ident)
				if !ok {
					return true
				}
				path, ok := local[id.Name]
				if !ok {
					return true
				}
				names := impure[path]
				if names != nil && !slices.Contains(names, sel.Sel.Name) {
					return true
				}
				if _, ok := pureAllowed[fn]; ok {
					used[fn] = true
					return true
				}
				found = append(found, fset.Position(sel.Pos()).String()+": "+path+"."+sel.Sel.Name+" in "+fn)
				return true
			})
		}
	}
	if checked < 20 {
		t.Fatalf("only %d source files checked: run from the package directory", checked)
	}
	for _, f := range found {
		t.Errorf("state machine code reads the clock, randomness, the environment or the network: %s", f)
	}
	// A stale allow-list entry would silently allow a future use.
	for fn := range pureAllowed {
		if !used[fn] {
			t.Errorf("allow-list entry %s is unused: remove it", fn)
		}
	}
}

// funcName is "Recv.Name" for a method, "Name" for a function, and
// "package level" for other declarations.
func funcName(decl ast.Decl) string {
	fd, ok := decl.(*ast.FuncDecl)
	if !ok {
		return "package level"
	}
	if fd.Recv == nil || len(fd.Recv.List) == 0 {
		return fd.Name.Name
	}
	typ := fd.Recv.List[0].Type
	if st, ok := typ.(*ast.StarExpr); ok {
		typ = st.X
	}
	if ix, ok := typ.(*ast.IndexExpr); ok {
		typ = ix.X
	}
	if id, ok := typ.(*ast.Ident); ok {
		return id.Name + "." + fd.Name.Name
	}
	return fd.Name.Name
}
