package web_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/waedge/waedge/cloudapi"
	"github.com/waedge/waedge/raftfsm"
)

// recordInbound stores a message from waID to phoneID as the connector
// does (content, wamid and number sealed under the number's retention
// class); it returns the wamid.
func (h *mediaHarness) recordInbound(phoneID, waID string, msg cloudapi.InboundMessage) string {
	h.t.Helper()
	ctx := context.Background()
	at := h.now()
	wamid := cloudapi.NewWAMID(waID, false, [9]byte{byte(at.UnixNano()), byte(at.UnixNano() >> 8), byte(at.UnixNano() >> 16)})
	p, err := h.c.FSM().Phone(phoneID)
	if err != nil {
		h.t.Fatal(err)
	}
	seal := func(aad, pt []byte) []byte {
		b, err := h.sealer.SealFor(ctx, p.EffectiveRetention(), aad, pt)
		if err != nil {
			h.t.Fatal(err)
		}
		return b
	}
	content, err := cloudapi.EncodeInboundContent(&msg)
	if err != nil {
		h.t.Fatal(err)
	}
	var key [16]byte
	binary.BigEndian.PutUint64(key[:8], uint64(at.UnixNano()))
	copy(key[8:], wamid[len(wamid)-8:])
	idRef := raftfsm.MessageIDRef(wamid)
	r, err := h.c.Propose(ctx, mustCmd(h.t, raftfsm.CmdRecordInbound, raftfsm.RecordInbound{Key: key[:], IDRef: idRef,
		IDSealed: seal(raftfsm.IDAAD(idRef), []byte(wamid)), PhoneNumberID: phoneID,
		PeerRef: h.sealer.ConsumerRef(phoneID, waID), PeerSealed: seal(raftfsm.PeerAAD(wamid), []byte(waID)),
		Type: msg.Type, Content: seal([]byte(wamid), content), ReceivedAt: at.UnixMilli()}))
	if err != nil || r.Err != nil {
		h.t.Fatalf("record inbound: %v %v", err, r.Err)
	}
	h.advance(1000) // distinct times, distinct keys
	return wamid
}

// TestConsumerEraseDeletesTheirMedia: export lists the media a consumer
// sent (stored from their message) and received (sent by uploaded id);
// erase deletes both with every chunk, and nobody else's media.
func TestConsumerEraseDeletesTheirMedia(t *testing.T) {
	h := newMediaHarness(t)
	a := h.a
	pn, biz := a["phone_number_id"], a["business_id"]
	const consumer, other = "15551239876", "15551230000"
	png := func() string {
		return h.mustUpload(a, "?messaging_product=whatsapp", file("image/png", pngMagic, 300_000))
	}
	sentByConsumer, sentToConsumer, othersMedia := png(), png(), png()
	h.recordInbound(pn, consumer, cloudapi.ImageMessage("", "", 0, cloudapi.InboundMedia{ID: sentByConsumer, MimeType: "image/png"}))
	h.recordInbound(pn, other, cloudapi.ImageMessage("", "", 0, cloudapi.InboundMedia{ID: othersMedia, MimeType: "image/png"}))
	if code, out := h.do("POST", "/v21.0/"+pn+"/messages", a["access_token"], `{"messaging_product":"whatsapp","to":"`+consumer+
		`","type":"image","image":{"id":"`+sentToConsumer+`"}}`); code != 200 {
		t.Fatalf("send image: %d %s", code, out)
	}

	export := func() []string {
		code, out := h.do("GET", "/admin/v1/businesses/"+biz+"/consumers/export?wa_id="+consumer, "admin-tok", "")
		var e struct {
			PhoneNumbers []struct {
				Messages []json.RawMessage
				Media    []struct {
					ID       string `json:"id"`
					MIME     string `json:"mime_type"`
					FileSize int64  `json:"file_size"`
				}
			} `json:"phone_numbers"`
		}
		if code != 200 || json.Unmarshal(out, &e) != nil || len(e.PhoneNumbers) != 1 {
			t.Fatalf("export: %d %s", code, out)
		}
		var ids []string
		for _, m := range e.PhoneNumbers[0].Media {
			if m.MIME != "image/png" || m.FileSize != 300_000 {
				t.Fatalf("exported media %+v", m)
			}
			ids = append(ids, m.ID)
		}
		slices.Sort(ids)
		return ids
	}
	want := []string{sentByConsumer, sentToConsumer}
	slices.Sort(want)
	if got := export(); !slices.Equal(got, want) {
		t.Fatalf("exported media %v, want %v", got, want)
	}

	code, out := h.do("POST", "/admin/v1/businesses/"+biz+"/consumers/erase", "admin-tok", `{"wa_id":"`+consumer+`"}`)
	var res struct{ Messages, Media int }
	if code != 200 || json.Unmarshal(out, &res) != nil || res.Messages != 2 || res.Media != 2 {
		t.Fatalf("erase: %d %s", code, out)
	}
	for _, id := range want {
		if _, err := h.c.FSM().Media(id); !errors.Is(err, raftfsm.ErrNotFound) {
			t.Fatalf("media %s after erase: %v", id, err)
		}
		if recs, chunks, _ := h.c.FSM().MediaStored(id); recs+chunks != 0 {
			t.Fatalf("media %s left %d records, %d chunks", id, recs, chunks)
		}
	}
	if got := export(); len(got) != 0 {
		t.Fatalf("export after erase lists media %v", got)
	}
	h.checkStored(a, othersMedia, "image/png", content(pngMagic, 300_000))
}
