package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// rawHook records every webhook event body (one event per POST).
type rawHook struct {
	srv    *httptest.Server
	mu     sync.Mutex
	events []hookEvent
}

// hookEvent is the part of a messages-field event the tests look at.
type hookEvent struct {
	Messages []struct {
		ID       string
		Type     string
		Text     struct{ Body string }
		Contacts []struct {
			Name struct {
				FormattedName string `json:"formatted_name"`
			}
			Phones []struct{ Phone string }
		}
	}
	Statuses []struct {
		ID, Status string
		Errors     []struct{ Code int }
	}
	UserPreferences []struct {
		WAID  string `json:"wa_id"`
		Value string
	} `json:"user_preferences"`
}

func newRawHook(t *testing.T) *rawHook {
	h := &rawHook{}
	h.srv = hookServer(t, func(_ http.ResponseWriter, _ *http.Request, b []byte) {
		var n struct {
			Entry []struct{ Changes []struct{ Value hookEvent } }
		}
		if json.Unmarshal(b, &n) == nil && len(n.Entry) == 1 && len(n.Entry[0].Changes) == 1 {
			h.mu.Lock()
			h.events = append(h.events, n.Entry[0].Changes[0].Value)
			h.mu.Unlock()
		}
	})
	return h
}

// find reports whether some event satisfies ok.
func (h *rawHook) find(ok func(hookEvent) bool) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.ContainsFunc(h.events, ok)
}

// status reports whether a status webhook of wamid reached the hook.
func (h *rawHook) status(wamid, status string) bool {
	return h.find(func(e hookEvent) bool {
		return slices.ContainsFunc(e.Statuses, func(s struct {
			ID, Status string
			Errors     []struct{ Code int }
		}) bool {
			return s.ID == wamid && s.Status == status
		})
	})
}

// sandboxOf is the embedded sandbox relay of a node: its --relay-addr and
// the token file in its --sandbox-dir (default: the data dir's sibling).
func sandboxOf(t *testing.T, p *proc) sandboxRelay {
	i := slices.Index(p.args, "--relay-addr")
	if i < 0 {
		t.Fatal("node has no embedded relay")
	}
	dir := p.dataDir + ".sandbox"
	if j := slices.Index(p.args, "--sandbox-dir"); j >= 0 {
		dir = p.args[j+1]
	}
	return sandboxRelay{addr: p.args[i+1], tokenFile: filepath.Join(dir, "relay.token")}
}

// cliEnv runs the waedge binary with extra environment (KEY=value).
func cliEnv(t *testing.T, env []string, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	err := cmd.Run()
	return out.String(), errb.String(), err
}

// checkSandboxOutsideDataDir: the node's data dir holds nothing of the
// sandbox (no relay directory, no token, no file with the consumer's number
// or a marker), and the sandbox dir holds the relay with a 0600 token.
func checkSandboxOutsideDataDir(t *testing.T, p *proc, sandboxDir string, secrets ...string) {
	t.Helper()
	err := filepath.WalkDir(p.dataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Name() == "relay" || d.Name() == "relay.token" || strings.HasSuffix(d.Name(), "hosted-phones.db") {
			t.Errorf("%s: sandbox file inside the data dir", path)
		}
		if d.IsDir() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, s := range secrets {
			if bytes.Contains(data, []byte(s)) {
				t.Errorf("%s holds %q", path, s)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(filepath.Join(sandboxDir, "relay.token"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("token file in %s: %v %v", sandboxDir, info, err)
	}
	if _, err := os.Stat(filepath.Join(sandboxDir, "hosted-phones.db")); err != nil {
		t.Fatalf("hosted phones not in the sandbox dir: %v", err)
	}
}

// TestBlackBoxEmbeddedSandbox runs the README's command — `waedge serve`
// with no network configured, so its relay runs in-process — and drives a
// hosted phone with every `waedge sandbox phone` verb: text and a contact
// card reach the business's webhook, the business's reply reaches the
// phone, the phone's read receipt becomes a read status, spam reports and
// blocks are counted for the business, and once blocked the business's
// messages fail with 131026. The phone's marketing stop/resume reaches the
// business as user_preferences webhooks and makes marketing templates
// fail with 131050 (accepted, then a failed status webhook); the business's own block list (block_users) refuses its
// sends with 131026 and drops what the consumer sends until the unblock.
func TestBlackBoxEmbeddedSandbox(t *testing.T) {
	solo, token, relay := startSolo(t, "solo")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// The relay's phone API wants its token: refused without it or with a wrong one.
	if code, err := doJSON(ctx, "GET", "http://"+relay.addr+"/sandbox/phones", "", nil, nil); err != nil || code != 401 {
		t.Fatalf("phone list without the relay token: %d %v", code, err)
	}
	if _, stderr, err := cli(t, "sandbox", "phone", "list", "--relay", "http://"+relay.addr, "--relay-token", strings.Repeat("0", 64)); err == nil || !strings.Contains(stderr, "401") {
		t.Fatalf("a wrong relay token was accepted: %v %s", err, stderr)
	}
	var ten tenantCreated
	if code, err := doJSON(ctx, "POST", solo.url("/admin/v1/tenants"), token,
		map[string]string{"name": "Solo", "phone": "+15550008000"}, &ten); err != nil || code != 200 {
		t.Fatalf("create tenant: %d %v", code, err)
	}
	hook := newRawHook(t)
	if code, err := doJSON(ctx, "POST", solo.url("/v21.0/"+ten.WABAID+"/subscribed_apps"), ten.AccessToken,
		map[string]string{"override_callback_uri": hook.srv.URL, "verify_token": "verify-embedded-sandbox"}, nil); err != nil || code != 200 {
		t.Fatalf("subscribe: %d %v", code, err)
	}
	const business, consumer = "15550008000", "4915200000001"
	consumerNumber(t, consumer, "+15551112222") // the consumer and the contact card's number
	sandbox(t, relay, nil, "create", "--number", consumer, "--name", "Ana")
	send := func(args ...string) {
		t.Helper()
		waitFor(t, "the phone reaches the business", 30*time.Second, func() bool {
			// As the README has it: no token flag, the token file is found
			// from the data dir (here from WAEDGE_DATA_DIR, as serve reads it).
			_, _, err := cliEnv(t, []string{"WAEDGE_DATA_DIR=" + solo.dataDir}, append([]string{"sandbox", "phone", "send",
				"--relay", "http://" + relay.addr, "--number", consumer, "--to", business}, args...)...)
			return err == nil
		})
	}
	send("--text", "embedded hello")
	waitFor(t, "text webhook", 30*time.Second, func() bool {
		return hook.find(func(e hookEvent) bool { return len(e.Messages) == 1 && e.Messages[0].Text.Body == "embedded hello" })
	})
	// The business marks it read with a typing indicator: both reach the phone.
	var inWamid string
	hook.find(func(e hookEvent) bool {
		if len(e.Messages) == 1 && e.Messages[0].Text.Body == "embedded hello" {
			inWamid = e.Messages[0].ID
		}
		return inWamid != ""
	})
	if code, err := doJSON(ctx, "POST", solo.url("/v21.0/"+ten.PhoneNumberID+"/messages"), ten.AccessToken,
		map[string]any{"messaging_product": "whatsapp", "status": "read", "message_id": inWamid,
			"typing_indicator": map[string]string{"type": "text"}}, nil); err != nil || code != 200 {
		t.Fatalf("mark read: %d %v", code, err)
	}
	waitFor(t, "the phone sees its message read and the business typing", 30*time.Second, func() bool {
		var sent inbox
		sandbox(t, relay, &sent, "sent", "--number", consumer)
		var in struct{ Typing map[string]int64 }
		sandbox(t, relay, &in, "inbox", "--number", consumer)
		return len(sent.Messages) == 1 && sent.Messages[0].Status == "read" && in.Typing[business] > 0
	})
	send("--type", "contacts", "--contact-name", "Ann Lee", "--contact-phone", "+15551112222")
	waitFor(t, "contacts webhook", 30*time.Second, func() bool {
		return hook.find(func(e hookEvent) bool {
			return len(e.Messages) == 1 && e.Messages[0].Type == "contacts" && len(e.Messages[0].Contacts) == 1 &&
				e.Messages[0].Contacts[0].Name.FormattedName == "Ann Lee" && len(e.Messages[0].Contacts[0].Phones) == 1 &&
				e.Messages[0].Contacts[0].Phones[0].Phone == "+15551112222"
		})
	})

	apiSend := func(text string) string {
		t.Helper()
		var resp struct{ Messages []struct{ ID string } }
		code, err := doJSON(ctx, "POST", solo.url("/v21.0/"+ten.PhoneNumberID+"/messages"), ten.AccessToken,
			map[string]any{"messaging_product": "whatsapp", "to": consumer, "type": "text", "text": map[string]string{"body": text}}, &resp)
		if err != nil || code != 200 || len(resp.Messages) != 1 {
			t.Fatalf("send %q: %d %v", text, code, err)
		}
		return resp.Messages[0].ID
	}
	wamid := apiSend("thanks Ana")
	var phoneID string
	waitFor(t, "the phone receives the reply", 30*time.Second, func() bool {
		var in inbox
		sandbox(t, relay, &in, "inbox", "--number", consumer)
		for _, m := range in.Messages {
			if m.Content.Text.Body == "thanks Ana" {
				phoneID = m.ID
				return true
			}
		}
		return false
	})
	waitFor(t, "delivered status", 30*time.Second, func() bool { return hook.status(wamid, "delivered") })
	sandbox(t, relay, nil, "read", "--number", consumer, "--message", phoneID)
	waitFor(t, "read status", 30*time.Second, func() bool { return hook.status(wamid, "read") })
	sandbox(t, relay, nil, "typing", "--number", consumer, "--to", business)

	// Marketing preference: the consumer stops marketing messages from the
	// business (user_preferences webhook), a marketing template is then
	// accepted and fails with 131050 by status webhook, as on Meta; after
	// a resume it is accepted again.
	var spring struct{ ID string }
	if code, err := doJSON(ctx, "POST", solo.url("/v21.0/"+ten.WABAID+"/message_templates"), ten.AccessToken,
		map[string]any{"name": "spring_sale", "language": "en_US", "category": "MARKETING",
			"components": []map[string]any{{"type": "BODY", "text": "Spring sale!"},
				{"type": "BUTTONS", "buttons": []map[string]string{{"type": "QUICK_REPLY", "text": "Yes please"}}}}}, &spring); err != nil || code != 200 || spring.ID == "" {
		t.Fatalf("marketing template: %d %v", code, err)
	}
	graphCall := func(method, path string, body map[string]any) (int, int) {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequestWithContext(ctx, method, solo.url(path), bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+ten.AccessToken)
		resp, err := httpClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct{ Error struct{ Code int } }
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out.Error.Code
	}
	marketing := func(what string) string {
		t.Helper()
		var sent struct{ Messages []struct{ ID string } }
		code, err := doJSON(ctx, "POST", solo.url("/v21.0/"+ten.PhoneNumberID+"/messages"), ten.AccessToken, map[string]any{"messaging_product": "whatsapp",
			"to": consumer, "type": "template", "template": map[string]any{"name": "spring_sale", "language": map[string]string{"code": "en_US"}}}, &sent)
		if err != nil || code != 200 || len(sent.Messages) != 1 {
			t.Fatalf("%s: %d %v, want 200 with a wamid", what, code, err)
		}
		return sent.Messages[0].ID
	}
	preference := func(value string) bool {
		return hook.find(func(e hookEvent) bool {
			return len(e.UserPreferences) == 1 && e.UserPreferences[0].WAID == consumer && e.UserPreferences[0].Value == value
		})
	}
	sandbox(t, relay, nil, "stop-marketing", "--number", consumer, "--business", business)
	waitFor(t, "user_preferences stop", 30*time.Second, func() bool { return preference("stop") })
	stoppedID := marketing("marketing to a consumer who stopped it")
	waitFor(t, "failed status with 131050", 30*time.Second, func() bool {
		return hook.find(func(e hookEvent) bool {
			return len(e.Statuses) == 1 && e.Statuses[0].ID == stoppedID && e.Statuses[0].Status == "failed" &&
				len(e.Statuses[0].Errors) == 1 && e.Statuses[0].Errors[0].Code == 131050
		})
	})
	sandbox(t, relay, nil, "resume-marketing", "--number", consumer, "--business", business)
	waitFor(t, "user_preferences resume", 30*time.Second, func() bool { return preference("resume") })
	// Template analytics count the template's messages from the statuses
	// the connector commits once the WABA confirmed them: the failed one
	// before counts nothing, the delivered one is sent and delivered today.
	if code, err := doJSON(ctx, "POST", solo.url("/v21.0/"+ten.WABAID+"?is_enabled_for_insights=true"), ten.AccessToken, nil, nil); err != nil || code != 200 {
		t.Fatalf("enable template analytics: %d %v", code, err)
	}
	resumedID := marketing("marketing after resume")
	waitFor(t, "marketing template delivered", 30*time.Second, func() bool { return hook.status(resumedID, "delivered") })

	today := time.Now().UTC().Truncate(24 * time.Hour).Unix()
	var ta struct {
		Data []struct {
			DataPoints []struct {
				TemplateID      string `json:"template_id"`
				Sent, Delivered int64
			} `json:"data_points"`
		}
	}
	if code, err := doJSON(ctx, "GET", solo.url(fmt.Sprintf("/v21.0/%s/template_analytics?start=%d&end=%d&granularity=DAILY&template_ids=[%s]",
		ten.WABAID, today, today+86400, spring.ID)), ten.AccessToken, nil, &ta); err != nil || code != 200 ||
		len(ta.Data) != 1 || len(ta.Data[0].DataPoints) != 1 || ta.Data[0].DataPoints[0].TemplateID != spring.ID ||
		ta.Data[0].DataPoints[0].Sent != 1 || ta.Data[0].DataPoints[0].Delivered != 1 {
		t.Fatalf("template analytics: %d %v %+v", code, err, ta)
	}
	// The consumer taps the template's quick-reply button: template
	// analytics count the click under the button's text.
	send("--type", "button_reply", "--reply-id", "yes", "--reply-title", "Yes please", "--message", resumedID)
	type clicked struct {
		Type          string `json:"type"`
		ButtonContent string `json:"button_content"`
		Count         int64  `json:"count"`
	}
	var field struct {
		TemplateAnalytics struct {
			Data []struct {
				DataPoints []struct {
					Clicked []clicked `json:"clicked"`
				} `json:"data_points"`
			}
		} `json:"template_analytics"`
	}
	waitFor(t, "the click in template analytics", 30*time.Second, func() bool {
		code, err := doJSON(ctx, "GET", solo.url(fmt.Sprintf("/v21.0/%s?fields=template_analytics.start(%d).end(%d).granularity(DAILY).template_ids([%s]).metric_types([CLICKED])",
			ten.WABAID, today, today+86400, spring.ID)), ten.AccessToken, nil, &field)
		clicks := field.TemplateAnalytics
		return err == nil && code == 200 && len(clicks.Data) == 1 && len(clicks.Data[0].DataPoints) == 1 &&
			len(clicks.Data[0].DataPoints[0].Clicked) == 1 &&
			clicks.Data[0].DataPoints[0].Clicked[0] == clicked{Type: "quick_reply_button", ButtonContent: "Yes please", Count: 1}
	})

	// The business blocks the consumer (block_users): its sends answer
	// 131026 and what the consumer sends never reaches the webhook; after
	// an unblock both directions work again.
	blockBody := map[string]any{"messaging_product": "whatsapp", "block_users": []map[string]string{{"user": "+" + consumer}}}
	if code, errCode := graphCall("POST", "/v21.0/"+ten.PhoneNumberID+"/block_users", blockBody); code != 200 {
		t.Fatalf("block_users: %d %d", code, errCode)
	}
	if code, errCode := graphCall("POST", "/v21.0/"+ten.PhoneNumberID+"/messages", map[string]any{"messaging_product": "whatsapp",
		"to": consumer, "type": "text", "text": map[string]string{"body": "to a blocked user"}}); code != 400 || errCode != 131026 {
		t.Fatalf("send to a blocked user: %d %d, want 400 131026", code, errCode)
	}
	send("--text", "while blocked")
	waitFor(t, "the blocked user's message dropped", 30*time.Second, func() bool {
		return strings.Contains(solo.log.String(), "inbound from a blocked user dropped")
	})
	if code, errCode := graphCall("DELETE", "/v21.0/"+ten.PhoneNumberID+"/block_users", blockBody); code != 200 {
		t.Fatalf("unblock: %d %d", code, errCode)
	}
	send("--text", "after the unblock")
	waitFor(t, "the message after the unblock", 30*time.Second, func() bool {
		return hook.find(func(e hookEvent) bool { return len(e.Messages) == 1 && e.Messages[0].Text.Body == "after the unblock" })
	})
	if hook.find(func(e hookEvent) bool { return len(e.Messages) == 1 && e.Messages[0].Text.Body == "while blocked" }) {
		t.Fatal("a blocked user's message reached the webhook")
	}

	// Integrity signals: counted for the business, nothing about the consumer.
	sandbox(t, relay, nil, "report-spam", "--number", consumer, "--business", business)
	sandbox(t, relay, nil, "block", "--number", consumer, "--business", business)
	waitFor(t, "spam report and block counted", 30*time.Second, func() bool {
		var out struct {
			Data []struct {
				Kind  string
				Count int
			}
		}
		code, err := doJSON(ctx, "GET", solo.url("/admin/v1/integrity?phone="+ten.PhoneNumberID), token, nil, &out)
		if err != nil || code != 200 {
			return false
		}
		got := map[string]int{}
		for _, r := range out.Data {
			got[r.Kind] += r.Count
		}
		return got["spam_report"] == 1 && got["block"] == 1
	})
	blocked := apiSend("are you still there?")
	waitFor(t, "a blocked consumer's message fails", 30*time.Second, func() bool {
		return hook.find(func(e hookEvent) bool {
			return len(e.Statuses) == 1 && e.Statuses[0].ID == blocked && e.Statuses[0].Status == "failed" &&
				len(e.Statuses[0].Errors) == 1 && e.Statuses[0].Errors[0].Code == 131026
		})
	})
	// The relay's token never reaches a log.
	if tok, err := os.ReadFile(relay.tokenFile); err != nil || strings.Contains(solo.log.String(), strings.TrimSpace(string(tok))) {
		t.Fatalf("relay token in the node's log (or unreadable: %v)", err)
	}
	// The sandbox lived beside the data dir, not in it.
	checkSandboxOutsideDataDir(t, solo, solo.dataDir+".sandbox", consumer, "embedded hello", "thanks Ana")
}

// TestSandboxDirFlag: --sandbox-dir puts the embedded sandbox where it
// says (nothing in the data dir, no default sibling), and the sandbox CLI
// finds its token from WAEDGE_SANDBOX_DIR without a token flag.
func TestSandboxDirFlag(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "phones")
	p := newProc(t, "flagged", "--sandbox-dir", dir)
	p.start()
	p.waitReady(20 * time.Second)
	rl := sandboxOf(t, p)
	if rl.tokenFile != filepath.Join(dir, "relay.token") {
		t.Fatalf("token file %s", rl.tokenFile)
	}
	const consumer = "4915200000077"
	if _, stderr, err := cliEnv(t, []string{"WAEDGE_SANDBOX_DIR=" + dir}, "sandbox", "phone", "create",
		"--relay", "http://"+rl.addr, "--number", consumer, "--name", "Flag"); err != nil {
		t.Fatalf("create with the token found from WAEDGE_SANDBOX_DIR: %v\n%s", err, stderr)
	}
	checkSandboxOutsideDataDir(t, p, dir, consumer)
	if _, err := os.Stat(p.dataDir + ".sandbox"); !os.IsNotExist(err) {
		t.Fatalf("the default sandbox dir exists too: %v", err)
	}
}
