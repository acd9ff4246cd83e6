package phone

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/waedge/waedge/network"
	"github.com/waedge/waedge/relay/relayclient"
)

// Main runs `phone --relay URL --number N --name NAME --business NUMBER [--data-dir DIR]`: an
// interactive terminal chat with one business, reading lines from standard input.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return Run(ctx, args, os.Stdin, stdout, stderr)
}

// Run is Main with an explicit input. Each input line is sent as a text message; "/read ID",
// "/spam", "/block", "/unblock", "/inbox" and "/quit" are commands. Received messages and status
// changes are printed as they happen. It returns at end of input, /quit or when ctx is done.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("phone", flag.ContinueOnError)
	fs.SetOutput(stderr)
	relayURL := fs.String("relay", "http://127.0.0.1:8088", "relay base URL")
	number := fs.String("number", "", "this phone's number (digits)")
	name := fs.String("name", "", "profile name")
	business := fs.String("business", "", "number to chat with")
	dataDir := fs.String("data-dir", "", "keep identity, sessions and messages in DIR (default: memory)")
	verbose := fs.Bool("v", false, "debug logging")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if !network.ValidNumber(*number) || !network.ValidNumber(*business) {
		fmt.Fprintln(stderr, "phone: --number and --business must be 3 to 15 digits")
		return 2
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	SetupSignalLogging(logger)

	out := &lockedWriter{w: stdout}
	var store Store
	if *dataDir != "" {
		if err := os.MkdirAll(*dataDir, 0o700); err != nil {
			fmt.Fprintf(stderr, "phone: %v\n", err)
			return 1
		}
		db, err := OpenBoltDB(filepath.Join(*dataDir, "phone-"+*number+".db"))
		if err != nil {
			fmt.Fprintf(stderr, "phone: %v\n", err)
			return 1
		}
		defer db.Close()
		store = NewBoltStore(db, "phone")
	}
	p, err := New(Config{Number: *number, Name: *name, Store: store,
		OnUpdate: func(m Message) { printUpdate(out, m) },
		OnTyping: func(from string) { out.printf("... %s is typing\n", from) }}, logger)
	if err != nil {
		fmt.Fprintf(stderr, "phone: %v\n", err)
		return 1
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	client, err := relayclient.Dial(dctx, *relayURL, relayclient.Options{Signer: p, Logger: logger})
	if err != nil {
		fmt.Fprintf(stderr, "phone: %v\n", err)
		return 1
	}
	defer client.Close()
	if err := p.Start(dctx, client); err != nil {
		fmt.Fprintf(stderr, "phone: %v\n", err)
		return 1
	}
	defer p.Close()
	out.printf("phone %s online; chatting with %s (/quit to leave)\n", *number, *business)

	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdin)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return 0
		case line, ok := <-lines:
			if !ok || strings.TrimSpace(line) == "/quit" {
				return 0
			}
			if err := command(ctx, p, *business, strings.TrimSpace(line), out); err != nil {
				out.printf("! %v\n", err)
			}
		}
	}
}

func command(ctx context.Context, p *Phone, business, line string, out *lockedWriter) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd, arg, _ := strings.Cut(line, " ")
	switch cmd {
	case "":
		return nil
	case "/read":
		return p.MarkRead(ctx, strings.TrimSpace(arg))
	case "/spam":
		return p.ReportSpam(ctx, business)
	case "/block":
		return p.Block(ctx, business)
	case "/unblock":
		return p.Unblock(ctx, business)
	case "/stop-marketing":
		return p.StopMarketing(ctx, business)
	case "/resume-marketing":
		return p.ResumeMarketing(ctx, business)
	case "/inbox":
		msgs, err := p.Inbox()
		for _, m := range msgs {
			printUpdate(out, m)
		}
		return err
	}
	if strings.HasPrefix(cmd, "/") {
		return fmt.Errorf("unknown command %s", cmd)
	}
	m, err := p.SendText(ctx, business, line)
	if err != nil {
		return err
	}
	out.printf("-> %s sent\n", m.ID)
	return nil
}

// printUpdate prints a received message or a status change of a sent one.
func printUpdate(out *lockedWriter, m Message) {
	if m.Direction == DirectionOut {
		out.printf("   %s %s\n", m.ID, m.Status)
		return
	}
	at := time.UnixMilli(m.Timestamp).Format("15:04:05")
	who := m.From
	if m.ProfileName != "" {
		who = m.ProfileName + " (" + m.From + ")"
	}
	out.printf("<- [%s] %s: %s  [%s]\n", at, who, describe(m), m.ID)
}

func describe(m Message) string {
	c := m.Content
	switch {
	case m.Status == StatusUndecryptable:
		return "(could not decrypt)"
	case c.Text != nil:
		return c.Text.Body
	case c.Template != nil:
		return c.Template.Body
	case c.Interactive != nil:
		var opts []string
		for _, b := range c.Interactive.Buttons {
			opts = append(opts, "["+b.Title+"]")
		}
		for _, s := range c.Interactive.Sections {
			for _, r := range s.Rows {
				opts = append(opts, "["+r.Title+"]")
			}
		}
		return c.Interactive.Body + " " + strings.Join(opts, " ")
	case c.Media != nil:
		return fmt.Sprintf("(%s %s, %d bytes) %s", c.Type, c.Media.MIMEType, c.Media.Size, c.Media.Caption)
	case c.Location != nil:
		return fmt.Sprintf("(location %.5f,%.5f) %s", c.Location.Latitude, c.Location.Longitude, c.Location.Name)
	case c.Reaction != nil:
		return "(reaction " + c.Reaction.Emoji + ")"
	case c.Reply != nil:
		return "(" + c.Type + ") " + c.Reply.Title
	}
	return "(" + c.Type + ")"
}

// lockedWriter serializes output from the input loop and the receive goroutine.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, format, args...)
}
