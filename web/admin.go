package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/waedge/waedge/cluster"
	"github.com/waedge/waedge/graph"
	"github.com/waedge/waedge/raftfsm"
	"github.com/waedge/waedge/tenant"
)

const localToken = "waedge.token"

// adminAPI serves /admin/v1: cluster operations and tenant management.
type adminAPI struct {
	d    Deps
	body *bodies
}

// unknownToken answers a token this replica does not know: 401, unless the
// replica is still catching up (after a restart it may replay the log from
// its last checkpoint, or a new leader may not have applied earlier terms
// yet) — then the token may simply not be applied here yet, and the client
// is told to retry (503) rather than that its token is wrong.
func unknownToken(d Deps) error {
	if !d.Cluster.CaughtUp() {
		return cluster.ErrNotReady
	}
	return graph.ErrAuth
}

// auth admits the admin kinds of token (admin, operator, business admin);
// which routes each may call is the adminRoutes table. API tokens serve
// only the Graph routes. It looks at the headers only: the body is read
// after allow (see register).
func (a *adminAPI) auth(c *fiber.Ctx) error {
	b := bearer(c)
	if b == "" {
		// A console session (cookie + CSRF token) stands for an admin-kind
		// token with the console user's role: the same table decides.
		if tok, ok, err := a.d.Accounts.Authenticate(c); ok {
			if err != nil {
				return err
			}
			c.Locals(localToken, tok)
			return c.Next()
		}
	}
	tok, err := tenant.Authenticate(a.d.Cluster.FSM(), b)
	if err != nil {
		return unknownToken(a.d)
	}
	if roleOf(tok.Kind) == 0 {
		return graph.ErrPermission.With("an admin, operator or business admin token is required")
	}
	c.Locals(localToken, tok)
	return c.Next()
}

func (a *adminAPI) clusterStatus(c *fiber.Ctx) error {
	st, err := a.d.Cluster.Status(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(st)
}

// decodeJSON decodes an optional JSON body strictly into v.
func decodeJSON(c *fiber.Ctx, v any) error {
	body := c.Body()
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return graph.ErrInvalidParameter.Withf("invalid JSON body: %v", err)
	}
	return nil
}

func (a *adminAPI) joinToken(c *fiber.Ctx) error {
	var req struct {
		TTLSeconds int64 `json:"ttl_seconds"`
	}
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	ttl := 24 * time.Hour
	if req.TTLSeconds != 0 {
		if req.TTLSeconds < 60 || req.TTLSeconds > 7*24*3600 {
			return graph.ErrInvalidParameter.With("ttl_seconds must be between 60 and 604800")
		}
		ttl = time.Duration(req.TTLSeconds) * time.Second
	}
	tok, err := a.d.Cluster.CreateJoinToken(c.UserContext(), ttl)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"join_token": tok, "expires_at": a.d.Now().Add(ttl).Unix()})
}

func (a *adminAPI) removeNode(c *fiber.Ctx) error {
	id := strings.Clone(c.Params("id"))
	if err := a.d.Cluster.RemoveNode(c.UserContext(), id); err != nil {
		if errors.Is(err, cluster.ErrNodeNotFound) {
			return graph.ErrObjectNotFound.With("no cluster member has this id")
		}
		return err
	}
	return c.JSON(fiber.Map{"success": true})
}

func (a *adminAPI) transferLeadership(c *fiber.Ctx) error {
	if err := a.d.Cluster.TransferLeadership(c.UserContext()); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"success": true})
}

func (a *adminAPI) createTenant(c *fiber.Ctx) error {
	var req tenant.CreateRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if err := req.Validate(); err != nil {
		if req.Name == "" && req.Phone == "" {
			return graph.ErrMissingParameter.With("name and phone are required")
		}
		return graph.ErrInvalidParameter.With(err.Error())
	}
	created, err := tenant.Create(c.UserContext(), a.d.Cluster, req, a.d.Now())
	if err != nil {
		if errors.Is(err, tenant.ErrPhoneTaken) {
			return graph.ErrInvalidParameter.With("phone number already registered")
		}
		return err
	}
	auditTarget(c, "business", created.BusinessID)
	auditTarget(c, "phone", created.PhoneNumberID)
	return c.JSON(created)
}

// tenantView is what listings show: never secrets or token hashes.
type tenantView struct {
	BusinessID         string `json:"business_id"`
	WABAID             string `json:"waba_id"`
	PhoneNumberID      string `json:"phone_number_id"`
	DisplayPhoneNumber string `json:"display_phone_number"`
	Name               string `json:"name"`
}

func (a *adminAPI) listTenants(c *fiber.Ctx) error {
	ts, err := a.d.Cluster.FSM().ListTenants()
	if err != nil {
		return err
	}
	out := make([]tenantView, 0, len(ts))
	for _, t := range ts {
		out = append(out, tenantView{BusinessID: t.BusinessID, WABAID: t.WABAID, PhoneNumberID: t.PhoneNumberID,
			DisplayPhoneNumber: t.DisplayPhoneNumber, Name: t.BusinessName})
	}
	return c.JSON(fiber.Map{"data": out})
}

// fsmDigest reports a hash of this node's whole replicated state, so
// operators and tests can check that replicas agree.
func (a *adminAPI) fsmDigest(c *fiber.Ctx) error {
	fsm := a.d.Cluster.FSM()
	h := sha256.New()
	idx, _ := fsm.AppliedIndex()
	if err := fsm.Dump(h); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"applied_index": idx, "sha256": hex.EncodeToString(h.Sum(nil))})
}

// outbox is the webhook delivery log: events waiting for delivery
// (attempts, last status, next try) and, with ?state=, those that left the
// outbox in the last 7 days (delivered or dropped, with their attempts and
// last status). Never the body, which is sealed and may carry message
// content. A business admin sees only their business's events.
//
// ?state= pending (default) | delivered | dropped | all; ?limit= ≤ 1000.
func (a *adminAPI) outbox(c *fiber.Ctx) error {
	state := c.Query("state", "pending")
	if state != "pending" && state != raftfsm.WebhookDelivered && state != raftfsm.WebhookDropped && state != "all" {
		return graph.ErrInvalidParameter.With("state must be pending, delivered, dropped or all")
	}
	limit := c.QueryInt("limit", 1000)
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	business := ""
	if tok := actor(c); tok.Kind == raftfsm.TokenBusinessAdmin {
		business = tok.BusinessID
	}
	type row struct {
		ID            string `json:"id"`
		WABAID        string `json:"waba_id"`
		State         string `json:"state"`
		CreatedAt     int64  `json:"created_at"`
		Attempts      int    `json:"attempts"`
		LastStatus    string `json:"last_status,omitempty"`
		LastAttemptAt int64  `json:"last_attempt_at,omitempty"`
		NextAt        int64  `json:"next_attempt_at,omitempty"`
		// Redeliverable: a finished event whose body the log keeps.
		Redeliverable bool `json:"redeliverable,omitempty"`
	}
	out := make([]row, 0)
	fsm := a.d.Cluster.FSM()
	if state == "pending" || state == "all" {
		err := fsm.OutboxEach(nil, func(e raftfsm.OutboxEvent) bool {
			if business == "" || e.BusinessID == business {
				out = append(out, row{ID: hex.EncodeToString(e.Key), WABAID: e.WABAID, State: "pending", CreatedAt: e.CreatedAt / 1000,
					Attempts: e.Attempts, LastStatus: e.LastStatus, LastAttemptAt: e.LastAttemptAt / 1000, NextAt: e.NextAt / 1000})
			}
			return len(out) < limit
		})
		if err != nil {
			return err
		}
	}
	if state != "pending" && len(out) < limit {
		err := fsm.WebhookLog(func(k []byte, e raftfsm.WebhookLogEntry) bool {
			if (business == "" || e.BusinessID == business) && (state == "all" || state == e.Outcome) {
				out = append(out, row{ID: hex.EncodeToString(k), WABAID: e.WABAID, State: e.Outcome, CreatedAt: e.CreatedAt / 1000,
					Attempts: e.Attempts, LastStatus: e.LastStatus, LastAttemptAt: e.LastAttemptAt / 1000, Redeliverable: len(e.Body) > 0})
			}
			return len(out) < limit
		})
		if err != nil {
			return err
		}
	}
	return c.JSON(fiber.Map{"data": out})
}

// setPhoneLimits answers POST /admin/v1/phones/:id/limits
// {"throughput_mps":N,"pair_per_minute":M,"pair_burst":B} (0 restores a
// default: 80, 10, 45).
func (a *adminAPI) setPhoneLimits(c *fiber.Ctx) error {
	var req struct {
		ThroughputMPS int `json:"throughput_mps"`
		PairPerMinute int `json:"pair_per_minute"`
		PairBurst     int `json:"pair_burst"`
	}
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	cmd, err := raftfsm.EncodeCommand(raftfsm.CmdSetPhoneLimits, raftfsm.SetPhoneLimits{
		PhoneNumberID: strings.Clone(c.Params("id")), ThroughputMPS: req.ThroughputMPS, PairPerMinute: req.PairPerMinute, PairBurst: req.PairBurst})
	if err != nil {
		return err
	}
	_, err = raftfsm.Outcome(a.d.Cluster.Propose(c.UserContext(), cmd))
	switch {
	case errors.Is(err, raftfsm.ErrNotFound):
		return graph.ErrObjectNotFound.With("no phone number with this id")
	case errors.Is(err, raftfsm.ErrInvalid):
		return graph.ErrParameterValue.With("limits must be between 0 and 100000")
	case err != nil:
		return err
	}
	return c.JSON(fiber.Map{"success": true})
}

// setPhoneRetention answers POST /admin/v1/phones/:id/retention
// {"retention_hours":N}: how long the number's messages, windows and
// webhook events are kept, 1…720 hours (0 restores the default, 720).
// Content already sealed keeps its data key's schedule (see
// retention/DESIGN.md).
func (a *adminAPI) setPhoneRetention(c *fiber.Ctx) error {
	var req struct {
		RetentionHours *int `json:"retention_hours"`
	}
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if req.RetentionHours == nil {
		return graph.ErrMissingParameter.With("retention_hours is required")
	}
	h := *req.RetentionHours
	if h < 0 || h > int(raftfsm.MaxRetention/time.Hour) {
		return graph.ErrParameterValue.With("retention_hours must be between 1 and 720 (0: the default, 720)")
	}
	cmd, err := raftfsm.EncodeCommand(raftfsm.CmdSetRetention, raftfsm.SetRetention{
		PhoneNumberID: strings.Clone(c.Params("id")), Hours: h})
	if err != nil {
		return err
	}
	_, err = raftfsm.Outcome(a.d.Cluster.Propose(c.UserContext(), cmd))
	switch {
	case errors.Is(err, raftfsm.ErrNotFound):
		return graph.ErrObjectNotFound.With("no phone number with this id")
	case errors.Is(err, raftfsm.ErrInvalid):
		return graph.ErrParameterValue.With("retention_hours must be between 1 and 720")
	case err != nil:
		return err
	}
	if h == 0 {
		h = int(raftfsm.DefaultRetention / time.Hour)
	}
	return c.JSON(fiber.Map{"success": true, "retention_hours": h})
}

// advanceClock answers POST /admin/v1/debug/clock {"advance_seconds":N}
// (only in a process started with the test clock): it moves this
// process's clock forward, so tests can reach retention without sleeping.
func (a *adminAPI) advanceClock(c *fiber.Ctx) error {
	var req struct {
		AdvanceSeconds int64 `json:"advance_seconds"`
	}
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if req.AdvanceSeconds < 0 {
		return graph.ErrParameterValue.With("advance_seconds must not be negative")
	}
	now := a.d.DebugClock(time.Duration(req.AdvanceSeconds) * time.Second)
	return c.JSON(fiber.Map{"now": now.UnixMilli()})
}
