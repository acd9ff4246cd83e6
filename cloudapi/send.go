package cloudapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"unicode/utf8"
)

// SendRequest is the body of POST /{phone-number-id}/messages: a message,
// or (with Status "read") a mark-as-read.
type SendRequest struct {
	MessagingProduct         string           `json:"messaging_product"`
	RecipientType            string           `json:"recipient_type,omitempty"`
	To                       string           `json:"to,omitempty"`
	Recipient                string           `json:"recipient,omitempty"`
	Type                     string           `json:"type,omitempty"`
	Context                  *Context         `json:"context,omitempty"`
	BizOpaqueCallbackData    string           `json:"biz_opaque_callback_data,omitempty"`
	RecipientIdentityKeyHash string           `json:"recipient_identity_key_hash,omitempty"`
	Text                     *Text            `json:"text,omitempty"`
	Image                    *Media           `json:"image,omitempty"`
	Audio                    *Media           `json:"audio,omitempty"`
	Video                    *Media           `json:"video,omitempty"`
	Document                 *Media           `json:"document,omitempty"`
	Sticker                  *Media           `json:"sticker,omitempty"`
	Location                 *Location        `json:"location,omitempty"`
	Contacts                 []Contact        `json:"contacts,omitempty"`
	Interactive              *Interactive     `json:"interactive,omitempty"`
	Template                 *Template        `json:"template,omitempty"`
	Reaction                 *Reaction        `json:"reaction,omitempty"`
	Status                   string           `json:"status,omitempty"`
	MessageID                string           `json:"message_id,omitempty"`
	TypingIndicator          *TypingIndicator `json:"typing_indicator,omitempty"`
}

// Context makes a message a reply.
type Context struct {
	MessageID string `json:"message_id"`
}

// Text is a text message.
type Text struct {
	Body       string `json:"body"`
	PreviewURL bool   `json:"preview_url,omitempty"`
}

// Media is an image, audio, video, document or sticker, by id or link.
type Media struct {
	ID       string `json:"id,omitempty"`
	Link     string `json:"link,omitempty"`
	Caption  string `json:"caption,omitempty"`
	Filename string `json:"filename,omitempty"`
	Voice    bool   `json:"voice,omitempty"`
}

// Location is a location message.
type Location struct {
	Latitude  *float64 `json:"latitude"`
	Longitude *float64 `json:"longitude"`
	Name      string   `json:"name,omitempty"`
	Address   string   `json:"address,omitempty"`
}

// Contact is one contact card.
type Contact struct {
	Name      ContactName      `json:"name"`
	Phones    []ContactPhone   `json:"phones,omitempty"`
	Emails    []ContactEmail   `json:"emails,omitempty"`
	Org       *ContactOrg      `json:"org,omitempty"`
	URLs      []ContactURL     `json:"urls,omitempty"`
	Addresses []ContactAddress `json:"addresses,omitempty"`
	Birthday  string           `json:"birthday,omitempty"`
}

// ContactName is a contact's name.
type ContactName struct {
	FormattedName string `json:"formatted_name"`
	FirstName     string `json:"first_name,omitempty"`
	LastName      string `json:"last_name,omitempty"`
	MiddleName    string `json:"middle_name,omitempty"`
	Suffix        string `json:"suffix,omitempty"`
	Prefix        string `json:"prefix,omitempty"`
}

// ContactPhone is a contact's phone.
type ContactPhone struct {
	Phone string `json:"phone,omitempty"`
	Type  string `json:"type,omitempty"`
	WAID  string `json:"wa_id,omitempty"`
}

// ContactEmail is a contact's email.
type ContactEmail struct {
	Email string `json:"email,omitempty"`
	Type  string `json:"type,omitempty"`
}

// ContactOrg is a contact's organisation.
type ContactOrg struct {
	Company    string `json:"company,omitempty"`
	Department string `json:"department,omitempty"`
	Title      string `json:"title,omitempty"`
}

// ContactURL is a contact's URL.
type ContactURL struct {
	URL  string `json:"url,omitempty"`
	Type string `json:"type,omitempty"`
}

// ContactAddress is a contact's address.
type ContactAddress struct {
	Street      string `json:"street,omitempty"`
	City        string `json:"city,omitempty"`
	State       string `json:"state,omitempty"`
	Zip         string `json:"zip,omitempty"`
	Country     string `json:"country,omitempty"`
	CountryCode string `json:"country_code,omitempty"`
	Type        string `json:"type,omitempty"`
}

// Interactive is an interactive message.
type Interactive struct {
	Type   string             `json:"type"`
	Header *InteractiveHeader `json:"header,omitempty"`
	Body   *InteractiveText   `json:"body,omitempty"`
	Footer *InteractiveText   `json:"footer,omitempty"`
	Action *Action            `json:"action,omitempty"`
}

// InteractiveHeader is an interactive message's header.
type InteractiveHeader struct {
	Type     string `json:"type"`
	Text     string `json:"text,omitempty"`
	Image    *Media `json:"image,omitempty"`
	Video    *Media `json:"video,omitempty"`
	Document *Media `json:"document,omitempty"`
}

// InteractiveText is a body or footer.
type InteractiveText struct {
	Text string `json:"text"`
}

// Action is an interactive message's action.
type Action struct {
	Buttons           []Button        `json:"buttons,omitempty"`
	Button            string          `json:"button,omitempty"`
	Sections          []Section       `json:"sections,omitempty"`
	Name              string          `json:"name,omitempty"`
	Parameters        json.RawMessage `json:"parameters,omitempty"`
	CatalogID         string          `json:"catalog_id,omitempty"`
	ProductRetailerID string          `json:"product_retailer_id,omitempty"`
}

// Button is a reply button.
type Button struct {
	Type  string `json:"type"`
	Reply struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	} `json:"reply"`
}

// Section is a list section.
type Section struct {
	Title        string `json:"title,omitempty"`
	Rows         []Row  `json:"rows,omitempty"`
	ProductItems []struct {
		ProductRetailerID string `json:"product_retailer_id"`
	} `json:"product_items,omitempty"`
}

// Row is a list row.
type Row struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
}

// Template is a template message.
type Template struct {
	Name       string      `json:"name"`
	Language   *Language   `json:"language"`
	Components []Component `json:"components,omitempty"`
}

// Language selects a template translation.
type Language struct {
	Code   string `json:"code"`
	Policy string `json:"policy,omitempty"`
}

// Component is a template component with its parameters.
type Component struct {
	Type       string          `json:"type"`
	SubType    string          `json:"sub_type,omitempty"`
	Index      json.RawMessage `json:"index,omitempty"`
	Parameters []Parameter     `json:"parameters,omitempty"`
	Cards      json.RawMessage `json:"cards,omitempty"`
}

// Parameter is one template parameter.
type Parameter struct {
	Type          string          `json:"type"`
	ParameterName string          `json:"parameter_name,omitempty"`
	Text          *string         `json:"text,omitempty"`
	Payload       string          `json:"payload,omitempty"`
	Currency      *Currency       `json:"currency,omitempty"`
	DateTime      *DateTime       `json:"date_time,omitempty"`
	Image         *Media          `json:"image,omitempty"`
	Video         *Media          `json:"video,omitempty"`
	Document      *Media          `json:"document,omitempty"`
	Location      *Location       `json:"location,omitempty"`
	Action        json.RawMessage `json:"action,omitempty"`
	CouponCode    string          `json:"coupon_code,omitempty"`
}

// Currency is a currency parameter.
type Currency struct {
	FallbackValue string `json:"fallback_value"`
	Code          string `json:"code"`
	Amount1000    *int64 `json:"amount_1000"`
}

// DateTime is a date_time parameter.
type DateTime struct {
	FallbackValue string `json:"fallback_value"`
}

// Reaction reacts to (or, with an empty emoji, un-reacts to) a message.
type Reaction struct {
	MessageID string `json:"message_id"`
	Emoji     string `json:"emoji"`
}

// TypingIndicator accompanies a mark-as-read.
type TypingIndicator struct {
	Type string `json:"type"`
}

// ParseSend decodes and validates a send (or mark-as-read) request. Every
// rejection is a *graph.Error with the platform's code.
func ParseSend(body []byte) (*SendRequest, error) {
	var r SendRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, badParam("request body must hold exactly one JSON object")
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

func decodeError(err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		return badParam("(%s) must be of type %s", te.Field, te.Type.String())
	case errors.As(err, &se):
		return badParam("request body is not valid JSON")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return badParam("Unexpected key %s on param", strings.TrimPrefix(err.Error(), "json: unknown field "))
	case errors.Is(err, io.EOF):
		return missing("messaging_product")
	default:
		return badParam("request body is not valid JSON")
	}
}

// IsMarkRead reports whether the request is a mark-as-read.
func (r *SendRequest) IsMarkRead() bool { return r.Status != "" }

// WAID returns the recipient's digits-only WhatsApp id.
func (r *SendRequest) WAID() string { return NormalizePhone(r.To) }

// NormalizePhone strips "+", spaces, dashes, dots and parentheses; the
// result is "" unless 8 to 15 digits remain.
func NormalizePhone(s string) string {
	var b strings.Builder
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9':
			b.WriteRune(c)
		case c == '+' || c == ' ' || c == '-' || c == '(' || c == ')' || c == '.':
		default:
			return ""
		}
	}
	d := b.String()
	if len(d) < 8 || len(d) > 15 {
		return ""
	}
	return d
}

func runes(s string) int { return utf8.RuneCountInString(s) }

func checkLen(field, s string, max int) error {
	if runes(s) > max {
		return invalid("%s must be at most %d characters", field, max)
	}
	return nil
}

// Validate applies the platform's rules.
func (r *SendRequest) Validate() error {
	if r.MessagingProduct == "" {
		return missing("messaging_product")
	}
	if r.MessagingProduct != "whatsapp" {
		return badParam("messaging_product must be whatsapp")
	}
	if r.Status != "" {
		if r.Status != "read" {
			return badParam("status must be read")
		}
		if r.MessageID == "" {
			return missing("message_id")
		}
		if r.TypingIndicator != nil && r.TypingIndicator.Type != "text" {
			return invalid("typing_indicator.type must be text")
		}
		return nil
	}
	if r.RecipientType != "" && r.RecipientType != "individual" {
		return invalid("recipient_type %q is not supported", r.RecipientType)
	}
	if r.To == "" {
		return missing("to")
	}
	if r.WAID() == "" {
		return invalid("to must be a phone number of 8 to 15 digits")
	}
	if err := checkLen("biz_opaque_callback_data", r.BizOpaqueCallbackData, 512); err != nil {
		return err
	}
	if r.Context != nil && r.Context.MessageID == "" {
		return missing("context.message_id")
	}
	typ := r.Type
	if typ == "" {
		typ = "text"
	}
	present := r.payloads()
	if len(present) > 1 {
		return badParam("only one message object may be given, got %s", strings.Join(present, ", "))
	}
	if len(present) == 1 && present[0] != typ {
		return badParam("type is %s but the request carries %s", typ, present[0])
	}
	switch typ {
	case "text":
		if r.Text == nil {
			return missing("text")
		}
		if strings.TrimSpace(r.Text.Body) == "" {
			return missing("text.body")
		}
		return checkLen("text.body", r.Text.Body, 4096)
	case "image", "audio", "video", "document", "sticker":
		return validateMedia(typ, r.media(typ))
	case "location":
		return validateLocation("location", r.Location)
	case "contacts":
		return validateContacts(r.Contacts)
	case "interactive":
		return validateInteractive(r.Interactive)
	case "template":
		return validateTemplate(r.Template)
	case "reaction":
		if r.Reaction == nil {
			return missing("reaction")
		}
		if r.Reaction.MessageID == "" {
			return missing("reaction.message_id")
		}
		if runes(r.Reaction.Emoji) > 10 {
			return invalid("reaction.emoji must be a single emoji")
		}
		return nil
	default:
		return badParam("type %q is not a supported message type", typ)
	}
}

// payloads names the message objects present in the request.
func (r *SendRequest) payloads() []string {
	var out []string
	for name, set := range map[string]bool{
		"text": r.Text != nil, "image": r.Image != nil, "audio": r.Audio != nil, "video": r.Video != nil,
		"document": r.Document != nil, "sticker": r.Sticker != nil, "location": r.Location != nil,
		"contacts": r.Contacts != nil, "interactive": r.Interactive != nil, "template": r.Template != nil,
		"reaction": r.Reaction != nil,
	} {
		if set {
			out = append(out, name)
		}
	}
	if len(out) > 1 {
		sortStrings(out)
	}
	return out
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func (r *SendRequest) media(typ string) *Media {
	switch typ {
	case "image":
		return r.Image
	case "audio":
		return r.Audio
	case "video":
		return r.Video
	case "document":
		return r.Document
	default:
		return r.Sticker
	}
}

func validateMedia(field string, m *Media) error {
	if m == nil {
		return missing(field)
	}
	switch {
	case m.ID == "" && m.Link == "":
		return missing(field + ".id or " + field + ".link")
	case m.ID != "" && m.Link != "":
		return badParam("%s: give either id or link, not both", field)
	}
	if m.Link != "" {
		u, err := url.Parse(m.Link)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return invalid("%s.link must be an http(s) URL", field)
		}
	}
	if m.ID != "" && NormalizeID(m.ID) == "" {
		return invalid("%s.id is not a media id", field)
	}
	base := field
	if i := strings.LastIndexByte(field, '.'); i >= 0 {
		base = field[i+1:]
	}
	if m.Caption != "" && base != "image" && base != "video" && base != "document" {
		return badParam("%s.caption is only allowed on image, video and document", field)
	}
	if m.Filename != "" && base != "document" {
		return badParam("%s.filename is only allowed on document", field)
	}
	if m.Voice && base != "audio" {
		return badParam("%s.voice is only allowed on audio", field)
	}
	return checkLen(field+".caption", m.Caption, 1024)
}

// NormalizeID returns s if it is a numeric Graph id.
func NormalizeID(s string) string {
	if len(s) == 0 || len(s) > 32 {
		return ""
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return ""
		}
	}
	return s
}

func validateLocation(field string, l *Location) error {
	if l == nil {
		return missing(field)
	}
	if l.Latitude == nil {
		return missing(field + ".latitude")
	}
	if l.Longitude == nil {
		return missing(field + ".longitude")
	}
	if *l.Latitude < -90 || *l.Latitude > 90 {
		return invalid("%s.latitude must be between -90 and 90", field)
	}
	if *l.Longitude < -180 || *l.Longitude > 180 {
		return invalid("%s.longitude must be between -180 and 180", field)
	}
	return nil
}

func validateContacts(cs []Contact) error {
	if len(cs) == 0 {
		return missing("contacts")
	}
	if len(cs) > 257 {
		return invalid("contacts: at most 257 cards")
	}
	for i, c := range cs {
		if strings.TrimSpace(c.Name.FormattedName) == "" {
			return missing(fmt.Sprintf("contacts[%d].name.formatted_name", i))
		}
	}
	return nil
}

func validateInteractive(in *Interactive) error {
	if in == nil {
		return missing("interactive")
	}
	if in.Type == "" {
		return missing("interactive.type")
	}
	if in.Body == nil || strings.TrimSpace(in.Body.Text) == "" {
		if in.Type != "product" && in.Type != "catalog_message" {
			return missing("interactive.body.text")
		}
	}
	if in.Body != nil {
		if err := checkLen("interactive.body.text", in.Body.Text, 1024); err != nil {
			return err
		}
	}
	if in.Footer != nil {
		if err := checkLen("interactive.footer.text", in.Footer.Text, 60); err != nil {
			return err
		}
	}
	if h := in.Header; h != nil {
		switch h.Type {
		case "text":
			if h.Text == "" {
				return missing("interactive.header.text")
			}
			if err := checkLen("interactive.header.text", h.Text, 60); err != nil {
				return err
			}
		case "image", "video", "document":
			if in.Type != "button" {
				return invalid("interactive.header of a %s message must be text", in.Type)
			}
			m := map[string]*Media{"image": h.Image, "video": h.Video, "document": h.Document}[h.Type]
			if err := validateMedia("interactive.header."+h.Type, m); err != nil {
				return err
			}
		case "":
			return missing("interactive.header.type")
		default:
			return badParam("interactive.header.type %q is not supported", h.Type)
		}
	}
	if in.Action == nil {
		return missing("interactive.action")
	}
	a := in.Action
	switch in.Type {
	case "button":
		if len(a.Buttons) < 1 || len(a.Buttons) > 3 {
			return invalid("interactive.action.buttons must hold 1 to 3 buttons")
		}
		ids, titles := map[string]bool{}, map[string]bool{}
		for i, b := range a.Buttons {
			f := fmt.Sprintf("interactive.action.buttons[%d]", i)
			if b.Type != "reply" {
				return invalid("%s.type must be reply", f)
			}
			if b.Reply.ID == "" {
				return missing(f + ".reply.id")
			}
			if b.Reply.Title == "" {
				return missing(f + ".reply.title")
			}
			if err := checkLen(f+".reply.id", b.Reply.ID, 256); err != nil {
				return err
			}
			if err := checkLen(f+".reply.title", b.Reply.Title, 20); err != nil {
				return err
			}
			if ids[b.Reply.ID] || titles[b.Reply.Title] {
				return invalid("%s: button ids and titles must be unique", f)
			}
			ids[b.Reply.ID], titles[b.Reply.Title] = true, true
		}
	case "list":
		if a.Button == "" {
			return missing("interactive.action.button")
		}
		if err := checkLen("interactive.action.button", a.Button, 20); err != nil {
			return err
		}
		if len(a.Sections) < 1 || len(a.Sections) > 10 {
			return invalid("interactive.action.sections must hold 1 to 10 sections")
		}
		rows, ids := 0, map[string]bool{}
		for i, s := range a.Sections {
			f := fmt.Sprintf("interactive.action.sections[%d]", i)
			if len(a.Sections) > 1 && s.Title == "" {
				return missing(f + ".title")
			}
			if err := checkLen(f+".title", s.Title, 24); err != nil {
				return err
			}
			if len(s.Rows) == 0 {
				return missing(f + ".rows")
			}
			for j, r := range s.Rows {
				rf := fmt.Sprintf("%s.rows[%d]", f, j)
				rows++
				if r.ID == "" {
					return missing(rf + ".id")
				}
				if r.Title == "" {
					return missing(rf + ".title")
				}
				if err := checkLen(rf+".id", r.ID, 200); err != nil {
					return err
				}
				if err := checkLen(rf+".title", r.Title, 24); err != nil {
					return err
				}
				if err := checkLen(rf+".description", r.Description, 72); err != nil {
					return err
				}
				if ids[r.ID] {
					return invalid("%s.id must be unique", rf)
				}
				ids[r.ID] = true
			}
		}
		if rows > 10 {
			return invalid("interactive.action.sections: at most 10 rows in total")
		}
	case "cta_url":
		var p struct {
			DisplayText string `json:"display_text"`
			URL         string `json:"url"`
		}
		if err := json.Unmarshal(a.Parameters, &p); err != nil || p.DisplayText == "" || p.URL == "" {
			return missing("interactive.action.parameters.display_text and url")
		}
		if err := checkLen("interactive.action.parameters.display_text", p.DisplayText, 20); err != nil {
			return err
		}
		if u, err := url.Parse(p.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") {
			return invalid("interactive.action.parameters.url must be an http(s) URL")
		}
	case "flow":
		var p struct {
			FlowMessageVersion string `json:"flow_message_version"`
			FlowID             string `json:"flow_id"`
			FlowName           string `json:"flow_name"`
			FlowCTA            string `json:"flow_cta"`
			FlowAction         string `json:"flow_action"`
		}
		if err := json.Unmarshal(a.Parameters, &p); err != nil {
			return missing("interactive.action.parameters")
		}
		if p.FlowMessageVersion == "" {
			return missing("interactive.action.parameters.flow_message_version")
		}
		if p.FlowID == "" && p.FlowName == "" {
			return missing("interactive.action.parameters.flow_id")
		}
		if runes(p.FlowCTA) < 1 || runes(p.FlowCTA) > 20 {
			return invalid("interactive.action.parameters.flow_cta must be 1 to 20 characters")
		}
		if p.FlowAction != "" && p.FlowAction != "navigate" && p.FlowAction != "data_exchange" {
			return invalid("interactive.action.parameters.flow_action must be navigate or data_exchange")
		}
	case "location_request_message":
		if a.Name != "send_location" {
			return invalid("interactive.action.name must be send_location")
		}
	case "product", "product_list", "catalog_message", "call_permission_request":
		// Accepted structurally: catalogs are not modelled by waedge.
	default:
		return badParam("interactive.type %q is not supported", in.Type)
	}
	return nil
}

func validateTemplate(t *Template) error {
	if t == nil {
		return missing("template")
	}
	if t.Name == "" {
		return missing("template.name")
	}
	if t.Language == nil || t.Language.Code == "" {
		return missing("template.language.code")
	}
	if p := t.Language.Policy; p != "" && p != "deterministic" {
		return invalid("template.language.policy must be deterministic")
	}
	for i, c := range t.Components {
		f := fmt.Sprintf("template.components[%d]", i)
		switch c.Type {
		case "header", "body", "button", "carousel", "limited_time_offer", "tap_target_configuration":
		case "":
			return missing(f + ".type")
		default:
			return badParam("%s.type %q is not supported", f, c.Type)
		}
		if c.Type == "button" {
			switch c.SubType {
			case "quick_reply", "url", "copy_code", "flow", "catalog", "mpm", "voice_call":
			case "":
				return missing(f + ".sub_type")
			default:
				return invalid("%s.sub_type %q is not supported", f, c.SubType)
			}
			if len(c.Index) == 0 {
				return missing(f + ".index")
			}
		}
		for j, p := range c.Parameters {
			if err := validateParameter(fmt.Sprintf("%s.parameters[%d]", f, j), c.Type, p); err != nil {
				return err
			}
		}
	}
	return nil
}

func validateParameter(f, component string, p Parameter) error {
	if p.ParameterName != "" {
		if len(p.ParameterName) > 20 {
			return invalid("%s.parameter_name must be at most 20 characters", f)
		}
		for _, c := range p.ParameterName {
			if !(c >= 'a' && c <= 'z' || c == '_' || c >= '0' && c <= '9') {
				return invalid("%s.parameter_name must be lowercase letters, digits and _", f)
			}
		}
	}
	switch p.Type {
	case "text":
		if p.Text == nil {
			return missing(f + ".text")
		}
		max := 32768
		if component == "header" {
			max = 60
		}
		return checkLen(f+".text", *p.Text, max)
	case "currency":
		if p.Currency == nil {
			return missing(f + ".currency")
		}
		if p.Currency.FallbackValue == "" || p.Currency.Code == "" || p.Currency.Amount1000 == nil {
			return missing(f + ".currency.fallback_value, code and amount_1000")
		}
		if len(p.Currency.Code) != 3 {
			return invalid("%s.currency.code must be an ISO 4217 code", f)
		}
	case "date_time":
		if p.DateTime == nil || p.DateTime.FallbackValue == "" {
			return missing(f + ".date_time.fallback_value")
		}
	case "image", "video", "document":
		m := map[string]*Media{"image": p.Image, "video": p.Video, "document": p.Document}[p.Type]
		return validateMedia(f+"."+p.Type, m)
	case "location":
		return validateLocation(f+".location", p.Location)
	case "payload":
		if p.Payload == "" {
			return missing(f + ".payload")
		}
	case "action", "coupon_code", "product", "limited_time_offer":
	case "":
		return missing(f + ".type")
	default:
		return badParam("%s.type %q is not supported", f, p.Type)
	}
	return nil
}

// MessageContent returns the part of the request that is the message
// itself (everything a recipient sees), for storage.
func (r *SendRequest) MessageContent() *SendRequest {
	c := *r
	c.MessagingProduct, c.To, c.Recipient, c.RecipientType = "", "", "", ""
	c.BizOpaqueCallbackData, c.RecipientIdentityKeyHash = "", ""
	if c.Type == "" {
		c.Type = "text"
	}
	return &c
}
