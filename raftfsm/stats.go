package raftfsm

import (
	"bytes"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Statistics (issue 5): non-identifiable counters per day × phone number ×
// direction × message type × status × pricing category, incremented inside
// the Apply of the commands that already carry the events (AcceptMessage,
// RecordInbound, SignalCommit, MessageStatuses). The day comes from the
// command's own timestamp, never the clock; increments are summed in
// memory for the batch (applyBatch) and each counter is read and written
// once per batch. Counters hold no consumer numbers or content and outlive the
// messages they count.

// Pricing categories (lower case, as in the rate card).
const (
	CategoryMarketing      = "marketing"
	CategoryUtility        = "utility"
	CategoryAuthentication = "authentication"
	CategoryService        = "service"
)

// Stats statuses besides the outbound ones: inbound messages count as
// received.
const StatusReceived = "received"

// Day returns the UTC day (YYYY-MM-DD) of a unix-ms timestamp: a pure
// function of the command's timestamp.
func Day(ms int64) string { return time.UnixMilli(ms).UTC().Format(time.DateOnly) }

// PricingCategory maps a template category (MARKETING, UTILITY,
// AUTHENTICATION) to its pricing category; anything else is service.
func PricingCategory(templateCategory string) string {
	switch c := strings.ToLower(templateCategory); c {
	case CategoryMarketing, CategoryUtility, CategoryAuthentication:
		return c
	}
	return CategoryService
}

func statKey(phoneID, day, dir, typ, status, category string) []byte {
	return []byte(phoneID + "\x00" + day + "\x00" + dir + "\x00" + typ + "\x00" + status + "\x00" + category)
}

// bumpStatusStats counts an outbound message's status change from old to
// new: every step of sent → delivered → read it crosses counts once (a
// read implies delivered), failed counts as failed. So per day sent ≥
// delivered ≥ read, and "delivered" counts each message once.
func (b *applyBatch) bumpStatusStats(m *Message, old, new string, at int64) {
	if new == StatusFailed {
		b.bumpStat(m.PhoneNumberID, at, DirectionOut, m.Type, StatusFailed, m.Category)
		return
	}
	for _, st := range []string{StatusSent, StatusDelivered, StatusRead} {
		if statusRank(st) > statusRank(old) && statusRank(st) <= statusRank(new) {
			b.bumpStat(m.PhoneNumberID, at, DirectionOut, m.Type, st, m.Category)
		}
	}
}

// StatRow is one statistics counter.
type StatRow struct {
	PhoneNumberID string `json:"phone_number_id"`
	Day           string `json:"day"`
	Direction     string `json:"direction"`
	Type          string `json:"type"`
	Status        string `json:"status"`
	Category      string `json:"pricing_category"`
	Count         int64  `json:"count"`
}

// Stats returns the counters of the given phone numbers (all when phones
// is nil) for the days from…to inclusive (YYYY-MM-DD; "" leaves a side
// open), ordered by phone, day, direction, type, status, category.
func (f *FSM) Stats(phones []string, from, to string) ([]StatRow, error) {
	var out []StatRow
	scan := func(c *bolt.Cursor, start, prefix []byte) {
		for k, v := c.Seek(start); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			parts := strings.Split(string(k), "\x00")
			if len(parts) != 6 || len(v) != 8 {
				continue
			}
			if (from != "" && parts[1] < from) || (to != "" && parts[1] > to) {
				continue
			}
			out = append(out, StatRow{PhoneNumberID: parts[0], Day: parts[1], Direction: parts[2], Type: parts[3],
				Status: parts[4], Category: parts[5], Count: int64(beUint64(v))})
		}
	}
	err := f.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketStats).Cursor()
		if phones == nil {
			scan(c, nil, nil)
			return nil
		}
		for _, p := range phones {
			// Start at the first day of the range.
			scan(c, []byte(p+"\x00"+from), []byte(p+"\x00"))
		}
		return nil
	})
	return out, err
}

// Messaging-limit tiers (docs/cloud-api.md §7: legacy per-number tiers).
const (
	Tier250       = "TIER_250"
	Tier1K        = "TIER_1K"
	Tier10K       = "TIER_10K"
	Tier100K      = "TIER_100K"
	TierUnlimited = "TIER_UNLIMITED"
	// DefaultTier is a number's tier until an operator sets one.
	DefaultTier = Tier1K
)

// TierLimit returns the distinct consumers per rolling 24 hours a tier
// allows (0: unlimited) and whether tier is known.
func TierLimit(tier string) (int64, bool) {
	switch tier {
	case Tier250:
		return 250, true
	case Tier1K:
		return 1000, true
	case Tier10K:
		return 10000, true
	case Tier100K:
		return 100000, true
	case TierUnlimited:
		return 0, true
	}
	return 0, false
}

// TierOf returns a phone number's messaging-limit tier.
func TierOf(p Phone) string {
	if p.MessagingLimitTier == "" {
		return DefaultTier
	}
	return p.MessagingLimitTier
}

// SetMessagingTier is the payload of CmdSetMessagingTier (operator
// action; "" restores DefaultTier).
type SetMessagingTier struct {
	PhoneNumberID string
	Tier          string
}

func (f *FSM) applySetMessagingTier(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c SetMessagingTier
	decode(payload, &c)
	if _, ok := TierLimit(c.Tier); !ok && c.Tier != "" {
		return nil, domainErr(ErrInvalid, "tier %q", c.Tier)
	}
	return nil, updateRecord(tx, bucketPhones, c.PhoneNumberID, "phone number", func(p *Phone) { p.MessagingLimitTier = c.Tier })
}

// ReachedToday returns how many distinct consumers the number reached with
// business-initiated messages in the 24 hours before now (for display).
func (f *FSM) ReachedToday(phoneID string, now int64) int64 {
	var n int64
	_ = f.View(func(tx *bolt.Tx) error {
		n = distinctNewer(tx, setTier, phoneID, now-tierHorizon)
		return nil
	})
	return n
}
