package cloudapi

import (
	"encoding/json"
	"regexp"
	"strings"
)

// CreateTemplateRequest is the body of POST /{waba-id}/message_templates.
type CreateTemplateRequest struct {
	Name                  string              `json:"name"`
	Language              string              `json:"language"`
	Category              string              `json:"category"`
	ParameterFormat       string              `json:"parameter_format,omitempty"`
	Components            []TemplateComponent `json:"components"`
	MessageSendTTLSeconds int                 `json:"message_send_ttl_seconds,omitempty"`
	AllowCategoryChange   bool                `json:"allow_category_change,omitempty"`
}

// TemplateComponent is one component of a template definition.
type TemplateComponent struct {
	Type    string           `json:"type"`
	Format  string           `json:"format,omitempty"`
	Text    string           `json:"text,omitempty"`
	Example json.RawMessage  `json:"example,omitempty"`
	Buttons []TemplateButton `json:"buttons,omitempty"`
	Cards   json.RawMessage  `json:"cards,omitempty"`
}

// TemplateButton is a button of a template definition.
type TemplateButton struct {
	Type        string          `json:"type"`
	Text        string          `json:"text,omitempty"`
	URL         string          `json:"url,omitempty"`
	PhoneNumber string          `json:"phone_number,omitempty"`
	Example     json.RawMessage `json:"example,omitempty"`
	OTPType     string          `json:"otp_type,omitempty"`
	FlowID      json.RawMessage `json:"flow_id,omitempty"`
	FlowAction  string          `json:"flow_action,omitempty"`
}

var (
	templateName = regexp.MustCompile(`^[a-z0-9_]{1,512}$`)
	languageCode = regexp.MustCompile(`^[a-z]{2,3}(_[A-Z]{2,4})?$`)
	placeholder  = regexp.MustCompile(`\{\{\s*([a-z0-9_]+)\s*\}\}`)
)

// Params counts the distinct {{…}} placeholders of a text.
func Params(text string) int {
	seen := map[string]bool{}
	for _, m := range placeholder.FindAllStringSubmatch(text, -1) {
		seen[m[1]] = true
	}
	return len(seen)
}

// ParseCreateTemplate decodes and validates a template definition. It
// returns the number of body and header parameters the template takes.
func ParseCreateTemplate(body []byte) (*CreateTemplateRequest, int, int, error) {
	var r CreateTemplateRequest
	if err := decodeStrict(body, &r); err != nil {
		return nil, 0, 0, err
	}
	switch {
	case r.Name == "":
		return nil, 0, 0, missing("name")
	case !templateName.MatchString(r.Name):
		return nil, 0, 0, invalid("name must be lowercase letters, digits and underscores (at most 512)")
	case r.Language == "":
		return nil, 0, 0, missing("language")
	case !languageCode.MatchString(r.Language):
		return nil, 0, 0, invalid("language %q is not a language code like en or en_US", r.Language)
	case r.Category == "":
		return nil, 0, 0, missing("category")
	}
	r.Category = strings.ToUpper(r.Category)
	if r.Category != "MARKETING" && r.Category != "UTILITY" && r.Category != "AUTHENTICATION" {
		return nil, 0, 0, invalid("category must be MARKETING, UTILITY or AUTHENTICATION")
	}
	if p := r.ParameterFormat; p != "" && p != "POSITIONAL" && p != "NAMED" {
		return nil, 0, 0, invalid("parameter_format must be POSITIONAL or NAMED")
	}
	if len(r.Components) == 0 {
		return nil, 0, 0, missing("components")
	}
	bodies, nBody, nHeader := 0, 0, 0
	seen := map[string]bool{}
	for i, c := range r.Components {
		c.Type = strings.ToUpper(c.Type)
		r.Components[i].Type = c.Type
		if seen[c.Type] {
			return nil, 0, 0, invalid("components: only one %s", c.Type)
		}
		seen[c.Type] = true
		switch c.Type {
		case "BODY":
			bodies++
			if strings.TrimSpace(c.Text) == "" {
				return nil, 0, 0, missing("components.BODY.text")
			}
			if runes(c.Text) > 1024 {
				return nil, 0, 0, invalid("components.BODY.text must be at most 1024 characters")
			}
			nBody = Params(c.Text)
		case "HEADER":
			switch strings.ToUpper(c.Format) {
			case "TEXT", "":
				if runes(c.Text) > 60 {
					return nil, 0, 0, invalid("components.HEADER.text must be at most 60 characters")
				}
				nHeader = Params(c.Text)
				if nHeader > 1 {
					return nil, 0, 0, invalid("components.HEADER.text takes at most one parameter")
				}
			case "IMAGE", "VIDEO", "GIF", "DOCUMENT", "LOCATION", "PRODUCT":
			default:
				return nil, 0, 0, invalid("components.HEADER.format %q is not supported", c.Format)
			}
		case "FOOTER":
			if runes(c.Text) > 60 || Params(c.Text) > 0 {
				return nil, 0, 0, invalid("components.FOOTER.text must be at most 60 characters without parameters")
			}
		case "BUTTONS":
			if len(c.Buttons) == 0 || len(c.Buttons) > 10 {
				return nil, 0, 0, invalid("components.BUTTONS must hold 1 to 10 buttons")
			}
			for _, b := range c.Buttons {
				switch strings.ToUpper(b.Type) {
				case "QUICK_REPLY", "URL", "PHONE_NUMBER", "OTP", "COPY_CODE", "FLOW", "MPM", "SPM", "CATALOG", "VOICE_CALL", "APP":
				default:
					return nil, 0, 0, invalid("button type %q is not supported", b.Type)
				}
				if runes(b.Text) > 25 {
					return nil, 0, 0, invalid("button text must be at most 25 characters")
				}
			}
		case "CAROUSEL", "LIMITED_TIME_OFFER":
		default:
			return nil, 0, 0, badParam("component type %q is not supported", c.Type)
		}
	}
	if bodies != 1 {
		return nil, 0, 0, missing("components: a BODY component")
	}
	return &r, nBody, nHeader, nil
}

// TemplateParamCounts counts the body and header parameters a send
// request supplies.
func (t *Template) TemplateParamCounts() (body, header int) {
	for _, c := range t.Components {
		switch c.Type {
		case "body":
			body += len(c.Parameters)
		case "header":
			for _, p := range c.Parameters {
				if p.Type == "text" {
					header++
				}
			}
		}
	}
	return body, header
}
