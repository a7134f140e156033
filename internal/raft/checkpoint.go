package raft

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/sluice-io/sluice/internal/fsutil"
)

// A checkpoint is a raft snapshot on disk: the state machine's data as of
// an applied index, with that index's term and the configuration then.
// KRaft names its snapshot files by end offset and epoch; ours are
// "%020d-%010d.checkpoint" by index and term, in the WAL's directory.
//
// Layout (big endian):
//
//	"sluice-raft-checkpoint v1\n"   magic, 26 bytes
//	crc32c       uint32   over every byte after it
//	index        uint64
//	term         uint64
//	confLen      uint32   then confLen bytes: raftpb.ConfState (protobuf)
//	dataLen      uint64   then dataLen bytes: the state machine's snapshot
//
// Files are written whole with fsutil.WriteFileAtomic, so a crash while
// one is written leaves no file (or only a .tmp that recovery removes); a
// checkpoint that fails its CRC is skipped for the next older one.
const (
	checkpointSuffix = ".checkpoint"
	checkpointMagic  = "sluice-raft-checkpoint v1\n"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func checkpointName(index, term uint64) string {
	return fmt.Sprintf("%020d-%010d%s", index, term, checkpointSuffix)
}

func parseCheckpointName(name string) (index, term uint64, ok bool) {
	base, found := strings.CutSuffix(name, checkpointSuffix)
	if !found || len(base) != 31 || base[20] != '-' {
		return 0, 0, false
	}
	if _, err := fmt.Sscanf(base, "%020d-%010d", &index, &term); err != nil {
		return 0, 0, false
	}
	return index, term, true
}

func encodeCheckpoint(snap *raftpb.Snapshot) ([]byte, error) {
	md := snap.GetMetadata()
	conf, err := proto.Marshal(md.GetConfState())
	if err != nil {
		return nil, err
	}
	data := snap.GetData()
	b := make([]byte, 0, len(checkpointMagic)+4+8+8+4+len(conf)+8+len(data))
	b = append(b, checkpointMagic...)
	b = binary.BigEndian.AppendUint32(b, 0)
	b = binary.BigEndian.AppendUint64(b, md.GetIndex())
	b = binary.BigEndian.AppendUint64(b, md.GetTerm())
	b = binary.BigEndian.AppendUint32(b, uint32(len(conf)))
	b = append(b, conf...)
	b = binary.BigEndian.AppendUint64(b, uint64(len(data)))
	b = append(b, data...)
	crcAt := len(checkpointMagic)
	binary.BigEndian.PutUint32(b[crcAt:], crc32.Checksum(b[crcAt+4:], castagnoli))
	return b, nil
}

var errBadCheckpoint = errors.New("raft: bad checkpoint")

func decodeCheckpoint(b []byte) (*raftpb.Snapshot, error) {
	m := len(checkpointMagic)
	if len(b) < m+4+8+8+4 || string(b[:m]) != checkpointMagic {
		return nil, fmt.Errorf("%w: no header", errBadCheckpoint)
	}
	if crc32.Checksum(b[m+4:], castagnoli) != binary.BigEndian.Uint32(b[m:]) {
		return nil, fmt.Errorf("%w: crc mismatch", errBadCheckpoint)
	}
	p := b[m+4:]
	index, term := binary.BigEndian.Uint64(p), binary.BigEndian.Uint64(p[8:])
	confLen := int(binary.BigEndian.Uint32(p[16:]))
	p = p[20:]
	if len(p) < confLen+8 {
		return nil, fmt.Errorf("%w: short configuration", errBadCheckpoint)
	}
	var cs raftpb.ConfState
	if err := proto.Unmarshal(p[:confLen], &cs); err != nil {
		return nil, fmt.Errorf("%w: configuration: %v", errBadCheckpoint, err)
	}
	p = p[confLen:]
	dataLen := binary.BigEndian.Uint64(p)
	p = p[8:]
	if uint64(len(p)) != dataLen {
		return nil, fmt.Errorf("%w: data length %d, have %d", errBadCheckpoint, dataLen, len(p))
	}
	return &raftpb.Snapshot{
		Data:     append([]byte(nil), p...),
		Metadata: &raftpb.SnapshotMetadata{ConfState: &cs, Index: new(index), Term: new(term)},
	}, nil
}

func writeCheckpoint(dir string, snap *raftpb.Snapshot) error {
	b, err := encodeCheckpoint(snap)
	if err != nil {
		return err
	}
	md := snap.GetMetadata()
	return fsutil.WriteFileAtomic(dir, checkpointName(md.GetIndex(), md.GetTerm()), b)
}

// listCheckpoints returns the checkpoint file names in dir, newest
// (highest index) first.
func listCheckpoints(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if _, _, ok := parseCheckpointName(e.Name()); ok {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names) // zero-padded: lexical order is index order
	slices.Reverse(names)
	return names, nil
}

// latestCheckpoint loads the newest checkpoint that is intact. Damaged
// ones are reported through skip and passed over; nil means none.
func latestCheckpoint(dir string, skip func(name string, err error)) (*raftpb.Snapshot, error) {
	names, err := listCheckpoints(dir)
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		snap, err := decodeCheckpoint(b)
		if err == nil {
			idx, term, _ := parseCheckpointName(name)
			md := snap.GetMetadata()
			if md.GetIndex() != idx || md.GetTerm() != term {
				err = fmt.Errorf("%w: holds %d-%d", errBadCheckpoint, md.GetIndex(), md.GetTerm())
			}
		}
		if err != nil {
			skip(name, err)
			continue
		}
		return snap, nil
	}
	return nil, nil
}

// pruneCheckpoints deletes all but the newest keep intact checkpoints (and
// any damaged one older than them): a damaged checkpoint never takes the
// place of an intact one the WAL still reaches back to.
func pruneCheckpoints(dir string, keep int) error {
	names, err := listCheckpoints(dir)
	if err != nil {
		return err
	}
	intact := 0
	for _, name := range names {
		if intact >= keep {
			if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		if _, err := decodeCheckpoint(b); err == nil {
			intact++
		}
	}
	return nil
}

// HasState reports whether dir holds raft state (a checkpoint: every
// member writes one before its first entry).
func HasState(dir string) bool {
	names, err := listCheckpoints(dir)
	return err == nil && len(names) > 0
}
