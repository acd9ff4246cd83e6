package node

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/hashicorp/go-hclog"
)

// hclogSink forwards hashicorp/raft's hclog output into the node's slog
// logger, so one process writes one log stream.
type hclogSink struct{ logger *slog.Logger }

// Accept implements hclog.SinkAdapter.
func (s hclogSink) Accept(name string, level hclog.Level, msg string, args ...interface{}) {
	var lvl slog.Level
	switch {
	case level <= hclog.Debug:
		lvl = slog.LevelDebug
	case level == hclog.Info:
		lvl = slog.LevelInfo
	case level == hclog.Warn:
		lvl = slog.LevelWarn
	default:
		lvl = slog.LevelError
	}
	if !s.logger.Enabled(context.Background(), lvl) {
		return
	}
	attrs := make([]slog.Attr, 0, len(args)/2+1)
	if name != "" {
		attrs = append(attrs, slog.String("subsystem", name))
	}
	for i := 0; i+1 < len(args); i += 2 {
		attrs = append(attrs, slog.Any(fmt.Sprint(args[i]), args[i+1]))
	}
	s.logger.LogAttrs(context.Background(), lvl, msg, attrs...)
}

// newHCLogger returns an hclog.Logger whose output lands in logger.
func newHCLogger(logger *slog.Logger, name string) hclog.Logger {
	il := hclog.NewInterceptLogger(&hclog.LoggerOptions{
		Name:   name,
		Level:  hclog.Off, // the base logger writes nothing; the sink below gets every entry
		Output: io.Discard,
	})
	il.RegisterSink(hclogSink{logger: logger})
	return il
}
