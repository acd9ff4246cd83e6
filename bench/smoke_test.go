package bench

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSmokeAcceptWithBaseline builds the waedge binary (as e2e does) and
// runs the documented command at its smallest: three real processes and
// the bare reference and the two Raft floors, one second each.
func TestSmokeAcceptWithBaseline(t *testing.T) {
	stdout, stderr := runBench(t, "accept", "--senders", "2", "--duration", "1s", "--json", "--baseline")
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("want one JSON line, got %q", stdout.String())
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &got); err != nil {
		t.Fatalf("not JSON: %q: %v", lines[0], err)
	}
	for _, k := range []string{"scenario", "senders", "accepted_per_s", "p50_ms", "p99_ms", "errors", "peak_rss_mb",
		"baseline_per_s", "baseline_p99_ms", "ratio",
		"floor_per_s", "floor_p50_ms", "floor_p99_ms", "floor_errors", "ratio_floor", "floor_over_bare",
		"floor_spread_per_s", "floor_spread_p50_ms", "floor_spread_p99_ms", "floor_spread_errors", "ratio_floor_spread", "floor_spread_over_bare"} {
		if _, ok := got[k]; !ok {
			t.Errorf("key %q missing from %s", k, lines[0])
		}
	}
	if got["scenario"] != "accept" || got["senders"] != 2.0 {
		t.Errorf("scenario/senders: %s", lines[0])
	}
	for _, k := range []string{"accepted_per_s", "baseline_per_s", "ratio", "peak_rss_mb", "cpu_us_per_msg", "bench_cpu_us_per_msg", "baseline_cpu_us_per_msg",
		"floor_per_s", "floor_p50_ms", "floor_p99_ms", "ratio_floor", "floor_over_bare",
		"floor_spread_per_s", "floor_spread_p50_ms", "floor_spread_p99_ms", "ratio_floor_spread", "floor_spread_over_bare"} {
		if v, _ := got[k].(float64); !(v > 0) {
			t.Errorf("%s = %v, want > 0 (%s)", k, got[k], lines[0])
		}
	}
	if got["errors"] != 0.0 || got["floor_errors"] != 0.0 || got["floor_spread_errors"] != 0.0 {
		t.Errorf("errors = %v / %v / %v\nstderr:\n%s", got["errors"], got["floor_errors"], got["floor_spread_errors"], stderr.String())
	}
}

// TestSmokeAcceptStages runs one level with --stages: the stages every
// write of a spread load goes through are reported with a positive mean.
func TestSmokeAcceptStages(t *testing.T) {
	stdout, stderr := runBench(t, "accept", "--senders", "3", "--duration", "1s", "--json", "--stages")
	var got map[string]any
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &got); err != nil {
		t.Fatalf("not one JSON object: %q: %v\nstderr:\n%s", stdout.String(), err, stderr.String())
	}
	for _, k := range []string{"stage_queue_ms", "stage_forward_ms", "stage_serve_forwarded_ms", "stage_raft_apply_ms",
		"stage_wait_applied_ms", "stage_log_store_ms", "stage_fsm_apply_ms"} {
		if v, _ := got[k].(float64); !(v > 0) {
			t.Errorf("%s = %v, want > 0 (%s)", k, got[k], stdout.String())
		}
	}
}

// runBench builds the waedge binary (as e2e does) and runs `waedge bench`
// with args, failing t if it exits non-zero.
func runBench(t *testing.T, args ...string) (stdout, stderr *bytes.Buffer) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "waedge")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = ".."
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, append([]string{"bench"}, args...)...)
	stdout, stderr = &bytes.Buffer{}, &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	if err := cmd.Run(); err != nil {
		t.Fatalf("bench %v: %v\nstderr:\n%s", args, err, stderr.String())
	}
	return stdout, stderr
}

// TestSmokeE2E runs the end-to-end scenario at its smallest (its own
// relay with a few hosted phones, real Signal both ways): every message
// arrives each way, with no error.
func TestSmokeE2E(t *testing.T) {
	stdout, stderr := runBench(t, "e2e", "--phones", "4", "--messages", "20", "--json")
	var got map[string]any
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &got); err != nil {
		t.Fatalf("not one JSON object: %q: %v\nstderr:\n%s", stdout.String(), err, stderr.String())
	}
	if got["scenario"] != "e2e" || got["errors"] != 0.0 {
		t.Fatalf("e2e: %s\nstderr:\n%s", stdout.String(), stderr.String())
	}
}

func TestScenariosThatNeedTheirOwnClusterRefuseTarget(t *testing.T) {
	if got := len(scenarios()); got != 6 {
		t.Errorf("%d scenarios, want accept, failover, webhooks, e2e, expiry, retained", got)
	}
	for _, sc := range []string{"failover", "webhooks", "e2e", "expiry", "retained"} {
		var out, errb bytes.Buffer
		code := Main(t.Context(), []string{sc, "--target", "http://127.0.0.1:1", "--token", "x"}, &out, &errb, func(string) string { return "" })
		if code != 1 || !strings.Contains(errb.String(), "no --target") || out.Len() != 0 {
			t.Errorf("%s: exit %d, stdout %q, stderr %q: want 1, nothing on stdout, a reason", sc, code, out.String(), errb.String())
		}
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"accept", "--senders", "8,x"},
		{"accept", "--senders", "0"},
		{"accept", "--target", "http://127.0.0.1:1"}, // no token
		{"accept", "extra"},
		{"nosuch"},
		{},
	} {
		var out, errb bytes.Buffer
		if code := Main(t.Context(), args, &out, &errb, func(string) string { return "" }); code != 2 {
			t.Errorf("%q: exit %d, want 2 (stderr %q)", args, code, errb.String())
		}
	}
}

// TestSmokeWebhooksDrain runs the webhooks scenario at its smallest: the
// end-to-end phase, then the drain (events queued behind a receiver that
// holds every request, then released), then the bare loop; every event
// of both phases arrives signed, and both rates are reported beside the
// bare loop's.
func TestSmokeWebhooksDrain(t *testing.T) {
	stdout, stderr := runBench(t, "webhooks", "--senders", "8", "--messages", "200", "--duration", "1s", "--json", "--baseline")
	var got map[string]any
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &got); err != nil {
		t.Fatalf("not one JSON object: %q: %v\nstderr:\n%s", stdout.String(), err, stderr.String())
	}
	if got["scenario"] != "webhooks" || got["errors"] != 0.0 || got["bad_signatures"] != 0.0 || got["drain_events"] != 200.0 {
		t.Fatalf("webhooks: %s\nstderr:\n%s", stdout.String(), stderr.String())
	}
	for _, k := range []string{"events_per_s", "drain_per_s", "baseline_per_s", "ratio", "drain_ratio"} {
		if v, _ := got[k].(float64); !(v > 0) {
			t.Errorf("%s = %v, want > 0 (%s)", k, got[k], stdout.String())
		}
	}
}
