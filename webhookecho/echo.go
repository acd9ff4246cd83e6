// Package webhookecho is `waedge webhook-echo`: a tiny webhook receiver for
// trying waedge (and the README's walkthroughs) without writing one. It
// answers the subscription handshake when the verify token matches, checks
// every event's X-Hub-Signature-256 against the app secret, and prints each
// signed event's body on one line; an event with a missing or wrong
// signature is refused (401) and reported on stderr, never printed.
package webhookecho

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/waedge/waedge/cloudapi"
)

// maxBody bounds one event (Meta's are far smaller).
const maxBody = 4 << 20

// Handler returns the receiver: GET answers the handshake (hub.mode
// subscribe, hub.verify_token equal to verifyToken) with hub.challenge;
// POST checks the signature with appSecret and writes the body and a
// newline to out.
func Handler(verifyToken, appSecret string, out, log io.Writer) http.Handler {
	var mu sync.Mutex // one event per line, whole
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet:
			if r.URL.Query().Get("hub.mode") == "" {
				http.Error(w, "webhook-echo: POST events here", http.StatusBadRequest) // a probe, not a handshake
				return
			}
			challenge, ok := cloudapi.VerifyChallenge(r.URL.Query(), verifyToken)
			if !ok {
				fmt.Fprintln(log, "webhook-echo: handshake refused (wrong verify token)")
				http.Error(w, "forbidden", http.StatusForbidden)
				return
			}
			fmt.Fprintln(log, "webhook-echo: handshake answered")
			_, _ = io.WriteString(w, challenge)
		case http.MethodPost:
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
			if err != nil {
				http.Error(w, "body", http.StatusRequestEntityTooLarge)
				return
			}
			if !cloudapi.VerifySignature(appSecret, body, r.Header.Get("X-Hub-Signature-256")) {
				fmt.Fprintln(log, "webhook-echo: event refused: missing or wrong X-Hub-Signature-256")
				http.Error(w, "bad signature", http.StatusUnauthorized)
				return
			}
			mu.Lock()
			_, err = fmt.Fprintf(out, "%s\n", body)
			mu.Unlock()
			if err != nil {
				http.Error(w, "output", http.StatusInternalServerError)
			}
		default:
			http.Error(w, "method", http.StatusMethodNotAllowed)
		}
	})
}

const usage = `usage: waedge webhook-echo --verify-token T --app-secret S [--listen 127.0.0.1:9000]

Receives webhooks: answers the subscription handshake when hub.verify_token is T,
checks every event's X-Hub-Signature-256 with the app secret S (from tenant create;
env WAEDGE_APP_SECRET), and prints each signed event's JSON on one line on stdout.
`

// Main runs the receiver until ctx ends; it returns the exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("webhook-echo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	listen := fs.String("listen", "127.0.0.1:9000", "listen address")
	verifyToken := fs.String("verify-token", "", "the verify_token given when subscribing")
	appSecret := fs.String("app-secret", "", "the app secret events are signed with (env WAEDGE_APP_SECRET)")
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		return 2
	}
	if *appSecret == "" {
		*appSecret = getenv("WAEDGE_APP_SECRET")
	}
	if *verifyToken == "" || *appSecret == "" {
		fmt.Fprint(stderr, "webhook-echo: --verify-token and --app-secret are required\n\n"+usage)
		return 2
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "webhook-echo: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "webhook-echo: listening on http://%s/\n", ln.Addr())
	srv := &http.Server{Handler: Handler(*verifyToken, *appSecret, stdout, stderr), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(stderr, "webhook-echo: %v\n", err)
		return 1
	}
	return 0
}
