package node

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// TestHCLogFieldsRendered: Raft's log arguments reach the JSON log as
// readable values — hclog.Fmt formatted (not ["%+v",null]), errors and
// durations as text, configurations with their servers.
func TestHCLogFieldsRendered(t *testing.T) {
	var buf bytes.Buffer
	l := newHCLogger(slog.New(slog.NewJSONHandler(&buf, nil)), "raft")
	servers := []raft.Server{{ID: "node-a", Address: "10.0.0.1:8081", Suffrage: raft.Voter}}
	l.Info("initial configuration", "index", 7, "servers", hclog.Fmt("%+v", servers))
	l.Warn("failed to contact", "server-id", raft.ServerID("node-b"), "error", errors.New("dial tcp: refused"),
		"time", 1500*time.Millisecond, "config", raft.Configuration{Servers: servers})
	out := buf.String()
	for _, want := range []string{`"servers":"[{Suffrage:Voter ID:node-a Address:10.0.0.1:8081}]"`, `"index":7`,
		`"error":"dial tcp: refused"`, `"time":"1.5s"`, `"server-id":"node-b"`, `node-a`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "%+v") {
		t.Errorf("an unformatted hclog.Fmt reached the log:\n%s", out)
	}
}
