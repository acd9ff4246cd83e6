package cloudapi

import (
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// CreateTemplateRequest is the body of POST /{waba-id}/message_templates
// (https://developers.facebook.com/docs/whatsapp/business-management-api/message-templates).
type CreateTemplateRequest struct {
	Name                       string              `json:"name"`
	Language                   string              `json:"language"`
	Category                   string              `json:"category"`
	SubCategory                string              `json:"sub_category,omitempty"`
	ParameterFormat            string              `json:"parameter_format,omitempty"`
	Components                 []TemplateComponent `json:"components"`
	MessageSendTTLSeconds      int                 `json:"message_send_ttl_seconds,omitempty"`
	AllowCategoryChange        bool                `json:"allow_category_change,omitempty"`
	CTAURLLinkTrackingOptedOut bool                `json:"cta_url_link_tracking_opted_out,omitempty"`
}

// TemplateComponent is one component of a template definition (or of a
// carousel card). AddSecurityRecommendation (BODY) and
// CodeExpirationMinutes (FOOTER) belong to authentication templates,
// LimitedTimeOffer to a LIMITED_TIME_OFFER component, Cards to a CAROUSEL.
type TemplateComponent struct {
	Type                      string            `json:"type"`
	Format                    string            `json:"format,omitempty"`
	Text                      string            `json:"text,omitempty"`
	Example                   json.RawMessage   `json:"example,omitempty"`
	Buttons                   []TemplateButton  `json:"buttons,omitempty"`
	Cards                     []TemplateCard    `json:"cards,omitempty"`
	AddSecurityRecommendation *bool             `json:"add_security_recommendation,omitempty"`
	CodeExpirationMinutes     *int              `json:"code_expiration_minutes,omitempty"`
	LimitedTimeOffer          *LimitedTimeOffer `json:"limited_time_offer,omitempty"`
}

// TemplateCard is one card of a carousel template.
type TemplateCard struct {
	Components []TemplateComponent `json:"components"`
}

// LimitedTimeOffer is the limited_time_offer object of a limited-time
// offer template.
type LimitedTimeOffer struct {
	Text          string `json:"text"`
	HasExpiration bool   `json:"has_expiration,omitempty"`
}

// TemplateButton is a button of a template definition. The OTP fields
// (otp_type, autofill_text, supported_apps, …) belong to authentication
// templates, the flow fields to FLOW buttons.
type TemplateButton struct {
	Type                 string          `json:"type"`
	Text                 string          `json:"text,omitempty"`
	URL                  string          `json:"url,omitempty"`
	PhoneNumber          string          `json:"phone_number,omitempty"`
	Example              json.RawMessage `json:"example,omitempty"`
	OTPType              string          `json:"otp_type,omitempty"`
	AutofillText         string          `json:"autofill_text,omitempty"`
	PackageName          string          `json:"package_name,omitempty"`
	SignatureHash        string          `json:"signature_hash,omitempty"`
	SupportedApps        []SupportedApp  `json:"supported_apps,omitempty"`
	ZeroTapTermsAccepted *bool           `json:"zero_tap_terms_accepted,omitempty"`
	FlowID               json.RawMessage `json:"flow_id,omitempty"`
	FlowName             string          `json:"flow_name,omitempty"`
	FlowJSON             string          `json:"flow_json,omitempty"`
	FlowAction           string          `json:"flow_action,omitempty"`
	NavigateScreen       string          `json:"navigate_screen,omitempty"`
	Icon                 string          `json:"icon,omitempty"`
}

// SupportedApp is an Android app a one-tap or zero-tap OTP button hands
// the code to.
type SupportedApp struct {
	PackageName   string `json:"package_name"`
	SignatureHash string `json:"signature_hash"`
}

var (
	templateName = regexp.MustCompile(`^[a-z0-9_]{1,512}$`)
	languageCode = regexp.MustCompile(`^[a-z]{2,3}(_[A-Z]{2,4})?$`)
	placeholder  = regexp.MustCompile(`\{\{\s*([a-z0-9_]+)\s*\}\}`)
)

// placeholders returns the distinct {{…}} placeholders of a text in order
// of first appearance.
func placeholders(text string) []string {
	var out []string
	for _, m := range placeholder.FindAllStringSubmatch(text, -1) {
		if !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	return out
}

// TemplateParams are the parameters a template definition takes in its
// body and its header text.
type TemplateParams struct {
	// Named: parameter_format NAMED; a send matches its parameters to
	// these by parameter_name. Otherwise they are positional and counted.
	Named bool
	// Body and Header are the placeholders in order of first appearance:
	// "1", "2", … for positional templates, the names for named ones.
	Body, Header []string
}

// PositionalParams are the parameters of a positional template that takes
// body and header parameters.
func PositionalParams(body, header int) TemplateParams {
	n := func(k int) []string {
		out := make([]string, k)
		for i := range out {
			out[i] = strconv.Itoa(i + 1)
		}
		return out
	}
	return TemplateParams{Body: n(body), Header: n(header)}
}

// namedExample is an example value of one named parameter.
type namedExample struct {
	ParamName string `json:"param_name"`
	Example   string `json:"example"`
}

// componentParams checks the placeholders of the text of the BODY or
// HEADER component (kind "body" or "header") against the template's
// parameter format and, for named parameters, against the component's
// example: one example for each name, required as Meta requires it.
func componentParams(kind, text string, named bool, example json.RawMessage) ([]string, error) {
	field := "components." + strings.ToUpper(kind)
	ps := placeholders(text)
	if !named {
		for i := range ps {
			if !slices.Contains(ps, strconv.Itoa(i+1)) {
				return nil, invalid("%s.text: positional parameters are {{1}} to {{%d}} (for {{name}} set parameter_format NAMED)", field, len(ps))
			}
		}
		return ps, nil
	}
	for _, p := range ps {
		if !validParamName(p) {
			return nil, invalid("%s.text: {{%s}} is not a parameter name (lowercase letters, digits and _, starting with a letter, at most %d)", field, p, MaxParameterName)
		}
	}
	if len(ps) == 0 {
		return ps, nil
	}
	key := kind + "_text_named_params"
	var ex map[string]json.RawMessage
	var given []namedExample
	malformed := len(example) > 0 && json.Unmarshal(example, &ex) != nil
	if malformed || (ex[key] != nil && json.Unmarshal(ex[key], &given) != nil) {
		return nil, badParam("%s.example.%s must be a list of {param_name, example}", field, key)
	}
	if len(given) == 0 {
		return nil, missing(field + ".example." + key)
	}
	var names []string
	for _, e := range given {
		if !slices.Contains(ps, e.ParamName) || slices.Contains(names, e.ParamName) || e.Example == "" {
			break
		}
		names = append(names, e.ParamName)
	}
	if len(names) != len(given) || len(names) != len(ps) {
		return nil, invalid("%s.example.%s must give one non-empty example for each of %s", field, key, strings.Join(ps, ", "))
	}
	return ps, nil
}

// validParamName reports whether s is a named parameter's name.
func validParamName(s string) bool {
	if s == "" || len(s) > MaxParameterName || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// ParseCreateTemplate decodes and validates a template definition. It
// returns the parameters the template takes.
func ParseCreateTemplate(body []byte) (*CreateTemplateRequest, TemplateParams, error) {
	var r CreateTemplateRequest
	if err := decodeStrict(body, &r); err != nil {
		return nil, TemplateParams{}, err
	}
	params, err := r.Validate()
	if err != nil {
		return nil, TemplateParams{}, err
	}
	return &r, params, nil
}

// Validate checks a decoded definition with Meta's rules, normalizes its
// enum values to upper case (authentication templates also get Meta's
// fixed body and footer text) and returns the parameters it takes.
func (r *CreateTemplateRequest) Validate() (TemplateParams, error) {
	switch {
	case r.Name == "":
		return TemplateParams{}, missing("name")
	case !templateName.MatchString(r.Name):
		return TemplateParams{}, invalid("name must be lowercase letters, digits and underscores (at most 512)")
	case r.Language == "":
		return TemplateParams{}, missing("language")
	case !languageCode.MatchString(r.Language):
		return TemplateParams{}, invalid("language %q is not a language code like en or en_US", r.Language)
	case r.Category == "":
		return TemplateParams{}, missing("category")
	}
	r.Category = strings.ToUpper(r.Category)
	if r.Category != "MARKETING" && r.Category != "UTILITY" && r.Category != "AUTHENTICATION" {
		return TemplateParams{}, invalid("category must be MARKETING, UTILITY or AUTHENTICATION")
	}
	r.ParameterFormat = strings.ToUpper(r.ParameterFormat)
	if p := r.ParameterFormat; p != "" && p != "POSITIONAL" && p != "NAMED" {
		return TemplateParams{}, invalid("parameter_format must be POSITIONAL or NAMED")
	}
	if err := checkTTL(r.Category, r.MessageSendTTLSeconds); err != nil {
		return TemplateParams{}, err
	}
	if len(r.Components) == 0 {
		return TemplateParams{}, missing("components")
	}
	seen := map[string]bool{}
	for i := range r.Components {
		c := &r.Components[i]
		c.Type = strings.ToUpper(c.Type)
		if seen[c.Type] {
			return TemplateParams{}, invalid("components: only one %s", c.Type)
		}
		seen[c.Type] = true
	}
	if r.Category == "AUTHENTICATION" {
		return authenticationTemplate(r, seen)
	}
	return r.components(seen)
}

// components checks the components of a marketing or utility template.
// seen holds the (distinct, upper-case) component types.
func (r *CreateTemplateRequest) components(seen map[string]bool) (TemplateParams, error) {
	params := TemplateParams{Named: r.ParameterFormat == "NAMED"}
	for i := range r.Components {
		c := &r.Components[i]
		if c.AddSecurityRecommendation != nil || c.CodeExpirationMinutes != nil {
			return TemplateParams{}, badParam("components.%s: add_security_recommendation and code_expiration_minutes belong to AUTHENTICATION templates", c.Type)
		}
		if c.LimitedTimeOffer != nil && c.Type != "LIMITED_TIME_OFFER" {
			return TemplateParams{}, badParam("components.%s: limited_time_offer belongs to a LIMITED_TIME_OFFER component", c.Type)
		}
		if len(c.Cards) > 0 && c.Type != "CAROUSEL" {
			return TemplateParams{}, badParam("components.%s: cards belong to a CAROUSEL component", c.Type)
		}
		switch c.Type {
		case "BODY":
			if strings.TrimSpace(c.Text) == "" {
				return TemplateParams{}, missing("components.BODY.text")
			}
			if runes(c.Text) > 1024 {
				return TemplateParams{}, invalid("components.BODY.text must be at most 1024 characters")
			}
			ps, err := componentParams("body", c.Text, params.Named, c.Example)
			if err != nil {
				return TemplateParams{}, err
			}
			params.Body = ps
		case "HEADER":
			ps, err := templateHeader("components.HEADER", c, params.Named)
			if err != nil {
				return TemplateParams{}, err
			}
			params.Header = ps
		case "FOOTER":
			if runes(c.Text) > 60 || len(placeholders(c.Text)) > 0 {
				return TemplateParams{}, invalid("components.FOOTER.text must be at most 60 characters without parameters")
			}
		case "BUTTONS":
			if err := templateButtons("components.BUTTONS", c.Buttons, 10); err != nil {
				return TemplateParams{}, err
			}
		case "CAROUSEL":
			if err := carouselCards(c.Cards); err != nil {
				return TemplateParams{}, err
			}
		case "LIMITED_TIME_OFFER":
			if err := limitedTimeOffer(r, c); err != nil {
				return TemplateParams{}, err
			}
		default:
			return TemplateParams{}, badParam("component type %q is not supported", c.Type)
		}
	}
	if !seen["BODY"] {
		return TemplateParams{}, missing("components: a BODY component")
	}
	if seen["CAROUSEL"] && (seen["HEADER"] || seen["FOOTER"] || seen["BUTTONS"]) {
		return TemplateParams{}, invalid("components: a carousel template has a BODY and the CAROUSEL only")
	}
	return params, nil
}

// templateHeader checks a HEADER component (of a template or a carousel
// card) and returns its text parameters.
func templateHeader(field string, c *TemplateComponent, named bool) ([]string, error) {
	c.Format = strings.ToUpper(c.Format)
	switch c.Format {
	case "TEXT", "":
		if runes(c.Text) > 60 {
			return nil, invalid("%s.text must be at most 60 characters", field)
		}
		ps, err := componentParams("header", c.Text, named, c.Example)
		if err != nil {
			return nil, err
		}
		if len(ps) > 1 {
			return nil, invalid("%s.text takes at most one parameter", field)
		}
		return ps, nil
	case "IMAGE", "VIDEO", "GIF", "DOCUMENT", "LOCATION", "PRODUCT":
		return nil, nil
	default:
		return nil, invalid("%s.format %q is not supported", field, c.Format)
	}
}

// MatchParams checks the body and header text parameters of a send
// against the template's (132000 on a mismatch): positional ones by
// count, named ones by parameter_name — each of the template's names
// exactly once, no other.
func (t *Template) MatchParams(want TemplateParams) error {
	var body, header []Parameter
	for _, c := range t.Components {
		switch c.Type {
		case "body":
			body = append(body, c.Parameters...)
		case "header":
			for _, p := range c.Parameters {
				if p.Type == "text" {
					header = append(header, p)
				}
			}
		}
	}
	if !want.Named {
		if len(body) != len(want.Body) || len(header) != len(want.Header) {
			return ErrTemplateParams.Withf("body: expected %d, received %d; header: expected %d, received %d",
				len(want.Body), len(body), len(want.Header), len(header))
		}
		return nil
	}
	if err := matchNamed("body", body, want.Body); err != nil {
		return err
	}
	return matchNamed("header", header, want.Header)
}

// matchNamed matches the parameters of one component to a named
// template's names.
func matchNamed(component string, got []Parameter, want []string) error {
	takes := "takes no parameters"
	if len(want) > 0 {
		takes = "takes the named parameters " + strings.Join(want, ", ")
	}
	var seen []string
	for i, p := range got {
		switch {
		case p.ParameterName == "":
			return ErrTemplateParams.Withf("%s: parameters[%d] has no parameter_name; the template %s", component, i, takes)
		case !slices.Contains(want, p.ParameterName):
			return ErrTemplateParams.Withf("%s: parameter %s is not in the template, which %s", component, p.ParameterName, takes)
		case slices.Contains(seen, p.ParameterName):
			return ErrTemplateParams.Withf("%s: parameter %s is given twice", component, p.ParameterName)
		}
		seen = append(seen, p.ParameterName)
	}
	for _, name := range want {
		if !slices.Contains(seen, name) {
			return ErrTemplateParams.Withf("%s: parameter %s is missing; the template %s", component, name, takes)
		}
	}
	return nil
}
