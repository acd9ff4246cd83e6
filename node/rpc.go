package node

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/go-msgpack/v2/codec"

	"github.com/waedge/waedge/raftfsm"
)

// maxFrame bounds one RPC frame (a forwarded batch of commands).
const maxFrame = 64 << 20

var msgpackHandle = &codec.MsgpackHandle{}

// Kinds of RPC failure that the caller acts on.
const (
	errKindNotLeader    = "not_leader"
	errKindNoLeader     = "no_leader"
	errKindJoinRefused  = "join_refused"
	errKindTooLarge     = "too_large"
	errKindInternal     = "internal"
	errKindNodeNotFound = "node_not_found"
	errKindUnknown      = "outcome_unknown"
)

// rpcRequest is one node-to-node request.
type rpcRequest struct {
	Op   string // "propose" or "join"
	Cmds [][]byte
	Join *joinRequest
}

// wireResult is a raftfsm.Result on the wire.
type wireResult struct {
	Code  uint16
	Msg   string
	Value []byte
}

// rpcResponse answers an rpcRequest.
type rpcResponse struct {
	ErrKind string
	Err     string
	Index   uint64
	Results []wireResult
	Join    *joinResponse
	// Version answers the "version" request (empty from older binaries,
	// which refuse that request as an unknown operation).
	Version string
}

// joinRequest is what a joining node sends (over the join protocol, or
// forwarded by a follower to the leader).
type joinRequest struct {
	NodeID    string
	Addr      string
	TokenID   string
	Secret    []byte
	PublicKey []byte
}

// joinResponse carries the joiner's certificate.
type joinResponse struct {
	CACert    []byte
	NodeCert  []byte
	MasterKey []byte
}

// keepFrameBuf is the largest frame buffer a connection keeps for its
// next frame; a larger one (a rare huge batch: a forwarded batch at 512
// senders averaged 27 accepts, about 20 KB) is dropped after use. Idle
// pooled connections keep theirs, so this bounds what they hold: two
// buffers of at most 256 KiB each.
const keepFrameBuf = 256 << 10

// frameCodec encodes and decodes one connection's frames, keeping its
// buffers and msgpack codec states from one frame to the next: a forwarded
// batch is tens of KB, and allocating, zeroing and collecting that twice per
// round trip on each side was most of the framing's cost. Decoded []byte
// and string values are copies (go-msgpack copies into a nil slice), never
// views of the read buffer, so reusing it cannot change a decoded frame.
// Not safe for concurrent use; the wire format is unchanged.
type frameCodec struct {
	wbuf []byte
	enc  *codec.Encoder
	rbuf []byte
	dec  *codec.Decoder
}

func (f *frameCodec) write(w *bufio.Writer, v any) error {
	if f.enc == nil {
		f.enc = codec.NewEncoderBytes(&f.wbuf, msgpackHandle)
	} else {
		f.enc.ResetBytes(&f.wbuf)
	}
	err := f.enc.Encode(v)
	body := f.wbuf
	if cap(f.wbuf) > keepFrameBuf {
		f.wbuf = nil
	}
	if err != nil {
		return fmt.Errorf("encode frame: %w", err)
	}
	if len(body) > maxFrame {
		return fmt.Errorf("frame of %d bytes: %w", len(body), ErrTooLarge)
	}
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(body)))
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	if _, err := w.Write(body); err != nil {
		return err
	}
	return w.Flush()
}

// read reads one frame of at most limit bytes: a longer one is refused
// from its announced length, before anything is allocated.
func (f *frameCodec) read(r io.Reader, v any, limit uint32) error {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > limit {
		return fmt.Errorf("frame of %d bytes: %w", n, ErrTooLarge)
	}
	if uint32(cap(f.rbuf)) < n {
		f.rbuf = make([]byte, n)
	}
	body := f.rbuf[:n]
	if cap(f.rbuf) > keepFrameBuf {
		f.rbuf = nil
	}
	if _, err := io.ReadFull(r, body); err != nil {
		return err
	}
	if f.dec == nil {
		f.dec = codec.NewDecoderBytes(body, msgpackHandle)
	} else {
		f.dec.ResetBytes(body)
	}
	return f.dec.Decode(v)
}

// writeFrame writes one frame on a connection that sends only this one.
func writeFrame(w *bufio.Writer, v any) error {
	var f frameCodec
	return f.write(w, v)
}

func readFrame(r io.Reader, v any) error { return readFrameMax(r, v, maxFrame) }

// readFrameMax reads one frame of at most limit bytes from a connection
// that reads only this one (see frameCodec.read).
func readFrameMax(r io.Reader, v any, limit uint32) error {
	var f frameCodec
	return f.read(r, v, limit)
}

func toWire(rs []raftfsm.Result) []wireResult {
	out := make([]wireResult, len(rs))
	for i, r := range rs {
		out[i].Value = r.Value
		if r.Err != nil {
			out[i].Code = raftfsm.ErrorCode(r.Err)
			out[i].Msg = r.Err.Error()
		}
	}
	return out
}

func fromWire(ws []wireResult) []raftfsm.Result {
	out := make([]raftfsm.Result, len(ws))
	for i, w := range ws {
		out[i].Value = w.Value
		if w.Code != 0 {
			out[i].Err = raftfsm.ErrorFromCode(w.Code, w.Msg)
		}
	}
	return out
}

// rpcError turns a failed response into an error the caller can test.
func rpcError(kind, msg string) error {
	switch kind {
	case "":
		return nil
	case errKindNotLeader:
		return fmt.Errorf("%w: %s", errNotLeaderRemote, msg)
	case errKindNoLeader:
		return fmt.Errorf("%w: %s", ErrNoLeader, msg)
	case errKindJoinRefused:
		return fmt.Errorf("%w: %s", ErrJoinRefused, msg)
	case errKindNodeNotFound:
		return fmt.Errorf("%w: %s", ErrNodeNotFound, msg)
	case errKindTooLarge:
		return fmt.Errorf("%w: %s", ErrTooLarge, msg)
	case errKindUnknown:
		return fmt.Errorf("%w: %s", ErrOutcomeUnknown, msg)
	default:
		return fmt.Errorf("remote: %s", msg)
	}
}

// errNotLeaderRemote: the node we forwarded to is no longer the leader.
var errNotLeaderRemote = errors.New("remote node is not the leader")

// rpcConn is one pooled client connection.
type rpcConn struct {
	c     net.Conn
	r     *bufio.Reader
	w     *bufio.Writer
	frame frameCodec
}

// rpcPool keeps idle connections per peer address.
type rpcPool struct {
	tls     *tls.Config
	mu      sync.Mutex
	idle    map[string][]*rpcConn
	maxIdle int
	closed  bool
}

func newRPCPool(cfg *tls.Config) *rpcPool {
	return &rpcPool{tls: cfg, idle: make(map[string][]*rpcConn), maxIdle: 32}
}

func (p *rpcPool) get(address string, timeout time.Duration) (*rpcConn, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	if l := p.idle[address]; len(l) > 0 {
		c := l[len(l)-1]
		p.idle[address] = l[:len(l)-1]
		p.mu.Unlock()
		return c, nil
	}
	p.mu.Unlock()
	tc, err := dialTLS(address, p.tls, hdrRPC, timeout)
	if err != nil {
		return nil, err
	}
	return &rpcConn{c: tc, r: bufio.NewReader(tc), w: bufio.NewWriter(tc)}, nil
}

func (p *rpcPool) put(address string, c *rpcConn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || len(p.idle[address]) >= p.maxIdle {
		_ = c.c.Close()
		return
	}
	p.idle[address] = append(p.idle[address], c)
}

func (p *rpcPool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, l := range p.idle {
		for _, c := range l {
			_ = c.c.Close()
		}
	}
	p.idle = nil
}

// call sends req to address and waits for the response or ctx's deadline.
func (p *rpcPool) call(ctx context.Context, address string, req *rpcRequest) (*rpcResponse, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(10 * time.Second)
	}
	c, err := p.get(address, time.Until(deadline))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", errDial, address, err)
	}
	_ = c.c.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = c.c.SetDeadline(time.Now()) })
	var resp rpcResponse
	err = c.frame.write(c.w, req)
	if err == nil {
		err = c.frame.read(c.r, &resp, maxFrame)
	}
	stopped := stop()
	if err != nil || !stopped {
		_ = c.c.Close()
		if err == nil {
			err = ctx.Err()
		}
		return nil, fmt.Errorf("rpc to %s: %w", address, err)
	}
	_ = c.c.SetDeadline(time.Time{})
	p.put(address, c)
	return &resp, nil
}
