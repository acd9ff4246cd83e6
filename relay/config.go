package relay

import (
	"fmt"
	"io"
	"time"

	"github.com/waedge/waedge/network"
)

// Config configures a Relay. Zero values take the defaults noted on each field.
type Config struct {
	// DataDir holds relay.db (registrations, queues), blobs/, hosted-phones.db and relay.token (the
	// HTTP API's bearer token, created at first start). Required.
	DataDir string
	// MaxFrameSize bounds incoming WebSocket messages; default and maximum network.MaxFrameSize.
	MaxFrameSize int
	// Window is how many unacknowledged deliveries one connection may hold; default 256.
	Window int
	// MaxPipeline is how many requests one connection may have in flight; default 256.
	MaxPipeline int
	// WriteTimeout bounds each write to a connection; a slower reader is disconnected. Default 10s.
	WriteTimeout time.Duration
	// Retention is how long queued deliveries, dedupe records and blobs are kept; default 30 days.
	Retention time.Duration
	// RateWindow is the rolling window of the new-recipient rate signal; default 24h.
	RateWindow time.Duration
	// SweepInterval is how often expired data is deleted; default 1h.
	SweepInterval time.Duration
	// MaxBlobSize bounds one uploaded media blob; default network.MaxBlobSize
	// (a sealed 100 MB document, Meta's largest media).
	MaxBlobSize int64
	// MaxStoredPreKeys bounds the one-time prekeys stored per number; default 5000.
	MaxStoredPreKeys int
	// NoSync skips the fsync of relay.db and hosted-phones.db: a crash of the relay may lose its
	// last writes. For benchmarks (`waedge bench e2e`), where the stand-in network's disk flushes
	// would otherwise be measured together with waedge on the same machine. Default false.
	NoSync bool
	// Now is the clock; default time.Now. Tests move it to exercise expiry.
	Now func() time.Time
	// Tap, if set, receives a copy of every byte the relay receives from devices: each WebSocket
	// message as read and each uploaded blob. It is a test hook (see DESIGN.md); writes are serialized.
	Tap io.Writer
}

func (c Config) withDefaults() (Config, error) {
	if c.DataDir == "" {
		return c, fmt.Errorf("empty DataDir: %w", ErrConfig)
	}
	if c.MaxFrameSize <= 0 || c.MaxFrameSize > network.MaxFrameSize {
		c.MaxFrameSize = network.MaxFrameSize
	}
	if c.Window <= 0 {
		c.Window = 256
	}
	if c.MaxPipeline <= 0 {
		c.MaxPipeline = 256
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.Retention <= 0 {
		c.Retention = 30 * 24 * time.Hour
	}
	if c.RateWindow <= 0 {
		c.RateWindow = 24 * time.Hour
	}
	if c.SweepInterval <= 0 {
		c.SweepInterval = time.Hour
	}
	if c.MaxBlobSize <= 0 {
		c.MaxBlobSize = network.MaxBlobSize
	}
	if c.MaxStoredPreKeys <= 0 {
		c.MaxStoredPreKeys = 5000
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c, nil
}
