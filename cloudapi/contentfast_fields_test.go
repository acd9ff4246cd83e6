package cloudapi

import (
	"reflect"
	"testing"
)

// The reflective definitions of the fast encoder's "anything it does not
// write" checks, as appendContentFast made them before stop 24: clear the
// fields it writes, then anything left is unhandled.
func sendUnhandledDefinition(r SendRequest) bool {
	r.MessagingProduct, r.RecipientType, r.To, r.Recipient, r.Type = "", "", "", "", ""
	r.Context, r.BizOpaqueCallbackData, r.RecipientIdentityKeyHash = nil, "", ""
	r.Text, r.Image, r.Audio, r.Video, r.Document, r.Sticker = nil, nil, nil, nil, nil, nil
	r.Template, r.Reaction, r.Status, r.MessageID, r.TypingIndicator = nil, nil, "", "", nil
	return !reflect.ValueOf(r).IsZero()
}

func componentUnhandledDefinition(c Component) bool {
	c.Type, c.SubType, c.Parameters = "", "", nil
	return !reflect.ValueOf(c).IsZero()
}

func parameterUnhandledDefinition(p Parameter) bool {
	p.Type, p.ParameterName, p.Text, p.Payload, p.CouponCode = "", "", nil, "", ""
	p.Image, p.Video, p.Document = nil, nil, nil
	return !reflect.ValueOf(p).IsZero()
}

// eachFieldSet calls f with a value of T that has exactly one field set to
// a non-zero value (an empty but non-nil slice for a slice, which is not
// zero either), once per field of T.
func eachFieldSet[T any](t *testing.T, f func(name string, v T)) {
	typ := reflect.TypeFor[T]()
	for i := range typ.NumField() {
		var v T
		fv := reflect.ValueOf(&v).Elem().Field(i)
		switch fv.Kind() {
		case reflect.String:
			fv.SetString("x")
		case reflect.Pointer:
			fv.Set(reflect.New(fv.Type().Elem()))
		case reflect.Slice:
			fv.Set(reflect.MakeSlice(fv.Type(), 0, 0))
		case reflect.Bool:
			fv.SetBool(true)
		default:
			t.Fatalf("%s.%s: kind %s not covered by this test", typ.Name(), typ.Field(i).Name, fv.Kind())
		}
		f(typ.Field(i).Name, v)
	}
}

// TestFastContentChecksEveryField: the written-out checks agree with the
// reflective definition for every field of the request, a component and a
// parameter — a field added to one of them later, and not written by the
// fast encoder, makes this fail until it is checked.
func TestFastContentChecksEveryField(t *testing.T) {
	eachFieldSet(t, func(name string, r SendRequest) {
		if got, want := sendUnhandled(&r), sendUnhandledDefinition(r); got != want {
			t.Errorf("SendRequest.%s set: unhandled %v, want %v", name, got, want)
		}
	})
	eachFieldSet(t, func(name string, c Component) {
		if got, want := componentUnhandled(&c), componentUnhandledDefinition(c); got != want {
			t.Errorf("Component.%s set: unhandled %v, want %v", name, got, want)
		}
	})
	eachFieldSet(t, func(name string, p Parameter) {
		if got, want := parameterUnhandled(&p), parameterUnhandledDefinition(p); got != want {
			t.Errorf("Parameter.%s set: unhandled %v, want %v", name, got, want)
		}
	})
}
