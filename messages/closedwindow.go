package messages

import (
	"context"
	"time"

	"github.com/waedge/waedge/cloudapi"
	"github.com/waedge/waedge/graph"
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
	ev, err := s.failedEvent(ctx, t, acc, wamid, waID, callback, retention, cloudapi.ErrReEngagement)
	if err != nil {
		return nil, err
	}
	acc.ClosedWindowEvent = ev
	return raftfsm.EncodeCommand(raftfsm.CmdAcceptMessage, acc)
}

// failedCommand returns the accept command of a send the platform accepts
// and then fails with cause (131048, 131049, 131050): the message is stored as
// failed and its failed status webhook, built and sealed here, is queued
// by the same command (raftfsm.CmdAcceptFailedMessage). Meta reports these
// in statuses[].errors[] of the messages webhook, not in the send's answer
// (https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes/:
// errors come "synchronously … asynchronously via Webhook, or sometimes
// through both"; docs/cloud-api.md §1.4).
func (s *Service) failedCommand(ctx context.Context, t raftfsm.Tenant, acc raftfsm.AcceptMessage, wamid, waID, callback string, retention time.Duration, cause *graph.Error) ([]byte, error) {
	ev, err := s.failedEvent(ctx, t, acc, wamid, waID, callback, retention, cause)
	if err != nil {
		return nil, err
	}
	return raftfsm.EncodeCommand(raftfsm.CmdAcceptFailedMessage, raftfsm.AcceptFailedMessage{Message: acc, Event: ev})
}

// failedEvent builds and seals the failed status webhook of an accepted
// message that fails with cause.
func (s *Service) failedEvent(ctx context.Context, t raftfsm.Tenant, acc raftfsm.AcceptMessage, wamid, waID, callback string, retention time.Duration, cause *graph.Error) (*raftfsm.OutboxEvent, error) {
	ev := cloudapi.StatusEvent{MessageID: wamid, RecipientID: waID, At: acc.CreatedAt / 1000, CallbackData: callback}
	md := cloudapi.Metadata{DisplayPhoneNumber: cloudapi.NormalizePhone(t.DisplayPhoneNumber), PhoneNumberID: t.PhoneNumberID}
	body, err := cloudapi.MarshalASCII(cloudapi.StatusNotification(t.WABAID, md, cloudapi.FailedStatus(ev, cause)))
	if err != nil {
		return nil, err
	}
	sealed, err := s.d.Sealer.SealFor(ctx, retention, raftfsm.WebhookAAD(t.WABAID), body)
	if err != nil {
		return nil, err
	}
	return &raftfsm.OutboxEvent{Key: s.Key(), Body: sealed, CreatedAt: acc.CreatedAt, PhoneNumberID: t.PhoneNumberID}, nil
}
