package raftfsm

import (
	"encoding/json"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// Button clicks in template analytics (issue 14): Meta's
// template_analytics reports, per template and day, how often each of its
// buttons was clicked (clicked: [{type, button_content, count}],
// https://developers.facebook.com/docs/whatsapp/business-management-api/analytics#template-analytics).
// waedge observes a quick-reply click as an inbound reply button whose
// context names a template message it sent. The inbound message is
// committed by the connector's round (its wire encoding has no room for
// more); once it is, the connector proposes CmdTemplateClick naming the
// tap and the template message it answers, and Apply counts it — once per
// tap, on the tap's own day, and only when the text is one of the
// template's own QUICK_REPLY buttons, so a counter never holds what a
// consumer typed (invariant 4). URL-button clicks go from the consumer's
// phone to the web site, not through waedge, and are not counted.

// CmdTemplateClick counts a quick-reply click of a template message.
// Ignorable: an older replica skips it (its template analytics then miss
// the click; nothing else depends on it).
const CmdTemplateClick = FlagIgnorable | 152

// ClickQuickReply is the click type of a quick-reply button, as Meta's
// template_analytics names it.
const ClickQuickReply = "quick_reply_button"

// templateClickMetric prefixes a click counter's metric: + click type +
// "/" + button text.
const templateClickMetric = "clicked/"

// TemplateClick is the payload of CmdTemplateClick.
type TemplateClick struct {
	PhoneNumberID string
	// IDRef is the tap's own inbound message (MessageIDRef of its wamid).
	IDRef string
	// ContextIDRef is the template message the tap answers.
	ContextIDRef string
	// Button is the tapped button's text.
	Button string
}

// clickedMark is the bucketTemplateMsgs value under an inbound tap's key:
// the tap was counted (it has no WABA 0 template, so status counting
// ignores it; expiry deletes it with the message).
var clickedMark = []byte("clicked")

func (f *FSM) applyTemplateClick(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c TemplateClick
	decode(payload, &c)
	pk, v := lookupMessage(tx, c.PhoneNumberID, c.IDRef)
	if pk == nil {
		return nil, domainErr(ErrNotFound, "message")
	}
	in := mustDecodeMessage(pk, v)
	if in.PhoneNumberID != c.PhoneNumberID || in.Direction != DirectionIn {
		return nil, domainErr(ErrNotFound, "message")
	}
	if tx.Bucket(bucketTemplateMsgs).Get(pk) != nil {
		return nil, nil // this tap was counted
	}
	opk, _ := lookupMessage(tx, c.PhoneNumberID, c.ContextIDRef)
	if opk == nil {
		return nil, nil // the template message expired, or never was ours
	}
	tag := tx.Bucket(bucketTemplateMsgs).Get(opk)
	i := strings.IndexByte(string(tag), 0)
	if i < 0 {
		return nil, nil // not a counted template message
	}
	waba, tplID := string(tag[:i]), string(tag[i+1:])
	_, t, err := templateTx(tx, tplID)
	if err != nil || !hasQuickReply(t.Components, c.Button) {
		return nil, nil
	}
	b := f.batch
	if b.tstats == nil {
		b.tstats = map[string]int64{}
	}
	b.tstats[string(templateStatKey(waba, tplID, b.dayOf(in.CreatedAt), templateClickMetric+ClickQuickReply+"/"+c.Button))]++
	mustPut(tx, bucketTemplateMsgs, pk, clickedMark)
	return nil, nil
}

// hasQuickReply reports whether the template's components (JSON) have a
// QUICK_REPLY button with the text text, also on a carousel card.
func hasQuickReply(components []byte, text string) bool {
	if text == "" {
		return false
	}
	type button struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	type component struct {
		Type    string   `json:"type"`
		Buttons []button `json:"buttons"`
		Cards   []struct {
			Components []component `json:"components"`
		} `json:"cards"`
	}
	var cs []component
	if json.Unmarshal(components, &cs) != nil {
		return false
	}
	var walk func([]component) bool
	walk = func(cs []component) bool {
		for _, c := range cs {
			for _, b := range c.Buttons {
				if strings.EqualFold(b.Type, "QUICK_REPLY") && b.Text == text {
					return true
				}
			}
			for _, card := range c.Cards {
				if walk(card.Components) {
					return true
				}
			}
		}
		return false
	}
	return walk(cs)
}

// TemplateClickOf splits a template analytics metric into a click type
// and button text (ok false: not a click counter).
func TemplateClickOf(metric string) (typ, button string, ok bool) {
	rest, ok := strings.CutPrefix(metric, templateClickMetric)
	if !ok {
		return "", "", false
	}
	return strings.Cut(rest, "/")
}
