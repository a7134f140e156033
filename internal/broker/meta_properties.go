package broker

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/sluice-io/sluice/internal/fsutil"
)

// loadMetaProperties reads or creates meta.properties in the log dir, as
// Kafka does: it pins the cluster id and node id to the directory, so a
// data dir is never silently served by another node. A node of a
// multi-node cluster (process.roles set) must have been formatted (sluice
// format, Kafka's kafka-storage format): every node needs the same cluster
// id, which a node cannot invent alone.
func loadMetaProperties(dir string, nodeID int32, mustExist bool) (string, error) {
	path := filepath.Join(dir, "meta.properties")
	b, err := os.ReadFile(path)
	if err == nil {
		props := map[string]string{}
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
				props[strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
		}
		if id := props["node.id"]; id != "" && id != strconv.Itoa(int(nodeID)) {
			return "", fmt.Errorf("%s belongs to node.id %s, not %d", path, id, nodeID)
		}
		if props["cluster.id"] == "" {
			return "", fmt.Errorf("%s has no cluster.id", path)
		}
		return props["cluster.id"], nil
	}
	if !os.IsNotExist(err) {
		return "", err
	}
	if mustExist {
		return "", fmt.Errorf("%s is not formatted: with process.roles set, run `sluice format --cluster-id <id> --log-dirs %s --node-id %d` first, with the same cluster id on every node (`sluice format --random-cluster-id` prints a new one)", dir, dir, nodeID)
	}
	return FormatDir(dir, "", nodeID)
}

// FormatDir writes meta.properties into dir with clusterID (a new random
// one when empty) and nodeID, as kafka-storage format does, and returns
// the cluster id. An existing meta.properties is left alone if it agrees,
// and is an error if it does not.
func FormatDir(dir, clusterID string, nodeID int32) (string, error) {
	if b, err := os.ReadFile(filepath.Join(dir, "meta.properties")); err == nil {
		got, err := loadMetaProperties(dir, nodeID, true)
		if err != nil {
			return "", err
		}
		if clusterID != "" && got != clusterID {
			return "", fmt.Errorf("%s is already formatted for cluster %s (%d bytes)", dir, got, len(b))
		}
		return got, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if clusterID == "" {
		clusterID = NewClusterID()
	}
	body := fmt.Sprintf("#\nversion=1\ncluster.id=%s\nnode.id=%d\n", clusterID, nodeID)
	return clusterID, fsutil.WriteFileAtomic(dir, "meta.properties", []byte(body))
}

// NewClusterID returns a new random cluster id (a base64url UUID, as
// kafka-storage random-uuid prints).
func NewClusterID() string {
	var raw [16]byte
	_, _ = rand.Read(raw[:])
	return base64.RawURLEncoding.EncodeToString(raw[:])
}
