package relay

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/coder/websocket"
	"go.mau.fi/libsignal/ecc"

	"github.com/waedge/waedge/network"
)

// session is one device connection. Its read loop decodes requests and hands writes to the store's
// group-commit writer without waiting (requests are pipelined, answered by request id); its write
// loop is the only goroutine that writes to the socket: results, typing and queued deliveries.
type session struct {
	r      *Relay
	ws     *websocket.Conn
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	nonce  []byte

	mu       sync.Mutex
	numbers  map[string]*numberState // authenticated numbers this connection owns
	inflight map[string]string       // delivery id → number, sent but not yet acked

	results chan []byte   // encoded Result frames; capacity > MaxPipeline so sends never block
	typing  chan []byte   // encoded typing deliveries; dropped when full
	wake    chan struct{} // capacity 1: queues changed or acks freed window space
	slots   chan struct{} // pipelining semaphore

	ended bool // guarded by the hub's mutex: the connection is gone, attach nothing more

	device string // the first number authenticated on this connection: its bundle rate-limit key (under mu)
}

// numberState is a number's delivery cursor on this connection: the last queue sequence pushed.
type numberState struct {
	cursor uint64
	role   network.Role
}

func newSession(r *Relay, ws *websocket.Conn) (*session, error) {
	nonce := make([]byte, 32)
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("nonce: %w", err)
	}
	ctx, cancel := context.WithCancel(r.ctx)
	return &session{
		r: r, ws: ws, log: r.log, ctx: ctx, cancel: cancel, nonce: nonce,
		numbers:  make(map[string]*numberState),
		inflight: make(map[string]string),
		results:  make(chan []byte, r.cfg.MaxPipeline+8),
		typing:   make(chan []byte, 64),
		wake:     make(chan struct{}, 1),
		slots:    make(chan struct{}, r.cfg.MaxPipeline),
	}, nil
}

// run serves the connection until it fails or the relay closes.
func (s *session) run() {
	defer s.cancel()
	s.ws.SetReadLimit(int64(s.r.cfg.MaxFrameSize))
	hello, err := network.EncodeJSONFrame(network.FrameChallenge, 0, network.Challenge{
		Nonce: s.nonce, Window: s.r.cfg.Window, MaxFrame: s.r.cfg.MaxFrameSize})
	if err != nil {
		s.log.Error("encode challenge", "err", err)
		return
	}
	if err := s.write(hello); err != nil {
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.writeLoop()
	}()
	status, reason := s.readLoop()
	s.cancel()
	<-done
	s.r.hub.end(s)
	_ = s.ws.Close(status, reason)
}

func (s *session) readLoop() (websocket.StatusCode, string) {
	for {
		typ, b, err := s.ws.Read(s.ctx)
		if err != nil {
			if websocket.CloseStatus(err) == -1 && s.ctx.Err() == nil {
				s.log.Debug("connection read ended", "err", err)
			}
			return websocket.StatusNormalClosure, ""
		}
		s.r.tap(b)
		if typ != websocket.MessageBinary {
			return websocket.StatusUnsupportedData, "binary frames only"
		}
		f, err := network.DecodeFrame(b)
		if err != nil || !f.Type.IsRequest() {
			return websocket.StatusPolicyViolation, "malformed frame"
		}
		select {
		case s.slots <- struct{}{}:
		case <-s.ctx.Done():
			return websocket.StatusGoingAway, ""
		}
		s.handle(f)
	}
}

// reply queues the Result for request reqID and frees its pipelining slot.
func (s *session) reply(reqID uint32, res network.Result) {
	b, err := network.EncodeJSONFrame(network.FrameResult, reqID, res)
	if err != nil {
		s.log.Error("encode result", "err", err)
		b, _ = network.EncodeJSONFrame(network.FrameResult, reqID, network.Result{Code: "internal"})
	}
	s.results <- b
	<-s.slots
}

// replyErr answers with err's code. Storage failures are logged; rejections are the client's business.
func (s *session) replyErr(reqID uint32, err error) {
	if err == nil {
		s.reply(reqID, network.Result{})
		return
	}
	if !isRejection(err) {
		s.log.Error("request failed", "err", err)
		s.reply(reqID, network.Result{Code: "internal"})
		return
	}
	s.reply(reqID, network.Result{Code: network.ErrorCode(err), Message: err.Error()})
}

func (s *session) handle(f network.Frame) {
	now := s.r.cfg.Now()
	bad := func(err error) { s.replyErr(f.ReqID, fmt.Errorf("%w: %w", network.ErrInvalid, err)) }
	switch f.Type {
	case network.FrameRegister:
		var req network.RegisterRequest
		if err := f.DecodeJSON(&req); err != nil {
			bad(err)
			return
		}
		s.register(f.ReqID, req, now)
	case network.FrameLogin:
		var req network.LoginRequest
		if err := f.DecodeJSON(&req); err != nil {
			bad(err)
			return
		}
		s.replyErr(f.ReqID, s.login(req))
	case network.FrameAddPreKeys:
		var req network.PreKeysRequest
		if err := f.DecodeJSON(&req); err != nil {
			bad(err)
			return
		}
		if err := s.authorize(req.Number); err != nil {
			s.replyErr(f.ReqID, err)
			return
		}
		if err := network.ValidatePreKeys(req.PreKeys); err != nil {
			s.replyErr(f.ReqID, err)
			return
		}
		var res error
		s.r.st.submit(&op{fn: addPreKeysOp(req.Number, req.PreKeys, s.r.cfg.MaxStoredPreKeys, &res),
			done: func(err error) { s.replyErr(f.ReqID, errors.Join(err, res)) }})
	case network.FramePreKeyCount:
		var req network.NumberRequest
		if err := f.DecodeJSON(&req); err != nil {
			bad(err)
			return
		}
		if err := s.authorize(req.Number); err != nil {
			s.replyErr(f.ReqID, err)
			return
		}
		n, err := s.r.st.preKeyCount(req.Number)
		if err != nil {
			s.replyErr(f.ReqID, err)
			return
		}
		s.reply(f.ReqID, network.Result{Count: n})
	case network.FrameFetchBundle:
		var req network.NumberRequest
		if err := f.DecodeJSON(&req); err != nil {
			bad(err)
			return
		}
		if !s.authenticated() {
			s.replyErr(f.ReqID, network.ErrUnauthorized)
			return
		}
		if !network.ValidNumber(req.Number) {
			s.replyErr(f.ReqID, network.ErrInvalid)
			return
		}
		var bundle network.PreKeyBundle
		var res error
		device := s.deviceKey()
		allowDevice := func() bool { return s.r.limits.device(device) }
		allowOneTime := func() bool { return s.r.limits.oneTimeKey(req.Number) }
		s.r.st.submit(&op{fn: fetchBundleOp(req.Number, allowDevice, allowOneTime, &bundle, &res), done: func(err error) {
			if err = errors.Join(err, res); err != nil {
				s.replyErr(f.ReqID, err)
				return
			}
			s.reply(f.ReqID, network.Result{Bundle: &bundle})
		}})
	case network.FrameSend:
		env, err := network.UnmarshalEnvelope(f.Payload)
		if err != nil {
			bad(err)
			return
		}
		s.send(f.ReqID, env, now)
	case network.FrameAck:
		var req network.AckRequest
		if err := f.DecodeJSON(&req); err != nil {
			bad(err)
			return
		}
		s.ack(f.ReqID, req)
	case network.FrameReceipt:
		var r network.Receipt
		if err := f.DecodeJSON(&r); err != nil {
			bad(err)
			return
		}
		if err := r.Validate(); err != nil {
			s.replyErr(f.ReqID, err)
			return
		}
		if err := s.authorize(r.From); err != nil {
			s.replyErr(f.ReqID, err)
			return
		}
		var res error
		s.r.st.submit(&op{fn: receiptOp(r, now, &res), done: func(err error) {
			if err == nil && res == nil {
				s.r.hub.notify(r.To)
			}
			s.replyErr(f.ReqID, errors.Join(err, res))
		}})
	case network.FrameTyping:
		var t network.Typing
		if err := f.DecodeJSON(&t); err != nil {
			bad(err)
			return
		}
		if err := t.Validate(); err != nil {
			s.replyErr(f.ReqID, err)
			return
		}
		if err := s.authorize(t.From); err != nil {
			s.replyErr(f.ReqID, err)
			return
		}
		t.Timestamp = now.UnixMilli()
		d := network.Delivery{Type: network.DeliveryTyping, Typing: &t}
		if data, err := network.EncodeDelivery(&d); err == nil {
			if fr, err := network.EncodeFrame(network.Frame{Type: network.FrameDeliver, Payload: data}); err == nil {
				s.r.hub.typing(t.To, fr)
			}
		}
		s.reply(f.ReqID, network.Result{})
	case network.FrameReport:
		var req network.ReportRequest
		if err := f.DecodeJSON(&req); err != nil {
			bad(err)
			return
		}
		switch req.Kind {
		case network.SignalSpamReport, network.SignalBlock, network.SignalUnblock,
			network.SignalMarketingStop, network.SignalMarketingResume:
		default:
			s.replyErr(f.ReqID, network.ErrInvalid)
			return
		}
		if !network.ValidNumber(req.Business) {
			s.replyErr(f.ReqID, network.ErrInvalid)
			return
		}
		if err := s.authorize(req.From); err != nil {
			s.replyErr(f.ReqID, err)
			return
		}
		var res error
		s.r.st.submit(&op{fn: reportOp(req, now, &res), done: func(err error) {
			if err == nil && res == nil {
				s.r.hub.notify(req.Business)
			}
			s.replyErr(f.ReqID, errors.Join(err, res))
		}})
	default:
		s.replyErr(f.ReqID, network.ErrBadFrame)
	}
}

// verify checks an XEdDSA signature by a serialized identity key.
func verify(identityKey, msg, sig []byte) bool {
	if !network.ValidKey(identityKey) || len(sig) != network.SignatureLen {
		return false
	}
	pub, err := ecc.DecodePoint(identityKey, 0)
	if err != nil {
		return false
	}
	return ecc.VerifySignature(pub, msg, [64]byte(sig))
}

func (s *session) register(reqID uint32, req network.RegisterRequest, now time.Time) {
	reg := req.Registration
	if err := reg.Validate(); err != nil {
		s.replyErr(reqID, err)
		return
	}
	if !verify(reg.IdentityKey, network.AuthMessage(s.nonce, reg.Number), req.Signature) {
		s.replyErr(reqID, fmt.Errorf("registration signature: %w", network.ErrUnauthorized))
		return
	}
	if !verify(reg.IdentityKey, reg.SignedPreKey.Public, reg.SignedPreKey.Signature) {
		s.replyErr(reqID, fmt.Errorf("signed prekey signature: %w", network.ErrInvalid))
		return
	}
	// A different identity key may replace the registration only on a connection that proved the old one.
	replace := s.owns(reg.Number)
	var res error
	s.r.st.submit(&op{fn: registerOp(reg, replace, now, s.r.cfg.MaxStoredPreKeys, &res), done: func(err error) {
		if err = errors.Join(err, res); err == nil {
			s.r.hub.attach(reg.Number, s)
			s.setRole(reg.Number, reg.Role)
		}
		s.replyErr(reqID, err)
	}})
}

func (s *session) login(req network.LoginRequest) error {
	if !network.ValidNumber(req.Number) {
		return network.ErrInvalid
	}
	d, err := s.r.st.device(req.Number)
	if err != nil {
		return err
	}
	if !verify(d.IdentityKey, network.AuthMessage(s.nonce, req.Number), req.Signature) {
		return network.ErrUnauthorized
	}
	s.r.hub.attach(req.Number, s)
	s.setRole(req.Number, d.Role)
	return nil
}

func (s *session) send(reqID uint32, env network.Envelope, now time.Time) {
	role, err := s.roleOf(env.From)
	if err != nil {
		s.replyErr(reqID, err)
		return
	}
	d := network.Delivery{Type: network.DeliveryEnvelope, ID: env.ID, Envelope: &env}
	data, err := network.EncodeDelivery(&d)
	if err != nil {
		s.replyErr(reqID, err)
		return
	}
	var out sendOutcome
	s.r.st.submit(&op{fn: sendOp(env, data, role, now, &s.r.cfg, &out), done: func(err error) {
		if err == nil && out.err == nil {
			s.r.hub.notify(out.notify...)
		}
		s.replyErr(reqID, errors.Join(err, out.err))
	}})
}

func (s *session) ack(reqID uint32, req network.AckRequest) {
	if len(req.IDs) > network.MaxAckIDs {
		s.replyErr(reqID, network.ErrInvalid)
		return
	}
	for _, id := range req.IDs {
		if !network.ValidID(id) {
			s.replyErr(reqID, network.ErrInvalid)
			return
		}
	}
	if err := s.authorize(req.Number); err != nil {
		s.replyErr(reqID, err)
		return
	}
	s.r.st.submit(&op{fn: ackOp(req.Number, req.IDs), done: func(err error) {
		if err == nil {
			s.mu.Lock()
			for _, id := range req.IDs {
				delete(s.inflight, id)
			}
			s.mu.Unlock()
			s.wakeUp()
		}
		s.replyErr(reqID, err)
	}})
}

// authorize fails unless number is authenticated on this connection (and not taken over since).
func (s *session) authorize(number string) error {
	if !network.ValidNumber(number) {
		return network.ErrInvalid
	}
	if !s.owns(number) {
		return network.ErrUnauthorized
	}
	return nil
}

func (s *session) owns(number string) bool {
	s.mu.Lock()
	_, ok := s.numbers[number]
	s.mu.Unlock()
	return ok && s.r.hub.owns(number, s)
}

// deviceKey is the key of this connection's bundle rate limit: the first number it authenticated, so
// reconnecting does not refill the budget.
func (s *session) deviceKey() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.device
}

func (s *session) authenticated() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.numbers) > 0
}

func (s *session) roleOf(number string) (network.Role, error) {
	if err := s.authorize(number); err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.numbers[number]; st != nil {
		return st.role, nil
	}
	return "", network.ErrUnauthorized
}

func (s *session) setRole(number string, role network.Role) {
	s.mu.Lock()
	if st := s.numbers[number]; st != nil {
		st.role = role
	}
	s.mu.Unlock()
}

// attached is called by the hub (under its lock) when s becomes the owner of number. The cursor starts
// at zero, so everything still queued — including deliveries sent on an earlier connection but never
// acked — is delivered again.
func (s *session) attached(number string) {
	s.mu.Lock()
	if _, ok := s.numbers[number]; !ok {
		s.numbers[number] = &numberState{}
	}
	if s.device == "" {
		s.device = number
	}
	s.mu.Unlock()
	s.wakeUp()
}

// detach is called by the hub (under its lock) when another connection takes number over.
func (s *session) detach(number string) {
	s.mu.Lock()
	delete(s.numbers, number)
	for id, n := range s.inflight {
		if n == number {
			delete(s.inflight, id)
		}
	}
	s.mu.Unlock()
}

func (s *session) wakeUp() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// write sends one frame, bounded by the write timeout; a failed or slow write ends the connection.
func (s *session) write(b []byte) error {
	ctx, cancel := context.WithTimeout(s.ctx, s.r.cfg.WriteTimeout)
	defer cancel()
	if err := s.ws.Write(ctx, websocket.MessageBinary, b); err != nil {
		s.cancel()
		return err
	}
	return nil
}

func (s *session) writeLoop() {
	for {
		select {
		case <-s.ctx.Done():
			return
		case b := <-s.results:
			if s.write(b) != nil {
				return
			}
		case b := <-s.typing:
			if s.write(b) != nil {
				return
			}
		case <-s.wake:
			if s.pump() != nil {
				return
			}
		}
	}
}

// pump pushes queued deliveries of this connection's numbers until the window is full. Numbers are
// served round-robin in small batches so one backlog cannot starve the others.
func (s *session) pump() error {
	const perNumber = 64
	for {
		s.mu.Lock()
		room := s.r.cfg.Window - len(s.inflight)
		type cur struct {
			number string
			after  uint64
		}
		curs := make([]cur, 0, len(s.numbers))
		for n, st := range s.numbers {
			curs = append(curs, cur{n, st.cursor})
		}
		s.mu.Unlock()
		if room <= 0 || len(curs) == 0 {
			return nil
		}
		progressed := false
		for _, c := range curs {
			if room <= 0 {
				break
			}
			items, err := s.r.st.readQueue(c.number, c.after, min(room, perNumber))
			if err != nil {
				s.log.Error("read queue", "err", err)
				return err
			}
			for _, it := range items {
				s.mu.Lock()
				st := s.numbers[c.number]
				if st == nil || it.seq <= st.cursor {
					s.mu.Unlock()
					continue
				}
				st.cursor = it.seq
				s.inflight[it.id] = c.number
				s.mu.Unlock()
				frame, err := network.EncodeFrame(network.Frame{Type: network.FrameDeliver, Payload: it.data})
				if err != nil {
					s.log.Error("encode delivery frame", "err", err)
					continue
				}
				if err := s.write(frame); err != nil {
					return err
				}
				room--
				progressed = true
			}
			// Answers to requests must not wait behind a long backlog.
			if err := s.flushResults(); err != nil {
				return err
			}
		}
		if !progressed {
			return nil
		}
	}
}

func (s *session) flushResults() error {
	for {
		select {
		case b := <-s.results:
			if err := s.write(b); err != nil {
				return err
			}
		default:
			return nil
		}
	}
}
