package server

import "testing"

func TestFrameClasses(t *testing.T) {
	for _, c := range []struct{ n, class int }{
		{1, -1}, {1 << 10, -1}, {1<<10 + 1, 11}, {1 << 20, 20}, {1<<20 + 1, 21}, {1 << 22, 22}, {1<<22 + 1, -1}, {100 << 20, -1},
	} {
		if got := frameClass(c.n); got != c.class {
			t.Errorf("frameClass(%d) = %d, want %d", c.n, got, c.class)
		}
	}
	b := getFrame(3 << 20)
	if len(b) != 3<<20 || cap(b) != 4<<20 {
		t.Fatalf("getFrame(3 MiB): len %d cap %d", len(b), cap(b))
	}
	putFrame(b)
	if big := getFrame(5 << 20); cap(big) != 5<<20 || frameCap(5<<20) != 5<<20 {
		t.Fatalf("getFrame(5 MiB): cap %d: buffers over 4 MiB are allocated at their size", cap(big))
	}
	if frameCap(3<<20) != 4<<20 || frameCap(100) != 100 {
		t.Fatal("frameCap must be what getFrame allocates")
	}
	putFrame(make([]byte, 5000)) // not from a pool: cap is no class size; ignored
	if small := getFrame(100); len(small) != 100 {
		t.Fatalf("getFrame(100): len %d", len(small))
	}
	if !recyclable(0) || recyclable(1) || recyclable(11) {
		t.Fatal("only Produce frames may be recycled")
	}
}
