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
// data dir is never silently served by another node.
func loadMetaProperties(dir string, nodeID int32) (string, error) {
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
	var raw [16]byte
	_, _ = rand.Read(raw[:])
	id := base64.RawURLEncoding.EncodeToString(raw[:])
	body := fmt.Sprintf("#\nversion=1\ncluster.id=%s\nnode.id=%d\n", id, nodeID)
	return id, fsutil.WriteFileAtomic(dir, "meta.properties", []byte(body))
}
