package retention

import (
	"context"
	"time"
)

// RecordPauses makes w note each pause between commands in *out instead
// of waiting it out.
func RecordPauses(w *Worker, out *[]time.Duration) {
	w.wait = func(_ context.Context, d time.Duration) error {
		*out = append(*out, d)
		return nil
	}
}
