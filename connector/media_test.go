package connector

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waedge/waedge/internal/poll"
	"github.com/waedge/waedge/keyring"
	"github.com/waedge/waedge/network"
	"github.com/waedge/waedge/node/nodetest"
	"github.com/waedge/waedge/phone"
	"github.com/waedge/waedge/raftfsm"
	"github.com/waedge/waedge/seal"
)

// pngBytes is a small random "image/png" payload (PNG magic first, so
// sniffing agrees).
func pngBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	copy(b, []byte{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'})
	return b
}

// TestMediaBothWays: a phone's image reaches the business as a media id it
// can download through the Cloud API; an image the business uploaded (by
// id) and one it sends by link reach the phone, which decrypts the blob.
// The relay sees only ciphertext.
func TestMediaBothWays(t *testing.T) {
	tp := &tap{}
	rc := newReceiver()
	w := newWorld(t, tp, rc)
	ctx := context.Background()
	p, err := w.relay.CreatePhone(ctx, "4915100000099", "Mia")
	if err != nil {
		t.Fatal(err)
	}
	const token, business = "tok-e2e", "15550001000"

	// Phone → business.
	fromPhone := pngBytes(t, 300_000) // two chunks on the business side
	var sent phone.Message
	reach(t, func() (err error) {
		sent, err = p.SendMedia(ctx, business, "image", "image/png", fromPhone, "a picture")
		return err
	})
	wamid := inboundWAMID(p.Number(), sent.ID)
	var raw string
	nodetest.WaitFor(t, "image webhook", 30*time.Second, func() bool {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		raw = rc.raw[wamid]["image"]
		return raw != ""
	})
	var msg struct {
		Image struct {
			ID       string `json:"id"`
			MimeType string `json:"mime_type"`
			Caption  string `json:"caption"`
		} `json:"image"`
	}
	if err := json.Unmarshal([]byte(raw), &msg); err != nil || msg.Image.ID == "" || msg.Image.Caption != "a picture" ||
		msg.Image.MimeType != "image/png" {
		t.Fatalf("image webhook %s", raw)
	}
	if got := w.download(token, msg.Image.ID); !bytes.Equal(got, fromPhone) {
		t.Fatalf("download: %d bytes (want %d)", len(got), len(fromPhone))
	}

	// Business → phone, by uploaded id.
	upload := pngBytes(t, 50_000)
	mediaID := w.upload(token, upload)
	linked := pngBytes(t, 20_000)
	site := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
		rw.Header().Set("Content-Type", "image/png")
		_, _ = rw.Write(linked)
	}))
	defer site.Close()
	want := map[string][]byte{}
	for _, media := range []map[string]any{{"id": mediaID, "caption": "by id"}, {"link": site.URL + "/x.png", "caption": "by link"}} {
		var out []byte
		// Two sends to one consumer in a row meet the pair rate limit's
		// burst: retry until the bucket refills.
		nodetest.WaitFor(t, "image accepted", 10*time.Second, func() bool {
			var code int
			code, out = w.do("POST", "/v21.0/3/messages", token, map[string]any{"messaging_product": "whatsapp",
				"to": p.Number(), "type": "image", "image": media})
			if code != 200 && !bytes.Contains(out, []byte("131056")) {
				t.Fatalf("send image: %d %s", code, out)
			}
			return code == 200
		})
		var r struct{ Messages []struct{ ID string } }
		_ = json.Unmarshal(out, &r)
		if media["id"] != nil {
			want[r.Messages[0].ID] = upload
		} else {
			want[r.Messages[0].ID] = linked
		}
	}
	for id, data := range want {
		nodetest.WaitFor(t, "phone gets the image", 30*time.Second, func() bool {
			_, err := p.Message(id)
			return err == nil
		})
		got, mime, err := p.FetchMedia(ctx, id)
		if err != nil || mime != "image/png" || !bytes.Equal(got, data) {
			t.Fatalf("phone media %s: %v %s %d bytes", id, err, mime, len(got))
		}
	}
	// The relay never saw the plaintext of any of the three images.
	for _, raw := range tp.all() {
		for _, img := range [][]byte{fromPhone, upload, linked} {
			if bytes.Contains(raw, img[100:164]) {
				t.Fatal("the relay received media plaintext")
			}
		}
	}
}

// download fetches a media id through the Cloud API (GET /{media-id}, then
// its URL with the Bearer token) and returns the bytes.
func (w *world) download(token, mediaID string) []byte {
	w.t.Helper()
	code, out := w.do("GET", "/v21.0/"+mediaID, token, nil)
	if code != 200 {
		w.t.Fatalf("GET media: %d %s", code, out)
	}
	var view struct{ URL string }
	_ = json.Unmarshal(out, &view)
	req, _ := http.NewRequest("GET", view.URL, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := w.client.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		w.t.Fatalf("download %s: %d", mediaID, resp.StatusCode)
	}
	return got
}

// upload posts a PNG to POST /3/media through a live member and returns
// its media id.
func (w *world) upload(token string, png []byte) string {
	w.t.Helper()
	return w.uploadAs(token, png, "a.png", "image/png")
}

// uploadAs uploads data as a file of the given name and MIME type.
func (w *world) uploadAs(token string, data []byte, filename, mime string) string {
	w.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("messaging_product", "whatsapp")
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="`+filename+`"`)
	h.Set("Content-Type", mime)
	fw, _ := mw.CreatePart(h)
	_, _ = fw.Write(data)
	_ = mw.WriteField("type", mime)
	_ = mw.Close()
	// Through any live member, again while the answer is a transport error
	// or a 5xx: on a loaded machine the cluster's fast Raft timeouts change
	// the leader now and then, and the upload is answered 503 (its outcome
	// unknown). A retried upload gets a new id; the first may stay unused.
	var id string
	var last string
	if !poll.Wait(2*time.Minute, func() bool {
		for _, m := range w.members {
			if m.n == nil {
				continue
			}
			req, _ := http.NewRequest("POST", m.base+"/v21.0/3/media", bytes.NewReader(body.Bytes()))
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Content-Type", mw.FormDataContentType())
			resp, err := w.client.Do(req)
			if err != nil {
				last = err.Error()
				w.t.Logf("upload attempt: %s", last)
				continue
			}
			out, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode >= 500 {
				last = fmt.Sprintf("%d %s", resp.StatusCode, out)
				w.t.Logf("upload attempt: %s", last)
				continue
			}
			var r struct{ ID string }
			if resp.StatusCode != 200 || json.Unmarshal(out, &r) != nil {
				w.t.Fatalf("upload: %d %s", resp.StatusCode, out)
			}
			id = r.ID
			return true
		}
		return false
	}) {
		w.t.Fatalf("no member took the upload: %s", last)
	}
	return id
}

// blobNet is a fakeNet that also keeps blobs (network.BlobStore).
type blobNet struct {
	*fakeNet
	blobs sync.Map // id → []byte
	seq   atomic.Int64
}

func (b *blobNet) PutBlob(_ context.Context, blob []byte) (string, error) {
	id := fmt.Sprintf("blob-%d", b.seq.Add(1))
	b.blobs.Store(id, bytes.Clone(blob))
	return id, nil
}

func (b *blobNet) GetBlob(_ context.Context, id string) ([]byte, error) {
	v, ok := b.blobs.Load(id)
	if !ok {
		return nil, network.ErrNotFound
	}
	return v.([]byte), nil
}

// TestInboundMediaSealedUnderPhoneRetention: media a consumer sends to a
// number with 1-hour retention is stored sealed under that retention
// class's key, so the expiry run that deletes it destroys the key too and
// a copy of its chunks opens nowhere.
func TestInboundMediaSealedUnderPhoneRetention(t *testing.T) {
	n := nodetest.Cluster(t, 1)[0]
	propose(t, n, raftfsm.CmdCreateTenant, raftfsm.CreateTenant{BusinessID: "1", BusinessName: "Acme", WABAID: "2",
		PhoneNumberID: "3", DisplayPhoneNumber: "+15550001000", AppID: "4", AppSecret: "s", TokenID: "t",
		TokenHash: sha256.Sum256([]byte("tok"))})
	propose(t, n, raftfsm.CmdSetRetention, raftfsm.SetRetention{PhoneNumberID: "3", Hours: 1})
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	sealer := seal.New(n, n.KEK(), now)
	bn := &blobNet{fakeNet: newFakeNet()}
	r := &run{c: New(Deps{Cluster: n, Sealer: sealer, Now: now}, Config{}), fsm: n.FSM(), net: bn}
	num := &number{phoneID: "3", wabaID: "2", businessID: "1", digits: "15550001000"}
	num.retentionNs.Store(int64(time.Hour))

	data := pngBytes(t, 300_000) // two chunks
	blob, ref, err := network.SealMedia(data)
	if err != nil {
		t.Fatal(err)
	}
	ref.BlobID, _ = bn.PutBlob(context.Background(), blob)
	ref.MIMEType = "image/png"
	id, err := r.inboundMedia(context.Background(), num, &ref)
	if err != nil {
		t.Fatal(err)
	}
	got, _, _, err := r.storedMedia(num, id)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("stored media: %v, %d bytes", err, len(got))
	}
	md, _ := n.FSM().Media(id)
	var copies [][]byte
	for i := uint32(0); i < md.Chunks; i++ {
		c, err := n.FSM().MediaChunk(id, i)
		if err != nil {
			t.Fatal(err)
		}
		copies = append(copies, c)
	}

	clock.Add(int64(2*time.Hour + time.Minute))
	cmd, _ := raftfsm.EncodeCommand(raftfsm.CmdExpire, raftfsm.Expire{Now: now().UnixMilli()})
	res, err := n.Propose(context.Background(), cmd)
	if err != nil || res.Err != nil {
		t.Fatal(err, res.Err)
	}
	if recs, chunks, _ := n.FSM().MediaStored(id); recs+chunks != 0 {
		t.Fatalf("media left after expiry: %d records, %d chunks", recs, chunks)
	}
	fresh := seal.New(n, n.KEK(), now) // a node that never cached the key
	for i, c := range copies {
		if _, err := fresh.Open(raftfsm.MediaChunkAAD(id, uint32(i)), c); !errors.Is(err, keyring.ErrKeyDestroyed) {
			t.Fatalf("chunk %d opens after expiry: %v", i, err)
		}
	}
}
