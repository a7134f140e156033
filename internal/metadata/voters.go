package metadata

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/sluice-io/sluice/internal/fsutil"
)

// votersFile holds the voter set a node was formatted with (sluice format
// --initial-controllers, KIP-853's formatted voters), for nodes that find
// the quorum through controller.quorum.bootstrap.servers instead of a
// static controller.quorum.voters: node id to controller listener address.
const votersFile = "quorum-voters"

// WriteVoters records the formatted voter set in the metadata log
// directory dir and bootstraps the quorum state with it, so every voter
// formatted alike starts from the same entry 1.
func WriteVoters(dir string, voters map[int32]string) error {
	if len(voters) == 0 {
		return errors.New("metadata: no voters")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if old, err := ReadVoters(dir); err == nil {
		if fmt.Sprint(old) != fmt.Sprint(voters) {
			return fmt.Errorf("metadata: %s is already formatted with voters %v", dir, old)
		}
		return nil
	}
	m := map[string]string{}
	for id, addr := range voters {
		m[strconv.Itoa(int(id))] = addr
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(dir, votersFile, append(b, '\n'))
}

// ReadVoters returns the voter set dir was formatted with.
func ReadVoters(dir string) (map[int32]string, error) {
	b, err := os.ReadFile(filepath.Join(dir, votersFile))
	if err != nil {
		return nil, err
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("metadata: %s: %w", filepath.Join(dir, votersFile), err)
	}
	out := map[int32]string{}
	for k, v := range m {
		id, err := strconv.ParseInt(k, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("metadata: %s: voter id %q", filepath.Join(dir, votersFile), k)
		}
		out[int32(id)] = v
	}
	return out, nil
}
