package raftfsm

import bolt "go.etcd.io/bbolt"

// failClosedWindow stores a free-form message sent outside the 24-hour
// window as failed and queues the proposer's 131047 status webhook
// (AcceptMessage.ClosedWindowEvent; also the 131048 / 131050 webhook of
// CmdAcceptFailedMessage). It never reaches the connector.
// Meta: "If you send a message outside the window … the message will fail
// and a status webhook with error code 131047 is sent"
// (https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes).
func (b *applyBatch) failClosedWindow(p *Phone, c *AcceptMessage, category string) {
	putMessage(b.tx, &Message{
		Key: c.Key, IDRef: c.IDRef, IDSealed: c.IDSealed, PhoneNumberID: c.PhoneNumberID, BusinessID: c.BusinessID,
		PeerRef: c.PeerRef, PeerSealed: c.PeerSealed,
		Direction: DirectionOut, Type: c.Type, Content: c.Content, CallbackSealed: c.CallbackSealed,
		Status: StatusFailed, CreatedAt: c.CreatedAt, UpdatedAt: c.CreatedAt, Category: category,
	})
	b.bumpStat(c.PhoneNumberID, c.CreatedAt, DirectionOut, c.Type, StatusAccepted, category)
	b.bumpStat(c.PhoneNumberID, c.CreatedAt, DirectionOut, c.Type, StatusFailed, category)
	ev := *c.ClosedWindowEvent
	ev.PhoneNumberID = c.PhoneNumberID
	enqueueInOrder(b.tx, p.WABAID, p.BusinessID, &ev, c.IDRef)
}

// WindowOpen reports whether the customer service window of the consumer
// peerRef with the number phoneID is open at at (unix ms), as this
// replica sees it. The proposer uses it to decide whether to attach a
// ClosedWindowEvent; Apply decides again on the committed state.
func (f *FSM) WindowOpen(phoneID, peerRef string, at int64) bool {
	return f.Recipient(phoneID, peerRef, at).WindowOpen
}

// AcceptFailedMessage is the payload of CmdAcceptFailedMessage: an
// outbound message the platform accepts (200 with its wamid) and then
// fails at once, reported by Event, the proposer's sealed failed status
// webhook — as Meta reports 131048 (spam rate limit) and 131050 (the user
// stopped marketing messages): asynchronously, in statuses[].errors[]
// (https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes/).
// The message is stored as failed and never reaches the connector.
type AcceptFailedMessage struct {
	Message AcceptMessage
	Event   *OutboxEvent
}

func (f *FSM) applyAcceptFailedMessage(_ *bolt.Tx, payload []byte) ([]byte, error) {
	var c AcceptFailedMessage
	decode(payload, &c)
	b := f.batch
	m := &c.Message
	if len(m.Key) != messageKeyLen || m.IDRef == "" || m.PeerRef == "" || m.Type == "" || c.Event == nil {
		return nil, domainErr(ErrInvalid, "message key, id, recipient, type and status webhook are required")
	}
	p := b.phone(m.PhoneNumberID)
	if p == nil || p.BusinessID != m.BusinessID {
		return nil, domainErr(ErrNotFound, "phone number")
	}
	if messageTaken(b.tx, m.PhoneNumberID, m.IDRef, m.Key, bucketSignalPending, bucketSignalEnvelopes) {
		return nil, domainErr(ErrConflict, "message id")
	}
	category := CategoryService
	if m.Type == "template" {
		category = b.category(p.WABAID, m.TemplateName, m.TemplateLanguage)
	}
	m.ClosedWindowEvent = c.Event
	b.failClosedWindow(p, m, category)
	return nil, nil
}
