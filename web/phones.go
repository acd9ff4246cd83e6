package web

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/waedge/waedge/cloudapi"
	"github.com/waedge/waedge/graph"
	"github.com/waedge/waedge/raftfsm"
)

// errPINMismatch: the two-step verification PIN does not match (133005).
var errPINMismatch = &graph.Error{Status: 400, Code: 133005, Title: "Two step verification PIN mismatch"}

func pinHash(phoneID, pin string) []byte {
	h := sha256.Sum256([]byte(phoneID + ":" + pin))
	return h[:]
}

func validPIN(pin string) bool {
	if len(pin) != 6 {
		return false
	}
	for _, c := range pin {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// phoneListFields are the fields of a phone number shown when fields= is
// not given.
var phoneListFields = []string{"id", "display_phone_number", "verified_name", "code_verification_status",
	"quality_rating", "platform_type", "throughput"}

// phoneView renders a phone number: the default fields, or those selected.
func phoneView(p raftfsm.Phone, f cloudapi.Fields) fiber.Map {
	status := "CONNECTED"
	if !p.Registered {
		status = "DISCONNECTED"
	}
	quality, tier := raftfsm.QualityOf(p), raftfsm.TierOf(p)
	all := fiber.Map{
		"id": p.ID, "display_phone_number": p.DisplayPhoneNumber, "verified_name": p.VerifiedName,
		"code_verification_status": "VERIFIED", "quality_rating": quality, "platform_type": "CLOUD_API",
		"throughput": fiber.Map{"level": "STANDARD"}, "status": status, "name_status": "APPROVED",
		"is_pin_enabled": len(p.PINHash) > 0, "account_mode": "LIVE", "is_official_business_account": false,
		// messaging_limit_tier is deprecated in favour of
		// whatsapp_business_manager_messaging_limit (docs/cloud-api.md §5); both
		// answer the number's tier.
		"messaging_limit_tier": tier, "whatsapp_business_manager_messaging_limit": tier,
	}
	if f.Empty() {
		out := fiber.Map{}
		for _, k := range phoneListFields {
			out[k] = all[k]
		}
		return out
	}
	return pick(all, f)
}

// phoneNumbers answers GET /{waba-id}/phone_numbers: cursor paging in
// phone-number id order, fields= selects.
func (g *graphAPI) phoneNumbers(c *fiber.Ctx) error {
	w, err := g.ownWABA(c)
	if err != nil {
		return err
	}
	fields, err := fieldsOf(c)
	if err != nil {
		return err
	}
	ps, err := g.d.Cluster.FSM().PhonesOfWABA(w.ID) // in id order
	if err != nil {
		return err
	}
	status := make(map[string]string, len(ps))
	for _, p := range ps {
		s, err := g.verification(p.ID)
		if err != nil {
			return err
		}
		status[p.ID] = s.Status(g.d.Now())
	}
	page, err := pageOf(c, g.d.PublicURL, ps, func(p raftfsm.Phone) string { return p.ID },
		func(p raftfsm.Phone) fiber.Map {
			v := phoneView(p, fields)
			if _, ok := v["code_verification_status"]; ok {
				v["code_verification_status"] = status[p.ID]
			}
			return v
		})
	if err != nil {
		return err
	}
	return c.JSON(page)
}

// phoneBody decodes a small JSON (or form) body of a phone-number edge.
func phoneBody(c *fiber.Ctx, v any) error {
	body := c.Body()
	if len(body) == 0 {
		return nil
	}
	if body[0] == '{' {
		if err := json.Unmarshal(body, v); err != nil {
			return graph.ErrInvalidParameter.With("request body is not valid JSON")
		}
		return nil
	}
	q, err := url.ParseQuery(string(body))
	if err != nil {
		return graph.ErrInvalidParameter.With("request body is not valid")
	}
	m := map[string]string{}
	for k := range q {
		m[k] = q.Get(k)
	}
	b, _ := json.Marshal(m)
	_ = json.Unmarshal(b, v)
	return nil
}

// register answers POST /{phone-number-id}/register and /deregister.
func (g *graphAPI) register(on bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		t, err := g.ownPhone(c)
		if err != nil {
			return err
		}
		var req struct {
			MessagingProduct string `json:"messaging_product"`
			PIN              string `json:"pin"`
		}
		if err := phoneBody(c, &req); err != nil {
			return err
		}
		if on {
			if req.PIN == "" {
				return graph.ErrMissingParameter.With("pin is required")
			}
			if !validPIN(req.PIN) {
				return graph.ErrParameterValue.With("pin must be 6 digits")
			}
		}
		err = g.propose(c, raftfsm.CmdRegisterPhone, raftfsm.RegisterPhone{PhoneNumberID: t.PhoneNumberID,
			BusinessID: t.BusinessID, Register: on, PINHash: pinHash(t.PhoneNumberID, req.PIN), At: g.d.Now().UnixMilli()})
		switch {
		case errors.Is(err, raftfsm.ErrRateLimited):
			return cloudapi.ErrRegisterRateLimit
		case errors.Is(err, raftfsm.ErrPINMismatch):
			return errPINMismatch
		case err != nil:
			return err
		}
		return c.JSON(fiber.Map{"success": true})
	}
}

// updatePhone answers POST /{phone-number-id} (two-step verification
// PIN), queuing the security webhook (PIN_CHANGED).
func (g *graphAPI) updatePhone(c *fiber.Ctx) error {
	t, err := g.ownPhone(c)
	if err != nil {
		return err
	}
	var req struct {
		PIN string `json:"pin"`
		// WebhookConfiguration is the number's webhook override
		// (webhookconfig.go).
		WebhookConfiguration json.RawMessage `json:"webhook_configuration"`
	}
	if err := phoneBody(c, &req); err != nil {
		return err
	}
	if req.WebhookConfiguration != nil && req.PIN == "" {
		return g.setPhoneWebhook(c, t, req.WebhookConfiguration)
	}
	if req.PIN == "" {
		return graph.ErrMissingParameter.With("pin is required")
	}
	if !validPIN(req.PIN) {
		return graph.ErrParameterValue.With("pin must be 6 digits")
	}
	now := g.d.Now()
	body, err := cloudapi.SecurityEvent(t.WABAID, now.Unix(), t.DisplayPhoneNumber, "PIN_CHANGED")
	if err != nil {
		return err
	}
	ev, err := g.wabaEvent(c, t.WABAID, body, now)
	if err != nil {
		return err
	}
	if err := g.propose(c, raftfsm.CmdSetPIN, raftfsm.SetPIN{PhoneNumberID: t.PhoneNumberID, BusinessID: t.BusinessID,
		PINHash: pinHash(t.PhoneNumberID, req.PIN), Event: ev}); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"success": true})
}

var verticals = map[string]bool{"UNDEFINED": true, "OTHER": true, "AUTO": true, "BEAUTY": true, "APPAREL": true,
	"EDU": true, "ENTERTAIN": true, "EVENT_PLAN": true, "FINANCE": true, "GROCERY": true, "GOVT": true, "HOTEL": true,
	"HEALTH": true, "NONPROFIT": true, "PROF_SERVICES": true, "RETAIL": true, "TRAVEL": true, "RESTAURANT": true, "NOT_A_BIZ": true}

// profile answers GET /{phone-number-id}/whatsapp_business_profile.
func (g *graphAPI) profile(c *fiber.Ctx) error {
	t, err := g.ownPhone(c)
	if err != nil {
		return err
	}
	p, err := g.d.Cluster.FSM().Phone(t.PhoneNumberID)
	if err != nil {
		return err
	}
	websites := p.Profile.Websites
	if websites == nil {
		websites = []string{}
	}
	view := fiber.Map{"messaging_product": "whatsapp", "about": p.Profile.About,
		"address": p.Profile.Address, "description": p.Profile.Description, "email": p.Profile.Email,
		"websites": websites, "vertical": p.Profile.Vertical}
	if u, err := g.profilePictureURL(p.ID); err != nil {
		return err
	} else if u != "" {
		view["profile_picture_url"] = u
	}
	return c.JSON(fiber.Map{"data": []fiber.Map{view}})
}

// updateProfile answers POST /{phone-number-id}/whatsapp_business_profile.
func (g *graphAPI) updateProfile(c *fiber.Ctx) error {
	t, err := g.ownPhone(c)
	if err != nil {
		return err
	}
	var req struct {
		MessagingProduct string    `json:"messaging_product"`
		About            *string   `json:"about"`
		Address          *string   `json:"address"`
		Description      *string   `json:"description"`
		Email            *string   `json:"email"`
		Websites         *[]string `json:"websites"`
		Vertical         *string   `json:"vertical"`
		ProfilePicture   *string   `json:"profile_picture_handle"`
	}
	dec := json.NewDecoder(strings.NewReader(string(c.Body())))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return graph.ErrInvalidParameter.With("request body is not valid JSON or has an unknown field")
	}
	if req.MessagingProduct != "whatsapp" {
		return graph.ErrMissingParameter.With("messaging_product must be whatsapp")
	}
	check := func(name string, v *string, lo, hi int) error {
		if v != nil && (len([]rune(*v)) < lo || len([]rune(*v)) > hi) {
			return graph.ErrParameterValue.Withf("%s must be %d to %d characters", name, lo, hi)
		}
		return nil
	}
	for _, e := range []error{check("about", req.About, 1, 139), check("address", req.Address, 0, 256),
		check("description", req.Description, 0, 512), check("email", req.Email, 0, 128)} {
		if e != nil {
			return e
		}
	}
	if req.Websites != nil {
		if len(*req.Websites) > 2 {
			return graph.ErrParameterValue.With("websites: at most 2")
		}
		for _, w := range *req.Websites {
			u, err := url.Parse(w)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || len(w) > 256 {
				return graph.ErrParameterValue.With("websites must be http(s) URLs of at most 256 characters")
			}
		}
	}
	if req.Vertical != nil && !verticals[*req.Vertical] {
		return graph.ErrParameterValue.With("vertical is not a known industry")
	}
	// Every field is checked above; the picture (checked and re-encoded
	// here) is replicated first, then the text fields.
	if req.ProfilePicture != nil {
		if err := g.setProfilePicture(c, t, *req.ProfilePicture); err != nil {
			return err
		}
	}
	if err := g.propose(c, raftfsm.CmdUpdateProfile, raftfsm.UpdateProfile{PhoneNumberID: t.PhoneNumberID,
		BusinessID: t.BusinessID, About: req.About, Address: req.Address, Description: req.Description,
		Email: req.Email, Websites: req.Websites, Vertical: req.Vertical}); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"success": true})
}
