// Package relayclient is the device side of the sandbox relay's WebSocket protocol. A Client
// implements network.Network, network.BlobStore and network.Reporter; it reconnects on its own and
// logs its numbers in again, so the relay redelivers whatever was not acknowledged.
package relayclient

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/waedge/waedge/network"
)

// Options configures a Client.
type Options struct {
	// Signer proves possession of identity keys for Register and Login (and again after reconnects).
	Signer network.Signer
	// Logger receives connection events (never content or numbers); nil discards.
	Logger *slog.Logger
	// HTTPClient is used for the WebSocket handshake and blob transfers; nil uses http.DefaultClient.
	HTTPClient *http.Client
	// WriteTimeout bounds each frame write; default 10s.
	WriteTimeout time.Duration
	// MinBackoff and MaxBackoff bound the reconnect delay; defaults 50ms and 5s.
	MinBackoff, MaxBackoff time.Duration
}

// Client is a connection to a relay serving any number of device numbers.
type Client struct {
	base string // http(s)://host[:port][/prefix]
	opts Options
	log  *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc

	mu        sync.Mutex
	conn      *conn
	connected chan struct{} // closed while conn is usable
	numbers   map[string]bool

	qmu   sync.Mutex
	queue []network.Delivery
	qwake chan struct{}

	deliveries chan network.Delivery
	wg         sync.WaitGroup
	closeOnce  sync.Once
}

var _ network.Network = (*Client)(nil)
var _ network.BlobStore = (*Client)(nil)
var _ network.Reporter = (*Client)(nil)

// Dial connects to the relay at baseURL (http://, https://, ws:// or wss://). The first connection is
// made before Dial returns; later ones are made in the background after a drop.
func Dial(ctx context.Context, baseURL string, opts Options) (*Client, error) {
	base := strings.TrimRight(baseURL, "/")
	switch {
	case strings.HasPrefix(base, "ws://"):
		base = "http://" + strings.TrimPrefix(base, "ws://")
	case strings.HasPrefix(base, "wss://"):
		base = "https://" + strings.TrimPrefix(base, "wss://")
	case strings.HasPrefix(base, "http://"), strings.HasPrefix(base, "https://"):
	default:
		return nil, fmt.Errorf("relay url %q: %w", baseURL, network.ErrInvalid)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = http.DefaultClient
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 10 * time.Second
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 50 * time.Millisecond
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(5*time.Second, opts.MinBackoff)
	}
	cctx, cancel := context.WithCancel(context.Background())
	c := &Client{base: base, opts: opts, log: opts.Logger, ctx: cctx, cancel: cancel,
		connected: make(chan struct{}), numbers: make(map[string]bool),
		qwake: make(chan struct{}, 1), deliveries: make(chan network.Delivery, 64)}
	first, err := c.connect(ctx)
	if err != nil {
		cancel()
		return nil, err
	}
	c.wg.Add(2)
	go func() {
		defer c.wg.Done()
		c.forward()
	}()
	go func() {
		defer c.wg.Done()
		c.run(first)
	}()
	return c, nil
}

// conn is one WebSocket connection.
type conn struct {
	c      *Client
	ws     *websocket.Conn
	nonce  []byte
	ctx    context.Context
	cancel context.CancelFunc
	nextID atomic.Uint32

	mu          sync.Mutex
	pending     map[uint32]chan network.Result
	proofNumber string // the number proof was signed for (blob requests)
	proof       string // base64 signature of BlobProofMessage(nonce, proofNumber)
}

// connect dials, reads the challenge, starts the read loop, logs known numbers in and publishes the
// connection.
func (c *Client) connect(ctx context.Context) (*conn, error) {
	ws, _, err := websocket.Dial(ctx, c.base+"/v1/ws", &websocket.DialOptions{HTTPClient: c.opts.HTTPClient})
	if err != nil {
		return nil, fmt.Errorf("dial relay: %w", err)
	}
	ws.SetReadLimit(network.MaxFrameSize)
	typ, b, err := ws.Read(ctx)
	if err != nil {
		_ = ws.CloseNow()
		return nil, fmt.Errorf("read challenge: %w", err)
	}
	f, err := network.DecodeFrame(b)
	var ch network.Challenge
	if err == nil && (typ != websocket.MessageBinary || f.Type != network.FrameChallenge) {
		err = network.ErrBadFrame
	}
	if err == nil {
		err = f.DecodeJSON(&ch)
	}
	if err != nil || len(ch.Nonce) < 16 {
		_ = ws.CloseNow()
		return nil, fmt.Errorf("challenge: %w", network.ErrBadFrame)
	}
	cctx, cancel := context.WithCancel(c.ctx)
	k := &conn{c: c, ws: ws, nonce: ch.Nonce, ctx: cctx, cancel: cancel, pending: make(map[uint32]chan network.Result)}
	go k.readLoop()

	c.mu.Lock()
	numbers := make([]string, 0, len(c.numbers))
	for n := range c.numbers {
		numbers = append(numbers, n)
	}
	c.mu.Unlock()
	for _, n := range numbers {
		res, err := k.request(ctx, network.FrameLogin, c.loginPayload(k.nonce, n))
		if err == nil {
			err = res.Err()
		}
		switch {
		case err == nil:
		case errors.Is(err, network.ErrUnauthorized), errors.Is(err, network.ErrNotRegistered), errors.Is(err, network.ErrInvalid):
			c.log.Warn("relay refused a number on reconnect; dropping it", "err", err)
			c.mu.Lock()
			delete(c.numbers, n)
			c.mu.Unlock()
		default:
			k.close()
			return nil, fmt.Errorf("login after reconnect: %w", err)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx.Err() != nil {
		k.close()
		return nil, network.ErrClosed
	}
	c.conn = k
	close(c.connected)
	return k, nil
}

func (c *Client) loginPayload(nonce []byte, number string) func() ([]byte, error) {
	return func() ([]byte, error) {
		if c.opts.Signer == nil {
			return nil, fmt.Errorf("no signer: %w", network.ErrUnauthorized)
		}
		sig, err := c.opts.Signer.Sign(number, network.AuthMessage(nonce, number))
		if err != nil {
			return nil, fmt.Errorf("sign login: %w", err)
		}
		return json.Marshal(network.LoginRequest{Number: number, Signature: sig})
	}
}

// run reconnects with exponential backoff whenever the current connection ends.
func (c *Client) run(k *conn) {
	for {
		select {
		case <-k.ctx.Done():
		case <-c.ctx.Done():
		}
		if c.ctx.Err() != nil {
			k.close()
			return
		}
		_ = k.ws.CloseNow()
		c.mu.Lock()
		if c.conn == k {
			c.conn = nil
			c.connected = make(chan struct{})
		}
		c.mu.Unlock()
		backoff := c.opts.MinBackoff
		for {
			if c.ctx.Err() != nil {
				return
			}
			next, err := c.connect(c.ctx)
			if err == nil {
				k = next
				break
			}
			c.log.Debug("relay reconnect failed", "err", err)
			t := time.NewTimer(backoff)
			select {
			case <-c.ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			backoff = min(2*backoff, c.opts.MaxBackoff)
		}
	}
}

func (k *conn) close() {
	k.cancel()
	_ = k.ws.Close(websocket.StatusNormalClosure, "")
}

func (k *conn) readLoop() {
	defer k.cancel()
	for {
		typ, b, err := k.ws.Read(k.ctx)
		if err != nil {
			return
		}
		if typ != websocket.MessageBinary {
			return
		}
		f, err := network.DecodeFrame(b)
		if err != nil {
			k.c.log.Warn("malformed frame from relay", "err", err)
			return
		}
		switch f.Type {
		case network.FrameResult:
			var res network.Result
			if err := f.DecodeJSON(&res); err != nil {
				res = network.Result{Code: "bad_frame"}
			}
			k.mu.Lock()
			ch := k.pending[f.ReqID]
			delete(k.pending, f.ReqID)
			k.mu.Unlock()
			if ch != nil {
				ch <- res
			}
		case network.FrameDeliver:
			d, err := network.DecodeDelivery(f.Payload)
			if err != nil {
				k.c.log.Warn("malformed delivery from relay", "err", err)
				continue
			}
			k.c.push(d)
		default:
			k.c.log.Warn("unexpected frame from relay", "type", f.Type)
		}
	}
}

// request sends one request frame on k and waits for its Result.
func (k *conn) request(ctx context.Context, t network.FrameType, payload func() ([]byte, error)) (network.Result, error) {
	p, err := payload()
	if err != nil {
		return network.Result{}, err
	}
	id := k.nextID.Add(1)
	if id == 0 {
		id = k.nextID.Add(1)
	}
	b, err := network.EncodeFrame(network.Frame{Type: t, ReqID: id, Payload: p})
	if err != nil {
		return network.Result{}, err
	}
	ch := make(chan network.Result, 1)
	k.mu.Lock()
	k.pending[id] = ch
	k.mu.Unlock()
	defer func() {
		k.mu.Lock()
		delete(k.pending, id)
		k.mu.Unlock()
	}()
	// The write is bounded by the connection, not by ctx: cancelling a caller's context must not tear
	// down a connection other requests share.
	wctx, cancel := context.WithTimeout(k.ctx, k.c.opts.WriteTimeout)
	err = k.ws.Write(wctx, websocket.MessageBinary, b)
	cancel()
	if err != nil {
		k.cancel()
		return network.Result{}, fmt.Errorf("write request: %w", network.ErrDisconnected)
	}
	select {
	case res := <-ch:
		return res, nil
	case <-k.ctx.Done():
		return network.Result{}, network.ErrDisconnected
	case <-ctx.Done():
		return network.Result{}, ctx.Err()
	}
}

// do runs a request on the current connection, waiting for one if the client is reconnecting.
func (c *Client) do(ctx context.Context, t network.FrameType, payload func(nonce []byte) ([]byte, error)) (network.Result, error) {
	c.mu.Lock()
	k, ready := c.conn, c.connected
	c.mu.Unlock()
	if k == nil {
		select {
		case <-ready:
			return c.do(ctx, t, payload)
		case <-c.ctx.Done():
			return network.Result{}, network.ErrClosed
		case <-ctx.Done():
			return network.Result{}, fmt.Errorf("waiting for relay connection: %w", ctx.Err())
		}
	}
	res, err := k.request(ctx, t, func() ([]byte, error) { return payload(k.nonce) })
	if err != nil {
		if c.ctx.Err() != nil {
			return res, network.ErrClosed
		}
		return res, err
	}
	return res, res.Err()
}

func jsonPayload(v any) func([]byte) ([]byte, error) {
	return func([]byte) ([]byte, error) { return json.Marshal(v) }
}

// Register implements network.Network.
func (c *Client) Register(ctx context.Context, reg network.Registration) error {
	_, err := c.do(ctx, network.FrameRegister, func(nonce []byte) ([]byte, error) {
		if c.opts.Signer == nil {
			return nil, fmt.Errorf("no signer: %w", network.ErrUnauthorized)
		}
		sig, err := c.opts.Signer.Sign(reg.Number, network.AuthMessage(nonce, reg.Number))
		if err != nil {
			return nil, fmt.Errorf("sign registration: %w", err)
		}
		return json.Marshal(network.RegisterRequest{Registration: reg, Signature: sig})
	})
	if err == nil {
		c.remember(reg.Number)
	}
	return err
}

// Login implements network.Network.
func (c *Client) Login(ctx context.Context, number string) error {
	_, err := c.do(ctx, network.FrameLogin, func(nonce []byte) ([]byte, error) {
		return c.loginPayload(nonce, number)()
	})
	if err == nil {
		c.remember(number)
	}
	return err
}

func (c *Client) remember(number string) {
	c.mu.Lock()
	c.numbers[number] = true
	c.mu.Unlock()
}

// AddPreKeys implements network.Network.
func (c *Client) AddPreKeys(ctx context.Context, number string, otks []network.OneTimePreKey) error {
	_, err := c.do(ctx, network.FrameAddPreKeys, jsonPayload(network.PreKeysRequest{Number: number, PreKeys: otks}))
	return err
}

// PreKeyCount implements network.Network.
func (c *Client) PreKeyCount(ctx context.Context, number string) (int, error) {
	res, err := c.do(ctx, network.FramePreKeyCount, jsonPayload(network.NumberRequest{Number: number}))
	return res.Count, err
}

// FetchBundle implements network.Network.
func (c *Client) FetchBundle(ctx context.Context, number string) (network.PreKeyBundle, error) {
	res, err := c.do(ctx, network.FrameFetchBundle, jsonPayload(network.NumberRequest{Number: number}))
	if err != nil {
		return network.PreKeyBundle{}, err
	}
	if res.Bundle == nil {
		return network.PreKeyBundle{}, fmt.Errorf("result without bundle: %w", network.ErrBadFrame)
	}
	return *res.Bundle, nil
}

// Send implements network.Network.
func (c *Client) Send(ctx context.Context, env network.Envelope) error {
	data, err := network.MarshalEnvelope(&env)
	if err != nil {
		return err
	}
	_, err = c.do(ctx, network.FrameSend, func([]byte) ([]byte, error) { return data, nil })
	return err
}

// Receive implements network.Network. Every call returns the same channel; it is closed by Close.
// Acknowledge every delivery received, duplicates included.
func (c *Client) Receive(context.Context) (<-chan network.Delivery, error) {
	return c.deliveries, nil
}

// Ack implements network.Network.
func (c *Client) Ack(ctx context.Context, number string, ids ...string) error {
	for len(ids) > 0 {
		n := min(len(ids), network.MaxAckIDs)
		if _, err := c.do(ctx, network.FrameAck, jsonPayload(network.AckRequest{Number: number, IDs: ids[:n]})); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

// SendReceipt implements network.Network.
func (c *Client) SendReceipt(ctx context.Context, r network.Receipt) error {
	_, err := c.do(ctx, network.FrameReceipt, jsonPayload(r))
	return err
}

// Typing implements network.Network.
func (c *Client) Typing(ctx context.Context, from, to string) error {
	_, err := c.do(ctx, network.FrameTyping, jsonPayload(network.Typing{From: from, To: to}))
	return err
}

// Report implements network.Reporter.
func (c *Client) Report(ctx context.Context, from, business, kind string) error {
	_, err := c.do(ctx, network.FrameReport, jsonPayload(network.ReportRequest{From: from, Business: business, Kind: kind}))
	return err
}

// Headers of a blob request's device proof (see BlobProofMessage).
const (
	HeaderNumber = "X-Relay-Number"
	HeaderProof  = "X-Relay-Proof"
)

// BlobProofMessage is what a device signs with a number's identity key to use the relay's blob
// routes: the login message over a nonce derived from the connection's challenge nonce, so the proof
// is valid only while that connection owns the number and can never pass for a login.
func BlobProofMessage(nonce []byte, number string) []byte {
	d := sha256.Sum256(append([]byte("waedge relay blob access\x00"), nonce...))
	return network.AuthMessage(d[:], number)
}

// blobProof returns a number this client has logged in and its proof for the current connection.
func (c *Client) blobProof(ctx context.Context) (string, string, error) {
	c.mu.Lock()
	k, ready := c.conn, c.connected
	number := ""
	for n := range c.numbers {
		if number == "" || n < number {
			number = n
		}
	}
	c.mu.Unlock()
	if k == nil {
		select {
		case <-ready:
			return c.blobProof(ctx)
		case <-c.ctx.Done():
			return "", "", network.ErrClosed
		case <-ctx.Done():
			return "", "", fmt.Errorf("waiting for relay connection: %w", ctx.Err())
		}
	}
	if number == "" || c.opts.Signer == nil {
		return "", "", fmt.Errorf("blob access needs a logged-in number: %w", network.ErrUnauthorized)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.proofNumber != number {
		sig, err := c.opts.Signer.Sign(number, BlobProofMessage(k.nonce, number))
		if err != nil {
			return "", "", fmt.Errorf("sign blob proof: %w", err)
		}
		k.proofNumber, k.proof = number, base64.StdEncoding.EncodeToString(sig)
	}
	return number, k.proof, nil
}

// blobRequest sends an HTTP request to a blob route with the device proof.
func (c *Client) blobRequest(ctx context.Context, method, path string, body io.Reader) (*http.Response, error) {
	number, proof, err := c.blobProof(ctx)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, fmt.Errorf("blob request: %w", err)
	}
	req.Header.Set(HeaderNumber, number)
	req.Header.Set(HeaderProof, proof)
	if body != nil {
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	resp, err := c.opts.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusUnauthorized {
		resp.Body.Close()
		return nil, fmt.Errorf("blob request: %w", network.ErrUnauthorized)
	}
	return resp, nil
}

// PutBlob implements network.BlobStore.
func (c *Client) PutBlob(ctx context.Context, blob []byte) (string, error) {
	resp, err := c.blobRequest(ctx, http.MethodPut, "/sandbox/blobs", bytes.NewReader(blob))
	if err != nil {
		return "", fmt.Errorf("upload blob: %w", err)
	}
	defer resp.Body.Close()
	var out struct {
		ID string `json:"id"`
	}
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("upload blob: status %d: %w", resp.StatusCode, network.ErrInvalid)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&out); err != nil || !network.ValidID(out.ID) {
		return "", fmt.Errorf("upload blob answer: %w", network.ErrBadFrame)
	}
	return out.ID, nil
}

// GetBlob implements network.BlobStore.
func (c *Client) GetBlob(ctx context.Context, id string) ([]byte, error) {
	if !network.ValidID(id) || strings.ContainsAny(id, "/.") {
		return nil, network.ErrInvalid
	}
	resp, err := c.blobRequest(ctx, http.MethodGet, "/sandbox/blobs/"+id, nil)
	if err != nil {
		return nil, fmt.Errorf("download blob: %w", err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return nil, network.ErrNotFound
	default:
		return nil, fmt.Errorf("download blob: status %d: %w", resp.StatusCode, network.ErrInternal)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 1<<30))
}

// Connected reports whether the client currently has a live connection.
func (c *Client) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conn != nil
}

// Close ends the connection and closes the Receive channel. It is safe to call more than once.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.cancel()
		c.mu.Lock()
		k := c.conn
		c.mu.Unlock()
		if k != nil {
			k.close()
		}
		c.wg.Wait()
		close(c.deliveries)
	})
	return nil
}

// push queues a delivery for the forwarder. The read loop never blocks on the application, so
// request results keep flowing even while the application is busy with deliveries.
func (c *Client) push(d network.Delivery) {
	c.qmu.Lock()
	c.queue = append(c.queue, d)
	c.qmu.Unlock()
	select {
	case c.qwake <- struct{}{}:
	default:
	}
}

func (c *Client) forward() {
	for {
		c.qmu.Lock()
		var batch []network.Delivery
		batch, c.queue = c.queue, nil
		c.qmu.Unlock()
		for _, d := range batch {
			select {
			case c.deliveries <- d:
			case <-c.ctx.Done():
				return
			}
		}
		if len(batch) > 0 {
			continue
		}
		select {
		case <-c.qwake:
		case <-c.ctx.Done():
			return
		}
	}
}
