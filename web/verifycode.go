package web

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/waedge/waedge/codeverify"
	"github.com/waedge/waedge/graph"
	"github.com/waedge/waedge/raftfsm"
)

// settingVerification is the phone setting holding codeverify.State.
const settingVerification = "code_verification"

// verification reads a number's verification state (the zero State when
// it never requested a code).
func (g *graphAPI) verification(phoneID string) (codeverify.State, error) {
	var s codeverify.State
	_, err := g.setting(phoneID, settingVerification, &s)
	return s, err
}

// verificationStatus sets code_verification_status of a phone view that
// shows it.
func (g *graphAPI) verificationStatus(phoneID string, view fiber.Map) error {
	if _, ok := view["code_verification_status"]; !ok {
		return nil
	}
	s, err := g.verification(phoneID)
	if err != nil {
		return err
	}
	view["code_verification_status"] = s.Status(g.d.Now())
	return nil
}

// edgeParams reads a phone edge's string parameters from the JSON body, a
// form body or the query (Meta's examples put them in the query).
func edgeParams(c *fiber.Ctx) (map[string]string, error) {
	raw := map[string]json.RawMessage{}
	if err := json.Unmarshal(edgeBody(c), &raw); err != nil {
		return nil, graph.ErrInvalidParameter.With("request body is not valid JSON")
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		var s string
		if json.Unmarshal(v, &s) != nil {
			s = string(v) // a number such as "code":123456
		}
		out[k] = s
	}
	return out, nil
}

// verificationCall resolves a request_code / verify_code call: the
// caller's number, the call's parameters and the number's state.
func (g *graphAPI) verificationCall(c *fiber.Ctx) (raftfsm.Tenant, map[string]string, codeverify.State, error) {
	t, err := g.ownPhone(c)
	if err != nil {
		return t, nil, codeverify.State{}, err
	}
	p, err := edgeParams(c)
	if err != nil {
		return t, nil, codeverify.State{}, err
	}
	s, err := g.verification(t.PhoneNumberID)
	return t, p, s, err
}

// requestCode answers POST /{phone-number-id}/request_code (code_method,
// language). The sandbox sends no SMS or call: the pending code is shown
// to the business's admins by GET /admin/v1/businesses/{id}/verification-codes.
func (g *graphAPI) requestCode(c *fiber.Ctx) error {
	t, p, s, err := g.verificationCall(c)
	if err != nil {
		return err
	}
	var random [8]byte
	if _, err := rand.Read(random[:]); err != nil {
		return err
	}
	next, err := codeverify.Request(s, p["code_method"], p["language"], codeverify.NewCode(random), g.d.Now())
	if err != nil {
		return err
	}
	if err := g.putSetting(c, t, settingVerification, next); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"success": true})
}

// verifyCode answers POST /{phone-number-id}/verify_code (code). A wrong
// code is counted (replicated) before the error goes out.
func (g *graphAPI) verifyCode(c *fiber.Ctx) error {
	t, p, s, err := g.verificationCall(c)
	if err != nil {
		return err
	}
	next, verr := codeverify.Verify(s, p["code"], g.d.Now())
	if next.Attempts != s.Attempts || next.Code != s.Code || next.Pending != s.Pending {
		if err := g.putSetting(c, t, settingVerification, next); err != nil {
			return err
		}
	}
	if verr != nil {
		return verr
	}
	return c.JSON(fiber.Map{"success": true})
}

// verificationCodes answers GET /admin/v1/businesses/{id}/verification-codes:
// the codes of the business's numbers that can still be verified. This is
// how a code "reaches" the business in the sandbox, which has no SMS.
func (a *adminAPI) verificationCodes(c *fiber.Ctx) error {
	id := strings.Clone(c.Params("id"))
	fsm := a.d.Cluster.FSM()
	if _, err := fsm.Business(id); err != nil {
		return errNoBusiness
	}
	ts, err := fsm.TenantsByBusiness(id)
	if err != nil {
		return err
	}
	now := a.d.Now()
	out := []fiber.Map{}
	for _, t := range ts {
		var s codeverify.State
		b, err := fsm.PhoneSettingValue(t.PhoneNumberID, settingVerification)
		if errors.Is(err, raftfsm.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if !s.Live(now) {
			continue
		}
		out = append(out, fiber.Map{"phone_number_id": t.PhoneNumberID, "display_phone_number": t.DisplayPhoneNumber,
			"code": s.Code, "code_method": s.Method, "language": s.Language,
			"expires_at": time.UnixMilli(s.ExpiresAt).UTC().Format(time.RFC3339)})
	}
	return c.JSON(fiber.Map{"data": out})
}
