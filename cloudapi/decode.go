package cloudapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
)

// ParseSend decodes and validates a send (or mark-as-read) request. Every
// rejection is a *graph.Error with the platform's code whose details name
// the offending field.
func ParseSend(body []byte) (*SendRequest, error) {
	var r SendRequest
	if !decodeSendFast(body, &r) {
		r = SendRequest{}
		if err := decodeStrict(body, &r); err != nil {
			return nil, err
		}
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

// decodeStrict decodes exactly one JSON object into v, refusing unknown
// keys and wrong JSON types with code 100.
func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(body, v, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badParam("request body must hold exactly one JSON object")
	}
	// encoding/json matches keys case-insensitively ("TO" fills To); Meta
	// matches them exactly and refuses "TO" as an unexpected key. Every key
	// Meta defines is lowercase snake_case, so only a body with another key
	// spelling needs the exact (slower) walk against the Go types.
	if !plainKeys(body) {
		if key, at, ok := unknownKey(body, reflect.TypeOf(v)); ok {
			return unexpectedKey(key, at)
		}
	}
	return nil
}

// plainKeys reports whether every object key of a valid JSON text is
// written in lowercase letters, digits and underscores only.
func plainKeys(body []byte) bool {
	for i := 0; i < len(body); i++ {
		if body[i] != '"' {
			continue
		}
		start, plain := i+1, true
		for i++; i < len(body) && body[i] != '"'; i++ {
			c := body[i]
			if c == '\\' {
				i++
				plain = false
				continue
			}
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
				plain = false
			}
		}
		if plain || start > i {
			continue
		}
		j := i + 1
		for j < len(body) && (body[j] == ' ' || body[j] == '\t' || body[j] == '\n' || body[j] == '\r') {
			j++
		}
		if j < len(body) && body[j] == ':' {
			return false
		}
	}
	return true
}

// unexpectedKey is Meta's error for a key the request type does not
// define, at the dotted path at ("" for the top level).
func unexpectedKey(key, at string) error {
	if at == "" {
		return badParam("Unexpected key %q in the request body", key)
	}
	return badParam("Unexpected key %q on param %q", key, at)
}

// decodeError turns a decoder error into a Graph error naming the field.
func decodeError(body []byte, v any, err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		if te.Field == "" {
			return badParam("request body must be a JSON object")
		}
		return badParam("%s must be %s, not %s", te.Field, jsonKind(te.Type), te.Value)
	case errors.As(err, &se):
		return badParam("request body is not valid JSON (offset %d)", se.Offset)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		if key, at, ok := unknownKey(body, reflect.TypeOf(v)); ok {
			return unexpectedKey(key, at)
		}
		return badParam("Unexpected key %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	case errors.Is(err, io.EOF):
		return missing("messaging_product")
	default:
		return badParam("request body is not valid JSON")
	}
}

// jsonKind names the JSON type a Go type expects, for error details.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	default:
		return "an object"
	}
}

var rawMessageType = reflect.TypeFor[json.RawMessage]()

// unknownKey finds the first key of body (keys visited in sorted order)
// that the Go type t does not declare with exactly that spelling, and the
// dotted path of the object holding it. It only runs on the error path, so
// the generic re-decode costs nothing for valid requests.
func unknownKey(body []byte, t reflect.Type) (key, at string, ok bool) {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return "", "", false
	}
	return walkKeys(v, t, "")
}

func walkKeys(v any, t reflect.Type, path string) (string, string, bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == rawMessageType {
		return "", "", false
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, isObj := v.(map[string]any)
		if !isObj {
			return "", "", false
		}
		fields := jsonFields(t)
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			ft, known := fields[k]
			if !known {
				return k, path, true
			}
			if k2, at, found := walkKeys(obj[k], ft, join(path, k)); found {
				return k2, at, true
			}
		}
	case reflect.Slice:
		arr, isArr := v.([]any)
		if !isArr {
			return "", "", false
		}
		for i, e := range arr {
			if k, at, found := walkKeys(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); found {
				return k, at, true
			}
		}
	}
	return "", "", false
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// jsonFields maps the JSON names of a struct's exported fields to types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := make(map[string]reflect.Type, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

// NormalizePhone strips "+", spaces, dashes, dots and parentheses; the
// result is "" unless 8 to 15 digits remain and nothing else was present.
func NormalizePhone(s string) string {
	// Already digits only (the usual case, and every wa_id): s itself,
	// without building a copy — this runs several times per send.
	if len(s) >= 8 && len(s) <= 15 && NormalizeID(s) != "" {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
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

// NormalizeID returns s if it is a numeric Graph id (1 to 32 digits), else "".
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
