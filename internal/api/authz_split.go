package api

// splitAllowed keeps the items allowed says yes to, in order, and notes
// the indexes of the others: a handler asks the coordinator only about
// what the principal may see, then answers the rest itself (mergeRefused).
func splitAllowed[T any](items []T, allowed func(T) bool) (kept []T, refused map[int]bool) {
	refused = map[int]bool{}
	for i, it := range items {
		if !allowed(it) {
			refused[i] = true
			continue
		}
		kept = append(kept, it)
	}
	return kept, refused
}

// mergeRefused rebuilds a response list in request order from the answers
// to the kept items (got, in order) and refusal(i) for each refused index
// i of the n requested.
func mergeRefused[R any](n int, refused map[int]bool, got []R, refusal func(i int) R) []R {
	out := make([]R, 0, n)
	for i := range n {
		if refused[i] {
			out = append(out, refusal(i))
			continue
		}
		if len(got) == 0 {
			continue // a top-level error answers no items; the refusals still stand
		}
		out = append(out, got[0])
		got = got[1:]
	}
	return out
}
