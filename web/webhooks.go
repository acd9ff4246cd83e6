package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/waedge/waedge/cloudapi"
	"github.com/waedge/waedge/egress"
	"github.com/waedge/waedge/graph"
	"github.com/waedge/waedge/raftfsm"
)

// errCallbackVerification answers every callback that fails verification,
// whatever the cause (refused by the egress policy, unreachable, timeout,
// wrong answer): one code, one message, so its text cannot map a network.
var errCallbackVerification = (&graph.Error{Status: 400, Code: 2200, Title: "Callback verification failed"}).
	With("Callback verification failed: the callback URL did not answer the verification request with the challenge")

// ownWABA resolves a WABA id of the caller's business; a foreign id answers
// exactly like a missing one.
func (g *graphAPI) ownWABA(c *fiber.Ctx) (raftfsm.WABA, error) {
	id := strings.Clone(c.Params("node"))
	w, err := g.d.Cluster.FSM().WABA(id)
	if errors.Is(err, raftfsm.ErrNotFound) || (err == nil && w.BusinessID != businessOf(c)) {
		return w, graph.ErrObjectNotFound.Withf("Unsupported request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation", id)
	}
	return w, err
}

// subscribeParams reads override_callback_uri and verify_token from the
// query, a form or a JSON body (clients use all three).
func subscribeParams(c *fiber.Ctx) (callback, verifyToken string, err error) {
	callback, verifyToken = strings.Clone(c.Query("override_callback_uri")), strings.Clone(c.Query("verify_token"))
	body := bytes.TrimSpace(c.Body())
	switch {
	case len(body) == 0:
	case strings.HasPrefix(string(c.Request().Header.ContentType()), fiber.MIMEApplicationJSON) || body[0] == '{':
		var p struct {
			Callback    string `json:"override_callback_uri"`
			VerifyToken string `json:"verify_token"`
		}
		if err := json.Unmarshal(body, &p); err != nil {
			return "", "", graph.ErrInvalidParameter.With("request body is not valid JSON")
		}
		if p.Callback != "" {
			callback = p.Callback
		}
		if p.VerifyToken != "" {
			verifyToken = p.VerifyToken
		}
	default:
		if v := c.FormValue("override_callback_uri"); v != "" {
			callback = strings.Clone(v)
		}
		if v := c.FormValue("verify_token"); v != "" {
			verifyToken = strings.Clone(v)
		}
	}
	return callback, verifyToken, nil
}

// verifyCallback performs the GET handshake: the receiver must answer 200
// with the challenge as its body. The request is dialed under the egress
// policy and follows no redirect.
func (g *graphAPI) verifyCallback(ctx context.Context, callback, verifyToken string) error {
	var b [16]byte
	_, _ = rand.Read(b[:])
	challenge := hex.EncodeToString(b[:])
	u, err := cloudapi.ChallengeURL(callback, verifyToken, challenge)
	if err != nil {
		return graph.ErrParameterValue.With("override_callback_uri must be an http(s) URL")
	}
	err = verifyChallenge(ctx, g.d.Egress, u, challenge)
	if err != nil {
		// The reason is for the operator; the URL is not logged (its query
		// holds the verify token).
		reason := "unreachable or wrong answer"
		if errors.Is(err, egress.ErrRefused) {
			reason = "refused by the egress policy (see --egress-allow)"
		}
		g.d.Logger.Info("webhook callback verification failed", slog.String("reason", reason))
		return errCallbackVerification
	}
	return nil
}

// verifyChallenge GETs u and checks the answer is 200 with the challenge.
func verifyChallenge(ctx context.Context, p *egress.Policy, u, challenge string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	// A client per handshake: subscriptions are rare, and its connection
	// is not kept.
	client := p.Client(egress.ClientConfig{Timeout: 10 * time.Second})
	defer client.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(got)) != challenge {
		return errors.New("the callback did not answer 200 with the challenge")
	}
	return nil
}

// subscribe answers POST /{waba-id}/subscribed_apps.
func (g *graphAPI) subscribe(c *fiber.Ctx) error {
	w, err := g.ownWABA(c)
	if err != nil {
		return err
	}
	callback, verifyToken, err := subscribeParams(c)
	if err != nil {
		return err
	}
	// Without override_callback_uri the WABA's events go to the app's
	// callback (POST /{app-id}/subscriptions), or a number's override.
	if callback != "" {
		if verifyToken == "" {
			return graph.ErrMissingParameter.With("verify_token is required with override_callback_uri")
		}
		if err := g.verifyCallback(c.UserContext(), callback, verifyToken); err != nil {
			return err
		}
	}
	ts, err := g.d.Cluster.FSM().TenantsByBusiness(w.BusinessID)
	if err != nil || len(ts) == 0 {
		return graph.ErrInternal
	}
	now := g.d.Now()
	sub := raftfsm.SetSubscription{WABAID: w.ID, BusinessID: w.BusinessID, AppID: ts[0].AppID, CallbackURL: callback, At: now.UnixMilli()}
	installed, err := g.installedEvent(c, sub, now)
	if err != nil {
		return err
	}
	cmd, err := raftfsm.EncodeCommand(raftfsm.CmdSetSubscription, sub)
	if installed != nil {
		cmd, err = raftfsm.EncodeCommand(raftfsm.CmdSetSubscriptionV2, raftfsm.SetSubscriptionV2{SetSubscription: sub, Installed: installed})
	}
	if err != nil {
		return err
	}
	if _, err := raftfsm.Outcome(g.d.Cluster.Propose(c.UserContext(), cmd)); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"success": true})
}

// installedEvent is the account_update PARTNER_APP_INSTALLED webhook of
// a subscription, when the app subscribed to the account_update field at
// app level (POST /{app-id}/subscriptions with fields): Meta delivers only
// the fields an app subscribed to, so an app that never asked for
// account_update — including one relying on waedge's "no app-level
// subscription: every field" default — gets no new kind of event. The
// state machine queues it only if the WABA had no subscription yet.
func (g *graphAPI) installedEvent(c *fiber.Ctx, sub raftfsm.SetSubscription, now time.Time) (*raftfsm.OutboxEvent, error) {
	hooks, err := g.d.Cluster.FSM().AppWebhooks()
	if err != nil {
		return nil, err
	}
	if h, ok := hooks[sub.AppID]; !ok || !slices.Contains(h.Fields, cloudapi.FieldAccountUpdate) {
		return nil, nil
	}
	body, err := cloudapi.PartnerAppInstalled(sub.WABAID, sub.BusinessID, sub.AppID, now.Unix())
	if err != nil {
		return nil, err
	}
	return g.wabaEvent(c, sub.WABAID, body, now)
}

// subscriptions answers GET /{waba-id}/subscribed_apps.
func (g *graphAPI) subscriptions(c *fiber.Ctx) error {
	w, err := g.ownWABA(c)
	if err != nil {
		return err
	}
	s, err := g.d.Cluster.FSM().Subscription(w.ID)
	if errors.Is(err, raftfsm.ErrNotFound) {
		return c.JSON(fiber.Map{"data": []any{}})
	}
	if err != nil {
		return err
	}
	row := fiber.Map{"whatsapp_business_api_data": fiber.Map{"id": s.AppID, "name": "waedge"}}
	if s.CallbackURL != "" {
		row["override_callback_uri"] = s.CallbackURL
	}
	return c.JSON(fiber.Map{"data": []any{row}})
}

// unsubscribe answers DELETE /{waba-id}/subscribed_apps.
func (g *graphAPI) unsubscribe(c *fiber.Ctx) error {
	w, err := g.ownWABA(c)
	if err != nil {
		return err
	}
	cmd, err := raftfsm.EncodeCommand(raftfsm.CmdDeleteSubscription, raftfsm.DeleteSubscription{WABAID: w.ID, BusinessID: w.BusinessID})
	if err != nil {
		return err
	}
	if _, err := raftfsm.Outcome(g.d.Cluster.Propose(c.UserContext(), cmd)); err != nil && !errors.Is(err, raftfsm.ErrNotFound) {
		return err
	}
	return c.JSON(fiber.Map{"success": true})
}
