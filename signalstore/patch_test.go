package signalstore

import (
	"sync/atomic"
	"testing"

	signallog "go.mau.fi/libsignal/logger"
)

// countingStringer counts how often libsignal formats it.
type countingStringer struct{ n *atomic.Int64 }

func (s countingStringer) String() string { s.n.Add(1); return "formatted" }

// countingLogger counts the debug lines that reach the installed logger.
type countingLogger struct{ debug *atomic.Int64 }

func (l countingLogger) Debug(string, string)   { l.debug.Add(1) }
func (l countingLogger) Info(string, string)    {}
func (l countingLogger) Warning(string, string) {}
func (l countingLogger) Error(string, string)   {}
func (l countingLogger) Configure(string)       {}

// TestLibsignalDebugIsNeverFormatted guards the patch in
// third_party/libsignal (go.mod replaces the module with it): a debug line
// is dropped before its arguments are formatted or its caller looked up,
// so it costs nothing and no key material is ever turned into text. With
// the upstream module, the logger sees the line and the argument is
// formatted, and this test fails.
func TestLibsignalDebugIsNeverFormatted(t *testing.T) {
	prev := signallog.Logger
	t.Cleanup(func() { signallog.Logger = prev })
	var debug, formatted atomic.Int64
	var l signallog.Loggable = countingLogger{debug: &debug}
	signallog.Setup(&l)

	signallog.Debug("cipher key: ", countingStringer{n: &formatted})
	if debug.Load() != 0 || formatted.Load() != 0 {
		t.Fatalf("libsignal debug line reached the logger %d times and was formatted %d times: is go.mod's replace of go.mau.fi/libsignal by third_party/libsignal gone?",
			debug.Load(), formatted.Load())
	}
}
