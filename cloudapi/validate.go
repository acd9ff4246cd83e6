package cloudapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/waedge/waedge/graph"
)

// Limits of docs/cloud-api.md §2.3 (what client SDKs enforce and the platform
// mirrors). Lengths are in characters (Unicode code points).
const (
	MaxTextBody           = 4096
	MaxCaption            = 1024
	MaxCallbackData       = 512
	MaxInteractiveBody    = 1024
	MaxInteractiveHeader  = 60
	MaxInteractiveFooter  = 60
	MaxReplyButtons       = 3
	MaxReplyButtonTitle   = 20
	MaxReplyButtonID      = 256
	MaxListButton         = 20
	MaxListSections       = 10
	MaxListSectionTitle   = 24
	MaxListRows           = 10
	MaxListRowID          = 200
	MaxListRowTitle       = 24
	MaxListRowDescription = 72
	MaxCTADisplayText     = 20
	MaxFlowCTA            = 20
	MaxTemplateBodyParam  = 32768
	MaxTemplateHeaderText = 60
	MaxParameterName      = 20
	MaxContacts           = 257
)

func runes(s string) int { return utf8.RuneCountInString(s) }

func checkLen(field, s string, limit int) error {
	// A string of at most limit bytes has at most limit characters: only
	// a longer one is counted.
	if len(s) > limit && runes(s) > limit {
		return invalid("%s must be at most %d characters", field, limit)
	}
	return nil
}

// Validate applies the platform's rules to a decoded request. Codes: 100
// for unknown or unsupported values and misplaced fields, 131008 for a
// missing required field, 131009 for a value out of range.
func (r *SendRequest) Validate() error {
	if r.MessagingProduct == "" {
		return missing("messaging_product")
	}
	if r.MessagingProduct != "whatsapp" {
		return badParam("messaging_product must be whatsapp, not %q", r.MessagingProduct)
	}
	if r.Status != "" {
		return r.validateMarkRead()
	}
	if r.TypingIndicator != nil || r.MessageID != "" {
		return badParam("typing_indicator and message_id belong to a mark-as-read request (status read)")
	}
	if r.RecipientType != "" && r.RecipientType != "individual" {
		return invalid("recipient_type %q is not supported (only individual)", r.RecipientType)
	}
	if r.To == "" {
		if r.Recipient != "" {
			return invalid("recipient: business-scoped user ids are not supported, address the consumer with to")
		}
		return missing("to")
	}
	if r.WAID() == "" {
		return invalid("to must be a phone number of 8 to 15 digits (+, spaces, dashes, dots and parentheses are ignored)")
	}
	if err := checkLen("biz_opaque_callback_data", r.BizOpaqueCallbackData, MaxCallbackData); err != nil {
		return err
	}
	if r.Context != nil && r.Context.MessageID == "" {
		return missing("context.message_id")
	}
	typ := r.MessageType()
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
		return checkLen("text.body", r.Text.Body, MaxTextBody)
	case "image", "audio", "video", "document", "sticker":
		return validateMedia(typ, typ, r.media(typ))
	case "location":
		return validateLocation("location", r.Location)
	case "contacts":
		return validateContacts(r.Contacts)
	case "interactive":
		return validateInteractive(r.Interactive)
	case "template":
		return validateTemplate(r.Template)
	case "reaction":
		return validateReaction(r.Reaction)
	default:
		return badParam("type %q is not a supported message type", typ)
	}
}

func (r *SendRequest) validateMarkRead() error {
	if r.Status != "read" {
		return badParam("status must be read, not %q", r.Status)
	}
	if r.MessageID == "" {
		return missing("message_id")
	}
	if r.TypingIndicator != nil && r.TypingIndicator.Type != "text" {
		return invalid("typing_indicator.type must be text")
	}
	if present := r.payloads(); len(present) > 0 || r.Type != "" {
		return badParam("a mark-as-read request carries no message (type, %s)", strings.Join(present, ", "))
	}
	return nil
}

// payloads names the message objects present in the request, sorted.
func (r *SendRequest) payloads() []string {
	var out []string
	add := func(name string, set bool) {
		if set {
			out = append(out, name)
		}
	}
	add("audio", r.Audio != nil)
	add("contacts", r.Contacts != nil)
	add("document", r.Document != nil)
	add("image", r.Image != nil)
	add("interactive", r.Interactive != nil)
	add("location", r.Location != nil)
	add("reaction", r.Reaction != nil)
	add("sticker", r.Sticker != nil)
	add("template", r.Template != nil)
	add("text", r.Text != nil)
	add("video", r.Video != nil)
	return out
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
	case "sticker":
		return r.Sticker
	}
	return nil
}

// MediaObject is the media object of a media message (image, audio,
// video, document, sticker); nil for other types.
func (r *SendRequest) MediaObject() *Media { return r.media(r.MessageType()) }

// MediaRef is one media object of a message.
type MediaRef struct {
	// Field is the object's path in the request: "image",
	// "interactive.header.video", "template.components[0].parameters[0].document".
	Field string
	// Kind is the media type it must be: image, audio, video, document or sticker.
	Kind  string
	Media *Media
}

// MediaRefs lists the media objects of a message that refer to uploaded
// media by id: a media message's own, an interactive message's header,
// and template parameters. (Carousel cards are kept raw and not listed.)
func (r *SendRequest) MediaRefs() []MediaRef {
	var out []MediaRef
	add := func(field, kind string, m *Media) {
		if m != nil && m.ID != "" {
			out = append(out, MediaRef{Field: field, Kind: kind, Media: m})
		}
	}
	typ := r.MessageType()
	add(typ, typ, r.media(typ))
	if in := r.Interactive; typ == "interactive" && in != nil && in.Header != nil {
		add("interactive.header."+in.Header.Type, in.Header.Type, headerMedia(in.Header.Type, in.Header.Image, in.Header.Video, in.Header.Document))
	}
	if in := r.Interactive; typ == "interactive" && in != nil && in.Action != nil {
		for i, c := range in.Action.Cards {
			if h := c.Header; h != nil {
				add(fmt.Sprintf("interactive.action.cards[%d].header.%s", i, h.Type), h.Type, headerMedia(h.Type, h.Image, h.Video, nil))
			}
		}
	}
	if t := r.Template; typ == "template" && t != nil {
		// The field names are built only for parameters that reference
		// an uploaded id: most sends have none, and this runs per send.
		params := func(prefix func() string, ps []Parameter) {
			for j, p := range ps {
				if m := headerMedia(p.Type, p.Image, p.Video, p.Document); m != nil && m.ID != "" {
					add(fmt.Sprintf("%s.parameters[%d].%s", prefix(), j, p.Type), p.Type, m)
				}
			}
		}
		for i, c := range t.Components {
			params(func() string { return fmt.Sprintf("template.components[%d]", i) }, c.Parameters)
			// Carousel cards carry their own header media.
			for k, card := range c.carouselCards() {
				for m, cc := range card.Components {
					params(func() string {
						return fmt.Sprintf("template.components[%d].cards[%d].components[%d]", i, k, m)
					}, cc.Parameters)
				}
			}
		}
	}
	return out
}

// CarouselCard is one card of a carousel template component.
type CarouselCard struct {
	CardIndex  int         `json:"card_index"`
	Components []Component `json:"components"`
}

// carouselCards decodes the cards of a carousel component (none when it
// is not one, or they do not decode: the template check refuses those).
func (c Component) carouselCards() []CarouselCard {
	if len(c.Cards) == 0 {
		return nil
	}
	var cards []CarouselCard
	if json.Unmarshal(c.Cards, &cards) != nil {
		return nil
	}
	return cards
}

// headerMedia picks the media object of a header (or parameter) of type
// typ: image, video or document; nil for any other type.
func headerMedia(typ string, image, video, document *Media) *Media {
	switch typ {
	case "image":
		return image
	case "video":
		return video
	case "document":
		return document
	}
	return nil
}

// MediaIDs are the uploaded media a send refers to by id (normalized;
// links are not media ids): every object MediaRefs lists.
func (r *SendRequest) MediaIDs() []string {
	var ids []string
	for _, ref := range r.MediaRefs() {
		if id := NormalizeID(ref.Media.ID); id != "" {
			ids = append(ids, id)
		}
	}
	return ids
}

// validateMedia checks a media object; field is its path, kind its media
// type (image, audio, video, document, sticker).
func validateMedia(field, kind string, m *Media) error {
	if m == nil {
		return missing(field)
	}
	switch {
	case m.ID == "" && m.Link == "":
		return missing(field + ".id or " + field + ".link")
	case m.ID != "" && m.Link != "":
		return badParam("%s: give either id or link, not both", field)
	}
	// Only the link's shape is checked here. Where it points is judged when
	// it is fetched, at the address actually dialed (package egress): a
	// refused or unreachable link is accepted, then fails with 131053 by
	// status webhook, as on Meta.
	if m.Link != "" && !isHTTPURL(m.Link) {
		return invalid("%s.link must be an http(s) URL", field)
	}
	if m.ID != "" && NormalizeID(m.ID) == "" {
		return invalid("%s.id is not a media id", field)
	}
	if m.Caption != "" && kind != "image" && kind != "video" && kind != "document" {
		return badParam("%s.caption is only allowed on image, video and document", field)
	}
	if m.Filename != "" && kind != "document" {
		return badParam("%s.filename is only allowed on document", field)
	}
	if m.Voice && kind != "audio" {
		return badParam("%s.voice is only allowed on audio", field)
	}
	return checkLen(field+".caption", m.Caption, MaxCaption)
}

// isHTTPURL reports whether s is an absolute http(s) URL with a host.
func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
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
	if len(cs) > MaxContacts {
		return invalid("contacts must hold at most %d cards", MaxContacts)
	}
	for i, c := range cs {
		if strings.TrimSpace(c.Name.FormattedName) == "" {
			return missing(fmt.Sprintf("contacts[%d].name.formatted_name", i))
		}
	}
	return nil
}

func validateReaction(re *Reaction) error {
	if re == nil {
		return missing("reaction")
	}
	if re.MessageID == "" {
		return missing("reaction.message_id")
	}
	// An empty emoji removes the reaction. A single emoji may be several
	// code points (skin tones, ZWJ sequences, flags) but never text.
	if runes(re.Emoji) > 10 {
		return invalid("reaction.emoji must be a single emoji")
	}
	for _, c := range re.Emoji {
		if c < 0x80 && c != '#' && c != '*' && (c < '0' || c > '9') {
			return invalid("reaction.emoji must be a single emoji")
		}
	}
	return nil
}

// textHeaderOnly lists interactive types whose header must be text.
var textHeaderOnly = map[string]bool{"list": true, "cta_url": true, "flow": true, "product_list": true}

func validateInteractive(in *Interactive) error {
	if in == nil {
		return missing("interactive")
	}
	switch in.Type {
	case "":
		return missing("interactive.type")
	case "button", "list", "cta_url", "flow", "location_request_message",
		"product", "product_list", "catalog_message", "call_permission_request", "carousel":
	default:
		return badParam("interactive.type %q is not supported", in.Type)
	}
	bodyOptional := in.Type == "product" || in.Type == "product_list"
	if in.Body == nil || strings.TrimSpace(in.Body.Text) == "" {
		if !bodyOptional {
			return missing("interactive.body.text")
		}
	} else if err := checkLen("interactive.body.text", in.Body.Text, MaxInteractiveBody); err != nil {
		return err
	}
	if in.Footer != nil {
		if err := checkLen("interactive.footer.text", in.Footer.Text, MaxInteractiveFooter); err != nil {
			return err
		}
	}
	if err := validateHeader(in); err != nil {
		return err
	}
	if in.Action == nil {
		return missing("interactive.action")
	}
	switch in.Type {
	case "button":
		return validateButtons(in.Action.Buttons)
	case "list":
		return validateList(in.Action)
	case "cta_url":
		return validateCTA(in.Action)
	case "flow":
		return validateFlow(in.Action)
	case "carousel":
		return validateCarousel(in)
	case "location_request_message":
		if in.Action.Name != "send_location" {
			return invalid("interactive.action.name must be send_location")
		}
	case "product_list":
		if in.Header == nil {
			return missing("interactive.header")
		}
	}
	// product, catalog_message and call_permission_request are accepted
	// structurally: waedge does not model catalogs or calls.
	return nil
}

// Limits of interactive carousel messages
// (https://developers.facebook.com/docs/whatsapp/cloud-api/messages/interactive-media-carousel-messages).
const (
	MinCarouselCards    = 2
	MaxCarouselCards    = 10
	MaxCarouselCardBody = 160
)

// validateCarousel checks an interactive carousel: body text only on the
// message, 2 to 10 cards indexed 0…n-1, each with an image or video
// header, and all cards with the same kind of action — one cta_url, or
// quick-reply buttons (the same number on every card).
func validateCarousel(in *Interactive) error {
	if in.Header != nil || in.Footer != nil {
		return badParam("interactive.header and interactive.footer are not supported on a carousel")
	}
	cards := in.Action.Cards
	if len(cards) < MinCarouselCards || len(cards) > MaxCarouselCards {
		return invalid("interactive.action.cards must hold %d to %d cards", MinCarouselCards, MaxCarouselCards)
	}
	if len(in.Action.Buttons) > 0 || len(in.Action.Sections) > 0 || len(in.Action.Parameters) > 0 {
		return badParam("interactive.action of a carousel holds only cards")
	}
	shape := ""
	for i, c := range cards {
		f := fmt.Sprintf("interactive.action.cards[%d]", i)
		if c.CardIndex == nil {
			return missing(f + ".card_index")
		}
		if *c.CardIndex != i {
			return invalid("%s.card_index must be %d (cards are indexed 0 to %d in order)", f, i, len(cards)-1)
		}
		h := c.Header
		if h == nil {
			return missing(f + ".header")
		}
		if h.Type != "image" && h.Type != "video" {
			return invalid("%s.header.type must be image or video", f)
		}
		if err := validateMedia(f+".header."+h.Type, h.Type, headerMedia(h.Type, h.Image, h.Video, nil)); err != nil {
			return err
		}
		if c.Body != nil {
			if err := checkLen(f+".body.text", c.Body.Text, MaxCarouselCardBody); err != nil {
				return err
			}
		}
		if c.Action == nil {
			return missing(f + ".action")
		}
		// Meta's syntax sets type cta_url on every card; cards with
		// quick-reply buttons may leave it out. The action decides.
		if c.Type != "" && c.Type != "cta_url" {
			return invalid("%s.type must be cta_url", f)
		}
		var got string
		if len(c.Action.Buttons) > 0 {
			if c.Action.Name != "" || len(c.Action.Parameters) > 0 {
				return badParam("%s.action: give either a cta_url or quick-reply buttons, not both", f)
			}
			if err := validateQuickReplies(f+".action.buttons", c.Action.Buttons); err != nil {
				return err
			}
			got = fmt.Sprintf("%d quick-reply buttons", len(c.Action.Buttons))
		} else {
			if err := validateCTA(c.Action); err != nil {
				return prefixed(err, "interactive.action.", f+".action.")
			}
			got = "a cta_url"
		}
		if shape != "" && got != shape {
			return invalid("%s: every card must have the same action (%s, not %s)", f, shape, got)
		}
		shape = got
	}
	return nil
}

// validateQuickReplies checks the quick-reply buttons of a carousel card:
// type quick_reply with a unique id and title in quick_reply.
func validateQuickReplies(f string, buttons []Button) error {
	if len(buttons) > MaxReplyButtons {
		return invalid("%s must hold 1 to %d buttons", f, MaxReplyButtons)
	}
	ids := map[string]bool{}
	for i, b := range buttons {
		bf := fmt.Sprintf("%s[%d]", f, i)
		if b.Type != "quick_reply" {
			return invalid("%s.type must be quick_reply", bf)
		}
		if b.Reply != (ReplyButton{}) {
			return badParam("%s: a card's button takes quick_reply, not reply", bf)
		}
		switch {
		case b.QuickReply == nil || b.QuickReply.ID == "":
			return missing(bf + ".quick_reply.id")
		case b.QuickReply.Title == "":
			return missing(bf + ".quick_reply.title")
		case ids[b.QuickReply.ID]:
			return invalid("%s.quick_reply.id must be unique", bf)
		}
		if err := checkLen(bf+".quick_reply.id", b.QuickReply.ID, MaxReplyButtonID); err != nil {
			return err
		}
		if err := checkLen(bf+".quick_reply.title", b.QuickReply.Title, MaxReplyButtonTitle); err != nil {
			return err
		}
		ids[b.QuickReply.ID] = true
	}
	return nil
}

// prefixed rewrites the field path in a Graph error's details, for checks
// shared between a message's action and a card's.
func prefixed(err error, from, to string) error {
	g := graph.As(err)
	if g == nil {
		return err
	}
	c := *g
	c.Details = strings.ReplaceAll(c.Details, from, to)
	return &c
}

func validateHeader(in *Interactive) error {
	h := in.Header
	if h == nil {
		return nil
	}
	switch h.Type {
	case "text":
		if h.Text == "" {
			return missing("interactive.header.text")
		}
		return checkLen("interactive.header.text", h.Text, MaxInteractiveHeader)
	case "image", "video", "document":
		if textHeaderOnly[in.Type] {
			return invalid("interactive.header of a %s message must be text", in.Type)
		}
		return validateMedia("interactive.header."+h.Type, h.Type, headerMedia(h.Type, h.Image, h.Video, h.Document))
	case "":
		return missing("interactive.header.type")
	default:
		return badParam("interactive.header.type %q is not supported", h.Type)
	}
}

func validateButtons(buttons []Button) error {
	if len(buttons) < 1 || len(buttons) > MaxReplyButtons {
		return invalid("interactive.action.buttons must hold 1 to %d buttons", MaxReplyButtons)
	}
	ids, titles := map[string]bool{}, map[string]bool{}
	for i, b := range buttons {
		f := fmt.Sprintf("interactive.action.buttons[%d]", i)
		if b.Type != "reply" {
			return invalid("%s.type must be reply", f)
		}
		if b.QuickReply != nil {
			return badParam("%s: quick_reply belongs to a carousel card's button", f)
		}
		if b.Reply.ID == "" {
			return missing(f + ".reply.id")
		}
		if b.Reply.Title == "" {
			return missing(f + ".reply.title")
		}
		if err := checkLen(f+".reply.id", b.Reply.ID, MaxReplyButtonID); err != nil {
			return err
		}
		if err := checkLen(f+".reply.title", b.Reply.Title, MaxReplyButtonTitle); err != nil {
			return err
		}
		if ids[b.Reply.ID] {
			return invalid("%s.reply.id must be unique", f)
		}
		if titles[b.Reply.Title] {
			return invalid("%s.reply.title must be unique", f)
		}
		ids[b.Reply.ID], titles[b.Reply.Title] = true, true
	}
	return nil
}

func validateList(a *Action) error {
	if a.Button == "" {
		return missing("interactive.action.button")
	}
	if err := checkLen("interactive.action.button", a.Button, MaxListButton); err != nil {
		return err
	}
	if len(a.Sections) < 1 || len(a.Sections) > MaxListSections {
		return invalid("interactive.action.sections must hold 1 to %d sections", MaxListSections)
	}
	rows, ids := 0, map[string]bool{}
	for i, s := range a.Sections {
		f := fmt.Sprintf("interactive.action.sections[%d]", i)
		if len(a.Sections) > 1 && s.Title == "" {
			return missing(f + ".title")
		}
		if err := checkLen(f+".title", s.Title, MaxListSectionTitle); err != nil {
			return err
		}
		if len(s.Rows) == 0 {
			return missing(f + ".rows")
		}
		for j, r := range s.Rows {
			rf := fmt.Sprintf("%s.rows[%d]", f, j)
			rows++
			if rows > MaxListRows {
				return invalid("interactive.action.sections must hold at most %d rows in total", MaxListRows)
			}
			if r.ID == "" {
				return missing(rf + ".id")
			}
			if r.Title == "" {
				return missing(rf + ".title")
			}
			if err := checkLen(rf+".id", r.ID, MaxListRowID); err != nil {
				return err
			}
			if err := checkLen(rf+".title", r.Title, MaxListRowTitle); err != nil {
				return err
			}
			if err := checkLen(rf+".description", r.Description, MaxListRowDescription); err != nil {
				return err
			}
			if ids[r.ID] {
				return invalid("%s.id must be unique", rf)
			}
			ids[r.ID] = true
		}
	}
	return nil
}

// actionParams decodes interactive.action.parameters into v, naming the
// parameters object in any error.
func actionParams(a *Action, v any) error {
	if len(a.Parameters) == 0 || string(a.Parameters) == "null" {
		return missing("interactive.action.parameters")
	}
	if err := json.Unmarshal(a.Parameters, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return badParam("interactive.action.parameters.%s must be %s, not %s", te.Field, jsonKind(te.Type), te.Value)
		}
		return badParam("interactive.action.parameters must be an object")
	}
	return nil
}

func validateCTA(a *Action) error {
	var p struct {
		DisplayText string `json:"display_text"`
		URL         string `json:"url"`
	}
	if err := actionParams(a, &p); err != nil {
		return err
	}
	if a.Name != "" && a.Name != "cta_url" {
		return invalid("interactive.action.name must be cta_url")
	}
	if p.DisplayText == "" {
		return missing("interactive.action.parameters.display_text")
	}
	if err := checkLen("interactive.action.parameters.display_text", p.DisplayText, MaxCTADisplayText); err != nil {
		return err
	}
	if p.URL == "" {
		return missing("interactive.action.parameters.url")
	}
	if !isHTTPURL(p.URL) {
		return invalid("interactive.action.parameters.url must be an http(s) URL")
	}
	return nil
}

func validateFlow(a *Action) error {
	var p struct {
		FlowMessageVersion string `json:"flow_message_version"`
		FlowID             string `json:"flow_id"`
		FlowName           string `json:"flow_name"`
		FlowCTA            string `json:"flow_cta"`
		FlowAction         string `json:"flow_action"`
		Mode               string `json:"mode"`
	}
	if err := actionParams(a, &p); err != nil {
		return err
	}
	if a.Name != "" && a.Name != "flow" {
		return invalid("interactive.action.name must be flow")
	}
	if p.FlowMessageVersion == "" {
		return missing("interactive.action.parameters.flow_message_version")
	}
	if p.FlowID == "" && p.FlowName == "" {
		return missing("interactive.action.parameters.flow_id")
	}
	if p.FlowCTA == "" {
		return missing("interactive.action.parameters.flow_cta")
	}
	if err := checkLen("interactive.action.parameters.flow_cta", p.FlowCTA, MaxFlowCTA); err != nil {
		return err
	}
	if hasEmoji(p.FlowCTA) {
		return invalid("interactive.action.parameters.flow_cta must not contain emoji")
	}
	if p.FlowAction != "" && p.FlowAction != "navigate" && p.FlowAction != "data_exchange" {
		return invalid("interactive.action.parameters.flow_action must be navigate or data_exchange")
	}
	if p.Mode != "" && p.Mode != "draft" && p.Mode != "published" {
		return invalid("interactive.action.parameters.mode must be draft or published")
	}
	return nil
}

// validateDateTime checks the ranges of the optional component fields of
// a date_time parameter.
func validateDateTime(f string, d *DateTime) error {
	for _, r := range []struct {
		name     string
		v        *int
		min, max int
	}{
		{"day_of_week", d.DayOfWeek, 1, 7}, {"month", d.Month, 1, 12}, {"day_of_month", d.DayOfMonth, 1, 31},
		{"hour", d.Hour, 0, 23}, {"minute", d.Minute, 0, 59}, {"year", d.Year, 1, 9999},
	} {
		if r.v != nil && (*r.v < r.min || *r.v > r.max) {
			return invalid("%s.%s must be between %d and %d", f, r.name, r.min, r.max)
		}
	}
	if d.Calendar != "" && d.Calendar != "GREGORIAN" && d.Calendar != "SOLAR_HIJRI" {
		return invalid("%s.calendar must be GREGORIAN or SOLAR_HIJRI", f)
	}
	return nil
}

// hasEmoji reports whether s holds a pictographic character (the emoji
// blocks, dingbats, variation selector 16 or a zero-width joiner).
func hasEmoji(s string) bool {
	for _, c := range s {
		switch {
		case c >= 0x1F000 && c <= 0x1FAFF, // mahjong … symbols and pictographs extended-A
			c >= 0x2600 && c <= 0x27BF, // misc symbols, dingbats
			c >= 0x2B00 && c <= 0x2BFF, // arrows, stars
			c == 0xFE0F, c == 0x200D, c == 0x20E3:
			return true
		}
	}
	return false
}

var (
	componentTypes = map[string]bool{"header": true, "body": true, "button": true, "carousel": true,
		"limited_time_offer": true, "tap_target_configuration": true}
	buttonSubTypes = map[string]bool{"quick_reply": true, "url": true, "copy_code": true, "flow": true,
		"catalog": true, "mpm": true, "voice_call": true}
	// paramTypes lists the parameter types each component accepts.
	paramTypes = map[string][]string{
		"header": {"text", "image", "video", "document", "location", "product"},
		"body":   {"text", "currency", "date_time"},
		"button": {"payload", "text", "action", "coupon_code"},
	}
)

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
	for i := range t.Components {
		c := normalizeComponent(&t.Components[i])
		// A field's path is formatted only when there is an error to
		// report: the checks are pure, so a failing component is checked
		// again with its path (a valid one, every accepted send, is
		// checked once without).
		if validateComponent("", c) != nil {
			return validateComponent(fmt.Sprintf("template.components[%d]", i), c)
		}
	}
	return nil
}

// validateComponent checks one (normalized) template component; f is its
// path in error messages.
func validateComponent(f string, c Component) error {
	switch {
	case c.Type == "":
		return missing(f + ".type")
	case !componentTypes[c.Type]:
		return badParam("%s.type %q is not supported", f, c.Type)
	}
	if c.Type == "button" {
		switch {
		case c.SubType == "":
			return missing(f + ".sub_type")
		case !buttonSubTypes[c.SubType]:
			return invalid("%s.sub_type %q is not supported", f, c.SubType)
		}
		if len(c.Index) == 0 {
			return missing(f + ".index")
		}
		if _, err := buttonIndex(c.Index); err != nil {
			return invalid("%s.index must be the button position (0 to 9)", f)
		}
	}
	for j, p := range c.Parameters {
		if validateParameter("", c.Type, p) != nil { // as above: the path only for an error
			return validateParameter(fmt.Sprintf("%s.parameters[%d]", f, j), c.Type, p)
		}
	}
	return nil
}

// normalizeComponent lowercases the enum values of a template component
// and its parameters in place and returns it: Meta matches them without
// regard to case, and its own Postman collection sends "BODY", "CATALOG".
// Everything after validation (parameter matching, content) then sees one
// spelling.
func normalizeComponent(c *Component) Component {
	c.Type, c.SubType = strings.ToLower(c.Type), strings.ToLower(c.SubType)
	for j := range c.Parameters {
		c.Parameters[j].Type = strings.ToLower(c.Parameters[j].Type)
	}
	return *c
}

// buttonIndex reads a template button index, sent as "0" or 0.
func buttonIndex(raw json.RawMessage) (int, error) {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return 0, fmt.Errorf("index: %w", err)
		}
		s = n.String()
	}
	i, err := strconv.Atoi(s)
	if err != nil || i < 0 || i > 9 {
		return 0, fmt.Errorf("index %q out of range", s)
	}
	return i, nil
}

func validateParameter(f, component string, p Parameter) error {
	if p.ParameterName != "" {
		if len(p.ParameterName) > MaxParameterName {
			return invalid("%s.parameter_name must be at most %d characters", f, MaxParameterName)
		}
		for _, c := range p.ParameterName {
			if !(c >= 'a' && c <= 'z' || c == '_' || c >= '0' && c <= '9') {
				return invalid("%s.parameter_name must be lowercase letters, digits and _", f)
			}
		}
	}
	if p.Type == "" {
		return missing(f + ".type")
	}
	if allowed, ok := paramTypes[component]; ok && !slices.Contains(allowed, p.Type) {
		return badParam("%s.type %q is not allowed in a %s component", f, p.Type, component)
	}
	switch p.Type {
	case "text":
		if p.Text == nil {
			return missing(f + ".text")
		}
		limit := MaxTemplateBodyParam
		if component == "header" {
			limit = MaxTemplateHeaderText
		}
		return checkLen(f+".text", *p.Text, limit)
	case "currency":
		c := p.Currency
		switch {
		case c == nil:
			return missing(f + ".currency")
		case c.FallbackValue == "":
			return missing(f + ".currency.fallback_value")
		case c.Code == "":
			return missing(f + ".currency.code")
		case c.Amount1000 == nil:
			return missing(f + ".currency.amount_1000")
		case len(c.Code) != 3 || strings.ToUpper(c.Code) != c.Code:
			return invalid("%s.currency.code must be an ISO 4217 code", f)
		}
	case "date_time":
		if p.DateTime == nil || p.DateTime.FallbackValue == "" {
			return missing(f + ".date_time.fallback_value")
		}
		return validateDateTime(f+".date_time", p.DateTime)
	case "image", "video", "document":
		return validateMedia(f+"."+p.Type, p.Type, headerMedia(p.Type, p.Image, p.Video, p.Document))
	case "location":
		return validateLocation(f+".location", p.Location)
	case "payload":
		if p.Payload == "" {
			return missing(f + ".payload")
		}
	case "coupon_code":
		if p.CouponCode == "" {
			return missing(f + ".coupon_code")
		}
	case "action", "product", "limited_time_offer", "tap_target_configuration":
		// Accepted structurally.
	default:
		return badParam("%s.type %q is not supported", f, p.Type)
	}
	return nil
}
