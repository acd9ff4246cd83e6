package node

import (
	"errors"
	"testing"
	"time"
)

func TestConfigRaftTimeouts(t *testing.T) {
	base := Config{DataDir: t.TempDir()}
	c, err := base.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if c.HeartbeatTimeout != DefaultHeartbeatTimeout || c.ElectionTimeout != DefaultElectionTimeout || c.LeaderLeaseTimeout != DefaultLeaderLeaseTimeout {
		t.Errorf("defaults not applied: %v %v %v", c.HeartbeatTimeout, c.ElectionTimeout, c.LeaderLeaseTimeout)
	}
	ms := time.Millisecond
	for _, tc := range []struct {
		name          string
		hb, el, lease time.Duration
		ok            bool
	}{
		{"LAN values", 300 * ms, 300 * ms, 150 * ms, true},
		{"lease equal to heartbeat", 300 * ms, 600 * ms, 300 * ms, true},
		{"election shorter than heartbeat", 500 * ms, 300 * ms, 100 * ms, false},
		{"lease longer than heartbeat", 300 * ms, 300 * ms, 400 * ms, false},
		{"below raft's 5ms floor", 4 * ms, 300 * ms, 4 * ms, false},
	} {
		cfg := base
		cfg.HeartbeatTimeout, cfg.ElectionTimeout, cfg.LeaderLeaseTimeout = tc.hb, tc.el, tc.lease
		got, err := cfg.withDefaults()
		if tc.ok && (err != nil || got.HeartbeatTimeout != tc.hb || got.ElectionTimeout != tc.el || got.LeaderLeaseTimeout != tc.lease) {
			t.Errorf("%s: %v, %+v", tc.name, err, got)
		}
		if !tc.ok && !errors.Is(err, ErrBadConfig) {
			t.Errorf("%s: err %v, want ErrBadConfig", tc.name, err)
		}
	}
}
