package messages

import (
	"context"
	"time"

	"github.com/waedge/waedge/cloudapi"
	"github.com/waedge/waedge/raftfsm"
)

// closedWindowCommand returns the accept command of a free-form message
// to a consumer whose 24-hour window is closed: as on Meta's Cloud API the
// send is accepted (200 with its wamid) and the message then fails with
// 131047, reported by a status webhook
// (https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes).
// The webhook is built and sealed here, on the proposer, and queued by the
// state machine only if the window is still closed when the command
// applies (otherwise the message is sent as usual). The msgpack command
// carries it; the hot encoding has no room for it and does not need it.
func (s *Service) closedWindowCommand(ctx context.Context, t raftfsm.Tenant, acc raftfsm.AcceptMessage, wamid, waID, callback string, retention time.Duration) ([]byte, error) {
	ev := cloudapi.StatusEvent{MessageID: wamid, RecipientID: waID, At: acc.CreatedAt / 1000, CallbackData: callback}
	md := cloudapi.Metadata{DisplayPhoneNumber: cloudapi.NormalizePhone(t.DisplayPhoneNumber), PhoneNumberID: t.PhoneNumberID}
	body, err := cloudapi.MarshalASCII(cloudapi.StatusNotification(t.WABAID, md, cloudapi.FailedStatus(ev, cloudapi.ErrReEngagement)))
	if err != nil {
		return nil, err
	}
	sealed, err := s.d.Sealer.SealFor(ctx, retention, raftfsm.WebhookAAD(t.WABAID), body)
	if err != nil {
		return nil, err
	}
	acc.ClosedWindowEvent = &raftfsm.OutboxEvent{Key: s.Key(), Body: sealed, CreatedAt: acc.CreatedAt, PhoneNumberID: t.PhoneNumberID}
	return raftfsm.EncodeCommand(raftfsm.CmdAcceptMessage, acc)
}
