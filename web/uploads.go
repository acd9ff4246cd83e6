package web

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/waedge/waedge/cloudapi"
	"github.com/waedge/waedge/graph"
	"github.com/waedge/waedge/raftfsm"
)

// The resumable upload API
// (https://developers.facebook.com/docs/graph-api/guides/upload):
// POST /{app-id}/uploads?file_name&file_length&file_type starts a session
// ("upload:<session>?sig=…"), POST /upload:<session> with a file_offset
// header sends bytes from that offset, GET /upload:<session> tells the
// offset, and the finished upload answers a file handle h. The session is
// self-describing and signed (nothing is stored until bytes arrive); its
// bytes are an uncommitted media of the business's number, stored chunk by
// chunk like POST /{phone-number-id}/media, so an interrupted body keeps
// every whole chunk that arrived, and expiry removes a session left
// unfinished for an hour. The finished file is a committed media; h names
// it.

// uploadSessionTTL is how long a session accepts bytes (the same hour after
// which expiry removes an unfinished upload).
const uploadSessionTTL = time.Hour

// uploadTypes are the file_type values Meta's reference lists, with the
// size limit of the media kind each becomes.
var uploadTypes = map[string]int64{
	"image/jpeg": cloudapi.MaxImageBytes, "image/png": cloudapi.MaxImageBytes,
	"video/mp4": cloudapi.MaxAudioVideoBytes, "application/pdf": cloudapi.MaxDocumentBytes,
}

// uploadSession is what a session id carries (signed).
type uploadSession struct {
	MediaID  string `json:"m"`
	Business string `json:"b"`
	Phone    string `json:"p"`
	Type     string `json:"t"`
	Length   int64  `json:"l"`
	Name     string `json:"n,omitempty"`
	Created  int64  `json:"c"` // unix ms
}

// uploadKey derives a purpose key from the URL key.
func (g *graphAPI) uploadMAC(purpose string, parts ...string) string {
	key := g.d.Sealer.URLKey()
	m := hmac.New(sha256.New, key[:])
	m.Write([]byte(purpose))
	for _, p := range parts {
		m.Write([]byte{0})
		m.Write([]byte(p))
	}
	return hex.EncodeToString(m.Sum(nil))
}

// errNoUpload answers a session id that is malformed, forged, expired or
// of another business: like a missing object.
var errNoUpload = graph.ErrObjectNotFound.With("the upload session does not exist or has expired; start a new one")

// session decodes and checks the route's session id for the caller.
func (g *graphAPI) session(c *fiber.Ctx) (uploadSession, string, error) {
	tok := strings.Clone(c.Params("session"))
	var s uploadSession
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || json.Unmarshal(raw, &s) != nil ||
		!hmac.Equal([]byte(c.Query("sig")), []byte(g.uploadMAC("waedge upload session v1", tok))) ||
		s.Business != businessOf(c) || g.d.Now().UnixMilli()-s.Created >= uploadSessionTTL.Milliseconds() {
		return s, "", errNoUpload
	}
	return s, "upload:" + tok + "?sig=" + c.Query("sig"), nil
}

// createUpload answers POST /{app-id}/uploads.
func (g *graphAPI) createUpload(c *fiber.Ctx) error {
	app, err := g.ownApp(c)
	if err != nil {
		return err
	}
	p, err := edgeParams(c)
	if err != nil {
		return err
	}
	ftype := strings.ToLower(p["file_type"])
	if ftype == "image/jpg" {
		ftype = "image/jpeg"
	}
	limit, ok := uploadTypes[ftype]
	switch {
	case p["file_type"] == "":
		return graph.ErrInvalidParameter.With("file_type is required")
	case !ok:
		return graph.ErrInvalidParameter.Withf("file_type must be one of application/pdf, image/jpeg, image/jpg, image/png, video/mp4, not %q", p["file_type"])
	case p["file_length"] == "":
		return graph.ErrInvalidParameter.With("file_length is required")
	}
	length, err := strconv.ParseInt(p["file_length"], 10, 64)
	if err != nil || length < 1 || length > limit {
		return graph.ErrInvalidParameter.Withf("file_length must be 1 to %d bytes for %s", limit, ftype)
	}
	if len(p["file_name"]) > 255 {
		return graph.ErrInvalidParameter.With("file_name must be at most 255 characters")
	}
	ts, err := g.d.Cluster.FSM().TenantsByBusiness(app.BusinessID)
	if err != nil {
		return err
	}
	if len(ts) == 0 {
		return graph.ErrObjectNotFound.With("the app's business has no phone number to keep uploads with")
	}
	id, err := graph.NewID()
	if err != nil {
		return err
	}
	b, err := json.Marshal(uploadSession{MediaID: id, Business: app.BusinessID, Phone: ts[0].PhoneNumberID,
		Type: ftype, Length: length, Name: p["file_name"], Created: g.d.Now().UnixMilli()})
	if err != nil {
		return err
	}
	tok := base64.RawURLEncoding.EncodeToString(b)
	return c.JSON(fiber.Map{"id": "upload:" + tok + "?sig=" + g.uploadMAC("waedge upload session v1", tok)})
}

// uploadOffset is how many bytes of a session are stored: whole chunks of
// an unfinished upload, or everything once it is committed.
func (g *graphAPI) uploadOffset(s uploadSession) (offset int64, done bool, err error) {
	fsm := g.d.Cluster.FSM()
	if _, err := fsm.Media(s.MediaID); err == nil {
		return s.Length, true, nil
	} else if !errors.Is(err, raftfsm.ErrNotFound) {
		return 0, false, err
	}
	_, chunks, err := fsm.MediaStored(s.MediaID)
	if err != nil {
		return 0, false, err
	}
	return min(int64(chunks)*raftfsm.MediaChunkSize, s.Length), false, nil
}

// uploadStatus answers GET /upload:<session>: {"id","file_offset"}.
func (g *graphAPI) uploadStatus(c *fiber.Ctx) error {
	s, id, err := g.session(c)
	if err != nil {
		return err
	}
	off, _, err := g.uploadOffset(s)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"id": id, "file_offset": off})
}

// uploadBytes answers POST /upload:<session>: the body is the file from
// the file_offset header on. Whole chunks are stored as they arrive; when
// the file is complete it is checked and committed, and the answer is
// {"h": handle}. A body that ends early answers the offset reached.
func (g *graphAPI) uploadBytes(c *fiber.Ctx) (err error) {
	s, id, err := g.session(c)
	if err != nil {
		return err
	}
	off, done, err := g.uploadOffset(s)
	if err != nil {
		return err
	}
	if done {
		return c.JSON(fiber.Map{"h": g.fileHandle(s.MediaID, s.Type)})
	}
	given := c.Get("file_offset")
	if given == "" {
		return graph.ErrInvalidParameter.With("the file_offset header is required")
	}
	if n, perr := strconv.ParseInt(given, 10, 64); perr != nil || n != off {
		return graph.ErrInvalidParameter.Withf("file_offset must be %d: the session has %d bytes", off, off)
	}
	remaining := s.Length - off
	if cl := int64(c.Request().Header.ContentLength()); cl > remaining {
		return graph.ErrInvalidParameter.Withf("the body has %d bytes; the file has %d left from offset %d", cl, remaining, off)
	}
	var body io.Reader = c.Context().RequestBodyStream()
	if body == nil {
		body = bytes.NewReader(c.Body())
	}
	phone, err := g.d.Cluster.FSM().Phone(s.Phone)
	if err != nil {
		return errNoUpload
	}
	t := raftfsm.Tenant{PhoneNumberID: s.Phone, BusinessID: s.Business}
	u := &upload{g: g, tenant: t, id: s.MediaID, now: g.d.Now(), chunks: uint32(off / raftfsm.MediaChunkSize),
		retention: phone.EffectiveRetention()}
	ctx := c.UserContext()
	buf := make([]byte, raftfsm.MediaChunkSize)
	for off < s.Length {
		want := min(int64(len(buf)), s.Length-off) // never past the file
		n, _ := io.ReadFull(body, buf[:want])
		if int64(n) < want { // the body ended early: the partial chunk is dropped
			break
		}
		if err := u.putChunk(ctx, buf[:n]); err != nil {
			return err
		}
		off += int64(n)
	}
	if off < s.Length {
		return c.JSON(fiber.Map{"id": id, "file_offset": off})
	}
	// The whole file arrived: a body that goes on is bad input, and
	// leaves nothing behind.
	var probe [1]byte
	if n, _ := io.ReadFull(body, probe[:]); n > 0 {
		u.abort(ctx)
		return graph.ErrInvalidParameter.Withf("the body is longer than the %d bytes left", remaining)
	}
	if err := g.commitUpload(ctx, u, s); err != nil {
		u.abort(ctx)
		return err
	}
	return c.JSON(fiber.Map{"h": g.fileHandle(s.MediaID, s.Type)})
}

// commitUpload reads the stored chunks back (a session may have been
// sent in several requests), checks the content is of the session's
// type and commits the media.
func (g *graphAPI) commitUpload(ctx context.Context, u *upload, s uploadSession) error {
	fsm := g.d.Cluster.FSM()
	h := sha256.New()
	var sniffed string
	for i := range u.chunks {
		sealed, err := fsm.UploadChunk(s.MediaID, i)
		if err != nil {
			return fmt.Errorf("upload chunk %d: %w", i, err)
		}
		pt, err := g.d.Sealer.Open(raftfsm.MediaChunkAAD(s.MediaID, i), sealed)
		if err != nil {
			return fmt.Errorf("open upload chunk %d: %w", i, err)
		}
		if i == 0 {
			sniffed, _, _ = strings.Cut(http.DetectContentType(pt), ";")
		}
		h.Write(pt)
	}
	if sniffed != s.Type {
		return uploadError("the file content is not %s", s.Type)
	}
	var sum [32]byte
	h.Sum(sum[:0])
	_, err := raftfsm.Outcome(g.d.Cluster.Propose(ctx, mustEncode(raftfsm.CmdCommitMedia, raftfsm.CommitMedia{
		ID: s.MediaID, PhoneNumberID: s.Phone, BusinessID: s.Business, MIME: s.Type, SHA256: sum,
		Size: s.Length, Chunks: u.chunks, Filename: s.Name, At: g.d.Now().UnixMilli()})))
	return err
}

// mustEncode encodes a command whose payload cannot fail to encode.
func mustEncode(t raftfsm.CommandType, payload any) []byte {
	b, err := raftfsm.EncodeCommand(t, payload)
	if err != nil {
		panic(err)
	}
	return b
}

// fileHandle is the h of a finished upload: Meta's "4::<type>:<id>" shape,
// with a MAC so that only handles waedge issued resolve.
func (g *graphAPI) fileHandle(mediaID, mimeType string) string {
	return "4::" + base64.StdEncoding.EncodeToString([]byte(mimeType)) + ":" + mediaID + ":" +
		g.uploadMAC("waedge file handle v1", mediaID)[:32]
}

// errBadHandle answers a handle that is not a finished upload of the
// caller's business.
var errBadHandle = graph.ErrInvalidParameter.With("the file handle is not a finished upload of this business (POST /{app-id}/uploads)")

// isWaedgeHandle reports whether h has the shape of a handle waedge issues.
func isWaedgeHandle(h string) bool {
	parts := strings.Split(h, ":")
	return len(parts) == 5 && parts[0] == "4" && parts[1] == "" && len(parts[4]) == 32
}

// resolveHandle returns the media a handle names, if it is a committed,
// unexpired upload of business.
func (g *graphAPI) resolveHandle(h, business string) (raftfsm.Media, error) {
	parts := strings.Split(h, ":")
	if !isWaedgeHandle(h) || !hmac.Equal([]byte(parts[4]), []byte(g.uploadMAC("waedge file handle v1", parts[3])[:32])) {
		return raftfsm.Media{}, errBadHandle
	}
	m, err := g.d.Cluster.FSM().Media(parts[3])
	if errors.Is(err, raftfsm.ErrNotFound) || (err == nil && (m.BusinessID != business || m.Expired(g.d.Now().UnixMilli()))) {
		return raftfsm.Media{}, errBadHandle
	}
	return m, err
}

// readMedia returns a committed media's plaintext (at most limit bytes).
func (g *graphAPI) readMedia(m raftfsm.Media, limit int64) ([]byte, error) {
	if m.Size > limit {
		return nil, graph.ErrInvalidParameter.Withf("the file is %d bytes; at most %d here", m.Size, limit)
	}
	return io.ReadAll(&mediaReader{fsm: g.d.Cluster.FSM(), sealer: g.d.Sealer, m: m})
}

// headerKinds maps a template header format to the MIME prefix its
// example file must have.
var headerKinds = map[string]string{"IMAGE": "image/", "VIDEO": "video/", "DOCUMENT": "application/pdf"}

// checkHeaderHandles checks the example.header_handle of media headers
// (of the template and of carousel cards): a handle of waedge's shape must
// be a finished upload of the business, of the header's kind. Other
// strings (handles from Meta, kept by migrated integrations) are not
// checked.
func (g *graphAPI) checkHeaderHandles(comps []cloudapi.TemplateComponent, business string) error {
	check := func(format string, example json.RawMessage) error {
		prefix, media := headerKinds[strings.ToUpper(format)]
		if !media || len(example) == 0 {
			return nil
		}
		var ex struct {
			HeaderHandle []string `json:"header_handle"`
		}
		if json.Unmarshal(example, &ex) != nil {
			return nil // the shape is the parser's business
		}
		for _, h := range ex.HeaderHandle {
			if !isWaedgeHandle(h) {
				continue
			}
			m, err := g.resolveHandle(h, business)
			if err != nil {
				return err
			}
			if !strings.HasPrefix(m.MIME, prefix) {
				return graph.ErrInvalidParameter.Withf("example.header_handle of a %s header names a %s file", strings.ToUpper(format), m.MIME)
			}
		}
		return nil
	}
	for _, c := range comps {
		if err := check(c.Format, c.Example); err != nil {
			return err
		}
		for _, card := range c.Cards {
			for _, cc := range card.Components {
				if err := check(cc.Format, cc.Example); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
