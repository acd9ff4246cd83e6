package cli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/waedge/waedge/backup"
	"github.com/waedge/waedge/httptls"
	"github.com/waedge/waedge/keyring"
	"github.com/waedge/waedge/node"
	"github.com/waedge/waedge/raftfsm"
)

// ErrMasterKey means the master key given to restore does not unwrap the
// backup's data keys.
var ErrMasterKey = errors.New("the master key does not unwrap this backup's data keys")

const backupUsage = `usage:
  waedge backup --out FILE (--passphrase-file P | --key-file K) [--horizon 24h]
                [--server URL] [--token-file F]
  waedge restore --in FILE (--passphrase-file P | --key-file K) --data-dir DIR
                [--master-key-file K]   (or WAEDGE_MASTER_KEY; the old cluster's key)
`

// secretFlags are the two ways to give a backup secret.
type secretFlags struct{ passphraseFile, keyFile *string }

func addSecretFlags(fs *flag.FlagSet) secretFlags {
	return secretFlags{
		passphraseFile: fs.String("passphrase-file", "", "file holding the backup passphrase (at least 12 characters)"),
		keyFile:        fs.String("key-file", "", "file holding a 32-byte backup key (raw, hex or base64)"),
	}
}

// load reads the secret and returns it with its raw bytes (for the
// request header) and whether it is a key.
func (s secretFlags) load() (backup.Secret, []byte, bool, error) {
	if (*s.passphraseFile == "") == (*s.keyFile == "") {
		return backup.Secret{}, nil, false, fmt.Errorf("exactly one of --passphrase-file and --key-file is required")
	}
	if *s.keyFile != "" {
		b, err := os.ReadFile(*s.keyFile)
		if err != nil {
			return backup.Secret{}, nil, false, err
		}
		sec, err := backup.KeyFile(b)
		return sec, b, true, err
	}
	b, err := os.ReadFile(*s.passphraseFile)
	if err != nil {
		return backup.Secret{}, nil, false, err
	}
	b = []byte(strings.TrimRight(string(b), "\r\n"))
	sec, err := backup.Passphrase(b)
	return sec, b, false, err
}

// RunBackup is `waedge backup`: it asks a node for an encrypted backup
// (GET /admin/v1/backup), writes it to --out, and checks that the file
// decrypts to its end before keeping it.
func RunBackup(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, backupUsage) }
	server := fs.String("server", envOr(getenv, "WAEDGE_SERVER", "http://127.0.0.1:8080"), "admin API base URL")
	tokenFile := fs.String("token-file", envOr(getenv, "WAEDGE_TOKEN_FILE", "./waedge-data/admin.token"), "file holding the admin token")
	out := fs.String("out", "", "backup file to write")
	horizon := fs.Duration("horizon", 24*time.Hour, "leave out data keys destroyed within this time (0 to 720h)")
	timeout := fs.Duration("timeout", time.Hour, "request timeout")
	caFile := fs.String("ca-file", envOr(getenv, "WAEDGE_CA_FILE", ""), "PEM certificate(s) to trust for an https:// --server")
	sf := addSecretFlags(fs)
	if !parse(fs, args, 0) {
		return 2
	}
	if *out == "" || *horizon < 0 || *horizon > raftfsm.MaxRetention {
		fmt.Fprint(stderr, "backup: --out is required and --horizon must be between 0 and 720h\n\n"+backupUsage)
		return 2
	}
	secret, raw, isKey, err := sf.load()
	if err != nil {
		fmt.Fprintf(stderr, "backup: %v\n", err)
		return 2
	}
	tok := strings.TrimSpace(getenv("WAEDGE_ADMIN_TOKEN"))
	if tok == "" {
		b, err := os.ReadFile(*tokenFile)
		if err != nil {
			fmt.Fprintf(stderr, "cannot read admin token: %v (use --token-file)\n", err)
			return 1
		}
		tok = strings.TrimSpace(string(b))
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	u := strings.TrimRight(*server, "/") + "/admin/v1/backup?horizon_hours=" + strconv.Itoa(int(*horizon/time.Hour))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		fmt.Fprintf(stderr, "invalid server address: %v\n", err)
		return 2
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	header := "X-Waedge-Backup-Passphrase"
	if isKey {
		header = "X-Waedge-Backup-Key"
	}
	req.Header.Set(header, base64.StdEncoding.EncodeToString(raw))
	client, err := httptls.Client(*caFile, 0)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if err := fetchBackup(client, req, *out, secret); err != nil {
		fmt.Fprintf(stderr, "backup: %v\n", err)
		return 1
	}
	st, _ := os.Stat(*out)
	f, _ := os.Open(*out)
	var hdr backup.Header
	if f != nil {
		if r, err := backup.NewReader(f, secret); err == nil {
			hdr = r.Header()
		}
		_ = f.Close()
	}
	return printJSON(stdout, map[string]any{
		"file": *out, "bytes": st.Size(),
		"created_at": time.UnixMilli(hdr.CreatedAt).UTC().Format(time.RFC3339),
		"horizon":    time.UnixMilli(hdr.Horizon).UTC().Format(time.RFC3339),
	})
}

// fetchBackup downloads the backup to out (via a temporary file) and
// verifies it decrypts completely.
func fetchBackup(client *http.Client, req *http.Request, out string, secret backup.Secret) error {
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach %s: %w", req.URL.Host, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		var e apiError
		if json.Unmarshal(b, &e) == nil && e.Error.Message != "" {
			return fmt.Errorf("%w (HTTP %d): %s %s", ErrServer, resp.StatusCode, e.Error.Message, e.Error.ErrorData.Details)
		}
		return fmt.Errorf("%w (HTTP %d)", ErrServer, resp.StatusCode)
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), ".waedge-backup-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, resp.Body); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("download: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		_ = tmp.Close()
		return err
	}
	r, err := backup.NewReader(tmp, secret)
	if err == nil {
		_, err = io.Copy(io.Discard, r)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("the downloaded backup does not verify: %w", err)
	}
	return os.Rename(tmp.Name(), out)
}

// RunRestore is `waedge restore`: it builds a new node data dir whose
// first `waedge serve` starts a new one-node cluster from the backup.
func RunRestore(args []string, stdout, stderr io.Writer, getenv func(string) string, now func() time.Time) int {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, backupUsage) }
	in := fs.String("in", "", "backup file")
	dataDir := fs.String("data-dir", "", "new, empty data dir for the restored node")
	masterKeyFile := fs.String("master-key-file", "", "file holding the backed-up cluster's master key (or WAEDGE_MASTER_KEY)")
	sf := addSecretFlags(fs)
	if !parse(fs, args, 0) {
		return 2
	}
	if *in == "" || *dataDir == "" {
		fmt.Fprint(stderr, "restore: --in and --data-dir are required\n\n"+backupUsage)
		return 2
	}
	secret, _, _, err := sf.load()
	if err != nil {
		fmt.Fprintf(stderr, "restore: %v\n", err)
		return 2
	}
	mk := getenv("WAEDGE_MASTER_KEY")
	if *masterKeyFile != "" {
		b, err := os.ReadFile(*masterKeyFile)
		if err != nil {
			fmt.Fprintf(stderr, "restore: %v\n", err)
			return 2
		}
		mk = string(b)
	}
	if mk == "" {
		fmt.Fprint(stderr, "restore: the backed-up cluster's master key is required (--master-key-file or WAEDGE_MASTER_KEY): backups never hold it\n")
		return 2
	}
	kek, err := keyring.ParseKEK(mk)
	if err != nil {
		fmt.Fprintf(stderr, "restore: master key: %v\n", err)
		return 2
	}
	st, err := restore(*in, *dataDir, secret, kek, now())
	if err != nil {
		fmt.Fprintf(stderr, "restore: %v\n", err)
		return 1
	}
	return printJSON(stdout, map[string]any{
		"data_dir": *dataDir, "records": st.Records,
		"expired_as_of":  time.UnixMilli(st.ExpiredAsOf).UTC().Format(time.RFC3339),
		"deleted":        st.Deleted,
		"destroyed_keys": st.DestroyedKeys,
		"data_keys":      len(st.DataKeys),
		"next":           "waedge serve --data-dir " + *dataDir,
	})
}

// restore decrypts the backup into a new data dir and checks the master
// key against the restored data keys; on failure it removes what it wrote.
func restore(in, dataDir string, secret backup.Secret, kek keyring.KEK, now time.Time) (raftfsm.RestoreStats, error) {
	var st raftfsm.RestoreStats
	f, err := os.Open(in)
	if err != nil {
		return st, err
	}
	defer f.Close()
	r, err := backup.NewReader(f, secret)
	if err != nil {
		return st, err
	}
	fsmPath, err := node.PrepareRestore(dataDir, kek)
	if err != nil {
		return st, err
	}
	undo := func() {
		entries, _ := os.ReadDir(dataDir)
		for _, e := range entries {
			_ = os.RemoveAll(filepath.Join(dataDir, e.Name()))
		}
	}
	st, err = raftfsm.RestoreBackup(r, fsmPath, now.UnixMilli(), r.Header().Horizon)
	if err != nil {
		undo()
		return st, err
	}
	if err := checkMasterKey(fsmPath, kek); err != nil {
		undo()
		return st, err
	}
	return st, nil
}

// checkMasterKey unwraps every data key of the restored state with kek.
func checkMasterKey(fsmPath string, kek keyring.KEK) error {
	fsm, err := raftfsm.Open(fsmPath, nil)
	if err != nil {
		return err
	}
	defer fsm.Close()
	ids, err := fsm.DataKeyIDs()
	if err != nil {
		return err
	}
	for _, id := range ids {
		w, err := fsm.DataKey(id)
		if err != nil {
			return err
		}
		if _, err := keyring.UnwrapDataKey(kek, id, w); err != nil {
			return ErrMasterKey
		}
	}
	return nil
}

func printJSON(w io.Writer, v any) int {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return 1
	}
	_, _ = w.Write(append(b, '\n'))
	return 0
}
