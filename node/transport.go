package node

import (
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/waedge/waedge/listener"
	"github.com/waedge/waedge/pki"
)

// One TCP port carries Raft, node-to-node RPC and the join protocol. Every
// connection is TLS; the first byte inside TLS says what it is for.
const (
	hdrRaft byte = 'R' // Raft RPCs (mutual TLS, member certificate)
	hdrRPC  byte = 'C' // cluster RPC: forwarded proposals and joins (mutual TLS)
	hdrJoin byte = 'J' // join protocol (server-authenticated only; the token authenticates the client)

	handshakeTimeout = 5 * time.Second

	// maxPreAuth bounds the connections that have not yet proven
	// membership (in the TLS handshake, before their header byte, or on
	// the join protocol). Each holds at most a TLS state and maxJoinFrame.
	// A connection beyond the bound waits (holding only its socket) up to
	// handshakeTimeout for a slot, so a burst of members' dials queues
	// instead of failing; then it is closed.
	maxPreAuth = 128
	// warnEvery rate-limits warnings a stranger can trigger at will.
	warnEvery = 10 * time.Second
)

// mux accepts TLS connections on the cluster port and routes them by header.
type mux struct {
	ln         net.Listener
	serverTLS  *tls.Config
	authorize  func(nodeID string) bool
	handleRPC  func(conn net.Conn, peerID string)
	handleJoin func(conn net.Conn)
	logger     *slog.Logger

	raftCh    chan net.Conn
	closed    chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup

	connsMu sync.Mutex
	conns   map[net.Conn]struct{}

	preAuth chan struct{} // one slot per connection not yet authenticated
	warnMu  sync.Mutex
	warned  map[string]time.Time
}

// newMux serves ln, wrapped so that running out of descriptors pauses
// accepting instead of ending it.
func newMux(ln net.Listener, serverTLS *tls.Config, logger *slog.Logger) *mux {
	return &mux{
		ln:        listener.New(ln, listener.Config{Name: "cluster", Logger: logger}),
		serverTLS: serverTLS,
		logger:    logger,
		raftCh:    make(chan net.Conn, 16),
		closed:    make(chan struct{}),
		conns:     make(map[net.Conn]struct{}),
		preAuth:   make(chan struct{}, maxPreAuth),
		warned:    make(map[string]time.Time),
	}
}

// warnLimited logs msg at most once per warnEvery.
func (m *mux) warnLimited(msg string, attrs ...any) {
	m.warnMu.Lock()
	now := time.Now()
	if now.Sub(m.warned[msg]) < warnEvery {
		m.warnMu.Unlock()
		return
	}
	m.warned[msg] = now
	m.warnMu.Unlock()
	m.logger.Warn(msg, attrs...)
}

func (m *mux) serve() {
	m.wg.Add(1)
	defer m.wg.Done()
	for {
		c, err := m.ln.Accept()
		if err != nil {
			select {
			case <-m.closed:
				return
			default:
			}
			// Transient failures (EMFILE, …) are waited out inside the
			// listener; what reaches here is final.
			m.logger.Error("cluster listener failed", slog.Any("err", err))
			return
		}
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			m.handle(c)
		}()
	}
}

func (m *mux) track(c net.Conn, add bool) bool {
	m.connsMu.Lock()
	defer m.connsMu.Unlock()
	if add {
		select {
		case <-m.closed:
			return false
		default:
		}
		m.conns[c] = struct{}{}
	} else {
		delete(m.conns, c)
	}
	return true
}

// handle authenticates one connection and routes it by its header byte.
// Until the peer is known to be a member, the connection holds a preAuth
// slot (waiting for one first) and nothing larger than maxJoinFrame is
// read from it.
func (m *mux) handle(raw net.Conn) {
	wait := time.NewTimer(handshakeTimeout)
	select {
	case m.preAuth <- struct{}{}:
		wait.Stop()
	case <-wait.C:
		_ = raw.Close()
		m.warnLimited("cluster connection refused: too many unauthenticated connections", slog.Int("limit", maxPreAuth))
		return
	case <-m.closed:
		wait.Stop()
		_ = raw.Close()
		return
	}
	release := sync.OnceFunc(func() { <-m.preAuth })
	defer release()
	tc := tls.Server(raw, m.serverTLS)
	_ = tc.SetDeadline(time.Now().Add(handshakeTimeout))
	if err := tc.Handshake(); err != nil {
		m.warnLimited("cluster connection refused: TLS handshake failed",
			slog.String("peer_addr", raw.RemoteAddr().String()), slog.Any("err", err))
		_ = raw.Close()
		return
	}
	var hdr [1]byte
	if _, err := io.ReadFull(tc, hdr[:]); err != nil {
		_ = tc.Close()
		return
	}
	_ = tc.SetDeadline(time.Time{})
	peerID := ""
	if certs := tc.ConnectionState().PeerCertificates; len(certs) > 0 {
		peerID, _ = pki.NodeIDFromCert(certs[0])
	}
	switch hdr[0] {
	case hdrRaft, hdrRPC:
		if peerID == "" || (m.authorize != nil && !m.authorize(peerID)) {
			m.logger.Warn("cluster connection refused: peer is not an authorized member",
				slog.String("peer_addr", raw.RemoteAddr().String()), slog.String("peer_node_id", peerID))
			_ = tc.Close()
			return
		}
		release() // a member: its frames are bounded by maxFrame
		if hdr[0] == hdrRaft {
			if !m.track(tc, true) {
				_ = tc.Close()
				return
			}
			select {
			case m.raftCh <- &trackedConn{Conn: tc, m: m}:
			case <-m.closed:
				_ = tc.Close()
			}
			return
		}
		if !m.track(tc, true) {
			_ = tc.Close()
			return
		}
		defer m.track(tc, false)
		m.handleRPC(tc, peerID)
	case hdrJoin:
		if !m.track(tc, true) {
			_ = tc.Close()
			return
		}
		defer m.track(tc, false)
		m.handleJoin(tc)
	default:
		_ = tc.Close()
	}
}

// close stops accepting, closes RPC connections and waits for handlers.
func (m *mux) close() {
	m.closeOnce.Do(func() {
		close(m.closed)
		_ = m.ln.Close()
		m.connsMu.Lock()
		for c := range m.conns {
			_ = c.Close()
		}
		m.connsMu.Unlock()
	})
	m.wg.Wait()
}

// trackedConn forgets itself in the mux when raft closes it.
type trackedConn struct {
	net.Conn
	m    *mux
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() { c.m.track(c.Conn, false) })
	return c.Conn.Close()
}

// dialTLS opens a connection to addr, completes a TLS handshake with cfg and
// writes the header byte.
func dialTLS(addr string, cfg *tls.Config, hdr byte, timeout time.Duration) (*tls.Conn, error) {
	d := net.Dialer{Timeout: timeout}
	raw, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	tc := tls.Client(raw, cfg)
	_ = tc.SetDeadline(time.Now().Add(timeout))
	if err := tc.Handshake(); err != nil {
		_ = raw.Close()
		return nil, err
	}
	if _, err := tc.Write([]byte{hdr}); err != nil {
		_ = tc.Close()
		return nil, err
	}
	_ = tc.SetDeadline(time.Time{})
	return tc, nil
}

// addr is a net.Addr for the advertised cluster address.
type addr string

func (a addr) Network() string { return "tcp" }
func (a addr) String() string  { return string(a) }

// streamLayer is the raft.StreamLayer over the mux. It remembers the
// connections it dialed so that shutdown can close them: a Raft pipeline
// blocked on a peer that stopped answering would otherwise hold
// raft.Shutdown until the transport's I/O timeout, again and again.
type streamLayer struct {
	m         *mux
	clientTLS *tls.Config
	advertise addr

	mu     sync.Mutex
	dialed map[net.Conn]struct{}
	closed bool
}

var _ raft.StreamLayer = (*streamLayer)(nil)

// Accept returns the next inbound Raft connection.
func (s *streamLayer) Accept() (net.Conn, error) {
	select {
	case c := <-s.m.raftCh:
		return c, nil
	case <-s.m.closed:
		return nil, fmt.Errorf("raft stream: %w", ErrClosed)
	}
}

// Close is a no-op: the node closes the shared listener itself.
func (s *streamLayer) Close() error { return nil }

// Addr is the advertised cluster address.
func (s *streamLayer) Addr() net.Addr { return s.advertise }

// Dial opens a Raft connection to a peer.
func (s *streamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("raft stream: %w", ErrClosed)
	}
	c, err := dialTLS(string(address), s.clientTLS, hdrRaft, timeout)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		_ = c.Close()
		return nil, fmt.Errorf("raft stream: %w", ErrClosed)
	}
	if s.dialed == nil {
		s.dialed = make(map[net.Conn]struct{})
	}
	d := &dialedConn{Conn: c, s: s}
	s.dialed[d] = struct{}{}
	return d, nil
}

// closeAll refuses new dials and closes every dialed connection.
func (s *streamLayer) closeAll() {
	s.mu.Lock()
	s.closed = true
	conns := s.dialed
	s.dialed = nil
	s.mu.Unlock()
	for c := range conns {
		_ = c.(*dialedConn).Conn.Close()
	}
}

// dialedConn removes itself from the stream layer's set when closed.
type dialedConn struct {
	net.Conn
	s *streamLayer
}

func (d *dialedConn) Close() error {
	d.s.mu.Lock()
	delete(d.s.dialed, d)
	d.s.mu.Unlock()
	return d.Conn.Close()
}
