package raftfsm

import (
	"bytes"

	bolt "go.etcd.io/bbolt"
)

// Template is a stored message template.
type Template struct {
	ID           string
	WABAID       string
	BusinessID   string
	Name         string
	Language     string
	Category     string
	Components   []byte // the definition's components, JSON
	BodyParams   int    // how many parameters the body text takes
	HeaderParams int    // how many the header text takes (0 or 1)
	// ParameterFormat is POSITIONAL ("" in records of older versions) or
	// NAMED; for NAMED, BodyParamNames and HeaderParamNames are the
	// parameters' names.
	ParameterFormat  string
	BodyParamNames   []string
	HeaderParamNames []string
	Status           string // PENDING, APPROVED, REJECTED, PAUSED, DISABLED
	Reason           string
	CreatedAt        int64
	UpdatedAt        int64
	// MessageSendTTLSeconds is the definition's message_send_ttl_seconds
	// (0: the platform default). Omitted when zero, like EditLog, so
	// records of older versions keep their bytes.
	MessageSendTTLSeconds int `codec:",omitempty"`
	// EditLog holds when the template was edited while approved, within
	// the last 30 days (unix ms), for Meta's edit limits.
	EditLog []int64 `codec:",omitempty"`
	// QualityScore is GREEN, YELLOW, RED or "" (UNKNOWN: not rated yet),
	// set by CmdSetTemplateQuality. Omitted when empty.
	QualityScore string `codec:",omitempty"`
}

// CreateTemplate is the payload of CmdCreateTemplate.
type CreateTemplate struct{ Template Template }

// Template review policies of a WABA (WABA.TemplateReview): what happens
// to a template that passed validation.
const (
	// ReviewApprove approves it at once (the default).
	ReviewApprove = "approve"
	// ReviewManual leaves it PENDING until an admin decides
	// (CmdSetTemplateStatus).
	ReviewManual = "manual"
	// ReviewReject rejects it at once.
	ReviewReject = "reject"
)

// ValidReview reports whether p is a review policy.
func ValidReview(p string) bool { return p == ReviewApprove || p == ReviewManual || p == ReviewReject }

// SetTemplateReview is the payload of CmdSetTemplateReview.
type SetTemplateReview struct {
	WABAID string
	Policy string
}

// SubmitTemplate is the payload of CmdSubmitTemplate. Apply alone knows
// the WABA's policy at that point of the log, so the proposer seals both
// possible message_template_status_update events; Apply queues the one
// that matches (none while PENDING). Result.Value is the new status.
type SubmitTemplate struct {
	Template Template
	Approved *OutboxEvent
	Rejected *OutboxEvent
}

// SetTemplateStatus is the payload of CmdSetTemplateStatus; Event is the
// message_template_status_update webhook, queued if the WABA subscribes.
type SetTemplateStatus struct {
	ID     string
	Status string
	Reason string
	At     int64
	Event  *OutboxEvent
}

// DeleteTemplates is the payload of CmdDeleteTemplates: every language of
// Name (or only template ID when given) in the WABA.
type DeleteTemplates struct {
	WABAID     string
	BusinessID string
	Name       string
	ID         string
}

func (f *FSM) applyCreateTemplate(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c CreateTemplate
	decode(payload, &c)
	if _, err := checkNewTemplate(tx, c.Template); err != nil {
		return nil, err
	}
	putTemplate(tx, c.Template, "PENDING")
	return nil, nil
}

func (f *FSM) applySubmitTemplate(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c SubmitTemplate
	decode(payload, &c)
	w, err := checkNewTemplate(tx, c.Template)
	if err != nil {
		return nil, err
	}
	status, ev := review(w, c.Approved, c.Rejected)
	putTemplate(tx, c.Template, status)
	if ev != nil {
		enqueue(tx, w.ID, w.BusinessID, ev)
	}
	return []byte(status), nil
}

// review applies a WABA's review policy to a template that passed
// validation: its status and the status event to queue (none while
// pending).
func review(w WABA, approved, rejected *OutboxEvent) (string, *OutboxEvent) {
	switch w.TemplateReview {
	case ReviewManual:
		return "PENDING", nil
	case ReviewReject:
		return "REJECTED", rejected
	}
	return "APPROVED", approved
}

// templateTx reads a template by id inside Apply, with its record key.
func templateTx(tx *bolt.Tx, id string) ([]byte, Template, error) {
	var t Template
	key := tx.Bucket(bucketTemplateIDs).Get([]byte(id))
	if key == nil {
		return nil, t, domainErr(ErrNotFound, "template")
	}
	key = bytes.Clone(key)
	decode(tx.Bucket(bucketTemplates).Get(key), &t)
	return key, t, nil
}

// checkNewTemplate checks that t can be added: ids, its WABA of its
// business, and no template of that name and language yet.
func checkNewTemplate(tx *bolt.Tx, t Template) (WABA, error) {
	var w WABA
	if t.ID == "" || t.Name == "" || t.Language == "" {
		return w, domainErr(ErrInvalid, "template id, name and language are required")
	}
	v := tx.Bucket(bucketWABAs).Get([]byte(t.WABAID))
	if v == nil {
		return w, domainErr(ErrNotFound, "waba")
	}
	decode(v, &w)
	if w.BusinessID != t.BusinessID {
		return w, domainErr(ErrNotFound, "waba")
	}
	if tx.Bucket(bucketTemplates).Get(templateKey(t.WABAID, t.Name, t.Language)) != nil ||
		tx.Bucket(bucketTemplateIDs).Get([]byte(t.ID)) != nil {
		return w, domainErr(ErrConflict, "template %s (%s) exists", t.Name, t.Language)
	}
	return w, nil
}

// putTemplate stores a checked new template with its first status.
func putTemplate(tx *bolt.Tx, t Template, status string) {
	key := templateKey(t.WABAID, t.Name, t.Language)
	t.Status, t.UpdatedAt = status, t.CreatedAt
	mustPut(tx, bucketTemplates, key, marshal(t))
	mustPut(tx, bucketTemplateIDs, []byte(t.ID), key)
}

func (f *FSM) applySetTemplateReview(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c SetTemplateReview
	decode(payload, &c)
	if !ValidReview(c.Policy) {
		return nil, domainErr(ErrInvalid, "review policy %q", c.Policy)
	}
	return nil, updateRecord(tx, bucketWABAs, c.WABAID, "waba", func(w *WABA) { w.TemplateReview = c.Policy })
}

func (f *FSM) applySetTemplateStatus(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c SetTemplateStatus
	decode(payload, &c)
	if c.Status != "APPROVED" && c.Status != "REJECTED" && c.Status != "PAUSED" && c.Status != "DISABLED" {
		return nil, domainErr(ErrInvalid, "status %q", c.Status)
	}
	key, t, err := templateTx(tx, c.ID)
	if err != nil {
		return nil, err
	}
	t.Status, t.Reason, t.UpdatedAt = c.Status, c.Reason, c.At
	mustPut(tx, bucketTemplates, key, marshal(t))
	if c.Event != nil {
		enqueue(tx, t.WABAID, t.BusinessID, c.Event)
	}
	return nil, nil
}

func (f *FSM) applyDeleteTemplates(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c DeleteTemplates
	decode(payload, &c)
	prefix := []byte(c.WABAID + "\x00" + c.Name + "\x00")
	var keys [][]byte
	var ids []string
	cur := tx.Bucket(bucketTemplates).Cursor()
	for k, v := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = cur.Next() {
		var t Template
		decode(v, &t)
		if t.BusinessID != c.BusinessID || (c.ID != "" && t.ID != c.ID) {
			continue
		}
		keys = append(keys, bytes.Clone(k))
		ids = append(ids, t.ID)
	}
	if len(keys) == 0 {
		return nil, domainErr(ErrNotFound, "template")
	}
	for i, k := range keys {
		mustDelete(tx, bucketTemplates, k)
		mustDelete(tx, bucketTemplateIDs, []byte(ids[i]))
	}
	return nil, nil
}

// TemplateByID returns a template.
func (f *FSM) TemplateByID(id string) (Template, error) {
	var t Template
	err := f.View(func(tx *bolt.Tx) error {
		key := tx.Bucket(bucketTemplateIDs).Get([]byte(id))
		if key == nil {
			return ErrNotFound
		}
		return unmarshal(tx.Bucket(bucketTemplates).Get(key), &t)
	})
	return t, err
}

// TemplateByName returns the template of a WABA by name and language.
func (f *FSM) TemplateByName(wabaID, name, lang string) (Template, error) {
	m := f.model()
	if m == nil {
		return Template{}, ErrClosed
	}
	m.mu.RLock()
	rec, ok := m.templates.entries[wabaID+"\x00"+name+"\x00"+lang] // templateKey
	m.mu.RUnlock()
	if !ok {
		return Template{}, ErrNotFound
	}
	return cloneTemplate(rec.val), rec.err
}

// Templates returns a WABA's templates in name/language order.
func (f *FSM) Templates(wabaID string) ([]Template, error) {
	var out []Template
	err := f.View(func(tx *bolt.Tx) error {
		prefix := []byte(wabaID + "\x00")
		cur := tx.Bucket(bucketTemplates).Cursor()
		for k, v := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = cur.Next() {
			var t Template
			if err := unmarshal(v, &t); err != nil {
				return err
			}
			out = append(out, t)
		}
		return nil
	})
	return out, err
}
