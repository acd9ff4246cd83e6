package bench

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// progress writes the bench's progress to stderr: a bar redrawn in place
// on a terminal, a plain line every few seconds otherwise (logs, CI).
type progress struct {
	w   io.Writer
	tty bool
	mu  sync.Mutex
}

func newProgress(w io.Writer) *progress {
	tty := false
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &progress{w: w, tty: tty}
}

// note prints one line (a phase starting, a setup step).
func (p *progress) note(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
	fmt.Fprintf(p.w, format+"\n", args...)
}

// run shows label's progress over total while the work counts into c,
// until the returned function is called.
func (p *progress) run(label string, total time.Duration, c *counter) (done func()) {
	start := time.Now()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	every := 5 * time.Second
	if p.tty {
		every = 200 * time.Millisecond
	}
	draw := func(final bool) {
		el := time.Since(start)
		frac := 1.0
		if total > 0 {
			frac = min(1, el.Seconds()/total.Seconds())
		}
		ok, errs := c.ok.Load(), c.errors.Load()
		of := "" // open-ended phases (stores, deliveries) have no total
		if total > 0 {
			of = "/" + total.String()
		}
		rate := float64(ok) / max(el.Seconds(), 1e-9)
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.tty {
			const width = 30
			bar := strings.Repeat("█", int(frac*width)) + strings.Repeat("░", width-int(frac*width))
			fmt.Fprintf(p.w, "\r\033[K%s %s %5.1fs%s  %d ok (%.0f/s)  %d errors", label, bar, el.Seconds(), of, ok, rate, errs)
			if final {
				fmt.Fprintln(p.w)
			}
			return
		}
		fmt.Fprintf(p.w, "%s: %.1fs%s, %d ok (%.0f/s), %d errors\n", label, el.Seconds(), of, ok, rate, errs)
	}
	wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				draw(false)
			}
		}
	})
	return func() {
		close(stop)
		wg.Wait()
		draw(true)
	}
}
