package metadata

import (
	"fmt"
	"maps"
	"slices"
	"sort"
)

// SCRAM credential records, as KRaft's UserScramCredentialRecord (api key
// 11) and RemoveUserScramCredentialRecord (api key 22). Version 0 bodies:
//
//	UserScramCredentialRecord       (11): name string, mechanism int8,
//	                                      salt bytes, storedKey bytes,
//	                                      serverKey bytes, iterations int32
//	RemoveUserScramCredentialRecord (22): name string, mechanism int8
//
// where bytes is uvarint(len) + raw bytes. The broker never stores the
// salted password, only StoredKey = H(HMAC(saltedPassword, "Client Key"))
// and ServerKey = HMAC(saltedPassword, "Server Key") (RFC 5802), which is
// what a SCRAM server needs to authenticate a client.

// Record types of the SCRAM records.
const (
	TypeUserScramCredential       RecordType = 11
	TypeRemoveUserScramCredential RecordType = 22
)

// Kafka's SCRAM mechanism type numbers (ScramMechanism.type()).
const (
	ScramSHA256 int8 = 1
	ScramSHA512 int8 = 2
)

// ScramMechanismName returns the SASL name of a mechanism type ("" for an
// unknown one).
func ScramMechanismName(m int8) string {
	switch m {
	case ScramSHA256:
		return "SCRAM-SHA-256"
	case ScramSHA512:
		return "SCRAM-SHA-512"
	}
	return ""
}

// UserScramCredentialRecord creates or replaces the credential of a user
// for one mechanism.
type UserScramCredentialRecord struct {
	Name       string
	Mechanism  int8
	Salt       []byte
	StoredKey  []byte
	ServerKey  []byte
	Iterations int32
}

// RemoveUserScramCredentialRecord deletes a user's credential for one
// mechanism; the credential must exist.
type RemoveUserScramCredentialRecord struct {
	Name      string
	Mechanism int8
}

// Type implements Record.
func (UserScramCredentialRecord) Type() RecordType { return TypeUserScramCredential }

// Type implements Record.
func (RemoveUserScramCredentialRecord) Type() RecordType { return TypeRemoveUserScramCredential }

// Version implements Record.
func (UserScramCredentialRecord) Version() uint8 { return 0 }

// Version implements Record.
func (RemoveUserScramCredentialRecord) Version() uint8 { return 0 }

func (r UserScramCredentialRecord) appendBody(b []byte) []byte {
	b = appendStr(b, r.Name)
	b = append(b, byte(r.Mechanism))
	b = appendStr(b, string(r.Salt))
	b = appendStr(b, string(r.StoredKey))
	b = appendStr(b, string(r.ServerKey))
	return appendI32(b, r.Iterations)
}

func (r RemoveUserScramCredentialRecord) appendBody(b []byte) []byte {
	b = appendStr(b, r.Name)
	return append(b, byte(r.Mechanism))
}

func (d *decoder) bytes() []byte { return []byte(d.str()) }

func decodeUserScramCredential(d *decoder) Record {
	return UserScramCredentialRecord{Name: d.str(), Mechanism: int8(d.u8()), Salt: d.bytes(),
		StoredKey: d.bytes(), ServerKey: d.bytes(), Iterations: d.i32()}
}

func decodeRemoveUserScramCredential(d *decoder) Record {
	return RemoveUserScramCredentialRecord{Name: d.str(), Mechanism: int8(d.u8())}
}

// ScramCredential is one stored SCRAM credential of a user.
type ScramCredential struct {
	Mechanism  int8
	Salt       []byte
	StoredKey  []byte
	ServerKey  []byte
	Iterations int32
}

// ScramCredential returns user's credential for mechanism.
func (im *Image) ScramCredential(user string, mechanism int8) (ScramCredential, bool) {
	c, ok := im.Scram[user][mechanism]
	return c, ok
}

// ScramCredentials returns user's credentials ordered by mechanism (none
// for an unknown user).
func (im *Image) ScramCredentials(user string) []ScramCredential {
	m := im.Scram[user]
	out := make([]ScramCredential, 0, len(m))
	for _, mech := range slices.Sorted(maps.Keys(m)) {
		out = append(out, m[mech])
	}
	return out
}

// ScramUsers returns the users with at least one credential, sorted.
func (im *Image) ScramUsers() []string {
	users := slices.Collect(maps.Keys(im.Scram))
	sort.Strings(users)
	return users
}

// scramUser returns a private copy of user's credential map, copying the
// image's outer map once per delta.
func (d *delta) scramUser(user string) map[int8]ScramCredential {
	if !d.scramCopied {
		d.next.Scram = maps.Clone(d.base.Scram)
		d.scramCopied = true
	}
	m := maps.Clone(d.next.Scram[user])
	if m == nil {
		m = map[int8]ScramCredential{}
	}
	return m
}

func (d *delta) setScramUser(user string, m map[int8]ScramCredential) {
	if len(m) == 0 {
		delete(d.next.Scram, user)
	} else {
		d.next.Scram[user] = m
	}
}

func (d *delta) userScramCredential(r UserScramCredentialRecord) error {
	if r.Name == "" {
		return fmt.Errorf("empty SCRAM user name")
	}
	if ScramMechanismName(r.Mechanism) == "" {
		return fmt.Errorf("unknown SCRAM mechanism %d for user %q", r.Mechanism, r.Name)
	}
	if r.Iterations <= 0 {
		return fmt.Errorf("SCRAM iterations %d for user %q", r.Iterations, r.Name)
	}
	m := d.scramUser(r.Name)
	m[r.Mechanism] = ScramCredential{Mechanism: r.Mechanism, Salt: slices.Clone(r.Salt),
		StoredKey: slices.Clone(r.StoredKey), ServerKey: slices.Clone(r.ServerKey), Iterations: r.Iterations}
	d.setScramUser(r.Name, m)
	return nil
}

func (d *delta) removeUserScramCredential(r RemoveUserScramCredentialRecord) error {
	if _, ok := d.next.Scram[r.Name][r.Mechanism]; !ok {
		return fmt.Errorf("remove of unknown SCRAM credential %s of user %q", ScramMechanismName(r.Mechanism), r.Name)
	}
	m := d.scramUser(r.Name)
	delete(m, r.Mechanism)
	d.setScramUser(r.Name, m)
	return nil
}
