package relay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/waedge/waedge/network"
)

// SandboxMain runs `sandbox phone create|send|inbox|sent|read|typing|report-spam|block|unblock|stop-marketing|resume-marketing|list`
// against a relay's hosted-phone API and prints the relay's JSON answer. The API's bearer token comes
// from --relay-token, WAEDGE_RELAY_TOKEN, --relay-token-file (WAEDGE_RELAY_TOKEN_FILE), or else
// defaultTokenFile (the embedded sandbox's). It returns a process exit code: 0 on success, 1 when
// the relay refused, 2 on a usage error.
func SandboxMain(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string, defaultTokenFile string) int {
	if len(args) < 2 || args[0] != "phone" {
		fmt.Fprint(stderr, sandboxUsage)
		return 2
	}
	verb := args[1]
	fs := flag.NewFlagSet("sandbox phone "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	def := getenv("WAEDGE_RELAY")
	if def == "" {
		def = "http://127.0.0.1:8089"
	}
	relayURL := fs.String("relay", def, "relay base URL (WAEDGE_RELAY); waedge serve's embedded relay listens on --relay-addr")
	num := fs.String("number", "", "the phone's number, E.164 with or without the + (+4915100000001)")
	tokenFlag := fs.String("relay-token", "", "the relay API's bearer token (WAEDGE_RELAY_TOKEN); prefer the file or the variable, a flag shows in the process list")
	tokenFileDef := getenv("WAEDGE_RELAY_TOKEN_FILE")
	if tokenFileDef == "" {
		tokenFileDef = defaultTokenFile
	}
	tokenFile := fs.String("relay-token-file", tokenFileDef, "file holding the relay API's token (WAEDGE_RELAY_TOKEN_FILE); default: the embedded sandbox's, in --sandbox-dir of the default --data-dir")
	name := fs.String("name", "", "profile name (create)")
	to := fs.String("to", "", "recipient number: the business's display number, E.164 with or without the + (send, typing)")
	text := fs.String("text", "", "text to send (send)")
	typ := fs.String("type", "text", "message type (send): text, image, video, audio, document, sticker, location, contacts, reaction, button_reply, list_reply")
	file := fs.String("file", "", "media file to send (send with a media type)")
	mime := fs.String("mime", "", "media MIME type (send with --file)")
	caption := fs.String("caption", "", "media caption")
	lat := fs.Float64("lat", 0, "latitude (send --type location)")
	lon := fs.Float64("lon", 0, "longitude (send --type location)")
	replyID := fs.String("reply-id", "", "button or row id (send --type button_reply|list_reply)")
	replyTitle := fs.String("reply-title", "", "button or row title")
	msgID := fs.String("message", "", "message id (read; reaction target; reply context)")
	emoji := fs.String("emoji", "", "emoji (send --type reaction)")
	contactName := fs.String("contact-name", "", "contact card name (send --type contacts)")
	contactPhone := fs.String("contact-phone", "", "contact card phone number (send --type contacts)")
	business := fs.String("business", "", "business number (report-spam, block, unblock, stop-marketing, resume-marketing)")
	if err := fs.Parse(args[2:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	// Numbers as tenant create takes them (+E164) or as digits, the same.
	for _, n := range []struct {
		flag string
		v    *string
	}{{"number", num}, {"to", to}, {"business", business}} {
		*n.v = strings.TrimPrefix(*n.v, "+")
		if *n.v != "" && !network.ValidNumber(*n.v) {
			fmt.Fprintf(stderr, "sandbox phone %s: --%s must be a phone number in E.164, with or without the +, e.g. +4915100000001 (3 to 15 digits)\n", verb, n.flag)
			return 2
		}
	}
	base := strings.TrimRight(*relayURL, "/")
	phonePath := "/sandbox/phones/" + url.PathEscape(*num)
	need := func(v, flagName string) bool {
		if v == "" {
			fmt.Fprintf(stderr, "sandbox phone %s: --%s is required\n", verb, flagName)
			return false
		}
		return true
	}
	var method, path string
	var body any
	switch verb {
	case "list":
		method, path = http.MethodGet, "/sandbox/phones"
	case "create":
		if !need(*num, "number") {
			return 2
		}
		method, path, body = http.MethodPost, "/sandbox/phones", map[string]string{"number": *num, "name": *name}
	case "inbox", "sent":
		if !need(*num, "number") {
			return 2
		}
		method, path = http.MethodGet, phonePath+"/"+verb
	case "read":
		if !need(*num, "number") || !need(*msgID, "message") {
			return 2
		}
		method, path, body = http.MethodPost, phonePath+"/read", map[string]string{"message_id": *msgID}
	case "typing":
		if !need(*num, "number") || !need(*to, "to") {
			return 2
		}
		method, path, body = http.MethodPost, phonePath+"/typing", map[string]string{"to": *to}
	case "report-spam", "block", "unblock", "stop-marketing", "resume-marketing":
		if !need(*num, "number") || !need(*business, "business") {
			return 2
		}
		method, path, body = http.MethodPost, phonePath+"/"+verb, map[string]string{"business": *business}
	case "send":
		if !need(*num, "number") || !need(*to, "to") {
			return 2
		}
		m := map[string]any{"to": *to, "type": *typ}
		if *msgID != "" && *typ != "reaction" {
			m["context"] = map[string]string{"message_id": *msgID}
		}
		switch *typ {
		case "text":
			if !need(*text, "text") {
				return 2
			}
			m["text"] = *text
		case "image", "video", "audio", "document", "sticker":
			if !need(*file, "file") || !need(*mime, "mime") {
				return 2
			}
			data, err := os.ReadFile(*file)
			if err != nil {
				fmt.Fprintf(stderr, "sandbox phone send: %v\n", err)
				return 2
			}
			m[*typ] = map[string]any{"data": data, "mime_type": *mime, "caption": *caption}
		case "location":
			m["location"] = map[string]float64{"latitude": *lat, "longitude": *lon}
		case "contacts":
			if !need(*contactName, "contact-name") {
				return 2
			}
			c := map[string]any{"name": map[string]string{"formatted_name": *contactName}}
			if *contactPhone != "" {
				c["phones"] = []map[string]string{{"phone": *contactPhone}}
			}
			m["contacts"] = []any{c}
		case "reaction":
			m["reaction"] = map[string]string{"message_id": *msgID, "emoji": *emoji}
		case "button_reply", "list_reply":
			m[*typ] = map[string]string{"id": *replyID, "title": *replyTitle}
		default:
			fmt.Fprintf(stderr, "sandbox phone send: unknown --type %q\n", *typ)
			return 2
		}
		method, path, body = http.MethodPost, phonePath+"/send", m
	default:
		fmt.Fprint(stderr, sandboxUsage)
		return 2
	}
	token := *tokenFlag
	if token == "" {
		token = getenv("WAEDGE_RELAY_TOKEN")
	}
	if token == "" {
		b, err := os.ReadFile(*tokenFile)
		if err != nil {
			fmt.Fprintf(stderr, "sandbox: no relay token: %v\n(the relay writes it to relay.token in its directory; pass --relay-token-file FILE or set WAEDGE_RELAY_TOKEN)\n", err)
			return 2
		}
		token = strings.TrimSpace(string(b))
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			fmt.Fprintf(stderr, "sandbox: %v\n", err)
			return 2
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		fmt.Fprintf(stderr, "sandbox: %v\n", err)
		return 2
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "sandbox: %v\n", err)
		return 1
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if resp.StatusCode >= 300 {
		fmt.Fprintf(stderr, "sandbox: relay answered %s: %s\n", resp.Status, bytes.TrimSpace(out))
		return 1
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, out, "", "  ") == nil {
		out = pretty.Bytes()
	}
	fmt.Fprintf(stdout, "%s\n", bytes.TrimSpace(out))
	return 0
}

const sandboxUsage = `usage: waedge sandbox phone <verb> [flags]   (JSON output; --relay URL or WAEDGE_RELAY)
  The relay's token is read from --relay-token-file (default: the embedded sandbox's relay.token,
  WAEDGE_DATA_DIR.sandbox/relay.token or WAEDGE_SANDBOX_DIR/relay.token), or given with
  WAEDGE_RELAY_TOKEN / --relay-token.

  list                                          hosted phones
  create --number N [--name NAME]               create a hosted phone (its own Signal identity)
  send --number N --to BUSINESS --text T        send text (also --type image|video|audio|document|sticker
                                                --file F --mime M, location --lat --lon, contacts --contact-name
                                                NAME [--contact-phone P], reaction --message ID
                                                --emoji E, button_reply|list_reply --reply-id --reply-title)
  inbox --number N | sent --number N            messages received / sent, with statuses
  read --number N --message ID                  mark a received message read (read receipt)
  typing --number N --to BUSINESS               show a typing indicator
  report-spam|block|unblock|stop-marketing|resume-marketing --number N --business BUSINESS
`
