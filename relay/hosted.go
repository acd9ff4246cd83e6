package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"sort"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/waedge/waedge/network"
	"github.com/waedge/waedge/phone"
	"github.com/waedge/waedge/relay/relayclient"
)

// bHosted lists hosted phones in hosted-phones.db: number → hostedRecord JSON. Each phone's own state
// (identity, sessions, messages) lives in a namespace bucket "phone/<number>" of the same file.
var bHosted = []byte("hosted")

type hostedRecord struct {
	Number    string `json:"number"`
	Name      string `json:"name"`
	CreatedAt int64  `json:"created_at"`
}

type hostedPhone struct {
	rec    hostedRecord
	phone  *phone.Phone
	client *relayclient.Client
}

// hostedPhones runs simulated phones inside the relay process. They connect to the relay over an
// in-memory listener and speak the same protocol as any other device.
type hostedPhones struct {
	r   *Relay
	db  *bolt.DB
	ln  *memListener
	srv *http.Server
	hc  *http.Client

	mu     sync.Mutex
	phones map[string]*hostedPhone
	served chan struct{}
}

const hostedURL = "http://relay.internal"

func (r *Relay) startHosted() error {
	db, err := phone.OpenBoltDB(filepath.Join(r.cfg.DataDir, "hosted-phones.db"))
	if err != nil {
		return err
	}
	db.NoSync = r.cfg.NoSync
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucketIfNotExists(bHosted); return err }); err != nil {
		_ = db.Close()
		return fmt.Errorf("hosted phones: %w", err)
	}
	ln := newMemListener()
	h := &hostedPhones{r: r, db: db, ln: ln, phones: make(map[string]*hostedPhone), served: make(chan struct{}),
		srv: &http.Server{Handler: r.mux, ReadHeaderTimeout: 10 * time.Second},
		hc:  &http.Client{Transport: &http.Transport{DialContext: ln.DialContext, MaxIdleConnsPerHost: 16}}}
	go func() {
		defer close(h.served)
		_ = h.srv.Serve(ln)
	}()
	r.hosted = h

	var recs []hostedRecord
	err = db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bHosted).ForEach(func(_, v []byte) error {
			var rec hostedRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("hosted phone record: %w", errCorrupt)
			}
			recs = append(recs, rec)
			return nil
		})
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.ctx, time.Minute)
	defer cancel()
	for _, rec := range recs {
		hp, err := h.start(ctx, rec)
		if err != nil {
			return fmt.Errorf("restart hosted phone: %w", err)
		}
		h.phones[rec.Number] = hp
	}
	return nil
}

// start brings one hosted phone online: its store, a client over the in-memory listener, Start.
func (h *hostedPhones) start(ctx context.Context, rec hostedRecord) (*hostedPhone, error) {
	p, err := phone.New(phone.Config{Number: rec.Number, Name: rec.Name, Store: phone.NewBoltStore(h.db, "phone/"+rec.Number),
		Now: h.r.cfg.Now}, h.r.log.With("component", "hosted-phone"))
	if err != nil {
		return nil, err
	}
	c, err := relayclient.Dial(ctx, hostedURL, relayclient.Options{Signer: p, HTTPClient: h.hc,
		Logger: h.r.log.With("component", "hosted-phone-client")})
	if err != nil {
		return nil, err
	}
	if err := p.Start(ctx, c); err != nil {
		_ = c.Close()
		return nil, err
	}
	return &hostedPhone{rec: rec, phone: p, client: c}, nil
}

func (r *Relay) stopHosted() {
	h := r.hosted
	if h == nil {
		return
	}
	h.mu.Lock()
	phones := h.phones
	h.phones = map[string]*hostedPhone{}
	h.mu.Unlock()
	for _, hp := range phones {
		_ = hp.phone.Close()
		_ = hp.client.Close()
	}
	_ = h.srv.Close()
	_ = h.ln.Close()
	<-h.served
	_ = h.db.Close()
}

// pruneHosted deletes hosted phones' messages older than before (see phone.Prune).
func (r *Relay) pruneHosted(before time.Time) {
	h := r.hosted
	if h == nil {
		return
	}
	h.mu.Lock()
	phones := make([]*phone.Phone, 0, len(h.phones))
	for _, hp := range h.phones {
		phones = append(phones, hp.phone)
	}
	h.mu.Unlock()
	for _, p := range phones {
		if _, err := p.Prune(before); err != nil {
			r.log.Error("prune hosted phone", "err", err)
		}
	}
}

// CreatePhone creates, registers and starts a hosted phone. It fails with ErrPhoneExists if the relay
// already hosts number.
func (r *Relay) CreatePhone(ctx context.Context, number, name string) (*phone.Phone, error) {
	h := r.hosted
	if !network.ValidNumber(number) || len(name) > network.MaxProfileNameLen {
		return nil, fmt.Errorf("number or name: %w", network.ErrInvalid)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.phones[number]; ok {
		return nil, ErrPhoneExists
	}
	rec := hostedRecord{Number: number, Name: name, CreatedAt: r.cfg.Now().UnixMilli()}
	hp, err := h.start(ctx, rec)
	if err != nil {
		_ = phone.DeleteNamespace(h.db, "phone/"+number)
		return nil, err
	}
	v, err := json.Marshal(rec)
	if err == nil {
		err = h.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bHosted).Put([]byte(number), v) })
	}
	if err != nil {
		_ = hp.phone.Close()
		_ = hp.client.Close()
		return nil, fmt.Errorf("save hosted phone: %w", err)
	}
	h.phones[number] = hp
	return hp.phone, nil
}

// Phone returns a hosted phone.
func (r *Relay) Phone(number string) (*phone.Phone, error) {
	h := r.hosted
	h.mu.Lock()
	defer h.mu.Unlock()
	hp, ok := h.phones[number]
	if !ok {
		return nil, ErrNoPhone
	}
	return hp.phone, nil
}

// PhoneInfo describes a hosted phone.
type PhoneInfo struct {
	Number    string `json:"number"`
	Name      string `json:"name"`
	CreatedAt int64  `json:"created_at"`
	Online    bool   `json:"online"`
}

// Phones lists the hosted phones by number.
func (r *Relay) Phones() []PhoneInfo {
	h := r.hosted
	h.mu.Lock()
	out := make([]PhoneInfo, 0, len(h.phones))
	for _, hp := range h.phones {
		out = append(out, PhoneInfo{Number: hp.rec.Number, Name: hp.rec.Name, CreatedAt: hp.rec.CreatedAt, Online: hp.client.Connected()})
	}
	h.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Number < out[j].Number })
	return out
}

// ---- HTTP API ----

const apiTimeout = 30 * time.Second

// decodeBody reads one JSON object of at most limit bytes.
func decodeBody(w http.ResponseWriter, req *http.Request, limit int64, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, req.Body, limit))
	if err := dec.Decode(v); err != nil {
		httpError(w, http.StatusBadRequest, "invalid JSON body")
		return false
	}
	return true
}

// apiError maps errors to HTTP statuses without echoing message content.
func (r *Relay) apiError(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrNoPhone), errors.Is(err, phone.ErrNoMessage), errors.Is(err, network.ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, ErrPhoneExists), errors.Is(err, network.ErrAlreadyRegistered):
		status = http.StatusConflict
	case errors.Is(err, network.ErrInvalid), errors.Is(err, network.ErrBadContent), errors.Is(err, phone.ErrNotMedia):
		status = http.StatusBadRequest
	case errors.Is(err, network.ErrUnknownRecipient), errors.Is(err, network.ErrNotRegistered):
		status = http.StatusUnprocessableEntity
	case errors.Is(err, network.ErrBlocked):
		status = http.StatusForbidden
	case errors.Is(err, network.ErrRateLimited):
		status = http.StatusTooManyRequests
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, network.ErrDisconnected):
		status = http.StatusGatewayTimeout
	default:
		r.log.Error("hosted phone request failed", "err", err)
	}
	httpError(w, status, err.Error())
}

func (r *Relay) apiCreatePhone(w http.ResponseWriter, req *http.Request) {
	var body struct {
		Number string `json:"number"`
		Name   string `json:"name"`
	}
	if !decodeBody(w, req, 4<<10, &body) {
		return
	}
	ctx, cancel := context.WithTimeout(req.Context(), apiTimeout)
	defer cancel()
	p, err := r.CreatePhone(ctx, body.Number, body.Name)
	if err != nil {
		r.apiError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, PhoneInfo{Number: p.Number(), Name: p.Name(), Online: true})
}

func (r *Relay) phoneOf(w http.ResponseWriter, req *http.Request) (*phone.Phone, bool) {
	p, err := r.Phone(req.PathValue("n"))
	if err != nil {
		r.apiError(w, err)
		return nil, false
	}
	return p, true
}

// mediaUpload is a media attachment in a send request (data is base64 in JSON).
type mediaUpload struct {
	Data     []byte `json:"data"`
	MIMEType string `json:"mime_type"`
	Caption  string `json:"caption,omitempty"`
	Filename string `json:"filename,omitempty"`
}

// sendRequest is the body of POST /sandbox/phones/{n}/send.
type sendRequest struct {
	To          string            `json:"to"`
	Type        string            `json:"type"`
	Text        json.RawMessage   `json:"text,omitempty"` // "hello" or {"body":"hello"}
	Image       *mediaUpload      `json:"image,omitempty"`
	Video       *mediaUpload      `json:"video,omitempty"`
	Audio       *mediaUpload      `json:"audio,omitempty"`
	Document    *mediaUpload      `json:"document,omitempty"`
	Sticker     *mediaUpload      `json:"sticker,omitempty"`
	Location    *network.Location `json:"location,omitempty"`
	Contacts    []network.Contact `json:"contacts,omitempty"`
	Reaction    *network.Reaction `json:"reaction,omitempty"`
	ButtonReply *network.Reply    `json:"button_reply,omitempty"`
	ListReply   *network.Reply    `json:"list_reply,omitempty"`
	Context     *network.Context  `json:"context,omitempty"`
}

func (r *Relay) apiSend(w http.ResponseWriter, req *http.Request) {
	p, ok := r.phoneOf(w, req)
	if !ok {
		return
	}
	var body sendRequest
	if !decodeBody(w, req, r.cfg.MaxBlobSize*4/3+64<<10, &body) {
		return
	}
	ctx, cancel := context.WithTimeout(req.Context(), apiTimeout)
	defer cancel()
	c := network.Content{Type: body.Type, Context: body.Context}
	var media *mediaUpload
	switch body.Type {
	case network.ContentText:
		var s string
		var obj network.Text
		if json.Unmarshal(body.Text, &s) == nil {
			obj.Body = s
		} else if json.Unmarshal(body.Text, &obj) != nil {
			httpError(w, http.StatusBadRequest, "text must be a string or {\"body\":...}")
			return
		}
		c.Text = &obj
	case network.ContentImage:
		media = body.Image
	case network.ContentVideo:
		media = body.Video
	case network.ContentAudio:
		media = body.Audio
	case network.ContentDocument:
		media = body.Document
	case network.ContentSticker:
		media = body.Sticker
	case network.ContentLocation:
		c.Location = body.Location
	case network.ContentContacts:
		c.Contacts = body.Contacts
	case network.ContentReaction:
		c.Reaction = body.Reaction
	case network.ContentButtonReply:
		c.Reply = body.ButtonReply
	case network.ContentListReply:
		c.Reply = body.ListReply
	default:
		httpError(w, http.StatusBadRequest, "unsupported message type")
		return
	}
	var (
		m   phone.Message
		err error
	)
	if network.IsMediaType(body.Type) {
		if media == nil || len(media.Data) == 0 || media.MIMEType == "" {
			httpError(w, http.StatusBadRequest, "media needs data and mime_type")
			return
		}
		m, err = p.SendMedia(ctx, body.To, body.Type, media.MIMEType, media.Data, media.Caption)
	} else {
		m, err = p.Send(ctx, body.To, c)
	}
	if err != nil {
		r.apiError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, m)
}

// apiList answers {"messages": [...]}; the inbox also has "typing": when
// each peer last showed a typing indicator (unix ms).
func (r *Relay) apiList(list func(*phone.Phone) ([]phone.Message, error), withTyping bool) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		p, ok := r.phoneOf(w, req)
		if !ok {
			return
		}
		msgs, err := list(p)
		if err != nil {
			r.apiError(w, err)
			return
		}
		if msgs == nil {
			msgs = []phone.Message{}
		}
		out := map[string]any{"messages": msgs}
		if withTyping {
			out["typing"] = p.TypingSeen()
		}
		writeJSON(w, http.StatusOK, out)
	}
}

func (r *Relay) apiMedia(w http.ResponseWriter, req *http.Request) {
	p, ok := r.phoneOf(w, req)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(req.Context(), apiTimeout)
	defer cancel()
	data, mime, err := p.FetchMedia(ctx, req.PathValue("id"))
	if err != nil {
		r.apiError(w, err)
		return
	}
	w.Header().Set("Content-Type", mime)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(data)
}

func (r *Relay) apiRead(w http.ResponseWriter, req *http.Request) {
	p, ok := r.phoneOf(w, req)
	if !ok {
		return
	}
	var body struct {
		MessageID string `json:"message_id"`
	}
	if !decodeBody(w, req, 4<<10, &body) {
		return
	}
	ctx, cancel := context.WithTimeout(req.Context(), apiTimeout)
	defer cancel()
	if err := p.MarkRead(ctx, body.MessageID); err != nil {
		r.apiError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"success": true})
}

func (r *Relay) apiTyping(w http.ResponseWriter, req *http.Request) {
	p, ok := r.phoneOf(w, req)
	if !ok {
		return
	}
	var body struct {
		To string `json:"to"`
	}
	if !decodeBody(w, req, 4<<10, &body) {
		return
	}
	ctx, cancel := context.WithTimeout(req.Context(), apiTimeout)
	defer cancel()
	if err := p.Typing(ctx, body.To); err != nil {
		r.apiError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"success": true})
}

func (r *Relay) apiReport(do func(*phone.Phone, context.Context, string) error) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		p, ok := r.phoneOf(w, req)
		if !ok {
			return
		}
		var body struct {
			Business string `json:"business"`
		}
		if !decodeBody(w, req, 4<<10, &body) {
			return
		}
		ctx, cancel := context.WithTimeout(req.Context(), apiTimeout)
		defer cancel()
		if err := do(p, ctx, body.Business); err != nil {
			r.apiError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]bool{"success": true})
	}
}
