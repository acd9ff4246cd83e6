package connector

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waedge/waedge/cloudapi"
	"github.com/waedge/waedge/internal/poll"
	"github.com/waedge/waedge/internal/syncbuf"
	"github.com/waedge/waedge/network"
	"github.com/waedge/waedge/node"
	"github.com/waedge/waedge/node/nodetest"
	"github.com/waedge/waedge/phone"
	"github.com/waedge/waedge/raftfsm"
	"github.com/waedge/waedge/relay"
	"github.com/waedge/waedge/relay/relayclient"
	"github.com/waedge/waedge/seal"
	"github.com/waedge/waedge/web"
	"github.com/waedge/waedge/webhook"
)

// tap keeps a copy of every byte the relay receives from devices.
type tap struct {
	mu     sync.Mutex
	frames [][]byte
}

func (t *tap) Write(b []byte) (int, error) {
	t.mu.Lock()
	t.frames = append(t.frames, bytes.Clone(b))
	t.mu.Unlock()
	return len(b), nil
}

func (t *tap) all() [][]byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([][]byte(nil), t.frames...)
}

// receiver is the business's webhook endpoint: it records inbound message
// ids and statuses.
type receiver struct {
	mu       sync.Mutex
	inbound  map[string]int               // wamid → deliveries
	texts    map[string]string            // wamid → text body
	statuses map[string]map[string]bool   // wamid → statuses seen
	contacts map[string]string            // wa_id → profile name
	raw      map[string]map[string]string // wamid → type → raw message JSON
	errs     map[string]int               // wamid → error code of its failed status
}

func newReceiver() *receiver {
	return &receiver{inbound: map[string]int{}, texts: map[string]string{}, statuses: map[string]map[string]bool{},
		contacts: map[string]string{}, raw: map[string]map[string]string{}, errs: map[string]int{}}
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet { // subscription handshake
		_, _ = io.WriteString(w, r.URL.Query().Get("hub.challenge"))
		return
	}
	body, _ := io.ReadAll(r.Body)
	var n struct {
		Entry []struct {
			Changes []struct {
				Value struct {
					Contacts []struct {
						Profile struct{ Name string }
						WaID    string `json:"wa_id"`
					}
					Messages []json.RawMessage
					Statuses []struct {
						ID, Status string
						Errors     []struct{ Code int }
					}
				}
			}
		}
	}
	if json.Unmarshal(body, &n) != nil || len(n.Entry) != 1 || len(n.Entry[0].Changes) != 1 {
		w.WriteHeader(400)
		return
	}
	v := n.Entry[0].Changes[0].Value
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, c := range v.Contacts {
		rc.contacts[c.WaID] = c.Profile.Name
	}
	for _, raw := range v.Messages {
		var m struct {
			ID, Type string
			Text     struct{ Body string }
		}
		_ = json.Unmarshal(raw, &m)
		rc.inbound[m.ID]++
		rc.texts[m.ID] = m.Text.Body
		if rc.raw[m.ID] == nil {
			rc.raw[m.ID] = map[string]string{}
		}
		rc.raw[m.ID][m.Type] = string(raw)
	}
	for _, s := range v.Statuses {
		if rc.statuses[s.ID] == nil {
			rc.statuses[s.ID] = map[string]bool{}
		}
		rc.statuses[s.ID][s.Status] = true
		if len(s.Errors) > 0 {
			rc.errs[s.ID] = s.Errors[0].Code
		}
	}
}

// member is one in-process waedge node with its connector, webhook
// dispatcher and HTTP API.
type member struct {
	cfg  node.Config
	n    *node.Node
	base string
	app  interface{ Shutdown() error }
}

type world struct {
	t        testing.TB
	relay    *relay.Relay
	relayURL string
	members  []*member
	client   *http.Client
	// ambiguous counts requests retried after an attempt whose outcome is
	// unknown (timeout, cut connection, 5xx): such an attempt may have been
	// committed, so a send can reach the phone twice with two ids.
	ambiguous int
	logs      syncbuf.Buffer // what every member's connector, web app and dispatcher logged (debug level)
}

func (w *world) start(m *member) {
	t := w.t
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := node.New(ctx, m.cfg)
	if err != nil {
		t.Fatal(err)
	}
	m.n = n
	sealer := seal.New(n, n.KEK(), time.Now)
	logger := slog.New(slog.NewJSONHandler(&w.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	n.RegisterWorker("webhooks", webhook.New(n, webhook.Config{Egress: loopback, BaseBackoff: 20 * time.Millisecond, Poll: 5 * time.Millisecond,
		Open: sealer.Open}, logger).Run)
	c := New(Deps{Cluster: n, Sealer: sealer, Logger: logger, Egress: mediaSite, Dial: func(ctx context.Context, s network.Signer) (network.Network, error) {
		return relayclient.Dial(ctx, w.relayURL, relayclient.Options{Signer: s, MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	}}, Config{Resend: 500 * time.Millisecond, Numbers: 100 * time.Millisecond})
	n.RegisterWorker("network", c.Run)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m.base = "http://" + ln.Addr().String()
	app := web.New(web.Deps{Cluster: n, Sealer: sealer, Egress: loopback, Identities: Identities{FSM: n.FSM(), Sealer: sealer},
		PublicURL: m.base, Logger: logger})
	go func() { _ = app.Listener(ln) }()
	m.app = app
}

func (w *world) stop(m *member) {
	_ = m.app.Shutdown()
	_ = m.n.Close()
	m.n = nil
}

// crash stops m without a leadership handover, cutting its connections
// first (node.StopWithoutHandover): the others must notice and elect.
func (w *world) crash(m *member) {
	_ = m.n.StopWithoutHandover()
	_ = m.app.Shutdown()
	m.n = nil
}

func (w *world) leader() *member {
	var l *member
	nodetest.WaitFor(w.t, "a leader", 20*time.Second, func() bool {
		for _, m := range w.members {
			if m.n != nil && m.n.IsLeader() {
				l = m
				return true
			}
		}
		return false
	})
	return l
}

// propose commits cmd through the leader of the moment. The cluster's
// fast Raft timeouts make a loaded machine change leaders now and then, and
// a write cut off by that has an unknown outcome: it is tried again, and a
// retry that conflicts with the first attempt's effect counts as done.
func (w *world) propose(cmd []byte) {
	w.t.Helper()
	var err error
	for attempt := 0; ; attempt++ {
		_, err = raftfsm.Outcome(w.leader().n.Propose(context.Background(), cmd))
		if err == nil || (attempt > 0 && errors.Is(err, raftfsm.ErrConflict)) {
			return
		}
		if !errors.Is(err, node.ErrNoLeader) && !errors.Is(err, node.ErrOutcomeUnknown) || attempt == 10 {
			w.t.Fatal(err)
		}
	}
}

// do sends an API request through any live member, retrying transient
// failures (no leader, member stopped) until it gets a final answer.
func (w *world) do(method, path, token string, body any) (int, []byte) {
	b, _ := json.Marshal(body)
	var code int
	var out []byte
	nodetest.WaitFor(w.t, method+" "+path, 30*time.Second, func() bool {
		for _, m := range w.members {
			if m.n == nil {
				continue
			}
			req, _ := http.NewRequest(method, m.base+path, bytes.NewReader(b))
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Content-Type", "application/json")
			resp, err := w.client.Do(req)
			if err != nil {
				w.ambiguous++
				continue
			}
			out, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			code = resp.StatusCode
			if code < 500 {
				return true
			}
			w.ambiguous++
		}
		return false
	})
	return code, out
}

// TestConversationsSurviveLeaderKills is issue 4's in-process end-to-end
// test: a 3-node cluster, a relay and 50 hosted phones talk both ways with
// every message type while the leader crashes (node.StopWithoutHandover: no handover) and restarts several
// times. Afterwards every phone holds every message sent to it, the
// business received every message the phones sent, no Signal counter was
// ever used for two different ciphertexts, and no plaintext crossed the
// relay.
// newWorld starts a relay (recording what it receives in tp), three
// members and the business (phone-number id 3, WABA 2, display number
// 15550001000, access token "tok-e2e") subscribed to rc's webhook and with
// an approved template "order_update".
func newWorld(t testing.TB, tp *tap, rc *receiver) *world {
	rl, err := relay.New(relay.Config{DataDir: t.TempDir(), Tap: tapOrNil(tp)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = rl.Serve(context.Background(), rln) }()
	t.Cleanup(func() { _ = rl.Close() })
	w := &world{t: t, relay: rl, relayURL: "http://" + rln.Addr().String(), client: &http.Client{Timeout: 10 * time.Second}}

	// Three members: the first bootstraps, the others join. Patient Raft
	// timeouts: with nodetest's fast ones a machine at load 20-40 loses its
	// leader every few seconds, while forming the cluster too; the tests
	// that need a leader change crash it.
	first := &member{cfg: nodetest.PatientConfig(t)}
	w.members = append(w.members, first)
	w.start(first)
	nodetest.WaitFor(t, "first member ready", 30*time.Second, first.n.Ready)
	for i := 0; i < 2; i++ {
		var tok string
		var err error
		if !poll.Wait(30*time.Second, func() bool {
			tok, err = first.n.CreateJoinToken(context.Background(), time.Hour)
			return err == nil
		}) {
			t.Fatalf("join token: %v", err)
		}
		m := &member{cfg: nodetest.PatientConfig(t)}
		m.cfg.Join, m.cfg.JoinToken = []string{first.cfg.ClusterAddr}, tok
		w.members = append(w.members, m)
		w.start(m)
	}
	for _, m := range w.members {
		nodetest.WaitFor(t, "member ready", 30*time.Second, m.n.Ready)
	}
	t.Cleanup(func() {
		for _, m := range w.members {
			if m.n != nil {
				w.stop(m)
			}
		}
	})

	// The business.
	token := "tok-e2e"
	cmd, _ := raftfsm.EncodeCommand(raftfsm.CmdCreateTenant, raftfsm.CreateTenant{BusinessID: "1", BusinessName: "Acme",
		WABAID: "2", PhoneNumberID: "3", DisplayPhoneNumber: "+15550001000", AppID: "4", AppSecret: "s3cr3t", TokenID: "t",
		TokenHash: sha256.Sum256([]byte(token))})
	w.propose(cmd)
	cmd, _ = raftfsm.EncodeCommand(raftfsm.CmdSetPhoneLimits, raftfsm.SetPhoneLimits{PhoneNumberID: "3", ThroughputMPS: 1000, PairPerMinute: 1000})
	w.propose(cmd)
	hook := httptest.NewServer(rc)
	t.Cleanup(hook.Close)
	if code, body := w.do("POST", "/v21.0/2/subscribed_apps", token, map[string]string{
		"override_callback_uri": hook.URL, "verify_token": "v"}); code != 200 {
		t.Fatalf("subscribe: %d %s", code, body)
	}
	if code, body := w.do("POST", "/v21.0/2/message_templates", token, map[string]any{"name": "order_update",
		"language": "en_US", "category": "UTILITY", "components": []map[string]any{{"type": "BODY",
			"text": "Order {{1}} is {{2}}", "example": map[string]any{"body_text": [][]string{{"42", "ready"}}}}}}); code != 200 {
		t.Fatalf("template: %d %s", code, body)
	}
	nodetest.WaitFor(t, "business number on the network", 20*time.Second, func() bool {
		for _, m := range w.members {
			if m.n != nil && m.n.IsLeader() {
				v, _, _ := m.n.FSM().SignalRecord("3", "signal_meta\x00identity")
				return v != nil
			}
		}
		return false
	})

	return w
}

func TestConversationsSurviveLeaderKills(t *testing.T) {
	const phones = 50
	const rounds = 5
	tp := &tap{}
	rc := newReceiver()
	w := newWorld(t, tp, rc)
	rl, token, business := w.relay, "tok-e2e", "15550001000"
	// Fifty hosted phones.
	ctx := context.Background()
	var ph []*phone.Phone
	for i := 0; i < phones; i++ {
		p, err := rl.CreatePhone(ctx, fmt.Sprintf("49151%08d", i), fmt.Sprintf("Consumer %d", i))
		if err != nil {
			t.Fatal(err)
		}
		ph = append(ph, p)
	}

	marker := func(kind string, round, i int) string {
		return fmt.Sprintf("mk%s-%d-%d-%x", kind, round, i, sha256.Sum256([]byte(t.Name())))[:40]
	}
	var markers []string
	var inboundIDs []string       // Cloud API ids of what the phones sent
	var outboundIDs []string      // wamids the API accepted
	want := map[string][]string{} // phone number → wamids addressed to it
	lastInbound := map[int]string{}
	phoneMsg := map[int]string{}     // phone index → id of what it sent this round
	reactions := map[string]string{} // business reaction wamid → the phone's message it targets

	// The leader crashes in the middle of traffic: halfway through the
	// phones' turn in round 1 (inbound envelopes in flight), halfway
	// through the business's turn in rounds 2 and 3 (accepted messages
	// being encrypted, committed and sent).
	const inPhoneTurn, inBusinessTurn = 1, 2
	killAt := map[int]int{1: inPhoneTurn, 2: inBusinessTurn, 3: inBusinessTurn}
	var stopped *member
	killMidway := func(round, turn, i int) {
		if killAt[round] == turn && i == len(ph)/2 {
			stopped = w.leader()
			w.crash(stopped)
		}
	}
	// Media both ways: phones send small images (a blob each), the
	// business sends one uploaded image by id.
	upload := pngBytes(t, 4_000)
	mediaID := w.upload(token, upload)
	phoneImages := map[string][]byte{}  // inbound wamid → bytes
	businessImages := map[string]bool{} // outbound wamid of an image
	for round := 0; round < rounds; round++ {
		if stopped != nil { // bring the previously stopped member back
			w.start(stopped)
			stopped = nil
		}
		// Phones write first (this also opens the 24-hour window).
		for i, p := range ph {
			killMidway(round, inPhoneTurn, i)
			var c network.Content
			var img []byte
			switch (round + i) % 6 {
			case 0, 1:
				mk := marker("in", round, i)
				markers = append(markers, mk)
				c = network.Content{Type: network.ContentText, Text: &network.Text{Body: "hello " + mk}}
			case 2:
				if i%2 == 0 {
					img = pngBytes(t, 2_000)
					break
				}
				c = network.Content{Type: network.ContentLocation, Location: &network.Location{Latitude: 52.5, Longitude: 13.4, Name: "Berlin"}}
			case 3:
				c = network.Content{Type: network.ContentContacts, Contacts: []network.Contact{{Name: network.ContactName{FormattedName: "Ana"}}}}
			case 4:
				if prev, ok := lastInbound[i]; ok && round > 0 {
					c = network.Content{Type: network.ContentButtonReply, Reply: &network.Reply{ID: "yes", Title: "Yes"},
						Context: &network.Context{MessageID: prev}}
				} else {
					c = network.Content{Type: network.ContentListReply, Reply: &network.Reply{ID: "row1", Title: "Row"}}
				}
			case 5:
				if prev, ok := lastInbound[i]; ok && round > 0 {
					c = network.Content{Type: network.ContentReaction, Reaction: &network.Reaction{MessageID: prev, Emoji: "👍"}}
				} else {
					c = network.Content{Type: network.ContentText, Text: &network.Text{Body: "hi"}}
				}
			}
			var m phone.Message
			if img != nil {
				reach(t, func() (err error) { m, err = p.SendMedia(ctx, business, "image", "image/png", img, ""); return err })
				phoneImages[inboundWAMID(p.Number(), m.ID)] = img
			} else {
				reach(t, func() (err error) { m, err = p.Send(ctx, business, c); return err })
			}
			inboundIDs = append(inboundIDs, inboundWAMID(p.Number(), m.ID))
			phoneMsg[i] = m.ID
		}
		if round == 0 { // the replies below need the 24-hour window open
			nodetest.WaitFor(t, "first messages recorded", 30*time.Second, func() bool {
				rc.mu.Lock()
				defer rc.mu.Unlock()
				for _, id := range inboundIDs {
					if rc.inbound[id] == 0 {
						return false
					}
				}
				return true
			})
		}
		// The business answers every phone, cycling through the types.
		for i, p := range ph {
			killMidway(round, inBusinessTurn, i)
			mk := marker("out", round, i)
			var body map[string]any
			react := false
			switch (round + i) % 7 {
			case 0, 1:
				markers = append(markers, mk)
				body = map[string]any{"type": "text", "text": map[string]any{"body": "reply " + mk}}
			case 2:
				if i%2 == 0 {
					body = map[string]any{"type": "image", "image": map[string]any{"id": mediaID}}
					break
				}
				body = map[string]any{"type": "location", "location": map[string]any{"latitude": 48.1, "longitude": 11.5, "name": "Munich"}}
			case 3:
				body = map[string]any{"type": "interactive", "interactive": map[string]any{"type": "button",
					"body": map[string]any{"text": "Confirm?"}, "action": map[string]any{"buttons": []map[string]any{
						{"type": "reply", "reply": map[string]any{"id": "yes", "title": "Yes"}}}}}}
			case 4:
				body = map[string]any{"type": "template", "template": map[string]any{"name": "order_update",
					"language": map[string]any{"code": "en_US"}, "components": []map[string]any{{"type": "body",
						"parameters": []map[string]any{{"type": "text", "text": "42"}, {"type": "text", "text": "ready"}}}}}}
			case 5:
				body = map[string]any{"type": "contacts", "contacts": []map[string]any{{"name": map[string]any{
					"formatted_name": "Support", "first_name": "Support"}, "phones": []map[string]any{{"phone": "+15550009999"}}}}}
			case 6: // a reaction to what the phone just sent, by its Cloud API id
				react = true
				body = map[string]any{"type": "reaction", "reaction": map[string]any{
					"message_id": inboundWAMID(p.Number(), phoneMsg[i]), "emoji": "❤"}}
			}
			body["messaging_product"] = "whatsapp"
			body["to"] = p.Number()
			code, out := w.do("POST", "/v21.0/3/messages", token, body)
			if code != 200 {
				t.Fatalf("send to phone %d: %d %s", i, code, out)
			}
			var resp struct{ Messages []struct{ ID string } }
			if err := json.Unmarshal(out, &resp); err != nil || len(resp.Messages) != 1 {
				t.Fatalf("send response %s", out)
			}
			outboundIDs = append(outboundIDs, resp.Messages[0].ID)
			if body["type"] == "image" {
				businessImages[resp.Messages[0].ID] = true
			}
			if react {
				reactions[resp.Messages[0].ID] = phoneMsg[i]
			}
			want[p.Number()] = append(want[p.Number()], resp.Messages[0].ID)
		}
		for i := range ph {
			lastInbound[i] = want[ph[i].Number()][len(want[ph[i].Number()])-1]
		}
	}
	if stopped != nil {
		w.start(stopped)
	}

	// Every phone gets every message addressed to it, decrypted once.
	nodetest.WaitFor(t, "every phone has every business message", 60*time.Second, func() bool {
		for _, p := range ph {
			inbox, err := p.Inbox()
			if err != nil {
				return false
			}
			got := map[string]int{}
			for _, m := range inbox {
				if m.Status == phone.StatusUndecryptable {
					t.Fatalf("phone %s could not decrypt %s", p.Number(), m.ID)
				}
				got[m.ID]++
			}
			for _, id := range want[p.Number()] {
				if got[id] != 1 {
					return false
				}
			}
		}
		return true
	})
	// The business gets every message the phones sent, and delivery
	// statuses for what it sent.
	nodetest.WaitFor(t, "every inbound message and status reached the webhook", 60*time.Second, func() bool {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		for _, id := range inboundIDs {
			if rc.inbound[id] == 0 {
				return false
			}
		}
		for _, id := range outboundIDs {
			if !rc.statuses[id]["delivered"] {
				return false
			}
		}
		return true
	})
	// Media: every phone image reached the business as a media id whose
	// download is the phone's bytes; every business image decrypts on its
	// phone to the uploaded bytes.
	if len(phoneImages) == 0 || len(businessImages) == 0 {
		t.Fatalf("%d phone images, %d business images sent", len(phoneImages), len(businessImages))
	}
	for wamid, img := range phoneImages {
		rc.mu.Lock()
		raw := rc.raw[wamid]["image"]
		rc.mu.Unlock()
		var msg struct {
			Image struct {
				ID string `json:"id"`
			} `json:"image"`
		}
		if err := json.Unmarshal([]byte(raw), &msg); err != nil || msg.Image.ID == "" {
			t.Fatalf("image webhook of %s: %q", wamid, raw)
		}
		if got := w.download(token, msg.Image.ID); !bytes.Equal(got, img) {
			t.Fatalf("image %s: downloaded %d bytes, the phone sent %d", wamid, len(got), len(img))
		}
	}
	for _, p := range ph {
		inbox, _ := p.Inbox()
		for _, m := range inbox {
			if businessImages[m.ID] {
				got, _, err := p.FetchMedia(ctx, m.ID)
				if err != nil || !bytes.Equal(got, upload) {
					t.Fatalf("phone %s image %s: %v, %d bytes", p.Number(), m.ID, err, len(got))
				}
			}
		}
	}

	rc.mu.Lock()
	if rc.contacts[ph[0].Number()] != "Consumer 0" {
		t.Errorf("webhook contact profile = %q", rc.contacts[ph[0].Number()])
	}
	for _, id := range outboundIDs {
		if !rc.statuses[id]["sent"] {
			t.Errorf("no sent status for %s", id)
		}
	}
	rc.mu.Unlock()

	// A phone's reaction reaches the webhook naming the business's wamid.
	phoneReactions := 0
	rc.mu.Lock()
	for _, byType := range rc.raw {
		if raw, ok := byType["reaction"]; ok {
			var m struct {
				Reaction struct {
					MessageID string `json:"message_id"`
					Emoji     string `json:"emoji"`
				} `json:"reaction"`
			}
			_ = json.Unmarshal([]byte(raw), &m)
			if !slices.Contains(outboundIDs, m.Reaction.MessageID) || m.Reaction.Emoji != "👍" {
				t.Errorf("phone reaction webhook %s", raw)
			}
			phoneReactions++
		}
	}
	rc.mu.Unlock()
	if phoneReactions == 0 {
		t.Error("no phone reaction reached the webhook")
	}
	// A business reaction reaches the phone naming the phone's own message.
	if len(reactions) == 0 {
		t.Fatal("no reactions were sent")
	}
	for _, p := range ph {
		inbox, _ := p.Inbox()
		for _, m := range inbox {
			if want, ok := reactions[m.ID]; ok && (m.Content.Reaction == nil || m.Content.Reaction.MessageID != want) {
				t.Errorf("reaction %s reached the phone as %+v, want target %s", m.ID, m.Content.Reaction, want)
			}
		}
	}
	// Every phone's inbox: no message twice, and every business message
	// the phone holds was one the API accepted.
	accepted := map[string]bool{}
	for _, id := range outboundIDs {
		accepted[id] = true
	}
	// A request retried after an attempt with an unknown outcome may have
	// been committed twice: its second copy has an id the test never saw,
	// but the same content as an accepted message in the same inbox, and
	// there are no more of them than ambiguous attempts.
	unknown := 0
	for _, p := range ph {
		inbox, _ := p.Inbox()
		for _, m := range inbox {
			if accepted[m.ID] {
				continue
			}
			unknown++
			// The content carries the message's own id, and a media
			// message a blob sealed under a fresh key for each send: both
			// differ between the twins by construction. Compare the rest.
			twin := false
			mc := twinContent(m.Content)
			for _, o := range inbox {
				if accepted[o.ID] && reflect.DeepEqual(twinContent(o.Content), mc) {
					twin = true
				}
			}
			if !twin {
				t.Errorf("phone %s holds message %s the API never accepted", p.Number(), m.ID)
			}
		}
	}
	if unknown > w.ambiguous {
		t.Errorf("phones hold %d messages with unknown ids, but only %d requests had an unknown outcome", unknown, w.ambiguous)
	}

	// No plaintext in the logs (invariant 4).
	logged := w.logs.String()
	for _, mk := range markers {
		if strings.Contains(logged, mk) || strings.Contains(logged, hex.EncodeToString([]byte(mk))) {
			t.Fatalf("a member logged message marker %s", mk)
		}
	}

	// No counter reuse and no plaintext on the relay.
	seen := map[chainSlot]string{}
	envelopes := 0
	for _, raw := range tp.all() {
		for _, mk := range markers {
			if bytes.Contains(raw, []byte(mk)) {
				t.Fatalf("the relay received plaintext marker %s", mk)
			}
		}
		f, err := network.DecodeFrame(raw)
		if err != nil || f.Type != network.FrameSend {
			continue
		}
		env, err := network.UnmarshalEnvelope(f.Payload)
		if err != nil || env.From != business {
			continue
		}
		envelopes++
		s, h := slotOf(t, env)
		if prev, ok := seen[s]; ok && prev != h {
			t.Fatalf("counter %d of a sending chain to %s was used for two different ciphertexts", s.counter, s.to)
		}
		seen[s] = h
	}
	if envelopes < len(outboundIDs) {
		t.Fatalf("relay saw %d business envelopes for %d messages", envelopes, len(outboundIDs))
	}
	if !strings.HasPrefix(inboundIDs[0], "wamid.") {
		t.Errorf("inbound id %q is not a wamid", inboundIDs[0])
	}
	_ = cloudapi.NormalizePhone
}

// tapOrNil keeps a nil *tap from becoming a non-nil io.Writer.
func tapOrNil(t *tap) io.Writer {
	if t == nil {
		return nil
	}
	return t
}

// reach retries a phone's send while the business number is not yet
// registered on the relay (the connector registers it shortly after the
// tenant exists), and fails the test on any other error.
func reach(t testing.TB, send func() error) {
	t.Helper()
	nodetest.WaitFor(t, "the business is reachable", 20*time.Second, func() bool {
		err := send()
		if err != nil && !errors.Is(err, network.ErrNotRegistered) {
			t.Fatalf("phone send: %v", err)
		}
		return err == nil
	})
}

// twinContent is c without what two commits of one retried send do not
// share: the message id, and a media message's blob, key and blob digest
// (the connector seals the media again for every message). The plaintext
// digest, type, size and caption stay.
func twinContent(c network.Content) network.Content {
	c.ID = ""
	if c.Media != nil {
		m := *c.Media
		m.BlobID, m.Key, m.EncSHA256 = "", nil, nil
		c.Media = &m
	}
	return c
}
