package raftfsm

import (
	"bytes"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Integrity signals and the quality rating (issue 5). The network reports
// spam reports, blocks, unblocks and new-recipient-rate warnings about a
// business number; each is counted per number and day (the consumer is
// never stored) and the number's quality rating is re-derived in the same
// Apply, from the rolling IntegrityDays window:
//
//	negative = spam reports + blocks − unblocks (never below spam reports)
//	reached  = distinct consumers the number messaged in the window (≥ 1)
//	RED      if negative ≥ QualityMinSignals and negative·100 ≥ QualityRedPercent·reached
//	YELLOW   if negative ≥ QualityMinSignals and negative·100 ≥ QualityYellowPercent·reached
//	GREEN    otherwise
//
// Integer arithmetic only, over values the log determines.

// Quality ratings.
const (
	QualityGreen  = "GREEN"
	QualityYellow = "YELLOW"
	QualityRed    = "RED"
)

// Quality thresholds (see the package comment above).
const (
	// IntegrityDays is the rolling window of the quality rating.
	IntegrityDays = 7
	// QualityMinSignals: fewer negative signals than this never lower
	// the rating (a handful of reports says little).
	QualityMinSignals = 3
	// QualityYellowPercent and QualityRedPercent are the negative signals
	// per 100 distinct consumers reached that lower the rating.
	QualityYellowPercent = 2
	QualityRedPercent    = 5
)

// Integrity signal kinds (the network's names).
const (
	SignalSpamReport       = "spam_report"
	SignalBlock            = "block"
	SignalUnblock          = "unblock"
	SignalNewRecipientRate = "new_recipient_rate"
)

// QualityOf returns a phone number's quality rating.
func QualityOf(p Phone) string {
	if p.QualityRating == "" {
		return QualityGreen
	}
	return p.QualityRating
}

// QualityEvents are phone_number_quality_update webhooks sealed by the
// proposer, one per rating the command could move the number to: Apply
// cannot seal, and which one applies is known only inside Apply. The one
// matching the new rating is queued when (and only when) the rating
// changes; the others are dropped.
type QualityEvents struct {
	Green, Yellow, Red *OutboxEvent
}

func (e QualityEvents) of(rating string) *OutboxEvent {
	switch rating {
	case QualityGreen:
		return e.Green
	case QualityYellow:
		return e.Yellow
	case QualityRed:
		return e.Red
	}
	return nil
}

// RecordIntegrity is the payload of CmdRecordIntegrity.
type RecordIntegrity struct {
	PhoneNumberID string
	Kind          string
	// Count is how many signals this delivery stands for (≥ 1).
	Count int
	// At is the proposer's time of receipt (unix ms).
	At int64
	// DeliveryRef identifies the network delivery (a hash of its id), so
	// a redelivery after a lost ack is not counted twice.
	DeliveryRef string
	Events      QualityEvents
}

// IntegrityResult is CmdRecordIntegrity's result value: the rating after
// the command and whether it changed.
type IntegrityResult struct {
	Rating  string
	Changed bool
}

func integrityKey(phoneID, day, kind string) []byte {
	return []byte(phoneID + "\x00" + day + "\x00" + kind)
}

func (f *FSM) applyRecordIntegrity(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c RecordIntegrity
	decode(payload, &c)
	switch c.Kind {
	case SignalSpamReport, SignalBlock, SignalUnblock, SignalNewRecipientRate:
	default:
		return nil, domainErr(ErrInvalid, "signal kind %q", c.Kind)
	}
	if c.Count < 1 || c.Count > 1_000_000 || c.At <= 0 {
		return nil, domainErr(ErrInvalid, "signal count and time")
	}
	p, err := storedPhone(tx, c.PhoneNumberID)
	if err != nil {
		return nil, err
	}
	day := Day(c.At)
	var seenKey []byte
	if c.DeliveryRef != "" {
		seenKey = []byte(c.PhoneNumberID + "\x00" + day + "\x00" + c.DeliveryRef)
		// The seen keys hold empty values, which bbolt's Get reports as
		// absent (nil) while they are still in this transaction: a batch
		// holding the delivery twice would count it twice on one replica
		// and once on another. A cursor sees the key either way.
		if k, _ := tx.Bucket(bucketIntegritySeen).Cursor().Seek(seenKey); bytes.Equal(k, seenKey) {
			return nil, domainErr(ErrConflict, "signal delivery")
		}
	}
	// Every precondition held: write.
	if seenKey != nil {
		pruneIntegritySeen(tx, c.PhoneNumberID, Day(c.At-reachHorizon))
		mustPut(tx, bucketIntegritySeen, seenKey, nil)
	}
	k := integrityKey(c.PhoneNumberID, day, c.Kind)
	mustPut(tx, bucketIntegrity, k, be64(counter(tx.Bucket(bucketIntegrity), k)+int64(c.Count)))

	reached := distinctPrune(tx, f.sets, f.floors, setReach, c.PhoneNumberID, c.At-reachHorizon)
	rating := deriveQuality(tx, c.PhoneNumberID, c.At, reached)
	res := IntegrityResult{Rating: rating}
	if rating != QualityOf(p) {
		res.Changed = true
		p.QualityRating = rating
		mustPut(tx, bucketPhones, []byte(p.ID), marshal(p))
		if ev := c.Events.of(rating); ev != nil {
			e := *ev
			e.PhoneNumberID = p.ID
			enqueue(tx, p.WABAID, p.BusinessID, &e)
		}
	}
	return marshal(res), nil
}

// pruneIntegritySeen drops a number's delivery dedupe keys of days before
// beforeDay (keys sort by day).
func pruneIntegritySeen(tx *bolt.Tx, phoneID, beforeDay string) {
	prefix := []byte(phoneID + "\x00")
	end := []byte(phoneID + "\x00" + beforeDay)
	var stale [][]byte
	c := tx.Bucket(bucketIntegritySeen).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && bytes.Compare(k, end) < 0; k, _ = c.Next() {
		stale = append(stale, bytes.Clone(k))
	}
	for _, k := range stale {
		mustDelete(tx, bucketIntegritySeen, k)
	}
}

// integrityWindow sums a number's signals of kind over the IntegrityDays
// days ending with the day of at.
func integrityWindow(tx *bolt.Tx, phoneID string, at int64, kind string) int64 {
	b := tx.Bucket(bucketIntegrity)
	var n int64
	for d := 0; d < IntegrityDays; d++ {
		n += counter(b, integrityKey(phoneID, Day(at-int64(d)*24*60*60*1000), kind))
	}
	return n
}

// deriveQuality computes the rating from the window's signals and reach.
func deriveQuality(tx *bolt.Tx, phoneID string, at, reached int64) string {
	spam := integrityWindow(tx, phoneID, at, SignalSpamReport)
	neg := spam + integrityWindow(tx, phoneID, at, SignalBlock) - integrityWindow(tx, phoneID, at, SignalUnblock)
	if neg < spam {
		neg = spam
	}
	if reached < 1 {
		reached = 1
	}
	switch {
	case neg >= QualityMinSignals && neg*100 >= QualityRedPercent*reached:
		return QualityRed
	case neg >= QualityMinSignals && neg*100 >= QualityYellowPercent*reached:
		return QualityYellow
	}
	return QualityGreen
}

// IntegrityRow is one integrity counter.
type IntegrityRow struct {
	PhoneNumberID string `json:"phone_number_id"`
	Day           string `json:"day"`
	Kind          string `json:"kind"`
	Count         int64  `json:"count"`
}

// Integrity returns a number's integrity counters from day from to day to
// (inclusive, YYYY-MM-DD; "" leaves a side open).
func (f *FSM) Integrity(phoneID, from, to string) ([]IntegrityRow, error) {
	var out []IntegrityRow
	err := f.View(func(tx *bolt.Tx) error {
		prefix := []byte(phoneID + "\x00")
		c := tx.Bucket(bucketIntegrity).Cursor()
		for k, v := c.Seek(append(bytes.Clone(prefix), from...)); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			parts := bytes.Split(k[len(prefix):], []byte{0})
			if len(parts) != 2 || len(v) != 8 {
				continue
			}
			if to != "" && string(parts[0]) > to {
				break
			}
			out = append(out, IntegrityRow{PhoneNumberID: phoneID, Day: string(parts[0]), Kind: string(parts[1]),
				Count: int64(beUint64(v))})
		}
		return nil
	})
	return out, err
}

// DecodeIntegrityResult decodes CmdRecordIntegrity's Result.Value.
func DecodeIntegrityResult(v []byte) (IntegrityResult, error) {
	var r IntegrityResult
	if err := unmarshal(v, &r); err != nil {
		return r, fmt.Errorf("%w: integrity result: %v", ErrCorrupt, err)
	}
	return r, nil
}
