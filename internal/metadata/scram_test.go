package metadata

import (
	"bytes"
	"reflect"
	"testing"
)

func scramRecords() []Record {
	return []Record{
		UserScramCredentialRecord{Name: "alice", Mechanism: ScramSHA256, Salt: []byte("salt-a"),
			StoredKey: bytes.Repeat([]byte{1}, 32), ServerKey: bytes.Repeat([]byte{2}, 32), Iterations: 4096},
		UserScramCredentialRecord{Name: "alice", Mechanism: ScramSHA512, Salt: []byte("salt-b"),
			StoredKey: bytes.Repeat([]byte{3}, 64), ServerKey: bytes.Repeat([]byte{4}, 64), Iterations: 8192},
		UserScramCredentialRecord{Name: "bob", Mechanism: ScramSHA256, Salt: []byte("s"),
			StoredKey: []byte("k1"), ServerKey: []byte("k2"), Iterations: 16384},
		// Replace alice's SHA-256 credential, then delete bob's only one.
		UserScramCredentialRecord{Name: "alice", Mechanism: ScramSHA256, Salt: []byte("salt-c"),
			StoredKey: []byte("sk"), ServerKey: []byte("vk"), Iterations: 5000},
		RemoveUserScramCredentialRecord{Name: "bob", Mechanism: ScramSHA256},
	}
}

func TestScramRecordsRoundTrip(t *testing.T) {
	for _, r := range scramRecords() {
		checkRoundTrip(t, r)
	}
	if got := TypeUserScramCredential.String(); got != "UserScramCredentialRecord" {
		t.Errorf("type name %q", got)
	}
	if got := TypeRemoveUserScramCredential.String(); got != "RemoveUserScramCredentialRecord" {
		t.Errorf("type name %q", got)
	}
}

func TestImageScram(t *testing.T) {
	recs := scramRecords()
	mid, err := Empty().Apply(recs[:3])
	if err != nil {
		t.Fatal(err)
	}
	im, err := mid.Apply(recs[3:])
	if err != nil {
		t.Fatal(err)
	}
	if got := im.ScramUsers(); !reflect.DeepEqual(got, []string{"alice"}) {
		t.Errorf("users %v", got)
	}
	c, ok := im.ScramCredential("alice", ScramSHA256)
	if !ok || c.Iterations != 5000 || string(c.Salt) != "salt-c" || string(c.StoredKey) != "sk" || string(c.ServerKey) != "vk" {
		t.Errorf("alice sha-256: %+v %v", c, ok)
	}
	creds := im.ScramCredentials("alice")
	if len(creds) != 2 || creds[0].Mechanism != ScramSHA256 || creds[1].Mechanism != ScramSHA512 || creds[1].Iterations != 8192 {
		t.Errorf("alice credentials %+v", creds)
	}
	if _, ok := im.ScramCredential("bob", ScramSHA256); ok || len(im.ScramCredentials("bob")) != 0 {
		t.Error("bob's credential survived its removal")
	}
	// The earlier image is untouched (copy on write).
	if c, _ := mid.ScramCredential("alice", ScramSHA256); c.Iterations != 4096 {
		t.Errorf("older image changed: %+v", c)
	}
	if _, ok := mid.ScramCredential("bob", ScramSHA256); !ok {
		t.Error("older image lost bob")
	}

	bad := [][]Record{
		{UserScramCredentialRecord{Name: "", Mechanism: ScramSHA256, Iterations: 4096}},
		{UserScramCredentialRecord{Name: "x", Mechanism: 3, Iterations: 4096}},
		{UserScramCredentialRecord{Name: "x", Mechanism: ScramSHA256, Iterations: 0}},
		{RemoveUserScramCredentialRecord{Name: "alice", Mechanism: 0}},
		{RemoveUserScramCredentialRecord{Name: "nobody", Mechanism: ScramSHA256}},
		// Valid then invalid: the whole batch fails and nothing leaks.
		{RemoveUserScramCredentialRecord{Name: "alice", Mechanism: ScramSHA512},
			RemoveUserScramCredentialRecord{Name: "alice", Mechanism: ScramSHA512}},
	}
	for i, b := range bad {
		if _, err := im.Apply(b); err == nil {
			t.Errorf("bad case %d applied", i)
		}
	}
	if _, ok := im.ScramCredential("alice", ScramSHA512); !ok {
		t.Error("failed batch leaked")
	}
}

func TestStoreReplaysScram(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	recs := scramRecords()
	for _, r := range recs {
		if err := s.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	want := s.Image()
	s.Close()

	s2, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	got := s2.Image()
	if !sameContent(got, want) {
		t.Errorf("replayed image differs:\n got %s\nwant %s", got.Describe(), want.Describe())
	}
	if c, ok := got.ScramCredential("alice", ScramSHA512); !ok || string(c.StoredKey) != string(bytes.Repeat([]byte{3}, 64)) {
		t.Errorf("alice sha-512 after replay: %+v %v", c, ok)
	}
}
