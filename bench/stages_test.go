package bench

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestStageTotals reads waedge_commit_stage_seconds from every node and
// adds them up; addStages turns two readings into the mean per event, and
// null for a stage that did not occur.
func TestStageTotals(t *testing.T) {
	page := func(sum, count string) string {
		return "# HELP waedge_commit_stage_seconds x\n# TYPE waedge_commit_stage_seconds summary\n" +
			`waedge_commit_stage_seconds_sum{stage="forward"} ` + sum + "\n" +
			`waedge_commit_stage_seconds_count{stage="forward"} ` + count + "\n" +
			`waedge_commit_stage_seconds_sum{stage="queue"} 0.5` + "\n" +
			`waedge_commit_stage_seconds_count{stage="queue"} 10` + "\n" +
			`waedge_other{stage="forward"} 99` + "\n"
	}
	var pages []string
	var urls []string
	for i := range 2 {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer tok" || r.URL.Path != "/metrics" {
				http.Error(w, "no", http.StatusUnauthorized)
				return
			}
			_, _ = w.Write([]byte(pages[i]))
		}))
		defer srv.Close()
		urls = append(urls, srv.URL)
	}
	c := &cluster{urls: urls, token: "tok", api: http.DefaultClient}
	pages = []string{page("1", "100"), page("2", "100")}
	from, err := c.stageTotals(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got := from["forward"]; got != [2]float64{3, 200} {
		t.Fatalf("forward totals %v, want [3 200]", got)
	}
	pages = []string{page("1.5", "150"), page("3.5", "150")}
	to, err := c.stageTotals(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var r Result
	addStages(&r, from, to)
	if got, _ := r.get("stage_forward_ms").(float64); got < 19.999 || got > 20.001 {
		t.Errorf("stage_forward_ms = %v, want 20 (2 s over 100 events)", r.get("stage_forward_ms"))
	}
	if v := r.get("stage_queue_ms"); v != nil {
		t.Errorf("stage_queue_ms = %v, want nil (no event between the readings)", v)
	}
	if len(r.Fields) != len(commitStages) {
		t.Errorf("%d fields, want one per stage: %v", len(r.Fields), r.Fields)
	}
	c.token = "wrong"
	if _, err := c.stageTotals(t.Context()); err == nil {
		t.Error("a refused /metrics gave no error")
	}
}
