package metadata

import (
	"errors"
	"math"
	"path/filepath"
	"testing"
)

func TestClientQuotaImage(t *testing.T) {
	im, err := Empty().Apply(allRecords())
	if err != nil {
		t.Fatal(err)
	}
	prod := QuotaEntity{ClientID: Named("producer-1")}
	if v, ok := im.ClientQuota(prod, "producer_byte_rate"); !ok || v != 102400 {
		t.Errorf("producer-1 producer_byte_rate = %v, %v", v, ok)
	}
	alice := QuotaEntity{User: Named("alice"), ClientID: DefaultEntity()}
	if v, ok := im.ClientQuota(alice, "request_percentage"); !ok || v != 12.5 {
		t.Errorf("alice/<default> request_percentage = %v, %v", v, ok)
	}
	if _, ok := im.ClientQuotas[QuotaEntity{IP: DefaultEntity()}]; ok {
		t.Errorf("ip default should be gone once its only key is removed")
	}
	if got := alice.String(); got != "users/alice/clients/<default>" {
		t.Errorf("String = %q", got)
	}
	if n := len(im.ClientQuotaEntities()); n != 2 {
		t.Errorf("%d entities", n)
	}

	// The base image is never modified by a later apply.
	next, err := im.Apply([]Record{ClientQuotaRecord{Entity: prod.Data(), Key: "producer_byte_rate", Value: 5}})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := im.ClientQuota(prod, "producer_byte_rate"); v != 102400 {
		t.Errorf("old image changed: %v", v)
	}
	if v, _ := next.ClientQuota(prod, "producer_byte_rate"); v != 5 {
		t.Errorf("new image: %v", v)
	}

	bad := []ClientQuotaRecord{
		{Key: "producer_byte_rate", Value: 1},
		{Entity: []QuotaEntityData{{Type: "group", Name: sp("g")}}, Key: "producer_byte_rate", Value: 1},
		{Entity: []QuotaEntityData{{Type: QuotaUser}, {Type: QuotaUser}}, Key: "producer_byte_rate", Value: 1},
		{Entity: []QuotaEntityData{{Type: QuotaIP}, {Type: QuotaUser}}, Key: "connection_creation_rate", Value: 1},
		{Entity: []QuotaEntityData{{Type: QuotaUser, Name: sp("")}}, Key: "producer_byte_rate", Value: 1},
		{Entity: []QuotaEntityData{{Type: QuotaUser}}, Key: "", Value: 1},
		{Entity: []QuotaEntityData{{Type: QuotaUser}}, Key: "consumer_byte_rate", Remove: true},
	}
	for _, r := range bad {
		if _, err := im.Apply([]Record{r}); err == nil {
			t.Errorf("applied %+v", r)
		}
	}
}

func TestClientQuotaDecodeRejects(t *testing.T) {
	nan := Encode(ClientQuotaRecord{Entity: []QuotaEntityData{{Type: QuotaUser}}, Key: "k", Value: math.NaN()})
	if _, err := Decode(nan); !errors.Is(err, ErrCorruptRecord) {
		t.Errorf("NaN value: %v", err)
	}
	b := Encode(ClientQuotaRecord{Entity: []QuotaEntityData{{Type: QuotaUser}}, Key: "k", Value: 1, Remove: true})
	b[len(b)-1] = 2
	if _, err := Decode(b); !errors.Is(err, ErrCorruptRecord) {
		t.Errorf("remove flag 2: %v", err)
	}
}

func TestClientQuotasReplayedAfterReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "meta")
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	u := QuotaEntity{User: DefaultEntity()}
	if err := s.Append(ClientQuotaRecord{Entity: u.Data(), Key: "consumer_byte_rate", Value: 2048}); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(ClientQuotaRecord{Entity: u.Data(), Key: "producer_byte_rate", Value: 1024}); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(ClientQuotaRecord{Entity: u.Data(), Key: "consumer_byte_rate", Remove: true}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := s.Image().ClientQuotas[u]
	if len(got) != 1 || got["producer_byte_rate"] != 1024 {
		t.Errorf("after reopen: %v", got)
	}
}
