package raftfsm

// failClosedWindow stores a free-form message sent outside the 24-hour
// window as failed and queues the proposer's 131047 status webhook
// (AcceptMessage.ClosedWindowEvent). It never reaches the connector.
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
