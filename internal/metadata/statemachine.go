package metadata

// stateMachine is the Store as raft's StateMachine. Raft calls it from its
// loop only, in index order.
type stateMachine Store

// Apply applies one committed entry: a group of records (one controller
// operation), or nil for raft's own entries, which only move the offset.
func (m *stateMachine) Apply(index, term uint64, data []byte) error {
	s := (*Store)(m)
	cur := s.img.Load()
	if data == nil {
		s.img.Store(cur.at(int64(index)-1, term))
		s.pub.skip(index)
		return nil
	}
	recs, err := DecodeRecords(data)
	if err != nil {
		return err
	}
	next, err := cur.Apply(recs)
	if err != nil {
		return err
	}
	next.Offset, next.Term = int64(index)-1, term
	s.img.Store(next)
	s.pub.publish(index, next)
	return nil
}

// Snapshot encodes the image as of the last applied entry.
func (m *stateMachine) Snapshot() ([]byte, error) {
	return EncodeRecords((*Store)(m).img.Load().Records()), nil
}

// Restore replaces the image with a checkpoint's.
func (m *stateMachine) Restore(index, term uint64, data []byte) error {
	s := (*Store)(m)
	img, err := ImageFromRecords(data)
	if err != nil {
		return err
	}
	img.Offset, img.Term = int64(index)-1, term
	s.img.Store(img)
	s.pub.publish(index, img)
	return nil
}
