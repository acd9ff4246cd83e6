package web

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/waedge/waedge/cloudapi"
	"github.com/waedge/waedge/graph"
	"github.com/waedge/waedge/raftfsm"
)

// Upload limits; the per-type media limits are cloudapi's (docs/cloud-api.md §3).
const (
	multipartOverhead = 1 << 20
	// maxUploadBody bounds a whole upload request.
	maxUploadBody = cloudapi.MaxDocumentBytes + multipartOverhead
	// mediaURLTTL is how long a download URL is valid.
	mediaURLTTL = 5 * time.Minute
	// mediaDownloadPath prefixes download URLs (no Graph version: the
	// URL is opaque to clients).
	mediaDownloadPath = "/v1/media/download/"
)

// mediaKinds maps each supported MIME type to its message type.
var mediaKinds = map[string]string{
	"audio/aac": "audio", "audio/amr": "audio", "audio/mpeg": "audio", "audio/mp4": "audio", "audio/ogg": "audio",
	"text/plain": "document", "application/pdf": "document",
	"application/msword": "document",
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document": "document",
	"application/vnd.ms-excel": "document",
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":         "document",
	"application/vnd.ms-powerpoint":                                             "document",
	"application/vnd.openxmlformats-officedocument.presentationml.presentation": "document",
	"image/jpeg": "image", "image/png": "image",
	"image/webp": "sticker",
	"video/mp4":  "video", "video/3gp": "video",
}

// mediaLimit is the size limit of a MIME type (supported or not: an
// unsupported type gets the largest limit, it is rejected by type).
func mediaLimit(mimeType string, animated bool) int64 {
	kind := mediaKinds[mimeType]
	if kind == "sticker" && !animated {
		return cloudapi.MaxStickerStaticBytes
	}
	return cloudapi.MediaSizeLimit(kind)
}

// baseMIME is a MIME type without parameters, lower case ("" when it does
// not parse).
func baseMIME(s string) string {
	if s == "" {
		return ""
	}
	mt, _, err := mime.ParseMediaType(s)
	if err != nil {
		return ""
	}
	return mt
}

// isAnimatedWebP reports whether a WebP's first bytes carry the extended
// header's animation flag.
func isAnimatedWebP(b []byte) bool {
	return len(b) > 20 && string(b[0:4]) == "RIFF" && string(b[8:16]) == "WEBPVP8X" && b[20]&0x02 != 0
}

// errUploadTooLarge: the request body passed maxUploadBody.
var errUploadTooLarge = errors.New("upload body too large")

// capReader fails with errUploadTooLarge once more than n bytes were read.
type capReader struct {
	r io.Reader
	n int64
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.n < 0 {
		return 0, errUploadTooLarge
	}
	if int64(len(p)) > c.n+1 {
		p = p[:c.n+1]
	}
	n, err := c.r.Read(p)
	c.n -= int64(n)
	if c.n < 0 {
		return n, errUploadTooLarge
	}
	return n, err
}

func uploadError(format string, args ...any) error {
	return cloudapi.ErrMediaUpload.Withf(format, args...)
}

// upload is one media upload in progress.
type upload struct {
	g      *graphAPI
	tenant raftfsm.Tenant
	id     string
	now    time.Time
	chunks uint32 // chunks proposed (and committed by Raft)
	// retention is the phone number's: chunks are sealed under the data
	// key of its retention class, destroyed soon after the media expires.
	retention time.Duration

	declared string // the form's type field
	partCT   string // the file part's Content-Type
	sniffed  string
	animated bool
	filename string
	size     int64
	sum      [32]byte

	// store keeps one chunk of the file (putChunk; the fuzz test keeps
	// chunks in memory).
	store func(ctx context.Context, chunk []byte) error
}

// uploadMedia answers POST /{phone-number-id}/media: a multipart form with
// file, type (optional: sniffed) and messaging_product (form or query), in
// any order. The file is read, sealed and replicated one chunk at a time;
// nothing is visible until the final commit, and a failure after chunks
// were stored deletes them.
func (g *graphAPI) uploadMedia(c *fiber.Ctx) (err error) {
	t, err := g.ownPhone(c)
	if err != nil {
		return err
	}
	mt, params, perr := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if perr != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return graph.ErrInvalidParameter.With("the upload must be a multipart/form-data body")
	}
	if p := c.Query("messaging_product"); p != "" && p != "whatsapp" {
		return graph.ErrInvalidParameter.Withf("messaging_product must be whatsapp, not %q", p)
	}
	if cl := c.Request().Header.ContentLength(); cl > maxUploadBody {
		return uploadError("the upload is larger than the %d-byte limit", cloudapi.MaxDocumentBytes)
	}
	var body io.Reader = c.Context().RequestBodyStream()
	if body == nil {
		body = bytes.NewReader(c.Body())
	}
	phone, err := g.d.Cluster.FSM().Phone(t.PhoneNumberID)
	if err != nil {
		return err
	}
	capped := &capReader{r: body, n: maxUploadBody}
	u := &upload{g: g, tenant: t, now: g.d.Now(), retention: phone.EffectiveRetention()}
	u.store = u.putChunk
	ctx := c.UserContext()
	defer func() {
		if err != nil && u.chunks > 0 {
			u.abort(ctx)
		}
	}()
	product := strings.Clone(c.Query("messaging_product"))
	if err := u.readForm(ctx, multipart.NewReader(capped, params["boundary"]), &product); err != nil {
		if errors.Is(err, errUploadTooLarge) {
			return uploadError("the upload is larger than the %d-byte limit", cloudapi.MaxDocumentBytes)
		}
		return err
	}
	if product != "whatsapp" {
		if product == "" {
			return graph.ErrInvalidParameter.With("messaging_product is required (form field or query parameter)")
		}
		return graph.ErrInvalidParameter.Withf("messaging_product must be whatsapp, not %q", product)
	}
	if u.id == "" {
		return graph.ErrInvalidParameter.With("the form has no file field")
	}
	mimeType, err := u.check()
	if err != nil {
		return err
	}
	cmd, err := raftfsm.EncodeCommand(raftfsm.CmdCommitMedia, raftfsm.CommitMedia{
		ID: u.id, PhoneNumberID: t.PhoneNumberID, BusinessID: t.BusinessID, MIME: mimeType, SHA256: u.sum,
		Size: u.size, Chunks: u.chunks, Filename: u.filename, At: u.now.UnixMilli()})
	if err != nil {
		return err
	}
	if _, err := raftfsm.Outcome(g.d.Cluster.Propose(ctx, cmd)); err != nil {
		return fmt.Errorf("commit media: %w", err)
	}
	return c.JSON(fiber.Map{"id": u.id})
}

// readForm reads every part; product receives the messaging_product field.
func (u *upload) readForm(ctx context.Context, mr *multipart.Reader, product *string) error {
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if errors.Is(err, errUploadTooLarge) {
				return err
			}
			return graph.ErrInvalidParameter.With("the multipart body is malformed")
		}
		switch part.FormName() {
		case "messaging_product":
			v, err := smallField(part)
			if err != nil {
				return err
			}
			if v != "whatsapp" {
				return graph.ErrInvalidParameter.Withf("messaging_product must be whatsapp, not %q", v)
			}
			*product = v
		case "type":
			v, err := smallField(part)
			if err != nil {
				return err
			}
			if u.declared = baseMIME(v); u.declared == "" || mediaKinds[u.declared] == "" {
				return uploadError("type %q is not a supported media type", v)
			}
		case "file":
			if u.id != "" {
				return graph.ErrInvalidParameter.With("the form has more than one file")
			}
			if err := u.readFile(ctx, part); err != nil {
				return err
			}
		default: // ttl_minutes and unknown fields are read and ignored
			if _, err := io.Copy(io.Discard, part); err != nil {
				return partErr(err)
			}
		}
	}
}

func partErr(err error) error {
	if errors.Is(err, errUploadTooLarge) {
		return err
	}
	return graph.ErrInvalidParameter.With("the multipart body is malformed")
}

// smallField reads a short form value.
func smallField(p *multipart.Part) (string, error) {
	b, err := io.ReadAll(io.LimitReader(p, 1<<10+1))
	if err != nil {
		return "", partErr(err)
	}
	if len(b) > 1<<10 {
		return "", graph.ErrInvalidParameter.Withf("form field %s is too long", p.FormName())
	}
	return strings.TrimSpace(string(b)), nil
}

// readFile streams the file part into sealed, replicated chunks.
func (u *upload) readFile(ctx context.Context, part *multipart.Part) error {
	id, err := graph.NewID()
	if err != nil {
		return err
	}
	u.id = id
	u.partCT = baseMIME(part.Header.Get("Content-Type"))
	if u.partCT == "application/octet-stream" {
		u.partCT = ""
	}
	if name := part.FileName(); len(name) <= 240 {
		u.filename = name
	}
	// The running limit: the declared type's when it came first, else the
	// largest; the final type's limit is checked at the end.
	limit := int64(cloudapi.MaxDocumentBytes)
	if u.declared != "" {
		limit = max(mediaLimit(u.declared, true), mediaLimit(u.declared, false))
	}
	h := sha256.New()
	buf := make([]byte, raftfsm.MediaChunkSize)
	for {
		n, rerr := io.ReadFull(part, buf)
		if n > 0 {
			if u.size == 0 {
				u.sniffed = baseMIME(http.DetectContentType(buf[:n]))
				u.animated = isAnimatedWebP(buf[:n])
			}
			u.size += int64(n)
			if u.size > limit {
				return uploadError("the file is larger than the %d-byte limit", limit)
			}
			h.Write(buf[:n])
			if err := u.store(ctx, buf[:n]); err != nil {
				return err
			}
		}
		if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
			break
		}
		if rerr != nil {
			return partErr(rerr)
		}
	}
	h.Sum(u.sum[:0])
	return nil
}

// putChunk seals one chunk on this node, under the phone's retention
// class, and replicates it.
func (u *upload) putChunk(ctx context.Context, chunk []byte) error {
	sealed, err := u.g.d.Sealer.SealFor(ctx, u.retention, raftfsm.MediaChunkAAD(u.id, u.chunks), chunk)
	if err != nil {
		return fmt.Errorf("seal media chunk: %w", err)
	}
	cmd, err := raftfsm.EncodeCommand(raftfsm.CmdPutMediaChunk, raftfsm.PutMediaChunk{
		ID: u.id, PhoneNumberID: u.tenant.PhoneNumberID, BusinessID: u.tenant.BusinessID,
		Index: u.chunks, Sealed: sealed, CreatedAt: u.now.UnixMilli()})
	if err != nil {
		return err
	}
	if _, err := raftfsm.Outcome(u.g.d.Cluster.Propose(ctx, cmd)); err != nil {
		return fmt.Errorf("store media chunk: %w", err)
	}
	u.chunks++
	return nil
}

// check settles the MIME type (declared, else the file part's, else
// sniffed) and enforces the type table and its size limit.
func (u *upload) check() (string, error) {
	mimeType := u.declared
	if mimeType == "" {
		mimeType = u.partCT
	}
	if mimeType == "" {
		mimeType = u.sniffed
	}
	if u.size == 0 {
		return "", uploadError("the file is empty")
	}
	if mediaKinds[mimeType] == "" {
		return "", uploadError("media type %q is not supported", mimeType)
	}
	if limit := mediaLimit(mimeType, u.animated); u.size > limit {
		return "", uploadError("the file is %d bytes; the limit for %s is %d bytes", u.size, mimeType, limit)
	}
	// Images and stickers are recognised reliably by their magic bytes;
	// a mismatch is a mislabelled file.
	if k := mediaKinds[mimeType]; (k == "image" || k == "sticker") && u.sniffed != mimeType {
		return "", uploadError("the file content is not %s", mimeType)
	}
	return mimeType, nil
}

// abort deletes the chunks of a failed upload, even after the request's
// own deadline passed. If that fails too, expiry removes the uncommitted
// upload after an hour; it is invisible meanwhile.
func (u *upload) abort(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	cmd, err := raftfsm.EncodeCommand(raftfsm.CmdDeleteMedia, raftfsm.DeleteMedia{
		ID: u.id, BusinessID: u.tenant.BusinessID, At: u.g.d.Now().UnixMilli()})
	if err == nil {
		_, err = raftfsm.Outcome(u.g.d.Cluster.Propose(ctx, cmd))
	}
	if err != nil {
		u.g.d.Logger.Warn("could not delete an aborted upload; expiry will", slog.Any("err", err))
	}
}

// ownMedia returns a committed, unexpired media of the caller's business
// (and of phone_number_id when the query gives one). Anything else is
// ErrNotFound, so a foreign id answers like a missing one.
func (g *graphAPI) ownMedia(c *fiber.Ctx, id string) (raftfsm.Media, error) {
	m, err := g.d.Cluster.FSM().Media(id)
	if err != nil {
		return m, err
	}
	if m.BusinessID != businessOf(c) || m.Expired(g.d.Now().UnixMilli()) {
		return raftfsm.Media{}, raftfsm.ErrNotFound
	}
	if p := c.Query("phone_number_id"); p != "" && p != m.PhoneNumberID {
		return raftfsm.Media{}, raftfsm.ErrNotFound
	}
	return m, nil
}

// mediaSig signs a download URL: HMAC-SHA256 of id and expiry.
func (g *graphAPI) mediaSig(id string, exp int64) string {
	key := g.d.Sealer.URLKey()
	m := hmac.New(sha256.New, key[:])
	m.Write([]byte(id))
	m.Write([]byte{0})
	m.Write([]byte(strconv.FormatInt(exp, 10)))
	return hex.EncodeToString(m.Sum(nil))
}

// mediaView is GET /{media-id}.
func (g *graphAPI) mediaView(c *fiber.Ctx, m raftfsm.Media) error {
	exp := g.d.Now().Add(mediaURLTTL).Unix()
	u := g.d.PublicURL + mediaDownloadPath + m.ID + "?exp=" + strconv.FormatInt(exp, 10) + "&sig=" + g.mediaSig(m.ID, exp)
	return c.JSON(fiber.Map{"messaging_product": "whatsapp", "url": u, "mime_type": m.MIME,
		"sha256": hex.EncodeToString(m.SHA256[:]), "file_size": m.Size, "id": m.ID})
}

// errMediaURL answers a download URL that is not valid (tampered) or no
// longer valid (expired): like a missing object, so nothing is learnt.
func errMediaURL(id string) error {
	return graph.ErrObjectNotFound.Withf("the media URL for '%s' is invalid or has expired; GET the media id for a fresh URL", id)
}

// downloadMedia answers GET /v1/media/download/{id}?exp=…&sig=…: a signed,
// unexpired URL and the owning business's token. The body is streamed one
// chunk at a time.
func (g *graphAPI) downloadMedia(c *fiber.Ctx) error {
	id := strings.Clone(c.Params("id"))
	exp, err := strconv.ParseInt(c.Query("exp"), 10, 64)
	if err != nil || !hmac.Equal([]byte(c.Query("sig")), []byte(g.mediaSig(id, exp))) ||
		g.d.Now().Unix() > exp {
		return errMediaURL(id)
	}
	m, err := g.ownMedia(c, id)
	if errors.Is(err, raftfsm.ErrNotFound) {
		return errMediaURL(id)
	}
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, m.MIME)
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set(fiber.HeaderContentDisposition, "attachment")
	c.Set(fiber.HeaderCacheControl, "private, no-store")
	c.Context().SetBodyStream(&mediaReader{fsm: g.d.Cluster.FSM(), sealer: g.d.Sealer, m: m}, int(m.Size))
	return nil
}

// mediaReader reads a media's plaintext, loading and opening one chunk at
// a time. It holds no request state: fasthttp reads it after the handler
// returned.
type mediaReader struct {
	fsm    *raftfsm.FSM
	sealer Sealer
	m      raftfsm.Media
	next   uint32
	buf    []byte
}

func (r *mediaReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.next >= r.m.Chunks {
			return 0, io.EOF
		}
		sealed, err := r.fsm.MediaChunk(r.m.ID, r.next)
		if err != nil {
			return 0, fmt.Errorf("media chunk %d: %w", r.next, err)
		}
		pt, err := r.sealer.Open(raftfsm.MediaChunkAAD(r.m.ID, r.next), sealed)
		if err != nil {
			return 0, fmt.Errorf("open media chunk %d: %w", r.next, err)
		}
		r.buf = pt
		r.next++
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// deleteNode answers DELETE /{node-id}: media today.
func (g *graphAPI) deleteNode(c *fiber.Ctx) error {
	id := strings.Clone(c.Params("node"))
	m, err := g.ownMedia(c, id)
	if errors.Is(err, raftfsm.ErrNotFound) {
		return graph.ErrObjectNotFound.Withf("Unsupported delete request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation", id)
	}
	if err != nil {
		return err
	}
	cmd, err := raftfsm.EncodeCommand(raftfsm.CmdDeleteMedia, raftfsm.DeleteMedia{
		ID: m.ID, BusinessID: m.BusinessID, PhoneNumberID: m.PhoneNumberID, At: g.d.Now().UnixMilli()})
	if err != nil {
		return err
	}
	_, err = raftfsm.Outcome(g.d.Cluster.Propose(c.UserContext(), cmd))
	if errors.Is(err, raftfsm.ErrNotFound) { // deleted concurrently
		return graph.ErrObjectNotFound.Withf("Unsupported delete request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation", id)
	}
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"success": true})
}

// checkMediaID refuses a message that refers to an uploaded media id which
// is not a committed, unexpired media of this business of the right kind.
func (g *graphAPI) checkMediaID(c *fiber.Ctx, m cloudapi.MediaRef) error {
	id := cloudapi.NormalizeID(m.Media.ID)
	media, err := g.ownMedia(c, id)
	if errors.Is(err, raftfsm.ErrNotFound) {
		return uploadError("%s.id %s is not a media uploaded by this business, or it has expired", m.Field, id)
	}
	if err != nil {
		return err
	}
	if kind := mediaKinds[media.MIME]; kind != m.Kind {
		return uploadError("%s.id %s is %s media (%s), not usable as %s", m.Field, id, kind, media.MIME, m.Kind)
	}
	return nil
}
