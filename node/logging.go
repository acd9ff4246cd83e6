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
		attrs = append(attrs, slog.Any(fmt.Sprint(args[i]), hclogValue(args[i+1])))
	}
	s.logger.LogAttrs(context.Background(), lvl, msg, attrs...)
}

// hclogValue renders one hclog argument the way hclog itself would:
// hclog.Fmt values are formatted (Raft logs its configuration so, which
// otherwise came out as ["%+v",null]), errors and Stringers as their text,
// structs and other composite values with %+v instead of a JSON encoding
// that would drop their unexported fields.
func hclogValue(v any) any {
	switch x := v.(type) {
	case hclog.Format:
		if len(x) == 0 {
			return ""
		}
		if f, ok := x[0].(string); ok {
			return fmt.Sprintf(f, x[1:]...)
		}
		return fmt.Sprint(x...)
	case hclog.Hex:
		return fmt.Sprintf("0x%x", int(x))
	case hclog.Octal:
		return fmt.Sprintf("0%o", int(x))
	case hclog.Binary:
		return fmt.Sprintf("0b%b", int(x))
	case error:
		return x.Error()
	case fmt.Stringer:
		return x.String()
	case nil, string, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64:
		return x
	}
	return fmt.Sprintf("%+v", v)
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
