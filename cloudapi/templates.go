package cloudapi

import (
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
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
	switch {
	case r.Name == "":
		return nil, TemplateParams{}, missing("name")
	case !templateName.MatchString(r.Name):
		return nil, TemplateParams{}, invalid("name must be lowercase letters, digits and underscores (at most 512)")
	case r.Language == "":
		return nil, TemplateParams{}, missing("language")
	case !languageCode.MatchString(r.Language):
		return nil, TemplateParams{}, invalid("language %q is not a language code like en or en_US", r.Language)
	case r.Category == "":
		return nil, TemplateParams{}, missing("category")
	}
	r.Category = strings.ToUpper(r.Category)
	if r.Category != "MARKETING" && r.Category != "UTILITY" && r.Category != "AUTHENTICATION" {
		return nil, TemplateParams{}, invalid("category must be MARKETING, UTILITY or AUTHENTICATION")
	}
	if p := r.ParameterFormat; p != "" && p != "POSITIONAL" && p != "NAMED" {
		return nil, TemplateParams{}, invalid("parameter_format must be POSITIONAL or NAMED")
	}
	if len(r.Components) == 0 {
		return nil, TemplateParams{}, missing("components")
	}
	bodies := 0
	params := TemplateParams{Named: r.ParameterFormat == "NAMED"}
	seen := map[string]bool{}
	for i, c := range r.Components {
		c.Type = strings.ToUpper(c.Type)
		r.Components[i].Type = c.Type
		if seen[c.Type] {
			return nil, TemplateParams{}, invalid("components: only one %s", c.Type)
		}
		seen[c.Type] = true
		switch c.Type {
		case "BODY":
			bodies++
			if strings.TrimSpace(c.Text) == "" {
				return nil, TemplateParams{}, missing("components.BODY.text")
			}
			if runes(c.Text) > 1024 {
				return nil, TemplateParams{}, invalid("components.BODY.text must be at most 1024 characters")
			}
			ps, err := componentParams("body", c.Text, params.Named, c.Example)
			if err != nil {
				return nil, TemplateParams{}, err
			}
			params.Body = ps
		case "HEADER":
			switch strings.ToUpper(c.Format) {
			case "TEXT", "":
				if runes(c.Text) > 60 {
					return nil, TemplateParams{}, invalid("components.HEADER.text must be at most 60 characters")
				}
				ps, err := componentParams("header", c.Text, params.Named, c.Example)
				if err != nil {
					return nil, TemplateParams{}, err
				}
				if len(ps) > 1 {
					return nil, TemplateParams{}, invalid("components.HEADER.text takes at most one parameter")
				}
				params.Header = ps
			case "IMAGE", "VIDEO", "GIF", "DOCUMENT", "LOCATION", "PRODUCT":
			default:
				return nil, TemplateParams{}, invalid("components.HEADER.format %q is not supported", c.Format)
			}
		case "FOOTER":
			if runes(c.Text) > 60 || len(placeholders(c.Text)) > 0 {
				return nil, TemplateParams{}, invalid("components.FOOTER.text must be at most 60 characters without parameters")
			}
		case "BUTTONS":
			if len(c.Buttons) == 0 || len(c.Buttons) > 10 {
				return nil, TemplateParams{}, invalid("components.BUTTONS must hold 1 to 10 buttons")
			}
			for _, b := range c.Buttons {
				switch strings.ToUpper(b.Type) {
				case "QUICK_REPLY", "URL", "PHONE_NUMBER", "OTP", "COPY_CODE", "FLOW", "MPM", "SPM", "CATALOG", "VOICE_CALL", "APP":
				default:
					return nil, TemplateParams{}, invalid("button type %q is not supported", b.Type)
				}
				if runes(b.Text) > 25 {
					return nil, TemplateParams{}, invalid("button text must be at most 25 characters")
				}
			}
		case "CAROUSEL", "LIMITED_TIME_OFFER":
		default:
			return nil, TemplateParams{}, badParam("component type %q is not supported", c.Type)
		}
	}
	if bodies != 1 {
		return nil, TemplateParams{}, missing("components: a BODY component")
	}
	return &r, params, nil
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
