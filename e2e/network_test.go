package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waedge/waedge/internal/syncbuf"
)

// relayProc is a running `waedge relay`.
type relayProc struct {
	addr string
	dir  string // its --data-dir (relay.token is there)
	cmd  *exec.Cmd
	log  *syncbuf.Buffer
}

// sandboxRelay is a relay as `waedge sandbox phone` reaches it: its address
// and the file holding its API token.
type sandboxRelay struct {
	addr, tokenFile string
}

// flags are the sandbox CLI's flags for this relay.
func (s sandboxRelay) flags() []string {
	return []string{"--relay", "http://" + s.addr, "--relay-token-file", s.tokenFile}
}

func (r *relayProc) sandbox() sandboxRelay {
	return sandboxRelay{addr: r.addr, tokenFile: filepath.Join(r.dir, "relay.token")}
}

func startRelay(t *testing.T) *relayProc {
	t.Helper()
	r := &relayProc{addr: freeAddr(t), dir: t.TempDir(), log: &syncbuf.Buffer{}}
	r.cmd = exec.Command(binary, "relay", "--addr", r.addr, "--data-dir", r.dir)
	r.cmd.Stdout, r.cmd.Stderr = r.log, r.log
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
		checkLog(t, "relay", r.log.String(), true) // the network routes by consumer numbers
		if t.Failed() {
			t.Logf("--- relay log ---\n%s", tail(r.log.String(), 40))
		}
	})
	waitFor(t, "relay up", 10*time.Second, func() bool {
		resp, err := http.Get("http://" + r.addr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return r
}

// sandbox runs `waedge sandbox phone …` against the relay and decodes its
// JSON output into out.
func sandbox(t *testing.T, rl sandboxRelay, out any, args ...string) {
	t.Helper()
	stdout, stderr, err := cli(t, append([]string{"sandbox", "phone"}, append(args, rl.flags()...)...)...)
	if err != nil {
		t.Fatalf("sandbox phone %v: %v\n%s", args, err, stderr)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(stdout), out); err != nil {
			t.Fatalf("sandbox phone %v output %q: %v", args, stdout, err)
		}
	}
}

type inbox struct {
	Messages []struct {
		ID      string
		Status  string
		Content struct {
			Type string
			Text struct{ Body string }
		}
	}
}

// TestBlackBoxConversationOverSharedRelay runs `waedge relay`, three
// `waedge serve --network relay://…` processes and a hosted phone driven
// with `waedge sandbox phone`: the phone and the business talk through the
// Cloud API and webhooks, the leader is killed with SIGKILL, and the
// conversation continues in both directions.
func TestBlackBoxConversationOverSharedRelay(t *testing.T) {
	rl := startRelay(t)
	nodes, token := startCluster(t, "--network", "relay://"+rl.addr, "--egress-allow", "127.0.0.0/8") // receiver on 127.0.0.1
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var created tenantCreated
	if code, err := doJSON(ctx, "POST", nodes[0].url("/admin/v1/tenants"), token,
		map[string]string{"name": "Shop", "phone": "+15550004242"}, &created); err != nil || code != 200 {
		t.Fatalf("create tenant: %d %v", code, err)
	}
	hook := newHook(t)
	mu, got, statuses := &hook.mu, hook.got, hook.statuses
	if code, err := doJSON(ctx, "POST", nodes[0].url("/v21.0/"+created.WABAID+"/subscribed_apps"), created.AccessToken,
		map[string]string{"override_callback_uri": hook.srv.URL, "verify_token": "verify-shared-relay"}, nil); err != nil || code != 200 {
		t.Fatalf("subscribe: %d %v", code, err)
	}
	business := "15550004242"
	consumer := "4917600000077"
	consumerNumber(t, consumer) // texts are captured as they are sent (harness)
	sandbox(t, rl.sandbox(), nil, "create", "--number", consumer, "--name", "Mia")

	phoneSays := func(text string) string {
		t.Helper()
		// The business number registers on the relay shortly after the
		// tenant exists; until then the relay refuses unknown recipients.
		waitFor(t, "phone can reach the business", 30*time.Second, func() bool {
			_, _, err := cli(t, append([]string{"sandbox", "phone", "send", "--number", consumer,
				"--to", business, "--text", text}, rl.sandbox().flags()...)...)
			return err == nil
		})
		var wamid string
		waitFor(t, "webhook for "+text, 30*time.Second, func() bool {
			mu.Lock()
			defer mu.Unlock()
			wamid = got[text]
			return wamid != ""
		})
		return wamid
	}
	businessSays := func(text string) string {
		t.Helper()
		var resp struct{ Messages []struct{ ID string } }
		waitFor(t, "API accepts "+text, 30*time.Second, func() bool {
			for _, p := range nodes {
				if !p.alive() {
					continue
				}
				code, err := doJSON(ctx, "POST", p.url("/v21.0/"+created.PhoneNumberID+"/messages"), created.AccessToken,
					map[string]any{"messaging_product": "whatsapp", "to": consumer, "type": "text",
						"text": map[string]string{"body": text}}, &resp)
				if err == nil && code == 200 {
					return true
				}
			}
			return false
		})
		waitFor(t, "phone receives "+text, 30*time.Second, func() bool {
			var in inbox
			sandbox(t, rl.sandbox(), &in, "inbox", "--number", consumer)
			for _, m := range in.Messages {
				if m.Content.Text.Body == text {
					return true
				}
			}
			return false
		})
		return resp.Messages[0].ID
	}

	inWamid := phoneSays("hello from Mia")
	outWamid := businessSays("hello Mia, how can we help?")
	waitFor(t, "delivered status", 30*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return statuses[outWamid+"/sent"] && statuses[outWamid+"/delivered"]
	})
	// The business marks the phone's message read; the phone sees it.
	for _, p := range nodes {
		code, err := doJSON(ctx, "POST", p.url("/v21.0/"+created.PhoneNumberID+"/messages"), created.AccessToken,
			map[string]any{"messaging_product": "whatsapp", "status": "read", "message_id": inWamid}, nil)
		if err == nil && code == 200 {
			break
		}
	}
	waitFor(t, "the phone sees its message read", 30*time.Second, func() bool {
		var sent inbox
		sandbox(t, rl.sandbox(), &sent, "sent", "--number", consumer)
		return len(sent.Messages) > 0 && sent.Messages[0].Status == "read"
	})

	leader := leaderProc(t, nodes, token)
	leader.kill()
	businessSays("still here after the leader died")
	phoneSays("great, thanks")
	if tok, err := os.ReadFile(rl.sandbox().tokenFile); err != nil || strings.Contains(rl.log.String(), strings.TrimSpace(string(tok))) {
		t.Fatalf("relay token in the relay's output (or unreadable: %v)", err)
	}
	if strings.Contains(rl.log.String(), "still here") {
		t.Fatal("the relay logged message text")
	}
}

// hook is a business's webhook receiver: inbound texts by body (→ wamid)
// and statuses ("wamid/status").
type hook struct {
	srv      *httptest.Server
	mu       sync.Mutex
	got      map[string]string
	statuses map[string]bool
}

func newHook(t *testing.T) *hook {
	h := &hook{got: map[string]string{}, statuses: map[string]bool{}}
	h.srv = hookServer(t, func(w http.ResponseWriter, r *http.Request, b []byte) {
		var n struct {
			Entry []struct {
				Changes []struct {
					Value struct {
						Messages []struct {
							ID   string
							Text struct{ Body string }
						}
						Statuses []struct{ ID, Status string }
					}
				}
			}
		}
		if json.Unmarshal(b, &n) == nil && len(n.Entry) == 1 && len(n.Entry[0].Changes) == 1 {
			h.mu.Lock()
			for _, m := range n.Entry[0].Changes[0].Value.Messages {
				h.got[m.Text.Body] = m.ID
			}
			for _, s := range n.Entry[0].Changes[0].Value.Statuses {
				h.statuses[s.ID+"/"+s.Status] = true
			}
			h.mu.Unlock()
		}
	})
	return h
}

// hookServer is a webhook receiver: it answers the verification handshake
// and hands each POSTed body to event.
func hookServer(t *testing.T, event func(w http.ResponseWriter, r *http.Request, body []byte)) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			_, _ = io.WriteString(w, r.URL.Query().Get("hub.challenge"))
			return
		}
		b, _ := io.ReadAll(r.Body)
		event(w, r, b)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// received reports whether an inbound text reached the hook.
func (h *hook) received(text string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.got[text] != ""
}
