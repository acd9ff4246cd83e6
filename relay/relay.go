// Package relay is the sandbox network's server: it routes opaque Signal envelopes between devices by
// phone number over WebSocket, keeps registrations, one-time prekeys and per-device queues in bbolt,
// stores encrypted media blobs, forwards receipts, typing and integrity signals, and can host
// simulated phones behind an HTTP JSON API. It never sees plaintext.
package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Relay is a sandbox network relay. Create it with New, serve it with Serve or ListenAndServe, and
// Close it when done.
type Relay struct {
	cfg    Config
	log    *slog.Logger
	st     *store
	blobs  *blobStore
	hub    *hub
	mux    *http.ServeMux
	hosted *hostedPhones

	tokenHash [32]byte // SHA-256 of the HTTP API's bearer token (relay.token)
	limits    *bundleLimits

	ctx    context.Context // cancelled by Close; parent of every connection
	cancel context.CancelFunc
	wg     sync.WaitGroup // connections and background loops

	tapMu sync.Mutex

	connMu  sync.Mutex // guards closing against wg.Add in handleWS
	closing bool

	closeOnce sync.Once
	closeErr  error
}

// New opens (or creates) the relay's state under cfg.DataDir and starts its background work.
func New(cfg Config, logger *slog.Logger) (*Relay, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	tokenHash, err := loadOrCreateToken(filepath.Join(cfg.DataDir, TokenFileName))
	if err != nil {
		return nil, err
	}
	st, err := openStore(filepath.Join(cfg.DataDir, "relay.db"), &cfg, logger)
	if err != nil {
		return nil, err
	}
	blobs, err := openBlobStore(filepath.Join(cfg.DataDir, "blobs"))
	if err != nil {
		_ = st.close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Relay{cfg: cfg, log: logger, st: st, blobs: blobs, hub: newHub(), ctx: ctx, cancel: cancel,
		tokenHash: tokenHash, limits: newBundleLimits(cfg.Now)}
	r.routes()
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.janitor()
	}()
	if err := r.startHosted(); err != nil {
		_ = r.Close()
		return nil, err
	}
	return r, nil
}

// TokenPath returns the file holding the bearer token of the relay's HTTP API.
func (r *Relay) TokenPath() string { return filepath.Join(r.cfg.DataDir, TokenFileName) }

// Handler returns the relay's HTTP handler (WebSocket endpoint /v1/ws, blobs, hosted phones).
func (r *Relay) Handler() http.Handler { return r.mux }

// Serve serves the relay on ln until ctx is cancelled or the relay is closed. It closes ln.
func (r *Relay) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: r.mux, ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return r.ctx }}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	case <-r.ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutCtx) // WebSocket connections are hijacked: Close ends them via r.ctx
	<-errc
	return nil
}

// ListenAndServe listens on addr (for example "127.0.0.1:8088") and serves until ctx is done.
func (r *Relay) ListenAndServe(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	return r.Serve(ctx, ln)
}

// Close stops hosted phones, ends every connection and closes the data files. It is safe to call
// more than once.
func (r *Relay) Close() error {
	r.closeOnce.Do(func() {
		r.stopHosted()
		r.connMu.Lock()
		r.closing = true
		r.connMu.Unlock()
		r.cancel()
		r.wg.Wait()
		r.closeErr = r.st.close()
	})
	return r.closeErr
}

func (r *Relay) handleWS(w http.ResponseWriter, req *http.Request) {
	ws, err := websocket.Accept(w, req, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return // Accept has answered the request
	}
	s, err := newSession(r, ws)
	if err != nil {
		_ = ws.Close(websocket.StatusInternalError, "")
		return
	}
	// Register with the wait group unless Close already started waiting.
	r.connMu.Lock()
	if r.closing {
		r.connMu.Unlock()
		_ = ws.Close(websocket.StatusGoingAway, "relay closing")
		return
	}
	r.wg.Add(1)
	r.connMu.Unlock()
	defer r.wg.Done()
	s.run()
}

// tap copies received bytes to Config.Tap.
func (r *Relay) tap(b []byte) {
	if r.cfg.Tap == nil {
		return
	}
	r.tapMu.Lock()
	_, _ = r.cfg.Tap.Write(b)
	r.tapMu.Unlock()
}

// janitor deletes expired data every SweepInterval.
func (r *Relay) janitor() {
	t := time.NewTicker(r.cfg.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-t.C:
			r.Sweep()
		}
	}
}

// Sweep deletes queued deliveries, dedupe records, blobs and hosted phones' messages past retention
// and ages the new-recipient windows now, instead of waiting for the next SweepInterval.
func (r *Relay) Sweep() {
	now := r.cfg.Now()
	notify, err := r.st.sweep(now)
	if err != nil {
		r.log.Error("sweep store", "err", err)
	}
	r.hub.notify(notify...)
	if err := r.blobs.sweep(now.Add(-r.cfg.Retention)); err != nil {
		r.log.Error("sweep blobs", "err", err)
	}
	r.pruneHosted(now.Add(-r.cfg.Retention))
}
