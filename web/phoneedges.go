package web

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/waedge/waedge/cloudapi"
	"github.com/waedge/waedge/graph"
	"github.com/waedge/waedge/raftfsm"
)

// Names of the phone-number settings kept by CmdPutPhoneSetting.
const (
	settingAutomation = "conversational_automation"
	settingCommerce   = "commerce"
	settingNumber     = "settings"
	settingQRPrefix   = "qr/"
)

// registerPhoneEdges adds the phone-number edges kept as settings.
func (g *graphAPI) registerPhoneEdges(app *fiber.App) {
	const pn = "/:node<regex(^[0-9]{1,32}$)>"
	app.Post(pn+"/conversational_automation", g.auth, g.setAutomation)
	app.Get(pn+"/whatsapp_commerce_settings", g.auth, g.commerceSettings)
	app.Post(pn+"/whatsapp_commerce_settings", g.auth, g.setCommerceSettings)
	app.Get(pn+"/settings", g.auth, g.numberSettings)
	app.Post(pn+"/settings", g.auth, g.setNumberSettings)
	app.Post(pn+"/message_qrdls", g.auth, g.putQRCode)
	app.Get(pn+"/message_qrdls", g.auth, g.qrCodes)
	app.Get(pn+"/message_qrdls/:code", g.auth, g.qrCodes)
	app.Delete(pn+"/message_qrdls", g.auth, g.deleteQRCode)
	app.Delete(pn+"/message_qrdls/:code", g.auth, g.deleteQRCode)
	app.Get(qrImagePath+":phone<regex(^[0-9]{1,32}$)>/:file", g.qrImage)
	app.Post(pn+"/uploads", g.auth, g.createUpload)
	app.Post("/upload\\::session", g.auth, g.uploadBytes)
	app.Get("/upload\\::session", g.auth, g.uploadStatus)
	app.Get(profilePicturePath+":phone<regex(^[0-9]{1,32}$)>", g.profilePicture)
	app.Post(pn+"/request_code", g.auth, g.requestCode)
	app.Post(pn+"/verify_code", g.auth, g.verifyCode)
	app.Get(pn+"/block_users", g.auth, g.blockedUsers)
	app.Post(pn+"/block_users", g.auth, g.blockUsers(true))
	app.Delete(pn+"/block_users", g.auth, g.blockUsers(false))
	app.Post(pn+"/official_business_account", g.auth, g.requestOBA)
}

// edgeBody is a phone-number edge's request as JSON: the JSON body, or
// the form body or query parameters (Graph clients send all three) as an
// object — "true"/"false" as booleans, JSON arrays and objects as such.
func edgeBody(c *fiber.Ctx) []byte {
	body := c.Body()
	if len(body) > 0 && body[0] == '{' {
		return body
	}
	q, err := url.ParseQuery(string(body))
	if err != nil || len(body) == 0 {
		q, _ = url.ParseQuery(string(c.Request().URI().QueryString()))
	}
	m := map[string]json.RawMessage{}
	for k := range q {
		v := q.Get(k)
		switch {
		case v == "true" || v == "false":
			m[k] = json.RawMessage(v)
		case (strings.HasPrefix(v, "[") || strings.HasPrefix(v, "{")) && json.Valid([]byte(v)):
			m[k] = json.RawMessage(v)
		default:
			m[k], _ = json.Marshal(v)
		}
	}
	b, _ := json.Marshal(m)
	return b
}

// setting reads a JSON setting of a phone number into v; found is false
// when it was never set.
func (g *graphAPI) setting(phoneID, name string, v any) (bool, error) {
	b, err := g.d.Cluster.FSM().PhoneSettingValue(phoneID, name)
	if errors.Is(err, raftfsm.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, json.Unmarshal(b, v)
}

// putSetting stores (or with v nil deletes) a setting of the phone number.
func (g *graphAPI) putSetting(c *fiber.Ctx, t raftfsm.Tenant, name string, v any) error {
	s := raftfsm.PutPhoneSetting{PhoneNumberID: t.PhoneNumberID, BusinessID: t.BusinessID, Name: name, Delete: v == nil}
	if v != nil {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		s.Value = b
	}
	return g.propose(c, raftfsm.CmdPutPhoneSetting, s)
}

// editSetting applies an edit to a JSON setting of the caller's phone
// number: parse checks the body and merges it into the current value
// (nil when never set); the result replaces the setting.
func editSetting[T any](g *graphAPI, c *fiber.Ctx, name string, parse func([]byte, *T) (*T, error)) error {
	t, err := g.ownPhone(c)
	if err != nil {
		return err
	}
	var cur *T
	var stored T
	if ok, err := g.setting(t.PhoneNumberID, name, &stored); err != nil {
		return err
	} else if ok {
		cur = &stored
	}
	next, err := parse(edgeBody(c), cur)
	if err != nil {
		return err
	}
	if err := g.putSetting(c, t, name, next); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"success": true})
}

// setAutomation answers POST /{phone-number-id}/conversational_automation:
// welcome message, ice breakers and commands (shown by GET
// /{phone-number-id}?fields=conversational_automation).
func (g *graphAPI) setAutomation(c *fiber.Ctx) error {
	return editSetting(g, c, settingAutomation, cloudapi.ParseConversationalAutomation)
}

// phoneExtras adds the fields of GET /{phone-number-id}?fields=… kept as
// settings (conversational_automation) to a phone view.
func (g *graphAPI) phoneExtras(phoneID string, f cloudapi.Fields, view fiber.Map) error {
	for _, name := range f.Names() {
		if name != settingAutomation {
			continue
		}
		var a cloudapi.ConversationalAutomation
		ok, err := g.setting(phoneID, settingAutomation, &a)
		if err != nil {
			return err
		}
		// Every part is shown, unset ones empty (clients parse all three).
		if !ok || a.EnableWelcomeMessage == nil {
			no := false
			a.EnableWelcomeMessage = &no
		}
		if a.Prompts == nil {
			a.Prompts = &[]string{}
		}
		if a.Commands == nil {
			a.Commands = &[]cloudapi.Command{}
		}
		view[settingAutomation] = a
	}
	return nil
}

// commerceSettings answers GET /{phone-number-id}/whatsapp_commerce_settings.
func (g *graphAPI) commerceSettings(c *fiber.Ctx) error {
	t, err := g.ownPhone(c)
	if err != nil {
		return err
	}
	var s cloudapi.CommerceSettings
	if _, err := g.setting(t.PhoneNumberID, settingCommerce, &s); err != nil {
		return err
	}
	on := func(b *bool) bool { return b != nil && *b }
	return c.JSON(fiber.Map{"data": []fiber.Map{{"is_cart_enabled": on(s.IsCartEnabled), "is_catalog_visible": on(s.IsCatalogVisible), "id": t.PhoneNumberID}}})
}

// setCommerceSettings answers POST /{phone-number-id}/whatsapp_commerce_settings.
func (g *graphAPI) setCommerceSettings(c *fiber.Ctx) error {
	return editSetting(g, c, settingCommerce, cloudapi.ParseCommerceSettings)
}

// numberSettings answers GET /{phone-number-id}/settings.
func (g *graphAPI) numberSettings(c *fiber.Ctx) error {
	t, err := g.ownPhone(c)
	if err != nil {
		return err
	}
	var s cloudapi.NumberSettings
	if _, err := g.setting(t.PhoneNumberID, settingNumber, &s); err != nil {
		return err
	}
	return c.JSON(s)
}

// setNumberSettings answers POST /{phone-number-id}/settings.
func (g *graphAPI) setNumberSettings(c *fiber.Ctx) error {
	return editSetting(g, c, settingNumber, cloudapi.ParseNumberSettings)
}

// newQRCode draws a code of Meta's shape: 14 upper-case letters and digits.
func newQRCode() (string, error) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	var b [cloudapi.QRCodeLength]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b[:]), nil
}

// errNoQRCode is the answer for a code the number does not have.
var errNoQRCode = graph.ErrObjectNotFound.With("no QR code with this code on this phone number")

// putQRCode answers POST /{phone-number-id}/message_qrdls: a new code, or
// (code given) a new prefilled message for an existing one.
// With generate_qr_image (PNG or SVG) the answer has qr_image_url, served
// by qrImage.
func (g *graphAPI) putQRCode(c *fiber.Ctx) error {
	t, err := g.ownPhone(c)
	if err != nil {
		return err
	}
	req, err := cloudapi.ParseQRCode(edgeBody(c))
	if err != nil {
		return err
	}
	code := req.Code
	if code == "" {
		if code, err = newQRCode(); err != nil {
			return err
		}
	} else if ok, err := g.setting(t.PhoneNumberID, settingQRPrefix+code, &cloudapi.QRCode{}); err != nil {
		return err
	} else if !ok {
		return errNoQRCode
	}
	q := cloudapi.NewQRCode(code, req.PrefilledMessage)
	if err := g.putSetting(c, t, settingQRPrefix+code, q); err != nil {
		return err
	}
	if req.GenerateQRImage != "" {
		q.QRImageURL = g.qrImageURL(t.PhoneNumberID, code, req.GenerateQRImage)
	}
	return c.JSON(q)
}

// qrCodes answers GET /{phone-number-id}/message_qrdls[/{code}] (also
// ?code=…): the number's codes in code order, or one. With
// fields=…qr_image_url.format(SVG|PNG) each has its image URL (PNG when
// no format is given).
func (g *graphAPI) qrCodes(c *fiber.Ctx) error {
	t, err := g.ownPhone(c)
	if err != nil {
		return err
	}
	imageFormat := ""
	if f, err := fieldsOf(c); err != nil {
		return err
	} else if slices.Contains(f.Names(), "qr_image_url") {
		imageFormat = "PNG"
		if strings.Contains(strings.ToUpper(f.Spec("qr_image_url")), "SVG") {
			imageFormat = "SVG"
		}
	}
	prefix := settingQRPrefix
	code := strings.Clone(c.Params("code", c.Query("code")))
	if code != "" {
		if !cloudapi.ValidQRCode(code) {
			return errNoQRCode
		}
		prefix += code
	}
	ss, err := g.d.Cluster.FSM().PhoneSettings(t.PhoneNumberID, prefix)
	if err != nil {
		return err
	}
	data := make([]cloudapi.QRCode, 0, len(ss))
	for _, s := range ss {
		var q cloudapi.QRCode
		if err := json.Unmarshal(s.Value, &q); err != nil {
			return err
		}
		if imageFormat != "" {
			q.QRImageURL = g.qrImageURL(t.PhoneNumberID, q.Code, imageFormat)
		}
		data = append(data, q)
	}
	if code != "" && len(data) == 0 {
		return errNoQRCode
	}
	return c.JSON(fiber.Map{"data": data})
}

// deleteQRCode answers DELETE /{phone-number-id}/message_qrdls/{code}
// (also ?code_id=…).
func (g *graphAPI) deleteQRCode(c *fiber.Ctx) error {
	t, err := g.ownPhone(c)
	if err != nil {
		return err
	}
	code := strings.Clone(c.Params("code", c.Query("code_id")))
	if code == "" {
		return graph.ErrMissingParameter.With("code_id is required")
	}
	if !cloudapi.ValidQRCode(code) {
		return errNoQRCode
	}
	err = g.putSetting(c, t, settingQRPrefix+code, nil)
	if errors.Is(err, raftfsm.ErrNotFound) {
		return errNoQRCode
	}
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"success": true})
}
