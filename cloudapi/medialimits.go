package cloudapi

// Media size limits per message type (docs/cloud-api.md §3; decimal units, as
// Meta's table and the client libraries' own checks use).
const (
	MaxDocumentBytes      = 100_000_000
	MaxAudioVideoBytes    = 16_000_000
	MaxImageBytes         = 5_000_000
	MaxStickerAnimBytes   = 500_000
	MaxStickerStaticBytes = 100_000
)

// MediaSizeLimit is the largest media a message of type kind (image,
// audio, video, document, sticker) may carry. A sticker's limit is the
// animated one's: which kind it is shows only in its bytes.
func MediaSizeLimit(kind string) int64 {
	switch kind {
	case "image":
		return MaxImageBytes
	case "audio", "video":
		return MaxAudioVideoBytes
	case "sticker":
		return MaxStickerAnimBytes
	}
	return MaxDocumentBytes
}
