package web

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/waedge/waedge/egress"
	"github.com/waedge/waedge/graph"
	"github.com/waedge/waedge/raftfsm"
	"github.com/waedge/waedge/testevent"
)

// testEventTimeout bounds one test delivery (the dispatcher's default).
const testEventTimeout = 10 * time.Second

// sendTestEvent answers POST /admin/v1/businesses/:id/webhooks/test with
// {"waba_id", "phone_number_id"?}: one signed test event to the callback
// in effect for the WABA (or the phone number's override), dialed under
// the egress policy, and the receiver's answer. Nothing is queued.
func (a *adminAPI) sendTestEvent(c *fiber.Ctx) error {
	var req struct {
		WABAID        string `json:"waba_id"`
		PhoneNumberID string `json:"phone_number_id"`
	}
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	wabas, err := a.businessWABAs(c)
	if err != nil {
		return err
	}
	if req.WABAID == "" && len(wabas) == 1 {
		req.WABAID = wabas[0]
	}
	if req.WABAID == "" {
		return graph.ErrMissingParameter.With("waba_id is required")
	}
	if !slices.Contains(wabas, req.WABAID) {
		return graph.ErrObjectNotFound.With("no WABA with this id in this business")
	}
	fsm := a.d.Cluster.FSM()
	if req.PhoneNumberID != "" {
		ps, err := fsm.PhonesOfWABA(req.WABAID)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(ps, func(p raftfsm.Phone) bool { return p.ID == req.PhoneNumberID }) {
			return graph.ErrObjectNotFound.With("no phone number with this id in this WABA")
		}
	}
	sub, err := fsm.Subscription(req.WABAID)
	if errors.Is(err, raftfsm.ErrNotFound) {
		return graph.ErrParameterValue.With("this WABA has no webhook subscription: configure one first")
	}
	if err != nil {
		return err
	}
	apps, err := fsm.AppWebhooks()
	if err != nil {
		return err
	}
	phones, err := fsm.PhoneWebhooks()
	if err != nil {
		return err
	}
	url := raftfsm.CallbackFor(sub, req.PhoneNumberID, apps, phones)
	if url == "" {
		return graph.ErrParameterValue.With("no callback URL is set at any level for this WABA")
	}
	app, err := fsm.App(sub.AppID)
	if err != nil {
		return err
	}
	body, err := testevent.Body(req.WABAID, req.PhoneNumberID, a.d.Now())
	if err != nil {
		return err
	}
	auditTarget(c, "waba", req.WABAID)
	client := a.d.Egress.Client(egress.ClientConfig{Timeout: testEventTimeout})
	defer client.CloseIdleConnections()
	r := testevent.Send(c.UserContext(), client, url, app.Secret, body, testEventTimeout,
		func(err error) bool { return errors.Is(err, egress.ErrRefused) })
	// The callback URL is not logged (its query may hold a secret).
	a.d.Logger.Info("webhook test event", slog.String("waba_id", req.WABAID), slog.String("status", r.Status))
	return c.JSON(fiber.Map{"callback_url": strings.Clone(url), "status": r.Status, "delivered": r.Delivered,
		"duration_ms": r.DurationMS})
}

// retryWebhooks answers POST /admin/v1/businesses/:id/webhooks/retry with
// {"event_ids": [...]} (ids as the delivery log shows them; none: every
// queued event of the business): the business's queued events are tried
// at once instead of when their back-off ends. Events that already left
// the outbox (delivered or dropped) are not retried but redelivered
// (redeliverWebhooks). Answers {"retried": n}.
func (a *adminAPI) retryWebhooks(c *fiber.Ctx) error {
	var req struct {
		EventIDs []string `json:"event_ids"`
	}
	if len(c.Body()) > 0 {
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
	}
	businessID := strings.Clone(c.Params("id"))
	if _, err := a.d.Cluster.FSM().Business(businessID); err != nil {
		return errNoBusiness
	}
	if len(req.EventIDs) > raftfsm.MaxRetryKeys {
		return graph.ErrParameterValue.With("at most 1000 event_ids")
	}
	keys := make([][]byte, 0, len(req.EventIDs))
	for _, id := range req.EventIDs {
		k, err := hex.DecodeString(id)
		if err != nil || len(k) != 16 {
			return graph.ErrParameterValue.With("event_ids are the ids of the delivery log")
		}
		keys = append(keys, k)
		auditTarget(c, "webhook_event", id)
	}
	cmd, err := raftfsm.EncodeCommand(raftfsm.CmdWebhookRetryNow, raftfsm.WebhookRetryNow{BusinessID: businessID, Keys: keys,
		At: a.d.Now().UnixMilli()})
	if err != nil {
		return err
	}
	v, err := raftfsm.Outcome(a.d.Cluster.Propose(c.UserContext(), cmd))
	if errors.Is(err, raftfsm.ErrIgnored) {
		return graph.ErrServiceUnavailable.With("the cluster's leader runs an older version that cannot retry now")
	}
	if err != nil {
		return err
	}
	n := 0
	if len(v) == 4 {
		n = int(binary.BigEndian.Uint32(v))
	}
	return c.JSON(fiber.Map{"retried": n})
}

// redeliverWebhooks answers POST /admin/v1/businesses/:id/webhooks/redeliver
// with {"event_ids": [...]} (ids of delivered or dropped events as the
// delivery log shows them): each is queued again as a new event with the
// same sealed body, delivered by the dispatcher like any other. All or
// nothing: an unknown id, one of another business or one logged by an
// older version without its body fails the request and queues nothing.
// Answers {"redelivered": [{"event_id", "new_event_id"}, ...]}.
func (a *adminAPI) redeliverWebhooks(c *fiber.Ctx) error {
	var req struct {
		EventIDs []string `json:"event_ids"`
	}
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	businessID := strings.Clone(c.Params("id"))
	if _, err := a.d.Cluster.FSM().Business(businessID); err != nil {
		return errNoBusiness
	}
	if len(req.EventIDs) == 0 {
		return graph.ErrMissingParameter.With("event_ids is required")
	}
	if len(req.EventIDs) > raftfsm.MaxRedeliverKeys {
		return graph.ErrParameterValue.With("at most 100 event_ids")
	}
	now := a.d.Now()
	keys := make([][]byte, 0, len(req.EventIDs))
	newKeys := make([][]byte, 0, len(req.EventIDs))
	out := make([]fiber.Map, 0, len(req.EventIDs))
	for _, id := range req.EventIDs {
		k, err := hex.DecodeString(id)
		if err != nil || len(k) != 16 {
			return graph.ErrParameterValue.With("event_ids are the ids of the delivery log")
		}
		if slices.ContainsFunc(keys, func(o []byte) bool { return string(o) == string(k) }) {
			return graph.ErrParameterValue.With("event_ids names an event twice")
		}
		// The new key: the time, then random bits (as other admin events).
		nk := make([]byte, 16)
		binary.BigEndian.PutUint64(nk[:8], uint64(now.UnixNano()))
		if _, err := rand.Read(nk[8:]); err != nil {
			return err
		}
		keys, newKeys = append(keys, k), append(newKeys, nk)
		out = append(out, fiber.Map{"event_id": strings.Clone(id), "new_event_id": hex.EncodeToString(nk)})
		auditTarget(c, "webhook_event", id)
	}
	cmd, err := raftfsm.EncodeCommand(raftfsm.CmdWebhookRedeliver, raftfsm.WebhookRedeliver{BusinessID: businessID, Keys: keys,
		NewKeys: newKeys, At: now.UnixMilli()})
	if err != nil {
		return err
	}
	_, err = raftfsm.Outcome(a.d.Cluster.Propose(c.UserContext(), cmd))
	switch {
	case errors.Is(err, raftfsm.ErrIgnored):
		return graph.ErrServiceUnavailable.With("the cluster's leader runs an older version that cannot redeliver")
	case errors.Is(err, raftfsm.ErrNotFound):
		return graph.ErrObjectNotFound.With(strings.TrimPrefix(err.Error(), raftfsm.ErrNotFound.Error()+": "))
	case errors.Is(err, raftfsm.ErrInvalid):
		return graph.ErrParameterValue.With(strings.TrimPrefix(err.Error(), raftfsm.ErrInvalid.Error()+": "))
	case err != nil:
		return err
	}
	return c.JSON(fiber.Map{"redelivered": out})
}
