package coordinator

import "testing"

func TestReconcileSteps(t *testing.T) {
	id := topicID("t")
	owners := map[tpid]string{}
	ownerOf := func(tp tpid) string { return owners[tp] }

	// m owns 0-3 at epoch 1; the target at epoch 2 keeps 0-1, gives 2-3
	// to another member and adds 4, which n still owns.
	m := &cmember{id: "m", epoch: 1, state: memberStable, assigned: parts{id: {0, 1, 2, 3}}, pending: parts{}}
	owners[tpid{id, 4}] = "n"
	target := parts{id: {0, 1, 4}}

	// 1. Revocation first: the epoch stays.
	st, changed := reconcile(m, 2, target, nil, ownerOf)
	if !changed || st.state != memberUnrevokedPartitions || st.epoch != 1 ||
		!st.assigned.equal(parts{id: {0, 1}}) || !st.pending.equal(parts{id: {2, 3}}) {
		t.Fatalf("step 1: %+v", st)
	}
	m.state, m.assigned, m.pending = st.state, st.assigned, st.pending

	// 2. Still owning 3: nothing moves.
	if st, changed := reconcile(m, 2, target, parts{id: {0, 1, 3}}, ownerOf); changed {
		t.Fatalf("step 2 moved on while 3 is owned: %+v", st)
	}
	// Owned not reported (keepalive) counts as still owning.
	if _, changed := reconcile(m, 2, target, nil, ownerOf); changed {
		t.Fatal("step 2 moved on without owned partitions")
	}

	// 3. Revoked: the member moves to epoch 2; 4 is unreleased (n owns it).
	st, changed = reconcile(m, 2, target, parts{id: {0, 1}}, ownerOf)
	if !changed || st.epoch != 2 || st.state != memberUnreleasedPartitions ||
		!st.assigned.equal(parts{id: {0, 1}}) || len(st.pending) != 0 {
		t.Fatalf("step 3: %+v", st)
	}
	m.epoch, m.state, m.assigned, m.pending = st.epoch, st.state, st.assigned, st.pending

	// 4. n releases 4: m gets it and is stable.
	delete(owners, tpid{id, 4})
	st, changed = reconcile(m, 2, target, parts{id: {0, 1}}, ownerOf)
	if !changed || st.epoch != 2 || st.state != memberStable || !st.assigned.equal(target) {
		t.Fatalf("step 4: %+v", st)
	}
	m.state, m.assigned = st.state, st.assigned
	if _, changed := reconcile(m, 2, target, nil, ownerOf); changed {
		t.Fatal("a reconciled member changed")
	}
}

func TestReconcileRevokedBeforeAsked(t *testing.T) {
	// A member that already dropped the partitions to revoke (its owned
	// list lacks them) goes straight to the target epoch.
	id := topicID("t")
	m := &cmember{id: "m", epoch: 3, state: memberStable, assigned: parts{id: {0, 1}}, pending: parts{}}
	st, changed := reconcile(m, 4, parts{id: {0}}, parts{id: {0}}, func(tpid) string { return "" })
	if !changed || st.epoch != 4 || st.state != memberStable || !st.assigned.equal(parts{id: {0}}) {
		t.Fatalf("%+v", st)
	}
}
