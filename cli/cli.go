// Package cli is the client side of waedge's admin commands: `waedge
// cluster …`, `waedge tenant …`, `waedge audit …`, `waedge billing …`, `waedge stats …` and `waedge webhooks …`
// call the admin API of a running node and print its JSON answer.
package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/waedge/waedge/httptls"
)

// Run executes one admin command (args[0] is "cluster", "tenant",
// "audit", "billing", "stats", "webhooks" or "console") and returns the process exit code: 0
// success, 1 the server refused or could not be reached, 2 usage error.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) < 2 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	fs := flag.NewFlagSet(args[0]+" "+args[1], flag.ContinueOnError)
	fs.SetOutput(stderr)
	// Our own usage text: flag's default one would print the defaults,
	// which may include a token taken from the environment.
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	server := fs.String("server", envOr(getenv, "WAEDGE_SERVER", "http://127.0.0.1:8080"), "admin API base URL")
	tokenFile := fs.String("token-file", envOr(getenv, "WAEDGE_TOKEN_FILE", "./waedge-data/admin.token"), "file holding the admin token")
	token := fs.String("token", "", "admin token (overrides --token-file; env WAEDGE_ADMIN_TOKEN)")
	timeout := fs.Duration("timeout", 30*time.Second, "request timeout")
	caFile := fs.String("ca-file", envOr(getenv, "WAEDGE_CA_FILE", ""), "PEM certificate(s) to trust for an https:// --server (e.g. <data-dir>/http-tls/cert.pem of --tls-auto)")

	var method, path string
	var body any
	var exportEnv bool // tenant create --export
	switch args[0] + " " + args[1] {
	case "cluster status":
		method, path = "GET", "/admin/v1/cluster"
	case "cluster join-token":
		ttl := fs.Duration("ttl", 24*time.Hour, "how long the token stays valid (1m to 168h)")
		if !parse(fs, args[2:], 0) {
			return 2
		}
		method, path, body = "POST", "/admin/v1/cluster/join-tokens", map[string]int64{"ttl_seconds": int64(ttl.Seconds())}
	case "cluster remove":
		if !parse(fs, args[2:], 1) {
			return 2
		}
		method, path = "DELETE", "/admin/v1/cluster/nodes/"+url.PathEscape(fs.Arg(0))
	case "cluster transfer-leadership":
		method, path = "POST", "/admin/v1/cluster/transfer-leadership"
	case "tenant create":
		name := fs.String("name", "", "business name")
		phone := fs.String("phone", "", "business phone number, E.164 (+15551234567)")
		fs.BoolVar(&exportEnv, "export", false, "print shell exports (PNID, WABA_ID, APP_ID, APP_SECRET, BUSINESS_ID, TOKEN) for eval")
		if !parse(fs, args[2:], 0) {
			return 2
		}
		if *name == "" || *phone == "" {
			fmt.Fprint(stderr, "tenant create: --name and --phone are required\n\n"+usage)
			return 2
		}
		method, path, body = "POST", "/admin/v1/tenants", map[string]string{"name": *name, "phone": *phone}
	case "tenant list":
		method, path = "GET", "/admin/v1/tenants"
	case "tenant retention":
		hours := fs.Int("hours", -1, "retention of the phone number's messages in hours, 1 to 720 (0: the default, 720)")
		if !parse(fs, args[2:], 1) {
			return 2
		}
		if *hours < 0 || *hours > 720 {
			fmt.Fprint(stderr, "tenant retention: --hours between 0 and 720 is required\n\n"+usage)
			return 2
		}
		method, path, body = "POST", "/admin/v1/phones/"+url.PathEscape(fs.Arg(0))+"/retention", map[string]int{"retention_hours": *hours}
	case "tenant consumer-export":
		if !parse(fs, args[2:], 2) {
			return 2
		}
		method, path = "GET", "/admin/v1/businesses/"+url.PathEscape(fs.Arg(0))+"/consumers/export?wa_id="+url.QueryEscape(fs.Arg(1))
	case "tenant consumer-erase":
		if !parse(fs, args[2:], 2) {
			return 2
		}
		method, path, body = "POST", "/admin/v1/businesses/"+url.PathEscape(fs.Arg(0))+"/consumers/erase", map[string]string{"wa_id": fs.Arg(1)}
	case "tenant verification-codes":
		if !parse(fs, args[2:], 1) {
			return 2
		}
		method, path = "GET", "/admin/v1/businesses/"+url.PathEscape(fs.Arg(0))+"/verification-codes"
	case "tenant admin-token":
		if !parse(fs, args[2:], 1) {
			return 2
		}
		method, path = "POST", "/admin/v1/businesses/"+url.PathEscape(fs.Arg(0))+"/admin-tokens"
	case "audit list":
		limit := fs.Int("limit", 100, "records per page, 1 to 1000")
		after := fs.String("after", "", "cursor: the id of the last record of the previous page")
		if !parse(fs, args[2:], 0) {
			return 2
		}
		if *limit < 1 || *limit > 1000 {
			fmt.Fprint(stderr, "audit list: --limit must be between 1 and 1000\n\n"+usage)
			return 2
		}
		q := url.Values{"limit": {fmt.Sprint(*limit)}}
		if *after != "" {
			q.Set("after", *after)
		}
		method, path = "GET", "/admin/v1/audit?"+q.Encode()
	case "webhooks log":
		state := fs.String("state", "pending", "pending, delivered, dropped or all")
		limit := fs.Int("limit", 100, "events to list, 1 to 1000")
		if !parse(fs, args[2:], 0) {
			return 2
		}
		if *limit < 1 || *limit > 1000 {
			fmt.Fprint(stderr, "webhooks log: --limit must be between 1 and 1000\n\n"+usage)
			return 2
		}
		switch *state {
		case "pending", "delivered", "dropped", "all":
		default:
			fmt.Fprint(stderr, "webhooks log: --state must be pending, delivered, dropped or all\n\n"+usage)
			return 2
		}
		method, path = "GET", "/admin/v1/webhooks/outbox?"+url.Values{"state": {*state}, "limit": {fmt.Sprint(*limit)}}.Encode()
	case "webhooks retry":
		events := fs.String("events", "", "comma-separated event ids of the delivery log (default: every queued event of the business)")
		if !parse(fs, args[2:], 1) {
			return 2
		}
		ids := splitIDs(*events)
		method, path, body = "POST", "/admin/v1/businesses/"+url.PathEscape(fs.Arg(0))+"/webhooks/retry", map[string]any{"event_ids": ids}
	case "webhooks redeliver":
		events := fs.String("events", "", "comma-separated ids of delivered or dropped events of the delivery log")
		if !parse(fs, args[2:], 1) {
			return 2
		}
		ids := splitIDs(*events)
		if len(ids) == 0 {
			fmt.Fprint(stderr, "webhooks redeliver: --events is required\n\n"+usage)
			return 2
		}
		method, path, body = "POST", "/admin/v1/businesses/"+url.PathEscape(fs.Arg(0))+"/webhooks/redeliver", map[string]any{"event_ids": ids}
	case "webhooks test":
		waba := fs.String("waba", "", "the WABA whose callback gets the event (default: the business's only one)")
		phone := fs.String("phone", "", "a phone number id, for its callback override")
		if !parse(fs, args[2:], 1) {
			return 2
		}
		method, path, body = "POST", "/admin/v1/businesses/"+url.PathEscape(fs.Arg(0))+"/webhooks/test",
			map[string]string{"waba_id": *waba, "phone_number_id": *phone}
	case "tenant tier", "tenant template-review":
		st := settingOf(args[0] + " " + args[1])
		v := fs.String(st.flag, "", st.help)
		if !parse(fs, args[2:], 1) {
			return 2
		}
		if *v == "" {
			fmt.Fprintf(stderr, "%s %s: --%s is required\n\n%s", args[0], args[1], st.flag, usage)
			return 2
		}
		method, path, body = "POST", "/admin/v1/"+st.collection+"/"+url.PathEscape(fs.Arg(0))+"/"+st.edge, map[string]string{st.flag: *v}
	case "billing export":
		month := fs.String("month", "", "month to bill, YYYY-MM")
		business := fs.String("business", "", "one business id (default: every business)")
		format := fs.String("format", "csv", "csv or json")
		if !parse(fs, args[2:], 0) {
			return 2
		}
		if *month == "" {
			fmt.Fprint(stderr, "billing export: --month is required\n\n"+usage)
			return 2
		}
		q := url.Values{"month": {*month}, "format": {*format}}
		if *business != "" {
			q.Set("business", *business)
		}
		method, path = "GET", "/admin/v1/billing?"+q.Encode()
	case "console setup-link":
		method, path, body = "POST", "/admin/v1/console/invites", map[string]string{"role": "admin"}
	case "console invite":
		role := fs.String("role", "", "admin, operator or business_admin")
		business := fs.String("business", "", "the business of a business admin")
		if !parse(fs, args[2:], 0) {
			return 2
		}
		method, path, body = "POST", "/admin/v1/console/invites", map[string]string{"role": *role, "business_id": *business}
	case "console users":
		method, path = "GET", "/admin/v1/console/users"
	case "stats show":
		q := url.Values{}
		for _, name := range []string{"business", "phone", "from", "to"} {
			fs.String(name, "", name+" filter (from/to: YYYY-MM-DD)")
		}
		if !parse(fs, args[2:], 0) {
			return 2
		}
		fs.Visit(func(f *flag.Flag) {
			switch f.Name {
			case "business", "phone", "from", "to":
				q.Set(f.Name, f.Value.String())
			}
		})
		method, path = "GET", "/admin/v1/stats?"+q.Encode()
	default:
		fmt.Fprintf(stderr, "unknown command %q\n\n%s", args[0]+" "+args[1], usage)
		return 2
	}
	if method != "" && !fs.Parsed() && !parse(fs, args[2:], 0) {
		return 2
	}
	tok := strings.TrimSpace(*token)
	if tok == "" {
		tok = strings.TrimSpace(getenv("WAEDGE_ADMIN_TOKEN"))
	}
	if tok == "" {
		b, err := os.ReadFile(*tokenFile)
		if err != nil {
			fmt.Fprintf(stderr, "cannot read admin token: %v (use --token-file or --token)\n", err)
			return 1
		}
		tok = strings.TrimSpace(string(b))
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	client, err := httptls.Client(*caFile, *timeout)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	out, err := call(ctx, client, strings.TrimRight(*server, "/")+path, method, tok, body)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if exportEnv {
		return printExports(out, stdout, stderr)
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, out, "", "  ") != nil {
		pretty.Reset()
		pretty.Write(out) // CSV and other text: as is
	} else {
		pretty.WriteByte('\n')
	}
	_, _ = stdout.Write(pretty.Bytes())
	return 0
}

const usage = `usage:
  waedge cluster status
  waedge cluster join-token [--ttl 24h]
  waedge cluster remove NODE_ID
  waedge cluster transfer-leadership
  waedge tenant create --name NAME --phone +E164 [--export]
                                      (--export: shell exports PNID, WABA_ID, APP_ID, APP_SECRET, BUSINESS_ID, TOKEN;
                                       eval "$(waedge tenant create … --export)")
  waedge tenant list
  waedge tenant retention PHONE_NUMBER_ID --hours N   (1 to 720; 0: the default, 720)
  waedge tenant consumer-export BUSINESS_ID WA_ID     everything stored about a consumer, as JSON
  waedge tenant consumer-erase BUSINESS_ID WA_ID      erase it (messages, their media, window, Signal session)
  waedge tenant admin-token BUSINESS_ID   (mints a business admin token, shown once)
  waedge tenant verification-codes BUSINESS_ID   pending request_code codes (the sandbox sends no SMS)
  waedge audit list [--limit 100] [--after CURSOR]
  waedge tenant tier PHONE_NUMBER_ID --tier TIER_10K   (messaging-limit tier)
  waedge tenant template-review WABA_ID --policy approve|manual|reject   (what new templates become)
  waedge billing export --month YYYY-MM [--business ID] [--format csv|json]
  waedge stats show [--business ID] [--phone ID] [--from YYYY-MM-DD] [--to YYYY-MM-DD]
  waedge webhooks log [--state pending|delivered|dropped|all] [--limit 100]   (the delivery log; no bodies)
  waedge webhooks retry BUSINESS_ID [--events ID,ID]   queued events are tried now, not after their back-off
  waedge webhooks redeliver BUSINESS_ID --events ID,ID   delivered or dropped events are queued again (same body)
  waedge webhooks test BUSINESS_ID [--waba ID] [--phone ID]   a signed test event to the callback; prints its answer
  waedge console setup-link     a one-time link that creates a console admin (valid 24 h)
  waedge console invite --role admin|operator|business_admin [--business ID]   a one-time invitation link
  waedge console users          the console's users
common flags: --server URL (WAEDGE_SERVER), --token-file PATH (WAEDGE_TOKEN_FILE), --token T (WAEDGE_ADMIN_TOKEN),
  --ca-file PEM (WAEDGE_CA_FILE: the certificate(s) to trust for an https:// server)
`

// setting is a "NOUN VERB ID --FLAG VALUE" command that sends
// POST /admin/v1/COLLECTION/ID/EDGE {"FLAG": VALUE}.
type setting struct{ flag, help, collection, edge string }

// settingOf describes the setting command cmd ("tenant tier", …).
func settingOf(cmd string) setting {
	if cmd == "tenant template-review" {
		return setting{"policy", "review policy of the WABA's new templates: approve, manual or reject", "wabas", "template-review"}
	}
	return setting{"tier", "messaging-limit tier: TIER_250, TIER_1K, TIER_10K, TIER_100K or TIER_UNLIMITED", "phones", "tier"}
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

// parse parses flags and checks the number of positional arguments.
func parse(fs *flag.FlagSet, args []string, positional int) bool {
	// Allow flags after the positional argument (waedge cluster remove ID --server …).
	var pos []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			return false
		}
		args = fs.Args()
		if len(args) > 0 {
			pos = append(pos, args[0])
			args = args[1:]
		}
	}
	if len(pos) != positional {
		fmt.Fprintf(fs.Output(), "%s: expected %d argument(s), got %d\n", fs.Name(), positional, len(pos))
		return false
	}
	_ = fs.Parse(pos)
	return true
}

// apiError is the Graph error envelope.
type apiError struct {
	Error struct {
		Message   string `json:"message"`
		Code      int    `json:"code"`
		ErrorData struct {
			Details string `json:"details"`
		} `json:"error_data"`
	} `json:"error"`
}

// call sends one admin API request and returns the body of a 2xx answer.
func call(ctx context.Context, client *http.Client, u, method, token string, body any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("failed to encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("invalid server address: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach %s: %w", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("failed to read the answer of %s: %w", u, err)
	}
	if resp.StatusCode/100 != 2 {
		var e apiError
		if json.Unmarshal(b, &e) == nil && e.Error.Message != "" {
			msg := e.Error.Message
			if e.Error.ErrorData.Details != "" {
				msg += ": " + e.Error.ErrorData.Details
			}
			return nil, fmt.Errorf("%w (HTTP %d): %s", ErrServer, resp.StatusCode, msg)
		}
		return nil, fmt.Errorf("%w (HTTP %d)", ErrServer, resp.StatusCode)
	}
	return b, nil
}

// printExports prints a created tenant as shell exports, single-quoted, for
// `eval "$(waedge tenant create … --export)"`.
func printExports(out []byte, stdout, stderr io.Writer) int {
	var t map[string]any
	if err := json.Unmarshal(out, &t); err != nil {
		fmt.Fprintf(stderr, "tenant create: unexpected answer: %v\n", err)
		return 1
	}
	for _, kv := range [][2]string{{"PNID", "phone_number_id"}, {"WABA_ID", "waba_id"}, {"APP_ID", "app_id"},
		{"APP_SECRET", "app_secret"}, {"BUSINESS_ID", "business_id"}, {"TOKEN", "access_token"}} {
		v, _ := t[kv[1]].(string)
		fmt.Fprintf(stdout, "export %s='%s'\n", kv[0], strings.ReplaceAll(v, "'", `'\''`))
	}
	return 0
}

// splitIDs splits a comma-separated list of ids, dropping blanks.
func splitIDs(list string) []string {
	ids := []string{}
	for _, id := range strings.Split(list, ",") {
		if id = strings.TrimSpace(id); id != "" {
			ids = append(ids, id)
		}
	}
	return ids
}
