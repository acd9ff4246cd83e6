package seal

import (
	"context"
	"time"

	"github.com/waedge/waedge/raftfsm"
)

// The sealing recipe of a message (issue 12, item 7): which field is
// sealed under which additional data. The API's send path and the
// connector's inbound path both seal with SealMessage, and everything that
// opens a stored message (the connector, the consumer views) opens with
// the functions below, so the conventions exist once:
//
//	content                  aad = the wamid
//	wamid (IDSealed)         aad = raftfsm.IDAAD(MessageIDRef(wamid))
//	consumer number (Peer)   aad = raftfsm.PeerAAD(wamid)
//	callback data            aad = raftfsm.CallbackAAD(wamid)
//	network envelope         aad = EnvelopeAAD(wamid)
//
// All of them are sealed under the data key of the phone's retention
// class, so they die with the message (invariants 5 and 6).

// SealingKeys is what sealing a message needs: *Sealer, or a narrow
// interface of it.
type SealingKeys interface {
	SealFor(ctx context.Context, retention time.Duration, aad, pt []byte) ([]byte, error)
}

// OpeningKeys is what opening a message needs.
type OpeningKeys interface {
	Open(aad, sealed []byte) ([]byte, error)
}

// Message is a message's private fields in sealed form, as stored
// (raftfsm.AcceptMessage, raftfsm.RecordInbound, raftfsm.Message).
type Message struct {
	IDRef    string // raftfsm.MessageIDRef(wamid): the only clear form of the id
	ID       []byte // the wamid (IDSealed)
	Peer     []byte // the consumer's number (PeerSealed)
	Content  []byte // the stored content
	Callback []byte // biz_opaque_callback_data (CallbackSealed); nil when there is none
}

// SealMessage seals a message's wamid, consumer number, content and
// callback data ("" for none) under retention's data key.
func SealMessage(ctx context.Context, k SealingKeys, retention time.Duration, wamid, peer string, content []byte, callback string) (Message, error) {
	m := Message{IDRef: raftfsm.MessageIDRef(wamid)}
	id := []byte(wamid) // the content's AAD and the id's plaintext: neither is written to
	var err error
	if m.Content, err = k.SealFor(ctx, retention, id, content); err != nil {
		return Message{}, err
	}
	if m.Peer, err = k.SealFor(ctx, retention, raftfsm.PeerAAD(wamid), []byte(peer)); err != nil {
		return Message{}, err
	}
	if m.ID, err = k.SealFor(ctx, retention, raftfsm.IDAAD(m.IDRef), id); err != nil {
		return Message{}, err
	}
	if callback != "" {
		if m.Callback, err = k.SealFor(ctx, retention, raftfsm.CallbackAAD(wamid), []byte(callback)); err != nil {
			return Message{}, err
		}
	}
	return m, nil
}

// OpenID opens a stored message's wamid.
func OpenID(k OpeningKeys, m raftfsm.Message) (string, error) {
	b, err := k.Open(raftfsm.IDAAD(m.IDRef), m.IDSealed)
	return string(b), err
}

// OpenPeer opens a stored message's consumer number (wamid from OpenID).
func OpenPeer(k OpeningKeys, m raftfsm.Message, wamid string) (string, error) {
	b, err := k.Open(raftfsm.PeerAAD(wamid), m.PeerSealed)
	return string(b), err
}

// OpenContent opens a stored message's content.
func OpenContent(k OpeningKeys, m raftfsm.Message, wamid string) ([]byte, error) {
	return k.Open([]byte(wamid), m.Content)
}

// OpenCallback opens a stored message's biz_opaque_callback_data ("" when
// it has none).
func OpenCallback(k OpeningKeys, m raftfsm.Message, wamid string) (string, error) {
	if len(m.CallbackSealed) == 0 {
		return "", nil
	}
	b, err := k.Open(raftfsm.CallbackAAD(wamid), m.CallbackSealed)
	return string(b), err
}

// EnvelopeAAD is the additional data a message's network envelope is
// sealed with in the envelope outbox.
func EnvelopeAAD(wamid string) []byte { return []byte("envelope\x00" + wamid) }
