package cloudapi

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Limits of template definitions that Meta enforces on creation
// (https://developers.facebook.com/docs/whatsapp/business-management-api/message-templates/components,
// …/authentication-templates, …/limited-time-offer-templates,
// …/media-card-carousel-templates).
const (
	MaxTemplateButtonText      = 25
	MaxTemplateURL             = 2000
	MaxTemplatePhoneNumber     = 20
	MaxCodeExpirationMinutes   = 90
	MaxSupportedApps           = 5
	MaxLimitedTimeOfferText    = 16
	MaxCarouselTemplateCards   = 10
	MaxCarouselCardBodyText    = 160
	MaxCarouselCardButtons     = 2
	MaxCopyCodeExample         = 15
	MinTemplateTTLSeconds      = 30
	MaxAuthenticationTTL       = 900
	MaxUtilityTTL              = 43200
	MinMarketingTTL            = 43200
	MaxMarketingTTL            = 2592000
	authenticationBody         = "*{{1}}* is your verification code."
	authenticationSecurityNote = " For your security, do not share this code."
)

// checkTTL checks message_send_ttl_seconds against the range Meta allows
// for the category (…/message-templates#customizing-time-to-live):
// authentication 30 s to 15 min, utility 30 s to 12 h, marketing 12 h to
// 30 days. 0 is "not given" (the platform default).
func checkTTL(category string, ttl int) error {
	if ttl == 0 {
		return nil
	}
	lo, hi := MinTemplateTTLSeconds, MaxUtilityTTL
	switch category {
	case "AUTHENTICATION":
		hi = MaxAuthenticationTTL
	case "MARKETING":
		lo, hi = MinMarketingTTL, MaxMarketingTTL
	}
	if ttl < lo || ttl > hi {
		return invalid("message_send_ttl_seconds of a %s template must be between %d and %d", category, lo, hi)
	}
	return nil
}

// authenticationTemplate checks an authentication template: a BODY with
// no text of its own (add_security_recommendation only), an optional
// FOOTER with code_expiration_minutes only, and one OTP button. The body
// and footer get Meta's fixed text, as GET shows them; the body takes the
// code as its one parameter.
// seen holds the (distinct, upper-case) component types.
func authenticationTemplate(r *CreateTemplateRequest, seen map[string]bool) (TemplateParams, error) {
	if r.ParameterFormat == "NAMED" {
		return TemplateParams{}, invalid("parameter_format: authentication templates take the code as their one positional parameter")
	}
	for i := range r.Components {
		c := &r.Components[i]
		f := "components." + c.Type
		switch c.Type {
		case "BODY":
			// Meta's own text (as stored and shown) is accepted back, so
			// that a stored definition validates again on an edit.
			if (c.Text != "" && c.Text != authenticationBody && c.Text != authenticationBody+authenticationSecurityNote) ||
				len(c.Example) > 0 || c.CodeExpirationMinutes != nil {
				return TemplateParams{}, badParam("%s of an authentication template takes add_security_recommendation only (its text is fixed)", f)
			}
			c.Text = authenticationBody
			if c.AddSecurityRecommendation != nil && *c.AddSecurityRecommendation {
				c.Text += authenticationSecurityNote
			}
		case "FOOTER":
			if m := c.CodeExpirationMinutes; m == nil {
				return TemplateParams{}, missing(f + ".code_expiration_minutes")
			} else if *m < 1 || *m > MaxCodeExpirationMinutes {
				return TemplateParams{}, invalid("%s.code_expiration_minutes must be between 1 and %d", f, MaxCodeExpirationMinutes)
			}
			text := fmt.Sprintf("This code expires in %d minutes.", *c.CodeExpirationMinutes)
			if (c.Text != "" && c.Text != text) || c.AddSecurityRecommendation != nil {
				return TemplateParams{}, badParam("%s of an authentication template takes code_expiration_minutes only (its text is fixed)", f)
			}
			c.Text = text
		case "BUTTONS":
			if len(c.Buttons) != 1 || !strings.EqualFold(c.Buttons[0].Type, "OTP") {
				return TemplateParams{}, invalid("%s of an authentication template holds exactly one OTP button", f)
			}
			if err := otpButton(f+".buttons[0]", &c.Buttons[0]); err != nil {
				return TemplateParams{}, err
			}
		default:
			return TemplateParams{}, badParam("component type %q is not supported in an authentication template (BODY, FOOTER and BUTTONS)", c.Type)
		}
	}
	if !seen["BODY"] {
		return TemplateParams{}, missing("components: a BODY component")
	}
	if !seen["BUTTONS"] {
		return TemplateParams{}, missing("components: a BUTTONS component with an OTP button")
	}
	return PositionalParams(1, 0), nil
}

// otpButton checks the OTP button of an authentication template: copy
// code, one-tap autofill or zero-tap (the last two name the Android apps
// that receive the code; zero-tap needs its terms accepted).
func otpButton(f string, b *TemplateButton) error {
	b.Type, b.OTPType = "OTP", strings.ToUpper(b.OTPType)
	if err := checkLen(f+".text", b.Text, MaxTemplateButtonText); err != nil {
		return err
	}
	if err := checkLen(f+".autofill_text", b.AutofillText, MaxTemplateButtonText); err != nil {
		return err
	}
	switch b.OTPType {
	case "":
		return missing(f + ".otp_type")
	case "COPY_CODE":
		if b.AutofillText != "" || b.PackageName != "" || len(b.SupportedApps) > 0 || b.ZeroTapTermsAccepted != nil {
			return badParam("%s: a COPY_CODE button takes text only", f)
		}
		return nil
	case "ONE_TAP", "ZERO_TAP":
	default:
		return invalid("%s.otp_type must be COPY_CODE, ONE_TAP or ZERO_TAP", f)
	}
	apps := b.SupportedApps
	if b.PackageName != "" || b.SignatureHash != "" { // the older single-app form
		if len(apps) > 0 {
			return badParam("%s: give supported_apps or package_name and signature_hash, not both", f)
		}
		apps = []SupportedApp{{PackageName: b.PackageName, SignatureHash: b.SignatureHash}}
	}
	if len(apps) == 0 {
		return missing(f + ".supported_apps")
	}
	if len(apps) > MaxSupportedApps {
		return invalid("%s.supported_apps must hold at most %d apps", f, MaxSupportedApps)
	}
	for i, a := range apps {
		switch {
		case a.PackageName == "":
			return missing(fmt.Sprintf("%s.supported_apps[%d].package_name", f, i))
		case len(a.SignatureHash) != 11:
			return invalid("%s.supported_apps[%d].signature_hash must be the app's 11-character signing key hash", f, i)
		}
	}
	if b.OTPType == "ZERO_TAP" && (b.ZeroTapTermsAccepted == nil || !*b.ZeroTapTermsAccepted) {
		return invalid("%s.zero_tap_terms_accepted must be true for a ZERO_TAP button", f)
	}
	if b.OTPType == "ONE_TAP" && b.ZeroTapTermsAccepted != nil {
		return badParam("%s: zero_tap_terms_accepted belongs to a ZERO_TAP button", f)
	}
	return nil
}

// templateButtons checks the buttons of a BUTTONS component (most holds
// up to max buttons).
func templateButtons(f string, buttons []TemplateButton, most int) error {
	if len(buttons) == 0 || len(buttons) > most {
		return invalid("%s must hold 1 to %d buttons", f, most)
	}
	for i := range buttons {
		b := &buttons[i]
		bf := fmt.Sprintf("%s.buttons[%d]", f, i)
		b.Type = strings.ToUpper(b.Type)
		if err := checkLen(bf+".text", b.Text, MaxTemplateButtonText); err != nil {
			return err
		}
		var err error
		switch b.Type {
		case "QUICK_REPLY", "VOICE_CALL":
			if b.Text == "" {
				err = missing(bf + ".text")
			}
		case "URL":
			err = urlButton(bf, b)
		case "PHONE_NUMBER":
			switch {
			case b.PhoneNumber == "":
				err = missing(bf + ".phone_number")
			case len(b.PhoneNumber) > MaxTemplatePhoneNumber || NormalizePhone(b.PhoneNumber) == "":
				err = invalid("%s.phone_number must be a phone number of at most %d characters", bf, MaxTemplatePhoneNumber)
			}
		case "COPY_CODE":
			err = copyCodeButton(bf, b)
		case "FLOW":
			err = flowButton(bf, b)
		case "OTP":
			err = badParam("%s: OTP buttons belong to AUTHENTICATION templates", bf)
		case "MPM", "SPM", "CATALOG", "APP":
		default:
			err = invalid("button type %q is not supported", b.Type)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// urlButton checks a URL button: an http(s) URL, at most one parameter,
// at its end, with an example.
func urlButton(f string, b *TemplateButton) error {
	switch {
	case b.Text == "":
		return missing(f + ".text")
	case b.URL == "":
		return missing(f + ".url")
	case runes(b.URL) > MaxTemplateURL:
		return invalid("%s.url must be at most %d characters", f, MaxTemplateURL)
	case !isHTTPURL(strings.ReplaceAll(b.URL, "{{1}}", "x")):
		return invalid("%s.url must be an http(s) URL", f)
	}
	ps := placeholders(b.URL)
	if len(ps) == 0 {
		return nil
	}
	if len(ps) > 1 || ps[0] != "1" || !strings.HasSuffix(b.URL, "{{1}}") {
		return invalid("%s.url takes one parameter, {{1}}, at its end", f)
	}
	var ex []string
	if json.Unmarshal(b.Example, &ex) != nil || len(ex) != 1 || ex[0] == "" {
		return missing(f + ".example (one example URL for {{1}})")
	}
	return nil
}

// copyCodeButton checks a coupon code button: an example code of at most
// 15 characters.
func copyCodeButton(f string, b *TemplateButton) error {
	var ex string
	if len(b.Example) == 0 {
		return missing(f + ".example")
	}
	if json.Unmarshal(b.Example, &ex) != nil {
		var list []string
		if json.Unmarshal(b.Example, &list) != nil || len(list) != 1 {
			return badParam("%s.example must be the example code", f)
		}
		ex = list[0]
	}
	if ex == "" || runes(ex) > MaxCopyCodeExample {
		return invalid("%s.example must be a code of 1 to %d characters", f, MaxCopyCodeExample)
	}
	return nil
}

// flowButton checks a FLOW button
// (https://developers.facebook.com/docs/whatsapp/flows/guides/sendingaflow#templates):
// exactly one of flow_id, flow_name and flow_json, an action and icon of
// Meta's sets.
func flowButton(f string, b *TemplateButton) error {
	if b.Text == "" {
		return missing(f + ".text")
	}
	given := 0
	for _, set := range []bool{len(b.FlowID) > 0 && string(b.FlowID) != "null", b.FlowName != "", b.FlowJSON != ""} {
		if set {
			given++
		}
	}
	if given != 1 {
		return invalid("%s: give exactly one of flow_id, flow_name and flow_json", f)
	}
	if len(b.FlowID) > 0 {
		var s string
		var n json.Number
		if json.Unmarshal(b.FlowID, &s) != nil && json.Unmarshal(b.FlowID, &n) != nil {
			return badParam("%s.flow_id must be a string or a number", f)
		}
	}
	if b.FlowJSON != "" && !json.Valid([]byte(b.FlowJSON)) {
		return invalid("%s.flow_json must be a Flow's JSON", f)
	}
	b.FlowAction, b.Icon = strings.ToUpper(b.FlowAction), strings.ToUpper(b.Icon)
	if a := b.FlowAction; a != "" && a != "NAVIGATE" && a != "DATA_EXCHANGE" {
		return invalid("%s.flow_action must be NAVIGATE or DATA_EXCHANGE", f)
	}
	if b.NavigateScreen != "" && b.FlowAction == "DATA_EXCHANGE" {
		return badParam("%s.navigate_screen belongs to a NAVIGATE flow_action", f)
	}
	if i := b.Icon; i != "" && i != "DOCUMENT" && i != "PROMOTION" && i != "REVIEW" {
		return invalid("%s.icon must be DOCUMENT, PROMOTION or REVIEW", f)
	}
	return nil
}

// limitedTimeOffer checks a LIMITED_TIME_OFFER component: marketing only,
// a short offer text, no footer; an offer that expires needs a COPY_CODE
// button and every offer a URL button.
func limitedTimeOffer(r *CreateTemplateRequest, c *TemplateComponent) error {
	const f = "components.LIMITED_TIME_OFFER"
	o := c.LimitedTimeOffer
	switch {
	case r.Category != "MARKETING":
		return invalid("%s: limited-time offers are MARKETING templates", f)
	case o == nil:
		return missing(f + ".limited_time_offer")
	case strings.TrimSpace(o.Text) == "":
		return missing(f + ".limited_time_offer.text")
	case runes(o.Text) > MaxLimitedTimeOfferText:
		return invalid("%s.limited_time_offer.text must be at most %d characters", f, MaxLimitedTimeOfferText)
	case c.Text != "" || len(c.Buttons) > 0:
		return badParam("%s takes limited_time_offer only", f)
	}
	var hasURL, hasCode bool
	for _, other := range r.Components {
		if strings.EqualFold(other.Type, "FOOTER") {
			return invalid("%s: limited-time offer templates have no FOOTER", f)
		}
		for _, b := range other.Buttons {
			hasURL = hasURL || strings.EqualFold(b.Type, "URL")
			hasCode = hasCode || strings.EqualFold(b.Type, "COPY_CODE")
		}
	}
	if !hasURL {
		return missing("components.BUTTONS: a URL button (limited-time offer)")
	}
	if o.HasExpiration && !hasCode {
		return missing("components.BUTTONS: a COPY_CODE button (an offer with has_expiration)")
	}
	return nil
}

// carouselCards checks the cards of a carousel template: 2 to 10, each a
// media HEADER (all of one format), an optional BODY of at most 160
// characters, and 1 or 2 buttons of the same types on every card.
func carouselCards(cards []TemplateCard) error {
	const f = "components.CAROUSEL.cards"
	if len(cards) < MinCarouselCards || len(cards) > MaxCarouselTemplateCards {
		return invalid("%s must hold %d to %d cards", f, MinCarouselCards, MaxCarouselTemplateCards)
	}
	var format, buttons string
	for i := range cards {
		cf := fmt.Sprintf("%s[%d]", f, i)
		var cardFormat, cardButtons string
		for j := range cards[i].Components {
			c := &cards[i].Components[j]
			c.Type = strings.ToUpper(c.Type)
			switch c.Type {
			case "HEADER":
				c.Format = strings.ToUpper(c.Format)
				if c.Format != "IMAGE" && c.Format != "VIDEO" {
					return invalid("%s.HEADER.format must be IMAGE or VIDEO", cf)
				}
				cardFormat = c.Format
			case "BODY":
				if strings.TrimSpace(c.Text) == "" {
					return missing(cf + ".BODY.text")
				}
				if runes(c.Text) > MaxCarouselCardBodyText {
					return invalid("%s.BODY.text must be at most %d characters", cf, MaxCarouselCardBodyText)
				}
			case "BUTTONS":
				if err := templateButtons(cf+".BUTTONS", c.Buttons, MaxCarouselCardButtons); err != nil {
					return err
				}
				var kinds []string
				for _, b := range c.Buttons {
					if b.Type != "QUICK_REPLY" && b.Type != "URL" && b.Type != "PHONE_NUMBER" {
						return invalid("%s.BUTTONS: a card's buttons are QUICK_REPLY, URL or PHONE_NUMBER", cf)
					}
					kinds = append(kinds, b.Type)
				}
				cardButtons = strings.Join(kinds, ",")
			default:
				return badParam("%s: component type %q is not supported on a card", cf, c.Type)
			}
		}
		switch {
		case cardFormat == "":
			return missing(cf + ".HEADER")
		case cardButtons == "":
			return missing(cf + ".BUTTONS")
		case i > 0 && cardFormat != format:
			return invalid("%s.HEADER.format must be %s like the first card's", cf, format)
		case i > 0 && cardButtons != buttons:
			return invalid("%s.BUTTONS must be %s like the first card's", cf, buttons)
		}
		format, buttons = cardFormat, cardButtons
	}
	return nil
}

// HelloWorld is the template Meta creates, approved, on every new WABA so
// that a first send works: hello_world, en_US, UTILITY, with Meta's text
// (https://developers.facebook.com/docs/whatsapp/cloud-api/get-started#send-a-test-message).
func HelloWorld() CreateTemplateRequest {
	return CreateTemplateRequest{Name: "hello_world", Language: "en_US", Category: "UTILITY",
		Components: []TemplateComponent{
			{Type: "HEADER", Format: "TEXT", Text: "Hello World"},
			{Type: "BODY", Text: "Welcome and congratulations!! This message demonstrates your ability to send a WhatsApp message notification from the Cloud API, hosted by Meta. Thank you for taking the time to test with us."},
			{Type: "FOOTER", Text: "WhatsApp Business Platform sample message"},
		}}
}

// EditTemplateRequest is the body of POST /{template-id}: a new category,
// components or time-to-live (at least one).
type EditTemplateRequest struct {
	Category              string              `json:"category,omitempty"`
	Components            []TemplateComponent `json:"components,omitempty"`
	MessageSendTTLSeconds int                 `json:"message_send_ttl_seconds,omitempty"`
	ParameterFormat       string              `json:"parameter_format,omitempty"`
}

// ParseEditTemplate decodes an edit and applies it to the template's
// current definition (name, language, category, parameter format,
// components and TTL as stored): the result is validated like a new
// definition and returned with the parameters it takes.
func ParseEditTemplate(body []byte, current CreateTemplateRequest) (*CreateTemplateRequest, TemplateParams, error) {
	var e EditTemplateRequest
	if err := decodeStrict(body, &e); err != nil {
		return nil, TemplateParams{}, err
	}
	if e.Category == "" && e.Components == nil && e.MessageSendTTLSeconds == 0 && e.ParameterFormat == "" {
		return nil, TemplateParams{}, missing("category, components or message_send_ttl_seconds")
	}
	r := current
	if e.Category != "" {
		r.Category = e.Category
	}
	if e.Components != nil {
		r.Components = e.Components
	}
	if e.MessageSendTTLSeconds != 0 {
		r.MessageSendTTLSeconds = e.MessageSendTTLSeconds
	}
	if e.ParameterFormat != "" {
		r.ParameterFormat = e.ParameterFormat
	}
	params, err := r.Validate()
	if err != nil {
		return nil, TemplateParams{}, err
	}
	return &r, params, nil
}
