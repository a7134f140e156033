package metadata

import "testing"

func TestFeatureLevelRecord(t *testing.T) {
	r := FeatureLevelRecord{Name: "group.version", Level: 0}
	got, err := Decode(Encode(r))
	if err != nil || got != r {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	im, err := Empty().Apply([]Record{r, FeatureLevelRecord{Name: "metadata.version", Level: 25}})
	if err != nil {
		t.Fatal(err)
	}
	if l, ok := im.FeatureLevel("group.version"); !ok || l != 0 {
		t.Errorf("group.version %d %v: a level 0 stays set", l, ok)
	}
	if _, ok := Empty().FeatureLevel("group.version"); ok {
		t.Errorf("the empty image has a feature level")
	}
	back, err := Empty().Apply(im.Records())
	if err != nil {
		t.Fatal(err)
	}
	if l, _ := back.FeatureLevel("metadata.version"); l != 25 || len(back.Features) != 2 {
		t.Errorf("rebuilt from the snapshot: %+v", back.Features)
	}
	if _, err := im.Apply([]Record{FeatureLevelRecord{Name: "x", Level: -1}}); err == nil {
		t.Errorf("a negative level applied")
	}
}
