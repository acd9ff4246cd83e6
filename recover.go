package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/hashicorp/raft"

	"github.com/waedge/waedge/node"
)

// clusterRecover is `waedge cluster recover`: offline, on a stopped
// survivor's data dir, after the cluster lost its quorum for good.
func clusterRecover(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("cluster recover", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", envDefault(getenv, "data-dir", defaultDataDir), "data dir of the stopped surviving node")
	votersF := fs.String("voters", "", "the new cluster's voters as NODE_ID=CLUSTER_ADDR, comma-separated (default: this node alone at its last address)")
	yes := fs.Bool("yes", false, "confirm: the other members will never come back with their data")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "waedge cluster recover: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if !*yes {
		fmt.Fprint(stderr, `waedge cluster recover rewrites this node's cluster membership. Use it only when a
quorum of the members is lost for good: the others must never start again with their data (wipe
them, then join them anew with join tokens). Stop this node first. Confirm with --yes.
`)
		return 2
	}
	var voters []raft.Server
	for _, v := range strings.Split(*votersF, ",") {
		if v = strings.TrimSpace(v); v == "" {
			continue
		}
		id, addr, ok := strings.Cut(v, "=")
		if !ok {
			fmt.Fprintf(stderr, "waedge cluster recover: --voters %q: want NODE_ID=CLUSTER_ADDR\n", v)
			return 2
		}
		voters = append(voters, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(id), Address: raft.ServerAddress(addr)})
	}
	rec, err := node.Recover(*dataDir, voters)
	if err != nil {
		fmt.Fprintf(stderr, "waedge cluster recover: %v\n", err)
		if errors.Is(err, node.ErrBadConfig) {
			return 2
		}
		return 1
	}
	b, _ := json.MarshalIndent(rec, "", "  ")
	fmt.Fprintf(stdout, "%s\n", b)
	fmt.Fprintln(stderr, "recovered: start the node again with its usual command line; it leads a cluster of the voters above")
	return 0
}
