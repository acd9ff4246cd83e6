package signalstore

import (
	"context"
	"log/slog"
	"sync"

	signallog "go.mau.fi/libsignal/logger"
)

// signalLogger adapts libsignal's global logger to slog. Debug and Info lines are dropped without
// being looked at (libsignal's debug output includes cipher keys and whole session records);
// warnings and errors keep only the caller position and are logged at debug level, because their
// text can quote message fields.
type signalLogger struct{ log *slog.Logger }

func (l signalLogger) Debug(string, string) {}
func (l signalLogger) Info(string, string)  {}
func (l signalLogger) Warning(caller, _ string) {
	l.log.LogAttrs(context.Background(), slog.LevelDebug, "libsignal warning", slog.String("at", caller))
}
func (l signalLogger) Error(caller, _ string) {
	l.log.LogAttrs(context.Background(), slog.LevelDebug, "libsignal error", slog.String("at", caller))
}
func (l signalLogger) Configure(string) {}

var setupOnce sync.Once

// SetupSignalLogging routes libsignal's process-global logger to logger (nil discards), without key
// material. The logger is global to the process, so only the first call has an effect: call it once
// from main (relay.Main and phone.Main do), never per phone.
func SetupLogging(logger *slog.Logger) {
	setupOnce.Do(func() {
		if logger == nil {
			logger = slog.New(slog.DiscardHandler)
		}
		var l signallog.Loggable = signalLogger{log: logger}
		signallog.Setup(&l)
	})
}
