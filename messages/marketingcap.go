package messages

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/waedge/waedge/cloudapi"
	"github.com/waedge/waedge/graph"
	"github.com/waedge/waedge/raftfsm"
)

// MarketingCap is the operator's policy behind error 131049: at most
// Limit marketing template messages from one business to one consumer per
// rolling Window; a send over it is accepted and fails with 131049 by
// status webhook, as Meta reports it. Meta applies such a per-user limit
// "to maintain healthy ecosystem engagement" without publishing its
// number (https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes),
// so waedge has none unless the operator sets one: the zero value is off.
// Counted per business, over all its numbers, never across businesses.
type MarketingCap struct {
	Limit  int
	Window time.Duration
}

// On reports whether the policy limits anything.
func (m MarketingCap) On() bool { return m.Limit > 0 && m.Window > 0 }

// String writes the policy as ParseMarketingCap reads it ("off" when off).
func (m MarketingCap) String() string {
	if !m.On() {
		return "off"
	}
	return strconv.Itoa(m.Limit) + "/" + m.Window.String()
}

// Bounds of a marketing cap.
const (
	MaxMarketingCapLimit  = 1000
	MinMarketingCapWindow = time.Minute
)

// ErrBadMarketingCap: a policy out of bounds or malformed.
var ErrBadMarketingCap = errors.New("marketing cap")

// Check refuses a policy that is on and out of bounds: limit 1 to
// MaxMarketingCapLimit, window from a minute to raftfsm.MaxMarketingCapWindow.
func (m MarketingCap) Check() error {
	if m.Limit == 0 {
		return nil
	}
	if m.Limit < 0 || m.Limit > MaxMarketingCapLimit {
		return fmt.Errorf("%w: limit must be 0 (off) to %d", ErrBadMarketingCap, MaxMarketingCapLimit)
	}
	if m.Window < MinMarketingCapWindow || m.Window > raftfsm.MaxMarketingCapWindow {
		return fmt.Errorf("%w: window must be from %s to %s", ErrBadMarketingCap, MinMarketingCapWindow, raftfsm.MaxMarketingCapWindow)
	}
	return nil
}

// ParseMarketingCap reads "N/DURATION" (e.g. "2/24h": two marketing
// templates per consumer per 24 hours); "", "0" and "off" are off.
func ParseMarketingCap(s string) (MarketingCap, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" || strings.EqualFold(s, "off") {
		return MarketingCap{}, nil
	}
	n, w, ok := strings.Cut(s, "/")
	limit, err1 := strconv.Atoi(n)
	window, err2 := time.ParseDuration(w)
	if !ok || err1 != nil || err2 != nil {
		return MarketingCap{}, fmt.Errorf("%w %q: want N/DURATION such as 2/24h, or off", ErrBadMarketingCap, s)
	}
	m := MarketingCap{Limit: limit, Window: window}
	return m, m.Check()
}

// MarketingCapKey is the cluster value holding a business's own policy,
// which replaces the node's default (Deps.MarketingCap).
func MarketingCapKey(businessID string) string { return "marketing-cap/" + businessID }

// marketingCapJSON is a stored policy.
type marketingCapJSON struct {
	Limit         int   `json:"limit"`
	WindowSeconds int64 `json:"window_seconds"`
}

// EncodeMarketingCap is a business's policy as stored.
func EncodeMarketingCap(m MarketingCap) []byte {
	b, _ := json.Marshal(marketingCapJSON{Limit: m.Limit, WindowSeconds: int64(m.Window / time.Second)})
	return b
}

// NoMarketingCap is the stored value of a business without a policy of
// its own (the default applies).
var NoMarketingCap = []byte("null")

// DecodeMarketingCap reads a stored policy (ok false: none stored).
func DecodeMarketingCap(v []byte) (MarketingCap, bool) {
	var j *marketingCapJSON
	if len(v) == 0 || json.Unmarshal(v, &j) != nil || j == nil {
		return MarketingCap{}, false
	}
	return MarketingCap{Limit: j.Limit, Window: time.Duration(j.WindowSeconds) * time.Second}, true
}

// EffectiveMarketingCap is the policy of a business: its own, else def.
// own reports whether it has its own.
func EffectiveMarketingCap(fsm *raftfsm.FSM, businessID string, def MarketingCap) (m MarketingCap, own bool, err error) {
	v, err := fsm.ClusterValue(MarketingCapKey(businessID))
	if err != nil && !errors.Is(err, raftfsm.ErrNotFound) {
		return def, false, err
	}
	if m, ok := DecodeMarketingCap(v); ok {
		return m, true, nil
	}
	return def, false, nil
}

// overMarketingCap reports whether a marketing template from t's business
// to the consumer waID at now would exceed the business's policy, judged
// on this replica's state (as the 24-hour window is): sends committed a
// moment ago through another node, or in flight at once, may not be seen
// yet, so concurrent sends can pass the cap by the number in flight.
func (s *Service) overMarketingCap(t raftfsm.Tenant, waID string, now time.Time) (*graph.Error, error) {
	fsm := s.d.Cluster.FSM()
	m, _, err := EffectiveMarketingCap(fsm, t.BusinessID, s.d.MarketingCap)
	if err != nil || !m.On() {
		return nil, err
	}
	ts, err := fsm.TenantsByBusiness(t.BusinessID)
	if err != nil {
		return nil, err
	}
	refs := make(map[string]string, len(ts))
	for _, x := range ts {
		refs[x.PhoneNumberID] = s.d.Sealer.ConsumerRef(x.PhoneNumberID, waID)
	}
	if fsm.MarketingSends(refs, now.Add(-m.Window).UnixMilli()) >= m.Limit {
		return cloudapi.ErrMarketingCapped, nil
	}
	return nil, nil
}
