package cli

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	var got []string
	var query string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		query = r.URL.RawQuery
		got = append(got, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization")+" "+string(b))
		if strings.HasSuffix(r.URL.Path, "/nodes/missing") {
			w.WriteHeader(400)
			_, _ = w.Write([]byte(`{"error":{"message":"(#100) Unsupported get request","code":100,"error_data":{"details":"no cluster member has this id"}}}`))
			return
		}
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()
	tokenFile := filepath.Join(t.TempDir(), "admin.token")
	if err := os.WriteFile(tokenFile, []byte("tok123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(k string) string {
		return map[string]string{"WAEDGE_SERVER": srv.URL, "WAEDGE_TOKEN_FILE": tokenFile}[k]
	}
	for _, tc := range []struct {
		args []string
		code int
		req  string
		out  string
	}{
		{[]string{"cluster", "status"}, 0, "GET /admin/v1/cluster Bearer tok123 ", `"ok": true`},
		{[]string{"cluster", "join-token", "--ttl", "1h"}, 0, `POST /admin/v1/cluster/join-tokens Bearer tok123 {"ttl_seconds":3600}`, ""},
		{[]string{"cluster", "remove", "node-2"}, 0, "DELETE /admin/v1/cluster/nodes/node-2 Bearer tok123 ", ""},
		{[]string{"cluster", "remove", "missing"}, 1, "DELETE /admin/v1/cluster/nodes/missing Bearer tok123 ", ""},
		{[]string{"cluster", "transfer-leadership"}, 0, "POST /admin/v1/cluster/transfer-leadership Bearer tok123 ", ""},
		{[]string{"tenant", "create", "--name", "Acme", "--phone", "+15551234567"}, 0, `POST /admin/v1/tenants Bearer tok123 {"name":"Acme","phone":"+15551234567"}`, ""},
		{[]string{"tenant", "list", "--token", "other"}, 0, "GET /admin/v1/tenants Bearer other ", ""},
		{[]string{"tenant", "admin-token", "123456"}, 0, "POST /admin/v1/businesses/123456/admin-tokens Bearer tok123 ", ""},
		{[]string{"tenant", "verification-codes", "123456"}, 0, "GET /admin/v1/businesses/123456/verification-codes Bearer tok123 ", ""},
		{[]string{"tenant", "verification-codes"}, 2, "", ""},
		{[]string{"audit", "list"}, 0, "GET /admin/v1/audit Bearer tok123 ", ""},
		{[]string{"audit", "list", "--limit", "5", "--after", "00ff"}, 0, "GET /admin/v1/audit Bearer tok123 ", ""},
		{[]string{"audit", "list", "--limit", "0"}, 2, "", ""},
		{[]string{"tenant", "admin-token"}, 2, "", ""},
		{[]string{"tenant", "create", "--name", "Acme"}, 2, "", ""},
		{[]string{"cluster", "remove"}, 2, "", ""},
		{[]string{"cluster", "explode"}, 2, "", ""},
		{[]string{"billing", "export", "--month", "2026-03", "--business", "1001"}, 0, "GET /admin/v1/billing Bearer tok123 ", ""},
		{[]string{"billing", "export"}, 2, "", ""},
		{[]string{"tenant", "tier", "3001", "--tier", "TIER_10K"}, 0, `POST /admin/v1/phones/3001/tier Bearer tok123 {"tier":"TIER_10K"}`, ""},
		{[]string{"tenant", "template-review", "2001", "--policy", "manual"}, 0, `POST /admin/v1/wabas/2001/template-review Bearer tok123 {"policy":"manual"}`, ""},
		{[]string{"tenant", "template-review", "2001"}, 2, "", ""},
		{[]string{"stats", "show", "--from", "2026-03-01"}, 0, "GET /admin/v1/stats Bearer tok123 ", ""},
		{[]string{"webhooks", "log", "--state", "delivered", "--limit", "5"}, 0, "GET /admin/v1/webhooks/outbox Bearer tok123 ", ""},
		{[]string{"webhooks", "retry", "1001", "--events", "ab12,cd34"}, 0, `POST /admin/v1/businesses/1001/webhooks/retry Bearer tok123 {"event_ids":["ab12","cd34"]}`, ""},
		{[]string{"webhooks", "retry", "1001"}, 0, `POST /admin/v1/businesses/1001/webhooks/retry Bearer tok123 {"event_ids":[]}`, ""},
		{[]string{"webhooks", "retry"}, 2, "", ""},
		{[]string{"webhooks", "redeliver", "1001", "--events", "ab12, cd34"}, 0, `POST /admin/v1/businesses/1001/webhooks/redeliver Bearer tok123 {"event_ids":["ab12","cd34"]}`, ""},
		{[]string{"webhooks", "redeliver", "1001"}, 2, "", ""},
		{[]string{"webhooks", "test", "1001", "--waba", "2001"}, 0, `POST /admin/v1/businesses/1001/webhooks/test Bearer tok123 {"phone_number_id":"","waba_id":"2001"}`, ""},
	} {
		got = nil
		var out, errb bytes.Buffer
		code := Run(context.Background(), tc.args, &out, &errb, env)
		if code != tc.code {
			t.Fatalf("%v: exit %d, want %d (%s)", tc.args, code, tc.code, errb.String())
		}
		if tc.req != "" && (len(got) != 1 || got[0] != tc.req) {
			t.Fatalf("%v: request %q, want %q", tc.args, got, tc.req)
		}
		if tc.req == "" && len(got) != 0 {
			t.Fatalf("%v: unexpected request %q", tc.args, got)
		}
		if !strings.Contains(out.String(), tc.out) {
			t.Fatalf("%v: output %q", tc.args, out.String())
		}
		if tc.code == 1 && !strings.Contains(errb.String(), "no cluster member has this id") {
			t.Fatalf("%v: error output %q", tc.args, errb.String())
		}
		if tc.args[0] == "webhooks" && tc.args[1] == "log" && query != "limit=5&state=delivered" {
			t.Fatalf("%v: query %q", tc.args, query)
		}
	}
}

func TestBillingExportPrintsCSV(t *testing.T) {
	const csv = "business,month,category,delivered,rate,amount,currency\n1001,2026-03,marketing,2,0.05,0.1,USD\n"
	var query string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		query = r.URL.RawQuery
		w.Header().Set("Content-Type", "text/csv")
		_, _ = w.Write([]byte(csv))
	}))
	defer srv.Close()
	var out, errb bytes.Buffer
	env := func(k string) string {
		return map[string]string{"WAEDGE_SERVER": srv.URL, "WAEDGE_ADMIN_TOKEN": "t"}[k]
	}
	if code := Run(context.Background(), []string{"billing", "export", "--month", "2026-03", "--business", "1001"}, &out, &errb, env); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if query != "business=1001&format=csv&month=2026-03" || out.String() != csv {
		t.Fatalf("query %q, output %q", query, out.String())
	}
}
