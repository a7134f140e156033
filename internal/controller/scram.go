package controller

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"hash"
	"maps"
	"slices"

	"github.com/sluice-io/sluice/internal/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Kafka's bounds on SCRAM iterations (ScramMechanism.minIterations and
// ScramControlManager.MAX_ITERATIONS).
const (
	MinScramIterations = 4096
	MaxScramIterations = 16384
)

// ScramDeletion is one deletion of an AlterUserScramCredentials request.
type ScramDeletion struct {
	Name      string
	Mechanism int8
}

// ScramUpsertion is one upsertion of an AlterUserScramCredentials request:
// the client sends the salt and the salted password (Hi(password, salt,
// iterations) of RFC 5802), never the password.
type ScramUpsertion struct {
	Name           string
	Mechanism      int8
	Iterations     int32
	Salt           []byte
	SaltedPassword []byte
}

// ScramResult is the outcome for one user.
type ScramResult struct {
	User string
	Err  *Error // nil on success
}

// scramHash returns the hash of a SCRAM mechanism, or nil.
func scramHash(mechanism int8) func() hash.Hash {
	switch mechanism {
	case metadata.ScramSHA256:
		return sha256.New
	case metadata.ScramSHA512:
		return sha512.New
	}
	return nil
}

// ScramKeys derives what a SCRAM server stores from a salted password
// (RFC 5802): StoredKey = H(HMAC(SaltedPassword, "Client Key")) and
// ServerKey = HMAC(SaltedPassword, "Server Key"), with the mechanism's
// hash. ok is false for an unknown mechanism.
func ScramKeys(mechanism int8, saltedPassword []byte) (storedKey, serverKey []byte, ok bool) {
	h := scramHash(mechanism)
	if h == nil {
		return nil, nil, false
	}
	mac := func(msg string) []byte {
		m := hmac.New(h, saltedPassword)
		m.Write([]byte(msg))
		return m.Sum(nil)
	}
	d := h()
	d.Write(mac("Client Key"))
	return d.Sum(nil), mac("Server Key"), true
}

func validateScramUser(name string, mechanism int8) *Error {
	if name == "" {
		return errorf(kerr.UnacceptableCredential, "Username must not be empty")
	}
	if scramHash(mechanism) == nil {
		return errorf(kerr.UnsupportedSaslMechanism, "Unknown SCRAM mechanism")
	}
	return nil
}

// AlterScramCredentials applies deletions and upsertions like KRaft's
// ScramControlManager: a user named more than once in the request gets
// DUPLICATE_RESOURCE and nothing changes for that user; an empty name is
// UNACCEPTABLE_CREDENTIAL, an unknown mechanism UNSUPPORTED_SASL_MECHANISM,
// iterations outside [4096, 16384] UNACCEPTABLE_CREDENTIAL, and deleting a
// credential that does not exist RESOURCE_NOT_FOUND. The records of the
// valid entries are appended as one batch. Results list successful
// deletions, then successful upsertions, then failures, each by user name.
func (c *Controller) AlterScramCredentials(deletions []ScramDeletion, upsertions []ScramUpsertion) []ScramResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	im := c.store.Image()
	dup := errorf(kerr.DuplicateResource, "A user credential cannot be altered twice in the same request")
	failed := map[string]*Error{}
	dels := map[string]ScramDeletion{}
	ups := map[string]ScramUpsertion{}
	for _, d := range deletions {
		if failed[d.Name] != nil {
			continue
		}
		if _, ok := dels[d.Name]; ok {
			delete(dels, d.Name)
			failed[d.Name] = dup
			continue
		}
		if e := validateScramUser(d.Name, d.Mechanism); e != nil {
			failed[d.Name] = e
		} else if _, ok := im.ScramCredential(d.Name, d.Mechanism); !ok {
			failed[d.Name] = errorf(kerr.ResourceNotFound, "Attempt to delete a user credential that does not exist")
		} else {
			dels[d.Name] = d
		}
	}
	for _, u := range upsertions {
		if failed[u.Name] != nil {
			continue
		}
		_, isDel := dels[u.Name]
		_, isUp := ups[u.Name]
		if isDel || isUp {
			delete(dels, u.Name)
			delete(ups, u.Name)
			failed[u.Name] = dup
			continue
		}
		switch e := validateScramUser(u.Name, u.Mechanism); {
		case e != nil:
			failed[u.Name] = e
		case u.Iterations < MinScramIterations:
			failed[u.Name] = errorf(kerr.UnacceptableCredential, "Too few iterations")
		case u.Iterations > MaxScramIterations:
			failed[u.Name] = errorf(kerr.UnacceptableCredential, "Too many iterations")
		default:
			ups[u.Name] = u
		}
	}

	var recs []metadata.Record
	var ok []string
	for _, name := range slices.Sorted(maps.Keys(dels)) {
		d := dels[name]
		recs = append(recs, metadata.RemoveUserScramCredentialRecord{Name: d.Name, Mechanism: d.Mechanism})
		ok = append(ok, name)
	}
	for _, name := range slices.Sorted(maps.Keys(ups)) {
		u := ups[name]
		stored, server, _ := ScramKeys(u.Mechanism, u.SaltedPassword)
		recs = append(recs, metadata.UserScramCredentialRecord{Name: u.Name, Mechanism: u.Mechanism,
			Salt: slices.Clone(u.Salt), StoredKey: stored, ServerKey: server, Iterations: u.Iterations})
		ok = append(ok, name)
	}
	var appendErr *Error
	if err := c.store.Append(recs...); err != nil {
		appendErr = storeError(err)
	} else if len(recs) > 0 {
		c.logger.Info("SCRAM credentials altered", "deleted", len(dels), "upserted", len(ups))
	}
	out := make([]ScramResult, 0, len(ok)+len(failed))
	for _, name := range ok {
		out = append(out, ScramResult{User: name, Err: appendErr})
	}
	for _, name := range slices.Sorted(maps.Keys(failed)) {
		out = append(out, ScramResult{User: name, Err: failed[name]})
	}
	return out
}

// ScramDescription is one user of a DescribeUserScramCredentials answer.
type ScramDescription struct {
	User        string
	Credentials []metadata.ScramCredential // ordered by mechanism
	Err         *Error
}

// DescribeScramCredentials answers DescribeUserScramCredentials from im as
// Kafka's ScramImage does: no users (null or empty) means every user with
// a credential; a user named twice gets DUPLICATE_RESOURCE, a user without
// credentials RESOURCE_NOT_FOUND. Results are sorted by user.
func DescribeScramCredentials(im *metadata.Image, users []string) []ScramDescription {
	seen := map[string]bool{} // user -> named more than once
	if len(users) == 0 {
		for _, u := range im.ScramUsers() {
			seen[u] = false
		}
	}
	for _, u := range users {
		_, again := seen[u]
		seen[u] = again
	}
	out := make([]ScramDescription, 0, len(seen))
	for _, u := range slices.Sorted(maps.Keys(seen)) {
		d := ScramDescription{User: u}
		switch creds := im.ScramCredentials(u); {
		case seen[u]:
			d.Err = errorf(kerr.DuplicateResource, "Cannot describe SCRAM credentials for the same user twice in a single request: %s", u)
		case len(creds) == 0:
			d.Err = errorf(kerr.ResourceNotFound, "Attempt to describe a user credential that does not exist: %s", u)
		default:
			d.Credentials = creds
		}
		out = append(out, d)
	}
	return out
}
