package metadata

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/sluice-io/sluice/internal/fsutil"
)

// Partition directories, as the broker lays them out under log.dirs and
// as the metadata repair reads them back: partition p of topic t lives in
// "<t>-<p>", pinned to its topic ID by a partition.metadata file (Kafka's
// format), so that a directory is never taken for another topic's.
// A directory moved aside is renamed as Kafka does,
// "<t>-<p>.<32 hex digits>-stray" for a stray (a directory the image does
// not know: kept for the operator, never deleted) and "...-delete" for one
// being deleted; neither parses as a partition directory.

// PartitionMetadataFile pins a partition directory to its topic ID.
const PartitionMetadataFile = "partition.metadata"

// Suffixes of partition directories moved aside.
const (
	StraySuffix  = "-stray"
	DeleteSuffix = "-delete"
)

// metadataTopic is the metadata log's topic name in Kafka: its directory
// (LogDirName) would otherwise parse as a partition directory.
const metadataTopic = "__cluster_metadata"

// PartitionDirName is the directory name of a partition.
func PartitionDirName(topic string, partition int32) string {
	return topic + "-" + strconv.Itoa(int(partition))
}

// AsideDirName is the name dir (a partition directory's name) is moved to
// with suffix (StraySuffix or DeleteSuffix), unique by a random part.
func AsideDirName(name, suffix string) string {
	var r [16]byte
	_, _ = rand.Read(r[:])
	return name + "." + hex.EncodeToString(r[:]) + suffix
}

// ParsePartitionDir parses a partition directory's name. Names of
// anything else (the metadata log and copies of it, directories moved
// aside, names that are not a legal topic and a canonical partition
// number) give ok false.
func ParsePartitionDir(name string) (topic string, partition int32, ok bool) {
	i := strings.LastIndexByte(name, '-')
	if i <= 0 {
		return "", 0, false
	}
	topic, num := name[:i], name[i+1:]
	p, err := strconv.ParseInt(num, 10, 32)
	if err != nil || p < 0 || strconv.FormatInt(p, 10) != num || !legalTopicName(topic) || topic == metadataTopic {
		return "", 0, false
	}
	return topic, int32(p), true
}

// legacyDeleteSuffix is what an older Sluice renamed a directory of a
// deleted topic to, just before removing it.
const legacyDeleteSuffix = ".stale-delete"

// ParseAsideDir parses the name of a partition directory moved aside
// (AsideDirName, or an older Sluice's "<name>.stale-delete"): the
// partition directory's name and the suffix (StraySuffix or
// DeleteSuffix). Anything else gives ok false.
func ParseAsideDir(name string) (partitionDir, suffix string, ok bool) {
	if rest, ok := strings.CutSuffix(name, legacyDeleteSuffix); ok {
		_, _, isPart := ParsePartitionDir(rest)
		return rest, DeleteSuffix, isPart
	}
	for _, suffix := range []string{StraySuffix, DeleteSuffix} {
		rest, ok := strings.CutSuffix(name, suffix)
		i := strings.LastIndexByte(rest, '.')
		if !ok || i < 0 || len(rest)-i-1 != 32 {
			continue
		}
		if _, err := hex.DecodeString(rest[i+1:]); err != nil {
			continue
		}
		if _, _, isPart := ParsePartitionDir(rest[:i]); isPart {
			return rest[:i], suffix, true
		}
	}
	return "", "", false
}

// legalTopicName is Kafka's rule: 1 to 249 of [a-zA-Z0-9._-], not "." or "..".
func legalTopicName(s string) bool {
	if s == "" || len(s) > 249 || s == "." || s == ".." {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// WritePartitionTopicID pins dir to the topic id (replacing the file
// atomically when it says something else).
func WritePartitionTopicID(dir string, id UUID) error {
	path := filepath.Join(dir, PartitionMetadataFile)
	body := "version: 0\ntopic_id: " + hex.EncodeToString(id[:]) + "\n"
	if b, err := os.ReadFile(path); err == nil && string(b) == body {
		return nil
	}
	return fsutil.WriteFileAtomic(dir, PartitionMetadataFile, []byte(body))
}

// ReadPartitionTopicID returns the topic id dir is pinned to. A missing
// file is an error satisfying errors.Is(err, fs.ErrNotExist).
func ReadPartitionTopicID(dir string) (UUID, error) {
	var id UUID
	b, err := os.ReadFile(filepath.Join(dir, PartitionMetadataFile))
	if err != nil {
		return id, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "topic_id: "); ok {
			raw, err := hex.DecodeString(v)
			if err != nil || len(raw) != 16 {
				return id, fmt.Errorf("bad topic_id in %s", filepath.Join(dir, PartitionMetadataFile))
			}
			copy(id[:], raw)
			return id, nil
		}
	}
	return id, fmt.Errorf("no topic_id in %s", filepath.Join(dir, PartitionMetadataFile))
}
