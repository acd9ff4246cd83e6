package web

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/waedge/waedge/graph"
	"github.com/waedge/waedge/raftfsm"
)

// Webhook configuration at Meta's three levels — app, WABA override, phone
// number override — each verified by the GET handshake under the egress
// policy (raftfsm/webhookconfig.go has the precedence).
// https://developers.facebook.com/docs/graph-api/reference/app/subscriptions
// https://developers.facebook.com/docs/whatsapp/embedded-signup/webhooks/override

// ownApp resolves an app id of the caller's business; a foreign id answers
// exactly like a missing one.
func (g *graphAPI) ownApp(c *fiber.Ctx) (raftfsm.App, error) {
	id := strings.Clone(c.Params("node"))
	a, err := g.d.Cluster.FSM().App(id)
	if errors.Is(err, raftfsm.ErrNotFound) || (err == nil && a.BusinessID != businessOf(c)) {
		return a, graph.ErrObjectNotFound.Withf("Unsupported request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation", id)
	}
	return a, err
}

// appSubscriptionParams reads object, callback_url, verify_token and
// fields from the query, a form or a JSON body (pywa sends query
// parameters; fields comma-separated or a JSON array).
func appSubscriptionParams(c *fiber.Ctx) (object, callback, verifyToken string, fields []string, err error) {
	get := func(k string) string {
		if v := c.Query(k); v != "" {
			return strings.Clone(v)
		}
		return ""
	}
	object, callback, verifyToken = get("object"), get("callback_url"), get("verify_token")
	rawFields := get("fields")
	body := bytes.TrimSpace(c.Body())
	switch {
	case len(body) == 0:
	case body[0] == '{':
		var p struct {
			Object      string          `json:"object"`
			Callback    string          `json:"callback_url"`
			VerifyToken string          `json:"verify_token"`
			Fields      json.RawMessage `json:"fields"`
		}
		if err := json.Unmarshal(body, &p); err != nil {
			return "", "", "", nil, graph.ErrInvalidParameter.With("request body is not valid JSON")
		}
		object, callback, verifyToken = cmp(p.Object, object), cmp(p.Callback, callback), cmp(p.VerifyToken, verifyToken)
		var list []string
		if json.Unmarshal(p.Fields, &list) == nil {
			rawFields = strings.Join(list, ",")
		} else if s := ""; json.Unmarshal(p.Fields, &s) == nil && s != "" {
			rawFields = s
		}
	default:
		object = cmp(strings.Clone(c.FormValue("object")), object)
		callback = cmp(strings.Clone(c.FormValue("callback_url")), callback)
		verifyToken = cmp(strings.Clone(c.FormValue("verify_token")), verifyToken)
		rawFields = cmp(strings.Clone(c.FormValue("fields")), rawFields)
	}
	for _, f := range strings.Split(rawFields, ",") {
		if f = strings.TrimSpace(f); f != "" {
			fields = append(fields, f)
		}
	}
	return object, callback, verifyToken, fields, nil
}

// cmp returns a unless it is empty, else b.
func cmp(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// subscribeApp answers POST /{app-id}/subscriptions: the app-level
// callback, used by every subscribed WABA without an override.
func (g *graphAPI) subscribeApp(c *fiber.Ctx) error {
	a, err := g.ownApp(c)
	if err != nil {
		return err
	}
	object, callback, verifyToken, fields, err := appSubscriptionParams(c)
	if err != nil {
		return err
	}
	switch {
	case object == "":
		return graph.ErrMissingParameter.With("object is required")
	case object != "whatsapp_business_account":
		return graph.ErrParameterValue.With("object must be whatsapp_business_account")
	case callback == "":
		return graph.ErrMissingParameter.With("callback_url is required")
	case verifyToken == "":
		return graph.ErrMissingParameter.With("verify_token is required")
	}
	if len(fields) == 0 {
		fields = []string{"messages"}
	}
	if err := g.verifyCallback(c.UserContext(), callback, verifyToken); err != nil {
		return err
	}
	if err := g.propose(c, raftfsm.CmdSetAppWebhook, raftfsm.SetAppWebhook{AppID: a.ID, BusinessID: a.BusinessID,
		CallbackURL: callback, Fields: fields, At: g.d.Now().UnixMilli()}); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"success": true})
}

// appSubscriptions answers GET /{app-id}/subscriptions.
func (g *graphAPI) appSubscriptions(c *fiber.Ctx) error {
	a, err := g.ownApp(c)
	if err != nil {
		return err
	}
	hooks, err := g.d.Cluster.FSM().AppWebhooks()
	if err != nil {
		return err
	}
	h, ok := hooks[a.ID]
	if !ok {
		return c.JSON(fiber.Map{"data": []any{}})
	}
	fields := []fiber.Map{}
	for _, f := range h.Fields {
		fields = append(fields, fiber.Map{"name": f, "version": "v21.0"})
	}
	return c.JSON(fiber.Map{"data": []fiber.Map{{"object": "whatsapp_business_account", "callback_url": h.CallbackURL,
		"active": true, "fields": fields}}})
}

// unsubscribeApp answers DELETE /{app-id}/subscriptions.
func (g *graphAPI) unsubscribeApp(c *fiber.Ctx) error {
	a, err := g.ownApp(c)
	if err != nil {
		return err
	}
	if err := g.propose(c, raftfsm.CmdSetAppWebhook, raftfsm.SetAppWebhook{AppID: a.ID, BusinessID: a.BusinessID,
		At: g.d.Now().UnixMilli()}); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"success": true})
}

// setPhoneWebhook handles POST /{phone-number-id} with
// webhook_configuration {override_callback_uri, verify_token}: the number's
// override, verified by the handshake; an empty override_callback_uri
// removes it.
func (g *graphAPI) setPhoneWebhook(c *fiber.Ctx, t raftfsm.Tenant, raw json.RawMessage) error {
	var wc struct {
		Callback    string `json:"override_callback_uri"`
		VerifyToken string `json:"verify_token"`
	}
	if err := json.Unmarshal(raw, &wc); err != nil {
		return graph.ErrInvalidParameter.With("webhook_configuration must be an object")
	}
	if wc.Callback != "" {
		if wc.VerifyToken == "" {
			return graph.ErrMissingParameter.With("webhook_configuration.verify_token is required with override_callback_uri")
		}
		if err := g.verifyCallback(c.UserContext(), wc.Callback, wc.VerifyToken); err != nil {
			return err
		}
	}
	if err := g.propose(c, raftfsm.CmdSetPhoneWebhook, raftfsm.SetPhoneWebhook{PhoneNumberID: t.PhoneNumberID,
		BusinessID: t.BusinessID, CallbackURL: wc.Callback, At: g.d.Now().UnixMilli()}); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"success": true})
}

// webhookConfiguration is a phone number's webhook_configuration field:
// the callback of each level that has one (phone_number,
// whatsapp_business_account, application).
func (g *graphAPI) webhookConfiguration(t raftfsm.Tenant) (fiber.Map, error) {
	fsm := g.d.Cluster.FSM()
	out := fiber.Map{}
	phones, err := fsm.PhoneWebhooks()
	if err != nil {
		return nil, err
	}
	if p, ok := phones[t.PhoneNumberID]; ok {
		out["phone_number"] = p.CallbackURL
	}
	if s, err := fsm.Subscription(t.WABAID); err == nil && s.CallbackURL != "" {
		out["whatsapp_business_account"] = s.CallbackURL
	} else if err != nil && !errors.Is(err, raftfsm.ErrNotFound) {
		return nil, err
	}
	apps, err := fsm.AppWebhooks()
	if err != nil {
		return nil, err
	}
	if a, ok := apps[t.AppID]; ok {
		out["application"] = a.CallbackURL
	}
	return out, nil
}

// appAccessToken answers GET /oauth/access_token?grant_type=client_credentials
// &client_id=…&client_secret=…: an app access token in Meta's
// "app-id|app-secret" form, which pywa fetches before it sets the app's
// callback (waedge accepts the business's token on those calls).
func (g *graphAPI) appAccessToken(c *fiber.Ctx) error {
	if c.Query("grant_type") != "client_credentials" {
		return graph.ErrParameterValue.With("grant_type must be client_credentials")
	}
	a, err := g.d.Cluster.FSM().App(strings.Clone(c.Query("client_id")))
	if err != nil || subtle.ConstantTimeCompare([]byte(a.Secret), []byte(c.Query("client_secret"))) != 1 {
		return graph.ErrAuth
	}
	return c.JSON(fiber.Map{"access_token": a.ID + "|" + a.Secret, "token_type": "bearer"})
}

// webhookRow is one subscribed WABA in the admin API: the callback of each
// level and the one its WABA-level events go to.
type webhookRow struct {
	WABAID         string          `json:"waba_id"`
	AppID          string          `json:"app_id"`
	CallbackURL    string          `json:"callback_url"` // in effect for WABA-level events ("": none yet)
	WABAOverride   string          `json:"waba_override_callback_url,omitempty"`
	AppCallbackURL string          `json:"app_callback_url,omitempty"`
	PhoneOverrides []phoneOverride `json:"phone_overrides"`
	CreatedAt      int64           `json:"created_at"`
}

type phoneOverride struct {
	PhoneNumberID string `json:"phone_number_id"`
	CallbackURL   string `json:"callback_url"`
}

// webhookLevels builds the admin view of subscription s.
func webhookLevels(fsm *raftfsm.FSM, s raftfsm.Subscription) (webhookRow, error) {
	apps, err := fsm.AppWebhooks()
	if err != nil {
		return webhookRow{}, err
	}
	phones, err := fsm.PhoneWebhooks()
	if err != nil {
		return webhookRow{}, err
	}
	r := webhookRow{WABAID: s.WABAID, AppID: s.AppID, CallbackURL: raftfsm.CallbackFor(s, "", apps, phones),
		WABAOverride: s.CallbackURL, AppCallbackURL: apps[s.AppID].CallbackURL, PhoneOverrides: []phoneOverride{},
		CreatedAt: s.CreatedAt / 1000}
	ps, err := fsm.PhonesOfWABA(s.WABAID)
	if err != nil {
		return webhookRow{}, err
	}
	for _, p := range ps {
		if h, ok := phones[p.ID]; ok {
			r.PhoneOverrides = append(r.PhoneOverrides, phoneOverride{PhoneNumberID: p.ID, CallbackURL: h.CallbackURL})
		}
	}
	return r, nil
}
