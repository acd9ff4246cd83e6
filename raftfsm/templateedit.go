package raftfsm

import (
	"slices"

	bolt "go.etcd.io/bbolt"
)

// Meta's limits on editing an approved template
// (https://developers.facebook.com/docs/whatsapp/business-management-api/message-templates#edit-a-message-template):
// once in 24 hours, 10 times in 30 days. Rejected and paused templates
// may be edited without limit; pending and disabled ones not at all.
const (
	editWindowDay   = 24 * 60 * 60 * 1000
	editWindowMonth = 30 * editWindowDay
	maxEditsMonth   = 10
)

// EditTemplate is the payload of CmdEditTemplate: the template's new
// definition (category, components and what they take), checked by the
// proposer. Like SubmitTemplate, the proposer seals both possible
// message_template_status_update events and Apply queues the one the
// WABA's review policy picks. Result.Value is the new status.
type EditTemplate struct {
	ID               string
	BusinessID       string
	Category         string
	Components       []byte
	BodyParams       int
	HeaderParams     int
	ParameterFormat  string
	BodyParamNames   []string
	HeaderParamNames []string
	TTLSeconds       int
	At               int64
	Approved         *OutboxEvent
	Rejected         *OutboxEvent
}

func (f *FSM) applyEditTemplate(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c EditTemplate
	decode(payload, &c)
	key, t, err := templateTx(tx, c.ID)
	if err != nil || t.BusinessID != c.BusinessID {
		return nil, domainErr(ErrNotFound, "template")
	}
	var w WABA
	decode(tx.Bucket(bucketWABAs).Get([]byte(t.WABAID)), &w)
	switch t.Status {
	case "APPROVED":
		if c.Category != t.Category {
			return nil, domainErr(ErrInvalid, "the category of an approved template cannot be edited")
		}
		t.EditLog = slices.DeleteFunc(t.EditLog, func(at int64) bool { return c.At-at >= editWindowMonth })
		if len(t.EditLog) >= maxEditsMonth || (len(t.EditLog) > 0 && c.At-t.EditLog[len(t.EditLog)-1] < editWindowDay) {
			return nil, domainErr(ErrRateLimited, "an approved template may be edited once in 24 hours and %d times in 30 days", maxEditsMonth)
		}
		t.EditLog = append(t.EditLog, c.At)
	case "REJECTED", "PAUSED":
	default:
		return nil, domainErr(ErrInvalid, "a %s template cannot be edited", t.Status)
	}
	t.Category, t.Components, t.BodyParams, t.HeaderParams = c.Category, c.Components, c.BodyParams, c.HeaderParams
	t.ParameterFormat, t.BodyParamNames, t.HeaderParamNames = c.ParameterFormat, c.BodyParamNames, c.HeaderParamNames
	t.MessageSendTTLSeconds, t.Reason, t.UpdatedAt = c.TTLSeconds, "", c.At
	status, ev := review(w, c.Approved, c.Rejected)
	t.Status = status
	mustPut(tx, bucketTemplates, key, marshal(t))
	if ev != nil {
		enqueue(tx, t.WABAID, t.BusinessID, ev)
	}
	return []byte(status), nil
}
