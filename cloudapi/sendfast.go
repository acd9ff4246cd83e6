package cloudapi

import (
	"encoding/json"
	"unicode/utf8"
)

// The fast decoder of a send. encoding/json's reflective decode (with
// DisallowUnknownFields, then the exact-key check) costs about as much as
// the rest of the send path on the node; most sends are a handful of
// shapes — text, media, reaction, mark-as-read, a template with text
// parameters. decodeSendFast reads exactly those shapes by hand and
// refuses (ok false) everything else: an unknown or differently spelt
// key, a key given twice, a null, a number, a JSON type it does not
// expect, malformed or non-UTF-8 text, anything after the object. It never
// produces an error itself: a refused body goes through decodeStrict,
// which gives the answer it always gave, so the platform's codes and
// details cannot differ. What it accepts decodes to exactly the value
// decodeStrict produces (FuzzFastSendMatchesStrict holds that).
func decodeSendFast(body []byte, r *SendRequest) bool {
	s := fastScan{b: body}
	if !s.sendRequest(r) {
		return false
	}
	s.ws()
	return s.i == len(s.b)
}

// fastScan walks a JSON text; every method reports false on anything it
// does not handle, and the caller then gives up on the whole body.
type fastScan struct {
	b []byte
	i int
}

func (s *fastScan) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// next consumes c (after white space) if it comes next.
func (s *fastScan) next(c byte) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// rawString returns the bytes between the quotes of the next string and
// whether it holds an escape; false for anything that is not a string
// without control characters.
func (s *fastScan) rawString() (raw []byte, escaped, ok bool) {
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, false, false
	}
	start := s.i + 1
	for j := start; j < len(s.b); j++ {
		for j+8 <= len(s.b) && quietString8(word8b(s.b, j)) {
			j += 8
		}
		if j >= len(s.b) {
			break
		}
		switch c := s.b[j]; {
		case c == '"':
			s.i = j + 1
			return s.b[start:j], escaped, true
		case c == '\\':
			escaped = true
			j++
		case c < 0x20:
			return nil, false, false
		}
	}
	return nil, false, false
}

// str reads a JSON string value. Text without escapes is taken as it is
// when it is valid UTF-8 (as encoding/json does); text with escapes is
// unquoted by encoding/json itself.
func (s *fastScan) str(dst *string) bool {
	begin := s.i
	raw, escaped, ok := s.rawString()
	if !ok {
		return false
	}
	if !escaped {
		if !utf8.Valid(raw) {
			return false
		}
		*dst = protocolWord(raw)
		return true
	}
	for begin < len(s.b) && s.b[begin] != '"' {
		begin++
	}
	return json.Unmarshal(s.b[begin:s.i], dst) == nil
}

// protocolWord returns raw as a string: one of the Cloud API's own words
// that every send repeats (messaging_product, the types of a message,
// component and parameter, the common language codes) as the constant,
// without allocating; anything else as a copy. A switch on string(raw)
// compares without converting.
func protocolWord(raw []byte) string {
	switch string(raw) {
	case "whatsapp":
		return "whatsapp"
	case "individual":
		return "individual"
	case "template":
		return "template"
	case "text":
		return "text"
	case "body":
		return "body"
	case "header":
		return "header"
	case "button":
		return "button"
	case "image":
		return "image"
	case "document":
		return "document"
	case "video":
		return "video"
	case "currency":
		return "currency"
	case "date_time":
		return "date_time"
	case "payload":
		return "payload"
	case "quick_reply":
		return "quick_reply"
	case "url":
		return "url"
	case "read":
		return "read"
	case "en":
		return "en"
	case "en_US":
		return "en_US"
	case "en_GB":
		return "en_GB"
	case "de":
		return "de"
	case "es":
		return "es"
	case "fr":
		return "fr"
	case "pt_BR":
		return "pt_BR"
	}
	return string(raw)
}

// boolean reads true or false.
func (s *fastScan) boolean(dst *bool) bool {
	s.ws()
	switch rest := s.b[s.i:]; {
	case len(rest) >= 4 && string(rest[:4]) == "true":
		*dst = true
		s.i += 4
	case len(rest) >= 5 && string(rest[:5]) == "false":
		*dst = false
		s.i += 5
	default:
		return false
	}
	return true
}

// object reads an object whose keys field decodes; field is given the
// key (only while it runs) and reports false for a key it does not know.
// A key that comes twice is refused (encoding/json would merge or
// overwrite; the strict path decides what that means): field marks each
// key's own bit in seen with once.
func (s *fastScan) object(field func(key []byte, seen *uint32) bool) bool {
	if !s.next('{') {
		return false
	}
	if s.next('}') {
		return true
	}
	var seen uint32
	for {
		key, escaped, ok := s.rawString()
		if !ok || escaped || !s.next(':') || !field(key, &seen) {
			return false
		}
		if s.next(',') {
			continue
		}
		return s.next('}')
	}
}

// once marks bit in seen and reports whether it was clear.
func once(seen *uint32, bit uint32) bool {
	if *seen&(1<<bit) != 0 {
		return false
	}
	*seen |= 1 << bit
	return true
}

// array reads an array of elements read by elem. An empty array gives an
// empty, non-nil slice, as encoding/json does.
func array[T any](s *fastScan, dst *[]T, elem func(*T) bool) bool {
	if !s.next('[') {
		return false
	}
	out := make([]T, 0, 1)
	if s.next(']') {
		*dst = out
		return true
	}
	for {
		out = append(out, *new(T))
		if !elem(&out[len(out)-1]) {
			return false
		}
		if s.next(',') {
			continue
		}
		if !s.next(']') {
			return false
		}
		*dst = out
		return true
	}
}

// ptr reads an object into a new T and stores it in *dst.
func ptr[T any](dst **T, read func(*T) bool) bool {
	v := new(T)
	if !read(v) {
		return false
	}
	*dst = v
	return true
}

func (s *fastScan) sendRequest(r *SendRequest) bool {
	return s.object(func(key []byte, seen *uint32) bool {
		switch string(key) {
		case "messaging_product":
			return once(seen, 0) && s.str(&r.MessagingProduct)
		case "recipient_type":
			return once(seen, 1) && s.str(&r.RecipientType)
		case "to":
			return once(seen, 2) && s.str(&r.To)
		case "recipient":
			return once(seen, 3) && s.str(&r.Recipient)
		case "type":
			return once(seen, 4) && s.str(&r.Type)
		case "biz_opaque_callback_data":
			return once(seen, 5) && s.str(&r.BizOpaqueCallbackData)
		case "recipient_identity_key_hash":
			return once(seen, 6) && s.str(&r.RecipientIdentityKeyHash)
		case "status":
			return once(seen, 7) && s.str(&r.Status)
		case "message_id":
			return once(seen, 8) && s.str(&r.MessageID)
		case "context":
			return once(seen, 9) && ptr(&r.Context, func(c *Context) bool {
				return s.object(func(key []byte, seen *uint32) bool {
					return string(key) == "message_id" && once(seen, 0) && s.str(&c.MessageID)
				})
			})
		case "text":
			return once(seen, 10) && ptr(&r.Text, s.text)
		case "image":
			return once(seen, 11) && ptr(&r.Image, s.media)
		case "audio":
			return once(seen, 12) && ptr(&r.Audio, s.media)
		case "video":
			return once(seen, 13) && ptr(&r.Video, s.media)
		case "document":
			return once(seen, 14) && ptr(&r.Document, s.media)
		case "sticker":
			return once(seen, 15) && ptr(&r.Sticker, s.media)
		case "reaction":
			return once(seen, 16) && ptr(&r.Reaction, s.reaction)
		case "template":
			return once(seen, 17) && ptr(&r.Template, s.template)
		case "typing_indicator":
			return once(seen, 18) && ptr(&r.TypingIndicator, func(t *TypingIndicator) bool {
				return s.object(func(key []byte, seen *uint32) bool {
					return string(key) == "type" && once(seen, 0) && s.str(&t.Type)
				})
			})
		}
		return false
	})
}

func (s *fastScan) text(t *Text) bool {
	return s.object(func(key []byte, seen *uint32) bool {
		switch string(key) {
		case "body":
			return once(seen, 0) && s.str(&t.Body)
		case "preview_url":
			return once(seen, 1) && s.boolean(&t.PreviewURL)
		}
		return false
	})
}

func (s *fastScan) media(m *Media) bool {
	return s.object(func(key []byte, seen *uint32) bool {
		switch string(key) {
		case "id":
			return once(seen, 0) && s.str(&m.ID)
		case "link":
			return once(seen, 1) && s.str(&m.Link)
		case "caption":
			return once(seen, 2) && s.str(&m.Caption)
		case "filename":
			return once(seen, 3) && s.str(&m.Filename)
		case "voice":
			return once(seen, 4) && s.boolean(&m.Voice)
		}
		return false
	})
}

func (s *fastScan) reaction(r *Reaction) bool {
	return s.object(func(key []byte, seen *uint32) bool {
		switch string(key) {
		case "message_id":
			return once(seen, 0) && s.str(&r.MessageID)
		case "emoji":
			return once(seen, 1) && s.str(&r.Emoji)
		}
		return false
	})
}

func (s *fastScan) template(t *Template) bool {
	return s.object(func(key []byte, seen *uint32) bool {
		switch string(key) {
		case "name":
			return once(seen, 0) && s.str(&t.Name)
		case "language":
			return once(seen, 1) && ptr(&t.Language, func(l *Language) bool {
				return s.object(func(key []byte, seen *uint32) bool {
					switch string(key) {
					case "code":
						return once(seen, 0) && s.str(&l.Code)
					case "policy":
						return once(seen, 1) && s.str(&l.Policy)
					}
					return false
				})
			})
		case "components":
			return once(seen, 2) && array(s, &t.Components, s.component)
		}
		return false
	})
}

func (s *fastScan) component(c *Component) bool {
	return s.object(func(key []byte, seen *uint32) bool {
		switch string(key) {
		case "type":
			return once(seen, 0) && s.str(&c.Type)
		case "sub_type":
			return once(seen, 1) && s.str(&c.SubType)
		case "parameters":
			return once(seen, 2) && array(s, &c.Parameters, s.parameter)
		}
		return false
	})
}

func (s *fastScan) parameter(p *Parameter) bool {
	return s.object(func(key []byte, seen *uint32) bool {
		switch string(key) {
		case "type":
			return once(seen, 0) && s.str(&p.Type)
		case "parameter_name":
			return once(seen, 1) && s.str(&p.ParameterName)
		case "text":
			return once(seen, 2) && ptr(&p.Text, s.str)
		case "payload":
			return once(seen, 3) && s.str(&p.Payload)
		case "coupon_code":
			return once(seen, 4) && s.str(&p.CouponCode)
		case "image":
			return once(seen, 5) && ptr(&p.Image, s.media)
		case "video":
			return once(seen, 6) && ptr(&p.Video, s.media)
		case "document":
			return once(seen, 7) && ptr(&p.Document, s.media)
		}
		return false
	})
}
