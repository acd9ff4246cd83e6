package raftfsm

import (
	"bytes"

	bolt "go.etcd.io/bbolt"
)

// Template analytics (issue 14): per template and UTC day, how many of its
// messages were sent, delivered and read, as Meta's
// GET /{waba-id}/template_analytics reports them
// (https://developers.facebook.com/docs/whatsapp/business-management-api/analytics#template-analytics).
//
// Counting starts when the WABA confirms template analytics
// (CmdEnableTemplateInsights; Meta too serves them only after that
// confirmation): until then template messages cost nothing extra. The accept command names the template
// (TemplateName, TemplateLanguage) but the status commands only name the
// message, so the accept of a template message of a confirmed WABA also
// writes one bucketTemplateMsgs entry under the message's own key
// (phone | time-ordered message key: an append, not a random write)
// naming the WABA and template. A status that moves a
// template message reads that entry and adds to the (template, day,
// metric) counters of the batch, written once per batch by flush, as
// the statistics counters are (batch.go). Expiry deletes the entry with
// its message; the counters stay, like the statistics.

// Template analytics metrics, the keys of the counters.
const (
	TemplateMetricSent      = "sent"
	TemplateMetricDelivered = "delivered"
	TemplateMetricRead      = "read"
)

// tagTemplateMessage records which template an accepted message uses.
func tagTemplateMessage(tx *bolt.Tx, phoneID string, key []byte, wabaID, templateID string) {
	v := make([]byte, 0, len(wabaID)+1+len(templateID))
	v = append(append(append(v, wabaID...), 0), templateID...)
	mustPut(tx, bucketTemplateMsgs, messageKey(phoneID, key), v)
}

// templateStatKey is a bucketTemplateStats counter key.
func templateStatKey(wabaID, templateID, day, metric string) []byte {
	k := make([]byte, 0, len(wabaID)+len(templateID)+len(day)+len(metric)+3)
	k = append(append(k, wabaID...), 0)
	k = append(append(k, templateID...), 0)
	k = append(append(k, day...), 0)
	return append(k, metric...)
}

// templateInsightsKey marks a WABA that confirmed template analytics.
func templateInsightsKey(wabaID string) []byte { return append([]byte(wabaID), 0) }

// bumpTemplateStats counts a template message's status change from old to
// new (pk: its bucketMessages key) the way bumpStatusStats counts the
// statistics: each of sent, delivered, read crossed counts once.
// Messages accepted before template analytics existed have no entry and
// count nothing.
func (b *applyBatch) bumpTemplateStats(pk []byte, old, new string, at int64) {
	if new == StatusFailed {
		return
	}
	v := b.tx.Bucket(bucketTemplateMsgs).Get(pk)
	i := bytes.IndexByte(v, 0)
	if i < 0 {
		return
	}
	waba, tpl := string(v[:i]), string(v[i+1:])
	for _, st := range []string{StatusSent, StatusDelivered, StatusRead} {
		if statusRank(st) > statusRank(old) && statusRank(st) <= statusRank(new) {
			if b.tstats == nil {
				b.tstats = map[string]int64{}
			}
			b.tstats[string(templateStatKey(waba, tpl, b.dayOf(at), st))]++
		}
	}
}

// EnableTemplateInsights is the payload of CmdEnableTemplateInsights: the
// WABA confirms template analytics (Meta: is_enabled_for_insights, which
// cannot be turned off again). Confirming twice keeps the first time.
type EnableTemplateInsights struct {
	WABAID     string
	BusinessID string
	At         int64
}

func (f *FSM) applyEnableTemplateInsights(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c EnableTemplateInsights
	decode(payload, &c)
	if _, err := ownedRecord(tx, bucketWABAs, c.WABAID, c.BusinessID, "waba", func(w *WABA) string { return w.BusinessID }); err != nil {
		return nil, err
	}
	if c.At <= 0 {
		return nil, domainErr(ErrInvalid, "time")
	}
	k := templateInsightsKey(c.WABAID)
	if tx.Bucket(bucketTemplateStats).Get(k) == nil {
		mustPut(tx, bucketTemplateStats, k, be64(c.At))
	}
	return nil, nil
}

// TemplateInsightsEnabled reports whether the WABA confirmed template
// analytics.
func (f *FSM) TemplateInsightsEnabled(wabaID string) bool {
	var ok bool
	_ = f.View(func(tx *bolt.Tx) error {
		ok = tx.Bucket(bucketTemplateStats).Get(templateInsightsKey(wabaID)) != nil
		return nil
	})
	return ok
}

// TemplateStatRow is one template analytics counter.
type TemplateStatRow struct {
	TemplateID string
	Day        string // YYYY-MM-DD, UTC
	Metric     string // TemplateMetric…
	Count      int64
}

// TemplateStats returns the counters of the WABA's templates ids for the
// days from through to (YYYY-MM-DD, both included), ordered by template
// (as given), day and metric.
func (f *FSM) TemplateStats(wabaID string, ids []string, from, to string) ([]TemplateStatRow, error) {
	var rows []TemplateStatRow
	err := f.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketTemplateStats).Cursor()
		for _, id := range ids {
			prefix := templateStatKey(wabaID, id, "", "")
			prefix = prefix[:len(prefix)-1] // waba 0 id 0
			for k, v := c.Seek(append(bytes.Clone(prefix), from...)); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
				rest := k[len(prefix):]
				i := bytes.IndexByte(rest, 0)
				if i < 0 || len(v) != 8 {
					continue
				}
				day := string(rest[:i])
				if day > to {
					break
				}
				rows = append(rows, TemplateStatRow{TemplateID: id, Day: day, Metric: string(rest[i+1:]), Count: int64(beUint64(v))})
			}
		}
		return nil
	})
	return rows, err
}
