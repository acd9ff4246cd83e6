package network

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

func sampleMedia() *Media {
	return &Media{BlobID: "b1", Key: make([]byte, 32), SHA256: make([]byte, 32), EncSHA256: make([]byte, 32),
		MIMEType: "image/png", Size: 10, Caption: "hi"}
}

func TestContentRoundTrip(t *testing.T) {
	cases := []Content{
		{ID: "m1", Type: ContentText, Text: &Text{Body: "hello"}, Context: &Context{MessageID: "m0"}},
		{ID: "m2", Type: ContentImage, Media: sampleMedia()},
		{ID: "m3", Type: ContentLocation, Location: &Location{Latitude: 52.5, Longitude: 13.4, Name: "Berlin"}},
		{ID: "m4", Type: ContentContacts, Contacts: []Contact{{Name: ContactName{FormattedName: "Ann"},
			Phones: []ContactPhone{{Phone: "+1 555", WaID: "1555"}}}}},
		{ID: "m5", Type: ContentReaction, Reaction: &Reaction{MessageID: "m1", Emoji: "👍"}},
		{ID: "m6", Type: ContentButtonReply, Reply: &Reply{ID: "yes", Title: "Yes"}},
		{ID: "m7", Type: ContentListReply, Reply: &Reply{ID: "r1", Title: "Row", Description: "d"}},
		{ID: "m8", Type: ContentInteractive, Interactive: &Interactive{Type: "button", Body: "Pick",
			Buttons: []Button{{ID: "a", Title: "A"}}}},
		{ID: "m9", Type: ContentTemplate, Template: &Template{Name: "hello_world", Language: "en_US", Body: "Hello"}},
	}
	for _, c := range cases {
		t.Run(c.Type, func(t *testing.T) {
			b, err := EncodeContent(&c)
			if err != nil {
				t.Fatal(err)
			}
			got, err := DecodeContent(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c) {
				t.Fatalf("round trip: %+v", got)
			}
		})
	}
}

func TestContentRejects(t *testing.T) {
	cases := map[string]Content{
		"no id":        {Type: ContentText, Text: &Text{Body: "x"}},
		"unknown type": {ID: "a", Type: "poll"},
		"empty text":   {ID: "a", Type: ContentText, Text: &Text{}},
		"long text":    {ID: "a", Type: ContentText, Text: &Text{Body: strings.Repeat("x", MaxTextLen+1)}},
		"extra field":  {ID: "a", Type: ContentText, Text: &Text{Body: "x"}, Location: &Location{}},
		"media key":    {ID: "a", Type: ContentImage, Media: &Media{BlobID: "b", Key: []byte{1}}},
		"lat":          {ID: "a", Type: ContentLocation, Location: &Location{Latitude: 91}},
		"nan":          {ID: "a", Type: ContentLocation, Location: &Location{Latitude: math.NaN()}},
		"no contacts":  {ID: "a", Type: ContentContacts},
		"nameless":     {ID: "a", Type: ContentContacts, Contacts: []Contact{{}}},
		"reaction":     {ID: "a", Type: ContentReaction, Reaction: &Reaction{MessageID: "bad id"}},
		"reply":        {ID: "a", Type: ContentButtonReply, Reply: &Reply{}},
		"interactive":  {ID: "a", Type: ContentInteractive, Interactive: &Interactive{Type: "list", Body: "x"}},
		"template":     {ID: "a", Type: ContentTemplate, Template: &Template{}},
		"context":      {ID: "a", Type: ContentText, Text: &Text{Body: "x"}, Context: &Context{}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := EncodeContent(&c); !errors.Is(err, ErrBadContent) {
				t.Fatalf("err = %v", err)
			}
		})
	}
	for _, b := range []string{"", "{}", "null", `{"id":"a","type":"text","text":{"body":"x"}} 1`, "[]"} {
		if _, err := DecodeContent([]byte(b)); !errors.Is(err, ErrBadContent) {
			t.Fatalf("DecodeContent(%q) = %v", b, err)
		}
	}
	if _, err := DecodeContent(make([]byte, MaxContentSize+1)); !errors.Is(err, ErrBadContent) {
		t.Fatal("oversized content accepted")
	}
}

func TestMediaSealOpen(t *testing.T) {
	pt := bytes.Repeat([]byte("picture"), 1000)
	blob, ref, err := SealMedia(pt)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(blob, []byte("picture")) {
		t.Fatal("blob contains plaintext")
	}
	got, err := OpenMedia(blob, ref)
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("OpenMedia = %v", err)
	}
	tampered := append([]byte(nil), blob...)
	tampered[20] ^= 1
	wrongKey := ref
	wrongKey.Key = make([]byte, 32)
	wrongSize := ref
	wrongSize.Size++
	fixedHash := func(b []byte, r Media) Media { // recompute the blob hash so a later check is what fails
		sum := sha256.Sum256(b)
		r.EncSHA256 = sum[:]
		return r
	}
	cases := map[string]struct {
		blob []byte
		ref  Media
	}{
		"tampered blob": {tampered, ref},
		"wrong key":     {blob, wrongKey},
		"flipped tag":   {tampered, fixedHash(tampered, ref)},
		"wrong size":    {blob, wrongSize},
		"short blob":    {blob[:5], fixedHash(blob[:5], ref)},
	}
	for name, c := range cases {
		if _, err := OpenMedia(c.blob, c.ref); !errors.Is(err, ErrBadMedia) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}
