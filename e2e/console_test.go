package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// browser drives one headless chromium (Debian's package) through the
// console of a real waedge process.
type browser struct {
	t     *testing.T
	ctx   context.Context
	shots string // where screenshots go (the test's artefacts)
	n     int
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is not installed: the console's browser tests need Debian's chromium " +
			"(scripts/test.sh installs it; or run `apt-get install -y chromium`)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.WindowSize(1280, 900), chromedp.Flag("disable-gpu", true))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelA() })
	if err := chromedp.Run(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return &browser{t: t, ctx: ctx, shots: t.ArtifactDir()}
}

func (b *browser) run(what string, actions ...chromedp.Action) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression and decodes its value into out.
func (b *browser) eval(js string, out any) {
	b.t.Helper()
	b.run("evaluate "+js, chromedp.Evaluate(js, out))
}

func jsString(s string) string {
	q, _ := json.Marshal(s)
	return string(q)
}

// main returns the visible text of the page's main element.
func (b *browser) main() string {
	var s string
	b.eval(`document.getElementById("main").innerText`, &s)
	return s
}

// waitText waits until the page shows want.
func (b *browser) waitText(want string, timeout time.Duration) {
	b.t.Helper()
	waitFor(b.t, "the console to show "+want, timeout, func() bool {
		var s string
		_ = chromedp.Run(b.ctx, chromedp.Evaluate(`document.body.innerText`, &s))
		return strings.Contains(s, want)
	})
}

// fill types value into the input labelled label.
func (b *browser) fill(label, value string) {
	b.t.Helper()
	var ok bool
	b.eval(fmt.Sprintf(`(() => { const l = [...document.querySelectorAll("label")].find((l) => l.textContent.trim() === %s);
		if (!l) return false; const el = document.getElementById(l.htmlFor); el.value = %s;
		el.dispatchEvent(new Event("input", {bubbles: true})); return true; })()`, jsString(label), jsString(value)), &ok)
	if !ok {
		b.t.Fatalf("no input labelled %q on the page:\n%s", label, b.main())
	}
}

// click clicks the first button whose text is text.
func (b *browser) click(text string) {
	b.t.Helper()
	var ok bool
	b.eval(fmt.Sprintf(`(() => { const e = [...document.querySelectorAll("button")].find((e) => e.textContent.trim() === %s);
		if (!e) return false; e.click(); return true; })()`, jsString(text)), &ok)
	if !ok {
		b.t.Fatalf("no button %q on the page:\n%s", text, b.main())
	}
}

func (b *browser) open(url string) {
	b.t.Helper()
	b.run("open "+url, chromedp.Navigate(url))
}

// secret waits for the shown-once box and returns its text.
func (b *browser) secret() string {
	b.t.Helper()
	var s string
	waitFor(b.t, "a shown-once secret", 15*time.Second, func() bool {
		_ = chromedp.Run(b.ctx, chromedp.Evaluate(`(document.querySelector("pre[data-secret]") || {}).textContent || ""`, &s))
		return s != ""
	})
	return s
}

// shot saves a screenshot of the whole page as an artefact.
func (b *browser) shot(name string) {
	b.t.Helper()
	var png []byte
	b.run("screenshot", chromedp.FullScreenshot(&png, 100))
	b.n++
	file := filepath.Join(b.shots, fmt.Sprintf("%02d-%s.png", b.n, name))
	if err := os.WriteFile(file, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// fetchStatus makes a same-origin request from the page with its session
// cookie (as a curious user typing a URL would) and returns the status.
func (b *browser) fetchStatus(path string) int {
	b.t.Helper()
	var code int
	b.run("fetch "+path, chromedp.Evaluate(fmt.Sprintf(`fetch(%s, {credentials: "same-origin"}).then((r) => r.status)`, jsString(path)), &code,
		func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
	return code
}

// createBusiness creates a business on the Businesses page and returns its
// id and the access token shown once.
func (b *browser) createBusiness(p *proc, name, phone string) (string, string) {
	b.t.Helper()
	b.open(p.url("/console/#/businesses"))
	b.waitText("New business", 10*time.Second)
	b.fill("Name", name)
	b.fill("Phone number (E.164)", phone)
	b.click("Create")
	token := b.secret()
	leaks.add(kindSecret, token)
	b.waitText("Phone numbers of "+name, 10*time.Second)
	var id string
	b.eval(`location.hash.split("/")[2]`, &id)
	if id == "" {
		b.t.Fatal("no business id in the URL after creating one")
	}
	return id, token
}

// setUp starts p, checks its setup link file (0600, never logged), and
// creates the first console admin with it.
func (b *browser) setUp(p *proc) {
	t := b.t
	t.Helper()
	p.start()
	p.waitReady(20 * time.Second)
	setupFile := filepath.Join(p.dataDir, "console-setup.url")
	var setupURL string
	waitFor(t, "the setup link file", 10*time.Second, func() bool {
		raw, err := os.ReadFile(setupFile)
		setupURL = strings.TrimSpace(string(raw))
		return err == nil && setupURL != ""
	})
	if fi, _ := os.Stat(setupFile); fi.Mode().Perm() != 0o600 {
		t.Fatalf("setup link file mode %v, want 0600", fi.Mode().Perm())
	}
	leaks.add(kindSecret, setupURL[strings.Index(setupURL, "#accept=")+len("#accept="):])
	if strings.Contains(p.log.String(), setupURL) {
		t.Fatal("the node logged the setup link")
	}
	// / leads to the console.
	b.open(p.url("/"))
	b.waitText("Sign in to waedge", 10*time.Second)

	const adminPass = "a long admin passphrase"
	leaks.add(kindSecret, adminPass)
	b.open(setupURL)
	b.waitText("Create your console account", 10*time.Second)
	b.shot("setup-link")
	b.fill("User name", "root")
	b.fill("Password (at least 12 characters)", adminPass)
	b.click("Create account")
	b.waitText("Members", 15*time.Second)
}

// TestConsoleBrowser is the console's flow in a real browser against real
// processes: the setup link creates the first admin; the shown join
// commands add two nodes; a business and its token are created; every page
// renders (screenshots are test artefacts, see go test -artifacts); a
// kill -9'd node is shown dead; an operator can open neither a business's
// templates nor its consumers' data, not even by URL; a business admin
// sees only their own business.
func TestConsoleBrowser(t *testing.T) {
	b := newBrowser(t)
	rl := startRelay(t)                                                                         // one sandbox network for the whole cluster
	n1 := newProc(t, "node1", "--egress-allow", "127.0.0.0/8", "--network", "relay://"+rl.addr) // the webhook receiver is on loopback
	b.setUp(n1)

	// Add two nodes with the command the page shows.
	nodes := []*proc{n1}
	for i := 2; i <= 3; i++ {
		p := newProc(t, fmt.Sprintf("node%d", i))
		b.fill("Data dir", p.dataDir)
		b.fill("HTTP address", p.httpAddr)
		b.fill("Cluster address", p.clusterAddr)
		b.fill("Sandbox relay address", freeAddr(t))
		b.run("clear the last command", chromedp.Evaluate(`document.querySelectorAll("pre[data-secret]").forEach((e) => e.remove())`, nil))
		b.click("Mint join token")
		cmd := strings.Fields(b.secret())
		if len(cmd) < 3 || cmd[0] != "waedge" || cmd[1] != "serve" {
			t.Fatalf("join command %q", cmd)
		}
		if i == 2 {
			b.shot("cluster-add-node")
		}
		p.args = append(cmd[1:], "--log-format", "json", "--log-level", "debug", "--egress-allow", "127.0.0.0/8", "--network", "relay://"+rl.addr)
		captureArgs(p.args)
		p.start()
		nodes = append(nodes, p)
	}
	for _, p := range nodes {
		p.waitReady(30 * time.Second)
	}
	waitFor(t, "three members shown, all up, each with its version", 20*time.Second, func() bool {
		var ups, versions int
		_ = chromedp.Run(b.ctx, chromedp.Evaluate(`[...document.querySelectorAll("main td")].filter((td) => td.innerText.startsWith("up")).length`, &ups),
			chromedp.Evaluate(`[...document.querySelectorAll("main [data-testid=version]")].filter((c) => c.textContent.includes("(")).length`, &versions))
		return ups == 3 && versions == 3
	})
	b.shot("cluster")

	// A business, its number and a token (shown once).
	bizA, tokA := b.createBusiness(n1, "Console Shop", "+15550071000")
	b.shot("businesses")

	// The business asks for an Official Business Account through the Cloud
	// API; the operator approves it on the business page, which then shows
	// the number as official (and the Graph API agrees).
	var pnid string
	b.eval(`(document.body.innerText.match(/id (\S+) · WABA/) || [])[1] || ""`, &pnid)
	if pnid == "" {
		t.Fatal("the business page shows no phone number id")
	}
	if code, err := doJSON(context.Background(), "POST", n1.url("/v21.0/"+pnid+"/official_business_account"), tokA,
		map[string]string{"business_website_url": "https://shop.example", "primary_country_of_operation": "US", "primary_language": "en_US"}, nil); err != nil || code != 200 {
		t.Fatalf("OBA request: %d %v", code, err)
	}
	b.open(n1.url("/console/#/businesses")) // leave the page, so opening it again loads it anew
	b.waitText("New business", 10*time.Second)
	b.open(n1.url("/console/#/businesses/" + bizA))
	b.waitText("Official Business Account request:", 10*time.Second)
	b.click("Approve")
	b.waitText("approve OBA: done", 10*time.Second)
	b.waitText("official", 10*time.Second)
	var oba struct {
		Official bool `json:"is_official_business_account"`
	}
	if code, err := doJSON(context.Background(), "GET", n1.url("/v21.0/"+pnid+"?fields=is_official_business_account"), tokA, nil, &oba); err != nil || code != 200 || !oba.Official {
		t.Fatalf("after the console's approval: %d %v official=%v", code, err, oba.Official)
	}

	// A sandbox phone writes to the business number.
	const consumer = "4917600000088"
	consumerNumber(t, consumer)
	sandbox(t, rl.sandbox(), nil, "create", "--number", consumer, "--name", "Mia")
	waitFor(t, "the phone reaches the business", 30*time.Second, func() bool {
		_, _, err := cli(t, append([]string{"sandbox", "phone", "send", "--number", consumer,
			"--to", "15550071000", "--text", "hello from the phone"}, rl.sandbox().flags()...)...)
		return err == nil
	})

	// Configure a webhook (verified by the handshake), create a template
	// with its live preview; its status event is delivered and logged.
	var hits, testHits atomic.Int32
	var bodiesMu sync.Mutex
	bodies := map[string]int{} // each event body the receiver got, and how often
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			_, _ = w.Write([]byte(r.URL.Query().Get("hub.challenge")))
			return
		}
		body, _ := io.ReadAll(r.Body)
		if strings.Contains(string(body), `"field":"waedge_test"`) {
			testHits.Add(1)
			return
		}
		bodiesMu.Lock()
		bodies[string(body)]++
		bodiesMu.Unlock()
		hits.Add(1)
	}))
	t.Cleanup(hook.Close)
	b.open(n1.url("/console/#/webhooks/" + bizA))
	b.waitText("Configure (Cloud API)", 10*time.Second)
	b.fill("Access token of the business", tokA)
	b.fill("Callback URL", hook.URL+"/hook")
	b.fill("Verify token", "console-verify")
	b.click("Verify and save")
	b.waitText(hook.URL+"/hook", 10*time.Second)
	// A signed test event reaches the callback; its answer is shown.
	b.click("Send a test event")
	b.waitText("HTTP 200 from", 15*time.Second)
	if testHits.Load() != 1 {
		t.Fatalf("the receiver got %d test events, want 1", testHits.Load())
	}
	b.shot("webhooks-test-event")
	// "Retry now" goes through the session (with its CSRF token) too.
	b.click("Retry all queued now")
	b.waitText("retry every queued event: done", 10*time.Second)
	b.open(n1.url("/console/#/templates/" + bizA))
	b.waitText("Live preview", 10*time.Second)
	b.fill("Access token of the business", tokA)
	b.fill("Template name", "console_preview")
	b.fill("Body", "Hello {{1}}, your order is on its way.")
	b.fill("Examples", "Ana")
	b.waitText("Hello Ana, your order is on its way.", 5*time.Second)
	b.shot("template-preview")
	b.click("Submit template")
	b.waitText("APPROVED", 10*time.Second)
	waitFor(t, "the receiver to get the template's event", 20*time.Second, func() bool { return hits.Load() > 0 })
	b.open(n1.url("/console/#/webhooks/" + bizA))
	waitFor(t, "the delivery log to show a delivered event", 20*time.Second, func() bool {
		var ok bool
		_ = chromedp.Run(b.ctx, chromedp.Evaluate(`[...document.querySelectorAll("main td")].some((td) => td.innerText.trim() === "delivered")`, &ok))
		return ok
	})
	b.shot("webhooks-delivered")
	// "Redeliver" queues a delivered event again: the receiver gets it once
	// more and the log shows one more delivered event.
	countDelivered := func() int {
		var n int
		_ = chromedp.Run(b.ctx, chromedp.Evaluate(`[...document.querySelectorAll("main td")].filter((td) => td.innerText.trim() === "delivered").length`, &n))
		return n
	}
	delivered, before := countDelivered(), hits.Load()
	b.click("Redeliver")
	waitFor(t, "the console to confirm the redelivery", 10*time.Second, func() bool {
		var ok bool
		_ = chromedp.Run(b.ctx, chromedp.Evaluate(`/redeliver [0-9a-f]{32}: done/.test(document.body.innerText)`, &ok))
		return ok
	})
	waitFor(t, "the receiver to get the redelivered event (a body it already got)", 20*time.Second, func() bool {
		bodiesMu.Lock()
		defer bodiesMu.Unlock()
		for _, n := range bodies {
			if n > 1 {
				return hits.Load() > before
			}
		}
		return false
	})
	waitFor(t, "the delivery log to show the redelivered event delivered", 20*time.Second, func() bool { return countDelivered() > delivered })
	b.shot("webhooks-redelivered")

	for _, page := range []struct{ hash, want string }{
		{"webhooks", "Delivery log"}, {"templates", "Review policy"}, {"stats", "By direction"},
		{"audit", "tenant.create"}, {"privacy", "What waedge stores"}, {"users", "Invite"}, {"events", "In this stream"},
		// node1 uses a shared relay without its token: the page says why
		// it cannot drive phones.
		{"sandbox", "--relay-token-file"},
		{"explorer", "Try a call"}, // last: the explorer is used next
	} {
		b.open(n1.url("/console/#/" + page.hash))
		b.waitText(page.want, 10*time.Second)
		b.shot(page.hash)
	}
	// The API explorer calls the admin API with the session.
	var picked bool
	b.eval(`(() => { const s = document.querySelector('select[aria-label="operation"]');
		const o = [...s.options].find((o) => o.textContent === "GET /admin/v1/tenants"); if (!o) return false;
		s.value = o.value; s.dispatchEvent(new Event("change")); return true; })()`, &picked)
	if !picked {
		t.Fatal("the API explorer does not offer GET /admin/v1/tenants")
	}
	b.click("Send")
	b.waitText("Console Shop", 10*time.Second)
	b.waitText("200 OK", 10*time.Second)
	b.shot("explorer-call")

	// Invitations for an operator and for a business admin of business A.
	invite := func(role, business string) string {
		b.open(n1.url("/console/#/users"))
		b.waitText("Create invitation link", 10*time.Second)
		b.run("clear", chromedp.Evaluate(`document.querySelectorAll("pre[data-secret]").forEach((e) => e.remove())`, nil))
		b.run("role", chromedp.SetValue(`select[aria-label="role"]`, role, chromedp.ByQuery))
		if business != "" {
			b.run("business", chromedp.SetValue(`input[aria-label="business id"]`, business, chromedp.ByQuery))
		}
		b.click("Create invitation link")
		link := b.secret()
		leaks.add(kindSecret, link[strings.Index(link, "#accept=")+len("#accept="):])
		return link
	}
	// `waedge console setup-link` mints another admin link with the admin token.
	out, errOut, err := cli(t, "console", "setup-link", "--server", n1.url(""), "--token-file", filepath.Join(n1.dataDir, "admin.token"))
	var minted struct{ URL, Role string }
	if err != nil || json.Unmarshal([]byte(out), &minted) != nil || minted.Role != "admin" || !strings.Contains(minted.URL, "/console/#accept=wcl_") {
		t.Fatalf("console setup-link: %v %q %s", err, out, errOut)
	}
	leaks.add(kindSecret, minted.URL[strings.Index(minted.URL, "#accept=")+len("#accept="):])
	opLink := invite("operator", "")
	baLink := invite("business_admin", bizA)

	// kill -9 a follower: the cluster page marks it dead within seconds.
	b.open(n1.url("/console/#/cluster"))
	b.waitText("Members", 10*time.Second)
	nodes[2].kill()
	start := time.Now()
	b.waitText("DEAD", 10*time.Second)
	t.Logf("killed node shown dead after %v", time.Since(start).Round(time.Millisecond))
	b.shot("cluster-node-dead")

	// A second business, which the business admin of A must not see.
	bizB, _ := b.createBusiness(n1, "Other Shop", "+15550072000")

	signOut := func() {
		b.click("Sign out")
		b.waitText("Sign in to waedge", 10*time.Second)
	}
	accept := func(link, name string) {
		b.open(link)
		b.waitText("Create your console account", 10*time.Second)
		pass := "passphrase of " + name
		leaks.add(kindSecret, pass)
		b.fill("User name", name)
		b.fill("Password (at least 12 characters)", pass)
		b.click("Create account")
	}

	// The operator: cluster yes; templates, webhooks and consumer data
	// neither in the navigation, nor by URL, nor through the API.
	signOut()
	accept(opLink, "olga")
	b.waitText("Members", 15*time.Second)
	var navText string
	b.eval(`document.getElementById("nav").innerText`, &navText)
	for _, hidden := range []string{"Templates", "Webhooks", "Users"} {
		if strings.Contains(navText, hidden) {
			t.Errorf("operator's navigation shows %s: %q", hidden, navText)
		}
	}
	b.open(n1.url("/console/#/templates/" + bizA))
	b.waitText("Not available", 10*time.Second)
	b.shot("operator-refused")
	for _, path := range []string{
		"/admin/v1/businesses/" + bizA + "/templates",
		"/admin/v1/businesses/" + bizA + "/webhooks",
		"/admin/v1/businesses/" + bizA + "/consumers/export?wa_id=15551234567",
		"/admin/v1/businesses/" + bizA + "/conversations?phone_number_id=1",
		"/admin/v1/console/users",
	} {
		if code := b.fetchStatus(path); code != 403 {
			t.Errorf("operator GET %s: %d, want 403", path, code)
		}
	}

	// The business admin of A: A only; B answers like a missing business.
	signOut()
	accept(baLink, "bea")
	b.waitText("Phone numbers of Console Shop", 15*time.Second)
	if s := b.main(); strings.Contains(s, "Other Shop") {
		t.Error("the business admin of A sees business B")
	}
	b.shot("business-admin")

	// The phone's message is in the conversation; a reply from the browser
	// reaches the phone and shows its ticks.
	// It is listed among the number's conversations; opening it from the
	// list shows it.
	b.open(n1.url("/console/#/conversations"))
	b.waitText("+"+consumer, 15*time.Second)
	b.shot("conversations-list")
	b.click("+" + consumer)
	b.shot("conversation-opened")
	b.waitText("hello from the phone", 20*time.Second)
	b.fill("Access token of the business", tokA)
	b.fill("Message", "hello from the browser")
	b.click("Send")
	b.waitText("hello from the browser", 15*time.Second)
	b.waitText("✓✓", 30*time.Second)
	var in inbox
	sandbox(t, rl.sandbox(), &in, "inbox", "--number", consumer)
	got := false
	for _, m := range in.Messages {
		got = got || m.Content.Text.Body == "hello from the browser"
	}
	if !got {
		t.Errorf("the phone's inbox lacks the browser's reply: %+v", in)
	}
	b.shot("conversation")
	if code := b.fetchStatus("/admin/v1/businesses/" + bizB); code != 400 {
		t.Errorf("business admin of A GET business B: %d, want 400 (as a missing one)", code)
	}
	if code := b.fetchStatus("/admin/v1/cluster"); code != 403 {
		t.Errorf("business admin GET cluster: %d, want 403", code)
	}
}

// TestConsoleSandboxChat: on a node with the embedded sandbox (or a
// shared relay's token), the console creates a simulated phone and chats with a business number as
// the consumer: the business's answer (Cloud API) appears, and the
// phone's message shows its delivery ticks.
func TestConsoleSandboxChat(t *testing.T) {
	t.Run("embedded", func(t *testing.T) { consoleSandboxChat(t, newProc(t, "solo")) })
	// A node on a shared relay (--network relay://…) given that relay's
	// API token drives the relay's hosted phones the same way.
	t.Run("shared relay", func(t *testing.T) {
		rl := startRelay(t)
		consoleSandboxChat(t, newProc(t, "solo", "--network", "relay://"+rl.addr, "--relay-token-file", rl.sandbox().tokenFile))
	})
}

func consoleSandboxChat(t *testing.T, p *proc) {
	b := newBrowser(t)
	b.setUp(p)
	biz, tok := b.createBusiness(p, "Sandbox Shop", "+15550073000")
	const consumer = "4917600000099"
	consumerNumber(t, consumer)
	b.open(p.url("/console/#/sandbox"))
	b.waitText("Simulated phones", 10*time.Second)
	b.fill("New phone number", consumer)
	b.fill("Profile name", "Mia")
	b.click("Create phone")
	b.waitText("Chat as "+consumer, 10*time.Second)
	b.fill("Business number", "15550073000")
	// The business number registers on the relay shortly after it exists.
	waitFor(t, "the phone's message in the chat", 30*time.Second, func() bool {
		b.fill("Message", "hi business")
		b.click("Send as the phone")
		var s string
		deadline := time.Now().Add(3 * time.Second)
		for time.Now().Before(deadline) && !strings.Contains(s, "hi business") {
			_ = chromedp.Run(b.ctx, chromedp.Evaluate(`document.getElementById("main").innerText`, &s))
			time.Sleep(100 * time.Millisecond) // polling interval
		}
		return strings.Contains(s, "hi business")
	})
	b.waitText("✓", 30*time.Second) // the phone's message shows its status tick
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var info struct {
		Phones []struct{ ID string } `json:"phone_numbers"`
	}
	if code, err := doJSON(ctx, "GET", p.url("/admin/v1/businesses/"+biz), p.adminToken(), nil, &info); err != nil || code != 200 || len(info.Phones) != 1 {
		t.Fatalf("business: %d %v %+v", code, err, info)
	}
	if code, err := doJSON(ctx, "POST", p.url("/v21.0/"+info.Phones[0].ID+"/messages"), tok, map[string]any{
		"messaging_product": "whatsapp", "to": consumer, "type": "text", "text": map[string]string{"body": "hello Mia"}}, nil); err != nil || code != 200 {
		t.Fatalf("business reply: %d %v", code, err)
	}
	b.waitText("hello Mia", 30*time.Second)
	// The business reads the phone's message: the phone shows it read.
	var ex struct {
		Numbers []struct {
			Messages []struct{ ID, Direction string } `json:"messages"`
		} `json:"phone_numbers"`
	}
	if code, err := doJSON(ctx, "GET", p.url("/admin/v1/businesses/"+biz+"/consumers/export?wa_id="+consumer), p.adminToken(), nil, &ex); err != nil || code != 200 || len(ex.Numbers) != 1 {
		t.Fatalf("export: %d %v", code, err)
	}
	for _, m := range ex.Numbers[0].Messages {
		if m.Direction != "in" {
			continue
		}
		if code, err := doJSON(ctx, "POST", p.url("/v21.0/"+info.Phones[0].ID+"/messages"), tok, map[string]any{
			"messaging_product": "whatsapp", "status": "read", "message_id": m.ID}, nil); err != nil || code != 200 {
			t.Fatalf("mark read: %d %v", code, err)
		}
	}
	b.waitText("✓✓ read", 30*time.Second)
	b.shot("sandbox-chat")
}
